"""``chainrule check``: diagnose a learner's own forward and backward propagation.

A learner writes the course's functions (``linear_backward``, ``L_model_backward``,
``backward_propagation``, ``update_parameters_with_adam``, …) in a notebook or a ``.py``.
``check`` runs each one it finds on the course's test recipes and on random networks of
several shapes, compares every array with chainrule's own layer functions, and says per
layer what is right and what is wrong, in the course's notation: the absorbed convention
(correct), a 1/m applied twice or missing, g′ missing or of another layer, transposes,
keepdims, the axis of a sum, signs, L2 and dropout mistakes, inputs changed in place, keys.

    check_functions(namespace)      in a notebook: check_functions(globals())
    check_file(path, timeout, memory, run_all)
                                    a .py or .ipynb, in a separate process with limits

Both return a ``CheckReport``: ``print(report.text())``, ``report["L_model_backward"]``,
``report.to_json()``, ``report.exit_status``.
"""

from .catalogue import CHECKS, check_functions
from .report import CheckReport, Finding, FunctionReport
from .sandbox import check_file
from .source import UnusableFile

__all__ = ["CHECKS", "CheckReport", "Finding", "FunctionReport", "UnusableFile", "check_file", "check_functions"]
