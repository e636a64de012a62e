"""The whole setup of a playground run as one plain JSON value, checked, and the controls' schema.

A spec is what the page's controls and its URL hold:

    {"data":    {"name": "flower", "options": {"seed": 1}, "test_fraction": 0.2, "axes": [0, 1]},
     "network": {"hidden_layers": [8, 8], "hidden_activation": "tanh", "output": "auto"},
     "train":   {"optimizer": "adam", "learning_rate": 0.01, ...}}       # fields of TrainConfig

``prepare(spec, uploads)`` turns it into a ``Prepared`` run: the data split into training and
test columns (X: (n_x, m)), a ``ModelConfig`` and a ``TrainConfig``. Nothing here lists a
training option a second time: ``train`` holds fields of ``TrainConfig`` by their names, and
``schema()`` describes them from ``dataclasses.fields(TrainConfig)`` and their metadata, so
that the page's vocabulary is the library's. Sizes are bounded (``LIMITS``), so that one
request cannot take the server's memory; every refusal is one sentence (a ``ValueError``).
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from typing import Any, NamedTuple

import numpy as np

from .. import datasets
from ..activations import HIDDEN_ACTIVATIONS
from ..checkpoint import DataPrep
from ..model import ModelConfig
from ..testing import BUGS
from ..training import TrainConfig

LIMITS = {
    "m": 5000,                  # examples of a built-in data set
    "hidden_layers": 6,         # hidden layers
    "units": 32,                # units in a hidden layer
    "num_epochs": 100_000,      # epochs in a run (the history is kept whole)
    "features": 64,             # features of an uploaded CSV file
    "upload_bytes": 2 * 2 ** 20,
}

PLANAR = ("flower", "moons", "circles", "spirals", "xor", "gaussian", "blobs")
"""The two-feature sets drawn in their own units; the others (real data, uploads) are standardised."""

OUTPUTS = ("auto", "sigmoid", "softmax")
"""auto: sigmoid for two classes, softmax for more (the data set's own Y)."""

UPLOAD = "upload"
"""The data name of an uploaded CSV file; ``data.upload`` holds the id the upload returned."""

DEFAULT_SPEC: dict[str, Any] = {
    "data": {"name": "flower", "options": {}, "test_fraction": 0.2, "axes": [0, 1]},
    "network": {"hidden_layers": [8, 8], "hidden_activation": "tanh", "output": "auto"},
    "train": {"optimizer": "adam", "learning_rate": 0.01, "init": "xavier", "num_epochs": 5000},
}
"""The page's first run: the flower, 2-8-8-1 tanh, Adam. Fields not given are TrainConfig's defaults."""


class Prepared(NamedTuple):
    """A checked spec, ready to train.

    X_train (n_x, m), Y_train (n_y, m), X_test (n_x, m_test), Y_test (n_y, m_test): the split
    (standardised on the training part for real data and uploads). axes: the two features
    drawn. spec: the spec as checked, every TrainConfig field written out.
    """

    spec: dict
    config: ModelConfig
    train: TrainConfig
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    axes: tuple[int, int]
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    prep: DataPrep


# --- the schema -----------------------------------------------------------------------------------


def _kind(field: dataclasses.Field) -> str:
    """How the page edits a field: "choice", "bool", "int", "float" or "function" (not editable)."""
    if field.metadata.get("choices"):
        return "choice"
    if isinstance(field.default, bool):
        return "bool"
    if "int" in str(field.type):
        return "int"
    if "float" in str(field.type):
        return "float"
    return "function"


def train_fields() -> list[dict[str, Any]]:
    """Every TrainConfig field the page can edit: name, default, help, choices, kind, optional."""
    described = []
    for field in dataclasses.fields(TrainConfig):
        kind = _kind(field)
        if kind == "function":
            continue
        described.append({"name": field.name, "default": field.default, "help": field.metadata.get("help", ""),
                          "choices": list(field.metadata.get("choices", ())), "kind": kind,
                          "optional": field.default is None or "None" in str(field.type)})
    return described


def schema() -> dict[str, Any]:
    """What the page builds its controls from: data sets with their options and defaults, the
    network's choices, TrainConfig's fields, the planted bugs, the limits and the first spec."""
    sets = {}
    for name, loader in datasets.DATASETS.items():
        options = {p.name: p.default for p in inspect.signature(loader).parameters.values()
                   if p.name in ("m", "noise", "seed")}
        sets[name] = {"options": options, "planar": name in PLANAR}
    return {"datasets": sets, "hidden_activations": list(HIDDEN_ACTIVATIONS), "outputs": list(OUTPUTS),
            "train_fields": train_fields(), "bugs": {name: about for name, (about, _) in BUGS.items()},
            "limits": LIMITS, "default_spec": DEFAULT_SPEC}


# --- checking a spec -------------------------------------------------------------------------------


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object; got {type(value).__name__}")
    return value


def _count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}; got {value!r}")
    return int(value)


def _plain(name: str, value: Any) -> Any:
    """A JSON scalar (None, bool, number or string), else a refusal: no lists or objects as options."""
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"{name} must be a number, a string, true, false or null; got {type(value).__name__}")
    return value


def check_train(values: Any) -> TrainConfig:
    """A TrainConfig from a JSON object of its fields; TrainConfig's own sentence for a bad value."""
    values = _mapping(values, "train")
    editable = {f["name"] for f in train_fields()}
    unknown = sorted(set(values) - editable)
    if unknown:
        raise ValueError(f"unknown training option(s) {', '.join(map(repr, unknown))}; the options are the fields "
                         f"of TrainConfig: {', '.join(sorted(editable))}")
    values = {name: _plain(name, value) for name, value in values.items()}
    if "num_epochs" in values:
        _count("num_epochs", values["num_epochs"], 0, LIMITS["num_epochs"])
    train = TrainConfig(**values)
    if train.seed is None:                                   # chosen now: the split and the run share it
        train = dataclasses.replace(train, seed=int(np.random.SeedSequence().generate_state(1)[0]))
    return train


def _check_network(network: Any) -> tuple[list[int], str, str]:
    network = _mapping(network, "network")
    unknown = sorted(set(network) - {"hidden_layers", "hidden_activation", "output"})
    if unknown:
        raise ValueError(f"unknown network option(s) {', '.join(map(repr, unknown))}; "
                         f"expected hidden_layers, hidden_activation, output")
    layers = network.get("hidden_layers", [])
    if not isinstance(layers, list):
        raise ValueError(f"hidden_layers must be a list of unit counts, e.g. [8, 8]; got {layers!r}")
    if len(layers) > LIMITS["hidden_layers"]:
        raise ValueError(f"hidden_layers may hold at most {LIMITS['hidden_layers']} layers; got {len(layers)}")
    layers = [_count("each hidden layer's units", n, 1, LIMITS["units"]) for n in layers]
    activation = network.get("hidden_activation", "tanh")
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"unknown hidden_activation {activation!r}; expected one of: {', '.join(HIDDEN_ACTIVATIONS)}")
    output = network.get("output", "auto")
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; expected one of: {', '.join(OUTPUTS)}")
    return layers, activation, output


def _load(data: dict, uploads: Any) -> tuple[datasets.Dataset, dict]:
    """The data set a spec names, with its checked options."""
    name = data.get("name", "flower")
    if name == UPLOAD:
        if data.get("upload") is None:
            raise ValueError("this setup trains on an uploaded CSV file, and a link does not hold the file: "
                             "upload it again (Data, Upload a CSV file)")
        return uploads.get(data["upload"]), {}
    if name not in datasets.DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of: {', '.join(datasets.DATASETS)}, or an upload")
    options = {key: _plain(f"data option {key}", value) for key, value in _mapping(data.get("options"),
                                                                                      "data.options").items()}
    if "m" in options:
        _count("m (the number of examples)", options["m"], 2, LIMITS["m"])
    if "noise" in options and (isinstance(options["noise"], bool) or not isinstance(options["noise"], (int, float))
                               or not 0 <= options["noise"] <= 100):
        raise ValueError(f"noise must be a number from 0 to 100; got {options['noise']!r}")
    return datasets.load(name, **options), options


def _targets(data: datasets.Dataset, output: str) -> tuple[np.ndarray, str]:
    """Y (n_y, m) for the output asked for: the data set's own, or two classes one-hot for softmax."""
    if data.output == "identity":
        raise ValueError("the playground draws classes, and this data set's label is a number to predict")
    if output in ("auto", data.output):
        return data.Y, data.output
    if output == "softmax":                                  # two classes in one sigmoid row → one-hot
        return datasets.one_hot(data.Y[0].astype(np.int64), 2), "softmax"
    raise ValueError(f"a sigmoid output has one unit for two classes; this data set has {len(data.classes)}: "
                     f"choose softmax")


def _axes(value: Any, n_x: int) -> tuple[int, int]:
    if value is None:
        value = [0, 1]
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"axes must be two feature indices, e.g. [0, 1]; got {value!r}")
    first, second = (_count("each axis", v, 0, n_x - 1) for v in value)
    if first == second:
        raise ValueError(f"axes must be two different features; got {first} twice")
    return first, second


def _split(data: datasets.Dataset, Y: np.ndarray, test_fraction: Any, seed: int) -> tuple:
    """(X_train, Y_train, X_test, Y_test, standardizer): ``datasets.split`` with the run's seed;
    real data and uploads standardised with the training part's statistics (planar sets: None)."""
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 <= test_fraction <= 0.9:
        raise ValueError(f"test_fraction must be a number from 0 to 0.9; got {test_fraction!r}")
    X_train, Y_train, X_test, Y_test = datasets.split(data.X, Y, test_fraction, seed)
    if data.name in PLANAR:
        return X_train, Y_train, X_test, Y_test, None
    standardizer = datasets.fit_standardizer(X_train)
    return (datasets.standardize(X_train, standardizer), Y_train, datasets.standardize(X_test, standardizer), Y_test,
            standardizer)


def prepare(spec: Any, uploads: Any) -> Prepared:
    """Check ``spec`` (see the module's docstring) and prepare its run.

    ``uploads`` maps an upload id to its Dataset (``get(id)`` refuses an unknown one). The split
    is ``datasets.split`` with the run's seed (as ``chainrule train`` splits); real data and
    uploads are standardised with statistics of the training part.
    """
    spec = _mapping(spec, "the setup")
    unknown = sorted(set(spec) - {"data", "network", "train"})
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(map(repr, unknown))} of the setup; expected data, network, train")
    data_spec = _mapping(spec.get("data"), "data")
    train = check_train(spec.get("train"))
    layers, activation, output = _check_network(spec.get("network"))
    data, options = _load(data_spec, uploads)
    Y, trained_output = _targets(data, output)
    axes = _axes(data_spec.get("axes"), data.X.shape[0])
    test_fraction = data_spec.get("test_fraction", 0.2)
    X_train, Y_train, X_test, Y_test, standardizer = _split(data, Y, test_fraction, train.seed)
    config = ModelConfig([data.X.shape[0], *layers, Y.shape[0]], activation, trained_output)
    checked = {"data": {"name": data_spec.get("name", "flower"), "options": options, "test_fraction": test_fraction,
                        "axes": list(axes), **({"upload": data_spec["upload"]} if "upload" in data_spec else {})},
               "network": {"hidden_layers": layers, "hidden_activation": activation, "output": output},
               "train": {f["name"]: getattr(train, f["name"]) for f in train_fields()}}
    prep = DataPrep(data.name if data.name in datasets.DATASETS else None, options or None, None, test_fraction,
                    standardizer)
    return Prepared(checked, config, train, X_train, Y_train, X_test, Y_test, axes, data.feature_names,
                    data.classes, prep)
