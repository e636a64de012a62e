"""``chainrule check``: a learner's own functions, diagnosed.

The corpus in tests/fixtures/learners was written for these tests: a correct implementation
of every function in the course's style, absorbed-convention variants, one file per mistake
and files that cannot be used. EXPECTED.json says, for each file and function, what a
diagnosis must find; it was derived from what each mistake does to the arrays (each mistake
file was compared numerically with its correct twin when the corpus was written), not from
the checker's output.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.check import CHECKS, UnusableFile, check_functions, course_modules
from chainrule.check import calls as calls_module
from chainrule.check.arrays import factor_name, relate
from chainrule.check.calls import call
from chainrule.check.course2 import _difference
from chainrule.check.learner import load_learner
from chainrule.check.sandbox import GRACE
from chainrule.check.source import definitions, read_source

LEARNERS = Path(__file__).parent / "fixtures" / "learners"
EXPECTED = json.loads((LEARNERS / "EXPECTED.json").read_text())["files"]
CHECKABLE = sorted(name for name, e in EXPECTED.items() if e["exit"] != 2)
BROKEN = sorted(name for name, e in EXPECTED.items() if e["exit"] == 2)


@pytest.fixture
def isolated_import_state():
    """load_learner puts the learner's folder on sys.path and names its file for messages."""
    path, meta_path, source = list(sys.path), list(sys.meta_path), dict(calls_module.SOURCE)
    modules = set(sys.modules)
    state = np.random.get_state()
    yield
    sys.path[:], sys.meta_path[:] = path, meta_path
    for name in set(sys.modules) - modules:
        if name in course_modules.HELPERS or name in course_modules.TESTS:
            del sys.modules[name]
    calls_module.SOURCE.update(source)
    np.random.set_state(state)


def _report(name):
    namespace, notes = load_learner(LEARNERS / name)
    return check_functions(namespace, name, notes)


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "chainrule", "check", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=LEARNERS)


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHECKABLE)
def test_every_learner_file_is_diagnosed_as_its_mistake(name, isolated_import_state):
    """Each function of each file gets the status, the kind and (where the manifest names them)
    the layers of its mistake; every function the file defines is checked."""
    report = _report(name)
    expected = EXPECTED[name]
    for function, want in expected["functions"].items():
        got = report[function]
        assert got.status == want["status"], (function, got.to_json())
        if want["status"] == "wrong":                      # one mistake per file: nothing else is blamed on it
            assert {f.kind for f in got.findings if f.status == "wrong"} == {want["kind"]}, got.to_json()
        if want["kind"] not in ("correct", "absorbed"):
            matching = [f for f in got.findings if f.kind == want["kind"]]
            assert matching, (function, want["kind"], got.to_json())
            if "layers" in want:
                if "layers_rule" in want:            # depth varies over the problems: at least these layers
                    assert any(set(want["layers"]) <= set(f.layers) for f in matching), got.to_json()
                else:
                    assert any(set(want["layers"]) == set(f.layers) for f in matching), got.to_json()
    assert report.exit_status == expected["exit"]
    assert {r.name for r in report.functions} == set(expected["functions"])


def test_the_absorbed_convention_is_named_and_called_correct(isolated_import_state):
    report = _report("absorbed_deep.py")
    finding = report["L_model_backward"].findings[0]
    assert finding.kind == "absorbed" and "Also correct" in finding.message
    assert "your dZ[2] is (1/m)(A[2] − Y) = ∂J/∂Z[2] and your dW, db are plain sums" in finding.message
    assert "m times smaller" in finding.message and "dA0" in finding.message
    # linear_backward alone returns plain sums: m times the course's for a per-example dZ, but
    # exactly ∂J/∂W for the ∂J/∂Z this file's L_model_backward gives it
    alone = report["linear_backward"]
    assert alone.status == "absorbed" and "correct in context" in alone.findings[0].message


def test_a_doubled_one_over_m_is_measured_exactly_and_its_layers_named(isolated_import_state):
    finding = next(f for f in _report("mistake_double_one_over_m_layer2.py")["backward_propagation"].findings
                   if f.status == "wrong")
    assert finding.kind == "double_one_over_m" and finding.layers == (2,)
    assert "dW[2], db[2] are exactly 1/m" in finding.message
    assert "dW[1]" not in finding.message


def test_a_notebook_runs_its_code_cells_in_order_without_magics(isolated_import_state):
    report = _report("mistake_double_one_over_m.ipynb")
    assert report["L_model_backward"].kinds == ("double_one_over_m",)
    assert any("'%matplotlib inline'" in n and "'!pip install numpy'" in n for n in report.notes)


def test_a_file_without_course_helpers_gets_them_and_is_told(isolated_import_state):
    report = _report("correct_imports.py")
    assert report.status == "ok"
    assert any("dnn_utils" in n and "sigmoid_backward" in n for n in report.notes)
    assert any("public_tests" in n and "do nothing" in n for n in report.notes)
    assert any("skipped" in n and "--run-all" in n for n in report.notes)


# --- files that cannot be used ---------------------------------------------------------------


@pytest.mark.parametrize("name", BROKEN)
def test_a_file_that_cannot_be_used_ends_with_status_2_and_one_line(name):
    start = time.monotonic()
    result = _cli(name, "--timeout", "4")
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule check: "), result.stderr
    assert all(word in lines[0] for word in EXPECTED[name]["says"]), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert elapsed < 4 + GRACE + 10                   # the time limit, the grace before a kill, the parent's start


def test_an_endless_loop_is_stopped_at_the_time_limit_and_located():
    result = _cli("broken_infinite_loop.py", "--timeout", "3")
    assert "did not finish within 3 s" in result.stderr and "linear_forward" in result.stderr
    assert re.search(r"at line 13[78] \(`", result.stderr)    # the loop's body, lines 137–138


def test_a_learners_exception_shows_the_learners_own_line(tmp_path):
    learner = tmp_path / "raises.py"
    learner.write_text("import numpy as np\n\ndef linear_forward(A, W, b):\n    Z = np.dot(W, A) + c\n"
                       "    return Z, (A, W, b)\n")
    result = _cli(str(learner))
    assert result.returncode == 1
    assert "raised NameError: name 'c' is not defined at line 4 in linear_forward (`Z = np.dot(W, A) + c`)" \
        in result.stdout


def test_the_learners_code_has_no_network(tmp_path):
    learner = tmp_path / "network.py"
    learner.write_text("import socket\n\ndef linear_forward(A, W, b):\n"
                       "    socket.create_connection(('127.0.0.1', 9))\n    return W @ A + b, (A, W, b)\n")
    result = _cli(str(learner))
    assert result.returncode == 1
    assert "PermissionError: check runs your code without network access" in result.stdout


def test_a_file_with_none_of_the_course_functions_says_so(tmp_path):
    learner = tmp_path / "other.py"
    learner.write_text("def hello():\n    return 1\n")
    result = _cli(str(learner))
    assert result.returncode == 2 and "found none of the course's functions" in result.stderr


def test_a_syntax_error_in_a_notebook_names_the_cell(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
                          {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["import numpy as np\n"]},
                          {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": ["%time\n", "def linear_forward(A, W, b)\n", "    return W @ A + b\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps(notebook))
    result = _cli(str(path))
    assert result.returncode == 2 and "cell 3, line 2: SyntaxError" in result.stderr


# --- the command line and the Python API -----------------------------------------------------


def test_json_for_graders():
    result = _cli("mistake_missing_one_over_m.py", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    functions = {f["name"]: f for f in report["functions"]}
    assert report["exit_status"] == 1 and functions["linear_backward"]["status"] == "wrong"
    assert {g["kind"] for g in functions["linear_backward"]["findings"]} == {"missing_one_over_m"}
    assert functions["linear_forward"]["status"] == "ok"


def test_the_text_report_has_a_table_and_a_fix():
    result = _cli("mistake_transposed.py")
    assert result.returncode == 1
    assert "linear_backward             ✘" in result.stdout
    assert "fix: dW = (1/m) np.dot(dZ, A_prev.T)" in result.stdout


def test_check_functions_in_a_notebook_namespace():
    """The Python API on functions defined here: one correct linear_backward and one whose db
    is summed over the wrong axis, written as a learner would."""
    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        return np.dot(W.T, dZ), np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m

    def wrong_axis(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        return np.dot(W.T, dZ), np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=0, keepdims=True) / m

    assert check_functions({"linear_backward": linear_backward}).status == "ok"
    report = check_functions({"linear_backward": wrong_axis})
    assert report["linear_backward"].kinds == ("wrong_axis",) and report.exit_status == 1
    assert set(report.not_found) == set(CHECKS) - {"linear_backward"}


def test_a_raising_function_in_a_namespace_names_its_line():
    def linear_forward(A, W, b):
        raise ValueError("not yet")

    finding = check_functions({"linear_forward": linear_forward})["linear_forward"].findings[0]
    assert finding.kind == "raised" and "ValueError: not yet" in finding.message
    assert "raise ValueError" in finding.message


# --- the parts --------------------------------------------------------------------------------


def test_the_course_gradient_check_metric_reproduces_its_published_value():
    """gradient_check_n_test_case with the assignment's two planted bugs prints 0.2850931567761623."""
    r = np.random.RandomState(1)
    X, Y = r.randn(4, 3), np.array([[1, 1, 0]])
    params = {}
    for l, shape in zip((1, 2, 3), ((5, 4), (3, 5), (1, 3))):
        params[f"W{l}"], params[f"b{l}"] = r.randn(*shape), r.randn(shape[0], 1)
    from chainrule.check.course2 import _course_gradients
    grads = _course_gradients(X, Y, params)
    grads = dict(grads, dW2=2 * grads["dW2"], db1=4 * grads["db1"])
    assert _difference(X, Y, params, grads, 1e-7) == pytest.approx(0.2850931567761623, rel=1e-7)


def test_relate_names_factors_transposes_and_lost_axes():
    rng = np.random.default_rng(0)
    want = rng.standard_normal((3, 4))
    assert relate(want / 7, want).kind == "scaled" and factor_name(relate(want / 7, want).factor, 7) == "1/m"
    assert factor_name(relate(7 * want, want).factor, 7) == "m"
    assert factor_name(relate(-want, want).factor, 7) == "−1"
    assert relate(want.T, want).kind == "transposed"
    column = want[:, :1]
    assert relate(column.ravel(), column).kind == "flat"
    assert relate(want + 1e-3, want).kind == "differs"
    assert relate(None, want).kind == "missing"


def test_call_sees_arguments_changed_in_place():
    def relu_backward(dA, cache):
        dA[cache <= 0] = 0
        return dA

    dA, Z = np.ones((2, 3)), np.array([[1.0, -1.0, 2.0], [-2.0, 3.0, 0.0]])
    result = call(relu_backward, dA, Z)
    assert result.changed == ("dA",) and np.all(dA == 1)          # the caller's array is untouched


def test_only_definitions_run_unless_asked(tmp_path):
    path = tmp_path / "learner.py"
    path.write_text("import numpy as np\nlayers_dims = [5, 4, 1]\ndef f():\n    return 1\nprint('training')\n"
                    "parameters = L_layer_model()\n")
    modules, note, skipped = definitions(read_source(path))
    assert len(modules) == 3 and "skipped 2 top-level statements" in note and skipped == {"parameters": 6}
    assert len(definitions(read_source(path), run_all=True)[0]) == 5


def test_a_notebook_line_is_named_by_cell(tmp_path):
    cells = [{"cell_type": "markdown", "source": "x"},
             {"cell_type": "code", "source": ["a = 1\n", "b = 2\n"]},
             {"cell_type": "code", "source": "!ls\nc = 3"}]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells, "nbformat": 4}))
    source = read_source(path)
    assert source.where(4) == "cell 3, line 2" and source.line(4) == "c = 3" and source.line(3) == ""


def test_unreadable_files_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(UnusableFile, match="must be a .py or an .ipynb"):
        read_source(tmp_path / "x.txt")
    with pytest.raises(UnusableFile, match="no such file"):
        read_source(tmp_path / "x.py")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(UnusableFile, match="is not a Jupyter notebook"):
        read_source(bad)


def test_run_all_runs_the_driver_code(tmp_path):
    path = tmp_path / "learner.py"
    path.write_text("import numpy as np\ndef linear_forward(A, W, b):\n    return np.dot(W, A) + b, (A, W, b)\n"
                    "linear_forward(1, 2)\n")
    assert _cli(str(path)).returncode == 0
    result = _cli(str(path), "--run-all")
    assert result.returncode == 2 and "TypeError" in result.stderr and "line 4" in result.stderr


def test_bad_flags_are_one_sentence():
    result = _cli("correct_deep.py", "--memory", "lots")
    assert result.returncode == 2 and "expected a size such as 2G or 512M" in result.stderr
    result = _cli("correct_deep.py", "--timeout", "-1")
    assert result.returncode == 2 and "positive number of seconds" in result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux enforces a limit on the address space")
def test_the_memory_limit_is_what_stops_an_allocation(tmp_path):
    """1.6 GB that the machine could give, refused under --memory 1G: the limit, not the machine, stops it."""
    learner = tmp_path / "greedy.py"
    learner.write_text("import numpy as np\n\ndef linear_forward(A, W, b):\n"
                       "    room = np.ones(200_000_000)\n    return np.dot(W, A) + b, (A, W, b)\n")
    result = _cli(str(learner), "--memory", "1G")
    assert result.returncode == 2 and "(1 GiB; --memory gives more)" in result.stderr
    assert "line 4 in linear_forward" in result.stderr


def test_the_readme_transcripts_are_what_check_prints():
    """The README's transcripts of `chainrule check` are real: run again, they print the same
    (rounding figures such as "to 3e-16" aside, which depend on the BLAS)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    transcripts = re.findall(r"```\n\$ chainrule check (\S+)\n(.*?)```", readme, re.S)
    assert len(transcripts) >= 2
    for path, shown in transcripts:
        result = subprocess.run([sys.executable, "-m", "chainrule", "check", path], capture_output=True, text=True,
                                timeout=120, cwd=Path(__file__).parent.parent)
        def same(text):
            return re.sub(r"\d(\.\d+)?e-\d+", "#", text).strip()
        assert same(result.stdout) == same(shown), path


# --- what the review of the first version found ------------------------------------------------


def _learner(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


DEEP = (LEARNERS / "correct_deep.py").read_text()


def test_two_mistakes_in_two_layers_are_each_named(tmp_path, isolated_import_state):
    """A mistake above does not hide one below: dW[L] divided by m twice, and relu′ missing
    in the hidden layers, in one L_model_backward."""
    top = 'dA_prev_temp, dW_temp, db_temp = linear_activation_backward(dAL, current_cache, activation="sigmoid")'
    text = DEEP.replace(top, top + "\n    dW_temp = dW_temp / AL.shape[1]")
    text = text.replace("dZ = relu_backward(dA, activation_cache)", "dZ = dA")
    assert text.count("dW_temp / AL.shape[1]") == 1 and "dZ = dA\n" in text
    namespace, notes = load_learner(_learner(tmp_path, "two.py", text))
    findings = check_functions(namespace)["L_model_backward"].findings
    kinds = {f.kind: f for f in findings if f.status == "wrong"}
    assert set(kinds) == {"double_one_over_m", "missing_g_prime"}, findings
    assert kinds["double_one_over_m"].message.startswith("dW[l] is exactly 1/m") is False
    assert "dW[2] is exactly 1/m" in kinds["double_one_over_m"].message      # the top layer of the course's L = 2
    assert "db" not in kinds["double_one_over_m"].message.split(":")[0]


def test_the_absorbed_convention_is_recognised_in_dropout_backward_too(tmp_path, isolated_import_state):
    text = (LEARNERS / "correct_course2.py").read_text()
    start = text.index("def backward_propagation_with_dropout")
    body = text[start:text.index("\ndef ", start + 10)]
    absorbed = (body.replace("dZ3 = A3 - Y", "dZ3 = (A3 - Y) / m").replace("1. / m * ", "").replace("1./m * ", "")
                .replace("1 / m * ", ""))
    assert absorbed.count("/ m") == 1, absorbed
    namespace, _ = load_learner(_learner(tmp_path, "absorbed2.py", text.replace(body, absorbed)))
    report = check_functions(namespace)["backward_propagation_with_dropout"]
    assert report.status == "absorbed", report.to_json()


def test_the_older_notebooks_grads_keys_are_recognised(tmp_path, isolated_import_state):
    """The 2017–19 template stores grads["dA" + str(L)] = dA[L−1] and, in its loop,
    grads["dA" + str(l + 1)] = dA[l] for l = L−2 … 0."""
    text = DEEP.replace('grads["dA" + str(L - 1)]', 'grads["dA" + str(L)]').replace(
        'grads["dA" + str(l)] = dA_prev_temp', 'grads["dA" + str(l + 1)] = dA_prev_temp').replace(
        'grads["dA" + str(l + 1)], current_cache', 'grads["dA" + str(l + 2)], current_cache')
    assert text != DEEP
    namespace, _ = load_learner(_learner(tmp_path, "old.py", text))
    report = check_functions(namespace)["L_model_backward"]
    assert report.status == "ok" and "2017–19" in report.recognised, report.to_json()


def test_names_bound_at_the_top_without_a_call_are_defined(tmp_path, isolated_import_state):
    path = _learner(tmp_path, "alias.py", "import numpy as np\ndot = np.dot\nrelu = lambda Z: np.maximum(0, Z)\n"
                    "def linear_forward(A, W, b):\n    return dot(W, A) + b, (A, W, b)\n")
    namespace, _ = load_learner(path)
    assert check_functions(namespace).status == "ok"


def test_a_learner_function_that_exits_is_a_finding_not_a_lost_report():
    def linear_forward(A, W, b):
        sys.exit(3)

    finding = check_functions({"linear_forward": linear_forward})["linear_forward"].findings[0]
    assert finding.kind == "raised" and "SystemExit: 3" in finding.message


def test_a_result_that_cannot_be_compared_is_said_and_the_rest_checked():
    def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
        return {"difference": 0.0}

    def linear_forward(A, W, b):
        return np.dot(W, A) + b, (A, W, b)

    report = check_functions({"gradient_check_n": gradient_check_n, "linear_forward": linear_forward})
    assert report["gradient_check_n"].status == "wrong" and report["linear_forward"].status == "ok"


def test_check_functions_leaves_the_global_generator_as_it_was(isolated_import_state):
    namespace, _ = load_learner(LEARNERS / "correct_deep.py")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    check_functions(namespace)
    assert np.array_equal(np.random.get_state()[1], before)


def test_the_learners_code_starts_no_process(tmp_path):
    learner = _learner(tmp_path, "spawn.py", "import subprocess\n\ndef linear_forward(A, W, b):\n"
                       "    subprocess.run(['true'])\n    return W @ A + b, (A, W, b)\n")
    result = _cli(str(learner))
    assert result.returncode == 1 and "PermissionError: check runs your code without network access or new " \
        "processes (subprocess.Popen)" in result.stdout


@pytest.mark.skipif(os.name != "posix", reason="signals and process groups are POSIX")
def test_sigterm_stops_the_check_and_leaves_nothing_behind(tmp_path):
    import signal
    temporary = tmp_path / "tmp"                               # this run's own: other runs may check at the same time
    temporary.mkdir()
    before = set()
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "check", "broken_infinite_loop.py"],
                               cwd=LEARNERS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=str(temporary)))
    deadline, started = time.monotonic() + 30, set()
    while time.monotonic() < deadline and not started:        # until the checking process has started
        time.sleep(0.2)
        started = {p.name for p in temporary.glob("chainrule-check-*")} - before
    assert started
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143 and "Traceback" not in stderr
    assert {p.name for p in temporary.glob("chainrule-check-*")} == set()
    survivors = subprocess.run(["pgrep", "-f", started.pop()], capture_output=True, text=True).stdout
    assert survivors.strip() == ""                             # the child ran with its request in that folder


def test_a_sign_error_is_said_once_where_it_starts(isolated_import_state):
    """A negative dA[L] makes every dW, db, dA below it negative: one finding, not one per array."""
    findings = [f for f in _report("mistake_sign.py")["L_model_backward"].findings if f.status == "wrong"]
    assert len(findings) == 1 and "and so is every dW, db, dA below it" in findings[0].message


def test_a_sign_in_dA_prev_alone_leaves_dW_and_db_right():
    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        return -np.dot(W.T, dZ), np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m

    findings = check_functions({"linear_backward": linear_backward})["linear_backward"].findings
    assert [f.kind for f in findings] == ["sign"] and "dW, db are right" in findings[0].message


# --- what a new user's files showed ------------------------------------------------------------


def test_a_learner_computing_in_float32_is_right_to_its_precision():
    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = (1 / m * np.dot(dZ, A_prev.T)).astype(np.float32)
        return np.dot(W.T, dZ).astype(np.float32), dW, (np.sum(dZ, axis=1, keepdims=True) / m).astype(np.float32)

    assert check_functions({"linear_backward": linear_backward}).status == "ok"


def test_an_assignment_that_reads_a_skipped_statement_is_skipped_too(tmp_path, isolated_import_state):
    text = (LEARNERS / "correct_planar.py").read_text() + "\nX, Y = load_planar_dataset()\nshape_X = X.shape\n"
    namespace, notes = load_learner(_learner(tmp_path, "driver.py", text))
    assert check_functions(namespace).status == "ok"
    assert any("skipped the assignment at line" in n and "NameError" in n for n in notes)


def test_a_missing_data_library_gets_a_stand_in(tmp_path, isolated_import_state):
    path = _learner(tmp_path, "h5.py", "import numpy as np\nimport h5py_not_installed_anywhere\n"
                    "def linear_forward(A, W, b):\n    return np.dot(W, A) + b, (A, W, b)\n")
    with pytest.raises(UnusableFile, match="ModuleNotFoundError"):    # an unknown module stops the check…
        load_learner(path)
    saved = course_modules.STAND_INS
    course_modules.STAND_INS = (*saved, "h5py_not_installed_anywhere")
    try:                                                              # …a data library the course imports does not
        namespace, notes = load_learner(path)
    finally:
        course_modules.STAND_INS = saved
    assert check_functions(namespace).status == "ok" and any("stand-in" in n for n in notes)


def _notebook(tmp_path, name, cells):
    path = tmp_path / name
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                           "source": c} for c in cells], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_a_time_magic_cell_still_runs_and_a_scratch_cell_that_does_not_parse_is_skipped(tmp_path,
                                                                                       isolated_import_state):
    path = _notebook(tmp_path, "magic.ipynb", [
        "import numpy as np\n",
        "%%time\ndef linear_forward(A, W, b):\n    return np.dot(W, A) + b, (A, W, b)\n",
        "print(parameters['W1'\n"])
    namespace, notes = load_learner(path)
    assert check_functions(namespace)["linear_forward"].status == "ok"
    assert any("skipped cell 3: SyntaxError" in n for n in notes)


def test_return_order_signature_and_skipped_globals_are_named(tmp_path, isolated_import_state):
    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        return np.dot(dZ, A_prev.T) / m, np.sum(dZ, axis=1, keepdims=True) / m, np.dot(W.T, dZ)

    def linear_forward(A, W, b, extra):
        return np.dot(W, A) + b, (A, W, b)

    report = check_functions({"linear_backward": linear_backward, "linear_forward": linear_forward})
    assert report["linear_backward"].kinds == ("return_order",)
    assert "linear_forward(A, W, b, extra): it must take the course's arguments" in \
        report["linear_forward"].findings[0].message
    path = _learner(tmp_path, "globals.py", "import numpy as np\nscale = float('1')\n"
                    "def linear_forward(A, W, b):\n    return scale * np.dot(W, A) + b, (A, W, b)\n")
    namespace, _ = load_learner(path)
    message = check_functions(namespace)["linear_forward"].findings[0].message
    assert "scale is set at line 2, a statement check skipped" in message


def test_a_learning_rate_read_from_elsewhere_is_named():
    rate = 0.0075

    def update_parameters(parameters, grads, learning_rate):
        return {k: v - rate * grads["d" + k] for k, v in parameters.items()}

    finding = check_functions({"update_parameters": update_parameters})["update_parameters"].findings[0]
    assert "moves by 0.0075" in finding.message and "not by the learning_rate given" in finding.message


def test_an_endless_loop_under_a_path_that_is_not_ascii_is_located(tmp_path):
    folder = tmp_path / "dossier été"
    folder.mkdir()
    path = folder / "boucle ∞.py"
    path.write_text("import numpy as np\n\ndef linear_forward(A, W, b):\n    while True:\n        pass\n")
    result = _cli(str(path), "--timeout", "2")
    assert result.returncode == 2 and "your linear_forward was running, at line" in result.stderr


def test_a_run_all_that_trains_too_long_is_not_called_an_endless_loop(tmp_path):
    path = _learner(tmp_path, "training.py", "import time\nimport numpy as np\n\n"
                    "def linear_forward(A, W, b):\n    return np.dot(W, A) + b, (A, W, b)\n\ntime.sleep(30)\n")
    result = _cli(str(path), "--run-all", "--timeout", "2")
    assert result.returncode == 2 and "--run-all runs the file's training and tests too" in result.stderr
    assert "endless loop" not in result.stderr
