"""The run directory of a `GenerativeRecommender`: what ``save`` writes and ``load`` restores exactly.

One directory holds the run config (``config.yaml``), the prompt template (``template.yaml``), the fitted
item tokenizer (``item_tokenizer/``), the LM tokenizer with its identifier tokens (``lm_tokenizer/``), the
weights as safetensors (``model/``), the catalogue titles the prompts show (``titles.json``), the catalogue
size (``run.json``) and the metrics recorded while fitting (``metrics.json``). Every JSON and YAML file is
written atomically, so a crash mid-save never leaves a half-written one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from genrec.errors import GenrecError
from genrec.io.files import read_json, write_json_atomic, write_text_atomic
from genrec.prompts.template import load_templates
from genrec.tokenizers.registry import load_tokenizer
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.training.config import config_from_dict

if TYPE_CHECKING:
    from genrec.recommenders.generative import GenerativeRecommender

CONFIG_FILE = "config.yaml"
TEMPLATE_FILE = "template.yaml"
META_FILE = "run.json"
METRICS_FILE = "metrics.json"
TITLES_FILE = "titles.json"


def save_recommender(rec: GenerativeRecommender, directory: Path) -> None:
    """Write the fitted ``rec`` into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / CONFIG_FILE, rec.config.to_yaml())
    template = {k: v for k, v in vars(rec.template).items() if k != "name"}
    write_text_atomic(directory / TEMPLATE_FILE, yaml.safe_dump({rec.template.name: template}))
    rec.item_tokenizer.save(directory / "item_tokenizer")
    rec.lm_tokenizer.save_pretrained(str(directory / "lm_tokenizer"))
    rec.model.save_pretrained(str(directory / "model"), safe_serialization=True)
    write_json_atomic(directory / TITLES_FILE, rec.titles)
    write_json_atomic(directory / META_FILE, {"num_items": rec.num_items, "name": rec.name})
    write_json_atomic(directory / METRICS_FILE, rec.metrics)


def load_recommender(
    cls: type[GenerativeRecommender], directory: Path, embed: EmbedFn | None
) -> GenerativeRecommender:
    """A ``cls`` restored from a directory written by `save_recommender`, in eval mode."""
    if not (directory / META_FILE).is_file():
        raise GenrecError(f"{directory} is not a saved generative recommender (no {META_FILE})")
    config = config_from_dict(yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8")))
    rec = cls(config, load_tokenizer(directory / "item_tokenizer", embed=embed), embed=embed)
    (rec.template,) = load_templates(directory / TEMPLATE_FILE).values()
    rec.lm_tokenizer = AutoTokenizer.from_pretrained(str(directory / "lm_tokenizer"))
    rec.model = AutoModelForCausalLM.from_pretrained(str(directory / "model"))
    rec.model.eval()
    meta = read_json(directory / META_FILE)
    if (directory / TITLES_FILE).is_file():
        rec.titles = [str(t) for t in read_json(directory / TITLES_FILE)]
    rec._index_items(int(meta["num_items"]))
    if (directory / METRICS_FILE).is_file():
        rec.metrics = read_json(directory / METRICS_FILE)
    return rec
