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


def lstm_loop(x, h0, c0, W_ih, W_hh, b_ih, b_hh, C, c):
    """The LSTM equations written out step by step (PyTorch's gate order i, f, g, o):
    x (T, n_in), h0, c0 (H,) -> h, c (T, H) after each step and y (T, n_out)."""
    H = W_hh.shape[1]
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    h, cc = np.array(h0, float), np.array(c0, float)
    hs, cs, ys = [], [], []
    for t in range(x.shape[0]):
        z = W_ih @ x[t] + b_ih + W_hh @ h + b_hh
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        cc = f * cc + i * g
        h = o * np.tanh(cc)
        hs.append(h)
        cs.append(cc)
        ys.append(C @ h + c)
    return np.array(hs), np.array(cs), np.array(ys)


def lstm_closed_loop(x, take, h0, c0, W_ih, W_hh, b_ih, b_hh, C, c):
    """``lstm_loop`` with output feedback: where take[t] is False (t >= 1) the last
    n_outputs inputs of step t are the previous output C h_t + c. Returns h, c, y and the
    inputs received (T, n_in)."""
    H, n_out = W_hh.shape[1], C.shape[0]
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    h, cc = np.array(h0, float), np.array(c0, float)
    xs, hs, cs, ys = [], [], [], []
    y = None
    for t in range(x.shape[0]):
        xt = np.array(x[t], float)
        if t > 0 and not take[t]:
            xt[-n_out:] = y
        z = W_ih @ xt + b_ih + W_hh @ h + b_hh
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        cc = f * cc + i * g
        h = o * np.tanh(cc)
        y = C @ h + c
        xs.append(xt)
        hs.append(h)
        cs.append(cc)
        ys.append(y)
    return np.array(hs), np.array(cs), np.array(ys), np.array(xs)


def euler_closed_loop(h0, W, U, b, tau, phi, dt, x, take, C, c):
    """``euler_loop`` with output feedback into the last n_outputs inputs where
    take[k] is False (k >= 1). Returns the states (T + 1, N) and the inputs received."""
    n_out = C.shape[0]
    h = np.array(h0, float)
    out, xs = [h.copy()], []
    for k in range(x.shape[0]):
        xk = np.array(x[k], float)
        if k > 0 and not take[k]:
            xk[-n_out:] = C @ h + c
        h = h + dt / tau * (-h + PHI[phi](W @ h + U @ xk + b))
        out.append(h.copy())
        xs.append(xk)
    return np.array(out), np.array(xs)


def force_loop(h0, W, uf, f, dt, tau, alpha, every, lam=1.0, S=None, U=None, x=None, b=0.0,
               lms=None):
    """FORCE (Sussillo & Abbott 2009) on the rate network, Euler, written out: the output
    z = w h_S computed after each step (before the update) is fed back through uf at the
    next step; RLS (or LMS with rate ``lms``) every ``every`` steps. f (T, M); inputs x
    (T, n_in) through U. Returns z (T, M), e (T, M), w (M, |S|)."""
    N, M = uf.shape
    S = np.arange(N) if S is None else S
    h = np.array(h0, float)
    w = np.zeros((M, S.size))
    P = np.eye(S.size) / alpha
    z = w @ h[S]
    zs, es = [], []
    for k in range(f.shape[0]):
        drive = W @ h + uf @ z + b + (U @ x[k] if U is not None else 0.0)
        h = h + dt / tau * (-h + np.tanh(drive))
        r = h[S]
        z = w @ r
        e = z - f[k]
        if (k + 1) % every == 0:
            if lms is not None:
                w = w - lms * np.outer(e, r)
            else:
                kk = P @ r
                c = 1.0 / (lam + r @ kk)
                P = (P - c * np.outer(kk, kk)) / lam
                w = w - c * np.outer(e, kk)
        zs.append(z.copy())
        es.append(e.copy())
    return np.array(zs), np.array(es), w


def pinning_loop(D, W0, S, tau, dt, alpha, n_runs, phi=np.tanh):
    """Data-constrained RLS (Rajan et al. 2016), Euler, one step per sample, written out:
    from h = D[0], each step h <- h + a (-h + phi(W h)); then e = h - D[t], and the rows
    of W learn on the columns S with regressor h_S before the step:
    k = P h_S, c = 1 / (1 + h_S.k), P -= c k k^T, W[:, S] -= c (e / a) k^T. Returns W."""
    a = dt / tau
    W = np.array(W0, float)
    P = np.eye(S.size) / alpha
    for _ in range(n_runs):
        h = D[0].copy()
        for t in range(1, D.shape[0]):
            r = h[S].copy()
            h = h + a * (-h + phi(W @ h))
            e = h - D[t]
            kk = P @ r
            c = 1.0 / (1.0 + r @ kk)
            P = P - c * np.outer(kk, kk)
            W[:, S] -= c * np.outer(e / a, kk)
    return W
