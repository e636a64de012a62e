"""What NumPy's float16 and ml_dtypes' bfloat16 arithmetic actually does, pinned
(``docs/numpy-low-precision.md``).

The precision study emulates low-precision arithmetic instead of computing in these dtypes:
every value is a float64 the format represents exactly, rounded explicitly, with float32
accumulation modelled explicitly. These tests are the reason. Each pins one behaviour of
NumPy or ml_dtypes against an expectation computed here independently, in exact rational
arithmetic (``fractions.Fraction``) rounded by ``rnd`` below; a new NumPy or ml_dtypes that
behaves differently fails the test, and the document must be revisited.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

# (p, emin, emax): significand bits with the implicit one, smallest normal exponent, largest exponent
F16 = (11, -14, 15)
BF16 = (8, -126, 127)
F32 = (24, -126, 127)
F64 = (53, -1022, 1023)

ML_DTYPES_REASON = "bfloat16 comes from ml_dtypes (the test extra); without it there is nothing to pin"


def bfloat16():
    return pytest.importorskip("ml_dtypes", reason=ML_DTYPES_REASON).bfloat16


def ml_dtypes_0_7_or_later() -> bool:
    """Whether the installed ml_dtypes is 0.7 or later. 0.7 changed two behaviours pinned here (how a Python
    scalar meets a bfloat16 array, and the float64 → bfloat16 cast); those tests pin each line's own."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason=ML_DTYPES_REASON)
    return tuple(int(p) for p in ml_dtypes.__version__.split(".")[:2]) >= (0, 7)


def rnd(x, fmt):
    """x (int, float or Fraction) rounded to the format ``fmt``: to nearest, ties to an even last
    bit, subnormals below 2^emin, ±inf when the rounded magnitude would reach 2^(emax+1).
    Exact: a Fraction (or ±inf), computed without NumPy."""
    p, emin, emax = fmt
    x = Fraction(x)
    if x == 0:
        return Fraction(0)
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if a < Fraction(2) ** e:
        e -= 1                                                  # now 2^e <= a < 2^(e+1)
    q = Fraction(2) ** (max(e, emin) - p + 1)                   # the quantum: spacing of the format at a
    r = round(a / q) * q                                        # Fraction.__round__ ties to even
    if r >= Fraction(2) ** (emax + 1):
        return math.copysign(math.inf, x)
    return r if x > 0 else -r


def exact(a) -> list[Fraction]:
    """The values of a float16/bfloat16/float32 array, exactly (widening to float64 is exact)."""
    return [Fraction(float(v)) for v in np.asarray(a).astype(np.float64).ravel()]


def seq_sum(values, fmt) -> Fraction:
    """Σ values left to right, every partial sum rounded to ``fmt``."""
    s = Fraction(0)
    for v in values:
        s = rnd(s + v, fmt)
    return s


def pairwise_sum(v, fmt) -> Fraction:
    """NumPy's pairwise summation (``pairwise_sum`` in loops_utils.h.src), every addition rounded
    to ``fmt``: under 8 terms left to right; up to 128 terms in 8 interleaved accumulators joined
    as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), the last n mod 8 terms added after; above 128, the two
    halves (split at a multiple of 8) summed so and added."""
    n = len(v)
    if n < 8:
        return seq_sum(v, fmt)
    if n <= 128:
        r = list(v[:8])
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] = rnd(r[j] + v[i + j], fmt)
            i += 8
        s = rnd(rnd(rnd(r[0] + r[1], fmt) + rnd(r[2] + r[3], fmt), fmt)
                + rnd(rnd(r[4] + r[5], fmt) + rnd(r[6] + r[7], fmt), fmt), fmt)
        return seq_sum([s, *v[i:]], fmt)
    n2 = n // 2
    n2 -= n2 % 8
    return rnd(pairwise_sum(v[:n2], fmt) + pairwise_sum(v[n2:], fmt), fmt)


def dot_f32(x, y) -> Fraction:
    """Σ x_i y_i with each product exact (a float16 or bfloat16 product fits float32) and a float32
    accumulator, left to right: the float32-accumulate model."""
    s = Fraction(0)
    for a, b in zip(x, y):
        assert rnd(a * b, F32) == a * b
        s = rnd(s + a * b, F32)
    return s


def dot_lowprec(x, y, fmt) -> Fraction | float:
    """Σ x_i y_i with every product and every partial sum rounded to ``fmt`` (term by term); once
    an inf appears, IEEE float arithmetic carries it (inf − inf is nan)."""
    s = Fraction(0)
    for a, b in zip(x, y):
        p = rnd(a * b, fmt)
        s = float(s) + float(p) if isinstance(s, float) or isinstance(p, float) else rnd(s + p, fmt)
    return s


def cancelling_dot(dtype):
    """(x, y) whose products are 2^24, sixteen 1s, −2^24 (sum 16): a float32 accumulator adding left
    to right loses every 1 (2^24 + 1 is a tie, rounded to the even 2^24) and returns 0; float64,
    or a differently ordered float32 sum, keeps some or all of the 16."""
    x = np.array([4096.0] + [1.0] * 16 + [-4096.0], dtype)
    y = np.array([4096.0] + [1.0] * 16 + [4096.0], dtype)
    return x, y


# --- 1. products -------------------------------------------------------------------------------


def test_float16_matmul_and_dot_accumulate_left_to_right_in_float32_and_round_once():
    """float16 @, np.matmul and np.dot return float16, computed as one float32 sum per output, left
    to right, of exact products, rounded to float16 once at the end (NumPy's HALF matmul and dot
    loops; no BLAS). Three inputs tell this apart from the alternatives:
    4096 ones then 64 × 0.25 gives 4112, where float16 partial sums stop at 2048 (2048 + 1 is a
    tie, rounded to the even 2048); the 2^24, 1, …, 1, −2^24 products give 0, where exact (or float64)
    accumulation gives 16, so the float32 accumulator is sequential; and 300·300 − 300·300 gives 0
    where a float16 product is inf. For the study: NumPy's float16 GEMM is the "float32 accumulate,
    round once" model, but with one fixed summation order."""
    x = np.concatenate([np.ones(4096), np.full(64, 0.25)]).astype(np.float16)
    ones = np.ones(x.size, np.float16)
    assert dot_f32(exact(x), exact(ones)) == 4112 and dot_lowprec(exact(x), exact(ones), F16) == 2048
    for r in (x[None, :] @ ones[:, None], np.matmul(x[None, :], ones[:, None]), np.dot(x, ones)):
        assert r.dtype == np.float16 and float(np.ravel(r)[0]) == 4112

    a, b = cancelling_dot(np.float16)
    assert dot_f32(exact(a), exact(b)) == 0 and sum(p * q for p, q in zip(exact(a), exact(b))) == 16
    A, B = np.vstack([a, a]), np.column_stack([b, b, b])         # (2, 18) @ (18, 3): matrix-matrix
    assert np.array_equal(A @ B, np.zeros((2, 3), np.float16))
    assert float(np.dot(a, b)) == 0 and float(np.vecdot(a, b)) == 0 and np.array_equal(np.dot(A, B), A @ B)

    p, q = np.array([[300.0, 300.0]], np.float16), np.array([[300.0], [-300.0]], np.float16)
    assert math.isnan(dot_lowprec(exact(p), exact(q), F16))     # 90000 overflows float16
    assert float((p @ q)[0, 0]) == 0

    rng = np.random.default_rng(1)
    A = rng.uniform(-8, 8, (3, 50)).astype(np.float16)
    B = rng.uniform(-8, 8, (50, 4)).astype(np.float16)
    C = A @ B
    ea, eb = [exact(row) for row in A], [exact(col) for col in B.T]
    want = [[float(rnd(dot_f32(r, c), F16)) for c in eb] for r in ea]
    assert C.dtype == np.float16 and C.astype(np.float64).tolist() == want


def test_float16_einsum_accumulates_differently_depending_on_the_operands_shapes():
    """np.einsum on float16 takes different paths: 'i,i' (and a row times a column) sums products in
    float32 four at a time, accum + (((p0+p1)+p2)+p3), then the rest one by one, rounding once —
    so the 2^24, sixteen 1s, −2^24 products give 12, not matmul's 0; 'ij,jk->ik' with more than one
    output column accumulates in float16, term by term (4096 ones then 64 × 0.25 give 2048, since
    float16 2048 + 1 is a tie rounded back to 2048), unless optimize=True hands it to matmul
    (4112). Same mathematics, three answers: no NumPy float16 path can stand for "the" float16
    product."""
    def unrolled_by_4(x, y):
        s, prods = Fraction(0), [p * q for p, q in zip(x, y)]
        while len(prods) >= 4:
            p0, p1, p2, p3 = prods[:4]
            s = rnd(s + rnd(rnd(rnd(p0 + p1, F32) + p2, F32) + p3, F32), F32)
            prods = prods[4:]
        return seq_sum([s, *prods], F32)

    a, b = cancelling_dot(np.float16)
    assert unrolled_by_4(exact(a), exact(b)) == 12
    assert float(np.einsum("i,i", a, b)) == 12 and float(np.einsum("ij,jk->ik", a[None], b[:, None])[0, 0]) == 12
    rng = np.random.default_rng(2)
    for n in (5, 18, 37, 64):
        x, y = rng.uniform(-4, 4, (2, n)).astype(np.float16)
        assert float(np.einsum("i,i", x, y)) == float(rnd(unrolled_by_4(exact(x), exact(y)), F16))

    x = np.concatenate([np.ones(4096), np.full(64, 0.25)]).astype(np.float16)
    A, B = np.tile(x, (2, 1)), np.ones((x.size, 3), np.float16)
    assert seq_sum(exact(x), F16) == 2048
    assert np.all(np.einsum("ij,jk->ik", A, B) == 2048)
    assert np.all(np.einsum("ij,jk->ik", A, B, optimize=True) == 4112) and np.all(A @ B == 4112)


def test_bfloat16_matmul_returns_float32_computed_by_float32_blas():
    """ml_dtypes registers no bfloat16 matmul loop: bfloat16 @ (and np.matmul) casts both operands to
    float32 and runs NumPy's float32 matmul (BLAS sgemm/sdot), returning float32, never rounded to
    bfloat16: [1, 2^-10]·[1, 1] is 1 + 2^-10, which bfloat16 cannot hold. Its value is whatever the
    BLAS's float32 kernel gives (order, FMA, blocking: machine-dependent, so not pinned). For the
    study: a bfloat16 "product" in NumPy is a float32 product with float32 output, so a network in
    bfloat16 silently carries float32 activations after its first layer."""
    bf16 = bfloat16()
    c, d = np.array([[1.0, 2.0**-10]], bf16), np.array([[1.0], [1.0]], bf16)
    r = c @ d
    assert r.dtype == np.float32 and float(r[0, 0]) == 1 + 2.0**-10 and rnd(1 + Fraction(1, 1024), BF16) == 1
    assert np.matmul(c, d).dtype == np.float32
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 7)).astype(bf16)
    B = rng.standard_normal((7, 3)).astype(bf16)
    assert np.array_equal(A @ B, A.astype(np.float32) @ B.astype(np.float32))
    a, b = cancelling_dot(bf16)
    assert np.array_equal(a[None] @ b[:, None], a[None].astype(np.float32) @ b[:, None].astype(np.float32))


def test_bfloat16_dot_returns_bfloat16_accumulated_left_to_right_in_float32_and_einsum_refuses():
    """np.dot on bfloat16 (ml_dtypes' dot function) returns bfloat16: a float32 sum, left to right,
    of exact products, rounded to bfloat16 once. 512 ones then 64 × 0.25 give 528, where bfloat16
    partial sums stop at 256 (256 + 1 is a tie, rounded back to 256); the 2^24, 1s, −2^24 products
    give 0 (sequential float32). So np.dot and @ of the same bfloat16 arrays differ in dtype and
    value. np.einsum raises TypeError on bfloat16."""
    bf16 = bfloat16()
    x = np.concatenate([np.ones(512), np.full(64, 0.25)]).astype(bf16)
    ones = np.ones(x.size, bf16)
    assert dot_f32(exact(x), exact(ones)) == 528 and dot_lowprec(exact(x), exact(ones), BF16) == 256
    r = np.dot(x[None, :], ones[:, None])
    assert r.dtype == bf16 and float(r[0, 0]) == 528 and float(np.dot(x, ones)) == 528
    a, b = cancelling_dot(bf16)
    assert float(np.dot(a, b)) == 0 and (a[None] @ b[:, None]).dtype == np.float32     # @: float32 BLAS
    rng = np.random.default_rng(4)
    A = rng.uniform(-8, 8, (3, 40)).astype(bf16)
    B = rng.uniform(-8, 8, (40, 2)).astype(bf16)
    want = [[float(rnd(dot_f32(exact(r), exact(c)), BF16)) for c in B.T] for r in A]
    assert np.dot(A, B).astype(np.float64).tolist() == want
    with pytest.raises(TypeError):
        np.einsum("i,i", a, b)


# --- 2. sums -----------------------------------------------------------------------------------


def big_and_tiny(rng, n):
    """n float16 values: 2^15 and −2^15 somewhere, 2^-10 in about half the other places. float32
    cannot add 2^-10 to 2^15 (a quarter of its ulp there), so what survives depends on the order."""
    x = np.zeros(n, np.float16)
    x[rng.integers(0, n, size=n // 2)] = 2.0**-10
    i, j = rng.choice(n, 2, replace=False)
    x[i], x[j] = 2.0**15, -(2.0**15)
    return x


def test_float16_sum_along_the_contiguous_axis_is_pairwise_in_float32_rounded_once():
    """np.sum / np.add.reduce of float16 along the axis the reduction loop runs over contiguously or
    with one stride (a 1-D array, x[::2], axis=1 of a C-ordered or axis=0 of an F-ordered 2-D array)
    is NumPy's pairwise sum
    in float32, rounded to float16 once: 3000 ones give 3000 (float16 partial sums would stop at
    2048), and cancelling 2^15 ± with 2^-10 terms agree bit for bit with the pairwise model and not
    with a left-to-right float32 sum. The whole axis is one pairwise sum (no 8192-element chunks)."""
    assert float(np.ones(3000, np.float16).sum()) == 3000
    assert float(np.ones((2, 3000), np.float16).sum(axis=1)[0]) == 3000
    rng = np.random.default_rng(5)
    differs = 0
    for n in (9, 18, 100, 129, 300, 700):
        for _ in range(4):
            x = big_and_tiny(rng, n)
            ex = exact(x)
            want = float(rnd(pairwise_sum(ex, F32), F16))
            differs += want != float(rnd(seq_sum(ex, F32), F16))
            y = np.zeros(2 * n, np.float16)
            y[::2] = x
            F = np.asfortranarray(np.stack([x, x], axis=1))
            got = [x.sum(), np.add.reduce(x), np.stack([x, x]).sum(axis=1)[1], y[::2].sum(), F.sum(axis=0)[0]]
            assert all(g.dtype == np.float16 and float(g) == want for g in got)
    assert differs >= 8                                      # the inputs do tell the two orders apart
    x = np.zeros(20_000, np.float16)
    x[0], x[8191], x[8192] = 2048, 1, 1                      # 2048 + 1 + 1: 2050 in one sum, 2048 if chunked
    assert float(x.sum()) == 2050


def test_float16_sum_across_rows_rounds_every_partial_sum_to_float16():
    """The same np.sum along an axis the loop does not run down (axis=0 of a C-ordered array,
    axis=1 of an F-ordered one or of a transpose), and np.cumsum, add element by element into a
    float16 result: every partial sum is rounded to float16. 3000 ones sum to 2048. Which of the two
    accumulations a sum gets depends on memory layout, not on the mathematics; dtype=float32 (or a
    float32 out=) accumulates in float32 on every path."""
    C = np.ones((3000, 2), np.float16)
    for s in (C.sum(axis=0), np.add.reduce(C, axis=0), np.asfortranarray(C.T).sum(axis=1), C.T.sum(axis=1),
              C.sum(axis=0, keepdims=True)[0]):
        assert s.dtype == np.float16 and s.tolist() == [2048.0, 2048.0]
    assert float(np.asfortranarray(C).sum(axis=0)[0]) == 3000          # same numbers, F order: float32
    assert float(np.cumsum(C[:, 0])[-1]) == 2048
    assert C.sum(axis=0, dtype=np.float32).tolist() == [3000.0, 3000.0]
    assert np.add.reduce(C, axis=0, out=np.zeros(2, np.float32)).tolist() == [3000.0, 3000.0]
    rng = np.random.default_rng(6)
    X = rng.uniform(0, 10, (300, 3)).astype(np.float16)
    want = [float(seq_sum(exact(col), F16)) for col in X.T]
    assert X.sum(axis=0).astype(np.float64).tolist() == want
    assert want != [float(rnd(sum(exact(col)), F16)) for col in X.T]


def test_bfloat16_sum_rounds_every_partial_sum_to_bfloat16_on_every_path():
    """ml_dtypes' bfloat16 add has no pairwise reduction: np.sum and np.add.reduce add left to right
    and round every partial sum to bfloat16, along any axis and layout. 300 ones sum to 256 (bfloat16
    256 + 1 is a tie, rounded back to 256). sum(dtype=np.float32) casts and sums in float32: 300."""
    bf16 = bfloat16()
    for s in (np.ones(300, bf16).sum(), np.add.reduce(np.ones(300, bf16)),
              np.ones((2, 300), bf16).sum(axis=1)[0], np.ones((300, 2), bf16).sum(axis=0)[0]):
        assert s.dtype == bf16 and float(s) == 256
    r = np.ones(300, bf16).sum(dtype=np.float32)
    assert r.dtype == np.float32 and float(r) == 300
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 4, 1000).astype(bf16)
    want = float(seq_sum(exact(x), BF16))
    assert float(x.sum()) == want and float(np.stack([x, x]).sum(axis=1)[0]) == want
    assert float(np.stack([x, x], axis=1).sum(axis=0)[1]) == want
    assert want != float(rnd(sum(exact(x)), BF16))


# --- 3. means ----------------------------------------------------------------------------------


def test_float16_mean_sums_in_float32_and_returns_float16():
    """np.mean of float16 sums in float32 (NumPy's documented exception) and returns float16: the
    float32 pairwise sum divided by the count, rounded to float16 (once, in effect: the float64 and
    float32 steps between are innocuous). Unlike np.sum, it does so along every axis: the mean over
    axis 0 of 3000 × 2 ones is 1, where sum(axis=0)/3000 is 2048/3000 ≈ 0.683."""
    C = np.ones((3000, 2), np.float16)
    m = C.mean(axis=0)
    assert m.dtype == np.float16 and m.tolist() == [1.0, 1.0]
    assert (C.sum(axis=0) / 3000).tolist() == [float(rnd(Fraction(2048, 3000), F16))] * 2
    x = np.array([2048.0] + [2.0**-14] * 16 + [-2048.0], np.float16)
    s = pairwise_sum(exact(x), F32)
    assert s == 12 * Fraction(2) ** -14                                # float32 pairwise keeps 12 of 16
    r = x.mean()
    assert type(r) is np.float16 and float(r) == float(rnd(s / 18, F16))
    assert float(r) != float(rnd(16 * Fraction(2) ** -14 / 18, F16))            # the exact mean
    rng = np.random.default_rng(8)
    x = rng.uniform(-100, 100, 777).astype(np.float16)
    assert float(x.mean()) == float(rnd(pairwise_sum(exact(x), F32) / 777, F16))


def test_bfloat16_mean_sums_in_bfloat16_then_divides_in_float64():
    """np.mean of bfloat16 gets no float32 accumulator (NumPy only special-cases float16): it sums in
    bfloat16, left to right, then divides by the count (a NumPy intp, which makes the division
    float64) and casts the quotient to bfloat16 (through float32 before ml_dtypes 0.7, once from 0.7; the
    same here). The mean of 3000 ones is bfloat16(256/3000) ≈ 0.0854, on every axis.
    mean(dtype=np.float32) returns float32 1.0."""
    bf16 = bfloat16()
    q = rnd(Fraction(256, 3000), F64)
    want = float(rnd(rnd(q, F32), BF16))
    assert want == 175 * 2.0**-11 == float(rnd(q, BF16))
    for r in (np.ones(3000, bf16).mean(), np.ones((3000, 2), bf16).mean(axis=0)[0],
              np.ones((2, 3000), bf16).mean(axis=1)[1]):
        assert r.dtype == bf16 and float(r) == want
    r = np.ones(3000, bf16).mean(dtype=np.float32)
    assert r.dtype == np.float32 and float(r) == 1


# --- 4. Python and NumPy scalars ---------------------------------------------------------------


def test_float16_divided_by_a_python_number_divides_by_that_number_rounded_to_float16():
    """Under NEP 50 a Python int or float is "weak": x / m for a float16 array x is float16, and m
    is first cast to float16. m = 100000 (> 65504) becomes inf — an overflow in the cast, a
    FloatingPointError under errstate(over="raise") — and x / 100000 is all zeros; m = 3001
    becomes 3000 (float16 integers above 2048 are even), so x / 3001 is float16(x / 3000).
    x * (1/m) rounds 1/m (a float64) to float16 first: 1e-5 is a float16 subnormal, 168·2^-24,
    0.14 % off; then the product is rounded again. Only a float64 numpy scalar, a 0-d array or an
    int64 scalar makes the result float64 (exact division of the float16 values). The division
    itself is correctly rounded: x / m is float16(x / float16(m))."""
    x16 = [Fraction(k, 1024) * 2**e for e in (0, 1) for k in range(1024, 2048)]   # every float16 in [1, 4)
    x = np.array([float(v) for v in x16], np.float16)
    with np.errstate(over="ignore"):
        r = x / 100000
    assert r.dtype == np.float16 and not r.any()
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        _ = x / 100000
    assert rnd(3001, F16) == 3000
    for m in (3001, 3001.0):
        r = x / m
        assert r.dtype == np.float16 and r.astype(np.float64).tolist() == [float(rnd(v / 3000, F16)) for v in x16]
    assert sum(rnd(v / 3000, F16) != rnd(v / 3001, F16) for v in x16) > 900      # 992 of the 2048 differ

    inv = rnd(Fraction(1 / 100000), F16)
    assert inv == 168 * Fraction(2) ** -24 and float(np.float16(1 / 100000)) == float(inv)
    r = x * (1 / 100000)
    assert r.dtype == np.float16 and r.astype(np.float64).tolist() == [float(rnd(v * inv, F16)) for v in x16]
    assert sum(rnd(v * inv, F16) != rnd(v / 100000, F16) for v in x16) > 1000     # 1050 differ

    for m in (np.float64(100000), np.array(100000.0), np.int64(100000), np.array(100000)):
        r = x / m
        assert r.dtype == np.float64 and np.array_equal(r, x.astype(np.float64) / 100000.0)


def test_bfloat16_with_a_python_float_becomes_float32_before_ml_dtypes_0_7_and_stays_bfloat16_from_0_7():
    """A Python int is "weak" for ml_dtypes' bfloat16: it is rounded to bfloat16 (3000 becomes 3008, the
    even one of the tie 2992/3008), so x / 3000 is bfloat16(x / 3008). ml_dtypes < 0.7 rounds the int
    through float32 (2^24 + 2^16 + 1 gives 2^24), 0.7 rounds it once (2^24 + 2^17).
    A Python float: ml_dtypes < 0.7 promotes to float32, so x / 3000.0 is float32(x / 3000) and
    x * (1/3000) is float32(x · float32(1/3000)), both float32 arrays. ml_dtypes ≥ 0.7 treats it like
    the int, rounded to bfloat16 but through float32 (1 + 2^-8 + 2^-30 becomes 1, not 1 + 2^-7): x / 3000.0
    is bfloat16(x / 3008) and x * (1/3000) is bfloat16(x · 175·2^-19), both bfloat16 arrays. A float64 numpy
    scalar gives float64 in both. Under < 0.7 the dtype of the study's "1/m" step would depend on whether m
    is written 3000 or 3000.0; under ≥ 0.7 a Python m is rounded to 8 bits either way."""
    bf16 = bfloat16()
    assert rnd(3000, BF16) == 3008
    xs = [Fraction(k, 128) * 2**e for e in (0, 1) for k in range(128, 256)]     # every bfloat16 in [1, 4)
    x = np.array([float(v) for v in xs], bf16)
    r = x / 3000
    assert r.dtype == bf16 and r.astype(np.float64).tolist() == [float(rnd(v / 3008, BF16)) for v in xs]
    assert sum(float(rnd(v / 3008, BF16)) != float(rnd(v / 3000, BF16)) for v in xs) > 50
    big = 2**24 + 2**16 + 1                             # float32 makes it the bfloat16 tie 2^24 + 2^16
    assert rnd(big, BF16) == 2**24 + 2**17 and rnd(rnd(big, F32), BF16) == 2**24
    r = np.ones(1, bf16) * big
    assert r.dtype == bf16
    if not ml_dtypes_0_7_or_later():                   # ml_dtypes < 0.7: a Python float promotes to float32
        assert float(r[0]) == 2**24                                                 # the int through float32
        r = x / 3000.0
        assert r.dtype == np.float32 and r.astype(np.float64).tolist() == [float(rnd(v / 3000, F32)) for v in xs]
        inv = rnd(Fraction(1 / 3000), F32)
        r = x * (1 / 3000)
        assert r.dtype == np.float32 and r.astype(np.float64).tolist() == [float(rnd(v * inv, F32)) for v in xs]
    else:                                              # ml_dtypes ≥ 0.7: a Python float stays weak
        assert float(r[0]) == 2**24 + 2**17                                         # the int rounded once
        for mf in (3000.0, 3001.0):
            m = rnd(rnd(Fraction(mf), F32), BF16)
            assert m == 3008
            r = x / mf
            assert r.dtype == bf16 and r.astype(np.float64).tolist() == [float(rnd(v / m, BF16)) for v in xs]
        inv = rnd(rnd(Fraction(1 / 3000), F32), BF16)
        assert inv == 175 * Fraction(2) ** -19
        r = x * (1 / 3000)
        assert r.dtype == bf16 and r.astype(np.float64).tolist() == [float(rnd(v * inv, BF16)) for v in xs]
        assert sum(rnd(v * inv, BF16) != rnd(v / 3000, BF16) for v in xs) > 50       # 66 of 256 differ
        v, mid = format_values(*BF16)                  # a Python float near a bfloat16 midpoint: through float32
        one, step = np.ones(1, bf16), 37
        for t in (mid * (1 + 2.0**-30), mid * (1 - 2.0**-30)):
            want = [rnd(rnd(Fraction(float(a)), F32), BF16) for a in t[::step]]
            assert [Fraction(float((one * float(a))[0])) for a in t[::step]] == want
            assert [Fraction(float((float(a) + 0 * one)[0])) for a in t[::step]] == want
            assert sum(w != rnd(Fraction(float(a)), BF16) for w, a in zip(want, t[::step])) > 0.45 * len(want)
    r = x / np.float64(3000)
    assert r.dtype == np.float64 and np.array_equal(r, x.astype(np.float64) / 3000.0)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_float16_and_bfloat16_elementwise_add_multiply_divide_are_correctly_rounded(name):
    """One elementwise operation on two float16 (or two bfloat16) arrays is computed in float32 and
    rounded once, which equals the correctly rounded result (float32 has 24 ≥ 2p + 2 bits, so the
    double rounding is innocuous). What NumPy cannot do is keep float32 between operations: an
    expression of several ufuncs rounds after each, where a GPU's fused kernel rounds once."""
    dtype, fmt = (np.float16, F16) if name == "float16" else (bfloat16(), BF16)
    rng = np.random.default_rng(9)
    a = (rng.uniform(1, 2, 300) * 2.0 ** rng.integers(-6, 7, 300) * rng.choice([-1, 1], 300)).astype(dtype)
    b = (rng.uniform(1, 2, 300) * 2.0 ** rng.integers(-6, 7, 300)).astype(dtype)
    ea, eb = exact(a), exact(b)
    for got, op in ((a + b, lambda p, q: p + q), (a * b, lambda p, q: p * q), (a / b, lambda p, q: p / q)):
        assert got.dtype == dtype
        assert got.astype(np.float64).tolist() == [float(rnd(op(p, q), fmt)) for p, q in zip(ea, eb)]


# --- 5. casts ----------------------------------------------------------------------------------


def format_values(p, emin, emax):
    """Every non-negative finite value of a binary format, ascending, as float64 (exact), and the
    midpoint between each consecutive pair: built from the format's definition, not from a cast."""
    k = np.arange(1, 2 ** (p - 1), dtype=np.float64)
    sub = np.ldexp(k, emin - p + 1)
    norm = [np.ldexp(np.arange(2 ** (p - 1), 2**p, dtype=np.float64), e - p + 1) for e in range(emin, emax + 1)]
    v = np.concatenate([[0.0], sub, *norm])
    return v, (v[:-1] + v[1:]) / 2


def test_float64_to_float16_cast_is_correctly_rounded_in_one_step():
    """NumPy's float64 → float16 cast (astype, np.float16(x), np.asarray(..., dtype=float16)) rounds
    the float64 value directly, to nearest, ties to even, subnormals included: every exact midpoint
    between consecutive float16 values goes to the even one, the next float64 above or below it to
    the nearer one (rounding through float32 would turn those into ties). Values ≥ 65520 (65504 plus
    half an ulp) become inf, with an overflow warning; the float64 just below 65520 gives 65504.
    Magnitudes up to 2^-25 (half the smallest subnormal) become 0. The float32 → float16 cast is
    correctly rounded as well. The study may use these casts."""
    v, mid = format_values(*F16)
    bits = np.arange(v.size, dtype=np.uint16)                       # v[i] has float16 bit pattern i
    even_up = bits[1:] % 2 == 0
    assert np.array_equal(mid.astype(np.float16).view(np.uint16), np.where(even_up, bits[1:], bits[:-1]))
    up, down = np.nextafter(mid, np.inf), np.nextafter(mid, 0)
    assert np.array_equal(up.astype(np.float16).view(np.uint16), bits[1:])
    assert np.array_equal(down.astype(np.float16).view(np.uint16), bits[:-1])
    assert np.array_equal((-up).astype(np.float16), -up.astype(np.float16))
    assert np.array_equal(np.asarray(up[:500], dtype=np.float16), up[:500].astype(np.float16))
    for i in range(0, up.size, 97):
        assert float(np.float16(float(up[i]))) == float(v[i + 1]) and float(np.float16(float(down[i]))) == float(v[i])
    v16 = 1 + 2.0**-11 + 2.0**-40                                  # just above a tie: up directly, even via float32
    assert float(np.float16(v16)) == 1 + 2.0**-10 and float(np.float32(v16).astype(np.float16)) == 1
    edge = np.array([65520.0, np.nextafter(65520.0, 0), 1e300, 2.0**-25, np.nextafter(2.0**-25, 1)])
    with np.errstate(over="ignore"):
        edge = edge.astype(np.float16)
    assert edge.tolist() == [math.inf, 65504.0, math.inf, 0.0, 2.0**-24]
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        np.array([65520.0]).astype(np.float16)
    m32 = mid.astype(np.float32)                                    # float32 → float16: correctly rounded too
    assert np.array_equal(m32.astype(np.float64), mid)
    assert np.array_equal(m32.astype(np.float16).view(np.uint16), np.where(even_up, bits[1:], bits[:-1]))
    assert np.array_equal(np.nextafter(m32, np.float32(np.inf)).astype(np.float16).view(np.uint16), bits[1:])
    assert np.array_equal(np.nextafter(m32, np.float32(0)).astype(np.float16).view(np.uint16), bits[:-1])


def test_float64_to_bfloat16_cast_rounds_through_float32_before_ml_dtypes_0_7_and_once_from_0_7():
    """ml_dtypes < 0.7 converts float64 to bfloat16 through float32: it rounds to float32 first, then to
    bfloat16, for astype, the bfloat16(x) constructor and np.asarray(..., dtype=bfloat16) alike. A float64
    value within float32's resolution of a bfloat16 midpoint is rounded onto the midpoint and then to the
    even neighbour: 1 + 2^-8 + 2^-30 gives 1 (correct: 1 + 2^-7); 1 + 2^-7 + 2^-8 − 2^-30 gives 1 + 2^-6
    (correct: 1 + 2^-7). ml_dtypes ≥ 0.7 rounds once, correctly, on all three paths: every bfloat16
    midpoint times 1 ± 2^-30 (subnormals included) goes to its nearer neighbour, and just below the
    overflow threshold (2 − 2^-8)·2^127 gives the largest bfloat16, not inf. In both, exact midpoints go
    to the even neighbour. A study that needs float64 values rounded once to bfloat16 cannot rely on this
    cast from float64: what it computes depends on the ml_dtypes version."""
    bf16 = bfloat16()
    t1, t2 = 1 + 2.0**-8 + 2.0**-30, 1 + 2.0**-7 + 2.0**-8 - 2.0**-30
    assert rnd(1 + Fraction(1, 2**8) + Fraction(1, 2**30), BF16) == 1 + Fraction(1, 2**7)
    assert rnd(t2, BF16) == 1 + Fraction(1, 2**7) and rnd(rnd(t2, F32), BF16) == 1 + Fraction(1, 2**6)
    v, mid = format_values(*BF16)
    bits = np.arange(v.size, dtype=np.uint16)
    even = np.where(bits[1:] % 2 == 0, bits[1:], bits[:-1])
    assert np.array_equal(mid.astype(bf16).view(np.uint16), even)
    above, below = mid * (1 + 2.0**-30), mid * (1 - 2.0**-30)      # closer to the midpoint than float32 resolves
    assert np.array_equal(above.astype(np.float32).astype(np.float64), mid)       # so float32 makes them ties
    assert np.array_equal(below.astype(np.float32).astype(np.float64), mid)
    if not ml_dtypes_0_7_or_later():                   # ml_dtypes < 0.7: rounded twice, through float32
        assert float(np.array([t1]).astype(bf16)[0]) == 1
        assert float(bf16(t2)) == 1 + 2.0**-6
        assert np.array_equal(above.astype(bf16).view(np.uint16), even)         # observed: the tie's even one
        assert np.array_equal(below.astype(bf16).view(np.uint16), even)
        assert np.array_equal(np.asarray(above, dtype=bf16).view(np.uint16), even)
        # correct rounding would take above to the upper neighbour and below to the lower one
        assert np.mean(even != bits[1:]) > 0.45 and np.mean(even != bits[:-1]) > 0.45
    else:                                              # ml_dtypes ≥ 0.7: rounded once
        assert float(np.array([t1]).astype(bf16)[0]) == 1 + 2.0**-7
        assert float(bf16(t2)) == 1 + 2.0**-7 and float(np.asarray([t1], dtype=bf16)[0]) == 1 + 2.0**-7
        for t in (above, below):
            want = np.array([float(rnd(Fraction(float(a)), BF16)) for a in t])       # exact, one rounding
            for got in (t.astype(bf16), np.asarray(t, dtype=bf16), -(-t).astype(bf16)):
                assert np.array_equal(got.astype(np.float64), want)
            assert all(float(bf16(float(t[i]))) == want[i] for i in range(0, t.size, 97))
        assert np.array_equal(above.astype(bf16).view(np.uint16), bits[1:])        # the nearer neighbours
        assert np.array_equal(below.astype(bf16).view(np.uint16), bits[:-1])
        assert np.array_equal((-above).astype(bf16).view(np.uint16), bits[1:] | np.uint16(0x8000))
        bmax, thr = np.ldexp(2 - 2.0**-7, 127), np.ldexp(2 - 2.0**-8, 127)   # thr = bmax + ulp/2: a tie, to inf
        edge = np.array([thr, np.nextafter(thr, 0), thr * (1 - 2.0**-30)])
        want = [float(rnd(Fraction(float(e)), BF16)) for e in edge]
        assert want == [math.inf, bmax, bmax] and rnd(rnd(Fraction(float(edge[2])), F32), BF16) == math.inf
        assert edge.astype(bf16).astype(np.float64).tolist() == want        # through float32 the last is inf


def test_float32_to_bfloat16_cast_is_correctly_rounded():
    """ml_dtypes' float32 → bfloat16 cast rounds to nearest, ties to even, subnormals included:
    float32 midpoints go to the even neighbour, the adjacent float32 values to the nearer one, and
    float32 values from (2 − 2^-8)·2^127 (the bfloat16 maximum plus half an ulp) up become inf. This
    is the rounding of a GPU's float32 accumulator to a bfloat16 output, so the study can rely on it
    for float32 → bfloat16."""
    bf16 = bfloat16()
    v, mid = format_values(*BF16)
    bits = np.arange(v.size, dtype=np.uint16)
    m32 = mid.astype(np.float32)
    assert np.array_equal(m32.astype(np.float64), mid)              # the midpoints are float32 values
    assert np.array_equal(m32.astype(bf16).view(np.uint16), np.where(bits[1:] % 2 == 0, bits[1:], bits[:-1]))
    assert np.array_equal(np.nextafter(m32, np.float32(np.inf)).astype(bf16).view(np.uint16), bits[1:])
    assert np.array_equal(np.nextafter(m32, np.float32(0)).astype(bf16).view(np.uint16), bits[:-1])
    edge = np.float32(np.ldexp(2 - 2.0**-8, 127))
    with np.errstate(over="ignore"):
        got = np.array([edge, np.nextafter(edge, np.float32(0)), np.finfo(np.float32).max]).astype(bf16)
    assert got.astype(np.float64).tolist() == [math.inf, float(np.ldexp(2 - 2.0**-7, 127)), math.inf]
