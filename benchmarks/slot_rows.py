"""Reserved new-item places for generative rows of the cold-start benchmark (issue 53).

A generative model fitted before the new items existed gets them through the catalogue update, but its
beams follow the identifiers it learnt to emit, so its lists hold almost no new items. `NewItemSlots`
(`genrec.recommenders.new_item_slots`) keeps the last ``floor(epsilon * 10)`` places of each top 10 for the
model's own best new items (its beam search on a trie of the new items only).

`slot_run` makes the choice of epsilon on VALIDATION users only: the model's top 10 and its best 3 new
items are computed once per validation user, every epsilon in `EPSILONS` (0 is the model alone) is composed
from them, and the epsilon with the best all-users validation NDCG@10 is kept (ties: the smaller). Test is
then computed once, for that epsilon. The run has the shape of a `coldstart.run_one` run, plus
``slot_choice`` (the sweep and the rule).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET, NewItemSplit
from genrec.evaluation.groups import ALL_USERS, GroupEvaluation, evaluate_groups
from genrec.recommenders.base import Recommendations
from genrec.recommenders.new_item_slots import NewItemSlots, reserved_places, with_new_slots

GROUPS = (ALL_USERS, NEW_TARGET, KNOWN_TARGET)
METRICS = ("hr@10", "ndcg@10", "new_item_share@10", "users")
EPSILONS = (0.0, 0.1, 0.2, 0.3)
K = 10
SUFFIX = "+slots"


class FixedLists:
    """A ranker that returns lists computed beforehand, looked up by history (for the validation sweep)."""

    name = "fixed-lists"

    def __init__(self, histories: Sequence[Sequence[int]], items: np.ndarray, scores: np.ndarray) -> None:
        self.rows = {tuple(int(i) for i in h): r for r, h in enumerate(histories)}
        self.items, self.scores = items, scores

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        rows = [self.rows[tuple(int(i) for i in h)] for h in histories]
        return Recommendations(self.items[rows, :k], self.scores[rows, :k])


def slot_run(
    model: Any,
    result: NewItemSplit,
    item_counts: np.ndarray,
    base_run: Mapping[str, Any],
) -> tuple[dict[str, Any], GroupEvaluation]:
    """Choose epsilon on validation, test it once; ``base_run`` is the model's own run (timings, seed).
    Returns the run and its test evaluation (for the per-user file)."""
    split = result.split
    valid, groups = split.valid_set(), result.valid_groups()
    slots = NewItemSlots(model, result.new_items, 1.0)  # its best_new and is_new serve every epsilon
    m_max = max(reserved_places(e, K) for e in EPSILONS)
    base = model.recommend(valid.histories, K)
    best_new = slots.best_new(valid.histories, m_max)
    sweep: dict[str, dict[str, dict[str, float]]] = {}
    for epsilon in EPSILONS:
        m = reserved_places(epsilon, K)
        items, scores = with_new_slots(base.items, base.scores, best_new, slots.is_new, m)
        evaluation = evaluate_groups(
            FixedLists(valid.histories, items, scores),
            valid,
            groups,
            new_items=result.new_items,
            num_items=split.num_items,
            item_counts=item_counts,
            k_max=K,
        )
        sweep[f"{epsilon:g}"] = {g: {k: evaluation.metrics[g][k] for k in METRICS} for g in GROUPS}
    chosen = max(EPSILONS, key=lambda e: (sweep[f"{e:g}"][ALL_USERS]["ndcg@10"], -e))
    start = time.perf_counter()
    evaluation = evaluate_groups(
        NewItemSlots(model, result.new_items, chosen),
        split.test_set(),
        result.test_groups(),
        new_items=result.new_items,
        num_items=split.num_items,
        item_counts=item_counts,
        k_max=K,
    )
    run: dict[str, Any] = {
        "seed": base_run["seed"],
        "train_wall_time_s": base_run["train_wall_time_s"],
        "valid": sweep[f"{chosen:g}"],
        "test": {g: {k: evaluation.metrics[g][k] for k in METRICS} for g in GROUPS},
        "test_ms_per_user": evaluation.metrics[ALL_USERS]["ms_per_user"],
        "slot_choice": {
            "epsilon": chosen,
            "rule": "best all-users valid NDCG@10 over epsilon (ties: the smaller)",
            "sweep": sweep,
        },
        "test_wall_s": time.perf_counter() - start,
    }
    return run, evaluation


def slot_markdown(models: Mapping[str, Any]) -> list[str]:
    """Per `+slots` row: each seed's chosen epsilon and the validation sweep (mean over seeds)."""
    lines: list[str] = []
    for model, entry in models.items():
        runs = [r for r in entry["runs"] if r.get("slot_choice")]
        if not runs:
            continue
        chosen = ", ".join(f"seed {r['seed']}: {r['slot_choice']['epsilon']:g}" for r in runs)
        lines += [
            f"`{model}`: the last floor(epsilon * 10) places of each top 10 kept for the model's own best new",
            f"items; epsilon chosen per seed on validation by all-users NDCG@10 ({chosen}). Validation sweep,"
            " mean over seeds:",
            "",
            "| epsilon | valid NDCG@10 all | new-target | known-target | new-item share@10 (all) |",
            "|---|---|---|---|---|",
        ]
        for eps in runs[0]["slot_choice"]["sweep"]:
            cells = [
                float(np.mean([r["slot_choice"]["sweep"][eps][g]["ndcg@10"] for r in runs])) for g in GROUPS
            ]
            share = float(
                np.mean([r["slot_choice"]["sweep"][eps][ALL_USERS]["new_item_share@10"] for r in runs])
            )
            lines.append(f"| {eps} | " + " | ".join(f"{c:.4f}" for c in cells) + f" | {share:.4f} |")
        lines.append("")
    return lines
