"""One forward pass through the engine and its exact adjoint: the loss of a batch of
trials and its gradient with respect to the network's effective parameters (W, U, b, tau,
h0) and the readout (C, c). Everything above (parametrisations, optimisers, ``fit``) works
with what this returns.

Data flow: validated arrays -> ``_engine.plan`` (the same packed tuples and kernels as
``simulate``) -> a forward sink that reads out y_k = C h_{k+1} + c step by step and keeps
every state (or every k-th, ``checkpoint_every``) -> the loss and dL/dy in NumPy -> the
adjoint kernels of ``_kernels.adjoint`` over the saved states (segments recomputed from
their checkpoints by the same forward kernel, so the states are bit for bit those of the
forward pass).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .. import _engine
from .._kernels import adjoint as _adj
from .._kernels import closed as _closed
from .._kernels.rhs import HOLD
from .losses import check_loss

BLOCK_STEPS = 16  # steps per block of gradient products (``_kernels.adjoint``)

# Up to this many multiply-adds per product (trials x N^2) a training pass runs BLAS on
# one thread. Measured with benchmarks/bench_train.py on the 2-core machine of
# benchmarks/README.md, ms per iteration, OpenBLAS on 1 and 2 threads, two runs each:
# N = 100, batch 32: 24.5, 23.6 against 59.3, 78.5; N = 256, batch 64: 222, 302 against
# 383, 336; N = 512, batch 64: 390, 448 against 422, 424 (a tie at 16.8 million);
# N = 1000, batch 64: 705, 673 against 514, 556. The products of one step are small and
# many; splitting each over two threads costs more than it gains, the more so when the
# other core is busy.
SINGLE_THREAD_MAX = 16_000_000
_controller = None


def _blas_threads(B, N):
    """A context in which BLAS runs on one thread for products of B x N x N up to
    SINGLE_THREAD_MAX multiply-adds, else as configured. Through threadpoolctl (it
    finds both OpenBLAS copies, numpy's and the scipy one Numba calls) when it is
    installed: it is not among the runtime dependencies, which are fixed, so without it
    BLAS keeps its own thread count (set OPENBLAS_NUM_THREADS=1 for the same effect)."""
    global _controller
    if B * N * N > SINGLE_THREAD_MAX:
        return contextlib.nullcontext()
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controller = False
        else:
            import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS, loaded first)
            _controller = ThreadpoolController()
    if _controller is False:
        return contextlib.nullcontext()
    return _controller.limit(limits=1, user_api="blas")


class _Sink:
    """The forward pass's sink: y_k = C h_{k+1} + c and sum h_{k+1}^2 for every step;
    every state (``every`` None) or the states at steps 0, every, 2 every, ..."""

    def __init__(self, B, T, M, C, c, every):
        self.C, self.c, self.every, self.T = C, c, every, T
        self.Y = np.empty((B, T, C.shape[0]))
        self.sq = np.zeros(T)
        if every is None:
            self.H = np.empty((B, T + 1, M))
        else:
            self.buf = np.empty((B, every + 1, M))
            self.n_ckpt = -(-T // every)
            self.ckpt = np.empty((B, self.n_ckpt, M))

    def view(self, s0, s1):
        if self.every is None:
            return self.H, 0
        return self.buf, s0

    def commit(self, s0, s1):
        arr, base = self.view(s0, s1)
        if self.every is not None:
            for s in range(s0, s1):
                if s % self.every == 0 and s // self.every < self.n_ckpt:
                    self.ckpt[:, s // self.every] = arr[:, s - base]
        first = max(s0, 1)  # save 0 is the initial state: no output
        if s1 > first:
            _adj.readout_rows(arr, first - base, s1 - base, self.C, self.c, self.Y,
                              first - 1, self.sq)


@dataclass
class Pass:
    """What one forward and backward pass returns. loss: the total (data loss + rate
    penalty); data_loss; y (B, T, n_out) the outputs; grads: dL/d(W, U, b, tau, h0, C, c)
    (W (N, N), or (nnz,) on a sparse W's stored entries; h0 (B, N) per trial; tau None
    unless asked for); norms (B, T + 1) ||dL/dh_k|| or None; report the forward run's
    ``_engine.Report`` (not ok: the state left the finite range; loss is NaN and there
    are no grads)."""

    loss: float
    data_loss: float
    y: np.ndarray
    grads: dict | None
    norms: np.ndarray | None
    report: object


def run(net, C, c, xs, H0, **kwargs):
    """Forward (and, with ``backward``, the exact adjoint) of ``net`` with readout (C, c)
    over inputs xs (Bx, T, n_in) (Bx = 1 or B) from H0 (B, N), keywords method, dt,
    loss_fn, targets, mask, keys=None, want_tau=False, rate_l2=0.0,
    checkpoint_every=None, norms=False, backward=True, feedback=None; BLAS on one thread
    for small products (``_blas_threads``).

    feedback=(n_fb, take): the last n_fb input channels carry the previous output
    y = C h + c, fed back where take (B, T) is False (``_kernels.closed``). The loop runs
    once to find the inputs the network receives; forward and adjoint then run on those,
    so the fed outputs are constants for the gradient.

    loss_fn(y, targets, mask) -> (loss, dL/dy). Arrays must be validated float64 by the
    caller; the method must be fixed-step (leaky or rk)."""
    with _blas_threads(*H0.shape):
        return _run(net, C, c, xs, H0, **kwargs)


def _closed_inputs(net, C, c, xs_grid, Z0, method, dt, keys, n_fb, take, out=None):
    """(Report, xs_grid with the fed-back outputs in its last n_fb channels); ``out``
    (B, T + 1, M), when given, receives Z0 and every state after it."""
    B, T1, n_in = xs_grid.shape
    xs_fed = xs_grid.copy()
    Z = Z0.copy()
    stepper = _engine.plan(method, net, Z, xs_fed, HOLD, dt=dt, steps=T1 - 1, keys=keys)
    kernel = _closed.leaky_closed if method.kind == "leaky" else _closed.rk_closed
    if out is None:
        out = np.empty((B, 1, Z.shape[1]))  # scratch: only the inputs are wanted
    else:
        out[:, 0] = Z0
    code, k, r, col = kernel(Z, out, T1 - 1, np.ascontiguousarray(C, dtype=np.float64),
                             np.ascontiguousarray(c, dtype=np.float64), n_in - n_fb,
                             np.ascontiguousarray(take, dtype=np.bool_), *stepper.args)
    report = _engine.Report(_engine.Status.OK) if code == 0 else stepper.report(code, k, r, col)
    return report, stepper.inp_k.xs


def _run(net, C, c, xs, H0, *, method, dt, loss_fn, targets, mask, keys=None,
         want_tau=False, rate_l2=0.0, checkpoint_every=None, norms=False, backward=True,
         feedback=None):
    B, N = H0.shape
    T = xs.shape[1]
    xs_grid = np.ascontiguousarray(np.concatenate([xs, xs[:, -1:]], axis=1), dtype=np.float64)
    Z = np.ascontiguousarray(_engine.stp_initial_state(net, H0, None, None), dtype=np.float64)
    if Z is H0:
        Z = Z.copy()
    M = Z.shape[1]
    keys = np.zeros(0, np.uint64) if keys is None else keys
    if feedback is not None and not feedback[1].all():
        report, xs_grid = _closed_inputs(net, C, c, xs_grid, Z, method, dt, keys, *feedback)
        if not report.ok:
            return Pass(np.nan, np.nan, np.full((B, T, C.shape[0]), np.nan), None, None,
                        report)
    stepper = _engine.plan(method, net, Z, xs_grid, HOLD, dt=dt, steps=T, save_every=1,
                           keys=keys)
    sink = _Sink(B, T, M, C, c, checkpoint_every)
    report, _ = _engine.run(stepper, Z, sink, chunk_steps=checkpoint_every)
    if not report.ok:
        return Pass(np.nan, np.nan, sink.Y, None, None, report)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported
        data_loss, ybar = loss_fn(sink.Y, targets, mask)
    ybar = check_loss(loss_fn, data_loss, ybar, sink.Y.shape)
    data_loss = float(data_loss)
    scale = B * T * N
    total = data_loss + (rate_l2 * float(np.sum(sink.sq)) / scale if rate_l2 else 0.0)
    if not backward:
        return Pass(total, data_loss, sink.Y, None, None, report)
    rho = 2.0 * rate_l2 / scale

    net_k, inp_k = stepper.net_k, stepper.inp_k  # the forward pass's packed tuples
    n_in = xs.shape[2]
    stages = 1 if method.kind == "leaky" else method.tableau.stages
    blk = _adj.make_blocks(BLOCK_STEPS, stages, B, N, n_in, C.shape[0])
    gW = np.zeros(net._W.data.shape if net.is_sparse else (N, N))
    g = _adj.Grads(gW, np.zeros((N, n_in)), np.zeros(N), np.zeros(N if want_tau else 0),
                   np.zeros_like(C))
    a = np.zeros((B, M))
    nrm = np.zeros((B, T + 1) if norms else (B, 0))
    tau = net.tau_array
    if method.kind == "leaky":
        decay, gain, _ = (np.ascontiguousarray(v) for v in method.coefficients(dt, tau))
        if want_tau:
            dd, dg, dn = method.coefficient_slopes(dt, tau)
            ddecay, dgain = np.ascontiguousarray(dd), np.ascontiguousarray(dg)
            dnoise = np.ascontiguousarray(dn * net.noise_array)
        else:
            ddecay = dgain = dnoise = np.zeros(0)

        def back(Hs, k0, n):
            _adj.leaky_adjoint(Hs, k0, n, a, net_k, inp_k, decay, gain, ddecay, dgain,
                               dnoise, keys, float(dt), method.exact_linear, ybar, C, rho,
                               blk, g, nrm)
    else:
        tab = method.tableau
        A, bw = (np.ascontiguousarray(v, dtype=np.float64) for v in (tab.A, tab.b))
        dnoise = np.ascontiguousarray(method.coefficient_slopes(dt, tau)[2]
                                      * net.noise_array)

        def back(Hs, k0, n):
            _adj.rk_adjoint(Hs, k0, n, a, net_k, inp_k, float(dt), A, bw, want_tau,
                            dnoise, keys, ybar, C, rho, blk, g, nrm)

    if checkpoint_every is None:
        back(sink.H, 0, T)
    else:
        k = checkpoint_every
        seg = np.empty((B, k + 1, M))
        for j in range(sink.n_ckpt - 1, -1, -1):
            k0 = j * k
            n = min(k, T - k0)
            Zc = np.ascontiguousarray(sink.ckpt[:, j])
            seg[:, 0] = Zc
            rep, _ = stepper.advance(Zc, seg, k0, n, k0)
            assert rep.ok  # the same steps as the forward pass, which finished
            back(seg, k0, n)
    grads = dict(W=g.W, U=g.U, b=g.b, tau=g.tau if want_tau else None,
                 h0=a[:, :N].copy(), C=g.C, c=ybar.sum(axis=(0, 1)))
    return Pass(total, data_loss, sink.Y, grads, nrm if norms else None, report)
