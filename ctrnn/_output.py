"""The only place xarray Datasets are built."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def attr_value(v):
    """Attrs must survive NetCDF: scalars only, no None or bool."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


# The layouts of recent runs' Datasets (``_template``): building the coordinates (a pandas
# index each) and the Dataset around them was 0.3-0.8 ms of the 1.3-2 ms fixed cost of a
# call at N = 500 with 64 trials, whose kernel had just pushed xarray's code out of the
# caches; a shallow copy of the kept layout with the run's arrays, 0.1-0.3 ms. What the
# copies share must stay as it was: a copy has its own attrs (the Dataset's and each
# variable's); the coordinates' values are read-only, down to the arrays under their
# pandas indexes; and the one thing of an index that can be changed in place, its name
# (``ds.h.to_pandas().index.name = ...``), is checked before each use, the layout built
# anew if it was changed.
_TEMPLATES = {}
TEMPLATES_KEPT = 8  # layouts kept, the oldest dropped first ...
TEMPLATE_MAX_VALUES = 1 << 16  # ... each with at most this many coordinate values in all
H_ATTRS = {"long_name": "activation h", "units": "1"}


def _template(times, N, B, time_unit, n_inputs, state):
    """A Dataset of a run's layout, over broadcast zeros: the coordinates time (``times``,
    in ``time_unit``), neuron (N), trial (B; None: unbatched) and, for a network's
    parameters (n_inputs not None), presynaptic and, if n_inputs > 0, input; the state
    variables ``state`` ({name: attrs}) over (trial,) time, neuron. Kept for the next run
    of the same layout, if small."""
    kept = len(times) + 2 * N + (B or 0) + (n_inputs or 0) <= TEMPLATE_MAX_VALUES
    key = kept and (times.tobytes(), times.dtype.str, N, B, time_unit, n_inputs,
                    tuple((name, tuple(a.items())) for name, a in state.items()))
    hit = _TEMPLATES.get(key) if kept else None  # dict reads and writes are atomic
    if hit is not None and all(index.name == name for name, index in hit[1]):
        return hit[0]
    coords = {"time": (np.array(times), {"units": time_unit, "long_name": "time",
                                         "standard_name": "time"}),
              "neuron": (np.arange(N), {"long_name": "neuron index"})}
    if B is not None:
        coords["trial"] = (np.arange(B), {"long_name": "trial index"})
    if n_inputs is not None:
        coords["presynaptic"] = (np.arange(N), {"long_name": "presynaptic neuron index"})
        if n_inputs:  # (NetCDF-3 has no zero-length dimensions)
            coords["input"] = (np.arange(n_inputs), {"long_name": "input index"})
    indexes, variables = {}, {}
    for name, (values, attrs) in coords.items():
        values.flags.writeable = False  # and so every view of it, the index's own
        indexes[name] = xr.indexes.PandasIndex(pd.Index(values, copy=False, name=name), name)
        variables[name] = indexes[name].create_variables()[name]
        variables[name].attrs.update(attrs)
    dims = ("time", "neuron") if B is None else ("trial", "time", "neuron")
    zeros = np.broadcast_to(np.zeros(()), tuple(len(coords[d][0]) for d in dims))
    ds = xr.Dataset({name: (dims, zeros, dict(a)) for name, a in state.items()},
                    coords=xr.Coordinates(variables, indexes=indexes))
    if kept:
        while len(_TEMPLATES) >= TEMPLATES_KEPT:
            try:
                del _TEMPLATES[next(iter(_TEMPLATES))]
            except (KeyError, RuntimeError, StopIteration):  # another thread's change
                break
        _TEMPLATES[key] = (ds, [(name, index.index) for name, index in indexes.items()])
    return ds


def run_dataset(h, times, *, batched, attrs, time_unit, net=None, extra_vars=None):
    """Dataset for a run.

    h : (B, n_save, N) array; batched False drops the trial axis (B must be 1).
    extra_vars : {name: (array (B, n_save, N), attrs)} for further state variables.
    """
    B, n_save, N = h.shape

    def squeeze(a):
        return a if batched else a[0]

    state = {"h": (h, H_ATTRS), **(extra_vars or {})}
    ds = _template(times, N, B if batched else None, time_unit,
                   None if net is None else net.n_inputs,
                   {name: a for name, (_, a) in state.items()}).copy(
        deep=False, data={name: squeeze(arr) for name, (arr, _) in state.items()})
    if net is not None:
        data = {}
        if net.is_sparse:  # as (post, pre, value) triplets
            coo = net.W.tocoo()
            data["W_post"] = ("synapse", coo.row, {"long_name": "postsynaptic neuron"})
            data["W_pre"] = ("synapse", coo.col, {"long_name": "presynaptic neuron"})
            data["W_value"] = ("synapse", coo.data, {"long_name": "recurrent weight",
                                                     "units": "1"})
        else:
            data["W"] = (("neuron", "presynaptic"), np.asarray(net.W),
                         {"long_name": "recurrent weights W[post, pre]", "units": "1"})
        if net.n_inputs:  # (NetCDF-3 has no zero-length dimensions)
            data["U"] = (("neuron", "input"), np.asarray(net.U),
                         {"long_name": "input weights", "units": "1"})
        data["b"] = ("neuron", np.asarray(net.b), {"long_name": "bias", "units": "1"})
        data["tau"] = ("neuron", np.array(net.tau_array),
                       {"long_name": "time constant", "units": time_unit})
        data["noise"] = ("neuron", np.array(net.noise_array),
                         {"long_name": "stationary noise std (W=0, linear phi)", "units": "1"})
        if net.stp is not None:
            for name, arr, unit in zip(("stp_U", "stp_tau_f", "stp_tau_d"),
                                       net.stp.arrays(N), ("1", time_unit, time_unit)):
                data[name] = ("neuron", arr, {"long_name": f"STP {name[4:]}", "units": unit})
        ds = ds.assign(data)
    ds.attrs = {k: attr_value(v) for k, v in attrs.items() if v is not None}
    return ds
