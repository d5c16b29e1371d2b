"""Training time of one epoch with the prebuilt index's collision level on every item vs on colliding items.

    python benchmarks/collision_level_step_time.py --recipe beauty-prebuilt-compact --threads 1

A prebuilt index with shared codes gets one more identifier level. ``collision_level: all`` puts it on
every item (equal lengths), ``colliding`` only on the items that share a code. On beauty that is 5 tokens
against 4 for all but 26 of 12,101 items, so every packed training sequence is about a fifth shorter. This
builds the recipe's identifiers and untrained backbone both ways exactly as `genrec train` does, lays out
each layout's first epoch of real length-bucketed batches, and times every AdamW step of both epochs
(forward, backward, clipping, update), interleaving the two so that both see the same machine load. It
reports epoch time, tokens and the ratio, and writes
benchmarks/results/collision_level_step_time-<recipe>.{json,md}. Time only: what the two layouts learn is
measured by `benchmarks/generative.py` rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from genrec.data import leave_one_out, load_dataset
from genrec.data.registry import default_data_dir
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training.config import load_config
from genrec.training.examples import bucket_batches, collate, epoch_rng
from genrec.training.losses import target_loss
from genrec.training.optimizer import weight_decay_groups

RESULTS = Path(__file__).parent / "results"
LEVELS = ("all", "colliding")


class Layout:
    """One collision level: its model, optimizer and first epoch of collated batches."""

    def __init__(self, recipe: str, level: str, overrides: list[str], data_dir: Path, limit: int) -> None:
        config = load_config(recipe, [*overrides, f"identifiers.options.collision_level={level}"])
        split = leave_one_out(
            load_dataset(config.data.dataset, data_dir), max_history=config.data.max_history
        )
        rec = GenerativeRecommender(config, data_dir=data_dir)
        rec.build(split.train_data())
        self.config = config
        self.lengths = sorted({len(ids) for ids in rec.item_ids})
        self.model = rec.model
        self.model.train()
        self.optimizer = torch.optim.AdamW(
            weight_decay_groups(self.model, config.training.weight_decay), lr=config.training.lr
        )
        rng = epoch_rng(config.seed, 0)
        t = config.training
        examples = rec.example_builder().build(
            [list(s) for s in split.train_data().sequences], t.prefixes, t.last_n, t.sample_budget, rng
        )
        order = bucket_batches([len(e.input_ids) for e in examples], t.batch_size, rng)
        self.epoch_batches = len(order)
        pad = int(rec.lm_tokenizer.pad_token_id)
        self.batches = [collate([examples[i] for i in b], pad) for b in order[: limit or None]]
        self.tokens = sum(int(b["attention_mask"].sum()) for b in self.batches)
        self.padded = sum(b["input_ids"].numel() for b in self.batches)
        self.step_s: list[float] = []

    def step(self, index: int) -> None:
        batch = self.batches[index]
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.training.autocast_bf16):
            loss = target_loss(self.model, batch, self.config.training.loss_temperature)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.training.grad_clip or 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_s.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default="beauty-prebuilt-compact")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="DOTTED.KEY=VALUE")
    parser.add_argument(
        "--max-batches", type=int, default=0, help="time only this many batches (0: the epoch)"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or default_data_dir()
    layouts = {lv: Layout(args.recipe, lv, args.overrides, data_dir, args.max_batches) for lv in LEVELS}
    steps = min(len(layout.batches) for layout in layouts.values())
    for layout in layouts.values():  # one untimed warm-up step each
        layout.step(0)
        layout.step_s.clear()
    for i in range(steps):
        for layout in layouts.values():  # interleaved: both layouts see the same machine load
            layout.step(i)
    rows = {
        lv: {
            "identifier_lengths": layout.lengths,
            "batches_per_epoch": layout.epoch_batches,
            "timed_batches": steps,
            "time_s": sum(layout.step_s),
            "tokens": layout.tokens,
            "padded_tokens": layout.padded,
            "tokens_per_s": layout.tokens / sum(layout.step_s),
        }
        for lv, layout in layouts.items()
    }
    speedup = rows["all"]["time_s"] / rows["colliding"]["time_s"]
    payload = {
        "recipe": args.recipe,
        "overrides": args.overrides,
        "threads": args.threads,
        "rows": rows,
        "speedup_colliding_over_all": speedup,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "command": "python " + " ".join(sys.argv),
    }
    whole = (
        "the whole first epoch"
        if steps == min(r["batches_per_epoch"] for r in rows.values())
        else (f"the first {steps} batches of the first epoch")
    )
    lines = [
        f"# Training time: collision level on every item vs on colliding items only ({args.recipe})",
        "",
        f"{whole.capitalize()} of real length-bucketed batches per layout, every step timed, the two layouts "
        f"interleaved; {args.threads} thread(s), {platform.platform()}, torch {torch.__version__}.",
        "",
        "| collision_level | identifier lengths | batches | tokens | padded tokens | time (s) | tok/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for lv, row in rows.items():
        lines.append(
            f"| {lv} | {', '.join(map(str, row['identifier_lengths']))} | {row['timed_batches']} | "
            f"{row['tokens']:,} | {row['padded_tokens']:,} | {row['time_s']:.1f} | {row['tokens_per_s']:,.0f} |"
        )
    lines += ["", f"`colliding` trains the same batches {speedup:.2f}x as fast as `all`.", ""]
    lines += [f"Command: `{payload['command']}`", ""]
    md = "\n".join(lines)
    stem = f"collision_level_step_time-{Path(args.recipe).stem}"  # a recipe name or a YAML file
    args.results_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.results_dir / f"{stem}.json", payload)
    write_text_atomic(args.results_dir / f"{stem}.md", md)
    print(md)


if __name__ == "__main__":
    main()
