"""Parameter sweeps on dask.distributed, with resumable results in a Zarr store."""
from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
import re
import shutil
import uuid
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.sparse import issparse

from ._progress import Progress
from ._version import __version__
from .io import write_atomic
from .network import RateNetwork
from .plasticity import STP

TINY = 4  # sweeps of at most this many points run in-process when client is None


class SweepWarning(UserWarning):
    """Some points of a sweep failed; the others are in the result."""


def _as_dataset(obj):
    if isinstance(obj, xr.Dataset):
        return obj
    if isinstance(obj, xr.DataArray):
        return obj.to_dataset(name=obj.name or "result")
    if np.isscalar(obj) or isinstance(obj, np.ndarray):
        return xr.Dataset({"result": xr.DataArray(np.asarray(obj))})
    raise TypeError(f"reduce must return an xarray object or a number; got {type(obj).__name__}")


def run_point(build, simulate_kwargs, reduce, point):
    """Build, simulate and reduce one point of a sweep (runs on a worker).

    Returns
    -------
    xarray.Dataset
        ``reduce(ds)`` (or the whole ``simulate`` Dataset), loaded into memory: a
        DataArray as a variable of its name (or ``result``), a number or array as the
        variable ``result``.

    Raises
    ------
    TypeError
        If reduce returns something other than an xarray object, a number or an array.
        Whatever ``build`` or ``simulate`` raise passes through.
    """
    from .simulate import simulate

    net = build(**point)
    ds = simulate(net, **{"progress": False, **simulate_kwargs})
    out = _as_dataset(reduce(ds) if reduce is not None else ds)
    return out.load()


def _warm(simulate_kwargs):
    """Load (or compile once) the kernels in a worker process before the first task."""
    import ctrnn

    net = ctrnn.RateNetwork(np.zeros((2, 2)))
    kw = {k: v for k, v in simulate_kwargs.items() if k in ("method", "dtype")}
    counts_steps = ctrnn.integrators.get_method(kw.get("method", "rk4")).counts_steps
    ctrnn.simulate(net, steps=2, **({} if counts_steps else {"dt": 0.1}), progress=False,
                   **kw)
    return os.getpid()


def _signature(names, values, simulate_kwargs, build, reduce):
    desc = {"params": {n: [repr(v) for v in vals] for n, vals in zip(names, values)},
            "simulate": {k: _repr(v) for k, v in sorted(simulate_kwargs.items())},
            "build": _describe(build), "reduce": _describe(reduce)}
    text = json.dumps(desc, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], text


def _describe(fn):
    """What identifies a build or reduce callable to a store: its qualified name, a hash
    of its source (of its code object when there is no source), its default arguments and
    the values it closes over; for functools.partial, the function and the bound
    arguments. So two different lambdas, a changed body or a changed captured value make
    a different sweep (see ``_repr`` for how values are compared)."""
    if fn is None:
        return None
    if isinstance(fn, partial):
        return {"partial": _describe(fn.func), "args": [_repr(a) for a in fn.args],
                "keywords": {k: _repr(v) for k, v in sorted(fn.keywords.items())}}
    qualname = getattr(fn, "__qualname__", type(fn).__qualname__)
    name = f"{getattr(fn, '__module__', '')}.{qualname}"
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its name and state
        return {"name": name, "repr": _repr(fn)}
    try:
        src = inspect.getsource(fn)
    except (OSError, TypeError):  # defined at the prompt or by exec
        src = _code_text(code)
    return {"name": name, "code": hashlib.sha256(src.encode()).hexdigest()[:16],
            "defaults": _repr((fn.__defaults__, fn.__kwdefaults__)),
            "closure": [_repr(_cell(c)) for c in fn.__closure__ or ()]}


def _code_text(code):
    """A code object's instructions, names and constants (nested code included)."""
    consts = [_code_text(c) if inspect.iscode(c) else _repr(c) for c in code.co_consts]
    return f"{code.co_code.hex()}|{code.co_names}|{code.co_varnames}|{consts}"


def _cell(c):
    try:
        return c.cell_contents
    except ValueError:  # an empty cell (a variable not assigned yet)
        return "<empty cell>"


def _repr(v):
    """A text that identifies a value across processes: arrays (dense or sparse),
    RateNetworks and STP by a hash of their contents, dicts and sets in sorted order,
    other objects by repr without memory addresses."""
    if isinstance(v, np.ndarray):
        c = np.ascontiguousarray(v)
        h = hashlib.sha256(c.view(np.uint8) if c.dtype != object else repr(c.tolist()).encode())
        return f"ndarray({c.dtype}, {c.shape}, {h.hexdigest()[:16]})"
    if issparse(v):
        csr = v.tocsr()
        return (f"sparse({csr.shape}, {_repr(csr.data)}, {_repr(csr.indices)}, "
                f"{_repr(csr.indptr)})")
    if isinstance(v, RateNetwork):
        return "RateNetwork(" + ", ".join(
            f"{k}={_repr(getattr(v, k))}" for k in ("W", "U", "b", "tau", "noise")) + \
            f", phi={v.phi.name}, stp={_repr(v.stp)}, dale={_repr(v.dale)})"
    if isinstance(v, STP):
        return "STP(" + ", ".join(f"{k}={_repr(getattr(v, k))}" for k in (
            "U", "tau_f", "tau_d", "rate_scale", "efficacy")) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_repr(k)}: {_repr(x)}" for k, x in
                               sorted(v.items(), key=lambda kv: repr(kv[0]))) + "}"
    if isinstance(v, (set, frozenset)):
        return type(v).__name__ + "(" + ", ".join(sorted(_repr(x) for x in v)) + ")"
    if isinstance(v, (list, tuple)):
        return type(v).__name__ + "(" + ", ".join(_repr(x) for x in v) + ")"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(v))


class _Store:
    """A sweep's directory: sweep.json (what made it) and one Zarr store per finished
    point, renamed into place only once complete (a killed run leaves no half point)."""

    def __init__(self, path, signature, text):
        self.path = Path(path)
        meta = self.path / "sweep.json"
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"store {self.path} is a file: give a folder for the sweep")
        if self.path.exists() and any(self.path.iterdir()):  # (an empty folder is new)
            if not meta.exists():
                raise ValueError(f"{self.path} exists and is not a ctrnn sweep store: choose "
                                 "another path")
            old = json.loads(meta.read_text())
            if old["signature"] != signature:
                raise ValueError(
                    f"{self.path} holds a different sweep (its parameters, simulate "
                    f"arguments, build or reduce differ): use another store path or delete "
                    f"it.\nstored: {old['description']}\nthis:   {text}")
            (self.path / "points").mkdir(exist_ok=True)
        else:  # the metadata first: a folder without it is not a sweep store
            self.path.mkdir(parents=True, exist_ok=True)
            write_atomic(meta, lambda tmp: tmp.write_text(
                json.dumps({"signature": signature, "description": text})))
            (self.path / "points").mkdir(exist_ok=True)

    def done(self):
        return {int(p.name.split(".")[0]) for p in (self.path / "points").glob("*.zarr")}

    def write(self, index, ds):
        tmp = self.path / "points" / f".tmp-{index}-{uuid.uuid4().hex}"
        ds.to_zarr(tmp, mode="w", consolidated=False)
        os.replace(tmp, self.path / "points" / f"{index}.zarr")

    def read(self, index):
        return xr.open_zarr(self.path / "points" / f"{index}.zarr", consolidated=False).load()

    def clean(self):
        for p in (self.path / "points").glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def sweep(build, params, *, simulate=None, reduce=None, client=None, store=None,
          n_workers=None, progress=None):
    """Run ``simulate`` on the network ``build(**point)`` for every point of a parameter
    grid, on dask.distributed, and combine the results along the parameter dimensions.

    Parameters
    ----------
    build : callable
        ``build(**point) -> RateNetwork``; must be importable or picklable by cloudpickle
        (a lambda is fine).
    params : dict of name -> sequence
        The grid: every combination is a point (dims in this order).
    simulate : dict
        Keyword arguments of ``ctrnn.simulate`` (duration, dt, method, ...). ``threads``
        defaults to 1 here, in every mode (on Dask the points are the parallelism; a
        serial sweep runs the same way, so that either continues the other's store).
    reduce : callable, optional
        ``reduce(ds) -> xarray object or number``, run on the worker: keep only what you
        need (a 10,000-point sweep of full runs would not fit). Default: the whole Dataset.
    client : dask.distributed.Client, scheduler address, None or "serial"
        None: a LocalCluster with one single-threaded worker process per core (or
        in-process for sweeps of at most 4 points); "serial": in this process.
    store : path, optional
        A directory: each finished point is written there as it completes. Calling again
        with the same arguments computes only the missing points; a store made by another
        sweep is refused. The store knows a sweep by its grid, its simulate arguments
        (``threads`` among them unless 1: a run split across threads can differ from a
        one-thread run to round-off) and build and reduce: their names, source code,
        defaults and the values they close over (or a partial's bound arguments). It
        cannot see module-level globals they read: a changed global needs a new store.
    n_workers : int, optional
        Workers of the LocalCluster made when ``client`` is None.
    progress : bool, callable or None
        Progress over points (as in ``simulate``).

    Returns
    -------
    xarray.Dataset
        The results with the parameter dims first (in the order of ``params``, sizes the
        numbers of values, coordinates the values), then the dims of each point's result
        (``reduce(ds)`` as in ``run_point``; units as ``reduce`` or ``simulate`` give
        them); attrs ``n_points``, ``n_computed`` (this call), ``n_failed``,
        ``failed_points`` (JSON) and ``sweep`` (JSON: the grid, the simulate arguments,
        and build and reduce by their source and captured values: how to make it
        again). Failed points are NaN and are reported in a
        ``SweepWarning`` with their parameters.

    Raises
    ------
    TypeError
        If build is not callable or params is not a non-empty dict.
    ValueError
        If a parameter has no values, or ``store`` exists but is not a sweep store or
        holds a different sweep.
    ImportError
        If the points do not run in this process (see ``client``) and dask.distributed
        is not installed.

    Warns
    -----
    SweepWarning
        If some points failed (their exceptions and parameters are listed).

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> res = ctrnn.sweep(lambda g, seed: ctrnn.RateNetwork(ctrnn.connectivity.gaussian(50, g, seed)),
    ...                   params={"g": [0.5, 2.0], "seed": [0, 1]},
    ...                   simulate=dict(duration=20.0, dt=0.1, h0="random", seed=0),
    ...                   reduce=lambda ds: ds.h.isel(time=-1).var("neuron"))
    >>> res.h.dims, bool((res.h.sel(g=0.5) < 1e-3).all()), bool((res.h.sel(g=2.0) > 0.05).all())
    (('g', 'seed'), True, True)
    """
    if not callable(build):
        raise TypeError("build must be a callable returning a RateNetwork")
    if not isinstance(params, dict) or not params:
        raise TypeError("params must be a non-empty dict of name -> sequence of values")
    names = list(params)
    values = [list(np.atleast_1d(np.asarray(list(v) if not np.isscalar(v) else [v])))
              for v in params.values()]
    for n, v in zip(names, values):
        if not v:
            raise ValueError(f"params[{n!r}] is empty")
    # one thread a point unless asked (on Dask the workers are the parallelism; and a
    # split run can differ from a one-thread run to round-off, see simulate's threads),
    # in both modes, so that a store resumed in the other mode continues the same sweep
    simulate_kwargs = {"threads": 1, **(simulate or {})}
    grid = list(itertools.product(*[range(len(v)) for v in values]))
    points = [{n: _py(values[i][j]) for i, (n, j) in enumerate(zip(names, idx))}
              for idx in grid]
    # threads=1 (the default) is left out of the sweep's identity (stores made before it
    # was a default stay resumable); any other number is part of it
    sig, text = _signature(names, values,
                           {k: v for k, v in simulate_kwargs.items()
                            if not (k == "threads" and v == 1)},
                           build, reduce)
    st = _Store(store, sig, text) if store is not None else None
    done = st.done() if st else set()
    if st:
        st.clean()
    todo = [i for i in range(len(points)) if i not in done]
    results, failures = {}, {}
    bar = Progress(len(points), progress, label="ctrnn sweep", unit="point")
    bar.update(len(done)) if done else None

    def finished(i, ds):
        if st:
            st.write(i, ds)
        results[i] = ds
        bar.update(len(done) + len(results) + len(failures))

    own = None
    try:
        if client == "serial" or (client is None and len(todo) <= TINY):
            for i in todo:
                try:
                    finished(i, run_point(build, simulate_kwargs, reduce, points[i]))
                except Exception as exc:  # noqa: BLE001 - reported with the point
                    failures[i] = exc
        else:
            from dask.distributed import Client, LocalCluster, as_completed

            if client is None:
                own = LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=None)
                client = Client(own)
            elif isinstance(client, str):
                client = Client(client)
            client.run(_warm, simulate_kwargs)
            # one map call, and each result fetched by as_completed as it completes: a
            # submit and a result() per point cost two event-loop round trips each
            futures = client.map(partial(run_point, build, simulate_kwargs, reduce),
                                 [points[i] for i in todo], pure=False,
                                 key=[f"ctrnn-sweep-{sig}-{i}" for i in todo])
            index = {fut.key: i for fut, i in zip(futures, todo)}
            try:
                for fut, res in as_completed(futures, with_results=True, raise_errors=False):
                    if fut.status == "finished":
                        finished(index[fut.key], res)
                    else:  # an error arrives as (type, exception, traceback)
                        failures[index[fut.key]] = _exception(res)
            finally:
                for fut in futures:
                    fut.cancel()
    finally:
        bar.close()
        if own is not None:
            client.close()
            own.close()
    for i in done:
        results[i] = st.read(i)
    if failures:
        lines = "\n".join(f"  {points[i]}: {type(e).__name__}: {e}" for i, e in failures.items())
        warnings.warn(f"{len(failures)} of {len(points)} sweep points failed (NaN in the "
                      f"result; the others are kept):\n{lines}", SweepWarning, stacklevel=2)
    res = _combine(results, points, names, values)
    res.attrs.update(n_points=len(points), n_computed=len(results) - len(done),
                     n_failed=len(failures),
                     failed_points=json.dumps([points[i] for i in sorted(failures)]),
                     sweep=text, ctrnn_version=__version__)
    return res


def _exception(res):
    """The exception of a failed or cancelled future's result, as as_completed gives it."""
    if isinstance(res, tuple) and len(res) == 3 and isinstance(res[1], BaseException):
        return res[1]
    return res if isinstance(res, BaseException) else RuntimeError(repr(res))


def _py(v):
    return v.item() if hasattr(v, "item") else v


def _combine(results, points, names, values):
    """One Dataset with dims names + the result's own dims (missing points NaN), each
    point aligned by its own coordinate labels."""
    if not results:
        return xr.Dataset(coords={n: v for n, v in zip(names, values)})
    template = next(iter(results.values()))
    full = []
    for i, p in enumerate(points):
        ds = results.get(i)
        if ds is None:  # a failed point: NaN of the template's shape
            ds = xr.full_like(template, np.nan, dtype=np.float64)
        # the Dataset's attrs differ per point; the variables' (units) are kept
        full.append(ds.drop_attrs(deep=False) if hasattr(ds, "drop_attrs") else ds)
    # an outer join on each result's own coordinates: points whose reduce returns other
    # labels (the top-3 neurons of each network, say) keep them, NaN elsewhere
    stacked = xr.concat(full, dim="point", coords="minimal", compat="override",
                        join="outer")
    stacked = stacked.assign_coords({n: ("point", [p[n] for p in points]) for n in names})
    if len(names) == 1:  # one parameter: no multi-index to unstack
        out = stacked.swap_dims(point=names[0])
    else:
        out = stacked.set_index(point=names).unstack("point")
    out = out.transpose(*names, ...)
    out.attrs = dict(template.attrs)
    return out
