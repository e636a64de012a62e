"""Is deferring the 1/m of J about numerical stability? ``precision`` measures it.

For one network, its parameters and its data, and for batch sizes m, the study computes
dW[l], db[l] of every layer in float16, bfloat16 (emulated, ``emulate``), float32 and
float64 (chainrule's own backward) with the 1/m placed each way (``emulate.VARIANTS``), and
compares each with the exact backward of the same stored forward pass. Every figure it
reports, and every sentence of its verdict, comes from what it has just measured.

The m examples are drawn from the data given (a permutation of it; with replacement where m
exceeds its size), and a smaller m is always the start of a larger one's sample.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._checks import as_rng, check_number
from ..layers import LayerParams
from ..model import ModelConfig, check_config, compute_data_cost
from .emulate import (
    ACCUMULATIONS,
    NATIVE_VARIANTS,
    VARIANTS,
    Backward,
    formula,
    reference_backward,
    run_backward,
    stored_forward,
)
from .formats import FORMATS, LOW, get_format

QUANTILES = (0.0, 0.01, 0.1, 0.5, 0.9, 1.0)
LOST = 0.5                 # a relative error of 50 % or more: half the gradient or more is gone
MARK = 0.01                # the table marks a cell where more than 1 % of some dZ[l] was flushed to zero


class Row(NamedTuple):
    """One measurement: a format, an accumulation ("float32", "storage", or "native" for
    chainrule's own float32/float64 backward), a variant and a batch size m.

    errors[l-1] : relative error ‖(dW[l], db[l]) − exact‖_F / ‖exact‖_F (inf if not finite)
    flushed[l-1] : the fraction of dZ[l]'s entries stored as 0 where the exact value is not
    subnormal[l-1] : the fraction of dZ[l]'s entries stored as nonzero subnormals
    nonfinite : whether any dW, db or dZ held inf or NaN
    """

    format: str
    accumulate: str
    variant: str
    m: int
    errors: tuple[float, ...]
    flushed: tuple[float, ...]
    subnormal: tuple[float, ...]
    nonfinite: bool

    @property
    def worst(self) -> float:
        """The worst layer's relative error."""
        return max(self.errors)


class Agreement(NamedTuple):
    """chainrule's two conventions side by side in a native format at one m: whether their dW,
    db are bitwise identical, and their largest relative difference, the worst layer's
    ‖(dW, db)_absorbed − (dW, db)_deferred‖_F / ‖(dW, db)_deferred‖_F."""

    format: str
    m: int
    identical: bool
    difference: float


class Prediction(NamedTuple):
    """Thresholds predicted from the format's range and the exact per-example gradients.

    flush_1, flush_50 : per layer, the m from which 1 % (half) of dZ[l] = (exact dZ[l])/m falls
        below half the smallest subnormal and rounds to 0: m = q / (smallest / 2) for the 1 %
        (50 %) quantile q of the nonzero |exact dZ[l]| per example.
    overflow : the m from which an unscaled sum m |∂J/∂W| (its largest entry, any layer)
        exceeds the format's largest value.
    """

    format: str
    flush_1: tuple[float, ...]
    flush_50: tuple[float, ...]
    overflow: float


class TrainingRun(NamedTuple):
    """Gradient descent from the same start with float32 master weights, each gradient computed
    in ``format`` by ``variant``: J of the master weights (in float64) before each epoch and
    after the last, and the number of epochs whose dW[1] was entirely zero."""

    format: str
    variant: str
    m: int
    cost: tuple[float, ...]
    zero_steps: int


@dataclasses.dataclass(frozen=True)
class PrecisionStudy:
    """What ``precision`` measured; ``table``, ``verdict``, ``plot`` and ``to_json`` show it."""

    layer_dims: tuple[int, ...]
    activations: tuple[str, ...]
    ms: tuple[int, ...]
    formats: tuple[str, ...]
    accumulate: tuple[str, ...]
    variants: tuple[str, ...]
    loss_scale: float
    seed: int
    rows: tuple[Row, ...]
    quantiles: dict                # m → |A − Y| per example at QUANTILES (float64 pass)
    predictions: tuple[Prediction, ...]
    agreement: tuple[Agreement, ...]
    training: tuple[TrainingRun, ...] = ()
    training_settings: dict | None = None

    # --- selections -------------------------------------------------------------------------

    def row(self, format: str, variant: str, m: int, accumulate: str | None = None) -> Row:
        """The row of (format, variant, m), by default the first accumulation measured."""
        for r in self.rows:
            if (r.format, r.variant, r.m) == (format, variant, m) and accumulate in (None, r.accumulate):
                return r
        raise KeyError(f"no row for {format}, {variant}, m = {m}, accumulate {accumulate}")

    def series(self) -> list[tuple[str, str, str, list[Row]]]:
        """(format, accumulate, variant, rows by m) for every line of the table."""
        keys = dict.fromkeys((r.format, r.accumulate, r.variant) for r in self.rows)
        return [(f, a, v, [r for r in self.rows if (r.format, r.accumulate, r.variant) == (f, a, v)])
                for f, a, v in keys]

    # --- text -------------------------------------------------------------------------------

    def limits(self) -> str:
        """The low formats' limits that decide the results: unit roundoff, smallest values, largest."""
        lines = [f"{'format':>9}  {'u = 2^-p':>9}  {'smallest subnormal':>18}  {'smallest normal':>15}  "
                 f"{'largest':>9}"]
        for name in self.formats:
            f = get_format(name)
            lines.append(f"{name:>9}  {f.u:>9.2e}  {f.smallest:>18.3e}  {f.tiny:>15.3e}  {f.max:>9.3e}")
        return "\n".join(lines)

    def quantile_table(self) -> str:
        """|A − Y| per example at each m: how large the output error that dZ[L] starts from is."""
        head = "".join(f"  {('q' + format(100 * q, 'g') + '%') if 0 < q < 1 else ('min' if q == 0 else 'max'):>9}"
                       for q in QUANTILES)
        lines = [f"{'m':>9}{head}"]
        for m in self.ms:
            lines.append(f"{m:>9}" + "".join(f"  {v:>9.2e}" for v in self.quantiles[m]))
        return "\n".join(lines)

    def thresholds(self) -> str:
        """The predicted thresholds beside the measured ones, per low format and layer: the m from
        which 1 % and half of the absorbed dZ[l] is flushed to zero, and the m from which a stored
        unscaled sum overflows ("—" where no m measured reached it)."""
        def measured(rows: list[Row], test) -> str:
            row = _first(rows, test)
            return "—" if row is None else str(row.m)

        def flushed(rows: list[Row], l: int, share: float) -> str:
            return measured(rows, lambda r: r.flushed[l - 1] > share if share < 0.5 else r.flushed[l - 1] >= share)

        lines = [f"{'format':>9}  {'layer':>5}  {'1 % flushed: predicted':>22}  {'measured':>8}  "
                 f"{'half: predicted':>15}  {'measured':>8}"]
        for p in self.predictions:
            absorbed = [r for r in self.rows if (r.format, r.variant) == (p.format, "absorbed")]
            for l, (one, half) in enumerate(zip(p.flush_1, p.flush_50), start=1):
                lines.append(f"{p.format:>9}  {l:>5}  {_m(one):>22}  {flushed(absorbed, l, MARK):>8}"
                             f"  {_m(half):>15}  {flushed(absorbed, l, 0.5):>8}")
        for p in self.predictions:
            stored = [r for r in self.rows if (r.format, r.variant) == (p.format, "deferred_stored")]
            lines.append(f"{p.format}: a stored unscaled sum m·|∂J/∂W| passes {get_format(p.format).max:.4g} from m ≈ "
                         f"{_m(p.overflow)} (predicted); measured: "
                         + (measured(stored, lambda r: r.nonfinite) if stored else "not run"))
        return "\n".join(lines)

    def table(self) -> str:
        """Rows format × accumulation × variant, columns m, cells the worst layer's relative error
        ("inf" where anything overflowed; "*" where more than 1 % of some dZ[l] was flushed to 0)."""
        label = max(len(_label(f, a, v)) for f, a, v, _ in self.series())
        lines = [f"{'':<{label}}" + "".join(f"  {'m = ' + str(m):>11}" for m in self.ms)]
        for f, a, v, rows in self.series():
            cells = {r.m: _cell(r) for r in rows}
            lines.append(f"{_label(f, a, v):<{label}}" + "".join(f"  {cells.get(m, ''):>11}" for m in self.ms))
        lines.append(f"\ncells: the worst layer's ‖(dW, db) − exact‖ / ‖exact‖; * more than {MARK:.0%} of a dZ[l] "
                     "flushed to zero; inf: a value overflowed")
        return "\n".join(lines)

    def verdict(self) -> str:
        """Plain sentences with the numbers measured, one per finding."""
        return "\n".join(_verdict(self))

    def report(self) -> str:
        """Everything the command line prints: the settings, |A − Y|, the limits, the table, the verdict."""
        parts = [f"Network {list(self.layer_dims)} ({', '.join(self.activations)}), m = "
                 f"{', '.join(map(str, self.ms))}, loss scale S = {self.loss_scale:g}, seed {self.seed}.",
                 "|A − Y| per example (float64 forward pass):\n" + self.quantile_table(),
                 "The formats' limits:\n" + self.limits(),
                 "Error of dW, db against the exact backward of the same stored forward pass:\n" + self.table()]
        if self.predictions:
            parts.append("Thresholds of the absorbed dZ[l] = (A−Y)/m … and of stored sums, predicted from the format's "
                         "range and the exact per-example gradients, and measured:\n" + self.thresholds())
        if self.training:
            parts.append("Training from the same start (float32 master weights):\n" + self.training_table())
        parts.append("Verdict:\n" + self.verdict())
        return "\n\n".join(parts)

    def training_table(self) -> str:
        """J at the start, the middle and the end of each training run."""
        lines = [f"{'':<34}  {'m':>8}  {'J start':>9}  {'J middle':>9}  {'J end':>9}  {'dW[1] = 0':>9}"]
        for run in self.training:
            c = run.cost
            lines.append(f"{run.format + ': ' + formula(run.format, run.variant):<34}  {run.m:>8}  {c[0]:>9.6f}  "
                         f"{c[len(c) // 2]:>9.6f}  {c[-1]:>9.6f}  {run.zero_steps:>9}")
        return "\n".join(lines)

    def to_json(self) -> str:
        """Every figure as JSON (inf as the string "inf")."""
        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if isinstance(value, dict):
                return {str(k): clean(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                if hasattr(value, "_asdict"):
                    return clean(value._asdict())
                return [clean(v) for v in value]
            if isinstance(value, (np.floating, np.integer)):
                return clean(value.item())
            return value
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["verdict"] = _verdict(self)
        return json.dumps(clean(data), indent=1, ensure_ascii=False)

    # --- pictures ---------------------------------------------------------------------------

    def plot(self):
        """A matplotlib Figure: error against m (log axes), one line per format × variant, with
        float16's unit roundoff and "100 % = gradient lost"; and the fraction of dZ[1] flushed."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 5.5), layout="constrained")
        ax, flush = fig.subplots(1, 2, width_ratios=(3, 2))
        colours = {"float16": "tab:red", "bfloat16": "tab:orange", "float32": "tab:blue", "float64": "tab:green"}
        styles = {"absorbed": "-", "deferred": "--", "deferred_stored": ":", "scaled": "-."}
        markers = {"absorbed": "o", "deferred": "s", "deferred_stored": "^", "scaled": "D"}
        top = 10.0
        for f, a, v, rows in self.series():
            ms = [r.m for r in rows]
            err = [min(r.worst, top) for r in rows]
            label = f"{f}: {formula(f, v)}" + (" (storage sums)" if a == "storage" else "")
            ax.plot(ms, err, styles[v], marker=markers[v], color=colours[f], label=label,
                    alpha=0.55 if a == "storage" else 1.0)
            for r in rows:
                if r.nonfinite:
                    ax.annotate("inf", (r.m, top), color=colours[f], ha="center", va="bottom", fontsize=8)
            if f in LOW:
                flush.plot(ms, [100 * r.flushed[0] for r in rows], styles[v], marker=markers[v], color=colours[f],
                           label=label)
        ax.axhline(get_format("float16").u, color="grey", lw=0.8)
        ax.text(self.ms[-1], get_format("float16").u * 0.8, "float16 unit roundoff 2⁻¹¹", color="grey", fontsize=8,
                ha="right", va="top")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.text(self.ms[0], 1.15, "100 % = gradient lost", fontsize=8)
        ax.set(xscale="log", yscale="log", xlabel="m (examples in the batch)",
               ylabel="worst layer's relative error of dW, db",
               title="Error of backward's arithmetic, against the exact backward of the same forward pass")
        ax.legend(fontsize=7, ncols=2, loc="lower right")
        flush.set(xscale="log", xlabel="m", ylabel="% of dZ[1] flushed to zero", ylim=(-3, 103),
                  title="dZ[1] entries rounded to 0 (exact value nonzero)")
        flush.legend(fontsize=7)
        return fig

    def training_plot(self):
        """A Figure of the training runs, one column per m: the cost curves, and below them each
        run's |J − J of the float64 run| on a log axis (the curves often lie on one another)."""
        from matplotlib.figure import Figure

        ms = sorted({run.m for run in self.training})
        fig = Figure(figsize=(4.5 * max(1, len(ms)), 6.5), layout="constrained")
        axes = np.asarray(fig.subplots(2, max(1, len(ms)), sharex="col", squeeze=False))
        for column, m in enumerate(ms):
            runs = [r for r in self.training if r.m == m]
            base = next((r for r in runs if r.format == "float64"), None)
            for run in runs:
                label = f"{run.format}: {formula(run.format, run.variant)}"
                axes[0, column].plot(run.cost, label=label)
                if base is not None and run is not base:
                    gap = np.abs(np.subtract(run.cost, base.cost))
                    axes[1, column].plot(np.maximum(gap, 1e-12), label=label)
            axes[0, column].set(title=f"m = {m}")
            axes[0, column].legend(fontsize=7)
            axes[1, column].set(yscale="log", xlabel="epoch")
            axes[1, column].legend(fontsize=7)
        axes[0, 0].set_ylabel("J of the float32 master weights")
        axes[1, 0].set_ylabel("|J − J of the float64 run|")
        return fig


def _label(format: str, accumulate: str, variant: str) -> str:
    how = {"native": "chainrule", "float32": "float32 sums", "storage": f"{format} sums"}[accumulate]
    return f"{format} {formula(format, variant)} ({how})"


def _cell(row: Row) -> str:
    if row.nonfinite:
        return "inf"
    return f"{row.worst:.1e}" + ("*" if max(row.flushed) > MARK else "")


# --- measuring ----------------------------------------------------------------------------------


def _relative_error(got: Backward, exact: Backward) -> tuple[float, ...]:
    out = []
    for g, e in zip(got.grads, exact.grads):
        e64 = [np.asarray(e.dW, np.float64), np.asarray(e.db, np.float64)]
        with np.errstate(over="ignore", invalid="ignore"):
            diff = math.sqrt(sum(float(np.sum((np.asarray(a, np.longdouble) - np.asarray(b, np.longdouble)) ** 2))
                                 for a, b in zip((g.dW, g.db), (e.dW, e.db))))
        norm = math.sqrt(sum(float(np.sum(a ** 2)) for a in e64))
        finite = np.all(np.isfinite(g.dW)) and np.all(np.isfinite(g.db))
        out.append(diff / norm if finite and norm > 0 else (0.0 if finite and diff == 0 else math.inf))
    return tuple(out)


def _flushes(got: Backward, exact: Backward, scale: float, fmt) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per layer: the fraction of dZ[l] stored as 0 where exact × scale is not, and the fraction subnormal."""
    flushed, subnormal = [], []
    for dZ, e in zip(got.dZ, exact.dZ):
        nonzero = np.asarray(e) * scale != 0
        count = max(int(nonzero.sum()), 1)
        flushed.append(float(np.sum((dZ == 0) & nonzero)) / count)
        a = np.abs(dZ)
        subnormal.append(float(np.sum((a > 0) & (a < fmt.tiny))) / dZ.size)
    return tuple(flushed), tuple(subnormal)


def _scale(variant: str, m: int, loss_scale: float) -> float:
    """What the variant's dZ is of the per-example dZ: 1/m absorbed, S/m scaled, 1 deferred."""
    return {"absorbed": 1.0 / m, "scaled": loss_scale / m}.get(variant, 1.0)


def _agreement(format: str, m: int, a: Backward, b: Backward) -> Agreement:
    identical = all(np.array_equal(x, y) for g, h in zip(a.grads, b.grads) for x, y in zip(g, h))
    return Agreement(format, m, identical, max(_relative_error(a, b)))


def _check_choice(name: str, given: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    given = (given,) if isinstance(given, str) else tuple(given)
    bad = [g for g in given if g not in allowed]
    if not given or bad:
        raise ValueError(f"{name} must be one or more of {', '.join(allowed)}; "
                         f"got {', '.join(map(repr, bad)) or 'none'}")
    return tuple(dict.fromkeys(given))


def _check_ms(ms: Any, name: str = "ms") -> tuple[int, ...]:
    ms = (ms,) if isinstance(ms, (int, np.integer)) else tuple(ms)
    if not ms:
        raise ValueError(f"{name} must give at least one batch size; got none")
    return tuple(sorted({check_number(name, m, "positive integers", lambda v: v >= 1, integer=True) for m in ms}))


def _sample(X: np.ndarray, Y: np.ndarray, m: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """m columns of (X, Y): a permutation's start, or draws with replacement beyond the data's size."""
    size = X.shape[1]
    index = rng.permutation(size)[:m] if m <= size else rng.integers(0, size, m)
    return X[:, index], Y[:, index]


def precision(config: ModelConfig, params: Sequence[LayerParams], X: Any, Y: Any, *,
              ms: Sequence[int] = (10, 100, 1_000, 10_000, 100_000),
              formats: Sequence[str] = ("float16", "bfloat16", "float32", "float64"),
              accumulate: Sequence[str] = ("float32",), variants: Sequence[str] = tuple(VARIANTS),
              loss_scale: float = 2.0 ** 16, seed: int = 0, train_ms: Sequence[int] = (),
              train_epochs: int = 0, learning_rate: float = 1.2, train_formats: Sequence[str] = ("float16",),
              progress: Callable[[int, int, str], None] | None = None) -> PrecisionStudy:
    """Measure the error of dW, db under each placement of the 1/m, per format and batch size.

    Parameters
    ----------
    config : ModelConfig
    params : list of (W, b)
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)): an initialisation ("early") or a
        trained model's ("late").
    X : (n_x, m_data), Y : (n_y, m_data)
        The data the m examples are drawn from.
    ms : batch sizes m.
    formats : of float16, bfloat16 (emulated), float32, float64 (chainrule's own backward).
    accumulate : "float32" (a float32 accumulator rounded once) and/or "storage" (every partial
        sum rounded to the format: slow, one Python step per term).
    variants : of ``emulate.VARIANTS``; float32 and float64 run the two conventions.
    loss_scale : S of the "scaled" variant.
    seed : the sample of examples.
    train_ms, train_epochs, learning_rate, train_formats : gradient descent from params for
        train_epochs epochs at each m of train_ms, in each of train_formats, under the variants
        absorbed and deferred (and scaled if asked), float32 master weights (none by default).
    progress : called as progress(done, total, what) after each step.

    Returns
    -------
    PrecisionStudy
    """
    config = check_config(config)
    ms = _check_ms(ms)
    formats = _check_choice("formats", formats, tuple(FORMATS))
    accumulate = _check_choice("accumulate", accumulate, ACCUMULATIONS)
    variants = _check_choice("variants", variants, tuple(VARIANTS))
    loss_scale = check_number("loss_scale", loss_scale, "a positive number", lambda v: v > 0)
    seed = check_number("seed", seed, "a non-negative integer", lambda v: v >= 0, integer=True)
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or X.shape[1] == 0:
        raise ValueError(f"X and Y must be 2-D with the same number of columns (examples), at least one; got X "
                         f"{X.shape} and Y {Y.shape}")
    params = [LayerParams(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in params]
    rng = as_rng(seed)
    Xs, Ys = _sample(X, Y, ms[-1], rng)
    low = [f for f in formats if f in LOW]
    steps = sum(len(accumulate) * len(variants) if f in LOW else len(NATIVE_VARIANTS) for f in formats) * len(ms)
    train_ms = _check_ms(train_ms, "train_ms") if train_epochs else ()
    steps += len(train_ms) * (len(train_formats) * 2 + 1) * bool(train_epochs)
    done, rows, agreement, quantiles, reference_at_largest = 0, [], [], {}, None

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps, what)

    for m in ms:
        Xm, Ym = Xs[:, :m], Ys[:, :m]
        exact64 = stored_forward(params, Xm, config, "float64")
        quantiles[m] = tuple(float(q) for q in np.quantile(np.abs(exact64.A[-1] - Ym), QUANTILES))
        for name in formats:
            fmt = get_format(name)
            for acc in (accumulate if name in LOW else ("native",)):
                stored = stored_forward(params, Xm, config, fmt, acc if name in LOW else "float32")
                exact = reference_backward(stored, Ym, config)
                if name == "float64" and m == ms[-1]:
                    reference_at_largest = exact
                results = {}
                for v in (variants if name in LOW else NATIVE_VARIANTS):
                    got = run_backward(stored, Ym, config, v, acc, loss_scale)
                    results[v] = got
                    flushed, subnormal = _flushes(got, exact, _scale(v, m, loss_scale), fmt)
                    nonfinite = not all(np.all(np.isfinite(a)) for g in got.grads for a in g) or \
                        not all(np.all(np.isfinite(d)) for d in got.dZ)
                    rows.append(Row(name, acc, v, m, _relative_error(got, exact), flushed, subnormal, nonfinite))
                    tick(f"{name} {v} m = {m}")
                if name not in LOW:
                    agreement.append(_agreement(name, m, results["absorbed"], results["deferred"]))
    if reference_at_largest is None:
        reference_at_largest = reference_backward(stored_forward(params, Xs, config, "float64"), Ys, config)
    predictions = tuple(_predict(get_format(f), reference_at_largest) for f in low)
    training, settings = (), None
    if train_epochs:
        train_formats = _check_choice("train_formats", train_formats, LOW)
        epochs = check_number("train_epochs", train_epochs, "a positive integer", lambda v: v >= 1, integer=True)
        learning_rate = check_number("learning_rate", learning_rate, "a positive number", lambda v: v > 0)
        train_variants = tuple(v for v in ("absorbed", "deferred") if v in variants) or ("absorbed", "deferred")
        steps += len(train_ms) * len(train_formats) * (len(train_variants) - 2)
        runs = []
        for m in train_ms:
            Xm, Ym = _sample(X, Y, m, as_rng(seed))
            for name, v in [(f, v) for f in train_formats for v in train_variants] + [("float64", "deferred")]:
                runs.append(train_in_format(config, params, Xm, Ym, name, v, epochs, learning_rate, loss_scale))
                tick(f"training {name} {v} m = {m}")
        training = tuple(runs)
        settings = {"ms": train_ms, "epochs": epochs, "learning_rate": learning_rate, "formats": train_formats}
    return PrecisionStudy(tuple(config.layer_dims), tuple(config.activation(l) for l in range(1, config.L + 1)), ms,
                          formats, accumulate, variants, loss_scale, seed, tuple(rows), quantiles, predictions,
                          tuple(agreement), training, settings)


def _predict(fmt, exact: Backward) -> Prediction:
    """The thresholds of ``Prediction`` from the exact per-example dZ and dW of the float64 pass."""
    half = fmt.smallest / 2
    flush_1, flush_50 = [], []
    for dZ in exact.dZ:
        a = np.abs(np.asarray(dZ, np.float64))
        a = a[a > 0]
        q1, q50 = (np.quantile(a, (0.01, 0.5)) if a.size else (math.inf, math.inf))
        flush_1.append(float(q1) / half)
        flush_50.append(float(q50) / half)
    largest = max(float(np.max(np.abs(np.asarray(x, np.float64)))) for g in exact.grads for x in g)
    return Prediction(fmt.name, tuple(flush_1), tuple(flush_50), fmt.max / largest if largest > 0 else math.inf)


def train_in_format(config: ModelConfig, params: Sequence[LayerParams], X: np.ndarray, Y: np.ndarray, format: str,
                    variant: str, epochs: int, learning_rate: float, loss_scale: float = 2.0 ** 16) -> TrainingRun:
    """Full-batch gradient descent on (X, Y) from ``params`` with float32 master weights: each
    epoch the forward pass is stored in ``format`` from the master weights, the gradient is
    computed there by ``variant`` (float32 accumulation; chainrule's own backward for float32
    and float64), and W ← W − α dW in float32. J is measured on the master weights in float64."""
    master = [LayerParams(np.asarray(W, np.float32), np.asarray(b, np.float32)) for W, b in params]
    alpha, costs, zero_steps = np.float32(learning_rate), [], 0

    def cost() -> float:
        return float(compute_data_cost([LayerParams(W.astype(np.float64), b.astype(np.float64)) for W, b in master],
                                       X, Y, config))

    for _ in range(epochs):
        costs.append(cost())
        stored = stored_forward([LayerParams(W.astype(np.float64), b.astype(np.float64)) for W, b in master], X,
                                config, format)
        grads = run_backward(stored, Y, config, variant, "float32", loss_scale).grads
        if not np.any(grads[0].dW):
            zero_steps += 1
        if not all(np.all(np.isfinite(a)) for g in grads for a in g):
            continue                                          # an overflowed step is skipped, as loss scaling does
        master = [LayerParams(W - alpha * g.dW.astype(np.float32), b - alpha * g.db.astype(np.float32))
                  for (W, b), g in zip(master, grads)]
    costs.append(cost())
    return TrainingRun(format, variant, X.shape[1], tuple(costs), zero_steps)


# --- the verdict ----------------------------------------------------------------------------------


def _m(value: float) -> str:
    return f"{value:.2g}" if math.isfinite(value) else "never"


def _pct(e: float) -> str:
    return "inf" if not math.isfinite(e) else f"{100 * e:.3g} %"


def _first(rows: list[Row], test: Callable[[Row], bool]) -> Row | None:
    return next((r for r in rows if test(r)), None)


def _verdict(study: PrecisionStudy) -> list[str]:
    """Each sentence built from the study's numbers; nothing here knows the answer in advance."""
    out = []
    predictions = {p.format: p for p in study.predictions}
    for name in study.formats:
        fmt = get_format(name)
        accs = study.accumulate if name in LOW else ("native",)
        for acc in accs:
            by = {v: [r for r in study.rows if (r.format, r.accumulate, r.variant) == (name, acc, v)]
                  for v in (study.variants if name in LOW else NATIVE_VARIANTS)}
            how = "" if acc == "native" or len(accs) == 1 else f" with {acc if acc == 'float32' else name} sums"
            for v, rows in by.items():
                if not rows:
                    continue
                worst = max(rows, key=lambda r: r.worst)
                over = _first(rows, lambda r: r.nonfinite)
                lost = _first(rows, lambda r: r.worst >= LOST)
                text = f"{name}{how}, {formula(name, v)}: "
                if over is not None:
                    text += f"overflowed (inf) from m = {over.m}"
                    if v == "deferred_stored" and name in predictions:
                        text += f" (predicted: m ≥ {_m(predictions[name].overflow)}, where m·|∂J/∂W| passes " \
                                f"{fmt.max:.5g})"
                elif lost is not None:
                    first = rows[0]
                    text += (f"error {first.worst:.1e} at m = {first.m}, {lost.worst:.0%} of the gradient lost at "
                             f"m = {lost.m}" + (f" (worst {worst.worst:.0%} at m = {worst.m})" if worst is not lost
                                                else ""))
                else:
                    text += f"error at most {worst.worst:.1e} ({worst.worst / fmt.u:.1f} u) over m = " \
                            f"{rows[0].m} … {rows[-1].m}"
                flush = _first(rows, lambda r: r.flushed[0] > MARK)
                if flush is not None and name in LOW:
                    text += f"; more than {MARK:.0%} of dZ[1] flushed to zero from m = {flush.m}"
                    if v == "absorbed" and name in predictions:
                        text += f" (predicted from {name}'s smallest subnormal {fmt.smallest:.3g} and the " \
                                f"per-example |dZ[1]|: m ≥ {_m(predictions[name].flush_1[0])})"
                elif v == "absorbed" and name in predictions:
                    text += (f"; dZ[1] never more than {MARK:.0%} flushed (predicted from m ≈ "
                             f"{_m(predictions[name].flush_1[0])})")
                out.append(text + ".")
        if name not in LOW:
            agree = [a for a in study.agreement if a.format == name]
            same = [a.m for a in agree if a.identical]
            differ = [a for a in agree if not a.identical]
            text = f"{name}, chainrule's two conventions: "
            text += (f"bitwise identical at m = {', '.join(map(str, same))}" if same
                     else "not bitwise identical at any m measured")
            if differ:
                most = max(a.difference for a in differ)
                text += (f"; {'elsewhere ' if same else ''}their relative difference is at most {most:.1e} "
                         f"({most / get_format(name).u:.1f} u" + (f"; at m = {', '.join(str(a.m) for a in differ)})"
                                                                   if same else ")"))
            out.append(text + ".")
    native = [r for r in study.rows if r.accumulate == "native"]
    if native:
        ratio = max(max(r.worst for r in native if r.variant == "absorbed" and r.format == f) /
                    max(max(r.worst for r in native if r.variant == "deferred" and r.format == f), 1e-300)
                    for f in {r.format for r in native})
        worst = max(r.worst for r in native)
        verdict = "makes no difference that matters" if worst < 1e-4 else "shows a difference"
        out.append(f"So in float32 and float64 the place of the 1/m {verdict}: every error is at most {worst:.1e}, "
                   f"the absorbed one at most {ratio:.1f} times the deferred one.")
    for name in (f for f in study.formats if f in LOW):
        worst = {v: max(r.worst for r in study.rows if (r.format, r.variant) == (name, v))
                 for v in study.variants}
        best = min(worst.values())
        bad = {v: e for v, e in worst.items() if e >= LOST or e > 10 * best}
        if bad:
            good = [v for v in worst if v not in bad]
            parts = [f"{formula(name, v)} overflowed" if not math.isfinite(e) else
                     f"{formula(name, v)} reached an error of {_pct(e)}"
                     + (f" ({e / best:.0f} times the best variant's {best:.1e})" if best > 0 else "")
                     for v, e in bad.items()]
            out.append(f"In {name} the place of the 1/m matters: " + "; ".join(parts)
                       + (f"; {' and '.join(formula(name, v) for v in good)} stayed within "
                          f"{max(worst[v] for v in good):.1e}." if good else "."))
        else:
            spread = f"within a factor {max(worst.values()) / best:.1f} of the best's {best:.1e} " \
                     f"({best / get_format(name).u:.1f} u)" if best > 0 else f"at most {max(worst.values()):.1e}"
            out.append(f"In {name} the place of the 1/m matters little at the m measured: every variant's worst error "
                       f"is {spread}.")
    for run_m in sorted({r.m for r in study.training}):
        runs = [r for r in study.training if r.m == run_m]
        base = next((r for r in runs if r.format == "float64"), None)
        for run in runs:
            text = (f"Training at m = {run_m} in {run.format}, {formula(run.format, run.variant)}: J from "
                    f"{run.cost[0]:.4f} to {run.cost[-1]:.4f} in {len(run.cost) - 1} epochs")
            if base is not None and run is not base:
                gap = max(abs(a - b) for a, b in zip(run.cost, base.cost))
                text += f", at most {gap:.1e} from the float64 run's J at any epoch"
            if run.zero_steps:
                text += f"; dW[1] entirely zero in {run.zero_steps} epochs"
            out.append(text + ".")
    return out
