"""Each rank's share of a data file, read without the other ranks' rows, and prepared as one
process prepares the whole file.

    read_share(path, label, comm, regression=None)   -> Share: this rank's rows, the global classes
    prepare_share(share, Y, test_fraction, seed, standardize, comm)
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
own message, before anything is trained (``collective.together``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import datasets
from .collective import everyone, together


class Share(NamedTuple):
    """This rank's rows of a data file.

    data : Dataset            X (n_x, m_k) and Y (n_y, m_k) of the rows, with the classes of all the ranks
    offset : int              the global index (the row of the file's data) of this rank's first row
    n : int                   the rows of all the ranks
    path : Path               the file
    """

    data: datasets.Dataset
    offset: int
    n: int
    path: Path


class Prepared(NamedTuple):
    """This rank's part of the split, standardised with the global standardizer.

    X_train (n_x, m_k), Y_train (n_y, m_k)   its training columns, in global training order
    examples (m_k,) int64                    their global indices among the n_train training examples
    X_test (n_x, t_k), Y_test (n_y, t_k)     its test columns (t_k may be 0)
    standardizer                             Standardizer or None
    counts : (int, int)                      the training and test rows of all the ranks
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    examples: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    standardizer: Any
    counts: tuple


# --- reading -------------------------------------------------------------------------------------


def read_share(path: str | Path, label: Any, comm: Any, regression: bool | None = None, *,
               progress: Callable[[int, int], None] | None = None) -> Share:
    """This rank's rows of a CSV or .npy file, the label decided on all the rows. Collective.

    Parameters
    ----------
    path : a .csv file (label: a column's name) or a .npy file (label: a column's index)
    comm : communicator (``collective``)
    regression : as ``datasets.load_csv``'s: True, False, or None to decide from the values
    progress : optional ``progress(done, total)``, this rank's reading (bytes of its range, or rows)

    Returns
    -------
    Share : this rank's Dataset (X (n_x, m_k), Y (n_y, m_k)), its first row's global index and n
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        name, X, texts, codes, names, offset = together(comm, lambda: _npy_share(path, label, comm, progress))
    else:
        name, (X, texts, codes, names, offset) = label, _csv_share(path, label, comm, progress)
    counts: Counter = Counter()
    for pairs in everyone(comm, list(zip(texts, np.bincount(codes, minlength=len(texts)).tolist()))):
        counts.update(dict(pairs))
    every_text = sorted(counts)
    output, classes = together(comm, lambda: datasets.label_kind(
        path, name, every_text, np.array([counts[t] for t in every_text]), regression))
    rows = datasets.label_rows(texts, codes, output, classes)
    return Share(datasets.labelled(path, X, rows, output, classes, names), offset, sum(counts.values()), path)


def _npy_share(path: Path, label: Any, comm: Any, progress) -> tuple:
    """(the label's name, X (n_x, m_k), label texts, codes (m_k,), feature names, offset) of this
    rank's rows [k·n/K, (k+1)·n/K) of a .npy file."""
    A, k, columns = datasets.open_npy(path, label)
    rank, size, n = comm.Get_rank(), comm.Get_size(), A.shape[0]
    start, stop = rank * n // size, (rank + 1) * n // size
    texts, codes = datasets.npy_labels(A, k, start, stop)
    X = datasets.npy_rows(path, A, columns, start, stop, progress)
    return f"column {k}", X, texts, codes, tuple(f"x{j}" for j in columns), start


def _csv_share(path: Path, label: str, comm: Any, progress) -> tuple:
    """(X (n_x, m_k), label texts, codes (m_k,), feature names, offset) of this rank's byte range
    of a CSV file; the whole file cut by rows when it holds a quote."""
    rank, size = comm.Get_rank(), comm.Get_size()
    layout = together(comm, lambda: datasets.csv_layout(path))
    together(comm, lambda: datasets.label_column(path, layout.header, label))
    cuts = datasets.csv_cuts(path, layout, size)
    start, end = cuts[rank], cuts[rank + 1]
    breaks, _, quoted = datasets.count_lines(path, start, end)
    lines = everyone(comm, (breaks, quoted))
    if any(q for _, q in lines):                                       # a cut might split a quoted cell
        X, texts, codes, names = together(comm, lambda: datasets.read_csv_whole(path, label))
        mine = np.array_split(np.arange(X.shape[1]), size)[rank]
        offset = int(mine[0]) if mine.size else X.shape[1]
        used = np.unique(codes[mine])                                   # the texts of this rank's rows only
        return np.ascontiguousarray(X[:, mine]), [texts[i] for i in used], \
            np.searchsorted(used, codes[mine]), names, offset
    first_line = layout.first_line + sum(b for b, _ in lines[:rank])
    X, texts, codes, names = together(comm, lambda: datasets.read_csv_range(path, layout, label, start, end,
                                                                           first_line, progress))
    return X, texts, codes, names, sum(everyone(comm, X.shape[1])[:rank])


# --- preparing ------------------------------------------------------------------------------------


def prepare_share(share: Share, Y: np.ndarray, test_fraction: float, seed: Any, standardize: bool,
                  comm: Any) -> Prepared:
    """This rank's part of ``datasets.split`` of all the rows and of their standardisation on the
    whole training part. Collective.

    Parameters
    ----------
    share : this rank's rows (``read_share``)
    Y : (n_y, m_k), the share's labels as the output layer takes them
    test_fraction, seed : as ``datasets.split``'s (the same permutation of the n rows)
    standardize : fit the standardizer on the training rows of every rank, and apply it
    comm : communicator

    A rank left with no training rows (a tiny file on many ranks) is refused on every rank.
    """
    m_k = share.data.X.shape[1]
    train_rows, test_rows = together(comm, lambda: datasets.split_rows(share.n, test_fraction, seed))
    examples = np.flatnonzero((train_rows >= share.offset) & (train_rows < share.offset + m_k))
    mine = train_rows[examples] - share.offset
    tests = test_rows[(test_rows >= share.offset) & (test_rows < share.offset + m_k)] - share.offset

    def some():
        if not mine.size:
            raise ValueError(f"rank {comm.Get_rank()} of {comm.Get_size()} holds none of the {train_rows.size} "
                             f"training rows of {share.path}; run on fewer ranks")
    together(comm, some)
    X, Y_train, X_test, Y_test = share.data.X[:, mine], Y[:, mine], share.data.X[:, tests], Y[:, tests]
    standardizer = datasets.fit_standardizer(X, comm) if standardize else None
    if standardizer is not None:
        X, X_test = datasets.standardize(X, standardizer), datasets.standardize(X_test, standardizer)
    return Prepared(X, Y_train, examples, X_test, Y_test, standardizer, (train_rows.size, test_rows.size))


__all__ = ["Prepared", "Share", "prepare_share", "read_share"]
