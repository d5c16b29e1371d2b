"""Pretrained backbones: load, trim layers, add identifier tokens initialised from text, LoRA or full."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_pretrained import make_tiny_pretrained

from genrec.errors import ConfigError
from genrec.training.backbone import build_backbone
from genrec.training.compact import add_residual_dropout
from genrec.training.config import BackboneConfig, config_from_dict
from genrec.training.pretrained import load_pretrained, merge_for_inference

VOCAB = ["<a_0>", "<a_1>", "<b_0>"]
TEXTS = {"<a_0>": ["red chair", "blue chair"], "<a_1>": ["lamp"]}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pretrained(tmp_path_factory.mktemp("tiny-lm"), layers=3)


def _config(path: Path, **kw: object) -> BackboneConfig:
    return BackboneConfig(kind="pretrained", path=str(path), **kw)  # type: ignore[arg-type]


def test_layers_are_trimmed_and_new_rows_start_from_their_text(tiny_dir: Path) -> None:
    original, tok0 = load_pretrained(str(tiny_dir))
    emb0 = original.get_input_embeddings().weight.detach()
    model, tok = build_backbone(_config(tiny_dir, keep_layers=1, finetune="full"), VOCAB, 0, TEXTS)
    assert len(model.model.layers) == 1 and model.config.num_hidden_layers == 1
    ids = tok.convert_tokens_to_ids(VOCAB)
    assert ids == [len(tok0) + i for i in range(3)]
    assert tok.encode("red <a_1> lamp", add_special_tokens=False)[1] == ids[1]  # one token, not text

    def mean_of(text: str) -> torch.Tensor:
        return emb0[tok0.encode(text, add_special_tokens=False)].mean(0)

    emb = model.get_input_embeddings().weight.detach()
    expected = torch.stack([mean_of("red chair"), mean_of("blue chair")]).mean(0)
    torch.testing.assert_close(emb[ids[0]], expected)
    torch.testing.assert_close(emb[ids[1]], mean_of("lamp"))
    torch.testing.assert_close(emb[: len(tok0)], emb0)  # existing rows untouched
    # a token without text gets a seeded random row (not a text mean, same for the same seed)
    again, _ = build_backbone(_config(tiny_dir, keep_layers=1, finetune="full"), VOCAB, 0, TEXTS)
    other, _ = build_backbone(_config(tiny_dir, keep_layers=1, finetune="full"), VOCAB, 1, TEXTS)
    torch.testing.assert_close(again.get_input_embeddings().weight[ids[2]], emb[ids[2]])
    assert not torch.allclose(other.get_input_embeddings().weight[ids[2]], emb[ids[2]])
    # tied output rows follow
    torch.testing.assert_close(model.get_output_embeddings().weight[ids[0]], expected)
    # init_new_tokens: random ignores the text
    rand, _ = build_backbone(_config(tiny_dir, finetune="full", init_new_tokens="random"), VOCAB, 0, TEXTS)
    assert not torch.allclose(rand.get_input_embeddings().weight[ids[0]], expected)


def test_lora_trains_adapters_and_new_rows_only_and_merges_exactly(tiny_dir: Path) -> None:
    model, tok = build_backbone(_config(tiny_dir, lora_rank=4, lora_alpha=8), VOCAB, 0, TEXTS)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "trainable_tokens" in n for n in trainable)
    assert any("trainable_tokens" in n for n in trainable)
    n_old = len(tok) - len(VOCAB)
    old_rows = model.get_base_model().get_input_embeddings().weight[:n_old].detach().clone()
    x = torch.tensor([[5, 6, *tok.convert_tokens_to_ids(VOCAB), 7]])
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    for _ in range(3):
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        before = model(input_ids=x).logits
        merged = merge_for_inference(model)
        after = merged(input_ids=x).logits
    assert type(merged).__name__ == "LlamaForCausalLM"
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(merged.get_input_embeddings().weight[:n_old], old_rows)
    assert not torch.allclose(merged.get_input_embeddings().weight[n_old:], torch.zeros(1))


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_hidden_dropout_is_active_in_training_only(tiny_dir: Path, finetune: str) -> None:
    model, tok = build_backbone(_config(tiny_dir, finetune=finetune, hidden_dropout=0.5), VOCAB, 0, TEXTS)
    plain, _ = build_backbone(_config(tiny_dir, finetune=finetune), VOCAB, 0, TEXTS)
    x = torch.tensor([[5, 6, *tok.convert_tokens_to_ids(VOCAB), 7]])
    model.train()
    with torch.no_grad():
        a, b = model(input_ids=x).logits, model(input_ids=x).logits
    assert not torch.allclose(a, b)  # dropout draws differ between two training forwards
    model.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=x).logits, plain(input_ids=x).logits)
    saved = merge_for_inference(model)  # hooks leave the weights (and a saved model) plain Llama
    assert type(saved).__name__ == "LlamaForCausalLM"


def test_bad_backbones_are_clear_errors(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Hugging Face model directory"):
        build_backbone(_config(tmp_path / "nowhere"), VOCAB, 0)
    with pytest.raises(ConfigError, match="GGUF file not found"):
        build_backbone(_config(tmp_path / "m.gguf"), VOCAB, 0)
    with pytest.raises(ConfigError, match="already in the LM's vocabulary"):
        build_backbone(_config(tiny_dir), ["chair"], 0)
    with pytest.raises(ConfigError, match="no modules named"):
        build_backbone(_config(tiny_dir, lora_targets=("nope_proj",)), VOCAB, 0)
    with pytest.raises(ConfigError, match="not a Llama-style decoder"):
        add_residual_dropout(torch.nn.Linear(2, 2), 0.1)
    with pytest.raises(ConfigError, match="finetune: Input should be 'lora' or 'full'"):
        _config(tiny_dir, finetune="half")
    with pytest.raises(ConfigError, match=r"backbone\.lora_targets: Input should be a valid tuple"):
        config_from_dict({"backbone": {"kind": "pretrained", "lora_targets": "q_proj"}})
    cfg = config_from_dict({"backbone": {"kind": "pretrained", "lora_targets": ["q_proj", "v_proj"]}})
    assert cfg.backbone.lora_targets == ("q_proj", "v_proj")
    assert cfg.to_dict()["backbone"]["lora_targets"] == ["q_proj", "v_proj"]


@pytest.mark.slow
def test_a_gguf_file_is_accepted_and_equals_the_converted_cache() -> None:
    from genrec.assets import AssetMissingError, smollm2_dir, smollm2_gguf_path

    try:
        gguf, cached = smollm2_gguf_path(), smollm2_dir()
    except AssetMissingError as exc:
        pytest.skip(str(exc))
    model, tok = load_pretrained(str(gguf))
    assert getattr(model, "hf_quantizer", None) is None
    reference, _ = load_pretrained("smollm2")
    assert Path(cached).is_dir()
    ids = torch.tensor([tok.encode("The office chair is", add_special_tokens=False)])
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).logits, reference(input_ids=ids).logits)


def test_interaction_vectors_add_a_row_norm_component_that_keeps_item_geometry(tiny_dir: Path) -> None:
    text_only, tok = build_backbone(_config(tiny_dir, finetune="full"), VOCAB, 0, TEXTS)
    ids = tok.convert_tokens_to_ids(VOCAB)
    base = text_only.get_input_embeddings().weight.detach()[ids]  # (3, hidden)
    vectors = {"<a_0>": [1.0, 0.0, 0.0], "<a_1>": [1.0, 0.0, 0.0], "<b_0>": [0.0, 1.0, 0.0]}
    mixed, _ = build_backbone(
        _config(tiny_dir, finetune="full", init_new_tokens="text+interactions"), VOCAB, 0, TEXTS, vectors
    )
    rows = mixed.get_input_embeddings().weight.detach()[ids]
    added = rows - base  # (3, hidden): the collaborative components
    torch.testing.assert_close(added.norm(dim=1), base.norm(dim=1))  # equal weight to the text part
    cosine = torch.nn.functional.cosine_similarity
    assert cosine(added[0], added[1], dim=0) > 0.999  # same vector, same direction
    assert abs(cosine(added[0], added[2], dim=0)) < 1e-5  # orthogonal vectors stay orthogonal
    torch.testing.assert_close(mixed.get_output_embeddings().weight.detach()[ids], rows)  # tied rows follow
    # without vectors the option is an error, not a silent text-only init
    with pytest.raises(ConfigError, match="interaction"):
        build_backbone(_config(tiny_dir, finetune="full", init_new_tokens="interactions"), VOCAB, 0, TEXTS)
