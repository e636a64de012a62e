"""The process a learner's file runs in: ``python -m chainrule.check._child REQUEST.json``.

It sets its own limits (address space, CPU time) where the system has them, loads the file's
definitions (``learner.load_learner``, isolated: no sockets, no new processes), checks the
course's functions it finds, and writes {"report": …} or {"unusable": "one line"} to the
request's result file, whole or not at all. A watchdog dumps the stack to stderr when the
time is up, so that the parent (``sandbox``) can say where the learner's code was.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import threading
import time
from pathlib import Path


def _limit(memory: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:                                        # Windows: the parent's timeout is the limit
        return
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def _watch(timeout: float) -> None:
    """At ``timeout``, write where the main thread is (most recent call first, as faulthandler
    writes it) and end the process. A Python thread reads the main thread's frames whenever
    the learner's loop lets it run; faulthandler, two seconds later, covers a main thread
    stuck in one long C call."""
    main = threading.main_thread().ident

    def stop():
        time.sleep(timeout)
        frame = sys._current_frames().get(main)
        lines = [f"Timeout ({timeout:g} s)!", "Thread (most recent call first):"]
        while frame is not None:
            lines.append(f'  File "{frame.f_code.co_filename}", line {frame.f_lineno} in {frame.f_code.co_name}')
            frame = frame.f_back
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        os._exit(1)

    threading.Thread(target=stop, daemon=True).start()
    faulthandler.dump_traceback_later(timeout + 2, exit=True)


def main(request_path: str) -> None:
    request = json.loads(Path(request_path).read_text())
    from .calls import ResourceLimit
    from .catalogue import check_functions
    from .learner import load_learner
    from .source import UnusableFile

    _limit(request["memory"], request["cpu_seconds"])
    _watch(request["timeout"])                                 # the learner's time, not our imports'
    try:
        namespace, notes = load_learner(request["path"], request["run_all"], isolated=True)
        report = check_functions(namespace, request["shown_as"], notes)
        answer = {"report": report.to_json()}
    except UnusableFile as error:
        answer = {"unusable": str(error)}
    except ResourceLimit as error:
        answer = {"unusable": f"{request['path']}: {error}; it was stopped"}
    result = Path(request["result"])
    partial = result.with_suffix(".part")
    partial.write_text(json.dumps(answer))
    os.replace(partial, result)                                # whole or not at all
    sys.stderr.flush()
    os._exit(0)                                                # a thread the learner left running does not hold us


if __name__ == "__main__":
    main(sys.argv[1])
