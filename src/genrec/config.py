"""The one configuration machinery: frozen pydantic models, ``dotted.key=value`` overrides, YAML loading.

A generative run's recipe (`genrec.training.config`) and a baseline's options (`genrec.recommenders.config`)
are plain mappings validated into `ConfigModel`s: unknown keys and bad values raise `ConfigError` naming
the section and key, so a typo never falls back to a default silently. Overrides use one syntax
everywhere (``--set`` on the CLI and in the benchmark scripts): ``section.key=value``, the value parsed as
YAML, so ``3`` is an int, ``0.5`` a float, ``[a, b]`` a list and ``true`` a bool.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from genrec.errors import ConfigError

M = TypeVar("M", bound="ConfigModel")
#: A rate in [0, 1): dropout probabilities, EMA decays.
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]


class ConfigModel(BaseModel):
    """Base of every config section: frozen, unknown keys forbidden, no silent type coercion.

    Strict mode turns ``"3"`` for an int or ``true`` for an int into errors; an int is still accepted for
    a float (and stored as a float). Ranges and choices are declared on the fields (``Field(ge=...)``,
    ``Literal[...]``); checks that span fields are ``model_validator``s raising ``ValueError``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def __init__(self, **values: Any) -> None:
        """Direct construction (``BackboneConfig(hidden_size=64)``) fails with the same `ConfigError`."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_format_errors(type(self), exc, root=type(self).__name__)) from None

    # Marked as pydantic's own __init__ so that validating a nested section (``RunConfig.model_validate``)
    # does not route through it: the outer model then reports the full dotted path of every problem.
    # tests/test_config.py fails if a pydantic upgrade stops honouring this.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON / YAML serialisable: tuples become lists, ints stay ints)."""
        return self.model_dump(mode="json")


def _location(loc: tuple[int | str, ...]) -> str:
    """``("training", "lr")`` -> ``training.lr``; list positions as ``[i]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("value_error", "assertion_error"):
        return message
    return f"{message} (got {error['input']!r})"


def _format_errors(cls: type[ConfigModel], exc: ValidationError, where: str = "", root: str = "") -> str:
    """One line per problem, each naming its dotted key; unknown keys grouped by section with the allowed ones.

    ``where`` names the top level when a problem is there; ``root`` prefixes every key (a class name)."""
    unknown: dict[tuple[int | str, ...], list[str]] = {}
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
            continue
        section = ".".join(filter(None, (root, _location(loc)))) or where or cls.__name__
        lines.append(f"{section}: {_describe(error)}")
    for section_loc, keys in unknown.items():
        allowed = sorted(_fields_at(cls, section_loc))
        section = ".".join(filter(None, (root, _location(section_loc)))) or where or cls.__name__
        lines.insert(0, f"{section}: unknown keys {sorted(keys)}; allowed: {allowed}")
    return "; ".join(lines)


def _fields_at(cls: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names of the (nested) section at ``loc``."""
    model: Any = cls
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def validate_config(cls: type[M], raw: Any, where: str = "", root: str = "") -> M:
    """Validate a plain mapping into ``cls``; problems raise one `ConfigError` naming every bad key.

    ``where`` names the whole mapping in messages about its top level (``config``); ``root`` prefixes
    every key instead (a flat config's class name: ``SASRecConfig.epochs``)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where or root or cls.__name__}: expected a mapping, got {raw!r}")
    try:
        return cls.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(_format_errors(cls, exc, where=where, root=root)) from None


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, plus YAML 1.2 floats: ``1e-5`` is a float, not the string PyYAML 1.1 makes of it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with `_Loader` (safe; ``1e-5`` is a float)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"training.lr=0.01"`` -> ``(["training", "lr"], 0.01)``: a dotted key and a YAML-typed value."""
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(part.strip() for part in parts):
        raise ConfigError(f"override {item!r} must look like section.key=value (or key=value)")
    try:
        parsed = load_yaml(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"override {item!r}: the value is not valid YAML ({problem})") from None
    return [part.strip() for part in parts], parsed


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``raw`` with each ``dotted.key=value`` override set (sections created as needed)."""
    out: dict[str, Any] = copy.deepcopy(dict(raw))
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: ``{}``); errors name the file."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return dict(raw)
