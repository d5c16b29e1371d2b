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

import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from genrec.data.split import EvalSet, TrainData
from genrec.decoding import PrefixTrie
from genrec.errors import GenrecError
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.prompts.template import PromptTemplate, get_template
from genrec.recommenders.base import Recommendations
from genrec.recommenders.generative_ranking import banned_items, beam_search_ranking, embedding_ranking
from genrec.recommenders.run_identifiers import load_run_identifiers, save_run_identifiers
from genrec.recommenders.sasrec_embeddings import sasrec_embeddings
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.registry import build_tokenizer, load_tokenizer
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.training.backbone import build_backbone
from genrec.training.compact import count_parameters
from genrec.training.config import RunConfig, config_from_dict
from genrec.training.confirm import confirm_best
from genrec.training.examples import ExampleBuilder
from genrec.training.loop import Trainer
from genrec.training.pretrained import forward_model, merge_for_inference
from genrec.training.state import TrainResult
from genrec.training.token_init import item_token_texts, item_token_vectors

CONFIG_FILE, TEMPLATE_FILE, META_FILE, METRICS_FILE, TITLES_FILE = (
    "config.yaml",
    "template.yaml",
    "run.json",
    "metrics.json",
    "titles.json",
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
            self.config.identifiers.kind,
            resolve_options(self.config, data_dir),
            embed=embed,
            sequence_vectors=sasrec_embeddings,
        )
        self.output_dir = output_dir
        self.model: Any = None
        self.lm_tokenizer: Any = None
        self.trie: PrefixTrie | None = None
        self.item_ids: list[list[int]] = []
        self.item_suffix: list[list[int]] = []
        self.titles: list[str] = []
        self._raw_titles: list[str] = []
        self.num_items = 0
        self.metrics: dict[str, Any] = {}
        self.train_result: TrainResult | None = None
        self._explainer: Any = None
        self._grounder: Any = None
        self._embed = embed

    # ------------------------------------------------------------------ building
    @property
    def text_identifiers(self) -> bool:
        """True when identifiers are plain text (titles) spelled in the LM's own tokens."""
        return not self.item_tokenizer.vocabulary()

    def _identifier_ids(self, item: int, text: bool) -> list[int]:
        ident = list(self.item_tokenizer.encode(item))
        if text:  # title identifiers: the title's tokens, then EOS (as the trie spells it)
            ids = self.lm_tokenizer.encode(ident[0], add_special_tokens=False)
            return [int(t) for t in ids] + [int(self.lm_tokenizer.eos_token_id)]
        return [int(t) for t in self.lm_tokenizer.convert_tokens_to_ids(ident)]

    def _index_items(self, num_items: int) -> None:
        self.num_items = num_items
        text = self.text_identifiers  # once: a tokenizer's vocabulary can be as long as the catalogue
        self.item_ids = [self._identifier_ids(i, text) for i in range(num_items)]
        titles = self.titles if len(self.titles) == num_items else [""] * num_items
        packable = self.template.packable  # only packed sequences put text after each identifier
        self.item_suffix = (
            [self.template.item_suffix(t, self.lm_tokenizer) for t in titles] if packable else []
        )
        self.trie = PrefixTrie.from_tokenizer(self.item_tokenizer, self.lm_tokenizer, items=range(num_items))

    def example_builder(self) -> ExampleBuilder:
        """How the training loop lays out examples for this recommender's template."""
        max_history = self.config.data.max_history
        training = self.config.training
        alignment = None
        if training.alignment_ratio > 0:
            from genrec.training.alignment import AlignmentExamples

            if self.text_identifiers or self.config.backbone.kind != "pretrained":
                raise GenrecError(
                    "training.alignment_ratio > 0 needs a pretrained backbone and identifier tokens "
                    f"(got backbone {self.config.backbone.kind!r}, identifiers {self.config.identifiers.kind!r})"
                )
            alignment = AlignmentExamples.build(
                training.alignment_tasks, self.template, self.lm_tokenizer,
                [self.item_tokenizer.encode(i) for i in range(self.num_items)], self.item_ids, self._raw_titles,
            )  # fmt: skip
        if self.template.packable:
            return ExampleBuilder(
                self.item_ids, max_history, prefix=self.template.token_prefix(self.lm_tokenizer),
                item_suffix=self.item_suffix, alignment=alignment, alignment_ratio=training.alignment_ratio,
            )  # fmt: skip
        return ExampleBuilder(
            self.item_ids, max_history, render=self.prompt_ids, alignment=alignment,
            alignment_ratio=training.alignment_ratio,
        )  # fmt: skip

    def build(self, train: TrainData, fit_identifiers: bool = True) -> tuple[Any, Any]:
        """Assign identifiers and build the untrained backbone over them (`fit` starts with this; a benchmark
        that times training steps stops here). Returns the (token_texts, token_vectors) it initialised from.
        ``fit_identifiers=False`` keeps the item tokenizer as it is (already fitted, e.g. a resumed run's)."""
        cfg = self.config
        if fit_identifiers:
            self.item_tokenizer.fit(train.catalogue, train.sequences, cfg.seed)
        self._raw_titles = [train.catalogue.text(i, "title").strip() for i in range(train.num_items)]
        if self.template.uses_titles and not any(self._raw_titles):
            raise GenrecError(f"prompt template {self.template.name!r} shows titles; this catalogue has none")
        self.titles = [t or train.catalogue.title(i) for i, t in enumerate(self._raw_titles)]
        token_texts = item_token_texts(self.item_tokenizer, self._raw_titles)
        token_vectors = None
        if cfg.backbone.kind == "pretrained" and "interactions" in cfg.backbone.init_new_tokens:
            token_vectors = item_token_vectors(self.item_tokenizer, train, cfg.seed)
        self.model, self.lm_tokenizer = build_backbone(
            cfg.backbone, self.item_tokenizer.vocabulary(), cfg.seed, token_texts=token_texts,
            token_vectors=token_vectors,
        )  # fmt: skip
        self._index_items(train.num_items)
        return token_texts, token_vectors

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Assign identifiers, build the backbone and train it (resuming from ``output_dir`` if possible: a
        resumed run loads the identifiers saved there, see `genrec.recommenders.run_identifiers`)."""
        cfg = self.config
        saved = None
        if self.output_dir is not None:
            saved = load_run_identifiers(self.output_dir, self.item_tokenizer, train.num_items, self._embed)
            if saved is not None:
                self.item_tokenizer = saved
        token_texts, token_vectors = self.build(train, fit_identifiers=saved is None)
        if self.output_dir is not None and saved is None:
            save_run_identifiers(self.item_tokenizer, self.output_dir)
        valid = valid if valid is not None and len(valid) else None
        validate = None if valid is None else self._validator(valid.sample(cfg.training.eval_users, cfg.seed))
        with tempfile.TemporaryDirectory(prefix="genrec-train-") as scratch:
            out = self.output_dir if self.output_dir is not None else Path(scratch)
            vocabulary = self.item_tokenizer.vocabulary()

            def rebuild() -> torch.nn.Module:  # an unsharded copy for DeepSpeed / FSDP runs
                return build_backbone(
                    cfg.backbone, vocabulary, cfg.seed, token_texts=token_texts, token_vectors=token_vectors
                )[0]

            trainer = Trainer(
                self.model, self.example_builder(), [list(s) for s in train.sequences], cfg.training,
                cfg.seed, out, pad_token_id=int(self.lm_tokenizer.pad_token_id), validate=validate,
                rebuild=rebuild,
            )  # fmt: skip
            self.train_result = trainer.train()
            trained = trainer.accelerator.unwrap_model(trainer.model)
            state, confirmed = self.train_result.state, None
            if cfg.training.confirm_users and valid is not None and not trainer.sharded:
                check = self._validator(valid.sample(cfg.training.confirm_users, cfg.seed))
                ema = cfg.training.ema_decay > 0
                confirmed = confirm_best(trained, out, state.best_step, state.step, check, ema)
        parameters = count_parameters(trained)
        self.model = merge_for_inference(trained)
        self.model.eval()
        self.metrics["training"] = {
            "steps": state.step, "epochs": state.epoch, "tokens": state.tokens, "wall_time_s": state.elapsed_s,
            "stopped": state.stopped, "best_step": state.best_step, "parameters": parameters,
            "validation": state.history, "confirmed": confirmed,
        }  # fmt: skip

    def _validator(self, subset: EvalSet) -> Any:
        from genrec.evaluation.evaluator import evaluate

        def validate(model: torch.nn.Module) -> dict[str, float]:
            previous, self.model = self.model, forward_model(model)
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

    def prompt_ids(self, history: Sequence[int]) -> list[int]:
        recent = list(history)[-self.config.data.max_history :]
        return self.template.render(
            [self.item_tokenizer.encode(i) for i in recent],
            self.lm_tokenizer,
            history_ids=[self.item_ids[i] for i in recent],
            titles=[self.titles[i] for i in recent] if self.titles else None,
            history_suffix_ids=[self.item_suffix[i] for i in recent] if self.item_suffix else None,
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
        self._require_fit()
        if len(exclusions) != len(histories):
            raise GenrecError(f"{len(exclusions)} exclusion lists for {len(histories)} histories")
        hist, banned = banned_items(histories, exclusions, exclude_history, self.num_items)
        rank = embedding_ranking if self.config.decoding.grounding == "embedding" else beam_search_ranking
        was_training = self.model.training
        self.model.eval()
        try:
            return rank(self, hist, banned, k)
        finally:
            self.model.train(was_training)

    def embedding_grounder(self) -> Any:
        """The BIGRec grounder over the catalogue's titles, built on first use."""
        from genrec.decoding import EmbeddingGrounder
        from genrec.tokenizers.text_embeddings import MiniLMEmbedder

        if not self.text_identifiers:
            raise GenrecError("decoding.grounding 'embedding' needs text (title) identifiers")
        if self._grounder is None:
            embed = self._embed or MiniLMEmbedder()
            self._grounder = EmbeddingGrounder(embed, embed(self.titles))
        return self._grounder

    # ------------------------------------------------------------------ explanations
    @property
    def has_language_head(self) -> bool:
        """True for pretrained-LM backbones, which can write text; the compact backbone cannot."""
        return self.config.backbone.kind == "pretrained"

    def explain(self, history: Sequence[int], item: int) -> str:
        """One or two generated sentences on why ``item`` suits ``history`` (see `genrec.recommenders.explain`).

        Free text from the backbone's pretrained LM, prompted with item titles: present it as generated.
        """
        from genrec.recommenders.explain import Explainer

        self._require_fit()
        if not self.has_language_head:
            raise GenrecError("this model has no language head (compact backbone): it cannot explain")
        if not 0 <= int(item) < self.num_items:
            raise GenrecError(f"unknown item index {item}")
        if self._explainer is None:
            self._explainer = Explainer.from_path(self.config.backbone.path)
        recent = [int(i) for i in history if 0 <= int(i) < self.num_items][-5:]
        return str(self._explainer.explain([self.titles[i] for i in recent], self.titles[int(item)]))

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
        write_json_atomic(directory / TITLES_FILE, self.titles)
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
        rec = cls(config, load_tokenizer(directory / "item_tokenizer", embed=embed), embed=embed)
        (rec.template,) = load_templates(directory / TEMPLATE_FILE).values()
        rec.lm_tokenizer = AutoTokenizer.from_pretrained(str(directory / "lm_tokenizer"))
        rec.model = AutoModelForCausalLM.from_pretrained(str(directory / "model"))
        rec.model.eval()
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        if (directory / TITLES_FILE).is_file():
            rec.titles = [str(t) for t in json.loads((directory / TITLES_FILE).read_text(encoding="utf-8"))]
        rec._index_items(int(meta["num_items"]))
        if (directory / METRICS_FILE).is_file():
            rec.metrics = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
        return rec
