"""ONNX export, checked by running it: onnxruntime's outputs against chainrule's own predictions.

Every expected value comes from chainrule (predict_proba, predict, datasets.standardize) on
the same network; the tolerance is a rounding-error bound derived below, not a number tuned
until the tests pass.
"""

import json
import os
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.cli as cli
from chainrule import datasets
from chainrule.checkpoint import load as load_model
from chainrule.training import TrainConfig
from conftest import rel_err

onnx = pytest.importorskip("onnx", reason="the ONNX export needs onnx: pip install 'chainrule[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="running the exported graphs needs onnxruntime: "
                                                "pip install 'chainrule[onnx]'")
from chainrule.onnx import describe, export  # noqa: E402  (after the skips: it needs onnx)

U = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}             # unit roundoff of each dtype
TINY = {U[name]: float(np.finfo(name).tiny) for name in U}     # its smallest normal number, by u
LIPSCHITZ = {"relu": 1.0, "leaky_relu": 1.0, "tanh": 1.0, "sigmoid": 0.25, "identity": 1.0}
KERNEL_ULPS = 8       # what an elementwise kernel (tanh, exp, ÷) may add, in units of u times |result|


def _run(model, X_rows):
    """onnxruntime's outputs for X (N, n_x), as a dict by output name."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X_rows})))


def _error_bound(params, X, standardizer, config, u):
    """A bound on |computed − exact| of each entry of A[L] (n_y, m), for a forward pass whose
    inputs, statistics and weights are rounded to a precision of unit roundoff u, then
    computed in it (first order in u; the exact values are chainrule's float64 ones).

    Standard error analysis (Higham, Accuracy and Stability of Numerical Algorithms, §3.1):
    a rounded x − μ then ÷ σ is off by at most 2u(|x| + |μ|)/σ + 2u|x_std| with x, μ, σ
    themselves rounded; a dot product of n terms plus a bias, in any order (blocked, FMA),
    by γ_{n+1} (|W||a| + |b|), γ_k = k u, and rounding W and b adds u(|W||a| + |b|); an error
    e of A[l-1] becomes |W| e in Z[l]. An activation of Lipschitz constant c passes on c e
    and its kernel adds a few ulp of its result; softmax passes on at most
    p_k (|e_k| + Σ_j p_j |e_j|) and a sigmoid output σ(1 − σ) e. Results below the smallest
    normal number η lose their relative accuracy (a kernel may flush them to 0, and σ is
    floored where e^{−Z} would overflow), so each kernel also adds η: fl(x) = x(1 + δ) + η.
    """
    x, (mean, std) = np.abs(X), standardizer
    A = datasets.standardize(X, standardizer)
    e = 2 * u * (x + np.abs(mean)) / std + 2 * u * np.abs(A)                  # (n_x, m)
    _, caches = cr.forward(params, A, config)
    eta = TINY[u]
    for l, ((W, b), cache) in enumerate(zip(params, caches), start=1):
        g = config.activation(l)
        n = W.shape[1]
        e_Z = np.abs(W) @ e + (n + 2) * u * (np.abs(W) @ np.abs(cache.A_prev) + np.abs(b))
        A = cache.A
        if g == "softmax":
            e = A * (e_Z + np.sum(A * e_Z, axis=0, keepdims=True)) + (config.n_y + 2 + KERNEL_ULPS) * u * A + eta
        elif g == "sigmoid" and l == config.L:
            e = A * (1 - A) * e_Z + KERNEL_ULPS * u * A + eta
        elif g in ("tanh", "sigmoid", "leaky_relu"):
            e = LIPSCHITZ[g] * e_Z + KERNEL_ULPS * u * np.abs(A) + eta
        else:
            e = LIPSCHITZ[g] * e_Z
    return e


def _problem(config, m, rng, scale=1.0):
    """(params, X_raw, standardizer): a random network, raw features of m examples (n_x, m) far
    from standard (each feature its own spread and offset), and a standardizer fitted on a
    separate training batch of them."""
    params, X, _ = cr.testing.random_problem(config, m, rng)
    params = [(scale * W, scale * b) for W, b in params]
    spread, offset = rng.uniform(0.1, 100, (config.n_x, 1)), rng.uniform(-50, 50, (config.n_x, 1))
    training = rng.standard_normal((config.n_x, 200)) * spread + offset
    return params, X * spread + offset, datasets.fit_standardizer(training)


def _check_outputs(outputs, params, X, standardizer, config, dtype):
    """The graph's outputs against chainrule's on the same examples: A[L]ᵀ within the rounding
    bound of both computations, and the labels equal wherever rounding cannot flip them."""
    X_std = datasets.standardize(X, standardizer)
    expected = cr.predict(params, X_std, config) if config.output == "identity" else \
        cr.predict_proba(params, X_std, config)                                  # (n_y, m)
    name = "values" if config.output == "identity" else "probabilities"
    got = outputs[name]
    assert got.dtype == dtype and got.shape == (X.shape[1], config.n_y)
    bound = _error_bound(params, X, standardizer, config, U[dtype]) + \
        _error_bound(params, X, standardizer, config, U["float64"])              # both are rounded
    excess = np.abs(got.T - expected) - bound
    assert np.all(excess <= 0), f"off by more than the bound at {np.unravel_index(np.argmax(excess), excess.shape)}"
    if dtype == "float64":                                     # in plain figures too (measured: ≤ 6e-16)
        assert rel_err(got.T, expected) <= 1e-12
    if config.output == "identity":
        assert set(outputs) == {"values"}
        return
    labels = cr.predict(params, X_std, config).T                                 # (m, n_y) or (m, 1)
    assert outputs["label"].dtype == np.int64 and outputs["label"].shape == labels.shape
    if config.output == "sigmoid":
        decided = np.abs(expected - 0.5).T > bound.T                             # rounding cannot cross 0.5
    else:
        top2 = np.sort(expected, axis=0)[-2:]
        decided = (top2[1] - top2[0] > 2 * bound.max(axis=0))[:, np.newaxis]   # nor swap the two largest
    assert decided.mean() > 0.9
    assert np.array_equal(outputs["label"][decided], labels[decided])


# --- every activation and output, in both dtypes -----------------------------------------------


N_Y = {"sigmoid": 1, "softmax": 3, "identity": 2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", cr.OUTPUTS)
@pytest.mark.parametrize("hidden", cr.HIDDEN_ACTIVATIONS)
def test_the_graph_computes_what_chainrule_computes(hidden, output, dtype, rng):
    """Random networks of every hidden activation × output, with a standardizer, on batches of
    1 and 37 rows: A[L]ᵀ within the derived rounding bound of chainrule's float64 predictions,
    the labels those of chainrule.predict. Weights × 3 drive tanh and σ into saturation and put
    many Z below 0 (leaky relu's other slope)."""
    config = cr.ModelConfig([4, 6, 5, N_Y[output]], hidden, output)
    params, X, standardizer = _problem(config, 38, rng, scale=3.0)
    model = export(config, params, dtype=dtype, standardizer=standardizer)
    for batch in (X[:, :1], X[:, 1:]):                                           # N = 1, then N = 37
        outputs = _run(model, np.ascontiguousarray(batch.T, dtype=dtype))
        _check_outputs(outputs, params, batch, standardizer, config, dtype)


def test_several_sigmoid_outputs_give_a_label_each(rng):
    """A multi-label sigmoid output (n_y = 3): label (N, 3), 1 where A[L] > 0.5, as predict."""
    config = cr.ModelConfig([3, 5, 3], "relu", "sigmoid")
    params, X, standardizer = _problem(config, 50, rng)
    outputs = _run(export(config, params, dtype="float64", standardizer=standardizer), X.T.copy())
    _check_outputs(outputs, params, X, standardizer, config, "float64")
    assert outputs["label"].shape == (50, 3)


def test_without_a_standardizer_the_graph_takes_the_features_as_they_are(rng):
    config = cr.ModelConfig([3, 4, 2], "tanh", "softmax")
    params, X, _ = cr.testing.random_problem(config, 20, rng)
    model = export(config, params, dtype="float64")
    assert [node.op_type for node in model.graph.node] == ["Gemm", "Tanh", "Gemm", "Softmax", "ArgMax"]
    got = _run(model, X.T.copy())["probabilities"]
    assert rel_err(got.T, cr.predict_proba(params, X, config)) < 1e-15


def test_leaky_relus_slope_is_exact_in_float64():
    """Z = X through W1 = I, then leaky relu, then W2 = I: the values are leaky_relu(X) itself,
    and the float64 graph gives chainrule's max(Z, 0.01 Z) bit for bit. A float32 alpha
    (0.009999999776…, ONNX LeakyRelu's attribute) would be off by 2e-8 relative for every
    negative Z; the float32 graph uses that alpha, which is the float32(0.01) chainrule
    computes with in float32."""
    config = cr.ModelConfig([3, 3, 3], "leaky_relu", "identity")
    params = [(np.eye(3), np.zeros((3, 1))), (np.eye(3), np.zeros((3, 1)))]
    X = -np.logspace(-3, 3, 3 * 40).reshape(3, 40) * np.random.default_rng(5).uniform(1, 2, (3, 40))
    X[:, :3] = [[0.0, 1.5, -0.3]] * 3                                            # zero and a positive Z too
    for dtype in ("float64", "float32"):
        X_dtype = X.astype(dtype)
        values = _run(export(config, params, dtype=dtype), np.ascontiguousarray(X_dtype.T))["values"]
        expected = cr.predict(params, X_dtype, config)                           # computed in dtype
        assert expected.dtype == dtype
        np.testing.assert_array_equal(values.T, expected)
    with_float32_alpha = np.maximum(X, X * float(np.float32(0.01)))
    assert np.all(with_float32_alpha[:, 3:] != cr.predict(params, X, config)[:, 3:])   # the test can tell


def test_a_saturated_sigmoid_keeps_its_small_probabilities():
    """σ(−20) = 2e-9, σ(−40) = 4e-18, σ(−700) = 1e-304: the float64 graph gives them to a few
    ulp, as chainrule does (onnxruntime's own Sigmoid returns 0 below Z ≈ −36.7, which a
    log-loss turns into infinity); below the floor (Z < −708.8) both give σ(floor). At Z = 0,
    σ = 0.5 exactly, and the label is 0, as the course's A > 0.5 says."""
    config = cr.ModelConfig([1, 1], "relu", "sigmoid")
    params = [(np.ones((1, 1)), np.zeros((1, 1)))]
    X = np.array([[-20.0, -40.0, -100.0, -700.0, -1000.0, 0.0, 30.0]])
    outputs = _run(export(config, params, dtype="float64"), X.T.copy())
    got, expected = outputs["probabilities"].T, cr.predict_proba(params, X, config)
    assert np.all(got > 0)
    np.testing.assert_allclose(got, expected, rtol=8 * U["float64"], atol=0)
    assert got[0, 5] == 0.5 and outputs["label"][5, 0] == 0                     # σ(0) = 0.5 is not above 0.5
    np.testing.assert_array_equal(outputs["label"].T, cr.predict(params, X, config))


# --- the model file ----------------------------------------------------------------------------


def test_the_model_passes_the_checker_and_keeps_its_metadata(tmp_path, rng):
    config = cr.ModelConfig([4, 8, 3], "relu", "softmax")
    params, X, standardizer = _problem(config, 10, rng)
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=7, seed=3)
    path = tmp_path / "iris.onnx"
    returned = export(config, params, path, dtype="float32", standardizer=standardizer,
                      classes=("setosa", "versicolor", "virginica"), feature_names=("a", "b", "c", "d"), train=train)
    model = onnx.load(path)
    assert model == returned and os.listdir(tmp_path) == ["iris.onnx"]       # no temporary file left
    onnx.checker.check_model(model, full_check=True)
    assert (model.producer_name, model.producer_version) == ("chainrule", cr.__version__)
    meta = {p.key: p.value for p in model.metadata_props}
    assert cr.ModelConfig(**json.loads(meta["config"])) == config
    assert TrainConfig(**json.loads(meta["train"])) == train
    assert json.loads(meta["classes"]) == ["setosa", "versicolor", "virginica"]
    assert json.loads(meta["feature_names"]) == ["a", "b", "c", "d"]
    assert meta["dtype"] == "float32" and json.loads(meta["standardized"]) is True
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == meta                  # what a runtime's user sees
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("X", ["N", 4])]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("probabilities", ["N", 3]), ("label", ["N", 1])]
    assert "one row per example" in model.graph.doc_string and "probabilities" in model.doc_string
    assert [p.version for p in model.opset_import] == [17] and model.ir_version == 8


def test_a_train_config_with_a_function_is_left_out_of_the_metadata(rng):
    config = cr.ModelConfig([2, 1])
    params, _, _ = _problem(config, 1, rng)
    train = TrainConfig(decay=lambda learning_rate, epoch: learning_rate)
    model = export(config, params, train=train)
    assert "train" not in {p.key for p in model.metadata_props}


def test_label_false_leaves_the_label_out(rng):
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    params, _, _ = _problem(config, 1, rng)
    model = export(config, params, label=False)
    assert [o.name for o in model.graph.output] == ["probabilities"]


def test_describe_lists_the_nodes_with_their_shapes(rng):
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params, _, standardizer = _problem(config, 1, rng)
    lines = describe(export(config, params, standardizer=standardizer)).splitlines()
    assert lines[0].split() == ["input", "X", "(N,", "2)"]
    assert [line.split()[0] for line in lines[1:]] == ["Sub", "Div", "Gemm(transB=1)", "Tanh", "Gemm(transB=1)", "Max",
                                                        "Neg", "Exp", "Add", "Div", "Greater", "Cast"]
    assert lines[3].split()[-4:] == ["→", "Z1", "(N,", "4)"] and lines[-1].split()[-4:] == ["→", "label", "(N,", "1)"]


# --- mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (dict(dtype="float16"), "unknown dtype 'float16'; expected one of: float32, float64"),
    (dict(dtype=None), "unknown dtype None"),
    (dict(opset=12), "opset must be an integer from 13 to"),
    (dict(params="W"), "params must hold 2 layers"),
    (dict(params=[(np.ones((3, 2)), np.ones((3, 1))), (np.ones((1, 2)), np.ones((1, 1)))]),
     "W2 must have shape (n_2, n_1) = (1, 3)"),
    (dict(params=[(np.full((3, 2), np.nan), np.ones((3, 1))), (np.ones((1, 3)), np.ones((1, 1)))]),
     "W1 must be finite"),
    (dict(params=[(np.full((3, 2), 1e300), np.ones((3, 1))), (np.ones((1, 3)), np.ones((1, 1)))]),
     "params do not fit in float32"),
    (dict(standardizer=datasets.Standardizer(np.zeros((3, 1)), np.ones((3, 1)))),
     "standardizer.mean must have shape (n_x, 1) = (2, 1)"),
    (dict(standardizer=datasets.Standardizer(np.zeros((2, 1)), np.zeros((2, 1)))), "standardizer.std must be positive"),
    (dict(standardizer="yes"), "standardizer must be a datasets.Standardizer"),
    (dict(classes=("a", "b", "c")), "classes must be empty or hold 2 names"),
    (dict(feature_names="xy"), "feature_names must be a tuple of strings"),
    (dict(train={"learning_rate": 1}), "train must be a chainrule.TrainConfig or None"),
    (dict(config=[2, 3, 1]), "config must be a chainrule.ModelConfig"),
])
def test_mistakes_are_one_clear_sentence(change, message, tmp_path):
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    arguments = dict(config=config, params=cr.init_params(config, 0), path=tmp_path / "x.onnx") | change
    with pytest.raises(ValueError) as raised:
        export(arguments.pop("config"), arguments.pop("params"), **arguments)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert os.listdir(tmp_path) == []                                            # nothing written


def test_without_onnx_the_export_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)                               # import onnx now fails
    config = cr.ModelConfig([2, 1])
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[onnx\]'"):
        export(config, cr.init_params(config, 0))


def test_a_folder_is_not_overwritten(tmp_path):
    config = cr.ModelConfig([2, 1])
    with pytest.raises(IsADirectoryError):
        export(config, cr.init_params(config, 0), tmp_path)
    assert os.listdir(tmp_path) == []


# --- the command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    """A model file from `chainrule train --data iris` (softmax, standardised, 5 epochs)."""
    out = tmp_path_factory.mktemp("iris")
    assert cli.main(["train", "--data", "iris", "--num-epochs", "5", "--out", str(out), "--quiet"]) == 0
    return out / "model.npz"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_export_writes_what_predict_computes_on_raw_features(iris_model, dtype, tmp_path, capsys):
    """The exported graph takes iris's raw measurements and standardises them itself: its
    probabilities are chainrule's on the standardised data, its labels chainrule.predict's."""
    path = tmp_path / "iris.onnx"
    arguments = ["export", str(iris_model), str(path)] + (["--dtype", dtype] if dtype != "float32" else [])
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert printed == (f"Wrote {path}: ONNX opset 17, {dtype}; input X (N, 4) (raw features, standardised in the "
                       f"graph, one row per example); output probabilities (N, 3), label (N, 1); operators Sub, Div, "
                       f"Gemm, Tanh, Gemm, Softmax, ArgMax\n")
    saved, iris = load_model(iris_model), datasets.iris()
    assert saved.standardizer is not None
    model = onnx.load(path)
    outputs = _run(model, np.ascontiguousarray(iris.X.T, dtype=dtype))              # raw features, rows
    _check_outputs(outputs, saved.params, iris.X, saved.standardizer, saved.config, dtype)
    meta = {p.key: p.value for p in model.metadata_props}
    assert tuple(json.loads(meta["classes"])) == saved.classes == iris.classes
    assert tuple(json.loads(meta["feature_names"])) == saved.feature_names == iris.feature_names
    assert TrainConfig(**json.loads(meta["train"])) == saved.train


def _corrupt(folder, model):
    (folder / "bad.npz").write_bytes(model.read_bytes()[:500])                   # a truncated model file
    return ["export", str(folder / "bad.npz"), str(folder / "x.onnx")]


@pytest.mark.parametrize("case, message", [
    (lambda folder, model: ["export", str(folder / "none.npz"), str(folder / "x.onnx")], "there is no such file"),
    (_corrupt, "bad.npz"),
    (lambda folder, model: ["export", str(model), str(folder)], "is a folder"),
    (lambda folder, model: ["export", str(model), str(model)], "is the model file this command reads"),
    (lambda folder, model: ["export", str(model), str(folder / "no" / "x.onnx")], "there is no folder"),
    (lambda folder, model: ["export", str(model), ""], "MODEL.onnx is empty"),
    (lambda folder, model: ["export", "", str(folder / "x.onnx")], "MODEL.npz is empty"),
])
def test_export_mistakes_are_one_line_and_leave_no_file(iris_model, case, message, tmp_path, capsys):
    model = tmp_path / "model.npz"
    model.write_bytes(iris_model.read_bytes())
    arguments = case(tmp_path, model)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert cli.main(arguments) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule: error: ") and message in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before      # nothing written, nothing changed


def test_export_without_onnx_says_how_to_install_it(iris_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert cli.main(["export", str(iris_model), str(tmp_path / "x.onnx")]) == 2
    assert capsys.readouterr().err == ("chainrule: error: exporting to ONNX needs the onnx package: "
                                       "pip install 'chainrule[onnx]'\n")
    assert os.listdir(tmp_path) == []


def test_export_refuses_an_unknown_dtype(iris_model, tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["export", str(iris_model), str(tmp_path / "x.onnx"), "--dtype", "float16"])
    assert raised.value.code == 2 and "invalid choice: 'float16'" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_a_write_that_fails_leaves_the_previous_file_as_it_was(tmp_path, monkeypatch):
    """The file is written whole or not at all: a failure before the bytes are on disk (a full
    disk, say) leaves what was there, and no temporary file beside it."""
    import chainrule._files

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous model")
    monkeypatch.setattr(chainrule._files.os, "fsync", full_disk)
    config = cr.ModelConfig([2, 1])
    with pytest.raises(OSError, match="No space left"):
        export(config, cr.init_params(config, 0), path)
    assert path.read_bytes() == b"the previous model" and os.listdir(tmp_path) == ["model.onnx"]
