"""The command line: one-line errors with exit status 2, train, predict, gradcheck."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from lossdoctor import MLPClassifier, MLPRegressor, __version__, cli
from lossdoctor.cli.models import estimator_from_args, fit_from_args, model_from_args
from lossdoctor.cli.options import TRAIN_SETUP
from lossdoctor.model_files import load

# Small and short: the tests are about the command line, not about training.
FAST = ["--hidden", "6", "--epochs", "3"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop what fixtures printed (the seed)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lossdoctor: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def table(rng: np.random.Generator) -> pd.DataFrame:
    """60 samples, 4 features, a text label and a numeric target for regression."""
    X = rng.normal(size=(60, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = np.where(np.arange(60) % 3 == 0, "yes", "no")
    frame["amount"] = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=60)
    return frame


@pytest.fixture
def csv_path(table: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    return path


# --- errors: one line, exit status 2, never a traceback ------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_missing_file(capsys, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.csv")
    assert_one_line_error(*run(capsys, "train", missing), "file not found", missing)


def test_unknown_target_column(capsys, csv_path: Path) -> None:
    result = run(capsys, "train", str(csv_path), "--target", "price", *FAST)
    assert_one_line_error(*result, "unknown target column 'price'", " label ")


def test_non_numeric_value(capsys, tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", "a,b,target\n1,2,0\n3,abc,1\n5,6,0\n")
    assert_one_line_error(*run(capsys, "train", path, *FAST), "'b'", "not numeric", "'abc'")


def test_non_finite_value(capsys, tmp_path: Path) -> None:
    path = _write(tmp_path, "inf.csv", "a,b,target\n1,2,0\n3,inf,1\n5,6,0\n")
    assert_one_line_error(*run(capsys, "train", path, *FAST), "'b'", "non-finite")
    path = _write(tmp_path, "nan.csv", "a,b,target\n1,2,0\n3,,1\n5,6,0\n")
    assert_one_line_error(*run(capsys, "train", path, *FAST), "'b'", "missing or non-finite")


@pytest.mark.parametrize("command", ["train", "gradcheck", "lr-find", "sweep", "diagnose"])
@pytest.mark.parametrize("value", ["-5", "1.5", "x"])
def test_bad_seed_is_named(capsys, command: str, value: str) -> None:
    # A negative seed reached NumPy, whose message named neither the option nor the value given.
    result = run(capsys, command, "--seed", value)
    assert_one_line_error(*result, "--seed", "non-negative integer", repr(value))


def test_one_class_only(capsys, tmp_path: Path) -> None:
    path = _write(tmp_path, "one.csv", "a,b,target\n1,2,1\n3,4,1\n5,6,1\n")
    result = run(capsys, "train", path, "--task", "classification", *FAST)
    assert_one_line_error(*result, "only one class", "1")


def test_mismatched_lengths(capsys, tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    np.savez(path, X=np.ones((10, 2)), y=np.arange(9) % 2)
    assert_one_line_error(*run(capsys, "train", str(path), *FAST), "different lengths", "10", "9")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--lr", "0", "argument --lr: must be a positive number, got '0'"),
        ("--lr", "-0.1", "argument --lr: must be a positive number, got '-0.1'"),
        ("--lr", "nan", "argument --lr: must be a positive number, got 'nan'"),
        ("--lr", "fast", "argument --lr: must be a positive number, got 'fast'"),
        ("--hidden", "0", "argument --hidden: must be a positive integer, got '0'"),
        ("--hidden", "2.5", "argument --hidden: must be a positive integer, got '2.5'"),
        ("--epochs", "-3", "argument --epochs: must be a positive integer, got '-3'"),
        ("--batch-size", "0", "argument --batch-size: must be a positive integer, got '0'"),
        ("--init-scale", "0", "argument --init-scale: must be a positive number, got '0'"),
        ("--alpha", "-1", "argument --alpha: must be a non-negative number, got '-1'"),
        ("--validation-fraction", "1", "must be a number between 0 and 1, got '1'"),
        ("--activation", "swish", "argument --activation: invalid choice: 'swish'"),
        ("--optimizer", "rmsprop", "argument --optimizer: invalid choice: 'rmsprop'"),
    ],
)
def test_bad_numbers_and_choices(capsys, option: str, value: str, fragment: str) -> None:
    assert_one_line_error(*run(capsys, "train", option, value), fragment)


def test_unknown_option_and_subcommand(capsys) -> None:
    assert_one_line_error(*run(capsys, "train", "--learning-rate", "0.1"), "--learning-rate")
    assert_one_line_error(*run(capsys, "fly"), "invalid choice: 'fly'", "'train'")
    assert_one_line_error(*run(capsys), "required", "COMMAND")


def test_corrupt_model_file(capsys, tmp_path: Path, csv_path: Path) -> None:
    model = tmp_path / "model.npz"
    model.write_bytes(b"PK\x03\x04 this is not a model")
    assert_one_line_error(*run(capsys, "predict", str(model), str(csv_path)), str(model))
    model.write_bytes(b"\x80\x04 pickled")
    result = run(capsys, "predict", str(model), str(csv_path))
    assert_one_line_error(*result, "is a pickle", str(model))


def test_unwritable_outputs_fail_before_training(capsys, tmp_path: Path) -> None:
    result = run(capsys, "train", *FAST, "--out", str(tmp_path / "no" / "m.npz"))
    assert_one_line_error(*result, "--out", "does not exist")
    result = run(capsys, "train", *FAST, "--plot", str(tmp_path / "loss.xyz"))
    assert_one_line_error(*result, "--plot", "unknown image format 'xyz'", "png")
    assert list(tmp_path.iterdir()) == []


def test_wrong_task_for_target(capsys, table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    result = run(capsys, "train", str(path), "--target", "label", "--task", "regression")
    assert_one_line_error(*result, "'label'", "not numeric", "regression")
    table.drop(columns=["label"]).to_csv(path, index=False)
    result = run(capsys, "train", str(path), "--target", "amount", "--task", "classification")
    assert_one_line_error(*result, "'amount'", "fractional values", "--task regression")


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    exe = shutil.which("lossdoctor")
    command = [exe] if exe else [sys.executable, "-m", "lossdoctor"]
    missing = str(tmp_path / "missing.csv")
    done = subprocess.run(
        [*command, "train", missing], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"lossdoctor: error: file not found: {missing}\n"


def test_version_and_help(capsys) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"lossdoctor {__version__}\n")
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--batch-size" in out and "--validation-fraction" in out
    for command in ("train", "predict", "gradcheck", "lr-find", "sweep", "diagnose"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "object at 0x" not in out, command  # no sentinel as a default
    code, out, _ = run(capsys, "diagnose", "--help")
    assert "without DATA: 1" in " ".join(out.split())


# --- train ---------------------------------------------------------------------------------


def test_train_on_builtin_data_writes_model_and_plot(capsys, tmp_path: Path) -> None:
    model_path, plot_path = tmp_path / "model.npz", tmp_path / "loss.png"
    code, out, err = run(capsys, "train", *FAST, "--out", str(model_path), "--plot", str(plot_path))
    assert (code, err) == (0, "")
    assert "builtin:breast_cancer: 569 samples x 30 features" in out
    assert "epochs              3" in out and "final loss" in out and "training accuracy" in out
    assert f"model written to {model_path}" in out and f"loss curve written to {plot_path}" in out
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = load(model_path)
    assert isinstance(model, Pipeline) and isinstance(model[-1], MLPClassifier)
    assert model[-1].n_iter_ == 3 and model[-1].network_.layer_sizes == (30, 6, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "model.npz"]


def test_train_reports_validation_score(capsys) -> None:
    code, out, _ = run(capsys, "train", *FAST, "--validation-fraction", "0.25")
    assert code == 0
    assert "validation accuracy" in out and "(143 held-out samples)" in out


def test_train_on_csv_with_target(capsys, csv_path: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "m.npz"
    argv = ["train", str(csv_path), "--target", "label", *FAST, "--out", str(out_path)]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "classification, 2 classes" in out and "60 samples x 5 features" in out
    model = load(out_path)
    assert model.classes_.tolist() == ["no", "yes"]
    # Every column but the target is a feature, the other numeric column included.
    assert list(model.feature_names_in_) == ["a", "b", "c", "d", "amount"]


def test_estimator_from_args_maps_the_options() -> None:
    parse = cli.build_parser().parse_args
    est = estimator_from_args(parse(["train"]), "classification")
    assert isinstance(est, MLPClassifier)
    params = est.get_params()
    assert params["hidden_layer_sizes"] == (128, 64) and params["activation"] == "tanh"
    assert (params["solver"], params["momentum"], params["learning_rate_init"]) == ("gd", 0, 0.1)
    assert params["n_iter_no_change"] is None and params["max_iter"] == TRAIN_SETUP.epochs
    args = parse(["train", "--optimizer", "momentum", "--batch-size", "32", "--lr", "0.02"])
    params = estimator_from_args(args, "regression").get_params()
    assert (params["solver"], params["momentum"], params["nesterovs_momentum"]) == (
        "sgd",
        0.9,
        False,
    )
    assert (params["batch_size"], params["learning_rate_init"]) == (32, 0.02)
    args = parse(["train", "--optimizer", "adam", "--hidden", "--dtype", "float32"])
    est = estimator_from_args(args, "regression")
    assert isinstance(est, MLPRegressor)
    assert (est.solver, est.learning_rate_init, est.hidden_layer_sizes) == ("adam", 0.001, ())
    assert est.dtype == "float32"
    assert isinstance(model_from_args(args, "regression"), Pipeline)
    args = parse(["train", "--scale", "none"])
    assert isinstance(model_from_args(args, "regression"), MLPRegressor)


def test_diverging_run_warns_in_one_line(capsys) -> None:
    # A huge step makes the loss overflow; the run ends normally and says so in one line.
    code, out, err = run(capsys, "train", "--hidden", "4", "--epochs", "3", "--lr", "1e308")
    assert code == 0 and "final loss" in out
    for line in err.splitlines():
        assert line.startswith("lossdoctor: warning: ")


def test_diagnose_with_weights_that_overflow_ends_normally(capsys) -> None:
    # lr 1e300 drives a weight norm to inf; a depth ratio then divided by zero (a traceback).
    code, out, err = run(capsys, "diagnose", "builtin:iris", "--lr", "1e300", "--epochs", "5")
    assert code == 1 and "Traceback" not in err  # 1: error findings remain
    assert "lr-too-high" in out


def test_diverged_regression_keeps_finite_weights_and_a_short_summary(capsys) -> None:
    # Unscaled diabetes with a linear network at lr 1 diverges in epoch 4 (scikit-learn's default
    # draw; epoch 5 with the earlier Glorot draw and zero biases). The weights of epoch 3
    # are kept (it ended in "Input contains NaN"), and their R^2 of about -1e47 prints as such.
    argv = ["train", "builtin:diabetes", "--activation", "identity", "--lr", "1", "--scale"]
    code, out, err = run(capsys, *argv, "none", "--epochs", "50")
    assert code == 0, err
    assert "became non-finite in epoch 4" in err
    r2 = next(line for line in out.splitlines() if "training R^2" in line)
    assert float(r2.split()[-1]) < -1e40 and len(r2) < 60


# --- predict -------------------------------------------------------------------------------


def _read_predictions(text: str) -> dict[str, list[str]]:
    rows = list(csv.reader(StringIO(text)))
    return {name: [row[j] for row in rows[1:]] for j, name in enumerate(rows[0])}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", ["standard", "none"])
def test_predict_equals_in_memory_classifier(
    capsys, table: pd.DataFrame, csv_path: Path, tmp_path: Path, dtype: str, scale: str
) -> None:
    argv = ["train", str(csv_path), "--target", "label", *FAST, "--scale", scale]
    argv += ["--dtype", dtype, "--seed", "3"]
    model_path = tmp_path / "m.npz"
    assert run(capsys, *argv, "--out", str(model_path))[0] == 0
    in_memory = fit_from_args(cli.build_parser().parse_args(argv)).model

    # New data: other rows, the columns shuffled, the target and an extra column present.
    new = table.sample(frac=1.0, random_state=1).reset_index(drop=True)
    new["comment"] = "x"
    new = new[["label", "d", "comment", "amount", "b", "a", "c"]]
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)

    code, out, err = run(capsys, "predict", str(model_path), str(new_path))
    assert (code, err) == (0, "")
    got = _read_predictions(out)
    assert list(got) == ["prediction", "proba_no", "proba_yes"]
    features = pd.read_csv(new_path)[["a", "b", "c", "d", "amount"]]
    assert got["prediction"] == in_memory.predict(features).tolist()
    proba = in_memory.predict_proba(features)
    for j, label in enumerate(["no", "yes"]):
        assert np.array_equal(np.array(got[f"proba_{label}"], dtype=float), proba[:, j])


def test_predict_regression_to_file(capsys, table: pd.DataFrame, tmp_path: Path) -> None:
    csv_path = tmp_path / "data.csv"
    table.drop(columns=["label"]).to_csv(csv_path, index=False)  # text is no feature
    argv = ["train", str(csv_path), "--target", "amount", *FAST, "--optimizer", "adam"]
    model_path, out_path = tmp_path / "m.npz", tmp_path / "pred.csv"
    code, out, _ = run(capsys, *argv, "--out", str(model_path))
    assert code == 0 and "regression" in out and "training R^2" in out
    in_memory = fit_from_args(cli.build_parser().parse_args(argv)).model

    code, out, _ = run(capsys, "predict", str(model_path), str(csv_path), "--out", str(out_path))
    assert code == 0 and f"60 predictions written to {out_path}" in out
    got = _read_predictions(out_path.read_text())
    assert list(got) == ["prediction"]
    expected = in_memory.predict(pd.read_csv(csv_path)[["a", "b", "c", "d"]])
    assert np.array_equal(np.array(got["prediction"], dtype=float), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "m.npz", "pred.csv"]


def test_predict_needs_the_model_columns(capsys, csv_path: Path, tmp_path: Path) -> None:
    model_path = tmp_path / "m.npz"
    argv = ["train", str(csv_path), "--target", "label", *FAST, "--out", str(model_path)]
    assert run(capsys, *argv)[0] == 0
    pd.read_csv(csv_path).drop(columns=["c"]).to_csv(tmp_path / "less.csv", index=False)
    result = run(capsys, "predict", str(model_path), str(tmp_path / "less.csv"))
    assert_one_line_error(*result, "feature columns not found", "'c'")


def test_predict_on_rows_not_labelled_yet(capsys, table: pd.DataFrame, tmp_path: Path) -> None:
    # The default target column is there but empty: predict ignores it instead of refusing.
    frame = table.drop(columns=["amount"]).rename(columns={"label": "target"})
    frame.to_csv(tmp_path / "train.csv", index=False)
    model_path = tmp_path / "m.npz"
    argv = ["train", str(tmp_path / "train.csv"), *FAST, "--out", str(model_path)]
    assert run(capsys, *argv)[0] == 0
    frame.assign(target=np.nan).to_csv(tmp_path / "new.csv", index=False)
    code, out, err = run(capsys, "predict", str(model_path), str(tmp_path / "new.csv"))
    assert (code, err) == (0, "")
    assert len(_read_predictions(out)["prediction"]) == len(frame)


def test_predict_on_builtin_data(capsys, tmp_path: Path) -> None:
    model_path = tmp_path / "m.npz"
    argv = ["train", "builtin:iris", *FAST, "--out", str(model_path)]
    assert run(capsys, *argv)[0] == 0
    code, out, _ = run(capsys, "predict", str(model_path), "builtin:iris")
    assert code == 0
    got = _read_predictions(out)
    assert list(got) == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert len(got["prediction"]) == 150 and set(got["prediction"]) <= {"0", "1", "2"}


# --- gradcheck -----------------------------------------------------------------------------


def test_gradcheck_passes(capsys) -> None:
    code, out, err = run(capsys, "gradcheck", "--hidden", "8", "4", "--samples", "32")
    assert (code, err) == (0, "")
    assert "Gradient check OK" in out and "W1" in out and "b3" in out


@pytest.mark.parametrize(
    "extra",
    [
        ["--task", "multiclass", "--activation", "sigmoid", "--exhaustive", "--alpha", "0.1"],
        ["--task", "regression", "--dtype", "float32", "--json"],
    ],
)
def test_gradcheck_other_heads(capsys, extra: list[str]) -> None:
    code, out, _ = run(capsys, "gradcheck", "--hidden", "3", "--samples", "16", *extra)
    assert code == 0
    assert ('"ok": true' in out) if "--json" in extra else ("exhaustive mode" in out)
