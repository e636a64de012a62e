"""Data sets: the course's planar flower and moons, the playground sets, scikit-learn's bundled
data, CSV files, and the preparation helpers (split, standardise, one-hot).

Expected values come from elsewhere: the course's recipes written out here on the global legacy
generator, scikit-learn's generators and loaders called directly, or hand computation.
"""

import math

import numpy as np
import pytest

sklearn_datasets = pytest.importorskip("sklearn.datasets")

from chainrule import datasets as ds  # noqa: E402


@pytest.fixture
def global_state():
    """Recipes that seed the global legacy generator leave it as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the course's planar flower ----------------------------------------------------------------


def course_planar_recipe():
    """load_planar_dataset() from Course 1, week 3, as the assignment writes it."""
    np.random.seed(1)
    m = 400
    N = int(m / 2)
    D = 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def test_planar_flower_shapes_labels_and_output():
    data = ds.planar_flower()
    assert data.X.shape == (2, 400) and data.Y.shape == (1, 400)
    assert data.output == "sigmoid" and data.classes == ("0", "1")
    assert set(np.unique(data.Y)) == {0.0, 1.0}
    assert int(data.Y.sum()) == 200
    assert np.all(data.Y[0, :200] == 0) and np.all(data.Y[0, 200:] == 1)


def test_planar_flower_first_column_is_the_published_value():
    np.testing.assert_allclose(ds.planar_flower().X[:, 0], [1.20444229, 3.57611415], atol=1e-8)


def test_planar_flower_equals_the_course_recipe(global_state):
    X_course, Y_course = course_planar_recipe()
    data = ds.planar_flower()
    np.testing.assert_allclose(data.X, X_course, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(data.Y, Y_course.astype(np.float64))


def test_generators_leave_the_global_legacy_state_alone(global_state):
    np.random.seed(123)
    expected = np.random.randn(3)
    np.random.seed(123)
    ds.planar_flower()
    ds.moons(50, 0.2, seed=3)
    ds.circles(50, seed=3)
    ds.blobs(50, seed=3)
    np.testing.assert_array_equal(np.random.randn(3), expected)


# --- moons, circles, blobs against scikit-learn ---------------------------------------------------


def test_moons_equals_the_optimization_assignment_recipe(global_state):
    np.random.seed(3)
    X_course, y_course = sklearn_datasets.make_moons(n_samples=300, noise=0.2)
    data = ds.moons(300, 0.2, seed=3)
    assert data.X.shape == (2, 300) and data.Y.shape == (1, 300) and data.output == "sigmoid"
    np.testing.assert_array_equal(data.X, X_course.T)
    np.testing.assert_array_equal(data.Y, y_course.reshape(1, 300).astype(np.float64))


def test_course_circles_are_the_initialization_assignment_recipe(global_state):
    """Course 2, week 1 (Initialization), load_dataset: np.random.seed(1); make_circles(
    n_samples=300, noise=.05) to train, np.random.seed(2); make_circles(n_samples=100, noise=.05)
    to test, then X transposed and Y reshaped to (1, m)."""
    np.random.seed(1)
    train_X, train_Y = sklearn_datasets.make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    test_X, test_Y = sklearn_datasets.make_circles(n_samples=100, noise=.05)
    train, test = ds.course_circles()
    for data, X, Y in ((train, train_X, train_Y), (test, test_X, test_Y)):
        assert data.output == "sigmoid" and data.name == "circles"
        np.testing.assert_array_equal(data.X, X.T)
        np.testing.assert_array_equal(data.Y, Y.reshape((1, Y.shape[0])).astype(np.float64))


def test_circles_defaults_are_make_circles_defaults():
    """factor is scikit-learn's default (0.8), the course's by way of it; m and noise the course's."""
    X, y = sklearn_datasets.make_circles(n_samples=300, noise=0.05, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(ds.circles().X, X.T)
    np.testing.assert_array_equal(ds.circles().Y, y[np.newaxis, :].astype(np.float64))
    radius = np.hypot(*ds.circles(100, noise=0.0).X)
    assert set(np.round(radius, 12)) == {1.0, 0.8}


def test_circles_equals_make_circles_with_the_same_seed():
    X, y = sklearn_datasets.make_circles(n_samples=200, noise=0.1, factor=0.3, random_state=4)
    data = ds.circles(200, 0.1, seed=4, factor=0.3)
    np.testing.assert_array_equal(data.X, X.T)
    np.testing.assert_array_equal(data.Y, y[np.newaxis, :].astype(np.float64))


def test_blobs_equals_make_blobs_and_gives_softmax_for_three_centres():
    X, y = sklearn_datasets.make_blobs(n_samples=150, centers=3, cluster_std=0.7, random_state=5)
    data = ds.blobs(150, 0.7, seed=5, centers=3)
    assert data.output == "softmax" and data.Y.shape == (3, 150) and data.classes == ("0", "1", "2")
    np.testing.assert_array_equal(data.X, X.T)
    np.testing.assert_array_equal(data.Y.argmax(axis=0), y)
    np.testing.assert_array_equal(data.Y.sum(axis=0), np.ones(150))
    assert np.all(data.Y.sum(axis=1) == 50)


def test_blobs_with_two_centres_is_a_sigmoid_problem():
    data = ds.blobs(40, seed=1, centers=2)
    assert data.output == "sigmoid" and data.Y.shape == (1, 40) and int(data.Y.sum()) == 20


# --- shapes, balance and reproducibility of every two-class playground set ------------------------


TWO_CLASS = {
    "moons": ds.moons, "circles": ds.circles, "spirals": ds.spirals, "xor": ds.xor,
    "gaussian": ds.gaussian,
}


@pytest.mark.parametrize("name", sorted(TWO_CLASS))
def test_two_class_sets_shapes_and_labels(name):
    data = TWO_CLASS[name](m=301, noise=0.1, seed=0)
    assert data.X.shape == (2, 301) and data.Y.shape == (1, 301)
    assert data.X.dtype == np.float64 and np.all(np.isfinite(data.X))
    assert data.output == "sigmoid" and data.classes == ("0", "1")
    assert data.feature_names == ("x1", "x2") and data.name == name
    assert set(np.unique(data.Y)) == {0.0, 1.0}
    if name != "xor":                                   # xor's classes follow random points
        assert int(data.Y.sum()) in (150, 151)


@pytest.mark.parametrize("name", sorted(TWO_CLASS) + ["blobs"])
def test_same_seed_same_data_other_seed_other_data(name):
    make = TWO_CLASS.get(name, ds.blobs)
    a, b, c = make(m=60, seed=7), make(m=60, seed=7), make(m=60, seed=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert not np.allclose(a.X, c.X)


@pytest.mark.parametrize("name", ["moons", "circles", "spirals", "xor", "gaussian", "blobs"])
def test_load_by_name_equals_calling_the_loader(name):
    make = TWO_CLASS.get(name, ds.blobs)
    a, b = ds.load(name, m=40, noise=0.3, seed=2), make(m=40, noise=0.3, seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)


# --- the noise-free geometry --------------------------------------------------------------------


def test_xor_noise_free_labels_are_the_sign_product():
    data = ds.xor(500, noise=0.0, seed=1)
    x1, x2 = data.X
    assert np.all(np.abs(data.X) <= 5)
    np.testing.assert_array_equal(data.Y[0], (np.sign(x1) * np.sign(x2) > 0).astype(float))
    assert 150 < data.Y.sum() < 350                     # about half of a uniform square


def test_xor_noise_moves_the_points_not_the_labels():
    clean, noisy = ds.xor(200, noise=0.0, seed=4), ds.xor(200, noise=1.0, seed=4)
    np.testing.assert_array_equal(clean.Y, noisy.Y)
    assert not np.allclose(clean.X, noisy.X)


def test_spirals_noise_free_radius_grows_linearly_and_the_arms_are_opposite():
    m, n = 200, 100
    data = ds.spirals(m, noise=0.0, seed=0)
    radius = np.hypot(*data.X)
    expected = 5.0 * np.arange(n) / n                   # 0, 0.05, … 4.95 along each arm
    np.testing.assert_allclose(radius[:n], expected, atol=1e-12)
    np.testing.assert_allclose(radius[n:], expected, atol=1e-12)
    np.testing.assert_allclose(data.X[:, n:], -data.X[:, :n], atol=1e-12)   # rotated by π
    np.testing.assert_array_equal(data.Y[0], np.r_[np.zeros(n), np.ones(n)])
    # The angle turns 1.75 · 2π / n between neighbours: compare the third point by hand.
    t = 1.75 * 2 * math.pi * 2 / n
    np.testing.assert_allclose(data.X[:, 2], [0.1 * math.sin(t), 0.1 * math.cos(t)], atol=1e-12)


def test_gaussian_noise_free_points_sit_on_the_centres():
    data = ds.gaussian(10, noise=0.0, seed=0)
    ones = data.Y[0] == 1
    np.testing.assert_array_equal(data.X[:, ones], np.full((2, ones.sum()), 2.0))
    np.testing.assert_array_equal(data.X[:, ~ones], np.full((2, (~ones).sum()), -2.0))


def test_gaussian_clusters_have_the_stated_centre_and_spread():
    data = ds.gaussian(20000, noise=0.5, seed=3)
    for label, centre in ((1, 2.0), (0, -2.0)):
        points = data.X[:, data.Y[0] == label]
        np.testing.assert_allclose(points.mean(axis=1), [centre, centre], atol=0.03)
        np.testing.assert_allclose(points.std(axis=1), [0.5, 0.5], rtol=0.03)


def test_moons_noise_free_lie_on_two_unit_half_circles():
    data = ds.moons(100, noise=0.0, seed=0)
    outer, inner = data.X[:, data.Y[0] == 0], data.X[:, data.Y[0] == 1]
    np.testing.assert_allclose(np.hypot(*outer), 1.0, atol=1e-12)                 # centre (0, 0)
    np.testing.assert_allclose(np.hypot(inner[0] - 1.0, inner[1] - 0.5), 1.0, atol=1e-12)
    assert np.all(outer[1] >= -1e-12) and np.all(inner[1] <= 0.5 + 1e-12)


def test_circles_noise_free_radii_are_one_and_factor():
    data = ds.circles(100, noise=0.0, seed=0, factor=0.4)
    radius = np.hypot(*data.X)
    np.testing.assert_allclose(radius[data.Y[0] == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(radius[data.Y[0] == 1], 0.4, atol=1e-12)


def test_blobs_noise_free_classes_collapse_to_their_centres():
    data = ds.blobs(90, noise=0.0, seed=2, centers=3)
    labels = data.Y.argmax(axis=0)
    for c in range(3):
        points = data.X[:, labels == c]
        assert points.shape[1] == 30
        np.testing.assert_array_equal(points, points[:, :1] * np.ones((1, 30)))


# --- bad arguments of the generators --------------------------------------------------------------


GENERATORS = {**TWO_CLASS, "blobs": ds.blobs}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(m=0), "m"), (dict(m=1), "m"), (dict(m=-5), "m"), (dict(m=True), "m"),
        (dict(m="100"), "m"), (dict(m=50.0), "m"),
        (dict(noise=-0.1), "noise"), (dict(noise=True), "noise"), (dict(noise="0.1"), "noise"),
        (dict(noise=float("nan")), "noise"), (dict(noise=float("inf")), "noise"),
    ],
)
def test_bad_generator_arguments_are_named(name, kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must be") as info:
        GENERATORS[name](**kwargs)
    assert repr(next(iter(kwargs.values()))) in str(info.value)       # says what came
    with pytest.raises(ValueError, match=rf"^{argument} must be"):
        ds.load(name, **kwargs)


@pytest.mark.parametrize("centers", [1, 0, True, 2.5])
def test_blobs_bad_centres_are_named(centers):
    with pytest.raises(ValueError, match="^centers must be"):
        ds.blobs(centers=centers)


def test_generators_accept_numpy_integers_and_the_smallest_m():
    assert ds.moons(m=np.int64(2), seed=0).X.shape == (2, 2)
    assert ds.spirals(m=3, noise=0.0).Y.tolist() == [[0.0, 0.0, 1.0]]


# --- scikit-learn's bundled data -------------------------------------------------------------------


BUNDLED = [
    ("digits", ds.digits, "load_digits", 64, 1797, 10),
    ("breast_cancer", ds.breast_cancer, "load_breast_cancer", 30, 569, 2),
    ("iris", ds.iris, "load_iris", 4, 150, 3),
    ("wine", ds.wine, "load_wine", 13, 178, 3),
]


@pytest.mark.parametrize("name, loader, sklearn_loader, n_x, m, C", BUNDLED, ids=[b[0] for b in BUNDLED])
def test_bundled_data_matches_scikit_learn_transposed(name, loader, sklearn_loader, n_x, m, C):
    bunch = getattr(sklearn_datasets, sklearn_loader)()
    data = loader()
    assert data.X.shape == (n_x, m) == bunch.data.T.shape
    np.testing.assert_array_equal(data.X, bunch.data.T)
    assert data.classes == tuple(str(c) for c in bunch.target_names) and len(data.classes) == C
    assert data.feature_names == tuple(str(f) for f in bunch.feature_names)
    assert data.name == name
    if C == 2:
        assert data.output == "sigmoid" and data.Y.shape == (1, m)
        np.testing.assert_array_equal(data.Y[0], bunch.target)
    else:
        assert data.output == "softmax" and data.Y.shape == (C, m)
        assert set(np.unique(data.Y)) == {0.0, 1.0}
        np.testing.assert_array_equal(data.Y.sum(axis=0), np.ones(m))
        np.testing.assert_array_equal(data.Y.argmax(axis=0), bunch.target)


def test_bundled_class_names_by_hand():
    assert ds.breast_cancer().classes == ("malignant", "benign")
    assert ds.iris().classes == ("setosa", "versicolor", "virginica")
    assert ds.wine().classes == ("class_0", "class_1", "class_2")
    assert ds.digits().classes == tuple(str(d) for d in range(10))


# --- load by name ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "", "Moons", None, ["moons"]])
def test_load_unknown_name_lists_the_known_ones(name):
    with pytest.raises(ValueError, match="unknown data set") as info:
        ds.load(name)
    message = str(info.value)
    for known in ("flower", "moons", "circles", "blobs", "spirals", "xor", "gaussian",
                  "digits", "breast_cancer", "iris", "wine"):
        assert known in message


@pytest.mark.parametrize("name, options", [("digits", dict(m=10)), ("moons", dict(bogus=1)),
                                           ("flower", dict(noise=0.1))])
def test_load_unknown_option_is_named(name, options):
    with pytest.raises(ValueError) as info:
        ds.load(name, **options)
    message = str(info.value)
    assert repr(name) in message and next(iter(options)) in message


def test_load_flower_and_bundled_by_name():
    np.testing.assert_array_equal(ds.load("flower").X, ds.planar_flower().X)
    assert ds.load("iris").X.shape == (4, 150)


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_numeric_binary_labels(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,4.5,1\n-5,6e1,1\n", name="patients.csv")
    data = ds.load_csv(path, "y")
    np.testing.assert_array_equal(data.X, [[1, 3, -5], [2, 4.5, 60]])
    np.testing.assert_array_equal(data.Y, [[0, 1, 1]])
    assert data.output == "sigmoid" and data.classes == ("0", "1")
    assert data.feature_names == ("a", "b") and data.name == "patients"


def test_csv_integer_labels_other_than_zero_and_one_are_sorted_classes(tmp_path):
    path = write(tmp_path, "x,label\n0.5,5\n1.5,-1\n2.5,5\n3.5,-1\n")
    data = ds.load_csv(str(path), "label")                                # a str path works too
    assert data.output == "sigmoid" and data.classes == ("-1", "5")
    np.testing.assert_array_equal(data.Y, [[1, 0, 1, 0]])


def test_csv_string_labels_give_sorted_one_hot_classes(tmp_path):
    text = "petal,species\n1.4,setosa\n4.7,versicolor\n6.0,virginica\n1.3,setosa\n5.1,virginica\n"
    data = ds.load_csv(write(tmp_path, text), "species")
    assert data.output == "softmax" and data.classes == ("setosa", "versicolor", "virginica")
    np.testing.assert_array_equal(data.X, [[1.4, 4.7, 6.0, 1.3, 5.1]])
    np.testing.assert_array_equal(data.Y, [[1, 0, 0, 1, 0],
                                           [0, 1, 0, 0, 0],
                                           [0, 0, 1, 0, 1]])


def test_csv_string_labels_are_sorted_not_taken_in_order_of_appearance(tmp_path):
    data = ds.load_csv(write(tmp_path, "x,y\n1,yes\n2,no\n3,yes\n"), "y")
    assert data.classes == ("no", "yes")
    np.testing.assert_array_equal(data.Y, [[1, 0, 1]])


def test_csv_fractional_labels_are_an_identity_regression_target(tmp_path):
    data = ds.load_csv(write(tmp_path, "size,price\n1,2.5\n2,3\n3,-0.25\n"), "price")
    assert data.output == "identity" and data.classes == ()
    np.testing.assert_array_equal(data.Y, [[2.5, 3.0, -0.25]])
    np.testing.assert_array_equal(data.X, [[1, 2, 3]])


def test_csv_label_column_in_the_middle_with_spaces_blank_lines_and_bom(tmp_path):
    path = tmp_path / "mid.csv"
    path.write_bytes("\ufeffa , y , c\n1, 1 ,10\n\n2,0, 20\n3,1,30\n".encode("utf-8"))
    data = ds.load_csv(path, "y")
    assert data.feature_names == ("a", "c")
    np.testing.assert_array_equal(data.X, [[1, 2, 3], [10, 20, 30]])
    np.testing.assert_array_equal(data.Y, [[1, 0, 1]])


@pytest.mark.parametrize(
    "text, label, pieces",
    [
        ("a,y\n1,0\n2,1\n", "z", ["no column 'z'", "a, y"]),
        ("a,y\n1,0\nseven,1\n", "y", ["line 3", "column 'a'", "'seven'", "not a number"]),
        ("a,b,y\n1,2,0\n3,,1\n", "y", ["line 3", "column 'b'", "not a number"]),
        ("a,y\n1,0\ninf,1\n", "y", ["line 3", "column 'a'", "not a finite number"]),
        ("a,y\n1,0\nnan,1\n", "y", ["line 3", "column 'a'", "not a finite number"]),
        ("a,b,y\n1,2,0\n3,1\n", "y", ["line 3", "2 values for 3 columns"]),
        ("a,y\n1,0\n2,1,7\n", "y", ["line 3", "3 values for 2 columns"]),
        ("a,y\n", "y", ["header row and at least one row"]),
        ("", "y", ["header row and at least one row"]),
        ("a,y\n1,1\n2,1\n", "y", ["only one class", "'1'"]),
        ("a,y\n1,cat\n2,cat\n", "y", ["only one class", "'cat'"]),
        ("y\n1\n0\n", "y", ["only the label column"]),
        ("a,y\n1,0\n2,nan\n", "y", ["line 3", "label 'y' is missing"]),
        ("a,y\n1,0\n2,NA\n3,1\n", "y", ["line 3", "label 'y' is missing ('NA')"]),
        ("a,y\n1,0\n2,inf\n", "y", ["label column 'y'", "non-finite"]),
    ],
)
def test_csv_errors_name_the_problem(tmp_path, text, label, pieces):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        ds.load_csv(path, label)
    message = str(info.value)
    for piece in pieces:
        assert piece in message


def test_csv_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such CSV file") as info:
        ds.load_csv(tmp_path / "absent.csv", "y")
    assert "absent.csv" in str(info.value)


def test_csv_unreadable_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="cannot read"):
        ds.load_csv(path, "y")
    with pytest.raises(ValueError, match="cannot read"):
        ds.load_csv(tmp_path, "y")                                         # a directory


# --- split ----------------------------------------------------------------------------------------


def numbered(m):
    """X whose columns carry their own index, so the pairing with Y can be checked."""
    return np.vstack([np.arange(m), 10.0 * np.arange(m)]), np.arange(m)[np.newaxis, :] + 0.5


@pytest.mark.parametrize("m, fraction, n_test", [(100, 0.2, 20), (10, 0.25, 2), (7, 0.01, 1),
                                                   (5, 0.0, 0), (3, 0.5, 2)])
def test_split_sizes_disjoint_covering_and_aligned(m, fraction, n_test):
    X, Y = numbered(m)
    X_train, Y_train, X_test, Y_test = ds.split(X, Y, fraction, seed=1)
    assert X_test.shape == (2, n_test) and Y_test.shape == (1, n_test)
    assert X_train.shape == (2, m - n_test) and Y_train.shape == (1, m - n_test)
    train, test = set(X_train[0]), set(X_test[0])
    assert not train & test and train | test == set(range(m))
    np.testing.assert_array_equal(Y_train[0], X_train[0] + 0.5)
    np.testing.assert_array_equal(Y_test[0], X_test[0] + 0.5)
    np.testing.assert_array_equal(X_train[1], 10 * X_train[0])


def test_split_is_reproducible_by_seed_and_shuffles():
    X, Y = numbered(50)
    a, b, c = ds.split(X, Y, seed=3), ds.split(X, Y, seed=3), ds.split(X, Y, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[2], c[2])
    assert not np.array_equal(a[0][0], np.sort(a[0][0]))                  # not kept in order
    generator = ds.split(X, Y, seed=np.random.default_rng(3))
    assert generator[0].shape == (2, 40)


@pytest.mark.parametrize("fraction", [1, 1.0, -0.1, 2, True, "0.2", float("nan"), None])
def test_split_bad_test_fraction(fraction):
    X, Y = numbered(10)
    with pytest.raises(ValueError, match="test_fraction"):
        ds.split(X, Y, fraction)


def test_split_that_leaves_no_training_example():
    X, Y = numbered(1)
    with pytest.raises(ValueError, match="no training examples"):
        ds.split(X, Y, 0.5)


# --- standardise ----------------------------------------------------------------------------------


def test_standardizer_by_hand_with_a_constant_feature():
    X = np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])
    s = ds.fit_standardizer(X)
    np.testing.assert_array_equal(s.mean, [[2.0], [4.0]])
    np.testing.assert_allclose(s.std, [[math.sqrt(2 / 3)], [1.0]], rtol=1e-15)   # constant → 1
    Z = ds.standardize(X, s)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z, [[-math.sqrt(1.5), 0, math.sqrt(1.5)], [0, 0, 0]], atol=1e-15)


def test_standardizer_is_fitted_on_the_training_part_only():
    rng = np.random.default_rng(0)
    X = rng.normal([[3.0], [-7.0]], [[2.0], [0.5]], size=(2, 200))
    X_train, _, X_test, _ = ds.split(X, np.zeros((1, 200)), 0.25, seed=0)
    s = ds.fit_standardizer(X_train)
    np.testing.assert_allclose(s.mean, X_train.mean(axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(s.std, X_train.std(axis=1, keepdims=True), rtol=1e-14)
    Z_train, Z_test = ds.standardize(X_train, s), ds.standardize(X_test, s)
    np.testing.assert_allclose(Z_train.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train.std(axis=1), 1, rtol=1e-12)
    assert np.all(np.abs(Z_test.mean(axis=1)) > 1e-3)                   # not refitted on the test part
    np.testing.assert_allclose(Z_test * s.std + s.mean, X_test, rtol=1e-12)


# --- one_hot --------------------------------------------------------------------------------------


def test_one_hot_small_example_by_hand():
    np.testing.assert_array_equal(ds.one_hot([2, 0, 1, 2], 3), [[0, 1, 0, 0],
                                                                [0, 0, 1, 0],
                                                                [1, 0, 0, 1]])
    np.testing.assert_array_equal(ds.one_hot(np.array([[1.0, 0.0]]), 2), [[0, 1], [1, 0]])
    assert ds.one_hot([], 4).shape == (4, 0)


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [0, 1.5], [float("nan")]])
def test_one_hot_labels_out_of_range(labels):
    with pytest.raises(ValueError, match=r"labels must be integers in 0 … 2 for C = 3"):
        ds.one_hot(labels, 3)


# --- defects once found, now guarded -------------------------------------------------------


def test_constant_feature_that_is_not_exactly_representable_standardises_to_zero():
    X = np.full((1, 3), 0.1)
    np.testing.assert_array_equal(ds.standardize(X, ds.fit_standardizer(X)), np.zeros((1, 3)))


def test_csv_missing_label_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="label"):
        ds.load_csv(write(tmp_path, "a,y\n1,0\n2,1\n3,\n"), "y")


def test_split_rejects_x_and_y_of_different_lengths():
    with pytest.raises(ValueError):
        ds.split(np.zeros((2, 10)), np.zeros((1, 12)))


def test_load_reports_a_bad_value_not_an_unknown_option():
    with pytest.raises(ValueError) as info:
        ds.load("circles", factor=2)
    assert "takes no option" not in str(info.value)


def test_csv_error_line_counts_blank_lines(tmp_path):
    with pytest.raises(ValueError, match="line 4"):
        ds.load_csv(write(tmp_path, "a,y\n\n1,0\nx,1\n"), "y")


def test_csv_large_integer_class_names_stay_distinct(tmp_path):
    data = ds.load_csv(write(tmp_path, "a,y\n1,1234567\n2,1234568\n"), "y")
    assert data.classes == ("1234567", "1234568")


def test_csv_regression_can_be_chosen_for_integer_labels(tmp_path):
    """An integer column (an age, say) is classes by default; regression=True makes it a target."""
    path = write(tmp_path, "a,age\n1,30\n2,41\n3,30\n")
    assert ds.load_csv(path, "age").output == "sigmoid"
    data = ds.load_csv(path, "age", regression=True)
    assert data.output == "identity"
    np.testing.assert_array_equal(data.Y, [[30.0, 41.0, 30.0]])
    with pytest.raises(ValueError, match="regression needs a numeric label column"):
        ds.load_csv(write(tmp_path, "a,y\n1,cat\n2,dog\n"), "y", regression=True)


def test_preparation_functions_check_their_input():
    with pytest.raises(ValueError, match="X must be 2-D"):
        ds.fit_standardizer(np.ones(3))
    s = ds.fit_standardizer(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="the 2 features.*pass X.T"):
        ds.standardize(np.ones((3, 2)), s)
    with pytest.raises(ValueError, match="Y must be 2-D"):
        ds.split(np.ones((2, 4)), np.ones(4))
    with pytest.raises(ValueError, match="C must be an integer"):
        ds.one_hot([0, 1], "3")
