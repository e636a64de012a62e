"""Each rank's share of a data file, read without the other ranks' rows, and prepared as one
process prepares the whole file.

    read_share(path, label, comm, regression=None)   -> Share: this rank's rows, the global classes
    prepare_share(share, test_fraction, seed, standardize, comm)
                                                      -> Prepared: the split and standardisation

A CSV file's data bytes are cut into K ranges of about equal size, each moved to the start of
a line, and rank k parses range k only (the two readers of ``datasets.load_csv``, with the
file's line numbers in its messages). A quoted cell may hold a line break, which a cut could
split, so a file with a quote character in its data is read whole by every rank and cut by
rows instead (the only case where a rank holds the whole file, while reading). A ``.npy`` file
is memory-mapped, and rank k copies its rows [k·n/K, (k+1)·n/K) only.

What must be global is agreed collectively, so that every rank decides alike and a run on K
ranks prepares exactly the data one process prepares:

- the label's classes (or that it is a number to regress), from every rank's distinct labels
  and their counts: the rule of ``load_csv`` on the whole column;
- the train/test split: the same permutation of the n rows as ``datasets.split`` draws from
  the seed; each rank keeps its rows, and learns their places in the global training order
  (``Prepared.examples``, what ``fit(..., examples=)`` takes);
- the standardizer: ``fit_standardizer(X_train, comm)``, the global mean and standard
  deviation, each rank's sums added in rank order (equal to one process's to rounding).

A mistake found on any rank (a bad cell, a missing label) is raised on every rank, the file's
own message, before anything is trained.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import datasets
from .distributed import ShardsRefused


class Share(NamedTuple):
    """This rank's rows of a data file.

    data : Dataset            X (n_x, m_k) and Y (n_y, m_k) of the rows, with the classes of all the ranks
    offset : int              the global index (the row of the file's data) of this rank's first row
    n : int                   the rows of all the ranks
    """

    data: datasets.Dataset
    offset: int
    n: int


class Prepared(NamedTuple):
    """This rank's part of the split, standardised with the global standardizer.

    X_train (n_x, m_k), Y_train (n_y, m_k)   its training columns, in global training order
    examples (m_k,)                          their global indices among the n_train training examples
    X_test, Y_test                           its test columns
    standardizer                             Standardizer or None
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    examples: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    standardizer: Any


def together(comm: Any, work: Callable[[], Any]) -> Any:
    """``work()`` on every rank; a ValueError on any rank is raised on every rank (the lowest
    failing rank's message), so that no rank goes on to wait for one that stopped."""
    result, error = None, None
    try:
        result = work()
    except ValueError as exc:
        error = str(exc)
    errors = sorted(comm.allreduce([(comm.Get_rank(), error)]), key=lambda pair: pair[0])
    failed = [e for _, e in errors if e is not None]
    if failed:
        raise ShardsRefused(failed[0])
    return result


def _everyone(comm: Any, value: Any) -> list:
    return [v for _, v in sorted(comm.allreduce([(comm.Get_rank(), value)]), key=lambda pair: pair[0])]


# --- reading -------------------------------------------------------------------------------------


def read_share(path: str | Path, label: Any, comm: Any, regression: bool | None = None, *,
               progress: Callable[[int, int], None] | None = None) -> Share:
    """This rank's rows of a CSV or .npy file, the label decided on all the rows (collectively).
    ``progress(done, total)``: this rank's reading (bytes of its range, or rows)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        name, X, texts, codes, names, offset = together(comm, lambda: _npy_share(path, label, comm, progress))
    else:
        name, (X, texts, codes, names, offset) = label, _csv_share(path, label, comm, progress)
    counts = Counter()
    for pairs in _everyone(comm, list(zip(texts, np.bincount(codes, minlength=len(texts)).tolist()))):
        counts.update(dict(pairs))
    everyone_texts = sorted(counts)
    output, classes = together(comm, lambda: datasets._label_kind(
        path, name, everyone_texts, np.array([counts[t] for t in everyone_texts]), regression))
    rows = datasets._label_rows(texts, codes, output, classes)
    n = sum(counts.values())
    return Share(datasets._labelled(path, X, rows, output, classes, names), offset, n)


def _npy_share(path: Path, label: Any, comm: Any, progress):
    A, k, columns = datasets.open_npy(path, label)
    rank, size, n = comm.Get_rank(), comm.Get_size(), A.shape[0]
    start, stop = rank * n // size, (rank + 1) * n // size
    texts, codes = datasets.npy_labels(A, k, start, stop)
    X = datasets.npy_rows(path, A, columns, start, stop, progress)
    return f"column {k}", X, texts, codes, tuple(f"x{j}" for j in columns), start


def _csv_share(path: Path, label: str, comm: Any, progress):
    """(X, label texts, codes, feature names, offset) of this rank's byte range of a CSV file."""
    rank, size = comm.Get_rank(), comm.Get_size()

    def head():
        top = _first_bytes(path, 3)
        if top[:2] in ("\ufeff".encode("utf-16-le"), "\ufeff".encode("utf-16-be")):
            raise ValueError(f"cannot read {path} as CSV: it is UTF-16 text, not UTF-8; save it as UTF-8")
        try:
            found = datasets._csv_head(path, top == "\ufeff".encode("utf-8"))
        except UnicodeDecodeError:
            found = None
        datasets._scan(path, 0, found.data_start if found else None)     # the header's bytes, or the error's line
        return found, path.stat().st_size

    found, file_size = together(comm, head)
    k, columns = together(comm, lambda: datasets._label_column(path, found.header, label))
    cuts = _cuts(path, found.data_start, file_size, size)
    start, end = cuts[rank], cuts[rank + 1]
    breaks, ends_with_break, quoted = _count_lines(path, start, end)
    lines = _everyone(comm, (breaks, quoted))
    names = tuple(found.header[j] for j in columns)
    if any(q for _, q in lines):                                       # a cut might split a quoted cell
        X, labels = together(comm, lambda: datasets._read_rows(datasets._open_csv(path), columns, k, None))
        texts, codes = labels.result()
        share = np.array_split(np.arange(X.shape[1]), size)[rank]
        offset = int(share[0]) if share.size else int(X.shape[1])
        return np.ascontiguousarray(X[:, share]), texts, codes[share], names, offset
    first_line = found.first_line + sum(b for b, _ in lines[:rank])

    def read():
        if start == end:
            return np.empty((len(columns), 0)), [], np.empty(0, np.int64)
        scan = datasets._scan(path, start, end, first_line)
        part = datasets._CsvFile(path, found.header, found.separator, start, end,
                                 breaks + (not ends_with_break), scan.boolean_words, first_line)
        X, labels = datasets._read_rows(part, columns, k, progress and (lambda done, _: progress(done - start,
                                                                                                 end - start)))
        return (X, *labels.result())

    X, texts, codes = together(comm, read)
    offset = sum(_everyone(comm, X.shape[1])[:rank])
    return X, texts, codes, names, offset


def _first_bytes(path: Path, count: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(count)
    except FileNotFoundError:
        raise ValueError(f"no such CSV file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None


def _cuts(path: Path, data_start: int, size: int, parts: int) -> list[int]:
    """The byte offsets [data_start, c_1, …, c_{K−1}, size] cutting the data into ``parts``
    ranges of about equal size, each c_j moved to the start of the line it falls in or after."""
    cuts = [data_start]
    with path.open("rb") as handle:
        for j in range(1, parts):
            at = max(data_start + (size - data_start) * j // parts, cuts[-1])
            cuts.append(_line_start(handle, at, size))
    return [*cuts, size]


def _line_start(handle, at: int, size: int) -> int:
    """The first offset ≥ ``at`` where a line starts (after "\\n", "\\r\\n" or a lone "\\r"), or ``size``."""
    if at <= 0:
        return 0
    position = at - 1
    while position < size:
        handle.seek(position)
        block = handle.read(2 ** 16)
        hits = [i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0]
        if hits:
            found = position + min(hits)
            if block[min(hits)] == ord("\r"):                             # "\r\n" is one break
                handle.seek(found + 1)
                return found + 1 + (handle.read(1) == b"\n")
            return found + 1
        position += len(block)
    return size


def _count_lines(path: Path, start: int, end: int) -> tuple[int, bool, bool]:
    """(line breaks in [start, end), whether the range ends with one, whether it holds a quote)."""
    breaks, quoted, previous = 0, False, b""
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(2 ** 20, left))
            if not block:
                break
            left -= len(block)
            breaks += datasets._line_breaks(block) - (previous.endswith(b"\r") and block.startswith(b"\n"))
            quoted = quoted or b'"' in block
            previous = block
    return breaks, previous.endswith((b"\n", b"\r")), quoted


# --- preparing ------------------------------------------------------------------------------------


def prepare_share(share: Share, Y: np.ndarray, test_fraction: float, seed: Any, standardize: bool,
                  comm: Any) -> Prepared:
    """This rank's part of ``datasets.split`` of all the rows (the same permutation of the seed)
    and of their standardisation on the whole training part; Y: the share's labels as the
    output layer takes them. Collective."""
    rank_rows = np.arange(share.offset, share.offset + share.data.X.shape[1])
    train_rows, test_rows = together(comm, lambda: datasets.split_rows(share.n, test_fraction, seed))
    examples = np.flatnonzero((train_rows >= rank_rows[0]) & (train_rows <= rank_rows[-1])) if rank_rows.size \
        else np.empty(0, np.int64)
    mine = train_rows[examples] - share.offset
    tests = test_rows[(test_rows >= share.offset) & (test_rows < share.offset + rank_rows.size)] - share.offset
    X, Y_train, X_test, Y_test = share.data.X[:, mine], Y[:, mine], share.data.X[:, tests], Y[:, tests]
    standardizer = together(comm, lambda: datasets.fit_standardizer(X, comm)) if standardize else None
    if standardizer is not None:
        X, X_test = datasets.standardize(X, standardizer), datasets.standardize(X_test, standardizer)
    return Prepared(X, Y_train, examples, X_test, Y_test, standardizer)


__all__ = ["Prepared", "Share", "prepare_share", "read_share", "together"]
