"""Group-wise evaluation: one full-ranking pass, metrics for all users and for named user subsets.

The new-item protocol (docs/new-items.md) asks how a model does on users whose target is a new item and
on the others; ranking everyone once and slicing the per-user ranks by group gives every group's
figures from the same lists, so the groups can never disagree with "all". Beside the ranking metrics,
each group reports the share of new items among its top-10 recommendations (how much room a model gives
items it never saw in training).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from genrec.data.split import EvalSet
from genrec.evaluation.evaluator import EvaluationResult, Ranker, evaluate, ranking_metrics

ALL_USERS = "all"
#: Cutoff of the new-item share.
SHARE_CUTOFF = 10


@dataclass(frozen=True)
class GroupEvaluation:
    """``metrics[group]``: ranking metrics, user count and new-item share of one group ("all" included)."""

    metrics: dict[str, dict[str, float]]
    result: EvaluationResult

    def table(self, names: Sequence[str] = ("hr@10", "ndcg@10", "new_item_share@10", "users")) -> str:
        """A Markdown table: one row per group, one column per metric in ``names``."""
        lines = ["| group | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for group, values in self.metrics.items():
            cells = [_cell(n, values) for n in names]
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _cell(name: str, values: Mapping[str, float]) -> str:
    if name not in values:
        return "-"
    return f"{int(values[name]):,}" if name == "users" else f"{values[name]:.4f}"


def new_item_share(items: np.ndarray, new_items: Collection[int], k: int = SHARE_CUTOFF) -> float:
    """Share of the valid items in the top-``k`` lists ``items`` (users, >=k) that are new (nan if none)."""
    top = items[:, :k].ravel()
    top = top[top >= 0]
    if top.size == 0:
        return float("nan")
    new = np.fromiter((int(i) for i in new_items), dtype=np.int64, count=len(new_items))
    return float(np.isin(top, new).mean())


def evaluate_groups(
    recommender: Ranker,
    eval_set: EvalSet,
    groups: Mapping[str, Sequence[int] | np.ndarray],
    *,
    new_items: Collection[int] = (),
    k_max: int = 20,
    batch_size: int = 256,
    num_items: int | None = None,
    item_counts: np.ndarray | None = None,
) -> GroupEvaluation:
    """Evaluate on every user of ``eval_set`` (full ranking, history excluded) and on each named group.

    ``groups`` maps a name to row indices of ``eval_set``; the name "all" is reserved. Returns, per group,
    `ranking_metrics` plus ``users`` and ``new_item_share@10`` (over ``new_items``); "all" also carries
    the catalogue measures of `genrec.evaluation.evaluator.evaluate`.
    """
    if ALL_USERS in groups:
        raise ValueError(f"the group name {ALL_USERS!r} is reserved for every user")
    if k_max < SHARE_CUTOFF:
        raise ValueError(f"k_max must be >= {SHARE_CUTOFF} (the new-item share is taken at {SHARE_CUTOFF})")
    result = evaluate(
        recommender,
        eval_set,
        k_max=k_max,
        exclude_history=True,
        batch_size=batch_size,
        num_items=num_items,
        item_counts=item_counts,
    )
    everyone = {**result.metrics, "new_item_share@10": new_item_share(result.items, new_items)}
    metrics: dict[str, dict[str, float]] = {ALL_USERS: everyone}
    for name, rows in groups.items():
        idx = np.asarray(rows, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(eval_set)):
            raise ValueError(f"group {name!r} names a row outside the {len(eval_set)} users")
        values = ranking_metrics(result.ranks[idx], k_max)
        values["users"] = float(idx.size)
        values["new_item_share@10"] = new_item_share(result.items[idx], new_items)
        metrics[name] = values
    return GroupEvaluation(metrics=metrics, result=result)
