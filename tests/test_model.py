"""ModelConfig, init_params, forward, compute_cost and backward: behaviour and bad input."""

import dataclasses

import numpy as np
import pytest

import chainrule as cr
from conftest import random_problem, rel_err

# --- ModelConfig ------------------------------------------------------------------------


def test_config_is_frozen_and_normalised():
    config = cr.ModelConfig([2, np.int64(4), 1], "tanh", "sigmoid")
    assert config.layer_dims == (2, 4, 1) and config.L == 2 and config.n_x == 2 and config.n_y == 1
    assert [config.activation(l) for l in (1, 2)] == ["tanh", "sigmoid"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.output = "identity"
    assert config == cr.ModelConfig((2, 4, 1), "tanh", "sigmoid")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(layer_dims=[3]), "at least two sizes"),
        (dict(layer_dims=[3, 0, 1]), "positive integers"),
        (dict(layer_dims=[3, -2, 1]), "positive integers"),
        (dict(layer_dims=[3, 2.5, 1]), "positive integers"),
        (dict(layer_dims=5), "list of layer sizes"),
        (dict(layer_dims=[3, 1], hidden_activation="swish"), "unknown activation 'swish'"),
        (dict(layer_dims=[3, 1], hidden_activation="softmax"), "output layers only"),
        (dict(layer_dims=[3, 1], output="hinge"), "unknown output 'hinge'"),
        (dict(layer_dims=[3, 1], output="softmax"), "n_y ≥ 2"),
    ],
)
def test_config_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cr.ModelConfig(**kwargs)


# --- init_params ------------------------------------------------------------------------


@pytest.mark.parametrize("scheme, factor", [("random", lambda n: 0.05), ("he", lambda n: np.sqrt(2 / n)),
                                            ("xavier", lambda n: np.sqrt(1 / n))])
def test_init_schemes_draw_in_order(scheme, factor):
    """W1, W2, … are standard-normal draws, in order, times the scheme's factor; b = 0."""
    config = cr.ModelConfig([3, 5, 4, 2])
    params = cr.init_params(config, np.random.RandomState(7), scheme, scale=0.05)
    reference = np.random.RandomState(7)
    for l, (W, b) in enumerate(params, start=1):
        n_l, n_prev = config.layer_dims[l], config.layer_dims[l - 1]
        np.testing.assert_array_equal(W, reference.standard_normal((n_l, n_prev)) * factor(n_prev))
        np.testing.assert_array_equal(b, np.zeros((n_l, 1)))


def test_init_rng_kinds_and_dtype():
    config = cr.ModelConfig([3, 4, 1])
    by_seed = cr.init_params(config, 5)
    by_generator = cr.init_params(config, np.random.default_rng(5))
    for p, q in zip(by_seed, by_generator):
        np.testing.assert_array_equal(p.W, q.W)
    assert all(np.all(p.W == 0) for p in cr.init_params(config, 0, "zeros"))
    assert all(p.W.dtype == np.float32 == p.b.dtype for p in cr.init_params(config, 0, dtype=np.float32))
    with pytest.raises(ValueError, match="rng must be"):
        cr.init_params(config, "seed")
    with pytest.raises(ValueError, match="scheme must be one of"):
        cr.init_params(config, 0, "glorot")


# --- forward, cost, backward --------------------------------------------------------------


def test_forward_shapes_and_caches(rng):
    config = cr.ModelConfig([3, 5, 4, 2], "relu", "softmax")
    params, X, Y = random_problem(config, 7, rng)
    AL, caches = cr.forward(params, X, config)
    assert AL.shape == (2, 7)
    np.testing.assert_allclose(AL.sum(axis=0), 1.0)
    for l, cache in enumerate(caches, start=1):
        assert cache.Z.shape == cache.A.shape == (config.layer_dims[l], 7)
        assert cache.A_prev is (X if l == 1 else caches[l - 2].A)
    assert caches[-1].A is AL


def test_cost_from_Z_is_exact_where_the_output_saturates():
    """One example with z = 50 and y = 0: L = log(1 + e^50) = 50 + log1p(e^−50)."""
    config = cr.ModelConfig([1, 1])
    AL, caches = cr.forward([(np.array([[50.0]]), np.zeros((1, 1)))], np.ones((1, 1)), config)
    assert AL[0, 0] == 1.0
    J = cr.compute_cost(AL, np.zeros((1, 1)), config, ZL=caches[-1].Z)
    assert J == pytest.approx(50.0 + np.log1p(np.exp(-50.0)), rel=1e-15)


@pytest.mark.parametrize("output", list(cr.OUTPUTS))
@pytest.mark.parametrize("convention", ["deferred", "absorbed"])
def test_unfused_chain_equals_fused_delta(output, convention, rng):
    """dA[L] from the loss, then g′, gives the same dZ[L] and gradients as A[L] − Y."""
    config = cr.ModelConfig([3, 4, 3], "tanh", output)
    params, X, Y = random_problem(config, 9, rng)
    AL, caches = cr.forward(params, X, config)
    fused = cr.backward_trace(AL, Y, caches, config, convention, fused=True)
    unfused = cr.backward_trace(AL, Y, caches, config, convention, fused=False)
    assert fused[-1].dA is None and unfused[-1].dA.shape == AL.shape
    for f, u in zip(fused, unfused):
        for name in ("dZ", "dW", "db", "dA_prev"):
            assert rel_err(getattr(f, name), getattr(u, name)) < 1e-12


def test_trace_links_the_layers(rng):
    """dA[l-1] of layer l is the dA of layer l-1, and dZ[l-1] = dA[l-1] ⊙ g′(Z[l-1])."""
    config = cr.ModelConfig([3, 5, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 6, rng)
    AL, caches = cr.forward(params, X, config)
    trace = cr.backward_trace(AL, Y, caches, config)
    for l in (2, 3):
        assert trace[l - 2].dA is trace[l - 1].dA_prev
        np.testing.assert_allclose(trace[l - 2].dZ, trace[l - 2].dA * (1 - caches[l - 2].A ** 2))
    assert trace[0].dA_prev.shape == X.shape
    grads = cr.backward(AL, Y, caches, config)
    for g, t in zip(grads, trace):
        np.testing.assert_array_equal(g.dW, t.dW)


def test_float32_end_to_end(rng):
    """float32 X keeps every array float32, and agrees with float64 to float32 precision."""
    config = cr.ModelConfig([3, 6, 4, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 16, rng)
    params32 = [cr.LayerParams(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    AL32, caches32 = cr.forward(params32, X.astype(np.float32), config)
    assert AL32.dtype == np.float32 and all(c.Z.dtype == np.float32 for c in caches32)
    grads32 = cr.backward(AL32, Y.astype(np.float32), caches32, config)
    AL, caches = cr.forward(params, X, config)
    grads = cr.backward(AL, Y, caches, config)
    for g32, g in zip(grads32, grads):
        assert g32.dW.dtype == np.float32 and g32.db.dtype == np.float32
        assert rel_err(g32.dW, g.dW) < 1e-5 and rel_err(g32.db, g.db) < 1e-5
    # float64 parameters with float32 data: the data's dtype wins
    AL_mixed, _ = cr.forward(params, X.astype(np.float32), config)
    assert AL_mixed.dtype == np.float32
    J = cr.compute_cost(AL32, Y, config, ZL=caches32[-1].Z)
    assert J == pytest.approx(cr.compute_cost(AL, Y, config), rel=1e-5)


# --- bad input ----------------------------------------------------------------------------


@pytest.fixture
def problem(rng):
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 5, rng)
    return config, params, X, Y


def test_examples_as_rows_is_named(problem):
    config, params, X, Y = problem
    with pytest.raises(ValueError, match=r"X must have shape \(n_x, m\) = \(2, m\).*got shape \(5, 2\).*pass X\.T"):
        cr.forward(params, X.T, config)
    AL, caches = cr.forward(params, X, config)
    with pytest.raises(ValueError, match=r"Y must have shape \(n_y, m\) = \(1, 5\); got shape \(5, 1\).*pass Y\.T"):
        cr.backward(AL, Y.T, caches, config)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_named(problem, bad):
    config, params, X, Y = problem
    Xb = X.copy()
    Xb[1, 3] = bad
    with pytest.raises(ValueError, match="X must be finite; it has 1 NaN or infinite value.*row 1, column 3"):
        cr.forward(params, Xb, config)
    Yb = Y.copy()
    Yb[0, 0] = bad
    with pytest.raises(ValueError, match="Y must be finite"):
        cr.compute_cost(cr.forward(params, X, config)[0], Yb, config)


def test_labels_outside_the_outputs_range(problem, rng):
    config, params, X, Y = problem
    AL, caches = cr.forward(params, X, config)
    Y2 = Y.copy()
    Y2[0, 2] = 2
    with pytest.raises(ValueError, match=r"labels in \[0, 1\] for a sigmoid output.*found 2"):
        cr.backward(AL, Y2, caches, config)
    soft = cr.ModelConfig([2, 3], "relu", "softmax")
    sp, sX, sY = random_problem(soft, 4, rng)
    AL, caches = cr.forward(sp, sX, soft)
    with pytest.raises(ValueError, match="one-hot encode the class labels into 3 rows"):
        cr.backward(AL, np.array([[0, 2, 1, 1]]), caches, soft)
    with pytest.raises(ValueError, match="Y must be one-hot for a softmax output"):
        cr.compute_cost(AL, 2 * sY, soft)


def test_params_that_do_not_match_the_config(problem):
    config, params, X, Y = problem
    with pytest.raises(ValueError, match=r"params must hold 2 layers"):
        cr.forward(params[:1], X, config)
    with pytest.raises(ValueError, match=r"W2 must have shape \(n_2, n_1\) = \(1, 3\).*got \(3, 1\)"):
        cr.forward([params[0], (params[1].W.T, params[1].b)], X, config)
    with pytest.raises(ValueError, match=r"b1 must have shape \(n_1, 1\) = \(3, 1\).*got \(1, 3\)"):
        cr.forward([(params[0].W, params[0].b.T), params[1]], X, config)
    with pytest.raises(ValueError, match=r"params\[1\] must be a pair"):
        cr.forward([params[0], params[1].W], X, config)


def test_other_bad_arguments(problem):
    config, params, X, Y = problem
    AL, caches = cr.forward(params, X, config)
    with pytest.raises(ValueError, match="convention must be 'deferred'.*or 'absorbed'.*got 'mean'"):
        cr.backward(AL, Y, caches, config, convention="mean")
    with pytest.raises(ValueError, match="caches must be the list of 2 layer caches"):
        cr.backward(AL, Y, caches[:1], config)
    with pytest.raises(ValueError, match="X must be 2-D.*1-D array of shape \\(4,\\)"):
        cr.forward(params, np.ones(4), config)
    with pytest.raises(ValueError, match="X must be a 2-D numeric array"):
        cr.forward(params, np.array([["a", "b"], ["c", "d"]]), config)
    with pytest.raises(ValueError, match="at least one example"):
        cr.forward(params, np.ones((2, 0)), config)


def test_backward_refuses_an_AL_or_caches_of_another_forward(problem, rng):
    """A mismatched AL would silently give the gradients of no function at all."""
    config, params, X, Y = problem
    AL, caches = cr.forward(params, X, config)
    other, _ = cr.forward(params, X[:, ::-1].copy(), config)
    with pytest.raises(ValueError, match="AL must be the A\\[L\\] that forward returned"):
        cr.backward(other, Y, caches, config)
    relu = cr.ModelConfig([2, 3, 1], "relu", "sigmoid")
    with pytest.raises(ValueError, match=r"g\[1\] = tanh, but the config says relu"):
        cr.backward(AL, Y, caches, relu)
    with pytest.raises(ValueError, match=r"caches\[0\] does not belong to this network and batch"):
        cr.backward(AL, Y, [caches[0]._replace(Z=caches[0].Z[:, :2])] + caches[1:], config)
    with pytest.raises(ValueError, match="config must be a chainrule.ModelConfig"):
        cr.backward(AL, Y, caches, {"layer_dims": [2, 3, 1]})


def test_AL_outside_the_outputs_range(problem, rng):
    config, params, X, Y = problem
    with pytest.raises(ValueError, match=r"AL must hold probabilities in \[0, 1\] for a sigmoid output; found 1.5"):
        cr.compute_cost(np.full((1, 5), 1.5), Y, config)
    with pytest.raises(ValueError, match=r"AL must have shape \(n_y, m\) = \(1, m\); got shape \(5, 1\)"):
        cr.compute_cost(np.full((5, 1), 0.5), Y.T, config)
    soft = cr.ModelConfig([2, 3], "relu", "softmax")
    with pytest.raises(ValueError, match="columns that sum to 1"):
        cr.compute_cost(np.full((3, 4), 0.5), np.eye(3)[:, [0, 1, 2, 0]], soft)


def test_unfused_chain_refuses_a_saturated_output():
    """σ(40) rounds to 1.0, so ∂L/∂A = −(y/a − (1 − y)/(1 − a)) divides by zero for y = 0."""
    config = cr.ModelConfig([1, 1])
    AL, caches = cr.forward([(np.array([[40.0]]), np.zeros((1, 1)))], np.ones((1, 1)), config)
    with pytest.raises(ValueError, match="saturated at 0 or 1; use the fused delta"):
        cr.backward_trace(AL, np.zeros((1, 1)), caches, config, fused=False)
    grads = cr.backward(AL, np.zeros((1, 1)), caches, config)   # fused: A − Y = 1, exact
    np.testing.assert_array_equal(grads[0].dW, [[1.0]])


def test_linear_backward_knows_only_two_conventions(rng):
    with pytest.raises(ValueError, match="convention must be 'deferred'.*got 'absorbd'"):
        cr.linear_backward(np.ones((1, 2)), (np.ones((3, 2)), np.ones((1, 3)), np.ones((1, 1))), "absorbd")


def test_init_and_seed_errors():
    config = cr.ModelConfig([2, 1])
    with pytest.raises(ValueError, match="non-negative integer; got -1"):
        cr.init_params(config, -1)
    for scale in ("big", float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale must be a finite number"):
            cr.init_params(config, 0, "random", scale=scale)
    with pytest.raises(ValueError, match="config must be a chainrule.ModelConfig"):
        cr.init_params([2, 1], 0)
    with pytest.raises(ValueError, match=r"scale 1e\+308 makes W\[1\] overflow float64"):
        cr.init_params(cr.ModelConfig([50, 1]), 0, "random", scale=1e308)   # some |N(0, 1)| of 50 > 1.8
    with pytest.raises(ValueError, match=r"scale 1e\+39 makes W\[1\] overflow float32"):
        cr.init_params(cr.ModelConfig([50, 1]), 0, "random", scale=1e39, dtype=np.float32)


def test_parameter_hints_are_for_parameters(problem):
    config, params, X, Y = problem
    with pytest.raises(ValueError, match=r"b1 must be 2-D; got a 1-D array of shape \(3,\) \(use .reshape\(-1, 1\)"):
        cr.forward([(params[0].W, params[0].b.ravel()), params[1]], X, config)


def test_other_dtypes_follow_the_documented_rule(problem):
    """float16 data computes in float32, integers and booleans in float64."""
    config, params, X, Y = problem
    assert cr.forward(params, X.astype(np.float16), config)[0].dtype == np.float32
    assert cr.forward(params, (X > 0), config)[0].dtype == np.float64
    assert cr.forward(params, np.round(X).astype(int), config)[0].dtype == np.float64


# --- prediction -----------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_predictions_for_every_output(output, rng):
    """The network written out in NumPy here (tanh hidden layer, then the output's g), and each
    output's rule: sigmoid 1 where A > 0.5, softmax the arg-max class, identity the values."""
    config = cr.ModelConfig([3, 4, 3 if output == "softmax" else 2], "tanh", output)
    params, X, Y = random_problem(config, 9, rng)
    (W1, b1), (W2, b2) = params
    Z2 = W2 @ np.tanh(W1 @ X + b1) + b2
    if output == "sigmoid":
        A2 = 1 / (1 + np.exp(-Z2))
        np.testing.assert_array_equal(cr.predict(params, X, config), (A2 > 0.5).astype(int))
        assert cr.accuracy(params, X, Y, config) == np.mean((A2 > 0.5) == (Y > 0.5))
    elif output == "softmax":
        A2 = np.exp(Z2) / np.exp(Z2).sum(axis=0)
        np.testing.assert_array_equal(cr.predict(params, X, config), [A2.argmax(axis=0)])
        assert cr.accuracy(params, X, Y, config) == np.mean(A2.argmax(axis=0) == Y.argmax(axis=0))
    else:
        np.testing.assert_allclose(cr.predict(params, X, config), Z2, rtol=1e-14)
        with pytest.raises(ValueError, match="accuracy is for classification outputs"):
            cr.accuracy(params, X, Y, config)
        with pytest.raises(ValueError, match="values, not probabilities"):
            cr.predict_proba(params, X, config)
        return
    np.testing.assert_allclose(cr.predict_proba(params, X, config), A2, rtol=1e-14)
