"""The scikit-learn estimators: scikit-learn's own checks, pipelines and searches, and each
estimator against ``chainrule.fit`` on the same data (the one flip of the layout)."""

import dataclasses
import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule as cr
from chainrule.checkpoint import load
from chainrule.sklearn import DNNClassifier, DNNRegressor

QUICK = {"hidden_layers": (16,), "optimizer": "adam", "learning_rate": 0.01, "num_epochs": 200}


@parametrize_with_checks([DNNClassifier(**QUICK), DNNRegressor(**QUICK)])
def test_scikit_learn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:300], y[:300]


# --- one vocabulary -------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [DNNClassifier, DNNRegressor])
def test_the_parameters_are_the_configs_fields(estimator):
    """Every TrainConfig field is a parameter with its default; so are the network's fields."""
    parameters = inspect.signature(estimator).parameters
    for field in dataclasses.fields(cr.TrainConfig):
        assert parameters[field.name].default == field.default
    assert {"hidden_layers", "hidden_activation", "warm_start"} <= set(parameters)
    assert parameters["hidden_activation"].default == "relu"
    assert set(estimator().get_params()) == set(parameters)


def test_bad_parameters_are_named_at_fit(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        DNNClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(TypeError, match="learning_rat"):
        DNNClassifier(learning_rat=0.1)


# --- the estimator is chainrule.fit ----------------------------------------------------------------


def test_the_classifier_is_fit_on_the_columns(cancer):
    X, y = cancer
    model = DNNClassifier(hidden_layers=(8, 4), hidden_activation="tanh", optimizer="momentum", learning_rate=0.05,
                          num_epochs=40, mini_batch_size=64, lambd=0.1, seed=3).fit(X, y)
    config = cr.ModelConfig([30, 8, 4, 1], "tanh", "sigmoid")
    alone = cr.fit(config, X.T, y[None, :].astype(float), model.train_)
    for mine, theirs in zip(model.params_, alone.params):
        np.testing.assert_array_equal(mine.W, theirs.W)
    np.testing.assert_array_equal(model.loss_curve_, alone.history.cost)
    p = cr.predict_proba(alone.params, X.T, config)[0]
    np.testing.assert_array_equal(model.predict_proba(X), np.column_stack([1 - p, p]))
    np.testing.assert_array_equal(model.predict(X), (p > 0.5).astype(int))
    assert model.score(X, y) == cr.accuracy(alone.params, X.T, y[None, :], config)
    assert model.n_iter_ == 40 and model.n_features_in_ == 30


def test_string_labels_and_softmax(cancer):
    X, y = cancer
    names = np.array(["benign", "malignant", "unsure"])
    labels = names[np.where(X[:, 0] > 1, 2, y)]
    model = DNNClassifier(hidden_layers=(6,), num_epochs=30, learning_rate=0.1).fit(X, labels)
    assert list(model.classes_) == ["benign", "malignant", "unsure"] and model.config_.output == "softmax"
    A = cr.predict_proba(model.params_, X.T, model.config_)
    np.testing.assert_array_equal(model.predict_proba(X), A.T)
    np.testing.assert_array_equal(model.predict(X), names[np.argmax(A, axis=0)])


def test_multi_output_regression():
    X, y = make_regression(120, 5, n_targets=2, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    model = DNNRegressor(hidden_layers=(10,), hidden_activation="tanh", num_epochs=50, learning_rate=0.05).fit(X, y)
    config = cr.ModelConfig([5, 10, 2], "tanh", "identity")
    alone = cr.fit(config, X.T, y.T, model.train_)
    np.testing.assert_array_equal(model.predict(X), cr.predict(alone.params, X.T, config).T)
    assert model.predict(X).shape == (120, 2)
    one = DNNRegressor(hidden_layers=(10,), num_epochs=5).fit(X, y[:, 0])
    assert one.predict(X).shape == (120,)


def test_partial_fit_and_warm_start_continue_the_run(cancer):
    X, y = cancer
    options = dict(hidden_layers=(5,), optimizer="adam", learning_rate=0.01, mini_batch_size=50, seed=7)
    whole = DNNClassifier(num_epochs=6, **options).fit(X, y)
    steps = DNNClassifier(**options)
    for _ in range(6):
        steps.partial_fit(X, y, classes=[0, 1])
    warm = DNNClassifier(num_epochs=2, warm_start=True, **options)
    for _ in range(3):
        warm.fit(X, y)
    for model in (steps, warm):
        np.testing.assert_array_equal(model.loss_curve_, whole.loss_curve_)
        for mine, theirs in zip(model.params_, whole.params_):
            np.testing.assert_array_equal(mine.W, theirs.W)
        assert model.n_iter_ == 6 and model.state_.epoch == 6
    with pytest.raises(ValueError, match="classes must be given to the first partial_fit"):
        DNNClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        DNNClassifier().partial_fit(X, y, classes=[0])


def test_pickle_clone_and_the_model_file(cancer, tmp_path):
    X, y = cancer
    model = DNNClassifier(hidden_layers=(4,), num_epochs=10, learning_rate=0.1).fit(X, np.where(y, "yes", "no"))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "params_")
    saved = load(model.save(tmp_path / "model.npz"))
    assert saved.classes == ("no", "yes") and saved.config == model.config_
    np.testing.assert_array_equal(cr.predict_proba(saved.params, X.T, saved.config)[0], model.predict_proba(X)[:, 1])
    assert len(saved.history) == 10 and saved.state.epoch == 10


# --- pipelines and searches -----------------------------------------------------------------------


def test_pipeline_grid_search_with_two_jobs_and_cross_validation():
    X, y = load_breast_cancer(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), DNNClassifier(optimizer="adam", num_epochs=30, mini_batch_size=64))
    grid = {"dnnclassifier__hidden_layers": [(4,), (16, 8)], "dnnclassifier__learning_rate": [0.001, 0.01],
            "dnnclassifier__lambd": [0.0, 1.0]}
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert search.best_score_ > 0.9                                   # breast cancer is easy once scaled
    best = search.best_estimator_[-1]
    assert best.n_features_in_ == 30 and isinstance(best.config_, cr.ModelConfig)
    scores = cross_val_score(make_pipeline(StandardScaler(), DNNClassifier(num_epochs=20, optimizer="adam",
                                                                           learning_rate=0.01)), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_feature_names_from_a_data_frame(cancer):
    pd = pytest.importorskip("pandas")
    X, y = cancer
    frame = pd.DataFrame(X[:, :3], columns=["radius", "texture", "perimeter"])
    model = DNNClassifier(hidden_layers=(3,), num_epochs=5).fit(frame, y)
    assert list(model.feature_names_in_) == ["radius", "texture", "perimeter"]


def test_grid_search_on_a_dask_cluster_through_joblib(cancer, dask_client):
    """GridSearchCV under joblib's Dask backend sends the fits to a local Dask cluster's workers."""
    import joblib
    from dask.distributed import get_task_stream

    X, y = cancer
    grid = {"hidden_layers": [(4,), (8,)], "lambd": [0.0, 1.0]}
    estimator = DNNClassifier(optimizer="adam", learning_rate=0.01, num_epochs=10, mini_batch_size=64)
    here = GridSearchCV(estimator, grid, cv=2).fit(X, y)
    with joblib.parallel_config(backend="dask"), get_task_stream(dask_client) as tasks:
        remote = GridSearchCV(estimator, grid, cv=2, n_jobs=2).fit(X, y)
    assert len(tasks.data) >= 8                                       # the 8 fits ran on the workers
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])


def test_float32_data_trains_in_float32_and_a_continued_run_keeps_its_dtype(cancer):
    X, y = cancer
    model = DNNClassifier(hidden_layers=(4,), num_epochs=3).fit(X.astype(np.float32), y)
    assert model.params_[0].W.dtype == np.float32 and model.predict_proba(X).dtype == np.float32
    alone = cr.fit(model.config_, X.astype(np.float32).T, y[None, :].astype(np.float32), model.train_)
    np.testing.assert_array_equal(model.params_[0].W, alone.params[0].W)
    model.partial_fit(X, y)                                           # float64 data, a float32 run: stays float32
    assert model.params_[0].W.dtype == np.float32 and model.n_iter_ == 4
    assert DNNClassifier(hidden_layers=(4,), num_epochs=3).fit(X, y).params_[0].W.dtype == np.float64
