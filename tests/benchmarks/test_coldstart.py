"""`benchmarks/coldstart.py`: per-group figures on the new-item split, results merged by dataset and model."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from benchmark_scripts import load_script

from genrec.data import Catalogue, InteractionData
from genrec.data.new_items import new_item_split
from genrec.recommenders.base import Recommender
from genrec.recommenders.content import ContentConfig, ContentRecommender
from genrec.recommenders.registry import build_recommender
from recommenders.content_fixtures import fake_embed

NUM_ITEMS = 40
GROUPS = ("all", "new-target", "known-target")


@pytest.fixture
def script() -> ModuleType:
    return load_script("coldstart")


def _data(name: str, rng_seed: int, num_users: int = 80) -> InteractionData:
    """Random sequences of 4..10 distinct items; item n's title names n, so `fake_embed` gives it topic n % 4."""
    rng = np.random.default_rng(rng_seed)
    ids = [f"item {i}" for i in range(NUM_ITEMS)]
    catalogue = Catalogue.from_records(ids, {i: {"title": i} for i in ids})
    seqs = tuple(
        tuple(int(x) for x in rng.choice(NUM_ITEMS, size=int(rng.integers(4, 11)), replace=False))
        for _ in range(num_users)
    )
    return InteractionData(name, catalogue, tuple(f"u{u}" for u in range(num_users)), seqs)


def _factory(model: str, seed: int, dataset: str = "toy") -> Recommender:
    """Popularity from the registry; the content model with a fake embedder (no MiniLM in tests)."""
    if model == "content":
        return ContentRecommender(ContentConfig(seed=seed), embed=fake_embed)
    return build_recommender(model, seed=seed)


def _run(script: ModuleType, out: Path, datasets: dict[str, InteractionData], seeds: list[int]) -> dict:
    script.run_benchmark(datasets, ["popularity", "content"], seeds, _factory, output=out, log=lambda _: None)
    return json.loads((out / "coldstart.json").read_text())


def test_group_figures_match_the_split(script: ModuleType, tmp_path: Path) -> None:
    data = _data("toy", 0)
    sizes = new_item_split(data, fraction=0.1, seed=0).group_sizes()
    assert sizes["test/new-target"] > 0 and sizes["valid/new-target"] > 0, "the fixture needs new targets"
    results = _run(script, tmp_path, {"toy": data}, [0, 1])
    block = results["datasets"]["toy"]
    assert block["group_sizes"] == sizes and (block["fraction"], block["split_seed"]) == (0.1, 0)
    for model in ("popularity", "content"):
        entry = block["models"][model]
        assert [r["seed"] for r in entry["runs"]] == [0, 1]
        for run in entry["runs"]:
            for stage in ("valid", "test"):
                for group in GROUPS:
                    assert run[stage][group]["users"] == sizes[f"{stage}/{group}"]
        ndcg = [r["test"]["new-target"]["ndcg@10"] for r in entry["runs"]]
        assert entry["summary"]["test"]["new-target"]["ndcg@10"] == pytest.approx(
            [statistics.fmean(ndcg), statistics.stdev(ndcg)]
        )
    # The text model reaches items nobody trained on; their share is measured, not assumed.
    assert block["models"]["content"]["runs"][0]["test"]["all"]["new_item_share@10"] > 0


def test_per_user_files_hold_each_group(script: ModuleType, tmp_path: Path) -> None:
    data = _data("toy", 0)
    sizes = new_item_split(data, fraction=0.1, seed=0).group_sizes()
    results = _run(script, tmp_path, {"toy": data}, [0])
    run = results["datasets"]["toy"]["models"]["content"]["runs"][0]
    for stage in ("valid", "test"):
        frame = pd.read_parquet(tmp_path / "coldstart" / "per_user" / run["per_user"][stage])
        assert list(frame.columns) == ["user", "group", "rank", "hr@10", "ndcg@10"]
        assert frame["user"].is_unique
        counts = frame["group"].value_counts()
        assert counts["new-target"] == sizes[f"{stage}/new-target"]
        assert counts["known-target"] == sizes[f"{stage}/known-target"]
        for group in ("new-target", "known-target"):
            values = frame.loc[frame["group"] == group, "ndcg@10"]
            assert values.mean() == pytest.approx(run[stage][group]["ndcg@10"])


def test_a_second_dataset_is_merged_beside_the_first(script: ModuleType, tmp_path: Path) -> None:
    first = _run(script, tmp_path, {"one": _data("one", 0)}, [0, 1])
    merged = _run(script, tmp_path, {"two": _data("two", 1)}, [0])
    assert set(merged["datasets"]) == {"one", "two"}
    assert merged["datasets"]["one"] == first["datasets"]["one"]
    markdown = (tmp_path / "coldstart.md").read_text()
    assert "## one" in markdown and "## two" in markdown
    assert "Baselines: popularity, content (all rows)" in markdown
    assert f"items {NUM_ITEMS:,}" in markdown
    # Re-running a seed replaces its run instead of adding a second one.
    again = _run(script, tmp_path, {"one": _data("one", 0)}, [1])
    assert [r["seed"] for r in again["datasets"]["one"]["models"]["content"]["runs"]] == [0, 1]


def test_a_changed_split_is_refused(script: ModuleType, tmp_path: Path) -> None:
    _run(script, tmp_path, {"one": _data("one", 0)}, [0])
    with pytest.raises(SystemExit, match="another split"):
        _run(script, tmp_path, {"one": _data("one", 5)}, [0])


def test_registry_rows_get_their_options_and_threads(script: ModuleType) -> None:
    model = script.registry_factory(threads=1)("sasrec-ce", 3, "office")
    assert (model.config.loss, model.config.num_threads, model.config.seed) == ("ce", 1, 3)
    assert script.registry_factory(threads=1)("popularity", 0, "office").name == "popularity"
    for row, fusion in (("sasrec-text", "text-only"), ("sasrec-text-sum", "sum")):
        text = script.registry_factory(threads=1)(row, 0, "office")
        assert (text.name, text.config.fusion, text.config.loss) == ("sasrec-text", fusion, "ce")


def test_command_line_writes_json_and_markdown(script: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "data" / "office"
    root.mkdir(parents=True)
    data = _data("office", 2)
    (root / "Office.inter.json").write_text(
        json.dumps({u: list(s) for u, s in zip(data.users, data.sequences, strict=True)})
    )
    items = {
        str(i): {"title": f"item {i}", "description": "", "brand": "", "categories": ""}
        for i in range(NUM_ITEMS)
    }
    (root / "Office.item.json").write_text(json.dumps(items))
    args = ["--datasets", "office", "--models", "popularity", "--seeds", "0"]
    args += ["--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "out")]
    assert script.main(args) == 0
    results = json.loads((tmp_path / "out" / "coldstart.json").read_text())
    assert results["commands"] == ["python benchmarks/coldstart.py " + " ".join(args)]
    assert results["datasets"]["office"]["models"]["popularity"]["runs"][0]["threads"] == 1
    assert "| popularity | 1 | new-target |" in (tmp_path / "out" / "coldstart.md").read_text()


def test_a_model_missing_from_the_registry_is_refused_before_any_run(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(script.MODELS, "ghost", ("no-such-model", {}))
    with pytest.raises(SystemExit):
        script.main(["--datasets", "office", "--models", "ghost", "--output", str(tmp_path)])
    assert not (tmp_path / "coldstart.json").exists()


def test_new_item_cap_sweep_is_on_validation_and_bounds_the_share(script: ModuleType, tmp_path: Path) -> None:
    data = _data("toy", 0)
    script.run_benchmark(
        {"toy": data},
        ["content"],
        [0],
        _factory,
        output=tmp_path,
        log=lambda _: None,
        epsilons=[0.0, 0.1, 1.0],
    )
    results = json.loads((tmp_path / "coldstart.json").read_text())
    run = results["datasets"]["toy"]["models"]["content"]["runs"][0]
    sweep = run["new_item_cap"]
    assert set(sweep) == {"0", "0.1", "1"}
    # epsilon 1 is the model unchanged: the same validation figures as the uncapped row
    for group in GROUPS:
        assert sweep["1"][group]["ndcg@10"] == pytest.approx(run["valid"][group]["ndcg@10"])
    assert sweep["0"]["all"]["new_item_share@10"] == 0.0
    assert sweep["0"]["new-target"]["ndcg@10"] == 0.0  # a new target can no longer be recommended
    assert 0 < sweep["0.1"]["all"]["new_item_share@10"] <= 0.1
    assert "New-item cap (TIGER's epsilon) on `content`" in (tmp_path / "coldstart.md").read_text()


def test_the_blend_is_chosen_on_validation_and_the_sweep_agrees_with_the_evaluator(
    script: ModuleType, tmp_path: Path
) -> None:
    from genrec.recommenders.cold_start_blend import ColdStartBlendConfig, ColdStartBlendRecommender

    fast = {"epochs": 2, "patience": 1, "batch_size": 16, "num_threads": 1, "hidden_size": 16, "max_len": 8}

    def factory(model: str, seed: int, dataset: str) -> Recommender:
        if model == "cold-start-blend":
            config = ColdStartBlendConfig(seed=seed, adapter_hidden=8, **fast)
            return ColdStartBlendRecommender(config, embed=fake_embed)
        return build_recommender("sasrec", {"loss": "ce", **fast}, seed=seed)

    data = _data("toy", 0)
    script.run_benchmark(
        {"toy": data}, ["sasrec-ce", "cold-start-blend"], [0], factory, output=tmp_path, log=lambda _: None
    )
    block = json.loads((tmp_path / "coldstart.json").read_text())["datasets"]["toy"]
    floor = block["models"]["sasrec-ce"]["runs"][0]["valid"]["all"]["ndcg@10"]
    run = block["models"]["cold-start-blend"]["runs"][0]
    choice = run["blend_choice"]
    assert choice["floor"] == floor and len(choice["points"]) == 45
    # the sweep's figures for the chosen point are what the evaluator then measures on validation
    for group in GROUPS:
        assert run["valid"][group]["ndcg@10"] == pytest.approx(choice["valid_at_choice"][group]["ndcg@10"])
    cap = int(choice["chosen"]["epsilon"] * 10)
    assert run["test"]["all"]["new_item_share@10"] <= cap / 10 + 1e-9
    if choice["rule"].startswith("best new-target"):
        assert choice["valid_at_choice"]["all"]["ndcg@10"] >= floor
    md = (tmp_path / "coldstart.md").read_text()
    assert "choices made on validation users per seed" in md
    # paired against every reference whose per-user files exist (no content row was run here)
    compared = block["blend_comparisons"]
    assert set(compared) == {"sasrec-ce / all"}
    assert compared["sasrec-ce / all"]["users"] == block["group_sizes"]["test/all"]
    assert compared["sasrec-ce / all"]["mean_b"] == pytest.approx(run["test"]["all"]["ndcg@10"])
    assert "| sasrec-ce / all | 1 |" in md


def test_transfer_rows_and_merging_two_outputs(script: ModuleType, tmp_path: Path) -> None:
    """A model with ``transfer_to`` is scored on the other dataset's users after each seed; results that two
    processes wrote to their own folders merge into one, runs pooled by seed, commands without folders."""
    from genrec.data.split import TrainData
    from genrec.recommenders.popularity import PopularityRecommender

    moved_to: list[int] = []

    class Movable(PopularityRecommender):
        def transfer_to(self, catalogue: Catalogue) -> Recommender:
            moved_to.append(len(catalogue))
            other = PopularityRecommender()
            other.fit(TrainData(catalogue, [[0, 1, 2]], ("x",)))
            return other

    def factory(model: str, seed: int, dataset: str) -> Recommender:
        return Movable(seed=seed)

    source, target = _data("src", 0), _data("dst", 1)
    refs = {
        "popularity": {
            "uses_target_data": True,
            "valid": {"ndcg@10": 0.5},
            "test": {"hr@10": 0.5, "ndcg@10": 0.5},
        }
    }
    for seed, folder in ((0, "a"), (1, "b")):
        out = tmp_path / folder
        out.mkdir()
        (out / "coldstart.json").write_text(
            json.dumps(
                {"commands": [], "datasets": {}, "transfer": {"src:dst": {"runs": [], "references": refs}}}
            )
        )
        script.run_benchmark(
            {"src": source},
            ["popularity"],
            [seed],
            factory,
            output=out,
            command=f"python benchmarks/coldstart.py --seeds {seed} --output {out}",
            log=lambda _: None,
            transfer_targets={"src": source, "dst": target},
        )
    assert moved_to == [NUM_ITEMS, NUM_ITEMS]  # moved once per seed, to the other dataset only
    merged = script.merge_outputs([tmp_path / "a", tmp_path / "b"], tmp_path / "main")
    assert [r["seed"] for r in merged["datasets"]["src"]["models"]["popularity"]["runs"]] == [0, 1]
    runs = merged["transfer"]["src:dst"]["generative"]["popularity"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert all(0 <= r["test"]["ndcg@10"] <= 1 for r in runs)
    assert merged["commands"] == [f"python benchmarks/coldstart.py --seeds {s}" for s in (0, 1)]
    assert len(list((tmp_path / "main" / "coldstart" / "transfer").glob("*.parquet"))) == 2
    md = (tmp_path / "main" / "coldstart.md").read_text()
    assert "| src → dst | popularity (transferred) | no | 2 |" in md


def test_a_generative_row_on_three_seeds_gets_paired_comparisons(script: ModuleType, tmp_path: Path) -> None:
    per_user = tmp_path / "coldstart" / "per_user"
    per_user.mkdir(parents=True)
    rng = np.random.default_rng(0)
    users = np.arange(200)
    for seed in range(3):
        base = rng.uniform(0.0, 0.5, len(users))
        rows = {"sasrec-ce": base, "cold-start-blend": base + 0.01, "gen-atomic-smollm2": base + 0.05}
        for row, ndcg in rows.items():
            frame = pd.DataFrame({"user": users, "group": "known-target", "ndcg@10": ndcg})
            frame.to_parquet(per_user / f"office-{row}-seed{seed}-test.parquet")
    runs = [{"seed": s} for s in range(3)]
    models = {"sasrec-ce": {"runs": runs}, "gen-atomic-smollm2": {"runs": runs},
              "gen-semantic-compact": {"runs": runs[:1]}}  # fmt: skip
    results = {"datasets": {"office": {"models": models}}}
    assert script.refresh_comparisons(results, tmp_path, "office")
    compared = results["datasets"]["office"]["generative_comparisons"]
    assert list(compared) == ["gen-atomic-smollm2"]  # one seed supports no comparison
    versus_ce = compared["gen-atomic-smollm2"]["sasrec-ce / all"]
    assert versus_ce["seeds"] == 3 and versus_ce["mean_difference"] == pytest.approx(0.05)
    assert versus_ce["ci_low"] > 0
    assert "cold-start-blend / all" in compared["gen-atomic-smollm2"]
