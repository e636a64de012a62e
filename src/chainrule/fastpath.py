"""The training step of ``fit``, computed into buffers allocated once per batch size.

``model.forward`` and ``model.backward`` build a new array for every quantity, as the
equations read. A training loop runs them thousands of times on batches of one or two sizes,
so here every quantity of a step has a buffer that lives across steps, and each is computed
with the same NumPy operations, in the same order, as the reference path (``np.dot`` with
``out=`` for its ``@``: the same BLAS product, with less overhead per call on small arrays):

    forward    Z[l] = W[l] A[l-1] + b[l],  A[l] = g[l](Z[l])       (dropout: A[l] ⊙ D[l] / keep_prob)
    backward   dZ[L] = A[L] − Y                                    (the fused output delta)
               dW[l] = (1/m) dZ[l] A[l-1]ᵀ,  db[l] = (1/m) Σ_i dZ[l]⁽ⁱ⁾   (deferred: the one 1/m)
               dA[l-1] = W[l]ᵀ dZ[l],  dZ[l-1] = dA[l-1] ⊙ g′[l-1](Z[l-1])   (in dA's buffer)

Under "absorbed" the 1/m goes into dZ[L] instead, as in ``model.backward``. The gradients are
the reference's to rounding (the tests hold them to 1e-12 in float64); what is saved is
allocation, copies and Python. The batch's examples are gathered with one ``np.take`` into a
buffer laid out like X: an X whose columns are contiguous (``data.T`` of an (m, n_x) array)
makes that a copy of whole columns.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .activations import get_activation
from .layers import LayerGrads, LayerParams


class Workspace(NamedTuple):
    """The buffers of one batch size m; list entry l − 1 belongs to layer l = 1 … L.

    X (n_x, m) and Y (n_y, m) receive the batch (laid out like the training X and Y);
    Z, A, dZ and T are (n_l, m): Z[l], A[l] = g(Z[l]), dZ[l] (first dA[l], then dZ[l] in
    place), and scratch for g′; dW (n_l, n_{l-1}) and db (n_l, 1) are ∂J/∂W[l] and ∂J/∂b[l],
    and grads lists them as [LayerGrads(dW[l], db[l])].
    Under dropout a hidden layer also has its uniform draws U (float64), its 0/1 mask D and
    A_kept = A[l] ⊙ D[l] / keep_prob, what the next layer reads; otherwise A_kept[l] is A[l]
    and U, D are None.
    """

    X: np.ndarray
    Y: np.ndarray
    Z: list
    A: list
    A_kept: list
    U: list
    D: list
    dZ: list
    T: list
    dW: list
    db: list
    grads: list


def _like(array: np.ndarray, rows: int, m: int) -> np.ndarray:
    """An empty (rows, m) array of ``array``'s dtype, columns contiguous where array's are."""
    columns = array.flags.f_contiguous and not array.flags.c_contiguous
    return np.empty((rows, m), dtype=array.dtype, order="F" if columns else "C")


def make_workspace(layer_dims: Sequence[int], m: int, X: np.ndarray, Y: np.ndarray, dropout: bool) -> Workspace:
    """Allocate the buffers for batches of m examples of the network ``layer_dims``."""
    dtype = X.dtype
    L = len(layer_dims) - 1
    units = layer_dims[1:]
    Z = [np.empty((n, m), dtype) for n in units]
    A = [np.empty((n, m), dtype) for n in units]
    dW = [np.empty((n, n_prev), dtype) for n, n_prev in zip(units, layer_dims[:-1])]
    db = [np.empty((n, 1), dtype) for n in units]
    drops = [dropout and l < L for l in range(1, L + 1)]                 # hidden layers only
    return Workspace(
        X=_like(X, layer_dims[0], m),
        Y=_like(Y, Y.shape[0], m),
        Z=Z,
        A=A,
        A_kept=[np.empty_like(a) if d else a for a, d in zip(A, drops)],
        U=[np.empty(a.shape) if d else None for a, d in zip(A, drops)],
        D=[np.empty_like(a) if d else None for a, d in zip(A, drops)],
        dZ=[np.empty((n, m), dtype) for n in units],
        T=[np.empty((n, m), dtype) for n in units],
        dW=dW,
        db=db,
        grads=[LayerGrads(dW_l, db_l) for dW_l, db_l in zip(dW, db)],
    )


def gather(X: np.ndarray, batch: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out ← X[:, batch]: the batch's columns, in its order, copied into ``out`` (n, len(batch)).

    Indices must lie in [−m, m) (``fit`` checks user schedules). Where out's columns are
    contiguous the copy runs along X.T's rows, one whole example at a time.
    """
    if out.flags.f_contiguous and not out.flags.c_contiguous:
        np.take(X.T, batch, axis=0, out=out.T, mode="wrap")
    else:
        np.take(X, batch, axis=1, out=out, mode="wrap")
    return out


def forward_into(params: Sequence[LayerParams], X_b: np.ndarray, ws: Workspace, activations: Sequence,
                 keep_prob: float, rng: Any) -> np.ndarray:
    """Forward through all layers into ``ws``; returns A[L] (n_y, m), a view of ws.A[L-1].

    Dropout draws each hidden layer's mask as ``rng.random((n_l, m)) < keep_prob``, the
    draws ``model.forward`` makes.
    """
    A_prev = X_b
    for l, (W, b) in enumerate(params):
        Z = np.dot(W, A_prev, out=ws.Z[l])                     # (n_l, n_{l-1})·(n_{l-1}, m)
        Z += b                                                  # (n_l, 1) broadcast over m
        activations[l].forward_into(Z, ws.A[l])
        A_prev = ws.A[l]
        if ws.D[l] is not None:
            np.less(rng.random(out=ws.U[l]), keep_prob, out=ws.D[l])
            A_prev = np.multiply(ws.A[l], ws.D[l], out=ws.A_kept[l])
            A_prev /= keep_prob
    return ws.A[-1]


def backward_into(params: Sequence[LayerParams], X_b: np.ndarray, Y_b: np.ndarray, ws: Workspace,
                  activations: Sequence, convention: str, keep_prob: float,
                  lambd: float, n: int) -> list[LayerGrads]:
    """Backward from the fused delta into ``ws``; returns [(dW[l], db[l])], views of its buffers.

    dW[l] (n_l, n_{l-1}) and db[l] (n_l, 1) are ∂J/∂W[l] and ∂J/∂b[l] of the batch's cost,
    plus (λ/n) W[l] when λ > 0; they are overwritten by the next step.
    """
    m = X_b.shape[1]
    deferred = convention == "deferred"
    dZ = np.subtract(ws.A[-1], Y_b, out=ws.dZ[-1])            # ∂L/∂Z[L] per example
    if not deferred:
        dZ *= 1.0 / m                                           # ∂J/∂Z[L]: the 1/m, here
    for l in range(len(params) - 1, -1, -1):
        A_prev = X_b if l == 0 else ws.A_kept[l - 1]
        dW = np.dot(dZ, A_prev.T, out=ws.dW[l])                 # (n_l, m)·(m, n_{l-1})
        db = np.add.reduce(dZ, axis=1, keepdims=True, out=ws.db[l])   # Σ_i dZ⁽ⁱ⁾: (n_l, 1)
        if deferred:
            dW *= 1.0 / m                                       # the 1/m, here
            db *= 1.0 / m
        if lambd > 0:
            dW += (lambd / n) * params[l].W                     # ∂/∂W of λ/(2n) ‖W[l]‖²
        if l > 0:
            dA = np.dot(params[l].W.T, dZ, out=ws.dZ[l - 1])     # dA[l-1]: (n_{l-1}, n_l)·(n_l, m)
            if ws.D[l - 1] is not None:
                dA *= ws.D[l - 1]
                dA /= keep_prob
            activations[l - 1].backward_into(dA, ws.Z[l - 1], ws.A[l - 1], ws.T[l - 1])
            dZ = dA                                             # dZ[l-1], in place
    return ws.grads


class StepResult(NamedTuple):
    """One step's batch labels Y_b (n_y, m), Z[L] and A[L] (n_y, m), and gradients [(dW, db)]."""

    Y: np.ndarray
    ZL: np.ndarray
    AL: np.ndarray
    grads: list


def make_step(config, convention: str, keep_prob: float, lambd: float, n: int) -> Callable:
    """The step ``step(params, X, Y, batch, rng) -> StepResult`` with its buffers kept inside.

    ``batch`` is an index array or a slice of the columns of X and Y; a slice is used as a
    view, with no copy. One workspace is kept per batch size seen (usually two: the full
    batches and the remainder).
    """
    activations = [get_activation(config.activation(l)) for l in range(1, config.L + 1)]
    workspaces: dict[int, Workspace] = {}

    def step(params, X, Y, batch, rng) -> StepResult:
        if isinstance(batch, slice):
            X_b, Y_b = X[:, batch], Y[:, batch]
            m = X_b.shape[1]
        else:
            m = len(batch)
        ws = workspaces.get(m)
        if ws is None:
            ws = workspaces[m] = make_workspace(config.layer_dims, m, X, Y, keep_prob < 1)
        if not isinstance(batch, slice):
            X_b, Y_b = gather(X, batch, ws.X), gather(Y, batch, ws.Y)
        AL = forward_into(params, X_b, ws, activations, keep_prob, rng)
        grads = backward_into(params, X_b, Y_b, ws, activations, convention, keep_prob, lambd, n)
        return StepResult(Y_b, ws.Z[-1], AL, grads)

    return step
