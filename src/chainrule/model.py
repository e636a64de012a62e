"""An L-layer fully-connected network: configuration, initialisation, forward, cost, backward.

Notation (GUIDE §2): examples are columns; X is (n_x, m) and Y is (n_y, m).

    Z[l] = W[l] A[l-1] + b[l],   A[l] = g[l](Z[l]),   A[0] = X,   l = 1 … L
    J = (1/m) Σ_i L(A[L]⁽ⁱ⁾, Y⁽ⁱ⁾)

``params[l-1]`` holds W[l], b[l]; ``caches[l-1]`` holds what layer l computed.

Backward, in either convention (both give the same dW, db):

    deferred (the course's)           absorbed
    dZ[L] = A[L] − Y        ∂L         dZ[L] = (1/m)(A[L] − Y)   ∂J
    dW[l] = (1/m) dZ A_prevᵀ ∂J         dW[l] = dZ A_prevᵀ        ∂J
    db[l] = (1/m) Σ_i dZ⁽ⁱ⁾   ∂J         db[l] = Σ_i dZ⁽ⁱ⁾          ∂J
    dA[l-1] = W[l]ᵀ dZ[l]   ∂L         dA[l-1] = W[l]ᵀ dZ[l]     ∂J
    dZ[l] = dA[l] ⊙ g′(Z[l]) ∂L         dZ[l] = dA[l] ⊙ g′(Z[l])  ∂J

"∂L" marks a per-example derivative (column i is ∂L⁽ⁱ⁾/∂·⁽ⁱ⁾), "∂J" a derivative of the cost.

Regularisation: L2 adds λ/(2n) Σ_l ‖W[l]‖²_F to J and (λ/n) W[l] to dW[l], n the
training-set size; inverted dropout multiplies each hidden A[l] by a 0/1 mask D[l] and
1/keep_prob in forward, and dA[l] by the same in backward.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._checks import (
    as_matrix,
    as_rng,
    check_AL,
    check_convention,
    check_number,
    check_params,
    check_X,
    check_Y,
    is_stack,
)
from .activations import HIDDEN_ACTIVATIONS, Activation, get_activation
from .layers import (
    LayerGrads,
    LayerParams,
    LinearCache,
    apply_mask,
    dropout_mask,
    linear_backward,
    linear_forward,
)
from .losses import cost_from_loss, fused_delta, get_output, l2_cost
from .precision import stored_dtype
from .workspace import NO_BUFFERS, Workspace

INIT_SCHEMES = ("zeros", "random", "he", "xavier", "xavier_course")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a network: its layer sizes, hidden activation and output layer.

    Parameters
    ----------
    layer_dims : sequence of int
        [n_x, n_1, …, n_{L-1}, n_y]: at least two sizes (L ≥ 1 layers), all positive.
    hidden_activation : str
        g[l] for l < L: one of "relu", "leaky_relu", "tanh", "sigmoid", "identity".
    output : str
        The output layer g[L] with its loss: "sigmoid" (binary cross-entropy), "softmax"
        (categorical cross-entropy, n_y ≥ 2 classes) or "identity" (squared error ½‖ŷ − y‖²).
    """

    layer_dims: tuple[int, ...]
    hidden_activation: str = "relu"
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        try:
            dims = tuple(self.layer_dims)
        except TypeError:
            raise ValueError(
                f"layer_dims must be a list of layer sizes [n_x, …, n_y]; got {self.layer_dims!r}"
            ) from None
        if len(dims) < 2:
            raise ValueError(
                f"layer_dims must hold at least two sizes [n_x, n_y]; got {list(dims)}"
            )
        for n in dims:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise ValueError(f"layer_dims must be positive integers; got {list(dims)}")
        object.__setattr__(self, "layer_dims", tuple(int(n) for n in dims))
        if self.hidden_activation not in HIDDEN_ACTIVATIONS:
            try:
                get_activation(self.hidden_activation)
            except ValueError:
                raise ValueError(f"unknown activation {self.hidden_activation!r} for the hidden layers; expected "
                                 f"one of: {', '.join(HIDDEN_ACTIVATIONS)}") from None
            raise ValueError(
                f"hidden_activation {self.hidden_activation!r} is for output layers only; "
                f"expected one of: {', '.join(HIDDEN_ACTIVATIONS)}"
            )
        get_output(self.output)
        if self.output == "softmax" and self.n_y < 2:
            raise ValueError(
                "a softmax output needs n_y ≥ 2 classes (the last of layer_dims); "
                "for two classes in one unit use output='sigmoid'"
            )

    @property
    def L(self) -> int:
        """Number of layers with parameters (the input layer is not counted)."""
        return len(self.layer_dims) - 1

    @property
    def n_x(self) -> int:
        return self.layer_dims[0]

    @property
    def n_y(self) -> int:
        return self.layer_dims[-1]

    def activation(self, l: int) -> str:
        """The name of g[l], for l = 1 … L."""
        if not 1 <= l <= self.L:
            raise ValueError(f"layer l must be in 1 … {self.L}; got {l}")
        return get_output(self.output).activation if l == self.L else self.hidden_activation

    @functools.cached_property
    def g(self) -> tuple[Activation, ...]:
        """The activations g[1], …, g[L] themselves (``g[l-1]`` is g[l]), looked up once."""
        return tuple(get_activation(self.activation(l)) for l in range(1, self.L + 1))


class LayerCache(NamedTuple):
    """What layer l's forward step keeps for backward.

    A_prev (n_{l-1}, m), W (n_l, n_{l-1}), b (n_l, 1), Z = W A_prev + b and A = g(Z)
    (n_l, m), and the name of g, so that backward can refuse caches of another network.
    With dropout, D is layer l's 0/1 mask (n_l, m) and keep_prob its keep probability: the
    next layer then receives A ⊙ D / keep_prob, while A itself stays g(Z), which g′ needs.
    """

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    activation: str
    D: np.ndarray | None = None
    keep_prob: float = 1.0

    @property
    def linear(self) -> LinearCache:
        return LinearCache(self.A_prev, self.W, self.b)


class LayerTrace(NamedTuple):
    """Everything backward computed for layer l.

    dA : (n_l, m) or None
        dA[l]. None for the output layer under the fused delta, which never forms dA[L].
    dZ : (n_l, m)
        dZ[l].
    dW, db : the shapes of W[l], b[l]
        ∂J/∂W[l] and ∂J/∂b[l] in both conventions.
    dA_prev : (n_{l-1}, m)
        dA[l-1] = W[l]ᵀ dZ[l]; for l = 1 this is ∂/∂X.

    Under "deferred", dA, dZ and dA_prev are per-example derivatives of L (column i belongs
    to example i, nothing divided by m); under "absorbed" they are derivatives of J. With
    dropout, dA[l] is the derivative by layer l's output as the next layer saw it (after
    the mask), and dZ[l] = (dA[l] ⊙ D[l] / keep_prob) ⊙ g′(Z[l]). With L2, dW includes
    (λ/n) W[l]; dZ and dA do not change, since the penalty does not depend on them.
    """

    dA: np.ndarray | None
    dZ: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    dA_prev: np.ndarray


def check_config(config: Any) -> ModelConfig:
    """``config`` if it is a ModelConfig, else a ``ValueError`` that says how to make one."""
    if not isinstance(config, ModelConfig):
        raise ValueError(
            "config must be a chainrule.ModelConfig, e.g. ModelConfig([2, 4, 1]); "
            f"got {type(config).__name__}"
        )
    return config


def init_params(
    config: ModelConfig,
    rng: Any,
    scheme: str = "he",
    scale: float = 0.01,
    dtype: Any = np.float64,
) -> list[LayerParams]:
    """Initial parameters: W[l] from a standard normal times a scheme's factor, b[l] = 0.

    Schemes: "zeros" (every W zero: the symmetric start that cannot learn, for teaching),
    "random" (× ``scale``), "he" (× √(2/n_{l-1}), for relu), "xavier" (× √(1/n_{l-1}),
    for tanh), "xavier_course" (÷ √n_{l-1}: the same weights, rounded as the course's
    ``initialize_parameters_deep`` of its L-layer application, ``dnn_app_utils_v3``, rounds
    them; × √(1/n) and ÷ √n differ in the last bit of many weights). W1, W2, … are drawn in
    that order, each as ``standard_normal((n_l, n_{l-1}))``, and biases draw nothing, so
    ``numpy.random.RandomState(seed)`` reproduces the course's ``np.random.seed(seed)``
    initialisation bit for bit. (An int seed makes a ``numpy.random.default_rng(seed)``, a
    different stream from the course's.)

    Parameters
    ----------
    config : ModelConfig
    rng : numpy.random.Generator, numpy.random.RandomState or int seed
    scheme : "zeros", "random", "he", "xavier" or "xavier_course"
    scale : float
        Factor of the "random" scheme.
    dtype : float64 (default) or float32

    Returns
    -------
    list of LayerParams
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)).
    """
    check_config(config)
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(INIT_SCHEMES)}; got {scheme!r}")
    check_number("scale", scale, "a finite number", lambda v: True)
    dtype = stored_dtype(dtype)
    rng = as_rng(rng)
    scaled = {                                                     # W[l] from the draws N and n_{l-1}
        "random": lambda N, n_prev: N * scale,
        "he": lambda N, n_prev: N * np.sqrt(2.0 / n_prev),
        "xavier": lambda N, n_prev: N * np.sqrt(1.0 / n_prev),
        "xavier_course": lambda N, n_prev: N / np.sqrt(n_prev),    # divided, as the course: bit for bit
    }.get(scheme)
    params = []
    for l in range(1, config.L + 1):
        n_l, n_prev = config.layer_dims[l], config.layer_dims[l - 1]
        if scheme == "zeros":
            W = np.zeros((n_l, n_prev))                            # draws nothing
        else:
            with np.errstate(over="ignore"):                      # a scale too large is said below
                W = scaled(rng.standard_normal((n_l, n_prev)), n_prev).astype(dtype)
            if not np.all(np.isfinite(W)):
                raise ValueError(f"scale {scale:g} makes W[{l}] overflow {np.dtype(dtype).name}; scale is the "
                                 f"standard deviation of each weight (the course uses 0.01)")
        params.append(LayerParams(W.astype(dtype), np.zeros((n_l, 1), dtype=dtype)))
    return params


# --- forward ------------------------------------------------------------------------------


def _forward(params: Sequence[LayerParams], X: np.ndarray, config: ModelConfig, keep_prob: float = 1.0,
             rng: Any = None, masks: Sequence[np.ndarray] | None = None, workspace: Workspace | None = None):
    """forward without input checks: X (n_x, m) of the working dtype, params matching config.

    With a ``workspace`` every Z, A and mask is written into its buffers (see ``workspace``).
    A stack's dropout (``rng`` a list: each network's generator) may keep units with a
    probability of each network, ``keep_prob`` (K, 1, 1) float64; a network whose keep_prob
    is 1 draws nothing (its generator may be None) and keeps every unit.
    """
    caches = []
    A, dtype, L = X, X.dtype, len(params)
    layers = workspace.layers if workspace is not None else (NO_BUFFERS,) * L
    dropout = isinstance(keep_prob, np.ndarray) or keep_prob < 1
    for l, ((W, b), g, buffers) in enumerate(zip(params, config.g, layers), start=1):
        A_prev = A
        if W.dtype != dtype or b.dtype != dtype:                   # the compute dtype (precision)
            W, b = W.astype(dtype), b.astype(dtype)
        Z = linear_forward(A_prev, W, b, out=buffers.Z)            # (n_l, m)
        A = g.forward(Z, out=buffers.A)                            # (n_l, m)
        D = None
        if dropout and l < L:                                      # hidden layers only
            if masks is not None:
                D = masks[l - 1]
            elif isinstance(rng, list):                            # a stack: each network's own stream
                D = _stack_masks(A.shape, keep_prob, rng, dtype, buffers.D, buffers.U)
            else:
                D = dropout_mask(A.shape, keep_prob, rng, dtype, out=buffers.D, draws=buffers.U)
        caches.append(LayerCache(A_prev, W, b, Z, A, g.name, D, keep_prob))
        if D is not None:
            A = apply_mask(A, D, keep_prob, out=buffers.A_kept)     # what layer l+1 reads
    return A, caches


def _stack_masks(shape, keep_prob, rng, dtype, out=None, draws=None):
    """The dropout masks D (K, n_l, m) of a stack, network k's from rng[k] as it draws alone:
    with keep_prob[k] (a number, or (K, 1, 1)), or all ones where that is 1. ``out``, ``draws``:
    buffers (K, n_l, m) for D and the uniform draws."""
    D = np.empty(shape, dtype) if out is None else out
    for k, r in enumerate(rng):
        p = keep_prob if np.ndim(keep_prob) == 0 else float(keep_prob[k, 0, 0])
        if p < 1:
            dropout_mask(shape[1:], p, r, dtype, out=D[k], draws=None if draws is None else draws[k])
        else:
            D[k] = 1
    return D


def _check_dropout(keep_prob, rng, masks, config, m):
    """Checked (keep_prob, rng, masks) for forward."""
    keep_prob = check_number("keep_prob", keep_prob, "in (0, 1]", lambda v: 0 < v <= 1)
    if keep_prob == 1:
        if masks is not None:
            raise ValueError("masks are for dropout: give keep_prob < 1 with them")
        return keep_prob, None, None
    if masks is None:
        if rng is None:
            raise ValueError("dropout (keep_prob < 1) draws its masks from rng: pass rng (or masks)")
        return keep_prob, as_rng(rng), None
    if len(masks) != config.L - 1:
        raise ValueError(f"masks must hold one 0/1 array per hidden layer, {config.L - 1}; got {len(masks)}")
    checked = []
    for l, D in enumerate(masks, start=1):
        D = as_matrix(D, f"masks[{l - 1}]")
        if D.shape != (config.layer_dims[l], m) or not np.all((D == 0) | (D == 1)):
            raise ValueError(
                f"masks[{l - 1}] must be a 0/1 array of shape (n_{l}, m) = {(config.layer_dims[l], m)}; "
                f"got shape {D.shape}"
            )
        checked.append(D)
    return keep_prob, None, checked


def forward(
    params: Sequence[LayerParams],
    X: Any,
    config: ModelConfig,
    *,
    keep_prob: float = 1.0,
    rng: Any = None,
    masks: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, list[LayerCache]]:
    """Forward propagation through all L layers.

    Parameters
    ----------
    params : list of (W, b)
        params[l-1] = (W[l]: (n_l, n_{l-1}), b[l]: (n_l, 1)). A stack of K networks of this
        shape has leading axes: W[l] (K, n_l, n_{l-1}), b[l] (K, n_l, 1); every array below
        then has them too, and each network gets bit for bit what it gets alone.
    X : (n_x, m)
        One column per example. The computation runs in X's dtype when it is float32 (or
        long double), float64 otherwise; params are cast to it. For a stack, X is shared by
        its networks, or one per network, (K, n_x, m).
    config : ModelConfig
    keep_prob : float in (0, 1]
        Inverted dropout on every hidden layer when below 1 (training only; never when
        predicting). The output layer is never dropped.
    rng : numpy.random.Generator or RandomState, or int seed
        Where dropout draws its masks, ``rng.random((n_l, m)) < keep_prob`` layer by layer.
    masks : list of (n_l, m) 0/1 arrays, optional
        The masks to use instead of drawing them, one per hidden layer (to hold them fixed,
        as a gradient check must).

    Returns
    -------
    AL : (n_y, m)
        A[L], the network's output (probabilities for sigmoid and softmax outputs).
    caches : list of LayerCache
        caches[l-1] = (A[l-1], W[l], b[l], Z[l], A[l], g[l], D[l], keep_prob) for backward.
    """
    check_config(config)
    stack = is_stack(params)
    params = check_params(params, config.layer_dims, stack=stack)
    X = check_X(X, config.n_x, stack=stack)
    if stack:
        _check_stack_shape("X", X, params)
    keep_prob, rng, masks = _check_dropout(keep_prob, rng, masks, config, X.shape[-1])
    return _forward(params, X, config, keep_prob, rng, masks)


def _check_stack_shape(name: str, array: np.ndarray, params: list) -> None:
    """A stack's data is one (…, n, m) matrix for all its networks, or one per network."""
    stack = params[0][0].shape[:-2]
    if array.ndim > 2 and array.shape[:-2] != stack:
        raise ValueError(f"{name} must be one ({array.shape[-2]}, m) matrix for every network of the stack, or one "
                         f"per network, of shape {(*stack, *array.shape[-2:])}; got {array.shape}")


# --- cost ---------------------------------------------------------------------------------


def _check_l2(lambd: Any, n: Any, m: int) -> tuple[float, int]:
    """Checked (λ, n): λ ≥ 0, and n the training-set size (default m, the batch's)."""
    lambd = check_number("lambd", lambd, "a non-negative number", lambda v: v >= 0)
    if n is None:
        return lambd, m
    return lambd, check_number("n (the training-set size for L2)", n, "a positive integer",
                               lambda v: v >= 1, integer=True)


def _check_m_l2(m: Any, lambd: Any, n: Any, batch: int) -> tuple[int, float, int]:
    """Checked (m, λ, n): m the m of J (default: the batch's), n the training-set size (default: m)."""
    if m is not None:
        m = check_number("m (the number of examples J averages over)", m, "a positive integer",
                         lambda v: v >= 1, integer=True)
    m = batch if m is None else m
    return (m, *_check_l2(lambd, n, m))


def compute_cost(
    AL: Any,
    Y: Any,
    config: ModelConfig,
    *,
    ZL: Any = None,
    params: Sequence[LayerParams] | None = None,
    lambd: float = 0.0,
    n: int | None = None,
    m: int | None = None,
) -> float:
    """The cost J = (1/m) Σ_i L(A[L]⁽ⁱ⁾, Y⁽ⁱ⁾)  [+ λ/(2n) Σ_l ‖W[l]‖²_F].

    Parameters
    ----------
    AL : (n_y, m)
        The output of ``forward``.
    Y : (n_y, m)
        Labels (0/1 for sigmoid, one-hot for softmax, real values for identity).
    config : ModelConfig
    ZL : (n_y, m), optional
        Z[L] (``caches[-1].Z``). When given, the loss is computed from Z[L] in a form that
        stays exact where the output saturates: a sigmoid at exactly 1.0 has lost what only
        Z[L] still knows. Without it, log 0 is floored at the log of the smallest normal
        number of AL's dtype (≈ −708 in float64, ≈ −87 in float32).
    params : list of (W, b), needed when lambd > 0
    lambd : float
        The L2 strength λ (≥ 0). Biases are not penalised.
    n : int, optional
        The training-set size the penalty is divided by, so that J is one function whatever
        the batch size (default m: full batch, the course's λ/(2m)).
    m : int, optional
        The m of J (default: AL's number of columns). A shard of a larger batch gives the
        global m and gets its share of J.

    Returns
    -------
    float
        J, summed in ``precision.accumulate_dtype`` (float64 at least) whatever the dtype of AL;
        for a stack (AL (K, n_y, m)), an array (K,) of the J of each network.
    """
    check_config(config)
    stack = np.ndim(AL) > 2
    AL = check_AL(AL, config.output, config.n_y, stack=stack)
    Y = check_Y(Y, config.output, config.n_y, AL.shape[-1], AL.dtype, like="AL", stack=stack)
    m, lambd, n = _check_m_l2(m, lambd, n, AL.shape[-1])
    output = get_output(config.output)
    if ZL is None:
        J = cost_from_loss(output.loss(AL, Y), m)
    else:
        ZL = as_matrix(ZL, "ZL", AL.dtype, stack=stack)
        if ZL.shape != AL.shape:
            raise ValueError(f"ZL must have the shape of AL, {AL.shape}; got {ZL.shape}")
        J = cost_from_loss(output.loss_from_Z(ZL, Y), m)
    if lambd > 0:
        if params is None:
            raise ValueError("the L2 term needs the weights: pass params with lambd > 0")
        params = check_params(params, config.layer_dims, stack=stack)
        J = J + l2_cost([W for W, _ in params], lambd, n)
    return np.asarray(J, dtype=np.float64) if stack else float(J)


# --- backward -----------------------------------------------------------------------------


def _absorbed(delta: np.ndarray, m: int) -> np.ndarray:
    """delta ← (1/m) delta, in place: the 1/m of J moved into the output delta ("absorbed")."""
    delta *= 1.0 / m                                               # the 1/m of J, applied once (absorbed)
    return delta


def _output_delta(AL, Y, last: LayerCache, config: ModelConfig, convention: str, fused: bool, m: int,
                  out: np.ndarray | None = None):
    """(dA[L] or None, dZ[L]) under ``convention``; see ``backward_trace``."""
    absorbed = convention == "absorbed"
    if fused:
        dZ = fused_delta(AL, Y, out=out)                           # ∂L/∂Z[L] per example
        return None, _absorbed(dZ, m) if absorbed else dZ          # … or ∂J/∂Z[L]
    with np.errstate(divide="ignore", invalid="ignore"):
        dA = get_output(config.output).dAL(AL, Y)                  # ∂L/∂A[L] per example
    if not np.all(np.isfinite(dA)):
        raise ValueError(
            "the unfused chain dA[L] = ∂L/∂A[L] is not finite because A[L] saturated "
            "at 0 or 1; use the fused delta dZ[L] = A[L] − Y (fused=True)"
        )
    if absorbed:
        dA = _absorbed(dA, m)                                      # ∂J/∂A[L]
    return dA, config.g[-1].backward(dA, last.Z, last.A, out=out)


def _backward_trace(AL, Y, caches, config, convention, fused=True, need_dX=True, lambd=0.0, n=None,
                    m=None, workspace: Workspace | None = None, keep: bool = True) -> list[LayerTrace]:
    """backward_trace without input checks; need_dX=False skips dA[0] = ∂/∂X.

    m (default: the batch's) is the m of J; n (default: m) the training-set size of L2.
    With a ``workspace`` every dA, dZ, dW and db is written into its buffers, and with
    ``keep`` False nothing is returned but the workspace's gradients (the training step's case).
    """
    L = len(caches)
    m = AL.shape[-1] if m is None else m
    n = m if n is None else n
    layers = workspace.layers if workspace is not None else (NO_BUFFERS,) * L
    dA, dZ = _output_delta(AL, Y, caches[-1], config, convention, fused, m, out=layers[-1].dZ)
    penalised = np.ndim(lambd) or lambd > 0                        # λ, or a stack's λ of each network (K, 1, 1)
    if penalised:                                                  # λ/n as the products see it (a stack's: rounded
        l2 = lambd / n                                             # to AL's dtype, as NumPy rounds a number)
        l2 = l2.astype(AL.dtype) if isinstance(l2, np.ndarray) else l2
    trace = [None] * L
    for l in range(L, 0, -1):
        cache, buffers = caches[l - 1], layers[l - 1]
        below = layers[l - 2] if l > 1 else NO_BUFFERS
        dA_prev, dW, db = linear_backward(dZ, cache, convention, l > 1 or need_dX, m=m,
                                          out=(below.dA, buffers.dW, buffers.db, buffers.dZ_mean))
        if penalised:
            dW += l2 * cache.W                                     # ∂/∂W of λ/(2n) ‖W[l]‖²
        trace[l - 1] = LayerTrace(dA, dZ, dW, db, dA_prev) if keep else None
        if l > 1:
            prev = caches[l - 2]
            dA = dA_prev                                           # dA[l-1]
            if prev.D is not None:
                dA_prev = apply_mask(dA, prev.D, prev.keep_prob, out=below.dA_kept)
            dZ = config.g[l - 2].backward(dA_prev, prev.Z, prev.A, out=below.dZ)
    return trace if keep else workspace.grads


def _check_backward_inputs(AL, Y, caches, config, convention):
    """Checked (AL, Y): AL must be the A[L] of these caches, and the caches of this config."""
    check_config(config)
    check_convention(convention)
    stack = np.ndim(AL) > 2
    AL = check_AL(AL, config.output, config.n_y, stack=stack)
    Y = check_Y(Y, config.output, config.n_y, AL.shape[-1], AL.dtype, like="AL", stack=stack)
    if not isinstance(caches, (list, tuple)) or len(caches) != config.L:
        got = len(caches) if isinstance(caches, (list, tuple)) else type(caches).__name__
        raise ValueError(f"caches must be the list of {config.L} layer caches from forward; got {got}")
    for l, cache in enumerate(caches, start=1):
        if not isinstance(cache, LayerCache):
            raise ValueError(f"caches[{l - 1}] must be a LayerCache from forward; got {type(cache).__name__}")
        expected = (*AL.shape[:-2], config.layer_dims[l], AL.shape[-1])
        if cache.Z.shape != expected or cache.W.shape[-2:] != (config.layer_dims[l], config.layer_dims[l - 1]):
            raise ValueError(
                f"caches[{l - 1}] does not belong to this network and batch: Z[{l}] has shape "
                f"{cache.Z.shape}, expected {expected}"
            )
        if cache.activation != config.activation(l):
            raise ValueError(
                f"caches[{l - 1}] comes from a forward with g[{l}] = {cache.activation}, but the "
                f"config says {config.activation(l)}"
            )
    if not (AL is caches[-1].A or np.array_equal(AL, caches[-1].A)):
        raise ValueError("AL must be the A[L] that forward returned with these caches; it differs")
    return caches[-1].A, Y


def backward_trace(
    AL: Any,
    Y: Any,
    caches: list[LayerCache],
    config: ModelConfig,
    convention: str = "deferred",
    fused: bool = True,
    *,
    lambd: float = 0.0,
    n: int | None = None,
    m: int | None = None,
) -> list[LayerTrace]:
    """Backward propagation, keeping every dA[l] and dZ[l] for inspection.

    Parameters
    ----------
    AL : (n_y, m)
        A[L] from ``forward``.
    Y : (n_y, m)
        Labels.
    caches : list of LayerCache
        From ``forward``.
    config : ModelConfig
    convention : "deferred" or "absorbed"
        Where the 1/m of J = (1/m) Σ L⁽ⁱ⁾ enters: in dW, db ("deferred", the course's), or
        in dZ[L] ("absorbed"). dW and db come out the same.
    fused : bool
        True: dZ[L] = A[L] − Y directly (stable). False: the unfused chain, dA[L] = ∂L/∂A[L]
        from the loss, then dZ[L] = dA[L] ⊙ g′[L] (a Jacobian product for softmax); the same
        numbers where the output does not saturate.
    lambd, n : float, int
        L2 strength and training-set size (default m): dW[l] gains (λ/n) W[l].
    m : int, optional
        The m of J = (1/m) Σ_i L⁽ⁱ⁾ (default: the batch's). A shard of a larger batch gives
        the global m, and its dW, db are its share of the global ∂J/∂W, ∂J/∂b.

    Returns
    -------
    list of LayerTrace
        trace[l-1] = (dA[l], dZ[l], dW[l], db[l], dA[l-1]) for layer l.
    """
    AL, Y = _check_backward_inputs(AL, Y, caches, config, convention)
    m, lambd, n = _check_m_l2(m, lambd, n, AL.shape[-1])
    return _backward_trace(AL, Y, caches, config, convention, fused, lambd=lambd, n=n, m=m)


def backward(
    AL: Any,
    Y: Any,
    caches: list[LayerCache],
    config: ModelConfig,
    convention: str = "deferred",
    *,
    lambd: float = 0.0,
    n: int | None = None,
    m: int | None = None,
) -> list[LayerGrads]:
    """Backward propagation: the gradients of J for every layer.

    Parameters
    ----------
    AL : (n_y, m)
        A[L], as ``forward`` returned it with ``caches``.
    Y : (n_y, m)
        Labels.
    caches : list of LayerCache
        From ``forward``.
    config : ModelConfig
    convention : "deferred" or "absorbed"
        Where the 1/m of J enters: in dW and db (the course's), or in dZ[L]. The gradients
        are the same; ``backward_trace`` shows the dA and dZ that differ.
    lambd : float
        L2 strength λ: dW[l] gains (λ/n) W[l], the derivative of λ/(2n) ‖W[l]‖²_F.
    n : int, optional
        The training-set size (default m, the batch's). Dropout needs nothing here: the
        masks travel in the caches.
    m : int, optional
        The m of J (default: the batch's); see ``backward_trace``.

    Returns
    -------
    list of LayerGrads
        Shaped like params: grads[l-1] = (dW[l] = ∂J/∂W[l]: (n_l, n_{l-1}),
        db[l] = ∂J/∂b[l]: (n_l, 1)).
    """
    AL, Y = _check_backward_inputs(AL, Y, caches, config, convention)
    m, lambd, n = _check_m_l2(m, lambd, n, AL.shape[-1])
    trace = _backward_trace(AL, Y, caches, config, convention, need_dX=False, lambd=lambd, n=n, m=m)
    return [LayerGrads(t.dW, t.db) for t in trace]


class Step(NamedTuple):
    """One forward and backward pass over a batch of m examples.

    ZL, AL : (n_y, m)
        Z[L] and A[L].
    grads : list of LayerGrads
        grads[l-1] = (∂J/∂W[l], ∂J/∂b[l]) of the batch's cost (with L2: plus (λ/n) W[l]).
    """

    ZL: np.ndarray
    AL: np.ndarray
    grads: list


def gradients(params: Sequence[LayerParams], X: np.ndarray, Y: np.ndarray, config: ModelConfig,
              convention: str = "deferred", *, keep_prob: float = 1.0, rng: Any = None, lambd: float = 0.0,
              n: int | None = None, m: int | None = None, workspace: Workspace | None = None) -> Step:
    """``forward`` then ``backward`` for a batch, without checking the inputs: the training step.

    For callers that checked X (n_x, m), Y (n_y, m), params and the options once (the
    training loop does, before its first epoch). With a ``workspace`` (of this batch size)
    every array is written into its buffers, and the gradients returned are views of them,
    valid until the next call.
    """
    AL, caches = _forward(params, X, config, keep_prob, rng, workspace=workspace)
    if workspace is not None:
        return Step(caches[-1].Z, AL, _backward_trace(AL, Y, caches, config, convention, True, False, lambd, n, m,
                                                      workspace, keep=False))
    trace = _backward_trace(AL, Y, caches, config, convention, True, False, lambd, n, m)
    return Step(caches[-1].Z, AL, [LayerGrads(t.dW, t.db) for t in trace])


def backward_per_example(
    params: Sequence[LayerParams], X: Any, Y: Any, config: ModelConfig
) -> list[LayerGrads]:
    """The gradients of J computed one example at a time: the slow, obviously right reference.

    For each example i alone (a single column x, y), forward and the chain rule give the
    gradient of its own loss L⁽ⁱ⁾:

        dz[L] = a[L] − y,   dw[l] = dz[l] a[l-1]ᵀ,   db[l] = dz[l],
        da[l-1] = W[l]ᵀ dz[l],   dz[l-1] = da[l-1] ⊙ g′(z[l-1])

    and since J = (1/m) Σ_i L⁽ⁱ⁾, ∂J/∂W[l] is the mean of the m per-example dw[l]. No 1/m
    appears anywhere but in that mean: this is what the vectorised (1/m) dZ A_prevᵀ computes.
    It shares only the activations g and g′ with ``forward`` and ``backward``; no matrix over
    the m axis is ever formed.

    Parameters
    ----------
    params : list of (W, b)
    X : (n_x, m)
    Y : (n_y, m)
    config : ModelConfig

    Returns
    -------
    list of LayerGrads
        Shaped like params, as ``backward`` returns them.
    """
    check_config(config)
    X = check_X(X, config.n_x)
    m = X.shape[1]
    Y = check_Y(Y, config.output, config.n_y, m, X.dtype)
    params = [LayerParams(*p) for p in check_params(params, config.layer_dims, X.dtype)]
    total = [LayerGrads(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    for i in range(m):
        x, y = X[:, i:i + 1], Y[:, i:i + 1]                        # (n_x, 1), (n_y, 1)
        a, zs, activations = x, [], [x]
        for l, (W, b) in enumerate(params, start=1):
            z = W @ a + b                                          # (n_l, 1)
            a = get_activation(config.activation(l)).forward(z)
            zs.append(z)
            activations.append(a)
        dz = activations[-1] - y                                   # ∂L⁽ⁱ⁾/∂z[L]
        for l in range(config.L, 0, -1):
            total[l - 1].dW[...] += dz @ activations[l - 1].T      # dw[l] = dz a[l-1]ᵀ
            total[l - 1].db[...] += dz                             # db[l] = dz
            if l > 1:
                da = params[l - 1].W.T @ dz                        # da[l-1]
                g = get_activation(config.activation(l - 1))
                dz = g.backward(da, zs[l - 2], activations[l - 1])
    return [LayerGrads(g.dW / m, g.db / m) for g in total]         # the mean over examples


# --- prediction ---------------------------------------------------------------------------


def predict_proba(params: Sequence[LayerParams], X: Any, config: ModelConfig) -> np.ndarray:
    """The output probabilities A[L] (n_y, m), with no dropout.

    sigmoid: P(y_k = 1 | x) for each of the n_y outputs; softmax: P(class k | x) in row k.
    An identity output gives values, not probabilities: use ``predict``.
    """
    check_config(config)
    if config.output == "identity":
        raise ValueError("an identity output gives values, not probabilities: use predict")
    AL, _ = forward(params, X, config)
    return AL


def predict(params: Sequence[LayerParams], X: Any, config: ModelConfig) -> np.ndarray:
    """Predictions for X (n_x, m), with no dropout.

    Returns
    -------
    sigmoid : (n_y, m) int, 1 where A[L] > 0.5 (the course's rule), else 0.
    softmax : (1, m) int, the class k with the largest A[L]_k.
    identity : (n_y, m) float, A[L] itself.
    """
    check_config(config)
    AL, _ = forward(params, X, config)
    return _labels_of(AL, config.output)


def _labels_of(AL: np.ndarray, output: str) -> np.ndarray:
    if output == "sigmoid":
        return (AL > 0.5).astype(np.int64)
    if output == "softmax":
        return np.argmax(AL, axis=-2)[np.newaxis, :]
    return AL


def count_correct(AL: np.ndarray, Y: np.ndarray, output: str) -> tuple[int, int]:
    """(correct, total): correct predictions of A[L] (n_y, m) against Y, without input checks
    (for a stack's A[L] (K, n_y, m), the K counts and the total of one network).

    sigmoid: each of the n_y · m labels, predicted 1 where A[L] > 0.5 (the course's rule) and
    compared with Y > 0.5; softmax: each of the m examples, the arg-max of A[L] against the
    arg-max of Y.
    """
    if AL.ndim > 2:                                            # a stack: (correct, total) of each network
        if output == "sigmoid":
            return np.count_nonzero((AL > 0.5) == (Y > 0.5), axis=(-2, -1)), AL.shape[-2] * AL.shape[-1]
        return np.count_nonzero(AL.argmax(axis=-2) == Y.argmax(axis=-2), axis=-1), AL.shape[-1]
    if output == "sigmoid":
        return np.count_nonzero((AL > 0.5) == (Y > 0.5)), AL.size
    return np.count_nonzero(AL.argmax(axis=-2) == Y.argmax(axis=-2)), AL.shape[-1]


def evaluate(params: Sequence[LayerParams], X: np.ndarray, Y: np.ndarray, config: ModelConfig) -> tuple[float, float]:
    """(J, accuracy) of params on (X, Y) without dropout and without checking the inputs.

    J is the data cost (no L2), from Z[L]; accuracy is NaN for an identity output. For
    callers that checked X (n_x, m) and Y (n_y, m) once (training's validation figures). For a
    stack's params, two arrays: the J and the accuracy of each network.
    """
    AL, caches = _forward(params, X, config)
    J = cost_from_loss(get_output(config.output).loss_from_Z(caches[-1].Z, Y))
    J = np.asarray(J, dtype=np.float64) if AL.ndim > 2 else float(J)   # a stack: the J of each network
    if config.output == "identity":
        return J, J * np.nan if AL.ndim > 2 else float("nan")
    correct, total = count_correct(AL, Y, config.output)
    return J, correct / total


def compute_data_cost(params: Sequence[LayerParams], X: Any, Y: Any, config: ModelConfig) -> float:
    """J = (1/m) Σ_i L⁽ⁱ⁾ of params on (X, Y), from Z[L] (no L2, no dropout): a figure to report."""
    AL, caches = forward(params, X, config)
    return compute_cost(AL, Y, config, ZL=caches[-1].Z)


def accuracy(params: Sequence[LayerParams], X: Any, Y: Any, config: ModelConfig) -> float:
    """The fraction of examples classified correctly (of labels, for a multi-label sigmoid).

    sigmoid: prediction A[L] > 0.5 against Y (0/1); softmax: arg-max of A[L] against the
    arg-max of the one-hot Y. An identity output has no classes: compare costs instead.
    """
    check_config(config)
    if config.output == "identity":
        raise ValueError("accuracy is for classification outputs; an identity output is "
                         "measured by its cost (squared error)")
    AL, _ = forward(params, X, config)
    Y = check_Y(Y, config.output, config.n_y, AL.shape[1], AL.dtype)
    correct, total = count_correct(AL, Y, config.output)
    return correct / total
