"""Activation functions g and their backward steps, in one registry.

Each activation is a pair: ``forward(Z) -> A`` and ``backward(dA, Z, A) -> dZ``, where the
backward step is the chain rule through g,

    dZ = dA ⊙ g′(Z)                  (element-wise activations)
    dZ = A ⊙ (dA − Σ_k A_k dA_k)       (softmax, whose Jacobian couples the rows of a column)

All arrays have shape (n_l, m): one column per example (classes, for softmax, on the axis
before the examples). The backward step does not care which derivative dA is (∂L per
example or ∂J): it multiplies by g′ and so returns the same kind of derivative it was given.
The forward steps give finite values in range for any finite Z (|Z| = 1e4 included), and
never overflow.

Both take an optional ``out``, an array of Z's shape and dtype to write the result into, in
the manner of NumPy's ufuncs; it must not be one of the inputs. The training loop passes
buffers it keeps across steps (``workspace``); without ``out`` each call makes a new array.
It is one implementation either way: the same operations in the same order. (The identity
returns its input itself and writes nothing.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

LEAKY_RELU_SLOPE = 0.01

Array = np.ndarray


class Activation(NamedTuple):
    """One activation g: its name, forward, backward, and whether hidden layers may use it."""

    name: str
    forward: Callable[..., Array]
    backward: Callable[..., Array]
    hidden: bool


def _new(like: Array, out: Array | None) -> Array:
    """``out``, or a new empty array shaped and typed like ``like``."""
    return np.empty_like(like) if out is None else out


def _exp_floor(dtype: np.dtype) -> float:
    """The Z below which e^{−Z} would overflow in ``dtype``, less one: −(log of the largest
    finite value − 1), ≈ −708.8 in float64 and −87.7 in float32."""
    floor = _EXP_FLOORS.get(dtype)
    if floor is None:
        floor = _EXP_FLOORS[dtype] = -(float(np.log(np.finfo(dtype).max)) - 1.0)
    return floor


_EXP_FLOORS: dict = {}


def sigmoid(Z: Array, out: Array | None = None) -> Array:
    """σ(Z) = 1 / (1 + e^{−Z}), with Z taken no lower than where e^{−Z} would overflow.

    Below Z ≈ −708.8 (−87.7 in float32) σ is σ(−708.8) = 1.5e-308 (8e-39), within 1e-307
    (1e-38) of its true value: no overflow, and nothing to warn about.
    """
    A = np.maximum(Z, _EXP_FLOORS.get(Z.dtype) or _exp_floor(Z.dtype), out=out)
    np.negative(A, A)
    np.exp(A, A)                                            # e^{−Z}
    A += 1.0
    return np.divide(1.0, A, A)


def sigmoid_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA ⊙ σ′(Z), with σ′(Z) = A (1 − A)."""
    dZ = np.subtract(1.0, A, out)
    dZ *= A
    dZ *= dA
    return dZ


def tanh(Z: Array, out: Array | None = None) -> Array:
    """tanh(Z)."""
    return np.tanh(Z, out)


def tanh_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA ⊙ (1 − A²)."""
    dZ = np.multiply(A, A, out)
    np.subtract(1.0, dZ, dZ)
    dZ *= dA
    return dZ


def relu(Z: Array, out: Array | None = None) -> Array:
    """max(Z, 0)."""
    return np.maximum(Z, 0, out=out)


def relu_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA ⊙ 1[Z > 0] (the derivative at Z = 0 is taken as 0)."""
    dZ = np.greater(Z, 0, out=_new(dA, out))                   # 1.0 where Z > 0, else 0.0
    dZ *= dA
    return dZ


def leaky_relu(Z: Array, out: Array | None = None) -> Array:
    """Z where Z > 0, else 0.01 Z: the larger of Z and 0.01 Z."""
    A = np.multiply(Z, LEAKY_RELU_SLOPE, out)
    return np.maximum(Z, A, out=A)


def leaky_relu_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA ⊙ (1 where Z > 0, else 0.01)."""
    dZ = np.multiply(dA, LEAKY_RELU_SLOPE, out)
    np.copyto(dZ, dA, where=Z > 0)
    return dZ


def identity(Z: Array, out: Array | None = None) -> Array:
    """Z itself (a linear output, for regression); nothing is copied."""
    return Z


def identity_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = dA, itself."""
    return dA


def softmax(Z: Array, out: Array | None = None) -> Array:
    """Column-wise softmax: A_k = e^{Z_k} / Σ_j e^{Z_j}, with the column maximum subtracted first."""
    E = np.subtract(Z, Z.max(axis=-2, keepdims=True), out)
    np.exp(E, E)
    E /= E.sum(axis=-2, keepdims=True)
    return E


def softmax_backward(dA: Array, Z: Array, A: Array, out: Array | None = None) -> Array:
    """dZ = Jᵀ dA per column, J the softmax Jacobian diag(A) − A Aᵀ: dZ = A ⊙ (dA − Σ_k A_k dA_k)."""
    dZ = np.multiply(A, dA, out)
    np.subtract(dA, dZ.sum(axis=-2, keepdims=True), dZ)
    dZ *= A
    return dZ


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid, sigmoid_backward, True),
        Activation("tanh", tanh, tanh_backward, True),
        Activation("relu", relu, relu_backward, True),
        Activation("leaky_relu", leaky_relu, leaky_relu_backward, True),
        Activation("identity", identity, identity_backward, True),
        Activation("softmax", softmax, softmax_backward, False),
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
