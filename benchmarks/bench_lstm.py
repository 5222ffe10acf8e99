"""Time per LSTM training iteration (forward pass, backward pass, Adam update), the same
weights and data side by side: ctrnn (``ctrnn.train.fit`` on a ``ctrnn.train.LSTM``) and
``torch.nn.LSTM`` + ``nn.Linear`` on PyTorch CPU (autograd, ``torch.optim.Adam``). Each
peer runs in a process of its own, the peers in turn, over several rounds.

    python benchmarks/bench_lstm.py [--rounds 3]
    python benchmarks/bench_lstm.py --floor   # the bare products of one iteration

Model: one LSTM layer of H = 128 units, 2 inputs, 1 output y = C h + c at every step,
MSE against random targets, batch 32, T = 200, Adam(lr=1e-3), float64 and float32. The
weights are PyTorch's initialisation, moved into ctrnn through ``LSTM.from_state_dict``.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

H, B, T, NIN, NOUT, LR = 128, 32, 200, 2, 1, 1e-3
DTYPES = ("float64", "float32")


def workload():
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    state = {"weight_ih_l0": rng.uniform(-k, k, (4 * H, NIN)),
             "weight_hh_l0": rng.uniform(-k, k, (4 * H, H)),
             "bias_ih_l0": rng.uniform(-k, k, 4 * H), "bias_hh_l0": rng.uniform(-k, k, 4 * H),
             "readout.weight": rng.uniform(-k, k, (NOUT, H)),
             "readout.bias": rng.uniform(-k, k, NOUT)}
    return state, rng.standard_normal((B, T, NIN)), rng.standard_normal((B, T, NOUT))


def ctrnn_peer(dtype):
    import xarray as xr

    import ctrnn
    state, x, tg = workload()
    task = xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), tg)})
    lstm = ctrnn.train.LSTM.from_state_dict(state, dtype=dtype)

    def run(n):
        m = ctrnn.train.fit(lstm, task, batch_size=B, iterations=n, loss="mse",
                            optimizer=ctrnn.train.Adam(lr=LR), seed=0, progress=False)
        return float(m.history.loss[0])
    return run


def torch_peer(dtype):
    import torch
    dt = getattr(torch, dtype)
    state, x, tg = workload()
    lstm = torch.nn.LSTM(NIN, H, batch_first=True).to(dt)
    lin = torch.nn.Linear(H, NOUT).to(dt)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(torch.tensor(state[name]))
        lin.weight.copy_(torch.tensor(state["readout.weight"]))
        lin.bias.copy_(torch.tensor(state["readout.bias"]))
    xt, tt = torch.tensor(x, dtype=dt), torch.tensor(tg, dtype=dt)

    def run(n):
        opt = torch.optim.Adam(list(lstm.parameters()) + list(lin.parameters()), lr=LR)
        first = None
        for _ in range(n):
            opt.zero_grad()
            loss = ((lin(lstm(xt)[0]) - tt) ** 2).mean()
            loss.backward()
            opt.step()
            first = float(loss) if first is None else first
        return first
    return run


PEERS = {"ctrnn": ctrnn_peer, "torch": torch_peer}


def worker(peer, dtype):
    try:
        run = PEERS[peer](dtype)
    except ImportError as exc:
        print(f"skip: {exc}")
        return
    first = run(2)  # compile / warm up; the loss before any step
    n, best = 5, np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        run(n)
        best = min(best, (time.perf_counter() - t0) / n)
    print(f"{best * 1e3:.6g} {first!r} {peer} {__import__(peer).__version__}")


def floor():
    """ms of the bare products of one iteration: the 2 T per-step products (B, H) x
    (H, 4H) (the forward pass's, and as many of the same size in the backward pass) on
    one and on two OpenBLAS threads; the weight gradient's single (4H, T B) x (T B, H);
    and the same per-step products in PyTorch (its BLAS, its default threads)."""
    from threadpoolctl import threadpool_limits

    def best(fn, n=5):
        b = np.inf
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            b = min(b, time.perf_counter() - t0)
        return b * 1e3
    out = {}
    for dtype in DTYPES:
        rng = np.random.default_rng(0)
        h = rng.standard_normal((B, H)).astype(dtype)
        W = rng.standard_normal((H, 4 * H)).astype(dtype)
        D = rng.standard_normal((T * B, 4 * H)).astype(dtype)
        Hs = rng.standard_normal((T * B, H)).astype(dtype)
        z = np.empty((B, 4 * H), dtype)

        def steps():
            for _ in range(2 * T):
                np.dot(h, W, out=z)
        for threads in (1, 2):
            with threadpool_limits(threads):
                out[f"{dtype} per-step products, {threads} OpenBLAS thread(s)"] = best(steps)
        out[f"{dtype} weight-gradient product"] = best(lambda: D.T @ Hs)
        try:
            import torch
        except ImportError:
            continue
        ht, Wt = torch.tensor(h), torch.tensor(W)

        def tsteps():
            for _ in range(2 * T):
                torch.mm(ht, Wt)
        out[f"{dtype} per-step products, PyTorch ({torch.get_num_threads()} threads)"] = \
            best(tsteps)
    return out


def main(argv):
    if argv and argv[0] == "--worker":
        worker(argv[1], argv[2])
        return
    if "--floor" in argv:
        for k, v in floor().items():
            print(f"{k}: {v:.3g} ms")
        return
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    res, losses = {}, {}
    for _ in range(rounds):
        for dtype in DTYPES:
            for peer in PEERS:
                out = subprocess.run([sys.executable, __file__, "--worker", peer, dtype],
                                     capture_output=True, text=True)
                line = (out.stdout.strip().splitlines() or [f"skip: {out.stderr[-300:]}"])[-1]
                if line.startswith("skip"):
                    res.setdefault((dtype, peer), (np.nan, line))
                    continue
                ms, first, ver = line.split(" ", 2)
                losses[(dtype, peer)] = float(first)
                old = res.get((dtype, peer), (np.inf, ""))[0]
                res[(dtype, peer)] = (min(float(ms), old if old == old else np.inf), ver)
    print(f"LSTM training iteration, H = {H}, batch {B}, T = {T}: ms (best over {rounds} "
          "rounds)")
    print("| dtype | ctrnn | PyTorch nn.LSTM | PyTorch / ctrnn |")
    print("|---|---|---|---|")
    for dtype in DTYPES:
        c, t = (res[(dtype, p)][0] for p in PEERS)
        print(f"| {dtype} | {c:.3g} | {t:.3g} | {t / c:.2f} |")
    print("versions:", "; ".join(sorted({v for _, v in res.values()})))
    for dtype in DTYPES:  # the same computation: the same loss before the first step
        a, b = losses.get((dtype, "ctrnn")), losses.get((dtype, "torch"))
        if a is not None and b is not None:
            print(f"{dtype}: first loss ctrnn {a:.12g}, torch {b:.12g} (relative "
                  f"difference {abs(a - b) / abs(b):.1e})")


if __name__ == "__main__":
    main(sys.argv[1:])
