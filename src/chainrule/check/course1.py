"""Checks of Course 1's functions: the L-layer network (week 4) and the planar two-layer
network (week 3), each run on the course's recipes and random networks and compared with
chainrule's own layer functions.

Each ``check_<name>(fn)`` returns a FunctionReport. The reference never calls the learner's
code: it is chainrule's linear_forward, activations, linear_backward, losses and init_params.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..activations import get_activation
from ..layers import LayerParams, linear_backward, linear_forward
from ..losses import binary_cross_entropy, binary_cross_entropy_dAL, cost_from_loss
from ..model import INIT_SCHEMES, ModelConfig, init_params
from ..training import TrainConfig, TrainState, fit
from .arrays import as_array, relate
from .backprop import Variant, analyse_layer
from .calls import _same, call
from .common import ShapeOfReturn, array_finding, changed_in_place, in_course_order, run_cases, unpack, wrong
from .recipes import (
    Network,
    course_forward,
    course_L_model_backward_case,
    course_L_model_forward_case,
    deep_networks,
    random_network,
)
from .report import Finding, FunctionReport, merge

ABSORBED = ("your dZ[{L}] is (1/m)(A[{L}] − Y) = ∂J/∂Z[{L}] and your dW, db are plain sums: that is the absorbed "
            "convention; your dW, db equal the course's to {error}. Also correct. Your dA, dZ are ∂J, m times smaller "
            "than the course's per-example ones{consequence}")


def _positional_count(fn) -> int:
    try:
        parameters = inspect.signature(fn).parameters.values()
        return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
    except (TypeError, ValueError):
        return 0


def _alike(got, want) -> bool:
    """The same structure of tuples and lists, with arrays equal to the learner's precision."""
    if isinstance(want, list | tuple):
        return isinstance(got, list | tuple) and len(got) == len(want) and all(map(_alike, got, want))
    return relate(got, want).kind == "equal"


def _cache_findings(name: str, got, want) -> list[Finding]:
    if _alike(got, want):
        return []
    return [wrong("cache", f"{name} is not what the course's backward needs: expected {_structure(want)}, got "
                  f"{_structure(got)}", "cache = (A_prev, W, b) for linear_forward; (linear_cache, Z) for "
                  "linear_activation_forward")]


def _structure(value) -> str:
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_structure(v) for v in value) + ")"
    array = as_array(value)
    return f"array{array.shape}" if array is not None else type(value).__name__


# --- forward ------------------------------------------------------------------------------------


def _linear_cases():
    r = np.random.RandomState(1)
    course = (r.randn(3, 2), r.randn(1, 3), r.randn(1, 1))
    g = np.random.default_rng(5)
    return [("the course's linear_forward_test_case (seed 1)", course),
            ("a random layer 4 → 3, m = 5", (g.standard_normal((4, 5)), g.standard_normal((3, 4)),
                                             g.standard_normal((3, 1))))]


def check_linear_forward(fn) -> FunctionReport:
    def one(fn, case):
        A, W, b = case
        c = call(fn, A, W, b)
        Z, cache = unpack(c.value, 2, "(Z, cache)")
        want = linear_forward(A, W, b)
        found = array_finding("Z", Z, want, hypotheses=[
            ("differs", W @ A, "Z is W A: the + b is missing", "Z = np.dot(W, A) + b")],
            fix="Z = np.dot(W, A) + b")
        return [f for f in [found] if f] + _cache_findings("cache", cache, (A, W, b)) + changed_in_place(
            "linear_forward", c.changed)
    return run_cases("linear_forward", fn, _linear_cases(), one)


def check_linear_activation_forward(fn) -> FunctionReport:
    r = np.random.RandomState(2)
    course = (r.randn(3, 2), r.randn(1, 3), r.randn(1, 1))
    g = np.random.default_rng(6)
    rand = (g.standard_normal((4, 5)), g.standard_normal((3, 4)), g.standard_normal((3, 1)))
    cases = [(f"{label}, activation = {a!r}", (data, a)) for label, data in
             (("the course's linear_activation_forward_test_case (seed 2)", course),
              ("a random layer 4 → 3, m = 5", rand))
             for a in ("sigmoid", "relu")]

    def one(fn, case):
        (A_prev, W, b), activation = case
        c = call(fn, A_prev, W, b, activation)
        A, cache = unpack(c.value, 2, "(A, cache)")
        Z = linear_forward(A_prev, W, b)
        other = "relu" if activation == "sigmoid" else "sigmoid"
        found = array_finding("A", A, get_activation(activation).forward(Z), hypotheses=[
            ("wrong_activation", get_activation(other).forward(Z), f"A is {other}(Z) where activation = {activation!r}",
             "if activation == 'sigmoid': A = sigmoid(Z); elif activation == 'relu': A = relu(Z)")])
        findings = [found] if found else []
        return findings + _cache_findings("cache", cache, ((A_prev, W, b), Z)) + changed_in_place(
            "linear_activation_forward", c.changed)
    return run_cases("linear_activation_forward", fn, cases, one)


def check_L_model_forward(fn) -> FunctionReport:
    X, parameters = course_L_model_forward_case()
    cases = [("the course's L_model_forward_test_case_2hidden (seed 6)", (X, parameters, 3))]
    cases += [(net.label, (net.X, net.parameters, net.L)) for net in deep_networks()[:3]]

    def one(fn, case):
        X, parameters, L = case
        c = call(fn, X, parameters)
        AL, caches = unpack(c.value, 2, "(AL, caches)")
        activations = ("relu",) * (L - 1) + ("sigmoid",)
        want, want_caches = course_forward(parameters, X, activations)
        found = array_finding("AL", AL, want, hypotheses=[
            ("wrong_activation", course_forward(parameters, X, ("relu",) * L)[0],
             "AL is relu(Z[L]): the output layer must be sigmoid", "the last layer: linear_activation_forward(A, "
             "W[L], b[L], 'sigmoid')"),
            ("wrong_activation", course_forward(parameters, X, ("sigmoid",) * L)[0],
             "AL comes from sigmoid in every layer: the hidden layers must be relu",
             "for l in 1..L−1: linear_activation_forward(A_prev, W[l], b[l], 'relu')")])
        findings = [found] if found else []
        if not isinstance(caches, list | tuple) or len(caches) != L:
            count = len(caches) if isinstance(caches, list | tuple) else type(caches).__name__
            findings.append(wrong("cache", f"caches has {count} entries for an L = {L} layer network: one per layer "
                                  "is needed", "caches.append(cache) in every layer, the output layer too"))
        else:
            findings += _cache_findings("caches", caches, want_caches)
        return findings + changed_in_place("L_model_forward", c.changed)
    return run_cases("L_model_forward", fn, cases, one)


def check_compute_cost(fn) -> FunctionReport:
    g = np.random.default_rng(7)
    AL_random = 1 / (1 + np.exp(-g.standard_normal((1, 7))))
    cases = [("the course's compute_cost_test_case", (np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 0]]))),
             ("random A[L], Y with m = 7", (AL_random, (g.random((1, 7)) < 0.5).astype(float)))]
    three = _positional_count(fn) >= 3                                 # the 2017 planar compute_cost(A2, Y, parameters)

    def one(fn, case):
        AL, Y = case
        args = (AL, Y, {"W1": np.zeros((4, 2)), "b1": np.zeros((4, 1)), "W2": np.zeros((1, 4)), "b2": np.zeros((1, 1))})
        c = call(fn, *args[:3 if three else 2])
        m = Y.shape[1]
        J = float(cost_from_loss(binary_cross_entropy(AL, Y)))
        found = array_finding("J", np.asarray(c.value, dtype=float).reshape(()) if np.size(c.value) == 1 else c.value,
                              np.array(J), m, fix="J = −(1/m) Σ (Y log A[L] + (1 − Y) log(1 − A[L]))")
        findings = [found] if found else []
        if found is None and np.ndim(c.value) != 0:
            findings.append(Finding("note", "shape", f"J is an array of shape {np.shape(c.value)}, not a number",
                                    "cost = np.squeeze(cost) (or float(cost)), as the course does"))
        return findings + changed_in_place("compute_cost", c.changed)
    return run_cases("compute_cost", fn, cases, one,
                     recognised="compute_cost(A2, Y, parameters) (2017 notebooks)" if three else "")


# --- backward -----------------------------------------------------------------------------------


def check_linear_backward(fn) -> FunctionReport:
    r = np.random.RandomState(1)
    course = (r.randn(3, 4), r.randn(5, 4), r.randn(3, 5), r.randn(3, 1))
    g = np.random.default_rng(8)
    cases = [("the course's linear_backward_test_case (seed 1)", course),
             ("a random layer 4 → 3, m = 7", tuple(g.standard_normal(s) for s in ((3, 7), (4, 7), (3, 4), (3, 1)))),
             ("a random layer 2 → 3, m = 1", tuple(g.standard_normal(s) for s in ((3, 1), (2, 1), (3, 2), (3, 1))))]

    def one(fn, case):
        dZ, A_prev, W, b = case
        return _lone_layer("linear_backward", call(fn, dZ, (A_prev, W, b)), dZ, (A_prev, W, b, None), None)
    return run_cases("linear_backward", fn, cases, one)


def _lone_layer(name: str, c, dA: np.ndarray, cache: tuple, activation: str | None) -> list[Finding]:
    """The findings of a layer's backward that returned (dA_prev, dW, db) for dA (dZ when
    ``activation`` is None) and cache (A_prev, W, b, Z)."""
    A_prev, W, b, _ = cache
    (dA_prev, dW, db), order = in_course_order(unpack(c.value, 3, "(dA_prev, dW, db)"),
                                               (A_prev.shape, W.shape, b.shape), ("dA_prev", "dW", "db"))
    result = analyse_layer(None, {"dW": dW, "db": db, "dA_prev": dA_prev}, dA, cache, activation, dA.shape[1])
    return order + result.findings + changed_in_place(name, c.changed)


def check_linear_activation_backward(fn) -> FunctionReport:
    r = np.random.RandomState(2)
    course = (r.randn(1, 2), r.randn(3, 2), r.randn(1, 3), r.randn(1, 1), r.randn(1, 2))
    g = np.random.default_rng(9)
    rand = [g.standard_normal(s) for s in ((3, 7), (4, 7), (3, 4), (3, 1), (3, 7))]
    rand[4][0, :2] = 0.0                                                  # Z = 0, where relu has no derivative
    cases = [(f"{label}, activation = {a!r}", (data, a)) for label, data in
             (("the course's linear_activation_backward_test_case (seed 2)", course),
              ("a random layer 4 → 3, m = 7, with Z = 0 in two entries", tuple(rand))) for a in ("sigmoid", "relu")]

    def one(fn, case):
        (dA, A_prev, W, b, Z), activation = case
        return _lone_layer("linear_activation_backward", call(fn, dA, ((A_prev, W, b), Z), activation), dA,
                           (A_prev, W, b, Z), activation)
    return run_cases("linear_activation_backward", fn, cases, one)


def reference_grads(net: Network) -> dict[str, np.ndarray]:
    """The course's grads {"dA{l-1}", "dW{l}", "db{l}"} of a network, by chainrule's layer functions."""
    dA, grads = binary_cross_entropy_dAL(net.AL, net.Y), {}
    for l in range(net.L, 0, -1):
        (A_prev, W, b), Z = net.caches[l - 1]
        g = get_activation(net.activations[l - 1])
        dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_backward(g.backward(dA, Z, g.forward(Z)), (A_prev, W, b))
        grads[f"dA{l - 1}"] = dA
    return grads


def _key_findings(grads: dict, want: dict[str, np.ndarray]) -> tuple[list[Finding], dict]:
    """Findings for keys of the course's grads that are missing or hold another array, and
    grads with each array found under another key moved to its own (one still missing takes
    the course's value, so that a missing key is said once, not again as a wrong array)."""
    fixed, findings = dict(grads), []
    fix = 'grads["dA" + str(l-1)], grads["dW" + str(l)], grads["db" + str(l)] for layer l'
    for key, array in want.items():
        if key in grads and relate(grads[key], array).kind in ("equal", "scaled", "transposed", "flat"):
            continue
        holder = next((k for k in grads if k != key and relate(grads[k], array).kind in ("equal", "scaled")), None)
        if holder is not None:
            fixed[key] = grads[holder]
            what = f"grads[{key!r}] holds another array" if key in grads else f"grads has no {key!r}"
            findings.append(wrong("wrong_key", f"{what}; grads[{holder!r}] holds it: the key's index is off", fix))
        elif key not in grads:
            fixed[key] = array
            keys = ", ".join(map(str, grads)) or "none"
            findings.append(wrong("wrong_key", f"grads has no {key!r} (its keys: {keys})", fix))
    layers = {int(k[2:]) for k in want if k[:2] == "dW" and k not in grads and not any(
        k in f.message and "holds it" in f.message for f in findings)}
    for l in sorted(layers):
        if f"db{l}" not in grads:                              # nothing at all for layer l: the loop skipped it
            keys = (f"'dW{l}'", f"'db{l}'", f"'dA{l - 1}'")
            findings = [f for f in findings if not any(k in f.message for k in keys)]
            findings.append(wrong("wrong_key", f"grads has nothing for layer {l} (no dW{l}, db{l}): the loop over "
                                  "the layers skips it", "for l in reversed(range(L - 1)): layers L−1 … 1 "
                                  "(l = L−2 … 0), after layer L"))
    return findings, fixed


def analyse_network(grads: dict, net: Network, dAL: np.ndarray) -> tuple[list[Finding], float | None]:
    """Per-layer findings for a learner's grads of ``net``, each layer fed the learner's own dA[l];
    and the scale of the learner's dA[L−1] (1: per example, 1/m: ∂J) or None."""
    findings: list[Finding] = []
    dA, s_in, s_top = dAL, 1.0, None
    for l in range(net.L, 0, -1):
        (A_prev, W, b), Z = net.caches[l - 1]
        got = {"dW": grads.get(f"dW{l}"), "db": grads.get(f"db{l}")}
        if f"dA{l - 1}" in grads:
            got["dA_prev"] = grads[f"dA{l - 1}"]
        others = {f"A[{l + 1}]": get_activation(net.activations[l]).forward(net.caches[l][1])} if l < net.L else {}
        below_Z = net.caches[l - 2][1] if l > 1 and net.activations[l - 2] == "relu" else None
        result = analyse_layer(l, got, dA, (A_prev, W, b, Z), net.activations[l - 1], net.m, s_in, top=l == net.L,
                               others=others, below_Z=below_Z, extra=_output_variants(net) if l == net.L else ())
        findings += result.findings
        if l == net.L:
            s_top = result.s_out
        learner_dA = as_array(got.get("dA_prev"))
        if learner_dA is not None and learner_dA.shape == A_prev.shape:
            dA, s_in = learner_dA, (result.s_out if result.s_out is not None else 1.0)
        else:
            g = get_activation(net.activations[l - 1])
            dA = W.T @ g.backward(dA, Z, g.forward(Z))
    return findings, s_top


def _output_variants(net: Network) -> tuple[Variant, ...]:
    """The dZ[L] learners write other than dA[L] ⊙ σ′(Z[L]): A[L] − Y directly (right for a
    real forward pass; the course's test case, whose AL is random, tells it apart), and
    A[L] − Y taken for dA[L] and multiplied by σ′ again."""
    sigmoid = get_activation("sigmoid")
    ZL = net.caches[-1][1]
    fused = net.AL - net.Y
    return (Variant("fused_delta", "your dZ[L] is A[L] − Y, the fused form: right whenever A[L] = σ(Z[L]), as in a "
                    "real forward pass, but the course's L_model_backward_test_case gives a random AL, and its "
                    "expected values follow dA[L] and sigmoid_backward", fused, "note",
                    "dAL = −(Y/AL − (1 − Y)/(1 − AL)), then linear_activation_backward(dAL, cache, 'sigmoid'), to "
                    "match the course's tests too"),
            Variant("wrong_g_prime", "your dA[L] is A[L] − Y, which is already dZ[L] = ∂L/∂Z[L]; multiplied by σ′ "
                    "again it is neither", sigmoid.backward(fused, ZL, sigmoid.forward(ZL)), "wrong",
                    "dAL = −(np.divide(Y, AL) − np.divide(1 − Y, 1 − AL)): ∂L/∂A[L]"))


def absorbed_finding(grads: dict, want: dict, L: int, consequence: str) -> Finding:
    """The finding of a backward in the absorbed convention, with the largest relative
    difference of its dW, db from the course's."""
    error = max((float(np.max(np.abs(as_array(grads[k]) - want[k]))) / max(float(np.max(np.abs(want[k]))), 1e-300)
                 for k in want if k[:2] in ("dW", "db")), default=0.0)
    return Finding("absorbed", "absorbed", ABSORBED.format(L=L, error=f"{max(error, 1e-16):.0e}",
                                                           consequence=consequence))


def _course_keys(grads: dict, L: int) -> tuple[dict, bool]:
    """grads with the dA keys of the 2017–19 notebooks (grads["dA" + str(l)] holding dA[l−1])
    moved to today's ("dA" + str(l−1)), and whether they were."""
    if f"dA{L}" in grads and "dA0" not in grads:
        return {**{k: v for k, v in grads.items() if not k.startswith("dA")},
                **{f"dA{l - 1}": grads[f"dA{l}"] for l in range(1, L + 1) if f"dA{l}" in grads}}, True
    return grads, False


def check_L_model_backward(fn) -> FunctionReport:
    nets = [course_L_model_backward_case()] + deep_networks()
    seen = {"old_keys": False}

    def one(fn, net):
        c = call(fn, net.AL, net.Y, net.caches)
        if not isinstance(c.value, dict):
            raise ShapeOfReturn(f"returned a {type(c.value).__name__} where the course's returns the dict grads")
        want = reference_grads(net)
        grads, old = _course_keys(c.value, net.L)
        seen["old_keys"] |= old
        findings, grads = _key_findings(grads, want)
        layer_findings, s_top = analyse_network(grads, net, binary_cross_entropy_dAL(net.AL, net.Y))
        findings += merge(layer_findings, net.L)
        absorbed = net.m > 1 and s_top is not None and abs(s_top * net.m - 1) < 1e-9    # dZ[L] holds a 1/m
        if absorbed:
            findings = [f._replace(message=f.message.replace("is applied twice", "is applied twice: your dA[L−1] is "
                                                             "1/m of the course's, so dZ[L] already holds the 1/m "
                                                             "(absorbed) and dW, db divide by m again (deferred)"))
                        if f.kind == "double_one_over_m" else f for f in findings]
        if not any(f.status == "wrong" for f in findings) and absorbed:
            findings.append(absorbed_finding(grads, want, net.L, ", which the course's tests of dA0 … dA[L−1] "
                                             "would flag"))
        return findings + changed_in_place("L_model_backward", c.changed)

    report = run_cases("L_model_backward", fn, [(net.label, net) for net in nets], one, extra=_one_absorbed)
    recognised = 'grads["dA" + str(l)] holds dA[l−1] (2017–19 notebooks)' if seen["old_keys"] else ""
    return FunctionReport(report.name, report.findings, recognised, report.cases)


def _one_absorbed(findings: list[Finding]) -> list[Finding]:
    """The absorbed finding once (the problems differ only in its measured error)."""
    absorbed = [f for f in findings if f.kind == "absorbed"]
    return [f for f in findings if f.kind != "absorbed"] + absorbed[:1]


# --- initialisation and update -----------------------------------------------------------------


def _init_reference(layer_dims, seed: int, scheme: str) -> dict:
    params = init_params(ModelConfig(list(layer_dims)), np.random.RandomState(seed), scheme, 0.01)
    return {k: v for l, p in enumerate(params, start=1) for k, v in ((f"W{l}", p.W), (f"b{l}", p.b))}


def _init_check(name: str, fn, args_list, schemes) -> FunctionReport:
    """Initialisation: run twice with different global seeds to see whether it seeds itself, then
    find the course's seed and scheme it reproduces."""
    state = np.random.get_state()
    recognised = []

    def one(fn, case):
        args, layer_dims = case
        np.random.seed(2)
        first = call(fn, *args).value
        np.random.seed(99)
        second = call(fn, *args).value
        if not isinstance(first, dict):
            raise ShapeOfReturn(f"returned a {type(first).__name__} where the course's returns the dict parameters")
        own_seed = _same(first, second)
        seeds = range(0, 11) if own_seed else [2]
        for scheme in schemes:
            for seed in seeds:
                want = _init_reference(layer_dims, seed, scheme)
                if want.keys() == first.keys() and all(relate(first[k], want[k]).kind == "equal" for k in want):
                    how = "× 0.01" if scheme == "random" else "/ √n[l−1]"
                    recognised.append(f"randn {how}, " + (f"seeding np.random.seed({seed}) itself" if own_seed
                                                         else "drawing from the caller's np.random"))
                    return []
        want = _init_reference(layer_dims, seeds[0], schemes[0])
        findings = []
        for key in want:
            if key not in first:
                keys = ", ".join(map(str, first))
                findings.append(wrong("wrong_key", f"parameters has no {key!r} (its keys: {keys})",
                                      'parameters["W" + str(l)], parameters["b" + str(l)]'))
                continue
            if key.startswith("b"):
                f = array_finding(key, first[key], want[key], fix=f"{key} = np.zeros((n[l], 1))")
            elif relate(first[key], want[key]).kind in ("shape", "transposed"):
                f = array_finding(key, first[key], want[key], fix=f"{key} = np.random.randn(n[l], n[l−1]) * 0.01")
            else:
                shape_ok = np.shape(first[key]) == want[key].shape
                f = None if shape_ok else array_finding(key, first[key], want[key])
            if f:
                findings.append(f)
        if not findings:
            findings.append(wrong("differs", "the weights have the course's shapes but not its draws: the course "
                                  "draws W1, W2, … in order with np.random.randn(n[l], n[l−1]) × 0.01 after "
                                  "np.random.seed(…)", "W = np.random.randn(layer_dims[l], layer_dims[l-1]) * 0.01"))
        return findings
    try:
        report = run_cases(name, fn, args_list, one)
    finally:
        np.random.set_state(state)
    return FunctionReport(report.name, report.findings, "; ".join(dict.fromkeys(recognised)), report.cases)


def check_initialize_parameters_deep(fn) -> FunctionReport:
    schemes = ["random"] + (["xavier_course"] if "xavier_course" in INIT_SCHEMES else [])
    cases = [("the course's layer_dims [5, 4, 3]", (([5, 4, 3],), (5, 4, 3))),
             ("layer_dims [4, 3, 3, 2, 1]", (([4, 3, 3, 2, 1],), (4, 3, 3, 2, 1)))]
    return _init_check("initialize_parameters_deep", fn, cases, schemes)


def check_initialize_parameters(fn) -> FunctionReport:
    cases = [("the course's n_x, n_h, n_y = 2, 4, 1", ((2, 4, 1), (2, 4, 1))),
             ("n_x, n_h, n_y = 3, 2, 1", ((3, 2, 1), (3, 2, 1)))]
    return _init_check("initialize_parameters", fn, cases, ["random"])


def check_update_parameters(fn) -> FunctionReport:
    r = np.random.RandomState(2)
    params = {"W1": r.randn(3, 4), "b1": r.randn(3, 1), "W2": r.randn(1, 3), "b2": r.randn(1, 1)}
    r = np.random.RandomState(3)
    grads = {"dW1": r.randn(3, 4), "db1": r.randn(3, 1), "dW2": r.randn(1, 3), "db2": r.randn(1, 1)}
    g = np.random.default_rng(10)
    params2 = {k: g.standard_normal(v.shape) for k, v in params.items()}
    grads2 = {k: g.standard_normal(v.shape) for k, v in grads.items()}
    cases = [("the course's update_parameters_test_case, α = 0.1", (params, grads, 0.1)),
             ("random parameters, α = 1.2", (params2, grads2, 1.2))]
    in_place = []

    def one(fn, case):
        parameters, grads, alpha = case
        c = call(fn, parameters, grads, alpha)
        got = c.value
        if not isinstance(got, dict):
            raise ShapeOfReturn(f"returned a {type(got).__name__} where the course's returns the dict parameters")
        findings = []
        for key in parameters:
            want = parameters[key] - alpha * grads["d" + key]
            new = as_array(got.get(key))
            step = relate(parameters[key] - new if new is not None and new.shape == parameters[key].shape else None,
                          grads["d" + key])
            used = [("differs", parameters[key] - step.factor * grads["d" + key], f"{key} moves by {step.factor:g} "
                     f"d{key}, not by the learning_rate given, {alpha:g}: it reads another learning rate (a global "
                     "variable?)", f"{key} = {key} − learning_rate · d{key}, learning_rate the argument")] \
                if step.kind == "scaled" and step.factor > 0 else []
            f = array_finding(key, got.get(key), want, hypotheses=[
                ("sign", parameters[key] + alpha * grads["d" + key], f"{key} moves up the gradient: + α d{key}",
                 f"{key} = {key} − α d{key}"), *used], fix=f"{key} = {key} − α d{key}")
            if f:
                findings.append(f)
        if c.changed and set(c.changed) <= {f"{c_name}[{k!r}]" for c_name in ("parameters", "params")
                                            for k in parameters}:
            in_place.append(True)
        elif c.changed:
            findings += changed_in_place("update_parameters", c.changed)
        return findings

    report = run_cases("update_parameters", fn, cases, one)
    if in_place:
        note = Finding("note", "in_place", "it updates the parameters dict it is given, in place (as the 2017–19 "
                       "notebooks did); the newer ones copy it first, so the caller's dict is left as it was",
                       "parameters = copy.deepcopy(params) before the loop")
        return FunctionReport(report.name, report.findings + (note,), "updates in place (2017–19 notebooks)",
                              report.cases)
    return report


# --- the planar network (week 3) ---------------------------------------------------------------


def _planar(seed: int, m: int, n_x: int = 2, n_h: int = 4) -> Network:
    return random_network((n_x, n_h, 1), m, seed, hidden="tanh")


def _planar_cache(net: Network) -> dict:
    (_, _, _), Z1 = net.caches[0]
    (A1, _, _), Z2 = net.caches[1]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": net.AL}


def check_layer_sizes(fn) -> FunctionReport:
    r = np.random.RandomState(1)
    cases = [("the course's layer_sizes_test_case (X (5, 3), Y (2, 3))", (r.randn(5, 3), r.randn(2, 3))),
             ("X (2, 400), Y (1, 400)", (np.zeros((2, 400)), np.zeros((1, 400))))]

    def one(fn, case):
        X, Y = case
        got = call(fn, X, Y).value
        want = (X.shape[0], 4, Y.shape[0])
        if not isinstance(got, tuple | list) or tuple(got) != want:
            return [wrong("differs", f"returned {got!r} where the course's is (n_x, n_h, n_y) = {want}",
                          "n_x = X.shape[0]; n_h = 4; n_y = Y.shape[0]")]
        return []
    return run_cases("layer_sizes", fn, cases, one)


def check_forward_propagation(fn) -> FunctionReport:
    nets = [_planar(11, 3), _planar(12, 1), _planar(13, 6, n_x=3, n_h=5)]

    def one(fn, net):
        c = call(fn, net.X, net.parameters)
        A2, cache = unpack(c.value, 2, "(A2, cache)")
        want = _planar_cache(net)
        swapped = course_forward(net.parameters, net.X, ("sigmoid", "tanh"))[0]
        relu = course_forward(net.parameters, net.X, ("relu", "sigmoid"))[0]
        f = array_finding("A2", A2, net.AL, hypotheses=[
            ("wrong_activation", swapped, "A2 = tanh(Z2) and A1 = σ(Z1): the activations are swapped",
             "A1 = np.tanh(Z1); A2 = sigmoid(Z2)"),
            ("wrong_activation", relu, "A1 = relu(Z1): the planar network's hidden layer is tanh",
             "A1 = np.tanh(Z1)")])
        findings = [f] if f else []
        if not isinstance(cache, dict):
            findings.append(wrong("cache", f"cache is a {type(cache).__name__}; the course's is the dict "
                                  '{"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}'))
        elif not f:
            for key in want:
                g = array_finding(f"cache[{key!r}]", cache.get(key), want[key])
                if g:
                    findings.append(g)
        return findings + changed_in_place("forward_propagation", c.changed)
    return run_cases("forward_propagation", fn, [(n.label, n) for n in nets], one)


def check_backward_propagation(fn) -> FunctionReport:
    nets = [_planar(21, 3), _planar(22, 1), _planar(23, 7, n_x=3, n_h=5)]
    keys = ("dW1", "db1", "dW2", "db2")

    def one(fn, net):
        cache = _planar_cache(net)
        c = call(fn, net.parameters, cache, net.X, net.Y)
        if not isinstance(c.value, dict):
            raise ShapeOfReturn(f"returned a {type(c.value).__name__} where the course's returns the dict grads")
        grads = c.value
        findings = [wrong("wrong_key", f"grads has no {k!r} (its keys: {', '.join(map(str, grads))})",
                          'grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}') for k in keys if k not in grads]
        (X, W1, b1), Z1 = net.caches[0]
        (A1, W2, b2), Z2 = net.caches[1]
        dZ2 = net.AL - net.Y                                            # per example: A[2] − Y
        top = analyse_layer(2, {"dW": grads.get("dW2"), "db": grads.get("db2")}, dZ2, (A1, W2, b2, Z2), None, net.m,
                            A_layer=net.AL)
        low = analyse_layer(1, {"dW": grads.get("dW1"), "db": grads.get("db1")}, W2.T @ dZ2, (X, W1, b1, Z1), "tanh",
                            net.m, others={"A[2]": net.AL})
        findings += top.findings + low.findings
        local = relate((c.local_vars or {}).get("dZ2"), dZ2)
        if not any(f.status == "wrong" for f in findings) and net.m > 1 and local.kind == "scaled" \
                and abs(local.factor * net.m - 1) < 1e-9:
            _, dW1, db1 = linear_backward(W2.T @ dZ2 * (1 - A1**2), (X, W1, b1))
            _, dW2, db2 = linear_backward(dZ2, (A1, W2, b2))
            want = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
            findings.append(absorbed_finding(grads, want, 2, " (seen in your local dZ2: the planar grads hold only "
                                             "dW, db, so the course's tests cannot tell)"))
        return findings + changed_in_place("backward_propagation", c.changed)
    return run_cases("backward_propagation", fn, [(n.label, n) for n in nets], one, extra=_one_absorbed)


def check_nn_model(fn) -> FunctionReport:
    """nn_model(X, Y, n_h, num_iterations): its start (num_iterations = 0), then 20 iterations,
    compared with chainrule's fit from that same start (tanh, sigmoid, gradient descent, α = 1.2)."""
    net = _planar(31, 8)
    iterations, learning_rate = 20, 1.2

    def one(fn, net):
        state = np.random.get_state()
        try:
            start = call(fn, net.X, net.Y, 4, 0).value
            np.random.set_state(state)
            end = call(fn, net.X, net.Y, 4, iterations).value
        finally:
            np.random.set_state(state)
        keys = ("W1", "b1", "W2", "b2")
        for value in (start, end):
            if not isinstance(value, dict) or not all(k in value for k in keys):
                raise ShapeOfReturn(f"returned {_structure(value)} where the course's returns the dict parameters "
                                    "W1, b1, W2, b2")
        initial = [LayerParams(np.asarray(start["W1"], float), np.asarray(start["b1"], float)),
                   LayerParams(np.asarray(start["W2"], float), np.asarray(start["b2"], float))]
        config = ModelConfig([net.X.shape[0], 4, 1], "tanh", "sigmoid")
        trained = fit(config, net.X, net.Y, TrainConfig(optimizer="gd", learning_rate=learning_rate,
                                                        num_epochs=iterations, divergence_factor=None),
                      state=TrainState(initial)).params
        for l, p in enumerate(trained, start=1):
            for key, want in ((f"W{l}", p.W), (f"b{l}", p.b)):
                relation = relate(end[key], want)
                if relation.kind != "equal":
                    return [wrong("differs", f"after {iterations} iterations {key} differs from gradient descent "
                                  f"with learning_rate = {learning_rate} from your own start: "
                                  f"{relation.detail or relation.kind}", "nn_model loops forward_propagation, "
                                  "compute_cost, backward_propagation, update_parameters: see their findings")]
        return []
    return run_cases("nn_model", fn, [(f"{net.label}, 20 iterations", net)], one)


def check_predict(fn) -> FunctionReport:
    nets = [_planar(41, 9), _planar(42, 1)]

    def one(fn, net):
        got = call(fn, net.parameters, net.X).value
        want = (net.AL > 0.5).astype(float)
        f = array_finding("predictions", got, want, hypotheses=[
            ("differs", (net.AL <= 0.5).astype(float), "predictions are flipped: 1 where A2 ≤ 0.5",
             "predictions = (A2 > 0.5)")], fix="predictions = (A2 > 0.5)")
        return [f] if f else []
    return run_cases("predict", fn, [(n.label, n) for n in nets], one)

