"""`GenerativeRecommender`: an item tokenizer + a causal-LM backbone + a prompt template + grounded decoding.

``fit`` gives every item an identifier, builds the backbone over the identifier vocabulary and trains it
with the shared training loop (validation through `recommend` itself). ``recommend`` renders each history
with the prompt template and runs trie-constrained beam search with the history excluded inside the
search, so every returned item is a real catalogue item. ``save`` writes one run directory (config,
template, item tokenizer, LM tokenizer, safetensors weights, metrics); ``load`` restores it exactly.

The class holds the fitted state (identifiers, their token ids, the trie, the model) and composes the
modules that do the work, one idea each: `generative_fit` (identifiers, backbone, training, validation),
`generative_ranking` (grounded decoding), `explain` (generated reasons) and `generative_io` (the run
directory). `catalogue_updates` grows and hides items of a fitted one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from genrec.data.split import EvalSet, TrainData
from genrec.decoding import PrefixTrie
from genrec.errors import GenrecError
from genrec.prompts.template import PromptTemplate, get_template
from genrec.recommenders import generative_fit, generative_io
from genrec.recommenders.base import Recommendations
from genrec.recommenders.explain import Explainer, explain_recommendation
from genrec.recommenders.generative_ranking import banned_items, beam_search_ranking, embedding_ranking
from genrec.recommenders.sasrec_embeddings import sasrec_embeddings
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.registry import build_tokenizer
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.training.config import RunConfig
from genrec.training.examples import ExampleBuilder
from genrec.training.loop import Validate
from genrec.training.state import TrainResult


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
        self._explainer: Explainer | None = None
        self._grounder: Any = None
        self._among: tuple[frozenset[int], PrefixTrie] | None = None  # recommend_among's trie, cached
        self._embed = embed

    # ------------------------------------------------------------------ item index and fitting
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
        """Token ids, title suffixes and the decoding trie of items ``0 .. num_items - 1``."""
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
        return generative_fit.example_builder(self)

    def build(self, train: TrainData, fit_identifiers: bool = True) -> tuple[Any, Any]:
        """Assign identifiers and build the untrained backbone over them (`fit` starts with this; a benchmark
        that times training steps stops here). Returns the (token_texts, token_vectors) it initialised from.
        ``fit_identifiers=False`` keeps the item tokenizer as it is (already fitted, e.g. a resumed run's)."""
        return generative_fit.build_untrained(self, train, fit_identifiers)

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Assign identifiers, build the backbone and train it (resuming from ``output_dir`` if possible: a
        resumed run loads the identifiers saved there, see `genrec.recommenders.run_identifiers`)."""
        generative_fit.fit(self, train, valid)

    def _validator(self, subset: EvalSet) -> Validate:
        """The training loop's validation on ``subset`` (a method so tests can stand in for it)."""
        return generative_fit.validator(self, subset)

    # ------------------------------------------------------------------ inference
    def _require_fit(self) -> PrefixTrie:
        if self.trie is None or self.model is None:
            raise GenrecError("GenerativeRecommender is not fitted; call fit() or load() first")
        return self.trie

    def prompt_ids(self, history: Sequence[int]) -> list[int]:
        """The prompt's token ids for ``history``, its last ``data.max_history`` items rendered."""
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

    def recommend_among(
        self, histories: Sequence[Sequence[int]], k: int, items: Collection[int], exclude_history: bool = True
    ) -> Recommendations:
        """Top-k per history among ``items`` only (those still servable), by beam search on a trie of just
        those items: the model's best new items are found even when its full top-K holds none of them.

        Scores are log-probabilities renormalised within the smaller trie, so they rank ``items`` among
        themselves and are not comparable with `recommend`'s. Beam-search grounding only.
        """
        trie = self._require_fit()
        if self.config.decoding.grounding == "embedding":
            raise GenrecError(
                "recommend_among needs the trie-constrained beam search (decoding.grounding 'trie')"
            )
        key = frozenset(int(i) for i in items if int(i) in trie)
        if self._among is None or self._among[0] != key:
            sub = PrefixTrie(trie.vocab_size)
            for item in sorted(key):
                sub.insert(item, self.item_ids[item])
            self._among = (key, sub)
        hist, banned = banned_items(histories, [()] * len(histories), exclude_history, self.num_items)
        was_training = self.model.training
        self.model.eval()
        try:
            return beam_search_ranking(self, hist, banned, k, trie=self._among[1])
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
        return explain_recommendation(self, history, item)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """One run directory: config, template, item tokenizer, LM tokenizer, safetensors weights, metrics."""
        self._require_fit()
        generative_io.save_recommender(self, Path(directory))

    @classmethod
    def load(cls, directory: Path, embed: EmbedFn | None = None) -> GenerativeRecommender:
        """Restore a run directory written by `save`."""
        return generative_io.load_recommender(cls, Path(directory), embed)
