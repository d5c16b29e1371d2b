"""``genrec tokenize``: fit a tokenizer on a dataset's training split and write identifiers plus stats.

Output directory layout (written to a temporary directory and renamed into place, so a crash never
leaves a partial result): the tokenizer's saved state (``identifiers.json`` in the prebuilt index-file
layout ``{"<item id>": ["<a_12>", ...]}``, ``tokenizer.json`` and model files), ``stats.json``,
``stats.md`` and ``config.json`` (the resolved configuration).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrec.data import leave_one_out, load_dataset
from genrec.data.registry import AMAZON_SETS, default_data_dir
from genrec.data.spec import dataset_reference
from genrec.errors import ConfigError
from genrec.io.files import atomic_directory, write_json_atomic, write_text_atomic
from genrec.recommenders.sasrec_embeddings import sasrec_embeddings
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.collaborative import CollaborativeTokenizer
from genrec.tokenizers.prebuilt import PrebuiltTokenizer, read_index_file
from genrec.tokenizers.registry import build_tokenizer, canonical_name
from genrec.tokenizers.semantic import SemanticTokenizer
from genrec.tokenizers.stats import collision_rate, identifier_stats
from genrec.tokenizers.text_embeddings import EmbedFn


def prebuilt_index_path(dataset: str, variant: str | None, data_dir: Path | None) -> Path:
    """The dataset's ``*.index*.json`` file; ``variant`` picks ``<Name>.index.<variant>.json``."""
    if dataset not in AMAZON_SETS:
        raise ConfigError(f"dataset {dataset!r} has no prebuilt index files")
    folder = (data_dir or default_data_dir()) / AMAZON_SETS[dataset][0]
    files = sorted(folder.glob("*.index*.json"))
    if variant:
        files = [f for f in files if f.name.endswith(f".index.{variant}.json")]
    if len(files) != 1:
        names = ", ".join(f.name for f in sorted(folder.glob("*.index*.json"))) or "none"
        raise ConfigError(
            f"cannot choose a prebuilt index for {dataset!r} in {folder} (available: {names}); "
            "use tokenizer 'prebuilt:<variant>', e.g. prebuilt:rqvae"
        )
    return files[0]


def tokenizer_stats(tok: ItemTokenizer) -> dict[str, Any]:
    """`identifier_stats` with the prefix depth and codebook sizes each tokenizer kind implies."""
    ids = [tok.encode(i) for i in range(len(tok))]
    if isinstance(tok, SemanticTokenizer):
        levels, size = tok.quantiser.levels, tok.quantiser.codebook_size
        stats = identifier_stats(ids, levels, [size] * levels)
        raw = [tuple(r) for r in tok.raw_codes.tolist()]
        stats["collision_rate_nearest_codes"] = collision_rate(raw)
        stats["spread_last_level"] = tok.spread
        stats["timings"] = tok.timings
        return stats
    if isinstance(tok, CollaborativeTokenizer):
        cfg = tok.config
        return identifier_stats(ids, cfg.levels, [cfg.branching + 1] + [cfg.branching] * (cfg.levels - 1))
    if isinstance(tok, PrebuiltTokenizer):
        stats = identifier_stats(ids, tok.depth if tok.extra_level else tok.depth - 1)
        stats["index_file"] = str(tok.path)
        stats["index_file_collision_rate"] = collision_rate(list(read_index_file(tok.path).values()))
        return stats
    return identifier_stats(ids, None)


def stats_markdown(title: str, stats: Mapping[str, Any]) -> str:
    """A short Markdown report of `tokenizer_stats` output."""
    lines = [f"# {title}", "", "| statistic | value |", "|---|---|"]
    for key, value in stats.items():
        if key == "levels":
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    if "levels" in stats:
        lines += ["", "| level | codes used | codebook size | utilisation |", "|---|---|---|---|"]
        for lv in stats["levels"]:
            util = lv.get("utilisation")
            util_s = f"{util:.3f}" if isinstance(util, float) else "n/a"
            lines.append(
                f"| {lv['level']} | {lv['codes_used']} | {lv.get('codebook_size', 'n/a')} | {util_s} |"
            )
    return "\n".join(lines) + "\n"


def tokenize_command(
    dataset: str,
    tokenizer: str,
    output_dir: Path,
    seed: int,
    data_dir: Path | None = None,
    options: Mapping[str, Any] | None = None,
    embed: EmbedFn | None = None,
) -> dict[str, Any]:
    """Fit ``tokenizer`` on ``dataset``'s leave-one-out training sequences and write the results.

    ``tokenizer`` is a registry name (``atomic``, ``title``, ``rqvae``/``semantic``, ``residual_kmeans``,
    ``collaborative``) or ``prebuilt[:<variant>]``; ``options`` are the tokenizer's config fields.
    ``dataset`` is a name or a data spec path (`genrec.data.spec`; recorded as an absolute path).
    Returns the stats (also written to ``stats.json``).
    """
    dataset = dataset_reference(dataset)
    name, _, variant = tokenizer.partition(":")
    name = canonical_name(name)
    opts = dict(options or {})
    if name == "prebuilt" and "path" not in opts:
        opts["path"] = str(prebuilt_index_path(dataset, variant or None, data_dir))
    elif variant:
        raise ConfigError(f"only 'prebuilt' takes a ':<variant>', got {tokenizer!r}")
    data = load_dataset(dataset, data_dir)
    split = leave_one_out(data)
    tok = build_tokenizer(name, opts, embed=embed, sequence_vectors=sasrec_embeddings)
    start, cpu_start = time.perf_counter(), time.process_time()
    tok.fit(data.catalogue, split.train_sequences(), seed)
    fit_s, fit_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    stats: dict[str, Any] = {"dataset": dataset, "tokenizer": name, "seed": seed}
    stats.update(tokenizer_stats(tok))
    stats["fit_seconds"] = fit_s
    # CPU seconds over all threads: wall time on a machine shared with other jobs overstates the cost.
    stats["fit_cpu_seconds"] = fit_cpu_s
    config = {"dataset": dataset, "tokenizer": name, "seed": seed, "options": opts, "data_dir": str(data_dir)}
    with atomic_directory(Path(output_dir), replace=True) as staging:
        tok.save(staging)
        write_json_atomic(staging / "stats.json", stats)
        write_text_atomic(staging / "stats.md", stats_markdown(f"{name} identifiers for {dataset}", stats))
        write_json_atomic(staging / "config.json", config)
    return stats
