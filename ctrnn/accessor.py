"""``ds.ctrnn`` and ``da.ctrnn``: plots and quick analyses on a result, registered on
import of ctrnn (xarray's accessor mechanism: composition, not subclassing).

>>> import ctrnn
>>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(50, g=1.5, seed=0))
>>> ds = ctrnn.simulate(net, duration=20.0, dt=0.1, h0="random", seed=1)
>>> round(ds.ctrnn.participation_ratio(), 1) > 1
True
>>> fig = ds.ctrnn.plot()          # heat map of h over time, and a few traces

Nothing here selects a matplotlib backend: figures are made with pyplot under the
user's backend (matplotlib falls back to a non-interactive one when there is no display).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .analysis import statistics as _stats

_HEATMAP_ABOVE = 8  # more neurons than this: a heat map (plus a few traces)
_SMALL_MULTIPLES_UP_TO = 6  # more trials than this: mean +- sd over trials


def _label(da, default, short=False):
    """"long name (units)"; ``short``: the variable's own name when the long name would
    not fit beside an axis."""
    name = da.attrs.get("long_name", default)
    if short and len(name) > 20:
        name = da.name or default
    units = da.attrs.get("units")
    return f"{name} ({units})" if units else name


def _time_label(da):
    return f"time ({da['time'].attrs.get('units', '?')})" if "time" in da.coords else "time"


def _check(da):
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"expected an xarray.DataArray; got {type(da).__name__}")
    for d in ("time", "neuron"):
        if d not in da.dims:
            raise ValueError(f"ctrnn plots and analyses need dims 'time' and 'neuron' "
                             f"(and optionally 'trial'); this DataArray has {da.dims}")
    extra = [d for d in da.dims if d not in ("trial", "time", "neuron")]
    if extra:
        raise ValueError(f"unexpected dimension(s) {extra}: select one value of each "
                         f"first, e.g. da.isel({extra[0]}=0)")
    return da


def _color_scale(da):
    """(signed, limit) of a heat map: a diverging map around 0 when the data are
    meaningfully negative, else 0 .. limit; the limit is the 99.5th percentile of |data|,
    so a few extreme values (a near blow-up) do not wash out the rest, and NaN (a failed
    run's tail) is left out."""
    v = np.asarray(da.values)
    finite = v[np.isfinite(v)]
    if not finite.size:
        return True, 1.0
    lim = float(np.percentile(np.abs(finite), 99.5)) or 1.0
    return bool(finite.min() < -0.05 * lim), lim


class _Methods:
    """What the Dataset and the DataArray accessors share; ``_activity(var)`` picks the
    DataArray."""

    def _activity(self, var=None):
        raise NotImplementedError

    # --- analyses --------------------------------------------------------------------
    def autocorrelation(self, max_lag=None, *, var=None, center=True, normalize=False):
        """Population-averaged autocorrelation over lags in time units
        (``ctrnn.analysis.autocorrelation``); returns a DataArray (lag,).

        Raises
        ------
        ValueError
            If max_lag is outside [0, n_times - 1] or the dims are not (trial,) time,
            neuron.
        """
        return _stats.autocorrelation(self._activity(var), max_lag, center=center,
                                      normalize=normalize)

    def participation_ratio(self, *, var=None):
        """Participation-ratio dimension of the activity (a float between 1 and N;
        ``ctrnn.analysis.participation_ratio``)."""
        return _stats.participation_ratio(self._activity(var))

    def principal_components(self, n_components=None, *, var=None):
        """Principal components of the activity across neurons: a Dataset with
        ``components`` (component, neuron), ``explained_variance(_ratio)`` (component,)
        and ``projections`` (``ctrnn.analysis.principal_components``)."""
        return _stats.principal_components(self._activity(var), n_components)

    # --- plots -----------------------------------------------------------------------
    def plot(self, *, var=None, neurons=None, max_traces=5, figure=None):
        """Activity over time: a heat map of all neurons (more than 8) and traces of a
        few, or traces only (8 or fewer, or ``neurons`` given). A batch is shown as small
        multiples (up to 6 trials) or as the mean +- sd over trials of a few neurons.
        With STP, u and x get a panel each. Axes carry names and units; traces are
        labelled with the ``population`` coordinate when there is one.

        Parameters
        ----------
        var : str, optional
            The variable to show (Dataset: default "h" plus "u", "x" when present).
        neurons : sequence of int, optional
            Neurons to trace (default: all of 8 or fewer, else the first
            ``max_traces``).
        figure : matplotlib.figure.Figure, optional
            Draw into this figure (default: a new pyplot figure).

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ValueError
            If the variable lacks the time and neuron dimensions, or ``neurons`` names
            a neuron that is not there.
        """
        import matplotlib.pyplot as plt

        names = self._plot_vars(var)
        das = [_check(self._activity(v)) for v in names]
        h = das[0]
        n_trials = h.sizes.get("trial", 1)
        small_multiples = "trial" in h.dims and n_trials <= _SMALL_MULTIPLES_UP_TO
        cols = n_trials if small_multiples else 1
        heat = neurons is None and h.sizes["neuron"] > _HEATMAP_ABOVE
        rows = (2 if heat else 1) + len(das) - 1
        fig = figure if figure is not None else plt.figure(
            figsize=(min(4 + 3 * cols, 16), 2.2 * rows + 1), layout="constrained")
        axes = np.array(fig.subplots(rows, cols, sharex=True, squeeze=False,
                                     gridspec_kw=dict(height_ratios=[2] + [1] * (rows - 1))
                                     if heat else None))
        N = h.sizes["neuron"]
        if neurons is None:
            idx = list(range(min(max_traces, N) if heat else N))
        else:
            idx = [int(i) for i in neurons]
            bad = [i for i in idx if not 0 <= i < N]
            if bad:
                raise ValueError(f"neurons={bad} are not in this result, which has neurons "
                                 f"0 .. {N - 1}")
        # one colour scale and one y range for all small multiples, so trials compare
        scale = _color_scale(h)
        for c in range(cols):
            sel = {"trial": c} if small_multiples else {}
            row = 0
            if heat:
                one = h.isel(**sel) if sel else (h.mean("trial") if "trial" in h.dims else h)
                self._heatmap(fig, axes[row, c], one,
                              "" if sel or "trial" not in h.dims else "mean over trials, ",
                              scale if sel else _color_scale(one), colorbar=c == cols - 1)
                row += 1
            for k, da in enumerate(das):
                ax = axes[row, c]
                self._traces(ax, da.isel(**sel) if sel else da, idx, legend=c == cols - 1)
                if c == 0:
                    ax.set_ylabel(_label(da, da.name, short=True))
                if c == 0 and len(das) > 1:  # several variables: say which in full
                    ax.set_title(da.attrs.get("long_name", da.name), fontsize="small",
                                 loc="left")
                if small_multiples and c > 0:
                    ax.sharey(axes[row, 0])
                row += 1
            if small_multiples:
                axes[0, c].set_title(f"trial {c}")
            axes[-1, c].set_xlabel(_time_label(h))
        if "trial" in h.dims and not small_multiples:
            fig.suptitle(f"{n_trials} trials: mean \u00b1 sd over trials")
        return fig

    def plot_trajectory(self, n_components=2, *, var=None, figure=None):
        """The activity projected on its first 2 or 3 principal components (pooled over
        trials; one line per trial), axes labelled with the variance explained.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ValueError
            If n_components is not 2 or 3, or there are fewer neurons than that.
        """
        import matplotlib.pyplot as plt

        if n_components not in (2, 3):
            raise ValueError(f"n_components must be 2 or 3; got {n_components!r}")
        da = _check(self._activity(var))
        if da.sizes["neuron"] < n_components:
            raise ValueError(f"{n_components} components need at least {n_components} "
                             f"neurons; this result has {da.sizes['neuron']}")
        pc = _stats.principal_components(da, n_components)
        proj = pc.projections.values
        T = da.sizes["time"]
        lines = proj.reshape(-1, T, n_components)  # (trial, time, component)
        fig = figure if figure is not None else plt.figure(figsize=(5.5, 5),
                                                           layout="constrained")
        ax = fig.add_subplot(projection="3d" if n_components == 3 else None)
        for k, line in enumerate(lines):
            ax.plot(*line.T, lw=0.8, label=f"trial {k}" if len(lines) > 1 else None)
            ax.plot(*line[0][:, None], "o", ms=4, color="k")
        ratio = pc.explained_variance_ratio.values
        setters = (ax.set_xlabel, ax.set_ylabel) + ((ax.set_zlabel,) if n_components == 3
                                                     else ())
        for i, set_label in enumerate(setters):
            set_label(f"PC{i + 1} ({100 * ratio[i]:.0f}% of variance)")
        ax.set_title(f"{_label(da, da.name)}: principal components (o: start)")
        if 1 < len(lines) <= 10:
            ax.legend(fontsize="small")
        return fig

    # --- helpers ---------------------------------------------------------------------
    def _plot_vars(self, var):
        return [var]

    @staticmethod
    def _heatmap(fig, ax, da, prefix, scale, colorbar=True):
        t = da["time"].values.astype(float)
        v = da.transpose("neuron", "time").values
        signed, lim = scale
        half = 0.5 * (t[1] - t[0]) if t.size > 1 else 0.5  # pixels centred on the saves
        im = ax.imshow(v, aspect="auto", origin="lower", interpolation="nearest",
                       cmap="RdBu_r" if signed else "viridis",
                       vmin=-lim if signed else 0.0, vmax=lim,
                       extent=[t[0] - half, t[-1] + half, -0.5, da.sizes["neuron"] - 0.5])
        if colorbar:
            fig.colorbar(im, ax=ax, label=prefix + _label(da, da.name), shrink=0.9)
        ax.set_ylabel("neuron")

    @staticmethod
    def _traces(ax, da, idx, legend=True):
        t = da["time"].values
        names = (da["population"].values if "population" in da.coords
                 and da["population"].dims == ("neuron",) else None)

        def label(i):
            return f"neuron {i}" if names is None else f"{names[i]} (neuron {i})"
        if "trial" in da.dims:  # mean +- sd over trials
            m = da.mean("trial").isel(neuron=idx).transpose("time", "neuron").values
            s = da.std("trial").isel(neuron=idx).transpose("time", "neuron").values
            for j, i in enumerate(idx):
                line, = ax.plot(t, m[:, j], lw=0.9, label=label(i))
                ax.fill_between(t, m[:, j] - s[:, j], m[:, j] + s[:, j], alpha=0.2,
                                color=line.get_color(), lw=0)
        else:
            v = da.isel(neuron=idx).transpose("time", "neuron").values
            for j, i in enumerate(idx):
                ax.plot(t, v[:, j], lw=0.8, label=label(i))
        if legend and len(idx) <= 8:  # outside the axes, not over the traces
            ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      borderaxespad=0.0)


@xr.register_dataset_accessor("ctrnn")
class DatasetAccessor(_Methods):
    """``ds.ctrnn`` on a result of ``ctrnn.simulate`` (or any Dataset with a variable of
    dims (trial,) time, neuron): ``plot``, ``plot_trajectory``, ``autocorrelation``,
    ``participation_ratio``, ``principal_components``. ``var`` picks the variable
    (default "h")."""

    def __init__(self, ds):
        self._obj = ds

    def _activity(self, var=None):
        var = var or "h"
        if var not in self._obj.data_vars:
            raise ValueError(f"this Dataset has no variable {var!r}; it has "
                             f"{list(self._obj.data_vars)} (pass var=...)")
        return self._obj[var]

    def _plot_vars(self, var):
        if var is not None:
            return [var]
        return ["h"] + [v for v in ("u", "x") if v in self._obj.data_vars]


@xr.register_dataarray_accessor("ctrnn")
class DataArrayAccessor(_Methods):
    """``da.ctrnn`` on a DataArray with dims (trial,) time, neuron, such as ``ds.h``:
    the same plots and analyses as ``ds.ctrnn``."""

    def __init__(self, da):
        self._obj = da

    def _activity(self, var=None):
        if var is not None:
            raise ValueError("var= selects a variable of a Dataset; this is a DataArray")
        return self._obj
