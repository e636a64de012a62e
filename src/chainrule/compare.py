"""Both conventions, and the per-example reference, trained side by side: how far apart they drift.

``chainrule compare`` prints this: rounding, a few ulps per step compounding slowly, and
nothing else, because the conventions compute the same gradients; a misplaced 1/m would
show as a factor of m at once.

``chainrule compare --shards 80,320`` prints ``compare_shards``: one process, the same data
over shards with the global 1/m (data-parallel training as ``fit(comm=…)`` does it), and over
the same shards averaging each shard's own mean (as many data-parallel wrappers do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_number, check_params, check_X, check_Y
from .distributed import run_ranks, split
from .layers import LayerGrads, LayerParams
from .model import ModelConfig, backward_per_example, check_config, evaluate, gradients
from .optimizers import gd
from .training import TrainConfig, TrainState, iterate


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
    check_config(config)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], X.dtype)
    learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
    check_number("num_epochs", num_epochs, "a non-negative integer", lambda v: v >= 0, integer=True)
    start = [LayerParams(W.astype(X.dtype), b.astype(X.dtype)) for W, b in check_params(params, config.layer_dims)]
    runs = {"deferred": start, "absorbed": start, **({"per_example": start} if per_example else {})}
    descend = gd()

    def cost(params) -> float:
        return evaluate(params, X, Y, config)[0]

    def step(name, params):
        if name == "per_example":
            grads = backward_per_example(params, X, Y, config)
        else:
            grads = gradients(params, X, Y, config, name).grads
        return descend.update(params, grads, descend.init(params), learning_rate)[0]

    def gaps(name, runs, J):
        """|J − J_deferred| and the largest |W[l] − W[l]_deferred| of each layer, for run ``name``."""
        if name not in runs:
            return np.nan, (np.nan,) * config.L
        return (abs(J[name] - J["deferred"]),
                tuple(float(np.max(np.abs(p.W - q.W))) for p, q in zip(runs[name], runs["deferred"])))

    rows, wanted = [], sorted({int(e) for e in milestones if 0 <= e <= num_epochs})
    for epoch in range(num_epochs + 1):
        if epoch in wanted:
            J = {name: cost(p) for name, p in runs.items()}
            rows.append(ComparisonRow(epoch, J["deferred"], *gaps("absorbed", runs, J), *gaps("per_example", runs, J)))
        if epoch < num_epochs:
            runs = {name: step(name, p) for name, p in runs.items()}
    return rows


# --- shards: the global 1/m against the average of the ranks' own means ------------------------


class ShardRow(NamedTuple):
    """At one epoch: J of the one-process run (on all the data), and each sharded run's gaps.

    ``sharded_*``: the run with the global 1/m over the shards (chainrule's, ``fit(comm=…)``);
    ``naive_*``: the run that averages the shards' own means. ``*_J`` is |J − J_one| (J on all
    the data) and ``*_W`` the largest |W[l] − W[l]_one| / max |W[l]_one| over the layers.
    """

    epoch: int
    J: float
    sharded_J: float
    sharded_W: float
    naive_J: float
    naive_W: float


class ShardComparison(NamedTuple):
    """``compare_shards``' result: the rows, and at the start the relative error
    ‖g_naive − ∂J/∂W[l]‖ / ‖∂J/∂W[l]‖ of each layer's weights (the naive gradient's), the
    same for the sharded run's, and the accuracy of each run at the end (NaN for an
    identity output)."""

    rows: list
    naive_error: tuple
    sharded_error: tuple
    accuracy: tuple


def naive_gradients(params: Sequence[LayerParams], shards: Sequence[tuple], config: ModelConfig) -> list:
    """What many data-parallel wrappers compute, and it is WRONG for unequal shards: the
    average over the K shards of each shard's own mean gradient, (1/K) Σ_k (1/m_k) S_k.

    It weighs each example of shard k by 1/(K m_k) instead of 1/m: the gradient of another
    function than J unless every m_k = m/K. For comparison only.
    """
    each = [gradients(params, X_k, Y_k, config).grads for X_k, Y_k in shards]
    K = len(each)
    return [LayerGrads(sum(g[l].dW for g in each) / K, sum(g[l].db for g in each) / K) for l in range(len(params))]


def compare_shards(config: ModelConfig, X: Any, Y: Any, params: Sequence[LayerParams], learning_rate: float,
                   num_epochs: int, milestones: Sequence[int], sizes: Sequence[int]) -> ShardComparison:
    """Train one network three ways from the same start, full-batch gradient descent:

    - one process on all m examples;
    - over shards of ``sizes`` (consecutive columns, Σ sizes = m) with the global 1/m: each
      shard's share (1/m) S_k of ∂J/∂W summed over the shards (``fit(comm=…)``, the shards run
      as threads of this process, ``distributed.ThreadComm``);
    - over the same shards, averaging the shards' own mean gradients (``naive_gradients``).

    Returns a ShardComparison: at each milestone epoch how far each sharded run is from the
    one-process run. The global 1/m stays within rounding; the naive average drifts at once
    whenever the shards are unequal.
    """
    check_config(config)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], X.dtype)
    sizes = [check_number("shard size", s, "a positive integer", lambda v: v >= 1, integer=True) for s in sizes]
    shards = list(zip(split(X, sizes), split(Y, sizes)))
    learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
    check_number("num_epochs", num_epochs, "a non-negative integer", lambda v: v >= 0, integer=True)
    start = [LayerParams(W.astype(X.dtype), b.astype(X.dtype)) for W, b in check_params(params, config.layer_dims)]
    wanted = sorted({int(e) for e in milestones if 0 <= e <= num_epochs})
    train = TrainConfig(learning_rate=learning_rate, num_epochs=num_epochs, seed=0)

    def milestones_of(epochs) -> dict:
        at = {0: start} if 0 in wanted else {}
        for state, _ in epochs:
            if state.epoch in wanted:
                at[state.epoch] = state.params
        return at

    one = milestones_of(iterate(config, X, Y, train, TrainState(start)))
    sharded = run_ranks(len(sizes), lambda comm: milestones_of(iterate(
        config, *shards[comm.Get_rank()], train, TrainState(start), comm=comm)))[0]
    naive, params, descend = {}, start, gd()
    for epoch in range(num_epochs + 1):
        if epoch in wanted:
            naive[epoch] = params
        if epoch < num_epochs:
            params = descend.update(params, naive_gradients(params, shards, config), descend.init(params),
                                    learning_rate)[0]
    rows = []
    for epoch in wanted:
        J = {name: evaluate(run[epoch], X, Y, config)[0] for name, run in (("one", one), ("sharded", sharded),
                                                                           ("naive", naive))}
        rows.append(ShardRow(epoch, J["one"], abs(J["sharded"] - J["one"]), _gap(sharded[epoch], one[epoch]),
                             abs(J["naive"] - J["one"]), _gap(naive[epoch], one[epoch])))
    true = gradients(start, X, Y, config).grads
    shares = run_ranks(len(sizes), lambda comm: _global_gradients(start, shards[comm.Get_rank()], config, comm))[0]
    last = max(wanted) if wanted else None
    accuracy = tuple(evaluate(run[last], X, Y, config)[1] if last is not None else np.nan
                     for run in (one, sharded, naive))
    return ShardComparison(rows, _errors(naive_gradients(start, shards, config), true), _errors(shares, true),
                           accuracy)


def _global_gradients(params: list, shard: tuple, config: ModelConfig, comm: Any) -> list:
    """∂J/∂W[l], ∂J/∂b[l] from the shards: this shard's share with the global m, summed."""
    X_k, Y_k = shard
    m = comm.allreduce(X_k.shape[1])
    grads = [LayerGrads(dW.copy(), db.copy()) for dW, db in gradients(params, X_k, Y_k, config, m=m).grads]
    for dW, db in grads:
        for a in (dW, db):
            total = np.empty_like(a)
            comm.Allreduce(a, total)
            a[...] = total
    return grads


def _gap(params: list, reference: list) -> float:
    """The largest |W[l] − W[l]_ref| / max |W[l]_ref| over the layers."""
    return max(float(np.max(np.abs(p.W - q.W)) / max(np.max(np.abs(q.W)), np.finfo(float).tiny))
               for p, q in zip(params, reference))


def _errors(grads: list, true: list) -> tuple:
    """‖dW[l] − dW[l]_true‖ / ‖dW[l]_true‖ of each layer."""
    return tuple(float(np.linalg.norm(g.dW - t.dW) / np.linalg.norm(t.dW)) for g, t in zip(grads, true))
