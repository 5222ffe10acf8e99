"""External inputs x(t): user arrays or DataArrays -> samples on the step grid.

The rule (documented in README "Inputs"): the run has steps k = 0 .. steps-1 of length
dt, step k spanning [t_k, t_k+1], t_k = k dt. Inputs are brought onto the grid points t_k,
k = 0 .. steps, and within step k

- ``interp="hold"`` (zero-order hold, the default): x(t) = x[k] for the whole step,
  so every Runge-Kutta stage of step k sees x[k]; Euler and the discrete RNN use x[k] to
  go from h[k] to h[k+1]: h[k+1] = phi(W h[k] + U x[k] + b).
- ``interp="linear"``: x(t_k + c dt) = (1 - c) x[k] + c x[k+1] (stages at fraction c).

An ndarray is taken as already on the grid: shape (steps, n_in) (the last value is held
through the end) or (steps + 1, n_in), or with a leading trial axis. A DataArray with a
``time`` coordinate may have any sampling: its value at t_k is the last sample at or
before t_k (hold) or the linear interpolation (linear); it must start at or before
t = 0 and is held after its last sample. "At or before" tolerates rounding of 0.1% of dt
(``ROUNDING``), so times stored as float32 land on the right step. A DataArray without
a time coordinate is refused: its sampling would be a guess.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._kernels.rhs import HOLD, LINEAR
from ._validation import as_float_array, check_finite

INTERP = {"hold": HOLD, "zoh": HOLD, "previous": HOLD, "linear": LINEAR}
ROUNDING = 1e-3  # a sample this fraction of dt from a grid point is at that point


def interp_code(interp):
    """The kernels' code of an input interpolation name (case-insensitive).

    Parameters
    ----------
    interp : str
        "hold" (aliases "zoh", "previous") or "linear".

    Returns
    -------
    int
        ``HOLD`` or ``LINEAR``.

    Raises
    ------
    ValueError
        If interp is not one of these names.
    """
    try:
        return INTERP[str(interp).lower()]
    except KeyError:
        raise ValueError(f"input_interp must be 'hold' (zero-order hold) or 'linear'; "
                         f"got {interp!r}") from None


def on_grid(inputs, n_inputs, steps, dt, interp="hold"):
    """Inputs as an array (Bx, steps + 1, n_inputs) on the grid t_k = k dt.

    Bx is 1 when the input is shared by all trials, else the number of trials.

    Parameters
    ----------
    inputs : array_like, xarray.DataArray or None
        See the module docstring.
    n_inputs : int
        Number of inputs of the network (columns of U).
    steps : int
        Number of steps of the run.
    dt : float
        Step size, in the unit of the DataArray's time coordinate (timedeltas are taken
        in seconds).
    interp : {"hold", "linear"}
        For a DataArray: how it is sampled at the grid points.

    Returns
    -------
    ndarray, shape (Bx, steps + 1, n_inputs)
        C-contiguous float64, in the units of the inputs; shape (1, steps + 1, 0) when
        there is no input.

    Raises
    ------
    TypeError
        If inputs (or a DataArray's time coordinate) is not a real numeric array.
    ValueError
        If inputs are given to a network without input weights U; an array does not
        have shape ([trials,] steps or steps + 1, n_inputs); a DataArray has no ``time``
        dimension, other dims than time, trial and one input dimension, an input
        dimension of the wrong length, a time coordinate that is empty, not strictly
        increasing or starts after 0; the values hold NaN or inf; or (for a DataArray)
        interp is not "hold" or "linear".

    Warns
    -----
    UserWarning
        If a DataArray ends well before the end of the run (its last value is held).
    """
    if inputs is None:
        return np.zeros((1, steps + 1, 0))
    if n_inputs == 0:
        raise ValueError("inputs were given but the network has no input weights U: build "
                         "it with RateNetwork(W, U=...) of shape (n_neurons, n_inputs)")
    if _is_dataarray(inputs):
        xs = _resample(inputs, n_inputs, steps, dt, interp)
    else:
        xs = as_float_array("inputs", inputs)
        if xs.ndim == 1 and n_inputs == 1:
            xs = xs[:, None]
        if xs.ndim == 2:
            xs = xs[None]
        if xs.ndim != 3 or xs.shape[1] not in (steps, steps + 1) or xs.shape[2] != n_inputs:
            raise ValueError(
                f"inputs must have shape (steps, n_inputs) = ({steps}, {n_inputs}) or "
                f"({steps + 1}, {n_inputs}), or (trials, {steps}, {n_inputs}); got "
                f"{np.shape(inputs)}. For other samplings pass an xarray.DataArray with a "
                "'time' coordinate")
        if xs.shape[1] == steps:  # hold the last value through the last step
            xs = np.concatenate([xs, xs[:, -1:]], axis=1)
    return np.ascontiguousarray(xs)


def _is_dataarray(obj):
    return type(obj).__name__ == "DataArray" and hasattr(obj, "dims")


def _resample(da, n_inputs, steps, dt, interp):
    if "time" not in da.dims:
        raise ValueError(f"inputs DataArray needs a 'time' dimension; got dims {da.dims}")
    if "time" not in da.coords:
        raise ValueError("inputs DataArray has a 'time' dimension without a time coordinate, "
                         "so its sampling is unknown: assign one, e.g. "
                         "da.assign_coords(time=np.arange(da.sizes['time']) * dt), or pass a "
                         "NumPy array on the step grid")
    others = [d for d in da.dims if d not in ("time", "trial")]
    if len(others) > 1:
        raise ValueError(f"inputs DataArray may have dims time, trial and one input "
                         f"dimension; got {da.dims}")
    if not others:
        if n_inputs != 1:
            raise ValueError(f"inputs DataArray has no input dimension but the network has "
                             f"{n_inputs} inputs; add a dimension of length {n_inputs}")
        da = da.expand_dims("input", axis=-1)
        others = ["input"]
    if da.sizes[others[0]] != n_inputs:
        raise ValueError(f"inputs dimension {others[0]!r} has length {da.sizes[others[0]]}, "
                         f"the network has {n_inputs} inputs (U.shape[1])")
    order = (["trial"] if "trial" in da.dims else []) + ["time", others[0]]
    da = da.transpose(*order)
    t = np.asarray(da["time"].values)
    if np.issubdtype(t.dtype, np.timedelta64):
        t = t / np.timedelta64(1, "s")
    # the rounding of the times as stored: float32 times are off by up to ~6e-8 t
    t_ulp = float(np.spacing(np.abs(t).max())) if t.dtype.kind == "f" and t.size else 0.0
    t = as_float_array("inputs time coordinate", t)
    if t.size == 0 or np.any(np.diff(t) <= 0):
        raise ValueError("inputs time coordinate must be non-empty and strictly increasing")
    vals = np.asarray(da.values, dtype=np.float64)
    check_finite("inputs", vals)
    if vals.ndim == 2:
        vals = vals[None]
    grid = np.arange(steps + 1) * dt
    # a sample within ROUNDING * dt of a grid point is at that point: times that went
    # through float32 (or NetCDF as float32) are off by up to ~1e-7 t, which matters
    # relative to dt, not to t
    tol = max(ROUNDING * dt, 4 * t_ulp)
    if tol >= 0.5 * dt:
        raise ValueError(f"the inputs' time coordinate ({da['time'].dtype}) cannot resolve "
                         f"dt={dt} at t = {float(np.abs(t).max()):g}: store the times as "
                         "float64 (da.assign_coords(time=da.time.astype('float64')) cannot "
                         "recover lost digits; rebuild them)")
    if t[0] > grid[0] + tol:
        raise ValueError(f"inputs start at time {t[0]} but the run starts at 0: give inputs "
                         "from time 0 on")
    if t[-1] < grid[-1] - tol and t.size > 1 and grid[-1] - t[-1] > (t[-1] - t[-2]) + tol:
        warnings.warn(f"inputs end at time {t[-1]}, before the end of the run "
                      f"({grid[-1]}); the last value is held", stacklevel=4)
    if interp_code(interp) == HOLD:
        idx = np.searchsorted(t, grid + tol, side="right") - 1
        xs = vals[:, np.clip(idx, 0, t.size - 1), :]
    else:
        xs = np.empty((vals.shape[0], steps + 1, n_inputs))
        for r in range(vals.shape[0]):
            for i in range(n_inputs):
                xs[r, :, i] = np.interp(grid, t, vals[r, :, i])
    return xs
