"""GenerativeRecommender: trains, returns only valid non-history items, and saves/loads exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.errors import DataError, GenrecError
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.base import Recommender
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training.config import RunConfig, config_from_dict


def tiny_data(n_items: int = 30, n_users: int = 60) -> tuple[TrainData, EvalSet]:
    """Users walk the catalogue in steps of +1 from a random start: next item = last item + 1."""
    rng = np.random.default_rng(0)
    catalogue = Catalogue(tuple(f"i{i}" for i in range(n_items)))
    seqs = [
        [(int(s) + j) % n_items for j in range(int(n))]
        for s, n in zip(rng.integers(0, n_items, n_users), rng.integers(4, 10, n_users), strict=True)
    ]
    users = tuple(f"u{u}" for u in range(n_users))
    return (
        TrainData(catalogue, [s[:-2] for s in seqs], users),
        EvalSet(users, [s[:-2] for s in seqs], np.array([s[-2] for s in seqs])),
    )


def tiny_config(kind: str = "atomic", options: dict[str, Any] | None = None) -> RunConfig:
    return config_from_dict(
        {
            "identifiers": {"kind": kind, "options": options or {}},
            "backbone": {"num_layers": 1, "hidden_size": 32, "num_heads": 2, "intermediate_size": 64},
            "training": {
                "epochs": 25, "batch_size": 16, "eval_every": 25, "eval_users": 30, "lr": 5e-3,
                "warmup_steps": 5, "progress": False, "num_threads": 1, "checkpoint_every": 0,
            },
            "decoding": {"num_beams": 10, "batch_size": 32},
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerativeRecommender, EvalSet]:
    train, valid = tiny_data()
    rec = GenerativeRecommender(tiny_config(), output_dir=tmp_path_factory.mktemp("run"))
    rec.fit(train, valid)
    return rec, valid


def test_learns_the_pattern_and_validates_during_training(
    fitted: tuple[GenerativeRecommender, EvalSet],
) -> None:
    rec, valid = fitted
    assert isinstance(rec, Recommender)
    metrics = evaluate(rec, valid, k_max=10).metrics
    assert metrics["hr@1"] > 0.9  # popularity would be near 1/30
    history = rec.metrics["training"]["validation"]
    assert len(history) >= 2 and history[-1]["step"] == rec.metrics["training"]["steps"]


def test_recommendations_are_valid_distinct_and_exclude_history(
    fitted: tuple[GenerativeRecommender, EvalSet],
) -> None:
    rec, _ = fitted
    histories = [[0, 1, 2, 3], [5], list(range(10, 25))]
    recs = rec.recommend(histories, k=10)
    for row, hist in zip(recs.items, histories, strict=True):
        assert len(set(row.tolist())) == 10
        assert all(0 <= i < 30 and i not in hist for i in row)
    assert np.all(np.diff(recs.scores, axis=1) <= 0)
    with_hist = rec.recommend([[0, 1, 2, 3]], k=5, exclude_history=False)
    assert with_hist.items.shape == (1, 5)
    # more than the catalogue minus history: padded with -1, never invented items
    big = rec.recommend([list(range(25))], k=8)
    assert sorted(big.items[0, :5].tolist()) == [25, 26, 27, 28, 29]
    assert big.items[0, 5:].tolist() == [-1, -1, -1]


def test_save_load_restores_identical_recommendations(
    fitted: tuple[GenerativeRecommender, EvalSet], tmp_path: Path
) -> None:
    rec, valid = fitted
    rec.save(tmp_path / "run")
    for name in ("config.yaml", "template.yaml", "run.json", "metrics.json", "model/model.safetensors"):
        assert (tmp_path / "run" / name).is_file(), name
    loaded = GenerativeRecommender.load(tmp_path / "run")
    a = rec.recommend(valid.histories, k=10)
    b = loaded.recommend(valid.histories, k=10)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert loaded.config == rec.config
    assert loaded.metrics["training"]["steps"] == rec.metrics["training"]["steps"]


def test_unfitted_and_bad_directories_raise() -> None:
    with pytest.raises(GenrecError, match="not fitted"):
        GenerativeRecommender(tiny_config()).recommend([[1]], k=3)
    with pytest.raises(GenrecError, match="not a saved generative recommender"):
        GenerativeRecommender.load(Path("/nonexistent"))


def test_a_corrupt_run_file_is_an_error_naming_it(
    fitted: tuple[GenerativeRecommender, EvalSet], tmp_path: Path
) -> None:
    rec, _ = fitted
    rec.save(tmp_path / "run")
    (tmp_path / "run" / "run.json").write_text('{"num_items": 30,', encoding="utf-8")
    with pytest.raises(DataError, match=r"run\.json.*invalid JSON"):
        GenerativeRecommender.load(tmp_path / "run")


def test_prebuilt_multi_token_identifiers(tmp_path: Path) -> None:
    train, valid = tiny_data()
    index = {f"i{i}": [f"<a_{i % 5}>", f"<b_{i // 5}>"] for i in range(30)}
    (tmp_path / "index.json").write_text(__import__("json").dumps(index))
    rec = GenerativeRecommender(tiny_config("prebuilt", {"path": "index.json"}), data_dir=tmp_path)
    rec.fit(train, valid)
    recs = rec.recommend(valid.histories[:5], k=10)
    assert (recs.items >= 0).all() and (recs.items < 30).all()
    assert evaluate(rec, valid, k_max=10).metrics["hr@10"] > 0.5


def test_prebuilt_identifiers_of_mixed_length(tmp_path: Path) -> None:
    """``collision_level: colliding``: four items sharing two codes get a third token, the rest keep two;
    the search still returns K distinct real items, the extended ones among them, and a reload agrees."""
    train, valid = tiny_data()
    index = {f"i{i}": [f"<a_{i % 5}>", f"<b_{i // 5}>"] for i in range(30)}
    index["i1"], index["i3"] = index["i0"], index["i2"]
    (tmp_path / "index.json").write_text(__import__("json").dumps(index))
    options = {"path": "index.json", "collision_level": "colliding"}
    rec = GenerativeRecommender(tiny_config("prebuilt", options), data_dir=tmp_path)
    rec.fit(train, valid)
    lengths = sorted(len(ids) for ids in rec.item_ids)
    assert lengths == [2] * 26 + [3] * 4
    histories = [list(h) for h in valid.histories]
    recs = rec.recommend(histories, k=10)
    for items, hist in zip(recs.items.tolist(), histories, strict=True):
        assert len(set(items)) == 10 and all(0 <= i < 30 and i not in hist for i in items)
    assert {rec.item_tokenizer.decode(rec.item_tokenizer.encode(i)) for i in range(30)} == set(range(30))
    assert set(recs.items.ravel().tolist()) & {0, 1, 2, 3}  # extended identifiers are reachable
    rec.save(tmp_path / "run")
    again = GenerativeRecommender.load(tmp_path / "run")
    np.testing.assert_array_equal(again.recommend(histories, k=10).items, recs.items)


def test_exclusions_are_applied_inside_the_search(fitted: tuple[GenerativeRecommender, EvalSet]) -> None:
    """Business-rule exclusions never come back, K items still do, and scores are those of the items."""
    rec, valid = fitted
    histories = [list(h) for h in valid.histories[:4]]
    plain = rec.recommend(histories, k=5)
    banned = [[int(row[0]), int(row[2])] for row in plain.items]  # the best and third-best items
    ruled = rec.recommend_excluding(histories, 5, banned)
    for row, (items, ban, hist) in enumerate(zip(ruled.items, banned, histories, strict=True)):
        assert (items >= 0).all() and len(set(items.tolist())) == 5
        assert not set(items.tolist()) & (set(ban) | set(hist))
        assert (np.diff(ruled.scores[row]) <= 1e-9).all()  # best first
        plain_score = dict(zip(plain.items[row].tolist(), plain.scores[row].tolist(), strict=True))
        for item, score in zip(items.tolist(), ruled.scores[row].tolist(), strict=True):
            if item in plain_score:  # an item's score is its identifier's log-probability, rules or not
                assert score == pytest.approx(plain_score[item], abs=1e-5)
    with pytest.raises(GenrecError, match="exclusion lists"):
        rec.recommend_excluding(histories, 5, banned[:1])


def test_compact_models_cannot_explain(fitted: tuple[GenerativeRecommender, EvalSet]) -> None:
    rec, _ = fitted
    assert not rec.has_language_head
    with pytest.raises(GenrecError, match="no language head"):
        rec.explain([0, 1], 2)


def test_build_gives_an_untrained_model_over_every_item_without_writing_anything(tmp_path: Path) -> None:
    train, _ = tiny_data()
    rec = GenerativeRecommender(tiny_config(), output_dir=tmp_path / "run")
    rec.build(train)
    assert rec.train_result is None and not (tmp_path / "run").exists()
    assert len(rec.item_ids) == train.num_items
    vocab = set(rec.lm_tokenizer.get_vocab().values())
    assert all(t in vocab for ids in rec.item_ids for t in ids)
    assert rec.model.get_input_embeddings().weight.shape[0] == len(rec.lm_tokenizer)
    out = rec.recommend([[0, 1, 2]], k=5)  # servable as is: still only real, non-history items
    assert set(out.items[0].tolist()).isdisjoint({0, 1, 2}) and (out.items >= 0).all()


def test_tempered_loss_trains_and_searches_at_its_temperature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """training.loss_temperature: the model learns softmax(logits / T), so the search scores with that T."""
    import genrec.recommenders.generative_ranking as generative

    seen: list[float] = []
    real = generative.grounded_beam_search

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[3].temperature)
        return real(*args, **kwargs)

    monkeypatch.setattr(generative, "grounded_beam_search", spy)
    train, valid = tiny_data()
    cfg = tiny_config()
    cfg = config_from_dict(
        {**cfg.to_dict(), "training": {**cfg.to_dict()["training"], "loss_temperature": 0.5}}
    )
    rec = GenerativeRecommender(cfg, output_dir=tmp_path / "run")
    rec.fit(train, valid)
    assert evaluate(rec, valid, k_max=10).metrics["hr@1"] > 0.9
    assert seen and set(seen) == {0.5}  # validation during training and the evaluation above
    rec.save(tmp_path / "saved")
    assert GenerativeRecommender.load(tmp_path / "saved").config.training.loss_temperature == 0.5


def test_confirm_users_hands_back_whichever_of_best_and_final_scores_higher_on_more_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """training.confirm_users: the in-training validation here calls its first score the best (a stand-in for
    a lucky small subset), so best and final weights differ; both are scored again on all validation users and
    the model handed back is the one that scored higher there."""
    real = GenerativeRecommender._validator
    made: list[int] = []

    def validator(self: GenerativeRecommender, subset: EvalSet) -> Any:
        made.append(len(subset))
        if len(made) == 1:  # the in-training validation: each score lower than the one before
            scores = iter(range(100, 0, -1))
            return lambda model: {"ndcg@10": next(scores) / 100, "hr@10": 0.0}
        return real(self, subset)

    monkeypatch.setattr(GenerativeRecommender, "_validator", validator)
    train, valid = tiny_data()
    base = tiny_config().to_dict()
    cfg = config_from_dict(
        {**base, "training": {**base["training"], "epochs": 4, "eval_every": 5, "confirm_users": 10_000}}
    )
    rec = GenerativeRecommender(cfg, output_dir=tmp_path / "run")
    rec.fit(train, valid)
    training = rec.metrics["training"]
    assert made == [30, 60]  # eval_users, then every validation user (confirm_users exceeds them)
    confirmed = training["confirmed"]
    assert (
        confirmed["best_step"] == training["best_step"] == 5 and confirmed["final_step"] == training["steps"]
    )
    assert confirmed["kept"] == ("final" if confirmed["final"] > confirmed["best"] else "best")
    handed_back = evaluate(rec, valid, k_max=10).metrics["ndcg@10"]
    assert handed_back == pytest.approx(confirmed[confirmed["kept"]], abs=1e-6)
    other = "best" if confirmed["kept"] == "final" else "final"
    assert confirmed[other] != pytest.approx(handed_back, abs=1e-6)  # the comparison had two sides
