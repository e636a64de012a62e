"""Data sets in the course's layout: X (n_x, m) and Y (n_y, m), one column per example.

- ``planar_flower``: the course's planar "flower", exactly (Course 1, week 3).
- Two-dimensional sets of the kind learners meet in playgrounds: ``moons``, ``circles``,
  ``blobs`` (scikit-learn's generators), ``spirals``, ``xor``, ``gaussian``;
  ``course_circles``: the course's Initialization data, train and test, exactly.
- scikit-learn's bundled real data, offline: ``digits``, ``breast_cancer``, ``iris``, ``wine``.
- ``load_csv``: any CSV file, the label column chosen by name; ``load_csv_features``: the
  feature columns a model was trained on, from a file laid out the same way.

Every loader returns a ``Dataset`` whose Y already fits an output layer: two classes give a
(1, m) row of 0/1 for a sigmoid output, more give one-hot (C, m) for softmax, and a numeric
label with non-integer values gives a (1, m) target for an identity output. ``split``,
``fit_standardizer`` / ``standardize`` and ``one_hot`` do the rest of the usual preparation,
with the statistics fitted on the training part only; ``check_feature_scale`` refuses
features too large to train on in float64.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import inspect
import io
import itertools
import math
import operator
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

from ._checks import all_finite, as_matrix, as_rng, check_number
from .collective import everyone, together


class Dataset(NamedTuple):
    """X (n_x, m), Y (n_y, m), the output layer Y fits, and names for features and classes."""

    X: np.ndarray
    Y: np.ndarray
    output: str
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    name: str


def one_hot(labels: Sequence[int], C: int) -> np.ndarray:
    """(C, m) one-hot columns for integer class labels 0 … C−1."""
    C = check_number("C", C, "an integer ≥ 1", lambda v: v >= 1, integer=True)
    labels = np.asarray(labels).ravel()
    if labels.size and not np.issubdtype(labels.dtype, np.number):
        raise ValueError(f"labels must be integer class indices 0 … {C - 1}; got values of dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= C or not np.all(labels == np.round(labels))):
        raise ValueError(f"labels must be integers in 0 … {C - 1} for C = {C} classes")
    Y = np.zeros((C, labels.size))
    Y[labels.astype(np.int64), np.arange(labels.size)] = 1.0
    return Y


def _from_class_indices(X: np.ndarray, labels: np.ndarray, classes: Sequence[Any], name: str,
                        feature_names: Sequence[str] | None = None) -> Dataset:
    """A Dataset from X (n_x, m) and class indices 0 … C−1: sigmoid for C = 2, else softmax."""
    classes = tuple(str(c) for c in classes)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if len(classes) == 2:
        Y, output = labels[np.newaxis, :].astype(np.float64), "sigmoid"
    else:
        Y, output = one_hot(labels, len(classes)), "softmax"
    names = tuple(feature_names) if feature_names is not None else tuple(f"x{i + 1}" for i in range(X.shape[0]))
    return Dataset(np.ascontiguousarray(X, dtype=np.float64), Y, output, names, classes, name)


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    return check_number(name, value, f"an integer ≥ {minimum}", lambda v: v >= minimum, integer=True)


def _check_seed(seed: Any) -> int:
    return check_number("seed", seed, "an integer in 0 … 2³² − 1", lambda v: 0 <= v < 2 ** 32, integer=True)


def _check_noise(noise: Any) -> float:
    return check_number("noise", noise, "a non-negative number", lambda v: v >= 0)


# --- the course's planar data ----------------------------------------------------------------


def planar_flower(seed: int = 1) -> Dataset:
    """The course's planar "flower": 400 points in two interleaved petals, classes 0 and 1.

    The recipe of ``load_planar_dataset``, drawn from a legacy ``RandomState(seed)`` (the
    course's ``np.random.seed(1)``): m = 400, N = 200 per class, a = 4; for j = 0, 1:
    t = linspace(3.12 j, 3.12 (j + 1), N) + 0.2 randn(N), r = a sin(4t) + 0.2 randn(N), and
    the points of class j are (r sin t, r cos t). X is (2, 400), Y is (1, 400).
    """
    rs = np.random.RandomState(seed)
    m, N, a = 400, 200, 4
    X, labels = np.zeros((2, m)), np.zeros(m, dtype=np.int64)
    for j in range(2):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rs.randn(N) * 0.2      # angle
        r = a * np.sin(4 * t) + rs.randn(N) * 0.2                               # radius
        X[:, N * j:N * (j + 1)] = np.vstack([r * np.sin(t), r * np.cos(t)])
        labels[N * j:N * (j + 1)] = j
    return _from_class_indices(X, labels, ("0", "1"), "flower")


# --- playground sets -------------------------------------------------------------------------


def _sklearn_datasets():
    try:
        import sklearn.datasets
    except ImportError:
        raise ValueError("this data set comes from scikit-learn: pip install 'chainrule[data]'") from None
    return sklearn.datasets


def moons(m: int = 300, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``), drawn from RandomState(seed).

    The course's Optimization assignment is ``moons(300, 0.2, seed=3)``: its
    ``np.random.seed(3)`` seeds the global RandomState that ``make_moons`` then draws from.
    """
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    X, labels = _sklearn_datasets().make_moons(n_samples=m, noise=noise, random_state=np.random.RandomState(seed))
    return _from_class_indices(X.T, labels, ("0", "1"), "moons")


def circles(m: int = 300, noise: float = 0.05, seed: int = 0, factor: float = 0.8) -> Dataset:
    """A small circle inside a large one (scikit-learn's ``make_circles``, with its default
    ``factor``, the inner radius over the outer, 0.8), drawn from RandomState(seed).

    The course's Initialization assignment is ``circles(300, 0.05, seed=1)`` for training and
    ``circles(100, 0.05, seed=2)`` for testing (``course_circles``): its ``np.random.seed(s)``
    seeds the global RandomState that ``make_circles`` then draws from.
    """
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    factor = check_number("factor (inner radius / outer radius)", factor, "in [0, 1)", lambda v: 0 <= v < 1)
    X, labels = _sklearn_datasets().make_circles(n_samples=m, noise=noise, factor=factor,
                                                 random_state=np.random.RandomState(seed))
    return _from_class_indices(X.T, labels, ("0", "1"), "circles")


def course_circles() -> tuple[Dataset, Dataset]:
    """(train, test): the circles of the course's Initialization assignment (Course 2, week 1).

    Its ``load_dataset`` does ``np.random.seed(1); make_circles(n_samples=300, noise=.05)`` for
    the training set and ``np.random.seed(2); make_circles(n_samples=100, noise=.05)`` for the
    test set, which are ``circles(300, 0.05, seed=1)`` and ``circles(100, 0.05, seed=2)``: X
    (2, 300) and (2, 100), Y (1, 300) and (1, 100), without touching NumPy's global generator.

    >>> train, test = course_circles()
    >>> train.X.shape, test.Y.shape
    ((2, 300), (1, 100))
    """
    return circles(300, 0.05, seed=1), circles(100, 0.05, seed=2)


def blobs(m: int = 300, noise: float = 1.0, seed: int = 0, centers: int = 3) -> Dataset:
    """Isotropic Gaussian blobs around ``centers`` random centres (scikit-learn's ``make_blobs``);
    ``noise`` is each blob's standard deviation."""
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    centers = _check_count("centers", centers, 2)
    X, labels = _sklearn_datasets().make_blobs(n_samples=m, centers=centers, cluster_std=noise,
                                               random_state=np.random.RandomState(seed))
    return _from_class_indices(X.T, labels, tuple(str(c) for c in range(centers)), "blobs")


def spirals(m: int = 300, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaved spirals: point i of a class lies at radius r = 5 i/n and angle
    1.75 · 2π i/n (+ π for class 1), plus Gaussian noise of standard deviation ``noise``."""
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    sizes = (m - m // 2, m // 2)
    points, labels = [], []
    for j, n in enumerate(sizes):
        i = np.arange(n)
        r = 5.0 * i / n
        t = 1.75 * 2 * np.pi * i / n + j * np.pi
        points.append(np.vstack([r * np.sin(t), r * np.cos(t)]) + noise * rng.standard_normal((2, n)))
        labels.append(np.full(n, j))
    return _from_class_indices(np.hstack(points), np.concatenate(labels), ("0", "1"), "spirals")


def xor(m: int = 300, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Points uniform in [−5, 5]², class 1 where x1 · x2 > 0 (the XOR of the signs), then
    Gaussian noise of standard deviation ``noise`` added to the points (not the labels)."""
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5, 5, size=(2, m))
    labels = (X[0] * X[1] > 0).astype(np.int64)
    return _from_class_indices(X + noise * rng.standard_normal((2, m)), labels, ("0", "1"), "xor")


def gaussian(m: int = 300, noise: float = 1.0, seed: int = 0) -> Dataset:
    """Two Gaussian clusters centred at (2, 2) (class 1) and (−2, −2) (class 0), each of
    standard deviation ``noise``."""
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 2
    centres = np.where(labels == 1, 2.0, -2.0)
    X = centres + noise * rng.standard_normal((2, m))
    return _from_class_indices(X, labels, ("0", "1"), "gaussian")


# --- scikit-learn's bundled real data --------------------------------------------------------


def _bundled(loader_name: str, name: str) -> Dataset:
    bunch = getattr(_sklearn_datasets(), loader_name)()
    return _from_class_indices(bunch.data.T, bunch.target, bunch.target_names, name,
                               [str(f) for f in bunch.feature_names])


def digits() -> Dataset:
    """8×8 images of handwritten digits: 1797 examples, 64 features (0 … 16), 10 classes."""
    return _bundled("load_digits", "digits")


def breast_cancer() -> Dataset:
    """Wisconsin diagnostic breast cancer: 569 examples, 30 features, 2 classes."""
    return _bundled("load_breast_cancer", "breast_cancer")


def iris() -> Dataset:
    """Fisher's iris: 150 examples, 4 features, 3 classes."""
    return _bundled("load_iris", "iris")


def wine() -> Dataset:
    """Wine recognition: 178 examples, 13 features, 3 classes."""
    return _bundled("load_wine", "wine")


DATASETS: dict[str, Callable[..., Dataset]] = {
    "flower": planar_flower, "moons": moons, "circles": circles, "blobs": blobs, "spirals": spirals,
    "xor": xor, "gaussian": gaussian, "digits": digits, "breast_cancer": breast_cancer, "iris": iris,
    "wine": wine,
}


def load(name: str, **options: Any) -> Dataset:
    """A built-in data set by name (see ``DATASETS``), with its options (m, noise, seed …)."""
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}") from None
    accepted = list(inspect.signature(loader).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"data set {name!r} takes no option(s) {', '.join(unknown)}; "
                         f"its options are: {', '.join(accepted) or 'none'}")
    return loader(**options)


# --- CSV -------------------------------------------------------------------------------------


MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
"""Label cells (stripped, in any case) that mean "no label": a row with one is refused."""

MAX_AUTO_CLASSES = 20
"""With ``regression=None``, whole-number labels with at most this many distinct values are
classes; more are refused, since a count, a year or a price is then as likely as a class code."""

MIN_EXAMPLES_PER_CLASS = 2
"""Classes are refused when there are more than two, fewer than this many examples per class on
average, and most classes have a single example: such a label is an identifier or a number to
predict, and a softmax over it cannot learn anything."""

SEPARATORS = (",", ";", "\t")
"""Cell separators, in order of preference, sniffed from the header line."""

CHUNK_BYTES = 8 * 2 ** 20
"""Float64 bytes parsed per chunk of rows: about the memory a read needs beyond X itself, and
how often ``progress`` hears of it."""

MIN_CHUNK_ROWS = 1024
"""The fewest rows in a chunk: pandas spends some time on every column of every chunk, which a
wide file's chunks must be long enough to repay."""

_CSV_CHUNK_CELLS = 2 ** 16        # cells the csv module's reader holds as text before converting them


class _CsvFile(NamedTuple):
    """What a first look at a CSV file finds: its header, its separator and the bytes of data to read."""

    path: Path
    header: list[str]        # the cells of the first non-blank row, stripped
    separator: str
    data_start: int          # byte offset of the first line to read (after the header, or a share's first)
    size: int                # bytes to read to: the file's size, or where a share ends
    max_rows: int            # lines in [data_start, size): at least the number of rows of data
    boolean_words: bool      # "true" or "false" (in any case) somewhere: pandas reads them as 1 and 0
    first_line: int          # the file's line number of the line at data_start


class _Head(NamedTuple):
    """The header of a CSV file (its first non-blank row) and where its data begin."""

    header: list[str]
    separator: str
    data_start: int          # byte offset of the first line after the header
    first_line: int          # its line number


class _Scan(NamedTuple):
    size: int
    breaks: int              # line breaks: "\n", "\r\n" and a lone "\r", as both readers split lines
    ends_with_break: bool
    bom: bool                # the file starts with UTF-8's byte-order mark
    boolean_words: bool


class _Columns:
    """X (n_x, max_rows), filled a block of examples at a time; ``result`` is X (n_x, m) for the m read.

    The line count bounds m, so X is allocated once and, when no line was blank, returned as it
    is: the peak memory of a read is X and one chunk.
    """

    def __init__(self, n_x: int, max_rows: int) -> None:
        self.X = np.empty((n_x, max_rows))
        self.m = 0

    def slab(self, rows: int) -> np.ndarray:
        """The next ``rows`` columns of X (n_x, rows) to write into; ``commit`` keeps them."""
        end = self.m + rows
        if end > self.X.shape[1]:                                  # beyond the line count: never, but safe
            grown = np.empty((self.X.shape[0], max(end, 2 * self.X.shape[1])))
            grown[:, :self.m] = self.X[:, :self.m]
            self.X = grown
        return self.X[:, self.m:end]

    def commit(self, rows: int) -> None:
        self.m += rows

    def result(self) -> np.ndarray:
        X, self.X = self.X, None
        return X if X.shape[1] == self.m else np.ascontiguousarray(X[:, :self.m])


class _Labels:
    """The stripped label cells of a file: each distinct text once, and a code per row."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.chunks: list[np.ndarray] = []

    def add(self, texts: Sequence[str], codes: np.ndarray | None = None) -> None:
        """Rows labelled ``texts``, or ``texts[codes]`` when the rows' indices into them are given."""
        index = self.index
        known = np.fromiter((index.setdefault(t, len(index)) for t in texts), np.int64, len(texts))
        self.chunks.append(known if codes is None else known[codes])

    def result(self) -> tuple[list[str], np.ndarray]:
        """(the distinct texts in order of appearance, each row's index among them (m,))."""
        return list(self.index), np.concatenate(self.chunks) if self.chunks else np.empty(0, np.int64)


class _NotForPandas(Exception):
    """The fast reader met something it might judge differently from the csv module."""


def _line_breaks(data: bytes) -> int:
    returns = data.count(b"\r")
    return data.count(b"\n") + returns - (data.count(b"\r\n") if returns else 0)


def _scan(path: Path, begin: int = 0, end: int | None = None, first_line: int = 1) -> _Scan:
    """Size and line count of a file that must be UTF-8 text, in one pass over its bytes.

    A byte that is not UTF-8, a UTF-16 byte-order mark or a NUL byte is refused here, naming
    the line, so that neither reader meets one. ``begin``, ``end``: only the bytes [begin,
    end), which start a line (numbered ``first_line``); ``size`` is then end − begin.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = breaks = 0
    previous = b""
    words = False
    try:
        with path.open("rb") as handle:
            start = handle.read(3) if begin == 0 else b""
            if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise ValueError(f"cannot read {path} as CSV: it is UTF-16 text, not UTF-8; save it as UTF-8")
            handle.seek(begin)
            left = math.inf if end is None else end - begin
            while True:
                block = handle.read(int(min(2 ** 20, left)))
                left -= len(block)
                joined = previous.endswith(b"\r") and block.startswith(b"\n")   # one "\r\n" over two blocks
                cut = len(decoder.getstate()[0])                   # bytes of a character the last block cut
                try:
                    decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    at = exc.start - cut                           # in this block; < 0 in the bytes carried over
                    line = first_line + breaks + _line_breaks(block[:max(at, 0)]) - (joined and at > 0)
                    raise ValueError(f"cannot read {path} as CSV: it is not UTF-8 text (byte "
                                     f"0x{exc.object[exc.start]:02x} at line {line}); save it as UTF-8") from None
                nul = block.find(b"\0")
                if nul >= 0:
                    line = first_line + breaks + _line_breaks(block[:nul]) - (joined and nul > 0)
                    raise ValueError(f"cannot read {path} as CSV: line {line} holds a NUL byte, which text "
                                     f"does not (UTF-16? save it as UTF-8)")
                if not block:
                    break
                breaks += _line_breaks(block) - joined
                if not words:
                    lower = (previous[-4:] + block).lower()             # a word may straddle two blocks
                    words = b"true" in lower or b"false" in lower
                size += len(block)
                previous = block
    except FileNotFoundError:
        raise ValueError(f"no such CSV file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None
    return _Scan(size, breaks, previous.endswith((b"\n", b"\r")), start == codecs.BOM_UTF8, words)


def _separator(line: str) -> str:
    """The first of ``SEPARATORS`` in the header line outside quotes, else ","."""
    bare = re.sub(r'"[^"]*"', "", line)
    return next((sep for sep in SEPARATORS if sep in bare), ",")


def _recorded(lines: Iterable[str], record: list[str]) -> Iterator[str]:
    for line in lines:
        record.append(line)
        yield line


def _rows(reader) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each row of a csv reader but blank ones (every cell empty or spaces)."""
    return ((reader.line_num, row) for row in reader if "".join(row).strip())


class _Bytes(io.RawIOBase):
    """The bytes [start, end) of a file, read as a file of their own (``tell``: the file's offset)."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self.handle, self.end = path.open("rb"), end
        self.handle.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.end - self.handle.tell()
        return self.handle.readinto(memoryview(buffer)[:max(left, 0)]) if left > 0 else 0

    def tell(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()
        super().close()


def _open_bytes(csv_file: _CsvFile) -> io.BufferedReader:
    """The data bytes of ``csv_file`` to read, [data_start, size)."""
    return io.BufferedReader(_Bytes(csv_file.path, csv_file.data_start, csv_file.size))


class _FieldLimit:
    """The csv module's process-wide cell limit, raised while any thread reads and restored when
    the last one is done (threads that read at once must not restore each other's limits)."""

    lock, readers, saved = threading.Lock(), 0, 0

    @classmethod
    @contextlib.contextmanager
    def raised(cls, size: int) -> Iterator[None]:
        with cls.lock:
            if cls.readers == 0:
                cls.saved = csv.field_size_limit()
            cls.readers += 1
            csv.field_size_limit(max(csv.field_size_limit(), size))
        try:
            yield
        finally:
            with cls.lock:
                cls.readers -= 1
                if cls.readers == 0:
                    csv.field_size_limit(cls.saved)


@contextlib.contextmanager
def _csv_text(path: Path, binary: Any = None) -> Iterator[TextIO]:
    """The file as text for the csv module, its errors turned into one sentence naming the file.

    The csv module refuses a cell longer than ``csv.field_size_limit()`` (128 Ki characters),
    pandas does not; the limit is raised to the file's size while reading, so that the two
    readers accept the same files. The limit is process-wide; it is restored after.
    ``binary``: the bytes to read as text (``_open_bytes``), instead of the whole file.
    """
    try:
        with (path.open(newline="", encoding="utf-8-sig") if binary is None
              else io.TextIOWrapper(binary, encoding="utf-8", newline="")) as handle, \
                _FieldLimit.raised(path.stat().st_size):
            yield handle
    except csv.Error as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None


def _open_csv(path: Path) -> _CsvFile:
    """The header of a CSV file (its first non-blank row), its separator and where its data begin."""
    scan = _scan(path)
    head = _csv_head(path, scan.bom)
    max_rows = scan.breaks - (head.first_line - 1) + (not scan.ends_with_break)
    return _CsvFile(path, head.header, head.separator, head.data_start, scan.size, max_rows, scan.boolean_words,
                    head.first_line)


def _csv_head(path: Path, bom: bool) -> _Head:
    """The header of a CSV file (its first non-blank row), its separator and where its data begin;
    ``bom``: the file starts with UTF-8's byte-order mark.

    The separator is sniffed from the first line with content: "," if it has one outside
    quotes, else ";" (what spreadsheets write where the decimal mark is a comma), else a tab.
    """
    with _csv_text(path) as handle:
        lines = iter(handle)
        before = []
        for text in lines:                                         # up to the first line with content
            before.append(text)
            if text.strip(" \t\r\n" + "".join(SEPARATORS)):
                break
        separator = _separator(before[-1]) if before else ","
        consumed: list[str] = []
        rows = _rows(csv.reader(_recorded(itertools.chain(before, lines), consumed), delimiter=separator))
        first = next(rows, None)
        data_start = len(codecs.BOM_UTF8) * bom + sum(len(text.encode("utf-8")) for text in consumed)
        header_lines = len(consumed)
        if first is None or next(rows, None) is None:
            raise ValueError(f"{path} must have a header row and at least one row of data")
    return _Head([cell.strip() for cell in first[1]], separator, data_start, header_lines + 1)


def _chunk_rows(n_columns: int) -> int:
    return max(MIN_CHUNK_ROWS, CHUNK_BYTES // (8 * n_columns))


def _reporter(progress: Callable[[int, int], None] | None, total: int) -> Callable[[int], None]:
    """progress(done, total) for each new, larger ``done``: a read that starts again stays silent
    until it passes what was already reported."""
    last = 0

    def report(done: int) -> None:
        nonlocal last
        done = min(done, total)
        if progress is not None and done > last:
            last = done
            progress(done, total)

    return report


def _pandas():
    """pandas, whose C reader parses numbers some twenty times faster than the csv module, or None."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _read_rows(csv_file: _CsvFile, columns: list[int], label: int | None,
               progress: Callable[[int, int], None] | None) -> tuple[np.ndarray, _Labels | None]:
    """X (len(columns), m) from the given columns, and the label column's cells if ``label`` is one.

    pandas reads the file when it is installed; anything it does not take as the csv module
    would (a cell it cannot parse, a non-finite number, a missing label, a row of another
    length) sends the file to the csv module, which either reads it the same way or says what
    is wrong and where. So both give the same arrays and the same messages.
    """
    report = _reporter(progress, csv_file.size)
    pandas, result = _pandas(), None
    if pandas is not None:
        with contextlib.suppress(_NotForPandas):
            result = _read_with_pandas(pandas, csv_file, columns, label, report)
    if result is None:
        result = _read_with_csv(csv_file, columns, label, report)
    report(csv_file.size)
    return result


def _read_with_pandas(pandas, csv_file: _CsvFile, columns: list[int], label: int | None,
                      report: Callable[[int], None]) -> tuple[np.ndarray, _Labels | None]:
    n = len(csv_file.header)
    dtype: dict[int, Any] = dict.fromkeys(range(n), object)
    dtype.update(dict.fromkeys(columns, np.float64))
    options: dict[str, Any] = {}
    if int(pandas.__version__.split(".")[0]) < 3:                 # pandas 3 always rounds correctly
        options["float_precision"] = "round_trip"
    rows_of: dict[int, list[int]] = {}
    for i, j in enumerate(columns):
        rows_of.setdefault(j, []).append(i)
    out, labels = _Columns(len(columns), csv_file.max_rows), (None if label is None else _Labels())
    last = n - 1                                                   # empty in a row that is too short
    with _open_bytes(csv_file) as handle:
        if handle.peek(len(codecs.BOM_UTF8))[:len(codecs.BOM_UTF8)] == codecs.BOM_UTF8:
            raise _NotForPandas                                    # pandas would drop it; the csv module keeps it
        try:
            with pandas.read_csv(handle, sep=csv_file.separator, header=None, dtype=dtype, keep_default_na=False,
                                 na_values=[], skip_blank_lines=True, engine="c", encoding="utf-8", low_memory=False,
                                 chunksize=_chunk_rows(n), **options) as reader:
                for frame in reader:
                    rows = len(frame)
                    if frame.shape[1] != n:
                        raise _NotForPandas
                    slab = out.slab(rows)
                    for j, cells in frame.items():                 # cheaper than frame[j], column by column
                        for i in rows_of.get(j, ()):
                            slab[i] = cells.to_numpy(np.float64)
                    if not all_finite(slab):
                        raise _NotForPandas
                    if csv_file.boolean_words and np.any(np.all((slab == 0) | (slab == 1), axis=1)):
                        raise _NotForPandas                        # a column of true/false, or of 0/1?
                    if labels is not None:
                        codes, distinct = pandas.factorize(frame[label])   # a missing cell: code −1
                        texts = [text.strip() for text in distinct]
                        if np.any(codes < 0) or any(text.lower() in MISSING for text in texts):
                            raise _NotForPandas
                        labels.add(texts, codes)
                    elif last not in columns:
                        cells = frame[last]
                        if cells.isna().any() or (cells == "").any():
                            raise _NotForPandas
                    out.commit(rows)
                    report(handle.tell())
        except (_NotForPandas, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:                                   # any complaint of pandas': the csv module judges
            raise _NotForPandas from exc
    return out.result(), labels


def _read_with_csv(csv_file: _CsvFile, columns: list[int], label: int | None,
                   report: Callable[[int], None]) -> tuple[np.ndarray, _Labels | None]:
    n = len(csv_file.header)
    out, labels = _Columns(len(columns), csv_file.max_rows), (None if label is None else _Labels())
    if len(columns) > 1:
        pick = operator.itemgetter(*columns)
    else:                                                          # itemgetter gives a bare cell, or nothing
        def pick(row: list[str]) -> tuple[str, ...]:
            return tuple(row[j] for j in columns)
    chunk = max(1, _CSV_CHUNK_CELLS // n)
    lines: list[int] = []
    cells: list[tuple[str, ...]] = []
    texts: list[str] = []

    def flush() -> None:
        """Convert the rows read so far, or raise the error of the first bad one."""
        if not cells:
            return
        try:
            block = np.array(cells, dtype=object).reshape(len(cells), len(columns)).astype(np.float64)
        except ValueError:                                         # float() of a cell failed
            block = None
        if block is None or not all_finite(block):
            for line, row_cells in zip(lines, cells):
                for j, cell in zip(columns, row_cells):
                    _check_cell(csv_file, line, j, cell)           # raises at the first bad cell
        out.slab(len(cells))[...] = block.T
        out.commit(len(cells))
        if labels is not None:
            labels.add(texts)
        for pending in (lines, cells, texts):
            pending.clear()

    with _csv_text(csv_file.path, _open_bytes(csv_file)) as handle:
        before = csv_file.first_line - 1                           # the lines above data_start
        for line, row in _rows(csv.reader(handle, delimiter=csv_file.separator)):
            line += before
            if len(row) != n or (label is not None and row[label].strip().lower() in MISSING):
                flush()                                            # earlier rows' errors come first
                _refuse_row(csv_file, line, row, columns, label)
            lines.append(line)
            cells.append(pick(row))
            if label is not None:
                texts.append(row[label].strip())
            if len(cells) == chunk:
                flush()
                report(handle.buffer.tell())
        flush()
    return out.result(), labels


def _check_cell(csv_file: _CsvFile, line: int, j: int, cell: str) -> None:
    """Refuse a feature cell that is not a finite number, naming its line and column."""
    path, name = csv_file.path, csv_file.header[j]
    try:
        value = float(cell)
    except ValueError:
        hint = ""
        if csv_file.separator != "," and re.fullmatch(r"\s*[-+]?\d*,\d+\s*", cell):
            hint = " (decimal commas are not read: save the file with decimal points)"
        raise ValueError(f"{path}, line {line}, column {name!r}: {cell!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}, column {name!r}: {cell!r} is not a finite number")


def _refuse_row(csv_file: _CsvFile, line: int, row: list[str], columns: list[int], label: int | None) -> None:
    """The error of a row that is not all good: its length, then each feature in turn, then its label."""
    path, header = csv_file.path, csv_file.header
    if len(row) != len(header):
        raise ValueError(f"{path}, line {line}: {len(row)} values for {len(header)} columns")
    for j in columns:
        _check_cell(csv_file, line, j, row[j])
    raise ValueError(f"{path}, line {line}: the label {header[label]!r} is missing ({row[label]!r})")


def _listed(names: Sequence[str]) -> str:
    """Column names for a message, each as it is unless it holds a line break or another unprintable."""
    return ", ".join(name if name.isprintable() else repr(name) for name in names)


def _check_progress(progress: Any) -> Callable[[int, int], None] | None:
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be a function of (bytes read, total bytes) or None; got {progress!r}")
    return progress


def _refuse_duplicates(path: Path, header: list[str], names: Iterable[str]) -> None:
    counts = Counter(header)
    for name in names:
        if counts[name] > 1:
            raise ValueError(f"{path} has the column {name!r} {counts[name]} times; rename all but one")


def load_csv(path: str | Path, label: str, regression: bool | None = None, *,
             progress: Callable[[int, int], None] | None = None) -> Dataset:
    """A CSV file with a header row: the column named ``label`` is Y, every other column a feature.

    Features must be finite numbers. ``regression`` says what the label is:

    - True: a number to predict (a (1, m) target for an identity output), whole numbers too;
    - False: a class (sorted; two give a sigmoid 0/1 row, more one-hot columns for softmax);
    - None: decided from the values. Labels that are not all numbers are classes; numbers with
      a fractional part are a regression target; whole numbers are classes when there are at
      most ``MAX_AUTO_CLASSES`` (20) distinct ones, and refused when there are more (a price,
      a year or a count: the message says to choose, with ``--output identity``
      (regression=True) or ``--output softmax`` (regression=False)).

    Classes are refused, whatever ``regression`` says, when they are too many to learn: more than
    two, fewer than ``MIN_EXAMPLES_PER_CLASS`` examples per class on average, and most of them
    with a single example. A missing label (empty, NA, NaN, null, none, ?) is an error, and so
    is a column name that appears twice (names are compared stripped).

    The file must be UTF-8 text (a UTF-8 byte-order mark is fine); its separator is sniffed
    from the header line: a comma, else a semicolon (as spreadsheets write where the decimal
    mark is a comma, which is not read), else a tab. Blank lines are skipped; the line numbers
    in messages are the file's (the header is line 1, or later after blank lines).

    With pandas installed (``pip install 'chainrule[csv]'``), its C reader parses the file in
    chunks (``CHUNK_BYTES`` of float64, at least ``MIN_CHUNK_ROWS`` rows), and the peak memory
    is about X (n_x, m) itself and a few chunks; without it the csv module does, with the same
    result. A file pandas would judge differently from the csv
    module is read by the csv module. ``progress(bytes read, total bytes)``, if given, is
    called after each chunk, with growing counts, the last of them the file's size.
    """
    path, progress = Path(path), _check_progress(progress)
    csv_file = _open_csv(path)
    k, columns = label_column(path, csv_file.header, label)
    X, labels = _read_rows(csv_file, columns, k, progress)
    texts, codes = labels.result()
    output, classes = label_kind(path, label, texts, np.bincount(codes, minlength=len(texts)), regression)
    return labelled(path, X, label_rows(texts, codes, output, classes), output, classes,
                     tuple(csv_file.header[j] for j in columns))


def label_column(path: Path, header: list[str], label: str) -> tuple[int, list[int]]:
    """(the label's column, the feature columns) of a CSV header, or the refusal of a header
    without the label, with only the label, or with a name twice."""
    if label not in header:
        raise ValueError(f"{path} has no column {label!r}; its columns are: {_listed(header)}")
    if header.count(label) > 1:
        raise ValueError(f"{path} has the column {label!r} {header.count(label)} times; rename all but one")
    if len(header) < 2:
        raise ValueError(f"{path} has only the label column; there are no features")
    _refuse_duplicates(path, header, header)
    k = header.index(label)
    return k, [j for j in range(len(header)) if j != k]


def labelled(path: Path, X: np.ndarray, rows: np.ndarray, output: str, classes: tuple[str, ...],
              names: tuple[str, ...]) -> Dataset:
    """The Dataset of X (n_x, m) and its labels as ``label_rows`` gives them."""
    if output == "identity":
        return Dataset(X, rows, output, names, (), path.stem)
    return _from_class_indices(X, rows, classes, path.stem, names)


# --- a CSV file read in parts -----------------------------------------------------------------------
#
# ``shares`` reads a file on K ranks, each its own byte range: ``csv_layout`` once, ``csv_cuts`` for
# the ranges, ``count_lines`` to number the lines, ``read_csv_range`` for each range's rows and the
# label's texts; ``label_kind`` / ``label_rows`` / ``labelled`` then decide and encode the labels
# as ``load_csv`` does.


class CsvLayout(NamedTuple):
    """What a CSV file's first lines say: its header, separator and where its data begin.

    header : list of str     the cells of the first non-blank row, stripped
    separator : str
    data_start : int         byte offset of the first line after the header
    first_line : int         its line number
    size : int               bytes in the file
    """

    header: list[str]
    separator: str
    data_start: int
    first_line: int
    size: int


def csv_layout(path: str | Path) -> CsvLayout:
    """The header of a CSV file and where its data begin, reading only the bytes up to there
    (UTF-8, with or without a byte-order mark; a UTF-16 file, or bytes that are not UTF-8 in
    the header, are refused in one sentence)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            top = handle.read(3)
    except FileNotFoundError:
        raise ValueError(f"no such CSV file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None
    if top[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise ValueError(f"cannot read {path} as CSV: it is UTF-16 text, not UTF-8; save it as UTF-8")
    try:
        head = _csv_head(path, top == codecs.BOM_UTF8)
    except UnicodeDecodeError:
        head = None
    _scan(path, 0, None if head is None else head.data_start)     # the header's bytes: the line of a bad one
    return CsvLayout(head.header, head.separator, head.data_start, head.first_line, path.stat().st_size)


def csv_cuts(path: str | Path, layout: CsvLayout, parts: int) -> list[int]:
    """The byte offsets [data_start, c_1, …, c_{K−1}, size] cutting the data into ``parts``
    ranges of about equal size, each c_j moved to the start of the line it falls in or after."""
    cuts = [layout.data_start]
    with Path(path).open("rb") as handle:
        for j in range(1, parts):
            at = max(layout.data_start + (layout.size - layout.data_start) * j // parts, cuts[-1])
            cuts.append(line_start(handle, at, layout.size))
    return [*cuts, layout.size]


def line_start(handle: Any, at: int, size: int) -> int:
    """The first offset ≥ ``at`` of a binary file where a line starts (after "\\n", "\\r\\n" or a
    lone "\\r"), or ``size``."""
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


def count_lines(path: str | Path, start: int, end: int) -> tuple[int, bool, bool]:
    """(line breaks in the bytes [start, end), whether they end with one, whether they hold a quote)."""
    breaks, quoted, previous = 0, False, b""
    with Path(path).open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(2 ** 20, left))
            if not block:
                break
            left -= len(block)
            breaks += _line_breaks(block) - (previous.endswith(b"\r") and block.startswith(b"\n"))
            quoted = quoted or b'"' in block
            previous = block
    return breaks, previous.endswith((b"\n", b"\r")), quoted


def read_csv_range(path: str | Path, layout: CsvLayout, label: str, start: int, end: int, first_line: int,
                   progress: Callable[[int, int], None] | None = None):
    """The rows in the bytes [start, end) of a CSV file (they start a line, numbered
    ``first_line``), read as ``load_csv`` reads the whole file.

    Returns (X (n_x, m_range), the label's distinct texts, each row's index among them (m_range,),
    the feature names). ``progress(done, total)`` counts the range's bytes.
    """
    path = Path(path)
    k, columns = label_column(path, layout.header, label)
    names = tuple(layout.header[j] for j in columns)
    if start == end:
        return np.empty((len(columns), 0)), [], np.empty(0, np.int64), names
    scan = _scan(path, start, end, first_line)
    part = _CsvFile(path, layout.header, layout.separator, start, end, scan.breaks + (not scan.ends_with_break),
                    scan.boolean_words, first_line)
    report = progress and (lambda done, _: progress(done - start, end - start))
    X, labels = _read_rows(part, columns, k, report)
    return (X, *labels.result(), names)


def read_csv_whole(path: str | Path, label: str):
    """``read_csv_range`` of the whole file: (X (n_x, m), the label's distinct texts, codes (m,), names)."""
    path = Path(path)
    csv_file = _open_csv(path)
    k, columns = label_column(path, csv_file.header, label)
    X, labels = _read_rows(csv_file, columns, k, None)
    return (X, *labels.result(), tuple(csv_file.header[j] for j in columns))


# --- .npy files ---------------------------------------------------------------------------------


def open_npy(path: str | Path, label: Any) -> tuple[np.ndarray, int, list[int]]:
    """(A, k, columns): a .npy file of one example per row, memory-mapped (nothing is read yet),
    the label's column k and the feature columns.

    ``label`` is the label column's index, 0 … c − 1, or negative from the end (−1: the last),
    as an int or its text. The array must be 2-D, of numbers, with at least one feature.
    """
    path = Path(path)
    A = _npy_array(path, 2, "its features and its label (at least two columns and one row)")
    c = A.shape[1]
    try:
        k = int(str(label).strip())
    except ValueError:
        k = c
    if not -c <= k < c:
        raise ValueError(f"--label must be the label's column index in {path} (0 … {c - 1}, or −1 for the last); "
                         f"got {label!r}")
    k %= c
    return A, k, [j for j in range(c) if j != k]


def _npy_array(path: Path, columns: int, what: str) -> np.ndarray:
    """The 2-D array of numbers of a .npy file, memory-mapped, with at least ``columns`` columns
    and one row (``what`` says what they hold)."""
    try:
        A = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"no such .npy file: {path}") from None
    except (OSError, ValueError, EOFError) as exc:
        why = str(exc)
        if "pickled" in why or "allow_pickle" in why:
            why = "it is not a .npy file (or holds Python objects, which are never loaded)"
        elif "mmap length" in why or "cannot reshape" in why or isinstance(exc, EOFError):
            why = "it is cut short: it holds fewer bytes than its header says"
        raise ValueError(f"cannot read {path} as a .npy file of numbers: {why}") from None
    if not isinstance(A, np.ndarray) or A.ndim != 2 or A.shape[1] < columns or A.shape[0] < 1:
        shape = getattr(A, "shape", "an archive")
        raise ValueError(f"{path} must hold a 2-D array with one example per row, {what}; got shape {shape}")
    if not (np.issubdtype(A.dtype, np.integer) or np.issubdtype(A.dtype, np.floating)):
        raise ValueError(f"{path} must hold numbers (integers or floats); got dtype {A.dtype}")
    return A


def load_npy_features(path: str | Path, feature_names: Sequence[str], *,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """X (n_x, m) float64 from a .npy file of one example per row, for a model with these features.

    A file of exactly n_x columns holds the features in the model's order. Otherwise the
    features must be named by their column, as ``load_npy`` names them ("x0", "x1", …): the
    file the model was trained on, label column and all, or one laid out the same way.
    """
    path, progress = Path(path), _check_progress(progress)
    A = _npy_array(path, 1, f"its {len(feature_names)} features")
    if A.shape[1] == len(feature_names):
        columns = list(range(A.shape[1]))
    else:
        found = [re.fullmatch(r"x(\d+)", name) for name in feature_names]
        if not all(found) or max(int(f[1]) for f in found) >= A.shape[1]:
            raise ValueError(f"{path} has {A.shape[1]} columns; the model takes {len(feature_names)} features "
                             f"({_listed(feature_names[:4])}{', …' if len(feature_names) > 4 else ''}): give them "
                             f"as the columns of a .npy file, in that order")
        columns = [int(f[1]) for f in found]
    return npy_rows(path, A, columns, 0, A.shape[0], progress)


def npy_rows(path: str | Path, A: np.ndarray, columns: list[int], start: int, stop: int,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """X (len(columns), stop − start) float64 from the rows [start, stop) of a memory-mapped A,
    a chunk of ``CHUNK_BYTES`` at a time (only those rows' pages are read); a value that is not
    a finite number is refused, naming its row and column."""
    X = np.empty((len(columns), stop - start))
    chunk = _chunk_rows(A.shape[1])
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        block = X[:, a - start:b - start]
        block[...] = A[a:b][:, columns].T
        if not all_finite(block):
            i, j = np.argwhere(~np.isfinite(block))[0]
            raise ValueError(f"{path}, row {a + j}, column {columns[i]}: {float(block[i, j])!r} is not a finite "
                             f"number")
        if progress is not None:
            progress(b - start, stop - start)
    return X


def npy_labels(A: np.ndarray, k: int, start: int, stop: int) -> tuple[list[str], np.ndarray]:
    """(the distinct labels of rows [start, stop) as texts, each row's index among them (m,));
    integer labels beyond 2^53, which float64 cannot tell apart, are refused."""
    column = np.asarray(A[start:stop, k])
    if np.issubdtype(column.dtype, np.integer) and column.size and max(-int(column.min()), int(column.max())) > 2 ** 53:
        raise ValueError(f"column {k} holds integer labels beyond 2^53, which float64 cannot tell apart; "
                         f"number the classes 0, 1, 2, …")
    if np.issubdtype(column.dtype, np.floating) and not all_finite(column):
        row = start + int(np.flatnonzero(~np.isfinite(column))[0])
        raise ValueError(f"row {row}, column {k}: the label {float(column[row - start])!r} is not a finite number")
    values, codes = np.unique(column.astype(np.float64), return_inverse=True)
    return [repr(float(v)) for v in values], codes.ravel()


def load_npy(path: str | Path, label: Any, regression: bool | None = None, *,
             progress: Callable[[int, int], None] | None = None) -> Dataset:
    """A .npy file of one example per row: column ``label`` (its index) is Y, the others X.

    The file is memory-mapped and copied into X (n_x, m) float64 a chunk at a time; the label
    is a number to regress or classes by the rule of ``load_csv`` (whole numbers are classes
    named by their value). Features are named by their column: "x0", "x1", …
    """
    path, progress = Path(path), _check_progress(progress)
    A, k, columns = open_npy(path, label)
    X = npy_rows(path, A, columns, 0, A.shape[0], progress)
    texts, codes = npy_labels(A, k, 0, A.shape[0])
    name = f"column {k}"
    output, classes = label_kind(path, name, texts, np.bincount(codes, minlength=len(texts)), regression)
    return labelled(path, X, label_rows(texts, codes, output, classes), output, classes,
                     tuple(f"x{j}" for j in columns))


def _numbers(texts: Sequence[str]) -> np.ndarray | None:
    """The texts as float64 numbers, or None when one is not a number."""
    try:
        return np.array([float(text) for text in texts], dtype=np.float64)
    except ValueError:
        return None


def label_kind(path: Path, label: str, texts: Sequence[str], counts: np.ndarray, regression: bool | None
                ) -> tuple[str, tuple[str, ...]]:
    """("identity", ()) or ("classes", the class names) for a label column whose distinct texts
    are ``texts``, ``counts[i]`` rows holding ``texts[i]``: the rule of ``load_csv``, or the
    refusal of a label that fits neither."""
    numeric = _numbers(texts)
    if numeric is not None and not np.all(np.isfinite(numeric)):
        raise ValueError(f"{path}: the label column {label!r} has non-finite values")
    whole = numeric is not None and bool(np.all(numeric == np.round(numeric)))
    values = np.unique(numeric) if whole else None
    if regression is None:
        regression = numeric is not None and not whole
        C = values.size if whole else 0
        if C > MAX_AUTO_CLASSES:
            raise ValueError(f"{path}: the label column {label!r} holds {C} distinct whole numbers; to predict it as "
                             f"a number give --output identity (regression=True), or to treat the values as {C} "
                             f"classes give --output softmax (regression=False)")
    if regression:
        if numeric is None:
            raise ValueError(f"{path}: regression needs a numeric label column; {label!r} is not numeric")
        return "identity", ()
    if whole:
        classes = tuple(str(int(c)) for c in values)
        per_class = np.bincount(np.searchsorted(values, numeric), weights=counts, minlength=values.size)
    else:
        classes = tuple(sorted(texts))
        per_class = np.asarray(counts)[np.argsort(texts, kind="stable")]
    if len(classes) < 2:
        raise ValueError(f"{path}: the label column {label!r} has only one class, {classes[0]!r}")
    C, m = len(classes), int(np.sum(counts))
    single = int(np.count_nonzero(per_class == 1))
    if C > 2 and C > m / MIN_EXAMPLES_PER_CLASS and single > C / 2:
        advice = ("if the label is a number to predict, give --output identity (regression=True)" if numeric is not None
                  else "too few to learn a class from")
        raise ValueError(f"{path}: the label column {label!r} has {C} classes for {m} examples: most classes have "
                         f"a single example; {advice}")
    return "classes", classes


def label_rows(texts: Sequence[str], codes: np.ndarray, output: str, classes: Sequence[str]) -> np.ndarray:
    """Each row's label ``texts[codes]`` as ``label_kind`` decided: Y (1, m) for "identity",
    class indices (m,) into ``classes`` otherwise. Classes that are all integers were whole
    numbers, and a label matches one by value ("3.0" is "3"); other classes match by text."""
    if output == "identity":
        return np.asarray(_numbers(texts)).reshape(-1)[codes][np.newaxis, :]
    if not len(texts):
        return np.empty(0, np.int64)
    if all(re.fullmatch(r"-?\d+", c) for c in classes):
        return np.searchsorted(np.array([float(c) for c in classes]), _numbers(texts))[codes]
    rank = {text: i for i, text in enumerate(classes)}
    return np.array([rank[text] for text in texts], dtype=np.int64)[codes]


def load_csv_features(path: str | Path, feature_names: Sequence[str], *,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """X (n_x, m) from a CSV file with a header: the named feature columns, in that order.

    Other columns (a label, say) are ignored, so the file a model was trained on, or new data
    laid out the same way, can be given to it; each row must still have a cell for every
    column. The file is read as by ``load_csv`` (separators, UTF-8, pandas or the csv module,
    ``progress``), and a feature column whose name appears twice is refused.
    """
    path, progress = Path(path), _check_progress(progress)
    csv_file = _open_csv(path)
    header = csv_file.header
    present = set(header)
    missing = [name for name in feature_names if name not in present]
    if missing:
        raise ValueError(f"{path} lacks the feature column(s) {', '.join(map(repr, missing))} the model "
                         f"was trained on; its columns are: {_listed(header)}")
    _refuse_duplicates(path, header, feature_names)
    position = {name: j for j, name in enumerate(header)}
    X, _ = _read_rows(csv_file, [position[name] for name in feature_names], None, progress)
    return X


# --- preparation ------------------------------------------------------------------------------


def split(X: np.ndarray, Y: np.ndarray, test_fraction: float = 0.2, seed: Any = 0):
    """(X_train, Y_train, X_test, Y_test): a random split of the columns, test_fraction of them
    (at least one, if the fraction is positive) held out. With test_fraction 0 the data come
    back in their order, with empty test parts."""
    X, Y = as_matrix(X, "X"), as_matrix(Y, "Y")
    m = X.shape[1]
    if Y.shape[1] != m:
        raise ValueError(f"X and Y must have the same number of columns (examples); got {m} and {Y.shape[1]}")
    train, test = split_rows(m, test_fraction, seed)
    if test.size == 0:                                             # nothing held out: keep the order
        return X, Y, X[:, :0], Y[:, :0]
    return X[:, train], Y[:, train], X[:, test], Y[:, test]


def split_rows(m: int, test_fraction: float = 0.2, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): the columns of ``split``'s parts, in their order, for m examples
    (0 … m−1 in order and none when test_fraction is 0)."""
    test_fraction = check_number("test_fraction", test_fraction, "in [0, 1)", lambda v: 0 <= v < 1)
    n_test = int(round(test_fraction * m))
    if test_fraction > 0:
        n_test = max(n_test, 1)
    if m - n_test < 1:
        raise ValueError(f"test_fraction {test_fraction} leaves no training examples of m = {m}")
    if n_test == 0:
        return np.arange(m), np.arange(0)
    permutation = as_rng(seed).permutation(m)
    return permutation[n_test:], permutation[:n_test]


class Standardizer(NamedTuple):
    """Per-feature mean and standard deviation (n_x, 1), fitted on training data."""

    mean: np.ndarray
    std: np.ndarray


def fit_standardizer(X: np.ndarray, comm: Any = None) -> Standardizer:
    """The mean and standard deviation of each feature (row) of X (n_x, m).

    A constant feature (all its values equal) gets its value as mean and 1 as std, so it
    standardises to exactly 0 instead of dividing rounding noise by rounding noise.

    Every finite X works, from subnormal numbers to ±1.8e308, without overflow or a warning:
    each row is first divided by 2^e, the power of two just below its largest |x|, which is
    exact, so the squares stay below 4 and the result is the same as without it wherever no
    overflow or underflow threatened. A row whose standard deviation is below the smallest
    float64 (it underflows to 0, so its standardised values would be infinite) is refused.

    ``comm`` (a communicator, ``chainrule.distributed``): X is this rank's share of the
    columns, and every rank gets the statistics of all the ranks' columns together: the
    same two passes (the mean, then the mean squared deviation from it), each rank's sums
    added in rank order, so equal to one process's to rounding.
    """
    if comm is None:
        X, every = as_matrix(X, "X"), (lambda a: [a])
    else:
        X, every = together(comm, lambda: as_matrix(X, "X")), functools.partial(everyone, comm)
    count = sum(every(X.shape[1]))          # the examples of a feature mean, not the m of J
    if count < 1:
        raise ValueError("X must hold at least one example (column) to fit a standardizer")
    with np.errstate(invalid="ignore"):                                  # a rank's share may be empty
        local = np.stack([np.max(X, axis=1, initial=-np.inf), -np.min(X, axis=1, initial=np.inf),
                          np.max(np.abs(X), axis=1, initial=0.0)])
    high, low, top = np.max(every(local), axis=0)[..., np.newaxis]
    constant = high == -low
    _, exponent = np.frexp(top)                                          # max|x| = f · 2^e, f in [0.5, 1)
    scale = np.ldexp(X.dtype.type(1), exponent - 1)                      # 2^(e−1) ≤ max|x|, so |X / scale| < 2
    with np.errstate(under="ignore"):                                    # parts below 2^-1074 of a row's max
        scaled = X / scale
        mean = sum(every(np.add.reduce(scaled, axis=1, keepdims=True))) / count
        deviation = scaled - mean
        std = np.sqrt(sum(every(np.add.reduce(deviation * deviation, axis=1, keepdims=True))) / count) * scale
        mean = np.clip(mean, -low / scale, high / scale) * scale         # rounding can put it an ulp above max
    flat = ~constant[:, 0] & (std[:, 0] == 0)
    if np.any(flat):
        i = int(np.flatnonzero(flat)[0])
        raise ValueError(f"feature (row) {i} of X cannot be standardised: its standard deviation is below the "
                         f"smallest float64 (5e-324), so its standardised values would be infinite; multiply it "
                         f"by a large power of ten first")
    return Standardizer(np.where(constant, high, mean), np.where(constant, 1.0, std))


def standardize(X: np.ndarray, standardizer: Standardizer) -> np.ndarray:
    """(X − mean) / std, with statistics fitted elsewhere (on the training part).

    X − mean can overflow where the true quotient does not (x = 1e308, mean = −1e308,
    std = 1e308 give 2); those entries are computed from halves, which is exact for numbers
    that large. A value whose standardised value itself is beyond float64 (far from the
    training data, of a feature with a tiny spread) is refused, naming its row and column.
    """
    X = as_matrix(X, "X")
    mean, std = standardizer
    if X.shape[0] != mean.shape[0]:
        hint = "; it looks like the examples are rows: pass X.T" if X.shape[1] == mean.shape[0] else ""
        raise ValueError(f"X must have the {mean.shape[0]} features (rows) the standardizer "
                         f"was fitted on; got shape {X.shape}{hint}")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):   # non-finite: below
        Z = (X - mean) / std
        if not all_finite(Z):
            overflowed = np.isinf(X - mean)
            if np.any(overflowed):
                half = (X / 2 - mean / 2) / (std / 2)
                Z[overflowed] = half[overflowed]
    if not all_finite(Z):
        i, j = np.argwhere(~np.isfinite(Z))[0]
        raise ValueError(f"feature (row) {i} of X cannot be standardised: its value {X[i, j]:.6g} in column {j} "
                         f"lies beyond float64's range in standard deviations ({std[i, 0]:.3g}) from the mean "
                         f"{mean[i, 0]:.6g}")
    return Z


def check_target_scale(Y: np.ndarray, label: str | None = None, m: int | None = None) -> None:
    """Refuse regression targets Y (n_y, m) too large for the squared error to stay finite.

    The cost of an identity output is J = (1/2m) Σ (A − Y)², a sum of m squares of numbers the
    size of Y: it overflows unless max |y| ≤ √(float max / m), the bound of
    ``check_feature_scale``. Labels are never rescaled silently, so the sentence says to
    divide them by a power of ten. ``m``: the examples of the sum when Y is one rank's share
    (default: Y's).
    """
    Y = as_matrix(Y, "Y")
    m = Y.shape[1] if m is None else m
    if Y.shape[1] == 0 or not np.issubdtype(Y.dtype, np.floating):
        return
    bound = math.sqrt(float(np.finfo(Y.dtype).max)) / math.sqrt(m)
    largest = float(np.max(np.abs(Y)))
    if largest > bound:
        name = f"the label column {label!r}" if label else "Y"
        raise ValueError(f"{name} has values up to {largest:.3g} in magnitude, above √({Y.dtype} max / m) = "
                         f"{bound:.3g} for m = {m} examples, where the squared error overflows; divide the labels "
                         f"by a power of ten (the predictions are then in those units)")


def check_feature_scale(X: np.ndarray, feature_names: Sequence[str] | None = None, *, standardized: bool,
                        m: int | None = None) -> None:
    """Refuse a feature (row of X (n_x, m)) too large for a network to train on without overflow.

    Training squares quantities proportional to the features and sums them over the m
    examples: the squared error of an identity output (A[L] grows with W X), the squared
    gradients of RMSprop and Adam (dW[1] = (1/m) dZ[1] Xᵀ grows with X), the L2 term once W
    has grown to match. Such a sum stays finite for every example only if

        max |x| ≤ √(float max / m)     (float64: 1.3e154 for m = 1, 1.3e151 for a million examples)

    where float is the dtype X is computed in (float64, or float32 for float32 data).

    so a row beyond it is refused with one sentence naming it (by ``feature_names`` when
    given, else "row k of X"). ``standardized`` says whether X has been standardised: if
    not, the sentence suggests doing so (``--standardize``, ``standardize=True``); if so,
    the large values are examples far from those the standardizer was fitted on. ``m``: the
    examples of the sums when X is one rank's share (default: X's).
    """
    X = as_matrix(X, "X")
    if feature_names is not None and len(feature_names) != X.shape[0]:
        raise ValueError(f"feature_names must name the {X.shape[0]} features (rows) of X; got {len(feature_names)}")
    m = X.shape[1] if m is None else m
    if X.shape[1] == 0:
        return
    bound = math.sqrt(float(np.finfo(X.dtype).max)) / math.sqrt(m)       # √(max / m), a bound, not a mean's 1/m
    largest = np.max(np.abs(X), axis=1)
    beyond = np.flatnonzero(largest > bound)
    if beyond.size:
        k = int(beyond[0])
        name = repr(feature_names[k]) if feature_names is not None else f"row {k} of X"
        what = "standardised values" if standardized else "values"
        advice = ("those examples lie far outside the data the standardizer was fitted on" if standardized
                  else "standardise the features (--standardize, or standardize=True)")
        raise ValueError(f"feature {name} has {what} up to {largest[k]:.3g} in magnitude, above √({X.dtype} max / m) = "
                         f"{bound:.3g} for m = {m} examples, where the sums of squares of training overflow; {advice}")
