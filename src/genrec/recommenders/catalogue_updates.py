"""Live catalogue updates of a fitted recommender: new items from their text, hidden items, nothing retrained.

The optional protocol `SupportsCatalogueUpdates` is what a serving process calls when the catalogue
changes while it runs:

- ``add_items(catalogue) -> list[int]``: ``catalogue`` holds every known item at its old index followed by
  new ones; each new item gets an identifier (through the item tokenizer's ``add_items``: a semantic ID from
  its text with the fitted quantiser frozen, an atomic token, its title, ...) and can be recommended at
  once. No known item's identifier changes. Returns the new indices.
- ``refresh_text(catalogue, items)``: the text of known ``items`` changed; the model's own copy of item
  text (titles shown in prompts) follows. Identifiers never change with the text.
- ``hide_items(indices)`` / ``unhide_items(indices)``: a hidden item is never recommended until unhidden; it
  may still appear in histories. Hiding an already hidden item (or unhiding a visible one) does nothing.

Every method runs while no ranking is in progress (serving calls them on its single model thread).

`GenerativeCatalogueUpdates` implements the protocol for `GenerativeRecommender`: identifier tokens the
language model lacks are added with embedding rows initialised as training initialises them (from the
titles of the items carrying them for pretrained backbones, at the existing rows' scale otherwise), the
identifier is inserted into the decoding trie, and hiding removes it from the trie.

ID models (popularity, SASRec, GRU4Rec) learned one score or embedding per training item, so they cannot
score an item they never saw: `catalogue_updates` returns None for them, and serving keeps their index
space as trained. New items may appear in their histories (ignored as input, like any unknown item) and
are never recommended by them; hiding is applied as a per-request exclusion (see `genrec.serving.rules`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from genrec.data.catalogue import Catalogue
from genrec.decoding import PrefixTrie
from genrec.errors import GenrecError
from genrec.training.token_init import init_token_rows

if TYPE_CHECKING:  # importing it loads transformers; serving an ID model never needs that
    from genrec.recommenders.generative import GenerativeRecommender


@runtime_checkable
class SupportsCatalogueUpdates(Protocol):
    """Optional recommender extension: grow and hide catalogue items without retraining (module docstring)."""

    def add_items(self, catalogue: Catalogue) -> list[int]: ...

    def refresh_text(self, catalogue: Catalogue, items: Sequence[int]) -> None: ...

    def hide_items(self, indices: Sequence[int]) -> None: ...

    def unhide_items(self, indices: Sequence[int]) -> None: ...


def catalogue_updates(recommender: object) -> SupportsCatalogueUpdates | None:
    """The catalogue-update interface of ``recommender``, or None when its item space is fixed (ID models)."""
    generative = sys.modules.get("genrec.recommenders.generative")  # loaded whenever such a model exists
    if generative is not None and isinstance(recommender, generative.GenerativeRecommender):
        return GenerativeCatalogueUpdates(recommender)
    if isinstance(recommender, SupportsCatalogueUpdates):
        return recommender
    return None


class GenerativeCatalogueUpdates:
    """`SupportsCatalogueUpdates` for a fitted `GenerativeRecommender` (see the module docstring)."""

    def __init__(self, recommender: GenerativeRecommender) -> None:
        self.rec = recommender

    def _trie(self) -> PrefixTrie:
        if self.rec.trie is None or self.rec.model is None:
            raise GenrecError("catalogue updates need a fitted generative recommender; call fit() or load()")
        return self.rec.trie

    # ------------------------------------------------------------------ new items
    def add_items(self, catalogue: Catalogue) -> list[int]:
        rec, trie = self.rec, self._trie()
        known = rec.num_items
        if len(rec.item_tokenizer) != known:
            raise GenrecError(
                f"the item tokenizer knows {len(rec.item_tokenizer)} items but the model {known}; "
                "reload the run before updating its catalogue"
            )
        new = rec.item_tokenizer.add_items(catalogue)  # checks that known items keep their indices
        if not new:
            return []
        added_tokens = self._add_missing_tokens(new, catalogue)
        raw_titles = [catalogue.text(i, "title").strip() for i in new]
        if len(rec._raw_titles) == known:
            rec._raw_titles.extend(raw_titles)
        if len(rec.titles) == known:
            rec.titles.extend(t or catalogue.title(i) for i, t in zip(new, raw_titles, strict=True))
        text = rec.text_identifiers
        rec.item_ids.extend(rec._identifier_ids(i, text) for i in new)
        if rec.template.packable and len(rec.item_suffix) == known:  # a run saved without titles has ""
            shown = [rec.titles[i] if i < len(rec.titles) else "" for i in new]
            rec.item_suffix.extend(rec.template.item_suffix(t, rec.lm_tokenizer) for t in shown)
        rec.num_items = len(catalogue)
        if added_tokens:  # the trie's vocabulary is fixed at construction: rebuild it over the visible items
            grown = PrefixTrie(len(rec.lm_tokenizer))
            for item in [*trie.items, *new]:
                grown.insert(item, rec.item_ids[item])
            rec.trie = grown
        else:
            for item in new:
                trie.insert(item, rec.item_ids[item])
        rec._grounder = None  # embedding grounding indexes every title: rebuilt at the next request
        return new

    def _add_missing_tokens(self, new: Sequence[int], catalogue: Catalogue) -> list[str]:
        """Add identifier tokens the LM does not have yet (atomic IDs, a grown collision level).

        Their embedding rows start where training starts them: a pretrained backbone with ``text`` in
        ``init_new_tokens`` averages the titles' input embeddings; otherwise the existing rows' mean plus
        noise of their scale. Returns the tokens added.
        """
        rec = self.rec
        lm_tokenizer, model = rec.lm_tokenizer, rec.model
        have = lm_tokenizer.get_vocab()
        missing = [t for t in rec.item_tokenizer.vocabulary() if t not in have]
        if not missing:
            return []
        if lm_tokenizer.add_tokens(missing) != len(missing):
            raise GenrecError(f"could not add the identifier tokens {missing[:5]} to the language model")
        rows = model.get_input_embeddings().weight.shape[0]
        if len(lm_tokenizer) > rows:
            model.resize_token_embeddings(len(lm_tokenizer), mean_resizing=False)
        token_ids = [int(i) for i in lm_tokenizer.convert_tokens_to_ids(missing)]
        backbone = rec.config.backbone
        texts: list[list[str]] | None = None
        if backbone.kind == "pretrained" and "text" in backbone.init_new_tokens:
            by_token: dict[str, list[str]] = {t: [] for t in missing}
            for item in new:
                title = catalogue.text(item, "title").strip()
                for token in rec.item_tokenizer.encode(item):
                    if title and token in by_token:
                        by_token[token].append(title)
            texts = [by_token[t] for t in missing]
        init_token_rows(model, lm_tokenizer, token_ids, texts, rec.config.seed)
        model.eval()
        return missing

    # ------------------------------------------------------------------ text and visibility
    def refresh_text(self, catalogue: Catalogue, items: Sequence[int]) -> None:
        rec = self.rec
        self._check_indices(items)
        for item in items:
            raw = catalogue.text(item, "title").strip()
            if len(rec._raw_titles) == rec.num_items:
                rec._raw_titles[item] = raw
            if len(rec.titles) == rec.num_items:
                rec.titles[item] = raw or catalogue.title(item)
                if rec.template.packable and len(rec.item_suffix) == rec.num_items:
                    rec.item_suffix[item] = rec.template.item_suffix(rec.titles[item], rec.lm_tokenizer)
        rec._grounder = None

    def hide_items(self, indices: Sequence[int]) -> None:
        trie = self._trie()
        self._check_indices(indices)
        for item in indices:
            if item in trie:
                trie.remove(int(item))

    def unhide_items(self, indices: Sequence[int]) -> None:
        trie = self._trie()
        self._check_indices(indices)
        for item in indices:
            if item not in trie:
                trie.insert(int(item), self.rec.item_ids[item])

    def _check_indices(self, indices: Sequence[int]) -> None:
        bad = [int(i) for i in indices if not 0 <= int(i) < self.rec.num_items]
        if bad:
            raise GenrecError(f"item indices {bad[:5]} are outside the model's {self.rec.num_items} items")
