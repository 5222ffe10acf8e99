"""Issue 11: objects ship to a cluster, results save and reload whole, no input is
silently misread, analyses leave their arguments alone, files appear only complete."""
import copy
import pickle

import numpy as np
import pytest
import scipy.sparse

import ctrnn


def _objects():
    W = ctrnn.connectivity.gaussian(12, 1.5, seed=0)
    stp = ctrnn.STP(U=np.linspace(0.1, 0.5, 12), tau_f=1.5, tau_d=0.4, efficacy="relative")
    W_ei, labels = ctrnn.connectivity.dale(8, 4, seed=1)
    esn = ctrnn.esn.EchoStateNetwork(30, seed=0)
    u = ctrnn.tasks.oscillators(300, frequencies=(0.2,))
    esn.fit(u[:-1], u[1:], washout=20)
    return dict(
        dense=ctrnn.RateNetwork(W, U=np.ones((12, 2)), b=0.1, tau=np.linspace(1, 2, 12),
                                noise=0.2, phi="softplus"),
        sparse=ctrnn.RateNetwork(ctrnn.connectivity.sparse(40, 0.1, 1.0, seed=2)),
        stp_net=ctrnn.RateNetwork(np.abs(W), phi="relu", stp=stp),
        dale=ctrnn.RateNetwork(W_ei, dale=labels),
        stp=stp, esn=esn, u=u)


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_public_objects_pickle_copy_and_deepcopy_to_equal_objects(how):
    objs = _objects()
    make = {"pickle": lambda o: pickle.loads(pickle.dumps(o)), "copy": copy.copy,
            "deepcopy": copy.deepcopy}[how]
    for name in ("dense", "sparse", "stp_net", "dale", "stp"):
        o = objs[name]
        o2 = make(o)
        assert o2 == o and hash(o2) == hash(o), name
    net = objs["dense"]
    net2 = make(net)
    assert not net2.tau.flags.writeable  # read-only stays read-only
    a = ctrnn.simulate(net, steps=20, dt=0.1, h0="random", seed=3, method="euler")
    b = ctrnn.simulate(net2, steps=20, dt=0.1, h0="random", seed=3, method="euler")
    np.testing.assert_array_equal(a.h.values, b.h.values)
    esn, u = objs["esn"], objs["u"]
    esn2 = make(esn)
    np.testing.assert_array_equal(esn2.predict(u[:-1], reset=True).values,
                                  esn.predict(u[:-1], reset=True).values)


def test_equality_is_by_value():
    W = ctrnn.connectivity.gaussian(5, 1.0, seed=0)
    a, b = ctrnn.RateNetwork(W), ctrnn.RateNetwork(W.copy())
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != a.replace(tau=2.0) and a != a.replace(W=W * 1.0001)
    sp = ctrnn.RateNetwork(scipy.sparse.csr_matrix(W))
    assert sp != a  # a sparse and a dense W are different networks
    assert ctrnn.STP(U=0.2) == ctrnn.STP(U=0.2) != ctrnn.STP(U=0.3)
    with pytest.raises(AttributeError, match="immutable; use net.replace"):
        a.tau = 3.0


def test_float32_time_coordinates_land_on_the_right_steps():
    """22 of 50 steps used to take the previous sample when the time coordinate was
    float32 (or had been through NetCDF as float32)."""
    import xarray as xr

    net = ctrnn.RateNetwork(np.zeros((1, 1)), U=[[1.0]], phi="linear", tau=1.0)
    x = np.arange(50.0)[:, None]  # input k is the value k
    for dtype in (np.float64, np.float32):
        t = (np.arange(50) * 0.1).astype(dtype)
        da = xr.DataArray(x, dims=("time", "input"), coords={"time": t})
        grid = ctrnn.inputs.on_grid(da, 1, 49, 0.1)
        np.testing.assert_array_equal(grid[0, :50, 0], x[:, 0], err_msg=str(dtype))
        # through a run: exponential Euler with W = 0 integrates the held input exactly
        ds = ctrnn.simulate(net, steps=49, dt=0.1, inputs=da, method="exponential_euler")
        h = np.zeros(50)
        for k in range(49):
            h[k + 1] = x[k, 0] + (h[k] - x[k, 0]) * np.exp(-0.1)
        np.testing.assert_allclose(ds.h.values[:, 0], h, rtol=1e-12)


def test_a_dataarray_without_time_coordinate_is_refused():
    import xarray as xr

    da = xr.DataArray(np.zeros((20, 1)), dims=("time", "input"))
    with pytest.raises(ValueError, match="without a time coordinate"):
        ctrnn.inputs.on_grid(da, 1, 19, 0.1)


def _esn_snapshot(esn):
    return (esn.state.copy(), None if esn.W_out is None else esn.W_out.copy(),
            esn.n_inputs, hasattr(esn, "net"))


def test_esn_diagnostics_leave_the_esn_alone():
    u = ctrnn.tasks.oscillators(600, frequencies=(0.2, 0.05))
    esn = ctrnn.esn.EchoStateNetwork(40, spectral_radius=0.9, leak=0.5, seed=0)
    esn.fit(u[:300], u[1:301], washout=50)
    before = _esn_snapshot(esn)
    expected = copy.deepcopy(esn).predict(u[301:-1]).values  # continues the training data
    ctrnn.esn.memory_capacity(ctrnn.esn.EchoStateNetwork(40, seed=1), 5, n_train=500,
                              n_test=200)
    one = ctrnn.esn.EchoStateNetwork(40, seed=1, n_inputs=1)
    ctrnn.esn.memory_capacity(one, 5, n_train=500, n_test=200)
    esn.echo_state_property(200, seed=0)
    after = _esn_snapshot(esn)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(esn.predict(u[301:-1]).values, expected)
    # on an unfitted ESN the diagnosis does not fix the input size to 1
    fresh = ctrnn.esn.EchoStateNetwork(40, seed=2)
    fresh.echo_state_property(100, seed=0)
    ctrnn.esn.memory_capacity(fresh, 3, n_train=300, n_test=100)
    assert fresh.n_inputs is None
    two = np.concatenate([u, u**2], axis=1)
    fresh.fit(two[:300], two[1:301])  # two inputs
    assert fresh.n_inputs == 2


def test_analyses_leave_their_arguments_equal():
    import xarray as xr

    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(30, 1.2, seed=0), tau=1.0)
    ds = ctrnn.simulate(net, steps=200, dt=0.1, h0="random", seed=1)
    keep_net, keep_ds = copy.deepcopy(net), ds.copy(deep=True)
    an = ctrnn.analysis
    an.lyapunov_spectrum(net, 3, duration=5.0, dt=0.1, seed=0)
    an.fixed_points(net, n_starts=3, seed=0)
    an.jacobian(net, np.zeros(30))
    an.eigenvalues(net.W)
    an.spectral_radius(net.W)
    an.autocorrelation(ds.h, 10)
    an.participation_ratio(ds.h)
    an.principal_components(ds.h, 3)
    ds.ctrnn.plot()
    assert net == keep_net
    xr.testing.assert_identical(ds, keep_ds)


def test_esn_save_and_load_continue_exactly(tmp_path):
    u = ctrnn.tasks.oscillators(800, frequencies=(0.2, 0.05))
    esn = ctrnn.esn.EchoStateNetwork(50, spectral_radius=0.9, leak=0.4, seed=0)
    esn.fit(u[:400], u[1:401], washout=50)
    for name in ("esn.nc", "esn.zarr"):
        esn.save(tmp_path / name)
        back = ctrnn.esn.EchoStateNetwork.load(tmp_path / name)
        # the reloaded ESN continues the training data exactly as the original would
        np.testing.assert_array_equal(back.predict(u[401:-1]).values,
                                      copy.deepcopy(esn).predict(u[401:-1]).values)


def _datasets():
    import xarray as xr

    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(10, 1.5, seed=0), tau=1.0)
    W, labels = ctrnn.connectivity.dale(8, 2, seed=0)
    u = ctrnn.tasks.oscillators(300, frequencies=(0.2,))
    esn = ctrnn.esn.EchoStateNetwork(20, seed=0).fit(u[:-1], u[1:])
    run = ctrnn.simulate(net, steps=20, dt=0.1, h0="random", seed=1)
    stp = ctrnn.RateNetwork(np.abs(net.W), phi="relu", stp=ctrnn.STP(U=0.3))
    ta, tb = ctrnn.tasks.teacher_student(4, n_inputs=3, seed=0)
    forgetting = ctrnn.train.interference(
        ctrnn.RateNetwork(np.zeros((1, 1)), U=np.zeros((1, 3)), phi="linear"), ta, tb,
        iterations=2, method="discrete", readout=(np.eye(1), np.zeros(1)),
        frozen=("W", "b", "C", "c"), train_a=dict(iterations=2), progress=False).record
    return {
        "teacher_student": ta,
        "multitask": ctrnn.tasks.multitask(ctrnn.tasks.flipflop(2, seed=0),
                                           ctrnn.tasks.flipflop(2, seed=1))[1],
        "interference": forgetting,
        "run": run,
        "run_float32_batch": ctrnn.simulate(net, steps=20, dt=0.1, dtype=np.float32,
                                            trials=2, include_params=True),
        "discrete": ctrnn.simulate(net, steps=5, method="discrete"),
        "dopri5": ctrnn.simulate(net, steps=20, dt=0.1, method="dopri5"),
        "dale": ctrnn.simulate(ctrnn.RateNetwork(0.1 * W, dale=labels), steps=5, dt=0.1,
                               include_params=True),
        "stp": ctrnn.simulate(stp, steps=5, dt=0.1, include_params=True),
        "sparse": ctrnn.simulate(ctrnn.RateNetwork(ctrnn.connectivity.sparse(20, 0.2, 1.0,
                                                                             seed=1)),
                                 steps=5, dt=0.1, include_params=True),
        "lyapunov": ctrnn.analysis.lyapunov_spectrum(net, 3, duration=5.0, dt=0.1, seed=0),
        "fixed_points": ctrnn.analysis.fixed_points(net, n_starts=3, seed=0),
        "pca": ctrnn.analysis.principal_components(run.h, 2),
        "autocorrelation": run.ctrnn.autocorrelation(5).to_dataset(),
        "esn": esn.to_dataset(),
        "esn_prediction": esn.predict(u[:-1]).to_dataset(),
        "sweep": ctrnn.sweep(
            lambda g: ctrnn.RateNetwork(ctrnn.connectivity.gaussian(5, g, seed=0)),
            {"g": [0.5, 1.5]}, simulate=dict(steps=5, dt=0.1), client="serial"),
    }, xr


@pytest.mark.parametrize("fmt", ["nc", "zarr"])
def test_every_returned_dataset_writes_and_reads_back_equal(tmp_path, fmt):
    datasets, xr = _datasets()
    for name, ds in datasets.items():
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "nc":
            ds.to_netcdf(path)
            back = xr.load_dataset(path)
        else:
            ds.to_zarr(path)
            back = xr.open_zarr(path).load()
        xr.testing.assert_equal(back, ds)
        assert back.attrs.keys() == ds.attrs.keys(), name


def test_an_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    """Ctrl-C while `ctrnn run` writes its NetCDF used to leave a truncated file that
    opened cleanly with status 'ok'."""
    import xarray as xr

    from ctrnn import cli

    cfg = tmp_path / "net.toml"
    cfg.write_text("[network]\nn = 10\ntau = 1.0\n[simulation]\ndt = 0.1\nsteps = 20\n")
    out = tmp_path / "out.nc"

    def interrupted(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"CDF\x01 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    assert cli.main(["run", str(cfg), "-o", str(out)]) == 130  # one line, no traceback
    assert list(tmp_path.iterdir()) == [cfg]  # no file, no temporary
    esn = ctrnn.esn.EchoStateNetwork(10, density=1.0, n_inputs=1, seed=0)
    with pytest.raises(KeyboardInterrupt):
        esn.save(tmp_path / "esn.nc")
    assert list(tmp_path.iterdir()) == [cfg]


def _top3(ds):
    v = ds.h.var("time")
    return v.isel(neuron=np.argsort(-v.values)[:3]).rename("variance")


def _build_g(g):
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, g, seed=3), tau=1.0)


def test_sweep_keeps_each_points_own_labels():
    """reduce returning other coordinate values per point (its top-3 neurons) used to be
    relabelled with the first point's."""
    sim = dict(duration=10.0, dt=0.1, h0="random", seed=0)
    res = ctrnn.sweep(_build_g, {"g": [0.5, 2.0]}, simulate=sim, reduce=_top3,
                      client="serial")
    for g in (0.5, 2.0):
        one = _top3(ctrnn.simulate(_build_g(g), **sim))
        got = res.variance.sel(g=g).dropna("neuron")
        assert set(got.neuron.values) == set(one.neuron.values), g
        np.testing.assert_array_equal(got.sel(neuron=one.neuron.values).values, one.values)


@pytest.mark.parametrize("cast", [np.float32, np.float64, np.int64, np.int32, np.uint16,
                                  np.array])
def test_numeric_arguments_accept_numpy_scalars_and_0d_arrays(cast):
    net = ctrnn.RateNetwork(0.5 * np.eye(3), tau=cast(1))
    a = ctrnn.simulate(net, steps=cast(10), dt=cast(1) / 10 if cast not in (
        np.int64, np.int32, np.uint16) else 0.1, save_every=cast(2), trials=cast(2),
        chunk_steps=cast(3), method="euler")
    b = ctrnn.simulate(ctrnn.RateNetwork(0.5 * np.eye(3)), steps=10, dt=0.1, save_every=2,
                       trials=2, method="euler")
    np.testing.assert_allclose(a.h.values, b.h.values, rtol=1e-6)
    ly = ctrnn.analysis.lyapunov_spectrum(net, cast(2), duration=cast(5), dt=0.1,
                                          ortho_every=cast(1), n_records=cast(3), seed=0)
    assert ly.sizes["exponent"] == 2
    d = ctrnn.simulate(net, steps=10, dt=0.1, method="dopri5", rtol=cast(1) / 1000
                       if cast not in (np.int64, np.int32, np.uint16) else 1e-3,
                       max_steps=cast(1000))
    assert d.attrs["status"] == "ok"


def test_divisions_by_zero_up_to_rounding_are_refused():
    import xarray as xr

    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((2, 2)))[0]
    nilpotent = Q @ np.array([[0.0, 1.0], [0.0, 0.0]]) @ Q.T  # eigenvalues ~1e-8, not 0
    with pytest.raises(ValueError, match="zero up to rounding"):
        ctrnn.connectivity.scale_spectral_radius(nilpotent, 0.9)
    small = 1e-3 * ctrnn.connectivity.gaussian(20, 1.0, seed=0)  # small, not degenerate
    r = np.abs(np.linalg.eigvals(ctrnn.connectivity.scale_spectral_radius(small, 0.9))).max()
    assert r == pytest.approx(0.9)
    const = xr.DataArray(np.full((50, 4), 3.0) + 1e-15 * np.arange(4), dims=("time", "neuron"))
    for f in (lambda: ctrnn.analysis.participation_ratio(const),
              lambda: ctrnn.analysis.principal_components(const),
              lambda: ctrnn.analysis.autocorrelation(const, 5, normalize=True),
              lambda: ctrnn.tasks.nrmse(np.ones(10), np.zeros(10))):
        with pytest.raises(ValueError, match="zero up to rounding"):
            f()


def test_memory_guard_covers_resampled_inputs():
    import xarray as xr

    net = ctrnn.RateNetwork(np.zeros((2, 2)), U=np.ones((2, 3)))
    da = xr.DataArray(np.zeros((2, 3)), dims=("time", "input"), coords={"time": [0.0, 1.0]})
    with pytest.raises(MemoryError, match="the inputs on the step grid"):
        ctrnn.simulate(net, steps=10**7, dt=1e-7, inputs=da, save_every=10**7,
                       max_memory=10**8)


def test_the_memory_guard_reads_the_system_only_for_large_outputs(monkeypatch):
    from ctrnn import _validation

    reads = []

    def nothing_left():
        reads.append(1)
        return 0
    monkeypatch.setattr(_validation, "_available_memory", nothing_left)
    small = _validation.ALWAYS_FITS
    _validation.check_bytes(small, "a small output", "no fix")  # no read, no error
    assert reads == []
    with pytest.raises(MemoryError, match="a large output"):
        _validation.check_bytes(small + 1, "a large output", "no fix")
    assert reads == [1]
    with pytest.raises(MemoryError, match="an explicit limit"):  # max_memory always holds
        _validation.check_bytes(100, "an explicit limit", "no fix", max_memory=99)
    net = ctrnn.RateNetwork(np.zeros((2, 2)))
    with pytest.raises(MemoryError, match="the output"):
        ctrnn.simulate(net, steps=2**22, dt=0.1, method="euler")  # 2^22 saves x 2 x 8 bytes


def test_sweep_results_record_how_they_were_made():
    import json

    res = ctrnn.sweep(_build_g, {"g": [0.5, 2.0]},
                      simulate=dict(duration=1.0, dt=0.1, seed=7, method="euler"),
                      reduce=_top3, client="serial")
    desc = json.loads(res.attrs["sweep"])
    assert list(desc["params"]) == ["g"] and "0.5" in desc["params"]["g"][0]
    assert desc["simulate"] == {"duration": "1.0", "dt": "0.1", "seed": "7",
                                "method": "'euler'"}
    assert desc["build"]["name"].endswith("_build_g") and desc["build"]["code"]
    assert desc["reduce"]["name"].endswith("_top3")


def test_long_float32_time_coordinates_still_land_on_the_right_steps():
    import xarray as xr

    t = np.arange(20001, dtype=np.float32) * np.float32(1e-3)  # off by up to 0.002 dt
    da = xr.DataArray(np.arange(20001.0)[:, None], dims=("time", "input"),
                      coords={"time": t})
    grid = ctrnn.inputs.on_grid(da, 1, 20000, 1e-3)
    np.testing.assert_array_equal(grid[0, :, 0], np.arange(20001.0))
    coarse = xr.DataArray(np.zeros((3, 1)), dims=("time", "input"),
                          coords={"time": np.array([0, 1e6, 2e6], dtype=np.float32)})
    with pytest.raises(ValueError, match="cannot resolve dt"):
        ctrnn.inputs.on_grid(coarse, 1, 10, 0.01)


def test_single_precision_numbers_are_the_decimals_they_print_as():
    net = ctrnn.RateNetwork(0.5 * np.eye(2), tau=1.0)
    a = ctrnn.simulate(net, duration=10.0, dt=np.float32(0.1), method="euler",
                       seed=np.array(3), h0="random")
    b = ctrnn.simulate(net, duration=10.0, dt=0.1, method="euler", seed=3, h0="random")
    assert a.attrs["dt"] == 0.1 and a.attrs["seed"] == 3
    np.testing.assert_array_equal(a.h.values, b.h.values)
    assert ctrnn.connectivity.gaussian(np.array(5), np.float32(1.5), seed=np.array(0)).shape \
        == (5, 5)


def test_small_real_variance_is_accepted_and_nan_is_named():
    import xarray as xr

    rng = np.random.default_rng(0)
    x = 1.0 + 1e-7 * rng.standard_normal((500, 4))  # fluctuations near a fixed point
    da = xr.DataArray(x, dims=("time", "neuron"))
    lam = np.linalg.eigvalsh(np.cov(x.T))
    assert ctrnn.analysis.participation_ratio(da) == pytest.approx(
        lam.sum() ** 2 / (lam**2).sum())
    assert ctrnn.analysis.autocorrelation(da, 3, normalize=True).values[0] == 1.0
    x[-5:] = np.nan  # a failed run's tail
    with pytest.raises(ValueError, match="NaN or inf"):
        ctrnn.analysis.participation_ratio(xr.DataArray(x, dims=("time", "neuron")))


def test_more_objects_ship_and_compare():
    import numba

    from ctrnn.integrators import METHODS, RK4

    @numba.njit
    def softsign(z):
        return z / (1.0 + abs(z))
    net = ctrnn.RateNetwork(0.5 * np.eye(3), phi=softsign)
    assert copy.deepcopy(net) == net
    for o in (RK4, METHODS["bs3"]):
        o2 = pickle.loads(pickle.dumps(o))
        assert o2 == o and hash(o2) == hash(o)
    sp = ctrnn.RateNetwork(ctrnn.connectivity.sparse(30, 0.1, 1.0, seed=0))
    sp2 = pickle.loads(pickle.dumps(sp))
    assert sp2 == sp and not sp2.W.data.flags.writeable
    esn = ctrnn.esn.EchoStateNetwork(20, seed=0)
    with pytest.raises(RuntimeError, match="not built yet"):
        esn.to_dataset()
    shallow = copy.copy(esn)  # its own generator: both build the same U
    u = ctrnn.tasks.oscillators(100, frequencies=(0.2,))
    shallow.fit(u[:-1], u[1:])
    esn.fit(u[:-1], u[1:])
    assert shallow == esn and pickle.loads(pickle.dumps(esn)) == esn


def test_replacing_a_zarr_store_keeps_the_old_one_until_the_new_one_is_complete(tmp_path):
    import xarray as xr

    from ctrnn.io import write_atomic

    path = tmp_path / "s.zarr"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_zarr(path)

    def fails(tmp):
        xr.Dataset({"a": ("x", [3.0])}).to_zarr(tmp)
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, fails)
    assert xr.open_zarr(path).a.values.tolist() == [1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    write_atomic(path, lambda tmp: xr.Dataset({"a": ("x", [5.0])}).to_zarr(tmp))
    assert xr.open_zarr(path).a.values.tolist() == [5.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_sweep_keeps_the_units_of_its_variables():
    res = ctrnn.sweep(_build_g, {"g": [0.5, 2.0]}, simulate=dict(steps=5, dt=0.1),
                      client="serial")
    assert res.h.attrs["units"] == "1" and res.time.attrs["units"] == "s"
