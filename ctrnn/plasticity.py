"""Short-term synaptic plasticity (Tsodyks-Markram): facilitation u, depression x.

Rate form, per presynaptic neuron j with rate r_j (Tsodyks, Pawelzik & Markram 1998):

    du_j/dt = (U_j - u_j) / tau_f_j + U_j (1 - u_j) r_j
    dx_j/dt = (1 - x_j) / tau_d_j - u_j x_j r_j

How the network uses it (a choice, stated here and in the README):

- the rate is r_j = rate_scale * max(h_j, 0), in 1/time (the unit of tau). h is the
  network's dimensionless activation; with a non-negative phi (relu, sigmoid, softplus)
  h >= 0 and the rectification does nothing, with tanh negative h transmit nothing.
- the recurrent drive of neuron i becomes sum_j W_ij e_j max(h_j, 0) with efficacy
  e_j = u_j x_j (``efficacy="absolute"``: W is the weight at full release u x = 1) or
  e_j = u_j x_j / U_j (``efficacy="relative"``: W is the weight at rest, u = U, x = 1).
  With U = 1 and tau_d -> 0 (u = x = 1) both reduce to the plain network's W h for h >= 0.
- u and x are integrated in the same loop as h by every method, RK stages included.
  The discrete RNN (``method="discrete"``) updates in this order: from (h, u, x)[t],
  h[t+1] = phi(W (e h^+)[t] + U x_in[t] + b), and u, x by one forward-Euler step of length 1
  (time counted in steps: tau_f, tau_d in steps, rate_scale per step).

>>> import ctrnn
>>> stp = ctrnn.STP(U=0.2, tau_f=1.5, tau_d=0.2)
>>> u, x, eff = ctrnn.plasticity.steady_state(stp, rate=10.0)
>>> round(float(u), 4), round(float(x), 4)
(0.8, 0.3846)
"""
from __future__ import annotations

import numpy as np

from ._validation import Immutable, as_float_array, per_neuron, readonly

EFFICACY = ("absolute", "relative")


class STP(Immutable):
    """Tsodyks-Markram short-term plasticity parameters of the presynaptic neurons.

    Parameters
    ----------
    U : float or array_like, shape (n_neurons,)
        Baseline utilisation (release probability at rest), 0 < U <= 1. (Not the input
        weights ``RateNetwork.U``.)
    tau_f : float or array_like, shape (n_neurons,)
        Facilitation time constant (> 0), in the time unit of the run.
    tau_d : float or array_like, shape (n_neurons,)
        Depression (recovery) time constant (> 0), same unit.
    rate_scale : float
        r = rate_scale * max(h, 0) is the presynaptic rate in 1/time (default 1: h is the
        rate).
    efficacy : {"absolute", "relative"}
        Whether W is the weight at full release (drive W u x h+) or at rest
        (drive W (u x / U) h+).

    Parameters may differ per presynaptic neuron (facilitating excitatory and depressing
    inhibitory synapses in one network); scalars apply to all.

    Raises
    ------
    TypeError
        If U, tau_f, tau_d or rate_scale is not numeric.
    ValueError
        If U, tau_f or tau_d is not a scalar or 1-d or holds NaN or inf, U is not in
        (0, 1], tau_f or tau_d is not > 0, rate_scale is not a scalar > 0, or efficacy is
        not "absolute" or "relative".

    Examples
    --------
    >>> import ctrnn
    >>> ctrnn.STP(U=[0.2, 0.5], tau_f=[1.5, 0.02], tau_d=[0.2, 0.5])
    STP(U=array(2), tau_f=array(2), tau_d=array(2), rate_scale=1.0, efficacy='absolute')
    """

    __slots__ = ("_U", "_tau_f", "_tau_d", "_rate_scale", "_efficacy")

    def __init__(self, U=0.2, tau_f=1.5, tau_d=0.2, *, rate_scale=1.0, efficacy="absolute"):
        vals = {}
        for name, v in (("U", U), ("tau_f", tau_f), ("tau_d", tau_d)):
            a = as_float_array(f"STP {name}", v, ndim=(0, 1))
            vals[name] = float(a) if a.ndim == 0 else readonly(a)
        U_ = np.asarray(vals["U"])
        if np.any(U_ <= 0) or np.any(U_ > 1):
            raise ValueError(f"STP U (baseline utilisation) must be in (0, 1]; got {U}")
        for name in ("tau_f", "tau_d"):
            if np.any(np.asarray(vals[name]) <= 0):
                raise ValueError(f"STP {name} must be > 0; got {vals[name]} (for no "
                                 "facilitation use a tau_f much shorter than dt with "
                                 "method='exponential_euler')")
        rs = as_float_array("STP rate_scale", rate_scale, ndim=0)
        if rs <= 0:
            raise ValueError(f"STP rate_scale must be > 0; got {float(rs)}")
        if efficacy not in EFFICACY:
            raise ValueError(f"STP efficacy must be 'absolute' or 'relative'; got {efficacy!r}")
        object.__setattr__(self, "_U", vals["U"])
        object.__setattr__(self, "_tau_f", vals["tau_f"])
        object.__setattr__(self, "_tau_d", vals["tau_d"])
        object.__setattr__(self, "_rate_scale", float(rs))
        object.__setattr__(self, "_efficacy", efficacy)


    U = property(lambda self: self._U, doc="Baseline utilisation: float or (n,).")
    tau_f = property(lambda self: self._tau_f, doc="Facilitation time constant.")
    tau_d = property(lambda self: self._tau_d, doc="Depression time constant.")
    rate_scale = property(lambda self: self._rate_scale, doc="r = rate_scale * max(h, 0).")
    efficacy = property(lambda self: self._efficacy, doc='"absolute" or "relative".')

    def arrays(self, n):
        """(U, tau_f, tau_d) as (n,) arrays, checked against the network size n.

        Returns
        -------
        U, tau_f, tau_d : ndarray, shape (n,)
            float64; U dimensionless, tau_f and tau_d in the time unit of the run.

        Raises
        ------
        ValueError
            If a per-neuron parameter does not have length n.
        """
        return tuple(per_neuron(f"STP {name}", getattr(self, name), n)
                     for name in ("U", "tau_f", "tau_d"))

    def scalar_attrs(self):
        """The scalar parameters, for a Dataset's attrs.

        Returns
        -------
        dict
            ``stp_U``, ``stp_tau_f``, ``stp_tau_d`` (those that are scalars),
            ``stp_rate_scale`` and ``stp_efficacy``.
        """
        out = {f"stp_{k}": getattr(self, k) for k in ("U", "tau_f", "tau_d")
               if np.ndim(getattr(self, k)) == 0}
        out.update(stp_rate_scale=self._rate_scale, stp_efficacy=self._efficacy)
        return out

    def __repr__(self):
        def f(v):
            return v if np.ndim(v) == 0 else f"array({np.size(v)})"
        return (f"STP(U={f(self._U)}, tau_f={f(self._tau_f)}, tau_d={f(self._tau_d)}, "
                f"rate_scale={self._rate_scale}, efficacy={self._efficacy!r})")


def steady_state(stp, rate):
    """Steady state of u and x at a constant presynaptic rate.

    u_inf = U (1 + tau_f r) / (1 + U tau_f r),  x_inf = 1 / (1 + u_inf tau_d r),
    and the transmitted rate u_inf x_inf r, which saturates at 1 / tau_d as r grows.

    Parameters
    ----------
    stp : STP
    rate : float or array_like
        Presynaptic rate r in 1/time (broadcast against per-neuron parameters).

    Returns
    -------
    u_inf, x_inf, efficacy_rate : ndarray
        Shape: rate broadcast against the per-neuron parameters (0-d for scalars).
        u_inf and x_inf are dimensionless, in (0, 1]; efficacy_rate = u_inf x_inf r is
        in 1/time (the unit of tau_d).

    Raises
    ------
    ValueError
        If rate is negative or not finite.

    Examples
    --------
    >>> import ctrnn
    >>> _, _, e = ctrnn.plasticity.steady_state(ctrnn.STP(U=0.5, tau_f=0.1, tau_d=0.5), 1e6)
    >>> round(float(e), 3)   # saturates at 1 / tau_d
    2.0
    """
    r = np.asarray(rate, dtype=np.float64)
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("rate must be finite and >= 0")
    U, tf, td = (np.asarray(getattr(stp, k), dtype=np.float64) for k in ("U", "tau_f", "tau_d"))
    u = U * (1 + tf * r) / (1 + U * tf * r)
    x = 1 / (1 + u * td * r)
    return u, x, u * x * r
