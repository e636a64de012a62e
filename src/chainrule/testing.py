"""Random problems and planted bugs: what the tests, ``chainrule gradcheck --inject`` and
``chainrule explain --check`` measure on.

    random_problem(config, m, rng)   (params, X, Y): random data, labels and weights
    random_labels(output, n_y, m, rng)
    BUGS                             name -> (what it is, a backward with the bug planted)

The planted bugs are the mistakes learners make, each a backward for
``gradient_check(..., backward_fn=...)``, which must fail in exactly the layers affected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import as_rng, check_number
from .layers import LayerGrads, linear_backward
from .losses import fused_delta
from .model import ModelConfig, backward, check_config, init_params
from .resources import check_memory, training_bytes

BackwardFn = Callable[..., list]


def random_labels(output: str, n_y: int, m: int, rng: Any) -> np.ndarray:
    """Random Y (n_y, m) in the range of ``output``: 0/1, one-hot columns, or standard normal."""
    rng = as_rng(rng)
    if output == "softmax":
        return np.eye(n_y)[:, rng.integers(0, n_y, m)]
    if output == "sigmoid":
        return (rng.random((n_y, m)) < 0.5).astype(np.float64)
    return rng.standard_normal((n_y, m))


def random_problem(config: ModelConfig, m: int, rng: Any, scheme: str = "he"):
    """(params, X, Y) for checking a network of this shape: random data, labels and weights.

    X is standard normal (n_x, m), Y random labels for the output, W from ``scheme`` and b
    standard normal × 0.1. The biases are not zero because a zero bias puts Z exactly on
    relu's kink wherever A_prev has an all-zero column, and a finite difference across the
    kink averages two slopes: a disagreement that is no bug.
    """
    check_config(config)
    check_number("m", m, "at least 1 example", lambda v: v >= 1, integer=True)
    check_memory(training_bytes(config.layer_dims, m), f"a random problem for the network {list(config.layer_dims)} "
                 f"with m = {m} examples", "choose a smaller network or m")
    rng = as_rng(rng)
    X = rng.standard_normal((config.n_x, m))
    Y = random_labels(config.output, config.n_y, m, rng)
    params = [p._replace(b=0.1 * rng.standard_normal(p.b.shape)) for p in init_params(config, rng, scheme)]
    return params, X, Y


def _scaled(factor_of_m: float, layers: Sequence[int] | None) -> BackwardFn:
    """A backward whose dW, db are multiplied by m^factor_of_m in the given layers (all when None)."""

    def scaled_backward(AL, Y, caches, config, convention="deferred", **l2):
        grads = backward(AL, Y, caches, config, convention, **l2)
        factor = float(np.shape(AL)[1]) ** factor_of_m
        bad = range(1, config.L + 1) if layers is None else layers
        return [LayerGrads(g.dW * factor, g.db * factor) if l in bad else g for l, g in enumerate(grads, start=1)]

    return scaled_backward


def double_one_over_m(layers: Sequence[int] | None = None) -> BackwardFn:
    """A backward with the classic bug: dW and db divided by m a second time.

    Returns ``backward_fn(AL, Y, caches, config, convention)`` for ``gradient_check``. The
    bug is planted in the given layers l (all layers when None), so the check can be seen
    to point at exactly those.
    """
    return _scaled(-1.0, layers)


def missing_g_prime(AL, Y, caches, config, convention="deferred", **l2) -> list[LayerGrads]:
    """A backward that forgets ⊙ g′(Z[l-1]) in the hidden layers: dZ[l-1] = dA[l-1].

    The output layer's gradients stay right (the fused delta needs no g′); every layer
    below it is wrong.
    """
    dZ = fused_delta(caches[-1].A, Y) * (1.0 / np.shape(AL)[1] if convention == "absorbed" else 1.0)
    lambd, n = l2.get("lambd", 0.0), l2.get("n")
    grads = []
    for l in range(config.L, 0, -1):
        dA_prev, dW, db = linear_backward(dZ, caches[l - 1].linear, convention)
        if lambd:
            dW = dW + (lambd / n) * caches[l - 1].W                # L2 as backward has it: only g′ is wrong
        grads.insert(0, LayerGrads(dW, db))
        dZ = dA_prev                                               # the bug: no ⊙ g′(Z[l-1])
    return grads


BUGS: dict[str, tuple[str, Callable[[], BackwardFn]]] = {
    "double-1/m": ("dW and db divided by m a second time", lambda: double_one_over_m()),
    "no-1/m": ("the 1/m forgotten: dW and db summed over the examples instead of averaged",
               lambda: _scaled(1.0, None)),
    "missing-g-prime": ("dZ[l] = dA[l] in the hidden layers, the ⊙ g′(Z[l]) forgotten", lambda: missing_g_prime),
}


def buggy_backward(name: str) -> BackwardFn:
    """A backward with one of the bugs in ``BUGS`` planted in every layer, for ``gradient_check``."""
    try:
        return BUGS[name][1]()
    except (KeyError, TypeError):
        raise ValueError(f"unknown bug {name!r}; expected one of: {', '.join(BUGS)}") from None
