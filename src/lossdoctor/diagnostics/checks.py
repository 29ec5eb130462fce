"""Former home of the measurements before training; they live in :mod:`.evidence` now.

Re-exported here so that existing imports keep working.
"""

from __future__ import annotations

from .evidence import (
    chance_loss,
    data_evidence,
    default_weight_std,
    init_evidence,
    lr_evidence,
    standardize,
)

__all__ = [
    "chance_loss",
    "data_evidence",
    "default_weight_std",
    "init_evidence",
    "lr_evidence",
    "standardize",
]
