"""benchmarks/conversation.py: the scripted user and its figures, on a tiny catalogue (no real LM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.recommenders.conversation_state import CatalogueFacets
from genrec.recommenders.popularity import PopularityRecommender
from recommenders.conversation_fixtures import make_parser

bench = load_script("conversation")
GENRES = ("Comedy", "Drama", "Horror", "Action", "Western")
BRANDS = ("Acme", "Zeta", "Orbit", "Nova")


def catalogue(n: int = 40) -> Catalogue:
    """Item j: genres j%5 and (j+1)%5 (item 0: Comedy, Drama), brand j%4 (none for j%7 == 6)."""
    records = {
        f"m{j}": {
            "title": f"Show {j}",
            "categories": f"{GENRES[j % 5]}, {GENRES[(j + 1) % 5]}",
            "brand": "" if j % 7 == 6 else BRANDS[j % 4],
        }
        for j in range(n)
    }
    return Catalogue.from_records(list(records), records)


@pytest.fixture(scope="module")
def world() -> tuple[CatalogueFacets, PopularityRecommender]:
    cat = catalogue()
    n = len(cat)
    model = PopularityRecommender(seed=0)
    model.fit(TrainData(cat, [list(range(0, n - u)) for u in range(n)], tuple(f"u{u}" for u in range(n))))
    return CatalogueFacets(cat), model  # popularity falls with the index


def test_reveals_are_true_new_and_never_name_the_target(world: tuple) -> None:
    facets, _ = world
    rng = np.random.default_rng(0)
    said: set = set()
    target, shown = 33, list(range(10))
    seen = []
    while (found := bench.reveal(target, shown, said, facets, rng)) is not None:
        action, text = found
        seen.append((action.kind, action.value))
        assert "show 33" not in text and action.value in text
        if action.kind == "include category":
            assert action.value in facets.categories[target]
        elif action.kind == "exclude category":
            assert action.value not in facets.categories[target]
            assert any(action.value in facets.categories[i] for i in shown)  # reacts to what is shown
        elif action.kind == "include brand":
            assert action.value == facets.brands[target]
        else:
            assert action.value != facets.brands[target]
    assert len(seen) == len(set(seen)) == 2 + 1 + 3 + 3  # 2 genres, brand, 3 other genres, 3 other brands


def test_oracle_conversations_find_targets_one_shot_misses(world: tuple) -> None:
    facets, model = world
    targets = [25, 33, 38, 3]
    result = bench.simulate(model, facets, [[0, 1]] * 4, targets, bench.oracle_chooser, turns=5)
    fig = bench.figures(result, 5)
    assert fig["one_shot_hr@10"] == 0.25  # only item 3 is in the popular top-10 (after 0, 1)
    assert result["success_turn"][3] == 0
    assert fig["success_within_turns"] > fig["one_shot_hr@10"]
    assert fig["success_curve"] == sorted(fig["success_curve"]) and len(fig["success_curve"]) == 6
    assert fig["action_accuracy"] == 1.0 and fig["turns_taken"] == len(result["records"])
    assert all(r["user"] != 3 for r in result["records"])  # a user stops at its first success
    done = [s for s in result["success_turn"] if s is not None]
    assert fig["mean_turns_to_success"] == pytest.approx(np.mean(done))


def test_lm_parser_turns_are_scored_against_the_intended_action(world: tuple, tmp_path: Path) -> None:
    facets, model = world
    parser = make_parser(tmp_path / "lm", facets.catalogue)
    result = bench.simulate(model, facets, [[0]] * 3, [20, 30, 35], bench.parser_chooser(parser), turns=2)
    for r in result["records"]:
        assert r["correct"] == (r["parsed"] == [r["intended"]])
        assert r["ms"] > 0
        assert all(p.split()[-1] == r["intended"].split()[-1] for p in r["parsed"])  # same grounded value
    fig = bench.figures(result, 2)
    assert 0.0 <= fig["action_accuracy"] <= 1.0


def test_summary_and_markdown(world: tuple) -> None:
    facets, model = world
    runs = []
    for seed in (0, 1):
        res = bench.simulate(
            model, facets, [[0]] * 4, [25, 33, 38, 3], bench.oracle_chooser, turns=3, seed=seed
        )
        fig = bench.figures(res, 3)
        runs.append({"seed": seed, "train_wall_time_s": 1.0, "simulation_wall_time_s": 2.0,
                     "lm_parser": fig, "oracle_parser": fig})  # fmt: skip
    summary = bench.summarise(runs)
    gain = 100 * (runs[0]["lm_parser"]["success_within_turns"] - runs[0]["lm_parser"]["one_shot_hr@10"])
    assert summary["lm_parser"]["gain_points"][0] == pytest.approx(
        np.mean(
            [100 * (r["lm_parser"]["success_within_turns"] - r["lm_parser"]["one_shot_hr@10"]) for r in runs]
        )
    )
    assert gain >= 0
    results = {"command": "c", "commit": "x", "threads": 1, "users": 4, "turns": 3,
               "datasets": {"tiny": {"runs": runs, "summary": summary}}}  # fmt: skip
    text = bench.markdown(results)
    assert "| tiny | 2 | LM |" in text and "success within 3 turns" in text and "t3" in text


def test_a_run_of_one_dataset_keeps_the_others(tmp_path: Path) -> None:
    from types import SimpleNamespace

    path = tmp_path / "conversation.json"
    args = SimpleNamespace(threads=1, users=4, turns=3, datasets=["b"])
    assert bench.merged_results(path, "cmd b", args)["datasets"] == {}  # no file yet
    path.write_text(
        '{"command": "cmd a", "commit": "c1", "threads": 1, "users": 4, "turns": 3, '
        '"datasets": {"a": {"runs": []}, "b": {"runs": [1]}}}'
    )
    merged = bench.merged_results(path, "cmd b", args)
    assert merged["datasets"] == {"a": {"runs": []}} and merged["command"] == "cmd a && cmd b"
    other = SimpleNamespace(threads=1, users=5, turns=3, datasets=["b"])
    assert bench.merged_results(path, "cmd b", other)["datasets"] == {}  # other settings: not comparable
