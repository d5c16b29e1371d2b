"""Datasets: the item catalogue, user sequences, loaders and the leave-one-out split."""

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData
from genrec.data.registry import DATASETS, load_dataset
from genrec.data.split import EvalSet, LeaveOneOutSplit, TrainData, leave_one_out

__all__ = [
    "DATASETS",
    "Catalogue",
    "EvalSet",
    "InteractionData",
    "LeaveOneOutSplit",
    "TrainData",
    "leave_one_out",
    "load_dataset",
]
