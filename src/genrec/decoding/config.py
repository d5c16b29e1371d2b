"""Configuration and result types of the grounded beam search."""

from __future__ import annotations

from dataclasses import dataclass

from genrec.errors import ConfigError, GenrecError


class EmptyAllowedSetError(GenrecError):
    """A live beam (or a user) has no valid continuation: decoding never falls back to free text."""


@dataclass(frozen=True)
class SearchConfig:
    """How `grounded_beam_search` searches.

    num_beams: beams kept per prompt (B); must be at least `k`.
    k: items returned per prompt.
    length_normalization: rank finished items by mean instead of summed token log-probability.
    exclude_history: never return an item from the prompt's history (applied inside the search).
    num_threads: torch intra-op threads during the search (None: leave torch's setting alone).
    batch_size: prompts decoded together in one forward pass.
    temperature: each step's log-probabilities are taken over logits / temperature (the model's training
    loss temperature, so the search ranks by the distribution the model was trained to output).
    """

    num_beams: int = 20
    k: int = 10
    length_normalization: bool = False
    exclude_history: bool = True
    num_threads: int | None = None
    batch_size: int = 16
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"SearchConfig.temperature must be > 0, got {self.temperature}")
        if self.k < 1:
            raise ConfigError(f"SearchConfig.k must be >= 1, got {self.k}")
        if self.num_beams < self.k:
            raise ConfigError(f"SearchConfig.num_beams ({self.num_beams}) must be >= k ({self.k})")
        if self.batch_size < 1:
            raise ConfigError(f"SearchConfig.batch_size must be >= 1, got {self.batch_size}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"SearchConfig.num_threads must be >= 1 or None, got {self.num_threads}")


@dataclass(frozen=True)
class SearchResult:
    """Top-k distinct items for one prompt, best first, with their scores (summed log-probabilities,
    or mean log-probabilities with length normalisation)."""

    items: tuple[int, ...]
    scores: tuple[float, ...]
