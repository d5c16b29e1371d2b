"""`genrec.evaluation.compare` pooled over seeds: run i of A pairs with run i of B, users are the units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.errors import DataError
from genrec.evaluation.compare import compare_runs, pooled_differences

USERS = [f"u{i}" for i in range(400)]


def _write(path: Path, values: np.ndarray, users: list[str] = USERS) -> Path:
    pd.DataFrame({"user": users, "ndcg@10": values}).to_parquet(path, index=False)
    return path


def _seeds(tmp_path: Path, side: str, shifts: list[float], rng: np.random.Generator) -> list[Path]:
    base = rng.uniform(0.0, 1.0, size=len(USERS))
    return [_write(tmp_path / f"{side}{s}.parquet", base + shift) for s, shift in enumerate(shifts)]


def test_each_user_is_averaged_over_the_paired_seeds(tmp_path: Path) -> None:
    a0 = _write(tmp_path / "a0.parquet", np.zeros(len(USERS)))
    a1 = _write(tmp_path / "a1.parquet", np.ones(len(USERS)))
    # B lists its users in another order: pairing is by user id, not by row
    b0 = _write(tmp_path / "b0.parquet", np.full(len(USERS), 0.5), users=USERS[::-1])
    b1 = _write(tmp_path / "b1.parquet", np.full(len(USERS), 2.5))
    a, b, seeds = pooled_differences([a0, a1], [b0, b1])
    assert seeds == 2 and len(a) == len(USERS)
    np.testing.assert_allclose(a, 0.5)
    np.testing.assert_allclose(b, 1.5)


def test_a_difference_hidden_by_seed_noise_in_one_seed_shows_when_pooled(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    runs_a = _seeds(tmp_path, "a", [0.0, 0.0, 0.0], rng)
    runs_b = [
        _write(tmp_path / f"b{s}.parquet", pd.read_parquet(run)["ndcg@10"].to_numpy() + 0.01 + noise)
        for s, (run, noise) in enumerate(
            zip(runs_a, [rng.normal(0, 0.2, len(USERS)) for _ in runs_a], strict=True)
        )
    ]
    pooled = compare_runs(runs_a, runs_b, n_bootstrap=2000)
    single = compare_runs(runs_a[0], runs_b[0], n_bootstrap=2000)
    assert pooled.seeds == 3 and single.seeds == 1
    assert pooled.users == len(USERS)
    # averaging three seeds shrinks the interval by about sqrt(3)
    assert (pooled.ci_high - pooled.ci_low) < 0.75 * (single.ci_high - single.ci_low)
    assert pooled.mean_difference == pytest.approx(
        np.mean(
            [
                single.mean_difference,
                *[compare_runs(a, b).mean_difference for a, b in zip(runs_a[1:], runs_b[1:], strict=True)],
            ]
        )
    )


def test_unpaired_seed_lists_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    runs_a, runs_b = _seeds(tmp_path, "a", [0.0, 0.0], rng), _seeds(tmp_path, "b", [0.0], rng)
    with pytest.raises(DataError, match="1 for B"):
        compare_runs(runs_a, runs_b)


def test_a_seed_on_other_users_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    runs_a = _seeds(tmp_path, "a", [0.0, 0.0], rng)
    other = _write(
        tmp_path / "other.parquet", np.zeros(len(USERS)), users=[f"v{i}" for i in range(len(USERS))]
    )
    with pytest.raises(DataError, match="different users"):
        compare_runs(runs_a, [runs_a[0], other])


def test_a_missing_metric_names_the_run(tmp_path: Path) -> None:
    run = tmp_path / "a.parquet"
    pd.DataFrame({"user": USERS, "hr@10": 0.0}).to_parquet(run, index=False)
    with pytest.raises(DataError, match="ndcg@10"):
        compare_runs([run], [run])
