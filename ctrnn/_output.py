"""The only place xarray Datasets are built."""
from __future__ import annotations

import numpy as np
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


def run_dataset(h, times, *, batched, attrs, time_unit, net=None, extra_vars=None):
    """Dataset for a run.

    h : (B, n_save, N) array; batched False drops the trial axis (B must be 1).
    extra_vars : {name: (array (B, n_save, N), attrs)} for further state variables.
    """
    B, n_save, N = h.shape
    dims = ("trial", "time", "neuron") if batched else ("time", "neuron")

    def squeeze(a):
        return a if batched else a[0]

    coords = {
        "time": ("time", times, {"units": time_unit, "long_name": "time",
                                 "standard_name": "time"}),
        "neuron": ("neuron", np.arange(N), {"long_name": "neuron index"}),
    }
    if batched:
        coords["trial"] = ("trial", np.arange(B), {"long_name": "trial index"})
    data = {"h": (dims, squeeze(h), {"long_name": "activation h", "units": "1"})}
    for name, (arr, a) in (extra_vars or {}).items():
        data[name] = (dims, squeeze(arr), a)
    if net is not None:
        coords["presynaptic"] = ("presynaptic", np.arange(N),
                                 {"long_name": "presynaptic neuron index"})
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
            coords["input"] = ("input", np.arange(net.n_inputs), {"long_name": "input index"})
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
    return xr.Dataset(data, coords=coords,
                      attrs={k: attr_value(v) for k, v in attrs.items() if v is not None})
