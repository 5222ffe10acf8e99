"""FORCE learning (Sussillo & Abbott 2009, Neuron 63, 544) and data-constrained networks
fitted to recorded activity (Rajan, Harvey & Tank 2016, Neuron 90, 128; Perich et al.
2021, "Inferring brain-wide interactions using data-constrained recurrent neural network
models", bioRxiv 2020.12.18.423348): weights learned online by recursive least squares
while the network runs, inside the engine's loop (``ctrnn._kernels.force``; no Python per
step).

The network is ctrnn's rate network tau dh/dt = -h + phi(W h + U x + b) (ReservoirPy's
leaky reservoir is its Euler step). ``force`` trains a readout z = w h whose output is fed
back through weights u_f, so the closed loop is the rate network with
W_eff = W + u_f w^T: a rank-one (rank n_outputs) change whose outlier eigenvalues leave the
chaotic bulk. ``fit_activity`` trains recurrent weights so that each unit's state follows
its recorded rate, and decomposes each unit's input by source region (CURBD).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .. import _engine, _seeding
from .._kernels import force as _kf
from .._kernels.rhs import HOLD
from .._progress import Progress
from .._validation import (as_float_array, check_bytes, nonnegative_scalar, positive_int,
                           positive_scalar)
from ..network import RateNetwork
from .fit import _method
from .params import Readout

__all__ = ["force", "fit_activity", "Force", "FittedActivity"]

RULES = {"rls": _kf.RLS, "lms": _kf.LMS}


@dataclass
class Force:
    """What ``force`` returns: ``network`` (the trained closed loop, a RateNetwork with
    W = W + u_f w^T), ``readout`` (z = w h), ``h`` (the state at the end of training, to
    continue from) and ``record`` (a Dataset over training time)."""

    network: RateNetwork
    readout: Readout
    h: np.ndarray
    record: xr.Dataset

    def __repr__(self):
        rec = self.record
        return (f"Force(network: {self.network.n_neurons} neurons (W + u_f w^T), readout: "
                f"{self.readout.C.shape[0]} output(s), |w| = {float(rec.w_norm[-1]):.3g}, "
                f"record: {rec.sizes['time']} steps, rule={rec.attrs['rule']!r}; final "
                f"training error {float(np.abs(rec.error[-1]).mean()):.3g})")


@dataclass
class FittedActivity:
    """What ``fit_activity`` returns: ``network`` (a RateNetwork with the learned W),
    ``h0`` (the initial state), ``rates`` (its activity on the data's time grid), ``pvar``
    (fraction of variance explained, per unit and overall) and ``currents`` (the CURBD
    decomposition, when by_region is given)."""

    network: RateNetwork
    h0: np.ndarray
    rates: xr.DataArray
    pvar: xr.Dataset
    currents: xr.DataArray | None

    def __repr__(self):
        cur = "none" if self.currents is None else \
            f"{self.currents.sizes['source']} source region(s)"
        return (f"FittedActivity(network: {self.network.n_neurons} neurons, pVar total "
                f"{float(self.pvar.total):.3f}, rates {dict(self.rates.sizes)}, currents: "
                f"{cur})")


# --- shared: the loop ---------------------------------------------------------------
def _loop(net, m, dt, h0, xs_ext, n_fb, mode, rule, every, S, R, targets, P, lam, lr,
          w, seed, chunk, on_chunk, progress, label, scale=None, fix=""):
    """Run ``net`` with n_fb fed input columns after its own for len(targets) steps,
    learning (P, w updated in place); returns (final state, packed UT, w, Z, E, WN)."""
    N = net.n_neurons
    T = targets.shape[0]
    n_ext = xs_ext.shape[1]
    check_bytes(8 * (T + 1) * (n_ext + n_fb) + 8 * S.size ** 2 + 24 * T * targets.shape[1],
                "the training run", "train on a shorter target, or fewer units")
    xs = np.zeros((1, T + 1, n_ext + n_fb))
    xs[0, :T, :n_ext] = xs_ext
    xs[0, T, :n_ext] = xs_ext[-1] if T else 0.0
    H = np.ascontiguousarray(np.asarray(h0, dtype=np.float64).reshape(1, N))
    Z0 = np.ascontiguousarray(_engine.stp_initial_state(net, H, None, None), dtype=np.float64)
    if Z0 is H:
        Z0 = H.copy()
    keys = None
    if net.has_noise:
        ss, _ = _seeding.seed_sequence(seed)
        keys = _seeding.trial_keys(ss, 1)
    stepper = _engine.plan(m, net, Z0, xs, HOLD, dt=dt, steps=T, keys=keys)
    args = list(stepper.args)
    args[1] = args[1]._replace(UT=np.array(args[1].UT))  # ours to write (RECURRENT)
    rs = _kf.rls_state(P)
    n_out = targets.shape[1]
    z = np.zeros(n_out) if mode == _kf.READOUT else Z0[0, R].copy()
    if mode == _kf.READOUT:
        z[:] = w @ Z0[0, S]
    Z = np.empty((T, n_out))
    E = np.empty((T, n_out))
    WN = np.empty(T)
    out = np.empty((1, 1, Z0.shape[1]))
    with Progress(T, enabled=progress, label=label, unit="step") as bar:
        for k0 in range(0, T, chunk):
            n = min(chunk, T - k0)
            code, k, r, col = _kf.leaky_force(
                Z0, out, k0, n, mode, rule, every, n_ext, w, S, R, rs, lam, lr,
                np.ones(0) if scale is None else scale, targets[k0:k0 + n], z,
                Z[k0:k0 + n], E[k0:k0 + n], WN[k0:k0 + n], *args)
            if code != 0:
                rep = stepper.report(code, k, r, col)
                raise FloatingPointError(f"the network's state left the finite range "
                                         f"{rep.where} (neuron {col % N}): raise alpha= "
                                         f"(P(0) = I / alpha: a smaller first RLS step)"
                                         f"{fix}")
            if on_chunk is not None:
                on_chunk(k0 + n, args[1].UT, w)
            bar.update(k0 + n)
    return Z0[0], args[1].UT, w, Z, E, WN


def _target_array(name, target, dt):
    """(T, n) targets from an array (T,) / (T, n) or a DataArray with a time coordinate
    spaced by dt; the output names; and the DataArray's time coordinate (or None)."""
    names = times = None
    if isinstance(target, xr.DataArray):
        if "time" not in target.dims:
            raise ValueError(f"{name} as a DataArray needs a 'time' dimension; got "
                             f"{target.dims}")
        other = [d for d in target.dims if d != "time"]
        if len(other) > 1:
            raise ValueError(f"{name} must be (time,) or (time, output); got {target.dims}")
        if "time" in target.coords and target.sizes["time"] > 1:
            times = np.asarray(target["time"].values, dtype=np.float64)
            step = np.diff(times)
            bad = ~np.isclose(step, dt, rtol=1e-6, atol=0)
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"{name}'s time coordinate must step by dt={dt:g}; it "
                                 f"steps by {step[i]:g} from t={times[i]:g} to "
                                 f"{times[i + 1]:g} ({int(bad.sum())} such step(s)): give "
                                 f"one sample per step (interpolate it, e.g. "
                                 f"{name}.interp(time=...))")
        if other:
            names = [str(v) for v in target[other[0]].values] \
                if other[0] in target.coords else None
            target = target.transpose("time", other[0]).values
        else:
            target = target.values
    if np.ndim(target) > 2:
        raise ValueError(f"{name} must be (T,) or (T, n_outputs), one row per step; got "
                         f"shape {np.shape(target)}")
    arr = as_float_array(name, target, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has no samples")
    if arr.shape[0] < arr.shape[1]:
        warnings.warn(f"{name} has {arr.shape[0]} step(s) and {arr.shape[1]} outputs: rows "
                      f"are steps, so it may be transposed; give (T, n_outputs)",
                      UserWarning, stacklevel=3)
    return np.ascontiguousarray(arr), names, times


def _check_net(net):
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a ctrnn.RateNetwork; got {type(net).__name__}")
    if net.stp is not None:
        raise ValueError("the network has short-term plasticity (net.stp): the learned "
                         "weights act through inputs that STP does not modulate, so the "
                         "trained W would not be the trained system; use "
                         "net.replace(stp=None)")
    return net


def _leaky(method, held="the fed-back output"):
    """A one-evaluation method: what the learned weights read (``held``) is held over the
    step, as the learned weights inside W act in the returned network."""
    m = _method(method)
    if m.kind != "leaky":
        raise ValueError(f"method={method!r} evaluates the network several times a step, "
                         f"where {held} is held: the returned network would not be the "
                         "trained one. Use euler, exponential_euler or discrete")
    return m


def _rule(rule, lr, forgetting):
    key = rule.lower() if isinstance(rule, str) else rule
    if key not in RULES:
        raise ValueError(f"rule={rule!r}: give 'rls' (recursive least squares, the FORCE "
                         "rule) or 'lms' (least mean squares, with lr=)")
    if key == "lms":
        if lr is None:
            raise TypeError("rule='lms' needs a learning rate lr= (e.g. 1e-3)")
        if forgetting != 1.0:
            raise ValueError(f"forgetting={forgetting} is RLS's; rule='lms' has none (drop "
                             "it, or use rule='rls')")
        lr = positive_scalar("lr", lr)
    elif lr is not None:
        raise ValueError(f"lr={lr} is LMS's learning rate; RLS sets its own (its first "
                         "step is alpha=): drop lr, or use rule='lms'")
    return RULES[key], (0.0 if lr is None else float(lr))


def _inputs(net, inputs, T):
    if inputs is not None and not net.n_inputs:
        raise ValueError("inputs= given, but the network has no input weights (U has 0 "
                         "columns): build it with RateNetwork(W, U=...) to feed inputs")
    if inputs is None:
        if net.n_inputs:
            raise ValueError(f"the network has {net.n_inputs} inputs (U {net.U.shape}): give "
                             "inputs= (time, input) or a network without U")
        return np.zeros((T, 0))
    x = as_float_array("inputs", inputs.transpose("time", ...).values
                       if isinstance(inputs, xr.DataArray) else inputs, ndim=(1, 2))
    if x.ndim == 1:
        x = x[:, None]
    if x.shape != (T, net.n_inputs):
        raise ValueError(f"inputs must have shape ({T}, {net.n_inputs}) (time, input), one "
                         f"sample per step of the target; got {x.shape}")
    return x


def _h0(h0, N, seed):
    if h0 is None:
        ss, _ = _seeding.seed_sequence(seed)
        return 0.5 * _seeding.generator(_seeding.child(ss, _seeding.H0, 0)).normal(size=N)
    return as_float_array("h0", h0, shape=(N,))


# --- FORCE ----------------------------------------------------------------------------
def force(net, target, *, dt, feedback=None, inputs=None, rule="rls", alpha=1.0,
          forgetting=1.0, lr=None, every=2, plastic=None, readout_units=None, h0=None,
          method="euler", eig_every=None, n_eig=6, seed=0, progress=None):
    """FORCE learning (Sussillo & Abbott 2009): train a linear readout z = w h of a
    (chaotic) rate network to follow ``target`` while z is fed back into the network,
    updating w by recursive least squares every ``every`` steps inside the simulation.

    Each step: the network takes one step driven by the fed-back output z (the one
    computed after the previous step, before its update, as in the original), then
    z = w h and the error e = z - f(t) are computed, and every ``every`` steps
    k = P h, c = 1 / (lambda + h.k), P <- (P - c k k^T) / lambda, w <- w - c e k^T,
    with P(0) = I / alpha. The closed loop is the rate network with W + u_f w^T.

    Parameters
    ----------
    net : RateNetwork
        The network (for the classic set-up: N = 1000, sparse W with g = 1.5, tanh).
    target : array_like, shape (T,) or (T, n_outputs), or xarray.DataArray
        The target after each of the T steps (a DataArray with a ``time`` coordinate
        spaced by dt, which the record then keeps, and optionally an output dimension).
    dt : float
        Step size, in the time unit of tau.
    feedback : array_like, shape (n_neurons, n_outputs), optional
        u_f, the feedback weights; default uniform on (-1, 1), seeded; 0 for none (a
        readout trained without feedback).
    inputs : array_like, shape (T, n_inputs), optional
        External inputs through the network's U.
    rule : {"rls", "lms"}
        Recursive least squares, or least mean squares w <- w - lr e h^T (cheaper per
        update, slower to converge; its loops hold less well with learning off).
    alpha : float
        P(0) = I / alpha: the inverse of RLS's regulariser, its first learning rate.
    forgetting : float
        lambda in (0, 1]: RLS forgets old samples by this factor per update (RLS only).
    lr : float, optional
        LMS's learning rate (LMS only, where it is required).
    every : int
        Steps between updates.
    plastic : float or array_like of bool or int, optional
        "Internal" FORCE: only a fraction p of the units (or those given) receive the
        output, so that the learned change W + u_f w^T is confined to their rows (as in
        S&A 2009's architecture C, except that the output fed back is the one before each
        update, as in their architecture A).
    readout_units : array_like of int, optional
        The units the readout reads (default all).
    h0 : array_like, shape (n_neurons,), optional
        Initial state (default N(0, 0.5^2), seeded).
    method : str
        "euler" (default), "exponential_euler" or "discrete": one evaluation a step, so
        that the trained closed loop is exactly a RateNetwork.
    eig_every : int, optional
        Every this many steps, record the n_eig eigenvalues of largest modulus of the
        closed-loop matrix W + u_f w^T (None: never).
    n_eig : int
        How many eigenvalues each check keeps (of largest modulus).
    seed : int
        Seeds u_f, h0 and the network's noise.
    progress : bool, optional
        A progress bar (None: when training takes a few seconds).

    Returns
    -------
    Force
        ``network``: the trained RateNetwork (W + u_f w^T; its U is the network's own;
        no Dale labels, which the closed loop breaks),
        ``readout`` (a ``Readout``, z = C h + d with C (n_outputs, n_neurons) = w on
        readout_units and 0 elsewhere, d = 0), ``h`` (n_neurons,): the final state,
        and ``record``: a Dataset over
        ``time`` (after each step) with ``z`` and ``target`` and ``error`` (time,
        output), ``w_norm`` (time); with eig_every, ``eigenvalue_real`` and
        ``eigenvalue_imag`` (check, eig) at ``check_time``.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, or rule="lms" without lr.
    ValueError
        For shapes that do not fit (each named), a method other than euler,
        exponential_euler or discrete, a network with STP, alpha <= 0, forgetting
        outside (0, 1], lr with RLS or forgetting with LMS, eig_every < 1, inputs to a
        network without U, or a target spaced otherwise than dt.
    FloatingPointError
        If the state leaves the finite range.

    Warns
    -----
    UserWarning
        If every exceeds the target's steps (nothing is learned), or the target has
        fewer steps than outputs (transposed?).

    References
    ----------
    Sussillo D, Abbott LF (2009). Generating coherent patterns of activity from chaotic
    neural networks. Neuron 63(4), 544-557. doi:10.1016/j.neuron.2009.07.018

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W = ctrnn.connectivity.gaussian(200, g=1.5, seed=0)
    >>> t = np.arange(3000) * 0.1
    >>> res = ctrnn.train.force(ctrnn.RateNetwork(W), np.sin(2 * np.pi * t / 20), dt=0.1,
    ...                         seed=0, progress=False)
    >>> float(np.abs(res.record.error[-500:]).mean()) < 0.05
    True
    """
    net = _check_net(net)
    m = _leaky(method)
    dt = positive_scalar("dt", dt)
    tg, names, times = _target_array("target", target, dt)
    T, M = tg.shape
    N = net.n_neurons
    rule_code, lr = _rule(rule, lr, forgetting)
    alpha = positive_scalar("alpha", alpha)
    lam = positive_scalar("forgetting", forgetting)
    if lam > 1:
        raise ValueError(f"forgetting={forgetting}: a factor in (0, 1] (1: remember all)")
    every = positive_int("every", every)
    if every > T:
        warnings.warn(f"every={every} is more than the target's {T} steps: w is never "
                      f"updated (give every <= {T})", UserWarning, stacklevel=2)
    if eig_every is not None:
        eig_every = positive_int("eig_every", eig_every)
    rng = _seeding.generator(_seeding.child(_seeding.seed_sequence(seed)[0],
                                            _seeding.INIT, 0))
    if feedback is None:
        uf = rng.uniform(-1.0, 1.0, size=(N, M))
    else:
        uf = np.broadcast_to(as_float_array("feedback", feedback), (N, M)).copy() \
            if np.ndim(feedback) == 0 else as_float_array("feedback", feedback,
                                                          shape=(N, M)).copy()
    if plastic is not None:
        mask = _units("plastic", plastic, N, rng)
        uf[~mask] = 0.0
    S = np.arange(N) if readout_units is None else _indices("readout_units",
                                                            readout_units, N)
    x_ext = _inputs(net, inputs, T)
    h0 = _h0(h0, N, seed)
    aug = net.replace(U=np.concatenate([np.array(net.U).reshape(N, -1), uf], axis=1))
    w = np.zeros((M, S.size))
    checks = []

    def on_chunk(done, UT, w):
        if eig_every:
            Weff = _closed_loop(net, uf, w, S)
            ev = np.linalg.eigvals(Weff)
            checks.append((done, ev[np.argsort(-np.abs(ev))[:n_eig]]))

    chunk = eig_every if eig_every else max(1, min(T, 2000))
    n_eig = positive_int("n_eig", n_eig)
    hT, _, w, Z, E, WN = _loop(aug, m, dt, h0, x_ext, M, _kf.READOUT, rule_code, every,
                               S, np.zeros(0, np.int64), tg,
                               np.eye(S.size if rule_code == _kf.RLS else 0) / alpha, lam,
                               lr, w, seed, chunk, on_chunk, progress, "ctrnn.train.force",
                               fix=", or use smaller feedback= weights")
    # u_f w^T has both signs in every column: Dale's law cannot hold in the closed loop
    trained = net.replace(W=_closed_loop(net, uf, w, S), dale=None)
    C = np.zeros((M, N))
    C[:, S] = w
    out = [f"output {i + 1}" for i in range(M)] if names is None else names
    time = (np.arange(T) + 1) * dt if times is None else times
    one = {"units": "1"}
    data = {"z": (("time", "output"), Z, {**one, "long_name": "readout z = w h"}),
            "target": (("time", "output"), tg, {**one, "long_name": "target"}),
            "error": (("time", "output"), E,
                      {**one, "long_name": "z - target, before the update"}),
            "w_norm": ("time", WN, {**one, "long_name": "|w| (Frobenius)"})}
    coords = {"time": ("time", time, {"units": "time unit of tau", "long_name": "time"}),
              "output": out}
    if checks:
        ev = np.array([c[1] for c in checks])
        data["eigenvalue_real"] = (("check", "eig"), ev.real, one)
        data["eigenvalue_imag"] = (("check", "eig"), ev.imag, one)
        coords["check_time"] = ("check", time[np.array([c[0] for c in checks]) - 1],
                                {"units": "time unit of tau"})
    rec = xr.Dataset(data, coords=coords,
                     attrs=dict(rule=str(rule).lower(), alpha=alpha, forgetting=lam,
                                every=every, dt=dt,
                                method=m.name, seed=str(seed)))
    return Force(trained, Readout(C, np.zeros(M)), hT[:N].copy(), rec)


def _closed_loop(net, uf, w, S):
    W = net.W.toarray() if hasattr(net.W, "toarray") else np.array(net.W)
    W[:, S] += uf @ w
    return W


def _units(name, value, N, rng):
    if np.ndim(value) == 1 and np.asarray(value).dtype.kind in "iu":
        mask = np.zeros(N, bool)
        mask[_indices(name, value, N)] = True
        return mask
    if np.ndim(value) == 0:
        p = positive_scalar(name, value)
        if p > 1:
            raise ValueError(f"{name}={value}: a fraction of the units, in (0, 1]")
        mask = np.zeros(N, bool)
        mask[rng.choice(N, size=max(1, int(round(p * N))), replace=False)] = True
        return mask
    mask = np.asarray(value)
    if mask.dtype != bool or mask.shape != (N,):
        raise ValueError(f"{name} must be a fraction in (0, 1] or a boolean mask of shape "
                         f"({N},); got {mask.dtype} {mask.shape}")
    return mask


def _indices(name, value, N):
    idx = np.asarray(value)
    if idx.dtype == bool:
        if idx.shape != (N,):
            raise ValueError(f"{name} as a mask must have shape ({N},); got {idx.shape}")
        idx = np.nonzero(idx)[0]
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu" \
            or idx.min() < 0 or idx.max() >= N or np.unique(idx).size != idx.size:
        raise ValueError(f"{name} must be distinct unit indices in [0, {N}); got {value!r}")
    return np.sort(idx).astype(np.int64)



# --- fitting recorded activity ------------------------------------------------------------
def fit_activity(rates, *, tau, g=1.5, p=1.0, alpha=1.0, n_runs=10, steps_per_sample=1,
                 by_region=None, phi="tanh", method="euler", seed=0, progress=None):
    """A data-constrained network: train the recurrent weights of a rate network, one unit
    per recorded neuron, so that each unit's activity follows that neuron's recorded rate
    ("PINning", Rajan, Harvey & Tank 2016; CURBD, Perich et al. 2021).

    The network tau dh/dt = -h + phi(W h) starts from a random W ~ N(0, g^2 / N) and the
    data's first sample. It runs through the recording ``n_runs`` times (each trial in
    turn, from its first sample), and at every data sample each unit's error
    e_i = h_i - r_i(t) updates the weights onto it from the plastic presynaptic units S
    (a fraction p of them) by recursive least squares: k = P h_S, c = 1 / (1 + h_S.k),
    P <- P - c k k^T, W[:, S] <- W[:, S] - c (e / a) k^T. The regressor is the
    presynaptic state that drove the step; a is the unit's gain over the steps since the
    last sample (1 - (1 - dt / tau)^k for Euler), so that e / a approximates the error of
    its drive W h, which is linear in the weights (as CURBD matches the drive J r to the
    data; the slope of phi is left out). Then it runs once more with learning off, and its
    activity is scored by the fraction of variance explained, pVar = 1 - sum (h - r)^2 /
    sum (r - mean r)^2.

    Parameters
    ----------
    rates : xarray.DataArray, dims (time, neuron) or (time, neuron, trial)
        Recorded rates on a regular time grid (for tanh, scaled into (-1, 1)).
    tau : float
        The units' time constant, in the unit of the time coordinate.
    g : float
        Gain of the initial random W (chaotic for g > 1: rich dynamics to shape).
    p : float
        Fraction of presynaptic units whose outgoing weights are plastic, in (0, 1].
    alpha : float
        P(0) = I / alpha.
    n_runs : int
        Passes of learning over the data.
    steps_per_sample : int
        Model steps per data sample (dt = sample spacing / steps_per_sample).
    by_region : array_like of str, shape (neuron,), optional
        A region label per neuron: ``currents`` then decomposes each unit's recurrent
        input by source region (CURBD).
    phi : str
        The units' nonlinearity.
    method : str
        A fixed-step method ("euler" default).
    seed : int
        Seeds W and the plastic units.
    progress : bool, optional
        A progress bar over the runs (None: when fitting takes a few seconds).

    Returns
    -------
    FittedActivity
        ``network`` (the trained RateNetwork), ``h0`` (the first sample of the first
        trial), ``rates`` (the trained network's activity, learning off, each trial from
        its first sample; dims as the data), ``pvar`` (Dataset: ``unit`` (neuron) and
        ``total``; a unit's pVar is NaN when its recording is constant, and can be very
        negative when it is nearly so: ``total`` pools all units and is the robust
        score), ``currents`` (source, time, neuron[, trial]) with by_region: the input
        to each unit from each source region, sum_j in source W_ij h_j, else None.

    Raises
    ------
    TypeError
        If rates is not a DataArray.
    ValueError
        If its dims or time grid are not as described (a time coordinate is needed), it
        holds NaN, p is outside (0, 1], by_region does not label every neuron, the network
        would have STP, or the method is not a one-evaluation method.
    FloatingPointError
        If the network's state leaves the finite range.

    References
    ----------
    Rajan K, Harvey CD, Tank DW (2016). Recurrent network models of sequence generation
    and memory. Neuron 90(1), 128-142. doi:10.1016/j.neuron.2016.02.009

    Perich MG, Arlt C, Soares S, et al. (2021). Inferring brain-wide interactions using
    data-constrained recurrent neural network models. bioRxiv 2020.12.18.423348.
    doi:10.1101/2020.12.18.423348

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> t = np.arange(200) * 0.1
    >>> r = np.stack([np.sin(t + k) for k in range(20)], axis=1) * 0.5
    >>> data = xr.DataArray(r, dims=("time", "neuron"), coords={"time": t})
    >>> fit = ctrnn.train.fit_activity(data, tau=1.0, n_runs=20, progress=False)
    >>> float(fit.pvar.total) > 0.9
    True
    """
    if not isinstance(rates, xr.DataArray):
        raise TypeError(f"rates must be an xarray.DataArray (time, neuron[, trial]); got "
                        f"{type(rates).__name__}")
    dims = set(rates.dims)
    if dims not in ({"time", "neuron"}, {"time", "neuron", "trial"}):
        raise ValueError(f"rates must have dims (time, neuron) or (time, neuron, trial); got "
                         f"{rates.dims}")
    data = rates.transpose("time", "neuron", *(["trial"] if "trial" in dims else []))
    D = as_float_array("rates", data.values)
    if D.ndim == 2:
        D = D[:, :, None]
    T, N, n_trials = D.shape
    if T < 2:
        raise ValueError("rates needs at least two time samples")
    if "time" in data.coords:
        t = np.asarray(data["time"].values, dtype=np.float64)
        step = np.diff(t)
        if not np.allclose(step, step[0], rtol=1e-6, atol=0) or step[0] <= 0:
            raise ValueError("rates' time coordinate must be increasing and evenly spaced")
        dt_data = float(step[0])
    else:
        raise ValueError("rates needs a time coordinate (the sampling times, in the unit "
                         "of tau): assign_coords(time=...)")
    tau = positive_scalar("tau", tau)
    g = nonnegative_scalar("g", g)
    alpha = positive_scalar("alpha", alpha)
    n_runs = positive_int("n_runs", n_runs)
    k = positive_int("steps_per_sample", steps_per_sample)
    m = _leaky(method, "the presynaptic state that the learned weights read")
    dt = dt_data / k
    p = positive_scalar("p", p)
    if p > 1:
        raise ValueError(f"p={p}: a fraction of the presynaptic units, in (0, 1]")
    lo, hi = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(str(phi), (-np.inf, np.inf))
    if D.min() <= lo or D.max() >= hi:
        warnings.warn(f"rates span [{D.min():.3g}, {D.max():.3g}], beyond the range "
                      f"({lo:g}, {hi:g}) that phi={phi!r} reaches: scale them into it",
                      RuntimeWarning, stacklevel=2)
    ss, _ = _seeding.seed_sequence(seed)
    rng = _seeding.generator(_seeding.child(ss, _seeding.INIT, 0))
    W0 = g * rng.normal(size=(N, N)) / np.sqrt(N)
    S = np.sort(rng.choice(N, size=max(1, int(round(p * N))), replace=False)) \
        .astype(np.int64)
    R = np.arange(N, dtype=np.int64)
    regions = None
    if by_region is not None:
        raw = np.asarray(by_region, dtype=object)
        if raw.shape != (N,):
            raise ValueError(f"by_region must label each of the {N} neurons (one region "
                             f"name each); got shape {raw.shape}")
        if any(v is None or str(v) == "" for v in raw):
            raise ValueError("by_region has a missing (None or empty) label: name the "
                             "region of every neuron")
        regions = raw.astype(str)
    net = RateNetwork(W0, U=np.zeros((N, S.size)), tau=tau, phi=phi)
    # targets on the model's grid: the data at its samples, interpolated in between
    # (recorded only: learning happens at the samples, every k steps)
    grid = np.arange(1, (T - 1) * k + 1) / k
    P = np.eye(S.size) / alpha
    L = np.zeros((N, S.size))  # the learned weights onto every unit from S
    total = n_runs * n_trials * (T - 1) * k
    # the error of each unit in units of its drive: divided by its gain over one step
    decay = m.coefficients(dt, net.tau_array)[0]
    scale = np.ascontiguousarray(1.0 / np.broadcast_to(1.0 - decay ** k, (N,)),
                                 dtype=np.float64)

    targets = [np.stack([np.interp(grid, np.arange(T), D[:, i, trial]) for i in range(N)],
                        axis=1) for trial in range(n_trials)]

    def run_trial(trial, rule, L):
        aug = net.replace(U=L)
        hT, UT, _, Z, _, _ = _loop(aug, m, dt, D[0, :, trial], np.zeros(((T - 1) * k, 0)),
                                   S.size, _kf.RECURRENT, rule, k, S, R, targets[trial], P,
                                   1.0, 0.0,
                                   np.zeros((0, S.size)), seed, max(1, (T - 1) * k), None,
                                   False, "", scale, fix=", or a smaller g=")
        return np.ascontiguousarray(UT.T), Z

    done = 0
    with Progress(total, enabled=progress, label="ctrnn.train.fit_activity",
                  unit="step") as bar:
        for _ in range(n_runs):
            for trial in range(n_trials):
                L, _ = run_trial(trial, _kf.RLS, L)
                done += (T - 1) * k
                bar.update(done)
    W = W0.copy()
    W[:, S] += L
    trained = net.replace(W=W, U=np.zeros((N, 0)))
    H = np.empty_like(D)
    for trial in range(n_trials):
        _, Z = run_trial(trial, -1, L)
        H[0, :, trial] = D[0, :, trial]
        H[1:, :, trial] = Z[k - 1::k]
    # scored after the first sample, which the runs start from
    resid = np.sum((H[1:] - D[1:]) ** 2, axis=(0, 2))
    var = np.sum((D[1:] - D[1:].mean(axis=(0, 2), keepdims=True)) ** 2, axis=(0, 2))
    flat = var <= 1e-12 * max(1.0, float(np.max(var)))
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(flat, np.nan, 1.0 - resid / np.where(flat, 1.0, var))
    pvar = xr.Dataset({"unit": ("neuron", unit, {"units": "1", "long_name": "pVar per unit"}),
                       "total": ((), 1.0 - resid[~flat].sum() / var[~flat].sum(),
                                 {"units": "1", "long_name": "pVar of all units"})},
                      coords={"neuron": data["neuron"].values} if "neuron" in data.coords
                      else None)
    out = H if "trial" in dims else H[:, :, 0]
    model_rates = xr.DataArray(out, dims=data.dims, coords=data.coords, name="h",
                               attrs={"long_name": "trained network's activity"})
    currents = None
    if regions is not None:
        names = list(dict.fromkeys(regions.tolist()))
        cur = np.stack([np.einsum("ij,tjr->tir", W[:, regions == a], H[:, regions == a])
                        for a in names])
        cur = cur if "trial" in dims else cur[..., 0]
        currents = xr.DataArray(cur, dims=("source",) + data.dims,
                                coords={"source": names, **{c: data[c] for c in data.coords}},
                                name="currents",
                                attrs={"long_name": "input to each unit from each source "
                                                    "region (CURBD)", "units": "1"})
        currents = currents.assign_coords(region=("neuron", regions))
    return FittedActivity(trained, D[0, :, 0].copy(), model_rates, pvar, currents)
