"""Zero-shot / in-context LM rows for the LLM-direct benchmark, under both protocols of the literature.

**Candidate protocol** (`candidate_lists`, `candidate_protocol_row`): each sampled test user gets 20
candidates, the target plus 19 items drawn uniformly (seeded) from the items outside the user's history,
in a seeded shuffled order. A scorer ranks the 20; ties are broken pessimistically (the target ranks below
every candidate with an equal score). References beside the LM: popularity (training interaction counts)
and random, both as its analytic expectation (the target's position is uniform over 20 places) and as a
seeded random draw.

**Full ranking** (`full_ranking_row`): the LM writes titles under the title trie over the whole catalogue,
history excluded inside the search, on the same sampled users; `genrec.evaluation.evaluator.evaluate`
gives HR@10 / NDCG@10 and ms/user, with 0 and 3 in-context examples by default.

    python benchmarks/zero_shot_rows.py --dataset ml-100k --users 50 --threads 1

prints the rows as JSON (no results file: the lead's `benchmarks/llm_direct.py` collects rows). The LM
is never trained; ``fit_s`` is the time to load it, record titles and build the trie.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from genrec.data import LeaveOneOutSplit, leave_one_out, load_dataset
from genrec.data.split import EvalSet
from genrec.evaluation.evaluator import evaluate
from genrec.evaluation.metrics import hit_rate_at_k, ndcg_at_k
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.zero_shot import ZeroShotLMRecommender
from genrec.recommenders.zero_shot_prompts import ZeroShotConfig
from genrec.workflows.evaluate import train_item_counts

CANDIDATES = 20
CANDIDATE_METRICS = ("ndcg@10", "hr@1", "hr@5", "hr@10")
FULL_METRICS = ("hr@10", "ndcg@10", "hr@20", "ndcg@20", "ms_per_user")


def candidate_lists(split: LeaveOneOutSplit, users: int, seed: int) -> tuple[EvalSet, np.ndarray, np.ndarray]:
    """(a seeded sample of ``users`` test users, their candidates (users, 20), the target's column (users,)).

    Each row holds the target once and 19 distinct items that are neither the target nor in the user's
    (untruncated) test history, drawn uniformly, then shuffled; all draws come from one ``seed``.
    """
    sample = split.test_set().sample(users, seed)
    rng = np.random.default_rng(seed)
    grid = np.zeros((len(sample), CANDIDATES), dtype=np.int64)  # (users, 20)
    position = np.zeros(len(sample), dtype=np.int64)  # (users,)
    for row, (history, target) in enumerate(zip(sample.histories, sample.targets, strict=True)):
        allowed = np.setdiff1d(np.arange(split.num_items), [*history, int(target)])
        if len(allowed) < CANDIDATES - 1:
            raise ValueError(
                f"user {sample.users[row]}: only {len(allowed)} items outside the history, "
                f"{CANDIDATES - 1} negatives needed"
            )
        negatives = rng.choice(allowed, size=CANDIDATES - 1, replace=False)
        order = rng.permutation(CANDIDATES)
        grid[row] = np.concatenate([[int(target)], negatives])[order]
        position[row] = int(np.flatnonzero(order == 0)[0])
    return sample, grid, position


def pessimistic_ranks(scores: np.ndarray, target_position: np.ndarray) -> np.ndarray:
    """1-based rank of each row's target among its candidates' ``scores`` (users, n); ties rank it last."""
    target = scores[np.arange(len(scores)), target_position][:, None]  # (users, 1)
    return (scores >= target).sum(axis=1).astype(np.int64)  # the target itself counts once


def candidate_metrics(ranks: np.ndarray) -> dict[str, float]:
    """Mean NDCG@10 and HR@1/5/10 of the target ranks."""
    return {
        "ndcg@10": float(ndcg_at_k(ranks, 10).mean()),
        "hr@1": float(hit_rate_at_k(ranks, 1).mean()),
        "hr@5": float(hit_rate_at_k(ranks, 5).mean()),
        "hr@10": float(hit_rate_at_k(ranks, 10).mean()),
    }


def expected_random_metrics(candidates: int = CANDIDATES) -> dict[str, float]:
    """The metrics of a random order: the target's rank is uniform over 1..``candidates``."""
    return candidate_metrics(np.arange(1, candidates + 1))


def candidate_protocol_row(
    recommender_or_scores: ZeroShotLMRecommender | np.ndarray,
    split: LeaveOneOutSplit,
    sample: EvalSet,
    candidates: np.ndarray,
    target_position: np.ndarray,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Rows "zero-shot-lm" (the recommender's `score_candidates`, or given (users, 20) scores),
    "popularity", "random-expected" and "random-draw", each with the candidate metrics and ms/user."""
    rows: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    if isinstance(recommender_or_scores, np.ndarray):
        lm_scores, lm_ms = recommender_or_scores, None
    else:
        lm_scores = recommender_or_scores.score_candidates(sample.histories, candidates)
        lm_ms = 1000 * (time.perf_counter() - start) / max(len(sample), 1)
    rows["zero-shot-lm"] = {
        **candidate_metrics(pessimistic_ranks(lm_scores, target_position)),
        "ms_per_user": lm_ms,
    }
    train = split.train_data()
    start = time.perf_counter()
    counts = train_item_counts(train.sequences, train.num_items)
    popularity = counts[candidates].astype(np.float64)  # (users, 20)
    pop_ms = 1000 * (time.perf_counter() - start) / max(len(sample), 1)
    rows["popularity"] = {
        **candidate_metrics(pessimistic_ranks(popularity, target_position)),
        "ms_per_user": pop_ms,
    }
    rows["random-expected"] = {**expected_random_metrics(), "ms_per_user": 0.0}
    draw = np.random.default_rng(seed).random(candidates.shape)  # (users, 20)
    rows["random-draw"] = {**candidate_metrics(pessimistic_ranks(draw, target_position)), "ms_per_user": 0.0}
    return rows


def fitted_zero_shot(
    split: LeaveOneOutSplit, *, lm: str, examples: int, seed: int, threads: int, shared: Any = None
) -> tuple[ZeroShotLMRecommender, float]:
    """A fitted recommender and its fit seconds; ``shared`` (a fitted one) lends its already loaded LM."""
    rec = ZeroShotLMRecommender(
        ZeroShotConfig(lm=lm, seed=seed, in_context_examples=examples, num_threads=threads)
    )
    if shared is not None:
        rec.attach_lm(shared.model, shared.tokenizer)
    start = time.perf_counter()
    rec.fit(split.train_data(), split.valid_set())
    return rec, time.perf_counter() - start


def full_ranking_row(
    split: LeaveOneOutSplit,
    sample: EvalSet,
    *,
    lm: str = "smollm2",
    threads: int = 1,
    seed: int = 0,
    examples: Sequence[int] = (0, 3),
    recommenders: dict[int, ZeroShotLMRecommender] | None = None,
) -> dict[str, dict[str, Any]]:
    """Full-catalogue HR/NDCG@10 (and @20) and ms/user of the LM under the title trie, history excluded,
    one row per in-context example count (``recommenders`` may hold already fitted ones by that count),
    and popularity on the same users as the reference."""
    train = split.train_data()
    counts = train_item_counts(train.sequences, train.num_items)
    rows: dict[str, dict[str, Any]] = {}
    shared = next(iter((recommenders or {}).values()), None)
    for n in examples:
        rec = (recommenders or {}).get(n)
        fit_s = None
        if rec is None:
            rec, fit_s = fitted_zero_shot(split, lm=lm, examples=n, seed=seed, threads=threads, shared=shared)
            shared = rec
        result = evaluate(rec, sample, k_max=20, num_items=train.num_items, item_counts=counts)
        rows[f"zero-shot-lm (in-context {n})"] = {
            **{k: result.metrics[k] for k in FULL_METRICS},
            "fit_s": fit_s,
            "users": len(sample),
        }
    popularity = PopularityRecommender()
    popularity.fit(train)
    result = evaluate(popularity, sample, k_max=20, num_items=train.num_items, item_counts=counts)
    rows["popularity"] = {**{k: result.metrics[k] for k in FULL_METRICS}, "fit_s": 0.0, "users": len(sample)}
    return rows


def run(
    dataset: str, users: int, seed: int, threads: int, lm: str, examples: Sequence[int]
) -> dict[str, Any]:
    """Both protocols on one seeded sample of test users, for each in-context example count."""
    split = leave_one_out(load_dataset(dataset))
    sample, candidates, position = candidate_lists(split, users, seed)
    fitted: dict[int, ZeroShotLMRecommender] = {}
    fit_seconds: dict[int, float] = {}
    candidate_rows: dict[str, dict[str, Any]] = {}
    for n in examples:
        shared = next(iter(fitted.values()), None)
        fitted[n], fit_seconds[n] = fitted_zero_shot(
            split, lm=lm, examples=n, seed=seed, threads=threads, shared=shared
        )
        rows = candidate_protocol_row(fitted[n], split, sample, candidates, position, seed)
        candidate_rows[f"zero-shot-lm (in-context {n})"] = rows.pop("zero-shot-lm")
        candidate_rows.update(rows)
    full = full_ranking_row(
        split, sample, lm=lm, threads=threads, seed=seed, examples=examples, recommenders=fitted
    )
    for n in examples:
        full[f"zero-shot-lm (in-context {n})"]["fit_s"] = fit_seconds[n]
    return {
        "dataset": dataset,
        "users": len(sample),
        "seed": seed,
        "threads": threads,
        "lm": lm,
        "candidates": CANDIDATES,
        "candidate_protocol": candidate_rows,
        "full_ranking": full,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--users", type=int, default=50, help="a seeded sample of test users")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lm", default="smollm2", help="'smollm2' or a Hugging Face model directory")
    parser.add_argument("--examples", type=int, nargs="+", default=[0, 3], help="in-context example counts")
    args = parser.parse_args(argv)
    row = run(args.dataset, args.users, args.seed, args.threads, args.lm, args.examples)
    given = sys.argv[1:] if argv is None else argv
    row["command"] = " ".join(["python", "benchmarks/zero_shot_rows.py", *given])
    print(json.dumps(row, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
