"""--fix is judged on held-out data: a fix that lowers the validation metric is not proven."""

from __future__ import annotations

from lossdoctor.diagnostics.diagnose import fix_verdict
from lossdoctor.diagnostics.findings import Diagnosis
from lossdoctor.training import History


def _diagnosis(loss: float, val_score: float, val_loss: float) -> Diagnosis:
    h = History()
    h.epoch, h.loss, h.val_score, h.val_loss = [1, 2], [1.0, loss], [0.5, val_score], [1, val_loss]
    return Diagnosis(findings=[], history=h)


def test_early_stopping_fix_that_lowers_validation_accuracy_is_not_proven() -> None:
    # The case: early stopping made the training loss higher but, worse, the validation
    # accuracy fell 0.991 -> 0.982; the training loss alone must not prove it.
    before = _diagnosis(loss=0.003, val_score=0.991, val_loss=0.04)
    after = _diagnosis(loss=0.05, val_score=0.982, val_loss=0.06)
    verdict = fix_verdict(before, after)
    assert verdict["proven"] is False
    assert "worse" in verdict["why"]


def test_fix_that_raises_validation_accuracy_is_proven_even_if_training_loss_rises() -> None:
    verdict = fix_verdict(_diagnosis(0.01, 0.90, 0.5), _diagnosis(0.2, 0.95, 0.2))
    assert verdict["proven"] is True
