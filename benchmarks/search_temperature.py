"""Search settings on a trained generative model: validation HR/NDCG when the beam search scores with
log-softmax(logits / T) for several T, and keeps several beam widths, the model's weights unchanged.

    python benchmarks/search_temperature.py runs/benchmarks/<run>/model --temperatures 1.0 2.0 0.7
    python benchmarks/search_temperature.py runs/benchmarks/<run>/model --num-beams 20 50

A model trained with ``training.loss_temperature`` T0 stands for softmax(logits / T0) and is searched at T0;
this measures what other temperatures (and other beam widths, ``--num-beams``; default: the model's own)
would do (all validation users of the model's dataset, full ranking,
history excluded; the test users are never touched). Writes
``benchmarks/results/search_temperature/<run>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from genrec.data import leave_one_out, load_dataset
from genrec.data.split import EvalSet
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.generative import GenerativeRecommender

RESULTS = Path(__file__).parent / "results" / "search_temperature"
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")


def temperature_rows(
    rec: GenerativeRecommender,
    valid: EvalSet,
    temperatures: list[float],
    num_beams: list[int] | None = None,
) -> list[dict[str, Any]]:
    """One row per search temperature and beam width (default: the model's own): validation HR/NDCG@5/10
    and seconds; ``rec`` is left as it came."""
    trained = rec.config
    rows: list[dict[str, Any]] = []
    try:
        for t in temperatures:
            for beams in num_beams or [trained.decoding.num_beams]:
                rec.config = trained.model_copy(
                    update={
                        "training": trained.training.model_copy(update={"loss_temperature": t}),
                        "decoding": trained.decoding.model_copy(update={"num_beams": beams}),
                    }
                )
                start = time.perf_counter()
                metrics = evaluate(rec, valid, k_max=10).metrics
                rows.append(
                    {
                        "search_temperature": t,
                        "num_beams": beams,
                        **{c: metrics[c] for c in COLUMNS},
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(rows[-1], flush=True)
    finally:
        rec.config = trained
    return rows


def merge_rows(
    previous: list[dict[str, Any]], new: list[dict[str, Any]], trained_num_beams: int
) -> list[dict[str, Any]]:
    """Earlier rows of the same model stay unless re-measured (same temperature and beam width); rows written
    before beam widths were recorded were searched at the model's own width."""

    def key(row: dict[str, Any]) -> tuple[float, int]:
        return float(row["search_temperature"]), int(row.get("num_beams", trained_num_beams))

    fresh = {key(r) for r in new}
    kept = [{**r, "num_beams": key(r)[1]} for r in previous if key(r) not in fresh]
    return sorted([*kept, *new], key=key)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", type=Path, help="a saved generative recommender (a run's model/ folder)")
    parser.add_argument(
        "--temperatures", type=float, nargs="+", default=None, help="default: the trained loss temperature"
    )
    parser.add_argument("--num-beams", type=int, nargs="+", default=None, help="default: the model's own")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $GENREC_DATA_DIR")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rec = GenerativeRecommender.load(args.model_dir)
    trained = rec.config
    split = leave_one_out(load_dataset(trained.data.dataset, args.data_dir), trained.data.max_history)
    valid = split.valid_set()
    temperatures = args.temperatures or [trained.training.loss_temperature]
    rows = temperature_rows(rec, valid, temperatures, args.num_beams)
    run = args.model_dir.resolve().parent.name
    out = RESULTS / f"{run}.json"
    rows = merge_rows(
        json.loads(out.read_text())["rows"] if out.is_file() else [], rows, trained.decoding.num_beams
    )
    payload = {
        "model_dir": str(args.model_dir),
        "dataset": trained.data.dataset,
        "trained_loss_temperature": trained.training.loss_temperature,
        "trained_num_beams": trained.decoding.num_beams,
        "split": "validation",
        "users": len(valid.users),
        "rows": rows,
        "machine": {"platform": platform.platform(), "torch_threads": args.threads},
    }
    lines = [
        f"## {run}: search temperature and beam width (validation, {len(valid.users)} users; trained at "
        f"T={trained.training.loss_temperature}, searched at {trained.decoding.num_beams} beams)",
        "",
        "| search T | beams | " + " | ".join(c.upper() for c in COLUMNS) + " | seconds |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['search_temperature']:g} | {r['num_beams']} | "
            + " | ".join(f"{r[c]:.4f}" for c in COLUMNS)
            + f" | {r['seconds']:.0f} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, payload)
    write_text_atomic(RESULTS / f"{run}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
