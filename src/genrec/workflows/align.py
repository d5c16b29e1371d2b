"""`genrec align`: preference-train (DPO / S-DPO) or RL-train (GRPO) a saved generative run into a new run directory.

Reloads the dataset the SFT run recorded (``model.json``), split as the run's recipe splits it, builds a
`PreferenceConfig` from ``key=value`` overrides, and calls
`genrec.recommenders.generative_preference.align_run`; the new run evaluates (``genrec evaluate
--load-dir``) and serves like any other. Every epoch is checkpointed in the output directory, so re-running
the same command after a kill resumes; the record holds the beyond-accuracy measures of the SFT start
and of the aligned model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from genrec.config import apply_overrides
from genrec.data import leave_one_out, load_dataset
from genrec.errors import GenrecError
from genrec.recommenders.generative_io import CONFIG_FILE
from genrec.recommenders.generative_preference import align_run
from genrec.recommenders.run_dir import read_run_info
from genrec.training.config import config_from_dict
from genrec.training.preference_data import PreferenceConfig


def align_command(
    run_dir: Path,
    output_dir: Path,
    overrides: Sequence[str] = (),
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Preference-train the run ``run_dir`` into ``output_dir``; returns the preference record.

    ``overrides``: `PreferenceConfig` values as ``key=value`` (``objective=sdpo``, ``negatives=5``,
    ``objective=grpo``, ``group_size=8``).
    ``data_dir`` defaults to the one the run recorded.
    """
    run_dir = Path(run_dir)
    config = PreferenceConfig(**apply_overrides({}, overrides))
    info = read_run_info(run_dir)
    if info.dataset is None:
        raise GenrecError(f"{run_dir} records no dataset; save the SFT run with save_run(..., dataset=...)")
    if not (run_dir / CONFIG_FILE).is_file():
        raise GenrecError(f"{run_dir} has no {CONFIG_FILE}: not a generative run")
    recipe = config_from_dict(yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8")))
    source = data_dir if data_dir is not None else info.data_dir
    split = leave_one_out(load_dataset(info.dataset, source), max_history=recipe.data.max_history)
    return align_run(
        run_dir, Path(output_dir), config, split.train_data(), split.valid_set(), cache_dir=cache_dir
    )
