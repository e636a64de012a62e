"""Mini-batch schedules and the random streams of a run.

A schedule is a function ``(epoch, m) -> batches``: the index arrays (or slices) of the
examples each step of that epoch trains on, every example exactly once per epoch.

    full_batch()                     one batch of all m examples, in order
    shuffled_batches(size, seed)     a fresh permutation each epoch, cut into batches of size
    course_mini_batches(size)        the course's ``random_mini_batches``, exactly

Randomness comes from one seed. Initialisation, the shuffling of epoch e and the dropout
masks of epoch e each draw from their own stream, ``default_rng([seed, stream, e])``
(initialisation: ``default_rng([seed, INIT_STREAM])``), so that no stream's draws depend on
how many another made, and a run resumed at epoch e draws what an uninterrupted run would.
``dropout_rngs`` gives each step its masks' generator: the epoch's stream, or the course's
``np.random.seed(1)`` before every step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ._checks import check_number

Batches = Callable[[int, int], Iterable[Any]]      # (epoch, m) -> index arrays or slices
INIT_STREAM, SHUFFLE_STREAM, DROPOUT_STREAM = 0, 1, 2
SCHEDULES = ("shuffled", "course")                  # the schedules a TrainConfig names
DROPOUT_MASKS = ("chainrule", "course")             # where a TrainConfig's dropout masks come from
COURSE_DROPOUT_SEED = 1                             # forward_propagation_with_dropout's np.random.seed(1)


def epoch_rng(seed: int, stream: int, epoch: int) -> np.random.Generator:
    """The generator of one stream (shuffling, dropout) in one epoch of a run with ``seed``."""
    return np.random.default_rng([seed, stream, epoch])


def dropout_rngs(seed: int, epoch: int, masks: str = "chainrule") -> Iterator[Any]:
    """The generator each step of an epoch draws its dropout masks from, one per step, forever.

    "chainrule": ``epoch_rng(seed, DROPOUT_STREAM, epoch)`` for every step of the epoch, each
    step drawing where the one before stopped. "course": a legacy RandomState seeded with 1
    afresh for every step, as the course's ``forward_propagation_with_dropout`` calls
    ``np.random.seed(1)`` before its ``np.random.rand(n_l, m)`` of each hidden layer: every
    step of every epoch drops the same units (and the seed plays no part).
    """
    if masks == "course":
        rng = np.random.RandomState()
        while True:
            rng.seed(COURSE_DROPOUT_SEED)                  # np.random.seed(1), at the start of each forward
            yield rng
    rng = epoch_rng(seed, DROPOUT_STREAM, epoch)
    while True:
        yield rng


def _checked(schedule: Batches) -> Batches:
    """Mark a schedule of this module's as known to use every example once (no per-epoch check)."""
    schedule.uses_every_example_once = True
    return schedule


def full_batch() -> Batches:
    """One batch of all m examples per epoch, in order (one step per epoch)."""
    return _checked(lambda epoch, m: [slice(None)])


def _cut(permutation: np.ndarray, mini_batch_size: int) -> list[np.ndarray]:
    """Full batches of ``mini_batch_size`` from the permutation's start, then the remainder."""
    return [permutation[k:k + mini_batch_size] for k in range(0, len(permutation), mini_batch_size)]


def shuffled_batches(mini_batch_size: int, seed: int) -> Batches:
    """Each epoch e a permutation of the m examples from ``epoch_rng(seed, SHUFFLE_STREAM, e)``,
    cut into batches of the given size; the last batch holds the remainder."""
    check_batch_size(mini_batch_size)
    return _checked(lambda epoch, m: _cut(epoch_rng(seed, SHUFFLE_STREAM, epoch).permutation(m), mini_batch_size))


def course_mini_batches(mini_batch_size: int, seed: int = 10) -> Batches:
    """The course's ``random_mini_batches`` as a schedule, seed incremented before each epoch.

    Epoch e (from 0) does ``np.random.seed(seed + 1 + e); permutation(m)`` with its own
    legacy RandomState, and cuts the shuffled examples into full batches of
    ``mini_batch_size`` followed by the remainder: the Optimization assignment's batches,
    exactly, without touching NumPy's global generator.
    """
    check_batch_size(mini_batch_size)
    return _checked(lambda epoch, m: _cut(np.random.RandomState(seed + 1 + epoch).permutation(m), mini_batch_size))


def check_batch_size(mini_batch_size: Any) -> int:
    """``mini_batch_size`` as an int if it is a positive integer, else a clear ``ValueError``."""
    return check_number("mini_batch_size", mini_batch_size, "a positive integer or None",
                        lambda v: v >= 1, integer=True)


def schedule_for(batches: str | Batches, mini_batch_size: int | None, seed: int, m: int) -> Batches:
    """The schedule of a run: a function given as ``batches``, its every epoch checked by
    ``epoch_batches``; otherwise full batches when ``mini_batch_size`` is None or at least m,
    else "shuffled" (``shuffled_batches`` with the run's seed) or "course"
    (``course_mini_batches``, the course's seeds)."""
    if callable(batches):
        return functools.partial(epoch_batches, batches)
    if mini_batch_size is None or mini_batch_size >= m:
        return full_batch()
    if batches == "course":
        return course_mini_batches(mini_batch_size)
    return shuffled_batches(mini_batch_size, seed)


def epoch_batches(schedule: Batches, epoch: int, m: int) -> list:
    """The epoch's batches from ``schedule``; a user's schedule is checked to use every example
    exactly once, with a clear error naming what it gave."""
    if getattr(schedule, "uses_every_example_once", False):
        return schedule(epoch, m)
    everything = np.arange(m)
    try:
        batches = list(schedule(epoch, m))
    except TypeError as exc:
        raise ValueError(f"the mini-batch schedule must be a function (epoch, m) returning index "
                         f"arrays; calling it failed: {exc}") from None
    used = []
    for batch in batches:
        try:
            indices = everything[batch]
        except (IndexError, TypeError, ValueError):
            raise ValueError(f"the mini-batch schedule gave {batch!r:.60} in epoch {epoch}; expected "
                             f"integer index arrays or slices of 0 … {m - 1}") from None
        if indices.ndim != 1:
            raise ValueError(f"the mini-batch schedule gave a batch of shape {indices.shape} in epoch "
                             f"{epoch}; expected 1-D index arrays")
        used.append(indices)
    counts = np.bincount(np.concatenate(used or [np.zeros(0, np.int64)]), minlength=m)
    if not np.all(counts == 1):
        i = int(np.argmax(counts != 1))
        raise ValueError(f"the mini-batch schedule must use every example once per epoch; in epoch "
                         f"{epoch} example {i} is used {counts[i]} times")
    return [b if isinstance(b, slice) else u for b, u in zip(batches, used) if len(u)]


# --- shards: one global schedule, each rank its part ----------------------------------------------


def shard_part(batch: Any, examples: np.ndarray, n: int) -> tuple[Any, Any, int]:
    """This rank's part of a global batch, when the rank holds the global examples ``examples``.

    Parameters
    ----------
    batch : index array or slice of the global examples 0 … n − 1
        One batch of the global schedule, the one a single process would train on.
    examples : (m_local,) int array, increasing
        The global index of each of the rank's columns.
    n : int
        The global number of examples.

    Returns
    -------
    local : index array (or ``slice(None)`` for the full batch)
        The batch's examples that this rank holds, as indices into its columns, in the order
        they have in the batch.
    columns : index array or slice
        Their positions in the global batch: the columns of the global batch's dropout masks
        that belong to this rank.
    m : int
        The global batch's number of examples: the m of its J.
    """
    if isinstance(batch, slice) and batch == slice(None):
        first, last = int(examples[0]), int(examples[-1])
        return slice(None), slice(first, last + 1) if last - first + 1 == len(examples) else examples, n
    indices = np.arange(n)[batch] if isinstance(batch, slice) else np.asarray(batch)
    where = np.minimum(np.searchsorted(examples, indices), len(examples) - 1)
    columns = np.flatnonzero(examples[where] == indices)
    return where[columns], columns, len(indices)


class ColumnsOf:
    """A generator that draws the global batch's array and gives this rank's columns of it.

    ``random((n_l, m_local))`` draws ``rng.random((n_l, m))``, the (n_l, m) uniforms a single
    process draws for the whole batch of m examples, and returns ``[:, columns]``: the masks of
    a sharded run are the single process's masks, column for column, and every rank's
    generator stays in step with the others'.
    """

    def __init__(self, rng: Any, m: int, columns: Any):
        self.rng, self.m, self.columns = rng, m, columns

    def random(self, shape: tuple[int, int]) -> np.ndarray:
        return self.rng.random((shape[0], self.m))[:, self.columns]
