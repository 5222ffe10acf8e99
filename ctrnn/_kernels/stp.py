"""Tsodyks-Markram short-term plasticity in the kernels: the only place its equations
are written (see ``ctrnn.plasticity`` for the model and its conventions).

The STP state of presynaptic neuron j lives beside h in the state Z (B, 3 N): columns
[0, N) are h, [N, 2 N) are u (utilisation), [2 N, 3 N) are x (resources). The packed
parameters ``stp`` are a ``ctrnn._engine.STPParams`` (U, inv_tau_f, inv_tau_d, efficacy,
rate_scale): (N,) arrays, or arrays of size 0 for a network without STP.

    du/dt = (U - u) / tau_f + U (1 - u) r,    dx/dt = (1 - x) / tau_d - u x r,
    r = rate_scale max(h, 0),  recurrent signal s_j = e_j u_j x_j max(h_j, 0).
"""
import math

from ._jit import jit


@jit(inline="always")
def derivatives(u, x, rate, U, inv_tau_f, inv_tau_d):
    """(du/dt, dx/dt) at presynaptic rate ``rate``."""
    return ((U - u) * inv_tau_f + U * (1.0 - u) * rate,
            (1.0 - x) * inv_tau_d - u * x * rate)


@jit(inline="always")
def signal(Z, stp, S):
    """S (B, N) <- e u x max(h, 0): what each presynaptic neuron transmits."""
    B, N = S.shape
    eff = stp.efficacy
    for r in range(B):
        for i in range(N):
            h = Z[r, i]
            S[r, i] = eff[i] * Z[r, N + i] * Z[r, 2 * N + i] * (h if h > 0 else 0.0)


@jit(inline="always")
def field(Z, stp, B, N, out):
    """out[:, N:3N] <- (du/dt, dx/dt) at Z, for B trials of N neurons."""
    Us, inv_tf, inv_td, scale = stp.U, stp.inv_tau_f, stp.inv_tau_d, stp.rate_scale
    for r in range(B):
        for i in range(N):
            h = Z[r, i]
            rate = scale * (h if h > 0 else 0.0)
            out[r, N + i], out[r, 2 * N + i] = derivatives(
                Z[r, N + i], Z[r, 2 * N + i], rate, Us[i], inv_tf[i], inv_td[i])


@jit(inline="always")
def leaky_step(Z, stp, dt, exact):
    """Advance u and x in Z by one step dt from the state at the start of the step
    (h in Z not yet updated): forward Euler (exact False), or the exact solution of their
    linear equations with the rate held over the step (exact True)."""
    N = stp.U.size
    Us, inv_tf, inv_td = stp.U, stp.inv_tau_f, stp.inv_tau_d
    for r in range(Z.shape[0]):
        for i in range(N):
            h = Z[r, i]
            rate = stp.rate_scale * (h if h > 0 else 0.0)
            u = Z[r, N + i]
            x = Z[r, 2 * N + i]
            if exact:
                a_u = inv_tf[i] + Us[i] * rate
                u_inf = Us[i] * (inv_tf[i] + rate) / a_u
                a_x = inv_td[i] + u * rate
                x_inf = inv_td[i] / a_x
                Z[r, N + i] = u_inf + (u - u_inf) * math.exp(-a_u * dt)
                Z[r, 2 * N + i] = x_inf + (x - x_inf) * math.exp(-a_x * dt)
            else:
                du, dx = derivatives(u, x, rate, Us[i], inv_tf[i], inv_td[i])
                Z[r, N + i] = u + dt * du
                Z[r, 2 * N + i] = x + dt * dx
