"""The numbers of one picture of the page: the network's output and every hidden unit on a grid.

The page draws; the numbers come from ``chainrule.forward`` on a grid of points that covers
the data in the two features shown (the others held at the training data's mean), so the
boundary is what the library computes. One forward pass on a 41 × 41 grid gives the output
(the boundary) and, every other point, the 21 × 21 map of each hidden unit. Arrays travel as
bytes (each value quantised to 0 … 255, then base64), a few kilobytes a frame.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import numpy as np

from ..model import ModelConfig, forward
from ..plot import MARGIN

RESOLUTION = 41              # grid points along each axis of the decision boundary
UNIT_STRIDE = 2              # every other point of it for the hidden units' maps: 21 × 21


class Grid(NamedTuple):
    """Points covering the data: ``points`` (n_x, resolution²), row-major from the top-left
    corner (x1 grows along a row, x2 falls down the rows, as a picture's pixels run);
    ``extent`` = [x1_min, x1_max, x2_min, x2_max] of the two axes shown."""

    points: np.ndarray
    extent: list[float]
    resolution: int


def extent_of(X: np.ndarray, axes: tuple[int, int]) -> list[float]:
    """[x1_min, x1_max, x2_min, x2_max]: the span of X (n_x, m) in the two axes, widened by
    ``plot.MARGIN`` of it on each side as ``plot.decision_grid`` widens it."""
    limits = []
    for axis in axes:
        low, high = float(X[axis].min()), float(X[axis].max())
        margin = MARGIN * (high - low) if high > low else max(MARGIN * abs(low), 1.0)
        limits += [low - margin, high + margin]
    return limits


def make_grid(extent: list[float], axes: tuple[int, int], center: np.ndarray, resolution: int) -> Grid:
    """The grid over ``extent`` in the two ``axes``; every other feature at ``center`` (n_x,)."""
    x1 = np.linspace(extent[0], extent[1], resolution)
    x2 = np.linspace(extent[3], extent[2], resolution)                # top row first
    xx, yy = np.meshgrid(x1, x2)                                       # (resolution, resolution)
    points = np.repeat(np.asarray(center, dtype=np.float64)[:, np.newaxis], resolution ** 2, axis=1)
    points[axes[0]], points[axes[1]] = xx.ravel(), yy.ravel()          # (n_x, resolution²)
    return Grid(points, extent, resolution)


def quantised(values: np.ndarray, low: float, high: float) -> str:
    """``values`` mapped from [low, high] to the bytes 0 … 255, as base64 text."""
    scaled = np.clip(np.rint(np.nan_to_num((values - low) * (255.0 / (high - low)))), 0, 255).astype(np.uint8)
    return base64.b64encode(scaled.tobytes()).decode("ascii")


def picture(params: list, config: ModelConfig, grid: Grid) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the boundary, the hidden units' maps) from one forward pass over the grid.

    The boundary is A[L] (n_y, resolution²): the probability of each class (for one sigmoid
    unit, of class 1). Each hidden layer's A[l] (n_l, resolution²) is taken at every
    ``UNIT_STRIDE``-th point along both axes, one map per unit, each unit scaled by its largest
    |value| to [−1, 1] (its colour says the sign and the relative size). Rows of the grid run
    one after another, top row first.
    """
    with np.errstate(over="ignore", invalid="ignore"):              # a diverging run's numbers, drawn as they are
        AL, caches = forward(params, grid.points, config)
    n = grid.resolution
    boundary = {"resolution": n, "rows": int(AL.shape[0]), "probs": quantised(AL, 0.0, 1.0)}
    units = []
    for cache in caches[:-1]:
        A = cache.A.reshape(-1, n, n)[:, ::UNIT_STRIDE, ::UNIT_STRIDE]      # (n_l, k, k)
        scale = np.max(np.abs(A), axis=(1, 2), keepdims=True)
        scale[scale == 0] = 1.0
        units.append({"units": int(A.shape[0]), "resolution": int(A.shape[1]), "maps": quantised(A / scale, -1.0, 1.0)})
    return boundary, units


def weights(params: list) -> list[list[list[float]]]:
    """W[l] of every layer as nested lists (n_l rows of n_{l-1}), rounded to 3 significant digits
    (the drawing shows their sign and size)."""
    return [[[float(f"{w:.3g}") for w in row] for row in W.tolist()] for W, _ in params]
