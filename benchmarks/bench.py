#!/usr/bin/env python
"""chainrule against its peers on identical work, in one run.

    python benchmarks/bench.py [--quick] [--workloads small,mnist128,mnist1024,adam]
                               [--impls chainrule,numpy,sklearn,torch,jax] [--repeats N]
                               [--json-out FILE]

Every (workload, implementation) pair runs in a Python process of its own
(``bench.py --serve WORKLOAD IMPL``), which builds the data and sets the implementation up
(warm-ups and compilation included), then trains from the same initial parameters each time
the parent asks. The parent starts the processes of one workload together and asks them in
turn, repeat after repeat (the order rotated each repeat), so that the slow spells of a shared
machine fall on every implementation alike; then each reports its times, its peak resident
memory, the final training cost and the parameters after a short check run. The parent
measures the machine's matrix-multiply rate, checks that the implementations did the same
work (the same parameters after the check run where the initial weights and the batches are
the same), and prints one table. ``--quick`` runs all workloads of an implementation in one
process (``bench.py --one``), one after the other.

Implementations
    chainrule  chainrule.fit
    numpy      a hand-written NumPy loop in the course's style: the floor for plain NumPy
    sklearn    scikit-learn's MLPClassifier (solver "sgd" with momentum 0, or "adam")
    torch      PyTorch eager on the CPU, nn.Linear layers, torch.optim
    jax        JAX with a jitted training step (loss, gradients and update in one jit)

FLOPs counted per example and epoch (matrix products only): forward 2·n_l·n_{l-1} for every
layer; backward 2·n_l·n_{l-1} for every dW[l] and 2·n_l·n_{l-1} for every dA[l-1] with
l ≥ 2 (dA[0], the derivative by the input, is needed by nobody and not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

IMPLS = ("chainrule", "numpy", "sklearn", "torch", "jax")
HERE = Path(__file__).resolve()
PAUSE_S = 0.3                          # between timed runs of different processes
THREADS = os.cpu_count() or 1          # PyTorch's threads; NumPy's BLAS and XLA use every core too


# --- workloads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One training job, described once and run by every implementation.

    batching: "full" (one batch of all m examples per epoch, in order), "shuffled"
    (chainrule's ``mini_batch_size`` schedule with ``seed``: a fresh permutation per epoch cut
    into batches of ``batch_size``, the remainder last) or "course" (``course_mini_batches``).
    """

    name: str
    title: str
    layer_dims: tuple[int, ...]
    hidden: str
    output: str
    dtype: str
    optimizer: str
    learning_rate: float
    num_epochs: int
    batching: str
    batch_size: int | None
    m: int
    seed: int = 0

    @property
    def L(self) -> int:
        return len(self.layer_dims) - 1

    def flops_per_epoch(self) -> float:
        """Matrix-product FLOPs of one epoch (see the module's docstring)."""
        sizes = [n_l * n_prev for n_prev, n_l in zip(self.layer_dims[:-1], self.layer_dims[1:])]
        per_example = 2 * sum(sizes) + 2 * sum(sizes) + 2 * sum(sizes[1:])
        return float(per_example) * self.m

    def flops(self) -> float:
        return self.flops_per_epoch() * self.num_epochs


WORKLOADS = {
    "small": Workload("small",
                      "planar flower 2-4-1 tanh/sigmoid, 400 ex., 10 000 full-batch epochs, gd lr 1.2, float64",
                      (2, 4, 1), "tanh", "sigmoid", "float64", "gd", 1.2, 10_000, "full", None, 400),
    "mnist128": Workload("mnist128",
                         "60 000 x 784 synthetic, 784-256-128-10 relu/softmax, batch 128, 2 epochs SGD lr 0.1, float32",
                         (784, 256, 128, 10), "relu", "softmax", "float32", "gd", 0.1, 2, "shuffled", 128, 60_000),
    "mnist1024": Workload("mnist1024", "the same network, batch 1024, 2 epochs SGD lr 0.1, float32",
                          (784, 256, 128, 10), "relu", "softmax", "float32", "gd", 0.1, 2, "shuffled", 1024, 60_000),
    "adam": Workload("adam", "moons(300, 0.2, seed=3), [2,5,2,1] relu/sigmoid, course_mini_batches(64), "
                             "Adam lr 0.0007, 1 000 epochs, float64",
                     (2, 5, 2, 1), "relu", "sigmoid", "float64", "adam", 0.0007, 1_000, "course", 64, 300),
}

QUICK = {  # smaller versions for a smoke test
    "small": dict(num_epochs=1_000),
    "mnist128": dict(m=2048, num_epochs=1),
    "mnist1024": dict(m=2048, num_epochs=1),
    "adam": dict(num_epochs=100),
}


def get_workload(name: str, quick: bool) -> Workload:
    w = WORKLOADS[name]
    return replace(w, **QUICK[name]) if quick else w


# --- data, initial parameters and batches (the same for everyone) -------------------------------


def make_data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """(rows, labels): rows (m, n_x) of w's dtype, one example per row, C order; labels (m,) int.

    Every implementation gets this one array: chainrule and the NumPy loop read it as
    X = rows.T, (n_x, m) with each example's features contiguous, as the course's own
    ``X_flatten = X_orig.reshape(m, -1).T`` is laid out. The synthetic MNIST-sized inputs are
    standard normal (float32, fixed seed), drawn in chunks of examples; the labels are the
    argmax of a fixed random linear map of the inputs, so they can be learnt.
    """
    dtype = np.dtype(w.dtype)
    if w.name == "small":
        import chainrule
        data = chainrule.datasets.planar_flower()
        X, labels = data.X, data.Y[0].astype(np.int64)
    elif w.name == "adam":
        import chainrule
        data = chainrule.datasets.moons(300, 0.2, seed=3)
        X, labels = data.X, data.Y[0].astype(np.int64)
    else:
        n_x, C = w.layer_dims[0], w.layer_dims[-1]
        rng = np.random.default_rng(2024)
        M = rng.standard_normal((n_x, C), dtype=np.float32)
        X = np.empty((w.m, n_x), dtype=np.float32)
        labels = np.empty(w.m, dtype=np.int64)
        chunk = 4096
        for i in range(0, w.m, chunk):
            rows = rng.standard_normal((min(chunk, w.m - i), n_x), dtype=np.float32)
            labels[i:i + len(rows)] = np.argmax(rows @ M, axis=1)
            X[i:i + len(rows)] = rows
        return X, labels
    return np.ascontiguousarray(X.T, dtype=dtype), labels


def one_hot_cols(labels: np.ndarray, C: int, dtype: Any) -> np.ndarray:
    """(C, m) one-hot columns; for a sigmoid output (C = 1) the (1, m) row of 0/1 labels."""
    if C == 1:
        return labels[np.newaxis, :].astype(dtype)
    Y = np.zeros((C, len(labels)), dtype=dtype)
    Y[labels, np.arange(len(labels))] = 1
    return Y


def initial_params(w: Workload) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (n_l, n_{l-1}), b (n_l, 1))]: the course's initialisations where there is one."""
    import chainrule
    config = chainrule.ModelConfig(list(w.layer_dims), w.hidden, w.output)
    if w.name == "small":       # the planar classifier: np.random.seed(2), randn × 0.01
        params = chainrule.init_params(config, np.random.RandomState(2), "random", 0.01)
    elif w.name == "adam":      # the Optimization assignment: np.random.seed(3), He
        params = chainrule.init_params(config, np.random.RandomState(3), "he")
    else:
        params = chainrule.init_params(config, np.random.default_rng(0), "he")
    return [(np.array(W, dtype=w.dtype), np.array(b, dtype=w.dtype)) for W, b in params]


def epoch_schedule(w: Workload) -> list[list[Any]]:
    """For each epoch, its batches: index arrays into the m examples, or [None] for full batch.

    The batches are chainrule's own schedules, so every implementation that accepts a batch
    order trains on exactly the batches chainrule draws.
    """
    from chainrule import batches
    if w.batching == "full":
        return [[None]] * w.num_epochs
    if w.batching == "course":
        schedule = batches.course_mini_batches(w.batch_size)
    else:
        schedule = batches.shuffled_batches(w.batch_size, w.seed)
    return [[np.asarray(b, dtype=np.int64) for b in schedule(e, w.m)] for e in range(w.num_epochs)]


# --- one implementation, one workload ----------------------------------------------------------


def timed(fn) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class Prepared(NamedTuple):
    """An implementation set up for one workload: ``once()`` trains once from the initial
    weights and returns (seconds, final params [(W (n_l, n_{l-1}), b (n_l, 1))]); ``data`` is
    (X, "cols" or "rows", labels) for the final cost; ``before`` the resident memory (MB)
    before training; ``notes`` what the table should say about this implementation."""

    once: Callable[[], tuple[float, list]]
    data: tuple
    before: float | None
    notes: list


def prepare_chainrule(w: Workload) -> Prepared:
    import chainrule
    rows, labels = make_data(w)
    X = rows.T                                                   # (n_x, m), a view
    Y = one_hot_cols(labels, w.layer_dims[-1], X.dtype)
    init = initial_params(w)
    config = chainrule.ModelConfig(list(w.layer_dims), w.hidden, w.output)
    train = chainrule.TrainConfig(optimizer=w.optimizer, learning_rate=w.learning_rate, num_epochs=w.num_epochs,
                                  seed=w.seed, mini_batch_size=None if w.batching == "full" else w.batch_size,
                                  batches="course" if w.batching == "course" else "shuffled")
    before = current_rss_mb()

    def once():
        start = chainrule.TrainState([chainrule.LayerParams(W.copy(), b.copy()) for W, b in init])
        t, result = timed(lambda: chainrule.fit(config, X, Y, train, state=start))
        return t, [(np.asarray(W), np.asarray(b)) for W, b in result.params]

    return Prepared(once, (X, "cols", labels), before, [])


def numpy_train(params, X, Y, hidden, output, optimizer, learning_rate, schedule,
                beta1=0.9, beta2=0.999, epsilon=1e-8):
    """The course's loop, written plainly: X (n_x, m), params [(W, b)], one gather per epoch."""
    params = [[W.copy(), b.copy()] for W, b in params]
    L = len(params)
    if optimizer == "adam":
        v = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params]
        s = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params]
        t = 0
    costs = []
    for batches in schedule:
        if batches[0] is None:                               # full batch: no shuffling
            pieces = [(X, Y)]
        else:                                                # random_mini_batches: shuffle, then cut
            permutation = np.concatenate(batches)
            shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation]
            ends = np.cumsum([len(b) for b in batches])
            pieces = [(shuffled_X[:, e - len(b):e], shuffled_Y[:, e - len(b):e]) for b, e in zip(batches, ends)]
        cost_total = 0.0
        for X_b, Y_b in pieces:
            m = X_b.shape[1]
            # forward
            A, caches = X_b, []
            for l in range(L):
                W, b = params[l]
                Z = np.dot(W, A) + b
                caches.append((A, Z))
                if l < L - 1:
                    if hidden == "relu":
                        A = np.maximum(Z, 0)
                    elif hidden == "tanh":
                        A = np.tanh(Z)
                    else:
                        A = 1 / (1 + np.exp(-Z))
            if output == "sigmoid":
                with np.errstate(over="ignore"):
                    AL = 1 / (1 + np.exp(-Z))
                cost = np.sum(np.maximum(Z, 0) - Z * Y_b + np.log1p(np.exp(-np.abs(Z)))) / m
            else:
                Z_max = np.max(Z, axis=0, keepdims=True)
                e = np.exp(Z - Z_max)
                total = np.sum(e, axis=0, keepdims=True)
                AL = e / total
                cost = -np.sum(Y_b * (Z - Z_max - np.log(total))) / m
            cost_total += float(cost) * m
            # backward: the fused output delta, 1/m in dW and db only
            dZ = AL - Y_b
            grads = [None] * L
            for l in reversed(range(L)):
                A_prev, _ = caches[l]
                dW = (1 / m) * np.dot(dZ, A_prev.T)
                db = (1 / m) * np.sum(dZ, axis=1, keepdims=True)
                grads[l] = (dW, db)
                if l > 0:
                    dA_prev = np.dot(params[l][0].T, dZ)
                    Z_prev = caches[l - 1][1]
                    if hidden == "relu":
                        dZ = dA_prev * (Z_prev > 0)
                    elif hidden == "tanh":
                        dZ = dA_prev * (1 - A_prev ** 2)
                    else:
                        dZ = dA_prev * A_prev * (1 - A_prev)
            # update
            if optimizer == "adam":
                t += 1
                for l in range(L):
                    for k in range(2):
                        g = grads[l][k]
                        v[l][k] = beta1 * v[l][k] + (1 - beta1) * g
                        s[l][k] = beta2 * s[l][k] + (1 - beta2) * g ** 2
                        v_hat = v[l][k] / (1 - beta1 ** t)
                        s_hat = s[l][k] / (1 - beta2 ** t)
                        params[l][k] -= learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)
            else:
                for l in range(L):
                    params[l][0] -= learning_rate * grads[l][0]
                    params[l][1] -= learning_rate * grads[l][1]
        costs.append(cost_total / X.shape[1])
    return [(W, b) for W, b in params], costs


def prepare_numpy(w: Workload) -> Prepared:
    rows, labels = make_data(w)
    X = rows.T                                                   # (n_x, m), a view
    Y = one_hot_cols(labels, w.layer_dims[-1], X.dtype)
    init = initial_params(w)
    schedule = epoch_schedule(w)
    before = current_rss_mb()

    def once():
        t, (params, _) = timed(lambda: numpy_train(init, X, Y, w.hidden, w.output, w.optimizer,
                                                   w.learning_rate, schedule))
        return t, params

    return Prepared(once, (X, "cols", labels), before, [])


def prepare_sklearn(w: Workload) -> Prepared:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, labels = make_data(w)
    init = initial_params(w)
    full = w.batching == "full"
    clf = MLPClassifier(
        hidden_layer_sizes=w.layer_dims[1:-1],
        activation={"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}[w.hidden],
        solver="adam" if w.optimizer == "adam" else "sgd",
        alpha=0.0, batch_size=w.m if full else w.batch_size,
        learning_rate="constant", learning_rate_init=w.learning_rate,
        max_iter=1, shuffle=not full, random_state=w.seed, tol=0.0,
        momentum=0.0, nesterovs_momentum=False, early_stopping=False, n_iter_no_change=10 ** 9,
        beta_1=0.9, beta_2=0.999, epsilon=1e-8, warm_start=True,
    )
    # A one-epoch fit on a few examples (every class present) sets the estimator up; then
    # warm_start lets fit start from our coefs_/intercepts_ instead of its own initialisation.
    few = np.unique(np.concatenate([np.arange(min(w.m, 64)),
                                    [np.flatnonzero(labels == c)[0] for c in np.unique(labels)]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # (batch_size larger than these few examples)
        clf.fit(X[few], labels[few])
    clf.set_params(max_iter=w.num_epochs)
    before = current_rss_mb()

    def once():
        clf.coefs_ = [np.array(W.T, order="C") for W, _ in init]   # copies: fit updates them in place
        clf.intercepts_ = [b.ravel().copy() for _, b in init]
        clf.t_, clf.loss_curve_, clf._no_improvement_count, clf.best_loss_ = 0, [], 0, np.inf
        t, _ = timed(lambda: clf.fit(X, labels))
        return t, [(W.T.copy(), b[:, np.newaxis].copy()) for W, b in zip(clf.coefs_, clf.intercepts_)]

    notes = [] if full else ["sklearn: same initial weights, its own shuffling (random_state=0), same batch size"]
    return Prepared(once, (X, "rows", labels), before, notes)


def prepare_torch(w: Workload) -> Prepared:
    import torch
    from torch import nn
    torch.set_num_threads(THREADS)
    X, labels = make_data(w)
    init = initial_params(w)
    schedule = epoch_schedule(w)
    dtype = torch.float64 if w.dtype == "float64" else torch.float32
    X_t = torch.from_numpy(X)
    if w.output == "softmax":
        target, loss_fn = torch.from_numpy(labels), nn.CrossEntropyLoss()
    else:
        target, loss_fn = torch.from_numpy(labels.astype(X.dtype)[:, np.newaxis]), nn.BCEWithLogitsLoss()
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[w.hidden]
    layers = []
    for l in range(w.L):
        layers.append(nn.Linear(w.layer_dims[l], w.layer_dims[l + 1], dtype=dtype))
        if l < w.L - 1:
            layers.append(act())
    model = nn.Sequential(*layers)
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    schedule_t = [[None if b is None else torch.from_numpy(b) for b in batches] for batches in schedule]

    def train(schedule):
        if w.optimizer == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=w.learning_rate, betas=(0.9, 0.999), eps=1e-8)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=w.learning_rate)
        costs = []
        for batches in schedule:
            total = 0.0
            for idx in batches:
                xb, yb = (X_t, target) if idx is None else (X_t[idx], target[idx])
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * len(xb)
            costs.append(total / w.m)
        return costs

    # Warm-up: one step, not timed (the first optimizer step pays a one-time initialisation
    # of about two seconds); the weights are set again before every timed run.
    train([schedule_t[0][:1]])
    before = current_rss_mb()

    def once():
        with torch.no_grad():
            for lin, (W, b) in zip(linears, init):
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b.ravel()))
        t, _ = timed(lambda: train(schedule_t))
        return t, [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy()[:, np.newaxis].copy())
                   for lin in linears]

    return Prepared(once, (X, "rows", labels), before, ["torch: one untimed warm-up step before the timed runs"])


def prepare_jax(w: Workload) -> Prepared:
    import jax
    if w.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    X, labels = make_data(w)
    init = initial_params(w)
    schedule = epoch_schedule(w)
    C = w.layer_dims[-1]
    Y = one_hot_cols(labels, C, X.dtype).T.copy()                                  # (m, C)
    X_j, Y_j = jax.device_put(X), jax.device_put(Y)
    del X, Y                                                                      # the device copy is the data
    act = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}[w.hidden]
    lr, beta1, beta2, epsilon = w.learning_rate, 0.9, 0.999, 1e-8

    def cost(params, x, y):
        a = x
        for l, (W, b) in enumerate(params):
            z = a @ W.T + b
            a = act(z) if l < len(params) - 1 else z
        if w.output == "softmax":
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1))
        # log(1 + e^z) − z·y, whose derivative σ(z) − y holds at z = 0 too (several examples
        # reach the output with z exactly 0 when a narrow relu layer is all zero for them)
        return jnp.mean(jax.nn.softplus(z) - z * y)

    @jax.jit
    def step(params, state, total, X, Y, idx):
        x, y = (X, Y) if idx is None else (X[idx], Y[idx])
        J, grads = jax.value_and_grad(cost)(params, x, y)
        if w.optimizer == "adam":
            v, s, t = state
            t = t + 1
            v = jax.tree_util.tree_map(lambda v, g: beta1 * v + (1 - beta1) * g, v, grads)
            s = jax.tree_util.tree_map(lambda s, g: beta2 * s + (1 - beta2) * g * g, s, grads)
            c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
            params = jax.tree_util.tree_map(lambda p, v, s: p - lr * (v / c1) / (jnp.sqrt(s / c2) + epsilon),
                                            params, v, s)
            state = (v, s, t)
        else:
            params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        return params, state, total + J * x.shape[0]

    def start():
        params = [(jnp.asarray(W), jnp.asarray(b.ravel())) for W, b in init]
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        state = (zeros, zeros, jnp.asarray(0, dtype=X_j.dtype)) if w.optimizer == "adam" else ()
        return params, state

    schedule_j = [[None if b is None else jax.device_put(b.astype(np.int32)) for b in batches]
                  for batches in schedule]
    # Warm-up: compile once for every batch size the schedule uses; not timed.
    sizes = {}
    for batches in schedule_j:
        for idx in batches:
            sizes.setdefault(None if idx is None else idx.shape[0], idx)
    for idx in sizes.values():
        params, state = start()
        jax.block_until_ready(step(params, state, jnp.zeros((), X_j.dtype), X_j, Y_j, idx))

    def train():
        params, state = start()
        costs = []
        for batches in schedule_j:
            total = jnp.zeros((), X_j.dtype)
            for idx in batches:
                params, state, total = step(params, state, total, X_j, Y_j, idx)
            costs.append(total)
        jax.block_until_ready(params)
        return params, [float(c) / w.m for c in costs]

    before = current_rss_mb()

    def once():
        t, (params, _) = timed(train)
        return t, [(np.asarray(W), np.asarray(b)[:, np.newaxis]) for W, b in params]

    return Prepared(once, (X_j, "rows", labels), before, ["jax: compilation excluded by a warm-up step per batch size"])


PREPARE = {"chainrule": prepare_chainrule, "numpy": prepare_numpy, "sklearn": prepare_sklearn,
           "torch": prepare_torch, "jax": prepare_jax}


def final_cost(params, data, w: Workload) -> tuple[float, float]:
    """(J, accuracy) of ``params`` on the whole training set, in float64, a chunk at a time."""
    X, layout, labels = data
    m = len(labels)
    params = [(np.asarray(W, np.float64), np.asarray(b, np.float64).reshape(-1, 1)) for W, b in params]
    J = correct = 0.0
    for i in range(0, m, 8192):
        A = np.asarray(X[:, i:i + 8192] if layout == "cols" else X[i:i + 8192].T, dtype=np.float64)
        y = labels[i:i + 8192]
        for l, (W, b) in enumerate(params):
            Z = W @ A + b
            if l < len(params) - 1:
                A = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
                     "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[w.hidden](Z)
        if w.output == "softmax":
            Z_max = Z.max(axis=0)
            log_total = Z_max + np.log(np.exp(Z - Z_max).sum(axis=0))
            J += float(np.sum(log_total - Z[y, np.arange(len(y))]))
            correct += float(np.sum(np.argmax(Z, axis=0) == y))
        else:
            z = Z[0]
            J += float(np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
            correct += float(np.sum((z > 0) == (y == 1)))
    return J / m, correct / m


def _proc_status_mb(key: str) -> float | None:
    """A memory figure ("VmRSS", "VmHWM") of this process from /proc/self/status, in MB; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mb() -> float | None:
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux: VmHWM, the high-water mark of this program's own memory. (ru_maxrss would do, but on
    Linux it starts at the parent's resident size at the moment of the fork, whatever the child
    itself uses.) Elsewhere: ru_maxrss.
    """
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024     # bytes on macOS


def check_workload(w: Workload) -> Workload:
    """The short run that shows the implementations do the same arithmetic.

    Long runs drift apart by rounding: at a learning rate of 1.2 (small) or across the ReLU
    kinks of hundreds of float32 SGD steps (MNIST-sized), a difference in the last bit grows
    until the final parameters differ by per cents while the cost stays close. A short run of
    the same code, from the same initial weights on the same batches, must agree to rounding.
    """
    if w.batching == "shuffled":
        return replace(w, m=min(w.m, 2048), num_epochs=1)
    return replace(w, num_epochs=min(w.num_epochs, 1000 if w.name == "small" else 100))


def describe_check(w: Workload) -> str:
    return (f"{w.num_epochs} epoch{'s' if w.num_epochs > 1 else ''}"
            + (f" on {w.m} examples" if w.batching == "shuffled" else ""))


def prepare(workload: str, impl: str, quick: bool) -> Prepared | dict:
    """``impl`` set up for the workload, or a result that says why it could not be."""
    try:
        return PREPARE[impl](get_workload(workload, quick))
    except ImportError as exc:
        return {"workload": workload, "impl": impl, "error": f"not installed ({exc.name})"}


def run_one(workload: str, impl: str, quick: bool, repeats: int, params_dir: str | None) -> dict:
    """Set ``impl`` up for the workload, train ``repeats`` times, and report (``finish``)."""
    prepared = prepare(workload, impl, quick)
    if isinstance(prepared, dict):
        return prepared
    times, params = [], None
    for _ in range(repeats):
        t, params = prepared.once()
        times.append(t)
    return finish(workload, impl, quick, prepared, times, params, params_dir)


def serve(workload: str, impl: str, quick: bool, params_dir: str | None) -> None:
    """Set ``impl`` up, then answer the parent on stdin/stdout, one JSON line per request:
    "run" trains once and answers {"time": s}; "finish" answers ``finish``'s result and ends."""
    prepared = prepare(workload, impl, quick)
    if isinstance(prepared, dict):
        print(json.dumps(prepared), flush=True)
        return
    print(json.dumps({"ready": True}), flush=True)
    times, params = [], None
    for request in sys.stdin:
        if request.strip() == "run":
            t, params = prepared.once()
            times.append(t)
            print(json.dumps({"time": t}), flush=True)
        elif request.strip() == "finish":
            print(json.dumps(finish(workload, impl, quick, prepared, times, params, params_dir)), flush=True)
            return


def finish(workload: str, impl: str, quick: bool, prepared: Prepared, times: list, params: list,
           params_dir: str | None) -> dict:
    """The result of the timed runs: times, peak memory, final cost, and the short check run
    (whose parameters are saved in ``params_dir`` for the parent to compare)."""
    w = get_workload(workload, quick)
    peak = peak_rss_mb()
    J, acc = final_cost(params, prepared.data, w)
    short = check_workload(w)
    if short == w:                       # the timed run is short enough to be the check
        check_params, check_J = params, J
    else:
        check = PREPARE[impl](short)
        _, check_params = check.once()
        check_J, _ = final_cost(check_params, check.data, short)
    if params_dir:
        np.savez(os.path.join(params_dir, f"{workload}-{impl}.npz"), **{f"{k}{l}": np.asarray(a, np.float64)
                                for l, p in enumerate(check_params) for k, a in zip("Wb", p)})
    return {"workload": workload, "impl": impl, "times": times, "median": statistics.median(times),
            "final_cost": J, "train_accuracy": acc, "max_rss_mb": peak, "rss_before_training_mb": prepared.before,
            "check_cost": check_J, "check_run": describe_check(short), "notes": prepared.notes}


# --- the parent: machine, runs, checks, table --------------------------------------------------


def matmul_rate(n: int, dtype: Any, tries: int) -> float:
    """GFLOP/s of np.matmul on two n × n matrices: 2n³ FLOPs over the best of ``tries`` runs."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    A @ B                                                                         # warm-up
    best = min(timed(lambda: A @ B)[0] for _ in range(tries))
    return 2.0 * n ** 3 / best / 1e9


def machine_info() -> dict:
    from importlib import metadata
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        blas = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        blas = "unknown"
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for package, dist in (("chainrule", "chainrule"), ("scikit-learn", "scikit-learn"), ("torch", "torch"),
                          ("jax", "jax"), ("jaxlib", "jaxlib")):
        try:
            versions[package] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": THREADS, "os": platform.platform(),
            "blas": blas, "versions": versions, "load_average": load}


SAME_PARAMS_TOLERANCE = {"float64": 1e-9, "float32": 1e-3}   # ‖ΔW‖/‖W‖ after the check run
OTHER_ORDER_TOLERANCE = 0.05                                  # |ΔJ|/J after the check run, other batch order


def check(result: dict, reference: dict | None, w: Workload, params: dict) -> tuple[str, bool | None]:
    """Did this implementation do chainrule's work? Compare the parameters after the check run."""
    if reference is None or "error" in result or "error" in reference:
        return "no reference", None
    if result["impl"] == "chainrule":
        return "reference", True
    dJ = abs(result["check_cost"] - reference["check_cost"]) / abs(reference["check_cost"])
    if result["impl"] == "sklearn" and w.batching != "full":
        ok = dJ <= OTHER_ORDER_TOLERANCE
        return f"{'close' if ok else 'DIFFERENT'} (own batch order): dJ {dJ:.1e}", ok
    mine, theirs = params.get(result["impl"]), params.get("chainrule")
    if mine is None or theirs is None:
        return "no parameters", None
    num = sum(float(np.sum((mine[k] - theirs[k]) ** 2)) for k in theirs.files)
    den = sum(float(np.sum(theirs[k] ** 2)) for k in theirs.files)
    dW = (num / den) ** 0.5
    ok = dW <= SAME_PARAMS_TOLERANCE[w.dtype]
    return f"{'same' if ok else 'DIFFERENT'}: dW {dW:.1e}", ok


def run_child(workloads: list[str], impl: str, args, params_dir: str) -> list[dict]:
    """Run ``impl`` on ``workloads`` in a fresh Python process; one result per workload."""
    command = [sys.executable, str(HERE), "--one", ",".join(workloads), impl, "--json",
               "--repeats", str(args.repeats), "--params-dir", params_dir] + (["--quick"] if args.quick else [])
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [{"workload": name, "impl": impl, "error": f"failed: {tail}"} for name in workloads]
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Server:
    """``impl`` on one workload in its own process (``bench.py --serve``), kept alive so that
    the parent can interleave the repeats of all implementations."""

    def __init__(self, workload: str, impl: str, args, params_dir: str):
        self.workload, self.impl, self.error = workload, impl, None
        command = [sys.executable, str(HERE), "--serve", workload, impl, "--params-dir", params_dir]
        self.stderr = tempfile.TemporaryFile("w+")      # (a pipe nobody reads could fill up and block)
        self.proc = subprocess.Popen(command + (["--quick"] if args.quick else []), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)

    def _answer(self) -> dict | None:
        """The next JSON object the process prints (other output skipped), None if it ended."""
        for line in self.proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict):
                return answer
        return None

    def _ask(self, request: str) -> dict | None:
        if self.error:
            return None
        try:
            self.proc.stdin.write(request + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        return self._check(self._answer())

    def _check(self, answer: dict | None) -> dict | None:
        if answer is None:
            self.proc.wait()
            self.stderr.seek(0)
            tail = (self.stderr.read().strip().splitlines() or ["no output"])[-1]
            self.error = f"failed: {tail}"
        elif "error" in answer:
            self.error = answer["error"]
            return None
        return answer

    def ready(self) -> bool:
        return self._check(self._answer()) is not None

    def run(self) -> None:
        self._ask("run")

    def finish(self) -> dict:
        result = self._ask("finish")
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait()
        self.stderr.close()
        return result if result is not None else {"workload": self.workload, "impl": self.impl, "error": self.error}


def run_interleaved(workload: str, impls: list[str], args, params_dir: str) -> list[dict]:
    """All implementations set up at once, each in its own process; then repeat r runs each of
    them once, in an order rotated by r, so that a slow spell of a shared machine falls on all
    of them alike. A pause between runs lets the last one's threads go idle."""
    servers = [Server(workload, impl, args, params_dir) for impl in impls]
    live = [server for server in servers if server.ready()]
    for r in range(args.repeats if live else 0):
        for server in live[r % len(live):] + live[:r % len(live)]:
            time.sleep(PAUSE_S)
            server.run()
    return [dict(server.finish(), interleaved=True) for server in servers]


def fmt(value, spec: str, missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def time_ratio(r: dict | None, base: dict | None) -> float | None:
    """r's time over base's: the median of the repeat-by-repeat ratios where the repeats took
    turns (each pair ran in the same round), else the ratio of the medians; None if either failed."""
    if not r or not base or "error" in r or "error" in base:
        return None
    if r.get("interleaved") and base.get("interleaved") and len(r["times"]) == len(base["times"]):
        return statistics.median(t / b for t, b in zip(r["times"], base["times"]))
    return r["median"] / base["median"]


def targets(results: dict, rates: dict, workloads: dict) -> list[dict]:
    """The speed and memory goals, evaluated on this run."""
    def median(wl, impl):
        r = results.get(wl, {}).get(impl)
        return None if r is None or "error" in r else r["median"]

    def ratio(wl, impl, base):
        return time_ratio(results.get(wl, {}).get(impl), results.get(wl, {}).get(base))

    def rss(wl, impl):
        r = results.get(wl, {}).get(impl)
        return None if r is None or "error" in r else r["max_rss_mb"]

    out = []

    def goal(text, value, ok, shown):
        if value is not None:
            out.append({"target": text, "measured": shown, "met": bool(ok)})

    cr = median("small", "chainrule")
    if cr:
        for impl, text, limit, faster in (("numpy", "small: chainrule ≤ 1.2 × the NumPy loop", 1.2, False),
                                          ("sklearn", "small: ≥ 6 × faster than scikit-learn", 6, True),
                                          ("torch", "small: ≥ 6 × faster than PyTorch eager", 6, True)):
            x = ratio("small", impl, "chainrule") if faster else ratio("small", "chainrule", impl)
            if x:
                goal(text, x, x >= limit if faster else x <= limit, f"{x:.2f} ×")
    cr = median("mnist128", "chainrule")
    if cr:
        for impl, text, limit in (("sklearn", "mnist128: ≥ 1.5 × faster than scikit-learn", 1.5),
                                  ("torch", "mnist128: ≥ 1.5 × faster than PyTorch eager", 1.5),
                                  ("jax", "mnist128: no slower than JAX jit", 1.0)):
            x = ratio("mnist128", impl, "chainrule")
            if x:
                goal(text, x, x >= limit, f"{x:.2f} ×")
        a, b = rss("mnist128", "chainrule"), rss("mnist128", "sklearn")
        if a and b:
            goal("mnist128: peak memory ≤ scikit-learn's", a, a <= b, f"{a:.0f} MB vs {b:.0f} MB")
    cr = median("mnist1024", "chainrule")
    if cr and "mnist1024" in workloads:
        achieved = workloads["mnist1024"].flops() / cr / 1e9
        share = achieved / rates["float32"]
        goal("mnist1024: ≥ 60 % of the float32 matmul rate", share, share >= 0.6,
             f"{achieved:.1f} GFLOP/s = {100 * share:.0f} %")
    return out


def main_parent(args) -> int:
    wall = time.perf_counter()
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    impls = [n.strip() for n in args.impls.split(",") if n.strip()]
    for n in names:
        if n not in WORKLOADS:
            sys.exit(f"bench.py: unknown workload {n!r}; expected some of {', '.join(WORKLOADS)}")
    for n in impls:
        if n not in IMPLS:
            sys.exit(f"bench.py: unknown implementation {n!r}; expected some of {', '.join(IMPLS)}")
    if "chainrule" in impls:                          # the reference goes first
        impls = ["chainrule"] + [i for i in impls if i != "chainrule"]
    workloads = {n: get_workload(n, args.quick) for n in names}

    info = machine_info()
    print(f"Machine: {info['cpu']}, {info['cores']} cores; {info['os']}"
          + (f"; load average {info['load_average']:.2f} at the start" if info.get("load_average") is not None else ""))
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + f"; BLAS {info['blas']}")
    n, tries = (1024, 3) if args.quick else (2048, 5)
    rates = {"float32": matmul_rate(n, np.float32, tries), "float64": matmul_rate(n, np.float64, tries)}
    print(f"Matrix multiply ({n}×{n} np.matmul, best of {tries}): "
          f"float32 {rates['float32']:.1f} GFLOP/s, float64 {rates['float64']:.1f} GFLOP/s")
    print(f"Each implementation runs in its own process, {args.repeats} repeat{'s' if args.repeats > 1 else ''}, "
          f"median time" + (" (QUICK: smaller sizes, one process per implementation for all workloads)"
                            if args.quick else "; the repeats of all implementations take turns") + ".")
    for name, w in workloads.items():
        print(f"  {name}: {w.title}" + (f" (quick: m={w.m}, {describe_check(replace(w, batching='full'))})"
                                          if args.quick else ""))
    print(flush=True)

    # A process per (workload, implementation), so that its peak memory is its own, with the
    # repeats interleaved; the quick smoke test runs all workloads of an implementation in one
    # process, one after the other, to save the start-up time of its imports.
    results: dict[str, dict[str, dict]] = {name: {} for name in names}
    checks: dict[str, dict[str, tuple[str, bool | None]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        batches = ((run_child(names, impl, args, tmp) for impl in impls) if args.quick
                   else (run_interleaved(name, impls, args, tmp) for name in names))
        for batch in batches:                                   # (each is run as the loop reaches it)
            for r in batch:
                name, impl = r["workload"], r["impl"]
                results[name][impl] = r
                w = workloads[name]
                if "error" in r:
                    print(f"  {name:<10} {impl:<10} {r['error']}", flush=True)
                else:
                    print(f"  {name:<10} {impl:<10} {r['median']:8.3f} s   J {r['final_cost']:.6g}   "
                          f"max RSS {r['max_rss_mb']:.0f} MB", flush=True)
        for name, w in workloads.items():
            saved = {impl: np.load(os.path.join(tmp, f"{name}-{impl}.npz"))
                     for impl, r in results[name].items() if "error" not in r}
            reference = results[name].get("chainrule")
            checks[name] = {impl: check(r, reference, w, saved) for impl, r in results[name].items()}
            results[name] = {impl: results[name][impl] for impl in impls if impl in results[name]}

    # the table
    print()
    print("FLOPs counted (matrix products): forward 2·n_l·n_(l-1) per layer and example, backward "
          "2·n_l·n_(l-1) for dW[l] and 2·n_l·n_(l-1) for dA[l-1] (l ≥ 2), times m and epochs.")
    print("× chainrule, × numpy: this time / chainrule's (or the NumPy loop's) time"
          + (", the ratio of the medians" if args.quick else ", the median of the ratios of the repeats, "
             "which took turns") + "; above 1 is slower.\n")
    header = (f"{'workload':<10} {'impl':<10} {'median s':>9} {'spread':>7} {'× chainrule':>11} {'× numpy':>8} "
              f"{'GFLOP/s':>8} {'% matmul':>8} {'max RSS MB':>10} {'final J':>10}  check")
    print(header)
    print("-" * len(header))
    rows = []
    for name, w in workloads.items():
        cr, npy = results[name].get("chainrule"), results[name].get("numpy")
        gflop = w.flops() / 1e9
        for impl, r in results[name].items():
            text, ok = checks[name][impl]
            if "error" in r:
                print(f"{name:<10} {impl:<10} {r['error']}")
                rows.append({"workload": name, "impl": impl, "error": r["error"]})
                continue
            t = r["median"]
            rate = gflop / t
            spread = 100 * (max(r["times"]) - min(r["times"])) / t
            row = {"workload": name, "impl": impl, "median_s": t, "times_s": r["times"],
                   "interleaved": bool(r.get("interleaved")), "spread_percent": spread,
                   "ratio_to_chainrule": time_ratio(r, cr), "ratio_to_numpy": time_ratio(r, npy),
                   "gflops": rate, "percent_of_matmul": 100 * rate / rates[w.dtype],
                   "max_rss_mb": r["max_rss_mb"], "rss_before_training_mb": r["rss_before_training_mb"],
                   "final_cost": r["final_cost"], "train_accuracy": r["train_accuracy"],
                   "check": text, "check_ok": ok, "check_run": r["check_run"], "check_cost": r["check_cost"],
                   "notes": r["notes"]}
            rows.append(row)
            print(f"{name:<10} {impl:<10} {t:9.3f} {spread:6.0f}% {fmt(row['ratio_to_chainrule'], '11.2f', '–'):>11} "
                  f"{fmt(row['ratio_to_numpy'], '8.2f', '–'):>8} {rate:8.2f} {row['percent_of_matmul']:7.1f}% "
                  f"{r['max_rss_mb']:10.0f} {r['final_cost']:10.5g}  {text}")
        print()
    notes = sorted({n for r in rows for n in r.get("notes", [])})
    notes.append("spread: (slowest − fastest) / median of the repeats.")
    notes.append("% matmul: the achieved GFLOP/s over the measured np.matmul rate of the workload's dtype.")
    notes.append("max RSS: the peak resident memory of the implementation's own process (imports, data and training)"
                 + ("; in this quick run the peak over all workloads so far." if args.quick else "."))
    notes.append("final J: the cost of the timed run's final parameters on the whole training set (in float64). "
                 "Long runs drift apart by rounding, so J differs a little between implementations.")
    runs = "; ".join(f"{name}: {describe_check(check_workload(w))}" for name, w in workloads.items())
    notes.append(f"check: the parameters after a short run ({runs}; a second, untimed run where the timed one is "
                 f"longer) from the same initial weights; "
                 f"'same' means its parameters are within {SAME_PARAMS_TOLERANCE['float64']:g} (float64) or "
                 f"{SAME_PARAMS_TOLERANCE['float32']:g} (float32) of chainrule's (relative, all W and b); "
                 f"for an implementation with its own batch order, 'close' means its cost J is within "
                 f"{OTHER_ORDER_TOLERANCE:.0%} of chainrule's.")
    for n in notes:
        print("Note: " + n)
    goals = targets(results, rates, workloads)
    if goals:
        print("\nTargets" + (" (quick sizes: indicative only):" if args.quick else ":"))
        for g in goals:
            print(f"  [{'met' if g['met'] else 'NOT met'}] {g['target']}: {g['measured']}")
    bad = [f"{r['workload']}/{r['impl']}" for r in rows if r.get("check_ok") is False]
    print("\nAgreement check: " + ("all implementations did the same work." if not bad
                                   else "implementations that disagree with chainrule: " + ", ".join(bad)))
    elapsed = time.perf_counter() - wall
    print(f"Total wall time: {elapsed:.0f} s")

    if args.json_out:
        document = {"machine": info, "matmul": {"n": n, "tries": tries, "gflops": rates},
                    "quick": args.quick, "repeats": args.repeats,
                    "flop_count": "forward 2*n_l*n_(l-1) per layer and example; backward 2*n_l*n_(l-1) for dW[l] "
                                  "and for dA[l-1] with l >= 2; times m and epochs",
                    "workloads": {n: {"title": w.title, "layer_dims": list(w.layer_dims), "m": w.m,
                                      "epochs": w.num_epochs, "batch_size": w.batch_size, "dtype": w.dtype,
                                      "optimizer": w.optimizer, "learning_rate": w.learning_rate,
                                      "gflop": w.flops() / 1e9} for n, w in workloads.items()},
                    "results": rows, "targets": goals, "notes": notes, "wall_s": elapsed}
        Path(args.json_out).write_text(json.dumps(document, indent=2) + "\n")
        print(f"Results written to {args.json_out}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark chainrule against its peers on identical work.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and one repeat: a smoke test")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--impls", default=",".join(IMPLS), help="comma-separated: " + ", ".join(IMPLS))
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per implementation (default 5, quick 1)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--params-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.serve:
        serve(args.serve[0], args.serve[1], args.quick, args.params_dir)
        return 0
    if args.one:
        names, impl = args.one[0].split(","), args.one[1]
        if not all(n in WORKLOADS for n in names) or impl not in IMPLS:
            parser.error(f"--one takes workloads (comma-separated: {', '.join(WORKLOADS)}) and an "
                         f"implementation ({', '.join(IMPLS)})")
        result = [run_one(name, impl, args.quick, args.repeats, args.params_dir) for name in names]
        print(json.dumps(result) if args.json else result)
        return 0
    return main_parent(args)


if __name__ == "__main__":
    sys.exit(main())
