"""CSV loading under adversarial use, and standardisation of extreme values.

What is promised, each part with a test that fails when it is broken:

- column names that appear twice are refused by ``load_csv`` and ``load_csv_features``;
- whole-number labels: few distinct values are classes, many are refused with both ways out,
  and a class per example or so is refused whatever ``regression`` says;
- two readers, pandas' C reader and the csv module, give the same arrays and the same
  messages on the same good and bad files (a table of them, then a fuzz test); pandas reads
  ordinary files itself; the peak memory of a read stays near the size of X; ``progress``
  hears growing byte counts that end at the file's size;
- semicolon- and tab-separated files are read; a file that is not UTF-8 is refused naming the
  byte and its line;
- ``fit_standardizer`` and ``standardize`` are correct without a warning for every finite
  input, and ``check_feature_scale`` refuses what training would overflow on.

Expected values come from elsewhere: the csv module read here, exact rational arithmetic
(``fractions.Fraction``), or numbers written in the test.

The fuzz test runs ~150 examples; before a release, run it long (20 000 examples):

    CHAINRULE_FUZZ=release .venv/bin/python -m pytest tests/test_csv.py -k fuzz
"""

import contextlib
import csv
import importlib.util
import json
import math
import subprocess
import sys
import warnings
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import datasets as ds
from conftest import FUZZ, reading_with

READERS = ("pandas", "csv")


def write(tmp_path, content, name="data.csv"):
    """The file exactly as given: bytes, or text written as UTF-8 with its line ends untouched."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@contextlib.contextmanager
def small_chunks(rows=2):
    """Chunks of a few rows (pandas) or cells (the csv module), so that small files cross chunk boundaries."""
    with mock.patch.multiple(ds, CHUNK_BYTES=1, MIN_CHUNK_ROWS=rows, _CSV_CHUNK_CELLS=rows):
        yield


def outcome(call):
    """What a load gives, comparable across readers: its arrays' bytes, or its message."""
    try:
        result = call()
    except ValueError as exc:
        return ("error", str(exc))
    if isinstance(result, np.ndarray):
        return ("X", result.dtype.str, result.shape, result.tobytes())
    return ("data", result.X.shape, result.X.tobytes(), result.Y.shape, result.Y.tobytes(), result.output,
            result.classes, result.feature_names)


def by_both_readers(call):
    """The outcome of a load by the csv module, and by pandas the same (where pandas is installed)."""
    with reading_with("csv"):
        slow = outcome(call)
    if importlib.util.find_spec("pandas") is not None:
        assert outcome(call) == slow
    return slow


def read_back(path, columns, delimiter=","):
    """X (len(columns), m) read here with the csv module: blank rows skipped, float() of each cell."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle, delimiter=delimiter) if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]]
    return np.array([[float(row[header.index(name)]) for row in rows[1:]] for name in columns])


# --- duplicated column names --------------------------------------------------------------------


@pytest.mark.parametrize("reader", READERS)
def test_a_feature_column_named_twice_is_refused_by_both_loaders(tmp_path, reader):
    path = write(tmp_path, "a,b, a ,y,a\n1,2,3,0,5\n4,5,6,1,7\n")            # 'a' three times once stripped
    with reading_with(reader):
        for call in (lambda: ds.load_csv(path, "y"), lambda: ds.load_csv_features(path, ["b", "a"])):
            with pytest.raises(ValueError) as info:
                call()
            assert str(info.value) == f"{path} has the column 'a' 3 times; rename all but one"
        np.testing.assert_array_equal(ds.load_csv_features(path, ["b", "y"]), read_back(path, ["b", "y"]))


def test_the_label_named_twice_keeps_its_message(tmp_path):
    path = write(tmp_path, "a,y,y\n1,0,1\n2,1,0\n")
    with pytest.raises(ValueError, match=r"has the column 'y' 2 times; rename all but one"):
        ds.load_csv(path, "y")


# --- what a label is ----------------------------------------------------------------------------


def test_the_named_limits():
    assert ds.MAX_AUTO_CLASSES == 20 and ds.MIN_EXAMPLES_PER_CLASS == 2


def labelled(tmp_path, labels, name="prices.csv"):
    """A file whose label column 'price' holds ``labels``, one example each."""
    lines = ["size,price"] + [f"{i * 0.5},{v}" for i, v in enumerate(labels)]
    return write(tmp_path, "\n".join(lines) + "\n", name)


@pytest.mark.parametrize("reader", READERS)
def test_many_distinct_whole_numbers_are_refused_with_both_ways_out(tmp_path, reader):
    prices = [1000 + 7 * (i % 92) for i in range(100)]                    # 92 distinct, 100 examples
    path = labelled(tmp_path, prices)
    with reading_with(reader), pytest.raises(ValueError) as info:
        ds.load_csv(path, "price")
    assert str(info.value) == (f"{path}: the label column 'price' holds 92 distinct whole numbers; to predict it "
                               f"as a number give --output identity (regression=True), or to treat the values as "
                               f"92 classes give --output softmax (regression=False)")
    with reading_with(reader):
        data = ds.load_csv(path, "price", regression=True)
    assert data.output == "identity" and data.classes == ()
    np.testing.assert_array_equal(data.Y, [prices])


@pytest.mark.parametrize("distinct, refused", [(20, False), (21, True)])
def test_whole_numbers_are_classes_up_to_twenty_distinct_values(tmp_path, distinct, refused):
    labels = [10 * (i % distinct) for i in range(3 * distinct)]            # each value three times
    path = labelled(tmp_path, labels)
    if refused:
        with pytest.raises(ValueError, match=f"holds {distinct} distinct whole numbers"):
            ds.load_csv(path, "price")
        return
    data = ds.load_csv(path, "price")
    assert data.output == "softmax" and data.classes == tuple(str(10 * k) for k in range(distinct))
    np.testing.assert_array_equal(data.Y.argmax(axis=0), np.arange(3 * distinct) % distinct)


def test_regression_false_takes_more_classes_than_the_automatic_limit(tmp_path):
    labels = [i % 30 for i in range(120)]                                 # 30 classes of 4 examples
    data = ds.load_csv(labelled(tmp_path, labels), "price", regression=False)
    assert data.output == "softmax" and len(data.classes) == 30


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("regression", [False, None])
def test_a_class_for_almost_every_example_is_refused(tmp_path, reader, regression):
    path = labelled(tmp_path, [3 * i for i in range(8)] + [0, 3])          # 8 classes, 10 examples, 6 single
    with reading_with(reader), pytest.raises(ValueError) as info:
        ds.load_csv(path, "price", regression=regression)
    assert str(info.value) == (f"{path}: the label column 'price' has 8 classes for 10 examples: most classes "
                               f"have a single example; if the label is a number to predict, give --output "
                               f"identity (regression=True)")


def test_string_labels_that_are_identifiers_are_refused(tmp_path):
    path = write(tmp_path, "x,id\n" + "".join(f"{i},user{i}\n" for i in range(12)))
    with pytest.raises(ValueError, match=r"'id' has 12 classes for 12 examples: most classes have a single example"):
        ds.load_csv(path, "id")


@pytest.mark.parametrize("labels, allowed", [
    ("ab", True),                  # two classes of one example each: always a binary problem
    ("aabbcd", True),              # 4 classes for 6 examples, half of them single: not most
    ("abccc", False),              # 3 classes for 5 examples, 2 of them single
    ("aabbccd", True),             # 4 classes for 7 examples: 3.5 per class is not below 2
])
def test_the_class_count_limit_at_its_edges(tmp_path, labels, allowed):
    path = write(tmp_path, "x,y\n" + "".join(f"{i},{c}\n" for i, c in enumerate(labels)))
    if allowed:
        assert ds.load_csv(path, "y").classes == tuple(sorted(set(labels)))
    else:
        with pytest.raises(ValueError, match="classes for"):
            ds.load_csv(path, "y")


# --- the two readers agree --------------------------------------------------------------------------

GOOD = {
    "plain": "a,b,y\n1,2.5,0\n-3,4e1,1\n5,6,0\n",
    "crlf and no final line end": "a,b,y\r\n1,2,0\r\n3,4,1\r\n5,6,0",
    "cr only": "a,b,y\r1,2,0\r3,4,1\r",
    "bom, blank and blank-celled lines": "\ufeff\n a , b ,y\n1,2,0\n\n , ,\n3,4,1\n  \n5,6,0\n",
    "quoted numbers and labels": 'a,b,y\n"1","2",cat\n" 3 ",4,"dog"\n5,"6e0","cat"\n',
    "a quoted label with a line break": 'a,b,y\n1,2,"two\nlines"\n3,4,cat\n5,6,cat\n',
    "spaces around numbers": "a,b,y\n 1 ,\t2,0\n3 , 4,1\n",
    "underscores and other digits float() reads": "a,b,y\n1_000,\u0661\u0662,0\n3,4,1\n",
    "extreme finite numbers": "a,b,y\n1e308,5e-324,0\n-1.7976931348623157e308,2.2250738585072014e-308,1\n",
    "digits beyond double precision": "a,b,y\n9007199254740993,0.1000000000000000055511151231257827,0\n"
                                      "1e-400,-0,1\n",
    "labels spelled true and false": "a,b,y\n1.5,2,true\n3,4,false\n",
    "a column of zeros and ones beside true/false labels": "a,b,y\n0,1,true\n1,0,FALSE\n1,1,true\n",
    "the label first": "y,a,b\n0,1,2\n1,3,4\n",
    "semicolons": "a;b;y\n1.5;2;0\n3;4;1\n",
    "tabs": "a\tb\ty\n1.5\t2\t0\n3\t4\t1\n",
    "fractional labels": "a,b,y\n1,2,0.5\n3,4,1.25\n",
}

BAD = {
    "NaN": ("a,b,y\n1,2,0\nNaN,4,1\n", "line 3, column 'a': 'NaN' is not a finite number"),
    "nan quoted": ('a,b,y\n1,2,0\n"nan",4,1\n', "line 3, column 'a': 'nan' is not a finite number"),
    "inf": ("a,b,y\n1,-inf,0\n3,4,1\n", "line 2, column 'b': '-inf' is not a finite number"),
    "1e999": ("a,b,y\n1,2,0\n3,1e999,1\n", "line 3, column 'b': '1e999' is not a finite number"),
    "pandas' NA strings": ("a,b,y\n1,2,0\nNA,4,1\n", "line 3, column 'a': 'NA' is not a number"),
    "an empty cell": ("a,b,y\n1,,0\n3,4,1\n", "line 2, column 'b': '' is not a number"),
    "a thousands separator": ('a,b,y\n"1,000",2,0\n3,4,1\n', "line 2, column 'a': '1,000' is not a number"),
    "a decimal comma": ("a;b;y\n1,5;2;0\n3;4;1\n", "line 2, column 'a': '1,5' is not a number (decimal commas"),
    "a trailing comma": ("a,b,y\n1,2,0,\n3,4,1\n", "line 2: 4 values for 3 columns"),
    "a trailing comma later": ("a,b,y\n1,2,0\n3,4,1,\n", "line 3: 4 values for 3 columns"),
    "a short row": ("a,b,y\n1,2,0\n3,4\n", "line 3: 2 values for 3 columns"),
    "a short first row": ("a,b,y\n1,2\n3,4,1\n", "line 2: 2 values for 3 columns"),
    "a comment character": ("a,b,y\n1,2,0\n#3,4,1\n", "line 3, column 'a': '#3' is not a number"),
    "TRUE as a feature": ("a,b,y\nTRUE,2,0\nfalse,4,1\n", "line 2, column 'a': 'TRUE' is not a number"),
    "a hex number": ("a,b,y\n0x10,2,0\n3,4,1\n", "line 2, column 'a': '0x10' is not a number"),
    "a missing label": ("a,b,y\n1,2,0\n3,4, null \n", "line 3: the label 'y' is missing (' null ')"),
    "a missing label at the end of a short row": ("a,b,y\n1,2,0\n3,4,\n", "line 3: the label 'y' is missing ('')"),
    "an infinite label": ("a,b,y\n1,2,0\n3,4,inf\n", "the label column 'y' has non-finite values"),
    "a BOM inside": ("a,b,y\n1,2,0\n\ufeff3,4,1\n", "line 3, column 'a': '\\ufeff3' is not a number"),
    "a BOM where the data start": ("a,b,y\n\ufeff1,2,0\n3,4,1\n", "line 2, column 'a': '\\ufeff1' is not a number"),
    "an unclosed quote": ('a,b,y\n1,2,0\n3,"4,1\n', "line 3: 2 values for 3 columns"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_both_readers_read_good_files_as_the_csv_module_does(tmp_path, name):
    text = GOOD[name]
    path = write(tmp_path, text)
    delimiter = ";" if name == "semicolons" else "\t" if name == "tabs" else ","
    features = ["a", "b"]
    for chunks in (contextlib.nullcontext(), small_chunks()):
        with chunks:
            result = by_both_readers(lambda: ds.load_csv(path, "y"))
            assert result[0] == "data" and result[-1] == tuple(features)
            X = np.frombuffer(result[2]).reshape(result[1])
            np.testing.assert_array_equal(X, read_back(path, features, delimiter))
            assert by_both_readers(lambda: ds.load_csv_features(path, features[::-1]))[3] == \
                read_back(path, features[::-1], delimiter).tobytes()


@pytest.mark.parametrize("name", list(BAD))
def test_both_readers_refuse_bad_files_with_the_same_sentence(tmp_path, name):
    text, piece = BAD[name]
    path = write(tmp_path, text)
    for chunks in (contextlib.nullcontext(), small_chunks()):
        with chunks:
            kind, message = by_both_readers(lambda: ds.load_csv(path, "y"))
            assert kind == "error" and message.startswith(str(path)) and piece in message and "\n" not in message


@pytest.mark.parametrize("text", [
    "a,b,notes\n1,2,first\n3,4\n",                   # a short row, short in a column that is not read
    "a,b,notes\n1,2,x\n3,4,y,z\n",                   # a long row
    "a,b,notes\n1,2,\n3,4,y\n",                      # an empty cell where nothing is read: fine
])
def test_columns_that_are_not_read_still_count_in_a_rows_length(tmp_path, text):
    path = write(tmp_path, text)
    kind, *rest = by_both_readers(lambda: ds.load_csv_features(path, ["b", "a"]))
    rows = [line.split(",") for line in text.splitlines()]
    if all(len(row) == 3 for row in rows):
        assert kind == "X" and rest[2] == read_back(path, ["b", "a"]).tobytes()
    else:
        assert kind == "error" and "values for 3 columns" in rest[0]


def test_a_line_break_in_a_column_name_stays_out_of_the_message(tmp_path):
    path = write(tmp_path, '"first\nname",y\n1,0\n2,1\n')
    assert ds.load_csv(path, "y").feature_names == ("first\nname",)
    for call in (lambda: ds.load_csv(path, "z"), lambda: ds.load_csv_features(path, ["z"])):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).endswith("its columns are: 'first\\nname', y")


def test_a_cell_longer_than_the_csv_modules_limit_is_read_by_both(tmp_path):
    """The csv module refuses cells over 128 Ki characters unless told otherwise; pandas has no limit."""
    limit = csv.field_size_limit()
    long = "x" * (limit + 10)
    path = write(tmp_path, f"a,y\n1,{long}\n2,b\n-3,{long}\n")
    kind, shape, X, _, Y, output, classes, _ = by_both_readers(lambda: ds.load_csv(path, "y"))
    assert np.frombuffer(X).tolist() == [1, 2, -3] and np.frombuffer(Y).tolist() == [1, 0, 1]
    assert classes == ("b", long) and csv.field_size_limit() == limit          # the limit is as it was
    with reading_with("csv"), pytest.raises(ValueError):
        ds.load_csv(write(tmp_path, f"a,y\n1,{long}\nx,b\n"), "y")
    assert csv.field_size_limit() == limit


def test_pandas_reads_ordinary_files_itself(tmp_path, monkeypatch):
    """Only what pandas might judge differently goes to the csv module: not these."""
    pytest.importorskip("pandas", reason="pip install 'chainrule[csv]' to test the pandas reader")

    def refuse(*args):
        raise AssertionError("read by the csv module")

    monkeypatch.setattr(ds, "_read_with_csv", refuse)
    for name in ("plain", "crlf and no final line end", "cr only", "quoted numbers and labels", "semicolons",
                 "tabs", "extreme finite numbers", "labels spelled true and false", "the label first",
                 "a quoted label with a line break"):
        path = write(tmp_path, GOOD[name])
        ds.load_csv(path, "y")
        ds.load_csv_features(path, ["a", "b"])


# --- progress and memory ----------------------------------------------------------------------------


def numbers_file(tmp_path, m, n_x=19, name="numbers.csv"):
    """m rows of n_x features with 6 significant digits and a label 0, 1 or 2: 1 000 distinct rows repeated."""
    rng = np.random.default_rng(7)
    rows = ["".join(f"{v:.6g}," for v in x) + f"{c}\n" for x, c in zip(rng.normal(size=(1000, n_x)).tolist(),
                                                                       rng.integers(0, 3, 1000).tolist())]
    path = tmp_path / name
    with open(path, "w", newline="") as handle:
        handle.write(",".join([f"x{j}" for j in range(n_x)] + ["y"]) + "\n")
        for start in range(0, m, 1000):
            handle.writelines(rows[:min(1000, m - start)])
    return path


@pytest.mark.parametrize("reader", READERS)
def test_progress_hears_growing_byte_counts_ending_at_the_file_size(tmp_path, reader):
    m = 60_000 if reader == "pandas" else 5500        # pandas reads 256 KiB at a time; the last chunk is partial
    path = numbers_file(tmp_path, m, n_x=4)
    size = path.stat().st_size
    calls = []
    with reading_with(reader), small_chunks(rows=1000 if reader == "pandas" else 5000):   # 1 000 rows of 5 cells
        X = ds.load_csv(path, "y", progress=lambda done, total: calls.append((done, total))).X
    assert X.shape == (4, m)
    assert len(calls) >= 5 and calls[-1] == (size, size) and {total for _, total in calls} == {size}
    done = [d for d, _ in calls]
    assert all(a < b for a, b in zip(done, done[1:]))


def test_progress_never_goes_back_when_the_csv_module_takes_over(tmp_path):
    """pandas stops at the last row (float() reads '1_0', pandas does not); the report stays monotone."""
    pytest.importorskip("pandas", reason="pip install 'chainrule[csv]' to test the pandas reader")
    path = numbers_file(tmp_path, 10_000, n_x=4)                       # 390 KB: pandas reports, then gives up
    with open(path, "a") as handle:
        handle.write("1_0,2,3,4,1\n")
    calls = []
    with small_chunks(rows=1000):
        ds.load_csv_features(path, ["x0"], progress=lambda done, total: calls.append(done))
    assert calls[-1] == path.stat().st_size and all(a < b for a, b in zip(calls, calls[1:]))


def test_progress_must_be_callable(tmp_path):
    with pytest.raises(ValueError, match="progress must be a function"):
        ds.load_csv(write(tmp_path, GOOD["plain"]), "y", progress=3)


MEASURE = r"""
import json, resource, sys
from chainrule import datasets
datasets.load_csv(sys.argv[2], "y")                       # imports and first use, on a small file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
X = datasets.load_csv(sys.argv[1], "y").X
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
unit = 1 if sys.platform == "darwin" else 1024            # ru_maxrss is in bytes on macOS, KiB on Linux
print(json.dumps({"grown": (after - before) * unit, "nbytes": X.nbytes, "shape": X.shape,
                  "first": X[:, :3].tolist()}))
"""


def test_peak_memory_of_the_pandas_reader_stays_near_the_array(tmp_path):
    """The high-water mark of a fresh process, measured around the read of 200 000 × 20 cells."""
    pytest.importorskip("resource")
    pytest.importorskip("pandas", reason="pip install 'chainrule[csv]' to test the pandas reader")
    path = numbers_file(tmp_path, 200_000)
    small = numbers_file(tmp_path, 10, name="small.csv")
    run = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(small)], capture_output=True, text=True,
                         check=True)
    result = json.loads(run.stdout)
    assert result["shape"] == [19, 200_000]
    with open(path) as handle:                                       # the first rows, read here
        rows = [line.split(",") for _, line in zip(range(4), handle)][1:]
    np.testing.assert_array_equal(result["first"], np.array([[float(c) for c in row[:19]] for row in rows]).T)
    assert result["grown"] < 4 * result["nbytes"] + 64 * 2 ** 20, result


def test_peak_memory_of_the_csv_module_reader_stays_near_the_array(tmp_path):
    """Every allocation of this reader is Python's or NumPy's, so tracemalloc sees them all."""
    import tracemalloc

    path = numbers_file(tmp_path, 30_000)
    with reading_with("csv"):
        ds.load_csv(numbers_file(tmp_path, 10, name="small.csv"), "y")
        tracemalloc.start()
        try:
            X = ds.load_csv(path, "y").X
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert X.shape == (19, 30_000)
    assert peak < 4 * X.nbytes + 16 * 2 ** 20, (peak, X.nbytes)


# --- separators and encodings -------------------------------------------------------------------


def test_a_semicolon_file_from_a_spreadsheet_is_read(tmp_path):
    path = write(tmp_path, "\ufeffheight;weight;label\r\n1.80;75;a\r\n1.65;60.5;b\r\n1.7;70;a\r\n")
    data = ds.load_csv(path, "label")
    assert data.feature_names == ("height", "weight") and data.classes == ("a", "b")
    np.testing.assert_array_equal(data.X, [[1.80, 1.65, 1.7], [75, 60.5, 70]])


def test_a_comma_in_the_header_outside_quotes_decides(tmp_path):
    path = write(tmp_path, '"a;b",c,y\n1,2,0\n3,4,1\n')
    assert ds.load_csv(path, "y").feature_names == ("a;b", "c")


def line_of(data, at):
    """The line of byte ``at``, counting "\\r\\n", "\\r" and "\\n" as line ends."""
    return data[:at].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_a_latin1_file_is_refused_naming_the_byte_and_line(tmp_path, end):
    data = end.join([b"name,y", b"1,0", "2,caf\u00e9".encode("latin-1"), b"3,1"])
    path = write(tmp_path, data)
    with pytest.raises(ValueError) as info:
        ds.load_csv(path, "y")
    assert str(info.value) == f"cannot read {path} as CSV: it is not UTF-8 text (byte 0xe9 at line 3); save it as UTF-8"


def test_the_line_of_a_bad_byte_is_counted_across_the_blocks_of_the_scan(tmp_path):
    """A "\\r\\n" split between two 1 MiB blocks is one line end; an "é" split between two is no error."""
    block = 2 ** 20
    data = bytearray(b"a,y\n" + b"1,0\r\n" * ((block - 20) // 5))
    data += b"1" * (block - 3 - len(data)) + b",0\r"                   # "\r" ends the first block ...
    data += b"\n"                                                      # ... and "\n" starts the second
    assert data[block - 1:block + 1] == b"\r\n"
    data += b"1,0\n" * ((2 * block - len(data) - 8) // 4)
    data += b"2," + b"x" * (2 * block - 1 - len(data) - 2) + "\u00e9".encode() + b"\n"
    assert data[2 * block - 1:2 * block + 1] == "\u00e9".encode()      # the two bytes of "é" in two blocks
    good = bytes(data + b"1,0\n" * 3)
    assert ds.load_csv(write(tmp_path, good, "good.csv"), "y").X.shape[0] == 1
    bad = good + b"3,\xff\n"
    path = write(tmp_path, bad)
    with pytest.raises(ValueError) as info:
        ds.load_csv(path, "y")
    line = line_of(bad, bad.index(b"\xff"))
    assert f"(byte 0xff at line {line})" in str(info.value)


@pytest.mark.parametrize("content, piece", [
    ("a,y\n1,0\n".encode("utf-16"), "it is UTF-16 text, not UTF-8; save it as UTF-8"),
    (b"a,y\n1,0\n2,\x001\n", "line 3 holds a NUL byte"),
    (b"a,y\n1,0\n2,1\xc3", "it is not UTF-8 text (byte 0xc3 at line 3)"),       # cut in the middle of "é"
])
def test_other_files_that_are_not_utf8_text(tmp_path, content, piece):
    path = write(tmp_path, content)
    for call in (lambda: ds.load_csv(path, "y"), lambda: ds.load_csv_features(path, ["a"])):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(f"cannot read {path} as CSV: ") and piece in str(info.value)


# --- extreme values -------------------------------------------------------------------------------

EXTREME = np.array([
    [1e308, -1e308, 1.7e308, 3.0, -1.7976931348623157e308],
    [5e-324, 1e-323, 1.5e-323, 2.5e-323, 0.0],
    [1e-300, 1e300, -1e300, 0.0, 7.0],
    [1.7976931348623157e308, 1.7976931348623157e308, 1.7976931348623157e308, 1.7976931348623157e308, -1e308],
    [2.0 ** -1022, -(2.0 ** -1022), 2.0 ** -1000, 0.5, 1.0],
])


def exact_mean_and_std(row):
    """The mean and standard deviation of a row, the std correctly rounded from exact arithmetic."""
    values = [Fraction(v) for v in row]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    if variance == 0:
        return float(mean), 0.0
    k = (variance.denominator.bit_length() - variance.numerator.bit_length()) // 2   # 4^k · variance ≈ 1
    return float(mean), math.ldexp(math.sqrt(float(variance * Fraction(4) ** k)), -k)


@contextlib.contextmanager
def no_float_warning():
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def test_fit_standardizer_is_exact_to_rounding_for_extreme_rows():
    with no_float_warning():
        s = ds.fit_standardizer(EXTREME)
        Z = ds.standardize(EXTREME, s)
    m = EXTREME.shape[1]
    for i, row in enumerate(EXTREME):
        mean, std = exact_mean_and_std(row)
        tolerance = 4 * m * np.finfo(float).eps * np.max(np.abs(row)) + 2 * math.ulp(0.0)   # summation error
        assert abs(s.mean[i, 0] - mean) <= tolerance, i
        assert abs(s.std[i, 0] - std) <= tolerance, i
        for x, z in zip(row, Z[i]):
            exact = (Fraction(x) - Fraction(s.mean[i, 0])) / Fraction(s.std[i, 0])
            assert z == pytest.approx(float(exact), rel=1e-14, abs=1e-300), (i, x)


def test_the_mean_lies_between_the_smallest_and_the_largest_value():
    """NumPy's mean of four 1.632 and the float just below is an ulp above 1.632; the mean is not."""
    a = 1.632
    X = np.array([[a, a, a, a, np.nextafter(a, 0)]])
    assert ds.fit_standardizer(X).mean[0, 0] <= a


def test_standardize_takes_the_difference_that_overflows_from_halves():
    s = ds.fit_standardizer(np.array([[-1.7e308, -1.5e308, -1.6e308]]))
    X = np.array([[1.0e308, 1.7e308, -1.7e308]])
    with no_float_warning():
        Z = ds.standardize(X, s)
    for x, z in zip(X[0], Z[0]):
        exact = (Fraction(x) - Fraction(s.mean[0, 0])) / Fraction(s.std[0, 0])
        assert z == pytest.approx(float(exact), rel=1e-15)


def test_standardized_values_beyond_float64_are_refused_naming_the_row():
    s = ds.fit_standardizer(np.array([[0.0, 1.0, 2.0], [0.0, 1e-300, 0.0]]))
    with no_float_warning(), pytest.raises(ValueError) as info:
        ds.standardize(np.array([[1.0, 2.0], [1e-300, 1e10]]), s)
    assert str(info.value).startswith("feature (row) 1 of X cannot be standardised: its value 1e+10 in column 1")


def test_a_row_whose_spread_is_below_the_smallest_float_is_refused():
    row = [5e-324, 1e-323]
    assert exact_mean_and_std(row)[1] == 0.0                          # its std, 2^-1075, rounds to 0
    with no_float_warning(), pytest.raises(ValueError, match=r"feature \(row\) 1 of X cannot be standardised"):
        ds.fit_standardizer(np.array([[1.0, 2.0], row]))


def test_constant_extreme_rows_standardise_to_zero():
    X = np.array([[1.7976931348623157e308] * 3, [5e-324] * 3, [-1e-310] * 3])
    with no_float_warning():
        Z = ds.standardize(X, ds.fit_standardizer(X))
    np.testing.assert_array_equal(Z, np.zeros((3, 3)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=8),
       st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_standardisation_of_any_finite_row_is_finite_or_refused(row, new):
    X = np.array([row])
    with no_float_warning():
        try:
            s = ds.fit_standardizer(X)
        except ValueError as exc:
            assert "cannot be standardised" in str(exc) and exact_mean_and_std(row)[1] < 5e-324
            return
        assert np.min(X) <= s.mean[0, 0] <= np.max(X) and 0 < s.std[0, 0] <= max(np.max(np.abs(X)), 1.0)
        assert np.all(np.isfinite(ds.standardize(X, s)))
        try:
            z = ds.standardize(np.array([[new]]), s)[0, 0]
        except ValueError as exc:
            assert "beyond float64's range" in str(exc)
            assert abs((Fraction(new) - Fraction(s.mean[0, 0])) / Fraction(s.std[0, 0])) > Fraction(np.finfo(float).max)
            return
    exact = (Fraction(new) - Fraction(s.mean[0, 0])) / Fraction(s.std[0, 0])
    assert z == pytest.approx(float(exact), rel=1e-14, abs=1e-300)


def test_float32_data_keep_their_dtype_and_their_statistics():
    X = np.array([[1.5, 2.5, 4.0], [3e38, -3e38, 1e38]], dtype=np.float32)
    with no_float_warning():
        s = ds.fit_standardizer(X)
        Z = ds.standardize(X, s)
    assert s.mean.dtype == s.std.dtype == Z.dtype == np.float32
    for i, row in enumerate(X.astype(np.float64)):
        mean, std = exact_mean_and_std(row)
        assert s.mean[i, 0] == pytest.approx(mean, rel=1e-6, abs=1e-6 * np.max(np.abs(row)))
        assert s.std[i, 0] == pytest.approx(std, rel=1e-6)


# --- check_feature_scale --------------------------------------------------------------------------


def squares_overflow(row):
    return sum(Fraction(v) ** 2 for v in row) > Fraction(sys.float_info.max)


@pytest.mark.parametrize("m", [1, 4, 1000])
def test_feature_scale_is_refused_exactly_where_a_sum_of_squares_could_overflow(m):
    bound = math.sqrt(sys.float_info.max / m)                         # m values of this size: squares sum to max
    fine, large = np.full((1, m), 0.99 * bound), np.full((1, m), 1.01 * bound)
    assert not squares_overflow(fine[0]) and squares_overflow(large[0])
    ds.check_feature_scale(fine, standardized=False)
    X = np.vstack([np.ones(m), -large])
    with pytest.raises(ValueError) as info:
        ds.check_feature_scale(X, ["age", "income"], standardized=False)
    message = str(info.value)
    assert message.startswith(f"feature 'income' has values up to {1.01 * bound:.3g} in magnitude")
    assert "--standardize" in message and "standardize=True" in message and "\n" not in message
    with pytest.raises(ValueError, match=r"^feature row 1 of X has standardised values .* far outside the data"):
        ds.check_feature_scale(X, standardized=True)


def test_feature_scale_names_must_fit_x():
    with pytest.raises(ValueError, match="feature_names must name the 2 features"):
        ds.check_feature_scale(np.ones((2, 3)), ["a"], standardized=False)


# --- fuzz -------------------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "y", " y", "a ", "", "é", "x\ny", '"x\ny"', '"q"', "b;c"])
CELLS = st.one_of(
    st.sampled_from(["", " ", "1", "-0", "0", "2.5", "nan", "NaN", "inf", "-Infinity", "1e999", "5e-324", "1e-400",
                     "NA", "null", "?", "TRUE", "false", "1,5", "1_0", "0x1", "#", '"', '""', '"1"', '"a,b"',
                     '"x\ny"', "\ufeff1", "\u0663", "cat", " dog ", "1e308", "-1.7976931348623157e308"]),
    st.floats(width=64).map(repr),
    st.integers(-10 ** 30, 10 ** 30).map(str),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6),
)


@st.composite
def csv_texts(draw):
    separator = draw(st.sampled_from([",", ",", ";", "\t"]))
    n = draw(st.integers(1, 4))
    header = [draw(NAMES) for _ in range(n)]
    rows = [[draw(CELLS) for _ in range(draw(st.sampled_from([n, n, n, n - 1, n + 1, 0])))]
            for _ in range(draw(st.integers(0, 6)))]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(separator.join(row) for row in [header, *rows]) + draw(st.sampled_from([end, ""]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8")


def fuzz_calls(path):
    return [lambda: ds.load_csv(path, "y"), lambda: ds.load_csv(path, "y", regression=True),
            lambda: ds.load_csv(path, "y", regression=False), lambda: ds.load_csv_features(path, ["a", "é"])]


@FUZZ
@given(st.one_of(csv_texts(), st.binary(max_size=80)), st.booleans())
def test_fuzz_csv_loading_gives_finite_arrays_or_one_line_and_both_readers_agree(tmp_path_factory, content, small):
    path = tmp_path_factory.mktemp("fuzz") / "data.csv"
    path.write_bytes(content)
    with warnings.catch_warnings(record=True) as caught, (small_chunks() if small else contextlib.nullcontext()):
        warnings.simplefilter("always")
        for call in fuzz_calls(path):
            kind, *rest = by_both_readers(call)
            if kind == "error":
                assert rest[0] and "\n" not in rest[0], rest[0]
                continue
            result = call()
            X = result if kind == "X" else result.X
            assert X.dtype == np.float64 and np.all(np.isfinite(X))
            if kind == "data":
                assert result.Y.shape[1] == X.shape[1] >= 1 and np.all(np.isfinite(result.Y))
                assert X.shape[0] == len(result.feature_names) >= 1
                assert result.output in ("sigmoid", "softmax", "identity")
            else:
                assert X.shape[0] == 2
    assert not caught, [str(w.message) for w in caught]
