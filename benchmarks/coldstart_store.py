"""The cold-start results document (`coldstart.py`): load it, merge runs into it by seed, merge other folders.

``results/coldstart.json`` holds ``commands``, ``datasets[<name>]["models"][<row>]["runs"]`` (one run per
seed, with a ``summary`` of mean and sample std) and ``transfer[<source>:<target>]`` (the text-only SASRec's
``runs``, the target's ``references`` and ``generative[<row>]["runs"]``). Two processes must not write the
same document; `merge_outputs` pools the folders they wrote instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from coldstart_report import GROUPS, STAGES, markdown
from genrec.io.files import read_json, write_json_atomic, write_text_atomic
from seed_stats import mean_and_std

STEM = "coldstart"
METRICS = ("hr@10", "ndcg@10", "new_item_share@10", "users")
#: Flags of a recorded command that only name where a run wrote, dropped when its results are merged.
DIR_FLAGS = frozenset({"--output", "--work-dir"})


def summarise(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """[mean, sample std (None for one seed)] over seeds: per stage and group, and of the timings."""
    summary: dict[str, Any] = {
        stage: {
            group: {m: list(mean_and_std(r[stage][group][m] for r in runs)) for m in METRICS}
            for group in GROUPS
        }
        for stage in STAGES
    }
    for key in ("train_wall_time_s", "test_ms_per_user"):
        summary[key] = list(mean_and_std(r[key] for r in runs))
    return summary


def merge_runs(results: dict[str, Any], dataset: str, model: str, runs: Sequence[dict[str, Any]]) -> None:
    """Put ``runs`` into ``results`` under dataset and model; a seed already there is replaced."""
    entry = results["datasets"][dataset]["models"].setdefault(model, {"runs": []})
    seeds = {r["seed"] for r in runs}
    kept = [r for r in entry["runs"] if r["seed"] not in seeds]
    entry["runs"] = sorted([*kept, *runs], key=lambda r: r["seed"])
    entry["summary"] = summarise(entry["runs"])


def load_results(path: Path) -> dict[str, Any]:
    """The stored results at ``path``, or an empty document."""
    if path.is_file():
        stored: dict[str, Any] = read_json(path)
        return stored
    return {"commands": [], "datasets": {}}


def add_transfer_run(results: dict[str, Any], pair: str, row: str, run: dict[str, Any]) -> None:
    """Put a generative transfer run into ``results["transfer"][pair]["generative"][row]`` (a seed replaces
    its old run; ``summary``: [mean, sample std] per stage and metric); the pair's ``references`` must be
    there already."""
    block = results.setdefault("transfer", {}).setdefault(pair, {"runs": []})
    entry = block.setdefault("generative", {}).setdefault(row, {"runs": []})
    entry["runs"] = sorted(
        [r for r in entry["runs"] if r["seed"] != run["seed"]] + [run], key=lambda r: r["seed"]
    )
    entry["summary"] = {
        stage: {m: list(mean_and_std(r[stage][m] for r in entry["runs"])) for m in ("hr@10", "ndcg@10")}
        for stage in STAGES
    }


def merge_outputs(sources: Sequence[Path], output: Path) -> dict[str, Any]:
    """Merge the results of runs written to other ``--output`` folders (two processes never share one
    JSON) into ``output``: dataset rows by seed, generative transfer rows, per-user files, and commands
    without their ``--output``/``--work-dir`` (which only said where a run wrote)."""
    json_path = output / f"{STEM}.json"
    results = load_results(json_path)
    for source in sources:
        other = load_results(source / f"{STEM}.json")
        for command in other["commands"]:
            words = command.split()
            kept = [
                w
                for i, w in enumerate(words)
                if w not in DIR_FLAGS and (i == 0 or words[i - 1] not in DIR_FLAGS)
            ]
            results["commands"] = list(dict.fromkeys([*results["commands"], " ".join(kept)]))
        for name, block in other["datasets"].items():
            mine = results["datasets"].setdefault(name, {"models": {}})
            if mine.get("group_sizes", block["group_sizes"]) != block["group_sizes"]:
                raise SystemExit(f"{source}: {name} was measured on another split")
            mine.update(
                {
                    k: v
                    for k, v in block.items()
                    if k not in ("models", "blend_comparisons", "generative_comparisons")
                }
            )
            for model, entry in block["models"].items():
                merge_runs(results, name, model, entry["runs"])
        for pair, block in other.get("transfer", {}).items():
            mine = results.setdefault("transfer", {}).setdefault(pair, {"runs": []})
            mine.setdefault("references", block["references"])
            for row, entry in block.get("generative", {}).items():
                for run in entry["runs"]:
                    add_transfer_run(results, pair, row, run)
        for kind in ("per_user", "transfer"):
            for path in sorted((source / STEM / kind).glob("*.parquet")):
                dest = output / STEM / kind / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(path.read_bytes())
    write_json_atomic(json_path, results)
    write_text_atomic(json_path.with_suffix(".md"), markdown(results))
    return results
