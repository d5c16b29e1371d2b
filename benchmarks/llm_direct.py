"""The language model used directly (issue 54): LM-enhanced SASRec rows beside plain SASRec-CE.

    python benchmarks/llm_direct.py --datasets office scientific ml-100k \\
        --rows sasrec-ce sasrec-text-minilm sasrec-text-smollm2 --seeds 0 1 2 --threads 1
    python benchmarks/llm_direct.py --screen --datasets office --rows sasrec-text-minilm-only --seeds 0

Every run trains on the leave-one-out training part, early-stops on validation NDCG@10 and records the
validation figures (full ranking, history excluded). ``--screen`` stops there: screens go to
``results/llm_direct_screens.json`` and never touch test users; rows are chosen from them and run
without ``--screen``, which adds the test figures, once per chosen row. Test figures are given for all
users and for two groups by target item: "head-target" (the target is among the 20% most frequent
training items) and "tail-target" (every other target). Each row records training time, ms per test
user (ranking only), seed and commit; per-user test values go to ``results/llm_direct/per_user/`` and
every row is compared with SASRec-CE on them (`genrec compare`, pooled over the seeds both have).

``--zero-shot`` runs the untrained LM instead (`zero_shot_rows.py`): on ``--users`` test users sampled
with each seed, the candidate protocol (target + 19 sampled items, ranked by title likelihood, beside
popularity and random) and full ranking under the title trie (beside popularity), with 0 and 3
in-context examples; kept under ``zero_shot`` in the same file:

    python benchmarks/llm_direct.py --zero-shot --datasets ml-100k office scientific --users 100 --seeds 0

Re-ranker rows (``reranker-*``) also record their own retriever's figures on the same users, the paired
comparison with it and the ms/user the LM adds. Two processes may write the file at once (one per core).

Writes ``results/llm_direct.json`` and ``results/llm_direct.md`` (rows merged by dataset, row and seed,
so datasets and rows can be run separately; a seed already present is kept unless ``--redo``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import zero_shot_rows
from genrec.data import DATASETS, LeaveOneOutSplit, leave_one_out, load_dataset
from genrec.evaluation.compare import compare_runs
from genrec.evaluation.evaluator import evaluate
from genrec.evaluation.groups import evaluate_groups
from genrec.recommenders.registry import build_recommender
from genrec.workflows.evaluate import train_item_counts
from llm_direct_report import BASELINE, GROUPS, HEAD_SHARE, markdown
from locked_results import locked_results
from measured_at import current_commit
from seed_stats import mean_and_std

RESULTS = Path(__file__).parent / "results"
PER_USER = RESULTS / "llm_direct" / "per_user"
METRICS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")

#: The fine-tuned re-ranker's options (see the row comments below).
RERANKER_L4: dict[str, Any] = {
    "fine_tune": "full",
    "keep_layers": 4,
    "history_items": 5,
    "max_title_chars": 40,
    "candidate_rounds": 1,
    "targets_per_round": 4,
    "max_train_examples": 600,
    "epochs": 2,
    "lr": 1e-4,
    "max_valid_users": 300,
}

#: Row name -> (registered recommender, options). Text rows differ only in the frozen text view.
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "sasrec-ce": ("sasrec", {"loss": "ce"}),
    "sasrec-text-minilm": ("sasrec-text", {"loss": "ce", "fusion": "sum", "text_encoder": "minilm"}),
    "sasrec-text-smollm2": ("sasrec-text", {"loss": "ce", "fusion": "sum", "text_encoder": "smollm2"}),
    "sasrec-text-minilm-only": (
        "sasrec-text",
        {"loss": "ce", "fusion": "text-only", "text_encoder": "minilm"},
    ),
    # The re-ranker over SASRec-CE (same seed). Short prompts (5 history titles, titles cut at 40
    # characters) and SmolLM2 cut to its first 4 layers, fully fine-tuned: chosen for the latency bound
    # (150 ms/user added on 2 cores), not screened; the full 30-layer LM costs about 1.8 s/user here.
    "reranker-ft-l4": ("reranker", RERANKER_L4),
    # The same, with the retriever's log-probabilities as a prior the LM learns to correct; the LM's
    # weight beside it is chosen on validation (0 = the retriever's own order).
    "reranker-ft-l4-prior": ("reranker", {**RERANKER_L4, "retriever_prior": True}),
    # The lever docs/llm-direct.md names first: four times the leak-free examples (two retriever rounds of
    # four held-out targets per user), the rest unchanged; a validation screen before any test row.
    "reranker-ft-l4-prior-2400": (
        "reranker",
        {**RERANKER_L4, "retriever_prior": True, "candidate_rounds": 2, "max_train_examples": 2400},
    ),
    "reranker-zeroshot": ("reranker", {"fine_tune": "none", "history_items": 5, "max_title_chars": 40}),
}


def head_items(split: LeaveOneOutSplit) -> np.ndarray:
    """Indices of the ``HEAD_SHARE`` most frequent training items (ties: lower index first)."""
    train = split.train_data()
    counts = train_item_counts(train.sequences, train.num_items)
    order = np.lexsort((np.arange(len(counts)), -counts))
    return np.sort(order[: round(HEAD_SHARE * len(counts))])


def run_one(
    split: LeaveOneOutSplit, row: str, seed: int, threads: int, screen: bool, stem: str
) -> dict[str, Any]:
    """Train one row x seed; validation figures always, test figures (and per-user values) unless screening."""
    name, options = ROWS[row]
    options = {**options, "num_threads": threads}
    if name == "reranker":  # its retriever is the baseline row, same seed and threads
        options.setdefault("retriever_options", {**ROWS[BASELINE][1], "num_threads": threads})
    rec = build_recommender(name, options, seed=seed)
    train = split.train_data()
    start = time.perf_counter()
    rec.fit(train, split.valid_set())
    train_s = time.perf_counter() - start
    counts = train_item_counts(train.sequences, train.num_items)
    valid = evaluate(rec, split.valid_set(), k_max=20, num_items=train.num_items, item_counts=counts)
    log = {k: v for k, v in getattr(rec, "training_log", {}).items() if k != "history"}
    run: dict[str, Any] = {
        "seed": seed,
        "threads": threads,
        "commit": current_commit(),
        "train_s": train_s,
        "training": log,
        "valid": {k: valid.metrics[k] for k in METRICS},
    }
    retriever = getattr(rec, "retriever", None)  # a re-ranker is also measured against its own retriever
    if retriever is not None:
        mine = evaluate(retriever, split.valid_set(), k_max=20, num_items=train.num_items, item_counts=counts)
        run["retriever"] = {"valid": {k: mine.metrics[k] for k in METRICS}}
    if screen:
        return run
    run.update(test_figures(rec, split, counts, f"{stem}-seed{seed}"))
    if retriever is not None:
        run["retriever"].update(test_figures(retriever, split, counts, f"{stem}-retriever-seed{seed}"))
        run["ms_per_user_added"] = run["ms_per_user"] - run["retriever"]["ms_per_user"]
    return run


def test_figures(rec: Any, split: LeaveOneOutSplit, counts: np.ndarray, stem: str) -> dict[str, Any]:
    """Test metrics for all users and the head/tail-target groups, ms/user, and the per-user file."""
    train, test_set = split.train_data(), split.test_set()
    is_head = np.isin(np.asarray(test_set.targets), head_items(split))
    groups = {"head-target": np.flatnonzero(is_head), "tail-target": np.flatnonzero(~is_head)}
    start = time.perf_counter()
    report = evaluate_groups(rec, test_set, groups, num_items=train.num_items, item_counts=counts)
    out: dict[str, Any] = {"ms_per_user": 1000 * (time.perf_counter() - start) / len(test_set)}
    out["test"] = {
        group: {k: values[k] for k in (*METRICS, "users") if k in values}
        for group, values in report.metrics.items()
    }
    out["test"]["all"].update({k: report.metrics["all"][k] for k in ("coverage@10", "gini@10")})
    PER_USER.mkdir(parents=True, exist_ok=True)
    per_user = PER_USER / f"{stem}.parquet"
    frame = report.result.per_user()
    frame["group"] = np.where(is_head, "head-target", "tail-target")
    frame[["user", "group", "rank", "hr@10", "ndcg@10", "hr@20", "ndcg@20"]].to_parquet(per_user, index=False)
    out["per_user"] = str(per_user.relative_to(RESULTS))
    return out


def summarise(runs: list[dict[str, Any]], stage: str) -> dict[str, Any]:
    """Mean and sample std over seeds of every (group, metric), plus training time and ms/user.

    A metric is summarised only where every seed has it (runs recorded before hr@5/ndcg@5 were added
    lack them; the per-user files hold the ranks they come from).
    """
    out: dict[str, Any] = {"seeds": [r["seed"] for r in runs]}
    shared = [k for k in METRICS if all(k in r["valid"] for r in runs)]
    out["valid"] = {k: list(mean_and_std(r["valid"][k] for r in runs)) for k in shared}
    if stage != "valid":
        out["test"] = {
            g: {
                k: list(mean_and_std(r["test"][g][k] for r in runs))
                for k in METRICS
                if all(k in r["test"][g] for r in runs)
            }
            for g in GROUPS
        }
        out["ms_per_user"] = list(mean_and_std(r["ms_per_user"] for r in runs))
    out["train_s"] = list(mean_and_std(r["train_s"] for r in runs))
    return out


def against_baseline(rows: dict[str, Any], row: str) -> dict[str, Any] | None:
    """Paired comparison (pooled over shared seeds) of ``row`` against SASRec-CE on test NDCG@10, all users."""
    if row == BASELINE or BASELINE not in rows:
        return None
    base = {r["seed"]: r for r in rows[BASELINE]["runs"]}
    pairs = [(base[r["seed"]], r) for r in rows[row]["runs"] if r["seed"] in base]
    if not pairs:
        return None
    result = compare_runs(
        [RESULTS / a["per_user"] for a, _ in pairs], [RESULTS / b["per_user"] for _, b in pairs]
    )
    verdict = "beats" if result.ci_low > 0 else "loses to" if result.ci_high < 0 else "level with"
    return {**result.to_dict(), "verdict": verdict, "relative": result.mean_difference / result.mean_a}


def against_retriever(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Paired comparison (pooled over seeds) of a re-ranker with its own retriever on test NDCG@10."""
    pairs = [r for r in runs if "retriever" in r and "per_user" in r["retriever"]]
    if not pairs:
        return None
    result = compare_runs(
        [RESULTS / r["retriever"]["per_user"] for r in pairs], [RESULTS / r["per_user"] for r in pairs]
    )
    verdict = "beats" if result.ci_low > 0 else "loses to" if result.ci_high < 0 else "level with"
    added = [r["ms_per_user_added"] for r in pairs]
    return {
        **result.to_dict(),
        "verdict": verdict,
        "relative": result.mean_difference / result.mean_a,
        "ms_per_user_added": list(mean_and_std(added)),
    }


def invocation() -> str:
    """This process's command line, the script named from the repository root."""
    script = Path(sys.argv[0]).resolve()
    name = (
        script.relative_to(RESULTS.parent.parent) if script.is_relative_to(RESULTS.parent.parent) else script
    )
    return " ".join(["python", name.as_posix(), *sys.argv[1:]])


@contextmanager
def locked(path: Path) -> Iterator[dict[str, Any]]:
    """The results file, read under an exclusive lock and written back atomically (JSON and Markdown).

    Two benchmark processes (one per core) may add rows to the same file: each seed is merged into
    what is on disk at that moment, so neither overwrites the other's rows.
    """
    screens = path.stem.endswith("screens")
    with locked_results(path, {"command": "", "datasets": {}}, lambda r: markdown(r, screens)) as results:
        yield results


def run_zero_shot(args: argparse.Namespace) -> None:
    """Zero-shot rows (`zero_shot_rows.run`) per dataset and seed, kept under ``zero_shot`` in llm_direct.json."""
    path = RESULTS / "llm_direct.json"
    command = invocation()
    for ds in args.datasets:
        for seed in args.seeds:
            with locked(path) as results:
                done = results.get("zero_shot", {}).get(ds, {}).get(str(seed))
            if done and not args.redo:
                print(f"{ds} zero-shot seed {seed}: kept")
                continue
            out = zero_shot_rows.run(ds, args.users, seed, args.threads, "smollm2", args.examples)
            out.update(commit=current_commit(), command=command)
            with locked(path) as results:
                results.setdefault("zero_shot", {}).setdefault(ds, {})[str(seed)] = out
            print(f"{ds} zero-shot seed {seed}: {json.dumps(out['candidate_protocol'])}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", nargs="+", default=["office", "scientific", "ml-100k"], choices=sorted(DATASETS)
    )
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--screen", action="store_true", help="validation only (no test users); see the docstring"
    )
    parser.add_argument("--redo", action="store_true", help="run seeds already in the results again")
    parser.add_argument(
        "--zero-shot",
        action="store_true",
        help="the untrained LM under both protocols on --users sampled test users (module docstring)",
    )
    parser.add_argument("--users", type=int, default=100, help="--zero-shot: test users sampled per seed")
    parser.add_argument(
        "--examples", nargs="+", type=int, default=[0, 3], help="--zero-shot: in-context counts"
    )
    parser.add_argument("--render", action="store_true", help="only rewrite the Markdown from the JSON")
    args = parser.parse_args(argv)
    if args.render:
        for name in ("llm_direct.json", "llm_direct_screens.json"):
            if (RESULTS / name).is_file():
                with locked(RESULTS / name):
                    pass  # read and written back: the Markdown follows the JSON
        return
    if args.zero_shot:
        run_zero_shot(args)
        return
    path = RESULTS / ("llm_direct_screens.json" if args.screen else "llm_direct.json")
    command = invocation()
    for ds in args.datasets:
        split = leave_one_out(load_dataset(ds))
        for row in args.rows:
            for seed in args.seeds:
                with locked(path) as results:
                    runs = results["datasets"].get(ds, {}).get(row, {}).get("runs", [])
                if not args.redo and any(r["seed"] == seed for r in runs):
                    print(f"{ds} {row} seed {seed}: kept")
                    continue
                run = run_one(split, row, seed, args.threads, args.screen, f"{ds}-{row}")
                with locked(path) as results:  # merged into what is on disk now (module docstring)
                    commands = filter(None, [*results["command"].split(" && "), command])
                    results["command"] = " && ".join(dict.fromkeys(commands))
                    rows = results["datasets"].setdefault(ds, {})
                    entry = rows.setdefault(row, {"runs": []})
                    entry["runs"] = sorted(
                        [r for r in entry["runs"] if r["seed"] != seed] + [run], key=lambda r: r["seed"]
                    )
                    entry["summary"] = summarise(entry["runs"], "valid" if args.screen else "test")
                    if not args.screen:
                        for name in rows:
                            rows[name]["vs_baseline"] = against_baseline(rows, name)
                            if ROWS[name][0] == "reranker":
                                rows[name]["vs_retriever"] = against_retriever(rows[name]["runs"])
                figures = run["valid"] if args.screen else run["test"]["all"]
                print(
                    f"{ds} {row} seed {seed}: valid NDCG@10 {run['valid']['ndcg@10']:.4f}; {figures}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
