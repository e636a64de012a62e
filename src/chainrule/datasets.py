"""Data sets in the course's layout: X (n_x, m) and Y (n_y, m), one column per example.

- ``planar_flower``: the course's planar "flower", exactly (Course 1, week 3).
- Two-dimensional sets of the kind learners meet in playgrounds: ``moons``, ``circles``,
  ``blobs`` (scikit-learn's generators), ``spirals``, ``xor``, ``gaussian``.
- scikit-learn's bundled real data, offline: ``digits``, ``breast_cancer``, ``iris``, ``wine``.
- ``load_csv``: any CSV file, the label column chosen by name.

Every loader returns a ``Dataset`` whose Y already fits an output layer: two classes give a
(1, m) row of 0/1 for a sigmoid output, more give one-hot (C, m) for softmax, and a numeric
label with non-integer values gives a (1, m) target for an identity output. ``split``,
``fit_standardizer`` / ``standardize`` and ``one_hot`` do the rest of the usual preparation,
with the statistics fitted on the training part only.
"""

from __future__ import annotations

import csv
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._checks import as_matrix, as_rng, check_number


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


def circles(m: int = 300, noise: float = 0.05, seed: int = 0, factor: float = 0.5) -> Dataset:
    """A small circle inside a large one (scikit-learn's ``make_circles``)."""
    m, noise = _check_count("m", m, 2), _check_noise(noise)
    seed = _check_seed(seed)
    factor = check_number("factor (inner radius / outer radius)", factor, "in [0, 1)", lambda v: 0 <= v < 1)
    X, labels = _sklearn_datasets().make_circles(n_samples=m, noise=noise, factor=factor,
                                                 random_state=np.random.RandomState(seed))
    return _from_class_indices(X.T, labels, ("0", "1"), "circles")


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


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, cells), …]) of a CSV file, blank lines skipped."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise ValueError(f"no such CSV file: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read {path} as CSV: {exc}") from None
    if len(rows) < 2:
        raise ValueError(f"{path} must have a header row and at least one row of data")
    return [h.strip() for h in rows[0][1]], rows[1:]


def load_csv(path: str | Path, label: str, regression: bool | None = None) -> Dataset:
    """A CSV file with a header row: the column named ``label`` is Y, every other column a feature.

    Features must be numbers. ``regression`` says what the label is: True, a number to
    predict (identity output); False, a class (sorted; two give sigmoid 0/1, more give
    one-hot for softmax). None decides from the values: labels that are not all numbers,
    or are all integers, are classes; numbers with a fractional part are a regression
    target. A missing label (empty, NA, NaN, null, ?) is an error.
    """
    path = Path(path)
    header, rows = _read_csv(path)
    if label not in header:
        raise ValueError(f"{path} has no column {label!r}; its columns are: {', '.join(header)}")
    if header.count(label) > 1:
        raise ValueError(f"{path} has the column {label!r} {header.count(label)} times; rename all but one")
    if len(header) < 2:
        raise ValueError(f"{path} has only the label column; there are no features")
    k = header.index(label)
    features, labels = [], []
    for line, row in rows:
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} values for {len(header)} columns")
        values = []
        for j, cell in enumerate(row):
            if j == k:
                continue
            try:
                value = float(cell)
            except ValueError:
                raise ValueError(f"{path}, line {line}, column {header[j]!r}: {cell!r} is not a number") from None
            if not np.isfinite(value):
                raise ValueError(f"{path}, line {line}, column {header[j]!r}: {cell!r} is not a finite number")
            values.append(value)
        if row[k].strip().lower() in MISSING:
            raise ValueError(f"{path}, line {line}: the label {label!r} is missing ({row[k]!r})")
        features.append(values)
        labels.append(row[k].strip())
    X = np.array(features).T                                        # (n_x, m)
    names = tuple(h for j, h in enumerate(header) if j != k)
    try:
        numeric = np.array([float(v) for v in labels])
    except ValueError:
        numeric = None
    if numeric is not None and not np.all(np.isfinite(numeric)):
        raise ValueError(f"{path}: the label column {label!r} has non-finite values")
    if regression is None:
        regression = numeric is not None and bool(np.any(numeric != np.round(numeric)))
    if regression:
        if numeric is None:
            raise ValueError(f"{path}: regression needs a numeric label column; {label!r} is not numeric")
        return Dataset(X, numeric[np.newaxis, :], "identity", names, (), path.stem)
    if numeric is not None and np.all(numeric == np.round(numeric)):
        classes_sorted = np.unique(numeric)
        indices = np.searchsorted(classes_sorted, numeric)
        classes = tuple(str(int(c)) for c in classes_sorted)
    else:
        classes = tuple(sorted(set(labels)))
        indices = np.array([classes.index(v) for v in labels])
    if len(classes) < 2:
        raise ValueError(f"{path}: the label column {label!r} has only one class, {classes[0]!r}")
    return _from_class_indices(X, indices, classes, path.stem, names)


# --- preparation ------------------------------------------------------------------------------


def split(X: np.ndarray, Y: np.ndarray, test_fraction: float = 0.2, seed: Any = 0):
    """(X_train, Y_train, X_test, Y_test): a random split of the columns, test_fraction of them
    (at least one, if the fraction is positive) held out. With test_fraction 0 the data come
    back in their order, with empty test parts."""
    test_fraction = check_number("test_fraction", test_fraction, "in [0, 1)", lambda v: 0 <= v < 1)
    X, Y = as_matrix(X, "X"), as_matrix(Y, "Y")
    m = X.shape[1]
    if Y.shape[1] != m:
        raise ValueError(f"X and Y must have the same number of columns (examples); got {m} and {Y.shape[1]}")
    n_test = int(round(test_fraction * m))
    if test_fraction > 0:
        n_test = max(n_test, 1)
    if m - n_test < 1:
        raise ValueError(f"test_fraction {test_fraction} leaves no training examples of m = {m}")
    if n_test == 0:                                                # nothing held out: keep the order
        return X, Y, X[:, :0], Y[:, :0]
    permutation = as_rng(seed).permutation(m)
    test, train = permutation[:n_test], permutation[n_test:]
    return X[:, train], Y[:, train], X[:, test], Y[:, test]


class Standardizer(NamedTuple):
    """Per-feature mean and standard deviation (n_x, 1), fitted on training data."""

    mean: np.ndarray
    std: np.ndarray


def fit_standardizer(X: np.ndarray) -> Standardizer:
    """The mean and standard deviation of each feature (row) of X (n_x, m).

    A constant feature (all its values equal) gets its value as mean and 1 as std, so it
    standardises to exactly 0 instead of dividing rounding noise by rounding noise.
    """
    X = as_matrix(X, "X")
    if X.shape[1] < 1:
        raise ValueError("X must hold at least one example (column) to fit a standardizer")
    constant = np.all(X == X[:, :1], axis=1, keepdims=True)
    mean = np.where(constant, X[:, :1], X.mean(axis=1, keepdims=True))
    std = np.where(constant, 1.0, X.std(axis=1, keepdims=True))
    return Standardizer(mean, std)


def standardize(X: np.ndarray, standardizer: Standardizer) -> np.ndarray:
    """(X − mean) / std, with statistics fitted elsewhere (on the training part)."""
    X = as_matrix(X, "X")
    if X.shape[0] != standardizer.mean.shape[0]:
        hint = "; it looks like the examples are rows: pass X.T" if X.shape[1] == standardizer.mean.shape[0] else ""
        raise ValueError(f"X must have the {standardizer.mean.shape[0]} features (rows) the standardizer "
                         f"was fitted on; got shape {X.shape}{hint}")
    return (X - standardizer.mean) / standardizer.std


def load_csv_features(path: str | Path, feature_names: Sequence[str]) -> np.ndarray:
    """X (n_x, m) from a CSV file with a header: the named feature columns, in that order.

    Other columns (a label, say) are ignored, so the file a model was trained on, or new
    data laid out the same way, can be given to it.
    """
    path = Path(path)
    header, rows = _read_csv(path)
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise ValueError(f"{path} lacks the feature column(s) {', '.join(map(repr, missing))} the model "
                         f"was trained on; its columns are: {', '.join(header)}")
    columns = [header.index(name) for name in feature_names]
    X = np.empty((len(columns), len(rows)))
    for i, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} values for {len(header)} columns")
        for k, j in enumerate(columns):
            try:
                X[k, i] = float(row[j])
            except ValueError:
                raise ValueError(f"{path}, line {line}, column {header[j]!r}: {row[j]!r} is not a number") from None
            if not np.isfinite(X[k, i]):
                raise ValueError(f"{path}, line {line}, column {header[j]!r}: {row[j]!r} is not a finite number")
    return X
