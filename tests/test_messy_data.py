"""Messy data (issue 17): missing values and text columns, with --impute and --encode onehot
stored in the model file and reused by predict; errors name file lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer

from lossdoctor import cli
from lossdoctor.cli.predict import model_features
from lossdoctor.data import DataError, read_dataset
from lossdoctor.model_files import load

FAST = ["--hidden", "4", "--epochs", "5"]


@pytest.fixture
def messy(tmp_path: Path, rng: np.random.Generator) -> Path:
    n = 40
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 70, n).astype(float),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
            "income": rng.normal(3, 1, n),
        }
    )
    frame.loc[[1, 5], "age"] = np.nan
    frame.loc[[2], "city"] = np.nan
    frame.loc[[7, 9, 11], "income"] = np.nan
    frame["target"] = np.arange(n) % 2
    path = tmp_path / "messy.csv"
    frame.to_csv(path, index=False)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_missing_values_are_refused_with_the_file_line_and_the_flag(
    capsys: pytest.CaptureFixture[str], messy: Path
) -> None:
    # Issue 17: "first at row 1" was a 0-based pandas index; row 1 is line 3 of the file.
    code, out, err = run(capsys, "train", str(messy), "--encode", "onehot", *FAST)
    assert code == 2 and out == ""
    assert "column 'age'" in err and "2 missing" in err and "first at line 3" in err
    assert "--impute" in err


def test_text_columns_are_refused_with_the_flag(
    capsys: pytest.CaptureFixture[str], messy: Path
) -> None:
    code, _, err = run(capsys, "train", str(messy), "--impute", "mean", *FAST)
    assert code == 2 and "column 'city'" in err and "--encode onehot" in err


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_impute_and_encode_are_stored_and_reused_by_predict(
    capsys: pytest.CaptureFixture[str], messy: Path, tmp_path: Path, strategy: str
) -> None:
    out_path = tmp_path / "m.npz"
    argv = ["train", str(messy), "--impute", strategy, "--encode", "onehot", *FAST]
    code, out, err = run(capsys, *argv, "--out", str(out_path))
    assert code == 0, err
    assert "6-4-1" in out  # one-hot: 3 cities and "missing"; age and income
    model = load(out_path)
    prep = model.steps[0][1]
    assert isinstance(prep, ColumnTransformer)
    assert prep.named_transformers_["impute"].strategy == strategy
    X, _ = model_features(model, str(out_path), str(messy))
    assert X.isna().to_numpy().any()  # predict reads the missing values and imputes them
    code, out, _ = run(capsys, "predict", str(out_path), str(messy))
    assert code == 0
    assert len(out.splitlines()) == 41


def test_a_loaded_model_predicts_what_the_trained_one_did(messy: Path, tmp_path: Path) -> None:
    import argparse

    from lossdoctor.cli.models import fit_from_args
    from lossdoctor.cli.options import TRAIN_SETUP
    from lossdoctor.model_files import save

    args = argparse.Namespace(
        **TRAIN_SETUP._asdict(), data=str(messy), target=None, task="auto",
        validation_fraction=None, batch_size=None, dtype="float64", seed=0,
        impute="median", encode="onehot", scale_target=False,
    )  # fmt: skip
    args.hidden, args.epochs = [4], 5
    result = fit_from_args(args)
    path = tmp_path / "m.npz"
    save(result.model, path)
    X = result.train[0]
    unseen = X.copy()
    unseen.loc[unseen.index[0], "city"] = "rome"  # a category never seen: all zeros
    for frame in (X, unseen):
        np.testing.assert_array_equal(
            load(path).predict_proba(frame), result.model.predict_proba(frame)
        )


def test_read_dataset_keeps_missing_and_text_only_when_asked(messy: Path) -> None:
    with pytest.raises(DataError):
        read_dataset(messy)
    data = read_dataset(messy, missing="keep", text="keep")
    assert isinstance(data.X, pd.DataFrame)
    assert data.X["city"].dtype == object and data.X["age"].isna().sum() == 2
    with pytest.raises(DataError, match="'city'"):
        read_dataset(messy, missing="keep")
