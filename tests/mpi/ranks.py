"""Run under ``mpiexec -n K``: fit(comm=MPI.COMM_WORLD) on uneven shards against one process.

    mpiexec -n K python tests/mpi/ranks.py OUT.json SIZES     (SIZES: m_0,m_1,… summing to 400)
    mpiexec -n K python tests/mpi/ranks.py OUT.json fail      (rank K-1 raises in its 5th step)

Several checks in one launch (MPI starts in a second or two). Rank 0 also trains one process
on all the data and writes, per check, the largest relative difference of the parameters
and of the history; every rank writes whether its parameters equal rank 0's bit for bit.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from mpi4py import MPI

import chainrule as cr
from chainrule import training
from chainrule.distributed import RankFailed

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
data = cr.datasets.planar_flower()                       # 400 examples, X (2, 400)
CHECKS = {
    # full batch, gradient descent: 2 000 epochs at α = 0.1
    "full_batch_gd": (cr.ModelConfig([2, 4, 1], "tanh", "sigmoid"),
                      cr.TrainConfig(learning_rate=0.1, num_epochs=2000, seed=1)),
    # mini-batches of 32 (a shuffled global schedule), Adam, dropout and L2 on two hidden layers
    "adam_dropout_l2": (cr.ModelConfig([2, 5, 4, 1], "relu", "sigmoid"),
                        cr.TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=50, mini_batch_size=32,
                                       keep_prob=0.8, lambd=0.7, seed=3)),
    # validation shards and early stopping: the records, and so the stop, are global
    "early_stopping": (cr.ModelConfig([2, 4, 1], "tanh", "sigmoid"),
                       cr.TrainConfig(optimizer="momentum", learning_rate=0.5, num_epochs=300, mini_batch_size=64,
                                      patience=5, seed=4)),
}


def shard(A: np.ndarray, sizes: list[int]) -> np.ndarray:
    return np.split(A, np.cumsum(sizes)[:-1], axis=-1)[rank]


def relative(a: list, b: list) -> float:
    return max(float(np.max(np.abs(p - q)) / np.max(np.abs(q))) for P, Q in zip(a, b) for p, q in zip(P, Q))


def main(out: str, how: str) -> None:
    X, Y = data.X[:, :320], data.Y[:, :320]               # training part
    X_val, Y_val = data.X[:, 320:], data.Y[:, 320:]       # validation part (80)
    if how == "fail":
        fail_in_fifth_step()
        sizes, val_sizes = even(320), even(80)
    else:
        sizes = [int(s) for s in how.split(",")]
        sizes = [round(s * 320 / 400) for s in sizes[:-1]] + [320 - sum(round(s * 320 / 400) for s in sizes[:-1])]
        val_sizes = even(80)
    report = {"sizes": sizes}
    try:
        for name, (config, train) in CHECKS.items():
            validation = (shard(X_val, val_sizes), shard(Y_val, val_sizes)) if name == "early_stopping" else None
            result = cr.fit(config, shard(X, sizes), shard(Y, sizes), train, validation_data=validation, comm=comm)
            flat = np.concatenate([a.ravel() for layer in result.params for a in layer])
            everyone = comm.allreduce([(rank, flat.tobytes())])
            report[name] = {"same_on_every_rank": len({b for _, b in everyone}) == 1,
                            "epochs": len(result.history)}
            if rank == 0:
                one = cr.fit(config, X, Y, train, validation_data=None if validation is None else (X_val, Y_val))
                costs = np.array(result.history.cost), np.array(one.history.cost)
                report[name].update(
                    params=relative(result.params, one.params),
                    cost=float(np.max(np.abs(costs[0] - costs[1]) / costs[1])) if len(costs[0]) == len(costs[1])
                    else float("inf"),
                    accuracy=float(np.max(np.abs(np.array(result.history.accuracy) - one.history.accuracy)))
                    if len(costs[0]) == len(costs[1]) else float("inf"),
                    epochs_one=len(one.history))
    except RankFailed as exc:
        report["error"] = f"RankFailed: {exc}"
    except RuntimeError as exc:
        report["error"] = f"RuntimeError: {exc}"
    with open(f"{out}.{rank}", "w") as handle:
        json.dump(report, handle)


def even(m: int) -> list[int]:
    K = comm.Get_size()
    return [m // K + (k < m % K) for k in range(K)]


def fail_in_fifth_step() -> None:
    """The last rank's training step raises in its fifth call (a rank that fails mid-epoch)."""
    if rank != comm.Get_size() - 1:
        return
    gradients, calls = training.gradients, [0]

    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:
            raise RuntimeError(f"rank {rank} failed on purpose in its 5th step")
        return gradients(*args, **kwargs)

    training.gradients = failing


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
