"""The `ctrnn` command, run as a user runs it."""
import re
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
     r'\[simulation\]: rtol does not apply to method = "rk4"'),
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


@pytest.fixture
def no_work(monkeypatch):
    """Fail if a simulation or sweep starts: CLI errors must come before any work."""
    import ctrnn

    def ran(*a, **k):
        raise AssertionError("work started before the error")
    monkeypatch.setattr(ctrnn, "simulate", ran)
    monkeypatch.setattr(ctrnn, "sweep", ran)


@pytest.mark.parametrize("argv, match", [
    (["run", "{cfg}", "-o", "/no/such/dir/x.nc"], "folder /no/such/dir does not exist"),
    (["run", "{cfg}", "-o", "{tmp}"], "is a folder; give a file name"),
    (["run", "{cfg}", "-o", "{tmp}/x.nc", "--plot", "/no/such/x.png"],
     "--plot /no/such/x.png: folder /no/such does not exist"),
    (["sweep", "{sweep}", "--store", "{tmp}/s", "-o", "/no/such/x.nc"], "does not exist"),
    (["sweep", "{empty}", "--store", "{tmp}/s"], r"sweep.g = \[\]: give at least one"),
    (["sweep", "{sweep}", "--store", "{tmp}/s", "--scheduler", "tcp://127.0.0.1:9"],
     "nothing answers there"),
    (["demo", "-n", "0", "-o", "{tmp}"], "must be >= 1"),
    (["sweep", "{sweep}", "--store", "/no/such/dir/st"], "folder /no/such/dir does not exist"),
    (["sweep", "{sweep}", "--store", "{tmp}/s", "--scheduler", "notanaddress"],
     "--scheduler notanaddress: give host:port"),
])
def test_cli_errors_are_one_line_before_any_work(tmp_path, capsys, no_work, argv, match):
    cfg = tmp_path / "net.toml"
    cfg.write_text("[network]\nn = 10\n[simulation]\ndt = 0.001\nsteps = 10\n")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(cfg.read_text() + "[sweep]\ng = [0.5, 1.5]\n")
    empty = tmp_path / "empty.toml"
    empty.write_text(cfg.read_text() + "[sweep]\ng = []\n")
    argv = [a.format(cfg=cfg, tmp=tmp_path, sweep=sweep, empty=empty) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(match, err), err
    assert not (tmp_path / "x.nc").exists()


def test_files_record_how_to_make_them_again(tmp_path):
    import tomllib

    import ctrnn
    cfg = tmp_path / "net.toml"
    cfg.write_text('[network]\nn = 30\ng = 0.8\nseed = 4\n[simulation]\ndt = 0.001\n'
                   'steps = 50\nmethod = "euler"\n')
    assert cli.main(["run", str(cfg), "-o", str(tmp_path / "out.nc")]) == 0
    ds = xr.load_dataset(tmp_path / "out.nc")
    assert ds.attrs["ctrnn_command"] == f"ctrnn run {cfg} -o {tmp_path / 'out.nc'}"
    again = tomllib.loads(ds.attrs["config_toml"])
    assert again["network"]["g"] == 0.8 and again["network"]["seed"] == 4
    assert again["network"]["tau"] == 0.01  # defaults written out
    # the recorded configuration makes the same file
    cfg2 = tmp_path / "again.toml"
    cfg2.write_text(ds.attrs["config_toml"])
    assert cli.main(["run", str(cfg2), "-o", str(tmp_path / "again.nc")]) == 0
    np.testing.assert_array_equal(xr.load_dataset(tmp_path / "again.nc").h.values,
                                  ds.h.values)
    nc, _, demo = cli.demo(tmp_path, n=20, duration=0.01)
    attrs = xr.load_dataset(nc).attrs
    assert attrs["g"] == 1.5 and attrs["connectivity_seed"] == 0 and attrs["n_neurons"] == 20
    W = ctrnn.connectivity.gaussian(20, attrs["g"], seed=attrs["connectivity_seed"])
    ref = ctrnn.simulate(ctrnn.RateNetwork(W, tau=attrs["tau"]), duration=0.01,
                         dt=attrs["dt"], method=attrs["method"], h0="random",
                         seed=attrs["seed"], save_every=attrs["save_every"])
    np.testing.assert_array_equal(ref.h.values, demo.h.values)


def test_version():
    res = _run("--version")
    assert res.returncode == 0 and res.stdout.strip().startswith("ctrnn 0.")


def test_cli_messages_use_the_configurations_terms(tmp_path):
    cfg = tmp_path / "blow.toml"
    cfg.write_text('[network]\nn = 10\ng = 30.0\nphi = "linear"\ntau = 1.0\n'
                   '[simulation]\nmethod = "euler"\ndt = 0.5\nsteps = 2000\n')
    res = _run("run", str(cfg), "-o", str(tmp_path / "x.nc"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("ctrnn run: warning: dt=0.5")
    assert 'method = "exponential_euler"' in lines[0] and "on_blowup" not in res.stderr
    assert lines[1].startswith("ctrnn run: error: [simulation]: the state left")
