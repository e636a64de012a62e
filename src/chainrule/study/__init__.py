"""Studies that answer a learner's question by measurement.

``precision``: is deferring the 1/m of J = (1/m) Σ L about numerical stability? It measures
dW, db in float16, bfloat16, float32 and float64 with the 1/m placed each way, against the
exact backward of the same stored forward pass (``study.formats``, ``study.emulate``).
"""

from . import emulate, formats
from .precision_study import PrecisionStudy, Row, TrainingRun, precision, train_in_format

__all__ = ["PrecisionStudy", "Row", "TrainingRun", "emulate", "formats", "precision", "train_in_format"]
