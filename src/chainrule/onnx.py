"""Export a network to ONNX, for inference anywhere onnxruntime runs.

The graph takes examples as ROWS, the layout of scikit-learn, pandas and every serving
system, so it computes the transpose of chainrule's column equations:

    X_std = (X − meanᵀ) / stdᵀ                     Sub, Div      (with a standardizer)
    Z[l]ᵀ = A[l-1]ᵀ W[l]ᵀ + b[l]ᵀ                  Gemm, transB=1: W[l] is stored (n_l, n_{l-1}) as trained
    A[l]ᵀ = g[l](Z[l]ᵀ)                             Relu, LeakyRelu (Mul, Max in float64), Tanh,
                                                    σ as Max, Neg, Exp, Add, Div, Softmax(axis=1),
                                                    or nothing for identity

    input   X              (N, n_x)   raw features, one row per example; N is symbolic
    output  probabilities  (N, n_y)   A[L]ᵀ = predict_proba(params, Xᵀ, config)ᵀ   (sigmoid, softmax)
            values         (N, n_y)   A[L]ᵀ, the network's output                  (identity)
            label          (N, n_y)   int64, 1 where A[L] > 0.5                      (sigmoid)
                           (N, 1)     int64, the class k of the largest A[L]_k       (softmax)

``label`` is ``predict(params, Xᵀ, config)ᵀ``. The model's metadata hold what it came from:
the ModelConfig and TrainConfig as JSON, the class names and feature names, the dtype.

Precision: a float32 graph casts the weights to float32 once and computes in float32; a
float64 graph keeps them as they are. leaky relu's slope 0.01 is not a float32 number, and
ONNX's LeakyRelu stores its alpha as a float32 attribute, so the float64 graph builds it from
exact operations instead, max(Z, Z · 0.01) with the slope a float64 constant: chainrule's own
formula, bit for bit. σ is chainrule's formula too, 1 / (1 + e^{−max(Z, floor)}): onnxruntime's
Sigmoid returns 0 below Z ≈ −17 in float32 (−36.7 in float64), where σ is 3e-8 (1e-16).

Needs the onnx package (``pip install 'chainrule[onnx]'``, which brings onnxruntime too).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import all_finite, as_matrix, check_choice, check_names, check_number, check_params, class_count
from .activations import ACTIVATIONS, LEAKY_RELU_SLOPE, _exp_floor
from .datasets import Standardizer
from .model import ModelConfig, check_config

DTYPES = ("float32", "float64")
DEFAULT_OPSET = 17                           # onnxruntime ≥ 1.13 and most runtimes read it
MIN_OPSET = 13                               # Softmax over one axis (before 13 it flattened the rest)
INSTALL = "pip install 'chainrule[onnx]'"
OUTPUT_NAMES = {"sigmoid": "probabilities", "softmax": "probabilities", "identity": "values"}


def _import_onnx():
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
        import onnx.shape_inference
    except ImportError:
        raise ImportError(f"exporting to ONNX needs the onnx package: {INSTALL}") from None
    return onnx


def export(
    config: ModelConfig,
    params: Sequence,
    path: str | os.PathLike | None = None,
    *,
    dtype: str = "float32",
    standardizer: Standardizer | None = None,
    classes: Sequence[str] = (),
    feature_names: Sequence[str] = (),
    train: Any = None,
    label: bool = True,
    opset: int = DEFAULT_OPSET,
):
    """The network as an ONNX model (an ``onnx.ModelProto``), checked, and written to ``path`` if given.

    Parameters
    ----------
    config : ModelConfig
    params : list of (W, b)
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)), as chainrule trains them.
    path : str or PathLike, optional
        Where to write the model; the file is replaced whole or not at all.
    dtype : "float32" (default) or "float64"
        What the graph computes in, and the type of its input X and outputs.
    standardizer : datasets.Standardizer, optional
        The features' mean and std (n_x, 1) fitted on the training data: the graph then takes
        raw features and standardises them first, (X − mean) / std, as ``datasets.standardize``.
    classes : sequence of str
        () or the class names (n_y for softmax, 2 for one sigmoid unit), kept in the metadata.
    feature_names : sequence of str
        () or one name per input feature (n_x), kept in the metadata.
    train : TrainConfig, optional
        The run's options, kept in the metadata as JSON (left out if it holds functions).
    label : bool
        Also an output "label" (int64), as ``predict`` gives it; classification outputs only.
    opset : int
        The ONNX operator set, 13 or later (default 17).

    Returns
    -------
    onnx.ModelProto
        Input "X" (N, n_x); output "probabilities" (sigmoid, softmax) or "values" (identity),
        (N, n_y), and "label": see the module's docstring.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> from chainrule.onnx import export
    >>> config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    >>> model = export(config, cr.init_params(config, 0))
    >>> [node.op_type for node in model.graph.node]
    ['Gemm', 'Tanh', 'Gemm', 'Max', 'Neg', 'Exp', 'Add', 'Div', 'Greater', 'Cast']
    >>> [o.name for o in model.graph.output]
    ['probabilities', 'label']
    """
    onnx = _import_onnx()
    check_config(config)
    dtype = _check_dtype(dtype)
    opset = check_number("opset", opset, f"an integer from {MIN_OPSET} to {onnx.defs.onnx_opset_version()} (the "
                         f"installed onnx's newest)", lambda v: MIN_OPSET <= v <= onnx.defs.onnx_opset_version(),
                         integer=True)
    with np.errstate(over="ignore"):                                # a weight beyond float32: said below
        params = [(W.astype(dtype), b.astype(dtype)) for W, b in check_params(params, config.layer_dims)]
    if not all_finite(*(a for p in params for a in p)):
        raise ValueError(f"params do not fit in {dtype}: a weight overflows to infinity when cast; export float64")
    standardizer = _check_standardizer(standardizer, config.n_x, dtype)
    classes = check_names("classes", classes, class_count(config), "the number of classes")
    feature_names = check_names("feature_names", feature_names, config.n_x, "n_x, one per feature")
    if not isinstance(label, bool):
        raise ValueError(f"label must be True or False; got {label!r}")

    graph = _graph(onnx, config, params, dtype, standardizer, label and config.output != "identity")
    model = onnx.helper.make_model(graph, producer_name="chainrule", producer_version=_version(),
                                   opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   doc_string=graph.doc_string)
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    onnx.helper.set_model_props(model, _metadata(config, dtype, standardizer, classes, feature_names, train))
    if model.ByteSize() >= 2 ** 31:
        raise ValueError(f"the network's {sum(W.size + b.size for W, b in params):,} parameters take more than the "
                         f"2 GiB an ONNX file holds")
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        from ._files import write_atomically

        content = model.SerializeToString()
        write_atomically(path, lambda handle: handle.write(content))
    return model


def describe(model: Any) -> str:
    """The graph's nodes, one a line: operator, inputs → outputs, and each output's shape.

    A ``ModelProto`` (from ``export``, or ``onnx.load``); shapes come from ONNX's shape
    inference, with N the batch dimension.
    """
    onnx = _import_onnx()
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: _shape(v) for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    rows = [(f"input {v.name}", "", shapes.get(v.name, "")) for v in model.graph.input]
    for node in model.graph.node:
        attributes = ", ".join(f"{a.name}={onnx.helper.get_attribute_value(a)}" for a in node.attribute
                               if a.name != "to")
        rows.append((node.op_type + (f"({attributes})" if attributes else ""),
                     f"{', '.join(node.input)} → {', '.join(node.output)}",
                     ", ".join(shapes.get(name, "") for name in node.output)))
    widths = [max(len(row[k]) for row in rows) for k in range(2)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in rows)


# --- the graph -------------------------------------------------------------------------------


def _graph(onnx, config: ModelConfig, params: list, dtype: np.dtype, standardizer: Standardizer | None,
           label: bool):
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    nodes, initializers = [], []

    def constant(name: str, value: np.ndarray, doc: str = "") -> str:
        tensor = numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name)
        tensor.doc_string = doc
        initializers.append(tensor)
        return name

    def node(op: str, inputs: list[str], output: str, name: str, doc: str = "", **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=name, doc_string=doc, **attributes))
        return output

    A = "X"                                                         # (N, n_x)
    if standardizer is not None:
        mean = constant("mean", standardizer.mean.T, "the features' mean on the training data, (1, n_x)")
        std = constant("std", standardizer.std.T, "the features' standard deviation on the training data, (1, n_x)")
        A = node("Sub", [A, mean], "X_centred", "standardize_sub", "X − mean")
        A = node("Div", [A, std], "X_standardized", "standardize_div", "(X − mean) / std")
    output = OUTPUT_NAMES[config.output]
    for l, (W, b) in enumerate(params, start=1):
        g, last = config.activation(l), l == config.L
        Wl = constant(f"W{l}", W, f"W[{l}] (n_{l}, n_{l - 1}), as trained: Gemm's transB=1 uses its transpose")
        bl = constant(f"b{l}", b.T, f"b[{l}]ᵀ (1, n_{l})")
        Z = node("Gemm", [A, Wl, bl], output if last and g == "identity" else f"Z{l}", f"layer{l}_gemm",
                 f"Z[{l}]ᵀ = A[{l - 1}]ᵀ W[{l}]ᵀ + b[{l}]ᵀ", transB=1)
        A = _activation(g, Z, output if last else f"A{l}", l, node, constant, dtype)
    if label and config.output == "sigmoid":
        half = constant("half", np.array(0.5), "the course's threshold: label 1 where A[L] > 0.5")
        above = node("Greater", [A, half], "above_half", "label_greater", "A[L] > 0.5")
        node("Cast", [above], "label", "label_cast", "as int64, as chainrule.predict", to=onnx.TensorProto.INT64)
    elif label and config.output == "softmax":
        node("ArgMax", [A], "label", "label_argmax", "the class k of the largest A[L]_k (the first, on a tie)",
             axis=1, keepdims=1)

    n_x, n_y = config.n_x, config.n_y
    standardised = "raw features, standardised in the graph" if standardizer is not None else "features"
    inputs = [helper.make_tensor_value_info("X", elem, ["N", n_x], f"{n_x} {standardised}, one row per example")]
    what = "A[L]ᵀ, the network's output" if config.output == "identity" else \
        f"A[L]ᵀ, the {config.output} output's probabilities"
    outputs = [helper.make_tensor_value_info(output, elem, ["N", n_y], what)]
    if label and config.output != "identity":
        columns = n_y if config.output == "sigmoid" else 1
        outputs.append(helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N", columns],
                                                     "chainrule.predict's labels, transposed"))
    doc = (f"chainrule network {list(config.layer_dims)}: {config.hidden_activation} hidden layers, "
           f"{config.output} output, computed in {dtype}. Input X (N, {n_x}): {standardised}, one row per "
           f"example. Output {output} (N, {n_y}): {what}"
           + (f"; label (N, {n_y if config.output == 'sigmoid' else 1}) int64: chainrule.predict's labels"
              if len(outputs) > 1 else "") + ".")
    return helper.make_graph(nodes, "chainrule", inputs, outputs, initializers, doc_string=doc)


def _activation(g: str, Z: str, out: str, l: int, node, constant, dtype: np.dtype) -> str:
    """The nodes of A[l] = g(Z[l]) (row layout): its output's name."""
    name, doc = f"layer{l}_{g}", f"A[{l}] = {g}(Z[{l}])"
    if g == "identity":
        return Z                                                  # A is Z itself: no node
    if g == "leaky_relu" and dtype == np.float64:                 # an exact slope: max(Z, slope · Z), as chainrule
        slope = f"slope{l}"
        constant(slope, np.array(LEAKY_RELU_SLOPE), "leaky relu's slope, exact in float64 (a LeakyRelu alpha "
                                                   "is a float32 attribute)")
        scaled = node("Mul", [Z, slope], f"Z{l}_sloped", f"{name}_mul", f"{LEAKY_RELU_SLOPE} Z[{l}]")
        return node("Max", [Z, scaled], out, f"{name}_max", doc)
    if g == "sigmoid":                                            # chainrule's formula, op for op: see _OPS
        floor = constant(f"exp_floor{l}", np.array(_exp_floor(dtype)), "the Z below which e^{−Z} would overflow")
        one = constant(f"one{l}", np.array(1.0))
        A = node("Max", [Z, floor], f"Z{l}_floored", f"{name}_max", f"max(Z[{l}], {float(_exp_floor(dtype)):.6g})")
        A = node("Neg", [A], f"Z{l}_negated", f"{name}_neg", "−Z")
        A = node("Exp", [A], f"Z{l}_exp", f"{name}_exp", "e^{−Z}")
        A = node("Add", [A, one], f"Z{l}_denominator", f"{name}_add", "1 + e^{−Z}")
        return node("Div", [one, A], out, f"{name}_div", f"{doc} = 1 / (1 + e^{{−Z}})")
    op, attributes = _OPS[g]
    return node(op, [Z], out, name, doc, **attributes)


_OPS = {                                                          # activation name → (ONNX operator, attributes)
    # sigmoid is built as chainrule computes it, 1 / (1 + e^{−max(Z, floor)}): onnxruntime's Sigmoid
    # returns 0 for Z below −17 in float32 (−36.7 in float64) where σ(Z) is 3e-8 (1e-16), a relative
    # error of 100 % in the small probabilities a log-loss reads; Exp and Div are accurate to an ulp or two
    "sigmoid": (None, {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": LEAKY_RELU_SLOPE}),     # float32: the same float32(0.01) chainrule uses
    "softmax": ("Softmax", {"axis": 1}),                          # over the classes: axis 1 when examples are rows
    "identity": (None, {}),
}
assert set(_OPS) == set(ACTIVATIONS), "every activation needs its ONNX operator"


# --- metadata and checks ---------------------------------------------------------------------


def _metadata(config: ModelConfig, dtype: np.dtype, standardizer: Standardizer | None, classes: list[str],
              feature_names: list[str], train: Any) -> dict[str, str]:
    props = {
        "config": json.dumps(dataclasses.asdict(config) | {"layer_dims": list(config.layer_dims)}),
        "dtype": dtype.name,
        "standardized": json.dumps(standardizer is not None),
        "classes": json.dumps(classes, ensure_ascii=False),
        "feature_names": json.dumps(feature_names, ensure_ascii=False),
        "input": "X",
        "outputs": json.dumps([OUTPUT_NAMES[config.output], *(["label"] if config.output != "identity" else [])]),
    }
    options = _train_json(train)
    if options is not None:
        props["train"] = options
    return props


def _train_json(train: Any) -> str | None:
    """The TrainConfig as JSON; None when there is none, or when it holds functions (an optimizer or
    schedule of your own) that JSON cannot say."""
    from .training import TrainConfig

    if train is None:
        return None
    if not isinstance(train, TrainConfig):
        raise ValueError(f"train must be a chainrule.TrainConfig or None; got {type(train).__name__}")
    options = {f.name: getattr(train, f.name) for f in dataclasses.fields(train)}
    try:
        return json.dumps(options, allow_nan=False)
    except (TypeError, ValueError):                                 # a function of your own: not data
        return None


def _check_dtype(dtype: Any) -> np.dtype:
    """"float32" or "float64" (or those NumPy dtypes) as a NumPy dtype, else a ValueError."""
    try:
        name = np.dtype(dtype).name if dtype is not None else dtype
    except TypeError:
        name = dtype
    return np.dtype(check_choice("dtype", name, DTYPES))


def _check_standardizer(standardizer: Any, n_x: int, dtype: np.dtype) -> Standardizer | None:
    if standardizer is None:
        return None
    try:
        mean, std = standardizer
    except (TypeError, ValueError):
        raise ValueError("standardizer must be a datasets.Standardizer (mean, std) or None; "
                         f"got {type(standardizer).__name__}") from None
    mean, std = (as_matrix(a, f"standardizer.{name}", np.float64, columns="") for a, name in ((mean, "mean"),
                                                                                             (std, "std")))
    for a, name in ((mean, "mean"), (std, "std")):
        if a.shape != (n_x, 1):
            raise ValueError(f"standardizer.{name} must have shape (n_x, 1) = ({n_x}, 1), one row per feature; "
                             f"got {a.shape}")
    if np.any(std <= 0):
        raise ValueError(f"standardizer.std must be positive; found {std.min():g}")
    with np.errstate(over="ignore", under="ignore"):                # beyond float32: said below
        mean, std = mean.astype(dtype), std.astype(dtype)
    if not all_finite(mean, std) or np.any(std == 0):
        raise ValueError(f"the standardizer does not fit in {dtype} (a mean or std overflows or underflows); "
                         f"export float64")
    return Standardizer(mean, std)


def _shape(value_info: Any) -> str:
    dims = value_info.type.tensor_type.shape.dim
    return "(" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + ")"


def _version() -> str:
    from . import __version__

    return __version__
