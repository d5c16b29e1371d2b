"""The compact backbone's tokenizer and model: identifier tokens in, a Llama decoder over them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from genrec.errors import ConfigError
from genrec.training.compact import SPECIALS, build_backbone, build_lm_tokenizer, count_parameters
from genrec.training.config import BackboneConfig


def test_tokenizer_maps_identifier_tokens_and_round_trips(tmp_path: Path) -> None:
    tok = build_lm_tokenizer(["<a_0>", "<a_1>", "<b_0>"])
    assert len(tok) == len(SPECIALS) + 3
    assert tok.convert_tokens_to_ids(["<a_1>", "<b_0>"]) == [5, 6]
    assert tok.convert_tokens_to_ids(["<zz>"]) == [tok.unk_token_id]
    tok.save_pretrained(str(tmp_path))
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert again.convert_tokens_to_ids(["<a_1>", "<b_0>"]) == [5, 6]
    assert (again.pad_token_id, again.bos_token_id) == (tok.pad_token_id, tok.bos_token_id)


def test_tokenizer_rejects_bad_vocabularies() -> None:
    with pytest.raises(ConfigError, match="empty vocabulary"):
        build_lm_tokenizer([])
    with pytest.raises(ConfigError, match="listed twice"):
        build_lm_tokenizer(["<a>", "<a>"])
    with pytest.raises(ConfigError, match="whitespace"):
        build_lm_tokenizer(["a b"])


def test_model_is_sized_by_config_and_seeded() -> None:
    config = BackboneConfig(num_layers=2, hidden_size=32, num_heads=4, intermediate_size=64)
    m1, tok = build_backbone(config, ["<a_0>", "<a_1>"], seed=3)
    m2, _ = build_backbone(config, ["<a_0>", "<a_1>"], seed=3)
    m3, _ = build_backbone(config, ["<a_0>", "<a_1>"], seed=4)
    assert m1.config.vocab_size == len(tok) and m1.config.num_hidden_layers == 2
    assert all(
        torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True)
    )
    assert not torch.equal(m1.model.embed_tokens.weight, m3.model.embed_tokens.weight)
    # tied input/output embeddings are counted once
    assert count_parameters(m1) < sum(p.numel() for p in m1.state_dict().values())
    out = m1(input_ids=torch.tensor([[tok.bos_token_id, 4, 5]]))
    assert out.logits.shape == (1, 3, len(tok))


def test_hidden_dropout_acts_in_training_only_and_keeps_weights_plain() -> None:
    sizes = {"num_layers": 2, "hidden_size": 32, "num_heads": 4, "intermediate_size": 64}
    plain_cfg = BackboneConfig(**sizes, attention_dropout=0.0)  # type: ignore[arg-type]
    drop_cfg = BackboneConfig(**sizes, attention_dropout=0.0, hidden_dropout=0.5)  # type: ignore[arg-type]
    plain, tok = build_backbone(plain_cfg, ["<a_0>", "<a_1>", "<b_0>"], seed=1)
    dropped, _ = build_backbone(drop_cfg, ["<a_0>", "<a_1>", "<b_0>"], seed=1)
    ids = torch.tensor([[tok.bos_token_id, 4, 5, 6]])
    # same weights and state-dict keys: the dropout adds no parameters and saves as plain Llama
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), dropped.state_dict().values(), strict=True)
    )
    plain.eval(), dropped.eval()
    assert torch.allclose(plain(input_ids=ids).logits, dropped(input_ids=ids).logits)
    dropped.train()
    torch.manual_seed(0)
    first = dropped(input_ids=ids).logits
    second = dropped(input_ids=ids).logits
    assert not torch.allclose(first, second)  # stochastic while training
    plain.train()
    assert torch.allclose(
        plain(input_ids=ids).logits, plain(input_ids=ids).logits
    )  # no dropout at all without it
    with pytest.raises(ConfigError, match="hidden_dropout"):
        BackboneConfig(hidden_dropout=1.0)
