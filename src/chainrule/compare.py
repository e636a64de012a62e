"""Both conventions, and the per-example reference, trained side by side: how far apart they drift.

``chainrule compare`` prints this: rounding, a few ulps per step compounding slowly, and
nothing else, because the conventions compute the same gradients; a misplaced 1/m would
show as a factor of m at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_number, check_params, check_X, check_Y
from .layers import LayerParams
from .model import ModelConfig, backward_per_example, check_config, evaluate, gradients
from .optimizers import gd


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
