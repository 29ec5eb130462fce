"""Finite or loud (issue 17): non-finite weights and outputs are refused, a diverging ``train``
warns with the fix, and ``--scale-target`` makes a regression on raw targets train."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import TransformedTargetRegressor

from lossdoctor import MLPClassifier, MLPRegressor, cli
from lossdoctor.data import builtin_dataset
from lossdoctor.model_files import load


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_predict_on_huge_inputs_names_the_rows(cls: type, rng: np.random.Generator) -> None:
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int)
    model = cls((4,), max_iter=3, n_iter_no_change=None, random_state=0).fit(X, y)
    # Aligned with the first unit's weights, so its pre-activation overflows whatever the draw.
    X[[2, 7]] = np.finfo(np.float64).max * np.sign(model.coefs_[0][:, 0])
    methods = ["predict"] + (["predict_proba"] if cls is MLPClassifier else [])
    for method in methods:
        with pytest.raises(ValueError, match=r"2 of 20 rows \(0-based: 2, 7\)"):
            getattr(model, method)(X)


def test_a_diverged_fit_does_not_predict_nan(rng: np.random.Generator) -> None:
    X = rng.normal(size=(30, 3))
    y = X[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = MLPRegressor((4,), init_scale=1e200, max_iter=3, random_state=0).fit(X, y)
        except ValueError:
            return  # refused at the start: loud enough
    with pytest.raises(ValueError, match=r"not finite|NaN or infinity"):
        model.predict(X)


def test_train_warns_in_one_line_when_regression_diverges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = run(capsys, "train", "builtin:diabetes", "--epochs", "25")
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lossdoctor: warning: training diverged")
    assert "--lr auto" in lines[0] and "--scale-target" in lines[0]


def test_scale_target_trains_saves_and_predicts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_path = tmp_path / "m.npz"
    code, out, err = run(
        capsys, "train", "builtin:diabetes", "--hidden", "16", "--epochs", "30",
        "--scale-target", "--out", str(out_path),
    )  # fmt: skip
    assert code == 0 and err == ""
    r2 = float(out.split("training R^2")[1].split()[0])
    assert r2 > 0.2
    model = load(out_path)
    assert isinstance(model, TransformedTargetRegressor)
    data = builtin_dataset("diabetes")
    pred = model.predict(pd.DataFrame(data.X, columns=data.feature_names))
    assert 50 < np.mean(pred) < 250  # back in the target's units (25 to 346)
    code, out, err = run(capsys, "predict", str(out_path), "builtin:diabetes")
    assert code == 0
    values = np.array([float(v) for v in out.splitlines()[1:]])
    np.testing.assert_array_equal(values, pred)


def test_scale_target_is_refused_for_classification(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "train", "--hidden", "3", "--epochs", "1", "--scale-target")
    assert code == 2 and "--scale-target is for regression" in err


def test_diverging_run_with_early_stopping_ends_its_scores_on_nan() -> None:
    """scikit-learn's test_mlp_diverging_loss: the scores end on NaN as scikit-learn's do, but
    the model warns and keeps its best finite weights, so its predictions are scikit-learn's."""
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    data = builtin_dataset("iris")
    X, y = data.X, data.y.astype(float)
    params = dict(
        hidden_layer_sizes=20, activation="identity", solver="sgd", learning_rate_init=1.0,
        max_iter=20, early_stopping=True, n_iter_no_change=10, random_state=0,
    )  # fmt: skip
    with pytest.warns(RuntimeWarning, match="non-finite"):
        ours = MLPRegressor(**params).fit(X, y)
    assert isinstance(ours.validation_scores_[-1], float) and np.isnan(ours.validation_scores_[-1])
    assert np.isfinite(ours.validation_scores_[:-1]).all()
    assert len(ours.validation_scores_) == ours.n_iter_ + 1 == len(ours.loss_curve_) + 1
    assert np.isfinite(ours.loss_curve_).all()
    assert ours.best_validation_score_ == max(ours.validation_scores_[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkMLPRegressor(**params).fit(X, y)
    assert np.isnan(theirs.validation_scores_[-1])
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
