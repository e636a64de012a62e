"""What every function check shares: running it on each problem, turning its exception into
a finding, merging what the problems showed, and the findings common to many functions.

    run_cases(name, fn, cases, one)     FunctionReport from one(fn, case) -> [Finding] per case
    array_finding(name, got, want, m)   the finding for one array that should equal ``want``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .arrays import factor_name, relate
from .calls import LearnerRaised
from .report import Finding, FunctionReport, merge, merge_cases


def correct(what: str = "matches the course's results") -> Finding:
    return Finding("ok", "correct", what)


def wrong(kind: str, message: str, fix: str = "", layers: tuple[int, ...] = ()) -> Finding:
    return Finding("wrong", kind, message, fix, layers)


def run_cases(name: str, fn: Callable, cases: Sequence[tuple[str, Any]], one: Callable, recognised: str = "",
              extra: Callable[[list[Finding]], list[Finding]] | None = None) -> FunctionReport:
    """Run ``one(fn, case)`` on every (label, case); its findings merged over the cases.

    A case where the learner's function raises gives one "raised" finding naming the case;
    ``extra`` may add findings that need all cases' findings (e.g. the convention).
    """
    findings: list[Finding] = []
    for label, case in cases:
        try:
            findings += merge(one(fn, case))
        except LearnerRaised as error:
            findings.append(wrong("raised", f"it {error} (on {label})",
                                  "your own exception: the line named is where it was raised" if " at " in str(error)
                                  else ""))
        except ShapeOfReturn as error:
            findings.append(wrong("differs", f"it {error} (on {label})"))
    findings = merge_cases([f for f in findings if f.kind != "correct"])
    if extra is not None:
        findings = extra(findings)
    if not any(f.status in ("wrong", "absorbed") for f in findings):
        findings = [correct(f"matches the course's results on {len(cases)} problem{'s' * (len(cases) > 1)}")] + findings
    return FunctionReport(name, tuple(findings), recognised, tuple(label for label, _ in cases))


def array_finding(name: str, got: Any, want: np.ndarray, m: int | None = None, hypotheses=(),
                  fix: str = "") -> Finding | None:
    """None when ``got`` equals ``want``; else the finding: a named hypothesis it equals
    (``hypotheses``: (kind, array, message, fix)), a factor (1/m, m, −1), a transpose, a
    missing length-1 axis, or where it differs."""
    relation = relate(got, want)
    if relation.kind == "equal":
        return None
    for kind, array, message, hypothesis_fix in hypotheses:
        if relate(got, array).kind == "equal":
            return wrong(kind, message, hypothesis_fix)
    if relation.kind == "missing":
        return wrong("differs", f"{name} is None: nothing was returned for it", fix or "return it")
    if relation.kind == "not_array":
        return wrong("differs", f"{name} is a {relation.detail}, not numbers", fix)
    if relation.kind == "transposed":
        return wrong("transposed", f"{name} is transposed ({relation.detail})", fix)
    if relation.kind == "flat":
        return wrong("no_keepdims", f"{name} has {relation.detail}: a length-1 axis is missing (keepdims=True, or "
                     f"reshape)", fix)
    if relation.kind == "shape":
        return wrong("differs", f"{name} has {relation.detail}", fix)
    if relation.kind == "scaled":
        factor = factor_name(relation.factor, m) if m else None
        if factor == "m":
            return wrong("missing_one_over_m", f"{name} is exactly m times the course's (m = {m}): the 1/m is missing",
                         fix)
        if factor == "1/m":
            return wrong("double_one_over_m", f"{name} is exactly 1/m of the course's (m = {m}): the 1/m is applied "
                         "twice", fix)
        if factor in ("−1", "-1") or relation.factor == -1.0:
            return wrong("sign", f"{name} has the wrong sign", fix)
        return wrong("differs", f"{name} is {relation.factor:.6g} times the course's", fix)
    return wrong("differs", f"{name} differs from the course's {relation.detail}", fix)


def changed_in_place(name: str, changed: Sequence[str], allowed: str = "") -> list[Finding]:
    """A finding for arguments the function changed in place (none when it changed nothing)."""
    if not changed:
        return []
    shown = ", ".join(changed[:4]) + (", …" if len(changed) > 4 else "")
    return [wrong("mutates_input", f"{name} changed its input in place: {shown}; the caller's arrays are no longer "
                  f"what they were", "work on new arrays (dZ = np.array(dA, copy=True), W = W - α dW) "
                  "instead of writing into the ones passed in" + allowed)]


def unpack(value: Any, count: int, what: str) -> tuple:
    """``value`` as a tuple of ``count``, or LearnerRaised-like finding text via ValueError."""
    if not isinstance(value, tuple | list) or len(value) != count:
        got = f"a {type(value).__name__} of {len(value)}" if isinstance(value, tuple | list) else type(value).__name__
        raise ShapeOfReturn(f"returned {got} where the course's returns {what}")
    return tuple(value)


class ShapeOfReturn(Exception):
    """The learner's function returned another structure than the course's."""


def in_course_order(values: tuple, shapes: tuple, names: tuple[str, ...]) -> tuple[tuple, list[Finding]]:
    """``values`` put in the course's order when their shapes show it another (the shapes all
    differ), with a finding that says so; else as they came."""
    got = [np.shape(v) for v in values]
    if got == list(shapes) or len(set(shapes)) < len(shapes) or sorted(map(str, got)) != sorted(map(str, shapes)):
        return values, []
    order = [got.index(shape) for shape in shapes]
    returned = ", ".join(names[shapes.index(shape)] for shape in got)
    return tuple(values[i] for i in order), [wrong("return_order", f"it returns ({returned}); the course's order is "
                                                   f"({', '.join(names)})", f"return {', '.join(names)}")]
