"""The mixed workload of `serve_load.py`: users with stored histories, 90% reads and 10% event writes.

Before measuring, every test user's history is posted to ``/v1/events`` (user ``u<N>``). Then each client
loops: with probability ``write_share`` it posts one new event for a random user (a unique event id, so
every write stores a row, durably), otherwise it reads, half the time ``GET /v1/users/u<N>/recommendations``
(history from the store) and half the time ``POST /v1/recommend`` with the history in the body. A read is
an error unless it is a 200 with exactly ``k`` items; a write unless it is a 200 storing one new event.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import numpy as np

KINDS = ("user recommendations", "recommend", "event write")


async def seed_users(http: httpx.AsyncClient, histories: list[list[str]]) -> None:
    """Post each user's history as events (unmeasured); raises on any non-200 answer."""
    for user, history in enumerate(histories):
        events = [
            {"event_id": f"seed-{user}-{j}", "user": f"u{user}", "item": item, "type": "view", "timestamp": j}
            for j, item in enumerate(history)
        ]
        if events:
            r = await http.post("/v1/events", json={"events": events})
            if r.status_code != 200:
                raise RuntimeError(f"seeding user u{user} failed: {r.status_code} {r.text[:200]}")


def _summary(latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    lat = np.asarray(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
    }


async def run_clients(
    base: str,
    client: Callable[[int, httpx.AsyncClient], Awaitable[None]],
    args: argparse.Namespace,
    measuring: asyncio.Event,
    stop: asyncio.Event,
    prepare: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None,
) -> tuple[float, str]:
    """Start ``args.clients`` clients, warm up, set ``measuring`` for ``args.duration`` seconds, then
    ``stop``; returns the measured seconds and the server's ``/metrics`` text afterwards."""
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        if prepare is not None:
            await prepare(http)
        tasks = [asyncio.create_task(client(c, http)) for c in range(args.clients)]
        await asyncio.sleep(args.warmup)
        measuring.set()
        t0 = time.perf_counter()
        await asyncio.sleep(args.duration)
        stop.set()
        elapsed = time.perf_counter() - t0
        await asyncio.gather(*tasks)
        return elapsed, (await http.get("/metrics")).text


async def drive_mixed(base: str, histories: list[list[str]], args: argparse.Namespace) -> dict[str, Any]:
    """Seed the users, warm up, then measure ``args.duration`` seconds of the mixed workload."""
    items = sorted({item for h in histories for item in h})
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    errors: dict[str, list[str]] = {kind: [] for kind in KINDS}
    measuring, stop = asyncio.Event(), asyncio.Event()

    async def request(
        http: httpx.AsyncClient, rng: np.random.Generator, cid: int, n: int
    ) -> tuple[str, str | None]:
        user = int(rng.integers(len(histories)))
        if rng.random() < args.write_share:
            event = {
                "event_id": f"load-{cid}-{n}",
                "user": f"u{user}",
                "item": items[int(rng.integers(len(items)))],
            }
            r = await http.post("/v1/events", json=event)
            ok = r.status_code == 200 and r.json()["new"] == 1
            return "event write", None if ok else f"status {r.status_code}: {r.text[:200]}"
        if rng.random() < 0.5:
            kind = "user recommendations"
            r = await http.get(f"/v1/users/u{user}/recommendations", params={"k": args.k})
        else:
            kind = "recommend"
            r = await http.post("/v1/recommend", json={"history": histories[user], "k": args.k})
        ok = r.status_code == 200 and len(r.json()["items"]) == args.k
        return kind, None if ok else f"status {r.status_code}: {r.text[:200]}"

    async def client(cid: int, http: httpx.AsyncClient) -> None:
        rng = np.random.default_rng([args.seed, cid])
        n = 0
        while not stop.is_set():
            n += 1
            t0 = time.perf_counter()
            try:
                kind, failure = await request(http, rng, cid, n)
            except httpx.HTTPError as exc:
                kind, failure = "error", f"{type(exc).__name__}: {exc}"
            if measuring.is_set() and not stop.is_set():
                latencies.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
                if failure:
                    errors.setdefault(kind, []).append(failure)

    elapsed, metrics = await run_clients(
        base, client, args, measuring, stop, prepare=lambda h: seed_users(h, histories)
    )
    every = [x for values in latencies.values() for x in values]
    reads = latencies["user recommendations"] + latencies["recommend"]
    result = {
        "seconds": round(elapsed, 2),
        "all": _summary(every, sum(map(len, errors.values())), elapsed),
        "reads": _summary(reads, len(errors["user recommendations"]) + len(errors["recommend"]), elapsed),
        "by_kind": {kind: _summary(v, len(errors.get(kind, [])), elapsed) for kind, v in latencies.items()},
        "error_examples": [e for values in errors.values() for e in values][:3],
        "mean_batch_size": mean_batch_size(metrics),
    }
    return result


def mean_batch_size(metrics: str) -> float:
    """Requests per model call since the server started (warm-up included), from ``/metrics``."""
    found = dict(re.findall(r"^(genrec_batch_size_(?:sum|count)) (\S+)$", metrics, re.M))
    total, calls = (
        float(found.get("genrec_batch_size_sum", "nan")),
        float(found.get("genrec_batch_size_count", "0")),
    )
    return round(total / calls, 2) if calls else float("nan")


def mixed_markdown(result: dict[str, Any]) -> str:
    """The mixed-workload report: one row per mode and request kind, then the read speed-up."""
    rows = [
        "| mode | requests | req/s | p50 (ms) | p99 (ms) | errors | mean batch |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, r in result["modes"].items():
        parts = [("all", r["all"]), ("reads", r["reads"]), *r["by_kind"].items()]
        for label, s in parts:
            rows.append(
                f"| {mode} | {label} | {s['throughput_rps']} | {s['p50_ms']} | {s['p99_ms']} | {s['errors']} | "
                f"{r['mean_batch_size'] if label == 'all' else ''} |"
            )
    info = result["model_info"]
    head = (
        f"# Serving load test: mixed workload\n\nModel: {info['model']} on {result['dataset']} "
        f"({info['items']} items). {result['clients']} clients, {result['duration_s']} s per mode after "
        f"{result['warmup_s']} s warm-up; {round(100 * result['write_share'])}% event writes (one event each, "
        f"SQLite store, synchronous=FULL), the rest reads split evenly between GET "
        f"/v1/users/{{user}}/recommendations and POST /v1/recommend, k={result['k']}, "
        f"max_batch_size={result['max_batch_size']}, max_wait_ms={result['max_wait_ms']}, server torch "
        f"threads={result['threads']}, loopback. Machine: {result['machine']}.\n\n"
    )
    on, off = (
        result["modes"][m]["reads"]["throughput_rps"] for m in ("micro-batching on", "micro-batching off")
    )
    tail = (
        f"\n\nRead throughput with micro-batching: **{on} req/s** vs **{off} req/s** without, "
        f"**{result['read_speedup']}x**.\n\nCommand: `{result['command']}`\n"
    )
    return head + "\n".join(rows) + tail
