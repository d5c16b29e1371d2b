"""`benchmarks/serve_load.py --workload mixed`: a real server, a second of mixed load, the saved report."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from benchmark_scripts import load_script

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.run_dir import save_run


def tiny_run(directory: Path) -> tuple[Path, list[list[str]]]:
    catalogue = Catalogue.from_records(
        [f"i{j}" for j in range(30)], {f"i{j}": {"title": f"T{j}"} for j in range(30)}
    )
    sequences = [[(u + j) % 30 for j in range(6)] for u in range(20)]
    train = TrainData(catalogue, sequences, tuple(f"u{u}" for u in range(20)))
    model = PopularityRecommender(seed=0)
    model.fit(train)
    run = save_run(model, catalogue, directory, dataset="tiny", train=train)
    return run, [[f"i{i}" for i in s] for s in sequences]


def test_mixed_workload_reads_writes_and_reports(tmp_path: Path) -> None:
    script = load_script("serve_load")
    run, histories = tiny_run(tmp_path / "run")
    options = "--workload mixed --seconds 1 --warmup 0.2 --clients 4 --write-share 0.3 --k 5"
    args = script.parse_args([*options.split(), "--output", str(tmp_path / "out")])
    assert (args.duration, args.workload, args.write_share) == (1.0, "mixed", 0.3)
    port = script.free_port()
    store = tmp_path / "events.sqlite"
    server = script.start_server(run, port, args, True, f"sqlite:///{store}")
    try:
        mode = asyncio.run(script.drive_mixed(f"http://127.0.0.1:{port}", histories, args))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert mode["all"]["errors"] == 0, mode["error_examples"]
    kinds = mode["by_kind"]
    assert kinds["user recommendations"]["requests"] > 0 and kinds["recommend"]["requests"] > 0
    assert kinds["event write"]["requests"] > 0 and mode["all"]["p99_ms"] is not None
    assert mode["mean_batch_size"] >= 1.0
    with sqlite3.connect(store) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM genrec_events").fetchone()[0]
    assert stored >= 20 * 6 + kinds["event write"]["requests"]  # seeded histories plus every measured write

    args.output.mkdir(parents=True)
    slower = {**mode, "reads": {**mode["reads"], "throughput_rps": mode["reads"]["throughput_rps"] / 2}}
    modes = {"micro-batching on": mode, "micro-batching off": slower}
    result = script.write_mixed(
        args, {"model": "popularity", "items": 30}, modes, "python benchmarks/serve_load.py"
    )
    assert result["read_speedup"] == round(
        mode["reads"]["throughput_rps"] / slower["reads"]["throughput_rps"], 2
    )
    saved = json.loads((args.output / "serve_load_mixed.json").read_text())
    assert saved["modes"]["micro-batching on"]["by_kind"] == kinds
    report = (args.output / "serve_load_mixed.md").read_text()
    assert f"**{result['read_speedup']}x**" in report and "| micro-batching off | event write |" in report
