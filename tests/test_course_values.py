"""Values published in the Deep Learning Specialization's assignments, from their recipes.

Each recipe seeds NumPy's legacy generator and draws with ``np.random.randn`` exactly as the
assignment's test case does; the expected numbers are the ones the assignment prints.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import get_activation
from chainrule.training import init_state


@pytest.fixture(autouse=True)
def _restore_global_seed():
    """These recipes use the global legacy generator; leave it as it was found."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_initialisation_random_scheme():
    """Course 1, week 4: initialize_parameters_deep([5, 4, 3]) after np.random.seed(3)."""
    params = cr.init_params(cr.ModelConfig([5, 4, 3]), np.random.RandomState(3), scheme="random", scale=0.01)
    np.testing.assert_allclose(params[0].W[0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388], atol=5e-9)
    assert params[0].W.shape == (4, 5) and params[1].W.shape == (3, 4)
    assert all(np.all(p.b == 0) and p.b.shape == (p.W.shape[0], 1) for p in params)


def _initialize_parameters_deep(layer_dims):
    """The course's L-layer application (dnn_app_utils_v3), line by line: np.random.seed(1), then
    W[l] = randn(n_l, n_{l-1}) / sqrt(n_{l-1}) and b[l] = zeros, l = 1 … L."""
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


@pytest.mark.parametrize("layer_dims", [[5, 4, 3], [12288, 20, 7, 5, 1]], ids=["5-4-3", "cat-app"])
def test_xavier_course_is_the_l_layer_applications_initialisation_bit_for_bit(layer_dims):
    """"xavier_course" from RandomState(1), directly or as a TrainConfig's init with the course's
    draws, is initialize_parameters_deep exactly; "xavier" (randn × √(1/n)) rounds W1 otherwise."""
    course = _initialize_parameters_deep(layer_dims)
    config = cr.ModelConfig(layer_dims)
    direct = cr.init_params(config, np.random.RandomState(1), "xavier_course")
    trained = init_state(config, cr.TrainConfig(init="xavier_course", init_draws="course", seed=1)).params
    for params in (direct, trained):
        for l, (W, b) in enumerate(params, start=1):
            assert np.array_equal(W, course[f"W{l}"]) and np.array_equal(b, course[f"b{l}"]), l
    xavier = cr.init_params(config, np.random.RandomState(1), "xavier")
    np.testing.assert_allclose(xavier[0].W, course["W1"], rtol=1e-15, atol=0)        # the same weights …
    assert not np.array_equal(xavier[0].W, course["W1"])                             # … but not bit for bit


def test_linear_forward():
    """linear_forward_test_case: seed(1); A = randn(3, 2); W = randn(1, 3); b = randn(1, 1)."""
    np.random.seed(1)
    A, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    np.testing.assert_allclose(cr.linear_forward(A, W, b), [[3.26295337, -1.23429987]], atol=5e-9)


def test_linear_backward():
    """linear_backward_test_case: seed(1); dZ = randn(3, 4); A_prev = randn(5, 4); W = randn(3, 5); b = randn(3, 1)."""
    np.random.seed(1)
    dZ, A_prev, W, b = np.random.randn(3, 4), np.random.randn(5, 4), np.random.randn(3, 5), np.random.randn(3, 1)
    dA_prev, dW, db = cr.linear_backward(dZ, (A_prev, W, b))
    np.testing.assert_allclose(db, [[-0.14713786], [-0.11313155], [-0.13209101]], atol=5e-9)
    np.testing.assert_allclose(dW[0], [0.07313866, -0.0976715, -0.87585828, 0.73763362, 0.00785716], atol=5e-9)
    assert dA_prev.shape == (5, 4)


@pytest.mark.parametrize(
    "name, dA_prev, dW, db",
    [
        ("sigmoid",
         [[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]],
         [[0.10266786, 0.09778551, -0.01968084]], [[-0.05729622]]),
        ("relu",
         [[0.44090989, 0.0], [0.37883606, 0.0], [-0.2298228, 0.0]],
         [[0.44513824, 0.37371418, -0.10478989]], [[-0.20837892]]),
    ],
)
def test_linear_activation_backward(name, dA_prev, dW, db):
    """linear_activation_backward_test_case: seed(2); dA = randn(1, 2); A = randn(3, 2);
    W = randn(1, 3); b = randn(1, 1); Z = randn(1, 2)."""
    np.random.seed(2)
    dA, A, W, b, Z = (np.random.randn(1, 2), np.random.randn(3, 2), np.random.randn(1, 3),
                      np.random.randn(1, 1), np.random.randn(1, 2))
    g = get_activation(name)
    dZ = g.backward(dA, Z, g.forward(Z))
    got = cr.linear_backward(dZ, (A, W, b))
    for value, expected in zip(got, (dA_prev, dW, db)):
        np.testing.assert_allclose(value, expected, atol=5e-9)


def test_L_model_forward():
    """L_model_forward_test_case_2hidden: seed(6); X = randn(5, 4); then W1, b1, W2, b2, W3, b3;
    relu hidden layers, sigmoid output."""
    np.random.seed(6)
    X = np.random.randn(5, 4)
    params = [(np.random.randn(4, 5), np.random.randn(4, 1)), (np.random.randn(3, 4), np.random.randn(3, 1)),
              (np.random.randn(1, 3), np.random.randn(1, 1))]
    AL, caches = cr.forward(params, X, cr.ModelConfig([5, 4, 3, 1], "relu", "sigmoid"))
    np.testing.assert_allclose(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]], atol=5e-9)
    assert len(caches) == 3


def test_compute_cost():
    """compute_cost_test_case: Y = [[1, 1, 0]], AL = [[.8, .9, .4]] gives 0.2797765635793422."""
    J = cr.compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 0]]), cr.ModelConfig([2, 1]))
    assert isinstance(J, float)
    assert J == pytest.approx(0.2797765635793422, rel=1e-15)


def test_gradient_checking_assignment():
    """Course 2, gradient checking: gradient_check_n_test_case (seed(1); x = randn(4, 3);
    y = [1, 1, 0]; W1 = randn(5, 4); b1 = randn(5, 1); W2 = randn(3, 5); b2 = randn(3, 1);
    W3 = randn(1, 3); b3 = randn(1, 1)), relu, relu, sigmoid. The assignment's backward has
    two planted bugs (dW2 doubled, db1 multiplied by 4) and reports difference 0.2850931567761623;
    once they are fixed it reports 1.1890913024229996e-07, which is float64 rounding in its
    finite differences and no disagreement at all: the check here, with J in long double,
    measures far below that."""
    np.random.seed(1)
    x, y = np.random.randn(4, 3), np.array([[1, 1, 0]])
    params = [(np.random.randn(5, 4), np.random.randn(5, 1)), (np.random.randn(3, 5), np.random.randn(3, 1)),
              (np.random.randn(1, 3), np.random.randn(1, 1))]
    config = cr.ModelConfig([4, 5, 3, 1], "relu", "sigmoid")

    def planted_bugs(AL, Y, caches, config, convention, **l2):
        g = cr.backward(AL, Y, caches, config, convention, **l2)
        return [g[0]._replace(db=4 * g[0].db), g[1]._replace(dW=2 * g[1].dW), g[2]]

    buggy = cr.gradient_check(params, x, y, config, backward_fn=planted_bugs)
    assert buggy.difference == pytest.approx(0.2850931567761623, rel=1e-7)
    assert buggy.failing_layers == [1, 2]
    fixed = cr.gradient_check(params, x, y, config)
    assert fixed.passed and fixed.difference < 1.1890913024229996e-07 / 100


def _course_forward_propagation_n(X, Y, W1, b1, W2, b2, W3, b3):
    """The course's forward_propagation_n, line by line: its cost J in float64, from A3."""
    m = X.shape[1]
    A1 = np.maximum(0, np.dot(W1, X) + b1)
    A2 = np.maximum(0, np.dot(W2, A1) + b2)
    A3 = 1 / (1 + np.exp(-(np.dot(W3, A2) + b3)))
    logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    return 1. / m * np.sum(logprobs)


def test_gradient_checking_assignment_with_j_as_the_course_computes_it():
    """The same test case with ``precision="course"``: J from A3 in float64, −log a and −log(1 − a)
    as the course's forward_propagation_n. The finite differences are then those of the course's
    gradient_check_n bit for bit (a second implementation here: θ ± ε in float64, J written out
    as the course writes it), and the differences its notebook prints come back: the buggy
    0.2850931567761623, and 1.1890913024229996e-07 once the bugs are fixed. Not to the last bit:
    chainrule's backward multiplies dZ2 (3 × 3) by 1/m before the product where the course
    multiplies dZ2 A1ᵀ (3 × 5) after it (``linear_backward`` scales the smaller array), so a few
    components of the gradient differ from the course's by one ulp, and the fixed difference,
    which measures rounding alone, moves by 4.8e-11 of itself (measured); 1e-10 is the tightest
    round bound that holds. The 1.19e-7 is the rounding of 1 − a in the third example
    (a = 0.99887, y = 0): with J from Z[L] in float64 the same check gives 1.1e-9."""
    np.random.seed(1)
    x, y = np.random.randn(4, 3), np.array([[1, 1, 0]])
    params = [(np.random.randn(5, 4), np.random.randn(5, 1)), (np.random.randn(3, 5), np.random.randn(3, 1)),
              (np.random.randn(1, 3), np.random.randn(1, 1))]
    config = cr.ModelConfig([4, 5, 3, 1], "relu", "sigmoid")

    def planted_bugs(AL, Y, caches, config, convention, **l2):
        g = cr.backward(AL, Y, caches, config, convention, **l2)
        return [g[0]._replace(db=4 * g[0].db), g[1]._replace(dW=2 * g[1].dW), g[2]]

    fixed = cr.gradient_check(params, x, y, config, precision="course")
    shapes = [a.shape for p in params for a in p]                  # W1, b1, W2, b2, W3, b3

    def vector_to_dictionary(theta):                               # the course's, as a list
        ends = np.cumsum([r * c for r, c in shapes])
        return [theta[end - r * c:end].reshape(r, c) for (r, c), end in zip(shapes, ends)]

    theta, epsilon = np.concatenate([a.reshape(-1) for p in params for a in p]), 1e-7
    gradapprox = np.empty(theta.size)
    for i in range(theta.size):
        theta_plus, theta_minus = np.copy(theta), np.copy(theta)
        theta_plus[i] = theta_plus[i] + epsilon
        theta_minus[i] = theta_minus[i] - epsilon
        J_plus = _course_forward_propagation_n(x, y, *vector_to_dictionary(theta_plus))
        J_minus = _course_forward_propagation_n(x, y, *vector_to_dictionary(theta_minus))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    assert np.array_equal(fixed.grad_approx, gradapprox)
    assert fixed.difference == pytest.approx(1.1890913024229996e-07, rel=1e-10, abs=0)
    assert fixed.passed and fixed.failing_layers == [] and "J in float64 from A[L], as the course" in fixed.table()
    buggy = cr.gradient_check(params, x, y, config, backward_fn=planted_bugs, precision="course")
    assert buggy.difference == pytest.approx(0.2850931567761623, rel=1e-15, abs=0)
    assert buggy.failing_layers == [1, 2]
    float64 = cr.gradient_check(params, x, y, config, precision="float64")
    assert float64.passed and float64.difference < 1.1890913024229996e-07 / 100


def _regularization_params():
    """Course 2, regularization test cases: W1 = randn(2, 3), b1 = randn(2, 1), W2 = randn(3, 2),
    b2 = randn(3, 1), W3 = randn(1, 3), b3 = randn(1, 1), drawn after the case's own draws."""
    return [(np.random.randn(2, 3), np.random.randn(2, 1)), (np.random.randn(3, 2), np.random.randn(3, 1)),
            (np.random.randn(1, 3), np.random.randn(1, 1))]


def test_cost_with_l2_regularization():
    """compute_cost_with_regularization_test_case: seed(1); Y = [[1, 1, 0, 1, 0]]; params as
    above; a3 given; λ = 0.1 gives 1.78648594516 (m = n = 5, the course's λ/(2m))."""
    np.random.seed(1)
    Y = np.array([[1, 1, 0, 1, 0]])
    params = _regularization_params()
    a3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    J = cr.compute_cost(a3, Y, cr.ModelConfig([3, 2, 3, 1], "relu", "sigmoid"), params=params, lambd=0.1)
    assert J == pytest.approx(1.78648594516, abs=5e-12)


def test_forward_with_dropout():
    """forward_propagation_with_dropout_test_case: seed(1); X = randn(3, 5); params as above;
    keep_prob 0.7, the masks drawn after np.random.seed(1) as rand(n_l, m) < keep_prob."""
    np.random.seed(1)
    X = np.random.randn(3, 5)
    params = _regularization_params()
    config = cr.ModelConfig([3, 2, 3, 1], "relu", "sigmoid")
    AL, caches = cr.forward(params, X, config, keep_prob=0.7, rng=np.random.RandomState(1))
    np.testing.assert_allclose(AL, [[0.36974721, 0.00305176, 0.04565099, 0.49683389, 0.36974721]], atol=5e-9)
    assert caches[-1].D is None and caches[0].D.shape == (2, 5)
