"""The gradient checker: it passes a correct backward everywhere and catches the known bugs."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import gradcheck
from chainrule.gradcheck import relative_difference
from chainrule.testing import buggy_backward, double_one_over_m
from conftest import random_problem

COMBINATIONS = list(itertools.product(cr.HIDDEN_ACTIVATIONS, cr.OUTPUTS))


def _problem(hidden, output, seed, dims=(3, 5, 4, 2), m=12):
    dims = list(dims)
    if output == "softmax":
        dims[-1] = max(dims[-1], 3)
    config = cr.ModelConfig(dims, hidden, output)
    params, X, Y = random_problem(config, m, np.random.default_rng(seed))
    return config, params, X, Y


@pytest.mark.parametrize("hidden, output", COMBINATIONS)
@pytest.mark.parametrize("convention", ["deferred", "absorbed"])
def test_passes_every_combination(hidden, output, convention):
    config, params, X, Y = _problem(hidden, output, seed=len(hidden) * 7 + len(output))
    result = cr.gradient_check(params, X, Y, config, convention=convention)
    assert result.passed, result.table()
    assert result.difference < 2e-7
    assert result.failing_layers == []
    assert all(a.passed for a in result.arrays)


@pytest.mark.parametrize("hidden, output", COMBINATIONS)
def test_double_one_over_m_fails_in_every_layer(hidden, output):
    """dW, db divided by m twice are off by a factor m = 12: difference (m−1)/(m+1) ≈ 0.846."""
    config, params, X, Y = _problem(hidden, output, seed=3)
    result = cr.gradient_check(params, X, Y, config, backward_fn=double_one_over_m())
    assert not result.passed
    assert result.failing_layers == [1, 2, 3]
    # g = g̃/m everywhere, so ‖g − g̃‖/(‖g‖ + ‖g̃‖) = (1 − 1/m)/(1 + 1/m), derived, not measured
    assert result.difference == pytest.approx((12 - 1) / (12 + 1), rel=1e-6)


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_the_report_points_at_the_layer_with_the_bug(layer):
    config, params, X, Y = _problem("tanh", "sigmoid", seed=11)
    result = cr.gradient_check(params, X, Y, config, backward_fn=double_one_over_m([layer]))
    assert not result.passed
    assert result.failing_layers == [layer]
    wrong = [a.name for a in result.arrays if not a.passed]
    assert wrong == [f"dW{layer}", f"db{layer}"]
    table = result.table()
    assert "WRONG" in table.splitlines()[layer] and table.count("WRONG") == 1


def test_catches_a_missing_g_prime():
    """A backward that forgets ⊙ g′ in the hidden layers: layer 3 is right, layers 1, 2 are not."""
    config, params, X, Y = _problem("tanh", "sigmoid", seed=5)

    def no_g_prime(AL, Y, caches, config, convention, **l2):
        dZ = AL - Y
        grads = []
        for l in range(config.L, 0, -1):
            dA_prev, dW, db = cr.linear_backward(dZ, caches[l - 1].linear, convention)
            grads.insert(0, cr.LayerGrads(dW, db))
            dZ = dA_prev  # the bug: dZ[l-1] = dA[l-1], no g′(Z[l-1])
        return grads

    result = cr.gradient_check(params, X, Y, config, backward_fn=no_g_prime)
    assert result.failing_layers == [1, 2]


def test_flattening_order_and_round_trip(rng):
    config = cr.ModelConfig([3, 2, 1])
    params = cr.init_params(config, rng)
    params = [p._replace(b=rng.standard_normal(p.b.shape)) for p in params]
    theta = cr.params_to_vector(params)
    expected = np.concatenate([params[0].W.ravel(), params[0].b.ravel(), params[1].W.ravel(), params[1].b.ravel()])
    np.testing.assert_array_equal(theta, expected)
    for p, q in zip(cr.vector_to_params(theta, config), params):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_array_equal(p.b, q.b)
    with pytest.raises(ValueError, match="theta must have 11 entries"):
        cr.vector_to_params(theta[:-1], config)


def test_relative_difference_is_the_course_measure():
    g, h = np.array([3.0, 4.0]), np.array([0.0, 0.0])
    assert relative_difference(g, h) == 1.0          # ‖g‖ / ‖g‖
    assert relative_difference(g, g) == 0.0
    assert relative_difference(h, h) == 0.0           # both zero: no disagreement
    assert relative_difference(g, 2 * g) == pytest.approx(1 / 3)  # ‖g‖ / (‖g‖ + 2‖g‖)


def test_float32_data_is_checked_in_float64(rng):
    config, params, X, Y = _problem("tanh", "softmax", seed=2)
    result = cr.gradient_check(params, X.astype(np.float32), Y, config)
    assert result.passed and result.grad.dtype == np.float64


def test_bad_arguments(rng):
    config, params, X, Y = _problem("tanh", "sigmoid", seed=2)
    with pytest.raises(ValueError, match="epsilon must be a positive number"):
        cr.gradient_check(params, X, Y, config, epsilon=0)
    with pytest.raises(ValueError, match="convention must be"):
        cr.gradient_check(params, X, Y, config, convention="both")
    with pytest.raises(ValueError, match="pass X.T"):
        cr.gradient_check(params, X.T, Y, config)
    with pytest.raises(ValueError, match="unknown precision 'float32'; expected one of: wide, float64, course"):
        cr.gradient_check(params, X, Y, config, precision="float32")


@pytest.mark.parametrize("precision", ["float64", "course"])
@pytest.mark.parametrize("hidden, output", [("relu", "sigmoid"), ("tanh", "softmax"), ("leaky_relu", "identity")])
def test_j_in_float64_passes_a_correct_backward_and_still_catches_a_double_one_over_m(hidden, output, precision):
    """J in float64, from Z[L] or from A[L] as the course computes it: rounding 1000 times
    coarser than long double's, still far below what a doubled 1/m does."""
    config, params, X, Y = _problem(hidden, output, seed=len(hidden) * 7 + len(output))
    result = cr.gradient_check(params, X, Y, config, precision=precision)
    assert result.passed and result.difference < 2e-7, result.table()
    assert result.precision == precision and "J in float64" in result.table()
    wide = cr.gradient_check(params, X, Y, config)
    assert wide.difference < result.difference                    # the wider J measures less rounding
    bug = cr.gradient_check(params, X, Y, config, backward_fn=double_one_over_m(), precision=precision)
    assert bug.failing_layers == [1, 2, 3]
    assert bug.difference == pytest.approx((12 - 1) / (12 + 1), rel=1e-6)


def _vanishing():
    """Seven sigmoid layers with weights × 0.1: the gradient shrinks ~40× per layer going back."""
    rng = np.random.default_rng(0)
    config = cr.ModelConfig([3, 4, 4, 4, 4, 4, 4, 1], "sigmoid", "sigmoid")
    params = [cr.LayerParams(p.W * 0.1, 0.1 * rng.standard_normal(p.b.shape))
              for p in cr.init_params(config, rng, "xavier")]
    X, Y = rng.standard_normal((3, 50)), (rng.random((1, 50)) < 0.5).astype(float)
    return config, params, X, Y


def test_vanishing_gradients_are_too_small_to_judge_not_wrong():
    """Layer 1's gradient (~1e-11) is near the rounding floor of J/ε: its relative difference
    is large, but its disagreement is within the noise a correct backward has."""
    config, params, X, Y = _vanishing()
    result = cr.gradient_check(params, X, Y, config)
    assert result.passed and result.failing_layers == []
    assert 1 in result.unresolved_layers
    assert result.layers[0].difference > 2e-7 and result.layers[0].error <= result.layers[0].resolution
    assert "too small to judge" in result.table().splitlines()[1]
    assert result.layers[-1].status == "ok"


def test_a_bug_in_a_layer_with_vanishing_gradients_still_fails_the_check():
    """The total barely notices layer 1 (its gradient is 1e-10 of the total), but the layer does."""
    config, params, X, Y = _vanishing()
    result = cr.gradient_check(params, X, Y, config, backward_fn=double_one_over_m([1]))
    assert result.total.difference < 2e-7          # the course's single number would pass it
    assert not result.passed and result.failing_layers == [1]


def test_a_backward_of_the_wrong_size_is_refused():
    config, params, X, Y = _problem("tanh", "sigmoid", seed=1)
    # layer_dims (3, 5, 4, 2): 5·3 + 5 + 4·5 + 4 + 2·4 + 2 = 54 parameters, 44 without layer 3
    with pytest.raises(ValueError, match="returned 44 values for 54 parameters"):
        cr.gradient_check(params, X, Y, config, backward_fn=lambda *a, **k: cr.backward(*a, **k)[:-1])


@pytest.mark.parametrize("hidden, output", COMBINATIONS)
def test_where_long_double_is_float64_nothing_correct_is_called_wrong(hidden, output, monkeypatch):
    """On platforms without a wider float (Windows, macOS on ARM) J is rounded at 1e-16: the
    check must still pass a correct backward and fail the doubled 1/m in every layer."""
    monkeypatch.setattr(gradcheck, "WIDE", np.float64)
    config, params, X, Y = _problem(hidden, output, seed=len(hidden) * 7 + len(output))
    result = cr.gradient_check(params, X, Y, config)
    assert result.passed and result.failing_layers == [], result.table()
    bug = cr.gradient_check(params, X, Y, config, backward_fn=double_one_over_m())
    assert bug.failing_layers == [1, 2, 3]


@pytest.mark.parametrize("hidden, output", COMBINATIONS)
@pytest.mark.parametrize("lambd, keep_prob", [(0.7, 1.0), (0.0, 0.6), (0.7, 0.6)], ids=["l2", "dropout", "both"])
def test_passes_with_l2_and_dropout(hidden, output, lambd, keep_prob):
    """J + λ/(2n)Σ‖W‖² and the masks held fixed: backward's (λ/n)W and ⊙ D/keep_prob check out.
    n = 40 ≠ m = 12 checks that the penalty uses the training-set size n, not the batch's m."""
    config, params, X, Y = _problem(hidden, output, seed=len(hidden) + 3 * len(output))
    result = cr.gradient_check(params, X, Y, config, lambd=lambd, n=40, keep_prob=keep_prob,
                               rng=np.random.default_rng(1))
    assert result.passed and result.failing_layers == [], result.table()


def test_l2_with_the_wrong_n_fails_in_every_layer():
    """A backward that divides λ by m instead of n is caught: every dW[l] is off by (λ/m − λ/n) W."""
    config, params, X, Y = _problem("tanh", "sigmoid", seed=4)

    def l2_over_m(AL, Y, caches, config, convention, lambd, n):
        return cr.backward(AL, Y, caches, config, convention, lambd=lambd, n=AL.shape[1])

    result = cr.gradient_check(params, X, Y, config, lambd=0.7, n=40, backward_fn=l2_over_m)
    assert result.failing_layers == [1, 2, 3]
    assert [a.name for a in result.arrays if not a.passed] == ["dW1", "dW2", "dW3"]  # biases unpenalised


def test_dropout_with_a_forgotten_mask_in_backward_fails():
    """Backward that skips ⊙ D/keep_prob: the layers below the first dropped one are wrong."""
    config, params, X, Y = _problem("tanh", "sigmoid", seed=6)

    def no_mask(AL, Y, caches, config, convention, **l2):
        unmasked = [c._replace(D=None) for c in caches]
        return cr.backward(AL, Y, unmasked, config, convention, **l2)

    result = cr.gradient_check(params, X, Y, config, keep_prob=0.5, rng=np.random.default_rng(0),
                               backward_fn=no_mask)
    assert result.failing_layers == [1, 2]


def test_neutral_regularisation_is_exactly_the_plain_model(rng):
    """λ = 0 and keep_prob = 1 give bit-for-bit the plain forward, cost and gradients."""
    config, params, X, Y = _problem("relu", "softmax", seed=8)
    AL, caches = cr.forward(params, X, config)
    AL1, caches1 = cr.forward(params, X, config, keep_prob=1.0, rng=rng)
    np.testing.assert_array_equal(AL, AL1)
    assert cr.compute_cost(AL, Y, config) == cr.compute_cost(AL1, Y, config, params=params, lambd=0.0, n=99)
    for g, h in zip(cr.backward(AL, Y, caches, config), cr.backward(AL1, Y, caches1, config, lambd=0.0, n=99)):
        np.testing.assert_array_equal(g.dW, h.dW)
        np.testing.assert_array_equal(g.db, h.db)


def test_a_learners_five_argument_backward_is_checked(rng):
    """The documented signature, backward_fn(AL, Y, caches, config, convention), works without L2."""
    config, params, X, Y = _problem("tanh", "sigmoid", seed=9)
    def mine(AL, Y, caches, config, convention):
        return cr.backward(AL, Y, caches, config, convention)

    assert cr.gradient_check(params, X, Y, config, backward_fn=mine).passed


@pytest.mark.parametrize("bug, layers", [("double-1/m", [1, 2, 3]), ("no-1/m", [1, 2, 3]),
                                         ("missing-g-prime", [1, 2])])
@pytest.mark.parametrize("convention", ["deferred", "absorbed"])
def test_the_library_bugs_are_caught_where_they_are(bug, layers, convention):
    """The output layer needs no g′ (its delta is fused), so a missing g′ spares layer 3 only."""
    config, params, X, Y = _problem("tanh", "sigmoid", seed=12)
    result = cr.gradient_check(params, X, Y, config, convention=convention,
                               backward_fn=buggy_backward(bug))
    assert not result.passed and result.failing_layers == layers
    with pytest.raises(ValueError, match="unknown bug 'typo'"):
        buggy_backward("typo")
