#!/usr/bin/env python
"""Data-parallel chainrule on this machine: time per epoch and the share spent in Allreduce.

    python benchmarks/mpi.py [--ranks 1,2] [--epochs 2] [--quick] [--threads N]

The MNIST-sized workload of ``bench.py`` (``WORKLOADS["mnist128"]``: 60 000 × 784 synthetic,
784-256-128-10 relu/softmax, mini-batches of 128, SGD α = 0.1, float32) trained by
``fit(comm=MPI.COMM_WORLD)`` on 1, 2, … ranks (``mpiexec -n K``, one launch each), every rank
holding a consecutive shard of the examples. Each rank times its Allreduce calls (a thin
wrapper around the communicator); the table shows the slowest rank's epoch time and the
share of it spent in Allreduce: waiting for the other ranks as well as moving bytes.

Per step every rank allreduces one float64 buffer of (parameters + 5) numbers:
(235 146 + 5) × 8 B ≈ 1.9 MB for this network, 469 steps per epoch. Ranks on one machine
share its cores and its memory bandwidth: set ``--threads`` (BLAS threads per rank) so that
ranks × threads ≤ cores, or the ranks fight over the cores and nothing is measured but that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


class TimedComm:
    """A communicator that adds up the seconds spent in Allreduce/allreduce."""

    def __init__(self, comm):
        self.comm, self.seconds, self.calls = comm, 0.0, 0

    def __getattr__(self, name):
        return getattr(self.comm, name)

    def Allreduce(self, send, recv):
        start = time.perf_counter()
        self.comm.Allreduce(send, recv)
        self.seconds += time.perf_counter() - start
        self.calls += 1

    def allreduce(self, value):
        start = time.perf_counter()
        total = self.comm.allreduce(value)
        self.seconds += time.perf_counter() - start
        return total


def rank_main(args) -> None:
    """One rank of ``mpiexec -n K``: train, and rank 0 prints one JSON line of the slowest rank's figures."""
    import numpy as np
    from mpi4py import MPI

    sys.path.insert(0, str(HERE.parent))
    from bench import get_workload, make_data, one_hot_cols

    import chainrule as cr

    w = get_workload("mnist128", args.quick)
    rows, labels = make_data(w)
    comm = TimedComm(MPI.COMM_WORLD)
    K, rank = comm.Get_size(), comm.Get_rank()
    part = np.array_split(np.arange(w.m), K)[rank]
    X = rows[part[0]:part[-1] + 1].T                       # (784, m_k) of this rank, examples contiguous
    Y = one_hot_cols(labels[part[0]:part[-1] + 1], w.layer_dims[-1], X.dtype)
    config = cr.ModelConfig(list(w.layer_dims), w.hidden, w.output)
    train = cr.TrainConfig(optimizer="gd", learning_rate=w.learning_rate, num_epochs=args.epochs,
                           mini_batch_size=w.batch_size, seed=0)
    comm.comm.Barrier()
    start = time.perf_counter()
    result = cr.fit(config, X, Y, train, comm=comm)
    total = time.perf_counter() - start
    everyone = comm.comm.allreduce([(total, comm.seconds, comm.calls)])
    if rank == 0:
        slowest = max(everyone)
        params = sum(W.size + b.size for W, b in result.params)
        print(json.dumps({"ranks": K, "m": w.m, "epochs": args.epochs, "epoch_s": slowest[0] / args.epochs,
                          "allreduce_share": slowest[1] / slowest[0], "steps": slowest[2],
                          "bytes_per_step": (params + 5) * 8, "cost": float(result.history.cost[-1])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads per rank (default: cores / ranks)")
    parser.add_argument("--quick", action="store_true", help="2 048 examples instead of 60 000")
    parser.add_argument("--rank", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank:
        return rank_main(args)
    mpiexec = Path(sys.executable).parent / "mpiexec"
    print(f"{'ranks':>5}  {'s / epoch':>10}  {'Allreduce share':>15}  {'MB / step':>9}  {'final cost':>10}")
    for K in (int(k) for k in args.ranks.split(",")):
        threads = str(args.threads or max(1, (os.cpu_count() or 1) // K))
        env = {**os.environ, **{v: threads for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
        command = [str(mpiexec), "-n", str(K), sys.executable, str(HERE), "--rank", "--epochs", str(args.epochs),
                   *(["--quick"] if args.quick else [])]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{r['ranks']:>5}  {r['epoch_s']:>10.3f}  {100 * r['allreduce_share']:>14.1f}%  "
              f"{r['bytes_per_step'] / 1e6:>9.2f}  {r['cost']:>10.6f}")


if __name__ == "__main__":
    main()
