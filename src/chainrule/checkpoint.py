"""Model files: a network, where its training stands and how its data were prepared, in one
``.npz``, no pickle.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, uncompressed) that holds
numbers and text only. It is read with ``allow_pickle=False``, so loading one never runs
code, and anything that is not exactly a model file is refused with a ``ModelFileError``.

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
                 "standardizer": true} or null,
     "feature_names": ["x1", "x2"], "classes": ["0", "1"],
     "figures": {"train_accuracy": 0.9075, …},     numbers the run measured at its end
     "notes":   {…}}                               free-form JSON, read by nothing in chainrule

Files of format version 1 (chainrule 0.1.0) load too: ``load`` migrates them (their
``settings`` become the TrainConfig and DataPrep when the command line wrote them, ``notes``
otherwise).

Saving is atomic (``_files.write_atomically``): an interrupted save leaves the previous file
as it was, never a half-written one.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._checks import as_matrix, check_params
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

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "DataPrep", "ModelFileError", "SavedModel", "load", "save", "saver"]

FORMAT_NAME = "chainrule-model"
FORMAT_VERSION = 2

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
    return ModelFileError(f"cannot load {path}: {problem}", path)


class DataPrep(NamedTuple):
    """How the training data were prepared, to prepare new data (and resume) the same way.

    data : a built-in data set's name or a CSV file's path, or None
    data_options : the options it was loaded with (``datasets.load(data, **data_options)``)
    label : the label column of a CSV file, or None
    test_fraction : the share held out (split with the run's seed)
    standardizer : the features' mean and std (n_x, 1) on the training part, or None
    """

    data: str | None = None
    data_options: dict | None = None
    label: str | None = None
    test_fraction: float = 0.0
    standardizer: Standardizer | None = None


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
        "feature_names": _check_names("feature_names", model.feature_names, config.n_x, "n_x, one per feature"),
        "classes": _check_names("classes", model.classes, _class_count(config), "the number of classes"),
        "figures": _check_figures(model.figures),
        "notes": _plain(model.notes or {}, "notes"),
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
    return {"format": np.array(FORMAT_NAME), "format_version": np.array(FORMAT_VERSION),
            "meta": np.array(json.dumps(meta, ensure_ascii=False)), **arrays}


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
    epoch = state.epoch
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f"state.epoch must be a non-negative integer; got {epoch!r}")
    meta = {"epoch": int(epoch), "opt_state": None, "params": own, "best": None}
    if state.opt_state is not None:
        meta["opt_state"] = _opt_state_meta(arrays, state.opt_state, state_params, train)
    if state.best is not None:
        best = state.best
        if not isinstance(best, Best):
            raise ValueError(f"state.best must be a chainrule.callbacks.Best or None; got {type(best).__name__}")
        best_own = _put_unless_the_models(arrays, "best/", _checked_params("state.best.params", best.params, config),
                                          params)
        meta["best"] = {"cost": _plain(best.cost, "state.best.cost"), "params": best_own,
                        "epoch": _optional_int("state.best.epoch", best.epoch),
                        "waited": _optional_int("state.best.waited", best.waited)}
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
    return {"kind": kind, "t": _optional_int("state.opt_state.t", opt_state.t)}


def _prep_meta(arrays: dict, prep: Any, config: ModelConfig) -> dict:
    if not isinstance(prep, DataPrep):
        raise ValueError(f"prep must be a chainrule.checkpoint.DataPrep or None; got {type(prep).__name__}")
    for name in ("data", "label"):
        if getattr(prep, name) is not None and not isinstance(getattr(prep, name), str):
            raise ValueError(f"prep.{name} must be a string or None; got {getattr(prep, name)!r:.60}")
    fraction = prep.test_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction < 1:
        raise ValueError(f"prep.test_fraction must be in [0, 1); got {fraction!r}")
    options = _plain(prep.data_options or {}, "prep.data_options")
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
    return {"data": prep.data, "data_options": options, "label": prep.label, "test_fraction": float(fraction),
            "standardizer": prep.standardizer is not None}


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
    """A ValueError unless ``value`` is (or makes) a float32 or float64 array: no silent casts."""
    dtype = np.asarray(value).dtype
    if dtype not in STORED:
        raise ValueError(f"{name} must be float32 or float64; got {dtype}")


def _check_float_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float32 or float64 array of ``shape``, or a ValueError naming it."""
    A = as_matrix(value, name, columns="")
    if A.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {A.shape}")
    _check_dtype(name, value)
    return A


def _optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def _check_history_arrays(columns: dict[str, Any]) -> dict[str, np.ndarray]:
    """The per-epoch arrays as 1-D real arrays of one length (their values may be NaN)."""
    checked = {}
    for name, column in columns.items():
        A = np.asarray(column)
        if A.ndim != 1 or A.dtype.kind not in "iuf":
            raise ValueError(f"history/{name} must be a 1-D array of numbers, one per epoch; "
                             f"got shape {A.shape} and dtype {A.dtype}")
        checked[name] = A
    lengths = {name: len(A) for name, A in checked.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"the history arrays must all have one entry per epoch; their lengths are {listed}")
    return checked


def _check_history_scalars(values: dict[str, Any]) -> dict[str, Any]:
    """stop_reason (str), best_epoch and seed (int or None), as plain JSON values."""
    checked = {}
    for name, value in values.items():
        if name == "stop_reason":
            ok = isinstance(value, str)
        else:
            ok = value is None or (isinstance(value, numbers.Integral) and not isinstance(value, bool))
        if not ok:
            what = "a string" if name == "stop_reason" else "an integer or None"
            raise ValueError(f"history.{name} must be {what}; got {value!r}")
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


def _class_count(config: ModelConfig) -> int | None:
    """How many class names a network has: n_y for softmax, 2 for one sigmoid unit; else any."""
    if config.output == "softmax":
        return config.n_y
    if config.output == "sigmoid" and config.n_y == 1:
        return 2
    return None


def _check_names(name: str, names: Any, count: int | None, what: str) -> list[str]:
    """() or a sequence of ``count`` strings, as a list for JSON."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
        raise ValueError(f"{name} must be a tuple of strings; got {names!r:.80}")
    if names and count is not None and len(names) != count:
        raise ValueError(f"{name} must be empty or hold {count} names ({what}); got {len(names)}")
    return list(names)


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (NumPy scalars become Python numbers), or a ValueError naming where."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} must have string keys (JSON's); found the key {key!r}")
            plain[key] = _plain(v, f"{where}[{key!r}]")
        return plain
    raise ValueError(f"{where} must hold only JSON values (str, int, float, bool, None, lists and dicts); "
                     f"found a {type(value).__name__}")


# --- loading -----------------------------------------------------------------------------------


def load(path: str | os.PathLike) -> SavedModel:
    """Read a model file written by ``save`` (or by chainrule 0.1.0, format version 1).

    The file is opened with ``allow_pickle=False`` and checked completely: its format and
    version, its meta, exactly the arrays the meta implies, and every array's shape (from
    the config), dtype and finiteness. Arrays keep the dtype they were saved in.

    Raises
    ------
    ModelFileError
        With one sentence naming the file and the problem: no such file, not an ``.npz``
        archive, a damaged or truncated one, a pickled (object) array, another format or an
        unsupported version, a meta that is not the expected JSON, missing or unexpected
        arrays, an array of the wrong shape or dtype, parameters that are NaN or infinite,
        history arrays of different lengths, or an invalid configuration.
    """
    path = Path(path)
    arrays = _read_arrays(path)

    def refuse(problem: str) -> ModelFileError:
        return _refusal(path, problem)

    fmt = arrays.get("format")
    if not (_is_text(fmt) and str(fmt[()]) == FORMAT_NAME):
        found = f"its 'format' entry is {str(fmt[()])!r:.40}" if _is_text(fmt) else "it has no 'format' entry"
        raise refuse(f"it is not a chainrule model file ({found}; expected {FORMAT_NAME!r})")
    version = arrays.get("format_version")
    if not (isinstance(version, np.ndarray) and version.shape == () and version.dtype.kind in "iu"):
        raise refuse("it has no integer 'format_version' entry")
    if int(version) not in (1, FORMAT_VERSION):
        newer = " (a newer chainrule wrote it)" if int(version) > FORMAT_VERSION else ""
        raise refuse(f"it has format version {int(version)}{newer}, and this chainrule reads "
                     f"format versions 1 and {FORMAT_VERSION}")
    meta = _read_json(arrays.get("meta"), refuse)
    try:
        if int(version) == 1:
            meta, arrays = migrate(meta, arrays)
        model = _from_arrays(meta, arrays, refuse)
        _to_arrays(model)                    # every check save makes, so what loads can be saved
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise refuse(str(exc).strip("'\"")) from None
    return model


def _from_arrays(meta: dict, arrays: dict, refuse: Callable[[str], ModelFileError]) -> SavedModel:
    """The SavedModel a (format 2) meta and its arrays describe, each part checked."""
    _check_meta(meta, refuse)
    try:
        config = ModelConfig(**meta["config"])
    except (ValueError, TypeError) as exc:
        raise refuse(f"its configuration is invalid: {exc}") from None
    expected = {"format", "format_version", "meta"} | _names("", config)
    try:
        train = TrainConfig(**meta["train"]) if meta["train"] is not None else None
    except (ValueError, TypeError) as exc:
        raise refuse(f"its training options are invalid: {exc}") from None
    state_meta, kind = meta["state"], None
    if state_meta is not None:
        if state_meta["opt_state"] is not None:
            kind = _STATE_KINDS.get(state_meta["opt_state"]["kind"])
            if kind is None:
                raise refuse(f"its optimizer state has the unknown kind {state_meta['opt_state']['kind']!r}; "
                             f"expected one of: {', '.join(_STATE_KINDS)}")
            expected |= {f"state/{name}/{p}{l}" for name in kind._fields if name != "t"
                         for l in range(1, config.L + 1) for p in ("dW", "db")}
        if state_meta["params"] == "own":
            expected |= _names("state/", config)
        if state_meta["best"] is not None and state_meta["best"]["params"] == "own":
            expected |= _names("best/", config)
    if meta["history"] is not None:
        expected |= {f"history/{name}" for name in _HISTORY_ARRAYS}
    if meta["prep"] is not None and meta["prep"]["standardizer"]:
        expected |= {"prep/mean", "prep/std"}
    missing, unexpected = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing or unexpected:
        problems = ([f"is missing the array(s) {', '.join(missing)}"] if missing else []) + \
                   ([f"has unexpected array(s) {', '.join(unexpected)}"] if unexpected else [])
        raise refuse(f"it {' and '.join(problems)} for its meta")

    params = _get_params(arrays, "", config)
    state = None
    if state_meta is not None:
        state_params = _get_params(arrays, "state/", config) if state_meta["params"] == "own" else params
        opt_state = None
        if kind is not None:
            layers = {name: [LayerGrads(arrays[f"state/{name}/dW{l}"], arrays[f"state/{name}/db{l}"])
                             for l in range(1, config.L + 1)] for name in kind._fields if name != "t"}
            opt_state = kind(**layers, t=state_meta["opt_state"]["t"])
        best = None
        if state_meta["best"] is not None:
            b = state_meta["best"]
            best_params = _get_params(arrays, "best/", config) if b["params"] == "own" else params
            best = Best(b["cost"], b["epoch"], best_params, b["waited"])
        state = TrainState(state_params, opt_state, state_meta["epoch"], best)
    history = None
    if meta["history"] is not None:
        columns = _check_history_arrays({name: arrays[f"history/{name}"] for name in _HISTORY_ARRAYS})
        history = History(**columns, **meta["history"])
    prep = None
    if meta["prep"] is not None:
        p = meta["prep"]
        standardizer = Standardizer(arrays["prep/mean"], arrays["prep/std"]) if p["standardizer"] else None
        prep = DataPrep(p["data"], p["data_options"], p["label"], p["test_fraction"], standardizer)
    return SavedModel(config, params, train, state, history, prep, tuple(meta["feature_names"]),
                      tuple(meta["classes"]), meta["figures"], meta["notes"])


def _names(prefix: str, config: ModelConfig) -> set[str]:
    return {f"{prefix}{p}{l}" for l in range(1, config.L + 1) for p in ("W", "b")}


def _get_params(arrays: dict, prefix: str, config: ModelConfig) -> list[LayerParams]:
    return [LayerParams(arrays[f"{prefix}W{l}"], arrays[f"{prefix}b{l}"]) for l in range(1, config.L + 1)]


def _read_arrays(path: Path) -> dict[str, Any]:
    """Every entry of the archive at ``path``, read without pickle; a ModelFileError otherwise."""
    if not path.exists():
        raise _refusal(path, "there is no such file")
    if path.is_dir():
        raise _refusal(path, "it is a folder, not a model file")
    try:
        with path.open("rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise _refusal(path, f"it cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise _refusal(path, "the file is empty")
    if head.startswith(b"\x93NUMPY"):
        raise _refusal(path, "it is a single .npy array, not a model file (an .npz archive)")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _refusal(path, "it is not an .npz archive (the file is corrupted or of another kind)")
    arrays: dict[str, Any] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                try:
                    arrays[key] = npz[key]
                except ValueError as exc:
                    if "pickle" not in str(exc):
                        raise
                    raise _refusal(path, f"its entry {key!r} is a pickled object array; model "
                                         f"files hold numbers and text only, and pickles are "
                                         f"never loaded") from None
    except ModelFileError:
        raise
    except Exception as exc:  # a damaged zip fails in many ways inside zipfile, zlib and numpy's reader
        raise _refusal(path, f"the archive is damaged or truncated ({type(exc).__name__}: {exc})") from None
    return arrays


def _is_text(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind == "U"


def _read_json(entry: Any, refuse: Callable[[str], ModelFileError]) -> dict[str, Any]:
    if not _is_text(entry):
        raise refuse("it has no 'meta' entry (a JSON text)")
    try:
        meta = json.loads(str(entry[()]))
    except ValueError as exc:
        raise refuse(f"its meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise refuse(f"its meta must be a JSON object; got {type(meta).__name__}")
    return meta


def _check_meta(meta: dict, refuse: Callable[[str], ModelFileError]) -> None:
    """The meta document's keys, and the type of each value."""
    missing = [key for key in _META_KEYS if key not in meta]
    unexpected = sorted(set(meta) - set(_META_KEYS))
    if missing or unexpected:
        raise refuse("its meta " + " and ".join(
            ([f"lacks the key(s) {', '.join(missing)}"] if missing else [])
            + ([f"has unexpected key(s) {', '.join(unexpected)}"] if unexpected else [])))

    def expect(where: str, value: Any, ok: bool, what: str, keys: tuple[str, ...] | None = None) -> None:
        if not ok:
            raise refuse(f"its meta's {where} must be {what}; got {json.dumps(value)[:60]}")
        if keys is not None and set(value) != set(keys):
            raise refuse(f"its meta's {where} must have exactly the keys {', '.join(keys)}; "
                         f"got {', '.join(value) or 'none'}")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    def own_or_model(v: Any) -> bool:
        return v in ("own", "model")

    expect("config", meta["config"], isinstance(meta["config"], dict), "an object",
           ("layer_dims", "hidden_activation", "output"))
    expect("train", meta["train"], meta["train"] is None or isinstance(meta["train"], dict), "an object or null")
    if meta["train"] is not None:
        known = tuple(f.name for f in dataclasses.fields(TrainConfig))
        unknown = sorted(set(meta["train"]) - set(known))
        if unknown:
            raise refuse(f"its training options include {', '.join(unknown)}, which this chainrule does not know "
                         f"(a newer chainrule wrote it)")
    state = meta["state"]
    expect("state", state, state is None or isinstance(state, dict), "an object or null")
    if state is not None:
        expect("state", state, True, "", ("epoch", "opt_state", "params", "best"))
        expect("state.epoch", state["epoch"], is_int(state["epoch"]), "a non-negative integer")
        expect("state.params", state["params"], own_or_model(state["params"]), '"own" or "model"')
        opt = state["opt_state"]
        expect("state.opt_state", opt, opt is None or isinstance(opt, dict), "an object or null")
        if opt is not None:
            expect("state.opt_state", opt, True, "", ("kind", "t"))
            expect("state.opt_state.kind", opt["kind"], isinstance(opt["kind"], str), "a string")
            expect("state.opt_state.t", opt["t"], is_int(opt["t"]), "a non-negative integer")
        best = state["best"]
        expect("state.best", best, best is None or isinstance(best, dict), "an object or null")
        if best is not None:
            expect("state.best", best, True, "", ("cost", "epoch", "waited", "params"))
            expect("state.best.cost", best["cost"], isinstance(best["cost"], (int, float))
                   and not isinstance(best["cost"], bool), "a number")
            expect("state.best.epoch", best["epoch"], best["epoch"] is None or is_int(best["epoch"]),
                   "a non-negative integer or null")
            expect("state.best.waited", best["waited"], is_int(best["waited"]), "a non-negative integer")
            expect("state.best.params", best["params"], own_or_model(best["params"]), '"own" or "model"')
    history = meta["history"]
    expect("history", history, history is None or isinstance(history, dict), "an object or null",
           None if history is None else _HISTORY_SCALARS)
    prep = meta["prep"]
    expect("prep", prep, prep is None or isinstance(prep, dict), "an object or null",
           None if prep is None else ("data", "data_options", "label", "test_fraction", "standardizer"))
    if prep is not None:
        expect("prep.standardizer", prep["standardizer"], isinstance(prep["standardizer"], bool), "true or false")
        expect("prep.data_options", prep["data_options"], isinstance(prep["data_options"], dict), "an object")
    for key in ("feature_names", "classes"):
        expect(key, meta[key], isinstance(meta[key], list) and all(isinstance(s, str) for s in meta[key]),
               "a list of strings")
    expect("figures", meta["figures"], isinstance(meta["figures"], dict), "an object")
    expect("notes", meta["notes"], isinstance(meta["notes"], dict), "an object")
