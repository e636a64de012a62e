"""The command line: parses, calls the library, formats. No math lives here.

    chainrule [train] [--hidden-layers 4] [--hidden-activation tanh] [--learning-rate 1.2]
                      [--num-epochs 10000] [--seed 2] [--print-every 1000]

trains the course's planar classifier and prints its cost and accuracy;

    chainrule gradcheck [--layer-dims 2,4,3,1] [--hidden-activation tanh] [--output sigmoid]
                        [-m 50] [--seed 1] [--epsilon 1e-7]

checks backward under both conventions against central differences on random data of the
given shape, then checks a backward with the 1/m applied twice, to show what a failure
looks like and which layers it points at. A user's mistake ends with one line on stderr
and exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .datasets import planar_flower
from .gradcheck import double_one_over_m, gradient_check, random_problem
from .model import ModelConfig, accuracy, init_params
from .training import train


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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train the course's planar classifier (the default)",
                                description="Train a network on the planar flower data, as the course does.")
    train.add_argument("--hidden-layers", type=_int_list, default=[4], help="hidden layer sizes (default: 4)")
    train.add_argument("--hidden-activation", default="tanh", help="g[l] for hidden layers (default: tanh)")
    train.add_argument("--learning-rate", type=float, default=1.2, help="α (default: 1.2)")
    train.add_argument("--num-epochs", type=int, default=10000, help="full-batch epochs (default: 10000)")
    train.add_argument("--seed", type=int, default=2,
                       help="legacy RandomState seed of the initial weights (default: 2, the course's)")
    train.add_argument("--print-every", type=int, default=1000, help="print the cost every N epochs (default: 1000)")
    train.add_argument("--debug", action="store_true", help="show tracebacks")

    check = commands.add_parser("gradcheck", help="check backward against finite differences",
                                description="Gradient check of both conventions on random data, and of a planted bug.")
    check.add_argument("--layer-dims", type=_int_list, default=[2, 4, 3, 1],
                       help="layer sizes n_x,n_1,…,n_y (default: 2,4,3,1)")
    check.add_argument("--hidden-activation", default="tanh", help="g[l] for hidden layers (default: tanh)")
    check.add_argument("--output", default="sigmoid", help="sigmoid, softmax or identity (default: sigmoid)")
    check.add_argument("-m", "--examples", type=int, default=50, help="examples in the random batch (default: 50)")
    check.add_argument("--seed", type=int, default=1, help="seed of the random data and weights (default: 1)")
    check.add_argument("--epsilon", type=float, default=1e-7, help="finite-difference step (default: 1e-7)")
    check.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _train(args: argparse.Namespace) -> int:
    data = planar_flower()
    config = ModelConfig([data.X.shape[0], *args.hidden_layers, 1], args.hidden_activation, "sigmoid")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer; got {args.seed}")
    if args.print_every < 1:
        raise ValueError(f"--print-every must be a positive integer; got {args.print_every}")
    params = init_params(config, np.random.RandomState(args.seed), "random", 0.01)
    print(f"Training [{', '.join(map(str, config.layer_dims))}] ({config.hidden_activation} hidden, "
          f"sigmoid output) on the planar flower data, m = {data.X.shape[1]}: gradient descent, "
          f"learning rate {args.learning_rate:g}, {args.num_epochs} full-batch epochs.")

    def report(record) -> None:
        if record.epoch % args.print_every == 0:
            print(f"Cost after epoch {record.epoch}: {record.cost:.6f}")

    params, history = train(config, data.X, data.Y, params=params, learning_rate=args.learning_rate,
                            num_epochs=args.num_epochs, callbacks=[report])
    print(f"Training accuracy: {100 * accuracy(params, data.X, data.Y, config):.2f} %")
    return 0


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
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a in ("train", "gradcheck", "-h", "--help") for a in argv):
        argv = ["train", *argv]                                   # train is the default command
    args = _parser().parse_args(argv)
    try:
        return _train(args) if args.command == "train" else _gradcheck(args)
    except ValueError as exc:
        if args.debug:
            raise
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:                                         # output piped into head, say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
