"""Shared helpers: random problems whose labels fit the output layer, and the fuzz tests' settings."""

import contextlib
import os
import sys
import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from chainrule.testing import random_problem  # noqa: F401  (shared by the tests)


def rel_err(a, b) -> float:
    """‖a − b‖ / max(‖a‖, ‖b‖), 0 when both are zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


@contextlib.contextmanager
def reading_with(reader):
    """Loads inside read with pandas, or with the csv module as when pandas is not installed."""
    if reader == "pandas":
        pytest.importorskip("pandas", reason="pip install 'chainrule[csv]' to test the pandas reader")
        yield
    else:
        with mock.patch.dict(sys.modules, {"pandas": None}):
            yield


def traced_peak(fn, tries: int = 3) -> int:
    """The smallest of ``tries`` peaks of traced memory (bytes) while ``fn()`` runs.

    tracemalloc counts every thread's allocations, and the suite has threads of its own (the
    session's Dask scheduler and client, a playground server): one measurement can catch
    their allocations on top of ``fn``'s, the smallest of three hardly ever does.
    """
    peaks = []
    for _ in range(tries):
        tracemalloc.start()
        try:
            fn()
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    return min(peaks)


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


# The fuzz tests (model files, CSV files) run FUZZ's examples: 150 each in the suite; before a
# release, CHAINRULE_FUZZ=release runs 20 000 each.
settings.register_profile("chainrule-fuzz", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("chainrule-fuzz-release", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile("chainrule-fuzz-release" if os.environ.get("CHAINRULE_FUZZ") == "release"
                            else "chainrule-fuzz")


@pytest.fixture(scope="session")
def dask_client():
    """A Client of one local Dask cluster (two worker processes) for the session's tests; skipped
    where the cluster extra (dask[distributed]) is not installed."""
    distributed = pytest.importorskip("dask.distributed", reason="the cluster extra (dask[distributed]) is missing")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        yield client


# The learner files of tests/fixtures are inputs of `chainrule check`, not tests (nbmake would run the notebooks).
collect_ignore_glob = ["fixtures/*"]
