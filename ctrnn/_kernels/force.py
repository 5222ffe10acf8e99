"""FORCE learning inside the loop: the leaky loop of ``rk`` for one trajectory (one
evaluation a step, so that the learned weights, held over the step, act as in W),
with recursive least squares (RLS) or least mean squares (LMS) updating weights as the
network runs, and their output fed back step by step (Sussillo & Abbott 2009).

Two things are learned, both through the inputs of the engine's own loops:

- a readout z = w h (``mode`` READOUT): z is fed back into input columns ``first ..``
  (through the feedback weights, columns of U) before the next step, and w learns to make
  z follow the target;
- recurrent weights (``mode`` RECURRENT): the states h_S of the presynaptic units S are
  fed into input columns ``first ..``, so that the learned weights are the rows of
  ``inp.UT`` there (W_eff = W + that block), and each target unit's state learns to follow
  its target (data-constrained networks: Rajan, Harvey & Tank 2016; Perich et al. 2021).

RLS with forgetting factor lam: k = P r, c = 1 / (lam + r.k), P <- (P - c k k^T) / lam,
weights <- weights - c e k^T, e the error before the update. P is symmetric: only its lower
triangle is kept, and it is updated lazily, in blocks (``rls``): the rank-one updates of
the last few steps wait in a short list, applied exactly to each new k = P r (O(N) each),
and are folded into P all at once by one BLAS dsyrk when the list is full. An RLS step
then reads half of P once (dsymv) instead of three times (dsymv, then dsyr reading and
writing it), and that memory traffic is what bounds its speed.
"""
from collections import namedtuple

import numpy as np

from ._jit import jit
from .borrow import borrow
from .blas import scratch, symv, syr2k, syrk
from .rk import OK, ONE, leaky_run

READOUT, RECURRENT = 0, 1
RLS, LMS = 0, 1
DEPTH = 16  # rank-one updates folded into P at once (see ``rls``)

RLSState = namedtuple("RLSState", "P k K A a st sc")
RLSState.__doc__ = """RLS's state, carried between calls: P (n, n) (lower triangle, C
order), k (n,) the last gain vector P r, K (DEPTH, n) the gain vectors not yet folded
into P, A (DEPTH, n) scratch for them, a (DEPTH,) their coefficients, st (2,) [s, m]: the
true P is s (P - sum_{i < m} a_i K_i K_i^T); sc the BLAS ``Scratch``."""


def rls_state(P, depth=DEPTH):
    """An ``RLSState`` around P (n, n), C-contiguous float64, nothing pending."""
    n = P.shape[0]
    return RLSState(P, np.zeros(n), np.zeros((depth, n)), np.zeros((depth, n)),
                    np.zeros(depth), np.array([1.0, 0.0]), scratch())


@jit
def fold(rs):
    """Fold the pending updates into P: P <- s (P - sum_i a_i K_i K_i^T), by one dsyrk of
    the rows sqrt(a_i) K_i when every a_i > 0 (always, while P stays positive definite),
    else one dsyr2k of K and a K / 2."""
    s, m = rs.st[0], int(rs.st[1])
    if m == 0 and s == 1.0:
        return
    K, A, a = rs.K, rs.A, rs.a
    positive = True
    for i in range(m):
        positive = positive and a[i] > 0.0
    for i in range(m):  # A_i = sqrt(a_i) K_i for dsyrk, a_i K_i / 2 for dsyr2k
        h = np.sqrt(a[i]) if positive else 0.5 * a[i]
        for j in range(K.shape[1]):
            A[i, j] = h * K[i, j]
    if positive:
        syrk(rs.sc, rs.P, m, A, -s, s)
    else:
        syr2k(rs.sc, rs.P, m, K, A, -s, s)
    rs.st[0] = 1.0
    rs.st[1] = 0.0


@jit
def rls(rs, r, lam):
    """One RLS step with regressor r: k <- P r, c = 1 / (lam + r.k),
    P <- (P - c k k^T) / lam, with P kept as s (P0 - sum_i a_i K_i K_i^T) (``RLSState``):
    k = s (P0 r - sum_i a_i K_i (K_i . r)) by one dsymv and O(n m); the new term joins
    the list with a = c / s, and s <- s / lam; a full list is folded into P0 (``fold``).
    Returns c."""
    P, k, K, a, st = rs.P, rs.k, rs.K, rs.a, rs.st
    n = r.size
    s, m = st[0], int(st[1])
    symv(rs.sc, P, r, k)
    for i in range(m):
        d = 0.0
        for j in range(n):
            d += K[i, j] * r[j]
        f = a[i] * d
        for j in range(n):
            k[j] -= f * K[i, j]
    if s != 1.0:
        for j in range(n):
            k[j] *= s
    rk = 0.0
    for j in range(n):
        rk += r[j] * k[j]
    c = 1.0 / (lam + rk)
    for j in range(n):
        K[m, j] = k[j]
    a[m] = c / s
    st[0] = s / lam
    st[1] = m + 1
    if m + 1 == K.shape[0]:
        fold(rs)
    return c


@jit(inline="always")
def _readout(h, w, S, z):
    for m in range(w.shape[0]):
        s = 0.0
        for j in range(S.size):
            s += w[m, j] * h[S[j]]
        z[m] = s


@jit(inline="always")
def _learn(H, mode, rule, first, w, UT, S, R, rs, lam, lr, scale, target, z, r, e):
    """After a step: the error of the readout (or of the target units) and, when
    ``rule`` >= 0, one update. Returns nothing; z and e hold the output and error."""
    N = S.size
    if mode == READOUT:
        for j in range(N):
            r[j] = H[0, S[j]]
        _readout(H[0], w, S, z)
        for m in range(z.size):
            e[m] = z[m] - target[m]
    else:
        for i in range(R.size):
            z[i] = H[0, R[i]]
            e[i] = z[i] - target[i]
    if rule < 0:
        return
    if rule == RLS:
        c = rls(rs, r, lam)
        kv = rs.k
        if mode == READOUT:
            for m in range(w.shape[0]):
                cm = c * e[m]
                for j in range(N):
                    w[m, j] -= cm * kv[j]
        else:  # each unit's error in units of its drive: e / (its gain over a step)
            for j in range(N):
                cj = c * kv[j]
                for i in range(R.size):
                    UT[first + j, R[i]] -= cj * e[i] * scale[i]
    else:
        if mode == READOUT:
            for m in range(w.shape[0]):
                cm = lr * e[m]
                for j in range(N):
                    w[m, j] -= cm * r[j]
        else:
            for j in range(N):
                cj = lr * r[j]
                for i in range(R.size):
                    UT[first + j, R[i]] -= cj * e[i]


@jit(inline="always")
def _feed(H, xs, k, mode, first, S, z, r):
    """Before step k: the readout computed after the previous step (READOUT), or the
    presynaptic states now (RECURRENT, kept in r as the regressor of this step)."""
    if mode == READOUT:
        for m in range(z.size):
            xs[0, k, first + m] = z[m]
    else:
        for j in range(S.size):
            r[j] = H[0, S[j]]
            xs[0, k, first + j] = r[j]


@jit(inline="always")
def _record(k, k0, z, e, w, Z, E, WN):
    i = k - k0
    for m in range(z.size):
        Z[i, m] = z[m]
        E[i, m] = e[m]
    s = 0.0
    for m in range(w.shape[0]):
        for j in range(w.shape[1]):
            s += w[m, j] * w[m, j]
    WN[i] = np.sqrt(s)


@jit
def leaky_force(H, out, k0, T, mode, rule, every, first, w, S, R, rs, lam, lr,
                scale, targets, z, Z, E, WN, net, inp, decay, gain, noise_scale, keys, dt,
                exact_linear):
    """``rk.leaky_run`` over global steps k0 .. k0 + T - 1 of one trajectory H (1, M),
    learning after steps k with (k + 1) % every == 0 (rule RLS or LMS; -1: not at all).
    targets (T, n): the target after each step; z (n,) carries the output between calls;
    Z, E (T, n) receive output and error, WN (T,) |w|. RECURRENT: ``scale`` (n,) turns
    each unit's error into its drive's (1 / its gain over one step: tau / dt for Euler),
    so that an RLS step moves the drive, which is linear in the weights, by the error.
    rs: the ``RLSState`` (P whole again on return). Returns leaky_run's status tuple."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    out = borrow(out)
    w = borrow(w)
    S = borrow(S)
    R = borrow(R)
    rs = borrow(rs)
    scale = borrow(scale)
    targets = borrow(targets)
    z = borrow(z)
    Z = borrow(Z)
    E = borrow(E)
    WN = borrow(WN)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    N = S.size
    r = np.zeros(N)
    e = np.zeros(z.size)
    for k in range(k0, k0 + T):
        _feed(H, inp.xs, k, mode, first, S, z, r)
        code, kk, rr, i = leaky_run(H, out, k, ONE, ONE, k + 1, net, inp, decay, gain,
                                    noise_scale, keys, dt, exact_linear)
        if code != OK:
            fold(rs)
            return code, kk, rr, i
        act = rule if (k + 1) % every == 0 else -1
        _learn(H, mode, act, first, w, inp.UT, S, R, rs, lam, lr, scale,
               targets[k - k0], z, r, e)
        _record(k, k0, z, e, w, Z, E, WN)
    fold(rs)  # P whole again between calls
    return OK, 0, 0, 0
