"""Accuracy against independent references: matrix exponentials, scipy's DOP853, NumPy
loops, the Ornstein-Uhlenbeck variance."""
import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import ctrnn

from . import naive
from .conftest import random_net_params


def _linear_setup(n=20, g=0.5, tau=1.0, seed=3):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, g / np.sqrt(n), (n, n))
    h0 = rng.normal(size=n)
    return W, h0, tau


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_order_of_convergence_linear_network(method, order):
    # phi = identity: tau dh/dt = (W - I) h, exactly h(T) = expm((W - I) T / tau) h0
    W, h0, tau = _linear_setup()
    T = 2.0
    exact = expm((W - np.eye(len(h0))) * T / tau) @ h0
    net = ctrnn.RateNetwork(W, tau=tau, phi="linear")
    dts = np.array([0.2, 0.1, 0.05, 0.025])
    errs = []
    for dt in dts:
        ds = ctrnn.simulate(net, duration=T, dt=dt, h0=h0, method=method)
        errs.append(np.max(np.abs(ds.h.values[-1] - exact)))
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.3, (slope, errs)


def test_exponential_euler_exact_for_leak_and_order_one():
    # W = 0, constant drive: exponential Euler is exact for any dt
    n = 5
    b = np.linspace(-1, 1, n)
    net = ctrnn.RateNetwork(np.zeros((n, n)), b=b, tau=0.7, phi="linear")
    h0 = np.linspace(2, -2, n)
    ds = ctrnn.simulate(net, duration=3.0, dt=0.5, h0=h0, method="exponential_euler")
    t = ds.time.values[:, None]
    exact = b + (h0 - b) * np.exp(-t / 0.7)
    np.testing.assert_allclose(ds.h.values, exact, rtol=1e-13, atol=1e-14)
    # with coupling it is first order
    W, h0, tau = _linear_setup()
    netc = ctrnn.RateNetwork(W, tau=tau, phi="linear")
    exact = expm((W - np.eye(len(h0))) * 2.0) @ h0
    errs = [np.abs(ctrnn.simulate(netc, duration=2.0, dt=dt, h0=h0,
                                  method="exponential_euler").h.values[-1] - exact).max()
            for dt in (0.1, 0.05, 0.025)]
    slope = np.polyfit(np.log([0.1, 0.05, 0.025]), np.log(errs), 1)[0]
    assert abs(slope - 1) < 0.3


def _tanh_problem():
    rng = np.random.default_rng(7)
    n = 50
    W, U, b = random_net_params(n, 0.8, rng, n_in=1)
    h0 = rng.normal(0, 0.5, n)
    tau = 1.0
    return W, U, b, h0, tau


def _dop853_reference(W, U, b, h0, tau, t_eval, x_of_t):
    sol = solve_ivp(lambda t, h: naive.rhs(h, W, U, b, tau, "tanh", x_of_t(t)),
                    (0, t_eval[-1]), h0, method="DOP853", rtol=1e-12, atol=1e-12,
                    t_eval=t_eval)
    assert sol.success
    return sol.y.T


def test_nonlinear_tanh_network_against_dop853_rk4():
    W, U, b, h0, tau = _tanh_problem()
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi="tanh")
    T = 5.0
    errs = []
    dts = [0.1, 0.05, 0.025]
    for dt in dts:
        steps = round(T / dt)
        grid = np.arange(steps + 1) * dt
        x = np.sin(2 * np.pi * grid / 2.0)[:, None]
        # the model integrated by both: x(t) linearly interpolated between grid samples
        ref = _dop853_reference(W, U, b, h0, tau, grid,
                                lambda t: np.array([np.interp(t, grid, x[:, 0])]))
        ds = ctrnn.simulate(net, duration=T, dt=dt, h0=h0, inputs=x, method="rk4",
                            input_interp="linear")
        errs.append(np.abs(ds.h.values - ref).max())
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - 4) < 0.3, errs
    assert errs[-1] < 4e-4 * 0.025**4 * 1e3  # C dt^4 with C ~ 0.4 (measured 1.5e-7)


def test_dopri5_against_dop853_error_tracks_rtol():
    W, U, b, h0, tau = _tanh_problem()
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi="tanh")
    T, dt_in = 5.0, 1e-3
    grid = np.arange(round(T / dt_in) + 1) * dt_in
    x = np.sin(2 * np.pi * grid / 2.0)[:, None]
    t_save = grid[::100]
    ref = _dop853_reference(W, U, b, h0, tau, t_save,
                            lambda t: np.array([np.interp(t, grid, x[:, 0])]))
    errs, steps = [], []
    for rtol in (1e-4, 1e-6, 1e-8):
        ds = ctrnn.simulate(net, duration=T, dt=dt_in, h0=h0, inputs=x, method="dopri5",
                            input_interp="linear", rtol=rtol, atol=rtol * 1e-3,
                            save_every=100)
        errs.append(np.abs(ds.h.values - ref).max())
        steps.append(ds.attrs["n_accepted"])
        # dense output is within the tolerance's scale at every save point
        assert errs[-1] < 50 * rtol, (rtol, errs[-1])
    assert errs[0] > errs[1] > errs[2]
    assert steps[0] < steps[1] < steps[2]
    assert ds.attrs["n_rhs_evals"] >= 6 * ds.attrs["n_accepted"]


def test_dopri5_dense_output_matches_exact_linear_solution():
    W, h0, tau = _linear_setup(n=10)
    net = ctrnn.RateNetwork(W, tau=tau, phi="linear")
    ds = ctrnn.simulate(net, duration=4.0, dt=0.01, h0=h0, method="dopri5", rtol=1e-9,
                        atol=1e-12)
    A = W - np.eye(10)
    exact = np.array([expm(A * t) @ h0 for t in ds.time.values])
    np.testing.assert_allclose(ds.h.values, exact, atol=1e-7)
    # 400 saves from far fewer steps: the saves come from the dense output
    assert ds.attrs["n_accepted"] < ds.attrs["steps"] // 3


def test_euler_matches_numpy_loop_with_inputs_and_heterogeneous_tau(rng):
    n, n_in, steps = 30, 3, 200
    W, U, b = random_net_params(n, 1.2, rng, n_in)
    tau = rng.uniform(0.5, 3.0, n)
    xs = rng.normal(size=(steps, n_in))
    h0 = rng.normal(size=n)
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi="tanh")
    ds = ctrnn.simulate(net, steps=steps, dt=0.1, h0=h0, inputs=xs, method="euler")
    ref = naive.euler_loop(h0, W, U, b, tau, "tanh", 0.1, xs)
    np.testing.assert_allclose(ds.h.values, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("phi", ["tanh", "relu", "sigmoid", "softplus", "linear"])
def test_rk4_heterogeneous_tau_against_numpy_rk4(rng, phi):
    n, n_in, steps, dt = 25, 2, 100, 0.05
    W, U, b = random_net_params(n, 0.9, rng, n_in)
    tau = rng.uniform(0.3, 2.0, n)
    h0 = rng.normal(size=n)
    grid = np.arange(steps + 1) * dt
    xs = np.cos(grid[:, None] * np.array([1.0, 2.5]))
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi=phi)
    ds = ctrnn.simulate(net, steps=steps, dt=dt, h0=h0, inputs=xs, method="rk4",
                        input_interp="linear")
    x_of_t = lambda t: np.array([np.interp(t, grid, xs[:, i]) for i in range(n_in)])
    ref = naive.rk4_loop(h0, W, U, b, tau, phi, dt, steps, x_of_t)
    np.testing.assert_allclose(ds.h.values, ref, rtol=1e-11, atol=1e-12)


def test_discrete_rnn_equals_numpy_loop_and_euler_with_dt_equal_tau(rng):
    n, n_in, T = 40, 2, 50
    W, U, b = random_net_params(n, 1.3, rng, n_in)
    xs = rng.normal(size=(T, n_in))
    h0 = rng.normal(size=n)
    tau = 0.02
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau, phi="tanh")
    ds = ctrnn.simulate(net, steps=T, h0=h0, inputs=xs, method="discrete")
    ref = naive.discrete_loop(h0, W, U, b, "tanh", xs)
    np.testing.assert_allclose(ds.h.values, ref, rtol=0, atol=1e-14)
    assert ds.time.attrs["units"] == "steps" and ds.attrs["time_unit"] == "steps"
    eu = ctrnn.simulate(net, steps=T, dt=tau, h0=h0, inputs=xs, method="euler")
    np.testing.assert_array_equal(eu.h.values, ds.h.values)


@pytest.mark.parametrize("sparse", [False, True])
def test_batch_equals_single_runs(rng, sparse):
    n, B = 60, 5
    W, U, b = random_net_params(n, 1.5, rng, 2)
    if sparse:  # the CSR product sums each row in one reassociated loop, alike each time
        W = ctrnn.connectivity.sparse(n, 0.2, 1.5, seed=3)
    H0 = rng.normal(size=(B, n))
    xs = rng.normal(size=(B, 100, 2))
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=1.0)
    for method in ("euler", "rk4", "dopri5"):
        batch = ctrnn.simulate(net, steps=100, dt=0.1, h0=H0, inputs=xs, method=method)
        assert batch.h.dims == ("trial", "time", "neuron")
        for r in range(B):
            single = ctrnn.simulate(net, steps=100, dt=0.1, h0=H0[r], inputs=xs[r],
                                    method=method)
            # bit for bit: a fixed-step batch of N <= GROUPS_MAX is stepped in groups of
            # trials on the single run's panel products, dopri5 steps each trial on its
            # own, and a sparse W sums every row alike (the BLAS batch of a larger
            # network: tests/test_threads.py)
            np.testing.assert_array_equal(batch.h.values[r], single.h.values)


def test_batch_with_noise_trial_streams_do_not_depend_on_batch_size():
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(30, 0.5, seed=0), noise=0.3)
    big = ctrnn.simulate(net, steps=50, dt=0.1, trials=6, seed=11, method="euler")
    small = ctrnn.simulate(net, steps=50, dt=0.1, trials=2, seed=11, method="euler")
    single = ctrnn.simulate(net, steps=50, dt=0.1, seed=11, method="euler")
    np.testing.assert_allclose(big.h.values[:2], small.h.values, atol=1e-12)
    np.testing.assert_allclose(big.h.values[0], single.h.values, atol=1e-12)
    assert not np.allclose(big.h.values[0], big.h.values[1])


@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "exponential_euler", "dopri5",
                                    "bs3"])
@pytest.mark.parametrize("sparse", [False, True])
def test_chunked_run_equals_one_long_run_bit_for_bit(rng, method, sparse):
    n = 40
    W, U, b = random_net_params(n, 1.5, rng, 1)
    if sparse:
        W = ctrnn.connectivity.sparse(n, 0.3, 1.5, seed=4)
    noise = 0.0 if method in ("dopri5", "bs3") else 0.2
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=1.0, noise=noise)
    xs = rng.normal(size=(300, 1))
    kw = dict(steps=300, dt=0.05, h0="random", inputs=xs, method=method, seed=5,
              save_every=3, trials=2)
    whole = ctrnn.simulate(net, chunk_steps=300, **kw)
    for chunk in (1, 7, 64):
        part = ctrnn.simulate(net, chunk_steps=chunk, **kw)
        np.testing.assert_array_equal(part.h.values, whole.h.values)


@pytest.mark.parametrize("method", ["dopri5", "bs3"])
def test_adaptive_chunks_end_inside_a_step(method):
    """Smooth dynamics: one adaptive step spans many saves, so chunks end inside steps.
    The saves of such a step beyond the chunk must come from that step's dense output
    (as in one long run), not from extrapolating the next step backwards, whatever the
    chunking (which, left to itself, follows the wall clock)."""
    W = ctrnn.connectivity.gaussian(30, 0.5, seed=3)
    net = ctrnn.RateNetwork(W, tau=1.0)
    kw = dict(duration=20.0, dt=0.004, h0="random", method=method, seed=1, trials=2)
    whole = ctrnn.simulate(net, chunk_steps=10**6, **kw)
    assert whole.attrs["n_accepted"] < 0.2 * whole.sizes["time"]  # many saves a step
    for chunk in (1, 7, 64, 333):
        part = ctrnn.simulate(net, chunk_steps=chunk, **kw)
        np.testing.assert_array_equal(part.h.values, whole.h.values)


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_float32_close_to_float64(rng, method):
    W, U, b = random_net_params(80, 0.9, rng, 1)
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=1.0)
    kw = dict(steps=200, dt=0.05, h0="random", seed=2, method=method,
              inputs=np.sin(np.arange(200) * 0.1))
    if method == "dopri5":
        # float32 and float64 choose different steps: compare each with a tight reference;
        # float32 must be as accurate as float64 at the same (float32-sized) tolerance
        kw.update(rtol=2e-5, atol=2e-7)
        ref = ctrnn.simulate(net, **{**kw, "rtol": 1e-11, "atol": 1e-13}).h.values
        e64 = np.abs(ctrnn.simulate(net, **kw).h.values - ref).max()
        d32 = ctrnn.simulate(net, dtype=np.float32, **kw)
        e32 = np.abs(d32.h.values - ref).max()
        assert d32.h.dtype == np.float32 and e32 < 2 * e64 + 1e-4, (e32, e64)
        return
    d64 = ctrnn.simulate(net, **kw)
    d32 = ctrnn.simulate(net, dtype=np.float32, **kw)
    assert d32.h.dtype == np.float32 and d64.h.dtype == np.float64
    np.testing.assert_allclose(d32.h.values, d64.h.values, atol=2e-4)


@pytest.mark.parametrize("method, var_factor", [
    # Euler-Maruyama on tau dh = -h dt + sigma sqrt(2 tau) dW is the AR(1) process
    # h' = (1 - a) h + sigma sqrt(2a) z, a = dt/tau: stationary variance sigma^2 / (1 - a/2)
    ("euler", lambda a: 1.0 / (1.0 - a / 2)),
    # exponential Euler uses the exact Ornstein-Uhlenbeck transition: variance sigma^2
    ("exponential_euler", lambda a: 1.0),
])
def test_noise_stationary_variance_matches_ornstein_uhlenbeck(method, var_factor):
    sigma, tau, dt = 0.5, 1.0, 0.5
    net = ctrnn.RateNetwork(np.zeros((50, 50)), tau=tau, phi="linear", noise=sigma)
    ds = ctrnn.simulate(net, duration=2000.0, dt=dt, method=method, seed=3, trials=2,
                        save_every=4)
    h = ds.h.isel(time=slice(20, None)).values  # drop the transient
    expected = sigma**2 * var_factor(dt / tau)
    # ~ 50 * 2 * 1000 effectively independent samples -> ~0.5% std error
    assert abs(h.var() / expected - 1) < 0.03
    assert abs(h.mean()) < 0.02


def test_noise_converges_as_dt_shrinks():
    # sqrt(dt) scaling: the Euler variance tends to sigma^2 as dt -> 0
    sigma = 0.3
    net = ctrnn.RateNetwork(np.zeros((200, 200)), tau=1.0, phi="linear", noise=sigma)
    ds = ctrnn.simulate(net, duration=200.0, dt=0.02, method="euler", seed=4, save_every=25)
    v = ds.h.isel(time=slice(10, None)).values.var()
    assert abs(v / sigma**2 - 1) < 0.04


def test_dataarray_input_resampled_by_hold_and_linear():
    n = 3
    U = np.eye(n)[:, :1]
    net = ctrnn.RateNetwork(np.zeros((n, n)), U=U, tau=1.0, phi="linear")
    # a DataArray sampled every 0.25 on a run with dt = 0.1
    t = np.arange(0, 2.01, 0.25)
    da = xr.DataArray(t**2, dims="time", coords={"time": t})
    steps, dt = 20, 0.1
    grid = np.arange(steps + 1) * dt
    from ctrnn import inputs
    hold = inputs.on_grid(da, 1, steps, dt, "hold")[0, :, 0]
    lin = inputs.on_grid(da, 1, steps, dt, "linear")[0, :, 0]
    np.testing.assert_allclose(hold, (np.floor(grid / 0.25 + 1e-9) * 0.25) ** 2)
    np.testing.assert_allclose(lin, np.interp(grid, t, t**2))
    # Euler with the hold rule: h[k+1] = h[k] + dt (-h[k] + x(t_k))
    ds = ctrnn.simulate(net, steps=steps, dt=dt, inputs=da, method="euler")
    ref = naive.euler_loop(np.zeros(n), np.zeros((n, n)), U, np.zeros(n), 1.0, "linear",
                           dt, hold[:-1, None])
    np.testing.assert_allclose(ds.h.values, ref, atol=1e-14)
