"""Optimizers as (init, update) pairs over plain state, and learning-rate decay.

Each optimizer is two pure functions:

    state = init(params)
    params, state = update(params, grads, state, learning_rate)

``params`` and ``grads`` are lists of LayerParams / LayerGrads (params[l-1] holds W[l], b[l]);
the state is a named tuple of such lists and a step counter, so it can be saved, compared
and tested without reaching into objects. ``update`` returns new arrays and never changes
its arguments.

The equations, per parameter array (W shown; b alike), with dW = ∂J/∂W of the mini-batch:

    gd        W ← W − α dW
    momentum  v ← β v + (1 − β) dW;            W ← W − α v
    rmsprop   s ← β s + (1 − β) dW²;           W ← W − α dW / (√s + ε)
    adam      t ← t + 1 (t counts steps from 1)
              v ← β1 v + (1 − β1) dW;          v̂ = v / (1 − β1ᵗ)
              s ← β2 s + (1 − β2) dW²;         ŝ = s / (1 − β2ᵗ)
              W ← W − α v̂ / (√ŝ + ε)          (ε outside the square root)

These are the course's forms: v, s start at zero and are exponentially weighted *averages*.
Other libraries write some of them differently:

- PyTorch's and optax's SGD momentum accumulate without the (1 − β): u ← μ u + dW,
  W ← W − α u. Since v = (1 − β) u, the course's step with α equals theirs with α(1 − β):
  the same trajectory, a learning rate (1 − β) times smaller for the same α.
- PyTorch's RMSprop has the same form (α = 0.99 by default for β); Keras puts ε inside the
  square root in some versions, and optax does by default (``eps_in_sqrt=True``).
- Adam is the same everywhere except where ε goes: Adam's paper, PyTorch and optax add ε
  to √ŝ, as here; TensorFlow adds it before the bias correction of the denominator (the
  paper's "ε̂" form), which differs slightly in the first steps.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .layers import LayerGrads, LayerParams
from .validation import check_number


class GDState(NamedTuple):
    """Gradient descent keeps nothing but the step count t."""

    t: int = 0


class MomentumState(NamedTuple):
    """v[l-1] = (v_dW[l], v_db[l]): exponentially weighted averages of the gradients."""

    v: list
    t: int = 0


class RMSpropState(NamedTuple):
    """s[l-1] = (s_dW[l], s_db[l]): exponentially weighted averages of the squared gradients."""

    s: list
    t: int = 0


class AdamState(NamedTuple):
    """v (first moments), s (second moments) and t, the number of steps taken so far."""

    v: list
    s: list
    t: int = 0


class Optimizer(NamedTuple):
    """An optimizer: ``init(params) -> state`` and ``update(params, grads, state, learning_rate)``."""

    name: str
    init: Callable[[list], Any]
    update: Callable[[list, list, Any, float], tuple[list, Any]]


def _zeros_like(params: list) -> list[LayerGrads]:
    return [LayerGrads(np.zeros_like(W), np.zeros_like(b)) for W, b in params]


def _average(old: list, new: list, beta: float, power: int = 1) -> list[LayerGrads]:
    """β·old + (1 − β)·newᵖ, layer by layer, for exponentially weighted averages."""
    def powered(a):
        return a if power == 1 else a ** power

    return [LayerGrads(beta * o.dW + (1 - beta) * powered(n.dW), beta * o.db + (1 - beta) * powered(n.db))
            for o, n in zip(old, new)]


def gd() -> Optimizer:
    """Plain (mini-batch) gradient descent: W ← W − α dW."""

    def init(params):
        return GDState()

    def update(params, grads, state, learning_rate):
        new = [LayerParams(p.W - learning_rate * g.dW, p.b - learning_rate * g.db)
               for p, g in zip(params, grads)]
        return new, GDState(state.t + 1)

    return Optimizer("gd", init, update)


def momentum(beta: float = 0.9) -> Optimizer:
    """Momentum, the course's form: v ← β v + (1 − β) dW; W ← W − α v (β = 0 is gd).

    PyTorch and optax accumulate u ← β u + dW without the (1 − β); their step with α(1 − β)
    is this one with α.
    """
    beta = _check_beta("beta", beta)

    def init(params):
        return MomentumState(_zeros_like(params))

    def update(params, grads, state, learning_rate):
        v = _average(state.v, grads, beta)
        new = [LayerParams(p.W - learning_rate * vl.dW, p.b - learning_rate * vl.db)
               for p, vl in zip(params, v)]
        return new, MomentumState(v, state.t + 1)

    return Optimizer("momentum", init, update)


def rmsprop(beta: float = 0.9, epsilon: float = 1e-8) -> Optimizer:
    """RMSprop: s ← β s + (1 − β) dW²; W ← W − α dW / (√s + ε).

    PyTorch calls β "alpha" (default 0.99) and adds ε outside the root, as here; optax adds
    it inside by default (√(s + ε), ``eps_in_sqrt=True``).
    """
    beta = _check_beta("beta", beta)
    epsilon = _check_epsilon(epsilon)

    def init(params):
        return RMSpropState(_zeros_like(params))

    def update(params, grads, state, learning_rate):
        s = _average(state.s, grads, beta, power=2)
        new = [LayerParams(p.W - learning_rate * g.dW / (np.sqrt(sl.dW) + epsilon),
                           p.b - learning_rate * g.db / (np.sqrt(sl.db) + epsilon))
               for p, g, sl in zip(params, grads, s)]
        return new, RMSpropState(s, state.t + 1)

    return Optimizer("rmsprop", init, update)


def adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> Optimizer:
    """Adam with bias correction, t counting steps from 1, ε outside the square root.

        v ← β1 v + (1 − β1) dW,  s ← β2 s + (1 − β2) dW²,
        W ← W − α (v / (1 − β1ᵗ)) / (√(s / (1 − β2ᵗ)) + ε)

    The same as PyTorch and optax; TensorFlow adds ε before the bias correction of s.
    """
    beta1 = _check_beta("beta1", beta1)
    beta2 = _check_beta("beta2", beta2)
    epsilon = _check_epsilon(epsilon)

    def init(params):
        return AdamState(_zeros_like(params), _zeros_like(params))

    def update(params, grads, state, learning_rate):
        t = state.t + 1
        v = _average(state.v, grads, beta1)
        s = _average(state.s, grads, beta2, power=2)
        c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t          # bias corrections
        new = [LayerParams(p.W - learning_rate * (vl.dW / c1) / (np.sqrt(sl.dW / c2) + epsilon),
                           p.b - learning_rate * (vl.db / c1) / (np.sqrt(sl.db / c2) + epsilon))
               for p, vl, sl in zip(params, v, s)]
        return new, AdamState(v, s, t)

    return Optimizer("adam", init, update)


def _check_beta(name: str, beta: float) -> float:
    return check_number(name, beta, "in [0, 1)", lambda v: 0 <= v < 1)


def _check_epsilon(epsilon: float) -> float:
    return check_number("epsilon", epsilon, "a positive number", lambda v: v > 0)


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "gd": gd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam,
}


def get_optimizer(optimizer: str | Optimizer, **hyperparameters: Any) -> Optimizer:
    """An Optimizer from its name and hyperparameters (beta, beta1, beta2, epsilon), or as given."""
    if isinstance(optimizer, Optimizer):
        if hyperparameters:
            raise ValueError("hyperparameters go to the optimizer's constructor, not beside an Optimizer")
        return optimizer
    try:
        make = OPTIMIZERS[optimizer]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}") from None
    try:
        return make(**hyperparameters)
    except TypeError:
        raise ValueError(
            f"optimizer {optimizer!r} takes no hyperparameter(s) {', '.join(sorted(hyperparameters))}"
        ) from None


# --- learning-rate decay -------------------------------------------------------------------


def inverse_time_decay(learning_rate: float, decay_rate: float, epoch: int) -> float:
    """α = α0 / (1 + decay_rate · epoch), the course's per-epoch decay."""
    return learning_rate / (1 + decay_rate * epoch)


def stepped_decay(learning_rate: float, decay_rate: float, epoch: int, time_interval: int = 1000) -> float:
    """α = α0 / (1 + decay_rate · ⌊epoch / time_interval⌋): the course's scheduled decay."""
    return learning_rate / (1 + decay_rate * (epoch // time_interval))
