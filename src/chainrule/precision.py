"""The precision policy, in one place: what a computation runs in, what its sums accumulate
in, and what is stored.

    the data's dtype               computes in      sums of J and ‖W‖² accumulate in
    float64, integers, booleans    float64          float64
    float32, float16               float32          float64
    long double                    long double      long double

- **Compute.** Every array of a forward and backward pass has the dtype of X after
  ``compute_dtype``; parameters are cast to it. float16 computes in float32 because NumPy
  has no fast half-precision matrix products (it would compute them in float32 anyway and
  round every result back).
- **Accumulate.** The cost J and the L2 term are sums over many terms; they are summed in
  ``accumulate_dtype`` (at least float64), so that a float32 run reports a cost that is not
  itself the largest rounding error in sight.
- **Store.** Parameters, optimizer state and model files hold ``STORED`` dtypes only:
  float32 or float64. A float32 run stays float32 from the data to the file.
- **Check.** The gradient checker evaluates J in ``WIDE``, the widest float the platform
  has (80-bit long double on x86-64 Linux), so that finite differences measure gradients,
  not rounding.

Everything here is a leaf: it imports nothing from chainrule.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

STORED: tuple[np.dtype, ...] = (np.dtype(np.float32), np.dtype(np.float64))
WIDE = np.longdouble


def compute_dtype(dtype: Any) -> np.dtype:
    """The dtype a computation on data of ``dtype`` runs in (see the table above)."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float16):
        return np.dtype(np.float32)
    if dtype == np.longdouble:
        return np.dtype(np.longdouble)
    return np.dtype(np.float64)


@functools.cache
def accumulate_dtype(dtype: Any) -> np.dtype:
    """The dtype sums of values of ``dtype`` (the cost J, ‖W‖²) are accumulated in: at least float64."""
    return np.promote_types(dtype, np.float64)


def stored_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """``dtype`` if parameters and files may hold it (float32, float64), else a clear ``ValueError``."""
    dtype = np.dtype(dtype)
    if dtype not in STORED:
        raise ValueError(f"{name} must be float32 or float64; got {dtype}")
    return dtype
