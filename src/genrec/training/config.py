"""Typed, frozen, self-validating configuration of a generative-recommender run, loaded from YAML.

A run config has one section per concern (data, identifiers, backbone, prompt, training, decoding); every
key is checked (`genrec.config`): an unknown key or a bad value raises `ConfigError` naming the section and
key. Recipes ship as YAML in ``genrec/configs/``; ``section.key=value`` overrides (value parsed as YAML)
apply on top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from genrec.config import ConfigModel, Rate, apply_overrides, load_yaml_mapping, validate_config
from genrec.errors import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
AlignmentTask = Literal["title_to_id", "id_to_title"]
ALIGNMENT_TASKS: tuple[AlignmentTask, ...] = ("title_to_id", "id_to_title")
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: A YAML list read into a tuple (strict mode would take only a tuple); its items stay strictly typed.
NonEmptyNames = Annotated[tuple[str, ...], Field(strict=False, min_length=1)]


class DataConfig(ConfigModel):
    """Dataset name (see `genrec.data.DATASETS`) or data spec path (`genrec.data.spec`, relative to the
    working directory; a run records it absolute) and the number of most recent items a model sees."""

    dataset: str = "ml-100k"
    max_history: PositiveInt = 20


class IdentifierConfig(ConfigModel):
    """Which item tokenizer gives identifiers, and its constructor options (``path`` of prebuilt files may
    be relative to the data directory)."""

    kind: str = "semantic"
    options: dict[str, Any] = Field(default_factory=dict)


class BackboneConfig(ConfigModel):
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
    near each other in the input and the (tied) output rows. ``keep_layers`` keeps only the first N
    transformer layers (0 = all). ``finetune`` is
    ``lora`` (adapters on ``lora_targets``, plus the new token rows) or ``full``.
    """

    kind: Literal["compact", "pretrained"] = "compact"
    num_layers: PositiveInt = 4
    hidden_size: PositiveInt = 128
    num_heads: PositiveInt = 4
    intermediate_size: PositiveInt = 512
    attention_dropout: Rate = 0.1
    hidden_dropout: Rate = 0.0
    max_positions: PositiveInt = 512
    tie_embeddings: bool = True
    path: Annotated[str, Field(min_length=1)] = "smollm2"
    keep_layers: NonNegativeInt = 0
    finetune: Literal["lora", "full"] = "lora"
    lora_rank: PositiveInt = 16
    lora_alpha: PositiveInt = 32
    lora_dropout: Rate = 0.05
    lora_targets: NonEmptyNames = DEFAULT_LORA_TARGETS
    init_new_tokens: Literal["text", "random", "interactions", "text+interactions"] = "text"

    @model_validator(mode="after")
    def _heads_divide_hidden_size(self) -> BackboneConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}"
            )
        return self


class TrainingConfig(ConfigModel):
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

    prefixes: Literal["all", "last_n", "sampled"] = "all"
    last_n: PositiveInt = 1
    sample_budget: PositiveInt = 4
    batch_size: PositiveInt = 64
    epochs: NonNegativeInt = 10
    max_steps: NonNegativeInt = 0
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.01
    warmup_steps: NonNegativeInt = 100
    scheduler: Literal["cosine", "linear", "constant_with_warmup"] = "cosine"
    grad_clip: NonNegativeFloat = 1.0
    eval_every: NonNegativeInt = 500
    eval_users: PositiveInt = 1000
    patience: NonNegativeInt = 5
    max_minutes: NonNegativeFloat = 0.0
    checkpoint_every: NonNegativeInt = 500
    num_threads: NonNegativeInt = 0
    progress: bool = True
    autocast_bf16: bool = False
    alignment_ratio: NonNegativeFloat = 0.0
    alignment_tasks: Annotated[tuple[AlignmentTask, ...], Field(strict=False)] = ALIGNMENT_TASKS
    loss_vocabulary: Literal["full", "identifiers"] = "full"
    #: What the learning-rate decay is laid out over (``genrec.training.schedule``).
    schedule_clock: Literal["steps", "budget"] = "steps"
    ema_decay: Rate = 0.0
    loss_temperature: PositiveFloat = 1.0
    confirm_users: NonNegativeInt = 0

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if not (self.epochs > 0 or self.max_steps > 0):
            raise ValueError("set epochs or max_steps > 0")
        if self.schedule_clock == "budget" and not self.max_minutes > 0:
            raise ValueError(
                "schedule_clock: budget lays the decay out over max_minutes; set training.max_minutes > 0"
            )
        if self.alignment_ratio and not self.alignment_tasks:
            raise ValueError("alignment_ratio > 0 needs at least one alignment task")
        return self


class DecodingConfig(ConfigModel):
    """How `recommend` grounds generation in the catalogue.

    ``trie``: trie-constrained beam search (beams raised to k when k is larger). ``embedding`` (title
    identifiers only, BIGRec): greedy free text of at most ``max_new_tokens`` tokens, mapped to the nearest
    items by L2 distance of MiniLM text embeddings.
    """

    num_beams: PositiveInt = 20
    batch_size: PositiveInt = 64
    grounding: Literal["trie", "embedding"] = "trie"
    max_new_tokens: PositiveInt = 48


class RunConfig(ConfigModel):
    """A whole run: seed plus one section per concern."""

    seed: int = 0
    prompt: str = "compact"
    data: DataConfig = Field(default_factory=DataConfig)
    identifiers: IdentifierConfig = Field(default_factory=IdentifierConfig)
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def config_from_dict(raw: Mapping[str, Any]) -> RunConfig:
    """Validate a plain mapping into a `RunConfig` (unknown keys and bad types raise `ConfigError`)."""
    return validate_config(RunConfig, raw, "config")


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
    """Load a recipe (shipped name or YAML path), apply ``section.key=value`` overrides, validate."""
    path = recipe_path(name_or_path)
    raw = load_yaml_mapping(path)
    try:
        return config_from_dict(apply_overrides(raw, overrides))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def shipped_recipes() -> list[str]:
    """Names of the recipes in ``genrec/configs/``."""
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))
