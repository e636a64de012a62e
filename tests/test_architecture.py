"""The shape of the package (GUIDE §3), checked on its source: imports point one way, the 1/m
of J is applied where the notation contract says and nowhere else, no module shadows the
standard library, the loop and its policies fit on a screen, and the examples in the
docstrings run."""

import ast
import doctest
import importlib
import inspect
import io
import pkgutil
import sys
import textwrap
import tokenize
from pathlib import Path

import pytest

import chainrule

SOURCE = Path(chainrule.__file__).parent
MODULES = sorted(p.stem for p in SOURCE.glob("*.py") if p.stem != "__main__")


def _imports(module: str) -> set[str]:
    """The chainrule modules ``module`` imports (relative imports, by their first name)."""
    tree = ast.parse((SOURCE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module, allowed", [
    ("precision", set()),                          # a leaf of dtype rules
    ("_checks", {"precision"}),                    # validation: the bottom, with the precision policy only
    ("_files", set()),
    ("history", set()),                            # a leaf: files and pictures import it, not training
    ("activations", set()),
    ("layers", {"_checks"}),
    ("losses", {"precision"}),
    ("workspace", {"layers"}),                     # buffers only: no math
])
def test_the_bottom_layers_import_only_below_them(module, allowed):
    assert _imports(module) <= allowed, f"{module} imports {sorted(_imports(module) - allowed)}"


def test_imports_point_one_way():
    """No cycle: a module never imports (even indirectly) one that imports it."""
    graph = {m: _imports(m) & set(MODULES) for m in MODULES if m != "__init__"}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for module in graph:
        assert module not in reach(module), f"{module} is in an import cycle"


@pytest.mark.parametrize("module, forbidden", [("plot", {"training", "cli"}), ("checkpoint", {"cli", "plot"}),
                                               ("model", {"training", "callbacks", "checkpoint"}),
                                               ("callbacks", {"training", "checkpoint", "cli"})])
def test_the_edges_do_not_reach_upwards(module, forbidden):
    assert not _imports(module) & forbidden


def test_no_module_is_named_like_one_of_the_standard_library():
    assert not {m for m in MODULES if m in sys.stdlib_module_names}
    assert not {m.name for m in pkgutil.iter_modules(chainrule.__path__)} & set(sys.stdlib_module_names)


def _divisions_by_m() -> list[tuple[str, str, int]]:
    """Every place in the code (not strings or comments) that divides by the name m:
    (module, enclosing function, line)."""
    found = []
    for module in MODULES:
        path = SOURCE / f"{module}.py"
        text = path.read_text()
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
        functions = [(n.lineno, n.end_lineno, n.name) for n in ast.walk(ast.parse(text))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for a, b in zip(tokens, tokens[1:]):
            if a.type == tokenize.OP and a.string == "/" and b.type == tokenize.NAME and b.string == "m":
                line = a.start[0]
                inner = min((f for f in functions if f[0] <= line <= f[1]), key=lambda f: f[1] - f[0])
                found.append((module, inner[2], line))
    return found


def test_the_one_over_m_of_J_is_applied_where_the_contract_says_and_nowhere_else():
    """GUIDE §2: under "deferred" the data term's 1/m enters in the dW/db step only; under
    "absorbed" in the output delta only; and once in the cost. The fourth place is the slow
    per-example reference, whose mean over examples is its own, independent 1/m."""
    places = _divisions_by_m()
    assert {(module, function) for module, function, _ in places} == set([
        ("layers", "linear_backward"),             # deferred: dW = (1/m) dZ A_prevᵀ, db = (1/m) Σ dZ
        ("model", "_absorbed"),                    # absorbed: dZ[L] = (1/m)(A[L] − Y)
        ("losses", "cost_from_loss"),              # the cost J = (1/m) Σ L
        ("model", "backward_per_example"),         # the reference: the mean of m per-example gradients
    ]), places
    deferred = [line for module, function, line in places if function == "linear_backward"]
    assert len(deferred) == 1                      # one line applies it, to dW and db alike


def _code_lines(function) -> int:
    """The lines of a function's code, its signature and docstring not counted."""
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return body[-1].end_lineno - body[0].lineno + 1


def test_fit_and_each_callback_fit_on_a_screen():
    """The loop is short (GUIDE §3): fit, an epoch, and every hook of every callback within
    40 lines of code each."""
    from chainrule import callbacks, training

    functions = [training.fit, training.run_epoch, training.iterate]
    for name in ("DivergenceGuard", "EarlyStopping", "Progress", "Checkpoint"):
        cls = getattr(callbacks, name)
        functions += [getattr(cls, hook) for hook in ("start", "__call__", "finish") if hook in vars(cls)]
    for function in functions:
        assert _code_lines(function) <= 40, f"{function.__qualname__} is {_code_lines(function)} lines long"


@pytest.mark.parametrize("module", [m for m in MODULES if m not in ("__init__", "cli")])
def test_the_examples_in_the_docstrings_run(module):
    result = doctest.testmod(importlib.import_module(f"chainrule.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
