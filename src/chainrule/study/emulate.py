"""Forward and backward propagation in an emulated storage format, and the exact backward.

Every low-precision value (float16, bfloat16) is a float64 exactly representable in its
format (``formats.round_to``). Where the arithmetic happens is modelled explicitly, as a GPU
does it, not as NumPy's float16 does (``docs/numpy-low-precision.md``):

- **Matrix products and sums over examples** (Z = W A_prev, dW = dZ A_prevᵀ, db = Σ dZ,
  dA = Wᵀ dZ) with ``accumulate="float32"``: the stored operands (all exact in float32) are
  multiplied and summed in float32 (NumPy's float32 matmul and pairwise sum; the products
  of two 11-bit significands are exact in float32) and the float32 result is rounded once
  to the storage format. With ``accumulate="storage"`` every partial sum is rounded to the
  storage format, term by term, in order (a fused multiply-add per term): the worst case.
- **Element-wise operations** (A − Y, g(Z), dA ⊙ g′(Z), a division by m) are computed from
  the stored inputs in float64 and rounded once: an IEEE operation in the storage format
  (a fused kernel's float32 "opmath" rounds once too, after a float32 step 2⁻²⁴ finer).

The variants of where the 1/m of J = (1/m) Σ L goes (``VARIANTS``):

    absorbed         dZ[L] = fl((A − Y) / m); dW = fl(Σ dZ A_prevᵀ), db = fl(Σ dZ)
    deferred         dZ[L] = fl(A − Y); dW = fl(fl32(1/m) · Σ₃₂ dZ A_prevᵀ): the 1/m scales the
                     float32 accumulator before its one rounding (a GEMM's α, np.mean)
    deferred_stored  dZ[L] = fl(A − Y); dW = fl(fl(Σ dZ A_prevᵀ) / m): the unscaled sum is
                     stored in the format first, then divided
    scaled           dZ[L] = fl((A − Y) · S/m) with a loss scale S; the stored dW, db are
                     divided by S in float32 (mixed-precision training's loss scaling)

where fl is rounding to the storage format. Only backward differs between them; the forward
pass is the same stored pass for all, and ``reference_backward`` is its exact backward, so a
variant's error is the error of backward's arithmetic alone.

float32 and float64 are not emulated: their rows run chainrule's own ``forward`` and
``backward_trace`` (the trace of ``backward``) under both conventions unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..activations import get_activation
from ..layers import LayerGrads, LayerParams
from ..model import ModelConfig, backward_trace, forward
from ..precision import WIDE
from .formats import LOW, Format, get_format, round_to

VARIANTS = {
    "absorbed": "dZ[L] = (A−Y)/m",
    "deferred": "dW = (1/m)·Σ₃₂ dZ A_prevᵀ",
    "deferred_stored": "dW = fl(Σ dZ A_prevᵀ)/m",
    "scaled": "dZ[L] = S(A−Y)/m, dW/S",
}
"""Each variant of where the 1/m goes, with the formula that labels it."""
NATIVE_VARIANTS = ("absorbed", "deferred")     # what float32 and float64 run: chainrule's two conventions
NATIVE_FORMULAS = {"absorbed": "dZ[L] = (A−Y)/m", "deferred": "dW = (1/m) dZ A_prevᵀ"}


def formula(format: str, variant: str) -> str:
    """The formula that labels ``variant`` in ``format`` (chainrule's conventions in float32, float64)."""
    return VARIANTS[variant] if format in LOW else NATIVE_FORMULAS[variant]
ACCUMULATIONS = ("float32", "storage")


class StoredPass(NamedTuple):
    """A forward pass as stored in ``fmt``: the stored parameters, and for l = 1 … L the
    stored A[l-1] (n_{l-1}, m), Z[l] and A[l] (n_l, m); ``A[0]`` is the stored X and ``A[L]``
    the output. All float64 arrays whose values ``fmt`` represents exactly. For float32 and
    float64, ``native`` holds chainrule's own (AL, caches) in that dtype."""

    fmt: Format
    params: list[LayerParams]
    A: list[np.ndarray]
    Z: list[np.ndarray]
    native: tuple | None = None


class Backward(NamedTuple):
    """A backward pass's result: grads[l-1] = (dW[l], db[l]) as float64 arrays (∂J/∂W[l],
    ∂J/∂b[l], whatever the variant), and dZ[l-1] = dZ[l] (n_l, m) as the variant stored it
    (per-example ∂L for deferred, ∂J for absorbed, S ∂J for scaled)."""

    grads: list[LayerGrads]
    dZ: list[np.ndarray]


def _matmul(A: np.ndarray, B: np.ndarray, fmt: Format, accumulate: str, alpha: float | None = None) -> np.ndarray:
    """fl(α A B): the product of two stored matrices, accumulated as ``accumulate`` says,
    scaled by α (if given) in the accumulator's precision, then rounded once to ``fmt``."""
    if accumulate == "float32":
        S = np.matmul(A.astype(np.float32), B.astype(np.float32))           # products exact, sums in float32
        if alpha is not None:
            S = S * np.float32(alpha)                                       # α on the float32 accumulator
        return round_to(S.astype(np.float64), fmt)
    acc = np.zeros((A.shape[0], B.shape[1]))
    for k in range(A.shape[1]):                                             # term by term, each sum rounded
        acc = round_to(acc + A[:, k:k + 1] * B[k:k + 1, :], fmt)
    return acc if alpha is None else round_to(acc * alpha, fmt)


def _sum(dZ: np.ndarray, fmt: Format, accumulate: str, alpha: float | None = None) -> np.ndarray:
    """fl(α Σ_i dZ[:, i]) (n_l, 1): the sum over examples, as ``_matmul`` with a column of ones."""
    if accumulate == "float32":
        S = dZ.astype(np.float32).sum(axis=-1, keepdims=True, dtype=np.float32)
        if alpha is not None:
            S = S * np.float32(alpha)
        return round_to(S.astype(np.float64), fmt)
    return _matmul(dZ, np.ones((dZ.shape[1], 1)), fmt, accumulate, alpha)


def stored_forward(params: list[LayerParams], X: np.ndarray, config: ModelConfig, fmt: Format | str,
                   accumulate: str = "float32") -> StoredPass:
    """The forward pass of ``params`` on X (n_x, m) with every stored value in ``fmt``.

    Low formats: W, b and X rounded to fmt; Z[l] = fl(W A_prev + b) with the product
    accumulated per ``accumulate`` and b added in float32 before the one rounding (a GEMM's
    bias epilogue); A[l] = fl(g(Z[l])). float32 and float64: chainrule's ``forward``.
    """
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    if fmt.name not in LOW:
        dtype = np.float32 if fmt.name == "float32" else np.float64
        stored = [LayerParams(W.astype(dtype), b.astype(dtype)) for W, b in params]
        AL, caches = forward(stored, X.astype(dtype), config)
        A = [c.A_prev for c in caches] + [AL]
        return StoredPass(fmt, stored, [a.astype(np.float64) for a in A], [c.Z.astype(np.float64) for c in caches],
                          (AL, caches))
    stored = [LayerParams(round_to(W, fmt), round_to(b, fmt)) for W, b in params]
    A, Zs = [round_to(X, fmt)], []
    for l, (W, b) in enumerate(stored, start=1):
        if accumulate == "float32":
            S = np.matmul(W.astype(np.float32), A[-1].astype(np.float32)) + b.astype(np.float32)
            Z = round_to(S.astype(np.float64), fmt)
        else:
            Z = round_to(_matmul(W, A[-1], fmt, accumulate) + b, fmt)
        with np.errstate(over="ignore", invalid="ignore"):
            A.append(round_to(get_activation(config.activation(l)).forward(Z), fmt))
        Zs.append(Z)
    return StoredPass(fmt, stored, A, Zs)


def emulated_backward(stored: StoredPass, Y: np.ndarray, config: ModelConfig, variant: str,
                      accumulate: str = "float32", loss_scale: float = 2.0 ** 16) -> Backward:
    """Backward propagation in the stored pass's low format, the 1/m placed as ``variant`` says.

    Y (n_y, m). Every output's fused delta is A[L] − Y. The returned dW[l], db[l] are ∂J/∂W[l],
    ∂J/∂b[l] as that arithmetic computes them (for "scaled", already divided by S in float32).
    """
    fmt, m = stored.fmt, Y.shape[1]
    delta = round_to(stored.A[-1] - Y, fmt)                                 # per example: ∂L/∂Z[L]
    with np.errstate(over="ignore", invalid="ignore"):
        if variant == "absorbed":
            dZ = round_to(delta / m, fmt)                                   # ∂J/∂Z[L]
        elif variant == "scaled":
            dZ = round_to(delta * (loss_scale / m), fmt)                    # S ∂J/∂Z[L]
        else:
            dZ = delta
        grads, dZs = [], []
        for l in range(config.L, 0, -1):
            A_prev, W = stored.A[l - 1], stored.params[l - 1].W
            dZs.append(dZ)
            if variant == "deferred":
                dW = _matmul(dZ, A_prev.T, fmt, accumulate, alpha=1.0 / m)
                db = _sum(dZ, fmt, accumulate, alpha=1.0 / m)
            elif variant == "deferred_stored":
                dW = round_to(_matmul(dZ, A_prev.T, fmt, accumulate) / m, fmt)
                db = round_to(_sum(dZ, fmt, accumulate) / m, fmt)
            else:
                dW, db = _matmul(dZ, A_prev.T, fmt, accumulate), _sum(dZ, fmt, accumulate)
            if variant == "scaled":                                         # unscaled in float32
                dW = (dW.astype(np.float32) / np.float32(loss_scale)).astype(np.float64)
                db = (db.astype(np.float32) / np.float32(loss_scale)).astype(np.float64)
            grads.append(LayerGrads(dW, db))
            if l > 1:
                dA = _matmul(W.T, dZ, fmt, accumulate)
                g = get_activation(config.activation(l - 1))
                dZ = round_to(g.backward(dA, stored.Z[l - 2], stored.A[l - 1]), fmt)
    return Backward(grads[::-1], dZs[::-1])


def native_backward(stored: StoredPass, Y: np.ndarray, config: ModelConfig, convention: str) -> Backward:
    """chainrule's own backward (``backward_trace``, which ``backward`` returns the dW, db of)
    on a float32 or float64 stored pass, in ``convention``; the results as float64 arrays."""
    AL, caches = stored.native
    trace = backward_trace(AL, Y.astype(AL.dtype), caches, config, convention)
    return Backward([LayerGrads(t.dW.astype(np.float64), t.db.astype(np.float64)) for t in trace],
                    [t.dZ.astype(np.float64) for t in trace])


def run_backward(stored: StoredPass, Y: np.ndarray, config: ModelConfig, variant: str, accumulate: str = "float32",
                 loss_scale: float = 2.0 ** 16) -> Backward:
    """``emulated_backward`` for a low format, ``native_backward`` for float32 and float64."""
    if stored.native is not None:
        return native_backward(stored, Y, config, variant)
    return emulated_backward(stored, Y, config, variant, accumulate, loss_scale)


def reference_backward(stored: StoredPass, Y: np.ndarray, config: ModelConfig, dtype=WIDE) -> Backward:
    """The exact backward of the stored forward pass, computed in ``dtype`` (long double).

    dZ[L] = A[L] − Y, dW[l] = (1/m) dZ[l] A[l-1]ᵀ, db[l] = (1/m) Σ_i dZ[l], dA[l-1] = W[l]ᵀ dZ[l],
    dZ[l-1] = dA[l-1] ⊙ g′ from the stored Z[l-1], A[l-1]: the same equations as every variant,
    on the same stored values, without rounding to a format. dZ are per-example (∂L). The 1/m
    here is the reference's own, not chainrule's.
    """
    m = Y.shape[1]
    A = [a.astype(dtype) for a in stored.A]
    dZ = A[-1] - Y.astype(dtype)
    grads, dZs = [], []
    for l in range(config.L, 0, -1):
        dZs.append(dZ)
        grads.append(LayerGrads(np.matmul(dZ, A[l - 1].T) / m, dZ.sum(axis=-1, keepdims=True) / m))
        if l > 1:
            dA = np.matmul(stored.params[l - 1].W.astype(dtype).T, dZ)
            g = get_activation(config.activation(l - 1))
            dZ = g.backward(dA, stored.Z[l - 2].astype(dtype), A[l - 1])
    return Backward(grads[::-1], dZs[::-1])
