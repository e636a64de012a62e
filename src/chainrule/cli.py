"""The command line: parses, calls the library, formats. No math lives here.

    chainrule [gradcheck] [--layer-dims 2,4,3,1] [--hidden-activation tanh] [--output sigmoid]
                          [-m 50] [--seed 1] [--epsilon 1e-7]

checks backward under both conventions against central differences on random data of the
given shape, then checks a backward with the 1/m applied twice, to show what a failure
looks like and which layers it points at. A user's mistake ends with one line on stderr
and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .gradcheck import double_one_over_m, gradient_check, random_problem
from .model import ModelConfig


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 2,4,1; got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Backpropagation in the Deep Learning Specialization's notation, checked.",
    )
    parser.add_argument("command", nargs="?", default="gradcheck", choices=["gradcheck"],
                        help="what to run (default: gradcheck)")
    parser.add_argument("--layer-dims", type=_int_list, default=[2, 4, 3, 1],
                        help="layer sizes n_x,n_1,…,n_y (default: 2,4,3,1)")
    parser.add_argument("--hidden-activation", default="tanh", help="g[l] for hidden layers (default: tanh)")
    parser.add_argument("--output", default="sigmoid", help="sigmoid, softmax or identity (default: sigmoid)")
    parser.add_argument("-m", "--examples", type=int, default=50, help="examples in the random batch (default: 50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random data and weights (default: 1)")
    parser.add_argument("--epsilon", type=float, default=1e-7, help="finite-difference step (default: 1e-7)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _gradcheck(args: argparse.Namespace) -> int:
    config = ModelConfig(args.layer_dims, args.hidden_activation, args.output)
    if args.examples < 1:
        raise ValueError(f"-m must be at least 1 example; got {args.examples}")
    params, X, Y = random_problem(config, args.examples, np.random.default_rng(args.seed))
    dims = ", ".join(map(str, config.layer_dims))
    print(f"Network [{dims}]: {config.hidden_activation} hidden layers, {config.output} output; "
          f"m = {X.shape[1]} random examples, seed {args.seed}.\n")
    ok = True
    for convention in ("deferred", "absorbed"):
        result = gradient_check(params, X, Y, config, args.epsilon, convention)
        where = "1/m in dW and db" if convention == "deferred" else "1/m in dZ[L]"
        print(f"Gradient check, convention {convention!r} ({where}):")
        print(result.table() + "\n")
        ok = ok and result.passed
    bug = gradient_check(params, X, Y, config, args.epsilon, "deferred",
                         backward_fn=double_one_over_m())
    print("The same check of a backward that applies the 1/m twice (dW, db divided by m again):")
    print(bug.table())
    print(f"layers pointed at: {', '.join(map(str, bug.failing_layers)) or 'none'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _gradcheck(args)
    except ValueError as exc:
        if args.debug:
            raise
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
