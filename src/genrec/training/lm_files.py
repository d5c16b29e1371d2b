"""A fine-tuned language model's files inside a saved model directory, for every LM-based recommender.

A LoRA run saves only its adapter (the base LM is the config's ``lm``, loaded again); a full fine-tune saves
the whole LM and its tokenizer; an untouched LM saves nothing. Kept free of transformers, so modules that
save and load can import it at the top without pulling the LM stack in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genrec.io.files import atomic_directory

#: Where a fine-tuned LM's files go in a model directory: a LoRA adapter only, or the whole model.
ADAPTER_DIR, LM_DIR = "lm_adapter", "lm"


def save_fine_tuned(directory: Path, model: Any, tokenizer: Any, fine_tune: str) -> str | None:
    """Write what ``fine_tune`` changed: the LoRA adapter (``"lora"``), the whole LM and tokenizer
    (``"full"``), or nothing (``"none"``); each folder atomically. Returns the folder name to record."""
    if fine_tune == "lora":
        with atomic_directory(Path(directory) / ADAPTER_DIR, replace=True) as staging:
            model.save_pretrained(str(staging))
        return ADAPTER_DIR
    if fine_tune == "full":
        with atomic_directory(Path(directory) / LM_DIR, replace=True) as staging:
            model.save_pretrained(str(staging), safe_serialization=True)
            tokenizer.save_pretrained(str(staging))
        return LM_DIR
    return None


def fine_tuned_sources(directory: Path, lm_files: str | None, base_lm: str) -> tuple[str, Path | None]:
    """The LM path and LoRA adapter folder (or None) to load for files recorded by `save_fine_tuned`."""
    if lm_files == LM_DIR:
        return str(Path(directory) / LM_DIR), None
    return base_lm, (Path(directory) / ADAPTER_DIR if lm_files == ADAPTER_DIR else None)
