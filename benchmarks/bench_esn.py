"""Echo state networks: ctrnn against ReservoirPy on the same reservoir, in one process.

The same W, U (Win), b, leak and data go to both; each runs the reservoir and fits a
ridge readout (bias included, ridge 1e-8). Prints wall time (best of 20 calls at N = 100,
of 5 at N = 1000, after a warm-up) of run + fit for N in {100, 1000} over 10,000 steps,
and of fit + predict with the test NRMSE of both on NARMA-10 and one-step Mackey-Glass.
W has density 0.1. It goes to both as a scipy CSR matrix (the default of both libraries)
and, in the rows marked "dense W", as the same matrix in a dense array (ReservoirPy then
takes dense products; ctrnn still runs its CSR kernel, as it does for any W with at most
10% nonzeros). Run:  cd benchmarks && python bench_esn.py
"""
import numpy as np

from bench_core import best_of as best
from ctrnn import tasks
from ctrnn.esn import EchoStateNetwork

try:
    import reservoirpy
    from reservoirpy.nodes import Reservoir, Ridge
except ImportError:  # pragma: no cover
    reservoirpy = None


def pair(n, leak, sr, isc, bsc, u, seed, dense=False):
    e = EchoStateNetwork(n, spectral_radius=sr, leak=leak, input_scaling=isc,
                         bias_scaling=bsc, seed=seed)
    e._inputs(u)  # builds U and b
    if dense:
        e = EchoStateNetwork(W=e.W_dense, U=e.net.U, b=e.net.b, leak=leak)

    def rpy():
        res = Reservoir(units=n, W=e.W, Win=e.net.U, bias=e.net.b, lr=leak, activation="tanh")
        return res >> Ridge(ridge=1e-8)
    return e, rpy


def main():
    print(f"reservoirpy {reservoirpy.__version__ if reservoirpy else 'not installed'}")
    print("| task | N | ctrnn (s) | ReservoirPy (s) | ReservoirPy / ctrnn | NRMSE ctrnn | "
          "NRMSE ReservoirPy |\n|---|---|---|---|---|---|---|")
    # speed: run + fit over 10,000 steps (NARMA-10 data)
    u, y = tasks.narma10(10_000, seed=0)
    for n, dense in ((100, False), (100, True), (1000, False), (1000, True)):
        e, rpy = pair(n, 1.0, 0.9, 0.1, 0.0, u, seed=1, dense=dense)
        rep = 20 if n == 100 else 5  # short calls: more samples against the VM's noise
        t_c = best(lambda: e.fit(u[:-1], y[1:], washout=200, ridge=1e-8), rep)
        if reservoirpy:
            t_r = best(lambda: rpy().fit(u[:-1], y[1:], warmup=200), rep)
            ratio = f"{t_r / t_c:.1f}x"
        else:
            t_r, ratio = float("nan"), "skipped"
        print(f"| run + fit, 10,000 steps{', dense W' if dense else ''} | {n} | {t_c:.3g} | "
              f"{t_r:.3g} | {ratio} | - | - |", flush=True)
    # accuracy: NARMA-10 (N = 200) and one-step Mackey-Glass (N = 200)
    u, y = tasks.narma10(6000, seed=0)
    mg = tasks.mackey_glass(5000, seed=0)
    for name, (U_tr, Y_tr, U_te, Y_te), (leak, sr, isc, bsc) in (
            ("NARMA-10", (u[:3999], y[1:4000], u[3999:-1], y[4000:]), (1.0, 0.9, 0.1, 0.0)),
            ("Mackey-Glass one step", (mg[:2999], mg[1:3000], mg[2999:-1], mg[3000:]),
             (0.5, 0.9, 0.5, 0.2))):
        e, rpy = pair(200, leak, sr, isc, bsc, U_tr, seed=3)

        def ours():
            e.fit(U_tr, Y_tr, washout=200, ridge=1e-8)
            return e.predict(U_te).values  # continues from the end of training

        def theirs():
            model = rpy().fit(U_tr, Y_tr, warmup=200)
            return model.run(U_te)  # continues from the end of training too
        t_c, p_c = best(ours), ours()
        if reservoirpy:
            t_r, p_r = best(theirs), theirs()
            e_r, ratio = f"{tasks.nrmse(Y_te, p_r):.4g}", f"{t_r / t_c:.1f}x"
        else:
            t_r, e_r, ratio = float("nan"), "skipped", "skipped"
        print(f"| {name} | 200 | {t_c:.3g} | {t_r:.3g} | {ratio} | "
              f"{tasks.nrmse(Y_te, p_c):.4g} | {e_r} |", flush=True)


if __name__ == "__main__":
    main()
