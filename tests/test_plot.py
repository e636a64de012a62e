"""Plots: the figures hold the history's numbers and the network's predictions, and saving is atomic."""

import io
import os
import struct
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import chainrule as cr
from chainrule import datasets
from chainrule.plot import (
    decision_grid,
    plot_decision_boundary,
    plot_history,
    save_figure,
    training_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk, the first after the signature."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def flower():
    """The planar flower split in two, a tanh network trained briefly with validation data."""
    data = datasets.planar_flower()
    X, Y, X_val, Y_val = datasets.split(data.X, data.Y, 0.25, seed=0)
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params, history, *_ = cr.fit(config, X, Y, learning_rate=1.2, num_epochs=30, seed=1,
                               validation_data=(X_val, Y_val))
    return config, params, history, X, Y


@pytest.fixture(scope="module")
def softmax_net():
    """Three Gaussian clusters in the plane, a softmax network of three classes."""
    rng = np.random.default_rng(3)
    labels = np.arange(90) % 3
    centres = np.array([[0.0, 4.0, -4.0], [4.0, -2.0, -2.0]])
    X = centres[:, labels] + rng.standard_normal((2, 90))
    Y = datasets.one_hot(labels, 3)
    config = cr.ModelConfig([2, 5, 3], "relu", "softmax")
    params, history, *_ = cr.fit(config, X, Y, learning_rate=0.1, num_epochs=20, seed=0)
    return config, params, history, X, Y


def curve(ax, gid):
    """The line of ``ax`` with this gid."""
    lines = [line for line in ax.get_lines() if line.get_gid() == gid]
    assert len(lines) == 1, f"expected one {gid!r} curve, found {len(lines)}"
    return lines[0]


# --- the figure as a whole ---------------------------------------------------------------------


def test_training_figure_saved_as_png_of_exact_size(flower, tmp_path):
    config, params, history, X, Y = flower
    figure = training_figure(history, params, config, X, Y, size=(10, 4), dpi=100)
    path = save_figure(figure, tmp_path / "training.png")
    assert path == tmp_path / "training.png"
    assert png_size(path.read_bytes()) == (1000, 400)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training.png"]


def test_other_size_and_dpi(flower, tmp_path):
    config, params, history, X, Y = flower
    path = save_figure(training_figure(history, size=(3, 2), dpi=50), str(tmp_path / "small.png"))
    assert png_size(path.read_bytes()) == (150, 100)


def test_two_axes_for_a_classifier_in_the_plane(flower, softmax_net):
    for config, params, history, X, Y in (flower, softmax_net):
        assert len(training_figure(history, params, config, X, Y).axes) == 2


def test_one_axes_otherwise(flower):
    """Without the network, for 4 input features, for an identity output, for multi-label sigmoid."""
    history = flower[2]
    assert len(training_figure(history).axes) == 1
    rng = np.random.default_rng(0)
    X4 = rng.standard_normal((4, 40))
    cases = [
        (cr.ModelConfig([4, 3, 1], "tanh", "sigmoid"), (X4[:1] > 0).astype(float)),
        (cr.ModelConfig([2, 3, 1], "tanh", "identity"), X4[:1] + X4[1:2]),
        (cr.ModelConfig([2, 3, 2], "tanh", "sigmoid"), (X4[:2] > 0).astype(float)),
    ]
    for config, Y in cases:
        X = X4[:config.n_x]
        params, history, *_ = cr.fit(config, X, Y, learning_rate=0.1, num_epochs=3, seed=0)
        figure = training_figure(history, params, config, X, Y)
        assert len(figure.axes) == 1, config
        np.testing.assert_array_equal(curve(figure.axes[0], "training").get_ydata(), history.cost)


def test_network_arguments_go_together(flower):
    config, params, history, X, Y = flower
    with pytest.raises(ValueError, match="missing: X, Y"):
        training_figure(history, params, config)


def test_size_and_dpi_are_checked(flower):
    history = flower[2]
    with pytest.raises(ValueError, match="size must be a pair"):
        training_figure(history, size=10)
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        training_figure(history, dpi=0)


# --- the cost curves ---------------------------------------------------------------------------


def test_history_curves_hold_the_history(flower):
    config, params, history, X, Y = flower
    ax = training_figure(history, params, config, X, Y).axes[0]
    training, validation = curve(ax, "training"), curve(ax, "validation")
    np.testing.assert_array_equal(training.get_xdata(), history.epoch)
    np.testing.assert_array_equal(training.get_ydata(), history.cost)
    np.testing.assert_array_equal(validation.get_ydata(), history.val_cost)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "cost J"
    assert ax.get_title() and ax.get_legend() is not None


def test_no_validation_curve_without_validation_data(softmax_net):
    history = softmax_net[2]
    assert np.all(np.isnan(history.val_cost))
    ax = plot_history(history).axes[0]
    assert [line.get_gid() for line in ax.get_lines()] == ["training"]


def test_log_scale_only_beyond_two_decades(flower):
    history = flower[2]
    falling = cr.History.from_records([
        cr.EpochRecord(e, c, c, 0.0, np.nan, 0.1, np.nan, np.nan) for e, c in enumerate([1.0, 0.1, 0.005])])
    assert plot_history(falling).axes[0].get_yscale() == "log"
    assert history.cost.max() / history.cost.min() < 100
    assert plot_history(history).axes[0].get_yscale() == "linear"


def test_draws_into_a_given_axes(flower):
    from matplotlib.figure import Figure

    history = flower[2]
    figure = Figure()
    ax = figure.subplots(1, 3)[1]
    assert plot_history(history, ax=ax) is figure
    np.testing.assert_array_equal(curve(ax, "training").get_ydata(), history.cost)
    with pytest.raises(ValueError, match="ax must be a matplotlib Axes"):
        plot_history(history, ax="left")


# --- the decision boundary ---------------------------------------------------------------------


@pytest.mark.parametrize("net", ["flower", "softmax_net"])
def test_decision_grid_agrees_with_predict(net, request):
    config, params, history, X, Y = request.getfixturevalue(net)
    xx, yy, classes = decision_grid(params, config, X, resolution=50)
    assert xx.shape == yy.shape == classes.shape == (50, 50)
    assert xx.min() < X[0].min() and xx.max() > X[0].max()             # the grid covers the data
    assert yy.min() < X[1].min() and yy.max() > X[1].max()
    rows, columns = np.array([0, 7, 25, 31, 49]), np.array([49, 3, 25, 40, 0])
    points = np.vstack([xx[rows, columns], yy[rows, columns]])          # (2, 5)
    np.testing.assert_array_equal(classes[rows, columns], cr.predict(params, points, config)[0])
    grid = np.vstack([xx.ravel(), yy.ravel()])
    np.testing.assert_array_equal(classes.ravel(), cr.predict(params, grid, config)[0])
    assert len(np.unique(classes)) > 1                                   # a boundary crosses the grid


def test_standardizer_is_applied_to_the_grid():
    """A network trained on standardised data, drawn in the original units."""
    data = datasets.planar_flower()
    X = 50.0 * data.X + 300.0                                            # units far from standard
    standardizer = datasets.fit_standardizer(X)
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params, *_ = cr.fit(config, datasets.standardize(X, standardizer), data.Y, learning_rate=1.2,
                         num_epochs=30, seed=1)
    xx, yy, classes = decision_grid(params, config, X, standardizer, resolution=40)
    assert xx.min() < X[0].min() and xx.max() > X[0].max()
    grid = np.vstack([xx.ravel(), yy.ravel()])
    expected = cr.predict(params, datasets.standardize(grid, standardizer), config)[0]
    np.testing.assert_array_equal(classes.ravel(), expected)
    assert len(np.unique(classes)) > 1
    with pytest.raises(ValueError, match="standardizer must be"):
        decision_grid(params, config, X, standardizer=(0.0, 1.0))


def test_boundary_figure_shows_regions_and_points(softmax_net):
    config, params, history, X, Y = softmax_net
    ax = plot_decision_boundary(params, config, X, Y, resolution=30).axes[0]
    assert len(ax.images) == 1                                          # the regions
    assert len(ax.collections) == 3                                     # one scatter per class
    shown = np.vstack([c.get_offsets() for c in ax.collections])
    assert shown.shape == (90, 2)
    assert ax.get_xlabel() == "x1" and ax.get_ylabel() == "x2"
    assert "accuracy" in ax.get_title()


def test_boundary_errors(flower):
    config, params, history, X, Y = flower
    X4 = np.zeros((4, 5))
    config4 = cr.ModelConfig([4, 3, 1])
    params4 = cr.init_params(config4, 0)
    with pytest.raises(ValueError, match="n_x = 4"):
        plot_decision_boundary(params4, config4, X4, np.zeros((1, 5)))
    with pytest.raises(ValueError, match="n_x = 4"):
        decision_grid(params4, config4, X4)
    identity = cr.ModelConfig([2, 3, 1], "tanh", "identity")
    with pytest.raises(ValueError, match="identity output"):
        plot_decision_boundary(cr.init_params(identity, 0), identity, X, Y)
    with pytest.raises(ValueError, match="identity output"):
        decision_grid(cr.init_params(identity, 0), identity, X)
    with pytest.raises(ValueError, match="examples are rows"):
        decision_grid(params, config, X.T)
    with pytest.raises(ValueError, match="resolution must be"):
        decision_grid(params, config, X, resolution=1)


# --- many classes ------------------------------------------------------------------------------


def sector_classes(points: np.ndarray, C: int) -> np.ndarray:
    """The sector of each column of ``points`` (2, n): k where the angle is within π/C of 2πk/C."""
    angle = np.arctan2(points[1], points[0])
    return np.rint(angle / (2 * np.pi / C)).astype(np.int64) % C


def sector_boundary_distance(points: np.ndarray, C: int) -> np.ndarray:
    """How far (in radians) the angle of each column is from the nearest edge between two sectors."""
    steps = np.arctan2(points[1], points[0]) / (2 * np.pi / C)
    return np.abs(np.abs(steps - np.rint(steps)) - 0.5) * (2 * np.pi / C)


def sectors(C: int):
    """(config, params, X, Y, history): a network of no hidden layer whose class regions are C equal sectors.

    Softmax with W[k] = (cos θk, sin θk), θk = 2πk/C, b = 0: z_k = |x| cos(angle(x) − θk) is
    largest for the θk nearest the angle of x. For C = 2, a sigmoid with W = (−1, 0) predicts
    1 where x1 < 0: the sector around θ1 = π. Three examples lie on the middle of each sector.
    """
    theta = 2 * np.pi * np.arange(C) / C
    if C == 2:
        config = cr.ModelConfig([2, 1], "relu", "sigmoid")
        params = [cr.LayerParams(np.array([[-1.0, 0.0]]), np.zeros((1, 1)))]
    else:
        config = cr.ModelConfig([2, C], "relu", "softmax")
        params = [cr.LayerParams(np.column_stack([np.cos(theta), np.sin(theta)]), np.zeros((C, 1)))]
    labels = np.repeat(np.arange(C), 3)
    radius = np.tile([1.0, 2.0, 3.0], C)
    X = radius * np.vstack([np.cos(theta[labels]), np.sin(theta[labels])])         # (2, 3C)
    Y = labels[None, :].astype(float) if C == 2 else datasets.one_hot(labels, C)
    history = cr.History.from_records([
        cr.EpochRecord(e, c, c, 0.0, np.nan, 0.1, np.nan, np.nan) for e, c in enumerate([0.9, 0.5, 0.3])])
    return config, params, X, Y, history


def rendered(figure) -> np.ndarray:
    """The figure's pixels as its PNG holds them: (height, width, 3) RGB in [0, 1], row 0 at the top."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="rgba", dpi="figure")
    width, height = np.rint(figure.get_size_inches() * figure.dpi).astype(int)
    return np.frombuffer(buffer.getvalue(), np.uint8).reshape(height, width, 4)[..., :3] / 255


@pytest.mark.parametrize("C", [2, 3, 12, 50, 200])
def test_many_classes_draw_without_a_warning(C, capfd):
    """The whole figure, drawn as the command line saves it, and small: no warning raised, nothing on stderr."""
    config, params, X, Y, history = sectors(C)
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for size in [(10, 4), (3, 1.5)]:
            figure = training_figure(history, params, config, X, Y, size=size, dpi=30)
            assert png_size(figure._repr_png_()) == (30 * size[0], 30 * size[1])
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("C", [2, 3, 12])
def test_a_legend_names_each_class_when_few(C):
    config, params, X, Y, history = sectors(C)
    figure = training_figure(history, params, config, X, Y)
    assert len(figure.axes) == 2                                                  # no colorbar
    legend = figure.axes[1].get_legend()
    name = "y = {}" if C == 2 else "class {}"
    assert [text.get_text() for text in legend.get_texts()] == [name.format(k) for k in range(C)]


@pytest.mark.parametrize("C", [13, 50, 200])
def test_a_colorbar_of_class_numbers_when_many(C):
    config, params, X, Y, history = sectors(C)
    figure = training_figure(history, params, config, X, Y)
    assert len(figure.axes) == 3
    cost, boundary, colorbar = figure.axes
    assert boundary.get_legend() is None and cost.get_legend() is not None
    assert str(C) in colorbar.get_ylabel()
    np.testing.assert_allclose(sorted(colorbar.get_ylim()), [-0.5, C - 0.5])   # one band per class, no more
    low, high = colorbar.get_ylim()
    ticks = [t for t in colorbar.get_yticks() if low <= t <= high]
    assert 2 <= len(ticks) <= 11
    assert all(float(t).is_integer() and 0 <= t <= C - 1 for t in ticks)
    assert len(colorbar.yaxis.get_minorticklocs()) == 0


@pytest.mark.parametrize("C", [2, 3, 50, 200])
def test_each_region_is_drawn_in_the_colour_of_its_class(C):
    """Read off the picture: every pixel of a region has its class's colour, as the legend or colorbar names it.

    The regions are the C sectors of ``sectors``. Regions are drawn at 30 % opacity over the
    white axes: a class of colour c shows as 0.3 c + 0.7. A pixel farther from the edge of its
    sector than half the diagonal of a grid cell and one pixel (the picture shows the class of
    the nearest grid point) has its sector's colour; a pixel nearer has the colour of one of
    the two classes that meet at that edge, never a third (as filled contours of the class
    number draw, with a band of class 1 between classes 0 and 2). Pixels under the examples
    or the legend are not read.
    """
    from matplotlib.figure import Figure

    config, params, X, Y, history = sectors(C)
    resolution = 41 if C < 50 else 301
    figure = Figure(figsize=(8, 8), dpi=100)
    ax = figure.add_subplot()
    assert plot_decision_boundary(params, config, X, Y, ax=ax, resolution=resolution) is figure
    image = rendered(figure)
    if C <= 12:
        handles, names = ax.get_legend_handles_labels()
        assert names == [("y = {}" if C == 2 else "class {}").format(k) for k in range(C)]
        assert ax.get_legend() is not None
        full = np.array([handle.get_facecolor()[0][:3] for handle in handles])      # (C, 3) class k's colour
    else:
        colorbars = [c.colorbar for c in ax.collections if c.colorbar is not None]
        assert len(colorbars) == 1
        full = np.array([colorbars[0].cmap(colorbars[0].norm(k))[:3] for k in range(C)])
    assert len(np.unique(full, axis=0)) == C                                       # C colours, one per class
    if C <= 10:                                                                     # told apart at a glance
        distances = np.linalg.norm(full[:, None] - full[None, :], axis=-1)
        assert distances[~np.eye(C, dtype=bool)].min() > 0.2

    height = image.shape[0]
    left, bottom, right, top = ax.get_window_extent().extents                      # display: y points up
    column, row = (a.ravel() for a in np.meshgrid(np.arange(int(left) + 3, int(right) - 3),
                                                   np.arange(height - int(top) + 3, height - int(bottom) - 3)))
    display = np.column_stack([column + 0.5, height - row - 0.5])                   # pixel centres
    read = np.ones(len(display), dtype=bool)
    for x, y in ax.transData.transform(X.T):                                       # not under an example
        read &= (np.abs(display[:, 0] - x) > 8) | (np.abs(display[:, 1] - y) > 8)
    if ax.get_legend() is not None:                                                 # nor under the legend
        box = ax.get_legend().get_window_extent().padded(2)
        read &= ~((box.x0 <= display[:, 0]) & (display[:, 0] <= box.x1)
                  & (box.y0 <= display[:, 1]) & (display[:, 1] <= box.y1))
    points = ax.transData.inverted().transform(display[read]).T                    # (2, pixels) in x1, x2
    seen = image[row[read], column[read]]                                          # (pixels, 3)
    grid_step = np.hypot(*(np.diff(ax.get_xlim()) / (resolution - 1)), *(np.diff(ax.get_ylim()) / (resolution - 1)))
    pixel_step = np.hypot(*np.diff(ax.get_xlim()), *np.diff(ax.get_ylim())) / (right - left)
    radius = np.hypot(*points)

    def off(classes):
        """How far each pixel's colour is from the region colour of ``classes`` (one class per pixel)."""
        return np.abs(seen - (0.3 * full[classes] + 0.7)).max(axis=1)

    tolerance = 2.5 / 255                                                           # the PNG's 8 bits
    own = sector_classes(points, C)
    edge = radius * np.sin(np.minimum(sector_boundary_distance(points, C), np.pi / 2))
    clear = edge > grid_step / 2 + pixel_step                                      # nearest grid point in the sector
    assert set(own[clear]) == set(range(C)), f"{C - len(set(own[clear]))} classes have no clear pixel"
    wrong = off(own)[clear] > tolerance
    assert not np.any(wrong), f"{wrong.mean():.1%} of the pixels clear of an edge are not their class's colour"

    steps = np.arctan2(points[1], points[0]) / (2 * np.pi / C)                     # the sector across the nearest edge
    across = (np.rint(steps) + np.where(steps > np.rint(steps), 1, -1)).astype(np.int64) % C
    wide = 2 * radius * np.sin(np.pi / C) > grid_step + 2 * pixel_step            # no third sector within reach
    stray = (off(own) > tolerance) & (off(across) > tolerance) & wide
    assert wide.mean() > 0.5
    assert not np.any(stray), f"{stray.sum()} pixels by an edge have the colour of neither class that meets there"


# --- saving ------------------------------------------------------------------------------------


def test_interrupted_save_keeps_the_previous_file(flower, tmp_path, monkeypatch):
    history = flower[2]
    path = save_figure(training_figure(history, size=(2, 2), dpi=20), tmp_path / "cost.png")
    before = path.read_bytes()
    figure = training_figure(history, size=(4, 4), dpi=20)

    def broken(handle, **options):
        handle.write(PNG_SIGNATURE + b"half a picture")
        raise OSError("No space left on device")

    monkeypatch.setattr(figure, "savefig", broken)
    with pytest.raises(OSError, match="No space left"):
        save_figure(figure, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost.png"]


def test_save_replaces_and_checks_its_path(flower, tmp_path):
    history = flower[2]
    path = tmp_path / "cost.png"
    save_figure(training_figure(history, size=(2, 2), dpi=20), path)
    save_figure(training_figure(history, size=(3, 2), dpi=20), path)
    assert png_size(path.read_bytes()) == (60, 40)
    figure = training_figure(history, size=(2, 2), dpi=20)
    with pytest.raises(ValueError, match="must end in .png"):
        save_figure(figure, tmp_path / "cost.pdf")
    with pytest.raises(ValueError, match="no folder"):
        save_figure(figure, tmp_path / "missing" / "cost.png")
    with pytest.raises(ValueError, match="figure must be a matplotlib Figure"):
        save_figure(path, tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost.png"]


# --- matplotlib, lazily and without pyplot -----------------------------------------------------


def test_figures_show_themselves_as_png(flower):
    """What a notebook displays: the figure's own PNG, whether or not pyplot was ever loaded."""
    figure = training_figure(flower[2], size=(2, 1), dpi=50)
    assert png_size(figure._repr_png_()) == (100, 50)


def test_missing_matplotlib_is_a_clear_error(flower, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)                # import matplotlib now fails
    with pytest.raises(ValueError, match=r"pip install 'chainrule\[plot\]'"):
        plot_history(flower[2])


def test_no_pyplot_and_no_eager_import(tmp_path):
    """In a fresh interpreter: importing chainrule.plot loads no matplotlib, drawing no pyplot."""
    script = textwrap.dedent(f"""
        import sys
        import chainrule as cr
        from chainrule.plot import save_figure, training_figure
        assert "matplotlib" not in sys.modules, "imported eagerly"
        data = cr.datasets.planar_flower()
        config = cr.ModelConfig([2, 3, 1], "tanh")
        params, history, *_ = cr.fit(config, data.X, data.Y, learning_rate=1.0, num_epochs=3)
        save_figure(training_figure(history, params, config, data.X, data.Y, size=(2, 2), dpi=20),
                    {str(tmp_path / "fig.png")!r})
        figure = training_figure(history, size=(2, 2), dpi=20)
        figure._repr_png_()
        assert "matplotlib" in sys.modules
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
    """)
    source = str(Path(cr.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert png_size((tmp_path / "fig.png").read_bytes()) == (40, 40)
