"""The playground's protocol, spoken over HTTP to a real server on a free port.

The expectations come from outside the server: the costs from ``chainrule.fit`` on data made
here with ``datasets.moons`` and ``datasets.split`` (the documented recipe: split with the
run's seed), the convention's effect from the notation contract (dW the same, dZ divided by
m), and the planted bugs' reach from what each bug is (a doubled 1/m is wrong in every layer;
a forgotten g′ in every layer below the output).
"""

import json
import re
import urllib.error
import urllib.request

import numpy as np
import pytest

import chainrule as cr
from chainrule import checkpoint, datasets
from chainrule.playground import start
from chainrule.playground.session import MAX_SESSIONS

# moons, 2-5-3-1 ReLU, Adam in mini-batches, L2 and dropout: every part of the loop at once
SPEC = {
    "data": {"name": "moons", "options": {"m": 200, "noise": 0.2, "seed": 3}, "test_fraction": 0.25},
    "network": {"hidden_layers": [5, 3], "hidden_activation": "relu", "output": "auto"},
    "train": {"optimizer": "adam", "learning_rate": 0.02, "mini_batch_size": 64, "lambd": 0.1,
              "keep_prob": 0.9, "init": "he", "seed": 7, "num_epochs": 30},
}
# full batch, tanh, no dropout: the arrays of one backward pass, and a smooth check
PLAIN = {
    "data": {"name": "circles", "options": {"m": 120, "noise": 0.1, "seed": 1}, "test_fraction": 0.0},
    "network": {"hidden_layers": [4, 3], "hidden_activation": "tanh"},
    "train": {"optimizer": "gd", "learning_rate": 0.5, "init": "xavier", "seed": 2, "num_epochs": 100},
}


@pytest.fixture(scope="module")
def url():
    address, stop = start()
    yield address.rstrip("/")
    stop()


def call(url, path, body=None, raw=None):
    """(status, JSON answer) of a GET, or a POST of ``body`` as JSON (or of ``raw`` bytes)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url + path, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def new_session(url, spec):
    status, answer = call(url, "/api/session", {"spec": spec})
    assert status == 200, answer
    return answer["session"], answer


def step(url, session, epochs, since=0):
    status, frame = call(url, "/api/step", {"session": session, "epochs": epochs, "since": since})
    assert status == 200, frame
    return frame


def fit_like_the_page(spec):
    """fit with the spec's configuration on data made here: moons/circles, then split with the run's seed."""
    data_spec, network, train = spec["data"], spec["network"], dict(spec["train"])
    data = datasets.load(data_spec["name"], **data_spec["options"])
    X, Y, X_test, Y_test = datasets.split(data.X, data.Y, data_spec["test_fraction"], train["seed"])
    config = cr.ModelConfig([2, *network["hidden_layers"], 1], network["hidden_activation"], "sigmoid")
    validation = (X_test, Y_test) if X_test.shape[1] else None
    return cr.fit(config, X, Y, cr.TrainConfig(**train), validation_data=validation), X


# --- training ------------------------------------------------------------------------------------


def test_the_costs_the_server_reports_are_fits_bit_for_bit(url):
    session, answer = new_session(url, SPEC)
    assert answer["frame"]["epoch"] == 0 and answer["frame"]["status"] == "ready"
    rows = {name: [] for name in cr.EpochRecord._fields}
    since = 0
    for epochs in (7, 13, 1, 50):                                  # the last asks for more than is left
        frame = step(url, session, epochs, since)
        for name in rows:
            rows[name] += frame["rows"][name]
        since = frame["epoch"]
    assert frame["epoch"] == 30 and frame["status"] == "completed" and frame["left"] == 0
    expected, _ = fit_like_the_page(SPEC)
    history = expected.history
    assert rows["epoch"] == list(range(30))
    for name in ("cost", "data_cost", "l2_cost", "accuracy", "val_cost", "val_accuracy", "learning_rate"):
        assert rows[name] == getattr(history, name).tolist(), name                # bit for bit
    assert step(url, session, 5, 30)["epoch"] == 30                             # a completed run stays put


def test_the_model_file_and_history_are_the_runs(url, tmp_path):
    session, _ = new_session(url, SPEC)
    step(url, session, 30)
    expected, _ = fit_like_the_page(SPEC)
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=model") as response:
        (tmp_path / "model.npz").write_bytes(response.read())
    saved = checkpoint.load(tmp_path / "model.npz")
    for (W, b), (W_fit, b_fit) in zip(saved.params, expected.params):
        assert np.array_equal(W, W_fit) and np.array_equal(b, b_fit)
    assert np.array_equal(saved.history.cost, expected.history.cost)
    assert saved.train.seed == 7 and saved.prep.data == "moons" and saved.prep.test_fraction == 0.25
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=history") as response:
        lines = response.read().decode().splitlines()
    assert lines[0].split(",") == list(cr.EpochRecord._fields)
    assert [float(line.split(",")[1]) for line in lines[1:]] == expected.history.cost.tolist()
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=latex") as response:
        latex = response.read().decode()
    assert r"\begin{align*}" in latex and r"\frac{1}{m}" in latex


def test_early_stopping_keeps_the_best_epoch_as_fit_does(url, tmp_path):
    """With patience and restore_best (its default), fit returns the best epoch's parameters:
    so do the page's pictures and its model file."""
    spec = {**SPEC, "train": {**SPEC["train"], "num_epochs": 300, "patience": 3, "learning_rate": 0.05}}
    expected, _ = fit_like_the_page(spec)
    assert expected.history.stop_reason == "early stopping"
    assert expected.history.best_epoch < len(expected.history.cost) - 1          # the best is not the last
    session, _ = new_session(url, spec)
    frame = step(url, session, 300)
    assert frame["status"] == "early stopping" and frame["epoch"] == len(expected.history.cost)
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=model") as response:
        (tmp_path / "model.npz").write_bytes(response.read())
    saved = checkpoint.load(tmp_path / "model.npz")
    for (W, b), (W_fit, b_fit) in zip(saved.params, expected.params):
        assert np.array_equal(W, W_fit) and np.array_equal(b, b_fit)
    assert saved.history.best_epoch == expected.history.best_epoch


def test_a_diverged_runs_model_file_is_the_kept_state_and_can_go_on(url, tmp_path):
    """After a divergence the file holds the parameters the guard kept, those at the start of the
    epoch with the lowest cost, as the state of a run of that many epochs, finite, with the
    history of those epochs; fit continues from it."""
    spec = {**PLAIN, "train": {**PLAIN["train"], "learning_rate": 300.0, "num_epochs": 200}}
    data_spec, train = spec["data"], spec["train"]
    data = datasets.load(data_spec["name"], **data_spec["options"])
    config = cr.ModelConfig([2, 4, 3, 1], "tanh", "sigmoid")
    with pytest.raises(cr.TrainingDiverged) as diverged:
        cr.fit(config, data.X, data.Y, cr.TrainConfig(**train))
    costs = diverged.value.history.cost
    best = int(np.nanargmin(np.where(np.isfinite(costs), costs, np.nan)))     # the guard's lowest cost
    session, _ = new_session(url, spec)
    assert step(url, session, 200)["status"] == "diverged"
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=model") as response:
        (tmp_path / "model.npz").write_bytes(response.read())
    saved = checkpoint.load(tmp_path / "model.npz")
    assert saved.state.epoch == best and len(saved.history) == best
    np.testing.assert_array_equal(saved.history.cost, costs[:best])
    for (W, b), (W_kept, b_kept) in zip(saved.state.params, diverged.value.params):
        assert np.array_equal(W, W_kept) and np.array_equal(b, b_kept)
    assert "diverged" in saved.notes and "training diverged" in saved.notes["diverged"]
    going_on = cr.fit(config, data.X, data.Y, cr.TrainConfig(**{**train, "learning_rate": 0.5, "num_epochs": 5}),
                      state=saved.state)
    assert np.all(np.isfinite(going_on.history.cost)) and going_on.state.epoch == best + 5


def test_a_run_that_diverges_after_good_epochs_saves_the_best_epochs_state(tmp_path):
    """Five good epochs, then a NaN cost judged by the run's own guard: the file holds the
    parameters at the start of the epoch with the lowest cost, as a run of that many epochs."""
    from chainrule.playground.session import Session
    from chainrule.playground.spec import prepare

    session = Session(prepare(PLAIN, None))
    assert session.step(5) == 5
    costs = session.history().cost
    best = int(np.argmin(costs))
    state = session.epochs.state
    with np.errstate(invalid="ignore"):
        session._after_epoch(cr.EpochRecord(5, *([np.nan] * (len(cr.EpochRecord._fields) - 1))), state)
    assert session.status == "diverged"
    (tmp_path / "model.npz").write_bytes(session.model_file())
    saved = checkpoint.load(tmp_path / "model.npz")
    assert best > 0 and saved.state.epoch == best and len(saved.history) == best
    np.testing.assert_array_equal(saved.history.cost, costs[:best])
    assert saved.notes["diverged"].endswith(f"Saved: the state after epoch {best - 1}, the optimizer's memory "
                                            f"not kept.")
    for (W, b), (W_kept, b_kept) in zip(saved.state.params, session.kept_params):
        assert np.array_equal(W, W_kept) and np.array_equal(b, b_kept)


# --- the 1/m ---------------------------------------------------------------------------------------


def inspect(url, session, name, examples="0,1,2"):
    status, answer = call(url, f"/api/inspect?session={session}&name={name}&examples={examples}")
    assert status == 200, answer
    return answer


def test_switching_the_convention_keeps_dW_and_divides_dZ_by_m(url):
    session, answer = new_session(url, PLAIN)
    m = answer["info"]["m"]
    assert m == 120
    step(url, session, 5)
    before = {name: inspect(url, session, name) for name in ("dW[1]", "db[2]", "dZ[3]", "dZ[1]", "dA[2]")}
    status, switched = call(url, "/api/convention", {"session": session, "convention": "absorbed"})
    assert status == 200 and switched["convention"] == "absorbed"
    after = {name: inspect(url, session, name) for name in before}
    for name in ("dW[1]", "db[2]"):                                      # ∂J either way: the same
        assert after[name]["convention"] == "absorbed"
        np.testing.assert_allclose(after[name]["values"], before[name]["values"], rtol=1e-12, atol=1e-17)
    for name in ("dZ[3]", "dZ[1]", "dA[2]"):                             # ∂L per example, then ∂J: m times smaller
        np.testing.assert_allclose(np.array(after[name]["values"]) * m, before[name]["values"], rtol=1e-12)
        assert after[name]["factor"] == m and after[name]["gap"] < 1e-12
    assert after["dZ[3]"]["columns"] == [0, 1, 2] and after["dW[1]"]["columns"] is None
    # training goes on from where it stood, under the other convention
    assert step(url, session, 3, 5)["epoch"] == 8


@pytest.mark.parametrize("convention, where", [
    ("deferred", {"J", "dW[3]", "db[3]", "dW[2]", "db[2]", "dW[1]", "db[1]"}),
    ("absorbed", {"J", "dZ[3]"}),
])
def test_the_equations_mark_the_1_over_m_where_it_enters(url, convention, where):
    session, _ = new_session(url, PLAIN)
    status, answer = call(url, f"/api/equations?session={session}&convention={convention}")
    assert status == 200 and answer["m"] == 120
    marked = {e["name"] for e in answer["equations"] if e["one_over_m"]}
    drawn = {e["name"] for e in answer["equations"] if 'class="one-over-m"' in e["mathml"]}
    assert marked == where and drawn == where
    nodes = {e["kind"] for e in answer["equations"] if e["name"][:2] in ("dZ", "dA")}
    assert nodes == ({"∂L per example"} if convention == "deferred" else {"∂J"})
    assert all(e["mathml"].startswith("<math>") for e in answer["equations"])


@pytest.mark.parametrize("bug, failing", [
    ("none", []),
    ("double-1/m", [1, 2, 3]),                  # every dW, db m times too small
    ("no-1/m", [1, 2, 3]),
    ("missing-g-prime", [1, 2]),                # the output layer needs no g′
])
def test_a_planted_bug_fails_the_check_in_the_layers_it_is_in(url, bug, failing):
    session, _ = new_session(url, PLAIN)
    step(url, session, 3)
    status, answer = call(url, f"/api/gradcheck?session={session}&bug={bug}")
    assert status == 200, answer
    assert answer["failing_layers"] == failing
    assert answer["passed"] is (not failing)
    assert [layer["l"] for layer in answer["layers"]] == [1, 2, 3]


# --- data ------------------------------------------------------------------------------------------


def test_an_uploaded_csv_with_more_features_is_drawn_in_two_of_them(url):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 60))
    labels = np.where(X[0] + X[2] > 0, "yes", "no")
    text = "a,b,c,label\n" + "\n".join(f"{x:.4f},{y:.4f},{z:.4f},{c}" for x, y, z, c in zip(*X, labels))
    status, uploaded = call(url, "/api/upload?label=label&name=mine.csv", raw=text.encode())
    assert status == 200, uploaded
    assert uploaded["features"] == ["a", "b", "c"] and uploaded["classes"] == ["no", "yes"] and uploaded["m"] == 60
    spec = {"data": {"name": "upload", "upload": uploaded["upload"], "axes": [0, 2], "test_fraction": 0.2},
            "network": {"hidden_layers": [3]}, "train": {"num_epochs": 5, "seed": 1}}
    session, answer = new_session(url, spec)
    info = answer["info"]
    assert info["axes"] == [0, 2] and info["feature_names"] == ["a", "b", "c"] and info["standardized"]
    assert len(info["train_points"]["x"]) == 48 and len(info["test_points"]["x"]) == 12
    frame = step(url, session, 5)
    assert frame["epoch"] == 5 and frame["boundary"]["rows"] == 1


def test_softmax_on_two_classes_and_three_classes(url):
    session, answer = new_session(url, {**PLAIN, "network": {"hidden_layers": [4], "output": "softmax"}})
    assert answer["info"]["layer_dims"] == [2, 4, 2] and answer["frame"]["boundary"]["rows"] == 2
    spec = {"data": {"name": "blobs", "options": {"m": 90, "seed": 0}}, "network": {"hidden_layers": [4]},
            "train": {"num_epochs": 3}}
    session, answer = new_session(url, spec)
    assert answer["info"]["output"] == "softmax" and answer["info"]["classes"] == ["0", "1", "2"]


def test_the_first_columns_are_shown_when_there_are_fewer_than_three(url):
    spec = {**PLAIN, "data": {"name": "circles", "options": {"m": 2, "seed": 1}, "test_fraction": 0.0}}
    session, answer = new_session(url, spec)
    assert answer["info"]["m"] == 2
    status, shown = call(url, f"/api/inspect?session={session}&name=dZ[1]")
    assert status == 200, shown
    assert shown["columns"] == [0, 1] and np.shape(shown["values"]) == (4, 2)


def test_one_run_answers_requests_from_many_threads_at_once(url):
    """The page keeps two steps in flight and may switch the convention, inspect, check and
    download meanwhile: every answer is 200 and the history holds each epoch once, in order."""
    from concurrent.futures import ThreadPoolExecutor

    session, _ = new_session(url, {**SPEC, "train": {**SPEC["train"], "num_epochs": 400}})
    asks = [("/api/step", {"session": session, "epochs": 7, "since": 0}),
            ("/api/convention", {"session": session, "convention": "absorbed"}),
            (f"/api/inspect?session={session}&name=dZ[2]", None),
            ("/api/convention", {"session": session, "convention": "deferred"}),
            (f"/api/gradcheck?session={session}&bug=none", None),
            (f"/api/download?session={session}&what=latex", None)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda ask: _status(url, *ask), asks * 8))
    assert statuses == [200] * len(statuses)
    with urllib.request.urlopen(f"{url}/api/download?session={session}&what=history") as response:
        epochs = [int(line.split(",")[0]) for line in response.read().decode().splitlines()[1:]]
    assert epochs == list(range(8 * 7))


def _status(url, path, body):
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_sessions_are_bounded(url):
    first, _ = new_session(url, PLAIN)
    for _ in range(MAX_SESSIONS):
        new_session(url, PLAIN)
    status, answer = call(url, "/api/step", {"session": first, "epochs": 1})
    assert status == 400 and "unknown session" in answer["error"]


# --- bad requests ------------------------------------------------------------------------------------


def spec_with(**parts):
    spec = json.loads(json.dumps(PLAIN))
    for part, value in parts.items():
        spec[part].update(value)
    return spec


BAD = [
    ("unknown data set", "/api/session", {"spec": spec_with(data={"name": "mnist"})}, "unknown data set 'mnist'"),
    ("m = 10⁹", "/api/session", {"spec": spec_with(data={"options": {"m": 10 ** 9}})}, "m (the number of examples)"),
    ("10 000 layers", "/api/session", {"spec": spec_with(network={"hidden_layers": [4] * 10_000})}, "at most 6 layers"),
    ("a million units", "/api/session", {"spec": spec_with(network={"hidden_layers": [10 ** 6]})}, "units"),
    ("10⁹ epochs", "/api/session", {"spec": spec_with(train={"num_epochs": 10 ** 9})}, "num_epochs"),
    ("a negative learning rate", "/api/session", {"spec": spec_with(train={"learning_rate": -1})}, "learning_rate"),
    ("an unknown option", "/api/session", {"spec": spec_with(train={"momentum": 0.9})}, "unknown training option"),
    ("an unknown optimizer", "/api/session", {"spec": spec_with(train={"optimizer": "lbfgs"})}, "lbfgs"),
    ("a list as an option", "/api/session", {"spec": spec_with(train={"seed": [1, 2]})}, "seed must be"),
    ("an unknown session", "/api/step", {"session": "nope", "epochs": 1}, "unknown session"),
    ("an upload named by a link", "/api/session", {"spec": spec_with(data={"name": "upload"})},
     "a link does not hold the file"),
    ("an upload the server lost", "/api/session", {"spec": spec_with(data={"name": "upload", "upload": "0f"})},
     "upload it again"),
]


@pytest.mark.parametrize("what, path, body, words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_request_is_answered_400_in_one_sentence(url, what, path, body, words):
    status, answer = call(url, path, body)
    assert status == 400
    _one_sentence(answer["error"], words)
    assert call(url, "/api/schema")[0] == 200                       # and the server goes on


def _one_sentence(message, words):
    assert words in message, message
    assert "\n" not in message and "Traceback" not in message and len(message) < 400, message


@pytest.mark.parametrize("raw, words", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_bad_json_is_answered_400(url, raw, words):
    status, answer = call(url, "/api/session", raw=raw)
    assert status == 400
    _one_sentence(answer["error"], words)


@pytest.mark.parametrize("csv, label, words", [
    (b"a,b,label\n1,2,x\n3,4,y\n", "missing", "has no column 'missing'"),
    (b"a,b,label\n1,2,x\n3,oops,y\n", "label", "oops"),
    (b"a,b,label\n1,\xff2,x\n", "label", "not UTF-8"),
    (b"a,label\n1,x\n2,y\n", "label", "one feature"),
    (b"", "label", "mine.csv"),
])
def test_a_malformed_csv_upload_is_answered_400(url, csv, label, words):
    status, answer = call(url, f"/api/upload?label={label}&name=mine.csv", raw=csv)
    assert status == 400
    _one_sentence(answer["error"], words)
    assert "chainrule-playground-" not in answer["error"]            # no temporary path in the sentence
    assert call(url, "/api/schema")[0] == 200


def test_bad_questions_about_a_session_are_answered_400(url):
    session, _ = new_session(url, PLAIN)
    for path, words in [
        (f"/api/inspect?session={session}&name=dW[9]", "not an array of this network"),
        (f"/api/inspect?session={session}&name=rm%20-rf", "no array to show"),
        (f"/api/inspect?session={session}&name=dZ[1]&examples=0,5000", "examples must be"),
        (f"/api/gradcheck?session={session}&bug=off-by-one", "unknown bug"),
        (f"/api/download?session={session}&what=passwords", "unknown download"),
        (f"/api/equations?session={session}&convention=sideways", "convention must be"),
    ]:
        status, answer = call(url, path)
        assert status == 400, path
        _one_sentence(answer["error"], words)
    status, answer = call(url, "/api/step", {"session": session, "epochs": 10 ** 9})
    assert status == 400 and "epochs must be" in answer["error"]
    assert call(url, "/api/nothing")[0] == 404


# --- nothing leaves the machine -------------------------------------------------------------------------


def test_the_page_fetches_nothing_from_elsewhere(url):
    with urllib.request.urlopen(url + "/") as response:
        html = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert referenced and all(ref.startswith("/") or ref.startswith("data:") for ref in referenced), referenced
    texts = [html]
    for ref in referenced:
        if ref.startswith("/static/"):
            with urllib.request.urlopen(url + ref) as response:
                texts.append(response.read().decode())
    assert len(texts) == 3                                              # the page, its script, its style sheet
    for text in texts:
        for found in re.findall(r"https?://[^\s\"'`)]+", text):
            assert found.startswith(url), found


# --- the command ----------------------------------------------------------------------------------


def test_the_command_serves_until_ctrl_c_and_refuses_a_port_in_use():
    """chainrule playground --no-browser prints its address, serves the page there, stops on
    Ctrl-C with status 0; a port already taken is one line on stderr and status 2."""
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "chainrule", "playground", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        address = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert address, line
        with urllib.request.urlopen(address.group(0), timeout=10) as response:
            assert response.status == 200 and b"chainrule" in response.read()
        taken = subprocess.run([sys.executable, "-m", "chainrule", "playground", "--no-browser", "--port",
                                address.group(1)], capture_output=True, text=True, timeout=60)
        assert taken.returncode == 2 and len(taken.stderr.strip().splitlines()) == 1
        assert f"cannot serve on 127.0.0.1:{address.group(1)}" in taken.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
