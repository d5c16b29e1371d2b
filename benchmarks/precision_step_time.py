"""Training-step time of a recipe's backbone in float32 vs under bfloat16 autocast, side by side.

    python benchmarks/precision_step_time.py --recipe beauty-prebuilt-compact --threads 1 2

Builds the recipe's identifiers and untrained backbone exactly as `genrec train` does
(`GenerativeRecommender.build`), lays out the first epoch's real length-bucketed batches, then times AdamW
steps (forward, backward, clipping, update) alternating float32 and bf16 autocast on the same batches, so
both see the same machine load. Reports the median step, tokens/s and the ratio per thread count. Writes
benchmarks/results/precision_step_time-<recipe>.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
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

RESULTS = Path(__file__).parent / "results"
PRECISIONS = ("float32", "bf16")


def _cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return sorted(f for f in flags if f.startswith(("amx", "avx512_bf16")))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default="beauty-prebuilt-compact")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per precision (after 3 warm-up)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = load_config(args.recipe)
    data_dir = args.data_dir or default_data_dir()
    split = leave_one_out(load_dataset(config.data.dataset, data_dir), max_history=config.data.max_history)
    recommender = GenerativeRecommender(config, data_dir=data_dir)
    recommender.build(split.train_data())
    model = recommender.model
    model.train()
    rng = epoch_rng(config.seed, 0)
    examples = recommender.example_builder().build(
        [list(s) for s in split.train_data().sequences],
        config.training.prefixes,
        config.training.last_n,
        config.training.sample_budget,
        rng,
    )
    order = bucket_batches([len(e.input_ids) for e in examples], config.training.batch_size, rng)
    pad = int(recommender.lm_tokenizer.pad_token_id)
    batches = [collate([examples[i] for i in b], pad) for b in order[: args.steps + 3]]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
        tokens = 0
        for step, batch in enumerate(batches):
            for precision in PRECISIONS:  # alternate on the same batch
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = target_loss(model, batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.training.grad_clip or 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if step >= 3:
                    times[precision].append(time.perf_counter() - start)
            if step >= 3:
                tokens += int(batch["attention_mask"].sum())
        median = {p: statistics.median(v) for p, v in times.items()}
        mean_tokens = tokens / args.steps
        rows.append(
            {
                "threads": threads,
                "median_step_s": median,
                "step_s": times,
                "tokens_per_s": {p: mean_tokens / median[p] for p in PRECISIONS},
                "speedup": median["float32"] / median["bf16"],
            }
        )
    payload = {
        "recipe": args.recipe,
        "batch_size": config.training.batch_size,
        "steps": args.steps,
        "rows": rows,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "cpu_flags": _cpu_flags(),
        },
        "command": "python " + " ".join(sys.argv),
    }
    lines = [
        f"# Training step: float32 vs bf16 autocast ({args.recipe})",
        "",
        f"Real first-epoch batches (batch size {config.training.batch_size}), {args.steps} timed steps per "
        f"precision, alternating; {platform.platform()}, CPU flags {', '.join(_cpu_flags()) or 'none'}.",
        "",
        "| threads | float32 s/step | bf16 s/step | float32 tok/s | bf16 tok/s | bf16 speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        m, t = row["median_step_s"], row["tokens_per_s"]
        lines.append(
            f"| {row['threads']} | {m['float32']:.3f} | {m['bf16']:.3f} | {t['float32']:,.0f} | "
            f"{t['bf16']:,.0f} | {row['speedup']:.2f}x |"
        )
    lines += ["", f"Command: `{payload['command']}`", ""]
    md = "\n".join(lines)
    stem = f"precision_step_time-{args.recipe}"
    write_json_atomic(RESULTS / f"{stem}.json", payload)
    write_text_atomic(RESULTS / f"{stem}.md", md)
    print(md)


if __name__ == "__main__":
    main()
