"""Activation functions g and their backward steps, in one registry.

Each activation is a pair: ``forward(Z) -> A`` and ``backward(dA, Z, A) -> dZ``, where the
backward step is the chain rule through g,

    dZ = dA ⊙ g′(Z)            (element-wise activations)
    dZ = A ⊙ (dA − Σ_k A_k dA_k)  (softmax, whose Jacobian couples the rows of a column)

All arrays have shape (n_l, m): one column per example. The backward step does not care
which derivative dA is (∂L per example or ∂J): it multiplies by g′ and so returns the same
kind of derivative it was given. The forward steps give finite values in range for any
finite Z (|Z| = 1e4 included; sigmoid's e^{−Z} may overflow to inf there, which is harmless
and silenced).

Each also has a buffered twin for the training loop (``fastpath``): ``forward_into(Z, A)``
writes g(Z) into A, and ``backward_into(dA, Z, A, T)`` turns dA into dZ in place, T a scratch
array of the same shape. They do the same NumPy operations in the same order as
``forward`` and ``backward``, so their results are the same bits; they only allocate nothing.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

LEAKY_RELU_SLOPE = 0.01


class Activation(NamedTuple):
    """One activation g: its name, forward, backward, and whether hidden layers may use it."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    hidden: bool
    forward_into: Callable[[np.ndarray, np.ndarray], None]
    backward_into: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """σ(Z) = 1 / (1 + e^{−Z}).

    Below Z ≈ −709 (−88 in float32) e^{−Z} overflows to inf and σ comes out as exactly 0,
    within 1e-308 (1e-38) of its true value: the overflow is harmless, and not warned about.
    """
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-Z))


def sigmoid_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← σ(Z), as ``sigmoid``."""
    with np.errstate(over="ignore"):
        np.exp(np.negative(Z, out=A), out=A)                    # e^{−Z}
        A += 1.0
        np.divide(1.0, A, out=A)


def sigmoid_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ σ′(Z), with σ′(Z) = A (1 − A)."""
    return dA * A * (1.0 - A)


def sigmoid_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA ← dA ⊙ A ⊙ (1 − A)."""
    dA *= A
    dA *= np.subtract(1.0, A, out=T)


def tanh(Z: np.ndarray) -> np.ndarray:
    """tanh(Z)."""
    return np.tanh(Z)


def tanh_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← tanh(Z)."""
    np.tanh(Z, out=A)


def tanh_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ (1 − A²)."""
    return dA * (1.0 - A * A)


def tanh_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA ← dA ⊙ (1 − A²)."""
    np.multiply(A, A, out=T)
    dA *= np.subtract(1.0, T, out=T)


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0)."""
    return np.maximum(Z, 0)


def relu_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← max(Z, 0)."""
    np.maximum(Z, 0, out=A)


def relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ 1[Z > 0] (the derivative at Z = 0 is taken as 0)."""
    return dA * (Z > 0)


def relu_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA ← dA ⊙ 1[Z > 0]."""
    dA *= np.greater(Z, 0, out=T)


def leaky_relu(Z: np.ndarray) -> np.ndarray:
    """Z where Z > 0, else 0.01 Z."""
    return np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)


def leaky_relu_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← Z where Z > 0, else 0.01 Z."""
    np.copyto(A, leaky_relu(Z))


def leaky_relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ (1 where Z > 0, else 0.01)."""
    return dA * np.where(Z > 0, 1.0, LEAKY_RELU_SLOPE).astype(dA.dtype, copy=False)


def leaky_relu_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA ← dA ⊙ (1 where Z > 0, else 0.01)."""
    np.copyto(dA, leaky_relu_backward(dA, Z, A))


def identity(Z: np.ndarray) -> np.ndarray:
    """Z itself (a linear output, for regression)."""
    return Z


def identity_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← Z."""
    np.copyto(A, Z)


def identity_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA."""
    return dA


def identity_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA stays dA."""


def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax: A_k = e^{Z_k} / Σ_j e^{Z_j}, with the column maximum subtracted first."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def softmax_into(Z: np.ndarray, A: np.ndarray) -> None:
    """A ← softmax(Z), column by column, as ``softmax``."""
    E = np.exp(np.subtract(Z, Z.max(axis=0, keepdims=True), out=A), out=A)
    E /= E.sum(axis=0, keepdims=True)


def softmax_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = Jᵀ dA per column, J the softmax Jacobian diag(A) − A Aᵀ: dZ = A ⊙ (dA − Σ_k A_k dA_k)."""
    return A * (dA - (A * dA).sum(axis=0, keepdims=True))


def softmax_backward_into(dA: np.ndarray, Z: np.ndarray, A: np.ndarray, T: np.ndarray) -> None:
    """dA ← A ⊙ (dA − Σ_k A_k dA_k)."""
    np.copyto(dA, softmax_backward(dA, Z, A))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, sigmoid_backward, True, sigmoid_into, sigmoid_backward_into),
        Activation("tanh", tanh, tanh_backward, True, tanh_into, tanh_backward_into),
        Activation("relu", relu, relu_backward, True, relu_into, relu_backward_into),
        Activation("leaky_relu", leaky_relu, leaky_relu_backward, True, leaky_relu_into, leaky_relu_backward_into),
        Activation("identity", identity, identity_backward, True, identity_into, identity_backward_into),
        Activation("softmax", softmax, softmax_backward, False, softmax_into, softmax_backward_into),
    )
}

HIDDEN_ACTIVATIONS: tuple[str, ...] = tuple(n for n, a in ACTIVATIONS.items() if a.hidden)


def get_activation(name: str) -> Activation:
    """Look up an activation by name; a clear ``ValueError`` names the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; expected one of: {known}") from None
