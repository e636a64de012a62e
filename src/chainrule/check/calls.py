"""Calling a learner's function: on copies of its arguments, noting what it changed in place,
what its local variables were when it returned, and, if it raised, the learner's own line.

    call(fn, *args, **kwargs)     Call(value, changed, local_vars)
    LearnerRaised                 its exception, with the learner's last frame, in one line
    ResourceLimit                 a MemoryError: the check ends, the file cannot be used
"""

from __future__ import annotations

import copy
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


class LearnerRaised(Exception):
    """The learner's function raised; ``str()`` is "raised TypeError: … at line 12 (`code`)"."""


class ResourceLimit(Exception):
    """The learner's code ran out of the memory it is allowed; the message says where."""


class Call(NamedTuple):
    """value : what the function returned; changed : the arguments it changed in place, as
    paths ("cache[0][0]"); local_vars : its local variables when it returned (None if not seen)."""

    value: Any
    changed: tuple[str, ...]
    local_vars: dict | None


# Set by the runner: how to name a line of the learner's file ("line 12", "cell 4, line 2").
SOURCE: dict[str, Any] = {"path": None, "where": lambda lineno: f"line {lineno}", "line": lambda lineno: "",
                          "skipped": {}}


def learner_frame(error: BaseException) -> str:
    """ " at line 12 in linear_backward (`dW = np.dot(dZ, A_prev)`)" for the learner's last frame, or ""."""
    frames = traceback.extract_tb(error.__traceback__)
    if SOURCE["path"] is not None:
        frames = [f for f in frames if f.filename == SOURCE["path"]]
    else:                                                      # in a notebook: the frames that are not chainrule's
        package = str(Path(__file__).resolve().parent.parent)
        frames = [f for f in frames if not str(Path(f.filename).resolve()).startswith(package)]
    if not frames:
        return ""
    f = frames[-1]
    code = (SOURCE["line"](f.lineno) if SOURCE["path"] is not None else "") or (f.line or "")
    return f" at {SOURCE['where'](f.lineno)} in {f.name}" + (f" (`{code}`)" if code else "")


def _hint(fn: Callable, error: BaseException) -> str:
    """Why, where the learner's line does not say: a name a skipped statement binds, or a
    signature that does not take the course's arguments."""
    name = getattr(error, "name", None)
    if isinstance(error, NameError) and name in SOURCE["skipped"]:
        line = SOURCE["where"](SOURCE["skipped"][name])
        return (f"; {name} is set at {line}, a statement check skipped (it runs only definitions): pass it as an "
                "argument, or give --run-all")
    if isinstance(error, TypeError) and not learner_frame(error) and "argument" in str(error):
        try:
            signature = f"{fn.__name__}{inspect.signature(fn)}"
        except (TypeError, ValueError):
            return ""
        return f"; your function is {signature}: it must take the course's arguments"
    return ""


def describe(error: BaseException) -> str:
    """ "TypeError: message" on one line."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True)))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:                                      # an odd object: compare identity
        return a is b


def _changed(before: Any, after: Any, path: str) -> list[str]:
    """The paths inside ``after`` that differ from ``before`` (the innermost that differ)."""
    if _same(before, after):
        return []
    if isinstance(before, dict) and isinstance(after, dict) and before.keys() == after.keys():
        return [p for k in before for p in _changed(before[k], after[k], f"{path}[{k!r}]")]
    if isinstance(before, list | tuple) and isinstance(after, list | tuple) and len(before) == len(after):
        return [p for i, (x, y) in enumerate(zip(before, after)) for p in _changed(x, y, f"{path}[{i}]")]
    return [path]


def call(fn: Callable, *args: Any, names: tuple[str, ...] = (), **kwargs: Any) -> Call:
    """``fn(*args, **kwargs)`` on deep copies, with what it changed and its locals at return.

    ``names`` names the positional arguments in messages (default: the function's own
    parameter names). A ``MemoryError`` becomes ``ResourceLimit``; any other exception
    ``LearnerRaised`` with the learner's line.
    """
    working_args, working_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    seen: dict = {}
    code = getattr(fn, "__code__", None)

    def profile(frame, event, arg):
        if event == "return" and frame.f_code is code and "locals" not in seen:
            seen["locals"] = dict(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        value = fn(*working_args, **working_kwargs)
    except MemoryError as error:
        raise ResourceLimit(f"{getattr(fn, '__name__', 'your code')} asked for more memory than check allows"
                            f"{learner_frame(error)}") from None
    except RecursionError as error:
        raise LearnerRaised(f"raised RecursionError (it calls itself without end){learner_frame(error)}") from None
    except (Exception, SystemExit, KeyboardInterrupt) as error:     # the learner's code may raise anything
        raise LearnerRaised(f"raised {describe(error)}{learner_frame(error)}{_hint(fn, error)}") from None
    finally:
        sys.setprofile(previous)
    if not names and code is not None:
        names = code.co_varnames[:code.co_argcount]
    changed = []
    for i, (before, after) in enumerate(zip(args, working_args)):
        name = names[i] if i < len(names) else f"argument {i + 1}"
        changed += _changed(before, after, name)
    for key in kwargs:
        changed += _changed(kwargs[key], working_kwargs[key], key)
    return Call(value, tuple(changed), seen.get("locals"))
