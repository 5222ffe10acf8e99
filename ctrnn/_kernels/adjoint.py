"""Exact adjoints of the fixed-step loops of ``rk``: backpropagation through time of the
discretised network (discretise-then-optimise), for the trainer (``ctrnn.train``).

The forward pass is the engine's own loop (``rk.leaky_run`` / ``rk.rk_run``) saving every
state; these kernels run backwards over the saved states of one segment of steps
[k0, k0 + n) and carry the adjoint a = dL/dZ_k of the state (B, M) (h, and u, x with STP)
from step k0 + n down to k0:

- leaky methods (euler, exponential_euler, discrete): Z_{k+1} = decay h_k +
  gain phi(z_k) (+ noise), z_k = W s_k + U x_k + b, with s = h, or the STP signal
  e u x max(h, 0) and u, x stepped by ``stp.leaky_step``;
- Runge-Kutta (any explicit tableau A, b, c): the stages of step k are recomputed from
  Z_k and one reverse stage loop runs over the same tableau
  (K_bar_s = dt b_s a + dt sum_{m > s} A_ms Y_bar_m, Y_bar_s = J_f(Y_s)^T K_bar_s).

The loss enters through the readout y_k = C h_{k+1} + c: a gets C^T y_bar_k added at state
k + 1, and rho h_{k+1} from an L2 penalty on the rates. Noise is additive after each step,
so it enters the gradient only through d(noise factor)/dtau; it is replayed from the
counter-based generator (``rng.add_noise``), never stored.

The parameter gradients need sums over steps and trials of outer products (dW = sum
delta s^T ...). They are gathered in blocks of ``Blocks.D.shape[0]`` steps aligned to the
global step index and added with one matrix product per block (``flush``), so that a
gradient is the same bit for bit however the steps are cut into segments (checkpointing).
Inputs are held over each step (HOLD); the caller checks this.
"""
from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import overload

from . import stp as _stp
from ._jit import FASTMATH, jit
from .borrow import borrow
from .phi import apply_dphi, apply_phi
from .rhs import drive, make_workspace, recurrent, relax
from .rk import _stage_input
from .rng import add_noise

Grads = namedtuple("Grads", "W U b tau C")
Grads.__doc__ = """Gradient accumulators: W (N, N) dense, or (nnz,) for a CSR W (on its
stored entries only); U (N, n_in); b (N,); tau (N,) (size 0 when tau is not trained);
C (n_out, N) the readout."""

Blocks = namedtuple("Blocks", "D S G X Y Hn")
Blocks.__doc__ = """Per-block buffers of Kb steps (slot = k % Kb): D (Kb, R, N) adjoints of
the pre-activations, S (Kb, R, N) the presynaptic signals they multiply (R = stages x B),
G (Kb, B, N) D summed over stages, X (Kb, B, n_in) the inputs, Y (Kb, B, n_out) the
output adjoints, Hn (Kb, B, N) the states h_{k+1} they multiply."""


def transposed(D, W, out):
    """out <- D W for D (B, N): the adjoint of the recurrent product s -> W s, for a dense
    W (one matrix product) or CSR arrays (a scatter per stored entry)."""
    raise NotImplementedError  # only callable from jitted code


@overload(transposed, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"))
def _transposed_ov(D, W, out):
    if isinstance(W, types.Array):
        def dense(D, W, out):
            np.dot(D, W, out)
        return dense

    def csr(D, W, out):
        data, indices, indptr = W
        B, N = D.shape
        out[:] = 0.0
        for r in range(B):
            for i in range(N):
                d = D[r, i]
                for q in range(indptr[i], indptr[i + 1]):
                    out[r, indices[q]] += data[q] * d
    return csr


def outer_into(gW, D2, S2, W):
    """gW += D2^T S2 (D2, S2 (R, N)): dense, or on the stored entries of a CSR W."""
    raise NotImplementedError  # only callable from jitted code


@overload(outer_into, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"))
def _outer_into_ov(gW, D2, S2, W):
    if isinstance(W, types.Array):
        def dense(gW, D2, S2, W):
            P = np.dot(D2.T, S2)
            N = gW.shape[0]
            for i in range(N):
                for j in range(N):
                    gW[i, j] += P[i, j]
        return dense

    def csr(gW, D2, S2, W):
        data, indices, indptr = W
        R, N = D2.shape
        for i in range(N):
            for q in range(indptr[i], indptr[i + 1]):
                j = indices[q]
                acc = 0.0
                for r in range(R):
                    acc += D2[r, i] * S2[r, j]
                gW[q] += acc
    return csr


@jit
def make_blocks(Kb, stages, B, N, n_in, n_out):
    """Zeroed ``Blocks`` of Kb steps."""
    return Blocks(np.zeros((Kb, stages * B, N)), np.zeros((Kb, stages * B, N)),
                  np.zeros((Kb, B, N)), np.zeros((Kb, B, n_in)), np.zeros((Kb, B, n_out)),
                  np.zeros((Kb, B, N)))


@jit
def flush(blk, g, W):
    """Add the products of a full (or final) block to the gradients and zero it."""
    Kb, R, N = blk.D.shape
    B = blk.G.shape[1]
    n_in = blk.X.shape[2]
    n_out = blk.Y.shape[2]
    outer_into(g.W, blk.D.reshape(Kb * R, N), blk.S.reshape(Kb * R, N), W)
    G2 = blk.G.reshape(Kb * B, N)
    if n_in > 0:
        g.U[:, :] += np.dot(G2.T, blk.X.reshape(Kb * B, n_in))
    for r in range(Kb * B):
        for i in range(N):
            g.b[i] += G2[r, i]
    if n_out > 0:
        g.C[:, :] += np.dot(blk.Y.reshape(Kb * B, n_out).T, blk.Hn.reshape(Kb * B, N))
    blk.D[:] = 0.0
    blk.S[:] = 0.0
    blk.G[:] = 0.0
    blk.X[:] = 0.0
    blk.Y[:] = 0.0
    blk.Hn[:] = 0.0


@jit(inline="always")
def _inject(a, Hs, j, k, Ybar, C, rho, blk, slot, norms):
    """At state k + 1 (row j of Hs): a_h += C^T y_bar_k + rho h_{k+1}; the pieces of dC
    into the block; ||a_h|| per trial into norms[:, k + 1] when asked."""
    B = a.shape[0]
    n_out, N = C.shape
    for r in range(B):
        for o in range(n_out):
            yb = Ybar[r, k, o]
            blk.Y[slot, r, o] = yb
            if yb != 0.0:
                for i in range(N):
                    a[r, i] += yb * C[o, i]
        for i in range(N):
            hn = Hs[r, j, i]
            blk.Hn[slot, r, i] = hn
            a[r, i] += rho * hn
    _norms(a, N, norms, k + 1)


@jit(inline="always")
def _norms(a, N, norms, col):
    """norms[:, col] <- ||a[:, :N]|| per trial, when norms are asked for (> 0 columns)."""
    if norms.shape[1] > 0:
        for r in range(a.shape[0]):
            acc = 0.0
            for i in range(N):
                acc += a[r, i] * a[r, i]
            norms[r, col] = np.sqrt(acc)


@jit(inline="always")
def _signal(Y, net, src):
    """src (B, N) <- what the presynaptic neurons transmit at state Y (B, M): h, or with
    STP e u x max(h, 0)."""
    N = src.shape[1]
    if Y.shape[1] > N:
        _stp.signal(Y, net.stp, src)
    else:
        src[:, :] = Y[:, :N]


@jit(inline="always")
def _preactivation(src, k, net, inp, z, D, Xw, blk, slot, store_x):
    """z <- W src + (U x_k + b), the drive from ``rhs.drive`` as the forward loops form it
    (inputs held over step k; D (Bx, N) from ``rhs.make_workspace``, which holds b
    when there are no inputs); x_k into the
    block."""
    recurrent(src, net.W, net.WT, z)
    n_in = Xw.shape[1]
    if n_in > 0:
        drive(inp, k, 0.0, D, Xw)
    B, N = z.shape
    shared = D.shape[0] == 1
    for r in range(B):
        rx = 0 if shared else r
        for i in range(N):
            z[r, i] += D[rx, i]
        if store_x:
            for m in range(n_in):
                blk.X[slot, r, m] = Xw[rx, m]


@jit
def _noise_tau(g, a, E, keys, k, dnoise):
    """g.tau += a * (d(noise increment)/dtau) of step k: the increment replayed from the
    counter-based generator with dnoise as its scale. A real call, not inlined: inlined
    with inline="always" into ``leaky_adjoint`` (numba 0.68.1) it gave a wrong tau
    gradient with noise (relative error 0.38 against finite differences), while the same
    code inlined into ``rk_adjoint`` was right; the call costs nothing next to a step's
    products."""
    if keys.size > 0:
        E[:, :] = 0.0
        add_noise(E, keys, k, dnoise)
        B, N = E.shape
        for r in range(B):
            for i in range(N):
                g.tau[i] += a[r, i] * E[r, i]


@jit(inline="always")
def _stp_field_vjp(h, u, x, sbar, vu, vx, rs, U, itf, itd, e):
    """(h_bar, u_bar, x_bar) of STP's part of the field at one presynaptic neuron: sbar
    the adjoint of its signal e u x max(h, 0), (vu, vx) those of (du/dt, dx/dt)."""
    pos = h > 0
    hp = h if pos else 0.0
    r = rs * hp
    dfu_du = -itf - U * r
    dfu_dr = U * (1.0 - u)
    dfx_dx = -itd - u * r
    dfx_du = -x * r
    dfx_dr = -u * x
    hb = (sbar * e * u * x + rs * (vu * dfu_dr + vx * dfx_dr)) if pos else 0.0
    ub = sbar * e * x * hp + vu * dfu_du + vx * dfx_du
    xb = sbar * e * u * hp + vx * dfx_dx
    return hb, ub, xb


@jit(inline="always")
def _stp_exact_vjp(h, u, x, sbar, au, ax, rs, U, itf, itd, e, dt):
    """(h_bar, u_bar, x_bar) of the exact step of u and x with the rate held
    (``stp.leaky_step`` with exact=True) plus the signal e u x max(h, 0)."""
    pos = h > 0
    hp = h if pos else 0.0
    r = rs * hp
    a_u = itf + U * r
    u_inf = U * (itf + r) / a_u
    Eu = np.exp(-a_u * dt)
    du_dr = (U * itf * (1.0 - U) / (a_u * a_u)) * (1.0 - Eu) - (u - u_inf) * Eu * dt * U
    a_x = itd + u * r
    x_inf = itd / a_x
    Ex = np.exp(-a_x * dt)
    dx_dax = (-itd / (a_x * a_x)) * (1.0 - Ex) - (x - x_inf) * Ex * dt
    hb = (sbar * e * u * x + rs * (au * du_dr + ax * dx_dax * u)) if pos else 0.0
    ub = sbar * e * x * hp + au * Eu + ax * dx_dax * r
    xb = sbar * e * u * hp + ax * Ex
    return hb, ub, xb


@jit
def leaky_adjoint(Hs, k0, n, a, net, inp, decay, gain, ddecay, dgain, dnoise, keys, dt,
                  exact, Ybar, C, rho, blk, g, norms):
    """Carry the adjoint a (B, M) from state k0 + n to state k0 through the leaky steps
    k0 + n - 1 .. k0, whose states are Hs[:, 0 .. n] (B, n + 1, M), adding to the
    gradients ``g`` (``Grads``) through the blocks ``blk``.

    decay, gain (N,): the step's coefficients; ddecay, dgain, dnoise (N,): their and the
    noise factor's (times noise) derivatives with respect to tau, or size 0 when tau is
    not trained; keys (B,) the trials' noise keys (size 0 without noise); exact: STP's
    u and x stepped exactly (exponential_euler) rather than by Euler. Ybar (B, T, n_out)
    the adjoints of the outputs y_k = C h_{k+1} + c; rho the rate penalty's factor;
    norms (B, T + 1) receives ||dL/dh_k|| (or has 0 columns)."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    Hs = borrow(Hs)
    a = borrow(a)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    ddecay = borrow(ddecay)
    dgain = borrow(dgain)
    dnoise = borrow(dnoise)
    keys = borrow(keys)
    Ybar = borrow(Ybar)
    C = borrow(C)
    blk = borrow(blk)
    g = borrow(g)
    norms = borrow(norms)
    B, _, M = Hs.shape
    N = decay.size
    Kb = blk.D.shape[0]
    has_stp = M > N
    want_tau = ddecay.size > 0
    stp = net.stp
    h = np.empty((B, M))
    src = np.empty((B, N))
    z = np.empty((B, N))
    dz = np.empty((B, N))
    dl = np.empty((B, N))
    sb = np.empty((B, N))
    E = np.zeros((B, N))
    ws = make_workspace(h, net, inp)  # D = b (no inputs) and Xw, as the forward's
    D, Xw = ws.D, ws.Xw
    for k in range(k0 + n - 1, k0 - 1, -1):
        j = k - k0
        slot = k % Kb
        _inject(a, Hs, j + 1, k, Ybar, C, rho, blk, slot, norms)
        h[:, :] = Hs[:, j]
        _signal(h, net, src)
        _preactivation(src, k, net, inp, z, D, Xw, blk, slot, True)
        dz[:, :] = z
        apply_dphi(net.phi, dz)
        if want_tau:
            apply_phi(net.phi, z)  # z now holds phi(z)
            _noise_tau(g, a, E, keys, k, dnoise)
            for r in range(B):
                for i in range(N):
                    g.tau[i] += a[r, i] * (ddecay[i] * h[r, i] + dgain[i] * z[r, i])
        for r in range(B):
            for i in range(N):
                d = gain[i] * dz[r, i] * a[r, i]
                dl[r, i] = d
                blk.D[slot, r, i] = d
                blk.S[slot, r, i] = src[r, i]
                blk.G[slot, r, i] = d
        transposed(dl, net.W, sb)
        if has_stp:
            for r in range(B):
                for i in range(N):
                    hv, u, x = h[r, i], h[r, N + i], h[r, 2 * N + i]
                    au, ax = a[r, N + i], a[r, 2 * N + i]
                    if exact:
                        hb, ub, xb = _stp_exact_vjp(hv, u, x, sb[r, i], au, ax,
                                                    stp.rate_scale, stp.U[i],
                                                    stp.inv_tau_f[i], stp.inv_tau_d[i],
                                                    stp.efficacy[i], dt)
                    else:
                        hb, ub, xb = _stp_field_vjp(hv, u, x, sb[r, i], dt * au, dt * ax,
                                                    stp.rate_scale, stp.U[i],
                                                    stp.inv_tau_f[i], stp.inv_tau_d[i],
                                                    stp.efficacy[i])
                        ub += au
                        xb += ax
                    a[r, i] = decay[i] * a[r, i] + hb
                    a[r, N + i] = ub
                    a[r, 2 * N + i] = xb
        else:
            for r in range(B):
                for i in range(N):
                    a[r, i] = decay[i] * a[r, i] + sb[r, i]
        if slot == 0:
            flush(blk, g, net.W)
    if k0 == 0:
        _norms(a, N, norms, 0)
        flush(blk, g, net.W)


@jit
def rk_adjoint(Hs, k0, n, a, net, inp, dt, A, bw, want_tau, dnoise, keys, Ybar, C, rho,
               blk, g, norms):
    """``leaky_adjoint`` for the explicit Runge-Kutta tableau (A, bw) (its c does not
    matter: inputs are held over the step): the stages of
    each step are recomputed from its start and one reverse stage loop carries the
    adjoint back. want_tau: accumulate dL/dtau (dnoise (N,) the noise factor's (times
    noise) derivative with respect to tau, used when there is noise)."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    Hs = borrow(Hs)
    a = borrow(a)
    net = borrow(net)
    inp = borrow(inp)
    A = borrow(A)
    bw = borrow(bw)
    dnoise = borrow(dnoise)
    keys = borrow(keys)
    Ybar = borrow(Ybar)
    C = borrow(C)
    blk = borrow(blk)
    g = borrow(g)
    norms = borrow(norms)
    B, _, M = Hs.shape
    N = net.inv_tau.size
    S = bw.size
    Kb = blk.D.shape[0]
    has_stp = M > N
    stp = net.stp
    inv_tau = net.inv_tau
    y = np.empty((B, M))
    Y = np.empty((S, B, M))
    K = np.empty((S, B, M))
    Kbar = np.empty((S, B, M))
    Zp = np.empty((S, B, N))  # the stages' pre-activations z
    Z = np.empty((S, B, N))  # phi(z)
    Src = np.empty((S, B, N))
    dz = np.empty((B, N))
    gv = np.empty((B, N))
    sb = np.empty((B, N))
    Yb = np.empty((B, M))
    E = np.zeros((B, N))
    ws = make_workspace(y, net, inp)  # D = b (no inputs) and Xw, as the forward's
    D, Xw = ws.D, ws.Xw
    for k in range(k0 + n - 1, k0 - 1, -1):
        j = k - k0
        slot = k % Kb
        _inject(a, Hs, j + 1, k, Ybar, C, rho, blk, slot, norms)
        y[:, :] = Hs[:, j]
        # the forward stages of step k, with the forward loop's own pieces
        for st in range(S):
            Ys = Y[st]
            _stage_input(y, Ys, K, A, st, dt)
            _signal(Ys, net, Src[st])
            _preactivation(Src[st], k, net, inp, Zp[st], D, Xw, blk, slot, st == 0)
            Z[st, :, :] = Zp[st]
            apply_phi(net.phi, Z[st])
            relax(Z[st], Ys, inv_tau, K[st])
            if has_stp:
                _stp.field(Ys, stp, B, N, K[st])
        if want_tau:
            _noise_tau(g, a, E, keys, k, dnoise)
        # the reverse stage loop
        for st in range(S):
            w = dt * bw[st]
            for r in range(B):
                for i in range(M):
                    Kbar[st, r, i] = w * a[r, i]
        for st in range(S - 1, -1, -1):
            Ys = Y[st]
            v = Kbar[st]
            dz[:, :] = Zp[st]
            apply_dphi(net.phi, dz)
            for r in range(B):
                for i in range(N):
                    gi = dz[r, i] * inv_tau[i] * v[r, i]
                    gv[r, i] = gi
                    blk.D[slot, st * B + r, i] = gi
                    blk.S[slot, st * B + r, i] = Src[st, r, i]
                    blk.G[slot, r, i] += gi
                    if want_tau:
                        g.tau[i] -= inv_tau[i] * inv_tau[i] * v[r, i] * (Z[st, r, i] - Ys[r, i])
            transposed(gv, net.W, sb)
            if has_stp:
                for r in range(B):
                    for i in range(N):
                        hb, ub, xb = _stp_field_vjp(Ys[r, i], Ys[r, N + i], Ys[r, 2 * N + i],
                                                    sb[r, i], v[r, N + i], v[r, 2 * N + i],
                                                    stp.rate_scale, stp.U[i],
                                                    stp.inv_tau_f[i], stp.inv_tau_d[i],
                                                    stp.efficacy[i])
                        Yb[r, i] = -inv_tau[i] * v[r, i] + hb
                        Yb[r, N + i] = ub
                        Yb[r, 2 * N + i] = xb
            else:
                for r in range(B):
                    for i in range(N):
                        Yb[r, i] = -inv_tau[i] * v[r, i] + sb[r, i]
            for r in range(B):
                for i in range(M):
                    a[r, i] += Yb[r, i]  # a accumulates h_bar (its identity part is a)
            for m in range(st):
                am = dt * A[st, m]
                if am != 0.0:
                    for r in range(B):
                        for i in range(M):
                            Kbar[m, r, i] += am * Yb[r, i]
        if slot == 0:
            flush(blk, g, net.W)
    if k0 == 0:
        _norms(a, N, norms, 0)
        flush(blk, g, net.W)


@jit
def readout_rows(Hs, j0, j1, C, c, Y, k_first, sq):
    """Y[:, k_first + j - j0] <- C h + c for the states h = Hs[:, j, :N], j in [j0, j1),
    and sq[k_first + j - j0] <- sum of h^2 over trials and neurons (in a fixed order, so
    the loss does not depend on how the run was cut into chunks)."""
    B = Hs.shape[0]
    n_out, N = C.shape
    for j in range(j0, j1):
        k = k_first + j - j0
        acc2 = 0.0
        for r in range(B):
            for o in range(n_out):
                acc = c[o]
                for i in range(N):
                    acc += C[o, i] * Hs[r, j, i]
                Y[r, k, o] = acc
            for i in range(N):
                acc2 += Hs[r, j, i] * Hs[r, j, i]
        sq[k] = acc2
