"""The right-hand side of the network, batched over trials, with optional short-term
plasticity (STP) as coupled state.

State Z (B, V N): B trials; V = 1 (h only) or 3 (h, then u, then x of Tsodyks-Markram
STP, see ``stp``), each block N wide. Without STP

    dh/dt = (-h + phi(W h + U x(t) + b)) / tau

and with STP the recurrent signal is s = e u x max(h, 0) instead of h (``stp.signal``).

The kernels read their arguments by name, from the named tuples that ``ctrnn._engine``
packs:
``net`` (``Network``): W (N, N), row i = inputs to neuron i, or a ``CSR`` (data, indices
(uint32), indptr (uint64)) of a sparse W; WT = W.T contiguous (used for B > 1, one matrix-matrix
product); inv_tau (N,); phi (an integer code or a Numba function); stp (``STPParams``,
arrays of size 0 without STP).
``inp`` (``Inputs``): xs (Bx, T + 1, n_in) inputs on the step grid (Bx = 1 when shared by
all trials), UT = U.T (n_in, N), b (N,), interp HOLD or LINEAR within a step.
Scratch space is a ``Workspace`` (the network) or a ``TangentWorkspace`` (the state with
tangent vectors, for Lyapunov exponents); ``evaluate`` picks the field by its type.

The helpers called once per step are inlined into the loops at Numba's IR level
(``inline="always"``): a real call passes these tuples of arrays with reference counting,
which cost ~0.15 us a step, 15% of a step of a sparse N = 100 reservoir.
"""
from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import FASTMATH, jit
from . import stp as _stp
from .dense import PHI, RAW, RELAX, aligned_rows, finish, panel_sums
from .phi import apply_dphi, apply_phi

HOLD, LINEAR = 0, 1

Workspace = namedtuple("Workspace", "P D Xw S Sp turn")
Workspace.__doc__ = """Scratch of the network's field: P (B, N) pre-activations, D (Bx, N)
input drive (= b while there is no input), Xw (Bx, n_in), S (B, N) the STP-weighted
presynaptic signal (empty without STP), Sp (B, Np) the sums of the panel product
(``dense``; (0, 0) on the BLAS path), 64-byte aligned, turn (1,) int64 the panel
product's alternating block order."""
TangentWorkspace = namedtuple("TangentWorkspace", "P D Xw S Sp turn G")
TangentWorkspace.__doc__ = """``Workspace`` of the state with its tangent vectors, plus
G (1, N) for phi'(z)."""


def recurrent(S, W, WT, P):
    """P <- S W^T. Dense W: matrix-vector (gemv) for one trial, matrix-matrix (gemm)
    for a batch. Sparse W given as CSR arrays (data, indices, indptr): a CSR product per
    trial (WT is unused)."""
    raise NotImplementedError  # only callable from jitted code


# reassoc here only: it lets LLVM vectorise the sparse product's row sums. Each row's
# sum is still the same every time (its order depends on the row's length alone), so
# chunked equals unchunked and a batch equals its single trials bit for bit
@overload(recurrent, jit_options=dict(fastmath=set(FASTMATH) | {"reassoc"},
                                      error_model="numpy"))
def _recurrent_ov(S, W, WT, P):
    if isinstance(W, types.Array):
        def dense(S, W, WT, P):
            if S.shape[0] == 1:
                np.dot(W, S[0], P[0])
            else:
                np.dot(S, WT, P)
        return dense

    # sums in the precision of the run (a float64 zero would promote float32 runs)
    zero = np.float32(0.0) if W.types[0].dtype == types.float32 else 0.0

    def csr(S, W, WT, P):
        # one sum a row, which reassoc lets LLVM vectorise (gathers of s, several
        # accumulators); unsigned row pointers and column indices spare Numba's
        # negative-index wraparound, which otherwise turns the contiguous loads of data
        # and indices into gathers too. Against the four-partial-sums loop with signed
        # row pointers that this replaced, alone: 1.9x faster at N = 100 (p = 0.1), 2.4x
        # at N = 1000 (p = 0.1; 38 us, scipy's csr_matvec 70 us)
        data, indices, indptr = W
        B, N = P.shape
        for r in range(B):
            s = S[r]
            p = P[r]
            for i in range(N):
                a = zero
                for q in range(indptr[i], indptr[i + 1]):
                    a += data[q] * s[indices[q]]
                p[i] = a
    return csr


@jit(inline="always")
def drive(inp, k, c, D, Xw):
    """D (Bx, N) <- U x(t_k + c dt) + b, with x held or interpolated within step k."""
    xs, UT, b = inp.xs, inp.UT, inp.b
    Bx = D.shape[0]
    if inp.interp == HOLD or c == 0.0:
        for r in range(Bx):
            Xw[r, :] = xs[r, k, :]
    else:
        for r in range(Bx):
            Xw[r, :] = (1.0 - c) * xs[r, k, :] + c * xs[r, k + 1, :]
    n_in, N = UT.shape
    if n_in <= 8:  # a BLAS call costs more than the few multiply-adds
        for r in range(Bx):
            d = D[r]
            d[:] = b
            for j in range(n_in):  # rows of UT: the inner loop over neurons vectorises
                xj = Xw[r, j]
                u = UT[j]
                for i in range(N):
                    d[i] += xj * u[i]
        return
    np.dot(Xw, UT, D)
    for r in range(Bx):
        D[r, :] += b


@jit
def make_workspace(Z, net, inp):
    """The ``Workspace`` for state Z (B, V N)."""
    N = net.inv_tau.shape[0]
    B = Z.shape[0]
    Bx = inp.xs.shape[0]
    D = np.empty((Bx, N), Z.dtype)
    for r in range(Bx):
        D[r, :] = inp.b
    nS = B if net.stp.U.size > 0 else 0
    Np = net.Wp.size // N
    Sp = aligned_rows(B if Np > 0 else 0, Np, Z)
    return Workspace(np.empty((B, N), Z.dtype), D, np.empty((Bx, inp.xs.shape[2]), Z.dtype),
                     np.empty((nS, N), Z.dtype), Sp, np.zeros(1, np.int64))


@jit(inline="always")
def sums(src, net, ws):
    """(W s)_i for every row s of src (B, N): the panel product into ws.Sp when the
    network has panels, else BLAS or the sparse product into ws.P. Returns the array
    holding them (read columns < N). The hoisted loops of ``rk`` write this branch out
    themselves: with one inline helper taking their hoisted arrays instead, Euler and
    rk4 steps at N = 100 measured 8-12% slower."""
    if net.Wp.size > 0:
        panel_sums(net.Wp, src, ws.Sp, ws.turn)
        return ws.Sp
    recurrent(src, net.W, net.WT, ws.P)
    return ws.P


@jit(inline="always")
def preactivation_phi(Z, k, c, net, inp, ws):
    """P <- phi(W s + U x(t_k + c dt) + b) for every trial (s = h without STP)."""
    if inp.xs.shape[2] > 0:
        drive(inp, k, c, ws.D, ws.Xw)
    if ws.S.shape[0] > 0:
        _stp.signal(Z, net.stp, ws.S)
        s = sums(ws.S, net, ws)
    else:
        s = sums(Z, net, ws)
    finish(s, ws.D, net.phi, PHI, Z, net.inv_tau, net.inv_tau, ws.P)


@jit(inline="always")
def relax(P, Z, inv_tau, out):
    """out[:, :N] <- (P - Z[:, :N]) / tau for P (B, N): the leak towards phi(.)."""
    B, N = P.shape
    for r in range(B):
        for i in range(N):
            out[r, i] = (P[r, i] - Z[r, i]) * inv_tau[i]


@jit
def field(Z, k, c, net, inp, ws, out):
    """out <- dZ/dt at Z, with inputs at time t_k + c dt."""
    if ws.S.shape[0] == 0:  # the product and one fused pass
        if inp.xs.shape[2] > 0:
            drive(inp, k, c, ws.D, ws.Xw)
        finish(sums(Z, net, ws), ws.D, net.phi, RELAX, Z, net.inv_tau, net.inv_tau, out)
        return
    preactivation_phi(Z, k, c, net, inp, ws)
    P = ws.P
    relax(P, Z, net.inv_tau, out)
    B, N = P.shape
    _stp.field(Z, net.stp, B, N, out)


def evaluate(Z, k, c, net, inp, ws, K, st):
    """K[st] <- dZ/dt of the system the workspace was made for: the network (``field``,
    workspace from ``make_workspace``) or the state with its tangent vectors
    (``tangent_field``, workspace from ``tangent_workspace``). Chosen at compile time,
    so one Runge-Kutta stage loop (``rk.rk_step``) serves both."""
    raise NotImplementedError  # only callable from jitted code


@overload(evaluate, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"))
def _evaluate_ov(Z, k, c, net, inp, ws, K, st):
    if isinstance(ws, types.BaseNamedTuple) and ws.instance_class is TangentWorkspace:
        def tangent(Z, k, c, net, inp, ws, K, st):
            tangent_field(Z, k, c, net, inp, ws, K[st])
        return tangent

    def network(Z, k, c, net, inp, ws, K, st):
        field(Z, k, c, net, inp, ws, K[st])
    return network


@jit
def tangent_workspace(Z, net, inp):
    """The ``TangentWorkspace`` for Z = [h; q_1; ...; q_K] (1 + K, N)."""
    ws = make_workspace(Z, net, inp)
    return TangentWorkspace(ws.P, ws.D, ws.Xw, ws.S, ws.Sp, ws.turn,
                            np.empty((1, Z.shape[1]), Z.dtype))


@jit(inline="always")
def tangent_preactivation(Z, k, c, net, inp, ws):
    """For Z = [h; q_1; ...; q_K] (1 + K, N), a state (without STP) and K tangent vectors
    as rows: P[0] <- phi(z) and P[r] <- phi'(z) * (W q_r), with z = W h + U x + b at
    t_k + c dt. The flow's field is then (P - Z) / tau row by row, and a leaky one-step
    map with its Jacobian is Z <- decay Z + gain P."""
    P, D, G = ws.P, ws.D, ws.G
    # one product for the state and every tangent vector
    finish(sums(Z, net, ws), D, net.phi, RAW, Z, net.inv_tau, net.inv_tau, P)
    if inp.xs.shape[2] > 0:
        drive(inp, k, c, D, ws.Xw)
    N = P.shape[1]
    for i in range(N):
        P[0, i] += D[0, i]
        G[0, i] = P[0, i]
    apply_phi(net.phi, P[0:1])
    apply_dphi(net.phi, G)
    for r in range(1, P.shape[0]):
        for i in range(N):
            P[r, i] *= G[0, i]


@jit
def tangent_field(Z, k, c, net, inp, ws, out):
    """out <- d/dt [h; q_1; ...]: (-h + phi(z)) / tau and (-q + phi'(z) * (W q)) / tau."""
    tangent_preactivation(Z, k, c, net, inp, ws)
    relax(ws.P, Z, net.inv_tau, out)


@jit(inline="always")
def first_nonfinite(Z):
    """(-1, -1) if every entry of Z (B, M) is finite, else (trial, column) of the first
    infinite entry, or of the first NaN if none is infinite (a NaN is often a product
    0 * inf of a neuron that diverged, so the inf names the culprit)."""
    f = Z.reshape(-1)
    bad = 0
    for i in range(f.size):
        bad |= 0 if abs(f[i]) < np.inf else 1
    if bad == 0:
        return -1, -1
    B, M = Z.shape
    for r in range(B):
        for i in range(M):
            if abs(Z[r, i]) == np.inf:
                return r, i
    for r in range(B):
        for i in range(M):
            if Z[r, i] != Z[r, i]:
                return r, i
    return -1, -1


@jit(inline="always")
def axpy(alpha, X, Y):
    """Y += alpha * X in place, for arrays of one shape (no temporaries)."""
    x = X.reshape(-1)
    y = Y.reshape(-1)
    for i in range(y.size):
        y[i] += alpha * x[i]
