"""The cold-start blend's choices, made on validation users (issue 53).

`ColdStartBlendRecommender` ranks known items with the LM-enhanced SASRec and new items by their text,
with three choices: ``text_weight``, ``new_item_offset`` and the cap ``epsilon``. `choose_blend` scores
every point of `GRID` on the VALIDATION users of the new-item split (the two views are computed once and
recombined per point) and picks the cold-start operating point:

    the highest new-target validation NDCG@10 among the points whose all-users validation NDCG@10 is at
    least ``floor`` (SASRec-CE's all-users validation NDCG@10 for the same seed: never worse for everyone
    than the ID model one would otherwise deploy); ties go to the higher all-users figure.

Without a floor, or when no point reaches it, the point with the highest all-users validation NDCG@10 is
taken and the record says so. Test users are never looked at here; the chosen point is tested once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET, NewItemSplit
from genrec.evaluation.compare import paired_comparison
from genrec.evaluation.evaluator import ranking_metrics
from genrec.evaluation.groups import ALL_USERS
from genrec.evaluation.metrics import target_ranks
from genrec.recommenders.cold_start_blend import ColdStartBlendRecommender, capped_top_k
from genrec.recommenders.scoring import mask_history

GRID: dict[str, tuple[float, ...]] = {
    "epsilon": (0.1, 0.2, 0.3),
    "text_weight": (0.5, 1.0, 2.0),
    "new_item_offset": (0.0, 0.5, 1.0, 1.5, 2.0),
}
K = 10
BLEND = "cold-start-blend"


def sweep(model: ColdStartBlendRecommender, split: NewItemSplit) -> list[dict[str, Any]]:
    """Validation NDCG@10 / HR@10 per group for every `GRID` point (top-10 lists, history excluded)."""
    valid = split.split.valid_set()
    groups = {ALL_USERS: np.arange(len(valid)), **split.valid_groups()}
    known, text = model.score_parts(valid.histories)  # (users, items) each
    assert model.is_new is not None
    points = []
    for epsilon, weight, offset in itertools.product(*GRID.values()):
        variant = model.with_blend(weight, offset, epsilon)
        scores = variant.blend(known, text)
        mask_history(scores, valid.histories)
        items = capped_top_k(scores, model.is_new, K, math.floor(epsilon * K + 1e-9)).items
        ranks = target_ranks(items, valid.targets)
        point: dict[str, Any] = {"epsilon": epsilon, "text_weight": weight, "new_item_offset": offset}
        for name, rows in groups.items():
            values = ranking_metrics(ranks[rows], K)
            point[name] = {"hr@10": values["hr@10"], "ndcg@10": values["ndcg@10"]}
        points.append(point)
    return points


def pick(points: list[dict[str, Any]], floor: float | None) -> tuple[dict[str, Any], str]:
    """The chosen point and the rule that chose it (see the module docstring)."""

    def overall(p: dict[str, Any]) -> float:
        return float(p[ALL_USERS]["ndcg@10"])

    allowed = [p for p in points if floor is not None and overall(p) >= floor]
    if allowed:
        best = max(allowed, key=lambda p: (p[NEW_TARGET]["ndcg@10"], overall(p)))
        return best, f"best new-target valid NDCG@10 with all-users valid NDCG@10 >= {floor:.4f} (SASRec-CE)"
    reason = "no SASRec-CE validation figure" if floor is None else f"no point reached {floor:.4f}"
    return max(points, key=overall), f"best all-users valid NDCG@10 ({reason})"


def ce_floor(block: dict[str, Any], seed: int) -> float | None:
    """SASRec-CE's all-users validation NDCG@10 for ``seed`` in a dataset's results block, if measured."""
    for run in block.get("models", {}).get("sasrec-ce", {}).get("runs", []):
        if run["seed"] == seed:
            return float(run["valid"][ALL_USERS]["ndcg@10"])
    return None


def blend_markdown(models: dict[str, Any]) -> list[str]:
    """The choice each seed's validation sweep made (rule, point, validation figures at the choice)."""
    lines: list[str] = []
    for model, entry in models.items():
        runs = [r for r in entry["runs"] if r.get("blend_choice")]
        if not runs:
            continue
        size = len(GRID["epsilon"]) * len(GRID["text_weight"]) * len(GRID["new_item_offset"])
        grid = ", ".join(f"{k} {v}" for k, v in GRID.items())
        lines += [
            f"`{model}`: choices made on validation users per seed ({size} points: {grid}). Rule: the best"
            " new-target valid NDCG@10 among points whose all-users valid NDCG@10 is at least SASRec-CE's for"
            " the same seed (the floor); the rule column says which rule applied.",
            "",
            "| seed | floor | rule | epsilon | text_weight | new_item_offset | valid NDCG@10 all | new-target"
            " | known-target |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            c, v = run["blend_choice"]["chosen"], run["blend_choice"]["valid_at_choice"]
            floor = run["blend_choice"]["floor"]
            rule = "floor" if run["blend_choice"]["rule"].startswith("best new-target") else "no floor met"
            lines.append(
                f"| {run['seed']} | {'–' if floor is None else f'{floor:.4f}'} | {rule} | {c['epsilon']:g} | {c['text_weight']:g} | {c['new_item_offset']:g}"
                f" | {v[ALL_USERS]['ndcg@10']:.4f} | {v[NEW_TARGET]['ndcg@10']:.4f}"
                f" | {v[KNOWN_TARGET]['ndcg@10']:.4f} |"
            )
        lines.append("")
    return lines


def choose_blend(
    model: ColdStartBlendRecommender, split: NewItemSplit, floor: float | None
) -> tuple[ColdStartBlendRecommender, dict[str, Any]]:
    """The fitted ``model`` under the validation-chosen point, and the record of the choice."""
    points = sweep(model, split)
    best, rule = pick(points, floor)
    chosen = {k: best[k] for k in GRID}
    record = {
        "rule": rule,
        "floor": floor,
        "chosen": chosen,
        "valid_at_choice": {g: best[g] for g in (ALL_USERS, NEW_TARGET, KNOWN_TARGET)},
        "points": points,
    }
    return model.with_blend(chosen["text_weight"], chosen["new_item_offset"], chosen["epsilon"]), record


#: Paired test comparisons of the blend: (reference row, user group).
COMPARISONS = (("sasrec-ce", ALL_USERS), ("sasrec-text-sum", ALL_USERS), ("content", NEW_TARGET))


#: References of a generative row with every seed measured: the ID baseline and genrec's best new-item row.
GENERATIVE_COMPARISONS = (("sasrec-ce", ALL_USERS), (BLEND, ALL_USERS))


def paired_tests(
    per_user: Path,
    dataset: str,
    seeds: Sequence[int],
    row: str = BLEND,
    comparisons: Sequence[tuple[str, str]] = COMPARISONS,
) -> dict[str, Any]:
    """Test NDCG@10 of ``row`` (the blend by default) against each reference of ``comparisons``, paired by
    user, pooled over seeds.

    Reads ``<per_user>/<dataset>-<row>-seed<S>-test.parquet``; a reference without files for every seed is
    skipped. Returns ``{"<reference> / <group>": Comparison dict}``.
    """
    out: dict[str, Any] = {}
    for reference, group in comparisons:
        frames = []
        for seed in seeds:
            paths = [per_user / f"{dataset}-{name}-seed{seed}-test.parquet" for name in (reference, row)]
            if not all(p.is_file() for p in paths):
                break
            a, b = (pd.read_parquet(p) for p in paths)
            if group != ALL_USERS:
                a, b = a[a["group"] == group], b[b["group"] == group]
            merged = a[["user", "ndcg@10"]].merge(b[["user", "ndcg@10"]], on="user", suffixes=("_a", "_b"))
            if len(merged) != len(a) or len(merged) != len(b):
                raise ValueError(f"{paths[0]} and {paths[1]} cover different users")
            frames.append(merged)
        else:
            pooled = pd.concat(frames).groupby("user")[["ndcg@10_a", "ndcg@10_b"]].mean()
            result = paired_comparison(
                pooled["ndcg@10_a"].to_numpy(), pooled["ndcg@10_b"].to_numpy(), "ndcg@10"
            )
            out[f"{reference} / {group}"] = {**result.to_dict(), "seeds": len(frames)}
    return out


def comparison_markdown(comparisons: dict[str, Any], row: str = BLEND) -> list[str]:
    """One line per comparison: the means, the difference and its 95% interval."""
    if not comparisons:
        return []
    lines = [
        f"Paired test comparisons of `{row}` (per user, pooled over seeds; bootstrap 95% interval):",
        "",
        f"| reference / users | seeds | users | reference NDCG@10 | {row} NDCG@10 | difference [95% CI] | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in comparisons.items():
        verdict = "beats" if c["ci_low"] > 0 else ("loses" if c["ci_high"] < 0 else "level with")
        lines.append(
            f"| {name} | {c['seeds']} | {c['users']:,} | {c['mean_a']:.4f} | {c['mean_b']:.4f}"
            f" | {c['mean_difference']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] | {verdict} |"
        )
    return [*lines, ""]
