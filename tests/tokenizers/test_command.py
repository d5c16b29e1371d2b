"""`tokenize_command`: fits on train sequences only and writes identifiers, stats and config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizer_fixtures import fake_embed, make_catalogue

from genrec.data.interactions import InteractionData
from genrec.errors import ConfigError
from genrec.tokenizers.registry import load_tokenizer
from genrec.workflows import tokenize as command
from genrec.workflows.tokenize import tokenize_command


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> InteractionData:
    cat = make_catalogue(30)
    # Item 29 appears only as a test target, item 28 only as a validation target.
    seqs = tuple((u % 28, (u + 1) % 28, (u + 2) % 28, 28, 29) for u in range(20))
    data = InteractionData("tiny", cat, tuple(f"u{i}" for i in range(20)), seqs)
    monkeypatch.setattr(command, "load_dataset", lambda name, data_dir=None: data)
    return data


def test_writes_identifiers_stats_and_config(tiny: InteractionData, tmp_path: Path) -> None:
    out = tmp_path / "run"
    stats = tokenize_command(
        "tiny", "residual_kmeans", out, seed=0, data_dir=None, options={"codebook_size": 4}, embed=fake_embed
    )
    index = json.loads((out / "identifiers.json").read_text())
    assert list(index) == list(tiny.catalogue.item_ids)
    assert len({tuple(v) for v in index.values()}) == 30
    assert json.loads((out / "stats.json").read_text()) == stats
    assert stats["unique_rate"] == 1.0 and stats["prefix_levels"] == 3
    assert "| collision_rate |" in (out / "stats.md").read_text()
    assert json.loads((out / "config.json").read_text())["options"] == {"codebook_size": 4}
    assert load_tokenizer(out, embed=fake_embed).encode(5) == tuple(index["p5"])
    # A second run replaces the first without leaving temporary directories behind.
    tokenize_command("tiny", "atomic", out, seed=0, data_dir=None)
    assert json.loads((out / "identifiers.json").read_text())["p0"] == ["<item_0>"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_collaborative_sees_training_sequences_only(
    tiny: InteractionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genrec.tokenizers import collaborative

    seen: list[list[list[int]]] = []
    original = collaborative.cooccurrence

    def spy(n: int, seqs: list[list[int]]) -> object:
        seen.append([list(s) for s in seqs])
        return original(n, seqs)

    monkeypatch.setattr(collaborative, "cooccurrence", spy)
    tokenize_command("tiny", "collaborative", tmp_path / "c", seed=0, data_dir=None, options={"branching": 4})
    assert seen and all(28 not in s and 29 not in s for s in seen[0])


def test_bad_tokenizer_names_are_config_errors(tiny: InteractionData, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        tokenize_command("tiny", "bogus", tmp_path / "x", seed=0, data_dir=None)
    with pytest.raises(ConfigError, match="only 'prebuilt'"):
        tokenize_command("tiny", "atomic:rqvae", tmp_path / "x", seed=0, data_dir=None)
    with pytest.raises(ConfigError, match="no prebuilt index"):
        tokenize_command("tiny", "prebuilt", tmp_path / "x", seed=0, data_dir=None)


@pytest.mark.shared_data
def test_prebuilt_scientific_rqvae_collisions(tmp_path: Path) -> None:
    stats = tokenize_command("scientific", "prebuilt:rqvae", tmp_path / "p", seed=0, data_dir=None)
    assert stats["items"] == 4344 and stats["unique_rate"] == 1.0
    assert stats["index_file_collision_rate"] == pytest.approx(1 - 3790 / 4344)
