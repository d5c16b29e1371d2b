"""The new-item cap's effect for the cold-start benchmark (issue 53, TIGER's epsilon).

`cap_sweep` scores a fitted model under `genrec.recommenders.new_item_cap.NewItemCap` for each epsilon on
the VALIDATION users of the new-item split, per user group: the cap is a choice, so its effect is read on
validation and no test figure is computed for any epsilon. ``epsilon=1`` is the model unchanged.
`cap_markdown` renders one table per model, mean ± sample std over the seeds that carry a sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET, NewItemSplit
from genrec.evaluation.groups import ALL_USERS, evaluate_groups
from genrec.recommenders.base import Recommender
from genrec.recommenders.new_item_cap import NewItemCap
from seed_stats import format_mean_std, mean_and_std

GROUPS = (ALL_USERS, NEW_TARGET, KNOWN_TARGET)
METRICS = ("hr@10", "ndcg@10", "new_item_share@10")
#: The cap bounds the list it is applied to, so capped models are asked for exactly the top 10 the
#: metrics read (a cap on a top-20 list could put all of its floor(epsilon * 20) new items in the top 10).
CAP_K = 10


def cap_sweep(
    model: Recommender, split: NewItemSplit, epsilons: Sequence[float], item_counts: np.ndarray
) -> dict[str, dict[str, dict[str, float]]]:
    """``{str(epsilon): {group: {metric: value}}}`` on validation for the fitted ``model``."""
    train = split.split.train_data()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for epsilon in epsilons:
        capped = NewItemCap(model, split.new_items, epsilon)
        evaluation = evaluate_groups(
            capped,
            split.split.valid_set(),
            split.valid_groups(),
            new_items=split.new_items,
            num_items=train.num_items,
            item_counts=item_counts,
            k_max=CAP_K,
        )
        out[f"{epsilon:g}"] = {g: {m: evaluation.metrics[g][m] for m in METRICS} for g in GROUPS}
    return out


def _cell(runs: Sequence[Mapping[str, Any]], eps: str, group: str, metric: str) -> str:
    values = [r["new_item_cap"][eps][group][metric] for r in runs if eps in r["new_item_cap"]]
    return format_mean_std(*mean_and_std(values))


def cap_markdown(models: Mapping[str, Any]) -> list[str]:
    """Per model with a sweep: epsilon x (NDCG@10 per group, new-item share@10 of all users), validation."""
    lines: list[str] = []
    for model, entry in models.items():
        runs = [r for r in entry["runs"] if r.get("new_item_cap")]
        if not runs:
            continue
        epsilons = sorted(runs[0]["new_item_cap"], key=float)
        lines += [
            f"New-item cap (TIGER's epsilon) on `{model}`, validation users only ({len(runs)} seeds):"
            " at most floor(epsilon * 10) new items in each top 10.",
            "",
            "| epsilon | valid NDCG@10 all | new-target | known-target | new-item share@10 (all) |",
            "|---|---|---|---|---|",
        ]
        for eps in epsilons:
            cells = [
                _cell(runs, eps, group, metric)
                for group, metric in (
                    (ALL_USERS, "ndcg@10"),
                    (NEW_TARGET, "ndcg@10"),
                    (KNOWN_TARGET, "ndcg@10"),
                    (ALL_USERS, "new_item_share@10"),
                )
            ]
            lines.append(f"| {eps} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
