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

Randomness comes from one seed. Initialisation, the shuffling of epoch e and the dropout
masks of epoch e each draw from their own stream, ``default_rng([seed, stream, e])``, so
that a run resumed at epoch e (same seed) draws what an uninterrupted run would have.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np

from . import fastpath
from .layers import LayerGrads, LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import (
    ModelConfig,
    _backward_trace,
    _check_dropout,
    _check_l2,
    _forward,
    _fraction_correct,
    check_config,
    init_params,
)
from .optimizers import Optimizer, get_optimizer, inverse_time_decay, stepped_decay
from .validation import all_finite, as_rng, check_convention, check_number, check_params, check_X, check_Y

Batches = Callable[[int, int], Iterable[Any]]  # (epoch, m) -> index arrays or slices
INIT_STREAM, SHUFFLE_STREAM, DROPOUT_STREAM = 0, 1, 2


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

    stop_reason : "completed", "early stopping", "callback" or "diverged".
    best_epoch : the epoch early stopping chose (None without early stopping).
    seed : the seed every random draw of the run came from (to reproduce or resume it).
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
    """Training diverged.

    ``params`` are those at the start of the epoch with the lowest cost so far (finite, and
    the best the run reached), ``history`` the epochs before the divergence, ``epoch`` the
    epoch where it was seen, ``reason`` the message without the sentence on what is kept.
    """

    def __init__(self, reason: str, kept: str, epoch: int, params: list, history: History):
        super().__init__(f"{reason} {kept}")
        self.reason = reason
        self.epoch = epoch
        self.params = params
        self.history = history


class TrainResult(NamedTuple):
    """fit's result: params, history, and the optimizer and its state after the last epoch."""

    params: list
    history: History
    optimizer: Optimizer
    optimizer_state: Any


# --- mini-batch schedules --------------------------------------------------------------------


def epoch_rng(seed: int, stream: int, epoch: int) -> np.random.Generator:
    """The generator of one stream (shuffling, dropout) in one epoch of a run with ``seed``."""
    return np.random.default_rng([seed, stream, epoch])


def _checked(schedule: Batches) -> Batches:
    """Mark a schedule of this module's as known to use every example once (no per-epoch check)."""
    schedule.uses_every_example_once = True
    return schedule


def full_batch() -> Batches:
    """One batch of all m examples per epoch, in order (one step per epoch)."""
    return _checked(lambda epoch, m: [slice(None)])


def _cut(permutation: np.ndarray, mini_batch_size: int) -> list[np.ndarray]:
    """Full batches of ``mini_batch_size`` from the permutation's start, then the remainder."""
    return [permutation[k:k + mini_batch_size] for k in range(0, len(permutation), mini_batch_size)]


def shuffled_batches(mini_batch_size: int, seed: int) -> Batches:
    """Each epoch e a permutation of the m examples from ``epoch_rng(seed, SHUFFLE_STREAM, e)``,
    cut into batches of the given size; the last batch holds the remainder."""
    _check_batch_size(mini_batch_size)
    return _checked(lambda epoch, m: _cut(epoch_rng(seed, SHUFFLE_STREAM, epoch).permutation(m), mini_batch_size))


def course_mini_batches(mini_batch_size: int, seed: int = 10) -> Batches:
    """The course's ``random_mini_batches`` as a schedule, seed incremented before each epoch.

    Epoch e (from 0) does ``np.random.seed(seed + 1 + e); permutation(m)`` with its own
    legacy RandomState, and cuts the shuffled examples into full batches of
    ``mini_batch_size`` followed by the remainder: the Optimization assignment's batches,
    exactly, without touching NumPy's global generator.
    """
    _check_batch_size(mini_batch_size)
    return _checked(lambda epoch, m: _cut(np.random.RandomState(seed + 1 + epoch).permutation(m), mini_batch_size))


def _check_batch_size(mini_batch_size: Any) -> int:
    return check_number("mini_batch_size", mini_batch_size, "a positive integer or None",
                        lambda v: v >= 1, integer=True)


def _epoch_batches(schedule: Batches, epoch: int, m: int) -> list:
    """The epoch's batches from ``schedule``, checked to use every example exactly once."""
    everything = np.arange(m)
    try:
        batches = list(schedule(epoch, m))
    except TypeError as exc:
        raise ValueError(f"the mini-batch schedule must be a function (epoch, m) returning index "
                         f"arrays; calling it failed: {exc}") from None
    used = []
    for batch in batches:
        try:
            indices = everything[batch]
        except (IndexError, TypeError, ValueError):
            raise ValueError(f"the mini-batch schedule gave {batch!r:.60} in epoch {epoch}; expected "
                             f"integer index arrays or slices of 0 … {m - 1}") from None
        if indices.ndim != 1:
            raise ValueError(f"the mini-batch schedule gave a batch of shape {indices.shape} in epoch "
                             f"{epoch}; expected 1-D index arrays")
        used.append(indices)
    counts = np.bincount(np.concatenate(used or [np.zeros(0, np.int64)]), minlength=m)
    if not np.all(counts == 1):
        i = int(np.argmax(counts != 1))
        raise ValueError(f"the mini-batch schedule must use every example once per epoch; in epoch "
                         f"{epoch} example {i} is used {counts[i]} times")
    return [b if isinstance(b, slice) else u for b, u in zip(batches, used) if len(u)]


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


def _checked_rate(alpha: Any, epoch: int) -> float:
    """The epoch's learning rate as a float (so float32 stays float32), if it is a positive
    finite number; else a clear error (a decay function may give anything)."""
    if type(alpha) is float and 0 < alpha < math.inf:        # the usual case, tested quickly
        return alpha
    try:
        return check_number("α", alpha, "a positive number", lambda v: v > 0)
    except ValueError:
        raise ValueError(f"the learning-rate decay gave α = {alpha!r} for epoch {epoch}; "
                         f"expected a positive number") from None


# --- the pieces of fit ------------------------------------------------------------------------


def _check_optimizer_state(state: Any, fresh: Any, optimizer: Optimizer, dtype: np.dtype) -> Any:
    """``state`` if it is the kind ``optimizer.init`` makes, with the same shapes, cast to ``dtype``."""
    if type(state) is not type(fresh):
        raise ValueError(f"optimizer_state must be the state of the {optimizer.name!r} optimizer, a "
                         f"{type(fresh).__name__}; got {type(state).__name__}")
    checked = {}
    for name in fresh._fields:
        if name == "t":
            checked[name] = check_number("optimizer_state.t", state.t, "a non-negative integer",
                                         lambda v: v >= 0, integer=True)
            continue
        given, expected = getattr(state, name), getattr(fresh, name)
        if len(given) != len(expected) or any(np.shape(a) != np.shape(e) for g, f in zip(given, expected)
                                              for a, e in zip(g, f)):
            raise ValueError(f"optimizer_state.{name} does not have the shapes of these parameters")
        checked[name] = [LayerGrads(*(np.asarray(a, dtype=dtype) for a in g)) for g in given]
    return type(fresh)(**checked)


def _reference_step(config: ModelConfig, convention: str, keep_prob: float, lambd: float, n: int) -> Callable:
    """``fastpath.make_step``'s step computed by the model's forward and backward, new arrays each time."""

    def step(params, X, Y, batch, rng) -> fastpath.StepResult:
        X_b, Y_b = X[:, batch], Y[:, batch]
        AL, caches = _forward(params, X_b, config, keep_prob, rng)
        trace = _backward_trace(AL, Y_b, caches, config, convention, need_dX=False, lambd=lambd, n=n)
        return fastpath.StepResult(Y_b, caches[-1].Z, AL, [LayerGrads(t.dW, t.db) for t in trace])

    return step


class _Best(NamedTuple):
    """A cost, the epoch it was measured in, and the parameters it was measured on."""

    cost: float
    epoch: int | None
    params: list


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
    callbacks: Callable | Sequence[Callable[[EpochRecord], Any]] = (),
    batches: Batches | None = None,
    optimizer_state: Any = None,
    start_epoch: int = 0,
    divergence_factor: float | None = 100.0,
    engine: str = "fast",
) -> TrainResult:
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
        Where to start; else ``init_params(config, …, init, scale)``.
    init, scale :
        The initialisation scheme ("he", "xavier", "random", "zeros") and the "random" scale.
    seed, rng :
        Every random draw (initialisation, shuffling, dropout) comes from ``seed`` (see the
        module's docstring). None draws a fresh seed; ``rng`` (a Generator or RandomState),
        when given, provides the seed instead. ``history.seed`` records the one used.
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
        Learning-rate decay by epoch: epoch e trains with α0 / (1 + decay_rate · e), or
        α0 / (1 + decay_rate · ⌊e / time_interval⌋). (The course's Optimization notebook
        updates α after epoch e, so its epoch e uses the rate of e − 1; pass a function
        to reproduce that.)
    lambd : float
        L2 strength λ; the penalty is λ/(2n) Σ‖W‖² with n the training-set size.
    keep_prob : float
        Inverted dropout on the hidden layers when below 1.
    convention : "deferred" or "absorbed"
        Where backward puts the 1/m; the trajectory is the same up to rounding.
    validation_data : (X_val, Y_val), optional
        Measured at the end of every epoch (val_cost, val_accuracy).
    patience, min_delta, restore_best :
        Early stopping: stop when the monitored cost has not fallen by more than min_delta
        for ``patience`` epochs, and return the best parameters when ``restore_best``. The
        monitored cost is val_cost (of the parameters at the end of the epoch) with
        validation data, else the epoch's training cost (of the parameters at its start,
        exactly so for full batches; with mini-batches the epoch's mean).
    callbacks : a function of an EpochRecord, or a list of them (None: none)
        All are called after every epoch, under the caller's floating-point error settings;
        if any returns a true value, training ends cleanly.
    batches : function (epoch, m) -> index arrays or slices, optional
        A mini-batch schedule (e.g. ``course_mini_batches(64)``) that replaces the
        shuffling of ``mini_batch_size``, so that someone else's batches are reproduced.
        Each epoch must use every example exactly once.
    optimizer_state, start_epoch :
        To resume: the state of an earlier run (``fit``'s optimizer_state, which is the
        state after its last epoch) and the epoch to count from. With the same seed the
        resumed run draws the batches and masks an uninterrupted one would.
    divergence_factor : float or None
        Training stops as diverged when an epoch's cost exceeds this many times the first
        epoch's (a learning rate too large sends it up, not down), or when the cost or the
        parameters become NaN or infinite. None keeps only the NaN/inf test.
    engine : "fast" or "reference"
        How each step is computed. "fast" (``fastpath``) writes every quantity into buffers
        allocated once; "reference" calls the model's forward and backward, which build new
        arrays as the equations read. They give the same gradients to rounding.

    Returns
    -------
    TrainResult
        params (list of LayerParams), history (History), the optimizer and its state.

    Raises
    ------
    TrainingDiverged
        When training diverges; it names the epoch and the learning rate, and holds the
        parameters at the start of the epoch with the lowest cost so far (``.params``).
    """
    # --- the arguments
    check_config(config)
    X = check_X(X, config.n_x)
    m = X.shape[1]
    Y = check_Y(Y, config.output, config.n_y, m, X.dtype)
    check_convention(convention)
    lambd, n = _check_l2(lambd, None, m)
    learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
    check_number("num_epochs", num_epochs, "a non-negative integer", lambda v: v >= 0, integer=True)
    check_number("start_epoch", start_epoch, "a non-negative integer", lambda v: v >= 0, integer=True)
    decay_rate = check_number("decay_rate", decay_rate, "a non-negative number", lambda v: v >= 0)
    check_number("time_interval", time_interval, "a positive integer", lambda v: v >= 1, integer=True)
    min_delta = check_number("min_delta", min_delta, "a non-negative number", lambda v: v >= 0)
    if patience is not None:
        check_number("patience", patience, "a positive integer", lambda v: v >= 1, integer=True)
    if divergence_factor is not None:
        divergence_factor = check_number("divergence_factor", divergence_factor, "a number above 1", lambda v: v > 1)
    if mini_batch_size is not None:
        _check_batch_size(mini_batch_size)
    if engine not in ("fast", "reference"):
        raise ValueError(f"engine must be 'fast' or 'reference'; got {engine!r}")
    if not isinstance(restore_best, bool):
        raise ValueError(f"restore_best must be True or False; got {restore_best!r}")
    try:
        callbacks = [callbacks] if callable(callbacks) else list(callbacks or ())
    except (TypeError, ValueError):
        callbacks = [None]
    if not all(callable(c) for c in callbacks):
        raise ValueError("callbacks must be a function of an EpochRecord, or a list of them")
    keep_prob, _, _ = _check_dropout(keep_prob, 0, None, config, m)   # (0: any rng, to check keep_prob)
    if keep_prob < 1 and config.L == 1:
        raise ValueError("keep_prob < 1 drops hidden units, and this network has no hidden layer")
    if validation_data is not None:
        try:
            X_val, Y_val = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a pair (X_val, Y_val)") from None
        X_val = check_X(X_val, config.n_x, "X_val").astype(X.dtype, copy=False)
        Y_val = check_Y(Y_val, config.output, config.n_y, X_val.shape[1], X.dtype, like="X_val", name="Y_val")

    # --- the start
    if rng is not None:
        rng = as_rng(rng)
        seed = int(rng.integers(2 ** 63) if isinstance(rng, np.random.Generator) else rng.randint(2 ** 31))
    elif seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
    else:
        seed = check_number("seed", seed, "a non-negative integer", lambda v: v >= 0, integer=True)
    if params is None:
        params = init_params(config, np.random.default_rng([seed, INIT_STREAM]), init, scale, dtype=X.dtype)
    else:
        params = [LayerParams(W.astype(X.dtype), b.astype(X.dtype))
                  for W, b in check_params(params, config.layer_dims)]
    hyper = {k: v for k, v in (("beta", beta), ("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon))
             if v is not None}
    # the fast step reuses its gradient arrays: an optimizer from outside (which might keep them) gets copies
    copy_grads = engine == "fast" and not isinstance(optimizer, str)
    optimizer = get_optimizer(optimizer, **hyper)
    state = optimizer.init(params)
    if optimizer_state is not None:
        state = _check_optimizer_state(optimizer_state, state, optimizer, X.dtype)
    if batches is not None:
        schedule = batches
    elif mini_batch_size is None or mini_batch_size >= m:
        schedule = full_batch()
    else:
        schedule = shuffled_batches(mini_batch_size, seed)
    learning_rate_at = _learning_rate_schedule(learning_rate, decay, decay_rate, time_interval)
    loss_from_Z = get_output(config.output).loss_from_Z
    classifies = config.output != "identity"
    if engine == "fast":
        step = fastpath.make_step(config, convention, keep_prob, lambd, n)
    else:
        step = _reference_step(config, convention, keep_prob, lambd, n)

    # --- the epochs
    records: list[EpochRecord] = []
    best = _Best(np.inf, None, params)              # early stopping's choice
    good = _Best(np.inf, None, params)              # kept if training diverges
    stop_reason, waited = "completed", 0

    def diverged(epoch: int, alpha: float, what: str) -> TrainingDiverged:
        kept = (f"The parameters of epoch {good.epoch} (cost {good.cost:.6g}) are kept."
                if good.epoch is not None else "The initial parameters are kept.")
        return TrainingDiverged(
            f"training diverged: {what} in epoch {epoch} with learning rate {alpha:g}; "
            f"try a smaller learning rate.", kept,
            epoch, good.params, History.from_records(records, stop_reason="diverged", seed=seed))

    trusted = getattr(schedule, "uses_every_example_once", False)
    outside = np.geterr()                           # for the user's code: decay, schedule, callbacks
    with np.errstate(over="ignore", invalid="ignore"):   # overflow and NaN: divergence is tested for below
        for epoch in range(start_epoch, start_epoch + num_epochs):
            if callable(decay):
                with np.errstate(**outside):
                    alpha = learning_rate_at(epoch)
            else:
                alpha = learning_rate_at(epoch)
            alpha = _checked_rate(alpha, epoch)
            dropout_rng = epoch_rng(seed, DROPOUT_STREAM, epoch) if keep_prob < 1 else None
            start_params = params
            data_sum = l2_sum = correct = 0.0            # Σ m_b·J_data, Σ m_b·J_l2, Σ m_b·accuracy
            if trusted:
                batches = schedule(epoch, m)
            else:
                with np.errstate(**outside):
                    batches = _epoch_batches(schedule, epoch, m)
            for batch in batches:
                Y_b, ZL, AL, grads = step(params, X, Y, batch, dropout_rng)
                J_data = float(cost_from_loss(loss_from_Z(ZL, Y_b)))
                J_l2 = float(l2_cost([W for W, _ in params], lambd, n)) if lambd else 0.0
                if not math.isfinite(J_data + J_l2):
                    raise diverged(epoch, alpha, f"the cost became {J_data + J_l2}")
                m_b = Y_b.shape[1]
                data_sum += m_b * J_data
                l2_sum += m_b * J_l2
                if classifies:
                    correct += m_b * _fraction_correct(AL, Y_b, config.output)
                if copy_grads:
                    grads = [LayerGrads(dW.copy(), db.copy()) for dW, db in grads]
                params, state = optimizer.update(params, grads, state, alpha)
            cost = (data_sum + l2_sum) / m
            if divergence_factor is not None and records and cost > divergence_factor * records[0].cost:
                raise diverged(epoch, alpha, f"the cost rose from {records[0].cost:.6g} to {cost:.6g}")
            if cost < good.cost:
                good = _Best(cost, epoch, start_params)

            val_cost = val_accuracy = np.nan
            if validation_data is not None:
                with np.errstate(**outside):
                    AL_val, caches_val = _forward(params, X_val, config)
                    val_cost = float(cost_from_loss(loss_from_Z(caches_val[-1].Z, Y_val)))
                val_accuracy = _fraction_correct(AL_val, Y_val, config.output) if classifies else np.nan
            record = EpochRecord(epoch, cost, data_sum / m, l2_sum / m, correct / m if classifies else np.nan,
                                 alpha, val_cost, val_accuracy)
            records.append(record)

            if patience is not None:
                monitored, measured_on = (val_cost, params) if validation_data is not None else (cost, start_params)
                if monitored < best.cost - min_delta:
                    best, waited = _Best(monitored, epoch, measured_on), 0
                else:
                    waited += 1
            if callbacks:
                with np.errstate(**outside):
                    answers = [bool(callback(record)) for callback in callbacks]   # (every one is called)
                if any(answers):
                    stop_reason = "callback"
                    break
            if patience is not None and waited >= patience:
                stop_reason = "early stopping"
                break

    if patience is not None and best.epoch is not None and restore_best:
        params = best.params
    if records and not all_finite(*(p for layer in params for p in layer)):
        # (earlier epochs need no such test: the next batch's cost would be NaN or infinite)
        raise diverged(records[-1].epoch, records[-1].learning_rate, "the parameters became NaN or infinite")
    history = History.from_records(records, stop_reason=stop_reason, seed=seed,
                                   best_epoch=best.epoch if patience is not None else None)
    return TrainResult(params, history, optimizer, state)


def train(config: ModelConfig, X: Any, Y: Any, **options: Any) -> tuple[list[LayerParams], History]:
    result = fit(config, X, Y, **options)
    return result.params, result.history


train.__doc__ = "Train a network; returns (params, history). The arguments are fit's.\n\n" + (fit.__doc__ or "")
train.__signature__ = inspect.signature(fit).replace(return_annotation="tuple[list[LayerParams], History]")


# --- comparing the conventions ----------------------------------------------------------------


class ComparisonRow(NamedTuple):
    """At one epoch: the largest |difference| from the deferred run in J and in each W[l].

    ``absorbed_J``, ``absorbed_W`` (one per layer) compare the absorbed run; the
    ``per_example_*`` fields compare the per-example reference run (NaN when not run).
    """

    epoch: int
    J: float
    absorbed_J: float
    absorbed_W: tuple[float, ...]
    per_example_J: float
    per_example_W: tuple[float, ...]


def compare_conventions(
    config: ModelConfig,
    X: Any,
    Y: Any,
    params: Sequence[LayerParams],
    learning_rate: float,
    num_epochs: int,
    milestones: Sequence[int],
    per_example: bool = True,
) -> list[ComparisonRow]:
    """Train one network three ways from the same start and measure how far apart they drift.

    Full-batch gradient descent with the gradients of "deferred" (1/m in dW, db), of
    "absorbed" (1/m in dZ[L]), and, when ``per_example``, of ``backward_per_example`` (the
    mean of m single-example gradients). At each milestone epoch (the parameters after that
    many steps) the largest absolute difference from the deferred run in J and in every
    W[l]: rounding, at most a few ulps per step, compounding slowly; a misplaced 1/m would
    show as a factor of m at once.
    """
    from .model import backward_per_example       # the slow reference, used only here

    check_config(config)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], X.dtype)
    learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
    check_number("num_epochs", num_epochs, "a non-negative integer", lambda v: v >= 0, integer=True)
    start = [LayerParams(W.astype(X.dtype), b.astype(X.dtype)) for W, b in check_params(params, config.layer_dims)]
    loss_from_Z = get_output(config.output).loss_from_Z
    runs = {"deferred": start, "absorbed": start, **({"per_example": start} if per_example else {})}

    def cost(params) -> float:
        _, caches = _forward(params, X, config)
        return float(cost_from_loss(loss_from_Z(caches[-1].Z, Y)))

    def step(name, params):
        if name == "per_example":
            grads = backward_per_example(params, X, Y, config)
        else:
            AL, caches = _forward(params, X, config)
            grads = _backward_trace(AL, Y, caches, config, name, need_dX=False)
        return [LayerParams(p.W - learning_rate * g.dW, p.b - learning_rate * g.db) for p, g in zip(params, grads)]

    rows, wanted = [], sorted({int(e) for e in milestones if 0 <= e <= num_epochs})
    for epoch in range(num_epochs + 1):
        if epoch in wanted:
            J = {name: cost(p) for name, p in runs.items()}

            def gaps(name):
                if name not in runs:
                    return np.nan, (np.nan,) * config.L
                return (abs(J[name] - J["deferred"]),
                        tuple(float(np.max(np.abs(p.W - q.W))) for p, q in zip(runs[name], runs["deferred"])))

            rows.append(ComparisonRow(epoch, J["deferred"], *gaps("absorbed"), *gaps("per_example")))
        if epoch < num_epochs:
            runs = {name: step(name, p) for name, p in runs.items()}
    return rows
