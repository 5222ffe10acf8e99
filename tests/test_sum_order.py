"""The panel product's summation order, exactly as ``_kernels/dense.py`` documents it,
against an independent reference: each fused multiply-add computed exactly in rationals
(``fractions.Fraction``) and rounded once to float64, the chains added in the documented
order. Bit for bit: a change of order, of chains, or of rounding (an fma split into a
multiply and an add) fails here, whatever the batch size or the trials sharing a pass."""
from fractions import Fraction

import numpy as np
import pytest

from ctrnn._kernels import dense

L = 8  # float64 lanes


def fma(a, b, c):
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def wide_row(w, s):
    """Two chains, even and odd inputs, each in input order; then a + b."""
    a = b = 0.0
    for j in range(len(s)):
        if j % 2 == 0:
            a = fma(w[j], s[j], a)
        else:
            b = fma(w[j], s[j], b)
    return a + b


def narrow_row(w, s):
    """Eight chains j mod 8 over the first 8 floor(N / 8) inputs, the rest into chain
    0 in order; then ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))."""
    N = len(s)
    c = [0.0] * 8
    top = N - N % 8
    for j in range(top):
        c[j % 8] = fma(w[j], s[j], c[j % 8])
    for j in range(top, N):
        c[0] = fma(w[j], s[j], c[0])
    return ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]))


@pytest.mark.parametrize("N", [7, 33, 64, 71, 100])
def test_every_sum_is_formed_in_the_documented_order(N):
    rng = np.random.default_rng(N)
    W = rng.standard_normal((N, N))
    n_wide_rows = 4 * L * (N // (4 * L))
    Wp = dense.pack_panels(W)
    for B in (1, 2, 3, 4, 5, 7):
        S = rng.standard_normal((B, N))
        P = dense.aligned_rows(B, Wp.size // N, W)
        out = np.empty((B, N))
        dense.fused_product(Wp, S, np.zeros((1, N)), 0, dense.RAW, S, S[0], S[0], out, P,
                            np.zeros(1, np.int64))
        want = np.array([[(wide_row if i < n_wide_rows else narrow_row)(W[i], S[r])
                          for i in range(N)] for r in range(B)])
        np.testing.assert_array_equal(out, want, err_msg=f"N={N} B={B}")
