"""Sparse connectivity (builder and kernel) and Dale's law."""
import numpy as np
import pytest
import xarray as xr

import ctrnn
from ctrnn import analysis, connectivity


def test_sparse_builder_statistics_and_spectrum():
    n, p, g = 2000, 0.05, 1.5
    W = connectivity.sparse(n, p, g, seed=1)
    assert abs(W.nnz / n**2 / p - 1) < 0.01
    dense = W.toarray()
    assert abs(dense.var() * n / g**2 - 1) < 0.02  # variance g^2 / n, as for gaussian
    a = np.abs(np.linalg.eigvals(dense)) / g
    assert abs(np.quantile(a, 0.99) - 1) < 0.03  # circular law
    np.testing.assert_array_equal(W.toarray(), connectivity.sparse(n, p, g, seed=1).toarray())


def test_sparse_with_no_connections_drawn_is_an_empty_matrix_that_runs():
    # nnz ~ Binomial(n^2, p) can be 0 (a small n and p): an all-zero CSR matrix, not a crash
    for n, p, seed in ((1, 0.1, 0), (5, 0.01, 0)):
        W = connectivity.sparse(n, p, seed=seed)
        assert W.shape == (n, n) and W.nnz == 0
        ds = ctrnn.simulate(ctrnn.RateNetwork(W, b=0.5, tau=1.0), steps=20, dt=0.1,
                            method="euler")
        # dh/dt = -h + tanh(0.5) from h = 0: Euler's h_k = tanh(0.5) (1 - 0.9^k)
        np.testing.assert_allclose(ds.h.values[:, 0], np.tanh(0.5) * (1 - 0.9 ** np.arange(21)),
                                   rtol=1e-12)


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_sparse_kernel_equals_dense_kernel(method):
    W = connectivity.sparse(300, 0.05, 1.5, seed=2)
    U = np.random.default_rng(0).normal(size=(300, 1))
    x = np.sin(np.arange(200) * 0.1)[:, None]
    kw = dict(steps=200, dt=0.05, h0="random", seed=3, method=method, inputs=x)
    # fixed steps: equal to round-off; dopri5: the two products round differently, so
    # the step sequences differ and the runs agree to the tolerance's scale
    atol = 1e-12
    if method == "dopri5":
        kw.update(rtol=1e-10, atol=1e-12)
        atol = 1e-7
    for trials in (None, 3):
        a = ctrnn.simulate(ctrnn.RateNetwork(W, U=U), trials=trials, **kw)
        b = ctrnn.simulate(ctrnn.RateNetwork(W.toarray(), U=U), trials=trials, **kw)
        np.testing.assert_allclose(a.h.values, b.h.values, atol=atol)


def test_sparse_with_stp_and_params_round_trip(tmp_path):
    W = abs(connectivity.sparse(100, 0.1, 1.0, seed=4))
    net = ctrnn.RateNetwork(W, phi="relu", b=0.5, tau=0.1, stp=ctrnn.STP())
    a = ctrnn.simulate(net, steps=100, dt=0.01, include_params=True)
    b = ctrnn.simulate(net.replace(W=W.toarray()), steps=100, dt=0.01)
    for v in ("h", "u", "x"):
        np.testing.assert_allclose(a[v].values, b[v].values, atol=1e-12)
    coo = W.tocoo()
    np.testing.assert_array_equal(a.W_value.values, coo.data)
    a.to_netcdf(tmp_path / "sparse.nc")
    back = xr.load_dataset(tmp_path / "sparse.nc")
    rebuilt = np.zeros((100, 100))
    rebuilt[back.W_post.values, back.W_pre.values] = back.W_value.values
    np.testing.assert_array_equal(rebuilt, W.toarray())


def test_sparse_network_is_read_only_and_validated():
    W = connectivity.sparse(50, 0.2, 1.0, seed=5)
    net = ctrnn.RateNetwork(W)
    with pytest.raises(ValueError, match="read-only"):
        net.W.data[0] = 1.0
    W.data[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ctrnn.RateNetwork(W)
    with pytest.raises(ValueError, match="p \\(connection probability\\)"):
        connectivity.sparse(10, 0.0)


def test_large_sparse_network_fits_and_runs():
    # N = 100,000 at p = 0.001: 1e7 synapses (~120 MB); a dense W would need 80 GB
    W = connectivity.sparse(100_000, 0.001, 1.5, seed=6)
    net = ctrnn.RateNetwork(W, tau=1.0)
    ds = ctrnn.simulate(net, steps=3, dt=0.1, h0="random", seed=7, method="euler",
                        save_every=3)
    assert ds.h.shape == (2, 100_000) and np.isfinite(ds.h.values).all()
    h0 = ds.h.values[0]
    np.testing.assert_allclose(ds.h.values[1][:5],  # 3 Euler steps by hand, first neurons
                               _euler3(W, h0)[:5], atol=1e-12)


def _euler3(W, h):
    for _ in range(3):
        h = h + 0.1 * (-h + np.tanh(W @ h))
    return h


def test_dale_builder_signs_balance_and_spectrum():
    n_e, n_i = 800, 200
    W, labels = connectivity.dale(n_e, n_i, mu_e=1.0, sigma_e=0.5, sigma_i=1.0,
                                  balance=True, seed=8)
    assert (W[:, :n_e] >= 0).all() and (W[:, n_e:] <= 0).all()
    np.testing.assert_allclose(W.sum(axis=1), 0, atol=1e-12)
    assert labels.tolist().count("E") == n_e
    # balanced: the means push no eigenvalue out of the bulk (Rajan & Abbott 2006)
    r = analysis.bulk_radius(W)
    a = np.abs(np.linalg.eigvals(W)) / r
    assert abs(np.quantile(a, 0.99) - 1) < 0.05 and a.max() < 1.15
    # without balance the mean structure gives an outlier
    Wu, _ = connectivity.dale(n_e, n_i, mu_e=1.0, mu_i=1.0, sigma_e=0.5, seed=8)
    mean_outlier = (n_e * 1.0 - n_i * 1.0) / np.sqrt(n_e + n_i)  # row sum of the means
    assert analysis.spectral_radius(Wu) == pytest.approx(mean_outlier, rel=0.05)


def test_rate_network_checks_dale_and_names_columns():
    W, labels = connectivity.dale(8, 2, seed=9)
    net = ctrnn.RateNetwork(W, dale=labels)
    np.testing.assert_array_equal(net.dale, [1] * 8 + [-1] * 2)
    ds = ctrnn.simulate(net, steps=5, dt=0.1)
    assert ds.population.values.tolist() == labels.tolist()
    bad = W.copy()
    bad[3, 2] = -0.1
    bad[0, 9] = 0.2
    with pytest.raises(ValueError, match=r"2 column\(s\) \(presynaptic neurons 2, 9\)"):
        ctrnn.RateNetwork(bad, dale=labels)
    fixed = connectivity.enforce_dale(bad, labels)
    ctrnn.RateNetwork(fixed, dale=labels)
    enforced = ctrnn.RateNetwork(bad, dale=labels, enforce_dale=True)
    np.testing.assert_array_equal(enforced.W, fixed)
    np.testing.assert_array_equal(fixed, np.abs(bad) * np.r_[np.ones(8), -np.ones(2)])
    sp = ctrnn.RateNetwork(connectivity.sparse(20, 0.5, seed=0), dale=np.ones(20),
                           enforce_dale=True)
    assert (sp.W.data >= 0).all()
    # an enforced sparse W simulates as its dense twin (its row pointers of any width
    # reach the kernels intact: N + 1 odd and even)
    for n in (49, 50):
        labels = np.where(np.arange(n) % 5 == 0, "I", "E")
        sp = ctrnn.RateNetwork(connectivity.sparse(n, 0.2, 1.5, seed=1), dale=labels,
                               enforce_dale=True)
        dense = ctrnn.RateNetwork(sp.W.toarray(), dale=labels)
        kw = dict(steps=50, dt=0.1, h0="random", seed=2, method="euler")
        np.testing.assert_allclose(ctrnn.simulate(sp, **kw).h.values,
                                   ctrnn.simulate(dense, **kw).h.values, atol=1e-12)
    with pytest.raises(ValueError, match="needs dale="):
        ctrnn.RateNetwork(bad, enforce_dale=True)
    with pytest.raises(ValueError, match="breaks Dale"):
        ctrnn.RateNetwork(connectivity.sparse(20, 0.5, seed=0), dale=np.ones(20))
    with pytest.raises(ValueError, match="'E' or 'I'"):
        ctrnn.RateNetwork(W, dale=["E"] * 9 + ["X"])
