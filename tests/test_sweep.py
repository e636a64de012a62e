"""Sweeps: a grid of settings trained in stacks, through ``chainrule.sweep`` and ``chainrule sweep``.

The references are independent of the sweep's machinery: each run is trained again alone by
``fit`` (it must get the same parameters and history, bit for bit), the course's published
accuracies for its hidden-size sweep, and figures recomputed here from the parameters.
"""

import csv
import dataclasses
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
import chainrule.cli as cli
from chainrule import datasets
from chainrule.callbacks import Interrupt
from chainrule.resources import training_bytes


@pytest.fixture(scope="module")
def moons():
    data = datasets.moons(120, 0.2, seed=4)
    return data.X, data.Y


CONFIG = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")


def _assert_same_run(run, X, Y):
    """The run is what fit gives its network and options alone: parameters and history, bit for bit."""
    alone = cr.fit(run.config, X, Y, run.train)
    for mine, theirs in zip(run.result.params, alone.params):
        np.testing.assert_array_equal(mine.W, theirs.W)
        np.testing.assert_array_equal(mine.b, theirs.b)
    np.testing.assert_array_equal(run.result.history.cost, alone.history.cost)
    assert run.result.history.stop_reason == alone.history.stop_reason
    assert run.figures["train_accuracy"] == cr.accuracy(alone.params, X, Y, run.config)
    assert run.figures["train_cost"] == cr.model.compute_data_cost(alone.params, X, Y, run.config)


# --- every run is the run alone -------------------------------------------------------------------


@pytest.mark.parametrize("optimizer, options", [("gd", {}), ("adam", {"mini_batch_size": 32}),
                                                ("momentum", {"mini_batch_size": 50, "lambd": 0.3})])
def test_each_run_of_a_sweep_is_fit_alone(moons, optimizer, options):
    X, Y = moons
    train = cr.TrainConfig(optimizer=optimizer, learning_rate=0.05, num_epochs=15, init="xavier", **options)
    result = cr.sweep(X, Y, {"hidden_layers": [2, (3, 2)], "learning_rate": [0.05, 0.3], "seed": [0, 1, 2]},
                      config=CONFIG, train=train)
    assert result.keys == ("hidden_layers", "learning_rate", "seed") and result.complete
    assert len(result.runs) == 12 and sorted(result.stacks) == [6, 6]          # one stack per network shape
    assert [r.setting["seed"] for r in result.runs[:3]] == [0, 1, 2]         # the grid's order, last name fastest
    assert result.runs[6].config.layer_dims == (2, 3, 2, 1)
    for run in result.runs:
        _assert_same_run(run, X, Y)


def test_runs_differing_in_a_shared_option_train_in_separate_stacks(moons):
    X, Y = moons
    result = cr.sweep(X, Y, [{"optimizer": "gd", "seed": 1}, {"optimizer": "adam", "seed": 1},
                             {"optimizer": "gd", "seed": 2}, {"convention": "absorbed", "seed": 3}],
                      config=CONFIG, train=cr.TrainConfig(num_epochs=5))
    assert sorted(result.stacks) == [1, 1, 2]
    for run in result.runs:
        _assert_same_run(run, X, Y)


def test_a_run_that_diverges_stops_alone(moons):
    """A learning rate far too large diverges where fit alone says it does; the others run on."""
    X, Y = moons
    config = cr.ModelConfig([2, 3, 1], "relu", "sigmoid")
    result = cr.sweep(X, Y, {"learning_rate": [0.5, 200.0], "seed": [0, 1]}, config=config,
                      train=cr.TrainConfig(num_epochs=50))
    for run in result.runs:
        if run.setting["learning_rate"] == 0.5:
            assert run.figures["stop_reason"] == "completed"
            _assert_same_run(run, X, Y)
            continue
        with pytest.raises(cr.TrainingDiverged) as alone:
            cr.fit(config, X, Y, run.train)
        assert run.figures["stop_reason"] == "diverged" and run.figures["epochs"] == alone.value.epoch + 1
        np.testing.assert_array_equal(run.result.history.cost, alone.value.history.cost)


def test_test_data_is_measured_every_epoch_and_at_the_end(moons):
    X, Y = moons
    test = datasets.moons(40, 0.2, seed=5)
    train = cr.TrainConfig(num_epochs=30, learning_rate=0.5, patience=3)
    result = cr.sweep(X, Y, {"seed": range(4)}, config=CONFIG, train=train, test_data=(test.X, test.Y))
    for run in result.runs:
        alone = cr.fit(run.config, X, Y, run.train, validation_data=(test.X, test.Y))
        np.testing.assert_array_equal(run.result.history.val_cost, alone.history.val_cost)
        assert run.figures["epochs"] == len(alone.history)
        assert run.figures["test_accuracy"] == cr.accuracy(alone.params, test.X, test.Y, CONFIG)


def test_several_jobs_give_the_same_runs(moons):
    X, Y = moons
    grid = {"hidden_layers": [2, 4], "seed": range(5)}
    train = cr.TrainConfig(num_epochs=10, learning_rate=0.3)
    here = cr.sweep(X, Y, grid, config=CONFIG, train=train)
    spread = cr.sweep(X, Y, grid, config=CONFIG, train=train, jobs=2)
    assert len(spread.stacks) >= 4                                  # each shape's stack cut in two for two jobs
    for a, b in zip(here.runs, spread.runs):
        assert a.setting == b.setting
        np.testing.assert_array_equal(a.result.history.cost, b.result.history.cost)
        for p, q in zip(a.result.params, b.result.params):
            np.testing.assert_array_equal(p.W, q.W)


def test_the_sweep_runs_on_a_dask_cluster_through_joblib(moons, dask_client):
    """joblib's Dask backend sends the stacks to a local Dask cluster (the cluster extra installs it)."""
    import joblib
    from dask.distributed import get_task_stream

    X, Y = moons
    grid = {"learning_rate": [0.1, 0.5], "seed": range(3)}
    train = cr.TrainConfig(num_epochs=8)
    here = cr.sweep(X, Y, grid, config=CONFIG, train=train)
    with joblib.parallel_config(backend="dask"), get_task_stream(dask_client) as tasks:
        remote = cr.sweep(X, Y, grid, config=CONFIG, train=train, jobs=2)
    assert len(tasks.data) >= 2                                       # the stacks ran on the workers
    for a, b in zip(here.runs, remote.runs):
        np.testing.assert_array_equal(a.result.history.cost, b.result.history.cost)


# --- memory ---------------------------------------------------------------------------------------


def test_stacks_are_cut_to_fit_the_memory_budget(moons):
    X, Y = moons
    train = cr.TrainConfig(num_epochs=3, mini_batch_size=40)
    per_network = training_bytes((2, 3, 1), 120, 40) + 8 * 40 * 3       # the estimate, and each network's batches
    budget = 7 * per_network + 1
    result = cr.sweep(X, Y, {"seed": range(30)}, config=CONFIG, train=train, memory=budget)
    assert result.stacks == (7, 7, 7, 7, 2)
    whole = cr.sweep(X, Y, {"seed": range(30)}, config=CONFIG, train=train)
    assert whole.stacks == (30,)
    for a, b in zip(result.runs, whole.runs):
        np.testing.assert_array_equal(a.result.params[0].W, b.result.params[0].W)


def test_ten_thousand_tiny_networks_need_no_thought():
    """K = 10 000 networks of 2-2-1 on 16 examples: cut into stacks by the default budget or a given
    one, every network trained, each seed its own start."""
    data = datasets.xor(16, 0.1, seed=0)
    config = cr.ModelConfig([2, 2, 1], "tanh", "sigmoid")
    result = cr.sweep(data.X, data.Y, {"seed": range(10_000)}, config=config,
                      train=cr.TrainConfig(num_epochs=2, learning_rate=0.5, init="xavier"), memory=2 ** 20)
    assert len(result.runs) == 10_000 and len(result.stacks) > 1 and sum(result.stacks) == 10_000
    assert max(result.stacks) * training_bytes((2, 2, 1), 16) <= 2 ** 20
    firsts = {float(run.result.history.cost[0]) for run in result.runs}
    assert len(firsts) > 9_000                                        # different starts, not one copied
    _assert_same_run(result.runs[9_999], data.X, data.Y)


# --- files, table, picture ------------------------------------------------------------------------


def test_files_hold_every_run(moons, tmp_path):
    X, Y = moons
    result = cr.sweep(X, Y, {"hidden_layers": [(), (2, 2)], "seed": [3, 4]}, config=CONFIG,
                      train=cr.TrainConfig(num_epochs=4))
    result.to_csv(tmp_path / "s.csv")
    result.to_json(tmp_path / "s.json")
    with open(tmp_path / "s.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["hidden_layers"] for r in rows] == ["none", "none", "2x2", "2x2"]
    for row, run in zip(rows, result.runs):
        assert float(row["final_cost"]) == run.result.history.cost[-1]       # written exactly
        assert float(row["train_accuracy"]) == cr.accuracy(run.result.params, X, Y, run.config)
        assert row["stop_reason"] == "completed" and int(row["epochs"]) == 4
    document = json.loads((tmp_path / "s.json").read_text())
    assert document["keys"] == ["hidden_layers", "seed"]
    assert document["cost"][3] == result.runs[3].result.history.cost.tolist()
    summary = document["summary"]
    assert [s["runs"] for s in summary] == [2, 2]
    costs = [run.result.history.cost[-1] for run in result.runs[2:]]
    assert summary[1]["final_cost_mean"] == pytest.approx(np.mean(costs), rel=1e-15)
    assert summary[1]["final_cost_std"] == pytest.approx(np.std(costs), rel=1e-12)


def test_the_picture_has_every_run(moons):
    pytest.importorskip("matplotlib")
    X, Y = moons
    result = cr.sweep(X, Y, {"learning_rate": [0.1, 1.0], "seed": range(3)}, config=CONFIG,
                      train=cr.TrainConfig(num_epochs=6))
    left, right = cr.plot.sweep_figure(result).axes
    assert len(right.lines) == 6                                      # every run's cost curve
    assert left.get_xscale() == "linear" and left.get_xlabel() == "learning_rate"
    mean = [line for line in left.lines if line.get_label() == "train: all runs"][0]
    expected = [np.mean([r.figures["train_accuracy"] for r in result.runs if r.setting["learning_rate"] == lr])
                for lr in (0.1, 1.0)]
    np.testing.assert_allclose(mean.get_ydata(), expected, rtol=1e-15)


# --- the command line -----------------------------------------------------------------------------


def test_the_course_hidden_size_sweep_in_one_command(tmp_path, capsys):
    """Course 1, week 3: "Accuracy for 1 hidden units: 67.5 %", 2: 67.25 %, 3: 90.75 %, 4: 90.5 %,
    5: 91.25 % (nn_model, 5000 iterations, learning rate 1.2, np.random.seed(2) weights)."""
    assert cli.main(["sweep", "--hidden-layers", "1,2,3,4,5", "--num-epochs", "5000", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split() for line in lines[2:7]}
    assert lines[1].split()[:3] == ["hidden_layers", "final", "cost"]
    assert [table[h][2] for h in "12345"] == ["67.50%", "67.25%", "90.75%", "90.50%", "91.25%"]
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.csv", "sweep.json", "sweep.png"}


def test_cli_grid_ranges_and_stacks(tmp_path, capsys):
    assert cli.main(["sweep", "--data", "moons", "--learning-rate", "0.1,0.5", "--seeds", "0-3", "--hidden-layers",
                     "3", "--num-epochs", "5", "--init", "he", "-o", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(r["learning_rate"], r["seed"]) for r in report["runs"]] == [(a, s) for a in (0.1, 0.5) for s in range(4)]
    document = json.loads((tmp_path / "sweep.json").read_text())
    assert document["stacks"] == [8] and report["complete"] is True
    data = datasets.moons()                                          # the split is the first seed's, for every run
    X_train, Y_train, *_ = datasets.split(data.X, data.Y, 0.2, 0)
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    train = dataclasses.replace(cr.presets.planar()[1], learning_rate=0.5, num_epochs=5, init="he", seed=2)
    alone = cr.fit(config, X_train, Y_train, train)
    assert document["cost"][6] == alone.history.cost.tolist()


@pytest.mark.parametrize("args, message", [
    (["--learning-rate", "0.1,,0.5"], "--learning-rate/--lr: expected values separated by commas"),
    (["--seeds", "5-2"], "expected a range A-B with A ≤ B; got '5-2'"),
    (["--hidden-layers", "4y"], "expected hidden layers such as 4, 20x7x5"),
    (["--optimizer", "gd,sgd"], "expected one of gd, momentum, rmsprop, adam; got 'sgd'"),
    (["--learning-rate", "0.1,-1"], "setting 2 (learning_rate=-1.0): learning_rate must be a positive number"),
    (["--seeds", "none"], "a sweep's runs are reproducible: give seeds"),
    (["--decay-rate", "0.1,0.2"], "--decay-rate and --time-interval need --decay"),
    (["--jobs", "0"], "jobs must be a positive number of processes"),
])
def test_cli_mistakes_are_one_line(tmp_path, args, message):
    run = subprocess.run([sys.executable, "-m", "chainrule", "sweep", "--num-epochs", "2", "-o", str(tmp_path / "o"),
                          *args], capture_output=True, text=True)
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert message in run.stderr
    assert not (tmp_path / "o").exists()                              # nothing made


# --- the library's mistakes and interruptions -----------------------------------------------------


@pytest.mark.parametrize("settings, kwargs, message", [
    ({"learning_rat": [0.1]}, {}, "cannot sweep 'learning_rat'"),
    ({"seed": []}, {}, "settings holds no setting"),
    ({"seed": 3}, {}, "settings['seed'] must be a list of values to sweep; got 3"),
    ({"seed": [0]}, {"train": cr.TrainConfig(seed=None)}, "setting 1 (seed=0)") ,
    ([{"seed": None}], {}, "setting 1 (seed=None) has no seed"),
    ({"hidden_layers": [(2, 0)]}, {}, "setting 1 (hidden_layers=2x0): layer_dims must be positive integers"),
    ({"seed": [0]}, {"memory": -5}, "memory must be a positive number of bytes; got -5"),
    ({"seed": [0]}, {"jobs": 1.5}, "jobs must be a positive number of processes"),
    ({"seed": [0]}, {"test_data": (np.zeros((3, 4)), np.zeros((1, 4)))}, "X_test"),
])
def test_library_mistakes_say_what_and_where(moons, settings, kwargs, message):
    X, Y = moons
    if message == "setting 1 (seed=0)":                               # a seed swept overrides a base without one
        assert cr.sweep(X, Y, settings, config=CONFIG, **{**kwargs, "train": cr.TrainConfig(seed=None, num_epochs=1)})
        return
    with pytest.raises(ValueError, match=None) as info:
        cr.sweep(X, Y, settings, config=CONFIG, **{"train": cr.TrainConfig(num_epochs=1), **kwargs})
    assert message in str(info.value)


def test_an_interrupt_keeps_the_stacks_finished(moons):
    X, Y = moons
    interrupt = Interrupt()

    def progress(done, total, what):
        interrupt.request("test")                                    # as a signal handler would, after stack 1

    result = cr.sweep(X, Y, {"hidden_layers": [1, 2, 3], "seed": [0, 1]}, config=CONFIG,
                      train=cr.TrainConfig(num_epochs=3), progress=progress, interrupt=interrupt)
    assert not result.complete and result.planned == 6 and len(result.runs) == 2
    for run in result.runs:
        _assert_same_run(run, X, Y)


def test_ctrl_c_writes_the_runs_finished(tmp_path):
    """SIGINT during a sweep: the stack in progress finishes, the files hold the runs done, status 130."""
    out = tmp_path / "o"
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "sweep", "--hidden-layers", ",".join(
        map(str, range(1, 41))), "--num-epochs", "1500", "-o", str(out)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".chainrule.lock").exists() and not list(out.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "runs finished" in stderr and str(out / "sweep.csv") in stderr
    with open(out / "sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert 0 < len(rows) < 40 and all(r["stop_reason"] == "completed" for r in rows)
    assert "Sweep of 40 runs" in stdout
