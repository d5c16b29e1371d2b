"""Conversational refinement (issue 56): a scripted user reveals one true attribute of its target per turn.

    python benchmarks/conversation.py --datasets ml-100k office --seeds 0 1 2 --users 200 --threads 1

For each dataset: the standard leave-one-out split (`leave_one_out(load_dataset(ds))`); per seed, SASRec
with full-softmax CE (`build_recommender("sasrec", {"loss": "ce"}, seed=s)`) is fitted on the training
part, its epoch chosen on the validation users. ``--users`` test users are drawn once (seed 0, the same
for every model seed); each one's target is its held-out test item and its history the items before it.

Turn 0 is the non-conversational answer: the base model's top-10 for the history (the one-shot baseline).
At each turn 1..``--turns`` the simulator reveals ONE true attribute of the target, in words from
templates, never naming the target: with probability 1/2 (when both exist) something the target has (one
of its categories, its brand), otherwise something it does not have, chosen among what the user sees:
the category (or brand) most common among the 10 items shown that the target lacks. Each value is
revealed once. The system parses the text (`ConversationParser`, SmolLM2-135M-Instruct, 1 thread),
updates the session state and ranks through the serving rules path (`recommend_with_rules`: history +
reference items, the state's ruled-out items excluded inside ranking). Success: the target is in the
top-10. A user stops at its first success.

Reported (mean ± sample std over seeds, ddof=1): one-shot HR@10 (turn 0), success within the turns
(target in the top-10 at any turn 0..T), the success curve per turn, mean turns to success (over the
users who succeed; 0 = already at turn 0), the parser's action accuracy (share of turns whose parsed
actions equal the simulator's intended action, exactly) and, as the parser's ceiling, the same
simulation with the intended actions applied directly ("oracle parser"). Timings: training, simulation,
parser milliseconds per turn (LM choices are memoised per clause and argument, as in serving).

Writes ``results/conversation.json`` and ``results/conversation.md`` (the command, commit and timings); a
run of some datasets keeps the other datasets' results of an earlier run with the same users, turns and
threads (the commands are then joined with " && ").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data import leave_one_out, load_dataset
from genrec.io.files import read_json, write_json_atomic, write_text_atomic
from genrec.recommenders.base import Recommender
from genrec.recommenders.conversation_parser import ConversationParser
from genrec.recommenders.conversation_state import Action, CatalogueFacets, ConversationState
from genrec.recommenders.registry import build_recommender
from genrec.serving.rules import recommend_with_rules
from measured_at import current_commit
from seed_stats import format_mean_std, mean_and_std

RESULTS = Path(__file__).parent / "results"
STEM = "conversation"
K = 10
USER_SEED = 0
#: Templates per intended action kind; {v} is the value as a user types it (lower-case).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "include category": (
        "it should be {v}",
        "i feel like {v}",
        "something in {v}, please",
        "i'm after {v}",
        "show me {v}",
        "i want {v}",
    ),
    "exclude category": (
        "no {v}",
        "nothing {v}, please",
        "i don't want {v}",
        "not {v}",
        "please leave out {v}",
        "without {v}",
    ),
    "include brand": ("it should be from {v}", "i want {v}", "made by {v}, please", "only {v}"),
    "exclude brand": ("not from {v}", "no {v}", "i don't want {v}", "anything except {v}"),
}

#: (text, state) -> the actions the system applies, and the milliseconds it took.
Chooser = Callable[[str, ConversationState, Action], tuple[tuple[Action, ...], float]]


def reveal(
    target: int,
    shown: Sequence[int],
    said: set[tuple[str, str]],
    facets: CatalogueFacets,
    rng: np.random.Generator,
) -> tuple[Action, str] | None:
    """One true attribute of ``target`` not said before, as (intended action, text); None when none is left."""
    brand = facets.brands[target]
    have = [("include category", c) for c in sorted(facets.categories[target])]
    have += [("include brand", brand)] if brand else []
    seen_cats = Counter(c for i in shown for c in facets.categories[i] if c not in facets.categories[target])
    seen_brands = Counter(facets.brands[i] for i in shown if facets.brands[i] and facets.brands[i] != brand)
    lack = [("exclude category", c) for c, _ in sorted(seen_cats.items(), key=lambda x: (-x[1], x[0]))]
    lack += [("exclude brand", b) for b, _ in sorted(seen_brands.items(), key=lambda x: (-x[1], x[0]))]
    have = [h for h in have if (h[0].split()[1], h[1]) not in said]
    lack = [h for h in lack if (h[0].split()[1], h[1]) not in said]
    if not have and not lack:
        return None
    if have and (not lack or rng.random() < 0.5):
        kind, value = have[int(rng.integers(len(have)))]
    else:
        kind, value = lack[0]  # the most common attribute on screen that the target lacks
    said.add((kind.split()[1], value))
    template = TEMPLATES[kind][int(rng.integers(len(TEMPLATES[kind])))]
    return Action(kind, value=value), template.format(v=value)  # type: ignore[arg-type]


def parser_chooser(parser: ConversationParser) -> Chooser:
    def choose(text: str, state: ConversationState, _: Action) -> tuple[tuple[Action, ...], float]:
        start = time.perf_counter()
        actions = parser.parse(text, state).actions
        return actions, 1000 * (time.perf_counter() - start)

    return choose


def oracle_chooser(text: str, state: ConversationState, intended: Action) -> tuple[tuple[Action, ...], float]:
    return (intended,), 0.0


def simulate(
    model: Recommender,
    facets: CatalogueFacets,
    histories: Sequence[Sequence[int]],
    targets: Sequence[int],
    choose: Chooser,
    turns: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the scripted conversations (module docstring); per-user success turns and per-turn records."""
    n = len(targets)
    states = [ConversationState() for _ in range(n)]
    said: list[set[tuple[str, str]]] = [set() for _ in range(n)]
    rngs = [np.random.default_rng([seed, u]) for u in range(n)]
    success: list[int | None] = [None] * n
    records: list[dict[str, Any]] = []
    active = list(range(n))
    for turn in range(turns + 1):
        if turn > 0:
            for u in active:
                found = reveal(int(targets[u]), states[u].shown, said[u], facets, rngs[u])
                if found is None:
                    continue
                intended, text = found
                actions, ms = choose(text, states[u], intended)
                states[u] = states[u].apply(actions)
                records.append(
                    {"user": u, "turn": turn, "text": text, "intended": intended.text(facets.catalogue),
                     "parsed": [a.text(facets.catalogue) for a in actions], "correct": actions == (intended,),
                     "ms": ms}
                )  # fmt: skip
        if not active:
            break
        ranked = recommend_with_rules(
            model,
            [[*histories[u], *states[u].references] for u in active],
            K,
            [set(facets.banned(states[u])) - set(states[u].references) for u in active],
            True,
            len(facets),
        )
        still = []
        for row, u in enumerate(active):
            shown = [int(i) for i in ranked.items[row] if i >= 0]
            states[u] = states[u].next_turn(shown)
            if int(targets[u]) in shown:
                success[u] = turn
            else:
                still.append(u)
        active = still
    return {"success_turn": success, "records": records}


def figures(result: dict[str, Any], turns: int) -> dict[str, Any]:
    """One-shot HR@10, success curve, success within the turns, mean turns to success, parser accuracy."""
    succ = result["success_turn"]
    n = len(succ)
    curve = [sum(1 for s in succ if s is not None and s <= t) / n for t in range(turns + 1)]
    hit = [s for s in succ if s is not None]
    records = result["records"]
    return {
        "users": n,
        "one_shot_hr@10": curve[0],
        "success_within_turns": curve[-1],
        "success_curve": curve,
        "mean_turns_to_success": float(np.mean(hit)) if hit else None,
        "turns_taken": len(records),
        "action_accuracy": float(np.mean([r["correct"] for r in records])) if records else None,
        "parse_ms_per_turn": float(np.mean([r["ms"] for r in records])) if records else 0.0,
    }


def run_seed(
    ds: str, split: Any, facets: CatalogueFacets, parser: ConversationParser, seed: int, args: Any
) -> dict[str, Any]:
    train = split.train_data()
    options: dict[str, Any] = {"loss": "ce", "num_threads": args.threads}
    if args.epochs is not None:
        options["epochs"] = args.epochs
    model = build_recommender("sasrec", options, seed=seed)
    start = time.perf_counter()
    model.fit(train, split.valid_set())
    train_s = time.perf_counter() - start
    users = split.test_set().sample(args.users, USER_SEED)
    start = time.perf_counter()
    lm = simulate(model, facets, users.histories, users.targets, parser_chooser(parser), args.turns, seed)
    sim_s = time.perf_counter() - start
    oracle = simulate(model, facets, users.histories, users.targets, oracle_chooser, args.turns, seed)
    wrong = [r for r in lm["records"] if not r["correct"]]
    return {
        "seed": seed,
        "train_wall_time_s": train_s,
        "simulation_wall_time_s": sim_s,
        "lm_parser": figures(lm, args.turns),
        "oracle_parser": figures(oracle, args.turns),
        "parse_errors_sample": wrong[:10],
    }


def summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("lm_parser", "oracle_parser"):
        keys = (
            "one_shot_hr@10",
            "success_within_turns",
            "mean_turns_to_success",
            "action_accuracy",
            "parse_ms_per_turn",
        )
        out[mode] = {
            key: list(mean_and_std(r[mode][key] for r in runs))
            for key in keys
            if runs[0][mode][key] is not None
        }
        out[mode]["success_curve"] = [
            list(mean_and_std(values))
            for values in zip(*(r[mode]["success_curve"] for r in runs), strict=True)
        ]
        out[mode]["gain_points"] = list(
            mean_and_std(100 * (r[mode]["success_within_turns"] - r[mode]["one_shot_hr@10"]) for r in runs)
        )
    out["train_wall_time_s"] = list(mean_and_std(r["train_wall_time_s"] for r in runs))
    out["simulation_wall_time_s"] = list(mean_and_std(r["simulation_wall_time_s"] for r in runs))
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Conversational refinement: scripted users (issue 56)",
        "",
        f"Command: `{results['command']}` (commit {results['commit']}, {results['threads']} thread(s)).",
        "",
        f"{results['users']} test users per dataset (drawn with seed {USER_SEED}), base model SASRec-CE (epoch "
        f"chosen on validation), {results['turns']} turns, one true attribute of the target revealed per turn; "
        "success = target in the top-10. Mean ± sample std over seeds. Parser: SmolLM2-135M-Instruct choosing "
        "among schema actions; oracle: the intended action applied directly (the parser's ceiling). Parse "
        "time per turn is the first seed's (later seeds reuse the memo of LM choices, as a server would).",
        "",
        f"| dataset | seeds | parser | one-shot HR@10 | success within {results['turns']} turns | gain (points) "
        "| mean turns to success "
        "| action accuracy | parse ms/turn (first seed) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ds, block in results["datasets"].items():
        s, n = block["summary"], len(block["runs"])
        for mode, label in (("lm_parser", "LM"), ("oracle_parser", "oracle")):
            m = s[mode]

            def cell(key: str, fmt: str = "{:.4f}", m: dict[str, Any] = m) -> str:
                return format_mean_std(*m[key], fmt) if key in m else ""

            gain_mean, gain_std = m["gain_points"]
            gain = f"{gain_mean:+.1f}" + ("" if gain_std is None else f" ± {gain_std:.1f}")
            cold_ms = block["runs"][0][mode]["parse_ms_per_turn"]

            lines.append(
                f"| {ds} | {n} | {label} | {cell('one_shot_hr@10')} | {cell('success_within_turns')} | "
                f"{gain} | {cell('mean_turns_to_success', '{:.2f}')} | "
                f"{cell('action_accuracy') if mode == 'lm_parser' else ''} | "
                f"{f'{cold_ms:.0f}' if mode == 'lm_parser' else ''} |"
            )
    lines += ["", "Success curve (share of users with the target shown by turn t, LM parser, seed mean):", ""]
    for ds, block in results["datasets"].items():
        curve = block["summary"]["lm_parser"]["success_curve"]
        lines.append(f"- {ds}: " + ", ".join(f"t{t} {mean:.3f}" for t, (mean, _) in enumerate(curve)))
    lines += ["", "Timings (mean over seeds): " + "; ".join(
        f"{ds} training {block['summary']['train_wall_time_s'][0]:.0f} s, simulation "
        f"{block['summary']['simulation_wall_time_s'][0]:.0f} s" for ds, block in results["datasets"].items()
    ) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def merged_results(path: Path, command: str, args: Any) -> dict[str, Any]:
    """The results file to write: an existing one's other datasets are kept when the settings match
    (users, turns, threads), with this command appended; otherwise a fresh file."""
    fresh = {"command": command, "commit": current_commit(), "threads": args.threads, "users": args.users,
             "turns": args.turns, "datasets": {}}  # fmt: skip
    if not path.is_file():
        return fresh
    old = read_json(path)
    if any(old.get(key) != fresh[key] for key in ("threads", "users", "turns")):
        return fresh
    kept = {ds: block for ds, block in old.get("datasets", {}).items() if ds not in args.datasets}
    if not kept:
        return fresh
    commands = [*str(old.get("command", "")).split(" && "), command]
    commits = [*str(old.get("commit", "")).split(" && "), current_commit()]
    return {**fresh, "command": " && ".join(dict.fromkeys(c for c in commands if c)),
            "commit": " && ".join(dict.fromkeys(c for c in commits if c)), "datasets": kept}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["ml-100k", "office"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=None, help="SASRec's epoch cap (default: its own)")
    ap.add_argument("--parser-lm", default="smollm2", help="the parser's causal LM (path or smollm2)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render", action="store_true", help="only rewrite the Markdown from the JSON")
    args = ap.parse_args(argv)
    if args.render:  # the summaries are recomputed from the per-seed runs, then the Markdown
        stored = read_json(args.out / f"{STEM}.json")
        for block in stored["datasets"].values():
            block["summary"] = summarise(block["runs"])
        write_json_atomic(args.out / f"{STEM}.json", stored)
        write_text_atomic(args.out / f"{STEM}.md", markdown(stored))
        return 0
    torch.set_num_threads(args.threads)
    command = "python benchmarks/conversation.py " + " ".join(sys.argv[1:] if argv is None else argv)
    results = merged_results(args.out / f"{STEM}.json", command, args)
    for ds in args.datasets:
        split = leave_one_out(load_dataset(ds))
        facets = CatalogueFacets(split.data.catalogue)
        parser = ConversationParser.from_path(args.parser_lm, facets, num_threads=args.threads)
        runs = []
        for seed in args.seeds:
            runs.append(run_seed(ds, split, facets, parser, seed, args))
            results["datasets"][ds] = {"runs": runs, "summary": summarise(runs)}
            args.out.mkdir(parents=True, exist_ok=True)
            write_json_atomic(args.out / f"{STEM}.json", results)
            write_text_atomic(args.out / f"{STEM}.md", markdown(results))
            f = runs[-1]["lm_parser"]
            print(f"{ds} seed {seed}: one-shot {f['one_shot_hr@10']:.3f}, within {args.turns} turns "
                  f"{f['success_within_turns']:.3f}, accuracy {f['action_accuracy']}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
