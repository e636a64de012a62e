"""Run under ``mpiexec -n 2``: ``chainrule train`` whose last rank fails in its 5th training step.

    mpiexec -n 2 python tests/mpi/train_fails.py raise|die|interrupt OUT_FOLDER

raise: the step raises an exception; die: the process ends at once (os._exit), as a crash would;
interrupt: a Ctrl-C that reached only the last rank, while it reads the data (the others wait).
"""

from __future__ import annotations

import os
import sys

from mpi4py import MPI

from chainrule import cli, training
from chainrule.cli import main

comm = MPI.COMM_WORLD
how, out = sys.argv[1], sys.argv[2]
if comm.Get_rank() == comm.Get_size() - 1 and how == "interrupt":
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    cli._load_data = interrupted
elif comm.Get_rank() == comm.Get_size() - 1:
    gradients, calls = training.gradients, [0]

    def failing(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 5:
            if how == "die":
                os._exit(3)
            raise MemoryError("this rank ran out of memory on purpose")
        return gradients(*args, **kwargs)

    training.gradients = failing
sys.exit(main(["train", "--num-epochs", "50", "--out", out, "--quiet"]))
