"""Connectivity builders and spectra against random-matrix theory."""
import numpy as np
import pytest

import ctrnn
from ctrnn import analysis, connectivity


def test_circular_law_radius():
    for g in (0.5, 1.5):
        W = connectivity.gaussian(1500, g, seed=1)
        assert abs(analysis.spectral_radius(W) / g - 1) < 0.04
        assert abs(analysis.bulk_radius(W) / g - 1) < 0.01
        # the disc is filled uniformly: half the eigenvalues within g / sqrt(2)
        ev = analysis.eigenvalues(W).values
        assert abs(np.mean(np.abs(ev) < g / np.sqrt(2)) - 0.5) < 0.03


def test_rank_one_outlier_at_predicted_value():
    N, g = 1000, 0.8
    rng = np.random.default_rng(2)
    m, n = rng.normal(size=N), rng.normal(size=N)
    n = n + 2.5 * m  # overlap n.m/N ~ 2.5, beyond the bulk
    W = connectivity.gaussian(N, g, seed=3) + connectivity.low_rank(m, n)
    predicted = n @ m / N
    out = analysis.outliers(W, radius=g)
    assert out.size == 1
    assert abs(out.values[0] - predicted) < 0.1 and abs(out.values[0].imag) < 1e-9
    # the bulk is untouched
    ev = analysis.eigenvalues(W).values
    assert np.abs(ev[1:]).max() < 1.05 * g


def test_low_rank_and_rank_r_structure():
    rng = np.random.default_rng(0)
    m, n = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    P = connectivity.low_rank(m, n)
    np.testing.assert_allclose(P, sum(np.outer(m[:, r], n[:, r]) for r in range(2)) / 50)
    assert np.linalg.matrix_rank(P) == 2
    with pytest.raises(ValueError, match="same shape"):
        connectivity.low_rank(m, n[:, :1])


def test_scale_spectral_radius():
    W = connectivity.gaussian(200, 1.0, seed=5)
    S = connectivity.scale_spectral_radius(W, 0.9)
    assert abs(np.abs(np.linalg.eigvals(S)).max() - 0.9) < 1e-10
    with pytest.raises(ValueError, match="spectral radius 0"):
        connectivity.scale_spectral_radius(np.triu(np.ones((3, 3)), 1), 1.0)
    sp = connectivity.scale_spectral_radius(connectivity.sparse(150, 0.1, seed=6), 0.7)
    assert sp.format == "csr" and sp.nnz == connectivity.sparse(150, 0.1, seed=6).nnz
    assert abs(np.abs(np.linalg.eigvals(sp.toarray())).max() - 0.7) < 1e-10


def test_rajan_abbott_radius_formula_for_balanced_gaussian_ei():
    # E and I columns with different variances; exact balance: every row sums to zero
    n_e, n_i, s_e, s_i = 800, 200, 1.0, 2.0
    N = n_e + n_i
    rng = np.random.default_rng(7)
    J = rng.normal(size=(N, N)) * np.r_[np.full(n_e, s_e), np.full(n_i, s_i)] / np.sqrt(N)
    J -= J.mean(axis=1, keepdims=True)
    mu_e = 2.0  # means that balance: f mu_e + (1 - f) mu_i = 0
    mu_i = -mu_e * n_e / n_i
    J += np.r_[np.full(n_e, mu_e), np.full(n_i, mu_i)] / np.sqrt(N)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-10)
    r = analysis.bulk_radius(n_e=n_e, n_i=n_i, sigma_e=s_e, sigma_i=s_i)
    a = np.abs(np.linalg.eigvals(J)) / r
    # the edge of a finite matrix fluctuates (max |lambda| 2-6% over r for N = 1000):
    # test the 99th percentile of |lambda|, and the empirical radius estimate
    assert abs(np.quantile(a, 0.99) - 1) < 0.03 and a.max() < 1.1
    assert abs(analysis.bulk_radius(J) / r - 1) < 0.02
    # the means push no eigenvalue out (balance)
    assert analysis.outliers(J, radius=r, margin=1.1).size == 0


def test_spectra_accept_a_network_and_reject_bad_input():
    net = ctrnn.RateNetwork(np.diag([0.5, -2.0]))
    assert analysis.spectral_radius(net) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="square"):
        analysis.eigenvalues(np.ones((2, 3)))
    with pytest.raises(TypeError, match="give W"):
        analysis.bulk_radius()
