"""A learner's file as code to run: a ``.py`` as it is, a notebook's code cells in order.

    read_source(path)      LearnerSource: the program text, where each line came from, notes
    definitions(source)    the top-level statements a function can depend on, to run one by one

IPython magics (``%matplotlib inline``, ``%%time``) and shell lines (``!pip install``) are
not Python; they become blank lines, so that every line number still points at the line the
learner wrote, and a note says what was skipped.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import NamedTuple


class UnusableFile(Exception):
    """A file that cannot be checked; the message is the one line the learner sees."""


class LearnerSource(NamedTuple):
    """The program text of a learner's file.

    path : the file; text : the code, cells joined in order; starts : for a notebook, the
    first line of each code cell in ``text`` (empty for a .py); cells : the cell numbers (1 for
    the notebook's first cell, markdown included) that ``starts`` refers to; notes : what
    was skipped and why.
    """

    path: str
    text: str
    starts: tuple[int, ...]
    cells: tuple[int, ...]
    notes: tuple[str, ...]

    def where(self, lineno: int) -> str:
        """'line 12' in a .py; 'cell 4, line 2' in a notebook."""
        if not self.starts:
            return f"line {lineno}"
        k = max((i for i, s in enumerate(self.starts) if s <= lineno), default=0)
        return f"cell {self.cells[k]}, line {lineno - self.starts[k] + 1}"

    def line(self, lineno: int) -> str:
        """The text of line ``lineno`` (1-based), stripped; '' outside the file."""
        lines = self.text.splitlines()
        return lines[lineno - 1].strip() if 1 <= lineno <= len(lines) else ""


def _is_magic(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("%", "!")) and not stripped.startswith("!=")


RUN_BODY = ("%%time", "%%capture")            # cell magics whose body is the cell's Python, run as Jupyter runs it


def _without_magics(lines: list[str], skipped: list[str]) -> list[str]:
    """The lines with IPython magics and shell lines blanked. A ``%%time`` or ``%%capture`` cell
    keeps its body; any other ``%%`` cell magic (``%%bash``, ``%%writefile``) blanks the cell."""
    if lines and lines[0].lstrip().startswith("%%"):
        skipped.append(lines[0].strip())
        if lines[0].split()[0] in RUN_BODY:
            return [""] + _without_magics(lines[1:], skipped)
        if any(re.match(r"\s*def \w+", line) for line in lines[1:]):
            skipped.append(f"{lines[0].split()[0]} cell whose functions are not run")
        return [""] * len(lines)
    out = []
    for line in lines:
        if _is_magic(line):
            skipped.append(line.strip())
            out.append("")
        else:
            out.append(line)
    return out


def _notebook_cells(path: Path) -> list[tuple[int, list[str]]]:
    """(cell number, lines) of each code cell of an .ipynb, in order."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise UnusableFile(f"{path} is not a Jupyter notebook: its JSON does not parse ({error})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        version = notebook.get("nbformat") if isinstance(notebook, dict) else None
        hint = f" (it is nbformat {version}; open and save it in a recent Jupyter)" if version and version < 4 else ""
        raise UnusableFile(f"{path} is not a Jupyter notebook of nbformat 4: it has no list of cells{hint}")
    cells = notebook["cells"]
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        code.append((number, text.splitlines()))
    return code


def read_source(path: str | Path) -> LearnerSource:
    """Read a ``.py`` or an ``.ipynb`` (code cells only, in order) as one program text.

    Raises ``UnusableFile`` with one line for a missing file, another kind of file, or text
    that is not UTF-8.
    """
    path = Path(path)
    if path.is_dir():
        raise UnusableFile(f"FILE must be a .py or an .ipynb file; {str(path)!r} is a folder")
    if path.suffix.lower() not in (".py", ".ipynb"):
        raise UnusableFile(f"FILE must be a .py or an .ipynb file; got {str(path)!r}")
    if not path.is_file():
        raise UnusableFile(f"no such file: {path}")
    skipped: list[str] = []
    broken: list[str] = []
    try:
        if path.suffix.lower() == ".py":
            lines = _without_magics(path.read_text(encoding="utf-8").splitlines(), skipped)
            starts: list[int] = []
            numbers: list[int] = []
        else:
            lines, starts, numbers = [], [], []
            for number, cell in _notebook_cells(path):
                starts.append(len(lines) + 1)
                numbers.append(number)
                lines.extend(_parsed_or_blank(number, _without_magics(cell, skipped), broken))
    except UnicodeDecodeError as error:
        raise UnusableFile(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    notes = []
    if skipped:
        shown = ", ".join(repr(s) for s in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        notes.append(f"skipped {len(skipped)} IPython magic or shell line{'s' * (len(skipped) > 1)} "
                     f"({shown}): they are not Python")
    notes += broken
    return LearnerSource(str(path), "\n".join(lines) + "\n", tuple(starts), tuple(numbers), tuple(notes))


def _parsed_or_blank(number: int, lines: list[str], broken: list[str]) -> list[str]:
    """A notebook cell's lines; blank, with a note, when the cell does not parse and defines no
    function (a scratch cell; one that defines a function makes the file unusable, said later)."""
    try:
        ast.parse("\n".join(lines))
    except SyntaxError as error:
        if not any(re.match(r"\s*def \w+", line) for line in lines):
            broken.append(f"skipped cell {number}: SyntaxError at its line {error.lineno}: {error.msg} (it defines no "
                          "function)")
            return [""] * len(lines)
    return lines


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_constant(node: ast.AST) -> bool:
    """An expression of literals only: 0.01, [5, 4, 1], {"a": 1}, -2, 1e-7 * 2."""
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return isinstance(node, ast.BinOp) and _is_constant(node.left) and _is_constant(node.right)


def _calls_nothing(node: ast.AST) -> bool:
    """An expression that runs no code of its own: literals, names, attributes, lambdas
    (``dot = np.dot``, ``relu = lambda Z: np.maximum(0, Z)``, ``layers_dims = [5, 4, 1]``)."""
    if isinstance(node, ast.Lambda):
        return True
    return not any(isinstance(n, ast.Call | ast.Subscript | ast.Await | ast.Yield | ast.YieldFrom | ast.NamedExpr)
                   for n in ast.walk(node)) or _is_constant(node)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITIONS):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        return _calls_nothing(node.value)
    return False


def parse(source: LearnerSource) -> ast.Module:
    """The program's syntax tree, or ``UnusableFile`` naming where the syntax error is."""
    try:
        return ast.parse(source.text, filename=source.path)
    except SyntaxError as error:
        where = source.where(error.lineno or 0)
        raise UnusableFile(f"{source.path}, {where}: SyntaxError: {error.msg}; "
                           f"the file cannot run until it is fixed") from None


def bound_names(nodes: list[ast.stmt]) -> dict[str, int]:
    """The names the statements bind at the top level (assignments, loops, with), and the line."""
    names: dict[str, int] = {}
    for node in nodes:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For):
            targets = [node.target]
        elif isinstance(node, ast.With):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    names.setdefault(name.id, node.lineno)
    return names


class Program(NamedTuple):
    """What of a learner's file runs: modules (each top-level statement to run, as a module of
    its own), note (on what is skipped, or None), skipped_names (the names the skipped
    statements would have bound, with their line: a function that reads one is told so)."""

    modules: list[ast.Module]
    note: str | None
    skipped_names: dict[str, int]


def definitions(source: LearnerSource, run_all: bool = False) -> Program:
    """The top-level statements to run, each as a module of its own, and a note on the rest.

    By default only what a function can depend on runs: imports, function and class
    definitions, and assignments that call nothing (``layers_dims = [12288, 20, 7, 5, 1]``,
    ``dot = np.dot``, ``relu = lambda Z: np.maximum(0, Z)``). The
    course's test calls, data loading, training and plots are skipped: they need the course's
    files and time, and ``check`` runs its own tests. ``run_all`` runs every statement, as
    Python would.
    """
    tree = parse(source)
    chosen = tree.body if run_all else [node for node in tree.body if _is_definition(node)]
    skipped = len(tree.body) - len(chosen)
    note = None
    if skipped:
        note = (f"skipped {skipped} top-level statement{'s' * (skipped > 1)} that define{'s' * (skipped == 1)} "
                f"nothing (the course's test calls, data loading, training, plots); --run-all runs them")
    left = [node for node in tree.body if node not in chosen]
    return Program([ast.Module(body=[node], type_ignores=[]) for node in chosen], note, bound_names(left))
