"""Data-parallel training: the global 1/m over shards equals one process; the naive average does not.

The in-process tests run K ranks as threads (``distributed.ThreadComm``) and need nothing but
NumPy; the others launch real ranks with ``mpiexec`` (mpi4py and an MPI: ``pip install
'chainrule[mpi]'``), several checks per launch (``tests/mpi/ranks.py``), since MPI takes a
second or two to start.

Tolerances. Sharded sums add the same numbers in another order (each shard's partial sums,
then the ranks'), so results agree to rounding, not to the bit: a few ulps per step, which
full-batch gradient descent at α = 0.1 keeps below 1e-12 relative over 2 000 epochs. Adam
divides by √ŝ + ε, which for parameters whose gradient is near zero turns an ulp of the
gradient into a larger relative change of the step, so the mini-batch checks allow 1e-10.
A local m instead of the global one, or a dropped shard, is wrong by tens of percent.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributed
from chainrule.checkpoint import load
from chainrule.cli import main
from chainrule.compare import naive_gradients
from chainrule.model import gradients

ROOT = Path(__file__).resolve().parents[1]
RANKS = ROOT / "tests" / "mpi" / "ranks.py"


def _mpiexec() -> str | None:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpi4py and an mpiexec: pip install 'chainrule[mpi]' (mpi4py and MPICH's wheel)")


def _planar():
    data = cr.datasets.planar_flower()
    return data.X, data.Y


def _relative(a, b) -> float:
    return max(float(np.max(np.abs(p - q)) / np.max(np.abs(q))) for P, Q in zip(a, b) for p, q in zip(P, Q))


def _sharded_fit(config, X, Y, train, sizes, **kwargs):
    shards = list(zip(distributed.split(X, sizes), distributed.split(Y, sizes)))
    return distributed.run_ranks(len(sizes), lambda comm: cr.fit(config, *shards[comm.Get_rank()], train,
                                                                  comm=comm, **kwargs))


# --- the naive average is wrong; the global 1/m is the gradient ---------------------------------------


def test_the_average_of_local_means_is_not_the_gradient_for_uneven_shards():
    """Shards 1:4:9:16 of the planar data: the mean of the shards' means differs from ∂J/∂W by
    more than 10 % (computed here from each shard's own gradient), the sum of the shards' shares
    with the global m by rounding only."""
    X, Y = _planar()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.default_rng(0), "he")
    sizes = [13, 53, 120, 214]                                          # ≈ 1 : 4 : 9 : 16, Σ = 400
    true = gradients(params, X, Y, config).grads
    shards = list(zip(distributed.split(X, sizes), distributed.split(Y, sizes)))
    own_means = [gradients(params, X_k, Y_k, config).grads for X_k, Y_k in shards]       # 1/m_k each
    naive = [sum(g[l].dW for g in own_means) / len(sizes) for l in range(config.L)]
    global_m = [sum(gradients(params, X_k, Y_k, config, m=X.shape[1]).grads[l].dW for X_k, Y_k in shards)
                for l in range(config.L)]
    for l in range(config.L):
        scale = np.linalg.norm(true[l].dW)
        assert np.linalg.norm(naive[l] - true[l].dW) / scale > 0.10
        assert np.linalg.norm(global_m[l] - true[l].dW) / scale < 1e-14
    assert _relative([(g,) for g in naive], [(g.dW,) for g in naive_gradients(params, shards, config)]) < 1e-15


def test_equal_shards_make_the_naive_average_right():
    """The average of means is the gradient when every m_k = m/K: the test above is about unequal shards."""
    X, Y = _planar()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.default_rng(0), "he")
    shards = list(zip(distributed.split(X, [100] * 4), distributed.split(Y, [100] * 4)))
    true = gradients(params, X, Y, config).grads
    assert _relative([(g.dW,) for g in naive_gradients(params, shards, config)], [(g.dW,) for g in true]) < 1e-12


def test_compare_shards_reports_the_gap(capsys):
    assert main(["compare", "--shards", "80,320", "--num-epochs", "300"]) == 0
    out = capsys.readouterr().out
    exact, naive = re.search(r"global 1/m (.*) %, naive average (.*) %\.", out).groups()
    assert max(float(x) for x in exact.split(" % to ")) < 1e-10
    assert min(float(x) for x in naive.split(" % to ")) > 10
    assert "another function than J" in out
    last = [line.split() for line in out.splitlines() if line.strip().startswith("300")][0]
    assert float(last[3]) < 1e-12 and float(last[5]) > 0.1                 # ΔW: global 1/m, naive


def test_compare_shards_must_cover_the_data(capsys):
    assert main(["compare", "--shards", "80,300"]) != 0
    assert "--shards must add up to the 400 examples" in capsys.readouterr().err


# --- fit(comm=…) with ranks as threads: anywhere --------------------------------------------------


@pytest.mark.parametrize("sizes", [[400], [100, 300], [1, 150, 249]])
def test_sharded_full_batch_equals_one_process(sizes):
    X, Y = _planar()
    config, train = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid"), cr.TrainConfig(learning_rate=0.1, num_epochs=500)
    one = cr.fit(config, X, Y, train)
    results = _sharded_fit(config, X, Y, train, sizes)
    for r in results:
        assert _relative(r.params, one.params) < 1e-12
        np.testing.assert_allclose(r.history.cost, one.history.cost, rtol=1e-13)
        np.testing.assert_array_equal(r.history.accuracy, one.history.accuracy)


def test_sharded_mini_batches_adam_dropout_l2_equal_one_process():
    """The global schedule split by ranks, the dropout masks drawn whole and cut by columns, L2
    with the global n: a rank with 1 example (absent from most batches) changes nothing."""
    X, Y = _planar()
    config = cr.ModelConfig([2, 5, 4, 1], "relu", "sigmoid")
    train = cr.TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=30, mini_batch_size=32, keep_prob=0.8,
                           lambd=0.7, seed=3)
    one = cr.fit(config, X, Y, train)
    for r in _sharded_fit(config, X, Y, train, [1, 150, 249]):
        assert _relative(r.params, one.params) < 1e-10
        np.testing.assert_allclose(r.history.cost, one.history.cost, rtol=1e-12)


def test_ranks_holding_any_examples_equal_one_process():
    """examples= lets a rank hold any of the global examples (here: every third one, and the
    rest in two random halves): the global schedule, masks and sums are those of one process."""
    X, Y = _planar()
    config = cr.ModelConfig([2, 5, 1], "tanh", "sigmoid")
    train = cr.TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=20, mini_batch_size=50, keep_prob=0.9,
                           lambd=0.3, seed=8)
    one = cr.fit(config, X, Y, train)
    rest = np.setdiff1d(np.arange(400), np.arange(0, 400, 3))
    chosen = np.random.default_rng(1).permutation(rest)
    held = [np.arange(0, 400, 3), np.sort(chosen[:100]), np.sort(chosen[100:])]
    results = distributed.run_ranks(3, lambda comm: cr.fit(config, X[:, held[comm.Get_rank()]],
                                                           Y[:, held[comm.Get_rank()]], train, comm=comm,
                                                           examples=held[comm.Get_rank()]))
    for r in results:
        assert _relative(r.params, one.params) < 1e-10
        np.testing.assert_allclose(r.history.cost, one.history.cost, rtol=1e-12)


@pytest.mark.parametrize("held, message", [
    ([np.arange(0, 200), np.arange(199, 399)], "index 199 is held by 2"),          # one index twice, 399 by none
    ([np.arange(0, 200), np.arange(200, 400) + 1], "index 200 is held by 0"),      # 400 is beyond n
    ([np.arange(0, 200), None], "given on every rank"),
    ([np.arange(0, 200)[::-1], np.arange(200, 400)], "increasing"),
])
def test_examples_that_do_not_cover_the_data_once_are_refused_on_every_rank(held, message):
    X, Y = _planar()
    errors = {}

    def work(comm):
        k = comm.Get_rank()
        try:
            cr.fit(cr.ModelConfig([2, 3, 1]), X[:, 200 * k:200 * k + 200], Y[:, 200 * k:200 * k + 200], num_epochs=1,
                   comm=comm, examples=held[k])
        except ValueError as exc:
            errors[k] = str(exc)

    distributed.run_ranks(2, work)
    assert len(errors) == 2 and errors[0] == errors[1] and message in errors[0], errors


def test_examples_without_comm_are_refused():
    X, Y = _planar()
    with pytest.raises(ValueError, match="goes with comm"):
        cr.fit(cr.ModelConfig([2, 3, 1]), X, Y, num_epochs=1, examples=np.arange(400))


def test_every_rank_stops_alike_on_global_validation():
    X, Y = _planar()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    train = cr.TrainConfig(optimizer="momentum", learning_rate=0.5, num_epochs=200, mini_batch_size=64, patience=3,
                           seed=4)
    one = cr.fit(config, X[:, :300], Y[:, :300], train, validation_data=(X[:, 300:], Y[:, 300:]))
    val = list(zip(distributed.split(X[:, 300:], [10, 90]), distributed.split(Y[:, 300:], [10, 90])))
    shards = list(zip(distributed.split(X[:, :300], [250, 50]), distributed.split(Y[:, :300], [250, 50])))
    results = distributed.run_ranks(2, lambda comm: cr.fit(config, *shards[comm.Get_rank()], train, comm=comm,
                                                           validation_data=val[comm.Get_rank()]))
    assert one.history.stop_reason == "early stopping" and len(one.history) < 200
    for r in results:
        assert len(r.history) == len(one.history) and r.history.best_epoch == one.history.best_epoch
        np.testing.assert_allclose(r.history.val_cost, one.history.val_cost, rtol=1e-13)
        np.testing.assert_array_equal(r.history.val_accuracy, one.history.val_accuracy)


def test_an_empty_or_different_shard_is_refused_on_every_rank():
    X, Y = _planar()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    with pytest.raises(ValueError, match=r"^rank 1: its shard of X holds no examples; every rank needs at least one$"):
        _sharded_fit(config, X, Y, cr.TrainConfig(num_epochs=1), [400, 0])
    bad = [(X[:, :200], Y[:, :200]), (np.vstack([X[:, 200:], X[:1, 200:]]), Y[:, 200:])]
    errors = []

    def work(comm):
        try:
            cr.fit(config, *bad[comm.Get_rank()], num_epochs=1, comm=comm)
        except ValueError as exc:
            errors.append(str(exc))

    distributed.run_ranks(2, work)
    assert len(errors) == 2 and errors[0] == errors[1] and errors[0].startswith("rank 1: X must")


def test_a_rank_that_fails_stops_every_rank():
    X, Y = _planar()
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    shards = list(zip(distributed.split(X, [200, 200]), distributed.split(Y, [200, 200])))
    errors = {}

    def boom(record, state):
        raise AssertionError("unreachable")

    def work(comm):
        X_k = shards[comm.Get_rank()][0].copy()
        if comm.Get_rank() == 1:
            X_k = X_k.astype(np.float32)                       # refused: another dtype than rank 0's
        try:
            cr.fit(config, X_k, shards[comm.Get_rank()][1], num_epochs=3, comm=comm, callbacks=[boom])
        except ValueError as exc:
            errors[comm.Get_rank()] = str(exc)

    distributed.run_ranks(2, work)
    assert errors[0] == errors[1] and "differ in dtype" in errors[0]


def test_a_callback_that_raises_on_one_rank_stops_every_rank():
    """The callbacks' outcome travels after every epoch: rank 1's error is its own, rank 0 names it."""
    X, Y = _planar()
    shards = list(zip(distributed.split(X, [100, 300]), distributed.split(Y, [100, 300])))
    errors = {}

    def work(comm):
        def flaky(record, state):
            if comm.Get_rank() == 1 and record.epoch == 3:
                raise KeyError("no such column")

        try:
            cr.fit(cr.ModelConfig([2, 3, 1]), *shards[comm.Get_rank()], num_epochs=10, comm=comm, callbacks=[flaky])
        except Exception as exc:
            errors[comm.Get_rank()] = exc

    distributed.run_ranks(2, work)
    assert isinstance(errors[1], KeyError)
    assert isinstance(errors[0], distributed.RankFailed)
    assert str(errors[0]) == "rank 1 failed after epoch 3 (KeyError: 'no such column'); every rank stops"


def test_a_callback_that_stops_one_rank_stops_every_rank_at_that_epoch():
    X, Y = _planar()
    shards = list(zip(distributed.split(X, [100, 300]), distributed.split(Y, [100, 300])))
    results = distributed.run_ranks(2, lambda comm: cr.fit(
        cr.ModelConfig([2, 3, 1]), *shards[comm.Get_rank()], num_epochs=10, comm=comm,
        callbacks=[lambda record, state: comm.Get_rank() == 0 and record.epoch == 4]))
    assert [len(r.history) for r in results] == [5, 5]
    assert [r.history.stop_reason for r in results] == ["callback", "callback"]


def test_every_rank_records_the_stop_reason_of_the_rank_that_stopped():
    """An early stopping on rank 1 only (a callback with a reason of its own): both ranks say so."""
    X, Y = _planar()
    shards = list(zip(distributed.split(X, [100, 300]), distributed.split(Y, [100, 300])))

    class Patience:
        stop_reason = "early stopping"

        def __init__(self, rank):
            self.rank = rank

        def __call__(self, record, state):
            return self.rank == 1 and record.epoch == 2

    results = distributed.run_ranks(2, lambda comm: cr.fit(
        cr.ModelConfig([2, 3, 1]), *shards[comm.Get_rank()], num_epochs=10, comm=comm,
        callbacks=[Patience(comm.Get_rank())]))
    assert [(len(r.history), r.history.stop_reason) for r in results] == [(3, "early stopping")] * 2


def test_ranks_that_stop_at_once_for_different_reasons_all_record_the_lowest_ranks():
    """Rank 0 is interrupted and rank 1 stops early in the same epoch: one history, rank 0's reason."""
    X, Y = _planar()
    shards = list(zip(distributed.split(X, [100, 300]), distributed.split(Y, [100, 300])))

    class Stop:
        def __init__(self, reason):
            self.stop_reason = reason

        def __call__(self, record, state):
            return record.epoch == 2

    reasons = ["interrupted", "early stopping"]
    results = distributed.run_ranks(2, lambda comm: cr.fit(
        cr.ModelConfig([2, 3, 1]), *shards[comm.Get_rank()], num_epochs=10, comm=comm,
        callbacks=[Stop(reasons[comm.Get_rank()])]))
    assert [(len(r.history), r.history.stop_reason) for r in results] == [(3, "interrupted")] * 2
    np.testing.assert_array_equal(results[0].params[0].W, results[1].params[0].W)


def test_one_process_imports_no_mpi():
    code = ("import sys, chainrule as cr; d = cr.datasets.planar_flower(); "
            "cr.fit(cr.ModelConfig([2, 3, 1]), d.X, d.Y, num_epochs=2); "
            "from chainrule import distributed; assert distributed.world() is None; print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"


# --- real ranks under mpiexec ----------------------------------------------------------------------


def _launch(tmp_path, ranks: int, how: str) -> list[dict]:
    out = tmp_path / "report"
    done = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(RANKS), str(out), how],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(Path(f"{out}.{k}").read_text()) for k in range(ranks)]


@needs_mpi
@pytest.mark.parametrize("ranks, sizes", [(1, "400"), (2, "100,300"), (3, "3,130,267")])
def test_mpiexec_ranks_equal_one_process(tmp_path, ranks, sizes):
    """2 000 full-batch epochs at α = 0.1 to 1e-12; 50 epochs of Adam with mini-batches, dropout
    and L2 to 1e-10; early stopping on sharded validation data at the same epoch."""
    reports = _launch(tmp_path, ranks, sizes)
    first = reports[0]
    assert first["full_batch_gd"]["params"] < 1e-12 and first["full_batch_gd"]["cost"] < 1e-12
    assert first["adam_dropout_l2"]["params"] < 1e-10 and first["adam_dropout_l2"]["cost"] < 1e-10
    assert first["early_stopping"]["epochs"] == first["early_stopping"]["epochs_one"]
    assert first["early_stopping"]["params"] < 1e-12
    for check in ("full_batch_gd", "adam_dropout_l2", "early_stopping"):
        assert first[check]["accuracy"] == 0.0
        assert all(r[check]["same_on_every_rank"] and r[check]["epochs"] == first[check]["epochs"] for r in reports)


@needs_mpi
def test_mpiexec_a_rank_that_raises_stops_every_rank(tmp_path):
    reports = _launch(tmp_path, 2, "fail")
    assert reports[1]["error"] == "RuntimeError: rank 1 failed on purpose in its 5th step"
    assert reports[0]["error"].startswith("RankFailed: 1 other rank(s) failed during training")


@needs_mpi
def test_mpiexec_train_writes_once_what_one_process_writes(tmp_path):
    """chainrule train under mpiexec -n 2: rank 0 writes the model of a one-process run (to rounding)."""
    args = ["train", "--num-epochs", "300", "--quiet"]
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "chainrule", *args, "--out", str(tmp_path / "two")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    two, one = load(tmp_path / "two" / "model.npz"), load(tmp_path / "one" / "model.npz")
    assert _relative(two.params, one.params) < 1e-12
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


@needs_mpi
@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_mpiexec_train_reads_a_share_of_the_file_on_each_rank_and_trains_as_one_process(tmp_path, suffix):
    """Each of 3 ranks reads its rows; the split, the standardisation and the mini-batches are one
    process's, so rank 0 writes the model of a one-process run (to rounding)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((600, 3)) * [1.0, 50.0, 0.01] + [0.0, 20.0, 3.0]
    y = (X[:, 0] + X[:, 1] / 50 - 100 * (X[:, 2] - 3) > 0).astype(int)
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        path.write_text("a,b,c,label\n" + "".join(f"{a!r},{b!r},{c!r},{'yes' if k else 'no'}\n"
                                                  for (a, b, c), k in zip(X.tolist(), y)))
        label = "label"
    else:
        np.save(path, np.column_stack([X, y]))
        label = "-1"
    args = ["train", "--data", str(path), "--label", label, "--hidden-layers", "4", "--num-epochs", "40",
            "--optimizer", "adam", "--learning-rate", "0.01", "--mini-batch-size", "32", "--keep-prob", "0.9"]
    command = [MPIEXEC, "-n", "3", sys.executable, "-m", "chainrule", *args, "--out", str(tmp_path / "three")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "480 training and 120 test examples, standardised on the training part; each of 3 ranks read its " \
           "share of the rows" in done.stdout
    assert main([*args, "--out", str(tmp_path / "one"), "--quiet"]) == 0
    three, one = load(tmp_path / "three" / "model.npz"), load(tmp_path / "one" / "model.npz")
    assert _relative(three.params, one.params) < 1e-10
    np.testing.assert_allclose(three.prep.standardizer.std, one.prep.standardizer.std, rtol=1e-13)
    assert three.figures.keys() == one.figures.keys()
    for key in one.figures:
        assert three.figures[key] == pytest.approx(one.figures[key], rel=1e-9)
    assert three.classes == one.classes and three.prep.fingerprint is None


@needs_mpi
@pytest.mark.parametrize("args, line", [
    (["train", "--mini-batch-size", "0"], "--mini-batch-size must be a positive integer or None; got 0"),
    (["train", "--data", "nosuch.csv", "--label", "y"], "no such CSV file: nosuch.csv"),
    (["train", "--learning-rate", "1e6", "--num-epochs", "20"], "training diverged: the cost rose from"),
    (["summary", "model.npz"], "only train runs on several ranks; run summary without mpiexec"),
])
def test_mpiexec_what_every_rank_refuses_is_said_once(tmp_path, args, line):
    """A flag, the data, a divergence (global), another command: one line from rank 0, no abort."""
    done = subprocess.run([MPIEXEC, "-n", "3", sys.executable, "-m", "chainrule", *args, "--out", str(tmp_path / "o")]
                          if args[0] == "train" else [MPIEXEC, "-n", "3", sys.executable, "-m", "chainrule", *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: " + line), done.stderr


@needs_mpi
def test_mpiexec_an_interruption_of_one_rank_while_the_others_wait_ends_the_job(tmp_path):
    """A Ctrl-C that stops one rank at once, outside training, while the others wait for it in a
    collective call: the job ends (MPI_Abort) with 130 instead of waiting forever."""
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(ROOT / "tests" / "mpi" / "train_fails.py"),
                           "interrupt", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 130, done.stderr
    assert not (tmp_path / "out" / "model.npz").exists()


@needs_mpi
def test_mpiexec_interrupted_says_so_once_and_keeps_the_run(tmp_path):
    """Ctrl-C reaches every rank: they stop at the same epoch, rank 0 writes the run and says how
    to finish it, and the job ends with 130, as one process does."""
    run = subprocess.Popen([MPIEXEC, "-n", "2", sys.executable, "-m", "chainrule", "train", "--num-epochs", "100000",
                            "--print-every", "50", "--out", str(tmp_path / "o")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT)
    while "Cost after" not in run.stdout.readline():
        pass
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130
    assert re.fullmatch(r"chainrule: interrupted; .*model\.npz holds the run after epoch (\d+); "
                        r"chainrule train --resume .* --num-epochs \d+ finishes the run", err.strip()), err
    model = load(tmp_path / "o" / "model.npz")
    assert model.history.stop_reason == "interrupted" and len(model.history) < 100000


@needs_mpi
@pytest.mark.parametrize("how", ["raise", "die"])
def test_mpiexec_train_stops_every_rank_when_one_fails(tmp_path, how):
    """A rank that raises says so in one line and aborts the others; one that dies is cleaned up
    by mpiexec. Either way the command fails at once and no model file is written."""
    out = tmp_path / "out"
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(ROOT / "tests" / "mpi" / "train_fails.py"), how,
                           str(out)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    assert not (out / "model.npz").exists()
    if how == "raise":
        lines = [line for line in done.stderr.splitlines() if line.startswith("chainrule:")]
        assert lines == ["chainrule: error: rank 1 of 2: this rank ran out of memory on purpose"]


def test_global_cost_and_accuracy_fail_together_when_one_ranks_data_are_wrong():
    """One collective call carries every rank's sums or its error: no rank is left waiting."""
    X, Y = _planar()
    config = cr.ModelConfig([2, 3, 1])
    params = cr.init_params(config, 0)
    errors = {}

    def work(comm):
        X_k = X[:, :200] if comm.Get_rank() == 0 else X[:1, 200:]         # rank 1: one feature too few
        try:
            distributed.cost_and_accuracy(comm, params, X_k, Y[:, 200 * comm.Get_rank():][:, :200], config)
        except ValueError as exc:
            errors[comm.Get_rank()] = str(exc)

    distributed.run_ranks(2, work)
    assert len(errors) == 2 and errors[0] == errors[1]
    ok = distributed.run_ranks(2, lambda comm: distributed.cost_and_accuracy(
        comm, params, X[:, 200 * comm.Get_rank():][:, :200], Y[:, 200 * comm.Get_rank():][:, :200], config))
    J, accuracy = cr.model.evaluate(params, X, Y, config)
    assert ok[0] == ok[1] and ok[0][0] == pytest.approx(J, rel=1e-13) and ok[0][1] == accuracy
