"""The demo's generative run: a fixed step count, the wall clock as a cap, a summary that flags a cut-short
run, and the servable run directory it leaves behind with the `genrec serve` command that serves it."""

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from genrec.cli import app
from genrec.errors import ConfigError
from genrec.serving import server
from genrec.serving.service import Query, RecommendService
from genrec.workflows import demo_generative as demo_module
from genrec.workflows.demo import DemoConfig, run_demo
from genrec.workflows.demo_generative import (
    CUT_SHORT_WARNING,
    demo_generative,
    install_run_directory,
    training_summary,
)


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


def _printed_serve_command(output: str) -> list[str]:
    """The argv of the one `genrec serve` command the demo printed."""
    lines = [line for line in output.splitlines() if "genrec serve --model" in line]
    assert len(lines) == 1, output
    argv = shlex.split(lines[0].split(": ", 1)[1])
    assert argv[:3] == ["genrec", "serve", "--model"] and len(argv) == 4
    return argv


def _serve_through_the_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """Run the printed command through the real CLI, catching the app it hands to uvicorn (no port bound)."""
    served: dict[str, Any] = {}
    monkeypatch.setattr(server.uvicorn, "run", lambda application, **_: served.setdefault("app", application))
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    application: FastAPI = served["app"]
    return application


@pytest.mark.slow
def test_demo_leaves_a_run_directory_that_its_printed_command_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slow on purpose (47 s on the shared 2-core machine): the real demo path, at 3 optimiser steps and one
    # SASRec epoch, so the run directory checked is the trained generative model itself; the semantic-ID fit
    # and the full test evaluation take most of the time.
    console = Console(record=True, width=100)
    summary = run_demo(
        DemoConfig(train_steps=3, sasrec_epochs=1), output_dir=tmp_path / "demo", console=console
    )
    argv = _printed_serve_command(console.export_text())
    model_dir = Path(argv[3])
    assert model_dir == tmp_path / "demo" / "model" and summary["model_dir"] == str(model_dir)
    assert json.loads((tmp_path / "demo" / "summary.json").read_text())["model_dir"] == str(model_dir)

    service = RecommendService.from_run(model_dir)
    assert service.model_name == "generative" and len(service.catalogue) == 1682
    history = service.resolve(["50", "Star Wars (1977)", "181"])
    (ranked,) = service.recommend_batch([Query(history=history, k=5)])
    assert len(ranked.items) == 5 and not set(ranked.items) & set(history)

    with TestClient(_serve_through_the_cli(argv, monkeypatch)) as client:
        answer = client.post("/v1/recommend", json={"history": ["50", "181"], "k": 5})
        assert answer.status_code == 200, answer.text
        ids = [item["id"] for item in answer.json()["items"]]
        assert len(ids) == 5 and not {"50", "181"} & set(ids)


def test_demo_without_the_generative_part_leaves_a_servable_popularity_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(app, ["demo", "--no-generative", "--output-dir", str(tmp_path / "a b")])
    assert result.exit_code == 0, result.output
    argv = _printed_serve_command(result.output)
    assert Path(argv[3]) == tmp_path / "a b" / "model"  # quoted: the path has a space
    with TestClient(_serve_through_the_cli(argv, monkeypatch)) as client:
        answer = client.post("/v1/recommend", json={"history": ["50"], "k": 3})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == 3


def _fake_run(directory: Path, marker: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "model.json").write_text("{}")
    (directory / "weights").write_text(marker)
    return directory


def test_a_new_demo_model_replaces_the_previous_one_and_leaves_no_scratch(tmp_path: Path) -> None:
    destination = _fake_run(tmp_path / "out" / "model", "old")
    assert install_run_directory(_fake_run(tmp_path / "new", "new"), destination) is None
    assert (destination / "weights").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model"]


def test_a_previous_model_holding_files_of_the_user_is_kept_aside_not_deleted(tmp_path: Path) -> None:
    # `genrec serve` keeps its event store beside the weights: a new demo must not delete recorded events
    destination = _fake_run(tmp_path / "out" / "model", "old")
    (destination / "events.sqlite").write_text("recorded events")
    kept = install_run_directory(_fake_run(tmp_path / "new", "new"), destination)
    assert kept is not None and kept.parent == destination.parent and kept.name.startswith("model.replaced-")
    assert (kept / "events.sqlite").read_text() == "recorded events" and (
        kept / "weights"
    ).read_text() == "old"
    assert (destination / "weights").read_text() == "new" and not (destination / "events.sqlite").exists()


def test_a_swap_killed_half_way_gets_the_old_model_back_before_anything_is_deleted(tmp_path: Path) -> None:
    # killed after moving the old model aside, before the new one was moved in
    _fake_run(tmp_path / "out" / "model.outgoing", "old")
    incoming = tmp_path / "out" / "model.incoming"
    incoming.mkdir()
    demo_module.check_run_destination(tmp_path / "out" / "model")  # nothing there yet: allowed
    install_run_directory(_fake_run(tmp_path / "new", "new"), tmp_path / "out" / "model")
    assert (tmp_path / "out" / "model" / "weights").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model"]


def test_the_demo_refuses_to_replace_a_folder_that_is_not_a_run_directory(tmp_path: Path) -> None:
    precious = tmp_path / "out" / "model"
    precious.mkdir(parents=True)
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"not a run directory.*--output-dir"):
        install_run_directory(_fake_run(tmp_path / "new", "new"), precious)
    # run_demo checks before any training, so the mistake costs seconds
    with pytest.raises(ConfigError, match="not a run directory"):
        run_demo(DemoConfig(generative=False), output_dir=tmp_path / "out", console=Console(quiet=True))
    assert (precious / "notes.txt").read_text() == "mine"
