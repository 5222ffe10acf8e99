"""Where the fused panel product stops beating BLAS: Euler steps of the same network with
panels forced on and forced off (``ctrnn._engine.PANEL_MAX``, and ``GROUPS_MAX`` for
batches), interleaved, best of several runs, for one trajectory and for batches, float64
and float32. A batch on panels runs in groups of trials, one thread a group (as many as
the CPUs); on BLAS, as one matrix product a step (which BLAS spreads over the cores).

Prints the table and the largest N at which panels are at least as fast, which is what
PANEL_MAX (one trajectory) and GROUPS_MAX (batches) in ctrnn/_engine.py hold.

--split: instead, one run's neurons split across all the CPUs with a barrier a step
(``_kernels.split``) against the same run with threads=1 (panels up to PANEL_MAX, then
BLAS's dgemv; a batch above GROUPS_MAX on BLAS's dgemm, which uses every core itself),
the split forced on at every N (batches: above GROUPS_MAX; at or below it they run in
groups of trials on both sides). Prints where it wins, for SPLIT_MIN, SPLIT_SURE and
SPLIT_MAX (between SPLIT_MIN and SPLIT_SURE ctrnn measures it at run time instead:
``_engine.split_pays``).
Run:  python benchmarks/bench_crossover.py [--quick] [--split]
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
    saved = (dict(_engine.PANEL_MAX), _engine.GROUPS_MAX, _engine.SPLIT_MAX,
             _engine.SPLIT_BATCH_MAX)

    def run():
        _engine.PANEL_MAX.update(key_max)
        _engine.GROUPS_MAX = 10 ** 9 if panels else -1
        # no run split across threads here (see --split)
        _engine.SPLIT_MAX = _engine.SPLIT_BATCH_MAX = -1
        try:
            ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0, method="euler", save_every=steps,
                           dtype=dtype, progress=False)
        finally:
            _engine.PANEL_MAX.update(saved[0])
            _engine.GROUPS_MAX, _engine.SPLIT_MAX, _engine.SPLIT_BATCH_MAX = saved[1:]
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


def split_timed(net, h0, steps, dtype, threads):
    saved = _engine.SPLIT_MIN, _engine.SPLIT_SURE, _engine.SPLIT_MAX, _engine.SPLIT_BATCH_MAX

    def run():
        # wherever it can run, never measuring whether it pays (``split_pays``)
        _engine.SPLIT_MIN = _engine.SPLIT_SURE = {d: 0 for d in saved[0]}
        _engine.SPLIT_MAX = _engine.SPLIT_BATCH_MAX = 10 ** 9
        try:
            ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0, method="euler", save_every=steps,
                           dtype=dtype, progress=False, threads=threads)
        finally:
            (_engine.SPLIT_MIN, _engine.SPLIT_SURE, _engine.SPLIT_MAX,
             _engine.SPLIT_BATCH_MAX) = saved
    return run


def time_split(cases, dtypes, rounds):
    cpus = _engine.available_cpus()
    for dtype in dtypes:
        for B, N in cases:
            W = ctrnn.connectivity.gaussian(N, 1.5, seed=0).astype(dtype)
            h0 = np.random.default_rng(1).standard_normal((B, N) if B > 1 else N)
            net = ctrnn.RateNetwork(W, tau=1.0)
            steps = int(max(50, min(200_000, 3e8 / (N * N * B))))
            runs = {t: split_timed(net, h0, steps, dtype, t) for t in (cpus, 1)}
            for f in runs.values():
                f()
            best = {t: np.inf for t in runs}
            for _ in range(rounds):
                for t, f in runs.items():
                    # BLAS's threads spin for a while after a call and would take the
                    # cores from the split run that follows one
                    time.sleep(0.2)
                    t0 = time.perf_counter()
                    f()
                    best[t] = min(best[t], time.perf_counter() - t0)
            yield np.dtype(dtype).name, B, N, *(best[t] / steps / B * 1e6 for t in (cpus, 1))


def main_split(quick):
    single = [(1, N) for N in (64, 100, 128, 160, 200, 300, 500, 700, 1000, 1500)]
    batch = [(B, N) for B in (8, 64) for N in (200, 300, 500, 700, 1000)]
    rounds = 3 if quick else 7
    print(f"ctrnn {ctrnn.__version__}, numpy {np.__version__}, "
          f"{_engine.available_cpus()} CPUs")
    print("| dtype | trials | N | split us/step/trial | threads=1 us/step/trial | "
          "threads=1 / split |")
    print("|---|---|---|---|---|---|")
    for dt, B, N, ts, t1 in time_split(single + batch, (np.float64, np.float32), rounds):
        print(f"| {dt} | {B} | {N} | {ts:.3g} | {t1:.3g} | {t1 / ts:.2f} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--split", action="store_true")
    args = ap.parse_args(argv)
    if args.split:
        return main_split(args.quick)
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
