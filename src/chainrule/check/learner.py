"""Loading a learner's file into a namespace: its definitions run, the course's helper modules
supplied where missing, and any exception turned into the one line the learner sees.

    load_learner(path, run_all=False, isolated=False)     (namespace, notes)

``isolated`` is for the separate process ``check_file`` starts: matplotlib is imported first
(it may start a process when it builds its font cache), then sockets and new processes are
refused for the rest of the process's life (an audit hook cannot be removed).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from . import calls, course_modules
from .source import LearnerSource, UnusableFile, definitions, read_source

REFUSED = ("socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyaddr", "socket.sendto", "urllib.Request", "subprocess.Popen", "os.system", "os.exec",
           "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg", "ctypes.dlopen")


def _refuse(event: str, args) -> None:
    if event in REFUSED:
        raise PermissionError(f"check runs your code without network access or new processes ({event})")


def _isolate(source: LearnerSource) -> None:
    if "matplotlib" in source.text:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot
        except ImportError:
            pass
    sys.addaudithook(_refuse)


def _run(source: LearnerSource, modules: list[ast.Module], namespace: dict, run_all: bool) -> list[str]:
    """Run each top-level statement; ``UnusableFile`` with one line if one raises. Without
    ``run_all`` an assignment that fails (it reads a name a skipped statement binds, as
    ``shape_X = X.shape`` after the skipped ``X, Y = load_planar_dataset()``) is skipped too,
    and said in the notes returned."""
    notes = []
    for module in modules:
        node = module.body[0]
        try:
            exec(compile(module, source.path, "exec"), namespace)
        except MemoryError as error:
            raise UnusableFile(f"{source.path}: your code asked for more memory than check allows"
                               f"{calls.learner_frame(error)}; it was stopped") from None
        except BaseException as error:                        # the learner's file may raise anything, even exit
            if not run_all and not isinstance(node, _NEEDED):
                notes.append(f"skipped the assignment at {source.where(node.lineno)} too: {calls.describe(error)}")
                continue
            where = calls.learner_frame(error) or f" at {source.where(node.lineno)}"
            raise UnusableFile(f"{source.path}: your file raised {calls.describe(error)}{where} while it was "
                               f"loaded{_course_test_hint(error)}") from None
    return notes


_NEEDED = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _course_test_hint(error: BaseException) -> str:
    """For --run-all: a course test the supplied testCases or public_tests cannot give."""
    name = getattr(error, "name", "") or ""
    if isinstance(error, NameError) and re.search(r"_test(_case)?\w*$", name):
        return (f" ({name} comes from the course's testCases.py or public_tests.py, which are not beside your file; "
                "put them there, or leave out --run-all)")
    return ""


def _imported(modules: list[ast.Module]) -> list[str]:
    names = []
    for module in modules:
        node = module.body[0]
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def load_learner(path: str | Path, run_all: bool = False, isolated: bool = False) -> tuple[dict, list[str]]:
    """The namespace of a learner's file after its definitions (or, ``run_all``, all of it) ran,
    and the notes on what was skipped or supplied. ``UnusableFile`` when it cannot be loaded."""
    source = read_source(path)
    modules, note, skipped_names = definitions(source, run_all)
    course_modules.install()
    folder = str(Path(source.path).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    calls.SOURCE.update(path=source.path, where=source.where, line=source.line, skipped=skipped_names)
    if isolated:
        _isolate(source)
    namespace = {"__name__": "__main__" if run_all else "__learner__", "__file__": source.path}
    failed = _run(source, modules, namespace, run_all)
    notes = list(source.notes) + ([note] if note else []) + failed + course_modules.notes(_imported(modules))
    return namespace, notes
