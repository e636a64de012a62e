"""Many runs on one data set: a grid of settings over the options of ``train``, trained in stacks.

    sweep(X, Y, {"learning_rate": [0.1, 0.5, 1.2], "seed": range(16)}, config=…, train=…)   Sweep

A setting names values of ``TrainConfig``'s fields and of the network's ``hidden_layers``
and ``hidden_activation`` (the names of ``chainrule train``'s flags, spelled as in Python);
what it does not name comes from ``config`` and ``train``. The settings whose networks have
one shape and differ only in what a stack lets differ (``stacks.PER_NETWORK``) are trained
as one stack by ``fit_stack``, so each run is what ``fit`` gives it alone, bit for bit.

Memory: each stack is split so that it fits a budget (default half the memory available,
shared by the jobs), estimated before anything is allocated (``resources.training_bytes``
per network), so that 10 000 tiny networks need no thought. ``jobs`` spreads the stacks
over processes with joblib; inside ``joblib.parallel_config(backend="dask")`` they run on a
Dask cluster instead (see the README).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import stacks
from ._checks import check_X, check_Y
from ._files import write_text_atomically
from .callbacks import Interrupt
from .model import ModelConfig, check_config, evaluate
from .resources import available_memory, training_bytes
from .training import FitResult, TrainConfig, _checked_validation

NETWORK = ("hidden_layers", "hidden_activation")
SWEPT = (*NETWORK, *(f.name for f in dataclasses.fields(TrainConfig)))
BUDGET_SHARE = 0.5                               # of the memory available, when no budget is given
COLUMNS = ("final_cost", "train_cost", "train_accuracy", "test_cost", "test_accuracy", "epochs", "stop_reason",
           "best_epoch")


class Run(NamedTuple):
    """One setting of a sweep and what training it gave.

    setting : {name: value} of the swept names only; config, train : the whole run asked for;
    result : its FitResult (params, history, state); figures : final_cost (the last epoch's
    J), train_cost and train_accuracy at the end, test_cost and test_accuracy with test data
    (NaN without; accuracy NaN for an identity output), epochs, stop_reason, best_epoch.
    """

    setting: dict
    config: ModelConfig
    train: TrainConfig
    result: FitResult
    figures: dict


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The runs of a sweep, in the order of its settings, and the names it swept (``keys``)."""

    keys: tuple[str, ...]
    runs: tuple[Run, ...]              # the runs finished: all of them unless interrupted
    stacks: tuple[int, ...]            # the sizes of the stacks trained, in the order they were made
    planned: int                       # the number of settings

    @property
    def complete(self) -> bool:
        return len(self.runs) == self.planned

    def rows(self) -> list[dict]:
        """One dict per run: the swept values (hidden_layers written "20x7x5"), then ``COLUMNS``."""
        return [{**{k: _shown(v) for k, v in run.setting.items()}, **{c: run.figures[c] for c in COLUMNS}}
                for run in self.runs]

    def summary(self) -> list[dict]:
        """Over seeds: one dict per setting of the other swept names, with the number of runs and
        the mean, standard deviation (ddof 0), least and greatest of each figure."""
        groups: dict[tuple, list[Run]] = {}
        for run in self.runs:
            groups.setdefault(tuple((k, _shown(v)) for k, v in run.setting.items() if k != "seed"), []).append(run)
        rows = []
        for key, runs in groups.items():
            row: dict[str, Any] = {**dict(key), "runs": len(runs)}
            for column in ("final_cost", "train_accuracy", "test_accuracy"):
                values = np.array([r.figures[column] for r in runs], dtype=float)
                for name, stat in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
                    row[f"{column}_{name}"] = float(stat(values))
            rows.append(row)
        return rows

    def to_csv(self, path) -> None:
        """The rows as CSV (floats written exactly, with repr), replaced whole or not at all."""
        import csv
        import io

        rows, buffer = self.rows(), io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([*self.keys, *COLUMNS])
        for row in rows:
            writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row.values()])
        write_text_atomically(path, buffer.getvalue())

    def to_json(self, path) -> None:
        """The keys, the rows, the summary over seeds, each run's cost per epoch and the stack sizes, as JSON."""
        document = {"keys": list(self.keys), "runs": self.rows(), "summary": self.summary(),
                    "cost": [run.result.history.cost.tolist() for run in self.runs], "stacks": list(self.stacks)}
        write_text_atomically(path, json.dumps(_plain(document), indent=1, allow_nan=True) + "\n")


def grid(**values: Iterable) -> list[dict]:
    """Every combination of the values given, the last name varying fastest:
    ``grid(learning_rate=[0.1, 1.2], seed=range(2))`` is four settings."""
    names = list(values)
    lists = [list(v) for v in values.values()]
    return [dict(zip(names, combination)) for combination in itertools.product(*lists)]


def sweep(X: Any, Y: Any, settings: Mapping[str, Iterable] | Sequence[Mapping[str, Any]], *,
          config: ModelConfig, train: TrainConfig | None = None, test_data: tuple[Any, Any] | None = None,
          jobs: int = 1, memory: int | None = None, progress: Callable[[int, int, str], None] | None = None,
          interrupt: Interrupt | None = None) -> Sweep:
    """Train every setting on (X, Y), in stacks, and measure each run.

    Parameters
    ----------
    X : (n_x, m), Y : (n_y, m)
        The training data, shared by every run.
    settings : dict of name → values, or list of dicts
        A dict is a grid (``grid(**settings)``); a list gives each setting. Names: ``SWEPT``
        (``hidden_layers`` as a tuple of sizes, or an int for one layer).
    config : ModelConfig
        The network where a setting does not say: n_x, n_y, output and the hidden layers.
    train : TrainConfig, optional
        Every training option a setting does not name (default ``TrainConfig()``); each run
        needs its seed.
    test_data : (X_test (n_x, m_test), Y_test (n_y, m_test)), optional
        Measured after every epoch (as ``fit``'s validation data: early stopping watches it)
        and at the end (test_cost, test_accuracy).
    jobs : int
        Processes for the stacks (joblib's n_jobs: -1 all cores); 1 trains them here.
    memory : int, optional
        Bytes the stacks trained at once may take (default: half of the memory available).
    progress : callable(done, total, what), optional
        Called as stacks finish, with the networks done and to do.
    interrupt : callbacks.Interrupt, optional
        Once requested (from a signal handler, say), no further stack starts, and a
        KeyboardInterrupt in the stacks in progress ends them: the Sweep holds the runs
        finished (``complete`` False).
    """
    config = check_config(config)
    settings = _checked_settings(settings)
    X = check_X(X, config.n_x)
    Y = check_Y(Y, config.output, config.n_y, X.shape[-1], X.dtype)
    test_data = _checked_validation(test_data, config, X.dtype, "test_data", "test")
    train = TrainConfig() if train is None else train
    if not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a chainrule.TrainConfig; got {type(train).__name__}")
    runs = [_run_of(k, setting, config, train) for k, setting in enumerate(settings)]
    jobs = _checked_jobs(jobs)
    chunks = _chunks(runs, X.shape[-1], X.dtype.itemsize, jobs, _budget(memory, jobs), test_data)
    results: list[Any] = [None] * len(runs)
    done, trained_stacks = 0, []
    try:
        for indices, trained in _train_all(chunks, runs, X, Y, test_data, jobs):
            for k, (result, figures) in zip(indices, trained):
                results[k] = runs[k]._replace(result=result, figures=figures)
            done, trained_stacks = done + len(indices), [*trained_stacks, len(indices)]
            if progress is not None:
                progress(done, len(runs), f"{list(runs[indices[0]].config.layer_dims)} × {len(indices)}")
            if interrupt is not None and interrupt.requested is not None:
                break
    except (KeyboardInterrupt, Exception):          # a second Ctrl-C, or workers ended by the first one
        if interrupt is None or interrupt.requested is None:
            raise
    keys = tuple(dict.fromkeys(k for setting in settings for k in setting))
    return Sweep(keys, tuple(r for r in results if r is not None), tuple(trained_stacks), len(runs))


# --- the settings ---------------------------------------------------------------------------------


def _checked_settings(settings: Any) -> list[dict]:
    """The list of settings: a grid expanded, every name known, at least one setting."""
    if isinstance(settings, Mapping):
        for name, values in settings.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ValueError(f"settings[{name!r}] must be a list of values to sweep; got {values!r}")
        settings = grid(**settings)
    elif isinstance(settings, Sequence) and all(isinstance(s, Mapping) for s in settings):
        settings = [dict(s) for s in settings]
    else:
        raise ValueError(f"settings must be a dict of name → list of values, or a list of dicts; got {settings!r}")
    if not settings:
        raise ValueError("settings holds no setting: every name needs at least one value")
    for setting in settings:
        unknown = sorted(set(setting) - set(SWEPT))
        if unknown:
            raise ValueError(f"cannot sweep {', '.join(map(repr, unknown))}: a setting names the fields of "
                             f"TrainConfig, hidden_layers and hidden_activation")
    return settings


def _run_of(k: int, setting: dict, config: ModelConfig, train: TrainConfig) -> Run:
    """Setting k as a run to make: its network and TrainConfig, each checked, named in the error."""
    setting = dict(setting)
    try:
        if "hidden_layers" in setting:
            hidden = setting["hidden_layers"]
            setting["hidden_layers"] = tuple(hidden) if isinstance(hidden, Iterable) else (hidden,)
        hidden = setting.get("hidden_layers", config.layer_dims[1:-1])
        network = ModelConfig([config.n_x, *hidden, config.n_y],
                              setting.get("hidden_activation", config.hidden_activation), config.output)
        run_train = dataclasses.replace(train, **{k: v for k, v in setting.items() if k not in NETWORK})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"setting {k + 1} ({_described(setting)}): {exc}") from None
    if run_train.seed is None:
        raise ValueError(f"setting {k + 1} ({_described(setting)}) has no seed: a sweep's runs are reproducible, "
                         f"so give train a seed or sweep seed")
    return Run(setting, network, run_train, None, {})


def _described(setting: dict) -> str:
    return ", ".join(f"{k}={_shown(v)}" for k, v in setting.items()) or "no names"


def _shown(value: Any) -> Any:
    """A swept value as a table shows it: hidden layers as "20x7x5" ("none" for no hidden layer)."""
    if isinstance(value, tuple):
        return "x".join(map(str, value)) or "none"
    return value


def _plain(value: Any) -> Any:
    """JSON-ready: NumPy numbers as Python's, NaN as null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- the stacks -----------------------------------------------------------------------------------


def _stack_key(run: Run, shared: tuple[str, ...]) -> tuple:
    """Runs with one key may share a stack: one network shape, alike in the ``shared`` options
    (all but ``stacks.PER_NETWORK``)."""
    return run.config, tuple(repr(getattr(run.train, name)) for name in shared)


def _checked_jobs(jobs: Any) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs == 0 or jobs < -1:
        raise ValueError(f"jobs must be a positive number of processes, or -1 for every core; got {jobs!r}")
    if jobs == -1:
        import os
        return os.cpu_count() or 1
    return int(jobs)


def _budget(memory: Any, jobs: int) -> int | None:
    """Bytes one job's stack may take: ``memory`` (or half the memory available) shared by the jobs."""
    if memory is not None:
        if isinstance(memory, bool) or not isinstance(memory, (int, np.integer)) or memory <= 0:
            raise ValueError(f"memory must be a positive number of bytes; got {memory!r}")
        return int(memory) // jobs
    available = available_memory()
    return None if available is None else int(BUDGET_SHARE * available) // jobs


def network_bytes(run: Run, m: int, itemsize: int, m_test: int = 0) -> int:
    """The bytes one network of a stack needs at most while it trains (``resources.training_bytes``),
    with its batches copied per network and its test figures measured each epoch."""
    dims, batch = run.config.layer_dims, run.train.mini_batch_size
    copies = 0 if batch is None else itemsize * min(batch, m) * (dims[0] + dims[-1])
    return training_bytes(dims, m, batch, itemsize) + copies + 2 * itemsize * m_test * sum(dims[1:])


def _chunks(runs: list[Run], m: int, itemsize: int, jobs: int, budget: int | None,
            test_data: tuple | None) -> list[list[int]]:
    """The runs' indices in stacks: grouped by ``_stack_key``, each group cut so that a stack fits
    ``budget``, and (with several jobs) into at least ``jobs`` pieces where it can be."""
    groups: dict[tuple, list[int]] = {}
    shared = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in stacks.PER_NETWORK)
    for k, run in enumerate(runs):
        groups.setdefault(_stack_key(run, shared), []).append(k)
    m_test = 0 if test_data is None else test_data[0].shape[-1]
    chunks = []
    for indices in groups.values():
        size = len(indices)
        if budget is not None:
            size = max(1, min(size, budget // network_bytes(runs[indices[0]], m, itemsize, m_test)))
        if jobs > 1:
            size = min(size, math.ceil(len(indices) / jobs))
        chunks += [indices[i:i + size] for i in range(0, len(indices), size)]
    return chunks


def _train_all(chunks: list[list[int]], runs: list[Run], X, Y, test_data, jobs: int):
    """(indices, [(FitResult, figures)]) of each stack, as the stacks finish."""
    work = [(indices, runs[indices[0]].config, [runs[k].train for k in indices]) for indices in chunks]
    if jobs == 1 or len(work) == 1:
        for indices, config, trains in work:
            yield indices, _train_stack(config, X, Y, trains, test_data)
        return
    try:
        from joblib import Parallel, delayed
    except ImportError:
        raise ValueError("jobs > 1 needs joblib: pip install 'chainrule[cli]'") from None

    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    tasks = (delayed(_train_indexed)(indices, config, X, Y, trains, test_data) for indices, config, trains in work)
    yield from parallel(tasks)


def _train_indexed(indices, config, X, Y, trains, test_data):
    return indices, _train_stack(config, X, Y, trains, test_data)


def _train_stack(config: ModelConfig, X, Y, trains: list[TrainConfig], test_data) -> list[tuple[FitResult, dict]]:
    """One stack trained, and each network's figures measured (as one stack) at the end."""
    results = stacks.fit_stack(config, X, Y, trains, validation_data=test_data)
    params = [type(layers[0])(*(np.stack(a) for a in zip(*layers))) for layers in zip(*(r.params for r in results))]
    train_cost, train_accuracy = _each(evaluate(params, X, Y, config), len(trains))
    test_cost, test_accuracy = (_each(evaluate(params, *test_data, config), len(trains)) if test_data is not None
                                else ([math.nan] * len(trains),) * 2)
    out = []
    for k, result in enumerate(results):
        history = result.history
        out.append((result, {"final_cost": float(history.cost[-1]) if len(history) else math.nan,
                             "train_cost": train_cost[k], "train_accuracy": train_accuracy[k],
                             "test_cost": test_cost[k], "test_accuracy": test_accuracy[k], "epochs": len(history),
                             "stop_reason": history.stop_reason, "best_epoch": history.best_epoch}))
    return out


def _each(figures: tuple, K: int) -> tuple[list[float], list[float]]:
    """evaluate's (J, accuracy) of a stack as two lists of K floats."""
    return tuple([float(v) for v in np.broadcast_to(np.asarray(f, dtype=float), (K,))] for f in figures)
