"""The LM re-ranker's prompt and verbaliser: candidates as lettered lines, scored by the letters' logits.

A prompt lists the user's recent history titles and the retriever's candidates, each behind an index
letter (``A. title`` .. ``T. title``), and ends at the answer position (``Answer:``). The score of candidate
j is the LM's next-token logit of letter j's token there (a *verbaliser*): all candidates are scored by one
forward pass, with no autoregressive decoding. The prompt text is data: `RerankerConfig` holds the
template strings with their defaults, and a bad placeholder is a `ConfigError` naming the field.

Each letter (as spelled by ``letter_format``, `` A`` by default) must be one token of the LM's
tokenizer, distinct from the other letters and not the unknown token; `letter_token_ids` checks this and
names the offending letter otherwise.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from genrec.config import ConfigModel, Rate
from genrec.errors import ConfigError
from genrec.prompts.template import PromptTemplate
from genrec.training.config import NonEmptyNames

LETTERS = string.ascii_uppercase
DEFAULT_PROMPT = (
    "A user interacted with these items, oldest first:\n{history}\n\n"
    "Candidates for the next item:\n{candidates}\n\n"
    "Which candidate will the user choose next? Answer with its letter."
)


class RerankerConfig(ConfigModel):
    """Options of `genrec.recommenders.reranker.LMReranker`.

    Retrieval: ``retriever`` (a registry name) built with ``retriever_options`` and this ``seed``; its top
    ``candidates`` items are re-ranked. LM: ``lm`` is ``smollm2`` (the bundled SmolLM2-135M-Instruct) or a
    Hugging Face model directory; ``keep_layers`` > 0 keeps only its first layers. Prompt: ``prompt`` with
    ``{history}``, ``{candidates}`` and ``{count}``; ``history_format`` with ``{title}``;
    ``candidate_format`` with ``{letter}`` and ``{title}``; ``letter_format`` spells the answer token.
    Fine-tuning (``fine_tune`` ``lora`` or ``full``; ``none`` = zero-shot): ``epochs`` over the leak-free
    examples (see `genrec.recommenders.reranker_training`), the epoch chosen by validation NDCG@10 on at
    most ``max_valid_users`` users (0 = all); ``candidate_rounds`` retrievers on held-out prefixes give
    examples, ``targets_per_round`` held-out targets per user each.
    ``retriever_prior``: a candidate's score is the retriever's log-probability of it (a softmax of its
    scores over the candidates) plus ``w`` times the LM's letter log-probability. Fine-tuning fits the LM
    with ``w = 1``, so it learns what to add to the retriever's view rather than the whole ranking; then
    ``w`` is chosen among ``lm_weights`` by validation NDCG@10 (``w = 0`` is the retriever's own order,
    so validation never prefers a re-ranking that is worse than the retriever).
    ``eval_batch_size`` is 1 by default so each user's prompt runs alone (no padding): one user's answer
    never depends on who else is in the batch.
    """

    seed: int = 0
    retriever: str = "sasrec"
    retriever_options: dict[str, Any] = Field(default_factory=lambda: {"loss": "ce"})
    candidates: int = Field(default=20, ge=2, le=len(LETTERS))
    lm: str = "smollm2"
    keep_layers: NonNegativeInt = 0
    history_items: PositiveInt = 10
    max_title_chars: PositiveInt = 60
    chat: bool = True
    system: str = "You are a recommender system."
    prompt: str = DEFAULT_PROMPT
    history_format: str = "- {title}"
    candidate_format: str = "{letter}. {title}"
    answer_prefix: str = "Answer:"
    letter_format: str = " {letter}"
    fine_tune: Literal["none", "lora", "full"] = "none"
    lora_rank: PositiveInt = 8
    lora_alpha: PositiveInt = 16
    lora_dropout: Rate = 0.05
    lora_targets: NonEmptyNames = ("q_proj", "k_proj", "v_proj", "o_proj")
    lr: PositiveFloat = 2e-4
    weight_decay: NonNegativeFloat = 0.0
    epochs: PositiveInt = 3
    batch_size: PositiveInt = 8
    eval_batch_size: PositiveInt = 1
    candidate_rounds: PositiveInt = 1
    targets_per_round: PositiveInt = 1
    max_train_examples: NonNegativeInt = 0
    max_valid_users: NonNegativeInt = 0
    max_train_seconds: NonNegativeFloat = 0.0
    retriever_prior: bool = False
    lm_weights: Annotated[tuple[NonNegativeFloat, ...], Field(strict=False, min_length=1)] = (
        0.0,
        0.25,
        0.5,
        1.0,
        2.0,
    )
    num_threads: PositiveInt = 2

    @model_validator(mode="after")
    def _placeholders_known(self) -> RerankerConfig:
        checks: dict[str, tuple[str, dict[str, Any]]] = {
            "prompt": (self.prompt, {"history": "", "candidates": "", "count": 0}),
            "history_format": (self.history_format, {"title": ""}),
            "candidate_format": (self.candidate_format, {"letter": "", "title": ""}),
            "letter_format": (self.letter_format, {"letter": ""}),
        }
        for name, (text, values) in checks.items():
            try:
                text.format(**values)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{name}: bad placeholder {exc}; allowed are {sorted(values)}") from None
        if "{letter}" not in self.letter_format:
            raise ValueError("letter_format must contain {letter}")
        return self


def letter_token_ids(tokenizer: Any, config: RerankerConfig) -> list[int]:
    """Token id of each candidate letter as the answer token; `ConfigError` unless each is one distinct token."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    ids: list[int] = []
    for letter in LETTERS[: config.candidates]:
        text = config.letter_format.format(letter=letter)
        tokens = [int(t) for t in tokenizer.encode(text, add_special_tokens=False)]
        if len(tokens) != 1 or (unknown is not None and tokens[0] == unknown):
            raise ConfigError(
                f"letter_format: candidate letter {letter!r} spelled {text!r} is {len(tokens)} token(s) "
                f"{tokens} in the LM's tokenizer ({type(tokenizer).__name__}), not one known token; "
                "change letter_format (e.g. ' {letter}' or '{letter}') or use fewer candidates"
            )
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ConfigError(f"letter_format: the candidate letters share token ids {ids}; each needs its own")
    return ids


def shorten(title: str, limit: int) -> str:
    """``title`` on one line, cut to ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(title.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class PromptBuilder:
    """Renders (history titles, candidate titles) into prompt token ids with the config's templates."""

    def __init__(self, config: RerankerConfig, tokenizer: Any) -> None:
        self.config = config
        self.tokenizer = tokenizer
        # The chat wrapping and answer prefix are exactly those of a genrec "text" prompt template.
        self.wrapper = PromptTemplate(
            name="reranker",
            kind="text",
            instruction="{history}",  # only encode_instruction is used: the text is rendered here
            chat=config.chat,
            system=config.system,
            response_prefix=config.answer_prefix,
        )

    def text(self, history_titles: Sequence[str], candidate_titles: Sequence[str]) -> str:
        """The user message: the recent history and the lettered candidates."""
        limit = self.config.max_title_chars
        recent = list(history_titles)[-self.config.history_items :]
        history = "\n".join(self.config.history_format.format(title=shorten(t, limit)) for t in recent)
        candidates = "\n".join(
            self.config.candidate_format.format(letter=LETTERS[j], title=shorten(t, limit))
            for j, t in enumerate(candidate_titles)
        )
        return self.config.prompt.format(history=history, candidates=candidates, count=len(candidate_titles))

    def ids(self, history_titles: Sequence[str], candidate_titles: Sequence[str]) -> list[int]:
        """Prompt token ids ending at the answer position (the letter token comes next)."""
        if len(candidate_titles) > self.config.candidates:
            raise ConfigError(
                f"{len(candidate_titles)} candidates; the config letters {self.config.candidates}"
            )
        rendered = self.wrapper.encode_instruction(
            self.text(history_titles, candidate_titles), self.tokenizer
        )
        return [int(t) for t in rendered]


def letter_logits(
    model: Any, prompts: Sequence[Sequence[int]], letter_ids: Sequence[int], pad_token_id: int
) -> torch.Tensor:
    """Logits of the letter tokens at each prompt's last position, (prompts, letters); ONE forward pass.

    Prompts are left-padded into one batch with an attention mask and positions counted from each
    prompt's first real token, so a padded prompt sees exactly what it would see alone.
    """
    length = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), length), pad_token_id, dtype=torch.int64)  # (batch, len)
    mask = torch.zeros((len(prompts), length), dtype=torch.int64)  # (batch, len)
    for row, prompt in enumerate(prompts):
        input_ids[row, length - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.int64)
        mask[row, length - len(prompt) :] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # (batch, len)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
    last = out.logits[:, -1, :]  # (batch, vocab)
    return last[:, torch.as_tensor(list(letter_ids), dtype=torch.int64)]  # (batch, letters)


def masked_log_probs(logits: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """Log-softmax over each row's first ``counts[row]`` letters; the other letters get -inf. (rows, letters)"""
    letters = torch.arange(logits.shape[1])[None, :]  # (1, letters)
    valid = letters < torch.as_tensor(list(counts), dtype=torch.int64)[:, None]  # (rows, letters)
    masked = logits.masked_fill(~valid, float("-inf"))  # (rows, letters)
    return torch.log_softmax(masked, dim=1)


def retriever_log_probs(scores: Sequence[float] | np.ndarray) -> list[float]:
    """The retriever's scores of its candidates as log-probabilities (log-softmax over the candidates).

    A non-finite score (a retriever that marks an item -inf) counts as 50 below the lowest finite one.
    """
    values = np.asarray(scores, dtype=np.float64)  # (candidates,)
    finite = np.isfinite(values)
    if not finite.any():
        return [float(-np.log(len(values)))] * len(values)
    values = np.where(finite, values, values[finite].min() - 50.0)
    shifted = values - values.max()
    return (shifted - np.log(np.exp(shifted).sum())).tolist()


def fuse(lm_log_probs: np.ndarray, priors: Sequence[Sequence[float]], weight: float) -> np.ndarray:
    """Per row: the prior plus ``weight`` times the LM's log-probabilities, over the row's own candidates.

    ``lm_log_probs`` is (rows, letters) with -inf beyond each row's candidates; so is the result.
    """
    out = np.full(lm_log_probs.shape, -np.inf)  # (rows, letters)
    for row, prior in enumerate(priors):
        n = len(prior)
        out[row, :n] = np.asarray(prior) + weight * lm_log_probs[row, :n]
    return out
