"""Model files: a network, where its training stands and how its data were prepared, in one
``.npz``, no pickle.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, uncompressed) that holds
numbers and text only. Loading one never runs code (no array is unpickled), and anything
that is not exactly a model file is refused with a ``ModelFileError`` whose message is one
sentence naming the file and the problem.

Its parts are the package's own values, typed: ``ModelConfig``, the parameters, the
``TrainConfig`` of the run, its ``TrainState`` (to resume exactly), its ``History`` and its
``DataPrep``. Entries (``l`` = 1 … L; the optional parts are there only when saved):

    format                     "chainrule-model"                         0-d unicode
    format_version             2 (FORMAT_VERSION)                         0-d integer
    meta                       a JSON document, below                     0-d unicode
    W<l>, b<l>                 the model's W[l] (n_l, n_{l-1}), b[l] (n_l, 1)
    state/W<l>, state/b<l>     the state's parameters, where they differ from the model's
                               (early stopping restored the best epoch's for the model)
    state/<v|s>/dW<l>, …/db<l> the optimizer state's arrays (v: momentum, Adam; s: RMSprop,
                               Adam); gradient descent has none
    best/W<l>, best/b<l>       early stopping's best parameters, where they differ from the model's
    history/<field>            each per-epoch array of the History (epoch, cost, …)
    prep/mean, prep/std        the standardizer (n_x, 1)

Every array keeps its dtype: float32 parameters come back float32, and a loaded network
computes bit for bit what the saved one did. ``meta`` holds the rest:

    {"config":  {"layer_dims": [2, 4, 1], "hidden_activation": "tanh", "output": "sigmoid"},
     "train":   {every field of TrainConfig} or null,
     "state":   {"epoch": 120, "opt_state": {"kind": "AdamState", "t": 1200} or null,
                 "params": "model" or "own", "best": {"cost": …, "epoch": …, "waited": …,
                 "params": "model" or "own"} or null} or null,
     "history": {"stop_reason": "completed", "best_epoch": null, "seed": 0} or null,
     "prep":    {"data": "moons", "data_options": {}, "label": null, "test_fraction": 0.2,
                 "standardizer": true, "fingerprint": "9f86d0…"} or null,
     "feature_names": ["x1", "x2"], "classes": ["0", "1"],
     "figures": {"train_accuracy": 0.9075, …},     numbers the run measured at its end
     "notes":   {…}}                               free-form JSON, read by nothing in chainrule

Counts of epochs and steps (``epoch``, ``t``, ``waited``, ``best_epoch``) are below 2⁶³, as
the history's int64 column holds them. ``prep.fingerprint`` is ``data_fingerprint(X, Y)`` of
the training data as loaded (before the split), to recognise them later: 64 hexadecimal
digits, or null. ``save`` writes the key only when there is a fingerprint, so that a file
without one stays readable by earlier releases; a prep without the key loads with None.

Loading reads what it must check before it reads any array's data, so a crafted file costs
little to refuse (a zip bomb is refused before it is decompressed):

- every entry's ``.npy`` header (at most 10,000 bytes, NumPy's own limit) is read and its
  dtype and shape must account for exactly the entry's uncompressed size; the entries
  together may take at most the file's size plus 64 MiB uncompressed (``save`` writes them
  uncompressed, so its files take no more than themselves);
- the ``meta`` text holds at most 1,048,576 characters (``MAX_META_CHARS``, for ``save``
  too) and nests at most 64 levels of arrays and objects (``MAX_META_DEPTH``), checked
  before it is parsed; an object may not repeat a key;
- the config in the meta then fixes every array's name, shape and dtype, and only an
  archive whose headers match them all has its data read.

Files of format version 1 (chainrule 0.1.0) load too: ``load`` migrates them (their
``settings`` become the TrainConfig and DataPrep when the command line wrote them, ``notes``
otherwise).

Saving is atomic (``_files.write_atomically``): an interrupted save leaves the previous file
as it was, never a half-written one.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import io
import json
import math
import numbers
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._checks import as_matrix, check_names, check_params, class_count
from ._files import write_atomically
from ._format1 import migrate
from .callbacks import Best
from .datasets import Standardizer
from .history import EpochRecord, History
from .layers import LayerGrads, LayerParams
from .model import ModelConfig, check_config
from .optimizers import AdamState, GDState, MomentumState, Optimizer, RMSpropState
from .precision import STORED
from .training import TrainConfig, TrainState, make_optimizer

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_META_CHARS", "MAX_META_DEPTH", "DataPrep", "ModelFileError",
           "SavedModel", "data_fingerprint", "load", "save", "saver"]

FORMAT_NAME = "chainrule-model"
FORMAT_VERSION = 2
MAX_META_CHARS = 1 << 20        # the meta's JSON text, in characters: names, options, figures and short notes
MAX_META_DEPTH = 64             # how deep its arrays and objects nest (the meta itself is level 1)
_MAX_COUNT = 2 ** 63            # epochs and steps: what the history's int64 epoch column holds
_MAX_HEADER = 10_000            # a .npy header's bytes: NumPy's own limit when it loads (np.save writes 128)
_UNCOMPRESSED_SLACK = 64 << 20  # bytes the entries may take uncompressed beyond the file's own size
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")

_STATE_KINDS = {kind.__name__: kind for kind in (GDState, MomentumState, RMSpropState, AdamState)}
_HISTORY_ARRAYS = EpochRecord._fields                                 # epoch, cost, …, val_accuracy
_HISTORY_SCALARS = tuple(f.name for f in dataclasses.fields(History) if f.name not in _HISTORY_ARRAYS)
_META_KEYS = ("config", "train", "state", "history", "prep", "feature_names", "classes", "figures", "notes")


class ModelFileError(ValueError):
    """A file that is not a readable chainrule model file; the message names the file and why.

    ``path`` is the file that was refused (None if unknown).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else Path(path)


def _refusal(path: Path, problem: str) -> ModelFileError:
    """The error for a refused file: "cannot load PATH: PROBLEM", on one line and at most a few hundred characters."""
    return ModelFileError(f"cannot load {path}: {_short(' '.join(problem.split()), 400)}", path)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class DataPrep(NamedTuple):
    """How the training data were prepared, to prepare new data (and resume) the same way.

    data : a built-in data set's name or a CSV file's path, or None
    data_options : the options it was loaded with (``datasets.load(data, **data_options)``)
    label : the label column of a CSV file, or None
    test_fraction : the share held out (split with the run's seed)
    standardizer : the features' mean and std (n_x, 1) on the training part, or None
    fingerprint : ``data_fingerprint(X, Y)`` of the training data as loaded, before the split
        (a hex SHA-256 of the shapes, dtypes and bytes of X and Y), to tell later whether
        data are the same; None when not recorded
    """

    data: str | None = None
    data_options: dict | None = None
    label: str | None = None
    test_fraction: float = 0.0
    standardizer: Standardizer | None = None
    fingerprint: str | None = None


class SavedModel(NamedTuple):
    """What a model file holds: a network and, optionally, how it was trained and prepared.

    config : ModelConfig
    params : list of LayerParams
        The model: params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)), float32 or float64.
    train : TrainConfig, optional
        The run's options (plain values only: no functions).
    state : TrainState, optional
        Where training stands, to resume exactly: ``fit(config, X, Y, train, state=state)``.
        Its params are the last epoch's (``params`` may be the best epoch's).
    history : History, optional
    prep : DataPrep, optional
    feature_names : tuple of str
        () or one name per input feature (n_x).
    classes : tuple of str
        () or the class names: n_y for softmax, 2 for one sigmoid unit.
    figures : dict of str to float
        Numbers the run measured at its end (training and test cost and accuracy, say).
    notes : dict
        Free-form JSON (str, int, float, bool, None, lists, dicts with str keys): yours.
    """

    config: ModelConfig
    params: list
    train: TrainConfig | None = None
    state: TrainState | None = None
    history: History | None = None
    prep: DataPrep | None = None
    feature_names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    figures: dict | None = None
    notes: dict | None = None

    @property
    def standardizer(self) -> Standardizer | None:
        return None if self.prep is None else self.prep.standardizer


# --- saving ------------------------------------------------------------------------------------


def save(path: str | os.PathLike, model: SavedModel) -> Path:
    """Write ``model`` to ``path`` as a model file (see the module's docstring), atomically.

    The file is written at exactly ``path`` (no suffix is added). The model is checked first,
    and nothing is written if any part is invalid. An existing file at ``path`` is replaced
    only once the new one is complete on disk; if writing fails or is interrupted, it is left
    as it was and no temporary file remains.

    Raises
    ------
    ValueError
        When the model is not valid (parameters that do not match the config or are not
        finite, a state of another optimizer, a TrainConfig holding a function …).
    OSError
        When the file cannot be written; the previous file, if any, is intact.
    """
    arrays = _to_arrays(model)
    return write_atomically(path, lambda handle: np.savez(handle, **arrays))


def saver(path: str | os.PathLike, model: SavedModel) -> Callable[[TrainState, History], Path]:
    """``save(state, history)`` writing ``model`` with that state and history (and the state's
    parameters as the model's) to ``path``: for ``callbacks.Checkpoint``. ``model`` is a
    SavedModel of the run, e.g. ``SavedModel(config, [], train)``: its params are replaced."""
    if not isinstance(model, SavedModel):
        raise ValueError(f"model must be a chainrule.checkpoint.SavedModel of the run, e.g. SavedModel(config, [], "
                         f"train); got {type(model).__name__}")

    def save_state(state: TrainState, history: History) -> Path:
        if history.seed is None and model.train is not None:
            history = dataclasses.replace(history, seed=model.train.seed)
        return save(path, model._replace(params=state.params, state=state, history=history))
    return save_state


# --- data fingerprints --------------------------------------------------------------------------


def data_fingerprint(X: Any, Y: Any) -> str:
    """A hex SHA-256 of training data as loaded: the shape, dtype and bytes of X, then of Y.

    Recorded in ``DataPrep.fingerprint``, it tells later whether data are exactly the ones a
    model was trained on. For X then Y the digest covers the ASCII line
    ``"{A.dtype.str} {n_0},{n_1},…\n"`` (e.g. ``"<f8 2,300\n"``) and then the array's bytes in
    C order, so the same values in another dtype, a reordered array and a transposed one all
    differ (each part's length is fixed by the line before it).

    Parameters
    ----------
    X : array (n_x, m), the features as loaded (before the split and any standardisation)
    Y : array (n_y, m), the labels

    Returns
    -------
    str : 64 hexadecimal digits

    >>> data_fingerprint(np.zeros((2, 3)), np.ones((1, 3)))[:16]
    '8ce1b46a1c919028'
    >>> data_fingerprint(np.zeros((3, 2)).T, np.ones((1, 3)))[:16]       # the same values, another layout
    '8ce1b46a1c919028'
    >>> data_fingerprint(np.zeros((2, 3), np.float32), np.ones((1, 3)))[:16] != '8ce1b46a1c919028'
    True
    """
    digest = hashlib.sha256()
    for name, value in (("X", X), ("Y", Y)):
        A = np.asarray(value)
        if A.dtype.hasobject:
            raise ValueError(f"{name} must be an array of numbers (or text) to fingerprint; got dtype {A.dtype}")
        digest.update(f"{A.dtype.str} {','.join(map(str, A.shape))}\n".encode("ascii"))
        digest.update(A.tobytes(order="C"))
    return digest.hexdigest()


def _to_arrays(model: Any) -> dict[str, np.ndarray]:
    """The archive's entries for ``model``, after checking every part; a ValueError otherwise."""
    if not isinstance(model, SavedModel):
        raise ValueError(f"model must be a chainrule.checkpoint.SavedModel; got {type(model).__name__}")
    config = check_config(model.config)
    params = _checked_params("params", model.params, config)
    arrays: dict[str, np.ndarray] = {}
    _put_params(arrays, "", params)
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(config) | {"layer_dims": list(config.layer_dims)},
        "train": _train_meta(model.train),
        "state": None, "history": None, "prep": None,
        "feature_names": check_names("feature_names", model.feature_names, config.n_x, "n_x, one per feature"),
        "classes": check_names("classes", model.classes, class_count(config), "the number of classes"),
        "figures": _check_figures(model.figures),
        "notes": _plain(model.notes or {}, "notes", depth=2),
    }
    if not isinstance(meta["notes"], dict):
        raise ValueError(f"notes must be a dict; got {type(model.notes).__name__}")
    if model.state is not None:
        meta["state"] = _state_meta(arrays, model.state, params, config, model.train)
    if model.history is not None:
        if not isinstance(model.history, History):
            raise ValueError(f"history must be a chainrule History or None; got {type(model.history).__name__}")
        columns = _check_history_arrays({name: getattr(model.history, name) for name in _HISTORY_ARRAYS})
        arrays.update({f"history/{name}": column for name, column in columns.items()})
        meta["history"] = _check_history_scalars({name: getattr(model.history, name) for name in _HISTORY_SCALARS})
    if model.prep is not None:
        meta["prep"] = _prep_meta(arrays, model.prep, config)
    text = json.dumps(meta, ensure_ascii=False)
    if len(text) > MAX_META_CHARS:
        raise ValueError(f"the meta (names, options, figures and notes as JSON) would take {len(text):,} characters, "
                         f"more than the {MAX_META_CHARS:,} a model file holds; keep notes short")
    return {"format": np.array(FORMAT_NAME), "format_version": np.array(FORMAT_VERSION), "meta": np.array(text),
            **arrays}


def _put_params(arrays: dict, prefix: str, params: list) -> None:
    for l, (W, b) in enumerate(params, start=1):
        arrays[f"{prefix}W{l}"], arrays[f"{prefix}b{l}"] = W, b


def _put_unless_the_models(arrays: dict, prefix: str, params: list, model: list) -> str:
    """Store ``params`` under ``prefix`` unless they are the model's own: "own" or "model"."""
    if all(x is y or (x.dtype == y.dtype and np.array_equal(x, y))
           for p, q in zip(params, model) for x, y in zip(p, q)):
        return "model"
    _put_params(arrays, prefix, params)
    return "own"


def _train_meta(train: Any) -> dict | None:
    if train is None:
        return None
    if not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a chainrule.TrainConfig or None; got {type(train).__name__}")
    for name in ("optimizer", "decay", "batches"):
        value = getattr(train, name)
        if callable(value) or isinstance(value, Optimizer):
            raise ValueError(f"train.{name} is a function or an object of your own, which a model file cannot "
                             f"hold; save with one of the named choices, or with train=None")
    return {f.name: getattr(train, f.name) for f in dataclasses.fields(TrainConfig)}


def _state_meta(arrays: dict, state: Any, params: list, config: ModelConfig, train: TrainConfig | None) -> dict:
    if not isinstance(state, TrainState):
        raise ValueError(f"state must be a chainrule.TrainState or None; got {type(state).__name__}")
    state_params = _checked_params("state.params", state.params, config)
    own = _put_unless_the_models(arrays, "state/", state_params, params)
    meta = {"epoch": _count("state.epoch", state.epoch), "opt_state": None, "params": own, "best": None}
    if state.opt_state is not None:
        meta["opt_state"] = _opt_state_meta(arrays, state.opt_state, state_params, train)
    if state.best is not None:
        best = state.best
        if not isinstance(best, Best):
            raise ValueError(f"state.best must be a chainrule.callbacks.Best or None; got {type(best).__name__}")
        best_own = _put_unless_the_models(arrays, "best/", _checked_params("state.best.params", best.params, config),
                                          params)
        if isinstance(best.cost, bool) or not isinstance(best.cost, numbers.Real):
            raise ValueError(f"state.best.cost must be a number; got {best.cost!r:.60}")
        meta["best"] = {"cost": _plain(best.cost, "state.best.cost"), "params": best_own,
                        "epoch": _optional_count("state.best.epoch", best.epoch),
                        "waited": _count("state.best.waited", best.waited)}
    return meta


def _opt_state_meta(arrays: dict, opt_state: Any, params: list, train: TrainConfig | None) -> dict:
    kind = type(opt_state).__name__
    if kind not in _STATE_KINDS or type(opt_state) is not _STATE_KINDS[kind]:
        raise ValueError(f"state.opt_state must be one of {', '.join(_STATE_KINDS)}; got {kind}")
    if train is not None and type(make_optimizer(train).init(params)) is not type(opt_state):
        raise ValueError(f"state.opt_state must be the state of the {train.optimizer!r} optimizer; got {kind}")
    L = len(params)
    for name in opt_state._fields:
        if name == "t":
            continue
        layers = getattr(opt_state, name)
        if not isinstance(layers, (list, tuple)) or len(layers) != L:
            raise ValueError(f"state.opt_state.{name} must hold one (dW, db) pair per layer, {L}")
        for l, pair in enumerate(layers, start=1):
            try:
                dW, db = pair
            except (TypeError, ValueError):
                raise ValueError(f"state.opt_state.{name}[{l - 1}] must be a pair (dW, db)") from None
            for key, value, like in ((f"state/{name}/dW{l}", dW, params[l - 1].W),
                                     (f"state/{name}/db{l}", db, params[l - 1].b)):
                arrays[key] = _check_float_array(key, value, like.shape)
    return {"kind": kind, "t": _count("state.opt_state.t", opt_state.t)}


def _prep_meta(arrays: dict, prep: Any, config: ModelConfig) -> dict:
    if not isinstance(prep, DataPrep):
        raise ValueError(f"prep must be a chainrule.checkpoint.DataPrep or None; got {type(prep).__name__}")
    for name in ("data", "label"):
        if getattr(prep, name) is not None and not isinstance(getattr(prep, name), str):
            raise ValueError(f"prep.{name} must be a string or None; got {getattr(prep, name)!r:.60}")
    fraction = prep.test_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ValueError(f"prep.test_fraction must be in [0, 1); got {fraction!r}")
    options = _plain(prep.data_options or {}, "prep.data_options", depth=3)
    if not isinstance(options, dict):
        raise ValueError(f"prep.data_options must be a dict; got {type(prep.data_options).__name__}")
    if prep.standardizer is not None:
        try:
            mean, std = prep.standardizer
        except (TypeError, ValueError):
            raise ValueError("prep.standardizer must be a Standardizer (mean, std) or None") from None
        arrays["prep/mean"] = _check_float_array("prep/mean", mean, (config.n_x, 1))
        arrays["prep/std"] = _check_float_array("prep/std", std, (config.n_x, 1))
        if not np.all(arrays["prep/std"] > 0):
            raise ValueError("prep/std must be positive (a constant feature has std 1)")
    fingerprint = prep.fingerprint
    if fingerprint is not None and not (isinstance(fingerprint, str) and _FINGERPRINT.fullmatch(fingerprint)):
        raise ValueError(f"prep.fingerprint must be None or data_fingerprint(X, Y), 64 hexadecimal digits 0-9a-f; "
                         f"got {fingerprint!r:.80}")
    meta = {"data": prep.data, "data_options": options, "label": prep.label, "test_fraction": float(fraction),
            "standardizer": prep.standardizer is not None}
    if fingerprint is not None:           # only then: a file without one stays readable by earlier releases
        meta["fingerprint"] = fingerprint
    return meta


def _checked_params(name: str, params: Any, config: ModelConfig) -> list[LayerParams]:
    """params as L LayerParams of the config's shapes, finite, each float32 or float64 as given."""
    try:
        checked = check_params(params, config.layer_dims)          # shapes and finiteness, named W<l>, b<l>
    except ValueError as exc:
        raise ValueError(str(exc) if name == "params" else f"{name}: {exc}") from None
    for l, layer in enumerate(params, start=1):
        for array_name, value in zip((f"W{l}", f"b{l}"), layer):
            _check_dtype(array_name, value)
    return [LayerParams(W, b) for W, b in checked]


def _check_dtype(name: str, value: Any) -> None:
    """A ValueError unless ``value`` is (or makes) a float32 or float64 array, or is that dtype: no silent casts."""
    dtype = value if isinstance(value, np.dtype) else np.asarray(value).dtype
    if dtype not in STORED:
        raise ValueError(f"{name} must be float32 or float64; got {dtype}")


def _check_float_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float32 or float64 array of ``shape``, or a ValueError naming it."""
    A = as_matrix(value, name, columns="")
    if A.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {A.shape}")
    _check_dtype(name, value)
    return A


def _is_count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and 0 <= value < _MAX_COUNT


def _count(name: str, value: Any) -> int:
    """A count of epochs or steps as an int: non-negative and below 2⁶³ (int64's range), or a ValueError."""
    if not _is_count(value):
        raise ValueError(f"{name} must be a non-negative integer below 2⁶³; got {value!r:.60}")
    return int(value)


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else _count(name, value)


def _check_history_column(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if len(shape) != 1 or dtype.kind not in "iuf":
        raise ValueError(f"history/{name} must be a 1-D array of numbers, one per epoch; "
                         f"got shape {shape} and dtype {dtype}")


def _check_history_lengths(lengths: dict[str, int]) -> None:
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"the history arrays must all have one entry per epoch; their lengths are {listed}")


def _check_history_arrays(columns: dict[str, Any]) -> dict[str, np.ndarray]:
    """The per-epoch arrays as 1-D real arrays of one length (their values may be NaN)."""
    checked = {name: np.asarray(column) for name, column in columns.items()}
    for name, A in checked.items():
        _check_history_column(name, A.shape, A.dtype)
    _check_history_lengths({name: len(A) for name, A in checked.items()})
    return checked


def _check_history_scalars(values: dict[str, Any]) -> dict[str, Any]:
    """stop_reason (str), best_epoch and seed (int or None), as plain JSON values."""
    checked = {}
    for name, value in values.items():
        if name == "stop_reason":
            ok, what = isinstance(value, str), "a string"
        elif name == "best_epoch":
            ok, what = value is None or _is_count(value), "a non-negative integer below 2⁶³ or None"
        else:
            ok, what = value is None or (isinstance(value, numbers.Integral) and not isinstance(value, bool)), \
                "an integer or None"
        if not ok:
            raise ValueError(f"history.{name} must be {what}; got {value!r:.60}")
        checked[name] = int(value) if isinstance(value, numbers.Integral) else value
    return checked


def _check_figures(figures: Any) -> dict[str, float | None]:
    if figures is None:
        return {}
    if not isinstance(figures, dict) or not all(isinstance(k, str) for k in figures):
        raise ValueError(f"figures must be a dict of names to numbers; got {figures!r:.80}")
    for key, value in figures.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ValueError(f"figures[{key!r}] must be a number or None; got {value!r:.60}")
    return {k: None if v is None else (int(v) if isinstance(v, numbers.Integral) else float(v))
            for k, v in figures.items()}


def _plain(value: Any, where: str, depth: int = 1) -> Any:
    """``value`` as plain JSON data (NumPy scalars become Python numbers), or a ValueError naming where.

    ``depth`` is the level ``value`` sits at in the meta (the meta itself is 1): lists and dicts
    may nest down to MAX_META_DEPTH, so that what is saved can be loaded.
    """
    if isinstance(value, (list, tuple, dict)) and depth > MAX_META_DEPTH:
        raise ValueError(f"{_short(where, 60)} nests deeper than the {MAX_META_DEPTH} levels of lists and dicts a "
                         f"model file's meta holds")
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} must have string keys (JSON's); found the key {key!r}")
            plain[key] = _plain(v, f"{where}[{key!r}]", depth + 1)
        return plain
    raise ValueError(f"{where} must hold only JSON values (str, int, float, bool, None, lists and dicts); "
                     f"found a {type(value).__name__}")


# --- loading -----------------------------------------------------------------------------------


def load(path: str | os.PathLike) -> SavedModel:
    """Read a model file written by ``save`` (or by chainrule 0.1.0, format version 1).

    The file is checked completely, and its arrays' data are read only once everything that
    can be checked without them has been (the bounds are in the module's docstring): its
    format and version, its meta, exactly the arrays the meta implies, and from their
    ``.npy`` headers every array's shape (from the config) and dtype (an object array is
    refused by its header); then the data, with ``allow_pickle=False``, and the values
    (parameters finite, a positive std, …). Arrays keep the dtype they were saved in.

    Raises
    ------
    ModelFileError
        With one sentence naming the file and the problem: no such file, not an ``.npz``
        archive, a damaged or truncated one, a pickled (object) array, an entry larger
        than its header says or larger in all than the file allows, another format or an
        unsupported version, a meta that is not the expected JSON (too long, too deep, a
        repeated key, a value of the wrong type), missing or unexpected arrays, an array
        of the wrong shape or dtype, parameters that are NaN or infinite, history arrays of
        different lengths, or an invalid configuration. Only a MemoryError (or an
        interrupt) passes through as itself.
    """
    path = Path(path)
    try:
        return _load(path)
    except (ModelFileError, MemoryError):
        raise
    except OSError as exc:
        raise _refusal(path, f"it cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # the last guard of the promise: a bad file is refused, whatever it trips over
        raise _refusal(path, f"it is not a valid model file ({type(exc).__name__}: {exc})") from None


def _load(path: Path) -> SavedModel:
    def refuse(problem: str) -> ModelFileError:
        return _refusal(path, problem)

    _check_head(path)
    with _damage_refused(path):
        archive = zipfile.ZipFile(path)
    with archive:
        entries, others = _entries(path, archive)
        version, meta = _read_meta(path, archive, entries)
        with _values_refused(refuse):
            if version == 1:
                meta, entries = migrate(meta, entries)
            layout = _layout(meta, len(entries) + len(others), refuse)
        _check_entries(layout, entries, others, refuse)
        arrays = {key: _read_array(path, archive, entries[key]) for key in layout.shapes}
    with _values_refused(refuse):
        model = _from_arrays(meta, layout, arrays)
        _to_arrays(model)                    # every check save makes, so what loads can be saved
    return model


@contextlib.contextmanager
def _damage_refused(path: Path) -> Iterator[None]:
    """Turn what zipfile, zlib and NumPy raise while reading the archive into one refusal."""
    try:
        yield
    except (ModelFileError, MemoryError):
        raise
    except Exception as exc:  # a damaged zip fails in many ways inside zipfile, zlib and numpy's reader
        raise _refusal(path, f"the archive is damaged or truncated ({type(exc).__name__}: {exc})") from None


@contextlib.contextmanager
def _values_refused(refuse: Callable[[str], ModelFileError]) -> Iterator[None]:
    """Turn a check's ValueError (one sentence on a value) into a refusal of the file."""
    try:
        yield
    except ModelFileError:
        raise
    except (ValueError, TypeError) as exc:
        raise refuse(str(exc)) from None
    except KeyError as exc:                                  # a key of the meta that a part needs
        raise refuse(f"its meta lacks the key {_short(repr(exc.args[0]), 60) if exc.args else ''}") from None


def _check_head(path: Path) -> None:
    """Refuse a path that is missing, a folder, empty, or not a zip archive at all, by its first bytes."""
    if not path.exists():
        raise _refusal(path, "there is no such file")
    if path.is_dir():
        raise _refusal(path, "it is a folder, not a model file")
    with path.open("rb") as handle:
        head = handle.read(6)
    if not head:
        raise _refusal(path, "the file is empty")
    if head.startswith(b"\x93NUMPY"):
        raise _refusal(path, "it is a single .npy array, not a model file (an .npz archive)")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _refusal(path, "it is not an .npz archive (the file is corrupted or of another kind)")


class _Entry(NamedTuple):
    """An array of the archive as its ``.npy`` header declares it, before its data are read."""

    info: zipfile.ZipInfo
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int                      # where the data start in the entry: after the header

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * math.prod(self.shape)


def _entries(path: Path, archive: zipfile.ZipFile) -> tuple[dict[str, _Entry], list[str]]:
    """The archive's ``.npy`` entries by name (without ``.npy``), their headers read and checked
    against their sizes, and the names of its other entries; nothing of any array's data is read.

    Refused: a repeated name, entries that take more than the file's size plus
    _UNCOMPRESSED_SLACK uncompressed (a zip bomb), an unreadable header, an object array
    (its pickle is never read), and an entry whose size is not what its header implies.
    """
    infos = archive.infolist()
    names = collections.Counter(info.filename for info in infos)
    repeated = [name for name, n in names.items() if n > 1]
    if repeated:
        raise _refusal(path, f"its archive holds {names[repeated[0]]} entries named {_short(repeated[0], 60)!r}")
    size, total = path.stat().st_size, sum(info.file_size for info in infos)
    if total > size + _UNCOMPRESSED_SLACK:
        raise _refusal(path, f"its entries would take {total:,} bytes uncompressed, more than the file's own "
                             f"{size:,} bytes plus {_UNCOMPRESSED_SLACK >> 20} MiB (model files are stored "
                             f"uncompressed, so this one is a zip bomb or damaged)")
    entries, others = {}, []
    for info in infos:
        if info.filename.endswith(".npy"):
            entries[info.filename[:-4]] = _declared(path, archive, info)
        else:
            others.append(info.filename)
    return entries, others


def _declared(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    """An entry's header, from at most _MAX_HEADER bytes of it; a ModelFileError unless it
    declares a plain (not object) dtype and a shape whose data fill exactly the rest of the entry."""
    key = info.filename[:-4]
    with _damage_refused(path):
        if info.flag_bits & 0x1:
            raise _refusal(path, f"its entry {_short(key, 60)!r} is encrypted")
        with archive.open(info) as member:
            head = member.read(_MAX_HEADER + 12)            # magic, version, length, header: all a header takes
    try:
        with warnings.catch_warnings():                     # NumPy warns before it parses a header of Python 2
            warnings.simplefilter("ignore")
            stream = io.BytesIO(head)
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream, _MAX_HEADER)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream, _MAX_HEADER)
            else:
                raise ValueError(f"its .npy version is {version[0]}.{version[1]}; expected 1.0 or 2.0")
    except Exception as exc:  # whatever a crafted header of at most 10 kB makes the parser raise, MemoryError too
        raise _refusal(path, f"its entry {_short(key, 60)!r} has no readable .npy header "
                             f"({type(exc).__name__}: {_short(str(exc), 100)})") from None
    if dtype.hasobject:
        raise _refusal(path, f"its entry {_short(key, 60)!r} is a pickled object array; model files hold numbers "
                             f"and text only, and pickles are never loaded")
    entry = _Entry(info, dtype, tuple(int(n) for n in shape), fortran_order, stream.tell())
    if any(n < 0 for n in entry.shape) or entry.offset + entry.nbytes != info.file_size:
        raise _refusal(path, f"its entry {_short(key, 60)!r} declares shape {_short(str(shape), 60)} and dtype "
                             f"{dtype}, {entry.nbytes:,} bytes of data, but holds {info.file_size - entry.offset:,}")
    return entry


def _read_array(path: Path, archive: zipfile.ZipFile, entry: _Entry) -> np.ndarray:
    """The array of an entry whose header has been checked, read by NumPy with ``allow_pickle=False``
    (exactly its declared bytes, their CRC checked by zipfile at the end)."""
    with _damage_refused(path), archive.open(entry.info) as member, warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # as in _declared
        array = np.lib.format.read_array(member, allow_pickle=False, max_header_size=_MAX_HEADER)
        member.read(1)                                      # at the end: zipfile compares the CRC
    if array.dtype != entry.dtype or array.shape != entry.shape:    # the header read twice: the same bytes
        raise _refusal(path, f"its entry {_short(entry.info.filename, 60)!r} changed while it was read")
    return array


def _read_meta(path: Path, archive: zipfile.ZipFile, entries: dict[str, _Entry]) -> tuple[int, dict[str, Any]]:
    """The format version and the meta document, after the format's name; each entry read only
    once its header shows it small (a name, one integer, at most MAX_META_CHARS of text)."""
    def text(entry: _Entry | None, limit: int) -> bool:
        return entry is not None and entry.shape == () and entry.dtype.kind == "U" and entry.dtype.itemsize <= 4 * limit

    def read_text(entry: _Entry) -> str:
        with _damage_refused(path):                         # NumPy takes any 32-bit value for a character
            return str(_read_array(path, archive, entry)[()])

    fmt = entries.get("format")
    name = read_text(fmt) if text(fmt, 64) else None
    if name != FORMAT_NAME:
        if name is not None:
            found = f"its 'format' entry is {name!r}"
        elif text(fmt, 1 << 62):
            found = f"its 'format' entry is a text of {fmt.dtype.itemsize // 4:,} characters"
        else:
            found = "it has no 'format' entry"
        raise _refusal(path, f"it is not a chainrule model file ({found}; expected {FORMAT_NAME!r})")
    version = entries.get("format_version")
    if not (version is not None and version.shape == () and version.dtype.kind in "iu" and version.dtype.itemsize <= 8):
        raise _refusal(path, "it has no integer 'format_version' entry")
    number = int(_read_array(path, archive, version)[()])
    if number not in (1, FORMAT_VERSION):
        newer = " (a newer chainrule wrote it)" if number > FORMAT_VERSION else ""
        raise _refusal(path, f"it has format version {number}{newer}, and this chainrule reads "
                             f"format versions 1 and {FORMAT_VERSION}")
    meta = entries.get("meta")
    if not text(meta, MAX_META_CHARS):
        if meta is not None and meta.shape == () and meta.dtype.kind == "U":
            raise _refusal(path, f"its meta is {meta.dtype.itemsize // 4:,} characters long, more than the "
                                 f"{MAX_META_CHARS:,} a model file holds")
        raise _refusal(path, "it has no 'meta' entry (a JSON text)")
    return number, _parse_json(read_text(meta), path)


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, refusing a key given twice (json keeps the last one silently)."""
    value = dict(pairs)
    if len(value) < len(pairs):
        key = next(k for k, n in collections.Counter(k for k, _ in pairs).items() if n > 1)
        raise _RepeatedKey(f"its meta has the key {_short(key, 60)!r} twice in one object")
    return value


# A JSON string, or an unterminated one to the end of the text: a pattern that cannot fail once
# it starts, so that a text of escaped quotes is scanned once, not once per quote (quadratic).
_JSON_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def _nesting(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing it (strings skipped)."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    opened = np.frombuffer(brackets, np.uint8)
    steps = np.where((opened == ord("[")) | (opened == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def _parse_json(text: str, path: Path) -> dict[str, Any]:
    """The meta document; its depth is checked before it is parsed (json recurses once per level)."""
    depth = _nesting(text)
    if depth > MAX_META_DEPTH:
        raise _refusal(path, f"its meta nests {depth:,} levels of arrays and objects, more than the "
                             f"{MAX_META_DEPTH} a model file holds")
    try:
        meta = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey as exc:
        raise _refusal(path, str(exc)) from None
    except ValueError as exc:
        raise _refusal(path, f"its meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _refusal(path, f"its meta must be a JSON object; got {type(meta).__name__}")
    return meta


class _Layout(NamedTuple):
    """What a meta (of format 2, checked) says the archive holds: the values of its parts, and
    the shape of each array by name (None: a history column, 1-D, of any length)."""

    config: ModelConfig
    train: TrainConfig | None
    kind: type | None                                  # the optimizer state's class, if there is one
    shapes: dict[str, tuple[int, ...] | None]


def _layout(meta: dict, count: int, refuse: Callable[[str], ModelFileError]) -> _Layout:
    """The layout of a meta's archive of ``count`` entries; a refusal for a meta that is not right."""
    _check_meta(meta, refuse)
    try:
        config = ModelConfig(**meta["config"])
    except (ValueError, TypeError) as exc:
        raise refuse(f"its configuration is invalid: {exc}") from None
    if 2 * config.L > count:              # before listing names: a crafted meta may claim a million layers
        raise refuse(f"its config has {config.L:,} layers, but the archive holds only {count:,} entries")
    try:
        train = TrainConfig(**meta["train"]) if meta["train"] is not None else None
    except (ValueError, TypeError) as exc:
        raise refuse(f"its training options are invalid: {exc}") from None
    dims = config.layer_dims
    shapes: dict[str, tuple[int, ...] | None] = {}

    def params(prefix: str, W: str = "W", b: str = "b") -> None:
        for l in range(1, config.L + 1):
            shapes[f"{prefix}{W}{l}"], shapes[f"{prefix}{b}{l}"] = (dims[l], dims[l - 1]), (dims[l], 1)

    params("")
    state, kind = meta["state"], None
    if state is not None:
        if state["opt_state"] is not None:
            kind = _STATE_KINDS.get(state["opt_state"]["kind"])
            if kind is None:
                raise refuse(f"its optimizer state has the unknown kind {_short(state['opt_state']['kind'], 60)!r}; "
                             f"expected one of: {', '.join(_STATE_KINDS)}")
            for name in kind._fields:
                if name != "t":
                    params(f"state/{name}/", "dW", "db")
        if state["params"] == "own":
            params("state/")
        if state["best"] is not None and state["best"]["params"] == "own":
            params("best/")
    if meta["history"] is not None:
        shapes |= {f"history/{name}": None for name in _HISTORY_ARRAYS}
    if meta["prep"] is not None and meta["prep"]["standardizer"]:
        shapes |= {"prep/mean": (config.n_x, 1), "prep/std": (config.n_x, 1)}
    return _Layout(config, train, kind, shapes)


_PARAMETER = re.compile(r"(?:state/|best/)?([Wb])(\d+)")


def _check_entries(layout: _Layout, entries: dict[str, _Entry], others: list[str],
                   refuse: Callable[[str], ModelFileError]) -> None:
    """Exactly the arrays of the layout, each of the shape and dtype it needs, by their headers alone."""
    expected = set(layout.shapes) | {"format", "format_version", "meta"}
    missing = sorted(expected - set(entries))
    unexpected = sorted(set(entries) - expected) + sorted(others)
    if missing or unexpected:
        problems = ([f"is missing the array(s) {_listed(missing)}"] if missing else []) + \
                   ([f"has unexpected array(s) {_listed(unexpected)}"] if unexpected else [])
        raise refuse(f"it {' and '.join(problems)} for its meta")
    dims = layout.config.layer_dims
    lengths = {}
    for key, shape in layout.shapes.items():
        entry = entries[key]
        with _values_refused(refuse):
            if shape is None:
                _check_history_column(key.removeprefix("history/"), entry.shape, entry.dtype)
                lengths[key.removeprefix("history/")] = entry.shape[0]
                continue
            if entry.shape != shape:
                parameter = _PARAMETER.fullmatch(key)
                if parameter:
                    l = int(parameter[2])
                    named = f"(n_{l}, n_{l - 1})" if parameter[1] == "W" else f"(n_{l}, 1)"
                    raise ValueError(f"{key} must have shape {named} = {shape} for layer_dims "
                                     f"{_short(str(list(dims)), 80)}; got {_short(str(entry.shape), 60)}")
                raise ValueError(f"{key} must have shape {shape}; got {_short(str(entry.shape), 60)}")
            _check_dtype(key, entry.dtype)
    with _values_refused(refuse):
        _check_history_lengths(lengths)


def _listed(names: list[str], most: int = 10) -> str:
    shown = ", ".join(_short(name, 60) for name in names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most:,} more"


def _from_arrays(meta: dict, layout: _Layout, arrays: dict[str, np.ndarray]) -> SavedModel:
    """The SavedModel a (checked) meta, its layout and the arrays read describe."""
    config, L = layout.config, layout.config.L

    def params(prefix: str) -> list[LayerParams]:
        return [LayerParams(arrays[f"{prefix}W{l}"], arrays[f"{prefix}b{l}"]) for l in range(1, L + 1)]

    model_params = params("")
    state = None
    if meta["state"] is not None:
        s = meta["state"]
        opt_state = None
        if layout.kind is not None:
            layers = {name: [LayerGrads(arrays[f"state/{name}/dW{l}"], arrays[f"state/{name}/db{l}"])
                             for l in range(1, L + 1)] for name in layout.kind._fields if name != "t"}
            opt_state = layout.kind(**layers, t=s["opt_state"]["t"])
        best = None
        if s["best"] is not None:
            b = s["best"]
            best = Best(b["cost"], b["epoch"], params("best/") if b["params"] == "own" else model_params, b["waited"])
        state = TrainState(params("state/") if s["params"] == "own" else model_params, opt_state, s["epoch"], best)
    history = None
    if meta["history"] is not None:
        columns = _check_history_arrays({name: arrays[f"history/{name}"] for name in _HISTORY_ARRAYS})
        history = History(**columns, **meta["history"])
    prep = None
    if meta["prep"] is not None:
        p = meta["prep"]
        standardizer = Standardizer(arrays["prep/mean"], arrays["prep/std"]) if p["standardizer"] else None
        prep = DataPrep(p["data"], p["data_options"], p["label"], p["test_fraction"], standardizer,
                        p.get("fingerprint"))
    return SavedModel(config, model_params, layout.train, state, history, prep, tuple(meta["feature_names"]),
                      tuple(meta["classes"]), meta["figures"], meta["notes"])


def _check_meta(meta: dict, refuse: Callable[[str], ModelFileError]) -> None:
    """The meta document's keys, and the type of each value."""
    missing = [key for key in _META_KEYS if key not in meta]
    unexpected = sorted(set(meta) - set(_META_KEYS))
    if missing or unexpected:
        raise refuse("its meta " + " and ".join(
            ([f"lacks the key(s) {', '.join(missing)}"] if missing else [])
            + ([f"has unexpected key(s) {_listed(unexpected)}"] if unexpected else [])))

    def expect(where: str, value: Any, ok: bool, what: str, keys: tuple[str, ...] | None = None,
               optional: tuple[str, ...] = ()) -> None:
        if not ok:
            raise refuse(f"its meta's {where} must be {what}; got {_short(json.dumps(value), 60)}")
        if keys is not None and not set(keys) <= set(value) <= set(keys) | set(optional):
            absent = f" ({optional[0]} may be absent)" if optional else ""
            raise refuse(f"its meta's {where} must have exactly the keys {', '.join(keys + optional)}{absent}; "
                         f"got {_listed(list(value)) or 'none'}")

    def own_or_model(v: Any) -> bool:
        return v in ("own", "model")

    def is_number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    count = "a non-negative integer below 2⁶³"
    expect("config", meta["config"], isinstance(meta["config"], dict), "an object",
           ("layer_dims", "hidden_activation", "output"))
    expect("train", meta["train"], meta["train"] is None or isinstance(meta["train"], dict), "an object or null")
    if meta["train"] is not None:
        known = tuple(f.name for f in dataclasses.fields(TrainConfig))
        unknown = sorted(set(meta["train"]) - set(known))
        if unknown:
            raise refuse(f"its training options include {_listed(unknown)}, which this chainrule does not know "
                         f"(a newer chainrule wrote it)")
    state = meta["state"]
    expect("state", state, state is None or isinstance(state, dict), "an object or null")
    if state is not None:
        expect("state", state, True, "", ("epoch", "opt_state", "params", "best"))
        expect("state.epoch", state["epoch"], _is_count(state["epoch"]), count)
        expect("state.params", state["params"], own_or_model(state["params"]), '"own" or "model"')
        opt = state["opt_state"]
        expect("state.opt_state", opt, opt is None or isinstance(opt, dict), "an object or null")
        if opt is not None:
            expect("state.opt_state", opt, True, "", ("kind", "t"))
            expect("state.opt_state.kind", opt["kind"], isinstance(opt["kind"], str), "a string")
            expect("state.opt_state.t", opt["t"], _is_count(opt["t"]), count)
        best = state["best"]
        expect("state.best", best, best is None or isinstance(best, dict), "an object or null")
        if best is not None:
            expect("state.best", best, True, "", ("cost", "epoch", "waited", "params"))
            expect("state.best.cost", best["cost"], is_number(best["cost"]), "a number")
            expect("state.best.epoch", best["epoch"], best["epoch"] is None or _is_count(best["epoch"]),
                   f"{count} or null")
            expect("state.best.waited", best["waited"], _is_count(best["waited"]), count)
            expect("state.best.params", best["params"], own_or_model(best["params"]), '"own" or "model"')
    history = meta["history"]
    expect("history", history, history is None or isinstance(history, dict), "an object or null",
           None if history is None else _HISTORY_SCALARS)
    prep = meta["prep"]
    expect("prep", prep, prep is None or isinstance(prep, dict), "an object or null",
           None if prep is None else ("data", "data_options", "label", "test_fraction", "standardizer"),
           ("fingerprint",))
    if prep is not None:
        expect("prep.standardizer", prep["standardizer"], isinstance(prep["standardizer"], bool), "true or false")
        expect("prep.data_options", prep["data_options"], isinstance(prep["data_options"], dict), "an object")
        expect("prep.test_fraction", prep["test_fraction"], is_number(prep["test_fraction"]), "a number")
        fingerprint = prep.get("fingerprint")
        expect("prep.fingerprint", fingerprint, fingerprint is None
               or (isinstance(fingerprint, str) and bool(_FINGERPRINT.fullmatch(fingerprint))),
               "null or 64 hexadecimal digits 0-9a-f")
    for key in ("feature_names", "classes"):
        expect(key, meta[key], isinstance(meta[key], list) and all(isinstance(s, str) for s in meta[key]),
               "a list of strings")
    expect("figures", meta["figures"], isinstance(meta["figures"], dict)
           and all(v is None or is_number(v) for v in meta["figures"].values()), "an object of numbers or nulls")
    expect("notes", meta["notes"], isinstance(meta["notes"], dict), "an object")
