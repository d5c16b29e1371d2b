"""Paired comparison of two evaluation runs on the same users: bootstrap CI, paired t-test, Wilcoxon.

Several runs per side (one per seed) are pooled: run i of A is paired with run i of B (the same seed), each
user's difference is averaged over the seeds, and the users, the independent units, are what the
bootstrap and the tests resample. A claim that B beats A over seeds rests on that interval excluding zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from genrec.errors import DataError

PER_USER_FILE = "per_user.parquet"


@dataclass(frozen=True)
class Comparison:
    """Difference B - A of a per-user metric, with a paired bootstrap CI and two paired tests."""

    metric: str
    users: int
    mean_a: float
    mean_b: float
    mean_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_pvalue: float
    seeds: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_per_user(run: Path) -> pd.DataFrame:
    """Per-user results of a run directory (or a Parquet/CSV file given directly)."""
    path = Path(run)
    if path.is_dir():
        path = path / PER_USER_FILE
    if not path.is_file():
        raise DataError("per-user results not found", path=path)
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def paired_comparison(
    a: np.ndarray,
    b: np.ndarray,
    metric: str = "metric",
    *,
    n_bootstrap: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Compare paired per-user values ``a`` and ``b`` (same users, same order)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"need two equal-length 1-D arrays of >= 2 users, got {a.shape} and {b.shape}")
    diff = b - a
    rng = np.random.default_rng(seed)
    means = np.empty(n_bootstrap)
    for lo in range(0, n_bootstrap, 1000):  # chunks keep memory bounded on large user sets
        n = min(1000, n_bootstrap - lo)
        means[lo : lo + n] = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    if np.all(diff == 0):
        t_stat, t_p, w_p = 0.0, 1.0, 1.0
    else:
        t_res = stats.ttest_rel(b, a)
        t_stat, t_p = float(t_res.statistic), float(t_res.pvalue)
        w_p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    return Comparison(
        metric=metric,
        users=len(a),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_difference=float(diff.mean()),
        ci_low=float(low),
        ci_high=float(high),
        confidence=confidence,
        t_statistic=t_stat,
        t_pvalue=t_p,
        wilcoxon_pvalue=w_p,
    )


def _runs(runs: Path | Sequence[Path]) -> list[Path]:
    return [Path(runs)] if isinstance(runs, str | Path) else [Path(r) for r in runs]


def _user_values(run: Path, metric: str, side: str) -> pd.DataFrame:
    frame = read_per_user(run)
    if metric not in frame.columns or "user" not in frame.columns:
        raise DataError(f"{side} run {run} has no per-user column {metric!r}", path=run, field=metric)
    if frame["user"].duplicated().any():
        raise DataError(
            f"{side} run {run} lists a user twice; per-user files hold one row per user", path=run
        )
    return frame[["user", metric]]


def pooled_differences(
    runs_a: Path | Sequence[Path], runs_b: Path | Sequence[Path], metric: str = "ndcg@10"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-user ``metric`` of A and of B, each averaged over the paired seeds, and the number of seeds.

    ``runs_a[i]`` and ``runs_b[i]`` are the same seed of the two configurations; every pair must cover the
    same users (the same split), or the comparison would not be paired.
    """
    side_a, side_b = _runs(runs_a), _runs(runs_b)
    if not side_a or len(side_a) != len(side_b):
        raise DataError(
            f"pair the runs seed by seed: got {len(side_a)} run(s) for A and {len(side_b)} for B; "
            "give the same seeds, in the same order, on both sides"
        )
    pairs = []
    for seed, (run_a, run_b) in enumerate(zip(side_a, side_b, strict=True)):
        frame_a, frame_b = _user_values(run_a, metric, "A"), _user_values(run_b, metric, "B")
        merged = frame_a.merge(frame_b, on="user", suffixes=("_a", "_b"))
        if len(merged) != len(frame_a) or len(merged) != len(frame_b):
            raise DataError(
                f"{run_a} and {run_b} cover different users ({len(frame_a)} vs {len(frame_b)}, "
                f"{len(merged)} shared); compare runs on the same split"
            )
        pairs.append(merged.assign(seed=seed))
    pooled = pd.concat(pairs).groupby("user")[[f"{metric}_a", f"{metric}_b"]].mean()
    if len(pairs) > 1 and (pd.concat(pairs).groupby("user").size() != len(pairs)).any():
        raise DataError("the seeds cover different users; compare runs on the same split")
    return pooled[f"{metric}_a"].to_numpy(), pooled[f"{metric}_b"].to_numpy(), len(pairs)


def compare_runs(
    run_a: Path | Sequence[Path],
    run_b: Path | Sequence[Path],
    metric: str = "ndcg@10",
    *,
    n_bootstrap: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Paired comparison of ``metric`` between two runs' per-user results (users matched by id); with
    several runs per side, pooled over the seeds (see `pooled_differences`)."""
    a, b, seeds = pooled_differences(run_a, run_b, metric)
    result = paired_comparison(a, b, metric, n_bootstrap=n_bootstrap, seed=seed)
    return Comparison(**{**result.to_dict(), "seeds": seeds})


def compare_command(
    run_a: Path | Sequence[Path],
    run_b: Path | Sequence[Path],
    metric: str = "ndcg@10",
    n_bootstrap: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """`genrec compare RUN_A RUN_B`: print and return the paired comparison of B against A (several runs
    per side: pooled over seeds, run i of A paired with run i of B)."""
    from rich.console import Console

    result = compare_runs(run_a, run_b, metric, n_bootstrap=n_bootstrap, seed=seed)
    pct = round(result.confidence * 100)
    Console().print(
        f"{metric}: A {result.mean_a:.4f}, B {result.mean_b:.4f}, B - A {result.mean_difference:+.4f} "
        f"({pct}% paired bootstrap CI [{result.ci_low:+.4f}, {result.ci_high:+.4f}]); "
        f"paired t-test p = {result.t_pvalue:.3g}, Wilcoxon p = {result.wilcoxon_pvalue:.3g} "
        f"({result.users} users" + (f", {result.seeds} seeds pooled)" if result.seeds > 1 else ")")
    )
    return result.to_dict()
