"""`genrec explain`: why a saved run's recommendation suits a history, with the attributes it names.

Works for any run directory: the explanation needs only the run's catalogue and a pretrained LM (the
bundled SmolLM2-135M-Instruct by default), never a language head of the recommender. Without an item, the
run's recommender picks its top-1 for the history. ``grounded`` (default) names only attributes the items
share (`genrec.recommenders.grounded_explain`); otherwise the free-text explainer writes the reason. Either
way the answer carries the independent checker's verdict (`genrec.recommenders.explanation_check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genrec.data.catalogue import Catalogue
from genrec.errors import GenrecError
from genrec.recommenders.explain import Explainer
from genrec.recommenders.explanation_check import check_explanation
from genrec.recommenders.grounded_explain import GroundedExplainer
from genrec.recommenders.item_attributes import category_kind, clean_text
from genrec.recommenders.run_dir import load_run


def resolve_items(catalogue: Catalogue, refs: Sequence[str], field: str) -> list[int]:
    """Catalogue indices of item ids or exact titles; `GenrecError` naming every unknown reference."""
    titles: dict[str, int] = {}
    for i in range(len(catalogue)):
        titles.setdefault(catalogue.text(i, "title"), i)
    found, unknown = [], []
    for ref in refs:
        if ref in catalogue:
            found.append(catalogue.index_of(ref))
        elif ref in titles:
            found.append(titles[ref])
        else:
            unknown.append(ref)
    if unknown:
        raise GenrecError(f"{field}: unknown items {unknown} (give item ids or exact titles)")
    return found


def explain_command(
    run_dir: Path,
    history: Sequence[str],
    item: str | None = None,
    *,
    grounded: bool = True,
    lm_path: str = "smollm2",
) -> dict[str, Any]:
    """Explain ``item`` (or the run's top-1 for ``history``) after ``history`` (ids or exact titles).

    Returns ``item`` (id, title), ``text``, ``mentions`` (attribute, value, ids it is true of; for free
    text, as the checker found them), ``grounded`` and ``check`` (the checker's full report).
    """
    recommender, catalogue, info = load_run(Path(run_dir))
    past = resolve_items(catalogue, history, "history")
    if item is None:
        if not past:
            raise GenrecError("history: give at least one item, or name the item to explain")
        top = int(recommender.recommend([past], k=1).items[0, 0])
        if top < 0:
            raise GenrecError("the recommender returned no item for this history")
        target = top
    else:
        (target,) = resolve_items(catalogue, [item], "item")
    if grounded:
        explainer = GroundedExplainer.from_path(lm_path, catalogue, category_kind(info.dataset))
        result = explainer.explain(past, target)
        text, mentions = result.text, [m.to_dict() for m in result.mentions]
    else:
        titles = [clean_text(catalogue.title(i)) for i in past[-5:]]
        text = Explainer.from_path(lm_path).explain(titles, clean_text(catalogue.title(target)))
    check = check_explanation(text, past, target, catalogue)
    if not grounded:
        mentions = [{k: a[k] for k in ("attribute", "value", "items")} for a in check["attributes"]]
    return {
        "item": {"id": catalogue.id_of(target), "title": catalogue.title(target)},
        "text": text,
        "mentions": mentions,
        "grounded": grounded,
        "check": check,
    }
