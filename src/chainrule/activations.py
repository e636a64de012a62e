"""Activation functions g and their backward steps, in one registry.

Each activation is a pair: ``forward(Z) -> A`` and ``backward(dA, Z, A) -> dZ``, where the
backward step is the chain rule through g,

    dZ = dA ⊙ g′(Z)            (element-wise activations)
    dZ = A ⊙ (dA − Σ_k A_k dA_k)  (softmax, whose Jacobian couples the rows of a column)

All arrays have shape (n_l, m): one column per example. The backward step does not care
which derivative dA is (∂L per example or ∂J): it multiplies by g′ and so returns the same
kind of derivative it was given. The forward steps are stable for any finite Z (no
overflow at |Z| = 1e4).
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


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """σ(Z) = 1 / (1 + e^{−Z}), computed as e^{−|Z|}-based branches so nothing overflows."""
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)).astype(Z.dtype, copy=False)


def sigmoid_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ σ′(Z), with σ′(Z) = A (1 − A)."""
    return dA * A * (1.0 - A)


def tanh(Z: np.ndarray) -> np.ndarray:
    """tanh(Z)."""
    return np.tanh(Z)


def tanh_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ (1 − A²)."""
    return dA * (1.0 - A * A)


def relu(Z: np.ndarray) -> np.ndarray:
    """max(Z, 0)."""
    return np.maximum(Z, 0)


def relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ 1[Z > 0] (the derivative at Z = 0 is taken as 0)."""
    return dA * (Z > 0)


def leaky_relu(Z: np.ndarray) -> np.ndarray:
    """Z where Z > 0, else 0.01 Z."""
    return np.where(Z > 0, Z, LEAKY_RELU_SLOPE * Z)


def leaky_relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA ⊙ (1 where Z > 0, else 0.01)."""
    return dA * np.where(Z > 0, 1.0, LEAKY_RELU_SLOPE).astype(dA.dtype, copy=False)


def identity(Z: np.ndarray) -> np.ndarray:
    """Z itself (a linear output, for regression)."""
    return Z


def identity_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA."""
    return dA


def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax: A_k = e^{Z_k} / Σ_j e^{Z_j}, with the column maximum subtracted first."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def softmax_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = Jᵀ dA per column, J the softmax Jacobian diag(A) − A Aᵀ: dZ = A ⊙ (dA − Σ_k A_k dA_k)."""
    return A * (dA - (A * dA).sum(axis=0, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, sigmoid_backward, hidden=True),
        Activation("tanh", tanh, tanh_backward, hidden=True),
        Activation("relu", relu, relu_backward, hidden=True),
        Activation("leaky_relu", leaky_relu, leaky_relu_backward, hidden=True),
        Activation("identity", identity, identity_backward, hidden=True),
        Activation("softmax", softmax, softmax_backward, hidden=False),
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
