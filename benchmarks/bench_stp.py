"""Cost of short-term plasticity: rk4 with STP on vs off, in one process.

Workload: W ~ N(0, 0.75^2/N) (stable with relu), relu, tau = 1, dt = 0.1,
h0 ~ |N(0, 1)|, STP(U=0.2, tau_f=1.5, tau_d=0.2) on every neuron; microseconds per step.
Run:  python benchmarks/bench_stp.py
"""
import numpy as np

import ctrnn
from bench_core import best_of, workload

print("| N | method | STP off (us/step) | STP on (us/step) | on / off |\n|---|---|---|---|---|")
for n, steps in ((100, 20_000), (1000, 1_000)):
    W, h0 = workload(n)
    W = W / 2
    h0 = np.abs(h0)
    off = ctrnn.RateNetwork(W, tau=1.0, phi="relu")
    on = off.replace(stp=ctrnn.STP(U=0.2, tau_f=1.5, tau_d=0.2))
    for method in ("rk4", "euler"):
        t = {}
        for name, net in (("off", off), ("on", on)):
            t[name] = best_of(lambda: ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0,
                                                     method=method, save_every=steps,
                                                     progress=False), 5) / steps * 1e6
        print(f"| N={n} | {method} | {t['off']:.3g} | {t['on']:.3g} | "
              f"{t['on'] / t['off']:.2f} |", flush=True)
