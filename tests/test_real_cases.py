"""The real-case suite (issue 13): faulty set-ups rebuilt from public questions and their
expert-fixed versions, run with the test's seed for the weights and the shuffling.

The issue's bar: the expert's root cause ranked first in at least 90% of the cases, found in at
least 95%, the doctor's fix proven on validation data in at least 90%, and no warning or error on
any expert-fixed run. The data sets are fixed; the seed is random unless ``--seed`` is given.
"""

from __future__ import annotations

import numpy as np
import pytest
import real_cases
from threadpoolctl import threadpool_limits


def _run(case: real_cases.RealCase, seed: int) -> dict:
    with threadpool_limits(1):  # two workers share the two cores
        return real_cases.run_case(case, seed)


@pytest.fixture(scope="module")
def suite(request: pytest.FixtureRequest) -> tuple[real_cases.RealResult, int]:
    from joblib import Parallel, delayed

    seed = request.config.getoption("--seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 1000)
    rows = Parallel(n_jobs=2)(delayed(_run)(c, seed) for c in real_cases.REAL_CASES)
    result = real_cases.RealResult(rows)
    print(f"\nreal-case suite with seed={seed}\n{result.table()}")
    return result, seed


def test_cases_cite_sources_and_cover_the_fault_kinds() -> None:
    cases = real_cases.REAL_CASES
    assert len(cases) >= 25
    assert all(c.source and c.symptom and c.cause and c.fix for c in cases)
    assert sum("Stack Overflow" in c.source for c in cases) >= 5
    assert any("DeepLocalize" in c.source for c in cases)
    assert any("AUTOTRAINER" in c.source for c in cases)
    assert sum(c.loop for c in cases) >= 4  # user loops fed to TrainingMonitor


def test_no_warning_on_any_expert_fixed_run(suite) -> None:
    result, seed = suite
    alarms = {r["name"]: r["false_alarm"] for r in result.rows if r["false_alarm"]}
    assert alarms == {}, f"seed {seed}"


def test_root_cause_first_and_found(suite) -> None:
    result, seed = suite
    assert not [r["error"] for r in result.rows if r["error"]], f"seed {seed}"
    assert result.first >= 0.9, f"seed {seed}\n{result.table()}"
    assert result.found >= 0.95, f"seed {seed}\n{result.table()}"


def test_fixes_proven_on_validation_data(suite) -> None:
    result, seed = suite
    assert result.proven >= 0.9, f"seed {seed}\n{result.table()}"
