"""Data preparation of the doctor: the holdout split, the data fixes of ``--fix``, labels.

- :func:`split_holdout`: hold out a share of the samples (stratified by class when possible).
- :func:`prepare_data`: apply the data fixes (``impute_non_finite``, ``drop_features``,
  ``scale_inputs``, ``scale_targets``, ``balance_classes``, in that order) to copies, with the
  statistics of the training part only.
- :func:`class_labels`: class indices of encoded targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .evidence import standardize

__all__ = ["PREP_STEPS", "class_labels", "prepare_data", "split_holdout"]

#: The data fixes :func:`prepare_data` knows, in the order it applies them.
PREP_STEPS = (
    "impute_non_finite",
    "drop_features",
    "scale_inputs",
    "scale_targets",
    "balance_classes",
)


def split_holdout(
    X: NDArray, Y: NDArray, labels: NDArray | None, fraction: float | None, seed: int
) -> tuple[NDArray, NDArray, NDArray | None, NDArray | None]:
    """Split off ``fraction`` of the samples for validation (none when it is 0 or None)."""
    if not fraction:
        return X, Y, None, None
    from sklearn.model_selection import train_test_split

    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        stratify = labels if counts.min() >= 2 else None
    X_tr, X_val, Y_tr, Y_val = train_test_split(
        X, Y, test_size=fraction, random_state=seed, stratify=stratify
    )
    return X_tr, Y_tr, X_val, Y_val


def prepare_data(
    X_tr: NDArray,
    Y_tr: NDArray,
    X_val: NDArray | None,
    Y_val: NDArray | None,
    prep: dict[str, Any],
) -> tuple[NDArray, NDArray, NDArray | None, NDArray | None, dict[str, Any]]:
    """Apply the data fixes of ``--fix`` to copies, with statistics of the training part only."""
    info: dict[str, Any] = {}
    if prep.get("impute_non_finite"):
        finite = np.isfinite(X_tr)
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(finite, X_tr, np.nan), axis=0)
        med = np.nan_to_num(med)
        X_tr = np.where(finite, X_tr, med)
        if X_val is not None:
            X_val = np.where(np.isfinite(X_val), X_val, med)
        rows = np.isfinite(Y_tr).all(axis=1)
        X_tr, Y_tr = X_tr[rows], Y_tr[rows]
        if X_val is not None and Y_val is not None:
            rows_v = np.isfinite(Y_val).all(axis=1)
            X_val, Y_val = X_val[rows_v], Y_val[rows_v]
    if prep.get("drop_features"):
        keep = np.setdiff1d(np.arange(X_tr.shape[1]), prep["drop_features"])
        X_tr = X_tr[:, keep]
        X_val = X_val[:, keep] if X_val is not None else None
    if prep.get("scale_inputs"):
        mean, std = np.nanmean(X_tr, axis=0), np.nanstd(X_tr, axis=0)
        X_tr = standardize(X_tr, mean=mean, std=std)
        X_val = standardize(X_val, mean=mean, std=std) if X_val is not None else None
    if prep.get("scale_targets"):
        mu, sd = Y_tr.mean(axis=0), Y_tr.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Y_tr = (Y_tr - mu) / sd
        Y_val = (Y_val - mu) / sd if Y_val is not None else None
        info["target_mean"], info["target_std"] = mu.tolist(), sd.tolist()
    if prep.get("balance_classes"):
        # Oversample every class to the size of the largest (encoded targets: one column per
        # class, or one 0/1 column for binary problems).
        labels = Y_tr.argmax(axis=1) if Y_tr.shape[1] > 1 else (Y_tr[:, 0] > 0.5).astype(int)
        classes, counts = np.unique(labels, return_counts=True)
        rng = np.random.default_rng(0)
        idx = [
            np.concatenate(
                [
                    np.flatnonzero(labels == c),
                    rng.choice(np.flatnonzero(labels == c), counts.max() - n),
                ]
            )
            for c, n in zip(classes, counts)
        ]
        order = np.sort(np.concatenate(idx))
        X_tr, Y_tr = X_tr[order], Y_tr[order]
    return X_tr, Y_tr, X_val, Y_val, info


def class_labels(Y: NDArray) -> NDArray:
    """Class indices of encoded targets (one 0/1 column for binary, one-hot otherwise)."""
    return Y.argmax(axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(int)
