"""The preference-prediction prompt as data: a YAML entry -> prompt token ids and the two answer tokens.

``preference_prompts.yaml`` beside this module holds the shipped prompts (``tallrec``: TALLRec's wording,
chat-wrapped; ``tallrec-plain``: shorter, no chat); a user may pass another YAML file with entries of the
same fields. The LM's next token after the rendered prompt is the answer: ``yes_token`` or ``no_token``,
each of which must be one known token of the LM's tokenizer (checked, naming the field otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import PositiveInt, model_validator

from genrec.config import ConfigModel, validate_config
from genrec.errors import ConfigError
from genrec.prompts.template import PromptTemplate
from genrec.recommenders.reranker_prompts import shorten

PROMPTS_FILE = Path(__file__).with_name("preference_prompts.yaml")


class PreferencePrompt(ConfigModel):
    """One prompt: ``instruction`` with ``{liked}``, ``{disliked}``, ``{target}``; each title rendered by
    ``item_format`` (``{title}``) and joined by ``separator``; ``empty`` stands for an empty list."""

    chat: bool = True
    system: str = ""
    instruction: str
    item_format: str = '"{title}"'
    separator: str = ", "
    empty: str = "none"
    answer_prefix: str = "Answer:"
    yes_token: str = " Yes"
    no_token: str = " No"
    max_title_chars: PositiveInt = 60

    @model_validator(mode="after")
    def _placeholders_known(self) -> PreferencePrompt:
        for name, text, values in (
            ("instruction", self.instruction, {"liked": "", "disliked": "", "target": ""}),
            ("item_format", self.item_format, {"title": ""}),
        ):
            try:
                text.format(**values)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{name}: bad placeholder {exc}; allowed are {sorted(values)}") from None
        if "{target}" not in self.instruction:
            raise ValueError("instruction must contain {target}")
        return self


def load_prompt(name: str, path: str | Path | None = None) -> PreferencePrompt:
    """Prompt ``name`` from ``path`` (default: the shipped YAML); a `ConfigError` names a missing entry."""
    source = Path(path) if path else PROMPTS_FILE
    if not source.is_file():
        raise ConfigError(f"prompt_file: {source} not found")
    entries = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    if not isinstance(entries, dict) or name not in entries:
        known = sorted(entries) if isinstance(entries, dict) else []
        raise ConfigError(f"prompt: no prompt {name!r} in {source}; known: {known}")
    return validate_config(PreferencePrompt, entries[name], root=f"prompt {name!r}")


def answer_token_ids(tokenizer: Any, prompt: PreferencePrompt) -> tuple[int, int]:
    """(no id, yes id): each answer must be one distinct known token, else a `ConfigError`."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    ids = []
    for field, text in (("no_token", prompt.no_token), ("yes_token", prompt.yes_token)):
        tokens = [int(t) for t in tokenizer.encode(text, add_special_tokens=False)]
        if len(tokens) != 1 or (unknown is not None and tokens[0] == unknown):
            raise ConfigError(f"{field}: {text!r} is {tokens} in the LM's tokenizer, not one known token")
        ids.append(tokens[0])
    if ids[0] == ids[1]:
        raise ConfigError("yes_token and no_token are the same token")
    return ids[0], ids[1]


class PreferencePromptBuilder:
    """Renders (history titles, liked flags, target title) into prompt token ids ending at the answer."""

    def __init__(self, prompt: PreferencePrompt, tokenizer: Any) -> None:
        self.prompt = prompt
        self.tokenizer = tokenizer
        self.wrapper = PromptTemplate(
            name="preference",
            kind="text",
            instruction="{history}",  # only encode_instruction is used: the text is rendered here
            chat=prompt.chat,
            system=prompt.system,
            response_prefix=prompt.answer_prefix,
        )

    def _titles(self, titles: Sequence[str]) -> str:
        p = self.prompt
        rendered = [p.item_format.format(title=shorten(t, p.max_title_chars)) for t in titles]
        return p.separator.join(rendered) if rendered else p.empty

    def text(self, history: Sequence[str], liked: Sequence[bool], target: str) -> str:
        """The user message: liked and disliked history titles (oldest first) and the target."""
        good = [t for t, ok in zip(history, liked, strict=True) if ok]
        bad = [t for t, ok in zip(history, liked, strict=True) if not ok]
        limit = self.prompt.max_title_chars
        target_text = self.prompt.item_format.format(title=shorten(target, limit))
        return self.prompt.instruction.format(
            liked=self._titles(good), disliked=self._titles(bad), target=target_text
        )

    def ids(self, history: Sequence[str], liked: Sequence[bool], target: str) -> list[int]:
        """Prompt token ids; the answer token comes next."""
        text = self.text(history, liked, target)
        if self.prompt.chat and getattr(self.tokenizer, "chat_template", None):
            return [int(t) for t in self.wrapper.encode_instruction(text, self.tokenizer)]
        ids = self.tokenizer.encode(text + self.prompt.answer_prefix, add_special_tokens=False)
        return [int(t) for t in ids]
