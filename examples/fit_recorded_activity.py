"""A network fitted to "recorded" activity: a sequence, each neuron active in turn, as in
the posterior parietal cortex of mice running a memory-guided task (Harvey, Coen & Tank
2012), fitted by a data-constrained network whose recurrent weights learn by recursive
least squares (Rajan, Harvey & Tank 2016, "PINning"; ``ctrnn.train.fit_activity``).

The synthetic recording: N units, unit i a Gaussian bump of activity peaking at time
t_i, the peaks tiling the trial, plus a small noise (seeded). Rajan et al. found that a
random network with only a small fraction of plastic synapses reproduces such a
sequence; here the network is fitted with a fraction p of plastic presynaptic units, and
scored by the fraction of variance explained (pVar). With ``by_region`` (the first and
second half of the units as two "areas"), each unit's input is split by source (CURBD).

Run:  python examples/fit_recorded_activity.py [-o OUTDIR] [--quick]
      (writes fit_recorded_activity.nc and .png; about a minute on 2 cores)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import xarray as xr

import ctrnn

N, T, DT, TAU, FRACTIONS = 100, 300, 0.1, 1.0, (1.0, 0.5, 0.2)


def recording(n=N, n_t=T, seed=0):
    """The sequence: (time, neuron) rates in [0, 0.8]."""
    t = np.arange(n_t) * DT
    peaks = np.linspace(0.1, 0.9, n) * t[-1]
    width = 0.06 * t[-1]
    r = 0.8 * np.exp(-0.5 * ((t[:, None] - peaks[None, :]) / width) ** 2)
    r += 0.02 * np.random.default_rng(seed).normal(size=r.shape)
    return xr.DataArray(r, dims=("time", "neuron"),
                        coords={"time": ("time", t, {"units": "tau"}),
                                "neuron": np.arange(n)},
                        name="rates", attrs={"units": "1"})


def run(n=N, n_t=T, fractions=FRACTIONS, n_runs=200, seed=0, progress=False):
    data = recording(n, n_t, seed)
    regions = np.where(np.arange(n) < n // 2, "area 1", "area 2")
    pvars, units, model = [], [], None
    for p in fractions:
        fit = ctrnn.train.fit_activity(data, tau=TAU, p=p, n_runs=n_runs, by_region=regions,
                                       seed=seed, progress=progress)
        pvars.append(float(fit.pvar.total))
        units.append(fit.pvar.unit.values)
        print(f"p = {p:.2f} plastic: pVar {pvars[-1]:.3f} (median per unit "
              f"{np.median(units[-1]):.3f})", flush=True)
        if model is None:
            model = fit
    one = {"units": "1"}
    return xr.Dataset(
        {"data": data, "model": (("time", "neuron"), model.rates.values,
                                 {**one, "long_name": f"fitted network, p = {fractions[0]}"}),
         "pvar": ("p", pvars, {**one, "long_name": "pVar, all units"}),
         "pvar_unit": (("p", "neuron"), np.array(units), {**one, "long_name": "pVar per unit"}),
         "currents": model.currents.rename("currents").assign_attrs(units="1")},
        coords={"p": ("p", list(fractions), {**one, "long_name": "fraction plastic"})},
        attrs={"tau": TAU, "n_runs": n_runs, "seed": seed})


def plot(ds, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 4, figsize=(16, 4))
    for a, name in zip(ax[:2], ("data", "model")):
        a.imshow(ds[name].T, aspect="auto", origin="lower", vmin=0, vmax=0.8,
                 extent=[float(ds.time[0]), float(ds.time[-1]), 0, ds.sizes["neuron"]])
        a.set(xlabel="time (tau)", ylabel="unit", title=ds[name].attrs.get("long_name",
                                                                            "recorded"))
    ax[2].plot(ds.p, ds.pvar, "o-")
    ax[2].set(xlabel="fraction of plastic units p", ylabel="pVar",
              ylim=(min(0.0, float(ds.pvar.min()) - 0.05), 1.02),
              title="fit against plasticity")
    cur = ds.currents
    for src in cur.source.values:
        ax[3].plot(ds.time, cur.sel(source=src).isel(neuron=ds.sizes["neuron"] - 5),
                   label=f"from {src}")
    ax[3].set(xlabel="time (tau)", ylabel="input", title="CURBD: inputs to a unit of area 2")
    ax[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("-o", "--outdir", default=".")
    p.add_argument("--quick", action="store_true", help="half the runs of learning")
    a = p.parse_args(argv)
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    # a smaller network does not learn the sequence: quick keeps it, with half the runs
    ds = run(n_runs=100) if a.quick else run()
    ds.to_netcdf(out / "fit_recorded_activity.nc")
    plot(ds, out / "fit_recorded_activity.png")
    print(f"wrote {out}/fit_recorded_activity.nc and .png")


if __name__ == "__main__":
    main()
