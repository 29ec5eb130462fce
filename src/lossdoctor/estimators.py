"""scikit-learn estimators: drop-in replacements for ``sklearn.neural_network.MLP*``.

The estimators are thin: they validate the input once, encode the targets, build a
:class:`~lossdoctor.network.Network` and an optimiser, and hand everything to
:func:`lossdoctor.training.fit`. Constructor parameters have scikit-learn's names and meanings;
lossdoctor adds ``solver="gd"`` (full-batch gradient descent), ``init``, ``init_scale``,
``dtype``, ``clip_norm`` and ``diagnose``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .losses import get_head
from .network import Network, Params, forward
from .runspec import (
    RunSpec,
    TargetEncoding,
    fit_target_encoding,
    make_spec,
    start_run,
    train,
)
from .training import FitResult, History, StopState

__all__ = ["MLPClassifier", "MLPRegressor", "restore_fitted"]

_OUT_ACTIVATION = {
    "binary": "logistic",
    "softmax": "softmax",
    "identity": "identity",
    "poisson": "exp",
}
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and "
    "need to be preprocessed."
)


class StepSize(NamedTuple):
    """scikit-learn's ``_optimizer`` as far as its tests read it: the current step size.

    A plain record (the optimiser itself is a pair of closures and does not pickle);
    ``partial_fit`` rebuilds the optimiser at this step size.
    """

    name: str
    learning_rate: float


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
        n_iter_no_change: float | None = 10,
        max_fun: int = 15000,
        init: str | None = None,
        init_scale: float = 1.0,
        dtype: str | None = None,
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
        self.max_fun = max_fun
        self.init = init
        self.init_scale = init_scale
        self.dtype = dtype
        self.clip_norm = clip_norm
        self.diagnose = diagnose

    # -- fitting: the run specification does the work -----------------------------------------
    def _task(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, incremental: bool = False
    ) -> _BaseMLP:
        spec = make_spec(self.get_params())
        if incremental and spec.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "coefs_") or not (self.warm_start or incremental)
        Xv, y = validate_data(
            self, X, y, reset=first, accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32), multi_output=True,
            y_numeric=isinstance(self, RegressorMixin),
        )  # fmt: skip
        dtype = spec.dtype_for(Xv)
        X = (
            Xv.astype(dtype, copy=False)
            if hasattr(Xv, "tocsr")
            else np.ascontiguousarray(Xv, dtype)
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        y = self._targets(y, first, incremental, spec)
        Y = self.target_encoding_.encode(y).astype(dtype, copy=False)
        head = self.target_encoding_.head
        net = spec.network(X.shape[1], Y.shape[1], head)
        params, optimizer, opt_state, stops, t0 = None, None, None, None, 0
        if not first:
            params = self._warm_params(net, dtype)
            stops, t0 = self._stop_state(), int(getattr(self, "t_", 0))
            if incremental and hasattr(self, "_optimizer"):
                optimizer = spec.optimizer(self._optimizer.learning_rate)
                opt_state = getattr(self, "optimizer_state_", None)
                if opt_state is not None and type(opt_state) is not type(optimizer.init(params)):
                    opt_state = None  # the solver or momentum was changed
        # scikit-learn stratifies the early-stopping split on the binarised labels of a
        # single-output classifier only.
        binary = head == "binary" and not self.target_encoding_.multilabel
        stratify = Y.astype(bool) if isinstance(self, ClassifierMixin) and binary else None
        run = start_run(
            spec, X, Y, head, params=params, stratify=stratify, sample_weight=sample_weight
        )
        result = train(
            spec, run, optimizer=optimizer, opt_state=opt_state, stop_state=stops, t0=t0,
            epochs=1 if incremental else None,
        )  # fmt: skip
        self._check_finite(result, spec)
        self._set_fitted(run.net, result, run.X.shape[0], first)
        if not incremental:
            self._warn_about_stop(result.history)
        if self.diagnose:
            from .diagnostics.diagnose import diagnose_fitted

            self.diagnosis_ = diagnose_fitted(self, run.X, run.Y)
        return self

    def _targets(self, y: NDArray, first: bool, incremental: bool, spec: RunSpec) -> NDArray:
        """Fit the target encoding on a first fit, else check ``y`` against it (scikit-learn's
        rules); a column-vector ``y`` becomes 1-d, with a DataConversionWarning."""
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y.ravel()
        if first and not (incremental and hasattr(self, "target_encoding_")):
            self._set_target_encoding(
                fit_target_encoding(self._task(), y, spec.loss, one_class=True)
            )
        elif not incremental and self.target_encoding_.classes is not None:
            from sklearn.utils.multiclass import unique_labels

            classes = unique_labels(y)
            if not self.target_encoding_.multilabel and set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
        return y

    def _warm_params(self, net: Network, dtype: np.dtype) -> Params:
        """The weights a warm start or ``partial_fit`` continues from: ``coefs_`` and
        ``intercepts_`` (which a user may have set)."""
        params: Params = {}
        for k, (W, b) in enumerate(zip(self.coefs_, self.intercepts_), 1):
            params[f"W{k}"] = np.asarray(W, dtype=dtype)
            params[f"b{k}"] = np.asarray(b, dtype=dtype).reshape(-1)
        shapes = [(a, b) for a, b in zip(net.layer_sizes[:-1], net.layer_sizes[1:])]
        if [params[f"W{k}"].shape for k in range(1, len(self.coefs_) + 1)] != shapes:
            raise ValueError(
                f"warm_start needs the same architecture; the model has layers "
                f"{[W.shape for W in self.coefs_]} but the data and parameters give {net}"
            )
        return params

    def _stop_state(self) -> StopState:
        """What the stopping rules remembered from the last fit (scikit-learn keeps it)."""
        best_loss = getattr(self, "best_loss_", None)
        best_score = getattr(self, "best_validation_score_", None)
        return StopState(
            math.inf if best_loss is None else float(best_loss),
            -math.inf if best_score is None else float(best_score),
            int(getattr(self, "_no_improvement_count", 0)),
        )

    def _check_finite(self, result: FitResult, spec: RunSpec) -> None:
        """scikit-learn's error for a run whose weights became non-finite before any epoch ended
        (or whose L-BFGS result is non-finite); later divergence keeps the last finite weights."""
        history = result.history
        if history.stop_reason == "non-finite" and (
            spec.solver == "lbfgs" or (not history.loss and not spec.early_stopping)
        ):
            raise ValueError(_NON_FINITE)

    def _set_target_encoding(self, encoding: TargetEncoding) -> None:
        self.target_encoding_ = encoding

    def _set_fitted(self, net: Network, result: FitResult, n_samples: int, first: bool) -> None:
        history = result.history
        if not first and hasattr(self, "history_"):
            history = History.concat(self.history_, history)
        self.network_ = net
        self.params_ = result.params
        self.optimizer_state_ = result.opt_state
        if result.optimizer is not None:
            lr = result.optimizer.learning_rate
            self._optimizer = StepSize(result.optimizer.name, lr if not callable(lr) else math.nan)
        self._no_improvement_count = result.stop_state.no_improvement
        self.history_: History = history
        L = len(net.layer_sizes) - 1
        self.coefs_ = [result.params[f"W{k}"] for k in range(1, L + 1)]
        self.intercepts_ = [result.params[f"b{k}"] for k in range(1, L + 1)]
        self.n_layers_ = L + 1
        self.n_outputs_ = net.layer_sizes[-1]
        self.out_activation_ = _OUT_ACTIVATION[net.head]
        self.loss_curve_ = list(history.loss)
        # scikit-learn: n_iter_ counts this fit's epochs, t_ the samples of every fit.
        self.n_iter_ = len(result.history.loss)
        self.t_ = (0 if first else int(getattr(self, "t_", 0))) + n_samples * self.n_iter_
        self.loss_ = history.loss[-1] if history.loss else math.nan
        if self.early_stopping and self.solver != "lbfgs":
            self.validation_scores_ = list(history.val_score)
            if result.history.stop_reason == "non-finite":
                # The epoch that blew up ended on non-finite weights, whose score is NaN, as
                # scikit-learn records it; the model keeps the best finite weights (and warns).
                self.validation_scores_.append(math.nan)
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
        elif history.stop_reason == "max_iter" and self.solver == "lbfgs":
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s): "
                f"{history.message}. Increase the number of iterations (max_iter) or scale "
                "the data.",
                ConvergenceWarning,
                stacklevel=4,
            )
        elif history.stop_reason == "max_iter" and self.n_iter_no_change is not None:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _logits(self, X: ArrayLike) -> NDArray:
        check_is_fitted(self, "params_")
        X = validate_data(
            self, X, reset=False, accept_sparse=["csr", "csc"],
            dtype=np.dtype(self.params_["W1"].dtype),
        )  # fmt: skip
        rows: Any = X if hasattr(X, "tocsr") else np.ascontiguousarray(X)  # sparse stays sparse
        with np.errstate(over="ignore", invalid="ignore"):
            logits, _ = forward(self.network_, self.params_, rows)
        bad = ~np.isfinite(logits).all(axis=1)
        if bad.any() and not all(np.isfinite(w).all() for w in self.params_.values()):
            raise ValueError(
                "the model's weights hold NaN or infinity (its training diverged), so its "
                "predictions would be NaN; refit with a smaller learning rate"
            )
        if bad.any():
            idx = np.flatnonzero(bad)
            shown = ", ".join(str(r) for r in idx[:10]) + (", ..." if idx.size > 10 else "")
            largest = abs(rows[idx]).max()
            raise ValueError(
                f"the network's outputs are not finite (NaN or infinity) for {idx.size} of "
                f"{bad.size} rows (0-based: {shown}); their inputs are too large for the "
                f"weights (largest |x| there: {float(largest):.3g}): scale the inputs"
            )
        return logits

    def _stochastic(self) -> bool:
        return self.solver != "lbfgs"

    def _loss_grad_lbfgs(
        self, packed: NDArray, X: Any, Y: NDArray, sample_weight: Any = None, *unused: Any
    ) -> tuple[float, NDArray]:
        """scikit-learn's private objective over the packed parameters (``W1..WL`` then
        ``b1..bL``), computed by :func:`~lossdoctor.training.loss_and_grad`."""
        from .training import loss_and_grad

        L = len(self.network_.layer_sizes) - 1
        order = [f"W{k}" for k in range(1, L + 1)] + [f"b{k}" for k in range(1, L + 1)]
        params, start = {}, 0
        for name in order:
            shape = self.params_[name].shape
            size = int(np.prod(shape))
            params[name] = packed[start : start + size].reshape(shape)
            start += size
        Y = np.asarray(Y, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        value, grads = loss_and_grad(
            self.network_, params, np.asarray(X), Y, float(self.alpha), sample_weight=sample_weight
        )
        return value, np.concatenate([grads[name].ravel() for name in order])


def restore_fitted(
    est: _BaseMLP,
    net: Network,
    params: Params,
    history: History,
    encoding: TargetEncoding,
    *,
    t: int,
    n_features_in: int,
) -> None:
    """Make ``est`` a fitted model with these weights, as if ``fit`` had produced them.

    The estimator's own code sets every derived attribute (``coefs_``, ``loss_curve_``,
    ``n_iter_`` ...), so a loaded model cannot drift from a fitted one.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        Unfitted, with the parameters of the saved model.
    net : Network
    params : dict of str to ndarray
        ``W1, b1, ...`` of ``net``.
    history : History
    encoding : TargetEncoding
        The targets' encoding (classes, multi-label, shape) of the saved model.
    t : int
        Training samples seen (scikit-learn's ``t_``).
    n_features_in : int
    """
    n_iter = len(history.loss)
    est._set_target_encoding(encoding)
    est._set_fitted(net, FitResult(params, None, history), t // n_iter if n_iter else 0, True)
    est.t_ = int(t)
    est.n_features_in_ = int(n_features_in)


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
    target_encoding_ : TargetEncoding
        How the targets map to the outputs (classes, multi-label, shape).
    optimizer_state_ : NamedTuple
        The optimiser's state after the last step (a warm start continues from it).
    history_ : History
        Per-epoch record (``history_.as_dict()``, ``history_.to_frame()``).
    loss_, best_loss_, loss_curve_, n_iter_, t_, n_layers_, n_outputs_, out_activation_,
    validation_scores_, best_validation_score_, n_features_in_, feature_names_in_
        As in scikit-learn. A run whose loss becomes non-finite stops there (with a
        ``RuntimeWarning``) and keeps its last finite weights, or with early stopping its best
        ones; ``validation_scores_`` then ends with NaN, the score of the epoch that blew up.

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

    def _task(self) -> str:
        return "classification"

    def _set_target_encoding(self, encoding: TargetEncoding) -> None:
        self.target_encoding_ = encoding
        self.classes_: NDArray = np.asarray(encoding.classes)

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> MLPClassifier:
        """Fit the model to data matrix X and targets y.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight)
        return self

    @available_if(lambda est: est._stochastic())
    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> MLPClassifier:
        """One epoch over the given data, continuing from the current weights.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like of shape (n_classes,), optional
            All the classes of every call; required on the first call, as in scikit-learn.

        Returns
        -------
        self
        """
        from sklearn.utils.multiclass import type_of_target, unique_labels

        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            wanted = unique_labels(classes)
            if known is not None and not np.array_equal(known, wanted):
                raise ValueError(
                    f"`classes={wanted!r}` is not the same as on last call to "
                    f"partial_fit, was: {known!r}"
                )
            if known is None:
                multilabel = type_of_target(y).startswith("multilabel")
                labels = np.asarray(y) if multilabel else wanted
                self._set_target_encoding(
                    fit_target_encoding("classification", labels, one_class=True)
                )
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """Class probabilities, ndarray of shape (n_samples, n_classes)."""
        logits = self._logits(X)
        proba = get_head(self.network_.head).output(logits)
        if self.network_.head == "binary" and not self.target_encoding_.multilabel:
            # Two columns, as scikit-learn's, also for a single class (``1 - p`` is its).
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X: ArrayLike) -> NDArray:
        """Logarithm of the class probabilities: ``log(predict_proba(X))``, as scikit-learn's.

        So its argmax is ``predict_proba``'s, ties where probabilities round to 1.0 included.
        Where a probability underflows to 0 (scikit-learn: ``-inf`` and a warning), the value
        is computed from the logits instead, finite for finite logits.
        """
        from .losses import log_sigmoid

        logits = self._logits(X)
        binary = self.network_.head == "binary" and not self.target_encoding_.multilabel
        proba = get_head(self.network_.head).output(logits)
        if binary:
            proba = np.hstack([1 - proba, proba])
        positive = proba > 0
        out = np.log(np.where(positive, proba, 1.0))
        if positive.all():
            return out
        if self.network_.head == "softmax":
            shifted = logits - logits.max(axis=1, keepdims=True)
            exact = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        elif binary:
            exact = np.hstack([log_sigmoid(-logits), log_sigmoid(logits)])
        else:
            exact = log_sigmoid(logits)
        return np.where(positive, out, exact)

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted class labels, ndarray of shape (n_samples,) (or (n_samples, n_labels))."""
        logits = self._logits(X)
        if self.target_encoding_.multilabel:
            return (logits > 0).astype(int)
        if len(self.classes_) == 1:  # scikit-learn: a single class is every prediction
            return np.repeat(self.classes_, logits.shape[0])
        if len(self.classes_) == 2:
            return self.classes_[(logits[:, 0] > 0).astype(int)]
        return self.classes_[logits.argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by lossdoctor's NumPy core.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`, with an identity
    output and the squared error ``0.5 * mean ||y - f(x)||**2``. Parameters and attributes are
    those of :class:`MLPClassifier` (without ``classes_``).
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] | int = (100,),
        activation: str = "relu",
        *,
        loss: str = "squared_error",
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
        n_iter_no_change: float | None = 10,
        max_fun: int = 15000,
        init: str | None = None,
        init_scale: float = 1.0,
        dtype: str | None = None,
        clip_norm: float | None = None,
        diagnose: bool = False,
    ) -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, init=init,
            init_scale=init_scale, dtype=dtype, clip_norm=clip_norm, diagnose=diagnose,
        )  # fmt: skip
        self.loss = loss

    def _task(self) -> str:
        return "regression"

    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> MLPRegressor:
        """Fit the model to data matrix X and targets y.

        ``y`` has shape (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight)
        return self

    @available_if(lambda est: est._stochastic())
    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> MLPRegressor:
        """One epoch over the given data, continuing from the current weights.

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted values, ndarray of shape (n_samples,) or (n_samples, n_targets)."""
        logits = self._logits(X)
        out = get_head(self.network_.head).output(logits)
        return out[:, 0] if self.target_encoding_.y_ndim == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags
