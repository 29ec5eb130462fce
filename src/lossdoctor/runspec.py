"""The run specification: estimator parameters as plain, validated data, and the start of a run.

Everything that trains a network from scikit-learn-style parameters goes through this module: the
estimators, the command line, the doctor, the range test, the sweep and sharpness. It owns

- :func:`make_spec`: parameters -> :class:`RunSpec`, validated once against a declarative table
  of constraints (:data:`CONSTRAINTS`, like scikit-learn's ``_parameter_constraints``);
- :class:`RunSpec`: the pieces of a run (network, initial weights, optimiser, schedule, batch
  size, the options of :func:`~lossdoctor.training.fit`), each derived in one place;
- :func:`fit_target_encoding` / :class:`TargetEncoding`: targets -> the head and the encoded
  ``Y`` (classes, binary, multi-label, regression);
- :func:`start_run` and :func:`train`: the draws of a run in a fixed order (weights, then the
  early-stopping split, then shuffling), so that every caller gets the estimator's exact run.

scikit-learn is imported inside the functions that need it, so that importing this module is cheap.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import schedules
from .activations import ACTIVATIONS
from .initializers import DEFAULT_INIT, INITIALIZERS
from .network import Network, Params, init_params
from .optimizers import Optimizer, adam, sgd
from .training import Callback, EpochRate, FitResult, StopState, fit, fit_lbfgs

__all__ = [
    "CLASSIC_SETUP",
    "CONSTRAINTS",
    "DEFAULTS",
    "OptimizerKind",
    "Run",
    "RunSpec",
    "TargetEncoding",
    "fit_target_encoding",
    "make_spec",
    "start_run",
    "train",
]

SOLVERS = ("gd", "sgd", "adam", "lbfgs")
LR_SCHEDULES = ("constant", "invscaling", "adaptive")
DTYPES = ("float64", "float32")
LOSSES = ("squared_error", "poisson")


# -- the constraints, declared once ---------------------------------------------------------------
def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _real(value) and math.isfinite(value) and value > 0


def _non_negative(value: Any) -> bool:
    return _real(value) and math.isfinite(value) and value >= 0


def _unit_interval(value: Any) -> bool:
    return isinstance(value, numbers.Real) and 0 <= float(value) < 1


class Constraint(NamedTuple):
    """One parameter's rule: ``check(value)`` must hold, else ``message`` names the value.

    ``when(params)`` limits the rule to some set-ups (``validation_fraction`` matters only with
    early stopping).
    """

    name: str
    check: Callable[[Any], bool]
    message: str
    when: Callable[[Mapping[str, Any]], bool] = lambda params: True


#: The rules of every parameter, checked in this order; the first that fails raises ValueError.
CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint(
        "activation",
        lambda v: v in ACTIVATIONS,
        "unknown activation {value!r}; expected one of: " + ", ".join(sorted(ACTIVATIONS)),
    ),
    Constraint(
        "solver",
        lambda v: v in SOLVERS,
        "unknown solver {value!r}; expected one of: gd, sgd, adam, lbfgs",
    ),
    Constraint(
        "learning_rate",
        lambda v: v in LR_SCHEDULES or callable(v),
        "learning_rate must be 'constant', 'invscaling', 'adaptive' or a schedule, got {value!r}",
    ),
    Constraint(
        "loss",
        lambda v: v in LOSSES,
        "unknown loss {value!r}; expected one of: squared_error, poisson",
    ),
    Constraint(
        "init",
        lambda v: v is None or v in INITIALIZERS,
        "unknown init {value!r}; expected one of: " + ", ".join(INITIALIZERS),
    ),
    Constraint(
        "dtype",
        lambda v: v is None or str(v) in DTYPES,
        "dtype must be None, 'float64' or 'float32', got {value!r}",
    ),
    Constraint(
        "learning_rate_init",
        _positive,
        "learning_rate_init must be a positive number, got {value!r}",
    ),
    Constraint("alpha", _non_negative, "alpha must be a non-negative number, got {value!r}"),
    Constraint("init_scale", _positive, "init_scale must be a positive number, got {value!r}"),
    Constraint("tol", _non_negative, "tol must be a non-negative number, got {value!r}"),
    Constraint("epsilon", _positive, "epsilon must be a positive number, got {value!r}"),
    Constraint(
        "clip_norm",
        lambda v: v is None or _positive(v),
        "clip_norm must be a positive number, got {value!r}",
    ),
    Constraint(
        "max_iter",
        lambda v: isinstance(v, numbers.Integral) and int(v) > 0,
        "max_iter must be a positive integer, got {value!r}",
    ),
    Constraint(
        "max_fun",
        lambda v: isinstance(v, numbers.Integral) and int(v) > 0,
        "max_fun must be a positive integer, got {value!r}",
    ),
    Constraint("momentum", _unit_interval, "momentum must be in [0, 1), got {value!r}"),
    Constraint("beta_1", _unit_interval, "beta_1 must be in [0, 1), got {value!r}"),
    Constraint("beta_2", _unit_interval, "beta_2 must be in [0, 1), got {value!r}"),
    Constraint(
        "validation_fraction",
        lambda v: 0 < v < 1,
        "validation_fraction must be in (0, 1), got {value!r}",
        when=lambda params: bool(params["early_stopping"]),
    ),
    Constraint(
        "n_iter_no_change",
        lambda v: v is None or (isinstance(v, numbers.Integral) and int(v) > 0) or v == math.inf,
        "n_iter_no_change must be a positive integer, inf or None, got {value!r}",
    ),
    Constraint(
        "batch_size",
        lambda v: v == "auto" or v is None or (isinstance(v, numbers.Integral) and int(v) > 0),
        "batch_size must be 'auto', None or a positive integer, got {value!r}",
    ),
)


def hidden_sizes(value: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints (an int is one layer).

    Raises
    ------
    ValueError
        Naming the value that is not a positive integer.
    """
    sizes = (int(value),) if isinstance(value, numbers.Integral) else value
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(
            f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}"
        ) from None
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s <= 0:
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {s!r}")
    return tuple(int(s) for s in sizes)


# -- the specification ----------------------------------------------------------------------------
class OptimizerKind(NamedTuple):
    """The optimiser as the stability theory names it: ``gd``, ``momentum``, ``nesterov`` or
    ``adam``, with its momentum (Adam: ``beta_1``) and whether Nesterov's form is used."""

    name: str
    momentum: float
    nesterov: bool


@dataclass(frozen=True)
class RunSpec:
    """Validated estimator parameters (scikit-learn's names and meanings), as plain data."""

    hidden_layer_sizes: tuple[int, ...] = (100,)
    activation: str = "relu"
    solver: str = "adam"
    alpha: float = 0.0001
    batch_size: int | str | None = "auto"
    learning_rate: Any = "constant"  # "constant", "invscaling" or a schedule (callable)
    learning_rate_init: float = 0.001
    power_t: float = 0.5
    max_iter: int = 200
    shuffle: bool = True
    random_state: Any = None
    tol: float = 1e-4
    verbose: bool = False
    warm_start: bool = False
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    early_stopping: bool = False
    validation_fraction: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    n_iter_no_change: float | None = 10
    max_fun: int = 15000
    loss: str = "squared_error"  # the regressor's; a classifier's loss follows its targets
    init: str | None = None
    init_scale: float = 1.0
    dtype: str | None = None  # None: float32 data trains in float32, anything else in float64
    clip_norm: float | None = None
    diagnose: bool = False

    def get_params(self) -> dict[str, Any]:
        """The parameters as an estimator's ``get_params()`` gives them (sorted by name)."""
        return {name: getattr(self, name) for name in sorted(DEFAULTS)}

    # -- the pieces of a run, each derived here and nowhere else --
    @property
    def np_dtype(self) -> np.dtype:
        """The precision of the weights and of every step of training (float64 for None)."""
        return np.dtype("float64" if self.dtype is None else self.dtype)

    def dtype_for(self, X: Any) -> np.dtype:
        """The precision of a run on ``X``: ``dtype``, or with None the data's (float32 stays
        float32, anything else is float64), as scikit-learn keeps the input's precision."""
        if self.dtype is not None:
            return np.dtype(self.dtype)
        kind = getattr(X, "dtype", None)
        return np.dtype(np.float32) if kind == np.float32 else np.dtype(np.float64)

    @property
    def sklearn_draws(self) -> bool:
        """Whether the run draws as scikit-learn does: its weights from a legacy ``RandomState``
        (``check_random_state``), then the early-stopping split and the shuffling from it too.

        So it does with the default ``init`` unless ``random_state`` is a ``Generator``.
        """
        default = self.init is None or self.init == DEFAULT_INIT
        return default and not isinstance(self.random_state, np.random.Generator)

    @property
    def optimizer_kind(self) -> OptimizerKind:
        """Which optimiser these parameters give, as :func:`stability_threshold` names it."""
        if self.solver == "adam":
            return OptimizerKind("adam", float(self.beta_1), False)
        if self.solver == "lbfgs":
            return OptimizerKind("lbfgs", 0.0, False)
        momentum = float(self.momentum)
        nesterov = bool(self.nesterovs_momentum and momentum > 0)
        name = "gd" if momentum == 0 else ("nesterov" if nesterov else "momentum")
        return OptimizerKind(name, momentum, nesterov)

    def schedule(self) -> float | schedules.Schedule:
        """The step size: a float, or a schedule of the update count.

        ``invscaling`` and ``adaptive`` change the step between epochs (:meth:`epoch_rate`), as
        scikit-learn does, and only for ``sgd`` and ``gd``: Adam ignores ``learning_rate``.
        """
        if callable(self.learning_rate):
            return self.learning_rate  # type: ignore[no-any-return]
        return float(self.learning_rate_init)

    def epoch_rate(self, t0: int = 0) -> EpochRate | None:
        """scikit-learn's changes of the step size between epochs, or None.

        ``t0`` is the number of samples seen by earlier runs (``t_``).
        """
        if self.solver not in ("sgd", "gd") or self.learning_rate not in ("invscaling", "adaptive"):
            return None
        return EpochRate(
            self.learning_rate,
            self.optimizer,
            float(self.learning_rate_init),
            float(self.power_t),
            int(t0),
        )

    def optimizer(self, learning_rate: float | schedules.Schedule | None = None) -> Optimizer:
        """The optimiser, at :meth:`schedule` or at the given ``learning_rate``.

        ``lbfgs`` has no step size: its optimiser is plain descent at ``learning_rate_init``,
        which only the range test and the sweep use (training with lbfgs goes through SciPy).
        """
        lr = self.schedule() if learning_rate is None else learning_rate
        if self.solver == "adam":
            return adam(lr, self.beta_1, self.beta_2, self.epsilon)
        return sgd(lr, float(self.momentum), bool(self.nesterovs_momentum and self.momentum > 0))

    def batch_size_for(self, n_samples: int) -> int | None:
        """Mini-batch size for ``n_samples`` samples; None is the full batch."""
        if self.solver == "gd" or self.batch_size is None:
            return None
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(int(self.batch_size), n_samples)

    def rng(self) -> np.random.Generator | np.random.RandomState:
        """The run's generator; the global NumPy RNG is never used.

        With :attr:`sklearn_draws` a ``RandomState`` as ``check_random_state`` gives it (a new
        one seeded from the operating system for None), else a ``Generator``.
        """
        if isinstance(self.random_state, np.random.Generator):
            return self.random_state
        if self.sklearn_draws:
            if isinstance(self.random_state, np.random.RandomState):
                return self.random_state
            return np.random.RandomState(self.random_state)
        if isinstance(self.random_state, np.random.RandomState):
            # A legacy RandomState seeds a Generator.
            return np.random.default_rng(self.random_state.randint(2**31 - 1))
        return np.random.default_rng(self.random_state)

    def network(self, n_features: int, n_outputs: int, head: str) -> Network:
        """The network for data of ``n_features`` inputs and ``n_outputs`` encoded targets."""
        return Network((n_features, *self.hidden_layer_sizes, n_outputs), self.activation, head)

    def initial_params(
        self,
        net: Network,
        rng: np.random.Generator | np.random.RandomState,
        dtype: Any = None,
    ) -> Params:
        """Draw the initial weights (the first draws of every run), in ``dtype`` (by default
        :attr:`np_dtype`)."""
        return init_params(
            net,
            rng,  # type: ignore[arg-type]
            init=self.init,
            init_scale=self.init_scale,
            dtype=self.np_dtype if dtype is None else dtype,
        )


#: The set-up of the classic question "why is my loss increasing in gradient descent?"
#: (datascience.stackexchange 73797): hidden layers 128 and 64, tanh, one sigmoid output, a naive
#: standard-normal initialisation, full-batch gradient descent at learning rate 1 for 100 epochs,
#: no regularisation. Used on the built-in breast-cancer data with unscaled inputs.
CLASSIC_SETUP: dict[str, Any] = {
    "hidden_layer_sizes": (128, 64),
    "activation": "tanh",
    "solver": "gd",
    "momentum": 0.0,
    "learning_rate_init": 1.0,
    "max_iter": 100,
    "init": "normal",
    "init_scale": 1.0,
    "alpha": 0.0,
    "n_iter_no_change": None,
}

#: The estimators' parameters and their defaults (scikit-learn's, plus lossdoctor's own).
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(RunSpec)}


def make_spec(params: Mapping[str, Any], *, caller: str = "the set-up") -> RunSpec:
    """Validate estimator parameters once and return them as a :class:`RunSpec`.

    Parameters
    ----------
    params : mapping of str to object
        Parameters of :class:`~lossdoctor.MLPClassifier` (as ``get_params()`` gives them); those
        not given take the estimators' defaults (:data:`DEFAULTS`).
    caller : str
        Who was given the parameters, for the message about an unknown one.

    Raises
    ------
    TypeError
        For a parameter that the estimators do not have.
    ValueError
        The first parameter that breaks its rule in :data:`CONSTRAINTS`, with its value.
    """
    unknown = [name for name in params if name not in DEFAULTS]
    if unknown:
        raise TypeError(
            f"{caller} got an unknown set-up parameter: {unknown[0]!r}; expected one of: "
            + ", ".join(sorted(DEFAULTS))
        )
    params = {**DEFAULTS, **params}
    for rule in CONSTRAINTS:
        value = params[rule.name]
        if rule.when(params) and not rule.check(value):
            raise ValueError(rule.message.format(value=value))
    sizes = hidden_sizes(params["hidden_layer_sizes"])
    dtype = None if params["dtype"] is None else str(params["dtype"])
    return RunSpec(**{**params, "hidden_layer_sizes": sizes, "dtype": dtype})


# -- targets ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetEncoding:
    """How targets become the network's outputs, fixed by the first fit.

    Attributes
    ----------
    head : {"binary", "softmax", "identity"}
    classes : ndarray of shape (n_classes,) or None
        Class labels (classification), None for regression.
    multilabel : bool
        Indicator targets, one sigmoid per label.
    y_ndim : int
        Dimensions of the regression target (1 or 2), so predictions keep its shape.
    """

    head: str
    classes: NDArray | None = None
    multilabel: bool = False
    y_ndim: int = 1

    def encode(self, y: NDArray) -> NDArray:
        """Targets as float64 outputs, ndarray of shape (n_samples, n_outputs).

        Raises
        ------
        ValueError
            For class labels not seen when the encoding was fitted.
        """
        if self.classes is None:
            y = np.asarray(y, dtype=np.float64)
            return y[:, None] if y.ndim == 1 else y
        y = _class_labels(y, warn=True)
        if self.multilabel:
            return np.asarray(y, dtype=np.float64)
        unseen = np.setdiff1d(y, self.classes)
        if unseen.size:
            raise ValueError(f"y has classes not seen in the first fit: {unseen[:5].tolist()}")
        if len(self.classes) == 1:  # scikit-learn's LabelBinarizer: one column of zeros
            return np.zeros((y.shape[0], 1))
        if len(self.classes) == 2:
            return (y == self.classes[1]).astype(np.float64)[:, None]
        return (y[:, None] == self.classes[None, :]).astype(np.float64)


def _class_labels(y: NDArray, *, warn: bool) -> NDArray:
    """Class labels as scikit-learn accepts them: a column vector becomes 1-d (and warns)."""
    from sklearn.exceptions import DataConversionWarning
    from sklearn.utils.multiclass import check_classification_targets

    if y.ndim == 2 and y.shape[1] == 1:
        if warn:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected.",
                DataConversionWarning,
                stacklevel=5,
            )
        y = y.ravel()
    check_classification_targets(y)
    return y


def fit_target_encoding(
    task: str, y: NDArray, loss: str = "squared_error", *, one_class: bool = False
) -> TargetEncoding:
    """The encoding of a first fit: classes and head for classification, shape for regression.

    Parameters
    ----------
    task : {"classification", "regression"}
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
    loss : {"squared_error", "poisson"}
        The regressor's loss: ``poisson`` gives the ``poisson`` head (log link).
    one_class : bool
        Accept a target with a single class, as scikit-learn's estimators do: one sigmoid
        output trained towards 0 (its label binariser's encoding), every prediction that class.

    Raises
    ------
    ValueError
        For a classification target with fewer than two classes (unless ``one_class``).
    """
    if task == "regression":
        head = "poisson" if loss == "poisson" else "identity"
        return TargetEncoding(head, None, False, np.asarray(y).ndim)
    from sklearn.utils.multiclass import type_of_target

    y = _class_labels(y, warn=False)  # encode() warns, once
    if type_of_target(y) == "multilabel-indicator":
        return TargetEncoding("binary", np.arange(y.shape[1]), True)
    classes = np.unique(y)
    if len(classes) == 1 and one_class:
        return TargetEncoding("binary", classes, False)
    if len(classes) < 2:
        raise ValueError(
            f"the target has only one class ({classes[0]!r}); a classifier needs at least 2 classes"
        )
    return TargetEncoding("binary" if len(classes) == 2 else "softmax", classes, False)


# -- starting and training a run -------------------------------------------------------------------
@dataclass
class Run:
    """A run ready to train: what :func:`start_run` drew, in the estimator's order."""

    net: Network
    params: Params
    X: NDArray
    Y: NDArray
    rng: np.random.Generator | np.random.RandomState
    validation: tuple[NDArray, NDArray] | None = None
    sample_weight: NDArray | None = None


def start_run(
    spec: RunSpec,
    X: NDArray,
    Y: NDArray,
    head: str,
    *,
    params: Params | None = None,
    stratify: NDArray | None = None,
    rng: np.random.Generator | np.random.RandomState | None = None,
    sample_weight: NDArray | None = None,
) -> Run:
    """Draw the initial weights and (with early stopping) split off the validation set.

    The draws come in the estimator's order: weights first (skipped when ``params`` are given, a
    warm start), then the seed of the validation split; shuffling then draws from the same
    generator during training.

    Parameters
    ----------
    spec : RunSpec
    X : ndarray of shape (n_samples, n_features), in ``spec.dtype``
    Y : ndarray of shape (n_samples, n_outputs), encoded targets in ``spec.dtype``
    head : str
        The output head (see :class:`TargetEncoding`).
    params : dict of str to ndarray, optional
        Weights to start from instead of drawing new ones.
    stratify : ndarray of shape (n_samples,), optional
        Labels that the validation split keeps in proportion.
    rng : numpy.random.Generator or RandomState, optional
        Defaults to ``spec.rng()``.
    sample_weight : ndarray of shape (n_samples,), optional
        Split with the data.

    Raises
    ------
    ValueError
        When the validation set would have fewer than 2 samples (scikit-learn's message).
    """
    rng = spec.rng() if rng is None else rng
    net = spec.network(X.shape[1], Y.shape[1], head)
    if params is None:
        params = spec.initial_params(net, rng, X.dtype)
    validation = None
    if spec.early_stopping and spec.solver != "lbfgs":
        from sklearn.model_selection import train_test_split

        # A RandomState is handed over as scikit-learn hands it; a Generator gives a seed.
        split_rng = rng if isinstance(rng, np.random.RandomState) else int(rng.integers(2**31 - 1))
        arrays = [X, Y] if sample_weight is None else [X, Y, sample_weight]
        parts = train_test_split(
            *arrays, test_size=spec.validation_fraction, random_state=split_rng, stratify=stratify
        )
        X, X_val, Y, Y_val = parts[:4]
        if sample_weight is not None:
            sample_weight = parts[4]
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        validation = (X_val, Y_val)
    return Run(net, params, X, Y, rng, validation, sample_weight)


def train(
    spec: RunSpec,
    run: Run,
    *,
    optimizer: Optimizer | None = None,
    rng: np.random.Generator | np.random.RandomState | None = None,
    opt_state: Any = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    verbose: bool | None = None,
    epochs: int | None = None,
    t0: int = 0,
    stop_state: StopState | None = None,
) -> FitResult:
    """Train ``run`` with the options of ``spec`` (epochs, batches, penalty, stopping).

    Parameters
    ----------
    spec : RunSpec
    run : Run
    optimizer : Optimizer, optional
        Defaults to ``spec.optimizer()``.
    rng : numpy.random.Generator, optional
        The shuffling generator; defaults to the run's when ``spec.shuffle``, else none.
    opt_state : optional
        Optimiser state to continue from (a warm start).
    callbacks, progress
        As for :func:`~lossdoctor.training.fit`.
    verbose : bool, optional
        Defaults to ``spec.verbose``.
    epochs : int, optional
        Defaults to ``spec.max_iter`` (``partial_fit`` trains one).
    t0 : int
        Samples seen by earlier runs (``invscaling`` goes on from them).
    stop_state : StopState, optional
        What the stopping rules remembered at the end of an earlier run.

    ``solver="lbfgs"`` trains with :func:`~lossdoctor.training.fit_lbfgs`.
    """
    verbose = bool(spec.verbose if verbose is None else verbose)
    if spec.solver == "lbfgs":
        return fit_lbfgs(
            run.net,
            run.params,
            run.X,
            run.Y,
            max_iter=int(spec.max_iter if epochs is None else epochs),
            max_fun=int(spec.max_fun),
            tol=float(spec.tol),
            alpha=float(spec.alpha),
            sample_weight=run.sample_weight,
            callbacks=callbacks,
            verbose=verbose,
        )
    if rng is None and spec.shuffle:
        rng = run.rng
    if optimizer is None:
        optimizer = spec.optimizer()
    rate = spec.epoch_rate(t0)
    return fit(
        run.net,
        run.params,
        run.X,
        run.Y,
        optimizer=optimizer,
        epochs=int(spec.max_iter if epochs is None else epochs),
        batch_size=spec.batch_size_for(run.X.shape[0]),
        rng=rng,
        alpha=float(spec.alpha),
        clip_norm=spec.clip_norm,
        validation=run.validation,
        early_stopping=bool(spec.early_stopping) and run.validation is not None,
        n_iter_no_change=spec.n_iter_no_change,
        tol=float(spec.tol),
        callbacks=callbacks,
        opt_state=opt_state,
        progress=progress,
        verbose=verbose,
        sample_weight=run.sample_weight,
        epoch_rate=rate,
        stop_state=stop_state,
    )
