"""Slow, obvious NumPy references for the kernels (no ctrnn code used)."""
import numpy as np

PHI = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "linear": lambda z: z,
}


def rhs(h, W, U, b, tau, phi, x):
    return (-h + PHI[phi](W @ h + U @ x + b)) / tau


def euler_loop(h0, W, U, b, tau, phi, dt, xs):
    """h[k+1] = h[k] + dt/tau (-h[k] + phi(W h[k] + U x[k] + b)); returns (steps+1, N)."""
    h = np.array(h0, float)
    out = [h.copy()]
    for x in xs:
        h = h + dt / tau * (-h + PHI[phi](W @ h + U @ x + b))
        out.append(h.copy())
    return np.array(out)


def discrete_loop(h0, W, U, b, phi, xs):
    """The vanilla RNN h[t+1] = phi(W h[t] + U x[t] + b)."""
    h = np.array(h0, float)
    out = [h.copy()]
    for x in xs:
        h = PHI[phi](W @ h + U @ x + b)
        out.append(h.copy())
    return np.array(out)


def rk4_loop(h0, W, U, b, tau, phi, dt, steps, x_of_t):
    """Classic RK4 with the input evaluated as x_of_t(t)."""
    h = np.array(h0, float)
    out = [h.copy()]
    for k in range(steps):
        t = k * dt
        k1 = rhs(h, W, U, b, tau, phi, x_of_t(t))
        k2 = rhs(h + dt / 2 * k1, W, U, b, tau, phi, x_of_t(t + dt / 2))
        k3 = rhs(h + dt / 2 * k2, W, U, b, tau, phi, x_of_t(t + dt / 2))
        k4 = rhs(h + dt * k3, W, U, b, tau, phi, x_of_t(t + dt))
        h = h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(h.copy())
    return np.array(out)


def stp_rhs(z, W, U, b, tau, phi, x_in, Us, tau_f, tau_d, rate_scale=1.0, eff=1.0):
    """d(h, u, x)/dt of the rate network with Tsodyks-Markram STP, written out plainly."""
    n = W.shape[0]
    h, u, x = z[:n], z[n:2 * n], z[2 * n:]
    hp = np.maximum(h, 0.0)
    r = rate_scale * hp
    dh = (-h + PHI[phi](W @ (eff * u * x * hp) + U @ x_in + b)) / tau
    du = (Us - u) / tau_f + Us * (1 - u) * r
    dx = (1 - x) / tau_d - u * x * r
    return np.concatenate([dh, du, dx])
