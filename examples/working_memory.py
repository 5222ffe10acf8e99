"""The synaptic theory of working memory (Mongillo, Barak & Tsodyks, Science 2008), as a
rate network with short-term plasticity.

Four excitatory populations with facilitating synapses (U = 0.2, tau_f = 1.5 s,
tau_d = 0.2 s) and one shared inhibitory population (static synapses). A 0.3 s cue loads
item 0: its population fires, its synapses facilitate (u rises) and depress (x falls).
When the cue ends the activity returns to baseline - no persistent firing - yet the item
survives in the elevated u of its synapses for about a second. A weak non-specific input
to all excitatory populations then reactivates the loaded population only.

Each population is one rate unit with threshold-linear phi (relu) and a negative bias (the
threshold): the silent state is stable, and a population whose effective self-coupling
J u x exceeds 1 ignites when the non-specific input lifts it above threshold.

Run:  python examples/working_memory.py [-o OUTDIR]   (writes working_memory.nc / .png)
"""
from __future__ import annotations

import argparse

import numpy as np

import ctrnn
from ctrnn.io import save_result

N_E = 4                      # excitatory populations (items)
J_EE = 3.0                   # self-excitation (absolute efficacy at u x = 1)
J_EI, J_IE = 0.5, 0.1        # E <- I inhibition, I <- E excitation
THETA_E, THETA_I = 1.0, 0.5  # thresholds (negative biases), Hz
TAU_E, TAU_I = 0.01, 0.005   # s
CUE, READOUT = 40.0, 1.5     # input amplitudes (Hz of drive)
T_CUE = (0.2, 0.5)           # s: loading cue to population 0
T_READ = (1.5, 1.75)         # s: non-specific readout to all excitatory populations
DURATION, DT = 2.5, 2e-4     # s


def network():
    """The RateNetwork: rows/columns 0..3 excitatory, 4 inhibitory."""
    n = N_E + 1
    W = np.zeros((n, n))
    W[:N_E, :N_E] = np.eye(N_E) * J_EE
    W[:N_E, N_E] = -J_EI
    W[N_E, :N_E] = J_IE
    U = np.zeros((n, 2))
    U[0, 0] = 1.0             # input 0: the cue, to population 0 only
    U[:N_E, 1] = 1.0          # input 1: non-specific, to every excitatory population
    b = np.r_[np.full(N_E, -THETA_E), -THETA_I]
    # facilitating E synapses (Mongillo et al.); the inhibitory ones are static: U = 1
    # (u stays 1) and resources that recover in 1 ms (x ~ 1)
    stp = ctrnn.STP(U=np.r_[np.full(N_E, 0.2), 1.0], tau_f=np.r_[np.full(N_E, 1.5), 1.0],
                    tau_d=np.r_[np.full(N_E, 0.2), 1e-3])
    return ctrnn.RateNetwork(W, U=U, b=b, tau=np.r_[np.full(N_E, TAU_E), TAU_I],
                             phi="relu", stp=stp)


def inputs(dt=DT, duration=DURATION, cue=CUE):
    """Inputs (steps, 2) on the step grid: the cue and the non-specific readout."""
    t = np.arange(round(duration / dt)) * dt
    x = np.zeros((t.size, 2))
    x[(t >= T_CUE[0]) & (t < T_CUE[1]), 0] = cue
    x[(t >= T_READ[0]) & (t < T_READ[1]), 1] = READOUT
    return x


def run(dt=DT, duration=DURATION, cue=CUE):
    """Simulate the task; returns the Dataset (h in Hz, u, x) with a `population` label.
    ``cue=0`` is the control without a loaded item."""
    net = network()
    ds = ctrnn.simulate(net, duration=duration, dt=dt, inputs=inputs(dt, duration, cue),
                        method="rk4", save_every=10, time_unit="s")
    labels = [f"E{i}" for i in range(N_E)] + ["I"]
    return ds.assign_coords(population=("neuron", labels))


def plot(ds, path):
    """h, u and x of every population (``ds.ctrnn.plot``), the cue and readout marked."""
    import matplotlib.pyplot as plt

    fig = ds.ctrnn.plot(neurons=range(ds.sizes["neuron"]))
    for ax in fig.axes:
        ax.axvspan(*T_CUE, color="tab:orange", alpha=0.15)
        ax.axvspan(*T_READ, color="tab:green", alpha=0.15)
    fig.axes[0].set_ylabel("rate h (Hz)")
    fig.axes[0].set_title("cue (orange) loads E0; non-specific readout (green) reactivates it")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("-o", "--outdir", default=".")
    args = ap.parse_args(argv)
    ds = run()
    save_result(ds, args.outdir, "working_memory", plot)


if __name__ == "__main__":
    main()
