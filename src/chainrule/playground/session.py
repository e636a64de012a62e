"""One page's run: ``chainrule.iterate`` stepped epoch by epoch, and what the page asks of it.

A Session holds a Prepared spec (the split data X: (n_x, m), Y: (n_y, m), ModelConfig,
TrainConfig), the ``Epochs`` iterator of ``chainrule.iterate`` and the history so far. The
page steps it a few epochs per frame; ``fit`` is the same loop, so the costs the page shows
are ``fit``'s. The loop's policies are ``fit``'s own callbacks: the divergence guard and,
with ``patience``, early stopping.

Sessions live in a ``Sessions`` store, the ``MAX_SESSIONS`` most recently used, so that
memory stays bounded whatever the pages do; each session has a lock (the server answers
requests on threads).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from .. import explain
from .._checks import check_convention
from ..callbacks import DivergenceGuard, EarlyStopping, TrainingDiverged
from ..checkpoint import SavedModel
from ..history import EpochRecord, History
from ..training import TrainState, iterate
from . import arrays, exports, frames
from .spec import Prepared

MAX_SESSIONS = 8          # runs kept at once; the least recently used is dropped first
STEP_SECONDS = 1.0        # the most one request trains: a big network's epochs never hold the server long
MAX_ROWS = 200            # history rows in one frame (evenly spaced, the last always among them)
POINTS_DIGITS = 5         # significant digits of the data points sent to the page


class Session:
    """A run the page steps: ``step(n)`` trains n epochs, ``frame(since)`` says what to draw."""

    def __init__(self, prepared: Prepared):
        self.prepared, self.config, self.train = prepared, prepared.config, prepared.train
        self.validation = (prepared.X_test, prepared.Y_test) if prepared.X_test.shape[1] else None
        self.epochs = iterate(self.config, prepared.X_train, prepared.Y_train, self.train,
                              validation_data=self.validation)
        self.records = np.full((self.train.num_epochs, len(EpochRecord._fields)), np.nan)   # (epochs, fields)
        self.count, self.status, self.message, self.kept_params = 0, "ready", "", None
        self.guard = DivergenceGuard(self.train.divergence_factor)
        self.guard.start(self.epochs.state)
        self.early = None
        if self.train.patience is not None:
            self.early = EarlyStopping(self.train.patience, self.train.min_delta, self.train.restore_best,
                                       "val_cost" if self.validation else "cost")
            self.early.start(self.epochs.state)
        X_all = np.hstack([prepared.X_train, prepared.X_test])
        extent = frames.extent_of(X_all, prepared.axes)
        center = prepared.X_train.mean(axis=1)                          # (n_x,): the features not shown
        self.grid = frames.make_grid(extent, prepared.axes, center, frames.RESOLUTION)
        self.lock = threading.RLock()
        self._traces: tuple[int, dict] | None = None

    # --- training ---------------------------------------------------------------------------

    @property
    def params(self) -> list:
        """The parameters drawn: the current ones; after a divergence those the guard kept; after
        early stopping with ``restore_best`` the best epoch's (what ``fit`` returns)."""
        if self.kept_params is not None:
            return self.kept_params
        if self.status == "early stopping":
            return self.early.final_params(self.epochs.state)
        return self.epochs.state.params

    @property
    def m(self) -> int:
        """The number of training examples: the m of J over the whole training set."""
        return int(self.prepared.X_train.shape[1])

    def step(self, n: int) -> int:
        """Train up to n more epochs (fewer when the run ends, or after ``STEP_SECONDS``); returns
        how many were trained."""
        trained, deadline = 0, time.perf_counter() + STEP_SECONDS
        with self.lock, np.errstate(over="ignore", invalid="ignore"):     # as fit: the guard judges NaN
            while trained < n and self.status in ("ready", "running") and time.perf_counter() < deadline:
                try:
                    state, record = next(self.epochs)
                except StopIteration:
                    self.status = "completed"
                    break
                self.records[self.count] = record
                self.count, trained, self.status = self.count + 1, trained + 1, "running"
                self._after_epoch(record, state)
            if self.status == "running" and self.epochs.left == 0:
                self.status = "completed"
        return trained

    def _after_epoch(self, record: EpochRecord, state: Any) -> None:
        """fit's policies on one epoch: the divergence guard, then early stopping."""
        try:
            self.guard(record, state)
        except TrainingDiverged as exc:
            self.status, self.message, self.kept_params = "diverged", str(exc), exc.params
            return
        if self.early is not None:
            stop = self.early(record, state)
            self.epochs.state = self.early.carry(state)
            if stop:
                self.status = "early stopping"
                self.message = f"early stopping: no improvement for {self.train.patience} epochs"

    def set_convention(self, convention: str) -> None:
        """Go on under ``convention`` from where the run stands (the same training up to rounding)."""
        check_convention(convention)
        with self.lock:
            if convention == self.train.convention:
                return
            self.train = dataclasses.replace(self.train, convention=convention)
            left = dataclasses.replace(self.train, num_epochs=self.epochs.left)
            self.epochs = iterate(self.config, self.prepared.X_train, self.prepared.Y_train, left,
                                  self.epochs.state, validation_data=self.validation)
            self._traces = None

    # --- what the page draws ----------------------------------------------------------------

    def history(self, epochs: int | None = None) -> History:
        """The epochs trained so far (the first ``epochs`` of them), as a History."""
        count = self.count if epochs is None else epochs
        columns = {name: self.records[:count, i] for i, name in enumerate(EpochRecord._fields)}
        columns["epoch"] = columns["epoch"].astype(np.int64)
        reason = {"ready": "in progress", "running": "in progress"}.get(self.status, self.status)
        return History(**columns, stop_reason=reason, seed=self.train.seed,
                       best_epoch=self.early.best_epoch if self.early else None)

    def rows_since(self, since: int) -> dict[str, list]:
        """History rows from epoch ``since`` on, at most ``MAX_ROWS`` of them evenly spaced (the
        last always among them), as columns; NaN (no test set, no accuracy) as null."""
        since = max(0, min(int(since), self.count))
        stride = max(1, math.ceil((self.count - since) / MAX_ROWS))
        rows = self.records[np.arange(self.count - 1, since - 1, -stride)[::-1]]
        return {name: [None if math.isnan(v) else (int(v) if name == "epoch" else float(v)) for v in rows[:, i]]
                for i, name in enumerate(EpochRecord._fields)}

    def frame(self, since: int = 0) -> dict[str, Any]:
        """The numbers of one picture: the run's position, new history rows, the boundary, the
        hidden units' maps and the weights."""
        with self.lock:
            boundary, units = frames.picture(self.params, self.config, self.grid)
            return {"epoch": self.count, "left": self.epochs.left, "status": self.status, "message": self.message,
                    "convention": self.train.convention, "rows": self.rows_since(since), "boundary": boundary,
                    "units": units, "weights": frames.weights(self.params)}

    def info(self) -> dict[str, Any]:
        """What stays the same through the run: sizes, names, the grid's extent and the data points."""
        prepared = self.prepared
        return {"spec": prepared.spec, "layer_dims": list(self.config.layer_dims), "output": self.config.output,
                "m": self.m, "m_test": int(prepared.X_test.shape[1]), "classes": list(prepared.classes),
                "feature_names": list(prepared.feature_names), "axes": list(prepared.axes),
                "extent": self.grid.extent, "seed": self.train.seed,
                "standardized": prepared.prep.standardizer is not None,
                "train_points": self._points(prepared.X_train, prepared.Y_train),
                "test_points": self._points(prepared.X_test, prepared.Y_test)}

    def _points(self, X: np.ndarray, Y: np.ndarray) -> dict[str, list]:
        """The examples in the two axes shown, and each one's class index."""
        first, second = self.prepared.axes
        labels = Y[0] if self.config.output == "sigmoid" else np.argmax(Y, axis=0)
        rounded = lambda row: [float(f"{v:.{POINTS_DIGITS}g}") for v in row]       # noqa: E731
        return {"x": rounded(X[first]), "y": rounded(X[second]), "label": [int(c) for c in labels]}

    # --- the equations and their arrays ---------------------------------------------------------

    def equations(self, convention: str | None = None) -> dict[str, Any]:
        """The network's equations for the m training examples, each as MathML with its shapes,
        the derivative it is and whether the 1/m of J enters there; the "where the 1/m goes" notes."""
        convention = check_convention(convention or self.train.convention)
        eqs = explain.equations(self.config, self.m, convention, lambd=self.train.lambd)
        listed = [{"name": e.name, "section": e.section, "l": e.l, "mathml": explain.mathml(e), "shapes": e.shapes,
                   "kind": e.kind, "one_over_m": e.one_over_m,
                   "derivative": explain.mathml(e, derivative=True) if e.section == "backward" else None}
                  for e in eqs]
        markdown = explain.render(eqs, "markdown")
        notes = [line[2:] for line in markdown.split(f"## {explain.ONE_OVER_M_TITLE}")[1].splitlines()
                 if line.startswith("- ")]
        return {"convention": convention, "m": self.m, "equations": listed, "notes": notes}

    def _found(self) -> dict[str, Any]:
        """forward and backward_trace (both conventions) on the current parameters, once per epoch."""
        if self._traces is None or self._traces[0] != self.count:
            found = arrays.traces(self.params, self.prepared.X_train, self.prepared.Y_train, self.config,
                                  self.train.lambd)
            self._traces = (self.count, found)
        return self._traces[1]

    def inspect(self, name: str, convention: str | None, examples: Any) -> dict[str, Any]:
        """One equation's array now, beside the other convention's (see ``arrays.inspect_array``)."""
        with self.lock:
            convention = convention or self.train.convention
            return {"epoch": self.count, **arrays.inspect_array(self._found(), name, convention, examples,
                                                                self.config, self.m)}

    def gradcheck(self, bug: str) -> dict[str, Any]:
        """A gradient check of backward, with ``bug`` planted ("none": chainrule's own)."""
        with self.lock:
            return {"epoch": self.count, **arrays.check_backward(
                self.params, self.prepared.X_train, self.prepared.Y_train, self.config, self.train.convention,
                self.train.lambd, bug)}

    # --- downloads ----------------------------------------------------------------------------

    def model_file(self) -> bytes:
        """The run as a model file (``checkpoint.save``): resumable with ``chainrule train --resume``.

        After a divergence: the parameters the guard kept, those at the start of the epoch k
        with the lowest cost, with the state and history of a run that has trained k epochs
        (its optimizer's memory is not kept: a resumed run starts it afresh)."""
        with self.lock:
            prepared, state, history, notes = self.prepared, self.epochs.state, self.history(), {}
            if self.status == "diverged":
                kept = self.guard.good_epoch or 0
                state, history = TrainState(self.kept_params, None, kept), self.history(kept)
                notes = {"diverged": f"{self.message} Saved: the state after epoch {kept - 1}, the optimizer's "
                                     f"memory not kept." if kept else f"{self.message} Saved: the initial state."}
            model = SavedModel(self.config, self.params, self.train, state, history, prepared.prep,
                               prepared.feature_names, prepared.classes, notes={"playground": prepared.spec, **notes})
            return exports.model_file(model)

    def history_csv(self) -> str:
        with self.lock:
            return exports.history_csv(self.history())

    def equations_latex(self) -> str:
        dims = ", ".join(map(str, self.config.layer_dims))
        title = f"chainrule playground: network [{dims}], m = {self.m}, convention {self.train.convention}"
        return exports.equations_latex(self.config, self.m, self.train.convention, self.train.lambd, title)


class Sessions:
    """Sessions by id, the ``MAX_SESSIONS`` most recently used (thread-safe)."""

    def __init__(self, limit: int = MAX_SESSIONS):
        self.limit = limit
        self.kept: OrderedDict[str, Session] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, session: Session, drop: Any = None) -> str:
        """Keep ``session`` under a new id (dropping ``drop``, the page's previous one, if given)."""
        key = secrets.token_hex(8)
        with self.lock:
            self.kept.pop(drop, None) if isinstance(drop, str) else None
            self.kept[key] = session
            while len(self.kept) > self.limit:
                self.kept.popitem(last=False)
        return key

    def get(self, key: Any) -> Session:
        with self.lock:
            if not isinstance(key, str) or key not in self.kept:
                raise ValueError("unknown session: it ended or was dropped for newer ones; reload the page")
            self.kept.move_to_end(key)
            return self.kept[key]
