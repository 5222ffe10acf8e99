"""FORCE learning (issue 16, in part): the kernel against FORCE written out in NumPy, RLS
against the batch least-squares solution, and the classic periodic target."""
import numpy as np
import pytest
import xarray as xr

import ctrnn

from .naive import force_loop, pinning_loop


def _net(N=30, g=1.5, seed=0):
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=g, seed=seed), tau=1.0)


# eig_every=7 splits the run into calls of 7 steps: the RLS updates still waiting to be
# folded into P (``_kernels.force.rls``) are folded at every call's end (7 or 6 pending)
@pytest.mark.parametrize("every, lam, eig_every", [(1, 1.0, None), (2, 1.0, None),
                                                   (3, 0.99, None), (1, 0.98, 7)])
def test_force_equals_force_written_out(every, lam, eig_every):
    net = _net()
    rng = np.random.default_rng(1)
    uf = rng.uniform(-1, 1, size=(30, 2))
    h0 = 0.5 * rng.normal(size=30)
    T = 300
    t = np.arange(1, T + 1) * 0.1
    f = np.stack([np.sin(t), np.cos(0.5 * t)], axis=1)
    res = ctrnn.train.force(net, f, dt=0.1, feedback=uf, h0=h0, alpha=2.0, every=every,
                            forgetting=lam, eig_every=eig_every, progress=False)
    z, e, w = force_loop(h0, np.array(net.W), uf, f, 0.1, 1.0, 2.0, every, lam)
    np.testing.assert_allclose(res.record.z.values, z, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(res.record.error.values, e, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(res.readout.C, w, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(res.record.w_norm[-1], np.linalg.norm(w), rtol=1e-9)
    # the trained network is the closed loop W + uf w^T
    np.testing.assert_allclose(res.network.W, np.array(net.W) + uf @ w, rtol=1e-9,
                               atol=1e-13)


def test_rls_equals_batch_least_squares_after_every_update():
    """No feedback: the network runs on its own, and after each update the RLS readout is
    the ridge solution min sum (w h_s - f_s)^2 + alpha |w|^2 over the samples so far."""
    net = _net(N=20, g=1.2)
    h0 = np.random.default_rng(0).normal(size=20)
    T, alpha = 40, 3.0
    f = np.sin(0.3 * np.arange(1, T + 1))[:, None]
    states = ctrnn.simulate(net, steps=T, dt=0.1, h0=h0, method="euler").h.values[1:]
    for n in range(1, T + 1):
        res = ctrnn.train.force(net, f[:n], dt=0.1, feedback=0.0, h0=h0, alpha=alpha,
                                every=1, progress=False)
        H = states[:n]
        w = np.linalg.solve(H.T @ H + alpha * np.eye(20), H.T @ f[:n, 0])
        np.testing.assert_allclose(res.readout.C[0], w, rtol=1e-8, atol=1e-10)


def test_force_learns_a_periodic_target_and_the_loop_holds_it():
    N = 300
    W = ctrnn.connectivity.sparse(N, 0.1, 1.5, seed=0)
    t = np.arange(1, 6001) * 0.1
    f = np.sin(2 * np.pi * t / 30) + 0.5 * np.sin(4 * np.pi * t / 30)
    target = xr.DataArray(f, dims="time", coords={"time": t})
    res = ctrnn.train.force(ctrnn.RateNetwork(W), target, dt=0.1, seed=0, eig_every=2000,
                            progress=False)
    assert float(np.abs(res.record.error[-1000:]).mean()) < 0.02
    # learning off: the trained closed loop, simulated from where training stopped
    ds = ctrnn.simulate(res.network, steps=600, dt=0.1, h0=res.h, method="euler")
    y = res.readout(ds.h.values[1:])[:, 0]
    tt = t[-1] + np.arange(1, 601) * 0.1
    ft = np.sin(2 * np.pi * tt / 30) + 0.5 * np.sin(4 * np.pi * tt / 30)
    assert np.abs(y - ft).mean() < 0.05
    assert res.record.sizes["check"] == 3
    ev = res.record.eigenvalue_real.values + 1j * res.record.eigenvalue_imag.values
    assert np.all(np.diff(np.abs(ev), axis=1) <= 1e-12)  # by decreasing modulus
    W_eff = np.array(res.network.W)
    top = np.linalg.eigvals(W_eff)
    assert np.isclose(np.abs(top).max(), np.abs(ev[-1]).max(), rtol=1e-8)


def test_lms_inputs_and_readout_units_equal_force_written_out():
    rng = np.random.default_rng(2)
    N = 25
    tau = rng.uniform(0.5, 2.0, N)
    U = rng.normal(size=(N, 2))
    b = 0.1 * rng.normal(size=N)
    W = ctrnn.connectivity.sparse(N, 0.3, 1.4, seed=1)
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=tau)
    uf = rng.uniform(-1, 1, (N, 1))
    h0 = rng.normal(size=N) * 0.3
    x = rng.normal(size=(200, 2))
    f = np.sin(0.1 * np.arange(1, 201))[:, None]
    S = np.array([1, 4, 7, 10, 20])
    for rule, kw, lms in (("rls", {}, None), ("lms", {"lr": 1e-2}, 1e-2)):
        res = ctrnn.train.force(net, f, dt=0.1, feedback=uf, h0=h0, inputs=x, rule=rule,
                                readout_units=S, every=2, progress=False, **kw)
        z, e, w = force_loop(h0, W.toarray(), uf, f, 0.1, tau, 1.0, 2, S=S, U=U, x=x, b=b,
                             lms=lms)
        np.testing.assert_allclose(res.record.z.values, z, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.readout.C[:, S], w, rtol=1e-9, atol=1e-12)
        assert np.all(np.delete(res.readout.C, S, axis=1) == 0)


def test_lms_and_errors():
    net = _net(N=20)
    f = np.sin(0.1 * np.arange(1, 201))
    with pytest.raises(TypeError, match="lr"):
        ctrnn.train.force(net, f, dt=0.1, rule="lms", progress=False)
    with pytest.raises(ValueError, match="rule"):
        ctrnn.train.force(net, f, dt=0.1, rule="newton", progress=False)
    with pytest.raises(ValueError, match="forgetting"):
        ctrnn.train.force(net, f, dt=0.1, forgetting=1.5, progress=False)
    with pytest.raises(ValueError, match="feedback"):
        ctrnn.train.force(net, f, dt=0.1, feedback=np.ones((3, 1)), progress=False)
    with pytest.raises(ValueError, match="step by dt=0.1; it steps by 0.2"):
        ctrnn.train.force(net, xr.DataArray(f, dims="time",
                                            coords={"time": np.arange(200) * 0.2}),
                          dt=0.1, progress=False)
    gap = np.r_[np.arange(100), np.arange(101, 201)] * 0.1  # one missing sample
    with pytest.raises(ValueError, match=r"by 0.2 from t=9.9 to 10.1 \(1 such"):
        ctrnn.train.force(net, xr.DataArray(f, dims="time", coords={"time": gap}), dt=0.1,
                          progress=False)
    with pytest.raises(ValueError, match="lr=0.1 is LMS"):
        ctrnn.train.force(net, f, dt=0.1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="forgetting=0.9 is RLS"):
        ctrnn.train.force(net, f, dt=0.1, rule="lms", lr=1e-3, forgetting=0.9,
                          progress=False)
    with pytest.raises(ValueError, match="eig_every"):
        ctrnn.train.force(net, f, dt=0.1, eig_every=0, progress=False)
    with pytest.raises(ValueError, match="no input weights"):
        ctrnn.train.force(net, f, dt=0.1, inputs=np.ones((200, 1)), progress=False)
    with pytest.raises(ValueError, match=r"\(T,\) or \(T, n_outputs\)"):
        ctrnn.train.force(net, np.ones((200, 2, 2)), dt=0.1, progress=False)
    with pytest.warns(UserWarning, match="never updated"):
        res = ctrnn.train.force(net, f, dt=0.1, every=500, progress=False)
    assert float(res.record.w_norm[-1]) == 0.0
    with pytest.warns(UserWarning, match="transposed"):
        ctrnn.train.force(net, np.stack([f, f]), dt=0.1, progress=False)
    # the rule's name in any case; the record keeps the target's own time coordinate
    t5 = 5.0 + np.arange(200) * 0.1
    res = ctrnn.train.force(net, xr.DataArray(f, dims="time", coords={"time": t5}),
                            dt=0.1, rule="RLS", eig_every=50, progress=False)
    np.testing.assert_allclose(res.record.time, t5)
    np.testing.assert_allclose(res.record.check_time, t5[[49, 99, 149, 199]])
    assert res.record.attrs["rule"] == "rls"
    assert "Force(network: 20 neurons" in repr(res) and len(repr(res)) < 300
    with pytest.raises(ValueError, match="adaptive"):
        ctrnn.train.force(net, f, dt=0.1, method="dopri5", progress=False)
    with pytest.raises(ValueError, match="euler"):
        ctrnn.train.force(net, f, dt=0.1, method="rk4", progress=False)
    with pytest.raises(ValueError, match="STP"):
        ctrnn.train.force(net.replace(phi="relu", W=np.abs(np.array(net.W)),
                                      stp=ctrnn.STP(U=0.3)), f, dt=0.1, progress=False)
    with pytest.raises(TypeError, match="RateNetwork"):
        ctrnn.train.force(np.eye(3), f, dt=0.1, progress=False)


def test_internal_force_updates_only_plastic_rows():
    net = _net(N=40)
    t = np.arange(1, 2001) * 0.1
    f = np.sin(2 * np.pi * t / 20)[:, None]
    rng = np.random.default_rng(5)
    uf = rng.uniform(-1, 1, (40, 1))
    h0 = 0.5 * rng.normal(size=40)
    mask = np.zeros(40, bool)
    mask[::2] = True
    res = ctrnn.train.force(net, f, dt=0.1, plastic=mask, feedback=uf, h0=h0,
                            progress=False)
    ufm = np.where(mask[:, None], uf, 0.0)
    z, _, w = force_loop(h0, np.array(net.W), ufm, f, 0.1, 1.0, 1.0, 2)
    np.testing.assert_allclose(res.record.z.values, z, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.network.W, np.array(net.W) + ufm @ w, rtol=1e-9,
                               atol=1e-13)
    assert not np.any(np.array(res.network.W)[~mask] != np.array(net.W)[~mask])
    by_index = ctrnn.train.force(net, f, dt=0.1, plastic=np.nonzero(mask)[0], feedback=uf,
                                 h0=h0, progress=False)
    np.testing.assert_array_equal(by_index.network.W, res.network.W)


def test_a_dale_network_trains_and_returns_without_labels():
    W, labels = ctrnn.connectivity.dale(24, 6, seed=0)
    net = ctrnn.RateNetwork(W, dale=labels)
    res = ctrnn.train.force(net, np.sin(0.1 * np.arange(1, 301)), dt=0.1, progress=False)
    assert res.network.dale is None


# --- fitting recorded activity ----------------------------------------------------------
@pytest.fixture(scope="module")
def recorded():
    """Activity of a known chaotic network (50 units, Euler dt = 0.1 = tau / 10)."""
    N = 50
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=1.5, seed=3), tau=1.0)
    ds = ctrnn.simulate(net, steps=400, dt=0.1, method="euler",
                        h0=0.5 * np.random.default_rng(0).normal(size=N))
    data = ds.h.isel(time=slice(100, None))
    return data.assign_coords(time=data.time - data.time[0])


def test_fit_activity_recovers_a_known_networks_activity(recorded):
    fit = ctrnn.train.fit_activity(recorded, tau=1.0, n_runs=100, progress=False)
    assert float(fit.pvar.total) > 0.99
    # the trained network itself, run by simulate, gives the reported rates
    ds = ctrnn.simulate(fit.network, steps=recorded.sizes["time"] - 1, dt=0.1,
                        method="euler", h0=recorded.values[0])
    np.testing.assert_allclose(ds.h.values, fit.rates.values, rtol=1e-9, atol=1e-12)
    D, H = recorded.values[1:], fit.rates.values[1:]  # scored after the first sample
    pv = 1 - np.sum((H - D) ** 2, axis=0) / np.sum((D - D.mean(axis=0)) ** 2, axis=0)
    np.testing.assert_allclose(fit.pvar.unit, pv, rtol=1e-12)
    half = ctrnn.train.fit_activity(recorded, tau=1.0, n_runs=30, p=0.5, progress=False)
    assert float(half.pvar.total) > 0.9


def test_fit_activity_currents_by_region(recorded):
    regions = np.repeat(["A", "B", "C"], [20, 20, 10])
    fit = ctrnn.train.fit_activity(recorded, tau=1.0, n_runs=2, by_region=regions,
                                   progress=False)
    cur = fit.currents
    assert list(cur.source.values) == ["A", "B", "C"] and cur.dims == ("source", "time",
                                                                        "neuron")
    W = np.array(fit.network.W)
    H = fit.rates.values
    np.testing.assert_allclose(cur.sum("source").values, H @ W.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cur.sel(source="C").values, H[:, 40:] @ W[:, 40:].T,
                               rtol=1e-9, atol=1e-12)
    trials = xr.concat([recorded, recorded], dim="trial")
    two = ctrnn.train.fit_activity(trials, tau=1.0, n_runs=1, by_region=regions,
                                   progress=False)
    assert two.rates.dims == ("time", "neuron", "trial")
    assert two.currents.dims == ("source", "time", "neuron", "trial")
    with pytest.raises(ValueError, match="missing"):
        ctrnn.train.fit_activity(recorded, tau=1.0, by_region=[None] * 50, progress=False)
    assert "pVar total" in repr(fit) and len(repr(fit)) < 300
    with pytest.raises(ValueError, match="by_region"):
        ctrnn.train.fit_activity(recorded, tau=1.0, by_region=["A"], progress=False)
    with pytest.raises(ValueError, match="dims"):
        ctrnn.train.fit_activity(recorded.rename(neuron="unit"), tau=1.0, progress=False)
    with pytest.raises(TypeError, match="DataArray"):
        ctrnn.train.fit_activity(recorded.values, tau=1.0, progress=False)
    with pytest.raises(ValueError, match="p="):
        ctrnn.train.fit_activity(recorded, tau=1.0, p=1.5, progress=False)


def test_fit_activity_equals_pinning_written_out(recorded):
    data = recorded.isel(time=slice(0, 60), neuron=slice(0, 12))
    data = data / 1.2  # inside tanh's range
    fit = ctrnn.train.fit_activity(data, tau=1.0, n_runs=3, p=0.5, seed=4, progress=False)
    rng = ctrnn._seeding.generator(ctrnn._seeding.child(
        ctrnn._seeding.seed_sequence(4)[0], ctrnn._seeding.INIT, 0))
    W0 = 1.5 * rng.normal(size=(12, 12)) / np.sqrt(12)
    S = np.sort(rng.choice(12, size=6, replace=False))
    W = pinning_loop(data.values, W0, S, 1.0, 0.1, 1.0, 3)
    np.testing.assert_allclose(fit.network.W, W, rtol=1e-9, atol=1e-12)


def test_fit_activity_pvar_of_a_constant_unit_and_warnings(recorded):
    data = recorded.isel(neuron=slice(0, 10)).copy()
    data[:, 3] = 0.2
    fit = ctrnn.train.fit_activity(data, tau=1.0, n_runs=1, progress=False)
    assert np.isnan(fit.pvar.unit[3]) and np.isfinite(fit.pvar.total)
    with pytest.warns(RuntimeWarning, match="range"):
        ctrnn.train.fit_activity(data * 3, tau=1.0, n_runs=1, progress=False)
    with pytest.raises(ValueError, match="time coordinate"):
        ctrnn.train.fit_activity(data.drop_vars("time"), tau=1.0, progress=False)


@pytest.mark.parametrize("a", [[0.3, 0.1, 0.7], [0.3, -0.2, 0.5]])
def test_rls_fold_applies_the_pending_updates_to_the_lower_triangle(a):
    """The blocked RLS (``_kernels.force``): pending terms folded into P as
    s (P - sum_i a_i K_i K_i^T) by dsyrk (every a_i > 0) or dsyr2k (any sign), on the
    lower triangle (C order) only, against NumPy."""
    from ctrnn._kernels import force as kf
    rng = np.random.default_rng(0)
    n = 7
    B = rng.normal(size=(n, n))
    P0 = B @ B.T + n * np.eye(n)
    rs = kf.rls_state(P0.copy(), depth=4)
    K = rng.normal(size=(3, n))
    rs.K[:3] = K
    rs.a[:3] = a
    rs.st[:] = [1.7, 3]
    kf.fold(rs)
    ref = 1.7 * (P0 - (K.T * np.array(a)) @ K)
    np.testing.assert_allclose(np.tril(rs.P), np.tril(ref), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(np.triu(rs.P, 1), np.triu(P0, 1))
    np.testing.assert_array_equal(rs.st, [1.0, 0.0])


def test_blocked_rls_equals_sequential_rls_with_folds_anywhere():
    """``_kernels.force.rls`` (pending rank-one terms, folded when 16 wait or whenever
    ``fold`` is called) against RLS written out in NumPy, update by update: the gains,
    c and, at the end, P; with a forgetting factor and folds at random points."""
    from ctrnn._kernels import force as kf
    rng = np.random.default_rng(3)
    n, lam = 40, 0.95
    R = rng.normal(size=(200, n))
    rs = kf.rls_state(np.eye(n) / 0.5)
    P = np.eye(n) / 0.5
    folds = set(rng.choice(200, 25, replace=False).tolist())
    for t, r in enumerate(R):
        c = kf.rls(rs, r, lam)
        k = P @ r
        c_ref = 1.0 / (lam + r @ k)
        P = (P - c_ref * np.outer(k, k)) / lam
        np.testing.assert_allclose(rs.k, k, rtol=1e-10, atol=1e-12)
        assert c == pytest.approx(c_ref, rel=1e-10)
        if t in folds:
            kf.fold(rs)
    kf.fold(rs)
    np.testing.assert_allclose(np.tril(rs.P), np.tril(P), rtol=1e-9, atol=1e-12)
