"""Evaluation: ranking metrics, beyond-accuracy measures and the evaluator."""
