"""The docs/own-data.md walkthrough as one command, so every figure that page prints is recorded.

    python benchmarks/own_data.py

runs the page's CLI commands from the repository root on ``examples/own-data/shop.yaml``: data stats,
evaluate popularity and sasrec, tokenize atomic and semantic, and train the atomic and semantic compact
recipes with the page's overrides. Run directories go to a temporary folder. It writes
``results/own_data.json`` and ``results/own_data.md``. CPU only; 1 min 48 s on 2 shared cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from genrec.data.stats import dataset_stats
from measured_at import current_commit

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
SPEC = "examples/own-data/shop.yaml"
GENREC = str(Path(sys.executable).with_name("genrec"))
#: The overrides docs/own-data.md gives `genrec train`: the recipe shrunk to 30 items and 40 users.
TRAIN_OVERRIDES = (
    f"data.dataset={SPEC}",
    "backbone.num_layers=2",
    "backbone.hidden_size=64",
    "backbone.intermediate_size=256",
    "training.batch_size=32",
    "training.epochs=100",
    "training.warmup_steps=20",
    "training.eval_every=50",
    "training.checkpoint_every=50",
    "training.eval_users=40",
    "training.progress=false",
    "decoding.num_beams=10",
)
METRICS = ("hr@10", "ndcg@10", "coverage@10", "users")


def run(args: list[str]) -> float:
    """Run ``genrec ARGS`` from the repository root (one thread); its wall-clock seconds."""
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([GENREC, *args], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"genrec {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def test_metrics(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {key: metrics["test"][key] for key in METRICS}


def main() -> None:
    rows: dict[str, Any] = {"dataset": SPEC, "commit": current_commit(), "commands": {}}
    rows["stats"] = dataset_stats(str(REPO / SPEC))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for model in ("popularity", "sasrec"):
            seconds = run(["evaluate", SPEC, model, "-o", str(out / model)])
            rows["commands"][f"evaluate {model}"] = {"wall_s": seconds, "test": test_metrics(out / model)}
        for tokenizer in ("atomic", "semantic"):
            seconds = run(["tokenize", SPEC, tokenizer, "-o", str(out / f"ids-{tokenizer}")])
            stats = json.loads((out / f"ids-{tokenizer}" / "stats.json").read_text())
            rows["commands"][f"tokenize {tokenizer}"] = {
                "wall_s": seconds,
                **{k: stats.get(k) for k in ("items", "unique_rate", "collision_rate", "identifier_lengths")},
            }
        for recipe in ("office-atomic-compact", "office-semantic-compact"):
            sets = [arg for value in TRAIN_OVERRIDES for arg in ("--set", value)]
            seconds = run(["train", recipe, "-o", str(out / recipe), *sets])
            training = json.loads((out / recipe / "metrics.json").read_text())["training"]
            rows["commands"][f"train {recipe}"] = {
                "wall_s": seconds,
                "steps": training["steps"],
                "train_wall_s": training["wall_time_s"],
                "test": test_metrics(out / recipe),
            }
        seconds = run(
            [
                "recommend",
                "--model",
                str(out / "office-atomic-compact" / "model"),
                "--users",
                "test",
                "-o",
                str(out / "recs.jsonl"),
                "-k",
                "5",
            ]
        )
        lines = (out / "recs.jsonl").read_text().splitlines()
        rows["commands"]["recommend test"] = {"wall_s": seconds, "users": len(lines)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "own_data.json").write_text(json.dumps(rows, indent=1) + "\n")
    md = [f"# docs/own-data.md walkthrough on {SPEC} (commit {rows['commit']})", ""]
    md += ["| command | wall s | HR@10 | NDCG@10 |", "|---|---|---|---|"]
    for name, row in rows["commands"].items():
        test = row.get("test", {})
        hr, ndcg = (f"{test[k]:.4f}" if k in test else "" for k in ("hr@10", "ndcg@10"))
        md.append(f"| {name} | {row['wall_s']:.1f} | {hr} | {ndcg} |")
    (RESULTS / "own_data.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
