"""A low-rank structure pulls a chaotic network onto a structured state (Mastrogiuseppe &
Ostojic 2018).

W = J + m n^T / N with J_ij ~ N(0, g^2/N), g = 2 (chaotic alone). The rank-one part adds
an outlier eigenvalue near n^T m / N (Tao 2013) outside the bulk of radius g. When the
overlap is large the chaotic activity is replaced by a stationary structured state along
m: the projection kappa = n^T tanh(h) / N settles at a nonzero value and the temporal
fluctuations collapse.

Run:  python examples/low_rank_outlier.py [-o OUTDIR]   (writes low_rank_outlier.nc/.png)
"""
from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

import ctrnn
from ctrnn.io import save_result
from ctrnn import analysis, connectivity


def run(n=1000, g=2.0, overlap=4.0, duration=200.0, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal(n)
    nvec = overlap * m + rng.standard_normal(n)  # n^T m / N ~ overlap
    J = connectivity.gaussian(n, g, seed=seed + 1)
    P = connectivity.low_rank(m, nvec)
    predicted = float(nvec @ m / n)
    res = {}
    for name, W in (("random", J), ("random + rank one", J + P)):
        ev = analysis.eigenvalues(W).values
        net = ctrnn.RateNetwork(W, tau=1.0)
        ds = ctrnn.simulate(net, duration=duration, dt=0.1, method="rk4", h0="random",
                            seed=seed + 2, save_every=5)
        h = ds.h.values
        kappa = np.tanh(h) @ nvec / n
        late = h[len(h) // 2:]
        res[name] = dict(ev=ev, kappa=kappa, fluct=float(late.std(axis=0).mean()),
                         h=h[:, :40], time=ds.time.values)
    a, b = res["random"], res["random + rank one"]
    return xr.Dataset(
        {"eigenvalue_real": (("case", "mode"), [a["ev"].real, b["ev"].real], ONE),
         "eigenvalue_imag": (("case", "mode"), [a["ev"].imag, b["ev"].imag], ONE),
         "kappa": (("case", "time"), [a["kappa"], b["kappa"]],
                   {"long_name": "overlap n . tanh(h) / N", "units": "1"}),
         "temporal_fluctuation": ("case", [a["fluct"], b["fluct"]], ONE),
         "h": (("case", "time", "neuron"), [a["h"], b["h"]],
               {"long_name": "activation h", "units": "1"}),
         "predicted_outlier": ((), predicted, ONE), "bulk_radius": ((), g, ONE)},
        coords={"case": ["random", "random + rank one"],
                "time": ("time", a["time"], {"units": "tau"})},
        attrs={"n_neurons": n, "g": g, "overlap": overlap})


ONE = {"units": "1"}  # eigenvalues of W, overlaps and h are dimensionless


def plot(res, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(10, 8), layout="constrained")
    th = np.linspace(0, 2 * np.pi, 200)
    g = float(res.bulk_radius)
    a = ax[0, 0]
    for j, case in enumerate(res.case.values):
        a.plot(res.eigenvalue_real[j], res.eigenvalue_imag[j], ".", ms=2, label=case)
    a.plot(g * np.cos(th), g * np.sin(th), "k-", lw=0.8, label=f"bulk radius g = {g}")
    a.plot(float(res.predicted_outlier), 0, "o", ms=12, mfc="none", mec="r", mew=1.5,
           label="predicted outlier n.m/N (computed: the dot inside)")
    a.set(aspect="equal", xlabel="Re", ylabel="Im", title="spectra")
    a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2)  # below
    for j, case in enumerate(res.case.values):
        ax[0, 1].plot(res.time, res.kappa[j], label=case)
    ax[0, 1].set(xlabel="time (tau)", ylabel="kappa = n . tanh(h) / N")
    ax[0, 1].legend(fontsize=8)
    for j, case in enumerate(res.case.values):
        im = ax[1, j].imshow(res.h[j].T, aspect="auto", cmap="RdBu_r", vmin=-1.5, vmax=1.5,
                             extent=[0, float(res.time[-1]), 0, 40], origin="lower")
        ax[1, j].set(xlabel="time (tau)", ylabel="neuron",
                     title=f"{case}: fluctuation {float(res.temporal_fluctuation[j]):.2f}")
    fig.colorbar(im, ax=ax[1, :], label="activation h (1)", shrink=0.8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("--quick", action="store_true", help="a smaller network")
    args = ap.parse_args(argv)
    res = run(**(dict(n=400, duration=100.0) if args.quick else {}))
    save_result(res, args.outdir, "low_rank_outlier", plot)
    return res


if __name__ == "__main__":
    main()
