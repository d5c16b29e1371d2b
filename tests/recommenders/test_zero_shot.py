"""The zero-shot LM recommender: grounded answers, candidate likelihoods, in-context examples, persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from genrec.data import InteractionData, LeaveOneOutSplit, leave_one_out
from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError, DataError, GenrecError
from genrec.recommenders.base import Recommender
from genrec.recommenders.registry import build_recommender, load_recommender
from genrec.recommenders.run_dir import load_run, save_run
from genrec.recommenders.zero_shot import ZERO_SHOT_FILE, ZeroShotLMRecommender
from genrec.recommenders.zero_shot_prompts import ZeroShotConfig
from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService
from recommenders.contract import RecommenderContract
from recommenders.tiny_data import make_tiny_data
from recommenders.zero_shot_fixtures import make_zero_shot_lm


@pytest.fixture(scope="session")
def zero_shot_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zero_shot_lm(tmp_path_factory.mktemp("zero-shot-lm"))


@pytest.fixture(scope="session")
def wide_split() -> LeaveOneOutSplit:
    """40 items, so a 20-item list never covers the catalogue."""
    return leave_one_out(make_tiny_data(num_users=48, num_items=40))


def zero_shot(lm: Path, seed: int = 0, **options: Any) -> ZeroShotLMRecommender:
    values: dict[str, Any] = {"lm": str(lm), "seed": seed, "num_threads": 1, **options}
    return ZeroShotLMRecommender(ZeroShotConfig(**values))


def fitted(lm: Path, split: LeaveOneOutSplit, **options: Any) -> ZeroShotLMRecommender:
    rec = zero_shot(lm, **options)
    rec.fit(split.train_data(), split.valid_set())
    return rec


def full_forward_log_likelihood(rec: ZeroShotLMRecommender, prompt: list[int], answer: list[int]) -> float:
    """Sum of the answer's token log-probabilities from one plain forward pass, no cache."""
    ids = torch.as_tensor([prompt + answer])  # (1, prompt + answer)
    with torch.no_grad():
        logits = rec.model(input_ids=ids).logits[0]  # (length, vocab)
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    start = len(prompt)
    return float(sum(log_probs[start + t - 1, tok] for t, tok in enumerate(answer)))


# ------------------------------------------------------------------ grounded full ranking
def test_every_answer_is_a_real_item_outside_the_history(
    zero_shot_lm: Path, wide_split: LeaveOneOutSplit
) -> None:
    rec = fitted(zero_shot_lm, wide_split)
    test = wide_split.test_set()
    out = rec.recommend(test.histories, 12)
    assert out.items.shape == (len(test), 12)
    assert ((out.items >= 0) & (out.items < wide_split.num_items)).all()
    for row, history in zip(out.items.tolist(), test.histories, strict=True):
        assert not set(row) & set(history)
        assert len(set(row)) == len(row)


def test_beam_scores_are_the_candidate_likelihoods(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    """Both protocols rank by the same quantity: a recommended item's beam score is its candidate score."""
    rec = fitted(zero_shot_lm, wide_split)
    histories = wide_split.test_set().histories[:3]
    out = rec.recommend(histories, 5)
    scores = rec.score_candidates(histories, out.items)
    np.testing.assert_allclose(scores, out.scores, rtol=1e-4)


def test_a_users_list_does_not_depend_on_the_batch(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = fitted(zero_shot_lm, wide_split)
    histories = wide_split.test_set().histories[:6]
    together = rec.recommend(histories, 5)
    alone = rec.recommend(histories[2:3], 5)
    np.testing.assert_array_equal(together.items[2:3], alone.items)


def test_exclusions_are_removed_inside_the_search(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = fitted(zero_shot_lm, wide_split)
    history = wide_split.test_set().histories[0]
    plain = rec.recommend([history], 5)
    banned = plain.items[0, :3].tolist()
    out = rec.recommend_excluding([history], 5, [banned])
    assert not set(out.items[0].tolist()) & set(banned)
    assert (out.items[0] >= 0).all(), "still 5 items: the search found others"
    assert out.items[0, :2].tolist() == plain.items[0, 3:5].tolist()


def test_duplicate_titles_stay_distinct_items(zero_shot_lm: Path) -> None:
    titles = ("item i1", "item i2", "item i1", "item i3", "item i1")
    catalogue = Catalogue(tuple(f"x{i}" for i in range(5)), {"title": titles})
    sequences = tuple(tuple((u + t) % 5 for t in range(4)) for u in range(6))
    split = leave_one_out(InteractionData("dups", catalogue, tuple(f"u{u}" for u in range(6)), sequences))
    rec = fitted(zero_shot_lm, split)
    assert rec.answers == ["item i1", "item i2", "item i1 (2)", "item i3", "item i1 (3)"]
    out = rec.recommend([[]], 5, exclude_history=False)
    assert sorted(out.items[0].tolist()) == [0, 1, 2, 3, 4]


def test_a_title_the_lm_cannot_spell_is_named(zero_shot_lm: Path) -> None:
    catalogue = Catalogue(("a", "b", "c"), {"title": ("item i1", "Zanzibar", "item i2")})
    sequences = tuple((0, 1, 2) for _ in range(3))
    split = leave_one_out(InteractionData("unk", catalogue, ("u0", "u1", "u2"), sequences))
    with pytest.raises(DataError, match=r"item 1.*Zanzibar"):
        fitted(zero_shot_lm, split)


# ------------------------------------------------------------------ candidate protocol
def test_candidate_scores_equal_a_plain_forward_pass(
    zero_shot_lm: Path, wide_split: LeaveOneOutSplit
) -> None:
    rec = fitted(zero_shot_lm, wide_split, score_batch_size=3, in_context_examples=1)
    histories = wide_split.test_set().histories[:2]
    candidates = np.array([[5, 0, 17, 39, 5], [1, 2, 3, 4, 30]])
    scores = rec.score_candidates(histories, candidates)
    assert scores.shape == (2, 5)
    for row, history in enumerate(histories):
        prompt = rec.prompt_ids(history)
        for col, item in enumerate(candidates[row]):
            expected = full_forward_log_likelihood(rec, prompt, rec.answer_ids[int(item)])
            assert scores[row, col] == pytest.approx(expected, abs=1e-4)
    assert scores[0, 0] == scores[0, 4], "the same candidate twice scores the same"
    assert len(set(scores[1].round(6).tolist())) > 1, "different titles score differently"


def test_bad_candidates_are_named(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = fitted(zero_shot_lm, wide_split)
    histories = wide_split.test_set().histories[:2]
    with pytest.raises(DataError, match=r"candidate 40 of user row 1"):
        rec.score_candidates(histories, np.array([[1, 2], [3, 40]]))
    with pytest.raises(GenrecError, match="users=2"):
        rec.score_candidates(histories, np.array([1, 2]))


# ------------------------------------------------------------------ in-context examples
def test_examples_come_from_training_users_and_change_the_prompt(
    zero_shot_lm: Path, wide_split: LeaveOneOutSplit
) -> None:
    train = wide_split.train_data()
    rec = fitted(zero_shot_lm, wide_split, in_context_examples=3, history_items=4)
    assert len(rec.examples) == 3 and len({ex.user for ex in rec.examples}) == 3
    for ex in rec.examples:
        sequence = train.sequences[train.users.index(ex.user)]
        assert ex.answer == sequence[-1], "the answer is the user's last training item"
        assert list(ex.history) == sequence[:-1][-4:]
    plain = fitted(zero_shot_lm, wide_split, history_items=4)
    history = wide_split.test_set().histories[0]
    with_examples = rec.tokenizer.decode(rec.prompt_ids(history))
    without = plain.tokenizer.decode(plain.prompt_ids(history))
    assert with_examples != without and with_examples.endswith(without.split("<|im_start|> user")[-1])
    for ex in rec.examples:
        assert f"Answer : {rec.answers[ex.answer]}" in with_examples
    other_seed = fitted(zero_shot_lm, wide_split, in_context_examples=3, history_items=4, seed=1)
    assert [ex.user for ex in other_seed.examples] != [ex.user for ex in rec.examples]


def test_examples_without_chat_are_text_blocks(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    rec = fitted(zero_shot_lm, wide_split, in_context_examples=2, chat=False)
    text = rec.tokenizer.decode(rec.prompt_ids([1, 2]))
    assert "<|im_start|>" not in text and text.startswith("You are a recommender system .")
    assert text.count("Answer :") == 3 and text.endswith("Answer :")


def test_too_many_examples_is_a_clear_error(zero_shot_lm: Path, wide_split: LeaveOneOutSplit) -> None:
    with pytest.raises(DataError, match="100 examples asked, only 48"):
        fitted(zero_shot_lm, wide_split, in_context_examples=100)


# ------------------------------------------------------------------ configuration
def test_unknown_keys_and_bad_placeholders_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="beams"):
        build_recommender("zero-shot-lm", {"beams": 4})
    with pytest.raises(ConfigError, match=r"history_format: bad placeholder 'name'"):
        ZeroShotConfig(history_format="- {name}")
    with pytest.raises(ConfigError, match=r"prompt must contain \{history\}"):
        ZeroShotConfig(prompt="Recommend something.")
    with pytest.raises(ConfigError, match=r"answer_format must contain \{title\}"):
        ZeroShotConfig(answer_format=" the answer")


def test_not_fitted_is_a_clear_error() -> None:
    with pytest.raises(GenrecError, match="not fitted"):
        zero_shot(Path("unused")).recommend([[1]], 3)


# ------------------------------------------------------------------ persistence and serving
def test_saved_examples_survive_and_the_registry_loads_it(
    zero_shot_lm: Path, wide_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = fitted(zero_shot_lm, wide_split, in_context_examples=2)
    save_run(rec, wide_split.data.catalogue, tmp_path / "run", train=wide_split.train_data())
    assert (tmp_path / "run" / ZERO_SHOT_FILE).is_file()
    served, _, info = load_run(tmp_path / "run")
    loaded = load_recommender(tmp_path / "run")
    assert info.recommender == "zero-shot-lm"
    assert isinstance(served, ZeroShotLMRecommender) and isinstance(loaded, ZeroShotLMRecommender)
    assert served.examples == rec.examples
    histories = wide_split.test_set().histories[:4]
    np.testing.assert_array_equal(served.recommend(histories, 5).items, rec.recommend(histories, 5).items)


def test_served_run_answers_like_the_model(
    zero_shot_lm: Path, wide_split: LeaveOneOutSplit, tmp_path: Path
) -> None:
    rec = fitted(zero_shot_lm, wide_split, in_context_examples=1)
    train = wide_split.train_data()
    run = save_run(rec, train.catalogue, tmp_path / "run", dataset="tiny", train=train)
    history = [int(i) for i in wide_split.test_set().histories[0]]
    expected = [train.catalogue.item_ids[i] for i in rec.recommend([history], 5).items[0]]
    ids = [train.catalogue.item_ids[i] for i in history]
    app = create_app(RecommendService.from_run(run), BatchingConfig(max_wait_ms=1.0))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/recommend", json={"history": ids, "k": 5})
        assert r.status_code == 200, r.text
        assert [item["id"] for item in r.json()["items"]] == expected
        ruled = client.post("/v1/recommend", json={"history": ids, "k": 3, "exclude_items": expected[:2]})
        assert ruled.status_code == 200, ruled.text
        assert [item["id"] for item in ruled.json()["items"]] == expected[2:5]


def test_a_damaged_save_is_named(tmp_path: Path) -> None:
    (tmp_path / ZERO_SHOT_FILE).write_text('{"name": "zero-shot-lm", "titles": [], "answers": 3}')
    with pytest.raises(DataError, match="answers"):
        ZeroShotLMRecommender.load(tmp_path)


class TestZeroShotContract(RecommenderContract):
    @pytest.fixture(autouse=True)
    def _lm(self, zero_shot_lm: Path) -> None:
        self.lm_dir = zero_shot_lm

    def make(self, seed: int) -> Recommender:
        return zero_shot(self.lm_dir, seed=seed, in_context_examples=2)
