"""``fit``, ``gradient``, ``gradient_norms`` and the trained ``Model``: training a
RateNetwork by backpropagation through time on its own kernels (``_bptt``).

A task is an xarray Dataset in the layout of ``ctrnn.tasks`` (neurogym's and PsychRNN's,
as xarray): ``inputs`` (trial, time, input), ``targets`` (trial, time, output), optionally
``mask`` (trial, time, output) and ``response`` (trial, time); input sample k drives the
step from t_k to t_k + dt and target sample k is compared with the output
y_k = C h_{k+1} + c after it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .. import _seeding
from .._progress import Progress
from .._validation import as_float_array, nonnegative_scalar, positive_int, positive_scalar
from ..integrators import get_method
from ..network import RateNetwork
from . import _bptt
from .losses import accuracy, check_loss, get_loss
from .optim import Adam, SGD, clip_by_global_norm, global_norm
from .params import Parametrisation, Readout
from .sampling import _as_feedback as as_feedback
from .sampling import teacher_forcing

__all__ = ["fit", "gradient", "gradient_norms", "Model"]


# --- validation -----------------------------------------------------------------------
def _check_net(net, model_ok=False):
    if not isinstance(net, RateNetwork):
        hint = (": a PyTorch LSTM moves over with "
                "ctrnn.train.LSTM.from_state_dict(model.state_dict())"
                if "torch" in type(net).__module__ else "")
        raise TypeError(f"net must be a RateNetwork"
                        + (", a ctrnn.train.LSTM or a trained Model" if model_ok
                           else " or a ctrnn.train.LSTM")
                        + f"; got {type(net).__name__}{hint}")
    if not net.phi.builtin:
        raise ValueError(f"phi={net.phi.name!r} is a user function: training needs its "
                         "derivative, which ctrnn writes out for the built-in phi only "
                         "(tanh, relu, sigmoid, softplus, linear)")


def _diverged(report, N):
    """Where the forward pass left the finite range, from the engine's Report."""
    col = report.column
    what = f"neuron {col % N}" + ("" if col < N else f" (STP variable {'ux'[col // N - 1]})")
    return (f"the network's state left the finite range {report.where} in {what} of "
            f"trial {report.trial}")


def _method(method):
    m = get_method(method)
    if m.kind not in ("leaky", "rk"):
        raise ValueError(f"method={method!r} has an adaptive step size: training needs a "
                         "fixed-step method (euler, exponential_euler, discrete, heun, rk4)")
    return m


def _task_arrays(task, net, n_outputs=None, fix=None, inputs_fix=None):
    """(xs (B, T, n_in), targets (B, T, n_out), mask, response or None, task dt or None)
    from a task Dataset, checked against the network (a RateNetwork or an LSTM) before
    any work."""
    if not isinstance(task, xr.Dataset):
        raise TypeError(f"task must be an xarray.Dataset with inputs (trial, time, input) "
                        f"and targets (trial, time, output), as ctrnn.tasks makes; got "
                        f"{type(task).__name__}")
    for name in ("inputs", "targets"):
        if name not in task:
            raise ValueError(f"the task has no {name!r} variable: a task needs inputs "
                             "(trial, time, input) and targets (trial, time, output)")

    def arr(name, dims):
        da = task[name]
        if set(da.dims) != set(dims):
            raise ValueError(f"task.{name} must have dims {dims}; got {da.dims}")
        a = np.asarray(da.transpose(*dims).values, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"task.{name} holds NaN or inf")
        return np.ascontiguousarray(a)

    xs = arr("inputs", ("trial", "time", "input"))
    tg = arr("targets", ("trial", "time", "output"))
    mask = arr("mask", ("trial", "time", "output")) if "mask" in task else np.ones_like(tg)
    resp = None
    if "response" in task:
        resp = np.asarray(task["response"].transpose("trial", "time").values, dtype=bool)
    if xs.shape[2] != net.n_inputs:
        takes = f"the network takes {net.n_inputs} (U {net.U.shape})" \
            if isinstance(net, RateNetwork) else f"the model takes {net.n_inputs}"
        raise ValueError(f"the task has {xs.shape[2]} inputs (task.inputs {xs.shape}) but "
                         f"{takes}: "
                         + (inputs_fix or f"give the network U of shape "
                            f"({net.n_neurons}, {xs.shape[2]})"))
    if n_outputs is not None and tg.shape[2] != n_outputs:
        raise ValueError(f"the task has {tg.shape[2]} outputs (task.targets {tg.shape}) "
                         f"but the readout has {n_outputs}: "
                         + (fix or f"set n_outputs={tg.shape[2]}"))
    if xs.shape[:2] != tg.shape[:2] or mask.shape != tg.shape:
        raise ValueError(f"task.inputs {xs.shape}, targets {tg.shape} and mask {mask.shape} "
                         "must agree in (trial, time)")
    if np.any(mask < 0):
        raise ValueError("task.mask holds negative weights")
    return xs, tg, mask, resp, _task_dt(task)


def _channels(task):
    """(input names, output names) of a task, each None when it has no such coordinate."""
    return tuple(tuple(str(v) for v in task[d].values) if d in task.coords else None
                 for d in ("input", "output"))


def _check_channels(model, task, stacklevel=4):
    """Warn when a task's channels are named otherwise than those a model was trained
    on (the same shapes in another order would be silently wrong)."""
    old = model.options.get("channels")
    if old is None or not isinstance(task, xr.Dataset):
        return
    for what, a, b in zip(("input", "output"), old, _channels(task)):
        if a is not None and b is not None and a != b:
            warnings.warn(f"the task's {what} channels {list(b)} are not those the model was "
                          f"trained on {list(a)}: check their order (ctrnn.tasks.multitask "
                          "puts tasks in one layout)", RuntimeWarning, stacklevel=stacklevel)


def _task_dt(task):
    """The task's sampling dt: its attribute, else the spacing of its time coordinate."""
    dt = task.attrs.get("dt")
    if dt is None and "time" in task.coords and task.sizes["time"] > 1:
        dt = float(task["time"][1] - task["time"][0])
    return dt


def _dt(method, dt, task_dt):
    if method.counts_steps:
        if dt is not None:
            raise ValueError(f"method={method.name!r} takes no dt: each task sample is one "
                             "update h[t+1] = phi(W h[t] + U x[t] + b)")
        return 1.0
    if dt is None:
        if task_dt is None:
            raise TypeError("dt is required (the task has no dt attribute or time "
                            "coordinate to take it from)")
        return float(task_dt)
    dt = positive_scalar("dt", dt)
    if task_dt is not None and abs(dt - task_dt) > 1e-9 * task_dt:
        raise ValueError(f"dt={dt} differs from the task's sampling dt={task_dt}: each task "
                         "sample drives one step, so give the task's dt (or make the task "
                         "with this dt)")
    return float(dt)


def _readout(readout, n_outputs, net, seed):
    if readout is None:
        if seed is None:
            raise TypeError("give readout=(C, c) or a ctrnn.train.Readout: this function "
                            "draws no random readout")
        if n_outputs is None:
            raise TypeError("give n_outputs= or readout=")
        return Readout.random(n_outputs, net.n_neurons, _seeding.child(seed, _seeding.INIT, 0))
    if isinstance(readout, Readout):
        r = readout
    else:
        C, c = readout
        r = Readout(C, c)
    if r.C.shape[1] != net.n_neurons:
        raise ValueError(f"readout C has shape {r.C.shape}: it must read the network's "
                         f"{net.n_neurons} neurons (n_outputs, {net.n_neurons})")
    if n_outputs is not None and r.n_outputs != n_outputs:
        raise ValueError(f"n_outputs={n_outputs} but the readout has {r.n_outputs}")
    return r


def _h0(h0, N):
    if h0 is None:
        return np.zeros(N)
    return as_float_array("h0 (one initial state for every trial)", h0, shape=(N,))


def _noise_keys(net, ss, purpose_index, B):
    if not net.has_noise:
        return None
    return _seeding.trial_keys(_seeding.child(ss, _seeding.TRAIN_NOISE, purpose_index), B)


# --- gradient and gradient_norms ------------------------------------------------------
def _lstm_pass(net, readout, task, *, loss, seed, norms, feedback, iteration, **rate_only):
    if readout is not None:
        raise ValueError("an LSTM has its own readout (C, c): give readout=None")
    learner = _LSTMLearner(net, task, None, n_outputs=None, feedback=feedback, frozen=(),
                           stacklevel=5, **rate_only)
    learner.loss_fn = get_loss(loss)
    B, T = learner.xs.shape[:2]
    ss, _ = _seeding.seed_sequence(seed)
    take = None if feedback is None else feedback.take(ss, iteration, B, T)
    value, g, _, nrm, what = learner.evaluate(net.state_dict(), np.arange(B), take, norms)
    if what:
        raise FloatingPointError(what)
    if g is None:
        raise FloatingPointError(f"the loss is {value}")
    return value, g, nrm


def _one_pass(net, readout, task, *, loss, dt, method, h0, seed, checkpoint_every, rate_l2,
              norms, want_tau, feedback=None, iteration=0):
    _check_net(net)
    m = _method(method)
    readout = _readout(readout, None, net, None)
    xs, tg, mask, _, task_dt = _task_arrays(
        task, net, readout.n_outputs, fix="give a readout with as many outputs (rows of C)")
    dt = _dt(m, dt, task_dt)
    if want_tau and m.counts_steps:
        want_tau = False
    B = xs.shape[0]
    H0 = np.ascontiguousarray(np.broadcast_to(_h0(h0, net.n_neurons), (B, net.n_neurons)))
    ss, _ = _seeding.seed_sequence(seed)
    keys = _noise_keys(net, ss, 0, B)
    fb = None
    if feedback is not None:
        n_fb = _n_feedback(feedback, readout.n_outputs, net.n_inputs,
                           f"the network's inputs (U {net.U.shape})")
        _check_fed_channels(xs, tg, mask, n_fb, feedback)
        fb = (n_fb, feedback.take(ss, iteration, B, xs.shape[1]))
    p = _bptt.run(net, np.array(readout.C), np.array(readout.c), xs, H0, method=m, dt=dt,
                  loss_fn=get_loss(loss), targets=tg, mask=mask, keys=keys,
                  want_tau=want_tau, rate_l2=rate_l2,
                  checkpoint_every=positive_int("checkpoint_every", checkpoint_every,
                                                allow_none=True), norms=norms, feedback=fb)
    if not p.report.ok:
        raise FloatingPointError(_diverged(p.report, net.n_neurons)
                                 + ": the network diverges; reduce the weights' gain")
    return p, m, dt


def gradient(net, readout, task, *, loss="mse", dt=None, method="euler", h0=None, seed=0,
             checkpoint_every=None, rate_l2=0.0, feedback=None, iteration=0):
    """The loss of ``net`` with ``readout`` on every trial of ``task`` and its exact
    gradient: backpropagation through time of the discretised network (the adjoint of
    the very steps ``simulate`` takes), for every parameter.

    Parameters
    ----------
    net : RateNetwork
    readout : Readout or (C, c)
        y = C h + c, C (n_outputs, n_neurons).
    task : xarray.Dataset
        inputs (trial, time, input), targets (trial, time, output), optional mask
        (trial, time, output); see ``ctrnn.tasks``.
    loss : {"mse", "cross_entropy"} or callable
        See ``ctrnn.train.losses``.
    dt : float, optional
        Step size in the time unit of tau; default the task's dt (they must agree).
        None for "discrete".
    method : str
        "euler", "exponential_euler", "discrete", "heun" or "rk4".
    h0 : array_like, shape (n_neurons,), optional
        Initial state of every trial (default zeros).
    seed : int, optional
        The noise of the trials (counter-based: replayed, not stored, in the backward
        pass).
    checkpoint_every : int, optional
        Keep every k-th state only and recompute the rest segment by segment: memory
        O(T / k + k) states instead of O(T); the gradient is the same bit for bit.
    rate_l2 : float
        Adds rate_l2 * mean(h^2) over trials, steps and neurons to the loss.
    feedback : Feedback, optional
        Output feedback into the last n_outputs inputs (see ``fit``): where the truth
        is fed is drawn with the probability of ``iteration``, per trial and step, from
        ``seed`` (the same distribution as in training; ``fit`` draws for the rows of
        its batch).
    iteration : int
        The iteration whose feedback probability applies (scheduled sampling).

    Returns
    -------
    dict
        "loss" (float) and the gradients "W" (n_neurons, n_neurons) (for a sparse W:
        (nnz,), on its stored entries, in CSR order), "U" (n_neurons, n_inputs), "b",
        "tau" (n_neurons,) (None for "discrete"), "h0" (n_neurons,) (summed over
        trials), "C" (n_outputs, n_neurons) and "c" (n_outputs,). For an LSTM (give
        readout=None): its state-dict names, and "h0", "c0" (n_hidden,) summed over
        trials.

    Raises
    ------
    TypeError
        If net is not a RateNetwork or LSTM, or task not a Dataset.
    ValueError
        If the task's shapes do not fit the network or readout (both shapes named), the
        method is adaptive, or dt differs from the task's.
    FloatingPointError
        If the state leaves the finite range.

    Notes
    -----
    Discretise-then-optimise: the gradient is exact (to round-off) for the discrete
    steps, which is what central finite differences of the loss see (tested to a
    relative error < 1e-6 for every parameter and method).

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> task = xr.Dataset({"inputs": (("trial", "time", "input"), np.ones((2, 5, 1))),
    ...                    "targets": (("trial", "time", "output"), np.zeros((2, 5, 1)))},
    ...                   attrs={"dt": 0.1})
    >>> net = ctrnn.RateNetwork(np.zeros((3, 3)), U=np.ones((3, 1)), tau=1.0)
    >>> g = ctrnn.train.gradient(net, (np.ones((1, 3)), np.zeros(1)), task)
    >>> g["W"].shape, g["U"].shape
    ((3, 3), (3, 1))
    """
    from .lstm import LSTM

    feedback = as_feedback(feedback)
    if isinstance(net, LSTM):
        value, g, _ = _lstm_pass(net, readout, task, loss=loss, seed=seed, norms=False,
                                 feedback=feedback, iteration=iteration, dt=dt,
                                 method=method, h0=h0, checkpoint_every=checkpoint_every,
                                 rate_l2=rate_l2)
        g["h0"], g["c0"] = g["h0"].sum(axis=0), g["c0"].sum(axis=0)
        return {"loss": value, **g}
    p, m, _ = _one_pass(net, readout, task, loss=loss, dt=dt, method=method, h0=h0,
                        seed=seed, checkpoint_every=checkpoint_every, rate_l2=rate_l2,
                        norms=False, want_tau=True, feedback=feedback, iteration=iteration)
    g = dict(p.grads)
    g["h0"] = g["h0"].sum(axis=0)
    return {"loss": p.loss, **g}


def gradient_norms(net, readout, task, *, loss="mse", dt=None, method="euler", h0=None,
                   seed=0, feedback=None, iteration=0):
    """||dL/dh_t|| for every state h_0 .. h_T of every trial: how far back in time the
    loss reaches (the vanishing-gradient problem; Bengio, Simard & Frasconi 1994; Pascanu
    et al. 2013). For an Euler step, J_t = (1 - a) I + a diag(phi'(z_t)) W with
    a = dt / tau, so ||J_t|| <= 1 - a (1 - gamma ||W||), gamma = sup |phi'|: when
    gamma ||W|| < 1 the norms decay at least geometrically going back from the loss.

    Parameters
    ----------
    As ``gradient`` (an LSTM with readout=None included: its norms are those of dL/dh_t,
    the hidden state, whose gradient also reaches back through the cell).

    Returns
    -------
    xarray.DataArray, dims (trial, time)
        Norms over neurons of the total derivative of the loss with respect to the state
        at each time (time 0 is h0; units of the loss per unit of h).

    Raises
    ------
    As ``gradient``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> mask = np.zeros((1, 20, 1)); mask[:, -1] = 1  # the loss at the last step only
    >>> task = xr.Dataset({"inputs": (("trial", "time", "input"), np.zeros((1, 20, 0))),
    ...                    "targets": (("trial", "time", "output"), np.ones((1, 20, 1))),
    ...                    "mask": (("trial", "time", "output"), mask)}, attrs={"dt": 0.1})
    >>> W = ctrnn.connectivity.gaussian(50, g=0.5, seed=0)
    >>> n = ctrnn.train.gradient_norms(ctrnn.RateNetwork(W), (np.ones((1, 50)), [0.0]),
    ...                                task, h0=np.full(50, 0.1))
    >>> bool(n[0, 0] < n[0, -1])  # smaller far back from the loss
    True
    """
    from .lstm import LSTM

    feedback = as_feedback(feedback)
    if isinstance(net, LSTM):
        _, _, nrm = _lstm_pass(net, readout, task, loss=loss, seed=seed, norms=True,
                               feedback=feedback, iteration=iteration, dt=dt,
                               method=method, h0=h0)
        return xr.DataArray(nrm, dims=("trial", "time"),
                            coords={"time": ("time", np.arange(nrm.shape[1]),
                                             {"units": "steps"})},
                            name="grad_norm", attrs={"long_name": "||dL/dh_t||",
                                                     "method": "lstm"})
    p, m, dt = _one_pass(net, readout, task, loss=loss, dt=dt, method=method, h0=h0,
                         seed=seed, checkpoint_every=None, rate_l2=0.0, norms=True,
                         want_tau=False, feedback=feedback, iteration=iteration)
    T = p.norms.shape[1] - 1
    return xr.DataArray(p.norms, dims=("trial", "time"),
                        coords={"time": ("time", np.arange(T + 1) * dt,
                                         {"units": "steps" if m.counts_steps else
                                          task["time"].attrs.get("units", "s")
                                          if "time" in task.coords else "s"})},
                        name="grad_norm",
                        attrs={"long_name": "||dL/dh_t||", "method": m.name})


# --- the trained model ----------------------------------------------------------------
@dataclass
class Model:
    """A trained network: ``network`` (a RateNetwork: simulate and analyse it like any
    other; or an LSTM), ``readout`` (y = C h + c), ``h0`` (the initial state, (n_neurons,)),
    ``history`` (a Dataset over iterations: loss (with the penalties), data_loss,
    accuracy, grad_norm, lr, and eps, the probability of feeding the truth when
    trained with feedback=, else NaN), and the
    ``method`` and ``dt`` it was trained with; ``theta``, the unconstrained parameters
    the optimiser updated (``ctrnn.train.params``), and ``options``, the constraints
    that map them to the network (frozen, dale, mask, ...), so that ``fit(model,
    other_task)`` continues training from exactly this point."""

    network: object  # a RateNetwork, or an LSTM
    readout: Readout
    h0: np.ndarray
    history: xr.Dataset
    method: str
    dt: float | None
    interrupted: bool = False
    theta: dict = field(default_factory=dict, repr=False)
    options: dict = field(default_factory=dict, repr=False)

    def predict(self, task, *, seed=0, noise=True):
        """Run the trained network on the trials of ``task`` (through ``simulate``).

        Parameters
        ----------
        task : xarray.Dataset
            A task (its ``inputs`` are used; ``targets``, ``mask`` and ``response`` are
            copied into the result when present).
        seed : int
            The trials' noise.
        noise : bool
            False: run without the network's noise.

        Returns
        -------
        xarray.Dataset
            h (trial, time, neuron) and y (trial, time, output): the state and output
            after the step driven by input sample k, at the task's time coordinate;
            with the task's targets, mask and response. An LSTM adds its cell state c
            (trial, time, hidden), and h is over ``hidden``. Open loop: the inputs are
            the task's (for closed-loop runs see ``ctrnn.train.generate``).

        Raises
        ------
        ValueError
            If the task does not fit the network.

        Examples
        --------
        See ``ctrnn.train.fit``.
        """
        from ..simulate import simulate
        from .lstm import LSTM

        _check_channels(self, task, stacklevel=3)
        if isinstance(self.network, LSTM):
            xs = _task_arrays(task, self.network, self.readout.n_outputs,
                              fix="the model's readout has a fixed number of outputs",
                              inputs_fix="give the model a task with the inputs it was "
                              "trained on")[0]
            out = self.network.run(xs)
            if "time" in task.coords:
                out = out.assign_coords(time=task["time"].values)
            return self._with_task(out, task, seed)
        net = self.network if noise else self.network.replace(noise=0.0)
        xs, tg, mask, resp, task_dt = _task_arrays(
            task, net, self.readout.n_outputs,
            fix="the model's readout has a fixed number of outputs",
            inputs_fix="give the model a task with the inputs it was trained on")
        B, T, _ = xs.shape
        m = get_method(self.method)
        if not m.counts_steps and task_dt is not None \
                and abs(task_dt - self.dt) > 1e-9 * self.dt:
            raise ValueError(f"the task is sampled at dt={task_dt} but the model was "
                             f"trained at dt={self.dt}: make the task with dt={self.dt}")
        kw = dict(steps=T) if m.counts_steps else dict(steps=T, dt=self.dt)
        ds = simulate(net, method=self.method, inputs=xs, trials=B,
                      h0=np.broadcast_to(self.h0, (B, net.n_neurons)), seed=seed,
                      **kw)
        h = ds.h.isel(time=slice(1, None))
        time = task["time"].values if "time" in task.coords else h.time.values
        h = h.assign_coords(time=time)
        y = xr.DataArray(self.readout(h.values), dims=("trial", "time", "output"),
                         coords={"time": time})
        return self._with_task(xr.Dataset({"h": h, "y": y}), task, seed)

    def _with_task(self, out, task, seed):
        time = out["time"].values
        for name in ("targets", "mask", "response"):
            if name in task:
                out[name] = task[name].assign_coords(time=time) if "time" in task[name].dims \
                    else task[name]
        out.attrs.update(method=self.method, seed=seed)
        return out


# --- checkpoints ----------------------------------------------------------------------
def _flat_state(theta, opt_state):
    """Every array of theta and the optimiser state under flat names."""
    out = {f"theta__{k}": v for k, v in theta.items()}
    for key, val in opt_state.items():
        if isinstance(val, dict):
            out.update({f"opt__{key}__{k}": v for k, v in val.items()})
    return out


def _save_checkpoint(path, theta, opt_state, it, seed_attr, fingerprint, history):
    from ..io import write_atomic

    data = {}
    for name, v in _flat_state(theta, opt_state).items():
        v = np.asarray(v)
        data[name] = (tuple(f"{name}_{d}" for d in range(v.ndim)), v)
    for name, v in history.items():
        data[f"history__{name}"] = ("iteration", np.asarray(v[:it], dtype=np.float64))
    ds = xr.Dataset(data, attrs=dict(iteration=it, opt_step=int(opt_state["step"]),
                                     seed=seed_attr, fingerprint=json.dumps(fingerprint)))
    path = str(path)
    if path.endswith(".zarr"):
        write_atomic(path, lambda tmp: ds.to_zarr(tmp, mode="w", consolidated=False))
    else:
        write_atomic(path, lambda tmp: ds.to_netcdf(tmp))


def _load_checkpoint(path):
    path = str(path)
    ds = xr.open_zarr(path, consolidated=False) if path.endswith(".zarr") \
        else xr.open_dataset(path)
    with ds:
        ds = ds.load()
    if "opt_step" not in ds.attrs or "fingerprint" not in ds.attrs:
        raise ValueError(f"{path!r} is not a checkpoint of ctrnn.train.fit: give another "
                         "checkpoint path, or resume=False to overwrite it")
    theta, opt = {}, {"step": int(ds.attrs["opt_step"])}
    history = {}
    for name, da in ds.data_vars.items():
        parts = name.split("__")
        if parts[0] == "theta":
            theta[parts[1]] = np.array(da.values, dtype=np.float64)
        elif parts[0] == "opt":
            opt.setdefault(parts[1], {})[parts[2]] = np.array(da.values, dtype=np.float64)
        elif parts[0] == "history":
            history[parts[1]] = list(np.asarray(da.values, dtype=np.float64))
    return theta, opt, int(ds.attrs["iteration"]), ds.attrs["seed"], \
        json.loads(ds.attrs["fingerprint"]), history


def _check_path(checkpoint):
    if checkpoint is None:
        return None
    path = os.fspath(checkpoint)
    if not (path.endswith(".zarr") or path.endswith(".nc")):
        raise ValueError(f"checkpoint={path!r}: give a path ending in .zarr (needs the "
                         "zarr package) or .nc (NetCDF)")
    if path.endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise ImportError("checkpoint=*.zarr needs zarr: pip install zarr, or give a .nc "
                              "path") from None
    return path


# --- what is trained: a rate network or an LSTM -----------------------------------------
class _RateLearner:
    """A RateNetwork and its readout through a ``Parametrisation``, trained by
    ``_bptt``."""

    def __init__(self, net, task, ss, *, n_outputs, readout, dt, method, checkpoint_every,
                 train_tau, train_h0, frozen, dale, mask, autapses, nonnegative_inputs,
                 low_rank, h0, rate_l2, weight_l1, weight_l2, feedback):
        _check_net(net, model_ok=True)
        m = _method(method)
        self.readout0 = _readout(readout, n_outputs, net, ss)
        self.xs, self.tg, self.mask, self.resp, task_dt = _task_arrays(
            task, net, self.readout0.n_outputs)
        self.dt = _dt(m, dt, task_dt)
        self.checkpoint_every = positive_int("checkpoint_every", checkpoint_every,
                                             allow_none=True)
        self.rate_l2, self.weight_l1, self.weight_l2 = (
            nonnegative_scalar(name, v) for name, v in (
                ("rate_l2", rate_l2), ("weight_l1", weight_l1), ("weight_l2", weight_l2)))
        if {"tau", "h0"} & set(frozen):
            raise ValueError("tau and h0 are fixed unless train_tau=True / train_h0=True: "
                             "leave them out of frozen")
        bad = set(frozen) - {"W", "U", "b", "C", "c"}
        if bad:
            raise ValueError(f"frozen={sorted(bad)}: the parameters are W, U, b, C, c")
        train = [n for n in ("W", "U", "b", "C", "c") if n not in frozen]
        if train_tau:
            if m.counts_steps:
                raise ValueError("train_tau=True with method='discrete': tau does not enter "
                                 "the discrete RNN h[t+1] = phi(W h[t] + U x[t] + b)")
            train.append("tau")
        if train_h0:
            train.append("h0")
        if isinstance(dale, str) and net.dale is None:  # labels given here: params says where
            raise ValueError(f"dale={dale!r} imposes Dale's law on a network that has no "
                             "E/I labels: give them to the network, RateNetwork(W, "
                             "dale=labels)")
        self.n_fb = _n_feedback(feedback, self.readout0.n_outputs, net.n_inputs,
                                f"the network's inputs (U {net.U.shape})")
        _check_fed_channels(self.xs, self.tg, self.mask, self.n_fb, feedback)
        self.net, self.m = net, m
        self.par = Parametrisation(net, self.readout0, _h0(h0, net.n_neurons), train=train,
                                   dale="abs" if dale is None else dale, mask=mask,
                                   autapses=autapses, nonnegative_inputs=nonnegative_inputs,
                                   low_rank=low_rank, seed=_seeding.child(ss, _seeding.INIT, 1))
        self.want_tau = "tau" in train
        self.theta0 = self.par.init()
        self.options = dict(frozen=tuple(frozen), dale=dale, mask=mask, autapses=autapses,
                            nonnegative_inputs=nonnegative_inputs, low_rank=low_rank,
                            train_tau=train_tau, train_h0=train_h0, channels=_channels(task))

    def adopt(self, theta, ref):
        """Start from ``theta`` (a trained Model's), which must stand for ``ref`` (the
        model's network), its readout and h0 under these constraints."""
        keys = list(self.theta0)
        bad = [k for k in keys if k not in theta
               or np.shape(theta[k]) != self.theta0[k].shape]
        if bad:
            raise ValueError(f"the model's parameters ({', '.join(sorted(theta))}) do not "
                             f"fit these constraints ({', '.join(keys)}): give fit the "
                             "options the model was trained with (frozen=, train_tau=, "
                             "train_h0=, low_rank=, ...)")
        th = {k: np.array(theta[k], dtype=np.float64) for k in keys}
        par, net = self.par, ref
        new, ro = par.network(th), par.readout(th)
        pairs = [(new._W.data if new.is_sparse else new._W,
                  net._W.data if net.is_sparse else net._W), (new._U, net._U),
                 (new._b, net._b), (new.tau_array, net.tau_array),
                 (ro.C, self.readout0.C), (ro.c, self.readout0.c),
                 (par.h0(th), par.h0_fixed)]
        if not all(np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-10, atol=1e-12)
                   for a, b in pairs):
            raise ValueError("the model's parameters theta do not give its network under "
                             "these constraints: give fit the options the model was "
                             "trained with (dale=, mask=, autapses=, nonnegative_inputs=, "
                             "...)")
        self.theta0 = th

    def _pass(self, theta, idx, keys, loss_fn, backward=True):
        par, B = self.par, idx.size
        netw, ro = par.network(theta), par.readout(theta)
        H0 = np.ascontiguousarray(np.broadcast_to(par.h0(theta), (B, self.net.n_neurons)))
        return _bptt.run(netw, np.array(ro.C), np.array(ro.c), self.xs[idx], H0,
                         method=self.m, dt=self.dt, loss_fn=loss_fn, targets=self.tg[idx],
                         mask=self.mask[idx], keys=None if keys is None else keys[idx],
                         want_tau=self.want_tau, checkpoint_every=self.checkpoint_every,
                         backward=backward)

    def loss_grad(self, theta, idx, keys):
        """(data loss, its gradient with respect to theta) on the trials idx."""
        p = self._pass(theta, idx, keys, self.loss_fn)
        if not p.report.ok:
            raise FloatingPointError(_diverged(p.report, self.net.n_neurons))
        return p.data_loss, self.par.pullback(theta, p.grads)

    def keys(self, ss):
        """Fixed noise for evaluations: one key per trial of the task (None without
        noise)."""
        return _noise_keys(self.net, ss, 0, self.xs.shape[0])

    def outputs(self, theta, idx, keys):
        """The outputs y (len(idx), T, n_out) on the trials idx."""
        p = self._pass(theta, idx, keys, self.loss_fn, backward=False)
        if not p.report.ok:
            raise FloatingPointError(_diverged(p.report, self.net.n_neurons))
        return p.y

    def vjp(self, theta, idx, ybar, keys):
        """d(sum ybar * y)/dtheta on the trials idx, ybar (len(idx), T, n_out): one
        backward pass with ybar in place of dL/dy."""
        p = self._pass(theta, idx, keys, lambda y, t, m: (0.0, ybar))
        if not p.report.ok:
            raise FloatingPointError(_diverged(p.report, self.net.n_neurons))
        return self.par.pullback(theta, p.grads)

    def fingerprint(self, common):
        par, net = self.par, self.net
        return {
            "network": _digest(net._W.data if net.is_sparse else net._W, net._U, net._b,
                               net.tau_array, net.noise_array, net.phi.name, repr(net.stp),
                               None if net.dale is None else net.dale.tolist()),
            "task": _digest(self.xs, self.tg, self.mask),
            "readout": _digest(self.readout0.C, self.readout0.c),
            "h0": _digest(par.h0_fixed),
            "constraints": _digest(par.train, par.dale, par.nonneg_U, par.rank,
                                   np.zeros(0) if par.mask is None else par.mask),
            "method and dt": _digest(self.m.name, self.dt),
            "regularisers": _digest(self.rate_l2, self.weight_l1, self.weight_l2),
            **common}

    def step(self, theta, idx, it, ss, take):
        """(loss, data loss, gradient wrt theta or None, outputs y, what failed or "")."""
        par, B = self.par, idx.size
        netw, ro = par.network(theta), par.readout(theta)
        H0 = np.ascontiguousarray(np.broadcast_to(par.h0(theta), (B, self.net.n_neurons)))
        p = _bptt.run(netw, np.array(ro.C), np.array(ro.c), self.xs[idx], H0, method=self.m,
                      dt=self.dt, loss_fn=self.loss_fn, targets=self.tg[idx],
                      mask=self.mask[idx], keys=_noise_keys(netw, ss, it, B),
                      want_tau=self.want_tau, rate_l2=self.rate_l2,
                      checkpoint_every=self.checkpoint_every,
                      feedback=None if take is None else (self.n_fb, take))
        pen, gpen = par.weight_penalty(theta, self.weight_l1, self.weight_l2)
        total = p.loss + pen
        what = "" if p.report.ok else _diverged(p.report, self.net.n_neurons)
        if not math.isfinite(total):
            return total, p.data_loss, None, p.y, what
        grads = par.pullback(theta, p.grads)
        for k, v in gpen.items():
            grads[k] = grads[k] + v
        return total, p.data_loss, grads, p.y, what

    def model(self, theta, history, interrupted):
        par, m = self.par, self.m
        return Model(par.network(theta), par.readout(theta), np.array(par.h0(theta)),
                     history, m.name, None if m.counts_steps else self.dt, interrupted,
                     dict(theta), dict(self.options))


class _LSTMLearner:
    """An LSTM (``ctrnn.train.lstm``): theta holds its state dict, float64."""

    def __init__(self, net, task, ss, *, n_outputs, feedback, frozen, stacklevel=4,
                 **rate_only):
        defaults = {**_OPTIONS, "method": "euler"}  # _learner has set the method
        given = [k for k, v in rate_only.items() if not _same(v, defaults[k])]
        if given:
            raise ValueError(f"{', '.join(given)}: options of a rate network, not of the "
                             "LSTM (a discrete-time model with its own readout); leave "
                             "them out")
        if n_outputs is not None and n_outputs != net.n_outputs:
            raise ValueError(f"n_outputs={n_outputs} but the LSTM has {net.n_outputs} "
                             "outputs (its readout)")
        self.net = net
        self.xs, self.tg, self.mask, self.resp, _ = _task_arrays(
            task, net, net.n_outputs, fix="make an LSTM with as many outputs as the task",
            inputs_fix="make an LSTM with as many inputs as the task")
        self.n_fb = _n_feedback(feedback, net.n_outputs, net.n_inputs,
                                f"the LSTM's {net.n_inputs} inputs")
        _check_fed_channels(self.xs, self.tg, self.mask, self.n_fb, feedback, stacklevel)
        names = list(net.state_dict())
        bad = set(frozen) - set(names)
        if bad:
            raise ValueError(f"frozen={sorted(bad)}: the LSTM's parameters are {names}")
        self.theta0 = {k: v for k, v in net.state_dict().items() if k not in frozen}
        self.fixed = {k: v for k, v in net.state_dict().items() if k in frozen}
        self.dt = None
        self.options = dict(frozen=tuple(frozen), channels=_channels(task))

    def adopt(self, theta, ref):
        """theta is the state dict the optimiser held, in float64 (the network's own may
        be rounded to float32)."""
        self.theta0 = {k: np.array(theta[k], dtype=np.float64) if k in theta else v
                       for k, v in self.theta0.items()}

    def keys(self, ss):
        return None

    def _forward(self, theta, idx):
        from .lstm import forward

        z = np.zeros((idx.size, self.net.n_hidden))
        f = forward({**self.fixed, **theta}, self.xs[idx], z, z, self.net.dtype)
        if f.bad >= 0:
            raise FloatingPointError(f"the LSTM's state left the finite range at step "
                                     f"{f.bad}")
        return f

    def outputs(self, theta, idx, keys):
        return self._forward(theta, idx).y.astype(np.float64)

    def loss_grad(self, theta, idx, keys):
        loss, g, _, _, what = self.evaluate({**self.fixed, **theta}, idx, None)
        if g is None:
            raise FloatingPointError(what or f"the loss is {loss}")
        return loss, {k: g[k] for k in theta}

    def vjp(self, theta, idx, ybar, keys):
        from .lstm import backward

        f = self._forward(theta, idx)
        g, _ = backward({**self.fixed, **theta}, f, ybar, self.net.dtype)
        return {k: g[k] for k in theta}

    def fingerprint(self, common):
        sd = self.net.state_dict()
        return {"network": _digest(*(sd[k] for k in sorted(sd))),
                "dtype": _digest(self.net.dtype.name),
                "task": _digest(self.xs, self.tg, self.mask), **common}

    def step(self, theta, idx, it, ss, take):
        loss, g, y, _, what = self.evaluate({**self.fixed, **theta}, idx, take)
        return loss, loss, None if g is None else {k: g[k] for k in theta}, y, what

    def evaluate(self, p, idx, take, norms=False):
        """(loss, gradient of every parameter and of h0, c0 or None, outputs y, norms,
        what failed or "") of parameters p on the trials idx."""
        from .lstm import backward, forward

        B = idx.size
        z = np.zeros((B, self.net.n_hidden))
        dtype = self.net.dtype
        f = forward(p, self.xs[idx], z, z, dtype, n_fb=self.n_fb if take is not None else 0,
                    take=take)
        y = f.y.astype(np.float64)
        if f.bad >= 0:
            return math.nan, None, y, None, f"the LSTM's state left the finite range at " \
                f"step {f.bad}"
        with np.errstate(over="ignore", invalid="ignore"):
            loss, ybar = self.loss_fn(y, self.tg[idx], self.mask[idx])
        ybar = check_loss(self.loss_fn, loss, ybar, y.shape)
        loss = float(loss)
        if not math.isfinite(loss):
            return loss, None, y, None, ""
        g, nrm = backward(p, f, ybar, dtype, norms=norms)
        return loss, g, y, nrm, ""

    def model(self, theta, history, interrupted):
        from .lstm import LSTM

        p = {**self.fixed, **theta}
        net = LSTM.from_state_dict(p, dtype=self.net.dtype.name)
        return Model(net, Readout(p["readout.weight"], p["readout.bias"]),
                     np.zeros(net.n_hidden), history, "lstm", None, interrupted, dict(theta),
                     dict(self.options))


def _same(a, b):
    if a is None or b is None:
        return a is b
    try:
        return bool(np.all(a == b))
    except Exception:
        return False


def _check_fed_channels(xs, tg, mask, n_fb, feedback, stacklevel=4):
    """Warn when the last n_fb input channels do not hold the previous targets, which
    feedback= replaces by the model's own outputs (not for teacher forcing, which
    replaces nothing)."""
    if n_fb == 0 or xs.shape[1] < 2 or feedback is teacher_forcing:
        return
    fed, prev = xs[:, 1:, -n_fb:], tg[:, :-1]
    w = mask[:, :-1] > 0
    if not w.any():
        w = np.ones_like(w)
    off = ~np.isclose(fed, prev, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(prev).max()))
    frac = float(np.mean(off[w]))
    if frac > 0.01:
        warnings.warn(f"feedback=: the task's last {n_fb} input channel(s) differ from the "
                      f"previous targets in {100 * frac:.0f}% of the samples, yet they are "
                      "the channels that receive the model's own outputs. A task for "
                      "output feedback holds target t - 1 in them at step t (as "
                      "ctrnn.tasks.sequence_prediction makes); check the task's channel "
                      "order", RuntimeWarning, stacklevel=stacklevel)


def _n_feedback(feedback, n_outputs, n_inputs, where):
    if feedback is None:
        return 0
    if n_inputs < n_outputs:
        raise ValueError(f"feedback={feedback.name}: the {n_outputs} outputs are fed back "
                         f"into the last {n_outputs} input channels, but {where} has only "
                         f"{n_inputs}: give the model n_inputs >= n_outputs (the task's "
                         "last input channels holding the previous target)")
    return n_outputs


# --- continuing from a trained model, remedies ---------------------------------------
# fit's options that set up a learner, with their defaults (method None: euler, or a
# Model's own)
_OPTIONS = dict(n_outputs=None, readout=None, dt=None, method=None, checkpoint_every=None,
                train_tau=False, train_h0=False, frozen=(), dale=None, mask=None,
                autapses=True, nonnegative_inputs=False, low_rank=None, h0=None, rate_l2=0.0,
                weight_l1=0.0, weight_l2=0.0, feedback=None)
# the constraints that map theta to the network: a Model keeps them (Model.options)
_CONSTRAINTS = {k: _OPTIONS[k] for k in ("frozen", "dale", "mask", "autapses",
                                         "nonnegative_inputs", "low_rank", "train_tau",
                                         "train_h0")}


def _learner(net, task, ss, options):
    """The learner for ``net`` (a RateNetwork, an LSTM, or a trained Model to continue
    from: its network, readout, h0, method, dt, theta and constraints) on ``task``."""
    from .lstm import LSTM

    o = dict(options)
    start = ref = None
    if isinstance(net, Model):
        model = net
        _check_channels(model, task)
        for name in ("readout", "h0"):
            if o[name] is not None:
                raise ValueError(f"fit(model, ...) continues from the model's own {name}: "
                                 f"leave {name}= out (or give model.network to start anew)")
        for k, default in _CONSTRAINTS.items():  # options left at their default: the model's
            if k in model.options and _same(o[k], default):
                o[k] = model.options[k]
        if model.method == "lstm":
            if o["method"] is not None:
                raise ValueError(f"method={o['method']!r} is for rate networks; the model is "
                                 "an LSTM: leave method= out")
        else:
            if o["method"] is None:
                o["method"] = model.method
            elif _method(o["method"]).name != model.method:
                raise ValueError(f"the model was trained with method={model.method!r}; "
                                 f"method={o['method']!r} would change its dynamics: leave "
                                 "method= out")
            if o["dt"] is None and model.dt is not None:
                task_dt = _task_dt(task) if isinstance(task, xr.Dataset) else None
                if task_dt is not None and abs(task_dt - model.dt) > 1e-9 * model.dt:
                    raise ValueError(f"the model was trained at dt={model.dt}, but the task "
                                     f"is sampled at dt={task_dt}: make the task with "
                                     f"dt={model.dt}")
                o["dt"] = model.dt
            o["readout"], o["h0"] = model.readout, model.h0
        net = ref = model.network
        start = model.theta
        if o["low_rank"] is not None and "M" in start and "Nv" in start:
            # the network holds W0 + M N^T / n: the fixed part is W0
            net = net.replace(W=np.array(net.W) - start["M"] @ start["Nv"].T / net.n_neurons)
    o["frozen"] = (o["frozen"],) if isinstance(o["frozen"], str) else tuple(o["frozen"])
    if o["method"] is None:
        o["method"] = "euler"
    learner = _LSTMLearner(net, task, ss, **o) if isinstance(net, LSTM) \
        else _RateLearner(net, task, ss, **o)
    if start:
        learner.adopt(start, ref)
    return learner


def _as_items(remedy):
    """remedy= as a list: none, one, or a list or tuple of them."""
    return [] if remedy is None else list(remedy) if isinstance(remedy, (list, tuple)) \
        else [remedy]


def _bind_remedies(remedy, learner, batch_size):
    from .continual import Remedy, Replay

    items = _as_items(remedy)
    for r in items:
        if not isinstance(r, Remedy):
            raise TypeError(f"remedy must be ctrnn.train.ewc(...), orthogonal_projection(...) "
                            f"or replay(...), or a list of them; got {type(r).__name__}")
    if sum(isinstance(r, Replay) for r in items) > 1:
        raise ValueError("remedy= holds more than one replay: replay one old task (put "
                         "several old tasks' trials in one Dataset with xarray.concat "
                         "along trial)")
    return [r._bind(learner, batch_size) for r in items]


def _draw(rng, n_trials, batch_size, remedies):
    """The trials of one iteration (replay adds trials of the old task, stored after the
    task's own)."""
    for r in remedies:
        idx = r.draw(rng, n_trials, batch_size)
        if idx is not None:
            return idx
    return np.sort(rng.choice(n_trials, size=batch_size, replace=False))


# --- fit ------------------------------------------------------------------------------
_HISTORY = ("loss", "data_loss", "accuracy", "grad_norm", "lr", "eps")


def fit(net, task, *, n_outputs=None, readout=None, dt=None, method=None,
        optimizer=None, batch_size=64, iterations=1000, loss=None, clip_grad_norm=None,
        seed=None, progress=None, checkpoint=None, checkpoint_interval=100, resume=True,
        checkpoint_every=None, train_tau=False, train_h0=False, frozen=(), dale=None,
        mask=None, autapses=True, nonnegative_inputs=False, low_rank=None, h0=None,
        rate_l2=0.0, weight_l1=0.0, weight_l2=0.0, feedback=None, remedy=None):
    """Train ``net`` and a linear readout on ``task`` by backpropagation through time,
    with exact gradients of the discretised network computed by ctrnn's own kernels.

    Each iteration draws ``batch_size`` trials of the task and fresh noise (both
    functions of (seed, iteration) only), runs the forward pass and its adjoint on the
    whole batch at once (matrix-matrix products), clips the gradient and takes one
    optimiser step on the unconstrained parameters (``ctrnn.train.params``).

    Parameters
    ----------
    net : RateNetwork, LSTM or Model
        The starting network; its phi, noise, STP and Dale labels are kept. A trained
        ``Model`` continues from exactly where it stopped: its network, readout, h0,
        method, dt, unconstrained parameters (``model.theta``) and constraints
        (``model.options``: frozen, dale, mask, ...; an option given here other than
        its default replaces the model's, so a frozen parameter stays frozen), with a
        fresh optimiser state. That is how a second task is learned after a first
        (``remedy=``).
    task : xarray.Dataset
        inputs (trial, time, input), targets (trial, time, output), optional mask and
        response (see ``ctrnn.tasks``).
    n_outputs : int, optional
        Size of a new readout (C ~ N(0, 1 / n_neurons), c = 0); or give ``readout``.
    readout : Readout or (C, c), optional
        The starting readout.
    dt : float, optional
        Step size; default the task's dt. None for method="discrete".
    method : str, optional
        "euler" (default; a Model's own), "exponential_euler", "discrete", "heun" or
        "rk4".
    optimizer : Adam or SGD, optional
        Default Adam(lr=1e-3).
    batch_size : int
        Trials per iteration (at most the task's trials; drawn without replacement).
    iterations : int
        Total number of iterations (a resumed run continues up to this number).
    loss : {"mse", "cross_entropy"} or callable, optional
        Default the task's ``loss`` attribute, else "mse".
    clip_grad_norm : float, optional
        Rescale the gradient to at most this global norm (Pascanu et al. 2013).
    seed : int, optional
        Seeds the readout, the batches and the noise; None draws one (recorded in the
        checkpoint and ``history.attrs``).
    progress : bool or callable, optional
        A progress bar with the loss (None: once training takes a few seconds).
    checkpoint : str or path, optional
        A .zarr or .nc file that receives the parameters, optimiser state, seed and
        history every ``checkpoint_interval`` iterations and at the end (written
        complete or not at all). If it exists and ``resume`` is True, training continues
        from it, bit for bit as if never interrupted.
    checkpoint_interval : int
        Iterations between checkpoints.
    resume : bool
        Continue from an existing ``checkpoint`` (True) or overwrite it (False).
    checkpoint_every : int, optional
        Memory for long trials: keep every k-th state in the forward pass and recompute
        the rest (the gradient is unchanged bit for bit).
    train_tau, train_h0 : bool
        Also learn the time constants (through log tau) and the initial state.
    frozen : sequence of str
        Parameters to keep fixed, of "W", "U", "b", "C", "c".
    dale : {"abs", "rectify"}, optional
        For a network with ``dale`` labels: W = |W~| D ("abs", the default) or
        max(W~, 0) D ("rectify"). A network without labels takes none.
    mask : array_like of bool, shape (n_neurons, n_neurons), optional
        Synapses that exist; the others stay zero.
    autapses : bool
        False: no self-connections (the diagonal of W stays zero).
    nonnegative_inputs : bool
        U = |U~| >= 0.
    low_rank : int, optional
        Train W = W0 + M N^T / n_neurons with W0 = net.W fixed and M, N of this rank.
    h0 : array_like, shape (n_neurons,), optional
        Initial state (default zeros).
    rate_l2, weight_l1, weight_l2 : float
        Regularisers: rate_l2 mean(h^2); weight_l1 sum |W|; weight_l2 sum W^2.
    feedback : Feedback, optional
        For sequence generation: the last n_outputs input channels of the task hold the
        previous target, and are filled by ``ctrnn.train.teacher_forcing`` (always the
        truth), ``free_running`` (the model's own previous output) or
        ``scheduled_sampling(...)`` (the truth with a probability that decays over
        iterations; Bengio et al. 2015). The gradient does not flow through a fed-back
        output (``ctrnn.train.sampling``). None: the inputs are used as given.
    remedy : remedy or list of remedies, optional
        Against forgetting an earlier task while this one is learned (continual
        learning; ``ctrnn.train.continual``): ``ctrnn.train.ewc(model_a, task_a)``
        (a penalty added to the loss), ``orthogonal_projection(model_a, task_a)``
        (every step projected) or ``replay(task_a)`` (old trials mixed into the
        batches; ``history`` then scores the mixed batches).

    An ``LSTM`` (``ctrnn.train.LSTM``) trains the same way, with its own readout; the
    options of rate networks (dt, method, Dale's law, masks, tau, h0, the regularisers,
    checkpoint_every) do not apply to it, and ``frozen`` takes its state-dict names.

    Returns
    -------
    Model
        The trained network (a RateNetwork, or an LSTM), readout, h0 and history.
        Ctrl-C returns the model so far (``model.interrupted`` is True) after writing
        the checkpoint.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, LSTM or Model, task not a Dataset, feedback not a
        training mode, remedy not a remedy, or a count (batch_size, iterations,
        checkpoint_interval, checkpoint_every, low_rank) is not a whole number, or a
        number (dt, lr, rate_l2, ...) is of another type.
    ValueError
        If the task does not fit the network (both shapes named), an option is out of
        range, the checkpoint belongs to a different training set-up, a Model is
        given with readout= or h0= or another method, its parameters do not fit the
        constraints given, or a remedy was made for other parameters.
    FloatingPointError
        If the loss becomes NaN or inf (the message names the iteration and what to
        change; ``err.model`` holds the model before that step). A feedback schedule
        that leaves [0, 1] raises ValueError, with ``err.model`` too.

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(32, 10, 1))
    >>> task = xr.Dataset({"inputs": (("trial", "time", "input"), x),
    ...                    "targets": (("trial", "time", "output"), np.cumsum(x, 1) / 5)},
    ...                   attrs={"dt": 0.1})
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, g=0.5, seed=0),
    ...                         U=np.ones((20, 1)), phi="tanh")
    >>> model = ctrnn.train.fit(net, task, n_outputs=1, iterations=50, batch_size=16,
    ...                         optimizer=ctrnn.train.Adam(lr=1e-2), seed=0, progress=False)
    >>> bool(model.history.loss[-1] < model.history.loss[0])
    True
    """
    from .lstm import LSTM

    path = _check_path(checkpoint)
    stored = None
    if path is not None and resume and os.path.exists(path):
        stored = _load_checkpoint(path)
        seed_c = stored[3]
        if seed is not None and str(_seeding.seed_sequence(seed)[1]) != str(seed_c):
            raise ValueError(f"the checkpoint {path!r} was trained with seed={seed_c!r}, not "
                             f"{seed!r}: pass that seed (or seed=None) to resume")
        seed = seed_c
    ss, seed_attr = _seeding.seed_sequence(seed)
    feedback = as_feedback(feedback)
    options = dict(n_outputs=n_outputs, readout=readout, dt=dt, method=method,
                   checkpoint_every=checkpoint_every, train_tau=train_tau,
                   train_h0=train_h0, frozen=frozen, dale=dale, mask=mask,
                   autapses=autapses, nonnegative_inputs=nonnegative_inputs,
                   low_rank=low_rank, h0=h0, rate_l2=rate_l2, weight_l1=weight_l1,
                   weight_l2=weight_l2, feedback=feedback)
    learner = _learner(net, task, ss, options)
    batch_size = positive_int("batch_size", batch_size)
    remedies = _bind_remedies(remedy, learner, batch_size)
    n_trials, T = learner.xs.shape[:2]
    if batch_size > n_trials:
        raise ValueError(f"batch_size={batch_size} is larger than the task's {n_trials} "
                         "trials: make more trials or a smaller batch")
    iterations = positive_int("iterations", iterations)
    checkpoint_interval = positive_int("checkpoint_interval", checkpoint_interval)
    optimizer = Adam() if optimizer is None else optimizer
    if not isinstance(optimizer, (Adam, SGD)):
        raise TypeError(f"optimizer must be ctrnn.train.Adam or SGD; got {optimizer!r}")
    loss = task.attrs.get("loss", "mse") if loss is None else loss
    learner.loss_fn = get_loss(loss)
    if clip_grad_norm is not None:
        clip_by_global_norm({}, clip_grad_norm)  # validates
    theta = learner.theta0
    if not theta:
        raise ValueError("nothing to train: every parameter is frozen")
    opt_state = optimizer.init(theta)
    history = {k: [] for k in _HISTORY}
    start = 0
    fingerprint = learner.fingerprint({
        "optimizer": _digest(optimizer), "loss": _digest(loss),
        "batch_size": _digest(batch_size), "clip_grad_norm": _digest(clip_grad_norm),
        "parameters": _digest(sorted((k, v.shape) for k, v in theta.items())),
        **({"remedy": _digest(*(r.fingerprint() for r in remedies))} if remedies else {}),
        # only with feedback: checkpoints written before it existed still resume
        **({} if feedback is None else {"feedback": _digest(feedback)})})
    if stored is not None:
        theta_c, opt_c, start, _, fp, hist_c = stored
        # "feedback" and "remedy" are absent when there is none, on either side
        keys = list(fingerprint) + [k for k in ("feedback", "remedy")
                                    if k in fp and k not in fingerprint]
        none = {"feedback": _digest(None), "remedy": _digest(None)}
        differ = [k for k in keys if fp.get(k, none.get(k)) != fingerprint.get(k, none.get(k))]
        if differ:
            def what(k):  # settings are kept as text, arrays as hashes
                old, new = fp.get(k, none.get(k)), fingerprint.get(k, none.get(k))
                return k if old is None or len(new) == 16 and len(old) == 16 \
                    else f"{k} ({old} there, {new} here)"
            raise ValueError(f"the checkpoint {path!r} was written by a different set-up; "
                             f"what differs: {'; '.join(what(k) for k in differ)}. Give "
                             "the same arguments to resume, another path, or resume=False "
                             "to overwrite it")
        if start >= iterations:
            warnings.warn(f"the checkpoint {path!r} holds {start} iterations, iterations="
                          f"{iterations}: returning it as it is (raise iterations to train "
                          "on)", RuntimeWarning, stacklevel=2)
        # a column that an older checkpoint lacks is NaN for its iterations
        theta, opt_state, history = theta_c, opt_c, {
            k: hist_c.get(k, [math.nan] * start) for k in _HISTORY}

    def model(th, interrupted=False):
        return learner.model(th, _history_dataset(history, seed_attr), interrupted)

    def failed(message, th):
        err = FloatingPointError(message)
        err.model = model(th)
        return err

    interrupted = False
    with Progress(iterations, enabled=progress, label="ctrnn.train.fit",
                  unit="it") as bar:
        try:
            for it in range(start, iterations):
                rng = np.random.default_rng(_seeding.child(ss, _seeding.BATCH, it))
                idx = _draw(rng, n_trials, batch_size, remedies)
                try:
                    eps = math.nan if feedback is None else feedback.eps(it)
                except ValueError as exc:  # a schedule out of range: keep the model
                    exc.model = model(theta)
                    raise
                take = None if feedback is None else feedback.take(ss, it, batch_size, T,
                                                                   eps=eps)
                total, data_loss, grads, y, what = learner.step(theta, idx, it, ss, take)
                if grads is not None:
                    for r in remedies:  # penalties (EWC)
                        total, grads = r.penalise(theta, total, grads)
                if grads is None:
                    raise failed(f"the loss became {total} at iteration {it}"
                                 + (f" ({what})" if what else "")
                                 + ": lower the learning rate, set clip_grad_norm= "
                                 "(e.g. 1.0), or start from weights of smaller gain; "
                                 "err.model holds the model before this iteration", theta)
                gnorm = global_norm(grads)
                if not math.isfinite(gnorm):
                    raise failed(f"the gradient became {gnorm} at iteration {it} (the loss "
                                 f"was {total}): lower the learning rate or start from "
                                 "weights of smaller gain; err.model holds the model "
                                 "before this iteration", theta)
                if clip_grad_norm is not None:
                    grads, _ = clip_by_global_norm(grads, clip_grad_norm)
                lr = optimizer.lr(opt_state["step"]) if callable(optimizer.lr) \
                    else optimizer.lr
                new_theta, new_state = optimizer.update(grads, opt_state, theta)
                for r in remedies:  # constraints on the step (orthogonal projection)
                    new_theta = r.project(theta, new_theta)
                acc = accuracy(y, learner.tg[idx], learner.resp[idx]) \
                    if learner.resp is not None else float("nan")
                row = dict(zip(_HISTORY, (total, data_loss, acc, gnorm, lr, eps)))
                # commit the step in one assignment: Ctrl-C leaves it done or not done
                old_theta = theta
                theta, opt_state, history = new_theta, new_state, {
                    k: history[k] + [float(row[k])] for k in _HISTORY}
                done = it + 1
                for r in remedies:
                    r.observe(it, old_theta, theta)
                if path is not None and (done % checkpoint_interval == 0
                                         or done == iterations):
                    _save_checkpoint(path, theta, opt_state, done, seed_attr, fingerprint,
                                     history)
                bar.update(done, loss=f"{total:.4g}")
        except KeyboardInterrupt:
            interrupted = True
            done = len(history["loss"])
            if path is not None and done > start:
                _save_checkpoint(path, theta, opt_state, done, seed_attr, fingerprint,
                                 history)
            warnings.warn(f"training interrupted after {done} iterations: returning the "
                          "model so far" + (f" (saved to {path})" if path else ""),
                          RuntimeWarning, stacklevel=2)
    return model(theta, interrupted)


def _describe(v):
    """A text for a setting that is the same in every process: a function (a schedule,
    a loss) by its name, code and captured values rather than its address."""
    if callable(v) and hasattr(v, "__code__"):
        code = v.__code__
        cells = tuple(c.cell_contents for c in (v.__closure__ or ()))
        return repr((v.__module__, v.__qualname__, code.co_code.hex(), code.co_consts,
                     cells, v.__defaults__))
    if hasattr(v, "__dataclass_fields__"):
        return type(v).__name__ + "(" + ", ".join(
            f"{f}={_describe(getattr(v, f))}" for f in v.__dataclass_fields__) + ")"
    return repr(v)


def _digest(*items):
    """A part of a training set-up's fingerprint: a short text of the items when it is
    one (settings), else a 16-character hash (arrays), so that a checkpoint resumes only
    the run that wrote it and a refusal names what differs."""
    if not any(hasattr(a, "shape") and hasattr(a, "dtype") for a in items):
        text = ", ".join(_describe(a) for a in items)
        if len(text) <= 120:
            return text
    h = hashlib.sha256()
    for a in items:
        if isinstance(a, np.ndarray) or (hasattr(a, "shape") and hasattr(a, "dtype")):
            a = np.ascontiguousarray(a, dtype=np.float64)
            h.update(repr(a.shape).encode())
            h.update(a.tobytes())
        else:
            h.update(_describe(a).encode())
    return h.hexdigest()[:16]


def _history_dataset(history, seed_attr):
    n = len(history["loss"])
    units = dict(loss="", data_loss="", accuracy="fraction of trials", grad_norm="",
                 lr="", eps="probability of feeding the truth")
    return xr.Dataset(
        {k: ("iteration", np.asarray(history[k], dtype=np.float64),
             {"units": units[k]} if units[k] else {}) for k in _HISTORY},
        coords={"iteration": np.arange(n)}, attrs={"seed": seed_attr})
