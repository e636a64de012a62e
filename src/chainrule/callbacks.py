"""The training loop's policies, as callbacks that see each epoch's ``(record, state)``.

A callback is any function ``callback(record, state) -> bool`` called after every epoch
(``record`` an EpochRecord, ``state`` the TrainState after the epoch); a true value stops
training. An object may also have

    start(state)           called once before the first epoch, with the state it starts from
    carry(state) -> state  called after it each epoch: the state with what the callback keeps
                           that a resumed run needs (the callbacks after it, and the next
                           epoch, see that state)
    finish(state) -> state called once after the last epoch, and may change what is returned
    stop_reason            the History's stop_reason when it stopped the run
    final_params(state), best_epoch
                           the parameters to return instead of the last ones (early stopping)

Each policy owns its state, so each can be tested on a made-up sequence of records:

    DivergenceGuard(factor)   NaN or inf, or a cost above factor × the first epoch's: raise
    EarlyStopping(patience)   no improvement for patience epochs: stop (and restore the best)
    Progress(total)           a live bar on a terminal, "Cost after epoch e" lines otherwise
    Checkpoint(save, every)   save(state, history) every so many epochs (or seconds)
    Interrupt()               stop at the end of the epoch once asked (by a signal handler, say)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._checks import all_finite, check_choice, check_number
from .history import EpochRecord, History


class Callback:
    """A base for callbacks with every hook doing nothing (subclassing it is optional)."""

    stop_reason = "callback"

    def start(self, state: Any) -> None:
        return None

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        return False

    def finish(self, state: Any) -> Any:
        return state


class TrainingDiverged(ValueError):
    """Training diverged.

    ``params`` are those at the start of the epoch with the lowest cost so far (finite, and
    the best the run reached), ``history`` the epochs before the divergence, ``epoch`` the
    epoch where it was seen, ``reason`` the message without the sentence on what is kept.
    """

    def __init__(self, reason: str, kept: str, epoch: int, params: list, history: History | None = None):
        super().__init__(f"{reason} {kept}")
        self.reason = reason
        self.epoch = epoch
        self.params = params
        self.history = history


class Best(NamedTuple):
    """A lowest cost so far: the cost, its epoch (None before any), the parameters it was
    measured on, and how many epochs have passed since without improving on it."""

    cost: float
    epoch: int | None
    params: list
    waited: int = 0


class DivergenceGuard(Callback):
    """Raise TrainingDiverged when an epoch's cost is NaN or infinite, or above ``factor`` times
    the first epoch's cost (a learning rate too large sends the cost up, not down).

    The first epoch is the first this guard sees (on a resumed run, the first of the resumed
    part). After the last epoch the parameters themselves are tested for NaN and infinity
    (an earlier NaN shows in the next epoch's cost). The error keeps the parameters at the
    start of the epoch with the lowest cost so far. ``factor`` None keeps only the NaN test.
    """

    stop_reason = "diverged"

    def __init__(self, factor: float | None = 100.0):
        if factor is not None:
            factor = check_number("divergence_factor", factor, "a number above 1", lambda v: v > 1)
        self.factor = factor
        self.start(None)

    def start(self, state: Any) -> None:
        self.first: float | None = None
        self.last: EpochRecord | None = None
        self.before = None if state is None else state.params      # the parameters the next epoch starts from
        self.good_cost, self.good_epoch, self.good_params = math.inf, None, self.before

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        start_params, self.before, self.last = self.before, state.params, record
        cost = record.cost
        if not math.isfinite(cost):
            raise self._diverged(record, f"the cost became {cost}")
        if self.first is None:
            self.first = cost
        elif self.factor is not None and self.first > 0 and cost > self.factor * self.first:   # (J = 0: no scale)
            raise self._diverged(record, f"the cost rose from {self.first:.6g} to {cost:.6g}")
        if cost < self.good_cost:                                  # the lowest so far, and where it was measured
            self.good_cost, self.good_epoch, self.good_params = cost, record.epoch, start_params
        return False

    def finish(self, state: Any) -> Any:
        if self.last is not None and not all_finite(*(a for layer in state.params for a in layer)):
            raise self._diverged(self.last, "the parameters became NaN or infinite")
        return state

    def _diverged(self, record: EpochRecord, what: str) -> TrainingDiverged:
        kept = (f"The parameters of epoch {self.good_epoch} (cost {self.good_cost:.6g}) are kept."
                if self.good_epoch is not None else "The initial parameters are kept.")
        advice = "try a smaller learning rate"
        if self.first is None:                                     # the first epoch: its first cost had no step
            advice += "; if that does not help, the initial parameters (their scale) or the data are too large"
        return TrainingDiverged(f"training diverged: {what} in epoch {record.epoch} with learning rate "
                                f"{record.learning_rate:g}; {advice}.", kept,
                                record.epoch, self.good_params)


MONITORS = ("val_cost", "cost")


class EarlyStopping(Callback):
    """Stop when the monitored cost has not fallen by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best``, the run's result is then the best epoch's parameters.

    monitor : "val_cost" (of the parameters at the end of each epoch) or "cost" (the epoch's
        training cost: for full batches J of the parameters at its start, which are then the
        ones kept; with mini-batches the epoch's mean).
    Its memory (a Best) goes into the final state's ``best`` and is taken up again from the
    state a run resumes from, so that a resumed run stops where an uninterrupted one would.
    """

    stop_reason = "early stopping"

    def __init__(self, patience: int, min_delta: float = 0.0, restore_best: bool = True, monitor: str = "val_cost"):
        self.patience = check_number("patience", patience, "a positive integer", lambda v: v >= 1, integer=True)
        self.min_delta = check_number("min_delta", min_delta, "a non-negative number", lambda v: v >= 0)
        if not isinstance(restore_best, bool):
            raise ValueError(f"restore_best must be True or False; got {restore_best!r}")
        self.restore_best = restore_best
        self.monitor = check_choice("monitor", monitor, MONITORS)
        self.start(None)

    def start(self, state: Any) -> None:
        self.before = None if state is None else state.params
        resumed = None if state is None else state.best
        self.best = resumed if resumed is not None else Best(math.inf, None, self.before)

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        start_params, self.before = self.before, state.params
        cost = getattr(record, self.monitor)
        if cost < self.best.cost - self.min_delta:
            self.best = Best(cost, record.epoch, state.params if self.monitor == "val_cost" else start_params)
        else:
            self.best = self.best._replace(waited=self.best.waited + 1)
        return self.best.waited >= self.patience

    def carry(self, state: Any) -> Any:
        """``state`` with this callback's memory, ``best``."""
        return state._replace(best=self.best)

    finish = carry

    @property
    def best_epoch(self) -> int | None:
        return self.best.epoch

    def final_params(self, state: Any) -> list:
        """The best epoch's parameters with ``restore_best`` (once there is a best), else the last."""
        return self.best.params if self.restore_best and self.best.epoch is not None else state.params


class Progress(Callback):
    """Per-epoch reporting: a live bar (rich) on a terminal, plain lines otherwise, or nothing.

    mode : "live" (a bar, or lines where rich is not installed), "lines" ("Cost after epoch
        e: J" every ``every`` epochs, counted from epoch 0 of the run) or "quiet".
    Use it as a context manager, or call ``close()``, so that the bar ends even when
    training fails.
    """

    def __init__(self, total: int, every: int = 1, mode: str = "lines", write: Callable[[str], Any] = print):
        self.total = check_number("total", total, "a non-negative integer", lambda v: v >= 0, integer=True)
        self.every = check_number("every", every, "a positive integer", lambda v: v >= 1, integer=True)
        self.mode = check_choice("mode", mode, ("live", "lines", "quiet"))
        self.write, self.bar, self.first = write, None, 0
        if mode == "live":
            try:
                from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
                from rich.progress import Progress as Bar
            except ImportError:                                   # without rich: plain lines
                self.mode = "lines"
                return
            self.bar = Bar(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                           TextColumn("{task.fields[figures]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("train", total=total, figures="")

    def start(self, state: Any) -> None:
        self.first = state.epoch
        if self.bar is not None:
            self.bar.start()

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        extra = []
        if not np.isnan(record.val_cost):
            extra.append(f"val cost {record.val_cost:.6f}")
        if not np.isnan(record.val_accuracy):
            extra.append(f"val acc {100 * record.val_accuracy:.2f} %")
        if self.bar is not None:
            self.bar.update(self.task, completed=record.epoch - self.first + 1,
                            figures="  ".join([f"cost {record.cost:.6f}", *extra]))
        elif self.mode == "lines" and record.epoch % self.every == 0:
            self.write(f"Cost after epoch {record.epoch}: {record.cost:.6f}"
                       + (f"  ({'  '.join(extra)})" if extra else ""))
        return False

    def finish(self, state: Any) -> Any:
        self.close()
        return state

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Checkpoint(Callback):
    """``save(state, history)`` after every epoch e with (e + 1) divisible by ``every``, and after
    the first epoch that ends ``seconds`` or more after the last save (or the start), so that an
    interrupted run loses at most ``every`` epochs or about ``seconds`` of work (the end result
    is ``fit``'s). Give either or both; ``clock`` (default ``time.monotonic``) tells the time.

    ``state`` carries early stopping's memory when it runs before this callback (as ``fit``'s
    own does); ``history`` is the History of the epochs so far, its stop_reason "in progress"
    (following ``before``, a resumed run's earlier History). ``saved_epoch`` is the last
    epoch saved (None before the first). ``chainrule.checkpoint.saver`` makes a ``save`` that
    writes a model file atomically.
    """

    def __init__(self, save: Callable[[Any, History], Any], every: int | None = 100, before: History | None = None,
                 seconds: float | None = None, clock: Callable[[], float] = time.monotonic):
        if not callable(save):
            raise ValueError(f"save must be a function (state, history); got {type(save).__name__}")
        if every is None and seconds is None:
            raise ValueError("a Checkpoint saves every so many epochs or seconds: give every or seconds")
        self.save = save
        self.every = None if every is None else check_number("every", every, "a positive integer",
                                                             lambda v: v >= 1, integer=True)
        self.seconds = None if seconds is None else check_number("seconds", seconds, "a positive number",
                                                                 lambda v: v > 0)
        self.clock, self.last = clock, clock()
        self.before, self.records, self.saved_epoch = before, [], None

    def start(self, state: Any) -> None:
        self.last = self.clock()

    def history(self) -> History:
        seed = self.before.seed if self.before is not None else None
        now = History.from_records(self.records, stop_reason="in progress", seed=seed)
        return now if self.before is None else self.before.then(now)

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        self.records.append(record)
        due = self.every is not None and (record.epoch + 1) % self.every == 0
        if due or (self.seconds is not None and self.clock() - self.last >= self.seconds):
            self.save(state, self.history())
            self.saved_epoch, self.last = record.epoch, self.clock()
        return False


class Interrupt(Callback):
    """Stop at the end of the epoch in progress once ``request(reason)`` has been called: from a
    signal handler (Ctrl-C, SIGTERM), another thread or a button. The run then ends as any
    stopped run does, its state complete and resumable; ``reason`` (a signal's number, say) is
    kept in ``requested`` (None until asked)."""

    stop_reason = "interrupted"

    def __init__(self) -> None:
        self.requested: Any = None

    def request(self, reason: Any = True) -> None:
        self.requested = reason

    def __call__(self, record: EpochRecord, state: Any) -> bool:
        return self.requested is not None
