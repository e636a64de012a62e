"""Training: the course's published results reproduced, and every policy of the loop pinned.

Expected values come from the course's assignments or from loops written out here by hand
with the public forward, backward and the documented random streams, never from fit itself.
"""

import dataclasses

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.callbacks import Best
from chainrule.model import accuracy
from chainrule.training import TrainConfig, TrainingDiverged, TrainState, fit, iterate
from conftest import random_problem

SHUFFLE, DROPOUT, INIT = 1, 2, 0          # the documented streams: default_rng([seed, stream, epoch])
PARAMS = cr.init_params(cr.ModelConfig([3, 4, 1], "tanh", "sigmoid"), 0)   # params of the bad-input tests' network


@pytest.fixture(scope="module")
def flower():
    return datasets.planar_flower()


@pytest.fixture
def global_state():
    """A recipe that seeds NumPy's global legacy generator leaves it as it found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def _gd_by_hand(params, X, Y, config, alpha, schedule, epochs, keep_prob=1.0, seed=None, lambd=0.0,
                course_masks=False):
    """Gradient descent written out: per epoch e, the batches ``schedule(e)``, dropout masks from
    ``default_rng([seed, 2, e])`` drawn by forward layer by layer (``course_masks``: from a
    ``RandomState(1)`` new for every batch), one update per batch.
    Returns (params, costs, accuracies), the costs and accuracies as the history defines them."""
    m, costs, accuracies = X.shape[1], [], []
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, DROPOUT, epoch]) if keep_prob < 1 and not course_masks else None
        total = right = 0.0
        for batch in schedule(epoch):
            if course_masks:
                rng = np.random.RandomState(1)                     # np.random.seed(1) before each forward
            X_b, Y_b = X[:, batch], Y[:, batch]
            AL, caches = cr.forward(params, X_b, config, keep_prob=keep_prob, rng=rng)
            J = cr.compute_cost(AL, Y_b, config, ZL=caches[-1].Z, params=params, lambd=lambd, n=m)
            total += X_b.shape[1] * J
            right += np.count_nonzero((AL > 0.5) == (Y_b > 0.5))
            grads = cr.backward(AL, Y_b, caches, config, lambd=lambd, n=m)
            params = [cr.LayerParams(p.W - alpha * g.dW, p.b - alpha * g.db) for p, g in zip(params, grads)]
        costs.append(total / m)
        accuracies.append(right / Y.size)
    return params, costs, accuracies


def _assert_same_params(a, b, exact=True):
    for p, q in zip(a, b, strict=True):
        if exact:
            np.testing.assert_array_equal(p.W, q.W)
            np.testing.assert_array_equal(p.b, q.b)
        else:
            np.testing.assert_allclose(p.W, q.W, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(p.b, q.b, rtol=1e-12, atol=1e-15)


# --- the course's results ---------------------------------------------------------------------


def test_planar_classifier(flower):
    """Course 1, week 3: "Cost after iteration 0: 0.693048", "… 1000: 0.288083"; accuracy 90.75 %."""
    config, train = cr.presets.planar()
    result = fit(config, flower.X, flower.Y, train)
    assert f"{result.history.cost[0]:.6f}" == "0.693048"
    assert f"{result.history.cost[1000]:.6f}" == "0.288083"
    assert accuracy(result.params, flower.X, flower.Y, config) == pytest.approx(0.9075, abs=1e-12)
    assert len(result.history) == 10000 and result.history.stop_reason == "completed"
    assert result.state.epoch == 10000 and result.state.opt_state.t == 10000


@pytest.mark.parametrize("optimizer, hyper, expected",
                         [("gd", {}, 0.7967), ("momentum", {"beta": 0.9}, 0.7967),
                          ("adam", {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, 0.94)])
def test_optimization_assignment(optimizer, hyper, expected):
    """Course 2, week 2: np.random.seed(3); make_moons(300, noise=.2); [2, 5, 2, 1] relu, relu,
    sigmoid; He init from seed 3; mini-batches of 64 with the seed starting at 10, incremented
    before each epoch; α = 0.0007; 10 000 epochs. Accuracy 0.7967 (gd, momentum), 0.94 (Adam)."""
    data = datasets.moons(300, 0.2, seed=3)
    config, train = cr.presets.optimization(optimizer, **hyper)
    params = fit(config, data.X, data.Y, train).params
    assert accuracy(params, data.X, data.Y, config) == pytest.approx(expected, abs=5e-5)


def test_the_planar_preset_is_the_course_recipe(flower):
    """init "random" × 0.01 drawn as the course does (np.random.seed(2), W1 then W2), so the
    preset's start is the course's start: the same first cost as the recipe written out."""
    config, train = cr.presets.planar()
    state = cr.training.init_state(config, train)
    course = np.random.RandomState(2)
    W1, W2 = course.randn(4, 2) * 0.01, course.randn(1, 4) * 0.01
    np.testing.assert_array_equal(state.params[0].W, W1)
    np.testing.assert_array_equal(state.params[1].W, W2)
    assert all(np.all(b == 0) for _, b in state.params)


# --- what the loop guarantees: each policy against a loop written out here ----------------------


def test_full_batch_training_is_gradient_descent_written_out(flower):
    """1000 epochs of the planar network: the same parameters, costs and accuracies as the
    loop written with the public forward, backward and compute_cost."""
    config, train = cr.presets.planar()
    start = cr.training.init_state(config, train).params
    result = fit(config, flower.X, flower.Y, train, num_epochs=30)
    params, costs, accuracies = _gd_by_hand(start, flower.X, flower.Y, config, 1.2, lambda e: [slice(None)], 30)
    _assert_same_params(result.params, params)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-14)
    np.testing.assert_array_equal(result.history.accuracy, accuracies)


def test_each_epoch_draws_a_fresh_permutation_from_its_own_stream(rng):
    """Shuffled mini-batches: epoch e's permutation is default_rng([seed, 1, e]).permutation(m),
    cut into batches of the size, the remainder last. The same permutation every epoch, or one
    from another stream, trains other parameters."""
    config = cr.ModelConfig([3, 5, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 23, rng)

    def schedule(epoch):
        permutation = np.random.default_rng([7, SHUFFLE, epoch]).permutation(23)
        return [permutation[k:k + 5] for k in range(0, 23, 5)]

    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.3, num_epochs=4, mini_batch_size=5, seed=7)
    expected, costs, accuracies = _gd_by_hand(params, X, Y, config, 0.3, schedule, 4)
    _assert_same_params(result.params, expected)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-14)
    np.testing.assert_array_equal(result.history.accuracy, accuracies)
    assert not np.array_equal(schedule(0)[0], schedule(1)[0])                  # the test can tell


def test_init_shuffling_and_dropout_draw_from_independent_streams(rng):
    """Initialisation from default_rng([seed, 0]) (W1, W2, … in order, × √(2/n_prev) for he),
    shuffling from stream 1 and the dropout masks of epoch e from default_rng([seed, 2, e]):
    the loop written out with those streams gives fit's parameters exactly."""
    config = cr.ModelConfig([3, 6, 4, 1], "relu", "sigmoid")
    _, X, Y = random_problem(config, 20, rng)
    seed = 11
    result = fit(config, X, Y, learning_rate=0.2, num_epochs=3, mini_batch_size=8, keep_prob=0.75, seed=seed)
    init = np.random.default_rng([seed, INIT])
    start = [cr.LayerParams(init.standard_normal((n, n_prev)) * np.sqrt(2 / n_prev), np.zeros((n, 1)))
             for n_prev, n in zip(config.layer_dims[:-1], config.layer_dims[1:])]

    def schedule(epoch):
        permutation = np.random.default_rng([seed, SHUFFLE, epoch]).permutation(20)
        return [permutation[:8], permutation[8:16], permutation[16:]]

    expected, costs, _ = _gd_by_hand(start, X, Y, config, 0.2, schedule, 3, keep_prob=0.75, seed=seed)
    _assert_same_params(result.params, expected)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-14)


def test_the_history_weights_each_batch_by_its_size(rng):
    """Batches of 7 and 3: cost = (7 J₁ + 3 J₂)/10 with J₂ after the first update, and L2 with
    n = 10 (the training set), not the batch's m; accuracy = (right₁ + right₂)/10, not the mean
    of the two batches' fractions."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    split = [np.arange(7), np.arange(7, 10)]
    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.1, num_epochs=1, lambd=0.5,
                 batches=lambda epoch, m: split)
    _, costs, accuracies = _gd_by_hand(params, X, Y, config, 0.1, lambda e: split, 1, lambd=0.5)
    assert result.history.cost[0] == pytest.approx(costs[0], rel=1e-13)
    assert result.history.accuracy[0] == accuracies[0]
    assert result.history.data_cost[0] + result.history.l2_cost[0] == pytest.approx(costs[0], rel=1e-13)
    fractions = []                                                  # each batch's own fraction, by hand
    for batch in split:
        AL, caches = cr.forward(params, X[:, batch], config)
        fractions.append(np.mean((AL > 0.5) == (Y[:, batch] > 0.5)))
        grads = cr.backward(AL, Y[:, batch], caches, config, lambd=0.5, n=10)
        params = [cr.LayerParams(p.W - 0.1 * g.dW, p.b - 0.1 * g.db) for p, g in zip(params, grads)]
    assert accuracies[0] == pytest.approx((7 * fractions[0] + 3 * fractions[1]) / 10)
    assert accuracies[0] != pytest.approx(np.mean(fractions))      # the unweighted mean is another number


def test_the_learning_rate_of_each_epoch_is_the_one_used(rng):
    """With inverse-time decay, epoch e's step is −α0/(1 + e) dW: two epochs written out agree."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.5, num_epochs=2, decay="inverse_time")
    for alpha in (0.5, 0.5 / 2):
        params, _, _ = _gd_by_hand(params, X, Y, config, alpha, lambda e: [slice(None)], 1)
    _assert_same_params(result.params, params)
    np.testing.assert_allclose(result.history.learning_rate, [0.5, 0.25])
    stepped = fit(config, X, Y, learning_rate=0.5, num_epochs=3, decay="stepped", decay_rate=1.0, time_interval=2)
    np.testing.assert_allclose(stepped.history.learning_rate, [0.5, 0.5, 0.25])


def test_a_supplied_schedule_is_followed_exactly(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 50, rng)

    def schedule(epoch, m):
        return [np.arange(m)[epoch % 5::5], np.arange(m)[[i for i in range(m) if i % 5 != epoch % 5]]]

    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.3, num_epochs=4, batches=schedule)
    expected, _, _ = _gd_by_hand(params, X, Y, config, 0.3, lambda e: schedule(e, 50), 4)
    _assert_same_params(result.params, expected)


def test_the_course_schedule_is_random_mini_batches_exactly():
    """The course's recipe re-written: np.random.seed(seed); permutation; full batches, then the rest."""
    schedule = cr.course_mini_batches(64, seed=10)
    state = np.random.get_state()
    try:
        for epoch in range(3):
            np.random.seed(10 + 1 + epoch)
            permutation = list(np.random.permutation(300))
            expected = [permutation[k * 64:(k + 1) * 64] for k in range(300 // 64)] + [permutation[256:]]
            assert [list(b) for b in schedule(epoch, 300)] == expected
    finally:
        np.random.set_state(state)


def test_conventions_train_the_same_network(rng):
    config = cr.ModelConfig([3, 5, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 40, rng)
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=50, mini_batch_size=16, seed=4)
    a = fit(config, X, Y, train, state=TrainState(params))
    b = fit(config, X, Y, train, state=TrainState(params), convention="absorbed")
    for p, q in zip(a.params, b.params):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p.b, q.b, rtol=1e-10, atol=1e-12)


def test_dropout_is_applied_in_training_and_never_in_prediction(flower):
    config = cr.ModelConfig([2, 10, 1], "relu", "sigmoid")
    params0 = cr.init_params(config, 0)
    plain = fit(config, flower.X, flower.Y, state=TrainState(params0), learning_rate=0.3, num_epochs=1)
    dropped = fit(config, flower.X, flower.Y, state=TrainState(params0), learning_rate=0.3, num_epochs=1, keep_prob=0.5)
    AL, caches = cr.forward(params0, flower.X, config)
    assert plain.history.cost[0] == pytest.approx(cr.compute_cost(AL, flower.Y, config, ZL=caches[-1].Z), rel=1e-14)
    assert dropped.history.cost[0] != plain.history.cost[0]         # the thinned network's cost, not the whole one's


def _course_dropout_model(X, Y, parameters, learning_rate, num_iterations, keep_prob):
    """The course's model() with keep_prob < 1 (Course 2, Regularization), its functions written
    out line by line: forward_propagation_with_dropout (np.random.seed(1) first, then per hidden
    layer D = rand(…) < keep_prob, A = A * D / keep_prob), compute_cost from a3,
    backward_propagation_with_dropout (dA = dA * D / keep_prob) and update_parameters.
    Returns (parameters, costs); it draws from, and leaves seeded, NumPy's global generator."""
    relu, sigmoid = (lambda x: np.maximum(0, x)), (lambda x: 1 / (1 + np.exp(-x)))
    m, costs = X.shape[1], []
    for _ in range(num_iterations):
        W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        np.random.seed(1)                                          # forward_propagation_with_dropout
        Z1 = np.dot(W1, X) + b1
        A1 = relu(Z1)
        D1 = np.random.rand(A1.shape[0], A1.shape[1])
        D1 = (D1 < keep_prob).astype(int)
        A1 = A1 * D1
        A1 = A1 / keep_prob
        Z2 = np.dot(W2, A1) + b2
        A2 = relu(Z2)
        D2 = np.random.rand(A2.shape[0], A2.shape[1])
        D2 = (D2 < keep_prob).astype(int)
        A2 = A2 * D2
        A2 = A2 / keep_prob
        Z3 = np.dot(W3, A2) + b3
        A3 = sigmoid(Z3)
        logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)      # compute_cost
        costs.append(1. / m * np.nansum(logprobs))
        dZ3 = A3 - Y                                               # backward_propagation_with_dropout
        dW3 = 1. / m * np.dot(dZ3, A2.T)
        db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
        dA2 = np.dot(W3.T, dZ3)
        dA2 = dA2 * D2
        dA2 = dA2 / keep_prob
        dZ2 = np.multiply(dA2, np.int64(A2 > 0))
        dW2 = 1. / m * np.dot(dZ2, A1.T)
        db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
        dA1 = np.dot(W2.T, dZ2)
        dA1 = dA1 * D1
        dA1 = dA1 / keep_prob
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1 = 1. / m * np.dot(dZ1, X.T)
        db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
        parameters = {k: parameters[k] - learning_rate * grads[k] for k in parameters}   # update_parameters
    return parameters, costs


def test_course_dropout_masks_train_as_the_courses_dropout_model(flower, global_state):
    """dropout_masks "course": every step's forward draws its masks after np.random.seed(1), as
    the course's forward_propagation_with_dropout does, so fit with full batches, gd, α = 0.3 and
    keep_prob 0.86 trains what the course's model() trains from the same start: the same
    parameters and costs to rounding (the course's 1/m and cost differ by ulps). chainrule's own
    masks, a fresh stream each epoch, train another network."""
    np.random.seed(3)                                              # the course's start: randn / √n_prev
    dims = [2, 20, 3, 1]
    start = {}
    for l in range(1, len(dims)):
        start[f"W{l}"] = np.random.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1])
        start[f"b{l}"] = np.zeros((dims[l], 1))
    course, costs = _course_dropout_model(flower.X, flower.Y, start, 0.3, 20, 0.86)
    config = cr.ModelConfig(dims, "relu", "sigmoid")
    train = TrainConfig(learning_rate=0.3, num_epochs=20, keep_prob=0.86, dropout_masks="course", seed=5)
    params0 = [cr.LayerParams(start[f"W{l}"], start[f"b{l}"]) for l in range(1, len(dims))]
    result = fit(config, flower.X, flower.Y, train, state=TrainState(params0))
    for l, (W, b) in enumerate(result.params, start=1):
        np.testing.assert_allclose(W, course[f"W{l}"], rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(b, course[f"b{l}"], rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-14)
    other_seed = fit(config, flower.X, flower.Y, train, state=TrainState(params0), seed=6)
    _assert_same_params(other_seed.params, result.params)         # the course's masks owe nothing to the seed
    own = fit(config, flower.X, flower.Y, train, state=TrainState(params0), dropout_masks="chainrule")
    assert not np.allclose(own.params[0].W, course["W1"], rtol=1e-6)


def test_course_dropout_masks_are_drawn_afresh_for_every_step(rng):
    """With mini-batches too, each step's forward draws its masks from np.random.seed(1): the
    loop written out with a RandomState(1) per batch gives fit's parameters exactly."""
    config = cr.ModelConfig([3, 6, 4, 1], "relu", "sigmoid")
    params, X, Y = random_problem(config, 20, rng)

    def schedule(epoch):
        permutation = np.random.default_rng([4, epoch]).permutation(20)
        return [permutation[:8], permutation[8:16], permutation[16:]]

    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.2, num_epochs=3, keep_prob=0.75,
                 batches=lambda epoch, m: schedule(epoch), dropout_masks="course")
    expected, costs, _ = _gd_by_hand(params, X, Y, config, 0.2, schedule, 3, keep_prob=0.75, course_masks=True)
    _assert_same_params(result.params, expected)
    np.testing.assert_allclose(result.history.cost, costs, rtol=1e-14)


def test_larger_lambda_gives_smaller_weights(flower):
    config = cr.ModelConfig([2, 8, 1], "tanh", "sigmoid")
    norms = []
    for lambd in (0.0, 0.5, 5.0):
        result = fit(config, flower.X, flower.Y, learning_rate=0.5, num_epochs=500, lambd=lambd, seed=1)
        norms.append(sum(np.sum(W ** 2) for W, _ in result.params))
        assert (result.history.l2_cost > 0).all() == (lambd > 0)
    assert norms[0] > norms[1] > norms[2]


# --- early stopping, divergence, callbacks ----------------------------------------------------


def _noisy_problem():
    """A big network on 20 noisy examples overfits: its validation cost falls, then rises."""
    config = cr.ModelConfig([2, 50, 50, 1], "relu", "sigmoid")
    data = datasets.moons(220, 0.4, seed=1)
    return config, data.X[:, :20], data.Y[:, :20], (data.X[:, 20:], data.Y[:, 20:])


def test_early_stopping_restores_the_best_parameters():
    config, X, Y, validation = _noisy_problem()
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=2000, patience=20, seed=0)
    result = fit(config, X, Y, train, validation_data=validation)
    history = result.history
    assert history.stop_reason == "early stopping" and len(history) < 2000
    best = int(np.argmin(history.val_cost))
    assert history.best_epoch == history.epoch[best] and len(history) == best + 1 + 20
    AL, caches = cr.forward(result.params, validation[0], config)
    J = cr.compute_cost(AL, validation[1], config, ZL=caches[-1].Z)
    assert J == pytest.approx(history.val_cost[best], rel=1e-12)
    # the parameters are those after epoch `best`: the same run, stopped there, ends with them
    _assert_same_params(result.params, fit(config, X, Y, train, num_epochs=best + 1, patience=None).params)
    assert result.state.epoch == len(history)                       # the state is where training stopped


def test_restore_best_false_keeps_the_last_parameters():
    config, X, Y, validation = _noisy_problem()
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=2000, patience=20, seed=0, restore_best=False)
    result = fit(config, X, Y, train, validation_data=validation)
    assert result.history.stop_reason == "early stopping"
    uninterrupted = fit(config, X, Y, train, num_epochs=len(result.history), patience=None)
    _assert_same_params(result.params, uninterrupted.params)


def test_early_stopping_on_the_training_cost_keeps_the_start_of_the_best_epoch(flower):
    """Without validation data the epoch's cost (full batch) is J of its starting parameters:
    those are the ones to restore. A learning rate too large makes J oscillate upwards."""
    config, train = cr.presets.planar()
    result = fit(config, flower.X, flower.Y, train, learning_rate=8.0, num_epochs=500, patience=5,
                 divergence_factor=None)
    history = result.history
    assert history.stop_reason == "early stopping"
    best = int(np.argmin(history.cost))
    assert history.best_epoch == best and len(history) == best + 1 + 5
    AL, caches = cr.forward(result.params, flower.X, config)
    assert cr.compute_cost(AL, flower.Y, config, ZL=caches[-1].Z) == pytest.approx(history.cost[best], rel=1e-12)


def test_min_delta_ignores_improvements_smaller_than_it(rng):
    """min_delta = 1: no epoch improves the cost by more than 1, so the first epoch stays the
    best and training stops after `patience` more."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 30, rng)
    result = fit(config, X, Y, state=TrainState(params), learning_rate=0.5, num_epochs=200, patience=2, min_delta=1.0)
    assert result.history.stop_reason == "early stopping" and result.history.best_epoch == 0
    assert len(result.history) == 3 and np.all(np.diff(result.history.cost) < 0)    # it did improve, by less


def test_a_diverging_run_raises_and_keeps_finite_parameters(flower):
    config, train = cr.presets.planar()
    message = r"diverged.*in epoch \d+.*learning rate 1000.*smaller learning rate"
    with pytest.raises(TrainingDiverged, match=message) as info:
        fit(config, flower.X, flower.Y, train, learning_rate=1e3, num_epochs=1000)
    kept = info.value.params
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in kept)
    AL, caches = cr.forward(kept, flower.X, config)
    assert cr.compute_cost(AL, flower.Y, config, ZL=caches[-1].Z) == pytest.approx(info.value.history.cost.min())
    assert info.value.history.stop_reason == "diverged"


def test_an_overflowing_run_raises_with_finite_parameters():
    """A linear regression with α = 10 multiplies the error by about −9 a step until it overflows."""
    config = cr.ModelConfig([1, 1], output="identity")
    X = np.linspace(-3, 3, 20)[np.newaxis]
    with pytest.raises(TrainingDiverged, match="the cost became") as info:
        fit(config, X, 2 * X, learning_rate=10.0, num_epochs=2000, divergence_factor=None)
    assert all(np.isfinite(W).all() for W, _ in info.value.params)
    AL, _ = cr.forward(info.value.params, X, config)                # the kept params: the lowest cost seen
    assert cr.compute_cost(AL, 2 * X, config) == pytest.approx(info.value.history.cost.min(), rel=1e-12)


def test_parameters_that_overflow_in_the_last_epoch_are_caught():
    """The last update of the only epoch sends W past the largest float64: α·dW = 1e300·(≈ 1e10)."""
    config = cr.ModelConfig([1, 1], output="identity")
    X = np.linspace(-3, 3, 20)[np.newaxis]
    with pytest.raises(TrainingDiverged, match="the parameters became NaN or infinite in epoch 0") as info:
        fit(config, X, 1e10 * X, learning_rate=1e300, num_epochs=1)
    assert all(np.isfinite(W).all() for W, _ in info.value.params)


def test_callbacks_see_every_epoch_and_any_true_value_stops(rng):
    """A callback returning np.True_ (from a comparison) stops; every callback sees every epoch,
    with the state after it (its epoch count and parameters)."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []
    result = fit(config, X, Y, state=TrainState(params), num_epochs=10,
                 callbacks=[lambda r, s: np.int64(r.epoch) >= 2,
                            lambda r, s: seen.append((r.epoch, s.epoch, s.params))])
    assert [(e, n) for e, n, _ in seen] == [(0, 1), (1, 2), (2, 3)] and result.history.stop_reason == "callback"
    _assert_same_params(seen[-1][2], result.params)
    assert len(fit(config, X, Y, num_epochs=10, callbacks=lambda r, s: r.epoch == 1).history) == 2


def test_callbacks_and_validation_run_under_the_callers_floating_point_settings(rng):
    """Training silences overflow while it trains (divergence is tested for), but not around the
    user's code: callbacks, validation, a decay function, a batch schedule."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []
    with np.errstate(over="raise", invalid="warn"):
        fit(config, X, Y, state=TrainState(params), num_epochs=2, callbacks=lambda r, s: seen.append(np.geterr()))
    assert [(e["over"], e["invalid"]) for e in seen] == [("raise", "warn")] * 2
    with np.errstate(over="raise", invalid="warn"):
        fit(config, X, Y, num_epochs=2, callbacks=None, decay=lambda lr0, e: seen.append(np.geterr()) or lr0,
            batches=lambda e, m: seen.append(np.geterr()) or [np.arange(m)])
    assert [(e["over"], e["invalid"]) for e in seen[2:]] == [("raise", "warn")] * 4
    regression = cr.ModelConfig([3, 4, 1], "relu", "identity")
    X_val = np.full((3, 2), 1e155)                 # (A[L] − Y)² overflows in the validation cost
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        fit(regression, X, Y, state=TrainState(params), num_epochs=1, validation_data=(X_val, np.zeros((1, 2))))


def test_an_early_stopping_of_ones_own_chooses_the_parameters_returned():
    """EarlyStopping given in callbacks does what patience= does; both at once is refused."""
    config, X, Y, validation = _noisy_problem()
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=2000, seed=0)
    mine = fit(config, X, Y, train, validation_data=validation, callbacks=[cr.EarlyStopping(20)])
    builtin = fit(config, X, Y, train, validation_data=validation, patience=20)
    assert mine.history.best_epoch == builtin.history.best_epoch is not None
    assert mine.history.stop_reason == "early stopping" and len(mine.history) == len(builtin.history)
    _assert_same_params(mine.params, builtin.params)
    assert mine.state.best[:2] == builtin.state.best[:2] and mine.state.best.waited == builtin.state.best.waited
    with pytest.raises(ValueError, match="early stopping is asked for twice"):
        fit(config, X, Y, train, patience=5, callbacks=[cr.EarlyStopping(20)], num_epochs=1)


def test_a_checkpoint_during_training_carries_early_stoppings_memory(tmp_path):
    """The state each callback after early stopping sees holds its memory, so a checkpoint
    resumed stops where the uninterrupted run does."""
    config, X, Y, validation = _noisy_problem()
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=2000, patience=20, seed=0)
    whole = fit(config, X, Y, train, validation_data=validation)
    split = whole.history.best_epoch + 5
    states = {}
    fit(config, X, Y, train, validation_data=validation, num_epochs=split + 1,
        callbacks=[lambda r, s: states.update({s.epoch: s})])
    saved = states[split]
    assert saved.best is not None and saved.best.epoch == whole.history.best_epoch and saved.best.waited == 4
    rest = fit(config, X, Y, train, validation_data=validation, state=saved)
    assert rest.history.stop_reason == "early stopping" and split + len(rest.history) == len(whole.history)
    _assert_same_params(rest.params, whole.params)


def test_an_epoch_that_breaks_off_returns_arrays_no_later_epoch_writes(rng):
    """A cost that overflows in the middle of an epoch ends it at that batch; the parameters and
    optimizer state it returns are its own, not the buffers the next epoch writes into."""
    config = cr.ModelConfig([1, 1], output="identity")
    X = np.linspace(-3, 3, 40)[np.newaxis]
    epochs = iterate(config, X, 1e100 * X, optimizer="momentum", learning_rate=1e200, mini_batch_size=10, seed=1)
    states = [next(epochs)[0] for _ in range(3)]
    first = [a.copy() for a in (states[0].params[0].W, states[0].opt_state.v[0].dW)]
    next(epochs)
    np.testing.assert_array_equal(states[0].params[0].W, first[0])
    np.testing.assert_array_equal(states[0].opt_state.v[0].dW, first[1])


# --- resuming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [dict(batches="course", mini_batch_size=8), dict(mini_batch_size=8),
                                     dict(mini_batch_size=8, keep_prob=0.7)],
                         ids=["course-batches", "shuffled", "shuffled-dropout"])
def test_fit_resumes_exactly(options, rng):
    """N + K epochs in one run equal N, then K more from the state: bit for bit."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 30, rng)
    train = TrainConfig(optimizer="adam", learning_rate=0.01, seed=5, **options)
    whole = fit(config, X, Y, train, state=TrainState(params), num_epochs=12)
    first = fit(config, X, Y, train, state=TrainState(params), num_epochs=7)
    rest = fit(config, X, Y, train, state=first.state, num_epochs=5)
    _assert_same_params(whole.params, rest.params)
    np.testing.assert_array_equal(whole.history.cost[7:], rest.history.cost)
    assert list(rest.history.epoch) == [7, 8, 9, 10, 11] and rest.state.opt_state.t == whole.state.opt_state.t


@pytest.mark.parametrize("restore_best", [True, False])
def test_resuming_with_early_stopping_stops_where_the_uninterrupted_run_does(restore_best):
    """Early stopping's memory (the best cost, its epoch and parameters, the epochs waited)
    travels in the state: the resumed run stops at the same epoch with the same parameters."""
    config, X, Y, validation = _noisy_problem()
    train = TrainConfig(optimizer="adam", learning_rate=0.01, num_epochs=2000, patience=20, seed=0,
                        restore_best=restore_best)
    whole = fit(config, X, Y, train, validation_data=validation)
    split = whole.history.best_epoch + 5                            # after the best epoch, while waiting
    first = fit(config, X, Y, train, validation_data=validation, num_epochs=split)
    assert first.history.stop_reason == "completed" and first.state.best.epoch == whole.history.best_epoch
    rest = fit(config, X, Y, train, validation_data=validation, state=first.state)
    assert rest.history.stop_reason == "early stopping" and rest.history.best_epoch == whole.history.best_epoch
    assert first.history.then(rest.history).as_dict().keys() == whole.history.as_dict().keys()
    np.testing.assert_array_equal(np.concatenate([first.history.val_cost, rest.history.val_cost]),
                                  whole.history.val_cost)
    _assert_same_params(rest.params, whole.params)


# --- float32 ------------------------------------------------------------------------------------


def test_float32_trains_in_float32(flower):
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    result = fit(config, flower.X.astype(np.float32), flower.Y, learning_rate=1.2, num_epochs=200, seed=3)
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in result.params)
    assert result.history.cost[-1] < result.history.cost[0]


@pytest.mark.parametrize("options", [
    dict(learning_rate=np.float64(0.5)),
    dict(learning_rate=0.5, decay=lambda lr0, e: np.float64(lr0) / (1 + e)),
    dict(learning_rate=0.05, optimizer="momentum", beta=np.float64(0.8)),
    dict(learning_rate=0.05, optimizer="rmsprop", beta=np.float64(0.8), epsilon=np.float64(1e-7)),
    dict(learning_rate=0.05, optimizer="adam", beta1=np.float64(0.8), beta2=np.float64(0.99)),
    dict(learning_rate=0.5, lambd=np.float64(0.1), keep_prob=np.float64(0.9), mini_batch_size=100),
])
def test_float32_stays_float32_when_the_hyperparameters_are_numpy_float64(flower, options):
    """NumPy float64 scalars (from np.logspace, say) would turn float32 arrays into float64 (NEP 50)."""
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    result = fit(config, flower.X.astype(np.float32), flower.Y, num_epochs=5, seed=3, **options)
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in result.params)
    assert all(a.dtype == np.float32 for g in result.state.opt_state[:-1] for layer in g for a in layer)


def test_an_optimizer_of_ones_own_gets_gradients_it_may_keep(rng):
    """The step reuses its gradient buffers; an optimizer from outside gets copies, which keep
    the gradients of their own step."""
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    _, X, Y = random_problem(config, 12, rng)
    kept, inner = [], cr.gd()

    def update(params, grads, state, learning_rate):
        kept.append(grads)
        return inner.update(params, grads, state, learning_rate)

    fit(config, X, Y, optimizer=cr.optimizers.Optimizer("keeper", inner.init, update), num_epochs=3, seed=1)
    start = cr.training.init_state(config, TrainConfig(seed=1)).params
    AL, caches = cr.forward(start, X, config)
    np.testing.assert_array_equal(kept[0][0].dW, cr.backward(AL, Y, caches, config)[0].dW)   # the first step's
    assert not np.array_equal(kept[0][0].dW, kept[2][0].dW)


# --- iterate ---------------------------------------------------------------------------------------


def test_iterate_steps_the_same_run_as_fit(flower):
    """Five next() calls are five epochs of fit: the same states and records."""
    config, train = cr.presets.planar()
    epochs = iterate(config, flower.X, flower.Y, train)
    assert epochs.state.epoch == 0
    steps = [next(epochs) for _ in range(5)]
    result = fit(config, flower.X, flower.Y, train, num_epochs=5)
    _assert_same_params(steps[-1][0].params, result.params)
    assert [s.epoch for s, _ in steps] == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal([r.cost for _, r in steps], result.history.cost)
    assert epochs.state is steps[-1][0]


def test_iterate_stops_after_num_epochs(flower):
    config, train = cr.presets.planar()
    epochs = iterate(config, flower.X, flower.Y, train, num_epochs=3)
    assert [s.epoch for s, _ in epochs] == [1, 2, 3] and epochs.left == 0
    with pytest.raises(StopIteration):
        next(epochs)


def test_callback_objects_whose_hooks_return_nothing_keep_the_state(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []

    class Quiet:
        def start(self, state):
            seen.append(("start", state.epoch))

        def __call__(self, record, state):
            seen.append(("epoch", state.epoch))

        def finish(self, state):
            seen.append(("finish", state.epoch))

    result = fit(config, X, Y, state=TrainState(params), num_epochs=2, callbacks=[Quiet()])
    assert seen == [("start", 0), ("epoch", 1), ("epoch", 2), ("finish", 2)] and result.state.epoch == 2


def test_a_callback_answer_that_is_neither_true_nor_false_is_named(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)

    def noisy(record, state):
        return np.array([record.cost, record.accuracy])

    with pytest.raises(ValueError, match="callback noisy returned a ndarray; a callback returns a true value to stop"):
        fit(config, X, Y, state=TrainState(params), num_epochs=2, callbacks=[noisy])


def test_a_seed_of_none_is_chosen_once_and_recorded(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    _, X, Y = random_problem(config, 20, rng)
    result = fit(config, X, Y, num_epochs=2, mini_batch_size=5, seed=None)
    seed = result.history.seed
    assert isinstance(seed, int) and seed >= 0 and result.train.seed == seed
    again = fit(config, X, Y, num_epochs=2, mini_batch_size=5, seed=seed)
    _assert_same_params(result.params, again.params)
    whole = fit(config, X, Y, result.train, num_epochs=4)             # resumed with the run's TrainConfig
    _assert_same_params(fit(config, X, Y, result.train, state=result.state, num_epochs=2).params, whole.params)
    with pytest.raises(ValueError, match="seed None draws a fresh seed, and a run resumed at epoch 2 needs its own"):
        fit(config, X, Y, num_epochs=2, seed=None, state=result.state)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    (dict(learning_rate=0), "learning_rate must be a positive number"),
    (dict(num_epochs=-1), "num_epochs must be a non-negative integer"),
    (dict(optimizer="sgd"), "unknown optimizer 'sgd'"),
    (dict(optimizer="gd", beta=0.9), "takes no hyperparameter"),
    (dict(mini_batch_size=0), "mini_batch_size must be a positive integer"),
    (dict(keep_prob=0), r"keep_prob must be in \(0, 1\]"),
    (dict(lambd=-1), "lambd must be a non-negative number"),
    (dict(validation_data=np.ones((3, 4))), "validation_data must be a pair"),
    (dict(validation_data=np.ones((2, 10))), r"validation_data must be a pair \(X_val, Y_val\); got ndarray"),
    (dict(decay="cosine"), "decay must be None, 'inverse_time', 'stepped'"),
    (dict(batches=lambda e, m: [np.arange(m - 1)]),
     "every example once per epoch; in epoch 0 example 9 is used 0 times"),
    (dict(batches=lambda e, m: [np.zeros(m, int)]), "example 0 is used 10 times"),
    (dict(batches=lambda e, m: [3]), "expected 1-D index arrays"),
    (dict(batches=lambda e, m: [np.array([0.5])]), "expected integer index arrays or slices"),
    (dict(batches=lambda e, m: [np.arange(m + 1)]), "expected integer index arrays or slices of 0 … 9"),
    (dict(batches="shuffle"), "unknown batches 'shuffle'"),
    (dict(convention="mean"), "unknown convention 'mean'"),
    (dict(mini_batch_size="64"), "mini_batch_size must be a positive integer"),
    (dict(mini_batch_size=1000.5), "mini_batch_size must be a positive integer"),
    (dict(decay="inverse_time", decay_rate=-1), "decay_rate must be a non-negative number"),
    (dict(decay="stepped", time_interval=0), "time_interval must be a positive integer"),
    (dict(decay=lambda lr0, e: -lr0), r"the learning-rate decay gave α = -0.01 for epoch 0"),
    (dict(decay=lambda lr0, e: "fast"), r"the learning-rate decay gave α = 'fast' for epoch 0"),
    (dict(decay=lambda lr0, e: np.nan), r"the learning-rate decay gave α = nan for epoch 0"),
    (dict(optimizer="adam", epsilon=0), "epsilon must be a positive number"),
    (dict(optimizer="momentum", beta=np.float32(1.5)), r"beta must be in \[0, 1\)"),
    (dict(min_delta=-1), "min_delta must be a non-negative number"),
    (dict(restore_best="no"), "restore_best must be True or False"),
    (dict(callbacks=[3]), "callbacks must be functions of"),
    (dict(callbacks=3), "callbacks must be functions of"),
    (dict(callbacks=[lambda record: False]), r"callbacks are called as callback\(record, state\); <lambda> cannot"),
    (dict(learning_rate=1e-300, decay="inverse_time", decay_rate=1e308),
     r"the learning-rate decay gave α = 0.0 for epoch 1"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(init="glorot"), "unknown init 'glorot'"),
    (dict(init_draws="numpy"), "unknown init_draws 'numpy'"),
    (dict(dropout_masks="numpy"), "unknown dropout_masks 'numpy'; expected one of: chainrule, course"),
    (dict(seed=2 ** 32, init_draws="course"), r"seed must be below 2³² with init_draws 'course'"),
    (dict(learnin_rate=0.1), "unknown training option.*learnin_rate"),
    (dict(validation_data=(np.ones((3, 5)), np.ones((2, 5)))), r"Y_val must have shape \(n_y, m\) = \(1, 5\)"),
    (dict(validation_data=(np.ones((5, 3)), np.ones((1, 5)))), "X_val must have shape.*pass X_val.T"),
    (dict(state=[1, 2]), r"state must be a chainrule.TrainState"),
    (dict(state=TrainState([(np.ones((2, 2)), np.ones((2, 1)))])), r"state.params: params must hold 2 layers"),
    (dict(state=TrainState(None, None, 0, best="best")), r"state.params: params must be a list"),
    (dict(state=TrainState(PARAMS, None, 0, best="best")), r"state.best must be a chainrule.callbacks.Best"),
    (dict(state=TrainState(PARAMS, None, 0, best=Best(1.0, 0, [PARAMS[0], (np.ones((1, 2)), np.ones((1, 1)))]))),
     r"state.best.params: W2 must have shape \(n_2, n_1\) = \(1, 4\)"),
    (dict(state=TrainState(PARAMS, None, 0, best=Best(1.0, -3, PARAMS))), r"state.best.epoch must be"),
    (dict(optimizer="momentum", state=TrainState(PARAMS, cr.optimizers.MomentumState([1, 2]))),
     r"state.opt_state.v does not have the shapes of these parameters"),
    (dict(optimizer="momentum", state=TrainState(PARAMS, cr.optimizers.MomentumState(
        [cr.LayerGrads(np.full((4, 3), np.nan), np.zeros((4, 1))),
         cr.LayerGrads(np.zeros((1, 4)), np.zeros((1, 1)))]))),
     r"state.opt_state.v must be finite"),
])
def test_bad_training_arguments(options, message, rng):
    """Each mistake is a ValueError that names the argument (and nothing is trained)."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    options = {"state": TrainState(params), "num_epochs": 2, **options}
    with pytest.raises(ValueError, match=message):
        fit(config, X, Y, **options)


def test_train_config_is_frozen_and_takes_plain_values():
    train = TrainConfig(learning_rate=np.float64(0.5), num_epochs=np.int64(3))
    assert type(train.learning_rate) is float and type(train.num_epochs) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.learning_rate = 1.0
    assert dataclasses.replace(train, seed=3).seed == 3 and train.seed == 0
    with pytest.raises(ValueError, match="train must be a chainrule.TrainConfig"):
        fit(cr.ModelConfig([2, 1]), np.zeros((2, 3)), np.zeros((1, 3)), {"learning_rate": 0.1})


def test_keep_prob_needs_a_hidden_layer_and_a_state_needs_these_shapes(rng):
    config = cr.ModelConfig([3, 1])
    params, X, Y = random_problem(config, 10, rng)
    with pytest.raises(ValueError, match="no hidden layer"):
        fit(config, X, Y, state=TrainState(params), keep_prob=0.5, num_epochs=1)
    other = cr.ModelConfig([3, 2, 1])
    opt_state = cr.adam().init(cr.init_params(other, 0))
    with pytest.raises(ValueError, match="state.opt_state.v does not have the shapes of these parameters"):
        fit(config, X, Y, state=TrainState(params, opt_state), optimizer="adam", num_epochs=1)
    with pytest.raises(ValueError, match=r"state of the 'adam' optimizer \(AdamState\); got GDState"):
        fit(config, X, Y, state=TrainState(params, cr.optimizers.GDState()), optimizer="adam", num_epochs=1)
