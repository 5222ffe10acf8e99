"""simulate(): the public face. Validates everything, then packs, runs (through the
engine, ``ctrnn._engine``) and wraps the result as an xarray Dataset."""
from __future__ import annotations

import difflib
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from . import _engine
from . import inputs as _inputs
from . import io as _io
from ._output import H_ATTRS, attr_value, run_dataset
from ._progress import Progress
from ._seeding import H0, child, seed_sequence, trial_keys
from ._validation import as_float_array, check_bytes, nonnegative_scalar, positive_int
from ._version import __version__
from .integrators import METHODS, PIController, get_method
from .network import RateNetwork



def simulate(net, duration=None, dt=None, *, steps=None, h0=None, inputs=None,
             method="rk4", save_every=1, trials=None, seed=None, dtype=np.float64,
             u0=None, x0=None, rtol=None, atol=None, max_steps=None, controller=None,
             progress=None, input_interp="hold", include_params=False, on_blowup="raise",
             time_unit="s", max_memory=None, chunk_steps=None, store=None, threads=None):
    """Integrate tau dh/dt = -h + phi(W h + U x(t) + b) (+ noise) and return a Dataset.

    Parameters
    ----------
    net : RateNetwork
    duration : float, optional
        Length of the run, in the time unit of tau. Give ``duration`` or ``steps``.
    dt : float
        Step size (same unit). For the adaptive methods it is the spacing of the input grid and,
        times ``save_every``, of the output grid; the internal steps are adaptive.
        "discrete" takes no dt (one step per time unit; pass ``steps``).
    steps : int, optional
        Number of steps of length dt (instead of ``duration``).
    h0 : array_like, shape (n_neurons,) or (trials, n_neurons), "zeros" or "random", optional
        Initial state; default zeros. "random" draws N(0, 1) per trial and neuron from
        ``seed``.
    inputs : array_like or xarray.DataArray, optional
        x(t): shape (steps, n_inputs), (steps + 1, n_inputs) or
        (trials, steps[+1], n_inputs) on the step grid, or a DataArray with a ``time``
        coordinate at any sampling; see ``input_interp`` and ``ctrnn.inputs``.
    method : str
        "euler", "heun", "rk4" (default), "dopri5" or "bs3" (adaptive),
        "exponential_euler" or "discrete" (h[t+1] = phi(W h[t] + U x[t] + b), i.e. Euler
        with dt == tau). ``ctrnn.integrators.METHODS`` lists them with their sources.
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
    rtol, atol : float, optional
        Tolerances of the adaptive methods (RMS norm, scale atol + rtol * max(|h|,
        |h_new|)); default 1e-6 (float32: 10 machine epsilons, 1.2e-6) and 1e-9; either
        may be 0, not both. Fixed-step methods take none of rtol, atol, max_steps,
        controller.
    max_steps : int, optional
        Adaptive methods: maximal number of internal steps per trial (default 10^6).
    progress : bool, callable or None
        Progress bar (tqdm, on stderr or in a notebook): True, False, or None (shown when
        the run takes more than a few seconds). When stderr is not a terminal the bar is
        redrawn at most every 5%, so logs stay short. A callable f(done, total) receives
        the progress instead.
    input_interp : {"hold", "linear"}
        How inputs vary within a step (see ``ctrnn.inputs``).
    include_params : bool
        Add W, U, b, tau and noise as data variables.
    on_blowup : {"raise", "return"}
        What to do when the state leaves the finite range: raise FloatingPointError
        (default) or return the Dataset with attrs["status"] describing it and NaN after
        the last finite save (in a fixed-step batch, for every trial: the run stops at
        the first trial that left the range).
    time_unit : str
        Unit of tau, dt and duration, recorded in the time coordinate's attrs.
    max_memory : int, optional
        Upper limit in bytes for the output (default: 80% of the available memory,
        not read for outputs up to 16 MiB); not used with ``store``, whose output goes
        to disk.
    chunk_steps : int, optional
        Steps of the dt grid per kernel call (for progress; adaptive methods round it to
        whole saves, at least one); the result does not depend on it. Default: chunks
        of about a quarter second.
    controller : PIController, optional
        Step-size controller constants of the adaptive methods.
    store : str or path, optional
        Stream the saved states to this new Zarr store chunk by chunk instead of keeping
        them in memory (a run larger than memory works; a crash loses at most the chunk
        in flight) and return the lazily opened store (``ctrnn.open_run``). Needs dask
        and zarr (``pip install 'ctrnn[dask]'``).
    threads : int, optional
        Threads a run may use. Default: the CPUs this process may use. Two ways, chosen
        by measured crossovers (benchmarks/README.md; two batch rows lose there):

        - a batch with a fixed-step method on a sparse network or a dense one of up to
          200 neurons: its trials are split into this many groups, each stepped in a
          thread of its own;
        - a dense network of 128 (float64) or 256 (float32) to 1500 neurons (a batch:
          201 to 1000), stepped by euler, exponential_euler or discrete without STP,
          with tanh, sigmoid, relu or linear as phi and at most 8 inputs: the neurons
          are split across the threads, each stepping its rows of W, meeting once a
          step. One trajectory of 64 neurons up to those sizes, of at least 10^8
          multiply-adds (steps x N^2), is split if a measurement on this machine finds
          the threads make a step at least 5% faster (taken on first use, 15-35 ms
          plus compiling the split kernels once, and again after a minute, or at the
          next run when a long split run without noise took twice the measured time a
          step, at most once a minute; FFTW's planner is the model).

        Up to 500 neurons for one trajectory and 200 for a batch, the result does not
        depend on it: every trial equals its single run on one thread bit for bit.
        Above, a split run equals the one-thread run (a BLAS product a step) to
        round-off only. Elsewhere it is checked but has no effect: an adaptive method
        (trials one after the other), other dense runs (one BLAS product a step, which
        BLAS spreads over the cores itself). A split run takes at most as many threads
        as CPUs; they wait for each other, and for the next chunk, by spinning (on POSIX
        yielding the core every 2,000 turns, and sleeping 0.1 ms a turn after 10 ms
        between chunks), so other busy processes slow it (two at once on two cores: 73-192
        ms against 69-123 for two one-thread runs).

    Returns
    -------
    xarray.Dataset
        ``h`` (dimensionless) with dims (time, neuron), or (trial, time, neuron) for a
        batch, shape ([trials,] steps // save_every + 1, n_neurons), and ``u``, ``x``
        beside it with STP; the ``time`` coordinate in ``time_unit`` ("steps" for the
        discrete RNN); attrs with the method, dt, seed, status and (adaptive methods)
        step counts. With ``store``, the same Dataset opened lazily from the store.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, an argument has the wrong type (dtype, controller,
        progress, ...), or the time grid is under- or over-determined.
    ValueError
        For an invalid value (named in the message), an option the method does not take
        (rtol, atol, max_steps, controller with a fixed-step method; dt or duration with
        "discrete"), noise with an adaptive method, or inputs, h0, u0, x0 of the wrong
        shape. Nothing is allocated and no file is created before these checks pass.
    MemoryError
        If the output would not fit in ``max_memory`` (default: 80% of available memory).
    FileExistsError
        If ``store`` exists already.
    ImportError
        If ``store`` is given but dask or zarr is not installed.
    FloatingPointError
        If the state leaves the finite range and ``on_blowup="raise"``.
    RuntimeError
        If an adaptive method reaches max_steps or its step size underflows.

    References
    ----------
    Hairer, Norsett & Wanner, Solving Ordinary Differential Equations I (1993): explicit
    Runge-Kutta methods, Dormand-Prince 5(4) and its step control; Bogacki & Shampine,
    Appl. Math. Lett. 2 (1989): the 3(2) pair; Song, Yang & Wang, PLoS Comput. Biol.
    (2016): the noise convention.

    Examples
    --------
    >>> import ctrnn
    >>> W = ctrnn.connectivity.gaussian(200, g=1.5, seed=0)
    >>> net = ctrnn.RateNetwork(W, tau=0.01)
    >>> ds = ctrnn.simulate(net, duration=0.1, dt=1e-3, h0="random", seed=1)
    >>> ds.h.dims, ds.h.shape
    (('time', 'neuron'), (101, 200))
    """
    r = _validate(net, duration, dt, steps, h0, inputs, method, save_every, trials, seed,
                  dtype, u0, x0, rtol, atol, max_steps, controller, progress, input_interp,
                  include_params, on_blowup, time_unit, max_memory, chunk_steps, store,
                  threads)
    return _run(r)


def validate(net, *args, **kwargs):
    """Check the arguments of ``simulate(net, *args, **kwargs)`` as simulate does, without
    allocating the output or running anything (warnings are not repeated); for callers
    that must fail before work starts (the CLI, before a sweep).

    Returns
    -------
    None

    Raises
    ------
    TypeError, ValueError, MemoryError, FileExistsError, ImportError
        As ``simulate``.
    """
    import inspect

    bound = inspect.signature(simulate).bind(net, *args, **kwargs)
    bound.apply_defaults()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _validate(**bound.arguments)


@dataclass
class _Run:
    """Everything ``simulate`` was asked for, validated."""

    net: RateNetwork
    method: object  # integrators.Method
    dt: float
    steps: int
    save_every: int
    n_save: int
    dtype: np.dtype
    xs: np.ndarray
    interp: int
    input_interp: str
    H: np.ndarray
    batched: bool
    u0: object
    x0: object
    ss: object
    seed_attr: object
    options: dict
    progress: object
    include_params: bool
    on_blowup: str
    time_unit: str
    chunk: int | None
    store: object
    threads: int


def _validate(net, duration, dt, steps, h0, inputs, method, save_every, trials, seed, dtype,
              u0, x0, rtol, atol, max_steps, controller, progress, input_interp,
              include_params, on_blowup, time_unit, max_memory, chunk_steps, store,
              threads=None):
    """Check every argument (errors name it) before anything is allocated."""
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a ctrnn.RateNetwork; got {type(net).__name__}")
    method = get_method(method)
    try:
        dtype = np.dtype(dtype) if isinstance(dtype, (type, np.dtype, str)) else dtype
    except TypeError:  # a string numpy does not know ("foo"): named below
        pass
    if not isinstance(dtype, np.dtype) or dtype not in (np.float64, np.float32):
        raise TypeError(f"dtype must be numpy.float64 or numpy.float32; got {dtype}: pass "
                        "dtype=numpy.float64 (the default) or numpy.float32 (half the "
                        "memory, ~1e-7 relative precision)")
    if on_blowup not in ("raise", "return"):
        raise ValueError(f"on_blowup must be 'raise' or 'return'; got {on_blowup!r}")
    given = dict(rtol=rtol, atol=atol, max_steps=max_steps, controller=controller)
    method.check_options(given)
    options = {k: method.defaults[k] if given[k] is None else given[k] for k in method.options}
    if rtol is None and "rtol" in options:  # the default, not below what the dtype resolves
        options["rtol"] = max(options["rtol"], 10 * float(np.finfo(dtype).eps))
    if "max_steps" in options:
        options["max_steps"] = positive_int("max_steps", options["max_steps"])
    for k in ("rtol", "atol"):  # >= 0: a pure absolute (or relative) tolerance is fine
        if k in options:
            options[k] = nonnegative_scalar(k, options[k])
    if options.get("rtol") == 0 and options.get("atol") == 0:
        raise ValueError("rtol and atol are both 0: the error could never be small enough; "
                         "give rtol > 0 or atol > 0")
    if "controller" in options and not isinstance(options["controller"], PIController):
        raise TypeError("controller must be a ctrnn.integrators.PIController; got "
                        f"{type(options['controller']).__name__}")
    if net.has_noise and not method.takes_noise:
        noisy = [n for n, m in METHODS.items() if m.takes_noise]
        raise ValueError(f"the network has noise (noise={net.noise}) but method="
                         f"{method.name!r} controls its step size by an error estimate that "
                         f"assumes a smooth solution: use a fixed-step method "
                         f"({', '.join(noisy)}), e.g. method='rk4', or net.replace(noise=0)")
    N = net.n_neurons
    dt, steps = method.grid(duration, dt, steps)
    save_every = positive_int("save_every", save_every)
    chunk = positive_int("chunk_steps", chunk_steps, allow_none=True)
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress must be True, False, None or a callable f(done, total); "
                        f"got {progress!r}")
    if not isinstance(include_params, (bool, np.bool_)):
        raise TypeError(f"include_params must be True or False; got {include_params!r}")
    if not isinstance(time_unit, str):
        raise TypeError(f"time_unit must be a string such as 's' or 'ms'; got {time_unit!r}")
    if max_memory is not None:
        max_memory = positive_int("max_memory", max_memory, fix="max_memory is in bytes "
                                  "(e.g. 8 * 2**30 for 8 GiB), or None for 80% of the "
                                  "available memory")
    threads = _engine.available_cpus() if threads is None else positive_int(
        "threads", threads, fix="give a whole number such as 2, or threads=None for every "
        "CPU this process may use")
    if store is not None:
        if not isinstance(store, (str, os.PathLike)):
            raise TypeError(f"store must be a path (str or os.PathLike); got "
                            f"{type(store).__name__}")
        if os.path.exists(store):
            raise FileExistsError(f"{store} exists: streaming writes a new store; choose "
                                  "another path or delete it (open it with ctrnn.open_run)")
        _io.need_dask()
    ss, seed_attr = seed_sequence(seed)
    interp = _inputs.interp_code(input_interp)
    if inputs is not None and hasattr(inputs, "dims"):  # a DataArray is resampled: its grid
        n_tr = dict(zip(inputs.dims, inputs.shape)).get("trial", 1)
        check_bytes(n_tr * (steps + 1) * max(net.n_inputs, 1) * 8,
                    f"the inputs on the step grid ({n_tr} trial(s) x {steps + 1} steps x "
                    f"{net.n_inputs} inputs x 8 bytes)", "use a coarser dt or a shorter "
                    "duration", max_memory)
    xs = _inputs.on_grid(inputs, net.n_inputs, steps, dt, input_interp)
    B, batched, h0 = _trials(h0, trials, xs.shape[0], N)
    u0, x0 = _stp_initial_values(net, B, u0, x0)
    n_save = steps // save_every + 1
    V = 1 if net.stp is None else 3
    if store is None:
        _check_memory(B, n_save, V * N, dtype, max_memory)
    H = _initial_state(h0, B, N, ss)
    if "rtol" in options and 0 < options["rtol"] < 10 * np.finfo(dtype).eps:
        warnings.warn(f"rtol={options['rtol']} is below 10 x machine epsilon of "
                      f"{dtype.name}; the step size may underflow", RuntimeWarning,
                      stacklevel=3)
    if steps % save_every:
        warnings.warn(f"steps={steps} is not a multiple of save_every={save_every}: the last "
                      f"{steps % save_every} step(s) are integrated but not saved",
                      RuntimeWarning, stacklevel=3)
    _warn_if_unstable(method, dt, net)
    return _Run(net, method, dt, steps, save_every, n_save, dtype, xs, interp, str(input_interp),
                H, batched, u0, x0, ss, seed_attr, options, progress, bool(include_params),
                on_blowup, time_unit, chunk, store, threads)


def _run(r):
    """Pack, run through the engine, wrap."""
    net, method, N = r.net, r.method, r.net.n_neurons
    Z = _engine.stp_initial_state(net, r.H, r.u0, r.x0)  # (B, V N): h, then u and x
    B, M = Z.shape
    Z = np.ascontiguousarray(Z, dtype=r.dtype)
    keys = trial_keys(r.ss, B) if net.has_noise else None
    stepper = _engine.plan(method, net, Z, r.xs, r.interp, dt=r.dt, steps=r.steps,
                           save_every=r.save_every, keys=keys, dtype=r.dtype,
                           threads=r.threads, **r.options)
    times = method.save_times(r.n_save, r.save_every, r.dt)
    unit = method.time_unit(r.time_unit)
    names = {"h": (slice(0, N), H_ATTRS)}
    if net.stp is not None:
        names["u"] = (slice(N, 2 * N), {"long_name": "STP utilisation u (facilitation)",
                                         "units": "1"})
        names["x"] = (slice(2 * N, 3 * N), {"long_name": "STP available resources x "
                                                      "(depression)", "units": "1"})
    if r.store is None:
        out = np.empty((B, r.n_save, M), r.dtype)
        sink = _engine.MemorySink(out)
    else:
        # the layout of the result, without data (a broadcast view allocates nothing)
        template = run_dataset(np.broadcast_to(np.zeros((), r.dtype), (B, r.n_save, N)),
                               times, batched=r.batched, attrs={}, time_unit=unit,
                               net=net if r.include_params else None)
        if net.dale is not None:
            template = template.assign_coords(population=("neuron", net.population_labels))
        sink = _io.ZarrSink(r.store, template, names, B, M, r.dtype)
    with Progress(stepper.total, r.progress, unit=stepper.unit) as bar:
        report, chunk = _engine.run(stepper, Z, sink, chunk_steps=r.chunk, progress=bar)

    counts = stepper.attrs()
    attrs = dict(method=method.name, dt=None if method.counts_steps else r.dt, steps=r.steps,
                 duration=None if method.counts_steps else r.steps * r.dt,
                 save_every=r.save_every, n_neurons=N, n_inputs=net.n_inputs,
                 tau=net.tau if np.ndim(net.tau) == 0 else None, phi=net.phi.name,
                 noise=net.noise if np.ndim(net.noise) == 0 else None,
                 noise_convention="tau dh = (-h + phi(.)) dt + noise * sqrt(2 tau) dW",
                 seed=r.seed_attr, input_interp=r.input_interp, dtype=r.dtype.name,
                 trials=B if r.batched else None, time_unit=unit,
                 ctrnn_version=__version__, status="ok", **counts,
                 **(net.stp.scalar_attrs() if net.stp is not None else {}))
    if not report.ok:
        msg = report.message(method=method.name, n_neurons=N, batched=r.batched,
                             max_steps=r.options.get("max_steps"))
        if r.on_blowup == "raise" or report.status is not _engine.Status.NONFINITE:
            if r.store is not None:
                sink.set_attrs(status=msg)
                msg += (f" ({r.store} keeps the {sink.n_complete} time point(s) completed "
                        "before; ctrnn.open_run opens them)")
            raise report.status.exception(msg)
        attrs["status"] = msg
        if r.store is None:  # saves after the failure were never written: mark them
            stepper.mark_missing(out, report, chunk)
    if r.store is not None:
        sink.set_attrs(**{k: attr_value(v) for k, v in attrs.items() if v is not None})
        return _io.open_run(r.store)
    extra = {name: (out[:, :, cols], a) for name, (cols, a) in names.items() if name != "h"}
    ds = run_dataset(out[:, :, :N], times, batched=r.batched, attrs=attrs,
                     time_unit=unit, net=net if r.include_params else None,
                     extra_vars=extra)
    if net.dale is not None:
        ds = ds.assign_coords(population=("neuron", net.population_labels))
    return ds


def _trials(h0, trials, n_input_trials, N):
    """(B, batched, h0 validated) from h0, trials and the number of input trials."""
    trials = positive_int("trials", trials, allow_none=True)
    sizes = {}
    if trials is not None:
        sizes["trials"] = trials
    if n_input_trials > 1:
        sizes["inputs"] = n_input_trials
    if isinstance(h0, str):
        if h0 == "zeros":
            h0 = None
        elif h0 != "random":
            close = difflib.get_close_matches(h0, ["random", "zeros"], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"h0 must be an array, None or 'zeros', or 'random'; got "
                             f"{h0!r}.{hint}")
    elif h0 is not None:
        h0 = as_float_array("h0", h0)
        if h0.ndim not in (1, 2) or h0.shape[-1] != N:
            raise ValueError(f"h0 must have shape ({N},) or (trials, {N}); got {h0.shape}: "
                             f"give one value per neuron of the network ({N}), in one row "
                             "per trial for a batch")
        if h0.ndim == 2:
            sizes["h0"] = h0.shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError("the number of trials disagrees: " + ", ".join(
            f"{k} gives {v}" for k, v in sizes.items()) + "; give them the same number of "
            "trials, or leave trials=None to take it from h0 or the inputs")
    return next(iter(sizes.values()), 1), bool(sizes), h0


def _initial_state(h0, B, N, ss):
    """H (B, N) float64 from a validated h0 (None: zeros; "random": N(0, 1) per trial
    from the seed's H0 streams)."""
    if h0 is None:
        return np.zeros((B, N))
    if isinstance(h0, str):
        return np.stack([np.random.default_rng(child(ss, H0, r)).standard_normal(N)
                         for r in range(B)])
    return np.broadcast_to(h0, (B, N)).copy()


def _stp_initial_values(net, B, u0, x0):
    """u0 and x0 validated as arrays broadcastable to (B, N) (or None: at rest)."""
    N = net.n_neurons
    if net.stp is None:
        if u0 is not None or x0 is not None:
            raise ValueError("u0/x0 are STP initial values but the network has no stp")
        return None, None

    def check(name, value):
        if value is None:
            return None
        v = as_float_array(name, value, ndim=(1, 2))
        if v.shape[-1] != N or (v.ndim == 2 and v.shape[0] != B):
            raise ValueError(f"{name} must have shape ({N},) or ({B}, {N}); got {v.shape}")
        if np.any(v < 0) or np.any(v > 1):
            raise ValueError(f"{name} must lie in [0, 1]; got values from {v.min()} to "
                             f"{v.max()}")
        return v

    return check("u0", u0), check("x0", x0)


def _check_memory(B, n_save, N, dtype, max_memory):
    check_bytes(B * n_save * N * dtype.itemsize,
                f"the output ({B} trial(s) x {n_save} saved times x {N} neurons x "
                f"{dtype.itemsize} bytes)",
                "raise save_every (saves every k-th step), simulate fewer neurons or "
                "trials, a shorter duration, or use dtype=numpy.float32", max_memory)


def _warn_if_unstable(method, dt, net):
    """Warn when dt puts the fastest linear mode outside the method's stability region
    (``Method.stable_dt``). The coupling radius is r = max|phi'| * ||W||_F / sqrt(N)
    (exact for the circular law)."""
    if method.stability_limit == math.inf:
        return  # before the O(N^2) norm below: nothing to warn about
    tau_min = net.tau if isinstance(net.tau, float) else float(np.min(net.tau))
    if net.stp is not None:  # the linear decay of u and x
        tau_min = min(tau_min, float(np.min(net.stp.tau_f)), float(np.min(net.stp.tau_d)))
    radius = net.phi.max_slope * math.sqrt(float(_engine.kept(net, ("sum W^2",), _sum_sq(net)))
                                           / net.n_neurons)
    dt_max = method.stable_dt(dt, net.tau_array, radius, tau_min)
    if dt_max is not None:
        warnings.warn(
            f"dt={dt} is outside the stability region of {method.name!r} for the fastest "
            f"mode (tau_min={tau_min:g}, estimated coupling radius {radius:.3g}): the run "
            f"may blow up or oscillate spuriously; use dt <= {dt_max:.3g}, or "
            f"method='exponential_euler'", RuntimeWarning, stacklevel=4)


def _sum_sq(net):
    """A function for ``_engine.kept``: sum_ij W_ij^2 of ``net`` as a 0-d array (kept
    with the network: at N = 500 it cost 0.12 ms of a ~1.5 ms call's fixed cost). einsum,
    not np.linalg.norm: numpy's BLAS threads would keep spinning for ~0.1 s and steal
    the cores from the kernel's BLAS (scipy's OpenBLAS) that runs next."""
    w = net._W.data if net.is_sparse else net._W
    return lambda: np.array(np.einsum("i,i->", w.ravel(), w.ravel()))
