"""Many small networks at once: K planar 2-4-1 networks trained by chainrule one after another
(``fit``), as one stack (``fit_stack``), and by JAX (``jax.vmap`` of a ``jax.jit``-compiled whole
training loop, ``lax.fori_loop``), the same work in the same run. Not a test: it asserts nothing
about time, and prints µs per network-epoch (CPU and wall) and the ratios to the sequential run.

    python benchmarks/stacks.py                 # K = 1, 8, 64; 1 000 epochs; 3 repeats taking turns
    python benchmarks/stacks.py --quick         # K = 8; 200 epochs; 1 repeat
    python benchmarks/stacks.py --mnist         # also a 784-128-10 stack, where BLAS does the work

Every implementation starts from the same initial weights (chainrule's, seed k for network k).
fit_stack must equal the sequential fits bit for bit, and JAX must agree to 1e-9: the script
exits with status 1 when one does not.

The last column, "ufunc floor", is what NumPy's transcendental element-wise functions alone take
per network-epoch on the stack's arrays (np.tanh of Z[1] (K, 4, m), np.exp of the sigmoid and
np.logaddexp of the loss on Z[2] (K, 1, m)): fit_stack must call them, with these operands, to
equal fit bit for bit, so no version of it that does can be faster than that.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import chainrule as cr


def _timed(function, *args):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _one_by_one(config, X, Y, trains):
    return [cr.fit(config, X, Y, t) for t in trains]


def _floor(K, m, repeats=5):
    """CPU µs per network-epoch of the transcendental ufuncs of one stacked epoch."""
    rng = np.random.default_rng(0)
    Z1, Z2 = rng.standard_normal((K, 4, m)), rng.standard_normal((K, 1, m))
    A1, A2 = np.empty_like(Z1), np.empty_like(Z2)
    best = np.inf
    for _ in range(repeats):
        cpu = time.process_time()
        for _ in range(20):
            np.tanh(Z1, A1)
            np.exp(Z2, A2)
            np.logaddexp(0.0, Z2, A2)
        best = min(best, (time.process_time() - cpu) / 20)
    return best / K * 1e6


def _jax_run(trainer, stacked):
    return [np.asarray(w) for layer in trainer(stacked) for w in layer]


def _jax_trainer(config, X, Y, learning_rate, epochs):
    """A jitted vmap over networks of a fori_loop over epochs of full-batch gradient descent."""
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def cost(params):
        A = Xj
        for l, (W, b) in enumerate(params, start=1):
            Z = W @ A + b
            A = jnp.tanh(Z) if l < len(params) else Z
        return jnp.mean(jnp.sum(jnp.logaddexp(0.0, A) - A * Yj, axis=0))

    def train(params):
        step = jax.grad(cost)
        return jax.lax.fori_loop(0, epochs, lambda _, p: jax.tree_util.tree_map(
            lambda w, g: w - learning_rate * g, p, step(p)), params)

    return jax.jit(jax.vmap(train))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mnist", action="store_true")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args(argv)
    sizes, epochs, repeats = ((8,), 200, 1) if args.quick else ((1, 8, 64), 1000, 3)
    repeats = args.repeats or repeats
    data = cr.datasets.planar_flower()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    ok = True
    print(f"planar 2-4-1, {epochs} full-batch epochs of gradient descent, lr 1.2; µs per network-epoch "
          f"(CPU / wall), the best of {repeats} taking turns")
    print(f"{'K':>4}  {'fit, one by one':>18}  {'fit_stack':>18}  {'jax vmap+jit':>18}  {'stack ×':>8}  "
          f"{'jax ×':>7}  {'jax compile s':>13}  {'ufunc floor':>11}")
    for K in sizes:
        trains = [cr.TrainConfig(learning_rate=1.2, num_epochs=epochs, seed=k, init="xavier",
                                 divergence_factor=None) for k in range(K)]
        starts = [cr.training.init_state(config, t).params for t in trains]
        trainer = _jax_trainer(config, data.X, data.Y, 1.2, epochs)
        stacked = [(np.stack([s[l].W for s in starts]), np.stack([s[l].b for s in starts])) for l in range(config.L)]
        _, _, compile_wall = _timed(_jax_run, trainer, stacked)
        best = {"fit": (np.inf, np.inf), "stack": (np.inf, np.inf), "jax": (np.inf, np.inf)}
        for _ in range(repeats):                                  # taking turns
            alone, cpu, wall = _timed(_one_by_one, config, data.X, data.Y, trains)
            best["fit"] = min(best["fit"], (cpu, wall))
            together, cpu, wall = _timed(cr.fit_stack, config, data.X, data.Y, trains)
            best["stack"] = min(best["stack"], (cpu, wall))
            result, cpu, wall = _timed(_jax_run, trainer, stacked)
            best["jax"] = min(best["jax"], (cpu, wall))
        same = all(np.array_equal(a.W, b.W) for x, y in zip(alone, together) for a, b in zip(x.params, y.params))
        jax_close = all(np.allclose(result[0][k], alone[k].params[0].W, rtol=1e-9, atol=1e-12) for k in range(K))
        ok &= same and jax_close
        per = {name: (cpu / (K * epochs) * 1e6, wall / (K * epochs) * 1e6) for name, (cpu, wall) in best.items()}
        print(f"{K:>4}  " + "  ".join(f"{per[n][0]:8.1f} / {per[n][1]:7.1f}" for n in ("fit", "stack", "jax"))
              + f"  {per['fit'][0] / per['stack'][0]:8.2f}  {per['fit'][0] / per['jax'][0]:7.2f}  {compile_wall:13.2f}"
              + f"  {_floor(K, data.X.shape[1]):11.1f}"
              + ("" if same else "  fit_stack DIFFERS") + ("" if jax_close else "  jax DIFFERS"))
    if args.mnist:
        rng = np.random.default_rng(0)
        mnist = cr.ModelConfig([784, 128, 10], "relu", "softmax")
        X = rng.standard_normal((784, 2048))
        Y = np.eye(10)[:, rng.integers(0, 10, 2048)]
        trains = [cr.TrainConfig(learning_rate=0.1, num_epochs=2, mini_batch_size=128, seed=k, divergence_factor=None)
                  for k in range(2)]
        _, one, _ = _timed(_one_by_one, mnist, X, Y, trains)
        _, two, _ = _timed(cr.fit_stack, mnist, X, Y, trains)
        print(f"784-128-10, 2 048 examples, batches of 128, 2 epochs, K = 2: fit one by one {one:.2f} s CPU, "
              f"fit_stack {two:.2f} s CPU, ratio {one / two:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

