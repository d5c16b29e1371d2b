"""`PreferencePredictor` on a tiny word-level LM: probabilities, learning a toy rule, save/load, prompts."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest

from genrec.data.ratings import PreferenceExample
from genrec.errors import ConfigError
from genrec.recommenders.preference_prediction import PreferenceConfig, PreferencePredictor, auc
from genrec.recommenders.preference_prompts import PreferencePromptBuilder, load_prompt
from tiny_word_lm import save_tiny_llama, word_level_tokenizer

ITEMS = 20
TITLES = [f"m{i}" for i in range(ITEMS)]
WORDS = [
    *["Liked", "movies", "Disliked", "Will", "the", "user", "like", "Answer", "none", "Yes", "No"],
    *["You", "are", "a", "recommender", "system", "Given", "preference"],
    *TITLES,
    *string.punctuation,
]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pref-lm")
    save_tiny_llama(directory, word_level_tokenizer(WORDS), max_positions=256)
    return directory


def examples(n: int, seed: int) -> list[PreferenceExample]:
    """The toy rule: the user likes a target iff its index is even (whatever the history says)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        target = int(rng.integers(ITEMS))
        history = tuple(int(i) for i in rng.integers(ITEMS, size=3))
        liked = tuple(bool(b) for b in rng.integers(2, size=3))
        label = int(target % 2 == 0)
        out.append(PreferenceExample(0, history, liked, target, label, 5.0 if label else 1.0, k))
    return out


def config(lm: Path, **values: object) -> PreferenceConfig:
    base = {"lm": str(lm), "keep_layers": 0, "prompt": "tallrec-plain", "fine_tune": "full", "lr": 1e-2}
    return PreferenceConfig(**{**base, "epochs": 12, "batch_size": 16, "valid_every": 4, **values})


def test_untrained_scores_are_probabilities(tiny_lm: Path) -> None:
    predictor = PreferencePredictor(config(tiny_lm, fine_tune="none"))
    predictor.fit([], TITLES)
    scores = predictor.predict(examples(10, 0))
    assert scores.shape == (10,) and np.all((scores >= 0) & (scores <= 1))
    assert len(np.unique(scores.round(6))) > 1, "the target changes the score"


def test_training_learns_a_toy_rule_and_round_trips(tiny_lm: Path, tmp_path: Path) -> None:
    held_out = examples(64, 2)
    predictor = PreferencePredictor(config(tiny_lm, epochs=15, valid_every=5, lr=2e-2))
    predictor.titles = TITLES
    predictor.load_lm()
    before = auc([e.label for e in held_out], predictor.predict(held_out))
    log = predictor.fit(examples(96, 1), TITLES, examples(32, 3))
    after = predictor.predict(held_out)
    assert auc([e.label for e in held_out], after) > 0.9 > before
    assert log["best_valid_auc"] == max(h["valid_auc"] for h in log["history"]), "best epoch kept"
    assert [h["epoch"] for h in log["history"]] == [5.0, 10.0, 15.0]
    predictor.save(tmp_path / "model")
    restored = PreferencePredictor.load(tmp_path / "model")
    assert np.allclose(restored.predict(held_out), after, atol=1e-6)


def test_lora_round_trip_gives_the_same_scores(tiny_lm: Path, tmp_path: Path) -> None:
    predictor = PreferencePredictor(config(tiny_lm, fine_tune="lora", epochs=1, valid_every=1))
    predictor.fit(examples(16, 1), TITLES)
    held_out = examples(12, 4)
    predictor.save(tmp_path / "lora")
    assert (tmp_path / "lora" / "lm_adapter").is_dir()
    restored = PreferencePredictor.load(tmp_path / "lora")
    assert np.allclose(restored.predict(held_out), predictor.predict(held_out), atol=1e-6)


def test_prompts_are_data_and_checked(tiny_lm: Path, tmp_path: Path) -> None:
    builder = PreferencePromptBuilder(load_prompt("tallrec"), word_level_tokenizer(WORDS))
    text = builder.text(["A", "B", "C"], [True, False, True], "T")
    assert 'User Preference: "A", "C"\nUser Unpreference: "B"\n' in text and '"T"?' in text
    assert "Unpreference: none" in builder.text(["A"], [True], "T")
    custom = tmp_path / "prompts.yaml"
    custom.write_text(
        "odd:\n  chat: false\n  instruction: 'like {liked} target {target}'\n  yes_token: ' Maybe'\n"
    )
    predictor = PreferencePredictor(config(tiny_lm, fine_tune="none", prompt="odd", prompt_file=str(custom)))
    with pytest.raises(ConfigError, match="yes_token"):
        predictor.fit([], TITLES)  # ' Maybe' is not a token of the tiny vocabulary
    with pytest.raises(ConfigError, match="no prompt 'missing'"):
        PreferencePredictor(config(tiny_lm, prompt="missing"))
    custom.write_text("bad:\n  instruction: 'like {liked} {oops} {target}'\n")
    with pytest.raises(ConfigError, match="placeholder"):
        PreferencePredictor(config(tiny_lm, prompt="bad", prompt_file=str(custom)))
