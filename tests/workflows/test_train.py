"""`train_command`: recipe + overrides -> resolved config, checkpoints, a loadable run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from genrec.errors import ConfigError
from genrec.recommenders.generative import GenerativeRecommender
from genrec.workflows.train import train_command

TINY = [
    "backbone.num_layers=1", "backbone.hidden_size=16", "backbone.num_heads=2", "backbone.intermediate_size=32",
    "training.max_steps=3", "training.batch_size=32", "training.eval_every=0", "training.progress=false",
    "training.num_threads=1", "training.eval_users=20", "decoding.num_beams=5",
]  # fmt: skip


def test_train_command_writes_config_checkpoint_and_run_dir(tmp_path: Path) -> None:
    metrics = train_command(
        "office-atomic-compact", tmp_path, seed=5, overrides=["data.dataset=ml-100k", *TINY], test=False
    )
    assert metrics["training"]["steps"] == 3 and metrics["training"]["stopped"] == "completed"
    resolved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert resolved["seed"] == 5 and resolved["training"]["max_steps"] == 3
    pointer = json.loads((tmp_path / "checkpoints" / "pointer.json").read_text())
    assert pointer == {"latest": "step-00000003", "best": "best-00000003"}  # validated once, at the end
    best = json.loads((tmp_path / "checkpoints" / "best-00000003" / "metrics.json").read_text())
    assert best["step"] == 3 and 0.0 <= best["ndcg@10"] <= best["hr@10"] <= 1.0  # JSON, not a Python repr
    loaded = GenerativeRecommender.load(tmp_path / "model")
    recs = loaded.recommend([[0, 1, 2]], k=5)
    assert recs.items.shape == (1, 5) and (recs.items >= 0).all()
    # the same output directory with a different config is refused (it would corrupt a resume)
    with pytest.raises(ConfigError, match=r"different config \(seed: saved 5, requested 6\)"):
        train_command("office-atomic-compact", tmp_path, seed=6, overrides=["data.dataset=ml-100k", *TINY])


def test_a_run_saved_before_a_field_existed_resumes_while_the_field_holds_its_default(tmp_path: Path) -> None:
    overrides = ["data.dataset=ml-100k", *TINY]
    train_command("office-atomic-compact", tmp_path, overrides=overrides, test=False)
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del saved["training"]["confirm_users"]  # as a run written before training.confirm_users was added
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved))
    train_command("office-atomic-compact", tmp_path, overrides=overrides, test=False)  # resumes (finished)
    # at another value it is another run, and the error names the field
    with pytest.raises(ConfigError, match=r"training\.confirm_users: saved \d+, requested 9"):
        train_command("office-atomic-compact", tmp_path, overrides=[*overrides, "training.confirm_users=9"])
    saved["training"]["no_such_field"] = 1  # a field since removed: a clear error naming the file
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(saved))
    with pytest.raises(ConfigError, match=r"config\.yaml no longer loads"):
        train_command("office-atomic-compact", tmp_path, overrides=overrides, test=False)
