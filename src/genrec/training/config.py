"""Typed, frozen, self-validating configuration of a generative-recommender run, loaded from YAML.

A run config has one section per concern (data, identifiers, backbone, prompt, training, decoding); every
key is checked: an unknown key or a bad value raises `ConfigError` naming the section and key. Recipes
ship as YAML in ``genrec/configs/``; ``section.key=value`` overrides (value parsed as YAML) apply on top.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from genrec.errors import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
PREFIX_MODES = ("all", "last_n", "sampled")
SCHEDULERS = ("cosine", "linear", "constant_with_warmup")
#: What the learning-rate decay is laid out over (``genrec.training.schedule``).
SCHEDULE_CLOCKS = ("steps", "budget")
ALIGNMENT_TASKS = ("title_to_id", "id_to_title")
GROUNDINGS = ("trie", "embedding")


def _check(cond: bool, section: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{section}: {message}")


@dataclass(frozen=True)
class DataConfig:
    """Dataset name (see `genrec.data.DATASETS`) or data spec path (`genrec.data.spec`, relative to the
    working directory; a run records it absolute) and the number of most recent items a model sees."""

    dataset: str = "ml-100k"
    max_history: int = 20

    def __post_init__(self) -> None:
        _check(self.max_history >= 1, "data", f"max_history must be >= 1, got {self.max_history}")


@dataclass(frozen=True)
class IdentifierConfig:
    """Which item tokenizer gives identifiers, and its constructor options (``path`` of prebuilt files may
    be relative to the data directory)."""

    kind: str = "semantic"
    options: Mapping[str, Any] = field(default_factory=dict)


BACKBONE_KINDS = ("compact", "pretrained")
FINETUNE_MODES = ("lora", "full")
TOKEN_INITS = ("text", "random", "interactions", "text+interactions")
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class BackboneConfig:
    """The causal LM.

    ``compact``: a Llama-style decoder trained from scratch over identifier tokens, sized by ``num_layers``,
    ``hidden_size``, ``num_heads``, ``intermediate_size``; ``attention_dropout`` applies to it only.
    ``hidden_dropout`` (both kinds) adds dropout on the token embeddings and on each attention / MLP
    output before its residual add (Llama-family models have none of their own).

    ``pretrained``: a pretrained causal LM from ``path`` (``smollm2`` = the bundled SmolLM2-135M-Instruct,
    or any Hugging Face model directory, or a ``.gguf`` file). Identifier tokens are added to its
    vocabulary, their embedding rows initialised from the text they stand for (``init_new_tokens: text``)
    or at random; ``interactions`` / ``text+interactions`` add the items' collaborative vectors (SVD of the
    training co-occurrence graph, projected into the LM's embedding space), so items bought together start
    near each other in the input and the (tied) output rows. ``keep_layers`` keeps only the first N transformer layers (0 = all). ``finetune`` is
    ``lora`` (adapters on ``lora_targets``, plus the new token rows) or ``full``.
    """

    kind: str = "compact"
    num_layers: int = 4
    hidden_size: int = 128
    num_heads: int = 4
    intermediate_size: int = 512
    attention_dropout: float = 0.1
    hidden_dropout: float = 0.0
    max_positions: int = 512
    tie_embeddings: bool = True
    path: str = "smollm2"
    keep_layers: int = 0
    finetune: str = "lora"
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    init_new_tokens: str = "text"

    def __post_init__(self) -> None:
        s = "backbone"
        _check(self.kind in BACKBONE_KINDS, s, f"kind must be one of {BACKBONE_KINDS}, got {self.kind!r}")
        for name in ("num_layers", "hidden_size", "num_heads", "intermediate_size", "max_positions"):
            _check(getattr(self, name) >= 1, s, f"{name} must be >= 1, got {getattr(self, name)}")
        _check(
            self.hidden_size % self.num_heads == 0,
            s,
            f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}",
        )
        _check(0.0 <= self.attention_dropout < 1.0, s, "attention_dropout must be in [0, 1)")
        _check(0.0 <= self.hidden_dropout < 1.0, s, "hidden_dropout must be in [0, 1)")
        _check(self.keep_layers >= 0, s, f"keep_layers must be >= 0 (0 = all), got {self.keep_layers}")
        _check(
            self.finetune in FINETUNE_MODES,
            s,
            f"finetune must be one of {FINETUNE_MODES}, got {self.finetune!r}",
        )
        _check(self.lora_rank >= 1 and self.lora_alpha >= 1, s, "lora_rank and lora_alpha must be >= 1")
        _check(0.0 <= self.lora_dropout < 1.0, s, "lora_dropout must be in [0, 1)")
        _check(bool(self.lora_targets), s, "lora_targets must name at least one module")
        _check(
            self.init_new_tokens in TOKEN_INITS,
            s,
            f"init_new_tokens must be one of {TOKEN_INITS}, got {self.init_new_tokens!r}",
        )
        _check(bool(self.path), s, "path must not be empty")


LOSS_VOCABULARIES = ("full", "identifiers")


@dataclass(frozen=True)
class TrainingConfig:
    """The training loop: examples, optimiser, schedule, validation, early stopping, checkpoints.

    prefixes: which training prefixes of each sequence are targets: ``all``, the ``last_n``, or ``sampled``
    (``sample_budget`` random targets per user, redrawn each epoch). epochs / max_steps: the run length
    (max_steps wins when set). eval_every: validation every N steps (0: only at the end). patience:
    validations without NDCG@10 improvement before stopping (0: never stop early). max_minutes: wall-clock
    budget (0: none). checkpoint_every: steps between resumable checkpoints (0: at validations/end only).
    autocast_bf16: run forward/backward under bfloat16 autocast (CPU). alignment_ratio: LC-Rec alignment
    examples (``alignment_tasks``: title -> identifier, identifier -> title) mixed into each epoch, as a share
    of the next-item examples (0: off; pretrained backbones with item titles only). loss_vocabulary:
    ``full`` scores each target token against the whole vocabulary; ``identifiers`` scores identifier tokens
    against the identifier vocabulary only, the tokens trie decoding can emit (a pretrained LM's ~50k-row head
    is skipped; alignment title text still uses the full vocabulary). schedule_clock: ``steps`` lays the
    warm-up and decay out over the run's step count; ``budget`` decays over ``max_minutes`` of wall clock
    as well, reaching the floor when either the steps or the time run out (``genrec.training.schedule``).
    ema_decay: keep an exponential moving average of the weights (``torch.optim.swa_utils``), updated after
    every optimiser step with this decay (0: off); validation, the best checkpoint and the model handed back
    use the averaged weights, while the optimiser keeps stepping the raw ones. Unsharded runs only.
    loss_temperature: the cross-entropy is taken over logits / loss_temperature (LETTER's ranking-guided
    generation loss; below 1 the hardest wrong tokens weigh more). The model is then the distribution
    softmax(logits / loss_temperature), so the grounded beam search scores with the same temperature
    (1: the plain LM loss and plain log-probabilities). confirm_users: at the end of training, when the
    best validation weights are not the final ones, score both on this many validation users (all of them
    when there are fewer) and hand back the better (0: off; the best of many small-subset validations
    tends to be a lucky one, `genrec.training.confirm`). Unsharded runs only.
    """

    prefixes: str = "all"
    last_n: int = 1
    sample_budget: int = 4
    batch_size: int = 64
    epochs: int = 10
    max_steps: int = 0
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    scheduler: str = "cosine"
    grad_clip: float = 1.0
    eval_every: int = 500
    eval_users: int = 1000
    patience: int = 5
    max_minutes: float = 0.0
    checkpoint_every: int = 500
    num_threads: int = 0
    progress: bool = True
    autocast_bf16: bool = False
    alignment_ratio: float = 0.0
    alignment_tasks: tuple[str, ...] = ALIGNMENT_TASKS
    loss_vocabulary: str = "full"
    schedule_clock: str = "steps"
    ema_decay: float = 0.0
    loss_temperature: float = 1.0
    confirm_users: int = 0

    def __post_init__(self) -> None:
        s = "training"
        _check(self.loss_temperature > 0, s, f"loss_temperature must be > 0, got {self.loss_temperature}")
        _check(0.0 <= self.ema_decay < 1.0, s, f"ema_decay must be in [0, 1) (0: off), got {self.ema_decay}")
        _check(
            self.prefixes in PREFIX_MODES, s, f"prefixes must be one of {PREFIX_MODES}, got {self.prefixes!r}"
        )
        _check(
            self.scheduler in SCHEDULERS, s, f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}"
        )
        for name in ("last_n", "sample_budget", "batch_size", "eval_users"):
            _check(getattr(self, name) >= 1, s, f"{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "epochs", "max_steps", "warmup_steps", "eval_every", "patience", "checkpoint_every", "confirm_users"
        ):  # fmt: skip
            _check(getattr(self, name) >= 0, s, f"{name} must be >= 0, got {getattr(self, name)}")
        _check(self.epochs > 0 or self.max_steps > 0, s, "set epochs or max_steps > 0")
        _check(self.lr > 0, s, f"lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0 and self.grad_clip >= 0, s, "weight_decay and grad_clip must be >= 0")
        _check(self.max_minutes >= 0 and self.num_threads >= 0, s, "max_minutes, num_threads must be >= 0")
        _check(self.alignment_ratio >= 0, s, f"alignment_ratio must be >= 0, got {self.alignment_ratio}")
        _check(
            self.loss_vocabulary in LOSS_VOCABULARIES, s,
            f"loss_vocabulary must be one of {LOSS_VOCABULARIES}, got {self.loss_vocabulary!r}",
        )  # fmt: skip
        _check(
            self.schedule_clock in SCHEDULE_CLOCKS, s,
            f"schedule_clock must be one of {SCHEDULE_CLOCKS}, got {self.schedule_clock!r}",
        )  # fmt: skip
        _check(
            self.schedule_clock == "steps" or self.max_minutes > 0, s,
            "schedule_clock: budget lays the decay out over max_minutes; set training.max_minutes > 0",
        )  # fmt: skip
        bad = sorted(set(self.alignment_tasks) - set(ALIGNMENT_TASKS))
        _check(not bad, s, f"unknown alignment_tasks {bad}; allowed: {list(ALIGNMENT_TASKS)}")
        _check(
            not self.alignment_ratio or bool(self.alignment_tasks),
            s,
            "alignment_ratio > 0 needs at least one alignment task",
        )


@dataclass(frozen=True)
class DecodingConfig:
    """How `recommend` grounds generation in the catalogue.

    ``trie``: trie-constrained beam search (beams raised to k when k is larger). ``embedding`` (title
    identifiers only, BIGRec): greedy free text of at most ``max_new_tokens`` tokens, mapped to the nearest
    items by L2 distance of MiniLM text embeddings.
    """

    num_beams: int = 20
    batch_size: int = 64
    grounding: str = "trie"
    max_new_tokens: int = 48

    def __post_init__(self) -> None:
        _check(self.num_beams >= 1 and self.batch_size >= 1, "decoding", "num_beams, batch_size must be >= 1")
        _check(
            self.grounding in GROUNDINGS,
            "decoding",
            f"grounding must be one of {GROUNDINGS}, got {self.grounding!r}",
        )
        _check(self.max_new_tokens >= 1, "decoding", "max_new_tokens must be >= 1")


@dataclass(frozen=True)
class RunConfig:
    """A whole run: seed plus one section per concern."""

    seed: int = 0
    prompt: str = "compact"
    data: DataConfig = field(default_factory=DataConfig)
    identifiers: IdentifierConfig = field(default_factory=IdentifierConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (YAML/JSON serialisable)."""
        out = dataclasses.asdict(self)
        out["identifiers"]["options"] = dict(self.identifiers.options)
        out["backbone"]["lora_targets"] = list(self.backbone.lora_targets)
        out["training"]["alignment_tasks"] = list(self.training.alignment_tasks)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against a field's annotation, converting ints to floats and nested sections."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in typing.get_args(tp):
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner, where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner, _ellipsis) = typing.get_args(tp)
        return tuple(_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is not None and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (
        not isinstance(value, tp) or (tp is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _build(cls: Any, raw: Any, where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown keys {unknown}; allowed: {sorted(known)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else str(k)) for k, v in raw.items()}
    return cls(**kwargs)


def config_from_dict(raw: Mapping[str, Any]) -> RunConfig:
    """Validate a plain mapping into a `RunConfig` (unknown keys and bad types raise `ConfigError`)."""
    config: RunConfig = _build(RunConfig, raw, "")
    return config


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (value parsed as YAML) to a plain config mapping."""
    out: dict[str, Any] = yaml.safe_load(yaml.safe_dump(dict(raw))) or {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = yaml.safe_load(value)
    return out


def recipe_path(name_or_path: str | Path) -> Path:
    """A shipped recipe name (``ml100k-semantic-compact``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    shipped = CONFIGS_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        names = ", ".join(sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml")))
        raise ConfigError(f"unknown recipe {name_or_path!r}; shipped recipes: {names}")
    return shipped


def load_config(name_or_path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Load a recipe (shipped name or YAML path), apply overrides, validate."""
    path = recipe_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_dict(apply_overrides(raw, overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def shipped_recipes() -> list[str]:
    """Names of the recipes in ``genrec/configs/``."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))
