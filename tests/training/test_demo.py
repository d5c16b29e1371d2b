"""The demo's one-line training summary: says how far a budget-bound run got."""

from genrec.training.demo import training_summary


def test_training_summary_names_steps_epochs_ending_and_kept_step() -> None:
    line = training_summary(
        {"steps": 12345, "epochs": 7, "wall_time_s": 239.6, "stopped": "time_budget", "best_step": 12000}
    )
    assert (
        line == "trained 12,345 steps (7 epochs) in 240 s, ending: time_budget; weights kept from step 12000"
    )


def test_training_summary_without_a_record_says_so() -> None:
    assert training_summary({}) == "training: no record"
