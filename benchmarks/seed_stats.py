"""Mean and sample standard deviation over seeds, the one way every benchmark aggregates its seeds.

Three seeds are a sample of the seeds one could have run, so the spread reported beside a mean is the sample
standard deviation (ddof=1), never the population one (ddof=0, which understates it by a factor of
sqrt(2/3) at three seeds). One seed has no spread: its std is ``None`` (shown as "–"), not 0.

    python benchmarks/seed_stats.py

restates the aggregates stored in the committed result JSON from the per-seed values they already hold
(no retraining): ``summary`` of every model in ``results/baselines*.json`` and ``rows`` of every
``results/generative/**/*.json``, and rewrites ``results/confirm_checkpoints/*.md``. It prints the files
it changed.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def mean_and_std(values: Iterable[float]) -> tuple[float, float | None]:
    """Mean and sample std (ddof=1) of per-seed values; std is None for a single value."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("no per-seed values to aggregate")
    return statistics.fmean(data), (statistics.stdev(data) if len(data) > 1 else None)


def format_mean_std(mean: float, std: float | None, fmt: str = "{:.4f}") -> str:
    """``mean ± std`` with the same format for both, or the mean alone when there is no spread."""
    return fmt.format(mean) if std is None else f"{fmt.format(mean)} ± {fmt.format(std)}"


def _write_if_changed(path: Path, text: str, changed: list[Path]) -> None:
    if path.read_text() != text:
        path.write_text(text)
        changed.append(path)


def _dump(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=1) + "\n"


def _script(name: str) -> Any:
    """The benchmark script ``benchmarks/<name>.py`` as a module, loaded by path under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", Path(__file__).parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def restate(results: Path = RESULTS) -> list[Path]:
    """Recompute every stored aggregate under ``results`` from its per-seed values; the files changed."""
    baselines, confirm_checkpoints, generative = (
        _script(n) for n in ("baselines", "confirm_checkpoints", "generative")
    )

    changed: list[Path] = []
    for path in sorted(results.rglob("baselines*.json")):
        payload = json.loads(path.read_text())
        for models in payload.get("datasets", {}).values():
            for entry in models.values():
                entry["summary"] = baselines.summarise(entry["runs"])
        _write_if_changed(path, _dump(payload), changed)
        if path.with_suffix(".md").is_file():
            _write_if_changed(path.with_suffix(".md"), baselines.markdown(payload), changed)
    for path in sorted(results.rglob("generative/*.json")):
        payload = json.loads(path.read_text())
        if payload.get("runs"):
            payload["rows"] = {payload["recipe"]: generative.summary(payload["runs"])}
            _write_if_changed(path, _dump(payload), changed)
    for path in sorted(results.rglob("confirm_checkpoints/*.json")):
        rows = json.loads(path.read_text())["rows"]
        markdown = confirm_checkpoints.table(path.stem, rows)
        if path.with_suffix(".md").is_file():
            _write_if_changed(path.with_suffix(".md"), markdown, changed)
    return changed


if __name__ == "__main__":
    for changed_path in restate():
        print(f"restated {changed_path.relative_to(RESULTS.parent.parent)}")
