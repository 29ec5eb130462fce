"""scikit-learn estimators: drop-in replacements for ``sklearn.neural_network.MLP*``.

The estimators are thin: they validate the input once, encode the targets, build a
:class:`~lossdoctor.network.Network` and an optimiser, and hand everything to
:func:`lossdoctor.training.fit`. Constructor parameters have scikit-learn's names and meanings;
lossdoctor adds ``solver="gd"`` (full-batch gradient descent), ``init``, ``init_scale``,
``dtype``, ``clip_norm`` and ``diagnose``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import schedules
from .losses import get_head
from .network import Network, forward, init_params
from .optimizers import Optimizer, adam, sgd
from .training import FitResult, History, fit

__all__ = ["MLPClassifier", "MLPRegressor"]

_SOLVERS = ("gd", "sgd", "adam")
_LR_SCHEDULES = ("constant", "invscaling")
_DTYPES = ("float64", "float32")
_OUT_ACTIVATION = {"binary": "logistic", "softmax": "softmax", "identity": "identity"}


class _BaseMLP(BaseEstimator):
    """Shared fitting logic of the classifier and the regressor."""

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] | int = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.Generator | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | None = 10,
        init: str | None = None,
        init_scale: float = 1.0,
        dtype: str = "float64",
        clip_norm: float | None = None,
        diagnose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.init = init
        self.init_scale = init_scale
        self.dtype = dtype
        self.clip_norm = clip_norm
        self.diagnose = diagnose

    # -- validation of hyper-parameters, once, at the boundary --------------------------------
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (int(sizes),)
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

    def _check_params(self) -> None:
        def positive(name: str, value: Any, allow_zero: bool = False) -> None:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
            if not ok:
                kind = "non-negative" if allow_zero else "positive"
                raise ValueError(f"{name} must be a {kind} number, got {value!r}")

        from .activations import ACTIVATIONS
        from .initializers import INITIALIZERS

        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; expected one of: "
                + ", ".join(sorted(ACTIVATIONS))
            )
        if self.solver not in _SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; expected one of: gd, sgd, adam")
        if self.learning_rate not in _LR_SCHEDULES and not callable(self.learning_rate):
            raise ValueError(
                f"learning_rate must be 'constant', 'invscaling' or a schedule, "
                f"got {self.learning_rate!r}"
            )
        if self.init is not None and self.init not in INITIALIZERS:
            raise ValueError(
                f"unknown init {self.init!r}; expected one of: " + ", ".join(INITIALIZERS)
            )
        if str(self.dtype) not in _DTYPES:
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        positive("learning_rate_init", self.learning_rate_init)
        positive("alpha", self.alpha, allow_zero=True)
        positive("init_scale", self.init_scale)
        positive("tol", self.tol, allow_zero=True)
        positive("epsilon", self.epsilon)
        if self.clip_norm is not None:
            positive("clip_norm", self.clip_norm)
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter <= 0:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if not (isinstance(self.momentum, numbers.Real) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Real) and 0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        nic = self.n_iter_no_change
        if nic is not None and (not isinstance(nic, numbers.Integral) or nic <= 0):
            raise ValueError(f"n_iter_no_change must be a positive integer or None, got {nic!r}")
        bs = self.batch_size
        if bs != "auto" and bs is not None and (not isinstance(bs, numbers.Integral) or bs <= 0):
            raise ValueError(f"batch_size must be 'auto', None or a positive integer, got {bs!r}")

    # -- pieces -------------------------------------------------------------------------------
    def _optimizer(self) -> Optimizer:
        lr: float | schedules.Schedule = float(self.learning_rate_init)
        if callable(self.learning_rate):
            lr = self.learning_rate
        elif self.learning_rate == "invscaling":
            lr = schedules.inverse_scaling(float(self.learning_rate_init), self.power_t)
        if self.solver == "adam":
            return adam(lr, self.beta_1, self.beta_2, self.epsilon)
        return sgd(lr, float(self.momentum), bool(self.nesterovs_momentum and self.momentum > 0))

    def _batch_size(self, n_samples: int) -> int | None:
        if self.solver == "gd" or self.batch_size is None:
            return None
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(int(self.batch_size), n_samples)

    def _rng(self) -> np.random.Generator:
        if isinstance(self.random_state, np.random.Generator):
            return self.random_state
        if isinstance(self.random_state, np.random.RandomState):
            # A legacy RandomState seeds a Generator; the global RNG is never used.
            return np.random.default_rng(self.random_state.randint(2**31 - 1))
        return np.random.default_rng(self.random_state)

    def _encode(self, y: NDArray, *, fitting: bool) -> NDArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _head(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> _BaseMLP:
        self._check_params()
        hidden = self._hidden_sizes()
        dtype = np.dtype(str(self.dtype))
        first = not (self.warm_start and hasattr(self, "params_"))
        Xv, y = validate_data(
            self, X, y, reset=first, dtype=dtype, multi_output=True, y_numeric=False
        )
        X = np.ascontiguousarray(Xv, dtype=dtype)
        Y = self._encode(y, fitting=first).astype(dtype, copy=False)
        rng = self._rng()
        net = Network((X.shape[1], *hidden, Y.shape[1]), self.activation, self._head())
        if first:
            params = init_params(net, rng, init=self.init, init_scale=self.init_scale, dtype=dtype)
            opt_state = None
        else:
            if self.network_ != net:
                raise ValueError(
                    f"warm_start needs the same architecture; the model has {self.network_} "
                    f"but the data and parameters give {net}"
                )
            params, opt_state = self.params_, self._opt_state
            if any(p.dtype != dtype for p in params.values()):
                # dtype was changed since the last fit: go on in the new precision.
                params = {k: p.astype(dtype) for k, p in params.items()}
                opt_state = None
        optimizer = self._optimizer()
        if opt_state is not None and type(opt_state) is not type(optimizer.init(params)):
            opt_state = None  # the solver or momentum was changed: the old state does not apply

        validation = None
        if self.early_stopping:
            # A column vector is one target like a 1-d y (the encoder warns about it); stratify
            # on it in the same way so that both give the same split.
            one_column = y.ndim == 1 or y.shape[1] == 1
            stratify = y.reshape(-1) if isinstance(self, ClassifierMixin) and one_column else None
            seed = int(rng.integers(2**31 - 1))
            X, X_val, Y, Y_val = train_test_split(
                X, Y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
            )
            validation = (X_val, Y_val)
        result: FitResult = fit(
            net,
            params,
            X,
            Y,
            optimizer=optimizer,
            epochs=int(self.max_iter),
            batch_size=self._batch_size(X.shape[0]),
            rng=rng if self.shuffle else None,
            alpha=float(self.alpha),
            clip_norm=self.clip_norm,
            validation=validation,
            early_stopping=bool(self.early_stopping),
            n_iter_no_change=self.n_iter_no_change,
            tol=float(self.tol),
            opt_state=opt_state,
            verbose=bool(self.verbose),
        )
        self._set_fitted(net, result, X.shape[0], first)
        self._warn_about_stop(result.history)
        if self.diagnose:
            from .diagnostics.diagnose import diagnose_fitted

            self.diagnosis_ = diagnose_fitted(self, X, Y)
        return self

    def _set_fitted(self, net: Network, result: FitResult, n_samples: int, first: bool) -> None:
        history = result.history
        if not first and hasattr(self, "history_"):
            history = _concat_histories(self.history_, history)
        self.network_ = net
        self.params_ = result.params
        self._opt_state = result.opt_state
        self.history_: History = history
        L = len(net.layer_sizes) - 1
        self.coefs_ = [result.params[f"W{k}"] for k in range(1, L + 1)]
        self.intercepts_ = [result.params[f"b{k}"] for k in range(1, L + 1)]
        self.n_layers_ = L + 1
        self.n_outputs_ = net.layer_sizes[-1]
        self.out_activation_ = _OUT_ACTIVATION[net.head]
        self.loss_curve_ = list(history.loss)
        self.n_iter_ = len(history.loss)
        self.t_ = n_samples * self.n_iter_
        self.loss_ = history.loss[-1] if history.loss else math.nan
        if self.early_stopping:
            self.validation_scores_ = list(history.val_score)
            # Epochs of earlier warm-started fits without early stopping have NaN scores.
            scored = [v for v in history.val_score if not math.isnan(v)]
            self.best_validation_score_ = max(scored, default=math.nan)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None  # type: ignore[assignment]
            self.best_validation_score_ = None  # type: ignore[assignment]
            self.best_loss_ = min(history.loss, default=math.nan)

    def _warn_about_stop(self, history: History) -> None:
        """Warn, as scikit-learn does, when training did not end by converging."""
        if history.stop_reason == "non-finite":
            warnings.warn(f"lossdoctor: {history.message}", RuntimeWarning, stacklevel=4)
        elif history.stop_reason == "max_iter" and self.n_iter_no_change is not None:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _logits(self, X: ArrayLike) -> NDArray:
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.dtype(self.params_["W1"].dtype))
        logits, _ = forward(self.network_, self.params_, np.ascontiguousarray(X))
        return logits


def _concat_histories(a: History, b: History) -> History:
    out = History()
    for name in ("loss", "val_loss", "val_score", "learning_rate", "grad_norm"):
        setattr(out, name, getattr(a, name) + getattr(b, name))
    offset = a.epoch[-1] if a.epoch else 0
    t0 = a.time[-1] if a.time else 0.0
    out.epoch = a.epoch + [e + offset for e in b.epoch]
    out.time = a.time + [t + t0 for t in b.time]
    out.stop_reason, out.message, out.best_epoch = b.stop_reason, b.message, b.best_epoch
    return out


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by lossdoctor's NumPy core.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`: the same parameters
    with the same meaning and defaults, the same fitted attributes. Binary problems use one
    sigmoid output with binary cross-entropy, multi-class ones a softmax with cross-entropy, and
    multi-label indicator targets one sigmoid per label; all losses are computed from logits.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer; ``()`` gives logistic or softmax regression.
    activation : {"tanh", "relu", "leaky_relu", "sigmoid", "logistic", "identity"}, default="relu"
    solver : {"adam", "sgd", "gd"}, default="adam"
        ``gd`` is full-batch gradient descent (``batch_size`` is ignored); ``sgd`` and ``gd`` use
        ``momentum`` and ``nesterovs_momentum``; set ``momentum=0`` for plain descent.
    alpha : float, default=1e-4
        L2 penalty: ``alpha / (2 n) * sum ||W||**2`` is added to the mean loss.
    batch_size : int, "auto" or None, default="auto"
        ``"auto"`` is ``min(200, n_samples)``; None is the full batch.
    learning_rate : {"constant", "invscaling"} or callable, default="constant"
        A callable is a schedule from the update count to the step size.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
    random_state : int, numpy.random.Generator or None
        Seeds a :class:`numpy.random.Generator` for the weights, shuffling and validation split.
    tol : float, default=1e-4
    verbose : bool, default=False
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy stops improving and
        keep the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float
        Adam's parameters.
    n_iter_no_change : int or None, default=10
        None never stops before ``max_iter`` (and then no ConvergenceWarning is raised).
    init : str, optional
        Weight initialiser (see :mod:`lossdoctor.initializers`); default fits the activation.
    init_scale : float, default=1.0
    dtype : {"float64", "float32"}, default="float64"
        Precision of the weights and of every step of training.
    clip_norm : float, optional
        Clip the gradient to this global norm.
    diagnose : bool, default=False
        After fitting, run lossdoctor's diagnosis and store it as ``diagnosis_``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape (fan_in, fan_out), as in scikit-learn.
    intercepts_ : list of ndarray
    params_ : dict of str to ndarray
        The same arrays as ``W1, b1, ...``.
    network_ : Network
    history_ : History
        Per-epoch record (``history_.as_dict()``, ``history_.to_frame()``).
    loss_, best_loss_, loss_curve_, n_iter_, t_, n_layers_, n_outputs_, out_activation_,
    validation_scores_, best_validation_score_, n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from lossdoctor import MLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = MLPClassifier((128, 64), activation="tanh", solver="gd", momentum=0,
    ...                     learning_rate_init=0.5, max_iter=300, n_iter_no_change=None,
    ...                     random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.97
    True
    """

    def _head(self) -> str:
        return self._head_name

    def _encode(self, y: NDArray, *, fitting: bool) -> NDArray:
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected.",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y.ravel()
        check_classification_targets(y)
        if fitting:
            kind = type_of_target(y)
            if kind == "multilabel-indicator":
                self.classes_ = np.arange(y.shape[1])
                self._head_name = "binary"
            else:
                self.classes_ = np.unique(y)
                if len(self.classes_) < 2:
                    raise ValueError(
                        f"the target has only one class ({self.classes_[0]!r}); a classifier "
                        "needs at least 2 classes"
                    )
                self._head_name = "binary" if len(self.classes_) == 2 else "softmax"
            self._multilabel = kind == "multilabel-indicator"
        if self._multilabel:
            return np.asarray(y, dtype=np.float64)
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y has classes not seen in the first fit: {unseen[:5].tolist()}")
        if len(self.classes_) == 2:
            return (y == self.classes_[1]).astype(np.float64)[:, None]
        return (y[:, None] == self.classes_[None, :]).astype(np.float64)

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPClassifier:
        """Fit the model to data matrix X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)

        Returns
        -------
        self
        """
        self._fit(X, y)
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """Class probabilities, ndarray of shape (n_samples, n_classes)."""
        logits = self._logits(X)
        proba = get_head(self.network_.head).output(logits)
        if len(self.classes_) == 2 and not self._multilabel:
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X: ArrayLike) -> NDArray:
        """Logarithm of the class probabilities, computed from logits (finite for finite logits)."""
        from .losses import log_sigmoid

        logits = self._logits(X)
        if self.network_.head == "softmax":
            shifted = logits - logits.max(axis=1, keepdims=True)
            return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if len(self.classes_) == 2 and not self._multilabel:
            return np.hstack([log_sigmoid(-logits), log_sigmoid(logits)])
        return log_sigmoid(logits)

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted class labels, ndarray of shape (n_samples,) (or (n_samples, n_labels))."""
        logits = self._logits(X)
        if self._multilabel:
            return (logits > 0).astype(int)
        if len(self.classes_) == 2:
            return self.classes_[(logits[:, 0] > 0).astype(int)]
        return self.classes_[logits.argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by lossdoctor's NumPy core.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`, with an identity
    output and the squared error ``0.5 * mean ||y - f(x)||**2``. Parameters and attributes are
    those of :class:`MLPClassifier` (without ``classes_``).
    """

    def _head(self) -> str:
        return "identity"

    def _encode(self, y: NDArray, *, fitting: bool) -> NDArray:
        y = np.asarray(y, dtype=np.float64)
        if fitting:
            self._y_ndim = y.ndim
        return y[:, None] if y.ndim == 1 else y

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPRegressor:
        """Fit the model to data matrix X and targets y.

        ``y`` has shape (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self
        """
        self._fit(X, y)
        return self

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted values, ndarray of shape (n_samples,) or (n_samples, n_targets)."""
        logits = self._logits(X)
        return logits[:, 0] if self._y_ndim == 1 else logits

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
