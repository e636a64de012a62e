"""The equations of one concrete network, with shapes, numerators and where the 1/m goes.

A learner asks "where does the 1/m come from?". This module writes out every forward and
backward equation of one network with its concrete shapes, e.g. for the course's planar
network ([2, 4, 1], tanh, sigmoid, m = 400)

    dW[2] = (1/m) dZ[2] A[1]ᵀ : (1, 4) = (1, 400)·(400, 4)      ∂J

and says of every backward quantity which derivative it is (GUIDE §2):

    "∂L per example"   column i is ∂L⁽ⁱ⁾/∂·⁽ⁱ⁾, the derivative of example i's own loss;
                       nothing in it is divided by m
    "∂J"               a derivative of the cost J = (1/m) Σ_i L⁽ⁱ⁾

Under "deferred" (the course's) the 1/m of J appears in J, dW[l] and db[l] only; under
"absorbed" in J and dZ[L] only (in dA[L] for the unfused chain). ``check`` measures, on
random data of the same shapes, that every printed gradient is what its line says.

    equations(config, m, ...)  -> list of Equation     the content
    check(config, m, ...)      -> {name: difference}   the measured evidence
    render(eqs, format, ...)   -> str                  text, Markdown or LaTeX
    mathml(eq)                 -> str                  one equation as MathML, for a web page
    explain(config, m, ...)    -> str                  all three together

The equations are plain Unicode text ("(1/m) dZ[2] A[1]ᵀ"); the LaTeX form is translated
from it, so the two cannot drift apart.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._checks import CONVENTIONS, check_convention, check_number
from .activations import LEAKY_RELU_SLOPE
from .gradcheck import THRESHOLD, gradient_check, relative_difference
from .losses import get_output
from .model import ModelConfig, backward_per_example, backward_trace, check_config, forward
from .testing import random_problem

__all__ = ["Equation", "FORMATS", "PER_EXAMPLE", "OF_COST", "equations", "check", "render", "explain", "mathml"]

FORMATS = ("text", "markdown", "latex")
SECTIONS = ("forward", "cost", "backward")
PER_EXAMPLE = "∂L per example"          # column i: ∂L⁽ⁱ⁾/∂·⁽ⁱ⁾, nothing divided by m
OF_COST = "∂J"                          # a derivative of the cost J = (1/m) Σ_i L⁽ⁱ⁾
SECTION_TITLES = {"forward": "Forward", "cost": "Cost", "backward": "Backward"}
ONE_OVER_M_TITLE = "Where the 1/m goes"

_G = {                                   # g[l](Z) as written in the equations
    "sigmoid": "σ",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "identity": "identity",
    "softmax": "softmax",
}


class Equation(NamedTuple):
    """One equation of one concrete network.

    section : "forward", "cost" or "backward"
    name : what it defines: "Z[1]", "A[1]", "L", "J", "dZ[2]", "dW[2]", "db[2]", "dA[1]", …
    l : the layer l, or None (L, J)
    lhs, rhs : plain Unicode math, e.g. "dW[2]" and "(1/m) dZ[2] A[1]ᵀ"
    shapes : the concrete shapes, e.g. "(1, 4) = (1, 400)·(400, 4)"
    kind : "forward", "loss" (the loss L of one example), "cost", "∂L per example" or "∂J"
    one_over_m : whether rhs contains the 1/m of J = (1/m) Σ_i L⁽ⁱ⁾. The L2 term's λ/m in
        dW[l] is not that 1/m: it is the derivative of the penalty, the same in both
        conventions.
    """

    section: str
    name: str
    l: int | None
    lhs: str
    rhs: str
    shapes: str
    kind: str
    one_over_m: bool


# --- arguments ------------------------------------------------------------------------------


def _check_args(config: Any, m: Any, convention: Any, fused: Any = True, lambd: Any = 0.0):
    """Checked (config, m, convention, fused, lambd), or a ValueError naming the argument."""
    check_config(config)
    m = check_number("m", m, "a positive integer, the number of examples", lambda v: v >= 1, integer=True)
    check_convention(convention)
    if not isinstance(fused, (bool, np.bool_)):
        raise ValueError(f"fused must be True (dZ[L] = A[L] − Y) or False (dA[L], then g′); got {fused!r}")
    lambd = check_number("lambd", lambd, "a non-negative number (the L2 strength λ)", lambda v: v >= 0)
    return config, m, convention, bool(fused), lambd


def _check_format(format: Any) -> str:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}; got {format!r}")
    return format


# --- equations ------------------------------------------------------------------------------


def _shape(*dims: int) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _g_prime(activation: str, l: int) -> str:
    """g′[l](Z[l]) written concretely, in terms of A[l] or Z[l]."""
    A, Z = f"A[{l}]", f"Z[{l}]"
    return {
        "sigmoid": f"{A} ⊙ (1 − {A})",
        "tanh": f"(1 − {A}²)",
        "relu": f"1[{Z} > 0]",
        "leaky_relu": f"(1[{Z} > 0] + {LEAKY_RELU_SLOPE:g} · 1[{Z} ≤ 0])",
        "identity": "1",
    }[activation]


def _loss_formula(output: str, n_y: int) -> str:
    """L(ŷ, y) of one example for ``output``, summed over the n_y outputs where there are several."""
    if output == "softmax":
        return "−Σ_k y_k log ŷ_k"
    if output == "sigmoid":
        if n_y == 1:
            return "−(y log ŷ + (1 − y) log(1 − ŷ))"
        return "−Σ_k (y_k log ŷ_k + (1 − y_k) log(1 − ŷ_k))"
    return "½ (ŷ − y)²" if n_y == 1 else "½ Σ_k (ŷ_k − y_k)²"


def _dAL(output: str, L: int) -> tuple[str, str]:
    """∂L/∂A[L] per example as (sign, body): sigmoid, softmax and identity outputs."""
    A = f"A[{L}]"
    if output == "sigmoid":
        return "−", f"Y / {A} − (1 − Y) / (1 − {A})"
    if output == "softmax":
        return "−", f"Y / {A}"
    return "", f"{A} − Y"


def equations(
    config: ModelConfig,
    m: int,
    convention: str = "deferred",
    fused: bool = True,
    lambd: float = 0.0,
) -> list[Equation]:
    """Every forward, cost and backward equation of ``config`` for a batch of m examples.

    Parameters
    ----------
    config : ModelConfig
    m : int
        The number of examples (columns); it appears in every shape with an m axis.
    convention : "deferred" or "absorbed"
        Where the 1/m of J enters the backward pass: dW and db (the course's), or dZ[L].
    fused : bool
        True: dZ[L] = A[L] − Y. False: dA[L] from the loss, then dZ[L] = dA[L] ⊙ g′(Z[L]).
    lambd : float
        L2 strength λ ≥ 0: the cost gains (λ/(2m)) Σ_l ‖W[l]‖²_F and dW[l] gains (λ/m) W[l]
        (m is the training-set size here: one full batch).

    Returns
    -------
    list of Equation
        Forward (A[0] = X, then Z[l], A[l] for l = 1 … L), cost (L, J), then backward in
        the order the algorithm runs: dZ[L] (after dA[L] when unfused), then for
        l = L … 1: dW[l], db[l], dA[l-1], dZ[l-1] (no dA[0]).
    """
    config, m, convention, fused, lambd = _check_args(config, m, convention, fused, lambd)
    absorbed = convention == "absorbed"
    return [*_forward_equations(config, m), *_cost_equations(config, m, lambd),
            *_output_delta_equations(config, m, absorbed, fused), *_layer_equations(config, m, absorbed, lambd)]


def _col(config: ModelConfig, l: int, m: int) -> str:
    """The shape of Z[l], A[l], dZ[l], dA[l]: (n_l, m)."""
    return _shape(config.layer_dims[l], m)


def _W_shape(config: ModelConfig, l: int) -> str:
    """The shape of W[l] and dW[l]: (n_l, n_{l-1})."""
    return _shape(config.layer_dims[l], config.layer_dims[l - 1])


def _forward_equations(config: ModelConfig, m: int) -> list[Equation]:
    """A[0] = X, then Z[l] and A[l] for l = 1 … L."""
    eqs = [Equation("forward", "A[0]", 0, "A[0]", "X", _col(config, 0, m), "forward", False)]
    for l in range(1, config.L + 1):
        eqs.append(Equation(
            "forward", f"Z[{l}]", l, f"Z[{l}]", f"W[{l}] A[{l - 1}] + b[{l}]",
            f"{_col(config, l, m)} = {_W_shape(config, l)}·{_col(config, l - 1, m)} + "
            f"{_shape(config.layer_dims[l], 1)}", "forward", False))
        eqs.append(Equation(
            "forward", f"A[{l}]", l, f"A[{l}]", f"{_G[config.activation(l)]}(Z[{l}])",
            _col(config, l, m), "forward", False))
    return eqs


def _cost_equations(config: ModelConfig, m: int, lambd: float) -> list[Equation]:
    """The per-example loss L and the cost J, the one place the forward pass meets the 1/m."""
    L = config.L
    loss = Equation("cost", "L", None, "L(ŷ, y)", _loss_formula(config.output, config.n_y),
                    f"{_shape(config.n_y, 1)}, {_shape(config.n_y, 1)} → scalar", "loss", False)
    J_rhs, J_shapes = f"(1/m) Σ_i L(A[{L}]⁽ⁱ⁾, Y⁽ⁱ⁾)", f"scalar = mean of {_shape(1, m)} losses"
    if lambd > 0:
        norms = " + ".join(f"‖W[{l}]‖²_F" for l in range(1, L + 1))
        J_rhs += f" + (λ/(2m)) ({norms})" if L > 1 else f" + (λ/(2m)) {norms}"
        J_shapes += " + scalar"
    return [loss, Equation("cost", "J", None, "J", J_rhs, J_shapes, "cost", True)]


def _output_delta_equations(config: ModelConfig, m: int, absorbed: bool, fused: bool) -> list[Equation]:
    """dZ[L] (after dA[L] when unfused): the only place "absorbed" puts the 1/m."""
    L, col = config.L, _col(config, config.L, m)
    node_kind = OF_COST if absorbed else PER_EXAMPLE
    if fused:
        rhs = f"(1/m)(A[{L}] − Y)" if absorbed else f"A[{L}] − Y"
        return [Equation("backward", f"dZ[{L}]", L, f"dZ[{L}]", rhs, f"{col} = {col} − {col}", node_kind, absorbed)]
    sign, body = _dAL(config.output, L)
    if absorbed:
        rhs = f"{sign}(1/m)({body})"
    else:
        rhs = f"{sign}({body})" if sign else body
    dA = Equation("backward", f"dA[{L}]", L, f"dA[{L}]", rhs, col, node_kind, absorbed)
    if config.output == "softmax":                                 # a Jacobian product per column
        rhs = f"A[{L}] ⊙ (dA[{L}] − Σ_k A[{L}]_k dA[{L}]_k)"
        shapes = f"{col} = {col} ⊙ ({col} − {_shape(1, m)})"
    else:
        gp = _g_prime(config.output, L)
        rhs = f"dA[{L}] ⊙ {gp}"
        shapes = f"{col} = {col} ⊙ {'1' if gp == '1' else col}"
    return [dA, Equation("backward", f"dZ[{L}]", L, f"dZ[{L}]", rhs, shapes, node_kind, False)]


def _layer_equations(config: ModelConfig, m: int, absorbed: bool, lambd: float) -> list[Equation]:
    """For l = L … 1: dW[l], db[l], dA[l-1], dZ[l-1] (no dA[0]): the only places "deferred" puts the 1/m."""
    dims = config.layer_dims
    node_kind = OF_COST if absorbed else PER_EXAMPLE
    scale = "" if absorbed else "(1/m) "
    eqs = []
    for l in range(config.L, 0, -1):
        col, col_prev, W_shape = _col(config, l, m), _col(config, l - 1, m), _W_shape(config, l)
        dW_rhs = f"{scale}dZ[{l}] A[{l - 1}]ᵀ"
        dW_shapes = f"{W_shape} = {col}·{_shape(m, dims[l - 1])}"
        if lambd > 0:
            dW_rhs += f" + (λ/m) W[{l}]"
            dW_shapes += f" + {W_shape}"
        eqs.append(Equation("backward", f"dW[{l}]", l, f"dW[{l}]", dW_rhs, dW_shapes, OF_COST, not absorbed))
        eqs.append(Equation("backward", f"db[{l}]", l, f"db[{l}]", f"{scale}Σ_i dZ[{l}]⁽ⁱ⁾",
                            f"{_shape(dims[l], 1)} = Σ_i {col}", OF_COST, not absorbed))
        if l > 1:
            eqs.append(Equation("backward", f"dA[{l - 1}]", l - 1, f"dA[{l - 1}]", f"W[{l}]ᵀ dZ[{l}]",
                                f"{col_prev} = {_shape(dims[l - 1], dims[l])}·{col}", node_kind, False))
            gp = _g_prime(config.activation(l - 1), l - 1)
            eqs.append(Equation("backward", f"dZ[{l - 1}]", l - 1, f"dZ[{l - 1}]", f"dA[{l - 1}] ⊙ {gp}",
                                f"{col_prev} = {col_prev} ⊙ {'1' if gp == '1' else col_prev}", node_kind, False))
    return eqs


# --- check ----------------------------------------------------------------------------------


def _nodes(trace: Sequence, L: int, fused: bool) -> dict[str, np.ndarray]:
    """The dZ[l], dA[l] of a backward trace by equation name."""
    nodes = {f"dZ[{l}]": trace[l - 1].dZ for l in range(1, L + 1)}
    nodes.update({f"dA[{l}]": trace[l].dA_prev for l in range(1, L)})   # dA[l] = W[l+1]ᵀ dZ[l+1]
    if not fused:
        nodes[f"dA[{L}]"] = trace[L - 1].dA
    return nodes


def check(
    config: ModelConfig,
    m: int,
    seed: int = 0,
    convention: str = "deferred",
    fused: bool = True,
    lambd: float = 0.0,
) -> dict[str, float]:
    """Measure every backward equation of ``equations(config, m, ...)`` on random data.

    On ``random_problem(config, m, numpy.random.default_rng(seed))``:

    dW[l], db[l] (∂J in both conventions), the worst of
        - finite differences of J (``gradient_check``, J in long double) against backward
          under ``convention``, the course's ‖g − g̃‖/(‖g‖ + ‖g̃‖) over the array;
        - deferred against absorbed;
        - the per-example reference ``backward_per_example``, the mean of the m gradients
          computed one example at a time (plus (λ/m) W[l] with L2).
    dZ[l], dA[l], the worst of
        - deferred against m × absorbed: the absorbed array is the deferred one divided by m;
        - deferred against the same array built column by column, each column from a
          forward and backward of that example alone: column i is ∂L⁽ⁱ⁾ of example i.
    Together: the deferred dZ, dA are ∂L per example and the absorbed ones are ∂J.

    Returns
    -------
    dict
        Equation name ("dW[2]", "dZ[1]", …) → the largest relative difference measured,
        in the order of the backward equations. Below 2e-7 (``gradcheck.THRESHOLD``) agrees.
    """
    config, m, convention, fused, lambd = _check_args(config, m, convention, fused, lambd)
    seed = check_number("seed", seed, "a non-negative integer", lambda v: v >= 0, integer=True)
    L = config.L
    names = [e.name for e in equations(config, m, convention, fused, lambd) if e.section == "backward"]
    worst = dict.fromkeys(names, 0.0)

    def note(name: str, difference: float) -> None:
        worst[name] = max(worst[name], float(difference))

    params, X, Y = random_problem(config, m, np.random.default_rng(seed))
    n = m                                                          # L2's training-set size: one full batch

    result = gradient_check(params, X, Y, config, convention=convention, lambd=lambd)
    for array in result.arrays:                                    # "dW2" → "dW[2]"
        note(f"{array.name[:2]}[{array.l}]", array.difference)

    AL, caches = forward(params, X, config)
    traces = {c: backward_trace(AL, Y, caches, config, c, fused, lambd=lambd) for c in CONVENTIONS}
    reference = backward_per_example(params, X, Y, config)
    for l in range(1, L + 1):
        deferred, absorbed, chosen = traces["deferred"][l - 1], traces["absorbed"][l - 1], traces[convention][l - 1]
        W = params[l - 1].W
        note(f"dW[{l}]", relative_difference(deferred.dW, absorbed.dW))
        note(f"db[{l}]", relative_difference(deferred.db, absorbed.db))
        note(f"dW[{l}]", relative_difference(chosen.dW, reference[l - 1].dW + (lambd / n) * W))
        note(f"db[{l}]", relative_difference(chosen.db, reference[l - 1].db))

    deferred = _nodes(traces["deferred"], L, fused)
    absorbed = _nodes(traces["absorbed"], L, fused)
    one_at_a_time = {name: np.empty_like(array) for name, array in deferred.items()}
    for i in range(m):                                             # example i alone: m = 1
        AL_i, caches_i = forward(params, X[:, i:i + 1], config)
        alone = _nodes(backward_trace(AL_i, Y[:, i:i + 1], caches_i, config, "deferred", fused), L, fused)
        for name, column in alone.items():
            one_at_a_time[name][:, i:i + 1] = column
    for name in deferred:
        note(name, relative_difference(deferred[name], m * absorbed[name]))
        note(name, relative_difference(deferred[name], one_at_a_time[name]))
    return worst


# --- render ---------------------------------------------------------------------------------

# Plain Unicode math → LaTeX, for the small vocabulary ``equations`` writes. One pass of one
# regular expression, so nothing is translated twice.
_SYMBOLS = {
    "(1/m)": r"\frac{1}{m}",
    "(λ/m)": r"\frac{\lambda}{m}",
    "(λ/(2m))": r"\frac{\lambda}{2m}",
    "Σ_i": r"\sum_{i}",
    "Σ_k": r"\sum_{k}",
    "Σ_l": r"\sum_{l}",
    "⁽ⁱ⁾": "^{(i)}",
    "ᵀ": r"^{\top}",
    "²": "^{2}",
    "_F": "_{F}",
    "_k": "_{k}",
    "‖": r"\|",
    "ŷ": r"\hat{y}",
    "σ": r"\sigma",
    "λ": r"\lambda",
    "∂": r"\partial ",
    "−": "-",
    "·": r"\cdot ",
    "⊙": r"\odot ",
    "≤": r"\le ",
    "→": r"\to ",
    "½": r"\tfrac{1}{2}",
    "←": r"\leftarrow ",
    "LeakyReLU": r"\operatorname{LeakyReLU}",
    "ReLU": r"\operatorname{ReLU}",
    "softmax": r"\operatorname{softmax}",
    "identity": r"\operatorname{identity}",
    "tanh": r"\tanh",
    "log": r"\log",
}
_TOKEN = re.compile(
    r"(?P<id>d?[WbZA])\[(?P<l>\d+|l)\](?P<suf>ᵀ|²|⁽ⁱ⁾|_k)?"          # A[1]ᵀ, dZ[2]⁽ⁱ⁾, A[1]², A[3]_k
    r"|(?P<indicator>1\[)"                                         # 1[Z > 0]
    r"|(?P<loss>L(?![A-Za-z\[]))"                                 # the loss: L(…), L⁽ⁱ⁾, ∂L
    r"|(?P<sym>" + "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True)) + ")"
    r"|(?P<words>[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*)"                # prose in a shapes column
)


def _latex(text: str) -> str:
    """The LaTeX of an equation's Unicode text: A[1]ᵀ → A^{[1]\\top}, (1/m) → \\frac{1}{m}, …"""

    def one(match: re.Match) -> str:
        if match["id"]:
            name, sup, suffix = match["id"], f"[{match['l']}]", match["suf"]
            if suffix == "ᵀ":
                return f"{name}^{{{sup}\\top}}"
            if suffix == "⁽ⁱ⁾":
                return f"{name}^{{{sup}(i)}}"
            if suffix == "²":
                return f"({name}^{{{sup}}})^{{2}}"
            if suffix == "_k":
                return f"{name}^{{{sup}}}_{{k}}"
            return f"{name}^{{{sup}}}"
        if match["indicator"]:
            return r"\mathbf{1}["
        if match["loss"]:
            return r"\mathcal{L}"
        if match["sym"]:
            return _SYMBOLS[match["sym"]]
        return rf"\text{{ {match['words']} }}"

    return _TOKEN.sub(one, text)


def _latex_text(text: str) -> str:
    """Plain text for LaTeX's text mode: its special characters escaped."""
    return re.sub(r"([_%&#$])", r"\\\1", text)


# Plain Unicode math → MathML (Core, which browsers draw natively), from the same tokens as
# the LaTeX. A postfix mark (ᵀ, ², ⁽ⁱ⁾, _k, _F) wraps the element before it; the 1/m of J is
# an <mfrac class="one-over-m">, so that a page can mark where it enters.
_MATHML_SYMBOLS = {
    "(1/m)": '<mfrac class="one-over-m"><mn>1</mn><mi>m</mi></mfrac>',
    "(λ/m)": "<mfrac><mi>λ</mi><mi>m</mi></mfrac>",
    "(λ/(2m))": "<mfrac><mi>λ</mi><mrow><mn>2</mn><mi>m</mi></mrow></mfrac>",
    "Σ_i": "<msub><mo>∑</mo><mi>i</mi></msub>",
    "Σ_k": "<msub><mo>∑</mo><mi>k</mi></msub>",
    "Σ_l": "<msub><mo>∑</mo><mi>l</mi></msub>",
    "ŷ": "<mover><mi>y</mi><mo>^</mo></mover>",
    "½": "<mfrac><mn>1</mn><mn>2</mn></mfrac>",
    "σ": "<mi>σ</mi>",
    "λ": "<mi>λ</mi>",
    "LeakyReLU": "<mi>LeakyReLU</mi>",
    "ReLU": "<mi>ReLU</mi>",
    "softmax": "<mi>softmax</mi>",
    "identity": "<mi>identity</mi>",
    "tanh": "<mi>tanh</mi>",
    "log": "<mi>log</mi>",
}
_MATHML_POSTFIX = {          # (element, its script) for a mark that applies to the element before it
    "⁽ⁱ⁾": ("msup", "<mrow><mo>(</mo><mi>i</mi><mo>)</mo></mrow>"),
    "ᵀ": ("msup", "<mi>⊤</mi>"),
    "²": ("msup", "<mn>2</mn>"),
    "_F": ("msub", "<mi>F</mi>"),
    "_k": ("msub", "<mi>k</mi>"),
}
_MATHML_GAP = re.compile(r"\s+|(?P<num>\d+(?:\.\d+)?)|(?P<letter>[A-Za-z])|(?P<op>.)")


def _mathml_gap(text: str, nodes: list[str]) -> None:
    """Append the MathML of text between tokens: numbers, single letters and operators."""
    for match in _MATHML_GAP.finditer(text):
        if match["num"]:
            nodes.append(f"<mn>{match['num']}</mn>")
        elif match["letter"]:
            nodes.append(f"<mi>{match['letter']}</mi>")
        elif match["op"]:
            nodes.append(f"<mo>{_escape_xml(match['op'])}</mo>")


def _escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mathml_nodes(text: str) -> list[str]:
    """The MathML elements of an equation's Unicode text, in order."""
    nodes: list[str] = []
    at = 0
    for match in _TOKEN.finditer(text):
        _mathml_gap(text[at:match.start()], nodes)
        at = match.end()
        if match["id"]:
            d, name = ("d", match["id"][1]) if match["id"].startswith("d") else ("", match["id"])
            base = f"<mi>{d}{name}</mi>" if d else f"<mi>{name}</mi>"
            sup = f"<mo>[</mo><mn>{match['l']}</mn><mo>]</mo>" if match["l"].isdigit() \
                else f"<mo>[</mo><mi>{match['l']}</mi><mo>]</mo>"
            suffix = match["suf"]
            if suffix == "ᵀ":
                nodes.append(f"<msup>{base}<mrow>{sup}<mi>⊤</mi></mrow></msup>")
            elif suffix == "⁽ⁱ⁾":
                nodes.append(f"<msup>{base}<mrow>{sup}<mo>(</mo><mi>i</mi><mo>)</mo></mrow></msup>")
            elif suffix == "²":
                nodes.append(f"<msup><mrow><mo>(</mo><msup>{base}<mrow>{sup}</mrow></msup><mo>)</mo></mrow>"
                             f"<mn>2</mn></msup>")
            elif suffix == "_k":
                nodes.append(f"<msubsup>{base}<mi>k</mi><mrow>{sup}</mrow></msubsup>")
            else:
                nodes.append(f"<msup>{base}<mrow>{sup}</mrow></msup>")
        elif match["indicator"]:
            nodes += ["<mn>𝟏</mn>", "<mo>[</mo>"]
        elif match["loss"]:
            nodes.append("<mi>ℒ</mi>")
        elif match["sym"] in _MATHML_POSTFIX:
            element, script = _MATHML_POSTFIX[match["sym"]]
            before = nodes.pop() if nodes else "<mrow></mrow>"
            nodes.append(f"<{element}>{before}{script}</{element}>")
        elif match["sym"] in _MATHML_SYMBOLS:
            nodes.append(_MATHML_SYMBOLS[match["sym"]])
        elif match["sym"]:
            nodes.append(f"<mo>{_escape_xml(match['sym'])}</mo>")
        else:
            nodes.append(f"<mtext> {_escape_xml(match['words'])} </mtext>")
    _mathml_gap(text[at:], nodes)
    return nodes


def mathml(item: Equation | str, derivative: bool = False) -> str:
    """One equation as a MathML ``<math>`` element, which browsers draw without any library.

    Parameters
    ----------
    item : Equation or str
        An Equation from ``equations`` (written ``lhs = rhs``) or its plain Unicode text.
    derivative : bool
        For a backward Equation: the derivative it is instead (∂L⁽ⁱ⁾/∂Z[2]⁽ⁱ⁾ or ∂J/∂W[2]).

    The 1/m of J = (1/m) Σ_i L⁽ⁱ⁾ is ``<mfrac class="one-over-m">``; the λ/m of L2 is not
    that 1/m and has no class. Every other output of this module is unchanged by it.

    >>> print(mathml("dW[2] = (1/m) dZ[2] A[1]ᵀ"))  # doctest: +ELLIPSIS
    <math><mrow><msup><mi>dW</mi>...<mfrac class="one-over-m"><mn>1</mn><mi>m</mi></mfrac>...</math>
    """
    if isinstance(item, Equation):
        if derivative and item.section != "backward":
            raise ValueError(f"only backward equations are derivatives; {item.name} is in {item.section}")
        text = _derivative(item)[0] if derivative else f"{item.lhs} = {item.rhs}"
    elif isinstance(item, str):
        text = item
    else:
        raise ValueError(f"item must be an Equation or its Unicode text; got {type(item).__name__}")
    return "<math><mrow>" + "".join(_mathml_nodes(text)) + "</mrow></math>"


def _derivative(eq: Equation) -> tuple[str, str]:
    """(Unicode, LaTeX) of the derivative a backward quantity is: ∂L⁽ⁱ⁾/∂Z[2]⁽ⁱ⁾ or ∂J/∂W[2]."""
    var, l = eq.name[1], eq.l                                      # "dZ[2]" → Z, 2
    if eq.kind == PER_EXAMPLE:
        return f"∂L⁽ⁱ⁾/∂{var}[{l}]⁽ⁱ⁾", rf"\frac{{\partial \mathcal{{L}}^{{(i)}}}}{{\partial {var}^{{[{l}](i)}}}}"
    return f"∂J/∂{var}[{l}]", rf"\frac{{\partial J}}{{\partial {var}^{{[{l}]}}}}"


def _mark(name: str, checks: Mapping[str, float] | None) -> tuple[str, bool] | None:
    """("3.2e-11", passed) for a measured equation, None for one not measured."""
    if checks is None or name not in checks:
        return None
    value = float(checks[name])
    return f"{value:.1e}", value < THRESHOLD


def _convention_of(eqs: Sequence[Equation]) -> str:
    """The convention the equations were written in: absorbed when dZ, dA are ∂J."""
    nodes = [e for e in eqs if e.section == "backward" and e.name[:2] in ("dZ", "dA")]
    return "absorbed" if nodes and all(e.kind == OF_COST for e in nodes) else "deferred"


def _one_over_m_notes(eqs: Sequence[Equation], code: Callable[[str], str], sym: Callable[[str], str]) -> list[str]:
    """The "Where the 1/m goes" paragraphs.

    ``code`` formats a name or a formula (dZ[2], J = …), ``sym`` a symbol in the prose (m,
    1/m, ∂J). The other convention is described in words, not as equations, so that the
    equations section stays the one place where equations are written.
    """
    convention = _convention_of(eqs)
    backward = [e for e in eqs if e.section == "backward"]
    first = backward[0].name                                       # dZ[L], or dA[L] unfused
    params = ", ".join(code(e.name) for e in backward if e.name[:2] in ("dW", "db"))
    nodes = ", ".join(code(e.name) for e in backward if e.name[:2] in ("dZ", "dA"))
    listing = ", ".join(code(e.name) for e in backward if e.one_over_m)
    m = next(e.shapes for e in eqs if e.name == "A[0]").split(", ")[-1].rstrip(")")
    one_over_m, per_example, of_cost = sym("1/m"), sym("∂L") + " per example", sym("∂J")
    J = code("J = (1/m) Σ_i L⁽ⁱ⁾")
    notes = []
    if convention == "deferred":
        notes.append(
            f"Under the deferred convention (the course's) the {one_over_m} of {J} enters in "
            f"{code('J')} and in {listing}: each dW, db is the mean over the {sym(f'm = {m}')} examples "
            f"of the per-example gradients. {nodes} are {per_example}: column i is the derivative of "
            f"example i's own loss {code('L⁽ⁱ⁾')}, and nothing in them is divided by {sym('m')}.")
        notes.append(
            f"Under the other convention (absorbed) it would enter in {code(first)} instead and every "
            f"dZ, dA would be {of_cost}, {sym('m')} times smaller than here; dW and db would then be "
            f"plain sums over the examples, with the same values.")
    else:
        notes.append(
            f"Under the absorbed convention the {one_over_m} of {J} enters in {code('J')} and in "
            f"{listing}, the first step of backward: from there on every dZ, dA is {of_cost}, and "
            f"dW, db are plain sums over the {sym(f'm = {m}')} examples.")
        notes.append(
            f"Under the other convention (deferred, the course's) it would enter in every dW and db "
            f"({params}) instead, and every dZ, dA would be {per_example}, {sym('m')} times larger "
            f"than here, one column per example; dW and db come out the same.")
    notes.append(
        f"Either way it is applied once on the way to each dW, db. Applying it in {code(first)} and "
        f"again in dW, db is the doubled {one_over_m}: every dW, db {sym('m')} times too small, which "
        f"a gradient check reports in every layer.")
    if any("λ" in e.rhs for e in backward):
        notes.append(
            f"The {code('(λ/m) W[l]')} in {code('dW[l]')} is another term: the derivative of the L2 penalty "
            f"{code('(λ/(2m)) Σ_l ‖W[l]‖²_F')}, the same in both conventions. chainrule divides it by "
            f"the training-set size n, which is {sym('m')} for one full batch.")
    return notes


def _check_eqs(eqs: Any) -> list[Equation]:
    if isinstance(eqs, (str, bytes)) or not isinstance(eqs, Sequence) or not eqs \
            or not all(isinstance(e, Equation) for e in eqs):
        raise ValueError(f"eqs must be the non-empty list of Equation that equations() returns; "
                         f"got {type(eqs).__name__}")
    if not any(e.name == "A[0]" for e in eqs) or not any(e.section == "backward" for e in eqs):
        raise ValueError("eqs must hold the forward and backward equations of a network, as equations() returns them")
    return list(eqs)


def render(
    eqs: Sequence[Equation],
    format: str = "text",
    checks: Mapping[str, float] | None = None,
    title: str | None = None,
) -> str:
    """The equations as text, Markdown or LaTeX.

    Parameters
    ----------
    eqs : list of Equation
        From ``equations``; the convention is read from them.
    format : "text", "markdown" or "latex"
        "latex" gives one ``align*`` block per section (amsmath; ✓ needs amssymb's
        \\checkmark), usable on a slide.
    checks : mapping, optional
        From ``check``: each measured line is marked with its agreement, "✓ 3.2e-11"
        (✗ at or above 2e-7).
    title : str, optional
        A first line (a heading in Markdown).

    Returns
    -------
    str
        Sections Forward, Cost, Backward, then "Where the 1/m goes".
    """
    eqs = _check_eqs(eqs)
    _check_format(format)
    if checks is not None and not isinstance(checks, Mapping):
        raise ValueError(f"checks must be the mapping that check() returns; got {type(checks).__name__}")
    return {"text": _render_text, "markdown": _render_markdown, "latex": _render_latex}[format](eqs, checks, title)


def _render_text(eqs: list[Equation], checks, title) -> str:
    lines = [title, ""] if title else []
    eq_width = max(len(f"{e.lhs} = {e.rhs}") for e in eqs)
    shape_width = max(len(e.shapes) for e in eqs)
    kind_width = max(len(e.kind) for e in eqs if e.section != "forward")
    for section in SECTIONS:
        lines.append(SECTION_TITLES[section] + (" (in the order it runs)" if section == "backward" else ""))
        for e in (e for e in eqs if e.section == section):
            line = f"  {e.lhs + ' = ' + e.rhs:<{eq_width}} : {e.shapes:<{shape_width}}"
            if section != "forward":
                line += f"   {e.kind:<{kind_width}}"
                line += "   ← 1/m" if e.one_over_m else "        "
                mark = _mark(e.name, checks)
                if mark:
                    line += f"   {'✓' if mark[1] else '✗'} {mark[0]}"
            lines.append(line.rstrip())
        lines.append("")
    if checks is not None:
        lines += textwrap.wrap(f"✓ or ✗ and a number: the worst relative difference measured on random "
                               f"data of these shapes (finite differences of J, the other convention, "
                               f"one example at a time); ✓ below {THRESHOLD:g}.", 92)
        lines.append("")
    lines.append(ONE_OVER_M_TITLE)
    for note in _one_over_m_notes(eqs, str, str):
        lines += textwrap.wrap(note, 92, initial_indent="  ", subsequent_indent="  ") + [""]
    return "\n".join(lines).rstrip() + "\n"


def _render_markdown(eqs: list[Equation], checks, title) -> str:
    lines = [f"# {title}", ""] if title else []
    for section in SECTIONS:
        lines += [f"## {SECTION_TITLES[section]}", ""]
        header = ["equation", "shapes"]
        if section != "forward":
            header.append("what it is")
        if section == "backward" and checks is not None:
            header.append("measured")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for e in (e for e in eqs if e.section == section):
            row = [f"`{e.lhs} = {e.rhs}`", f"`{e.shapes}`"]
            if section == "cost":
                row.append("the loss of one example" if e.kind == "loss" else "the cost: mean of the m losses")
            elif section == "backward":
                row.append(f"{e.kind}: `{_derivative(e)[0]}`")
                if checks is not None:
                    mark = _mark(e.name, checks)
                    row.append("" if mark is None else f"{'✓' if mark[1] else '✗'} {mark[0]}")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    if checks is not None:
        lines += [f"*measured*: the worst relative difference on random data of these shapes (finite "
                  f"differences of J, the other convention, one example at a time); agreement below "
                  f"{THRESHOLD:g}.", ""]
    lines += [f"## {ONE_OVER_M_TITLE}", ""]
    lines += [f"- {note}" for note in _one_over_m_notes(eqs, lambda s: f"`{s}`", str)]
    return "\n".join(lines) + "\n"


def _render_latex(eqs: list[Equation], checks, title) -> str:
    lines = [f"% {_latex_text(title)}"] if title else []
    lines.append("% needs amsmath (align*)" + (" and amssymb (\\checkmark)" if checks is not None else ""))
    for section in SECTIONS:
        rows = []
        for e in (e for e in eqs if e.section == section):
            row = f"{_latex(e.lhs)} &= {_latex(e.rhs)} && {_latex(e.shapes)}"
            if section == "backward":
                row += f" && {_derivative(e)[1]}"
                row += r" \text{ per example}" if e.kind == PER_EXAMPLE else ""
                mark = _mark(e.name, checks)
                if mark:
                    mantissa, exponent = mark[0].split("e")
                    verdict = r"\checkmark" if mark[1] else r"\text{fails}"
                    row += rf" && {verdict}\ {mantissa}\times 10^{{{int(exponent)}}}"
            rows.append(row)
        lines += [rf"\textbf{{{SECTION_TITLES[section]}}}", r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]
    lines.append(rf"\textbf{{{ONE_OVER_M_TITLE.replace('1/m', '$1/m$')}}}")
    lines.append("")
    inline = lambda s: f"${_latex(s)}$"                            # noqa: E731
    lines += [line for note in _one_over_m_notes(eqs, inline, inline) for line in (note, "")]
    return "\n".join(lines).rstrip() + "\n"


# --- explain --------------------------------------------------------------------------------


def _title(config: ModelConfig, m: int, convention: str) -> str:
    dims = ", ".join(map(str, config.layer_dims))
    output = get_output(config.output)
    hidden = f"{config.hidden_activation} hidden, " if config.L > 1 else ""
    where = "1/m in dW and db, the course's" if convention == "deferred" else "1/m in dZ[L]"
    return (f"Network [{dims}] (L = {config.L}): {hidden}{config.output} output with {output.loss_name}; "
            f"m = {m} examples; convention {convention} ({where})")


def explain(
    config: ModelConfig,
    m: int,
    convention: str = "deferred",
    format: str = "text",
    measure: bool = False,
    seed: int = 0,
    fused: bool = True,
    lambd: float = 0.0,
) -> str:
    """Every equation of ``config`` for m examples, rendered; with ``measure``, measured too.

    ``render(equations(config, m, convention, fused, lambd), format, checks, title)``,
    where ``checks`` is ``check(config, min(m, 64), seed, convention, fused, lambd)`` when
    ``measure`` is true. See those functions for the parameters.
    """
    eqs = equations(config, m, convention, fused, lambd)
    _check_format(format)
    if not isinstance(measure, bool):
        raise ValueError(f"measure must be True or False; got {measure!r}")
    title = _title(config, int(m), convention)
    checks = None
    if measure:
        m_check = min(int(m), CHECK_EXAMPLES)
        checks = check(config, m_check, seed, convention, fused, lambd)
        title += f"; measured on {m_check} random examples of this shape"
    return render(eqs, format, checks, title)


CHECK_EXAMPLES = 64  # finite differences cost two forward passes per parameter: m is capped for them
