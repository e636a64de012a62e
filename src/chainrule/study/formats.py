"""Floating-point storage formats, and rounding to them from float64, exactly.

A value of a low-precision format is held here as a float64 that the format represents
exactly: float16 and bfloat16 values are all float64 values, so every operation can be
computed from them in float64 and rounded once, explicitly, to the format, as an IEEE 754
operation in that format would round it. NumPy's own float16 arithmetic, and ml_dtypes'
bfloat16, do not behave like that, nor like a GPU (``docs/numpy-low-precision.md``).

A format with a p-bit significand (the implicit leading bit included), smallest normal
exponent emin and largest exponent emax represents

    0, ±k 2^(emin − p + 1) for 1 ≤ k < 2^(p − 1)        (subnormals)
    ±f 2^e, 1 ≤ f < 2, f with p − 1 fraction bits,     emin ≤ e ≤ emax

              p    emin   emax   largest       smallest normal   smallest subnormal   u = 2^−p
    float16   11   −14    15     65504         6.10e−5           5.96e−8 (2^−24)      4.9e−4
    bfloat16  8    −126   127    3.39e38       1.18e−38          9.18e−41 (2^−133)    3.9e−3
    float32   24   −126   127    3.40e38       1.18e−38          1.40e−45 (2^−149)    6.0e−8
    float64   53   −1022  1023   1.80e308      2.23e−308         4.94e−324            1.1e−16

``round_to(x, fmt)`` rounds float64 values to the nearest value of the format, ties to the
one with an even last bit; a value whose rounded magnitude would exceed the largest becomes
±inf (so values ≥ max + ulp/2: 65520 for float16). float16 uses NumPy's float64 → float16
cast, which rounds so in one step; bfloat16 scales each value by a power of two so that its
last kept bit is the units digit, rounds with ``np.rint`` and scales back, all exactly: one
rounding from float64 (rounding through float32 first would round twice).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Format(NamedTuple):
    """A binary floating-point format: its name, significand bits p (with the implicit one),
    and the exponents of its smallest normal (emin) and its largest binade (emax)."""

    name: str
    p: int
    emin: int
    emax: int

    @property
    def max(self) -> float:
        """The largest finite value, (2 − 2^(1−p)) 2^emax."""
        return float(np.ldexp(2.0 - np.ldexp(1.0, 1 - self.p), self.emax))

    @property
    def tiny(self) -> float:
        """The smallest positive normal value, 2^emin: below it the format loses precision."""
        return float(np.ldexp(1.0, self.emin))

    @property
    def smallest(self) -> float:
        """The smallest positive subnormal, 2^(emin − p + 1): half of it and less round to 0."""
        return float(np.ldexp(1.0, self.emin - self.p + 1))

    @property
    def u(self) -> float:
        """The unit roundoff 2^−p: the largest relative error of rounding a normal value."""
        return float(np.ldexp(1.0, -self.p))


FLOAT16 = Format("float16", 11, -14, 15)
BFLOAT16 = Format("bfloat16", 8, -126, 127)
FLOAT32 = Format("float32", 24, -126, 127)
FLOAT64 = Format("float64", 53, -1022, 1023)
FORMATS = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64)}
LOW = ("float16", "bfloat16")          # the formats whose arithmetic is emulated


def get_format(name: str) -> Format:
    """The Format called ``name``: float16, bfloat16, float32 or float64."""
    if name not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {name!r}")
    return FORMATS[name]


def round_to(x, fmt: Format | str) -> np.ndarray:
    """x (float64 values, any shape) rounded to the nearest value of ``fmt``, as float64.

    Round to nearest, ties to even; subnormals kept; magnitudes beyond the largest finite
    value after rounding become ±inf; NaN stays NaN. The result is exactly representable in
    ``fmt``. float32 and float16 use NumPy's correctly rounded casts from float64.
    """
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):        # ±inf is the rounding's result; NaN stays NaN
        if fmt.p >= 53:
            return x.copy()
        if fmt in (FLOAT32, FLOAT16):
            return x.astype(np.float32 if fmt == FLOAT32 else np.float16).astype(np.float64)
        _, E = np.frexp(x)                                    # |x| = f 2^E, ½ ≤ f < 1: x's binade is E − 1
        e = np.maximum(E - 1, fmt.emin)                       # subnormals have the smallest normal's spacing
        shift = (fmt.p - 1) - e                               # x 2^shift has its last kept bit at 2^0
        r = np.ldexp(np.rint(np.ldexp(x, shift)), -shift)     # both scalings exact; rint: ties to even
        return np.where(np.abs(r) > fmt.max, np.copysign(np.inf, x), r)


def is_subnormal(x: np.ndarray, fmt: Format) -> np.ndarray:
    """Whether each value of x is a nonzero value below ``fmt``'s smallest normal."""
    a = np.abs(x)
    return (a > 0) & (a < fmt.tiny)
