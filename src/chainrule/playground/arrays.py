"""What backward computed, for the page's equations: one equation's array under both conventions,
and a gradient check of a backward with a planted bug.

Every number comes from the library: ``forward`` and ``backward_trace`` on the current
parameters and the training data (X: (n_x, m), one example per column) give dA[l], dZ[l]
(per example under "deferred", ∂J under "absorbed") and dW[l], db[l] (∂J in both);
``gradient_check`` with ``testing.buggy_backward`` gives the per-layer verdicts.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .._checks import CONVENTIONS, check_convention
from ..explain import CHECK_EXAMPLES
from ..gradcheck import gradient_check
from ..model import ModelConfig, backward_trace, forward
from ..testing import BUGS, buggy_backward

SHOWN = 8            # rows and columns of an array the page shows
_NAME = re.compile(r"^(d?[WbZA])\[(\d+)\]$")


def traces(params: list, X: np.ndarray, Y: np.ndarray, config: ModelConfig, lambd: float) -> dict[str, Any]:
    """{"caches": forward's caches, "deferred": backward_trace, "absorbed": backward_trace} on
    the whole training set (m = its number of columns; with L2, n = m)."""
    AL, caches = forward(params, X, config)
    return {"caches": caches, **{c: backward_trace(AL, Y, caches, config, c, lambd=lambd) for c in CONVENTIONS}}


def _array(found: dict[str, Any], name: str, convention: str, L: int) -> np.ndarray:
    """The array an equation defines: W[l], b[l], Z[l], A[l] (forward) or dW, db, dZ, dA (backward)."""
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"no array to show for {name!r}; choose dW[l], db[l], dZ[l], dA[l], Z[l] or A[l]")
    kind, l = match[1], int(match[2])
    low = 0 if kind == "A" else 1
    high = L - 1 if kind == "dA" else L
    if not low <= l <= high:
        raise ValueError(f"{name} is not an array of this network: l runs from {low} to {high} for {kind}")
    caches, trace = found["caches"], found[convention]
    if kind == "dA":
        return trace[l].dA_prev                                       # dA[l] = W[l+1]ᵀ dZ[l+1]
    if kind in ("dW", "db", "dZ"):
        return getattr(trace[l - 1], kind)
    if kind == "A" and l == 0:
        return caches[0].A_prev
    return getattr(caches[l - 1], kind)


def _shown(array: np.ndarray, examples: list[int] | None) -> list[list[float]]:
    """The part of ``array`` the page shows: the chosen examples' columns of an array with the
    m axis (``examples`` given), else its first ``SHOWN`` columns; at most ``SHOWN`` rows."""
    columns = examples if examples is not None else list(range(min(array.shape[1], SHOWN)))
    return array[:SHOWN][:, columns].tolist()


def _examples(text: Any, m: int) -> list[int]:
    """The example indices asked for ("0,1,2"), each in 0 … m−1, at most ``SHOWN``; none asked
    for: the first three (fewer when m is smaller)."""
    if text in (None, ""):
        return list(range(min(m, 3)))
    try:
        chosen = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"examples must be column indices separated by commas, e.g. 0,1,2; got {text!r}") from None
    if not chosen or len(chosen) > SHOWN or any(not 0 <= i < m for i in chosen):
        raise ValueError(f"examples must be 1 to {SHOWN} column indices from 0 to {m - 1}; got {text!r}")
    return chosen


def inspect_array(found: dict[str, Any], name: str, convention: str, examples: Any, config: ModelConfig,
                  m: int) -> dict[str, Any]:
    """One equation's array under ``convention``, beside the other convention's, and the gap.

    For dW, db the two conventions give the same array: the gap is max |deferred − absorbed|.
    For dZ, dA the absorbed one is the deferred one divided by m: the gap is
    max |deferred − m · absorbed|, and ``factor`` is m. Forward arrays do not depend on it.
    """
    check_convention(convention)
    columns = _examples(examples, m)
    mine = _array(found, name, convention, config.L)
    other_convention = "absorbed" if convention == "deferred" else "deferred"
    other = _array(found, name, other_convention, config.L)
    backward = name.startswith("d")
    per_example_node = name[:2] in ("dZ", "dA")
    factor = m if per_example_node else 1
    deferred, absorbed = (mine, other) if convention == "deferred" else (other, mine)
    shown = columns if name.lstrip("d")[0] in "ZA" else None              # arrays with the m axis
    return {"name": name, "convention": convention, "shape": list(mine.shape), "values": _shown(mine, shown),
            "columns": shown, "other_convention": other_convention, "other_values": _shown(other, shown),
            "backward": backward, "factor": factor, "m": m,
            "gap": float(np.max(np.abs(deferred - factor * absorbed))) if backward else 0.0,
            "max_abs": float(np.max(np.abs(mine)))}


def check_backward(params: list, X: np.ndarray, Y: np.ndarray, config: ModelConfig, convention: str, lambd: float,
                   bug: str) -> dict[str, Any]:
    """``gradient_check`` of chainrule's backward (bug "none") or of one with a planted bug
    (``testing.BUGS``), on the current parameters and the first ``explain.CHECK_EXAMPLES``
    training examples (finite differences cost two forward passes per parameter)."""
    backward_fn = None if bug == "none" else buggy_backward(bug)
    m = min(X.shape[1], CHECK_EXAMPLES)
    result = gradient_check(params, X[:, :m], Y[:, :m], config, convention=convention, backward_fn=backward_fn,
                            lambd=lambd)
    layers = [{"l": c.l, "dW": dW.difference, "db": db.difference, "difference": c.difference,
               "status": c.status, "passed": c.passed}
              for c, dW, db in zip(result.layers, result.arrays[0::2], result.arrays[1::2])]
    return {"bug": bug, "about": BUGS[bug][0] if bug in BUGS else "chainrule's own backward",
            "passed": result.passed, "difference": result.difference, "threshold": result.threshold,
            "failing_layers": result.failing_layers, "layers": layers, "m": m, "table": result.table()}
