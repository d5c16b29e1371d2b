"""Preference prediction (TALLRec, issue 56) on MovieLens-100K: LM rows at 0/16/64/256/full examples, baselines.

    python benchmarks/preference_prediction.py --rows item-mean mf sasrec lm-zero-shot lm-16 lm-64 lm-256 \\
        --seeds 0 1 2 --threads 1
    python benchmarks/preference_prediction.py --rows lm-full --seeds 0 --full-minutes 30

Protocol (`genrec.data.ratings`): the 100,000 ratings split by global time 8:1:1; an example is a rating
(u, i, t) with the user's 10 most recent ratings strictly before t (liked = rating >= 4) and label
rating >= 4; ratings with no earlier rating are dropped (counted). LM rows train on ``budget`` examples
drawn from the training part with the run's seed (``lm-full``: all of them, in the time ``--full-minutes``
allows; the row records how many it saw, and never calls a cut run complete). The checkpoint (epoch) is
chosen by AUC on a fixed sample of ``--valid-n`` validation examples; test AUC is computed once, on a fixed
sample of ``--test-n`` test examples shared by every row (sampled with seed 0 of the protocol, not the
run's seed). Baselines also report AUC on the whole validation and test parts. Rows are merged into
``results/preference_prediction.json`` by row and seed (a seed already there is kept unless ``--redo``),
under a file lock, so rows and seeds can run in separate processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data.ratings import (
    PreferenceData,
    PreferenceExample,
    Ratings,
    load_movielens_ratings,
    preference_examples,
    sample_examples,
    time_split,
)
from genrec.recommenders.preference_prediction import PreferenceConfig, PreferencePredictor, auc
from genrec.recommenders.rating_baselines import BiasedMF, ItemMeanRating, SASRecTargetScore, catalogue_titles
from locked_results import locked_results
from measured_at import current_commit
from seed_stats import format_mean_std, mean_and_std

RESULTS = Path(__file__).parent / "results"
RESULT_NAME = "preference_prediction.json"
PROTOCOL_SEED = 0

#: Options shared by every LM row: SmolLM2-135M-Instruct cut to 4 layers, LoRA on every projection,
#: the short TALLRec-style prompt (about 120 tokens: the CPU cost is linear in prompt length).
LM_COMMON: dict[str, Any] = {"keep_layers": 4, "prompt": "tallrec-plain", "fine_tune": "lora", "lr": 1e-3}

#: Row -> (training examples: 0 zero-shot, -1 the whole training part; options). Epochs and validation
#: checks per budget keep each run to a few CPU minutes; the best checked epoch is kept.
LM_ROWS: dict[str, tuple[int, dict[str, Any]]] = {
    "lm-zero-shot": (0, {"fine_tune": "none"}),
    "lm-16": (16, {"epochs": 10, "valid_every": 5}),
    "lm-64": (64, {"epochs": 4, "valid_every": 2}),
    "lm-256": (256, {"epochs": 2, "valid_every": 1}),
    "lm-full": (-1, {"epochs": 1, "valid_every_steps": 250}),
}
BASELINES = ("item-mean", "mf", "sasrec")
MF_WEIGHT_DECAYS = (0.02, 0.05, 0.1, 0.2)  # chosen on validation AUC (whole validation part)
SASREC_OPTIONS: dict[str, Any] = {"epochs": 20, "patience": 5}


def load_protocol(valid_n: int, test_n: int) -> tuple[Ratings, np.ndarray, PreferenceData, dict[str, Any]]:
    """Ratings, the part of each, the examples, and the protocol record (sizes, label rates, samples)."""
    ratings = load_movielens_ratings()
    part = time_split(ratings)
    data = preference_examples(ratings, part)
    protocol = {
        "dataset": "ml-100k",
        "split": "global time 8:1:1 over ratings",
        "history": 10,
        "like": "rating >= 4",
        "examples": data.sizes(),
        "dropped_no_history": data.dropped,
        "positive_rate": {
            n: float(np.mean([e.label for e in data.part(n)])) for n in ("train", "valid", "test")
        },
        "valid_sample": min(valid_n, len(data.valid)) if valid_n else len(data.valid),
        "test_sample": min(test_n, len(data.test)) if test_n else len(data.test),
        "time_bounds": {
            name: [int(ratings.timestamp[part == k].min()), int(ratings.timestamp[part == k].max())]
            for k, name in enumerate(("train", "valid", "test"))
        },
    }
    return ratings, part, data, protocol


def labels(examples: list[PreferenceExample]) -> list[int]:
    return [e.label for e in examples]


def run_baseline(
    row: str, seed: int, ratings: Ratings, part: np.ndarray, data: PreferenceData, samples: dict[str, Any]
) -> dict[str, Any]:
    """One baseline fitted on the training ratings; AUC on the samples and the whole parts."""
    train_mask = part == 0
    start = time.perf_counter()
    model: Any
    if row == "item-mean":
        model = ItemMeanRating()
        log = model.fit(ratings, train_mask)
    elif row == "mf":
        best: tuple[float, Any, Any] = (-1.0, None, None)
        for decay in MF_WEIGHT_DECAYS:
            candidate = BiasedMF(weight_decay=decay, seed=seed, epochs=20, lr=0.005)
            fit_log = candidate.fit(ratings, train_mask, data.valid)
            score = max(h["valid_auc"] for h in fit_log["history"])
            if score > best[0]:
                best = (score, candidate, {**fit_log, "weight_decay": decay})
        model, log = best[1], best[2]
        log["history"] = [{k: round(v, 5) for k, v in h.items()} for h in log["history"]]
    elif row == "sasrec":
        model = SASRecTargetScore(seed, SASREC_OPTIONS)
        log = model.fit(ratings, train_mask, sample_examples(data.valid, 2000, PROTOCOL_SEED))
    else:
        raise SystemExit(f"unknown baseline {row!r}")
    train_s = time.perf_counter() - start
    t0 = time.perf_counter()
    test_scores = model.predict(samples["test"])
    ms = (time.perf_counter() - t0) * 1000 / max(len(samples["test"]), 1)
    return {
        "valid_auc": auc(labels(samples["valid"]), model.predict(samples["valid"])),
        "test_auc": auc(labels(samples["test"]), test_scores),
        "valid_auc_all": auc(labels(data.valid), model.predict(data.valid)),
        "test_auc_all": auc(labels(data.test), model.predict(data.test)),
        "train_examples": int(train_mask.sum()),
        "train_s": train_s,
        "ms_per_example": ms,
        "log": log,
    }


def run_lm(
    row: str,
    seed: int,
    data: PreferenceData,
    titles: list[str],
    samples: dict[str, Any],
    full_minutes: float,
    threads: int,
) -> dict[str, Any]:
    """One LM row: fine-tune on the row's budget, checkpoint by validation AUC, then test once."""
    budget, options = LM_ROWS[row]
    values = {**LM_COMMON, **options, "seed": seed, "num_threads": threads}
    if budget < 0:
        values["max_train_seconds"] = full_minutes * 60.0
    predictor = PreferencePredictor(PreferenceConfig(**values))
    train = data.train if budget < 0 else sample_examples(data.train, budget, seed) if budget else []
    start = time.perf_counter()
    log = predictor.fit(train, titles, samples["valid"])
    train_s = time.perf_counter() - start
    valid_auc = log.get("best_valid_auc")
    if valid_auc is None:
        valid_auc = auc(labels(samples["valid"]), predictor.predict(samples["valid"]))
    t0 = time.perf_counter()
    test_scores = predictor.predict(samples["test"])
    ms = (time.perf_counter() - t0) * 1000 / max(len(samples["test"]), 1)
    run: dict[str, Any] = {
        "valid_auc": valid_auc,
        "test_auc": auc(labels(samples["test"]), test_scores),
        "train_examples": len(train),
        "train_s": train_s,
        "ms_per_example": ms,
        "config": predictor.config.to_dict(),
        "log": log,
    }
    if budget < 0:
        seen = int(log.get("examples_seen", 0))
        fit_s = float(log.get("train_s", train_s))
        per_hour = seen / fit_s * 3600 if fit_s else 0.0
        run["examples_per_hour"] = per_hour
        run["full_epoch_hours_estimate"] = len(train) / per_hour if per_hour else None
        run["complete"] = log.get("stopped") == "epochs"
    return run


def summarise(runs: dict[str, Any]) -> dict[str, Any]:
    seeds = sorted(runs, key=int)
    out: dict[str, Any] = {"seeds": [int(s) for s in seeds]}
    for key in ("valid_auc", "test_auc", "valid_auc_all", "test_auc_all", "train_s", "ms_per_example"):
        values = [runs[s][key] for s in seeds if runs[s].get(key) is not None]
        if values:
            mean, std = mean_and_std(values)
            out[key] = {"mean": mean, "std": std}
    out["train_examples"] = runs[seeds[0]]["train_examples"]
    return out


def markdown(results: dict[str, Any]) -> str:
    p = results.get("protocol", {})
    lines = [
        "# Preference prediction (TALLRec protocol) on MovieLens-100K",
        "",
        f"Command: `{results.get('command', '')}`",
        "",
        f"Split: {p.get('split')}; history {p.get('history')} ratings; like = {p.get('like')}. "
        f"Examples {p.get('examples')}, dropped for no earlier rating {p.get('dropped_no_history')}. "
        f"AUC on a fixed sample of {p.get('valid_sample')} validation and {p.get('test_sample')} test examples; "
        'baselines also on the whole parts ("all"). Mean ± sample std over seeds.',
        "",
        "| row | trained on (ratings; LM: examples) | seeds | valid AUC | test AUC | test AUC (all) | train s "
        "| ms/example |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = [*BASELINES, *LM_ROWS]
    for row in sorted(results.get("summary", {}), key=lambda r: order.index(r) if r in order else 99):
        s = results["summary"][row]

        def cell(key: str, fmt: str = "{:.4f}", s: dict[str, Any] = s) -> str:
            v = s.get(key)
            return format_mean_std(v["mean"], v["std"], fmt) if v else "–"

        lines.append(
            f"| {row} | {s['train_examples']} | {len(s['seeds'])} | {cell('valid_auc')} | {cell('test_auc')} | "
            f"{cell('test_auc_all')} | {cell('train_s', '{:.0f}')} | {cell('ms_per_example', '{:.2f}')} |"
        )
    full = results.get("runs", {}).get("lm-full", {})
    for seed, run in sorted(full.items()):
        lines += [
            "",
            f"lm-full seed {seed}: saw {run['log'].get('examples_seen')} of {run['train_examples']} training "
            f"examples in {run['train_s']:.0f} s ({run['examples_per_hour']:.0f} examples/hour on "
            f"{run['config']['num_threads']} thread(s)); one full epoch would take about "
            f"{run['full_epoch_hours_estimate']:.1f} h; complete: {run['complete']}.",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def locked(path: Path) -> Iterator[dict[str, Any]]:
    """The results file under an exclusive lock, written back atomically with its Markdown."""
    with locked_results(path, {"runs": {}}, markdown, _summarise_rows) as results:
        yield results


def _summarise_rows(results: dict[str, Any]) -> None:
    """Per row: the seed summary of its runs (stored beside them)."""
    results["summary"] = {row: summarise(runs) for row, runs in results.get("runs", {}).items() if runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", nargs="+", default=[*BASELINES, "lm-zero-shot", "lm-16", "lm-64", "lm-256"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--valid-n", type=int, default=300)
    parser.add_argument("--test-n", type=int, default=1000)
    parser.add_argument("--full-minutes", type=float, default=30.0)
    parser.add_argument("--redo", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"results file (default results/{RESULT_NAME})"
    )
    args = parser.parse_args(argv)
    unknown = [r for r in args.rows if r not in BASELINES and r not in LM_ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {[*BASELINES, *LM_ROWS]}")
    torch.set_num_threads(args.threads)
    command = "python benchmarks/preference_prediction.py " + " ".join(sys.argv[1:] if argv is None else argv)
    ratings, part, data, protocol = load_protocol(args.valid_n, args.test_n)
    samples = {
        "valid": sample_examples(data.valid, args.valid_n, PROTOCOL_SEED),
        "test": sample_examples(data.test, args.test_n, PROTOCOL_SEED),
    }
    titles = catalogue_titles(ratings.catalogue)
    path = args.out or RESULTS / RESULT_NAME
    for row in args.rows:
        for seed in args.seeds:
            with locked(path) as results:
                done = str(seed) in results.get("runs", {}).get(row, {})
            if done and not args.redo:
                print(f"{row} seed {seed}: kept (use --redo to rerun)", flush=True)
                continue
            if row in BASELINES:
                run = run_baseline(row, seed, ratings, part, data, samples)
            else:
                run = run_lm(row, seed, data, titles, samples, args.full_minutes, args.threads)
            run.update(
                seed=seed,
                commit=current_commit(),
                command=command,
                finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            with locked(path) as results:
                if results.get("protocol", protocol) != protocol:
                    raise SystemExit(f"{path}: stored protocol differs from this run's; use another file")
                results["protocol"] = protocol
                results["command"] = (
                    "python benchmarks/preference_prediction.py --rows ... --seeds ... (per run: runs.ROW.SEED.command)"
                )
                results.setdefault("runs", {}).setdefault(row, {})[str(seed)] = run
            print(
                f"{row} seed {seed}: valid AUC {run['valid_auc']:.4f} test AUC {run['test_auc']:.4f} ({run['train_s']:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
