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
triangle is kept, updated by BLAS's symmetric routines (``blas``).
"""
import numpy as np

from ._jit import jit
from .blas import symv, syr
from .rk import OK, leaky_run

READOUT, RECURRENT = 0, 1
RLS, LMS = 0, 1


@jit
def rls(P, r, k, lam, sc):
    """One RLS step with regressor r: k <- P r, c = 1 / (lam + r.k),
    P <- (P - c k k^T) / lam, on the lower triangle (C order) of the symmetric P, by BLAS
    (dsymv, dsyr: two passes over half of P, on BLAS's threads). Returns c."""
    n = r.size
    symv(sc, P, r, k)
    rk = 0.0
    for i in range(n):
        rk += r[i] * k[i]
    c = 1.0 / (lam + rk)
    syr(sc, P, -c, k)
    if lam != 1.0:
        il = 1.0 / lam
        for i in range(n):
            for j in range(i + 1):
                P[i, j] *= il
    return c


@jit(inline="always")
def _readout(h, w, S, z):
    for m in range(w.shape[0]):
        s = 0.0
        for j in range(S.size):
            s += w[m, j] * h[S[j]]
        z[m] = s


@jit(inline="always")
def _learn(H, mode, rule, first, w, UT, S, R, P, kv, sc, lam, lr, scale, target, z, r, e):
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
        c = rls(P, r, kv, lam, sc)
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
def leaky_force(H, out, k0, T, mode, rule, every, first, w, S, R, P, kv, sc, lam, lr,
                scale, targets, z, Z, E, WN, net, inp, decay, gain, noise_scale, keys, dt,
                exact_linear):
    """``rk.leaky_run`` over global steps k0 .. k0 + T - 1 of one trajectory H (1, M),
    learning after steps k with (k + 1) % every == 0 (rule RLS or LMS; -1: not at all).
    targets (T, n): the target after each step; z (n,) carries the output between calls;
    Z, E (T, n) receive output and error, WN (T,) |w|. RECURRENT: ``scale`` (n,) turns
    each unit's error into its drive's (1 / its gain over one step: tau / dt for Euler),
    so that an RLS step moves the drive, which is linear in the weights, by the error.
    Returns leaky_run's status tuple."""
    N = S.size
    r = np.zeros(N)
    e = np.zeros(z.size)
    for k in range(k0, k0 + T):
        _feed(H, inp.xs, k, mode, first, S, z, r)
        code, kk, rr, i = leaky_run(H, out, k, 1, 1, k + 1, net, inp, decay, gain,
                                    noise_scale, keys, dt, exact_linear)
        if code != OK:
            return code, kk, rr, i
        act = rule if (k + 1) % every == 0 else -1
        _learn(H, mode, act, first, w, inp.UT, S, R, P, kv, sc, lam, lr, scale,
               targets[k - k0], z, r, e)
        _record(k, k0, z, e, w, Z, E, WN)
    return OK, 0, 0, 0
