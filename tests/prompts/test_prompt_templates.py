"""Prompt templates: YAML data, validated, rendered for compact and pretrained tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.errors import ConfigError
from genrec.prompts.template import PromptTemplate, get_template, load_templates
from genrec.training.compact import build_lm_tokenizer


def test_shipped_templates_load() -> None:
    templates = load_templates()
    assert templates["compact"].packable and not templates["instruction"].packable


def test_compact_template_is_bos_plus_identifier_tokens() -> None:
    lm_tok = build_lm_tokenizer(["<a_1>", "<b_2>", "<a_3>", "<b_4>"])
    template = get_template("compact")
    ids = template.render([("<a_1>", "<b_2>"), ("<a_3>", "<b_4>")], lm_tok)
    assert ids == [lm_tok.bos_token_id, *lm_tok.convert_tokens_to_ids(["<a_1>", "<b_2>", "<a_3>", "<b_4>"])]
    assert template.render([], lm_tok) == [lm_tok.bos_token_id]
    # precomputed identifier ids give the same prompt
    assert template.render([("<a_1>", "<b_2>")], lm_tok, history_ids=[[5, 6]]) == [lm_tok.bos_token_id, 5, 6]


def test_text_template_verbalises_identifiers() -> None:
    template = get_template("instruction")
    text = template.render_text([("<a_1>", "<b_2>"), ("<a_3>", "<b_4>")])
    assert "2 items" in text and "<a_1><b_2>, <a_3><b_4>" in text


def test_user_template_file_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("short:\n  kind: text\n  instruction: 'History: {history}. Next?'\n  bos: false\n")
    template = get_template(f"{path}:short")
    assert template.render_text([("x",), ("y",)]) == "History: x, y. Next?"
    with pytest.raises(ConfigError, match="unknown keys"):
        path.write_text("t:\n  kind: tokens\n  colour: red\n")
        load_templates(path)
    with pytest.raises(ConfigError, match="must contain"):
        PromptTemplate(name="t", kind="text", instruction="no placeholder")
    with pytest.raises(ConfigError, match="bad placeholder"):
        PromptTemplate(name="t", kind="text", instruction="{history} {user}")
    with pytest.raises(ConfigError, match="kind must be one of"):
        PromptTemplate(name="t", kind="audio")
    with pytest.raises(ConfigError, match="unknown prompt template 'nope'"):
        get_template("nope")
