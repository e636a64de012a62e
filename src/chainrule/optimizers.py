"""Optimizers as (init, update) pairs over plain state, and learning-rate decay.

Each optimizer is two pure functions:

    state = init(params)
    params, state = update(params, grads, state, learning_rate)

``params`` and ``grads`` are lists of LayerParams / LayerGrads (params[l-1] holds W[l], b[l]);
the state is a named tuple of such lists and a step counter, so it can be saved, compared
and tested without reaching into objects. ``update`` never changes its arguments: it
returns new arrays, or, given ``out`` (a ``Slot`` of buffers shaped like its result, none of
them an argument), writes the result there and returns it, allocating nothing; a training
loop alternates two slots within an epoch.

The equations, per parameter array (W shown; b alike), with dW = ∂J/∂W of the mini-batch:

    gd        W ← W − α dW
    momentum  v ← β v + (1 − β) dW;            W ← W − α v
    rmsprop   s ← β s + (1 − β) dW²;           W ← W − α dW / (√s + ε)
    adam      t ← t + 1 (t counts steps from 1)
              v ← β1 v + (1 − β1) dW;          v̂ = v / (1 − β1ᵗ)
              s ← β2 s + (1 − β2) dW²;         ŝ = s / (1 − β2ᵗ)
              W ← W − α v̂ / (√ŝ + ε)          (ε outside the square root)

Every hyperparameter (α, β, β1, β2, ε) may also be a stack's, one per network: a (K, 1, 1)
float64 array that broadcasts over the stacked W (K, n_l, n_{l-1}) and b (K, n_l, 1). Each
network then gets, bit for bit, what the number alone gives it: the values are computed in
float64 as Python computes them, and rounded to the parameters' dtype as NumPy rounds a
Python float there (``_as_dtype``).

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

import inspect
import itertools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._checks import check_number
from .layers import LayerGrads, LayerParams


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


class Slot(NamedTuple):
    """Buffers for one ``update``'s result: params (LayerParams) and the state's arrays."""

    params: list
    state: Any


class Optimizer(NamedTuple):
    """An optimizer: ``init(params) -> state`` and ``update(params, grads, state, learning_rate)``.

    ``takes_out``: whether ``update`` also takes ``out=`` (a ``Slot``); the built-in ones do.
    """

    name: str
    init: Callable[[list], Any]
    update: Callable[..., tuple[list, Any]]
    takes_out: bool = False


def _zeros_like(params: list) -> list[LayerGrads]:
    return [LayerGrads(np.zeros_like(W), np.zeros_like(b)) for W, b in params]


def new_slot(optimizer: Optimizer, params: list) -> Slot:
    """Buffers shaped like ``optimizer.update``'s result for ``params``, for its ``out=``."""
    return Slot([LayerParams(np.empty_like(W), np.empty_like(b)) for W, b in params], optimizer.init(params))


_NO_OUT = itertools.repeat((None, None))          # no buffers, for every layer: every result a new array


# --- one parameter array at a time (W shown; b alike). ``out`` may be None: a new array. ------


def _as_dtype(params: list, *values: Any) -> tuple:
    """``values`` as NumPy's operations on ``params``' dtype see them: a number as it is (NumPy
    rounds a Python float to that dtype), a stack's (K, 1, 1) float64 values rounded to it alike."""
    dtype = params[0][0].dtype
    return tuple(v.astype(dtype, copy=False) if isinstance(v, np.ndarray) else v for v in values)


def _any_array(*values: Any) -> bool:
    """Whether some hyperparameter is a stack's, one per network."""
    return any(isinstance(v, np.ndarray) for v in values)


def _correction(beta: Any, t: int) -> Any:
    """The bias correction 1 − βᵗ of each network of a stack, as Python computes it for a number
    (NumPy's power may round βᵗ otherwise)."""
    if isinstance(beta, np.ndarray):
        return np.reshape([1 - b ** t for b in beta.ravel().tolist()], beta.shape)
    return 1 - beta ** t


def _descend(W: np.ndarray, step: np.ndarray, learning_rate: float, out: np.ndarray | None) -> np.ndarray:
    """W − α·step, computed as (−α)·step + W (the same bits) without a temporary."""
    new = np.multiply(step, -learning_rate, out)
    new += W
    return new


def _average(v: np.ndarray, dW: np.ndarray, beta: Any, rest: Any, out: np.ndarray | None,
             scratch: np.ndarray | None):
    """β v + (1 − β) dW, an exponentially weighted average (``rest`` is 1 − β); ``scratch``
    (dW's shape) is overwritten. Returns (average, scratch)."""
    scratch = np.multiply(dW, rest, scratch)
    new = np.multiply(v, beta, out)
    new += scratch
    return new, scratch


def _average_of_squares(s: np.ndarray, dW: np.ndarray, beta: Any, rest: Any, out: np.ndarray | None,
                        scratch: np.ndarray | None):
    """β s + (1 − β) dW², like ``_average``."""
    scratch = np.square(dW, scratch)
    scratch *= rest
    new = np.multiply(s, beta, out)
    new += scratch
    return new, scratch


def _scaled_step(v: np.ndarray, s: np.ndarray, epsilon: Any, out: np.ndarray | None) -> np.ndarray:
    """v / (√s + ε), written into ``out``."""
    step = np.sqrt(s, out)
    step += epsilon
    return np.divide(v, step, step)


def _with_one_average(one: Callable, params: list, grads: list, averages: list, numbers: tuple,
                      out_params: list | None, out_averages: list | None) -> tuple[list, list]:
    """(new params, new averages), ``one(W, dW, average, numbers, out_W, out_average)`` applied to
    every W and b (``numbers``: the hyperparameters and α): the loop of an optimizer that keeps
    one average per array."""
    new, kept = [], []
    for (W, b), (dW, db), (aW, ab), (oW, ob), (oaW, oab) in zip(
            params, grads, averages, out_params or _NO_OUT, out_averages or _NO_OUT):
        (W, aW), (b, ab) = one(W, dW, aW, numbers, oW, oaW), one(b, db, ab, numbers, ob, oab)
        new.append(LayerParams(W, b))
        kept.append(LayerGrads(aW, ab))
    return new, kept


# --- the optimizers ----------------------------------------------------------------------------


def gd() -> Optimizer:
    """Plain (mini-batch) gradient descent: W ← W − α dW."""

    def init(params):
        return GDState()

    def update(params, grads, state, learning_rate, out=None):
        step = -learning_rate
        if isinstance(step, np.ndarray):                        # a stack's α of each network
            step, = _as_dtype(params, step)
        new = []
        for (W, b), (dW, db), (oW, ob) in zip(params, grads, _NO_OUT if out is None else out.params):
            W_new, b_new = np.multiply(dW, step, oW), np.multiply(db, step, ob)    # −α dW, −α db
            W_new += W                                                              # W − α dW
            b_new += b
            new.append(LayerParams(W_new, b_new))
        return new, GDState(state.t + 1)

    return Optimizer("gd", init, update, takes_out=True)


def momentum(beta: float = 0.9) -> Optimizer:
    """Momentum, the course's form: v ← β v + (1 − β) dW; W ← W − α v (β = 0 is gd).

    PyTorch and optax accumulate u ← β u + dW without the (1 − β); their step with α(1 − β)
    is this one with α.
    """
    beta = _check_beta("beta", beta)
    rest, stacked = 1 - beta, _any_array(beta)

    def init(params):
        return MomentumState(_zeros_like(params))

    def one(W, dW, v, numbers, oW, ov):
        beta, rest, learning_rate = numbers
        v, scratch = _average(v, dW, beta, rest, ov, oW)
        return _descend(W, v, learning_rate, scratch), v

    def update(params, grads, state, learning_rate, out=None):
        numbers = (beta, rest, learning_rate)
        if stacked or isinstance(learning_rate, np.ndarray):
            numbers = _as_dtype(params, *numbers)
        new, v = _with_one_average(one, params, grads, state.v, numbers, out and out.params, out and out.state.v)
        return new, MomentumState(v, state.t + 1)

    return Optimizer("momentum", init, update, takes_out=True)


def rmsprop(beta: float = 0.9, epsilon: float = 1e-8) -> Optimizer:
    """RMSprop: s ← β s + (1 − β) dW²; W ← W − α dW / (√s + ε).

    PyTorch calls β "alpha" (default 0.99) and adds ε outside the root, as here; optax adds
    it inside by default (√(s + ε), ``eps_in_sqrt=True``).
    """
    beta = _check_beta("beta", beta)
    epsilon = _check_epsilon(epsilon)
    rest, stacked = 1 - beta, _any_array(beta, epsilon)

    def init(params):
        return RMSpropState(_zeros_like(params))

    def one(W, dW, s, numbers, oW, os):
        beta, rest, epsilon, learning_rate = numbers
        s, scratch = _average_of_squares(s, dW, beta, rest, os, oW)
        return _descend(W, _scaled_step(dW, s, epsilon, scratch), learning_rate, scratch), s

    def update(params, grads, state, learning_rate, out=None):
        numbers = (beta, rest, epsilon, learning_rate)
        if stacked or isinstance(learning_rate, np.ndarray):
            numbers = _as_dtype(params, *numbers)
        new, s = _with_one_average(one, params, grads, state.s, numbers, out and out.params, out and out.state.s)
        return new, RMSpropState(s, state.t + 1)

    return Optimizer("rmsprop", init, update, takes_out=True)


def adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> Optimizer:
    """Adam with bias correction, t counting steps from 1, ε outside the square root.

        v ← β1 v + (1 − β1) dW,  s ← β2 s + (1 − β2) dW²,
        W ← W − α (v / (1 − β1ᵗ)) / (√(s / (1 − β2ᵗ)) + ε)

    The same as PyTorch and optax; TensorFlow adds ε before the bias correction of s.
    """
    beta1 = _check_beta("beta1", beta1)
    beta2 = _check_beta("beta2", beta2)
    epsilon = _check_epsilon(epsilon)
    rest1, rest2, stacked = 1 - beta1, 1 - beta2, _any_array(beta1, beta2, epsilon)

    def init(params):
        return AdamState(_zeros_like(params), _zeros_like(params))

    def one(W, dW, v, s, numbers, oW, ov, os):
        beta1, rest1, beta2, rest2, epsilon, c2, rate = numbers
        v, scratch = _average(v, dW, beta1, rest1, ov, oW)
        s, scratch = _average_of_squares(s, dW, beta2, rest2, os, scratch)
        s_hat = np.divide(s, c2, scratch)                       # ŝ = s / (1 − β2ᵗ)
        step = _scaled_step(v, s_hat, epsilon, scratch)         # v / (√ŝ + ε)
        return _descend(W, step, rate, step), v, s              # W − (α / c1) v / (√ŝ + ε): v̂ = v / c1

    def update(params, grads, state, learning_rate, out=None):
        t = state.t + 1
        if stacked:                                             # bias corrections 1 − β1ᵗ, 1 − β2ᵗ
            c1, c2 = _correction(beta1, t), _correction(beta2, t)
        else:
            c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
        numbers = (beta1, rest1, beta2, rest2, epsilon, c2, learning_rate / c1)
        if stacked or isinstance(learning_rate, np.ndarray):
            numbers = _as_dtype(params, *numbers)
        P, V, S = (_NO_OUT,) * 3 if out is None else (out.params, out.state.v, out.state.s)
        new, v, s = [], [], []
        for (W, b), (dW, db), (vW, vb), (sW, sb), (oW, ob), (ovW, ovb), (osW, osb) in zip(
                params, grads, state.v, state.s, P, V, S):
            W, vW, sW = one(W, dW, vW, sW, numbers, oW, ovW, osW)
            b, vb, sb = one(b, db, vb, sb, numbers, ob, ovb, osb)
            new.append(LayerParams(W, b))
            v.append(LayerGrads(vW, vb))
            s.append(LayerGrads(sW, sb))
        return new, AdamState(v, s, t)

    return Optimizer("adam", init, update, takes_out=True)


def _check_beta(name: str, beta: Any) -> Any:
    return _checked(name, beta, "in [0, 1)", lambda v: 0 <= v < 1)


def _check_epsilon(epsilon: Any) -> Any:
    return _checked("epsilon", epsilon, "a positive number", lambda v: v > 0)


def _checked(name: str, value: Any, what: str, test: Callable[[float], bool]) -> Any:
    """A hyperparameter checked: a number, or a stack's, one per network, (K, 1, 1) float64."""
    if isinstance(value, np.ndarray):
        for v in value.ravel().tolist():
            check_number(name, v, what, test)
        return value.astype(np.float64)
    return check_number(name, value, what, test)


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
    unknown = sorted(set(hyperparameters) - set(inspect.signature(make).parameters))
    if unknown:
        raise ValueError(f"optimizer {optimizer!r} takes no hyperparameter(s) {', '.join(unknown)}")
    return make(**hyperparameters)


# --- learning-rate decay -------------------------------------------------------------------

DECAYS = ("inverse_time", "stepped")


def inverse_time_decay(learning_rate: float, decay_rate: float, epoch: int) -> float:
    """α = α0 / (1 + decay_rate · epoch), the course's per-epoch decay."""
    return learning_rate / (1 + decay_rate * epoch)


def stepped_decay(learning_rate: float, decay_rate: float, epoch: int, time_interval: int = 1000) -> float:
    """α = α0 / (1 + decay_rate · ⌊epoch / time_interval⌋): the course's scheduled decay."""
    return learning_rate / (1 + decay_rate * (epoch // time_interval))


def learning_rate_schedule(learning_rate: float, decay: Any = None, decay_rate: float = 1.0,
                           time_interval: int = 1000) -> Callable[[int], float]:
    """α_e as a function of the epoch e: α0 itself, a decay of ``DECAYS``, or ``decay(α0, e)``.

    Every α_e is checked to be a positive finite number and returned as a Python float (so
    that float32 parameters stay float32); a decay that gives anything else, or reaches 0,
    is a clear error naming the epoch.
    """
    if not (decay is None or decay in DECAYS or callable(decay)):
        raise ValueError(f"decay must be None, 'inverse_time', 'stepped' or a function (lr0, epoch) -> lr; "
                         f"got {decay!r}")
    if decay is None:
        learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
        return lambda epoch: learning_rate                   # checked once: α0 throughout

    def schedule(epoch: int) -> float:
        if decay == "inverse_time":
            alpha = inverse_time_decay(learning_rate, decay_rate, epoch)
        elif decay == "stepped":
            alpha = stepped_decay(learning_rate, decay_rate, epoch, time_interval)
        else:
            alpha = decay(learning_rate, epoch)
        if type(alpha) is float and 0 < alpha < math.inf:                     # the usual case, tested quickly
            return alpha
        try:
            return check_number("α", alpha, "a positive number", lambda v: v > 0)
        except ValueError:
            raise ValueError(f"the learning-rate decay gave α = {alpha!r} for epoch {epoch}; "
                             f"expected a positive number") from None

    return schedule
