"""Gradient checking: backward's dW, db against central differences of J.

For every parameter θ_i (W1, b1, W2, b2, … flattened in that order)

    g̃_i = (J(θ + ε e_i) − J(θ − ε e_i)) / (2ε)

and the course's measure of disagreement, scale-free and symmetric,

    difference = ‖g − g̃‖₂ / (‖g‖₂ + ‖g̃‖₂)

passes below 2e-7. The same measure over each layer's slice and each array's slice says
which layer is wrong: a backward that divides by m twice, for example, fails in every
layer whose dW and db it shrank, and nowhere else.

Rounding sets a floor under what finite differences can see. J is computed with a relative
rounding error of about the machine epsilon u, so each g̃_i carries noise of about
u·|J|/ε. Two things follow:

- J is evaluated in long double where the platform has a wider one (80-bit on x86-64
  Linux, u ≈ 1e-19). In float64 (u ≈ 1e-16) the noise at ε = 1e-7 is about 1e-9 per
  component: harmless for the total, but as large as a whole layer's gradient can be in a
  small network, and per-layer verdicts would blame correct layers.
- ``precision`` chooses otherwise: "float64" evaluates J from Z[L] in float64, and "course"
  from A[L] in float64 as the course's ``forward_propagation_n`` does, −log a and
  −log(1 − a): the finite differences of the course's ``gradient_check_n``, bit for bit,
  and so its printed differences. Forming 1 − a rounds away what a few ulps of a held, so
  this J is the noisiest of the three (the course's 1.19e-7 on its own test case, where
  float64 from Z[L] gives 1.1e-9 and long double 6e-13).
- Where a slice's gradient is so small that even then its disagreement stays within that
  noise (an early layer of a deep sigmoid network, where gradients vanish), its relative
  difference means nothing: the slice is reported "too small to judge", not wrong. The
  check fails when the total difference is at or above the threshold, or when any layer
  or array disagrees by more than rounding can explain.

The check runs in float64 (or wider) whatever the dtype of X: central differences in
float32 would measure rounding, not gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_choice, check_convention, check_number, check_params, check_X, check_Y, is_stack
from .layers import LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import ModelConfig, backward, check_config, forward
from .precision import WIDE

THRESHOLD = 2e-7
PRECISIONS = ("wide", "float64", "course")  # how J is evaluated: see the module's docstring
PRECISION_TEXT = {"wide": "", "float64": ", J in float64", "course": ", J in float64 from A[L], as the course"}
NOISE_FACTOR = 4.0  # a slice's rounding noise is taken as NOISE_FACTOR · √n · u|J|/ε
STATUS_TEXT = {"ok": "ok", "wrong": "WRONG", "unresolved": "too small to judge"}


def params_to_vector(params: Sequence[tuple]) -> np.ndarray:
    """Flatten params (or grads) into one vector θ in the order W1, b1, W2, b2, …

    Parameters
    ----------
    params : list of (W, b) or (dW, db)
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)).

    Returns
    -------
    theta : (Σ_l n_l (n_{l-1} + 1),)
    """
    return np.concatenate([np.ravel(a) for layer in params for a in layer])


def vector_to_params(theta: Any, config: ModelConfig) -> list[LayerParams]:
    """The inverse of ``params_to_vector`` for the shapes of ``config``.

    Parameters
    ----------
    theta : (Σ_l n_l (n_{l-1} + 1),)
    config : ModelConfig

    Returns
    -------
    list of LayerParams
        Views into ``theta``, params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)).
    """
    theta = np.asarray(theta)
    dims = config.layer_dims
    size = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, config.L + 1))
    if theta.ndim != 1 or theta.size != size:
        raise ValueError(f"theta must have {size} entries for layer_dims {list(dims)}; got shape {theta.shape}")
    params, start = [], 0
    for l in range(1, config.L + 1):
        n_l, n_prev = dims[l], dims[l - 1]
        W = theta[start:start + n_l * n_prev].reshape(n_l, n_prev)
        start += n_l * n_prev
        b = theta[start:start + n_l].reshape(n_l, 1)
        start += n_l
        params.append(LayerParams(W, b))
    return params


def relative_difference(g: np.ndarray, g_approx: np.ndarray) -> float:
    """‖g − g̃‖₂ / (‖g‖₂ + ‖g̃‖₂), and 0 when both are zero."""
    denominator = np.linalg.norm(g) + np.linalg.norm(g_approx)
    return 0.0 if denominator == 0 else float(np.linalg.norm(g - g_approx) / denominator)


class SliceCheck(NamedTuple):
    """The check of one slice of the gradient: an array ("dW2"), a layer ("layer 2"), or "all".

    difference : the course's relative measure over the slice.
    error : ‖g − g̃‖₂, the absolute disagreement.
    resolution : the rounding noise ‖g − g̃‖₂ can have with a correct backward.
    status : "ok" (difference below the threshold), "unresolved" (above it, but with an
        error within the resolution: the gradient is too small to judge), or "wrong".
    """

    name: str
    l: int | None
    difference: float
    error: float
    resolution: float
    status: str

    @property
    def passed(self) -> bool:
        """True unless the slice is shown wrong."""
        return self.status != "wrong"


def _check_slice(name, l, g, g_approx, noise_per_component, threshold) -> SliceCheck:
    difference = relative_difference(g, g_approx)
    error = float(np.linalg.norm(g - g_approx))
    resolution = NOISE_FACTOR * np.sqrt(g.size) * noise_per_component
    if difference < threshold:
        status = "ok"
    elif error <= resolution:
        status = "unresolved"
    else:
        status = "wrong"
    return SliceCheck(name, l, difference, error, float(resolution), status)


@dataclass(frozen=True)
class GradCheckResult:
    """The outcome of ``gradient_check``.

    difference : the course's measure over all parameters.
    passed : the total and every layer and array pass (see the module's docstring).
    total : the SliceCheck of all parameters together.
    layers : one SliceCheck per layer l, over its dW and db together.
    arrays : one SliceCheck per dW[l] and db[l], in the order dW1, db1, dW2, …
    grad, grad_approx : the flattened backward and finite-difference gradients (W1, b1, …).
    precision : how J was evaluated: "wide", "float64" or "course".
    """

    difference: float
    passed: bool
    threshold: float
    epsilon: float
    convention: str
    total: SliceCheck
    layers: tuple[SliceCheck, ...]
    arrays: tuple[SliceCheck, ...]
    grad: np.ndarray
    grad_approx: np.ndarray
    precision: str = "wide"

    @property
    def failing_layers(self) -> list[int]:
        """The layers l shown wrong: they disagree by more than rounding can explain."""
        return [c.l for c in self.layers if not c.passed]

    @property
    def unresolved_layers(self) -> list[int]:
        """The layers whose gradient is too small for finite differences to judge."""
        return [c.l for c in self.layers if c.status == "unresolved"]

    def table(self) -> str:
        """A plain-text report: one row per layer with its dW and db, then the total."""
        rows = [f"{'layer':>5}  {'dW':>10}  {'db':>10}  {'layer':>10}  verdict"]
        for c, dW, db in zip(self.layers, self.arrays[0::2], self.arrays[1::2]):
            rows.append(
                f"{c.l:>5}  {dW.difference:>10.2e}  {db.difference:>10.2e}  "
                f"{c.difference:>10.2e}  {STATUS_TEXT[c.status]}"
            )
        verdict = "passed" if self.passed else "FAILED"
        rows.append(
            f"{'all':>5}  {'':>10}  {'':>10}  {self.difference:>10.2e}  {verdict} "
            f"(threshold {self.threshold:g}, epsilon {self.epsilon:g}, {self.convention}"
            + PRECISION_TEXT[self.precision] + ")"
        )
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table()


BackwardFn = Callable[..., list]


def gradient_check(
    params: Sequence[tuple],
    X: Any,
    Y: Any,
    config: ModelConfig,
    epsilon: float = 1e-7,
    convention: str = "deferred",
    *,
    threshold: float = THRESHOLD,
    backward_fn: BackwardFn | None = None,
    lambd: float = 0.0,
    n: int | None = None,
    keep_prob: float = 1.0,
    rng: Any = None,
    masks: Sequence[np.ndarray] | None = None,
    precision: str = "wide",
) -> GradCheckResult:
    """Compare backward's gradients with central differences of J, overall, per layer and per array.

    Parameters
    ----------
    params : list of (W, b)
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)).
    X : (n_x, m)
    Y : (n_y, m)
    config : ModelConfig
    epsilon : float
        The step ε of the central differences.
    convention : "deferred" or "absorbed"
        Passed to backward; the finite differences do not depend on it.
    threshold : float
        A difference below it passes (the course's 2e-7).
    backward_fn : callable, optional
        ``backward_fn(AL, Y, caches, config, convention) -> grads`` to check instead of
        ``chainrule.backward``: a learner's own backward, or one with a planted bug. With
        lambd > 0 it is also given ``lambd=`` and ``n=``.
    lambd, n : float, int
        L2 strength and training-set size (default m), in J and in backward alike.
    keep_prob, rng, masks :
        Dropout. J must be one fixed function for finite differences, so the masks are
        drawn once (from ``rng``), or taken from ``masks``, and held fixed for every
        evaluation.
    precision : "wide", "float64" or "course"
        How J is evaluated for the finite differences. "wide" (default): from Z[L] in long
        double, whose rounding is far below any disagreement worth seeing. "float64": from
        Z[L] in float64. "course": from A[L] in float64, as the course's
        ``forward_propagation_n`` computes it (for a sigmoid output −log a and −log(1 − a),
        the same operations): the course's ``gradient_check_n`` differences, with its
        rounding (see the module's docstring).

    Returns
    -------
    GradCheckResult
        Print it for the per-layer table; ``failing_layers`` lists the layers that disagree.
        For a stack of networks (params with leading axes, X and Y shared or one per network),
        a tuple of the results of each network, in the stack's order.
    """
    if is_stack(params):
        return _each_network(params, X, Y, config, epsilon, convention, threshold=threshold, backward_fn=backward_fn,
                             lambd=lambd, n=n, keep_prob=keep_prob, rng=rng, masks=masks, precision=precision)
    check_config(config)
    check_convention(convention)
    check_choice("precision", precision, PRECISIONS)
    for name, value in (("epsilon", epsilon), ("threshold", threshold)):
        check_number(name, value, "a positive number", lambda v: v > 0)
    X = check_X(X, config.n_x).astype(np.float64)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], np.dtype(np.float64))
    params = check_params(params, config.layer_dims, np.dtype(np.float64))
    output = get_output(config.output)
    AL, caches = forward(params, X, config, keep_prob=keep_prob, rng=rng, masks=masks)
    masks = [c.D for c in caches[:-1]] if keep_prob < 1 else None
    n = X.shape[1] if n is None else n
    dtype = WIDE if precision == "wide" else np.float64              # what J is evaluated in
    cost = _cost_function(config, X.astype(dtype), Y.astype(dtype), precision, keep_prob, masks, lambd, n)

    l2 = {"lambd": lambd, "n": n} if lambd else {}                # a learner's backward may know no L2
    grads = (backward_fn or backward)(AL, Y, caches, config, convention, **l2)
    grad = params_to_vector(grads)
    theta = params_to_vector(params).astype(dtype)
    if grad.shape != theta.shape:
        raise ValueError(f"the backward being checked returned {grad.size} values for {theta.size} parameters")

    grad_approx, noise = _central_differences(cost, theta, epsilon, _conditioning(AL, Y, output, precision))
    total, layers, arrays = _slice_checks(params, grad, grad_approx, noise, threshold)
    passed = total.difference < threshold and all(c.passed for c in layers + arrays)
    return GradCheckResult(
        total.difference, passed, threshold, epsilon, convention,
        total, tuple(layers), tuple(arrays), grad, grad_approx, precision,
    )


def _cost_function(config: ModelConfig, X: np.ndarray, Y: np.ndarray, precision: str, keep_prob: float,
                   masks: list | None, lambd: float, n: int) -> Callable[[np.ndarray], np.floating]:
    """J(θ) as ``precision`` says (see the module's docstring), in X's dtype, with the dropout
    masks fixed: from Z[L], or from A[L] as the course's notebook computes it."""
    output = get_output(config.output)

    def cost(theta: np.ndarray) -> np.floating:
        theta_params = vector_to_params(theta, config)
        AL, caches = forward(theta_params, X, config, keep_prob=keep_prob, masks=masks)
        loss = output.loss(AL, Y) if precision == "course" else output.loss_from_Z(caches[-1].Z, Y)
        J = cost_from_loss(loss)
        return J + l2_cost([W for W, _ in theta_params], lambd, n) if lambd else J

    return cost


def _each_network(params, X, Y, config, epsilon, convention, **options) -> tuple[GradCheckResult, ...]:
    """The gradient check of each network of a stack (params with leading axes; X, Y shared or
    one per network), in the stack's order: each network's is the check it gets alone."""
    check_config(config)
    params = check_params(params, config.layer_dims, stack=True)
    X = check_X(X, config.n_x, stack=True)
    stack = params[0][0].shape[:-2]
    results = []
    for k in np.ndindex(stack):
        network = [LayerParams(W[k], b[k]) for W, b in params]
        X_k = X if X.ndim == 2 else X[k]
        Y_k = np.asarray(Y) if np.ndim(Y) == 2 else np.asarray(Y)[k]
        results.append(gradient_check(network, X_k, Y_k, config, epsilon, convention, **options))
    return tuple(results)


def _conditioning(AL: np.ndarray, Y: np.ndarray, output: Any, precision: str) -> float:
    """How much J from A[L] moves when every a is rounded, in units of u: (1/m) Σ |a ∂L/∂a| over
    A[L] (n_y, m); 0 for J from Z[L]. For a sigmoid output with y = 0 it is a/(1 − a): 1 − a
    keeps only the absolute accuracy of a, which log(1 − a) turns into this much of an error."""
    if precision != "course":
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.abs(AL * output.dAL(AL, Y))) / AL.shape[-1])


def _central_differences(cost: Callable[[np.ndarray], Any], theta: np.ndarray, epsilon: float,
                         conditioning: float = 0.0):
    """(grad_approx, noise): (J(θ + εe_i) − J(θ − εe_i)) / 2ε for every i, and the rounding noise
    u(|J| + conditioning)/ε per component, u of θ's dtype and |J| the largest J evaluated."""
    grad_approx = np.empty(theta.size)
    J_max = abs(cost(theta))
    for i in range(theta.size):
        theta_plus, theta_minus = theta.copy(), theta.copy()
        theta_plus[i] += epsilon
        theta_minus[i] -= epsilon
        J_plus, J_minus = cost(theta_plus), cost(theta_minus)
        grad_approx[i] = (J_plus - J_minus) / (2 * epsilon)
        J_max = max(J_max, abs(J_plus), abs(J_minus))
    return grad_approx, float(np.finfo(theta.dtype).eps * (J_max + conditioning) / epsilon)


def _slice_checks(params, grad: np.ndarray, grad_approx: np.ndarray, noise: float, threshold: float):
    """(total, layers, arrays): the comparison over all parameters, over each layer's, and over each dW[l], db[l]."""
    arrays, layers, start = [], [], 0
    for l, (W, b) in enumerate(params, start=1):
        layer_start = start
        for name, size in ((f"dW{l}", W.size), (f"db{l}", b.size)):
            part = slice(start, start + size)
            arrays.append(_check_slice(name, l, grad[part], grad_approx[part], noise, threshold))
            start += size
        part = slice(layer_start, start)
        layers.append(_check_slice(f"layer {l}", l, grad[part], grad_approx[part], noise, threshold))
    return _check_slice("all", None, grad, grad_approx, noise, threshold), layers, arrays
