"""The table of record: per dataset, the row of each model family that selection allows, from committed JSON.

    python benchmarks/record.py

reads ``results/baselines.json`` and ``results/generative/*.json`` (never ``results/archive/``) and writes
``results/RESULTS.md`` and ``results/RESULTS.json``, then the "results at a glance" block of README.md
between ``<!-- results:begin -->`` and ``<!-- results:end -->`` (skipped, with a message, when the markers
are missing). The output depends on the committed files only, so running it twice gives the same bytes.

Selection within a family (``FAMILY_RULES``) never looks at test figures. When every candidate row of the
family records a validation NDCG@10 for every seed, the row with the best mean validation NDCG@10 is
listed. Otherwise no choice is made: the rows of the configuration fixed before testing (the popularity
ranker, the shipped recipes) are listed, each one, and the screens live in ``results/archive/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from genrec.evaluation.metrics import hit_rate_at_k, ndcg_at_k
from genrec.training.config import load_config
from genrec.training.provenance import config_sha
from seed_stats import format_mean_std, mean_and_std

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
README = REPO / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
DATASETS = ("ml-100k", "office", "scientific", "beauty")
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")
BUDGET_BOUND = 0.97  # a seed that trained this share of its wall-clock budget was cut by it

#: (family, rule on (source kind, model or recipe name)). A new family is one more line; a row no rule
#: claims stops the command, so nothing drops out of the table unnoticed.
FAMILY_RULES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("popularity", lambda kind, name: kind == "baseline" and name == "popularity"),
    ("SASRec", lambda kind, name: kind == "baseline" and name.startswith("sasrec")),
    ("GRU4Rec", lambda kind, name: kind == "baseline" and name == "gru4rec"),
    ("compact generative", lambda kind, name: kind == "generative" and name.endswith("-compact")),
    ("pretrained-LM generative", lambda kind, name: kind == "generative" and name.endswith("-smollm2")),
    ("LM-enhanced SASRec", lambda kind, name: kind == "llm_direct" and name.startswith("sasrec-text")),
    ("LM re-ranker", lambda kind, name: kind == "llm_direct" and name.startswith("reranker")),
    ("aligned generative", lambda kind, name: kind == "alignment"),
)
LLM_DIRECT_BASELINE = (
    "sasrec-ce"  # llm_direct.py's own SASRec-CE rerun: the SASRec family lists baselines.json's
)


@dataclass(frozen=True)
class Candidate:
    """One row (a configuration over its seeds) that may enter the table."""

    dataset: str
    family: str
    name: str
    source: str  # the result file, relative to the repository
    runs: tuple[dict[str, Any], ...]  # per seed: COLUMNS, train_s, seed, commit, valid (or None)
    command: str
    fixed_before_testing: bool  # the popularity ranker, a baseline as defined, a shipped recipe
    notes: tuple[str, ...] = ()

    @property
    def has_validation(self) -> bool:
        return all(r.get("valid") is not None for r in self.runs)

    def mean(self, key: str) -> float:
        return mean_and_std(r[key] for r in self.runs)[0]


def family_of(kind: str, name: str) -> str:
    for family, rule in FAMILY_RULES:
        if rule(kind, name):
            return family
    raise SystemExit(f"record.py: no family rule claims {kind} row {name!r}; add one to FAMILY_RULES")


def _relative(path: Path) -> str:
    """``path`` relative to the repository (as printed in RESULTS.md); absolute when it lies outside."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(resolved)


def baseline_candidates(path: Path) -> list[Candidate]:
    """Every model x dataset of a ``baselines.py`` results file (validation: the early-stopping score)."""
    payload = json.loads(path.read_text())
    budget = payload.get("settings", {}).get("set", {}).get("max_train_seconds")
    out = []
    for dataset, models in payload["datasets"].items():
        for model, entry in models.items():
            runs = tuple(
                {
                    **{c: r["test"][c] for c in COLUMNS},
                    "train_s": r["train_wall_time_s"],
                    "seed": r["seed"],
                    "commit": r.get("commit", "unknown"),
                    "valid": r.get("training", {}).get("best_valid_ndcg@10"),
                }
                for r in entry["runs"]
            )
            threads = [r.get("threads") for r in entry["runs"]]
            recorded = sorted({t for t in threads if t is not None})
            seeds = " ".join(str(r["seed"]) for r in runs)
            command = f"python benchmarks/baselines.py --datasets {dataset} --models {model} --seeds {seeds}"
            command += f" --threads {recorded[0]}" if len(recorded) == 1 else ""
            command += f" --max-train-minutes {budget / 60:g}" if budget else ""
            notes = []
            if None in threads:
                unrecorded = [str(r["seed"]) for r, t in zip(runs, threads, strict=True) if t is None]
                notes.append(
                    f"thread count not recorded for seed {', '.join(unrecorded)} (2 by default then)"
                )
            notes += [f"training capped at {budget / 60:g} min per run"] if budget else []
            family = family_of("baseline", model)
            out.append(Candidate(dataset, family, model, _relative(path), runs, command, True, tuple(notes)))
    return out


def generative_command(payload: dict[str, Any], seeds: list[int]) -> tuple[str, list[str]]:
    """The `generative.py` command that writes this row again, and what the reader must know about it."""
    recipe = payload["recipe"]
    _, ids, backbone = recipe.rsplit("-", 2)
    parts = ["python benchmarks/generative.py", f"--dataset {payload['dataset']}", f"--ids {ids}"]
    parts += [f"--backbone {backbone}", "--seeds " + " ".join(map(str, seeds))]
    notes, budget = [], 0.0
    for override in payload.get("overrides", []):
        key, _, value = override.partition("=")
        if key == "training.num_threads":
            parts.append(f"--threads {value}")
        elif key == "training.max_minutes":
            budget = float(value)
        else:
            parts.append(f"--set {override}")
    budget = budget or float(load_config(recipe).training.max_minutes)
    if budget:  # part of the row's identity: carried explicitly (the same config as the recipe's own value)
        parts.append(f"--max-minutes {budget:g}")
        cut = [str(r["seed"]) for r in payload["runs"] if r["train_s"] >= BUDGET_BOUND * 60 * budget]
        if cut:
            notes.append(
                f"the {budget:g}-minute budget cut seed {', '.join(cut)}: its figures depend on the speed of "
                f"the machine ({payload.get('machine', {}).get('platform', 'not recorded')})"
            )
    if payload.get("test_users"):
        parts.append(f"--test-users {payload['test_users']}")
        notes.append(f"tested on {payload['test_users']} sampled test users, not all")
    if payload.get("accelerator"):
        notes.append(f"trained on {payload.get('machine', {}).get('accelerator', payload['accelerator'])}")
    return " ".join(parts), notes


def generative_candidate(path: Path) -> Candidate:
    payload = json.loads(path.read_text())
    recipe = payload["recipe"]
    runs = tuple(
        {
            **{c: r[c] for c in COLUMNS},
            "train_s": r["train_s"],
            "seed": r["seed"],
            "commit": r.get("commit", "unknown"),
            "valid": r.get("valid_ndcg@10"),
        }
        for r in sorted(payload["runs"], key=lambda r: r["seed"])
    )
    command, notes = generative_command(payload, [r["seed"] for r in runs])
    shipped = "@" not in path.stem and payload.get("config_sha") == config_sha(recipe, [])
    family = family_of("generative", recipe)
    name = recipe if shipped else f"{recipe} ({path.stem.partition('@')[2]})"
    return Candidate(payload["dataset"], family, name, _relative(path), runs, command, shipped, tuple(notes))


def columns_from_ranks(per_user: Path) -> dict[str, float]:
    """COLUMNS from a per-user file's target ranks (1-based; 0 = not in the list), so every row has them."""
    ranks = pd.read_parquet(per_user, columns=["rank"])["rank"].to_numpy()
    out = {}
    for column in COLUMNS:
        metric, k = column.split("@")
        values = hit_rate_at_k(ranks, int(k)) if metric == "hr" else ndcg_at_k(ranks, int(k))
        out[column] = float(values.mean())
    return out


def llm_direct_candidates(path: Path) -> list[Candidate]:
    """The LM-enhanced SASRec and re-ranker rows of ``llm_direct.py`` (validation: all validation users)."""
    if not path.is_file():
        return []
    payload = json.loads(path.read_text())
    out = []
    for dataset, rows in payload["datasets"].items():
        for name, entry in rows.items():
            tested = [r for r in entry["runs"] if "test" in r]
            if name == LLM_DIRECT_BASELINE or not tested:
                continue
            runs = tuple(
                {
                    **columns_from_ranks(path.parent / r["per_user"]),
                    "train_s": r["train_s"],
                    "seed": r["seed"],
                    "commit": r.get("commit", "unknown"),
                    "valid": r["valid"]["ndcg@10"],
                }
                for r in tested
            )
            threads = sorted({r["threads"] for r in tested})
            seeds = " ".join(str(r["seed"]) for r in runs)
            command = f"python benchmarks/llm_direct.py --datasets {dataset} --rows {name} --seeds {seeds}"
            command += f" --threads {threads[0]}" if len(threads) == 1 else ""
            family = family_of("llm_direct", name)
            out.append(Candidate(dataset, family, name, _relative(path), runs, command, True))
    return out


def alignment_candidates(path: Path) -> list[Candidate]:
    """The +DPO / +S-DPO / +GRPO rows of ``alignment.py`` (validation: each run's kept validation NDCG@10).

    The SFT rows there are the recipe's own SFT model, listed by the generative families from their own
    benchmark, so only the aligned rows enter; the row name carries the recipe and the start model."""
    if not path.is_file():
        return []
    payload = json.loads(path.read_text())
    out = []
    for stem, entry in payload["entries"].items():
        dataset = load_config(entry["recipe"]).data.dataset
        start = "" if entry.get("start", "sft") == "sft" else " (held-out)"
        for row in entry["rows"]:
            if not row.startswith("+"):
                continue
            runs = tuple(
                {
                    **columns_from_ranks(path.parent / "alignment" / "per_user" / f"{stem}-{row[1:]}-seed{s['seed']}.parquet"),
                    "train_s": s["rows"][row]["train_s"],
                    "seed": s["seed"],
                    "commit": s.get("commit", entry["commit"]),
                    "valid": s["rows"][row]["valid_ndcg@10"],
                }
                for s in entry["seeds"]
            )  # fmt: skip
            name = f"{Path(entry['recipe']).stem}{row}{start}"
            family = family_of("alignment", name)
            out.append(Candidate(dataset, family, name, _relative(path), runs, entry["command"], True))
    return out


def candidates(results: Path = RESULTS) -> list[Candidate]:
    out = baseline_candidates(results / "baselines.json")
    out += [generative_candidate(p) for p in sorted((results / "generative").glob("*.json"))]
    out += llm_direct_candidates(results / "llm_direct.json")
    out += alignment_candidates(results / "alignment.json")
    return out


def select(members: list[Candidate]) -> tuple[list[Candidate], str]:
    """The rows a family lists and why: validation decides, or nothing is chosen."""
    if len(members) == 1:
        return members, "the only configuration"
    if all(m.has_validation for m in members):
        best = max(members, key=lambda m: (m.mean("valid"), m.name))
        others = ", ".join(f"{m.name} {m.mean('valid'):.4f}" for m in members if m is not best)
        return [best], f"best mean validation NDCG@10 ({best.mean('valid'):.4f}; {others})"
    fixed = [m for m in members if m.fixed_before_testing]
    return fixed, "no validation figures: each configuration fixed before testing, none chosen"


def record(results: Path = RESULTS) -> dict[str, Any]:
    """RESULTS.json's content: per dataset, the listed rows of every family, in FAMILY_RULES order."""
    pool = candidates(results)
    datasets: dict[str, list[dict[str, Any]]] = {}
    for dataset in DATASETS:
        rows = datasets.setdefault(dataset, [])
        for family, _ in FAMILY_RULES:
            members = [c for c in pool if c.dataset == dataset and c.family == family]
            if not members:
                continue
            listed, basis = select(members)
            for c in listed:
                stats = {c_: list(mean_and_std(r[c_] for r in c.runs)) for c_ in (*COLUMNS, "train_s")}
                commits = list(dict.fromkeys(r["commit"] for r in c.runs))
                valid = list(mean_and_std(r["valid"] for r in c.runs)) if c.has_validation else None
                rows.append(
                    {
                        "family": family,
                        "row": c.name,
                        "source": c.source,
                        "seeds": [r["seed"] for r in c.runs],
                        "test": stats,
                        "valid_ndcg@10": valid,
                        "commits": commits,
                        "command": c.command,
                        "chosen_by": basis,
                        "notes": list(c.notes),
                    }
                )
    return {
        "rule": "mean ± sample std (ddof=1) over seeds; test figures, full ranking, history excluded",
        "datasets": datasets,
    }


def _cell(stat: list[float | None], fmt: str = "{:.4f}") -> str:
    mean, std = stat
    assert mean is not None
    return format_mean_std(mean, std, fmt)


def markdown(payload: dict[str, Any]) -> str:
    lines = [
        "# Results of record",
        "",
        "Generated by `python benchmarks/record.py` from the committed result JSON; do not edit by hand.",
        "Test users, leave-one-out, full ranking, history excluded; mean ± sample std (ddof=1) over seeds",
        "(one seed: no spread). A row is listed because validation chose it within its family, or, where",
        "the JSON holds no validation figures, because it is the configuration fixed before testing (all",
        "such rows are listed: none was picked on test). No row here claims to beat another: the per-user",
        "values a paired comparison needs are not committed for these rows (see benchmarks/README.md).",
        "Screens and superseded rows: `results/archive/`.",
    ]
    for dataset, rows in payload["datasets"].items():
        lines += ["", f"## {dataset}", ""]
        lines += [
            "| family | row | seeds | "
            + " | ".join(c.upper() for c in COLUMNS)
            + " | train s | commit | ref |"
        ]
        lines += ["|---" * (len(COLUMNS) + 6) + "|"]
        for i, row in enumerate(rows, start=1):
            cells = [_cell(row["test"][c]) for c in COLUMNS]
            seeds = str(len(row["seeds"]))
            commits = ", ".join(row["commits"])
            train = _cell(row["test"]["train_s"], "{:.0f}")
            lines.append(
                f"| {row['family']} | {row['row']} | {seeds} | {' | '.join(cells)} | {train} | {commits} | [{i}] |"
            )
        lines.append("")
        for i, row in enumerate(rows, start=1):
            lines.append(f"[{i}] `{row['command']}`  ")
            extra = "; ".join([f"listed: {row['chosen_by']}", *row["notes"], f"file: {row['source']}"])
            lines.append(f"    {extra}.")
    return "\n".join(lines) + "\n"


def glance(payload: dict[str, Any]) -> str:
    """The README block: test NDCG@10 per dataset and family (RESULTS.md has the rest)."""
    lines = [
        "| dataset | family | row | seeds | NDCG@10 |",
        "|---|---|---|---|---|",
    ]
    for dataset, rows in payload["datasets"].items():
        for row in rows:
            ndcg = _cell(row["test"]["ndcg@10"])
            lines.append(f"| {dataset} | {row['family']} | {row['row']} | {len(row['seeds'])} | {ndcg} |")
    lines += ["", "Test NDCG@10, mean ± sample std over seeds; generated by `python benchmarks/record.py`."]
    return "\n".join(lines)


def write_readme_block(readme: Path, block: str) -> bool:
    """Replace the text between the README markers; False (README untouched) when they are missing."""
    text = readme.read_text() if readme.is_file() else ""
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{block}\n{END}{tail}"
    if new != text:
        readme.write_text(new)
    return True


def main() -> None:
    payload = record()
    (RESULTS / "RESULTS.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    (RESULTS / "RESULTS.md").write_text(markdown(payload))
    print(markdown(payload))
    if write_readme_block(README, glance(payload)):
        print(f"updated the results block of {README.name}")
    else:
        print(f"{README.name} has no {BEGIN} ... {END} markers: README left as it is")


if __name__ == "__main__":
    main()
