"""Checks of what users pass in, each failing with one sentence that names the argument.

Every message says what was expected and what came, so that a learner who passed examples
as rows, labels outside the output's range, or parameters of another network sees at once
what to change.

This is the bottom of the package: it uses only the precision policy (``precision``, a
leaf) to choose the dtype inputs are computed in, and nothing else of chainrule.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .precision import compute_dtype

CONVENTIONS = ("deferred", "absorbed")
INT_MAX = 2 ** 63 - 1                                          # the largest integer an option may be


def check_convention(convention: Any) -> str:
    """``convention`` if it is "deferred" or "absorbed", else a ``ValueError``."""
    if convention not in CONVENTIONS:
        raise ValueError(
            f"convention must be 'deferred' (1/m in dW and db) or 'absorbed' (1/m in dZ[L]); "
            f"got {convention!r}"
        )
    return convention


def check_choice(name: str, value: Any, choices: Any, what: str = "") -> Any:
    """``value`` if it is one of ``choices``, else "unknown {name} {value!r}; expected one of: …"."""
    try:
        known = value in choices
    except TypeError:                                       # an unhashable value
        known = False
    if not known:
        raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(map(str, choices))}{what}")
    return value


def check_number(name: str, value: Any, what: str, test: Callable[[Any], bool], integer: bool = False):
    """``value`` as an int or float if it is a finite (integer) number that passes ``test``.

    Otherwise a ``ValueError``: "{name} must be {what}; got {value!r}". Booleans are not
    numbers here, NumPy scalars are. Integers are 64-bit: one of 2⁶³ or more in size (no count
    of epochs, examples or units is ever that large, and NumPy cannot hold it) is refused.
    """
    kind = numbers.Integral if integer else numbers.Real
    ok = not isinstance(value, bool) and isinstance(value, kind)
    if ok and not integer:
        try:
            ok = math.isfinite(value)
        except OverflowError:                                  # an int beyond every float
            ok = False
    if not ok or not test(value):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    if integer and abs(int(value)) > INT_MAX:
        raise ValueError(f"{name} must be {what} below 2⁶³ (a 64-bit integer); got {value!r}")
    return int(value) if integer else float(value)


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator | np.random.RandomState:
    """A Generator or legacy RandomState as given; an int seed becomes ``default_rng(seed)``."""
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        check_number(f"{name} as a seed", rng, "a non-negative integer", lambda v: v >= 0, integer=True)
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"{name} must be a numpy.random.Generator, a numpy.random.RandomState or an int seed; "
        f"got {type(rng).__name__}"
    )


def all_finite(*arrays: np.ndarray) -> bool:
    """Whether every value of these float arrays is finite, without a boolean array of their size.

    A NaN or ±inf anywhere makes the total of the sums NaN or infinite; only a total that
    overflowed needs the element-wise test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(sum(A.sum() for A in arrays)):
            return True
    return all(bool(np.isfinite(A).all()) for A in arrays)


def as_matrix(value: Any, name: str, dtype: np.dtype | None = None, columns: str = "example",
              stack: bool = False) -> np.ndarray:
    """``value`` as a finite 2-D float array of ``dtype`` (default: ``precision.compute_dtype``), or a ``ValueError``.

    ``columns`` says what a column is ("example" for data, "" for parameters), for the hint
    given when a 1-D array comes. ``stack``: leading axes are allowed too, (…, rows, columns),
    one matrix per network of a stack.
    """
    try:
        A = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 2-D numeric array; could not read it ({exc})") from None
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise ValueError(f"{name} must be a 2-D numeric array; got an array of dtype {A.dtype}")
    if np.issubdtype(A.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real; got an array of dtype {A.dtype}")
    if A.ndim != 2 and not (stack and A.ndim > 2):
        if columns:
            what, hint = f"2-D, one column per {columns}", "use .reshape(1, -1) for one row of m values"
        else:
            what, hint = "2-D", "use .reshape(-1, 1) for a column"
        raise ValueError(
            f"{name} must be {what}; got a {A.ndim}-D array of shape {A.shape}"
            + (f" ({hint})" if A.ndim == 1 else "")
        )
    A = A.astype(dtype or compute_dtype(A.dtype), copy=False)
    if not all_finite(A):
        bad = np.argwhere(~np.isfinite(A))
        where = f"row {bad[0][-2]}, column {bad[0][-1]}" + (f" of network {tuple(map(int, bad[0][:-2]))}"
                                                            if A.ndim > 2 else "")
        raise ValueError(f"{name} must be finite; it has {len(bad)} NaN or infinite value(s), the first at {where}")
    return A


def check_X(X: Any, n_x: int, name: str = "X", stack: bool = False, empty: bool = False) -> np.ndarray:
    """X as an (n_x, m) float array (with ``stack``, also (…, n_x, m)); examples given as rows
    are recognised and named. ``empty``: m = 0 is allowed (a rank's share of validation data)."""
    X = as_matrix(X, name, stack=stack)
    if X.shape[-2] != n_x:
        hint = ""
        if X.shape[-1] == n_x:
            hint = f"; it looks like the examples are rows: pass {name}.T"
        raise ValueError(
            f"{name} must have shape (n_x, m) = ({n_x}, m), one column per example; "
            f"got shape {X.shape}{hint}"
        )
    if X.shape[-1] == 0 and not empty:
        raise ValueError(f"{name} must hold at least one example (column); got m = 0")
    return X


def check_Y(Y: Any, output: str, n_y: int, m: int, dtype: np.dtype, like: str = "X", name: str = "Y",
            stack: bool = False) -> np.ndarray:
    """Y as an (n_y, m) array (with ``stack``, also (…, n_y, m)) of ``dtype`` whose values are
    in the range of ``output``.

    ``like`` names the argument that fixed m (X, or AL), for the message when m differs.

    sigmoid: every value in [0, 1] (0/1 labels, or soft targets); softmax: non-negative
    columns that sum to 1 (one-hot labels, C = n_y rows); identity: any finite value.
    """
    Y = as_matrix(Y, name, dtype, stack=stack)
    if Y.shape[-2:] != (n_y, m):
        hint = ""
        if Y.shape[-2:] == (m, n_y) and n_y != m:
            hint = f"; it looks like the examples are rows: pass {name}.T"
        elif output == "softmax" and Y.shape[-2:] == (1, m):
            hint = f"; one-hot encode the class labels into {n_y} rows"
        elif Y.shape[-1] != m:
            hint = f"; {like} has m = {m} examples"
        raise ValueError(f"{name} must have shape (n_y, m) = ({n_y}, {m}); got shape {Y.shape}{hint}")
    if Y.size == 0:                                                # a rank's empty share
        return Y
    if output == "sigmoid" and (Y.min() < 0 or Y.max() > 1):
        bad = Y.min() if Y.min() < 0 else Y.max()
        raise ValueError(
            f"{name} must hold labels in [0, 1] for a sigmoid output (binary cross-entropy); found {bad:g}"
        )
    if output == "softmax":
        sums = Y.sum(axis=-2, dtype=np.float64)
        tol = 1e-6 if dtype == np.float32 else 1e-12
        if Y.min() < 0 or np.any(np.abs(sums - 1) > tol * n_y):
            raise ValueError(
                f"{name} must be one-hot for a softmax output: non-negative columns of {n_y} values "
                f"that sum to 1; found a column summing to {sums.flat[np.argmax(np.abs(sums - 1))]:g}"
                f" with minimum {Y.min():g}"
            )
    return Y


def check_params(params: Any, layer_dims: tuple[int, ...], dtype: np.dtype | None = None, stack: bool = False) -> list:
    """params as a list of L (W, b) tuples with W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1), all finite.

    With ``stack``, each may have the same leading axes (…, n_l, n_{l-1}) and (…, n_l, 1): a
    stack of networks of this shape, one along each leading index."""
    L = len(layer_dims) - 1
    try:
        n = len(params)
    except TypeError:
        raise ValueError(
            f"params must be a list of {L} (W, b) pairs; got {type(params).__name__}"
        ) from None
    if n != L:
        raise ValueError(
            f"params must hold {L} layers (W, b) for layer_dims {list(layer_dims)}; got {n}"
        )
    checked = []
    for l, layer in enumerate(params, start=1):
        try:
            W, b = layer
        except (TypeError, ValueError):
            raise ValueError(f"params[{l - 1}] must be a pair (W{l}, b{l}); got {layer!r:.60}") from None
        W = as_matrix(W, f"W{l}", dtype, columns="", stack=stack)
        b = as_matrix(b, f"b{l}", dtype, columns="", stack=stack)
        expected_W, expected_b = (layer_dims[l], layer_dims[l - 1]), (layer_dims[l], 1)
        if stack and (W.shape[:-2] != b.shape[:-2] or (checked and W.shape[:-2] != checked[0][0].shape[:-2])):
            first = checked[0][0].shape[:-2] if checked else W.shape[:-2]
            raise ValueError(f"every W and b of a stack must have the same leading axes, the stack's shape {first}; "
                             f"W{l} has {W.shape[:-2]} and b{l} has {b.shape[:-2]}")
        if W.shape[-2:] != expected_W:
            raise ValueError(
                f"W{l} must have shape (n_{l}, n_{l - 1}) = {expected_W} for layer_dims "
                f"{list(layer_dims)}; got {W.shape}"
            )
        if b.shape[-2:] != expected_b:
            raise ValueError(
                f"b{l} must have shape (n_{l}, 1) = {expected_b} for layer_dims "
                f"{list(layer_dims)}; got {b.shape}"
            )
        checked.append((W, b))
    return checked


def check_AL(AL: Any, output: str, n_y: int, stack: bool = False) -> np.ndarray:
    """AL as an (n_y, m) array of values the output layer can produce.

    sigmoid: every value in [0, 1]; softmax: also columns that sum to 1; identity: finite.
    Anything else is not the output of this network, and a cost or gradient from it would
    be a number without meaning.
    """
    AL = as_matrix(AL, "AL", stack=stack)
    if AL.shape[-2] != n_y:
        raise ValueError(f"AL must have shape (n_y, m) = ({n_y}, m); got shape {AL.shape}")
    if output in ("sigmoid", "softmax") and (AL.min() < 0 or AL.max() > 1):
        raise ValueError(
            f"AL must hold probabilities in [0, 1] for a {output} output; found "
            f"{AL.min() if AL.min() < 0 else AL.max():g} (pass the AL that forward returned)"
        )
    if output == "softmax":
        sums = AL.sum(axis=-2, dtype=np.float64)
        tol = 1e-5 if AL.dtype == np.float32 else 1e-10
        if np.any(np.abs(sums - 1) > tol * n_y):
            raise ValueError(
                "AL must have columns that sum to 1 for a softmax output; found a column "
                f"summing to {sums.flat[np.argmax(np.abs(sums - 1))]:g}"
            )
    return AL


def is_stack(params: Any) -> bool:
    """Whether ``params`` are a stack of networks: any W with axes in front of (n_l, n_{l-1})."""
    try:
        return any(np.ndim(layer[0]) > 2 for layer in params)
    except (TypeError, IndexError, ValueError):
        return False                                           # not params at all: check_params says so


def class_count(config: Any) -> int | None:
    """How many class names a network has: n_y for softmax, 2 for one sigmoid unit; else any."""
    if config.output == "softmax":
        return config.n_y
    if config.output == "sigmoid" and config.n_y == 1:
        return 2
    return None


def check_names(name: str, names: Any, count: int | None, what: str) -> list[str]:
    """() or a sequence of ``count`` strings, as a list for JSON."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
        raise ValueError(f"{name} must be a tuple of strings; got {names!r:.80}")
    if names and count is not None and len(names) != count:
        raise ValueError(f"{name} must be empty or hold {count} names ({what}); got {len(names)}")
    return list(names)
