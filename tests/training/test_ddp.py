"""The same training entry point under ``accelerate launch`` with 2 CPU processes (gloo, DDP)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from genrec.training import checkpoint as ckpt

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("run_tiny", HERE / "run_tiny.py")
assert _spec and _spec.loader
run_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tiny)


def launch_two_cpu_processes(port: int, *run_tiny_args: str) -> list[str]:
    """The ``accelerate launch`` command running run_tiny.py with ``run_tiny_args`` as 2 CPU processes.

    On a machine without GPUs, ``--multi_gpu`` starts torchrun-style workers and Accelerator picks
    MULTI_CPU with the gloo backend (``--cpu`` alone starts a single process in accelerate 1.15).
    """
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert launcher, "accelerate CLI not installed next to the interpreter"
    options = {
        "--num_processes": "2",
        "--num_machines": "1",
        "--mixed_precision": "no",
        "--dynamo_backend": "no",
        "--main_process_port": str(port),
    }
    flags = [part for option in options.items() for part in option]
    return [launcher, "launch", "--multi_gpu", *flags, str(HERE / "run_tiny.py"), *run_tiny_args]


@pytest.mark.slow
def test_two_cpu_processes_see_disjoint_data_and_write_one_checkpoint(tmp_path: Path) -> None:
    out, record = tmp_path / "ddp", tmp_path / "rows"
    steps = 8  # one epoch of the tiny data: 16 batches of 8 = 8 steps per rank
    cmd = launch_two_cpu_processes(29517, str(out), str(steps), "--record", str(record))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [json.loads(Path(f"{record}.{r}").read_text()) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    seen0, seen1 = Counter(ranks[0]["rows"]), Counter(ranks[1]["rows"])
    # The epoch's examples (some users share identical windows, hence a multiset).
    trainer = run_tiny.make_trainer(tmp_path / "unused", steps)
    examples, _ = trainer._epoch_batches(0)
    epoch = Counter(
        run_tiny.row_key(torch.tensor(e.input_ids), torch.ones(len(e.input_ids))) for e in examples
    )
    assert len(examples) == 2 * steps * 8  # one epoch = 8 steps per rank, no remainder dropped
    # every example of the epoch was trained exactly once, by exactly one of the two ranks
    assert seen0 + seen1 == epoch
    unique = {key for key, n in epoch.items() if n == 1}
    assert seen0.keys() & seen1.keys() & unique == set()
    assert sum(seen0.values()) == sum(seen1.values()) == steps * 8

    root = ckpt.checkpoints_root(out)
    dirs = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert dirs == [f"step-{steps:08d}"]  # exactly one checkpoint, written once (no leftovers)
    assert ckpt.read_pointer(out) == {"latest": f"step-{steps:08d}"}
    assert sorted(p.name for p in (root / dirs[0]).iterdir()) == [
        "model.safetensors",
        "rng-0.pt",
        "rng-1.pt",
        "state.pt",
    ]
    assert ckpt.load_state(root / dirs[0])["world_size"] == 2


@pytest.mark.slow
def test_sharded_engine_path_validates_on_every_rank_and_hands_back_the_best_weights(tmp_path: Path) -> None:
    """The DeepSpeed / FSDP code path, forced under 2-process DDP (those engines need GPUs): every rank
    runs validation (a rank-0-only forward would hang a sharded model), the best weights are gathered
    collectively, checkpoints hold accelerate's per-rank engine state, and each rank hands back a rebuilt
    unsharded model holding the best weights."""
    out, handed = tmp_path / "sharded", tmp_path / "weights"
    cmd = launch_two_cpu_processes(29519, str(out), "8", "--sharded", "--validate", "--weights", str(handed))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    latest, best = ckpt.committed(out, "latest"), ckpt.committed(out, "best")
    assert latest is not None and best is not None
    assert latest.name == "step-00000008"
    assert (latest / "engine").is_dir() and "optimizer" not in ckpt.load_state(latest)
    state = ckpt.load_state(latest)["trainer"]
    assert [row["step"] for row in state["history"]] == [4.0, 8.0]
    saved = load_file(str(best / ckpt.WEIGHTS))
    for rank in range(2):
        model = torch.load(f"{handed}.{rank}", weights_only=True)
        assert saved and all(torch.equal(saved[k], model[k]) for k in saved), rank
