"""Model files: bit-identical round trips, refusal of anything not ours, atomic writes."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from lossdoctor import MLPClassifier, MLPRegressor, model_files
from lossdoctor.atomic import atomic_write
from lossdoctor.model_files import FORMAT_VERSION, ModelFileError, load, save

# Few epochs and narrow layers: the tests are about the file, not about training.
FAST = dict(hidden_layer_sizes=(6, 4), max_iter=4, n_iter_no_change=None, activation="tanh")


def _data(rng: np.random.Generator, n: int = 40, d: int = 5) -> np.ndarray:
    return rng.normal(size=(n, d))


def _assert_same_predictions(a, b, X) -> None:
    """Equal bit for bit, with the same dtype and shape."""
    for method in ("predict", "predict_proba", "predict_log_proba"):
        if hasattr(a, method):
            pa, pb = getattr(a, method)(X), getattr(b, method)(X)
            assert pa.dtype == pb.dtype and pa.shape == pb.shape, method
            if pa.dtype == object:  # bytes of an object array are pointers
                assert pa.tolist() == pb.tolist(), method
            else:
                assert pa.tobytes() == pb.tobytes(), method
    assert not hasattr(a, "predict_proba") or hasattr(b, "predict_proba")


def _fitted_models(rng: np.random.Generator) -> dict[str, tuple[object, object, object]]:
    X = _data(rng)
    seed = int(rng.integers(2**31))
    y_bin = np.arange(40) % 2
    y_multi = np.arange(40) % 3
    y_str = np.array(["cat", "dog", "emu", "gnu"])[np.arange(40) % 4]
    y_reg = X @ rng.normal(size=5)
    y_reg2 = np.column_stack([y_reg, -2 * y_reg + 1])
    frame = pd.DataFrame(X * 10 + 3, columns=[f"f{j}" for j in range(5)])
    return {
        "binary": (MLPClassifier(**FAST, random_state=seed), X, y_bin),
        "multiclass-adam": (MLPClassifier(**FAST, solver="adam", random_state=seed), X, y_multi),
        "string-labels": (MLPClassifier(**FAST, solver="sgd", random_state=seed), X, y_str),
        "object-labels": (MLPClassifier(**FAST, random_state=seed), X, y_str.astype(object)),
        "multilabel": (
            MLPClassifier(**FAST, random_state=seed),
            X,
            np.column_stack([y_bin, 1 - y_bin, y_multi == 0]).astype(int),
        ),
        "early-stopping": (
            MLPClassifier(**{**FAST, "max_iter": 6}, early_stopping=True, random_state=seed),
            X,
            y_bin,
        ),
        "regressor-1d": (MLPRegressor(**FAST, random_state=seed), X, y_reg),
        "regressor-2d": (MLPRegressor(**FAST, solver="gd", random_state=seed), X, y_reg2),
        "float32": (
            MLPClassifier(**FAST, dtype="float32", init="he_normal", random_state=seed),
            X,
            y_multi,
        ),
        "no-hidden-layer": (
            MLPRegressor(**{**FAST, "hidden_layer_sizes": ()}, random_state=seed),
            X,
            y_reg,
        ),
        "pipeline-dataframe": (
            Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("mlp", MLPClassifier(**FAST, dtype="float32", random_state=seed)),
                ]
            ),
            frame,
            y_str,
        ),
        "pipeline-regressor": (
            Pipeline([("scale", StandardScaler(with_mean=False)), ("mlp", MLPRegressor(**FAST))]),
            X,
            y_reg,
        ),
    }


CASES = list(_fitted_models(np.random.default_rng(0)))


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_bit_identical(case: str, rng: np.random.Generator, tmp_path: Path) -> None:
    model, X, y = _fitted_models(rng)[case]
    model.fit(X, y)
    path = save(model, tmp_path / "model.npz")
    assert path == tmp_path / "model.npz"
    loaded = load(path)

    assert type(loaded) is type(model)
    _assert_same_predictions(model, loaded, X)
    assert loaded.score(X, y) == model.score(X, y)
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    est = model[-1] if isinstance(model, Pipeline) else model
    back = loaded[-1] if isinstance(loaded, Pipeline) else loaded
    assert back.get_params() == est.get_params()
    for key, value in est.params_.items():
        assert back.params_[key].dtype == value.dtype
        assert back.params_[key].tobytes() == value.tobytes()
    assert back.network_ == est.network_
    for attr in ("n_iter_", "t_", "loss_", "best_loss_", "n_layers_", "n_outputs_"):
        assert getattr(back, attr) == getattr(est, attr), attr
    for attr in ("out_activation_", "n_features_in_", "loss_curve_", "validation_scores_"):
        assert getattr(back, attr) == getattr(est, attr), attr
    np.testing.assert_equal(back.history_.as_dict(), est.history_.as_dict())
    assert back.history_.stop_reason == est.history_.stop_reason
    assert back.history_.best_epoch == est.history_.best_epoch
    if hasattr(est, "classes_"):
        assert back.classes_.tolist() == est.classes_.tolist()
        assert back.classes_.dtype == est.classes_.dtype
    if hasattr(model, "feature_names_in_"):
        assert list(loaded.feature_names_in_) == list(model.feature_names_in_)


def test_loaded_model_keeps_feature_name_checks(rng: np.random.Generator, tmp_path: Path) -> None:
    frame = pd.DataFrame(_data(rng), columns=list("abcde"))
    model = MLPRegressor(**FAST).fit(frame, frame["a"].to_numpy())
    loaded = load(save(model, tmp_path / "m.npz"))
    assert loaded.feature_names_in_.dtype == object
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame[list("edcba")])


def test_loaded_model_can_continue_training(rng: np.random.Generator, tmp_path: Path) -> None:
    X = _data(rng)
    y = np.arange(40) % 2
    model = MLPClassifier(**FAST, warm_start=True, random_state=0).fit(X, y)
    loaded = load(save(model, tmp_path / "m.npz"))
    loaded.fit(X, y)
    assert loaded.n_iter_ == model.n_iter_  # scikit-learn's: the epochs of the last fit
    assert len(loaded.history_.epoch) == 2 * FAST["max_iter"]


def test_hidden_sizes_given_as_an_array_survive_a_round_trip(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    X = _data(rng)
    params = {**FAST, "hidden_layer_sizes": np.array([5, 3])}
    model = MLPRegressor(**params, random_state=0).fit(X, X[:, 0])
    loaded = load(save(model, tmp_path / "m.npz"))
    assert loaded.hidden_layer_sizes == (5, 3)  # it came back as the default (100,)
    _assert_same_predictions(model, loaded, X)
    loaded.fit(X, X[:, 0])  # refitting builds the same network


def test_generator_random_state_is_dropped_not_pickled(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    X = _data(rng)
    model = MLPRegressor(**FAST, random_state=np.random.default_rng(1)).fit(X, X[:, 0])
    path = save(model, tmp_path / "m.npz")
    loaded = load(path)
    assert loaded.random_state is None
    _assert_same_predictions(model, loaded, X)
    meta = _metadata(path)
    assert meta["estimator"]["dropped_params"] == ["random_state"]


def test_file_holds_json_metadata_and_no_object_arrays(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    X = _data(rng)
    y = np.array(["no", "yes"])[np.arange(40) % 2].astype(object)
    path = save(MLPClassifier(**FAST).fit(X, y), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
        assert archive["mlp.classes"].dtype.kind == "U"
    meta = _metadata(path)
    assert meta["format"] == "lossdoctor-model"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["estimator"]["class"] == "MLPClassifier"
    assert meta["estimator"]["network"]["layer_sizes"] == [5, 6, 4, 1]


# --- refusing what is not ours ---------------------------------------------------------------


@pytest.fixture
def saved(rng: np.random.Generator, tmp_path: Path) -> tuple[Path, MLPClassifier, np.ndarray]:
    X = _data(rng)
    model = MLPClassifier(**FAST, random_state=0).fit(X, np.arange(40) % 3)
    return save(model, tmp_path / "model.npz"), model, X


def _metadata(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["metadata"].tobytes().decode())


def _rewrite(path: Path, change, *, fix_digest: bool = False) -> None:
    """Rewrite the archive with ``change(arrays)`` applied: valid zip, so only the digest tells."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    if fix_digest:
        arrays["digest"] = np.frombuffer(model_files._digest(arrays), dtype=np.uint8)
    np.savez(path, **arrays)


def _set_metadata(arrays: dict, **changes) -> None:
    meta = json.loads(arrays["metadata"].tobytes().decode())
    meta.update(changes)
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def test_truncated_file_is_refused(saved) -> None:
    path, _, _ = saved
    data = path.read_bytes()
    for size in (10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:size])
        with pytest.raises(ModelFileError, match="truncated or damaged") as info:
            load(path)
        assert str(path) in str(info.value)


def test_pickle_is_refused_without_being_unpickled(saved, tmp_path: Path) -> None:
    _, model, _ = saved
    path = tmp_path / "model.pkl"

    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (pytest.fail, ("the pickle was unpickled",))

    path.write_bytes(pickle.dumps([model, Boom()]))
    with pytest.raises(ModelFileError, match="is a pickle") as info:
        load(path)
    assert str(path) in str(info.value)


def test_npz_holding_a_pickled_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    np.savez(path, metadata=np.array([{"a": 1}], dtype=object), digest=np.zeros(32, np.uint8))
    with pytest.raises(ModelFileError, match="cannot be read"):
        load(path)


def test_flipped_byte_is_refused(saved) -> None:
    path, model, _ = saved
    data = bytearray(path.read_bytes())
    at = bytes(data).index(model.params_["W2"].tobytes()[:16]) + 3
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=str(path.name)):
        load(path)


def test_modified_weights_are_refused_by_the_digest(saved) -> None:
    path, _, _ = saved

    def nudge(arrays: dict) -> None:
        arrays["mlp.W1"] = arrays["mlp.W1"].copy()
        arrays["mlp.W1"][0, 0] = np.nextafter(arrays["mlp.W1"][0, 0], np.inf)

    _rewrite(path, nudge)
    with pytest.raises(ModelFileError, match=r"modified or damaged.*SHA-256"):
        load(path)


def test_modified_metadata_is_refused_by_the_digest(saved) -> None:
    path, _, _ = saved
    _rewrite(path, lambda arrays: _set_metadata(arrays, lossdoctor_version="9.9"))
    with pytest.raises(ModelFileError, match="digest does not match"):
        load(path)


def test_newer_format_version_is_refused(saved) -> None:
    path, _, _ = saved
    version = FORMAT_VERSION + 1
    _rewrite(path, lambda a: _set_metadata(a, format_version=version), fix_digest=True)
    with pytest.raises(ModelFileError, match=rf"newer lossdoctor.*format version {version}"):
        load(path)


def test_inconsistent_contents_with_a_valid_digest_are_refused(saved) -> None:
    path, _, _ = saved

    def drop_layer(arrays: dict) -> None:
        arrays["mlp.W2"] = arrays["mlp.W2"][:-1]

    _rewrite(path, drop_layer, fix_digest=True)
    with pytest.raises(ModelFileError, match=r"inconsistent contents.*layer 2"):
        load(path)


@pytest.mark.parametrize("magic", [b"", b"PK\x03\x04"])
def test_random_bytes_are_refused(magic: bytes, rng: np.random.Generator, tmp_path: Path) -> None:
    path = tmp_path / "noise.npz"
    path.write_bytes(magic + rng.bytes(1000))
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert str(path) in str(info.value)
    assert "lossdoctor model" in str(info.value) or "damaged" in str(info.value)


def test_other_npz_and_empty_and_missing_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "data.npz"
    np.savez(other, X=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(ModelFileError, match=r"not a lossdoctor model file.*arrays: X, y"):
        load(other)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="not a lossdoctor model file"):
        load(empty)
    with pytest.raises(ModelFileError, match=r"model file not found: .*missing.npz"):
        load(tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_model_file_error_is_a_value_error() -> None:
    assert issubclass(ModelFileError, ValueError)


# --- what save refuses -----------------------------------------------------------------------


def test_save_refuses_unfitted_and_foreign_models(rng: np.random.Generator, tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        save(MLPClassifier(), tmp_path / "m.npz")
    X = _data(rng)
    pipe = Pipeline([("mm", MinMaxScaler()), ("mlp", MLPRegressor(**FAST))]).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="MinMaxScaler"):
        save(pipe, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="StandardScaler"):
        save(StandardScaler().fit(X), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="class labels of type NoneType, float"):
        model_files._safe_labels(np.array([1.5, None], dtype=object))
    assert not any(tmp_path.iterdir())


# --- atomic writes ---------------------------------------------------------------------------


def test_failed_replace_leaves_the_old_file_and_no_temporary(
    saved, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, model, _ = saved
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(model_files.os, "replace", fail)
    model.set_params(alpha=0.5)  # a different file, were it written
    with pytest.raises(OSError, match="disk full"):
        save(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_failed_write_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"

    def write(f) -> None:
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_and_keeps_a_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, lambda f: f.write(b"one"))
    atomic_write(target, lambda f: f.write(b"two"))
    assert target.read_bytes() == b"two"
    assert list(tmp_path.iterdir()) == [target]
    if os.name == "posix":
        umask = os.umask(0o022)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_plots_and_reports_get_a_normal_file_mode(tmp_path: Path) -> None:
    # They were written through mkstemp alone, which leaves a file only its owner can read.
    from lossdoctor.diagnostics.findings import Diagnosis, Finding
    from lossdoctor.report.html import write_html_report
    from lossdoctor.report.plots import plot_loss_curves

    plot_loss_curves({"run": [1.0, 0.5, 0.25]}, tmp_path / "curves.png")
    write_html_report(Diagnosis([Finding("healthy", "info", "Trains well.")]), tmp_path / "r.html")
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("curves.png", "r.html"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "r.html"]


def test_saved_archive_is_a_plain_zip_of_npy_files(saved) -> None:
    path, _, _ = saved
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {"metadata.npy", "digest.npy", "mlp.W1.npy", "mlp.classes.npy"} <= names
