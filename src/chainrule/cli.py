"""The command line: parses, calls the library, formats. No math lives here.

    chainrule [train]   train a network (default: the course's planar classifier) and show it
    chainrule explain   every equation of a network, with shapes, and where the 1/m enters
    chainrule gradcheck the per-layer gradient check; --inject shows what a bug looks like
    chainrule compare   train under both conventions (and per example) and measure the gap
    chainrule predict   predictions of a saved model for a CSV file
    chainrule summary   what a saved model is and how it was trained

A user's mistake ends with one line on stderr and exit status 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import io as _io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, datasets
from .activations import HIDDEN_ACTIVATIONS
from .gradcheck import BUGS, buggy_backward, gradient_check, random_problem
from .io import SavedModel, load_model, save_model, write_atomically
from .losses import OUTPUTS
from .model import ModelConfig, accuracy, compute_data_cost, init_params, predict, predict_proba
from .optimizers import OPTIMIZERS
from .training import EpochRecord, History, TrainingDiverged, compare_conventions, fit

COMMANDS = ("train", "explain", "gradcheck", "compare", "predict", "summary")
REAL_DATA = ("digits", "breast_cancer", "iris", "wine")


# --- arguments ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line (and a pointer to --help), not the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 20,7,5; got {text!r}") from None


def _network_flags(parser: argparse.ArgumentParser, seed_help: str) -> None:
    """The flags that say which network and data: shared by train, explain, gradcheck, compare."""
    group = parser.add_argument_group("network and data")
    group.add_argument("--data", default="flower",
                       help=f"a built-in data set ({', '.join(datasets.DATASETS)}) or a CSV file (default: flower)")
    group.add_argument("--label", help="the label column of a CSV file")
    group.add_argument("--hidden-layers", type=_int_list, default=[4], metavar="N,N,…",
                       help="hidden layer sizes, e.g. 20,7,5; empty for none (default: 4)")
    group.add_argument("--hidden-activation", default="tanh", choices=HIDDEN_ACTIVATIONS,
                       help="g[l] of the hidden layers (default: tanh)")
    group.add_argument("--output", choices=list(OUTPUTS),
                       help="output layer and loss (default: the data's: sigmoid for 2 classes, softmax for more)")
    group.add_argument("--seed", type=int, help=seed_help + " (default: 2)")
    group.add_argument("--debug", action="store_true", help="show tracebacks")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description="Fully-connected networks by backpropagation, in the Deep "
                     "Learning Specialization's notation, with every 1/m accounted for.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = parser.train = commands.add_parser("train", help="train a network and show it (the default command)",
                                description="Train a network. With no options: the course's planar classifier.")
    _network_flags(train, "np.random.seed of the initial weights, as the course does, and the seed of the "
                          "split, shuffling and dropout")
    group = train.add_argument_group("training (the options of chainrule.train)")
    group.add_argument("--init", default="random", choices=["zeros", "random", "he", "xavier"],
                       help="initialisation scheme (default: random)")
    group.add_argument("--scale", type=float, default=0.01, help="factor of the random scheme (default: 0.01)")
    group.add_argument("--optimizer", default="gd", choices=list(OPTIMIZERS), help="(default: gd)")
    group.add_argument("--learning-rate", "--lr", type=float, default=1.2, help="α0 (default: 1.2)")
    group.add_argument("--num-epochs", "--epochs", type=int, default=10000, help="(default: 10000)")
    group.add_argument("--mini-batch-size", "--batch", type=int, help="(default: full batch)")
    for name in ("beta", "beta1", "beta2", "epsilon"):
        group.add_argument(f"--{name}", type=float, help="optimizer hyperparameter (default: the optimizer's)")
    group.add_argument("--decay", choices=["inverse_time", "stepped"], help="learning-rate decay (default: none)")
    group.add_argument("--decay-rate", type=float, default=1.0, help="(default: 1.0)")
    group.add_argument("--time-interval", type=int, default=1000, help="epochs per step of stepped decay (default: 1000)")
    group.add_argument("--lambd", type=float, default=0.0, help="L2 strength λ (default: 0)")
    group.add_argument("--keep-prob", type=float, default=1.0, help="dropout keep probability (default: 1, none)")
    group.add_argument("--convention", default="deferred", choices=["deferred", "absorbed"], help="(default: deferred)")
    group.add_argument("--patience", type=int, help="early stopping after this many epochs without improvement")
    group.add_argument("--min-delta", type=float, default=0.0, help="improvement early stopping counts (default: 0)")
    group.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=True,
                       help="return the best parameters when stopping early (default: yes)")
    group.add_argument("--divergence-factor", type=float, default=100.0,
                       help="stop when the cost exceeds this many times its first value; 0 keeps only the "
                            "NaN test (default: 100)")
    group = train.add_argument_group("data preparation and output")
    group.add_argument("--test-fraction", type=float,
                       help="held-out share of the data (default: 0 for flower, as the course; else 0.2)")
    group.add_argument("--standardize", action=argparse.BooleanOptionalAction,
                       help="standardise features on the training part (default: yes for real and CSV data)")
    group.add_argument("--out", "-o", default="chainrule-output", help="output folder (default: chainrule-output)")
    group.add_argument("--config", help="a TOML or JSON file of options, spelled as in Python; flags override it")
    group.add_argument("--resume", metavar="MODEL", help="continue training a saved model for --num-epochs more")
    group.add_argument("--print-every", type=int, help="epochs between progress lines (default: a tenth of the run)")
    group.add_argument("--quiet", "-q", action="store_true", help="print only the final figures")
    group.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout, nothing else")

    explain = commands.add_parser("explain", help="the equations of a network, and where the 1/m enters",
                                  description="Every forward and backward equation of a concrete network.")
    _network_flags(explain, "seed of the random data and weights --check measures on")
    explain.add_argument("-m", "--examples", type=int, help="m (default: the data's number of examples)")
    explain.add_argument("--convention", default="deferred", choices=["deferred", "absorbed"])
    explain.add_argument("--check", action="store_true", help="measure every gradient on random data of this shape")
    explain.add_argument("--format", default="text", choices=["text", "markdown", "latex"])

    check = commands.add_parser("gradcheck", help="the per-layer gradient check",
                                description="Check backward against central differences, layer by layer.")
    _network_flags(check, "seed of the random data and weights")
    check.add_argument("--layer-dims", type=_int_list, help="all layer sizes n_x,…,n_y (instead of --data)")
    check.add_argument("-m", "--examples", type=int, default=50, help="random examples (default: 50)")
    check.add_argument("--epsilon", type=float, default=1e-7, help="finite-difference step (default: 1e-7)")
    check.add_argument("--convention", default="deferred", choices=["deferred", "absorbed"])
    check.add_argument("--inject", choices=list(BUGS), help="plant a bug learners make, to see the check catch it")

    compare = commands.add_parser("compare", help="train under both conventions and measure the difference",
                                  description="Train one network under 'deferred', 'absorbed' and per example.")
    _network_flags(compare, "np.random.seed of the initial weights, as the course does")
    compare.add_argument("--learning-rate", "--lr", type=float, default=1.2)
    compare.add_argument("--num-epochs", "--epochs", type=int, default=1000)
    compare.add_argument("--every", type=int, help="epochs between milestones (default: a tenth of the run)")
    compare.add_argument("--per-example", action=argparse.BooleanOptionalAction,
                         help="also the per-example reference (default: when m × epochs ≤ 100 000)")

    pred = commands.add_parser("predict", help="predictions of a saved model for a CSV file")
    pred.add_argument("model", help="a model file written by chainrule train")
    pred.add_argument("data", help="a CSV file with the model's feature columns")
    pred.add_argument("--out", "-o", help="write the CSV here instead of stdout")
    pred.add_argument("--debug", action="store_true", help="show tracebacks")

    summary = commands.add_parser("summary", help="what a saved model is and how it was trained")
    summary.add_argument("model", help="a model file written by chainrule train")
    summary.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _parse(argv: list[str], parser: argparse.ArgumentParser) -> argparse.Namespace:
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["train", *argv]                                   # train is the default command
    args = parser.parse_args(argv)
    if args.command == "train" and args.config:
        if args.resume:
            raise ValueError("--config and --resume do not go together: the run's settings are in the model file")
        parser.train.set_defaults(**_read_config(args.config, parser.train))
        args = parser.parse_args(argv)                           # flags override the file
    if args.command in ("train", "explain", "gradcheck", "compare"):
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:
            raise ValueError(f"--seed must be an integer in 0 … 2³² − 1; got {args.seed}")
        args.given_seed, args.seed = args.seed, 2 if args.seed is None else args.seed
    return args


def _read_config(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Options from a TOML or JSON file, keys spelled as in Python (learning_rate, …)."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        if file.suffix.lower() == ".json":
            options = json.loads(text)
        else:
            try:
                import tomllib
            except ImportError:                                   # Python 3.10
                import tomli as tomllib
            options = tomllib.loads(text.decode("utf-8"))
    except Exception as exc:                                      # the parsers' own error types
        raise ValueError(f"the config file {path} is not valid {file.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"the config file {path} must hold a table of options")
    known = {a.dest for a in parser._actions}                     # noqa: SLF001
    unknown = sorted(set(options) - known - {"help", "config", "debug", "resume"})
    if unknown:
        raise ValueError(f"the config file {path} has unknown option(s): {', '.join(unknown)}")
    if "hidden_layers" in options and isinstance(options["hidden_layers"], str):
        options["hidden_layers"] = _int_list(options["hidden_layers"])
    return options


# --- data and network -----------------------------------------------------------------------


def _load_data(args: argparse.Namespace) -> datasets.Dataset:
    if args.data in datasets.DATASETS:
        if args.label:
            raise ValueError(f"--label is for CSV files; {args.data!r} is a built-in data set")
        return datasets.load(args.data)
    if args.data.lower().endswith(".csv") or Path(args.data).exists():
        if not args.label:
            raise ValueError(f"--label COLUMN is needed to say which column of {args.data} is the label")
        return datasets.load_csv(args.data, args.label)
    raise ValueError(f"unknown data set {args.data!r}; expected one of {', '.join(datasets.DATASETS)}, or a .csv file")


def _fit_output(data: datasets.Dataset, output: str | None) -> tuple[np.ndarray, str]:
    """Y for the requested output layer: two classes can be one sigmoid unit or a 2-way softmax."""
    if output is None or output == data.output:
        return data.Y, data.output
    if data.output == "sigmoid" and data.Y.shape[0] == 1 and output == "softmax":
        return datasets.one_hot(data.Y[0], 2), "softmax"
    raise ValueError(f"--output {output} does not fit the {data.name} data, whose labels suit a "
                     f"{data.output} output ({len(data.classes) or 'real-valued'} "
                     f"{'classes' if data.classes else 'targets'})")


def _config(args: argparse.Namespace, n_x: int, n_y: int, output: str) -> ModelConfig:
    return ModelConfig([n_x, *args.hidden_layers, n_y], args.hidden_activation, output)


# --- train ----------------------------------------------------------------------------------


class _Progress:
    """Per-epoch reporting: a live bar on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, total: int, start: int, every: int, mode: str):
        self.total, self.start, self.every, self.mode = total, start, every, mode
        self.bar = None
        if mode == "live":
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            except ImportError:                                   # without rich: plain lines
                self.mode = "lines"
                return
            self.bar = Progress(TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
                                TextColumn("{task.fields[figures]}"), TimeRemainingColumn(), transient=False)
            self.task = self.bar.add_task("train", total=total, figures="")
            self.bar.start()

    def __call__(self, record) -> None:
        figures = f"cost {record.cost:.6f}"
        if not np.isnan(record.val_cost):
            figures += f"  val cost {record.val_cost:.6f}"
        if not np.isnan(record.val_accuracy):
            figures += f"  val acc {100 * record.val_accuracy:.2f} %"
        if self.bar is not None:
            self.bar.update(self.task, completed=record.epoch - self.start + 1, figures=figures)
        elif self.mode == "lines" and (record.epoch % self.every == 0):
            print(f"Cost after epoch {record.epoch}: {record.cost:.6f}" +
                  (f"  ({figures.split('  ', 1)[1]})" if "  " in figures else ""), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


TRAIN_OPTIONS = ("optimizer", "learning_rate", "num_epochs", "mini_batch_size", "beta", "beta1", "beta2", "epsilon",
                 "decay", "decay_rate", "time_interval", "lambd", "keep_prob", "convention", "patience", "min_delta",
                 "restore_best", "divergence_factor")
RESUME_MAY_SET = {"command", "resume", "num_epochs", "out", "quiet", "json", "print_every", "debug", "seed", "given_seed"}


def _changed(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The options whose value is not the parser's default: those the user gave."""
    return [dest for dest, value in vars(args).items() if value != parser.get_default(dest)]


def _check_train_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse flags that would be ignored, instead of silently ignoring them."""
    changed = set(_changed(args, parser))
    flag = lambda dest: "--" + dest.replace("_", "-")               # noqa: E731
    if args.resume:
        fixed = sorted(changed - RESUME_MAY_SET)
        if fixed:
            raise ValueError(f"{', '.join(map(flag, fixed))} cannot change when resuming: the run's settings are "
                             f"in {args.resume} (only --num-epochs, --out and the output flags can be given)")
    if args.decay is None and changed & {"decay_rate", "time_interval"}:
        raise ValueError("--decay-rate and --time-interval need --decay inverse_time or stepped")
    if args.init != "random" and "scale" in changed:
        raise ValueError(f"--scale is the factor of --init random; --init {args.init} has its own")
    if args.patience is None and changed & {"min_delta", "restore_best"}:
        raise ValueError("--min-delta and --restore-best are for early stopping: give --patience too")


def _run_settings(model: SavedModel, path: str) -> dict:
    """The settings a run of chainrule train recorded, checked; a clear error for any other file."""
    settings = model.settings
    kinds = {"data": str, "test_fraction": (int, float), "standardize": bool, "seed": int, "options": dict}
    wrong = [k for k, kind in kinds.items() if not isinstance(settings.get(k), kind)]
    if wrong or model.history is None or not set(TRAIN_OPTIONS) <= set(settings["options"]):
        raise ValueError(f"{path} was not written by chainrule train (its settings lack "
                         f"{', '.join(wrong) or 'the training options'}); it cannot be resumed")
    return settings


def _prepare(args, data, Y, test_fraction, seed, standardize, standardizer=None):
    """(X_train, Y_train, X_test, Y_test, standardizer): the split, standardised on its training part."""
    X_train, Y_train, X_test, Y_test = datasets.split(data.X, Y, test_fraction, seed)
    if standardize and standardizer is None:
        standardizer = datasets.fit_standardizer(X_train)
    if standardizer is not None:
        X_train, X_test = datasets.standardize(X_train, standardizer), datasets.standardize(X_test, standardizer)
    return X_train, Y_train, X_test, Y_test, standardizer


def _output_folder(out: str) -> Path:
    """The output folder, made now, before any training, so that a bad --out fails at once."""
    folder = Path(out or ".")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _check_train_flags(args, parser)
    resumed = load_model(args.resume) if args.resume else None
    if resumed is not None:
        settings = _run_settings(resumed, args.resume)
        args.data, args.label, args.output = settings["data"], settings.get("label"), resumed.config.output
        if args.given_seed is not None and args.given_seed != settings["seed"]:
            raise ValueError(f"--seed cannot change when resuming: the run's seed, {settings['seed']}, is in the model file")
    out = _output_folder(args.out)
    data = _load_data(args)
    Y, output = _fit_output(data, args.output)
    if resumed is not None:
        config, params, state = resumed.config, resumed.params, resumed.optimizer_state
        seed, start_epoch, test_fraction = settings["seed"], len(resumed.history), settings["test_fraction"]
        standardize, init = settings["standardize"], settings.get("init")
        options = dict(settings["options"], num_epochs=args.num_epochs)
        prepared = _prepare(args, data, Y, test_fraction, seed, standardize, resumed.standardizer)
    else:
        config = _config(args, data.X.shape[0], Y.shape[0], output)
        params = init_params(config, np.random.RandomState(args.seed), args.init, args.scale)
        seed, start_epoch, state = args.seed, 0, None
        test_fraction = args.test_fraction if args.test_fraction is not None else (0.0 if data.name == "flower" else 0.2)
        standardize = args.standardize if args.standardize is not None else data.name not in datasets.DATASETS or \
            data.name in REAL_DATA
        init = {"init": args.init, **({"scale": args.scale} if args.init == "random" else {})}
        options = {name: getattr(args, name) for name in TRAIN_OPTIONS}
        if options["divergence_factor"] == 0:
            options["divergence_factor"] = None
        prepared = _prepare(args, data, Y, test_fraction, seed, standardize)
    X_train, Y_train, X_test, Y_test, standardizer = prepared
    validation = (X_test, Y_test) if X_test.shape[1] else None
    mode = "quiet" if (args.quiet or args.json) else ("live" if sys.stdout.isatty() else "lines")
    if args.print_every is not None and args.print_every < 1:
        raise ValueError(f"--print-every must be a positive integer; got {args.print_every}")
    every = args.print_every or max(1, options["num_epochs"] // 10)
    if mode != "quiet":
        _print_setup(config, data, X_train, X_test, {**init, **options}, seed, standardizer, out)
    progress = _Progress(options["num_epochs"], start_epoch, every, mode)
    try:
        result = fit(config, X_train, Y_train, params=params, seed=seed, validation_data=validation,
                     callbacks=[progress], optimizer_state=state, start_epoch=start_epoch, **options)
    except TrainingDiverged as exc:
        raise ValueError(f"{exc.reason} Nothing was written.") from None
    finally:
        progress.close()
    history = _joined(resumed.history, result.history) if resumed is not None else result.history

    figures = {"final_cost": float(history.cost[-1]) if len(history) else None,
               "epochs": len(history), "stop_reason": history.stop_reason, "best_epoch": history.best_epoch,
               "train_cost": compute_data_cost(result.params, X_train, Y_train, config)}
    if validation is not None:
        figures["test_cost"] = compute_data_cost(result.params, X_test, Y_test, config)
    if output != "identity":
        figures["train_accuracy"] = accuracy(result.params, X_train, Y_train, config)
        if validation is not None:
            figures["test_accuracy"] = accuracy(result.params, X_test, Y_test, config)
    settings = {"data": args.data, "label": args.label, "test_fraction": test_fraction, "standardize": standardize,
                "seed": seed, "init": init, "options": options, "figures": figures}
    model_path = save_model(out / "model.npz", SavedModel(
        config, result.params, history, result.optimizer.name, _hyper(options), result.optimizer_state,
        settings, standardizer, data.feature_names, data.classes))
    _write_history_csv(out / "history.csv", history)
    picture = _save_picture(out / "training.png", history, result.params, config, data, Y, standardizer)
    if args.json:
        print(json.dumps({"model": str(model_path), "history": str(out / "history.csv"),
                          "picture": picture and str(picture), "layer_dims": list(config.layer_dims),
                          **figures}, indent=2))
        return 0
    print("\n".join(_figure_lines(figures, history, options.get("restore_best", True))))
    if mode != "quiet":
        print(f"Wrote {model_path}, {out / 'history.csv'}" +
              (f", {picture}" if picture else " (no picture: matplotlib is not installed)"))
    return 0


def _figure_lines(figures: dict, history: History, restore_best: bool) -> list[str]:
    lines = []
    for key, name in (("train_accuracy", "Training accuracy"), ("test_accuracy", "Test accuracy")):
        if key in figures:
            lines.append(f"{name}: {100 * figures[key]:.2f} %")
    if "train_accuracy" not in figures:
        lines.append(f"Training cost: {figures['train_cost']:.6f}" +
                     (f", test cost: {figures['test_cost']:.6f}" if "test_cost" in figures else ""))
    if figures["final_cost"] is not None:
        lines.append(f"Final cost: {figures['final_cost']:.6f} after {len(history)} epochs ({history.stop_reason})")
    if history.best_epoch is not None and restore_best:
        lines.append(f"The parameters saved are those of epoch {history.best_epoch}, the best one.")
    return lines


def _hyper(options: dict) -> dict:
    return {k: options[k] for k in ("beta", "beta1", "beta2", "epsilon") if options.get(k) is not None}


HISTORY_COLUMNS = EpochRecord._fields


def _joined(before: History, after: History) -> History:
    """One history from a run and its continuation."""
    columns = {name: np.concatenate([getattr(before, name), getattr(after, name)]) for name in HISTORY_COLUMNS}
    return History(**columns, stop_reason=after.stop_reason, best_epoch=after.best_epoch, seed=after.seed)


def _print_setup(config, data, X_train, X_test, options, seed, standardizer, out) -> None:
    dims = ", ".join(map(str, config.layer_dims))
    defaults = {name: p.default for name, p in inspect.signature(fit).parameters.items()}
    always = ("init", "optimizer", "learning_rate", "num_epochs", "mini_batch_size")
    chosen = {k: ("full batch" if k == "mini_batch_size" and v is None else v) for k, v in options.items()
              if k in always or (v is not None and v != defaults.get(k))}
    print(f"Network [{dims}]: {config.hidden_activation} hidden layers, {config.output} output")
    print(f"Data: {data.name}, {X_train.shape[1]} training and {X_test.shape[1]} test examples"
          + (", standardised on the training part" if standardizer is not None else ""))
    print("Training: " + ", ".join(f"{k} {v}" for k, v in chosen.items()) + f", seed {seed}; output in {out}")


def _write_history_csv(path: Path, history: History) -> None:
    buffer = _io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HISTORY_COLUMNS)
    for row in zip(*(getattr(history, n) for n in HISTORY_COLUMNS)):
        writer.writerow([int(row[0]), *(repr(float(v)) for v in row[1:])])
    _write_text_atomically(path, buffer.getvalue())


def _write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def _save_picture(path, history, params, config, data, Y, standardizer):
    """The cost curves, and the decision boundary for two-dimensional data; None without matplotlib."""
    try:
        from .plot import save_figure, training_figure
    except ImportError:
        return None
    try:
        figure = training_figure(history, params, config, data.X, Y, standardizer=standardizer)
    except ValueError as exc:
        if "matplotlib" in str(exc):
            return None
        raise
    return save_figure(figure, path)


# --- explain, gradcheck, compare ------------------------------------------------------------


def _network_for(args: argparse.Namespace, layer_dims: list[int] | None = None):
    """(config, data) for the network flags, or for explicit layer sizes (data None)."""
    if layer_dims:
        return ModelConfig(layer_dims, args.hidden_activation, args.output or "sigmoid"), None
    data = _load_data(args)
    Y, output = _fit_output(data, args.output)
    return _config(args, data.X.shape[0], Y.shape[0], output), data._replace(Y=Y, output=output)


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain

    config, data = _network_for(args)
    m = args.examples if args.examples is not None else data.X.shape[1]
    console = _rich_console() if args.format == "text" and sys.stdout.isatty() else None
    form = "markdown" if console is not None else args.format
    text = explain(config, m, convention=args.convention, format=form, check=args.check, seed=args.seed)
    if console is not None:
        from rich.markdown import Markdown

        console.print(Markdown(text))
    else:
        print(text)
    return 0


def _rich_console():
    """A rich Console for a terminal, or None where rich is not installed (plain text then)."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def _gradcheck(args: argparse.Namespace) -> int:
    if args.layer_dims and (args.data != "flower" or args.label):
        raise ValueError("--layer-dims gives the whole network; it does not go with --data or --label")
    config, _ = _network_for(args, args.layer_dims)
    if args.examples < 1:
        raise ValueError(f"-m must be at least 1 example; got {args.examples}")
    params, X, Y = random_problem(config, args.examples, np.random.default_rng(args.seed))
    dims = ", ".join(map(str, config.layer_dims))
    print(f"Network [{dims}]: {config.hidden_activation} hidden layers, {config.output} output; "
          f"m = {X.shape[1]} random examples, seed {args.seed}.\n")
    conventions = [args.convention] if args.inject else ["deferred", "absorbed"]
    passed = True
    for convention in conventions:
        backward_fn = buggy_backward(args.inject) if args.inject else None
        result = gradient_check(params, X, Y, config, args.epsilon, convention, backward_fn=backward_fn)
        where = "1/m in dW and db" if convention == "deferred" else "1/m in dZ[L]"
        bug = f", with the bug {args.inject!r} planted: {BUGS[args.inject][0]}" if args.inject else ""
        print(f"Gradient check, convention {convention!r} ({where}){bug}:")
        print(result.table())
        if not result.passed:
            print(f"layers pointed at: {', '.join(map(str, result.failing_layers)) or 'the total only'}")
        print()
        passed = passed and result.passed
    return 0 if passed else 1


def _compare(args: argparse.Namespace) -> int:
    config, data = _network_for(args)
    X = data.X
    if data.name not in datasets.DATASETS or data.name in REAL_DATA:    # as train prepares it
        X = datasets.standardize(X, datasets.fit_standardizer(X))
    params = init_params(config, np.random.RandomState(args.seed), "random", 0.01)
    m, epochs = X.shape[1], args.num_epochs
    if args.every is not None and args.every < 1:
        raise ValueError(f"--every must be a positive integer; got {args.every}")
    every = args.every or max(1, epochs // 10)
    per_example = args.per_example if args.per_example is not None else m * epochs <= 100_000
    rows = compare_conventions(config, X, data.Y, params, args.learning_rate, epochs,
                               range(0, epochs + 1, every), per_example)
    print(f"Network [{', '.join(map(str, config.layer_dims))}] on {data.name} (m = {m}), gradient descent, "
          f"learning rate {args.learning_rate:g}, the same start for every run.")
    print("J of the deferred run (1/m in dW, db), and the largest |difference| of each other run from it:\n")
    layers = "".join(f"  {'W[' + str(l) + ']':>9}" for l in range(1, config.L + 1))
    header = f"{'epoch':>7}  {'J':>10}  {'absorbed J':>10}{layers}"
    if per_example:
        header += f"  {'per-ex. J':>10}" + "".join(f"  {'W[' + str(l) + ']':>9}" for l in range(1, config.L + 1))
    print(header)
    for row in rows:
        line = f"{row.epoch:>7}  {row.J:>10.6f}  {row.absorbed_J:>10.1e}" + "".join(f"  {d:>9.1e}" for d in row.absorbed_W)
        if per_example:
            line += f"  {row.per_example_J:>10.1e}" + "".join(f"  {d:>9.1e}" for d in row.per_example_W)
        print(line)
    gaps = np.array([[row.absorbed_J, *row.absorbed_W, row.per_example_J, *row.per_example_W] for row in rows])
    gap = np.nanmax(gaps) if np.isfinite(gaps[~np.isnan(gaps)]).all() else np.inf
    scale = max(1.0, *(abs(row.J) for row in rows if np.isfinite(row.J)))
    if gap <= 1e-9 * scale:
        print("\nThe runs agree to rounding: the conventions compute the same gradients, and what is left "
              "is a few ulps, compounded over the steps.")
    else:
        print(f"\nThe runs drifted {gap:.1e} apart: more than rounding alone explains on a stable run. A learning "
              "rate this large makes the training chaotic, and chaos amplifies the last bits; try a smaller one.")
    if not per_example:
        print("(The per-example reference was skipped: m × epochs > 100 000; --per-example runs it.)")
    return 0


# --- predict, summary -----------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    if not model.feature_names:
        raise ValueError(f"{args.model} records no feature names, so its columns cannot be found in a CSV file")
    X = datasets.load_csv_features(args.data, model.feature_names)
    if model.standardizer is not None:
        X = datasets.standardize(X, model.standardizer)
    config = model.config
    buffer = _io.StringIO()
    writer = csv.writer(buffer)
    if config.output == "identity":
        values = predict(model.params, X, config)
        writer.writerow([f"prediction_{k + 1}" for k in range(config.n_y)] if config.n_y > 1 else ["prediction"])
        writer.writerows([repr(float(v)) for v in column] for column in values.T)
    else:
        classes = model.classes or tuple(str(k) for k in range(max(2, config.n_y)))
        labels = predict(model.params, X, config)
        P = predict_proba(model.params, X, config)
        if config.output == "sigmoid" and config.n_y == 1:
            writer.writerow(["prediction", *(f"p_{c}" for c in classes[:2])])
            writer.writerows([classes[int(k)], repr(1 - float(p)), repr(float(p))] for k, p in zip(labels[0], P[0]))
        elif config.output == "softmax":
            writer.writerow(["prediction", *(f"p_{c}" for c in classes)])
            writer.writerows([classes[int(k)], *(repr(float(p)) for p in column)] for k, column in zip(labels[0], P.T))
        else:                                                     # several independent sigmoid outputs
            writer.writerow([*(f"prediction_{k + 1}" for k in range(config.n_y)),
                             *(f"p_{k + 1}" for k in range(config.n_y))])
            writer.writerows([*map(int, k), *(repr(float(p)) for p in column)] for k, column in zip(labels.T, P.T))
    if args.out:
        _write_text_atomically(Path(args.out), buffer.getvalue())
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _summary(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    config = model.config
    print(f"{args.model}: a network of {config.L} layer{'s' if config.L > 1 else ''}, "
          f"{sum(W.size + b.size for W, b in model.params)} parameters ({model.params[0].W.dtype})\n")
    print(f"{'layer':>5}  {'units':>6}  {'activation':>10}  {'W':>12}  {'b':>9}  {'parameters':>10}")
    print(f"{0:>5}  {config.n_x:>6}  {'(input)':>10}")
    for l, (W, b) in enumerate(model.params, start=1):
        print(f"{l:>5}  {W.shape[0]:>6}  {config.activation(l):>10}  {str(W.shape):>12}  {str(b.shape):>9}  "
              f"{W.size + b.size:>10}")
    classes = ", ".join(model.classes) or ("(none: regression)" if config.output == "identity" else "(not recorded)")
    print(f"\nOutput: {config.output} with its loss; classes: {classes}")
    if model.feature_names:
        names = ", ".join(model.feature_names[:8]) + (", …" if len(model.feature_names) > 8 else "")
        print(f"Features: {names}" + (" (standardised)" if model.standardizer is not None else ""))
    settings = model.settings
    if isinstance(settings.get("options"), dict):
        options = {k: v for k, v in settings["options"].items() if v is not None}
        print(f"Trained on: {settings.get('data')}, test fraction {settings.get('test_fraction')}, seed {settings.get('seed')}")
        print("Settings: " + ", ".join(f"{k} {v}" for k, v in options.items()))
        figures = settings.get("figures") if isinstance(settings.get("figures"), dict) else {}
        parts = []
        if figures.get("final_cost") is not None:
            parts.append(f"final cost {figures['final_cost']:.6f} after {figures.get('epochs')} epochs "
                         f"({figures.get('stop_reason')})")
        for key, name in (("train_accuracy", "training accuracy"), ("test_accuracy", "test accuracy")):
            if figures.get(key) is not None:
                parts.append(f"{name} {100 * figures[key]:.2f} %")
        if parts:
            print("Figures: " + "; ".join(parts))
    if model.optimizer_state is not None:
        print(f"Optimizer: {model.optimizer} after {model.optimizer_state.t} steps (resumable with --resume)")
    return 0


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = _parser()
        args = _parse(argv, parser)
        if args.command == "train":
            return _train(args, parser.train)
        run = {"explain": _explain, "gradcheck": _gradcheck, "compare": _compare,
               "predict": _predict, "summary": _summary}[args.command]
        return run(args)
    except BrokenPipeError:                                       # output piped into head, say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:
        if debug:
            raise
        message = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"chainrule: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("chainrule: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
