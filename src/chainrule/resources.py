"""How much memory a network needs, estimated before anything is allocated, so that a network
too large for the machine is refused with the figure instead of failing deep inside NumPy.

The estimate counts the arrays of one training run, in bytes of the compute dtype:

    parameters W[l], b[l]                      P = Σ_l n_l (n_{l-1} + 1) values
    their gradients dW, db, the optimizer's
    averages (v, s), the optimizer's output
    buffers and early stopping's best copy     up to 6 P more
    per mini-batch of b examples: Z[l], A[l],
    dZ[l], dA[l] and the dropout mask D[l]     5 b Σ_{l≥1} n_l
    the cost and accuracy over all m examples  2 m Σ_{l≥1} n_l

It is an upper bound within a small factor (buffers are reused where the workspace allows),
meant to tell "this cannot fit" from "this may fit", not to plan memory to the byte.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["available_memory", "check_memory", "training_bytes"]

GIB = 2 ** 30


def training_bytes(layer_dims: Sequence[int], m: int, batch: int | None = None, itemsize: int = 8) -> int:
    """The bytes a training run of the network ``layer_dims`` on ``m`` examples in batches of
    ``batch`` (None: all m) needs at most, in a dtype of ``itemsize`` bytes (see the module)."""
    dims = [int(n) for n in layer_dims]
    P = sum(n * (n_prev + 1) for n_prev, n in zip(dims, dims[1:]))
    units = sum(dims[1:])
    b = m if batch is None else min(int(batch), m)
    return itemsize * (7 * P + 5 * b * units + 2 * m * units)


def available_memory() -> int | None:
    """The bytes this process may still allocate: the least of the system's available memory
    and a container's limit (cgroup) where these can be read; None where none can."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         (v1 + "limit_in_bytes", v1 + "usage_in_bytes")):
        try:
            limits.append(int(Path(limit).read_text()) - int(Path(usage).read_text()))
        except (OSError, ValueError):
            continue
    return min(limits) if limits else None


def check_memory(need: int, what: str, hint: str, available: int | None = None) -> None:
    """A ``ValueError`` when ``need`` bytes exceed the memory available (``available_memory()``
    unless given), in one sentence: "{what} needs about N GiB, and this machine has M GiB
    available; {hint}". Nothing when the available memory cannot be read."""
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise ValueError(f"{what} needs about {_size(need)}, and this machine has {_size(available)} available; "
                         f"{hint}")


def _size(n: int) -> str:
    """n bytes in MiB, GiB, TiB or PiB, three significant digits: "526 GiB"."""
    for unit, power in (("PiB", 50), ("TiB", 40), ("GiB", 30)):
        if n >= 2 ** power:
            return f"{n / 2 ** power:,.3g} {unit}"
    return f"{n / 2 ** 20:.3g} MiB"
