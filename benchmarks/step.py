#!/usr/bin/env python
"""Where one training step's time goes, against the floor of its own matrix products.

    python benchmarks/step.py [--steps N] [--repeats R]

With one BLAS thread (set here, before NumPy loads), for the MNIST-sized step of
``bench.py``'s mnist128 workload (784-256-128-10, relu/softmax, float32, batch 128, SGD):

- floor: the step's eight matrix products alone, at their exact shapes and memory layouts
  (forward W[l] A[l-1] for l = 1, 2, 3; backward dZ[l] A[l-1]ᵀ for l = 3, 2, 1 and W[l]ᵀ dZ[l]
  for l = 3, 2), written into preallocated arrays;
- step: chainrule's own training loop, ``run_epoch`` over N shuffled batches (gathering
  each batch, forward, backward, the cost and accuracy the history records, the update);

and the same for the planar network (2-4-1 tanh/sigmoid, float64, full batch of 400):

- epoch: one epoch of ``run_epoch`` (a step and its bookkeeping);
- bookkeeping: the part of it that records the epoch's cost and accuracy.

Times are the best of R repeats (the least disturbed by a shared machine); the ratio
step / floor is what matters. This is a script, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")      # before NumPy loads its BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule.losses import cost_from_loss, get_output
from chainrule.model import count_correct
from chainrule.training import TrainState, iterate


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def mnist_step(steps: int, repeats: int) -> tuple[float, float]:
    """(floor, step) in seconds per step."""
    rng = np.random.default_rng(0)
    m, batch = steps * 128, 128
    rows = rng.standard_normal((m, 784), dtype=np.float32)
    labels = rng.integers(0, 10, m)
    X, Y = rows.T, np.eye(10, dtype=np.float32)[:, labels]
    config = cr.ModelConfig([784, 256, 128, 10], "relu", "softmax")
    params = cr.init_params(config, rng, "he", dtype=np.float32)

    # the floor: the eight products at the step's shapes and layouts (X_b columns contiguous, as gathered)
    X_b = np.asfortranarray(X[:, :batch])
    A = [X_b] + [np.empty((n, batch), np.float32) for n in (256, 128, 10)]
    dZ = [None] + [rng.standard_normal((n, batch), dtype=np.float32) for n in (256, 128, 10)]
    dW = [None] + [np.empty_like(W) for W, _ in params]
    dA = [None, np.empty((256, batch), np.float32), np.empty((128, batch), np.float32)]

    def products():
        for _ in range(steps):
            for l in (1, 2, 3):
                np.dot(params[l - 1].W, A[l - 1], out=A[l])
            for l in (3, 2, 1):
                np.dot(dZ[l], A[l - 1].T, out=dW[l])
                if l > 1:
                    np.dot(params[l - 1].W.T, dZ[l], out=dA[l - 1])

    epochs = iterate(config, X, Y, learning_rate=0.1, num_epochs=10 ** 9, mini_batch_size=batch, seed=0,
                     state=TrainState(params))

    next(epochs)                                            # the workspaces are made here
    return best_of(repeats, products) / steps, best_of(repeats, lambda: next(epochs)) / steps


def planar_epoch(epochs_per_run: int, repeats: int) -> tuple[float, float]:
    """(epoch, bookkeeping) in seconds per epoch."""
    data = cr.datasets.planar_flower()
    config, train = cr.presets.planar()
    epochs = iterate(config, data.X, data.Y, train, num_epochs=10 ** 9)
    ZL = np.random.default_rng(1).standard_normal(data.Y.shape)
    AL = 1 / (1 + np.exp(-ZL))
    loss_from_Z = get_output("sigmoid").loss_from_Z

    def run():
        for _ in range(epochs_per_run):
            next(epochs)

    def bookkeeping():
        for _ in range(epochs_per_run):
            float(cost_from_loss(loss_from_Z(ZL, data.Y)))
            count_correct(AL, data.Y, "sigmoid")

    return best_of(repeats, run) / epochs_per_run, best_of(repeats, bookkeeping) / epochs_per_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="MNIST-sized steps per timed run (default: 200)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the best counts (default: 7)")
    args = parser.parse_args()
    floor, step = mnist_step(args.steps, args.repeats)
    print(f"MNIST-sized step (784-256-128-10, float32, batch 128, one BLAS thread), best of {args.repeats}:")
    print(f"  eight products {1e6 * floor:8.1f} µs   whole step {1e6 * step:8.1f} µs   "
          f"step / products {step / floor:.3f}")
    epoch, books = planar_epoch(2000, args.repeats)
    print("Planar epoch (2-4-1 tanh/sigmoid, float64, 400 examples, full batch):")
    print(f"  epoch {1e6 * epoch:6.1f} µs   of which cost and accuracy {1e6 * books:5.1f} µs "
          f"({100 * books / epoch:.0f} %)")


if __name__ == "__main__":
    main()
