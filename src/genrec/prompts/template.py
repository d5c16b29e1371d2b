"""Prompt templates as data: a user's history (item identifiers) -> the token ids an LM is conditioned on.

Templates live in YAML (``templates.yaml`` beside this module, or any file a user passes) so recipes can
name them and new backbones can add their own without code. Two kinds exist:

- ``tokens``: the bare identifier sequence ``[bos] + tokens(item_1) + ... + tokens(item_n)`` used by the
  compact backbone (TIGER-style generative retrieval). Every prompt is a prefix of the next one, so all
  of a user's targets can be trained in one packed sequence (`PromptTemplate.packable`).
- ``text``: an instruction with the history verbalised as identifiers, optionally wrapped in the LM's
  chat template, for pretrained LMs. Each target is its own example.

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
KINDS = ("tokens", "text")


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
        if self.kind == "text":
            if "{history}" not in self.instruction:
                raise ConfigError(f"prompt template {self.name!r}: instruction must contain {{history}}")
            try:
                self.instruction.format(history="", count=0)
                self.item_format.format(identifier="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"prompt template {self.name!r}: bad placeholder {exc}; allowed are {{history}}, "
                    "{count} in instruction and {identifier} in item_format"
                ) from None

    @property
    def packable(self) -> bool:
        """True when each prompt plus its target is a prefix of the next prompt (bare token sequences)."""
        return self.kind == "tokens"

    def token_prefix(self, lm_tokenizer: Any) -> list[int]:
        """Token ids before the first history item of a packable template (the BOS, if any)."""
        if not self.packable:
            raise ConfigError(f"prompt template {self.name!r} ({self.kind}) is not a bare token sequence")
        if not self.bos:
            return []
        bos = getattr(lm_tokenizer, "bos_token_id", None)
        if bos is None:
            raise ConfigError(f"prompt template {self.name!r} needs a BOS token; the LM tokenizer has none")
        return [int(bos)]

    def render_text(self, history: Sequence[Sequence[str]]) -> str:
        """The instruction text of a ``text`` template for a history of identifiers."""
        items = [self.item_format.format(identifier="".join(ident)) for ident in history]
        return self.instruction.format(history=self.separator.join(items), count=len(items))

    def render(
        self,
        history: Sequence[Sequence[str]],
        lm_tokenizer: Any,
        history_ids: Sequence[Sequence[int]] | None = None,
    ) -> list[int]:
        """Prompt token ids for one history (identifier strings per item, oldest first).

        ``history_ids`` (the items' identifier token ids) lets ``tokens`` templates skip the string lookup.
        """
        if self.packable:
            if history_ids is None:
                flat = [tok for ident in history for tok in ident]
                history_ids = [list(lm_tokenizer.convert_tokens_to_ids(flat))] if flat else []
            return self.token_prefix(lm_tokenizer) + [int(t) for ids in history_ids for t in ids]
        text = self.render_text(history)
        if self.chat and getattr(lm_tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system}] if self.system else []
            messages.append({"role": "user", "content": text})
            rendered = lm_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = list(lm_tokenizer.encode(rendered + self.response_prefix, add_special_tokens=False))
        else:
            body = f"{self.system}\n{text}\n{self.response_prefix}" if self.system else f"{text}\n"
            ids = list(lm_tokenizer.encode(body + ("" if self.system else self.response_prefix)))
        bos = getattr(lm_tokenizer, "bos_token_id", None)
        if self.bos and bos is not None and (not ids or ids[0] != bos):
            ids = [int(bos), *ids]
        return [int(t) for t in ids]


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
