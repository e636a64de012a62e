"""The fast training step against the reference path (model.forward / model.backward).

The fast step writes every quantity into buffers it keeps, with the same NumPy operations in
the same order as the reference; the expected values here are the reference path's own,
computed from the same parameters and batches. The contract is agreement to 1e-12 in
float64; the element-wise pieces are held to the same bits.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import fastpath, optimizers
from chainrule.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from chainrule.model import backward, forward
from chainrule.training import fit
from conftest import random_problem, rel_err

OUTPUTS = ("sigmoid", "softmax", "identity")


# --- the element-wise twins ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_buffered_activation_twins_give_the_same_bits(name, dtype, rng):
    g = ACTIVATIONS[name]
    Z = np.concatenate([rng.standard_normal((3, 40)) * 4, [[0.0] * 40], np.full((1, 40), -800.0),
                        np.full((1, 40), 800.0)]).astype(dtype)
    A_expected = g.forward(Z)
    A = np.full_like(Z, np.nan)
    g.forward_into(Z, A)
    assert A.dtype == dtype
    np.testing.assert_array_equal(A, A_expected)

    dA = rng.standard_normal(Z.shape).astype(dtype)
    dZ_expected = g.backward(dA, Z, A_expected)
    dZ = dA.copy()
    g.backward_into(dZ, Z, A, np.full_like(Z, np.nan))
    assert dZ.dtype == dtype
    np.testing.assert_array_equal(dZ, dZ_expected)


@pytest.mark.parametrize("order", ["C", "F"])
def test_gather_takes_the_columns_in_the_batch_order(order, rng):
    X = np.asarray(rng.standard_normal((5, 30)), order=order)
    batch = rng.permutation(30)[:7]
    out = fastpath._like(X, 5, 7)
    assert out.flags.f_contiguous == (order == "F")
    np.testing.assert_array_equal(fastpath.gather(X, batch, out), X[:, batch])


# --- one step --------------------------------------------------------------------------------


def _reference_grads(params, X, Y, config, convention, keep_prob, seed, lambd):
    AL, caches = forward(params, X, config, keep_prob=keep_prob, rng=np.random.default_rng(seed))
    return AL, caches[-1].Z, backward(AL, Y, caches, config, convention, lambd=lambd, n=X.shape[1])


@pytest.mark.parametrize("convention", ["deferred", "absorbed"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_one_step_matches_the_reference(hidden, output, convention, rng):
    config = cr.ModelConfig([4, 6, 5, 3 if output == "softmax" else 2], hidden, output)
    params, X, Y = random_problem(config, 37, rng)
    step = fastpath.make_step(config, convention, 1.0, 0.0, 37)
    for _ in range(2):                                   # the second step reuses the buffers
        result = step(params, X, Y, slice(None), None)
        AL, ZL, grads = _reference_grads(params, X, Y, config, convention, 1.0, 0, 0.0)
        np.testing.assert_array_equal(result.AL, AL)
        np.testing.assert_array_equal(result.ZL, ZL)
        for fast, ref in zip(result.grads, grads):
            assert rel_err(fast.dW, ref.dW) <= 1e-12 and rel_err(fast.db, ref.db) <= 1e-12


@pytest.mark.parametrize("order", ["C", "F"])
def test_one_step_with_dropout_l2_and_a_gathered_batch(order, rng):
    config = cr.ModelConfig([5, 8, 7, 4], "relu", "softmax")
    params, X, Y = random_problem(config, 50, rng)
    X, Y = np.asarray(X, order=order), np.asarray(Y, order=order)
    batch = rng.permutation(50)[:19]
    step = fastpath.make_step(config, "deferred", 0.7, 0.3, 50)
    result = step(params, X, Y, batch, np.random.default_rng(5))
    AL, caches = forward(params, X[:, batch], config, keep_prob=0.7, rng=np.random.default_rng(5))
    grads = backward(AL, Y[:, batch], caches, config, lambd=0.3, n=50)
    np.testing.assert_array_equal(result.Y, Y[:, batch])
    assert rel_err(result.AL, AL) <= 1e-12
    for fast, ref in zip(result.grads, grads):
        assert rel_err(fast.dW, ref.dW) <= 1e-12 and rel_err(fast.db, ref.db) <= 1e-12


# --- whole runs ----------------------------------------------------------------------------


def _both(config, X, Y, **options):
    fast = fit(config, X, Y, engine="fast", **options)
    ref = fit(config, X, Y, engine="reference", **options)
    return fast, ref


def _assert_same_run(fast, ref, tol=1e-12):
    assert len(fast.history) == len(ref.history)
    for a, b in zip(fast.params, ref.params):
        assert rel_err(a.W, b.W) <= tol and rel_err(a.b, b.b) <= tol
    assert rel_err(fast.history.cost, ref.history.cost) <= tol
    np.testing.assert_array_equal(fast.history.accuracy, ref.history.accuracy)


def test_planar_classifier_is_the_same_run():
    flower = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.RandomState(2), "random", 0.01)
    fast, ref = _both(config, flower.X, flower.Y, params=params, learning_rate=1.2, num_epochs=1000)
    _assert_same_run(fast, ref)
    assert fast.history.cost[0] == pytest.approx(0.693048, abs=5e-7)       # the course's printout


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_mini_batch_runs_are_the_same_run(optimizer, rng):
    config = cr.ModelConfig([3, 7, 5, 3], "tanh", "softmax")
    _, X, Y = random_problem(config, 103, rng)                      # 103 = 3·32 + a remainder of 7
    options = dict(optimizer=optimizer, learning_rate=0.01, num_epochs=15, mini_batch_size=32, seed=4)
    fast, ref = _both(config, np.asfortranarray(X), Y, **options)
    _assert_same_run(fast, ref)


def test_dropout_l2_absorbed_and_validation_are_the_same_run(rng):
    config = cr.ModelConfig([3, 9, 6, 1], "relu", "sigmoid")
    _, X, Y = random_problem(config, 80, rng)
    _, X_val, Y_val = random_problem(config, 20, rng)
    fast, ref = _both(config, X, Y, optimizer="momentum", learning_rate=0.05, num_epochs=20, mini_batch_size=16,
                      keep_prob=0.8, lambd=0.5, convention="absorbed", validation_data=(X_val, Y_val), seed=9)
    _assert_same_run(fast, ref)
    assert rel_err(fast.history.val_cost, ref.history.val_cost) <= 1e-12


def test_float32_stays_float32_and_matches_the_reference(rng):
    config = cr.ModelConfig([6, 10, 4], "relu", "softmax")
    _, X, Y = random_problem(config, 64, rng)
    fast, ref = _both(config, X.astype(np.float32), Y, learning_rate=0.1, num_epochs=10, mini_batch_size=16)
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in fast.params)
    _assert_same_run(fast, ref, tol=1e-6)


def test_an_optimizer_of_ones_own_gets_gradients_it_may_keep(rng):
    """The fast step reuses its gradient buffers; an optimizer from outside gets copies."""
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    _, X, Y = random_problem(config, 12, rng)
    seen = []
    inner = optimizers.gd()

    def update(params, grads, state, learning_rate):
        seen.append(grads)
        return inner.update(params, grads, state, learning_rate)

    fit(config, X, Y, optimizer=optimizers.Optimizer("keeper", inner.init, update), num_epochs=3, seed=1)
    kept = []
    fit(config, X, Y, optimizer=optimizers.Optimizer("keeper", inner.init, lambda p, g, s, a: (
        kept.append(g), inner.update(p, g, s, a))[1]), num_epochs=3, seed=1, engine="reference")
    for fast, ref in zip(seen, kept):
        for a, b in zip(fast, ref):
            assert rel_err(a.dW, b.dW) <= 1e-12
    assert not np.array_equal(seen[0][0].dW, seen[2][0].dW)


def test_engine_is_checked():
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    with pytest.raises(ValueError, match="engine must be 'fast' or 'reference'"):
        fit(config, np.zeros((2, 4)), np.zeros((1, 4)), engine="turbo")
