"""chainrule.study.precision: the reference is exact, chainrule's conventions agree as they must,
and the study finds what float16's range predicts.

Every expected value is derived here: from exact rational arithmetic (fractions), from the
float16 format's published limits (largest 65504, smallest subnormal 2⁻²⁴), or from the
exact per-example gradients chainrule's float64 backward gives.
"""

import json
from fractions import Fraction

import numpy as np
import pytest

import chainrule as cr
import chainrule.cli as cli
from chainrule.study import precision
from chainrule.study.emulate import Backward, emulated_backward, reference_backward, stored_forward
from chainrule.study.formats import round_to
from chainrule.study.precision_study import _relative_error
from chainrule.testing import random_problem

F16_MAX, F16_SMALLEST = 65504.0, 2.0 ** -24           # IEEE 754 binary16
HALF_SMALLEST = F16_SMALLEST / 2                        # |x| ≤ this rounds to 0 (a tie goes to the even 0)


# --- the reference ----------------------------------------------------------------------------------


def _exact_backward(stored, Y, config):
    """The backward of a stored pass in Fractions: dZ[L] = A − Y, dW = (1/m) dZ A_prevᵀ, db = (1/m) Σ dZ,
    dA = Wᵀ dZ, dZ = dA g′ with g′ from the stored values (tanh: 1 − A², sigmoid: A(1 − A), relu: Z > 0)."""
    def F(a):
        return [[Fraction(float(v)) for v in row] for row in np.asarray(a, np.float64)]
    m = Y.shape[1]
    dZ = [[a - y for a, y in zip(ra, ry)] for ra, ry in zip(F(stored.A[-1]), F(Y))]
    grads = []
    for l in range(config.L, 0, -1):
        A_prev = F(stored.A[l - 1])
        dW = [[sum(dz[i] * ap[i] for i in range(m)) / m for ap in A_prev] for dz in dZ]
        db = [[sum(dz) / m] for dz in dZ]
        grads.append((dW, db))
        if l > 1:
            W = F(stored.params[l - 1].W)
            dA = [[sum(W[k][j] * dZ[k][i] for k in range(len(W))) for i in range(m)] for j in range(len(W[0]))]
            A, Z, g = F(stored.A[l - 1]), F(stored.Z[l - 2]), config.activation(l - 1)
            derivative = {"tanh": lambda a, z: 1 - a * a, "sigmoid": lambda a, z: a * (1 - a),
                          "relu": lambda a, z: Fraction(int(z > 0))}[g]
            dZ = [[da * derivative(a, z) for da, a, z in zip(rd, ra, rz)] for rd, ra, rz in zip(dA, A, Z)]
    return grads[::-1]


@pytest.mark.parametrize("fmt", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_the_reference_is_the_exact_backward_of_the_stored_pass(fmt, activation):
    """Long double against exact rationals on the same stored values: the reference's own error is below
    1e-17 relative, far under float64's unit roundoff 1.1e-16, let alone the formats studied."""
    config = cr.ModelConfig([3, 4, 2, 1], activation, "sigmoid")
    params, X, Y = random_problem(config, 5, np.random.default_rng(7))
    stored = stored_forward(params, X, config, fmt)
    got = reference_backward(stored, Y, config)
    for (dW, db), g in zip(_exact_backward(stored, Y, config), got.grads):
        for exact, value in ((dW, g.dW), (db, g.db)):
            for row_e, row_v in zip(exact, value):
                for e, v in zip(row_e, row_v):
                    bound = Fraction(1, 10 ** 17) * max(abs(e), Fraction(1, 10 ** 30))
                    assert abs(Fraction(*v.as_integer_ratio()) - e) <= bound


def test_a_stored_pass_holds_values_of_its_format_only():
    config = cr.ModelConfig([3, 4, 1], "tanh", "sigmoid")
    params, X, _ = random_problem(config, 20, np.random.default_rng(1))
    for fmt in ("float16", "bfloat16"):
        stored = stored_forward(params, X, config, fmt)
        for array in [*stored.A, *stored.Z, *(a for layer in stored.params for a in layer)]:
            assert np.array_equal(round_to(array, fmt), array)


# --- chainrule's own conventions ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation, output", [("relu", "sigmoid"), ("tanh", "softmax"), ("sigmoid", "identity")])
def test_the_two_conventions_are_bitwise_equal_at_powers_of_two_and_a_few_ulps_apart_otherwise(dtype, activation,
                                                                                                  output):
    """At m = 2ᵏ dividing by m is exact and commutes with every rounding, so absorbed and deferred
    give the same bits. Otherwise they differ by one rounding of dZ[L]/m carried linearly through
    L = 3 layers and the last rounding of each dW, db: about (L + 2) u per entry; 16 u in norm."""
    config = cr.ModelConfig([5, 7, 6, 3], activation, output)
    u = np.finfo(dtype).eps / 2
    for m in (1, 2, 8, 64, 1024, 3, 10, 1000):
        params, X, Y = random_problem(config, m, np.random.default_rng(m))
        P = [cr.LayerParams(W.astype(dtype), b.astype(dtype)) for W, b in params]
        AL, caches = cr.forward(P, X.astype(dtype), config)
        a = cr.backward(AL, Y.astype(dtype), caches, config, "absorbed")
        d = cr.backward(AL, Y.astype(dtype), caches, config, "deferred")
        if m & (m - 1) == 0:
            assert all(np.array_equal(x, y) for g, h in zip(a, d) for x, y in zip(g, h)), m
        else:
            assert max(_relative_error(Backward(a, []), Backward(d, []))) <= 16 * u, m


# --- one sigmoid unit, |A − Y| set directly --------------------------------------------------------------


def _unit(a_minus_y: float, x: float, m: int):
    """One sigmoid unit with W = 0, b = z and every example x, Y = 1 or 0, so that A − Y = a_minus_y
    in every format (z chosen so that σ(z) is that far from Y; values exact in float16)."""
    config = cr.ModelConfig([1, 1], "tanh", "sigmoid")
    if a_minus_y == 0.5:
        z, y = 0.0, 0.0
    else:
        z, y = float(np.log((1 - abs(a_minus_y)) / abs(a_minus_y))), 1.0      # σ(z) = 1 − |a − y|
    params = [cr.LayerParams(np.zeros((1, 1)), np.full((1, 1), z))]
    return config, params, np.full((1, m), x), np.full((1, m), y)


def test_one_unit_loses_the_absorbed_gradient_exactly_where_float16_says():
    """|A − Y| = 2⁻¹¹ (σ(z) = 1 − 2⁻¹¹, a float16 value): the absorbed dZ[L] = 2⁻¹¹/m rounds to 0 once
    2⁻¹¹/m ≤ 2⁻²⁵ (half the smallest subnormal; at equality the tie goes to the even 0), i.e. from
    m = 2¹⁴ = 16384. At m = 16383 it is just above half and rounds up to 2⁻²⁴, twice its value:
    dW = fl16(m 2⁻²⁴) (the float32 sum is exact; 16383 rounds to 2¹⁴ in 11 bits) = 2⁻¹⁰ against 2⁻¹¹:
    a relative error of 100 % too.
    The deferred sum in float32 is exact, and a loss scale S = 2¹⁶ moves the threshold to m = 2³⁰."""
    gap = 2.0 ** -11
    first = int(gap / HALF_SMALLEST)                                      # 16384
    for m, lost in ((first - 1, False), (first, True)):
        config, params, X, Y = _unit(gap, 1.0, m)
        stored = stored_forward(params, X, config, "float16")
        assert np.all(np.abs(stored.A[-1] - Y) == gap)
        exact = reference_backward(stored, Y, config)
        for variant in ("absorbed", "deferred", "scaled"):
            got = emulated_backward(stored, Y, config, variant)
            error = max(_relative_error(got, exact))
            if variant == "absorbed" and lost:
                assert np.all(got.dZ[0] == 0) and error == 1.0
            elif variant == "absorbed":
                assert np.all(got.dZ[0] == -F16_SMALLEST) and m == 2 ** 14 - 1 and error == 1.0
            else:
                assert np.all(got.dZ[0] != 0) and error <= 2 ** -10, (variant, m, error)


def test_one_unit_overflows_a_stored_unscaled_sum_where_float16_says():
    """A − Y = 0.5 and x = 1024: the unscaled sum Σ dZ x = 512 m is stored as inf once 512 m ≥ 65520
    (max + half an ulp of 32), i.e. from m = 128; applying 1/m to the float32 sum first never overflows."""
    first = int(np.ceil((F16_MAX + 16) / 512))                            # 128
    study = precision(*_unit(0.5, 1024.0, 1)[:2], np.full((1, 200), 1024.0), np.zeros((1, 200)),
                      ms=(first - 1, first), formats=("float16",))
    assert not study.row("float16", "deferred_stored", first - 1).nonfinite
    assert study.row("float16", "deferred_stored", first).nonfinite
    assert study.row("float16", "deferred", first).worst == 0.0           # 512 m / m = 512, exact
    assert study.predictions[0].overflow == pytest.approx(F16_MAX / 512)
    assert "overflowed (inf) from m = 128" in study.verdict()


def test_term_by_term_sums_in_float16_stall_where_its_spacing_says():
    """A − Y = 0.5 for every example, x = 1: the exact dW is 0.5. Summed term by term in float16, the
    partial sums of 0.5 grow exactly to 1024 = 2¹¹ · 0.5, where the spacing becomes 1 and adding 0.5 is a
    tie that goes to the even 1024: the sum stalls, and at m = 4096 dW = 1024/4096 = 0.25, half the
    gradient lost. Equal terms t stall at 2¹¹ t whatever t is, so the absorbed terms 2⁻¹³ stall at 2⁻² after
    2048 of them: the same half lost. A float32 accumulator holds every partial sum exactly."""
    config, params, X, Y = _unit(0.5, 1.0, 4096)
    study = precision(config, params, X, Y, ms=(4096,), formats=("float16",), accumulate=("float32", "storage"),
                      variants=("absorbed", "deferred"))
    assert study.row("float16", "deferred", 4096, "storage").errors[0] == 0.5
    assert study.row("float16", "deferred", 4096, "float32").errors[0] == 0.0
    assert study.row("float16", "absorbed", 4096, "storage").errors[0] == 0.5
    assert study.row("float16", "absorbed", 4096, "float32").errors[0] == 0.0
    assert "float16 dW = (1/m)·Σ₃₂ dZ A_prevᵀ (float16 sums)" in study.table()


def test_the_study_says_where_chainrules_conventions_are_bitwise_identical():
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 300, np.random.default_rng(3))
    verdict = precision(config, params, X, Y, ms=(100, 128), formats=("float64",)).verdict()
    assert "float64, chainrule's two conventions: bitwise identical at m = 128; elsewhere their relative " \
           "difference is at most" in verdict and "at m = 100)" in verdict


# --- the planar network at the course's initialisation -----------------------------------------------------


@pytest.fixture(scope="module")
def planar():
    data = cr.datasets.load("flower")
    config = cr.ModelConfig([2, 4, 1], "tanh", "sigmoid")
    params = cr.init_params(config, np.random.RandomState(2), "random", 0.01)
    study = precision(config, params, data.X, data.Y, ms=(1_000, 10_000, 100_000, 1_000_000), seed=0,
                      train_ms=(2_000,), train_epochs=3)
    return config, params, data, study


def test_planar_float16_flushes_the_absorbed_dZ1_as_its_exact_size_predicts(planar):
    """The fraction of the absorbed dZ[1] = (exact per-example dZ[1])/m flushed to zero is the fraction
    of examples with |dZ[1]| ≤ m 2⁻²⁵: computed here from chainrule's float64 backward on the largest
    sample, it must match the measured fraction at every m (to 3 points: the emulated dZ[1] carries
    float16 roundings before the last one)."""
    config, params, data, study = planar
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 400, 1_000_000)
    X, Y = data.X[:, idx], data.Y[:, idx]
    AL, caches = cr.forward(params, X, config)
    dZ1 = np.abs(cr.backward_trace(AL, Y, caches, config, "deferred")[0].dZ)
    for m in study.ms:
        expected = float(np.mean(dZ1[:, :m] <= m * HALF_SMALLEST))
        measured = study.row("float16", "absorbed", m).flushed[0]
        assert abs(measured - expected) <= 0.03, (m, measured, expected)
    nonzero = dZ1[dZ1 > 0]
    prediction = study.predictions[0]
    assert prediction.flush_1[0] == pytest.approx(np.quantile(nonzero, 0.01) / HALF_SMALLEST, rel=1e-6)
    assert prediction.flush_50[0] == pytest.approx(np.quantile(nonzero, 0.5) / HALF_SMALLEST, rel=1e-6)
    assert study.row("float16", "absorbed", 1_000_000).worst >= 0.5          # the gradient of W[1] is lost
    for variant in ("deferred", "deferred_stored", "scaled"):                # the float32 sum keeps it
        assert all(study.row("float16", variant, m).worst < 0.05 for m in study.ms)
    for variant in ("absorbed", "deferred", "deferred_stored", "scaled"):    # bfloat16 has float32's range
        assert all(study.row("bfloat16", variant, m).flushed[0] == 0 for m in study.ms)


def test_the_verdict_says_what_was_measured(planar):
    *_, study = planar
    verdict = study.verdict()
    lost = next(r.m for r in study.rows if (r.format, r.variant) == ("float16", "absorbed") and r.worst >= 0.5)
    assert f"at m = {lost}" in verdict and "In float16 the place of the 1/m matters" in verdict
    assert "In bfloat16 the place of the 1/m matters little" in verdict
    assert "float64, chainrule's two conventions: not bitwise identical at any m" in verdict   # no 2ᵏ measured
    table = study.table()
    assert "1.0e+00*" in table                                               # 100 % lost, and flushed
    first = next(r.m for r in study.rows if (r.format, r.variant) == ("float16", "absorbed") and r.flushed[0] > 0.01)
    layer1 = next(line for line in study.thresholds().splitlines() if line.split()[:2] == ["float16", "1"])
    assert layer1.split()[3] == str(first) and float(layer1.split()[2]) == pytest.approx(
        study.predictions[0].flush_1[0], rel=0.01)
    data = json.loads(study.to_json())
    assert len(data["rows"]) == len(study.rows) and data["verdict"] == verdict.split("\n")
    assert [run["format"] for run in data["training"]] == ["float16", "float16", "float64"]


def test_training_in_float16_with_the_deferred_1_over_m_tracks_float64(planar):
    *_, study = planar
    runs = {(r.format, r.variant): r for r in study.training}
    base = runs["float64", "deferred"].cost
    assert max(abs(a - b) for a, b in zip(runs["float16", "deferred"].cost, base)) < 1e-3


# --- arguments and the command line ------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"formats": ("float8",)}, "formats must be one or more of float16, bfloat16, float32, float64; got 'float8'"),
    ({"ms": (0,)}, "ms must be positive integers; got 0"),
    ({"ms": ()}, "ms must give at least one batch size"),
    ({"variants": ("both",)}, "variants must be one or more of absorbed"),
    ({"accumulate": ("float64",)}, "accumulate must be one or more of float32, storage"),
    ({"loss_scale": 0}, "loss_scale must be a positive number; got 0"),
])
def test_bad_arguments_are_named(kwargs, message):
    config = cr.ModelConfig([2, 1])
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        precision(config, cr.init_params(config, 0), np.zeros((2, 3)), np.zeros((1, 3)), **kwargs)


def test_the_command_writes_its_picture_and_json_and_prints_the_verdict(tmp_path, capsys):
    out = tmp_path / "study"
    assert cli.main(["study", "precision", "--m", "10,100", "--train-m", "50", "--train-epochs", "2",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Verdict:" in printed and "|A − Y| per example" in printed and "smallest subnormal" in printed
    assert sorted(p.name for p in out.iterdir()) == ["precision-training.png", "precision.json", "precision.png"]
    assert (out / "precision.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["study", "precision", "--m", "10", "--train-epochs", "0", "--formats", "float16",
                     "--json", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["ms"] == [10]


def test_the_command_studies_a_saved_model(tmp_path, capsys):
    assert cli.main(["train", "--num-epochs", "20", "-q", "--out", str(tmp_path)]) == 0
    assert cli.main(["study", "precision", "--model", str(tmp_path / "model.npz"), "--m", "10,1000",
                     "--train-epochs", "0", "--out", str(tmp_path / "s")]) == 0
    assert f"Study of the parameters of {tmp_path / 'model.npz'}, on flower" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--formats", "float8"], "formats must be one or more of"),
    (["--m", "10,,100"], "nothing between two commas"),
    (["--m", "0"], "ms must be positive integers"),
    (["--model", "nosuch.npz"], "nosuch.npz"),
])
def test_command_mistakes_are_one_line(argv, message, tmp_path, capsys):
    try:
        status = cli.main(["study", "precision", *argv, "--train-epochs", "0", "--out", str(tmp_path / "o")])
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()
