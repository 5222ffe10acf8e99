"""Dynamic mean-field theory of the random tanh network (Sompolinsky, Crisanti & Sommers
1988).

For tau dh/dt = -h + tanh(W h) with W_ij ~ N(0, g^2/N), N -> infinity, the input current
x = W h obeys tau dx/dt = -x + W tanh(x), and its autocorrelation
Delta(s) = <x_i(t) x_i(t + s)> (s in units of tau) satisfies

    Delta'' = Delta - g^2 C(Delta; Delta_0),
    C = E_z[(E_y tanh(sqrt(Delta_0 - |Delta|) y + sqrt(|Delta|) z))^2]   (sign of Delta)

with y, z standard normal: a particle in a potential. The chaotic solution starts at rest
at Delta_0 and creeps to 0, so energy conservation fixes the variance Delta_0:

    Delta_0^2 / 2 = g^2 (E[Phi^2] - E[Phi]^2),   Phi = log cosh(sqrt(Delta_0) z).

For g <= 1 the only solution is Delta = 0 (the quiet fixed point). Expectations are by
Gauss-Hermite quadrature, the root by Brent's method, Delta(s) by DOP853.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

_NQ = 80  # quadrature nodes per Gaussian expectation


def _gauss(n=_NQ):
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


def _logcosh(x):
    return np.logaddexp(x, -x) - np.log(2.0)


def current_variance(g):
    """Delta_0: the stationary variance of the input current x = W h (g > 1; 0 else).

    Parameters
    ----------
    g : float
        Gain of the random weights W_ij ~ N(0, g^2 / N).

    Returns
    -------
    float
        Delta_0 >= 0, in units of h^2 (dimensionless); 0.0 for g <= 1.

    Examples
    --------
    >>> import ctrnn
    >>> ctrnn.analysis.current_variance(0.8)
    0.0
    >>> round(ctrnn.analysis.current_variance(2.0), 3)
    1.925
    """
    g = float(g)
    if g <= 1.0:
        return 0.0
    z, w = _gauss()

    def energy(d0):
        phi = _logcosh(np.sqrt(d0) * z)
        return g**2 * (w @ phi**2 - (w @ phi) ** 2) - d0**2 / 2

    hi = 4.0 * g**2 + 10.0
    lo = 1e-8
    while energy(lo) <= 0:  # near g = 1 the root is tiny
        lo /= 10
        if lo < 1e-30:
            return 0.0
    from scipy.optimize import brentq  # lazily, as in fixedpoints

    return float(brentq(energy, lo, hi, xtol=1e-14, rtol=1e-13))


def _C(delta, d0):
    z, w = _gauss()
    a = abs(delta)
    inner = np.tanh(np.sqrt(max(d0 - a, 0.0)) * z[:, None] + np.sqrt(a) * z[None, :])
    e_y = w @ inner  # E_y for each z
    return np.sign(delta) * (w @ e_y**2)


def current_autocorrelation(g, lags):
    """Delta(s) = <x(t) x(t + s)> of the input current at lags s (units of tau).

    The separatrix solution is unstable to round-off, so it is integrated at tight
    tolerance and the tail, once Delta has decayed below 1e-4 Delta_0, is continued as the
    linearised decay.

    Parameters
    ----------
    g : float
        Gain of the random weights W_ij ~ N(0, g^2 / N).
    lags : array_like, shape (n_lags,)
        Non-negative, increasing lags, in units of tau.

    Returns
    -------
    xarray.DataArray, shape (n_lags,)
        ``Delta`` with dim ``lag`` (coordinate: the lags, in units of tau), in units of h^2
        (dimensionless); all zeros for g <= 1. attrs g and Delta_0.

    Raises
    ------
    ValueError
        If lags is not 1-d, or has negative or decreasing entries.

    Examples
    --------
    >>> import ctrnn
    >>> d = ctrnn.analysis.current_autocorrelation(2.0, [0.0, 1.0, 5.0])
    >>> [round(float(v), 3) for v in d / d[0]]
    [1.0, 0.968, 0.537]
    """
    lags = np.asarray(lags, dtype=np.float64)
    if lags.ndim != 1 or np.any(lags < 0) or np.any(np.diff(lags) < 0):
        raise ValueError("lags must be a 1-d, non-negative, increasing array")
    d0 = current_variance(g)
    out = np.zeros_like(lags)
    if d0 > 0 and lags.size:
        g2 = float(g) ** 2
        stop = lambda s, y: y[0] - 1e-4 * d0  # noqa: E731
        stop.terminal = True
        from scipy.integrate import solve_ivp  # lazily, as in fixedpoints

        sol = solve_ivp(lambda s, y: [y[1], y[0] - g2 * _C(y[0], d0)], (0, lags[-1] + 1e-12),
                        [d0, 0.0], method="DOP853", rtol=1e-11, atol=1e-13 * d0,
                        dense_output=True, events=stop)
        s_end = sol.t[-1]
        inside = lags <= s_end
        out[inside] = sol.sol(lags[inside])[0]
        if not inside.all():  # exponential tail with the slope at the stop
            y_end, dy_end = sol.y[0, -1], sol.y[1, -1]
            rate = -dy_end / y_end if y_end > 0 and dy_end < 0 else 1.0
            out[~inside] = y_end * np.exp(-rate * (lags[~inside] - s_end))
    return xr.DataArray(out, dims="lag", coords={"lag": lags}, name="Delta",
                        attrs={"long_name": "autocorrelation of the input current (DMFT)",
                               "g": float(g), "Delta_0": d0})
