"""What the page downloads: the model file, the history as CSV, the equations as LaTeX.

Each is the library's own format: ``checkpoint.save`` of a ``SavedModel`` (the file
``chainrule summary``, ``predict`` and ``train --resume`` read), the columns of ``EpochRecord``,
and ``explain.render(..., "latex")``.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from .. import explain
from ..checkpoint import SavedModel, save
from ..history import EpochRecord, History


def model_file(model: SavedModel) -> bytes:
    """The bytes of ``model`` written by ``checkpoint.save`` (through a temporary file)."""
    with tempfile.TemporaryDirectory(prefix="chainrule-playground-") as folder:
        return save(Path(folder) / "model.npz", model).read_bytes()


def history_csv(history: History) -> str:
    """One row per epoch: epoch, then every other field of EpochRecord (full precision)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EpochRecord._fields)
    for row in zip(*(getattr(history, name) for name in EpochRecord._fields)):
        writer.writerow([int(row[0]), *(repr(float(v)) for v in row[1:])])
    return buffer.getvalue()


def equations_latex(config, m: int, convention: str, lambd: float, title: str) -> str:
    """``explain.render`` of the network's equations as LaTeX (one align* block per section)."""
    return explain.render(explain.equations(config, m, convention, lambd=lambd), "latex", title=title)
