"""Load test of `genrec serve`: N concurrent clients on loopback, micro-batching on vs off, same run.

Trains a model on a dataset's leave-one-out training split (by default the compact generative
recommender of ``--recipe``, decoded with trie-constrained beam search; ``--model sasrec`` or
``--model popularity`` for the baselines; ``--run-dir`` serves an existing run directory), saves a run directory, then for each mode starts a real server
(``serve_command`` in a subprocess, 127.0.0.1 only) and lets ``--clients`` asyncio/httpx clients post
test-set histories to ``/v1/recommend`` for ``--duration`` seconds (after a short unmeasured warm-up).
Reports throughput, p50/p99 latency, errors and the mean batch size (from ``/metrics``) as JSON and
Markdown under ``--output``.

``--workload mixed`` replaces the clients' requests with the mixed workload of `serve_mixed.py` (users
with stored histories; 90% reads of user recommendations and /v1/recommend, 10% event writes into the
server's SQLite event store) and writes ``serve_load_mixed.{json,md}``, read speed-up included.

    python benchmarks/serve_load.py --clients 16 --duration 60
    python benchmarks/serve_load.py --workload mixed --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from serve_mixed import drive_mixed, mixed_markdown, run_clients

MAX_DURATION_S = 600.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=("generative", "sasrec", "popularity"), default="generative")
    p.add_argument(
        "--run-dir", type=Path, default=None, help="serve this saved run directory instead of training one"
    )
    p.add_argument("--recipe", default="ml100k-semantic-compact", help="recipe of --model generative")
    p.add_argument("--train-minutes", type=float, default=3.0, help="training budget of --model generative")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument(
        "--duration",
        "--seconds",
        type=float,
        default=60.0,
        help=f"seconds per mode (at most {MAX_DURATION_S:.0f})",
    )
    p.add_argument(
        "--workload",
        choices=("recommend", "mixed"),
        default="recommend",
        help="recommend: POST /v1/recommend only; mixed: user reads and event writes (see serve_mixed.py)",
    )
    p.add_argument("--write-share", type=float, default=0.1, help="share of event writes (mixed workload)")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    p.add_argument("--train-epochs", type=int, default=5)
    p.add_argument("--hidden-size", type=int, default=64, help="SASRec hidden size (RecBole default 64)")
    p.add_argument("--n-layers", type=int, default=2, help="SASRec blocks (RecBole default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "serve_load")
    args = p.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S or args.clients < 1:
        p.error(f"--duration must be in (0, {MAX_DURATION_S:.0f}] and --clients >= 1")
    if not 0.0 <= args.write_share <= 1.0:
        p.error("--write-share must be in [0, 1]")
    return args


def build_run(args: argparse.Namespace, directory: Path) -> tuple[Path, list[list[str]], dict[str, Any]]:
    """Train the model, save a run directory; return it, test histories as item ids, and model info."""
    import torch

    from genrec.data import leave_one_out, load_dataset
    from genrec.recommenders.popularity import PopularityRecommender
    from genrec.recommenders.run_dir import save_run

    torch.set_num_threads(2)
    if args.run_dir is not None or args.model == "generative":
        return _generative_run(args, directory)
    split = leave_one_out(load_dataset(args.dataset, args.data_dir))
    train = split.train_data()
    t0 = time.perf_counter()
    model: Any
    if args.model == "sasrec":
        from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender

        model = SASRecRecommender(
            SASRecConfig(
                seed=args.seed,
                epochs=args.train_epochs,
                num_threads=2,
                hidden_size=args.hidden_size,
                n_layers=args.n_layers,
                inner_size=4 * args.hidden_size,
            )
        )
        model.fit(train, split.valid_set())
    else:
        model = PopularityRecommender(seed=args.seed)
        model.fit(train)
    info = {"model": args.model, "train_s": round(time.perf_counter() - t0, 1), "items": split.num_items}
    if args.model == "sasrec":
        info["best_valid_ndcg@10"] = model.training_log.get("best_valid_ndcg@10")
        info["config"] = model.config.to_dict()
    run = save_run(
        model, split.data.catalogue, directory, dataset=args.dataset, data_dir=args.data_dir, train=train
    )
    cat = split.data.catalogue
    histories = [[cat.id_of(i) for i in h[-50:]] for h in split.test_set().histories]
    return run, histories, info


def _generative_run(
    args: argparse.Namespace, directory: Path
) -> tuple[Path, list[list[str]], dict[str, Any]]:
    """Train ``--recipe`` under ``--train-minutes`` (or take ``--run-dir``); test histories of its dataset."""
    from genrec.data import leave_one_out, load_dataset
    from genrec.recommenders.run_dir import read_run_info
    from genrec.workflows.train import train_command

    t0 = time.perf_counter()
    info: dict[str, Any]
    if args.run_dir is not None:
        run = Path(args.run_dir)
        info = {"model": read_run_info(run).recommender, "run_dir": str(run), "train_s": 0.0}
    else:
        overrides = [f"training.max_minutes={args.train_minutes}", "training.progress=false"]
        metrics = train_command(
            args.recipe, directory.parent / "train", args.seed, args.data_dir, overrides, False
        )
        run = directory.parent / "train" / "model"
        info = {
            "model": f"generative ({args.recipe})",
            "train_s": round(time.perf_counter() - t0, 1),
            "training_steps": metrics.get("training", {}).get("steps"),
        }
    dataset = read_run_info(run).dataset or args.dataset
    args.dataset = dataset
    split = leave_one_out(load_dataset(dataset, args.data_dir))
    info["items"] = split.num_items
    cat = split.data.catalogue
    histories = [[cat.id_of(i) for i in h[-50:]] for h in split.test_set().histories]
    return run, histories, info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    run: Path, port: int, args: argparse.Namespace, batching: bool, store: str
) -> subprocess.Popen[bytes]:
    code = (
        "from pathlib import Path; from genrec.serving.server import serve_command; "
        f"serve_command(Path({str(run)!r}), host='127.0.0.1', port={port}, max_batch_size={args.max_batch_size}, "
        f"max_wait_ms={args.max_wait_ms}, batching={batching}, num_threads={args.threads}, store={store!r})"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "GENREC_API_KEY": ""}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy within 60 s")


async def drive(base: str, histories: list[list[str]], args: argparse.Namespace) -> dict[str, Any]:
    """Run the clients: warm-up, then ``duration`` seconds measured; latencies in ms."""
    latencies: list[float] = []
    errors: list[str] = []
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(histories))
    measuring = asyncio.Event()
    stop = asyncio.Event()

    async def client(cid: int, http: httpx.AsyncClient) -> None:
        n = cid
        while not stop.is_set():
            body = {"history": histories[int(order[n % len(order)])], "k": args.k}
            n += args.clients
            t0 = time.perf_counter()
            try:
                r = await http.post("/v1/recommend", json=body)
                ok = r.status_code == 200 and len(r.json()["items"]) == args.k
                failure = None if ok else f"status {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if measuring.is_set() and not stop.is_set():
                latencies.append((time.perf_counter() - t0) * 1000)
                if failure:
                    errors.append(failure)

    elapsed, metrics = await run_clients(base, client, args, measuring, stop)
    lat = np.asarray(latencies)

    def metric(name: str) -> float:
        m = re.search(rf"^{name} (\S+)$", metrics, re.M)
        return float(m.group(1)) if m else float("nan")

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
        "mean_batch_size": round(
            metric("genrec_batch_size_sum") / max(metric("genrec_batch_size_count"), 1), 2
        ),
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| mode | clients | requests | throughput (req/s) | p50 (ms) | p99 (ms) | errors | mean batch |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, r in result["modes"].items():
        rows.append(
            f"| {mode} | {result['clients']} | {r['requests']} | {r['throughput_rps']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['errors']} | {r['mean_batch_size']} |"
        )
    head = (
        f"# Serving load test\n\nModel: {result['model_info']['model']} on {result['dataset']} "
        f"({result['model_info']['items']} items), {result['duration_s']} s per mode after "
        f"{result['warmup_s']} s warm-up, k={result['k']}, max_batch_size={result['max_batch_size']}, "
        f"max_wait_ms={result['max_wait_ms']}, server torch threads={result['threads']}, loopback.\n"
        f"Machine: {result['machine']}.\n\n"
    )
    return head + "\n".join(rows) + f"\n\nSpeed-up of micro-batching: **{result['speedup']}x**.\n"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The load and server settings a result records, the same for both workloads."""
    return {
        "dataset": args.dataset,
        "clients": args.clients,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "k": args.k,
        "max_batch_size": args.max_batch_size,
        "max_wait_ms": args.max_wait_ms,
        "threads": args.threads,
        "seed": args.seed,
    }


def _provenance(command: str) -> dict[str, str]:
    """Where and how a result was measured."""
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": command,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="genrec-serve-load-") as tmp:
        run, histories, info = build_run(args, Path(tmp) / "run")
        print(f"trained {info}", flush=True)
        modes: dict[str, Any] = {}
        for name, batching in (("micro-batching on", True), ("micro-batching off", False)):
            port = free_port()
            store = f"sqlite:///{Path(tmp) / f'events-{batching}.sqlite'}"  # a fresh store per mode
            server = start_server(run, port, args, batching, store)
            drive_mode = drive_mixed if args.workload == "mixed" else drive
            try:
                modes[name] = asyncio.run(drive_mode(f"http://127.0.0.1:{port}", histories, args))
            finally:
                server.terminate()
                server.wait(timeout=30)
            print(name, modes[name], flush=True)
    command = "python benchmarks/serve_load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.workload == "mixed":
        return write_mixed(args, info, modes, command)
    on, off = modes["micro-batching on"]["throughput_rps"], modes["micro-batching off"]["throughput_rps"]
    result = {
        **_settings(args),
        "model_info": info,
        "modes": modes,
        "speedup": round(on / off, 2) if off else None,
        **_provenance(command),
    }
    (args.output / "serve_load.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.output / "serve_load.md").write_text(markdown(result))
    print(markdown(result))
    return result


def write_mixed(
    args: argparse.Namespace, info: dict[str, Any], modes: dict[str, Any], command: str
) -> dict[str, Any]:
    """Save and print the mixed-workload result (``serve_load_mixed.{json,md}``)."""
    on, off = (modes[m]["reads"]["throughput_rps"] for m in ("micro-batching on", "micro-batching off"))
    result = {
        "workload": "mixed",
        **_settings(args),
        "write_share": args.write_share,
        "model_info": info,
        "modes": modes,
        "read_speedup": round(on / off, 2) if off else None,
        **_provenance(command),
    }
    (args.output / "serve_load_mixed.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.output / "serve_load_mixed.md").write_text(mixed_markdown(result))
    print(mixed_markdown(result))
    return result


if __name__ == "__main__":
    main()
