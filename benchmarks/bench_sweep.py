"""Sweep scaling: 16 independent simulations (N = 500, rk4, 2,000 steps) on a
LocalCluster of 1 and of 2 single-threaded worker processes, against calling simulate in
a loop. Cluster start-up is excluded (made before timing; workers warmed). The sweep
machinery's own cost is timed on 16 trivial points (N = 2, 2 steps) on the 2 workers.
Run:  cd benchmarks && python bench_sweep.py
"""
import time

import numpy as np

import ctrnn

SIM = dict(steps=2000, dt=0.1, method="rk4", h0="random", seed=1, save_every=100)


def build(g, seed):
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(500, g, seed))


def reduce(ds):
    return ds.h.var("neuron").mean("time")


PARAMS = {"g": [1.5, 2.0, 2.5, 3.0], "seed": [0, 1, 2, 3]}
TRIVIAL = dict(steps=2, dt=0.1, method="rk4", h0="random", seed=1)


def build_trivial(g, seed):
    return ctrnn.RateNetwork(np.eye(2) * g)


def main():
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    for g in PARAMS["g"]:
        for seed in PARAMS["seed"]:
            reduce(ctrnn.simulate(build(g, seed), progress=False, **SIM))
    t_loop = time.perf_counter() - t0
    times = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            ctrnn.sweep(build, {"g": [1.5], "seed": [0]}, simulate=SIM, reduce=reduce,
                        client=client)  # warm the workers
            t0 = time.perf_counter()
            ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client=client)
            times[n] = time.perf_counter() - t0
            if n == 2:  # best of 3: the machinery alone
                t_trivial = min(_timed(lambda: ctrnn.sweep(
                    build_trivial, PARAMS, simulate=TRIVIAL, reduce=reduce, client=client))
                    for _ in range(3))
    print("| what | wall time (s) | note |\n|---|---|---|")
    print(f"| simulate in a loop, 16 runs | {t_loop:.3g} | |")
    print(f"| sweep, 1 worker | {times[1]:.3g} | overhead per task vs the loop: "
          f"{(times[1] - t_loop) / 16 * 1e3:.0f} ms |")
    print(f"| sweep, 2 workers | {times[2]:.3g} | speed-up over 1 worker: "
          f"{times[1] / times[2]:.2f}x |")
    print(f"| sweep of 16 trivial points, 2 workers | {t_trivial:.3g} | the machinery: "
          f"{t_trivial / 16 * 1e3:.1f} ms a point |")


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
