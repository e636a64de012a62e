"""Losses: per-example values, their stable forms from Z, dA[L], and the fused delta."""

import numpy as np
import pytest

from chainrule.activations import get_activation
from chainrule.losses import OUTPUTS, cost_from_loss, fused_delta, get_output
from chainrule.testing import random_labels


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_loss_from_Z_equals_loss_from_A(name, rng):
    out = get_output(name)
    Z = rng.standard_normal((3, 7)) * 3
    Y = random_labels(name, 3, 7, rng)
    A = get_activation(out.activation).forward(Z)
    loss = out.loss(A, Y)
    assert loss.shape == (1, 7)
    np.testing.assert_allclose(out.loss_from_Z(Z, Y), loss, rtol=1e-12, atol=1e-14)


def test_known_loss_values():
    """Hand-derived values: BCE of a=0.8, y=1 is −log 0.8; CCE picks −log of the true class;
    squared error carries the ½."""
    bce = get_output("sigmoid").loss(np.array([[0.8, 0.8]]), np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(bce, [[-np.log(0.8), -np.log(0.2)]])
    cce = get_output("softmax").loss(np.array([[0.7], [0.2], [0.1]]), np.array([[0.0], [1.0], [0.0]]))
    np.testing.assert_allclose(cce, [[-np.log(0.2)]])
    se = get_output("identity").loss(np.array([[3.0], [1.0]]), np.array([[1.0], [1.0]]))
    np.testing.assert_allclose(se, [[2.0]])  # ½ (2² + 0²)


def test_saturated_sigmoid_loss_is_exact_from_Z():
    """At z = 40, σ(z) rounds to 1.0; for y = 0 the true loss is log(1 + e^40) = 40 + log1p(e^−40)."""
    out = get_output("sigmoid")
    Z, Y = np.array([[40.0, -800.0]]), np.array([[0.0, 1.0]])
    np.testing.assert_allclose(out.loss_from_Z(Z, Y), [[40.0 + np.log1p(np.exp(-40.0)), 800.0]], rtol=1e-15)
    A = get_activation("sigmoid").forward(Z)
    assert np.all(np.isfinite(out.loss(A, Y)))  # floored, finite, but no longer exact


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_dAL_is_the_derivative_of_the_loss(name, rng):
    out = get_output(name)
    Z = rng.standard_normal((3, 5))
    A = get_activation(out.activation).forward(Z)
    Y = random_labels(name, 3, 5, rng)
    h = 1e-6
    expected = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[idx] += h
        Am[idx] -= h
        expected[idx] = (out.loss(Ap, Y)[0, idx[1]] - out.loss(Am, Y)[0, idx[1]]) / (2 * h)
    np.testing.assert_allclose(out.dAL(A, Y), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_fused_delta_equals_the_unfused_chain(name, rng):
    """A[L] − Y = dA[L] ⊙ g′(Z[L]) (a Jacobian product for softmax) for each matched pair."""
    out = get_output(name)
    g = get_activation(out.activation)
    Z = rng.standard_normal((4, 6))
    A = g.forward(Z)
    Y = random_labels(name, 4, 6, rng)
    np.testing.assert_allclose(fused_delta(A, Y), g.backward(out.dAL(A, Y), Z, A), rtol=1e-12, atol=1e-14)


def test_cost_is_the_mean_of_the_losses():
    loss = np.array([[1.0, 2.0, 6.0]])
    assert float(cost_from_loss(loss)) == 3.0


def test_unknown_output():
    with pytest.raises(ValueError, match="unknown output 'tanh'.*sigmoid, softmax, identity"):
        get_output("tanh")


def test_cost_sums_float32_losses_in_float64():
    """2²⁴ + 1 is not a float32: summed in float32 the three ones would vanish."""
    loss = np.array([[2.0 ** 24, 1.0, 1.0, 1.0]], dtype=np.float32)
    assert float(cost_from_loss(loss)) == (2.0 ** 24 + 3) / 4
