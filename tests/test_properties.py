"""Properties of the cost J = (1/m) Σ_i L⁽ⁱ⁾ and its gradients, over random networks.

Each test draws an architecture (1 … 4 layers, sizes 1 … 6), a hidden activation, an output
layer, a batch size m (1 … 20) and a seed for the data, and checks a fact that follows from
the definitions alone: J and ∂J/∂θ are means over examples, the two conventions differ only
in where the 1/m is applied, and gradients have their parameter's shape.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.testing import double_one_over_m, random_labels, random_problem

SETTINGS = settings(max_examples=40, deadline=None)
RTOL = 1e-12


@st.composite
def problems(draw, dtypes=(np.float64,), stacks=False):
    """(config, params, X, Y) with labels valid for the output and non-zero biases.

    With ``stacks``, params are a stack of K = 1 … 4 networks of the drawn shape (each W[l]
    (K, n_l, n_{l-1})), and X, Y are shared by them or one per network ((K, n, m))."""
    L = draw(st.integers(1, 4), label="L")
    dims = draw(st.lists(st.integers(1, 6), min_size=L + 1, max_size=L + 1), label="layer_dims")
    hidden = draw(st.sampled_from(cr.HIDDEN_ACTIVATIONS), label="hidden_activation")
    output = draw(st.sampled_from(list(cr.OUTPUTS)), label="output")
    if output == "softmax" and dims[-1] < 2:
        dims[-1] = draw(st.integers(2, 6), label="n_y")
    m = draw(st.integers(1, 20), label="m")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    dtype = draw(st.sampled_from(dtypes), label="dtype")

    config = cr.ModelConfig(dims, hidden_activation=hidden, output=output)
    rng = np.random.default_rng(seed)
    scheme = draw(st.sampled_from(["he", "xavier"]))
    K = draw(st.integers(1, 4), label="K") if stacks else 1
    shared = draw(st.booleans(), label="shared data") if stacks else True
    networks = [[p._replace(b=0.2 * rng.standard_normal(p.b.shape)) for p in cr.init_params(config, rng, scheme)]
                for _ in range(K)]
    data = [(rng.standard_normal((config.n_x, m)), random_labels(output, config.n_y, m, rng))
            for _ in range(1 if shared else K)]
    X, Y = data[0] if shared else (np.stack([x for x, _ in data]), np.stack([y for _, y in data]))
    params = networks[0] if not stacks else [
        cr.LayerParams(np.stack([n[l].W for n in networks]), np.stack([n[l].b for n in networks]))
        for l in range(config.L)]
    return config, params, X.astype(dtype), Y.astype(dtype)


def cost_and_grads(params, X, Y, config, convention="deferred"):
    AL, caches = cr.forward(params, X, config)
    J = cr.compute_cost(AL, Y, config, ZL=caches[-1].Z)
    return J, cr.backward(AL, Y, caches, config, convention)


def assert_close(actual, expected, what, rtol=RTOL):
    """Element-wise rtol, with an absolute floor of rtol times the array's largest entry.

    The floor admits rounding in entries that are sums with cancellation (their error is
    relative to the size of the terms, not of the small result) while staying far below any
    real difference: a misplaced 1/m or a wrong example would change the large entries too.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(np.max(np.abs(actual), initial=0.0), np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_grads_close(grads, expected, label, rtol=RTOL):
    assert len(grads) == len(expected)
    for l, ((dW, db), (dW_e, db_e)) in enumerate(zip(grads, expected), start=1):
        assert_close(dW, dW_e, f"{label}: dW{l}", rtol)
        assert_close(db, db_e, f"{label}: db{l}", rtol)


@SETTINGS
@given(problems())
def test_duplicating_every_example_changes_neither_cost_nor_gradients(problem):
    """Doubling the batch (every column twice) leaves J, dW and db unchanged.

    J = (1/m) Σ_i L⁽ⁱ⁾ is a mean: with every example twice, the sum doubles and so does m,
    (1/2m)·2 Σ_i L⁽ⁱ⁾ = J. The same holds for ∂J/∂W[l] = (1/m) Σ_i ∂L⁽ⁱ⁾/∂W[l] and for
    ∂J/∂b[l]. A gradient that summed instead of averaging (a forgotten 1/m) would double;
    one that averaged twice (1/m²) would halve. Without L2 nothing else depends on m.
    """
    config, params, X, Y = problem
    J, grads = cost_and_grads(params, X, Y, config)
    X2, Y2 = np.concatenate([X, X], axis=1), np.concatenate([Y, Y], axis=1)
    for convention in ("deferred", "absorbed"):
        J2, grads2 = cost_and_grads(params, X2, Y2, config, convention)
        assert_close(J2, J, f"{convention}: J")
        assert_grads_close(grads2, grads, convention)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_examples_changes_neither_cost_nor_gradients(problem, random):
    """Reordering the columns of (X, Y) together leaves J, dW and db unchanged.

    Examples enter J only through the sum Σ_i L⁽ⁱ⁾, and each parameter gradient only through
    Σ_i ∂L⁽ⁱ⁾/∂θ (as dZ A_prevᵀ and Σ_i dZ⁽ⁱ⁾ in matrix form); a sum does not depend on the
    order of its terms, so only rounding may change.
    """
    config, params, X, Y = problem
    m = X.shape[1]
    perm = list(range(m))
    random.shuffle(perm)
    J, grads = cost_and_grads(params, X, Y, config)
    for convention in ("deferred", "absorbed"):
        J_p, grads_p = cost_and_grads(params, X[:, perm], Y[:, perm], config, convention)
        assert_close(J_p, J, f"{convention}: J")
        assert_grads_close(grads_p, grads, convention)


@SETTINGS
@given(problems(dtypes=(np.float64, np.float32)))
def test_gradients_have_the_shape_of_their_parameters_and_the_dtype_of_X(problem):
    """dW[l], db[l] have the shapes of W[l], b[l]; dZ[l], dA[l] have one column per example.

    ∂J/∂W[l] is a derivative of a scalar with respect to W[l], so it has W[l]'s shape
    (n_l, n_{l-1}), and ∂J/∂b[l] has b[l]'s (n_l, 1): the m axis is summed out. dZ[l] and
    dA[l] are derivatives with respect to Z[l] and A[l], which are (n_l, m). Everything runs
    in X's dtype (float32 stays float32), so the gradients come back in it too.
    """
    config, params, X, Y = problem
    m = X.shape[1]
    AL, caches = cr.forward(params, X, config)
    for convention in ("deferred", "absorbed"):
        grads = cr.backward(AL, Y, caches, config, convention)
        assert len(grads) == config.L
        for (W, b), (dW, db) in zip(params, grads):
            assert dW.shape == W.shape and db.shape == b.shape
            assert dW.dtype == X.dtype and db.dtype == X.dtype
        trace = cr.backward_trace(AL, Y, caches, config, convention)
        assert len(trace) == config.L
        for l, t in enumerate(trace, start=1):
            n_l, n_prev = config.layer_dims[l], config.layer_dims[l - 1]
            assert t.dZ.shape == (n_l, m) and t.dZ.dtype == X.dtype
            assert t.dA_prev.shape == (n_prev, m) and t.dA_prev.dtype == X.dtype
            if t.dA is not None:
                assert t.dA.shape == (n_l, m)
            assert t.dW.shape == (n_l, n_prev) and t.db.shape == (n_l, 1)
        assert trace[-1].dA is None  # the fused output delta never forms dA[L]
    per_example = cr.backward_per_example(params, X, Y, config)
    for (W, b), (dW, db) in zip(params, per_example):
        assert dW.shape == W.shape and db.shape == b.shape
        assert dW.dtype == X.dtype and db.dtype == X.dtype


@SETTINGS
@given(problems())
def test_deferred_absorbed_and_per_example_gradients_agree(problem):
    """The deferred, absorbed and one-example-at-a-time gradients are the same numbers.

    Deferred: dW[l] = (1/m) dZ[l] A[l-1]ᵀ with dZ per example. Absorbed: dZ[L] already holds
    the 1/m, and every later step (W[l]ᵀ dZ, ⊙ g′(Z), dZ A_prevᵀ, Σ_i) is linear in dZ, so the
    1/m passes through unchanged and dW[l] = dZ[l] A[l-1]ᵀ is the same product. Per example:
    J = (1/m) Σ_i L⁽ⁱ⁾, so ∂J/∂W[l] is the mean of the m gradients of the single-example
    losses, which is what the column sum dZ A_prevᵀ / m adds up. All three equal ∂J/∂θ.
    """
    config, params, X, Y = problem
    AL, caches = cr.forward(params, X, config)
    deferred = cr.backward(AL, Y, caches, config, "deferred")
    absorbed = cr.backward(AL, Y, caches, config, "absorbed")
    per_example = cr.backward_per_example(params, X, Y, config)
    assert_grads_close(absorbed, deferred, "absorbed vs deferred")
    assert_grads_close(per_example, deferred, "per-example vs deferred")
    assert_grads_close(per_example, absorbed, "per-example vs absorbed")


@SETTINGS
@given(problems())
def test_absorbed_dZ_is_deferred_dZ_divided_by_m(problem):
    """In the trace, absorbed dZ[l] = deferred dZ[l] / m for every layer l (and so dA[l-1]).

    Deferred dZ[l] holds ∂L⁽ⁱ⁾/∂Z[l]⁽ⁱ⁾ in column i; absorbed dZ[l] holds ∂J/∂Z[l], and since
    J = (1/m) Σ_i L⁽ⁱ⁾ and column i of Z[l] affects only L⁽ⁱ⁾, ∂J/∂Z[l]⁽ⁱ⁾ = (1/m) ∂L⁽ⁱ⁾/∂Z[l]⁽ⁱ⁾.
    The backward steps are linear in dZ, so the factor 1/m set at dZ[L] reaches every layer
    unchanged: the 1/m moved into dZ, once, and not applied again in dW or db.
    """
    config, params, X, Y = problem
    m = X.shape[1]
    AL, caches = cr.forward(params, X, config)
    deferred = cr.backward_trace(AL, Y, caches, config, "deferred")
    absorbed = cr.backward_trace(AL, Y, caches, config, "absorbed")
    for l, (d, a) in enumerate(zip(deferred, absorbed), start=1):
        assert_close(a.dZ, d.dZ / m, f"dZ{l}")
        assert_close(a.dA_prev, d.dA_prev / m, f"dA{l - 1}")
        assert (a.dA is None) == (d.dA is None)
        if d.dA is not None:
            assert_close(a.dA, d.dA / m, f"dA{l}")
        assert_close(a.dW, d.dW, f"dW{l}")
        assert_close(a.db, d.db, f"db{l}")


def test_the_properties_see_a_doubled_one_over_m():
    """The duplication property is not vacuous: a backward that averages twice (1/m²) breaks it.

    With dW = (1/m²) Σ_i dZ⁽ⁱ⁾ A_prev⁽ⁱ⁾ᵀ, doubling the batch doubles the sum and quadruples
    m², so the gradient halves: the property must see that.
    """
    config = cr.ModelConfig([3, 4, 2], hidden_activation="tanh", output="sigmoid")
    params, X, Y = random_problem(config, 5, np.random.default_rng(7))
    buggy = double_one_over_m()

    def buggy_grads(X, Y):
        AL, caches = cr.forward(params, X, config)
        return buggy(AL, Y, caches, config)

    once, twice = buggy_grads(X, Y), buggy_grads(np.concatenate([X, X], 1), np.concatenate([Y, Y], 1))
    with pytest.raises(AssertionError):
        assert_grads_close(twice, once, "1/m applied twice")
    assert_grads_close(twice, [cr.LayerGrads(g.dW / 2, g.db / 2) for g in once], "halved")
