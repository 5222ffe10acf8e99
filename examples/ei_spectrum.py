"""Eigenvalue spectra of excitatory-inhibitory networks (Rajan & Abbott 2006).

Dale's law matrices: 80% excitatory columns (entries >= 0), 20% inhibitory (<= 0), with
different variances. Three cases: unbalanced means put an outlier at the row sum of the
means; balanced means (f mu_E = (1 - f) mu_I) remove it on average; exact balance (every
row sums to zero) makes the bulk the disc of radius r, r^2 = f sigma_E^2 + (1 - f)
sigma_I^2 (variances of the column entries times N), with nothing outside. A short
simulation of each network shows its activity.

Run:  python examples/ei_spectrum.py [-o OUTDIR] [--quick]   (writes ei_spectrum.nc/.png)
"""
from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

import ctrnn
from ctrnn.io import save_result
from ctrnn import analysis, connectivity


def run(n_e=800, n_i=200, mu_e=1.0, sigma_e=1.0, sigma_i=2.0, seed=0):
    """Spectra of three E-I matrices; returns a Dataset with a ``case`` dimension."""
    N = n_e + n_i
    f = n_e / N
    mu_bal = f * mu_e / (1 - f)
    cases = (("unbalanced", mu_e, False), ("mean-balanced", mu_bal, False),
             ("exactly balanced", mu_bal, True))
    rows = []
    for name, mu_i, balance in cases:
        W, labels = connectivity.dale(n_e, n_i, mu_e=mu_e, mu_i=mu_i, sigma_e=sigma_e,
                                      sigma_i=sigma_i, balance=balance, seed=seed)
        ev = analysis.eigenvalues(W).values
        sd = np.sqrt(N) * np.r_[W[:, :n_e].std(axis=0).mean(), W[:, n_e:].std(axis=0).mean()]
        r_pred = analysis.bulk_radius(n_e=n_e, n_i=n_i, sigma_e=sd[0], sigma_i=sd[1])
        outl = analysis.outliers(W, radius=r_pred, margin=1.1).values
        net = ctrnn.RateNetwork(W, tau=1.0, dale=labels)
        ds = ctrnn.simulate(net, duration=50.0, dt=0.1, method="rk4", h0="random",
                            seed=seed + 1, save_every=5)
        rows.append(dict(ev=ev, r=r_pred, n_out=len(outl),
                         big=np.abs(outl).max(initial=0.0), h=ds.h.values[:, :50],
                         time=ds.time.values, labels=labels,
                         mean_outlier=(n_e * mu_e - n_i * mu_i) / np.sqrt(N)))
    return xr.Dataset(
        {"eigenvalue_real": (("case", "mode"), [r["ev"].real for r in rows], ONE),
         "eigenvalue_imag": (("case", "mode"), [r["ev"].imag for r in rows], ONE),
         "predicted_radius": ("case", [r["r"] for r in rows], ONE),
         "n_outliers": ("case", [r["n_out"] for r in rows], ONE),
         "largest_outlier": ("case", [r["big"] for r in rows], ONE),
         "predicted_mean_outlier": ("case", [r["mean_outlier"] for r in rows], ONE),
         "h": (("case", "time", "neuron"), [r["h"] for r in rows],
               {"long_name": "activation h", "units": "1"})},
        coords={"case": [c[0] for c in cases],
                "time": ("time", rows[0]["time"], {"units": "tau"}),
                "population": ("neuron", rows[0]["labels"][:50])},
        attrs={"n_e": n_e, "n_i": n_i, "sigma_e": sigma_e, "sigma_i": sigma_i})


ONE = {"units": "1"}  # eigenvalues of W and h are dimensionless


def plot(res, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 3, figsize=(14, 8), layout="constrained")
    th = np.linspace(0, 2 * np.pi, 200)
    for j, case in enumerate(res.case.values):
        r = float(res.predicted_radius[j])
        a = ax[0, j]
        a.plot(res.eigenvalue_real[j], res.eigenvalue_imag[j], ".", ms=2)
        a.plot(r * np.cos(th), r * np.sin(th), "r-", lw=1, label=f"predicted r = {r:.2f}")
        if float(res.predicted_mean_outlier[j]) > 1.1 * r:
            a.plot(float(res.predicted_mean_outlier[j]), 0, "kx", ms=10,
                   label="row sum of the means")
        # the bulk square, widened to show an outlier: an outlier far out on the real axis
        # no longer squashes the disc into a strip
        lim = 1.15 * r
        big = max(lim, 1.1 * float(res.largest_outlier[j]))
        a.set(xlim=(-lim, big), ylim=(-lim, lim), aspect="equal" if big < 2 * lim else "auto",
              title=f"{case}: {int(res.n_outliers[j])} outlier(s)", xlabel="Re", ylabel="Im")
        a.legend(fontsize=8, loc="upper left")
        im = ax[1, j].imshow(res.h[j].T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                             extent=[0, float(res.time[-1]), 0, 50], origin="lower")
        ax[1, j].set(xlabel="time (tau)", ylabel="neuron", title=f"activity, {case}")
    fig.colorbar(im, ax=ax[1, :], label="activation h (1)", shrink=0.8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("--quick", action="store_true", help="a smaller network")
    args = ap.parse_args(argv)
    res = run(**(dict(n_e=400, n_i=100) if args.quick else {}))
    save_result(res, args.outdir, "ei_spectrum", plot)
    return res


if __name__ == "__main__":
    main()
