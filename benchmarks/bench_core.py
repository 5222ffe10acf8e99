"""Core simulator speed, side by side with its peers, in one process.

Workload (issue #2): W ~ N(0, 1.5^2/N), tanh, tau = 1, dt = 0.1, h0 ~ N(0, 1), float64.
Prints microseconds per Euler step and ratios; peers that are not installed are skipped
and say so. Run:  python benchmarks/bench_core.py  [--quick]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import ctrnn
from ctrnn._kernels._jit import jit

G, TAU, DT = 1.5, 1.0, 0.1


def best_of(fn, repeat=5):
    """Best wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@jit
def _bare_products(W, h, n):
    """The floor: n matrix-vector products W @ h in a compiled loop, nothing else."""
    p = np.empty_like(h)
    for _ in range(n):
        np.dot(W, h, p)
        h, p = p, h
    return h


@jit
def _bare_products_batch(H, WT, n):
    P = np.empty_like(H)
    for _ in range(n):
        np.dot(H, WT, P)
        H, P = P, H
    return H


def workload(n, seed=0):
    W = ctrnn.connectivity.gaussian(n, G, seed=seed)
    h0 = np.random.default_rng(seed + 1).standard_normal(n)
    return W, h0


def ctrnn_euler(W, h0, steps, dtype=np.float64, method="euler"):
    net = ctrnn.RateNetwork(W, tau=TAU)
    return lambda: ctrnn.simulate(net, steps=steps, dt=DT, h0=h0, method=method,
                                  save_every=steps, dtype=dtype, progress=False)


def numpy_loop(W, h0, steps):
    def run():
        h = h0.copy()
        a = DT / TAU
        for _ in range(steps):
            h = h + a * (-h + np.tanh(W @ h))
        return h
    return run


def peers(W, h0, steps):
    """{name: (callable or None, note)} for the peers of the Euler loop."""
    out = {"NumPy loop": (numpy_loop(W, h0, steps), "")}
    n = len(h0)
    try:
        import torch
        torch.set_num_threads(os.cpu_count())
        Wt, ht = torch.from_numpy(W), torch.from_numpy(h0)

        def run_torch():
            h = ht.clone()
            with torch.no_grad():
                for _ in range(steps):
                    h = h + 0.1 * (-h + torch.tanh(Wt @ h))
            return h
        out["torch CPU loop"] = (run_torch, f"torch {torch.__version__}")
    except ImportError:
        out["torch CPU loop"] = (None, "torch not installed")
    try:
        import reservoirpy
        from reservoirpy.nodes import Reservoir
        res = Reservoir(units=n, W=W, Win=np.zeros((n, 1)), bias=np.zeros(n),
                        lr=DT / TAU, activation="tanh")
        x = np.zeros((steps, 1))
        res.initialize(x)

        def run_rpy():
            res.state = {"out": h0.copy()}
            return res.run(x)
        out["ReservoirPy"] = (run_rpy, f"reservoirpy {reservoirpy.__version__}")
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, and say why
        out["ReservoirPy"] = (None, f"skipped: {type(exc).__name__}: {exc}"[:80])
    return out


def scipy_rk45(W, h0, duration, rtol, atol):
    from scipy.integrate import solve_ivp

    def f(t, h):
        return (-h + np.tanh(W @ h)) / TAU

    def run():
        return solve_ivp(f, (0, duration), h0, method="RK45", rtol=rtol, atol=atol)
    return run


def first_call_latency(cold):
    """Seconds for `import ctrnn` + a first small simulate in a fresh process."""
    code = ("import time; t=time.perf_counter(); import ctrnn, numpy as np; "
            "net=ctrnn.RateNetwork(ctrnn.connectivity.gaussian(50, 1.5, seed=0)); "
            "ctrnn.simulate(net, steps=100, dt=0.1, method='rk4', h0='random', seed=0); "
            "print(time.perf_counter()-t)")
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["NUMBA_CACHE_DIR"] = tmp  # an empty cache: everything compiles
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def brian2_loop(W, h0, steps, target):
    """The same Euler rate network in Brian2 (tau = 1 ms, dt = 0.1 ms), summed synapses."""
    import brian2 as b2
    b2.prefs.logging.console_log_level = "ERROR"
    b2.prefs.codegen.target = target
    b2.start_scope()
    b2.defaultclock.dt = DT * b2.ms
    n = len(h0)
    grp = b2.NeuronGroup(n, "dh/dt = (-h + tanh(I)) / (1*ms) : 1\nI : 1", method="euler")
    syn = b2.Synapses(grp, grp, "w : 1\nI_post = w * h_pre : 1 (summed)")
    pre, post = np.meshgrid(np.arange(n), np.arange(n))
    syn.connect(i=pre.ravel(), j=post.ravel())
    syn.w = W.ravel()  # W[post, pre] with post = row
    grp.h = h0
    net = b2.Network(grp, syn)
    net.store()

    def run():
        net.restore()
        net.run(steps * DT * b2.ms)
    return run


def rows(quick):
    """Measure everything; yields (section, name, value, unit, note)."""
    reps = 3 if quick else 5
    for n, steps in ((100, 20_000), (1000, 2_000)):
        if quick:
            steps //= 4
        W, h0 = workload(n)
        per = lambda f, r=reps: best_of(f, r) / steps * 1e6  # noqa: E731
        t_ct = per(ctrnn_euler(W, h0, steps))
        t_bare = per(lambda: _bare_products(W, h0.copy(), steps))
        yield (f"N={n}", "ctrnn euler (float64)", t_ct, "us/step", "")
        yield (f"N={n}", "bare W@h products, compiled loop", t_bare, "us/step",
               f"ctrnn / bare = {t_ct / t_bare:.2f}")
        W32, h32 = W.astype(np.float32), h0.astype(np.float32)
        t32 = per(ctrnn_euler(W32, h32, steps, np.float32))
        yield (f"N={n}", "ctrnn euler (float32)", t32, "us/step",
               f"float64 / float32 = {t_ct / t32:.2f}")
        t_rk4 = per(ctrnn_euler(W, h0, steps, method="rk4"))
        yield (f"N={n}", "ctrnn rk4 (float64)", t_rk4, "us/step",
               f"rk4 / euler = {t_rk4 / t_ct:.2f} (4 products a step)")
        for name, (fn, note) in peers(W, h0, steps).items():
            if fn is None:
                yield (f"N={n}", name, None, "us/step", note)
                continue
            t = per(fn, 2 if name != "NumPy loop" else reps)
            yield (f"N={n}", name, t, "us/step", f"{name} / ctrnn = {t / t_ct:.1f}x; {note}")
        try:
            import brian2  # noqa: F401
            targets = ("cython", "numpy")
        except Exception as exc:  # noqa: BLE001 - e.g. brian2 2.9 fails to import on numpy 2.4
            targets = ()
            yield (f"N={n}", "Brian2", None, "us/step",
                   f"skipped: brian2 does not import here ({type(exc).__name__}: {exc})"[:110])
        try:
            import nest  # noqa: F401
            yield (f"N={n}", "NEST tanh_rate_ipn", None, "us/step", "installed but not wired up")
        except ImportError:
            yield (f"N={n}", "NEST tanh_rate_ipn", None, "us/step", "skipped: nest not installed")
        for target in targets:
            if n == 1000 and target == "numpy" and quick:
                continue
            try:
                fn = brian2_loop(W, h0, steps if target == "cython" else steps // 10, target)
                t = best_of(fn, 2) / (steps if target == "cython" else steps // 10) * 1e6
                yield (f"N={n}", f"Brian2 {target}", t, "us/step", f"Brian2 / ctrnn = {t / t_ct:.1f}x")
            except Exception as exc:  # noqa: BLE001
                yield (f"N={n}", f"Brian2 {target}", None, "us/step",
                       f"skipped: {type(exc).__name__}: {exc}"[:90])
    # batch: 64 trials at N = 500 against one trajectory
    n, steps, B = 500, 1000 if quick else 4000, 64
    W, h0 = workload(n)
    H0 = np.random.default_rng(2).standard_normal((B, n))
    net = ctrnn.RateNetwork(W, tau=TAU)
    WT = np.ascontiguousarray(W.T)
    tb1 = best_of(lambda: _bare_products(W, h0.copy(), steps), reps)
    tbb = best_of(lambda: _bare_products_batch(H0.copy(), WT, steps), reps)
    yield ("batch N=500", "bare products: one W@h", tb1 / steps * 1e6, "us/step", "")
    yield ("batch N=500", "bare products: 64 trials H@W.T, per trial", tbb / B / steps * 1e6,
           "us/step", f"the BLAS floor of the batch gain: {tb1 / (tbb / B):.1f}x")
    for method in ("euler", "rk4"):
        t1 = best_of(lambda: ctrnn.simulate(net, steps=steps, dt=DT, h0=h0, method=method,
                                            save_every=steps, progress=False), reps)
        tb = best_of(lambda: ctrnn.simulate(net, steps=steps, dt=DT, h0=H0, method=method,
                                            save_every=steps, progress=False), reps)
        yield ("batch N=500", f"{method}: one trajectory", t1 / steps * 1e6, "us/step", "")
        yield ("batch N=500", f"{method}: 64 trials, per trial", tb / B / steps * 1e6, "us/step",
               f"a trial costs {t1 / (tb / B):.1f}x less than one trajectory")
    # adaptive: dopri5 against scipy's RK45 at the same tolerances, N = 100
    n, T = 100, 100.0
    W, h0 = workload(n)
    net = ctrnn.RateNetwork(W, tau=TAU)
    from scipy.integrate import solve_ivp
    ref = solve_ivp(lambda t, h: (-h + np.tanh(W @ h)) / TAU, (0, T), h0, method="DOP853",
                    rtol=1e-12, atol=1e-12).y[:, -1]
    for rtol in (1e-3, 1e-6):
        atol = rtol * 1e-3
        ds_run = lambda: ctrnn.simulate(net, duration=T, dt=0.1, h0=h0, method="dopri5",  # noqa: E731
                                        rtol=rtol, atol=atol, save_every=1000, progress=False)
        t_c = best_of(ds_run, reps)
        ds = ds_run()
        sp = scipy_rk45(W, h0, T, rtol, atol)
        t_s = best_of(sp, 2)
        sol = sp()
        e_c = np.abs(ds.h.values[-1] - ref).max()
        e_s = np.abs(sol.y[:, -1] - ref).max()
        yield ("dopri5 N=100", f"ctrnn dopri5 rtol={rtol:g}", t_c * 1e3, "ms",
               f"{ds.attrs['n_accepted']} steps, max error {e_c:.1e}")
        yield ("dopri5 N=100", f"scipy RK45 rtol={rtol:g}", t_s * 1e3, "ms",
               f"{sol.t.size - 1} steps, max error {e_s:.1e}; scipy / ctrnn = {t_s / t_c:.0f}x")
    warm = sorted(first_call_latency(False) for _ in range(3))
    yield ("latency", "import + first small simulate, warm cache", warm[1],
           "s", "median of 3 fresh processes; target < 2 s")
    yield ("latency", "import + first small simulate, cold cache", first_call_latency(True),
           "s", "compiles the rk4 kernel")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    args = ap.parse_args(argv)
    print(f"ctrnn {ctrnn.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    print("| section | what | time | unit | note |\n|---|---|---|---|---|")
    for sec, name, val, unit, note in rows(args.quick):
        v = "-" if val is None else f"{val:.3g}"
        print(f"| {sec} | {name} | {v} | {unit} | {note} |", flush=True)


if __name__ == "__main__":
    main()
