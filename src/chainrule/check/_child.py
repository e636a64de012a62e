"""The process a learner's file runs in: ``python -m chainrule.check._child REQUEST.json``.

It loads the file's definitions (``learner.load_learner``, isolated: no sockets, no new
processes), checks the course's functions it finds, and writes {"report": …} or
{"unusable": "one line"} to the request's result file. The parent (``sandbox``) sets its
limits on memory and CPU time; a watchdog here dumps the stack to stderr when the time is up,
so that the parent can say where the learner's code was.
"""

from __future__ import annotations

import faulthandler
import json
import sys
from pathlib import Path


def main(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text())
    from .calls import ResourceLimit
    from .catalogue import check_functions
    from .learner import load_learner
    from .source import UnusableFile

    faulthandler.dump_traceback_later(request["timeout"], exit=True)    # the learner's time, not our imports'

    try:
        namespace, notes = load_learner(request["path"], request["run_all"], isolated=True)
        report = check_functions(namespace, request["shown_as"], notes)
        answer = {"report": report.to_json()}
    except UnusableFile as error:
        answer = {"unusable": str(error)}
    except ResourceLimit as error:
        answer = {"unusable": f"{request['path']}: {error}; it was stopped"}
    Path(request["result"]).write_text(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
