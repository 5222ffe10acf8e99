"""One peer timing one case, in a process of its own (``bench_core.py`` runs these in turn).

    python benchmarks/peers.py PEER METHOD N TRIALS DTYPE [fixed]

PEER: ctrnn, jax, numpy, torch, reservoirpy, bare_blas (a compiled loop of nothing but the BLAS
products), bare_panels (the same with ctrnn's panel product), tanh_floor (ctrnn's
vectorised tanh of N values, nothing else). METHOD: euler or rk4. TRIALS: 1 for one
trajectory, B for a batch (JAX: ``jax.vmap`` of the scan). Prints microseconds per step
per trial (best of 7 timed calls after a warm-up), or ``skip: why``. With a sixth
argument ``fixed``: the fixed cost of a call in milliseconds instead (``fixed_cost``).

Workload (the same in every process): W ~ N(0, 1.5^2 / N) from numpy's default_rng(0),
h0 ~ N(0, 1) from default_rng(1), tanh, tau = 1, dt = 0.1.
"""
from __future__ import annotations

import sys
import time

import numpy as np

G, DT = 1.5, 0.1


def workload(N, B, dtype):
    W = (np.random.default_rng(0).standard_normal((N, N)) * (G / np.sqrt(N))).astype(dtype)
    h0 = np.random.default_rng(1).standard_normal((B, N)).astype(dtype)
    return W, h0


# The fewest steps of a timed call. Issue 12's figures are per step of a long run (50,000
# steps); a call's fixed cost (ctrnn's validation, planning and xarray Dataset, ~1.2 ms at
# N = 500 with 64 trials; JAX's dispatch, ~0.3 ms) is measured on its own
# (``fixed_cost``). With 10^9 multiply-adds alone, a call at N = 500 with 64 trials was
# 62 steps (~20 ms), and ctrnn's fixed cost 5-6% of it; in 500 steps (~0.16 s), ~0.7%.
MIN_STEPS = 500


def steps_for(N, B, method):
    """Steps of a timed call: about 10^9 multiply-adds, and at least MIN_STEPS. Here a
    call takes 0.03-0.5 s; ctrnn's fixed cost is at most ~4% of it (N = 100 with 64
    trials: 1.2 ms of a 28 ms call; N = 1000: 1.2 of 45 ms), JAX's at most ~1.5%, so
    where it still weighs it counts against ctrnn."""
    per = N * N * B * (4 if method == "rk4" else 1)
    return int(max(MIN_STEPS, min(500_000, 1e9 / per)))


def best_of(fn, repeat=7):
    """Best wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


FIXED_K = 62  # the short call of ``fixed_cost``: bench_core's calls at N = 500, 64 trials,
# before MIN_STEPS


def fixed_cost(make, W, h0, method, dtype, k=FIXED_K, repeat=7):
    """Seconds a call costs beyond its steps: calls of k and 10 k steps, alternated (best
    of ``repeat`` each, after a warm-up), give the marginal step; the fixed cost is the
    k-step call less k of them (a difference of two times: noisy where a step is long,
    and it may come out below zero). The two calls are made separately, each with its
    own copy of W in the peer's form, as two runs of a user's would be: where W is larger
    than a core's L2 cache (N >= 500), each call starts with it farther from the core
    than the timed calls do, for every peer alike. None where the peer does not run the
    case."""
    short = make(W, h0, k, method, dtype)
    if short is None:
        return None
    calls = [short, make(W, h0, 10 * k, method, dtype)]
    best = [np.inf, np.inf]
    for fn in calls:
        fn()
    for _ in range(repeat):
        for i, fn in enumerate(calls):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    marginal = (best[1] - best[0]) / (9 * k)
    return best[0] - k * marginal


def ctrnn_peer(W, h0, steps, method, dtype):
    import ctrnn
    net = ctrnn.RateNetwork(W.astype(np.float64), tau=1.0)
    h = h0[0] if h0.shape[0] == 1 else h0
    return lambda: ctrnn.simulate(net, steps=steps, dt=DT, h0=h, method=method,
                                  save_every=steps, dtype=dtype, progress=False)


def jax_peer(W, h0, steps, method, dtype):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    Wj = jnp.asarray(W)
    dt = jnp.asarray(DT, dtype)

    def f(h):
        return -h + jnp.tanh(Wj @ h)

    def euler(h, _):
        return h + dt * f(h), None

    def rk4(h, _):
        k1 = f(h)
        k2 = f(h + dt / 2 * k1)
        k3 = f(h + dt / 2 * k2)
        k4 = f(h + dt * k3)
        return h + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

    step = euler if method == "euler" else rk4

    def scan(h):
        return jax.lax.scan(step, h, None, length=steps)[0]

    if h0.shape[0] == 1:
        run, x = jax.jit(scan), jnp.asarray(h0[0])
    else:
        run, x = jax.jit(jax.vmap(scan)), jnp.asarray(h0)
    return lambda: run(x).block_until_ready()


def numpy_peer(W, h0, steps, method, dtype):
    if method != "euler" or h0.shape[0] != 1:
        return None
    a = np.asarray(DT, dtype)

    def run():
        h = h0[0].copy()
        for _ in range(steps):
            h = h + a * (-h + np.tanh(W @ h))
        return h
    return run


def torch_peer(W, h0, steps, method, dtype):
    import os

    import torch
    if method != "euler" or h0.shape[0] != 1:
        return None
    torch.set_num_threads(os.cpu_count())
    Wt, ht = torch.from_numpy(W), torch.from_numpy(h0[0])

    def run():
        h = ht.clone()
        with torch.no_grad():
            for _ in range(steps):
                h = h + DT * (-h + torch.tanh(Wt @ h))
        return h
    return run


def reservoirpy_peer(W, h0, steps, method, dtype):
    if method != "euler" or h0.shape[0] != 1 or dtype != np.float64:
        return None
    from reservoirpy.nodes import Reservoir
    n = W.shape[0]
    res = Reservoir(units=n, W=W, Win=np.zeros((n, 1)), bias=np.zeros(n), lr=DT,
                    activation="tanh")
    x = np.zeros((steps, 1))
    res.initialize(x)

    def run():
        res.state = {"out": h0[0].copy()}
        return res.run(x)
    return run


def bare_blas_peer(W, h0, steps, method, dtype):
    # the compiled loops of nothing but the BLAS products, shared with bench_core's
    # batch rows (imported here, not at the top: the other peers need no ctrnn)
    from bench_core import _bare_products, _bare_products_batch
    k = 4 if method == "rk4" else 1
    if h0.shape[0] == 1:
        return lambda: _bare_products(W, h0[0].copy(), k * steps)
    WT = np.ascontiguousarray(W.T)
    return lambda: _bare_products_batch(h0.copy(), WT, k * steps)


def bare_panels_peer(W, h0, steps, method, dtype):
    from ctrnn._kernels import dense
    from ctrnn._kernels._jit import jit

    from ctrnn._kernels.borrow import borrow

    @jit(cache=False)
    def loop(Wp, H, Sp, turn, n):
        # the products alone, inlined as in the kernels, arrays not reference-counted
        Wp = borrow(Wp)
        H = borrow(H)
        Sp = borrow(Sp)
        turn = borrow(turn)
        N = H.shape[1]
        for _ in range(n):
            dense.panel_sums(Wp, H, Sp, turn)
            for r in range(H.shape[0]):  # feed the sums back (a chain, as in a run)
                for i in range(N):
                    H[r, i] = Sp[r, i]
        return 0
    N = W.shape[0]
    Wp = dense.pack_panels(W)
    Sp = dense.aligned_rows(h0.shape[0], Wp.size // N, W)
    k = 4 if method == "rk4" else 1
    turn = np.zeros(1, np.int64)
    return lambda: loop(Wp, h0.copy(), Sp, turn, k * steps)


def tanh_floor_peer(W, h0, steps, method, dtype):
    from ctrnn._kernels._jit import jit
    from ctrnn._kernels.phi import TANH, apply_phi_row

    @jit(cache=False)
    def loop(H, n):
        for _ in range(n):
            for r in range(H.shape[0]):
                apply_phi_row(TANH, H, r, H.shape[1])
        return H
    k = 4 if method == "rk4" else 1
    return lambda: loop(h0.copy(), k * steps)


PEERS = {"ctrnn": ctrnn_peer, "jax": jax_peer, "numpy": numpy_peer, "torch": torch_peer,
         "reservoirpy": reservoirpy_peer,
         "bare_blas": bare_blas_peer, "bare_panels": bare_panels_peer,
         "tanh_floor": tanh_floor_peer}


def version(peer):
    """The version string of a peer's library."""
    mod = {"jax": "jax", "torch": "torch", "numpy": "numpy",
           "reservoirpy": "reservoirpy"}.get(peer, "ctrnn")
    return f"{mod} {__import__(mod).__version__}"


def main(argv):
    usage = ("usage: python benchmarks/peers.py PEER METHOD N TRIALS DTYPE [fixed]; PEER one "
             f"of {', '.join(PEERS)}; METHOD euler or rk4; N, TRIALS whole numbers; DTYPE "
             "float64 or float32; prints us a step per trial (with fixed: ms a call)")
    if (len(argv) not in (5, 6) or argv[0] not in PEERS or argv[1] not in ("euler", "rk4")
            or not (argv[2].isdigit() and argv[3].isdigit())
            or argv[4] not in ("float64", "float32") or argv[5:] not in ([], ["fixed"])):
        sys.exit(usage + f"; got {argv}")
    peer, method, N, B, dtype = argv[0], argv[1], int(argv[2]), int(argv[3]), np.dtype(argv[4])
    fixed = argv[5:] == ["fixed"]
    make, steps = PEERS[peer], steps_for(N, B, method)
    try:
        W, h0 = workload(N, B, dtype)
        # the fixed cost of a call (seconds), or the call to time
        got = (fixed_cost(make, W, h0, method, dtype) if fixed
               else make(W, h0, steps, method, dtype))
    except ImportError as exc:
        print(f"skip: {exc}")
        return
    if got is None:
        print("skip: not this case")
    elif fixed:
        print(f"{got * 1e3:.4g} {version(peer)}")
    else:
        print(f"{best_of(got) / steps / B * 1e6:.6g} {version(peer)}")


if __name__ == "__main__":
    main(sys.argv[1:])
