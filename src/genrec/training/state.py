"""What a training run carries across a restart (`TrainState`) and what it reports when done (`TrainResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainState:
    """Everything besides tensors needed to resume: position, early-stopping state, history."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_metric: float = float("-inf")
    best_step: int = -1
    bad_evals: int = 0
    stopped: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or halted) run reports."""

    state: TrainState
    total_steps: int
    halted: bool

    @property
    def best_metrics(self) -> dict[str, float]:
        for row in self.state.history:
            if row.get("step") == self.state.best_step:
                return row
        return {}
