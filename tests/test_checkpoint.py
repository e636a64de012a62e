"""Model files: exact round trips, exact resumption, refusal of anything else, atomic saves,
and files of format version 1 (written by chainrule 0.1.0, kept in tests/fixtures) migrated."""

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.checkpoint import FORMAT_VERSION, DataPrep, ModelFileError, SavedModel, load, save
from chainrule.optimizers import AdamState, GDState, MomentumState, RMSpropState
from chainrule.training import TrainConfig, TrainState, fit
from conftest import random_problem

FIXTURES = Path(__file__).parent / "fixtures"
TRAIN = TrainConfig(optimizer="adam", learning_rate=0.02, mini_batch_size=64, seed=7, beta1=0.8, beta2=0.99,
                    epsilon=1e-7)


# --- helpers ----------------------------------------------------------------------------------


def assert_same_array(a, b):
    """Bit for bit: dtype, shape and bytes (so NaNs compare equal, and -0.0 differs from 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_same_params(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert type(p) is cr.LayerParams
        assert_same_array(p.W, q.W)
        assert_same_array(p.b, q.b)


def assert_same_model(loaded, saved):
    assert type(loaded) is SavedModel
    assert loaded.config == saved.config and loaded.train == saved.train
    assert_same_params(loaded.params, saved.params)
    if saved.history is None:
        assert loaded.history is None
    else:
        for name, value in saved.history.as_dict().items():
            if isinstance(value, np.ndarray):
                assert_same_array(getattr(loaded.history, name), value)
            else:
                assert getattr(loaded.history, name) == value
    if saved.state is None:
        assert loaded.state is None
    else:
        assert loaded.state.epoch == saved.state.epoch
        assert_same_params(loaded.state.params, saved.state.params)
        if saved.state.opt_state is None:
            assert loaded.state.opt_state is None
        else:
            assert type(loaded.state.opt_state) is type(saved.state.opt_state)
            assert loaded.state.opt_state.t == saved.state.opt_state.t
            for name in saved.state.opt_state._fields[:-1]:                          # v, s; t last
                for g, h in zip(getattr(loaded.state.opt_state, name), getattr(saved.state.opt_state, name),
                                strict=True):
                    assert type(g) is cr.LayerGrads
                    assert_same_array(g.dW, h.dW)
                    assert_same_array(g.db, h.db)
        if saved.state.best is None:
            assert loaded.state.best is None
        else:
            assert loaded.state.best[:2] + loaded.state.best[3:] == saved.state.best[:2] + saved.state.best[3:]
            assert_same_params(loaded.state.best.params, saved.state.best.params)
    if saved.prep is None:
        assert loaded.prep is None
    else:
        assert loaded.prep[:4] == (saved.prep.data, saved.prep.data_options or {}, saved.prep.label,
                                   saved.prep.test_fraction)
        if saved.prep.standardizer is None:
            assert loaded.standardizer is None
        else:
            assert_same_array(loaded.standardizer.mean, saved.standardizer.mean)
            assert_same_array(loaded.standardizer.std, saved.standardizer.std)
    assert loaded.feature_names == tuple(saved.feature_names)
    assert loaded.classes == tuple(saved.classes)
    assert loaded.figures == (saved.figures or {}) and loaded.notes == (saved.notes or {})


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
    train = dataclasses.replace(TRAIN, num_epochs=4)
    result = fit(config, X, Y, train, validation_data=(X_val, Y_val))
    return SavedModel(config, result.params, train, result.state, result.history,
                      DataPrep("flower", {}, None, 0.25, standardizer), data.feature_names, data.classes,
                      {"final_cost": result.history.cost[-1], "val_accuracy": result.history.val_accuracy[-1]},
                      {"note": "petals, ünïcode", "flags": [True, False]})


@pytest.fixture
def saved(trained, tmp_path):
    return save(tmp_path / "model.npz", trained)


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
    assert isinstance(trained.state.opt_state, AdamState) and trained.state.opt_state.t == 4 * 5  # 300 / 64
    assert not np.all(np.isnan(trained.history.val_cost))                  # the validation arrays are real
    loaded = load(saved)
    assert_same_model(loaded, trained)
    assert loaded.figures["final_cost"] == trained.history.cost[-1]
    assert loaded.notes["note"] == "petals, ünïcode"


def test_the_file_holds_what_the_format_says(trained, saved):
    """The entries the module's docstring lists, readable with NumPy alone and no pickle."""
    arrays = entries(saved)
    L = trained.config.L
    assert set(arrays) == (
        {"format", "format_version", "meta"}
        | {f"{p}{l}" for p in "Wb" for l in range(1, L + 1)}
        | {f"history/{name}" for name in cr.EpochRecord._fields}
        | {f"state/{f}/{p}{l}" for f in "vs" for p in ("dW", "db") for l in range(1, L + 1)}
        | {"prep/mean", "prep/std"})
    assert str(arrays["format"]) == "chainrule-model" and int(arrays["format_version"]) == FORMAT_VERSION == 2
    assert arrays["meta"].shape == () and arrays["meta"].dtype.kind == "U"
    meta = json.loads(str(arrays["meta"]))
    assert meta["config"] == {"layer_dims": [2, 6, 1], "hidden_activation": "tanh", "output": "sigmoid"}
    assert meta["train"] == {f.name: getattr(trained.train, f.name) for f in dataclasses.fields(TrainConfig)}
    assert meta["state"] == {"epoch": 4, "opt_state": {"kind": "AdamState", "t": 20}, "params": "model", "best": None}
    assert meta["history"] == {"stop_reason": "completed", "best_epoch": None, "seed": 7}
    assert meta["prep"] == {"data": "flower", "data_options": {}, "label": None, "test_fraction": 0.25,
                            "standardizer": True}
    assert_same_array(arrays["state/s/db2"], trained.state.opt_state.s[1].db)


def test_round_trip_keeps_float32(flower, tmp_path):
    _, _, X, Y, _, _ = flower
    config = cr.ModelConfig([2, 3, 1], "relu", "sigmoid")
    train = dataclasses.replace(TRAIN, num_epochs=2)
    result = fit(config, X.astype(np.float32), Y, train)
    model = SavedModel(config, result.params, train, result.state, result.history)
    loaded = load(save(tmp_path / "f32.npz", model))
    assert all(p.W.dtype == np.float32 and p.b.dtype == np.float32 for p in loaded.params)
    assert all(g.dW.dtype == np.float32 for g in loaded.state.opt_state.v + loaded.state.opt_state.s)
    assert_same_model(loaded, model)


def test_loaded_model_predicts_exactly_what_the_original_does(trained, saved, flower):
    _, _, _, _, X_val, _ = flower
    loaded = load(saved)
    np.testing.assert_array_equal(cr.predict_proba(loaded.params, X_val, loaded.config),
                                  cr.predict_proba(trained.params, X_val, trained.config))
    raw = datasets.planar_flower().X[:, :7]                        # new data, prepared the saved way
    np.testing.assert_array_equal(datasets.standardize(raw, loaded.standardizer),
                                  datasets.standardize(raw, trained.standardizer))


def test_resuming_from_a_file_is_one_value_and_equals_one_uninterrupted_run(flower, tmp_path):
    """3 epochs, saved and loaded, then 4 more from the file's TrainConfig and TrainState,
    equal 7 epochs in one run: bit for bit, with shuffled mini-batches and Adam's moments."""
    _, _, X, Y, _, _ = flower
    config = cr.ModelConfig([2, 5, 1], "tanh", "sigmoid")
    whole = fit(config, X, Y, TRAIN, num_epochs=7)
    first = fit(config, X, Y, TRAIN, num_epochs=3)
    path = save(tmp_path / "checkpoint.npz", SavedModel(config, first.params, dataclasses.replace(TRAIN, num_epochs=3),
                                                        first.state, first.history))
    saved = load(path)
    rest = fit(saved.config, X, Y, saved.train, state=saved.state, num_epochs=4)
    assert_same_params(rest.params, whole.params)
    np.testing.assert_array_equal(whole.history.cost[3:], rest.history.cost)
    assert list(rest.history.epoch) == [3, 4, 5, 6] and rest.state.opt_state.t == whole.state.opt_state.t


def test_early_stopping_state_round_trips_with_its_own_parameters(rng, tmp_path):
    """With restore_best the model's parameters are the best epoch's, the state's the last
    epoch's, and early stopping's memory keeps the best ones: three sets of arrays, each saved."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 30, rng)
    train = TrainConfig(learning_rate=0.5, num_epochs=200, patience=2, min_delta=1.0)
    result = fit(config, X, Y, train, state=TrainState(params))
    assert result.history.stop_reason == "early stopping" and result.state.best is not None
    model = SavedModel(config, result.params, train, result.state, result.history)
    path = save(tmp_path / "m.npz", model)
    meta = json.loads(str(entries(path)["meta"]))
    assert meta["state"]["params"] == "own" and meta["state"]["best"]["params"] == "model"
    loaded = load(path)
    assert_same_model(loaded, model)
    assert loaded.history.best_epoch == result.history.best_epoch == loaded.state.best.epoch


@pytest.mark.parametrize("optimizer, kind", [("gd", GDState), ("momentum", MomentumState),
                                             ("rmsprop", RMSpropState), ("adam", AdamState)])
def test_every_optimizer_state_round_trips(optimizer, kind, rng, tmp_path):
    config = cr.ModelConfig([3, 4, 2, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 20, rng)
    train = TrainConfig(optimizer=optimizer, num_epochs=2)
    result = fit(config, X, Y, train, state=TrainState(params))
    model = SavedModel(config, result.params, train, result.state, result.history)
    loaded = load(save(tmp_path / "model.npz", model))
    assert type(loaded.state.opt_state) is kind and loaded.state.opt_state.t == 2
    assert_same_model(loaded, model)


def test_the_course_options_round_trip_and_a_file_from_before_dropout_masks_loads_with_the_default(trained,
                                                                                                      tmp_path):
    """A TrainConfig field is saved by name: dropout_masks "course" comes back; a format 2 file
    written before the field existed (its meta's train lacks the key) loads with "chainrule"."""
    course = trained._replace(train=dataclasses.replace(trained.train, keep_prob=0.86, dropout_masks="course",
                                                        init="xavier_course", init_draws="course"))
    assert load(save(tmp_path / "course.npz", course)).train == course.train
    path = save(tmp_path / "older.npz", trained)
    arrays = entries(path)
    meta = json.loads(str(arrays["meta"]))
    del meta["train"]["dropout_masks"]
    arrays["meta"] = np.array(json.dumps(meta))
    older = load(write_entries(tmp_path / "older.npz", arrays))
    assert older.train == trained.train and older.train.dropout_masks == "chainrule"


def test_a_bare_model_round_trips_with_empty_parts(rng, tmp_path):
    config = cr.ModelConfig([3, 2], "relu", "identity")
    params = cr.init_params(config, rng)
    loaded = load(save(tmp_path / "bare.npz", SavedModel(config, params)))
    assert_same_model(loaded, SavedModel(config, params))
    assert loaded.train is None and loaded.state is None and loaded.notes == {} and loaded.figures == {}


def test_the_path_is_kept_exactly(trained, tmp_path):
    """No suffix is added: the file is where it was asked to be."""
    path = save(str(tmp_path / "model"), trained)
    assert path == tmp_path / "model" and os.listdir(tmp_path) == ["model"]
    assert_same_model(load(path), trained)


# --- files of format version 1 ----------------------------------------------------------------


def _raw_meta(path):
    return json.loads(str(entries(path)["meta"]))


def test_a_format_1_file_of_the_command_line_loads_with_its_run_as_values():
    """Its settings become the TrainConfig (the options, the seed, the initialisation, drawn
    the course's way as that release did) and the DataPrep; its arrays come back unchanged."""
    path = FIXTURES / "v1-cli-18-epochs.npz"
    raw, arrays = _raw_meta(path), entries(path)
    assert int(arrays["format_version"]) == 1
    model = load(path)
    options = raw["settings"]["options"]
    assert model.config == cr.ModelConfig([2, 5, 3, 1], "relu", "sigmoid")
    assert model.train == TrainConfig(**{k: options[k] for k in options}, seed=2, init="he", init_draws="course")
    assert model.train.num_epochs == 18 and model.train.keep_prob == 0.9 and model.train.mini_batch_size == 32
    assert model.state.epoch == 18 == len(model.history)
    assert type(model.state.opt_state) is AdamState and model.state.opt_state.t == raw["optimizer_state"]["t"]
    assert model.prep[:4] == ("moons", {}, None, 0.2)
    assert_same_array(model.standardizer.mean, arrays["standardizer/mean"])
    assert_same_array(model.state.opt_state.s[2].dW, arrays["state/s/dW3"])
    assert_same_array(model.params[0].W, arrays["W1"])
    assert model.figures["test_accuracy"] == raw["settings"]["figures"]["test_accuracy"]
    assert model.classes == ("0", "1") and model.feature_names == ("x1", "x2")


def test_a_format_1_run_resumed_equals_the_uninterrupted_run_that_release_made():
    """18 epochs saved by 0.1.0, resumed here for 12, against 0.1.0's own 30-epoch run: the same
    training to rounding (the two releases round a few operations differently), so every
    migrated part (options, seed, epoch count, optimizer state, data preparation) is right."""
    first, whole = load(FIXTURES / "v1-cli-18-epochs.npz"), load(FIXTURES / "v1-cli-30-epochs.npz")
    data = datasets.moons()
    X_train, Y_train, _, _ = datasets.split(data.X, data.Y, first.prep.test_fraction, first.train.seed)
    X_train = datasets.standardize(X_train, first.standardizer)
    rest = fit(first.config, X_train, Y_train, first.train, state=first.state, num_epochs=12)
    for p, q in zip(rest.params, whole.params):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p.b, q.b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rest.history.cost, whole.history.cost[18:], rtol=1e-9)
    assert rest.state.opt_state.t == whole.state.opt_state.t


def test_a_format_1_file_of_the_library_keeps_its_settings_as_notes():
    path = FIXTURES / "v1-library.npz"
    raw = _raw_meta(path)
    model = load(path)
    assert model.train is None and model.prep is None
    assert model.notes == {"settings": {"learning_rate": 0.1, "note": "mine"}, "optimizer": "momentum",
                           "optimizer_hyper": {"beta": 0.8}}
    assert type(model.state.opt_state) is MomentumState and model.state.epoch == 5 == len(model.history)
    assert model.history.seed == raw["history"]["seed"] == 11
    assert model.classes == ("x", "y", "z") and model.feature_names == ("a", "b", "c")


def test_a_format_1_file_loads_saves_as_format_2_and_loads_the_same(tmp_path):
    model = load(FIXTURES / "v1-cli-30-epochs.npz")
    again = load(save(tmp_path / "now.npz", model))
    assert int(entries(tmp_path / "now.npz")["format_version"]) == 2
    assert_same_model(again, model)


def test_a_damaged_format_1_file_is_refused_in_one_sentence(tmp_path):
    arrays = entries(FIXTURES / "v1-library.npz")
    meta = json.loads(str(arrays["meta"]))
    del meta["settings"]
    arrays["meta"] = np.array(json.dumps(meta))
    bad = write_entries(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFileError, match=r"cannot load .*: its \(format 1\) meta lacks the key\(s\) settings"):
        load(bad)


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
    "pickle": (_edit(notes=np.array({"lr": 0.1}, dtype=object)), r"'notes' is a pickled object array"),
    "format version": (_edit(format_version=np.array(3)), r"format version 3 \(a newer chainrule wrote it\).*reads "
                                                          r"format versions 1 and 2"),
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
    "unknown state kind": (_edit_meta(lambda m: m["state"]["opt_state"].update(kind="LionState")),
                           r"unknown kind 'LionState'"),
    "state of another optimizer": (_edit_meta(lambda m: m["train"].update(optimizer="momentum", beta1=None, beta2=None,
                                                                          epsilon=None)),
                                   r"must be the state of the 'momentum' optimizer"),
    "invalid training option": (_edit_meta(lambda m: m["train"].update(learning_rate=-1)),
                                r"its training options are invalid: learning_rate must be a positive number"),
    "unknown training option": (_edit_meta(lambda m: m["train"].update(warmup=3)),
                                r"its training options include warmup, which this chainrule does not know"),
    "negative epoch": (_edit_meta(lambda m: m["state"].update(epoch=-1)),
                       r"state.epoch must be a non-negative integer"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_load_refuses_with_one_clear_sentence(case, saved, tmp_path):
    make, problem = REFUSALS[case]
    bad = tmp_path / "bad.npz"
    make(saved, bad)
    with pytest.raises(ModelFileError, match=problem) as caught:
        load(bad)
    message = str(caught.value)
    assert message.startswith(f"cannot load {bad}: ") and "\n" not in message
    assert caught.value.path == bad and isinstance(caught.value, ValueError)


def test_the_pickle_in_a_refused_file_never_runs(saved, tmp_path):
    """An object array's pickle is not unpickled: a class whose unpickling would record it is never called."""
    bad = tmp_path / "bad.npz"
    _edit(notes=np.array([Trap()], dtype=object))(saved, bad)
    Trap.sprung = False
    with pytest.raises(ModelFileError, match="pickled object array"):
        load(bad)
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
    (lambda m: m._replace(train=dataclasses.replace(m.train, optimizer="momentum", beta1=None, beta2=None,
                                                    epsilon=None)), r"must be the state of the 'momentum' optimizer"),
    (lambda m: m._replace(train=dataclasses.replace(m.train, decay=lambda a, e: a)),
     r"train.decay is a function or an object of your own, which a model file cannot hold"),
    (lambda m: m._replace(state=m.state._replace(epoch=-1)), r"state.epoch must be a non-negative integer"),
    (lambda m: m._replace(state=m.state._replace(params=m.params[:1])), r"state.params: params must hold 2 layers"),
    (lambda m: m._replace(notes={"seen": {1, 2}}), r"notes\['seen'\] must hold only JSON values"),
    (lambda m: m._replace(figures={"accuracy": "high"}), r"figures\['accuracy'\] must be a number or None"),
    (lambda m: m._replace(prep=m.prep._replace(test_fraction=1.5)), r"prep.test_fraction must be in \[0, 1\)"),
    (lambda m: m._replace(feature_names=("x1",)), r"feature_names must be empty or hold 2 names"),
    (lambda m: m._replace(classes="01"), r"classes must be a tuple of strings"),
])
def test_save_refuses_an_invalid_model_and_writes_nothing(trained, tmp_path, change, problem):
    with pytest.raises(ValueError, match=problem):
        save(tmp_path / "model.npz", change(trained))
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
    path = save(tmp_path / "model.npz", trained)
    before = path.read_bytes()
    other = SavedModel(trained.config, cr.init_params(trained.config, rng))
    if step == "savez":
        monkeypatch.setattr(np, "savez", _write_half_then(exception))
    else:
        def fail(*args, **kwargs):
            raise exception
        monkeypatch.setattr(os, step, fail)
    with pytest.raises(type(exception)):
        save(path, other)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]                    # no temporary file left behind
    assert path.read_bytes() == before
    assert_same_model(load(path), trained)


def test_an_interrupted_first_save_leaves_no_file(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", _write_half_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "model.npz", trained)
    assert os.listdir(tmp_path) == []


def test_save_replaces_a_previous_file(trained, tmp_path, rng):
    path = save(tmp_path / "model.npz", SavedModel(trained.config, cr.init_params(trained.config, rng)))
    save(path, trained)
    assert_same_model(load(path), trained)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_into_a_missing_folder_says_so(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"there is no folder {tmp_path / 'nowhere'}")):
        save(tmp_path / "nowhere" / "model.npz", trained)
