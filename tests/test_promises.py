"""The command line's promises under adversarial use: every mistake one line and status 2, no lost
work on Ctrl-C or SIGTERM, no half-written or stale file, no two runs in one folder, a bounded
memory, and a resumed run on its own data only.

Each test states the promise it pins; most run ``cli.main`` in this process (signals are sent
to this process from inside a training callback, so the moment is exact), one runs a real
process and sends it SIGTERM.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule.cli as cli
from chainrule._files import FolderLock
from chainrule.checkpoint import load as load_model

BIG = str(2 ** 64 + 7)                 # beyond every 64-bit integer


def _fails(capsys, argv, message):
    """main(argv) ends with status 2 and exactly one line on stderr that contains ``message`` (argparse's
    own mistakes exit through SystemExit, as on the command line)."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("chainrule") and ": error: " in err.split("\n")[0], err
    assert message in err, err
    return err


# --- integers, lists and config values: one line each ---------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["train", "--num-epochs", BIG], "--num-epochs must be a non-negative integer below 2⁶³"),
    (["train", "--epochs", BIG], "--num-epochs must be a non-negative integer below 2⁶³"),
    (["train", "--mini-batch-size", BIG], "below 2⁶³"),
    (["train", "--patience", BIG], "--patience must be a positive integer below 2⁶³"),
    (["train", "--time-interval", BIG, "--decay", "stepped"], "--time-interval must be a positive integer below"),
    (["train", "--seed", BIG], "--seed must be a non-negative integer below 2⁶³"),
    (["train", "--print-every", BIG], "expected an integer below 2⁶³"),
    (["train", "--save-every", BIG], "expected a number of epochs such as 500, or a time"),
    (["train", "--save-every", "0"], "expected a number of epochs such as 500, or a time"),
    (["train", "--save-every", "5 parsecs"], "expected a number of epochs such as 500, or a time"),
    (["gradcheck", "-m", BIG], "expected an integer below 2⁶³"),
    (["explain", "-m", BIG], "expected an integer below 2⁶³"),
    (["compare", "--epochs", BIG], "expected an integer below 2⁶³"),
    (["compare", "--every", BIG], "expected an integer below 2⁶³"),
    (["gradcheck", "--seed", BIG], "expected an integer below 2⁶³"),
    (["train", "--hidden-layers", "4,,2"], "nothing between two commas"),
    (["train", "--hidden-layers", "4,2,"], "nothing between two commas"),
    (["gradcheck", "--layer-dims", "2,,1"], "nothing between two commas"),
    (["train", "--hidden-layers", f"4,{BIG}"], "expected an integer below 2⁶³"),
    (["train", "--hidden-layers", "4,x"], "comma-separated integers"),
    (["predict", "m.npz", "d.csv", "-o", ""], "--out is empty; expected a path"),
    (["train", "--data", ""], "--data is empty; expected a path"),
    (["summary", ""], "MODEL is empty; expected a path"),
    (["compare", "--learning-rate", "1e30", "--num-epochs", "20"], "--learning-rate 1e+30 makes gradient descent "
                                                                     "diverge"),
])
def test_out_of_range_integers_and_malformed_lists_are_one_line(argv, message, capsys, tmp_path):
    _fails(capsys, [*argv, *(["--out", str(tmp_path / "o")] if argv[0] == "train" else [])], message)
    assert not (tmp_path / "o").exists()                       # refused before a folder was made


def test_an_empty_hidden_layers_flag_still_means_no_hidden_layer(tmp_path, capsys):
    assert cli.main(["train", "--hidden-layers", "", "--num-epochs", "2", "-q", "--out", str(tmp_path)]) == 0
    assert load_model(tmp_path / "model.npz").config.layer_dims == (2, 1)


@pytest.mark.parametrize("text, message", [
    ('standardize = "no"\n', "gives standardize = 'no'; expected true or false"),
    ("hidden_layers = 4\n", "gives hidden_layers = 4; expected a list of sizes"),
    ('hidden_layers = "4,,2"\n', "nothing between two commas"),
    ('num_epochs = "5"\n', "num_epochs must be a non-negative integer; got '5'"),
    ("learning_rate = true\n", "learning_rate must be a positive number; got True"),
    (f"num_epochs = {2 ** 63 - 1}\nseed = {2 ** 63}\n", "seed must be a non-negative integer below 2⁶³"),
    ('test_fraction = "0.2"\n', "gives test_fraction = '0.2'; expected a number"),
    ('preset = 3\n', "gives preset = 3; expected a preset's name"),
])
def test_config_values_must_have_their_options_type(text, message, tmp_path, capsys):
    """A string is truthy: standardize = "no" would standardise. Every value is checked against its option."""
    (tmp_path / "run.toml").write_text(text)
    _fails(capsys, ["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "o")], message)


def test_a_json_config_may_not_give_a_key_twice_and_a_missing_data_file_is_named(tmp_path, capsys):
    """json.loads keeps the last of two equal keys silently; TOML refuses them, and so does chainrule."""
    (tmp_path / "run.json").write_text('{"num_epochs": 3, "learning_rate": 0.5, "num_epochs": 5}')
    _fails(capsys, ["train", "--config", str(tmp_path / "run.json"), "--out", str(tmp_path / "o")],
           "the key 'num_epochs' is given twice")
    (tmp_path / "run.toml").write_text('data = "nosuch.csv"\n')
    _fails(capsys, ["train", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "o")],
           "no such CSV file: nosuch.csv")
    assert not (tmp_path / "o").exists()


def test_resume_accepts_the_network_flags_it_already_has_and_refuses_others(tmp_path, capsys):
    out = tmp_path / "o"
    assert cli.main(["train", "--num-epochs", "2", "--hidden-layers", "4", "-q", "--out", str(out)]) == 0
    same = ["--hidden-layers", "4", "--no-standardize", "--hidden-activation", "tanh", "--output", "sigmoid"]
    assert cli.main(["train", "--resume", str(out / "model.npz"), *same, "--num-epochs", "1", "-q"]) == 0
    _fails(capsys, ["train", "--resume", str(out / "model.npz"), "--standardize", "--num-epochs", "1"],
           "--standardize cannot change when resuming")


def test_library_integers_beyond_64_bits_are_refused_by_name():
    import chainrule as cr

    for name in ("num_epochs", "seed", "patience", "mini_batch_size", "time_interval"):
        with pytest.raises(ValueError, match=f"^{name} must be .*below 2⁶³"):
            cr.TrainConfig(**{name: 10 ** 20})


# --- memory --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, what", [
    (["train", "--hidden-layers", "1000000,1000000", "--num-epochs", "1"], "training the network [2, 1000000, "),
    (["gradcheck", "--layer-dims", "2,1000000,1000000,1"], "a random problem for the network [2, 1000000,"),
    (["gradcheck", "-m", str(10 ** 15)], "a random problem for the network [2, 4, 1] with m = 10"),
])
def test_a_network_too_large_for_the_memory_is_refused_with_the_figure(argv, what, tmp_path, capsys):
    """Estimated before allocating: 1e12 weights are 7.3 TiB in float64 alone; no machine here has that."""
    out = ["--out", str(tmp_path / "o")] if argv[0] == "train" else []
    err = _fails(capsys, [*argv, *out], what)
    assert " TiB" in err or " PiB" in err and "available" in err
    assert not (tmp_path / "o").exists()


def test_the_memory_estimate_counts_what_training_holds():
    """A derivation in the test: the [2, 4, 1] network has P = 4·3 + 1·5 = 17 parameters; a run holds
    7 P of them (W, b, dW, db, the optimizer's two averages, its output buffers, the best copy),
    5 b Σ n_l per batch (Z, A, dZ, dA, D) and 2 m Σ n_l for the whole-data figures."""
    from chainrule.resources import check_memory, training_bytes

    assert training_bytes([2, 4, 1], m=400, batch=64) == 8 * (7 * 17 + 5 * 64 * 5 + 2 * 400 * 5)
    assert training_bytes([2, 4, 1], m=400) == training_bytes([2, 4, 1], m=400, batch=400)
    assert training_bytes([2, 4, 1], m=400, batch=10 ** 6, itemsize=4) == 4 * (7 * 17 + 7 * 400 * 5)
    check_memory(2 ** 30, "x", "y", available=2 ** 31)                     # fits: nothing
    with pytest.raises(ValueError, match=r"^x needs about 2 GiB, and this machine has 1 GiB available; y$"):
        check_memory(2 ** 31, "x", "y", available=2 ** 30)


# --- the output folder ---------------------------------------------------------------------------


def test_an_output_folder_in_use_is_refused_before_training(tmp_path, capsys):
    """Two runs writing one folder could leave a model of one and a history of the other."""
    with FolderLock(tmp_path):
        err = _fails(capsys, ["train", "--num-epochs", "5", "--out", str(tmp_path)], "is in use by another")
        assert f"(process {os.getpid()})" in err
    assert list(tmp_path.iterdir()) == []                          # nothing written, and the lock is gone
    assert cli.main(["train", "--num-epochs", "5", "-q", "--out", str(tmp_path)]) == 0     # free again


def test_a_lock_is_released_when_its_process_dies(tmp_path):
    """flock dies with its holder: a run killed with SIGKILL leaves no lock that blocks the next run."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from chainrule._files import FolderLock\n"
                               f"with FolderLock({str(tmp_path)!r}):\n  print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(OSError, match="in use"), FolderLock(tmp_path):
        pass
    holder.kill()
    holder.wait()
    with FolderLock(tmp_path):                                     # the file is still there, its lock is not
        assert (tmp_path / FolderLock.LOCK_NAME).read_text().strip() == str(os.getpid())


@pytest.mark.skipif(sys.platform != "linux", reason="a folder even root cannot write: /proc/1")
def test_an_unwritable_out_fails_before_training_and_names_the_path_given(capsys):
    _fails(capsys, ["train", "--out", "/proc/1"], "--out /proc/1 cannot be written")
    _fails(capsys, ["train", "--out", "/proc/1/new-folder"], "--out /proc/1/new-folder cannot be written")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes read-only folders")
def test_a_read_only_out_fails_before_training(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        _fails(capsys, ["train", "--out", str(folder)], f"--out {folder} cannot be written")
    finally:
        folder.chmod(0o755)


def test_temporary_files_a_killed_run_left_are_removed_and_nothing_else(tmp_path, capsys):
    ours = [tmp_path / ".model.npz.0123456789ab.tmp", tmp_path / ".history.csv.ffffffffffff.tmp"]
    theirs = [tmp_path / ".model.npz.mine.tmp", tmp_path / ".notes.txt.0123456789ab.tmp", tmp_path / "notes.txt"]
    for path in ours + theirs:
        path.write_bytes(b"half")
    assert cli.main(["train", "--num-epochs", "3", "-q", "--out", str(tmp_path)]) == 0
    assert not any(p.exists() for p in ours) and all(p.read_bytes() == b"half" for p in theirs)


def test_an_output_file_name_taken_by_a_folder_is_refused_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "history.csv").mkdir()
    monkeypatch.setattr(cli, "fit", lambda *a, **k: pytest.fail("trained"))
    _fails(capsys, ["train", "--num-epochs", "3", "--out", str(tmp_path)], "holds a folder named history.csv")


def test_an_os_error_without_a_file_name_is_one_line_without_none(capsys, monkeypatch):
    def full(args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli, "_train", full)
    err = _fails(capsys, ["train"], "No space left on device")
    assert "None" not in err


def test_a_lock_that_cannot_be_written_leaves_no_lock_file_and_no_folder(tmp_path, capsys, monkeypatch):
    import chainrule._files as files

    def full(fd, size):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "ftruncate", full)
    _fails(capsys, ["train", "--num-epochs", "2", "--out", str(tmp_path / "new")], "No space left on device")
    assert not (tmp_path / "new").exists()
    with pytest.raises(OSError):
        FolderLock(tmp_path).__enter__()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_leaves_no_empty_folder_and_no_file(tmp_path, capsys):
    out = tmp_path / "new" / "out"
    _fails(capsys, ["train", "--learning-rate", "1000", "--num-epochs", "50", "--out", str(out)], "diverged")
    assert not out.exists()
    kept = tmp_path / "kept"                                       # a folder the user made stays
    kept.mkdir()
    _fails(capsys, ["train", "--learning-rate", "1000", "--num-epochs", "50", "--out", str(kept)], "diverged")
    assert kept.is_dir() and list(kept.iterdir()) == []


def test_a_picture_that_cannot_be_drawn_does_not_leave_the_last_runs(tmp_path, capsys, monkeypatch):
    """A model beside a picture of another run would be a silent wrong answer."""
    assert cli.main(["train", "--num-epochs", "3", "-q", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "training.png").exists()
    import chainrule.plot

    def broken(*args, **kwargs):
        raise ValueError("no picture today")

    monkeypatch.setattr(chainrule.plot, "training_figure", broken)
    assert cli.main(["train", "--num-epochs", "4", "--out", str(tmp_path)]) == 0
    assert "(no picture: no picture today)" in capsys.readouterr().out
    assert not (tmp_path / "training.png").exists() and len(load_model(tmp_path / "model.npz").history) == 4


# --- signals -------------------------------------------------------------------------------------


def _signal_at(monkeypatch, epochs_signals):
    """Make cli.fit send this process the signals {epoch: [signum, …]} after those epochs."""
    real_fit = cli.fit

    def fit(*args, callbacks=(), **kwargs):
        def send(record, state):
            for signum in epochs_signals.get(record.epoch, ()):
                os.kill(os.getpid(), signum)
        return real_fit(*args, callbacks=[*callbacks, send], **kwargs)

    monkeypatch.setattr(cli, "fit", fit)


@pytest.mark.parametrize("signum, status, said", [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                  (signal.SIGHUP, 129, "stopped by SIGHUP")])
def test_a_signal_stops_at_the_end_of_the_epoch_saves_and_resumes_exactly(signum, status, said, tmp_path,
                                                                           capsys, monkeypatch):
    """The signal comes during epoch 7 (after epoch 6's callbacks); the run stops after epoch 7,
    saves everything, says where, and resuming for the 12 epochs left gives the 20-epoch run."""
    args = ["train", "--data", "moons", "--optimizer", "adam", "--learning-rate", "0.01", "--mini-batch-size", "32",
            "--keep-prob", "0.8", "--num-epochs", "20", "-q"]
    _signal_at(monkeypatch, {6: [signum]})
    assert cli.main([*args, "--out", str(tmp_path / "cut")]) == status
    path = tmp_path / "cut" / "model.npz"
    assert capsys.readouterr().err == (f"chainrule: {said}; {path} holds the run after epoch 7; chainrule train "
                                       f"--resume {path} --num-epochs 12 finishes the run\n")
    cut = load_model(path)
    assert cut.state.epoch == 8 and cut.history.stop_reason == "interrupted"
    assert (tmp_path / "cut" / "history.csv").read_text().count("\n") == 9
    monkeypatch.undo()
    assert cli.main(["train", "--resume", str(path), "--num-epochs", "12", "-q"]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "whole")]) == 0
    resumed, whole = load_model(path), load_model(tmp_path / "whole" / "model.npz")
    for p, q in zip(resumed.params, whole.params):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_array_equal(p.b, q.b)
    np.testing.assert_array_equal(resumed.history.cost, whole.history.cost)


def test_a_second_signal_stops_at_once_and_says_what_is_kept(tmp_path, capsys, monkeypatch):
    _signal_at(monkeypatch, {5: [signal.SIGINT, signal.SIGINT]})
    assert cli.main(["train", "--num-epochs", "20", "--save-every", "4", "-q", "--out", str(tmp_path)]) == 130
    path = tmp_path / "model.npz"
    assert capsys.readouterr().err == (f"chainrule: interrupted; {path} holds the checkpoint after epoch 3; "
                                       f"chainrule train --resume {path} --num-epochs 16 finishes the run\n")
    assert load_model(path).history.stop_reason == "in progress"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_a_signal_while_the_files_are_written_waits_for_them(tmp_path, capsys, monkeypatch):
    """SIGTERM in the middle of writing the model: the model is written whole, no temporary file is
    left, the other files are written too, and then the command ends with status 143."""
    real_save = cli.save

    def save(path, model):
        os.kill(os.getpid(), signal.SIGTERM)
        return real_save(path, model)

    monkeypatch.setattr(cli, "save", save)
    assert cli.main(["train", "--num-epochs", "5", "-q", "--out", str(tmp_path)]) == 143
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "model.npz", "training.png"]
    assert len(load_model(tmp_path / "model.npz").history) == 5


def test_save_every_a_time_saves_when_that_much_time_has_passed():
    """Checkpoint(seconds=…) on a made-up clock: saved after the first epoch that ends 10 s or more
    after the last save, whatever the epoch count."""
    from chainrule.callbacks import Checkpoint
    from chainrule.history import EpochRecord

    now, saved = [0.0], []
    checkpoint = Checkpoint(lambda state, history: saved.append(len(history)), None, seconds=10,
                            clock=lambda: now[0])
    checkpoint.start(None)
    for epoch, t in enumerate([3, 6, 9.9, 10, 12, 19.9, 20.5, 21]):
        now[0] = t
        checkpoint(EpochRecord(epoch, 1.0, 1.0, 0.0, np.nan, 0.1, np.nan, np.nan), None)
    assert saved == [4, 7]                                        # after epochs 3 (t = 10) and 6 (t = 20.5)


def test_save_every_parses_epochs_and_times():
    assert cli._every("500") == (500, None)
    assert cli._every("90s") == (None, 90.0) and cli._every("10min") == (None, 600.0)
    assert cli._every("2h") == (None, 7200.0) and cli._every("1.5m") == (None, 90.0)


def test_sigterm_to_a_real_process_saves_a_resumable_model(tmp_path):
    """The whole path, as a user's `kill` sends it: exit status 143, one line, a complete model file."""
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "train", "--num-epochs", "100000000",
                                "--print-every", "1", "--out", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not process.stdout.readline().startswith("Cost after epoch 3"):
        pass
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.count("\n") == 1 and err.startswith("chainrule: stopped by SIGTERM; ") and "Traceback" not in err
    model = load_model(tmp_path / "model.npz")
    assert model.history.stop_reason == "interrupted" and model.state.epoch == len(model.history) >= 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "model.npz", "training.png"]


# --- resuming on the run's own data ------------------------------------------------------------


def _csv(path: Path, X, y):
    path.write_text("a,b,y\n" + "".join(f"{float(p)!r},{float(q)!r},{int(c)}\n" for p, q, c in zip(*X, y)))


def test_resume_refuses_changed_data_and_accepts_moved_data(tmp_path, capsys):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 60))
    y = (X[0] * X[1] > 0).astype(int)
    _csv(tmp_path / "data.csv", X, y)
    base = ["train", "--data", str(tmp_path / "data.csv"), "--label", "y", "-q"]
    assert cli.main([*base, "--num-epochs", "5", "--out", str(tmp_path / "cut")]) == 0
    model = tmp_path / "cut" / "model.npz"
    assert cli.main(["train", "--resume", str(model), "--num-epochs", "0", "-q"]) == 0
    capsys.readouterr()
    y[3] = 1 - y[3]                                                 # one label changes
    _csv(tmp_path / "data.csv", X, y)
    _fails(capsys, ["train", "--resume", str(model), "--num-epochs", "5"],
           f"{tmp_path / 'data.csv'} is not the data {model} was trained on")
    y[3] = 1 - y[3]
    _csv(tmp_path / "moved.csv", X, y)                              # the original contents, elsewhere
    (tmp_path / "data.csv").unlink()
    _fails(capsys, ["train", "--resume", str(model), "--num-epochs", "5"],
           f"{model} was trained on {tmp_path / 'data.csv'}, which is not there any more; give --data")
    assert cli.main(["train", "--resume", str(model), "--data", str(tmp_path / "moved.csv"), "--num-epochs", "5",
                     "-q"]) == 0
    assert load_model(model).prep.data == str(tmp_path / "moved.csv") and len(load_model(model).history) == 10
    assert cli.main([*base[:2], str(tmp_path / "moved.csv"), *base[3:], "--num-epochs", "10",
                     "--out", str(tmp_path / "whole")]) == 0
    whole = load_model(tmp_path / "whole" / "model.npz")
    np.testing.assert_array_equal(load_model(model).params[0].W, whole.params[0].W)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m._replace(state=m.state._replace(epoch=m.state.epoch + 1)), "its state is after 5 epochs but its "
                                                                             "history records 4"),
    (lambda m: m._replace(state=m.state._replace(opt_state=m.state.opt_state._replace(t=3))), "its optimizer took 3 "
                                                                                            "steps, but 4 epochs of"),
])
def test_a_model_file_whose_state_its_run_cannot_have_reached_is_not_resumed(edit, message, tmp_path, capsys):
    """Mini-batches of 64 of the 400 flower examples: ⌈400 / 64⌉ = 7 Adam steps an epoch, 28 after 4."""
    from chainrule.checkpoint import save
    out = tmp_path / "o"
    assert cli.main(["train", "--num-epochs", "4", "--optimizer", "adam", "--mini-batch-size", "64",
                     "--learning-rate", "0.01", "-q", "--out", str(out)]) == 0
    model = load_model(out / "model.npz")
    assert model.state.opt_state.t == 4 * 7
    save(tmp_path / "edited.npz", edit(model))
    _fails(capsys, ["train", "--resume", str(tmp_path / "edited.npz"), "--num-epochs", "2", "--out",
                    str(tmp_path / "o2")], message)
    assert cli.main(["train", "--resume", str(out / "model.npz"), "--num-epochs", "2", "-q"]) == 0


def test_resume_without_num_epochs_says_how_far_it_will_go(tmp_path, capsys):
    assert cli.main(["train", "--num-epochs", "30", "-q", "--out", str(tmp_path)]) == 0
    assert cli.main(["train", "--resume", str(tmp_path / "model.npz"), "--print-every", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Resuming after epoch 29: 30 more epochs, to epoch 59 (--num-epochs says how many)" in lines
    assert len(load_model(tmp_path / "model.npz").history) == 60


# --- extreme values ------------------------------------------------------------------------------


def test_values_near_the_float64_limit_are_named_in_one_line_or_trained_quietly(tmp_path, capsys):
    """±1e308 and subnormals: without standardisation the column is named and --standardize suggested,
    before anything is written; standardised, the run trains without a warning, and says why it draws
    no picture (no axes span 2e308)."""
    data = tmp_path / "big.csv"
    data.write_text("a,b,y\n1e308,1,0\n-1e308,2,1\n3,1e-320,0\n4,2,1\n5,5e-324,0\n6,1,1\n")
    out = tmp_path / "o"
    err = _fails(capsys, ["train", "--data", str(data), "--label", "y", "--no-standardize", "--out", str(out)],
                 "feature 'a' has values up to 1e+308")
    assert "--standardize" in err and not out.exists()
    assert cli.main(["train", "--data", str(data), "--label", "y", "--num-epochs", "5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "(no picture: the features span more than a float64 holds" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "model.npz"]


def test_regression_labels_too_large_to_square_are_named_in_one_line(tmp_path, capsys):
    """(1/2m) Σ (A − Y)² of m = 6 labels near 1e200 overflows: its bound √(max / m) is derived here."""
    m, bound = 6, np.sqrt(np.finfo(np.float64).max / 6)
    data = tmp_path / "big.csv"
    data.write_text("a,y\n" + "".join(f"{i},{2.0 * bound * (i + 1) / m}\n" for i in range(m)))
    out = tmp_path / "o"
    _fails(capsys, ["train", "--data", str(data), "--label", "y", "--output", "identity", "--test-fraction", "0",
                    "--out", str(out)], "the label column 'y' has values up to")
    assert not out.exists()
    data.write_text("a,y\n" + "".join(f"{i},{0.5 * bound * (i + 1) / m}\n" for i in range(m)))   # under it
    cli.main(["train", "--data", str(data), "--label", "y", "--output", "identity", "--test-fraction", "0",
              "--num-epochs", "1", "-q", "--out", str(out)])
    assert "the label column" not in capsys.readouterr().err


def test_a_cost_that_is_not_finite_from_the_first_epoch_points_at_the_start_too(tmp_path, capsys):
    _fails(capsys, ["train", "--scale", "1e308", "--num-epochs", "3", "--out", str(tmp_path / "o")],
           "scale 1e+308 makes W[1] overflow float64")
    _fails(capsys, ["train", "--scale", "1e307", "--num-epochs", "3", "--out", str(tmp_path / "o")],
           "if that does not help, the initial parameters (their scale) or the data are too large")
    _fails(capsys, ["train", "--learning-rate", "1000", "--num-epochs", "50", "--out", str(tmp_path / "o")],
           "try a smaller learning rate. ")


# --- CSV files at the command line ---------------------------------------------------------------


def _prices(path: Path, m=200, seed=3):
    """A whole-number target with many values: y = 3 a + 2 b + 100 rounded."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 30, m), rng.uniform(0, 30, m)
    y = np.round(3 * a + 2 * b + 100).astype(int)
    path.write_text("a,b,price\n" + "".join(f"{p!r},{q!r},{t}\n" for p, q, t in zip(a.tolist(), b.tolist(), y)))
    return y


def test_whole_number_targets_regress_when_asked_and_are_never_a_silent_softmax(tmp_path, capsys):
    data = tmp_path / "prices.csv"
    y = _prices(data)
    distinct = len(set(y.tolist()))
    assert distinct > 20
    err = _fails(capsys, ["train", "--data", str(data), "--label", "price", "--out", str(tmp_path / "o")],
                 f"the label column 'price' holds {distinct} distinct whole numbers")
    assert "--output identity" in err and "--output softmax" in err and not (tmp_path / "o").exists()
    assert cli.main(["train", "--data", str(data), "--label", "price", "--output", "identity", "--hidden-layers", "",
                     "--learning-rate", "0.1", "--num-epochs", "300", "-q", "--out", str(tmp_path / "o")]) == 0
    model = load_model(tmp_path / "o" / "model.npz")
    assert model.config.output == "identity" and model.config.layer_dims == (2, 1) and model.classes == ()
    assert model.figures["train_cost"] < 1.0                       # a plane fits the rounded plane to ±0.5


def test_duplicate_columns_are_refused_at_train_and_at_predict(tmp_path, capsys):
    """Two columns named a: predict would read the first twice and be silently wrong."""
    good, twice = tmp_path / "good.csv", tmp_path / "twice.csv"
    good.write_text("a,b,y\n" + "".join(f"{i},{(i * 7) % 5},{i % 2}\n" for i in range(20)))
    twice.write_text("a,a,y\n" + "".join(f"{i},{(i * 7) % 5},{i % 2}\n" for i in range(20)))
    _fails(capsys, ["train", "--data", str(twice), "--label", "y", "--out", str(tmp_path / "o")],
           "has the column 'a' 2 times")
    assert cli.main(["train", "--data", str(good), "--label", "y", "--num-epochs", "3", "-q",
                     "--out", str(tmp_path / "o")]) == 0
    (tmp_path / "new.csv").write_text("b,a,a\n1,2,3\n")
    _fails(capsys, ["predict", str(tmp_path / "o" / "model.npz"), str(tmp_path / "new.csv")],
           "has the column 'a' 2 times")


def test_predict_never_writes_over_its_own_model_or_data(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{(i * 7) % 5},{i % 2}\n" for i in range(20)))
    out = tmp_path / "o"
    assert cli.main(["train", "--data", str(data), "--label", "y", "--num-epochs", "3", "-q", "--out", str(out)]) == 0
    model, before = out / "model.npz", (out / "model.npz").read_bytes()
    _fails(capsys, ["predict", str(model), str(data), "-o", str(model)], "is the model this command reads")
    _fails(capsys, ["predict", str(model), str(data), "-o", str(tmp_path / "." / "d.csv")],
           "is the data this command reads")
    assert model.read_bytes() == before and data.read_text().startswith("a,b,y")


def test_semicolons_are_read_and_latin_1_is_named(tmp_path, capsys):
    rows = "".join(f"{i};{(i * 7) % 5};{i % 2}\n" for i in range(20))
    (tmp_path / "excel.csv").write_text("a;b;y\n" + rows)
    assert cli.main(["train", "--data", str(tmp_path / "excel.csv"), "--label", "y", "--num-epochs", "2", "-q",
                     "--out", str(tmp_path / "o")]) == 0
    assert load_model(tmp_path / "o" / "model.npz").feature_names == ("a", "b")
    (tmp_path / "latin.csv").write_bytes("a,b,caf\xe9\n1,2,0\n3,4,1\n".encode("latin-1"))
    _fails(capsys, ["train", "--data", str(tmp_path / "latin.csv"), "--label", "y", "--out", str(tmp_path / "p")],
           "is not UTF-8 text (byte 0xe9 at line 1); save it as UTF-8")


def test_a_long_read_shows_its_progress_and_a_short_one_does_not(capsys):
    quick = cli._ReadingProgress("quick.csv")
    quick(50, 100)
    slow = cli._ReadingProgress("slow.csv", after=0.0)
    for done in range(0, 101, 10):
        slow(done, 100 * 2 ** 20)
    slow(100 * 2 ** 20, 100 * 2 ** 20)
    err = capsys.readouterr().err
    assert "quick.csv" not in err
    assert err.splitlines() == []                                 # 0 … 100 bytes of 100 MiB: under a quarter
    slow = cli._ReadingProgress("slow.csv", after=0.0)
    for quarter in range(5):
        slow(quarter * 25 * 2 ** 20, 100 * 2 ** 20)
    assert capsys.readouterr().err.splitlines() == [f"Reading slow.csv: {p} % of 100 MiB" for p in (25, 50, 75)]
