"""A benchmark row's identity is its resolved config: speed settings aside, any changed value changes it."""

from __future__ import annotations

from genrec.training.provenance import config_sha

RECIPE = "office-atomic-compact"


def test_config_identity_ignores_speed_settings_only() -> None:
    bare = config_sha(RECIPE, [])
    assert bare is not None and len(bare) == 12
    assert config_sha(RECIPE, ["training.num_threads=2", "seed=3", "training.progress=false"]) == bare
    assert config_sha(RECIPE, ["training.lr=0.001"]) != bare
    assert config_sha(RECIPE, ["training.max_minutes=5"]) != bare  # a budget changes the model
    assert config_sha(RECIPE, ["backbone.hidden_dropout=0.2"]) != bare


def test_a_field_added_later_keeps_earlier_rows_current_at_its_old_behaviour() -> None:
    bare = config_sha(RECIPE, ["training.max_minutes=5"])
    assert config_sha(RECIPE, ["training.max_minutes=5", "training.schedule_clock=steps"]) == bare
    assert config_sha(RECIPE, ["training.max_minutes=5", "training.schedule_clock=budget"]) != bare


def test_a_recipe_or_override_that_no_longer_loads_has_no_identity() -> None:
    assert config_sha("no-such-recipe", []) is None
    assert config_sha(RECIPE, ["training.no_such_key=1"]) is None


def test_ema_decay_off_keeps_rows_recorded_before_it_current() -> None:
    bare = config_sha(RECIPE, [])
    assert config_sha(RECIPE, ["training.ema_decay=0.0"]) == bare
    assert config_sha(RECIPE, ["training.ema_decay=0.999"]) != bare


def test_plain_loss_temperature_keeps_rows_recorded_before_it_current() -> None:
    bare = config_sha(RECIPE, [])
    assert config_sha(RECIPE, ["training.loss_temperature=1.0"]) == bare
    assert config_sha(RECIPE, ["training.loss_temperature=0.5"]) != bare


def test_confirm_users_off_keeps_rows_recorded_before_it_current() -> None:
    bare = config_sha(RECIPE, [])
    assert config_sha(RECIPE, ["training.confirm_users=0"]) == bare
    assert config_sha(RECIPE, ["training.confirm_users=20000"]) != bare
