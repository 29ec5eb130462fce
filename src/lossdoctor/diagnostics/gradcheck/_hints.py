"""Hints: what kind of mistake the evidence about a failing gradient supports.

Hints are tested only on failing tensors, on the probes not spoilt by kinks, by asking whether a
simple transform of the analytic gradient (its transpose, its negative, a rescaling by a whole
number or its reciprocal) passes where the gradient itself fails, or whether the gradient is
constant along an axis where an extra finite difference shows the true one is not.

`HINTS` lists the stable codes; `explain` tries them in order and returns the first that a
comparison confirms, or none.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._differences import Prober
from ._probes import F64, Probes, compare, fit_scale
from ._report import WARN_FACTOR

#: Stable hint codes and what each means, in plain words.
HINTS: dict[str, str] = {
    "wrong-reduction-axis": "the analytic gradient is constant along an axis where the numerical "
    "one is not: it was summed (or averaged) over the wrong axes, typically a bias gradient "
    "summed over every axis instead of over the samples only",
    "scale-mismatch": "the analytic gradient is a constant multiple of the numerical one, "
    "for example a missing division by the number of samples",
    "sign-flipped": "the analytic gradient has the wrong sign",
    "transposed": "the analytic gradient is the transpose of the numerical one",
    "zero-gradient": "the analytic gradient is zero although the loss depends on the parameter",
    "missing-regularization": "the numerical gradient minus the analytic one is a constant times "
    "the parameter: the gradient of a regularisation term (lam * W for lam / 2 * sum(W**2)) is "
    "missing; the report gives the coefficient",
    "reduction-sums-to-zero": "the analytic gradient is a constant near zero because it was "
    "summed over every axis and the true gradient happens to sum to zero (a softmax output's "
    "bias): sum over the samples only",
}

# A hint's candidate (the transposed, negated or rescaled gradient) must fit this much better
# than the analytic gradient itself.
_HINT_SHARE = 0.05
_HINT_RTOL_FACTOR = 3.0
# ... after dropping this share of its worst probes (kinks), out of at least this many probes.
_HINT_OUTLIERS = 0.2
_HINT_MIN_PROBES = 3
# When fewer smooth probes than this remain, this many coordinates are added for the hints.
_HINT_PROBES = 12
# A fitted scale factor must lie this close to a whole number or its reciprocal, unless the
# rescaled gradient fits within this share of rtol.
_WHOLE_FACTOR_RTOL = 0.005
_TIGHT_FIT = 0.1
# Directions tried to show that the numerical gradient is not constant along an axis.
_REDUCTION_TRIES = 3


class Explanation(NamedTuple):
    """A hint code (or None), its numbers, and the finding in words."""

    hint: str | None
    message: str
    factor: float | None = None  # scale-mismatch: analytic / numerical
    coefficient: float | None = None  # missing-regularization: (numerical - analytic) / param


def explain(
    prober: Prober,
    x: np.ndarray,
    x0: np.ndarray,
    G: F64,
    P: Probes,
    given_size: int | None = None,
) -> Explanation:
    """Find the hint that the evidence supports for a failing gradient `G`.

    `given_size` is the number of entries of the gradient as given, before it was broadcast to
    the parameter's shape (1 for a sum over every axis).
    """
    rel = compare(G, P).rel_error
    S = _informative(P.smooth(), G)
    if len(S.dir_num) + len(S.coord_idx) < _HINT_PROBES and len(P.coord_idx) < P.size:
        # Kinks spoilt too many probes to judge a hint on, or most coordinates are exactly
        # zero in both gradients (one-hot inputs): add coordinates where the analytic gradient
        # is not zero, which also move fewer pre-activations than a direction does.
        support = np.flatnonzero(G.ravel())
        extra = prober.probe(
            x,
            x0,
            G,
            extra_coords=_HINT_PROBES,
            gstar=P.gstar_norm(),
            among=support if len(support) >= _HINT_PROBES else None,
        )
        S = S.merge(_informative(extra.smooth(), G))
    # Hints are judged on coordinates when there are enough: a random direction moves every
    # pre-activation and so crosses more kinks.
    H = S
    if len(S.coord_idx) >= 2 * _HINT_MIN_PROBES:
        H = S.subset(np.zeros(len(S.dir_num), dtype=bool), np.ones(len(S.coord_idx), bool))
    # Raw errors, not the excess over the rounding allowance: with a noisy loss every
    # candidate would fit within the allowance.
    base = compare(G, H).rel_error

    def misfit(candidate: F64) -> float | None:
        """The candidate's relative error on the probes not spoilt by kinks, or None when it
        does not explain G: it must pass, and fit far better than G itself."""
        kept = H.without_outliers(candidate, _HINT_OUTLIERS)
        if len(kept.dir_num) + len(kept.coord_idx) < min(_HINT_MIN_PROBES, G.size):
            return None
        error = compare(candidate, kept).rel_error
        return error if error <= min(_HINT_RTOL_FACTOR * prober.rtol, _HINT_SHARE * base) else None

    gnorm = float(np.linalg.norm(G))
    if gnorm <= 1e-6 * P.gstar_norm():
        sums_vanish = G.size > 1 and _sums_to_zero(prober, x, x0, P)
        summed = G.size > 1 and (given_size == 1 or bool(np.any(G != 0)))
        if summed and sums_vanish:
            return Explanation(
                "reduction-sums-to-zero",
                "the analytic gradient is a constant near zero, and so is the sum of the true "
                "gradient over every axis (as for a softmax output's bias, whose gradient sums "
                "to zero over the classes): it looks summed over every axis instead of over the "
                "samples only, and that sum vanishes (np.sum(dZ, axis=1, keepdims=True) for "
                "features-by-samples, np.sum(dZ, axis=0) for samples-by-features)",
            )
        also = (
            # An exact zero cannot tell a missing gradient from a sum over every axis that
            # vanished to the last bit; say both.
            " (or it was summed over every axis: the true gradient's sum over every axis is zero "
            "here, as for a softmax output's bias, so such a sum gives exactly this)"
            if sums_vanish
            else ""
        )
        return Explanation(
            "zero-gradient",
            "the analytic gradient is zero but the loss changes with this parameter: the "
            "gradient is never computed or does not flow back to it" + also,
        )
    if G.ndim == 2 and G.shape[0] == G.shape[1] and misfit(G.T) is not None:
        return Explanation(
            "transposed",
            "the analytic gradient looks transposed: its transpose matches the numerical one "
            "(for Z = X @ W the gradient is X.T @ dZ; for Z = W @ X it is dZ @ X.T)",
        )
    factor = fit_scale(G, H)
    if factor is not None and factor != 0:
        # Refit without the probes that the first fit explains worst (kinks).
        factor = fit_scale(G, H.without_outliers(G / factor, _HINT_OUTLIERS))
    scaled = None if not factor else misfit(G / factor)
    if misfit(-G) is not None or (
        factor is not None and scaled is not None and abs(factor + 1) <= max(0.01, 2 * scaled)
    ):
        return Explanation(
            "sign-flipped",
            "the analytic gradient has the wrong sign: its negative matches the numerical one",
        )
    if (
        factor is not None
        and scaled is not None
        and abs(factor - 1.0) > WARN_FACTOR * prober.rtol
        # A fitted factor can absorb a wrong activation derivative in a short bias vector at
        # float32 precision: unless the fit is tight, believe only the factors bugs make.
        and _plausible_factor(factor, compare(G / factor, H).rel_error, G.size, prober.rtol)
    ):
        return Explanation("scale-mismatch", _scale_sentence(factor), factor=factor)
    W = x0.astype(np.float64)
    lam = fit_regularization(G, W, H)
    if lam is not None and misfit(G + lam * W) is not None:
        return Explanation("missing-regularization", _regularization_sentence(lam), coefficient=lam)
    axes = [a for a in range(G.ndim) if G.shape[a] > 1 and _constant_along(G, a)]
    if axes:
        found = reduction_evidence(prober, x, x0, G, P, tuple(axes))
        if found is not None:
            return Explanation("wrong-reduction-axis", found)
    return Explanation(
        None,
        f"the analytic and numerical gradients differ (relative error {rel:.2g}) in no simple "
        "pattern (sign, scale, transpose, reduction axis); common causes are a wrong "
        "activation derivative or a loss term, such as regularisation, left out of the "
        "gradient",
    )


def _informative(P: Probes, G: F64) -> Probes:
    """The probes without the coordinates where both gradients are exactly zero: they agree
    with every candidate (sign, scale, transpose) and so are no evidence for any."""
    dead = (G.ravel()[P.coord_idx] == 0) & (P.coord_num == 0)
    return P.subset(np.ones(len(P.dir_num), dtype=bool), ~dead)


def _sums_to_zero(prober: Prober, x: np.ndarray, x0: np.ndarray, P: Probes) -> bool:
    """Whether the true gradient sums to zero over every axis: the derivative along the
    all-ones direction (of unit mean square, like a random direction) is within rounding of 0."""
    num, noise, _ = prober.direction_once(x, x0, np.ones(x.shape), prober.abs_step(x0))
    return num is not None and abs(num) <= prober.rtol * P.gstar_norm() + noise


def fit_regularization(G: F64, W: F64, P: Probes) -> float | None:
    """Least-squares ``c`` with numerical - analytic ≈ c * W over the probes, or None."""
    a_parts, w_parts, n_parts = [], [], []
    if len(P.dir_num):
        D = P.dir_delta.reshape(len(P.dir_num), -1)
        a_parts.append(D @ G.ravel())
        w_parts.append(D @ W.ravel())
        n_parts.append(P.dir_num)
    if len(P.coord_idx):
        a_parts.append(G.ravel()[P.coord_idx])
        w_parts.append(W.ravel()[P.coord_idx])
        n_parts.append(P.coord_num)
    if not a_parts:
        return None
    a, w, n = (np.concatenate(parts) for parts in (a_parts, w_parts, n_parts))
    ww = float(w @ w)
    if ww == 0:
        return None
    return float((n - a) @ w) / ww


def _regularization_sentence(lam: float) -> str:
    if lam > 0:
        return (
            f"the numerical gradient minus the analytic one is {lam:.4g} times the parameter: "
            f"a regularisation term is missing from the gradient (for a loss with "
            f"lam / 2 * sum(W**2), add lam * W, here {lam:.4g} * W)"
        )
    return (
        f"the analytic gradient minus the numerical one is {-lam:.4g} times the parameter: "
        "the gradient has a regularisation term that the loss does not (or twice)"
    )


def _plausible_factor(factor: float, error: float, size: int, rtol: float) -> bool:
    """Whether a fitted scale factor is what a bug makes: a whole number or its reciprocal
    (as precisely as the fit allows), or any factor when the fit is tight. A one-entry
    tensor always fits a factor tightly, so for it only the whole numbers count."""
    return (error <= _TIGHT_FIT * rtol and size > 1) or whole_factor(
        factor, max(_WHOLE_FACTOR_RTOL, 2 * error)
    ) is not None


def reduction_evidence(
    prober: Prober, x: np.ndarray, x0: np.ndarray, G: F64, P: Probes, axes: tuple[int, ...]
) -> str | None:
    """Check that the true gradient is *not* constant along `axes`, where `G` is.

    Along a direction whose entries sum to zero over `axes`, ``<G, d> = 0``; a clearly
    non-zero finite difference there shows the numerical gradient varies along `axes`. A
    second direction, constant along `axes`, tells whether `G` holds the sum or the mean of
    the true gradient over those axes.
    """
    candidates = []
    if len(P.coord_idx) == P.size:
        # Every coordinate is known: the numerical gradient minus its mean is the most
        # telling direction.
        flat = np.zeros(P.size)
        flat[P.coord_idx] = P.coord_num
        n = flat.reshape(G.shape)
        candidates.append(n - n.mean(axis=axes, keepdims=True))
    while len(candidates) < _REDUCTION_TRIES:
        r = prober.rng.standard_normal(x.shape)
        candidates.append(r - r.mean(axis=axes, keepdims=True))
    for d in candidates:
        rms = float(np.sqrt(np.mean(d * d)))
        if rms == 0:
            continue
        d_zero = d / rms
        num, noise, delta = prober.direction_once(x, x0, d_zero, prober.abs_step(x0))
        if num is None:
            continue
        scale = P.gstar_norm()  # |<g, d>| is about |g| for d of unit mean square
        if abs(num - float(np.sum(G * delta))) > prober.rtol * scale + noise:
            break
    else:
        return None
    r = prober.rng.standard_normal(x.shape)
    n_along = int(np.prod([G.shape[a] for a in axes]))
    axes_words = _axes_words(axes, G.shape)
    sentence = (
        f"the analytic gradient is constant along {axes_words} where the numerical one is not"
    )
    d_sum = np.broadcast_to(np.take(r, [0], axis=axes[0]), r.shape)
    for a in axes[1:]:
        d_sum = np.broadcast_to(np.take(d_sum, [0], axis=a), r.shape)
    num_s, noise_s, delta_s = prober.direction_once(x, x0, np.array(d_sum), prober.abs_step(x0))
    if num_s is not None and abs(num_s) > noise_s:
        ratio = float(np.sum(G * delta_s)) / num_s
        if abs(ratio - n_along) <= 0.05 * n_along:
            sentence += (
                f"; its value is the true gradient summed over {axes_words}: it looks summed "
                "over every axis instead of over the samples only (np.sum(dZ, axis=1, "
                "keepdims=True) for features-by-samples, np.sum(dZ, axis=0) for "
                "samples-by-features)"
            )
            return sentence
        if abs(ratio - 1.0) <= 0.05:
            sentence += f"; its value is the true gradient averaged over {axes_words}"
            return sentence
    return sentence + ": it looks reduced over the wrong axes"


def _constant_along(G: F64, axis: int) -> bool:
    spread = np.ptp(G, axis=axis)
    return bool(np.all(spread <= 1e-7 * max(float(np.max(np.abs(G))), 1e-300)))


def _axes_words(axes: tuple[int, ...], shape: tuple[int, ...]) -> str:
    if len(axes) == 1:
        return f"axis {axes[0]} ({shape[axes[0]]} entries)"
    return f"axes {', '.join(str(a) for a in axes)}"


def whole_factor(factor: float, rtol: float = _WHOLE_FACTOR_RTOL) -> tuple[int, str] | None:
    """(k, "missing") when |factor| is close to a whole number k >= 2, (k, "extra") when close
    to 1/k, else None."""
    mag = abs(factor)
    if mag == 0:
        return None
    for n, word in ((mag, "missing"), (1 / mag, "extra")):
        k = round(n)
        if k >= 2 and abs(n - k) <= rtol * k:
            return k, word
    return None


def _scale_sentence(factor: float) -> str:
    sentence = f"the analytic gradient is {factor:.4g} times the numerical one"
    sign = " and has the wrong sign" if factor < 0 else ""
    whole = whole_factor(factor, 0.02)
    if whole is None:
        return sentence + sign
    k, word = whole
    return (
        f"{sentence}{sign}: a factor of {k}, for example a {word} division by {k} "
        "(the number of samples?)"
    )
