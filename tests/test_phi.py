"""Accuracy of the vectorisable nonlinearities (issue 12): at most 4 ulp from an
independent reference on 10^7 points, float64 and float32, including the special values.

References: numpy.tanh for tanh (as the issue states); for the others, the formula
evaluated in extended precision (np.longdouble, 64-bit mantissa on x86) and rounded once.
float32 results are compared with the float64 reference rounded to float32.
"""
import numba
import numpy as np
import pytest

import ctrnn
from ctrnn._kernels import phi as k

# the references are evaluated in x87 extended precision; where np.longdouble is just
# float64 (Windows, macOS on arm64) they would carry 1-2 ulp of error themselves
pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                                reason="np.longdouble has no extended precision here")

SPECIALS = [0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, 2.2250738585072014e-308,
            -1e-310, 1e-310, 20.0, -20.0, 710.0, -710.0, 745.0, -745.0, 746.0, -746.0,
            np.inf, -np.inf, 0.625, -0.625, np.nextafter(0.625, 0), 1e308, -1e308,
            0.3, -0.3, 1.0, -1.0, 19.06, 36.7, -36.7, 88.7, -88.7, 103.9, -103.9]


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(12)
    x = np.concatenate([
        rng.uniform(-30, 30, 5_000_000),  # where the functions bend
        np.sign(rng.standard_normal(5_000_000)) * 10.0 ** rng.uniform(-323, 308.2, 5_000_000),
        SPECIALS])
    return x


def _ordered(a):
    it = np.int64 if a.dtype == np.float64 else np.int32
    i = a.view(it).astype(np.int64)
    return np.where(i < 0, np.int64(np.iinfo(it).min) - i, i)


def ulp_distance(got, ref):
    """|got - ref| in units in the last place (0 when both are NaN; huge when one is)."""
    d = np.abs(_ordered(got) - _ordered(ref))
    nan_g, nan_r = np.isnan(got), np.isnan(ref)
    d[nan_g & nan_r] = 0
    d[nan_g != nan_r] = 2 ** 60
    return d


def reference(name, x):
    """The float64 reference of ``name`` at float64 points x."""
    L = np.longdouble
    xl = x.astype(L)
    with np.errstate(all="ignore"):
        e1 = np.exp(-np.abs(xl))
        e2 = np.exp(-2 * np.abs(xl))
        sig = np.where(xl >= 0, 1, e1) / (1 + e1)
        ref = {"tanh": lambda: np.tanh(x),
               "sigmoid": lambda: sig,
               "softplus": lambda: np.maximum(xl, 0) + np.log1p(e1),
               "dtanh": lambda: 4 * e2 / (1 + e2) ** 2,  # 1 / cosh^2, without overflow
               "dsigmoid": lambda: e1 / (1 + e1) ** 2,
               "dsoftplus": lambda: sig}[name]()
    return np.asarray(ref).astype(np.float64)


CASES = [("tanh", k.TANH, False), ("sigmoid", k.SIGMOID, False), ("softplus", k.SOFTPLUS, False),
         ("dtanh", k.TANH, True), ("dsigmoid", k.SIGMOID, True), ("dsoftplus", k.SOFTPLUS, True)]


@pytest.mark.parametrize("name, code, derivative", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_within_4_ulp_on_ten_million_points(points, name, code, derivative, dtype):
    with np.errstate(over="ignore"):
        x = points.astype(dtype)
    got = (k.dphi_array if derivative else k.phi_array)(code, x)
    assert_within_4_ulp(got, x, name, dtype)


def assert_within_4_ulp(got, x, name, dtype):
    """got = name(x) within 4 ulp of ``reference`` (float32: rounded from float64)."""
    ref = reference(name, x.astype(np.float64))
    if dtype == np.float32:
        with np.errstate(over="ignore"):
            ref = ref.astype(np.float32)
    assert got.dtype == dtype
    d = ulp_distance(got, ref)
    worst = int(np.argmax(d))
    assert d.max() <= 4, f"{name} {np.dtype(dtype).name}: {d.max()} ulp at x = {x[worst]!r}"


SCALAR = {"tanh": k.tanh, "sigmoid": k.sigmoid, "softplus": k.softplus}


@pytest.mark.parametrize("name", list(SCALAR))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scalar_forms_within_4_ulp_on_ten_million_points(points, name, dtype):
    """The scalar functions (called one element at a time, e.g. by the LSTM kernels; rows
    go through the vector forms, tested above through phi_array)."""
    f = SCALAR[name]

    @numba.njit
    def loop(x):
        y = np.empty_like(x)
        for i in range(x.size):
            y[i] = f(x[i])
        return y

    with np.errstate(over="ignore"):
        x = points.astype(dtype)
    assert_within_4_ulp(loop(x), x, name, dtype)


@pytest.mark.parametrize("code", [k.TANH, k.SIGMOID, k.SOFTPLUS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_row_length_and_offset_is_mapped_once(code, dtype):
    """Rows run in whole vectors, the last one overlapping the one before: each element of
    rows of 1 to 40 elements, starting at every row of a 2-d array, is mapped exactly once
    (mapping one twice gives phi(phi(x)), which is far from phi(x); ReLU is left out:
    applied twice it is the same)."""
    from ctrnn._kernels._jit import jit
    from ctrnn._kernels.phi import apply_phi_row

    @jit(cache=False)
    def rows(F, n):
        for r in range(F.shape[0]):
            apply_phi_row(code, F, r, n)

    rng = np.random.default_rng(3)
    for n in range(1, 41):
        F = rng.uniform(-3, 3, (3, 41)).astype(dtype)
        want = k.phi_array(code, F[:, :n].astype(np.float64)).astype(dtype)
        got = F.copy()
        rows(got, n)
        assert ulp_distance(got[:, :n], want).max() <= 4, (n, code)
        np.testing.assert_array_equal(got[:, n:], F[:, n:])  # beyond n: untouched


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "relu", "linear",
                                  "tanh_libm", "sigmoid_libm", "softplus_libm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_stays_nan_and_infinities_give_the_limits(name, dtype):
    phi = ctrnn.get_phi(name)
    limits = {"tanh": (1, -1), "sigmoid": (1, 0), "softplus": (np.inf, 0), "relu": (np.inf, 0),
              "linear": (np.inf, -np.inf)}[name.replace("_libm", "")]
    # 3 values (the scalar loops), and tiled to 41 (whole vectors and the overlapping tail)
    for reps in (1, 14):
        x = np.tile(np.array([np.nan, np.inf, -np.inf], dtype), reps)[:max(3, 41 * (reps > 1))]
        y = k.phi_array(phi.code, x)
        dy = k.dphi_array(phi.code, x)
        assert np.isnan(y[::3]).all() and np.isnan(dy[::3]).all(), name
        np.testing.assert_array_equal(y[1::3], limits[0])
        np.testing.assert_array_equal(y[2::3], limits[1])


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus"])
def test_libm_form_is_selectable_and_agrees(name):
    x = np.linspace(-40, 40, 100_001)
    fast, libm = ctrnn.get_phi(name), ctrnn.get_phi(name + "_libm")
    assert libm.name == name + "_libm" and libm.code != fast.code
    assert ulp_distance(fast(x), libm(x)).max() <= 6  # each within ~2-4 ulp of the truth
    # the libm derivatives lose digits to cancellation (1 - tanh^2 where tanh ~ 1), so an
    # absolute bound: both agree to round-off of 1
    np.testing.assert_allclose(fast.derivative(x), libm.derivative(x), rtol=0, atol=4e-16)


def test_signed_zero_is_kept():
    for code in (k.TANH, k.TANH_LIBM):
        for dtype in (np.float64, np.float32):
            for n in (2, 41):  # the scalar loop; whole vectors and the overlapping tail
                y = k.phi_array(code, np.tile(np.array([-0.0, 0.0], dtype), 21)[:n])
                assert np.signbit(y[::2]).all() and not np.signbit(y[1::2]).any(), (code, n)


def test_float32_tanh_is_float32_code():
    """The float32 tanh computes in float32: no conversion to float64 in its loop."""
    from ctrnn._kernels._jit import jit

    @jit(cache=False)
    def loop(x):
        for i in range(x.size):
            x[i] = k.tanh(x[i])

    x = np.linspace(-5, 5, 1001, dtype=np.float32)
    y = x.copy()
    loop(y)
    assert y.dtype == np.float32
    assert ulp_distance(y, np.tanh(x.astype(np.float64)).astype(np.float32)).max() <= 4
    ir = loop.inspect_llvm(loop.signatures[0])
    assert "fpext" not in ir and "double" not in ir.split("define")[1].split("}")[0]
