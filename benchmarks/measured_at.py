"""Which commit each per-seed result was measured at, stored in the result JSON itself.

A new run records ``commit``: the checked-out commit when the benchmark process started (``git describe
--always --dirty``, so a run from an edited tree says ``-dirty``). Rows measured before that field existed
are stamped once from history:

    python benchmarks/measured_at.py

walks ``git log --follow`` of every ``results/baselines*.json`` and ``results/generative/**/*.json`` and
gives each per-seed row the commit that added its current figures (the figures were measured on the code
of that commit's parent or of the commit itself: results were committed as they landed). A row that
already has ``commit`` is left alone, so the stored field never moves when files are edited or moved
later, and ``record.py`` stays a pure function of the committed JSON.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"

RowKey = tuple[str, ...]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout


@cache
def current_commit() -> str:
    """The checked-out commit (``<hash>`` or ``<hash>-dirty``), or ``unknown`` outside a git checkout."""
    try:
        return _git("describe", "--always", "--dirty", "--abbrev=7").strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _generative_rows(payload: dict[str, Any]) -> Iterator[tuple[RowKey, dict[str, Any]]]:
    for run in payload.get("runs", []):
        yield (str(run["seed"]),), run


def _baseline_rows(payload: dict[str, Any]) -> Iterator[tuple[RowKey, dict[str, Any]]]:
    for dataset, models in payload.get("datasets", {}).items():
        for model, entry in models.items():
            for run in entry.get("runs", []):
                yield (dataset, model, str(run["seed"])), run


def _figures(run: dict[str, Any]) -> str:
    """What identifies a seed's result: its test figures, not fields stamped on it afterwards."""
    figures = run.get("test", run)
    return json.dumps({k: v for k, v in figures.items() if k != "commit"}, sort_keys=True)


def added_at(
    path: Path, rows: Callable[[dict[str, Any]], Iterator[tuple[RowKey, dict[str, Any]]]]
) -> dict[RowKey, str]:
    """For each per-seed row of ``path``, the commit (short hash) that gave it its current figures."""
    relative = str(path.resolve().relative_to(REPO))
    log = _git("log", "--follow", "--name-only", "--format=%x1e%h %H", "--", relative)
    seen: dict[RowKey, tuple[str, str]] = {}
    for block in reversed(log.split("\x1e")[1:]):  # oldest first (git ignores --reverse with --follow)
        header, *names = [line for line in block.split("\n") if line]
        short, full = header.split()
        try:  # the file under the name it had in that commit (--follow crosses renames)
            payload = json.loads(_git("show", f"{full}:{names[0]}"))
        except (IndexError, subprocess.CalledProcessError, json.JSONDecodeError):
            continue  # deleted or unreadable in this commit
        for key, run in rows(payload):
            figures = _figures(run)
            if seen.get(key, ("", ""))[0] != figures:
                seen[key] = (figures, short)
    current = json.loads(path.read_text())
    return {key: seen[key][1] for key, run in rows(current) if seen.get(key, ("", ""))[0] == _figures(run)}


def stamp(path: Path) -> bool:
    """Give every per-seed row of ``path`` without a ``commit`` the commit that added it; True if changed."""
    rows = _baseline_rows if path.name.startswith("baselines") else _generative_rows
    payload = json.loads(path.read_text())
    if all("commit" in run for _, run in rows(payload)):
        return False
    commits = added_at(path, rows)
    for key, run in rows(payload):
        run.setdefault("commit", commits.get(key, "uncommitted"))
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    return True


if __name__ == "__main__":
    for result in sorted([*RESULTS.rglob("baselines*.json"), *RESULTS.rglob("generative/*.json")]):
        if stamp(result):
            print(f"stamped {result.relative_to(REPO)}")
