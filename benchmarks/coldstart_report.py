"""Markdown of the cold-start benchmark (`coldstart.py`): per-dataset group tables, cap and blend choices,
zero-shot transfer. Pure functions of the results JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import blend_rows
import cap_rows
import slot_rows
from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET
from genrec.evaluation.groups import ALL_USERS
from seed_stats import format_mean_std, mean_and_std

GROUPS = (ALL_USERS, NEW_TARGET, KNOWN_TARGET)
STAGES = ("valid", "test")
#: Rows that are baselines; the others are genrec configurations.
BASELINES = frozenset({"popularity", "content", "sasrec-ce", "sasrec-text", "sasrec-text-sum"})


def _cell(stat: Sequence[float | None], fmt: str = "{:.4f}") -> str:
    mean, std = stat
    return "–" if mean is None or np.isnan(mean) else format_mean_std(mean, std, fmt)


def dataset_markdown(dataset: str, block: Mapping[str, Any]) -> list[str]:
    """One dataset's section: the split's group sizes, then one row per model and user group."""
    sizes = ", ".join(f"{k} {v:,}" for k, v in block["group_sizes"].items())
    models = list(block["models"])
    baselines = [m for m in models if m in BASELINES]
    lines = [
        f"## {dataset}",
        "",
        f"Split: `new_item_split(fraction={block['fraction']}, seed={block['split_seed']})`. Sizes: {sizes}.",
        "",
        f"Baselines: {', '.join(baselines) if baselines else 'none'}"
        f" ({'all rows' if len(baselines) == len(models) else 'the other rows are genrec configurations'}).",
        "",
        "| model | seeds | group | users valid / test | valid HR@10 | valid NDCG@10 | test HR@10 | test NDCG@10"
        " | test new-item share@10 | train s | test ms/user |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, entry in block["models"].items():
        s = entry["summary"]
        for group in GROUPS:
            valid, test = s["valid"][group], s["test"][group]
            users = f"{valid['users'][0]:,.0f} / {test['users'][0]:,.0f}"
            # Timings belong to the model, not to a group: shown once, on the "all" row.
            timings = (
                f"{_cell(s['train_wall_time_s'], '{:.0f}')} | {_cell(s['test_ms_per_user'], '{:.2f}')}"
                if group == ALL_USERS
                else " | "
            )
            lines.append(
                f"| {model} | {len(entry['runs'])} | {group} | {users} | {_cell(valid['hr@10'])}"
                f" | {_cell(valid['ndcg@10'])} | {_cell(test['hr@10'])} | {_cell(test['ndcg@10'])}"
                f" | {_cell(test['new_item_share@10'])} | {timings} |"
            )
    return [
        *lines,
        "",
        *cap_rows.cap_markdown(block["models"]),
        *slot_rows.slot_markdown(block["models"]),
        *blend_rows.blend_markdown(block["models"]),
        *blend_rows.comparison_markdown(block.get("blend_comparisons", {})),
        *(
            line
            for row, comparisons in block.get("generative_comparisons", {}).items()
            for line in blend_rows.comparison_markdown(comparisons, row)
        ),
    ]


def markdown(results: Mapping[str, Any]) -> str:
    lines = [
        "# Cold start: new-item split (issue 53)",
        "",
        "Full ranking, history excluded; mean ± sample std (ddof=1) over model seeds. Choose on the valid",
        "columns (new-target validation users for the new-item figure); test is reported once.",
        '"new-target": users whose target is a new item (never in any training sequence); "known-target":',
        "the others. New-item share@10: share of new items among the group's top-10 lists.",
        "",
        "Models: `popularity` and `content` (MiniLM text, mean of the 10 most recent history items) as in",
        "the registry; `sasrec-ce` is SASRec with full-softmax CE: a new item never appears as an input or a",
        "target in training, so its embedding keeps its random initialisation apart from being pushed down",
        "as a softmax negative, as a deployed ID model would have it; `sasrec-text` is SASRec whose item",
        "vectors come only from frozen MiniLM text embeddings through a learned adapter (`fusion=text-only`,",
        "so new items get a vector); `sasrec-text-sum` adds a learned ID embedding to the adapted text",
        '(`fusion=sum`). `content` learns nothing from interactions; its "train s" is embedding the',
        "catalogue's text, which is cached on disk after the first seed (so later seeds take about 0 s).",
        "Timings are CPU wall-clock with each run's `threads` (in the JSON); rough where the machine was",
        "shared with other jobs.",
        "",
    ]
    for dataset, block in results["datasets"].items():
        lines += dataset_markdown(dataset, block)
    if results.get("transfer"):
        lines += transfer_markdown(results["transfer"])
    lines += ["Commands:", ""] + [f"- `{c}`" for c in results["commands"]] + [""]
    return "\n".join(lines)


def _transfer_row(pair: str, row: str, runs: Sequence[Mapping[str, Any]]) -> str:
    source, _, target = pair.partition(":")
    stats = {
        (stage, m): mean_and_std(r[stage][m] for r in runs) for stage in STAGES for m in ("hr@10", "ndcg@10")
    }
    return (
        f"| {source} → {target} | {row} (transferred) | no | {len(runs)} | "
        f"{_cell(stats['valid', 'ndcg@10'])} | {_cell(stats['test', 'hr@10'])} | "
        f"{_cell(stats['test', 'ndcg@10'])} |"
    )


def transfer_markdown(transfer: Mapping[str, Any]) -> list[str]:
    """Zero-shot transfer tables: the moved models beside the target's references."""
    lines = [
        "## Zero-shot transfer",
        "",
        "`sasrec-text` (text-only) trained on the source dataset's training part, moved to the target",
        "catalogue without training there (`TextSASRecRecommender.transfer_to`); full ranking on the target's",
        "users, history excluded. `gen-*` rows: the generative model of the cold-start run of the same seed",
        "(trained on the source's new-item split training part) gets the target's items through the",
        "catalogue-update path (identifiers from their text with the source's quantiser frozen; titles; atomic",
        "tokens initialised from titles), the source's items hidden (`grown_catalogue.py`). `content` uses no",
        "target interactions; `popularity` is computed on the target's training part (it uses target data).",
        "",
        "| source → target | row | uses target data | seeds | valid NDCG@10 | test HR@10 | test NDCG@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair, block in transfer.items():
        source, _, target = pair.partition(":")
        if block["runs"]:
            lines.append(_transfer_row(pair, "sasrec-text", block["runs"]))
        for row, entry in block.get("generative", {}).items():
            lines.append(_transfer_row(pair, row, entry["runs"]))
        for name, ref in block["references"].items():
            lines.append(
                f"| {source} → {target} | {name} | {'yes' if ref['uses_target_data'] else 'no'} | - | "
                f"{ref['valid']['ndcg@10']:.4f} | {ref['test']['hr@10']:.4f} | {ref['test']['ndcg@10']:.4f} |"
            )
    return [*lines, ""]
