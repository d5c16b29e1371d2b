"""The demo's generative run: a fixed step count, the wall clock as a cap, and a summary that flags a cut-short run."""

from typing import Any

import pytest
from rich.console import Console

from genrec.errors import ConfigError
from genrec.training import demo as demo_module
from genrec.training.demo import CUT_SHORT_WARNING, demo_generative, training_summary


def test_training_summary_names_steps_epochs_ending_and_kept_step() -> None:
    line = training_summary(
        {"steps": 12345, "epochs": 7, "wall_time_s": 239.6, "stopped": "early_stopping", "best_step": 12000}
    )
    assert (
        line
        == "trained 12,345 steps (7 epochs) in 240 s, ending: early_stopping; weights kept from step 12000"
    )


def test_training_summary_without_a_record_says_so() -> None:
    assert training_summary({}) == "training: no record"


def test_a_run_the_time_cap_cut_short_is_flagged_and_a_completed_one_is_not() -> None:
    record = {"steps": 692, "epochs": 8, "wall_time_s": 300.2, "best_step": 692}
    cut = training_summary({**record, "stopped": "time_budget"})
    assert cut.endswith(CUT_SHORT_WARNING) and "ending: time_budget" in cut
    assert CUT_SHORT_WARNING not in training_summary({**record, "steps": 800, "stopped": "completed"})


@pytest.mark.parametrize(
    ("backbone", "max_steps", "expected"), [("compact", 0, 800), ("smollm2", 0, 60), ("compact", 123, 123)]
)
def test_demo_trains_a_fixed_step_count_with_the_minutes_as_a_cap(
    monkeypatch: pytest.MonkeyPatch, backbone: str, max_steps: int, expected: int
) -> None:
    seen: dict[str, Any] = {}

    class Stop(Exception):
        pass

    def fake_train_and_evaluate(config: Any, out: Any, **kwargs: Any) -> None:
        seen["training"], seen["seed"] = config.training, config.seed
        raise Stop

    monkeypatch.setattr(demo_module, "train_and_evaluate", fake_train_and_evaluate)
    with pytest.raises(Stop):
        demo_generative(
            seed=3, max_steps=max_steps, max_minutes=2.5, backbone=backbone, console=Console(quiet=True)
        )
    assert seen["training"].max_steps == expected
    assert seen["training"].max_minutes == 2.5 and seen["seed"] == 3
    # the schedule is laid out over the steps, not over the wall clock
    assert seen["training"].schedule_clock == "steps"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_steps": -1}, "max_steps"),
        ({"max_minutes": 0}, "max_minutes"),
        ({"backbone": "gpt"}, "backbone"),
    ],
)
def test_demo_generative_rejects_bad_run_lengths(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        demo_generative(console=Console(quiet=True), **kwargs)
