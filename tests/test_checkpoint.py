"""Model files: exact round trips, exact resumption, refusal of anything else, atomic saves."""

import json
import os
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.io import FORMAT_VERSION, ModelFileError, SavedModel, load_model, save_model
from chainrule.optimizers import AdamState, GDState, MomentumState, RMSpropState
from chainrule.training import fit
from conftest import random_problem

HYPER = {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7}
OPTIONS = dict(optimizer="adam", learning_rate=0.02, mini_batch_size=64, seed=7, **HYPER)


# --- helpers ----------------------------------------------------------------------------------


def assert_same_array(a, b):
    """Bit for bit: dtype, shape and bytes (so NaNs compare equal, and -0.0 differs from 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_same_model(loaded, saved):
    assert type(loaded) is SavedModel
    assert loaded.config == saved.config
    assert len(loaded.params) == len(saved.params)
    for p, q in zip(loaded.params, saved.params):
        assert type(p) is cr.LayerParams
        assert_same_array(p.W, q.W)
        assert_same_array(p.b, q.b)
    if saved.history is None:
        assert loaded.history is None
    else:
        for name, value in saved.history.as_dict().items():
            if isinstance(value, np.ndarray):
                assert_same_array(getattr(loaded.history, name), value)
            else:
                assert getattr(loaded.history, name) == value
    assert loaded.optimizer == saved.optimizer
    assert loaded.optimizer_hyper == saved.optimizer_hyper
    if saved.optimizer_state is None:
        assert loaded.optimizer_state is None
    else:
        assert type(loaded.optimizer_state) is type(saved.optimizer_state)
        assert loaded.optimizer_state.t == saved.optimizer_state.t
        for name in saved.optimizer_state._fields[:-1]:                          # v, s; t last
            for g, h in zip(getattr(loaded.optimizer_state, name), getattr(saved.optimizer_state, name),
                            strict=True):
                assert type(g) is cr.LayerGrads
                assert_same_array(g.dW, h.dW)
                assert_same_array(g.db, h.db)
    if saved.standardizer is None:
        assert loaded.standardizer is None
    else:
        assert_same_array(loaded.standardizer.mean, saved.standardizer.mean)
        assert_same_array(loaded.standardizer.std, saved.standardizer.std)
    assert loaded.feature_names == tuple(saved.feature_names)
    assert loaded.classes == tuple(saved.classes)


@pytest.fixture(scope="module")
def flower():
    """The planar flower, split 300 / 100, standardised with the training part's statistics."""
    data = datasets.planar_flower()
    X_train, Y_train, X_val, Y_val = datasets.split(data.X, data.Y, 0.25, seed=0)
    standardizer = datasets.fit_standardizer(X_train)
    return (data, standardizer, datasets.standardize(X_train, standardizer), Y_train,
            datasets.standardize(X_val, standardizer), Y_val)


@pytest.fixture(scope="module")
def trained(flower):
    """A model after 4 epochs of Adam with mini-batches and validation data."""
    data, standardizer, X, Y, X_val, Y_val = flower
    config = cr.ModelConfig([2, 6, 1], "tanh", "sigmoid")
    result = fit(config, X, Y, num_epochs=4, validation_data=(X_val, Y_val), **OPTIONS)
    settings = {"learning_rate": 0.02, "mini_batch_size": 64, "num_epochs": 4, "lambd": 0.0, "decay": None,
                "final": {"cost": result.history.cost[-1], "val_accuracy": result.history.val_accuracy[-1]},
                "note": "petals, ünïcode", "flags": [True, False]}
    return SavedModel(config, result.params, result.history, "adam", dict(HYPER), result.optimizer_state,
                      settings, standardizer, data.feature_names, data.classes)


@pytest.fixture
def saved(trained, tmp_path):
    return save_model(tmp_path / "model.npz", trained)


def entries(path):
    """Every entry of a model file, read without pickle."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_entries(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


# --- round trips ------------------------------------------------------------------------------


def test_round_trip_of_a_trained_model(trained, saved):
    assert isinstance(trained.optimizer_state, AdamState) and trained.optimizer_state.t == 4 * 5  # 300 / 64
    assert not np.all(np.isnan(trained.history.val_cost))                  # the validation arrays are real
    loaded = load_model(saved)
    assert_same_model(loaded, trained)
    assert loaded.settings["final"]["cost"] == trained.history.cost[-1]
    assert loaded.settings["note"] == "petals, ünïcode"


def test_the_file_holds_what_the_format_says(trained, saved):
    """The entries the module's docstring lists, readable with NumPy alone and no pickle."""
    arrays = entries(saved)
    L = trained.config.L
    assert set(arrays) == (
        {"format", "format_version", "meta"}
        | {f"{p}{l}" for p in "Wb" for l in range(1, L + 1)}
        | {f"history/{name}" for name in cr.EpochRecord._fields}
        | {f"state/{f}/{p}{l}" for f in "vs" for p in ("dW", "db") for l in range(1, L + 1)}
        | {"standardizer/mean", "standardizer/std"})
    assert str(arrays["format"]) == "chainrule-model" and int(arrays["format_version"]) == FORMAT_VERSION == 1
    assert arrays["meta"].shape == () and arrays["meta"].dtype.kind == "U"
    meta = json.loads(str(arrays["meta"]))
    assert meta["config"] == {"layer_dims": [2, 6, 1], "hidden_activation": "tanh", "output": "sigmoid"}
    assert meta["optimizer_state"] == {"kind": "AdamState", "t": 20}
    assert meta["history"] == {"stop_reason": "completed", "best_epoch": None, "seed": 7}
    assert meta["optimizer"] == "adam" and meta["optimizer_hyper"] == HYPER and meta["standardizer"] is True
    assert_same_array(arrays["state/s/db2"], trained.optimizer_state.s[1].db)


def test_round_trip_keeps_float32(flower, tmp_path):
    _, _, X, Y, X_val, Y_val = flower
    config = cr.ModelConfig([2, 3, 1], "relu", "sigmoid")
    result = fit(config, X.astype(np.float32), Y, num_epochs=2, **OPTIONS)
    model = SavedModel(config, result.params, result.history, "adam", HYPER, result.optimizer_state)
    loaded = load_model(save_model(tmp_path / "f32.npz", model))
    assert all(p.W.dtype == np.float32 and p.b.dtype == np.float32 for p in loaded.params)
    assert all(g.dW.dtype == np.float32 for g in loaded.optimizer_state.v + loaded.optimizer_state.s)
    assert_same_model(loaded, model)


def test_loaded_model_predicts_exactly_what_the_original_does(trained, saved, flower):
    _, _, _, _, X_val, _ = flower
    loaded = load_model(saved)
    np.testing.assert_array_equal(cr.predict_proba(loaded.params, X_val, loaded.config),
                                  cr.predict_proba(trained.params, X_val, trained.config))
    raw = datasets.planar_flower().X[:, :7]                        # new data, prepared the saved way
    np.testing.assert_array_equal(datasets.standardize(raw, loaded.standardizer),
                                  datasets.standardize(raw, trained.standardizer))


def test_resuming_from_a_file_equals_one_uninterrupted_run(flower, tmp_path):
    """3 epochs, saved and loaded, then 4 more from the file's params, state, seed and epoch count,
    equal 7 epochs in one run: bit for bit, with shuffled mini-batches and Adam's moments."""
    _, _, X, Y, X_val, Y_val = flower
    config = cr.ModelConfig([2, 5, 1], "tanh", "sigmoid")
    whole = fit(config, X, Y, num_epochs=7, **OPTIONS)
    first = fit(config, X, Y, num_epochs=3, **OPTIONS)
    path = save_model(tmp_path / "checkpoint.npz",
                      SavedModel(config, first.params, first.history, "adam", HYPER, first.optimizer_state,
                                 {"learning_rate": 0.02, "mini_batch_size": 64}))
    saved = load_model(path)
    rest = fit(saved.config, X, Y, params=saved.params, optimizer=saved.optimizer, **saved.optimizer_hyper,
               **saved.settings, optimizer_state=saved.optimizer_state, seed=saved.history.seed,
               start_epoch=len(saved.history), num_epochs=4)
    for p, q in zip(whole.params, rest.params):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_array_equal(p.b, q.b)
    np.testing.assert_array_equal(whole.history.cost[3:], rest.history.cost)
    assert list(rest.history.epoch) == [3, 4, 5, 6] and rest.optimizer_state.t == whole.optimizer_state.t


@pytest.mark.parametrize("optimizer, kind", [("gd", GDState), ("momentum", MomentumState),
                                             ("rmsprop", RMSpropState), ("adam", AdamState)])
def test_every_optimizer_state_round_trips(optimizer, kind, rng, tmp_path):
    config = cr.ModelConfig([3, 4, 2, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 20, rng)
    result = fit(config, X, Y, params=params, optimizer=optimizer, num_epochs=2)
    model = SavedModel(config, result.params, result.history, optimizer, None, result.optimizer_state)
    loaded = load_model(save_model(tmp_path / "model.npz", model))
    assert type(loaded.optimizer_state) is kind and loaded.optimizer_state.t == 2
    assert_same_model(loaded, model)


def test_a_bare_model_round_trips_with_empty_parts(rng, tmp_path):
    config = cr.ModelConfig([3, 2], "relu", "identity")
    params = cr.init_params(config, rng)
    loaded = load_model(save_model(tmp_path / "bare.npz", SavedModel(config, params)))
    assert_same_model(loaded, SavedModel(config, params))
    assert loaded.settings == {} and loaded.optimizer_hyper == {} and loaded.optimizer is None


def test_history_with_early_stopping_keeps_its_scalars(rng, tmp_path):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 30, rng)
    result = fit(config, X, Y, params=params, learning_rate=0.5, num_epochs=200, patience=2, min_delta=1.0)
    assert result.history.stop_reason == "early stopping" and result.history.best_epoch is not None
    loaded = load_model(save_model(tmp_path / "m.npz", SavedModel(config, result.params, result.history)))
    assert_same_model(loaded, SavedModel(config, result.params, result.history))


def test_the_path_is_kept_exactly(trained, tmp_path):
    """No suffix is added: the file is where it was asked to be."""
    path = save_model(str(tmp_path / "model"), trained)
    assert path == tmp_path / "model" and os.listdir(tmp_path) == ["model"]
    assert_same_model(load_model(path), trained)


def test_saved_models_share_no_dicts(trained):
    a, b = SavedModel(trained.config, trained.params), SavedModel(trained.config, trained.params)
    a.settings["x"] = 1
    a.optimizer_hyper["beta"] = 0.5
    assert b.settings == {} and b.optimizer_hyper == {}


# --- refusals when loading ----------------------------------------------------------------------


def _random_bytes(good, path):
    path.write_bytes(np.random.default_rng(0).bytes(2000))


def _truncated(good, path):
    data = good.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _text(good, path):
    path.write_text("layer_dims,2,6,1\nW1,0.1,0.2\n")


def _missing(good, path):
    pass


def _npy(good, path):
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((2, 2)))


def _edit(**changes):
    """A maker of a file equal to the good one but for ``changes`` (None deletes an entry)."""
    def make(good, path):
        arrays = entries(good)
        for key, value in changes.items():
            if value is None:
                del arrays[key]
            else:
                arrays[key] = value(arrays) if callable(value) else value
        write_entries(path, arrays)
    return make


def _edit_meta(change):
    def value(arrays):
        meta = json.loads(str(arrays["meta"]))
        change(meta)
        return np.array(json.dumps(meta))
    return _edit(meta=value)


def _with_nan(arrays):
    b2 = arrays["b2"].copy()
    b2[0, 0] = np.nan
    return b2


REFUSALS = {
    "corrupted": (_random_bytes, r"not an \.npz archive"),
    "truncated": (_truncated, r"damaged or truncated"),
    "text file": (_text, r"not an \.npz archive"),
    "missing file": (_missing, r"no such file"),
    "single .npy": (_npy, r"single \.npy array"),
    "pickle": (_edit(settings=np.array({"lr": 0.1}, dtype=object)), r"'settings' is a pickled object array"),
    "format version": (_edit(format_version=np.array(2)), r"format version 2 .*reads format version 1 only"),
    "format name": (_edit(format=np.array("other-model")), r"not a chainrule model file .*'other-model'"),
    "no format": (_edit(format=None), r"not a chainrule model file \(it has no 'format' entry"),
    "missing W2": (_edit(W2=None), r"missing the array\(s\) W2 "),
    "extra key": (_edit(extra=np.zeros(3)), r"unexpected array\(s\) extra "),
    "wrong-shape W1": (_edit(W1=np.zeros((3, 2))), r"W1 must have shape \(n_1, n_0\) = \(6, 2\).*got \(3, 2\)"),
    "NaN in params": (_edit(b2=_with_nan), r"b2 must be finite"),
    "int params": (_edit(W1=lambda a: a["W1"].astype(np.int64)), r"W1 must be float32 or float64; got int64"),
    "wrong-shape state": (_edit(**{"state/v/dW1": np.zeros((2, 6))}), r"state/v/dW1 must have shape \(6, 2\)"),
    "short history": (_edit(**{"history/cost": lambda a: a["history/cost"][:-1]}),
                      r"history arrays must all have one entry per epoch.*cost 3"),
    "meta not JSON": (_edit(meta=np.array("{'config': ")), r"meta is not valid JSON"),
    "meta key missing": (_edit_meta(lambda m: m.pop("classes")), r"meta lacks the key\(s\) classes"),
    "invalid config": (_edit_meta(lambda m: m["config"].update(hidden_activation="swish")),
                       r"configuration is invalid: .*swish"),
    "unknown state kind": (_edit_meta(lambda m: m["optimizer_state"].update(kind="LionState")),
                           r"unknown kind 'LionState'"),
    "state of another optimizer": (_edit_meta(lambda m: m.update(optimizer="momentum", optimizer_hyper={})),
                                   r"must be the state of the 'momentum' optimizer"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_load_refuses_with_one_clear_sentence(case, saved, tmp_path):
    make, problem = REFUSALS[case]
    bad = tmp_path / "bad.npz"
    make(saved, bad)
    with pytest.raises(ModelFileError, match=problem) as caught:
        load_model(bad)
    message = str(caught.value)
    assert message.startswith(f"cannot load {bad}: ") and "\n" not in message
    assert caught.value.path == bad and isinstance(caught.value, ValueError)


def test_the_pickle_in_a_refused_file_never_runs(saved, tmp_path):
    """An object array's pickle is not unpickled: a class whose unpickling would record it is never called."""
    bad = tmp_path / "bad.npz"
    _edit(settings=np.array([Trap()], dtype=object))(saved, bad)
    Trap.sprung = False
    with pytest.raises(ModelFileError, match="pickled object array"):
        load_model(bad)
    assert not Trap.sprung


class Trap:
    sprung = False

    def __reduce__(self):
        return (_spring, ())


def _spring():
    Trap.sprung = True


# --- saving: validation and atomicity -----------------------------------------------------------


@pytest.mark.parametrize("change, problem", [
    (lambda m: m._replace(params=m.params[:1]), r"params must hold 2 layers"),
    (lambda m: m._replace(params=[m.params[0]._replace(W=m.params[0].W.T), m.params[1]]), r"W1 must have shape"),
    (lambda m: m._replace(params=[m.params[0]._replace(b=m.params[0].b * np.inf), m.params[1]]),
     r"b1 must be finite"),
    (lambda m: m._replace(optimizer="momentum", optimizer_hyper={}), r"must be the state of the 'momentum' optimizer"),
    (lambda m: m._replace(optimizer="momentum"), r"'momentum' takes no hyperparameter\(s\) beta1, beta2, epsilon"),
    (lambda m: m._replace(optimizer_hyper={"beta": 0.9}), r"takes no hyperparameter"),
    (lambda m: m._replace(optimizer=None), r"need the optimizer's name"),
    (lambda m: m._replace(settings={"seen": {1, 2}}), r"settings\['seen'\] must hold only JSON values"),
    (lambda m: m._replace(feature_names=("x1",)), r"feature_names must be empty or hold 2 names"),
    (lambda m: m._replace(classes="01"), r"classes must be a tuple of strings"),
])
def test_save_refuses_an_invalid_model_and_writes_nothing(trained, tmp_path, change, problem):
    with pytest.raises(ValueError, match=problem):
        save_model(tmp_path / "model.npz", change(trained))
    assert os.listdir(tmp_path) == []


def _write_half_then(exception):
    """A stand-in for numpy.savez that writes the start of an archive, then fails."""
    def savez(file, *args, **kwds):
        file.write(b"PK\x03\x04" + b"\0" * 500)
        raise exception
    return savez


@pytest.mark.parametrize("step, exception", [
    ("savez", OSError(28, "No space left on device")),
    ("savez", KeyboardInterrupt()),
    ("fsync", OSError(5, "Input/output error")),
    ("replace", PermissionError(13, "Permission denied")),
])
def test_an_interrupted_save_leaves_the_previous_file_intact(trained, tmp_path, monkeypatch, step, exception, rng):
    path = save_model(tmp_path / "model.npz", trained)
    before = path.read_bytes()
    other = SavedModel(trained.config, cr.init_params(trained.config, rng))
    if step == "savez":
        monkeypatch.setattr(np, "savez", _write_half_then(exception))
    else:
        def fail(*args, **kwargs):
            raise exception
        monkeypatch.setattr(os, step, fail)
    with pytest.raises(type(exception)):
        save_model(path, other)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]                    # no temporary file left behind
    assert path.read_bytes() == before
    assert_same_model(load_model(path), trained)


def test_an_interrupted_first_save_leaves_no_file(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", _write_half_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_model(tmp_path / "model.npz", trained)
    assert os.listdir(tmp_path) == []


def test_save_replaces_a_previous_file(trained, tmp_path, rng):
    path = save_model(tmp_path / "model.npz", SavedModel(trained.config, cr.init_params(trained.config, rng)))
    save_model(path, trained)
    assert_same_model(load_model(path), trained)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_into_a_missing_folder_says_so(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"there is no folder {tmp_path / 'nowhere'}")):
        save_model(tmp_path / "nowhere" / "model.npz", trained)
