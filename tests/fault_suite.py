"""The fault suite: set-ups with planted faults, and healthy set-ups, as data.

Each :class:`FaultCase` names a data set (:func:`load_case_data`), the estimator parameters of the
run, the finding codes the doctor must report, and the root cause it must rank first. Healthy cases
have no expected codes and must produce no warning. ``tests/test_fault_suite.py`` runs them all
and reports recall, the share of cases whose top finding is the root cause, and false alarms;
:func:`run_suite` does the same from the command line::

    python tests/fault_suite.py [--jobs N] [--scheduler tcp://HOST:8786 | local]

``--scheduler`` runs the cases on a Dask cluster through joblib's Dask backend (the ``dask``
extra; every worker needs lossdoctor installed); the results are those of a serial run
(``tests/test_dask.py`` checks it on a local cluster).

The suite is test data, not part of the package: it lives beside the tests, like
``handwritten_nets.py``, and is imported by them as ``fault_suite``.

Data sets are those that ship with scikit-learn (breast cancer, iris, wine, digits, diabetes) and
generated ones (``make_classification``, ``make_regression``, ``make_moons``), each drawn from a
fixed seed, with the fault planted by a transformation named after the slash
(``"classification/offset"``: every feature shifted by 100).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FAULT_CASES",
    "HEALTHY_CASES",
    "FaultCase",
    "SuiteResult",
    "load_case_data",
    "run_case",
    "run_suite",
]

#: Seed of every generated data set and of every planted fault.
SUITE_SEED = 20240607


@dataclass(frozen=True)
class FaultCase:
    """One set-up of the suite.

    Attributes
    ----------
    name : str
    dataset : str
        A key of :func:`load_case_data`.
    params : dict
        Estimator constructor parameters.
    expected : tuple of str
        Codes that must be found (empty for a healthy case).
    root_cause : str or None
        The code that must be ranked first (None for a healthy case).
    """

    name: str
    dataset: str
    params: dict[str, Any] = field(default_factory=dict)
    expected: tuple[str, ...] = ()
    root_cause: str | None = None


def _scaled(X: NDArray) -> NDArray:
    from lossdoctor.diagnostics.evidence import standardize

    return standardize(X)


_VARIANTS = ("scaled", "offset", "one-large", "nan", "inf", "nan-y", "constant", "imbalanced")


def load_case_data(name: str) -> tuple[NDArray, NDArray]:
    """The ``(X, y)`` of a suite data set, with its planted fault.

    Parameters
    ----------
    name : str
        ``base`` or ``base/variant``. Bases: ``breast_cancer``, ``iris``, ``wine``, ``digits``,
        ``diabetes`` (shipped with scikit-learn), ``classification``, ``classification3``,
        ``small``, ``regression``, ``moons`` (generated). Variants: ``scaled`` (standardised
        inputs, and target for regression), ``offset`` (inputs + 100), ``one-large`` (first
        feature x 1000), ``nan`` (NaN in 2% of X), ``inf`` (one infinite value), ``nan-y`` (NaN
        in 5 targets), ``constant`` (3 constant columns added), ``imbalanced`` (3% minority).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    from sklearn import datasets

    base, _, variant = name.partition("/")
    if variant and variant not in _VARIANTS:
        raise ValueError(
            f"unknown variant {variant!r} in {name!r}; expected one of: {', '.join(_VARIANTS)}"
        )
    rng = np.random.default_rng(SUITE_SEED)
    seed = int(rng.integers(2**31 - 1))
    X: NDArray
    y: NDArray
    if base in ("breast_cancer", "iris", "wine", "digits", "diabetes"):
        from lossdoctor.data import builtin_dataset

        data = builtin_dataset(base)
        X, y = data.X, np.asarray(data.y)
        if base == "digits":  # a subset keeps the suite fast
            X, y = X[:600], y[:600]
    elif base == "classification":
        weights = [0.97, 0.03] if variant == "imbalanced" else None
        X, y = datasets.make_classification(
            500, 10, n_informative=5, weights=weights, random_state=seed
        )
    elif base == "classification3":
        weights = [0.9, 0.08, 0.02] if variant == "imbalanced" else None
        X, y = datasets.make_classification(
            600, 8, n_informative=5, n_classes=3, weights=weights, random_state=seed
        )
    elif base == "small":  # few samples, many noisy features: easy to overfit
        X, y = datasets.make_classification(
            200, 100, n_informative=3, flip_y=0.3, class_sep=0.6, random_state=seed
        )
    elif base == "regression":
        X, y = datasets.make_regression(400, 8, n_informative=6, noise=10.0, random_state=seed)
        y = y + 300.0
    elif base == "moons":
        X, y = datasets.make_moons(400, noise=0.2, random_state=seed)
    else:
        raise ValueError(f"unknown suite data set {name!r}")
    X = np.array(X, dtype=np.float64)
    y = np.array(y)
    regression = base in ("diabetes", "regression")
    if variant == "scaled" or (variant and variant not in ("offset", "one-large")):
        if base == "digits":
            X = X[:, X.std(axis=0) > 0]  # drop the constant pixels, which scaling cannot fix
        X = _scaled(X)
        if regression and variant == "scaled":
            y = (y - y.mean()) / y.std()
    if variant == "offset":
        X = _scaled(X) + 100.0
    elif variant == "one-large":
        X = _scaled(X)
        X[:, 0] *= 1000.0
    elif variant == "nan":
        X[rng.random(X.shape) < 0.02] = np.nan
    elif variant == "inf":
        X[int(rng.integers(X.shape[0])), int(rng.integers(X.shape[1]))] = np.inf
    elif variant == "nan-y":
        y = y.astype(np.float64)
        y[rng.choice(y.shape[0], 5, replace=False)] = np.nan
    elif variant == "constant":
        X = np.hstack([X, np.full((X.shape[0], 3), 1.0)])
    return X, y


_GD = {"solver": "gd", "momentum": 0.0}
_SGD = {"solver": "sgd", "momentum": 0.9, "batch_size": 64}
_ADAM = {"solver": "adam"}

FAULT_CASES: list[FaultCase] = [
    # -- the classic question and unscaled inputs --------------------------------------------
    FaultCase(
        "classic",
        "breast_cancer",
        {
            "hidden_layer_sizes": (128, 64),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 1.0,
            "init": "normal",
            "max_iter": 100,
            "alpha": 0.0,
        },
        ("inputs-unscaled", "init-scale", "saturated-activations", "lr-too-high"),
        "inputs-unscaled",
    ),
    FaultCase(
        "bc-unscaled-tanh-adam",
        "breast_cancer",
        {"hidden_layer_sizes": (32,), "activation": "tanh", **_ADAM, "max_iter": 60},
        ("inputs-unscaled", "saturated-activations"),
        "inputs-unscaled",
    ),
    FaultCase(
        "bc-unscaled-sigmoid-gd",
        "breast_cancer",
        {
            "hidden_layer_sizes": (32,),
            "activation": "sigmoid",
            **_GD,
            "learning_rate_init": 0.1,
            "max_iter": 60,
        },
        ("inputs-unscaled", "saturated-activations"),
        "inputs-unscaled",
    ),
    FaultCase(
        "wine-unscaled-tanh-sgd",
        "wine",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
        ("inputs-unscaled", "saturated-activations"),
        "inputs-unscaled",
    ),
    FaultCase(
        "wine-unscaled-relu-adam",
        "wine",
        {"hidden_layer_sizes": (32,), "activation": "relu", **_ADAM, "max_iter": 60},
        ("inputs-unscaled",),
        "inputs-unscaled",
    ),
    FaultCase(
        "digits-raw-relu-adam",
        "digits",
        {"hidden_layer_sizes": (32,), "activation": "relu", **_ADAM, "max_iter": 30},
        ("inputs-unscaled",),
        "inputs-unscaled",
    ),
    FaultCase(
        "offset-tanh-adam",
        "classification/offset",
        {"hidden_layer_sizes": (32,), "activation": "tanh", **_ADAM, "max_iter": 60},
        ("inputs-unscaled", "saturated-activations"),
        "inputs-unscaled",
    ),
    FaultCase(
        "one-large-feature-sigmoid-adam",
        "classification/one-large",
        {"hidden_layer_sizes": (32,), "activation": "sigmoid", **_ADAM, "max_iter": 60},
        ("inputs-unscaled",),
        "inputs-unscaled",
    ),
    FaultCase(
        "wine-unscaled-lr-high-gd",
        "wine",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 1.0,
            "max_iter": 60,
        },
        ("inputs-unscaled", "lr-too-high"),
        "inputs-unscaled",
    ),
    # -- bad data -------------------------------------------------------------------------------
    FaultCase(
        "nan-inputs",
        "classification/nan",
        {"hidden_layer_sizes": (16,), "activation": "relu", **_ADAM, "max_iter": 30},
        ("data-non-finite", "non-finite-loss"),
        "data-non-finite",
    ),
    FaultCase(
        "inf-input-iris",
        "iris/inf",
        {
            "hidden_layer_sizes": (16,),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 0.1,
            "max_iter": 30,
        },
        ("data-non-finite",),
        "data-non-finite",
    ),
    FaultCase(
        "nan-targets",
        "regression/nan-y",
        {"hidden_layer_sizes": (16,), "activation": "relu", **_ADAM, "max_iter": 30},
        ("data-non-finite",),
        "data-non-finite",
    ),
    FaultCase(
        "imbalanced-binary",
        "classification/imbalanced",
        {
            "hidden_layer_sizes": (16,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 40,
        },
        ("class-imbalance",),
        "class-imbalance",
    ),
    FaultCase(
        "imbalanced-multiclass",
        "classification3/imbalanced",
        {
            "hidden_layer_sizes": (16,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 40,
        },
        ("class-imbalance",),
        "class-imbalance",
    ),
    # -- unscaled targets ------------------------------------------------------------------------
    FaultCase(
        "diabetes-raw-adam",
        "diabetes",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
        ("targets-unscaled",),
        "targets-unscaled",
    ),
    FaultCase(
        "regression-raw-sgd",
        "regression",
        {
            "hidden_layer_sizes": (16,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 30,
        },
        ("targets-unscaled",),
        "targets-unscaled",
    ),
    FaultCase(
        "regression-raw-gd",
        "regression",
        {
            "hidden_layer_sizes": (16,),
            "activation": "relu",
            **_GD,
            "learning_rate_init": 0.05,
            "max_iter": 30,
        },
        ("targets-unscaled",),
        "targets-unscaled",
    ),
    # -- initialisation --------------------------------------------------------------------------
    FaultCase(
        "normal-init-tanh-scaled",
        "breast_cancer/scaled",
        {
            "hidden_layer_sizes": (64, 32),
            "activation": "tanh",
            **_ADAM,
            "init": "normal",
            "max_iter": 40,
        },
        ("init-scale", "saturated-activations"),
        "init-scale",
    ),
    FaultCase(
        "big-init-sigmoid",
        "wine/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "sigmoid",
            **_ADAM,
            # The planted weights as designed: 15 x Glorot. scikit-learn's default draw uses a
            # range sqrt(3) narrower for the logistic activation, which at 15x saturates less
            # than half of the units (the doctor rightly finds only init-scale then).
            "init": "glorot_uniform",
            "init_scale": 15.0,
            "max_iter": 40,
        },
        ("init-scale", "saturated-activations"),
        "init-scale",
    ),
    FaultCase(
        "tiny-init-deep-tanh",
        "moons/scaled",
        {
            "hidden_layer_sizes": (32, 32, 32, 32),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 0.1,
            "init_scale": 0.05,
            "max_iter": 60,
        },
        ("init-scale", "plateau"),
        "init-scale",
    ),
    FaultCase(
        "uniform-init-relu",
        "classification/scaled",
        {
            "hidden_layer_sizes": (64, 64),
            "activation": "relu",
            **_ADAM,
            "init": "uniform",
            "max_iter": 40,
        },
        ("init-scale",),
        "init-scale",
    ),
    FaultCase(
        "huge-init-deep-relu",
        "moons/scaled",
        {
            "hidden_layer_sizes": (64, 64, 64),
            "activation": "relu",
            **_SGD,
            "learning_rate_init": 0.01,
            "init_scale": 4.0,
            "max_iter": 30,
        },
        ("init-scale",),
        "init-scale",
    ),
    # -- learning rate ---------------------------------------------------------------------------
    FaultCase(
        "lr-high-gd-bc",
        "breast_cancer/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 30.0,
            "max_iter": 60,
        },
        ("lr-too-high",),
        "lr-too-high",
    ),
    FaultCase(
        "lr-high-gd-regression",
        "diabetes/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_GD,
            "learning_rate_init": 3.0,
            "max_iter": 60,
        },
        ("lr-too-high",),
        "lr-too-high",
    ),
    FaultCase(
        "lr-high-momentum-moons",
        "moons/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 5.0,
            "max_iter": 40,
        },
        ("lr-too-high",),
        "lr-too-high",
    ),
    FaultCase(
        "lr-high-adam-iris",
        "iris/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 5.0,
            "max_iter": 60,
        },
        ("lr-too-high",),
        "lr-too-high",
    ),
    FaultCase(
        "lr-low-gd-bc",
        "breast_cancer/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 1e-4,
            "max_iter": 60,
        },
        ("lr-too-low",),
        "lr-too-low",
    ),
    FaultCase(
        "lr-low-adam-wine",
        "wine/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 1e-6,
            "max_iter": 60,
        },
        ("lr-too-low",),
        "lr-too-low",
    ),
    FaultCase(
        "lr-low-sgd-moons",
        "moons/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_SGD,
            "learning_rate_init": 1e-5,
            "max_iter": 40,
        },
        ("lr-too-low",),
        "lr-too-low",
    ),
    FaultCase(
        "lr-high-sgd-dead-relu",
        "moons/scaled",
        {
            "hidden_layer_sizes": (64, 64),
            "activation": "relu",
            **_SGD,
            # As designed, on He's weights (sharpness 7-15, so 1.0 is 5-11x the bound); on
            # scikit-learn's narrower default draw the sharpness is ~1 and 1.0 is stable.
            "init": "he_uniform",
            "learning_rate_init": 1.0,
            "max_iter": 30,
        },
        ("lr-too-high", "dead-units"),
        "lr-too-high",
    ),
    FaultCase(
        "lr-high-gd-exploding",
        "breast_cancer/scaled",
        {
            "hidden_layer_sizes": (64,),
            "activation": "relu",
            **_GD,
            "learning_rate_init": 20.0,
            "max_iter": 30,
        },
        ("lr-too-high", "exploding-gradients"),
        "lr-too-high",
    ),
    FaultCase(
        "big-init-deep-relu-regression",
        "regression/scaled",
        {
            "hidden_layer_sizes": (32, 32, 32),
            "activation": "relu",
            **_GD,
            "learning_rate_init": 0.01,
            "init_scale": 5.0,
            "max_iter": 30,
        },
        ("init-scale", "exploding-gradients"),
        "init-scale",
    ),
    FaultCase(
        "diabetes-raw-tanh-sgd",
        "diabetes",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 30,
        },
        ("targets-unscaled", "saturated-activations"),
        "targets-unscaled",
    ),
    # -- dynamics --------------------------------------------------------------------------------
    FaultCase(
        "deep-sigmoid-vanishing",
        "moons/scaled",
        {
            "hidden_layer_sizes": (16,) * 8,
            "activation": "sigmoid",
            **_ADAM,
            "learning_rate_init": 1e-3,
            "max_iter": 40,
        },
        ("vanishing-gradients",),
        "vanishing-gradients",
    ),
    FaultCase(
        "overfitting-small",
        "small/scaled",
        {
            "hidden_layer_sizes": (256, 256),
            "activation": "relu",
            **_ADAM,
            "alpha": 0.0,
            "learning_rate_init": 0.002,
            "max_iter": 150,
        },
        ("overfitting",),
        "overfitting",
    ),
]

HEALTHY_CASES: list[FaultCase] = [
    # Constant columns of ones: no information, but harmless to training (their weights learn
    # like a bias). The doctor notes them (info), and raises no warning.
    FaultCase(
        "constant-ones-relu-adam",
        "classification/constant",
        {
            "hidden_layer_sizes": (16,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 40,
        },
        (),
        None,
    ),
    FaultCase(
        "bc-scaled-tanh-gd",
        "breast_cancer/scaled",
        {
            "hidden_layer_sizes": (64, 32),
            "activation": "tanh",
            **_GD,
            "learning_rate_init": 0.1,
            "max_iter": 60,
        },
    ),
    FaultCase(
        "iris-relu-adam",
        "iris/scaled",
        {
            "hidden_layer_sizes": (16,),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
    ),
    FaultCase(
        "wine-tanh-sgd",
        "wine/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "tanh",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 40,
        },
    ),
    FaultCase(
        "digits-relu-adam",
        "digits/scaled",
        {"hidden_layer_sizes": (32,), "activation": "relu", **_ADAM, "max_iter": 30},
    ),
    FaultCase(
        "diabetes-scaled-tanh-adam",
        "diabetes/scaled",
        {
            "hidden_layer_sizes": (16,),
            "activation": "tanh",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
    ),
    FaultCase(
        "moons-relu-adam",
        "moons/scaled",
        {
            "hidden_layer_sizes": (32, 32),
            "activation": "relu",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
    ),
    FaultCase(
        "regression-scaled-relu-sgd",
        "regression/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "relu",
            **_SGD,
            "learning_rate_init": 0.01,
            "max_iter": 40,
        },
    ),
    FaultCase(
        "multiclass-sigmoid-adam",
        "classification3/scaled",
        {
            "hidden_layer_sizes": (32,),
            "activation": "sigmoid",
            **_ADAM,
            "learning_rate_init": 0.01,
            "max_iter": 60,
        },
    ),
]


@dataclass
class SuiteResult:
    """Outcome of the suite.

    Attributes
    ----------
    recall : float
        Share of all planted (expected) codes that were found.
    root_first : float
        Share of fault cases whose first finding is the planted root cause.
    false_alarms : int
        Healthy cases with a warning or an error.
    rows : list of dict
        Per case: ``name``, ``expected``, ``found``, ``missing``, ``top``, ``root_cause``,
        ``healthy``.
    """

    recall: float
    root_first: float
    false_alarms: int
    rows: list[dict[str, Any]]

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> SuiteResult:
        """The three numbers of the rows :func:`run_case` returns."""
        faults = [r for r in rows if r["root_cause"] is not None]
        planted = sum(len(r["expected"]) for r in faults)
        found = sum(len(r["expected"]) - len(r["missing"]) for r in faults)
        recall = found / planted if planted else math.nan
        root_first = (
            float(np.mean([r["top"] == r["root_cause"] for r in faults])) if faults else 0.0
        )
        false_alarms = sum(1 for r in rows if r["root_cause"] is None and not r["healthy"])
        return cls(recall, root_first, false_alarms, rows)

    def table(self) -> str:
        """A plain-text table of the rows and the three numbers."""
        lines = []
        for r in self.rows:
            if r["root_cause"] is None:
                status = "ok" if r["healthy"] else "FALSE ALARM " + ",".join(r["found"])
            else:
                status = (
                    "ok"
                    if not r["missing"] and r["top"] == r["root_cause"]
                    else (f"missing {r['missing']} top {r['top']}")
                )
            lines.append(f"{r['name']:34s} {status:30s} found: {', '.join(r['found'])}")
        lines.append(
            f"recall {self.recall:.1%}, root cause first {self.root_first:.1%}, "
            f"false alarms {self.false_alarms}"
        )
        return "\n".join(lines)


def run_case(case: FaultCase, **kwargs: Any) -> dict[str, Any]:
    """Diagnose one case and compare with what it expects."""
    from lossdoctor import diagnose

    X, y = load_case_data(case.dataset)
    d = diagnose(X, y, **{"random_state": 0, **case.params, **kwargs})
    found = [f.code for f in d.findings if f.severity != "info"]
    return {
        "name": case.name,
        "expected": list(case.expected),
        "found": found,
        "missing": [c for c in case.expected if c not in found],
        "top": found[0] if found else None,
        "root_cause": case.root_cause,
        "healthy": d.healthy,
    }


def run_suite(cases: list[FaultCase] | None = None, n_jobs: int = 1) -> SuiteResult:
    """Run fault and healthy cases and compute recall, root-cause-first rate and false alarms."""
    cases = FAULT_CASES + HEALTHY_CASES if cases is None else cases
    if n_jobs == 1:
        rows = [run_case(c) for c in cases]
    else:
        from joblib import Parallel, delayed

        rows = Parallel(n_jobs=n_jobs)(delayed(run_case)(c) for c in cases)
    return SuiteResult.from_rows(rows)


def main(argv: list[str] | None = None) -> None:
    """Run the whole suite and print one line per case, then the three numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="cases run in parallel (joblib)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the cases on a Dask cluster (e.g. tcp://host:8786; needs the 'dask' extra); "
        "'local' starts a LocalCluster",
    )
    args = parser.parse_args(argv)
    if args.scheduler is None:
        print(run_suite(n_jobs=args.jobs).table())
        return
    # The cases go to the cluster through joblib's Dask backend; the workers need lossdoctor
    # installed, and this module travels with the tasks (pickled by value).
    import cloudpickle
    import joblib
    from distributed import Client

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    address = None if args.scheduler == "local" else args.scheduler
    with Client(address), joblib.parallel_config(backend="dask"):
        print(run_suite(n_jobs=args.jobs).table())


if __name__ == "__main__":  # pragma: no cover
    main()
