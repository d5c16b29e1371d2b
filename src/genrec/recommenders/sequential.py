"""Shared machinery of the neural next-item baselines (SASRec, GRU4Rec): data, training, inference, files.

A subclass supplies ``name``, ``config_cls`` and ``build_network``; the network maps right-padded item
sequences (item index + 1, 0 = padding) to one hidden state per position and owns the item embedding
table that scores the catalogue (tied input/output embeddings, as in RecBole).

Training uses every position's next item as a target (standard SASRec): each training sequence is cut
into windows of at most ``max_len`` inputs, so every training target is seen once per epoch. Validation
NDCG@10 (full ranking, history excluded) is computed after every epoch; training stops after ``patience``
epochs without improvement and the best weights are restored.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.evaluation.metrics import ndcg_at_k
from genrec.io.files import atomic_path, read_json, write_json_atomic
from genrec.recommenders.base import Recommendations
from genrec.recommenders.config import SequentialConfig, config_from_mapping
from genrec.recommenders.scoring import top_k_from_scores

WEIGHTS_FILE, CONFIG_FILE, META_FILE = "model.safetensors", "config.json", "meta.json"


def training_windows(sequences: Sequence[Sequence[int]], max_len: int) -> list[tuple[list[int], list[int]]]:
    """(inputs, targets) windows covering every next-item target once; items shifted by +1 (0 = pad).

    A sequence s yields targets s[1:], cut from the end into chunks of ``max_len``; each chunk's inputs
    are the items just before its targets.
    """
    windows = []
    for seq in sequences:
        shifted = [int(i) + 1 for i in seq]
        end = len(shifted)
        while end > 1:
            lo = max(1, end - max_len)
            windows.append((shifted[lo - 1 : end - 1], shifted[lo:end]))
            end = lo
    return windows


def pad_right(rows: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    """Right-pad integer rows with 0 into a (rows, length) int64 tensor."""
    out = torch.zeros((len(rows), length), dtype=torch.int64)
    for r, row in enumerate(rows):
        if row:
            out[r, : len(row)] = torch.as_tensor(row, dtype=torch.int64)
    return out


def _bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of similar-length windows (less padding), in random order; ties shuffled."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class SequenceNetwork(nn.Module):
    """Interface of the networks: ``forward`` (batch, len) -> (batch, len, hidden); ``item_table``."""

    def item_table(self) -> torch.Tensor:
        """Output embeddings of the catalogue items, (num_items, hidden) (padding row excluded)."""
        raise NotImplementedError


class NeuralSequentialRecommender:
    """Base class of the trained next-item baselines; see the module docstring."""

    name: str = "neural"
    config_cls: ClassVar[type[SequentialConfig]] = SequentialConfig

    def __init__(self, config: SequentialConfig | None = None, *, progress: bool = False) -> None:
        self.config = config if config is not None else self.config_cls()
        if not isinstance(self.config, self.config_cls):
            raise GenrecError(f"{type(self).__name__} needs a {self.config_cls.__name__}")
        self.progress = progress
        self.network: SequenceNetwork | None = None
        self.num_items = 0
        self.training_log: dict[str, Any] = {}

    # ------------------------------------------------------------------ subclass hook
    def build_network(self, num_items: int) -> SequenceNetwork:
        raise NotImplementedError

    def prepare_from_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Hook run by `load` before `build_network`: restore what the network is built from (no-op here)."""

    # ------------------------------------------------------------------ training
    def _loss(self, net: SequenceNetwork, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        hidden = net(inputs)  # (batch, len, hidden)
        keep = targets > 0  # (batch, len)
        h = hidden[keep]  # (targets, hidden)
        pos = targets[keep] - 1  # (targets,)
        table = net.item_table()  # (items, hidden)
        if self.config.loss == "ce":
            return F.cross_entropy(h @ table.T, pos)  # logits (targets, items)
        # One uniform negative per target, never the target itself.
        neg = torch.randint(0, self.num_items - 1, pos.shape)
        neg = neg + (neg >= pos).long()
        pos_logit = (h * table[pos]).sum(-1)
        neg_logit = (h * table[neg]).sum(-1)
        return F.binary_cross_entropy_with_logits(
            pos_logit, torch.ones_like(pos_logit)
        ) + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit))

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Train with Adam; early-stop on validation NDCG@10 (if ``valid``) and keep the best weights."""
        cfg = self.config
        if train.num_items < 2:
            raise GenrecError(f"{self.name} needs at least 2 catalogue items, got {train.num_items}")
        torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.num_items = train.num_items
        net = self.build_network(self.num_items)
        self.network = net
        windows = training_windows(train.sequences, cfg.max_len)
        if not windows:
            raise GenrecError(f"{self.name}: no training sequence has two or more items")
        lengths = np.asarray([len(w[0]) for w in windows])
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        best_score, best_epoch, best_state = -math.inf, 0, copy.deepcopy(net.state_dict())
        history: list[dict[str, float]] = []
        start = time.perf_counter()
        stopped = "epochs"
        bar = tqdm(range(1, cfg.epochs + 1), desc=f"train {self.name}", disable=not self.progress)
        for epoch in bar:
            net.train()
            t0, total, steps = time.perf_counter(), 0.0, 0
            for batch in _bucketed_batches(lengths, cfg.batch_size, rng):
                length = int(lengths[batch].max())
                inputs = pad_right([windows[i][0] for i in batch], length)  # (batch, len)
                targets = pad_right([windows[i][1] for i in batch], length)  # (batch, len)
                loss = self._loss(net, inputs, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, steps = total + loss.item(), steps + 1
            record = {"epoch": float(epoch), "loss": total / steps, "train_s": time.perf_counter() - t0}
            if valid is not None and len(valid):
                record["valid_ndcg@10"] = self.validation_ndcg(valid)
                if record["valid_ndcg@10"] > best_score:
                    best_score, best_epoch = record["valid_ndcg@10"], epoch
                    best_state = copy.deepcopy(net.state_dict())
            else:
                best_epoch, best_state = epoch, copy.deepcopy(net.state_dict())
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}", ndcg=f"{record.get('valid_ndcg@10', 0):.4f}")
            if valid is not None and epoch - best_epoch >= cfg.patience:
                stopped = "patience"
                break
            if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                stopped = "time budget"
                break
        bar.close()
        net.load_state_dict(best_state)
        net.eval()
        self.training_log = {
            "epochs": len(history),
            "best_epoch": best_epoch,
            "best_valid_ndcg@10": best_score if best_score > -math.inf else None,
            "stopped": stopped,
            "wall_time_s": time.perf_counter() - start,
            "windows": len(windows),
            "history": history,
        }

    # ------------------------------------------------------------------ inference
    def _require_fit(self) -> SequenceNetwork:
        if self.network is None:
            raise GenrecError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        return self.network

    @torch.no_grad()
    def _user_states(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """Hidden state after each history's most recent ``max_len`` items, (users, hidden)."""
        net = self._require_fit()
        was_training = net.training
        net.eval()
        recent = [
            [int(i) + 1 for i in h if 0 <= int(i) < self.num_items][-self.config.max_len :] for h in histories
        ]
        lens = torch.as_tensor([len(r) for r in recent], dtype=torch.int64)
        length = max(int(lens.max()) if len(recent) else 1, 1)
        hidden = net(pad_right(recent, length))  # (users, len, hidden)
        last = hidden[torch.arange(len(recent)), (lens - 1).clamp(min=0)]  # (users, hidden)
        last[lens == 0] = 0.0  # no usable history: all items tie
        net.train(was_training)
        return last

    @torch.no_grad()
    def score(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """Scores of every catalogue item for each history, (users, items)."""
        return self._user_states(histories) @ self._require_fit().item_table().T

    @torch.no_grad()
    def exact_target_ranks(self, histories: Sequence[Sequence[int]], targets: np.ndarray) -> np.ndarray:
        """1-based rank of each target in the full catalogue, history excluded, ties -> lower index.

        Exact, without building top-k lists; 0 when the target is itself in the history (never ranked).
        """
        scores = self.score(histories)  # (users, items)
        rows = torch.as_tensor(np.repeat(np.arange(len(histories)), [len(h) for h in histories]))
        cols = torch.as_tensor([int(i) for h in histories for i in h], dtype=torch.int64)
        scores[rows, cols] = -math.inf
        target = torch.as_tensor(targets, dtype=torch.int64)[:, None]  # (users, 1)
        t_score = scores.gather(1, target)  # (users, 1)
        idx = torch.arange(self.num_items)[None, :]  # (1, items)
        better = (scores > t_score) | ((scores == t_score) & (idx < target))  # (users, items)
        rank = better.sum(1) + 1  # (users,)
        return torch.where(torch.isfinite(t_score[:, 0]), rank, 0).numpy()

    def validation_ndcg(self, valid: EvalSet) -> float:
        """Mean NDCG@10 of the targets under full ranking with history excluded."""
        total = 0.0
        step = self.config.eval_batch_size
        for lo in range(0, len(valid), step):
            ranks = self.exact_target_ranks(valid.histories[lo : lo + step], valid.targets[lo : lo + step])
            gains = torch.from_numpy(ndcg_at_k(ranks, 10))  # (users,)
            total += float(gains.sum())  # summed by torch as before, so the logged figures are unchanged
        return total / max(len(valid), 1)

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-k of the full catalogue per history (ties -> lower index), history excluded by default."""
        scores = self.score(histories).numpy()  # (users, items)
        return top_k_from_scores(scores, histories, k, exclude_history)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """``model.safetensors`` + ``config.json`` + ``meta.json`` (catalogue size, training log)."""
        net = self._require_fit()
        directory = Path(directory)
        tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"name": self.name})
        write_json_atomic(directory / CONFIG_FILE, self.config.to_dict())
        meta = {"name": self.name, "num_items": self.num_items, "training": self.training_log}
        write_json_atomic(directory / META_FILE, json.loads(json.dumps(meta, default=float)))

    @classmethod
    def load(cls, directory: Path) -> NeuralSequentialRecommender:
        """Restore a model written by `save` (the weights must match the saved config exactly)."""
        directory = Path(directory)
        meta = read_json(directory / META_FILE)
        if meta.get("name") != cls.name:
            raise GenrecError(f"{directory} holds a {meta.get('name')!r} model, not {cls.name!r}")
        rec = cls(config_from_mapping(cls.config_cls, read_json(directory / CONFIG_FILE)))
        rec.num_items = int(meta["num_items"])
        state = load_file(str(directory / WEIGHTS_FILE))
        rec.prepare_from_weights(state)
        net = rec.build_network(rec.num_items)
        net.load_state_dict(state, strict=True)
        net.eval()
        rec.network = net
        rec.training_log = dict(meta.get("training", {}))
        return rec
