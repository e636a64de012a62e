"""Shared helpers: random problems whose labels fit the output layer."""

import numpy as np
import pytest

from chainrule.testing import random_problem  # noqa: F401  (shared by the tests)


def rel_err(a, b) -> float:
    """‖a − b‖ / max(‖a‖, ‖b‖), 0 when both are zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)
