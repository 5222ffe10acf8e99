"""Brian2 timing of the Euler rate network, run by bench_core.py with the Python of
benchmarks/.brian2-venv (made by make_brian2_env.sh: Brian2 2.9 needs numpy < 2).

    .brian2-venv/bin/python benchmarks/brian2_worker.py N TARGET

Same workload as peers.py (W ~ N(0, 1.5^2/N) from default_rng(0), h0 from default_rng(1),
tanh, tau = 1 ms, dt = 0.1 ms), all-to-all summed synapses. Prints us per step.
"""
import sys
import time

import numpy as np


def main(N, target):
    import brian2 as b2
    b2.prefs.logging.console_log_level = "ERROR"
    b2.prefs.codegen.target = target
    W = np.random.default_rng(0).standard_normal((N, N)) * (1.5 / np.sqrt(N))
    h0 = np.random.default_rng(1).standard_normal((1, N))[0]
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    grp = b2.NeuronGroup(N, "dh/dt = (-h + tanh(I)) / (1*ms) : 1\nI : 1", method="euler")
    syn = b2.Synapses(grp, grp, "w : 1\nI_post = w * h_pre : 1 (summed)")
    pre, post = np.meshgrid(np.arange(N), np.arange(N))
    syn.connect(i=pre.ravel(), j=post.ravel())
    syn.w = W.ravel()  # W[post, pre], post = row
    grp.h = h0
    net = b2.Network(grp, syn)
    net.store()
    steps = int(max(100, min(20000, 2e7 / N ** 2)))
    best = np.inf
    for _ in range(4):  # the first run compiles
        net.restore()
        t0 = time.perf_counter()
        net.run(steps * 0.1 * b2.ms)
        best = min(best, time.perf_counter() - t0)
    print(f"{best / steps * 1e6:.6g} brian2 {b2.__version__} ({target})")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
