"""Stacks: K networks of one shape along a leading axis, computed together.

A stack's W[l] is (K, n_l, n_{l-1}), its b[l] (K, n_l, 1); X and Y are one (n, m) matrix
shared by all K networks or one per network, (K, n, m). Each network of a stack must get
exactly what it gets alone: the references here are the same networks computed one at a
time through today's 2-D calls, and, independently, JAX's autodiff mapped over the stack
with ``jax.vmap``.

Bit for bit: NumPy's ``matmul`` on a stack calls the same BLAS routine once per matrix
that ``dot`` calls for one matrix, with the same operands, so the products are the same
numbers; the element-wise steps and the reductions over the last axes are the same
operations. The tests below assert equality, not closeness, for every activation and
output, both conventions, L2, K from 1 to 5 and shapes up to 784 × 128.
"""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_oracle_jax import _COMPILER_OPTIONS, COMBOS, jax_cost
from test_properties import SETTINGS, assert_close, assert_grads_close, cost_and_grads, problems

import chainrule as cr
from chainrule.optimizers import get_optimizer
from chainrule.testing import double_one_over_m
from conftest import rel_err

jax.config.update("jax_enable_x64", True)


def _stack(networks):
    """The stack of a list of params (each [(W1, b1), …]): W[l] (K, n_l, n_{l-1}), b[l] (K, n_l, 1)."""
    return [cr.LayerParams(np.stack([p[l][0] for p in networks]), np.stack([p[l][1] for p in networks]))
            for l in range(len(networks[0]))]


def _labels(output, n_y, m, rng):
    if output == "softmax":
        return np.eye(n_y)[:, rng.integers(0, n_y, m)]
    if output == "sigmoid":
        return (rng.random((n_y, m)) < 0.5).astype(np.float64)
    return rng.standard_normal((n_y, m))


def _problem(hidden, output, seed):
    """K networks of one random shape (K = 1 … 5), their data shared or one set per network."""
    rng = np.random.default_rng([seed, COMBOS.index((hidden, output))])
    K, L, m = int(rng.integers(1, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 40))
    dims = [int(n) for n in rng.integers(1, 8, size=L + 1)]
    if output == "softmax":
        dims[-1] = int(rng.integers(2, 6))
    config = cr.ModelConfig(dims, hidden, output)
    networks = [[p._replace(b=0.2 * rng.standard_normal(p.b.shape)) for p in cr.init_params(config, rng, "xavier")]
                for _ in range(K)]
    shared = seed % 2 == 0
    X = rng.standard_normal((dims[0], m)) if shared else rng.standard_normal((K, dims[0], m))
    Y = (_labels(output, dims[-1], m, rng) if shared else
         np.stack([_labels(output, dims[-1], m, rng) for _ in range(K)]))
    return config, networks, X, Y, K


def _one(array, k):
    """Network k's share of data that is shared (2-D) or stacked."""
    return array if array.ndim == 2 else array[k]


@pytest.mark.parametrize("seed", range(2), ids=["shared data", "data per network"])
@pytest.mark.parametrize("hidden,output", COMBOS, ids=[f"{h}-{o}" for h, o in COMBOS])
def test_a_stack_computes_each_network_bit_for_bit(hidden, output, seed):
    config, networks, X, Y, K = _problem(hidden, output, seed)
    params = _stack(networks)
    AL, caches = cr.forward(params, X, config)
    J = cr.compute_cost(AL, Y, config, ZL=caches[-1].Z, params=params, lambd=0.7)
    assert AL.shape == (K, config.n_y, X.shape[-1]) and J.shape == (K,)
    for convention in ("deferred", "absorbed"):
        grads = cr.backward(AL, Y, caches, config, convention, lambd=0.7)
        trace = cr.backward_trace(AL, Y, caches, config, convention)
        for k in range(K):
            AL_k, caches_k = cr.forward(networks[k], _one(X, k), config)
            assert np.array_equal(AL[k], AL_k)
            assert J[k] == cr.compute_cost(AL_k, _one(Y, k), config, ZL=caches_k[-1].Z, params=networks[k],
                                           lambd=0.7)
            grads_k = cr.backward(AL_k, _one(Y, k), caches_k, config, convention, lambd=0.7)
            trace_k = cr.backward_trace(AL_k, _one(Y, k), caches_k, config, convention)
            for l in range(config.L):
                assert np.array_equal(grads[l].dW[k], grads_k[l].dW) and np.array_equal(grads[l].db[k], grads_k[l].db)
                assert np.array_equal(trace[l].dZ[k], trace_k[l].dZ)
                assert np.array_equal(trace[l].dA_prev[k], trace_k[l].dA_prev)


@pytest.mark.parametrize("dims, m, K", [([2, 4, 1], 400, 64), ([784, 128, 64, 10], 64, 3), ([5, 3, 1], 1, 4)],
                         ids=["planar K=64", "mnist-sized", "m=1"])
def test_larger_stacks_are_their_networks_bit_for_bit(dims, m, K):
    rng = np.random.default_rng(7)
    config = cr.ModelConfig(dims, "relu", "softmax" if dims[-1] > 1 else "sigmoid")
    networks = [cr.init_params(config, rng, "he") for _ in range(K)]
    X = rng.standard_normal((dims[0], m))
    Y = _labels(config.output, dims[-1], m, rng)
    AL, caches = cr.forward(_stack(networks), X, config)
    grads = cr.backward(AL, Y, caches, config)
    for k in range(K):
        AL_k, caches_k = cr.forward(networks[k], X, config)
        grads_k = cr.backward(AL_k, Y, caches_k, config)
        assert np.array_equal(AL[k], AL_k)
        assert all(np.array_equal(g.dW[k], h.dW) and np.array_equal(g.db[k], h.db) for g, h in zip(grads, grads_k))


def test_a_stack_of_one_is_todays_network():
    rng = np.random.default_rng(3)
    config = cr.ModelConfig([3, 4, 2], "tanh", "softmax")
    params = cr.init_params(config, rng)
    X, Y = rng.standard_normal((3, 9)), np.eye(2)[:, rng.integers(0, 2, 9)]
    AL, caches = cr.forward(params, X, config)
    AL1, caches1 = cr.forward(_stack([params]), X, config)
    assert np.array_equal(AL1[0], AL)
    g, g1 = cr.backward(AL, Y, caches, config), cr.backward(AL1, Y, caches1, config)
    assert all(np.array_equal(a.dW, b.dW[0]) and np.array_equal(a.db, b.db[0]) for a, b in zip(g, g1))


@pytest.mark.parametrize("hidden,output", COMBOS, ids=[f"{h}-{o}" for h, o in COMBOS])
def test_a_stack_matches_jax_grad_mapped_over_the_stack(hidden, output):
    """The oracle of test_oracle_jax (J written in jax.numpy from the equations alone), mapped over
    the stack's leading axis with jax.vmap: each network's ∂J/∂W[l], ∂J/∂b[l] to 1e-10."""
    config, networks, X, Y, K = _problem(hidden, output, 0)                 # shared X, Y
    params = _stack(networks)
    jparams = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    probes = [(jnp.zeros((K, W.shape[1], X.shape[1])),) * 2 for W, _ in params]

    def cost(p, probe):
        return jax_cost(p, probe, jnp.asarray(X), jnp.asarray(Y), hidden, output)

    lowered = jax.jit(jax.vmap(jax.value_and_grad(cost, argnums=(0, 1)))).lower(jparams, probes)
    try:                                                 # tiny graphs: compile time is the cost, as in the oracle
        compiled = lowered.compile(compiler_options=_COMPILER_OPTIONS)
    except Exception:
        compiled = lowered.compile()
    J_ref, (grads_ref, _) = compiled(jparams, probes)
    AL, caches = cr.forward(params, X, config)
    assert rel_err(cr.compute_cost(AL, Y, config, ZL=caches[-1].Z), np.asarray(J_ref)) <= 1e-12
    for convention in ("deferred", "absorbed"):
        for (dW, db), (dW_ref, db_ref) in zip(cr.backward(AL, Y, caches, config, convention), grads_ref):
            for k in range(K):
                assert rel_err(dW[k], np.asarray(dW_ref)[k]) <= 1e-10
                assert rel_err(db[k], np.asarray(db_ref)[k]) <= 1e-10


@pytest.mark.parametrize("name", ["gd", "momentum", "rmsprop", "adam"])
def test_an_optimizer_steps_a_stack_as_each_network_alone(name):
    """Two steps of each optimizer on a stack of three networks, each with its own learning rate
    (an array (K, 1, 1) that broadcasts over W and b), equal three runs alone, bit for bit."""
    rng = np.random.default_rng(11)
    config = cr.ModelConfig([3, 5, 1])
    networks = [cr.init_params(config, rng) for _ in range(3)]
    grads = [[[cr.LayerGrads(rng.standard_normal(p.W.shape), rng.standard_normal(p.b.shape)) for p in net]
              for net in networks] for _ in range(2)]
    rates = [0.1, 0.01, 0.5]
    optimizer = get_optimizer(name)
    stacked, state = _stack(networks), optimizer.init(_stack(networks))
    for step in grads:
        stacked_grads = [cr.LayerGrads(*p) for p in _stack(step)]
        stacked, state = optimizer.update(stacked, stacked_grads, state, np.reshape(rates, (3, 1, 1)))
    for k, (net, rate) in enumerate(zip(networks, rates)):
        params, alone = net, optimizer.init(net)
        for step in grads:
            params, alone = optimizer.update(params, step[k], alone, rate)
        assert all(np.array_equal(a.W[k], b.W) and np.array_equal(a.b[k], b.b) for a, b in zip(stacked, params))


def test_a_stack_whose_shapes_disagree_is_refused_in_one_sentence():
    rng = np.random.default_rng(5)
    config = cr.ModelConfig([2, 3, 1])
    networks = [cr.init_params(config, rng) for _ in range(3)]
    params = _stack(networks)
    with pytest.raises(ValueError, match=r"the same leading axes, the stack's shape \(3,\); W2 has \(2,\)"):
        cr.forward([params[0], cr.LayerParams(params[1].W[:2], params[1].b[:2])], np.zeros((2, 4)), config)
    with pytest.raises(ValueError, match=r"X must be one \(2, m\) matrix for every network of the stack, or one per "
                                         r"network, of shape \(3, 2, 4\); got \(4, 2, 4\)"):
        cr.forward(params, np.zeros((4, 2, 4)), config)
    with pytest.raises(ValueError, match=r"every W and b of a stack .* W1 has \(1,\) and b1 has \(\)"):
        cr.forward([(np.zeros((1, 3, 2)), np.zeros((3, 1))), params[1]], np.zeros((2, 4)), config)
    with pytest.raises(ValueError, match="W1 must be 2-D; got a 1-D array"):     # one network: as before
        cr.forward([(np.zeros(6), np.zeros((3, 1))), networks[0][1]], np.zeros((2, 4)), config)


def test_every_combination_is_stacked():
    assert set(itertools.product(cr.HIDDEN_ACTIVATIONS, cr.OUTPUTS)) == set(COMBOS)


# --- the properties of test_properties, on stacks --------------------------------------------


@SETTINGS
@given(problems(stacks=True))
def test_a_stack_keeps_its_cost_and_gradients_when_every_example_is_doubled(problem):
    """J and ∂J/∂θ are means over examples, network by network: every column twice changes none."""
    config, params, X, Y = problem
    J, grads = cost_and_grads(params, X, Y, config)
    X2, Y2 = np.concatenate([X, X], axis=-1), np.concatenate([Y, Y], axis=-1)
    for convention in ("deferred", "absorbed"):
        J2, grads2 = cost_and_grads(params, X2, Y2, config, convention)
        assert_close(J2, J, f"{convention}: J")
        assert_grads_close(grads2, grads, convention)


@SETTINGS
@given(problems(stacks=True), st.randoms(use_true_random=False))
def test_a_stack_keeps_its_cost_and_gradients_when_examples_are_permuted(problem, random):
    config, params, X, Y = problem
    perm = list(range(X.shape[-1]))
    random.shuffle(perm)
    J, grads = cost_and_grads(params, X, Y, config)
    for convention in ("deferred", "absorbed"):
        J_p, grads_p = cost_and_grads(params, X[..., perm], Y[..., perm], config, convention)
        assert_close(J_p, J, f"{convention}: J")
        assert_grads_close(grads_p, grads, convention)


@SETTINGS
@given(problems(stacks=True))
def test_in_a_stack_absorbed_dZ_is_deferred_dZ_divided_by_m(problem):
    config, params, X, Y = problem
    m = X.shape[-1]
    AL, caches = cr.forward(params, X, config)
    deferred = cr.backward_trace(AL, Y, caches, config, "deferred")
    absorbed = cr.backward_trace(AL, Y, caches, config, "absorbed")
    for l, (d, a) in enumerate(zip(deferred, absorbed), start=1):
        assert_close(a.dZ, d.dZ / m, f"dZ{l}")
        assert_close(a.dA_prev, d.dA_prev / m, f"dA{l - 1}")
        assert_close(a.dW, d.dW, f"dW{l}")
        assert_close(a.db, d.db, f"db{l}")
        assert d.dW.shape == params[l - 1].W.shape and d.db.shape == params[l - 1].b.shape


def test_the_gradient_check_of_a_stack_is_each_networks_own():
    """Each network's check is the one it gets alone; a doubled 1/m fails every network."""
    rng = np.random.default_rng(13)
    config = cr.ModelConfig([3, 4, 1], "tanh")
    networks = [cr.init_params(config, rng, "xavier") for _ in range(3)]
    X = rng.standard_normal((3, 6))
    Y = (rng.random((1, 6)) < 0.5).astype(float)
    results = cr.gradient_check(_stack(networks), X, Y, config)
    assert len(results) == 3
    for net, result in zip(networks, results):
        alone = cr.gradient_check(net, X, Y, config)
        assert result.passed and result.difference == alone.difference
    planted = cr.gradient_check(_stack(networks), X, Y, config, backward_fn=double_one_over_m())
    assert not any(r.passed for r in planted) and all(r.failing_layers == [1, 2] for r in planted)


# --- training a stack ------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("batch, keep_prob, lambd", [(None, 1.0, 0.0), (64, 1.0, 0.3), (100, 0.8, 0.1)],
                         ids=["full batch", "mini-batches, L2", "mini-batches, dropout, L2"])
def test_a_stack_trains_each_network_as_fit_does_alone(optimizer, batch, keep_prob, lambd):
    """Three networks with their own learning rate, λ (one of them 0), decay rate and seed (so
    their own initial weights, shuffles and dropout masks), trained as one stack: each ends
    with fit's parameters and history for it, bit for bit."""
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 3, 1], "relu", "sigmoid")
    base = cr.TrainConfig(optimizer=optimizer, num_epochs=12, mini_batch_size=batch, keep_prob=keep_prob,
                          decay="inverse_time", divergence_factor=None)
    trains = [dataclasses.replace(base, learning_rate=rate, lambd=l2, decay_rate=decay, seed=seed)
              for rate, l2, decay, seed in ((0.1, lambd, 1.0, 1), (0.01, 0.0, 0.5, 2), (0.05, 2 * lambd, 0.0, 3))]
    for train, stacked in zip(trains, fit_stack(config, data.X, data.Y, trains)):
        alone = cr.fit(config, data.X, data.Y, train)
        assert all(np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b) for a, b in zip(alone.params, stacked.params))
        for field in ("cost", "data_cost", "l2_cost", "accuracy", "learning_rate"):
            assert np.array_equal(getattr(alone.history, field), getattr(stacked.history, field)), field
        assert stacked.state.epoch == alone.state.epoch == 12 and stacked.history.seed == train.seed


def test_a_network_that_diverges_stops_and_the_others_go_on():
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    trains = [cr.TrainConfig(learning_rate=rate, num_epochs=30, seed=4, init="xavier") for rate in (1.2, 1e4)]
    calm, wild = fit_stack(config, data.X, data.Y, trains)
    with pytest.raises(cr.TrainingDiverged) as alone:
        cr.fit(config, data.X, data.Y, trains[1])
    assert wild.history.stop_reason == "diverged" and len(wild.history.cost) == len(alone.value.history.cost) < 30
    reference = cr.fit(config, data.X, data.Y, trains[0])
    assert calm.history.stop_reason == "completed"
    assert all(np.array_equal(a.W, b.W) for a, b in zip(reference.params, calm.params))


def test_a_stack_refuses_networks_that_differ_in_more_than_their_hyperparameters():
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1])
    with pytest.raises(ValueError, match=r"may differ only in learning_rate, decay_rate, lambd, seed, beta, beta1, "
                                         r"beta2, epsilon, keep_prob; they differ in optimizer \('adam', 'gd'\)"):
        fit_stack(config, data.X, data.Y, [cr.TrainConfig(), cr.TrainConfig(optimizer="adam")])
    with pytest.raises(ValueError, match="needs its seed"):
        fit_stack(config, data.X, data.Y, [cr.TrainConfig(seed=None)])


def test_a_softmax_stack_counts_each_networks_accuracy():
    from chainrule.stacks import fit_stack
    data = cr.datasets.blobs(m=90, seed=2)
    config = cr.ModelConfig([2, 5, 3], "tanh", "softmax")
    trains = [cr.TrainConfig(learning_rate=rate, num_epochs=6, mini_batch_size=32, seed=seed)
              for rate, seed in ((0.5, 1), (0.05, 2))]
    for train, stacked in zip(trains, fit_stack(config, data.X, data.Y, trains)):
        alone = cr.fit(config, data.X, data.Y, train)
        assert np.array_equal(alone.history.accuracy, stacked.history.accuracy)
        assert np.array_equal(alone.history.cost, stacked.history.cost)


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_stops_each_network_of_a_stack_where_fit_stops_it(restore_best):
    """Three networks that stop early at different epochs (about 29, 187 and 24): each ends with
    fit's parameters (the best epoch's with restore_best), history, best epoch and state."""
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    trains = [cr.TrainConfig(learning_rate=rate, num_epochs=200, seed=seed, patience=3, min_delta=1e-3,
                             restore_best=restore_best, mini_batch_size=64, init="xavier")
              for rate, seed in ((1.2, 1), (0.05, 2), (2.5, 3))]
    lengths = set()
    for train, stacked in zip(trains, fit_stack(config, data.X, data.Y, trains)):
        alone = cr.fit(config, data.X, data.Y, train)
        assert stacked.history.stop_reason == alone.history.stop_reason == "early stopping"
        assert stacked.history.best_epoch == alone.history.best_epoch and stacked.state.epoch == alone.state.epoch
        assert np.array_equal(stacked.history.cost, alone.history.cost)
        assert all(np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b) for a, b in zip(alone.params, stacked.params))
        assert stacked.state.best.epoch == alone.state.best.epoch
        lengths.add(len(alone.history.cost))
    assert len(lengths) == 3 and max(lengths) < 200                 # they stopped, each at its own epoch


def test_validation_figures_and_early_stopping_on_them_are_fits_for_each_network():
    from chainrule.stacks import fit_stack
    data = cr.datasets.moons(m=300, seed=1)
    valid = cr.datasets.moons(m=100, seed=2)
    config = cr.ModelConfig([2, 5, 1], "relu", "sigmoid")
    trains = [cr.TrainConfig(learning_rate=rate, num_epochs=150, seed=seed, patience=5, mini_batch_size=50)
              for rate, seed in ((0.5, 1), (0.05, 2))]
    for train, stacked in zip(trains, fit_stack(config, data.X, data.Y, trains, validation_data=(valid.X, valid.Y))):
        alone = cr.fit(config, data.X, data.Y, train, validation_data=(valid.X, valid.Y))
        for field in ("cost", "val_cost", "val_accuracy"):
            assert np.array_equal(getattr(alone.history, field), getattr(stacked.history, field)), field
        assert stacked.history.stop_reason == alone.history.stop_reason == "early stopping"   # at 39 and 108
        assert all(np.array_equal(a.W, b.W) for a, b in zip(alone.params, stacked.params))


# --- per-network optimizer hyperparameters and keep_prob; float32; a stack of one; networks leaving ----


@pytest.mark.parametrize("name, hyper", [("momentum", {"beta": [0.9, 0.5, 0.0]}),
                                         ("rmsprop", {"beta": [0.9, 0.99, 0.5], "epsilon": [1e-8, 1e-4, 1e-2]}),
                                         ("adam", {"beta1": [0.9, 0.8, 0.0], "beta2": [0.999, 0.9, 0.99],
                                                   "epsilon": [1e-8, 1e-3, 1e-6]})])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_optimizer_with_hyperparameters_of_each_network_steps_each_as_alone(name, hyper, dtype):
    """β, β1, β2, ε as (K, 1, 1) arrays, one value per network (and the learning rates too):
    three steps of the stack equal each network's steps with its numbers, bit for bit, in
    float64 and in float32 (where NumPy rounds a number to float32 the same way)."""
    rng = np.random.default_rng(12)
    config = cr.ModelConfig([3, 5, 1])
    networks = [[cr.LayerParams(W.astype(dtype), b.astype(dtype)) for W, b in cr.init_params(config, rng)]
                for _ in range(3)]
    grads = [[[cr.LayerGrads(rng.standard_normal(p.W.shape).astype(dtype), rng.standard_normal(p.b.shape).astype(dtype))
               for p in net] for net in networks] for _ in range(3)]
    rates = [0.1, 0.01, 0.5]
    optimizer = get_optimizer(name, **{k: np.reshape(v, (3, 1, 1)) for k, v in hyper.items()})
    stacked, state = _stack(networks), optimizer.init(_stack(networks))
    for step in grads:
        stacked, state = optimizer.update(stacked, [cr.LayerGrads(*p) for p in _stack(step)], state,
                                          np.reshape(rates, (3, 1, 1)))
    for k, (net, rate) in enumerate(zip(networks, rates)):
        alone = get_optimizer(name, **{h: v[k] for h, v in hyper.items()})
        params, opt_state = net, alone.init(net)
        for step in grads:
            params, opt_state = alone.update(params, step[k], opt_state, rate)
        assert all(a.W.dtype == dtype and np.array_equal(a.W[k], b.W) and np.array_equal(a.b[k], b.b)
                   for a, b in zip(stacked, params))


def _assert_fits(config, X, Y, trains, results, validation_data=None):
    """Each result is fit's for its TrainConfig, bit for bit: params, history, state."""
    for train, stacked in zip(trains, results):
        alone = cr.fit(config, X, Y, train, validation_data=validation_data)
        assert all(np.array_equal(a.W, b.W) and np.array_equal(a.b, b.b) and a.W.dtype == b.W.dtype
                   for a, b in zip(alone.params, stacked.params))
        for field in ("epoch", "cost", "data_cost", "l2_cost", "accuracy", "learning_rate", "val_cost",
                      "val_accuracy"):
            assert np.array_equal(getattr(alone.history, field), getattr(stacked.history, field), equal_nan=True), field
        assert (stacked.history.stop_reason, stacked.history.best_epoch, stacked.state.epoch) == (
            alone.history.stop_reason, alone.history.best_epoch, alone.state.epoch)
        for name in alone.state.opt_state._fields:
            if name != "t":
                assert all(np.array_equal(a, b) for p, q in zip(getattr(alone.state.opt_state, name),
                                                                getattr(stacked.state.opt_state, name))
                           for a, b in zip(p, q)), name


@pytest.mark.parametrize("optimizer, hyper", [
    ("momentum", [{"beta": 0.9}, {"beta": 0.5}, {"beta": None}]),
    ("rmsprop", [{"beta": 0.9, "epsilon": 1e-8}, {"beta": 0.99, "epsilon": 1e-3}, {"beta": 0.5, "epsilon": None}]),
    ("adam", [{"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4},
              {"beta1": None, "beta2": 0.9, "epsilon": 1e-6}])])
def test_a_stack_of_networks_with_their_own_betas_epsilons_and_keep_probs_trains_each_as_fit(optimizer, hyper):
    """Three networks that differ in β (or β1, β2), ε and keep_prob (one of them 1: no dropout),
    besides learning rate, λ and seed, trained in mini-batches with dropout: each ends as fit
    ends it alone, bit for bit (None: the optimizer's default, as in fit)."""
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 5, 3, 1], "relu", "sigmoid")
    base = cr.TrainConfig(optimizer=optimizer, num_epochs=8, mini_batch_size=64, divergence_factor=None)
    trains = [dataclasses.replace(base, learning_rate=rate, keep_prob=keep, lambd=l2, seed=seed, **h)
              for h, rate, keep, l2, seed in zip(hyper, (0.01, 0.003, 0.02), (0.8, 1.0, 0.6), (0.1, 0.0, 0.1),
                                                 (1, 2, 3))]
    _assert_fits(config, data.X, data.Y, trains, fit_stack(config, data.X, data.Y, trains))


@pytest.mark.parametrize("K", [1, 3])
def test_a_float32_stack_trains_each_network_as_fit_does_in_float32(K):
    """float32 data: the per-network numbers (α, β1, β2, ε, λ, keep_prob) are rounded to float32
    as NumPy rounds fit's Python numbers, so each network stays float32 and equals fit."""
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    X, Y = data.X.astype(np.float32), data.Y.astype(np.float32)
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    trains = [cr.TrainConfig(optimizer="adam", learning_rate=0.01 * (k + 1), beta1=0.9 - 0.1 * k, num_epochs=6,
                             mini_batch_size=100, keep_prob=1 - 0.1 * k, lambd=0.1 * k, seed=k, init="xavier")
              for k in range(K)]
    _assert_fits(config, X, Y, trains, fit_stack(config, X, Y, trains))


@pytest.mark.parametrize("batch, keep_prob, patience", [(None, 1.0, None), (64, 0.8, 3)],
                         ids=["full batch", "mini-batches, dropout, early stopping on validation data"])
def test_a_stack_of_one_is_fit(batch, keep_prob, patience):
    from chainrule.stacks import fit_stack
    data, valid = cr.datasets.moons(m=300, seed=1), cr.datasets.moons(m=100, seed=2)
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    train = cr.TrainConfig(optimizer="momentum", learning_rate=0.5, num_epochs=60, mini_batch_size=batch,
                           keep_prob=keep_prob, lambd=0.2, patience=patience, min_delta=1e-3, seed=5, init="xavier")
    validation = None if patience is None else (valid.X, valid.Y)
    results = fit_stack(config, data.X, data.Y, [train], validation_data=validation)
    _assert_fits(config, data.X, data.Y, [train], results, validation)


def test_networks_that_stop_leave_the_stack_and_the_others_are_unchanged():
    """In one stack, networks that diverge (in epoch 0 or 1, in the middle of an epoch: some of its
    mini-batches seen) and networks that stop early (epochs 15 and 17) leave it at different
    epochs; the rest go on as fit runs them alone, and a diverged one has fit's history up to
    the divergence (fit raises, with that history)."""
    from chainrule.stacks import fit_stack
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1], "relu", "identity")
    trains = [cr.TrainConfig(learning_rate=rate, num_epochs=40, mini_batch_size=50, patience=4, min_delta=1e-3,
                             seed=1, divergence_factor=10.0) for rate in (0.01, 0.1, 1.0, 1.5, 3.0)]
    stopped = []
    for train, stacked in zip(trains, fit_stack(config, data.X, data.Y, trains)):
        try:
            _assert_fits(config, data.X, data.Y, [train], [stacked])
        except cr.TrainingDiverged as alone:
            assert stacked.history.stop_reason == "diverged"
            assert np.array_equal(alone.history.cost, stacked.history.cost, equal_nan=True)
            assert np.array_equal(alone.history.data_cost, stacked.history.data_cost, equal_nan=True)
        stopped.append((stacked.history.stop_reason, len(stacked.history.cost)))
    assert stopped == [("completed", 40), ("early stopping", 17), ("early stopping", 15), ("diverged", 2),
                       ("diverged", 1)]
