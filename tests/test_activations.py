"""Each activation's backward equals the derivative of its forward, and nothing overflows."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.activations import ACTIVATIONS, get_activation

NAMES = list(ACTIVATIONS)



@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63, reason="needs 80-bit long doubles")
def test_sigmoid_is_within_two_ulps_of_extended_precision_and_underflows_to_zero_without_a_warning():
    """σ = 1/(1 + e^{−Z}) against the same function in 64-bit-mantissa long doubles (11 more
    bits than float64, so rounded it is the correctly rounded σ but for rare ties): within
    2 ulps on (−708, 708), and float32 against it within 2 float32 ulps. Far below, where
    e^{−Z} would overflow, σ stays within 1e-307 of its true value (1e-38 in float32), with
    no overflow and no warning (warnings are errors here, and overflow is made to raise)."""
    sigmoid = get_activation("sigmoid").forward
    Z = np.linspace(-708, 708, 20_001)[np.newaxis, :]
    exact = (1 / (1 + np.exp(-Z.astype(np.longdouble))))
    ulps = np.abs(sigmoid(Z) - exact.astype(np.float64)) / np.spacing(exact.astype(np.float64))
    assert ulps.max() <= 2
    Z32 = np.linspace(-87, 87, 2_001, dtype=np.float32)[np.newaxis, :]
    A32 = sigmoid(Z32)
    assert A32.dtype == np.float32
    exact32 = (1 / (1 + np.exp(-Z32.astype(np.longdouble)))).astype(np.float32)
    assert (np.abs(A32 - exact32) / np.spacing(exact32)).max() <= 2
    far = np.array([[-709.9, -745.0, -1e300]])
    with np.errstate(over="ignore"):                            # e^{1e300} is inf even in long double: σ ≈ 0
        exact = 1 / (1 + np.exp(-far.astype(np.longdouble)))
    with np.errstate(over="raise", under="ignore"):
        A = np.full_like(far, np.nan)
        assert get_activation("sigmoid").forward(far, out=A) is A
        far32 = np.array([[-88.0, -100.0, -1e30]], dtype=np.float32)
        A32 = sigmoid(far32)
    assert np.all(np.abs(A - exact.astype(np.float64)) < 1e-307) and np.all(A >= 0)
    assert A32.dtype == np.float32 and np.all(A32 < 1e-38) and np.all(A32 >= 0)

@pytest.mark.parametrize("name", NAMES)
def test_backward_is_the_chain_rule_through_g(name, rng):
    """dZ = Jᵀ dA, with the Jacobian J measured by central differences of forward."""
    g = get_activation(name)
    Z = rng.standard_normal((4, 3)) * 2
    Z[np.abs(Z) < 1e-3] = 0.5  # away from relu's kink
    dA = rng.standard_normal(Z.shape)
    h = 1e-6
    expected = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):  # dZ_idx = Σ dA ⊙ ∂A/∂Z_idx
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        expected[idx] = np.sum(dA * (g.forward(Zp) - g.forward(Zm))) / (2 * h)
    np.testing.assert_allclose(g.backward(dA, Z, g.forward(Z)), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_stable_at_large_Z(name):
    """|Z| = 1e4 gives finite values in range and no overflow warning (warnings are errors here)."""
    g = get_activation(name)
    Z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4], [1e4, 1e4, -1e4, 3.0, -3.0]])
    A = g.forward(Z)
    assert np.all(np.isfinite(A))
    assert np.all(np.isfinite(g.backward(np.ones_like(Z), Z, A)))
    if name in ("sigmoid", "softmax"):
        assert A.min() >= 0 and A.max() <= 1


def test_known_values():
    """Published decimal values (σ(−2), σ(3), tanh(−2), tanh(3) to 16 digits) and hand values."""
    Z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(get_activation("sigmoid").forward(Z),
                               [[0.1192029220221176, 0.5, 0.9525741268224334]], rtol=1e-15)
    np.testing.assert_allclose(get_activation("relu").forward(Z), [[0, 0, 3]])
    np.testing.assert_allclose(get_activation("leaky_relu").forward(Z), [[-0.02, 0, 3]])
    np.testing.assert_allclose(get_activation("tanh").forward(Z),
                               [[-0.9640275800758169, 0.0, 0.9950547536867305]], rtol=1e-15)
    S = get_activation("softmax").forward(np.array([[0.0, 1e4], [np.log(3.0), 1e4]]))
    np.testing.assert_allclose(S, [[0.25, 0.5], [0.75, 0.5]])
    assert get_activation("sigmoid").forward(np.array([[1e4]]))[0, 0] == 1.0
    assert 0 <= get_activation("sigmoid").forward(np.array([[-1e4]]))[0, 0] < 1e-307        # σ(−1e4) ≈ 0


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    g = get_activation(name)
    Z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    A = g.forward(Z)
    assert A.dtype == np.float32
    assert g.backward(np.ones_like(Z), Z, A).dtype == np.float32


def test_one_registry_and_clear_errors():
    assert set(cr.HIDDEN_ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "identity"}
    assert not ACTIVATIONS["softmax"].hidden
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        get_activation("swish")
