"""Data-parallel training: K ranks, each holding a shard of the examples, one global J.

With K ranks holding m_k examples each, m = Σ_k m_k, the gradient of J = (1/m) Σ_i L⁽ⁱ⁾ is

    ∂J/∂W[l] = (1/m) Σ_k S_k,   S_k = Σ_{i in shard k} dZ[l]⁽ⁱ⁾ A[l-1]⁽ⁱ⁾ᵀ

so every rank computes its share (1/m) S_k with the GLOBAL m (``linear_backward``'s ``m``:
the one 1/m of J, given the global number) and one Allreduce sums the shares. Averaging the
ranks' own means, (1/K) Σ_k (1/m_k) S_k, weighs every example of a small shard more than
one of a large shard: it is the gradient of another function, and equals ∂J/∂W only when
every m_k is the same.

A communicator is any object with mpi4py's ``Get_rank()``, ``Get_size()``, ``Allreduce(send,
recv)`` (sum of buffers) and ``allreduce(obj)`` (sum of Python objects): ``MPI.COMM_WORLD``, or
``ThreadComm`` here, which runs K ranks as K threads of one process (for tests and for
``chainrule compare --shards``, anywhere). Nothing here imports mpi4py.

Rank k holds the global examples [offset_k, offset_k + m_k), the ranks in order: rank 0 the
first m_0 columns of the global X, rank 1 the next m_1, and so on; or, given ``examples``, any
of them, each rank its own (the global index of each of its columns, increasing), as a rank
that read its rows of a file before the split holds. The schedule of batches is
the global one a single process draws from the seed; each rank trains on the examples of each
batch that it holds, and draws the batch's dropout masks whole, keeping its columns. A run on
K ranks is then a single-process run of the same seed, to rounding (the sums are added in
another order).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .batches import ColumnsOf, shard_part
from .collective import ShardsRefused, everyone, gathered
from .losses import cost_from_loss, get_output
from .model import _forward, count_correct

STATS = ("data", "correct", "labels", "m", "failed")     # the numbers that travel after the gradients


class RankFailed(RuntimeError):
    """Another rank failed during a step: every rank stops, the failing one with its own error."""


class _OtherRank(NamedTuple):
    """Stands for a callback of another rank that asked to stop, with its reason."""

    stop_reason: str


class Shard(NamedTuple):
    """This rank's place in the global data.

    rank, size : int          this rank and the number of ranks
    examples : (m,) int64     the global index of each of this rank's columns, increasing
    m : int                   the examples this rank holds (its shard's columns)
    n : int                   the global number of examples (the n of L2 and of the cost)
    sizes : tuple of int      every rank's m_k, in rank order
    """

    rank: int
    size: int
    examples: np.ndarray
    m: int
    n: int
    sizes: tuple


def agree(comm: Any, check: Callable[[], Any], m: int, what: str = "X", examples: Any = None
          ) -> tuple[Any, Shard]:
    """Run this rank's ``check()`` and learn every rank's shard size, collectively.

    Every rank calls this together. A shard with no examples, or a ``check`` that raises a
    ``ValueError`` on any rank (wrong rows, NaN, another dtype than rank 0's), makes every
    rank raise the same one-sentence ``ValueError`` naming the rank, before any training.
    ``examples`` (every rank's, or none): the global index of each of this rank's m columns,
    increasing; together the ranks' must be 0 … n − 1, each once.

    Returns (what ``check()`` returned, this rank's Shard).
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    result, error, dtype = None, None, None
    if m == 0:
        error = f"its shard of {what} holds no examples; every rank needs at least one"
    else:
        try:
            result = check()
            dtype = str(result[0].dtype)
            if examples is not None:
                examples = _checked_examples(examples, m)
        except ValueError as exc:
            error = str(exc)
    ranks = [(r, *v) for r, v in enumerate(everyone(comm, (m, dtype, error, examples is not None)))]
    failures = [f"rank {r}: {e}" for r, _, _, e, _ in ranks if e is not None]
    if not failures and len({d for _, _, d, _, _ in ranks}) > 1:
        failures = ["the ranks' shards differ in dtype: " + ", ".join(f"rank {r} {d}" for r, _, d, _, _ in ranks)]
    if not failures and len({g for *_, g in ranks}) > 1:
        failures = ["examples must be given on every rank (the global index of each of its columns) or on none"]
    if failures:
        raise ShardsRefused("; ".join(failures))
    sizes = tuple(m_k for _, m_k, _, _, _ in ranks)
    n = sum(sizes)
    if examples is None:
        examples = np.arange(sum(sizes[:rank]), sum(sizes[:rank + 1]))
    else:
        _check_cover(comm, examples, n)
    return result, Shard(rank, size, examples, m, n, sizes)


def _checked_examples(examples: Any, m: int) -> np.ndarray:
    """``examples`` as (m,) int64: the global index of each of a rank's m columns, increasing."""
    examples = np.asarray(examples)
    if examples.shape != (m,) or not np.issubdtype(examples.dtype, np.integer):
        raise ValueError(f"examples must be the global index of each of its {m} columns, {m} integers; got "
                         f"{examples.dtype} of shape {examples.shape}")
    if np.any(np.diff(examples) <= 0) or examples[0] < 0:
        raise ValueError("examples must be increasing global indices from 0 (the columns in global order)")
    return examples.astype(np.int64)


def _check_cover(comm: Any, examples: np.ndarray, n: int) -> None:
    """Refuse, on every rank, examples that do not give each global index 0 … n − 1 to one rank."""
    counts = np.zeros(n, dtype=np.int32)
    counts[examples[examples < n]] = 1
    total = np.empty_like(counts)
    comm.Allreduce(counts, total)
    wrong = np.flatnonzero(total != 1)                 # n examples, all within 0 … n − 1: only then none
    if wrong.size:
        i = int(wrong[0])
        raise ShardsRefused(f"the ranks' examples must give each of the {n} global indices 0 … {n - 1} to one rank; "
                            f"index {i} is held by {int(total[i])}")


class Sharding:
    """What a sharded run adds to every step: its part of each global batch, and the sums.

    ``step(params, batch, rng)`` gives the shard's share of a global batch's gradients
    (computed with the batch's global m) and ``reduce`` sums the shares of all ranks, with
    the batch's data cost, correct predictions, labels and m, in one Allreduce of one
    float64 buffer: (number of parameters + 5) × 8 bytes per step.
    """

    def __init__(self, comm: Any, shard: Shard, shapes: Sequence[tuple], n_val: int | None = None):
        self.comm, self.shard, self.n, self.n_val = comm, shard, shard.n, n_val
        sizes = [int(np.prod(s)) for s in shapes]
        self.ends = np.cumsum(sizes)
        self.send = np.zeros(self.ends[-1] + len(STATS))                      # float64
        self.recv = np.empty_like(self.send)

    def step(self, local_step: Callable) -> Callable:
        """The sharded step: ``local_step(params, batch, rng, m)`` on this rank's part of each
        global batch, with the global batch's m and its dropout masks' columns."""
        shard = self.shard

        def step(params, batch, rng):
            local, columns, m = shard_part(batch, shard.examples, shard.n)
            try:
                return local_step(params, local, None if rng is None else ColumnsOf(rng, m, columns), m)
            except BaseException:
                self.fail()                                 # the others must not wait for this rank
                raise

        return step

    def reduce(self, grads: list, data: float, correct: float, labels: float, m: int) -> tuple:
        """Σ over ranks of (∂J/∂W[l], ∂J/∂b[l]) shares, the data cost shares, the correct
        predictions, the labels and the examples of this batch. The gradients are written
        back into ``grads``' arrays (the same objects), in their dtype."""
        send, start = self.send, 0
        for (dW, db), end in zip(grads, self.ends[1::2]):
            middle = start + dW.size
            send[start:middle] = dW.ravel()
            send[middle:end] = db.ravel()
            start = end
        send[start:] = (data, correct, labels, m, 0.0)
        total = self._allreduce()
        for (dW, db), end in zip(grads, self.ends[1::2]):
            middle = end - db.size
            np.copyto(dW, total[middle - dW.size:middle].reshape(dW.shape), casting="same_kind")
            np.copyto(db, total[middle:end].reshape(db.shape), casting="same_kind")
        stats = total[self.ends[-1]:]
        return grads, float(stats[0]), float(stats[1]), float(stats[2]), int(stats[3])

    def fail(self) -> None:
        """Tell the other ranks, in the Allreduce they are waiting in, that this rank failed."""
        self.send[:] = 0.0
        self.send[-1] = 1.0
        self.comm.Allreduce(self.send, self.recv)

    def after_epoch(self, callbacks: Callable[[], tuple], epoch: int) -> tuple:
        """``callbacks()`` (an epoch's callbacks: ``(state, stops)``) on every rank, and one
        allreduce of every rank's outcome: a callback that raised on one rank raises there and
        stops the others with RankFailed (naming the rank and the error); a callback that asks
        one rank to stop stops every rank, each with the lowest such rank's stop reason. Global
        records make the policies agree anyway; a user's callback may not."""
        outcome, error = None, None
        try:
            outcome = callbacks()
        except Exception as exc:
            error = exc
        reason = None if error is not None or not outcome[1] else \
            getattr(outcome[1][0], "stop_reason", "callback")
        ranks = everyone(self.comm, (None if error is None else f"{type(error).__name__}: {error}", reason))
        if error is not None:
            raise error
        failed = [(rank, text) for rank, (text, _) in enumerate(ranks) if text is not None]
        if failed:
            rank, text = failed[0]
            raise RankFailed(f"rank {rank} failed after epoch {epoch} ({text}); every rank stops")
        state, stops = outcome
        reasons = [r for _, r in ranks if r is not None]
        if reasons and (not stops or getattr(stops[0], "stop_reason", "callback") != reasons[0]):
            stops = [_OtherRank(reasons[0]), *stops]
        return state, stops

    def _allreduce(self) -> np.ndarray:
        self.comm.Allreduce(self.send, self.recv)
        if self.recv[-1] > 0:
            raise RankFailed(f"{int(self.recv[-1])} other rank(s) failed during training; every rank stops")
        return self.recv

    def evaluate(self, params: list, X: np.ndarray, Y: np.ndarray, config: Any) -> tuple[float, float]:
        """(J, accuracy) on the global validation set, from each rank's shard (X_val (n_x, m_k))."""
        J, accuracy = cost_and_accuracy(self.comm, params, X, Y, config, self.n_val)
        return J, float("nan") if accuracy is None else accuracy


def cost_and_accuracy(comm: Any, params: list, X: np.ndarray, Y: np.ndarray, config: Any, m: int | None = None
                      ) -> tuple[float, float | None]:
    """(J, accuracy) of all the ranks' examples together, from each rank's X (n_x, m_k), Y (n_y, m_k):
    the shares (1/m) Σ_shard L and the correct predictions, summed over the ranks (collectively;
    m: the global number of examples, summed here when not given). Accuracy is None for an
    identity output."""
    if m is None:
        m = sum(everyone(comm, X.shape[-1]))

    def local():
        AL, caches = _forward(params, X, config)
        share = float(cost_from_loss(get_output(config.output).loss_from_Z(caches[-1].Z, Y), m))
        return share, *(count_correct(AL, Y, config.output) if config.output != "identity" else (0, 0))
    J, right, total = (sum(column) for column in zip(*gathered(comm, local)))       # one allreduce per call
    return J, None if config.output == "identity" else (right / total if total else float("nan"))


def validation_size(comm: Any, validation: tuple | None) -> int | None:
    """The global number of validation examples (None: no rank gives validation data),
    collectively; validation data on some ranks and not others, or with no examples on any
    rank, is refused on every rank (a rank's share may be empty)."""
    have = everyone(comm, (validation is not None, 0 if validation is None else validation[0].shape[-1]))
    if len({h for h, _ in have}) > 1:
        raise ShardsRefused("validation_data must be given on every rank (its shard of the validation set) or on none")
    if have[0][0] and not sum(m for _, m in have):
        raise ShardsRefused("validation_data holds no examples on any rank")
    return sum(m for _, m in have) if have[0][0] else None


# --- K ranks in one process -----------------------------------------------------------------------


WAIT = 120.0
"""Seconds a ThreadComm rank waits for the others in one collective call before the call fails
(``threading.BrokenBarrierError``): a rank that never comes makes an error, not a hang."""


class _Room:
    """What the threads of a ThreadComm share: a barrier and a slot per rank."""

    def __init__(self, size: int):
        self.size, self.barrier, self.slots = size, threading.Barrier(size, timeout=WAIT), [None] * size


class ThreadComm:
    """A communicator of K ranks that are K threads of this process (mpi4py's methods that
    chainrule uses). Sums are added in rank order, so a run is reproducible to the bit."""

    def __init__(self, room: _Room, rank: int):
        self.room, self.rank = room, rank

    def Get_rank(self) -> int:
        return self.rank

    def Get_size(self) -> int:
        return self.room.size

    def _gather(self, value: Any) -> list:
        room = self.room
        room.slots[self.rank] = value
        room.barrier.wait()
        everyone = list(room.slots)
        room.barrier.wait()                                  # everyone has read before anyone writes again
        return everyone

    def Allreduce(self, send: np.ndarray, recv: np.ndarray) -> None:
        everyone = self._gather(send.copy())
        np.copyto(recv, everyone[0])
        for other in everyone[1:]:
            recv += other

    def allreduce(self, value: Any) -> Any:
        everyone = self._gather(value)
        total = everyone[0]
        for other in everyone[1:]:
            total = total + other
        return total

    def Abort(self, errorcode: int = 1) -> None:
        self.room.barrier.abort()


def run_ranks(size: int, work: Callable[[Any], Any]) -> list:
    """``work(comm)`` on ``size`` ranks, each a thread with its ThreadComm; the results in rank
    order. An exception on any rank breaks the others' waits and is raised here (the lowest
    rank's)."""
    room = _Room(size)
    results: list = [None] * size
    errors: list = [None] * size

    def run(rank):
        try:
            results[rank] = work(ThreadComm(room, rank))
        except BaseException as exc:
            errors[rank] = exc
            room.barrier.abort()

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)]
    if failed or any(errors):
        raise (failed or [e for e in errors if e is not None])[0]
    return results


def split(X: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """The columns of X (…, m) cut into consecutive shards of ``sizes`` (Σ sizes = m)."""
    if sum(sizes) != X.shape[-1]:
        raise ValueError(f"shard sizes must add up to the {X.shape[-1]} examples; got {list(sizes)} "
                         f"(sum {sum(sizes)})")
    return np.split(X, np.cumsum(sizes)[:-1], axis=-1)


def world() -> Any:
    """MPI.COMM_WORLD when this process runs under mpiexec with more than one rank, else None;
    mpi4py is imported only then (the environment says so first)."""
    import os
    sizes = [os.environ.get(k) for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")]
    if not any(s is not None and s.isdigit() and int(s) > 1 for s in sizes):
        return None
    from mpi4py import MPI
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


__all__ = ["RankFailed", "Shard", "ShardsRefused", "Sharding", "ThreadComm", "agree", "cost_and_accuracy", "run_ranks",
           "split", "world"]
