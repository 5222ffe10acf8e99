"""Lyapunov spectra and the sparse kernel, against plain NumPy/SciPy, in one process.

Run:  cd benchmarks && python bench_analysis.py
"""

import numpy as np

import ctrnn
from bench_core import best_of as timed
from ctrnn.analysis import lyapunov_spectrum


def numpy_lyapunov_euler(W, h0, k, steps, dt, tau=1.0, seed=0):
    """The plain NumPy QR method for the Euler map h <- h + a(-h + tanh(W h))."""
    a = dt / tau
    h = h0.copy()
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(h), k)))[0]
    logs = np.zeros(k)
    for _ in range(steps):
        z = W @ h
        d = 1 - np.tanh(z) ** 2
        h = (1 - a) * h + a * np.tanh(z)
        Q = (1 - a) * Q + a * d[:, None] * (W @ Q)
        Q, R = np.linalg.qr(Q)
        logs += np.log(np.abs(np.diag(R)))
    return logs / (steps * dt)


def main():
    print("| what | ctrnn (s) | NumPy (s) | NumPy / ctrnn | max difference of exponents |")
    print("|---|---|---|---|---|")
    for n, k, steps in ((200, 200, 500), (1000, 50, 200)):
        W = ctrnn.connectivity.gaussian(n, 2.0, seed=0)
        h0 = np.random.default_rng(1).standard_normal(n)
        net = ctrnn.RateNetwork(W, tau=1.0)
        dt = 0.1
        ours = lambda: lyapunov_spectrum(net, k, duration=steps * dt, dt=dt,  # noqa: E731
                                         method="euler", h0=h0, seed=0, n_records=1)
        ref = lambda: numpy_lyapunov_euler(W, h0, k, steps, dt, seed=0)  # noqa: E731
        t_c, t_n = timed(ours), timed(ref, 2)
        diff = np.abs(ours().exponents.values - ref()).max()
        print(f"| Lyapunov, N={n}, first {k}, {steps} Euler steps, QR every step | "
              f"{t_c:.3g} | {t_n:.3g} | {t_n / t_c:.1f}x | {diff:.1e} |", flush=True)
    # the sparse kernel at N = 100,000, p = 0.001
    n, p, steps = 100_000, 0.001, 20
    W = ctrnn.connectivity.sparse(n, p, 1.5, seed=2)
    net = ctrnn.RateNetwork(W, tau=1.0)
    h0 = np.random.default_rng(3).standard_normal(n)
    run = lambda: ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0, method="euler",  # noqa: E731
                                 save_every=steps, progress=False)

    def scipy_loop():
        h = h0.copy()
        for _ in range(steps):
            h = h + 0.1 * (-h + np.tanh(W @ h))
        return h
    t_c, t_s = timed(run), timed(scipy_loop)
    print(f"| sparse euler, N={n}, p={p} ({W.nnz} synapses), {steps} steps | {t_c:.3g} | "
          f"{t_s:.3g} (scipy.sparse loop) | {t_s / t_c:.1f}x | "
          f"{steps / t_c:.0f} steps/s (ctrnn) |")


if __name__ == "__main__":
    main()
