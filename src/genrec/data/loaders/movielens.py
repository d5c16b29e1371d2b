"""MovieLens-100K, from the RecBole atomic files cached by `genrec.assets` (the embedded default dataset)."""

from __future__ import annotations

from pathlib import Path

from genrec.assets import movielens_100k_dir
from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData
from genrec.data.loaders.recbole_atomic import load_item_table, load_recbole_atomic


def load_movielens_100k(directory: Path | None = None) -> InteractionData:
    """All 100,000 ratings as implicit interactions, chronological by timestamp (ties keep file order).

    Titles carry the release year ("Toy Story (1995)"); genres become the ``categories`` field.
    """
    root = directory or movielens_100k_dir()
    item_path = root / "ml-100k.item"
    ids, records = load_item_table(
        item_path, "item_id", {"movie_title": "title", "release_year": "year", "class": "categories"}
    )
    texts = {}
    for item, rec in records.items():
        title = rec["title"]
        year = rec.get("year", "")
        texts[item] = {
            "title": f"{title} ({year})" if year else title,
            "categories": ", ".join(rec.get("categories", "").split()),
        }
    data = load_recbole_atomic(root / "ml-100k.inter", None, name="ml-100k", time_field="timestamp")
    # Rebuild over the full item table so every catalogued movie keeps its text.
    catalogue = Catalogue.from_records(ids, texts)
    remap = [catalogue.index_of(i) for i in data.catalogue.item_ids]
    sequences = tuple(tuple(remap[i] for i in seq) for seq in data.sequences)
    return InteractionData(name="ml-100k", catalogue=catalogue, users=data.users, sequences=sequences)
