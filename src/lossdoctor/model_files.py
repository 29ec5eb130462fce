"""Saving and loading trained models in one file that loading cannot turn into code execution.

A model file is an NPZ archive (``numpy.savez``, read back with ``allow_pickle=False``) that holds

* ``metadata``: a JSON document, stored as an array of uint8 (its UTF-8 bytes), naming the format
  (``"lossdoctor-model"``), its version, the lossdoctor version that wrote it, the estimator class,
  its JSON-able ``get_params()``, the architecture (``network_``), the fitted attributes that are
  not arrays (``n_iter_``, ``loss_curve_``, ``feature_names_in_``, ``history_`` ...) and, for a
  pipeline, the steps;
* the arrays: ``mlp.W1``, ``mlp.b1``, ... (the weights), ``mlp.classes`` (class labels as a
  numeric or unicode array, never ``object``) and ``<step>.mean``, ``<step>.scale``, ``<step>.var``
  for a fitted :class:`~sklearn.preprocessing.StandardScaler`;
* ``digest``: the SHA-256 digest of every other array's name, dtype, shape and bytes, so that a
  modified or damaged file is refused rather than half-read.

No pickle is involved anywhere, so a model file from a stranger can be loaded safely: the worst it
can do is fail to load with a :class:`ModelFileError`. Writes are atomic (temporary file in the
same directory, ``fsync``, ``os.replace``), so an interrupted save never leaves half a model where
a good one was.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from lossdoctor import MLPClassifier
>>> from lossdoctor.model_files import load, save
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier((8,), max_iter=5, n_iter_no_change=None, random_state=0).fit(X, y)
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "iris.npz")
>>> _ = save(clf, path)
>>> (load(path).predict_proba(X) == clf.predict_proba(X)).all()
np.True_
"""

from __future__ import annotations

import hashlib
import hmac
import json
import numbers
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._version import __version__
from .activations import ACTIVATIONS
from .atomic import atomic_write
from .data import UnsafeArchiveError, read_npz_arrays
from .estimators import MLPClassifier, MLPRegressor, restore_fitted
from .losses import HEADS
from .network import Network
from .runspec import TargetEncoding
from .training import History

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "atomic_write", "load", "save"]

FORMAT_NAME = "lossdoctor-model"
#: Version of the file layout; a reader refuses files with a larger number.
FORMAT_VERSION = 1

# Classes are looked up in this table, never imported by name, so a file cannot name arbitrary code.
_ESTIMATORS: dict[str, type[MLPClassifier] | type[MLPRegressor]] = {
    "MLPClassifier": MLPClassifier,
    "MLPRegressor": MLPRegressor,
}
# Array dtypes that NumPy stores without pickle: booleans, numbers and fixed-width strings.
_SAFE_KINDS = "biufcUS"
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"
_MLP = "mlp"
_TARGET = "target"

#: Limits checked before anything is allocated: a model file is refused beyond them.
MAX_FILE_BYTES = 4 * 2**30
MAX_ARRAY_BYTES = 4 * 2**30
MAX_METADATA_BYTES = 256 * 2**20
MAX_JSON_DEPTH = 32

Model: TypeAlias = MLPClassifier | MLPRegressor | Pipeline | TransformedTargetRegressor


class ModelFileError(ValueError):
    """A file that is not a lossdoctor model, or one that is damaged, modified or too new."""


# --- saving ---------------------------------------------------------------------------------


def save(model: Model, path: str | os.PathLike[str]) -> Path:
    """Save a fitted model to one ``.npz`` file, atomically and without pickle.

    Parameters
    ----------
    model : MLPClassifier, MLPRegressor or sklearn.pipeline.Pipeline
        A fitted lossdoctor estimator, or a fitted pipeline of zero or more
        :class:`~sklearn.preprocessing.StandardScaler` steps followed by one (what
        ``lossdoctor train --scale standard`` builds); either may be wrapped in a
        :class:`~sklearn.compose.TransformedTargetRegressor` whose transformer is a
        ``StandardScaler`` (``lossdoctor train --scale-target``).
    path : str or path-like
        Where to write; the name is used as given (no ``.npz`` is appended). An existing file
        is replaced only once the new one is complete.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model (or a step of the pipeline) is not fitted.
    TypeError
        If the model is of a kind this format does not hold, or its class labels are Python
        objects other than strings.

    Notes
    -----
    Constructor parameters that are not JSON data (a ``numpy.random.Generator`` as
    ``random_state``, a callable ``learning_rate``) are not stored; the loaded model has the
    default instead and the metadata lists them under ``dropped_params``. They do not affect
    predictions. Class labels that were Python objects (strings or integers in an object array)
    are stored as a unicode or integer array and restored as an object array. The optimiser's
    state (momentum, Adam's moments) is not stored either, so a
    ``warm_start`` continuation of a loaded model starts the optimiser afresh.
    """
    arrays: dict[str, NDArray] = {}
    target_transformer = None
    if isinstance(model, TransformedTargetRegressor):
        target_transformer = _target_scaler_to_file(model, arrays)
        model = model.regressor_
    if isinstance(model, Pipeline):
        *scalers, (last_name, estimator) = model.steps
        steps = []
        for position, (name, step) in enumerate(scalers):
            if isinstance(step, ColumnTransformer) and position == 0:
                steps.append(_columns_to_file(name, step, arrays))
                continue
            if not isinstance(step, StandardScaler):
                raise TypeError(
                    f"cannot save pipeline step {name!r} of type {type(step).__name__}; a "
                    "lossdoctor model file holds an optional ColumnTransformer (--impute, "
                    "--encode), StandardScaler steps and a lossdoctor estimator"
                )
            steps.append(_scaler_to_file(name, step, arrays))
        steps.append({"name": last_name, "kind": "estimator"})
        kind = "pipeline"
    else:
        estimator, steps, kind = model, [], "estimator"
    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            "save() takes a lossdoctor MLPClassifier or MLPRegressor, or a Pipeline ending in "
            f"one, got {type(estimator).__name__}"
        )
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "lossdoctor_version": _version(),
        "model": kind,
        "steps": steps,
        "estimator": _estimator_to_file(estimator, arrays),
    }
    if target_transformer is not None:
        metadata["target_transformer"] = target_transformer
    text = json.dumps(metadata, sort_keys=True, allow_nan=True)
    arrays["metadata"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    arrays["digest"] = np.frombuffer(_digest(arrays), dtype=np.uint8)
    # Every array has a non-object dtype, so savez writes no pickle.
    return atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def _estimator_to_file(est: MLPClassifier | MLPRegressor, arrays: dict[str, NDArray]) -> dict:
    check_is_fitted(est, "params_")
    params, dropped = {}, []
    for name, value in est.get_params(deep=False).items():
        plain = _json_value(value)
        if plain is _NOT_JSON:
            dropped.append(name)
        else:
            params[name] = plain
    net: Network = est.network_
    for key, array in est.params_.items():
        arrays[f"{_MLP}.{key}"] = np.ascontiguousarray(array)
    history: History = est.history_
    out: dict[str, Any] = {
        "class": type(est).__name__,
        "params": params,
        "dropped_params": dropped,
        "network": {
            "layer_sizes": [int(s) for s in net.layer_sizes],
            "activation": net.activation,
            "head": net.head,
        },
        "param_names": list(est.params_),
        "n_features_in": int(est.n_features_in_),
        "feature_names_in": _feature_names(est),
        "t": int(est.t_),
        "history": {
            **{c: [_json_number(v) for v in getattr(history, c)] for c in History.COLUMNS},
            "stop_reason": history.stop_reason,
            "message": history.message,
            "best_epoch": None if history.best_epoch is None else int(history.best_epoch),
        },
    }
    if isinstance(est, MLPClassifier):
        out["multilabel"] = bool(est.target_encoding_.multilabel)
        arrays[f"{_MLP}.classes"] = _safe_labels(np.asarray(est.classes_))
        # Labels given as Python objects come back as an object array, so that predict returns
        # the same dtype as before saving.
        out["classes_object"] = est.classes_.dtype == object
    else:
        out["y_ndim"] = int(est.target_encoding_.y_ndim)
    return out


def _target_scaler_to_file(model: TransformedTargetRegressor, arrays: dict[str, NDArray]) -> dict:
    """A fitted ``TransformedTargetRegressor`` whose transformer is a ``StandardScaler``
    (``lossdoctor train --scale-target``): the scaler as step ``target``."""
    check_is_fitted(model)
    if model.func is not None or model.inverse_func is not None:
        raise TypeError("cannot save a TransformedTargetRegressor with func/inverse_func")
    if not isinstance(model.transformer_, StandardScaler):
        raise TypeError(
            "cannot save a TransformedTargetRegressor whose transformer is "
            f"{type(model.transformer_).__name__}; a model file holds a StandardScaler"
        )
    out = _scaler_to_file(_TARGET, model.transformer_, arrays)
    out["training_dim"] = int(model._training_dim)
    return out


def _columns_to_file(name: str, ct: ColumnTransformer, arrays: dict[str, NDArray]) -> dict:
    """The ``ColumnTransformer`` of ``train --impute/--encode``: a ``OneHotEncoder`` on named
    text columns and a ``SimpleImputer`` (or passthrough) on named numeric columns."""
    check_is_fitted(ct)
    if "." in name or name in ("metadata", "digest", _MLP, _TARGET):
        raise TypeError(f"cannot save a pipeline step named {name!r}")
    out: dict[str, Any] = {
        "name": name,
        "kind": "ColumnTransformer",
        "feature_names_in": [str(c) for c in ct.feature_names_in_],
        "onehot": None,
        "impute": None,
    }
    for part, fitted, columns in ct.transformers_:
        cols = [str(c) for c in columns]
        if part == "remainder" and fitted == "drop":
            continue
        if part == "onehot" and isinstance(fitted, OneHotEncoder):
            plain = fitted.handle_unknown == "ignore" and fitted.drop is None
            plain = plain and fitted.max_categories is None and fitted.min_frequency is None
            if not plain or fitted.sparse_output:
                raise TypeError("cannot save a OneHotEncoder other than train --encode's")
            has_nan = []
            for k, categories in enumerate(fitted.categories_):
                values = [v for v in categories.tolist() if not _is_nan(v)]
                has_nan.append(len(values) < len(categories))
                arrays[f"{name}.categories{k}"] = np.asarray([str(v) for v in values], dtype=str)
            out["onehot"] = {"columns": cols, "has_nan": has_nan}
        elif part == "impute" and (fitted == "passthrough" or isinstance(fitted, SimpleImputer)):
            strategy = None
            if isinstance(fitted, SimpleImputer):
                strategy = str(fitted.strategy)
                if strategy not in ("mean", "median", "most_frequent"):
                    raise TypeError(f"cannot save a SimpleImputer with strategy {strategy!r}")
                arrays[f"{name}.statistics"] = np.asarray(fitted.statistics_, dtype=np.float64)
            out["impute"] = {"columns": cols, "strategy": strategy}
        else:
            raise TypeError(
                f"cannot save column transformer part {part!r} of type {type(fitted).__name__}"
            )
    if out["impute"] is None:
        raise TypeError("cannot save a ColumnTransformer without its numeric part")
    return out


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _scaler_to_file(name: str, scaler: StandardScaler, arrays: dict[str, NDArray]) -> dict:
    check_is_fitted(scaler)
    taken = any(key.startswith(f"{name}.") for key in arrays)  # "target", when wrapped
    if "." in name or name in ("metadata", "digest", _MLP) or taken:
        # Array names are "<step>.<attribute>", so a step name must not be ambiguous.
        raise TypeError(f"cannot save a pipeline step named {name!r}")
    for attr in ("mean", "var", "scale"):
        value = getattr(scaler, f"{attr}_")
        if value is not None:
            arrays[f"{name}.{attr}"] = np.ascontiguousarray(value)
    seen = scaler.n_samples_seen_
    if isinstance(seen, np.ndarray):
        arrays[f"{name}.n_samples_seen"] = seen
        seen = None
    return {
        "name": name,
        "kind": "StandardScaler",
        "params": {k: _json_value(v) for k, v in scaler.get_params(deep=False).items()},
        "n_features_in": int(scaler.n_features_in_),
        "feature_names_in": _feature_names(scaler),
        "n_samples_seen": None if seen is None else int(seen),
    }


_NOT_JSON = object()


def _json_value(value: Any) -> Any:
    """A constructor parameter as JSON data, or ``_NOT_JSON``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
        value = value.tolist()  # hidden_layer_sizes=np.array([64, 32]), say
    if isinstance(value, (tuple, list)):
        items = [_json_value(v) for v in value]
        return _NOT_JSON if any(v is _NOT_JSON for v in items) else items
    return _NOT_JSON


def _json_number(value: Any) -> Any:
    # np.float32 is not JSON-serialisable; float() keeps its value exactly.
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _feature_names(est: Any) -> list[str] | None:
    names = getattr(est, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _safe_labels(classes: NDArray) -> NDArray:
    """Class labels as an array NumPy stores without pickle (strings become unicode)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in _SAFE_KINDS:
        return classes
    values = classes.tolist()
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    kinds = sorted({type(v).__name__ for v in values})
    raise TypeError(
        f"cannot save class labels of type {', '.join(kinds)} without pickle; use strings or "
        "numbers as labels"
    )


def _version() -> str:
    return __version__


def _digest(arrays: dict[str, NDArray]) -> bytes:
    """SHA-256 over the name, dtype, shape and bytes of every array except ``digest``."""
    h = hashlib.sha256(FORMAT_NAME.encode())
    for name in sorted(arrays):
        if name == "digest":
            continue
        a = np.ascontiguousarray(arrays[name])
        # Length prefixes keep the encoding unambiguous: no two files hash the same stream.
        for chunk in (json.dumps([name, a.dtype.str, list(a.shape)]).encode(), a.tobytes()):
            h.update(len(chunk).to_bytes(8, "little"))
            h.update(chunk)
    return h.digest()


# --- loading --------------------------------------------------------------------------------


def load(path: str | os.PathLike[str]) -> Model:
    """Load a model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    MLPClassifier, MLPRegressor or sklearn.pipeline.Pipeline
        A fitted model whose ``predict``, ``predict_proba`` and ``score`` give bit-for-bit the
        results of the saved one.

    Raises
    ------
    ModelFileError
        If the file does not exist, is not a lossdoctor model (for example a pickle or random
        bytes), is truncated or damaged, was modified after it was written (its SHA-256 digest
        does not match), or was written by a newer lossdoctor with a newer format version. The
        message names the path and the problem.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    if "metadata" not in arrays or "digest" not in arrays:
        raise ModelFileError(
            f"{path} is not a lossdoctor model file: it is an NPZ archive without the "
            f"'metadata' and 'digest' arrays (arrays: {', '.join(sorted(arrays)) or 'none'})"
        )
    meta = _read_metadata(path, arrays["metadata"])
    digest = arrays["digest"]
    if digest.dtype != np.uint8 or not hmac.compare_digest(digest.tobytes(), _digest(arrays)):
        raise ModelFileError(
            f"{path} was modified or damaged after it was written: its SHA-256 digest does not "
            "match its contents"
        )
    try:
        return _build(meta, arrays)
    except ModelFileError as exc:
        raise ModelFileError(f"{path} {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"{path} has inconsistent contents: {_describe(exc)}") from None


def _read_arrays(path: Path) -> dict[str, NDArray]:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused below.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {_describe(exc)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ModelFileError(f"{path} is {what}, not a model file")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as f:
        if info.st_size > MAX_FILE_BYTES:
            raise ModelFileError(
                f"{path} is {info.st_size} bytes, more than a model file may be "
                f"({MAX_FILE_BYTES} bytes)"
            )
        head = f.read(4)
        if head.startswith(_PICKLE_MAGIC):
            raise ModelFileError(
                f"{path} is a pickle, not a lossdoctor model file; lossdoctor never loads "
                "pickles because loading one can run arbitrary code"
            )
        if head != _ZIP_MAGIC:
            raise ModelFileError(f"{path} is not a lossdoctor model file (not an NPZ archive)")
        f.seek(0)
        try:
            return read_npz_arrays(f, info.st_size, max_bytes=MAX_ARRAY_BYTES)
        except UnsafeArchiveError as exc:
            raise ModelFileError(f"{path} cannot be read: {exc}") from None
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            KeyError,
            SyntaxError,
        ) as exc:
            raise ModelFileError(
                f"{path} is truncated or damaged and cannot be read as a model file: "
                f"{_describe(exc)}"
            ) from None
        except NotImplementedError as exc:  # an unsupported zip compression method
            raise ModelFileError(f"{path} cannot be read: {_describe(exc)}") from None


def _read_metadata(path: Path, raw: NDArray) -> dict[str, Any]:
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"metadata array has dtype {raw.dtype} and shape {raw.shape}")
        text = raw.tobytes()
        if len(text) > MAX_METADATA_BYTES:
            raise ValueError(f"{len(text)} bytes, more than {MAX_METADATA_BYTES}")
        depth = _json_depth(text)
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested {depth} deep, more than {MAX_JSON_DEPTH}")
        meta = json.loads(text.decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except (ValueError, RecursionError) as exc:  # includes JSONDecodeError, UnicodeDecodeError
        raise ModelFileError(
            f"{path} is not a lossdoctor model file: unreadable metadata ({_describe(exc)})"
        ) from None
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{path} is not a lossdoctor model file: format {meta.get('format')!r}, "
            f"expected {FORMAT_NAME!r}"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by a newer lossdoctor ({meta.get('lossdoctor_version')}, model "
            f"format version {version}); this lossdoctor ({_version()}) reads format versions "
            f"up to {FORMAT_VERSION}: upgrade lossdoctor to load it"
        )
    return meta


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _json_depth(text: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (strings skipped), without parsing it."""
    codes = np.frombuffer(_JSON_STRING.sub(b'""', text), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _build(meta: dict[str, Any], arrays: dict[str, NDArray]) -> Model:
    model = _model_from_file(meta, arrays)
    target = meta.get("target_transformer")
    if target is None:
        return model
    scaler = _scaler_from_file(target, arrays)
    wrapped = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    wrapped.regressor_ = model
    wrapped.transformer_ = scaler
    wrapped._training_dim = int(target["training_dim"])
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        wrapped.feature_names_in_ = names
    return wrapped


def _model_from_file(meta: dict[str, Any], arrays: dict[str, NDArray]) -> Model:
    estimator = _estimator_from_file(meta["estimator"], arrays)
    if meta["model"] == "estimator":
        return estimator
    if meta["model"] != "pipeline":
        raise ValueError(f"unknown model kind {meta['model']!r}")
    *scaler_steps, last = meta["steps"]
    steps: list[tuple[str, Any]] = [
        (
            step["name"],
            _columns_from_file(step, arrays)
            if step["kind"] == "ColumnTransformer"
            else _scaler_from_file(step, arrays),
        )
        for step in scaler_steps
    ]
    steps.append((str(last["name"]), estimator))
    return Pipeline(steps)


def _estimator_from_file(
    meta: dict[str, Any], arrays: dict[str, NDArray]
) -> MLPClassifier | MLPRegressor:
    cls = _ESTIMATORS.get(meta["class"])
    if cls is None:
        raise ValueError(f"unknown estimator class {meta['class']!r}")
    params = dict(meta["params"])
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    est = cls().set_params(**params)

    spec = meta["network"]
    net = Network(tuple(int(s) for s in spec["layer_sizes"]), spec["activation"], spec["head"])
    if net.activation not in ACTIVATIONS or net.head not in HEADS or len(net.layer_sizes) < 2:
        raise ValueError(f"invalid network {net}")
    weights = {name: arrays[f"{_MLP}.{name}"] for name in meta["param_names"]}
    _check_weights(net, weights)

    history = History()
    saved = meta["history"]
    for column in History.COLUMNS:
        setattr(history, column, list(saved[column]))
    history.stop_reason, history.message = str(saved["stop_reason"]), str(saved["message"])
    history.best_epoch = saved["best_epoch"]

    if isinstance(est, MLPClassifier):
        classes = arrays[f"{_MLP}.classes"]
        if classes.ndim != 1:
            raise ValueError(f"classes has shape {classes.shape}")
        if meta.get("classes_object", False):
            values, classes = classes.tolist(), np.empty(len(classes), dtype=object)
            classes[:] = values
        encoding = TargetEncoding(net.head, classes, bool(meta["multilabel"]))
        n_out = net.layer_sizes[-1]
        expected = 1 if len(classes) == 2 and not encoding.multilabel else len(classes)
        if n_out != expected:
            raise ValueError(f"{len(classes)} classes but {n_out} network outputs")
    else:
        encoding = TargetEncoding("identity", None, False, int(meta["y_ndim"]))
    restore_fitted(
        est, net, weights, history, encoding, t=meta["t"], n_features_in=meta["n_features_in"]
    )
    if est.n_features_in_ != net.layer_sizes[0]:
        raise ValueError(f"{est.n_features_in_} features but {net.layer_sizes[0]} network inputs")
    _set_feature_names(est, meta["feature_names_in"])
    return est


def _check_weights(net: Network, weights: dict[str, NDArray]) -> None:
    L = len(net.layer_sizes) - 1
    expected = [f"{p}{k}" for k in range(1, L + 1) for p in ("W", "b")]
    if sorted(weights) != sorted(expected):
        raise ValueError(f"weights {sorted(weights)} do not match the network's {expected}")
    dtypes = {w.dtype for w in weights.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
        got = sorted(map(str, dtypes))
        raise ValueError(f"weights must all be float32 or all float64, got {got}")
    for k in range(1, L + 1):
        fan_in, fan_out = net.layer_sizes[k - 1], net.layer_sizes[k]
        if weights[f"W{k}"].shape != (fan_in, fan_out) or weights[f"b{k}"].shape != (fan_out,):
            raise ValueError(
                f"layer {k} has weights of shape {weights[f'W{k}'].shape} and "
                f"{weights[f'b{k}'].shape}, expected ({fan_in}, {fan_out}) and ({fan_out},)"
            )
    for name, w in weights.items():
        bad = ~np.isfinite(w)
        if bad.any():
            raise ModelFileError(
                f"has weights {name} with {int(bad.sum())} non-finite values (NaN or infinity), so "
                "every prediction would be NaN: the model was saved from a diverged run"
            )


def _columns_from_file(meta: dict[str, Any], arrays: dict[str, NDArray]) -> ColumnTransformer:
    """Rebuild the fitted ColumnTransformer by fitting the same one to a small frame with the
    saved categories, then setting the imputer's saved statistics (no private attributes)."""
    import pandas as pd

    name = meta["name"]
    names = [str(n) for n in meta["feature_names_in"]]
    onehot, impute = meta["onehot"], meta["impute"]
    transformers: list[tuple[str, Any, list[str]]] = []
    values: dict[str, list[Any]] = {}
    if onehot is not None:
        for k, column in enumerate(onehot["columns"]):
            saved = arrays[f"{name}.categories{k}"]
            if saved.ndim != 1 or saved.dtype.kind != "U":
                raise ValueError(f"categories of column {column!r} have shape {saved.shape}")
            values[str(column)] = saved.tolist() + ([np.nan] if onehot["has_nan"][k] else [])
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("onehot", encoder, [str(c) for c in onehot["columns"]]))
    strategy = impute["strategy"]
    numeric = [str(c) for c in impute["columns"]]
    imputer = SimpleImputer(strategy=strategy) if strategy is not None else "passthrough"
    transformers.append(("impute", imputer, numeric))
    if sorted(values) + sorted(numeric) != sorted(names) and set(values) | set(numeric) != set(
        names
    ):
        raise ValueError("the column transformer's columns do not match its input columns")
    n_rows = max([len(v) for v in values.values()] + [1])
    frame = pd.DataFrame(
        {
            c: pd.Series([values[c][i % len(values[c])] for i in range(n_rows)], dtype=object)
            if c in values
            else np.zeros(n_rows)
            for c in names
        }
    )
    ct = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    ct.fit(frame)
    if onehot is not None:
        fitted = ct.named_transformers_["onehot"].categories_
        for column, categories in zip(onehot["columns"], fitted, strict=True):
            expected = values[str(column)]
            if [str(v) for v in categories.tolist()] != [str(v) for v in expected]:
                raise ValueError(f"categories of column {column!r} are not sorted and unique")
    if strategy is not None:
        statistics = arrays[f"{name}.statistics"]
        if statistics.shape != (len(numeric),) or statistics.dtype.kind != "f":
            raise ValueError(f"imputer statistics have shape {statistics.shape}")
        ct.named_transformers_["impute"].statistics_ = statistics
    return ct


def _scaler_from_file(meta: dict[str, Any], arrays: dict[str, NDArray]) -> StandardScaler:
    if meta["kind"] != "StandardScaler":
        raise ValueError(f"unknown pipeline step kind {meta['kind']!r}")
    name = meta["name"]
    scaler = StandardScaler().set_params(**meta["params"])
    n_features = int(meta["n_features_in"])
    for attr in ("mean", "var", "scale"):
        value = arrays.get(f"{name}.{attr}")
        if value is not None and (value.shape != (n_features,) or value.dtype.kind != "f"):
            raise ValueError(f"scaler {name!r} has {attr}_ of shape {value.shape}")
        setattr(scaler, f"{attr}_", value)
    seen = meta["n_samples_seen"]
    scaler.n_samples_seen_ = arrays[f"{name}.n_samples_seen"] if seen is None else int(seen)
    scaler.n_features_in_ = n_features
    _set_feature_names(scaler, meta["feature_names_in"])
    return scaler


def _set_feature_names(est: Any, names: list[str] | None) -> None:
    if names is None:
        return
    if len(names) != est.n_features_in_:
        raise ValueError(f"{len(names)} feature names for {est.n_features_in_} features")
    # scikit-learn keeps feature names as an object array of str; comparisons rely on it.
    est.feature_names_in_ = np.asarray([str(n) for n in names], dtype=object)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError):
        text = f"missing {text}"
    return text or type(exc).__name__
