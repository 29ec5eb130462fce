"""Several runs on a Dask cluster (a local one here): the same results as one process.

Every procedure that trains several runs hands them to joblib without naming a backend, so
``joblib.parallel_config(backend="dask")`` inside a ``distributed.Client`` sends them to the
cluster. On a real cluster, connect the client to its scheduler instead of a ``LocalCluster``::

    from distributed import Client
    import joblib
    with Client("tcp://scheduler:8786"), joblib.parallel_config(backend="dask"):
        result = lr_sweep(X, y, lrs, n_jobs=-1)
"""

from __future__ import annotations

import fault_suite
import joblib
import numpy as np
import pytest

from lossdoctor.diagnostics.sweep import lr_sweep

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    # Worker processes (not threads), so that the work really travels by pickle; tests/ is not a
    # package, so the fault suite's module is pickled by value.
    import cloudpickle

    cloudpickle.register_pickle_by_value(fault_suite)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
    cloudpickle.unregister_pickle_by_value(fault_suite)


def _sweep_rows(result):
    # repr: every field, bit for bit (floats print with 17 digits), and NaN equal to NaN.
    return [repr(row) for row in result.rows]


def test_sweep_on_dask_matches_serial(client):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    kwargs = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
    serial = lr_sweep(X, y, [0.01, 0.1, 1.0, 10.0], n_jobs=1, **kwargs)
    with joblib.parallel_config(backend="dask"):
        on_dask = lr_sweep(X, y, [0.01, 0.1, 1.0, 10.0], n_jobs=2, **kwargs)
    assert _sweep_rows(on_dask) == _sweep_rows(serial)


def test_fault_suite_on_dask_matches_serial(client):
    cases = fault_suite.FAULT_CASES[:3] + fault_suite.HEALTHY_CASES[:1]
    serial = fault_suite.run_suite(cases, n_jobs=1)
    with joblib.parallel_config(backend="dask"):
        on_dask = fault_suite.run_suite(cases, n_jobs=2)
    assert on_dask.rows == serial.rows
