"""The LM re-ranker: letter verbaliser, one forward pass, retriever tail, leak-free examples, persistence."""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from genrec.data import LeaveOneOutSplit, leave_one_out
from genrec.data.split import EvalSet, TrainData
from genrec.errors import ConfigError, GenrecError
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.base import Recommendations, Recommender
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.registry import build_recommender, load_recommender
from genrec.recommenders.reranker import LMReranker
from genrec.recommenders.reranker_prompts import RerankerConfig, letter_logits, retriever_log_probs
from genrec.recommenders.reranker_training import (
    leak_free_examples,
    letter_loss,
    retrieved_examples,
    wrap_for_fine_tuning,
)
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training.pretrained import load_pretrained
from recommenders.contract import RecommenderContract
from recommenders.reranker_fixtures import make_tiny_lm
from recommenders.tiny_data import make_tiny_data

TINY_SASREC = {
    "hidden_size": 16,
    "max_len": 8,
    "epochs": 3,
    "patience": 2,
    "batch_size": 16,
    "num_threads": 1,
    "loss": "ce",
}


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("reranker-lm"))


@pytest.fixture(scope="session")
def wide_split() -> LeaveOneOutSplit:
    """40 items, so a 20-candidate list leaves a retriever tail behind it."""
    return leave_one_out(make_tiny_data(num_users=48, num_items=40))


def reranker(lm: Path, seed: int = 0, **options: Any) -> LMReranker:
    values: dict[str, Any] = {"retriever": "popularity", "retriever_options": {}, "lm": str(lm), "seed": seed}
    values.update(num_threads=1, **options)
    return LMReranker(RerankerConfig(**values))


def count_forward_calls(model: Any) -> list[int]:
    """A counter increased by every forward call of ``model``."""
    calls = [0]

    def hook(*_: Any) -> None:
        calls[0] += 1

    model.register_forward_hook(hook)
    return calls


# ------------------------------------------------------------------ verbaliser and prompt
def test_every_letter_must_be_one_known_token(tmp_path: Path) -> None:
    lm = make_tiny_lm(tmp_path / "lm", letters=string.ascii_uppercase[:18])  # no S, T, ...
    rec = reranker(lm)
    model, tokenizer = load_pretrained(str(lm))
    with pytest.raises(ConfigError, match="'S'"):
        rec.attach_lm(model, tokenizer)
    reranker(lm, candidates=18).attach_lm(model, tokenizer)  # A..R exist: accepted


def test_prompt_templates_are_validated() -> None:
    with pytest.raises(ConfigError, match="prompt"):
        RerankerConfig(prompt="{history} {nope}")
    with pytest.raises(ConfigError, match="letter_format"):
        RerankerConfig(letter_format=" X")


def test_prompt_lists_history_and_lettered_candidates(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = reranker(tiny_lm, history_items=2)
    rec.fit(wide_split.train_data())
    assert rec.prompts is not None
    text = rec.prompts.text(["item i1", "item i2", "item i3"], ["item i7", "item i9"])
    assert "- item i2\n- item i3" in text and "item i1" not in text
    assert "A. item i7\nB. item i9" in text


# ------------------------------------------------------------------ ranking
def test_one_forward_pass_scores_all_candidates(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    histories = wide_split.test_set().histories[:6]
    batched = reranker(tiny_lm, eval_batch_size=64)
    batched.fit(wide_split.train_data())
    calls = count_forward_calls(batched.model)
    batched.recommend(histories, 10)
    assert calls[0] == 1, "six users' 20 candidates each: one forward pass"
    alone = reranker(tiny_lm)
    alone.fit(wide_split.train_data())
    calls = count_forward_calls(alone.model)
    out = alone.recommend(histories, 10)
    assert calls[0] == len(histories), "eval_batch_size 1: one pass per user"
    np.testing.assert_array_equal(out.items, batched.recommend(histories, 10).items)


def test_candidates_follow_letter_logits_and_tail_is_the_retrievers(
    tiny_lm: Path, wide_split: LeaveOneOutSplit
) -> None:
    rec = reranker(tiny_lm)
    rec.fit(wide_split.train_data())
    histories = wide_split.test_set().histories[:5]
    out = rec.recommend(histories, 30)
    assert rec.retriever is not None
    base = rec.retriever.recommend(histories, 30)
    for row, history in enumerate(histories):
        candidates = base.items[row, :20].tolist()
        with torch.no_grad():
            logits = letter_logits(rec.model, [rec.prompt_ids(history, candidates)], rec.letter_ids, 0)[0]
        expected = [candidates[j] for j in np.argsort(-logits.numpy(), kind="stable")]
        assert out.items[row, :20].tolist() == expected
        assert sorted(expected) == sorted(candidates)
        np.testing.assert_array_equal(out.items[row, 20:], base.items[row, 20:])
    assert (np.diff(out.scores, axis=1) < 0).all()


def test_a_short_candidate_list_scores_only_its_letters(tiny_lm: Path, tiny_split: LeaveOneOutSplit) -> None:
    rec = reranker(tiny_lm)  # 16 items: fewer than 20 candidates once the history is excluded
    rec.fit(tiny_split.train_data())
    history = tiny_split.test_set().histories[0]
    out = rec.recommend([history], 20)
    valid = out.items[0][out.items[0] >= 0]
    assert len(valid) == 16 - len(set(history))
    assert np.isclose(np.exp(out.scores[0, : len(valid)].astype(np.float64)).sum(), 1.0, atol=1e-4)
    assert np.isneginf(out.scores[0, len(valid) :]).all()


def test_target_not_retrieved_keeps_the_retriever_rank(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = reranker(tiny_lm)
    rec.fit(wide_split.train_data())
    assert rec.retriever is not None
    test = wide_split.test_set()
    base = rec.retriever.recommend(test.histories, 40).items
    out = rec.recommend(test.histories, 40).items
    for row, target in enumerate(test.targets.tolist()):
        rank = base[row].tolist().index(target) if target in base[row] else None
        if rank is not None and rank >= 20:
            assert out[row].tolist().index(target) == rank


# ------------------------------------------------------------------ training
def test_one_training_step_lowers_the_letter_loss(tiny_lm: Path) -> None:
    model, tokenizer = load_pretrained(str(tiny_lm))
    config = RerankerConfig(lm=str(tiny_lm), fine_tune="lora", lora_dropout=0.0)
    rec = LMReranker(config)
    rec.attach_lm(model, tokenizer)
    rec.titles = [f"item i{i}" for i in range(30)]
    rec.retriever = PopularityRecommender()
    prompts = [rec.prompt_ids([1, 2, 3], list(range(4 + r, 24 + r))) for r in range(4)]
    labels, counts = [3, 0, 19, 7], [20] * 4
    lora = wrap_for_fine_tuning(model, config)
    lora.eval()
    letters = (rec.letter_ids, int(tokenizer.pad_token_id))
    before = letter_loss(lora, prompts, labels, counts, letters)
    optimizer = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=1e-2)
    before.backward()  # (the loss before the step, with its graph)
    optimizer.step()
    with torch.no_grad():
        after = letter_loss(lora, prompts, labels, counts, letters)
    assert float(after) < float(before.detach()) - 1e-4


class RecordingPopularity(PopularityRecommender):
    """Popularity that remembers what it was trained on and which histories it ranked."""

    fitted_on: ClassVar[list[TrainData]] = []
    asked: ClassVar[list[list[list[int]]]] = []

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        RecordingPopularity.fitted_on.append(train)
        super().fit(train, valid)

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        RecordingPopularity.asked.append([list(h) for h in histories])
        return super().recommend(histories, k, exclude_history)


def test_leak_free_candidates_never_see_the_held_out_item(wide_split: LeaveOneOutSplit) -> None:
    RecordingPopularity.fitted_on, RecordingPopularity.asked = [], []
    train = wide_split.train_data()
    config = RerankerConfig(candidates=20, candidate_rounds=2)
    examples, rounds = leak_free_examples(train, RecordingPopularity, config)
    assert [r["held_out"] for r in rounds] == [1.0, 2.0]
    for held_out, (fitted, asked) in enumerate(
        zip(RecordingPopularity.fitted_on, RecordingPopularity.asked, strict=True), start=1
    ):
        by_user = dict(zip(fitted.users, fitted.sequences, strict=True))
        for user, seq in zip(train.users, train.sequences, strict=True):
            assert by_user[user] == list(seq[:-held_out]), "the retriever trains on the prefix only"
        assert asked == fitted.sequences, "and ranks that same prefix as the history"
    assert examples, "some held-out targets were retrieved"
    sequences = dict(zip(train.users, train.sequences, strict=True))
    for ex in examples:
        seq = sequences[ex.user]
        held_out = len(seq) - len(ex.history)
        assert ex.history == list(seq[:-held_out])
        assert ex.candidates[ex.label] == seq[-held_out]


def test_one_retriever_gives_several_leak_free_targets_per_user(wide_split: LeaveOneOutSplit) -> None:
    RecordingPopularity.fitted_on, RecordingPopularity.asked = [], []
    train = wide_split.train_data()
    config = RerankerConfig(candidates=20, candidate_rounds=1, targets_per_round=3)
    examples, rounds = leak_free_examples(train, RecordingPopularity, config)
    assert len(RecordingPopularity.fitted_on) == 1, "one retriever for the round"
    assert [r["held_out"] for r in rounds] == [3.0, 2.0, 1.0]
    fitted = dict(
        zip(RecordingPopularity.fitted_on[0].users, RecordingPopularity.fitted_on[0].sequences, strict=True)
    )
    sequences = dict(zip(train.users, train.sequences, strict=True))
    assert fitted, "some users are long enough"
    for user, prefix in fitted.items():
        assert prefix == list(sequences[user][:-3]), "it trains on the prefix before all three targets"
    assert {len(sequences[ex.user]) - len(ex.history) for ex in examples} <= {1, 2, 3}
    for ex in examples:
        held_out = len(sequences[ex.user]) - len(ex.history)
        assert ex.candidates[ex.label] == sequences[ex.user][-held_out]
        trained = fitted.get(ex.user, [])
        assert len(trained) <= len(sequences[ex.user]) - 3, "no target of the user was trained on"


def test_retrieved_examples_label_the_target_position() -> None:
    data = make_tiny_data(num_users=8, num_items=30)
    split = leave_one_out(data)
    pop = PopularityRecommender()
    pop.fit(split.train_data())
    examples, ranks = retrieved_examples(pop, split.valid_set(), 20)
    top = pop.recommend(split.valid_set().histories, 20).items
    for row, target in enumerate(split.valid_set().targets.tolist()):
        listed = top[row].tolist()
        assert ranks[row] == (listed.index(target) + 1 if target in listed else 0)
    assert len(examples) == int((ranks > 0).sum())


def test_fine_tuning_needs_validation_users(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    with pytest.raises(GenrecError, match="validation"):
        reranker(tiny_lm, fine_tune="lora", epochs=1).fit(wide_split.train_data())


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_fine_tuned_save_load_round_trip(
    mode: str, tiny_lm: Path, wide_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = reranker(tiny_lm, fine_tune=mode, epochs=2, lr=1e-2, batch_size=8)
    rec.fit(wide_split.train_data(), wide_split.valid_set())
    log = rec.training_log
    assert log["train_examples"] > 0 and len(log["history"]) == 3
    assert log["best_valid_ndcg@10"] == max(h["valid_ndcg@10"] for h in log["history"])
    rec.save(tmp_path / "run")
    loaded = load_recommender(tmp_path / "run")
    assert isinstance(loaded, LMReranker)
    histories = wide_split.test_set().histories
    a, b = rec.recommend(histories, 25), loaded.recommend(histories, 25)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)


def test_registry_builds_the_reranker(tiny_lm: Path) -> None:
    rec = build_recommender("reranker", {"retriever": "popularity", "lm": str(tiny_lm)}, seed=4)
    assert isinstance(rec, LMReranker) and rec.config.seed == 4
    with pytest.raises(GenrecError, match="own candidates"):
        build_recommender("reranker", {"retriever": "reranker"}).fit(make_tiny_split_train())


def make_tiny_split_train() -> TrainData:
    return leave_one_out(make_tiny_data(num_users=8)).train_data()


# ------------------------------------------------------------------ the shared contract
class TestRerankerZeroShot(RecommenderContract):
    @pytest.fixture(autouse=True)
    def _lm(self, tiny_lm: Path) -> None:
        self.lm_dir = tiny_lm

    def make(self, seed: int) -> Recommender:
        return reranker(self.lm_dir, seed=seed)


class TestRerankerLoRAOverSASRec(RecommenderContract):
    @pytest.fixture(autouse=True)
    def _lm(self, tiny_lm: Path) -> None:
        self.lm_dir = tiny_lm

    def make(self, seed: int) -> Recommender:
        return reranker(
            self.lm_dir,
            seed=seed,
            retriever="sasrec",
            retriever_options=TINY_SASREC,
            fine_tune="lora",
            epochs=1,
        )


def test_validation_scorer_matches_full_evaluation(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = reranker(tiny_lm)
    rec.fit(wide_split.train_data())
    assert rec.retriever is not None
    valid = wide_split.valid_set()
    reranked, retriever_ndcg = rec.validation_scorer(valid)
    full = evaluate(rec, valid, k_max=20).metrics["ndcg@10"]
    alone = evaluate(rec.retriever, valid, k_max=20).metrics["ndcg@10"]
    assert reranked() == pytest.approx(full, abs=1e-9)
    assert retriever_ndcg == pytest.approx(alone, abs=1e-9)


def test_a_run_directory_serves_the_reranker(
    tiny_lm: Path, wide_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = reranker(tiny_lm)
    train = wide_split.train_data()
    rec.fit(train)
    save_run(rec, train.catalogue, tmp_path / "run", train=train)
    loaded, catalogue, info = load_run(tmp_path / "run")
    assert info.recommender == "reranker" and len(catalogue) == train.num_items
    histories = wide_split.test_set().histories[:4]
    np.testing.assert_array_equal(rec.recommend(histories, 5).items, loaded.recommend(histories, 5).items)


# ------------------------------------------------------------------ the retriever prior


def test_retriever_log_probs_are_a_softmax_over_the_candidates() -> None:
    prior = np.asarray(retriever_log_probs([3.0, 1.0, 2.0, -np.inf]))
    assert np.exp(prior).sum() == pytest.approx(1.0)
    assert list(np.argsort(-prior)) == [0, 2, 1, 3], "the retriever's order, -inf last"
    assert prior[0] - prior[1] == pytest.approx(2.0)


def test_letter_loss_with_priors_is_the_cross_entropy_of_the_sum(tiny_lm: Path) -> None:
    model, tokenizer = load_pretrained(str(tiny_lm))
    rec = reranker(tiny_lm)
    rec.attach_lm(model, tokenizer)
    prompts = [[5, 6, 7], [8, 9]]
    letters = (rec.letter_ids, int(tokenizer.pad_token_id))
    priors = [[-0.1, -2.0, -3.0], [-1.0, -0.5]]
    with torch.no_grad():
        loss = letter_loss(model, prompts, [2, 0], [3, 2], letters, priors)
        logits = letter_logits(model, prompts, rec.letter_ids, int(tokenizer.pad_token_id))
    expected = []
    for row, (prior, label) in enumerate(zip(priors, [2, 0], strict=True)):
        z = logits[row, : len(prior)] + torch.tensor(prior)
        expected.append(-torch.log_softmax(z, dim=0)[label])
    assert float(loss) == pytest.approx(float(torch.stack(expected).mean()), rel=1e-5)


def test_weight_zero_gives_the_retrievers_own_ranking(tiny_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = reranker(tiny_lm, retriever_prior=True)
    rec.fit(wide_split.train_data())
    rec.lm_weight = 0.0
    histories = wide_split.test_set().histories
    assert rec.retriever is not None
    np.testing.assert_array_equal(
        rec.recommend(histories, 25).items, rec.retriever.recommend(histories, 25).items
    )


def test_the_lm_weight_is_chosen_on_validation_and_saved(
    tiny_lm: Path, wide_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = reranker(tiny_lm, retriever_prior=True, fine_tune="full", epochs=1, lm_weights=(0.0, 1.0, 3.0))
    rec.fit(wide_split.train_data(), wide_split.valid_set())
    by_weight = {float(w): v for w, v in rec.training_log["lm_weight_valid_ndcg@10"].items()}
    assert set(by_weight) == {0.0, 1.0, 3.0}
    assert by_weight[rec.lm_weight] == max(by_weight.values())
    scorer, retriever_ndcg = rec.validation_scorer(wide_split.valid_set())
    rec.lm_weight, chosen = 0.0, rec.lm_weight
    assert scorer() == pytest.approx(retriever_ndcg), "weight 0 is the retriever on validation too"
    rec.lm_weight = chosen
    rec.save(tmp_path / "run")
    loaded = LMReranker.load(tmp_path / "run")
    assert loaded.lm_weight == chosen
    histories = wide_split.test_set().histories[:6]
    np.testing.assert_array_equal(rec.recommend(histories, 5).items, loaded.recommend(histories, 5).items)
