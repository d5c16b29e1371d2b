"""Cold-start benchmark (issue 53): the baselines on the new-item split, per user group.

    python benchmarks/coldstart.py --datasets office scientific \\
        --models popularity content sasrec-ce sasrec-text --seeds 0 1 2 --threads 1

For each dataset, ``new_item_split(load_dataset(ds), fraction=0.1, seed=0)`` (docs/new-items.md; the split
seed is fixed and recorded, only the model seed varies) holds 10% of the catalogue out of every training
sequence. Each model is fitted on the split's training part, with the validation users for early stopping,
then scored with `genrec.evaluation.groups.evaluate_groups` on validation and on test: HR@10, NDCG@10,
users and the share of new items in the top 10, for all users, "new-target" users (the target is a new
item) and "known-target" users. Choices belong on the validation figures; test is reported once.

The ``gen-*`` rows train genrec's generative recipes on the known items and add the new ones through the
catalogue-update path (`grown_catalogue.py`); ``--transfer-to`` also scores such a model on another
dataset's users (zero-shot transfer). ``--merge DIR ...`` pools results other processes wrote with their own
``--output``.

Writes ``results/coldstart.json`` and ``results/coldstart.md`` (mean ± sample std over seeds, ddof=1),
merging into an existing file by dataset and model (other datasets' and models' rows are kept, a re-run seed
replaces its old run), and per-user Parquet files ``results/coldstart/per_user/<ds>-<model>-seed<S>-<stage>
.parquet`` (user, group, rank, hr@10, ndcg@10) that `genrec compare` pairs by user, pooled over seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

import blend_rows
import cap_rows
import slot_rows
import transfer_rows
from coldstart_report import GROUPS, markdown
from coldstart_store import (
    METRICS,
    STEM,
    add_transfer_run,
    load_results,
    merge_outputs,
    merge_runs,
)
from genrec.data import DATASETS, InteractionData, load_dataset
from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET, NewItemSplit, new_item_split
from genrec.evaluation.groups import ALL_USERS, GroupEvaluation, evaluate_groups
from genrec.io.files import atomic_path, write_json_atomic, write_text_atomic
from genrec.recommenders.base import Recommender
from genrec.recommenders.cold_start_blend import ColdStartBlendRecommender
from genrec.recommenders.registry import REGISTRY, build_recommender
from genrec.training.config import load_config
from genrec.workflows.evaluate import train_item_counts
from measured_at import current_commit

RESULTS = Path(__file__).parent / "results"
#: The new-item split is the same for every model and seed: 10% of the catalogue, drawn with seed 0.
NEW_ITEM_FRACTION, SPLIT_SEED = 0.1, 0
#: Benchmark row name -> (registry name, options). A model seed is given to each build.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "popularity": ("popularity", {}),
    "content": ("content", {}),
    "sasrec-ce": ("sasrec", {"loss": "ce"}),
    "sasrec-text": ("sasrec-text", {"loss": "ce", "fusion": "text-only"}),
    "sasrec-text-sum": ("sasrec-text", {"loss": "ce", "fusion": "sum"}),
    # genrec: LM-enhanced SASRec for known items, text for new ones, capped; choices on validation
    "cold-start-blend": ("cold-start-blend", {"loss": "ce"}),
}
#: Generative rows: benchmark row name -> the shipped recipe's ids-backbone part (``<dataset>-<this>``).
#: Fitted on known items, new items added by catalogue update (grown_catalogue.py).
GENERATIVE: dict[str, str] = {
    "gen-semantic-compact": "semantic-compact",
    "gen-semantic-smollm2": "semantic-smollm2",
    "gen-atomic-smollm2": "atomic-smollm2",
    "gen-title-smollm2": "title-smollm2",
}
PER_USER_COLUMNS = ["user", "group", "rank", "hr@10", "ndcg@10"]

#: Builds an unfitted recommender for (benchmark row name, model seed, dataset name).
ModelFactory = Callable[[str, int, str], Recommender]


def row_name(model: str, overrides: Sequence[str]) -> str:
    """A generative row's name carries its recipe overrides, so runs of two configurations never average."""
    return f"{model}[{' '.join(overrides)}]" if overrides else model


def registry_factory(
    threads: int,
    progress: bool = False,
    recipe_overrides: Sequence[str] = (),
    work_dir: Path = Path("runs/coldstart"),
    data_dir: Path | None = None,
) -> ModelFactory:
    """Builds `MODELS` rows from the registry and `GENERATIVE` rows from the dataset's shipped recipe
    (with ``recipe_overrides``, checkpoints under ``work_dir``); neural models train with ``threads`` threads."""

    def build(model: str, seed: int, dataset: str) -> Recommender:
        if model in GENERATIVE:
            recipe = f"{dataset.replace('-', '')}-{GENERATIVE[model]}"
            values = [*recipe_overrides, f"seed={seed}", f"training.num_threads={threads}"]
            values.append(f"training.progress={str(progress).lower()}")
            out = work_dir / f"{dataset}-{row_name(model, recipe_overrides)}-seed{seed}".replace(" ", "_")
            from grown_catalogue import GrownCatalogueRecommender  # loads transformers: only when asked

            grown: Any = GrownCatalogueRecommender(load_config(recipe, values), data_dir, out)
            return cast(Recommender, grown)
        name, options = MODELS[model]
        entry = REGISTRY.get(name)
        fields = getattr(entry.config_cls, "model_fields", {}) if entry is not None else {}
        overrides = {**options, "num_threads": threads} if "num_threads" in fields else dict(options)
        return build_recommender(name, overrides, seed=seed, progress=progress)

    return build


def group_metrics(evaluation: GroupEvaluation) -> dict[str, dict[str, float]]:
    """The reported `METRICS` of each group in `GROUPS`."""
    return {group: {m: evaluation.metrics[group][m] for m in METRICS} for group in GROUPS}


def write_per_user(evaluation: GroupEvaluation, groups: Mapping[str, np.ndarray], path: Path) -> None:
    """Per-user ranks and metrics with each user's group, as Parquet (atomically)."""
    frame = evaluation.result.per_user()
    labels = np.full(len(frame), KNOWN_TARGET, dtype=object)
    labels[groups[NEW_TARGET]] = NEW_TARGET
    frame["group"] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame[PER_USER_COLUMNS].to_parquet(tmp, index=False)


def run_one(
    result: NewItemSplit,
    model: Recommender,
    seed: int,
    per_user: Path | None = None,
    epsilons: Sequence[float] = (),
    blend_floor: float | None = None,
) -> dict[str, Any]:
    """Fit ``model`` on the split's training part and score it per group on validation and on test.

    ``per_user``: a path stem; ``<stem>-valid.parquet`` and ``<stem>-test.parquet`` get the per-user
    values of the two stages. ``epsilons``: new-item caps whose effect is measured on validation
    (`cap_rows.cap_sweep`). The cold-start blend's choices are made on validation first
    (`blend_rows.choose_blend`, ``blend_floor``: SASRec-CE's validation NDCG@10 for this seed).
    """
    split = result.split
    train = split.train_data()
    start = time.perf_counter()
    model.fit(train, split.valid_set())
    train_s = time.perf_counter() - start
    counts = train_item_counts(train.sequences, train.num_items)
    run: dict[str, Any] = {"seed": seed, "train_wall_time_s": train_s}
    capped = isinstance(model, ColdStartBlendRecommender)
    if capped:
        model, run["blend_choice"] = blend_rows.choose_blend(model, result, blend_floor)
    stages = (
        ("valid", split.valid_set(), result.valid_groups()),
        ("test", split.test_set(), result.test_groups()),
    )
    for stage, eval_set, groups in stages:
        evaluation = evaluate_groups(
            model,
            eval_set,
            groups,
            new_items=result.new_items,
            num_items=train.num_items,
            item_counts=counts,
            k_max=cap_rows.CAP_K if capped else 20,  # a capped list is asked for the 10 the metrics read
        )
        run[stage] = group_metrics(evaluation)
        run[f"{stage}_ms_per_user"] = evaluation.metrics[ALL_USERS]["ms_per_user"]
        if per_user is not None:
            path = per_user.with_name(f"{per_user.name}-{stage}.parquet")
            write_per_user(evaluation, groups, path)
            run.setdefault("per_user", {})[stage] = path.name
    if epsilons:
        run["new_item_cap"] = cap_rows.cap_sweep(model, result, epsilons, counts)
    log = getattr(model, "training_log", {})
    run["training"] = {k: v for k, v in log.items() if k != "history"}
    return run


def run_benchmark(
    datasets: Mapping[str, InteractionData],
    models: Sequence[str],
    seeds: Sequence[int],
    factory: ModelFactory,
    output: Path = RESULTS,
    command: str = "",
    threads: int = 1,
    log: Callable[[str], None] = print,
    epsilons: Sequence[float] = (),
    overrides: Sequence[str] = (),
    transfer_targets: Mapping[str, InteractionData] | None = None,
) -> dict[str, Any]:
    """Run every dataset x model x seed, merging into ``output/coldstart.{json,md}`` after each seed.

    ``transfer_targets``: after a seed of a model that can move to another catalogue (``transfer_to``),
    score it on each other target dataset's users (zero-shot transfer, `transfer_rows.scored`).
    """
    json_path = output / f"{STEM}.json"
    results = load_results(json_path)
    if command and command not in results["commands"]:
        results["commands"].append(command)
    for name, data in datasets.items():
        split = new_item_split(data, fraction=NEW_ITEM_FRACTION, seed=SPLIT_SEED)
        sizes = split.group_sizes()
        log(f"{name}: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        block = results["datasets"].setdefault(name, {"models": {}})
        if block.get("group_sizes", sizes) != sizes:
            raise SystemExit(f"{json_path}: {name} was measured on another split {block['group_sizes']}")
        block.update(fraction=NEW_ITEM_FRACTION, split_seed=SPLIT_SEED, group_sizes=sizes)
        for model in models:
            row = row_name(model, overrides) if model in GENERATIVE else model
            for seed in seeds:
                per_user = output / STEM / "per_user" / f"{name}-{row}-seed{seed}".replace(" ", "_")
                floor = blend_rows.ce_floor(block, seed)
                recommender = factory(model, seed, name)
                run = run_one(split, recommender, seed, per_user, epsilons, floor)
                run.update(threads=threads, commit=current_commit())
                if model in GENERATIVE:
                    run["overrides"] = list(overrides)
                    if run["training"].get("resumed"):  # scored again from finished checkpoints
                        run["train_wall_time_s"] += run["training"]["loop_wall_time_s"]
                        run["train_time_note"] = "resumed: the training loop's recorded time plus this fit"
                # Saved after every seed, so a killed run loses at most the seed in progress.
                merge_runs(results, name, row, [run])
                if model in GENERATIVE:  # reserved new-item places, chosen on validation (slot_rows.py)
                    slots = slot_run_of(recommender, split, run, per_user)
                    slots.update(threads=threads, commit=run["commit"], overrides=list(overrides))
                    merge_runs(results, name, row + slot_rows.SUFFIX, [slots])
                    log(
                        f"{name} {row}{slot_rows.SUFFIX} seed {seed}: epsilon {slots['slot_choice']['epsilon']:g}"
                    )
                for target, target_data in (transfer_targets or {}).items():
                    if target != name and hasattr(recommender, "transfer_to"):
                        path = output / STEM / "transfer" / f"{name}-to-{target}-{row}-seed{seed}.parquet"
                        moved = transfer_rows.moved_run(
                            recommender, run, target_data, path.with_name(path.name.replace(" ", "_"))
                        )
                        pair = results.setdefault("transfer", {}).setdefault(f"{name}:{target}", {"runs": []})
                        if "references" not in pair:  # the target's content and popularity rows, once
                            pair["references"] = transfer_rows.reference_runs(target, threads)
                        moved.update(commit=current_commit(), threads=threads)
                        add_transfer_run(results, f"{name}:{target}", row, moved)
                        log(f"{name} -> {target} {row} seed {seed}: test {moved['test']}")
                write_json_atomic(json_path, results)
                write_text_atomic(json_path.with_suffix(".md"), markdown(results))
                test, valid = run["test"], run["valid"]
                log(
                    f"{name} {row} seed {seed} ({run['train_wall_time_s']:.0f} s): "
                    + "; ".join(
                        f"{g} valid/test NDCG@10 {valid[g]['ndcg@10']:.4f}/{test[g]['ndcg@10']:.4f}"
                        for g in GROUPS
                    )
                )
        if refresh_comparisons(results, output, name):
            write_json_atomic(json_path, results)
            write_text_atomic(json_path.with_suffix(".md"), markdown(results))
    return results


def slot_run_of(model: Any, split: NewItemSplit, run: Mapping[str, Any], per_user: Path) -> dict[str, Any]:
    """The `slot_rows` run of a fitted generative row (before any transfer moves it), per-user file written."""
    train = split.split.train_data()
    counts = train_item_counts(train.sequences, train.num_items)
    slots, evaluation = slot_rows.slot_run(model, split, counts, run)
    path = per_user.with_name(f"{per_user.name}{slot_rows.SUFFIX}-test.parquet")
    write_per_user(evaluation, split.test_groups(), path)
    slots["per_user"] = {"test": path.name}
    return slots


def refresh_comparisons(results: dict[str, Any], output: Path, dataset: str) -> bool:
    """Recompute the paired test comparisons of ``dataset`` from the stored per-user files: the blend's,
    and those of every generative row measured on 3 or more seeds (`blend_rows.GENERATIVE_COMPARISONS`)."""
    models = results["datasets"].get(dataset, {}).get("models", {})
    per_user = output / STEM / "per_user"
    block = results["datasets"].get(dataset, {})
    generative = {
        row: blend_rows.paired_tests(
            per_user, dataset, [r["seed"] for r in entry["runs"]], row, blend_rows.GENERATIVE_COMPARISONS
        )
        for row, entry in models.items()
        if row.split("[")[0] in GENERATIVE and len(entry["runs"]) >= 3
    }
    if any(generative.values()):
        block["generative_comparisons"] = {row: c for row, c in generative.items() if c}
    entry = models.get(blend_rows.BLEND)
    if not entry:
        return bool(generative)
    seeds = [r["seed"] for r in entry["runs"]]
    block["blend_comparisons"] = blend_rows.paired_tests(per_user, dataset, seeds)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["office", "scientific"], choices=list(DATASETS))
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=[*MODELS, *GENERATIVE],
        help="baselines and genrec rows; gen-* rows train the dataset's shipped recipe (grown_catalogue.py)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="DOTTED.KEY=VALUE",
        help="recipe overrides for gen-* rows (part of the row's name)",
    )
    parser.add_argument(
        "--transfer-to",
        nargs="+",
        default=[],
        choices=list(DATASETS),
        help="after each seed of a gen-* row, also score it zero-shot on these datasets' users",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("runs/coldstart"), help="gen-* checkpoints")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (training and text embedding)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--transfer",
        nargs="+",
        metavar="SOURCE:TARGET",
        help="zero-shot transfer rows instead (transfer_rows.py), e.g. office:scientific scientific:office",
    )
    parser.add_argument(
        "--new-item-cap",
        nargs="+",
        type=float,
        default=[],
        metavar="EPSILON",
        help="also score each model under these new-item caps, on validation only (cap_rows.py)",
    )
    parser.add_argument(
        "--compare-blend",
        action="store_true",
        help="only recompute the cold-start blend's paired comparisons from the stored per-user files",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="only merge the results other runs wrote with --output DIR into --output",
    )
    args = parser.parse_args(argv)
    if args.merge:
        merge_outputs(args.merge, args.output)
        return 0
    if args.compare_blend:
        json_path = args.output / f"{STEM}.json"
        results = load_results(json_path)
        for name in args.datasets:
            refresh_comparisons(results, args.output, name)
        write_json_atomic(json_path, results)
        write_text_atomic(json_path.with_suffix(".md"), markdown(results))
        return 0
    if args.transfer:
        command = "python benchmarks/coldstart.py " + " ".join(sys.argv[1:] if argv is None else argv)
        transfer_rows.run_pairs(args.transfer, args.seeds, args.threads, args.output, command)
        return 0
    missing = sorted({MODELS[m][0] for m in args.models if m in MODELS} - set(REGISTRY))
    if missing:
        parser.error(f"model(s) {', '.join(missing)} are not in genrec's registry in this checkout")
    torch.set_num_threads(args.threads)
    datasets = {name: load_dataset(name, args.data_dir) for name in args.datasets}
    command = "python benchmarks/coldstart.py " + " ".join(sys.argv[1:] if argv is None else argv)
    run_benchmark(
        datasets,
        args.models,
        args.seeds,
        registry_factory(args.threads, args.progress, args.overrides, args.work_dir, args.data_dir),
        output=args.output,
        command=command,
        threads=args.threads,
        epsilons=args.new_item_cap,
        overrides=args.overrides,
        transfer_targets={name: load_dataset(name, args.data_dir) for name in args.transfer_to},
    )
    print(f"wrote {args.output / STEM}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
