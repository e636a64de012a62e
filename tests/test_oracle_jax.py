"""An independent oracle: JAX autodiff in float64 against chainrule's backward.

The cost J of the network is written again here from the equations alone,

    Z[l] = W[l] A[l-1] + b[l],   A[l] = g[l](Z[l]),   A[0] = X,
    J = (1/m) Σ_i L(Z[L]⁽ⁱ⁾, Y⁽ⁱ⁾),

with the activations in jax.numpy / jax.nn and each loss written from Z[L] in its stable
form (log-sigmoid, log-softmax). Nothing of chainrule's activations or losses is used, so
the two computations share only the equations. ``jax.grad`` of that J with respect to every
W[l] and b[l] is the reference for ``chainrule.backward`` under both conventions.

Networks are random: L = 1 … 5 layers, sizes 1 … 8 (n_y ≥ 2 for softmax), m = 1 … 64, every
hidden activation crossed with every output. Biases are random and non-zero so that no Z
lands exactly on the kink of relu or leaky relu, where the two sides could pick different
one-sided derivatives.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr
from conftest import rel_err

jax.config.update("jax_enable_x64", True)  # before any jax array is made

GRAD_RTOL = 1e-10
COST_RTOL = 1e-12
SEEDS = range(5)  # with 15 combinations: 75 networks, each depth L = 1 … 5 once per combination

HIDDEN = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": lambda Z: jnp.where(Z > 0, Z, 0.0),
    "leaky_relu": lambda Z: jnp.where(Z > 0, Z, 0.01 * Z),
    "identity": lambda Z: Z,
}


def _loss_sigmoid(ZL, Y):
    """Binary cross-entropy per example, summed over output rows: −Σ_k [y log σ(z) + (1 − y) log σ(−z)]."""
    return -jnp.sum(Y * jax.nn.log_sigmoid(ZL) + (1.0 - Y) * jax.nn.log_sigmoid(-ZL), axis=0)


def _loss_softmax(ZL, Y):
    """Categorical cross-entropy per example: −Σ_k y_k log softmax(z)_k."""
    return -jnp.sum(Y * jax.nn.log_softmax(ZL, axis=0), axis=0)


def _loss_identity(ZL, Y):
    """Squared error per example: ½ Σ_k (z_k − y_k)²."""
    return 0.5 * jnp.sum((ZL - Y) ** 2, axis=0)


LOSSES = {"sigmoid": _loss_sigmoid, "softmax": _loss_softmax, "identity": _loss_identity}

COMBOS = list(itertools.product(HIDDEN, LOSSES))


def jax_cost(params, probes, X, Y, hidden, output):
    """J = (1/m) Σ_i L⁽ⁱ⁾ for params = [(W1, b1), …, (WL, bL)], written with jax.numpy only.

    ``probes[l-1] = (PZ, PA)`` are zeros added to Z[l] and A[l] (l < L): the gradient of J
    with respect to them is ∂J/∂Z[l] and ∂J/∂A[l], the intermediate derivatives that
    backward's dZ and dA must equal (absorbed) or equal m times (deferred).
    """
    g = HIDDEN[hidden]
    A = X
    L = len(params)
    for l, ((W, b), (PZ, PA)) in enumerate(zip(params, probes), start=1):
        Z = W @ A + b + PZ
        if l < L:
            A = g(Z) + PA
    return jnp.mean(LOSSES[output](Z, Y))


def make_network(hidden, output, seed):
    """A random (config, params, X, Y) for one hidden activation × output pair.

    The depth cycles with the seed (L = seed % 5 + 1) so that every pair meets every depth;
    sizes, m, the init scheme, the biases and the data come from the seed.
    """
    rng = np.random.default_rng([seed, COMBOS.index((hidden, output))])
    L = seed % 5 + 1
    dims = [int(n) for n in rng.integers(1, 9, size=L + 1)]
    if output == "softmax":
        dims[-1] = int(rng.integers(2, 9))
    m = 1 if seed == 4 else int(rng.integers(1, 65))  # m = 1: one example, where 1/m is 1
    config = cr.ModelConfig(dims, hidden_activation=hidden, output=output)
    scheme = "he" if seed % 2 == 0 else "xavier"
    params = [p._replace(b=0.2 * rng.standard_normal(p.b.shape))
              for p in cr.init_params(config, rng, scheme)]
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) < 0.5).astype(np.float64)
    else:
        Y = rng.standard_normal((dims[-1], m))
    return config, params, X, Y


# The graphs are tiny and every network has its own shapes, so XLA's compile time is
# nearly all the cost; compiling the five networks of a pair together without the
# expensive optimisation passes keeps the file fast. The arithmetic is the same.
_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _value_and_grads(args, pair):
    hidden, output = pair
    return [jax.value_and_grad(jax_cost, argnums=(0, 1))(p, probes, X, Y, hidden, output)
            for p, probes, X, Y in args]


@functools.cache
def oracle(hidden, output):
    """{seed: (network, J, [(∂J/∂W[l], ∂J/∂b[l])], [(∂J/∂Z[l], ∂J/∂A[l])])} from JAX, in NumPy float64."""
    nets = {seed: make_network(hidden, output, seed) for seed in SEEDS}
    args = [([(jnp.asarray(W), jnp.asarray(b)) for W, b in params],
             [(jnp.zeros((W.shape[0], X.shape[1])),) * 2 for W, _ in params],
             jnp.asarray(X), jnp.asarray(Y))
            for _, params, X, Y in nets.values()]
    lowered = jax.jit(_value_and_grads, static_argnums=1).lower(args, (hidden, output))
    try:
        compiled = lowered.compile(compiler_options=_COMPILER_OPTIONS)
    except Exception:  # a JAX that does not know these options: compile as usual
        compiled = lowered.compile()
    results = compiled(args)
    return {
        seed: (net, float(J), [(np.asarray(dW), np.asarray(db)) for dW, db in grads],
               [(np.asarray(dZ), np.asarray(dA)) for dZ, dA in probe_grads])
        for (seed, net), (J, (grads, probe_grads)) in zip(nets.items(), results)
    }


def test_oracle_is_float64():
    """The reference must run in float64, or a 1e-10 comparison would measure float32 rounding."""
    assert jnp.zeros(1).dtype == jnp.float64
    _, J, grads, _ = oracle("tanh", "identity")[0]
    assert all(dW.dtype == np.float64 and db.dtype == np.float64 for dW, db in grads)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("hidden,output", COMBOS, ids=[f"{h}-{o}" for h, o in COMBOS])
def test_backward_matches_jax_grad(hidden, output, seed):
    """dW[l], db[l] from backward, under both conventions, equal ∂J/∂W[l], ∂J/∂b[l] from jax.grad.

    Both conventions differentiate the same J = (1/m) Σ_i L⁽ⁱ⁾; they differ only in where the
    1/m is applied, so each must agree with autodiff of J to rounding (≤ 1e-10 relative). A
    1/m applied twice or forgotten would be off by a factor of m (m ≥ 2 in most cases here),
    and a wrong g′ or a transposed product by far more than rounding. The cost computed from
    Z[L] must equal the oracle's J to 1e-12: it is a sum of non-negative per-example losses,
    so there is no cancellation to excuse a larger error.
    """
    (config, params, X, Y), J_ref, grads_ref, _ = oracle(hidden, output)[seed]

    AL, caches = cr.forward(params, X, config)
    J = cr.compute_cost(AL, Y, config, ZL=caches[-1].Z)
    assert rel_err(J, J_ref) <= COST_RTOL, (J, J_ref)

    for convention in ("deferred", "absorbed"):
        grads = cr.backward(AL, Y, caches, config, convention)
        assert len(grads) == config.L
        for l, ((dW, db), (dW_ref, db_ref)) in enumerate(zip(grads, grads_ref), start=1):
            assert dW.shape == dW_ref.shape and db.shape == db_ref.shape
            err_W, err_b = rel_err(dW, dW_ref), rel_err(db, db_ref)
            assert err_W <= GRAD_RTOL, f"{convention}: dW{l} relative error {err_W:.2e}"
            assert err_b <= GRAD_RTOL, f"{convention}: db{l} relative error {err_b:.2e}"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("hidden,output", COMBOS, ids=[f"{h}-{o}" for h, o in COMBOS])
def test_dZ_and_dA_are_the_derivatives_the_docstrings_say(hidden, output, seed):
    """Absorbed dZ[l], dA[l] are ∂J/∂Z[l], ∂J/∂A[l]; deferred ones are m times that, i.e. column i
    is ∂L⁽ⁱ⁾/∂Z[l]⁽ⁱ⁾ (since J = (1/m) Σ_i L⁽ⁱ⁾ and Z[l]⁽ⁱ⁾ enters only L⁽ⁱ⁾). Checked for the
    fused and the unfused output step; dA[L] exists only in the unfused one."""
    (config, params, X, Y), _, _, probes_ref = oracle(hidden, output)[seed]
    m = X.shape[1]
    AL, caches = cr.forward(params, X, config)
    for fused in (True, False):
        for convention, factor in (("absorbed", 1.0), ("deferred", m)):
            trace = cr.backward_trace(AL, Y, caches, config, convention, fused=fused)
            for l, (t, (dZ_ref, dA_ref)) in enumerate(zip(trace, probes_ref), start=1):
                err = rel_err(t.dZ, factor * dZ_ref)
                assert err <= GRAD_RTOL, f"{convention}, fused={fused}: dZ{l} relative error {err:.2e}"
                if l < config.L:
                    err = rel_err(trace[l].dA_prev, factor * dA_ref)
                    assert err <= GRAD_RTOL, f"{convention}: dA{l} relative error {err:.2e}"
                    assert t.dA is trace[l].dA_prev


def test_oracle_covers_every_pair_and_depth():
    """The parametrisation really crosses every hidden activation with every output, at every depth."""
    assert {h for h, _ in COMBOS} == set(cr.HIDDEN_ACTIVATIONS)
    assert {o for _, o in COMBOS} == set(cr.OUTPUTS)
    depths = {(h, o): set() for h, o in COMBOS}
    for (h, o), seed in itertools.product(COMBOS, SEEDS):
        depths[(h, o)].add(make_network(h, o, seed)[0].L)
    assert all(d == {1, 2, 3, 4, 5} for d in depths.values())


def test_oracle_detects_a_doubled_one_over_m():
    """The comparison is sharp enough to see the classic bug: dW divided by m twice.

    Applying an extra 1/m to chainrule's deferred dW must push the error far above the
    tolerance; otherwise agreement with the oracle would prove nothing about the 1/m.
    """
    (config, params, X, Y), _, grads_ref, _ = oracle("tanh", "sigmoid")[1]
    m = X.shape[1]
    assert m >= 2  # the seed was chosen so that a doubled 1/m changes the numbers
    AL, caches = cr.forward(params, X, config)
    grads = cr.backward(AL, Y, caches, config, "deferred")
    assert rel_err(grads[0].dW, grads_ref[0][0]) <= GRAD_RTOL
    assert rel_err(grads[0].dW / m, grads_ref[0][0]) > 1e-2
