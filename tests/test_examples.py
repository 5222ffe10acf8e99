"""The examples do what they claim."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def wm():
    return _load("working_memory")


def test_working_memory_silent_period_and_reactivation(wm, tmp_path):
    ds = wm.run()
    t = ds.time.values
    h, u = ds.h.values, ds.u.values
    E = slice(0, wm.N_E)
    # the cue loads item 0: it fires and its synapses facilitate
    cue = (t > wm.T_CUE[0]) & (t < wm.T_CUE[1])
    assert h[cue, 0].max() > 20 and h[cue, 1:wm.N_E].max() < 1.0
    # silent period: every population back at baseline (no persistent activity) ...
    silent = (t > wm.T_CUE[1] + 0.2) & (t < wm.T_READ[0])
    assert h[silent].max() < 0.1
    # ... yet the item is held in u, which decays with tau_f as du/dt = (U - u)/tau_f
    t0 = t[silent][0]
    u_pred = 0.2 + (u[silent][0, 0] - 0.2) * np.exp(-(t[silent] - t0) / 1.5)
    np.testing.assert_allclose(u[silent, 0], u_pred, rtol=1e-6)
    assert u[silent][-1, 0] > 0.5 and np.allclose(u[silent][:, 1:wm.N_E], 0.2, atol=1e-6)
    # the weak non-specific readout reactivates the loaded population only
    read = (t > wm.T_READ[0]) & (t < wm.T_READ[1] + 0.1)
    assert h[read, 0].max() > 20
    assert h[read, 0].max() > 5 * h[read, 1:wm.N_E].max()
    # control: without the cue nothing is loaded and the readout reactivates nothing
    ctrl = wm.run(cue=0.0)
    hc = ctrl.h.values[read][:, E]
    assert hc.max() < 5 and np.allclose(hc[:, 0], hc[:, 1])
    # the script writes its figure and NetCDF file
    wm.main(["-o", str(tmp_path)])
    assert (tmp_path / "working_memory.png").stat().st_size > 10_000
    assert (tmp_path / "working_memory.nc").exists()
