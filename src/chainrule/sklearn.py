"""scikit-learn estimators: ``DNNClassifier`` and ``DNNRegressor``.

    DNNClassifier(hidden_layers=(100,), optimizer="adam", learning_rate=0.001, num_epochs=200, …).fit(X, y)

Their parameters are the network's (``hidden_layers``, ``hidden_activation`` and, for the
classifier, ``output``) and every field of ``TrainConfig``, with ``TrainConfig``'s own
defaults: the signature is generated from the fields, so the estimators, the library, the
command line and the model file speak one vocabulary. X is (n_samples, n_features), as in
scikit-learn; ``_columns`` turns it into chainrule's (n_x, m) in the one place the layout
flips. Fitted, an estimator holds ``config_`` (ModelConfig), ``train_`` (TrainConfig),
``params_``, ``state_`` (to continue), ``history_`` (the whole History) and, as
scikit-learn's MLP does, ``loss_curve_`` and ``n_iter_``.

``partial_fit`` trains one more epoch from the stored state (``warm_start=True`` makes
``fit`` continue too), so a run split into calls ends bit for bit where one run ends.
Estimators pickle (scikit-learn's way to store them, which runs code when loaded: load only
pickles you trust); ``save(path)`` writes chainrule's own model file instead, which holds
only arrays and JSON and is read back by ``chainrule.checkpoint.load``, ``chainrule
summary``, ``chainrule predict`` and ``chainrule export``.

Needs scikit-learn ≥ 1.6 (``pip install 'chainrule[sklearn]'``).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:                                          # pragma: no cover
    raise ImportError("chainrule.sklearn needs scikit-learn ≥ 1.6: pip install 'chainrule[sklearn]'") from exc

from .model import ModelConfig, forward
from .training import TrainConfig, fit

__all__ = ["DNNClassifier", "DNNRegressor"]

TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
NETWORK_DEFAULTS = {"hidden_layers": (100,), "hidden_activation": "relu"}


def _signature(network: dict[str, Any], extra: dict[str, Any]) -> inspect.Signature:
    """``__init__(self, *, <network>, <every TrainConfig field>, <extra>)``, each with its default."""
    defaults = {**network, **{f.name: f.default for f in dataclasses.fields(TrainConfig)}, **extra}
    return inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                              *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                                for name, value in defaults.items())])


def _init_from(signature: inspect.Signature):
    """An ``__init__`` that stores each parameter as given (scikit-learn's rule: no checks here)."""
    def __init__(self, **params: Any) -> None:
        bound = signature.bind(self, **params)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)
    __init__.__signature__ = signature
    return __init__


def _columns(X: np.ndarray) -> np.ndarray:
    """(n_samples, n_features) → chainrule's (n_x, m): examples as columns. The one flip of the layout.

    A view: each example stays contiguous, so a mini-batch gathers whole rows of memory."""
    return X.T


class _DNN(BaseEstimator):
    """What the classifier and the regressor share: the configs, fit, partial_fit, save."""

    _output: str | None = None

    def _configs(self, n_x: int, n_y: int, output: str) -> tuple[ModelConfig, TrainConfig]:
        hidden = self.hidden_layers
        hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
        config = ModelConfig([n_x, *hidden, n_y], self.hidden_activation, output)
        train = TrainConfig(**{name: getattr(self, name) for name in TRAIN_FIELDS})
        return config, train

    def _train(self, X: np.ndarray, Y: np.ndarray, output: str, more: int | None) -> _DNN:
        """Train on X (n_samples, n_x) and Y (n_y, m): anew, or ``more`` epochs from the stored state."""
        config, train = self._configs(X.shape[1], Y.shape[0], output)
        state = None
        if more is not None or (self.warm_start and hasattr(self, "state_")):
            if hasattr(self, "state_"):
                if self.config_ != config:
                    raise ValueError(f"the stored network is {list(self.config_.layer_dims)} "
                                     f"({self.config_.hidden_activation}, {self.config_.output}); continuing needs the "
                                     f"same, and these settings and data give {list(config.layer_dims)} "
                                     f"({config.hidden_activation}, {config.output})")
                state = self.state_
            if more is not None:
                train = dataclasses.replace(train, num_epochs=more)
        result = fit(config, _columns(X), Y, train, state=state)
        before = self.history_ if state is not None else None
        self.config_, self.train_, self.params_, self.state_ = config, train, result.params, result.state
        self.history_ = before.then(result.history) if before is not None else result.history
        self.loss_curve_ = self.history_.cost.tolist()
        self.n_iter_ = len(self.history_)
        return self

    def _dtype(self, continuing: bool) -> Any:
        """float32 data trains in float32 and anything else in float64 (as MLPClassifier does); a
        run that continues keeps its parameters' dtype."""
        return self.params_[0].W.dtype if continuing else (np.float64, np.float32)

    def _output_layer(self, X: Any) -> np.ndarray:
        """A[L]ᵀ (n_samples, n_y) for X (n_samples, n_features)."""
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=self.params_[0].W.dtype)
        AL, _ = forward(self.params_, _columns(X), self.config_)
        return AL.T

    def save(self, path: Any) -> Any:
        """chainrule's model file of the fitted network: its config, parameters, TrainConfig,
        state, history, feature names and classes (safe to load: arrays and JSON only)."""
        from .checkpoint import SavedModel, save

        check_is_fitted(self, "params_")
        names = tuple(str(n) for n in getattr(self, "feature_names_in_", ()))
        classes = tuple(str(c) for c in getattr(self, "classes_", ()))
        train = self.train_ if not any(callable(getattr(self.train_, n)) for n in ("optimizer", "decay", "batches")) \
            else None
        return save(path, SavedModel(self.config_, self.params_, train, self.state_ if train else None,
                                     self.history_, None, names, classes))


class DNNClassifier(ClassifierMixin, _DNN):
    """A fully-connected classifier trained by chainrule: two classes with a sigmoid unit (or
    a softmax pair with ``output="softmax"``), more with softmax. Labels of any type.

    Parameters: ``hidden_layers`` (sizes, default (100,)), ``hidden_activation`` (default
    "relu"), ``output`` (None: sigmoid for two classes, softmax for more), and every field
    of ``chainrule.TrainConfig`` with its default (``optimizer``, ``learning_rate``,
    ``num_epochs``, ``mini_batch_size``, ``lambd``, ``keep_prob``, ``seed``, …), and
    ``warm_start`` (False).

    Attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (given a DataFrame),
    ``config_``, ``train_``, ``params_``, ``state_``, ``history_``, ``loss_curve_``, ``n_iter_``.
    """

    __init__ = _init_from(_signature({**NETWORK_DEFAULTS, "output": None}, {"warm_start": False}))

    def fit(self, X: Any, y: Any) -> DNNClassifier:
        """Train on X (n_samples, n_features) and y (n_samples,) labels; anew unless ``warm_start``."""
        X, y = validate_data(self, X, y, reset=not (self.warm_start and hasattr(self, "state_")),
                             dtype=self._dtype(self.warm_start and hasattr(self, "state_")))
        return self._fit_labels(X, y, None, None)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> DNNClassifier:
        """One more epoch on (X, y) from the stored state (the first call starts one: give
        ``classes``, every label the data may hold)."""
        first = not hasattr(self, "state_")
        X, y = validate_data(self, X, y, reset=first, dtype=self._dtype(not first))
        if first and classes is None:
            raise ValueError("classes must be given to the first partial_fit: every label the data may hold")
        return self._fit_labels(X, y, classes if first else self.classes_, 1)

    def _fit_labels(self, X: np.ndarray, y: np.ndarray, classes: Any, more: int | None) -> DNNClassifier:
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"y must hold one label per sample; got {type_of_target(y)} targets")
        classes = np.unique(y) if classes is None else np.asarray(classes)
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise ValueError(f"y holds labels that are not in classes: {unknown[:5].tolist()}")
        if classes.size < 2:
            raise ValueError(f"a classifier needs at least two classes in y; got one class, {classes.tolist()}")
        output = self.output or ("sigmoid" if classes.size == 2 else "softmax")
        if output not in ("sigmoid", "softmax") or (output == "sigmoid" and classes.size > 2):
            raise ValueError(f"output must be None, 'sigmoid' (two classes) or 'softmax'; got {self.output!r} for "
                             f"{classes.size} classes")
        index = np.searchsorted(classes, y)
        Y = index[None, :].astype(X.dtype) if output == "sigmoid" else np.eye(classes.size, dtype=X.dtype)[index].T
        self.classes_ = classes
        return self._train(X, Y, output, more)

    def predict_proba(self, X: Any) -> np.ndarray:
        """P(class k | x): (n_samples, n_classes), columns in the order of ``classes_``."""
        A = self._output_layer(X)
        return np.hstack([1 - A, A]) if self.config_.output == "sigmoid" else A

    def predict(self, X: Any) -> np.ndarray:
        """The class of each sample: sigmoid A[L] > 0.5 (the course's rule), softmax the largest A[L]_k."""
        A = self._output_layer(X)
        index = (A[:, 0] > 0.5).astype(int) if self.config_.output == "sigmoid" else np.argmax(A, axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class DNNRegressor(RegressorMixin, _DNN):
    """A fully-connected regressor trained by chainrule: an identity output with the squared
    error ½‖ŷ − y‖² per example; y (n_samples,) or (n_samples, n_outputs).

    Parameters: ``hidden_layers`` (default (100,)), ``hidden_activation`` (default "relu"),
    every field of ``chainrule.TrainConfig`` with its default, and ``warm_start`` (False).
    Attributes as ``DNNClassifier``'s, without ``classes_``.
    """

    __init__ = _init_from(_signature(NETWORK_DEFAULTS, {"warm_start": False}))

    def fit(self, X: Any, y: Any) -> DNNRegressor:
        """Train on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_outputs)."""
        X, y = validate_data(self, X, y, reset=not (self.warm_start and hasattr(self, "state_")),
                             dtype=self._dtype(self.warm_start and hasattr(self, "state_")),
                             multi_output=True, y_numeric=True)
        return self._fit_values(X, y, None)

    def partial_fit(self, X: Any, y: Any) -> DNNRegressor:
        """One more epoch on (X, y) from the stored state (the first call starts one)."""
        X, y = validate_data(self, X, y, reset=not hasattr(self, "state_"), dtype=self._dtype(hasattr(self, "state_")),
                             multi_output=True,
                             y_numeric=True)
        return self._fit_values(X, y, 1)

    def _fit_values(self, X: np.ndarray, y: np.ndarray, more: int | None) -> DNNRegressor:
        y = np.asarray(y, dtype=X.dtype)
        self._y_1d = y.ndim == 1
        return self._train(X, np.atleast_2d(y.T) if y.ndim == 1 else np.ascontiguousarray(y.T), "identity", more)

    def predict(self, X: Any) -> np.ndarray:
        """A[L]: (n_samples,) for a 1-D y, (n_samples, n_outputs) otherwise."""
        A = self._output_layer(X)
        return A[:, 0] if self._y_1d else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

