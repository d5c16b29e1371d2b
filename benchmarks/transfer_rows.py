"""Zero-shot transfer rows for the cold-start benchmark (issue 53): train on one catalogue, recommend in another.

`transfer_run` trains the text-only SASRec (`sasrec-text`, ``fusion=text-only``: item vectors are a function
of text alone) on the SOURCE dataset's leave-one-out training part, early-stopped on the source's
validation users, then moves it to the TARGET catalogue (`TextSASRecRecommender.transfer_to`: the target's
items are embedded and go through the same adapter and transformer) and scores the target's validation and
test users: full ranking, history excluded. Nothing of the target's interactions is used.

`moved_run` is the same row for a generative model of the cold-start benchmark (`grown_catalogue.py`): the
model of a seed's cold-start run, fitted on the source's new-item split, gets the target's items through
the catalogue-update path and is scored on the target's users.

`reference_runs` gives the rows beside it on the same target users: `content` (MiniLM text of the user's
recent items; it learns nothing from interactions, so it uses no target data either) and `popularity`
computed on the target's training part (it *uses target data*, and is labelled so).

`run_pairs` is ``coldstart.py --transfer``: the `sasrec-text` rows per SOURCE:TARGET pair and seed, merged
into ``coldstart.{json,md}`` after each.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coldstart_report import markdown
from coldstart_store import STEM, load_results
from genrec.data import DATASETS, InteractionData, LeaveOneOutSplit, leave_one_out, load_dataset
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.base import Recommender
from genrec.recommenders.registry import build_recommender
from genrec.recommenders.text_sasrec import TextSASRecRecommender
from genrec.workflows.evaluate import train_item_counts
from measured_at import current_commit

METRICS = ("hr@10", "ndcg@10")
TEXT_ONLY = {"loss": "ce", "fusion": "text-only"}


def scored(model: Recommender, target: LeaveOneOutSplit, per_user: Path | None) -> dict[str, Any]:
    """Validation and test HR@10 / NDCG@10 of ``model`` on the target split, and test ms/user."""
    train = target.train_data()
    counts = train_item_counts(train.sequences, train.num_items)
    out: dict[str, Any] = {}
    for stage, users in (("valid", target.valid_set()), ("test", target.test_set())):
        result = evaluate(model, users, k_max=20, num_items=train.num_items, item_counts=counts)
        out[stage] = {k: result.metrics[k] for k in METRICS}
        if stage == "test":
            out["ms_per_user"] = result.metrics["ms_per_user"]
            if per_user is not None:
                per_user.parent.mkdir(parents=True, exist_ok=True)
                result.save_per_user(per_user)
                out["per_user"] = per_user.name
    return out


def transfer_run(
    source: str, target: str, seed: int, threads: int, per_user: Path | None = None
) -> dict[str, Any]:
    """Train the text-only SASRec on ``source``, score it on ``target`` without training there."""
    source_split = leave_one_out(load_dataset(source))
    target_split = leave_one_out(load_dataset(target))
    rec = build_recommender("sasrec-text", {**TEXT_ONLY, "num_threads": threads}, seed=seed)
    assert isinstance(rec, TextSASRecRecommender)
    start = time.perf_counter()
    rec.fit(source_split.train_data(), source_split.valid_set())
    train_s = time.perf_counter() - start
    moved = rec.transfer_to(target_split.train_data().catalogue)
    return {
        "seed": seed,
        "threads": threads,
        "train_s": train_s,
        "source_valid_ndcg@10": rec.training_log.get("best_valid_ndcg@10"),
        **scored(moved, target_split, per_user),
    }


def reference_runs(target: str, threads: int, per_user_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """`content` (no target data) and `popularity` (target training part) on the target's users."""
    split = leave_one_out(load_dataset(target))
    rows: dict[str, dict[str, Any]] = {}
    for name, options, uses_target in (("content", {}, False), ("popularity", {}, True)):
        model = build_recommender(name, options, seed=0)
        start = time.perf_counter()
        model.fit(split.train_data(), split.valid_set())
        path = None if per_user_dir is None else per_user_dir / f"{target}-{name}.parquet"
        rows[name] = {
            "uses_target_data": uses_target,
            "train_s": time.perf_counter() - start,
            "threads": threads,
            **scored(model, split, path),
        }
    return rows


def moved_run(
    model: Any, source_run: Mapping[str, Any], target: InteractionData, path: Path
) -> dict[str, Any]:
    """A model fitted on a source's new-item split (``source_run``: its cold-start run) moved to
    ``target``'s catalogue (``model.transfer_to``), scored on the target's users."""
    split = leave_one_out(target)
    moved = model.transfer_to(split.train_data().catalogue)
    return {
        "seed": source_run["seed"],
        "train_s": source_run["train_wall_time_s"],
        "source_valid_ndcg@10": source_run["valid"]["all"]["ndcg@10"],
        "trained_on": "the source's new-item split training part (the cold-start run of the same seed)",
        **scored(moved, split, path),
    }


def run_pairs(pairs: Sequence[str], seeds: Sequence[int], threads: int, output: Path, command: str) -> None:
    """Transfer rows per SOURCE:TARGET pair and seed, beside the target's references; merged after each."""
    json_path = output / f"{STEM}.json"
    per_user = output / STEM / "transfer"
    for pair in pairs:
        source, _, target = pair.partition(":")
        if source not in DATASETS or target not in DATASETS or source == target:
            raise SystemExit(f"--transfer {pair!r}: expected SOURCE:TARGET, two different datasets")
        references = reference_runs(target, threads, per_user)
        for seed in seeds:
            run = transfer_run(
                source, target, seed, threads, per_user / f"{source}-to-{target}-seed{seed}.parquet"
            )
            run["commit"] = current_commit()
            results = load_results(json_path)
            results["commands"] = list(dict.fromkeys([*results["commands"], command]))
            block = results.setdefault("transfer", {}).setdefault(f"{source}:{target}", {"runs": []})
            block["runs"] = sorted(
                [r for r in block["runs"] if r["seed"] != seed] + [run], key=lambda r: r["seed"]
            )
            block["references"] = references
            write_json_atomic(json_path, results)
            write_text_atomic(json_path.with_suffix(".md"), markdown(results))
            print(
                f"{source} -> {target} seed {seed}: test {run['test']}; references {references}", flush=True
            )
