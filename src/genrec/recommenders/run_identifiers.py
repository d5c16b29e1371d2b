"""The fitted identifiers of a training run, kept in its output directory for resuming.

A resumed run must train on exactly the identifiers its checkpoints were trained on. Refitting them
reproduces them only where the fit is bit-for-bit repeatable (same machine, same thread count): a
semantic-ID fit on another machine can silently hand the checkpointed weights other identifiers. Some
fits are also slow (the SASRec item table behind beauty's semantic IDs takes about 10 minutes on one
thread). So `GenerativeRecommender.fit` saves the fitted item tokenizer to ``<output_dir>/identifiers``
before training, and a later fit into the same directory loads it instead of fitting again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from genrec.errors import GenrecError
from genrec.io.files import atomic_directory
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.registry import load_tokenizer
from genrec.tokenizers.text_embeddings import EmbedFn

IDENTIFIERS_DIR = "identifiers"
#: The staging directories `atomic_directory` leaves when a process is killed while writing ``identifiers``.
_STALE_STAGING = f".{IDENTIFIERS_DIR}.*.tmp"


def load_run_identifiers(
    output_dir: Path, expected: ItemTokenizer, num_items: int, embed: EmbedFn | None = None
) -> ItemTokenizer | None:
    """The item tokenizer an earlier fit into ``output_dir`` saved, or None when there is none.

    ``expected`` is the (unfitted) tokenizer the run's config builds: a saved one of another kind, or one
    covering another number of items than the training catalogue's ``num_items``, is an error naming the
    directory, because the checkpoints beside it were trained for other identifiers.
    """
    directory = Path(output_dir) / IDENTIFIERS_DIR
    if not directory.is_dir():
        return None
    saved = load_tokenizer(directory, embed=embed)
    if saved.name != expected.name:
        raise GenrecError(
            f"{directory}: this run's identifiers are {saved.name!r} but the config asks for "
            f"{expected.name!r}; use a new output directory"
        )
    if len(saved) != num_items:
        raise GenrecError(
            f"{directory}: this run's identifiers cover {len(saved)} items but the training catalogue has "
            f"{num_items}; the data changed since the run started: use a new output directory"
        )
    return saved


def save_run_identifiers(tokenizer: ItemTokenizer, output_dir: Path) -> Path:
    """Write ``tokenizer`` to ``<output_dir>/identifiers`` atomically (a reader sees all of it or none)
    unless it is already there; returns that directory. Under ``accelerate launch`` only rank 0 writes."""
    from accelerate import PartialState

    output_dir = Path(output_dir)
    final = output_dir / IDENTIFIERS_DIR
    if final.is_dir() or not PartialState().is_main_process:
        return final
    for stale in output_dir.glob(_STALE_STAGING):  # left by a process killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    with atomic_directory(final, replace=False) as staging:
        tokenizer.save(staging)
    return final
