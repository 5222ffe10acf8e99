"""The `ctrnn` command, run as a user runs it."""
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from ctrnn import cli


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ctrnn.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_demo_writes_netcdf_and_png(tmp_path):
    res = _run("demo", "-o", str(tmp_path), "-n", "100")
    assert res.returncode == 0, res.stderr
    nc, png = tmp_path / "ctrnn_demo.nc", tmp_path / "ctrnn_demo.png"
    assert str(nc) in res.stdout and str(png) in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ds = xr.load_dataset(nc)
    assert ds.h.dims == ("time", "neuron") and ds.sizes["neuron"] == 100
    # g = 1.5: the network is chaotic, activity stays away from the zero fixed point
    assert float(ds.h.isel(time=slice(-100, None)).std()) > 0.2


def test_run_config_matches_python_api(tmp_path):
    cfg = tmp_path / "net.toml"
    cfg.write_text(cli.EXAMPLE_CONFIG.replace("n = 500", "n = 50").replace(
        "duration = 1.0", "duration = 0.1"))
    out = tmp_path / "out.nc"
    res = _run("run", str(cfg), "-o", str(out))
    assert res.returncode == 0, res.stderr
    ds = xr.load_dataset(out)
    import ctrnn
    W = ctrnn.connectivity.gaussian(50, 1.5, seed=0)
    ref = ctrnn.simulate(ctrnn.RateNetwork(W, tau=0.01), duration=0.1, dt=0.0005,
                         save_every=2, seed=1, h0="random")
    np.testing.assert_array_equal(ds.h.values, ref.h.values)


def test_config_with_steps_and_adaptive_tolerances(tmp_path):
    cfg = tmp_path / "net.toml"
    cfg.write_text('[network]\nn = 20\ng = 0.5\n[simulation]\nmethod = "bs3"\n'
                   'dt = 0.001\nsteps = 200\nrtol = 1e-8\natol = 1e-10\n')
    ds = cli.run_config(cli.load_config(cfg))
    assert ds.attrs["method"] == "bs3" and ds.attrs["rtol"] == 1e-8
    assert ds.attrs["steps"] == 200 and ds.sizes["time"] == 201


@pytest.mark.parametrize("text, match", [
    ('[network]\nn = 10\n[simulation]\ndt = 0.1\nduraton = 1.0\n',
     r"unknown key simulation.duraton \(did you mean 'duration'\?\)"),
    ('[network]\nn = 10\n[simulation]\ndt = 0.1\n',
     "give exactly one of simulation.duration .* or simulation.steps"),
    ('[network]\nn = 10\n[simulation]\ndt = 0.1\nsteps = 10\nrtol = 1e-3\n',
     r"\[simulation\]: rtol does not apply to method='rk4'"),
    ('[network]\nn = "ten"\n[simulation]\ndt = 0.1\nduration = 1.0\n',
     "network.n = 'ten' has the wrong type"),
    ('[network]\nn = 10\ntau = -1\n[simulation]\ndt = 0.1\nduration = 1.0\n',
     r"\[network\]: tau must be > 0"),
    ('[network]\nn = 10\n[simulation]\ndt = 0.1\nduration = 1.0\nmethod = "rk5"\n',
     r"\[simulation\]: unknown method 'rk5'"),
    ('[netwrk]\nn = 10\n', r"unknown table \[netwrk\] \(did you mean 'network'\?\)"),
    ('[network\nn = 10', "not valid TOML"),
])
def test_broken_config_names_the_key(tmp_path, text, match):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(cli.ConfigError, match=match):
        cli.run_config(cli.load_config(cfg))
    res = _run("run", str(cfg), "-o", str(tmp_path / "x.nc"))
    assert res.returncode == 2 and "error:" in res.stderr and "Traceback" not in res.stderr


def test_sweep_command_runs_resumes_and_refuses_other_stores(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(cli.EXAMPLE_CONFIG.replace("n = 500", "n = 40").replace(
        "duration = 1.0", "duration = 0.05") + '\n[sweep]\ng = [0.5, 2.0]\nseed = [0, 1]\n')
    store, out = tmp_path / "sw", tmp_path / "res.nc"
    res = _run("sweep", str(cfg), "--store", str(store), "--workers", "2", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "4 points (4 computed now, 0 failed)" in res.stdout
    ds = xr.load_dataset(out)
    assert ds.variance.dims == ("g", "seed")
    import ctrnn
    one = ctrnn.simulate(ctrnn.RateNetwork(ctrnn.connectivity.gaussian(40, 2.0, seed=1),
                                           tau=0.01),
                         duration=0.05, dt=0.0005, save_every=2, seed=1, h0="random")
    assert float(ds.variance.sel(g=2.0, seed=1)) == pytest.approx(
        float(one.h.var("neuron").mean("time")), rel=1e-12)
    again = _run("sweep", str(cfg), "--store", str(store))
    assert "(0 computed now" in again.stdout
    text = cfg.read_text()
    for changed in (text.replace("g = [0.5, 2.0]", "g = [0.5, 3.0]"),  # another grid
                    text.replace("tau = 0.01", "tau = 0.02")):  # same grid, other network
        cfg.write_text(changed)
        bad = _run("sweep", str(cfg), "--store", str(store))
        assert bad.returncode == 2 and "different sweep" in bad.stderr
