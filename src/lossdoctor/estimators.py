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
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

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
from .training import FitResult, History

__all__ = ["MLPClassifier", "MLPRegressor", "restore_fitted"]

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

    # -- fitting: the run specification does the work -----------------------------------------
    def _task(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> _BaseMLP:
        spec = make_spec(self.get_params())
        dtype = spec.np_dtype
        first = not (self.warm_start and hasattr(self, "params_"))
        Xv, y = validate_data(
            self, X, y, reset=first, dtype=dtype, multi_output=True, y_numeric=False
        )
        X = np.ascontiguousarray(Xv, dtype=dtype)
        if first:
            self._set_target_encoding(fit_target_encoding(self._task(), y))
        Y = self.target_encoding_.encode(y).astype(dtype, copy=False)
        head = self.target_encoding_.head
        params, opt_state = None, None
        if not first:
            params, opt_state = self._warm_state(spec, spec.network(X.shape[1], Y.shape[1], head))
        # A column vector is one target like a 1-d y (the encoder warns about it); stratify on
        # it in the same way so that both give the same split.
        one_column = y.ndim == 1 or y.shape[1] == 1
        stratify = y.reshape(-1) if isinstance(self, ClassifierMixin) and one_column else None
        run = start_run(spec, X, Y, head, params=params, stratify=stratify)
        result = train(spec, run, opt_state=opt_state)
        self._set_fitted(run.net, result, run.X.shape[0], first)
        self._warn_about_stop(result.history)
        if self.diagnose:
            from .diagnostics.diagnose import diagnose_fitted

            self.diagnosis_ = diagnose_fitted(self, run.X, run.Y)
        return self

    def _set_target_encoding(self, encoding: TargetEncoding) -> None:
        self.target_encoding_ = encoding

    def _warm_state(self, spec: RunSpec, net: Network) -> tuple[Params, Any]:
        """The weights and optimiser state a warm start continues from."""
        if self.network_ != net:
            raise ValueError(
                f"warm_start needs the same architecture; the model has {self.network_} "
                f"but the data and parameters give {net}"
            )
        params, opt_state = self.params_, self.optimizer_state_
        if any(p.dtype != spec.np_dtype for p in params.values()):
            # dtype was changed since the last fit: go on in the new precision.
            params = {k: p.astype(spec.np_dtype) for k, p in params.items()}
            opt_state = None
        if opt_state is not None and type(opt_state) is not type(spec.optimizer().init(params)):
            opt_state = None  # the solver or momentum was changed: the old state does not apply
        return params, opt_state

    def _set_fitted(self, net: Network, result: FitResult, n_samples: int, first: bool) -> None:
        history = result.history
        if not first and hasattr(self, "history_"):
            history = History.concat(self.history_, history)
        self.network_ = net
        self.params_ = result.params
        self.optimizer_state_ = result.opt_state
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
        with np.errstate(over="ignore", invalid="ignore"):
            logits, _ = forward(self.network_, self.params_, np.ascontiguousarray(X))
        bad = ~np.isfinite(logits).all(axis=1)
        if bad.any() and not all(np.isfinite(w).all() for w in self.params_.values()):
            raise ValueError(
                "the model's weights hold NaN or infinity (its training diverged), so its "
                "predictions would be NaN; refit with a smaller learning rate"
            )
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if rows.size > 10 else "")
            raise ValueError(
                f"the network's outputs are not finite (NaN or infinity) for {rows.size} of "
                f"{bad.size} rows (0-based: {shown}); their inputs are too large for the "
                "weights (largest |x| there: "
                f"{float(np.abs(np.asarray(X)[rows]).max()):.3g}): scale the inputs"
            )
        return logits


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

    def _task(self) -> str:
        return "classification"

    def _set_target_encoding(self, encoding: TargetEncoding) -> None:
        self.target_encoding_ = encoding
        self.classes_: NDArray = np.asarray(encoding.classes)

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
        if len(self.classes_) == 2 and not self.target_encoding_.multilabel:
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X: ArrayLike) -> NDArray:
        """Logarithm of the class probabilities, computed from logits (finite for finite logits)."""
        from .losses import log_sigmoid

        logits = self._logits(X)
        if self.network_.head == "softmax":
            shifted = logits - logits.max(axis=1, keepdims=True)
            return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if len(self.classes_) == 2 and not self.target_encoding_.multilabel:
            return np.hstack([log_sigmoid(-logits), log_sigmoid(logits)])
        return log_sigmoid(logits)

    def predict(self, X: ArrayLike) -> NDArray:
        """Predicted class labels, ndarray of shape (n_samples,) (or (n_samples, n_labels))."""
        logits = self._logits(X)
        if self.target_encoding_.multilabel:
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

    def _task(self) -> str:
        return "regression"

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
        return logits[:, 0] if self.target_encoding_.y_ndim == 1 else logits

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
