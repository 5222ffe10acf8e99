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
from .losses import accuracy, get_loss
from .optim import Adam, SGD, clip_by_global_norm, global_norm
from .params import Parametrisation, Readout

__all__ = ["fit", "gradient", "gradient_norms", "Model"]


# --- validation -----------------------------------------------------------------------
def _check_net(net):
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a RateNetwork; got {type(net).__name__}")
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
    from a task Dataset, checked against the network before any work."""
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
        raise ValueError(f"the task has {xs.shape[2]} inputs (task.inputs {xs.shape}) but "
                         f"the network takes {net.n_inputs} (U {net.U.shape}): "
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
    dt = task.attrs.get("dt")
    if dt is None and "time" in task.coords and task.sizes["time"] > 1:
        dt = float(task["time"][1] - task["time"][0])
    return xs, tg, mask, resp, dt


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
def _one_pass(net, readout, task, *, loss, dt, method, h0, seed, checkpoint_every, rate_l2,
              norms, want_tau):
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
    p = _bptt.run(net, np.array(readout.C), np.array(readout.c), xs, H0, method=m, dt=dt,
                  loss_fn=get_loss(loss), targets=tg, mask=mask, keys=keys,
                  want_tau=want_tau, rate_l2=rate_l2,
                  checkpoint_every=positive_int("checkpoint_every", checkpoint_every,
                                                allow_none=True), norms=norms)
    if not p.report.ok:
        raise FloatingPointError(_diverged(p.report, net.n_neurons)
                                 + ": the network diverges; reduce the weights' gain")
    return p, m, dt


def gradient(net, readout, task, *, loss="mse", dt=None, method="euler", h0=None, seed=0,
             checkpoint_every=None, rate_l2=0.0):
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

    Returns
    -------
    dict
        "loss" (float) and the gradients "W" (n_neurons, n_neurons) (for a sparse W:
        (nnz,), on its stored entries, in CSR order), "U" (n_neurons, n_inputs), "b",
        "tau" (n_neurons,) (None for "discrete"), "h0" (n_neurons,) (summed over
        trials), "C" (n_outputs, n_neurons) and "c" (n_outputs,).

    Raises
    ------
    TypeError
        If net is not a RateNetwork or task not a Dataset.
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
    p, m, _ = _one_pass(net, readout, task, loss=loss, dt=dt, method=method, h0=h0,
                        seed=seed, checkpoint_every=checkpoint_every, rate_l2=rate_l2,
                        norms=False, want_tau=True)
    g = dict(p.grads)
    g["h0"] = g["h0"].sum(axis=0)
    return {"loss": p.loss, **g}


def gradient_norms(net, readout, task, *, loss="mse", dt=None, method="euler", h0=None,
                   seed=0):
    """||dL/dh_t|| for every state h_0 .. h_T of every trial: how far back in time the
    loss reaches (the vanishing-gradient problem; Bengio, Simard & Frasconi 1994; Pascanu
    et al. 2013). For an Euler step, J_t = (1 - a) I + a diag(phi'(z_t)) W with
    a = dt / tau, so ||J_t|| <= 1 - a (1 - gamma ||W||), gamma = sup |phi'|: when
    gamma ||W|| < 1 the norms decay at least geometrically going back from the loss.

    Parameters
    ----------
    As ``gradient``.

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
    p, m, dt = _one_pass(net, readout, task, loss=loss, dt=dt, method=method, h0=h0,
                         seed=seed, checkpoint_every=None, rate_l2=0.0, norms=True,
                         want_tau=False)
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
    other), ``readout`` (y = C h + c), ``h0`` (the initial state, (n_neurons,)),
    ``history`` (a Dataset over iterations: loss (with the penalties), data_loss,
    accuracy, grad_norm, lr), and the
    ``method`` and ``dt`` it was trained with."""

    network: RateNetwork
    readout: Readout
    h0: np.ndarray
    history: xr.Dataset
    method: str
    dt: float | None
    interrupted: bool = False
    theta: dict = field(default_factory=dict, repr=False)

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
            with the task's targets, mask and response.

        Raises
        ------
        ValueError
            If the task does not fit the network.

        Examples
        --------
        See ``ctrnn.train.fit``.
        """
        from ..simulate import simulate

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
        out = xr.Dataset({"h": h, "y": y})
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


# --- fit ------------------------------------------------------------------------------
_HISTORY = ("loss", "data_loss", "accuracy", "grad_norm", "lr")


def fit(net, task, *, n_outputs=None, readout=None, dt=None, method="euler",
        optimizer=None, batch_size=64, iterations=1000, loss=None, clip_grad_norm=None,
        seed=None, progress=None, checkpoint=None, checkpoint_interval=100, resume=True,
        checkpoint_every=None, train_tau=False, train_h0=False, frozen=(), dale=None,
        mask=None, autapses=True, nonnegative_inputs=False, low_rank=None, h0=None,
        rate_l2=0.0, weight_l1=0.0, weight_l2=0.0):
    """Train ``net`` and a linear readout on ``task`` by backpropagation through time,
    with exact gradients of the discretised network computed by ctrnn's own kernels.

    Each iteration draws ``batch_size`` trials of the task and fresh noise (both
    functions of (seed, iteration) only), runs the forward pass and its adjoint on the
    whole batch at once (matrix-matrix products), clips the gradient and takes one
    optimiser step on the unconstrained parameters (``ctrnn.train.params``).

    Parameters
    ----------
    net : RateNetwork
        The starting network; its phi, noise, STP and Dale labels are kept.
    task : xarray.Dataset
        inputs (trial, time, input), targets (trial, time, output), optional mask and
        response (see ``ctrnn.tasks``).
    n_outputs : int, optional
        Size of a new readout (C ~ N(0, 1 / n_neurons), c = 0); or give ``readout``.
    readout : Readout or (C, c), optional
        The starting readout.
    dt : float, optional
        Step size; default the task's dt. None for method="discrete".
    method : str
        "euler" (default), "exponential_euler", "discrete", "heun" or "rk4".
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

    Returns
    -------
    Model
        The trained network, readout, h0 and history. Ctrl-C returns the model so far
        (``model.interrupted`` is True) after writing the checkpoint.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, task not a Dataset, or a count (batch_size,
        iterations, checkpoint_interval, checkpoint_every, low_rank) is not a whole
        number, or a number (dt, lr, rate_l2, ...) is of another type.
    ValueError
        If the task does not fit the network (both shapes named), an option is out of
        range, or the checkpoint belongs to a different training set-up.
    FloatingPointError
        If the loss becomes NaN or inf (the message names the iteration and what to
        change; ``err.model`` holds the model before that step).

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
    _check_net(net)
    m = _method(method)
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
    readout0 = _readout(readout, n_outputs, net, ss)
    xs_all, tg_all, mask_all, resp_all, task_dt = _task_arrays(task, net, readout0.n_outputs)
    dt = _dt(m, dt, task_dt)
    n_trials = xs_all.shape[0]
    batch_size = positive_int("batch_size", batch_size)
    if batch_size > n_trials:
        raise ValueError(f"batch_size={batch_size} is larger than the task's {n_trials} "
                         "trials: make more trials or a smaller batch")
    iterations = positive_int("iterations", iterations)
    checkpoint_interval = positive_int("checkpoint_interval", checkpoint_interval)
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every, allow_none=True)
    optimizer = Adam() if optimizer is None else optimizer
    if not isinstance(optimizer, (Adam, SGD)):
        raise TypeError(f"optimizer must be ctrnn.train.Adam or SGD; got {optimizer!r}")
    loss = task.attrs.get("loss", "mse") if loss is None else loss
    loss_fn = get_loss(loss)
    if clip_grad_norm is not None:
        clip_by_global_norm({}, clip_grad_norm)  # validates
    rate_l2, weight_l1, weight_l2 = (nonnegative_scalar(name, v) for name, v in (
        ("rate_l2", rate_l2), ("weight_l1", weight_l1), ("weight_l2", weight_l2)))
    frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)
    if {"tau", "h0"} & set(frozen):
        raise ValueError("tau and h0 are fixed unless train_tau=True / train_h0=True: leave "
                         "them out of frozen")
    bad = set(frozen) - {"W", "U", "b", "C", "c"}
    if bad:
        raise ValueError(f"frozen={sorted(bad)}: the parameters are W, U, b, C, c")
    train = [n for n in ("W", "U", "b", "C", "c") if n not in frozen]
    if train_tau:
        if m.counts_steps:
            raise ValueError("train_tau=True with method='discrete': tau does not enter the "
                             "discrete RNN h[t+1] = phi(W h[t] + U x[t] + b)")
        train.append("tau")
    if train_h0:
        train.append("h0")
    if isinstance(dale, str) and net.dale is None:  # labels given here: params says where
        raise ValueError(f"dale={dale!r} imposes Dale's law on a network that has no E/I "
                         "labels: give them to the network, RateNetwork(W, dale=labels)")
    par = Parametrisation(net, readout0, _h0(h0, net.n_neurons), train=train,
                          dale="abs" if dale is None else dale,
                          mask=mask, autapses=autapses, nonnegative_inputs=nonnegative_inputs,
                          low_rank=low_rank, seed=_seeding.child(ss, _seeding.INIT, 1))
    theta = par.init()
    if not theta:
        raise ValueError("nothing to train: every parameter is frozen")
    opt_state = optimizer.init(theta)
    history = {k: [] for k in _HISTORY}
    start = 0
    fingerprint = _fingerprint(net, readout0, par, optimizer, m, dt, loss, batch_size,
                               clip_grad_norm, rate_l2, weight_l1, weight_l2, xs_all, tg_all,
                               mask_all, theta)
    if stored is not None:
        theta_c, opt_c, start, _, fp, hist_c = stored
        differ = [k for k in fingerprint if fp.get(k) != fingerprint[k]]
        if differ:
            def what(k):  # settings are kept as text, arrays as hashes
                old, new = fp.get(k), fingerprint[k]
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
        theta, opt_state, history = theta_c, opt_c, {k: hist_c.get(k, []) for k in _HISTORY}
    want_tau = "tau" in train

    def model(th, interrupted=False):
        return Model(par.network(th), par.readout(th), np.array(par.h0(th)),
                     _history_dataset(history, seed_attr), m.name,
                     None if m.counts_steps else dt, interrupted, dict(th))

    interrupted = False
    with Progress(iterations, enabled=progress, label="ctrnn.train.fit",
                  unit="it") as bar:
        try:
            for it in range(start, iterations):
                rng = np.random.default_rng(_seeding.child(ss, _seeding.BATCH, it))
                idx = np.sort(rng.choice(n_trials, size=batch_size, replace=False))
                netw, ro = par.network(theta), par.readout(theta)
                H0 = np.ascontiguousarray(np.broadcast_to(par.h0(theta),
                                                          (batch_size, net.n_neurons)))
                p = _bptt.run(netw, np.array(ro.C), np.array(ro.c), xs_all[idx], H0,
                              method=m, dt=dt,
                              loss_fn=loss_fn, targets=tg_all[idx], mask=mask_all[idx],
                              keys=_noise_keys(netw, ss, it, batch_size),
                              want_tau=want_tau, rate_l2=rate_l2,
                              checkpoint_every=checkpoint_every)
                pen, gpen = par.weight_penalty(theta, weight_l1, weight_l2)
                total = p.loss + pen
                if not math.isfinite(total):
                    err = FloatingPointError(
                        f"the loss became {total} at iteration {it}"
                        + ("" if p.report.ok else f" ({_diverged(p.report, net.n_neurons)})")
                        + ": lower the learning rate, set clip_grad_norm= "
                        "(e.g. 1.0), or start from weights of smaller gain; err.model "
                        "holds the model before this iteration")
                    err.model = model(theta)
                    raise err
                grads = par.pullback(theta, p.grads)
                for k, v in gpen.items():
                    grads[k] = grads[k] + v
                gnorm = global_norm(grads)
                if not math.isfinite(gnorm):
                    err = FloatingPointError(
                        f"the gradient became {gnorm} at iteration {it} (the loss was "
                        f"{total}): lower the learning rate or start from weights of "
                        "smaller gain; err.model holds the model before this iteration")
                    err.model = model(theta)
                    raise err
                if clip_grad_norm is not None:
                    grads, _ = clip_by_global_norm(grads, clip_grad_norm)
                lr = optimizer.lr(opt_state["step"]) if callable(optimizer.lr) \
                    else optimizer.lr
                new_theta, new_state = optimizer.update(grads, opt_state, theta)
                acc = accuracy(p.y, tg_all[idx], resp_all[idx]) if resp_all is not None \
                    else float("nan")
                row = dict(zip(_HISTORY, (total, p.data_loss, acc, gnorm, lr)))
                # commit the step in one assignment: Ctrl-C leaves it done or not done
                theta, opt_state, history = new_theta, new_state, {
                    k: history[k] + [float(row[k])] for k in _HISTORY}
                done = it + 1
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


def _fingerprint(net, readout0, par, optimizer, m, dt, loss, batch_size, clip, rate_l2,
                 weight_l1, weight_l2, xs, tg, mask, theta):
    """{part of the set-up: hash} of everything that decides a training run besides the
    iteration count, so that a checkpoint resumes only the run that wrote it and the
    refusal names what differs."""
    def digest(*items):
        """A short text of the items when it is one (settings), else a hash (arrays)."""
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

    return {
        "network": digest(net._W.data if net.is_sparse else net._W, net._U, net._b,
                          net.tau_array, net.noise_array, net.phi.name, repr(net.stp),
                          None if net.dale is None else net.dale.tolist()),
        "task": digest(xs, tg, mask),
        "readout": digest(readout0.C, readout0.c),
        "h0": digest(par.h0_fixed),
        "constraints": digest(par.train, par.dale, par.nonneg_U, par.rank,
                              np.zeros(0) if par.mask is None else par.mask),
        "optimizer": digest(optimizer),
        "method and dt": digest(m.name, dt),
        "loss": digest(loss),
        "batch_size": digest(batch_size),
        "clip_grad_norm": digest(clip),
        "regularisers": digest(rate_l2, weight_l1, weight_l2),
        "parameters": digest(sorted((k, v.shape) for k, v in theta.items())),
    }


def _history_dataset(history, seed_attr):
    n = len(history["loss"])
    units = dict(loss="", data_loss="", accuracy="fraction of trials", grad_norm="",
                 lr="")
    return xr.Dataset(
        {k: ("iteration", np.asarray(history[k], dtype=np.float64),
             {"units": units[k]} if units[k] else {}) for k in _HISTORY},
        coords={"iteration": np.arange(n)}, attrs={"seed": seed_attr})
