"""The course's helper modules, for a learner's file whose folder does not have them.

The assignments import helpers from files that sit beside the notebook (``dnn_utils``,
``planar_utils``, ``gc_utils``, ``testCases``, ``public_tests``, …). When the learner's
folder has them, the learner's own copies are used. When it does not, ``install()`` supplies
these, built on chainrule's own activations, so that the learner's functions can run:

    dnn_utils, dnn_utils_v2, dnn_app_utils_v2, dnn_app_utils_v3
        sigmoid(Z) -> (A, cache), relu(Z) -> (A, cache), sigmoid_backward(dA, cache), relu_backward(dA, cache)
    planar_utils                       sigmoid(x) -> s, load_planar_dataset() (chainrule's flower)
    reg_utils, opt_utils, opt_utils_v1a, init_utils, gc_utils
        sigmoid(x) -> s, relu(x) -> s, compute_cost(a3, Y); gc_utils also dictionary_to_vector,
        vector_to_dictionary, gradients_to_vector
    testCases*, public_tests, test_utils
        any name: a function that does nothing (check runs its own tests)

Any other name a learner imports from them is a function that, when called, says it needs the
course's own file.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

import numpy as np

from ..activations import get_activation
from ..datasets import planar_flower
from ..losses import binary_cross_entropy, cost_from_loss

_sigmoid, _relu = get_activation("sigmoid"), get_activation("relu")


def _deep() -> dict:
    def sigmoid(Z):
        return _sigmoid.forward(np.asarray(Z, dtype=float)), Z

    def relu(Z):
        return _relu.forward(np.asarray(Z, dtype=float)), Z

    def sigmoid_backward(dA, cache):
        Z = np.asarray(cache, dtype=float)
        return _sigmoid.backward(np.asarray(dA, dtype=float), Z, _sigmoid.forward(Z))

    def relu_backward(dA, cache):
        Z = np.asarray(cache, dtype=float)
        return _relu.backward(np.asarray(dA, dtype=float), Z, _relu.forward(Z))

    return {"sigmoid": sigmoid, "relu": relu, "sigmoid_backward": sigmoid_backward, "relu_backward": relu_backward}


def _one_value() -> dict:
    def sigmoid(x):
        return _sigmoid.forward(np.asarray(x, dtype=float))

    def relu(x):
        return _relu.forward(np.asarray(x, dtype=float))

    def compute_cost(a3, Y):
        return float(cost_from_loss(binary_cross_entropy(np.asarray(a3, dtype=float), np.asarray(Y, dtype=float))))

    return {"sigmoid": sigmoid, "relu": relu, "compute_cost": compute_cost}


def _planar() -> dict:
    def load_planar_dataset():
        data = planar_flower()
        return data.X, data.Y

    return {"sigmoid": _one_value()["sigmoid"], "load_planar_dataset": load_planar_dataset}


GRADIENT_CHECK_SHAPES = (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1)))


def _gradient_check() -> dict:
    def dictionary_to_vector(parameters):
        keys, pieces = [], []
        for key, _ in GRADIENT_CHECK_SHAPES:
            vector = np.reshape(parameters[key], (-1, 1))
            keys += [key] * vector.shape[0]
            pieces.append(vector)
        return np.concatenate(pieces, axis=0), keys

    def vector_to_dictionary(theta):
        parameters, start = {}, 0
        for key, shape in GRADIENT_CHECK_SHAPES:
            size = shape[0] * shape[1]
            parameters[key] = theta[start:start + size].reshape(shape)
            start += size
        return parameters

    def gradients_to_vector(gradients):
        return np.concatenate([np.reshape(gradients["d" + key], (-1, 1)) for key, _ in GRADIENT_CHECK_SHAPES], axis=0)

    return {**_one_value(), "dictionary_to_vector": dictionary_to_vector,
            "vector_to_dictionary": vector_to_dictionary, "gradients_to_vector": gradients_to_vector}


HELPERS = {
    **{name: _deep for name in ("dnn_utils", "dnn_utils_v2", "dnn_app_utils_v2", "dnn_app_utils_v3")},
    "planar_utils": _planar,
    **{name: _one_value for name in ("reg_utils", "opt_utils", "opt_utils_v1a", "init_utils")},
    "gc_utils": _gradient_check,
}
TESTS = ("testCases", "testCases_v2", "testCases_v3", "testCases_v4", "testCases_v4a", "public_tests", "test_utils")
# libraries the assignments import for data files and pictures, which check never needs: a
# stand-in when one is not installed, so that the import does not stop the check
STAND_INS = ("h5py", "scipy", "PIL", "imageio", "sklearn", "matplotlib", "tensorflow", "keras")

def _needs_course_file(module: str, name: str):
    def missing(*args, **kwargs):
        raise RuntimeError(f"{name} comes from the course's {module}.py, which is not beside your file; "
                           f"check supplies only {', '.join(sorted(HELPERS.get(module, dict)()))} of it")
    missing.__name__ = name
    return missing


def _does_nothing(name: str):
    def test(*args, **kwargs):
        return None
    test.__name__ = name
    return test


def _stand_in(name: str):
    def missing(*args, **kwargs):
        raise RuntimeError(f"{name} is not installed here; check supplied a stand-in for the import, and only code "
                           "it skips (data loading, plots) calls it")
    missing.__name__ = name.rsplit(".", 1)[-1]
    return missing


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name, f"the course's {name}, as supplied by chainrule check")
    if name.split(".")[0] in STAND_INS:
        module.__doc__ = f"a stand-in for {name}, as supplied by chainrule check"
        module.__path__ = []                                  # a package: its submodules are stand-ins too
        module.__getattr__ = lambda attr: _stand_in(f"{name}.{attr}") if not attr.startswith("__") else \
            _raise(name, attr)
        module.__all__ = []
    elif name in TESTS:
        module.__getattr__ = lambda attr: _does_nothing(attr) if not attr.startswith("__") else _raise(name, attr)
        module.__all__ = []
    else:
        contents = HELPERS[name]()
        module.__dict__.update(contents)
        module.__all__ = sorted(contents)
        module.__getattr__ = lambda attr: _needs_course_file(name, attr) if not attr.startswith("__") else \
            _raise(name, attr)
    return module


def _raise(module: str, attr: str):
    raise AttributeError(f"module {module!r} has no attribute {attr!r}")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the course's helper modules last, after the learner's folder and site-packages."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in HELPERS or fullname in TESTS or fullname.split(".")[0] in STAND_INS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname.split(".")[0] in STAND_INS)
        return None

    def create_module(self, spec):
        return _module(spec.name)

    def exec_module(self, module):
        pass


def install() -> None:
    """Let ``import dnn_utils`` (and the others) find these when nothing else does."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def notes(imported: list[str]) -> list[str]:
    """One line for each of the ``imported`` modules that is one of these, saying what it holds."""
    out = []
    for name in dict.fromkeys(imported):
        module = sys.modules.get(name)
        if module is None or not _supplied(module):
            continue
        if name.split(".")[0] in STAND_INS:
            out.append(f"your file imports {name}, which is not installed here: check supplied a stand-in (only "
                       "the code it skips, data loading and plots, would use it)")
        elif name in TESTS:
            out.append(f"your file imports {name}, which is not beside it: its tests do nothing here "
                       "(check runs its own)")
        else:
            held = ", ".join(sorted(HELPERS[name]()))
            generation = ("sigmoid and relu return (A, cache)" if HELPERS[name] is _deep else
                          "sigmoid and relu return A alone")
            out.append(f"your file imports {name}, which is not beside it: check supplied the course's {held} "
                       f"({generation})")
    return out


def _supplied(module: types.ModuleType) -> bool:
    return (getattr(module, "__doc__", None) or "").endswith("as supplied by chainrule check")
