"""Training-step time of SmolLM2 with the full-vocabulary loss vs the identifier-vocabulary loss.

    python benchmarks/loss_step_time.py --layers 8 --items 2420 --threads 2

Builds the office-atomic-smollm2 backbone shape (first ``--layers`` layers, ``--items`` atomic identifier
tokens, full fine-tuning), then times AdamW steps on the same random packed batch (every position after a
short prefix is an identifier target) with `target_loss` and with `identifier_loss`, alternating, side by
side. Writes benchmarks/results/loss_step_time.{json,md}.
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

from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.training.config import BackboneConfig
from genrec.training.examples import IGNORE
from genrec.training.losses import identifier_loss, identifier_vocabulary, target_loss
from genrec.training.pretrained import build_pretrained_backbone

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--items", type=int, default=2420)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=24)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per loss (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-bf16", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokens = [f"<item_{i}>" for i in range(args.items)]
    cfg = BackboneConfig(
        kind="pretrained", path="smollm2", keep_layers=args.layers, finetune="full", init_new_tokens="random"
    )
    model, tokenizer = build_pretrained_backbone(cfg, tokens, seed=0)
    new = torch.tensor(tokenizer.convert_tokens_to_ids(tokens))
    vocabulary = identifier_vocabulary([[int(t)] for t in new])
    torch.manual_seed(0)
    ids = new[torch.randint(0, args.items, (args.batch, args.length))]  # (batch, length)
    ids[:, :3] = tokenizer.eos_token_id
    labels = ids.clone()
    labels[:, :4] = IGNORE
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    losses = {
        "full": lambda: target_loss(model, batch),
        "identifiers": lambda: identifier_loss(model, batch, vocabulary),
    }
    times: dict[str, list[float]] = {name: [] for name in losses}
    for step in range(args.steps + 1):
        for name, fn in losses.items():  # alternate, so both see the same machine load
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_bf16):
                loss = fn()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step:  # step 0 warms up
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in times.items()}
    payload = {
        "args": vars(args),
        "step_s": times,
        "median_step_s": median,
        "speedup": median["full"] / median["identifiers"],
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "command": "python " + " ".join(sys.argv),
    }
    md = (
        f"# SmolLM2 training step: full-vocabulary vs identifier-vocabulary loss\n\n"
        f"{args.layers} layers, {args.items} identifier tokens, batch {args.batch}x{args.length}, "
        f"bf16 {not args.no_bf16}, {args.threads} threads, {platform.platform()}\n\n"
        "| loss | median step s |\n|---|---|\n"
        f"| full vocabulary ({len(tokenizer)} tokens) | {median['full']:.2f} |\n"
        f"| identifier vocabulary ({len(vocabulary)} tokens) | {median['identifiers']:.2f} |\n\n"
        f"Speed-up: {payload['speedup']:.2f}x. Command: `{payload['command']}`\n"
    )
    write_json_atomic(RESULTS / "loss_step_time.json", payload)
    write_text_atomic(RESULTS / "loss_step_time.md", md)
    print(md)


if __name__ == "__main__":
    main()
