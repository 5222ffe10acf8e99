"""FORCE learning (Sussillo & Abbott 2009): a chaotic rate network (N = 1000, sparse W
with g = 1.5) learns to produce a periodic pattern through a readout z = w h that is fed
back into it, w updated by recursive least squares every 2 steps while the network runs.
Then learning stops, and the trained closed loop, the RateNetwork W + u_f w^T, runs on
its own; its spectrum shows the outlier eigenvalues that the rank-one change pulls out of
the chaotic bulk, and its largest Lyapunov exponent falls from positive (chaos) to about
zero (a limit cycle).

Configuration of the original demo: sparseness 0.1, g = 1.5, alpha = 1, dt = 0.1 tau,
feedback weights U(-1, 1), the four-sine target of period 120 tau, 1440 tau of training
and 1440 tau of testing with learning off. The network is ctrnn's rate form
tau dh/dt = -h + tanh(W h + u_f z) (S&A wrote the current form).

Whether the loop holds the pattern with learning off depends on the network drawn, in
either form: ``--seeds 10`` trains seeds 0-9 in ctrnn's rate form and, on the same W, the
original script's current form tau dx/dt = -x + W tanh(x) + u_f z written out in NumPy
(``current_form``), and prints both test errors (about 10 minutes).

Run:  python examples/force_learning.py [-o OUTDIR] [--quick] [--seed S] [--seeds K]
      (writes force_learning.nc and .png; about a minute on 2 cores)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

import ctrnn

N, P_CONN, G, DT, TRAIN, TEST = 1000, 0.1, 1.5, 0.1, 1440.0, 1440.0


def target(t):
    """The four-sine target of the original script, period 120 tau, amplitude ~1."""
    return (1.3 * np.sin(np.pi * t / 60) + 0.65 * np.sin(2 * np.pi * t / 60)
            + (1.3 / 6) * np.sin(3 * np.pi * t / 60)
            + (1.3 / 3) * np.sin(4 * np.pi * t / 60)) / 1.5


def run(n=N, train=TRAIN, test=TEST, seed=0, lyapunov=True, progress=False):
    """Train, test with learning off, and measure. Returns a Dataset."""
    net = ctrnn.RateNetwork(ctrnn.connectivity.sparse(n, P_CONN, G, seed=seed), tau=1.0)
    n_train, n_test = int(round(train / DT)), int(round(test / DT))
    t = np.arange(1, n_train + 1) * DT
    res = ctrnn.train.force(net, target(t), dt=DT, every=2, alpha=1.0, seed=seed,
                            eig_every=max(1, n_train // 4), progress=progress)
    ds = ctrnn.simulate(res.network, steps=n_test, dt=DT, h0=res.h, method="euler",
                        progress=progress)
    tt = t[-1] + np.arange(1, n_test + 1) * DT
    z = res.readout(ds.h.values[1:])[:, 0]
    mae = float(np.mean(np.abs(z - target(tt))))
    w_norm = float(res.record.w_norm[-1])
    print(f"training: MAE over the last 100 tau {float(np.abs(res.record.error[-1000:]).mean()):.4f}; "
          f"|w| at the end {w_norm:.3f}")
    print(f"test, learning off: MAE {mae:.4f}")
    ev = np.linalg.eigvals(np.array(res.network.W))
    out = ctrnn.analysis.outliers(np.array(res.network.W), radius=G)
    print(f"closed loop: {out.size} eigenvalues outside the bulk of radius {G}, the largest "
          f"|lambda| = {np.abs(out.values).max() if out.size else float('nan'):.2f}")
    lyap = [np.nan, np.nan]
    if lyapunov:
        h_start = res.h
        for i, m in enumerate((net, res.network)):
            lyap[i] = float(ctrnn.analysis.largest_lyapunov(
                m, duration=200.0, dt=DT, h0=h_start, transient=50.0, method="euler",
                seed=seed))
        print(f"largest Lyapunov exponent: before training {lyap[0]:.3f}, after "
              f"{lyap[1]:.3f} (per tau)")
    one = {"units": "1"}
    return xr.Dataset(
        {"z_train": ("time", res.record.z.values[:, 0], {**one, "long_name": "readout, training"}),
         "target_train": ("time", res.record.target.values[:, 0], one),
         "w_norm": ("time", res.record.w_norm.values, {**one, "long_name": "|w|"}),
         "z_test": ("test_time", z, {**one, "long_name": "readout, learning off"}),
         "target_test": ("test_time", target(tt), one),
         "eig_real": ("eig", ev.real, one), "eig_imag": ("eig", ev.imag, one)},
        coords={"time": ("time", t, {"units": "tau"}),
                "test_time": ("test_time", tt, {"units": "tau"})},
        attrs={"test_mae": mae, "w_norm": w_norm, "lyapunov_before": lyap[0],
               "lyapunov_after": lyap[1], "n_outliers": int(out.size), "n": n,
               "seed": seed, "g": G, "p": P_CONN, "dt": DT})


def plot(ds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(13, 7))
    a = fig.add_subplot(2, 2, (1, 2))
    a.plot(ds.time, ds.target_train, "k", lw=0.8, label="target")
    a.plot(ds.time, ds.z_train, "C0", lw=0.8, label="z, training")
    a.plot(ds.test_time, ds.target_test, "k", lw=0.8)
    a.plot(ds.test_time, ds.z_test, "C3", lw=0.8, label="z, learning off")
    a.set(xlabel="time (tau)", ylabel="output",
          title=f"FORCE: training, then learning off (test MAE {ds.attrs['test_mae']:.3f})")
    a.legend(fontsize=8, loc="upper right")
    b = fig.add_subplot(2, 2, 3)
    b.plot(ds.time, ds.w_norm)
    b.set(xlabel="time (tau)", ylabel="|w|", title="readout weights")
    c = fig.add_subplot(2, 2, 4)
    c.plot(ds.eig_real, ds.eig_imag, ".", ms=2, label="bulk")
    # the n_outliers of analysis.outliers: those of largest modulus
    out = np.argsort(-np.abs(ds.eig_real.values + 1j * ds.eig_imag.values))[
        :ds.attrs["n_outliers"]]
    c.plot(ds.eig_real.values[out], ds.eig_imag.values[out], "o", color="C3", ms=6,
           mfc="none", label=f"outliers ({out.size}, analysis.outliers)")
    th = np.linspace(0, 2 * np.pi, 200)
    c.plot(ds.attrs["g"] * np.cos(th), ds.attrs["g"] * np.sin(th), "k--", lw=0.8,
           label="radius g")
    c.legend(fontsize=7, loc="lower left")
    c.set(xlabel="Re lambda", ylabel="Im lambda", aspect="equal",
          title="closed loop W + u_f w^T: bulk and outliers")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def current_form(seed, n=N, train=TRAIN, test=TEST):
    """The original script's current form on ctrnn's W for ``seed``, written out in NumPy
    (RLS by BLAS's dsymv and dsyr): tau dx/dt = -x + W r + u_f z, r = tanh(x), z = w r,
    the z computed before each update fed back. Returns the test error, learning off."""
    from scipy.linalg.blas import dsymv, dsyr
    W = ctrnn.connectivity.sparse(n, P_CONN, G, seed=seed).tocsr()
    rng = np.random.default_rng(seed)
    uf, x = rng.uniform(-1, 1, n), 0.5 * rng.normal(size=n)
    n_train, n_test = int(round(train / DT)), int(round(test / DT))
    f = target(np.arange(1, n_train + n_test + 1) * DT)
    w, P = np.zeros(n), np.asfortranarray(np.eye(n))
    r = np.tanh(x)
    z, err = 0.0, []
    for k in range(n_train + n_test):
        x += DT * (-x + W @ r + uf * z)
        r = np.tanh(x)
        z = w @ r
        if k < n_train and (k + 1) % 2 == 0:
            kk = dsymv(1.0, P, r)
            c = 1.0 / (1.0 + r @ kk)
            P = dsyr(-c, kk, a=P, overwrite_a=True)
            w -= c * (z - f[k]) * kk
        elif k >= n_train:
            err.append(abs(z - f[k]))
    return float(np.mean(err))


def seeds(k):
    """Test errors over seeds 0 .. k-1, ctrnn's rate form beside the current form."""
    print("seed | rate form (ctrnn) | current form (NumPy)")
    for s in range(k):
        ds = run(seed=s, lyapunov=False)
        print(f"{s} | {ds.attrs['test_mae']:.4f} | {current_form(s):.4f}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("-o", "--outdir", default=".")
    p.add_argument("--quick", action="store_true", help="without the Lyapunov exponents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=0,
                   help="compare the rate and current forms over seeds 0 .. K-1 (no files)")
    a = p.parse_args(argv)
    if a.seeds:
        return seeds(a.seeds)
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    # the configuration needs its full size and training to hold the pattern (a smaller
    # or shorter one does not): quick skips the Lyapunov exponents only
    ds = run(seed=a.seed, lyapunov=not a.quick)
    ds.to_netcdf(out / "force_learning.nc")
    plot(ds, out / "force_learning.png")
    print(f"wrote {out}/force_learning.nc and .png")


if __name__ == "__main__":
    main()
