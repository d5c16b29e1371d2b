"""Explanations that can be checked: grounded vs free-text reasons for real recommendations.

    python benchmarks/explanations.py --datasets office ml-100k --recommendations 500 --threads 1

Per dataset: a cheap recommender (SASRec, a few epochs; ``--model popularity`` is cheaper still) is fitted
on the leave-one-out training split and gives each sampled test user its top-1 (history excluded). Each
(history, item) pair is explained by the grounded explainer (`genrec.recommenders.grounded_explain`) and
by the free-text explainer (`genrec.recommenders.explain`), both SmolLM2-135M-Instruct, greedy. One
independent checker (`genrec.recommenders.explanation_check`) reads every text. Reported per explainer:
the share whose named attributes are all true of the items involved (a text naming none counts as true;
the share naming at least one is given beside it), the share naming an item that is not in the catalogue,
the unique-sentence ratio, distinct-1/2 (unique word n-grams over all n-grams), and ms per explanation.
Writes ``results/explanations.json`` and ``results/explanations.md`` with five examples per dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data import leave_one_out, load_dataset
from genrec.data.catalogue import Catalogue
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.explain import Explainer
from genrec.recommenders.explanation_check import check_explanation
from genrec.recommenders.grounded_explain import GroundedExplainer
from genrec.recommenders.item_attributes import category_kind, clean_text
from genrec.recommenders.registry import build_recommender

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLES = 5
#: An explainer: (history indices, item index) -> text.
ExplainFn = Callable[[Sequence[int], int], str]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique word n-grams over all word n-grams of ``texts`` (lower-cased; 0 when there are none)."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.lower().split()
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def summarise(
    texts: Sequence[str], checks: Sequence[dict[str, Any]], seconds: Sequence[float]
) -> dict[str, Any]:
    """The reported figures of one explainer on one dataset."""
    n = len(texts)
    if n == 0:
        return {"explanations": 0}
    return {
        "explanations": n,
        "all_named_attributes_true": sum(bool(c["all_attributes_true"]) for c in checks) / n,
        "names_any_attribute": sum(bool(c["attributes"]) for c in checks) / n,
        "names_unknown_item": sum(bool(c["names_unknown_item"]) for c in checks) / n,
        "unique_sentence_ratio": len(set(texts)) / n,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "ms_per_explanation": 1000.0 * float(np.mean(seconds)),
    }


def explain_pairs(
    catalogue: Catalogue, pairs: Sequence[tuple[list[int], int]], explain: ExplainFn
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Explain and check every (history, item) pair; returns the summary and one row per pair."""
    texts, checks, seconds, rows = [], [], [], []
    for history, item in pairs:
        start = time.perf_counter()
        text = explain(history, item)
        seconds.append(time.perf_counter() - start)
        check = check_explanation(text, history, item, catalogue)
        texts.append(text)
        checks.append(check)
        rows.append({"item": catalogue.id_of(item), "text": text, "check": check})
    return summarise(texts, checks, seconds), rows


def recommended_pairs(
    dataset: str, count: int, model: str, epochs: int, seed: int, data_dir: Path | None
) -> tuple[Catalogue, list[tuple[list[int], int]]]:
    """``count`` sampled test users' histories and the recommender's top-1 for each."""
    data = load_dataset(dataset, data_dir)
    split = leave_one_out(data)
    overrides: dict[str, Any] = (
        {"epochs": epochs, "num_threads": torch.get_num_threads()} if model == "sasrec" else {}
    )
    recommender = build_recommender(model, overrides, seed=seed)
    recommender.fit(split.train_data(), split.valid_set())
    test = split.test_set()
    chosen = np.random.default_rng(seed).permutation(len(test))[:count]
    histories = [list(test.histories[int(u)]) for u in chosen]
    top = recommender.recommend(histories, k=1).items[:, 0]  # (users,)
    pairs = [(h, int(t)) for h, t in zip(histories, top, strict=True) if int(t) >= 0]
    return data.catalogue, pairs


EXPLAINERS = ("grounded", "free_text")


def explainers(
    catalogue: Catalogue, dataset: str, lm_path: str, names: Sequence[str] = EXPLAINERS
) -> dict[str, ExplainFn]:
    """The named explainers over ``catalogue`` (grounded, free_text; one LM load each)."""
    out: dict[str, ExplainFn] = {}
    if "grounded" in names:
        grounded = GroundedExplainer.from_path(lm_path, catalogue, category_kind(dataset))
        out["grounded"] = lambda h, i: grounded.explain(h, i).text
    if "free_text" in names:
        free = Explainer.from_path(lm_path)

        def free_text(history: Sequence[int], item: int) -> str:
            titles = [clean_text(catalogue.title(i)) for i in list(history)[-5:]]
            return free.explain(titles, clean_text(catalogue.title(item)))

        out["free_text"] = free_text
    return out


def merge_previous(payload: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Keep ``previous`` figures of explainers this run did not measure (each summary names its command).

    Examples are merged by position only where both runs explained the same item (same sampled users).
    """
    for dataset, old in previous.get("datasets", {}).items():
        new = payload["datasets"].setdefault(
            dataset, {"model": old.get("model"), "summary": {}, "examples": []}
        )
        for name, summary in old.get("summary", {}).items():
            if name not in new["summary"]:
                new["summary"][name] = {"command": previous.get("command"), **summary}
                for example, old_example in zip(new["examples"], old.get("examples", []), strict=False):
                    if example["item"] == old_example["item"] and name in old_example:
                        example[name] = old_example[name]
    return payload


def markdown(payload: dict[str, Any]) -> str:
    """The results table and the examples, as Markdown."""
    lines = [
        "# Explanations that can be checked",
        "",
        f"`{payload['command']}`",
        "",
        "| dataset | explainer | n | all named attributes true | names any attribute | names unknown item "
        "| unique sentences | distinct-1 | distinct-2 | ms/explanation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    commands: list[str] = []
    for dataset, result in payload["datasets"].items():
        for name, s in result["summary"].items():
            if not s.get("explanations"):
                continue
            lines.append(
                f"| {dataset} | {name} | {s['explanations']} | {s['all_named_attributes_true']:.3f} "
                f"| {s['names_any_attribute']:.3f} | {s['names_unknown_item']:.3f} "
                f"| {s['unique_sentence_ratio']:.3f} | {s['distinct_1']:.3f} | {s['distinct_2']:.3f} "
                f"| {s['ms_per_explanation']:.0f} |"
            )
            if s.get("command") and s["command"] not in commands:
                commands.append(s["command"])
    if len(commands) > 1:
        lines += ["", "Rows come from these commands (each row's n is its own sample):", ""]
        lines += [f"- `{c}`" for c in commands]
    for dataset, result in payload["datasets"].items():
        lines += ["", f"## Examples: {dataset}", ""]
        for example in result["examples"]:
            lines.append(f"- item {example['item']}")
            for name in ("grounded", "free_text"):
                if name in example:
                    lines.append(f"  - {name}: {example[name]}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    payload: dict[str, Any] = {"command": command, "datasets": {}}
    for dataset in args.datasets:
        catalogue, pairs = recommended_pairs(
            dataset, args.recommendations, args.model, args.epochs, args.seed, args.data_dir
        )
        summary, rows = {}, {}
        for name, explain in explainers(catalogue, dataset, args.lm, args.explainers).items():
            summary[name], rows[name] = explain_pairs(catalogue, pairs, explain)
            summary[name]["command"] = command
        first = next(iter(rows))
        examples = [
            {"item": rows[first][i]["item"], **{name: rows[name][i]["text"] for name in rows}}
            for i in range(min(EXAMPLES, len(pairs)))
        ]
        payload["datasets"][dataset] = {"model": args.model, "summary": summary, "examples": examples}
        print(json.dumps({dataset: summary}, indent=1), flush=True)
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["office", "ml-100k"])
    parser.add_argument(
        "--recommendations", type=int, default=500, help="(user, top-1 item) pairs per dataset"
    )
    parser.add_argument("--model", default="sasrec", help="registry recommender giving the top-1")
    parser.add_argument("--epochs", type=int, default=5, help="SASRec training epochs")
    parser.add_argument("--lm", default="smollm2", help="explaining LM (smollm2 or a model directory)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for explanations.{json,md}")
    parser.add_argument(
        "--explainers",
        nargs="+",
        choices=EXPLAINERS,
        default=list(EXPLAINERS),
        help="which explainers to run; the stored figures of the others are kept (with their command)",
    )
    args = parser.parse_args(argv)
    command = "python benchmarks/explanations.py " + " ".join(sys.argv[1:] if argv is None else argv)
    payload = run(args, command)
    stored = args.output / "explanations.json"
    if stored.is_file():
        payload = merge_previous(payload, json.loads(stored.read_text()))
    write_json_atomic(args.output / "explanations.json", payload)
    write_text_atomic(args.output / "explanations.md", markdown(payload))


if __name__ == "__main__":
    main()
