"""The transition to chaos in random rate networks (Sompolinsky, Crisanti & Sommers 1988).

tau dh/dt = -h + tanh(W h), W_ij ~ N(0, g^2/N). For g < 1 activity decays to the fixed
point 0; for g > 1 it is chaotic. For each g in a sweep this script measures the largest
Lyapunov exponent, the stationary variance of the input current x = W h against dynamic
mean-field theory, and for a few g the autocorrelation of x against theory.

Run:  python examples/chaos_transition.py [-o OUTDIR] [--quick]
      (writes chaos_transition.nc and chaos_transition.png)
"""
from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

import ctrnn
from ctrnn.io import save_result
from ctrnn import analysis


def run(gs=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0), n=2000, n_networks=3, n_lyap=500,
        duration=300.0, acf_gs=(1.5, 2.0, 3.0), seed=0):
    """Sweep g; returns a Dataset with dims g (and lag for the autocorrelations).

    Statistics are averaged over ``n_networks`` realisations of W: a finite network can
    keep a frozen (static) part of its current that differs between realisations."""
    lam, var_sim, var_th = [], [], []
    max_lag = 40
    acf_sim, acf_th = {}, {}
    for g in gs:
        acfs = []
        for r in range(n_networks):
            W = ctrnn.connectivity.gaussian(n, g, seed=seed + 100 * r)
            net = ctrnn.RateNetwork(W.astype(np.float32), tau=1.0)
            ds = ctrnn.simulate(net, duration=duration, dt=0.1, method="rk4", h0="random",
                                seed=seed + 1 + 100 * r, save_every=5, dtype=np.float32)
            h = ds.h.isel(time=slice(100, None)).values.astype(np.float64)  # drop 50 tau
            x = xr.DataArray(h @ W.T, dims=("time", "neuron"),
                             coords={"time": ds.time.values[100:]})  # input current
            acfs.append(x.ctrnn.autocorrelation(max_lag, center=False))
        acf = sum(acfs) / n_networks
        var_sim.append(float(acf[0]))
        var_th.append(analysis.current_variance(g))
        if g in acf_gs:
            acf_sim[g] = acf.values
            acf_th[g] = analysis.current_autocorrelation(g, acf.lag.values).values
        small = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(n_lyap, g, seed=seed + 2))
        lam.append(analysis.largest_lyapunov(small, duration=200.0, dt=0.1, transient=50.0,
                                             seed=seed + 3))
    lags = acf.lag.values
    out = xr.Dataset(
        {"largest_lyapunov": ("g", lam, {"units": "1/tau"}),
         "current_variance_simulated": ("g", var_sim, {"units": "1"}),
         "current_variance_theory": ("g", var_th, {"units": "1"}),
         "autocorrelation_simulated": (("g_acf", "lag"),
                                       np.array([acf_sim[g] for g in acf_gs]), {"units": "1"}),
         "autocorrelation_theory": (("g_acf", "lag"), np.array([acf_th[g] for g in acf_gs]),
                                    {"units": "1"})},
        coords={"g": ("g", list(gs), {"long_name": "coupling gain", "units": "1"}),
                "g_acf": ("g_acf", list(acf_gs), {"long_name": "coupling gain",
                                                  "units": "1"}),
                "lag": ("lag", lags, {"units": "tau"})},
        attrs={"n_neurons": n, "n_networks": n_networks, "n_neurons_lyapunov": n_lyap,
               "duration": duration})
    return out


def plot(res, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
    g = res.g.values
    ax[0].plot(g, res.largest_lyapunov, "o-")
    ax[0].axhline(0, color="k", lw=0.5)
    ax[0].axvline(1, color="k", lw=0.5, ls=":")
    ax[0].set(xlabel="g", ylabel="largest Lyapunov exponent (1/tau)")
    ax[1].plot(g, res.current_variance_simulated, "o", label="simulation")
    gg = np.linspace(g.min(), g.max(), 100)
    ax[1].plot(gg, [analysis.current_variance(v) for v in gg], "-", label="mean-field theory")
    ax[1].set(xlabel="g", ylabel="variance of the input current")
    ax[1].legend()
    for i, ga in enumerate(res.g_acf.values):
        line, = ax[2].plot(res.lag, res.autocorrelation_simulated[i], "o", ms=3,
                           label=f"g = {ga} sim")
        ax[2].plot(res.lag, res.autocorrelation_theory[i], "-", color=line.get_color())
    ax[2].set(xlabel="lag (tau)", ylabel="autocorrelation of x", title="lines: DMFT")
    ax[2].legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("-o", "--outdir", default=".")
    ap.add_argument("--quick", action="store_true", help="smaller networks, fewer g")
    args = ap.parse_args(argv)
    kw = dict(gs=(0.5, 1.5, 3.0), n=1000, n_networks=1, n_lyap=200, duration=150.0,
              acf_gs=(1.5, 3.0)) if args.quick else {}
    res = run(**kw)
    save_result(res, args.outdir, "chaos_transition", plot)
    return res


if __name__ == "__main__":
    main()
