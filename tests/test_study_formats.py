"""round_to, bit for bit, against independent rounders; and the Format constants against published values.

Three independent references check ``chainrule.study.formats.round_to``:

* an integer rounder written here, which takes float64 values apart as uint64 bit patterns (sign, exponent,
  significand), shifts the significand right with round-half-even on the dropped bits, and builds the result's
  bit pattern back, all in NumPy integer arithmetic (no float operation decides anything);
* ml_dtypes' float32 → bfloat16 cast, on float32 inputs (so it rounds once);
* an exact rounder in ``fractions.Fraction`` arithmetic, on a few thousand of the hardest values.

The inputs are built to hit every case: all values of the format, all midpoints between neighbours (ties, with
even and with odd last bits below them), the float64 neighbours of each midpoint, the overflow threshold,
subnormals of the format and of float64, signed zeros, infinities, NaN, and random values over the whole range.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
import pytest

from chainrule.study.formats import (
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    FLOAT64,
    FORMATS,
    Format,
    get_format,
    is_subnormal,
    round_to,
)

SIGN = np.uint64(1 << 63)
EXP_ALL = np.uint64(0x7FF << 52)
FRAC = np.uint64((1 << 52) - 1)
SEED = 20260611


# ----------------------------------------------------------------------------------------------------------------
# Independent reference rounders
# ----------------------------------------------------------------------------------------------------------------

def int_round(x, p: int, emin: int, emax: int) -> np.ndarray:
    """x (float64) rounded to the format (p, emin, emax) by integer arithmetic on the bit patterns.

    A finite float64 is S 2^q with S the integer significand (implicit bit included for normals). The format's
    values in x's binade (or in the subnormal range, which has the smallest normal binade's spacing) are multiples
    of 2^qt, qt = max(binade, emin) − (p − 1). Dropping the low (qt − q) bits of S, rounding half to even on them,
    gives k with result k 2^qt; k may carry to 2^p (the next binade), and beyond the largest binade the result is
    ±inf. The result's float64 bits are assembled from k's bit length, again in integers.
    """
    assert p <= 52 and emin > -1022 and emax < 1023       # the format is strictly inside float64
    x = np.ascontiguousarray(x, dtype=np.float64)
    b = x.view(np.uint64)
    sign = b & SIGN
    E = ((b >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    M = b & FRAC
    S = np.where(E > 0, M | np.uint64(1 << 52), M)
    q = np.where(E > 0, E - 1075, -1074)                   # |x| = S 2^q exactly
    ef = np.maximum(E - 1023, emin)                        # float64 subnormals (E = 0) lie below every emin here
    qt = ef - (p - 1)
    shift = np.minimum(qt - q, 60).astype(np.uint64)      # >= 53 dropped bits: S < half the quantum, k = 0
    one = np.uint64(1)
    kept = S >> shift
    rem = S & ((one << shift) - one)
    half = (one << shift) >> one
    up = (shift > 0) & ((rem > half) | ((rem == half) & ((kept & one) == one)))
    k = kept + up.astype(np.uint64)
    overflow = (ef > emax) | ((ef == emax) & (k == np.uint64(1 << p)))

    length = np.zeros(k.shape, dtype=np.int64)            # bit length of k, 0 for k = 0
    for j in range(p + 2):
        length += (k >> np.uint64(j)) > 0
    lk = np.maximum(length, 1)
    exp_field = (qt + lk - 1 + 1023).astype(np.uint64)
    mant = (k << (53 - lk).astype(np.uint64)) & FRAC
    out = np.where(k == 0, sign, sign | (exp_field << np.uint64(52)) | mant)
    out = np.where(overflow, sign | EXP_ALL, out)
    out = np.where(E == 0x7FF, b, out)                     # inf stays inf, NaN stays NaN
    return out.view(np.float64)


def frac_round(x: float, fmt: Format) -> float:
    """x rounded to fmt by exact rational arithmetic: the nearest value k 2^qt, ties to even k, ±inf past max."""
    if np.isnan(x) or np.isinf(x):
        return x
    v = Fraction(x)
    if v == 0:
        return x
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()    # 2^e <= a < 2^(e+2): adjust down once if needed
    if Fraction(2) ** e > a:
        e -= 1
    assert Fraction(2) ** e <= a < Fraction(2) ** (e + 1)
    quantum = Fraction(2) ** (max(e, fmt.emin) - fmt.p + 1)
    n = a / quantum
    k = n.numerator // n.denominator
    rest = n - k
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and k % 2 == 1):
        k += 1
    r = k * quantum
    if r > Fraction(2 - Fraction(2) ** (1 - fmt.p)) * Fraction(2) ** fmt.emax:
        return float(np.copysign(np.inf, x))
    return float(np.copysign(float(r), x))


def assert_same_bits(actual, expected, x, what: str) -> None:
    """actual and expected are the same float64 bit for bit (signed zeros distinguished); NaN wherever NaN."""
    actual, expected, x = (np.asarray(a, dtype=np.float64) for a in (actual, expected, x))
    assert actual.shape == expected.shape == x.shape
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    bad = (nan_a != nan_e) | (~nan_a & ~nan_e & (actual.view(np.uint64) != expected.view(np.uint64)))
    if bad.any():
        idx = np.flatnonzero(bad)[:5]
        lines = [f"x={x[i]!r} ({x[i].hex()}): got {actual[i]!r} ({actual[i].hex()}), "
                 f"expected {expected[i]!r} ({expected[i].hex()})" for i in idx]
        pytest.fail(f"{what}: {bad.sum()} of {bad.size} differ, e.g.\n" + "\n".join(lines))


# ----------------------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------------------

def positive_values(fmt: Format) -> np.ndarray:
    """All finite values >= 0 of float16 or bfloat16, increasing, as float64, from their bit patterns."""
    if fmt == FLOAT16:
        v = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    elif fmt == BFLOAT16:
        v = (np.arange(0, 0x7F80, dtype=np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    else:
        raise AssertionError(fmt)
    assert np.all(np.diff(v) > 0) and v[-1] == fmt.max
    return v


def midpoints(fmt: Format) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, mid, hi): each pair of neighbouring values >= 0 and their midpoint, the last pair (max, max + ulp)."""
    v = positive_values(fmt)
    top = np.ldexp(1.0, fmt.emax + 1)                     # the value past max were the exponent range unbounded
    lo, hi = v, np.append(v[1:], top)
    return lo, (lo + hi) / 2, hi                           # exact: the midpoint has only one more bit


def around(v: np.ndarray) -> np.ndarray:
    """v and its float64 neighbours on both sides."""
    with np.errstate(over="ignore"):
        return np.concatenate([v, np.nextafter(v, -np.inf), np.nextafter(v, np.inf)])


def specials(fmt: Format) -> np.ndarray:
    """Signed zeros, infinities, NaN, float64 subnormals and extremes, and the overflow threshold of fmt."""
    thresh = (fmt.max + np.ldexp(1.0, fmt.emax + 1)) / 2  # max + ulp/2: rounds (to even) to 2^(emax+1): inf
    s = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 2.2250738585072009e-308,
         2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1.0, -1.0,
         fmt.max, thresh, np.nextafter(thresh, 0), np.nextafter(thresh, np.inf), 2 * fmt.max, 1e300,
         fmt.tiny, fmt.smallest, fmt.smallest / 2, np.nextafter(fmt.smallest / 2, 1), fmt.smallest * 1.5]
    s = np.array(s)
    f64_sub = np.arange(1, 2000, dtype=np.uint64).view(np.float64)                # smallest float64 subnormals
    f64_sub2 = (np.uint64((1 << 52) - 1) - np.arange(2000, dtype=np.uint64)).view(np.float64)  # largest ones
    return np.concatenate([s, -s, f64_sub, -f64_sub, f64_sub2, -f64_sub2])


def random_log(rng, n: int, lo: int, hi: int) -> np.ndarray:
    """n random float64 with random sign, |x| = m 2^e, e uniform in [lo, hi), m uniform random bits in [1, 2)."""
    m = ((rng.integers(0, 1 << 52, size=n, dtype=np.uint64)) | np.uint64(1023 << 52)).view(np.float64)
    x = np.ldexp(m, rng.integers(lo, hi, size=n))
    return np.where(rng.random(n) < 0.5, -x, x)


def quiet(bits: np.ndarray) -> np.ndarray:
    """The bit patterns (uint32 or uint64) with every signalling NaN made quiet (its top fraction bit set), so that
    no NumPy operation on them signals 'invalid'; test_signalling_nan covers signalling NaNs on their own."""
    t = bits.dtype.type
    nfrac = 23 if bits.dtype == np.uint32 else 52
    exp_all = t(((1 << (8 if nfrac == 23 else 11)) - 1) << nfrac)
    is_nan = ((bits & exp_all) == exp_all) & ((bits & t((1 << nfrac) - 1)) != 0)
    return np.where(is_nan, bits | t(1 << (nfrac - 1)), bits)


def random_bits(rng, n: int) -> np.ndarray:
    """n float64 with uniformly random bit patterns: every exponent, float64 subnormals, inf and (quiet) NaN."""
    bits = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    return quiet(bits).view(np.float64)


@functools.cache
def hard_values(fmt: Format) -> np.ndarray:
    """All values of fmt and their negatives, the midpoints, and the float64 neighbours of both; plus specials."""
    _, mid, _ = midpoints(fmt)
    v = positive_values(fmt)
    h = np.concatenate([around(mid), around(v[1:]), specials(fmt)])
    return np.concatenate([h, -h])


@functools.cache
def float64_inputs(fmt: Format) -> np.ndarray:
    """Over 10^6 float64 inputs for fmt: hard_values, random values in log scale over the format's whole range
    (and beyond it at both ends), random bit patterns, and midpoints nudged by less than a float32 ulp."""
    rng = np.random.default_rng(SEED + fmt.p)
    _, mid, _ = midpoints(fmt)
    nudge = np.ldexp(mid, -30)                             # below float32's precision relative to mid
    n_hard = hard_values(fmt).size
    n_log = max(1_050_000 - n_hard - 3 * mid.size - 100_000, 500_000)
    x = np.concatenate([
        hard_values(fmt),
        mid + nudge, mid - nudge, -(mid + nudge),
        random_log(rng, n_log, fmt.emin - fmt.p - 3, fmt.emax + 3),
        random_bits(rng, 100_000),
    ])
    assert x.size >= 1_000_000
    return x


# ----------------------------------------------------------------------------------------------------------------
# float16
# ----------------------------------------------------------------------------------------------------------------

F16_GENERIC = FLOAT16._replace(name="f16-generic")


def test_generic_format_takes_the_generic_path():
    """A Format with float16's parameters and another name is not FLOAT16, so round_to scales and uses rint."""
    assert F16_GENERIC != FLOAT16 and F16_GENERIC[1:] == FLOAT16[1:]


def test_float16_cast_generic_and_integer_rounder_agree_bit_for_bit():
    """On over 10^6 float64 values (all float16 values, every midpoint and its float64 neighbours, overflow
    thresholds, zeros, inf, NaN, float64 subnormals, random values over the whole range), round_to via NumPy's
    cast, round_to via the generic scaling method, and the independent integer rounder give the same bits."""
    x = float64_inputs(FLOAT16)
    ref = int_round(x, FLOAT16.p, FLOAT16.emin, FLOAT16.emax)
    assert_same_bits(round_to(x, FLOAT16), ref, x, "float16 (NumPy cast) vs integer rounder")
    assert_same_bits(round_to(x, F16_GENERIC), ref, x, "float16 (generic method) vs integer rounder")
    assert_same_bits(round_to(x, "float16"), ref, x, "float16 by name vs integer rounder")


def test_float16_cases_by_hand():
    """Known float16 roundings: the overflow threshold 65520 (65519.99 stays 65504), the ties at 2049 and 2051
    (to even), the subnormal boundary 2^-25 (tie with 0 -> +0 or -0), and signed zeros, inf and NaN."""
    sub = 2.0 ** -24
    cases = [(65519.99, 65504.0), (65520.0, np.inf), (-65520.0, -np.inf), (np.nextafter(65520.0, 0), 65504.0),
             (65504.0, 65504.0), (1e6, np.inf), (2049.0, 2048.0), (2051.0, 2052.0), (2049.0001, 2050.0),
             (1 + 2.0 ** -11, 1.0), (1 + 3 * 2.0 ** -11, 1 + 2.0 ** -9), (2.0 ** -25, 0.0), (-(2.0 ** -25), -0.0),
             (np.nextafter(2.0 ** -25, 1), sub), (1.5 * sub, 2 * sub), (2.5 * sub, 2 * sub), (5e-324, 0.0),
             (-5e-324, -0.0), (0.0, 0.0), (-0.0, -0.0), (np.inf, np.inf), (-np.inf, -np.inf), (np.nan, np.nan)]
    x = np.array([c[0] for c in cases])
    want = np.array([c[1] for c in cases])
    for fmt in (FLOAT16, F16_GENERIC):
        assert_same_bits(round_to(x, fmt), want, x, f"{fmt.name} hand cases")


@pytest.mark.parametrize("fmt", [FLOAT16, BFLOAT16], ids=["float16", "bfloat16"])
def test_values_are_fixed_and_ties_go_to_even(fmt):
    """Every value of the format (both signs) rounds to itself; every midpoint goes to the neighbour whose last
    bit is even (both parities occur below a midpoint), and just above or below a midpoint goes up or down."""
    lo, mid, hi = midpoints(fmt)
    lo_bits = np.arange(lo.size)                           # the bit pattern's integer = index, from bits 0 up
    even_lo = lo_bits % 2 == 0
    assert even_lo.any() and (~even_lo).any()
    with np.errstate(over="ignore"):
        hi_r = np.where(hi > fmt.max, np.inf, hi)          # max + ulp is out of range: that midpoint goes to inf
        for f in (fmt, fmt._replace(name=fmt.name + "-generic")):
            v = np.concatenate([lo, -lo])
            assert_same_bits(round_to(v, f), v, v, f"{f.name}: values fixed")
            assert_same_bits(round_to(mid, f), np.where(even_lo, lo, hi_r), mid, f"{f.name}: ties to even")
            assert_same_bits(round_to(-mid, f), -np.where(even_lo, lo, hi_r), -mid, f"{f.name}: negative ties")
            up = np.nextafter(mid, np.inf)
            down = np.nextafter(mid, 0)
            assert_same_bits(round_to(up, f), hi_r, up, f"{f.name}: above a tie")
            assert_same_bits(round_to(down, f), lo, down, f"{f.name}: below a tie")


# ----------------------------------------------------------------------------------------------------------------
# bfloat16
# ----------------------------------------------------------------------------------------------------------------

def float32_inputs() -> np.ndarray:
    """Over 10^6 float32 values: every bfloat16 value with its low 16 float32 bits 0x0000, 0x8000 (a tie),
    0x7FFF and 0x8001 (beside a tie) and random; plus random float32 bit patterns (subnormals, inf, NaN too)."""
    rng = np.random.default_rng(SEED)
    hi = np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)   # both signs, NaN and inf patterns included
    low = [np.uint32(0), np.uint32(0x8000), np.uint32(0x7FFF), np.uint32(0x8001),
           rng.integers(0, 1 << 16, size=hi.size, dtype=np.uint32)]
    bits = np.concatenate([hi | lo for lo in low] + [rng.integers(0, 1 << 32, size=700_000, dtype=np.uint32)])
    return quiet(bits).view(np.float32)


def test_bfloat16_matches_ml_dtypes_on_float32_inputs():
    """On over 10^6 float32 values (ties, neighbours of ties, bfloat16 and float32 subnormals, overflow, signed
    zeros, inf, NaN), round_to(x, BFLOAT16) equals ml_dtypes' float32 -> bfloat16 cast, which rounds once."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes provides the reference bfloat16 cast")
    x32 = float32_inputs()
    assert x32.size >= 1_000_000
    x = x32.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x32.astype(ml_dtypes.bfloat16).astype(np.float64)
    assert_same_bits(round_to(x, BFLOAT16), ref, x, "bfloat16 vs ml_dtypes")
    assert_same_bits(round_to(x, "bfloat16"), ref, x, "bfloat16 by name vs ml_dtypes")


def test_bfloat16_matches_integer_rounder_on_float64_inputs():
    """On over 10^6 float64 values (all bfloat16 values, midpoints and their float64 neighbours, midpoints
    nudged by less than a float32 ulp, overflow, subnormals of both formats, random values over the whole
    range and random bit patterns), round_to(x, BFLOAT16) equals the independent integer rounder bit for bit."""
    x = float64_inputs(BFLOAT16)
    ref = int_round(x, BFLOAT16.p, BFLOAT16.emin, BFLOAT16.emax)
    assert_same_bits(round_to(x, BFLOAT16), ref, x, "bfloat16 vs integer rounder")


def test_bfloat16_near_max_and_subnormals():
    """bfloat16 by hand: max (2 - 2^-7) 2^127 stays; max + ulp/2 = (2 - 2^-8) 2^127 is a tie that goes to inf,
    just below it stays max; 2^-134 (half the smallest subnormal) ties to 0, just above it to 2^-133."""
    mx = (2 - 2.0 ** -7) * 2.0 ** 127
    t = (2 - 2.0 ** -8) * 2.0 ** 127
    s = 2.0 ** -133
    cases = [(mx, mx), (t, np.inf), (-t, -np.inf), (np.nextafter(t, 0), mx), (-np.nextafter(t, 0), -mx),
             (2.0 ** 128, np.inf), (s, s), (s / 2, 0.0), (-s / 2, -0.0), (np.nextafter(s / 2, 1), s),
             (1.5 * s, 2 * s), (2.5 * s, 2 * s), (2.0 ** -126 - s / 2, 2.0 ** -126), (5e-324, 0.0)]
    x = np.array([c[0] for c in cases])
    want = np.array([c[1] for c in cases])
    assert_same_bits(round_to(x, BFLOAT16), want, x, "bfloat16 hand cases")


def test_bfloat16_rounds_once_not_through_float32():
    """x = 1 + 2^-8 + 2^-30 lies just above the bfloat16 tie 1 + 2^-8. Rounded once, exactly (Fraction), it
    goes up to 1 + 2^-7; rounded to float32 first it becomes the tie itself, which then goes to even, 1. round_to
    gives the single rounding. ml_dtypes' float64 -> bfloat16 cast gives 1 before 0.7 (it goes through float32)
    and 1 + 2^-7 from 0.7 (it rounds once): round_to does not depend on it."""
    x = 1 + 2.0 ** -8 + 2.0 ** -30
    assert Fraction(x) == 1 + Fraction(1, 2 ** 8) + Fraction(1, 2 ** 30)
    exact = frac_round(x, BFLOAT16)
    assert Fraction(exact) == 1 + Fraction(1, 2 ** 7)                         # nearest: above the tie
    assert abs(Fraction(exact) - Fraction(x)) < abs(1 - Fraction(x))
    via32 = float(np.float32(x))
    assert via32 == 1 + 2.0 ** -8                                              # float32 lands on the tie
    double = frac_round(via32, BFLOAT16)
    assert double == 1.0 and double != exact                                   # tie to even: the wrong answer
    assert float(round_to(np.array([x]), BFLOAT16)[0]) == exact
    assert float(round_to(np.array([-x]), BFLOAT16)[0]) == -exact
    for y in (x, -x):                                                          # also far from 1, in subnormals
        for scale in (2.0 ** 100, 2.0 ** -130):
            v = y * scale
            assert float(round_to(np.array([v]), BFLOAT16)[0]) == frac_round(v, BFLOAT16)
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes' float64 -> bfloat16 cast is compared")
    cast = float(np.array([x]).astype(ml_dtypes.bfloat16).astype(np.float64)[0])
    if tuple(int(p) for p in ml_dtypes.__version__.split(".")[:2]) >= (0, 7):
        assert cast == exact                                                   # ml_dtypes >= 0.7: rounds once
    else:
        assert cast == double                                                  # ml_dtypes < 0.7: via float32


# ----------------------------------------------------------------------------------------------------------------
# Exact rational reference
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [FLOAT16, BFLOAT16], ids=["float16", "bfloat16"])
def test_matches_exact_fraction_rounder_on_hard_values(fmt):
    """On about 4000 hard values (midpoints, their float64 neighbours, the subnormal range, the overflow
    threshold, specials), round_to and the integer rounder both equal the nearest value found in exact rational
    arithmetic, ties to even: a third, independent source."""
    rng = np.random.default_rng(SEED + 7)
    lo, mid, hi = midpoints(fmt)
    sub_n = int(np.sum(lo < fmt.tiny))
    picks = [around(mid[:40]), around(mid[sub_n - 20: sub_n + 20]), around(mid[-40:]),   # subnormal, edge, top
             around(rng.choice(mid, 800, replace=False)), specials(fmt)[:50],
             rng.choice(float64_inputs(fmt), 600, replace=False)]
    x = np.concatenate(picks)
    x = np.concatenate([x, -x])
    assert x.size >= 3000
    want = np.array([frac_round(float(v), fmt) for v in x])
    assert_same_bits(round_to(x, fmt), want, x, f"{fmt.name} vs Fraction rounder")
    assert_same_bits(round_to(x, fmt._replace(name="generic")), want, x, f"generic {fmt.name} vs Fraction")
    assert_same_bits(int_round(x, fmt.p, fmt.emin, fmt.emax), want, x, f"integer rounder {fmt.name} vs Fraction")


def test_integer_rounder_matches_numpy_float32_cast():
    """A check of the reference itself: the integer rounder with float32's parameters equals NumPy's float64 ->
    float32 cast on random float64 values, ties and float32 subnormals included (and so does round_to)."""
    rng = np.random.default_rng(SEED + 32)
    f32 = rng.integers(0, 0x7F800000, size=100_000, dtype=np.uint32).view(np.float32).astype(np.float64)
    ties = f32 + np.ldexp(1.0, np.frexp(f32)[1] - 25).clip(2.0 ** -150)         # midpoints above each value
    x = np.concatenate([around(ties), random_log(rng, 100_000, -155, 131), random_bits(rng, 50_000)])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float32).astype(np.float64)
    assert_same_bits(int_round(x, FLOAT32.p, FLOAT32.emin, FLOAT32.emax), ref, x, "integer rounder vs float32")
    assert_same_bits(round_to(x, FLOAT32), ref, x, "round_to float32 vs NumPy cast")


# ----------------------------------------------------------------------------------------------------------------
# Format constants, get_format, is_subnormal
# ----------------------------------------------------------------------------------------------------------------

def test_format_constants_match_published_values():
    """max, tiny (smallest normal), smallest (subnormal) and u = 2^-p for the four formats equal IEEE 754 /
    published values, and np.finfo for float16, float32 and float64."""
    published = {
        "float16": (65504.0, 2.0 ** -14, 2.0 ** -24, 2.0 ** -11),
        "bfloat16": ((2 - 2.0 ** -7) * 2.0 ** 127, 2.0 ** -126, 2.0 ** -133, 2.0 ** -8),
        "float32": ((2 - 2.0 ** -23) * 2.0 ** 127, 2.0 ** -126, 2.0 ** -149, 2.0 ** -24),
        "float64": (1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, 2.0 ** -53),
    }
    assert FORMATS == {"float16": FLOAT16, "bfloat16": BFLOAT16, "float32": FLOAT32, "float64": FLOAT64}
    assert float(FORMATS["bfloat16"].max) == 3.3895313892515355e38
    for name, (mx, tiny, smallest, u) in published.items():
        f = FORMATS[name]
        assert (f.max, f.tiny, f.smallest, f.u) == (mx, tiny, smallest, u), name
    for f, dt in ((FLOAT16, np.float16), (FLOAT32, np.float32), (FLOAT64, np.float64)):
        fi = np.finfo(dt)
        assert f.max == float(fi.max) and f.tiny == float(fi.smallest_normal), f.name
        assert f.smallest == float(fi.smallest_subnormal) and f.u == float(fi.eps) / 2, f.name
        assert f.p == fi.nmant + 1 and f.emin == fi.minexp and f.emax == fi.maxexp - 1, f.name


def test_bfloat16_constants_match_ml_dtypes_finfo():
    """BFLOAT16's max, tiny, smallest and u agree with ml_dtypes.finfo(bfloat16)."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes provides finfo for bfloat16")
    fi = ml_dtypes.finfo(ml_dtypes.bfloat16)
    assert BFLOAT16.max == float(fi.max) and BFLOAT16.tiny == float(fi.smallest_normal)
    assert BFLOAT16.smallest == float(fi.smallest_subnormal) and BFLOAT16.u == float(fi.eps) / 2
    assert BFLOAT16.p == fi.nmant + 1 and BFLOAT16.emin == fi.minexp and BFLOAT16.emax == fi.maxexp - 1


def test_get_format_refuses_unknown_names():
    """get_format returns each known format and raises a ValueError naming the rejected argument; round_to
    given an unknown name raises the same."""
    for name, f in FORMATS.items():
        assert get_format(name) is f
    with pytest.raises(ValueError, match="'float8'"):
        get_format("float8")
    with pytest.raises(ValueError, match="'FLOAT16'"):
        get_format("FLOAT16")
    with pytest.raises(ValueError, match="'half'"):
        round_to(np.ones(3), "half")


def test_signalling_nan():
    """A signalling NaN (float64 bits 0x7FF0000000000001, either sign) rounds to NaN in every format and path.
    (NumPy's frexp and float32 cast signal 'invalid' on it, as IEEE 754 lets them, so it is ignored here.)"""
    snan = np.array([0x7FF0000000000001, 0xFFF0000000000001, 0x7FF4000000000000], dtype=np.uint64).view(np.float64)
    with np.errstate(invalid="ignore"):
        for f in (FLOAT16, F16_GENERIC, BFLOAT16, FLOAT32, FLOAT64):
            assert np.isnan(round_to(snan, f)).all(), f.name
        assert np.isnan(int_round(snan, BFLOAT16.p, BFLOAT16.emin, BFLOAT16.emax)).all()


def test_float64_is_the_identity_and_is_subnormal():
    """round_to(x, FLOAT64) returns x unchanged (a copy); is_subnormal flags exactly the nonzero values below
    the format's smallest normal."""
    x = np.array([0.0, -0.0, 5e-324, 1.0, np.inf, np.nan, 2.0 ** -14, 2.0 ** -15, -(2.0 ** -24), 65504.0])
    r = round_to(x, FLOAT64)
    assert r is not x
    assert_same_bits(r, x, x, "float64 identity")
    assert is_subnormal(x, FLOAT16).tolist() == [False, False, True, False, False, False, False, True, True, False]
