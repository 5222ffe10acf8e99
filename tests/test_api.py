"""The Python layer: RateNetwork, the Dataset, NetCDF, progress, memory, and every error
path a user can hit."""
import io
import warnings

import numpy as np
import pytest
import xarray as xr

import ctrnn
from ctrnn._progress import Progress


@pytest.fixture
def net():
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, 1.2, seed=0), tau=0.5)


# --- RateNetwork ---------------------------------------------------------------------

def test_network_defaults_immutability_and_replace():
    W = np.eye(3) * 0.5
    net = ctrnn.RateNetwork(W)
    assert net.n_inputs == 0 and net.tau == 1.0 and net.phi.name == "tanh"
    np.testing.assert_array_equal(net.b, 0)
    with pytest.raises(AttributeError, match="immutable"):
        net.tau = 2.0
    with pytest.raises(ValueError, match="read-only"):
        net.W[0, 0] = 1.0
    W[0, 0] = 9.0  # the network holds a copy
    assert net.W[0, 0] == 0.5
    net2 = net.replace(tau=[1.0, 2.0, 3.0], phi="logistic")
    assert net2.phi.name == "sigmoid" and net2.tau_array.tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match="unknown parameter"):
        net.replace(gain=2)


def test_has_noise_for_scalar_and_per_neuron_noise():
    W = np.eye(3) * 0.5
    assert not ctrnn.RateNetwork(W).has_noise
    assert ctrnn.RateNetwork(W, noise=0.1).has_noise
    assert not ctrnn.RateNetwork(W, noise=[0.0, 0.0, 0.0]).has_noise
    assert ctrnn.RateNetwork(W, noise=[0.0, 0.2, 0.0]).has_noise
    assert ctrnn.RateNetwork(W, noise=np.float32(0.3)).has_noise  # a numpy scalar


def test_single_precision_parameters_are_the_decimals_they_print_as():
    # as dt=np.float32(0.1) is 0.1 (README, "Inputs"): so are tau, noise, b and STP's
    # numbers; arrays are taken as they are
    W = np.eye(3) * 0.5
    f32 = np.float32(0.1)
    for tau in (f32, np.array(f32), xr.DataArray(f32), np.float16(0.1)):
        assert ctrnn.RateNetwork(W, tau=tau).tau == 0.1
    net = ctrnn.RateNetwork(W, tau=f32, noise=np.float32(0.3), b=np.float32(0.7))
    assert (net.tau, net.noise, net.b.tolist()) == (0.1, 0.3, [0.7] * 3)
    stp = ctrnn.STP(U=np.float32(0.2), tau_f=np.float32(1.5), tau_d=np.float32(0.1),
                    rate_scale=np.float32(0.3))
    assert (stp.U, stp.tau_f, stp.tau_d, stp.rate_scale) == (0.2, 1.5, 0.1, 0.3)
    assert ctrnn.RateNetwork(W, tau=np.float64(0.1)).tau == 0.1
    per = ctrnn.RateNetwork(W, tau=np.full(3, f32))
    assert per.tau_array.tolist() == [float(f32)] * 3 and float(f32) != 0.1
    # the same run either way (dt == tau: the discrete RNN, which draws no warning)
    runs = []
    for tau in (0.1, f32):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            runs.append(ctrnn.simulate(net.replace(tau=tau, noise=0), steps=5, dt=0.1,
                                       method="euler", h0=[1.0, -1.0, 0.5], seed=0))
    xr.testing.assert_identical(runs[0], runs[1])


@pytest.mark.parametrize("value", [1j, np.complex64(1), np.array([1 + 0j] * 3), [1j, 0, 0]])
def test_complex_parameters_are_refused_by_name(value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(TypeError, match="noise must be real"):
            ctrnn.RateNetwork(np.eye(3), noise=value)


def test_network_field_matches_equation():
    rng = np.random.default_rng(0)
    W, U, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 2)), rng.normal(size=4)
    tau = np.array([1.0, 2.0, 0.5, 4.0])
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi="relu")
    h, x = rng.normal(size=4), rng.normal(size=2)
    np.testing.assert_allclose(net.field(h, x), (-h + np.maximum(W @ h + U @ x + b, 0)) / tau)


@pytest.mark.parametrize("kwargs, match", [
    (dict(W=np.ones((3, 4))), r"square"),
    (dict(W=np.ones(3)), r"2 dimension"),
    (dict(W=[[1.0, np.nan], [0, 0]]), r"W contains 1 non-finite value.*\(0, 1\)"),
    (dict(W=np.eye(2), U=np.ones((3, 1))), r"U must have shape \(2, n_inputs\)"),
    (dict(W=np.eye(2), U=[[np.inf], [0]]), r"U contains"),
    (dict(W=np.eye(2), b=[1, 2, 3]), r"b must be a scalar or have shape \(2,\)"),
    (dict(W=np.eye(2), b=[np.nan, 0]), r"b contains"),
    (dict(W=np.eye(2), tau=-1.0), r"tau must be > 0"),
    (dict(W=np.eye(2), tau=[1.0, 0.0]), r"tau must be > 0; got 0.0 \(neuron 1\)"),
    (dict(W=np.eye(2), tau=np.inf), r"tau contains"),
    (dict(W=np.eye(2), noise=-0.1), r"noise must be >= 0"),
    (dict(W=np.eye(2), phi="tanhh"), r"unknown phi 'tanhh'. Did you mean 'tanh'"),
    (dict(W=np.eye(2), phi="sigmod"), r"Did you mean 'sigmoid'"),
])
def test_network_bad_input_messages(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ctrnn.RateNetwork(**kwargs)


def test_python_callable_phi_gets_a_helpful_error():
    with pytest.raises(TypeError, match="numba.njit"):
        ctrnn.RateNetwork(np.eye(2), phi=lambda z: z)


def test_gaussian_connectivity_statistics_and_seeding():
    W = ctrnn.connectivity.gaussian(1000, g=2.0, seed=3)
    assert abs(W.std() * np.sqrt(1000) / 2.0 - 1) < 0.01 and abs(W.mean()) < 2e-3
    np.testing.assert_array_equal(W, ctrnn.connectivity.gaussian(1000, 2.0, seed=3))
    assert not np.array_equal(W, ctrnn.connectivity.gaussian(1000, 2.0, seed=4))
    # circular law: spectral radius close to g
    assert abs(np.abs(np.linalg.eigvals(W)).max() / 2.0 - 1) < 0.06
    with pytest.raises(ValueError, match="g must be"):
        ctrnn.connectivity.gaussian(10, g=-1)


# --- the Dataset -----------------------------------------------------------------------

def test_dataset_layout_coords_units_and_attrs(net):
    ds = ctrnn.simulate(net, duration=1.0, dt=0.01, save_every=10, seed=3, h0="random")
    assert ds.h.dims == ("time", "neuron") and ds.h.shape == (11, 20)
    np.testing.assert_allclose(ds.time.values, np.arange(11) * 0.1)
    assert ds.time.attrs["units"] == "s"
    a = ds.attrs
    assert (a["method"], a["dt"], a["steps"], a["tau"], a["phi"], a["seed"], a["status"]) == (
        "rk4", 0.01, 100, 0.5, "tanh", 3, "ok")
    assert a["ctrnn_version"] == ctrnn.__version__
    for v in a.values():
        assert isinstance(v, (str, int, float)), v  # scalars only
    b = ctrnn.simulate(net, duration=1.0, dt=0.01, trials=3, h0="random", seed=3)
    assert b.h.dims == ("trial", "time", "neuron") and b.sizes["trial"] == 3
    # trial 0 of a batch starts where the single run does
    np.testing.assert_array_equal(b.h.values[0, 0], ds.h.values[0])


def test_runs_of_one_layout_share_nothing_a_user_can_change(net, monkeypatch):
    # the layout (coordinates, variables) is kept between runs (ctrnn._output._template):
    # what one run's Dataset is given must never reach the next one's
    from ctrnn import _output
    run = lambda: ctrnn.simulate(net, steps=4, dt=0.1, trials=2, h0="random", seed=1)
    a = run()
    a.attrs["note"] = 1
    a.h.attrs["units"] = "Hz"
    a.time.attrs["units"] = "ms"
    a["h"].values[:] = 7.0
    a = a.assign_coords(population=("neuron", ["E"] * 20))
    for write in (lambda: a.neuron.values.__setitem__(0, 5),
                  lambda: np.asarray(a.indexes["time"]).__setitem__(0, 5.0),
                  lambda: np.asarray(a.time.to_index()).__setitem__(0, 5.0),
                  lambda: a.h.isel(trial=0).to_pandas().index.values.__setitem__(0, 5.0)):
        with pytest.raises(ValueError, match="read-only"):
            write()
    frame = a.h.isel(trial=0).to_pandas()
    frame.index.name, frame.columns.name = "t_s", "cell"  # renames the indexes in place
    b = run()
    assert b.h.isel(trial=0).to_pandas().index.name == "time"
    assert b.indexes["neuron"].name == "neuron" and b.time.to_index().name == "time"
    assert "note" not in b.attrs and b.h.attrs["units"] == "1" and b.time.attrs["units"] == "s"
    assert "population" not in b.coords and not np.shares_memory(a.h.values, b.h.values)
    np.testing.assert_allclose(b.time.values, np.arange(5) * 0.1)
    np.testing.assert_array_equal(b.neuron.values, np.arange(20))
    assert not (b.h.values == 7.0).any()
    xr.testing.assert_identical(b, run())
    # at most TEMPLATES_KEPT layouts kept; one with too many coordinate values, none
    for steps in range(1, _output.TEMPLATES_KEPT + 3):
        ctrnn.simulate(net, steps=steps, dt=0.1)
    assert len(_output._TEMPLATES) <= _output.TEMPLATES_KEPT
    monkeypatch.setattr(_output, "TEMPLATE_MAX_VALUES", 10)
    _output._TEMPLATES.clear()
    c = ctrnn.simulate(net, steps=3, dt=0.1)
    assert not _output._TEMPLATES and c.h.shape == (4, 20)


def test_include_params_and_netcdf_round_trip(tmp_path, net):
    ds = ctrnn.simulate(net.replace(tau=np.linspace(0.5, 1, 20)), duration=0.5, dt=0.05,
                        h0="random", seed=1, include_params=True, trials=2)
    np.testing.assert_array_equal(ds.W.values, net.W)
    assert ds.W.dims == ("neuron", "presynaptic") and "tau" in ds and "tau" not in ds.attrs
    path = tmp_path / "run.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    # NetCDF-3 stores integer coordinates as int32: compare those by value
    ints = ["neuron", "presynaptic", "trial"]
    xr.testing.assert_identical(back.drop_vars(ints), ds.drop_vars(ints))
    for c in ints:
        np.testing.assert_array_equal(back[c].values, ds[c].values)
    withU = ctrnn.simulate(ctrnn.RateNetwork(np.eye(2), U=np.ones((2, 1))), steps=3, dt=0.1,
                           include_params=True)
    np.testing.assert_array_equal(withU.U.values, np.ones((2, 1)))


def test_seed_none_is_recorded_and_reproduces(net):
    noisy = net.replace(noise=0.2)
    ds = ctrnn.simulate(noisy, steps=20, dt=0.01, h0="random", method="euler")
    assert isinstance(ds.attrs["seed"], str)  # 128 bits of entropy: a decimal string
    again = ctrnn.simulate(noisy, steps=20, dt=0.01, h0="random", method="euler",
                           seed=ds.attrs["seed"])
    np.testing.assert_array_equal(ds.h.values, again.h.values)
    # a spawned SeedSequence: entropy and spawn key recorded, and they reproduce the run
    child = np.random.SeedSequence([7, 2**70]).spawn(3)[2]
    a = ctrnn.simulate(noisy, steps=20, dt=0.01, h0="random", method="euler", seed=child)
    assert a.attrs["seed"] == f"7,{2**70}/2"
    b = ctrnn.simulate(noisy, steps=20, dt=0.01, h0="random", method="euler",
                       seed=a.attrs["seed"])
    np.testing.assert_array_equal(a.h.values, b.h.values)
    other = ctrnn.simulate(noisy, steps=20, dt=0.01, h0="random", method="euler",
                           seed=np.random.SeedSequence([7, 2**70]).spawn(3)[1])
    assert not np.array_equal(a.h.values, other.h.values)
    with pytest.raises(TypeError, match="seed"):
        ctrnn.simulate(noisy, steps=2, dt=0.01, seed="12a")
    np_int = ctrnn.simulate(noisy, steps=5, dt=0.01, method="euler",
                            seed=np.random.SeedSequence(np.int64(5)))
    assert np_int.attrs["seed"] == 5
    np.testing.assert_array_equal(
        np_int.h.values, ctrnn.simulate(noisy, steps=5, dt=0.01, method="euler", seed=5).h.values)
    gen_a = ctrnn.simulate(noisy, steps=5, dt=0.01, seed=np.random.default_rng(1), method="euler")
    gen_b = ctrnn.simulate(noisy, steps=5, dt=0.01, seed=np.random.default_rng(1), method="euler")
    np.testing.assert_array_equal(gen_a.h.values, gen_b.h.values)


def test_progress_callable_and_bar(net):
    calls = []
    ctrnn.simulate(net, steps=1000, dt=0.01, chunk_steps=100,
                   progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (1000, 1000) and len(calls) == 10
    stream = io.StringIO()
    bar = Progress(10, True, stream=stream)
    for k in (3, 10):
        bar.update(k)
    bar.close()
    assert "100%" in stream.getvalue() and "10/10" in stream.getvalue()
    quiet = io.StringIO()
    bar = Progress(10, None, stream=quiet)  # auto: a fast run shows nothing
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == ""


def test_output_too_large_is_refused_before_allocating(net):
    with pytest.raises(MemoryError, match=r"save_every.*fewer neurons") as err:
        ctrnn.simulate(net, steps=10**6, dt=0.01, max_memory=10**6)
    assert "GiB" in str(err.value) and "1000001 saved times" in str(err.value)


# --- simulate() errors -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(duration=1.0), TypeError, "dt is required"),
    (dict(duration=1.0, dt=0.0), ValueError, "dt must be a finite number > 0"),
    (dict(duration=1.0, dt=-0.1), ValueError, "dt must be"),
    (dict(duration=1.0, dt=np.nan), ValueError, "dt must be"),
    (dict(dt=0.1), TypeError, "exactly one of duration"),
    (dict(duration=1.0, steps=10, dt=0.1), TypeError, "exactly one of duration"),
    (dict(duration=1.05, dt=0.1), ValueError, "not a whole number of steps"),
    (dict(steps=10, dt=0.1, method="rk5"), ValueError, "Did you mean"),
    (dict(steps=10, dt=0.1, method="discrete"), ValueError, "takes no dt"),
    (dict(duration=1.0, method="discrete"), ValueError, "counts steps"),
    (dict(steps=10, dt=0.1, save_every=0), ValueError, "save_every must be >= 1"),
    (dict(steps=10, dt=0.1, h0=np.ones(3)), ValueError,
     r"h0 must have shape \(20,\).*; got \(3,\): give one value per neuron"),
    (dict(steps=10, dt=0.1, h0=np.full(20, np.nan)), ValueError, "h0 contains 20 non-finite"),
    (dict(steps=10, dt=0.1, h0="randn"), ValueError, "'random'"),
    (dict(steps=10, dt=0.1, h0=np.zeros((3, 20)), trials=2), ValueError,
     "trials gives 2, h0 gives 3"),
    (dict(steps=10, dt=0.1, inputs=np.ones((10, 1))), ValueError, "no input weights U"),
    (dict(steps=10, dt=0.1, dtype=np.int32), TypeError, "dtype"),
    (dict(steps=10, dt=0.1, seed=-1), TypeError, "seed"),
    (dict(steps=10, dt=0.1, on_blowup="ignore"), ValueError, "on_blowup"),
    (dict(steps=10, dt=0.1, input_interp="cubic"), ValueError, "input_interp"),
])
def test_simulate_bad_arguments(net, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ctrnn.simulate(net, **kwargs)


def test_bad_inputs_shapes_and_values():
    net = ctrnn.RateNetwork(np.eye(3) * 0.1, U=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"inputs must have shape \(steps, n_inputs\) = \(10, 2\)"):
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=np.ones((9, 2)))
    with pytest.raises(ValueError, match="inputs contains 1 non-finite"):
        x = np.ones((10, 2))
        x[4, 1] = np.inf
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=x)
    with pytest.raises(ValueError, match="trials disagrees.*; give them the same number"):
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=np.ones((4, 10, 2)), trials=3)
    da = xr.DataArray(np.ones((5, 2)), dims=("time", "channel"),
                      coords={"time": np.linspace(0.5, 1, 5)})
    with pytest.raises(ValueError, match="inputs start at time 0.5"):
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=da)
    with pytest.raises(ValueError, match="'time' dimension"):
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=da.rename(time="t"))
    short = xr.DataArray(np.ones((3, 2)), dims=("time", "c"), coords={"time": [0, 0.1, 0.2]})
    with pytest.warns(UserWarning, match="last value is held"):
        ctrnn.simulate(net, steps=10, dt=0.1, inputs=short)


def test_per_trial_inputs_make_a_batch():
    net = ctrnn.RateNetwork(np.zeros((2, 2)), U=np.eye(2)[:, :1], phi="linear")
    x = np.stack([np.full((10, 1), v) for v in (1.0, -1.0, 2.0)])
    ds = ctrnn.simulate(net, steps=10, dt=0.1, inputs=x, method="exponential_euler")
    assert ds.sizes["trial"] == 3
    np.testing.assert_allclose(ds.h.values[:, -1, 0], np.array([1, -1, 2]) * (1 - np.exp(-1)))


def test_blowup_raises_with_time_and_neuron():
    net = ctrnn.RateNetwork(np.eye(4) * 3.0, tau=1.0, phi="linear")  # dh/dt = 2h
    h0 = np.array([0.0, 1e-3, 0.0, 0.0])
    for method in ("euler", "rk4", "dopri5"):
        with pytest.raises(FloatingPointError, match=r"neuron 1") as err:
            ctrnn.simulate(net, duration=500.0, dt=0.1, h0=h0, method=method)
        assert "t = " in str(err.value)
    ds = ctrnn.simulate(net, duration=500.0, dt=0.1, h0=h0, method="euler", on_blowup="return",
                        save_every=10)
    assert ds.attrs["status"].startswith("the state left the finite range")
    finite = np.isfinite(ds.h.values[:, 1])
    assert finite[0] and not finite[-1] and np.all(np.diff(finite.astype(int)) <= 0)


def test_unstable_dt_warns_and_stable_dt_does_not(net):
    with pytest.warns(RuntimeWarning, match=r"outside the stability region of 'rk4'.*dt <="):
        ctrnn.simulate(net, steps=5, dt=2.0, method="rk4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctrnn.simulate(net, steps=5, dt=0.05, method="rk4")
        ctrnn.simulate(net, steps=5, dt=2.0, method="exponential_euler")


def test_the_stability_warning_uses_each_networks_own_radius():
    for g in (1.0, 3.0):
        W = ctrnn.connectivity.gaussian(50, g, seed=0)
        net = ctrnn.RateNetwork(W, tau=1.0)
        expected = np.sqrt(np.sum(W**2) / 50)  # max|tanh'| = 1 times ||W||_F / sqrt(N)
        for _ in range(2):  # the second from the sum of squares kept with the network
            with pytest.warns(RuntimeWarning) as rec:
                ctrnn.simulate(net, steps=2, dt=2.0, method="rk4")
            assert f"coupling radius {expected:.3g})" in str(rec[0].message)


def test_the_stability_warning_takes_the_fastest_tau():
    # Euler's interval is |z| <= 2: dt (1 + r) / tau_min > 2 warns, with the largest
    # stable dt 2 tau_min / (1 + r); r = 0 for W = 0
    net = ctrnn.RateNetwork(np.zeros((3, 3)), tau=[1.0, 0.2, 5.0])
    with pytest.warns(RuntimeWarning, match=r"tau_min=0.2, .* use dt <= 0.4,"):
        ctrnn.simulate(net, steps=2, dt=0.5, method="euler")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ctrnn.simulate(net, steps=2, dt=0.39, method="euler")
        ctrnn.simulate(net.replace(tau=0.2), steps=2, dt=0.39, method="euler")
    with pytest.warns(RuntimeWarning, match=r"tau_min=0.2, .* use dt <= 0.4,"):
        ctrnn.simulate(net.replace(tau=0.2), steps=2, dt=0.5, method="euler")


def test_dopri5_refuses_noise_and_reports_max_steps(net):
    with pytest.raises(ValueError, match="fixed-step method"):
        ctrnn.simulate(net.replace(noise=0.1), steps=10, dt=0.1, method="dopri5")
    with pytest.raises(RuntimeError, match="max_steps=3 reached.*raise max_steps"):
        ctrnn.simulate(net, duration=10.0, dt=0.1, method="dopri5", max_steps=3,
                       h0="random", seed=0)


@pytest.mark.parametrize("dtype", ["int32", np.float16, "complex128", object, "foo"])
def test_a_bad_dtype_is_named_with_the_choices(net, dtype):
    with pytest.raises(TypeError, match=r"dtype must be numpy.float64 or numpy.float32; "
                                        r"got .*: pass dtype=numpy.float64"):
        ctrnn.simulate(net, steps=2, dt=0.1, dtype=dtype)


def test_simulate_requires_a_network():
    with pytest.raises(TypeError, match="RateNetwork"):
        ctrnn.simulate(np.eye(3), steps=10, dt=0.1)


def test_partial_result_after_blowup_is_nan_not_garbage():
    # dh/dt = h with h0 = 1e299 overflows within a few steps; every save after the last
    # finite one must be NaN, and the finite ones must be the exact Euler values
    net = ctrnn.RateNetwork([[2.0]], phi="linear")
    for save_every in (1, 2):
        with pytest.warns(RuntimeWarning) if 10 % save_every else _nowarn():
            ds = ctrnn.simulate(net, steps=10, dt=0.5, h0=[1e299], method="euler",
                                save_every=save_every, on_blowup="return")
        h = ds.h.values[:, 0]
        finite = np.isfinite(h)
        n = finite.sum()
        np.testing.assert_allclose(h[:n], 1e299 * 1.5 ** (np.arange(n) * save_every))
        assert not finite[n:].any()
    # dopri5 batch: the trial after the failing one is NaN where it was not computed,
    # never uninitialised memory
    net = ctrnn.RateNetwork([[3.0]], phi="linear")
    ds = ctrnn.simulate(net, duration=400.0, dt=1.0, h0=[[1.0], [0.0]], method="dopri5",
                        on_blowup="return")
    other = ds.h.values[1, :, 0]
    assert np.all((other == 0) | np.isnan(other))


class _nowarn:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_steps_not_multiple_of_save_every_warns():
    net = ctrnn.RateNetwork(np.eye(2) * 0.5)
    with pytest.warns(RuntimeWarning, match="last 1 step"):
        ctrnn.simulate(net, steps=7, dt=0.1, save_every=2)


def test_float32_adaptive_default_rtol_is_resolvable_and_a_tighter_one_warns():
    """The float64 default rtol (1e-6) is below 10 float32 epsilons (1.2e-6): a float32
    run uses 10 epsilons by default, silently; an rtol the user gives below it warns."""
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, 1.5, seed=0))
    kw = dict(duration=1.0, dt=0.1, method="dopri5", dtype=np.float32, h0="random", seed=0,
              progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = ctrnn.simulate(net, **kw)
    assert np.isfinite(ds.h.values).all()
    with pytest.warns(RuntimeWarning, match="rtol=1e-07 is below 10 x machine epsilon"):
        ctrnn.simulate(net, rtol=1e-7, **kw)


def test_h0_of_three_dimensions_names_the_shapes_it_takes():
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, 1.5, seed=0))
    with pytest.raises(ValueError, match=r"h0 must have shape \(20,\) or \(trials, 20\); "
                                         r"got \(2, 3, 20\)"):
        ctrnn.simulate(net, steps=3, dt=0.1, h0=np.zeros((2, 3, 20)), progress=False)
