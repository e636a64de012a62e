"""What every rank does together: learn every rank's value, and fail together.

A communicator is any object with mpi4py's ``Get_rank()``, ``Get_size()`` and ``allreduce(obj)``
(the sum of Python objects, which for lists is their concatenation): ``MPI.COMM_WORLD``, or
``distributed.ThreadComm``. Every rank must make the same calls in the same order; a rank that
raises while the others wait in a call would leave them waiting, so work that may fail on some
ranks runs through ``together``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Refused(ValueError):
    """Raised on every rank alike: what one rank refused, every rank stops on."""


class ShardsRefused(Refused):
    """Raised on every rank alike when a rank's shard (its data) is refused."""


def everyone(comm: Any, value: Any) -> list:
    """Every rank's ``value``, in rank order (collectively)."""
    pairs = comm.allreduce([(comm.Get_rank(), value)])
    return [v for _, v in sorted(pairs, key=lambda pair: pair[0])]


def together(comm: Any, work: Callable[[], Any]) -> Any:
    """``work()`` on every rank; a ValueError on any rank is raised on every rank as Refused,
    with the lowest failing rank's message (collectively). ``work`` must make no collective
    call itself: a rank that failed before one would meet the others in the wrong call."""
    result, error = _attempt(work)
    _refuse(everyone(comm, error))
    return result


def gathered(comm: Any, work: Callable[[], Any]) -> list:
    """Every rank's ``work()``, in rank order, in one collective call (small results: every
    rank receives all); a ValueError on any rank is Refused on every rank, as in ``together``."""
    outcomes = everyone(comm, _attempt(work))
    _refuse([error for _, error in outcomes])
    return [result for result, _ in outcomes]


def _attempt(work: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return work(), None
    except ValueError as exc:
        return None, str(exc)


def _refuse(errors: list) -> None:
    failed = [e for e in errors if e is not None]
    if failed:
        raise Refused(failed[0])


__all__ = ["Refused", "ShardsRefused", "everyone", "gathered", "together"]
