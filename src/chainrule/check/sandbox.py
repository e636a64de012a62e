"""Running ``check`` on a learner's file in a separate process, with limits.

The learner's code may loop for ever, allocate without end, or reach for the network. It runs
in a child process (``_child``) that limits its own address space (``memory``) and CPU time
where the system has those limits (Linux enforces both; macOS the CPU time only; Windows
neither), under a wall-clock ``timeout`` kept here; sockets and new processes are refused
there. These guard against accidents, not against code written to escape them. Whatever
happens, the caller gets a CheckReport or an ``UnusableFile`` with one line saying why, and
the child is gone.

    check_file(path, timeout=60, memory=2 GiB, run_all=False)    CheckReport
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .report import CheckReport
from .source import LearnerSource, UnusableFile, parse, read_source

TIMEOUT = 60.0                     # seconds: a whole course notebook's functions check in a few
MAX_TIMEOUT = 86400.0              # a day
MEMORY = 2 * 1024**3               # bytes of address space: far above what the course's functions need
GRACE = 20.0                       # seconds after the timeout (for starting Python and NumPy) before a kill
STDERR_TAIL = 64 * 1024            # bytes of the child's stderr kept: where it stopped, or why it failed


def _where_stopped(stderr: str, source: LearnerSource) -> str:
    """ ": your linear_forward was running, at line 7 (`while True:`)" from the watchdog's dump."""
    frames = re.findall(r'File "(.*)", line (\d+) in (\S+)', stderr)
    spellings = {source.path, source.path.encode("ascii", "backslashreplace").decode("ascii")}  # faulthandler's too
    mine = [(int(line), name) for path, line, name in frames if path in spellings]
    checking = [name[len("check_"):] for _, _, name in frames if name.startswith("check_")]
    if not mine:
        return ""
    line, name = mine[0]                                      # the dump lists the most recent call first
    code = source.line(line)
    during = f" while check ran {checking[0]}" if checking and checking[0] != name else ""
    return f": your {name} was running{during}, at {source.where(line)}" + (f" (`{code}`)" if code else "")


def _size(n: int) -> str:
    return f"{n / 1024**3:g} GiB" if n >= 1024**3 else f"{n / 1024**2:g} MiB"


def _kill(process: subprocess.Popen) -> None:
    """The child and anything it started, gone."""
    if process.poll() is None:
        if os.name == "posix":
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            process.kill()
    process.wait()


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - STDERR_TAIL))
        return f.read().decode("utf-8", "replace")


def _unusable(message: str, stderr: str) -> UnusableFile:
    error = UnusableFile(message)
    error.detail = stderr                                     # the child's stderr, for --debug
    return error


def _run(request: Path, folder: Path, timeout: float) -> tuple[int | None, str]:
    """Start the child on ``request`` and wait for it (killed after timeout + GRACE); its
    status and the tail of its stderr."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", PYTHONSAFEPATH="1")
    stderr_path = Path(folder, "stderr.txt")
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "chainrule.check._child", str(request)],
                                   cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=os.name == "posix")
        try:
            process.wait(timeout=timeout + GRACE)
        except subprocess.TimeoutExpired:
            pass
        finally:                                              # also on Ctrl-C: nothing is left running
            _kill(process)
    return process.returncode, _tail(stderr_path)


def check_file(path: str | Path, timeout: float = TIMEOUT, memory: int = MEMORY, run_all: bool = False,
               shown_as: str | None = None) -> CheckReport:
    """Check the course's functions of a learner's ``.py`` or ``.ipynb`` in a separate process.

    Parameters
    ----------
    path : the learner's file
    timeout : seconds the learner's code may take (the whole check)
    memory : bytes of address space the learner's code may use
    run_all : run every top-level statement, not only the definitions
    shown_as : how the report names the file (default: ``path`` as given)

    Raises ``UnusableFile`` with one line when the file cannot be checked: not found, a
    syntax error, an exception while it loads, the time or memory limit reached.
    """
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT:g}] seconds; got {timeout!r}")
    source = read_source(path)
    parse(source)                                             # a syntax error says so here, at once
    absolute = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="chainrule-check-") as folder:
        request, result = Path(folder, "request.json"), Path(folder, "result.json")
        request.write_text(json.dumps({"path": str(absolute), "result": str(result), "timeout": timeout,
                                       "memory": memory, "cpu_seconds": int(timeout + GRACE), "run_all": run_all,
                                       "shown_as": shown_as or str(path)}))
        status, stderr = _run(request, Path(folder), timeout)
        answer = None
        if result.exists():
            try:
                answer = json.loads(result.read_text())
            except ValueError:
                answer = None
    if answer is not None and "unusable" in answer:
        message = answer["unusable"].replace(str(absolute), str(path))
        raise _unusable(message.replace("more memory than check allows", "more memory than check allows "
                                        f"({_size(memory)}; --memory gives more)"), stderr)
    if answer is not None:
        return CheckReport.from_json(answer["report"])
    local = LearnerSource(str(absolute), *source[1:])
    killed = {getattr(signal, name, None) for name in ("SIGKILL", "SIGXCPU")} - {None}
    if "Timeout (" in stderr or (status is not None and -status in killed):
        why = ("; --run-all runs the file's training and tests too, which may take longer (--timeout gives it "
               "longer)" if run_all else "; an endless loop? (--timeout gives it longer)")
        raise _unusable(f"{path} did not finish within {timeout:g} s and was stopped{_where_stopped(stderr, local)}"
                        f"{why}", stderr)
    if "MemoryError" in stderr:
        raise _unusable(f"{path}: your code asked for more memory than check allows ({_size(memory)}; --memory "
                        "gives more) and was stopped", stderr)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {status}"
    raise _unusable(f"the check of {path} ended without a report ({last})", stderr)
