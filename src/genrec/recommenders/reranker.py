"""`LMReranker`: a cheap retriever's top 20 re-ordered by a causal LM in one forward pass (LlamaRec style).

For each user the retriever (any genrec recommender; SASRec-CE by default) ranks the catalogue with the
history excluded. Its top ``candidates`` (20) are listed in a prompt with index letters A..T and their
titles, after the user's recent history titles (`genrec.recommenders.reranker_prompts`); the LM reads it
once, and candidate j's score is the log-probability of letter j's token at the answer position (a
softmax over the candidate letters only). No text is generated.

**Ranking protocol.** The final list is the candidates re-ordered by those scores (ties keep the
retriever's order), followed by the retriever's own ranks 21, 22, ... unchanged, so full-ranking metrics
stay defined. A user whose target the retriever did not put in its top 20 therefore keeps the retriever's
rank for it: re-ranking can only move targets within the top 20. Scores: a re-ranked candidate carries its
letter log-probability; the retriever's tail carries strictly lower, decreasing placeholder scores (the
lowest candidate score minus its offset in the tail), so every row is sorted best first.

Zero-shot (``fine_tune: none``) or fine-tuned (LoRA or full) with leak-free candidate lists and the epoch
chosen on validation users: see `genrec.recommenders.reranker_training`.

Files written by `save` (the run directory)::

    reranker.json     name, resolved config, item titles, training log, which LM files exist
    retriever/        the serving retriever, saved by its own class
    lm_adapter/       the LoRA adapter (fine_tune: lora); the base LM is re-read from ``config.lm``
    lm/               the full LM weights and tokenizer (fine_tune: full)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.evaluation.metrics import ndcg_at_k
from genrec.io.files import atomic_directory, read_json, write_json_atomic
from genrec.recommenders.base import Recommendations, Recommender
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.reranker_prompts import (
    PromptBuilder,
    RerankerConfig,
    fuse,
    letter_logits,
    letter_token_ids,
    masked_log_probs,
    retriever_log_probs,
)
from genrec.recommenders.reranker_training import (
    FineTuner,
    leak_free_examples,
    reranked_ndcg,
    retrieved_examples,
    wrap_for_fine_tuning,
)
from genrec.training.lm_files import fine_tuned_sources, save_fine_tuned

RERANKER_FILE, RETRIEVER_DIR = "reranker.json", "retriever"


class LMReranker:
    """Retriever top-20, re-ordered by an LM's letter logits; see the module docstring.

    ``retriever``: an already fitted recommender to wrap as is (``fit`` then leaves it untouched; the
    config's ``retriever``/``retriever_options`` must still describe it, since fine-tuning trains fresh
    ones of that kind on held-out prefixes). Without it, ``fit`` builds and fits one from the config.
    """

    name = "reranker"
    config_cls = RerankerConfig

    def __init__(
        self,
        config: RerankerConfig | None = None,
        *,
        progress: bool = False,
        retriever: Recommender | None = None,
    ) -> None:
        self.config = config if config is not None else RerankerConfig()
        self.progress = progress
        self.retriever = retriever
        self._retriever_fitted = retriever is not None
        self.model: Any = None
        self.tokenizer: Any = None
        self.letter_ids: list[int] = []
        self.prompts: PromptBuilder | None = None
        self.titles: list[str] = []
        self.training_log: dict[str, Any] = {}
        self.lm_weight = 1.0  # with config.retriever_prior: chosen on validation by fit (RerankerConfig)
        self._lm_from_config = False  # True when fit loaded the LM itself (a re-fit starts from it again)

    @property
    def num_items(self) -> int:
        return len(self.titles)

    # ------------------------------------------------------------------ building blocks
    def build_retriever(self) -> Recommender:
        """An unfitted retriever as the config describes (the registry lists this class: imported here)."""
        from genrec.recommenders.registry import build_recommender

        if self.config.retriever == self.name:
            raise GenrecError("a reranker cannot retrieve its own candidates; choose another retriever")
        return build_recommender(self.config.retriever, self.config.retriever_options, seed=self.config.seed)

    def attach_lm(self, model: Any, tokenizer: Any) -> None:
        """Use ``model``/``tokenizer``; checks that every candidate letter is one token."""
        self.letter_ids = letter_token_ids(tokenizer, self.config)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer = model, tokenizer
        self.prompts = PromptBuilder(self.config, tokenizer)
        model.eval()

    def _load_lm(self, source: str, adapter: Path | None = None) -> None:
        from genrec.training.pretrained import keep_first_layers, load_pretrained

        model, tokenizer = load_pretrained(source)
        keep_first_layers(model, self.config.keep_layers)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.attach_lm(model, tokenizer)
        self._lm_from_config = True

    def _require_fit(self) -> tuple[Recommender, PromptBuilder]:
        if self.retriever is None or self.prompts is None or not self.titles:
            raise GenrecError("LMReranker is not fitted; call fit() or load() first")
        return self.retriever, self.prompts

    # ------------------------------------------------------------------ scoring
    def prompt_ids(self, history: Sequence[int], candidates: Sequence[int]) -> list[int]:
        """Prompt token ids for ``history`` (its recent in-catalogue items) and ``candidates`` (best first)."""
        _, builder = self._require_fit()
        known = [self.titles[int(i)] for i in history if 0 <= int(i) < len(self.titles)]
        return builder.ids(known, [self.titles[int(i)] for i in candidates])

    @torch.no_grad()
    def score_prompts(self, prompts: Sequence[Sequence[int]], counts: Sequence[int]) -> np.ndarray:
        """Letter log-probabilities per prompt, (prompts, candidates); -inf beyond each prompt's count."""
        out = np.full((len(prompts), self.config.candidates), -np.inf, dtype=np.float64)
        pad = int(self.tokenizer.pad_token_id)
        step = self.config.eval_batch_size
        was_training = self.model.training
        self.model.eval()
        try:
            for lo in range(0, len(prompts), step):
                logits = letter_logits(self.model, prompts[lo : lo + step], self.letter_ids, pad)  # (b, c)
                out[lo : lo + step] = masked_log_probs(logits, counts[lo : lo + step]).double().numpy()
        finally:
            self.model.train(was_training)
        return out

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """The retriever's top ``candidates`` re-ordered by the LM, then its ranks 21.. (module docstring)."""
        retriever, _ = self._require_fit()
        c = self.config.candidates
        base = retriever.recommend(histories, max(k, c), exclude_history)
        items = base.items.astype(np.int64)  # (users, max(k, c))
        head = items[:, :c]  # (users, c), -1 padded at the end
        counts = (head >= 0).sum(axis=1)  # (users,)
        rows = [r for r in range(len(histories)) if counts[r] > 0]
        prompts = [self.prompt_ids(histories[r], head[r, : counts[r]].tolist()) for r in rows]
        head_scores = np.full(head.shape, -np.inf)  # (users, c)
        if rows and self.config.retriever_prior:
            priors = [retriever_log_probs(base.scores[r, : counts[r]]) for r in rows]
            lm = np.zeros((len(rows), c))  # (rows, c); weight 0 (validation chose the retriever): no LM call
            if self.lm_weight > 0:
                lm = self.score_prompts(prompts, [int(counts[r]) for r in rows])
            head_scores[rows] = fuse(lm, priors, self.lm_weight)
        elif rows:
            head_scores[rows] = self.score_prompts(prompts, [int(counts[r]) for r in rows])  # (rows, c)
        order = np.argsort(-head_scores, axis=1, kind="stable")  # ties keep the retriever's order
        new_head = np.take_along_axis(head, order, axis=1)
        new_scores = np.take_along_axis(head_scores, order, axis=1)
        tail = items[:, c:]  # (users, rest)
        finite = np.where(np.isfinite(new_scores), new_scores, np.inf).min(
            axis=1, keepdims=True
        )  # (users, 1)
        floor = np.where(np.isfinite(finite), finite, 0.0)
        tail_scores = floor - np.arange(1, tail.shape[1] + 1)[None, :]  # (users, rest)
        tail_scores = np.where(tail >= 0, tail_scores, -np.inf)
        all_items = np.concatenate([new_head, tail], axis=1)[:, :k]
        all_scores = np.concatenate([new_scores, tail_scores], axis=1)[:, :k]
        return Recommendations(items=np.ascontiguousarray(all_items), scores=all_scores.astype(np.float32))

    # ------------------------------------------------------------------ fitting
    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Fit the retriever (unless one was given fitted), load the LM, fine-tune it if configured."""
        cfg = self.config
        torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        start = time.perf_counter()
        self.titles = [train.catalogue.title(i) for i in range(train.num_items)]
        if self.retriever is None or not self._retriever_fitted:
            self.retriever = self.build_retriever()
            self.retriever.fit(train, valid)
        self.training_log = {"retriever_s": time.perf_counter() - start}
        if self.model is None or self._lm_from_config:
            self._load_lm(cfg.lm)
        if cfg.fine_tune != "none":
            self._fine_tune(train, valid)
        self.training_log["wall_time_s"] = time.perf_counter() - start

    def validation_scorer(self, valid: EvalSet) -> tuple[Callable[[], float], float]:
        """(a function giving the re-ranked NDCG@10 on ``valid``, the retriever's own NDCG@10 on it).

        Only users whose target was retrieved are prompted: the others' ranks (> ``candidates``) add 0.
        The function uses the current LM and ``lm_weight``.
        """
        lm_scores, ndcg, retriever_ndcg = self._validation_parts(valid)
        return (lambda: ndcg(lm_scores(), self.lm_weight)), retriever_ndcg

    def _validation_parts(
        self, valid: EvalSet
    ) -> tuple[Callable[[], np.ndarray], Callable[[np.ndarray, float], float], float]:
        """(the LM's letter log-probabilities of the retrieved validation users, NDCG@10 of given ones at a
        given ``lm_weight``, the retriever's own NDCG@10)."""
        retriever, _ = self._require_fit()
        examples, ranks = retrieved_examples(retriever, valid, self.config.candidates)
        prompts = [self.prompt_ids(ex.history, ex.candidates) for ex in examples]
        counts, labels = [len(ex.candidates) for ex in examples], [ex.label for ex in examples]
        priors = [ex.prior for ex in examples]

        def lm_scores() -> np.ndarray:
            return self.score_prompts(prompts, counts)  # (examples, c)

        def ndcg(scores: np.ndarray, weight: float) -> float:
            if self.config.retriever_prior:
                scores = fuse(scores, priors, weight)
            return reranked_ndcg(list(scores), labels, len(valid))

        return lm_scores, ndcg, float(ndcg_at_k(ranks, 10).mean()) if len(valid) else 0.0

    def _fine_tune(self, train: TrainData, valid: EvalSet | None) -> None:
        cfg = self.config
        if valid is None or not len(valid):
            raise GenrecError("fine-tuning the re-ranker needs validation users to choose the epoch")
        t0 = time.perf_counter()
        examples, rounds = leak_free_examples(train, self.build_retriever, cfg)
        self.training_log.update(candidate_rounds=rounds, train_examples=len(examples))
        self.training_log["candidates_s"] = time.perf_counter() - t0
        subset = valid.sample(cfg.max_valid_users, cfg.seed) if cfg.max_valid_users else valid
        lm_scores, ndcg, retriever_ndcg = self._validation_parts(subset)
        self.training_log.update({"valid_users": len(subset), "retriever_valid_ndcg@10": retriever_ndcg})
        torch.manual_seed(cfg.seed)
        self.model = wrap_for_fine_tuning(self.model, cfg)
        self.lm_weight = 1.0  # the weight the LM is trained at
        letters = (self.letter_ids, int(self.tokenizer.pad_token_id))
        tuner = FineTuner(self.model, cfg, letters, lambda: ndcg(lm_scores(), self.lm_weight))
        prompts = [self.prompt_ids(ex.history, ex.candidates) for ex in examples]
        priors = [ex.prior for ex in examples] if cfg.retriever_prior else None
        labels, counts = [ex.label for ex in examples], [len(ex.candidates) for ex in examples]
        self.training_log.update(tuner.train(prompts, labels, counts, priors))
        if cfg.retriever_prior:  # the LM's weight beside the retriever, chosen on the same validation users
            scores = lm_scores()
            by_weight = {w: ndcg(scores, w) for w in cfg.lm_weights}
            self.lm_weight = max(by_weight, key=lambda w: (by_weight[w], -w))  # ties: the smaller weight
            self.training_log["lm_weight_valid_ndcg@10"] = {str(w): v for w, v in by_weight.items()}
            self.training_log["lm_weight"] = self.lm_weight

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """``reranker.json`` + ``retriever/`` + the LM files of the fine-tuning mode (module docstring)."""
        retriever, _ = self._require_fit()
        directory = Path(directory)
        with atomic_directory(directory / RETRIEVER_DIR, replace=True) as staging:
            retriever.save(staging)
        lm_files = save_fine_tuned(directory, self.model, self.tokenizer, self.config.fine_tune)
        meta = {
            "name": self.name,
            "config": self.config.to_dict(),
            "lm_files": lm_files,
            "titles": self.titles,
            "lm_weight": self.lm_weight,
            "training": self.training_log,
        }
        write_json_atomic(directory / RERANKER_FILE, meta)  # last: its presence marks a complete save

    @classmethod
    def load(cls, directory: Path) -> LMReranker:
        """Restore a re-ranker written by `save` (a LoRA adapter is applied on the base LM ``config.lm``)."""
        from genrec.recommenders.registry import load_recommender

        directory = Path(directory)
        path = directory / RERANKER_FILE
        if not path.is_file():
            raise GenrecError(f"{directory} holds no saved re-ranker (no {RERANKER_FILE})")
        meta = read_json(path)
        if not isinstance(meta, dict) or meta.get("name") != cls.name:
            raise GenrecError(f"{path} holds no {cls.name!r} model")
        config = config_from_mapping(RerankerConfig, meta.get("config", {}))
        rec = cls(config, retriever=load_recommender(directory / RETRIEVER_DIR))
        rec.titles = [str(t) for t in meta.get("titles", [])]
        rec.training_log = dict(meta.get("training", {}))
        rec.lm_weight = float(meta.get("lm_weight", 1.0))
        rec._load_lm(*fine_tuned_sources(directory, meta.get("lm_files"), config.lm))
        return rec
