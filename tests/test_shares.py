"""Each rank reads its share of a file's rows; together the shares are the file, prepared as one
process prepares it.

The ranks are threads (``distributed.ThreadComm``); the expected values are the one-process
readers' (``load_csv``, ``load_npy``), ``datasets.split`` and ``fit_standardizer`` of the
whole file.
"""

from __future__ import annotations

import csv
from unittest import mock

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets, distributed, shares
from chainrule.checkpoint import load
from chainrule.cli import main
from conftest import reading_with


def _write(path, X, labels, newline="\n", blank_every=0, quote=False):
    lines = ["a,b,label,c"]
    for i, (row, label) in enumerate(zip(X, labels)):
        cell = f'"{label}"' if quote else label
        lines.append(f"{row[0]!r},{row[1]!r},{cell},{row[2]!r}")
        if blank_every and i % blank_every == 0:
            lines.append("")
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def _file(tmp_path, m=301, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3)).tolist()
    labels = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, m)]
    return _write(tmp_path / "data.csv", X, labels, **kwargs)


def _shares(path, label, ranks, regression=None):
    return distributed.run_ranks(ranks, lambda comm: shares.read_share(path, label, comm, regression))


def _errors_of_every_rank(path, ranks):
    """What read_share raised on each rank (a ValueError is expected on every one)."""
    errors = []

    def work(comm):
        try:
            shares.read_share(path, "label", comm)
        except ValueError as exc:
            errors.append(str(exc))

    distributed.run_ranks(ranks, work)
    return errors


def _joined(parts):
    return np.concatenate([p.data.X for p in parts], axis=1), np.concatenate([p.data.Y for p in parts], axis=1)


@pytest.mark.parametrize("reader", ["pandas", "csv"])
@pytest.mark.parametrize("newline, blank_every", [("\n", 0), ("\r\n", 7), ("\r", 0)])
@pytest.mark.parametrize("ranks", [1, 2, 3, 8])
def test_the_shares_together_are_the_file(tmp_path, reader, newline, blank_every, ranks):
    path = _file(tmp_path, newline=newline, blank_every=blank_every)
    with reading_with(reader):
        whole = datasets.load_csv(path, "label")
        parts = _shares(path, "label", ranks)
    X, Y = _joined(parts)
    np.testing.assert_array_equal(X, whole.X)
    np.testing.assert_array_equal(Y, whole.Y)
    assert [p.offset for p in parts] == np.cumsum([0] + [p.data.X.shape[1] for p in parts[:-1]]).tolist()
    assert all(p.n == 301 and p.data.classes == whole.classes and p.data.feature_names == whole.feature_names
               for p in parts)


def test_each_rank_reads_only_its_bytes(tmp_path):
    """Every rank parses one range of the data bytes; the ranges are disjoint, start at lines and cover the data."""
    path = _file(tmp_path, m=1000)
    read = []
    original = datasets._read_rows

    def recording(csv_file, *args):
        read.append((csv_file.data_start, csv_file.size))
        return original(csv_file, *args)

    with mock.patch.object(datasets, "_read_rows", recording):
        parts = _shares(path, "label", 4)
    ranges = sorted(read)
    data = path.read_bytes()
    assert len(ranges) == 4 and ranges[0][0] == data.index(b"\n") + 1 and ranges[-1][1] == len(data)
    assert all(end == start for (_, end), (start, _) in zip(ranges, ranges[1:]))
    assert all(data[start - 1:start] == b"\n" for start, _ in ranges)
    assert all(abs(p.data.X.shape[1] - 250) < 5 for p in parts)                 # about equal shares


def test_more_ranks_than_lines_leaves_some_ranks_without_rows(tmp_path):
    path = _write(tmp_path / "d.csv", np.eye(4, 3).tolist(), ["a", "b"] * 2)
    parts = _shares(path, "label", 6)
    assert sum(p.data.X.shape[1] for p in parts) == 4 and any(p.data.X.shape[1] == 0 for p in parts)
    np.testing.assert_array_equal(_joined(parts)[0], datasets.load_csv(path, "label").X)


def test_the_classes_are_those_of_every_rank(tmp_path):
    """A class that only the last rank's rows hold is still a class of every rank's Y."""
    X = np.random.default_rng(1).standard_normal((40, 3)).tolist()
    path = _write(tmp_path / "d.csv", X, ["a", "b"] * 19 + ["zebra", "zebra"])
    parts = _shares(path, "label", 2)
    assert all(p.data.classes == ("a", "b", "zebra") and p.data.Y.shape[0] == 3 for p in parts)
    np.testing.assert_array_equal(_joined(parts)[1], datasets.load_csv(path, "label").Y)


def test_whole_number_labels_are_decided_on_all_rows(tmp_path):
    """21 distinct whole numbers are refused as classes only when seen together: one rank holds 11, the other 10."""
    X = np.zeros((42, 3)).tolist()
    path = _write(tmp_path / "d.csv", X, [str(i // 2) for i in range(42)])
    errors = _errors_of_every_rank(path, 2)
    with pytest.raises(ValueError) as whole:
        datasets.load_csv(path, "label")
    assert errors == [str(whole.value)] * 2 and "21 distinct whole numbers" in errors[0]


@pytest.mark.parametrize("reader", ["pandas", "csv"])
def test_a_bad_cell_on_one_rank_is_the_error_of_every_rank_with_the_files_line(tmp_path, reader):
    X = np.ones((100, 3)).tolist()
    X[80][1] = "oops"
    path = _write(tmp_path / "d.csv", [[repr(v) if not isinstance(v, str) else v for v in row] for row in X],
                  ["a", "b"] * 50, blank_every=10)
    path.write_text(path.read_text().replace("'", ""))
    with reading_with(reader):
        errors = _errors_of_every_rank(path, 3)
        with pytest.raises(ValueError) as whole:
            datasets.load_csv(path, "label")
    assert errors == [str(whole.value)] * 3 and "line 90" in errors[0], errors   # 1 + 81 rows + 8 blank lines


def test_a_file_with_quotes_is_read_whole_and_cut_by_rows(tmp_path):
    """A quoted cell may hold a line break, which a cut at a line break would split."""
    X = np.random.default_rng(2).standard_normal((50, 3)).tolist()
    path = _write(tmp_path / "d.csv", X, ["a\nb", "c"] * 25, quote=True)
    parts = _shares(path, "label", 3)
    whole = datasets.load_csv(path, "label")
    assert whole.classes == ("a\nb", "c")
    np.testing.assert_array_equal(_joined(parts)[0], whole.X)
    assert [p.data.X.shape[1] for p in parts] == [17, 17, 16]


def test_line_starts_are_found_after_every_kind_of_break(tmp_path):
    path = tmp_path / "lines"
    path.write_bytes(b"ab\r\ncd\ref\ngh")
    with path.open("rb") as handle:
        starts = [datasets.line_start(handle, at, 12) for at in range(13)]
    assert starts == [0, 4, 4, 4, 4, 7, 7, 7, 10, 10, 10, 12, 12]


# --- .npy -----------------------------------------------------------------------------------------


def test_npy_shares_are_its_rows_and_the_whole_load_is_the_array(tmp_path):
    rng = np.random.default_rng(3)
    A = np.column_stack([rng.integers(0, 3, 101), rng.standard_normal((101, 2))]).astype(np.float32)
    np.save(tmp_path / "d.npy", A)
    whole = datasets.load_npy(tmp_path / "d.npy", "0")
    np.testing.assert_array_equal(whole.X, A[:, 1:].T.astype(np.float64))
    assert whole.classes == ("0", "1", "2") and whole.feature_names == ("x1", "x2") and whole.output == "softmax"
    np.testing.assert_array_equal(whole.Y, np.eye(3)[:, A[:, 0].astype(int)])
    parts = _shares(tmp_path / "d.npy", "0", 3)
    X, Y = _joined(parts)
    np.testing.assert_array_equal(X, whole.X)
    np.testing.assert_array_equal(Y, whole.Y)
    assert [p.data.X.shape[1] for p in parts] == [33, 34, 34]


@pytest.mark.parametrize("array, label, message", [
    (np.zeros(5), "-1", "2-D array"),
    (np.zeros((4, 1)), "-1", "2-D array"),
    (np.array([["a", "b"]]), "-1", "must hold numbers"),
    (np.zeros((4, 3)), "3", "0 … 2, or −1 for the last"),
    (np.zeros((4, 3)), "last", "0 … 2, or −1 for the last"),
    (np.array([[0, 2 ** 60], [1, 2 ** 60 + 1]]), "-1", "beyond 2\\^53"),
    (np.array([[0.0, 1.0], [np.inf, 0.0], [3.0, 1.0]]), "-1", "row 1, column 0: inf is not a finite number"),
    (np.array([[0.0, 1.0], [2.0, np.nan], [3.0, 1.0]]), "-1", "row 1, column 1: the label nan is not a finite"),
])
def test_a_bad_npy_file_is_refused_in_one_sentence(tmp_path, array, label, message):
    np.save(tmp_path / "d.npy", array)
    with pytest.raises(ValueError, match=message):
        datasets.load_npy(tmp_path / "d.npy", label)


def test_a_file_that_is_not_npy_is_refused(tmp_path):
    (tmp_path / "d.npy").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"cannot read .*d\.npy as a \.npy file of numbers: it is not a \.npy file"):
        datasets.load_npy(tmp_path / "d.npy", "-1")
    np.save(tmp_path / "e.npy", np.zeros((100, 3)))
    (tmp_path / "e.npy").write_bytes((tmp_path / "e.npy").read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"e\.npy as a \.npy file of numbers: it is cut short"):
        datasets.load_npy(tmp_path / "e.npy", "-1")


# --- the split and the standardisation --------------------------------------------------------------


@pytest.mark.parametrize("test_fraction", [0.0, 0.25])
@pytest.mark.parametrize("ranks", [1, 3])
def test_prepared_shares_are_the_split_and_standardisation_of_one_process(tmp_path, test_fraction, ranks):
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((200, 3)) * [1.0, 1e3, 1e-3] + [0.0, 50.0, -7.0]).tolist()
    path = _write(tmp_path / "d.csv", X, ["a", "b"] * 100)
    whole = datasets.load_csv(path, "label")
    X_train, Y_train, X_test, Y_test = datasets.split(whole.X, whole.Y, test_fraction, 9)
    standardizer = datasets.fit_standardizer(X_train)
    parts = _shares(path, "label", ranks)
    prepared = distributed.run_ranks(ranks, lambda comm: shares.prepare_share(
        parts[comm.Get_rank()], parts[comm.Get_rank()].data.Y, test_fraction, 9, True, comm))
    examples = np.concatenate([p.examples for p in prepared])
    assert sorted(examples.tolist()) == list(range(X_train.shape[1]))
    order = np.argsort(examples)
    got = np.concatenate([p.X_train for p in prepared], axis=1)[:, order]
    # the mean's rounding (an ulp of −7) divided by the third feature's std (1e-3): 1e-12
    np.testing.assert_allclose(got, datasets.standardize(X_train, standardizer), rtol=0, atol=1e-11)
    np.testing.assert_array_equal(np.concatenate([p.Y_train for p in prepared], axis=1)[:, order], Y_train)
    assert sum(p.X_test.shape[1] for p in prepared) == X_test.shape[1]
    for p in prepared:
        # sums of values up to 1e3 in another order: a few ulps of 1e3, whatever the mean's size
        np.testing.assert_allclose(p.standardizer.mean, standardizer.mean, rtol=0, atol=1e-14 * np.abs(whole.X).max())
        np.testing.assert_allclose(p.standardizer.std, standardizer.std, rtol=1e-14)
        assert np.all(np.diff(p.examples) > 0)


def test_a_constant_feature_is_constant_over_all_ranks_only(tmp_path):
    """Rank 0's rows alone have a constant first feature; all the rows together do not."""
    X = np.ones((40, 3))
    X[30:, 0] = 2.0
    one = datasets.fit_standardizer(X.T)
    got = distributed.run_ranks(2, lambda comm: datasets.fit_standardizer(X.T[:, 20 * comm.Get_rank():][:, :20], comm))
    for g in got:
        np.testing.assert_allclose(g.mean, one.mean, rtol=1e-15)
        np.testing.assert_allclose(g.std, one.std, rtol=1e-15)
    assert one.std[0, 0] != 1.0 and one.std[1, 0] == 1.0


# --- the command line -------------------------------------------------------------------------------


def test_train_reads_a_npy_file_as_the_same_rows_in_a_csv_file(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    (tmp_path / "d.csv").write_text("x0,x1,y\n" + "".join(f"{a!r},{b!r},{k}\n" for (a, b), k in zip(X.tolist(), y)))
    common = ["train", "--hidden-layers", "3", "--num-epochs", "30", "--quiet"]
    assert main([*common, "--data", str(tmp_path / "d.npy"), "--label", "-1", "--out", str(tmp_path / "n")]) == 0
    assert main([*common, "--data", str(tmp_path / "d.csv"), "--label", "y", "--out", str(tmp_path / "c")]) == 0
    npy, csv = load(tmp_path / "n" / "model.npz"), load(tmp_path / "c" / "model.npz")
    assert npy.feature_names == csv.feature_names == ("x0", "x1") and npy.classes == csv.classes == ("0", "1")
    for P, Q in zip(npy.params, csv.params):
        for p, q in zip(P, Q):
            np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.npy", "--label", "-1"], "no such .npy file: missing.npy"),
    (["--data", "{tmp}/d.npy"],
     "--label INDEX is needed to say which column of {tmp}/d.npy is the label (-1: the last)"),
    (["--data", "{tmp}/d.npy", "--label", "y"], "--label must be the label's column index in {tmp}/d.npy (0 … 2, "
                                                "or −1 for the last); got 'y'"),
])
def test_train_refuses_a_bad_npy_request_in_one_line(tmp_path, capsys, args, message):
    np.save(tmp_path / "d.npy", np.zeros((4, 3)))
    assert main(["train", *(a.replace("{tmp}", str(tmp_path)) for a in args), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "chainrule: error: " + message.replace("{tmp}", str(tmp_path))


def test_readers_that_overlap_restore_the_csv_modules_limit_when_the_last_is_done(tmp_path):
    """Ranks that are threads read at once; the process-wide cell limit must not stay raised."""
    before = csv.field_size_limit()
    first, second = datasets._FieldLimit.raised(10 ** 9), datasets._FieldLimit.raised(10 ** 8)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert csv.field_size_limit() == 10 ** 9                              # the second still reads
    second.__exit__(None, None, None)
    assert csv.field_size_limit() == before
    _shares(_file(tmp_path, m=2000), "label", 8)
    assert csv.field_size_limit() == before


def test_predict_reads_a_npy_file_of_the_features_or_laid_out_as_the_training_file(tmp_path, capsys):
    """The model trained on columns 0 and 2 of a .npy file (label in column 1) predicts the training
    file itself, and a file of just the two features, as it predicts the same rows in a CSV file."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((50, 2))
    y = (X[:, 0] > X[:, 1]).astype(float)
    np.save(tmp_path / "train.npy", np.column_stack([X[:, 0], y, X[:, 1]]))
    np.save(tmp_path / "features.npy", X)
    np.save(tmp_path / "short.npy", X[:, :1])
    (tmp_path / "d.csv").write_text("x0,x2\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist()))
    assert main(["train", "--data", str(tmp_path / "train.npy"), "--label", "1", "--hidden-layers", "3",
                 "--num-epochs", "20", "--quiet", "--out", str(tmp_path / "m")]) == 0
    model = str(tmp_path / "m" / "model.npz")
    capsys.readouterr()
    outputs = []
    for data in ("train.npy", "features.npy", "d.csv"):
        assert main(["predict", model, str(tmp_path / data)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0].count("\n") == 51
    assert main(["predict", model, str(tmp_path / "short.npy")]) == 2
    assert capsys.readouterr().err.strip() == (f"chainrule: error: {tmp_path / 'short.npy'} has 1 columns; the model "
                                               f"takes 2 features (x0, x2): give them as the columns of a .npy file, "
                                               f"in that order")


def test_each_rank_can_follow_its_own_reading(tmp_path):
    """progress(done, total) counts the bytes of the rank's range (rows of a .npy file), up to all of them."""
    path = _file(tmp_path, m=3000)
    heard = {0: [], 1: []}
    distributed.run_ranks(2, lambda comm: shares.read_share(
        path, "label", comm, progress=lambda done, total: heard[comm.Get_rank()].append((done, total))))
    size = path.stat().st_size - (path.read_bytes().index(b"\n") + 1)
    assert all(heard[k] and heard[k][-1][0] == heard[k][-1][1] for k in heard)
    assert heard[0][-1][1] + heard[1][-1][1] == size
    assert all(a < b for k in heard for (a, _), (b, _) in zip(heard[k], heard[k][1:]))



@pytest.mark.parametrize("text", [
    "\ufeffa,b,label,c\n1,2,x,3\n4,5,y,6\n7,8,x,9\n10,11,y,12\n13,14,x,15\n",      # a byte-order mark
    "\n  \n\na,b,label,c\n1,2,x,3\n4,5,y,6\n\n7,8,x,9\n10,11,y,12\n13,14,x,15",    # blank lines, no last break
    "a;b;label;c\r\n1;2;x;3\r\n4;5;y;6\r\n7;8;x;9\r\n10;11;y;12\r\n13;14;x;15\r\n",  # semicolons, CRLF
])
def test_shares_of_files_with_a_bom_blank_lines_or_no_last_break_are_the_file(tmp_path, text):
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode())
    whole = datasets.load_csv(path, "label")
    for ranks in (2, 3, 4):
        X, Y = _joined(_shares(path, "label", ranks))
        np.testing.assert_array_equal(X, whole.X)
        np.testing.assert_array_equal(Y, whole.Y)


def test_a_rank_without_test_rows_still_trains_with_the_others(tmp_path):
    """12 rows on 4 ranks, 3 test rows: a rank holds none of them, and its empty share of the
    validation set counts for nothing in the global sums."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((12, 3)).tolist()
    path = _write(tmp_path / "d.csv", X, ["a", "b"] * 6)
    parts = _shares(path, "label", 4)
    prepared = distributed.run_ranks(4, lambda comm: shares.prepare_share(
        parts[comm.Get_rank()], parts[comm.Get_rank()].data.Y, 0.25, 2, True, comm))
    assert sum(p.X_test.shape[1] for p in prepared) == 3 and min(p.X_test.shape[1] for p in prepared) == 0
    config = cr.ModelConfig([3, 2, 1])
    results = distributed.run_ranks(4, lambda comm: cr.fit(
        config, prepared[comm.Get_rank()].X_train, prepared[comm.Get_rank()].Y_train, num_epochs=5, seed=1,
        comm=comm, examples=prepared[comm.Get_rank()].examples,
        validation_data=(prepared[comm.Get_rank()].X_test, prepared[comm.Get_rank()].Y_test)))
    whole = datasets.load_csv(path, "label")
    X_train, Y_train, X_test, Y_test = datasets.split(whole.X, whole.Y, 0.25, 2)
    standardizer = datasets.fit_standardizer(X_train)
    one = cr.fit(config, datasets.standardize(X_train, standardizer), Y_train, num_epochs=5, seed=1,
                 validation_data=(datasets.standardize(X_test, standardizer), Y_test))
    for r in results:
        np.testing.assert_allclose(r.history.val_cost, one.history.val_cost, rtol=1e-12)


def test_a_rank_with_no_training_rows_is_refused_on_every_rank(tmp_path):
    path = _write(tmp_path / "d.csv", np.eye(4, 3).tolist(), ["a", "b"] * 2)
    parts = _shares(path, "label", 6)
    errors = []

    def work(comm):
        try:
            shares.prepare_share(parts[comm.Get_rank()], parts[comm.Get_rank()].data.Y, 0.0, 0, False, comm)
        except ValueError as exc:
            errors.append(str(exc))

    distributed.run_ranks(6, work)
    assert len(set(errors)) == 1 and len(errors) == 6
    assert f"holds none of the 4 training rows of {path}; run on fewer ranks" in errors[0]


def test_the_scale_checks_of_a_share_use_all_the_ranks_examples():
    """max |x| ≤ √(float max / m) with the global m: a share of 100 of 400 examples is judged as 400."""
    bound_400 = np.sqrt(np.finfo(np.float64).max / 400)
    X = np.full((1, 100), 1.5 * bound_400)                          # within the bound for m = 100, not for 400
    datasets.check_feature_scale(X, standardized=False)
    with pytest.raises(ValueError, match="for m = 400 examples"):
        datasets.check_feature_scale(X, standardized=False, m=400)
    with pytest.raises(ValueError, match="for m = 400 examples"):
        datasets.check_target_scale(X, m=400)


def test_fit_standardizer_over_ranks_refuses_bad_input_on_one_rank_on_every_rank():
    errors = []

    def work(comm):
        X = np.ones((2, 5)) if comm.Get_rank() == 0 else np.ones(5)
        try:
            datasets.fit_standardizer(X, comm)
        except ValueError as exc:
            errors.append(str(exc))

    distributed.run_ranks(2, work)
    assert len(errors) == 2 and errors[0] == errors[1]
