"""The training loop: one vocabulary (TrainConfig), one state (TrainState), one loop (iterate).

    for each epoch e:
        α_e = decay(α0, e)
        for each mini-batch (X_b, Y_b) of the epoch's schedule:
            AL, caches = forward(params, X_b)          (dropout masks drawn here)
            J_b = data cost of the batch + λ/(2n) Σ‖W‖²
            grads = backward(AL, Y_b, caches)           (dW includes (λ/n) W)
            params, opt_state = optimizer.update(params, grads, opt_state, α_e)
        yield TrainState(params, opt_state, e + 1), EpochRecord(e, cost, …)

``iterate`` runs that loop one epoch per step, for a caller that wants to stand between
epochs (a live page, a distributed driver, a notebook cell); ``fit`` is a short loop over it
whose policies (the divergence guard, early stopping, progress, checkpoints) are callbacks
(``chainrule.callbacks``) that see each epoch's ``(record, state)``.

The history's ``cost`` of epoch e is the example-weighted mean of the J_b, each computed
before its update: for full-batch training, J of the parameters at the start of epoch e,
which is what the course prints as "Cost after iteration e". With dropout it is the cost
of the thinned networks that were trained on.

Randomness comes from ``TrainConfig.seed``: initialisation, the shuffling of epoch e and the
dropout masks of epoch e each draw from their own stream (``chainrule.batches``), so that a
run resumed at epoch e draws what an uninterrupted run would have. The course's own draws are
options: ``init_draws``, ``batches`` and ``dropout_masks`` set to "course".
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import distributed
from ._checks import CONVENTIONS, as_matrix, check_choice, check_number, check_params, check_X, check_Y
from .batches import (
    DROPOUT_MASKS,
    INIT_STREAM,
    SCHEDULES,
    Batches,
    check_batch_size,
    dropout_rngs,
    schedule_for,
)
from .callbacks import Best, Callback, DivergenceGuard, EarlyStopping, TrainingDiverged
from .collective import together
from .history import EpochRecord, History
from .layers import LayerGrads, LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import INIT_SCHEMES, ModelConfig, check_config, count_correct, evaluate, gradients, init_params
from .optimizers import DECAYS, OPTIMIZERS, Optimizer, get_optimizer, learning_rate_schedule, new_slot
from .precision import STORED
from .resources import check_memory, training_bytes
from .workspace import Workspace, gather, make_workspace

INIT_DRAWS = ("chainrule", "course")


def _option(default: Any, help: str, **more: Any) -> Any:
    """A TrainConfig field: its default and a one-line meaning (the command line's help).

    ``more`` is what the command line reads too: ``choices``, a ``short`` flag, ``shown``
    (always shown in the line that says what will be trained) and ``resumable`` (may be given
    with ``--resume``)."""
    return field(default=default, metadata={"help": help, **more})


@dataclass(frozen=True)
class TrainConfig:
    """Every option of a training run, validated once: the one vocabulary of the library, the
    command line (``chainrule train --learning-rate …``), the model file and every adapter.

    Fields hold plain values (a model file stores them as JSON), except that ``optimizer``,
    ``decay`` and ``batches`` may also be given as functions in Python, for a schedule or
    an optimizer of your own (such a run cannot be saved to a model file).
    """

    optimizer: Any = _option("gd", "gd, momentum, rmsprop or adam", choices=tuple(OPTIMIZERS), shown=True)
    learning_rate: float = _option(0.01, "α0, the learning rate before any decay", short="--lr", shown=True)
    num_epochs: int = _option(1000, "how many epochs to train", short="--epochs", shown=True, resumable=True)
    mini_batch_size: int | None = _option(None, "examples per step; none: full batch, one step per epoch",
                                          short="--batch", shown=True)
    batches: Any = _option("shuffled", "shuffled: a fresh permutation of the examples each epoch; course: "
                           "the course's random_mini_batches (its seeds, 10 + 1 + epoch)", choices=SCHEDULES)
    beta: float | None = _option(None, "β of momentum and RMSprop (none: the optimizer's default, 0.9)")
    beta1: float | None = _option(None, "β1 of Adam (none: 0.9)")
    beta2: float | None = _option(None, "β2 of Adam (none: 0.999)")
    epsilon: float | None = _option(None, "ε of RMSprop and Adam (none: 1e-8)")
    decay: Any = _option(None, "learning-rate decay: inverse_time α0/(1 + rate·e) or stepped "
                         "α0/(1 + rate·⌊e/interval⌋); none: α0 throughout", choices=DECAYS)
    decay_rate: float = _option(1.0, "the rate of the decay")
    time_interval: int = _option(1000, "epochs per step of the stepped decay")
    lambd: float = _option(0.0, "L2 strength λ: J + λ/(2n) Σ‖W[l]‖², n the training-set size")
    keep_prob: float = _option(1.0, "inverted dropout on the hidden layers: the probability of keeping a unit")
    convention: str = _option("deferred", "where backward applies the 1/m of J: deferred (in dW and db, the "
                              "course's) or absorbed (in dZ[L])", choices=CONVENTIONS)
    init: str = _option("he", "initial weights: zeros, random (× scale), he (× √(2/n_prev)), xavier "
                        "(× √(1/n_prev)) or xavier_course (÷ √n_prev, rounded as the course's L-layer "
                        "application rounds it); biases zero", choices=INIT_SCHEMES, shown=True)
    scale: float = _option(0.01, "the factor of init random")
    init_draws: str = _option("chainrule", "where the initial weights are drawn from: chainrule, a stream "
                              "of the seed's own; course, np.random.seed(seed) then randn, W1 first, "
                              "as the course does", choices=INIT_DRAWS)
    dropout_masks: str = _option("chainrule", "where the dropout masks are drawn from: chainrule, each "
                                 "epoch a stream of the seed's own; course, np.random.seed(1) then rand per "
                                 "hidden layer at every step, as the course does (every step drops the same "
                                 "units)", choices=DROPOUT_MASKS)
    seed: int | None = _option(0, "the seed of every random draw: initialisation, shuffling, dropout "
                               "(none: a fresh one, recorded in the history)")
    patience: int | None = _option(None, "early stopping: stop after this many epochs without improvement "
                                   "(of the validation cost, or else the training cost)")
    min_delta: float = _option(0.0, "early stopping: the least decrease that counts as an improvement")
    restore_best: bool = _option(True, "early stopping: return the parameters of the best epoch")
    divergence_factor: float | None = _option(100.0, "stop as diverged when an epoch's cost exceeds this many "
                                              "times the first epoch's (none: only NaN or inf stop)")

    def __post_init__(self) -> None:
        for name, value in _validated(self).items():
            object.__setattr__(self, name, value)

    def optimizer_hyperparameters(self) -> dict[str, float]:
        """The hyperparameters given (beta, beta1, beta2, epsilon), as the optimizer takes them."""
        return {k: getattr(self, k) for k in ("beta", "beta1", "beta2", "epsilon") if getattr(self, k) is not None}


def _validated(train: TrainConfig) -> dict[str, Any]:
    """The fields of ``train``, checked (one sentence per mistake) and made plain Python numbers."""
    def number(name, what, test, integer=False, optional=False):
        value = getattr(train, name)
        if optional and value is None:
            return None
        return check_number(name, value, what, test, integer)

    checked = {
        "learning_rate": number("learning_rate", "a positive number", lambda v: v > 0),
        "num_epochs": number("num_epochs", "a non-negative integer", lambda v: v >= 0, integer=True),
        "decay_rate": number("decay_rate", "a non-negative number", lambda v: v >= 0),
        "time_interval": number("time_interval", "a positive integer", lambda v: v >= 1, integer=True),
        "lambd": number("lambd", "a non-negative number", lambda v: v >= 0),
        "keep_prob": number("keep_prob", "in (0, 1]", lambda v: 0 < v <= 1),
        "scale": number("scale", "a finite number", lambda v: True),
        "seed": number("seed", "a non-negative integer", lambda v: v >= 0, integer=True, optional=True),
        "patience": number("patience", "a positive integer", lambda v: v >= 1, integer=True, optional=True),
        "min_delta": number("min_delta", "a non-negative number", lambda v: v >= 0),
        "divergence_factor": number("divergence_factor", "a number above 1", lambda v: v > 1, optional=True),
    }
    for name in ("beta", "beta1", "beta2", "epsilon"):
        checked[name] = number(name, "a number", lambda v: True, optional=True)
    if train.mini_batch_size is not None:
        checked["mini_batch_size"] = check_batch_size(train.mini_batch_size)
    if not isinstance(train.optimizer, Optimizer):
        get_optimizer(train.optimizer, **{k: checked[k] for k in ("beta", "beta1", "beta2", "epsilon")
                                          if checked[k] is not None})      # its own clear errors
    elif any(checked[k] is not None for k in ("beta", "beta1", "beta2", "epsilon")):
        raise ValueError("hyperparameters go to the optimizer's constructor, not beside an Optimizer")
    if not callable(train.batches):
        check_choice("batches", train.batches, SCHEDULES, " (or a function (epoch, m) -> index arrays)")
    learning_rate_schedule(checked["learning_rate"], train.decay)              # refuses an unknown decay
    check_choice("convention", train.convention, CONVENTIONS)
    check_choice("init", train.init, INIT_SCHEMES)
    check_choice("init_draws", train.init_draws, INIT_DRAWS)
    check_choice("dropout_masks", train.dropout_masks, DROPOUT_MASKS)
    if train.init_draws == "course" and checked["seed"] is not None and checked["seed"] >= 2 ** 32:
        raise ValueError(f"seed must be below 2³² with init_draws 'course' (np.random.seed's range); "
                         f"got {checked['seed']}")
    if not isinstance(train.restore_best, bool):
        raise ValueError(f"restore_best must be True or False; got {train.restore_best!r}")
    return checked


class TrainState(NamedTuple):
    """Where a run stands, as one value: resume a run by passing it to ``fit`` or ``iterate``.

    params : list of LayerParams
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)).
    opt_state : the optimizer's state (GDState, MomentumState, …), or None
        None: fresh, ``optimizer.init(params)``.
    epoch : int
        The next epoch to run (the number of epochs trained so far).
    best : callbacks.Best or None
        Early stopping's memory, to resume it exactly: the lowest monitored cost so far,
        its epoch, the parameters it was measured on, and the epochs waited since.
    """

    params: list
    opt_state: Any = None
    epoch: int = 0
    best: Any = None


class FitResult(NamedTuple):
    """``fit``'s result.

    params : the trained parameters (the best epoch's when early stopping restored them).
    history : a History, one entry per epoch of this call.
    state : where training stands after the last epoch: continue with
        ``fit(config, X, Y, result.train, state=result.state)``.
    train : the run's TrainConfig (its seed chosen, if it was None).
    """

    params: list
    history: History
    state: TrainState
    train: TrainConfig


# --- setting a run up -----------------------------------------------------------------------------


def train_config(train: TrainConfig | None = None, **options: Any) -> TrainConfig:
    """``train`` (default: TrainConfig()) with ``options`` replacing some of its fields.

    >>> train_config(TrainConfig(learning_rate=0.5), num_epochs=3).num_epochs
    3
    """
    if train is None:
        train = TrainConfig()
    elif not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a chainrule.TrainConfig; got {type(train).__name__}")
    if not options:
        return train
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown training option(s) {', '.join(unknown)}; the options are the fields "
                         f"of TrainConfig: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}")
    return dataclasses.replace(train, **options)


def make_optimizer(train: TrainConfig) -> Optimizer:
    """The optimizer ``train`` names, with its hyperparameters."""
    return get_optimizer(train.optimizer, **train.optimizer_hyperparameters())


def init_state(config: ModelConfig, train: TrainConfig, dtype: Any = np.float64) -> TrainState:
    """The start of a run: ``init_params`` drawn as ``train`` says (its init, scale, init_draws
    and seed), a fresh optimizer state, epoch 0."""
    if train.seed is None:
        raise ValueError("init_state needs a seed; fit and iterate choose one when TrainConfig.seed is None")
    if train.init_draws == "course":
        rng = np.random.RandomState(train.seed)                      # np.random.seed(seed), then randn
    else:
        rng = np.random.default_rng([train.seed, INIT_STREAM])
    params = init_params(config, rng, train.init, train.scale, dtype=dtype)
    return TrainState(params, make_optimizer(train).init(params), 0)


def _checked_state(state: Any, config: ModelConfig, optimizer: Optimizer, dtype: np.dtype) -> TrainState:
    """``state`` with params of the config's shapes, an optimizer state of ``optimizer``'s kind
    and early stopping's memory, all finite and cast to ``dtype``; a clear error naming what
    does not fit."""
    if not isinstance(state, TrainState):
        raise ValueError("state must be a chainrule.TrainState(params, opt_state, epoch, best); "
                         f"got {type(state).__name__}")
    params = _checked_params("state.params", state.params, config, dtype)
    epoch = check_number("state.epoch", state.epoch, "a non-negative integer", lambda v: v >= 0, integer=True)
    fresh = optimizer.init(params)
    opt_state = fresh if state.opt_state is None else _checked_opt_state(state.opt_state, fresh, optimizer, dtype)
    best = state.best
    if best is not None:
        if not isinstance(best, Best):
            raise ValueError(f"state.best must be a chainrule.callbacks.Best or None; got {type(best).__name__}")
        best = Best(check_number("state.best.cost", best.cost, "a number", lambda v: True) if best.epoch is not None
                    else math.inf,
                    None if best.epoch is None else check_number("state.best.epoch", best.epoch,
                                                                 "a non-negative integer", lambda v: v >= 0, True),
                    _checked_params("state.best.params", best.params, config, dtype),
                    check_number("state.best.waited", best.waited, "a non-negative integer", lambda v: v >= 0, True))
    return TrainState(params, opt_state, epoch, best)


def _checked_params(name: str, params: Any, config: ModelConfig, dtype: np.dtype) -> list:
    try:
        checked = check_params(params, config.layer_dims)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return [LayerParams(W.astype(dtype), b.astype(dtype)) for W, b in checked]


def _checked_opt_state(given: Any, fresh: Any, optimizer: Optimizer, dtype: np.dtype) -> Any:
    """``given`` if it is a state of ``optimizer``'s kind with arrays of the parameters' shapes,
    finite, cast to ``dtype``."""
    if type(given) is not type(fresh):
        raise ValueError(f"state.opt_state must be the state of the {optimizer.name!r} optimizer "
                         f"({type(fresh).__name__}); got {type(given).__name__}")
    checked = {"t": check_number("state.opt_state.t", given.t, "a non-negative integer", lambda v: v >= 0, True)}
    for name in fresh._fields:
        if name == "t":
            continue
        shapes = [tuple(np.shape(a) for a in layer) for layer in getattr(fresh, name)]
        try:
            layers = [tuple(as_matrix(a, f"state.opt_state.{name}", dtype, columns="") for a in layer)
                      for layer in getattr(given, name)]
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ValueError) and "must be finite" in str(exc):
                raise
            layers = None
        if layers is None or [tuple(a.shape for a in layer) for layer in layers] != shapes:
            raise ValueError(f"state.opt_state.{name} does not have the shapes of these parameters")
        checked[name] = [LayerGrads(*layer) for layer in layers]
    return type(fresh)(**checked)


def _checked_validation(validation_data: Any, config: ModelConfig, dtype: np.dtype, name: str = "validation_data",
                        part: str = "val", empty: bool = False):
    """(X_{part}, Y_{part}) checked against the network and made ``dtype``; None stays None.
    ``empty``: no examples is allowed (a rank's share of validation data)."""
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError(f"{name} must be a pair (X_{part}, Y_{part}); got {type(validation_data).__name__}")
    X_val, Y_val = validation_data
    X_val = check_X(X_val, config.n_x, f"X_{part}", empty=empty).astype(dtype, copy=False)
    Y_val = check_Y(Y_val, config.output, config.n_y, X_val.shape[1], dtype, like=f"X_{part}", name=f"Y_{part}")
    return X_val, Y_val


# --- one epoch -----------------------------------------------------------------------------------


class Run(NamedTuple):
    """What every epoch of a run needs, checked once: the data, the step, the optimizer and the
    schedules. ``iterate`` builds it; ``run_epoch`` reads it."""

    config: ModelConfig
    train: TrainConfig
    X: np.ndarray
    Y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    step: Callable
    optimizer: Optimizer
    schedule: Batches
    rate: Callable[[int], float]
    slots: list
    loss_from_Z: Callable[[np.ndarray, np.ndarray], np.ndarray]
    users: bool                                               # the decay or the schedule is the user's function
    sharding: Any = None                                      # a distributed.Sharding: this rank's part, the sums

    @property
    def n(self) -> int:
        """The number of training examples: X's, or all the ranks' for a sharded run."""
        return self.X.shape[-1] if self.sharding is None else self.sharding.n

    @property
    def evaluate(self) -> Callable:
        """``evaluate(params, X_val, Y_val, config) -> (J, accuracy)``: on this validation data, or
        on every rank's shard of it together."""
        return evaluate if self.sharding is None else self.sharding.evaluate


def make_step(config: ModelConfig, train: TrainConfig, X: np.ndarray, Y: np.ndarray, *, n: int | None = None,
              lambd: float | None = None) -> Callable:
    """``step(params, batch, rng, m=None) -> (Y_b, model.Step)``: the gradients of one batch of (X, Y).

    Parameters
    ----------
    config : ModelConfig
    train : TrainConfig
        Its convention, keep_prob and lambd are used (L2's n is X's number of examples).
    X : (n_x, n), Y : (n_y, n)
        The checked training data, in the dtype the step computes in.
    n, lambd : optional
        L2's training-set size and λ, when not X's number of examples and ``train.lambd``:
        a shard of a distributed run gives the global n (and λ on one rank only, so that the
        sum of the ranks' shares holds (λ/n) W[l] once).

    The step takes params (params[l-1] = (W[l], b[l])), a batch (an index array of m
    examples, gathered into a buffer, or a slice, used as a view) and the dropout generator
    (None without dropout), and returns Y_b (n_y, m) and the Step: Z[L], A[L] (n_y, m) and
    [(∂J/∂W[l], ∂J/∂b[l])] of the batch's cost, the gradients views of buffers that the next
    step overwrites. ``m`` is the m of J (default: the batch's; a shard of a larger batch
    gives the global batch's, and gets its share of ∂J/∂W). One Workspace is kept per batch
    size seen (usually two: the full batches and the remainder), so a step allocates no
    array of the batch's size.
    """
    workspaces: dict[tuple[int, bool], Workspace] = {}
    n = X.shape[-1] if n is None else n
    lambd, dropout = train.lambd if lambd is None else lambd, train.keep_prob < 1

    def step(params, batch, rng, m=None):
        viewed = isinstance(batch, slice)
        if viewed:
            X_b, Y_b = X[:, batch], Y[:, batch]
            size = X_b.shape[-1]
        else:
            size = len(batch)
        ws = workspaces.get((size, viewed))
        if ws is None:
            ws = workspaces[size, viewed] = make_workspace(config.layer_dims, size, X, Y, dropout, gather=not viewed)
        if not viewed:
            X_b, Y_b = gather(X, batch, ws.X), gather(Y, batch, ws.Y)
        return Y_b, gradients(params, X_b, Y_b, config, train.convention, keep_prob=train.keep_prob, rng=rng,
                              lambd=lambd, n=n, m=m, workspace=ws)

    return step


def run_epoch(state: TrainState, run: Run, caller: dict | None = None) -> tuple[TrainState, EpochRecord]:
    """One epoch from ``state``: every batch of the epoch's schedule, one update each.

    Parameters
    ----------
    state : TrainState
        Where the run stands: its params, optimizer state and epoch e (the epoch to run).
    run : Run
        What ``iterate`` checked and built once: the data X (n_x, n), Y (n_y, n), the step,
        the optimizer and the schedules.
    caller : dict, optional
        The caller's floating-point settings (``np.geterr()``) when it already ignores
        overflow and invalid operations around its loop, as ``fit`` does, once for all
        epochs; None: the epoch does so itself.

    Returns
    -------
    (TrainState, EpochRecord)
        The state after the epoch (epoch e + 1) and what it measured. The record's cost is
        Σ_b (1/n) Σ_{i in b} L⁽ⁱ⁾ + L2, each batch's share measured before its update.

    The steps write into buffers; the parameters and optimizer state returned are new arrays,
    which later epochs never overwrite. Overflow and NaN are silenced while the epoch runs (the
    divergence guard tests the cost); an epoch whose cost becomes NaN or infinite ends at that
    batch (its record's cost says so). The user's decay and schedule functions and the
    validation figures run under the caller's floating-point settings.
    """
    if caller is None:                                         # overflow and NaN: tested for below
        caller = np.geterr()
        with np.errstate(over="ignore", invalid="ignore"):
            return run_epoch(state, run, caller)
    train, epoch, output, sharding, n = run.train, state.epoch, run.config.output, run.sharding, run.n
    if run.users:                                              # their decay or schedule: their settings
        alpha, batches = _as_caller(caller, _plan, run, epoch, n)
    else:
        alpha, batches = run.rate(epoch), run.schedule(epoch, n)
    rngs = dropout_rngs(train.seed, epoch, train.dropout_masks) if train.keep_prob < 1 else itertools.repeat(None)
    loss_from_Z, lambd = run.loss_from_Z, train.lambd
    params, opt_state, update, last = state.params, state.opt_state, run.optimizer.update, len(batches) - 1
    data_sum = l2_sum = correct = labels = 0.0
    for k, (batch, rng) in enumerate(zip(batches, rngs)):
        Y_b, (ZL, AL, grads) = run.step(params, batch, rng)
        data = float(cost_from_loss(loss_from_Z(ZL, Y_b), n))              # the batch's share of J: (1/n) Σ_b L
        right, total = count_correct(AL, Y_b, output) if output != "identity" else (0, 0)
        m_b = Y_b.shape[-1]
        if sharding is not None:                                           # Σ over ranks: the global batch's
            grads, data, right, total, m_b = sharding.reduce(grads, data, right, total, m_b)
        data_sum += data
        if lambd:
            l2_sum += m_b / n * float(l2_cost([W for W, _ in params], lambd, n))
        correct, labels = correct + right, labels + total
        if not math.isfinite(data_sum + l2_sum):
            if k > 0 and run.slots:                       # out of the slots, which the next epoch reuses
                params, opt_state = _copied(params), _copied_state(opt_state)
            break
        if run.slots:                                     # a built-in optimizer: into a slot, the last
            params, opt_state = update(params, grads, opt_state, alpha,      # step into new arrays
                                       out=None if k == last else run.slots[k % 2])
        else:                                             # someone else's optimizer may keep the grads
            grads = [LayerGrads(dW.copy(), db.copy()) for dW, db in grads]
            params, opt_state = update(params, grads, opt_state, alpha)
    val_cost = val_accuracy = math.nan
    if run.validation is not None:
        val_cost, val_accuracy = _as_caller(caller, run.evaluate, params, *run.validation, run.config)
    record = EpochRecord(epoch, data_sum + l2_sum, data_sum, l2_sum, correct / labels if labels else math.nan,
                         alpha, val_cost, val_accuracy)
    return TrainState(params, opt_state, epoch + 1, state.best), record


def _plan(run: Run, epoch: int, n: int) -> tuple[float, list]:
    """The epoch's learning rate α_e and its batches."""
    return run.rate(epoch), run.schedule(epoch, n)


def _as_caller(caller: dict, function: Callable, *args: Any) -> Any:
    """``function(*args)`` under the caller's floating-point settings: for the user's code."""
    with np.errstate(**caller):
        return function(*args)


def _copied(pairs: list) -> list:
    return [type(pair)(pair[0].copy(), pair[1].copy()) for pair in pairs]


def _copied_state(opt_state: Any) -> Any:
    """A built-in optimizer's state with its arrays copied (t is a number)."""
    return opt_state._replace(**{name: _copied(getattr(opt_state, name)) for name in opt_state._fields if name != "t"})


# --- the loop -------------------------------------------------------------------------------------


class Epochs:
    """The iterator ``iterate`` returns: each ``next()`` trains one epoch and gives ``(state,
    record)``, ``train.num_epochs`` times.

    ``state`` is where the run stands (before the first ``next()``: its start); ``train`` is
    the run's TrainConfig, its seed chosen if it was None; ``left`` the epochs still to run.
    """

    def __init__(self, run: Run, state: TrainState):
        self.run, self.state, self.left = run, state, run.train.num_epochs
        self.caller: dict | None = None              # see run_epoch: fit silences overflow once for all epochs

    @property
    def train(self) -> TrainConfig:
        return self.run.train

    def __iter__(self) -> Iterator[tuple[TrainState, EpochRecord]]:
        return self

    def __next__(self) -> tuple[TrainState, EpochRecord]:
        if self.left <= 0:
            raise StopIteration
        self.left -= 1
        self.state, record = run_epoch(self.state, self.run, self.caller)
        return self.state, record


def iterate(config: ModelConfig, X: Any, Y: Any, train: TrainConfig | None = None, state: TrainState | None = None,
            *, validation_data: tuple[Any, Any] | None = None, comm: Any = None, examples: Any = None,
            **options: Any) -> Epochs:
    """Train epoch by epoch: an iterator of ``(state, record)``, one per epoch, for
    ``train.num_epochs`` epochs.

    Parameters
    ----------
    config : ModelConfig
    X : (n_x, n), Y : (n_y, n)
        The training data, one example per column.
    train : TrainConfig, optional
    state : TrainState, optional
        Where to start (default: a new start drawn as ``train`` says).
    validation_data : (X_val (n_x, m_val), Y_val (n_y, m_val)), optional
    comm : communicator, optional
        Data-parallel training (``chainrule.distributed``): an object with mpi4py's
        ``Get_rank``, ``Get_size``, ``Allreduce`` and ``allreduce`` (``MPI.COMM_WORLD``).
        X, Y (and validation_data) are then this rank's shard, the global examples
        [offset, offset + m_k) with the ranks in order; every rank calls ``iterate`` alike and
        gets the same states and records: those of one process trained on all the data with
        the same seed, to rounding. None (the default): one process.
    examples : (m_k,) int array, optional
        With ``comm``: the global index of each of this rank's columns (increasing), when the
        ranks hold other examples than consecutive shards in rank order; given on every rank.
    **options
        Fields of TrainConfig that replace those of ``train``.

    No stopping policy runs here: the divergence guard and early stopping (``patience``,
    ``divergence_factor``) are ``fit``'s callbacks; a caller that steps the epochs itself
    decides when to stop (``chainrule.callbacks`` has the policies to call). Everything is
    checked here, once; each ``next()`` then runs ``run_epoch``.

    >>> import chainrule as cr
    >>> data = cr.datasets.planar_flower()
    >>> config, train = cr.presets.planar()
    >>> epochs = cr.iterate(config, data.X, data.Y, train)
    >>> state, record = next(epochs)
    >>> print(f"{record.cost:.6f}", state.epoch)
    0.693048 1
    """
    config = check_config(config)
    train = train_config(train, **options)
    if comm is None:
        if examples is not None:
            raise ValueError("examples says which global examples a rank holds; it goes with comm (a sharded run)")
        X, Y, validation = _checked_data(config, train, X, Y, validation_data)
        shard = None
    else:
        (X, Y, validation), shard = distributed.agree(
            comm, lambda: _checked_data(config, train, X, Y, validation_data, shard=True), _columns(X),
            examples=examples)
    if train.seed is None:
        if state is not None and getattr(state, "epoch", 0):
            raise ValueError("seed None draws a fresh seed, and a run resumed at epoch "
                             f"{state.epoch} needs its own: pass the run's TrainConfig (FitResult.train)")
        seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
        train = dataclasses.replace(train, seed=seed if comm is None else comm.allreduce(seed) % 2 ** 32)
    _check_memory(config, X, train.mini_batch_size, comm)
    optimizer = make_optimizer(train)
    state = init_state(config, train, X.dtype) if state is None else _checked_state(state, config, optimizer, X.dtype)
    slots = [new_slot(optimizer, state.params) for _ in range(2)] if optimizer.takes_out else []
    step, sharding = make_step(config, train, X, Y), None
    if shard is not None:
        sharding = distributed.Sharding(comm, shard, [a.shape for layer in state.params for a in layer],
                                        distributed.validation_size(comm, validation))
        step = sharding.step(make_step(config, train, X, Y, n=shard.n, lambd=train.lambd if shard.rank == 0 else 0.0))
    run = Run(config, train, X, Y, validation, step, optimizer,
              schedule_for(train.batches, train.mini_batch_size, train.seed, X.shape[-1] if shard is None else shard.n),
              learning_rate_schedule(train.learning_rate, train.decay, train.decay_rate, train.time_interval),
              slots, get_output(config.output).loss_from_Z, callable(train.decay) or callable(train.batches), sharding)
    return Epochs(run, state)


def _check_memory(config: ModelConfig, X: np.ndarray, b: int | None, comm: Any) -> None:
    """Refuse a run whose arrays would not fit in the memory available (on any rank, every rank)."""
    m = X.shape[-1]

    def memory():
        check_memory(training_bytes(config.layer_dims, m, b, X.dtype.itemsize),
                     f"training the network {list(config.layer_dims)} on {m} examples"
                     + (f" in mini-batches of {b}" if b is not None and b < m else "")
                     + ("" if comm is None else f" (rank {comm.Get_rank()}'s share)"),
                     "choose fewer or smaller hidden layers" + (", or smaller mini-batches" if m > 64 else ""))
    if comm is None:
        memory()
    else:                                           # one rank's shortage stops every rank
        together(comm, memory)


def _columns(X: Any) -> int:
    """The number of examples (columns) in X, as far as its shape says; -1 when it has none."""
    shape = np.shape(X)
    return shape[-1] if shape else -1


def _checked_data(config: ModelConfig, train: TrainConfig, X: Any, Y: Any, validation_data: Any,
                  shard: bool = False) -> tuple:
    """(X, Y, validation) checked against the network and the run's options (one sentence per mistake);
    ``shard``: they are a rank's share, whose validation part may be empty."""
    X = check_X(X, config.n_x)
    if X.dtype not in STORED:
        raise ValueError(f"X must be float16, float32 or float64 to train (parameters are stored in float32 or "
                         f"float64); got {X.dtype}")
    Y = check_Y(Y, config.output, config.n_y, X.shape[-1], X.dtype)
    if train.keep_prob < 1 and config.L == 1:
        raise ValueError("keep_prob < 1 drops hidden units, and this network has no hidden layer")
    return X, Y, _checked_validation(validation_data, config, X.dtype, empty=shard)


def fit(config: ModelConfig, X: Any, Y: Any, train: TrainConfig | None = None, *, state: TrainState | None = None,
        validation_data: tuple[Any, Any] | None = None, callbacks: Sequence[Callable] | None = (),
        comm: Any = None, examples: Any = None, **options: Any) -> FitResult:
    """Train a network for ``train.num_epochs`` epochs, or until a callback stops it.

    Parameters
    ----------
    config : ModelConfig
    X : (n_x, m)
        Training examples, one per column. float32 trains in float32.
    Y : (n_y, m)
        Labels: 0/1 for sigmoid, one-hot for softmax, values for identity.
    train : TrainConfig, optional
        Every training option (default: TrainConfig()).
    state : TrainState, optional
        Where to start: ``TrainState(params)`` for given initial parameters, or an earlier
        run's ``FitResult.state`` (or a model file's) to continue it exactly (default: a new
        start drawn as ``train`` says).
    validation_data : (X_val, Y_val), optional
        Measured after every epoch (val_cost, val_accuracy); early stopping watches it.
    callbacks : list of callables, optional
        Each is called as ``callback(record, state)`` after every epoch, under the caller's
        floating-point settings; training stops when any returns a true value. Objects with
        ``start(state)`` and ``finish(state) -> state`` methods have them called before the
        first epoch and after the last (``chainrule.callbacks``).
    comm : communicator, optional
        Data-parallel training over MPI (``MPI.COMM_WORLD``, or ``distributed.ThreadComm``):
        X, Y and validation_data are this rank's shard; see ``iterate``. Every rank gets the
        same result, that of one process on all the data, to rounding; the records and so
        every callback's decision are global. None (the default): one process.
    examples : (m_k,) int array, optional
        With ``comm``: the global index of each of this rank's columns; see ``iterate``.
    **options
        Fields of TrainConfig that replace those of ``train``: ``fit(config, X, Y,
        learning_rate=0.1, num_epochs=100)``.

    The divergence guard (``train.divergence_factor``) and early stopping (``train.patience``,
    ``min_delta``, ``restore_best``) run as the first callbacks.

    Returns
    -------
    FitResult
        params, history, the final state and the run's TrainConfig.

    >>> import chainrule as cr
    >>> data = cr.datasets.planar_flower()
    >>> config, train = cr.presets.planar()
    >>> result = cr.fit(config, data.X, data.Y, train, num_epochs=1001)
    >>> print(f"{result.history.cost[1000]:.6f}", result.state.epoch)
    0.288083 1001

    Raises
    ------
    TrainingDiverged
        When training diverges; it names the epoch and the learning rate, and holds the
        parameters at the start of the epoch with the lowest cost so far (``.params``) and
        the history up to there.
    """
    epochs = iterate(config, X, Y, train, state, validation_data=validation_data, comm=comm, examples=examples,
                     **options)
    train, given = epochs.train, _checked_callbacks(callbacks)
    policies = [DivergenceGuard(train.divergence_factor)]
    if train.patience is not None:
        policies.append(EarlyStopping(train.patience, train.min_delta, train.restore_best,
                                      "val_cost" if validation_data is not None else "cost"))
    everyone = [(c, getattr(c, "carry", None), c in given) for c in policies + given]
    early, caller, sharding = _early_stopping(policies + given), np.geterr(), epochs.run.sharding
    records, stop_reason, epochs.caller = [], "completed", caller
    try:
        with np.errstate(over="ignore", invalid="ignore"):     # for every epoch; the user's code runs as the caller's
            for callback, _, users in everyone:
                _hook(caller if users else None, getattr(callback, "start", _nothing), epochs.state)
            for state, record in epochs:
                records.append(record)
                if sharding is None:
                    state, stops = _after_epoch(everyone, record, state, caller)
                else:                                       # every rank learns every rank's outcome
                    state, stops = sharding.after_epoch(lambda s=state, r=record: _after_epoch(everyone, r, s, caller),
                                                        record.epoch)
                epochs.state = state
                if stops:
                    stop_reason = getattr(stops[0], "stop_reason", "callback")
                    break
            state = epochs.state
            for callback, _, users in everyone:
                state = _same(state, _hook(caller if users else None, getattr(callback, "finish", _nothing), state))
    except TrainingDiverged as exc:
        exc.history = History.from_records(records, stop_reason="diverged", seed=train.seed)
        raise
    history = History.from_records(records, stop_reason=stop_reason, seed=train.seed,
                                   best_epoch=early.best_epoch if early else None)
    return FitResult(early.final_params(state) if early else state.params, history, state, train)


def _hook(caller: dict | None, function: Callable, *args: Any) -> Any:
    """``function(*args)``; under the caller's floating-point settings when ``caller`` is given."""
    return function(*args) if caller is None else _as_caller(caller, function, *args)


def _early_stopping(callbacks: list) -> Any:
    """The one callback that chooses the parameters to return (early stopping), or None."""
    choosers = [c for c in callbacks if hasattr(c, "final_params")]
    if len(choosers) > 1:
        raise ValueError("early stopping is asked for twice: by TrainConfig.patience and in callbacks; keep one")
    return choosers[0] if choosers else None


def _after_epoch(everyone: list, record: EpochRecord, state: TrainState, caller: dict) -> tuple[TrainState, list]:
    """Call every callback (the user's under the caller's floating-point settings), each after
    the one before has carried its memory into the state; returns (the state, those that ask
    to stop)."""
    stops = []
    for callback, carry, users in everyone:
        answer = _as_caller(caller, callback, record, state) if users else callback(record, state)
        try:
            stop = bool(answer)
        except ValueError:                                  # an array of several values
            raise ValueError(f"callback {getattr(callback, '__name__', type(callback).__name__)} returned a "
                             f"{type(answer).__name__}; a callback returns a true value to stop training, "
                             f"anything false to go on") from None
        if stop:
            stops.append(callback)
        if carry is not None:                                # its memory travels with the state
            state = _same(state, carry(state))
    return state, stops


def _nothing(state: TrainState) -> None:
    return None


def _same(state: TrainState, changed: Any) -> TrainState:
    """What a hook returned, or the state it was given if it returned None."""
    return state if changed is None else changed


def _checked_callbacks(callbacks: Any) -> list:
    """The callbacks as a list, each callable as ``callback(record, state)``; a clear error otherwise."""
    try:
        listed = [callbacks] if callable(callbacks) else list(callbacks or ())
    except (TypeError, ValueError):
        listed = [callbacks]
    for callback in listed:
        if not callable(callback):
            raise ValueError("callbacks must be functions of (record, state), or a list of them; "
                             f"got {type(callback).__name__}")
        try:
            inspect.signature(callback).bind(None, None)
        except TypeError:
            raise ValueError(f"callbacks are called as callback(record, state); "
                             f"{getattr(callback, '__name__', type(callback).__name__)} cannot take those two "
                             f"arguments") from None
        except ValueError:                                    # a builtin without a signature: try it
            pass
    return listed


__all__ = ["Callback", "Epochs", "FitResult", "Run", "TrainConfig", "TrainState", "TrainingDiverged", "fit",
           "init_state", "iterate", "make_optimizer", "make_step", "run_epoch", "train_config"]
