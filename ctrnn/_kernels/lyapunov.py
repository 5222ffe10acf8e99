"""Tangent dynamics and QR re-orthonormalisation (Benettin et al. 1980) for Lyapunov
exponents, stepped with the same integrator as the state.

The state h and k tangent vectors q_r travel together as the rows of Z = [h; q_1; ...;
q_k] (1 + k, N), so one product Z W^T serves all of them (``rhs.tangent_preactivation``).
For the flow f(h) = (-h + phi(z)) / tau, z = W h + U x + b, the tangent field is
dq/dt = (-q + phi'(z) * (W q)) / tau; Runge-Kutta methods step Z with the simulator's own
stage loop (``rk.rk_step``). Leaky methods (Euler, exponential Euler, the discrete RNN)
propagate the q_r with the Jacobian of their one-step map, q <- decay q + gain phi'(z) *
(W q).
"""
import numpy as np

from ._jit import jit
from .borrow import borrow
from .rhs import tangent_preactivation, tangent_workspace
from .rk import rk_step


@jit
def _orthonormalise(Z, logs):
    """Q <- Q R^-1 for Q = Z[1:].T (QR decomposition); logs += log |diag R|."""
    q, r = np.linalg.qr(Z[1:].T)
    for j in range(q.shape[1]):
        d = r[j, j]
        logs[j] += np.log(abs(d))
        s = 1.0 if d >= 0 else -1.0
        for i in range(q.shape[0]):
            Z[1 + j, i] = q[i, j] * s


@jit
def lyapunov_rk(Z, k0, nsteps, ortho_every, net, inp, dt, A, b, c, logs):
    """Advance Z = [h; q_1; ...] (1 + K, N) by ``nsteps`` RK steps of tableau (A, b, c);
    add the log stretching factors of each re-orthonormalisation (every ``ortho_every``
    global steps) to logs (K,). ``net``, ``inp`` as for the simulator's kernels (no STP).
    Returns the index of a step where Z became non-finite, or -1."""
    ws = tangent_workspace(Z, net, inp)
    K = np.empty((b.size,) + Z.shape)
    Y = np.empty_like(Z)
    return _rk_loop(Z, k0, nsteps, ortho_every, net, inp, dt, A, b, c, logs, ws, K, Y)


@jit
def _rk_loop(Z, k0, nsteps, ortho_every, net, inp, dt, A, b, c, logs, ws, K, Y):
    """``lyapunov_rk``'s loop, on its workspace ws and scratch K, Y."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    Z = borrow(Z)
    net = borrow(net)
    inp = borrow(inp)
    A = borrow(A)
    b = borrow(b)
    c = borrow(c)
    logs = borrow(logs)
    ws = borrow(ws)
    K = borrow(K)
    Y = borrow(Y)
    for k in range(k0, k0 + nsteps):
        rk_step(Z, k, dt, A, b, c, K, Y, net, inp, ws)
        if not np.isfinite(Z.sum()):
            return k
        if (k + 1) % ortho_every == 0:
            _orthonormalise(Z, logs)
    return -1


@jit
def lyapunov_leaky(Z, k0, nsteps, ortho_every, net, inp, decay, gain, logs):
    """As ``lyapunov_rk`` for the one-step maps h <- decay h + gain phi(z)."""
    ws = tangent_workspace(Z, net, inp)
    return _leaky_loop(Z, k0, nsteps, ortho_every, net, inp, decay, gain, logs, ws)


@jit
def _leaky_loop(Z, k0, nsteps, ortho_every, net, inp, decay, gain, logs, ws):
    """``lyapunov_leaky``'s loop, on its workspace ws."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    Z = borrow(Z)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    logs = borrow(logs)
    ws = borrow(ws)
    P = ws.P
    R, N = Z.shape
    for k in range(k0, k0 + nsteps):
        tangent_preactivation(Z, k, 0.0, net, inp, ws)
        for r in range(R):
            for i in range(N):
                Z[r, i] = decay[i] * Z[r, i] + gain[i] * P[r, i]
        if not np.isfinite(Z.sum()):
            return k
        if (k + 1) % ortho_every == 0:
            _orthonormalise(Z, logs)
    return -1
