"""The playground in a real browser: headless Chromium driven by Playwright.

What the page shows is read as text and compared with what ``chainrule.fit`` computes here, on
data made here, so the test holds the page to the library's numbers; the convention and the
planted bug are read off the page's panels. Waits are for states the page declares
(``body[data-state]``, the panels' data attributes), never for a time.
"""

import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

import chainrule as cr
from chainrule import checkpoint, datasets
from chainrule.playground import start
from chainrule.playground.session import MAX_SESSIONS

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "Chromium is not installed: .ci/run installs it (apt-get install chromium)"
if not CHROMIUM.exists():
    pytest.skip(INSTALL, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed: pip install 'chainrule[test]'")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
README_SHOT = Path(__file__).resolve().parents[1] / "docs" / "playground.png"   # CHAINRULE_README_SHOT=1 rewrites it
WAIT_MS = 20_000

# moons, 2-5-3-1 ReLU, Adam in mini-batches with L2 and dropout, 40 epochs, 7 per frame
MOONS = {"data": "moons", "data.m": 200, "data.noise": 0.2, "data.seed": 3, "test_fraction": 0.25,
         "hidden_layers": "5,3", "hidden_activation": "relu", "optimizer": "adam", "learning_rate": 0.02,
         "mini_batch_size": 64, "lambd": 0.1, "keep_prob": 0.9, "init": "he", "seed": 7, "num_epochs": 40, "epf": 7}
# circles, 2-4-3-1 tanh, full batch: m = 120 in every dZ
CIRCLES = {"data": "circles", "data.m": 120, "data.noise": 0.1, "data.seed": 1, "test_fraction": 0,
           "hidden_layers": "4,3", "hidden_activation": "tanh", "optimizer": "gd", "learning_rate": 0.5,
           "init": "xavier", "seed": 2, "num_epochs": 100}


@pytest.fixture(scope="module")
def url():
    address, stop = start()
    yield address
    stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots():
    """A temporary folder for screenshots; CHAINRULE_SHOTS=folder keeps them there instead."""
    kept = os.environ.get("CHAINRULE_SHOTS")
    folder = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="chainrule-playground-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    if not kept:
        shutil.rmtree(folder, ignore_errors=True)


class Page:
    """A page of the playground that records every request and every script error."""

    def __init__(self, browser, url, hash_="", size=(1280, 800)):
        self.origin = url
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        self.requests, self.errors = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url + hash_)
        self.wait_state("ready")

    def wait_state(self, state):
        self.page.wait_for_selector(f"body[data-state={state}]", timeout=WAIT_MS)

    def until(self, expression, seconds=60):
        """Poll ``expression`` until it is true (the page's CSP forbids wait_for_function's eval)."""
        for _ in range(seconds * 10):
            if self.page.evaluate(expression):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{expression} stayed false for {seconds} s")

    def text(self, selector):
        return self.page.text_content(selector).strip()

    def train_to_the_end(self):
        self.page.keyboard.press("Space")
        self.wait_state("done")

    def close(self):
        assert self.errors == []
        mine = (self.origin, "data:", "blob:" + self.origin.rstrip("/"))        # a download is saved from a blob
        assert self.requests and all(r.startswith(mine) for r in self.requests), \
            [r for r in self.requests if not r.startswith(mine)]
        self.page.close()


@pytest.fixture
def open_page(browser, url):
    pages = []

    def opened(hash_="", size=(1280, 800)):
        pages.append(Page(browser, url, hash_, size))
        return pages[-1]

    yield opened
    for page in pages:
        page.close()


def link(options):
    return "#" + urlencode(options)


def fit_of(options):
    """fit with the options of a link, on the data set made here and split with the run's seed."""
    data_options = {key[5:]: value for key, value in options.items() if key.startswith("data.")}
    data = datasets.load(options.get("data", "flower"), **data_options)
    seed = options.get("seed", 0)
    X, Y, X_test, Y_test = datasets.split(data.X, data.Y, options.get("test_fraction", 0.2), seed)
    hidden = [int(n) for n in str(options.get("hidden_layers", "8,8")).split(",")]
    config = cr.ModelConfig([2, *hidden, 1], options.get("hidden_activation", "tanh"), "sigmoid")
    fields = {f.name for f in cr.TrainConfig.__dataclass_fields__.values()}
    train = {"optimizer": "adam", "learning_rate": 0.01, "init": "xavier", "num_epochs": 5000}   # the page's first run
    train.update({key: value for key, value in options.items() if key in fields})
    return cr.fit(config, X, Y, cr.TrainConfig(**train), validation_data=(X_test, Y_test) if X_test.shape[1] else None)


def numbers(page, selector):
    """The numbers of the table cells under ``selector``, as the page shows them."""
    return np.array([float(cell) for cell in page.page.locator(selector).all_text_contents()])


# --- the page trains what fit trains -----------------------------------------------------------------


def test_the_cost_the_page_shows_is_fits(open_page):
    page = open_page(link(MOONS))
    page.train_to_the_end()
    history = fit_of(MOONS).history
    assert page.text("#epoch") == "40"
    assert page.text("#cost") == f"{history.cost[-1]:.6f}"
    assert page.text("#test-cost") == f"{history.val_cost[-1]:.6f}"
    assert page.text("#train-acc") == f"{100 * history.accuracy[-1]:.2f} %"
    drawn = page.page.evaluate("""() => {
        const canvas = document.getElementById('boundary');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const colours = new Set();
        let white = 0;
        for (let i = 0; i < data.length; i += 4 * 7) {
            colours.add(data[i] >> 4 << 8 | data[i + 1] >> 4 << 4 | data[i + 2] >> 4);
            if (data[i] > 250 && data[i + 1] > 250 && data[i + 2] > 250) white++;
        }
        return {colours: colours.size, white: white / (data.length / 28)};
    }""")
    assert drawn["colours"] > 20 and drawn["white"] < 0.5, drawn        # shaded regions and points, not blank


def test_a_link_restores_the_run(open_page, url):
    page = open_page("#" + urlencode({"num_epochs": 25, "epf": 5}))
    page.page.fill('[data-field="learning_rate"]', "0.03")
    page.page.press('[data-field="learning_rate"]', "Enter")
    page.page.wait_for_url(lambda address: "learning_rate=0.03" in address, timeout=WAIT_MS)
    page.page.click('button[aria-label="fewer hidden layers"]')           # 2-8-1
    page.page.wait_for_url(lambda address: "hidden_layers=8&" in address, timeout=WAIT_MS)
    page.wait_state("ready")
    page.train_to_the_end()
    shown = page.text("#cost")
    again = open_page(page.page.url[len(url):])
    again.train_to_the_end()
    assert again.text("#cost") == shown and again.text("#epoch") == "25"
    history = fit_of({"num_epochs": 25, "learning_rate": 0.03, "hidden_layers": "8"}).history
    assert shown == f"{history.cost[-1]:.6f}"


# --- the 1/m -----------------------------------------------------------------------------------------


def shown_array(page, name, convention):
    """Click ``name``'s equation (if another is shown) and read the array the page shows."""
    body = page.page.locator("#inspect-body")
    if body.get_attribute("data-name") != name:
        page.page.click(f'.eq[data-name="{name}"]')
    page.page.wait_for_selector(f'#inspect-body[data-name="{name}"][data-convention="{convention}"]', timeout=WAIT_MS)
    return numbers(page, "#inspect-body .current td")


def test_switching_the_convention_keeps_dW_and_divides_dZ_by_m(open_page, shots):
    page = open_page(link(CIRCLES))
    for key in ("s", "ArrowRight", "s"):
        epoch = int(page.text("#epoch"))
        page.page.keyboard.press(key)
        page.page.wait_for_selector(f'#epoch:text-is("{epoch + 1}")', timeout=WAIT_MS)
    m = 120
    assert f"m = {m}" in page.text("#eq-m")
    dW = shown_array(page, "dW[1]", "deferred")
    dZ = shown_array(page, "dZ[3]", "deferred")
    page.page.click('input[name="convention"][value="absorbed"]')
    page.page.wait_for_selector('body[data-convention="absorbed"]', timeout=WAIT_MS)
    dZ_absorbed = shown_array(page, "dZ[3]", "absorbed")
    np.testing.assert_allclose(dZ_absorbed * m, dZ, rtol=2e-5)            # 6 significant digits each
    assert f"m = {m}" in page.text("#gap")
    page.page.screenshot(path=str(shots / "convention.png"))
    dW_absorbed = shown_array(page, "dW[1]", "absorbed")
    np.testing.assert_allclose(dW_absorbed, dW, rtol=1e-5)
    gap = page.text("#gap")
    assert "the same" in gap and float(gap.split("= ")[1].split(" ")[0]) < 1e-12
    marked = set(page.page.eval_on_selector_all(".eq.one-over-m", "rows => rows.map(r => r.dataset.name)"))
    assert marked == {"J", "dZ[3]"}                                      # where absorbed puts the 1/m
    assert page.text("#epoch") == "3"


def test_a_planted_double_1_over_m_fails_the_check_in_every_layer(open_page):
    page = open_page(link(CIRCLES))
    page.page.select_option("#bug", "double-1/m")
    page.page.wait_for_selector(".gradcheck-card.failed", timeout=WAIT_MS)
    assert page.text("#verdict").startswith("✗ FAILED in layers 1, 2, 3: dW and db divided by m a second time")
    page.page.select_option("#bug", "none")
    page.page.wait_for_selector(".gradcheck-card.passed", timeout=WAIT_MS)
    assert page.text("#verdict").startswith("✓ passed")


# --- what a teacher does wrong, and the page says -----------------------------------------------------


def test_a_refused_value_is_said_in_view_and_the_controls_go_back_to_the_run(open_page):
    page = open_page(link({"num_epochs": 50, "epf": 5}))
    page.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")       # the message is seen from anywhere
    page.page.fill('[data-field="learning_rate"]', "-1")
    page.page.press('[data-field="learning_rate"]', "Enter")
    page.page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    assert "learning_rate must be a positive number; got -1" in page.text("#error-text")
    box = page.page.locator("#error").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 800
    assert page.page.input_value('[data-field="learning_rate"]') == "0.01"      # what the run shown trains with
    assert "learning_rate" not in page.page.url
    page.page.fill('[data-field="lambd"]', "0.1")                                 # the next change is not refused
    page.page.press('[data-field="lambd"]', "Enter")
    page.page.wait_for_url(lambda address: "lambd=0.1" in address, timeout=WAIT_MS)
    page.until("document.getElementById('error').hidden")


def test_a_diverging_run_says_so_and_its_numbers_fit_their_boxes(open_page):
    page = open_page(link({"optimizer": "gd", "learning_rate": 1e6, "num_epochs": 50}))
    page.train_to_the_end()
    assert page.text("#status").startswith("training diverged: the cost rose from")
    card = page.page.locator(".curves-card").bounding_box()
    for number in ("#cost", "#test-cost"):                                  # seven digits, not a dozen
        box = page.page.locator(number).bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"], number
    assert float(page.text("#cost")) > 1000
    status = page.page.locator("#status").bounding_box()
    assert status["width"] > 0.8 * 1280                                   # the sentence on a line of its own


def test_space_plays_after_a_click_and_a_convention_switch_keeps_training(open_page):
    page = open_page(link({**CIRCLES, "num_epochs": 100_000, "epf": 1}))
    page.page.click("#check")                                   # the focus must not stay on "Check"
    page.page.wait_for_selector(".gradcheck-card.passed", timeout=WAIT_MS)
    page.page.keyboard.press("Space")
    page.wait_state("running")
    page.page.click('input[name="convention"][value="absorbed"]')
    page.page.wait_for_selector('body[data-convention="absorbed"]', timeout=WAIT_MS)
    epoch = int(page.text("#epoch"))
    page.until(f"window.playground.frame.epoch > {epoch}")                       # it trains on, absorbed
    assert page.page.evaluate("document.body.dataset.state") == "running"
    page.page.keyboard.press("Space")                                            # and space still pauses
    page.wait_state("paused")
    assert "paused" in page.text("#status")


def test_downloads_are_the_run_and_a_dropped_run_is_said(open_page, url, tmp_path):
    page = open_page(link({**CIRCLES, "num_epochs": 12}))
    page.train_to_the_end()
    with page.page.expect_download() as download:
        page.page.click("#dl-model")
    download.value.save_as(tmp_path / "model.npz")
    saved = checkpoint.load(tmp_path / "model.npz")
    assert saved.config.layer_dims == (2, 4, 3, 1) and len(saved.history.cost) == 12
    for _ in range(MAX_SESSIONS):                               # other pages' runs push this one out
        request = urllib.request.Request(url + "api/session", data=json.dumps({"spec": {}}).encode(), method="POST")
        urllib.request.urlopen(request, timeout=30).close()
    page.page.click("#dl-history")
    page.page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    assert page.text("#error-text").startswith("history.csv: unknown session")


def test_an_upload_survives_a_reload_and_many_units_fit_their_card(open_page, tmp_path):
    rows = "\n".join(f"{x},{(7 * x) % 11},{'a' if x % 3 else 'b'}" for x in range(40))
    (tmp_path / "mine.csv").write_text("u,v,kind\n" + rows + "\n")
    page = open_page(link({"hidden_layers": "32,4", "num_epochs": 5}))
    page.page.click("#upload-box summary")
    page.page.set_input_files("#csv-file", str(tmp_path / "mine.csv"))
    page.page.wait_for_selector("#csv-use:not([disabled])", timeout=WAIT_MS)
    page.page.click("#csv-use")
    page.page.wait_for_url(lambda address: "data=upload&upload=" in address, timeout=WAIT_MS)
    page.wait_state("ready")
    page.page.reload()
    page.wait_state("ready")
    assert page.page.evaluate("window.playground.info.feature_names") == ["u", "v"]
    assert page.page.evaluate("document.getElementById('error').hidden")
    overflow = page.page.evaluate("""() => {
        const card = document.querySelector('.network-card').getBoundingClientRect();
        return [...document.querySelectorAll('#network .unit')].filter((unit) => {
            const r = unit.getBoundingClientRect();
            return r.top < card.top || r.bottom > card.bottom;
        }).length;
    }""")
    assert overflow == 0                                        # 32 units drawn inside the network's card


# --- speed and looks ----------------------------------------------------------------------------------


def test_frames_per_second_and_screenshots(open_page, shots):
    """Frames drawn per second while training 2-8-8-1 on the flower (the first page), printed, not judged."""
    page = open_page()
    assert page.page.evaluate("window.playground.info.layer_dims.join('-')") == "2-8-8-1"
    page.page.keyboard.press("Space")
    page.wait_state("running")
    measured = page.page.evaluate("""() => new Promise((resolve) => {
        const start = performance.now(), drawn = window.playground.framesDrawn, epoch = window.playground.frame.epoch;
        let ticks = 0;
        const tick = (now) => {
            ticks++;
            if (now - start < 2000) requestAnimationFrame(tick);
            else resolve({seconds: (now - start) / 1000, frames: window.playground.framesDrawn - drawn,
                          ticks, epochs: window.playground.frame.epoch - epoch});
        };
        requestAnimationFrame(tick);
    })""")
    fps = measured["frames"] / measured["seconds"]
    print(f"\nplayground: {fps:.1f} frames/s drawn ({measured['ticks'] / measured['seconds']:.0f} animation "
          f"frames/s), {measured['epochs'] / measured['seconds']:.0f} epochs/s, 2-8-8-1 on the flower, "
          f"10 epochs per frame, {os.cpu_count()} cores")
    assert measured["frames"] >= 3                                       # it draws while it trains
    page.page.select_option("#epf", "100")
    page.until("window.playground.frame.epoch >= 1500")
    page.page.select_option("#epf", "10")                               # the counters at 10 per frame
    page.until("window.playground.frame.epoch >= 2100")
    page.page.keyboard.press("Space")
    page.wait_state("paused")
    page.page.click('.eq[data-name="dW[1]"]')
    page.page.wait_for_selector('#inspect-body[data-name="dW[1]"]', timeout=WAIT_MS)
    page.page.select_option("#bug", "double-1/m")
    page.page.wait_for_selector(".gradcheck-card.failed", timeout=WAIT_MS)
    page.page.evaluate("""() => {                                   // the equations from the backward pass on
        const list = document.getElementById('equations');
        list.scrollTop = [...list.querySelectorAll('.eq-section')].pop().offsetTop - list.offsetTop;
    }""")
    shot = README_SHOT if os.environ.get("CHAINRULE_README_SHOT") else shots / "playground.png"
    page.page.screenshot(path=str(shot))
    page.page.screenshot(path=str(shots / "full.png"), full_page=True)
    assert shot.stat().st_size > 50_000


def test_a_phone_sees_one_column(open_page, shots):
    page = open_page(size=(390, 844))
    boxes = page.page.evaluate("""() => ['boundary', 'equations', 'train-controls'].map((id) => {
        const r = document.getElementById(id).getBoundingClientRect();
        return [r.left, r.right, r.top];
    })""")
    for left, right, _ in boxes:
        assert left >= 0 and right <= 390 + 0.5                          # nothing wider than the screen
    assert boxes[0][2] < boxes[1][2] < boxes[2][2]            # the picture, then the equations, then the setup
    assert page.page.evaluate("document.documentElement.scrollWidth") <= 390
    page.page.screenshot(path=str(shots / "phone.png"), full_page=True)
