"""LC-Rec alignment tasks: teach a pretrained LM what its new identifier tokens mean, in the same run.

Two tasks over the items that have a title: ``title_to_id`` (the prompt quotes a title, the target is the
item's identifier tokens) and ``id_to_title`` (the prompt shows an identifier, the target is the title text
and EOS). Prompts go through the run's prompt template (chat-wrapped when the LM has a chat template);
the loss is on the target only. `ExampleBuilder` mixes ``alignment_ratio`` x (next-item examples) of them,
drawn uniformly over (task, item) pairs, into every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrec.errors import ConfigError
from genrec.prompts.template import PromptTemplate
from genrec.training.examples import IGNORE, Example

TITLE_TO_ID = 'Which item has the title "{title}"? Answer with its identifier.'
ID_TO_TITLE = "What is the title of the item {identifier}?"


@dataclass(frozen=True)
class AlignmentExamples:
    """Precomputed (prompt ids, target ids) pairs of every alignment task; `sample` draws from them."""

    pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]

    def __len__(self) -> int:
        return len(self.pairs)

    def sample(self, n: int, rng: np.random.Generator) -> list[Example]:
        """``n`` examples drawn uniformly with replacement (user = -1: not a user's sequence)."""
        if n <= 0 or not self.pairs:
            return []
        out = []
        for i in rng.integers(0, len(self.pairs), size=n):
            prompt, target = self.pairs[int(i)]
            out.append(Example([*prompt, *target], [IGNORE] * len(prompt) + list(target), -1, 1))
        return out

    @classmethod
    def build(
        cls,
        tasks: Sequence[str],
        template: PromptTemplate,
        lm_tokenizer: Any,
        identifiers: Sequence[Sequence[str]],
        item_ids: Sequence[Sequence[int]],
        titles: Sequence[str],
    ) -> AlignmentExamples:
        """Pairs for ``tasks`` over the items with a non-empty title (identifier strings, their token ids)."""
        eos = lm_tokenizer.eos_token_id
        if eos is None:
            raise ConfigError("alignment tasks need an LM tokenizer with an EOS token")
        pairs: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        for ident, ids, title in zip(identifiers, item_ids, titles, strict=True):
            if not title.strip():
                continue
            if "title_to_id" in tasks:
                prompt = template.encode_instruction(TITLE_TO_ID.format(title=title), lm_tokenizer)
                pairs.append((tuple(prompt), tuple(ids)))
            if "id_to_title" in tasks:
                text = ID_TO_TITLE.format(identifier="".join(ident))
                prompt = template.encode_instruction(text, lm_tokenizer)
                target = [*lm_tokenizer.encode(title, add_special_tokens=False), int(eos)]
                pairs.append((tuple(prompt), tuple(int(t) for t in target)))
        if not pairs:
            raise ConfigError("alignment tasks need items with titles; this catalogue has none")
        return cls(tuple(pairs))
