"""Running ``check`` on a learner's file in a separate process, with limits.

The learner's code may loop for ever, allocate without end, or reach for the network. It runs
in a child process (``_child``) with an address-space limit (``memory``), a CPU-time limit and
a wall-clock ``timeout``; sockets and new processes are refused there. Whatever happens, the
caller gets a CheckReport or an ``UnusableFile`` with one line saying why.

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
MEMORY = 2 * 1024**3               # bytes of address space: far above what the course's functions need
GRACE = 20.0                       # seconds after the timeout (for starting Python and NumPy) before a kill


def _limits(memory: int, cpu_seconds: int):
    def apply():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    return apply


def _where_stopped(stderr: str, source: LearnerSource) -> str:
    """ ": your linear_forward was running, at line 7 (`while True:`)" from the watchdog's dump."""
    frames = re.findall(r'File "(.*)", line (\d+) in (\S+)', stderr)
    mine = [(int(line), name) for path, line, name in frames if os.path.abspath(path) == os.path.abspath(source.path)]
    checking = [name[len("check_"):] for _, _, name in frames if name.startswith("check_")]
    if not mine:
        return ""
    line, name = mine[0]                                      # the dump lists the most recent call first
    code = source.line(line)
    during = f" while check ran {checking[0]}" if checking and checking[0] != name else ""
    return f": your {name} was running{during}, at {source.where(line)}" + (f" (`{code}`)" if code else "")


def _size(n: int) -> str:
    return f"{n / 1024**3:g} GiB" if n >= 1024**3 else f"{n / 1024**2:g} MiB"


def check_file(path: str | Path, timeout: float = TIMEOUT, memory: int = MEMORY, run_all: bool = False,
               shown_as: str | None = None) -> CheckReport:
    """Check the course's functions of a learner's ``.py`` or ``.ipynb`` in a separate process.

    Parameters
    ----------
    path : the learner's file
    timeout : seconds the whole check may take
    memory : bytes of address space the learner's code may use
    run_all : run every top-level statement, not only the definitions
    shown_as : how the report names the file (default: ``path`` as given)

    Raises ``UnusableFile`` with one line when the file cannot be checked: not found, a
    syntax error, an exception while it loads, the time or memory limit reached.
    """
    source = read_source(path)
    parse(source)                                             # a syntax error says so here, at once
    absolute = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="chainrule-check-") as folder:
        request, result = Path(folder, "request.json"), Path(folder, "result.json")
        request.write_text(json.dumps({"path": str(absolute), "result": str(result), "timeout": timeout,
                                       "run_all": run_all, "shown_as": shown_as or str(path)}))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        process = subprocess.Popen([sys.executable, "-m", "chainrule.check._child", str(request)],
                                   cwd=absolute.parent, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_limits(memory, int(timeout + GRACE)), start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout + GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
        if result.exists():
            answer = json.loads(result.read_text())
            if "unusable" in answer:
                message = answer["unusable"].replace(str(absolute), str(path))
                raise UnusableFile(message.replace("more memory than check allows", "more memory than check allows "
                                                   f"({_size(memory)}; --memory gives more)"))
            return CheckReport.from_json(answer["report"])
    local = LearnerSource(str(absolute), *source[1:])
    if "Timeout (" in stderr or process.returncode in (-signal.SIGKILL, -signal.SIGXCPU):
        raise UnusableFile(f"{path} did not finish within {timeout:g} s and was stopped{_where_stopped(stderr, local)}"
                           "; an endless loop? (--timeout gives it longer)")
    if "MemoryError" in stderr:
        raise UnusableFile(f"{path}: your code asked for more memory than check allows ({_size(memory)}; --memory "
                           "gives more) and was stopped")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {process.returncode}"
    raise UnusableFile(f"the check of {path} ended without a report ({last})")
