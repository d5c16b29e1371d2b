"""Benchmark the item tokenizers on office and scientific: collisions, codebook use, fit time.

One command (from the repository root, with ../shared/data present):

    python benchmarks/identifiers.py [--datasets office scientific] [--seed 0]

Writes benchmarks/results/identifiers.json and benchmarks/results/identifiers.md, plus each run's output
directory (identifiers, stats) under benchmarks/results/identifiers/<dataset>/<tokenizer>/.
Item-text embeddings come from the on-disk cache when present; the first run embeds every item with
all-MiniLM-L6-v2 (minutes on a CPU) and reports that time as ``embed_s``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.workflows.tokenize import tokenize_command

RESULTS = Path(__file__).resolve().parent / "results"
#: (label, tokenizer, options) per run; prebuilt variants are skipped where the file does not exist.
RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("prebuilt rqvae", "prebuilt:rqvae", {}),
    ("prebuilt letter", "prebuilt:letter", {}),
    ("prebuilt rq-kmeans", "prebuilt:rq-kmeans", {}),
    ("residual_kmeans", "residual_kmeans", {}),
    ("collaborative", "collaborative", {}),
    ("rqvae", "rqvae", {}),
]
PREBUILT = {"office": {"prebuilt:rq-kmeans"}, "scientific": {"prebuilt:rqvae", "prebuilt:letter"}}


def _row(dataset: str, label: str, stats: dict[str, Any]) -> str:
    levels = stats.get("levels", [])
    util = " / ".join(
        f"{lv['utilisation']:.2f}" if "utilisation" in lv else str(lv["codes_used"]) for lv in levels
    )
    raw = stats.get("collision_rate_nearest_codes")
    timings = stats.get("timings", {})
    return (
        f"| {dataset} | {label} | {stats['items']} | {stats.get('prefix_levels', '-')} "
        f"| {stats.get('collision_rate', float('nan')):.4f} "
        f"| {'-' if raw is None else f'{raw:.4f}'} "
        f"| {stats.get('index_file_collision_rate', float('nan')):.4f} "
        f"| {stats['unique_rate']:.4f} | {stats.get('max_items_per_prefix', '-')} | {util} "
        f"| {stats['fit_seconds']:.1f} | {timings.get('embed_s', float('nan')):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["office", "scientific"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="labels of RUNS to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: list[dict[str, Any]] = []
    for dataset in args.datasets:
        for label, tokenizer, options in RUNS:
            if args.only and label not in args.only:
                continue
            if tokenizer.startswith("prebuilt") and tokenizer not in PREBUILT.get(dataset, set()):
                continue
            out = (
                RESULTS / "identifiers" / dataset / label.replace(" ", "_").replace("(", "").replace(")", "")
            )
            start = time.perf_counter()
            stats = tokenize_command(dataset, tokenizer, out, seed=args.seed, data_dir=None, options=options)
            print(
                f"{dataset} {label}: collision {stats.get('collision_rate')} in {time.perf_counter() - start:.1f}s",
                flush=True,
            )
            results.append({"dataset": dataset, "label": label, "options": options, "stats": stats})
    meta = {
        "seed": args.seed,
        "torch_threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": __import__("os").cpu_count(),
    }
    write_json_atomic(RESULTS / "identifiers.json", {"meta": meta, "results": results})
    lines = [
        "# Item tokenizers: collisions, codebook utilisation, fit time",
        "",
        f"Command: `python benchmarks/identifiers.py --seed {args.seed}`; {meta['cpu_count']} CPU cores, "
        f"torch threads {args.threads}. `collision` = 1 - distinct codes / items over the levels before the "
        "collision-breaking level (after last-level spreading for semantic runs); `nearest` = the same for "
        "plain nearest-code assignment; `file` = collisions of the prebuilt file's own codes. Utilisation "
        "per level = share of codebook entries used. `fit s` includes `embed s` (cached embeddings load in "
        "about a second; a cold cache embeds every item first).",
        "",
        "| dataset | tokenizer | items | levels | collision | nearest | file | unique | max/prefix "
        "| utilisation per level | fit s | embed s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r["dataset"], r["label"], r["stats"]) for r in results]
    write_text_atomic(RESULTS / "identifiers.md", "\n".join(lines) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
