"""`recommend_command`: inputs from files and dataset splits, JSONL/Parquet output, sharding."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from genrec.errors import ConfigError, DataError
from genrec.serving.batch import recommend_command, shard_range


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("n,world", [(0, 2), (1, 3), (10, 3), (7, 7), (100, 8)])
def test_shards_partition_users_in_order(n: int, world: int) -> None:
    shards = [shard_range(n, world, r) for r in range(world)]
    assert [i for s in shards for i in s] == list(range(n))
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
    with pytest.raises(ConfigError):
        shard_range(n, world, world)


def write_histories(path: Path) -> Path:
    rows = [
        {"user": "alice", "history": ["i0", "Item Bravo 1"]},
        {"user": "bob", "history": []},
        {"user": "carol", "history": ["i5"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_in_jsonl_and_parquet_out(popularity_run: Path, tmp_path: Path) -> None:
    src = write_histories(tmp_path / "users.jsonl")
    summary = recommend_command(popularity_run, tmp_path / "out.jsonl", str(src), k=2, progress=False)
    assert summary["users"] == 3 and summary["processes"] == 1
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["user"] for r in rows] == ["alice", "bob", "carol"]
    assert rows[0]["items"] == ["i2", "i3"] and rows[0]["titles"] == ["Item Charlie 2", "Item Delta 3"]
    assert rows[1]["fallback"] == "popular" and rows[1]["items"] == ["i0", "i1"]
    assert rows[2]["items"] == ["i0", "i1"] and rows[2]["scores"][0] > rows[2]["scores"][1]
    recommend_command(popularity_run, tmp_path / "out.parquet", str(src), k=2, batch_size=1, progress=False)
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["items"] for r in table] == [r["items"] for r in rows]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_inputs_name_the_problem(popularity_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"history": ["i0"]}\n{"history": ["i0", "ghost"]}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2.*ghost"):
        recommend_command(popularity_run, tmp_path / "o.jsonl", str(bad), progress=False)
    bad.write_text('{"history": "i0"}\n')
    with pytest.raises(DataError, match="line 1"):
        recommend_command(popularity_run, tmp_path / "o.jsonl", str(bad), progress=False)
    with pytest.raises(ConfigError, match="SPLIT"):
        recommend_command(popularity_run, tmp_path / "o.jsonl", "train", progress=False)
    with pytest.raises(ConfigError, match=r"\.jsonl or \.parquet"):
        recommend_command(popularity_run, tmp_path / "o.csv", str(bad), progress=False)
    assert not (tmp_path / "o.jsonl").exists()


def test_dataset_split(tmp_path: Path) -> None:
    from genrec.data import leave_one_out, load_dataset
    from genrec.recommenders.popularity import PopularityRecommender
    from genrec.recommenders.run_dir import save_run

    split = leave_one_out(load_dataset("ml-100k"))
    model = PopularityRecommender()
    model.fit(split.train_data())
    run = save_run(model, split.data.catalogue, tmp_path / "run", dataset="ml-100k")
    out = tmp_path / "test.jsonl"
    summary = recommend_command(run, out, "test", k=5, batch_size=400, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["users"] == len(rows) == split.num_users
    first_history = {split.data.catalogue.id_of(i) for i in split.test_set().histories[0]}
    assert rows[0]["user"] == split.users[0] and not first_history & set(rows[0]["items"])


def test_two_process_run_merges_shards_in_order(popularity_run: Path, tmp_path: Path) -> None:
    src = write_histories(tmp_path / "users.jsonl")
    script = tmp_path / "run_batch.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\nfrom genrec.serving.batch import recommend_command\n"
        "print(recommend_command(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], k=2, progress=False))\n"
    )
    # torchrun sets the same RANK/WORLD_SIZE environment as `accelerate launch` does on GPUs
    # (accelerate's own multi-CPU launch goes through MPI, which is not installed here).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(_free_port()), str(script), str(popularity_run), str(tmp_path / "sharded.jsonl"), str(src)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'processes': 2" in proc.stdout
    recommend_command(popularity_run, tmp_path / "single.jsonl", str(src), k=2, progress=False)
    assert (tmp_path / "sharded.jsonl").read_text() == (tmp_path / "single.jsonl").read_text()
    assert not [p.name for p in tmp_path.iterdir() if ".part-" in p.name]
    print(f"2-process run took {time.perf_counter() - t0:.1f}s")
