"""FORCE training time, Sussillo & Abbott's configuration, side by side: ctrnn
(``ctrnn.train.force``: RLS inside the kernel loop), the same rate network and rule in
NumPy/SciPy (sparse W, RLS by BLAS's symmetric routines dsymv and dsyr: the fastest
NumPy form), and ReservoirPy 0.4.2 (``res << (res >> RLS())``, ``partial_fit``; its RLS
updates at every step, and it feeds back the output after the update). Each peer runs in
a process of its own, in turn, over rounds.

    python benchmarks/bench_force.py [--rounds 2] [--no-reservoirpy]
    python benchmarks/bench_force.py --floor   # the RLS update and the steps, apart

Configuration: N = 1000, sparse W (p = 0.1, g = 1.5), tanh, tau = 1, dt = 0.1, feedback
U(-1, 1), alpha = 1, RLS every 2 steps, the four-sine target of period 120: 14,400 steps
(1440 tau) and 7,200 updates.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

N, P_CONN, G, DT, T, EVERY = 1000, 0.1, 1.5, 0.1, 14400, 2


def target():
    t = np.arange(1, T + 1) * DT
    return ((1.3 * np.sin(np.pi * t / 60) + 0.65 * np.sin(2 * np.pi * t / 60)
             + (1.3 / 6) * np.sin(3 * np.pi * t / 60) + (1.3 / 3) * np.sin(4 * np.pi * t / 60))
            / 1.5)


def setup():
    import ctrnn
    W = ctrnn.connectivity.sparse(N, P_CONN, G, seed=0)
    rng = np.random.default_rng(1)
    return W, rng.uniform(-1, 1, (N, 1)), 0.5 * rng.normal(size=N), target()


def ctrnn_peer():
    import ctrnn
    W, uf, h0, f = setup()
    net = ctrnn.RateNetwork(W, tau=1.0)

    def run():
        res = ctrnn.train.force(net, f, dt=DT, feedback=uf, h0=h0, every=EVERY,
                                progress=False)
        return float(res.record.w_norm[-1]), float(np.abs(res.record.error[-1000:]).mean())
    return run


def numpy_peer():
    from scipy.linalg.blas import dsymv, dsyr
    W, uf, h0, f = setup()
    W = W.tocsr()
    a = DT  # dt / tau

    def run():
        h = h0.copy()
        w = np.zeros(N)
        P = np.asfortranarray(np.eye(N))
        z, errs = 0.0, []
        for k in range(T):
            h += a * (-h + np.tanh(W @ h + uf[:, 0] * z))
            z = w @ h
            e = z - f[k]
            if (k + 1) % EVERY == 0:
                kk = dsymv(1.0, P, h)
                c = 1.0 / (1.0 + h @ kk)
                P = dsyr(-c, kk, a=P, overwrite_a=True)
                w -= c * e * kk
            errs.append(e)
        return float(np.linalg.norm(w)), float(np.mean(np.abs(errs[-1000:])))
    return run


def reservoirpy_peer():
    from reservoirpy.nodes import RLS, Reservoir
    W, uf, h0, f = setup()

    def run():
        # ReservoirPy 0.4 feeds the feedback as inputs after the inputs: the input is 0,
        # so W_in = [u_f, u_f] gives u_f z whatever the order
        res = Reservoir(W=W, lr=DT, Win=np.concatenate([uf, uf], axis=1), bias=0.0,
                        input_dim=2, activation="tanh")
        readout = RLS(alpha=1.0, fit_bias=False, output_dim=1)
        model = res << (res >> readout)  # the readout fed back, one step late
        x = np.zeros((T, 1))
        model.initialize(x, f[:, None])
        res.state = {"out": h0.copy()}  # from the same state (it starts at 0, a fixed point)
        y = model.partial_fit(x, f[:, None])
        return (float(np.linalg.norm(readout.Wout)),
                float(np.mean(np.abs(y[-1000:, 0] - f[-1000:]))))
    return run


PEERS = {"ctrnn": ctrnn_peer, "numpy": numpy_peer, "reservoirpy": reservoirpy_peer}


def child(name):
    run = PEERS[name]()
    if name == "ctrnn":
        run()  # compile
    t0 = time.perf_counter()
    wn, mae = run()
    print(f"{time.perf_counter() - t0:.3f} {wn:.4f} {mae:.5f}")


def floor():
    """Per RLS update of the 1000 x 1000 P: the bare dsymv (one read of half of P: the
    floor of any update that must form k = P r), ctrnn's blocked update (dsymv, with the
    rank-one updates folded into P 16 at a time by dsyrk), the NumPy form dsymv + dsyr,
    and the literal NumPy P -= c k k^T. Then the network's 14,400 steps alone: ctrnn's
    sparse Euler loop against SciPy's CSR product in a NumPy loop."""
    import numba
    from scipy.linalg.blas import dsymv, dsyr

    import ctrnn
    from ctrnn._kernels import force as kf
    from ctrnn._kernels.blas import symv

    @numba.njit
    def ctrnn_updates(rs, R, n, bare):
        for t in range(n):
            if bare:
                symv(rs.sc, rs.P, R[t % R.shape[0]], rs.k)
            else:
                kf.rls(rs, R[t % R.shape[0]], 1.0)
        kf.fold(rs)

    rng = np.random.default_rng(0)
    R = rng.normal(size=(400, N)) * 0.1
    for bare, name in ((True, "bare dsymv (the floor)"), (False, "ctrnn blocked RLS")):
        ctrnn_updates(kf.rls_state(np.eye(N)), R, 40, bare)
        rs = kf.rls_state(np.eye(N))
        t0 = time.perf_counter()
        ctrnn_updates(rs, R, 2000, bare)
        t = (time.perf_counter() - t0) / 2000
        print(f"{name}: {t * 1e3:.3f} ms per update ({7200 * t:.2f} s for 7,200)")
    P = np.asfortranarray(np.eye(N))
    for name, n in (("NumPy, BLAS dsymv + dsyr", 2000), ("NumPy, P -= c outer(k, k)", 30)):
        t0 = time.perf_counter()
        for t in range(n):
            r = R[t % R.shape[0]]
            if "BLAS" in name:
                k = dsymv(1.0, P, r)
                c = 1.0 / (1.0 + r @ k)
                P = dsyr(-c, k, a=P, overwrite_a=True)
            else:
                k = P @ r
                c = 1.0 / (1.0 + r @ k)
                P -= c * np.outer(k, k)
        t = (time.perf_counter() - t0) / n
        print(f"{name}: {t * 1e3:.3f} ms per update ({7200 * t:.2f} s for 7,200)")
    W, uf, h0, f = setup()
    net = ctrnn.RateNetwork(W, tau=1.0)

    def sim():
        ctrnn.simulate(net, steps=T, dt=DT, method="euler", h0=h0, save_every=T,
                       progress=False)
    Wc = W.tocsr()

    def loop():
        h = h0.copy()
        for _ in range(T):
            h += DT * (-h + np.tanh(Wc @ h))
    sim()
    for name, fn in (("ctrnn simulate (sparse Euler)", sim), ("NumPy/SciPy CSR loop", loop)):
        t0 = time.perf_counter()
        fn()
        print(f"network steps alone, {name}: {time.perf_counter() - t0:.2f} s for {T:,}")


def main(argv):
    if argv and argv[0] == "--child":
        return child(argv[1])
    if "--floor" in argv:
        return floor()
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 2
    peers = [p for p in PEERS if not (p == "reservoirpy" and "--no-reservoirpy" in argv)]
    times = {p: [] for p in peers}
    for _ in range(rounds):
        for p in peers:
            out = subprocess.run([sys.executable, __file__, "--child", p],
                                 capture_output=True, text=True)
            if out.returncode:
                print(f"{p}: skipped ({out.stderr.strip().splitlines()[-1]})")
                times.pop(p, None)
                continue
            t, wn, mae = map(float, out.stdout.split()[-3:])
            times[p].append(t)
            print(f"{p:12s} {t:7.2f} s   |w| {wn:.3f}   train MAE (last 1000) {mae:.4f}",
                  flush=True)
    best = {p: min(v) for p, v in times.items() if v}
    for p, t in best.items():
        if p != "ctrnn" and "ctrnn" in best:
            print(f"ctrnn is {t / best['ctrnn']:.2f}x faster than {p} (best of {rounds})")


if __name__ == "__main__":
    main(sys.argv[1:])
