"""A benchmark's results file, read and written back under an exclusive lock: the one way seeds that run as
separate processes (one per core) merge their rows into the same JSON without overwriting each other.

    with locked_results(path, empty={"runs": {}}, render=markdown) as results:
        results["runs"][row] = ...   # merged into what is on disk at this moment

The JSON and its Markdown (``render(results)``, written beside it with the ``.md`` suffix) are written
atomically; the lock is the ``.lock`` file beside them.
"""

from __future__ import annotations

import copy
import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genrec.io.files import read_json, write_json_atomic, write_text_atomic


@contextmanager
def locked_results(
    path: Path,
    empty: dict[str, Any],
    render: Callable[[dict[str, Any]], str],
    prepare: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """The results at ``path`` (a copy of ``empty`` when there are none yet), under the lock; on exit
    ``prepare`` (derived fields) runs, then the JSON and ``render``'s Markdown are written back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        results = read_json(path) if path.is_file() else copy.deepcopy(empty)
        yield results
        if prepare is not None:
            prepare(results)
        write_json_atomic(path, results)
        write_text_atomic(path.with_suffix(".md"), render(results))
