"""Closed-loop generation: a trained sequence model driven by a warm-up of true inputs
(teacher forcing), then fed its own outputs for as many steps as asked (the ESN's
``generate``, for ``fit``'s models and the LSTM).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .. import _engine, _seeding
from .._validation import check_bytes, positive_int
from ..integrators import get_method

__all__ = ["generate"]


def generate(model, *, warmup, n_steps, seed=0, noise=True):
    """Drive ``model`` with the ``warmup`` inputs, then feed each output back as the
    next input for ``n_steps`` steps (free running).

    The outputs are fed into the model's last n_outputs input channels, as in training
    with ``feedback=`` (``ctrnn.train.sampling``); other input channels (a context or
    tonic input) hold their last warm-up value.

    Parameters
    ----------
    model : Model or LSTM
        A model from ``ctrnn.train.fit`` (rate network or LSTM), or an LSTM.
    warmup : array_like, shape (time, n_inputs) or (trial, time, n_inputs)
        True inputs of the first steps (at least one); the last n_outputs channels hold
        the true previous outputs (for next-step prediction of s: s_0 .. s_{w-1}).
    n_steps : int
        Number of generated outputs.
    seed : int
        The noise of a rate network with noise.
    noise : bool
        False: generate without the network's noise.

    Returns
    -------
    xarray.Dataset
        y (trial, time, output): the generated outputs, y at time j predicting sample
        w + j of the sequence (w the warm-up length: time 0 is the first output made
        after the warm-up and the first one fed back); h (trial, time, neuron or hidden)
        the states that made them, and for an LSTM its cell state c; float64. A 2-d
        warm-up gives no trial dimension. ``seed`` and ``noise`` concern rate networks
        only (an LSTM has no noise).

    Raises
    ------
    TypeError
        If model is not a Model or LSTM, or n_steps not an integer.
    ValueError
        If the model has fewer inputs than outputs, or warmup does not fit it.
    FloatingPointError
        If the closed loop leaves the finite range (the step is named).
    MemoryError
        Before any work, if the run would not fit in memory.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> lstm = ctrnn.train.LSTM(1, 8, 1, seed=0)
    >>> ds = ctrnn.train.generate(lstm, warmup=np.zeros((10, 1)), n_steps=5)
    >>> ds.y.shape
    (5, 1)
    """
    from .fit import Model
    from .lstm import LSTM, _as_inputs, forward

    if isinstance(model, LSTM):
        lstm, net = model, None
    elif isinstance(model, Model):
        lstm = model.network if isinstance(model.network, LSTM) else None
        net = None if lstm is not None else model.network
    else:
        raise TypeError(f"model must be a ctrnn.train.Model or LSTM; got "
                        f"{type(model).__name__}")
    n_in = (lstm or net).n_inputs
    n_out = lstm.n_outputs if lstm is not None else model.readout.n_outputs
    if n_in < n_out:
        raise ValueError(f"generation feeds the {n_out} outputs back into the last "
                         f"{n_out} inputs, but the model has {n_in} inputs")
    n_steps = positive_int("n_steps", n_steps)
    xs, single = _as_inputs(warmup, n_in, "a model")
    B, w, _ = xs.shape
    T = w + n_steps - 1
    width = lstm.n_hidden * 11 if lstm is not None else 2 * net.n_neurons
    check_bytes(8 * B * T * (n_in + width + n_out),
                f"generating {n_steps} steps of {B} trial(s)",
                "generate fewer steps at a time (start the next piece from the last "
                "outputs as warm-up)")
    X = np.empty((B, T, n_in))
    X[:, :w] = xs
    X[:, w:] = xs[:, -1:]  # channels not fed back hold their last warm-up value
    take = np.zeros((B, T), bool)
    take[:, :w] = True
    if lstm is not None:
        z = np.zeros((B, lstm.n_hidden))
        f = forward(lstm.state_dict(), X, z, z, lstm.dtype, n_fb=n_out, take=take)
        if f.bad >= 0:
            raise FloatingPointError(f"the LSTM's state left the finite range at step "
                                     f"{f.bad}")
        H = f.Hs[1:].transpose(1, 0, 2).astype(np.float64)
        Cc = f.Cs[1:].transpose(1, 0, 2).astype(np.float64)
        Y = f.y.astype(np.float64)
        hdim = "hidden"
    else:
        H, Y = _rate(model, net, X, take, n_out, seed, noise)
        hdim = "neuron"
    sl = slice(w - 1, T)
    data = {"y": (("trial", "time", "output"), Y[:, sl]),
            "h": (("trial", "time", hdim), H[:, sl])}
    if lstm is not None:
        data["c"] = (("trial", "time", hdim), Cc[:, sl])
    ds = xr.Dataset(data,
                    coords={"time": ("time", np.arange(n_steps),
                                     {"units": "steps after the warm-up"})},
                    attrs={"warmup": w})
    return ds.isel(trial=0) if single else ds


def _rate(model, net, X, take, n_out, seed, noise):
    from . import _bptt

    if not noise:
        net = net.replace(noise=0.0)
    m = get_method(model.method)
    dt = 1.0 if model.dt is None else model.dt
    B, T, _ = X.shape
    N = net.n_neurons
    H0 = np.ascontiguousarray(np.broadcast_to(model.h0, (B, N)), dtype=np.float64)
    Z = np.ascontiguousarray(_engine.stp_initial_state(net, H0, None, None), np.float64)
    ss, _ = _seeding.seed_sequence(seed)
    keys = _seeding.trial_keys(ss, B) if net.has_noise else np.zeros(0, np.uint64)
    xs_grid = np.ascontiguousarray(np.concatenate([X, X[:, -1:]], axis=1))
    C, c = np.array(model.readout.C), np.array(model.readout.c)
    out = np.empty((B, T + 1, Z.shape[1]))  # the closed loop keeps every state here
    report, _ = _bptt._closed_inputs(net, C, c, xs_grid, Z, m, dt, keys, n_out, take,
                                     out=out)
    if not report.ok:
        raise FloatingPointError(f"the closed loop left the finite range {report.where} "
                                 "(step counted from the start of the warm-up): the "
                                 "generated output grows without bound")
    H = out[:, 1:, :N]
    return H, H @ C.T + c
