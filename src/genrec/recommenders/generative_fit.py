"""Fitting a `GenerativeRecommender`: identifiers, the backbone over them, training and validation.

``build_untrained`` gives every item an identifier and builds the untrained backbone, its new identifier
token rows initialised from item text (and, if configured, interaction vectors). ``fit`` adds the shared
training loop (`genrec.training.loop.Trainer`) on top: a run with an output directory resumes from it,
identifiers included (`genrec.recommenders.run_identifiers`); validation scores the model through the
recommender's own `recommend`, so it measures exactly what evaluation will; and with
``training.confirm_users`` the best and final weights are scored again on more users and the better kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.recommenders.run_identifiers import load_run_identifiers, save_run_identifiers
from genrec.tokenizers.base import ItemTokenizer
from genrec.training.backbone import build_backbone
from genrec.training.compact import count_parameters
from genrec.training.confirm import confirm_best
from genrec.training.examples import ExampleBuilder
from genrec.training.loop import Trainer, Validate
from genrec.training.pretrained import forward_model, merge_for_inference
from genrec.training.state import TrainState
from genrec.training.token_init import item_token_texts, item_token_vectors

if TYPE_CHECKING:
    from genrec.recommenders.generative import GenerativeRecommender


def example_builder(rec: GenerativeRecommender) -> ExampleBuilder:
    """How the training loop lays out examples for ``rec``'s prompt template."""
    max_history = rec.config.data.max_history
    alignment_ratio = rec.config.training.alignment_ratio
    alignment = _alignment_examples(rec) if alignment_ratio > 0 else None
    if rec.template.packable:
        return ExampleBuilder(
            rec.item_ids,
            max_history,
            prefix=rec.template.token_prefix(rec.lm_tokenizer),
            item_suffix=rec.item_suffix,
            alignment=alignment,
            alignment_ratio=alignment_ratio,
        )
    return ExampleBuilder(
        rec.item_ids,
        max_history,
        render=rec.prompt_ids,
        alignment=alignment,
        alignment_ratio=alignment_ratio,
    )


def _alignment_examples(rec: GenerativeRecommender) -> Any:
    """The identifier <-> title alignment tasks mixed into training (pretrained backbones only)."""
    from genrec.training.alignment import AlignmentExamples

    if rec.text_identifiers or rec.config.backbone.kind != "pretrained":
        raise GenrecError(
            "training.alignment_ratio > 0 needs a pretrained backbone and identifier tokens "
            f"(got backbone {rec.config.backbone.kind!r}, identifiers {rec.config.identifiers.kind!r})"
        )
    identifiers = [rec.item_tokenizer.encode(i) for i in range(rec.num_items)]
    return AlignmentExamples.build(
        rec.config.training.alignment_tasks,
        rec.template,
        rec.lm_tokenizer,
        identifiers,
        rec.item_ids,
        rec._raw_titles,
    )


def build_untrained(rec: GenerativeRecommender, train: TrainData, fit_identifiers: bool) -> tuple[Any, Any]:
    """Assign identifiers (unless ``fit_identifiers`` is False: the item tokenizer is already fitted) and
    build the untrained backbone over them; returns the (token_texts, token_vectors) it initialised from."""
    cfg = rec.config
    if fit_identifiers:
        rec.item_tokenizer.fit(train.catalogue, train.sequences, cfg.seed)
    rec._raw_titles = [train.catalogue.text(i, "title").strip() for i in range(train.num_items)]
    if rec.template.uses_titles and not any(rec._raw_titles):
        raise GenrecError(f"prompt template {rec.template.name!r} shows titles; this catalogue has none")
    rec.titles = [t or train.catalogue.title(i) for i, t in enumerate(rec._raw_titles)]
    token_texts = item_token_texts(rec.item_tokenizer, rec._raw_titles)
    token_vectors = None
    if cfg.backbone.kind == "pretrained" and "interactions" in cfg.backbone.init_new_tokens:
        token_vectors = item_token_vectors(rec.item_tokenizer, train, cfg.seed)
    rec.model, rec.lm_tokenizer = build_backbone(
        cfg.backbone,
        rec.item_tokenizer.vocabulary(),
        cfg.seed,
        token_texts=token_texts,
        token_vectors=token_vectors,
    )
    rec._index_items(train.num_items)
    return token_texts, token_vectors


def fit(rec: GenerativeRecommender, train: TrainData, valid: EvalSet | None) -> None:
    """Build ``rec`` and train it (see the module docstring); leaves the trained model in eval mode and
    a summary of the run under ``rec.metrics["training"]``."""
    cfg = rec.config
    saved = _saved_identifiers(rec, train)
    if saved is not None:
        rec.item_tokenizer = saved
    token_texts, token_vectors = build_untrained(rec, train, fit_identifiers=saved is None)
    if rec.output_dir is not None and saved is None:
        save_run_identifiers(rec.item_tokenizer, rec.output_dir)
    valid = valid if valid is not None and len(valid) else None
    validate = None if valid is None else rec._validator(valid.sample(cfg.training.eval_users, cfg.seed))
    with tempfile.TemporaryDirectory(prefix="genrec-train-") as scratch:
        out = rec.output_dir if rec.output_dir is not None else Path(scratch)
        rebuild = _rebuilder(rec, token_texts, token_vectors)
        trainer = Trainer(
            rec.model,
            rec.example_builder(),
            [list(s) for s in train.sequences],
            cfg.training,
            cfg.seed,
            out,
            pad_token_id=int(rec.lm_tokenizer.pad_token_id),
            validate=validate,
            rebuild=rebuild,
        )
        rec.train_result = trainer.train()
        trained = trainer.accelerator.unwrap_model(trainer.model)
        state, confirmed = rec.train_result.state, None
        if cfg.training.confirm_users and valid is not None and not trainer.sharded:
            confirmed = _confirm_best_or_final(rec, trained, valid, out, state)
    parameters = count_parameters(trained)
    rec.model = merge_for_inference(trained)
    rec.model.eval()
    rec.metrics["training"] = _training_summary(state, parameters, confirmed)


def _saved_identifiers(rec: GenerativeRecommender, train: TrainData) -> ItemTokenizer | None:
    """The identifiers a previous run saved in ``rec.output_dir`` (a resumed run keeps them), if any."""
    if rec.output_dir is None:
        return None
    return load_run_identifiers(rec.output_dir, rec.item_tokenizer, train.num_items, rec._embed)


def _rebuilder(
    rec: GenerativeRecommender, token_texts: Any, token_vectors: Any
) -> Callable[[], torch.nn.Module]:
    """A maker of fresh, unsharded copies of the backbone: DeepSpeed / FSDP runs hand the model back so."""
    cfg = rec.config
    vocabulary = rec.item_tokenizer.vocabulary()

    def rebuild() -> torch.nn.Module:
        return build_backbone(
            cfg.backbone, vocabulary, cfg.seed, token_texts=token_texts, token_vectors=token_vectors
        )[0]

    return rebuild


def _confirm_best_or_final(
    rec: GenerativeRecommender, trained: torch.nn.Module, valid: EvalSet, out: Path, state: TrainState
) -> dict[str, Any] | None:
    """Score the best and the final weights on ``training.confirm_users`` users; ``trained`` keeps the better."""
    cfg = rec.config
    check = rec._validator(valid.sample(cfg.training.confirm_users, cfg.seed))
    averaged = cfg.training.ema_decay > 0
    return confirm_best(trained, out, state.best_step, state.step, check, averaged)


def _training_summary(state: TrainState, parameters: int, confirmed: dict[str, Any] | None) -> dict[str, Any]:
    """What ``metrics.json`` records about the training run."""
    return {
        "steps": state.step,
        "epochs": state.epoch,
        "tokens": state.tokens,
        "wall_time_s": state.elapsed_s,
        "stopped": state.stopped,
        "best_step": state.best_step,
        "parameters": parameters,
        "validation": state.history,
        "confirmed": confirmed,
    }


def validator(rec: GenerativeRecommender, subset: EvalSet) -> Validate:
    """Validation for the training loop: HR@10 and NDCG@10 of ``rec`` on ``subset``, scoring the model
    being trained through ``rec.recommend`` (the model ``rec`` holds is restored afterwards)."""
    from genrec.evaluation.evaluator import evaluate

    def validate(model: torch.nn.Module) -> dict[str, float]:
        previous, rec.model = rec.model, forward_model(model)
        try:
            metrics = evaluate(rec, subset, k_max=10, batch_size=rec.config.decoding.batch_size).metrics
        finally:
            rec.model = previous
        return {"hr@10": metrics["hr@10"], "ndcg@10": metrics["ndcg@10"]}

    return validate
