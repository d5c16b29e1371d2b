"""`GenerativeRecommender`: an item tokenizer + a causal-LM backbone + a prompt template + grounded decoding.

``fit`` gives every item an identifier, builds the backbone over the identifier vocabulary and trains it
with the shared training loop (validation through `recommend` itself). ``recommend`` renders each history
with the prompt template and runs trie-constrained beam search with the history excluded inside the
search, so every returned item is a real catalogue item. ``save`` writes one run directory (config,
template, item tokenizer, LM tokenizer, safetensors weights, metrics); ``load`` restores it exactly.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from genrec.data.split import EvalSet, TrainData
from genrec.decoding import PrefixTrie, SearchConfig, grounded_beam_search
from genrec.errors import GenrecError
from genrec.prompts.template import PromptTemplate, get_template
from genrec.recommenders.base import Recommendations
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.persist import write_json_atomic, write_text_atomic
from genrec.tokenizers.registry import build_tokenizer, load_tokenizer
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.training.compact import build_backbone, count_parameters
from genrec.training.config import RunConfig, config_from_dict
from genrec.training.examples import ExampleBuilder
from genrec.training.loop import Trainer, TrainResult

CONFIG_FILE, TEMPLATE_FILE, META_FILE, METRICS_FILE = (
    "config.yaml",
    "template.yaml",
    "run.json",
    "metrics.json",
)


def resolve_options(config: RunConfig, data_dir: Path | None) -> dict[str, Any]:
    """Identifier options with a relative prebuilt ``path`` resolved against the data directory."""
    options = dict(config.identifiers.options)
    if "path" in options and data_dir is not None and not Path(str(options["path"])).is_absolute():
        options["path"] = str(Path(data_dir) / str(options["path"]))
    return options


class GenerativeRecommender:
    """Generative retrieval recommender; see the module docstring."""

    name = "generative"

    def __init__(
        self,
        config: RunConfig | None = None,
        item_tokenizer: ItemTokenizer | None = None,
        *,
        data_dir: Path | None = None,
        output_dir: Path | None = None,
        embed: EmbedFn | None = None,
    ) -> None:
        self.config = config or RunConfig()
        self.template: PromptTemplate = get_template(self.config.prompt)
        self.item_tokenizer = item_tokenizer or build_tokenizer(
            self.config.identifiers.kind, resolve_options(self.config, data_dir), embed=embed
        )
        self.output_dir = output_dir
        self.model: Any = None
        self.lm_tokenizer: Any = None
        self.trie: PrefixTrie | None = None
        self.item_ids: list[list[int]] = []
        self.num_items = 0
        self.metrics: dict[str, Any] = {}
        self.train_result: TrainResult | None = None

    # ------------------------------------------------------------------ building
    def _index_items(self, num_items: int) -> None:
        self.num_items = num_items
        self.item_ids = [
            [int(t) for t in self.lm_tokenizer.convert_tokens_to_ids(list(self.item_tokenizer.encode(i)))]
            for i in range(num_items)
        ]
        self.trie = PrefixTrie.from_tokenizer(self.item_tokenizer, self.lm_tokenizer, items=range(num_items))

    def example_builder(self) -> ExampleBuilder:
        """How the training loop lays out examples for this recommender's template."""
        max_history = self.config.data.max_history
        if self.template.packable:
            return ExampleBuilder(
                self.item_ids, max_history, prefix=self.template.token_prefix(self.lm_tokenizer)
            )
        return ExampleBuilder(self.item_ids, max_history, render=self._prompt)

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Assign identifiers, build the backbone and train it (resuming from ``output_dir`` if possible)."""
        cfg = self.config
        self.item_tokenizer.fit(train.catalogue, train.sequences, cfg.seed)
        self.model, self.lm_tokenizer = build_backbone(
            cfg.backbone, self.item_tokenizer.vocabulary(), cfg.seed
        )
        self._index_items(train.num_items)
        validate = None
        if valid is not None and len(valid):
            rng = np.random.default_rng(cfg.seed)
            n = min(cfg.training.eval_users, len(valid))
            subset = valid.subset(sorted(rng.choice(len(valid), size=n, replace=False).tolist()))
            validate = self._validator(subset)
        with tempfile.TemporaryDirectory(prefix="genrec-train-") as scratch:
            out = self.output_dir if self.output_dir is not None else Path(scratch)
            trainer = Trainer(
                self.model, self.example_builder(), [list(s) for s in train.sequences], cfg.training,
                cfg.seed, out, pad_token_id=int(self.lm_tokenizer.pad_token_id), validate=validate,
            )  # fmt: skip
            self.train_result = trainer.train()
        self.model = trainer.accelerator.unwrap_model(trainer.model)
        self.model.eval()
        state = self.train_result.state
        self.metrics["training"] = {
            "steps": state.step, "epochs": state.epoch, "tokens": state.tokens, "wall_time_s": state.elapsed_s,
            "stopped": state.stopped, "best_step": state.best_step, "parameters": count_parameters(self.model),
            "validation": state.history,
        }  # fmt: skip

    def _validator(self, subset: EvalSet) -> Any:
        from genrec.evaluation.evaluator import evaluate

        def validate(model: torch.nn.Module) -> dict[str, float]:
            previous, self.model = self.model, model
            try:
                metrics = evaluate(self, subset, k_max=10, batch_size=self.config.decoding.batch_size).metrics
            finally:
                self.model = previous
            return {"hr@10": metrics["hr@10"], "ndcg@10": metrics["ndcg@10"]}

        return validate

    # ------------------------------------------------------------------ inference
    def _require_fit(self) -> PrefixTrie:
        if self.trie is None or self.model is None:
            raise GenrecError("GenerativeRecommender is not fitted; call fit() or load() first")
        return self.trie

    def _prompt(self, history: Sequence[int]) -> list[int]:
        recent = list(history)[-self.config.data.max_history :]
        return self.template.render(
            [self.item_tokenizer.encode(i) for i in recent],
            self.lm_tokenizer,
            history_ids=[self.item_ids[i] for i in recent],
        )

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-k items per history by trie-constrained beam search (history excluded inside the search)."""
        return self.recommend_excluding(histories, k, [()] * len(histories), exclude_history)

    def recommend_excluding(
        self,
        histories: Sequence[Sequence[int]],
        k: int,
        exclusions: Sequence[Sequence[int]],
        exclude_history: bool = True,
    ) -> Recommendations:
        """Like `recommend`, with extra items per history that the search may never complete.

        The excluded items (history, if ``exclude_history``, plus ``exclusions[i]``) are removed inside the
        beam search, so K allowed items come back whenever K exist: this is how serving applies business
        rules (``exclude_items``, category filters) to a generative model.
        """
        trie = self._require_fit()
        if len(exclusions) != len(histories):
            raise GenrecError(f"{len(exclusions)} exclusion lists for {len(histories)} histories")
        items = np.full((len(histories), k), -1, dtype=np.int64)
        scores = np.full((len(histories), k), -np.inf, dtype=np.float64)
        if not histories:
            return Recommendations(items, scores)
        hist = [[int(i) for i in h if 0 <= int(i) < self.num_items] for h in histories]
        banned = [
            sorted(
                (set(h) if exclude_history else set()) | {int(i) for i in ex if 0 <= int(i) < self.num_items}
            )
            for h, ex in zip(hist, exclusions, strict=True)
        ]
        use_banned = any(banned)
        k_eff = min(k, self.num_items - max(len(b) for b in banned))
        if k_eff < 1:
            return Recommendations(items, scores)
        search = SearchConfig(
            num_beams=max(self.config.decoding.num_beams, k_eff), k=k_eff, exclude_history=use_banned,
            batch_size=self.config.decoding.batch_size,
        )  # fmt: skip
        was_training = self.model.training
        self.model.eval()
        try:
            results = grounded_beam_search(
                self.model, [self._prompt(h) for h in hist], trie, search, histories=banned,
                pad_token_id=int(self.lm_tokenizer.pad_token_id),
            )  # fmt: skip
        finally:
            self.model.train(was_training)
        for row, res in enumerate(results):
            items[row, : len(res.items)] = res.items
            scores[row, : len(res.scores)] = res.scores
        return Recommendations(items, scores)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """One run directory: config, template, item tokenizer, LM tokenizer, safetensors weights, metrics."""
        self._require_fit()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / CONFIG_FILE, self.config.to_yaml())
        template = {k: v for k, v in vars(self.template).items() if k != "name"}
        write_text_atomic(directory / TEMPLATE_FILE, yaml.safe_dump({self.template.name: template}))
        self.item_tokenizer.save(directory / "item_tokenizer")
        self.lm_tokenizer.save_pretrained(str(directory / "lm_tokenizer"))
        self.model.save_pretrained(str(directory / "model"), safe_serialization=True)
        write_json_atomic(directory / META_FILE, {"num_items": self.num_items, "name": self.name})
        write_json_atomic(directory / METRICS_FILE, self.metrics)

    @classmethod
    def load(cls, directory: Path, embed: EmbedFn | None = None) -> GenerativeRecommender:
        """Restore a run directory written by `save`."""
        from genrec.prompts.template import load_templates

        directory = Path(directory)
        if not (directory / META_FILE).is_file():
            raise GenrecError(f"{directory} is not a saved generative recommender (no {META_FILE})")
        config = config_from_dict(yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8")))
        rec = cls(config, load_tokenizer(directory / "item_tokenizer", embed=embed))
        (rec.template,) = load_templates(directory / TEMPLATE_FILE).values()
        rec.lm_tokenizer = AutoTokenizer.from_pretrained(str(directory / "lm_tokenizer"))
        rec.model = AutoModelForCausalLM.from_pretrained(str(directory / "model"))
        rec.model.eval()
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        rec._index_items(int(meta["num_items"]))
        if (directory / METRICS_FILE).is_file():
            rec.metrics = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
        return rec
