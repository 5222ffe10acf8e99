"""Core simulator speed, side by side with its peers, measured in one run.

Workload (issues #2, #12): W ~ N(0, 1.5^2/N), tanh, tau = 1, dt = 0.1, h0 ~ N(0, 1).
The per-step cases run each peer in a process of its own (``peers.py``; Brian2 in the
virtual environment of ``make_brian2_env.sh``), in turn, best of three rounds; JAX is
``jax.lax.scan`` of the same step, jitted, x64 (what BrainPy compiles to), and
``jax.vmap`` of it for batches. The floors: ``bare_blas`` and ``bare_panels`` are loops of
nothing but the products, ``tanh_floor`` the vectorised tanh alone. Each case also gets
rows with the fixed cost of a call of ctrnn and JAX (``peers.fixed_cost``, a process of
its own each round). Peers that are not installed are skipped and say so.
Run:  python benchmarks/bench_core.py  [--quick]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import ctrnn
from ctrnn._kernels._jit import jit
from peers import FIXED_K, best_of  # best_of: also imported from here by the other scripts

G, TAU, DT = 1.5, 1.0, 0.1


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


HERE = Path(__file__).resolve().parent
BRIAN2_PYTHON = HERE / ".brian2-venv" / "bin" / "python"
# (method, N, trials, dtype): the cases of issue 12
CASES = [("euler", 100, 1, "float64"), ("euler", 100, 1, "float32"),
         ("euler", 1000, 1, "float64"), ("euler", 100, 64, "float64"),
         ("euler", 500, 64, "float64"), ("rk4", 100, 1, "float64")]
PEERS = ["ctrnn", "jax", "numpy", "torch", "reservoirpy", "brian2", "bare_blas",
         "bare_panels", "tanh_floor"]


def peer_time(peer, case, fixed=False):
    """(us per step per trial, note) of ``peer`` on ``case``, in a fresh process; (None,
    why) when it does not run here. ``fixed``: (ms, note), the fixed cost of a call
    (``peers.fixed_cost``) instead."""
    method, N, B, dtype = case
    if peer == "brian2":
        if not BRIAN2_PYTHON.exists():
            return None, "skipped: run benchmarks/make_brian2_env.sh (Brian2 2.9 needs numpy < 2)"
        if method != "euler" or B != 1 or dtype != "float64":
            return None, "not this case"
        cmd = [str(BRIAN2_PYTHON), str(HERE / "brian2_worker.py"), str(N), "cython"]
    else:
        cmd = [sys.executable, str(HERE / "peers.py"), peer, method, str(N), str(B), dtype]
        cmd += ["fixed"] if fixed else []
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    line = (out.stdout.strip().splitlines() or [""])[-1]
    if out.returncode != 0:
        return None, f"skipped: {(out.stderr.strip().splitlines() or ['failed'])[-1]}"[:100]
    if line.startswith("skip"):
        return None, line.replace("skip:", "skipped:")
    value, _, note = line.partition(" ")
    return float(value), note


# the peers whose fixed cost a call is measured too (a row each, "PEER: fixed cost a call")
FIXED_PEERS = ("ctrnn", "jax")


def peer_rows(rounds, peers=None):
    """Each case, each peer in its own process, in turn (A B C A B C ...), best of
    ``rounds``: yields (section, name, value, unit, note). ``peers``: a subset of
    PEERS, in their order (default all). Then the fixed cost of a call of the chosen
    FIXED_PEERS, one process each a round (the median, and the range in the note: the
    estimate is the difference of two calls' times)."""
    chosen = [p for p in PEERS if peers is None or p in peers]
    for case in CASES:
        method, N, B, dtype = case
        best, notes, fixed = {}, {}, {}
        for _ in range(rounds):
            for peer in chosen:
                if peer in notes and peer not in best:
                    continue  # skipped once: skipped
                t, note = peer_time(peer, case)
                notes[peer] = note
                if t is not None:
                    best[peer] = min(best.get(peer, np.inf), t)
                if peer in FIXED_PEERS and peer in best:
                    t, note = peer_time(peer, case, fixed=True)
                    ts, failed = fixed.setdefault(peer, ([], []))
                    if t is None:
                        failed.append(note)
                    else:
                        ts.append(t)
        section = f"{method} N={N}" + (f" {B} trials" if B > 1 else "") + f" {dtype}"
        ref = best.get("ctrnn")
        for peer in chosen:
            t = best.get(peer)
            if t is None:
                if notes[peer] != "not this case":
                    yield section, peer, None, "us/step", notes[peer]
                continue
            ratio = "" if ref is None or peer == "ctrnn" else f"{peer} / ctrnn = {t / ref:.2f}"
            yield section, peer, t, "us/step" + ("/trial" if B > 1 else ""), \
                "; ".join(x for x in (ratio, notes[peer]) if x)
        for peer, (ts, failed) in fixed.items():
            how = (f"a call of {FIXED_K} steps less {FIXED_K} marginal steps "
                   "(peers.fixed_cost)")
            lost = f"; {len(failed)} process(es) failed: {failed[-1]}" if failed else ""
            if not ts:
                yield section, f"{peer}: fixed cost a call", None, "ms", how + lost
                continue
            yield (section, f"{peer}: fixed cost a call", float(np.median(ts)), "ms",
                   f"{min(ts):.3g}-{max(ts):.3g} over {len(ts)} process(es): {how}{lost}")


def rows(quick):
    """Measure everything; yields (section, name, value, unit, note)."""
    reps = 3 if quick else 5
    yield from peer_rows(1 if quick else 3)
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
    ap.add_argument("--peers-only", action="store_true",
                    help="only the per-step cases against the peers (issue 12)")
    ap.add_argument("--peers", type=lambda s: s.split(","), default=None,
                    help=f"with --peers-only: a comma-separated subset of {','.join(PEERS)}")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.peers or ()) - set(PEERS))
    if unknown:
        ap.error(f"--peers: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    print(f"ctrnn {ctrnn.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    print("| section | what | time | unit | note |\n|---|---|---|---|---|")
    table = (peer_rows(1 if args.quick else 3, args.peers) if args.peers_only
             else rows(args.quick))
    for sec, name, val, unit, note in table:
        v = "-" if val is None else f"{val:.3g}"
        print(f"| {sec} | {name} | {v} | {unit} | {note} |", flush=True)


if __name__ == "__main__":
    main()
