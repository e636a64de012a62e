"""Training: the course's published results reproduced, and the loop's own guarantees."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.model import accuracy, predict, predict_proba
from chainrule.training import TrainingDiverged, course_mini_batches, fit, train
from conftest import random_problem


# --- the course's results ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def flower():
    return datasets.planar_flower()


def _planar(flower, n_h, num_epochs):
    """The course's nn_model: tanh hidden layer, sigmoid output, np.random.seed(2) then
    randn × 0.01 (W1 before W2), learning rate 1.2, full-batch gradient descent."""
    config = cr.ModelConfig([2, n_h, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.RandomState(2), "random", 0.01)
    params, history = train(config, flower.X, flower.Y, params=params, learning_rate=1.2, num_epochs=num_epochs)
    return accuracy(params, flower.X, flower.Y, config), history


def test_planar_classifier(flower):
    """Course 1, week 3: "Cost after iteration 0: 0.693048", "… 1000: 0.288083"; accuracy 90 %."""
    acc, history = _planar(flower, 4, 10000)
    assert f"{history.cost[0]:.6f}" == "0.693048"
    assert f"{history.cost[1000]:.6f}" == "0.288083"
    assert acc >= 0.90
    assert len(history) == 10000 and history.stop_reason == "completed"


@pytest.mark.parametrize("n_h, expected", [(1, 0.675), (2, 0.6725), (3, 0.9075)])
def test_planar_hidden_layer_sweep(flower, n_h, expected):
    """The course's sweep of hidden sizes, 5000 iterations each: 67.5 %, 67.25 %, 90.75 %."""
    acc, _ = _planar(flower, n_h, 5000)
    assert acc == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("optimizer, hyper, expected",
                         [("gd", {}, 0.7967), ("momentum", {"beta": 0.9}, 0.7967),
                          ("adam", {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}, 0.94)])
def test_optimization_assignment(optimizer, hyper, expected):
    """Course 2, week 2: np.random.seed(3); make_moons(300, noise=.2); [2, 5, 2, 1] relu, relu,
    sigmoid; He init from seed 3; mini-batches of 64 with the seed starting at 10, incremented
    before each epoch; α = 0.0007; 10 000 epochs. Accuracy 0.7967 (gd, momentum), 0.94 (Adam)."""
    data = datasets.moons(300, 0.2, seed=3)
    config = cr.ModelConfig([2, 5, 2, 1], "relu", "sigmoid")
    params = cr.init_params(config, np.random.RandomState(3), "he")
    params, _ = train(config, data.X, data.Y, params=params, optimizer=optimizer, learning_rate=0.0007,
                      num_epochs=10000, batches=course_mini_batches(64), **hyper)
    assert accuracy(params, data.X, data.Y, config) == pytest.approx(expected, abs=5e-5)


# --- what the loop guarantees -----------------------------------------------------------------


def test_course_schedule_is_random_mini_batches_exactly(rng):
    """The course's recipe re-written: np.random.seed(seed); permutation; full batches, then the rest."""
    schedule = course_mini_batches(64, seed=10)
    state = np.random.get_state()
    try:
        for epoch in range(3):
            np.random.seed(10 + 1 + epoch)
            permutation = list(np.random.permutation(300))
            expected = [permutation[k * 64:(k + 1) * 64] for k in range(300 // 64)] + [permutation[256:]]
            got = schedule(epoch, 300)
            assert [list(b) for b in got] == expected
    finally:
        np.random.set_state(state)


def test_a_supplied_schedule_is_followed_exactly(rng):
    """train with someone else's batches equals the loop written by hand with forward/backward."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 50, rng)
    schedule = lambda epoch, m: [np.arange(m)[epoch % 5::5], np.arange(m)[[i for i in range(m) if i % 5 != epoch % 5]]]
    trained, _ = train(config, X, Y, params=params, learning_rate=0.3, num_epochs=4, batches=schedule)
    for epoch in range(4):
        for idx in schedule(epoch, 50):
            AL, caches = cr.forward(params, X[:, idx], config)
            grads = cr.backward(AL, Y[:, idx], caches, config)
            params = [cr.LayerParams(p.W - 0.3 * g.dW, p.b - 0.3 * g.db) for p, g in zip(params, grads)]
    for p, q in zip(trained, params):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_array_equal(p.b, q.b)


def test_history_cost_is_the_example_weighted_mean_before_each_update(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    # full batch: J of the parameters at the start of the epoch
    _, history = train(config, X, Y, params=params, learning_rate=0.1, num_epochs=1, lambd=0.5)
    AL, caches = cr.forward(params, X, config)
    assert history.cost[0] == pytest.approx(
        cr.compute_cost(AL, Y, config, ZL=caches[-1].Z, params=params, lambd=0.5), rel=1e-14)
    assert history.l2_cost[0] == pytest.approx(0.5 / 20 * sum(np.sum(W ** 2) for W, _ in params), rel=1e-14)
    # batches of 7 and 3: (7·J₁ + 3·J₂) / 10, J₂ after the first update
    # batches of 7 and 3, L2 with n = 10 (the training set), not the batch's m:
    # cost = (7·J₁ + 3·J₂) / 10, J₂ after the first update
    batches = lambda epoch, m: [np.arange(7), np.arange(7, 10)]
    _, history = train(config, X, Y, params=params, learning_rate=0.1, num_epochs=1, batches=batches, lambd=0.5)

    def J(params, part):
        AL, caches = cr.forward(params, X[:, part], config)
        return cr.compute_cost(AL, Y[:, part], config, params=params, lambd=0.5, n=10), (AL, caches)

    J1, (AL, caches) = J(params, slice(0, 7))
    g = cr.backward(AL, Y[:, :7], caches, config, lambd=0.5, n=10)
    after = [cr.LayerParams(p.W - 0.1 * d.dW, p.b - 0.1 * d.db) for p, d in zip(params, g)]
    J2, _ = J(after, slice(7, 10))
    assert history.cost[0] == pytest.approx((7 * J1 + 3 * J2) / 10, rel=1e-12)


def test_conventions_train_the_same_network(rng):
    config = cr.ModelConfig([3, 5, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 40, rng)
    a, _ = train(config, X, Y, params=params, optimizer="adam", learning_rate=0.01, num_epochs=50,
                 mini_batch_size=16, convention="deferred", seed=4)
    b, _ = train(config, X, Y, params=params, optimizer="adam", learning_rate=0.01, num_epochs=50,
                 mini_batch_size=16, convention="absorbed", seed=4)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.W, q.W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p.b, q.b, rtol=1e-10, atol=1e-12)


def test_larger_lambda_gives_smaller_weights(flower):
    config = cr.ModelConfig([2, 8, 1], "tanh", "sigmoid")
    norms = []
    for lambd in (0.0, 0.5, 5.0):
        params, history = train(config, flower.X, flower.Y, learning_rate=0.5, num_epochs=500, lambd=lambd, seed=1)
        norms.append(sum(np.sum(W ** 2) for W, _ in params))
        assert (history.l2_cost > 0).all() == (lambd > 0)
    assert norms[0] > norms[1] > norms[2]


def test_dropout_is_applied_in_training_and_never_in_prediction(flower):
    config = cr.ModelConfig([2, 10, 1], "relu", "sigmoid")
    params0 = cr.init_params(config, 0)
    _, plain = train(config, flower.X, flower.Y, params=params0, learning_rate=0.3, num_epochs=1)
    _, dropped = train(config, flower.X, flower.Y, params=params0, learning_rate=0.3, num_epochs=1, keep_prob=0.5)
    AL, caches = cr.forward(params0, flower.X, config)
    assert plain.cost[0] == pytest.approx(cr.compute_cost(AL, flower.Y, config, ZL=caches[-1].Z), rel=1e-14)
    assert dropped.cost[0] != plain.cost[0]          # the thinned network's cost, not the whole one's
    params, history = train(config, flower.X, flower.Y, learning_rate=0.3, num_epochs=300, keep_prob=0.8, seed=2)
    assert history.cost[-1] < history.cost[0]
    np.testing.assert_array_equal(predict_proba(params, flower.X, config), cr.forward(params, flower.X, config)[0])


def test_early_stopping_restores_the_best_parameters(rng):
    """A big network on 20 noisy examples overfits: validation cost falls, then rises."""
    config = cr.ModelConfig([2, 50, 50, 1], "relu", "sigmoid")
    data = datasets.moons(220, 0.4, seed=1)
    X, Y, X_val, Y_val = data.X[:, :20], data.Y[:, :20], data.X[:, 20:], data.Y[:, 20:]
    params, history = train(config, X, Y, optimizer="adam", learning_rate=0.01, num_epochs=2000,
                            validation_data=(X_val, Y_val), patience=20, seed=0)
    assert history.stop_reason == "early stopping" and len(history) < 2000
    best = int(np.argmin(history.val_cost))
    assert history.best_epoch == history.epoch[best]
    assert len(history) == best + 1 + 20
    AL, caches = cr.forward(params, X_val, config)
    assert cr.compute_cost(AL, Y_val, config, ZL=caches[-1].Z) == pytest.approx(history.val_cost[best], rel=1e-12)
    assert not np.isnan(history.val_accuracy).any()


def test_a_callback_can_stop_training(rng):
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []
    _, history = train(config, X, Y, params=params, num_epochs=100,
                       callbacks=[lambda r: seen.append(r.epoch), lambda r: r.epoch == 3])
    assert seen == [0, 1, 2, 3] and len(history) == 4 and history.stop_reason == "callback"


def test_a_diverging_run_raises_and_keeps_finite_parameters(flower):
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.RandomState(2), "random", 0.01)
    with pytest.raises(TrainingDiverged, match=r"diverged.*in epoch \d+.*learning rate 1000.*smaller learning rate") as info:
        train(config, flower.X, flower.Y, params=params, learning_rate=1e3, num_epochs=1000)
    kept = info.value.params
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in kept)
    AL, caches = cr.forward(kept, flower.X, config)
    assert cr.compute_cost(AL, flower.Y, config, ZL=caches[-1].Z) == pytest.approx(info.value.history.cost.min())


def test_an_overflowing_run_raises_with_finite_parameters(rng):
    """A linear regression with α = 10 multiplies the error by about −9 a step until it overflows."""
    config = cr.ModelConfig([1, 1], output="identity")
    X = np.linspace(-3, 3, 20)[np.newaxis]
    with pytest.raises(TrainingDiverged, match="NaN or infinite|the cost became") as info:
        train(config, X, 2 * X, learning_rate=10.0, num_epochs=2000, divergence_factor=None)
    assert all(np.isfinite(W).all() for W, _ in info.value.params)
    assert info.value.history.stop_reason == "diverged"
    AL, _ = cr.forward(info.value.params, X, config)        # the kept params: the lowest cost seen
    assert cr.compute_cost(AL, 2 * X, config) == pytest.approx(info.value.history.cost.min(), rel=1e-12)


def test_parameters_that_overflow_in_the_last_epoch_are_caught(rng):
    """The last update of the only epoch sends W past the largest float64: α·dW = 1e300·(≈ 1e10)."""
    config = cr.ModelConfig([1, 1], output="identity")
    X = np.linspace(-3, 3, 20)[np.newaxis]
    with pytest.raises(TrainingDiverged, match="the parameters became NaN or infinite in epoch 0") as info:
        train(config, X, 1e10 * X, learning_rate=1e300, num_epochs=1)
    assert all(np.isfinite(W).all() for W, _ in info.value.params)


def test_float32_trains_in_float32(flower):
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params, history = train(config, flower.X.astype(np.float32), flower.Y, learning_rate=1.2, num_epochs=200, seed=3)
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in params)
    assert history.cost[-1] < history.cost[0]


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("options", [
    dict(learning_rate=np.float64(0.5)),
    dict(learning_rate=0.5, decay=lambda lr0, e: np.float64(lr0) / (1 + e)),
    dict(learning_rate=0.05, optimizer="momentum", beta=np.float64(0.8)),
    dict(learning_rate=0.05, optimizer="rmsprop", beta=np.float64(0.8), epsilon=np.float64(1e-7)),
    dict(learning_rate=0.05, optimizer="adam", beta1=np.float64(0.8), beta2=np.float64(0.99)),
    dict(learning_rate=0.5, lambd=np.float64(0.1), keep_prob=np.float64(0.9)),
])
def test_float32_stays_float32_when_the_hyperparameters_are_numpy_float64(flower, options, engine):
    """NumPy float64 scalars (from np.logspace, say) would turn float32 arrays into float64 (NEP 50)."""
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    result = cr.fit(config, flower.X.astype(np.float32), flower.Y, num_epochs=5, seed=3, engine=engine, **options)
    assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in result.params)
    assert all(a.dtype == np.float32 for g in result.optimizer_state[:-1] for layer in g for a in layer)


def test_decay_is_recorded(flower):
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    _, history = train(config, flower.X, flower.Y, learning_rate=0.5, num_epochs=3, decay="inverse_time", decay_rate=1.0)
    np.testing.assert_allclose(history.learning_rate, [0.5, 0.25, 0.5 / 3])
    _, history = train(config, flower.X, flower.Y, learning_rate=0.5, num_epochs=3, decay="stepped",
                       decay_rate=1.0, time_interval=2)
    np.testing.assert_allclose(history.learning_rate, [0.5, 0.5, 0.25])


@pytest.mark.parametrize("options", [dict(batches=course_mini_batches(8)), dict(mini_batch_size=8),
                                     dict(mini_batch_size=8, keep_prob=0.7)],
                         ids=["course-batches", "shuffled", "shuffled-dropout"])
def test_fit_resumes_exactly(options, rng):
    """N + K epochs in one run equal N, then K more from the saved state, epoch count and seed."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 30, rng)
    options = dict(optimizer="adam", learning_rate=0.01, seed=5, **options)
    whole = fit(config, X, Y, params=params, num_epochs=12, **options)
    first = fit(config, X, Y, params=params, num_epochs=7, **options)
    rest = fit(config, X, Y, params=first.params, optimizer_state=first.optimizer_state, start_epoch=7,
               num_epochs=5, **options)
    for p, q in zip(whole.params, rest.params):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_array_equal(p.b, q.b)
    np.testing.assert_array_equal(whole.history.cost[7:], rest.history.cost)
    assert list(rest.history.epoch) == [7, 8, 9, 10, 11] and rest.optimizer_state.t == whole.optimizer_state.t


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_predict_for_every_output(output, rng):
    config = cr.ModelConfig([3, 4, 3 if output == "softmax" else 2], "tanh", output)
    params, X, Y = random_problem(config, 9, rng)
    AL, _ = cr.forward(params, X, config)
    prediction = predict(params, X, config)
    if output == "sigmoid":
        np.testing.assert_array_equal(prediction, (AL > 0.5).astype(int))
        assert accuracy(params, X, Y, config) == np.mean(prediction == Y)
    elif output == "softmax":
        assert prediction.shape == (1, 9)
        np.testing.assert_array_equal(prediction[0], AL.argmax(axis=0))
        assert accuracy(params, X, Y, config) == np.mean(prediction[0] == Y.argmax(axis=0))
    else:
        np.testing.assert_array_equal(prediction, AL)
        with pytest.raises(ValueError, match="accuracy is for classification outputs"):
            accuracy(params, X, Y, config)
        with pytest.raises(ValueError, match="values, not probabilities"):
            predict_proba(params, X, config)
    if output != "identity":
        np.testing.assert_array_equal(predict_proba(params, X, config), AL)


@pytest.mark.parametrize("options, message", [
    (dict(learning_rate=0), "learning_rate must be a positive number"),
    (dict(num_epochs=-1), "num_epochs must be a non-negative integer"),
    (dict(optimizer="sgd"), "unknown optimizer 'sgd'"),
    (dict(optimizer="gd", beta=0.9), "takes no hyperparameter"),
    (dict(mini_batch_size=0), "mini_batch_size must be a positive integer"),
    (dict(keep_prob=0), r"keep_prob must be in \(0, 1\]"),
    (dict(lambd=-1), "lambd must be a non-negative number"),
    (dict(validation_data=np.ones((3, 4))), "validation_data must be a pair"),
    (dict(decay="cosine"), "decay must be None, 'inverse_time', 'stepped'"),
    (dict(batches=lambda e, m: [np.arange(m - 1)]), "every example once per epoch; in epoch 0 example 9 is used 0 times"),
    (dict(batches=lambda e, m: [np.zeros(m, int)]), "example 0 is used 10 times"),
    (dict(batches=lambda e, m: [3]), "expected 1-D index arrays"),
    (dict(batches=lambda e, m: [np.array([0.5])]), "expected integer index arrays or slices"),
    (dict(batches=lambda e, m: [np.arange(m + 1)]), "expected integer index arrays or slices of 0 … 9"),
    (dict(batches="shuffle"), "must be a function"),
    (dict(convention="mean"), "convention must be"),
    (dict(mini_batch_size="64"), "mini_batch_size must be a positive integer"),
    (dict(mini_batch_size=1000.5), "mini_batch_size must be a positive integer"),
    (dict(decay="inverse_time", decay_rate=-1), "decay_rate must be a non-negative number"),
    (dict(decay="stepped", time_interval=0), "time_interval must be a positive integer"),
    (dict(decay=lambda lr0, e: -lr0), r"the learning-rate decay gave α = -0.01 for epoch 0"),
    (dict(decay=lambda lr0, e: "fast"), r"the learning-rate decay gave α = 'fast' for epoch 0"),
    (dict(decay=lambda lr0, e: np.nan), r"the learning-rate decay gave α = nan for epoch 0"),
    (dict(optimizer="adam", epsilon=0), "epsilon must be a positive number"),
    (dict(optimizer="momentum", beta=np.float32(1.5)), r"beta must be in \[0, 1\)"),
    (dict(optimizer="adam", optimizer_state=cr.optimizers.GDState()), "state of the 'adam' optimizer, a AdamState; got GDState"),
    (dict(min_delta=-1), "min_delta must be a non-negative number"),
    (dict(start_epoch=-2), "start_epoch must be a non-negative integer"),
    (dict(restore_best="no"), "restore_best must be True or False"),
    (dict(callbacks=[3]), "callbacks must be a function"),
    (dict(callbacks=3), "callbacks must be a function"),
    (dict(learning_rate=1e-300, decay="inverse_time", decay_rate=1e308), r"the learning-rate decay gave α = 0.0 for epoch 1"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(validation_data=(np.ones((3, 5)), np.ones((2, 5)))), r"Y_val must have shape \(n_y, m\) = \(1, 5\)"),
    (dict(validation_data=(np.ones((5, 3)), np.ones((1, 5)))), "X_val must have shape.*pass X_val.T"),
])
def test_bad_training_arguments(options, message, rng):
    """Each mistake is a ValueError that names the argument (and nothing is trained)."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    with pytest.raises(ValueError, match=message):
        train(config, X, Y, **{"params": params, "num_epochs": 2, **options})


def test_keep_prob_needs_a_hidden_layer_and_state_needs_these_shapes(rng):
    config = cr.ModelConfig([3, 1])
    params, X, Y = random_problem(config, 10, rng)
    with pytest.raises(ValueError, match="no hidden layer"):
        train(config, X, Y, params=params, keep_prob=0.5, num_epochs=1)
    other = cr.ModelConfig([3, 2, 1])
    state = cr.adam().init(cr.init_params(other, 0))
    with pytest.raises(ValueError, match="optimizer_state.v does not have the shapes of these parameters"):
        train(config, X, Y, params=params, optimizer="adam", optimizer_state=state, num_epochs=1)


def test_callbacks_all_run_and_any_true_value_stops(rng):
    """A callback returning np.True_ (from a comparison) stops; every callback sees every epoch."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []
    _, history = train(config, X, Y, params=params, num_epochs=10,
                       callbacks=[lambda r: np.int64(r.epoch) >= 2, lambda r: seen.append(r.epoch)])
    assert seen == [0, 1, 2] and history.stop_reason == "callback"
    _, history = train(config, X, Y, params=params, num_epochs=10, callbacks=lambda r: r.epoch == 1)
    assert len(history) == 2



def test_callbacks_and_validation_run_under_the_callers_floating_point_settings(rng):
    """fit silences overflow while it trains (divergence is tested for), but not around user code:
    callbacks, validation, a decay function, a batch schedule."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    seen = []
    with np.errstate(over="raise", invalid="warn"):
        train(config, X, Y, params=params, num_epochs=2, callbacks=lambda r: seen.append(np.geterr()))
    assert [(e["over"], e["invalid"]) for e in seen] == [("raise", "warn")] * 2
    with np.errstate(over="raise", invalid="warn"):
        train(config, X, Y, params=params, num_epochs=2, callbacks=None,
              decay=lambda lr0, e: seen.append(np.geterr()) or lr0,
              batches=lambda e, m: seen.append(np.geterr()) or [np.arange(m)])
    assert [(e["over"], e["invalid"]) for e in seen[2:]] == [("raise", "warn")] * 4
    regression = cr.ModelConfig([3, 4, 1], "relu", "identity")
    X_val = np.full((3, 2), 1e155)                 # (A[L] − Y)² overflows in the validation cost
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        train(regression, X, Y, params=params, num_epochs=1, validation_data=(X_val, np.zeros((1, 2))))

def test_early_stopping_on_the_training_cost_keeps_the_start_of_the_best_epoch(rng):
    """Without validation data the epoch's cost (full batch) is J of its starting parameters:
    those are the ones to restore. A learning rate too large makes J oscillate upwards."""
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    data = datasets.planar_flower()
    params0 = cr.init_params(config, np.random.RandomState(2), "random", 0.01)
    params, history = train(config, data.X, data.Y, params=params0, learning_rate=8.0, num_epochs=500,
                            patience=5, divergence_factor=None)
    assert history.stop_reason == "early stopping"
    best = int(np.argmin(history.cost))
    assert history.best_epoch == best and len(history) == best + 1 + 5
    AL, caches = cr.forward(params, data.X, config)
    assert cr.compute_cost(AL, data.Y, config, ZL=caches[-1].Z) == pytest.approx(history.cost[best], rel=1e-12)


def test_the_learning_rate_of_each_epoch_is_the_one_used(rng):
    """With decay, epoch e's step is −α_e dW: two epochs of gd written by hand agree."""
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 10, rng)
    trained, _ = train(config, X, Y, params=params, learning_rate=0.5, num_epochs=2, decay="inverse_time")
    for alpha in (0.5, 0.5 / 2):
        AL, caches = cr.forward(params, X, config)
        params = [cr.LayerParams(p.W - alpha * g.dW, p.b - alpha * g.db)
                  for p, g in zip(params, cr.backward(AL, Y, caches, config))]
    for p, q in zip(trained, params):
        np.testing.assert_array_equal(p.W, q.W)
