"""Where the fused panel product stops beating BLAS: Euler steps of the same network with
panels forced on and forced off (``ctrnn._engine.PANEL_MAX``, and ``GROUPS_MAX`` for
batches), interleaved, best of several runs, for one trajectory and for batches, float64
and float32. A batch on panels runs in groups of trials, one thread a group (as many as
the CPUs); on BLAS, as one matrix product a step (which BLAS spreads over the cores).

Prints the table and the largest N at which panels are at least as fast, which is what
PANEL_MAX (one trajectory) and GROUPS_MAX (batches) in ctrnn/_engine.py hold.
Run:  python benchmarks/bench_crossover.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ctrnn
from ctrnn import _engine


def timed(net, h0, steps, dtype, panels):
    key_max = {k: (10 ** 9 if panels else -1) for k in _engine.PANEL_MAX}
    saved = dict(_engine.PANEL_MAX), _engine.GROUPS_MAX

    def run():
        _engine.PANEL_MAX.update(key_max)
        _engine.GROUPS_MAX = 10 ** 9 if panels else -1
        try:
            ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0, method="euler", save_every=steps,
                           dtype=dtype, progress=False)
        finally:
            _engine.PANEL_MAX.update(saved[0])
            _engine.GROUPS_MAX = saved[1]
    return run


def measure(sizes, batches, dtypes, rounds):
    for dtype in dtypes:
        for B in batches:
            for N in sizes:
                W = ctrnn.connectivity.gaussian(N, 1.5, seed=0).astype(dtype)
                h0 = np.random.default_rng(1).standard_normal((B, N) if B > 1 else N)
                net = ctrnn.RateNetwork(W, tau=1.0)
                steps = int(max(50, min(200_000, 3e8 / (N * N * B))))  # ~0.1 s a call
                runs = {p: timed(net, h0, steps, dtype, p) for p in (True, False)}
                for f in runs.values():
                    f()
                best = {p: np.inf for p in runs}
                for _ in range(rounds):  # interleaved: A B A B ...
                    for p, f in runs.items():
                        t0 = time.perf_counter()
                        f()
                        best[p] = min(best[p], time.perf_counter() - t0)
                per = {p: best[p] / steps / B * 1e6 for p in best}
                yield np.dtype(dtype).name, B, N, per[True], per[False]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes = [16, 32, 64, 100, 128, 200, 300, 400, 500, 700]
    rounds = 3 if args.quick else 7
    print(f"ctrnn {ctrnn.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    print("| dtype | trials | N | panels us/step/trial | BLAS us/step/trial | BLAS / panels |")
    print("|---|---|---|---|---|---|")
    last = {}
    for dt, B, N, tp, tb in measure(sizes, (1, 8, 64), (np.float64, np.float32), rounds):
        print(f"| {dt} | {B} | {N} | {tp:.3g} | {tb:.3g} | {tb / tp:.2f} |", flush=True)
        if tb >= tp:
            last[dt, B] = N
    print("largest N with panels at least as fast:", last)


if __name__ == "__main__":
    main()
