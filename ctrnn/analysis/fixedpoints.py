"""Fixed points, slow points and their linearisation."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._seeding import generator
from .._validation import as_float_array, positive_int
from ..network import RateNetwork


def _parts(net, x):
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a RateNetwork; got {type(net).__name__}")
    if net.stp is not None:
        raise NotImplementedError("fixed points with STP are not implemented")
    W = net.W.toarray() if hasattr(net.W, "toarray") else np.asarray(net.W)
    c = np.asarray(net.b, dtype=np.float64).copy()
    if x is not None:
        c += net.U @ as_float_array("x", x, shape=(net.n_inputs,))
    return W, c


def jacobian(net, h, x=None):
    """The Jacobian of dh/dt at state h (constant input x): (-I + phi'(z) W) / tau.

    Parameters
    ----------
    net : RateNetwork
        Without STP.
    h : array_like, shape (n_neurons,)
    x : array_like, shape (n_inputs,), optional
        Constant input.

    Returns
    -------
    ndarray, shape (n_neurons, n_neurons)
        J_ij = d(dh_i/dt)/dh_j, float64, in 1/time (the unit of tau).

    Raises
    ------
    TypeError
        If net is not a RateNetwork, or h or x is not a real numeric array.
    NotImplementedError
        If the network has STP.
    ValueError
        If h or x has the wrong shape or holds NaN or inf.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> net = ctrnn.RateNetwork(np.array([[2.0]]), tau=0.5)
    >>> ctrnn.analysis.jacobian(net, [0.0]).tolist()      # (-1 + tanh'(0) 2) / 0.5
    [[2.0]]
    """
    W, c = _parts(net, x)
    h = as_float_array("h", h, shape=(net.n_neurons,))
    d = net.phi.derivative(W @ h + c)
    return (-np.eye(len(h)) + d[:, None] * W) / net.tau_array[:, None]


def fixed_points(net, *, x=None, n_starts=32, starts=None, seed=None, tol=1e-10,
                 max_iter=50, slow_tol=None, dedup_tol=1e-6):
    """Find fixed points h* = phi(W h* + U x + b) of a network at constant input x.

    Half the random starts are first relaxed along the flow (towards attractors), the
    other half are used as drawn (Newton also converges to saddles from them). Each start
    is refined by damped Newton iterations on F(h) = -h + phi(W h + U x + b);
    starts where Newton does not converge are handed to minimisation of the speed
    q(h) = |F(h)|^2 / 2 (L-BFGS, as for trained networks: Sussillo & Barak 2013), which
    also finds slow points (q small but not zero) when ``slow_tol`` is given.

    Parameters
    ----------
    net : RateNetwork
    x : array_like, shape (n_inputs,), optional
        Constant input.
    n_starts : int
        Random starts h ~ N(0, 1).
    starts : array_like, shape (K, n_neurons), optional
        More starts, e.g. states visited by a simulation (``ds.h.values[::100]``).
    tol : float
        Accept a point when |F(h)|_inf < tol.
    slow_tol : float, optional
        Also return points with q(h) < slow_tol (labelled ``kind`` = "slow").
    dedup_tol : float
        Points closer than this (max norm) are one.

    Returns
    -------
    xarray.Dataset
        Sizes fixed_point = number found, neuron = mode = n_neurons, with
        ``h`` (fixed_point, neuron) the points (dimensionless, like h), ``speed`` q
        (fixed_point,) (dimensionless, |F|^2 / 2), ``kind`` (fixed_point,)
        ("fixed"/"slow"), ``eigenvalue_real`` and ``eigenvalue_imag`` (fixed_point,
        mode): the Jacobian's eigenvalues in 1/time (the unit of tau), by decreasing real
        part, as two real variables so that the Dataset writes to NetCDF-3 and Zarr
        alike (``fp.eigenvalue_real + 1j * fp.eigenvalue_imag`` is the complex array),
        ``max_real_eigenvalue``
        (fixed_point,) in 1/time and ``stable`` (fixed_point,) (1 if all eigenvalues have
        negative real part, else 0); attrs n_starts, tol.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, n_starts is not an integer, x or starts is not a
        real numeric array, or seed is of an unsupported type.
    NotImplementedError
        If the network has STP.
    ValueError
        If n_starts < 1, or x or starts has the wrong shape or holds NaN or inf.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> xi = np.where(np.arange(50) % 2, 1.0, -1.0)
    >>> net = ctrnn.RateNetwork(2.0 * np.outer(xi, xi) / 50)    # one stored pattern
    >>> fp = ctrnn.analysis.fixed_points(net, seed=0)
    >>> fp.sizes["fixed_point"], sorted(fp.stable.values.tolist())
    (3, [0, 1, 1])
    """
    from scipy.optimize import minimize  # lazily: scipy.optimize costs 0.3 s at import

    W, c = _parts(net, x)
    N = net.n_neurons
    phi = net.phi
    rng = generator(seed)
    S = rng.standard_normal((positive_int("n_starts", n_starts), N))
    # half the random starts first relax along the flow (20 Euler steps of tau/2), which
    # carries them towards the attractors; the raw half lets Newton find saddles too
    for _ in range(20):
        S[::2] = 0.5 * S[::2] + 0.5 * phi(S[::2] @ W.T + c)
    S = [S]
    if starts is not None:
        S.append(as_float_array("starts", starts, ndim=2, shape=(None, N)))
    S = np.concatenate(S)

    def F(h):
        return -h + phi(W @ h + c)

    def q_and_grad(h):
        f = F(h)
        d = phi.derivative(W @ h + c)
        return 0.5 * f @ f, -f + W.T @ (d * f)

    found = []
    for h in S:
        h = h.copy()
        for _ in range(max_iter):
            f = F(h)
            if np.max(np.abs(f)) < tol:
                break
            J = -np.eye(N) + phi.derivative(W @ h + c)[:, None] * W
            try:
                step = np.linalg.solve(J, -f)
            except np.linalg.LinAlgError:
                break
            a, q0 = 1.0, f @ f
            while a > 1e-4 and (F(h + a * step) @ F(h + a * step)) >= q0:
                a /= 2
            h = h + a * step
        f = F(h)
        if not np.max(np.abs(f)) < tol:
            res = minimize(q_and_grad, h, jac=True, method="L-BFGS-B",
                           options=dict(maxiter=2000, gtol=1e-14, ftol=1e-300))
            h = res.x
            f = F(h)
        q = 0.5 * f @ f
        if np.max(np.abs(f)) < tol:
            found.append((h, q, "fixed"))
        elif slow_tol is not None and q < slow_tol:
            found.append((h, q, "slow"))
    unique = []
    for h, q, kind in found:
        if all(np.max(np.abs(h - u[0])) > dedup_tol for u in unique):
            unique.append((h, q, kind))
    H = np.array([u[0] for u in unique]).reshape(-1, N)
    ev = np.array([np.sort_complex(np.linalg.eigvals(jacobian(net, h, x)))[::-1] for h in H]
                  ).reshape(-1, N)
    order = np.argsort(H @ np.ones(N) if len(H) else [])
    H, ev = H[order], ev[order]
    maxre = ev.real.max(axis=1) if len(H) else np.zeros(0)
    return xr.Dataset(
        {"h": (("fixed_point", "neuron"), H),
         "speed": ("fixed_point", np.array([unique[i][1] for i in order])),
         "kind": ("fixed_point", np.array([unique[i][2] for i in order], dtype=object)),
         "eigenvalue_real": (("fixed_point", "mode"), ev.real,
                             {"long_name": "real part of the Jacobian's eigenvalues",
                              "units": "1/(time unit of tau)"}),
         "eigenvalue_imag": (("fixed_point", "mode"), ev.imag,
                             {"long_name": "imaginary part of the Jacobian's eigenvalues",
                              "units": "1/(time unit of tau)"}),
         "max_real_eigenvalue": ("fixed_point", maxre),
         "stable": ("fixed_point", (maxre < 0).astype(int))},
        coords={"fixed_point": np.arange(len(H)), "neuron": np.arange(N),
                "mode": np.arange(N)},
        attrs={"n_starts": int(len(S)), "tol": tol})
