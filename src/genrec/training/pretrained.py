"""Pretrained causal-LM backbones (SmolLM2-135M-Instruct by default): load, trim, add identifier tokens.

The LM keeps its own tokenizer; the item tokenizer's identifier tokens are added to it, and their new
embedding rows start from the text they stand for (the mean input embedding of the titles of the items
that carry the token), so a code token begins near the items it names instead of at a random point.
``keep_layers`` keeps only the first N transformer layers (the cheapest CPU speed-up: the lower layers
hold most of the lexical knowledge). Fine-tuning is LoRA (peft adapters on the attention and MLP
projections plus trainable rows for the new tokens only) or full. `merge_for_inference` folds the LoRA
weights back into a plain model for decoding, saving and serving.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from genrec.errors import ConfigError
from genrec.training.compact import add_residual_dropout
from genrec.training.config import BackboneConfig
from genrec.training.token_init import init_token_rows

logger = logging.getLogger(__name__)

BUNDLED = "smollm2"


def resolve_model_source(path: str) -> tuple[Path, str | None]:
    """(model directory, GGUF file name or None) for a backbone ``path``.

    ``smollm2`` is the bundled SmolLM2-135M-Instruct (converted once to safetensors by `genrec.assets`);
    otherwise a Hugging Face model directory or a ``.gguf`` file.
    """
    if path == BUNDLED:
        from genrec.assets import smollm2_dir

        return smollm2_dir(), None
    source = Path(path).expanduser()
    if source.suffix == ".gguf":
        if not source.is_file():
            raise ConfigError(f"backbone.path: GGUF file not found: {source}")
        return source.parent, source.name
    if not (source / "config.json").is_file():
        raise ConfigError(
            f"backbone.path: {source} is not a Hugging Face model directory (no config.json); "
            f"give a model directory, a .gguf file or {BUNDLED!r}"
        )
    return source, None


def load_pretrained(path: str) -> tuple[Any, Any]:
    """(float32 causal LM, its tokenizer) from ``path`` (see `resolve_model_source`). Offline only."""
    directory, gguf = resolve_model_source(path)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf is not None:
        kwargs["gguf_file"] = gguf
    tokenizer = AutoTokenizer.from_pretrained(str(directory), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32, **kwargs)
    if gguf is not None:  # dequantised on load: drop the quantiser so the model trains and saves plainly
        model.hf_quantizer = None  # type: ignore[assignment]
        model.config.quantization_config = None
        if hasattr(model.config, "__dict__"):
            model.config.__dict__.pop("quantization_config", None)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def keep_first_layers(model: Any, keep: int) -> None:
    """Keep only the first ``keep`` decoder layers (in place); 0 or >= the depth keeps them all."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        raise ConfigError(
            f"backbone.keep_layers: {type(model).__name__} has no model.layers; it cannot be trimmed"
        )
    if keep <= 0 or keep >= len(layers):
        return
    model.model.layers = torch.nn.ModuleList(list(layers)[:keep])
    model.config.num_hidden_layers = keep
    layer_types = getattr(model.config, "layer_types", None)
    if isinstance(layer_types, list):
        model.config.layer_types = layer_types[:keep]


def add_identifier_tokens(model: Any, tokenizer: Any, vocabulary: Sequence[str]) -> list[int]:
    """Add the identifier tokens to the tokenizer and the model's embeddings; returns their ids.

    A token the tokenizer already has is an error: an identifier must be one new token, never text the
    LM could also produce by other means.
    """
    existing = tokenizer.get_vocab()
    clash = [t for t in vocabulary if t in existing]
    if clash:
        raise ConfigError(f"identifier tokens already in the LM's vocabulary: {clash[:5]}")
    added = tokenizer.add_tokens(list(vocabulary))
    if added != len(vocabulary):
        raise ConfigError(f"only {added} of {len(vocabulary)} identifier tokens could be added")
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    ids = [int(i) for i in tokenizer.convert_tokens_to_ids(list(vocabulary))]
    return ids


def apply_finetuning(model: Any, config: BackboneConfig, new_token_ids: Sequence[int], seed: int = 0) -> Any:
    """LoRA (a peft model whose trainable parameters are the adapters and the new token rows) or full."""
    return wrap_trainable(
        model,
        full=config.finetune == "full",
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        lora_targets=config.lora_targets,
        new_token_ids=new_token_ids,
        seed=seed,
        where="backbone.lora_targets",
    )


def wrap_trainable(
    model: Any,
    *,
    full: bool,
    lora_rank: int,
    lora_alpha: int,
    lora_dropout: float,
    lora_targets: Sequence[str],
    new_token_ids: Sequence[int] = (),
    seed: int = 0,
    where: str = "lora_targets",
) -> Any:
    """The model with every weight trainable (``full``), or a seeded LoRA peft model on ``lora_targets``
    (plus the rows of ``new_token_ids``); ``where`` names the config key in the error for a missing module."""
    if full:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = sorted(set(lora_targets) - names)
    if missing:
        raise ConfigError(f"{where}: the model has no modules named {missing}")
    lora = LoraConfig(
        r=lora_rank,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(lora_targets),
        trainable_token_indices=list(new_token_ids) or None,
        task_type="CAUSAL_LM",
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # LoRA A matrices are random: same seed, same adapters
        return get_peft_model(model, lora)


def merge_for_inference(model: Any) -> Any:
    """A plain model for decoding/saving: LoRA merged into the weights (no-op for other models)."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def forward_model(model: Any) -> Any:
    """The module whose ``forward`` the decoder calls: a peft model's underlying model (adapters active),
    so ``position_ids``/``logits_to_keep`` reach it; the model itself otherwise."""
    if hasattr(model, "get_base_model"):
        return model.get_base_model()
    return model


def build_pretrained_backbone(
    config: BackboneConfig,
    vocabulary: Sequence[str],
    seed: int,
    token_texts: Mapping[str, Sequence[str]] | None = None,
    token_vectors: Mapping[str, Any] | None = None,
) -> tuple[Any, Any]:
    """(trainable LM, LM tokenizer): load ``config.path``, trim, add and initialise identifier tokens,
    add residual dropout (``hidden_dropout``; pretrained Llama-family LMs ship with none, and a 135M LM
    fine-tuned on a few thousand users overfits within ~10 epochs), wrap for LoRA or full fine-tuning."""
    model, tokenizer = load_pretrained(config.path)
    keep_first_layers(model, config.keep_layers)
    new_ids = add_identifier_tokens(model, tokenizer, vocabulary) if vocabulary else []
    if new_ids:
        texts, vectors = None, None
        if config.init_new_tokens in ("text", "text+interactions") and token_texts is not None:
            texts = [list(token_texts.get(tok, ())) for tok in vocabulary]
        if config.init_new_tokens in ("interactions", "text+interactions"):
            if token_vectors is None:
                raise ConfigError(
                    f"backbone.init_new_tokens: {config.init_new_tokens!r} needs the items' interaction "
                    "vectors (build the backbone through GenerativeRecommender.fit)"
                )
            dim = len(next(iter(token_vectors.values()))) if token_vectors else 1
            vectors = torch.zeros((len(vocabulary), dim))  # (new, dim)
            for row, tok in enumerate(vocabulary):
                if tok in token_vectors:
                    vectors[row] = torch.as_tensor(token_vectors[tok], dtype=torch.float32)
        n = init_token_rows(model, tokenizer, new_ids, texts, seed, vectors)
        source = "item text plus interaction vectors" if vectors is not None else "item text"
        logger.info("initialised %d of %d identifier token rows from %s", n, len(new_ids), source)
    if config.hidden_dropout > 0.0:  # after the resize, which replaces the embedding module
        add_residual_dropout(model, config.hidden_dropout)
    model.config.use_cache = True
    return apply_finetuning(model, config, new_ids, seed), tokenizer
