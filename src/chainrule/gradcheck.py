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

from ._checks import check_convention, check_number, check_params, check_X, check_Y
from .layers import LayerParams
from .losses import cost_from_loss, get_output, l2_cost
from .model import ModelConfig, backward, check_config, forward
from .precision import WIDE

THRESHOLD = 2e-7
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
            f"(threshold {self.threshold:g}, epsilon {self.epsilon:g}, {self.convention})"
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

    Returns
    -------
    GradCheckResult
        Print it for the per-layer table; ``failing_layers`` lists the layers that disagree.
    """
    check_config(config)
    check_convention(convention)
    for name, value in (("epsilon", epsilon), ("threshold", threshold)):
        check_number(name, value, "a positive number", lambda v: v > 0)
    X = check_X(X, config.n_x).astype(np.float64)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], np.dtype(np.float64))
    params = check_params(params, config.layer_dims, np.dtype(np.float64))
    loss_from_Z = get_output(config.output).loss_from_Z
    AL, caches = forward(params, X, config, keep_prob=keep_prob, rng=rng, masks=masks)
    masks = [c.D for c in caches[:-1]] if keep_prob < 1 else None
    n = X.shape[1] if n is None else n
    X_wide, Y_wide = X.astype(WIDE), Y.astype(WIDE)

    def cost(theta: np.ndarray) -> np.floating:
        """J(θ) in the wide dtype (see the module's docstring), with the dropout masks fixed."""
        theta_params = vector_to_params(theta, config)
        _, wide_caches = forward(theta_params, X_wide, config, keep_prob=keep_prob, masks=masks)
        J = cost_from_loss(loss_from_Z(wide_caches[-1].Z, Y_wide))
        return J + l2_cost([W for W, _ in theta_params], lambd, n) if lambd else J

    l2 = {"lambd": lambd, "n": n} if lambd else {}                # a learner's backward may know no L2
    grads = (backward_fn or backward)(AL, Y, caches, config, convention, **l2)
    grad = params_to_vector(grads)
    theta = params_to_vector(params).astype(WIDE)
    if grad.shape != theta.shape:
        raise ValueError(f"the backward being checked returned {grad.size} values for {theta.size} parameters")

    grad_approx, noise = _central_differences(cost, theta, epsilon)
    total, layers, arrays = _slice_checks(params, grad, grad_approx, noise, threshold)
    passed = total.difference < threshold and all(c.passed for c in layers + arrays)
    return GradCheckResult(
        total.difference, passed, threshold, epsilon, convention,
        total, tuple(layers), tuple(arrays), grad, grad_approx,
    )


def _central_differences(cost: Callable[[np.ndarray], Any], theta: np.ndarray, epsilon: float):
    """(grad_approx, noise): (J(θ + εe_i) − J(θ − εe_i)) / 2ε for every i, and the rounding noise u|J|/ε per
    component, with |J| the largest J evaluated."""
    grad_approx = np.empty(theta.size)
    J_max = abs(cost(theta))
    for i in range(theta.size):
        theta_plus, theta_minus = theta.copy(), theta.copy()
        theta_plus[i] += epsilon
        theta_minus[i] -= epsilon
        J_plus, J_minus = cost(theta_plus), cost(theta_minus)
        grad_approx[i] = (J_plus - J_minus) / (2 * epsilon)
        J_max = max(J_max, abs(J_plus), abs(J_minus))
    return grad_approx, float(np.finfo(WIDE).eps * J_max / epsilon)


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
