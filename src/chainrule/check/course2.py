"""Checks of Course 2's functions: L2 regularisation, dropout, gradient checking, mini-batches,
momentum and Adam, on the course's three-layer network (relu, relu, sigmoid) and its caches

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)                  (regularisation)
    cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)          (dropout)

each compared with chainrule's own layers, losses, dropout, batches and optimizers.
"""

from __future__ import annotations

import numpy as np

from ..activations import get_activation
from ..batches import course_mini_batches
from ..gradcheck import gradient_check
from ..layers import LayerGrads, LayerParams, apply_mask, dropout_mask, linear_forward
from ..losses import binary_cross_entropy, cost_from_loss, fused_delta, l2_cost
from ..model import ModelConfig, backward, forward
from ..optimizers import AdamState, MomentumState, adam, momentum
from .arrays import as_array, relate
from .backprop import analyse_layer
from .calls import call
from .common import ShapeOfReturn, array_finding, changed_in_place, run_cases, unpack, wrong
from .report import Finding, FunctionReport

relu, sigmoid = get_activation("relu"), get_activation("sigmoid")
LAYERS = (1, 2, 3)
GRAD_KEYS = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")


def _three_layer(seed: int, m: int, course: bool = False):
    """(X, Y, parameters) of the course's 3-layer network: the regularisation test cases' draws
    (seed 1: X (3, 5), then W1 (2, 3) … b3) when ``course``, else random of sizes 3-2-3-1 … 4-5-3-1."""
    if course:
        r = np.random.RandomState(seed)
        X = r.randn(3, 5)
        Y = np.array([[1, 1, 0, 1, 0]])
        sizes = (3, 2, 3, 1)
        parameters = {}
        for l in LAYERS:
            parameters[f"W{l}"] = r.randn(sizes[l], sizes[l - 1])
            parameters[f"b{l}"] = r.randn(sizes[l], 1)
        return X, Y, parameters
    g = np.random.default_rng(seed)
    sizes = (4, 5, 3, 1)
    parameters = {}
    for l in LAYERS:
        parameters[f"W{l}"] = g.standard_normal((sizes[l], sizes[l - 1])) / np.sqrt(sizes[l - 1])
        parameters[f"b{l}"] = 0.1 * g.standard_normal((sizes[l], 1))
    X = g.standard_normal((4, m))
    Y = (g.random((1, m)) < 0.5).astype(float)
    return X, Y, parameters


def _forward(X, parameters, keep_prob: float = 1.0, rng=None, keep=None, divisor=None):
    """The course's 3-layer forward (relu, relu, sigmoid), with inverted dropout on A1, A2 when
    keep_prob < 1 (masks from ``rng`` as rand(n_l, m) < keep_prob). Returns the layers as dicts.

    ``keep`` and ``divisor`` make the mistakes of a forward with dropout: masks keep(rand,
    keep_prob) from the course's draws, and A ⊙ D / divisor (default: the course's)."""
    A, layers = X, []
    for l in LAYERS:
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = linear_forward(A, W, b)
        g = sigmoid if l == 3 else relu
        A_out = g.forward(Z)
        D = None
        if keep_prob < 1 and l < 3:
            if keep is None:
                D = dropout_mask(A_out.shape, keep_prob, rng, np.float64).astype(int)
                A_out = apply_mask(A_out, D, keep_prob)
            else:
                D = keep(rng.random(A_out.shape), keep_prob)
                A_out = A_out * D / divisor
        layers.append({"A_prev": A, "W": W, "b": b, "Z": Z, "A": A_out, "D": D})
        A = A_out
    return layers


def _regularization_cache(layers):
    return tuple(x for f in layers for x in (f["Z"], f["A"], f["W"], f["b"]))


def _dropout_cache(layers):
    out = []
    for f in layers:
        out += [f["Z"]] + ([f["D"]] if f["D"] is not None else []) + [f["A"], f["W"], f["b"]]
    return tuple(out)


def _cases():
    course = ("the course's regularization test case (seed 1, m = 5)", _three_layer(1, 5, course=True))
    return [course] + [(f"a random 4-5-3-1 network, m = {m}", _three_layer(50 + m, m)) for m in (7, 1)]


# --- L2 -----------------------------------------------------------------------------------------


def check_compute_cost_with_regularization(fn) -> FunctionReport:
    def one(fn, case):
        X, Y, parameters = case
        lambd, m = 0.1, Y.shape[1]
        A3 = _forward(X, parameters)[-1]["A"]
        c = call(fn, A3, Y, parameters, lambd)
        Ws = [parameters[f"W{l}"] for l in LAYERS]
        data = float(cost_from_loss(binary_cross_entropy(A3, Y)))
        want = data + float(l2_cost(Ws, lambd, m))
        squares = sum(float(np.sum(np.square(W))) for W in Ws)
        with_b = sum(float(np.sum(np.square(parameters[f"b{l}"]))) for l in LAYERS)
        got = np.asarray(c.value, dtype=float).reshape(()) if np.size(c.value) == 1 else c.value
        f = array_finding("J", got, np.array(want), hypotheses=[
            ("l2_on_biases", np.array(want + lambd / (2 * m) * with_b), "the L2 term also penalises the biases: "
             "λ/(2m) Σ (‖W[l]‖² + ‖b[l]‖²)", "L2 = λ/(2m) (Σ W1² + Σ W2² + Σ W3²): weights only"),
            ("l2_scale", np.array(data + lambd / 2 * squares), "the L2 term is λ/2 Σ‖W[l]‖²: its 1/m is missing",
             "L2 = (1/m) (λ/2) (np.sum(np.square(W1)) + …)"),
            ("l2_scale", np.array(data + lambd / m * squares), "the L2 term is λ/m Σ‖W[l]‖²: its 1/2 is missing",
             "L2 = (1/m) (λ/2) (np.sum(np.square(W1)) + …)"),
            ("l2_scale", np.array(data), "J has no L2 term", "J = cross-entropy + λ/(2m) Σ‖W[l]‖²")],
            fix="J = cross-entropy + λ/(2m) Σ_l ‖W[l]‖²")
        return ([f] if f else []) + changed_in_place("compute_cost_with_regularization", c.changed)
    return run_cases("compute_cost_with_regularization", fn, _cases(), one)


def _grads_dict(value) -> dict:
    if not isinstance(value, dict):
        raise ShapeOfReturn(f"returned a {type(value).__name__} where the course's returns the dict gradients")
    return value


def _key_findings(grads: dict) -> list[Finding]:
    missing = [k for k in GRAD_KEYS if k not in grads and k[:2] in ("dW", "db")]
    return [wrong("wrong_key", f"gradients has no {k!r} (its keys: {', '.join(map(str, grads))})",
                  'gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, …}') for k in missing]


def _l2_layer(l, grads, layer, dA, m, lambd, s_in, top) -> tuple[list[Finding], float | None]:
    """Findings for layer l of backward_propagation_with_regularization: the data term as any
    layer's once the L2 term (λ/m) W[l] is taken off dW[l]; when that leaves dW[l] wrong, the
    L2 term it does hold (λ W, λ/(2m) W, 2λ/m W, none), and an L2 term in db[l]."""
    W, b = layer["W"], layer["b"]
    dW, db = as_array(grads.get(f"dW{l}")), as_array(grads.get(f"db{l}"))
    got = {"dA_prev": grads[f"dA{l - 1}"]} if f"dA{l - 1}" in grads else {}
    cache, activation = (layer["A_prev"], W, b, layer["Z"]), None if top else "relu"

    def analyse(w_factor, b_factor):
        data_dW = dW - w_factor * W if dW is not None and dW.shape == W.shape else dW
        data_db = db - b_factor * b if db is not None and db.shape == b.shape else db
        return analyse_layer(l, {**got, "dW": data_dW, "db": data_db}, dA, cache, activation, m, s_in, top=top)

    def clean(result, array):
        return not any(f.message.startswith(f"{array}[{l}]") for f in result.findings)

    findings, w_factor = [], lambd / m
    result = analyse(w_factor, 0.0)
    if not clean(result, "dW"):
        for name, factor in (("λ", lambd), ("λ/(2m)", lambd / (2 * m)), ("2λ/m", 2 * lambd / m), ("no", 0.0)):
            alternative = analyse(factor, 0.0)
            if clean(alternative, "dW"):
                findings.append(wrong("l2_scale", f"dW[{l}] has no L2 term" if name == "no" else
                                      f"the L2 term of dW[{l}] is {name} W[{l}], not (λ/m) W[{l}]",
                                      f"dW[{l}] = (1/m) dZ[{l}] A[{l - 1}]ᵀ + (λ/m) W[{l}]: the derivative of "
                                      "λ/(2m)‖W[l]‖²", (l,)))
                result, w_factor = alternative, factor
                break
    if not clean(result, "db"):
        alternative = analyse(w_factor, lambd / m)
        if clean(alternative, "db"):
            findings.append(wrong("l2_on_biases", f"db[{l}] has an L2 term (λ/m) b[{l}]: biases are not penalised",
                                  f"db[{l}] = (1/m) Σ dZ[{l}], with no L2 term", (l,)))
            result = alternative
    return findings + result.findings, result.s_out


def result_dZ(dA: np.ndarray, Z: np.ndarray, activation: str | None) -> np.ndarray:
    """dZ = dA ⊙ g′(Z) (n_l, m); dA itself for the output layer, whose dZ is given."""
    if activation is None:
        return dA
    g = get_activation(activation)
    return g.backward(dA, Z, g.forward(Z))


def check_backward_propagation_with_regularization(fn) -> FunctionReport:
    def one(fn, case):
        X, Y, parameters = case
        lambd, m = 0.7, Y.shape[1]
        layers = _forward(X, parameters)
        c = call(fn, X, Y, _regularization_cache(layers), lambd)
        grads = _grads_dict(c.value)
        findings = _key_findings(grads)
        dA, s_in = fused_delta(layers[2]["A"], Y), 1.0          # dZ3 = A3 − Y, per example
        for l in (3, 2, 1):
            found, s_out = _l2_layer(l, grads, layers[l - 1], dA, m, lambd, s_in, top=l == 3)
            findings += found
            if l > 1:
                learner = grads.get(f"dA{l - 1}")
                if learner is not None and np.shape(learner) == layers[l - 2]["A"].shape:
                    dA, s_in = np.asarray(learner, dtype=float), (s_out if s_out is not None else 1.0)
                else:
                    dA = layers[l - 1]["W"].T @ result_dZ(dA, layers[l - 1]["Z"], None if l == 3 else "relu")
        return findings + changed_in_place("backward_propagation_with_regularization", c.changed)
    return run_cases("backward_propagation_with_regularization", fn, _cases(), one)


# --- dropout ------------------------------------------------------------------------------------


def check_forward_propagation_with_dropout(fn) -> FunctionReport:
    state = np.random.get_state()

    def one(fn, case):
        X, Y, parameters = case
        keep_prob = 0.7
        np.random.seed(1)                    # for generations that do not seed inside; the course's seeds 1 itself
        c = call(fn, X, parameters, keep_prob)
        A3, cache = unpack(c.value, 2, "(A3, cache)")
        layers = _forward(X, parameters, keep_prob, np.random.RandomState(1))
        plain = _forward(X, parameters, keep_prob=1.0)
        unscaled = _forward(X, parameters, keep_prob, np.random.RandomState(1), np.less, 1.0)[2]["A"]
        reversed_mask = _forward(X, parameters, keep_prob, np.random.RandomState(1), np.greater_equal,
                                 keep_prob)[2]["A"]
        f = array_finding("A3", A3, layers[2]["A"], hypotheses=[
            ("dropout_not_scaled", unscaled, "the kept units are not divided by keep_prob: A[l] ⊙ D[l] alone "
             "shrinks every unit's expected value by keep_prob", "A1 = A1 * D1; A1 = A1 / keep_prob (inverted "
             "dropout), the same for A2"),
            ("differs", reversed_mask, "the masks keep a unit where rand ≥ keep_prob, with probability 1 − keep_prob: "
             "they drop the units they should keep", "D1 = (D1 < keep_prob).astype(int)"),
            ("differs", plain[2]["A"], "A3 is the network's output without dropout: no mask was applied",
             "D1 = np.random.rand(A1.shape[0], A1.shape[1]); D1 = (D1 < keep_prob).astype(int); A1 = A1 * D1 / "
             "keep_prob")])
        findings = [f._replace(layers=(1, 2)) if f and f.kind == "dropout_not_scaled" else f] if f else []
        if not f and (not isinstance(cache, tuple | list) or len(cache) != 14):
            findings.append(wrong("cache", "cache is not the course's (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, "
                                  "A3, W3, b3)"))
        return findings + changed_in_place("forward_propagation_with_dropout", c.changed)
    try:
        return run_cases("forward_propagation_with_dropout", fn, _cases(), one)
    finally:
        np.random.set_state(state)


def _dA_finding(l: int, got, back: np.ndarray, D, keep_prob, m: int) -> Finding | None:
    """The finding for dA[l] = W[l+1]ᵀ dZ[l+1] ⊙ D[l] / keep_prob (``back`` = W[l+1]ᵀ dZ[l+1],
    of the learner's own dZ[l+1]), None when it is that."""
    hypotheses = [
        ("dropout_mask_not_reapplied", back / keep_prob, f"dA[{l}] is not multiplied by D[{l}]: units dropped in "
         "the forward pass still pass gradient back", f"dA{l} = dA{l} * D{l}; dA{l} = dA{l} / keep_prob"),
        ("dropout_not_scaled", back * D, f"dA[{l}] is not divided by keep_prob, as A[{l}] was in the forward pass",
         f"dA{l} = dA{l} * D{l} / keep_prob"),
        ("dropout_mask_not_reapplied", back, f"dA[{l}] is neither multiplied by D[{l}] nor divided by keep_prob",
         f"dA{l} = dA{l} * D{l} / keep_prob"),
        ("dropout_not_scaled", back * D * keep_prob, f"dA[{l}] is multiplied by keep_prob where it must be divided "
         f"by it, as A[{l}] was in the forward pass", f"dA{l} = dA{l} * D{l} / keep_prob")]
    f = array_finding(f"dA[{l}]", got, back * D / keep_prob, m, hypotheses=hypotheses)
    return f._replace(layers=(l,)) if f else None


def check_backward_propagation_with_dropout(fn) -> FunctionReport:
    def one(fn, case):
        X, Y, parameters = case
        keep_prob, m = 0.8, Y.shape[1]
        layers = _forward(X, parameters, keep_prob, np.random.RandomState(1))
        c = call(fn, X, Y, _dropout_cache(layers), keep_prob)
        grads = _grads_dict(c.value)
        findings = _key_findings(grads)
        dA, s_in = fused_delta(layers[2]["A"], Y), 1.0               # dZ3 = A3 − Y, per example
        if "dZ3" in grads:                                            # the learner's dZ3 tells its convention
            relation = relate(grads["dZ3"], dA)
            s_in = relation.factor if relation.kind in ("equal", "scaled") else 1.0
            dA = dA * s_in
        for l in (3, 2, 1):
            layer = layers[l - 1]
            activation = None if l == 3 else "relu"
            # the course writes relu′ as 1[A > 0] with the cache's A, which dropout zeroed where D = 0
            Z = layer["Z"] if l == 3 else layer["A"]
            result = analyse_layer(l, {"dW": grads.get(f"dW{l}"), "db": grads.get(f"db{l}")}, dA,
                                   (layer["A_prev"], layer["W"], layer["b"], Z), activation, m, s_in)
            findings += result.findings
            if l == 1:
                break
            back = layer["W"].T @ result_dZ(dA, Z, activation)
            f = _dA_finding(l - 1, grads.get(f"dA{l - 1}"), back, layers[l - 2]["D"], keep_prob, m)
            if f:
                findings.append(f)
            learner = grads.get(f"dA{l - 1}")
            if learner is not None and np.shape(learner) == layers[l - 2]["A"].shape:
                dA = np.asarray(learner, dtype=float)
            else:
                dA = back * layers[l - 2]["D"] / keep_prob
        if m > 1 and abs(s_in * m - 1) < 1e-9 and not any(f.status == "wrong" for f in findings):
            findings.append(Finding("absorbed", "absorbed", "your dZ3 is (1/m)(A3 − Y) = ∂J/∂Z[3] and your dW, db "
                                    "are plain sums: the absorbed convention. Also correct"))
        return findings + changed_in_place("backward_propagation_with_dropout", c.changed)
    return run_cases("backward_propagation_with_dropout", fn, _cases(), one)


# --- gradient checking --------------------------------------------------------------------------


CONFIG = ModelConfig([4, 5, 3, 1], "relu", "sigmoid")          # the gradient checking assignment's network


def _as_layers(parameters: dict) -> list[LayerParams]:
    return [LayerParams(parameters[f"W{l}"], parameters[f"b{l}"]) for l in LAYERS]


def _course_gradients(X, Y, parameters) -> dict:
    """The course's gradients {"dW1", "db1", …} of the 3-layer network, by chainrule's backward."""
    AL, caches = forward(_as_layers(parameters), X, CONFIG)
    grads = backward(AL, Y, caches, CONFIG)
    return {k: v for l, g in enumerate(grads, start=1) for k, v in ((f"dW{l}", g.dW), (f"db{l}", g.db))}


def _difference(X, Y, parameters, gradients, epsilon) -> float:
    """The course's metric ‖g − g̃‖ / (‖g‖ + ‖g̃‖), g̃ from central differences of J computed as the
    course's notebook computes it (chainrule's gradient_check, precision="course")."""
    given = [LayerGrads(gradients[f"dW{l}"], gradients[f"db{l}"]) for l in LAYERS]
    result = gradient_check(_as_layers(parameters), X, Y, CONFIG, epsilon, precision="course",
                            backward_fn=lambda *args, **kwargs: given)
    return float(result.difference)


def check_gradient_check_n(fn) -> FunctionReport:
    """gradient_check_n(parameters, gradients, X, Y, epsilon): run on the course's recipe with the
    course's two planted bugs (dW2 × 2, db1 × 4: the course prints 0.2850931567761623) and with
    correct gradients (the course prints 1.1890913024229996e-07: a pass below 2e-7)."""
    r = np.random.RandomState(1)
    X, Y = r.randn(4, 3), np.array([[1, 1, 0]])
    parameters = {}
    for l, (n, n_prev) in zip(LAYERS, ((5, 4), (3, 5), (1, 3))):
        parameters[f"W{l}"], parameters[f"b{l}"] = r.randn(n, n_prev), r.randn(n, 1)
    good = _course_gradients(X, Y, parameters)
    bugged = dict(good, dW2=2 * good["dW2"], db1=4 * good["db1"])
    cases = [("the course's gradient_check_n_test_case with its two planted bugs (dW2 × 2, db1 × 4)", bugged),
             ("the course's gradient_check_n_test_case, correct gradients", good)]

    def one(fn, gradients):
        c = call(fn, parameters, gradients, X, Y, 1e-7)
        got = np.asarray(c.value, dtype=float)
        if got.size != 1:
            raise ShapeOfReturn(f"returned {c.value!r} where the course's returns the number difference")
        got = float(got.reshape(()))
        if gradients is good:
            if not got < 2e-7:
                return [wrong("differs", f"with correct gradients it returns {got:.3g}, above the course's 2e-7: the "
                              "check would call correct gradients wrong", "difference = ‖grad − gradapprox‖ / "
                              "(‖grad‖ + ‖gradapprox‖), gradapprox[i] = (J⁺ − J⁻) / (2ε)")]
            return []
        want = _difference(X, Y, parameters, gradients, 1e-7)
        if abs(got - want) <= 1e-6 * want:
            return []
        return [wrong("differs", f"it returns {got:.10g} where the course's metric gives {want:.10g} (the course "
                      "prints 0.2850931567761623)", "difference = np.linalg.norm(grad − gradapprox) / "
                      "(np.linalg.norm(grad) + np.linalg.norm(gradapprox))")]
    return run_cases("gradient_check_n", fn, cases, one)


# --- mini-batches and optimizers ----------------------------------------------------------------


def check_random_mini_batches(fn) -> FunctionReport:
    g = np.random.default_rng(60)
    cases = [(f"X (3, {m}), Y (1, {m}), mini_batch_size = {size}, seed = {seed}",
              (g.standard_normal((3, m)), (g.random((1, m)) < 0.5).astype(float), size, seed))
             for m, size, seed in ((148, 64, 0), (128, 64, 1), (10, 64, 2))]
    state = np.random.get_state()

    def one(fn, case):
        X, Y, size, seed = case
        c = call(fn, X, Y, size, seed)
        batches = c.value
        m = X.shape[1]
        order = course_mini_batches(size, seed - 1)(0, m)          # epoch 0 permutes with RandomState(seed)
        if not isinstance(batches, list | tuple) or not all(isinstance(b, tuple | list) and len(b) == 2
                                                             for b in batches):
            raise ShapeOfReturn("did not return a list of (mini_batch_X, mini_batch_Y) pairs")
        findings = []
        if len(batches) != len(order):
            findings.append(wrong("differs", f"{len(batches)} mini-batches for m = {m} and size {size}; the course's "
                                  f"{len(order)}: full batches of {size}, then the remaining {m % size or size}",
                                  "num_complete = m // mini_batch_size, then one more batch when m % mini_batch_size"))
            return findings
        for k, ((bX, bY), index) in enumerate(zip(batches, order)):
            if relate(bX, X[:, index]).kind != "equal" and k == len(order) - 1 and k > 0:
                findings.append(wrong("differs", f"the last mini-batch is not the remaining {len(index)} examples "
                                      f"(the earlier ones are right): its {relate(bX, X[:, index]).detail}",
                                      "mini_batch_X = shuffled_X[:, num_complete_minibatches * mini_batch_size : m]"))
                break
            if relate(bX, X[:, index]).kind != "equal":
                unshuffled = relate(bX, X[:, k * size:k * size + len(index)]).kind == "equal"
                findings.append(wrong("shuffle", "mini-batch X is not shuffled" if unshuffled else
                                      f"mini-batch {k + 1}'s X is not the course's (np.random.seed(seed); "
                                      "permutation = list(np.random.permutation(m)))",
                                      "shuffled_X = X[:, permutation]; shuffled_Y = Y[:, permutation]"))
                break
            if relate(bY, Y[:, index]).kind != "equal":
                findings.append(wrong("shuffle", f"mini-batch {k + 1}'s Y is not the labels of its X: Y must be "
                                      "shuffled with the same permutation as X",
                                      "shuffled_Y = Y[:, permutation].reshape((1, m))"))
                break
        return findings
    try:
        return run_cases("random_mini_batches", fn, cases, one)
    finally:
        np.random.set_state(state)


def _to_list(d: dict, prefix: str = "") -> list:
    L = len([k for k in d if k.startswith(prefix + "W")])
    return [(d[f"{prefix}W{l}"], d[f"{prefix}b{l}"]) for l in range(1, L + 1)]


def _optimizer_case(seed: int):
    g = np.random.default_rng(seed)
    shapes = {"W1": (3, 4), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}
    parameters = {k: g.standard_normal(s) for k, s in shapes.items()}
    grads = {"d" + k: g.standard_normal(s) for k, s in shapes.items()}
    v = {"d" + k: 0.1 * g.standard_normal(s) for k, s in shapes.items()}
    s = {"d" + k: 0.1 * np.abs(g.standard_normal(s)) for k, s in shapes.items()}
    return parameters, grads, v, s


def _compare_dicts(name: str, got: dict, want: dict, hypotheses=()) -> list[Finding]:
    findings = []
    for key, array in want.items():
        f = array_finding(f"{name}[{key!r}]", got.get(key) if isinstance(got, dict) else None, array,
                          hypotheses=[(kind, h[key], message, fix) for kind, h, message, fix in hypotheses])
        if f:
            findings.append(f)
            break
    return findings


def check_update_parameters_with_momentum(fn) -> FunctionReport:
    cases = [(f"random parameters, β = {beta}, α = {alpha}", (_optimizer_case(70 + i), beta, alpha))
             for i, (beta, alpha) in enumerate(((0.9, 0.01), (0.5, 0.1)))]

    def one(fn, case):
        (parameters, grads, v, _), beta, alpha = case
        c = call(fn, parameters, grads, v, beta, alpha)
        new_parameters, new_v = unpack(c.value, 2, "(parameters, v)")
        state = MomentumState([LayerGrads(*p) for p in _to_list(v, "d")])
        params, state = momentum(beta).update([LayerParams(*p) for p in _to_list(parameters)],
                                              [LayerGrads(*p) for p in _to_list(grads, "d")], state, alpha)
        want_v = {k: x for l, g in enumerate(state.v, 1) for k, x in ((f"dW{l}", g.dW), (f"db{l}", g.db))}
        want_p = {k: x for l, p in enumerate(params, 1) for k, x in ((f"W{l}", p.W), (f"b{l}", p.b))}
        no_one_minus = {k: beta * v[k] + grads[k] for k in v}
        findings = _compare_dicts("v", new_v, want_v, [
            ("differs", no_one_minus, "v = β v + dW: the (1 − β) is missing", "v = β v + (1 − β) dW")])
        return findings or _compare_dicts("parameters", new_parameters, want_p)
    return run_cases("update_parameters_with_momentum", fn, cases, one)


def check_update_parameters_with_adam(fn) -> FunctionReport:
    cases = [(f"random parameters, t = {t}", (_optimizer_case(80 + t), t)) for t in (1, 2, 7)]
    returned = []

    def one(fn, case):
        (parameters, grads, v, s), t = case
        alpha, beta1, beta2, epsilon = 0.01, 0.9, 0.999, 1e-8
        c = call(fn, parameters, grads, v, s, t, alpha, beta1, beta2, epsilon)
        if not isinstance(c.value, tuple | list) or len(c.value) not in (3, 5):
            raise ShapeOfReturn("did not return (parameters, v, s) or (parameters, v, s, v_corrected, s_corrected)")
        returned.append(len(c.value))
        new_parameters, new_v, new_s = c.value[:3]
        state = AdamState([LayerGrads(*p) for p in _to_list(v, "d")], [LayerGrads(*p) for p in _to_list(s, "d")],
                          t - 1)
        params, state = adam(beta1, beta2, epsilon).update([LayerParams(*p) for p in _to_list(parameters)],
                                                           [LayerGrads(*p) for p in _to_list(grads, "d")], state,
                                                           alpha)
        want_p = {k: x for l, p in enumerate(params, 1) for k, x in ((f"W{l}", p.W), (f"b{l}", p.b))}
        want_v = {k: x for l, g in enumerate(state.v, 1) for k, x in ((f"dW{l}", g.dW), (f"db{l}", g.db))}
        want_s = {k: x for l, g in enumerate(state.s, 1) for k, x in ((f"dW{l}", g.dW), (f"db{l}", g.db))}
        uncorrected = {k: parameters[k] - alpha * want_v["d" + k] / (np.sqrt(want_s["d" + k]) + epsilon)
                       for k in parameters}
        findings = _compare_dicts("v", new_v, want_v) + _compare_dicts("s", new_s, want_s)
        if len(c.value) == 5 and not findings:                  # the newer notebooks return the corrected ones too
            missing = ("bias_correction", "the bias correction is missing: early steps are too small",
                       "v_corrected = v / (1 − beta1 ** t); s_corrected = s / (1 − beta2 ** t)")
            findings = (_compare_dicts("v_corrected", c.value[3], {k: x / (1 - beta1**t) for k, x in want_v.items()},
                                       [(missing[0], want_v, f"v_corrected is v: {missing[1]}", missing[2])])
                        + _compare_dicts("s_corrected", c.value[4], {k: x / (1 - beta2**t) for k, x in want_s.items()},
                                         [("differs", {k: x / (1 - beta1**t) for k, x in want_s.items()},
                                           "s_corrected is divided by 1 − β1ᵗ, not 1 − β2ᵗ",
                                           "s_corrected = s / (1 − beta2 ** t)"),
                                          (missing[0], want_s, f"s_corrected is s: {missing[1]}", missing[2])]))
        return findings or _compare_dicts("parameters", new_parameters, want_p, [
            ("bias_correction", uncorrected, "the step uses v and s without bias correction: early steps are too "
             "small (v / (1 − β1ᵗ) and s / (1 − β2ᵗ) are missing)",
             "v_corrected = v / (1 − β1ᵗ); s_corrected = s / (1 − β2ᵗ); W = W − α v_corrected / "
             "(√s_corrected + ε)")])
    report = run_cases("update_parameters_with_adam", fn, cases, one)
    recognised = ("returns (parameters, v, s, v_corrected, s_corrected) (newer notebooks)" if returned and
                  returned[0] == 5 else "returns (parameters, v, s) (2017–19 notebooks)" if returned else "")
    return FunctionReport(report.name, report.findings, recognised, report.cases)
