"""Gradient checking: backward's dW, db against central differences of J.

For every parameter θ_i (W1, b1, W2, b2, … flattened in that order)

    g̃_i = (J(θ + ε e_i) − J(θ − ε e_i)) / (2ε)

and the course's measure of disagreement, scale-free and symmetric,

    difference = ‖g − g̃‖₂ / (‖g‖₂ + ‖g̃‖₂)

passes below 2e-7. The same measure over each layer's slice and each array's slice says
which layer is wrong: a backward that divides by m twice, for example, fails in every
layer whose dW and db it shrank, and nowhere else.

The check runs in float64 whatever the dtype of X: central differences in float32 would
measure rounding, not gradients. J itself is evaluated in long double where the platform
has a wider one (80-bit on x86-64 Linux): in float64 the rounding error of J, divided by
2ε = 2e-7, adds about 1e-9 to every component, as much as a whole layer's gradient can be
in a small network, and the per-layer verdicts would blame correct layers. Where long
double is float64 (Windows, macOS on ARM) the total is still sound, and layers with tiny
gradients read noisier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .layers import LayerGrads, LayerParams
from .losses import cost_from_loss, get_output
from .model import ModelConfig, _forward, backward
from .validation import check_convention, check_params, check_X, check_Y

THRESHOLD = 2e-7


def params_to_vector(params: Sequence[tuple]) -> np.ndarray:
    """Flatten [(W1, b1), (W2, b2), …] into one vector θ in the order W1, b1, W2, b2, …"""
    return np.concatenate([np.ravel(a) for layer in params for a in layer])


def vector_to_params(theta: np.ndarray, config: ModelConfig) -> list[LayerParams]:
    """The inverse of ``params_to_vector`` for the shapes of ``config``."""
    dims = config.layer_dims
    size = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, config.L + 1))
    if np.ndim(theta) != 1 or np.size(theta) != size:
        raise ValueError(f"theta must have {size} entries for layer_dims {list(dims)}; got shape {np.shape(theta)}")
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


class ArrayCheck(NamedTuple):
    """The check of one parameter array: name ("dW2"), layer l, difference, passed."""

    name: str
    l: int
    difference: float
    passed: bool


class LayerCheck(NamedTuple):
    """The check of layer l over its dW and db together."""

    l: int
    difference: float
    passed: bool


@dataclass(frozen=True)
class GradCheckResult:
    """The outcome of ``gradient_check``.

    difference : the course's measure over all parameters; ``passed`` when below ``threshold``.
    layers : one LayerCheck per layer; ``arrays`` : one ArrayCheck per dW[l] and db[l].
    grad, grad_approx : the flattened backward and finite-difference gradients (W1, b1, …).
    """

    difference: float
    passed: bool
    threshold: float
    epsilon: float
    convention: str
    layers: tuple[LayerCheck, ...]
    arrays: tuple[ArrayCheck, ...]
    grad: np.ndarray
    grad_approx: np.ndarray

    @property
    def failing_layers(self) -> list[int]:
        """The layers l whose own difference is at or above the threshold."""
        return [c.l for c in self.layers if not c.passed]

    def table(self) -> str:
        """A plain-text report: one row per layer with its dW and db, then the total."""
        by_layer = {(a.l, a.name[:2]): a for a in self.arrays}
        rows = [f"{'layer':>5}  {'dW':>10}  {'db':>10}  {'layer':>10}  verdict"]
        for c in self.layers:
            dW, db = by_layer[(c.l, "dW")], by_layer[(c.l, "db")]
            verdict = "ok" if c.passed else "WRONG"
            rows.append(
                f"{c.l:>5}  {dW.difference:>10.2e}  {db.difference:>10.2e}  "
                f"{c.difference:>10.2e}  {verdict}"
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
) -> GradCheckResult:
    """Compare backward's gradients with central differences of J, overall, per layer and per array.

    Parameters
    ----------
    params : list of (W, b)
        params[l-1] = (W[l], b[l]).
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
        ``chainrule.backward``: a learner's own backward, or one with a planted bug.

    Returns
    -------
    GradCheckResult
        Print it for the per-layer table; ``failing_layers`` lists the layers that disagree.
    """
    check_convention(convention)
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number; got {epsilon!r}")
    X = check_X(X, config.n_x).astype(np.float64)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], np.dtype(np.float64))
    params = check_params(params, config.layer_dims, np.dtype(np.float64))
    loss_from_Z = get_output(config.output).loss_from_Z
    X_wide, Y_wide = X.astype(np.longdouble), Y.astype(np.longdouble)

    def cost(theta: np.ndarray) -> np.floating:
        """J(θ) in long double (see the module's docstring)."""
        _, caches = _forward(vector_to_params(theta, config), X_wide, config)
        return cost_from_loss(loss_from_Z(caches[-1].Z, Y_wide))

    AL, caches = _forward(params, X, config)
    grads = (backward_fn or backward)(AL, Y, caches, config, convention)
    grad = params_to_vector(grads)
    theta = params_to_vector(params).astype(np.longdouble)
    if grad.shape != theta.shape:
        raise ValueError(f"the backward being checked returned {grad.size} values for {theta.size} parameters")

    grad_approx = np.empty(theta.size)
    for i in range(theta.size):
        theta_plus, theta_minus = theta.copy(), theta.copy()
        theta_plus[i] += epsilon
        theta_minus[i] -= epsilon
        grad_approx[i] = (cost(theta_plus) - cost(theta_minus)) / (2 * epsilon)

    arrays, layers, start = [], [], 0
    for l, (W, b) in enumerate(params, start=1):
        layer_start = start
        for name, size in ((f"dW{l}", W.size), (f"db{l}", b.size)):
            d = relative_difference(grad[start:start + size], grad_approx[start:start + size])
            arrays.append(ArrayCheck(name, l, d, d < threshold))
            start += size
        d = relative_difference(grad[layer_start:start], grad_approx[layer_start:start])
        layers.append(LayerCheck(l, d, d < threshold))
    difference = relative_difference(grad, grad_approx)
    return GradCheckResult(
        difference, difference < threshold, threshold, epsilon, convention,
        tuple(layers), tuple(arrays), grad, grad_approx,
    )


def double_one_over_m(layers: Sequence[int] | None = None) -> BackwardFn:
    """A backward with the classic bug: dW and db divided by m a second time.

    Returns ``backward_fn(AL, Y, caches, config, convention)`` for ``gradient_check``. The
    bug is planted in the given layers l (all layers when None), so the check can be seen
    to point at exactly those.
    """

    def buggy_backward(AL, Y, caches, config, convention="deferred"):
        grads = backward(AL, Y, caches, config, convention)
        m = np.shape(AL)[1]
        bad = range(1, config.L + 1) if layers is None else layers
        return [
            LayerGrads(g.dW / m, g.db / m) if l in bad else g
            for l, g in enumerate(grads, start=1)
        ]

    return buggy_backward
