"""Optimizers: each update is its equation, matches optax, and converges on a convex quadratic."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import chainrule as cr
from chainrule.optimizers import (
    OPTIMIZERS,
    adam,
    gd,
    get_optimizer,
    inverse_time_decay,
    momentum,
    rmsprop,
    stepped_decay,
)

jax.config.update("jax_enable_x64", True)


def _params(rng):
    return [cr.LayerParams(rng.standard_normal((3, 2)), rng.standard_normal((3, 1))),
            cr.LayerParams(rng.standard_normal((1, 3)), rng.standard_normal((1, 1)))]


def _grad_sequence(rng, steps=6):
    return [[cr.LayerGrads(rng.standard_normal((3, 2)), rng.standard_normal((3, 1))),
             cr.LayerGrads(rng.standard_normal((1, 3)), rng.standard_normal((1, 1)))] for _ in range(steps)]


def _run(optimizer, params, grad_sequence, learning_rate):
    state = optimizer.init(params)
    for grads in grad_sequence:
        params, state = optimizer.update(params, grads, state, learning_rate)
    return params, state


def _flat(params):
    return np.concatenate([np.ravel(a) for layer in params for a in layer])


def _by_equations(name, theta, gradients, lr, beta=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """The course's update equations, written out on one flat vector θ, step by step."""
    v = np.zeros_like(theta)
    s = np.zeros_like(theta)
    for t, g in enumerate(gradients, start=1):
        if name == "gd":
            theta = theta - lr * g
        elif name == "momentum":
            v = beta * v + (1 - beta) * g
            theta = theta - lr * v
        elif name == "rmsprop":
            s = beta * s + (1 - beta) * g ** 2
            theta = theta - lr * g / (np.sqrt(s) + eps)
        else:
            v = beta1 * v + (1 - beta1) * g
            s = beta2 * s + (1 - beta2) * g ** 2
            v_hat, s_hat = v / (1 - beta1 ** t), s / (1 - beta2 ** t)
            theta = theta - lr * v_hat / (np.sqrt(s_hat) + eps)
    return theta


@pytest.mark.parametrize("name, make", [("gd", gd), ("momentum", lambda: momentum(0.8)),
                                        ("rmsprop", lambda: rmsprop(0.9, 1e-8)),
                                        ("adam", lambda: adam(0.9, 0.999, 1e-8))])
def test_update_is_its_equation(name, make, rng):
    params = _params(rng)
    grads = _grad_sequence(rng)
    got, state = _run(make(), params, grads, 0.05)
    expected = _by_equations(name, _flat(params), [_flat(g) for g in grads], 0.05,
                             beta=0.8 if name == "momentum" else 0.9)
    np.testing.assert_allclose(_flat(got), expected, rtol=1e-14, atol=1e-15)
    assert state.t == len(grads)


def _optax_run(transform, params, grad_sequence):
    tree = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    state = transform.init(tree)
    for grads in grad_sequence:
        updates, state = transform.update([(jnp.asarray(g.dW), jnp.asarray(g.db)) for g in grads], state, tree)
        tree = optax.apply_updates(tree, updates)
    return np.concatenate([np.ravel(np.asarray(a)) for layer in tree for a in layer])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (gd(), optax.sgd(0.05)),
        # the course's v = βv + (1 − β)g is (1 − β) times optax's u = βu + g, so α(1 − β) in optax
        (momentum(0.9), optax.sgd(0.05 * (1 - 0.9), momentum=0.9)),
        (rmsprop(0.9, 1e-8), optax.rmsprop(0.05, decay=0.9, eps=1e-8, eps_in_sqrt=False)),
        (adam(0.9, 0.999, 1e-8), optax.adam(0.05, b1=0.9, b2=0.999, eps=1e-8)),
    ],
    ids=["gd", "momentum", "rmsprop", "adam"],
)
def test_matches_optax_over_several_steps(ours, theirs, rng):
    params = _params(rng)
    grads = _grad_sequence(rng, steps=8)
    got, _ = _run(ours, params, grads, 0.05)
    np.testing.assert_allclose(_flat(got), _optax_run(theirs, params, grads), rtol=1e-12, atol=1e-14)


def test_momentum_with_beta_zero_is_gradient_descent(rng):
    """β = 0: v = 0·v + 1·dW = dW, so the step is exactly gd's."""
    params = _params(rng)
    grads = _grad_sequence(rng)
    np.testing.assert_array_equal(_flat(_run(momentum(0.0), params, grads, 0.1)[0]),
                                  _flat(_run(gd(), params, grads, 0.1)[0]))


@pytest.mark.parametrize("name, lr, steps", [("gd", 0.1, 400), ("momentum", 0.1, 600),
                                             ("rmsprop", 0.01, 3000), ("adam", 0.05, 2000)])
def test_converges_on_a_convex_quadratic(name, lr, steps, rng):
    """J(W, b) = ½ Σ h ⊙ (W − W*)² + ½ Σ h ⊙ (b − b*)², h > 0: the unique minimum is (W*, b*)."""
    target = _params(rng)
    curvature = [cr.LayerParams(rng.uniform(0.5, 2, W.shape), rng.uniform(0.5, 2, b.shape)) for W, b in target]
    params = [cr.LayerParams(np.zeros_like(W), np.zeros_like(b)) for W, b in target]
    optimizer = OPTIMIZERS[name]()
    state = optimizer.init(params)
    for _ in range(steps):
        grads = [cr.LayerGrads(h.W * (p.W - t.W), h.b * (p.b - t.b)) for p, t, h in zip(params, target, curvature)]
        params, state = optimizer.update(params, grads, state, lr)
    assert np.max(np.abs(_flat(params) - _flat(target))) < 1e-3


def test_update_does_not_change_its_arguments(rng):
    params = _params(rng)
    before = _flat(params).copy()
    grads = _grad_sequence(rng, 1)[0]
    optimizer = adam()
    state = optimizer.init(params)
    optimizer.update(params, grads, state, 0.1)
    np.testing.assert_array_equal(_flat(params), before)
    assert state.t == 0 and np.all(_flat(state.v) == 0)


def test_state_is_plain_data(rng):
    """The state is named tuples of lists of arrays and an int: savable without pickling objects."""
    params = _params(rng)
    _, state = _run(adam(), params, _grad_sequence(rng, 3), 0.1)
    assert state._fields == ("v", "s", "t") and state.t == 3
    assert all(isinstance(a, np.ndarray) for layer in state.v + state.s for a in layer)


def test_learning_rate_decay_by_hand():
    assert inverse_time_decay(0.5, 1.0, 2) == 0.5 / 3
    assert inverse_time_decay(0.5, 0.3, 0) == 0.5
    assert stepped_decay(0.5, 1.0, 999, time_interval=1000) == 0.5
    assert stepped_decay(0.5, 1.0, 1000, time_interval=1000) == 0.25
    assert stepped_decay(0.5, 1.0, 2500, time_interval=1000) == 0.5 / 3


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'.*gd, momentum, rmsprop, adam"):
        get_optimizer("sgd")
    with pytest.raises(ValueError, match="optimizer 'gd' takes no hyperparameter.*beta"):
        get_optimizer("gd", beta=0.9)
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\); got 1.0"):
        adam(beta1=1.0)
