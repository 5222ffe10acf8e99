"""Time per training iteration (forward pass, backward pass, Adam update) of the same
model on the same data, side by side: ctrnn.train.fit, PyTorch CPU (autograd through a
Python loop of Euler steps, as users of nn4n/neurogym write it) and JAX
(``jax.jit`` of ``jax.value_and_grad`` of a ``lax.scan``, Adam written out in the jitted
step). Each peer runs in a process of its own, the peers in turn, over several rounds.

    python benchmarks/bench_train.py [--rounds 3] [--memory]

Model: tau dh/dt = -h + tanh(W h + U x + b), Euler, dt = 0.1, tau = 1, h0 = 0, float64,
W ~ N(0, 0.9^2 / N), 3 inputs, 3 outputs y = C h + c, MSE against random targets at every
step, Adam(lr=1e-3) on W, U, b, C, c. Cases (N, batch, T): (100, 32, 200), (256, 64, 200).
``--memory`` also reports ctrnn's peak memory of one iteration at T = 2000 with and
without ``checkpoint_every`` (tracemalloc: NumPy's allocations).
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

CASES = [(100, 32, 200), (256, 64, 200)]
DT, G, NIN, NOUT, LR = 0.1, 0.9, 3, 3, 1e-3


def workload(N, B, T):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((N, N)) * (G / np.sqrt(N))
    U = rng.standard_normal((N, NIN))
    C = rng.standard_normal((NOUT, N)) / np.sqrt(N)
    x = rng.standard_normal((B, T, NIN))
    tg = rng.standard_normal((B, T, NOUT))
    return W, U, C, x, tg


def ctrnn_peer(N, B, T):
    import xarray as xr

    import ctrnn
    W, U, C, x, tg = workload(N, B, T)
    task = xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), tg)}, attrs={"dt": DT})
    net = ctrnn.RateNetwork(W, U=U, tau=1.0)
    ro = ctrnn.train.Readout(C, np.zeros(NOUT))

    def run(n):
        ctrnn.train.fit(net, task, readout=ro, batch_size=B, iterations=n, loss="mse",
                        optimizer=ctrnn.train.Adam(lr=LR), seed=0, progress=False)
    return run


def torch_peer(N, B, T):
    import torch
    torch.set_default_dtype(torch.float64)
    W, U, C, x, tg = workload(N, B, T)
    P = [torch.nn.Parameter(torch.tensor(a)) for a in (W, U, np.zeros(N), C, np.zeros(NOUT))]
    xt, tt = torch.tensor(x), torch.tensor(tg)

    def run(n):
        opt = torch.optim.Adam(P, lr=LR)
        Wt, Ut, bt, Ct, ct = P
        for _ in range(n):
            opt.zero_grad()
            drive = xt @ Ut.T + bt  # one product for every step's input
            h = torch.zeros(B, N)
            hs = []
            for k in range(T):
                h = h + DT * (-h + torch.tanh(h @ Wt.T + drive[:, k]))
                hs.append(h)
            y = torch.stack(hs, 1) @ Ct.T + ct
            loss = ((y - tt) ** 2).mean()
            loss.backward()
            opt.step()
    return run


def jax_peer(N, B, T):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    W, U, C, x, tg = workload(N, B, T)
    params = tuple(jnp.asarray(a) for a in (W, U, np.zeros(N), C, np.zeros(NOUT)))
    xj = jnp.swapaxes(jnp.asarray(x), 0, 1)  # (T, B, n_in)
    tj = jnp.swapaxes(jnp.asarray(tg), 0, 1)

    def loss(p):
        Wj, Uj, bj, Cj, cj = p
        drive = xj @ Uj.T + bj

        def step(h, d):
            h = h + DT * (-h + jnp.tanh(h @ Wj.T + d))
            return h, h
        _, hs = jax.lax.scan(step, jnp.zeros((B, N)), drive)
        return jnp.mean((hs @ Cj.T + cj - tj) ** 2)

    @jax.jit
    def train_step(p, m, v, t):
        val, g = jax.value_and_grad(loss)(p)
        m = tuple(0.9 * a + 0.1 * b for a, b in zip(m, g))
        v = tuple(0.999 * a + 0.001 * b * b for a, b in zip(v, g))
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        p = tuple(a - LR * (mm / c1) / (jnp.sqrt(vv / c2) + 1e-8)
                  for a, mm, vv in zip(p, m, v))
        return p, m, v, val

    def run(n):
        p, m, v = params, tuple(jnp.zeros_like(a) for a in params), \
            tuple(jnp.zeros_like(a) for a in params)
        for t in range(1, n + 1):
            p, m, v, val = train_step(p, m, v, t)
        jax.block_until_ready(p)
    return run


PEERS = {"ctrnn": ctrnn_peer, "torch": torch_peer, "jax": jax_peer}


def version(peer):
    return f"{peer} {__import__(peer).__version__}"


def worker(peer, N, B, T):
    try:
        run = PEERS[peer](N, B, T)
    except ImportError as exc:
        print(f"skip: {exc}")
        return
    run(2)  # compile / warm up
    n = 5
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        run(n)
        best = min(best, (time.perf_counter() - t0) / n)
    print(f"{best * 1e3:.6g} {version(peer)}")


def memory(T=2000, every=50):
    """Peak NumPy memory (MB) of one training iteration's forward and backward pass
    (``_bptt.run`` on arrays prepared once, as ``fit`` does) for the two cases' N and
    batch, without and with checkpoint_every (tracemalloc)."""
    import tracemalloc

    import ctrnn
    from ctrnn.integrators import get_method
    from ctrnn.train import _bptt
    from ctrnn.train.losses import mse
    out = {}
    for N, B, _ in CASES:
        W, U, C, x, tg = workload(N, B, T)
        net = ctrnn.RateNetwork(W, U=U, tau=1.0)
        mask = np.ones_like(tg)
        H0 = np.zeros((B, N))
        for k in (None, every):
            def one():
                _bptt.run(net, C, np.zeros(NOUT), x, H0, method=get_method("euler"), dt=DT,
                          loss_fn=mse, targets=tg, mask=mask, checkpoint_every=k)
            one()  # compile
            tracemalloc.start()
            one()
            out[(N, B, k)] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
    return out


def main(argv):
    if argv and argv[0] == "--worker":
        worker(argv[1], *map(int, argv[2:5]))
        return
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    res = {}
    for r in range(rounds):
        for case in CASES:
            for peer in PEERS:
                out = subprocess.run([sys.executable, __file__, "--worker", peer,
                                      *map(str, case)], capture_output=True, text=True)
                line = (out.stdout.strip().splitlines() or [f"skip: {out.stderr[-300:]}"])[-1]
                if line.startswith("skip"):
                    res.setdefault((case, peer), (np.nan, line))
                    continue
                ms, ver = line.split(" ", 1)
                old = res.get((case, peer), (np.inf, ""))[0]
                res[(case, peer)] = (min(float(ms), old if old == old else np.inf), ver)
    print("ms per iteration (best over rounds):")
    print("| N | batch | T | ctrnn | PyTorch | JAX | PyTorch / ctrnn | JAX / ctrnn |")
    print("|---|---|---|---|---|---|---|---|")
    for case in CASES:
        c, t, j = (res[(case, p)][0] for p in PEERS)
        print(f"| {case[0]} | {case[1]} | {case[2]} | {c:.3g} | {t:.3g} | {j:.3g} | "
              f"{t / c:.2f} | {j / c:.2f} |")
    print("versions:", "; ".join(sorted({v for _, v in res.values()})))
    if "--memory" in argv:
        mem = memory()
        for N, B, _ in CASES:
            a, b = mem[(N, B, None)], mem[(N, B, 50)]
            print(f"peak memory of one iteration, T = 2000, N = {N}, batch {B}: {a:.1f} MB "
                  f"without checkpointing, {b:.1f} MB with checkpoint_every=50 "
                  f"({a / b:.1f}x less)")

if __name__ == "__main__":
    main(sys.argv[1:])
