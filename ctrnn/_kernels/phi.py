"""Nonlinearities phi and their derivatives, applied elementwise to arrays.

Built-in functions are selected by an integer code (see ``ctrnn.nonlinearities``), so the
kernels that call them have plain integer arguments and stay in Numba's disk cache. A
user-supplied Numba function is passed as the dispatcher itself; ``apply_phi`` then
compiles to a loop that calls it (specialised per function, not cached across processes).
"""
import math

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import FASTMATH, jit

LINEAR, TANH, RELU, SIGMOID, SOFTPLUS = 0, 1, 2, 3, 4

# tanh: the Cephes rational form for |x| <= 0.625, 1 - 2/(exp(2|x|) + 1) above, with
# exp by range reduction and a degree-12 Taylor polynomial. Written branch-free so that
# LLVM vectorises it (libm's tanh does not vectorise); max error 1.75 ulp against
# numpy.tanh over [-30, 30] and [1e-300, 50] (tests/test_kernels.py checks it).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting it rounds to integer
_P0, _P1, _P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_Q0, _Q1, _Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@jit(inline="always")
def tanh(x):
    a = abs(x)
    y = min(2.0 * a, 40.0)  # tanh(20) == 1 in double precision
    y = max(y, 1.0)  # the small-|x| branch is used below 0.625
    kf = (y * _INV_LN2 + _ROUND) - _ROUND
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (
            1 / 3628800 + r * (1 / 39916800 + r * (1 / 479001600))))))))))))
    s = p * float(np.int64(1) << np.int64(kf))
    big = 1.0 - 2.0 / (s + 1.0)
    big = big if x >= 0 else -big
    z = x * x
    small = x + x * z * ((_P0 * z + _P1) * z + _P2) / (((z + _Q0) * z + _Q1) * z + _Q2)
    t = big if a > 0.625 else small
    return t if x == x else x  # NaN in, NaN out


@jit(inline="always")
def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@jit(inline="always")
def softplus(x):
    # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x))) if x == x else x


@jit(inline="always")
def relu(x):
    return x if x > 0 else (0.0 if x == x else x)


def apply_phi(phi, z):
    """In place: z <- phi(z). ``phi`` is a built-in code or a Numba function."""
    raise NotImplementedError  # only callable from jitted code


def apply_dphi(phi, z):
    """In place: z <- phi'(z) for a built-in code (user functions: see overload)."""
    raise NotImplementedError


@overload(apply_phi, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"),
          inline="always")
def _apply_phi_ov(phi, z):
    if isinstance(phi, types.Integer):
        def impl(phi, z):
            f = z.reshape(-1)
            n = f.size
            if phi == TANH:
                for i in range(n):
                    f[i] = tanh(f[i])
            elif phi == RELU:
                for i in range(n):
                    f[i] = relu(f[i])
            elif phi == SIGMOID:
                for i in range(n):
                    f[i] = sigmoid(f[i])
            elif phi == SOFTPLUS:
                for i in range(n):
                    f[i] = softplus(f[i])
            # LINEAR: nothing to do
        return impl

    def impl_user(phi, z):
        f = z.reshape(-1)
        for i in range(f.size):
            f[i] = phi(f[i])
    return impl_user


@overload(apply_dphi, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"))
def _apply_dphi_ov(phi, z):
    if isinstance(phi, types.Integer):
        def impl(phi, z):
            f = z.reshape(-1)
            n = f.size
            if phi == TANH:
                for i in range(n):
                    t = tanh(f[i])
                    f[i] = 1.0 - t * t
            elif phi == RELU:
                for i in range(n):
                    f[i] = 1.0 if f[i] > 0 else 0.0
            elif phi == SIGMOID:
                for i in range(n):
                    s = sigmoid(f[i])
                    f[i] = s * (1.0 - s)
            elif phi == SOFTPLUS:
                for i in range(n):
                    f[i] = sigmoid(f[i])
            else:
                for i in range(n):
                    f[i] = 1.0
        return impl
    return None


@jit
def phi_array(phi, z):
    """Return phi(z) for an array (a copy). For tests and the Python layer."""
    out = z.copy()
    apply_phi(phi, out)
    return out


@jit
def dphi_array(phi, z):
    """Return phi'(z) for an array (a copy), built-in phi only."""
    out = z.copy()
    apply_dphi(phi, out)
    return out
