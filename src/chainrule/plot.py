"""Pictures of training: the cost J per epoch, and where a classifier draws its boundary.

- ``plot_history``: the training cost J and, with validation data, the validation cost.
- ``decision_grid`` / ``plot_decision_boundary``: the class predicted at every point of a
  grid over two input features, with the examples on top, in the user's units.
- ``training_figure``: both side by side; ``save_figure`` writes it as a PNG.
- ``sweep_figure``: a sweep's accuracy against the swept value, and every run's cost.

Figures are built with ``matplotlib.figure.Figure`` itself, never pyplot: no GUI backend is
chosen or started and no global state changes, so the functions are safe in scripts,
servers and tests. Each returns its Figure; a notebook displays a returned Figure as an image.
matplotlib is imported only when a picture is drawn (``pip install 'chainrule[plot]'``).
"""

from __future__ import annotations

import io
import os
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_number, check_X, check_Y
from ._files import write_atomically
from .datasets import Standardizer, standardize
from .history import History
from .layers import LayerParams
from .model import ModelConfig, check_config, predict_proba

__all__ = ["decision_grid", "plot_decision_boundary", "plot_history", "png_bytes", "save_figure", "sweep_figure",
           "training_figure"]

MARGIN = 0.1                     # the grid reaches this fraction of the data's span beyond it
DISTINCT_COLORS = 20             # classes drawn in colours told apart at a glance; a colormap beyond
CONTINUOUS_COLORMAP = "turbo"    # many hues along it, so that regions of distant classes differ
LEGEND_CLASSES = 12              # a legend of at most this many classes; a colorbar of class numbers beyond


def _matplotlib():
    """The matplotlib package with the modules used here loaded, or a ``ValueError`` that says how to get it."""
    try:
        import matplotlib.colors
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError:
        raise ValueError("plots need matplotlib: pip install 'chainrule[plot]'") from None
    return matplotlib


def _new_figure(size: Any = (6.4, 4.8), dpi: Any = 100):
    """A Figure of ``size`` inches at ``dpi`` dots per inch, not attached to pyplot."""
    matplotlib = _matplotlib()
    try:
        width, height = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be a pair (width, height) in inches; got {size!r}") from None
    width = check_number("size[0] (the width in inches)", width, "a positive number", lambda v: v > 0)
    height = check_number("size[1] (the height in inches)", height, "a positive number", lambda v: v > 0)
    dpi = check_number("dpi", dpi, "a positive number", lambda v: v > 0)
    figure = matplotlib.figure.Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    # IPython shows a Figure as an image only once pyplot's inline backend has registered
    # itself; until then it would print "<Figure size … with 2 Axes>". With _repr_png_ the
    # figure shows itself (the registered display, when there is one, still comes first).
    figure._repr_png_ = types.MethodType(png_bytes, figure)
    return figure


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes, (width × dpi, height × dpi) pixels (what ``save_figure`` writes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi="figure")
    return buffer.getvalue()


def _axes_or_new(ax: Any):
    """(figure, axes): the root Figure of ``ax`` and ``ax`` itself, or a new Figure with one Axes."""
    matplotlib = _matplotlib()
    if ax is None:
        figure = _new_figure()
        return figure, figure.add_subplot()
    if not isinstance(ax, matplotlib.axes.Axes):
        raise ValueError(f"ax must be a matplotlib Axes to draw into, or None for a new figure; "
                         f"got {type(ax).__name__}")
    try:
        figure = ax.get_figure(root=True)                          # matplotlib ≥ 3.10
    except TypeError:
        figure = ax.figure.figure                                  # before: a SubFigure's .figure is the root
    return figure, ax


def _class_colors(C: int) -> list:
    """C colours, one per class: distinct up to ``DISTINCT_COLORS``, then samples of a continuous map.

    Up to 10 classes: matplotlib's tab10 (its default cycle). Up to 20: tab10's colours, then
    their light variants from tab20 (tab20 pairs them, which would give classes 0 and 1 two
    blues). Beyond: ``CONTINUOUS_COLORMAP`` sampled at C evenly spaced points; neighbouring
    class numbers then look alike, and a colorbar rather than a legend reads them.
    """
    matplotlib = _matplotlib()
    if C <= 10:
        return list(matplotlib.colormaps["tab10"].colors[:C])
    if C <= DISTINCT_COLORS:
        tab20 = matplotlib.colormaps["tab20"].colors
        return list(tab20[0::2] + tab20[1::2])[:C]
    return [tuple(rgba) for rgba in matplotlib.colormaps[CONTINUOUS_COLORMAP](np.linspace(0, 1, C))]


# --- the cost per epoch ----------------------------------------------------------------------


def plot_history(history: History, ax: Any = None):
    """The training cost J per epoch and, where measured, the validation cost.

    Parameters
    ----------
    history : History
        ``train``'s (or ``fit``'s) history: ``cost`` is J of each epoch (with the L2 term when
        λ > 0), ``val_cost`` the data cost on the validation set (NaN where not measured).
    ax : matplotlib Axes, optional
        Where to draw; a new Figure with one Axes when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into. The y axis is logarithmic when the costs span more than two
        decades (a cost that falls from 0.7 to 0.001 is otherwise a flat line after the
        first epochs). The curves carry the gids "training" and "validation".
    """
    if not isinstance(history, History):
        raise ValueError(f"history must be the History that chainrule.train returns; got {type(history).__name__}")
    figure, ax = _axes_or_new(ax)
    with_l2 = bool(np.any(history.l2_cost > 0))
    marker = "o" if len(history) == 1 else None                    # one epoch: a point, not a line
    ax.plot(history.epoch, history.cost, marker=marker, gid="training",
            label="training J (with L2)" if with_l2 else "training")
    costs = [history.cost]
    if np.any(np.isfinite(history.val_cost)):
        ax.plot(history.epoch, history.val_cost, marker=marker, gid="validation",
                label="validation J (without L2)" if with_l2 else "validation")
        costs.append(history.val_cost)
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch, color="0.5", linestyle=":", gid="best epoch",
                   label=f"best epoch ({history.best_epoch})")
    values = np.concatenate(costs)
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() / values.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J")
    stopped = "" if history.stop_reason == "completed" else f" (stopped: {history.stop_reason})"
    ax.set_title(f"cost per epoch{stopped}")
    if len(history):
        ax.legend()
    return figure


# --- the decision boundary -------------------------------------------------------------------


def _check_classifier(config: ModelConfig, what: str) -> int:
    """The number of classes C a network with this config predicts in the plane, or a ``ValueError``."""
    check_config(config)
    if config.n_x != 2:
        raise ValueError(f"{what} is drawn in the plane of two input features: it needs n_x = 2; "
                         f"this network has n_x = {config.n_x}")
    if config.output == "identity":
        raise ValueError(f"{what} separates classes, and an identity output predicts values, "
                         "not classes: there is none to draw")
    if config.output == "sigmoid" and config.n_y != 1:
        raise ValueError(f"{what} needs one class per point; a sigmoid output with n_y = {config.n_y} "
                         "units predicts that many independent labels (use n_y = 1, or softmax)")
    return 2 if config.output == "sigmoid" else config.n_y


def _classes_of(AL: np.ndarray, output: str) -> np.ndarray:
    """The predicted class of each column of A[L] (n_y, m): A > 0.5 for sigmoid, arg-max for softmax."""
    if output == "sigmoid":
        return (AL[0] > 0.5).astype(np.int64)
    return np.argmax(AL, axis=0)


def decision_grid(
    params: Sequence[LayerParams],
    config: ModelConfig,
    X: Any,
    standardizer: Standardizer | None = None,
    resolution: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class the network predicts at every point of a grid that covers X.

    Parameters
    ----------
    params : list of (W, b)
    config : ModelConfig
        n_x = 2, and a classifying output: sigmoid with n_y = 1, or softmax.
    X : (2, m)
        The examples the grid must cover, in the user's units; the grid reaches 10 % of
        each feature's span beyond its smallest and largest value.
    standardizer : Standardizer, optional
        The statistics the network was trained with: each grid point x is predicted as
        (x − mean) / std, so that the grid stays in the units of X.
    resolution : int
        Grid points along each axis (≥ 2).

    Returns
    -------
    xx, yy : (resolution, resolution)
        The grid's x1 and x2 coordinates (``numpy.meshgrid``: x1 varies along columns).
    classes : (resolution, resolution) int
        The predicted class at (xx, yy): A[L] > 0.5 for sigmoid (0 or 1), the arg-max of
        A[L] for softmax (0 … C−1), as ``chainrule.predict`` decides.
    """
    _check_classifier(config, "a decision boundary")
    X = check_X(X, 2)
    if standardizer is not None and not isinstance(standardizer, Standardizer):
        raise ValueError(f"standardizer must be a chainrule.datasets.Standardizer (from fit_standardizer); "
                         f"got {type(standardizer).__name__}")
    resolution = check_number("resolution", resolution, "an integer ≥ 2", lambda v: v >= 2, integer=True)
    low, high = X.min(axis=1), X.max(axis=1)                       # (2,)
    span = high - low
    margin = np.where(span > 0, MARGIN * span, np.maximum(MARGIN * np.abs(low), 1.0))
    x1 = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    x2 = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    xx, yy = np.meshgrid(x1, x2)                                   # (resolution, resolution)
    grid = np.vstack([xx.ravel(), yy.ravel()])                     # (2, resolution²)
    if standardizer is not None:
        grid = standardize(grid, standardizer)
    AL = predict_proba(params, grid, config)                       # (n_y, resolution²)
    return xx, yy, _classes_of(AL, config.output).reshape(xx.shape)


def plot_decision_boundary(
    params: Sequence[LayerParams],
    config: ModelConfig,
    X: Any,
    Y: Any,
    ax: Any = None,
    standardizer: Standardizer | None = None,
    resolution: int = 200,
):
    """The regions where the network predicts each class, with the examples coloured by label.

    Parameters
    ----------
    params, config, X, standardizer, resolution :
        As for ``decision_grid``: X (2, m) is in the user's units, and the standardizer the
        network was trained with (if any) is applied before it predicts.
    Y : (n_y, m)
        The labels of X: a 0/1 row for sigmoid, one-hot columns for softmax.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure with one Axes when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into. The title gives the fraction of the drawn examples that the
        network classifies correctly. Each class has one colour (distinct ones for up to 20
        classes, samples of a continuous colormap beyond): the grid points predicted as the
        class (cells of the image with gid "regions") in a light shade of it, its examples in
        the full colour. A legend names the classes when there are at most 12; beyond, a
        colorbar gives the class number of each colour.
    """
    C = _check_classifier(config, "a decision boundary")
    X = check_X(X, 2)
    Y = check_Y(Y, config.output, config.n_y, X.shape[1], np.dtype(np.float64))
    xx, yy, classes = decision_grid(params, config, X, standardizer, resolution)
    figure, ax = _axes_or_new(ax)
    matplotlib = _matplotlib()
    colors = _class_colors(C)
    cmap = matplotlib.colors.ListedColormap(colors)
    norm = matplotlib.colors.BoundaryNorm(np.arange(C + 1) - 0.5, C)      # class k ↦ colors[k]
    # An image of one cell per grid point, each in the colour of its class. Filled contours
    # would interpolate the class number between grid points and draw a thin band of every
    # class between k and k' along a boundary between the two; a mesh of cells would be
    # turned into one path per cell whenever the legend looks for the emptiest corner.
    half_x, half_y = (xx[0, 1] - xx[0, 0]) / 2, (yy[1, 0] - yy[0, 0]) / 2
    ax.imshow(classes, cmap=cmap, norm=norm, alpha=0.3, origin="lower", aspect="auto", interpolation="nearest",
              extent=(xx[0, 0] - half_x, xx[0, -1] + half_x, yy[0, 0] - half_y, yy[-1, 0] + half_y), gid="regions")
    X_net = X if standardizer is None else standardize(X, standardizer)
    predicted = _classes_of(predict_proba(params, X_net, config), config.output)
    labels = (Y[0] > 0.5).astype(np.int64) if config.output == "sigmoid" else np.argmax(Y, axis=0)
    style = {"edgecolors": "black", "linewidths": 0.4, "s": 16}
    ax.set_xlim(xx[0, 0], xx[0, -1])
    ax.set_ylim(yy[0, 0], yy[-1, 0])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"decision boundary (accuracy {np.mean(predicted == labels):.1%})")
    if C <= LEGEND_CLASSES:
        for k in range(C):                                     # one labelled set of points per class
            mine = labels == k
            if np.any(mine):
                ax.scatter(X[0, mine], X[1, mine], color=colors[k], **style,
                           label=f"y = {k}" if config.output == "sigmoid" else f"class {k}")
        # Inside the axes, over the emptiest corner: not a reason for the layout to shrink the axes
        # (a legend taller than a small figure would otherwise make the layout give up).
        ax.legend(loc="best", fontsize="small").set_in_layout(False)
    else:
        # A legend of C entries would be taller than the axes (the layout then gives up) and
        # unreadable; a colorbar maps colours to class numbers in the height of the axes.
        points = ax.scatter(X[0], X[1], c=labels, cmap=cmap, norm=norm, **style)
        colorbar = ax.figure.colorbar(points, ax=ax, ticks=matplotlib.ticker.MaxNLocator(nbins=10, integer=True))
        colorbar.set_label(f"class (of {C})")
        colorbar.minorticks_off()                              # else a tick at each of the C + 1 band edges
    return figure


# --- both, and saving ------------------------------------------------------------------------


def training_figure(
    history: History,
    params: Sequence[LayerParams] | None = None,
    config: ModelConfig | None = None,
    X: Any = None,
    Y: Any = None,
    standardizer: Standardizer | None = None,
    size: tuple[float, float] = (10, 4),
    dpi: float = 100,
):
    """The cost curves and, for a classifier of two input features, its decision boundary.

    Parameters
    ----------
    history : History
    params, config, X, Y : optional, all four or none
        The trained network and the examples to draw (X in the user's units). The decision
        boundary is drawn on the right when they are given, n_x = 2 and the output
        classifies (sigmoid with n_y = 1, or softmax); otherwise the cost curves take the
        whole figure.
    standardizer : Standardizer, optional
        The statistics the network was trained with (see ``decision_grid``).
    size : (width, height)
        In inches; the PNG of ``save_figure`` is size × dpi pixels.
    dpi : float
        Dots per inch.

    Returns
    -------
    matplotlib.figure.Figure
    """
    network = {"params": params, "config": config, "X": X, "Y": Y}
    missing = [name for name, value in network.items() if value is None]
    if 0 < len(missing) < len(network):
        raise ValueError(f"params, config, X and Y go together (all four to draw the decision boundary, or "
                         f"none); missing: {', '.join(missing)}")
    boundary = False
    if not missing:
        check_config(config)
        boundary = config.n_x == 2 and (config.output == "softmax"
                                        or (config.output == "sigmoid" and config.n_y == 1))
    figure = _new_figure(size, dpi)
    plot_history(history, ax=figure.add_subplot(1, 2 if boundary else 1, 1))
    if boundary:
        plot_decision_boundary(params, config, X, Y, ax=figure.add_subplot(1, 2, 2), standardizer=standardizer)
    return figure


def save_figure(figure: Any, path: str | os.PathLike) -> Path:
    """Write ``figure`` to ``path`` as a PNG, atomically; returns the path.

    The image is (width × dpi, height × dpi) pixels, the figure's own size and dpi (no
    trimming to the drawn content). It is written to a temporary file in the same folder and
    then renamed over ``path``, so that a file already there is replaced whole or not at
    all: an error while drawing or writing leaves it as it was, and no temporary file behind.
    """
    matplotlib = _matplotlib()
    if not isinstance(figure, matplotlib.figure.Figure):
        raise ValueError(f"figure must be a matplotlib Figure (what the chainrule.plot functions return); "
                         f"got {type(figure).__name__}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_figure writes PNG files: path must end in .png; got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"cannot save {path.name}: there is no folder {str(path.parent)!r}")
    if path.is_dir():
        raise ValueError(f"cannot save to {str(path)!r}: it is a folder")
    # its own dpi, whatever rcParams say
    return write_atomically(path, lambda handle: figure.savefig(handle, format="png", dpi="figure"))


# --- a sweep ---------------------------------------------------------------------------------


def sweep_figure(sweep: Any, size: Any = (12.8, 4.8)):
    """A sweep (``sweeps.Sweep``) in two panels, returned as a Figure.

    Left: the accuracy at the end (the cost for an identity output) against the first swept
    name other than the seed, one dot per run, a line through the mean over the runs that
    share a value and a band from the least to the greatest (the spread over seeds); test
    figures solid and training figures dashed, one colour per value of the other swept names.
    Right: every run's cost per epoch, coloured alike. Numbers spanning more than a decade
    are placed on a logarithmic axis; other values (hidden layers, names) in the order swept.
    """
    figure = _new_figure(size)
    left, right = figure.subplots(1, 2)
    runs = list(sweep.runs)
    keys = [k for k in sweep.keys if k != "seed"] or list(sweep.keys)
    x_key = keys[0] if keys else None
    lines = _sweep_lines_of(runs, keys[1:])
    colors = _class_colors(max(1, len(lines)))
    xs, scale = _sweep_axis([run.setting.get(x_key, k) for k, run in enumerate(runs)], x_key)
    classifier = runs[0].config.output != "identity"
    tested = any(np.isfinite(run.figures["test_cost"]) for run in runs)
    for color, (label, members) in zip(colors, lines.items()):
        for column in ("test", "train") if tested else ("train",):
            values = np.array([runs[k].figures[f"{column}_{'accuracy' if classifier else 'cost'}"] for k in members])
            _sweep_band(left, xs[members], values, color, f"{column}: {label}",
                        spread=column == ("test" if tested else "train"))
        for k in members:
            history = runs[k].result.history
            right.plot(history.epoch, history.cost, color=color, alpha=0.5, linewidth=0.8)
    left.set_xlabel(x_key or "run")
    left.set_ylabel("accuracy" if classifier else "cost J")
    if scale == "log":
        left.set_xscale("log")
    elif scale is not None:
        left.set_xticks(range(len(scale)), scale)
    left.set_title(("test (solid: each run, mean and range) and training (dashed: mean)" if tested else
                    "training (each run, mean and range)") + ", at the end", fontsize="medium")
    left.legend(fontsize="small")
    costs = np.concatenate([run.result.history.cost for run in runs]) if runs else np.array([])
    costs = costs[np.isfinite(costs)]
    if costs.size and costs.min() > 0 and costs.max() / costs.min() > 100:
        right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("cost J")
    right.set_title(f"cost per epoch of all {len(runs)} runs")
    return figure


def _sweep_lines_of(runs: list, other_keys: list[str]) -> dict[str, list[int]]:
    """{label: indices of the runs drawn as one line}: one line per value of the other swept names."""
    lines: dict[str, list[int]] = {}
    for k, run in enumerate(runs):
        label = ", ".join(f"{name} {_sweep_value(run.setting.get(name))}" for name in other_keys) or "all runs"
        lines.setdefault(label, []).append(k)
    return lines


def _sweep_value(value: Any) -> str:
    return ("x".join(map(str, value)) or "none") if isinstance(value, tuple) else str(value)


def _sweep_axis(values: list, name: str | None) -> tuple[np.ndarray, Any]:
    """(x of each run, scale): numbers themselves (scale "log" where positive and spanning more
    than a decade, else None), or positions 0, 1, … with their labels in the order first swept."""
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        x = np.array(values, dtype=float)
        return x, "log" if x.min() > 0 and x.max() / x.min() > 10 else None
    labels = list(dict.fromkeys(_sweep_value(v) for v in values))
    return np.array([labels.index(_sweep_value(v)) for v in values], dtype=float), labels


def _sweep_band(ax, x: np.ndarray, values: np.ndarray, color, label: str, spread: bool) -> None:
    """The mean of ``values`` over the runs at each x; with ``spread``, a solid line, each run as a dot
    and the band from the least to the greatest; without, a dashed line."""
    if not np.isfinite(values).any():
        return
    at = np.unique(x)
    groups = [values[x == v] for v in at]
    mean = np.array([np.nanmean(g) if np.isfinite(g).any() else np.nan for g in groups])
    ax.plot(at, mean, "-" if spread else "--", color=color, marker="o" if len(at) == 1 else None, label=label,
            linewidth=1.8 if spread else 1.0)
    if spread:
        if any(len(g) > 1 for g in groups):
            ax.fill_between(at, [np.nanmin(g) for g in groups], [np.nanmax(g) for g in groups], color=color,
                            alpha=0.15, linewidth=0)
        ax.scatter(x, values, color=color, s=8, alpha=0.6)
