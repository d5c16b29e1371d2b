"""Every benchmark script takes config values as ``--set dotted.key=value``, the syntax of the CLI.

The table of record writes the commands that rebuild its rows, so those commands must use the same
syntax; and the scripts import their siblings by name (``python benchmarks/NAME.py`` puts benchmarks/ on
the path; pytest's ``pythonpath`` does the same here), with no ``sys.path`` edits of their own.
"""

from __future__ import annotations

import re

from benchmark_scripts import BENCHMARKS, load_script

from genrec.training.provenance import config_sha

RECIPE = "beauty-prebuilt-compact"


def test_the_generative_script_takes_repeated_set_values() -> None:
    parser = load_script("generative").build_parser()
    args = parser.parse_args(
        [
            "--dataset",
            "beauty",
            "--ids",
            "prebuilt",
            "--set",
            "training.lr=0.004",
            "--set",
            "training.epochs=3",
        ]
    )
    assert args.overrides == ["training.lr=0.004", "training.epochs=3"]


def test_the_recorded_command_rebuilds_the_same_row_identity() -> None:
    overrides = ["training.lr=0.004", "training.eval_every=2000", "training.num_threads=2"]
    payload = {
        "recipe": RECIPE,
        "dataset": "beauty",
        "overrides": overrides,
        "runs": [{"seed": 0, "train_s": 1.0}],
    }
    command, _ = load_script("record").generative_command(payload, [0])
    assert "--set training.lr=0.004 --set training.eval_every=2000" in command
    assert "--threads 2" in command and "--override" not in command
    # what the command sets (its --max-minutes is the recipe's own budget) resolves to the row's config
    values = re.findall(r"--set (\S+)", command)
    minutes = re.search(r"--max-minutes (\S+)", command)
    replayed = [
        *values,
        "training.num_threads=2",
        *([f"training.max_minutes={minutes[1]}"] if minutes else []),
    ]
    assert config_sha(RECIPE, replayed) == config_sha(RECIPE, overrides) is not None


def test_no_script_edits_sys_path_or_takes_override() -> None:
    for script in sorted(BENCHMARKS.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        assert "sys.path" not in text, script.name
        assert '"--override"' not in text, script.name
