"""chainrule: fully-connected networks by backpropagation, in the Deep Learning Specialization's notation.

Examples are columns (X: (n_x, m)); params[l-1] holds W[l], b[l]; dA and dZ are per-example
derivatives of the loss L, dW and db derivatives of the cost J = (1/m) Σ L, unless the
"absorbed" convention moves the 1/m into dZ[L].
"""

from importlib import metadata as _metadata

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .gradcheck import GradCheckResult, gradient_check, params_to_vector, vector_to_params
from .layers import LayerGrads, LayerParams, linear_backward, linear_forward
from .losses import OUTPUTS
from . import datasets, explain, io, plot
from .model import (
    LayerCache,
    LayerTrace,
    ModelConfig,
    accuracy,
    backward,
    backward_per_example,
    backward_trace,
    compute_cost,
    forward,
    init_params,
    predict,
    predict_proba,
)
from .optimizers import OPTIMIZERS, adam, gd, momentum, rmsprop
from .training import EpochRecord, History, TrainingDiverged, course_mini_batches, fit, train

try:
    __version__ = _metadata.version("chainrule")
except _metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "unknown"

__all__ = [
    "ACTIVATIONS",
    "OPTIMIZERS",
    "EpochRecord",
    "History",
    "TrainingDiverged",
    "accuracy",
    "adam",
    "course_mini_batches",
    "datasets",
    "explain",
    "io",
    "plot",
    "fit",
    "gd",
    "momentum",
    "predict",
    "predict_proba",
    "rmsprop",
    "train",
    "HIDDEN_ACTIVATIONS",
    "OUTPUTS",
    "GradCheckResult",
    "LayerCache",
    "LayerGrads",
    "LayerParams",
    "LayerTrace",
    "ModelConfig",
    "backward",
    "backward_per_example",
    "backward_trace",
    "compute_cost",
    "forward",
    "gradient_check",
    "init_params",
    "linear_backward",
    "linear_forward",
    "params_to_vector",
    "vector_to_params",
]
