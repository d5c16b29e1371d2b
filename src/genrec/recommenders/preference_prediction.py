"""`PreferencePredictor`: TALLRec-style preference prediction, P(the user likes the target) from a causal LM.

A `genrec.data.ratings.PreferenceExample` (the user's recent movies, each liked or disliked, and a
target movie) becomes a prompt (`genrec.recommenders.preference_prompts`, the wording is YAML data). The LM
reads it once; at the answer position the logits of the two answer tokens (" Yes", " No") give the score
``P(Yes) = softmax(logit_yes, logit_no)[yes] = sigmoid(logit_yes - logit_no)``. No text is generated.

Training (``fine_tune`` ``lora`` or ``full``; ``none`` = zero-shot) minimises the cross-entropy of that
two-way softmax against the label (liked = rating >= 4), seeded (LoRA init, example order). Every
``valid_every`` epochs (or ``valid_every_steps`` steps) the validation examples are scored and the weights
with the best validation AUC are kept: the epoch is chosen on validation, never on test. SmolLM2-135M is
the default LM, cut to its first ``keep_layers`` layers (the cheapest CPU speed-up, as the re-ranker does).

Files written by `save`: ``preference.json`` (config, titles, training log, which LM files exist), then
``lm_adapter/`` (LoRA; the base LM is re-read from ``config.lm``) or ``lm/`` (full weights and tokenizer).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from sklearn.metrics import roc_auc_score

from genrec.config import ConfigModel, Rate
from genrec.data.ratings import PreferenceExample
from genrec.errors import GenrecError
from genrec.io.files import read_json, write_json_atomic
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.preference_prompts import (
    PreferencePromptBuilder,
    answer_token_ids,
    load_prompt,
)
from genrec.recommenders.reranker_prompts import letter_logits
from genrec.training.config import NonEmptyNames
from genrec.training.lm_files import fine_tuned_sources, save_fine_tuned

META_FILE = "preference.json"


class PreferenceConfig(ConfigModel):
    """Options of `PreferencePredictor`.

    LM: ``lm`` is ``smollm2`` (bundled SmolLM2-135M-Instruct) or a Hugging Face model directory;
    ``keep_layers`` > 0 keeps its first layers only. Prompt: entry ``prompt`` of ``prompt_file`` (default:
    the shipped ``preference_prompts.yaml``). Fine-tuning: ``fine_tune`` with ``lr``, ``epochs``,
    ``batch_size``; validation AUC every ``valid_every`` epochs, or every ``valid_every_steps`` optimiser
    steps when > 0 (for training sets too large for a whole epoch per check); ``max_train_seconds`` > 0
    stops training after that long (the log says so and how many examples were seen).
    """

    seed: int = 0
    lm: str = "smollm2"
    keep_layers: NonNegativeInt = 4
    prompt: str = "tallrec"
    prompt_file: str = ""
    fine_tune: Literal["none", "lora", "full"] = "lora"
    lora_rank: PositiveInt = 8
    lora_alpha: PositiveInt = 16
    lora_dropout: Rate = 0.05
    lora_targets: NonEmptyNames = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    lr: PositiveFloat = 3e-4
    weight_decay: NonNegativeFloat = 0.0
    epochs: PositiveInt = 3
    batch_size: PositiveInt = 8
    valid_every: PositiveInt = 1
    valid_every_steps: NonNegativeInt = 0
    eval_batch_size: PositiveInt = 16
    max_train_seconds: NonNegativeFloat = 0.0
    num_threads: PositiveInt = 1


def auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """ROC AUC of ``scores`` for binary ``labels``; NaN when only one class is present."""
    y = np.asarray(labels)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


class PreferencePredictor:
    """P(Yes) for preference examples from an LM's two answer logits; see the module docstring."""

    name = "preference"

    def __init__(self, config: PreferenceConfig | None = None) -> None:
        self.config = config if config is not None else PreferenceConfig()
        self.prompt = load_prompt(self.config.prompt, self.config.prompt_file or None)
        self.model: Any = None
        self.tokenizer: Any = None
        self.builder: PreferencePromptBuilder | None = None
        self.answer_ids: tuple[int, int] = (0, 0)
        self.titles: list[str] = []
        self.training_log: dict[str, Any] = {}

    # ------------------------------------------------------------------ LM
    def load_lm(self, source: str | None = None, adapter: Path | None = None) -> None:
        """Load the LM (``config.lm`` by default), trim it, apply a saved LoRA ``adapter`` if given."""
        from genrec.training.pretrained import keep_first_layers, load_pretrained

        model, tokenizer = load_pretrained(source or self.config.lm)
        keep_first_layers(model, self.config.keep_layers)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.attach_lm(model, tokenizer)

    def attach_lm(self, model: Any, tokenizer: Any) -> None:
        """Use ``model``/``tokenizer``; checks that both answers are single tokens."""
        self.answer_ids = answer_token_ids(tokenizer, self.prompt)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer = model, tokenizer
        self.builder = PreferencePromptBuilder(self.prompt, tokenizer)
        model.eval()

    def _require_lm(self) -> PreferencePromptBuilder:
        if self.builder is None or not self.titles:
            raise GenrecError("PreferencePredictor has no LM or titles; call fit() or load() first")
        return self.builder

    # ------------------------------------------------------------------ scoring
    def prompt_ids(self, example: PreferenceExample) -> list[int]:
        """Prompt token ids of one example (titles from the fitted catalogue)."""
        builder = self._require_lm()
        titles = self.titles
        return builder.ids([titles[i] for i in example.history], example.liked, titles[example.target])

    def _answer_margin(self, prompts: Sequence[Sequence[int]]) -> torch.Tensor:
        """logit(yes) - logit(no) at each prompt's answer position, (prompts,); one forward pass."""
        pad = int(self.tokenizer.pad_token_id)
        logits = letter_logits(self.model, prompts, list(self.answer_ids), pad)  # (batch, 2): no, yes
        return logits[:, 1] - logits[:, 0]

    @torch.no_grad()
    def score_prompts(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        """P(Yes) per prompt, (prompts,). Batches group similar lengths (little padding)."""
        out = np.zeros(len(prompts), dtype=np.float64)
        order = np.argsort([len(p) for p in prompts], kind="stable")
        was_training = self.model.training
        self.model.eval()
        try:
            step = self.config.eval_batch_size
            for lo in range(0, len(order), step):
                idx = order[lo : lo + step]
                margin = self._answer_margin([prompts[i] for i in idx])  # (batch,)
                out[idx] = torch.sigmoid(margin).double().numpy()
        finally:
            self.model.train(was_training)
        return out

    def predict(self, examples: Sequence[PreferenceExample]) -> np.ndarray:
        """P(Yes) per example, in [0, 1], (examples,)."""
        torch.set_num_threads(self.config.num_threads)
        return self.score_prompts([self.prompt_ids(e) for e in examples])

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Sequence[PreferenceExample],
        titles: Sequence[str],
        valid: Sequence[PreferenceExample] | None = None,
    ) -> dict[str, Any]:
        """Fine-tune on ``train`` (``titles[i]`` names item i); keep the best-validation-AUC weights."""
        cfg = self.config
        torch.set_num_threads(cfg.num_threads)
        self.titles = [str(t) for t in titles]
        if self.model is None:
            self.load_lm()
        start = time.perf_counter()
        if cfg.fine_tune == "none":
            self.training_log = {"fine_tune": "none", "train_examples": 0}
            return self.training_log
        if not train:
            raise GenrecError("no training example")
        from genrec.training.pretrained import wrap_trainable

        self.model = wrap_trainable(
            self.model,
            full=cfg.fine_tune == "full",
            lora_rank=cfg.lora_rank,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            lora_targets=cfg.lora_targets,
            seed=cfg.seed,
        )
        prompts = [self.prompt_ids(e) for e in train]
        labels = torch.as_tensor([float(e.label) for e in train])  # (train,)
        valid_prompts = [self.prompt_ids(e) for e in valid] if valid else []
        valid_labels = [e.label for e in valid] if valid else []
        self.training_log = self._train(prompts, labels, valid_prompts, valid_labels, start)
        return self.training_log

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _train(
        self,
        prompts: list[list[int]],
        labels: torch.Tensor,
        valid_prompts: list[list[int]],
        valid_labels: list[int],
        start: float,
    ) -> dict[str, Any]:
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        torch.manual_seed(cfg.seed)  # dropout masks
        rng = np.random.default_rng(cfg.seed)
        history: list[dict[str, float]] = []
        best: dict[str, Any] = {"auc": -math.inf, "epoch": 0.0, "state": None}

        def validate(epoch: float, loss: float) -> None:
            record = {
                "epoch": epoch,
                "loss": loss,
                "seen": float(seen),
                "train_s": time.perf_counter() - start,
            }
            if valid_prompts:
                record["valid_auc"] = auc(valid_labels, self.score_prompts(valid_prompts))
                if record["valid_auc"] > best["auc"]:
                    best.update(auc=record["valid_auc"], epoch=epoch, state=self._trainable_state())
            else:
                best.update(epoch=epoch, state=self._trainable_state())
            history.append(record)

        seen, steps, total, count, stopped = 0, 0, 0.0, 0, "epochs"
        per_epoch = math.ceil(len(prompts) / cfg.batch_size)
        for epoch in range(1, cfg.epochs + 1):
            self.model.train()
            order = rng.permutation(len(prompts))
            for done, lo in enumerate(range(0, len(order), cfg.batch_size), start=1):
                batch = order[lo : lo + cfg.batch_size]
                margin = self._answer_margin([prompts[i] for i in batch])  # (batch,)
                # Two-way softmax cross-entropy over (no, yes) == BCE on the logit margin.
                loss = F.binary_cross_entropy_with_logits(margin, labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                seen, steps, total, count = (
                    seen + len(batch),
                    steps + 1,
                    total + float(loss.item()),
                    count + 1,
                )
                at = epoch - 1 + done / per_epoch  # fractional epochs so far
                if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                    stopped = "time budget"
                    break
                if cfg.valid_every_steps and steps % cfg.valid_every_steps == 0 and done < per_epoch:
                    validate(at, total / count)
                    total, count = 0.0, 0
                    self.model.train()
            if stopped != "epochs" or epoch % cfg.valid_every == 0 or epoch == cfg.epochs:
                validate(at, total / max(count, 1))
                total, count = 0.0, 0
            if stopped != "epochs":
                break
        if best["state"] is not None:
            with torch.no_grad():
                for name, param in self.model.named_parameters():
                    if name in best["state"]:
                        param.copy_(best["state"][name])
        self.model.eval()
        return {
            "fine_tune": cfg.fine_tune,
            "train_examples": len(prompts),
            "examples_seen": seen,
            "best_epoch": best["epoch"],
            "best_valid_auc": best["auc"] if math.isfinite(best["auc"]) else None,
            "stopped": stopped,
            "train_s": time.perf_counter() - start,
            "history": history,
        }

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """``preference.json`` plus the LM files of the fine-tuning mode (module docstring)."""
        self._require_lm()
        directory = Path(directory)
        lm_files = save_fine_tuned(directory, self.model, self.tokenizer, self.config.fine_tune)
        meta = {
            "name": self.name,
            "config": self.config.to_dict(),
            "lm_files": lm_files,
            "titles": self.titles,
            "training": self.training_log,
        }
        write_json_atomic(directory / META_FILE, meta)  # last: its presence marks a complete save

    @classmethod
    def load(cls, directory: Path) -> PreferencePredictor:
        """Restore a predictor written by `save` (LoRA adapters are applied to the base LM ``config.lm``)."""
        directory = Path(directory)
        path = directory / META_FILE
        if not path.is_file():
            raise GenrecError(f"{directory} holds no saved preference predictor (no {META_FILE})")
        meta = read_json(path)
        if not isinstance(meta, dict) or meta.get("name") != cls.name:
            raise GenrecError(f"{path} holds no {cls.name!r} model")
        rec = cls(config_from_mapping(PreferenceConfig, meta.get("config", {})))
        rec.titles = [str(t) for t in meta.get("titles", [])]
        rec.training_log = dict(meta.get("training", {}))
        rec.load_lm(*fine_tuned_sources(directory, meta.get("lm_files"), rec.config.lm))
        return rec
