"""The scikit-learn estimators: scikit-learn's own test suite, and parity with its MLP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.neural_network as sknn
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.utils.estimator_checks import check_estimator

from lossdoctor import MLPClassifier, MLPRegressor


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("params", [{}, {"max_iter": 50}], ids=["defaults", "max_iter=50"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_check_estimator(Estimator, params) -> None:
    # max_iter=50: scikit-learn's own MLPs pass with it too (check_regressors_train once failed).
    results = check_estimator(Estimator(**params), on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]
    # The only skips are scikit-learn's own (no array-API environment, no decision_function).
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {
        "check_array_api_input",
        "check_classifiers_multilabel_output_format_decision_function",
    }


def _sklearn_with_our_weights(ours, X, y, epochs):
    sk = sknn.MLPClassifier(
        ours.hidden_layer_sizes,
        activation="tanh",
        solver="sgd",
        alpha=0.0,
        momentum=0.0,
        nesterovs_momentum=False,
        learning_rate_init=ours.learning_rate_init,
        batch_size=X.shape[0],
        shuffle=False,
        max_iter=1,
        warm_start=True,
        tol=0.0,
        n_iter_no_change=10**6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        sk.coefs_ = [W.copy() for W in ours.coefs_]
        sk.intercepts_ = [b.copy() for b in ours.intercepts_]
        sk.set_params(max_iter=epochs)
        sk.fit(X, y)
    return sk


def test_same_training_as_sklearn(cancer, seed: int) -> None:
    # Same initial weights, full batch, plain gradient descent: the two implementations compute
    # the same thing, so the weights agree to rounding after 20 steps.
    X, y = cancer
    kw = dict(
        activation="tanh",
        solver="gd",
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.1,
        n_iter_no_change=None,
        random_state=seed,
    )
    init = MLPClassifier((16, 8), max_iter=1, **kw).fit(X, y)
    # Undo the one step to recover the initial weights: fit again with init only.
    from lossdoctor.network import init_params

    params = init_params(init.network_, np.random.RandomState(seed))
    ours = MLPClassifier((16, 8), max_iter=20, **kw).fit(X, y)
    ref = MLPClassifier((16, 8), max_iter=1, **kw)
    ref.hidden_layer_sizes = (16, 8)
    ref.coefs_ = [params[f"W{k}"] for k in (1, 2, 3)]
    ref.intercepts_ = [params[f"b{k}"] for k in (1, 2, 3)]
    sk = _sklearn_with_our_weights(ref, X, y, epochs=20)
    for a, b in zip(ours.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-10)


def test_classic_setup_reaches_97_percent(cancer, seed: int) -> None:
    X, y = cancer
    clf = MLPClassifier(
        (128, 64),
        activation="tanh",
        solver="gd",
        momentum=0.0,
        learning_rate_init=0.1,
        max_iter=300,
        n_iter_no_change=None,
        random_state=seed,
    ).fit(X, y)
    assert clf.score(X, y) >= 0.97
    assert clf.n_iter_ == 300 and len(clf.loss_curve_) == 300
    assert clf.out_activation_ == "logistic" and clf.n_layers_ == 4
    assert [W.shape for W in clf.coefs_] == [(30, 128), (128, 64), (64, 1)]


def test_string_labels_multiclass_and_proba(rng: np.random.Generator) -> None:
    X = rng.normal(size=(90, 4))
    y = np.array(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]
    clf = MLPClassifier(
        (10,),
        solver="adam",
        learning_rate_init=0.05,
        max_iter=300,
        n_iter_no_change=None,
        random_state=0,
    ).fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_log_proba_is_the_log_of_predict_proba(rng, n_classes: int) -> None:
    """scikit-learn's ``log(predict_proba)``, but finite where a probability underflows to 0."""
    X = rng.normal(size=(60, 3))
    y = np.argmax(X[:, :n_classes], axis=1) if n_classes > 2 else (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((6,), solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    np.testing.assert_array_equal(log_proba[proba > 0], np.log(proba[proba > 0]))
    np.testing.assert_array_equal(log_proba.argmax(axis=1), proba.argmax(axis=1))
    # Inputs so large that some probabilities underflow to exactly 0: log would give -inf.
    big = X * 1e6
    proba = clf.predict_proba(big)
    assert (proba == 0).any()
    log_proba = clf.predict_log_proba(big)  # no divide-by-zero warning (warnings are errors)
    assert np.isfinite(log_proba).all()
    assert (log_proba[proba == 0] < -700).all()
    np.testing.assert_array_equal(log_proba[proba > 0], np.log(proba[proba > 0]))


def test_float32_end_to_end(cancer) -> None:
    X, y = cancer
    clf = MLPClassifier(
        (8,), dtype="float32", max_iter=5, n_iter_no_change=None, random_state=0
    ).fit(X, y)
    assert all(W.dtype == np.float32 for W in clf.coefs_)
    assert clf.predict_proba(X).dtype == np.float32


def test_regressor_1d_and_2d(rng: np.random.Generator) -> None:
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    reg = MLPRegressor(
        (),
        solver="gd",
        momentum=0.0,
        learning_rate_init=0.3,
        max_iter=200,
        n_iter_no_change=None,
        alpha=0.0,
    ).fit(X, y)
    assert reg.predict(X).shape == (120,)
    assert reg.score(X, y) > 0.999
    Y2 = np.stack([y, -y], axis=1)
    reg2 = MLPRegressor((4,), max_iter=5, n_iter_no_change=None, random_state=0).fit(X, Y2)
    assert reg2.predict(X).shape == (120, 2)


def test_warm_start_continues(cancer) -> None:
    X, y = cancer
    kw = dict(
        solver="gd", momentum=0.0, learning_rate_init=0.1, n_iter_no_change=None, random_state=0
    )
    once = MLPClassifier((8,), max_iter=10, **kw).fit(X, y)
    twice = MLPClassifier((8,), max_iter=5, warm_start=True, **kw).fit(X, y).fit(X, y)
    np.testing.assert_allclose(twice.coefs_[0], once.coefs_[0], rtol=1e-12)
    # As in scikit-learn: n_iter_ counts the last fit's epochs, loss_curve_ every fit's.
    assert twice.n_iter_ == 5 and twice.history_.epoch == list(range(1, 11))
    assert len(twice.loss_curve_) == 10


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "change",
    [
        {"solver": "adam", "learning_rate_init": 0.01},
        {"momentum": 0.9},
        {"dtype": "float32"},
        {"early_stopping": True, "n_iter_no_change": 2, "max_iter": 30},
    ],
)
def test_warm_start_after_set_params(cancer, change: dict) -> None:
    # Each of these used to crash (another optimiser's state), be ignored (dtype) or leave
    # best_validation_score_ NaN (early stopping switched on).
    X, y = cancer
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    kw = dict(solver="gd", momentum=0.0, learning_rate_init=0.5, max_iter=5, n_iter_no_change=None)
    clf = MLPClassifier((8,), warm_start=True, random_state=0, **kw).fit(X, y)
    clf.set_params(**change).fit(X, y)
    dtype = np.dtype(change.get("dtype", "float64"))
    assert all(p.dtype == dtype for p in clf.params_.values())
    assert clf.predict_proba(X).dtype == dtype
    assert clf.score(X, y) > 0.9
    if change.get("early_stopping"):
        assert clf.best_validation_score_ == np.nanmax(clf.validation_scores_) > 0.5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_attributes(cancer) -> None:
    X, y = cancer
    clf = MLPClassifier((8,), early_stopping=True, max_iter=30, random_state=0).fit(X, y)
    assert clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # A column-vector y is the same target: the same stratified split, the same run.
    with pytest.warns(DataConversionWarning, match="column-vector"):
        column = MLPClassifier((8,), early_stopping=True, max_iter=30, random_state=0)
        column.fit(X, y[:, None])
    assert column.validation_scores_ == clf.validation_scores_
    assert np.array_equal(column.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("hidden_layer_sizes", (10, 0), "hidden_layer_sizes.*0"),
        ("learning_rate_init", -1.0, "learning_rate_init.*-1.0"),
        ("activation", "swish", "swish"),
        ("solver", "newton", "newton"),
        ("init", "zeros", "zeros"),
        ("dtype", "float16", "float16"),
        ("max_iter", 0, "max_iter"),
        ("momentum", 1.5, "momentum"),
    ],
)
def test_bad_parameters_are_named(param: str, value, match: str, cancer) -> None:
    X, y = cancer
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**{param: value}).fit(X, y)


@pytest.mark.parametrize(
    "params", [{"early_stopping": True, "validation_fraction": 0.2}, {"solver": "lbfgs"}]
)
def test_one_class_like_sklearn(params: dict, tmp_path) -> None:
    """A single-class target trains as scikit-learn's does (one sigmoid towards 0), predicts
    that class everywhere, and gives scikit-learn's probabilities (two columns)."""
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from lossdoctor.model_files import load, save

    X = np.random.RandomState(0).randn(20, 2)
    y = np.array(["only"] * 20)
    ours = MLPClassifier((5,), max_iter=30, random_state=0, **params)
    theirs = SkMLPClassifier((5,), max_iter=30, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    assert list(ours.classes_) == ["only"]
    assert (ours.predict(X) == "only").all() and ours.score(X, y) == 1.0
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
    assert ours.predict_proba(X).shape == (20, 2)
    save(ours, tmp_path / "one.npz")
    again = load(tmp_path / "one.npz")
    assert again.predict(X).tolist() == ours.predict(X).tolist()


def test_convergence_warning_like_sklearn(cancer) -> None:
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y)
