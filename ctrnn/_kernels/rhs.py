"""The right-hand side f(h) = (-h + phi(W h + U x(t) + b)) / tau, batched over trials.

Shapes: H (B, N) states of B trials; W (N, N) row i = inputs to neuron i; WT = W.T
(contiguous, used for B > 1 so that the product is one matrix-matrix call); inputs
``inp = (xs, UT, b, mode)`` with xs (Bx, T + 1, n_in) sampled on the step grid (Bx is 1
when all trials share the input, else B), UT = U.T (n_in, N), b (N,), mode 0 = hold
(zero-order), 1 = linear interpolation within a step.
"""
import numpy as np

from ._jit import jit
from .phi import apply_phi

HOLD, LINEAR = 0, 1


@jit
def recurrent(H, W, WT, P):
    """P <- H W^T: matrix-vector (gemv) for one trial, matrix-matrix (gemm) for a batch."""
    if H.shape[0] == 1:
        np.dot(W, H[0], P[0])
    else:
        np.dot(H, WT, P)


@jit
def drive(inp, k, c, D, Xw):
    """D (Bx, N) <- U x(t_k + c dt) + b, with x held or interpolated within step k."""
    xs, UT, b, mode = inp
    Bx = D.shape[0]
    if xs.shape[2] == 0:
        for r in range(Bx):
            D[r, :] = b
        return
    if mode == HOLD or c == 0.0:
        for r in range(Bx):
            Xw[r, :] = xs[r, k, :]
    else:
        for r in range(Bx):
            Xw[r, :] = (1.0 - c) * xs[r, k, :] + c * xs[r, k + 1, :]
    np.dot(Xw, UT, D)
    for r in range(Bx):
        D[r, :] += b


@jit
def preactivation_phi(H, k, c, net, inp, P, D, Xw):
    """P <- phi(W h + U x(t_k + c dt) + b) for every trial.

    Without inputs D holds b from ``make_workspace`` on and is not recomputed."""
    W, WT, inv_tau, phi = net
    recurrent(H, W, WT, P)
    if inp[0].shape[2] > 0:
        drive(inp, k, c, D, Xw)
    B, N = P.shape
    shared = D.shape[0] == 1
    for r in range(B):
        d = D[0 if shared else r]
        p = P[r]
        for i in range(N):
            p[i] += d[i]
    apply_phi(phi, P)


@jit
def field(H, k, c, net, inp, P, D, Xw, out):
    """out <- (-H + phi(W H + U x + b)) / tau, the time derivative of H."""
    preactivation_phi(H, k, c, net, inp, P, D, Xw)
    inv_tau = net[2]
    B, N = H.shape
    for r in range(B):
        for i in range(N):
            out[r, i] = (P[r, i] - H[r, i]) * inv_tau[i]


@jit
def first_nonfinite(H):
    """(-1, -1) if every entry of H (B, N) is finite, else (trial, neuron) of the first
    infinite entry, or of the first NaN if none is infinite (a NaN is often a product
    0 * inf of a neuron that diverged, so the inf names the culprit)."""
    f = H.reshape(-1)
    bad = 0
    for i in range(f.size):
        bad |= 0 if abs(f[i]) < np.inf else 1
    if bad == 0:
        return -1, -1
    B, N = H.shape
    for r in range(B):
        for i in range(N):
            if abs(H[r, i]) == np.inf:
                return r, i
    for r in range(B):
        for i in range(N):
            if H[r, i] != H[r, i]:
                return r, i
    return -1, -1


@jit
def make_workspace(H, inp):
    """Scratch arrays for ``field``: P (B, N), D (Bx, N) (= b while there is no input),
    Xw (Bx, n_in)."""
    xs, b = inp[0], inp[2]
    B, N = H.shape
    Bx = xs.shape[0]
    D = np.empty((Bx, N), H.dtype)
    for r in range(Bx):
        D[r, :] = b
    return np.empty_like(H), D, np.empty((Bx, xs.shape[2]), H.dtype)


@jit(inline="always")
def axpy(alpha, X, Y):
    """Y += alpha * X in place, for arrays of one shape (no temporaries)."""
    x = X.reshape(-1)
    y = Y.reshape(-1)
    for i in range(y.size):
        y[i] += alpha * x[i]
