"""Echo state networks and the benchmark tasks, against closed forms, NumPy references
and published ranges."""
import warnings

import numpy as np
import pytest
import scipy.sparse

import ctrnn
from ctrnn import esn as esn_mod
from ctrnn import tasks
from ctrnn.esn import EchoStateNetwork, memory_capacity


def _numpy_states(W, U, b, leak, u, phi=np.tanh):
    x = np.zeros(W.shape[0])
    out = []
    for ut in u:
        x = (1 - leak) * x + leak * phi(W @ x + U @ ut + b)
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("bias, inputs", [(True, True), (False, False), (False, True)])
def test_states_and_ridge_readout_against_numpy(bias, inputs):
    u, y = tasks.narma10(800, seed=1)
    e = EchoStateNetwork(60, spectral_radius=0.9, leak=0.4, input_scaling=0.5,
                         bias_scaling=0.1, readout_bias=bias, readout_input=inputs, seed=2)
    e.fit(u, y, washout=50, ridge=1e-4)
    X = _numpy_states(e.W, e.net.U, e.net.b, 0.4, u)
    np.testing.assert_allclose(e.states(u, reset=True).values, X, atol=1e-12)
    F = np.concatenate([np.ones((750, 1))] * bias + [X[50:]] + [u[50:]] * inputs, axis=1)
    A = F.T @ F + 1e-4 * np.eye(F.shape[1])
    W_ref = np.linalg.solve(A, F.T @ y[50:])
    # the normal equations are ill-conditioned (cond ~1e8 here): rounding differences in
    # F^T F (BLAS syrk against matmul) move the coefficients by ~cond * eps, not the fit
    assert np.linalg.cond(A) < 1e10
    np.testing.assert_allclose(e.W_out, W_ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(F @ e.W_out, F @ W_ref, rtol=0, atol=1e-10)
    # all 800 steps, the washout included (states off the fitted range: looser)
    np.testing.assert_allclose(e.predict(u, reset=True).values, F_all(e, X, u) @ W_ref,
                               rtol=0, atol=1e-9)


def F_all(e, X, u):
    return np.concatenate([np.ones((len(u), 1))] * e.readout_bias + [X] +
                          [u] * e.readout_input, axis=1)


def test_fit_accumulates_blocks_and_sequences(monkeypatch):
    u, y = tasks.narma10(1000, seed=3)
    a = EchoStateNetwork(40, leak=0.7, seed=4).fit(u, y, washout=20, ridge=1e-6)
    monkeypatch.setattr(esn_mod, "_BLOCK", 37)  # many blocks: same sums
    b = EchoStateNetwork(40, leak=0.7, seed=4).fit(u, y, washout=20, ridge=1e-6)
    np.testing.assert_allclose(a.W_out, b.W_out, rtol=1e-6)  # sums in another order
    # two sequences = the normal equations of both, each with its own washout
    c = EchoStateNetwork(40, leak=0.7, seed=4).fit([u[:500], u[500:]], [y[:500], y[500:]],
                                                   washout=20, ridge=1e-6)
    X1 = c.states(u[:500], reset=True).values[20:]
    X2 = c.states(u[500:], reset=True).values[20:]
    F = np.concatenate([np.ones((960, 1)), np.concatenate([X1, X2])], axis=1)
    Y = np.concatenate([y[20:500], y[520:]])
    A = F.T @ F + 1e-6 * np.eye(41)
    ref = np.linalg.solve(A, F.T @ Y)
    # two backward-stable solves of these normal equations (condition ~5e8) agree to
    # about cond * eps of the solution's size, whichever the summation order
    tol = 10 * np.linalg.cond(A) * np.finfo(float).eps * np.abs(ref).max()
    np.testing.assert_allclose(c.W_out, ref, rtol=0, atol=tol)


def test_memory_capacity_of_linear_orthogonal_reservoir_is_close_to_n():
    N = 50
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((N, N)))[0] * 0.95
    e = EchoStateNetwork(W=Q, phi="linear", n_inputs=1, seed=1)
    mc = memory_capacity(e, 2 * N, n_train=20_000, n_test=5000, seed=2)
    assert 0.8 * N <= mc.attrs["total"] <= N + 0.5
    assert mc.sel(delay=0) > 0.99 and mc.dims == ("delay",)
    # no reservoir exceeds N; a nonlinear one stays well below
    t = EchoStateNetwork(N, spectral_radius=0.9, n_inputs=1, input_scaling=0.5, seed=3)
    assert memory_capacity(t, 2 * N, seed=4).attrs["total"] <= N + 0.5


def test_echo_state_property_report():
    e = EchoStateNetwork(100, spectral_radius=0.5, n_inputs=1, seed=5)
    rep = e.echo_state_property(seed=6)
    W = e.W.toarray()  # density 0.1: the random W is sparse
    assert rep["spectral_radius"] == pytest.approx(np.abs(np.linalg.eigvals(W)).max())
    assert rep["sigma_max"] == pytest.approx(np.linalg.svd(W, compute_uv=False)[0])
    assert rep["rule_of_thumb"] and rep["converged"]
    assert rep["final_distance"] < 1e-8 < rep["initial_distance"]
    big = EchoStateNetwork(100, spectral_radius=3.0, n_inputs=1, input_scaling=0.01, seed=5)
    rb = big.echo_state_property(seed=6)
    assert not rb["rule_of_thumb"] and not rb["sufficient_condition"] and not rb["converged"]


def test_narma10_with_200_units_reaches_published_range():
    # documented bound: test NRMSE < 0.3 (Rodan & Tino 2011 report NMSE ~0.05-0.1 for
    # N = 200, i.e. NRMSE ~0.22-0.32); measured here ~0.22
    u, y = tasks.narma10(6000, seed=0)
    e = EchoStateNetwork(200, spectral_radius=0.9, leak=1.0, input_scaling=0.1,
                         density=0.1, readout_input=True, seed=3)
    e.fit(u[:3999], y[1:4000], washout=200, ridge=1e-8)  # y[t] from the state after u[t-1]
    p = e.predict(u[3999:-1])
    assert tasks.nrmse(y[4000:], p.values) < 0.3


def test_mackey_glass_one_step_prediction():
    mg = tasks.mackey_glass(5000, seed=0)
    e = EchoStateNetwork(200, spectral_radius=0.9, leak=0.5, input_scaling=0.5,
                         bias_scaling=0.2, seed=4)
    e.fit(mg[:2999], mg[1:3000], washout=200, ridge=1e-8)
    p = e.predict(mg[2999:-1])  # continues from the end of training
    assert tasks.nrmse(mg[3000:], p.values) < 0.01


def test_closed_loop_generation_stays_on_the_sine_cycle():
    s = tasks.oscillators(3000, frequencies=(0.2,))  # period 31.4 steps
    e = EchoStateNetwork(200, spectral_radius=0.9, leak=0.5, input_scaling=0.5, seed=5)
    e.fit(s[:1999], s[1:2000], washout=100, ridge=1e-8)
    with warnings.catch_warnings():
        # the closed loop runs through the engine, not simulate(): no warning phrased
        # for simulate's dt and method, which generate() does not take
        warnings.simplefilter("error")
        g = e.generate(1000, warmup=s[1700:2000], reset=True)  # ~32 periods, no teacher
    assert g.dims == ("time", "output")
    assert tasks.nrmse(s[2000:3000], g.values) < 1e-3
    assert abs(g.values[-300:].max() - 1) < 1e-3 and abs(g.values[-300:].min() + 1) < 1e-3


def test_save_and_load_round_trip(tmp_path):
    u, y = tasks.narma10(600, seed=7)
    for density in (0.1, 0.5):  # a sparse (CSR kernel) and a dense reservoir
        e = EchoStateNetwork(30, leak=0.8, density=density, readout_input=True,
                             seed=8).fit(u, y, washout=10)
        e.save(tmp_path / "esn.nc")
        back = EchoStateNetwork.load(tmp_path / "esn.nc")
        assert scipy.sparse.issparse(back.W) == (density <= 0.1)
        if density <= 0.1:  # stored as synapse triplets, not an N x N array
            assert "W" not in e.to_dataset() and \
                e.to_dataset().sizes["synapse"] == e.W.nnz
        np.testing.assert_array_equal(back.W_out, e.W_out)
        np.testing.assert_array_equal(back.predict(u, reset=True).values,
                                      e.predict(u, reset=True).values)


def test_sparse_and_dense_reservoirs_agree_with_numpy():
    u = np.random.default_rng(0).uniform(-1, 1, (400, 2))
    for density in (0.05, 0.5):  # the CSR kernel, the dense kernel
        e = EchoStateNetwork(80, density=density, leak=0.6, bias_scaling=0.2, seed=1)
        X = e.states(u).values  # draws U and b for two inputs
        assert e.net.is_sparse == scipy.sparse.issparse(e.W) == (density <= 0.1)
        ref = _numpy_states(e.W_dense, e.net.U, e.net.b, 0.6, u)
        np.testing.assert_allclose(X, ref, rtol=0, atol=1e-13)
    # a dense array with few nonzeros runs on the CSR kernel too: the same numbers
    sp = EchoStateNetwork(80, density=0.05, leak=0.6, seed=1)
    X = sp.states(u).values
    d = EchoStateNetwork(W=sp.W_dense, U=sp.net.U, b=sp.net.b, leak=0.6)
    assert d.net.is_sparse and not scipy.sparse.issparse(d.W)
    np.testing.assert_array_equal(d.states(u).values, X)


def test_esn_errors():
    blow = EchoStateNetwork(W=[[2.0]], U=[[1.0]], phi="linear")
    with pytest.raises(FloatingPointError, match="finite range at step"):
        blow.states(np.ones((2000, 1)))
    e = EchoStateNetwork(20, density=1.0, seed=0)
    with pytest.raises(RuntimeError, match="fit"):
        e.predict(np.zeros((5, 1)))
    e.fit(np.zeros((50, 2)), np.zeros((50, 1)))
    with pytest.raises(ValueError, match="2"):
        e.predict(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n_outputs == n_inputs"):
        e.generate(5, warmup=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="leak"):
        EchoStateNetwork(20, leak=1.5)  # checked before W is drawn
    with pytest.raises(ValueError, match="washout"):
        EchoStateNetwork(20, density=1.0, seed=0).fit(np.zeros((5, 1)), np.zeros((5, 1)),
                                                      washout=5)
    with pytest.raises(ValueError, match="readout_input=False"):
        r = EchoStateNetwork(20, density=1.0, readout_input=True, seed=0).fit(
            np.zeros((9, 1)), np.zeros((9, 1)))
        r.generate(3, warmup=np.zeros((2, 1)))


def test_tasks_definitions():
    u, y = tasks.narma10(2000, seed=1)
    t = np.arange(10, 1999)
    rhs = 0.3 * y[t, 0] + 0.05 * y[t, 0] * np.array([y[k - 9:k + 1, 0].sum() for k in t]) \
        + 1.5 * u[t - 9, 0] * u[t, 0] + 0.1
    np.testing.assert_allclose(y[t + 1, 0], rhs)
    np.testing.assert_array_equal(tasks.narma10(50, seed=1)[0], u[:50])
    # Mackey-Glass: the attractor's range, and convergence in dt of the delay integration
    a = tasks.mackey_glass(3000, seed=0)
    assert 0.2 < a.min() and a.max() < 1.5
    kw = dict(transient=0.0, perturbation=0.0)  # the same constant history for every dt
    ref = tasks.mackey_glass(100, dt=0.0125, **kw)
    errs = [np.abs(tasks.mackey_glass(100, dt=dt, **kw) - ref).max() for dt in (0.1, 0.05)]
    assert 3.0 < errs[0] / errs[1] < 5.0  # Heun: second order in dt
    assert errs[1] < 2e-5
    o = tasks.oscillators(100, frequencies=(0.2, 0.311))
    np.testing.assert_allclose(o[:, 0], np.sin(0.2 * np.arange(100)) + np.sin(0.311 * np.arange(100)))
    with pytest.raises(ValueError, match="multiples of dt"):
        tasks.mackey_glass(10, tau=17.05)
