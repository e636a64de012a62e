"""Diagnosis of one layer of a learner's backward step, from the arrays it returned.

Given the dA[l] the layer received (the learner's own, so that a mistake above does not
hide this layer's) and the layer's cache, the reference computes the course's step and the
variants learners write — g′ missing, another activation's g′, A(1 − A) of another layer,
relu′(0) = 1 — and the learner's dW[l], db[l], dA[l−1] are matched against them: which dZ
variant they come from, and by what factor (1/m, m, −1, …) they differ from the course's.

    analyse_layer(l, got, dA, cache, activation, m, s_in, top)   LayerResult(findings, s_out)
    merge(findings)                                              one finding per kind, layers listed

s_in is the scale of the dA received relative to the course's per-example dA[l] (1 when the
learner follows the course; 1/m when the learner's dA are ∂J, the absorbed convention).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np

from ..activations import get_activation
from .arrays import Relation, factor_name, relate
from .report import Finding

FIX_ONE_OVER_M = ("apply the 1/m once: dW[l] = (1/m) dZ[l] A[l−1]ᵀ and db[l] = (1/m) Σ dZ[l] with the course's "
                  "per-example dZ[L] = A[L] − Y, or put it into dZ[L] = (1/m)(A[L] − Y) and drop it from dW, db")
G_PRIME = {"sigmoid": "A ⊙ (1 − A)", "tanh": "1 − A²", "relu": "1[Z > 0]"}


def _names(l: int | None) -> tuple[str, str]:
    """("[2]", "[1]") for layer 2 of a network; ("", "_prev") for a lone layer (l None)."""
    return (f"[{l}]", f"[{l - 1}]") if l else ("", "_prev")


def _at(l: int | None) -> tuple[int, ...]:
    return (l,) if l else ()


class LayerResult(NamedTuple):
    """findings : the layer's findings; s_out : the scale of the learner's dA[l−1] relative
    to the course's per-example one (None when it is not a multiple of it)."""

    findings: list[Finding]
    s_out: float | None


class Variant(NamedTuple):
    kind: str          # "correct" or the mistake it is
    what: str          # in words, for the message
    dZ: np.ndarray


def dz_variants(l: int, dA: np.ndarray, Z: np.ndarray, activation: str | None, others: dict[str, np.ndarray]):
    """The dZ[l] of the course, then those of the mistakes learners make, each a Variant."""
    up, down = _names(l)
    if activation is None:                                    # linear_backward: dZ is given
        return [Variant("correct", "", dA)]
    g = get_activation(activation)
    A = g.forward(Z)
    variants = [Variant("correct", "", g.backward(dA, Z, A))]
    if activation == "relu" and np.any(Z == 0):
        variants.append(Variant("relu_prime_at_zero", "relu′(0) taken as 1 (dZ[Z < 0] = 0 keeps dZ where Z = 0)",
                                dA * (Z >= 0)))
    variants.append(Variant("missing_g_prime", f"dZ{up} = dA{up}: the ⊙ g′(Z{up}) of {activation} is missing", dA))
    for other in ("sigmoid", "tanh", "relu"):
        if other != activation:
            h = get_activation(other)
            variants.append(Variant("wrong_g_prime", f"dZ{up} uses {other}′ ({G_PRIME[other]}) where this layer's "
                                    f"activation is {activation} ({G_PRIME.get(activation, 'its g′')})",
                                    h.backward(dA, Z, h.forward(Z))))
    own = {"sigmoid": ("A ⊙ (1 − A)", lambda a: a * (1 - a)), "tanh": ("1 − A²", lambda a: 1 - a**2)}
    for other, (form, derivative) in own.items():          # another g′'s formula applied to this layer's A
        if other != activation:
            variants.append(Variant("wrong_g_prime", f"dZ{up} uses {other}′'s formula {form.replace('A', 'A' + up)} "
                                    f"on a {activation} layer, whose g′ is {G_PRIME.get(activation, 'another')}",
                                    dA * derivative(A)))
    for name, A_other in others.items():
        for form, derivative in (("A ⊙ (1 − A)", lambda a: a * (1 - a)), ("1 − A²", lambda a: 1 - a**2)):
            try:
                dZ = dA * derivative(A_other)
            except ValueError:                                # does not broadcast
                continue
            if dZ.shape == dA.shape:
                variants.append(Variant("g_prime_wrong_layer", f"dZ{up} uses g′ written with {name} "
                                        f"({form.replace('A', name)}) instead of A{up} of this layer", dZ))
    return variants


def _match(got: Any, candidates, base, nice) -> Variant | None:
    """The first variant whose base array ``base(v)`` relates to ``got`` by a named factor
    (``nice(relation)``), else the first it relates to by any factor, else None."""
    related = []
    for v in candidates:
        relation = relate(got, base(v))
        if relation.kind in ("equal", "scaled", "transposed", "flat"):
            if nice(relation):
                return v
            related.append(v)
    return related[0] if related else None


def _scale_finding(array: str, l: int, r: float | None, m: int, relation: Relation) -> Finding | None:
    """The finding for a parameter gradient that is r times the course's (None when r = 1)."""
    up, down = _names(l)
    name = factor_name(r, m)
    if name == "1":
        return None
    if name == "1/m":
        return Finding("wrong", "double_one_over_m", f"{array} is exactly 1/m of the course's (m = {m}): the 1/m of J "
                       f"is applied twice", FIX_ONE_OVER_M, _at(l))
    if name == "m":
        return Finding("wrong", "missing_one_over_m", f"{array} is exactly m times the course's (m = {m}): the 1/m "
                       f"of J is missing", FIX_ONE_OVER_M, _at(l))
    if name == "−1":
        return Finding("wrong", "sign", f"{array} has the wrong sign (exactly −1 times the course's)",
                       "dW, db are the gradient of J, not its negative; the step subtracts α·dW", _at(l))
    if name and name.startswith("−"):
        return Finding("wrong", "sign", f"{array} is exactly {name} times the course's (m = {m}): a wrong sign and a "
                       f"misplaced 1/m", FIX_ONE_OVER_M, _at(l))
    return Finding("wrong", "differs", f"{array} is {r:.6g} times the course's" if r is not None else
                   f"{array} differs from the course's {relation.detail}", "", _at(l))


def _analyse_db(l, got, variant, m, s_in) -> Finding | None:
    up, down = _names(l)
    db0 = np.sum(variant.dZ, axis=1, keepdims=True)
    relation = relate(got, db0)
    r = None if relation.factor is None else relation.factor * m * s_in
    if relation.kind == "flat":
        return Finding("wrong", "no_keepdims", f"db{up} has {relation.detail}: np.sum without keepdims=True",
                       f"db{up} = (1/m) np.sum(dZ{up}, axis=1, keepdims=True)", _at(l))
    if relation.kind in ("equal", "scaled"):
        return _scale_finding(f"db{up}", l, r, m, relation)
    axis0 = relate(got, np.sum(variant.dZ, axis=0, keepdims=True))
    if axis0.kind in ("equal", "scaled", "flat"):
        return Finding("wrong", "wrong_axis", f"db{up} sums dZ{up} over axis 0 (the units) where the examples are "
                       f"axis 1: its {relation.detail}", f"db{up} = (1/m) np.sum(dZ{up}, axis=1, keepdims=True)",
                       _at(l))
    return Finding("wrong", "differs", f"db{up} differs from the course's: {relation.detail}", "", _at(l))


def _analyse_dW(l, got, variant, A_prev, A, m, s_in) -> Finding | None:
    up, down = _names(l)
    relation = relate(got, variant.dZ @ A_prev.T)
    r = None if relation.factor is None else relation.factor * m * s_in
    if relation.kind == "transposed":
        scale = _scale_finding(f"dW{up}ᵀ", l, r, m, relation)
        extra = f"; also {scale.message}" if scale else ""
        return Finding("wrong", "transposed", f"dW{up} is dW{up}ᵀ, {relation.detail}: the operands are swapped "
                       f"(A{down} dZ{up}ᵀ instead of dZ{up} A{down}ᵀ){extra}",
                       f"dW{up} = (1/m) np.dot(dZ{up}, A_prev.T)", _at(l))
    if relation.kind in ("equal", "scaled"):
        return _scale_finding(f"dW{up}", l, r, m, relation)
    if A is not None:
        operand = relate(got, variant.dZ @ A.T)
        if operand.kind in ("equal", "scaled"):
            return Finding("wrong", "wrong_operand", f"dW{up} is (1/m) dZ{up} A{up}ᵀ: it uses A{up}, the layer's "
                           f"own output, where the course's uses its input A{down}",
                           f"dW{up} = (1/m) np.dot(dZ{up}, A{down}.T)", _at(l))
    return Finding("wrong", "differs", f"dW{up} differs from the course's: {relation.detail}", "", _at(l))


def analyse_layer(l: int | None, got: dict[str, Any], dA: np.ndarray, cache: tuple, activation: str | None, m: int,
                  s_in: float = 1.0, top: bool = False, others: dict[str, np.ndarray] | None = None,
                  A_layer: np.ndarray | None = None, below_Z: np.ndarray | None = None) -> LayerResult:
    """Findings for the learner's dW[l], db[l] (and dA[l−1] when ``got`` has "dA_prev").

    dA : (n_l, m) the dA[l] the layer received (dZ[l] itself when ``activation`` is None);
    cache : (A_prev, W, b, Z); s_in : dA's scale relative to the per-example dA[l];
    top : dA is the course's own (per-example) dA[L], so the factor of the learner's dA[l−1]
    tells the learner's convention (1: deferred, 1/m: absorbed). l None: a lone layer
    (linear_backward, linear_activation_backward), named dW, db, dA_prev. others : the A of
    other layers a learner may write g′ with, by name; A_layer : the layer's output, when
    ``activation`` is None; below_Z : Z[l−1] of a relu layer below, to recognise a dA[l−1]
    masked in place by that layer's relu_backward.
    """
    up, down = _names(l)
    A_prev, W, _, Z = cache
    A = get_activation(activation).forward(Z) if activation else A_layer
    variants = dz_variants(l, dA, Z, activation, others or {})
    def nice(relation):                                     # a factor a layer's mistake explains: 1, 1/m, m, −1
        return factor_name(relation.factor * m * s_in, m) is not None

    variant = _match(got.get("dW"), variants, lambda v: v.dZ @ A_prev.T, nice)
    if variant is None:
        variant = _match(got.get("db"), variants, lambda v: np.sum(v.dZ, axis=1, keepdims=True), nice)
    has_dA = "dA_prev" in got
    if variant is None and has_dA:
        variant = _match(got["dA_prev"], variants, lambda v: W.T @ v.dZ, lambda r: factor_name(r.factor, m) is not None)
    findings: list[Finding] = []
    s_out = None
    variant = variant or variants[0]
    if variant.kind != "correct":
        status = "note" if variant.kind == "relu_prime_at_zero" else "wrong"
        fix = (f"dZ{up} = dA{up} ⊙ g′(Z{up}) with {activation}′ = {G_PRIME.get(activation, 'its derivative')}"
               if status == "wrong" else "any value in [0, 1] is a subgradient of relu at 0; the course and "
               "chainrule take 0 (dZ[Z <= 0] = 0), so results differ only where Z is exactly 0")
        findings.append(Finding(status, variant.kind, variant.what, fix, _at(l)))
    if has_dA:
        relation = relate(got["dA_prev"], W.T @ variant.dZ)
        name = factor_name(relation.factor, m) if relation.kind in ("equal", "scaled") else None
        if name is not None:
            s_out = relation.factor * s_in
        masked = None if name or below_Z is None else relate(got["dA_prev"], (W.T @ variant.dZ) * (below_Z > 0))
        if masked is not None and masked.kind == "equal":
            s_out = s_in
            findings.append(Finding("wrong", "mutates_input", f"dA{down} was changed after it was stored: it is "
                                    f"W{up}ᵀ dZ{up} with every entry where Z{down} ≤ 0 set to 0, i.e. dZ{down}. A "
                                    f"relu_backward that writes into the dA it is given (dA[Z <= 0] = 0) does this",
                                    "dZ = np.array(dA, copy=True); dZ[Z <= 0] = 0", _at(l - 1 if l else None)))
        elif top and name == "1/m":
            pass                                              # the learner's dZ[L] is ∂J: the caller says absorbed
        elif name == "−1":                                    # one sign error upstream: said once, here
            where = "dA[L] is the negative of ∂L/∂A[L]" if top else f"dA{up} or dZ{up} is the negative of the course's"
            findings.append(Finding("wrong", "sign", f"dA{down} has the wrong sign: {where}, and so is every dW, db, "
                                    "dA below it", "dA[L] = −(Y/A[L] − (1 − Y)/(1 − A[L])) (∂L/∂A[L]); "
                                    "dZ[L] = A[L] − Y", _at(l)))
            s_in, s_out = -s_in, 1.0                           # below, measured against the learner's own dA
        elif name != "1":
            findings.append(Finding("wrong", "differs", f"dA{down} differs from W{up}ᵀ dZ{up}: "
                                    + (f"it is {name} times it" if name else relation.detail),
                                    f"dA{down} = np.dot(W{up}.T, dZ{up})", _at(l)))
    for finding in (_analyse_dW(l, got.get("dW"), variant, A_prev, A, m, s_in),
                    _analyse_db(l, got.get("db"), variant, m, s_in)):
        if finding is not None and not (finding.kind == "sign" and any(f.kind == "sign" for f in findings)):
            findings.append(finding)
    return LayerResult(findings, s_out)


def _key(f: Finding) -> tuple:
    """What two findings share when they say the same thing of other layers, arrays or m."""
    text = re.sub(r"\b(dW|db)\b", "d·", re.sub(r"\d+", "#", f.message))
    return f.status, f.kind, text


def merge(findings: list[Finding], L: int | None = None) -> list[Finding]:
    """One finding per thing said, of one problem: dW[l] and db[l] together, the layers listed
    ("in every layer" when they are all L of them)."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault(_key(f), []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        layers = tuple(sorted({l for f in group for l in f.layers}))
        arrays = list(dict.fromkeys(m.group(1) for f in group if (m := re.match(r"(dW|db)\b", f.message))))
        message, fix = first.message, first.fix
        if len(arrays) == 2:
            message = re.sub(r"^(dW|db)(\[\d+\])? is ", r"dW\2, db\2 are ", message)
        named = first.layers[0] if first.layers else None           # the layer the first message names
        out.append(_as_general(first._replace(message=message, fix=fix, layers=layers), L, named))
    return out


def merge_cases(findings: list[Finding]) -> list[Finding]:
    """One finding per thing said over several problems: the first problem's words, all layers."""
    groups: dict[tuple, Finding] = {}
    for f in findings:
        key = _key(f)
        if key in groups:
            old = groups[key]
            groups[key] = old._replace(layers=tuple(sorted(set(old.layers) | set(f.layers))))
        else:
            groups[key] = f
    return list(groups.values())


def _as_general(f: Finding, L: int | None, first: int | None) -> Finding:
    """A finding about several layers, written with the course's l: "dW[l] … — in layers 1, 2, 3".
    ``first``: the layer its message names."""
    every = L is not None and L >= 2 and f.layers in (tuple(range(1, L + 1)), tuple(range(1, L)))
    if (len(f.layers) < 2 and not every) or " — in " in f.message:
        return f

    def general(text: str) -> str:
        text = re.sub(rf"\[{first}\]", "[l]", text)
        return re.sub(rf"\[{first - 1}\]", "[l−1]", text)

    if L is not None and f.layers == tuple(range(1, L + 1)):
        where = "in every layer"
    elif L is not None and f.layers == tuple(range(1, L)):
        where = "in every hidden layer (l = 1 … L−1)"
    else:
        where = f"in layers {', '.join(map(str, f.layers))}"
    return f._replace(message=f"{general(f.message)} — {where}", fix=general(f.fix))
