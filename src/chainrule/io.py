"""Model files: a network, its training state and its preparation in one ``.npz``, no pickle.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, uncompressed) that holds
numbers and text only. It is read with ``allow_pickle=False``, so loading one never runs
code, and anything that is not exactly a model file is refused with a ``ModelFileError``.

Entries (``l`` = 1 … L; the optional parts are there only when saved):

    format               "chainrule-model"                      0-d unicode
    format_version       1 (FORMAT_VERSION)                      0-d integer
    meta                 a JSON document, below                  0-d unicode
    W<l>, b<l>           W[l] (n_l, n_{l-1}), b[l] (n_l, 1)
    history/<field>      each per-epoch array of the History: epoch, cost, data_cost, l2_cost,
                         accuracy, learning_rate, val_cost, val_accuracy (one entry per epoch)
    state/<field>/dW<l>  the optimizer state's arrays for W[l] and b[l]: <field> is v
    state/<field>/db<l>  (momentum), s (RMSprop), or both (Adam); gradient descent has none
    standardizer/mean    (n_x, 1)
    standardizer/std     (n_x, 1)

Every array keeps its dtype: float32 parameters come back float32, and a loaded network
computes bit for bit what the saved one did. ``meta`` holds everything else:

    {"config": {"layer_dims": [2, 4, 1], "hidden_activation": "tanh", "output": "sigmoid"},
     "optimizer": "adam",                                  or null
     "optimizer_hyper": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},
     "optimizer_state": {"kind": "AdamState", "t": 120},   or null: no state/ arrays
     "history": {"stop_reason": "completed", "best_epoch": null, "seed": 0},
                                                           or null: no history/ arrays
     "standardizer": true,                                 or false: no standardizer/ arrays
     "settings": {...},                                    free-form JSON
     "feature_names": ["x1", "x2"], "classes": ["0", "1"]}

A file must hold exactly the arrays its meta implies, each of the shape its config implies.

Saving is atomic: the archive is written to a temporary file in the target's folder, flushed
to disk, and only then renamed onto the target, so an interruption (a full disk, Ctrl-C)
leaves the previous file as it was, never a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import uuid
from dataclasses import fields
from pathlib import Path
from typing import BinaryIO, Callable, Any, NamedTuple

import numpy as np

from .datasets import Standardizer
from .layers import LayerGrads, LayerParams
from .model import ModelConfig, check_config
from .optimizers import AdamState, GDState, MomentumState, RMSpropState, get_optimizer
from .training import EpochRecord, History
from .validation import as_matrix, check_params

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "SavedModel", "load_model", "save_model"]

FORMAT_NAME = "chainrule-model"
FORMAT_VERSION = 1

_STATE_KINDS = {kind.__name__: kind for kind in (GDState, MomentumState, RMSpropState, AdamState)}
_HISTORY_ARRAYS = EpochRecord._fields                                 # epoch, cost, …, val_accuracy
_HISTORY_SCALARS = tuple(f.name for f in fields(History) if f.name not in _HISTORY_ARRAYS)
_META_KEYS = ("config", "optimizer", "optimizer_hyper", "optimizer_state", "history", "standardizer",
              "settings", "feature_names", "classes")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class ModelFileError(ValueError):
    """A file that is not a readable chainrule model file; the message names the file and why.

    ``path`` is the file that was refused (None if unknown).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else Path(path)


def _refusal(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"cannot load {path}: {problem}", path)


class _SavedModelFields(NamedTuple):
    config: ModelConfig
    params: list
    history: History | None = None
    optimizer: str | None = None
    optimizer_hyper: dict | None = None
    optimizer_state: Any = None
    settings: dict | None = None
    standardizer: Standardizer | None = None
    feature_names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()


class SavedModel(_SavedModelFields):
    """What a model file holds: a network and, optionally, how it was trained and prepared.

    Parameters
    ----------
    config : ModelConfig
    params : list of LayerParams
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)), float32 or float64, finite.
    history : History, optional
        ``fit``'s per-epoch figures.
    optimizer : "gd", "momentum", "rmsprop" or "adam", optional
        The optimizer trained with; needed with ``optimizer_state``.
    optimizer_hyper : dict, optional
        Its hyperparameters, as ``fit`` takes them: beta (momentum, RMSprop), beta1, beta2
        (Adam), epsilon (RMSprop, Adam). None means {} (the optimizer's defaults).
    optimizer_state : GDState, MomentumState, RMSpropState or AdamState, optional
        ``fit``'s optimizer_state after the last epoch, to resume training exactly: its v
        and s hold one LayerGrads (arrays of W[l]'s and b[l]'s shapes) per layer, t the
        number of steps taken.
    settings : dict, optional
        Free-form JSON: str, int, float (NaN and ±inf too), bool, None, lists, and dicts
        with str keys, e.g. the learning rate and the final accuracy. Tuples come back as
        lists; NumPy scalars are saved as Python numbers. None means {}.
    standardizer : Standardizer, optional
        mean and std (n_x, 1) of the training features, to prepare new X the same way.
    feature_names : tuple of str
        () or one name per input feature (n_x).
    classes : tuple of str
        () or the class names: n_y for softmax, 2 for one sigmoid unit.

    The dict fields default to None and are replaced by a new {} on construction, so that
    no two models share one.
    """

    __slots__ = ()

    def __new__(
        cls,
        config: ModelConfig,
        params: list,
        history: History | None = None,
        optimizer: str | None = None,
        optimizer_hyper: dict | None = None,
        optimizer_state: Any = None,
        settings: dict | None = None,
        standardizer: Standardizer | None = None,
        feature_names: tuple[str, ...] = (),
        classes: tuple[str, ...] = (),
    ) -> "SavedModel":
        return super().__new__(cls, config, params, history, optimizer,
                               {} if optimizer_hyper is None else optimizer_hyper, optimizer_state,
                               {} if settings is None else settings, standardizer, feature_names, classes)


# --- saving ------------------------------------------------------------------------------------


def save_model(path: str | os.PathLike, model: SavedModel) -> Path:
    """Write ``model`` to ``path`` as a model file (see the module's docstring), atomically.

    The file is written at exactly ``path``: no suffix is added (``.npz`` is the custom, not
    a rule). The model is checked first, and nothing is written if any part is invalid.
    An existing file at ``path`` is replaced only once the new one is complete on disk; if
    writing fails or is interrupted, it is left as it was and no temporary file remains.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.
    model : SavedModel

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When the model is not valid (parameters that do not match the config or are not
        finite, an optimizer state of another optimizer, settings that are not JSON …).
    OSError
        When the file cannot be written; the previous file, if any, is intact.
    """
    arrays = _to_arrays(model)
    return write_atomically(path, lambda handle: np.savez(handle, **arrays))


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file by ``write(handle)`` so that ``path`` is replaced whole or not at all.

    The bytes go to a new temporary file in the same folder, are flushed to disk, and the
    file is then renamed over ``path``. If writing fails or is interrupted, the temporary
    file is removed and whatever was at ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: there is no folder {folder}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    fd, temporary = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())                  # the bytes are on disk before the rename
        os.replace(temporary, path)                    # atomic: the old file or the new, never half
    except BaseException:                              # KeyboardInterrupt too
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)
    return path


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file in ``path``'s folder, opened for writing: (fd, its path).

    Created with mode 0o666 less the umask, as any new file would be, so that the model file
    it becomes is not private the way ``tempfile.mkstemp``'s 0o600 would make it.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where the system allows syncing a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _to_arrays(model: Any) -> dict[str, np.ndarray]:
    """The archive's entries for ``model``, after checking every part; a ValueError otherwise."""
    if not isinstance(model, SavedModel):
        raise ValueError(f"model must be a chainrule.io.SavedModel; got {type(model).__name__}")
    config = check_config(model.config)
    L = config.L
    params = _check_model_params(model.params, config)
    arrays: dict[str, np.ndarray] = {}
    for l, (W, b) in enumerate(params, start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b

    history_meta = None
    if model.history is not None:
        history = model.history
        if not isinstance(history, History):
            raise ValueError(f"history must be a chainrule History or None; got {type(history).__name__}")
        columns = _check_history_arrays({name: getattr(history, name) for name in _HISTORY_ARRAYS})
        arrays.update({f"history/{name}": column for name, column in columns.items()})
        history_meta = _check_history_scalars({name: getattr(history, name) for name in _HISTORY_SCALARS})

    optimizer, hyper = model.optimizer, model.optimizer_hyper or {}
    if not isinstance(hyper, dict):
        raise ValueError(f"optimizer_hyper must be a dict of hyperparameters; got {type(hyper).__name__}")
    hyper = _plain(hyper, "optimizer_hyper")
    if optimizer is None:
        if hyper or model.optimizer_state is not None:
            raise ValueError("optimizer_hyper and optimizer_state need the optimizer's name: give optimizer")
        fresh = None
    else:
        if not isinstance(optimizer, str):
            raise ValueError(f"optimizer must be the optimizer's name (gd, momentum, rmsprop, adam); "
                             f"got {type(optimizer).__name__}")
        fresh = get_optimizer(optimizer, **hyper).init(params)      # refuses unknown names and values

    state_meta = None
    if model.optimizer_state is not None:
        state = model.optimizer_state
        if type(state) is not type(fresh):
            raise ValueError(f"optimizer_state must be the state of the {optimizer!r} optimizer, a "
                             f"{type(fresh).__name__}; got {type(state).__name__}")
        for name in state._fields:
            if name == "t":
                continue
            layers = getattr(state, name)
            if not isinstance(layers, (list, tuple)) or len(layers) != L:
                raise ValueError(f"optimizer_state.{name} must hold one (dW, db) pair per layer, {L}")
            for l, pair in enumerate(layers, start=1):
                try:
                    dW, db = pair
                except (TypeError, ValueError):
                    raise ValueError(f"optimizer_state.{name}[{l - 1}] must be a pair (dW, db)") from None
                for key, value, like in ((f"state/{name}/dW{l}", dW, params[l - 1].W),
                                         (f"state/{name}/db{l}", db, params[l - 1].b)):
                    arrays[key] = _check_float_array(key, value, like.shape)
        t = state.t
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"optimizer_state.t must be a non-negative integer; got {t!r}")
        state_meta = {"kind": type(state).__name__, "t": int(t)}

    if model.standardizer is not None:
        try:
            mean, std = model.standardizer
        except (TypeError, ValueError):
            raise ValueError("standardizer must be a Standardizer (mean, std) or None") from None
        arrays["standardizer/mean"] = _check_float_array("standardizer/mean", mean, (config.n_x, 1))
        arrays["standardizer/std"] = _check_float_array("standardizer/std", std, (config.n_x, 1))
        if not np.all(arrays["standardizer/std"] > 0):
            raise ValueError("standardizer/std must be positive (a constant feature has std 1)")

    settings = model.settings or {}
    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict; got {type(settings).__name__}")
    meta = {
        "config": {"layer_dims": list(config.layer_dims), "hidden_activation": config.hidden_activation,
                   "output": config.output},
        "optimizer": optimizer,
        "optimizer_hyper": hyper,
        "optimizer_state": state_meta,
        "history": history_meta,
        "standardizer": model.standardizer is not None,
        "settings": _plain(settings, "settings"),
        "feature_names": _check_names("feature_names", model.feature_names, config.n_x, "n_x, one per feature"),
        "classes": _check_names("classes", model.classes, _class_count(config), "the number of classes"),
    }
    return {"format": np.array(FORMAT_NAME), "format_version": np.array(FORMAT_VERSION),
            "meta": np.array(json.dumps(meta, ensure_ascii=False)), **arrays}


def _check_model_params(params: Any, config: ModelConfig) -> list[LayerParams]:
    """params as L LayerParams of the config's shapes, finite, each float32 or float64 as given."""
    checked = check_params(params, config.layer_dims)              # shapes and finiteness, named W<l>, b<l>
    for l, layer in enumerate(params, start=1):
        for name, value in zip((f"W{l}", f"b{l}"), layer):
            _check_dtype(name, value)
    return [LayerParams(W, b) for W, b in checked]


def _check_dtype(name: str, value: Any) -> None:
    """A ValueError unless ``value`` is (or makes) a float32 or float64 array: no silent casts."""
    dtype = np.asarray(value).dtype
    if dtype not in _FLOATS:
        raise ValueError(f"{name} must be float32 or float64; got {dtype}")


def _check_float_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float32 or float64 array of ``shape``, or a ValueError naming it."""
    A = as_matrix(value, name, columns="")
    if A.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {A.shape}")
    _check_dtype(name, value)
    return A


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


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read a model file written by ``save_model``.

    The file is opened with ``allow_pickle=False`` and checked completely: its format and
    version, its meta, exactly the arrays the meta implies, and every array's shape (from
    the config), dtype and finiteness. The History, the optimizer state (of the kind the
    file names) and the Standardizer are rebuilt; arrays keep the dtype they were saved in.

    Returns
    -------
    SavedModel
        settings and optimizer_hyper are dicts ({} when none were saved), feature_names and
        classes tuples.

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
    if int(version) != FORMAT_VERSION:
        newer = " (a newer chainrule wrote it)" if int(version) > FORMAT_VERSION else ""
        raise refuse(f"it has format version {int(version)}{newer}, and this chainrule reads "
                     f"format version {FORMAT_VERSION} only")

    meta = _read_meta(arrays.get("meta"), refuse)
    try:
        config = ModelConfig(tuple(meta["config"]["layer_dims"]), meta["config"]["hidden_activation"],
                             meta["config"]["output"])
    except (ValueError, TypeError) as exc:
        raise refuse(f"its configuration is invalid: {exc}") from None

    state_info = meta["optimizer_state"]
    kind = None
    if state_info is not None:
        kind = _STATE_KINDS.get(state_info["kind"]) if isinstance(state_info["kind"], str) else None
        if kind is None:
            raise refuse(f"its optimizer state has the unknown kind {state_info['kind']!r}; "
                         f"expected one of: {', '.join(_STATE_KINDS)}")
    state_fields = [name for name in kind._fields if name != "t"] if kind else []
    expected = {"format", "format_version", "meta"}
    expected |= {f"{p}{l}" for l in range(1, config.L + 1) for p in ("W", "b")}
    if meta["history"] is not None:
        expected |= {f"history/{name}" for name in _HISTORY_ARRAYS}
    expected |= {f"state/{name}/{p}{l}" for name in state_fields for l in range(1, config.L + 1)
                 for p in ("dW", "db")}
    if meta["standardizer"]:
        expected |= {"standardizer/mean", "standardizer/std"}
    missing, unexpected = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
    if missing or unexpected:
        problems = ([f"is missing the array(s) {', '.join(missing)}"] if missing else []) + \
                   ([f"has unexpected array(s) {', '.join(unexpected)}"] if unexpected else [])
        raise refuse(f"it {' and '.join(problems)} for its meta")

    L = config.L
    try:
        params = [LayerParams(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(1, L + 1)]
        history = None
        if meta["history"] is not None:
            columns = _check_history_arrays({name: arrays[f"history/{name}"] for name in _HISTORY_ARRAYS})
            history = History(**columns, **meta["history"])
        state = None
        if kind is not None:
            layers = {name: [LayerGrads(arrays[f"state/{name}/dW{l}"], arrays[f"state/{name}/db{l}"])
                             for l in range(1, L + 1)] for name in state_fields}
            state = kind(**layers, t=state_info["t"])
        standardizer = None
        if meta["standardizer"]:
            standardizer = Standardizer(arrays["standardizer/mean"], arrays["standardizer/std"])
        model = SavedModel(config, params, history, meta["optimizer"], meta["optimizer_hyper"], state,
                           meta["settings"], standardizer, tuple(meta["feature_names"]), tuple(meta["classes"]))
        _to_arrays(model)                    # every check save_model makes, so what loads can be saved
    except (ValueError, TypeError) as exc:
        raise refuse(str(exc)) from None
    return model


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


def _read_meta(entry: Any, refuse) -> dict[str, Any]:
    """The meta document, checked for its keys and the type of each value."""
    if not _is_text(entry):
        raise refuse("it has no 'meta' entry (a JSON text)")
    try:
        meta = json.loads(str(entry[()]))
    except ValueError as exc:
        raise refuse(f"its meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise refuse(f"its meta must be a JSON object; got {type(meta).__name__}")
    missing = [key for key in _META_KEYS if key not in meta]
    unexpected = sorted(set(meta) - set(_META_KEYS))
    if missing or unexpected:
        raise refuse("its meta " + " and ".join(
            ([f"lacks the key(s) {', '.join(missing)}"] if missing else [])
            + ([f"has unexpected key(s) {', '.join(unexpected)}"] if unexpected else [])))

    def expect(key: str, ok: bool, what: str, sub: dict | None = None) -> None:
        if not ok:
            raise refuse(f"its meta's {key!r} must be {what}; got {json.dumps(meta.get(key))[:60]}")
        if sub is not None:
            value = meta[key]
            if set(value) != set(sub):
                raise refuse(f"its meta's {key!r} must have exactly the keys {', '.join(sub)}; "
                             f"got {', '.join(value) or 'none'}")
            for name, (check, description) in sub.items():
                if not check(value[name]):
                    raise refuse(f"its meta's {key}.{name} must be {description}; got {value[name]!r:.60}")

    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)                      # noqa: E731
    expect("config", isinstance(meta["config"], dict), "an object",
           {"layer_dims": (lambda v: isinstance(v, list), "a list of layer sizes"),
            "hidden_activation": (lambda v: isinstance(v, str), "a string"),
            "output": (lambda v: isinstance(v, str), "a string")})
    expect("optimizer", meta["optimizer"] is None or isinstance(meta["optimizer"], str), "a string or null")
    expect("optimizer_hyper", isinstance(meta["optimizer_hyper"], dict), "an object")
    if meta["optimizer_state"] is not None:
        expect("optimizer_state", isinstance(meta["optimizer_state"], dict), "an object or null",
               {"kind": (lambda v: isinstance(v, str), "a string"),
                "t": (lambda v: is_int(v) and v >= 0, "a non-negative integer")})
    if meta["history"] is not None:
        expect("history", isinstance(meta["history"], dict), "an object or null",
               {name: (lambda v: True, "") for name in _HISTORY_SCALARS})
    expect("standardizer", isinstance(meta["standardizer"], bool), "true or false")
    expect("settings", isinstance(meta["settings"], dict), "an object")
    for key in ("feature_names", "classes"):
        expect(key, isinstance(meta[key], list) and all(isinstance(s, str) for s in meta[key]),
               "a list of strings")
    return meta
