"""A tiny, fully deterministic training run used by the resume and multi-process tests.

Imported by the tests, and run as a script (in a subprocess that gets killed, or under
``accelerate launch``): ``python run_tiny.py OUTPUT_DIR MAX_STEPS [--slow] [--record FILE] [--sharded]
[--validate] [--weights FILE]``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.training.compact import build_compact_model, build_lm_tokenizer
from genrec.training.config import BackboneConfig, TrainingConfig
from genrec.training.examples import ExampleBuilder, collate
from genrec.training.loop import Trainer

N_ITEMS = 40


def sequences() -> list[list[int]]:
    rng = np.random.default_rng(7)
    return [
        [(int(s) + j * int(step)) % N_ITEMS for j in range(int(n))]
        for s, step, n in zip(
            rng.integers(0, N_ITEMS, 80), rng.integers(1, 3, 80), rng.integers(3, 12, 80), strict=True
        )
    ]


def make_trainer(output_dir: Path, max_steps: int, sharded: bool | None = None, **training: Any) -> Trainer:
    """Atomic ids, a 1-layer model with attention dropout (so RNG state matters on resume).

    ``sharded=True`` forces the DeepSpeed / FSDP code path (engine state, all-rank validation, rebuild)."""
    lm_tok = build_lm_tokenizer([f"<item_{i}>" for i in range(N_ITEMS)])
    item_ids = [[int(lm_tok.convert_tokens_to_ids(f"<item_{i}>"))] for i in range(N_ITEMS)]
    backbone = BackboneConfig(
        num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64, attention_dropout=0.2
    )
    model = build_compact_model(backbone, lm_tok, seed=0)
    opts: dict[str, Any] = {
        "max_steps": max_steps,
        "batch_size": 8,
        "lr": 3e-3,
        "warmup_steps": 4,
        "checkpoint_every": 5,
        "eval_every": 0,
        "progress": False,
        "num_threads": 1,
    }
    opts.update(training)
    builder = ExampleBuilder(item_ids, max_history=5, prefix=[int(lm_tok.bos_token_id)])
    seqs = sequences()
    held_out = collate(builder.build(seqs[:16]), int(lm_tok.pad_token_id))

    def validate(m: torch.nn.Module) -> dict[str, float]:
        loss = float(m(**held_out).loss)  # deterministic in eval mode
        return {"ndcg@10": -loss, "hr@10": -loss}

    return Trainer(
        model,
        builder,
        seqs,
        TrainingConfig(**opts),
        seed=0,
        output_dir=output_dir,
        pad_token_id=int(lm_tok.pad_token_id),
        validate=validate if opts["eval_every"] else None,
        rebuild=lambda: build_compact_model(backbone, lm_tok, seed=1),
        sharded=sharded,
    )


def row_key(ids: torch.Tensor, mask: torch.Tensor) -> str:
    return hashlib.sha1(str(ids[mask.bool()].tolist()).encode()).hexdigest()


def main(argv: list[str]) -> None:
    output_dir, max_steps = Path(argv[0]), int(argv[1])
    extra: dict[str, Any] = {"eval_every": 4} if "--validate" in argv else {}
    trainer = make_trainer(output_dir, max_steps, sharded=True if "--sharded" in argv else None, **extra)
    if "--slow" in argv:  # sleep in every forward so a parent can kill the run mid-way
        trainer.model.register_forward_pre_hook(lambda *_: time.sleep(0.01))
    seen: list[str] = []
    if "--record" in argv:

        def record(_m: Any, _a: Any, kwargs: dict[str, Any]) -> None:
            seen.extend(
                row_key(r, m) for r, m in zip(kwargs["input_ids"], kwargs["attention_mask"], strict=True)
            )

        trainer.model.register_forward_pre_hook(record, with_kwargs=True)
    trainer.train()
    if "--weights" in argv:  # the model handed back, as each rank sees it
        model = trainer.accelerator.unwrap_model(trainer.model)
        torch.save(
            {k: v.detach().clone() for k, v in model.state_dict().items()},
            f"{argv[argv.index('--weights') + 1]}.{trainer.accelerator.process_index}",
        )
    if "--record" in argv:
        rank = trainer.accelerator.process_index
        record_file = Path(argv[argv.index("--record") + 1])
        Path(f"{record_file}.{rank}").write_text(
            json.dumps({"rank": rank, "world": trainer.accelerator.num_processes, "rows": seen})
        )


if __name__ == "__main__":
    main(sys.argv[1:])
