"""The curvature of a task's loss around trained parameters: the Gauss-Newton matrix
G = J^T H_y J (J = dy/dtheta, the outputs' Jacobian over every sample of the task; H_y
the loss's Hessian in the outputs), which equals the Fisher information of the model's
likelihood (Gaussian for the squared error, softmax for cross-entropy) scaled to the
mean loss, and equals the loss's Hessian wherever the model fits the data exactly
(Martens 2020, "New insights and perspectives on the natural gradient method", JMLR 21).

Two ways to get it, both from the trainer's exact gradients:

- ``"exact"``: the rows of H_y^(1/2) J one by one, each an exact backward pass with a
  unit cotangent on one output sample (cost: one forward and backward pass of one trial
  per weighted sample; memory: samples x parameters); G, its eigenvectors and its
  diagonal follow to round-off;
- ``"lanczos"``: the leading eigenpairs only, by Lanczos iteration (``scipy.sparse.linalg
  .eigsh``) on products G v = J^T H_y (J v), with J^T u exact (a backward pass) and J v by
  a central difference of the forward pass (relative error ~1e-8 in float64, ~1e-3 for
  a float32 LSTM): for networks whose Jacobian does not fit in memory.

The quadratic model of the forgetting of task A is then dL_A ~ g_A . d + 1/2 d^T G_A d
= g_A . d + 1/2 sum_k lambda_k (v_k . d)^2, d the change of the parameters
(``ctrnn.train.interference``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import nonnegative_int
from . import losses

__all__ = ["gauss_newton"]

CURVATURE = ("exact", "lanczos")
LANCZOS_DEFAULT = 20  # eigenpairs found by Lanczos unless told
# the central difference's step, relative to max(1, rms(theta)) / |v|: about the cube
# root of the precision's epsilon, which balances truncation and round-off
FD_STEP = {np.dtype(np.float64): 1e-5, np.dtype(np.float32): 5e-3}


class Layout:
    """Flat vectors <-> dicts of parameter arrays (theta), in a fixed order."""

    def __init__(self, theta):
        self.names = tuple(theta)
        self.shapes = tuple(np.shape(theta[k]) for k in self.names)
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.size = int(self.offsets[-1])

    def flat(self, d):
        return np.concatenate([np.ravel(np.asarray(d[k], dtype=np.float64))
                               for k in self.names]) if self.names else np.zeros(0)

    def unflat(self, v):
        return {k: np.array(v[self.offsets[i]:self.offsets[i + 1]]).reshape(s)
                for i, (k, s) in enumerate(zip(self.names, self.shapes))}

    def labels(self):
        """(name, flat index within that array) of every entry."""
        names = np.repeat(np.array(self.names, dtype=object), np.diff(self.offsets))
        entry = np.concatenate([np.arange(n) for n in np.diff(self.offsets)]) \
            if self.names else np.zeros(0, int)
        return names.astype(str), entry

    def same(self, other):
        return self.names == other.names and self.shapes == other.shapes


@dataclass
class Curvature:
    """Eigenvalues (k,), descending, and eigenvectors (P, k) of the Gauss-Newton matrix;
    its diagonal (P,) (exact only, else None); the layout of theta."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    diagonal: np.ndarray | None
    layout: Layout
    method: str


def _roots(loss_fn, y, tg, mask):
    """For each (trial, time) with weight, vectors s (n_out,) with sum s s^T the Hessian
    of the mean loss in y there: yields (b, t, S (n_out, k))."""
    if loss_fn is losses.mse:
        w = float(np.sum(mask))
        for b, t in zip(*np.nonzero(np.any(mask > 0, axis=2))):
            m = mask[b, t]
            o = np.nonzero(m > 0)[0]
            S = np.zeros((y.shape[2], o.size))
            S[o, np.arange(o.size)] = np.sqrt(2.0 * m[o] / w)
            yield b, t, S
    elif loss_fn is losses.cross_entropy:
        m2 = mask[..., 0]
        w = float(np.sum(m2))
        p = _softmax(y)
        ts = tg.sum(axis=2)  # 1 for probabilities; the Hessian scales with it
        for b, t in zip(*np.nonzero(m2 > 0)):
            q = p[b, t]
            # diag(q) - q q^T = (I - q 1^T) diag(q) (I - 1 q^T)
            S = (np.eye(q.size) - np.outer(q, np.ones(q.size))) * np.sqrt(q)[None, :]
            yield b, t, S * np.sqrt(m2[b, t] * ts[b, t] / w)
    else:
        _unsupported()


def _softmax(y):
    p = np.exp(y - y.max(axis=2, keepdims=True))
    return p / p.sum(axis=2, keepdims=True)


def _unsupported():
    raise ValueError("the Gauss-Newton matrix needs the loss's curvature in the outputs, "
                     "which ctrnn writes out for loss='mse' and 'cross_entropy': give one of "
                     "them")


def jacobian_rows(learner, theta, idx, keys, progress=None):
    """H_y^(1/2) J (rows, P) over the trials idx, exactly: one backward pass per row
    (A^T A = G, the Gauss-Newton matrix of the mean loss over those trials)."""
    layout = Layout(theta)
    y = learner.outputs(theta, idx, keys)
    roots = list(_roots(learner.loss_fn, y, learner.tg[idx], learner.mask[idx]))
    n = sum(S.shape[1] for *_, S in roots)
    A = np.empty((n, layout.size))
    T, M = y.shape[1:]
    r = 0
    for b, t, S in roots:
        one = idx[b:b + 1]
        for j in range(S.shape[1]):
            ybar = np.zeros((1, T, M))
            ybar[0, t] = S[:, j]
            A[r] = layout.flat(learner.vjp(theta, one, ybar, keys))
            r += 1
        if progress is not None:
            progress(r, n)
    return A


def _hessian_apply(loss_fn, y, tg, mask):
    """u -> H_y u over (trials, time, output) for the mean loss."""
    if loss_fn is losses.mse:
        w = float(np.sum(mask))
        return lambda u: (2.0 / w) * mask * u
    if loss_fn is losses.cross_entropy:
        w = float(np.sum(mask[..., 0]))
        m2 = mask[..., :1] * tg.sum(axis=2, keepdims=True)
        p = _softmax(y)
        return lambda u: (m2 / w) * (p * u - p * np.sum(p * u, axis=2, keepdims=True))
    _unsupported()


def _gauss_newton(learner, theta, keys, *, idx=None, n_eigen=None, method="exact"):
    """The Gauss-Newton matrix of a learner's mean loss at ``theta`` over the trials
    ``idx`` (default all), noise ``keys`` fixed: a ``Curvature`` with the n_eigen leading
    eigenpairs (default all for "exact", LANCZOS_DEFAULT for "lanczos"; 0: the diagonal
    only)."""
    if method not in CURVATURE:
        raise ValueError(f"curvature={method!r}: give 'exact' (the Jacobian row by row) or "
                         "'lanczos' (leading eigenpairs, matrix-free)")
    if n_eigen is not None:
        n_eigen = nonnegative_int("n_eigen", n_eigen)
    idx = np.arange(learner.xs.shape[0]) if idx is None else np.asarray(idx)
    layout = Layout(theta)
    P = layout.size
    if method == "exact":
        A = jacobian_rows(learner, theta, idx, keys)
        if n_eigen == 0:  # the diagonal only
            return Curvature(np.zeros(0), np.zeros((P, 0)), np.sum(A * A, axis=0), layout,
                             method)
        _, s, Vt = np.linalg.svd(A, full_matrices=False)
        lam, V = s ** 2, Vt.T
        k = lam.size if n_eigen is None else min(int(n_eigen), lam.size)
        return Curvature(lam[:k], np.ascontiguousarray(V[:, :k]), np.sum(A * A, axis=0),
                         layout, method)
    from scipy.sparse.linalg import LinearOperator, eigsh

    k = min(LANCZOS_DEFAULT, P - 1) if n_eigen is None else n_eigen
    if not 1 <= k < P:
        raise ValueError(f"n_eigen={n_eigen}: Lanczos finds between 1 and {P - 1} "
                         f"leading eigenpairs of the {P} x {P} matrix: give fewer, or "
                         "curvature='exact' for all")
    th = layout.flat(theta)
    scale = max(1.0, float(np.sqrt(np.mean(th * th)))) if P else 1.0
    dtype = np.dtype(getattr(learner.net, "dtype", np.float64))
    y0 = learner.outputs(theta, idx, keys)
    hess = _hessian_apply(learner.loss_fn, y0, learner.tg[idx], learner.mask[idx])

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).ravel()
        nv = float(np.linalg.norm(v))
        if nv == 0.0:
            return np.zeros(P)
        e = FD_STEP[dtype] * scale / nv
        yp = learner.outputs(layout.unflat(th + e * v), idx, keys)
        ym = learner.outputs(layout.unflat(th - e * v), idx, keys)
        u = hess((yp - ym) / (2.0 * e))
        return layout.flat(learner.vjp(theta, idx, u, keys))

    lam, V = eigsh(LinearOperator((P, P), matvec=matvec, dtype=np.float64), k=k,
                   which="LA", tol=1e-10)
    order = np.argsort(lam)[::-1]
    return Curvature(np.maximum(lam[order], 0.0), np.ascontiguousarray(V[:, order]), None,
                     layout, method)


def gauss_newton(model, task, *, n_eigen=None, method="exact", trials=None, loss=None,
                 seed=0):
    """The Gauss-Newton (Fisher) matrix G = J^T H_y J of a trained model's mean loss on
    ``task``, in the parameters its training updated (``model.theta``): its leading
    eigenpairs and its diagonal.

    G is the curvature of the loss where the model fits (for the squared error and
    cross-entropy, the Fisher information of the model's likelihood scaled to the mean
    loss; Martens 2020). A parameter change d raises the loss by about
    g . d + 1/2 d^T G d = g . d + 1/2 sum_k lambda_k (v_k . d)^2.

    Parameters
    ----------
    model : Model
        What ``fit`` returns (a rate network or an LSTM).
    task : xarray.Dataset
    n_eigen : int, optional
        Leading eigenpairs to return: default all ("exact") or 20 ("lanczos").
    method : {"exact", "lanczos"}
        "exact": from one backward pass per weighted output sample (memory: samples x
        parameters); "lanczos": the leading eigenpairs matrix-free (module docstring).
    trials : int, optional
        Use this many of the task's trials, drawn with ``seed`` (default all).
    loss : str, optional
        Default the task's ``loss`` attribute, else "mse".
    seed : int
        Draws the trials and fixes the network's noise.

    Returns
    -------
    xarray.Dataset
        eigenvalue (eigen), descending; eigenvector (parameter, eigen), orthonormal
        columns; diagonal (parameter) (NaN for "lanczos"); coordinates ``name``
        (parameter), the array each entry belongs to, and ``entry`` (parameter), its
        flat index there; attrs method, loss, n_trials.

    Raises
    ------
    TypeError
        If model is not a Model.
    ValueError
        If the task does not fit the model, the loss is not "mse" or "cross_entropy",
        method is unknown, n_eigen is negative or (for "lanczos") not below the number
        of parameters, or trials exceeds the task's trials.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> task = ctrnn.tasks.flipflop(4, n_bits=1, duration=0.2, seed=0)
    >>> net = ctrnn.RateNetwork(np.zeros((3, 3)), U=np.ones((3, 1)), tau=0.1)
    >>> model = ctrnn.train.fit(net, task, n_outputs=1, iterations=1, batch_size=4,
    ...                         seed=0, progress=False)
    >>> G = ctrnn.train.curvature.gauss_newton(model, task)
    >>> G.sizes["parameter"]  # W 9, U 3, b 3, C 3, c 1
    19
    >>> bool(np.isclose(G.eigenvalue.sum(), G.diagonal.sum()))  # the trace, twice
    True
    """
    import xarray as xr

    from .continual import _curvature, _evaluator

    learner, theta = _evaluator(model, task, loss, "gauss_newton")
    curv = _curvature(learner, theta, trials, seed, n_eigen=n_eigen, method=method)
    name, entry = curv.layout.labels()
    diag = curv.diagonal if curv.diagonal is not None else np.full(curv.layout.size, np.nan)
    one = {"units": "1"}
    return xr.Dataset(
        {"eigenvalue": ("eigen", curv.eigenvalues,
                        {**one, "long_name": "eigenvalues of the Gauss-Newton matrix"}),
         "eigenvector": (("parameter", "eigen"), curv.eigenvectors,
                         {**one, "long_name": "its eigenvectors (columns)"}),
         "diagonal": ("parameter", diag, {**one, "long_name": "its diagonal"})},
        coords={"eigen": np.arange(curv.eigenvalues.size),
                "parameter": np.arange(curv.layout.size), "name": ("parameter", name),
                "entry": ("parameter", entry)},
        attrs={"method": method, "loss": getattr(learner.loss_fn, "__name__", "loss"),
               "n_trials": int(learner.xs.shape[0] if trials is None else trials)})
