"""simulate(): the one entry point. Validates, allocates, chunks, calls a kernel."""
from __future__ import annotations

import math
import os
import time
import warnings

import numpy as np

from . import _output
from . import inputs as _inputs
from . import io as _io
from ._kernels import rk as _rk
from ._output import run_dataset
from ._progress import Progress
from ._seeding import H0, child, seed_sequence, trial_keys
from ._validation import as_float_array, positive_int, positive_scalar
from .integrators import PIController, get_method
from .network import RateNetwork

_TARGET_CHUNK_SECONDS = 0.25  # kernel calls last about this long, for progress updates
_MEMORY_FRACTION = 0.8  # refuse outputs larger than this fraction of available memory


def simulate(net, duration=None, dt=None, *, steps=None, h0=None, inputs=None,
             method="rk4", save_every=1, trials=None, seed=None, dtype=np.float64,
             u0=None, x0=None,
             rtol=1e-6, atol=1e-9, max_steps=1_000_000, progress=None,
             input_interp="hold", include_params=False, on_blowup="raise",
             time_unit="s", max_memory=None, chunk_steps=None, controller=None,
             store=None):
    """Integrate tau dh/dt = -h + phi(W h + U x(t) + b) (+ noise) and return a Dataset.

    Parameters
    ----------
    net : RateNetwork
    duration : float, optional
        Length of the run, in the time unit of tau. Give ``duration`` or ``steps``.
    dt : float
        Step size (same unit). For "dopri5" it is the spacing of the input grid and,
        times ``save_every``, of the output grid; the internal steps are adaptive.
        Not used by "discrete" (one step per time unit).
    steps : int, optional
        Number of steps of length dt (instead of ``duration``).
    h0 : array_like, shape (n_neurons,) or (trials, n_neurons), or "random", optional
        Initial state; default zeros. "random" draws N(0, 1) per trial and neuron from
        ``seed``.
    inputs : array_like or xarray.DataArray, optional
        x(t): shape (steps, n_inputs), (steps + 1, n_inputs) or
        (trials, steps[+1], n_inputs) on the step grid, or a DataArray with a ``time``
        coordinate at any sampling; see ``input_interp`` and ``ctrnn.inputs``.
    method : str
        "euler", "heun", "rk4" (default), "dopri5" (adaptive), "exponential_euler" or
        "discrete" (h[t+1] = phi(W h[t] + U x[t] + b), i.e. Euler with dt == tau).
    save_every : int
        Save every this many steps; saved times are 0, save_every*dt, ... (time 0 holds
        h0).
    trials : int, optional
        Number of trials (a batch: dims trial, time, neuron). Trials differ by h0
        ("random"), their noise, or per-trial inputs.
    u0, x0 : array_like, shape (n_neurons,) or (trials, n_neurons), optional
        Initial STP utilisation and resources (networks with ``stp``); default the
        resting values u = U, x = 1.
    seed : int, numpy.random.Generator or SeedSequence, a recorded seed, or None
        For h0="random" and noise. None draws fresh entropy. attrs["seed"] records the
        seed (with a SeedSequence's spawn key); pass it back as ``seed`` to repeat the
        run. A trial's noise depends only on (seed, trial index, step).
    dtype : numpy.float64 (default) or numpy.float32
        Precision of the whole computation and of the result.
    rtol, atol : float
        Tolerances of "dopri5" (RMS norm, scale atol + rtol * max(|h|, |h_new|)).
    max_steps : int
        "dopri5": maximal number of internal steps per trial.
    progress : bool, callable or None
        Progress bar on stderr: True, False, or None (shown when the run takes more than a
        few seconds); a callable f(done, total) receives the progress instead.
    input_interp : {"hold", "linear"}
        How inputs vary within a step (see ``ctrnn.inputs``).
    include_params : bool
        Add W, U, b, tau and noise as data variables.
    on_blowup : {"raise", "return"}
        What to do when the state leaves the finite range: raise FloatingPointError
        (default) or return the Dataset with attrs["status"] describing it and NaN after
        the last finite save.
    time_unit : str
        Unit of tau, dt and duration, recorded in the time coordinate's attrs.
    max_memory : int, optional
        Upper limit in bytes for the output (default: 80% of the available memory).
    chunk_steps : int, optional
        Steps per kernel call (for progress); the result does not depend on it.
    controller : PIController, optional
        Step-size controller constants of "dopri5".
    store : str or path, optional
        Stream the saved states to this new Zarr store chunk by chunk instead of keeping
        them in memory (a run larger than memory works; a crash loses at most the chunk
        in flight) and return the lazily opened store (``ctrnn.open_run``). Needs dask
        and zarr (``pip install 'ctrnn[dask]'``).

    Returns
    -------
    xarray.Dataset
        ``h`` with dims (time, neuron), or (trial, time, neuron) for a batch (and ``u``,
        ``x`` beside it with STP); attrs with the method, dt, seed, status and (dopri5)
        step counts.

    Examples
    --------
    >>> import ctrnn
    >>> W = ctrnn.connectivity.gaussian(200, g=1.5, seed=0)
    >>> net = ctrnn.RateNetwork(W, tau=0.01)
    >>> ds = ctrnn.simulate(net, duration=0.1, dt=1e-3, h0="random", seed=1)
    >>> ds.h.dims, ds.h.shape
    (('time', 'neuron'), (101, 200))
    """
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a ctrnn.RateNetwork; got {type(net).__name__}")
    m = get_method(method)
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32; got {dtype}")
    if on_blowup not in ("raise", "return"):
        raise ValueError(f"on_blowup must be 'raise' or 'return'; got {on_blowup!r}")
    N = net.n_neurons
    dt, steps = _time_grid(m, duration, dt, steps)
    save_every = positive_int("save_every", save_every)
    n_save = steps // save_every + 1
    if steps % save_every:
        warnings.warn(f"steps={steps} is not a multiple of save_every={save_every}: the last "
                      f"{steps % save_every} step(s) are integrated but not saved",
                      RuntimeWarning, stacklevel=2)
    ss, seed_attr = seed_sequence(seed)
    xs = _inputs.on_grid(inputs, net.n_inputs, steps, dt, input_interp)
    H, batched = _initial_state(h0, trials, xs.shape[0], N, ss)
    B = H.shape[0]
    H, stp_k = _with_stp(net, H, u0, x0)  # (B, V N): h, then u and x with STP
    V = H.shape[1] // N
    if store is None:
        _check_memory(B, n_save, V * N, dtype, max_memory)
    if m.kind != "adaptive" and m.name != "discrete":
        _warn_if_unstable(m, dt, net)
    if net.has_noise and m.kind == "adaptive":
        raise ValueError("noise > 0 needs a fixed-step method (euler, exponential_euler, "
                         "heun, rk4); dopri5's error control assumes a smooth solution")

    arr = _packer(dtype)
    tau = net.tau_array
    net_k, inp_k = _pack(net, B, stp_k, xs, input_interp, dtype)
    keys = trial_keys(ss, B) if net.has_noise else np.zeros(0, np.uint64)
    H = arr(H)
    times = (np.arange(n_save) * save_every if m.name == "discrete"
             else np.arange(n_save) * (save_every * dt))
    unit = "steps" if m.name == "discrete" else time_unit
    names = {"h": (slice(0, N), {"long_name": "activation h", "units": "1"})}
    if V == 3:
        names["u"] = (slice(N, 2 * N), {"long_name": "STP utilisation u (facilitation)",
                                         "units": "1"})
        names["x"] = (slice(2 * N, 3 * N), {"long_name": "STP available resources x "
                                                      "(depression)", "units": "1"})
    if store is None:
        out = np.empty((B, n_save, V * N), dtype)
        sink = _io.MemorySink(out)
    else:
        # the layout of the result, without data (a broadcast view allocates nothing)
        template = run_dataset(np.broadcast_to(np.zeros((), dtype), (B, n_save, N)), times,
                               batched=batched, attrs={}, time_unit=unit,
                               net=net if include_params else None)
        if net.dale is not None:
            template = template.assign_coords(population=("neuron", net.population_labels))
        sink = _io.ZarrSink(store, template, names, B, V * N, dtype)
    buf, base = sink.view(0, 1)
    buf[:, 0 - base] = H
    sink.commit(0, 1)
    status = (_rk.OK, 0, 0, 0)
    extra_attrs = {}
    bar = Progress(steps if m.kind != "adaptive" else n_save - 1, progress)
    try:
        if m.kind == "adaptive":
            status, extra_attrs = _run_adaptive(m, H, sink, net_k, inp_k, dt, steps,
                                                save_every, n_save, rtol, atol, max_steps,
                                                controller, chunk_steps, bar, dtype)
        else:
            if m.kind == "leaky":
                decay, gain, nf = m.coefficients(dt, tau)
                args = (net_k, inp_k, arr(decay), arr(gain), arr(nf * net.noise_array), keys,
                        dtype.type(dt), m.name == "exponential_euler")
                kernel = _rk.leaky_run
            else:
                tab = m.tableau
                nf = np.sqrt(2.0 * dt / tau)
                args = (net_k, inp_k, dtype.type(dt), arr(tab.A), arr(tab.b), arr(tab.c),
                        arr(nf * net.noise_array), keys)
                kernel = _rk.rk_run
            status = _run_fixed(kernel, args, H, sink, steps, save_every, chunk_steps, bar,
                                cost=B * N * (N + V) * (m.tableau.stages if m.tableau else 1))
    finally:
        bar.close()

    chunk_attr = extra_attrs.pop("_chunk", None)
    attrs = dict(method=m.name, dt=dt if m.name != "discrete" else None, steps=steps,
                 duration=steps * dt if m.name != "discrete" else None,
                 save_every=save_every, n_neurons=N, n_inputs=net.n_inputs,
                 tau=net.tau if np.ndim(net.tau) == 0 else None, phi=net.phi.name,
                 noise=net.noise if np.ndim(net.noise) == 0 else None,
                 noise_convention="tau dh = (-h + phi(.)) dt + noise * sqrt(2 tau) dW",
                 seed=seed_attr, input_interp=str(input_interp), dtype=dtype.name,
                 trials=B if batched else None, time_unit=unit,
                 ctrnn_version=_version(), status="ok", **extra_attrs,
                 **(net.stp.scalar_attrs() if net.stp is not None else {}))
    if status[0] != _rk.OK:
        msg = _status_message(status, m, dt, save_every, steps, max_steps, batched, N)
        if on_blowup == "raise" or status[0] != _rk.NONFINITE:
            if store is not None:
                sink.set_attrs(status=msg)
            raise (FloatingPointError if status[0] == _rk.NONFINITE else RuntimeError)(msg)
        attrs["status"] = msg
        # saves after the failure were never written: mark them missing
        if m.kind == "adaptive":
            first_missing = int(status[4] // (save_every * dt)) + 1
        else:
            first_missing = status[1] // save_every + 1  # step k failed before saving
        if store is None:
            out[:, first_missing:] = np.nan
            if m.kind == "adaptive":
                # trials are stepped one after the other: those after the failing one
                # never ran the failing chunk, and nothing after it was written
                r, chunk = status[2], chunk_attr
                out[r + 1:, chunk[0]:] = np.nan
                out[:, chunk[1]:] = np.nan
    if store is not None:
        sink.set_attrs(**{k: _output._attr(v) for k, v in attrs.items() if v is not None})
        return _io.open_run(store)
    extra = {name: (out[:, :, cols], a) for name, (cols, a) in names.items() if name != "h"}
    ds = run_dataset(out[:, :, :N], times, batched=batched, attrs=attrs,
                     time_unit=unit, net=net if include_params else None,
                     extra_vars=extra)
    if net.dale is not None:
        ds = ds.assign_coords(population=("neuron", net.population_labels))
    return ds


def _packer(dtype):
    """a -> a contiguous, writable array of ``dtype`` (Numba's BLAS path copies
    read-only arrays on every product)."""
    def arr(a):
        a = np.ascontiguousarray(a, dtype=dtype)
        return a if a.flags.writeable else a.copy()
    return arr


def _pack(net, B, stp_k, xs, input_interp, dtype):
    """The kernels' (net, inp) tuples (see ctrnn/_kernels/rhs.py) for B trials."""
    arr = _packer(dtype)
    N = net.n_neurons
    if net.is_sparse:  # CSR arrays; the sparse kernel needs no transpose
        W = (arr(net._W.data), net._W.indices.astype(np.uint32), net._W.indptr)
        WT = W
    else:
        W = arr(net._W)  # the network's private writable array: no copy in float64
        WT = arr(net._W.T) if B > 1 else W
    net_k = (W, WT, arr(1.0 / net.tau_array), net.phi.code,
             tuple(arr(a) for a in stp_k[:4]) + (dtype.type(stp_k[4]),))
    inp_k = (arr(xs), arr(net._U.T if xs.shape[2] else np.zeros((0, N))), arr(net._b),
             _inputs.interp_code(input_interp))
    return net_k, inp_k


def pack_without_stp(net, B, xs, input_interp="hold"):
    """The kernels' float64 (net, inp) tuples for B rows of state of a network without
    STP, driven by xs (Bx, T[+1], n_inputs) on the step grid."""
    if net.stp is not None:
        raise ValueError("this kernel takes networks without STP")
    empty = _with_stp(net, np.zeros((1, net.n_neurons)), None, None)[1]
    return _pack(net, B, empty, xs, input_interp, np.dtype(np.float64))


def euler_states(net, X, h0, xs, dt):
    """Forward Euler of ``net`` (no noise, no STP) from ``h0`` (N,) driven by ``xs``
    (T, n_inputs) held over each step: X[k] <- the state after step k, for X (T, N)
    float64 C-contiguous. Returns the final state.

    The kernel of ``simulate(net, steps=T, dt=dt, h0=h0, inputs=xs, method="euler")``
    without its validation and Dataset, for callers that validated already and take many
    short runs (the echo state network). A blow-up raises FloatingPointError."""
    if net.has_noise:
        raise ValueError("euler_states runs networks without noise")
    T = X.shape[0]
    if X.dtype != np.float64 or not X.flags.c_contiguous or X.shape != (T, net.n_neurons):
        raise ValueError(f"X must be a C-contiguous float64 array (T, {net.n_neurons})")
    if xs.shape != (T, net.n_inputs):  # the kernel reads xs[k] unchecked
        raise ValueError(f"xs must have shape ({T}, {net.n_inputs}); got {xs.shape}")
    H = np.array(h0, dtype=np.float64).reshape(1, -1)
    decay, gain, _ = get_method("euler").coefficients(dt, net.tau_array)
    net_k, inp_k = pack_without_stp(net, 1, xs[None])
    status = _rk.leaky_run(H, X[None], 0, T, 1, 1, net_k, inp_k, np.ascontiguousarray(decay),
                           np.ascontiguousarray(gain), np.zeros(0), np.zeros(0, np.uint64),
                           dt, False)
    if status[0] != _rk.OK:
        raise FloatingPointError(
            f"the state left the finite range at step {status[1] + 1} of {T} in neuron "
            f"{status[3]}: the network diverges")
    return H[0]


def _version():
    from . import __version__
    return __version__


def _time_grid(m, duration, dt, steps):
    """(dt, steps) from the user's duration / dt / steps."""
    if m.name == "discrete":
        if dt is not None:
            raise ValueError("method='discrete' takes no dt: each step is one update "
                             "h[t+1] = phi(W h[t] + U x[t] + b); pass steps=T")
        if duration is not None:
            raise ValueError("method='discrete' counts steps, not time: pass steps=T "
                             "instead of duration")
        return 1.0, positive_int("steps", steps)
    if dt is None:
        raise TypeError(f"dt is required for method={m.name!r} (a step size in the time "
                        "unit of tau, e.g. tau / 10)")
    dt = positive_scalar("dt", dt)
    if (duration is None) == (steps is None):
        raise TypeError("give exactly one of duration (a time) or steps (a number of steps)")
    if steps is not None:
        return dt, positive_int("steps", steps)
    duration = positive_scalar("duration", duration)
    n = round(duration / dt)
    if n < 1 or abs(n * dt - duration) > 1e-9 * duration:
        raise ValueError(f"duration={duration} is not a whole number of steps dt={dt} "
                         f"({duration / dt:.6g} steps): choose dt that divides duration or "
                         "pass steps=")
    return dt, n


def _initial_state(h0, trials, n_input_trials, N, ss):
    """(H (B, N) float64, batched) from h0, trials and the number of input trials."""
    trials = positive_int("trials", trials, allow_none=True)
    sizes = {}
    if trials is not None:
        sizes["trials"] = trials
    if n_input_trials > 1:
        sizes["inputs"] = n_input_trials
    if isinstance(h0, str):
        if h0 != "random":
            raise ValueError(f"h0 must be an array, None (zeros) or 'random'; got {h0!r}")
    elif h0 is not None:
        h0 = as_float_array("h0", h0, ndim=(1, 2))
        if h0.shape[-1] != N:
            raise ValueError(f"h0 must have shape ({N},) or (trials, {N}); got {h0.shape}")
        if h0.ndim == 2:
            sizes["h0"] = h0.shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError("the number of trials disagrees: " + ", ".join(
            f"{k} gives {v}" for k, v in sizes.items()))
    B = next(iter(sizes.values()), 1)
    batched = bool(sizes)
    if h0 is None:
        H = np.zeros((B, N))
    elif isinstance(h0, str):
        H = np.stack([np.random.default_rng(child(ss, H0, r)).standard_normal(N)
                      for r in range(B)])
    else:
        H = np.broadcast_to(h0, (B, N)).copy()
    return H, batched


def _with_stp(net, H, u0, x0):
    """Append the STP state (u, x) to H, and pack the STP parameters for the kernels.

    Returns (Z (B, V N), (U, 1/tau_f, 1/tau_d, efficacy factor, rate_scale))."""
    B, N = H.shape
    if net.stp is None:
        if u0 is not None or x0 is not None:
            raise ValueError("u0/x0 are STP initial values but the network has no stp")
        empty = np.zeros(0)
        return H, (empty, empty, empty, empty, 1.0)
    Us, tf, td = net.stp.arrays(N)
    eff = 1.0 / Us if net.stp.efficacy == "relative" else np.ones(N)

    def init(name, value, default):
        if value is None:
            return np.broadcast_to(default, (B, N))
        v = as_float_array(name, value, ndim=(1, 2))
        if v.shape[-1] != N or (v.ndim == 2 and v.shape[0] != B):
            raise ValueError(f"{name} must have shape ({N},) or ({B}, {N}); got {v.shape}")
        if np.any(v < 0) or np.any(v > 1):
            raise ValueError(f"{name} must lie in [0, 1]; got values from {v.min()} to "
                             f"{v.max()}")
        return np.broadcast_to(v, (B, N))

    Z = np.concatenate([H, init("u0", u0, Us), init("x0", x0, 1.0)], axis=1)
    return Z, (Us, 1.0 / tf, 1.0 / td, eff, net.stp.rate_scale)


def _available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(B, n_save, N, dtype, max_memory):
    need = B * n_save * N * dtype.itemsize
    if max_memory is None:
        avail = _available_memory()
        limit = None if avail is None else int(_MEMORY_FRACTION * avail)
    else:
        limit = int(max_memory)
    if limit is not None and need > limit:
        raise MemoryError(
            f"the output would need {need / 2**30:.2f} GiB ({B} trial(s) x {n_save} saved "
            f"times x {N} neurons x {dtype.itemsize} bytes) but only {limit / 2**30:.2f} GiB "
            f"is allowed; raise save_every (saves every k-th step), simulate fewer neurons "
            f"or trials, a shorter duration, or use dtype=numpy.float32")


def _warn_if_unstable(m, dt, net):
    """Warn when dt puts the fastest linear mode outside the method's stability region.

    The Jacobian (-I + D W)/tau has eigenvalues near -1/tau plus a disc of radius
    r = max|phi'| * ||W||_F / sqrt(N) (exact for the circular law); we check the leftmost
    point z = -(1 + r) dt / tau_min on the real axis.
    """
    if m.name == "exponential_euler":
        return  # the leak is integrated exactly
    if m.name == "euler" and np.all(net.tau_array == dt):
        return  # dt == tau: the discrete RNN, asked for on purpose
    tau_min = float(np.min(net.tau_array))
    if net.stp is not None:  # the linear decay of u and x
        tau_min = min(tau_min, float(np.min(net.stp.tau_f)), float(np.min(net.stp.tau_d)))
    N = net.n_neurons
    # einsum, not np.linalg.norm: numpy's BLAS threads would keep spinning for ~0.1 s
    # and steal the cores from the kernel's BLAS (scipy's OpenBLAS) that runs next
    w = net._W.data if net.is_sparse else net._W
    r = net.phi.max_slope * math.sqrt(float(np.einsum("i,i->", w.ravel(), w.ravel())) / N)
    limit = m.tableau.stability_limit
    if dt * (1.0 + r) / tau_min > limit * (1 + 1e-9):
        dt_max = limit * tau_min / (1.0 + r)
        warnings.warn(
            f"dt={dt} is outside the stability region of {m.name!r} for the fastest "
            f"mode (tau_min={tau_min:g}, estimated coupling radius {r:.3g}): the run may "
            f"blow up or oscillate spuriously; use dt <= {dt_max:.3g}, or "
            f"method='exponential_euler'", RuntimeWarning, stacklevel=3)


def _chunker(total, chunk, cost, t_chunk):
    """Yield chunk sizes: the user's ``chunk``, or sizes adapted to ~t_chunk seconds."""
    done = 0
    n = chunk or max(1, min(total, int(2e6 / max(cost, 1))))
    while done < total:
        n = min(n, total - done)
        t0 = time.perf_counter()
        yield done, n
        el = time.perf_counter() - t0
        done += n
        if chunk is None:
            n = max(1, int(n * min(4.0, t_chunk / max(el, 1e-6))))


def _run_fixed(kernel, args, H, sink, steps, save_every, chunk_steps, bar, cost):
    chunk = positive_int("chunk_steps", chunk_steps, allow_none=True)
    for k0, n in _chunker(steps, chunk, cost, _TARGET_CHUNK_SECONDS):
        s0, s1 = k0 // save_every + 1, (k0 + n) // save_every + 1  # saves in this chunk
        buf, base = sink.view(s0, s1)
        status = kernel(H, buf, k0, n, save_every, base, *args)
        if status[0] != _rk.OK:
            sink.commit(s0, min(s1, status[1] // save_every + 1))
            return status
        sink.commit(s0, s1)
        bar.update(k0 + n)
    return (_rk.OK, 0, 0, 0)


def _run_adaptive(m, H, sink, net_k, inp_k, dt, steps, save_every, n_save, rtol, atol,
                  max_steps, controller, chunk_steps, bar, dtype):
    rtol = positive_scalar("rtol", rtol)
    atol = positive_scalar("atol", atol)
    max_steps = positive_int("max_steps", max_steps)
    ctrl = controller or PIController()
    if not isinstance(ctrl, PIController):
        raise TypeError("controller must be a ctrnn.integrators.PIController")
    if rtol < 10 * np.finfo(dtype).eps:
        warnings.warn(f"rtol={rtol} is below 10 x machine epsilon of {dtype.name}; the "
                      "step size may underflow", RuntimeWarning, stacklevel=3)
    B, N = H.shape
    tab = m.tableau
    tab_k = tuple(np.ascontiguousarray(a, dtype=dtype) for a in (tab.A, tab.b, tab.c, tab.e, tab.P))
    F0 = np.zeros_like(H)
    state = np.zeros((B, 5))
    dense = np.zeros((B, 5, N), dtype)
    counts = np.zeros((B, 3), np.int64)
    save_dt = save_every * dt
    t_end = (n_save - 1) * save_dt
    chunk = positive_int("chunk_steps", chunk_steps, allow_none=True)
    chunk_saves = None if chunk is None else max(1, chunk // save_every)
    status = (_rk.OK, 0, 0, 0)
    chunk = (n_save, n_save)
    for j0, n in _chunker(n_save - 1, chunk_saves, B * N * N * 7 * 5, _TARGET_CHUNK_SECONDS):
        buf, base = sink.view(j0 + 1, j0 + 1 + n)
        status = _rk.dopri5_run(H, F0, state, counts, dense, buf, j0 + 1, n, base, save_dt, t_end,
                                net_k, inp_k, dt, steps, tab_k, (rtol, atol),
                                ctrl.as_tuple(), max_steps)
        if status[0] == _rk.OK:
            sink.commit(j0 + 1, j0 + 1 + n)
        else:
            status = (status[0], status[1], status[2], status[3], float(state[status[2], 0]))
            chunk = (j0 + 1, j0 + 1 + n)
            break
        bar.update(j0 + n)
    extra = dict(rtol=rtol, atol=atol, n_accepted=int(counts[:, 0].sum()),
                 n_rejected=int(counts[:, 1].sum()), n_rhs_evals=int(counts[:, 2].sum()),
                 _chunk=chunk)
    return status, extra


def _status_message(status, m, dt, save_every, steps, max_steps, batched, N):
    code, k, r, col = status[:4]
    trial = f" of trial {r}" if batched else ""
    i = f"{col % N}" + ("" if col < N else f" (STP variable {'ux'[col // N - 1]})")
    if code == _rk.NONFINITE:
        if m.kind == "adaptive":
            where = f"after t = {status[4]:g}"
        else:
            where = f"at t = {(k + 1) * dt:g} (step {k + 1} of {steps})"
        return (f"the state left the finite range {where} in neuron {i}{trial}: the "
                f"network diverges (unbounded phi with too strong W, or dt too large for "
                f"{m.name!r}); reduce dt, the weights' gain, or use a saturating phi "
                f"(on_blowup='return' keeps the partial result)")
    if code == _rk.MAX_STEPS:
        return (f"max_steps={max_steps} reached at t = {status[4]:g}{trial}: raise max_steps "
                f"or loosen rtol/atol")
    return (f"dopri5 step size underflow at t = {status[4]:g}{trial}: the problem is too "
            "stiff or singular for an explicit method; loosen rtol/atol or use a fixed-step "
            "method with small dt")
