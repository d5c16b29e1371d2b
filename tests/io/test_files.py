"""Atomic writes: a finished write replaces the file whole, a failed one leaves the old file and no litter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genrec.errors import DataError
from genrec.io.files import atomic_directory, atomic_path, read_json, write_json_atomic, write_text_atomic


def test_atomic_path_renames_a_finished_write_over_the_target(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"  # the parent is created
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
        assert tmp.is_file() and not target.exists()
        tmp.write_text("new", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_files_get_the_permissions_of_a_plain_write(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("x", encoding="utf-8")
    write_text_atomic(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_atomic_path_keeps_the_old_file_and_removes_the_temporary_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="writer crashed"), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("writer crashed")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_suffix_suits_writers_that_append_their_own(tmp_path: Path) -> None:
    target = tmp_path / "arrays.npz"
    with atomic_path(target, suffix=".npz") as tmp:
        np.savez(tmp, x=np.arange(3))  # would write tmp + ".npz" if the suffix were missing
    with np.load(target) as arrays:
        assert arrays["x"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["arrays.npz"]


def test_durable_write_gives_the_same_file(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "pointer.json", '{"latest": "step-1"}', durable=True)
    assert read_json(tmp_path / "pointer.json") == {"latest": "step-1"}


def test_json_format_is_indent_one_with_a_trailing_newline_and_unicode_kept(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"title": "Amélie", "n": [1, 2]})
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps({"title": "Amélie", "n": [1, 2]}, ensure_ascii=False, indent=1) + "\n"
    assert read_json(path) == {"title": "Amélie", "n": [1, 2]}


def test_read_json_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_json(bad)
    assert info.value.path == str(bad) and info.value.line == 3


def test_atomic_directory_replaces_an_earlier_result_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with atomic_directory(target, replace=True) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.")
        (staging / "new.txt").write_text("new", encoding="utf-8")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or swapped-out copy left


def test_atomic_directory_first_writer_wins_and_failures_leave_no_trace(tmp_path: Path) -> None:
    target = tmp_path / "asset"
    with atomic_directory(target, replace=False) as staging:
        (staging / "mine.txt").write_text("mine", encoding="utf-8")
        target.mkdir()  # another process publishes its copy while this one writes
        (target / "theirs.txt").write_text("theirs", encoding="utf-8")
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]
    with (
        pytest.raises(RuntimeError, match="crashed"),
        atomic_directory(tmp_path / "fresh", replace=True) as s,
    ):
        (s / "half.txt").write_text("half", encoding="utf-8")
        raise RuntimeError("crashed")
    assert [p.name for p in tmp_path.iterdir()] == ["asset"]
