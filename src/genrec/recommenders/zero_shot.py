"""`ZeroShotLMRecommender`: a pretrained causal LM used as a recommender as it is, without training.

The user's recent history is verbalised as titles in a prompt (optionally after N in-context examples
from training users; see `genrec.recommenders.zero_shot_prompts`), and the LM writes the next item's
title. Writing happens under the title trie with the grounded beam search
(`genrec.decoding.beam_search.grounded_beam_search`): every answer is a real catalogue item, history
items are removed inside the search, and the scores are summed token log-probabilities of the answer
(title tokens + end token). `fit` trains nothing: it records titles, builds the trie and draws examples.

The literature's candidate protocol (rank the target among sampled items by likelihood) is
`score_candidates`: the same prompt, the same answer spelling, so each candidate's score is exactly the
score the beam search would give its path.

Files written by `save`: ``zero_shot.json`` (name, config, titles, answer titles, in-context examples).
The LM is re-read from ``config.lm`` on `load`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data.split import EvalSet, TrainData
from genrec.decoding import SearchConfig, grounded_beam_search
from genrec.decoding.causal_lm import CausalLMRunner
from genrec.decoding.trie import PrefixTrie
from genrec.errors import DataError, GenrecError
from genrec.io.files import read_json, write_json_atomic
from genrec.recommenders.base import Recommendations
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.generative_ranking import banned_items, rows_by_effective_k
from genrec.recommenders.zero_shot_prompts import (
    InContextExample,
    PromptRenderer,
    ZeroShotConfig,
    answer_titles,
    choose_examples,
)

ZERO_SHOT_FILE = "zero_shot.json"


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the previous count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.inference_mode()
def answer_log_likelihoods(
    model: Any, prompt: Sequence[int], answers: Sequence[Sequence[int]], batch_size: int
) -> np.ndarray:
    """Summed log-probability of each answer (token ids) following ``prompt``, shape (answers,).

    The prompt runs once; its KV cache is copied behind each batch of answers, which are right-padded
    (padding after an answer's tokens cannot change them: attention is causal). A Hugging Face causal LM.
    """
    runner = CausalLMRunner(model)
    ids = torch.as_tensor([list(prompt)], dtype=torch.long)  # (1, length)
    last, prompt_cache = runner.prefill(ids, torch.ones_like(ids))  # last: (1, vocab)
    first_log_probs = torch.log_softmax(last[0].float(), dim=-1)  # (vocab,)
    length = ids.shape[1]
    out = np.zeros(len(answers), dtype=np.float64)
    for lo in range(0, len(answers), batch_size):
        chunk = [list(a) for a in answers[lo : lo + batch_size]]
        n, width = len(chunk), max(len(a) for a in chunk)
        tokens = torch.zeros((n, width), dtype=torch.long)  # (n, width) right-padded with token 0
        real = torch.zeros((n, width), dtype=torch.bool)  # (n, width)
        for row, answer in enumerate(chunk):
            tokens[row, : len(answer)] = torch.as_tensor(answer)
            real[row, : len(answer)] = True
        first = first_log_probs[tokens[:, 0]]  # (n,)
        rest = torch.zeros(n)
        if width > 1:
            cache = CausalLMRunner.reorder(copy.deepcopy(prompt_cache), torch.zeros(n, dtype=torch.long))
            mask = torch.cat(
                [torch.ones((n, length), dtype=torch.long), real.long()], dim=1
            )  # (n, len+width)
            positions = (length + torch.arange(width))[None, :].expand(n, width)  # (n, width)
            result = model(
                input_ids=tokens.to(runner.device),
                attention_mask=mask.to(runner.device),
                position_ids=positions.to(runner.device),
                past_key_values=cache,
                use_cache=True,
            )
            log_probs = torch.log_softmax(result.logits[:, :-1].float().cpu(), dim=-1)  # (n, width-1, vocab)
            picked = log_probs.gather(-1, tokens[:, 1:, None])[..., 0]  # (n, width-1)
            rest = picked.masked_fill(~real[:, 1:], 0.0).sum(dim=1)  # (n,)
        out[lo : lo + n] = (first + rest).double().numpy()
    return out


class ZeroShotLMRecommender:
    """A prompted, untrained causal LM whose answers are grounded in the title trie (module docstring)."""

    name = "zero-shot-lm"
    config_cls = ZeroShotConfig

    def __init__(self, config: ZeroShotConfig | None = None, *, progress: bool = False) -> None:
        self.config = config if config is not None else ZeroShotConfig()
        self.progress = progress
        self.model: Any = None
        self.tokenizer: Any = None
        self.titles: list[str] = []
        self.answers: list[str] = []
        self.examples: list[InContextExample] = []
        self.renderer: PromptRenderer | None = None
        self.trie: PrefixTrie | None = None
        self.answer_ids: list[list[int]] = []

    @property
    def num_items(self) -> int:
        return len(self.titles)

    # ------------------------------------------------------------------ building
    def attach_lm(self, model: Any, tokenizer: Any) -> None:
        """Use ``model``/``tokenizer`` (instead of loading ``config.lm``); index the items if known."""
        if tokenizer.eos_token_id is None:
            raise GenrecError(f"the LM tokenizer {type(tokenizer).__name__} has no EOS token to end answers")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer = model, tokenizer
        model.eval()
        if self.titles:
            self._index()

    def _load_lm(self) -> None:
        from genrec.training.pretrained import load_pretrained

        self.attach_lm(*load_pretrained(self.config.lm))

    def _index(self) -> None:
        """The prompt renderer, every item's answer token ids and the title trie over them."""
        self.renderer = PromptRenderer(self.config, self.tokenizer, self.titles, self.answers, self.examples)
        self.answer_ids = [self.renderer.answer_ids(i) for i in range(len(self.titles))]
        trie = PrefixTrie(len(self.tokenizer))
        for item, ids in enumerate(self.answer_ids):
            trie.insert(item, ids)
        self.trie = trie

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """No training: record the titles, draw the in-context examples, load the LM, build the trie."""
        cfg = self.config
        self.titles = [train.catalogue.title(i) for i in range(train.num_items)]
        self.answers = answer_titles(train.catalogue)
        self.examples = choose_examples(train, cfg.in_context_examples, cfg.history_items, cfg.seed)
        if self.model is None:
            self._load_lm()
        else:
            self._index()

    def _require_fit(self) -> tuple[PromptRenderer, PrefixTrie]:
        if self.renderer is None or self.trie is None or self.model is None:
            raise GenrecError("ZeroShotLMRecommender is not fitted; call fit() or load() first")
        return self.renderer, self.trie

    def prompt_ids(self, history: Sequence[int]) -> list[int]:
        """The prompt's token ids for ``history`` (its recent in-catalogue items)."""
        renderer, _ = self._require_fit()
        return renderer.prompt_ids(history)

    # ------------------------------------------------------------------ full ranking
    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-k titles per history by the trie-constrained beam search; -1 padding when fewer exist."""
        return self.recommend_excluding(histories, k, [()] * len(histories), exclude_history)

    def recommend_excluding(
        self,
        histories: Sequence[Sequence[int]],
        k: int,
        exclusions: Sequence[Sequence[int]],
        exclude_history: bool = True,
    ) -> Recommendations:
        """Like `recommend`, never returning ``exclusions[i]`` for history i (removed inside the search).

        Each row's k is its own (``min(k, items it may still get)``) so rows never change each other's lists.
        """
        renderer, trie = self._require_fit()
        if len(exclusions) != len(histories):
            raise GenrecError(f"{len(exclusions)} exclusion lists for {len(histories)} histories")
        cfg = self.config
        hist, banned = banned_items(histories, exclusions, exclude_history, self.num_items)
        items = np.full((len(hist), k), -1, dtype=np.int64)  # (rows, k)
        scores = np.full((len(hist), k), -np.inf, dtype=np.float64)  # (rows, k)
        left = [self.num_items - len(b) for b in banned]
        for k_row, rows in rows_by_effective_k(left, k).items():
            search = SearchConfig(
                num_beams=max(cfg.beam_size, k_row),
                k=k_row,
                exclude_history=any(banned[r] for r in rows),
                num_threads=cfg.num_threads,
                batch_size=cfg.batch_size,
            )
            found = grounded_beam_search(
                self.model,
                [renderer.prompt_ids(hist[r]) for r in rows],
                trie,
                search,
                histories=[banned[r] for r in rows],
                pad_token_id=int(self.tokenizer.pad_token_id),
            )
            for row, res in zip(rows, found, strict=True):
                items[row, : len(res.items)] = res.items
                scores[row, : len(res.scores)] = res.scores
        return Recommendations(items, scores)

    # ------------------------------------------------------------------ candidate protocol
    def score_candidates(self, histories: Sequence[Sequence[int]], candidates: np.ndarray) -> np.ndarray:
        """Log-likelihood of each candidate's answer after the user's prompt, shape (users, n).

        The score is the *sum* of the answer's token log-probabilities (title tokens and the end token):
        the log-probability that the LM answers exactly that title, the quantity the beam search ranks by.
        A mean would reward long titles, whose later tokens are nearly certain once the first are given,
        and would no longer be a probability of the answer. The prompt runs once per user and its KV cache
        is reused for all of that user's candidates.
        """
        renderer, _ = self._require_fit()
        grid = np.asarray(candidates)
        if grid.ndim != 2 or grid.shape[0] != len(histories):
            raise GenrecError(f"candidates must be (users={len(histories)}, n), got shape {grid.shape}")
        bad = np.argwhere((grid < 0) | (grid >= self.num_items))
        if len(bad):
            row, col = (int(x) for x in bad[0])
            raise DataError(
                f"candidate {int(grid[row, col])} of user row {row} is not a catalogue item "
                f"(0..{self.num_items - 1})",
                field=f"candidates[{row}][{col}]",
            )
        out = np.zeros(grid.shape, dtype=np.float64)  # (users, n)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch_threads(self.config.num_threads):
                for row, history in enumerate(histories):
                    answers = [self.answer_ids[int(i)] for i in grid[row]]
                    out[row] = answer_log_likelihoods(
                        self.model, renderer.prompt_ids(history), answers, self.config.score_batch_size
                    )
        finally:
            self.model.train(was_training)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write ``zero_shot.json`` (config, titles, answer titles, examples); the LM is not copied."""
        self._require_fit()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "name": self.name,
            "config": self.config.to_dict(),
            "titles": self.titles,
            "answers": self.answers,
            "examples": [ex.to_dict() for ex in self.examples],
        }
        write_json_atomic(directory / ZERO_SHOT_FILE, meta)

    @classmethod
    def load(cls, directory: Path) -> ZeroShotLMRecommender:
        """Restore a recommender written by `save`, re-reading the LM from its ``config.lm``."""
        path = Path(directory) / ZERO_SHOT_FILE
        if not path.is_file():
            raise GenrecError(f"{directory} holds no saved zero-shot recommender (no {ZERO_SHOT_FILE})")
        meta = read_json(path)
        if not isinstance(meta, dict) or meta.get("name") != cls.name:
            raise DataError(f"expected a {cls.name!r} model", path=path, field="name")
        for key in ("titles", "answers", "examples"):
            if not isinstance(meta.get(key), list):
                raise DataError("expected a list", path=path, field=key)
        if len(meta["titles"]) != len(meta["answers"]):
            raise DataError(
                f"{len(meta['titles'])} titles but {len(meta['answers'])} answers", path=path, field="answers"
            )
        rec = cls(config_from_mapping(ZeroShotConfig, meta.get("config", {})))
        rec.titles = [str(t) for t in meta["titles"]]
        rec.answers = [str(t) for t in meta["answers"]]
        rec.examples = [
            InContextExample.from_dict(ex, f"examples[{n}]") for n, ex in enumerate(meta["examples"])
        ]
        rec._load_lm()
        return rec
