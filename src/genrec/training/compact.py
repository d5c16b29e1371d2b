"""The compact backbone: a small Llama-style decoder trained from scratch over identifier tokens.

Its vocabulary is the item tokenizer's identifier tokens plus four specials. The tokenizer is a real
Hugging Face tokenizer (a ``tokenizers`` WordLevel model wrapped by `PreTrainedTokenizerFast`), so the
same `PrefixTrie.from_tokenizer`, decoding and saving code serves compact and pretrained LMs alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from genrec.errors import ConfigError
from genrec.training.config import BackboneConfig
from tokenizers import Tokenizer, models, pre_tokenizers

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


def build_lm_tokenizer(vocabulary: Sequence[str]) -> Any:
    """A word-level tokenizer whose ids are: the four specials, then ``vocabulary`` in order."""
    if not vocabulary:
        raise ConfigError(
            "the compact backbone needs identifier tokens; text identifiers (e.g. 'title') have an empty "
            "vocabulary: use a pretrained backbone for them"
        )
    vocab: dict[str, int] = {tok: i for i, tok in enumerate(SPECIALS)}
    for tok in vocabulary:
        if tok in vocab:
            raise ConfigError(f"identifier token {tok!r} is listed twice or clashes with a special token")
        if any(ch.isspace() for ch in tok):
            raise ConfigError(f"identifier token {tok!r} contains whitespace")
        vocab[tok] = len(vocab)
    word_level = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=word_level, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK
    )


def build_compact_model(config: BackboneConfig, lm_tokenizer: Any, seed: int) -> LlamaForCausalLM:
    """A freshly initialised Llama decoder sized by ``config`` for ``lm_tokenizer``'s vocabulary."""
    llama = LlamaConfig(
        vocab_size=len(lm_tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        attention_dropout=config.attention_dropout,
        tie_word_embeddings=config.tie_embeddings,
        pad_token_id=lm_tokenizer.pad_token_id,
        bos_token_id=lm_tokenizer.bos_token_id,
        eos_token_id=lm_tokenizer.eos_token_id,
        initializer_range=0.02,
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = LlamaForCausalLM(llama)
    finally:
        torch.random.set_rng_state(generator_state)
    model.config.use_cache = True
    if config.hidden_dropout > 0.0:
        add_residual_dropout(model, config.hidden_dropout)
    return model


def add_residual_dropout(model: Any, p: float) -> None:
    """Dropout on the token embeddings and on each attention / MLP output before its residual add.

    Llama has no such dropout (only on attention weights), yet a small decoder trained from scratch on a
    few hundred thousand targets overfits within a few epochs without it; GPT-2 and T5 (TIGER's backbone)
    put dropout exactly here. Forward hooks keep the weights and the saved model plain Llama: the dropout
    follows ``model.train()`` / ``model.eval()`` and is a no-op at inference.
    """

    def drop_output(module: torch.nn.Module, _args: Any, output: Any) -> Any:
        if not module.training:
            return output
        if isinstance(output, tuple):  # attention returns (hidden, weights)
            return (torch.nn.functional.dropout(output[0], p, training=True), *output[1:])
        return torch.nn.functional.dropout(output, p, training=True)

    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if body is None or layers is None or not hasattr(body, "embed_tokens"):
        raise ConfigError(
            f"backbone.hidden_dropout: {type(model).__name__} is not a Llama-style decoder "
            "(model.embed_tokens, model.layers); set hidden_dropout: 0 for it"
        )
    if not all(hasattr(layer, "self_attn") and hasattr(layer, "mlp") for layer in layers):
        raise ConfigError(
            f"backbone.hidden_dropout: {type(model).__name__}'s layers have no self_attn / mlp; "
            "set hidden_dropout: 0 for it"
        )
    body.embed_tokens.register_forward_hook(drop_output)
    for layer in layers:
        layer.self_attn.register_forward_hook(drop_output)
        layer.mlp.register_forward_hook(drop_output)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct trainable parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


def build_backbone(config: BackboneConfig, vocabulary: Sequence[str], seed: int) -> tuple[Any, Any]:
    """(compact causal LM, LM tokenizer) for ``config``; identifier tokens become the tokenizer's vocabulary.

    `genrec.training.backbone.build_backbone` is the entry point for every kind; this one builds ``compact``.
    """
    if config.kind != "compact":
        raise ConfigError(
            f"backbone kind {config.kind!r} is not the compact decoder; use genrec.training.backbone.build_backbone"
        )
    lm_tokenizer = build_lm_tokenizer(vocabulary)
    return build_compact_model(config, lm_tokenizer, seed), lm_tokenizer
