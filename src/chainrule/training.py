"""The training loop: mini-batches, optimizers, regularisation, history, early stopping.

    for each epoch e:
        α_e = decay(α0, e)
        for each mini-batch (X_b, Y_b) of the epoch's schedule:
            AL, caches = forward(params, X_b)          (dropout masks drawn here)
            J_b = data cost of the batch + λ/(2n) Σ‖W‖²
            grads = backward(AL, Y_b, caches)           (dW includes (λ/n) W)
            params, state = optimizer.update(params, grads, state, α_e)

The history's ``cost`` of epoch e is the example-weighted mean of the J_b, each computed
before its update: for full-batch training, J of the parameters at the start of epoch e,
which is what the course prints as "Cost after iteration e". With dropout it is the cost
of the thinned networks that were trained on.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np

from .layers import LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import (
    ModelConfig,
    _backward_trace,
    _check_dropout,
    _check_l2,
    _forward,
    _fraction_correct,
    as_rng,
    check_config,
    init_params,
)
from .optimizers import Optimizer, get_optimizer, inverse_time_decay, stepped_decay
from .validation import check_convention, check_params, check_X, check_Y

Batches = Callable[[int, int], Iterable[np.ndarray]]


class EpochRecord(NamedTuple):
    """What one epoch measured; NaN where a figure does not apply.

    cost = data_cost + l2_cost: example-weighted means over the epoch's batches, each
    computed before its update. accuracy: the fraction of the epoch's examples classified
    correctly in those same forward passes. val_cost (the data cost, no L2) and
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

    ``stop_reason`` is "completed", "early stopping" or "callback"; ``best_epoch`` is the
    epoch early stopping kept (None without early stopping).
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

    @classmethod
    def from_records(cls, records: Sequence[EpochRecord], **extra: Any) -> "History":
        columns = {name: np.array([getattr(r, name) for r in records],
                                  dtype=np.int64 if name == "epoch" else np.float64)
                   for name in EpochRecord._fields}
        return cls(**columns, **extra)

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TrainingDiverged(ValueError):
    """Training diverged. ``params``: those of the lowest-cost epoch so far (finite, good)."""

    def __init__(self, message: str, epoch: int, params: list, history: History):
        super().__init__(message)
        self.epoch = epoch
        self.params = params
        self.history = history


# --- mini-batch schedules --------------------------------------------------------------------


def full_batch() -> Batches:
    """One batch of all m examples per epoch, in order (one step per epoch)."""
    return lambda epoch, m: [slice(None)]


def shuffled_batches(mini_batch_size: int, rng: Any) -> Batches:
    """Each epoch a new permutation of the m examples from ``rng``, cut into batches of the
    given size; the last batch holds the remainder."""
    rng = as_rng(rng)
    _check_batch_size(mini_batch_size)

    def schedule(epoch: int, m: int) -> list[np.ndarray]:
        permutation = rng.permutation(m)
        return [permutation[k:k + mini_batch_size] for k in range(0, m, mini_batch_size)]

    return schedule


def course_mini_batches(mini_batch_size: int, seed: int = 10) -> Batches:
    """The course's ``random_mini_batches`` as a schedule, seed incremented before each epoch.

    Epoch e (from 0) does ``np.random.seed(seed + 1 + e); permutation(m)`` with its own
    legacy RandomState, and cuts the shuffled examples into full batches of
    ``mini_batch_size`` followed by the remainder: the Optimization assignment's batches,
    exactly, without touching NumPy's global generator.
    """
    _check_batch_size(mini_batch_size)

    def schedule(epoch: int, m: int) -> list[np.ndarray]:
        permutation = np.random.RandomState(seed + 1 + epoch).permutation(m)
        return [permutation[k:k + mini_batch_size] for k in range(0, m, mini_batch_size)]

    return schedule


def _check_batch_size(mini_batch_size: Any) -> None:
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, numbers.Integral) or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer or None; got {mini_batch_size!r}")


# --- learning rate ----------------------------------------------------------------------------


def _learning_rate_schedule(learning_rate, decay, decay_rate, time_interval) -> Callable[[int], float]:
    if decay is None:
        return lambda epoch: learning_rate
    if decay == "inverse_time":
        return lambda epoch: inverse_time_decay(learning_rate, decay_rate, epoch)
    if decay == "stepped":
        return lambda epoch: stepped_decay(learning_rate, decay_rate, epoch, time_interval)
    if callable(decay):
        return lambda epoch: decay(learning_rate, epoch)
    raise ValueError(f"decay must be None, 'inverse_time', 'stepped' or a function (lr0, epoch) -> lr; got {decay!r}")


def _positive(name: str, value: Any, integral: bool = False) -> None:
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value < np.inf:
        raise ValueError(f"{name} must be a positive {'integer' if integral else 'number'}; got {value!r}")


# --- the loop ---------------------------------------------------------------------------------


class TrainResult(NamedTuple):
    """fit's result: params, history, and the optimizer and its state (to save and resume)."""

    params: list
    history: History
    optimizer: Optimizer
    optimizer_state: Any


def fit(
    config: ModelConfig,
    X: Any,
    Y: Any,
    *,
    params: Sequence[LayerParams] | None = None,
    init: str = "he",
    scale: float = 0.01,
    seed: int | None = 0,
    rng: Any = None,
    optimizer: str | Optimizer = "gd",
    learning_rate: float = 0.01,
    num_epochs: int = 1000,
    mini_batch_size: int | None = None,
    beta: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    decay: str | Callable | None = None,
    decay_rate: float = 1.0,
    time_interval: int = 1000,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    convention: str = "deferred",
    validation_data: tuple[Any, Any] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    callbacks: Sequence[Callable[[EpochRecord], Any]] = (),
    batches: Batches | None = None,
    optimizer_state: Any = None,
    start_epoch: int = 0,
    divergence_factor: float | None = 100.0,
) -> "TrainResult":
    """Train a network by mini-batch gradient descent or one of its refinements.

    ``fit`` returns a TrainResult (params, history, optimizer, optimizer_state);
    ``train`` takes the same arguments and returns (params, history).

    Parameters
    ----------
    config : ModelConfig
    X : (n_x, m)
        Training examples, one per column. float32 trains in float32.
    Y : (n_y, m)
        Labels: 0/1 for sigmoid, one-hot for softmax, values for identity.
    params : list of (W, b), optional
        Where to start; else ``init_params(config, rng, init, scale)``.
    init, scale :
        The initialisation scheme ("he", "xavier", "random", "zeros") and the "random" scale.
    seed, rng :
        ``rng`` (a Generator or legacy RandomState) drives initialisation, shuffling and
        dropout masks; without it, ``numpy.random.default_rng(seed)``.
    optimizer : "gd", "momentum", "rmsprop", "adam", or an Optimizer
    learning_rate : float
        α0, before decay.
    num_epochs : int
        Passes over the training set.
    mini_batch_size : int or None
        None: full batch, one step per epoch. Else shuffled batches of this size.
    beta, beta1, beta2, epsilon : optional
        The optimizer's hyperparameters (momentum and RMSprop: beta; Adam: beta1, beta2;
        RMSprop and Adam: epsilon); the optimizer's defaults when None.
    decay : None, "inverse_time", "stepped" or a function (lr0, epoch) -> lr
        Learning-rate decay by epoch: α0 / (1 + decay_rate · epoch), or
        α0 / (1 + decay_rate · ⌊epoch / time_interval⌋).
    lambd : float
        L2 strength λ; the penalty is λ/(2n) Σ‖W‖² with n the training-set size.
    keep_prob : float
        Inverted dropout on the hidden layers when below 1.
    convention : "deferred" or "absorbed"
        Where backward puts the 1/m; the trajectory is the same up to rounding.
    validation_data : (X_val, Y_val), optional
        Measured at the end of every epoch (val_cost, val_accuracy).
    patience, min_delta, restore_best :
        Early stopping: stop when the monitored cost (val_cost with validation data, else
        cost) has not fallen by more than min_delta for ``patience`` epochs, and return the
        best parameters when ``restore_best``.
    callbacks : functions of an EpochRecord
        Called after every epoch; one that returns True ends training cleanly.
    batches : function (epoch, m) -> index arrays, optional
        A mini-batch schedule (e.g. ``course_mini_batches(64)``) that replaces the
        shuffling of ``mini_batch_size``, so that someone else's batches are reproduced.
    optimizer_state, start_epoch :
        To resume: the state returned by an earlier run, and the epoch to count from.
    divergence_factor : float or None
        Training stops as diverged when an epoch's cost exceeds this many times the first
        epoch's (a learning rate too large sends it up, not down), or when the cost or the
        parameters become NaN or infinite. None keeps only the NaN/inf test.

    Returns
    -------
    TrainResult
        params (list of LayerParams), history (History), the optimizer and its state.

    Raises
    ------
    TrainingDiverged
        When training diverges (see ``divergence_factor``); it names the epoch and the
        learning rate, and holds the good parameters of the epoch with the lowest cost so
        far (``.params``) and the history so far.
    """
    o = SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("config", "X", "Y")})
    check_config(config)
    X = check_X(X, config.n_x)
    m = X.shape[1]
    Y = check_Y(Y, config.output, config.n_y, m, X.dtype)
    check_convention(o.convention)
    lambd, n = _check_l2(o.lambd, None, m)
    rng = as_rng(o.rng) if o.rng is not None else as_rng(0 if o.seed is None else o.seed)
    keep_prob, _, _ = _check_dropout(o.keep_prob, rng, None, config, m)
    _positive("learning_rate", o.learning_rate)
    if isinstance(o.num_epochs, bool) or not isinstance(o.num_epochs, numbers.Integral) or o.num_epochs < 0:
        raise ValueError(f"num_epochs must be a non-negative integer; got {o.num_epochs!r}")
    if o.patience is not None:
        _positive("patience", o.patience, integral=True)
    if o.validation_data is not None:
        try:
            X_val, Y_val = o.validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a pair (X_val, Y_val)") from None
        X_val = check_X(X_val, config.n_x).astype(X.dtype, copy=False)
        Y_val = check_Y(Y_val, config.output, config.n_y, X_val.shape[1], X.dtype)

    if o.params is None:
        params = init_params(config, rng, o.init, o.scale, dtype=X.dtype)
    else:
        params = [LayerParams(W.astype(X.dtype), b.astype(X.dtype))
                  for W, b in check_params(o.params, config.layer_dims)]
    hyper = {k: v for k, v in (("beta", o.beta), ("beta1", o.beta1), ("beta2", o.beta2),
                               ("epsilon", o.epsilon)) if v is not None}
    optimizer = get_optimizer(o.optimizer, **hyper)
    state = optimizer.init(params) if o.optimizer_state is None else o.optimizer_state
    if o.batches is not None:
        schedule = o.batches
    elif o.mini_batch_size is None or o.mini_batch_size >= m:
        schedule = full_batch()
    else:
        schedule = shuffled_batches(o.mini_batch_size, rng)
    learning_rate_at = _learning_rate_schedule(o.learning_rate, o.decay, o.decay_rate, o.time_interval)
    loss_from_Z = get_output(config.output).loss_from_Z
    classifies = config.output != "identity"

    if o.divergence_factor is not None:
        _positive("divergence_factor", o.divergence_factor)
    records: list[EpochRecord] = []
    best = (np.inf, None, None)                      # (monitored cost, epoch, params)
    good = (np.inf, None, params)                    # (cost, epoch, params at its start): kept on divergence

    def diverged(epoch: int, alpha: float, what: str) -> TrainingDiverged:
        cost, good_epoch, good_params = good
        kept = (f"the parameters of epoch {good_epoch} (cost {cost:.6g}) are kept"
                if good_epoch is not None else "the initial parameters are kept")
        return TrainingDiverged(
            f"training diverged: {what} in epoch {epoch} with learning rate {alpha:g}; "
            f"try a smaller learning rate. {kept[0].upper()}{kept[1:]}.",
            epoch, good_params, History.from_records(records, stop_reason="diverged"))

    stop_reason, waited = "completed", 0
    for epoch in range(o.start_epoch, o.start_epoch + o.num_epochs):
        alpha = learning_rate_at(epoch)
        start_params = params
        sums = np.zeros(3)                           # Σ m_b·J_data, Σ m_b·J_l2, Σ correct
        seen = 0
        for idx in schedule(epoch, m):
            X_b, Y_b = X[:, idx], Y[:, idx]
            m_b = X_b.shape[1]
            if m_b == 0:
                continue
            with np.errstate(over="ignore", invalid="ignore"):    # divergence is tested for below
                AL, caches = _forward(params, X_b, config, keep_prob, rng)
                J_data = float(cost_from_loss(loss_from_Z(caches[-1].Z, Y_b)))
                J_l2 = float(l2_cost([W for W, _ in params], lambd, n)) if lambd else 0.0
                if not np.isfinite(J_data + J_l2):
                    raise diverged(epoch, alpha, f"the cost became {J_data + J_l2}")
                grads = _backward_trace(AL, Y_b, caches, config, o.convention, need_dX=False, lambd=lambd, n=n)
                params, state = optimizer.update(params, grads, state, alpha)
            sums += (m_b * J_data, m_b * J_l2, m_b * _fraction_correct(AL, Y_b, config.output) if classifies else 0)
            seen += m_b
        if seen != m:
            raise ValueError(f"the mini-batch schedule covered {seen} examples in epoch {epoch}; expected m = {m}")
        if not all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in params):
            raise diverged(epoch, alpha, "the parameters became NaN or infinite")
        val_cost = val_accuracy = np.nan
        if o.validation_data is not None:
            AL_val, caches_val = _forward(params, X_val, config)
            val_cost = float(cost_from_loss(loss_from_Z(caches_val[-1].Z, Y_val)))
            val_accuracy = _fraction_correct(AL_val, Y_val, config.output) if classifies else np.nan
        data_cost, l2_part, correct = sums / m
        record = EpochRecord(epoch, data_cost + l2_part, data_cost, l2_part,
                             correct if classifies else np.nan, alpha, val_cost, val_accuracy)
        if o.divergence_factor is not None and records and record.cost > o.divergence_factor * records[0].cost:
            raise diverged(epoch, alpha, f"the cost rose from {records[0].cost:.6g} to {record.cost:.6g}")
        if record.cost < good[0]:
            good = (record.cost, epoch, start_params)
        records.append(record)

        if o.patience is not None:
            monitored, kept = (val_cost, params) if o.validation_data is not None else (record.cost, start_params)
            if monitored < best[0] - o.min_delta:
                best, waited = (monitored, epoch, kept), 0
            else:
                waited += 1
        if any(callback(record) is True for callback in o.callbacks):
            stop_reason = "callback"
            break
        if o.patience is not None and waited >= o.patience:
            stop_reason = "early stopping"
            break

    best_epoch = None
    if o.patience is not None and best[1] is not None:
        best_epoch = best[1]
        if o.restore_best:
            params = best[2]
    history = History.from_records(records, stop_reason=stop_reason, best_epoch=best_epoch)
    return TrainResult(params, history, optimizer, state)


@functools.wraps(fit)
def train(config: ModelConfig, X: Any, Y: Any, **options: Any) -> tuple[list[LayerParams], History]:
    result = fit(config, X, Y, **options)
    return result.params, result.history


train.__doc__ = "Train a network; returns (params, history). The arguments are fit's.\n\n" + (fit.__doc__ or "")
