"""`genrec demo`'s configuration and its SASRec summary line."""

import pytest

from genrec.errors import ConfigError
from genrec.workflows.demo import DemoConfig, sasrec_summary
from genrec.workflows.demo_generative import CUT_SHORT_WARNING


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_minutes": 6.5, "sasrec_minutes": 2.0}, "add up to at most 8"),
        ({"train_minutes": 0.0}, "must be > 0"),
        ({"sasrec_minutes": 0.0}, "must be > 0"),
        ({"train_steps": -1}, "train_steps"),
        ({"sasrec_epochs": 0}, "sasrec_epochs"),
        ({"backbone": "gpt2"}, "backbone"),
    ],
)
def test_demo_config_rejects_settings_that_break_the_ten_minute_promise(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DemoConfig(**kwargs)


def test_demo_config_defaults_are_fixed_run_lengths_within_the_caps() -> None:
    config = DemoConfig()
    assert config.train_steps == 0 and config.sasrec_epochs == 20
    assert config.train_minutes + config.sasrec_minutes <= 8
    # without the generative part the caps are not used, so they are not checked
    assert DemoConfig(generative=False, train_minutes=60.0).train_minutes == 60.0


def test_sasrec_summary_flags_a_run_the_time_cap_cut_short() -> None:
    log = {"epochs": 11, "wall_time_s": 123.4, "best_epoch": 11}
    cut = sasrec_summary({**log, "stopped": "time budget"})
    assert cut.startswith("SASRec: 11 epochs in 123 s, ending: time budget; weights kept from epoch 11")
    assert cut.endswith(CUT_SHORT_WARNING)
    done = sasrec_summary({**log, "epochs": 20, "best_epoch": 18, "stopped": "epochs"})
    assert done == "SASRec: 20 epochs in 123 s, ending: epochs; weights kept from epoch 18"
