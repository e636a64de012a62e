"""chainrule: fully-connected networks by backpropagation, in the Deep Learning Specialization's notation.

Examples are columns (X: (n_x, m)); params[l-1] holds W[l], b[l]; dA and dZ are per-example
derivatives of the loss L, dW and db derivatives of the cost J = (1/m) Σ L, unless the
"absorbed" convention moves the 1/m into dZ[L].

Two values say what to train and how: ``ModelConfig`` (the network) and ``TrainConfig``
(every training option); ``TrainState`` says where a run stands. ``fit`` trains;
``iterate`` steps one epoch at a time.
"""

from importlib import metadata as _metadata

from . import batches, callbacks, checkpoint, datasets, explain, plot, presets, testing
from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .batches import course_mini_batches
from .callbacks import EarlyStopping, TrainingDiverged
from .gradcheck import GradCheckResult, gradient_check, params_to_vector, vector_to_params
from .history import EpochRecord, History
from .layers import LayerGrads, LayerParams, linear_backward, linear_forward
from .losses import OUTPUTS
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
from .stacks import fit_stack
from .sweeps import Sweep, grid, sweep
from .training import FitResult, TrainConfig, TrainState, fit, iterate

try:
    __version__ = _metadata.version("chainrule")
except _metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "unknown"

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "OPTIMIZERS",
    "OUTPUTS",
    "EarlyStopping",
    "EpochRecord",
    "FitResult",
    "GradCheckResult",
    "History",
    "Sweep",
    "LayerCache",
    "LayerGrads",
    "LayerParams",
    "LayerTrace",
    "ModelConfig",
    "TrainConfig",
    "TrainState",
    "fit_stack",
    "TrainingDiverged",
    "accuracy",
    "adam",
    "backward",
    "backward_per_example",
    "backward_trace",
    "batches",
    "callbacks",
    "checkpoint",
    "compute_cost",
    "course_mini_batches",
    "datasets",
    "explain",
    "fit",
    "forward",
    "gd",
    "gradient_check",
    "grid",
    "init_params",
    "iterate",
    "linear_backward",
    "linear_forward",
    "momentum",
    "params_to_vector",
    "plot",
    "predict",
    "predict_proba",
    "presets",
    "rmsprop",
    "sweep",
    "testing",
    "vector_to_params",
]
