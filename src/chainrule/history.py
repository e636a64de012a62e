"""What training measured, epoch by epoch: one EpochRecord per epoch, a History of them.

A leaf of the package's edges: model files and pictures import it, not the training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np


class EpochRecord(NamedTuple):
    """What one epoch measured; NaN where a figure does not apply.

    cost = data_cost + l2_cost: example-weighted means over the epoch's batches, each
    computed before its update (for full-batch training, J of the parameters at the start of
    the epoch, what the course prints as "Cost after iteration e"). accuracy: the fraction of
    the epoch's examples (of labels, for a multi-label sigmoid) classified correctly in those
    same forward passes. learning_rate: the epoch's α. val_cost (the data cost, no L2) and
    val_accuracy: on the validation data, with the parameters at the end of the epoch.
    """

    epoch: int
    cost: float
    data_cost: float
    l2_cost: float
    accuracy: float
    learning_rate: float
    val_cost: float
    val_accuracy: float


@dataclass(frozen=True)
class History:
    """Per-epoch figures as arrays (one entry per epoch trained), easy to plot.

    The arrays are the fields of EpochRecord. stop_reason : "completed", "early stopping",
    "callback", "diverged", or "in progress" (a checkpoint of a run still training).
    best_epoch : the epoch early stopping chose (None without early stopping). seed : the
    seed every random draw of the run came from.
    """

    epoch: np.ndarray
    cost: np.ndarray
    data_cost: np.ndarray
    l2_cost: np.ndarray
    accuracy: np.ndarray
    learning_rate: np.ndarray
    val_cost: np.ndarray
    val_accuracy: np.ndarray
    stop_reason: str = "completed"
    best_epoch: int | None = None
    seed: int | None = None

    @classmethod
    def from_records(cls, records: Sequence[EpochRecord], **extra: Any) -> History:
        columns = {name: np.array([getattr(r, name) for r in records],
                                  dtype=np.int64 if name == "epoch" else np.float64)
                   for name in EpochRecord._fields}
        return cls(**columns, **extra)

    def then(self, later: History) -> History:
        """This history followed by a later one (a resumed run's): its arrays joined, the later
        one's stop_reason, best_epoch and seed."""
        columns = {name: np.concatenate([getattr(self, name), getattr(later, name)]) for name in EpochRecord._fields}
        return History(**columns, stop_reason=later.stop_reason, best_epoch=later.best_epoch, seed=later.seed)

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
