"""The explainer (a base LM) is loaded once even when the first explanations are asked for concurrently."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from genrec.recommenders import explain


class _SlowExplainer:
    loads = 0

    @classmethod
    def from_path(cls, path: str) -> _SlowExplainer:
        cls.loads += 1
        time.sleep(0.05)  # a slow load: without the lock every concurrent first call would load its own
        return cls()

    def explain(self, history_titles: list[str], item_title: str) -> str:
        return f"{item_title} after {len(history_titles)}"


def test_concurrent_first_calls_load_the_explainer_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explain, "Explainer", _SlowExplainer)
    rec: Any = SimpleNamespace(
        _require_fit=lambda: None,
        has_language_head=True,
        num_items=3,
        titles=["a", "b", "c"],
        config=SimpleNamespace(backbone=SimpleNamespace(path="smollm2")),
        _explainer=None,
    )
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(explain.explain_recommendation(rec, [0, 1], 2)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert _SlowExplainer.loads == 1
    assert answers == ["c after 2"] * 4
