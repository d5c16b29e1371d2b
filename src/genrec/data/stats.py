"""`genrec data stats`: dataset statistics as a dict and a printable table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genrec.data.registry import load_dataset


def dataset_stats(name: str, data_dir: Path | None = None) -> dict[str, Any]:
    """Users, items, interactions, average sequence length, density and text-field coverage."""
    data = load_dataset(name, data_dir)
    return {"dataset": name, **data.stats()}


def format_stats(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows of (label, value) for display, numbers with thousands separators."""
    rows = [
        ("users", f"{stats['users']:,}"),
        ("items", f"{stats['items']:,}"),
        ("interactions", f"{stats['interactions']:,}"),
        ("avg sequence length", f"{stats['avg_sequence_length']:.2f}"),
        ("density", f"{stats['density']:.6f}"),
    ]
    for field, share in stats["text_field_coverage"].items():
        rows.append((f"items with {field}", f"{100 * share:.1f}%"))
    return rows
