"""Train a 3-bit flip-flop (Sussillo & Barak 2013) and find the fixed points that store
its 2^3 = 8 memories.

Each of 3 input channels carries occasional +1/-1 pulses; the matching output must hold
the sign of the last pulse (the loss counts a bit from its first pulse on). A tanh
network of 100 units (Euler, dt = 10 ms, tau = 100 ms) is
trained by backpropagation through time (``ctrnn.train.fit``, Adam, MSE). Sussillo &
Barak's analysis is then run on the trained network as on any other:
``ctrnn.analysis.fixed_points`` at zero input, started from states the network visits,
finds 8 stable fixed points, one per memory (plus saddles between them), shown here in
the plane of the first two principal components of the activity.

Run:  python examples/train_flipflop.py [-o OUTDIR] [--iterations N]
      (writes train_flipflop.nc and train_flipflop.png)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

import ctrnn

N, BITS, DT = 100, 3, 0.01


def train(iterations=3000, seed=0, progress=None):
    task = ctrnn.tasks.flipflop(256, n_bits=BITS, duration=1.0, dt=DT, p_pulse=0.04,
                                seed=seed)
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=0.9, seed=seed),
                            U=np.zeros((N, BITS)), tau=0.1, phi="tanh")
    return ctrnn.train.fit(net, task, n_outputs=BITS, method="euler",
                           optimizer=ctrnn.train.Adam(lr=5e-3), batch_size=32,
                           iterations=iterations, loss="mse", clip_grad_norm=1.0,
                           seed=seed, progress=progress)


def analyse(model, seed=1):
    """Fixed points at zero input, from states visited on held-out trials; the memory
    each stable point holds (the sign of its readout)."""
    test = ctrnn.tasks.flipflop(64, n_bits=BITS, duration=1.0, dt=DT, p_pulse=0.04,
                                seed=seed)
    pred = model.predict(test, seed=seed)
    m = test["mask"].values  # from each bit's first pulse on
    err = float(np.sum(m * (pred.y.values - test.targets.values) ** 2) / m.sum())
    states = pred.h.values.reshape(-1, N)
    fp = ctrnn.analysis.fixed_points(model.network, x=np.zeros(BITS), n_starts=64,
                                     starts=states[::50], seed=seed)
    stable = fp.stable.values.astype(bool)
    memories = np.sign(model.readout(fp.h.values[stable]))
    return pred, test, fp, err, memories


def run(iterations=3000, seed=0, progress=None):
    model = train(iterations, seed, progress)
    pred, test, fp, err, memories = analyse(model)
    states = pred.h.values.reshape(-1, N)
    mean = states.mean(axis=0)
    _, _, vt = np.linalg.svd(states - mean, full_matrices=False)
    pcs = vt[:2]
    ds = xr.Dataset(
        {"trajectory_pc": (("time", "pc"), (pred.h.values[0] - mean) @ pcs.T, {"units": "1"}),
         "fixed_point_pc": (("fixed_point", "pc"), (fp.h.values - mean) @ pcs.T,
                            {"units": "1"}),
         "stable": ("fixed_point", fp.stable.values, {"units": "1"}),
         "loss": ("iteration", model.history.loss.values, {"units": "1"})},
        coords={"time": ("time", pred.time.values, {"units": "s"}),
                "iteration": model.history.iteration.values},
        attrs={"n_stable": int(fp.stable.values.sum()),
               "n_memories": len({tuple(m) for m in memories}),
               "test_mse": err, "iterations": iterations, "seed": seed})
    return ds, model


def plot(ds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    a.plot(ds.iteration, ds.loss, lw=0.8)
    a.set(xlabel="iteration", ylabel="loss (MSE)", yscale="log", title="training")
    b.plot(*ds.trajectory_pc.values.T, lw=0.5, color="0.6", label="a test trial")
    st = ds.stable.values.astype(bool)
    fpc = ds.fixed_point_pc.values
    b.plot(*fpc[st].T, "o", color="k", label="stable fixed points")
    b.plot(*fpc[~st].T, "x", color="r", label="unstable")
    b.set(xlabel="PC 1", ylabel="PC 2",
          title=f"{ds.attrs['n_stable']} stable fixed points")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("-o", "--outdir", default=".")
    p.add_argument("--iterations", type=int, default=3000)
    a = p.parse_args(argv)
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    ds, _ = run(a.iterations, progress=True)
    ds.to_netcdf(out / "train_flipflop.nc")
    plot(ds, out / "train_flipflop.png")
    print(f"{ds.attrs['n_stable']} stable fixed points holding {ds.attrs['n_memories']} "
          f"memories; test MSE {ds.attrs['test_mse']:.3g}; wrote {out}/train_flipflop.nc "
          "and .png")


if __name__ == "__main__":
    main()
