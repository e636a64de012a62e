"""Diagnosis of one layer of a learner's backward step, from the arrays it returned.

Given the dA[l] the layer received (the learner's own, so that a mistake above does not
hide this layer's) and the layer's cache, the reference computes the course's dZ[l] and the
variants learners write — g′ missing, another activation's g′, A(1 − A) of another layer,
relu′(0) = 1 — and the learner's dW[l], db[l], dA[l−1] are matched against each variant's
plain sums (chainrule's ``linear_backward`` under "absorbed": dZ A_prevᵀ, Σ dZ, Wᵀ dZ):
which variant they come from, and by what factor (1/m, m, −1, …) they differ.

    analyse_layer(l, got, dA, cache, activation, m, s_in, top)   LayerResult(findings, s_out)

s_in is the scale of the dA received relative to the course's per-example dA[l]: 1 when
the learner follows the course, 1/m when the learner's dA are ∂J (the absorbed convention).
The learner's dW[l] is then r = c·m·s_in times the course's, c being its factor to the plain
sum dZ A_prevᵀ of the dZ made from that dA.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..activations import get_activation
from ..layers import linear_backward
from .arrays import Relation, factor_name, relate
from .report import Finding

FIX_ONE_OVER_M = ("apply the 1/m once: dW[l] = (1/m) dZ[l] A[l−1]ᵀ and db[l] = (1/m) Σ dZ[l] with the course's "
                  "per-example dZ[L] = A[L] − Y, or put it into dZ[L] = (1/m)(A[L] − Y) and drop it from dW, db")
G_PRIME = {"sigmoid": "A ⊙ (1 − A)", "tanh": "1 − A²", "relu": "1[Z > 0]"}
# g′ as learners write it from an activation A, to recognise it written with the wrong A
G_PRIME_OF_A = {"sigmoid": lambda A: A * (1 - A), "tanh": lambda A: 1 - A**2}


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
    """A dZ[l] (n_l, m) the learner may have computed: "correct" or the mistake it is, in words,
    with the status it earns and the fix."""

    kind: str
    what: str
    dZ: np.ndarray
    status: str = "wrong"
    fix: str = ""


class Sums(NamedTuple):
    """The plain sums of a dZ (no 1/m): dA_prev = Wᵀ dZ (n_{l−1}, m), dW = dZ A_prevᵀ, db = Σ_i dZ."""

    dA_prev: np.ndarray
    dW: np.ndarray
    db: np.ndarray


def dz_variants(l: int | None, dA: np.ndarray, Z: np.ndarray, activation: str | None,
                others: dict[str, np.ndarray]) -> list[Variant]:
    """The dZ[l] (n_l, m) of the course from dA[l] (n_l, m) and Z[l], then those of the mistakes
    learners make; ``others`` are the A of other layers a g′ may be written with, by name."""
    up, _ = _names(l)
    if activation is None:                                    # linear_backward: dZ is given
        return [Variant("correct", "", dA)]
    g = get_activation(activation)
    A = g.forward(Z)
    variants = [Variant("correct", "", g.backward(dA, Z, A))]
    if activation == "relu" and np.any(Z == 0):
        variants.append(Variant("relu_prime_at_zero", "relu′(0) taken as 1 (dZ[Z < 0] = 0 keeps dZ where Z = 0)",
                                dA * (Z >= 0), "note", "any value in [0, 1] is a subgradient of relu at 0; the course "
                                "and chainrule take 0 (dZ[Z <= 0] = 0), so results differ only where Z is exactly 0"))
    if activation in G_PRIME_OF_A:                            # g′ written with Z where it needs A = g(Z), or g(A)
        variants.append(Variant("wrong_g_prime", f"dZ{up} uses {activation}′ written with Z{up} where it needs "
                                f"A{up} = {activation}(Z{up}): {G_PRIME[activation].replace('A', 'Z')}",
                                dA * G_PRIME_OF_A[activation](Z)))
        variants.append(Variant("wrong_g_prime", f"dZ{up} applies {activation}′ to A{up} = {activation}(Z{up}) "
                                f"instead of Z{up}", dA * g.backward(np.ones_like(A), A, g.forward(A))))
    variants.append(Variant("missing_g_prime", f"dZ{up} = dA{up}: the ⊙ g′(Z{up}) of {activation} is missing", dA))
    for other in ("sigmoid", "tanh", "relu"):
        if other != activation:
            h = get_activation(other)
            variants.append(Variant("wrong_g_prime", f"dZ{up} uses {other}′ ({G_PRIME[other]}) where this layer's "
                                    f"activation is {activation} ({G_PRIME.get(activation, 'its g′')})",
                                    h.backward(dA, Z, h.forward(Z))))
    for other, derivative in G_PRIME_OF_A.items():            # another g′'s formula applied to this layer's A
        if other != activation:
            variants.append(Variant("wrong_g_prime", f"dZ{up} uses {other}′'s formula "
                                    f"{G_PRIME[other].replace('A', 'A' + up)} on a {activation} layer, whose g′ is "
                                    f"{G_PRIME.get(activation, 'another')}", dA * derivative(A)))
    for name, A_other in others.items():
        for other, derivative in G_PRIME_OF_A.items():
            try:
                dZ = dA * derivative(A_other)
            except ValueError:                                # does not broadcast
                continue
            if dZ.shape == dA.shape:
                variants.append(Variant("g_prime_wrong_layer", f"dZ{up} uses g′ written with {name} "
                                        f"({G_PRIME[other].replace('A', name)}) instead of A{up} of this layer", dZ))
    return variants


def _sums(variant: Variant, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> Sums:
    return Sums(*linear_backward(variant.dZ, (A_prev, W, b), "absorbed"))


def _choose(got: dict, sums: list[Sums], m: int, s_in: float) -> int:
    """The index of the variant the learner's arrays come from: the first whose plain sum the
    learner's dW (else db, else dA_prev) is a named multiple of (1, 1/m, m, −1 once s_in is
    counted), else the first it is any multiple of, else 0 (the course's)."""
    for key, scale in (("dW", m * s_in), ("db", m * s_in), ("dA_prev", 1.0)):    # the factor to the course's
        if key not in got:
            continue
        factors = [(i, r.factor) for i, s in enumerate(sums)
                   if (r := relate(got[key], getattr(s, key))).kind in ("equal", "scaled", "transposed", "flat")
                   and r.factor is not None]
        named = [i for i, c in factors if factor_name(c * scale, m)]
        if named or factors:
            return (named or [i for i, _ in factors])[0]
    return 0


def _scale_finding(array: str, l: int | None, r: float | None, m: int, relation: Relation) -> Finding | None:
    """The finding for a parameter gradient that is r times the course's (None when r = 1)."""
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


def _with_scale(finding: Finding, scale: Finding | None) -> Finding:
    return finding._replace(message=f"{finding.message}; also {scale.message}") if scale else finding


def _analyse_db(l, got, variant: Variant, sums: Sums, m, s_in) -> Finding | None:
    up, _ = _names(l)
    course = sums.db / (m * s_in)                             # the course's db[l] for this dZ
    relation = relate(got, course)
    if relation.kind == "flat":
        return _with_scale(Finding("wrong", "no_keepdims", f"db{up} has {relation.detail}: np.sum without "
                                   "keepdims=True", f"db{up} = (1/m) np.sum(dZ{up}, axis=1, keepdims=True)", _at(l)),
                           _scale_finding(f"db{up}", l, relation.factor, m, relation))
    if relation.kind in ("equal", "scaled"):
        return _scale_finding(f"db{up}", l, relation.factor, m, relation)
    axis0 = relate(got, np.sum(variant.dZ, axis=0, keepdims=True))
    if axis0.kind in ("equal", "scaled", "flat"):
        return Finding("wrong", "wrong_axis", f"db{up} sums dZ{up} over axis 0 (the units) where the examples are "
                       f"axis 1: its {relation.detail}", f"db{up} = (1/m) np.sum(dZ{up}, axis=1, keepdims=True)",
                       _at(l))
    return Finding("wrong", "differs", f"db{up} differs from the course's: {relation.detail}", "", _at(l))


def _analyse_dW(l, got, variant: Variant, sums: Sums, A, m, s_in) -> Finding | None:
    up, down = _names(l)
    course = sums.dW / (m * s_in)                             # the course's dW[l] for this dZ
    relation = relate(got, course)
    if relation.kind == "transposed":
        return _with_scale(Finding("wrong", "transposed", f"dW{up} is dW{up}ᵀ, {relation.detail}: the operands are "
                                   f"swapped (A{down} dZ{up}ᵀ instead of dZ{up} A{down}ᵀ)",
                                   f"dW{up} = (1/m) np.dot(dZ{up}, A_prev.T)", _at(l)),
                           _scale_finding(f"dW{up}ᵀ", l, relation.factor, m, relation))
    if relation.kind in ("equal", "scaled"):
        return _scale_finding(f"dW{up}", l, relation.factor, m, relation)
    if A is not None:
        operand = relate(got, variant.dZ @ A.T)                   # the mistake: the layer's own A[l] as operand
        if operand.kind in ("equal", "scaled"):
            return Finding("wrong", "wrong_operand", f"dW{up} is (1/m) dZ{up} A{up}ᵀ: it uses A{up}, the layer's "
                           f"own output, where the course's uses its input A{down}",
                           f"dW{up} = (1/m) np.dot(dZ{up}, A{down}.T)", _at(l))
    return Finding("wrong", "differs", f"dW{up} differs from the course's: {relation.detail}", "", _at(l))


def _analyse_dA_prev(l, got, sums: Sums, m, s_in, top, below_Z,
                     dW_negative: bool) -> tuple[list[Finding], float | None]:
    """Findings for the learner's dA[l−1], and the scale s_out it hands the layer below."""
    up, down = _names(l)
    relation = relate(got, sums.dA_prev)
    name = factor_name(relation.factor, m) if relation.kind in ("equal", "scaled") else None
    if name == "1" or (top and name == "1/m"):                # 1/m at the top: the learner's dZ[L] is ∂J (absorbed)
        return [], relation.factor * s_in
    if name == "−1":                                          # said once, here; below, judged by the learner's own dA
        if dW_negative:
            where = "dA[L] is the negative of ∂L/∂A[L]" if top else f"dZ{up} is the negative of the course's"
            message = f"dA{down} has the wrong sign: {where}, and so is every dW, db, dA below it"
        else:
            message = (f"dA{down} is −W{up}ᵀ dZ{up}: the wrong sign (dW{up}, db{up} are right), and so is every dA "
                       "below it")
        fix = ("dA[L] = −(Y/A[L] − (1 − Y)/(1 − A[L])) (∂L/∂A[L]); dZ[L] = A[L] − Y" if top and dW_negative else
               f"dA{down} = np.dot(W{up}.T, dZ{up})")
        return [Finding("wrong", "sign", message, fix, _at(l))], s_in
    if below_Z is not None and relate(got, sums.dA_prev * (below_Z > 0)).kind == "equal":
        return [Finding("wrong", "mutates_input", f"dA{down} was changed after it was stored: it is W{up}ᵀ dZ{up} "
                        f"with every entry where Z{down} ≤ 0 set to 0, i.e. dZ{down}. A relu_backward that writes "
                        "into the dA it is given (dA[Z <= 0] = 0) does this",
                        "dZ = np.array(dA, copy=True); dZ[Z <= 0] = 0", _at(l - 1 if l else None))], s_in
    detail = (f"it is {name} times it" if name else f"it is {relation.factor:.6g} times it"
              if relation.kind == "scaled" else relation.detail)
    return [Finding("wrong", "differs", f"dA{down} differs from W{up}ᵀ dZ{up}: {detail}",
                    f"dA{down} = np.dot(W{up}.T, dZ{up})", _at(l))], (relation.factor * s_in if name else None)


def analyse_layer(l: int | None, got: dict[str, Any], dA: np.ndarray, cache: tuple, activation: str | None, m: int,
                  s_in: float = 1.0, top: bool = False, others: dict[str, np.ndarray] | None = None,
                  A_layer: np.ndarray | None = None, below_Z: np.ndarray | None = None,
                  extra: tuple[Variant, ...] = ()) -> LayerResult:
    """Findings for the learner's dW[l], db[l] (and dA[l−1] when ``got`` has "dA_prev").

    Parameters
    ----------
    l : the layer (None: a lone layer, as linear_backward, whose arrays are dW, db, dA_prev)
    got : {"dW": …, "db": …, "dA_prev": …} the learner's arrays
    dA : (n_l, m) the dA[l] the layer received (dZ[l] itself when ``activation`` is None)
    cache : (A_prev (n_{l−1}, m), W (n_l, n_{l−1}), b (n_l, 1), Z (n_l, m))
    activation : g[l] (None: dA is dZ)
    m : the m of J
    s_in : dA's scale relative to the per-example dA[l]
    top : dA is the course's own per-example dA[L], so the factor of the learner's dA[L−1]
        tells the learner's convention (1: deferred, 1/m: absorbed)
    others : the A of other layers a learner may write g′ with, by name
    A_layer : the layer's output, when ``activation`` is None (for dW written with A[l])
    below_Z : Z[l−1] of a relu layer below, to recognise a dA[l−1] masked in place
    extra : more variants of dZ[l] to recognise (the output layer's, from its caller)
    """
    up, _ = _names(l)
    A_prev, W, b, Z = cache
    A = get_activation(activation).forward(Z) if activation else A_layer
    variants = dz_variants(l, dA, Z, activation, others or {}) + list(extra)
    sums = [_sums(v, A_prev, W, b) for v in variants]
    chosen = _choose(got, sums, m, s_in)
    variant, sum_ = variants[chosen], sums[chosen]
    findings: list[Finding] = []
    if variant.kind != "correct":
        fix = variant.fix or f"dZ{up} = dA{up} ⊙ g′(Z{up}) with {activation}′ = {G_PRIME.get(activation, 'its g′')}"
        findings.append(Finding(variant.status, variant.kind, variant.what, fix, _at(l)))
    dW_relation = relate(got.get("dW"), sum_.dW)
    dW_negative = factor_name((dW_relation.factor or 0.0) * m * s_in, m) == "−1"
    s_out, s_params = None, s_in
    if "dA_prev" in got:
        found, s_out = _analyse_dA_prev(l, got["dA_prev"], sum_, m, s_in, top, below_Z, dW_negative)
        findings += found
        if dW_negative and any(f.kind == "sign" for f in found):
            s_params = -s_in                                  # the sign said above explains dW, db too
    for finding in (_analyse_dW(l, got.get("dW"), variant, sum_, A, m, s_params),
                    _analyse_db(l, got.get("db"), variant, sum_, m, s_params)):
        if finding is not None:
            findings.append(finding)
    return LayerResult(findings, s_out)
