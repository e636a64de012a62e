"""The command line: parses, calls the library, formats. No math lives here.

    chainrule [train]   train a network (default: the course's planar classifier) and show it
    chainrule explain   every equation of a network, with shapes, and where the 1/m enters
    chainrule gradcheck the per-layer gradient check; --inject shows what a bug looks like
    chainrule compare   train under both conventions (and per example) and measure the gap
    chainrule sweep     train a grid of settings (learning rates × seeds × hidden layers …) in stacks
    chainrule predict   predictions of a saved model for a CSV file
    chainrule summary   what a saved model is and how it was trained
    chainrule export    a saved model as an ONNX file, its data preparation in the graph
    chainrule playground  a live page that trains in front of you and shows every equation

The training flags are the fields of ``TrainConfig``, generated from it (name, type, choices,
help), so the command line, the library and the model file speak one vocabulary; their
defaults are a named preset's (``--preset planar``, the course's classifier). A user's
mistake ends with one line on stderr and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import io as _io
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import typing
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, datasets, distributed, shares
from ._checks import INT_MAX
from ._files import FolderInUse, FolderLock, stale_temporaries, write_atomically, write_text_atomically
from .activations import HIDDEN_ACTIVATIONS
from .callbacks import Callback, Checkpoint, Interrupt, Progress, TrainingDiverged
from .check.sandbox import MEMORY as CHECK_MEMORY
from .check.sandbox import TIMEOUT as CHECK_TIMEOUT
from .checkpoint import DataPrep, SavedModel, data_fingerprint, load, save, saver
from .collective import Refused, everyone, together
from .compare import compare_conventions, compare_shards
from .gradcheck import PRECISIONS, gradient_check
from .history import EpochRecord, History
from .losses import OUTPUTS
from .model import INIT_SCHEMES, ModelConfig, accuracy, compute_data_cost, init_params, predict, predict_proba
from .presets import PLANAR, PRESETS, Preset
from .testing import BUGS, buggy_backward, random_problem
from .training import FitResult, TrainConfig, fit

COMMANDS = ("train", "sweep", "explain", "gradcheck", "check", "compare", "study", "predict", "summary", "export",
            "playground")
STUDY_FILES = ("precision.png", "precision-training.png", "precision.json")
REAL_DATA = ("digits", "breast_cancer", "iris", "wine")
OUTPUT_FILES = ("model.npz", "history.csv", "training.png")
SWEEP_FILES = ("sweep.csv", "sweep.json", "sweep.png")
TRAIN_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
RESUMABLE = tuple(n for n, f in TRAIN_FIELDS.items() if f.metadata.get("resumable"))   # --resume may set them
ALWAYS_SHOWN = tuple(n for n, f in TRAIN_FIELDS.items() if f.metadata.get("shown"))
NETWORK_KEYS = {"preset": (str, "a preset's name"), "data": (str, "a data set's name or a CSV file"),
                "label": (str, "a column's name"), "hidden_layers": ((list, str), 'a list of sizes or "20,7,5"'),
                "hidden_activation": (str, "an activation's name"), "output": (str, "an output's name"),
                "test_fraction": ((int, float), "a number"), "standardize": (bool, "true or false")}


# --- arguments ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line (and a pointer to --help), not the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text: str) -> int:
    """An integer flag's value: a whole number below 2⁶³ (what NumPy and the model file hold)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if abs(value) > INT_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer below 2⁶³; got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    """Layer sizes "20,7,5" as [20, 7, 5]; an empty (or blank) text is no layers. An empty place
    ("4,,2") is a mistake, not a size left out."""
    if not text.strip():
        return []
    parts = [part.strip() for part in text.split(",")]
    if "" not in parts and all(re.fullmatch(r"[+-]?\d+", part) for part in parts):
        return [_int(part) for part in parts]                  # _int refuses a size of 2⁶³ or more
    raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 20,7,5 (nothing between "
                                     f"two commas, and an empty text for no layers); got {text!r}")


def _name_list(text: str) -> list[str]:
    """Names "float16,float32" as a list; an empty place is a mistake."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or "" in parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated names such as float16,float32; got {text!r}")
    return parts


def _every(text: str) -> tuple[int | None, float | None]:
    """--save-every: N epochs ("500") or a time ("90s", "10min", "2h") as (epochs, seconds)."""
    units = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):]
    try:
        if not unit:
            epochs = _int(text)
            if epochs >= 1:
                return epochs, None
        elif unit in units and float(number) > 0 and float(number) * units[unit] < 1e9:
            return None, float(number) * units[unit]
    except (ValueError, argparse.ArgumentTypeError):
        pass
    raise argparse.ArgumentTypeError(f"expected a number of epochs such as 500, or a time such as 90s, 10min "
                                     f"or 2h; got {text!r}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kind(field: dataclasses.Field) -> tuple[type, bool]:
    """(the Python type of a TrainConfig field's values, whether None is one of them)."""
    hint = typing.get_type_hints(TrainConfig)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    optional = type(None) in typing.get_args(hint) or field.default is None
    return (str if base is typing.Any else base), optional


def _parse_value(kind: type, optional: bool, choices: tuple | None):
    """The argparse type of a flag: the field's type, "none" for None where None is allowed."""
    def parse(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        if choices is not None:
            if text not in choices:
                raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}"
                                                 f"{' or none' if optional else ''}; got {text!r}")
            return text
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}"
                                             f"{' or none' if optional else ''}; got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


def _training_flags(group: argparse._ArgumentGroup, preset: Preset, values: bool = False) -> None:
    """One flag per field of TrainConfig: --learning-rate for learning_rate, its help from the field.
    With ``values`` (chainrule sweep), each takes a list of values: "0.1,0.5", integers also "0-15"."""
    for name, field in TRAIN_FIELDS.items():
        kind, optional = _kind(field)
        default = f" (default: {_show(getattr(preset.train, name))})"
        flags = [_flag(name), *([field.metadata["short"]] if "short" in field.metadata else [])]
        flags += ["--seeds"] if values and name == "seed" else []
        if values:
            parse = _value_list(_bool if kind is bool else _parse_value(kind, optional, field.metadata.get("choices")),
                                ranges=kind is int)
            group.add_argument(*flags, type=parse, default=argparse.SUPPRESS, metavar="V,V,…" + (
                               " or A-B" if kind is int else ""), help=field.metadata["help"] + default)
            continue
        if kind is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=field.metadata["help"] + default)
            continue
        choices = field.metadata.get("choices")
        group.add_argument(*flags, type=_parse_value(kind, optional, choices), default=argparse.SUPPRESS,
                           metavar=("{" + ",".join((*choices, *(["none"] if optional else []))) + "}") if choices
                           else name.upper(), help=field.metadata["help"] + default)


def _bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "false", "no", "0"):
        return text.lower() in ("true", "yes", "1")
    raise argparse.ArgumentTypeError(f"expected true or false; got {text!r}")


def _value_list(parse, ranges: bool = False):
    """A sweep flag's values: "0.1,0.5,1.2" parsed one by one; with ``ranges``, "0-15" is 0, 1, …, 15."""
    def values(text: str) -> list:
        parts = [part.strip() for part in text.split(",")]
        if "" in parts:
            raise argparse.ArgumentTypeError(f"expected values separated by commas (nothing between two commas); "
                                             f"got {text!r}")
        out: list = []
        for part in parts:
            match = re.fullmatch(r"(\d+)-(\d+)", part) if ranges else None
            if match and int(match.group(1)) > int(match.group(2)):
                raise argparse.ArgumentTypeError(f"expected a range A-B with A ≤ B; got {part!r}")
            out += list(range(int(match.group(1)), int(match.group(2)) + 1)) if match else [parse(part)]
        return out
    values.__name__ = getattr(parse, "__name__", "value")
    return values


def _hidden_layers(text: str) -> tuple[int, ...]:
    """One sweep value of --hidden-layers: "4" is one layer of 4, "20x7x5" three layers, "none" no hidden layer."""
    if text.lower() == "none":
        return ()
    if re.fullmatch(r"\d+(x\d+)*", text):
        return tuple(_int(size) for size in text.split("x"))
    raise argparse.ArgumentTypeError(f"expected hidden layers such as 4, 20x7x5 (three layers) or none; got {text!r}")


def _network_flags(parser: argparse.ArgumentParser, seed_help: str, seed: bool = True, values: bool = False) -> None:
    """The flags that say which network and data: shared by train, sweep (``values``: lists of
    networks), explain, gradcheck, compare."""
    group = parser.add_argument_group("network and data")
    group.add_argument("--data", help=f"a built-in data set ({', '.join(datasets.DATASETS)}), a CSV file or a "
                                      f".npy file of one example per row (default: the preset's, {PLANAR.data})")
    group.add_argument("--label", help="the label column of a CSV file (its name) or of a .npy file (its index; "
                                       "-1: the last)")
    preset_layers = "x".join(map(str, PLANAR.hidden_layers)) if values else ",".join(map(str, PLANAR.hidden_layers))
    group.add_argument("--hidden-layers", type=_value_list(_hidden_layers) if values else _int_list,
                       metavar="H,H,…" if values else "N,N,…",
                       help=("networks to sweep, separated by commas: 4 is one hidden layer of 4 units, 20x7x5 "
                             "three layers, none no hidden layer" if values else
                             "hidden layer sizes, e.g. 20,7,5; empty for none") +
                            f" (default: the preset's, {preset_layers})")
    activations = _value_list(_parse_value(str, False, tuple(HIDDEN_ACTIVATIONS)))
    group.add_argument("--hidden-activation", **({"type": activations, "metavar": "G,G,…"} if values else
                                                 {"choices": HIDDEN_ACTIVATIONS}),
                       help=f"g[l] of the hidden layers (default: the preset's, {PLANAR.hidden_activation})")
    group.add_argument("--output", choices=list(OUTPUTS),
                       help="output layer and loss (default: the data's: sigmoid for 2 classes, softmax for more)")
    if seed:
        group.add_argument("--seed", type=_int, help=seed_help + " (default: 2)")
    group.add_argument("--debug", action="store_true", help="show tracebacks")


def _sweep_command(commands) -> None:
    """chainrule sweep: train's flags, each taking a list of values."""
    sweep = commands.add_parser(
        "sweep", help="train every combination of the values given (e.g. --learning-rate 0.1,1.2 --seeds 0-15), "
                      "in stacks",
        description="Train every combination of the values given to train's flags, e.g. --learning-rate "
                    "0.1,0.5,1.2 --seeds 0-15 --hidden-layers 1,2,3,20x7x5. Runs of one network shape that differ "
                    "only in learning rate, decay rate, λ or seed (and what else a stack lets differ) train "
                    "together as one stack, each exactly as chainrule train trains it alone. Every run uses the "
                    "same data split (that of the first seed). Writes sweep.csv, sweep.json and sweep.png.")
    sweep.add_argument("--preset", choices=list(PRESETS), default=argparse.SUPPRESS,
                       help="the recipe whose data, network and options are the defaults (default: planar)")
    _network_flags(sweep, "", seed=False, values=True)
    _training_flags(sweep.add_argument_group("training: the fields of chainrule.TrainConfig, each a list"), PLANAR,
                    values=True)
    group = sweep.add_argument_group("data, processes and output")
    group.add_argument("--test-fraction", type=float, help="held-out share of the data (default: as train)")
    group.add_argument("--standardize", action=argparse.BooleanOptionalAction,
                       help="standardise features on the training part (default: as train)")
    group.add_argument("--config", help="a TOML or JSON file of options (one value each), spelled as in Python")
    group.add_argument("--jobs", "-j", type=_int, default=1,
                       help="processes for the stacks (joblib; -1: every core) (default: 1)")
    group.add_argument("--memory", type=_bytes, help="memory the stacks trained at once may take, e.g. 4G (default: "
                                                     "half of the memory available)")
    group.add_argument("--out", "-o", default="chainrule-sweep", help="output folder (default: chainrule-sweep)")
    group.add_argument("--quiet", "-q", action="store_true", help="print only the table")
    group.add_argument("--json", action="store_true", help="print the results as JSON on stdout, nothing else")


def _export_command(commands) -> None:
    """chainrule export MODEL.npz MODEL.onnx."""
    export = commands.add_parser("export", help="a saved model as an ONNX file, for onnxruntime and other runtimes",
                                 description="Write a model file's network as ONNX: input X (N, n_x), raw features "
                                             "one row per example, standardised in the graph as in training; output "
                                             "probabilities (or values) and label.")
    export.add_argument("model_file", metavar="MODEL.npz", help="a model file written by chainrule train")
    export.add_argument("onnx_file", metavar="MODEL.onnx", help="the ONNX file to write (replaced whole or not at all)")
    export.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                        help="what the graph computes in (default: float32)")
    export.add_argument("--debug", action="store_true", help="show tracebacks")


def _playground_command(commands) -> None:
    """chainrule playground [--port N] [--no-browser]."""
    playground = commands.add_parser(
        "playground", help="a live web page that trains in front of you and shows every equation",
        description="Serve the playground on 127.0.0.1 and open it in the browser: pick data and a network, press "
                    "play, and watch the boundary, the units, the costs and the equations (with the 1/m where it "
                    "enters) as chainrule trains. Nothing is fetched from outside this machine. Ctrl-C stops it.")
    playground.add_argument("--port", type=_int, default=0, help="the port (default: a free one)")
    playground.add_argument("--no-browser", action="store_true", help="print the address without opening a browser")
    playground.add_argument("--debug", action="store_true", help="show tracebacks")


def _check_command(commands) -> None:
    """chainrule check FILE: the learner's own functions diagnosed."""
    learner = commands.add_parser(
        "check", help="diagnose your own backpropagation (a .py or .ipynb with the course's functions)",
        description="Find the course's functions in your .py or .ipynb (linear_backward, L_model_backward, "
                    "backward_propagation, …), run them on the course's recipes and random networks in a separate "
                    "process, and say per layer what is right and what is wrong: the absorbed convention, a 1/m "
                    "applied twice or missing, g′, transposes, keepdims, L2, dropout, keys. Exit status 0: all "
                    "correct (either convention); 1: something is wrong; 2: the file cannot be used.")
    learner.add_argument("file", help="your .py or .ipynb (code cells in order; magics and shell lines skipped)")
    learner.add_argument("--json", action="store_true", help="the report as JSON, for graders")
    learner.add_argument("--timeout", type=_seconds, default=CHECK_TIMEOUT,
                         help=f"seconds your code may take (default: {CHECK_TIMEOUT:g})")
    learner.add_argument("--memory", type=_bytes, default=CHECK_MEMORY,
                         help="memory your code may use, e.g. 2G, 512M (default: 2G)")
    learner.add_argument("--run-all", action="store_true",
                         help="run every top-level statement (course tests, training, plots), not only definitions")
    learner.add_argument("--debug", action="store_true", help="show what the checking process wrote to stderr")


def _study_command(commands) -> None:
    """chainrule study precision: the measured answer to the stability question."""
    study = commands.add_parser("study", help="studies that answer a question by measurement",
                                description="Studies that answer a learner's question by measurement.")
    studies = study.add_subparsers(dest="study", metavar="STUDY", required=True)
    prec = studies.add_parser(
        "precision", help="is deferring the 1/m about numerical stability? measured in float16 … float64",
        description="dW, db of every layer with the 1/m of J placed each way, in float16 and bfloat16 (emulated: "
                    "float32 sums rounded once to the format) and in float32 and float64 (chainrule's own "
                    "backward), against the exact backward of the same stored forward pass, for batch sizes m.")
    _network_flags(prec, "seed of the initial weights (np.random.seed, as the course does) and of the sample")
    prec.add_argument("--model", help="a model file: study its trained parameters (\"late\") instead of an "
                                      "initialisation (\"early\")")
    prec.add_argument("--init", choices=INIT_SCHEMES, default="random", help="the initialisation (default: random)")
    prec.add_argument("--scale", type=float, default=0.01, help="--init random's factor (default: 0.01, the course's)")
    prec.add_argument("--m", type=_int_list, default=[10, 100, 1_000, 10_000, 100_000, 1_000_000], metavar="M,M,…",
                      help="batch sizes (default: 10,100,1000,10000,100000,1000000)")
    prec.add_argument("--formats", type=_name_list, default=["float16", "bfloat16", "float32", "float64"],
                      metavar="F,F,…", help="of float16, bfloat16, float32, float64 (default: all)")
    prec.add_argument("--accumulate", type=_name_list, default=["float32"], metavar="A,A,…",
                      help="float32 (a float32 sum rounded once, as GPUs and BLAS do) and/or storage (every partial "
                           "sum rounded to the format: slow) (default: float32)")
    prec.add_argument("--variants", type=_name_list, default=None, metavar="V,V,…",
                      help="of absorbed, deferred, deferred_stored, scaled (default: all)")
    prec.add_argument("--loss-scale", type=float, default=2.0 ** 16, help="S of the scaled variant (default: 65536)")
    prec.add_argument("--train-m", type=_int_list, default=[1_000, 100_000], metavar="M,M,…",
                      help="batch sizes of the training comparison (default: 1000,100000)")
    prec.add_argument("--train-epochs", type=_int, default=100,
                      help="epochs of gradient descent from the same start under each convention; 0 for none "
                           "(default: 100)")
    prec.add_argument("--learning-rate", "--lr", type=float, default=1.2, help="of the training (default: 1.2)")
    prec.add_argument("--out", "-o", default="chainrule-output",
                      help="folder for precision.png, precision-training.png and precision.json "
                           "(default: chainrule-output)")
    prec.add_argument("--json", action="store_true", help="print the measurements as JSON instead of the report")


def _train_command(commands) -> argparse.ArgumentParser:
    """chainrule train: the network, every TrainConfig field, the data preparation and the output."""
    train = commands.add_parser(
        "train", help="train a network and show it (the default command)",
        description="Train a network. With no options: the course's planar classifier (--preset planar). "
                    "Every option of chainrule.TrainConfig is a flag; the defaults shown are the planar preset's.")
    train.add_argument("--preset", choices=list(PRESETS), default=argparse.SUPPRESS,
                       help="a recipe whose data, network and training options are the defaults: "
                            + "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values())
                            + " (default: planar)")
    _network_flags(train, "", seed=False)
    _training_flags(train.add_argument_group("training (the fields of chainrule.TrainConfig)"), PLANAR)
    group = train.add_argument_group("data preparation and output")
    group.add_argument("--test-fraction", type=float,
                       help="held-out share of the data (default: 0 for flower, as the course; else 0.2)")
    group.add_argument("--standardize", action=argparse.BooleanOptionalAction,
                       help="standardise features on the training part (default: yes for real and CSV data)")
    group.add_argument("--out", "-o", help="output folder (default: chainrule-output; with --resume, the resumed "
                                           "model's folder)")
    group.add_argument("--config", help="a TOML or JSON file of options, spelled as in Python; flags override it")
    group.add_argument("--resume", metavar="MODEL",
                       help="continue a saved run for --num-epochs more (default: as many as it was trained for)")
    group.add_argument("--save-every", type=_every, metavar="N|TIME",
                       help="write the model file every N epochs, or every TIME (90s, 10min, 2h), while training, "
                            "so that a killed run keeps its work (Ctrl-C and SIGTERM always save the run)")
    group.add_argument("--print-every", type=_int, help="epochs between progress lines (default: a tenth of the run)")
    group.add_argument("--quiet", "-q", action="store_true", help="print only the final figures")
    group.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout, nothing else")
    return train


def _model_commands(commands) -> None:
    """chainrule predict MODEL DATA and chainrule summary MODEL: what a saved model says."""
    pred = commands.add_parser("predict", help="predictions of a saved model for a CSV or .npy file")
    pred.add_argument("model", help="a model file written by chainrule train")
    pred.add_argument("data", help="a CSV file with the model's feature columns, or a .npy file of one example per "
                                   "row: the model's features in order, or laid out as the file it was trained on")
    pred.add_argument("--out", "-o", help="write the CSV here instead of stdout")
    pred.add_argument("--debug", action="store_true", help="show tracebacks")

    summary = commands.add_parser("summary", help="what a saved model is and how it was trained")
    summary.add_argument("model", help="a model file written by chainrule train")
    summary.add_argument("--debug", action="store_true", help="show tracebacks")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chainrule", description="Fully-connected networks by backpropagation, in the Deep "
                     "Learning Specialization's notation, with every 1/m accounted for.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    parser.train = _train_command(commands)
    _sweep_command(commands)

    explain = commands.add_parser("explain", help="the equations of a network, and where the 1/m enters",
                                  description="Every forward and backward equation of a concrete network.")
    _network_flags(explain, "seed of the random data and weights --check measures on")
    explain.add_argument("-m", "--examples", type=_int, help="m (default: the data's number of examples)")
    explain.add_argument("--convention", default="deferred", choices=["deferred", "absorbed"])
    explain.add_argument("--check", action="store_true", help="measure every gradient on random data of this shape")
    explain.add_argument("--format", default="text", choices=["text", "markdown", "latex"])

    check = commands.add_parser("gradcheck", help="the per-layer gradient check",
                                description="Check backward against central differences, layer by layer.")
    _network_flags(check, "seed of the random data and weights")
    check.add_argument("--layer-dims", type=_int_list, help="all layer sizes n_x,…,n_y (instead of --data)")
    check.add_argument("-m", "--examples", type=_int, default=50, help="random examples (default: 50)")
    check.add_argument("--epsilon", type=float, default=1e-7, help="finite-difference step (default: 1e-7)")
    check.add_argument("--convention", default="deferred", choices=["deferred", "absorbed"])
    check.add_argument("--inject", choices=list(BUGS), help="plant a bug learners make, to see the check catch it")
    check.add_argument("--precision", default="wide", choices=list(PRECISIONS),
                       help="how J is computed: wide (long double, from Z[L]; the default), float64 (from Z[L]), or "
                            "course (float64 from A[L], as the course's notebook does: its 1.19e-7)")

    _check_command(commands)

    compare = commands.add_parser("compare", help="train under both conventions and measure the difference",
                                  description="Train one network under 'deferred', 'absorbed' and per example.")
    _network_flags(compare, "np.random.seed of the initial weights, as the course does")
    compare.add_argument("--learning-rate", "--lr", type=float, default=1.2)
    compare.add_argument("--num-epochs", "--epochs", type=_int, default=1000)
    compare.add_argument("--every", type=_int, help="epochs between milestones (default: a tenth of the run)")
    compare.add_argument("--per-example", action=argparse.BooleanOptionalAction,
                         help="also the per-example reference (default: when m × epochs ≤ 100 000)")
    compare.add_argument("--shards", type=_shard_sizes, metavar="M1,M2,…",
                         help="instead: one process against data-parallel training over shards of these sizes "
                              "(Σ = m), with the global 1/m and with the naive average of each shard's mean")

    _study_command(commands)

    _model_commands(commands)
    _export_command(commands)
    _playground_command(commands)
    return parser


def _parse(argv: list[str], parser: argparse.ArgumentParser) -> argparse.Namespace:
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["train", *argv]                                   # train is the default command
    args = parser.parse_args(argv)
    positional = ("model", "data") if args.command in ("predict", "summary") else ()
    for name in ("out", "data", "resume", "config", "model"):
        if getattr(args, name, None) == "":
            raise ValueError(f"{name.upper() if name in positional else '--' + name} is empty; expected a path")
    if args.command in ("explain", "gradcheck", "compare", "study"):
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:
            raise ValueError(f"--seed must be an integer in 0 … 2³² − 1; got {args.seed}")
        args.seed = PLANAR.train.seed if args.seed is None else args.seed
    return args


# --- the run a train command asks for ---------------------------------------------------------


class TrainRequest(typing.NamedTuple):
    """Everything ``chainrule train`` was asked for: what the flags, the config file and the
    preset say, merged (preset < config file < flags), before any data is read."""

    preset: Preset
    data: str
    data_options: dict
    label: str | None
    hidden_layers: tuple[int, ...]
    hidden_activation: str
    output: str | None
    test_fraction: float | None
    standardize: bool | None
    train: TrainConfig
    given: frozenset                                               # the TrainConfig fields given


def _request(args: argparse.Namespace) -> TrainRequest:
    """The run asked for, checked: the config file's keys and types, then TrainConfig's own checks."""
    from_file = _read_config(args.config) if args.config else {}
    flags = {k: v for k, v in vars(args).items()                  # training flags are absent unless given
             if k in TRAIN_FIELDS or (k in NETWORK_KEYS and v is not None)}
    given = {**from_file, **flags}
    preset = PRESETS[given.get("preset", "planar")]
    data = given.get("data", preset.data)
    hidden_layers = given.get("hidden_layers", preset.hidden_layers)
    if isinstance(hidden_layers, str):
        try:
            hidden_layers = _int_list(hidden_layers)
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"the config file {args.config} gives hidden_layers = {hidden_layers!r}: {exc}") from None
    options = {k: v for k, v in given.items() if k in TRAIN_FIELDS}
    try:
        train = dataclasses.replace(preset.train, **options)
    except ValueError as exc:                                  # name the flag the user typed, if it was one
        name = str(exc).split()[0]
        raise ValueError(_flag(name) + str(exc)[len(name):] if name in flags else str(exc)) from None
    return TrainRequest(preset, data, preset.data_options if data == preset.data else {}, given.get("label"),
                        tuple(hidden_layers), given.get("hidden_activation", preset.hidden_activation),
                        given.get("output"), given.get("test_fraction"), given.get("standardize"),
                        train, frozenset(options))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (json keeps the last silently; TOML refuses)."""
    table: dict[str, Any] = {}
    for key, value in pairs:
        if key in table:
            raise ValueError(f"the key {key!r} is given twice")
        table[key] = value
    return table


def _read_config(path: str) -> dict[str, Any]:
    """Options from a TOML or JSON file, keys spelled as in Python (learning_rate, …), each of its
    option's type."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        if file.suffix.lower() == ".json":
            options = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            try:
                import tomllib
            except ImportError:                                   # Python 3.10
                import tomli as tomllib
            options = tomllib.loads(text.decode("utf-8"))
    except Exception as exc:                                      # the parsers' own error types
        kind = "JSON" if file.suffix.lower() == ".json" else "TOML (a .json file is read as JSON)"
        raise ValueError(f"the config file {path} is not valid {kind}: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"the config file {path} must hold a table of options")
    unknown = sorted(set(options) - set(TRAIN_FIELDS) - set(NETWORK_KEYS))
    if unknown:
        raise ValueError(f"the config file {path} has unknown option(s): {', '.join(unknown)}")
    for key, (kind, what) in NETWORK_KEYS.items():
        if key in options and (not isinstance(options[key], kind) or isinstance(options[key], bool) != (kind is bool)):
            raise ValueError(f"the config file {path} gives {key} = {options[key]!r}; expected {what}")
    for key, value in options.items():                        # TOML has no null: "none" is None, as on the flags
        if key in TRAIN_FIELDS and value == "none" and _kind(TRAIN_FIELDS[key])[1]:
            options[key] = None
    if "preset" in options and options["preset"] not in PRESETS:
        raise ValueError(f"the config file {path} gives preset = {options['preset']!r}; expected one of "
                         f"{', '.join(PRESETS)}")
    return options


# --- data and network -----------------------------------------------------------------------


def _load_data(data: str, label: str | None, options: dict | None = None, output: str | None = None
               ) -> datasets.Dataset:
    """The data set asked for; a CSV file's label is a number to regress with --output identity, classes with
    --output sigmoid or softmax, and decided from its values otherwise."""
    if data in datasets.DATASETS:
        if label:
            raise ValueError(f"--label is for CSV files; {data!r} is a built-in data set")
        return datasets.load(data, **(options or {}))
    _check_data_file(data, label)
    regression = None if output is None else output == "identity"
    if data.lower().endswith(".npy"):
        return datasets.load_npy(data, label, regression=regression, progress=_ReadingProgress(data))
    return datasets.load_csv(data, label, regression=regression, progress=_ReadingProgress(data))


def _check_data_file(data: str, label: str | None) -> None:
    """Refuse --data that is neither a built-in data set nor a file there, and a file without --label."""
    if data.lower().endswith((".csv", ".npy")) or Path(data).exists():
        if not Path(data).exists():                                # said before a missing --label
            raise ValueError(f"no such {'.npy' if data.lower().endswith('.npy') else 'CSV'} file: {data}")
        if not label:
            npy = data.lower().endswith(".npy")
            raise ValueError(f"--label {'INDEX' if npy else 'COLUMN'} is needed to say which column of {data} is the "
                             f"label" + (" (-1: the last)" if npy else ""))
        return
    raise ValueError(f"unknown data set {data!r}; expected one of {', '.join(datasets.DATASETS)}, or a .csv or "
                     f".npy file")


class _ReadingProgress:
    """``progress(done, total)`` for long work: silent for work that takes under a second; after that, a bar
    on a terminal (stderr) or a line at each quarter. Reading a CSV file counts bytes; other work
    (``title`` given) counts steps, and may say which: ``progress(done, total, what)``."""

    def __init__(self, path: str, after: float = 1.0, title: str | None = None):
        self.title = title or f"Reading {path}"
        self.bytes = title is None
        self.start, self.after, self.shown, self.bar = time.monotonic(), after, 0, None

    def __call__(self, done: int, total: int, what: str = "") -> None:
        if time.monotonic() - self.start < self.after or total <= 0:
            return
        if sys.stderr.isatty():
            self._bar(done, total, what)
        elif done * 4 // total > self.shown and done < total:
            self.shown = done * 4 // total
            step = f"({done} of {total}{': ' + what if what else ''})"
            size = f"of {total / 2 ** 20:.0f} MiB" if self.bytes else step
            print(f"{self.title}: {100 * done // total} % {size}", file=sys.stderr)

    def _bar(self, done: int, total: int, what: str) -> None:
        try:
            from rich.progress import Progress as Bar
        except ImportError:
            return
        if self.bar is None:
            self.bar = Bar(transient=True)
            self.task = self.bar.add_task(self.title, total=total)
            self.bar.start()
        self.bar.update(self.task, completed=done, description=f"{self.title} {what}".strip())
        if done >= total:
            self.bar.stop()


def _check_data(resume: str, data_name: str, data: datasets.Dataset, saved: SavedModel) -> None:
    """Refuse to resume on data other than the run's: the model file records their fingerprint (a
    moved CSV file, given with --data, has the same)."""
    recorded = saved.prep.fingerprint
    if recorded is None:
        print(f"chainrule: warning: {resume} records no fingerprint of its data, so whether {data_name} still "
              f"holds the data it was trained on cannot be checked", file=sys.stderr)
    elif recorded != data_fingerprint(data.X, data.Y):
        raise ValueError(f"{data_name} is not the data {resume} was trained on (its contents differ from those "
                         f"recorded); resume with the original data (--data FILE), or train anew")


def _fit_output(data: datasets.Dataset, output: str | None) -> tuple[np.ndarray, str]:
    """Y for the requested output layer: two classes can be one sigmoid unit or a 2-way softmax."""
    if output is None or output == data.output:
        return data.Y, data.output
    if data.output == "sigmoid" and data.Y.shape[0] == 1 and output == "softmax":
        return datasets.one_hot(data.Y[0], 2), "softmax"
    raise ValueError(f"--output {output} does not fit the {data.name} data, whose labels suit a "
                     f"{data.output} output ({len(data.classes) or 'real-valued'} "
                     f"{'classes' if data.classes else 'targets'})")


# --- train ----------------------------------------------------------------------------------


def _check_resume(args: argparse.Namespace, request: TrainRequest, saved: SavedModel) -> None:
    """Refuse what a resumed run cannot change: its settings are in the model file."""
    if not _resumable(saved):
        raise ValueError(f"{args.resume} was not written by chainrule train (it lacks the training options, "
                         f"state or data); it cannot be resumed")
    if args.config:
        raise ValueError("--config and --resume do not go together: the run's settings are in the model file")
    config, prep = saved.config, saved.prep
    was = {"label": prep.label, "hidden_layers": list(config.layer_dims[1:-1]), "output": config.output,
           "hidden_activation": config.hidden_activation, "test_fraction": prep.test_fraction,
           "standardize": prep.standardizer is not None}                # what the saved run had: may be repeated
    changed = sorted({_flag(k) for k in request.given - set(RESUMABLE)
                      if getattr(request.train, k) != getattr(saved.train, k)}
                     | {_flag(k) for k in NETWORK_KEYS if k != "data" and getattr(args, k, None) is not None
                        and (k not in was or getattr(args, k) != was[k])})
    if changed:
        allowed = ", ".join(_flag(k) for k in RESUMABLE)
        raise ValueError(f"{', '.join(changed)} cannot change when resuming: the run's settings are in "
                         f"{args.resume} (only {allowed}, --data for data that moved, --out and the output flags "
                         f"can be given)")


def _check_state(resume: str, saved: SavedModel, m_train: int) -> None:
    """Refuse a state that the run it claims to continue cannot have reached: a history of another
    length than its epoch count, or an optimizer that took another number of steps than the epochs
    times the mini-batches per epoch ⌈m_train / mini_batch_size⌉ (a model file edited by hand)."""
    state, history, batch = saved.state, saved.history, saved.train.mini_batch_size
    if history is not None and len(history) != state.epoch:
        raise ValueError(f"{resume} is inconsistent: its state is after {state.epoch} epochs but its history "
                         f"records {len(history)}; it cannot be resumed")
    steps = state.epoch * (1 if batch is None or batch >= m_train else -(-m_train // batch))
    t = getattr(state.opt_state, "t", None)
    if t is not None and t != steps:
        raise ValueError(f"{resume} is inconsistent: its optimizer took {t} steps, but {state.epoch} epochs of "
                         f"{m_train} examples make {steps}; it cannot be resumed")


def _resumable(saved: SavedModel) -> bool:
    """Whether ``chainrule train --resume`` can continue this model: it needs the run's options,
    its state and where its data came from."""
    return (saved.train is not None and saved.state is not None and saved.prep is not None
            and saved.prep.data is not None)


def _check_flags(request: TrainRequest) -> None:
    """Refuse flags that would be ignored, instead of silently ignoring them."""
    train, given = request.train, request.given
    if train.decay is None and given & {"decay_rate", "time_interval"}:
        raise ValueError("--decay-rate and --time-interval need --decay inverse_time or stepped")
    if train.init != "random" and "scale" in given:
        raise ValueError(f"--scale is the factor of --init random; --init {train.init} has its own")
    if train.patience is None and given & {"min_delta", "restore_best"}:
        flags = " and ".join(_flag(k) for k in sorted(given & {"min_delta", "restore_best"}))
        raise ValueError(f"{flags} {'are' if ' and ' in flags else 'is'} for early stopping: give --patience too")


def _prepare(data, Y, test_fraction, seed, standardize, standardizer=None):
    """(X_train, Y_train, X_test, Y_test, standardizer): the split, standardised on its training part."""
    X_train, Y_train, X_test, Y_test = datasets.split(data.X, Y, test_fraction, seed)
    if standardize and standardizer is None:
        standardizer = datasets.fit_standardizer(X_train)
    if standardizer is not None:
        X_train, X_test = datasets.standardize(X_train, standardizer), datasets.standardize(X_test, standardizer)
    _check_scale(data, X_train, X_test, standardizer)
    return X_train, Y_train, X_test, Y_test, standardizer


def _check_scale(data, X_train, X_test, standardizer, sizes=(None, None)) -> None:
    """Refuse in one line a column too large to train on; ``sizes``: the examples of all the ranks'
    training and test parts, when these are one rank's."""
    for X, m in zip((X_train, X_test), sizes):
        datasets.check_feature_scale(X, data.feature_names or None, standardized=standardizer is not None, m=m)


class _OutputFolder:
    """``with _OutputFolder(out) as folder``: the output folder, ready before anything is trained.

    It is made if needed and checked writable (a bad --out fails at once, naming the path
    given), locked against a second run writing it at once (``_files.FolderLock``), and cleared
    of temporary files a killed run left. If the command fails, a folder it made and left
    empty is removed again.
    """

    def __init__(self, out: str, files: tuple[str, ...] = OUTPUT_FILES):
        self.out, self.folder, self.files = out, Path(out), files
        self.lock = FolderLock(self.folder)

    def __enter__(self) -> Path:
        try:
            return self._enter()
        except FolderInUse:
            raise
        except OSError as exc:                                      # a name too long, a folder not searchable
            raise ValueError(f"--out {self.out} cannot be used ({exc.strerror or exc}); choose another "
                             f"folder") from None

    def _enter(self) -> Path:
        folder, out = self.folder, self.out
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {out} is a file, not a folder")
        self.made = not folder.exists()
        for name in self.files:
            if (folder / name).is_dir():
                raise ValueError(f"--out {out} holds a folder named {name}, where the run writes its file "
                                 f"{name}; remove or rename it, or choose another --out")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.TemporaryFile(dir=folder)
            probe.close()
        except OSError as exc:
            self._remove_if_made()
            raise ValueError(f"--out {out} cannot be written ({exc.strerror or exc}); choose another "
                             f"folder") from None
        try:
            self.lock.__enter__()
        except OSError as exc:
            self._remove_if_made()
            if not isinstance(exc, FolderInUse):
                raise
            raise ValueError(f"--out {out} is in use by another chainrule train ({str(exc).rsplit('(', 1)[-1]}; "
                             f"wait for it to finish, or choose another --out") from None
        for stale in stale_temporaries(folder, self.files):
            with contextlib.suppress(OSError):
                stale.unlink()
        return folder

    def __exit__(self, kind, *exc) -> None:
        self.lock.__exit__()
        if kind is not None:
            self._remove_if_made()

    def _remove_if_made(self) -> None:
        if self.made:
            with contextlib.suppress(OSError):
                self.folder.rmdir()                                # only if empty


class _Signalled(KeyboardInterrupt):
    """The command was ended by a signal: Ctrl-C (SIGINT, exit status 130), SIGTERM (143) or SIGHUP
    (129: the terminal closed)."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message)
        self.status = 128 + signum


class _Interrupted(_Signalled):
    """The run stopped at the end of an epoch for a signal, its files written: under mpiexec every
    rank stopped at the same epoch, so none waits for another."""


class _Signals:
    """``with _Signals() as signals``: what SIGINT (Ctrl-C), SIGTERM and SIGHUP do during chainrule train.

    While training (``signals.phase = "training"``), the first one asks ``signals.interrupt``
    to stop the run at the end of the epoch in progress, so that it is saved complete and
    resumable; a second one ends the command at once. Once trained ("saving": the figures,
    the picture and the files), a signal waits for the files to be written, so that no work is
    lost and no file is left half-written or as a temporary file. At other times (reading the
    data) it ends the command at once. ``received`` is the first
    signal's number (None if none came).
    """

    def __init__(self) -> None:
        self.interrupt, self.phase, self.received, self.saved = Interrupt(), "setup", None, {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])):
                self.saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        first = self.received is None
        self.received = self.received or signum
        if self.phase == "saving" or (self.phase == "training" and first):
            self.interrupt.request(signum)
            return
        raise _Signalled(signum)




def _train(args: argparse.Namespace, comm: Any = None) -> int:
    """chainrule train: the request, the data split as before, the run with progress and checkpoints, the files.

    Under mpiexec (``comm``), every rank prepares the data as one process does and trains on its
    share of the training (and test) columns with the global 1/m; rank 0 alone prints and writes."""
    everywhere = (lambda work: work()) if comm is None else functools.partial(together, comm)   # fail alike
    request, saved = everywhere(lambda: _train_request(args))
    if comm is not None and saved is not None:
        raise Refused("--resume runs in one process; resume without mpiexec")
    out_text = args.out or (str(Path(args.resume).parent) if args.resume else "chainrule-output")
    writer = comm is None or comm.Get_rank() == 0
    with _Signals() as signals, contextlib.ExitStack() as stack:
        out = everywhere(lambda: stack.enter_context(_OutputFolder(out_text)) if writer else Path(out_text))
        share = None
        if comm is not None and request.data not in datasets.DATASETS:     # each rank reads its rows
            everywhere(lambda: _check_data_file(request.data, request.label))
            share = shares.read_share(request.data, request.label, comm,
                                      None if request.output is None else request.output == "identity",
                                      progress=_ReadingProgress(f"{request.data} (rank 0's share)") if writer else None)
            data = share.data
        else:
            data = everywhere(lambda: _load_data(request.data, request.label, request.data_options, request.output))
        if saved is not None:
            _check_data(args.resume, request.data, data, saved)
        Y, output = everywhere(lambda: _fit_output(data, request.output))
        config, state, prep, (X_train, Y_train, X_test, Y_test), part = _setup(request, saved, data, Y, output,
                                                                              share, comm)
        if saved is not None:
            _check_state(args.resume, saved, X_train.shape[1])
        prep = prep._replace(data=request.data, fingerprint=None if share else data_fingerprint(data.X, data.Y))
        train = request.train
        counts = (X_train.shape[1], X_test.shape[1]) if part is None else part.counts
        validation = (X_test, Y_test) if counts[1] else None
        mode = "quiet" if (args.quiet or args.json or not writer) else ("live" if sys.stdout.isatty() else "lines")
        setup = None if mode == "quiet" else functools.partial(
            _print_setup, config, data, counts, train, request.preset, prep.standardizer, out, saved,
            comm.Get_size() if share is not None else None)
        model = SavedModel(config, [], train, None, None, prep, data.feature_names, data.classes)
        signals.phase = "training"
        result = _fit_with_progress(args, model, state, saved, (X_train, Y_train), validation, out, mode,
                                    [_AtStart(setup), signals.interrupt], comm, None if part is None else part.examples)
        history = saved.history.then(result.history) if saved is not None and saved.history is not None \
            else result.history
        figures = _figures(history, result.params, config, X_train, Y_train, validation, share and comm)
        points, span = ((data.X, Y), None) if share is None else _points(data.X, Y, comm)
        signals.phase = "saving"
        if comm is not None:                                       # a signal that reached some ranks: every rank's
            signals.received = next((r for r in everyone(comm, signals.received) if r is not None), None)
        if writer:
            picture, why_not = _picture(history, result.params, config, data._replace(X=points[0]), points[1],
                                        prep.standardizer, span)
            model_path = save(out / "model.npz", model._replace(params=result.params, state=result.state,
                                                                 history=history, figures=figures))
            _write_history_csv(out / "history.csv", history)
            if picture is not None:
                picture = write_atomically(out / "training.png", lambda handle, png=picture: handle.write(png))
            elif (out / "training.png").exists():                 # not a picture of another run beside this one
                (out / "training.png").unlink()
        if comm is not None:                   # the others wait, their signals held, until rank 0 has written
            everyone(comm, None)
        signals.phase = "done"
    if not writer:
        return 0
    _report(args, mode, config, history, figures, train, out, model_path, picture, why_not)
    if signals.received is not None:
        left = train.num_epochs - len(result.history) if result.history.stop_reason == "interrupted" else 0
        more = f"; chainrule train --resume {model_path} --num-epochs {left} finishes the run" if left else ""
        raise _Interrupted(signals.received, f"{model_path} holds the run after epoch {result.state.epoch - 1}{more}")
    return 0


def _train_request(args: argparse.Namespace) -> tuple[TrainRequest, SavedModel | None]:
    """The checked request; with --resume, the saved run's data, output and options, and the saved model."""
    request = _request(args)
    saved = load(args.resume) if args.resume else None
    if saved is not None:
        _check_resume(args, request, saved)
        train = dataclasses.replace(saved.train, num_epochs=request.train.num_epochs if "num_epochs" in request.given
                                    else saved.train.num_epochs)
        prep = saved.prep
        data = args.data or prep.data
        if data not in datasets.DATASETS and not Path(data).exists():
            raise ValueError(f"{args.resume} was trained on {data}, which is not there any more; give --data with "
                             f"its new place (its contents are checked against the model file's fingerprint)")
        request = request._replace(data=data, data_options=prep.data_options or {}, label=prep.label,
                                   output=saved.config.output, train=train)
    else:
        _check_flags(request)
    if args.print_every is not None and args.print_every < 1:
        raise ValueError(f"--print-every must be a positive integer; got {args.print_every}")
    if request.train.seed is None:
        raise ValueError("seed none (a fresh seed for each run) is for the library; the command line's runs are "
                         "reproducible: give a seed")
    return request, saved


def _setup(request: TrainRequest, saved: SavedModel | None, data, Y: np.ndarray, output: str,
           share: shares.Share | None = None, comm: Any = None):
    """The network, the state to continue from, the data preparation, the split (X_train, Y_train, X_test, Y_test)
    and, for a rank's share of a file (``share``, collectively), its ``shares.Prepared`` (the global index of each
    of its training columns, the counts of all the ranks), else None.

    A resumed run splits and standardises exactly as the saved one did; a new one takes the request's choices or the
    defaults of its data."""
    seed = request.train.seed
    everywhere = (lambda work: work()) if share is None else functools.partial(together, comm)
    if output == "identity":                                      # one line naming labels too large to regress
        everywhere(lambda: datasets.check_target_scale(Y, request.label, None if share is None else share.n))
    if saved is not None:
        prep = saved.prep
        *split, _ = _prepare(data, Y, prep.test_fraction, seed, False, prep.standardizer)
        return saved.config, saved.state, prep, tuple(split), None
    config = ModelConfig([data.X.shape[0], *request.hidden_layers, Y.shape[0]], request.hidden_activation, output)
    test_fraction = request.test_fraction
    if test_fraction is None:
        test_fraction = (request.preset.test_fraction if request.data == request.preset.data
                         else 0.0 if data.name == "flower" else 0.2)
    standardize = request.standardize
    if standardize is None:
        standardize = data.name not in datasets.DATASETS or data.name in REAL_DATA
    part = None
    if share is None:
        *split, standardizer = _prepare(data, Y, test_fraction, seed, standardize)
    else:
        part = shares.prepare_share(share, Y, test_fraction, seed, standardize, comm)
        split, standardizer = [part.X_train, part.Y_train, part.X_test, part.Y_test], part.standardizer
        everywhere(lambda: _check_scale(data, split[0], split[2], standardizer, part.counts))
    return config, None, DataPrep(request.data, request.data_options, request.label, test_fraction, standardizer), \
        tuple(split), part


def _fit_with_progress(args, model: SavedModel, state, saved: SavedModel | None, train_data, validation, out: Path,
                       mode: str, callbacks: list, comm: Any = None, examples: Any = None) -> FitResult:
    """fit with a progress display, ``callbacks`` and, with --save-every, checkpoints; a divergence or an
    ending signal says what was kept. Under mpiexec (``comm``): this rank's share of the columns (the data given,
    when a rank read its own rows: ``examples``), and only rank 0 keeps checkpoints."""
    train = model.train
    checkpoint = None
    if comm is not None and examples is None:
        train_data = tuple(_share(A, comm) for A in train_data)
        validation = None if validation is None else tuple(_share(A, comm) for A in validation)
    if args.save_every and (comm is None or comm.Get_rank() == 0):
        every, seconds = args.save_every
        checkpoint = Checkpoint(saver(out / "model.npz", model), every, seconds=seconds,
                                before=saved.history if saved is not None else None)
    with Progress(train.num_epochs, args.print_every or max(1, train.num_epochs // 10), mode) as progress:
        try:
            return fit(model.config, *train_data, train, state=state, validation_data=validation, comm=comm,
                       examples=examples, callbacks=[*callbacks, progress, *([checkpoint] if checkpoint else [])])
        except TrainingDiverged as exc:
            kept = "Nothing was written."
            if checkpoint is not None and checkpoint.saved_epoch is not None:
                kept = f"{out / 'model.npz'} holds the checkpoint after epoch {checkpoint.saved_epoch}."
            raise (ValueError if comm is None else Refused)(f"{exc.reason} {kept}") from None   # global: every rank
        except KeyboardInterrupt as exc:                       # a second signal, or one from a thread's code
            status = getattr(exc, "status", 130)
            if checkpoint is None or checkpoint.saved_epoch is None:
                raise _Signalled(status - 128, "stopped at once: nothing was saved (--save-every keeps a "
                                 "checkpoint)") from None
            end = (state.epoch if state is not None else 0) + train.num_epochs
            raise _Signalled(status - 128, f"{out / 'model.npz'} holds the checkpoint after epoch "
                             f"{checkpoint.saved_epoch}; chainrule train --resume {out / 'model.npz'} --num-epochs "
                             f"{end - checkpoint.saved_epoch - 1} finishes the run") from None


def _share(A: np.ndarray, comm: Any) -> np.ndarray:
    """This rank's consecutive share of A's columns (rank 0 the first ones), as even as they divide."""
    return np.array_split(A, comm.Get_size(), axis=-1)[comm.Get_rank()]


class _AtStart(Callback):
    """Calls ``function()`` when training starts, after every option and array has been checked."""

    def __init__(self, function):
        self.function = function

    def start(self, state) -> None:
        if self.function is not None:
            self.function()


def _points(X: np.ndarray, Y: np.ndarray, comm: Any, most: int = 10_000) -> tuple[tuple, np.ndarray]:
    """((X, Y) of every rank's examples for the picture, the span of each feature over all of
    them): at most ``most`` points of two-dimensional data in all, each rank sending evenly
    spaced ones of its own (all of them, for data of up to ``most`` examples). Collective."""
    two = X.shape[0] == 2
    keep = np.linspace(0, X.shape[1] - 1, min(X.shape[1], most // comm.Get_size()) if two else 0).round().astype(int)
    with np.errstate(invalid="ignore"):
        extent = (np.min(X, axis=1, initial=np.inf), np.max(X, axis=1, initial=-np.inf))
    parts = everyone(comm, (X[:, keep], Y[:, keep], extent))
    span = np.max([high for *_, (_, high) in parts], axis=0) - np.min([low for *_, (low, _) in parts], axis=0)
    return (np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=1)), span


def _figures(history: History, params, config: ModelConfig, X_train, Y_train, validation, comm: Any = None) -> dict:
    """The numbers measured at the end: the last epoch's cost, training (and test) cost, and accuracy for
    classifiers; with ``comm``, of all the ranks' columns together (collectively)."""
    def measured(X, Y):
        if comm is not None:
            return distributed.cost_and_accuracy(comm, params, X, Y, config)
        return compute_data_cost(params, X, Y, config), \
            accuracy(params, X, Y, config) if config.output != "identity" else None
    figures = {"final_cost": float(history.cost[-1]) if len(history) else None}
    figures["train_cost"], train_accuracy = measured(X_train, Y_train)
    if validation is not None:
        figures["test_cost"], test_accuracy = measured(*validation)
    if config.output != "identity":
        figures["train_accuracy"] = train_accuracy
        if validation is not None:
            figures["test_accuracy"] = test_accuracy
    return figures


def _report(args, mode: str, config: ModelConfig, history: History, figures: dict, train: TrainConfig, out: Path,
            model_path: Path, picture, why_not: str) -> None:
    """The figures and the files written, as lines (or, with --json, as one JSON document)."""
    if args.json:
        print(json.dumps({"model": str(model_path), "history": str(out / "history.csv"),
                          "picture": picture and str(picture), "layer_dims": list(config.layer_dims),
                          "epochs": len(history), "stop_reason": history.stop_reason,
                          "best_epoch": history.best_epoch, **figures}, indent=2))
        return
    print("\n".join(_figure_lines(figures, history, train.restore_best)))
    if mode != "quiet":
        print(f"Wrote {model_path}, {out / 'history.csv'}"
              + (f", {picture}" if picture else f" (no picture: {why_not})"))


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


HISTORY_COLUMNS = EpochRecord._fields


def _print_setup(config, data, counts: tuple[int, int], train: TrainConfig, preset: Preset, standardizer, out,
                 saved: SavedModel | None, ranks: int | None = None) -> None:
    """What will be trained: the options always shown, and those that differ from the preset's; for a
    resumed run, where it stands and how far it will go. ``counts``: the training and test examples;
    ``ranks``: how many ranks read their share of the rows."""
    dims = ", ".join(map(str, config.layer_dims))
    order = ("init", "scale", "init_draws", *(name for name in TRAIN_FIELDS if not name.startswith(("init", "scale"))))
    chosen = {name: getattr(train, name) for name in order
              if name != "seed" and (name in ALWAYS_SHOWN or getattr(train, name) != getattr(preset.train, name))}
    shown = {k: ("full batch" if k == "mini_batch_size" and v is None else v) for k, v in chosen.items()}
    print(f"Network [{dims}]: {config.hidden_activation} hidden layers, {config.output} output")
    print(f"Data: {data.name}, {counts[0]} training and {counts[1]} test examples"
          + (", standardised on the training part" if standardizer is not None else "")
          + (f"; each of {ranks} ranks read its share of the rows" if ranks else ""))
    print("Training: " + ", ".join(f"{k} {v}" for k, v in shown.items()) + f", seed {train.seed}; output in {out}")
    if saved is not None:
        epoch = saved.state.epoch
        print(f"Resuming after epoch {epoch - 1}: {train.num_epochs} more epochs, to epoch "
              f"{epoch + train.num_epochs - 1} (--num-epochs says how many)")


def _write_history_csv(path: Path, history: History) -> None:
    buffer = _io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HISTORY_COLUMNS)
    for row in zip(*(getattr(history, n) for n in HISTORY_COLUMNS)):
        writer.writerow([int(row[0]), *(repr(float(v)) for v in row[1:])])
    write_text_atomically(path, buffer.getvalue())


def _picture(history, params, config, data, Y, standardizer, span=None) -> tuple[bytes | None, str]:
    """(the PNG of the run, "") — the cost curves, and the decision boundary for two-dimensional data —
    or (None, why there is none). Drawn whole before any file is written. ``span``: each feature's
    max − min over all the data, when ``data`` holds some of it."""
    try:
        from .plot import png_bytes, training_figure
    except ImportError:
        return None, "matplotlib is not installed"
    with np.errstate(over="ignore"):
        if not np.isfinite(np.ptp(data.X, axis=1) if span is None else span).all():
            return None, "the features span more than a float64 holds, so no axes can show them"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return png_bytes(training_figure(history, params, config, data.X, Y, standardizer=standardizer)), ""
    except ValueError as exc:
        if "matplotlib" in str(exc):
            return None, "matplotlib is not installed"
        return None, str(exc)
    except (ArithmeticError, RuntimeError) as exc:               # matplotlib's own limits: data spanning 1e308
        return None, f"the data cannot be drawn ({exc})"


# --- explain, gradcheck, compare ------------------------------------------------------------


def _network_for(args: argparse.Namespace, layer_dims: list[int] | None = None):
    """(config, data) for the network flags (the planar preset's where not given), or for
    explicit layer sizes (data None)."""
    hidden_activation = args.hidden_activation or PLANAR.hidden_activation
    if layer_dims:
        return ModelConfig(layer_dims, hidden_activation, args.output or "sigmoid"), None
    data = _load_data(args.data or PLANAR.data, args.label, output=args.output)
    Y, output = _fit_output(data, args.output)
    hidden = PLANAR.hidden_layers if args.hidden_layers is None else args.hidden_layers
    config = ModelConfig([data.X.shape[0], *hidden, Y.shape[0]], hidden_activation, output)
    return config, data._replace(Y=Y, output=output)


def _compare_shards(args: argparse.Namespace, config: ModelConfig, data: Any, X: np.ndarray, params: list,
                    every: int) -> int:
    """compare --shards: one process, the global 1/m over shards, the naive average of the shards' means."""
    m, epochs, sizes = X.shape[1], args.num_epochs, args.shards
    if sum(sizes) != m:
        raise ValueError(f"--shards must add up to the {m} examples of {data.name}; got "
                         f"{','.join(map(str, sizes))} (sum {sum(sizes)})")
    with np.errstate(all="ignore"):
        result = compare_shards(config, X, data.Y, params, args.learning_rate, epochs, range(0, epochs + 1, every),
                                sizes)
    print(f"Network [{', '.join(map(str, config.layer_dims))}] on {data.name} (m = {m}), gradient descent, "
          f"learning rate {args.learning_rate:g}, the same start for every run; shards of "
          f"{', '.join(map(str, sizes))} examples.")
    print("J of the one-process run, and how far each sharded run is from it (|ΔJ|, and the largest "
          "|ΔW[l]| / max |W[l]|):\n")
    print(f"{'epoch':>7}  {'J':>10}  {'global 1/m: ΔJ':>15}  {'ΔW':>9}  {'naive mean: ΔJ':>15}  {'ΔW':>9}")
    for row in result.rows:
        print(f"{row.epoch:>7}  {row.J:>10.6f}  {row.sharded_J:>15.1e}  {row.sharded_W:>9.1e}  "
              f"{row.naive_J:>15.1e}  {row.naive_W:>9.1e}")

    def percent(errors):
        return " to ".join(f"{100 * e:.3g} %" for e in sorted({min(errors), max(errors)}))
    print(f"\nAt the start, the error of ∂J/∂W[l] over the layers: global 1/m {percent(result.sharded_error)}, "
          f"naive average {percent(result.naive_error)}.")
    if result.accuracy[0] == result.accuracy[0]:
        print("Training accuracy at the end: " + ", ".join(f"{name} {a:.4f}" for name, a in
                                                          zip(("one process", "global 1/m", "naive"),
                                                              result.accuracy)) + ".")
    print("\nThe global 1/m gives the one-process gradient: each shard sums its examples' gradients "
          "and divides by the m of all the shards, J = (1/m) Σ L, so only rounding separates the runs. "
          "Averaging the shards' own means divides shard k's sum by K·m_k instead of m: an example of a "
          "small shard counts more than one of a large shard, so it descends another function than J "
          "whenever the shards are unequal.")
    return 0


# --- sweep ----------------------------------------------------------------------------------------


def _sweep(args: argparse.Namespace) -> int:
    """chainrule sweep: the grid of the flags given lists, trained in stacks on one split; the table and files."""
    from .sweeps import sweep

    lists = {k: v for k, v in vars(args).items() if isinstance(v, list)}
    request = _request(argparse.Namespace(**{**vars(args), **{k: v[0] for k, v in lists.items()}}))
    _check_flags(request._replace(given=request.given | {k for k in lists if k in TRAIN_FIELDS}))
    if request.train.seed is None or None in lists.get("seed", ()):
        raise ValueError("seed none (a fresh seed for each run) is for the library; a sweep's runs are "
                         "reproducible: give seeds")
    grid = {k: list(dict.fromkeys(v)) for k, v in lists.items() if len(set(v)) > 1}
    with _Signals() as signals, _OutputFolder(args.out, SWEEP_FILES) as out:
        data = _load_data(request.data, request.label, request.data_options, request.output)
        Y, output = _fit_output(data, request.output)
        config, _, prep, (X_train, Y_train, X_test, Y_test), _ = _setup(request, None, data, Y, output)
        test = (X_test, Y_test) if X_test.shape[1] else None
        signals.phase = "training"
        result = sweep(X_train, Y_train, grid, config=config, train=request.train, test_data=test, jobs=args.jobs,
                       memory=args.memory, interrupt=signals.interrupt,
                       progress=None if args.json else _ReadingProgress(args.out, title="Training"))
        signals.phase = "saving"
        picture = _sweep_picture(result)
        result.to_csv(out / "sweep.csv")
        result.to_json(out / "sweep.json")
        if picture is not None:
            write_atomically(out / "sweep.png", lambda handle: handle.write(picture))
        signals.phase = "done"
    if args.json:
        print(json.dumps({"csv": str(out / "sweep.csv"), "json": str(out / "sweep.json"),
                          "picture": str(out / "sweep.png") if picture else None, "complete": result.complete,
                          "runs": result.rows()}, indent=2, default=str).replace("NaN", "null"))
    else:
        print("\n".join(_sweep_lines(result, config, X_train.shape[1], test, args.quiet)))
        if not args.quiet:
            print(f"Wrote {out / 'sweep.csv'}, {out / 'sweep.json'}" + (f", {out / 'sweep.png'}" if picture else ""))
    if not result.complete:
        raise _Signalled(signals.received or signal.SIGINT, f"{len(result.runs)} of {result.planned} runs finished; "
                         f"{out / 'sweep.csv'} holds them")
    return 0


def _sweep_lines(result, config: ModelConfig, m: int, test, quiet: bool) -> list[str]:
    """The table: one row per run (or, past 40 runs with seeds swept, one per setting over the seeds)."""
    lines = [] if quiet else [f"Sweep of {result.planned} runs on {m} training examples"
                              + (f" and {test[0].shape[1]} test examples" if test else "") + f": stacks of "
                              f"{', '.join(map(str, result.stacks)) or 'none'}"]
    classifier = config.output != "identity"
    keys = list(result.keys)
    if len(result.runs) > 40 and "seed" in keys:
        rows = result.summary()
        keys = [k for k in keys if k != "seed"]
        figures = [("runs", "runs", "{}")] + [(f"{c}_{s}", f"{name} {s}", fmt) for c, name, fmt in
                                              _sweep_columns(classifier, test) for s in ("mean", "std")]
    else:
        rows = result.rows()
        figures = [(c, name, fmt) for c, name, fmt in _sweep_columns(classifier, test)] + [
            ("epochs", "epochs", "{}"), ("stop_reason", "stop", "{}")]
    header = [*keys, *(name for _, name, _ in figures)]
    table = [[str(row[k]) for k in keys] + [fmt.format(row[c]) for c, _, fmt in figures] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in table]
    if len(rows) < len(result.runs):
        lines.append(f"(over the seeds: {len(result.runs)} runs; sweep.csv has each)")
    return lines


def _sweep_columns(classifier: bool, test) -> list[tuple[str, str, str]]:
    """(figure, heading, format) of the table's figures."""
    columns = [("final_cost", "final cost", "{:.6f}")]
    if classifier:
        columns.append(("train_accuracy", "train accuracy", "{:.2%}"))
        columns += [("test_accuracy", "test accuracy", "{:.2%}")] if test else []
    else:
        columns += [("train_cost", "train cost", "{:.6f}")] + ([("test_cost", "test cost", "{:.6f}")] if test else [])
    return columns


def _sweep_picture(result) -> bytes | None:
    """The PNG of the sweep (plot.sweep_figure), or None without matplotlib or runs."""
    try:
        from .plot import png_bytes, sweep_figure
    except ImportError:
        return None
    if not result.runs:
        return None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return png_bytes(sweep_figure(result))


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain

    config, data = _network_for(args)
    m = args.examples if args.examples is not None else data.X.shape[1]
    console = _rich_console() if args.format == "text" and sys.stdout.isatty() else None
    form = "markdown" if console is not None else args.format
    text = explain(config, m, convention=args.convention, format=form, measure=args.check, seed=args.seed)
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, at most a day (86400); got {text!r}")
    return value


def _bytes(text: str) -> int:
    """ "2G", "512M", "1.5G" or a number of bytes, as bytes."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 512M; got {text!r}")
    if not match.group(2) and float(match.group(1)) < 1024**2:
        raise argparse.ArgumentTypeError(f"expected a size such as 2G or 512M; got {text!r} (bytes: {text}M?)")
    size = int(float(match.group(1)) * units[match.group(2).upper()])
    if size < 256 * 1024**2:
        raise argparse.ArgumentTypeError(f"expected at least 256M (Python and NumPy need that much); got {text!r}")
    return size


def _check(args: argparse.Namespace) -> int:
    from .check.sandbox import check_file
    from .check.source import UnusableFile

    def terminated(signum, frame):                             # SIGTERM: stop the child, say so, status 143
        raise _Signalled(signum)

    signal.signal(signal.SIGTERM, terminated)
    status = None
    if sys.stderr.isatty() and not args.json:
        try:
            from rich.console import Console
            status = Console(stderr=True).status(f"checking {args.file} in a separate process "
                                                 f"(at most {args.timeout:g} s)…")
        except ImportError:
            status = None
    try:
        if status is not None:
            with status:
                report = check_file(args.file, args.timeout, args.memory, args.run_all)
        else:
            report = check_file(args.file, args.timeout, args.memory, args.run_all)
    except UnusableFile as error:
        if args.debug and getattr(error, "detail", ""):
            print(error.detail, file=sys.stderr)
        if args.json:
            print(json.dumps({"file": args.file, "status": "unusable", "exit_status": 2, "unusable": str(error)},
                             ensure_ascii=False))
        print(f"chainrule check: {error}", file=sys.stderr)
        return 2
    if not report.functions:
        names = ", ".join(report.not_found[:4])
        message = (f"found none of the course's functions in {args.file} (looked for {names}, … by the course's names; "
                   "--run-all also runs the file's other statements)")
        if args.json:
            print(json.dumps({"file": args.file, "status": "unusable", "exit_status": 2, "unusable": message},
                             ensure_ascii=False))
        print(f"chainrule check: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
    else:
        print(report.text())
    return report.exit_status


def _gradcheck(args: argparse.Namespace) -> int:
    if args.layer_dims and (args.data is not None or args.label):
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
        result = gradient_check(params, X, Y, config, args.epsilon, convention, backward_fn=backward_fn,
                                precision=args.precision)
        where = "1/m in dW and db" if convention == "deferred" else "1/m in dZ[L]"
        bug = f", with the bug {args.inject!r} planted: {BUGS[args.inject][0]}" if args.inject else ""
        print(f"Gradient check, convention {convention!r} ({where}){bug}:")
        print(result.table())
        if not result.passed:
            print(f"layers pointed at: {', '.join(map(str, result.failing_layers)) or 'the total only'}")
        print()
        passed = passed and result.passed
    return 0 if passed else 1


def _shard_sizes(text: str) -> list[int]:
    """--shards 80,320: the sizes of the shards, positive integers."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if len(sizes) < 1 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected shard sizes as positive integers separated by commas "
                                         f"(80,320); got {text!r}")
    return sizes


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
    if args.shards is not None:
        return _compare_shards(args, config, data, X, params, every)
    per_example = args.per_example if args.per_example is not None else m * epochs <= 100_000
    with np.errstate(all="ignore"):                               # a diverging run is said below, in a line
        rows = compare_conventions(config, X, data.Y, params, args.learning_rate, epochs,
                                   range(0, epochs + 1, every), per_example)
    diverged = [row for row in rows if not np.isfinite(row.J) or row.J > 100 * max(1.0, rows[0].J)]
    if diverged:
        raise ValueError(f"--learning-rate {args.learning_rate:g} makes gradient descent diverge (J is "
                         f"{diverged[0].J:.3g} at epoch {diverged[0].epoch}, from {rows[0].J:.3g} at the start), "
                         f"so comparing the runs says nothing; choose a smaller --learning-rate")
    print(f"Network [{', '.join(map(str, config.layer_dims))}] on {data.name} (m = {m}), gradient descent, "
          f"learning rate {args.learning_rate:g}, the same start for every run.")
    print("J of the deferred run (1/m in dW, db), and the largest |difference| of each other run from it:\n")
    layers = "".join(f"  {'W[' + str(l) + ']':>9}" for l in range(1, config.L + 1))
    header = f"{'epoch':>7}  {'J':>10}  {'absorbed J':>10}{layers}"
    if per_example:
        header += f"  {'per-ex. J':>10}" + "".join(f"  {'W[' + str(l) + ']':>9}" for l in range(1, config.L + 1))
    print(header)
    for row in rows:
        line = (f"{row.epoch:>7}  {row.J:>10.6f}  {row.absorbed_J:>10.1e}"
                + "".join(f"  {d:>9.1e}" for d in row.absorbed_W))
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


# --- study ---------------------------------------------------------------------------------------


def _study(args: argparse.Namespace) -> int:
    """chainrule study precision: the measurements, their report, the pictures and the JSON."""
    from .study import precision

    if args.model:
        saved = load(args.model)
        config, params = saved.config, saved.params
        data_name = args.data or (saved.prep.data if saved.prep is not None else None)
        if data_name is None:
            raise ValueError(f"{args.model} records no training data; give --data (and --label for a CSV file)")
        label = args.label or (saved.prep.label if saved.prep is not None and not args.data else None)
        data = _load_data(data_name, label, output=config.output)
        Y, _ = _fit_output(data, config.output)
        X = data.X if saved.prep is None or saved.prep.standardizer is None else \
            datasets.standardize(data.X, saved.prep.standardizer)
        if X.shape[0] != config.n_x or Y.shape[0] != config.n_y:
            raise ValueError(f"the data {data_name} has {X.shape[0]} features and {Y.shape[0]} outputs; {args.model} "
                             f"takes {config.n_x} and gives {config.n_y}")
        where = f"the parameters of {args.model}"
    else:
        config, data = _network_for(args)
        X, Y = data.X, data.Y
        if data.name not in datasets.DATASETS or data.name in REAL_DATA:            # as train prepares it
            X = datasets.standardize(X, datasets.fit_standardizer(X))
        params = init_params(config, np.random.RandomState(args.seed), args.init,
                             args.scale if args.init == "random" else 0.01)
        where = f"an initialisation ({args.init}" + (f", scale {args.scale:g})" if args.init == "random" else ")")
    with _OutputFolder(args.out) as out:
        variants = args.variants or None
        study = precision(config, params, X, Y, ms=args.m, formats=args.formats, accumulate=args.accumulate,
                          **({"variants": variants} if variants else {}), loss_scale=args.loss_scale,
                          seed=args.seed, train_ms=args.train_m, train_epochs=args.train_epochs,
                          learning_rate=args.learning_rate,
                          progress=_ReadingProgress("", title="Measuring"))
        files = {"precision.json": study.to_json().encode("utf-8")}
        pictures, why = {}, ""
        try:
            from .plot import png_bytes

            pictures["precision.png"] = png_bytes(study.plot())
            if study.training:
                pictures["precision-training.png"] = png_bytes(study.training_plot())
        except ImportError as exc:
            why = f"(no picture: {exc}; pip install 'chainrule[plot]')"
        for name, content in {**files, **pictures}.items():
            write_atomically(out / name, lambda handle, content=content: handle.write(content))
    if args.json:
        print(files["precision.json"].decode("utf-8"))
        return 0
    print(f"Study of {where}, on {data_name if args.model else data.name}.\n")
    print(study.report())
    print(f"\nWritten: {', '.join(str(out / name) for name in {**files, **pictures})}" + (f" {why}" if why else ""))
    return 0


# --- predict, summary -----------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    if args.out is not None:
        _check_not_input(args.out, {"the model": args.model, "the data": args.data})
    model = load(args.model)
    if not model.feature_names:
        raise ValueError(f"{args.model} records no feature names, so its columns cannot be found in a data file")
    read = datasets.load_npy_features if args.data.lower().endswith(".npy") else datasets.load_csv_features
    X = read(args.data, model.feature_names, progress=_ReadingProgress(args.data))
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
        write_text_atomically(Path(args.out), buffer.getvalue())
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


def _check_not_input(out: str, inputs: dict[str, str]) -> None:
    """Refuse an output path that is one of the command's inputs: writing it would destroy them."""
    for what, path in inputs.items():
        if path and Path(out).resolve() == Path(path).resolve():
            raise ValueError(f"--out {out} is {what} this command reads; write the predictions to another file")


def _summary(args: argparse.Namespace) -> int:
    model = load(args.model)
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
    if model.prep is not None and model.prep.data is not None:
        print(f"Trained on: {model.prep.data}" + (f" (label {model.prep.label})" if model.prep.label else "")
              + f", test fraction {model.prep.test_fraction:g}"
              + (f", data fingerprint {model.prep.fingerprint[:16]}…" if model.prep.fingerprint else ""))
    if model.train is not None:
        settings = {name: getattr(model.train, name) for name in TRAIN_FIELDS
                    if getattr(model.train, name) is not None}
        print("Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    figures, parts = model.figures or {}, []
    if model.history is not None and len(model.history):
        parts.append(f"final cost {model.history.cost[-1]:.6f} after {len(model.history)} epochs "
                     f"({model.history.stop_reason})")
    for key, name in (("train_accuracy", "training accuracy"), ("test_accuracy", "test accuracy")):
        if figures.get(key) is not None:
            parts.append(f"{name} {100 * figures[key]:.2f} %")
    if parts:
        print("Figures: " + "; ".join(parts))
    if model.state is not None and model.state.opt_state is not None:
        resumable = " (resumable with --resume)" if _resumable(model) else ""
        print(f"State: epoch {model.state.epoch}, {type(model.state.opt_state).__name__} after "
              f"{model.state.opt_state.t} steps{resumable}")
    return 0


# --- export ---------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    """chainrule export MODEL.npz MODEL.onnx: the network, its standardizer, classes and feature names."""
    from .onnx import export

    for what, path in (("MODEL.npz", args.model_file), ("MODEL.onnx", args.onnx_file)):
        if path == "":
            raise ValueError(f"{what} is empty; expected a path")
    source, target = Path(args.model_file), Path(args.onnx_file)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; give the ONNX file's name, such as {target / 'model.onnx'}")
    if target.resolve() == source.resolve() or (target.exists() and source.exists() and target.samefile(source)):
        raise ValueError(f"{target} is the model file this command reads; write the ONNX model to another file")
    model = load(source)
    try:
        proto = export(model.config, model.params, target, dtype=args.dtype, standardizer=model.standardizer,
                       classes=model.classes, feature_names=model.feature_names, train=model.train)
    except ImportError as exc:                                    # onnx is an extra
        raise ValueError(str(exc)) from None
    shape = {v.name: "(N, " + str(v.type.tensor_type.shape.dim[1].dim_value) + ")" for v in
             (*proto.graph.input, *proto.graph.output)}
    inputs = ", ".join(f"{v.name} {shape[v.name]}" for v in proto.graph.input)
    outputs = ", ".join(f"{v.name} {shape[v.name]}" for v in proto.graph.output)
    features = "raw features, standardised in the graph" if model.standardizer is not None else "features"
    print(f"Wrote {target}: ONNX opset {proto.opset_import[0].version}, {args.dtype}; input {inputs} ({features}, "
          f"one row per example); output {outputs}; operators {', '.join(n.op_type for n in proto.graph.node)}")
    return 0


# --- playground -----------------------------------------------------------------------------


def _playground(args: argparse.Namespace) -> int:
    """chainrule playground: the server until Ctrl-C."""
    from .playground import serve

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be a port number in 0 … 65535 (0: a free one); got {args.port}")
    try:
        serve(port=args.port, open_browser=not args.no_browser)
    except OSError as exc:
        raise ValueError(f"cannot serve on 127.0.0.1:{args.port} ({exc.strerror or exc}); choose another --port, "
                         f"or leave it out for a free one") from None
    return 0


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    stdout = sys.stdout
    sys.stdout = _Stdout(open(os.devnull, "w") if stdout is None else stdout)
    try:
        parser = _parser()
        args = _parse(argv, parser)
        comm = distributed.world()                                # mpiexec with more than one rank; else None
        if args.command == "train":
            return _train(args) if comm is None else _train_rank(args, comm, debug)
        if comm is not None:
            if comm.Get_rank() == 0:
                print(f"chainrule: error: only train runs on several ranks; run {args.command} without mpiexec",
                      file=sys.stderr)
            return 2
        run = {"sweep": _sweep, "explain": _explain, "gradcheck": _gradcheck, "check": _check, "compare": _compare,
               "study": _study, "predict": _predict, "summary": _summary, "export": _export,
               "playground": _playground}[args.command]
        return run(args)
    except BrokenPipeError:                                       # output piped into head, say
        return 0
    except (ValueError, OSError) as exc:
        if debug:
            raise
        message = str(exc)
        if isinstance(exc, OSError) and exc.strerror:
            message = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
        print(f"chainrule: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:                              # Ctrl-C, or SIGTERM (_Signalled)
        if debug:
            raise
        status = getattr(exc, "status", 130)
        how = "interrupted" if status == 130 else f"stopped by {signal.Signals(status - 128).name}"
        print(f"chainrule: {how}" + (f"; {exc}" if str(exc) else ""), file=sys.stderr)
        return status
    finally:
        sys.stdout = stdout


class _Stdout:
    """Standard output that, once its reader has gone (``chainrule train | head``), takes what
    is printed and drops it: the command goes on, and a run keeps its files."""

    def __init__(self, stream: Any):
        self.stream, self.gone = stream, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):   # the interpreter's last flush: quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _train_rank(args: argparse.Namespace, comm: Any, debug: bool) -> int:
    """train on one rank of mpiexec: a failure anywhere stops every rank with one line.

    What every rank refuses alike (a flag, the data, a divergence: ``Refused``) rank 0 says once;
    an interruption (mpiexec passes Ctrl-C to every rank) rank 0 reports as one process does; a
    rank that fails alone says why and aborts the others, which may be waiting for it; a rank
    told of another's failure is quiet."""
    try:
        return _train(args, comm)
    except distributed.RankFailed:
        return 1
    except Refused as exc:
        if comm.Get_rank() == 0:
            print(f"chainrule: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:                               # Ctrl-C, or SIGTERM (_Signalled)
        if debug:
            raise
        status = getattr(exc, "status", 130)
        if comm.Get_rank() == 0:
            how = "interrupted" if status == 130 else f"stopped by {signal.Signals(status - 128).name}"
            print(f"chainrule: {how}" + (f"; {exc}" if str(exc) else ""), file=sys.stderr, flush=True)
        if isinstance(exc, _Interrupted):                          # every rank stopped at one epoch: none waits
            return status
        time.sleep(0.5)                        # stopped at once, where others may wait for this rank: end them
        comm.Abort(status)
        return status
    except BaseException as exc:
        if debug:
            raise
        print(f"chainrule: error: rank {comm.Get_rank()} of {comm.Get_size()}: {exc}", file=sys.stderr, flush=True)
        time.sleep(0.5)                       # mpiexec forwards the line before Abort tears the job down
        comm.Abort(2)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
