"""Statistics of simulation results: autocorrelation, dimensionality, principal
components. Each takes a DataArray with a ``time`` and a ``neuron`` dimension (e.g.
``ds.h``); a ``trial`` dimension is pooled."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._validation import nonnegative_int, nonzero, positive_int


def _samples(da, dims=("time", "neuron")):
    """(trial, time, neuron) array from a DataArray with time and neuron dims."""
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"expected an xarray.DataArray such as ds.h; got {type(da).__name__}")
    for d in dims:
        if d not in da.dims:
            raise ValueError(f"the DataArray needs a {d!r} dimension; it has {da.dims}")
    extra = [d for d in da.dims if d not in dims]
    a = da.transpose(*extra, *dims).values
    if not np.isfinite(a).all():
        raise ValueError(f"the DataArray holds {int((~np.isfinite(a)).sum())} NaN or inf "
                         "value(s) (a failed run's tail?); select its finite part first, "
                         "e.g. da.dropna('time')")
    return a.reshape((-1,) + a.shape[-2:])


def autocorrelation(da, max_lag=None, *, center=True, normalize=False):
    """Population-averaged autocorrelation C(s) = < (h_i(t) - m_i)(h_i(t + s) - m_i) >
    over neurons, times (and trials), for lags s = 0 .. max_lag saved steps.

    Parameters
    ----------
    da : xarray.DataArray with dims time, neuron (and optionally trial)
    max_lag : int, optional
        Largest lag in saved steps (default: a quarter of the time points).
    center : bool
        Subtract each neuron's time mean (per trial).
    normalize : bool
        Divide by C(0).

    Returns
    -------
    xarray.DataArray, dim ``lag``, shape (max_lag + 1,)
        C(s), in units of h^2 ("1" with ``normalize``); the ``lag`` coordinate is
        k * (spacing of da's time coordinate), in da's time unit.

    Raises
    ------
    TypeError
        If da is not an xarray.DataArray.
    ValueError
        If da lacks a ``time`` or ``neuron`` dimension, or max_lag is not in
        [0, n_times - 1].

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> t = np.arange(1000.0)
    >>> da = xr.DataArray(np.cos(0.1 * t)[:, None], dims=("time", "neuron"), coords={"time": t})
    >>> c = ctrnn.analysis.autocorrelation(da, 40, normalize=True, center=False)
    >>> round(float(c.sel(lag=10.0)), 2)      # cos(0.1 * 10)
    0.53
    """
    x = _samples(da)
    T = x.shape[1]
    max_lag = T // 4 if max_lag is None else nonnegative_int("max_lag", max_lag)
    if not 0 <= max_lag < T:
        raise ValueError(f"max_lag must be in [0, {T - 1}]; got {max_lag}")
    if center:
        x = x - x.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * T)))
    f = np.fft.rfft(x, n=nfft, axis=1)
    acf = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :max_lag + 1]
    acf = acf.mean(axis=(0, 2)) / (T - np.arange(max_lag + 1))  # unbiased in each lag
    if normalize:
        scale = float(np.abs(_samples(da)).max()) if T else 0.0
        nonzero("C(0)", acf[0], scale, "the activity does not vary, so the "
                "autocorrelation cannot be normalised; use normalize=False", squared=True)
        acf = acf / acf[0]
    t = da["time"].values
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    t_units = da["time"].attrs.get("units", "1") if "time" in da.coords else "1"
    units = da.attrs.get("units", "1")
    return xr.DataArray(
        acf, dims="lag",
        coords={"lag": ("lag", np.arange(max_lag + 1) * dt,
                        {"long_name": "lag", "units": t_units})},
        name="autocorrelation",
        attrs={"long_name": "population-averaged autocorrelation",
               "units": "1" if normalize or units == "1" else f"({units})^2"})


def _scale(da):
    """max |x| times sqrt(number of neurons): the scale whose square a total variance is
    zero at (NaN if the data hold NaN)."""
    a = _samples(da)
    return float(np.abs(a).max()) * np.sqrt(a.shape[-1]) if a.size else 0.0


def _covariance(da):
    x = _samples(da).reshape(-1, da.sizes["neuron"])
    x = x - x.mean(axis=0)
    return x.T @ x / max(x.shape[0] - 1, 1), x


def participation_ratio(da):
    """Participation-ratio dimension (sum lambda)^2 / sum lambda^2 of the covariance
    across neurons: 1 for activity on one axis, N for isotropic activity.

    Parameters
    ----------
    da : xarray.DataArray with dims time, neuron (and optionally trial)

    Returns
    -------
    float
        The dimension, between 1 and n_neurons (dimensionless).

    Raises
    ------
    TypeError
        If da is not an xarray.DataArray.
    ValueError
        If da lacks a ``time`` or ``neuron`` dimension.

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> x = np.random.default_rng(0).standard_normal((5000, 1)) * [[1.0, 2.0, 3.0]]
    >>> round(ctrnn.analysis.participation_ratio(xr.DataArray(x, dims=("time", "neuron"))), 2)
    1.0
    """
    C, x = _covariance(da)
    lam = np.linalg.eigvalsh(C)
    nonzero("the total variance", lam.sum(), _scale(da), "the activity does not vary, "
            "so it has no dimension", squared=True)
    return float(lam.sum() ** 2 / (lam**2).sum())


def principal_components(da, n_components=None):
    """Principal components of the activity across neurons.

    Parameters
    ----------
    da : xarray.DataArray with dims time, neuron (and optionally trial)
    n_components : int, optional
        Number of components kept (default all n_neurons).

    Returns
    -------
    xarray.Dataset
        ``components`` (component, neuron), shape (n_components, n_neurons), unit
        vectors; ``explained_variance`` (component,) in units of h^2;
        ``explained_variance_ratio`` (component,), dimensionless; and ``projections``
        (time, component) in units of h (pooled over trials as (sample, component) when
        batched).

    Raises
    ------
    TypeError
        If da is not an xarray.DataArray.
    ValueError
        If da lacks a ``time`` or ``neuron`` dimension.

    Examples
    --------
    >>> import numpy as np, xarray as xr, ctrnn
    >>> x = np.random.default_rng(0).standard_normal((4000, 1)) * [[3.0, 4.0]]
    >>> pc = ctrnn.analysis.principal_components(xr.DataArray(x, dims=("time", "neuron")), 1)
    >>> np.round(np.abs(pc.components.values[0]), 2).tolist()
    [0.6, 0.8]
    """
    C, x = _covariance(da)
    lam, vec = np.linalg.eigh(C)
    nonzero("the total variance", lam.sum(), _scale(da), "the activity does not vary, "
            "so it has no principal components", squared=True)
    order = np.argsort(lam)[::-1]
    lam, vec = lam[order], vec[:, order]
    n = len(lam) if n_components is None else positive_int("n_components", n_components)
    if n > len(lam):
        raise ValueError(f"n_components={n} exceeds the number of neurons {len(lam)}")
    proj = x @ vec[:, :n]
    batched = "trial" in da.dims
    pdim = "sample" if batched else "time"
    coords = {"component": np.arange(n), "neuron": da["neuron"].values}
    if not batched and "time" in da.coords:
        coords["time"] = da["time"].values
    return xr.Dataset(
        {"components": (("component", "neuron"), vec[:, :n].T),
         "explained_variance": ("component", lam[:n]),
         "explained_variance_ratio": ("component", lam[:n] / lam.sum()),
         "projections": ((pdim, "component"), proj)}, coords=coords)
