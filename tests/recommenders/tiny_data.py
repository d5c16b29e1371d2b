"""A tiny synthetic dataset with learnable structure: each user walks a cycle over the catalogue."""

from __future__ import annotations

from genrec.data import InteractionData, LeaveOneOutSplit, leave_one_out
from genrec.data.catalogue import Catalogue

NUM_ITEMS = 16


def make_tiny_data(num_users: int = 64, num_items: int = NUM_ITEMS) -> InteractionData:
    """User u visits items start, start+step, ... (mod num_items; step 1 or 3, no repeats): predictable."""
    catalogue = Catalogue.from_records([f"i{i}" for i in range(num_items)])
    users, sequences = [], []
    for u in range(num_users):
        start, step, length = u % num_items, 1 + 2 * (u % 2), 5 + (u % 6)
        users.append(f"u{u}")
        sequences.append(tuple((start + step * t) % num_items for t in range(length)))
    return InteractionData("tiny", catalogue, tuple(users), tuple(sequences))


def make_tiny_split() -> LeaveOneOutSplit:
    return leave_one_out(make_tiny_data())
