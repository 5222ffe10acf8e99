"""Tangent dynamics and QR re-orthonormalisation (Benettin et al. 1980) for Lyapunov
exponents, stepped with the same integrator as the state.

State h (N,) and tangent vectors Q (N, k). For the flow f(h) = (-h + phi(z)) / tau,
z = W h + U x + b, the tangent field is dQ/dt = (-Q + phi'(z) * (W Q)) / tau (row scaling).
Leaky methods (Euler, exponential Euler, the discrete RNN) propagate Q with the Jacobian
of their one-step map, Q <- decay Q + gain phi'(z) * (W Q).
"""
import numpy as np

from ._jit import jit
from .phi import apply_dphi, apply_phi
from .rhs import drive


@jit
def _preact(h, k, c, W, inp, z, D, Xw):
    """z <- W h + U x(t_k + c dt) + b (h, z of shape (1, N))."""
    np.dot(W, h[0], z[0])
    if inp[0].shape[2] > 0:
        drive(inp, k, c, D, Xw)
    z[0] += D[0]


@jit
def _workspace(Q, inp):
    """D (1, N) the drive (= b until inputs overwrite it), Xw (1, n_in), z (1, N),
    WQ (N, K)."""
    N, K = Q.shape
    D = np.empty((1, N))
    D[0, :] = inp[2]
    return D, np.empty((1, inp[0].shape[2])), np.empty((1, N)), np.empty((N, K))


@jit
def _tangent_field(h, Q, k, c, W, inv_tau, phi, inp, z, D, Xw, WQ, out_h, out_Q):
    _preact(h, k, c, W, inp, z, D, Xw)
    p = z.copy()
    apply_phi(phi, p)
    apply_dphi(phi, z)  # z now holds phi'(z)
    np.dot(W, Q, WQ)
    N, K = Q.shape
    for i in range(N):
        out_h[0, i] = (p[0, i] - h[0, i]) * inv_tau[i]
        for j in range(K):
            out_Q[i, j] = (z[0, i] * WQ[i, j] - Q[i, j]) * inv_tau[i]


@jit
def _orthonormalise(Q, logs):
    """Q <- Q R^-1 (QR decomposition); logs += log |diag R|."""
    q, r = np.linalg.qr(Q)
    for j in range(Q.shape[1]):
        d = r[j, j]
        logs[j] += np.log(abs(d))
        s = 1.0 if d >= 0 else -1.0
        for i in range(Q.shape[0]):
            Q[i, j] = q[i, j] * s


@jit
def lyapunov_rk(h, Q, k0, nsteps, ortho_every, W, inv_tau, phi, inp, dt, A, b, c, logs):
    """Advance h (1, N) and Q (N, K) by ``nsteps`` RK steps; add the log stretching
    factors of each re-orthonormalisation (every ``ortho_every`` global steps) to logs
    (K,). Returns the index of a step where the state became non-finite, or -1."""
    s = b.size
    N, K = Q.shape
    D, Xw, z, WQ = _workspace(Q, inp)
    Kh = np.empty((s, 1, N))
    KQ = np.empty((s, N, K))
    Yh = np.empty((1, N))
    YQ = np.empty((N, K))
    for k in range(k0, k0 + nsteps):
        for st in range(s):
            Yh[:] = h
            YQ[:] = Q
            for j in range(st):
                a = dt * A[st, j]
                if a != 0.0:
                    Yh += a * Kh[j]
                    YQ += a * KQ[j]
            _tangent_field(Yh, YQ, k, c[st], W, inv_tau, phi, inp, z, D, Xw, WQ,
                           Kh[st], KQ[st])
        for st in range(s):
            if b[st] != 0.0:
                h += (dt * b[st]) * Kh[st]
                Q += (dt * b[st]) * KQ[st]
        if not np.isfinite(h.sum()):
            return k
        if (k + 1) % ortho_every == 0:
            _orthonormalise(Q, logs)
    return -1


@jit
def lyapunov_leaky(h, Q, k0, nsteps, ortho_every, W, phi, inp, decay, gain, logs):
    """As ``lyapunov_rk`` for the one-step maps h <- decay h + gain phi(z)."""
    N, K = Q.shape
    D, Xw, z, WQ = _workspace(Q, inp)
    for k in range(k0, k0 + nsteps):
        _preact(h, k, 0.0, W, inp, z, D, Xw)
        p = z.copy()
        apply_phi(phi, p)
        apply_dphi(phi, z)
        np.dot(W, Q, WQ)
        for i in range(N):
            h[0, i] = decay[i] * h[0, i] + gain[i] * p[0, i]
            for j in range(K):
                Q[i, j] = decay[i] * Q[i, j] + gain[i] * z[0, i] * WQ[i, j]
        if not np.isfinite(h.sum()):
            return k
        if (k + 1) % ortho_every == 0:
            _orthonormalise(Q, logs)
    return -1
