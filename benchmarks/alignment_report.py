"""Rendering of `alignment.py`'s results: per-seed rows summarised over seeds, candidate labels, paired
verdicts, and the Markdown of ``alignment.{json,md}`` / ``alignment_screens.{json,md}``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from seed_stats import mean_and_std

TEST_KEYS = ("hr@10", "ndcg@10", "coverage@10", "gini@10", "popularity_percentile@10")
ROW_KEYS = ("valid_ndcg@10", *TEST_KEYS, "train_s")
#: Settings one family of objectives ignores (left out of a candidate's label).
PAIR_ONLY = ("beta", "negatives", "negative_source", "sft_weight")
GRPO_ONLY = ("group_size", "clip_epsilon", "kl_coef", "rank_weight", "grpo_iterations")
#: ``--start``: align the usual SFT model, or one fitted without each user's last training item.
HELD_OUT = "held-out-last"


def candidate_key_of(config: dict[str, Any]) -> str:
    """`candidate_key` of a stored config dictionary."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
    return f"{config['objective']}-{digest}"


def candidate_labels(configs: list[dict[str, Any]]) -> dict[str, str]:
    """Per candidate key: ``objective`` plus the settings in which it differs from the other candidates."""
    varying = (
        sorted(k for k in configs[0] if len({json.dumps(c.get(k)) for c in configs}) > 1) if configs else []
    )
    labels = {}
    for config in configs:
        unused = PAIR_ONLY if config["objective"] == "grpo" else GRPO_ONLY
        own = [f"{k}={config[k]}" for k in varying if k != "objective" and k not in unused]
        labels[candidate_key_of(config)] = config["objective"] + (f" ({', '.join(own)})" if own else "")
    return labels


def verdict(comparison: dict[str, float]) -> str:
    """``beats`` / ``loses to`` only where the 95% CI excludes zero, else ``level with``; with the change."""
    low, high = comparison["ci_low"], comparison["ci_high"]
    word = "beats" if low > 0 else "loses to" if high < 0 else "level with"
    change = comparison["mean_difference"] / comparison["mean_a"] if comparison["mean_a"] else 0.0
    return f"{word} ({change:+.1%}; [{low:+.4f}, {high:+.4f}])"


def summarise(seeds: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per row: mean and sample std (ddof=1; None for one seed) over seeds of every figure."""
    out: dict[str, dict[str, float | None]] = {}
    names = [name for name in seeds[0]["rows"]] if seeds else []
    for name in names:
        row: dict[str, float | None] = {"seeds": float(len(seeds))}
        for key in ROW_KEYS:
            values = [s["rows"][name][key] for s in seeds if key in s["rows"].get(name, {})]
            if values:
                row[key], row[f"{key}_std"] = mean_and_std(values)
        out[name] = row
    return out


def _cell(row: dict[str, float | None], key: str) -> str:
    mean, std = row.get(key), row.get(f"{key}_std")
    if mean is None:
        return "–"
    digits = 1 if key == "train_s" else 4
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def markdown(payload: dict[str, Any], screens: bool = False) -> str:
    """The results as Markdown: one table per entry, then every candidate's validation curve. Test columns
    hold the validation-chosen setting's figures; screens have none."""
    lines = ["# Preference alignment: SFT, +DPO, +S-DPO, +RL (GRPO)" + (": screens" if screens else ""), ""]
    lines.append(
        "Screens: validation users only; no test figure was computed."
        if screens
        else "Each objective's setting was chosen on validation NDCG@10; test figures are of that setting only."
    )
    keys = ["valid_ndcg@10", "train_s"] if screens else [
        "valid_ndcg@10", "ndcg@10", "hr@10", "coverage@10", "gini@10", "popularity_percentile@10", "train_s"
    ]  # fmt: skip
    heads = ["valid NDCG@10", "train s"] if screens else [
        "valid NDCG@10", "test NDCG@10", "test HR@10", "coverage@10", "Gini@10", "pop. pct@10", "train s",
        "test NDCG@10 vs sft",
    ]  # fmt: skip
    for name, entry in sorted(payload["entries"].items()):
        lines += ["", f"## {name}", "", f"`{entry['command']}` (commit {entry['commit']})", ""]
        if entry.get("start") == HELD_OUT:
            lines += [
                f"Aligned model: `{HELD_OUT}`, the recipe fitted without each user's last training item; "
                "its preference targets are those items. `sft` is the usual SFT model, the control.",
                "",
            ]
        own = [*heads, f"test NDCG@10 vs {HELD_OUT}"] if "versus_start" in entry else heads
        lines += ["| row | seeds | " + " | ".join(own) + " |", "|---" * (len(own) + 2) + "|"]
        for row_name, row in entry["rows"].items():
            cells = [_cell(row, k) for k in keys]
            if not screens:
                paired = entry.get("versus_sft", {}).get(row_name)
                cells.append(verdict(paired) if paired else "–")
                if "versus_start" in entry:
                    paired = entry["versus_start"].get(row_name)
                    cells.append(verdict(paired) if paired else "–")
            lines.append(f"| {row_name} | {int(row['seeds'] or 0)} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Every candidate, per seed: validation NDCG@10 after each epoch (epoch 0 = the SFT weights), the "
            "epoch handed back, training time:",
            "",
        ]
        for key, label in candidate_labels(entry["candidates"]).items():
            found = [
                (int(seed["seed"]), c) for seed in entry["seeds"] for c in seed["candidates"]
                if candidate_key_of(c["config"]) == key
            ]  # fmt: skip
            for seed, c in sorted(found, key=lambda sc: sc[0]):
                curve = " → ".join(f"{r['ndcg@10']:.4f}" for r in c["validation"])
                lines.append(
                    f"- {label}, seed {seed}: {curve}; kept epoch {c['best_epoch']}; {c['train_s']:.0f} s"
                )
    return "\n".join(lines) + "\n"
