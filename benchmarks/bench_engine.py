"""The core rows of two checkouts side by side: is this tree slower than another one?

Each row is timed in a fresh process per checkout, the two checkouts alternating
(A B, B A, A B, ...), best of 5 calls per process, best over the rounds. Used for issue 10 (the
engine refactor must not slow the core rows). Run:

    git worktree add /tmp/before <commit>       # the tree to compare against
    python benchmarks/bench_engine.py --against /tmp/before [--rounds 3]

Without --against it prints this tree's figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings

import numpy as np


def rows():
    """{row: microseconds per unit} for the tree on sys.path."""
    import ctrnn
    from bench_core import best_of  # the timing rule of every benchmark script

    warnings.simplefilter("ignore")
    out = {}
    W = ctrnn.connectivity.gaussian(100, 1.5, seed=0)
    net = ctrnn.RateNetwork(W, tau=1.0)
    h0 = np.random.default_rng(1).standard_normal(100)

    def sim(n, steps, **kw):
        return lambda: ctrnn.simulate(n, steps=steps, dt=0.1, h0=h0, save_every=steps,
                                      progress=False, **kw)
    out["euler N=100, us/step"] = best_of(sim(net, 20_000, method="euler")) / 20_000 * 1e6
    out["rk4 N=100, us/step"] = best_of(sim(net, 5_000, method="rk4")) / 5_000 * 1e6
    out["exponential_euler N=100 with noise, us/step"] = best_of(
        sim(net.replace(noise=0.1), 10_000, method="exponential_euler", seed=1)) / 1e4 * 1e6
    for m in ("euler", "rk4"):
        out[f"{m} N=100 x 64 trials, us/step/trial"] = best_of(
            lambda m=m: ctrnn.simulate(net, steps=1000, dt=0.1, h0=np.tile(h0, (64, 1)),
                                       method=m, save_every=1000, progress=False)
        ) / 1000 / 64 * 1e6
    big = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(1000, 1.5, seed=0), tau=1.0)
    out["euler N=1000, us/step"] = best_of(
        lambda: ctrnn.simulate(big, steps=1000, dt=0.1, h0="random", seed=1,
                               method="euler", save_every=1000, progress=False)) / 1e3 * 1e6
    out["dopri5 N=100 rtol=1e-6 T=100, ms"] = best_of(
        lambda: ctrnn.simulate(net, duration=100.0, dt=0.1, h0=h0, method="dopri5",
                               save_every=1000, progress=False)) * 1e3
    stp = ctrnn.RateNetwork(np.abs(W), tau=1.0, phi="relu", b=0.1,
                            stp=ctrnn.STP(U=0.2, tau_f=1.5, tau_d=0.3))
    out["rk4 N=100 with STP, us/step"] = best_of(
        lambda: ctrnn.simulate(stp, steps=5000, dt=0.05, h0=np.abs(h0), method="rk4",
                               save_every=5000, progress=False)) / 5000 * 1e6
    out["simulate call overhead, N=10 10 steps, us"] = best_of(
        lambda: ctrnn.simulate(ctrnn.RateNetwork(np.eye(10) * 0.5), steps=10, dt=0.1,
                               progress=False), repeat=50) * 1e6
    u = ctrnn.tasks.oscillators(10_001, frequencies=(0.2, 0.05))
    esn = ctrnn.esn.EchoStateNetwork(100, spectral_radius=0.9, leak=0.5, seed=0)
    out["ESN fit 10k steps N=100 (sparse), ms"] = best_of(
        lambda: esn.fit(u[:-1], u[1:], washout=100, ridge=1e-8)) * 1e3
    out["Lyapunov 10 exponents N=100 rk4 T=50, ms"] = best_of(
        lambda: ctrnn.analysis.lyapunov_spectrum(net, 10, duration=50.0, dt=0.1, seed=0),
        repeat=3) * 1e3
    return out


def _measure(tree):
    env = {**os.environ, "PYTHONPATH": tree}
    res = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                         check=True, cwd=tree)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="another checkout to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.against:
        print(json.dumps(rows()))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"this": here, "against": os.path.abspath(args.against)}
    for t in trees.values():  # compile both once (warm Numba caches) before timing
        _measure(t)
    best = {k: {} for k in trees}
    for i in range(args.rounds):  # A B, B A, A B, ...: neither tree always goes first
        for k in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            for row, v in _measure(trees[k]).items():
                best[k][row] = min(v, best[k].get(row, np.inf))
    print(f"{'row':48s} {'this':>10s} {'against':>10s} {'this/against':>12s}")
    for row in best["this"]:
        a, b = best["this"][row], best["against"][row]
        print(f"{row:48s} {a:10.3f} {b:10.3f} {a / b:12.3f}")


if __name__ == "__main__":
    main()
