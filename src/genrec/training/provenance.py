"""Which config a result belongs to: a short hash of the resolved recipe, for benchmark rows.

A benchmark row is only meaningful next to the config it trained. Hashing the resolved config (recipe +
overrides) rather than naming a file version keeps a row current when its recipe is reformatted or when
an override it used is adopted into the recipe, and marks it stale as soon as any value it trained with
changes.
"""

from __future__ import annotations

import hashlib
import json

from genrec.errors import ConfigError
from genrec.training.config import load_config

#: Fields that change how fast a run goes, not what it learns: left out of a row's identity.
NOT_IDENTITY: tuple[tuple[str, ...], ...] = (("seed",), ("training", "num_threads"), ("training", "progress"))
#: Fields added after rows were recorded, with the value that reproduces the behaviour from before they
#: existed: at that value they are left out of the identity, so earlier rows stay current.
ADDED_LATER: dict[tuple[str, ...], object] = {
    ("training", "schedule_clock"): "steps",
    ("training", "ema_decay"): 0.0,
    ("training", "loss_temperature"): 1.0,
    ("training", "confirm_users"): 0,
}


def config_sha(recipe: str, overrides: list[str]) -> str | None:
    """12-hex hash of ``recipe`` + ``overrides`` resolved, minus seed / threads / progress bar and minus
    fields added later while they hold their earlier behaviour (``ADDED_LATER``).

    None when the recipe is no longer shipped or no longer accepts one of the overrides: a row made with it
    cannot be current.
    """
    try:
        resolved = load_config(recipe, overrides).to_dict()
    except ConfigError:
        return None
    for path in NOT_IDENTITY:
        node = resolved
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    for path, neutral in ADDED_LATER.items():
        node = resolved
        for key in path[:-1]:
            node = node[key]
        if node.get(path[-1]) == neutral:
            del node[path[-1]]
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:12]
