"""KV-cache benchmark: the engine's in-place beam-search cache vs Hugging Face's DynamicCache.

    python benchmarks/kv_cache.py [--users 32] [--title-users 4] [--threads 1]

Same setup as benchmarks/decoding.py (SmolLM2-135M-Instruct, Office users with 20-item histories, 20
beams, top 10; semantic IDs = the prebuilt 4-level index, titles = title + EOS). `grounded_beam_search`
runs twice on the same prompts, side by side in one process (alternating batch by batch, so a busy
machine slows both alike): once with `genrec.decoding.kv_cache` (tokens written in place, beams
reordered only over the decoded positions) and once with `DynamicCache` and full reorders, which is what
the engine did before. Items must be identical and scores equal. Writes benchmarks/results/kv_cache.{json,md}.
The title model is untrained, so its searches run longer than a fine-tuned model's would.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BEAMS, K = 20, 10


def _decoding_module() -> Any:
    spec = importlib.util.spec_from_file_location("genrec_bench_decoding", HERE / "decoding.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _search(
    model: Any, prompts: list[list[int]], trie: Any, pad: int, in_place: bool
) -> tuple[float, list[Any]]:
    from transformers import DynamicCache

    from genrec.decoding import SearchConfig, grounded_beam_search
    from genrec.decoding.causal_lm import CausalLMRunner
    from genrec.decoding.kv_cache import reorder_beams

    config = SearchConfig(num_beams=BEAMS, k=K, exclude_history=False, batch_size=len(prompts))
    saved = (
        CausalLMRunner.__dict__["new_cache"],
        CausalLMRunner.__dict__["reorder"],
    )  # reorder: a staticmethod
    if not in_place:  # the previous engine: DynamicCache (torch.cat per token) and full index_select reorders
        CausalLMRunner.new_cache = lambda self, spare=None: DynamicCache(config=self._config)  # type: ignore[method-assign]
        CausalLMRunner.reorder = staticmethod(lambda past, rows, shared_prefix=0: reorder_beams(past, rows))  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        res = grounded_beam_search(model, prompts, trie, config, pad_token_id=pad)
        return time.perf_counter() - t0, res
    finally:
        CausalLMRunner.new_cache, CausalLMRunner.reorder = saved  # type: ignore[method-assign]


def measure(kind: str, n_users: int, batch: int, seed: int) -> dict[str, Any]:
    model, tok, trie, prompts, _ = _decoding_module().build(kind, n_users, seed)
    pad = tok.pad_token_id or 0
    times: dict[str, float] = {"in_place": 0.0, "dynamic_cache": 0.0}
    identical, max_diff = 0, 0.0
    for in_place in (True, False):  # warm-up (allocator, kernels), untimed
        _search(model, prompts[: min(batch, 2)], trie, pad, in_place=in_place)
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        order = ("in_place", "dynamic_cache") if (start // batch) % 2 == 0 else ("dynamic_cache", "in_place")
        out: dict[str, list[Any]] = {}
        for method in order:
            dt, out[method] = _search(model, chunk, trie, pad, in_place=method == "in_place")
            times[method] += dt
        for a, b in zip(out["in_place"], out["dynamic_cache"], strict=True):
            identical += a.items == b.items
            max_diff = max(max_diff, float(np.max(np.abs(np.subtract(a.scores, b.scores)))))
        print(
            f"{kind}: {start + len(chunk)}/{len(prompts)} users, in-place {times['in_place']:.1f} s, "
            f"DynamicCache {times['dynamic_cache']:.1f} s",
            flush=True,
        )
    return {
        "users": n_users,
        "batch_size": batch,
        "trie_items": len(trie),
        "trie_depth": trie.max_depth,
        "prompt_tokens_mean": float(np.mean([len(p) for p in prompts])),
        "ms_per_user": {m: 1000 * t / n_users for m, t in times.items()},
        "speedup": times["dynamic_cache"] / times["in_place"],
        "identical_top10_pct": 100 * identical / n_users,
        "max_abs_score_diff": max_diff,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=32)
    p.add_argument("--title-users", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--title-batch-size", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {
        "config": {
            **vars(args),
            "beams": BEAMS,
            "k": K,
            "model": "SmolLM2-135M-Instruct",
            "torch": torch.__version__,
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
    }
    for kind, n, batch in (
        ("semantic", args.users, args.batch_size),
        ("title", args.title_users, args.title_batch_size),
    ):
        report[kind] = measure(kind, n, batch, args.seed)
    lines = [
        "# KV cache: in-place beam-search cache vs DynamicCache",
        "",
        f"Command: `python benchmarks/kv_cache.py --users {args.users} --title-users {args.title_users} "
        f"--batch-size {args.batch_size} --title-batch-size {args.title_batch_size} --threads {args.threads}`",
        f"Machine: {report['machine']}",
        "",
        "| identifiers | users | prompt tokens | trie depth | in-place ms/user | DynamicCache ms/user | speed-up "
        "| identical top-10 | max score diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("semantic", "title"):
        r = report[kind]
        lines.append(
            f"| {kind} | {r['users']} | {r['prompt_tokens_mean']:.0f} | {r['trie_depth']} | "
            f"{r['ms_per_user']['in_place']:.0f} | {r['ms_per_user']['dynamic_cache']:.0f} | "
            f"{r['speedup']:.2f}x | {r['identical_top10_pct']:.0f}% | {r['max_abs_score_diff']:.1e} |"
        )
    lines += [
        "",
        "Both methods run alternately on the same batches in one process; other processes may share "
        "the CPU. The title model is untrained (its searches run longer than a fine-tuned model's).",
    ]
    from genrec.io.files import write_json_atomic, write_text_atomic

    write_json_atomic(RESULTS / "kv_cache.json", report)
    write_text_atomic(RESULTS / "kv_cache.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
