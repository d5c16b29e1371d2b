"""`benchmarks/confirm_checkpoints.py`: a finished run's best and final weights compared on validation users,
the kept ones scored on the test users."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from benchmark_scripts import load_script
from safetensors.torch import load_file, save_file

from genrec.data import leave_one_out, load_dataset
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training import checkpoint as ckpt
from genrec.workflows.train import train_command


def test_a_worse_best_checkpoint_is_replaced_by_the_final_weights(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "data: {dataset: ml-100k, max_history: 10}\n"
        "identifiers: {kind: atomic}\n"
        "backbone: {kind: compact, num_layers: 1, hidden_size: 32, num_heads: 2, intermediate_size: 64}\n"
        "training: {batch_size: 32, max_steps: 12, eval_every: 0, eval_users: 50, progress: false,\n"
        "           num_threads: 1}\n"
        "decoding: {num_beams: 10}\n"
    )
    train_command(recipe, run, test=False)
    latest = ckpt.committed(run, "latest")
    assert latest is not None and latest.name == "step-00000012"
    # stand in for a lucky early pick: a 'best' checkpoint from step 4 whose weights are scrambled
    weights = load_file(str(latest / ckpt.WEIGHTS))
    generator = torch.Generator().manual_seed(0)
    scrambled = {k: torch.randn(v.shape, generator=generator) for k, v in weights.items()}
    early = run / "checkpoints" / "best-00000004"
    early.mkdir()
    save_file(scrambled, str(early / ckpt.WEIGHTS))
    shutil.rmtree(run / "checkpoints" / "best-00000012", ignore_errors=True)
    (run / "checkpoints" / "pointer.json").write_text('{"latest": "step-00000012", "best": "best-00000004"}')

    row = load_script("confirm_checkpoints").confirm_run(run, None, confirm_users=300)
    assert (row["best_step"], row["final_step"], row["validation_users"]) == (4, 12, 300)
    assert row["final"] > row["best"] and row["kept"] == "final"
    rec = GenerativeRecommender.load(run / "model")  # the final weights, as this run handed them back
    split = leave_one_out(load_dataset("ml-100k"), rec.config.data.max_history)
    test = evaluate(rec, split.test_set(), k_max=10).metrics
    assert row["test"] == {c: test[c] for c in ("hr@5", "ndcg@5", "hr@10", "ndcg@10")}


def test_the_table_averages_the_seeds_of_each_row() -> None:
    def row(run: str, seed: int, ndcg: float) -> dict[str, object]:
        test = {"hr@5": 0.5, "ndcg@5": ndcg, "hr@10": 0.5, "ndcg@10": ndcg}
        return {
            "run": run,
            "seed": seed,
            "validation_users": 9,
            "best_step": 4,
            "final_step": 8,
            "best": 0.1,
            "final": 0.2,
            "kept": "final",
            "test": test,
        }

    rows = [row("r-seed0-abc", 0, 0.1), row("r-seed1-abc", 1, 0.3), row("r-seed0-def", 0, 0.2)]
    markdown = load_script("confirm_checkpoints").table("toy", rows)
    # sample std (ddof=1) of 0.1 and 0.3 is 0.1414, not the population 0.1000; one seed has no spread
    assert (
        "| r-abc | 0, 1 | 0.5000 ± 0.0000 | 0.2000 ± 0.1414 | 0.5000 ± 0.0000 | 0.2000 ± 0.1414 |" in markdown
    )
    assert "| r-def | 0 | 0.5000 | 0.2000 | 0.5000 | 0.2000 |" in markdown
    assert "| r-seed1-abc | 9 | 4 | 0.1000 | 8 | 0.2000 | final | 0.5000 | 0.3000 |" in markdown
