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
    result, error = None, None
    try:
        result = work()
    except ValueError as exc:
        error = str(exc)
    failed = [e for e in everyone(comm, error) if e is not None]
    if failed:
        raise Refused(failed[0])
    return result


__all__ = ["Refused", "ShardsRefused", "everyone", "together"]
