"""The command line, through main(argv) and as a subprocess: each command, its files, its errors."""

import dataclasses
import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.cli as cli
from chainrule import datasets
from chainrule.checkpoint import load as load_model
from chainrule.training import TrainConfig

FIXTURES = Path(__file__).parent / "fixtures"


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True, cwd=cwd)


def _png_size(path):
    """(width, height) from the header, after decoding the whole image (a broken PNG fails here)."""
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    width, height = struct.unpack(">II", data[16:24])
    assert pixels.shape[:2] == (height, width) and pixels.std() > 0     # decoded, and not blank
    return width, height


# --- train ---------------------------------------------------------------------------------


def test_default_run_trains_the_planar_classifier(tmp_path, capsys):
    """The course's numbers: cost 0.693048 at epoch 0, 0.288083 at 1000, 90.75 % accuracy; the
    lines the run prints are the history's, every tenth epoch."""
    assert cli.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["Network [2, 4, 1]: tanh hidden layers, sigmoid output",
                       "Data: flower, 400 training and 0 test examples",
                       "Training: init random, optimizer gd, learning_rate 1.2, num_epochs 10000, "
                       f"mini_batch_size full batch, seed 2; output in {tmp_path}"]
    assert out[3] == "Cost after epoch 0: 0.693048" and out[4] == "Cost after epoch 1000: 0.288083"
    assert out[13] == "Training accuracy: 90.75 %"
    history = load_model(tmp_path / "model.npz").history
    assert out[3:13] == [f"Cost after epoch {e}: {history.cost[e]:.6f}" for e in range(0, 10000, 1000)]
    assert out[14] == f"Final cost: {history.cost[-1]:.6f} after 10000 epochs (completed)"
    for name in ("model.npz", "history.csv", "training.png"):
        assert (tmp_path / name).exists()
    assert _png_size(tmp_path / "training.png") == (1000, 400)
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,cost,") and len(rows) == 10001
    assert f"{float(rows[1].split(',')[1]):.6f}" == "0.693048"


def test_train_writes_a_model_that_summary_and_predict_read_back(tmp_path, capsys):
    """iris: softmax, standardised, 20 % held out; predictions from the file equal the Python API's."""
    out = tmp_path / "run"
    assert cli.main(["train", "--data", "iris", "--hidden-layers", "8", "--hidden-activation", "relu",
                     "--init", "he", "--optimizer", "adam", "--learning-rate", "0.01", "--num-epochs", "200",
                     "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    model = load_model(out / "model.npz")
    iris = datasets.iris()
    X_train, Y_train, X_test, Y_test = datasets.split(iris.X, iris.Y, 0.2, model.train.seed)
    for name, X, Y in (("Training", X_train, Y_train), ("Test", X_test, Y_test)):
        X = datasets.standardize(X, model.standardizer)
        assert f"{name} accuracy: {100 * cr.accuracy(model.params, X, Y, model.config):.2f} %" in text.splitlines()
    assert model.config.layer_dims == (4, 8, 3) and model.standardizer is not None
    assert model.history is not None and len(model.history) == 200

    assert cli.main(["summary", str(out / "model.npz")]) == 0
    summary = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in summary if line.strip()[:1].isdigit()}
    assert rows["1"] == ["1", "8", "relu", "(8,", "4)", "(8,", "1)", str(8 * 4 + 8)]          # units, g, W, b, count
    assert rows["2"] == ["2", "3", "softmax", "(3,", "8)", "(3,", "1)", str(3 * 8 + 3)]
    assert summary[0].endswith(f"a network of 2 layers, {4 * 8 + 8 + 3 * 8 + 3} parameters (float64)")
    assert f"Output: softmax with its loss; classes: {', '.join(datasets.iris().classes)}" in summary
    settings = next(line for line in summary if line.startswith("Settings: "))
    assert "optimizer adam" in settings and "learning_rate 0.01" in settings and "num_epochs 200" in settings
    assert next(line for line in summary if line.startswith("State: ")) == \
        f"State: epoch 200, AdamState after {200 * 1} steps (resumable with --resume)"
    digest = hashlib.sha256()                               # the fingerprint's layout, written out here
    for A in (iris.X, iris.Y):
        digest.update(f"{A.dtype.str} {','.join(map(str, A.shape))}\n".encode("ascii"))
        digest.update(np.ascontiguousarray(A).tobytes())
    assert next(line for line in summary if line.startswith("Trained on: ")) == \
        f"Trained on: iris, test fraction 0.2, data fingerprint {digest.hexdigest()[:16]}…"

    iris = datasets.iris()
    csv_path = tmp_path / "iris.csv"
    header = ",".join(iris.feature_names) + ",species"
    lines = [header] + [",".join(repr(float(v)) for v in x) + f",{iris.classes[int(np.argmax(y))]}"
                        for x, y in zip(iris.X.T, iris.Y.T)]
    csv_path.write_text("\n".join(lines) + "\n")
    predictions = tmp_path / "predictions.csv"
    assert cli.main(["predict", str(out / "model.npz"), str(csv_path), "--out", str(predictions)]) == 0
    rows = predictions.read_text().splitlines()
    assert rows[0] == "prediction," + ",".join(f"p_{c}" for c in iris.classes)
    X = datasets.standardize(iris.X, model.standardizer)
    P = cr.predict_proba(model.params, X, model.config)
    labels = cr.predict(model.params, X, model.config)[0]
    for row, k, p in zip(rows[1:], labels, P.T):
        cells = row.split(",")
        assert cells[0] == iris.classes[k]
        np.testing.assert_array_equal([float(c) for c in cells[1:]], p)


def test_resume_continues_exactly(tmp_path, capsys):
    """N + K epochs in one run equal N, then --resume for K, to 1e-12 (here: bit for bit)."""
    common = ["--data", "moons", "--hidden-layers", "5,3", "--hidden-activation", "relu", "--init", "he",
              "--optimizer", "adam", "--learning-rate", "0.01", "--mini-batch-size", "32", "--keep-prob", "0.9",
              "--quiet"]
    assert cli.main(["train", *common, "--num-epochs", "30", "--out", str(tmp_path / "whole")]) == 0
    assert cli.main(["train", *common, "--num-epochs", "18", "--out", str(tmp_path / "first")]) == 0
    assert cli.main(["train", "--resume", str(tmp_path / "first" / "model.npz"), "--num-epochs", "12",
                     "--quiet", "--out", str(tmp_path / "rest")]) == 0
    whole, rest = load_model(tmp_path / "whole" / "model.npz"), load_model(tmp_path / "rest" / "model.npz")
    for p, q in zip(whole.params, rest.params):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-12, atol=0)
        np.testing.assert_allclose(p.b, q.b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(whole.history.cost, rest.history.cost, rtol=1e-12)
    assert len(rest.history) == 30 and rest.state.opt_state.t == whole.state.opt_state.t
    assert rest.train == dataclasses.replace(whole.train, num_epochs=12)


def test_resume_without_num_epochs_trains_as_many_again_into_the_models_folder(tmp_path):
    first = tmp_path / "first"
    assert cli.main(["train", "--num-epochs", "6", "--quiet", "--out", str(first)]) == 0
    assert cli.main(["train", "--resume", str(first / "model.npz"), "--quiet"]) == 0
    rest = load_model(first / "model.npz")
    assert list(rest.history.epoch) == list(range(12)) and rest.state.epoch == 12
    assert len((first / "history.csv").read_text().splitlines()) == 1 + 12


def test_an_interrupted_run_says_where_its_checkpoint_is_and_how_to_finish(tmp_path, monkeypatch, capsys):
    """Ctrl-C after epoch 6 of 20 with --save-every 5: the checkpoint after epoch 4 and the
    command that trains the 15 epochs left."""
    real_fit = cli.fit

    def interrupted(*args, callbacks=(), **kwargs):
        def stop(record, state):
            if record.epoch == 6:
                raise KeyboardInterrupt
        return real_fit(*args, callbacks=[*callbacks, stop], **kwargs)

    monkeypatch.setattr(cli, "fit", interrupted)
    assert cli.main(["train", "--num-epochs", "20", "--save-every", "5", "--quiet", "--out", str(tmp_path)]) == 130
    path = tmp_path / "model.npz"
    assert capsys.readouterr().err.strip() == (f"chainrule: interrupted; {path} holds the checkpoint after epoch 4; "
                                               f"chainrule train --resume {path} --num-epochs 15 finishes the run")
    assert load_model(path).state.epoch == 5 and load_model(path).history.stop_reason == "in progress"


def test_a_format_1_model_resumes_as_that_release_would_have(tmp_path):
    """The 0.1.0 release's 18 epochs, resumed by the command line for 12, against its 30."""
    assert cli.main(["train", "--resume", str(FIXTURES / "v1-cli-18-epochs.npz"), "--num-epochs", "12", "--quiet",
                     "--out", str(tmp_path)]) == 0
    rest, whole = load_model(tmp_path / "model.npz"), load_model(FIXTURES / "v1-cli-30-epochs.npz")
    for p, q in zip(rest.params, whole.params):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rest.history.cost, whole.history.cost, rtol=1e-9)
    assert rest.figures["test_accuracy"] == whole.figures["test_accuracy"]


def test_config_file_and_json_summary(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('hidden_layers = [3]\nnum_epochs = 300\nlearning_rate = 0.5\n')
    assert cli.main(["train", "--config", str(config), "--learning-rate", "1.0", "--json",
                     "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["layer_dims"] == [2, 3, 1] and summary["epochs"] == 300
    model = load_model(tmp_path / "o" / "model.npz")
    assert model.train.learning_rate == 1.0 and model.train.num_epochs == 300      # the flag overrides the file


def test_progress_lines_when_not_a_terminal(tmp_path):
    done = _run("train", "--num-epochs", "100", "--print-every", "25", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("Cost after")] == [
        f"Cost after epoch {e}" for e in (0, 25, 50, 75)]


def _compare_rows(out):
    return np.array([[float(v) for v in line.split()] for line in out.splitlines() if line.strip()[:1].isdigit()])


def test_compare_reports_rounding_only(capsys):
    assert cli.main(["compare", "--num-epochs", "60", "--every", "20"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [0, 20, 40, 60]
    differences = np.array([[float(v) for v in r[2:]] for r in rows])
    assert differences.shape[1] == 6 and differences.max() < 1e-12   # absorbed and per-example, J and W1, W2


# --- explain and gradcheck -------------------------------------------------------------------


def test_explain_default_and_check(capsys):
    assert cli.main(["explain", "--format", "markdown", "--check", "-m", "30"]) == 0
    out = capsys.readouterr().out
    assert "dW[2]" in out and "(1, 4) = (1, 30)·(30, 4)" in out
    rows = [line for line in out.splitlines() if line.startswith("| `d")]
    assert len(rows) == 7 and all("✓" in row for row in rows)          # every gradient measured
    measured = [float(row.split("✓")[1].split("|")[0]) for row in rows]
    assert max(measured) < 1e-7


def test_gradcheck_injected_bug_exits_1_and_names_layers(capsys):
    assert cli.main(["gradcheck", "--inject", "double-1/m"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "layers pointed at: 1, 2" in out
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert out.count("passed (threshold 2e-07") == 2 and "FAILED" not in out
    assert cli.main(["gradcheck", "--inject", "missing-g-prime", "--layer-dims", "3,5,4,2"]) == 1
    assert "layers pointed at: 1, 2" in capsys.readouterr().out


def test_subprocess_commands():
    done = _run("gradcheck", "--inject", "no-1/m")
    assert done.returncode == 1 and "layers pointed at: 1, 2" in done.stdout
    done = _run("explain")
    assert done.returncode == 0 and "dW[1] = (1/m) dZ[1] A[0]ᵀ" in done.stdout


# --- user mistakes -----------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "no-such.csv", "--label", "y"], "no such CSV file"),
    (["train", "--data", "nothing"], "unknown data set 'nothing'"),
    (["train", "--data", "BAD.csv", "--label", "y"], "is not a number"),
    (["train", "--data", "GOOD.csv", "--label", "species"], "has no column 'species'"),
    (["train", "--data", "GOOD.csv"], "--label COLUMN is needed"),
    (["train", "--data", "NAN.csv", "--label", "y"], "is not a finite number"),
    (["train", "--hidden-activation", "swish"], "invalid choice: 'swish'"),
    (["train", "--learning-rate", "-1"], "--learning-rate must be a positive number; got -1.0"),
    (["train", "--learning-rate", "1000", "--num-epochs", "50"], "training diverged"),
    (["train", "--print-every", "0"], "--print-every must be a positive integer"),
    (["train", "--resume", "MISSING.npz"], "cannot load"),
    (["summary", "CORRUPT.npz"], "cannot load"),
    (["predict", "CORRUPT.npz", "GOOD.csv"], "cannot load"),
    (["gradcheck", "--output", "softmax", "--layer-dims", "2,3,1"], "softmax output needs n_y ≥ 2"),
    (["gradcheck", "--layer-dims", "2,x"], "comma-separated integers"),
    (["gradcheck", "-m", "0"], "at least 1 example"),
    (["train", "--config", "MISSING.toml"], "cannot read the config file"),
    (["train", "--config", "BAD.toml"], "unknown option(s): learnin_rate"),
    (["explain", "-m", "0"], "m must be"),
    (["train", "--seed", "4294967296"], "--seed must be below 2³² with init_draws 'course'"),
    (["train", "--seed", "18446744073709551616"], "--seed must be a non-negative integer below 2⁶³"),
    (["train", "--seed", "-3"], "--seed must be a non-negative integer; got -3"),
    (["train", "--data", "iris", "--restore-best"], "--restore-best is for early stopping: give --patience too"),
])
def test_user_mistakes_end_in_one_line_and_status_2(args, message, tmp_path):
    (tmp_path / "BAD.csv").write_text("a,b,y\n1,x,0\n2,3,1\n")
    (tmp_path / "GOOD.csv").write_text("a,b,y\n1,2,0\n2,3,1\n3,1,0\n")
    (tmp_path / "NAN.csv").write_text("a,b,y\n1,nan,0\n2,3,1\n")
    (tmp_path / "CORRUPT.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    (tmp_path / "BAD.toml").write_text("learnin_rate = 0.1\n")
    done = _run(*args, "--out", str(tmp_path / "o"), cwd=tmp_path) if args[0] == "train" else _run(*args, cwd=tmp_path)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1            # one line, argparse's mistakes too


def test_debug_shows_the_traceback():
    done = _run("gradcheck", "-m", "0", "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_compare_default_run():
    """The default: the planar network, 1000 epochs, a row every 100; m × epochs = 400 000, so
    the per-example run is skipped and said to be."""
    done = _run("compare")
    assert done.returncode == 0, done.stderr
    rows = _compare_rows(done.stdout)
    assert list(rows[:, 0]) == list(range(0, 1001, 100)) and rows.shape[1] == 5     # epoch, J, absorbed J, W[1], W[2]
    assert "The per-example reference was skipped: m × epochs > 100 000" in done.stdout
    assert f"{rows[0, 1]:.6f}" == "0.693048" and f"{rows[-1, 1]:.6f}" == "0.288083"
    assert rows[:, 2:].max() < 1e-12


# --- the review's cases ---------------------------------------------------------------------------


def _quick(tmp_path, name, *extra):
    assert cli.main(["train", "--num-epochs", "20", "--quiet", "--out", str(tmp_path / name), *extra]) == 0
    return tmp_path / name / "model.npz"


def test_resume_refuses_other_settings_and_foreign_models(tmp_path, capsys):
    model = _quick(tmp_path, "a")
    assert cli.main(["train", "--resume", str(model), "--learning-rate", "5", "--out", str(tmp_path / "b")]) == 2
    assert "--learning-rate cannot change when resuming" in capsys.readouterr().err
    foreign = tmp_path / "foreign.npz"
    loaded = load_model(model)
    cr.checkpoint.save(foreign, loaded._replace(train=None))
    assert cli.main(["train", "--resume", str(foreign), "--out", str(tmp_path / "c")]) == 2
    assert "was not written by chainrule train" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(foreign), "--lr", "0.5", "--out", str(tmp_path / "c")]) == 2
    assert "was not written by chainrule train" in capsys.readouterr().err
    assert cli.main(["summary", str(foreign)]) == 0
    assert cli.main(["train", "--resume", str(model), "--hidden-layers", "3", "--out", str(tmp_path / "d")]) == 2
    assert "--hidden-layers cannot change when resuming" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(model), "--seed", "2", "--quiet", "--out", str(tmp_path / "e")]) == 0


def test_ignored_flags_are_refused(tmp_path, capsys):
    for args, message in [(["--decay-rate", "0.5"], "need --decay"), (["--init", "he", "--scale", "3"], "--scale is"),
                          (["--min-delta", "0.1"], "give --patience too")]:
        assert cli.main(["train", *args, "--num-epochs", "5", "--out", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


def test_a_bad_out_fails_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert cli.main(["train", "--out", str(tmp_path / "afile")]) == 2
    captured = capsys.readouterr()
    assert "is a file, not a folder" in captured.err and "Cost after" not in captured.out
    assert cli.main(["predict", str(_quick(tmp_path, "m")), "x.csv", "--out", str(tmp_path)]) == 2


def test_a_flag_value_may_be_a_command_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--num-epochs", "5", "--quiet", "--out", "summary"]) == 0
    assert (tmp_path / "summary" / "model.npz").exists()


def test_json_config(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"hidden_layers": [2], "num_epochs": 7, "data": "moons"}))
    assert cli.main(["train", "--config", str(config), "--json", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["layer_dims"] == [2, 2, 1] and summary["epochs"] == 7 and "test_accuracy" in summary


@pytest.mark.parametrize("data, output, header", [("moons", None, "prediction,p_0,p_1"),
                                                  ("moons", "softmax", "prediction,p_0,p_1")])
def test_predict_for_a_binary_model(data, output, header, tmp_path, capsys):
    extra = ["--data", data] + (["--output", output] if output else [])
    model = _quick(tmp_path, "m", *extra)
    loaded = load_model(model)
    X = datasets.moons().X
    csv_path = tmp_path / "new.csv"
    csv_path.write_text("x1,x2\n" + "\n".join(f"{a!r},{b!r}" for a, b in X.T.tolist()) + "\n")
    capsys.readouterr()
    assert cli.main(["predict", str(model), str(csv_path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == header and len(rows) == X.shape[1] + 1
    P = cr.predict_proba(loaded.params, X, loaded.config)
    p1 = P[0] if loaded.config.output == "sigmoid" else P[1]
    np.testing.assert_array_equal([float(r.split(",")[2]) for r in rows[1:]], p1)


def test_predict_for_a_regression_model_and_missing_columns(tmp_path, capsys):
    path = tmp_path / "line.csv"
    x = np.linspace(-1, 1, 30)
    path.write_text("x,y\n" + "\n".join(f"{a!r},{2 * a + 0.25!r}" for a in x.tolist()) + "\n")
    model = _quick(tmp_path, "r", "--data", str(path), "--label", "y", "--learning-rate", "0.1")
    loaded = load_model(model)
    assert loaded.config.output == "identity"
    assert "Training cost:" in capsys.readouterr().out
    assert cli.main(["predict", str(model), str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    X = datasets.standardize(x[np.newaxis], loaded.standardizer)
    assert rows[0] == "prediction"
    np.testing.assert_array_equal([float(r) for r in rows[1:]], cr.predict(loaded.params, X, loaded.config)[0])
    other = tmp_path / "other.csv"
    other.write_text("z\n1\n")
    assert cli.main(["predict", str(model), str(other)]) == 2
    assert "lacks the feature column(s) 'x'" in capsys.readouterr().err


def test_compare_says_when_the_runs_drift(capsys):
    """α = 50 makes the run chaotic: the gap it reports is the largest in its table, above 1e-9."""
    assert cli.main(["compare", "--num-epochs", "40", "--every", "20", "--lr", "50"]) == 0
    out = capsys.readouterr().out
    gap = float(out.split("The runs drifted ")[1].split()[0])
    assert gap == pytest.approx(np.nanmax(_compare_rows(out)[:, 2:]), rel=0.05) and gap > 1e-9


# --- one vocabulary: the flags are TrainConfig's fields -------------------------------------------


def test_every_training_option_is_a_flag_with_its_help():
    """Each field of TrainConfig is a flag spelled like it, documented with its one-line meaning,
    and parses into the TrainConfig the library would build."""
    parser = cli._parser()
    text = parser.train.format_help().replace("\n", " ")
    values = {"optimizer": "adam", "learning_rate": "0.5", "num_epochs": "7", "mini_batch_size": "16",
              "batches": "course", "beta1": "0.85", "beta2": "0.95", "epsilon": "1e-6",
              "decay": "stepped", "decay_rate": "0.5", "time_interval": "3", "lambd": "0.1", "keep_prob": "0.9",
              "convention": "absorbed", "init": "xavier_course", "scale": "0.02", "init_draws": "chainrule",
              "dropout_masks": "course", "seed": "4", "patience": "5", "min_delta": "0.01", "divergence_factor": "50"}
    fields = [f for f in dataclasses.fields(TrainConfig) if f.name not in ("restore_best", "beta")]
    assert {f.name for f in fields} == set(values)                 # a new option needs only its line here
    argv = ["train"] + [x for name, value in values.items() for x in ("--" + name.replace("_", "-"), value)]
    request = cli._request(cli._parse(argv + ["--no-restore-best"], parser))
    for f in dataclasses.fields(TrainConfig):
        assert " ".join(f.metadata["help"].split()) in " ".join(text.split()), f.name
    expected = {name: type(getattr(TrainConfig(), name) if getattr(TrainConfig(), name) is not None else 0.0)(v)
                if name not in ("optimizer", "batches", "decay", "convention", "init", "init_draws", "dropout_masks")
                else v
                for name, v in values.items()}
    expected["mini_batch_size"], expected["patience"], expected["seed"] = 16, 5, 4
    assert request.train == TrainConfig(**expected, restore_best=False)
    momentum = cli._request(cli._parse(["--optimizer", "momentum", "--beta", "0.8"], parser))
    assert momentum.train.beta == 0.8


def test_none_is_a_value_of_the_options_that_take_it(tmp_path):
    request = cli._request(cli._parse(["--divergence-factor", "none", "--mini-batch-size", "none",
                                       "--patience", "none"], cli._parser()))
    assert request.train.divergence_factor is None and request.train.mini_batch_size is None
    done = _run("train", "--learning-rate", "none")
    assert done.returncode == 2 and "argument --learning-rate/--lr: expected a number; got 'none'" in done.stderr


def test_a_seed_means_the_same_on_the_command_line_and_in_the_library(tmp_path):
    """--seed 5 with the planar preset is the preset's TrainConfig with seed 5: the same model."""
    assert cli.main(["train", "--seed", "5", "--num-epochs", "40", "--quiet", "--out", str(tmp_path)]) == 0
    model = load_model(tmp_path / "model.npz")
    data = datasets.planar_flower()
    config, train = cr.presets.planar()
    result = cr.fit(config, data.X, data.Y, train, seed=5, num_epochs=40)
    for p, q in zip(model.params, result.params):
        np.testing.assert_array_equal(p.W, q.W)
    assert model.train == dataclasses.replace(train, seed=5, num_epochs=40)


def test_the_optimization_preset_is_the_librarys(tmp_path, capsys):
    """--preset optimization trains the preset's network on its data (moons with seed 3, all
    300 examples, as the course does): the library's fit gives the same model."""
    assert cli.main(["train", "--preset", "optimization", "--num-epochs", "30", "--out", str(tmp_path)]) == 0
    setup = capsys.readouterr().out.splitlines()[:3]
    assert setup[0] == "Network [2, 5, 2, 1]: relu hidden layers, sigmoid output"
    assert setup[1] == "Data: moons, 300 training and 0 test examples"
    assert setup[2].startswith("Training: init he, optimizer adam, learning_rate 0.0007, num_epochs 30, "
                               "mini_batch_size 64, seed 3")
    data = datasets.moons(300, 0.2, seed=3)
    config, train = cr.presets.optimization()
    result = cr.fit(config, data.X, data.Y, train, num_epochs=30)
    for p, q in zip(load_model(tmp_path / "model.npz").params, result.params):
        np.testing.assert_array_equal(p.W, q.W)


@pytest.mark.parametrize("content, message", [
    ('standardize = "no"\n', "gives standardize = 'no'; expected true or false"),
    ('learning_rate = "0.1"\n', "learning_rate must be a positive number; got '0.1'"),
    ('hidden_layers = 4\n', 'gives hidden_layers = 4; expected a list of sizes or "20,7,5"'),
    ('hidden_layers = "4,x"\n', "gives hidden_layers = '4,x': expected comma-separated integers"),
    ('divergence_factor = "never"\n', "divergence_factor must be a number above 1; got 'never'"),
    ('preset = "course"\n', "gives preset = 'course'; expected one of planar, optimization"),
    ('restore_best = "yes"\npatience = 3\n', "restore_best must be True or False; got 'yes'"),
])
def test_config_values_must_have_the_type_of_their_option(content, message, tmp_path):
    (tmp_path / "run.toml").write_text(content)
    done = _run("train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_hidden_layers_may_be_a_string_and_none_is_none_in_a_config_file(tmp_path, capsys):
    """TOML has no null: "none" is None for the options that take it, as on the command line."""
    (tmp_path / "run.toml").write_text('hidden_layers = "5,3"\nnum_epochs = 2\ndivergence_factor = "none"\n')
    assert cli.main(["train", "--config", str(tmp_path / "run.toml"), "--quiet", "--out", str(tmp_path / "o")]) == 0
    model = load_model(tmp_path / "o" / "model.npz")
    assert model.config.layer_dims == (2, 5, 3, 1) and model.train.divergence_factor is None


def test_save_every_keeps_the_work_of_a_run_that_fails(tmp_path):
    """A learning rate that diverges after some epochs: with --save-every 4 the model file holds
    the last checkpoint (after 4 epochs; the cost diverges in epoch 6), and the message says so."""
    done = _run("train", "--learning-rate", "300", "--num-epochs", "400", "--save-every", "4", "--quiet",
                "--out", str(tmp_path))
    assert done.returncode == 2 and "training diverged" in done.stderr
    assert f"{tmp_path / 'model.npz'} holds the checkpoint after epoch 3." in done.stderr
    epoch = int(done.stderr.split("in epoch ")[1].split()[0])
    model = load_model(tmp_path / "model.npz")
    assert model.state.epoch == 4 < epoch and len(model.history) == model.state.epoch   # diverged in epoch 6
    assert model.train.learning_rate == 300.0


def test_train_piped_into_a_reader_that_stops_finishes_and_keeps_its_files(tmp_path):
    """`chainrule train | head -1`: the reader goes, the run goes on quietly and writes its files."""
    run = subprocess.Popen([sys.executable, "-m", "chainrule", "train", "--num-epochs", "400", "--print-every", "1",
                            "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.readline()
    run.stdout.close()                                            # as head does after its line
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0 and err == b""
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["history.csv", "model.npz", "training.png"]
    assert len(load_model(tmp_path / "out" / "model.npz").history) == 400


def test_train_with_standard_output_closed_runs_and_keeps_its_files(tmp_path):
    done = subprocess.run(f"{sys.executable} -m chainrule train --num-epochs 5 --out {tmp_path / 'out'} >&-",
                          shell=True, capture_output=False, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 0 and done.stderr == b""
    assert (tmp_path / "out" / "model.npz").exists()


def test_an_out_folder_whose_name_the_system_refuses_is_one_line(tmp_path, capsys):
    out = str(tmp_path / ("a" * 300))
    assert cli.main(["train", "--num-epochs", "1", "--out", out]) == 2
    assert capsys.readouterr().err.strip() == (f"chainrule: error: --out {out} cannot be used (File name too long); "
                                               f"choose another folder")
