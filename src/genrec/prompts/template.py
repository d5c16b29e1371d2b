"""Prompt templates as data: a user's history (item identifiers) -> the token ids an LM is conditioned on.

Templates live in YAML (``templates.yaml`` beside this module, or any file a user passes) so recipes can
name them and new backbones can add their own without code. Three kinds exist:

- ``tokens``: the bare identifier sequence ``[bos] + tokens(item_1) + ... + tokens(item_n)`` used by the
  compact backbone (TIGER-style generative retrieval). Every prompt is a prefix of the next one, so all
  of a user's targets can be trained in one packed sequence (`PromptTemplate.packable`).
- ``text``: an instruction with the history verbalised as identifiers (optionally with titles), wrapped
  in the LM's chat template when it has one, for pretrained LMs. Each target is its own example.
- ``sequence``: for pretrained LMs too, but packable: a fixed instruction prefix (chat-wrapped, the history
  being the assistant's answer), then each history item as its identifier tokens followed by optional
  text (``item_format`` after ``{identifier}``, e.g. its title) and a separator. The loss stays on
  identifier tokens only, and every target of a user trains in one forward pass.

The target (the next item's identifier tokens) always follows the rendered prompt directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from genrec.errors import ConfigError

TEMPLATES_FILE = Path(__file__).with_name("templates.yaml")
KINDS = ("tokens", "text", "sequence")
PLACEHOLDERS = "{history}, {count} in instruction and {identifier}, {title} in item_format"


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt template; validated on construction (unknown kinds or placeholders raise `ConfigError`)."""

    name: str
    kind: str
    description: str = ""
    bos: bool = True
    chat: bool = False
    system: str = ""
    instruction: str = ""
    item_format: str = "{identifier}"
    separator: str = ", "
    response_prefix: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"prompt template {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        try:
            self.instruction.format(history="", count=0)
            self.item_format.format(identifier="", title="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"prompt template {self.name!r}: bad placeholder {exc}; allowed are {PLACEHOLDERS}"
            ) from None
        if self.kind == "text" and "{history}" not in self.instruction:
            raise ConfigError(f"prompt template {self.name!r}: instruction must contain {{history}}")
        if self.kind == "sequence":
            if "{history}" in self.instruction or "{count}" in self.instruction:
                raise ConfigError(
                    f"prompt template {self.name!r}: a sequence instruction is a fixed prefix; the history "
                    "follows it, so it cannot contain {history} or {count}"
                )
            if not self.item_format.startswith("{identifier}"):
                raise ConfigError(
                    f"prompt template {self.name!r}: a sequence item_format must start with {{identifier}}"
                )

    @property
    def packable(self) -> bool:
        """True when each prompt plus its target is a prefix of the next prompt (bare token sequences)."""
        return self.kind in ("tokens", "sequence")

    @property
    def uses_titles(self) -> bool:
        """True when items are verbalised with their titles."""
        return "{title}" in self.item_format

    def token_prefix(self, lm_tokenizer: Any) -> list[int]:
        """Token ids before the first history item of a packable template (BOS; the instruction)."""
        if not self.packable:
            raise ConfigError(f"prompt template {self.name!r} ({self.kind}) is not a packable template")
        if self.kind == "sequence":
            return self._with_bos(self.encode_instruction(self.instruction, lm_tokenizer), lm_tokenizer)
        if not self.bos:
            return []
        bos = getattr(lm_tokenizer, "bos_token_id", None)
        if bos is None:
            raise ConfigError(f"prompt template {self.name!r} needs a BOS token; the LM tokenizer has none")
        return [int(bos)]

    def item_suffix(self, title: str, lm_tokenizer: Any) -> list[int]:
        """Token ids that follow an item's identifier in a packable prompt (its text, then the separator)."""
        if self.kind != "sequence":
            return []
        text = self.item_format[len("{identifier}") :].format(title=title) + self.separator
        return [int(t) for t in lm_tokenizer.encode(text, add_special_tokens=False)] if text else []

    def render_text(self, history: Sequence[Sequence[str]], titles: Sequence[str] | None = None) -> str:
        """The instruction text of a ``text`` template for a history of identifiers (and titles)."""
        names = titles if titles is not None else [""] * len(history)
        items = [
            self.item_format.format(identifier="".join(ident), title=title)
            for ident, title in zip(history, names, strict=True)
        ]
        return self.instruction.format(history=self.separator.join(items), count=len(items))

    def encode_instruction(self, text: str, lm_tokenizer: Any) -> list[int]:
        """``text`` as this template's user turn (chat-wrapped when the LM has a chat template)."""
        if self.chat and getattr(lm_tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system}] if self.system else []
            messages.append({"role": "user", "content": text})
            rendered = lm_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(lm_tokenizer.encode(rendered + self.response_prefix, add_special_tokens=False))
        body = f"{self.system}\n{text}\n" if self.system else f"{text}\n"
        return list(lm_tokenizer.encode(body + self.response_prefix))

    def _with_bos(self, ids: list[int], lm_tokenizer: Any) -> list[int]:
        bos = getattr(lm_tokenizer, "bos_token_id", None)
        if self.bos and bos is not None and (not ids or ids[0] != bos):
            ids = [int(bos), *ids]
        return [int(t) for t in ids]

    def render(
        self,
        history: Sequence[Sequence[str]],
        lm_tokenizer: Any,
        history_ids: Sequence[Sequence[int]] | None = None,
        titles: Sequence[str] | None = None,
        history_suffix_ids: Sequence[Sequence[int]] | None = None,
    ) -> list[int]:
        """Prompt token ids for one history (identifier strings per item, oldest first).

        ``history_ids`` (the items' identifier token ids) lets packable templates skip the string lookup;
        ``titles`` are the items' titles (templates that show them); ``history_suffix_ids`` the items'
        precomputed `item_suffix` ids (sequence templates).
        """
        if titles is None and self.uses_titles:
            raise ConfigError(f"prompt template {self.name!r} shows titles: pass the history items' titles")
        if self.packable:
            if history_ids is None:
                history_ids = [list(lm_tokenizer.convert_tokens_to_ids(list(ident))) for ident in history]
            if history_suffix_ids is None:
                names = titles if titles is not None else [""] * len(history_ids)
                history_suffix_ids = [self.item_suffix(t, lm_tokenizer) for t in names]
            ids = self.token_prefix(lm_tokenizer)
            for ident_ids, suffix in zip(history_ids, history_suffix_ids, strict=True):
                ids.extend(int(t) for t in ident_ids)
                ids.extend(int(t) for t in suffix)
            return ids
        text = self.render_text(history, titles)
        return self._with_bos(self.encode_instruction(text, lm_tokenizer), lm_tokenizer)


def _template(name: str, raw: Any, source: str) -> PromptTemplate:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: template {name!r} must be a mapping, got {type(raw).__name__}")
    allowed = {f.name for f in fields(PromptTemplate)} - {"name"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{source}: template {name!r} has unknown keys {unknown}; allowed: {sorted(allowed)}"
        )
    if "kind" not in raw:
        raise ConfigError(f"{source}: template {name!r} needs a 'kind' ({' or '.join(KINDS)})")
    return PromptTemplate(name=name, **{str(k): v for k, v in raw.items()})


def load_templates(path: Path | None = None) -> dict[str, PromptTemplate]:
    """All templates of a YAML file (default: the shipped ``templates.yaml``), by name."""
    source = path or TEMPLATES_FILE
    try:
        payload = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"prompt template file not found: {source}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML ({exc})") from None
    if not isinstance(payload, Mapping) or not payload:
        raise ConfigError(f"{source}: expected a mapping of template name -> template")
    return {str(name): _template(str(name), raw, str(source)) for name, raw in payload.items()}


def get_template(name: str) -> PromptTemplate:
    """A shipped template by name, or ``path/to/file.yaml:name`` for a user-defined one."""
    path: Path | None = None
    if ":" in name and name.rsplit(":", 1)[0].endswith((".yaml", ".yml")):
        file, name = name.rsplit(":", 1)
        path = Path(file)
    templates = load_templates(path)
    if name not in templates:
        raise ConfigError(f"unknown prompt template {name!r}; available: {', '.join(sorted(templates))}")
    return templates[name]
