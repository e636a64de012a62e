"""Many networks at once: K networks of one shape, trained together along a leading axis.

    fit_stack(config, X, Y, trains)    [FitResult, …]: one per TrainConfig, as fit gives it

The networks of a stack share every training option but those of ``PER_NETWORK``: each has
its own learning rate, decay rate, L2 strength and seed (so its own initial weights,
shuffles and dropout masks: the draws it makes alone). Every step runs the K networks'
forward and backward as one stack (``np.matmul`` over the leading axis) and the optimizer
on the stacked parameters, with the learning rates as a (K, 1, 1) array. Each network gets,
bit for bit, the parameters and history ``fit`` gives it alone (tests/test_stacks.py).

A network whose cost becomes NaN or infinite, or exceeds ``divergence_factor`` times its
first epoch's, stops there: its history ends with that epoch (stop reason "diverged") and
its parameters stay those it had before it; the others go on. Early stopping (``patience``,
on the training cost) stops each network where ``fit`` stops it, and returns what ``fit``
returns; with validation data it watches their cost, as ``fit`` does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import check_X, check_Y
from .batches import dropout_rngs, schedule_for
from .callbacks import EarlyStopping
from .history import EpochRecord, History
from .layers import LayerGrads
from .losses import cost_from_loss, get_output, l2_cost
from .model import ModelConfig, _backward_trace, _forward, check_config, count_correct, evaluate
from .optimizers import learning_rate_schedule
from .training import FitResult, TrainConfig, TrainState, _checked_validation, init_state, make_optimizer

PER_NETWORK = ("learning_rate", "decay_rate", "lambd", "seed")


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


def _stacked(arrays: list) -> list:
    """Per-network lists of pairs (W, b) or (dW, db), stacked along a new leading axis."""
    return [type(pairs[0])(*(np.stack(column) for column in zip(*pairs))) for pairs in zip(*arrays)]


def _view(pairs: list, k: int) -> list:
    """Network k's pairs, as views into a stack."""
    return [type(pair)(*(a[k] for a in pair)) for pair in pairs]


def _network(pairs: list, k: int | None) -> list:
    """Network k's pairs copied out of a stack (k None: pairs of one network, copied)."""
    return [type(pair)(*(a.copy() if k is None else a[k].copy() for a in pair)) for pair in pairs]


def _opt_state_of(opt_state: Any, k: int) -> Any:
    return opt_state._replace(**{name: _network(getattr(opt_state, name), k) for name in opt_state._fields
                                 if name != "t"})


def fit_stack(config: ModelConfig, X: Any, Y: Any, trains: Sequence[TrainConfig], *,
              validation_data: tuple[Any, Any] | None = None) -> list[FitResult]:
    """Train K networks of ``config`` together, network k as ``trains[k]`` says.

    Parameters
    ----------
    config : ModelConfig
    X : (n_x, n), Y : (n_y, n)
        The training data, shared by every network.
    trains : list of K TrainConfig
        Alike but in PER_NETWORK (learning_rate, decay_rate, lambd, seed), each seed given.
    validation_data : (X_val (n_x, m_val), Y_val (n_y, m_val)), optional
        Measured for every network after every epoch (val_cost, val_accuracy); early
        stopping then watches val_cost, as in ``fit``.

    Returns
    -------
    list of FitResult
        Network k's params, history, state and TrainConfig: what ``fit(config, X, Y,
        trains[k])`` returns, when no network stops early.
    """
    config = check_config(config)
    trains = _check_trains(trains)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[-1], X.dtype)
    validation = _checked_validation(validation_data, config, X.dtype)
    shared, K, n = trains[0], len(trains), X.shape[-1]
    starts = [init_state(config, t, X.dtype) for t in trains]
    params = _stacked([s.params for s in starts])
    optimizer = make_optimizer(shared)
    opt_state = optimizer.init(params)
    rates = [learning_rate_schedule(t.learning_rate, t.decay, t.decay_rate, t.time_interval) for t in trains]
    schedules = [schedule_for(t.batches, t.mini_batch_size, t.seed, n) for t in trains]
    lambd = np.array([t.lambd for t in trains])
    loss_from_Z = get_output(config.output).loss_from_Z
    records: list[list[EpochRecord]] = [[] for _ in range(K)]
    active, first = np.ones(K, dtype=bool), [None] * K
    stopped: list[tuple | None] = [None] * K           # (stacked params, opt_state, epochs, reason) where k stopped
    monitor = "val_cost" if validation is not None else "cost"
    early = ([EarlyStopping(shared.patience, shared.min_delta, shared.restore_best, monitor) for _ in trains]
             if shared.patience is not None else None)
    for k, stopper in enumerate(early or ()):
        stopper.start(starts[k])
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(shared.num_epochs):
            before = params                     # every step makes new arrays: views of a past epoch stay valid
            params, opt_state, epoch_records = _epoch(config, shared, X, Y, params, opt_state, optimizer, epoch,
                                                      rates, schedules, lambd, loss_from_Z, trains)
            if validation is not None:                        # each network's figures after the epoch
                val_cost, val_accuracy = evaluate(params, *validation, config)
                epoch_records = [r._replace(val_cost=float(val_cost[k]), val_accuracy=float(val_accuracy[k]))
                                 for k, r in enumerate(epoch_records)]
            for k in np.flatnonzero(active):
                record = epoch_records[k]
                records[k].append(record)
                first[k] = record.cost if first[k] is None else first[k]
                factor = shared.divergence_factor
                if not math.isfinite(record.cost) or (factor is not None and first[k] > 0
                                                      and record.cost > factor * first[k]):
                    active[k], stopped[k] = False, (before, opt_state, epoch + 1, "diverged")
                elif early is not None and early[k](record, TrainState(_view(params, k), None, epoch + 1)):
                    active[k], stopped[k] = False, (params, opt_state, epoch + 1, EarlyStopping.stop_reason)
            if not active.any():
                break
    results = []
    for k, train in enumerate(trains):
        stack, stack_opt, epochs, reason = stopped[k] or (params, opt_state, len(records[k]), "completed")
        state = TrainState(_network(stack, k), _opt_state_of(stack_opt, k), epochs)
        best_epoch, network = None, state.params
        if early is not None and reason != "diverged":
            state = early[k].finish(state)
            best_epoch = early[k].best_epoch
            network = _network(early[k].final_params(state), None)
        history = History.from_records(records[k], stop_reason=reason, seed=train.seed, best_epoch=best_epoch)
        results.append(FitResult(network, history, state, train))
    return results


def _epoch(config, shared, X, Y, params, opt_state, optimizer, epoch, rates, schedules, lambd, loss_from_Z, trains):
    """One epoch of every network of the stack: (params, opt_state, [EpochRecord of each])."""
    K, n, output = len(trains), X.shape[-1], config.output
    alphas = np.array([rate(epoch) for rate in rates])
    plans = [schedule(epoch, n) for schedule in schedules]
    dropout = shared.keep_prob < 1
    streams = [dropout_rngs(t.seed, epoch, t.dropout_masks) for t in trains] if dropout else None
    data_sum, l2_sum = np.zeros(K), np.zeros(K)
    lambd_b = lambd.reshape(K, 1, 1) if lambd.any() else 0.0      # dW[l] += (λ_k/n) W[l] of each network
    correct, labels = np.zeros(K), np.zeros(K)
    for j in range(len(plans[0])):
        batches = [plan[j] for plan in plans]
        if isinstance(batches[0], slice):                       # full batch: the data itself, shared
            X_b, Y_b = X[:, batches[0]], Y[:, batches[0]]
        else:
            X_b, Y_b = np.stack([X[:, b] for b in batches]), np.stack([Y[:, b] for b in batches])
        rng = [next(stream) for stream in streams] if dropout else None
        AL, caches = _forward(params, X_b, config, shared.keep_prob, rng)
        trace = _backward_trace(AL, Y_b, caches, config, shared.convention, True, False, lambd_b, n)
        grads = [LayerGrads(t.dW, t.db) for t in trace]
        data_sum += cost_from_loss(loss_from_Z(caches[-1].Z, Y_b), n)        # each network's share of J
        if lambd.any():
            l2_sum += Y_b.shape[-1] / n * l2_cost([W for W, _ in params], lambd, n)
        if output != "identity":
            right, total = count_correct(AL, Y_b, output)
            correct += right
            labels += total
        params, opt_state = optimizer.update(params, grads, opt_state, alphas.reshape(K, 1, 1))
    records = [EpochRecord(epoch, float(data_sum[k] + l2_sum[k]), float(data_sum[k]), float(l2_sum[k]),
                           correct[k] / labels[k] if labels[k] else math.nan, float(alphas[k]), math.nan, math.nan)
               for k in range(K)]
    return params, opt_state, records
