"use strict";
// chainrule playground. The page draws what the server computes with chainrule itself (every
// cost, boundary, array and equation), keeps the whole setup in the URL, and requests nothing
// from anywhere but its own server.

// Okabe–Ito colours (colour-blind safe). Class 0 orange and class 1 blue, as a sigmoid's output
// and the unit maps run from orange (low, negative) to blue (high, positive).
const COLORS = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#444444",
                "#882255", "#999933"];         // then two of Paul Tol's, so that ten classes (digits) differ
const RGB = COLORS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
const POSITIVE = RGB[1];
const NEGATIVE = RGB[0];
const PRIMARY = ["optimizer", "learning_rate", "num_epochs", "mini_batch_size", "init", "lambd", "keep_prob",
                 "decay", "seed"];                  // shown at once; the other fields under "More options"
const HIDDEN = ["convention"];                     // edited in the equations panel
const SECTION_TITLES = {forward: "Forward", cost: "Cost", backward: "Backward (in the order it runs)"};
const ROW_FIELDS = ["epoch", "cost", "data_cost", "l2_cost", "accuracy", "learning_rate", "val_cost", "val_accuracy"];
const MAX_POINTS = 4000;                           // history points kept for the curves (halved beyond)
const INSPECT_EVERY_MS = 400;                      // refresh of the array shown while training
const DEFAULT_EPF = 10;
const UNIT_PIXELS = 21;                            // a hidden unit's map: 21 × 21 points of the grid

const $ = (id) => document.getElementById(id);

const app = {
  schema: null, spec: null, session: null, info: null, frame: null, equations: null,
  playing: false, queue: Promise.resolve(), epf: DEFAULT_EPF,
  rows: null, framesDrawn: 0, drawTimes: [], epochTimes: [], dirty: false,
  selected: null, examples: "", inspectedAt: 0, inspecting: false, decoded: null, upload: null,
};
window.playground = app;                           // for tests and the curious

// --- the server -----------------------------------------------------------------------------

async function answered(path, init) {
  // The server's response, or an Error with its one sentence (or with why it could not answer).
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new Error("cannot reach the playground's server: is `chainrule playground` still running? " +
                    "(start it again, then reload the page)");
  }
  if (response.ok) return response;
  let refusal = null;
  try {
    refusal = (await response.json()).error;
  } catch (error) {
    // no JSON: said below
  }
  throw new Error(refusal || `the server answered ${response.status}`);
}

async function api(path, body, raw) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: {"Content-Type": raw ? "text/csv" : "application/json"},
    body: raw ? body : JSON.stringify(body),
  };
  const response = await answered(path, init);
  try {
    return await response.json();
  } catch (error) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
}

function showError(message, source = "setup") {
  // One message at a time, in a box that stays in view; ``source`` says what may clear it.
  const box = $("error");
  $("error-text").textContent = message;
  box.dataset.source = source;
  box.hidden = false;
}

function clearError(source) {
  // Hide the message (only one from ``source``, when given: a refused setup outlives an array shown).
  const box = $("error");
  if (source === undefined || box.dataset.source === source) box.hidden = true;
}

function setState(state) {
  document.body.dataset.state = state;
  $("play").textContent = state === "running" ? "❚❚" : "▶";
  $("play").setAttribute("aria-label", state === "running" ? "pause" : "play");
  if (app.frame && app.info) updateStatus();
}

const finished = (status) => !["ready", "running"].includes(status);

function idleState() {
  // The page's state when nothing trains: ready (epoch 0), paused, or done.
  if (finished(app.frame.status)) return "done";
  return app.frame.status === "ready" ? "ready" : "paused";
}

// --- the setup: spec <-> URL ------------------------------------------------------------------

function fieldOf(name) {
  return app.schema.train_fields.find((f) => f.name === name);
}

function parseValue(field, text) {
  // A control's text as the field's value: "none" or empty is null where the field may be None.
  if (field.kind === "bool") return text === true || text === "true";
  const trimmed = String(text).trim();
  if ((trimmed === "" || trimmed.toLowerCase() === "none") && field.optional) return null;
  if (trimmed === "") return field.default;
  if (field.kind === "int" || field.kind === "float") {
    const number = Number(trimmed);
    return Number.isFinite(number) ? number : trimmed;      // the server refuses it in a sentence
  }
  return trimmed;
}

function numberOr(text) {
  const number = Number(text);
  return text !== "" && Number.isFinite(number) ? number : text;
}

function specFromHash(hash) {
  const spec = structuredClone(app.schema.default_spec);
  const query = new URLSearchParams(hash.replace(/^#/, ""));
  if (query.has("data")) spec.data = {name: query.get("data"), options: {}, test_fraction: 0.2, axes: [0, 1]};
  for (const [key, value] of query) {
    if (key.startsWith("data.")) spec.data.options[key.slice(5)] = numberOr(value);
    else if (key === "upload") spec.data.upload = value;
    else if (key === "test_fraction") spec.data.test_fraction = numberOr(value);
    else if (key === "axes") spec.data.axes = value.split(",").map(numberOr);
    else if (key === "hidden_layers") spec.network.hidden_layers = value ? value.split(",").map(numberOr) : [];
    else if (key === "hidden_activation" || key === "output") spec.network[key] = value;
    else if (key === "epf") app.epf = Number.isInteger(Number(value)) && value > 0 && value <= 1000 ? Number(value) : DEFAULT_EPF;
    else if (fieldOf(key)) spec.train[key] = parseValue(fieldOf(key), value);
  }
  return spec;
}

function hashOf(spec) {
  const query = new URLSearchParams();
  query.set("data", spec.data.name);
  if (spec.data.upload) query.set("upload", spec.data.upload);        // while this server keeps the file
  for (const [key, value] of Object.entries(spec.data.options || {})) query.set(`data.${key}`, value);
  query.set("test_fraction", spec.data.test_fraction);
  if (spec.data.axes && (spec.data.axes[0] !== 0 || spec.data.axes[1] !== 1)) query.set("axes", spec.data.axes.join(","));
  query.set("hidden_layers", spec.network.hidden_layers.join(","));
  query.set("hidden_activation", spec.network.hidden_activation);
  query.set("output", spec.network.output);
  for (const field of app.schema.train_fields) {
    const value = spec.train[field.name];
    if (value !== undefined && value !== field.default) query.set(field.name, value === null ? "none" : value);
  }
  if (app.epf !== DEFAULT_EPF) query.set("epf", app.epf);
  return "#" + query.toString();
}

// --- controls ---------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function field(label, control, help) {
  const wrap = el("label", "field" + (control.type === "checkbox" ? " check" : ""));
  const name = el("span", "", label);
  if (help) wrap.title = help;
  wrap.append(name, control);
  return wrap;
}

function select(options, value, onChange) {
  const node = el("select");
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    const item = el("option", "", text);
    item.value = optionValue;
    node.append(item);
  }
  node.value = value;
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function textInput(value, onChange, placeholder) {
  const node = el("input");
  node.type = "text";
  node.value = value === null || value === undefined ? "" : String(value);
  if (placeholder !== undefined) node.placeholder = placeholder;
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function stepper(value, low, high, onChange, label) {
  const wrap = el("span", "stepper");
  const minus = el("button", "", "−");
  const plus = el("button", "", "+");
  const shown = el("output", "", String(value));
  minus.type = plus.type = "button";
  minus.setAttribute("aria-label", `fewer ${label}`);
  plus.setAttribute("aria-label", `more ${label}`);
  minus.disabled = value <= low;
  plus.disabled = value >= high;
  minus.addEventListener("click", () => onChange(value - 1));
  plus.addEventListener("click", () => onChange(value + 1));
  wrap.append(minus, shown, plus);
  return wrap;
}

function renderDataControls() {
  const box = $("data-controls");
  box.replaceChildren();
  const data = app.spec.data;
  const names = Object.keys(app.schema.datasets).map((n) => [n, app.schema.datasets[n].planar ? n : `${n} (real)`]);
  if (data.name === "upload") names.push(["upload", `upload: ${app.upload ? app.upload.name : "CSV"}`]);
  box.append(field("data set", select(names, data.name, (name) => {
    app.spec.data = {name, options: {}, test_fraction: data.test_fraction, axes: [0, 1]};
    changed();
  })));
  const known = (app.schema.datasets[data.name] || {options: {}}).options;
  for (const [option, fallback] of Object.entries(known)) {
    const value = option in data.options ? data.options[option] : fallback;
    const label = {m: "examples m", seed: "data seed"}[option] || option;      // the run's seed is Training's
    box.append(field(label, textInput(value, (text) => {
      app.spec.data.options[option] = numberOr(text.trim());
      changed();
    }, String(fallback))));
  }
  box.append(field("test fraction", textInput(data.test_fraction, (text) => {
    app.spec.data.test_fraction = numberOr(text.trim());
    changed();
  }), "the share of the examples held out as the test set (split with the run's seed)"));
  const features = app.info ? app.info.feature_names : [];
  if (features.length > 2) {
    const options = features.map((n, i) => [String(i), n]);
    for (const k of [0, 1]) {
      box.append(field(k === 0 ? "x axis" : "y axis", select(options, String(data.axes[k]), (value) => {
        app.spec.data.axes[k] = Number(value);
        changed();
      }), "the features drawn; the others are held at their training mean for the boundary"));
    }
  }
}

function renderNetworkControls() {
  const box = $("network-controls");
  box.replaceChildren();
  const network = app.spec.network;
  const limits = app.schema.limits;
  const layers = network.hidden_layers;
  box.append(field("hidden layers", stepper(layers.length, 0, limits.hidden_layers, (count) => {
    while (layers.length < count) layers.push(layers.length ? layers[layers.length - 1] : 4);
    layers.length = count;
    changed();
  }, "hidden layers")));
  layers.forEach((units, i) => {
    box.append(field(`units in [${i + 1}]`, stepper(units, 1, limits.units, (value) => {
      layers[i] = value;
      changed();
    }, `units in layer ${i + 1}`)));
  });
  box.append(field("activation", select(app.schema.hidden_activations, network.hidden_activation, (value) => {
    network.hidden_activation = value;
    changed();
  }), "g[l] of the hidden layers"));
  box.append(field("output", select(app.schema.outputs, network.output, (value) => {
    network.output = value;
    changed();
  }), "auto: sigmoid with binary cross-entropy for two classes, softmax with cross-entropy for more"));
}

function renderTrainControls() {
  const primary = $("train-controls");
  const more = $("train-more");
  primary.replaceChildren();
  more.replaceChildren();
  for (const spec of app.schema.train_fields) {
    if (HIDDEN.includes(spec.name)) continue;
    const value = spec.name in app.spec.train ? app.spec.train[spec.name] : spec.default;
    let control;
    const update = (raw) => {
      app.spec.train[spec.name] = parseValue(spec, raw);
      changed();
    };
    if (spec.kind === "choice") {
      const options = (spec.optional ? ["none"] : []).concat(spec.choices);
      control = select(options, value === null ? "none" : value, update);
    } else if (spec.kind === "bool") {
      control = el("input");
      control.type = "checkbox";
      control.checked = Boolean(value);
      control.addEventListener("change", () => update(control.checked));
    } else {
      control = textInput(value, update, spec.optional ? "none" : String(spec.default));
    }
    control.dataset.field = spec.name;
    (PRIMARY.includes(spec.name) ? primary : more).append(field(spec.name, control, spec.help));
  }
}

let changeTimer = null;

function changed() {
  // A control changed: a new run with the new setup (the URL follows once the server agrees).
  clearTimeout(changeTimer);
  changeTimer = setTimeout(() => { app.queue = app.queue.then(newSession); }, 30);
}

// --- a run --------------------------------------------------------------------------------------

function resetRows() {
  app.rows = Object.fromEntries(ROW_FIELDS.map((name) => [name, []]));
  app.epochTimes = [];
}

function refused(message) {
  // The server refused the setup: say why, and put the controls back to the run that goes on.
  if (!app.session) {
    showError(message);
    setState("error");
    return;
  }
  showError(`${message} (the controls are back to the setup of the run shown)`);
  app.spec = structuredClone(app.info.spec);
  history.replaceState(null, "", hashOf(app.spec));
  renderControls();
  setState(idleState());
}

function renderControls() {
  renderDataControls();
  renderNetworkControls();
  renderTrainControls();
}

async function newSession() {
  await pauseAndWait();
  setState("loading");
  let answer;
  try {
    answer = await api("/api/session", {spec: app.spec, drop: app.session});
  } catch (error) {
    showError(error.message);
    refused(error.message);
    return;
  }
  clearError();
  if (app.info && app.info.m !== answer.info.m) app.examples = "";      // other data: the first columns again
  app.session = answer.session;
  app.info = answer.info;
  app.spec = structuredClone(answer.info.spec);
  history.replaceState(null, "", hashOf(app.spec));
  resetRows();
  renderControls();
  setupNetwork();
  drawLegend();
  updateDownloads();
  setConvention(app.spec.train.convention);
  applyFrame(answer.frame);
  resetGradcheck();
  await loadEquations();
  if (app.selected) await inspect(app.selected);
  setState(finished(answer.frame.status) ? "done" : "ready");
}

function stepRequest(epochs, since) {
  return api("/api/step", {session: app.session, epochs, since});
}

async function playLoop() {
  // Two requests in flight: the server trains the next epochs while this frame travels and is drawn.
  if (app.playing || !app.session || finished(app.frame.status)) return;
  app.playing = true;
  setState("running");
  const session = app.session;
  const since = app.frame.epoch;
  const pending = [stepRequest(app.epf, since), stepRequest(app.epf, since)];
  for (;;) {
    let frame;
    try {
      frame = await pending.shift();
    } catch (error) {
      showError(error.message);
      break;
    }
    if (session !== app.session) return;
    const more = app.playing && !finished(frame.status);
    if (more) pending.push(stepRequest(app.epf, frame.epoch));
    if (frame.epoch >= app.frame.epoch) applyFrame(frame);
    if (!more) break;
    await nextPaint();
  }
  for (const request of pending) {
    try {
      const frame = await request;
      if (session === app.session && frame.epoch >= app.frame.epoch) applyFrame(frame);
    } catch (error) {
      showError(error.message);
    }
  }
  app.playing = false;
  setState(idleState());
}

function play() {
  app.queue = app.queue.then(() => { playLoop(); });
}

async function pauseAndWait() {
  app.playing = false;
  while (document.body.dataset.state === "running") await nextPaint();
}

function togglePlay() {
  if (app.playing) app.playing = false;
  else play();
}

function stepOnce() {
  if (app.playing) {
    app.playing = false;
    return;
  }
  app.queue = app.queue.then(async () => {
    if (!app.session || finished(app.frame.status)) return;
    try {
      applyFrame(await stepRequest(1, app.frame.epoch));
    } catch (error) {
      showError(error.message);
    }
    setState(idleState());
  });
}

function reset() {
  app.queue = app.queue.then(newSession);
}

function applyFrame(frame) {
  app.frame = frame;
  const rows = app.rows;
  const last = rows.epoch.length ? rows.epoch[rows.epoch.length - 1] : -1;
  frame.rows.epoch.forEach((epoch, i) => {
    if (epoch <= last) return;
    for (const name of ROW_FIELDS) rows[name].push(frame.rows[name][i]);
  });
  if (rows.epoch.length > MAX_POINTS) {
    for (const name of ROW_FIELDS) rows[name] = rows[name].filter((_, i) => i % 2 === 1 || i === rows[name].length - 1);
  }
  app.decoded = {probs: decode(frame.boundary.probs), units: frame.units.map((layer) => decode(layer.maps))};
  const now = performance.now();
  app.epochTimes.push([now, frame.epoch]);
  while (app.epochTimes.length > 2 && now - app.epochTimes[0][0] > 1500) app.epochTimes.shift();
  updateFigures();
  app.dirty = true;
  if (app.selected && !app.inspecting && now - app.inspectedAt > INSPECT_EVERY_MS) inspect(app.selected);
}

function decode(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const lastOf = (list) => (list.length ? list[list.length - 1] : null);
const fixed = (value, digits) => (value === null || value === undefined ? "–" : value.toFixed(digits));
// a cost to six decimals; a diverging one (≥ 1000) to seven significant digits, so that it fits its box
const costText = (value) => (value !== null && value !== undefined && Math.abs(value) >= 1000 ?
  value.toPrecision(7) : fixed(value, 6));
const percent = (value) => (value === null || value === undefined ? "–" : `${(100 * value).toFixed(2)} %`);

function updateFigures() {
  const rows = app.rows;
  const frame = app.frame;
  $("epoch").textContent = String(frame.epoch);
  $("cost").textContent = costText(lastOf(rows.cost));
  $("test-cost").textContent = costText(lastOf(rows.val_cost));
  $("train-acc").textContent = percent(lastOf(rows.accuracy));
  $("test-acc").textContent = percent(lastOf(rows.val_accuracy));
  updateStatus();
  const times = app.epochTimes;
  if (times.length > 1) {
    const [t0, e0] = times[0];
    const [t1, e1] = times[times.length - 1];
    if (t1 - t0 > 500 && app.playing) $("eps").textContent = Math.round((1000 * (e1 - e0)) / (t1 - t0)).toString();
  }
}

function updateStatus() {
  // The run's position in words: paused is the page's (the server only knows it is not finished).
  const frame = app.frame;
  const messages = {                                // the examples' counts are in the legend too
    ready: `${app.info.m} training and ${app.info.m_test} test examples · seed ${app.info.seed}`,
    running: `${app.playing ? "" : "paused · "}${frame.left} epochs to go`,
    completed: `completed: ${frame.epoch} epochs`,
  };
  const status = $("status");
  status.textContent = frame.message || messages[frame.status] || frame.status;
  status.className = "status " + frame.status.replace(" ", "-");
}

async function download(link) {
  // Fetch the file first, so that a refusal (a run the server no longer keeps) is said on the page
  // instead of being saved as the file.
  try {
    const blob = await (await answered(link.href)).blob();
    const url = URL.createObjectURL(blob);
    const save = el("a");
    save.href = url;
    save.download = link.getAttribute("download");
    save.click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    clearError("download");
  } catch (error) {
    showError(`${link.getAttribute("download")}: ${error.message}`, "download");
  }
}

function updateDownloads() {
  const base = `/api/download?session=${app.session}&what=`;
  $("dl-model").href = base + "model";
  $("dl-history").href = base + "history";
  $("dl-latex").href = base + "latex";
}

// --- drawing ------------------------------------------------------------------------------------

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

function drawLoop(now) {
  if (app.dirty && app.frame) {
    app.dirty = false;
    drawBoundary();
    drawUnits();
    drawCurves();
    app.framesDrawn += 1;
    app.drawTimes.push(now);
  }
  while (app.drawTimes.length && now - app.drawTimes[0] > 1000) app.drawTimes.shift();
  if (app.playing && now - (app.fpsShownAt || 0) > 500 && app.drawTimes.length > 1) {
    const span = (app.drawTimes[app.drawTimes.length - 1] - app.drawTimes[0]) / 1000;
    if (span > 0.5) $("fps").textContent = ((app.drawTimes.length - 1) / span).toFixed(0);
    app.fpsShownAt = now;
  }
  requestAnimationFrame(drawLoop);
}

function fitCanvas(canvas) {
  // The canvas's pixels follow its CSS size (× devicePixelRatio); drawing is in CSS pixels.
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return [context, canvas.clientWidth, canvas.clientHeight];
}

function classProbabilities(bytes, rows, size, i) {
  // p_c at grid point i: one sigmoid row holds p(class 1); softmax rows hold each class.
  if (rows === 1) {
    const p = bytes[i] / 255;
    return [1 - p, p];
  }
  const probs = [];
  for (let r = 0; r < rows; r++) probs.push(bytes[r * size + i] / 255);
  return probs;
}

let boundaryImage = null;
let boundaryFrame = null;

function boundaryPixels() {
  // The n × n picture of the class probabilities: each class's colour, paler where unsure.
  const {resolution: n, rows} = app.frame.boundary;
  const bytes = app.decoded.probs;
  if (boundaryFrame === app.frame) return boundaryImage;
  boundaryFrame = app.frame;
  if (!boundaryImage || boundaryImage.width !== n) {
    boundaryImage = document.createElement("canvas");
    boundaryImage.width = boundaryImage.height = n;
  }
  const context = boundaryImage.getContext("2d");
  const image = context.createImageData(n, n);
  const classes = rows === 1 ? 2 : rows;
  for (let i = 0; i < n * n; i++) {
    const probs = classProbabilities(bytes, rows, n * n, i);
    let top = 0;
    const mix = [0, 0, 0];
    probs.forEach((p, c) => {
      const rgb = RGB[c % RGB.length];
      for (let k = 0; k < 3; k++) mix[k] += p * rgb[k];
      top = Math.max(top, p);
    });
    const sure = (top - 1 / classes) / (1 - 1 / classes);
    const alpha = 0.16 + 0.5 * sure;
    for (let k = 0; k < 3; k++) image.data[4 * i + k] = 255 * (1 - alpha) + mix[k] * alpha;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return boundaryImage;
}

function toCanvas(x, y, width, height) {
  const [x0, x1, y0, y1] = app.info.extent;
  return [((x - x0) / (x1 - x0)) * width, ((y1 - y) / (y1 - y0)) * height];
}

function drawBoundary() {
  const canvas = $("boundary");
  const [context, width, height] = fitCanvas(canvas);
  const n = app.frame.boundary.resolution;
  const picture = boundaryPixels();
  // grid point i sits at i/(n−1) of the extent: pixel centres are placed there
  const cell = width / (n - 1);
  context.imageSmoothingEnabled = true;
  context.drawImage(picture, -cell / 2, -cell / 2, width + cell, height + cell);
  drawContours(context, width, height);
  context.drawImage(pointsLayer(canvas), 0, 0, width, height);
}

let points = {info: null, layer: null};

function pointsLayer(canvas) {
  // The examples and the axes, drawn once per run (and size) on a layer of their own.
  if (points.info === app.info && points.layer.width === canvas.width && points.layer.height === canvas.height) {
    return points.layer;
  }
  const layer = document.createElement("canvas");
  layer.width = canvas.width;
  layer.height = canvas.height;
  const ratio = window.devicePixelRatio || 1;
  const context = layer.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const [width, height] = [canvas.width / ratio, canvas.height / ratio];
  drawPoints(context, app.info.train_points, width, height, false);
  drawPoints(context, app.info.test_points, width, height, true);
  points = {info: app.info, layer};
  return layer;
}

function drawContours(context, width, height) {
  // The decision boundary itself: where p(class) = ½ for a sigmoid, where the arg-max changes for softmax.
  const {resolution: n, rows} = app.frame.boundary;
  const bytes = app.decoded.probs;
  const fields = [];
  if (rows === 1) fields.push((i) => bytes[i] / 255 - 0.5);
  else for (let c = 0; c < rows; c++) {
    fields.push((i) => {
      let other = 0;
      for (let r = 0; r < rows; r++) if (r !== c) other = Math.max(other, bytes[r * n * n + i]);
      return (bytes[c * n * n + i] - other) / 255;
    });
  }
  context.strokeStyle = "rgba(29, 35, 48, 0.75)";
  context.lineWidth = 1.5;
  context.beginPath();
  const sx = width / (n - 1);
  const sy = height / (n - 1);
  for (const f of fields) marchingSquares(n, f, (ax, ay, bx, by) => {
    context.moveTo(ax * sx, ay * sy);
    context.lineTo(bx * sx, by * sy);
  });
  context.stroke();
}

function marchingSquares(n, f, segment) {
  // The zero line of f on the n × n grid, as segments in grid units (x right, y down).
  const value = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) value[i] = f(i);
  const cross = (a, b) => a / (a - b);
  for (let y = 0; y < n - 1; y++) {
    for (let x = 0; x < n - 1; x++) {
      const a = value[y * n + x], b = value[y * n + x + 1];
      const c = value[(y + 1) * n + x + 1], d = value[(y + 1) * n + x];
      const points = [];
      if ((a > 0) !== (b > 0)) points.push([x + cross(a, b), y]);
      if ((b > 0) !== (c > 0)) points.push([x + 1, y + cross(b, c)]);
      if ((c > 0) !== (d > 0)) points.push([x + 1 - cross(c, d), y + 1]);
      if ((d > 0) !== (a > 0)) points.push([x, y + 1 - cross(d, a)]);
      if (points.length >= 2) segment(points[0][0], points[0][1], points[1][0], points[1][1]);
      if (points.length === 4) segment(points[2][0], points[2][1], points[3][0], points[3][1]);
    }
  }
}

function drawPoints(context, points, width, height, test) {
  const radius = width < 300 ? 2.5 : 3.4;
  for (let i = 0; i < points.x.length; i++) {
    const [px, py] = toCanvas(points.x[i], points.y[i], width, height);
    context.beginPath();
    context.arc(px, py, radius, 0, 2 * Math.PI);
    const color = COLORS[points.label[i] % COLORS.length];
    if (test) {
      context.fillStyle = "#ffffff";
      context.fill();
      context.lineWidth = 1.6;
      context.strokeStyle = color;
    } else {
      context.fillStyle = color;
      context.fill();
      context.lineWidth = 0.9;
      context.strokeStyle = "#ffffff";
    }
    context.stroke();
  }
}

function drawLegend() {
  const box = $("legend");
  box.replaceChildren();
  const classes = app.info.classes.length ? app.info.classes : ["0", "1"];
  classes.forEach((name, c) => {
    const item = el("span");
    const dot = el("span", "swatch");
    dot.style.background = COLORS[c % COLORS.length];
    item.append(dot, `class ${name}`);
    box.append(item);
  });
  const train = el("span");
  const trainDot = el("span", "swatch");
  trainDot.style.background = "#5d6575";
  train.append(trainDot, `training (${app.info.m})`);
  const test = el("span");
  const ring = el("span", "swatch ring");
  ring.style.borderColor = "#5d6575";
  test.append(ring, `test (${app.info.m_test})`);
  box.append(train);
  if (app.info.m_test) box.append(test);
  const [x0, x1, y0, y1] = app.info.extent;
  const [a, b] = app.info.axes;
  const names = app.info.feature_names;
  const range = (low, high) => `${low.toFixed(1)} … ${high.toFixed(1)}`;
  box.append(el("span", "range", `${names[a] || "x1"} → ${range(x0, x1)} · ${names[b] || "x2"} ↑ ${range(y0, y1)}` +
    (app.info.standardized ? " (standardised)" : "")));
}

// --- the network drawing ---------------------------------------------------------------------------

const network = {nodes: [], canvas: null};

function setupNetwork() {
  // Columns of units: the inputs, then every layer; each hidden unit a small map of its output.
  const box = $("network");
  box.replaceChildren();
  const dims = app.info.layer_dims;
  const shownInputs = Math.min(dims[0], 10);
  const width = box.clientWidth || 500;
  const counts = [shownInputs, ...dims.slice(1)];
  const most = Math.max(...counts);
  box.style.height = "";
  const height = Math.max(box.clientHeight || 196, 26 + most * 10);   // 32 units: 8 px each, 2 between
  box.style.height = `${height}px`;                                    // taller only where they need it
  const size = Math.max(8, Math.min(30, Math.floor((height - 26) / most) - 4));
  const gap = Math.min(8, Math.max(2, Math.floor((height - 26 - most * size) / Math.max(1, most))));
  const longest = Math.max(2, ...app.info.feature_names.slice(0, shownInputs).map((name) => name.length));
  const left = Math.min(140, 16 + 6.2 * longest);            // room for the inputs' names
  const spacing = (width - left - size - 20) / Math.max(1, counts.length - 1);
  const links = el("canvas", "links");
  box.append(links);
  network.canvas = links;
  network.nodes = counts.map((count, l) => {
    const x = left + l * spacing;
    const top = 22 + (height - 22 - count * (size + gap) + gap) / 2;
    const label = el("div", "layer-label", layerTitle(l));
    label.style.left = `${x + size / 2}px`;
    label.style.top = "0px";
    box.append(label);
    return Array.from({length: count}, (_, j) => {
      const canvas = el("canvas", "unit");
      canvas.width = canvas.height = l === 0 ? 2 : UNIT_PIXELS;
      canvas.style.left = `${x}px`;
      canvas.style.top = `${top + j * (size + gap)}px`;
      canvas.style.width = canvas.style.height = `${size}px`;
      canvas.title = unitTitle(l, j);
      box.append(canvas);
      if (l === 0 && size + gap >= 12) {           // names only where they do not overlap (the title has it)
        const name = el("div", "unit-label", app.info.feature_names[j] || `x${j + 1}`);
        name.style.left = `${x}px`;
        name.style.top = `${top + j * (size + gap) + size / 2}px`;
        box.append(name);
      }
      if (l === 0) drawInput(canvas, j);
      return {x, y: top + j * (size + gap), size, canvas};
    });
  });
}

function layerTitle(l) {
  const dims = app.info.layer_dims;
  const L = dims.length - 1;
  if (l === 0) return `X (${dims[0]})`;
  if (l === L) return `A[${l}] ${app.info.output}`;
  return `A[${l}] ${app.spec.network.hidden_activation}`;
}

function unitTitle(l, j) {
  if (l === 0) return app.info.feature_names[j] || `x${j + 1}`;
  return `unit ${j + 1} of layer ${l}: A[${l}] row ${j + 1} over the plane`;
}

function drawInput(canvas, j) {
  // An input's map: the feature itself, low (orange) to high (blue) along its axis; grey if not shown.
  const context = canvas.getContext("2d");
  const [a, b] = app.info.axes;
  const image = context.createImageData(2, 2);
  const values = j === a ? [-1, 1, -1, 1] : j === b ? [1, 1, -1, -1] : [0, 0, 0, 0];
  values.forEach((v, i) => setDiverging(image.data, i, v));
  context.putImageData(image, 0, 0);
}

function setDiverging(data, i, v) {
  // v in [−1, 1]: orange (negative) through white to blue (positive).
  const rgb = v >= 0 ? POSITIVE : NEGATIVE;
  const t = Math.min(1, Math.abs(v));
  for (let k = 0; k < 3; k++) data[4 * i + k] = 255 + (rgb[k] - 255) * t;
  data[4 * i + 3] = 255;
}

function drawUnits() {
  const frame = app.frame;
  const L = app.info.layer_dims.length - 1;
  frame.units.forEach((layer, h) => {
    const bytes = app.decoded.units[h];
    const k = layer.resolution;
    network.nodes[h + 1].forEach((node, j) => {
      const context = node.canvas.getContext("2d");
      const image = context.createImageData(k, k);
      for (let i = 0; i < k * k; i++) setDiverging(image.data, i, (bytes[j * k * k + i] / 255) * 2 - 1);
      context.putImageData(image, 0, 0);
    });
  });
  const picture = boundaryPixels();
  network.nodes[L].forEach((node, j) => {
    const context = node.canvas.getContext("2d");
    if (frame.boundary.rows === 1) {
      context.imageSmoothingEnabled = true;
      context.drawImage(picture, 0, 0, UNIT_PIXELS, UNIT_PIXELS);
      return;
    }
    const n = frame.boundary.resolution;
    const image = context.createImageData(UNIT_PIXELS, UNIT_PIXELS);
    const rgb = RGB[j % RGB.length];
    const last = UNIT_PIXELS - 1;
    for (let y = 0; y < UNIT_PIXELS; y++) {
      for (let x = 0; x < UNIT_PIXELS; x++) {
        const i = Math.round((y * (n - 1)) / last) * n + Math.round((x * (n - 1)) / last);
        const p = app.decoded.probs[j * n * n + i] / 255;
        const at = 4 * (y * UNIT_PIXELS + x);
        for (let k = 0; k < 3; k++) image.data[at + k] = 255 + (rgb[k] - 255) * p;
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
  });
  drawLinks(frame.weights);
}

function drawLinks(weights) {
  // A line from unit k of layer l−1 to unit j of layer l for each W[l]_jk: blue +, orange −,
  // its width and opacity by |W[l]_jk| over the layer's largest.
  const [context, width, height] = fitCanvas(network.canvas);
  context.clearRect(0, 0, width, height);
  context.lineCap = "round";
  weights.forEach((W, index) => {
    const [before, after] = [network.nodes[index], network.nodes[index + 1]];
    let largest = 1e-12;
    for (const row of W) for (const w of row) largest = Math.max(largest, Math.abs(w));
    after.forEach((unit, j) => before.forEach((prev, k) => {
      const w = W[j][k];
      const t = Math.abs(w) / largest;
      context.strokeStyle = w >= 0 ? COLORS[1] : COLORS[0];
      context.globalAlpha = 0.15 + 0.75 * t;
      context.lineWidth = 0.4 + 3.2 * t;
      context.beginPath();
      context.moveTo(prev.x + prev.size, prev.y + prev.size / 2);
      context.lineTo(unit.x, unit.y + unit.size / 2);
      context.stroke();
    }));
  });
  context.globalAlpha = 1;
}

// --- curves -----------------------------------------------------------------------------------------

function drawChart(canvas, series, options) {
  const [context, width, height] = fitCanvas(canvas);
  context.clearRect(0, 0, width, height);
  const epochs = app.rows.epoch;
  const pad = {left: 44, right: 10, top: 8, bottom: 20};
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  let [low, high] = [Infinity, -Infinity];
  for (const s of series) {
    for (const v of s.values) {
      if (v === null || !Number.isFinite(v) || (options.log && v <= 0)) continue;
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  if (low > high) [low, high] = [options.log ? 0.1 : 0, 1];
  const xMax = Math.max(1, epochs.length ? epochs[epochs.length - 1] : 1);
  const trained = epochs.length ? epochs[epochs.length - 1] + 1 : 0;      // epoch i is the (i + 1)-th
  if (options.fixedHigh !== undefined) high = options.fixedHigh;
  if (options.log) {
    low = Math.log10(low || 1e-3);
    high = Math.log10(high || 1);
  }
  if (high - low < 1e-9) {
    low -= options.log ? 0.5 : 0.05;
    high += options.log ? 0.5 : 0.05;
  }
  const span = high - low;
  low -= 0.04 * span;
  high += 0.04 * span;
  const X = (epoch) => pad.left + (epoch / xMax) * plotW;
  const Y = (v) => pad.top + (1 - ((options.log ? Math.log10(v) : v) - low) / (high - low)) * plotH;
  context.font = "10.5px system-ui, sans-serif";
  context.fillStyle = "#5d6575";
  context.strokeStyle = "#e6e9ef";
  context.lineWidth = 1;
  context.textAlign = "right";
  context.textBaseline = "middle";
  for (const tick of ticks(low, high, options.log, plotH < 80 ? 2 : 4)) {
    const y = Y(tick);
    context.beginPath();
    context.moveTo(pad.left, y);
    context.lineTo(width - pad.right, y);
    context.stroke();
    context.fillText(options.format(tick), pad.left - 5, y);
  }
  context.textAlign = "center";
  context.textBaseline = "top";
  context.fillText("0", X(0), height - pad.bottom + 5);
  context.fillText(`${trained} epoch${trained === 1 ? "" : "s"}`, width - pad.right - 26, height - pad.bottom + 5);
  for (const s of series) {
    context.strokeStyle = s.color;
    context.lineWidth = s.width || 1.8;
    context.setLineDash(s.dash || []);
    context.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v) || (options.log && v <= 0)) {
        started = false;
        return;
      }
      if (started) context.lineTo(X(epochs[i]), Y(v));
      else context.moveTo(X(epochs[i]), Y(v));
      started = true;
    });
    context.stroke();
  }
  context.setLineDash([]);
}

function ticks(low, high, log, count) {
  if (log) {
    const found = [];
    for (let e = Math.floor(low); e <= Math.ceil(high); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (Math.log10(v) >= low && Math.log10(v) <= high) found.push(v);
      }
    }
    if (found.length > count + 2) return found.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
    if (found.length < 2) return [10 ** low, 10 ** high].map((v) => Number(v.toPrecision(2)));
    return found;
  }
  const step = niceStep((high - low) / count);
  const found = [];
  for (let v = Math.ceil(low / step) * step; v <= high; v += step) found.push(Number(v.toFixed(10)));
  return found;
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / power;
  return (ratio < 1.5 ? 1 : ratio < 3.5 ? 2 : ratio < 7.5 ? 5 : 10) * power;
}

function drawCurves() {
  const rows = app.rows;
  const withL2 = (app.spec.train.lambd || 0) > 0;
  const costSeries = [{values: rows.cost, color: COLORS[1], label: "training J"}];
  if (app.info.m_test) {
    costSeries.push({values: rows.val_cost, color: COLORS[0], dash: [5, 3], label: withL2 ? "test J (data part)" : "test J"});
  }
  if (withL2) {
    costSeries.push({values: rows.data_cost, color: COLORS[2], width: 1.2, dash: [2, 2], label: "data part"});
    costSeries.push({values: rows.l2_cost, color: COLORS[3], width: 1.2, dash: [2, 2], label: "L2 part"});
  }
  drawChart($("curves"), costSeries, {log: true, format: (v) => (v >= 0.01 && v < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(0))});
  const accuracy = [{values: rows.accuracy, color: COLORS[1]}];
  if (app.info.m_test) accuracy.push({values: rows.val_accuracy, color: COLORS[0], dash: [5, 3]});
  drawChart($("accuracy"), accuracy, {fixedHigh: 1, format: (v) => `${Math.round(v * 100)} %`});
  const legend = $("cost-legend");
  const key = costSeries.map((s) => `${s.label}|${s.color}|${(s.dash || []).join()}`).join(";");
  if (legend.dataset.key !== key) {
    legend.dataset.key = key;
    legend.replaceChildren(...costSeries.map((s) => {
      const item = el("span");
      const line = el("span", "swatch line" + (s.dash ? (s.dash[0] > 3 ? " dash" : " dot") : ""));
      line.style.borderTopColor = s.color;
      item.append(line, s.label);
      return item;
    }));
  }
}

// --- equations -----------------------------------------------------------------------------------

function escapeHtml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
}

const ARRAY_NAME = /^d?[WbZA]\[\d+\]$/;

async function loadEquations() {
  const answer = await api(`/api/equations?session=${app.session}`);
  app.equations = answer;
  const box = $("equations");
  box.replaceChildren();
  let section = null;
  for (const eq of answer.equations) {
    if (eq.section !== section) {
      section = eq.section;
      box.append(el("div", "eq-section", SECTION_TITLES[section]));
    }
    const row = el("div", "eq" + (eq.one_over_m ? " one-over-m" : ""));
    row.dataset.name = eq.name;
    row.dataset.kind = eq.kind;
    let kind = "";
    if (eq.kind === "∂L per example") kind = '<span class="badge per-example">∂L per example</span>';
    else if (eq.kind === "∂J") kind = '<span class="badge of-cost">∂J</span>';
    else if (eq.kind === "loss") kind = '<span class="badge">one example</span>';
    else if (eq.kind === "cost") kind = '<span class="badge of-cost">the cost</span>';
    if (eq.one_over_m) kind += '<span class="m-mark">← the 1/m</span>';
    row.innerHTML = `<div class="formula">${eq.mathml}</div><div class="kind">${kind}</div>` +
      `<div class="shape">${escapeHtml(eq.shapes)}</div>`;
    if (ARRAY_NAME.test(eq.name)) {
      row.tabIndex = 0;
      row.setAttribute("role", "button");
      row.addEventListener("click", () => inspect(eq.name));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter") inspect(eq.name);
      });
    } else {
      row.style.cursor = "default";
    }
    box.append(row);
  }
  $("eq-m").textContent = `m = ${answer.m} training examples · ${answer.convention}`;
  const notes = $("notes");
  notes.replaceChildren(...answer.notes.map((note) => {
    const p = el("p");
    p.innerHTML = escapeHtml(note).replace(/`([^`]+)`/g, "<code>$1</code>");
    return p;
  }));
  highlightSelected();
}

function highlightSelected() {
  for (const row of document.querySelectorAll(".eq")) row.classList.toggle("selected", row.dataset.name === app.selected);
}

function setConvention(convention) {
  for (const input of document.querySelectorAll('input[name="convention"]')) input.checked = input.value === convention;
}

async function switchConvention(convention) {
  const playing = app.playing;                        // mid-training: switch, then go on training
  await pauseAndWait();
  try {
    await api("/api/convention", {session: app.session, convention});
    app.spec.train.convention = convention;
    app.info.spec.train.convention = convention;
    history.replaceState(null, "", hashOf(app.spec));
    app.frame.convention = convention;
    await loadEquations();
    if (app.selected) await inspect(app.selected);
    if (document.querySelector(".gradcheck-card.passed, .gradcheck-card.failed")) await gradcheck();
    clearError("convention");
  } catch (error) {
    showError(error.message, "convention");
    setConvention(app.spec.train.convention);          // the radio says the convention the run has
  }
  document.body.dataset.convention = app.spec.train.convention;
  if (playing) play();
}

const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toPrecision(6));
const short = (v) => (v === null || v === undefined ? "–" : Number(v).toExponential(1));

function arrayTable(values, columns, title, convention, current) {
  const wrap = el("div", current ? "current" : "other");
  wrap.append(el("h3", "", title));
  const table = el("table");
  table.dataset.convention = convention;
  const head = el("tr");
  head.append(el("th", "", ""));
  const count = values.length ? values[0].length : 0;
  for (let k = 0; k < count; k++) head.append(el("th", "", columns ? `i = ${columns[k]}` : `col ${k + 1}`));
  table.append(head);
  values.forEach((row, j) => {
    const tr = el("tr");
    tr.append(el("th", "", `${j + 1}`));
    for (const v of row) tr.append(el("td", "", fmt(v)));
    table.append(tr);
  });
  wrap.append(table);
  return wrap;
}

async function inspect(name, examples = app.examples) {
  // Show what backward computed for ``name`` now; ``examples``: the columns asked for ("" the first ones).
  app.selected = name;
  highlightSelected();
  app.inspecting = true;
  let answer;
  try {
    answer = await api(`/api/inspect?session=${app.session}&name=${encodeURIComponent(name)}` +
                       `&examples=${encodeURIComponent(examples)}`);
  } catch (error) {
    showError(error.message, "inspect");                // the columns shown before stay asked for
    return;
  } finally {
    app.inspecting = false;
    app.inspectedAt = performance.now();
  }
  clearError("inspect");
  if (answer.columns) app.examples = answer.columns.join(",");
  showInspected(name, answer);
}

function showInspected(name, answer) {
  const eq = app.equations && app.equations.equations.find((e) => e.name === name);
  const body = $("inspect-body");
  const head = el("div", "inspect-head");
  head.innerHTML = (eq ? eq.mathml : "") + ` <span class="hint">shape (${answer.shape.join(", ")}) · epoch ${answer.epoch}` +
    (eq && eq.derivative ? ` · ${eq.kind}: </span>${eq.derivative}` : "</span>");
  const tables = el("div", "arrays" + (answer.values.length && answer.values[0].length > 2 ? " stacked" : ""));
  const rowsNote = answer.shape[0] > answer.values.length ? ` (first ${answer.values.length} of ${answer.shape[0]} rows)` : "";
  tables.append(arrayTable(answer.values, answer.columns, `${answer.convention} (shown)${rowsNote}`, answer.convention, true));
  tables.append(arrayTable(answer.other_values, answer.columns, answer.other_convention, answer.other_convention, false));
  const gap = el("p", "gap");
  gap.id = "gap";
  if (!answer.backward) {
    gap.textContent = "A forward array: the same under both conventions (they differ only in backward).";
  } else if (answer.factor === 1) {
    gap.innerHTML = `${escapeHtml(name)} is ∂J under both conventions and comes out the same: ` +
      `max |deferred − absorbed| = <b>${short(answer.gap)}</b> (rounding; its largest entry is ${short(answer.max_abs)}).`;
  } else {
    gap.innerHTML = `Absorbed ${escapeHtml(name)} = deferred ${escapeHtml(name)} / m, with m = <b>${answer.m}</b>: ` +
      `max |deferred − m · absorbed| = <b>${short(answer.gap)}</b>. Deferred, column i is ∂L⁽ⁱ⁾, example i's own loss; ` +
      `absorbed, it is ∂J, already divided by m.`;
  }
  const parts = [head, tables, gap];
  if (answer.columns) {
    const picker = el("label", "examples");
    const input = textInput(app.examples, (text) => inspect(name, text));
    picker.append("examples (columns i):", input);
    parts.push(picker);
  }
  body.replaceChildren(...parts);
  body.dataset.name = name;
  body.dataset.convention = answer.convention;
  body.dataset.epoch = String(answer.epoch);
}

// --- gradient check ----------------------------------------------------------------------------------

function renderBugs() {
  const options = [["none", "no bug: chainrule's own backward"]];
  for (const [name, about] of Object.entries(app.schema.bugs)) options.push([name, `${name}: ${about}`]);
  const node = $("bug");
  node.replaceChildren(...options.map(([value, text]) => {
    const option = el("option", "", text);
    option.value = value;
    return option;
  }));
  node.addEventListener("change", () => gradcheck());
  $("check").addEventListener("click", () => gradcheck());
}

function resetGradcheck() {
  $("gradcheck").classList.remove("passed", "failed");
  $("gradcheck-body").innerHTML = '<p class="hint">Compare backward with finite differences of J, layer by layer. ' +
    "Plant a bug to see the check name the layers it is in.</p>";
}

async function gradcheck() {
  const bug = $("bug").value;
  const card = $("gradcheck");
  card.classList.remove("passed", "failed");
  card.dataset.checking = "true";
  $("gradcheck-body").innerHTML = '<p class="hint">checking…</p>';
  let answer;
  try {
    answer = await api(`/api/gradcheck?session=${app.session}&bug=${encodeURIComponent(bug)}`);
  } catch (error) {
    showError(error.message, "gradcheck");
    $("gradcheck-body").replaceChildren(el("p", "hint", `no check: ${error.message}`));
    delete card.dataset.checking;
    return;
  }
  clearError("gradcheck");
  showChecked(answer);
  delete card.dataset.checking;
}

function showChecked(answer) {
  $("gradcheck").classList.add(answer.passed ? "passed" : "failed");
  const verdict = el("p", "verdict");
  verdict.id = "verdict";
  if (answer.passed) {
    verdict.textContent = `✓ passed: every layer agrees with finite differences (${short(answer.difference)} < ${answer.threshold})`;
  } else {
    const layers = answer.failing_layers;
    verdict.textContent = `✗ FAILED in ${layers.length === 1 ? "layer" : "layers"} ${layers.join(", ")}: ${answer.about}`;
  }
  const table = el("table");
  table.innerHTML = "<tr><th>layer</th><th>dW</th><th>db</th><th>layer</th><th></th></tr>";
  for (const layer of answer.layers) {
    const tr = el("tr");
    for (const v of [layer.l, short(layer.dW), short(layer.db), short(layer.difference)]) tr.append(el("td", "", String(v)));
    const status = el("td", layer.passed ? "" : "bad", layer.passed ? "ok" : layer.status);
    tr.append(status);
    table.append(tr);
  }
  const note = el("p", "hint", `on ${answer.m} training examples at epoch ${answer.epoch}; the course's measure ` +
    `‖g − g̃‖ / (‖g‖ + ‖g̃‖), threshold ${answer.threshold}`);
  $("gradcheck-body").replaceChildren(verdict, table, note);
}

// --- CSV upload ----------------------------------------------------------------------------------

function headerOf(text) {
  const line = text.split(/\r\n|\n|\r/).find((l) => l.trim()) || "";
  const bare = line.replace(/"[^"]*"/g, "");
  const separator = [",", ";", "\t"].find((s) => bare.includes(s)) || ",";
  return line.split(separator).map((cell) => cell.trim().replace(/^"|"$/g, ""));
}

function setupUpload() {
  const file = $("csv-file");
  const label = $("csv-label");
  const use = $("csv-use");
  file.addEventListener("change", async () => {
    use.disabled = true;
    label.replaceChildren();
    if (!file.files.length) return;
    const header = headerOf(await file.files[0].slice(0, 65536).text());
    label.replaceChildren(...header.map((name) => {
      const option = el("option", "", name);
      option.value = name;
      return option;
    }));
    label.value = header[header.length - 1];
    use.disabled = false;
  });
  use.addEventListener("click", async () => {
    const chosen = file.files[0];
    try {
      const answer = await api(`/api/upload?label=${encodeURIComponent(label.value)}&name=${encodeURIComponent(chosen.name)}`,
        chosen, true);
      app.upload = answer;
      app.spec.data = {name: "upload", upload: answer.upload, options: {}, test_fraction: app.spec.data.test_fraction,
                       axes: [0, 1]};
      clearError();
      reset();
    } catch (error) {
      showError(error.message);
    }
  });
}

// --- keys, buttons, start ---------------------------------------------------------------------------

function setupTransport() {
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", stepOnce);
  $("reset").addEventListener("click", reset);
  document.addEventListener("click", (event) => {
    // After a mouse click (detail > 0) no button, radio or checkbox keeps the focus, so that space
    // then plays instead of clicking "Check" or "Train on this file" again; keyboard focus stays.
    const focused = document.activeElement;
    if (event.detail > 0 && focused && focused.matches("button, input[type=radio], input[type=checkbox]")) focused.blur();
  });
  $("error-close").addEventListener("click", () => clearError());
  for (const link of document.querySelectorAll(".share a[download]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      download(link);
    });
  }
  const epf = $("epf");
  if (![...epf.options].some((o) => Number(o.value) === app.epf)) {
    const option = el("option", "", String(app.epf));
    epf.append(option);
  }
  epf.value = String(app.epf);
  epf.addEventListener("change", () => {
    app.epf = Number(epf.value);
    if (app.session) history.replaceState(null, "", hashOf(app.spec));
  });
  $("share").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      $("share").textContent = "Link copied";
    } catch (error) {
      window.prompt("Copy this link:", location.href);
    }
    setTimeout(() => { $("share").textContent = "Copy link"; }, 1500);
  });
  for (const input of document.querySelectorAll('input[name="convention"]')) {
    input.addEventListener("change", () => {
      if (input.checked) app.queue = app.queue.then(() => switchConvention(input.value));
    });
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, select, textarea, summary")) return;
    if (event.key === " " && target.tagName !== "BUTTON") {
      event.preventDefault();
      togglePlay();
    } else if (event.key === "s" || event.key === "ArrowRight") {
      event.preventDefault();
      stepOnce();
    } else if (event.key === "r") {
      reset();
    }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!app.info) return;
      setupNetwork();
      app.dirty = true;
    }, 100);
  });
  window.addEventListener("hashchange", () => {
    if (location.hash === hashOf(app.spec)) return;
    app.spec = specFromHash(location.hash);
    reset();
  });
}

async function main() {
  try {
    app.schema = await api("/api/schema");
  } catch (error) {
    showError(`cannot reach the playground's server: ${error.message}`);
    setState("error");
    return;
  }
  app.spec = specFromHash(location.hash);
  setupTransport();
  renderBugs();
  setupUpload();
  requestAnimationFrame(drawLoop);
  await newSession();
  if (!app.session) {                      // a link the server refuses: say why, and start from the defaults
    const message = $("error-text").textContent;
    app.spec = structuredClone(app.schema.default_spec);
    await newSession();
    showError(`${message} (this link's setup was refused; showing the default setup)`);
  }
}

main();
