"""How a learner's array relates to the reference: equal, a known multiple, transposed,
flattened, of another shape, or different — derived from the numbers, never assumed.

    relate(got, want)            Relation(kind, factor, detail)
    factor_name(c, m)            "1/m", "m", "−1", "1/m²" for a factor that is one of them
    differences(got, want)       "in 3 of 12 entries; the largest, 0.41, at [2, 0]"
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

RTOL = 1e-9            # two float64 results of the same math in another order agree far closer


class Relation(NamedTuple):
    """kind: "equal", "scaled" (got = factor · want), "transposed" (got = factor · wantᵀ), "flat"
    (got = factor · want without its length-1 axis), "shape" (another shape), "differs",
    "missing" (None) or "not_array"; detail: the largest difference or the shapes, in words."""

    kind: str
    factor: float | None = None
    detail: str = ""


def as_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array, or None when it is not numbers."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def close(got: np.ndarray, want: np.ndarray, rtol: float = RTOL) -> bool:
    """Equal shapes and every entry within rtol of the largest |want| (or of 1e-300 for zeros)."""
    if got.shape != want.shape:
        return False
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    return bool(np.all(np.abs(got - want) <= rtol * scale)) and bool(np.all(np.isfinite(got)))


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got − want| / max |want| (0 for two zero arrays)."""
    scale = float(np.max(np.abs(want), initial=0.0))
    diff = float(np.max(np.abs(got - want), initial=0.0))
    return diff / scale if scale else diff


def _factor(got: np.ndarray, want: np.ndarray, rtol: float = RTOL) -> float | None:
    """c with got = c · want to rtol, or None (want all zero, or no such c)."""
    denominator = float(np.sum(want * want))
    if denominator == 0.0 or not np.all(np.isfinite(got)):
        return None
    c = float(np.sum(got * want)) / denominator
    return c if close(got, c * want, rtol) else None


def differences(got: np.ndarray, want: np.ndarray, rtol: float = RTOL) -> str:
    """Where two arrays of one shape differ: how many entries, and the largest difference and where."""
    diff = np.abs(got - want)
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    wrong = diff > rtol * scale
    if not np.all(np.isfinite(got)):
        return f"{int(np.sum(~np.isfinite(got)))} of {got.size} entries are not finite"
    index = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    return (f"in {int(np.sum(wrong))} of {got.size} entries; the largest difference, {float(diff[index]):.3g}, "
            f"at {list(map(int, index))} (yours {float(got[index]):.6g}, the reference {float(want[index]):.6g})")


def tolerance(got: Any) -> float:
    """The rtol ``got`` is judged with: RTOL for float64, and for a learner who computes in
    float32 or float16 a few hundred units of that format's last place (its rounding, not a mistake)."""
    dtype = getattr(got, "dtype", None)
    if dtype is not None and np.issubdtype(dtype, np.floating) and np.finfo(dtype).eps > np.finfo(np.float64).eps:
        return max(RTOL, 300 * float(np.finfo(dtype).eps))
    return RTOL


def relate(got: Any, want: np.ndarray) -> Relation:
    """How ``got`` relates to ``want``: see ``Relation``."""
    if got is None:
        return Relation("missing", detail="None")
    rtol = tolerance(got)
    array = as_array(got)
    if array is None:
        return Relation("not_array", detail=type(got).__name__)
    want = np.asarray(want, dtype=np.float64)
    if array.shape == want.shape:
        if close(array, want, rtol):
            return Relation("equal", 1.0, f"to {relative_error(array, want):.0e}")
        c = _factor(array, want, rtol)
        if c is not None:
            return Relation("scaled", c)
        if want.ndim == 2 and want.shape[0] == want.shape[1] and (c := _factor(array, want.T, rtol)) is not None:
            return Relation("transposed", c, f"a square {want.shape} equal to the reference transposed")
        return Relation("differs", detail=differences(array, want, rtol))
    if array.shape == want.T.shape and want.ndim == 2:
        c = _factor(array, want.T, rtol)
        if c is not None:
            return Relation("transposed", c, f"shape {array.shape} where the reference is {want.shape}")
    if array.size == want.size and array.squeeze().shape == want.squeeze().shape and array.ndim != want.ndim:
        c = _factor(array.reshape(want.shape), want, rtol)
        if c is not None:
            return Relation("flat", c, f"shape {array.shape} where the reference is {want.shape}")
    return Relation("shape", detail=f"shape {array.shape} where the reference is {want.shape}")


def factor_name(c: float | None, m: int) -> str | None:
    """The name of a factor that is 1, 1/m, m, 1/m², m², or minus one of them, else None."""
    if c is None:
        return None
    names = {"1": 1.0, "1/m": 1.0 / m, "m": float(m), "1/m²": 1.0 / m**2, "m²": float(m) ** 2}
    for name, value in names.items():
        for sign, prefix in ((1.0, ""), (-1.0, "−")):
            if abs(c - sign * value) <= 1e-5 * abs(value):      # room for a learner's float32
                return prefix + name
    return None
