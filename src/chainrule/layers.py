"""The linear part of a layer, Z = W A_prev + b, forward and backward; inverted dropout.

Shapes, for a layer l with n_l units fed by n_{l-1} and a batch of m examples:

    A_prev: (n_{l-1}, m)   W: (n_l, n_{l-1})   b: (n_l, 1)   Z, dZ: (n_l, m)

The backward step is where the deferred convention applies its one 1/m for the data term:
dW and db are derivatives of the cost J = (1/m) Σ_i L⁽ⁱ⁾, so they average the per-example
outer products dZ⁽ⁱ⁾ A_prev⁽ⁱ⁾ᵀ; dA_prev stays one column per example, like dZ.

Every function takes optional ``out`` buffers to write its results into, as NumPy's ufuncs
do (the training loop keeps them across steps); without them it makes new arrays. The
products are ``np.dot`` for one network: for 2-D arrays the same BLAS call as ``@``, with
less overhead per call on the small arrays of small networks.

A stack of networks of one shape has leading axes in front of every array (W: (K, n_l,
n_{l-1}), Z: (K, n_l, m)); A_prev may also be one (n_{l-1}, m) shared by them all. The
products are then ``np.matmul``, which broadcasts over the leading axes, and transposes swap
the last two axes only, except where the inner dimension is 1: a product (…, p, 1) · (…, 1, r)
is an outer product, which ``_product`` computes by broadcasting (one pass, where ``matmul``
makes one call per matrix of the stack), each element as BLAS does: 0 + a·b, the one-term sum.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._checks import check_convention


class LayerParams(NamedTuple):
    """Parameters of layer l: W (n_l, n_{l-1}) and b (n_l, 1). ``params[l-1]`` holds layer l."""

    W: np.ndarray
    b: np.ndarray


class LayerGrads(NamedTuple):
    """Gradients of the cost J for layer l: dW = ∂J/∂W[l] (n_l, n_{l-1}), db = ∂J/∂b[l] (n_l, 1)."""

    dW: np.ndarray
    db: np.ndarray


class LinearCache(NamedTuple):
    """What the linear backward step needs, as in the course: (A_prev, W, b)."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray


def _stacked(a: np.ndarray) -> np.ndarray:
    """aᵀ of each matrix of a stack: the last two axes swapped (a view)."""
    return np.swapaxes(a, -1, -2)


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a · b for a stack: (…, p, q) · (…, q, r) → (…, p, r), ``np.matmul`` over the leading axes.

    With q = 1 each element is one product, a_i b_j, and BLAS computes it as the sum of that
    one term, 0 + a_i b_j (a zero product is +0): so does this, by broadcasting, in two passes
    over the result instead of one BLAS call per matrix (the output layer of a network with
    one output: W[L]ᵀ dZ[L] is (…, n_{L-1}, 1) · (…, 1, m)).
    """
    if a.shape[-1] != 1:
        return np.matmul(a, b, out=out)
    product = np.multiply(a, b, out)
    product += 0.0
    return product


def linear_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Z = W A_prev + b: (…, n_l, n_{l-1}) · (…, n_{l-1}, m) + (…, n_l, 1) broadcast over m → (…, n_l, m)."""
    Z = np.dot(W, A_prev, out) if W.ndim == 2 == A_prev.ndim else _product(W, A_prev, out)
    Z += b
    return Z


def linear_backward(
    dZ: np.ndarray,
    cache: LinearCache | tuple,
    convention: str = "deferred",
    compute_dA_prev: bool = True,
    *,
    m: int | None = None,
    out: tuple | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward through Z = W A_prev + b: returns (dA_prev, dW, db).

    Parameters
    ----------
    dZ : (n_l, m)
        "deferred": ∂L⁽ⁱ⁾/∂Z⁽ⁱ⁾ in column i (per example, no 1/m yet).
        "absorbed": ∂J/∂Z (the 1/m is already inside).
    cache : (A_prev, W, b, …)
        A_prev (n_{l-1}, m), W (n_l, n_{l-1}), b (n_l, 1): a LinearCache, or a layer's
        cache, which starts with them.
    convention : "deferred" or "absorbed"
    compute_dA_prev : bool
        False skips the product W[l]ᵀ dZ[l] and returns None for it (layer 1 needs no dA[0]).
    m : int, optional
        The m of J = (1/m) Σ_i L⁽ⁱ⁾ (default: the batch's, dZ's number of columns). A shard
        of a larger batch gives the global m and gets its share of ∂J/∂W.
    out : (dA_prev, dW, db, dZ_mean), optional
        Buffers to write them into, and one of dZ's shape for (1/m) dZ; any may be None,
        for a new array.

    Returns
    -------
    dA_prev : (n_{l-1}, m)
        W[l]ᵀ dZ[l]: the same kind of derivative as ``dZ`` (per example, or ∂J).
    dW : (n_l, n_{l-1})
        ∂J/∂W[l]. Deferred: (1/m) dZ A_prevᵀ. Absorbed: dZ A_prevᵀ.
    db : (n_l, 1)
        ∂J/∂b[l]. Deferred: (1/m) Σ_i dZ⁽ⁱ⁾. Absorbed: Σ_i dZ⁽ⁱ⁾.

    Why the 1/m is here and not twice: J averages the per-example losses, so each parameter
    gradient is the average of the per-example gradients dZ⁽ⁱ⁾ A_prev⁽ⁱ⁾ᵀ. Under "deferred"
    dZ has not been averaged yet, and this is the one place it is; under "absorbed" it was
    averaged in dZ[L] and the sums here must not average again. It is one multiplication
    either way, of dZ before the product when dZ (n_l, m) is the smaller array (m < n_{l-1}),
    else of dW and db after it: the same numbers to rounding, the least work.
    """
    A_prev, W = cache[0], cache[1]
    out_dA_prev, out_dW, out_db, out_mean = out or (None, None, None, None)
    m = dZ.shape[-1] if m is None else m
    deferred = convention == "deferred" or check_convention(convention) == "deferred"
    mean = 1.0 / m if deferred else 1.0                     # the 1/m of J: applied once, under "deferred"
    # (1/m) dZ A_prevᵀ = ((1/m) dZ) A_prevᵀ: the 1/m goes to the smaller of dZ and dW, one pass either way
    early = deferred and dZ.shape[-2] * dZ.shape[-1] < W.shape[-2] * W.shape[-1]
    dZ_J = np.multiply(dZ, mean, out_mean) if early else dZ
    one = dZ.ndim == 2 == A_prev.ndim                       # one network: dot; a stack: matmul over its axes
    dW = (np.dot(dZ_J, A_prev.T, out_dW) if one else
          np.matmul(dZ_J, _stacked(A_prev), out=out_dW))    # (…, n_l, m)·(…, m, n_{l-1})
    db = np.add.reduce(dZ_J, axis=-1, keepdims=True, out=out_db)     # Σ_i: (n_l, 1)
    if deferred and not early:
        dW *= mean
        db *= mean
    if not compute_dA_prev:
        return None, dW, db
    dA_prev = (np.dot(W.T, dZ, out_dA_prev) if W.ndim == 2 == dZ.ndim else
               _product(_stacked(W), dZ, out_dA_prev))          # (…, n_{l-1}, n_l)·(…, n_l, m)
    return dA_prev, dW, db


def apply_mask(A: np.ndarray, D: np.ndarray, keep_prob: float, out: np.ndarray | None = None) -> np.ndarray:
    """A ⊙ D / keep_prob: (n_l, m). Forward applies it to A[l], backward to dA[l].

    A stack's keep_prob of each network, (K, 1, 1) float64, is rounded to A's dtype first, as
    NumPy rounds a number.
    """
    kept = np.multiply(A, D, out)
    kept /= keep_prob.astype(kept.dtype, copy=False) if isinstance(keep_prob, np.ndarray) else keep_prob
    return kept


def dropout_mask(shape: tuple[int, ...], keep_prob: float, rng: Any, dtype: Any,
                 out: np.ndarray | None = None, draws: np.ndarray | None = None) -> np.ndarray:
    """D = 1[U < keep_prob], U = ``rng.random(shape)``: a 0/1 mask of ``dtype`` (the course's recipe).

    ``draws`` (float64, of ``shape``) receives U when ``rng`` is a ``numpy.random.Generator``
    (a legacy RandomState draws the same numbers into a new array).
    """
    if draws is not None and isinstance(rng, np.random.Generator):
        U = rng.random(out=draws)
    else:
        U = rng.random(shape)
    return np.less(U, keep_prob, out=np.empty(shape, dtype) if out is None else out)


def dropout_forward(A: np.ndarray, keep_prob: float, rng: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: keep each unit with probability keep_prob and scale by 1/keep_prob.

    Returns (A ⊙ D / keep_prob, D), D a 0/1 mask of A's shape (n_l, m) drawn from ``rng``
    as ``rng.random(A.shape) < keep_prob`` (the course's recipe with a legacy RandomState).
    Dividing by keep_prob keeps the expected value of every unit, so prediction uses the
    network as it is, with no dropout and no rescaling.
    """
    D = dropout_mask(A.shape, keep_prob, rng, A.dtype)
    return apply_mask(A, D, keep_prob), D


def dropout_backward(dA: np.ndarray, D: np.ndarray, keep_prob: float, out: np.ndarray | None = None) -> np.ndarray:
    """dA ⊙ D / keep_prob: the units dropped in forward pass no gradient back."""
    return apply_mask(dA, D, keep_prob, out)
