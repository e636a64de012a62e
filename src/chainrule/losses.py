"""Output layers and their losses: the per-example loss L, the cost J, dA[L] and the fused dZ[L].

An *output* is a pair (activation g[L], loss L) that belongs together:

    name        g[L]      L(ŷ, y) for ONE example (a column)
    "sigmoid"   sigmoid   binary cross-entropy    −Σ_k [y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k)]
    "softmax"   softmax   categorical cross-entropy  −Σ_k y_k log ŷ_k   (y one-hot, shape (C, 1))
    "identity"  identity  squared error           ½ Σ_k (ŷ_k − y_k)²   (summed over outputs, with ½)

With n_y = 1 the sums over k have one term. For each pair ∂L/∂Z[L] = A[L] − Y, so the fused
output delta is the same subtraction for all three. It is stable because A[L] was computed
stably from Z[L]; the unfused chain dA[L] then g′ divides by A[L] and 1 − A[L] and breaks down
where the output saturates.

Shapes: AL, ZL, Y are (n_y, m); ``loss`` is (1, m), one value per example; ``cost`` is the
scalar J = (1/m) Σ_i L⁽ⁱ⁾. A loss is never a cost: the names keep them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .precision import accumulate_dtype


class Output(NamedTuple):
    """An output layer: activation g[L], the name of its loss, and the loss's functions.

    ``loss(AL, Y)`` and ``loss_from_Z(ZL, Y)`` give the per-example loss, shape (1, m);
    ``dAL(AL, Y)`` gives ∂L⁽ⁱ⁾/∂A[L]⁽ⁱ⁾ column by column, shape (n_y, m).
    """

    name: str
    activation: str
    loss_name: str
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]
    loss_from_Z: Callable[[np.ndarray, np.ndarray], np.ndarray]
    dAL: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _per_example(L: np.ndarray) -> np.ndarray:
    """Σ_k over the outputs (the axis before the examples): the per-example loss (1, m)."""
    return L if L.shape[-2] == 1 else L.sum(axis=-2, keepdims=True)


def _log(A: np.ndarray) -> np.ndarray:
    """log A with A floored at the smallest normal number, so log 0 is finite (≈ −708 in float64)."""
    return np.log(np.maximum(A, np.finfo(A.dtype).tiny))


def binary_cross_entropy(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """L = −Σ_k [y log a + (1 − y) log(1 − a)] per column, from probabilities a = A[L]: (1, m).

    Exact while 0 < a < 1; where the sigmoid saturated to exactly 0 or 1 the information is
    gone, and only ``binary_cross_entropy_from_Z`` gives the true value.
    """
    return _per_example(-(Y * _log(AL) + (1 - Y) * _log(1 - AL)))


def binary_cross_entropy_from_Z(ZL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """L = Σ_k [log(1 + e^{z}) − z y] per column: the same loss, stable for any z
    (``np.logaddexp(0, z)`` computes log(1 + e^{z}) as max(z, 0) + log(1 + e^{−|z|}))."""
    L = np.logaddexp(0.0, ZL)
    L -= ZL * Y
    return L if L.shape[-2] == 1 else _per_example(L)


def binary_cross_entropy_dAL(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂L/∂A[L] = −(y/a − (1 − y)/(1 − a)), per example: (n_y, m)."""
    return -(Y / AL - (1 - Y) / (1 - AL))


def categorical_cross_entropy(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """L = −Σ_k y_k log a_k per column, from probabilities a = A[L]: (1, m)."""
    return -np.sum(Y * _log(AL), axis=-2, keepdims=True)


def categorical_cross_entropy_from_Z(ZL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """L = −Σ_k y_k (z_k − log Σ_j e^{z_j}) per column, with log-sum-exp shifted by the maximum."""
    Zmax = ZL.max(axis=-2, keepdims=True)
    log_sum = Zmax + np.log(np.exp(ZL - Zmax).sum(axis=-2, keepdims=True))
    return -(Y * (ZL - log_sum)).sum(axis=-2, keepdims=True)


def categorical_cross_entropy_dAL(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂L/∂A[L] = −y / a, per example: (C, m)."""
    return -Y / AL


def squared_error(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """L = ½ Σ_k (a_k − y_k)² per column: (1, m). The ½ makes ∂L/∂a = a − y."""
    E = AL - Y
    E *= E
    return _per_example(0.5 * E)


def squared_error_dAL(AL: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂L/∂A[L] = a − y, per example: (n_y, m)."""
    return AL - Y


OUTPUTS: dict[str, Output] = {
    o.name: o
    for o in (
        Output("sigmoid", "sigmoid", "binary cross-entropy",
               binary_cross_entropy, binary_cross_entropy_from_Z, binary_cross_entropy_dAL),
        Output("softmax", "softmax", "categorical cross-entropy",
               categorical_cross_entropy, categorical_cross_entropy_from_Z,
               categorical_cross_entropy_dAL),
        # For the identity output g(Z) = Z, so the loss from Z is the loss from A.
        Output("identity", "identity", "squared error",
               squared_error, squared_error, squared_error_dAL),
    )
}


def get_output(name: str) -> Output:
    """Look up an output layer by name; a clear ``ValueError`` names the known ones."""
    try:
        return OUTPUTS[name]
    except (KeyError, TypeError):
        known = ", ".join(OUTPUTS)
        raise ValueError(f"unknown output {name!r}; expected one of: {known}") from None


def fused_delta(AL: np.ndarray, Y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """dZ[L] = A[L] − Y: ∂L⁽ⁱ⁾/∂Z[L]⁽ⁱ⁾ for every example i, shape (n_y, m), per example (no 1/m).

    The same for all three outputs, because each loss is the one that matches its activation
    (the canonical link): sigmoid with binary cross-entropy, softmax with categorical
    cross-entropy (columns of Y summing to 1), identity with ½ squared error. ``out``: a
    buffer to write it into.
    """
    return np.subtract(AL, Y, out)


def cost_from_loss(loss: np.ndarray, m: int | None = None) -> np.floating:
    """J = (1/m) Σ_i L⁽ⁱ⁾ for a (1, m) per-example ``loss``: the data term of the cost (for a
    stack's (K, 1, m) losses, the J of each network, (K,)).

    Summed in ``precision.accumulate_dtype`` (float64, or long double for long double
    losses) and returned as a NumPy scalar of that precision; ``float(J)`` gives the Python
    number. ``m`` defaults to the loss's number of columns; a shard of a larger batch gives
    the global m and gets its share of J.
    """
    m = loss.shape[-1] if m is None else m
    total = (loss.sum(dtype=accumulate_dtype(loss.dtype)) if loss.ndim == 2 else     # one network: J
             loss.sum(axis=(-2, -1), dtype=accumulate_dtype(loss.dtype)))          # a stack: J of each
    return (1.0 / m) * total                                                        # the 1/m of J


def l2_cost(Ws: Sequence[np.ndarray], lambd: float, n: int) -> np.floating:
    """The L2 term λ/(2n) Σ_l ‖W[l]‖²_F of the cost (biases are not penalised).

    n is the training-set size, not the batch's m, so that J is one function of the
    parameters whatever the batch size; in full-batch training n = m and this is the
    course's λ/(2m) Σ_l ‖W[l]‖². Summed in ``precision.accumulate_dtype``; for a stack's
    (K, n_l, n_{l-1}) weights, one term per network.
    """
    return (lambd / (2 * n)) * sum(np.sum(np.square(W), axis=None if W.ndim == 2 else (-2, -1),
                                          dtype=accumulate_dtype(W.dtype)) for W in Ws)
