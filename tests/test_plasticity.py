"""Short-term plasticity against closed forms and an independent DOP853 solution."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import ctrnn
from ctrnn.plasticity import steady_state

from . import naive


def _stp_net(n=12, seed=0, efficacy="absolute", per_neuron=True, n_in=1, phi="softplus"):
    # softplus > 0 keeps h > 0: smooth dynamics (no kink of relu or of max(h, 0)), so
    # convergence orders are not spoiled
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1.0 / np.sqrt(n), (n, n))
    U = rng.normal(0, 1, (n, n_in))
    b = rng.uniform(0.2, 1.0, n)
    if per_neuron:  # facilitating and depressing synapses in one network
        stp = ctrnn.STP(U=np.where(np.arange(n) < n // 2, 0.2, 0.6),
                        tau_f=np.where(np.arange(n) < n // 2, 1.5, 0.05),
                        tau_d=np.where(np.arange(n) < n // 2, 0.2, 0.8), efficacy=efficacy)
    else:
        stp = ctrnn.STP(U=0.3, tau_f=1.0, tau_d=0.3, efficacy=efficacy)
    return ctrnn.RateNetwork(W, U=U, b=b, tau=0.1, phi=phi, stp=stp), rng


def test_clamped_rates_converge_to_steady_state_formulas():
    rates = np.array([0.5, 2.0, 5.0, 20.0, 80.0])
    n = rates.size
    stp = ctrnn.STP(U=0.2, tau_f=1.5, tau_d=0.2)
    # W = 0 and h0 = b: every neuron sits at its constant rate
    net = ctrnn.RateNetwork(np.zeros((n, n)), b=rates, tau=0.01, phi="linear", stp=stp)
    ds = ctrnn.simulate(net, duration=30.0, dt=2e-3, h0=rates, method="rk4", save_every=500)
    u_inf, x_inf, eff = steady_state(stp, rates)
    np.testing.assert_allclose(ds.u.values[-1], u_inf, rtol=1e-6)
    np.testing.assert_allclose(ds.x.values[-1], x_inf, rtol=1e-6)
    np.testing.assert_allclose(ds.h.values[-1], rates)
    # the transmitted rate u x r saturates at 1 / tau_d
    assert eff[-1] < 1 / 0.2 and np.all(np.diff(eff) > 0)


def test_steady_state_limits():
    stp = ctrnn.STP(U=0.4, tau_f=0.5, tau_d=0.3)
    u, x, e = steady_state(stp, [0.0, 1e9])
    assert u[0] == pytest.approx(0.4) and x[0] == pytest.approx(1.0) and e[0] == 0
    assert u[1] == pytest.approx(1.0) and e[1] == pytest.approx(1 / 0.3, rel=1e-6)
    with pytest.raises(ValueError, match="rate"):
        steady_state(stp, -1.0)


def _reference(net, z0, T, t_eval, x_of_t, rate_scale=1.0):
    Us, tf, td = net.stp.arrays(net.n_neurons)
    eff = 1 / Us if net.stp.efficacy == "relative" else 1.0
    sol = solve_ivp(lambda t, z: naive.stp_rhs(z, net.W, net.U, net.b, net.tau_array,
                                               net.phi.name, x_of_t(t), Us, tf, td,
                                               rate_scale, eff),
                    (0, T), z0, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=t_eval)
    assert sol.success
    return sol.y.T


@pytest.mark.parametrize("efficacy", ["absolute", "relative"])
def test_rk4_with_stp_is_fourth_order_against_dop853(efficacy):
    net, rng = _stp_net(efficacy=efficacy)
    n = net.n_neurons
    h0 = rng.uniform(0.5, 2, n)
    Us, _, _ = net.stp.arrays(n)
    z0 = np.concatenate([h0, Us, np.ones(n)])
    T = 1.0
    errs, dts = [], [0.02, 0.01, 0.005]
    for dt in dts:
        steps = round(T / dt)
        grid = np.arange(steps + 1) * dt
        x = np.sin(2 * np.pi * grid)[:, None]
        ref = _reference(net, z0, T, grid, lambda t: np.array([np.interp(t, grid, x[:, 0])]))
        ds = ctrnn.simulate(net, duration=T, dt=dt, h0=h0, inputs=x, method="rk4",
                            input_interp="linear")
        got = np.concatenate([ds.h.values, ds.u.values, ds.x.values], axis=1)
        errs.append(np.abs(got - ref).max())
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - 4) < 0.3, errs
    # and dopri5 with the same state (smooth, without the input's kinks at the dt grid)
    grid = np.arange(201) * 0.005
    ref = _reference(net, z0, T, grid, lambda t: np.zeros(1))
    for rtol in (1e-6, 1e-9):
        ds = ctrnn.simulate(net, duration=T, dt=0.005, h0=h0, method="dopri5", rtol=rtol,
                            atol=rtol * 1e-3)
        got = np.concatenate([ds.h.values, ds.u.values, ds.x.values], axis=1)
        assert np.abs(got - ref).max() < 100 * rtol


@pytest.mark.parametrize("method, order", [("euler", 1), ("exponential_euler", 1), ("heun", 2)])
def test_other_methods_converge_with_stp(method, order):
    net, rng = _stp_net(per_neuron=False)
    n = net.n_neurons
    h0 = rng.uniform(0.5, 2, n)
    z0 = np.concatenate([h0, np.full(n, 0.3), np.ones(n)])
    T = 1.0
    ref = _reference(net, z0, T, [T], lambda t: np.zeros(1))[-1]
    dts = [0.01, 0.005, 0.0025]
    errs = []
    for dt in dts:
        ds = ctrnn.simulate(net, duration=T, dt=dt, h0=h0, method=method)
        got = np.concatenate([ds.h.values[-1], ds.u.values[-1], ds.x.values[-1]])
        errs.append(np.abs(got - ref).max())
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.3, errs


def test_fast_facilitation_limit_is_pure_depression():
    # tau_f -> 0: u stays at U; compare with a DOP853 solution of the depression-only model
    n = 8
    rng = np.random.default_rng(4)
    W = rng.normal(0, 0.5 / np.sqrt(n), (n, n))
    b = rng.uniform(0.5, 1.5, n)
    U, tau_d = 0.4, 0.3
    net = ctrnn.RateNetwork(W, b=b, tau=0.05, phi="relu",
                            stp=ctrnn.STP(U=U, tau_f=1e-6, tau_d=tau_d))
    h0 = rng.uniform(0.5, 1.5, n)
    T = 2.0

    def depression_only(t, z):
        h, x = z[:n], z[n:]
        hp = np.maximum(h, 0)
        return np.concatenate([(-h + np.maximum(W @ (U * x * hp) + b, 0)) / 0.05,
                               (1 - x) / tau_d - U * x * hp])

    ref = solve_ivp(depression_only, (0, T), np.concatenate([h0, np.ones(n)]),
                    method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    ds = ctrnn.simulate(net, duration=T, dt=1e-4, h0=h0, method="exponential_euler")
    np.testing.assert_allclose(ds.u.values[-1], U, rtol=1e-4)
    np.testing.assert_allclose(ds.h.values[-1], ref[:n], atol=2e-3)
    np.testing.assert_allclose(ds.x.values[-1], ref[n:], atol=2e-3)


def test_no_depression_full_release_equals_plain_network():
    # U = 1 (u = 1) and tau_d -> 0 (x -> 1): the plain network without STP
    net, rng = _stp_net(per_neuron=False)
    plain = net.replace(stp=None)
    limit = net.replace(stp=ctrnn.STP(U=1.0, tau_f=1.0, tau_d=1e-7))
    h0 = rng.uniform(0.5, 2, net.n_neurons)
    x = rng.normal(size=(500, 1))
    a = ctrnn.simulate(plain, steps=500, dt=1e-3, h0=h0, inputs=x, method="exponential_euler")
    b = ctrnn.simulate(limit, steps=500, dt=1e-3, h0=h0, inputs=x, method="exponential_euler")
    np.testing.assert_array_equal(b.u.values, 1.0)
    np.testing.assert_allclose(b.h.values, a.h.values, rtol=1e-5, atol=1e-6)  # x = 1 - O(tau_d r)


def test_batch_equals_singles_and_chunked_equals_whole_with_stp():
    net, rng = _stp_net()
    n = net.n_neurons
    H0 = rng.uniform(0, 2, (3, n))
    u0 = rng.uniform(0.2, 0.9, (3, n))
    xs = rng.normal(size=(3, 200, 1))
    for method in ("euler", "rk4", "dopri5"):
        batch = ctrnn.simulate(net, steps=200, dt=0.005, h0=H0, u0=u0, inputs=xs, method=method)
        for r in range(3):
            one = ctrnn.simulate(net, steps=200, dt=0.005, h0=H0[r], u0=u0[r], inputs=xs[r],
                                 method=method)
            for v in ("h", "u", "x"):
                np.testing.assert_allclose(batch[v].values[r], one[v].values, atol=1e-12)
        assert batch.u.dims == ("trial", "time", "neuron")
    noisy = net.replace(noise=0.05)
    kw = dict(steps=200, dt=0.005, h0=H0, inputs=xs, method="rk4", seed=3, save_every=4)
    whole = ctrnn.simulate(noisy, chunk_steps=200, **kw)
    part = ctrnn.simulate(noisy, chunk_steps=9, **kw)
    for v in ("h", "u", "x"):
        np.testing.assert_array_equal(part[v].values, whole[v].values)


def test_float32_and_params_with_stp():
    net, rng = _stp_net()
    h0 = rng.uniform(0, 2, net.n_neurons)
    d64 = ctrnn.simulate(net, steps=200, dt=0.005, h0=h0, method="rk4", include_params=True)
    d32 = ctrnn.simulate(net, steps=200, dt=0.005, h0=h0, method="rk4", dtype=np.float32)
    assert d32.u.dtype == np.float32
    for v in ("h", "u", "x"):
        np.testing.assert_allclose(d32[v].values, d64[v].values, atol=1e-4)
    np.testing.assert_array_equal(d64.stp_U.values, net.stp.arrays(net.n_neurons)[0])
    assert d64.attrs["stp_efficacy"] == "absolute"


def test_discrete_update_order_with_stp():
    net, rng = _stp_net(per_neuron=False, n_in=1, phi="relu")
    n = net.n_neurons
    stp = ctrnn.STP(U=0.3, tau_f=20.0, tau_d=5.0, rate_scale=0.1)  # in steps
    net = net.replace(stp=stp)
    h0 = rng.uniform(0, 1, n)
    xs = rng.normal(size=(30, 1))
    ds = ctrnn.simulate(net, steps=30, method="discrete", h0=h0, inputs=xs)
    h, u, x = h0.copy(), np.full(n, 0.3), np.ones(n)
    for k in range(30):  # documented order: everything from the state at step k
        hp = np.maximum(h, 0)
        r = 0.1 * hp
        h_new = np.maximum(net.W @ (u * x * hp) + net.U @ xs[k] + net.b, 0)
        u_new = u + (0.3 - u) / 20.0 + 0.3 * (1 - u) * r
        x_new = x + (1 - x) / 5.0 - u * x * r
        h, u, x = h_new, u_new, x_new
    np.testing.assert_allclose(ds.h.values[-1], h, atol=1e-12)
    np.testing.assert_allclose(ds.u.values[-1], u, atol=1e-12)
    np.testing.assert_allclose(ds.x.values[-1], x, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(U=0.0), r"U \(baseline utilisation\) must be in \(0, 1\]"),
    (dict(U=1.5), r"must be in \(0, 1\]"),
    (dict(tau_f=0.0), "tau_f must be > 0"),
    (dict(tau_d=-1.0), "tau_d must be > 0"),
    (dict(tau_d=np.nan), "tau_d contains"),
    (dict(efficacy="weird"), "efficacy"),
    (dict(rate_scale=0.0), "rate_scale"),
])
def test_stp_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ctrnn.STP(**kwargs)


def test_stp_shape_and_initial_value_errors():
    with pytest.raises(ValueError, match=r"STP U must be a scalar or have shape \(3,\)"):
        ctrnn.RateNetwork(np.eye(3), stp=ctrnn.STP(U=[0.2, 0.3]))
    net = ctrnn.RateNetwork(np.eye(3) * 0.1, stp=ctrnn.STP())
    with pytest.raises(ValueError, match=r"u0 must lie in \[0, 1\]"):
        ctrnn.simulate(net, steps=5, dt=0.01, u0=[0.5, 2.0, 0.5])
    with pytest.raises(ValueError, match=r"x0 must have shape"):
        ctrnn.simulate(net, steps=5, dt=0.01, x0=[0.5, 0.5])
    with pytest.raises(ValueError, match="no stp"):
        ctrnn.simulate(net.replace(stp=None), steps=5, dt=0.01, u0=[0.5] * 3)
    with pytest.raises(TypeError, match="ctrnn.STP"):
        ctrnn.RateNetwork(np.eye(3), stp={"U": 0.2})
