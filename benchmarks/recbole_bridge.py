"""Cross-check against RecBole 1.2.1: export our split as atomic files, build RecBole's venv, run SASRec.

The export writes every user's full sequence with timestamp = position, so RecBole's leave-one-out split
(``LS: valid_and_test``, ordered by time) reproduces our split exactly; `run_recbole` verifies that from
the targets RecBole reports. RecBole is not a project dependency: it lives in its own venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from genrec.data import InteractionData, LeaveOneOutSplit
from genrec.errors import GenrecError

VENV = Path(os.environ.get("GENREC_RECBOLE_VENV", Path.home() / ".cache" / "genrec" / "recbole-venv"))
RUNNER = Path(__file__).with_name("recbole_runner.py")
# torch from the project's pin; numpy<2 because RecBole 1.2.1 uses np.float_ (removed in NumPy 2).
REQUIREMENTS = [
    ["torch==2.13.0"],
    [
        "numpy==1.26.4",
        "scipy",
        "pandas",
        "tqdm",
        "pyyaml",
        "colorlog==4.7.2",
        "colorama==0.4.4",
        "tabulate",
        "texttable",
        "psutil",
        "scikit-learn",
        "tensorboard",
        "thop",
        "plotly",
    ],
    ["--no-deps", "recbole==1.2.1"],  # its ray/hyperopt extras are not needed to train one model
]


def ensure_venv() -> Path:
    """Create the RecBole venv once (``python -m venv`` + pip); return its python."""
    python = VENV / "bin" / "python"
    if (
        python.is_file()
        and subprocess.run([python, "-c", "import recbole"], capture_output=True).returncode == 0
    ):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for req in REQUIREMENTS:
        subprocess.run([python, "-m", "pip", "install", "-q", *req], check=True)
    return python


def recbole_name(name: str) -> str:
    """The dataset name RecBole sees. Never a name RecBole knows itself: for ``ml-100k`` it would silently
    read its bundled copy (real timestamps, its own tie order) instead of our export."""
    return f"genrec_{name}"


def export_atomic(data: InteractionData, directory: Path, name: str | None = None) -> Path:
    """``<dir>/<name>/<name>.inter``: user, item, timestamp (= position in the user's sequence)."""
    name = name or data.name
    folder = directory / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user, seq in zip(data.users, data.sequences, strict=True):
        lines.extend(f"{user}\t{data.catalogue.id_of(i)}\t{t}" for t, i in enumerate(seq))
    path = folder / f"{name}.inter"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recbole_settings(
    dataset: str, data_path: Path, seed: int, epochs: int, threads: int, batch_size: int = 2048
) -> dict[str, Any]:
    """RecBole config: its SASRec defaults (CE loss, max_len 50), our split and our validation metric."""
    return {
        "dataset": dataset,
        "data_path": str(data_path),
        "seed": seed,
        "reproducibility": True,
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "MAX_ITEM_LIST_LENGTH": 50,
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [10, 20],
        "valid_metric": "NDCG@10",
        "epochs": epochs,
        "train_batch_size": batch_size,
        "stopping_step": 10,
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "checkpoint_dir": str(data_path / "saved"),
        "threads": threads,
    }


def run_recbole(
    split: LeaveOneOutSplit, seed: int, epochs: int, threads: int = 2, batch_size: int = 2048
) -> dict[str, Any]:
    """Train RecBole's SASRec on our split; raise if RecBole's test/valid targets differ from ours."""
    python = ensure_venv()
    data = split.data
    with tempfile.TemporaryDirectory(prefix="genrec-recbole-") as tmp:
        root = Path(tmp)
        name = recbole_name(data.name)
        export_atomic(data, root, name)
        cfg_path, out_path = root / "config.json", root / "out.json"
        cfg_path.write_text(json.dumps(recbole_settings(name, root, seed, epochs, threads, batch_size)))
        proc = subprocess.run(
            [python, str(RUNNER), str(cfg_path), str(out_path)],
            capture_output=True,
            text=True,
            cwd=root,  # RecBole writes log/ and log_tensorboard/ into cwd
        )
        if proc.returncode != 0:
            raise GenrecError(f"RecBole run failed:\n{proc.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(out_path.read_text())
    ids = data.catalogue.item_ids
    ours_test = {u: ids[int(t)] for u, t in zip(split.users, split.test_target, strict=True)}
    ours_valid = {u: ids[int(t)] for u, t in zip(split.users, split.valid_target, strict=True)}
    if out.pop("test_targets") != ours_test or out.pop("valid_targets") != ours_valid:
        raise GenrecError(f"{data.name}: RecBole's leave-one-out targets differ from ours")
    out["split_verified"] = True
    return out
