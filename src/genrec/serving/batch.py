"""`genrec recommend`: top-K lists for many users, written to JSONL or Parquet, sharded across processes.

Users come from the run's dataset (``users_from="test"`` / ``"valid"``, or ``"NAME:test"`` for another
named dataset or data spec path over the same catalogue; histories are the leave-one-out model inputs) or
from a ``.jsonl`` / ``.parquet`` file with a ``history`` column (item ids or exact titles) and an optional
``user`` column. Under ``accelerate launch`` (GPU machines) or ``torchrun`` (CPU: accelerate's own
multi-CPU launch needs MPI) each process ranks one contiguous shard of the users
(`shard_range`) and writes a part file; process 0 waits for all of them and merges the parts, in user
order, into ``output`` (written atomically). Output rows: ``user``, ``items`` (ids), ``titles``,
``scores`` and ``fallback`` (``"popular"`` for an empty history).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from genrec.errors import ConfigError, DataError
from genrec.io.files import atomic_path
from genrec.serving.service import Query, RecommendService, UnknownItemsError

SPLITS = ("test", "valid")


def shard_range(n: int, num_shards: int, index: int) -> range:
    """Contiguous shard ``index`` of ``n`` items; sizes differ by at most one, earlier shards larger."""
    if num_shards < 1 or not 0 <= index < num_shards:
        raise ConfigError(f"invalid shard {index} of {num_shards}")
    base, extra = divmod(n, num_shards)
    start = index * base + min(index, extra)
    return range(start, start + base + (1 if index < extra else 0))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg})", path=path, line=line_no) from None
            if not isinstance(row, dict):
                raise DataError("each line must be a JSON object", path=path, line=line_no)
            rows.append(row)
    return rows


def histories_from_file(path: Path, service: RecommendService) -> tuple[list[str], list[tuple[int, ...]]]:
    """Users and resolved histories of a JSONL/Parquet file; `DataError` naming the row on bad input."""
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix not in (".jsonl", ".parquet"):
        raise DataError("histories must be a .jsonl or .parquet file", path=path)
    users, histories = [], []
    for row_no, row in enumerate(_read_rows(path), 1):
        history = row.get("history")
        if not isinstance(history, list):
            raise DataError(
                "'history' must be a list of item ids or titles", path=path, line=row_no, field="history"
            )
        try:
            histories.append(service.resolve([str(h) for h in history]))
        except UnknownItemsError as exc:
            raise DataError(str(exc), path=path, line=row_no, field="history") from None
        users.append(str(row.get("user", row_no - 1)))
    return users, histories


def histories_from_dataset(
    spec: str, service: RecommendService, data_dir: Path | None
) -> tuple[list[str], list[tuple[int, ...]]]:
    """Users and model-input histories of a leave-one-out split ("test", "valid" or "NAME:SPLIT").

    NAME may be a data spec path (``shop.yaml:test``): the split is taken after the last colon."""
    from genrec.data import leave_one_out, load_dataset

    name, _, split = spec.rpartition(":")
    name = name or (service.info.dataset or "")
    if split not in SPLITS or not name:
        raise ConfigError(
            f"users_from {spec!r}: expected a .jsonl/.parquet file, or SPLIT / DATASET:SPLIT with SPLIT in "
            f"{SPLITS} (the run records dataset {service.info.dataset!r})"
        )
    root = data_dir or (Path(service.info.data_dir) if service.info.data_dir else None)
    data = load_dataset(name, root)
    if data.catalogue.item_ids != service.catalogue.item_ids:
        raise DataError(
            f"dataset {name!r} does not have the run's catalogue ({len(service.catalogue)} items)"
        )
    loo = leave_one_out(data)
    sets = loo.test_set() if split == "test" else loo.valid_set()
    return list(sets.users), [tuple(h) for h in sets.histories]


def _rank_rows(
    service: RecommendService,
    users: Sequence[str],
    histories: Sequence[tuple[int, ...]],
    k: int,
    batch_size: int,
    exclude_history: bool,
    progress: bool,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    starts = range(0, len(users), batch_size)
    for lo in tqdm(starts, desc="recommend", unit="batch", disable=not progress):
        queries = [Query(h, k, exclude_history) for h in histories[lo : lo + batch_size]]
        for user, ranked in zip(users[lo : lo + batch_size], service.recommend_batch(queries), strict=True):
            cat = service.catalogue
            rows.append(
                {
                    "user": user,
                    "items": [cat.id_of(i) for i in ranked.items],
                    "titles": [cat.title(i) for i in ranked.items],
                    "scores": ranked.scores,
                    "fallback": ranked.fallback,
                }
            )
    return rows


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` atomically as Parquet (a ``.parquet`` path) or JSON Lines (any other)."""
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def recommend_command(
    model_dir: Path,
    output: Path,
    users_from: str,
    k: int = 10,
    batch_size: int = 256,
    exclude_history: bool = True,
    data_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write top-``k`` lists for every user of ``users_from`` to ``output`` (.jsonl or .parquet).

    Returns a summary (users, output, processes, seconds) on every process.
    """
    from accelerate import PartialState

    output = Path(output)
    if output.suffix not in (".jsonl", ".parquet"):
        raise ConfigError(f"output must end in .jsonl or .parquet, got {output.name!r}")
    if not 1 <= k <= 1000 or batch_size < 1:
        raise ConfigError(f"k must be in [1, 1000] and batch_size >= 1, got k={k}, batch_size={batch_size}")
    start = time.perf_counter()
    state = PartialState(cpu=True)  # processes only synchronise (gloo); models stay where they load
    service = RecommendService.from_run(Path(model_dir))
    source = Path(users_from)
    if source.suffix in (".jsonl", ".parquet"):
        users, histories = histories_from_file(source, service)
    else:
        users, histories = histories_from_dataset(users_from, service, data_dir)
    mine = shard_range(len(users), state.num_processes, state.process_index)
    rows = _rank_rows(
        service,
        users[mine.start : mine.stop],
        histories[mine.start : mine.stop],
        k,
        batch_size,
        exclude_history,
        progress and state.is_main_process,
    )
    if state.num_processes == 1:
        _write_rows(output, rows)
    else:
        part = output.with_name(f".{output.name}.part-{state.process_index}-of-{state.num_processes}.jsonl")
        _write_rows(part, rows)
        state.wait_for_everyone()
        if state.is_main_process:
            parts = [
                output.with_name(f".{output.name}.part-{r}-of-{state.num_processes}.jsonl")
                for r in range(state.num_processes)
            ]
            merged = [json.loads(line) for p in parts for line in p.read_text(encoding="utf-8").splitlines()]
            _write_rows(output, merged)
            for p in parts:
                p.unlink()
        state.wait_for_everyone()
    return {
        "users": len(users),
        "output": str(output),
        "processes": state.num_processes,
        "seconds": time.perf_counter() - start,
    }
