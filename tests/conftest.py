"""Shared helpers: random problems whose labels fit the output layer."""

import numpy as np
import pytest

import chainrule as cr


def random_problem(config: cr.ModelConfig, m: int, rng: np.random.Generator, scheme: str = "xavier"):
    """(params, X, Y) with labels in the output's range and non-zero biases.

    Non-zero biases keep Z off relu's kink at exactly 0 (a zero bias and an all-zero A_prev
    column would put it there), where a finite difference straddles two slopes.
    """
    X = rng.standard_normal((config.n_x, m))
    if config.output == "softmax":
        Y = np.eye(config.n_y)[:, rng.integers(0, config.n_y, m)]
    elif config.output == "sigmoid":
        Y = (rng.random((config.n_y, m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((config.n_y, m))
    params = [p._replace(b=0.1 * rng.standard_normal(p.b.shape))
              for p in cr.init_params(config, rng, scheme)]
    return params, X, Y


def rel_err(a, b) -> float:
    """‖a − b‖ / max(‖a‖, ‖b‖), 0 when both are zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)
