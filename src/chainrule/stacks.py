"""Many networks at once: K networks of one shape, trained together along a leading axis.

    fit_stack(config, X, Y, trains)    [FitResult, …]: one per TrainConfig, as fit gives it

The networks of a stack share every training option but those of ``PER_NETWORK``: each has
its own learning rate, decay rate, L2 strength, optimizer hyperparameters (β of momentum and
RMSprop, β1, β2 of Adam, ε), dropout keep_prob and seed (so its own initial weights,
shuffles and dropout masks: the draws it makes alone). What they share includes the
optimizer, the batch size and schedule, the number of epochs, the initialisation scheme and
the convention (deferred or absorbed): a sweep over those trains one stack per value.

Every step runs the K networks' forward and backward as one stack (``np.matmul`` over the
leading axis, into buffers kept across steps) and the optimizer on the stacked parameters,
with each per-network option a (K, 1, 1) array (a number where all networks share it). Each
network gets, bit for bit, the parameters and history ``fit`` gives it alone
(tests/test_stacks.py). The figures of the history are computed for the whole stack at once,
(K,) arrays per epoch, and become each network's History at the end.

A network whose cost becomes NaN or infinite, or exceeds ``divergence_factor`` times its
first epoch's, stops there: its history ends with that epoch (stop reason "diverged") and
its parameters and optimizer state stay those it had before it. Early stopping (``patience``, on the training
cost, or the validation cost with validation data) stops each network where ``fit`` stops
it, and returns what ``fit`` returns. A network that stops leaves the stack (its arrays
are compacted away), so the others go on without computing it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_X, check_Y
from .batches import dropout_rngs, schedule_for
from .callbacks import EarlyStopping
from .history import EpochRecord, History
from .layers import LayerGrads, LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import ModelConfig, _backward_trace, _forward, check_config, count_correct, evaluate
from .optimizers import OPTIMIZERS, Optimizer, inverse_time_decay, learning_rate_schedule, stepped_decay
from .training import (
    FitResult,
    TrainConfig,
    TrainState,
    _checked_validation,
    init_state,
    iterate,
    make_optimizer,
    run_epoch,
)
from .workspace import LayerBuffers, Workspace

PER_NETWORK = ("learning_rate", "decay_rate", "lambd", "seed", "beta", "beta1", "beta2", "epsilon", "keep_prob")


def _check_trains(trains: Any) -> list[TrainConfig]:
    """The stack's TrainConfigs: at least one, seeds given, alike but in PER_NETWORK."""
    trains = list(trains) if isinstance(trains, Sequence) else trains
    if not isinstance(trains, list) or not trains or not all(isinstance(t, TrainConfig) for t in trains):
        raise ValueError("trains must be a non-empty list of chainrule.TrainConfig, one per network")
    shared = {f.name for f in dataclasses.fields(TrainConfig)} - set(PER_NETWORK)
    for name in sorted(shared):
        values = {repr(getattr(t, name)) for t in trains}
        if len(values) > 1:
            raise ValueError(f"the networks of a stack may differ only in {', '.join(PER_NETWORK)}; they differ in "
                             f"{name} ({', '.join(sorted(values))}): train those in separate stacks")
    if any(t.seed is None for t in trains):
        raise ValueError("every network of a stack needs its seed (TrainConfig.seed); got None")
    if callable(trains[0].decay) or callable(trains[0].batches):
        raise ValueError("a stack takes the named decays and schedules only, not functions")
    return trains


class Networks(NamedTuple):
    """The options of each network in the stack, each (K,) float64 (``optimizer``: those of the
    named optimizer, by name, a None given as the optimizer's default), and ``ids``, each
    network's place in ``trains``. ``keep(mask)`` gives those of the networks that go on."""

    ids: np.ndarray
    learning_rate: np.ndarray
    decay_rate: np.ndarray
    lambd: np.ndarray
    keep_prob: np.ndarray
    optimizer: dict

    @classmethod
    def of(cls, trains: list[TrainConfig]) -> Networks:
        def column(name):
            return np.array([getattr(t, name) for t in trains], dtype=np.float64)
        hyper = {}
        if not isinstance(trains[0].optimizer, Optimizer):
            defaults = inspect.signature(OPTIMIZERS[trains[0].optimizer]).parameters
            hyper = {name: np.array([p.default if getattr(t, name) is None else getattr(t, name) for t in trains],
                                    dtype=np.float64) for name, p in defaults.items()}
        return cls(np.arange(len(trains)), column("learning_rate"), column("decay_rate"), column("lambd"),
                   column("keep_prob"), hyper)

    def keep(self, mask: np.ndarray) -> Networks:
        return Networks(*(a[mask] for a in self[:5]), {name: a[mask] for name, a in self.optimizer.items()})


def _per_network(values: np.ndarray) -> Any:
    """A (K,) option as the stack's arithmetic takes it: the number when all networks share it (each
    then computes exactly as alone), else a (K, 1, 1) array that broadcasts over each network's arrays."""
    return float(values[0]) if np.all(values == values[0]) else values.reshape(-1, 1, 1)


def _optimizer(train: TrainConfig, networks: Networks) -> Optimizer:
    """The stack's optimizer: the one ``train`` names, with each network's hyperparameters."""
    if not networks.optimizer:
        return make_optimizer(train)
    return OPTIMIZERS[train.optimizer](**{name: _per_network(v) for name, v in networks.optimizer.items()})


def _workspace(layer_dims: Sequence[int], K: int, m: int, X: np.ndarray, Y: np.ndarray, dropout: bool,
               gather: bool) -> Workspace:
    """``workspace.make_workspace``'s buffers for a stack of K networks: each (K, rows, columns),
    each network's batch laid out as ``fit`` lays it out (columns contiguous where X's are)."""
    dtype, L = X.dtype, len(layer_dims) - 1

    def empty(n, dt=dtype):
        return np.empty((K, n, m), dt)

    def batch(data):                                             # (K, rows, m), like fit's gathered batch
        columns = data.flags.f_contiguous and not data.flags.c_contiguous
        return np.swapaxes(np.empty((K, m, len(data)), dtype), 1, 2) if columns else empty(len(data))

    layers = []
    for l in range(1, L + 1):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        hidden, drops = l < L, dropout and l < L
        layers.append(LayerBuffers(
            Z=empty(n), A=empty(n), A_kept=empty(n) if drops else None, D=empty(n) if drops else None,
            U=empty(n, np.float64) if drops else None, dA=empty(n) if hidden else None,
            dA_kept=empty(n) if drops else None, dZ=empty(n), dZ_mean=empty(n) if m < n_prev else None,
            dW=np.empty((K, n, n_prev), dtype), db=np.empty((K, n, 1), dtype)))
    return Workspace(batch(X) if gather else None, batch(Y) if gather else None, tuple(layers),
                     [LayerGrads(b.dW, b.db) for b in layers])


def _gather(data: np.ndarray, batches: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[k] ← data[:, batches[k]]: each network's batch, data (rows, n), batches (K, m)."""
    if out.flags.c_contiguous:
        np.take(data, batches, axis=1, out=np.swapaxes(out, 0, 1), mode="wrap")
    else:                                                        # columns contiguous: whole examples
        np.take(data.T, batches, axis=0, out=np.swapaxes(out, 1, 2), mode="wrap")
    return out


def _pairs(pairs: list, index: Any) -> list:
    """The pairs (W, b) or (dW, db) of a stack, indexed along the stack's axis (an int: a view of one)."""
    return [type(pair)(*(a[index] for a in pair)) for pair in pairs]


def _copies(pairs: list) -> list:
    return [type(pair)(*(a.copy() for a in pair)) for pair in pairs]


def _opt_state(opt_state: Any, index: Any, copy: bool = False) -> Any:
    """The optimizer state of some networks of the stack (index: an int, or a mask; ``copy``: its
    arrays copied); the step count t is shared."""
    def part(pairs):
        return _copies(_pairs(pairs, index)) if copy else _pairs(pairs, index)
    return opt_state._replace(**{name: part(getattr(opt_state, name)) for name in opt_state._fields if name != "t"})


FIGURES = EpochRecord._fields[1:]                   # what an epoch measures (epoch, its number, aside)


def fit_stack(config: ModelConfig, X: Any, Y: Any, trains: Sequence[TrainConfig], *,
              validation_data: tuple[Any, Any] | None = None) -> list[FitResult]:
    """Train K networks of ``config`` together, network k as ``trains[k]`` says.

    Parameters
    ----------
    config : ModelConfig
    X : (n_x, n), Y : (n_y, n)
        The training data, shared by every network.
    trains : list of K TrainConfig
        Alike but in PER_NETWORK (learning_rate, decay_rate, lambd, seed, beta, beta1, beta2,
        epsilon, keep_prob), each seed given.
    validation_data : (X_val (n_x, m_val), Y_val (n_y, m_val)), optional
        Measured for every network after every epoch (val_cost, val_accuracy); early
        stopping then watches val_cost, as in ``fit``.

    Returns
    -------
    list of FitResult
        Network k's params, history, state and TrainConfig: what ``fit(config, X, Y,
        trains[k])`` returns (for a network that diverges, where ``fit`` raises: see above).
    """
    config = check_config(config)
    trains = _check_trains(trains)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[-1], X.dtype)
    if config.L == 1 and any(t.keep_prob < 1 for t in trains):
        raise ValueError("keep_prob < 1 drops hidden units, and this network has no hidden layer")
    validation = _checked_validation(validation_data, config, X.dtype)
    shared, K, epochs = trains[0], len(trains), trains[0].num_epochs
    starts = [init_state(config, t, X.dtype) for t in trains]
    params = ([LayerParams(*(np.stack(a) for a in zip(*layer))) for layer in zip(*(s.params for s in starts))]
              if K > 1 else starts[0].params)            # a stack of one: its network's own 2-D arrays, as fit's
    places = range(K) if K > 1 else [...]               # where network i is along the stack's axis
    networks = Networks.of(trains)
    opt_state = _optimizer(shared, networks).init(params)
    ends: list[tuple | None] = [None] * K                        # (params, opt_state, epochs, reason) where k ended
    monitor = "val_cost" if validation is not None else "cost"
    early = ([EarlyStopping(shared.patience, shared.min_delta, shared.restore_best, monitor) for _ in trains]
             if shared.patience is not None else None)
    for k, stopper in enumerate(early or ()):
        stopper.start(starts[k])
    epoch = Epoch(config, shared, X, Y, trains)
    epoch.use(networks)
    log = [(networks.ids, [])]                  # the figures (len(FIGURES), K) of each epoch, with their networks
    with np.errstate(over="ignore", invalid="ignore"):
        for e in range(epochs):
            before = params, opt_state          # every step makes new arrays: views of a past epoch stay valid
            params, opt_state, measured = epoch(e, params, opt_state)
            if validation is not None:                        # each network's figures after the epoch
                measured[-2:] = np.reshape(evaluate(params, *validation, config), (2, -1))
            log[-1][1].append(measured)
            cost = measured[0]
            if e == 0:                          # NaN, inf, or above factor × the first cost diverges (fit's guard)
                factor = shared.divergence_factor
                limit = np.minimum(np.where(cost > 0, (factor or np.inf) * cost, np.inf), np.finfo(float).max)
            calm = cost <= limit
            if early is None and calm.all():
                continue
            stops, diverged = ~calm, ~calm
            for i, k in enumerate(networks.ids if early is not None else ()):
                if calm[i]:
                    record = EpochRecord(e, *(float(v) for v in measured[:, i]))
                    stops[i] = early[k](record, TrainState(_pairs(params, places[i]), None, e + 1))
            if stops.any():                                   # they leave the stack, which goes on without them
                for i in np.flatnonzero(stops):
                    (kept, kept_opt), reason = (before, "diverged") if diverged[i] else ((params, opt_state),
                                                                                         EarlyStopping.stop_reason)
                    ends[networks.ids[i]] = (_copies(_pairs(kept, places[i])),
                                             _opt_state(kept_opt, places[i], copy=True), e + 1, reason)
                if stops.all():
                    break
                go_on = ~stops
                params, opt_state = _pairs(params, go_on), _opt_state(opt_state, go_on)
                networks, places, limit = networks.keep(go_on), range(np.count_nonzero(go_on)), limit[go_on]
                log.append((networks.ids, []))
                epoch.use(networks)
    for i, k in enumerate(networks.ids):
        if ends[k] is None:
            ends[k] = (_copies(_pairs(params, places[i])), _opt_state(opt_state, places[i], copy=True), epochs,
                       "completed")
    return _results(trains, ends, log, early, epochs)


def _results(trains: Sequence[TrainConfig], ends: list, log: list, early: list | None, epochs: int) -> list[FitResult]:
    """Each network's FitResult: where it ended (``ends[k]`` = (params, optimizer state, epochs,
    stop reason)), its figures from the ``log`` of the stacks it was part of ((network ids,
    [(len(FIGURES), K') per epoch]) per stack), and its early stopping's best parameters."""
    figures, start = np.full((len(FIGURES), len(trains), epochs), np.nan), 0    # each network's history
    for ids, measured in log:
        if measured:
            figures[:, ids, start:start + len(measured)] = np.stack(measured, axis=-1)
            start += len(measured)
    results = []
    for k, train in enumerate(trains):
        network, opt_state_k, length, reason = ends[k]
        state = TrainState(network, opt_state_k, length)
        best_epoch = None
        if early is not None and reason != "diverged":
            state = early[k].finish(state)
            best_epoch = early[k].best_epoch
            network = _copies(early[k].final_params(state))
        columns = {name: figures[j, k, :length].copy() for j, name in enumerate(FIGURES)}
        history = History(np.arange(length), **columns, stop_reason=reason, best_epoch=best_epoch, seed=train.seed)
        results.append(FitResult(network, history, state, train))
    return results


class Epoch:
    """One epoch of every network of a stack, for ``fit_stack``: ``epoch(e, params, opt_state)``
    → (params, opt_state, figures (len(FIGURES), K)), each network's, as ``fit`` measures them.

    Keeps what stays from epoch to epoch: the data, each network's schedule (by its seed), and,
    set by ``use(networks)`` for the networks in the stack (again when some leave it), their
    options as the arithmetic takes them (``_per_network``), the optimizer and buffers for each
    batch size. A stack of one (its network's own 2-D arrays) runs ``fit``'s epoch itself,
    ``training.run_epoch``.
    """

    def __init__(self, config: ModelConfig, shared: TrainConfig, X: np.ndarray, Y: np.ndarray,
                 trains: list[TrainConfig]):
        self.config, self.shared, self.X, self.Y, self.n = config, shared, X, Y, X.shape[-1]
        self.full = shared.mini_batch_size is None or shared.mini_batch_size >= self.n
        self.schedules = [schedule_for(t.batches, t.mini_batch_size, t.seed, self.n) for t in trains]
        self.seeds = [t.seed for t in trains]
        self.loss_from_Z = get_output(config.output).loss_from_Z
        self.train, self.caller = trains[0], np.geterr()
        self.run: Any = None

    def use(self, networks: Networks) -> None:
        """Train these networks from now on."""
        self.networks, self.optimizer = networks, _optimizer(self.shared, networks)
        self.keep_prob, self.dropout = _per_network(networks.keep_prob), bool(np.any(networks.keep_prob < 1))
        self.penalised = networks.lambd > 0                    # fit adds no L2 term where λ = 0
        self.l2 = bool(self.penalised.any())
        self.lambd = _per_network(networks.lambd) if self.l2 else 0.0
        self.alphas = self.rates(0) if self.shared.decay is None else None     # α0 throughout
        self.workspaces: dict[int, Workspace] = {}             # by batch size

    def rates(self, e: int) -> np.ndarray:
        """α_e of each network (K,): its schedule's, computed for all at once."""
        decay, lr, rate = self.shared.decay, self.networks.learning_rate, self.networks.decay_rate
        if decay == "inverse_time":
            alphas = inverse_time_decay(lr, rate, e)
        elif decay == "stepped":
            alphas = stepped_decay(lr, rate, e, self.shared.time_interval)
        else:
            alphas = lr
        if not np.all((alphas > 0) & (alphas < np.inf)):      # the schedule says what is wrong
            for a, r in zip(lr.tolist(), rate.tolist()):
                learning_rate_schedule(a, decay, r, self.shared.time_interval)(e)
        return alphas

    def batch(self, batches: tuple, K: int) -> tuple[np.ndarray, np.ndarray, Workspace]:
        """(X_b, Y_b, buffers) of a step: the data itself for full batches, else each network's
        examples gathered, (K, n_x, m) and (K, n_y, m)."""
        X, Y, full = self.X, self.Y, isinstance(batches[0], slice)
        m = self.n if full else len(batches[0])
        ws = self.workspaces.get(m)
        if ws is None:
            ws = self.workspaces[m] = _workspace(self.config.layer_dims, K, m, X, Y, self.dropout, not full)
        if full:
            return X, Y, ws
        index = np.stack(batches)
        return _gather(X, index, ws.X), _gather(Y, index, ws.Y), ws

    def __call__(self, e: int, params: list, opt_state: Any) -> tuple[list, Any, np.ndarray]:
        if params[0].W.ndim == 2:                              # one network alone: fit's epoch
            if self.run is None:
                self.run = iterate(self.config, self.X, self.Y, self.train, TrainState(params, opt_state)).run
            state, record = run_epoch(TrainState(params, opt_state, e), self.run, self.caller)
            return state.params, state.opt_state, np.array(record[1:])[:, np.newaxis]
        config, shared, n, networks = self.config, self.shared, self.n, self.networks
        ids = networks.ids.tolist()
        K = len(ids)
        alphas = self.alphas if self.alphas is not None else self.rates(e)
        rate = alphas.reshape(-1, 1, 1)
        plans = [(slice(None),)] if self.full else list(zip(*(self.schedules[k](e, n) for k in ids)))
        streams = ([dropout_rngs(self.seeds[k], e, shared.dropout_masks) if p < 1 else None
                    for k, p in zip(ids, networks.keep_prob.tolist())] if self.dropout else None)
        data_sum, l2_sum, correct, labels = sums = np.zeros((4, K))
        live: Any = True                       # fit ends an epoch at its first non-finite cost: so do its figures
        for j, batches in enumerate(plans):
            X_b, Y_b, ws = self.batch(batches, K)
            rng = None if streams is None else [s and next(s) for s in streams]
            AL, caches = _forward(params, X_b, config, self.keep_prob, rng, workspace=ws)
            grads = _backward_trace(AL, Y_b, caches, config, shared.convention, True, False, self.lambd, n,
                                    workspace=ws, keep=False)
            np.add(data_sum, cost_from_loss(self.loss_from_Z(caches[-1].Z, Y_b), n), out=data_sum, where=live)
            if self.l2:
                l2 = Y_b.shape[-1] / n * l2_cost([W for W, _ in params], networks.lambd, n)
                np.add(l2_sum, l2, out=l2_sum, where=live & self.penalised)
            if config.output != "identity":
                right, total = count_correct(AL, Y_b, config.output)
                np.add(correct, right, out=correct, where=live)
                np.add(labels, total, out=labels, where=live)
            params, opt_state = self.optimizer.update(params, grads, opt_state, rate)
            if j < len(plans) - 1:
                live = live & np.isfinite(data_sum + l2_sum)
        figures = np.empty((len(FIGURES), K))
        figures[0], figures[1:3] = data_sum + l2_sum, sums[:2]
        figures[3] = correct / labels                          # 0/0: NaN, an identity output's
        figures[4], figures[5:] = alphas, np.nan
        return params, opt_state, figures
