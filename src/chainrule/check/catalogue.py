"""The course's functions ``check`` knows, in the course's order, each with its check.

    CHECKS                      name -> check(fn) -> FunctionReport
    check_functions(namespace)  CheckReport of every known function the namespace defines
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import course1, course2
from .calls import ResourceLimit
from .report import CheckReport, Finding, FunctionReport

CHECKS: dict[str, Callable[[Callable], FunctionReport]] = {
    # Course 1, week 3: the planar two-layer network
    "layer_sizes": course1.check_layer_sizes,
    "initialize_parameters": course1.check_initialize_parameters,
    "forward_propagation": course1.check_forward_propagation,
    "compute_cost": course1.check_compute_cost,
    "backward_propagation": course1.check_backward_propagation,
    "update_parameters": course1.check_update_parameters,
    "nn_model": course1.check_nn_model,
    "predict": course1.check_predict,
    # Course 1, week 4: the L-layer network
    "initialize_parameters_deep": course1.check_initialize_parameters_deep,
    "linear_forward": course1.check_linear_forward,
    "linear_activation_forward": course1.check_linear_activation_forward,
    "L_model_forward": course1.check_L_model_forward,
    "linear_backward": course1.check_linear_backward,
    "linear_activation_backward": course1.check_linear_activation_backward,
    "L_model_backward": course1.check_L_model_backward,
    # Course 2
    "compute_cost_with_regularization": course2.check_compute_cost_with_regularization,
    "backward_propagation_with_regularization": course2.check_backward_propagation_with_regularization,
    "forward_propagation_with_dropout": course2.check_forward_propagation_with_dropout,
    "backward_propagation_with_dropout": course2.check_backward_propagation_with_dropout,
    "gradient_check_n": course2.check_gradient_check_n,
    "random_mini_batches": course2.check_random_mini_batches,
    "update_parameters_with_momentum": course2.check_update_parameters_with_momentum,
    "update_parameters_with_adam": course2.check_update_parameters_with_adam,
}


def _in_context(reports: list[FunctionReport]) -> list[FunctionReport]:
    """linear_backward and linear_activation_backward with plain sums are the absorbed convention
    when the file's own L_model_backward is absorbed: correct in context, said so."""
    by_name = {r.name: r for r in reports}
    whole = by_name.get("L_model_backward")
    if whole is None or whole.status != "absorbed":
        return reports
    out = []
    for r in reports:
        if r.name in ("linear_backward", "linear_activation_backward") and set(r.kinds) == {"missing_one_over_m"}:
            finding = Finding("absorbed", "absorbed", f"on its own, your {r.name} returns plain sums (dW = dZ A_prevᵀ, "
                              "db = Σ dZ): given the course's per-example dZ, as the course's tests give it, that is m "
                              "times the course's dW; given ∂J/∂Z, as your L_model_backward gives it, it is exactly "
                              "∂J/∂W. That is the absorbed convention: correct in context, but the course's tests of "
                              f"{r.name} would fail it")
            r = FunctionReport(r.name, (finding,), r.recognised, r.cases)
        out.append(r)
    return out


CALLS = {"nn_model": ("initialize_parameters", "forward_propagation", "backward_propagation", "update_parameters",
                     "layer_sizes")}


def _through_helpers(reports: list[FunctionReport]) -> list[FunctionReport]:
    """A function that is wrong only because a helper of the same file it calls is wrong says so,
    with the helper's diagnosis (nn_model calls backward_propagation, …)."""
    by_name = {r.name: r for r in reports}
    out = []
    for r in reports:
        helpers = [by_name[h] for h in CALLS.get(r.name, ()) if h in by_name and by_name[h].status == "wrong"]
        if r.status == "wrong" and set(r.kinds) == {"differs"} and helpers:
            findings = tuple(Finding("wrong", f.kind, f"its result differs because it calls your {h.name}, whose "
                                     f"{f.message}", f.fix, f.layers)
                             for h in helpers for f in h.findings if f.status == "wrong")
            r = FunctionReport(r.name, findings, r.recognised, r.cases)
        out.append(r)
    return out


def _checked(name: str, check: Callable, fn: Callable) -> FunctionReport:
    """check(fn), or, when what the learner's function returned cannot even be compared (a
    dict where a number belongs, say), a report that says so instead of ending the check."""
    try:
        return check(fn)
    except ResourceLimit:
        raise
    except Exception as error:                                 # what the learner returned, not the checker
        return FunctionReport(name, (Finding("wrong", "differs", f"check could not compare what it returned with the "
                                             f"course's ({type(error).__name__}: {error})", ""),))


def check_functions(namespace: Mapping[str, Any], file: str = "<namespace>", notes=()) -> CheckReport:
    """Check every function of the course that ``namespace`` defines (e.g. ``globals()`` in a
    notebook), and return the report: ``print(report.text())``, ``report["L_model_backward"]``.

    The global NumPy generator is left as it was found.

    >>> import numpy as np
    >>> def linear_forward(A, W, b):
    ...     return np.dot(W, A) + b, (A, W, b)
    >>> check_functions({"linear_forward": linear_forward})["linear_forward"].status
    'ok'
    """
    if not isinstance(namespace, Mapping):
        raise ValueError(f"namespace must be a dict of names, such as globals(); got {type(namespace).__name__}")
    state = np.random.get_state()
    reports, missing = [], []
    try:
        for name, check in CHECKS.items():
            fn = namespace.get(name)
            if callable(fn):
                reports.append(_checked(name, check, fn))
            else:
                missing.append(name)
    finally:
        np.random.set_state(state)
    if "L_model_backward" not in missing:
        notes = [*notes, "L_model_backward also ran on the course's own test case, whose AL is random (not σ(Z[2])): "
                 "its layers are followed through the layer equations, as the course's test follows them"]
    return CheckReport(file, tuple(_through_helpers(_in_context(reports))), tuple(notes), tuple(missing))
