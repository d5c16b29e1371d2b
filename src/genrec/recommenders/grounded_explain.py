"""Grounded explanations: the LM words the sentence, but may only name attributes the items really share.

`GroundedExplainer.explain` finds what the recommended item shares with the history (`AttributeIndex`:
same brand, category phrase / genre, title word), puts those facts in the prompt, and builds every
sentence the explanation may be: an opener naming the item, a connective and one clause per fact (each
in several wordings, both orders), all from fixed lower-case connective text plus catalogue titles and
attribute values. Decoding is constrained by a `PrefixTrie` over those sentences' token ids, so the LM
chooses the wording token by token, yet the result is always one of the built sentences: naming an item
that is not in the catalogue, or an attribute the items lack, is impossible by construction, even for a
random LM. Tokens where only one continuation is allowed are fed in one forward pass, and decoding stops
as soon as a single sentence remains. Results carry ``mentions`` (attribute, value, the item ids it is
true of) and ``grounded: true``; `genrec.recommenders.explanation_check` checks any text independently.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import permutations, product
from typing import Any

import torch

from genrec.data.catalogue import Catalogue
from genrec.decoding.trie import PrefixTrie
from genrec.errors import GenrecError
from genrec.recommenders.explanation_check import check_explanation
from genrec.recommenders.item_attributes import (
    BRAND,
    CATEGORY,
    TITLE_WORD,
    AttributeIndex,
    SharedAttribute,
    clean_text,
    item_attributes,
)

__all__ = ["GroundedExplainer", "GroundedExplanation", "Mention", "check_explanation", "item_attributes"]

SYSTEM = "You explain recommendations using only the facts you are given. Answer in one sentence."
OPENERS = (
    "You may like “{item}”",
    "We suggest “{item}”",
    "Consider “{item}”",
    "“{item}” is a good next pick",
)
CONNECTIVES = (" because ", ", since ", ": ")
#: Clause wordings per kind: {h} a history title, {v} the value, {kind} the kind's name.
SHARED_CLAUSES: dict[str, tuple[str, ...]] = {
    BRAND: ("like “{h}”, it is made by {v}", "it shares the brand {v} with “{h}”"),
    TITLE_WORD: ("like “{h}”, its title has the word “{v}”", "its title shares the word “{v}” with “{h}”"),
}
CATEGORY_CLAUSES = ("like “{h}”, it belongs to the {kind} {v}", "it shares the {kind} {v} with “{h}”")
OWN_CLAUSES: dict[str, tuple[str, ...]] = {
    BRAND: ("it is made by {v}", "it comes from {v}"),
    TITLE_WORD: ("its title has the word “{v}”",),
}
OWN_CATEGORY_CLAUSES = ("it belongs to the {kind} {v}", "it is in the {kind} {v}")
NO_FACT_ENDINGS = (" next.", " as your next item.")


@dataclass(frozen=True)
class Mention:
    """One attribute a grounded explanation names, and the catalogue ids of the items it is true of."""

    attribute: str
    value: str
    items: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "value": self.value, "items": list(self.items)}


@dataclass(frozen=True)
class GroundedExplanation:
    text: str
    mentions: tuple[Mention, ...] = field(default_factory=tuple)
    grounded: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "mentions": [m.to_dict() for m in self.mentions],
            "grounded": self.grounded,
        }


def _clause_wordings(fact: SharedAttribute, catalogue: Catalogue, own_only: bool) -> tuple[str, ...]:
    """Every wording of one fact's clause (``own_only``: the item's own attribute, no history item)."""
    kind = fact.kind
    if own_only:
        forms = OWN_CLAUSES.get(kind, OWN_CATEGORY_CLAUSES)
        return tuple(f.format(v=fact.value, kind=kind) for f in forms)
    forms = SHARED_CLAUSES.get(kind, CATEGORY_CLAUSES)
    named = clean_text(catalogue.title(fact.history_items[0]))
    return tuple(f.format(h=named, v=fact.value, kind=kind) for f in forms)


class GroundedExplainer:
    """A causal LM + tokenizer writing grounded one-sentence explanations over one catalogue.

    ``max_facts`` facts at most are named (each adds a clause); ``max_history`` recent history items are
    searched for shared attributes. `explain` is serialised by a lock (one KV cache at a time).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        catalogue: Catalogue,
        category_label: str = CATEGORY,
        max_facts: int = 2,
        max_history: int = 10,
    ) -> None:
        if max_facts < 1 or max_history < 1:
            raise GenrecError("GroundedExplainer: max_facts and max_history must be >= 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.catalogue = catalogue
        self.index = AttributeIndex(catalogue, category_label)
        self.max_facts = max_facts
        self.max_history = max_history
        self.vocab_size = int(model.config.vocab_size)
        eos = tokenizer.eos_token_id
        if eos is None:
            raise GenrecError("GroundedExplainer: the tokenizer has no end-of-sequence token")
        self.eos_token_id = int(eos)
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, path: str, catalogue: Catalogue, category_label: str = CATEGORY) -> GroundedExplainer:
        """The pretrained LM at ``path`` (``smollm2`` = the bundled SmolLM2-135M-Instruct)."""
        from genrec.training.pretrained import load_pretrained

        model, tokenizer = load_pretrained(path)
        return cls(model, tokenizer, catalogue, category_label)

    # ------------------------------------------------------------------ facts and sentences
    def facts(self, history: Sequence[int], item: int) -> tuple[list[SharedAttribute], bool]:
        """The facts to name and whether they are the item's own (nothing shared with the history)."""
        shared = self.index.shared_attributes(history, item, self.max_history)
        if shared:
            chosen: list[SharedAttribute] = []
            named: set[int] = set()
            for fact in shared[: self.max_facts]:  # name a different history item per fact when one has it
                fresh = [h for h in fact.history_items if h not in named] or list(fact.history_items)
                order = (fresh[0], *(h for h in fact.history_items if h != fresh[0]))
                chosen.append(SharedAttribute(fact.kind, fact.value, order))
                named.add(fresh[0])
            return chosen, False
        own = [
            SharedAttribute(kind, values[0], ())
            for kind, values in self.index.attributes(item).items()
            if kind != TITLE_WORD
        ]
        return own[: self.max_facts], True

    def sentences(self, item: int, facts: Sequence[SharedAttribute], own_only: bool) -> list[str]:
        """Every sentence the explanation may be (all wordings, orders and connectives)."""
        title = clean_text(self.catalogue.title(item))
        openers = [o.format(item=title) for o in OPENERS]
        if not facts:
            return [o + end for o, end in product(openers, NO_FACT_ENDINGS)]
        wordings = [_clause_wordings(f, self.catalogue, own_only) for f in facts]
        out: list[str] = []
        for order in permutations(range(len(facts))):
            for clauses in product(*(wordings[i] for i in order)):
                body = ", and ".join(clauses)
                out.extend(f"{o}{c}{body}." for o, c in product(openers, CONNECTIVES))
        return out

    def prompt_ids(self, history: Sequence[int], item: int, facts: Sequence[SharedAttribute]) -> list[int]:
        title = clean_text(self.catalogue.title(item))
        recent = [clean_text(self.catalogue.title(h)) for h in list(history)[-5:]]
        lines = [f"The shopper recently chose: {'; '.join(f'“{t}”' for t in recent) or 'nothing yet'}."]
        lines.append(f"Recommended item: “{title}”.")
        for fact in facts:
            if fact.history_items:
                named = clean_text(self.catalogue.title(fact.history_items[0]))
                lines.append(f"Fact: “{title}” and “{named}” have the same {fact.kind}: {fact.value}.")
            else:
                lines.append(f"Fact: the {fact.kind} of “{title}” is {fact.value}.")
        lines.append(f"In one sentence, say why the shopper may like “{title}”, using only these facts.")
        text = "\n".join(lines)
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
            rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(tok.encode(rendered, add_special_tokens=False))
        return list(tok.encode(f"{text}\nAnswer:"))

    # ------------------------------------------------------------------ constrained decoding
    def _sentence_trie(self, sentences: Sequence[str]) -> tuple[PrefixTrie, list[tuple[int, ...]], list[str]]:
        """A trie over the sentences' token ids (+ EOS); token sequences shared by two wordings kept once."""
        trie = PrefixTrie(self.vocab_size)
        seen: dict[tuple[int, ...], str] = {}
        for sentence in sentences:
            ids = tuple(int(t) for t in self.tokenizer.encode(sentence, add_special_tokens=False))
            seen.setdefault((*ids, self.eos_token_id), sentence)
        paths = list(seen)
        for number, path in enumerate(paths):
            trie.insert(number, path)
        return trie, paths, [seen[p] for p in paths]

    @torch.inference_mode()
    def _choose(self, prompt: list[int], sentences: Sequence[str]) -> str:
        """Greedy decoding restricted to ``sentences``: the LM picks the wording at every branch point."""
        trie, paths, texts = self._sentence_trie(sentences)
        alive = list(range(len(paths)))  # sentences still consistent with the decoded prefix
        state = trie.root_states(1)  # (1,)
        pending = list(prompt)  # tokens not yet fed to the model
        past: Any = None
        decoded: list[int] = []
        while len(alive) > 1:
            allowed = trie.mask_from_states(state)[0]  # (vocab,)
            if int(allowed.sum()) == 1:  # a forced token: feed it with the next branch point's tokens
                token = int(allowed.nonzero()[0, 0])
            else:
                ids = torch.tensor([pending])  # (1, pending)
                out = self.model(input_ids=ids, past_key_values=past, use_cache=True)
                past, pending = out.past_key_values, []
                logits = out.logits[0, -1, : self.vocab_size].float()  # (vocab,)
                token = int(logits.masked_fill(~allowed, float("-inf")).argmax())
            pending.append(token)
            decoded.append(token)
            state = trie.advance(state, torch.tensor([token]))
            position = len(decoded) - 1
            alive = [n for n in alive if len(paths[n]) > position and paths[n][position] == token]
        return texts[alive[0]]

    def explain(self, history: Sequence[int], item: int) -> GroundedExplanation:
        """A grounded sentence on why catalogue index ``item`` suits ``history`` (indices, oldest first)."""
        n = len(self.catalogue)
        if not 0 <= int(item) < n:
            raise GenrecError(f"unknown item index {item}: the catalogue has {n} items")
        bad = [int(h) for h in history if not 0 <= int(h) < n]
        if bad:
            raise GenrecError(f"unknown history item indices {bad}: the catalogue has {n} items")
        facts, own_only = self.facts(history, int(item))
        with self._lock:
            text = self._choose(
                self.prompt_ids(history, int(item), facts), self.sentences(item, facts, own_only)
            )
        ids = self.catalogue.item_ids
        mentions = tuple(
            Mention(f.kind, f.value, (ids[int(item)], *(ids[h] for h in f.history_items))) for f in facts
        )
        return GroundedExplanation(text=text, mentions=mentions)


class GroundedExplainerSlot:
    """One grounded explainer kept for a server: loaded on first use, re-indexed when the catalogue changes.

    ``loader`` builds an explainer for a catalogue (e.g. SmolLM2 via `GroundedExplainer.from_path`); a
    live catalogue change (a new catalogue object) re-indexes the attributes and keeps the loaded LM.
    """

    def __init__(self, loader: Any, explainer: GroundedExplainer | None = None) -> None:
        self._loader = loader
        self._explainer = explainer
        self._lock = threading.Lock()

    def get(self, catalogue: Catalogue) -> GroundedExplainer:
        with self._lock:
            current = self._explainer
            if current is None:
                current = self._loader(catalogue)
            elif current.catalogue is not catalogue:
                current = GroundedExplainer(
                    current.model,
                    current.tokenizer,
                    catalogue,
                    current.index.category_label,
                    current.max_facts,
                    current.max_history,
                )
            self._explainer = current
            return current
