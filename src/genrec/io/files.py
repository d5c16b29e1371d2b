"""Atomic file writes and JSON reading: a crash never leaves a half-written file behind.

Every single-file write in genrec goes through `atomic_path`: the writer fills a temporary file in the
target's own directory (so the final rename never crosses a file system), and only a write that finished is
renamed over the target with `os.replace`, which readers see as all-or-nothing. `atomic_directory` does
the same for a directory of files written together. Temporaries are named ``.NAME.<random><suffix>``:
hidden, and recognisable as leftovers of ``NAME``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genrec.errors import DataError


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp", *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` when the block succeeds.

    The temporary file exists (empty) when the block starts, so writers may open it or overwrite it by
    name; it is created like any file a user writes (permissions from the umask, not `tempfile`'s 0600).
    ``suffix`` is the temporary file's extension, for writers that add their own when it is missing
    (``np.savez`` appends ``.npz``). On an exception the temporary file is removed and ``path`` keeps
    its previous content. ``durable`` also flushes the file to disk before the rename (``fsync``), for
    files whose loss after a power cut would leave others unreachable, such as a checkpoint pointer.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}{suffix}"
    tmp.open("xb").close()  # exclusive creation: never another writer's temporary file
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_directory(target: Path, *, replace: bool) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; move it onto ``target`` when the block succeeds.

    With ``replace`` an existing ``target`` is swapped out (moved aside, then deleted); without it the first
    complete writer wins: when ``target`` appeared meanwhile (another process published it), the staged
    copy is discarded and theirs kept. On an exception the staging directory is removed and ``target`` is
    untouched. Staging directories are named ``.NAME.<random>.tmp``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
        if replace:
            _swap_directory(staging, target)
        else:
            _publish_directory_once(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_directory(staging: Path, target: Path) -> None:
    """Move ``staging`` onto ``target``, replacing an earlier ``target`` (deleted only after the swap)."""
    previous = None
    if target.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, previous / "previous")
    os.replace(staging, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _publish_directory_once(staging: Path, target: Path) -> None:
    """Move ``staging`` onto ``target`` unless another writer's complete ``target`` is already there."""
    try:
        os.replace(staging, target)
    except OSError:
        if not target.is_dir():  # not a concurrent writer that got there first
            raise


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see `atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write ``payload`` as UTF-8 JSON (indent 1, trailing newline) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file, raising `DataError` naming the file when it is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg})", path=path, line=exc.lineno) from None
