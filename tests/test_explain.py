"""explain: every equation of a concrete network, its shapes, its numerator, and where the 1/m goes.

The expected shapes, names and places of the 1/m are derived here from layer_dims and the
notation contract (GUIDE §2), not copied from the output; ``check`` is held to measured
agreement, and shown to notice when a convention does not do what its equations say.
"""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import explain as ex
from chainrule.explain import OF_COST, PER_EXAMPLE, Equation, check, equations, explain, render
from conftest import random_problem

# (layer_dims, hidden activation, output, m): the course's planar network first
NETWORKS = [
    ([2, 4, 1], "tanh", "sigmoid", 400),
    ([3, 5, 4, 3], "relu", "softmax", 30),
    ([4, 6, 2], "leaky_relu", "identity", 25),
    ([3, 4, 4, 2], "sigmoid", "sigmoid", 20),
    ([5, 3], "relu", "softmax", 20),                 # L = 1: no hidden layer, no dA at all
]
IDS = ["planar", "relu-softmax", "leaky-identity", "sigmoid-sigmoid", "one-layer"]
CONVENTIONS = ["deferred", "absorbed"]
SPLIT = "Where the 1/m goes"


def _config(dims, hidden, output):
    return cr.ModelConfig(dims, hidden, output)


def _shape(*dims):
    return "(" + ", ".join(map(str, dims)) + ")"


def _backward_order(L, fused=True):
    """The backward equations in the order the algorithm runs, from L alone."""
    names = [f"dZ[{L}]"] if fused else [f"dA[{L}]", f"dZ[{L}]"]
    for l in range(L, 0, -1):
        names += [f"dW[{l}]", f"db[{l}]"]
        if l > 1:
            names += [f"dA[{l - 1}]", f"dZ[{l - 1}]"]
    return names


def _text_lines(text):
    """{name: line} of the equation lines of the text form, before "Where the 1/m goes"."""
    body = text.split(SPLIT)[0]
    lines = {}
    for line in body.splitlines():
        if line.startswith("  ") and " = " in line and " : " in line:
            name = line.strip().split(" = ")[0]
            lines["L" if name.startswith("L(") else name] = " ".join(line.split())
    return lines


def _markdown_rows(markdown):
    """{name: row} of the equation rows of the Markdown tables, before "Where the 1/m goes"."""
    body = markdown.split(f"## {SPLIT}")[0]
    rows = {}
    for row in body.splitlines():
        found = re.match(r"\| `([^`]+?) = ", row)
        if found:
            name = found.group(1)
            rows["L" if name.startswith("L(") else name] = row
    return rows


def _expected_with_one_over_m(L, convention, fused=True):
    """GUIDE §2: deferred in J, every dW, db; absorbed in J and the first backward step only."""
    if convention == "deferred":
        return {"J"} | {f"{d}[{l}]" for l in range(1, L + 1) for d in ("dW", "db")}
    return {"J", f"dZ[{L}]" if fused else f"dA[{L}]"}


# --- the planar network, as the course writes it ---------------------------------------------


def test_planar_dW2_reads_as_in_the_course():
    text = explain(_config([2, 4, 1], "tanh", "sigmoid"), 400)
    lines = _text_lines(text)
    assert "dW[2] = (1/m) dZ[2] A[1]ᵀ : (1, 4) = (1, 400)·(400, 4)" in lines["dW[2]"]
    assert "dW[1] = (1/m) dZ[1] A[0]ᵀ : (4, 2) = (4, 400)·(400, 2)" in lines["dW[1]"]
    assert "db[2] = (1/m) Σ_i dZ[2]⁽ⁱ⁾ : (1, 1) = Σ_i (1, 400)" in lines["db[2]"]
    assert "dZ[1] = dA[1] ⊙ (1 − A[1]²)" in lines["dZ[1]"]        # tanh′ written out
    assert "A[1] = tanh(Z[1])" in lines["A[1]"] and "A[2] = σ(Z[2])" in lines["A[2]"]
    assert "binary cross-entropy" in text.splitlines()[0]
    assert "A[0] = X" in lines["A[0]"] and "dA[0]" not in text


# --- (1) every parameter gradient, with its concrete shapes -----------------------------------


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dims, hidden, output, m", NETWORKS, ids=IDS)
def test_every_dW_db_appears_in_the_markdown_with_its_shapes(dims, hidden, output, m, convention):
    markdown = explain(_config(dims, hidden, output), m, convention=convention, format="markdown")
    rows = _markdown_rows(markdown)
    for l in range(1, len(dims)):
        n, n_prev = dims[l], dims[l - 1]
        assert f"`{_shape(n, n_prev)} = {_shape(n, m)}·{_shape(m, n_prev)}`" in rows[f"dW[{l}]"]
        assert f"`{_shape(n, 1)} = Σ_i {_shape(n, m)}`" in rows[f"db[{l}]"]
        assert f"`{_shape(n, m)} = {_shape(n, n_prev)}·{_shape(n_prev, m)} + {_shape(n, 1)}`" in rows[f"Z[{l}]"]
        assert f"`{_shape(n, m)} = " in rows[f"dZ[{l}]"]
        if l < len(dims) - 1:
            assert f"`{_shape(n, m)} = {_shape(n, dims[l + 1])}·{_shape(dims[l + 1], m)}`" in rows[f"dA[{l}]"]
    for section in ("## Forward", "## Cost", "## Backward", f"## {SPLIT}"):
        assert section in markdown


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dims, hidden, output, m", NETWORKS, ids=IDS)
def test_the_printed_shapes_are_the_shapes_of_the_arrays(dims, hidden, output, m, fused):
    """The first shape of every forward and backward line is the shape the library computes."""
    config = _config(dims, hidden, output)
    params, X, Y = random_problem(config, m, np.random.default_rng(1))
    AL, caches = cr.forward(params, X, config)
    trace = cr.backward_trace(AL, Y, caches, config, fused=fused)
    arrays = {"A[0]": X}
    for l, (cache, t) in enumerate(zip(caches, trace), start=1):
        arrays.update({f"Z[{l}]": cache.Z, f"A[{l}]": cache.A, f"dZ[{l}]": t.dZ, f"dW[{l}]": t.dW,
                       f"db[{l}]": t.db, f"dA[{l - 1}]": t.dA_prev})
    if not fused:
        arrays[f"dA[{config.L}]"] = trace[-1].dA
    for e in equations(config, m, fused=fused):
        if e.section != "cost":
            first = re.match(r"\((\d+), (\d+)\)", e.shapes)
            assert tuple(map(int, first.groups())) == arrays[e.name].shape, e


# --- (2) where the 1/m is, and nowhere else ----------------------------------------------------


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dims, hidden, output, m", NETWORKS, ids=IDS)
def test_one_over_m_appears_exactly_where_the_convention_puts_it(dims, hidden, output, m, convention):
    config = _config(dims, hidden, output)
    expected = _expected_with_one_over_m(config.L, convention)
    eqs = equations(config, m, convention)
    assert {e.name for e in eqs if e.one_over_m} == expected
    assert {e.name for e in eqs if "1/m" in e.rhs} == expected
    lines = _text_lines(explain(config, m, convention=convention))
    assert {name for name, line in lines.items() if "1/m" in line} == expected
    rows = _markdown_rows(explain(config, m, convention=convention, format="markdown"))
    assert {name for name, row in rows.items() if "1/m" in row} == expected
    assert len(rows) == len(lines) == len(eqs)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_the_conventions_differ_only_by_where_the_1_over_m_is_written(convention):
    """dW, db: deferred = "(1/m) " + absorbed; dZ[L]: absorbed = "(1/m)(" + deferred + ")"."""
    config = _config([3, 5, 4, 3], "relu", "softmax")
    deferred = {e.name: e for e in equations(config, 30, "deferred")}
    absorbed = {e.name: e for e in equations(config, 30, "absorbed")}
    assert list(deferred) == list(absorbed)
    for name, d in deferred.items():
        a = absorbed[name]
        assert d.shapes == a.shapes
        if name[:2] in ("dW", "db"):
            assert d.rhs == "(1/m) " + a.rhs
        elif name == "dZ[3]":
            assert a.rhs == f"(1/m)({d.rhs})"
        else:
            assert d.rhs == a.rhs


def test_unfused_chain_absorbs_the_1_over_m_in_dA_L():
    config = _config([3, 4, 2], "tanh", "sigmoid")
    for convention in CONVENTIONS:
        eqs = equations(config, 20, convention, fused=False)
        assert [e.name for e in eqs if e.section == "backward"] == _backward_order(2, fused=False)
        assert {e.name for e in eqs if e.one_over_m} == _expected_with_one_over_m(2, convention, fused=False)
        dZ2 = next(e for e in eqs if e.name == "dZ[2]")
        assert dZ2.rhs == "dA[2] ⊙ A[2] ⊙ (1 − A[2])" and dZ2.shapes == "(2, 20) = (2, 20) ⊙ (2, 20)"


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_L2_adds_its_own_term_and_leaves_the_1_over_m_alone(convention):
    config = _config([4, 6, 2], "leaky_relu", "identity")
    eqs = {e.name: e for e in equations(config, 25, convention, lambd=0.3)}
    assert "(λ/(2m)) (‖W[1]‖²_F + ‖W[2]‖²_F)" in eqs["J"].rhs
    for l, (n, n_prev) in enumerate([(6, 4), (2, 6)], start=1):
        assert eqs[f"dW[{l}]"].rhs.endswith(f" + (λ/m) W[{l}]")
        assert eqs[f"dW[{l}]"].shapes.endswith(f" + {_shape(n, n_prev)}")
        assert "λ" not in eqs[f"db[{l}]"].rhs                    # biases are not penalised
    assert {n for n, e in eqs.items() if e.one_over_m} == _expected_with_one_over_m(2, convention)
    assert "L2 penalty" in explain(config, 25, convention=convention, lambd=0.3).split(SPLIT)[1]


# --- (3) which derivative each quantity is --------------------------------------------------


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dims, hidden, output, m", NETWORKS, ids=IDS)
def test_kinds_follow_the_convention(dims, hidden, output, m, convention, fused):
    config = _config(dims, hidden, output)
    eqs = equations(config, m, convention, fused)
    backward = [e for e in eqs if e.section == "backward"]
    assert [e.name for e in backward] == _backward_order(config.L, fused)
    node_kind = PER_EXAMPLE if convention == "deferred" else OF_COST
    for e in backward:
        assert e.kind == (OF_COST if e.name[:2] in ("dW", "db") else node_kind), e
        assert e.l == int(e.name[3:-1])
    assert [e.name for e in eqs if e.section == "forward"] == \
        ["A[0]"] + [f"{q}[{l}]" for l in range(1, config.L + 1) for q in ("Z", "A")]
    assert all(e.kind == "forward" for e in eqs if e.section == "forward")
    assert next(e for e in eqs if e.name == "J").kind == "cost"
    assert [e.section for e in eqs] == sorted((e.section for e in eqs), key=["forward", "cost", "backward"].index)


@pytest.mark.parametrize("hidden, g_prime", [
    ("tanh", "(1 − A[1]²)"),
    ("sigmoid", "A[1] ⊙ (1 − A[1])"),
    ("relu", "1[Z[1] > 0]"),
    ("leaky_relu", "(1[Z[1] > 0] + 0.01 · 1[Z[1] ≤ 0])"),
    ("identity", "1"),
])
def test_hidden_g_prime_is_written_concretely(hidden, g_prime):
    eqs = {e.name: e for e in equations(_config([3, 4, 2], hidden, "softmax"), 10)}
    assert eqs["dZ[1]"].rhs == f"dA[1] ⊙ {g_prime}"
    assert eqs["A[1]"].rhs.endswith("(Z[1])") and eqs["A[2]"].rhs == "softmax(Z[2])"


@pytest.mark.parametrize("convention, other", [("deferred", "absorbed"), ("absorbed", "deferred")])
def test_where_the_1_over_m_goes_names_the_other_convention(convention, other):
    notes = explain(_config([2, 4, 1], "tanh", "sigmoid"), 400, convention=convention).split(SPLIT)[1]
    assert f"Under the {convention} convention" in notes
    assert f"other convention ({other}" in notes
    assert "m = 400" in notes and "dZ[2]" in notes


# --- (4) the measured evidence -----------------------------------------------------------------


CHECKED = [
    ([2, 4, 1], "tanh", "sigmoid", 40),
    ([3, 5, 4, 3], "relu", "softmax", 30),
    ([4, 6, 2], "leaky_relu", "identity", 25),
    ([3, 4, 4, 2], "sigmoid", "sigmoid", 20),
    ([5, 3], "relu", "softmax", 20),
]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dims, hidden, output, m", CHECKED, ids=IDS)
def test_check_agrees_for_every_gradient(dims, hidden, output, m, convention):
    config = _config(dims, hidden, output)
    result = check(config, m, seed=3, convention=convention)
    gradients = [e.name for e in equations(config, m, convention) if e.section == "backward"]
    assert list(result) == gradients
    assert all(0 <= v < 1e-7 for v in result.values()), result


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_check_unfused_and_with_L2(convention):
    config = _config([3, 4, 3], "tanh", "softmax")
    result = check(config, 24, seed=5, convention=convention, fused=False, lambd=0.4)
    assert list(result) == _backward_order(2, fused=False)
    assert all(v < 1e-7 for v in result.values()), result


def test_check_notices_a_convention_that_forgets_its_1_over_m(monkeypatch):
    """An "absorbed" backward without the 1/m in dZ[L]: every dZ, dA, dW, db m times too large.

    dW, db are then m × deferred, and m × dZ, m × dA are m × deferred too, so every measured
    relative difference ‖g − m g‖/(‖g‖ + ‖m g‖) is (m − 1)/(m + 1), derived, not measured.
    """
    config, m = _config([2, 4, 1], "tanh", "sigmoid"), 30
    real = ex.backward_trace

    def forgetful(AL, Y, caches, config, convention="deferred", *args, **kwargs):
        trace = real(AL, Y, caches, config, convention, *args, **kwargs)
        if convention != "absorbed":
            return trace
        return [t._replace(dA=None if t.dA is None else m * t.dA, dZ=m * t.dZ, dW=m * t.dW, db=m * t.db,
                           dA_prev=m * t.dA_prev) for t in trace]

    monkeypatch.setattr(ex, "backward_trace", forgetful)
    result = check(config, m, convention="deferred")
    assert list(result) == _backward_order(2)
    for name, value in result.items():
        assert value == pytest.approx((m - 1) / (m + 1), rel=1e-9), name


def test_explain_marks_every_gradient_with_its_measurement():
    config = _config([2, 4, 1], "tanh", "sigmoid")
    lines = _text_lines(explain(config, 400, measure=True))
    for name in _backward_order(2):
        assert re.search(r"✓ \d\.\de-\d\d$", lines[name]), lines[name]
    assert not any("✓" in lines[n] for n in ("A[1]", "J"))
    rows = _markdown_rows(explain(config, 40, format="markdown", measure=True, seed=2))
    assert sum("✓" in row for row in rows.values()) == len(_backward_order(2))
    failing = render(equations(config, 40), "text", checks={"dW[2]": 0.5})
    assert "✗ 5.0e-01" in _text_lines(failing)["dW[2]"]


# --- (5) LaTeX for a slide ------------------------------------------------------------------


def _balanced(latex):
    depth = 0
    for char in re.sub(r"\\[{}]", "", latex):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("lambd", [0.0, 0.2])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("dims, hidden, output, m", NETWORKS, ids=IDS)
def test_latex_puts_frac_1_m_in_the_right_places(dims, hidden, output, m, convention, lambd):
    config = _config(dims, hidden, output)
    measured = m <= 30                                             # \checkmark rows too, where cheap
    latex = explain(config, m, convention=convention, format="latex", measure=measured, lambd=lambd)
    assert _balanced(latex) and latex.isascii()
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") == 3
    rows = {}
    for line in latex.split(r"\textbf{Where")[0].splitlines():
        found = re.match(r"(d?[A-Za-z]+)\^\{\[(\d+)\]\} &= |(J) &= ", line)
        if found:
            rows["J" if found.group(3) else f"{found.group(1)}[{found.group(2)}]"] = line
    expected = _expected_with_one_over_m(config.L, convention)
    assert {name for name, row in rows.items() if r"\frac{1}{m}" in row} == expected
    assert r"A^{[" + str(config.L - 1) + r"]\top}" in rows[f"dW[{config.L}]"]
    assert r"\partial J" in rows["dW[1]"]
    assert (r"\checkmark" in rows["dW[1]"]) == measured
    if config.L > 1:
        assert r"\odot" in rows["dZ[1]"]
        assert (r"\partial \mathcal{L}^{(i)}" in rows["dZ[1]"]) == (convention == "deferred")
    if lambd:
        assert r"\frac{\lambda}{2m}" in rows["J"] and r"\frac{\lambda}{m} W^{[1]}" in rows["dW[1]"]


# --- (6) bad input ------------------------------------------------------------------------------


PLANAR = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")


@pytest.mark.parametrize("call, message", [
    (lambda: equations(PLANAR, 0), r"m must be a positive integer.*got 0"),
    (lambda: equations(PLANAR, 2.5), r"m must be a positive integer.*got 2.5"),
    (lambda: equations(PLANAR, True), r"m must be"),
    (lambda: explain(PLANAR, -3), r"m must be"),
    (lambda: check(PLANAR, 0), r"m must be"),
    (lambda: equations([2, 4, 1], 10), r"config must be a chainrule.ModelConfig.*got list"),
    (lambda: explain("planar", 10), r"config must be a chainrule.ModelConfig.*got str"),
    (lambda: check({"layer_dims": [2, 4, 1]}, 10), r"config must be a chainrule.ModelConfig"),
    (lambda: explain(PLANAR, 10, format="html"), r"format must be one of 'text', 'markdown', 'latex'; got 'html'"),
    (lambda: render(equations(PLANAR, 10), "pdf"), r"format must be one of"),
    (lambda: explain(PLANAR, 10, convention="mean"), r"convention must be 'deferred'"),
    (lambda: equations(PLANAR, 10, lambd=-1), r"lambd must be a non-negative number"),
    (lambda: equations(PLANAR, 10, fused="yes"), r"fused must be True"),
    (lambda: check(PLANAR, 10, seed=-1), r"seed must be a non-negative integer"),
    (lambda: render("dW[1] = dZ A", "text"), r"eqs must be the non-empty list of Equation"),
    (lambda: render([], "text"), r"eqs must be the non-empty list of Equation"),
    (lambda: render(equations(PLANAR, 10), "text", checks=[1e-12]), r"checks must be the mapping"),
])
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_equation_is_a_plain_named_tuple():
    e = equations(PLANAR, 400)[0]
    assert isinstance(e, Equation) and e._fields == (
        "section", "name", "l", "lhs", "rhs", "shapes", "kind", "one_over_m")
