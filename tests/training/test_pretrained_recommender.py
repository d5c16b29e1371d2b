"""A GenerativeRecommender on a pretrained backbone: packed text prompts, LoRA/full, titles, alignment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tiny_pretrained import make_tiny_pretrained

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training.config import config_from_dict
from genrec.training.examples import IGNORE
from genrec.training.losses import target_loss
from genrec.training.token_init import item_token_vectors

COLOURS = ("red", "blue", "green", "black", "white")
THINGS = ("chair", "lamp", "desk", "table", "pen", "box")


def titled_data(n_items: int = 30, n_users: int = 60) -> tuple[TrainData, EvalSet]:
    """Users walk the catalogue in steps of +1; every item has a two-word title."""
    rng = np.random.default_rng(0)
    titles = tuple(f"{COLOURS[i % 5]} {THINGS[i // 5 % 6]}" for i in range(n_items))
    catalogue = Catalogue(tuple(f"i{i}" for i in range(n_items)), {"title": titles})
    seqs = [
        [(int(s) + j) % n_items for j in range(int(n))]
        for s, n in zip(rng.integers(0, n_items, n_users), rng.integers(4, 10, n_users), strict=True)
    ]
    users = tuple(f"u{u}" for u in range(n_users))
    return (
        TrainData(catalogue, [s[:-2] for s in seqs], users),
        EvalSet(users, [s[:-2] for s in seqs], np.array([s[-2] for s in seqs])),
    )


def config(path: Path, prompt: str = "sequence", kind: str = "atomic", **training: Any) -> Any:
    return config_from_dict(
        {
            "prompt": prompt,
            "identifiers": {"kind": kind},
            "backbone": {
                "kind": "pretrained", "path": str(path), "finetune": training.pop("finetune", "full"),
                "init_new_tokens": training.pop("init", "text"),
            },
            "training": {
                "epochs": 25, "batch_size": 16, "eval_every": 0, "eval_users": 30, "lr": 5e-3,
                "warmup_steps": 5, "progress": False, "num_threads": 1, "checkpoint_every": 0, **training,
            },
            "decoding": {"num_beams": 10, "batch_size": 32},
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pretrained(tmp_path_factory.mktemp("tiny-lm"), layers=2)


def test_full_finetune_learns_and_round_trips(tiny_dir: Path, tmp_path: Path) -> None:
    train, valid = titled_data()
    rec = GenerativeRecommender(config(tiny_dir, "sequence-titles"), output_dir=tmp_path / "run")
    rec.fit(train, valid)
    metrics = evaluate(rec, valid, k_max=10).metrics
    assert metrics["hr@10"] > 0.5  # popularity would be ~1/3; the +1 walk is learnable
    # the prompt is the chat-wrapped instruction, then identifier + " title\n" per history item
    prompt = rec.prompt_ids([3, 4])
    prefix = rec.template.token_prefix(rec.lm_tokenizer)
    tail = [*rec.item_ids[3], *rec.item_suffix[3], *rec.item_ids[4], *rec.item_suffix[4]]
    assert prompt == prefix + tail
    assert rec.lm_tokenizer.decode(rec.item_suffix[3]).strip() == "black chair"
    recs = rec.recommend(valid.histories[:8], k=10)
    assert (recs.items >= 0).all() and (recs.items < train.num_items).all()
    rec.save(tmp_path / "saved")
    loaded = GenerativeRecommender.load(tmp_path / "saved")
    again = loaded.recommend(valid.histories[:8], k=10)
    np.testing.assert_array_equal(again.items, recs.items)
    np.testing.assert_allclose(again.scores, recs.scores, rtol=1e-5)


def test_lora_run_validates_through_the_adapters_and_saves_a_merged_model(
    tiny_dir: Path, tmp_path: Path
) -> None:
    train, valid = titled_data()
    cfg = config(tiny_dir, finetune="lora", epochs=2, eval_every=4, lr=1e-2)
    rec = GenerativeRecommender(cfg, output_dir=tmp_path / "run")
    rec.fit(train, valid)
    assert len(rec.metrics["training"]["validation"]) >= 2
    assert type(rec.model).__name__ == "LlamaForCausalLM"  # merged, not a peft wrapper
    assert rec.metrics["training"]["parameters"] < sum(p.numel() for p in rec.model.parameters())
    recs = rec.recommend(valid.histories[:5], k=5)
    assert (recs.items >= 0).all()
    for row, hist in enumerate(valid.histories[:5]):
        assert not set(recs.items[row]) & set(hist)


def test_title_identifiers_generate_grounded_titles(tiny_dir: Path, tmp_path: Path) -> None:
    train, valid = titled_data(n_items=12, n_users=30)
    rec = GenerativeRecommender(
        config(tiny_dir, "title-sequence", kind="title", epochs=2), output_dir=tmp_path
    )
    rec.fit(train, valid)
    eos = rec.lm_tokenizer.eos_token_id
    assert rec.item_ids[0] == [*rec.lm_tokenizer.encode("red chair", add_special_tokens=False), eos]
    recs = rec.recommend(valid.histories[:4], k=5)
    assert (recs.items >= 0).all() and (recs.items < 12).all()


def test_alignment_examples_are_mixed_in_with_loss_on_targets_only(tiny_dir: Path) -> None:
    train, _ = titled_data()
    cfg = config(tiny_dir, "sequence", alignment_ratio=0.5, epochs=1)
    rec = GenerativeRecommender(cfg)
    rec.fit(train)
    builder = rec.example_builder()
    examples = builder.build([list(s) for s in train.sequences], rng=np.random.default_rng(1))
    base = [e for e in examples if e.user >= 0]
    extra = [e for e in examples if e.user < 0]
    assert len(extra) == round(0.5 * len(base)) > 0
    title_ids = {tuple(ids) for ids in rec.item_ids}
    kinds = set()
    for ex in extra:
        target = tuple(t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE)
        assert ex.labels[: len(ex.labels) - len(target)] == [IGNORE] * (len(ex.labels) - len(target))
        kinds.add("id" if target in title_ids else "title")
        if target not in title_ids:
            assert target[-1] == rec.lm_tokenizer.eos_token_id
    assert kinds == {"id", "title"}


def test_target_loss_equals_the_models_own_loss(tiny_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    ids = torch.randint(5, 40, (3, 12))
    labels = torch.full_like(ids, IGNORE)
    labels[0, 6:] = ids[0, 6:]
    labels[1, 4:9] = ids[1, 4:9]
    labels[2, 10:] = ids[2, 10:]
    mask = torch.ones_like(ids)
    mask[2, 11:] = 0
    labels[2, 11:] = IGNORE
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    torch.testing.assert_close(target_loss(model, batch), model(**batch).loss)


def test_explanations_are_generated_text_from_the_base_lm(tiny_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genrec.errors import GenrecError
    from genrec.recommenders.explain import Explainer, first_sentences

    assert first_sentences("One. Two! Three? Four.") == "One. Two!"
    assert first_sentences("One is long. And then it stops mid") == "One is long."
    assert first_sentences("no full stop at all") == "no full stop at all"
    train, _ = titled_data()
    rec = GenerativeRecommender(config(tiny_dir, epochs=1))
    rec.fit(train)
    assert rec.has_language_head
    reason = rec.explain([0, 1, 2], 3)
    assert isinstance(reason, str) and reason and reason == rec.explain([0, 1, 2], 3)  # greedy
    with pytest.raises(GenrecError, match="unknown item"):
        rec.explain([0], 999)
    # the model's own generation_config (sampling, temperature) does not change the text
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    plain = Explainer(model, tok).explain(["red chair"], "blue lamp")
    model.generation_config.do_sample, model.generation_config.temperature = True, 5.0
    assert Explainer(model, tok).explain(["red chair"], "blue lamp") == plain
    # banned (identifier) tokens never appear
    banned = list(range(5, 40))
    out = Explainer(model, tok, banned).model.generate(
        input_ids=torch.tensor([[8, 9]]), max_new_tokens=5, do_sample=False, suppress_tokens=banned
    )
    assert not set(out[0, 2:].tolist()) & set(banned)


def _bag_of_words(texts: Any) -> np.ndarray:
    """A fake text embedding: normalised counts of the fixture's colour and thing words."""
    words = [*COLOURS, *THINGS]
    out = np.zeros((len(texts), len(words)), dtype=np.float32)
    for row, text in enumerate(texts):
        for w in str(text).split():
            if w in words:
                out[row, words.index(w)] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


def test_embedding_grounding_maps_generated_titles_to_items(tiny_dir: Path) -> None:
    train, valid = titled_data(n_items=12, n_users=30)
    raw = config(tiny_dir, "title-sequence", kind="title", epochs=3).to_dict()
    raw["decoding"]["grounding"] = "embedding"
    raw["decoding"]["max_new_tokens"] = 6
    rec = GenerativeRecommender(config_from_dict(raw), embed=_bag_of_words)
    rec.fit(train)
    histories = valid.histories[:6]
    recs = rec.recommend(histories, k=4)
    assert (recs.items >= 0).all() and (recs.items < 12).all()
    for row, hist in enumerate(histories):
        assert len(set(recs.items[row])) == 4 and not set(recs.items[row]) & set(hist)
        assert (np.diff(recs.scores[row]) <= 1e-9).all()  # nearest first (score = -distance)
    bad = GenerativeRecommender(
        config_from_dict({**raw, "identifiers": {"kind": "atomic"}, "prompt": "sequence"})
    )
    bad.fit(train)
    with pytest.raises(Exception, match="needs text"):
        bad.recommend(histories, k=4)


def test_interaction_init_uses_training_cooccurrence_only(tiny_dir: Path) -> None:
    train, _ = titled_data()
    rec = GenerativeRecommender(config(tiny_dir, "sequence", init="text+interactions"))
    rec.item_tokenizer.fit(train.catalogue, train.sequences, 0)
    vectors = item_token_vectors(rec.item_tokenizer, train, 0)
    assert set(vectors) == set(rec.item_tokenizer.vocabulary())

    def vec(item: int) -> np.ndarray:
        return vectors[rec.item_tokenizer.encode(item)[0]]

    # the +1 walk: item 3 co-occurs with 4 far more than with 18 (never within one short sequence)
    assert vec(3) @ vec(4) > vec(3) @ vec(18)
