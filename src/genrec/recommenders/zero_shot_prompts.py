"""The zero-shot recommender's options, prompt and answer spelling, and its in-context examples.

A prompt verbalises the user's recent history as titles (``history_format`` lines inside ``prompt``) and
ends where the answer starts (``answer_prefix``); the answer is the next item's title as
``answer_format`` spells it, followed by the LM's end-of-sequence token. The answer tokens are exactly
the item's path in the title trie, so the beam search and the candidate scorer rank the same quantity.

With ``in_context_examples`` N > 0 the prompt first shows N solved examples: training users' histories
(all but their last training item) with that last item's title as the answer. With a chat template they
are earlier user/assistant turns; without one they are text blocks before the question. (A genrec
`PromptTemplate` has one user turn, so it renders only the chat-free form; the chat form is built here.)

Answer titles are the item tokenizer's title identifiers (`genrec.tokenizers.title.TitleTokenizer`):
duplicate titles stay distinct items by their `` (2)``, `` (3)`` suffixes. History lines show the plain
catalogue titles, cut to ``max_title_chars``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import NonNegativeInt, PositiveInt, model_validator

from genrec.config import ConfigModel
from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.errors import DataError
from genrec.prompts.template import PromptTemplate
from genrec.recommenders.reranker_prompts import shorten
from genrec.tokenizers.title import TitleTokenizer

DEFAULT_PROMPT = (
    "A user interacted with these items, oldest first:\n{history}\n\n"
    "Which item will the user choose next? Answer with its title."
)


class ZeroShotConfig(ConfigModel):
    """Options of `genrec.recommenders.zero_shot.ZeroShotLMRecommender`.

    ``lm``: ``smollm2`` (the bundled SmolLM2-135M-Instruct) or a Hugging Face model directory; it is never
    trained. Prompt: ``prompt`` with ``{history}`` (required) and ``{count}``; ``history_format`` with
    ``{title}`` for each of the ``history_items`` most recent items (titles cut to ``max_title_chars``);
    ``answer_prefix`` ends the prompt; ``answer_format`` with ``{title}`` spells the answer (its leading
    space makes the title's first word the same token as in running text). ``chat`` wraps the prompt in
    the LM's chat template when it has one, after ``system``. ``in_context_examples`` solved examples
    from training users, drawn with ``seed``. Search: ``beam_size`` beams (raised to k when k is larger),
    ``batch_size`` prompts per forward pass (1 by default, so a user's list never depends on who shares
    the batch), ``score_batch_size`` candidates scored together behind one prompt, ``num_threads``.
    """

    seed: int = 0
    lm: str = "smollm2"
    history_items: PositiveInt = 10
    max_title_chars: PositiveInt = 60
    in_context_examples: NonNegativeInt = 0
    chat: bool = True
    system: str = "You are a recommender system."
    prompt: str = DEFAULT_PROMPT
    history_format: str = "- {title}"
    answer_prefix: str = "Answer:"
    answer_format: str = " {title}"
    beam_size: PositiveInt = 20
    batch_size: PositiveInt = 1
    score_batch_size: PositiveInt = 20
    num_threads: PositiveInt = 2

    @model_validator(mode="after")
    def _placeholders_known(self) -> ZeroShotConfig:
        checks: dict[str, tuple[str, dict[str, Any]]] = {
            "prompt": (self.prompt, {"history": "", "count": 0}),
            "history_format": (self.history_format, {"title": ""}),
            "answer_format": (self.answer_format, {"title": ""}),
            "answer_prefix": (self.answer_prefix, {}),
            "system": (self.system, {}),
        }
        for name, (text, values) in checks.items():
            try:
                text.format(**values)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{name}: bad placeholder {exc}; allowed are {sorted(values)}") from None
        for name, text, needed in (
            ("prompt", self.prompt, "{history}"),
            ("history_format", self.history_format, "{title}"),
            ("answer_format", self.answer_format, "{title}"),
        ):
            if needed not in text:
                raise ValueError(f"{name} must contain {needed}")
        return self


@dataclass(frozen=True)
class InContextExample:
    """A solved example from a training user: the history shown and the item given as its answer."""

    user: str
    history: tuple[int, ...]
    answer: int

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "history": list(self.history), "answer": self.answer}

    @classmethod
    def from_dict(cls, payload: Any, where: str) -> InContextExample:
        """Parse `to_dict` output; `DataError` naming ``where`` when it is malformed."""
        try:
            return cls(
                str(payload["user"]), tuple(int(i) for i in payload["history"]), int(payload["answer"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed in-context example ({exc!r})", field=where) from None


def choose_examples(train: TrainData, count: int, history_items: int, seed: int) -> list[InContextExample]:
    """``count`` distinct training users drawn by ``seed``; each shows its training sequence minus the last
    item (its ``history_items`` most recent) with that last item as the answer. Users need two items."""
    if count == 0:
        return []
    eligible = [u for u, seq in enumerate(train.sequences) if len(seq) >= 2]
    if len(eligible) < count:
        raise DataError(
            f"in_context_examples: {count} examples asked, only {len(eligible)} training users have the two "
            "items an example needs"
        )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(eligible), size=count, replace=False)
    out = []
    for pick in chosen.tolist():
        seq = train.sequences[eligible[pick]]
        out.append(
            InContextExample(
                user=train.users[eligible[pick]],
                history=tuple(int(i) for i in seq[:-1][-history_items:]),
                answer=int(seq[-1]),
            )
        )
    return out


def answer_titles(catalogue: Catalogue) -> list[str]:
    """Each item's unique title identifier (duplicates suffixed `` (2)``, ... as the title tokenizer does)."""
    tokenizer = TitleTokenizer()
    tokenizer.fit(catalogue, [], seed=0)
    return [tokenizer.encode(i)[0] for i in range(len(catalogue))]


class PromptRenderer:
    """Token ids of prompts and answers for one config, LM tokenizer and item title list."""

    def __init__(
        self,
        config: ZeroShotConfig,
        tokenizer: Any,
        titles: Sequence[str],
        answers: Sequence[str],
        examples: Sequence[InContextExample],
    ) -> None:
        if len(titles) != len(answers):
            raise DataError(f"{len(titles)} item titles but {len(answers)} answer titles")
        self.config, self.tokenizer = config, tokenizer
        self.titles, self.answers, self.examples = list(titles), list(answers), list(examples)
        self.plain = PromptTemplate(
            name="zero-shot",
            kind="text",
            instruction="{history}",  # only encode_instruction is used: the text is rendered here
            chat=False,
            system=config.system,
            response_prefix=config.answer_prefix,
        )
        self.use_chat = config.chat and bool(getattr(tokenizer, "chat_template", None))
        self._example_turns = [(self.question(ex.history), self.answer_text(ex.answer)) for ex in examples]

    def question(self, history: Sequence[int]) -> str:
        """The user's message: the recent in-catalogue history items as titled lines, oldest first."""
        cfg = self.config
        known = [int(i) for i in history if 0 <= int(i) < len(self.titles)][-cfg.history_items :]
        lines = "\n".join(
            cfg.history_format.format(title=shorten(self.titles[i], cfg.max_title_chars)) for i in known
        )
        return cfg.prompt.format(history=lines, count=len(known))

    def answer_text(self, item: int) -> str:
        """The answer as the LM should write it (without the prefix)."""
        return self.config.answer_format.format(title=self.answers[item])

    def prompt_ids(self, history: Sequence[int]) -> list[int]:
        """Token ids of the whole prompt (examples, question, answer prefix); the answer comes next."""
        cfg, question = self.config, self.question(history)
        if not self.use_chat:
            blocks = [f"{q}\n{cfg.answer_prefix}{a}\n\n" for q, a in self._example_turns]
            return [int(t) for t in self.plain.encode_instruction("".join(blocks) + question, self.tokenizer)]
        messages = [{"role": "system", "content": cfg.system}] if cfg.system else []
        for q, a in self._example_turns:
            messages += [
                {"role": "user", "content": q},
                {"role": "assistant", "content": cfg.answer_prefix + a},
            ]
        messages.append({"role": "user", "content": question})
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return [int(t) for t in self.tokenizer.encode(rendered + cfg.answer_prefix, add_special_tokens=False)]

    def answer_ids(self, item: int) -> list[int]:
        """The item's answer tokens then the end-of-sequence token: its path in the title trie."""
        ids = [int(t) for t in self.tokenizer.encode(self.answer_text(item), add_special_tokens=False)]
        unknown = getattr(self.tokenizer, "unk_token_id", None)
        if not ids or (unknown is not None and int(unknown) in ids):
            raise DataError(
                f"item {item}: the LM's tokenizer ({type(self.tokenizer).__name__}) cannot spell its answer "
                f"{self.answer_text(item)!r} (tokens {ids}); no generated title could name it"
            )
        return [*ids, int(self.tokenizer.eos_token_id)]
