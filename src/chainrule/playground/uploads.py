"""CSV files uploaded by the page: read by ``datasets.load_csv``, kept by id, a bounded number.

The page sends the file's text and the name of its label column; the file is written to a
temporary folder only for ``load_csv`` to read (its separators, UTF-8 checks and one-sentence
refusals are the library's), then the Dataset (X: (n_x, m), Y: (n_y, m)) is kept in memory
under a random id that a spec names (``{"data": {"name": "upload", "upload": id}}``).
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from .. import datasets
from .spec import LIMITS

MAX_UPLOADS = 8
"""Uploads kept at once; the oldest is dropped first."""


class Uploads:
    """Uploaded data sets by id, the ``MAX_UPLOADS`` most recent (thread-safe)."""

    def __init__(self, limit: int = MAX_UPLOADS):
        self.limit = limit
        self.kept: OrderedDict[str, datasets.Dataset] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, body: bytes, label: str, filename: str = "upload.csv") -> tuple[str, datasets.Dataset]:
        """Read ``body`` (a CSV file's bytes) with ``label`` as the label column: (its id, the Dataset)."""
        if len(body) > LIMITS["upload_bytes"]:
            raise ValueError(f"the CSV file is {len(body)} bytes; the playground takes files up to "
                             f"{LIMITS['upload_bytes']} bytes")
        if not label:
            raise ValueError("name the label column of the CSV file (label=…)")
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem)[:60] or "upload"
        with tempfile.TemporaryDirectory(prefix="chainrule-playground-") as folder:
            path = Path(folder) / f"{stem}.csv"
            path.write_bytes(body)
            try:
                data = datasets.load_csv(path, label, regression=False)
            except ValueError as exc:                        # the sentence names the temporary path: not the user's
                raise ValueError(str(exc).replace(str(path), filename)) from None
        if data.X.shape[0] < 2:
            raise ValueError(f"{filename} has one feature; the playground draws two")
        if data.X.shape[1] > LIMITS["m"]:
            raise ValueError(f"{filename} has {data.X.shape[1]} examples; the playground takes up to {LIMITS['m']}")
        if data.X.shape[0] > LIMITS["features"]:
            raise ValueError(f"{filename} has {data.X.shape[0]} features; the playground takes up to "
                             f"{LIMITS['features']}")
        key = secrets.token_hex(8)
        with self.lock:
            self.kept[key] = data
            while len(self.kept) > self.limit:
                self.kept.popitem(last=False)
        return key, data

    def get(self, key: object) -> datasets.Dataset:
        """The Dataset uploaded as ``key``, or a refusal saying to upload the file again."""
        with self.lock:
            if not isinstance(key, str) or key not in self.kept:
                raise ValueError("unknown upload: this server does not have that CSV file (it keeps the "
                                 f"{self.limit} most recent uploads since it started); upload it again")
            self.kept.move_to_end(key)
            return self.kept[key]
