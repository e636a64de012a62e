"""Buffers reused across steps change nothing but where the numbers are written.

``model.gradients`` with a Workspace and without one run the same code; these tests hold the
two to the same bits in every combination, catch a buffer written while still being read,
and check that a step with buffers allocates no array of the batch's size.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optimizers
from chainrule.activations import HIDDEN_ACTIVATIONS
from chainrule.model import gradients
from chainrule.training import TrainConfig, TrainState, fit, make_step
from chainrule.workspace import _like, gather, make_workspace
from conftest import random_problem, traced_peak

OUTPUTS = ("sigmoid", "softmax", "identity")


def _same(a, b):
    np.testing.assert_array_equal(a, b)
    assert a.dtype == b.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("convention", ["deferred", "absorbed"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_a_step_into_buffers_gives_the_same_bits(hidden, output, convention, dtype, rng):
    config = cr.ModelConfig([4, 6, 5, 3 if output == "softmax" else 2], hidden, output)
    params, X, Y = random_problem(config, 37, rng)
    params = [cr.LayerParams(W.astype(dtype), b.astype(dtype)) for W, b in params]
    X, Y = X.astype(dtype), Y.astype(dtype)
    ws = make_workspace(config.layer_dims, 37, X, Y, dropout=False)
    expected = gradients(params, X, Y, config, convention, lambd=0.3, n=50)
    for _ in range(2):                                              # the second step reuses the buffers
        got = gradients(params, X, Y, config, convention, lambd=0.3, n=50, workspace=ws)
        _same(got.AL, expected.AL)
        _same(got.ZL, expected.ZL)
        for g, e in zip(got.grads, expected.grads, strict=True):
            _same(g.dW, e.dW)
            _same(g.db, e.db)
    assert got.grads[0].dW is ws.layers[0].dW                       # written into the workspace


@pytest.mark.parametrize("order", ["C", "F"])
def test_a_step_with_dropout_l2_and_a_gathered_batch(order, rng):
    """The training step on a gathered batch equals forward and backward on X[:, batch] with
    the same generator: the same masks, the same gradients, bit for bit."""
    config = cr.ModelConfig([5, 8, 7, 4], "relu", "softmax")
    _, X, Y = random_problem(config, 50, rng)
    params = cr.init_params(config, rng)
    X, Y = np.asarray(X, order=order), np.asarray(Y, order=order)
    batch = rng.permutation(50)[:19]
    step = make_step(config, TrainConfig(keep_prob=0.7, lambd=0.3), X, Y)
    Y_b, got = step(params, batch, np.random.default_rng(5))
    AL, caches = cr.forward(params, X[:, batch], config, keep_prob=0.7, rng=np.random.default_rng(5))
    grads = cr.backward(AL, Y[:, batch], caches, config, lambd=0.3, n=50)
    _same(Y_b, Y[:, batch])
    _same(got.AL, AL)
    for g, e in zip(got.grads, grads):
        _same(g.dW, e.dW)
        _same(g.db, e.db)


@pytest.mark.parametrize("order", ["C", "F"])
def test_gather_takes_the_columns_in_the_batch_order(order, rng):
    X = np.asarray(rng.standard_normal((5, 30)), order=order)
    batch = rng.permutation(30)[:7]
    out = _like(X, 5, 7)
    assert out.flags.f_contiguous == (order == "F")
    _same(gather(X, batch, out), X[:, batch])


@pytest.mark.parametrize("hidden, output, keep_prob", [("relu", "softmax", 1.0), ("tanh", "sigmoid", 0.8),
                                                       ("sigmoid", "identity", 1.0)])
def test_a_step_with_buffers_allocates_no_array_of_the_batchs_size(hidden, output, keep_prob, rng):
    """After the first step (which makes the workspace), a step allocates at most small
    temporaries: less than one (n_l, m) float64 array at its peak."""
    m = 2000
    config = cr.ModelConfig([3, 16, 16, 4 if output == "softmax" else 1], hidden, output)
    _, X, Y = random_problem(config, m, rng)
    params = cr.init_params(config, rng)
    step = make_step(config, TrainConfig(keep_prob=keep_prob), X, Y)
    batch = rng.permutation(m)
    step(params, batch, np.random.default_rng(0))
    peak = traced_peak(lambda: step(params, batch, np.random.default_rng(1)))
    assert peak < 16 * m * 8                                       # one (16, m) float64 array
    peak_without = traced_peak(lambda: gradients(params, X, Y, config))    # without buffers: arrays of m
    assert peak_without > 5 * 16 * m * 8                           # (the measurement can tell)


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_an_update_into_a_slot_writes_there_and_changes_none_of_its_inputs(name, rng):
    optimizer = optimizers.OPTIMIZERS[name]()
    config = cr.ModelConfig([3, 4, 2])
    params = cr.init_params(config, rng)
    grads = [cr.LayerGrads(rng.standard_normal(W.shape), rng.standard_normal(b.shape)) for W, b in params]
    state = optimizer.update(params, grads, optimizer.init(params), 0.1)[1]       # moments not zero
    copies = [a.copy() for layer in params + grads for a in layer]
    expected = optimizer.update(params, grads, state, 0.1)
    slot = optimizers.new_slot(optimizer, params)
    got = optimizer.update(params, grads, state, 0.1, out=slot)
    for a, b in zip(got[0], expected[0]):
        _same(a.W, b.W)
        _same(a.b, b.b)
    assert all(x is y for p, q in zip(got[0], slot.params) for x, y in zip(p, q))     # written into the slot
    for field in state._fields[:-1]:
        for a, b in zip(getattr(got[1], field), getattr(expected[1], field)):
            _same(a.dW, b.dW)
    assert got[1].t == expected[1].t == state.t + 1
    for a, b in zip(copies, [a for layer in params + grads for a in layer]):
        _same(a, b)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_whole_runs_with_slots_equal_runs_that_allocate_every_update(optimizer, rng):
    """Within an epoch the updates alternate between two slots; an optimizer that cannot take
    them allocates every result. The same run either way: no slot is written while read."""
    config = cr.ModelConfig([3, 7, 5, 3], "tanh", "softmax")
    _, X, Y = random_problem(config, 103, rng)                      # 103 = 3·32 + a remainder of 7
    params = cr.init_params(config, rng)
    train = TrainConfig(optimizer=optimizer, learning_rate=0.01, num_epochs=6, mini_batch_size=32, seed=4)
    with_slots = fit(config, np.asfortranarray(X), Y, train, state=TrainState(params))
    inner = optimizers.get_optimizer(optimizer)
    allocating = optimizers.Optimizer(optimizer, inner.init, lambda p, g, s, a: inner.update(p, g, s, a))
    without = fit(config, X, Y, train, state=TrainState(params), optimizer=allocating)
    for a, b in zip(with_slots.params, without.params):
        _same(a.W, b.W)
        _same(a.b, b.b)
    np.testing.assert_array_equal(with_slots.history.cost, without.history.cost)
