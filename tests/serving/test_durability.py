"""No acknowledged event is lost when the server is killed with SIGKILL in the middle of writes.

A real ``python -m genrec serve`` process on loopback, four client threads posting events, SIGKILL once
enough are acknowledged (while the clients keep posting), then a restart on the same SQLite store: every
event that got a 2xx answer must be there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

USERS = 4
ACKED_BEFORE_KILL = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(run: Path, store: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "genrec", "serve", "--model", str(run), "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENREC_API_KEY": ""}
    with log.open("ab") as sink:  # a file, not a pipe: a full pipe would block the server
        proc = subprocess.Popen([*cmd, "--store", store, "--threads", "1"], env=env, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become healthy within 30 s")


def test_acknowledged_events_survive_sigkill(popularity_run: Path, tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("SIGKILL is POSIX")
    store = f"sqlite:///{tmp_path / 'events.sqlite'}"
    port = _free_port()
    server = _start(popularity_run, store, port, tmp_path / "server.log")
    acked: list[list[str]] = [[] for _ in range(USERS)]
    failures = [0] * USERS
    stop = threading.Event()

    def post_events(user: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for n in range(900):  # bounded; stopped long before
                if stop.is_set():
                    return
                event = {"event_id": f"u{user}-{n}", "user": f"u{user}", "item": f"i{n % 12}", "timestamp": n}
                try:
                    if http.post("/v1/events", json=event).status_code == 200:
                        acked[user].append(event["event_id"])
                except httpx.HTTPError:
                    failures[user] += 1
                    if failures[user] >= 3:
                        return

    threads = [threading.Thread(target=post_events, args=(u,)) for u in range(USERS)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 15
        while sum(map(len, acked)) < ACKED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-writes: the clients are still posting
        server.wait(timeout=10)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        if server.poll() is None:
            server.kill()
    assert sum(map(len, acked)) >= ACKED_BEFORE_KILL, "too few writes acknowledged before the kill"
    assert sum(failures) > 0, "the kill did not interrupt any write"

    restarted = _start(popularity_run, store, port, tmp_path / "server.log")
    try:
        for user in range(USERS):
            r = httpx.get(f"http://127.0.0.1:{port}/v1/users/u{user}/history", params={"limit": 1000})
            stored = {e["event_id"] for e in r.json()["events"]}
            missing = [e for e in acked[user] if e not in stored]
            assert not missing, f"acknowledged but lost after SIGKILL: {missing[:10]}"
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)
