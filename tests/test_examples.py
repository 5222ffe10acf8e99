"""The examples do what they claim."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _has_units(ds):
    """Every data variable, and every coordinate that is not a plain label, says its
    units (the example NetCDF files are read by people who did not run them)."""
    import xarray as xr
    ds = xr.load_dataset(ds) if not hasattr(ds, "data_vars") else ds
    missing = [k for k in ds.data_vars if "units" not in ds[k].attrs]
    missing += [k for k in ds.coords if ds[k].dtype.kind == "f" and "units" not in ds[k].attrs]
    assert not missing, missing


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
    _has_units(tmp_path / "working_memory.nc")


def test_chaos_transition_example(tmp_path):
    res = _load("chaos_transition").main(["-o", str(tmp_path), "--quick"])
    lam = dict(zip(res.g.values, res.largest_lyapunov.values))
    assert lam[0.5] < -0.3 and lam[3.0] > 0.05
    v = dict(zip(res.g.values, res.current_variance_simulated.values))
    assert v[0.5] < 1e-6  # quiet: activity decays to the fixed point
    assert abs(v[3.0] / res.current_variance_theory.values[-1] - 1) < 0.1
    assert (tmp_path / "chaos_transition.png").exists() and (tmp_path / "chaos_transition.nc").exists()
    _has_units(tmp_path / "chaos_transition.nc")


def test_ei_spectrum_example(tmp_path):
    res = _load("ei_spectrum").main(["-o", str(tmp_path), "--quick"])
    n_out = dict(zip(res.case.values, res.n_outliers.values))
    assert n_out["unbalanced"] == 1 and n_out["exactly balanced"] == 0
    big = dict(zip(res.case.values, res.largest_outlier.values))
    pred = dict(zip(res.case.values, res.predicted_mean_outlier.values))
    assert abs(big["unbalanced"] / pred["unbalanced"] - 1) < 0.05
    assert (tmp_path / "ei_spectrum.png").exists() and (tmp_path / "ei_spectrum.nc").exists()
    _has_units(tmp_path / "ei_spectrum.nc")


def test_low_rank_outlier_example(tmp_path):
    res = _load("low_rank_outlier").main(["-o", str(tmp_path), "--quick"])
    ev = res.eigenvalue_real.values[1] + 1j * res.eigenvalue_imag.values[1]
    top = ev[np.argmax(np.abs(ev))]
    assert abs(top - float(res.predicted_outlier)) < 0.3  # the outlier n.m/N
    fl = dict(zip(res.case.values, res.temporal_fluctuation.values))
    assert fl["random"] > 0.3 and fl["random + rank one"] < 0.01  # chaos replaced
    assert abs(res.kappa.values[1, -1]) > 1.0
    assert (tmp_path / "low_rank_outlier.png").exists()
    _has_units(tmp_path / "low_rank_outlier.nc")


def test_vanishing_gradients_decay_at_least_at_the_bound(tmp_path):
    vg = _load("vanishing_gradients")
    ds = vg.run(n=60, steps=80, trials=2)
    r = dict(zip(ds.g.values, ds.decay_rate.values))
    bound = dict(zip(ds.g.values, ds.bound_rate.values))
    # g = 0.5: ||W|| < 1, the guaranteed rate is a lower bound on the measured one
    assert bound[0.5] > 0 and r[0.5] >= bound[0.5]
    # slower decay towards the edge of chaos and beyond it (g = 1, 1.5)
    assert r[1.5] < r[1.0] < r[0.5]
    _has_units(ds)
    vg.plot(ds, tmp_path / "vg.png")
    assert (tmp_path / "vg.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", ["train_decision", "train_flipflop"])
def test_training_examples_run_and_write(name, tmp_path):
    """A short run of each training example (the criteria of a full run are checked in
    tests/test_train_slow.py): the loss falls, the NetCDF file and figure are written."""
    ex = _load(name)
    ds, model = ex.run(iterations=40)
    assert ds.loss.values[-5:].mean() < ds.loss.values[:5].mean()
    _has_units(ds)
    ds.to_netcdf(tmp_path / f"{name}.nc")
    ex.plot(ds, tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_lstm_vs_rnn_example_runs_and_writes(tmp_path):
    """A short run (the criteria of a full run: tests/test_train_slow.py)."""
    ex = _load("lstm_vs_rnn")
    ds = ex.run(lags=(4, 6), iterations=5, n_train=64, n_test=16)
    assert set(ds.model.values) == {"RNN g=0.5", "RNN g=1", "RNN g=1.5", "LSTM"}
    assert np.all(np.isfinite(ds.mse)) and ds.grad_norm_trained.sizes["steps_before_loss"] == 7
    _has_units(ds)
    ds.to_netcdf(tmp_path / "lstm_vs_rnn.nc")
    ex.plot(ds, tmp_path / "lstm_vs_rnn.png")
    assert (tmp_path / "lstm_vs_rnn.png").stat().st_size > 10_000


def test_exposure_bias_example_runs_and_writes(tmp_path):
    """A short run (the criterion of a full run: tests/test_train_slow.py); the
    schedules end at END_EPS."""
    ex = _load("exposure_bias")
    ds = ex.run(iterations=6, n_hidden=4, n_test=3)
    assert list(ds.mode.values) == ["teacher forcing", "free running", "linear",
                                    "exponential", "inverse sigmoid"]
    end = ds.eps.sel(mode=["linear", "exponential", "inverse sigmoid"]).values
    np.testing.assert_allclose(end[:2, 0], 1.0)  # the inverse sigmoid starts at k/(k+1)
    assert np.all(np.abs(end[:, -1] - ex.END_EPS) < 0.1)
    assert np.all(np.isfinite(ds.rmse))
    _has_units(ds)
    ds.to_netcdf(tmp_path / "exposure_bias.nc")
    ex.plot(ds, tmp_path / "exposure_bias.png")
    assert (tmp_path / "exposure_bias.png").stat().st_size > 10_000


def test_catastrophic_interference_example_runs_and_writes(tmp_path):
    """A short run (the criteria of a full run: tests/test_train_slow.py)."""
    ex = _load("catastrophic_interference")
    ds = ex.run(n_units=8, n_trials=16, iterations_a=20, iterations_b=10, sgd_iterations=5)
    assert list(ds.remedy.values) == list(ex.REMEDIES)
    assert ds.sizes["step"] == 6 and ds.sizes["iteration"] == 11
    assert np.all(ds.measured.isel(step=0) == 0)
    for v in ("accuracy_a", "accuracy_b"):
        assert np.all((ds[v] >= 0) & (ds[v] <= 1))
    _has_units(ds)
    ds.to_netcdf(tmp_path / "catastrophic_interference.nc")
    ex.plot(ds, tmp_path / "catastrophic_interference.png")
    assert (tmp_path / "catastrophic_interference.png").stat().st_size > 10_000


def test_force_learning_example_runs_and_writes(tmp_path):
    """A small network briefly (the criteria of a full run: tests/test_train_slow.py)."""
    ex = _load("force_learning")
    ds = ex.run(n=100, train=60.0, test=20.0, lyapunov=False)
    assert ds.sizes["time"] == 600 and ds.sizes["test_time"] == 200
    assert np.isfinite(ds.z_test).all() and ds.sizes["eig"] == 100
    _has_units(ds)
    ds.to_netcdf(tmp_path / "force_learning.nc")
    ex.plot(ds, tmp_path / "force_learning.png")
    assert (tmp_path / "force_learning.png").stat().st_size > 10_000
    # the current-form reference of --seeds runs on the same small network
    assert np.isfinite(ex.current_form(0, n=100, train=60.0, test=20.0))


def test_fit_recorded_activity_example_runs_and_writes(tmp_path):
    ex = _load("fit_recorded_activity")
    ds = ex.run(n=20, n_t=60, n_runs=2)
    assert list(ds.p.values) == list(ex.FRACTIONS)
    assert ds.currents.dims[0] == "source" and ds.sizes["source"] == 2
    _has_units(ds)
    ds.to_netcdf(tmp_path / "fit_recorded_activity.nc")
    ex.plot(ds, tmp_path / "fit_recorded_activity.png")
    assert (tmp_path / "fit_recorded_activity.png").stat().st_size > 10_000
