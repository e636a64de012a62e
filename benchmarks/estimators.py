#!/usr/bin/env python
"""chainrule's scikit-learn estimator against scikit-learn's own MLP, as a practitioner uses them.

    python benchmarks/estimators.py [--quick] [--workloads digits,cancer,mnist128] [--seeds N]
                                    [--blas-threads N] [--profile dnn|mlp]

``chainrule.sklearn.DNNClassifier`` and ``sklearn.neural_network.MLPClassifier`` are given X as
(n_samples, n_features) and y as labels, ``fit(X, y)``, and the same training: the same
hidden layers and activation, Adam with the same learning rate (β1 0.9, β2 0.999, ε 1e-8), the
same batch size and number of epochs, shuffled every epoch, no L2 (``lambd=0`` / ``alpha=0``)
and no early stopping (MLPClassifier: ``tol=0``, ``n_iter_no_change=10**9``,
``early_stopping=False``, ``max_iter=epochs``; its ``ConvergenceWarning`` is silenced). Each
keeps its own initialisation (chainrule He, scikit-learn Glorot uniform) and its own shuffling,
from the seed of the repeat (``seed`` / ``random_state``).

Workloads
    digits    scikit-learn's load_digits, 75/25 split (stratified), StandardScaler fitted on the
              train part; 64-64-10 relu/softmax, batch 64, 100 epochs, lr 0.001
    cancer    load_breast_cancer, the same split and scaling; 30-32-1 relu/sigmoid, batch 32,
              100 epochs, lr 0.001
    mnist128  bench.py's MNIST-sized synthetic data (``make_data``: standard normal float32 rows,
              labels the argmax of a fixed random linear map), 60 000 train + 10 000 test rows,
              784-256-128-10 relu/softmax, batch 128, 3 epochs, lr 0.001

The data are given as they come: float64 for the two scikit-learn sets, float32 for mnist128.
Each estimator trains in the dtype it chooses (the table's ``dtype``): DNNClassifier casts X to
float64 (``validate_data(dtype=np.float64)``), MLPClassifier keeps float32. That is what users
get, so that is what is timed.

Every repeat r trains both estimators once with seed r (5 seeds for digits and cancer, 3 for
mnist128; 2 each with ``--quick``), the order alternating (DNN, MLP, then MLP, DNN, …) so that
a slow spell of a shared machine falls on both. Only ``fit(X, y)`` is
timed (its validation and conversions included); the accuracies are ``score`` on the train
and test parts after it. The table shows the median over the repeats of the seconds per epoch
(wall and CPU: CPU counts every BLAS thread, so it can exceed wall), ``MLP/DNN`` (the median
of the per-repeat ratios MLP time / DNN time; above 1: DNNClassifier is faster) and the mean
accuracies over the seeds. ``--blas-threads N`` limits NumPy's BLAS to N threads
(threadpoolctl) for both: on a busy shared machine one thread is far steadier than threads
that wait for each other. Not a test: nothing about time is asserted. ``--profile IMPL`` runs
one fit of that estimator per workload under cProfile instead and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import math
import os
import platform
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from bench import WORKLOADS as BENCH_WORKLOADS
from bench import make_data

IMPLS = ("dnn", "mlp")
NAMES = {"dnn": "chainrule DNNClassifier", "mlp": "sklearn MLPClassifier"}
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]        # X_train, X_test, y_train, y_test


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    learning_rate: float
    load: Callable[[bool], Data]
    quick_epochs: int
    seeds: int


def _split_scaled(X: np.ndarray, y: np.ndarray) -> Data:
    """75/25 stratified split (random_state 0), StandardScaler fitted on the train part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def load_digits(quick: bool) -> Data:
    from sklearn.datasets import load_digits
    return _split_scaled(*load_digits(return_X_y=True))


def load_cancer(quick: bool) -> Data:
    from sklearn.datasets import load_breast_cancer
    return _split_scaled(*load_breast_cancer(return_X_y=True))


def load_mnist(quick: bool) -> Data:
    """bench.py's synthetic MNIST-sized rows (float32): 60 000 to train, 10 000 to test (quick: 8 192 + 2 048)."""
    train, test = (8192, 2048) if quick else (60_000, 10_000)
    X, labels = make_data(dataclasses.replace(BENCH_WORKLOADS["mnist128"], m=train + test))
    return X[:train], X[train:], labels[:train], labels[train:]


WORKLOADS = {
    "digits": Workload("digits", "load_digits 1347+450, 64-64-10 relu/softmax, batch 64, Adam lr 0.001",
                       (64,), 64, 100, 0.001, load_digits, 30, 5),
    "cancer": Workload("cancer", "load_breast_cancer 426+143, 30-32-1 relu/sigmoid, batch 32, Adam lr 0.001",
                       (32,), 32, 100, 0.001, load_cancer, 30, 5),
    "mnist128": Workload("mnist128", "synthetic 60 000+10 000 x 784 float32, 784-256-128-10 relu/softmax, "
                                     "batch 128, Adam lr 0.001", (256, 128), 128, 3, 0.001, load_mnist, 1, 3),
}


def make_estimator(impl: str, w: Workload, epochs: int, seed: int):
    """The estimator ``impl`` with the workload's training (see the module's docstring)."""
    if impl == "dnn":
        from chainrule.sklearn import DNNClassifier
        return DNNClassifier(hidden_layers=w.hidden, hidden_activation="relu", optimizer="adam",
                             learning_rate=w.learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8,
                             num_epochs=epochs, mini_batch_size=w.batch_size, batches="shuffled", lambd=0.0,
                             seed=seed)
    from sklearn.neural_network import MLPClassifier
    return MLPClassifier(hidden_layer_sizes=w.hidden, activation="relu", solver="adam",
                         learning_rate_init=w.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                         batch_size=w.batch_size, max_iter=epochs, shuffle=True, alpha=0.0, tol=0.0,
                         n_iter_no_change=10**9, early_stopping=False, random_state=seed)


def trained_dtype(impl: str, clf) -> str:
    return str((clf.params_[0][0] if impl == "dnn" else clf.coefs_[0]).dtype)


def timed_fit(impl: str, w: Workload, data: Data, epochs: int, seed: int) -> dict:
    X_train, X_test, y_train, y_test = data
    clf = make_estimator(impl, w, epochs, seed)
    cpu, wall = time.process_time(), time.perf_counter()
    clf.fit(X_train, y_train)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    epochs_run = clf.n_iter_
    return {"wall": wall / epochs_run, "cpu": cpu / epochs_run, "epochs": epochs_run,
            "train": clf.score(X_train, y_train), "test": clf.score(X_test, y_test),
            "dtype": trained_dtype(impl, clf)}


def warm_up(w: Workload, data: Data) -> None:
    """One tiny untimed fit of each, so that imports and first-call costs fall outside the timing."""
    X_train, _, y_train, _ = data
    few = slice(0, min(len(y_train), 4 * w.batch_size))
    for impl in IMPLS:
        make_estimator(impl, w, 1, 0).fit(X_train[few], y_train[few])


def run_workload(w: Workload, seeds: int | None, quick: bool) -> dict:
    data = w.load(quick)
    seeds = seeds or (2 if quick else w.seeds)
    epochs = w.quick_epochs if quick else w.epochs
    warm_up(w, data)
    runs: dict[str, list[dict]] = {impl: [] for impl in IMPLS}
    for seed in range(seeds):
        order = IMPLS if seed % 2 == 0 else IMPLS[::-1]          # A, B, then B, A, …
        for impl in order:
            runs[impl].append(timed_fit(impl, w, data, epochs, seed))
            time.sleep(0.2)                                      # the last run's BLAS threads go idle
    ratios = {kind: statistics.median(m[kind] / d[kind] for d, m in zip(runs["dnn"], runs["mlp"]))
              for kind in ("wall", "cpu")}
    return {"workload": w, "epochs": epochs, "shape": (data[0].shape, data[1].shape[0]),
            "in_dtype": str(data[0].dtype), "runs": runs, "ratios": ratios}


def summary(runs: list[dict]) -> dict:
    return {"wall": statistics.median(r["wall"] for r in runs), "best": min(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs), "train": statistics.mean(r["train"] for r in runs),
            "test": statistics.mean(r["test"] for r in runs), "dtype": runs[0]["dtype"],
            "test_se": statistics.stdev(r["test"] for r in runs) / len(runs) ** 0.5 if len(runs) > 1 else math.nan,
            "epochs": runs[0]["epochs"]}


def print_table(results: list[dict]) -> None:
    header = (f"{'workload':9} {'estimator':24} {'dtype':7} {'epochs':>6} {'ms/epoch wall':>13} {'best':>8} "
              f"{'ms/ep CPU':>9} {'MLP/DNN wall':>12} {'CPU':>5} {'train acc':>9} {'test acc':>8}")
    print(header)
    print("-" * len(header))
    for result in results:
        w = result["workload"]
        for impl in IMPLS:
            s = summary(result["runs"][impl])
            ratio_wall = f"{result['ratios']['wall']:.2f}" if impl == "dnn" else ""
            ratio_cpu = f"{result['ratios']['cpu']:.2f}" if impl == "dnn" else ""
            print(f"{w.name:9} {NAMES[impl]:24} {s['dtype']:7} {s['epochs']:>6} {1e3 * s['wall']:>13.1f} "
                  f"{1e3 * s['best']:>8.1f} {1e3 * s['cpu']:>9.1f} {ratio_wall:>12} {ratio_cpu:>5} "
                  f"{s['train']:>9.4f} {s['test']:>8.4f}")
    print()
    for result in results:
        w, (train_shape, n_test) = result["workload"], result["shape"]
        dnn, mlp = summary(result["runs"]["dnn"]), summary(result["runs"]["mlp"])
        ratio = result["ratios"]["wall"]
        print(f"{w.name}: {w.title}; X {train_shape[0]} x {train_shape[1]} {result['in_dtype']} "
              f"(+{n_test} test), {len(result['runs']['dnn'])} seeds")
        print(f"  speed: MLP/DNN wall {ratio:.2f} (target >= 1.5: {'met' if ratio >= 1.5 else 'NOT met'})")
        for part in ("train", "test"):
            ok = dnn[part] >= mlp[part]
            spread = (f"; standard errors over the seeds {dnn['test_se']:.4f} and {mlp['test_se']:.4f}"
                      if part == "test" else "")
            print(f"  {part} accuracy: DNN {dnn[part]:.4f}, MLP {mlp[part]:.4f} "
                  f"(target DNN >= MLP: {'met' if ok else 'NOT met'}{spread})")


def profile(impl: str, names: list[str], quick: bool, top: int = 25) -> None:
    for name in names:
        w = WORKLOADS[name]
        data = w.load(quick)
        warm_up(w, data)
        clf = make_estimator(impl, w, w.quick_epochs if quick else w.epochs, 0)
        profiler = cProfile.Profile()
        profiler.runcall(clf.fit, data[0], data[2])
        print(f"=== {name}: {NAMES[impl]}.fit under cProfile (top {top} by own time) ===")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer epochs (30, 30, 1), mnist128 on 8 192 rows, 2 seeds: under a minute")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--seeds", type=int, default=None,
                        help="repeats, one seed each (default 5 for digits and cancer, 3 for mnist128; quick 2)")
    parser.add_argument("--blas-threads", type=int, default=None, help="limit NumPy's BLAS to this many threads")
    parser.add_argument("--profile", choices=IMPLS, help="profile one fit of this estimator per workload instead")
    args = parser.parse_args(argv)
    names = args.workloads.split(",")
    if not all(n in WORKLOADS for n in names):
        parser.error(f"--workloads takes a comma-separated subset of {', '.join(WORKLOADS)}")
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.blas_threads, user_api="blas")
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)               # max_iter is the number of epochs
    if args.profile:
        profile(args.profile, names, args.quick)
        return 0
    import sklearn
    start = time.perf_counter()
    print(f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}; {'quick' if args.quick else 'full'} run, BLAS threads "
          f"{args.blas_threads or 'default'}, load average {os.getloadavg()[0]:.1f}")
    results = [run_workload(WORKLOADS[name], args.seeds, args.quick) for name in names]
    print()
    print_table(results)
    print(f"\nwall time {time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
