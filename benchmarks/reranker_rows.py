"""One LM re-ranker row (zero-shot or LoRA fine-tuned) for the LLM-direct benchmark, plus a one-off check.

`run_reranker_row` trains the retriever (SASRec-CE) and, with ``fine_tune``, the LoRA re-ranker over the
bundled SmolLM2-135M-Instruct, then tests both on the same users: the re-ranked list and the retriever's
own list. Protocol (`genrec.recommenders.reranker`): the retriever's top 20 are re-ordered by the LM's
letter logits, its ranks 21.. follow unchanged, so a user whose target was not retrieved keeps the
retriever's rank. ``ms_per_user_added`` is the re-ranked evaluation's wall time per user minus the
retriever's on the same users, same thread count.

    python benchmarks/reranker_rows.py --dataset ml-100k --test-users 200 --threads 1   # zero-shot check

(the command prints the row as JSON; it writes no results file: the lead's benchmark collects rows).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from genrec.data import leave_one_out, load_dataset
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.registry import build_recommender
from genrec.recommenders.reranker import LMReranker
from genrec.workflows.evaluate import train_item_counts

RESULTS = Path(__file__).parent / "results"
REPORTED = ("hr@1", "hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr", "coverage@10")


def run_reranker_row(
    dataset: str,
    seed: int,
    *,
    fine_tune: bool,
    threads: int,
    max_train_examples: int | None,
    test_users: int | None = None,
    overrides: dict[str, Any] | None = None,
    per_user_dir: Path = RESULTS / "per_user",
) -> dict[str, Any]:
    """Train and test one re-ranker; returns test metrics of it and of its retriever on the same users.

    ``test_users`` (None = all) samples that many test users by ``seed`` (a sample: say so when reported).
    ``overrides`` are extra `RerankerConfig` values (e.g. ``{"epochs": 2, "max_valid_users": 300}``).
    Keys: ``test`` and ``retriever_test`` (metrics), ``valid_ndcg@10`` and ``retriever_valid_ndcg@10``,
    ``train_s``, ``ms_per_user_added``, ``per_user`` and ``retriever_per_user`` (Parquet paths, one row per
    test user, for `genrec compare`), ``training`` (the fit log without per-epoch history) and ``config``.
    """
    torch.set_num_threads(threads)
    split = leave_one_out(load_dataset(dataset))
    train, valid = split.train_data(), split.valid_set()
    options: dict[str, Any] = {
        "num_threads": threads,
        "retriever_options": {"loss": "ce", "num_threads": threads},
        "fine_tune": "lora" if fine_tune else "none",
        "max_train_examples": max_train_examples or 0,
        **(overrides or {}),
    }
    rec = build_recommender("reranker", options, seed=seed)
    assert isinstance(rec, LMReranker)
    start = time.perf_counter()
    rec.fit(train, valid)
    train_s = time.perf_counter() - start
    assert rec.retriever is not None

    if fine_tune:
        valid_ndcg = rec.training_log.get("best_valid_ndcg@10")
        retriever_valid = rec.training_log.get("retriever_valid_ndcg@10")
    else:  # zero-shot: nothing was chosen on validation; measure it for the table all the same
        scorer, retriever_valid = rec.validation_scorer(valid)
        valid_ndcg = scorer()

    test = split.test_set()
    if test_users is not None:
        test = test.sample(test_users, seed)
    counts = train_item_counts(train.sequences, train.num_items)
    base = evaluate(rec.retriever, test, k_max=20, num_items=train.num_items, item_counts=counts)
    reranked = evaluate(rec, test, k_max=20, num_items=train.num_items, item_counts=counts)

    tag = f"reranker-{'lora' if fine_tune else 'zeroshot'}_{dataset}_seed{seed}"
    per_user_dir.mkdir(parents=True, exist_ok=True)
    per_user, retriever_per_user = per_user_dir / f"{tag}.parquet", per_user_dir / f"{tag}_retriever.parquet"
    reranked.save_per_user(per_user)
    base.save_per_user(retriever_per_user)
    keep = (*REPORTED, "ms_per_user", "users")
    return {
        "dataset": dataset,
        "seed": seed,
        "fine_tune": fine_tune,
        "threads": threads,
        "test_users": len(test),
        "test_users_sampled": test_users is not None and test_users < len(split.test_set()),
        "test": {k: reranked.metrics[k] for k in keep if k in reranked.metrics},
        "retriever_test": {k: base.metrics[k] for k in keep if k in base.metrics},
        "valid_ndcg@10": valid_ndcg,
        "retriever_valid_ndcg@10": retriever_valid,
        "train_s": train_s,
        "ms_per_user_added": reranked.metrics["ms_per_user"] - base.metrics["ms_per_user"],
        "per_user": str(per_user),
        "retriever_per_user": str(retriever_per_user),
        "training": {k: v for k, v in rec.training_log.items() if k != "history"},
        "config": rec.config.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fine-tune", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-train-examples", type=int, default=None)
    parser.add_argument("--test-users", type=int, default=None, help="a seeded sample of test users")
    parser.add_argument("--per-user-dir", type=Path, default=RESULTS / "per_user")
    args = parser.parse_args(argv)
    row = run_reranker_row(
        args.dataset,
        args.seed,
        fine_tune=args.fine_tune,
        threads=args.threads,
        max_train_examples=args.max_train_examples,
        test_users=args.test_users,
        per_user_dir=args.per_user_dir,
    )
    print(json.dumps(row, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
