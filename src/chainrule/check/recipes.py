"""The problems ``check`` runs a learner's functions on: the course's own test recipes
(NumPy's legacy generator seeded as the assignment's test case seeds it) and random
networks of several shapes, with the course's data structures built by chainrule's own
layer functions.

    course_forward(parameters, X, activations)    (AL, caches), caches[l-1] = ((A_prev, W, b), Z)
    random_network(layer_dims, m, seed, ...)      Network: parameters, X, Y, AL, caches
    deep_networks()                                the shapes every L-layer check runs on
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..activations import get_activation
from ..layers import linear_forward


class Network(NamedTuple):
    """label : what it is, for the report; parameters : {"W1", "b1", …}; X (n_x, m); Y (n_y, m);
    AL (n_y, m) and caches (course format) of the forward pass; activations : per layer."""

    label: str
    parameters: dict
    X: np.ndarray
    Y: np.ndarray
    AL: np.ndarray
    caches: list
    activations: tuple[str, ...]

    @property
    def m(self) -> int:
        return self.X.shape[1]

    @property
    def L(self) -> int:
        return len(self.activations)


def course_forward(parameters: dict, X: np.ndarray, activations) -> tuple[np.ndarray, list]:
    """The course's L_model_forward with chainrule's layer functions: AL (n_y, m) and the caches
    ((A_prev, W, b), Z) of every layer, in the course's format."""
    A, caches = X, []
    for l, name in enumerate(activations, start=1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = linear_forward(A, W, b)
        caches.append(((A, W, b), Z))
        A = get_activation(name).forward(Z)
    return A, caches


def random_network(layer_dims, m: int, seed: int, hidden: str = "relu", output: str = "sigmoid",
                   zeros_in_Z: bool = False) -> Network:
    """A random network of these sizes with m examples: W, b, X standard normal (W scaled by
    1/√n_{l−1} so no unit saturates), Y random 0/1 labels. ``zeros_in_Z`` puts exact zeros into
    a hidden layer's Z (by choosing b), where relu has no derivative."""
    rng = np.random.default_rng(seed)
    L = len(layer_dims) - 1
    parameters = {}
    for l in range(1, L + 1):
        parameters[f"W{l}"] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) / np.sqrt(layer_dims[l - 1])
        parameters[f"b{l}"] = 0.1 * rng.standard_normal((layer_dims[l], 1))
    X = rng.standard_normal((layer_dims[0], m))
    if zeros_in_Z:                                   # Z[1] = W1 X + b1 = 0 in the first example's column
        parameters["b1"] = -(parameters["W1"] @ X[:, :1])
    Y = (rng.random((layer_dims[-1], m)) < 0.5).astype(np.float64)
    activations = (hidden,) * (L - 1) + (output,)
    AL, caches = course_forward(parameters, X, activations)
    shape = "-".join(map(str, layer_dims))
    label = f"a random {shape} network, m = {m}" + (", with Z[1] = 0 in one column" if zeros_in_Z else "")
    return Network(label, parameters, X, Y, AL, caches, activations)


def deep_networks(hidden: str = "relu") -> list[Network]:
    """The random networks every L-layer check runs on: a small one, m = 1, a deep narrow one,
    and one with Z = 0 where relu has no derivative."""
    return [random_network((5, 4, 3, 1), 7, 1, hidden),
            random_network((3, 2, 1), 1, 2, hidden),
            random_network((2, 3, 3, 3, 3, 3, 1), 5, 3, hidden),
            random_network((4, 3, 1), 6, 4, hidden, zeros_in_Z=True)]


def course_L_model_backward_case() -> Network:
    """L_model_backward_test_case: seed(3); AL = randn(1, 2); Y = [[1, 0]]; then A1, W1, b1, Z1,
    A2, W2, b2, Z2 drawn in that order. Its caches are not one forward pass (AL is random), so
    it is run through the layer equations, as the course's own test runs it."""
    r = np.random.RandomState(3)
    AL, Y = r.randn(1, 2), np.array([[1, 0]])
    A1, W1, b1, Z1 = r.randn(4, 2), r.randn(3, 4), r.randn(3, 1), r.randn(3, 2)
    A2, W2, b2, Z2 = r.randn(3, 2), r.randn(1, 3), r.randn(1, 1), r.randn(1, 2)
    caches = (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return Network("the course's L_model_backward_test_case (its AL is random, not σ(Z[2]))", parameters, A1, Y, AL,
                   caches, ("relu", "sigmoid"))


def course_L_model_forward_case() -> tuple[np.ndarray, dict]:
    """L_model_forward_test_case_2hidden: seed(6); X = randn(5, 4); W1 = randn(4, 5), b1, W2 (3, 4),
    b2, W3 (1, 3), b3."""
    r = np.random.RandomState(6)
    X = r.randn(5, 4)
    parameters = {}
    for l, (n, n_prev) in enumerate(((4, 5), (3, 4), (1, 3)), start=1):
        parameters[f"W{l}"], parameters[f"b{l}"] = r.randn(n, n_prev), r.randn(n, 1)
    return X, parameters
