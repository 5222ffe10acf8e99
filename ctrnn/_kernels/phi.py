"""Nonlinearities phi and their derivatives, applied elementwise to arrays.

Built-in functions are selected by an integer code (see ``ctrnn.nonlinearities``), so the
kernels that call them have plain integer arguments and stay in Numba's disk cache. A
user-supplied Numba function is passed as the dispatcher itself; ``apply_phi`` then
compiles to a loop that calls it (specialised per function, not cached across processes).

The built-ins are written branch-free (both sides computed, then selected) with their
own range reduction, so that LLVM vectorises a loop over neurons: libm's tanh, exp and
log1p are scalar calls that do not (Numba has no vector math library on most platforms);
a loop of 100 ``math.tanh`` calls costs ~1.4 us, more than the rest of a step of a
100-neuron network. Each function divides once (softplus: twice). Accuracy, measured by
tests/test_phi.py on 10^7 points including 0, subnormals, +-20, +-710 and +-inf, in units
in the last place (ulp) of the result:

============  =====================================  ================================
function      float64, against                       float32 (computed in), against
============  =====================================  ================================
tanh          <= 4 ulp from numpy.tanh               float32; float64 tanh rounded
sigmoid       <= 4 ulp from the extended-precision   float32; float64 reference rounded
              value 1 / (1 + e^-z)
softplus      <= 4 ulp from log(1 + e^z) (extended)  float64, rounded once
derivatives   <= 4 ulp from the extended-precision   float64, rounded once
              derivative
============  =====================================  ================================

(the measured maxima are in the docstring of ``ctrnn.nonlinearities``). NaN stays NaN and
+-inf give the limits, so a blow-up is still seen. The libm forms stay available as
``tanh_libm``, ``sigmoid_libm`` and ``softplus_libm`` for comparison.

Two forms of tanh, sigmoid and ReLU: the scalar functions (``tanh(x)``, for loops that
take one element at a time, which LLVM vectorises where it can) and the same operations
on SIMD vectors (``vphi``, ``simd.Vec``), which ``apply_phi_row`` (every row the kernels
map, and ``phi_array``) and the fused pass ``dense.finish`` run in whole vectors of 8
(float64) or 16 (float32) lanes. The loop vectoriser chose 256-bit vectors here and left a scalar
tail of up to 15 elements; in whole vectors, tanh of 100 float64 values takes ~0.15 us
instead of ~0.22. Both forms are held to the same 4 ulp bound (tests/test_phi.py).

Methods: exp by Cody-Waite range reduction e^y = 2^k e^r, |r| <= ln2 / 2, with a Taylor
polynomial (degree 13 in float64, 7 in float32) and 2^k built from its bits. float64
tanh |z| = -m / (2 + m) with m = e^{-2|z|} - 1 = 2^k (e^r - 1) + (2^k - 1), e^r - 1 by a
minimax polynomial of degree 11: 30 vector operations where the Cephes rational below
0.625 and 1 - 2 e / (1 + e) above, both computed and one selected, took 41 (16,000
values: 16.3 us against 24.3 on the AMD EPYC of benchmarks/README.md), at 3 ulp at most
against 2 (80% of the test points exact against 94%). float32 tanh for |z| < 0.625 by
the polynomial form of Cephes (Moshier 1989), and as 1 - 2 e / (1 + e), e = e^{-2|z|},
above; log1p of e in [0, 1] as in fdlibm
(Sun Microsystems 1993): 1 + e = 2^k m, log m = f - (f^2/2 - s (f^2/2 + R(s^2))),
s = f / (2 + f), plus the rounding correction (e - ((1 + e) - 1)) / (1 + e).
"""
import math

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import FASTMATH, jit
from .simd import (bits_float, float_bits, lanes, vabs, vadd, vdiv, veq, vfma, vge, vgt, vload,
                   vlt, vmul, vne, vscale_bits, vselect, vsplat, vstore, vsub)

LINEAR, TANH, RELU, SIGMOID, SOFTPLUS = 0, 1, 2, 3, 4
TANH_LIBM, SIGMOID_LIBM, SOFTPLUS_LIBM = 5, 6, 7

_OPTS = dict(fastmath=set(FASTMATH), error_model="numpy")

# --- float64 -----------------------------------------------------------------------------
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_ROUND = 6755399441055744.0  # 1.5 * 2**52: y + _ROUND rounds y to an integer, in its bits
_ROUND_BITS = np.int64(0x4338000000000000)  # the bits of _ROUND
_TWO_M64 = 5.421010862427522e-20  # 2**-64
# q(r) = (e^r - 1 - r) / r^2 on |r| <= ln2 / 2 (``_expm1_neg64``): minimax of degree 9
# (Remez exchange in 40-digit arithmetic, mpmath), coefficients rounded to float64; then
# r + r^2 q(r) is within 4.4e-17 (0.4 ulp) of e^r - 1 relative
_E0, _E1, _E2 = 0.5000000000000001, 0.16666666666666674, 0.04166666666662412
_E3, _E4, _E5 = 0.008333333333322207, 0.0013888888917215386, 0.00019841269886593598
_E6, _E7, _E8 = 2.480152129374048e-05, 2.755724233407738e-06, 2.7620089364974056e-07
_E9 = 2.511005077989078e-08
_EXPM1_MIN = -40.0  # e^y - 1 rounds to -1 below (y = -2 |x|: tanh(x) to +-1 above 20)
_SQRT2 = 1.4142135623730951
_LG1, _LG2 = 6.666666666666735130e-01, 3.999999999940941908e-01
_LG3, _LG4 = 2.857142874366239149e-01, 2.222219843214978396e-01
_LG5, _LG6 = 1.818357216161805012e-01, 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@jit(forceinline=True)
def _reduce64(y):
    """(kr, r) with y = k ln 2 + r, |r| <= ln2 / 2: k = round(y / ln 2) held in the low
    bits of kr, r with ln 2 in two parts (Cody-Waite)."""
    kr = y * _INV_LN2 + _ROUND
    kf = kr - _ROUND
    return kr, (y - kf * _LN2_HI) - kf * _LN2_LO


@jit(forceinline=True)
def _exp_neg64(y):
    """e^y for y <= 0 (down to subnormal results; 0 below -746; NaN -> garbage, callers
    select NaN themselves). Branch-free."""
    kr, r = _reduce64(max(y, -746.0))
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (
            1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600 + r * (
                1 / 6227020800)))))))))))))
    k = float_bits(kr) - _ROUND_BITS
    # 2^(k + 64) is a normal number for every k >= -1076; the final product by 2^-64 is
    # exact for normal results and rounds once for subnormal ones
    return (p * bits_float((k + np.int64(1087)) << np.int64(52))) * _TWO_M64


@jit(forceinline=True)
def _expm1_neg64(y):
    """e^y - 1 for _EXPM1_MIN <= y <= 0: e^y = 2^k e^r as in ``_exp_neg64``, then
    2^k (e^r - 1) + (2^k - 1) with one rounding; -58 <= k <= 0, so 2^k is a normal
    number, and 2^k - 1 is exact for k >= -53 (below, it rounds to -1, as e^y - 1
    does)."""
    kr, r = _reduce64(y)
    q = _E0 + r * (_E1 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * (
        _E7 + r * (_E8 + r * _E9))))))))
    p = r + (r * r) * q  # e^r - 1
    k = float_bits(kr) - _ROUND_BITS
    s = bits_float((k + np.int64(1023)) << np.int64(52))  # 2^k, a normal number
    return s * p + (s - 1.0)


@jit(forceinline=True)
def _tanh64(x):
    # tanh |x| = -m / (2 + m), m = e^(-2|x|) - 1: one exp-like evaluation, one division,
    # no cancellation (m is accurate relative to itself, also where it is tiny)
    m = _expm1_neg64(max(-2.0 * abs(x), _EXPM1_MIN))
    t = m / (-2.0 - m)
    t = t if x >= 0 else -t
    return t if x == x and x != 0 else x  # NaN stays NaN; -0 stays -0


@jit(forceinline=True)
def _dtanh64(x):
    # sech^2 = 4 e / (1 + e)^2 with e = e^{-2|x|}: no cancellation (1 - tanh^2 has it)
    e = _exp_neg64(-2.0 * abs(x))
    q = 1.0 + e
    d = (4.0 * e) / (q * q)
    return d if x == x else x


@jit(forceinline=True)
def _sigmoid64(x):
    e = _exp_neg64(-abs(x))
    s = (1.0 if x >= 0 else e) / (1.0 + e)
    return s if x == x else x


@jit(forceinline=True)
def _dsigmoid64(x):
    e = _exp_neg64(-abs(x))
    q = 1.0 + e
    d = e / (q * q)
    return d if x == x else x


@jit(forceinline=True)
def _log1p_unit64(e):
    """log(1 + e) for e in [0, 1] (fdlibm's log, with the rounding correction of 1 + e)."""
    u = 1.0 + e
    c = e - (u - 1.0)  # exact: 1 + e = u + c
    big = u > _SQRT2
    m = u * 0.5 if big else u
    k = 1.0 if big else 0.0
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    R = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    hfsq = 0.5 * f * f
    logm = f - (hfsq - s * (hfsq + R))
    return k * _LN2_HI + ((logm + k * _LN2_LO) + c / u)


@jit(forceinline=True)
def _softplus64(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
    y = max(x, 0.0) + _log1p_unit64(_exp_neg64(-abs(x)))
    return y if x == x else x


# --- float32 -----------------------------------------------------------------------------
_f = np.float32
_LN2_HI32, _LN2_LO32 = _f(0.693359375), _f(-2.12194440e-4)  # Cephes expf's split of ln 2
_INV_LN2_32 = _f(1.44269504088896341)
_ROUND32 = _f(12582912.0)  # 1.5 * 2**23
_ROUND32_BITS = np.int32(0x4B400000)
_TWO_M64_32 = _f(5.421010862427522e-20)
_C = [_f(1.0 / math.factorial(n)) for n in range(8)]
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7 = _C
_T1, _T2, _T3 = _f(-3.33332819422e-1), _f(1.33314422036e-1), _f(-5.37397155531e-2)
_T4, _T5 = _f(2.06390887954e-2), _f(-5.70498872745e-3)  # Cephes tanhf
_ONE32, _TWO32, _ZERO32 = _f(1.0), _f(2.0), _f(0.0)
_SMALL32, _CLAMP32 = _f(0.625), _f(-104.0)


@jit(forceinline=True)
def _exp_neg32(y):
    """e^y for float32 y <= 0, in float32 (as ``_exp_neg64``)."""
    y = max(y, _CLAMP32)
    kr = y * _INV_LN2_32 + _ROUND32
    kf = kr - _ROUND32
    r = (y - kf * _LN2_HI32) - kf * _LN2_LO32
    p = _C0 + r * (_C1 + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    k = np.int32(float_bits(kr) - _ROUND32_BITS)
    return (p * bits_float(np.int32((k + np.int32(191)) << np.int32(23)))) * _TWO_M64_32


@jit(forceinline=True)
def _tanh32(x):
    a = abs(x)
    e = _exp_neg32(-_TWO32 * a)
    z = x * x
    small = x + x * z * (_T1 + z * (_T2 + z * (_T3 + z * (_T4 + z * _T5))))
    big = _ONE32 - (_TWO32 * e) / (_ONE32 + e)
    big = big if x >= _ZERO32 else -big
    t = small if a < _SMALL32 else big
    return t if x == x and x != _ZERO32 else x  # NaN stays NaN; -0 stays -0


@jit(forceinline=True)
def _sigmoid32(x):
    e = _exp_neg32(-abs(x))
    s = (_ONE32 if x >= _ZERO32 else e) / (_ONE32 + e)
    return s if x == x else x


# --- the same functions on SIMD vectors (``simd.Vec``), for the loops over a row -----------
# Each is the scalar function above, operation for operation, written with explicit vector
# operations (the loop vectoriser picks 256-bit vectors on this machine and leaves a scalar
# tail of up to 15 elements, each a ~40-cycle tanh; these run in full 8 or 16 lanes, and
# ``apply_phi_row`` covers a row's tail with one overlapping vector). Multiply-adds are
# fused exactly where vfma says so.

@jit(forceinline=True)
def _vreduce64(y):
    """``_reduce64`` lane by lane, its multiply-adds fused."""
    z = vsplat(0.0, y)
    kr = vfma(y, vsplat(_INV_LN2, z), vsplat(_ROUND, z))
    kf = vsub(kr, vsplat(_ROUND, z))
    r = vfma(kf, vsplat(-_LN2_HI, z), y)
    return kr, vfma(kf, vsplat(-_LN2_LO, z), r)


@jit(forceinline=True)
def _vexp_neg64(y):
    z = vsplat(0.0, y)
    lo = vsplat(-746.0, z)
    kr, r = _vreduce64(vselect(vgt(y, lo), y, lo))  # NaN -> -746: callers select NaN
    p = vsplat(1 / 6227020800, z)  # Taylor to degree 13, by Horner's rule
    for c in (1 / 479001600, 1 / 39916800, 1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040,
              1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1.0, 1.0):
        p = vfma(p, r, vsplat(c, z))
    s = vscale_bits(kr, 1087 - _ROUND_BITS)  # as _exp_neg64's (k + 1087) << 52
    return vmul(vmul(p, s), vsplat(_TWO_M64, z))


@jit(forceinline=True)
def _vexpm1_neg64(y):
    z = vsplat(0.0, y)
    kr, r = _vreduce64(y)
    q = vsplat(_E9, z)
    for c in (_E8, _E7, _E6, _E5, _E4, _E3, _E2, _E1, _E0):
        q = vfma(q, r, vsplat(c, z))
    p = vfma(vmul(r, r), q, r)
    s = vscale_bits(kr, 1023 - _ROUND_BITS)  # 2^k
    return vfma(s, p, vsub(s, vsplat(1.0, z)))


@jit(forceinline=True)
def _vtanh64(x):
    z0 = vsplat(0.0, x)
    y = vmul(vabs(x), vsplat(-2.0, z0))
    lo = vsplat(_EXPM1_MIN, z0)
    m = _vexpm1_neg64(vselect(vgt(y, lo), y, lo))  # NaN -> the clamp: selected below
    t = vdiv(m, vsub(vsplat(-2.0, z0), m))
    t = vselect(vge(x, z0), t, vmul(t, vsplat(-1.0, z0)))
    return vselect(vne(x, z0), t, x)  # NaN stays NaN; -0 stays -0


@jit(forceinline=True)
def _vsigmoid64(x):
    z0 = vsplat(0.0, x)
    one = vsplat(1.0, z0)
    e = _vexp_neg64(vmul(vabs(x), vsplat(-1.0, z0)))
    s = vdiv(vselect(vge(x, z0), one, e), vadd(one, e))
    return vselect(veq(x, x), s, x)  # NaN stays NaN


@jit(forceinline=True)
def _vexp_neg32(y):
    z = vsplat(0.0, y)
    lo = vsplat(_CLAMP32, z)
    y = vselect(vgt(y, lo), y, lo)
    kr = vfma(y, vsplat(_INV_LN2_32, z), vsplat(_ROUND32, z))
    kf = vsub(kr, vsplat(_ROUND32, z))
    r = vfma(kf, vsplat(-_LN2_HI32, z), y)
    r = vfma(kf, vsplat(-_LN2_LO32, z), r)
    p = vsplat(_C7, z)
    for c in (_C6, _C5, _C4, _C3, _C2, _C1, _C0):
        p = vfma(p, r, vsplat(c, z))
    s = vscale_bits(kr, 191 - _ROUND32_BITS)  # as _exp_neg32's (k + 191) << 23
    return vmul(vmul(p, s), vsplat(_TWO_M64_32, z))


@jit(forceinline=True)
def _vtanh32(x):
    z0 = vsplat(0.0, x)
    one = vsplat(_ONE32, z0)
    a = vabs(x)
    e = _vexp_neg32(vmul(a, vsplat(-_TWO32, z0)))
    z = vmul(x, x)
    q = vsplat(_T5, z0)
    for c in (_T4, _T3, _T2, _T1):
        q = vfma(q, z, vsplat(c, z0))
    small = vfma(vmul(x, z), q, x)
    big = vsub(one, vdiv(vmul(vsplat(_TWO32, z0), e), vadd(one, e)))
    big = vselect(vge(x, z0), big, vmul(big, vsplat(-_ONE32, z0)))
    t = vselect(vlt(a, vsplat(_SMALL32, z0)), small, big)
    return vselect(vne(x, z0), t, x)


@jit(forceinline=True)
def _vsigmoid32(x):
    z0 = vsplat(0.0, x)
    one = vsplat(_ONE32, z0)
    e = _vexp_neg32(vmul(vabs(x), vsplat(-_ONE32, z0)))
    s = vdiv(vselect(vge(x, z0), one, e), vadd(one, e))
    return vselect(veq(x, x), s, x)


@jit(forceinline=True)
def _vrelu(x):
    z0 = vsplat(0.0, x)
    return vselect(vgt(x, z0), x, vselect(veq(x, x), z0, x))


# --- dispatch on the precision --------------------------------------------------------
def tanh(x):
    """tanh(x), vectorisable (float32 computed in float32)."""
    return math.tanh(x)


def dtanh(x):
    """tanh'(x) = 1 / cosh(x)^2, vectorisable."""
    return 1.0 / math.cosh(x) ** 2


def sigmoid(x):
    """1 / (1 + e^-x), vectorisable."""
    return 1.0 / (1.0 + math.exp(-x))


def dsigmoid(x):
    """sigmoid'(x), vectorisable."""
    s = sigmoid(x)
    return s * (1.0 - s)


def softplus(x):
    """log(1 + e^x), vectorisable."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _precision_overload(fn, impl64, impl32=None):
    """Register the float64 kernel ``impl64`` (float32 arguments: ``impl32``, or the
    float64 kernel rounded once) as the jitted form of the Python function ``fn``."""
    @overload(fn, jit_options=dict(_OPTS, forceinline=True))
    def _ov(x):
        if x == types.float32:
            if impl32 is not None:
                return lambda x: impl32(x)
            return lambda x: np.float32(impl64(np.float64(x)))
        if isinstance(x, types.Float):
            return lambda x: impl64(x)
        if isinstance(x, (types.Integer, types.Boolean)):
            return lambda x: impl64(np.float64(x))
        return None


_precision_overload(tanh, _tanh64, _tanh32)
_precision_overload(dtanh, _dtanh64)
_precision_overload(sigmoid, _sigmoid64, _sigmoid32)
_precision_overload(dsigmoid, _dsigmoid64)
_precision_overload(softplus, _softplus64)


@jit(forceinline=True)
def relu(x):
    return x if x > 0 else (0.0 if x == x else x)


# --- the libm forms, for comparison ------------------------------------------------------
@jit(forceinline=True)
def _sigmoid_libm(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@jit(forceinline=True)
def _softplus_libm(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x))) if x == x else x


# --- elementwise over arrays -----------------------------------------------------------
def apply_phi(phi, z):
    """In place: z <- phi(z). ``phi`` is a built-in code or a Numba function."""
    raise NotImplementedError  # only callable from jitted code


def apply_phi_row(phi, F, r, n):
    """In place: F[r, i] <- phi(F[r, i]) for i < n, F 2-d. No view is made (a view costs
    an atomic reference count, which matters in a loop over small blocks). A built-in phi
    with a vector form (``has_vector_form``) on a C-contiguous F of at least L columns
    runs in whole SIMD vectors, the last one overlapping the one before; anything else
    runs the scalar loops (whose column index from 0 lets LLVM vectorise them)."""
    raise NotImplementedError  # only callable from jitted code


def apply_dphi(phi, z):
    """In place: z <- phi'(z) for a built-in code (user functions: see overload)."""
    raise NotImplementedError


@jit(forceinline=True)
def has_vector_form(phi):
    """Whether the built-in code phi is applied by ``vphi`` (tanh, sigmoid, ReLU, linear)."""
    return phi == LINEAR or phi == TANH or phi == SIGMOID or phi == RELU


def vphi(phi, v):
    """phi(v) lane by lane for a vector v (``simd.Vec``) and a built-in code with a vector
    form (``has_vector_form``; any other code returns v)."""
    raise NotImplementedError  # only callable from jitted code


@overload(vphi, jit_options=_OPTS, inline="always")
def _vphi_ov(phi, v):
    vtanh, vsigmoid = ((_vtanh64, _vsigmoid64) if v.dtype == types.float64
                       else (_vtanh32, _vsigmoid32))

    def impl(phi, v):
        if phi == TANH:
            return vtanh(v)
        if phi == SIGMOID:
            return vsigmoid(v)
        if phi == RELU:
            return _vrelu(v)
        return v
    return impl


@jit(forceinline=True)
def _phi_row_scalar(phi, F, r, n):
    """``apply_phi_row`` by the scalar functions (which LLVM vectorises where it can)."""
    if phi == TANH:
        for i in range(n):
            F[r, i] = tanh(F[r, i])
    elif phi == RELU:
        for i in range(n):
            F[r, i] = relu(F[r, i])
    elif phi == SIGMOID:
        for i in range(n):
            F[r, i] = sigmoid(F[r, i])
    elif phi == SOFTPLUS:
        for i in range(n):
            F[r, i] = softplus(F[r, i])
    elif phi == TANH_LIBM:
        for i in range(n):
            F[r, i] = math.tanh(F[r, i])
    elif phi == SIGMOID_LIBM:
        for i in range(n):
            F[r, i] = _sigmoid_libm(F[r, i])
    elif phi == SOFTPLUS_LIBM:
        for i in range(n):
            F[r, i] = _softplus_libm(F[r, i])
    # LINEAR: nothing to do


@overload(apply_phi_row, jit_options=_OPTS, inline="always")
def _apply_phi_row_ov(phi, F, r, n):
    if not isinstance(phi, types.Integer):
        def impl_user(phi, F, r, n):
            for i in range(n):
                F[r, i] = phi(F[r, i])
        return impl_user
    if F.layout != "C":
        return lambda phi, F, r, n: _phi_row_scalar(phi, F, r, n)

    def impl(phi, F, r, n):
        L = lanes(F)
        if n >= L and phi != LINEAR and has_vector_form(phi):
            # whole vectors, the last one ending at the row's end and overlapping the one
            # before where L does not divide n: it is computed first, from the row as it
            # was, and stored last
            o = r * F.shape[1]
            last = o + n - L
            t = vphi(phi, vload(F, last))
            for i in range(o, last, L):
                vstore(F, i, vphi(phi, vload(F, i)))
            vstore(F, last, t)
        else:
            _phi_row_scalar(phi, F, r, n)
    return impl


@overload(apply_phi, jit_options=_OPTS, inline="always")
def _apply_phi_ov(phi, z):
    def impl(phi, z):
        f = z.reshape((1, z.size))
        apply_phi_row(phi, f, 0, z.size)
    return impl


@overload(apply_dphi, jit_options=_OPTS)
def _apply_dphi_ov(phi, z):
    if isinstance(phi, types.Integer):
        def impl(phi, z):
            f = z.reshape(-1)
            n = f.size
            if phi == TANH:
                for i in range(n):
                    f[i] = dtanh(f[i])
            elif phi == RELU:
                for i in range(n):
                    f[i] = 1.0 if f[i] > 0 else (0.0 if f[i] == f[i] else f[i])
            elif phi == SIGMOID:
                for i in range(n):
                    f[i] = dsigmoid(f[i])
            elif phi == SOFTPLUS:
                for i in range(n):
                    f[i] = sigmoid(f[i])
            elif phi == TANH_LIBM:
                for i in range(n):
                    t = math.tanh(f[i])
                    f[i] = 1.0 - t * t
            elif phi == SIGMOID_LIBM:
                for i in range(n):
                    s = _sigmoid_libm(f[i])
                    f[i] = s * (1.0 - s)
            elif phi == SOFTPLUS_LIBM:
                for i in range(n):
                    f[i] = _sigmoid_libm(f[i])
            else:
                for i in range(n):
                    f[i] = 1.0 if f[i] == f[i] else f[i]
        return impl
    return None


@jit
def phi_array(phi, z):
    """Return phi(z) for an array (a copy, in z's precision). For tests and the Python
    layer."""
    out = z.copy()
    apply_phi(phi, out)
    return out


@jit
def dphi_array(phi, z):
    """Return phi'(z) for an array (a copy), built-in phi only."""
    out = z.copy()
    apply_dphi(phi, out)
    return out
