"""Buffers for the training step, allocated once per batch size and reused: no math here.

``model.forward`` and ``model.backward`` build a new array for every quantity unless they are
given a Workspace; then every quantity of a step (Z, A, the dropout masks, dA, dZ, dW, db)
is written into one of its buffers, with the same operations in the same order. A training
loop runs thousands of steps on batches of one or two sizes, so it keeps one Workspace per
batch size and allocates nothing per step but what the optimizer returns.

The batch's examples are gathered with one ``np.take`` into a buffer laid out like X: an X
whose columns are contiguous (``data.T`` of an (m, n_x) array) makes that a copy of whole
columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .layers import LayerGrads


class LayerBuffers(NamedTuple):
    """The buffers of layer l for batches of m examples.

    Z, A : (n_l, m)
        Z[l] and A[l] = g[l](Z[l]).
    A_kept, D, U : (n_l, m) or None
        Under dropout (hidden layers only): A[l] ⊙ D[l] / keep_prob, what the next layer
        reads; the 0/1 mask D[l]; and its uniform draws U (float64). None otherwise.
    dA, dA_kept : (n_l, m) or None
        dA[l] = W[l+1]ᵀ dZ[l+1] (hidden layers; None for the output layer, whose dZ comes
        from the fused delta) and, under dropout, dA[l] ⊙ D[l] / keep_prob.
    dZ, dZ_mean : (n_l, m)
        dZ[l], and (1/m) dZ[l] where the deferred 1/m is applied to dZ before the product
        (m < n_{l-1}: dZ is the smaller array); dZ_mean is None otherwise.
    dW, db : (n_l, n_{l-1}), (n_l, 1)
        ∂J/∂W[l] and ∂J/∂b[l].
    """

    Z: np.ndarray
    A: np.ndarray
    A_kept: np.ndarray | None
    D: np.ndarray | None
    U: np.ndarray | None
    dA: np.ndarray | None
    dA_kept: np.ndarray | None
    dZ: np.ndarray
    dZ_mean: np.ndarray | None
    dW: np.ndarray
    db: np.ndarray


class Workspace(NamedTuple):
    """The buffers of one batch size m: X (n_x, m) and Y (n_y, m) receive a gathered batch (laid
    out like the training X and Y; None where batches are slices, used as views),
    ``layers[l-1]`` holds layer l's, and ``grads`` lists their [(dW[l], db[l])] (overwritten by
    every step)."""

    X: np.ndarray | None
    Y: np.ndarray | None
    layers: tuple[LayerBuffers, ...]
    grads: list[LayerGrads]


def _like(array: np.ndarray, rows: int, m: int) -> np.ndarray:
    """An empty (rows, m) array of ``array``'s dtype, columns contiguous where array's are."""
    columns = array.flags.f_contiguous and not array.flags.c_contiguous
    return np.empty((rows, m), dtype=array.dtype, order="F" if columns else "C")


def make_workspace(layer_dims: Sequence[int], m: int, X: np.ndarray, Y: np.ndarray, dropout: bool,
                   gather: bool = True) -> Workspace:
    """Allocate the buffers for batches of m examples of the network ``layer_dims``.

    X and Y are the training data (their dtype and layout are copied); ``dropout`` says
    whether hidden layers need mask buffers, ``gather`` whether batches are gathered (index
    arrays) rather than viewed (slices).
    """
    dtype = X.dtype
    L = len(layer_dims) - 1

    def empty(n: int, dt=dtype) -> np.ndarray:
        return np.empty((n, m), dt)

    layers = []
    for l in range(1, L + 1):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        hidden, drops = l < L, dropout and l < L
        layers.append(LayerBuffers(
            Z=empty(n), A=empty(n),
            A_kept=empty(n) if drops else None, D=empty(n) if drops else None,
            U=empty(n, np.float64) if drops else None,
            dA=empty(n) if hidden else None, dA_kept=empty(n) if drops else None,
            dZ=empty(n), dZ_mean=empty(n) if m < n_prev else None,       # dZ smaller than dW: see linear_backward
            dW=np.empty((n, n_prev), dtype), db=np.empty((n, 1), dtype)))
    return Workspace(_like(X, layer_dims[0], m) if gather else None, _like(Y, Y.shape[0], m) if gather else None,
                     tuple(layers), [LayerGrads(b.dW, b.db) for b in layers])


def gather(X: np.ndarray, batch: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out ← X[:, batch]: the batch's columns, in its order, copied into ``out`` (n, len(batch)).

    Indices must lie in [−m, m) (``batches`` checks user schedules). Where out's columns are
    contiguous the copy runs along X.T's rows, one whole example at a time.
    """
    if out.flags.f_contiguous and not out.flags.c_contiguous:
        np.take(X.T, batch, axis=0, out=out.T, mode="wrap")
    else:
        np.take(X, batch, axis=1, out=out, mode="wrap")
    return out


NO_BUFFERS = LayerBuffers(*(None,) * len(LayerBuffers._fields))   # no buffers: every result a new array
