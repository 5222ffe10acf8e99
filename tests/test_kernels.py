"""The building blocks: nonlinearities against NumPy, the noise generator's statistics,
Butcher tableaux against their defining identities."""
import numba
import numpy as np
import pytest
from scipy import stats

import ctrnn
from ctrnn._kernels import rng as krng
from ctrnn.integrators import DOPRI5, EULER, HEUN, METHODS, RK4, ButcherTableau, get_method

from . import naive


def test_fast_tanh_within_three_ulp_of_numpy():
    # the measured maximum documented in ctrnn.nonlinearities (the bound is 4 ulp,
    # tests/test_phi.py); 2 before the one-division form of issue 12's seventh session
    x = np.concatenate([np.linspace(-30, 30, 400_001), np.geomspace(1e-300, 50, 20_001),
                        -np.geomspace(1e-300, 50, 2_001)])
    got = ctrnn.get_phi("tanh")(x)
    ref = np.tanh(x)
    ulp = np.abs(got - ref) / np.spacing(np.abs(ref))
    assert ulp.max() <= 3.0
    special = ctrnn.get_phi("tanh")([np.inf, -np.inf, np.nan, 0.0, 1e308])
    np.testing.assert_array_equal(special[[0, 1, 3, 4]], [1.0, -1.0, 0.0, 1.0])
    assert np.isnan(special[2])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softplus", "linear"])
def test_builtin_phi_against_numpy(name):
    x = np.concatenate([np.linspace(-50, 50, 10_001), [0.0, -1e-300, 1e-300]])
    np.testing.assert_allclose(ctrnn.get_phi(name)(x), naive.PHI[name](x), rtol=1e-15,
                               atol=1e-300)


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "softplus", "linear"])
def test_phi_derivative_against_finite_differences(name):
    phi = ctrnn.get_phi(name)
    x = np.linspace(-4, 4, 801)
    x = x[np.abs(x) > 1e-3]  # relu's kink
    fd = (naive.PHI[name](x + 1e-6) - naive.PHI[name](x - 1e-6)) / 2e-6
    np.testing.assert_allclose(phi.derivative(x), fd, atol=1e-8)
    assert np.all(np.abs(phi.derivative(np.linspace(-20, 20, 4001))) <= phi.max_slope + 1e-15)


def test_phi_propagates_nan():
    for name in ("tanh", "relu", "sigmoid", "softplus", "linear"):
        assert np.isnan(ctrnn.get_phi(name)([np.nan])[0]), name


def test_noise_is_standard_normal_and_independent():
    z = np.concatenate([krng.normals(np.uint64(k), s, 1001) for k in (1, 2) for s in range(100)])
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.02
    # consecutive neurons, consecutive steps and different keys are uncorrelated
    a = krng.normals(np.uint64(9), 0, 100_000)
    b = krng.normals(np.uint64(9), 1, 100_000)
    c = krng.normals(np.uint64(10), 0, 100_000)
    for u, v in ((a[:-1], a[1:]), (a, b), (a, c)):
        assert abs(np.corrcoef(u, v)[0, 1]) < 0.015
    # a pure function of (key, step, neuron)
    np.testing.assert_array_equal(krng.normals(np.uint64(9), 0, 10), a[:10])


def test_tableau_identities_and_stability_functions():
    for tab in (EULER, HEUN, RK4, DOPRI5):
        np.testing.assert_allclose(tab.A.sum(1), tab.c, atol=1e-15)
        assert abs(tab.b.sum() - 1) < 1e-15
    assert abs(DOPRI5.e.sum()) < 1e-15
    z = np.array([-0.5, -1.0 + 0.5j, -2.5])
    np.testing.assert_allclose(EULER.stability(z), 1 + z)
    np.testing.assert_allclose(RK4.stability(z), 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24)
    assert abs(EULER.stability_limit - 2.0) < 1e-9
    assert abs(HEUN.stability_limit - 2.0) < 1e-9
    assert abs(RK4.stability_limit - 2.785293563) < 1e-6  # Hairer & Wanner II, IV.2
    # order conditions of the 5th-order solution, b^T c^k = 1/(k+1)
    for k in range(5):
        assert abs(DOPRI5.b @ DOPRI5.c**k - 1 / (k + 1)) < 1e-14
    # the embedded 4th-order solution b - e also satisfies them to k = 3
    for k in range(4):
        assert abs((DOPRI5.b - DOPRI5.e) @ DOPRI5.c**k - 1 / (k + 1)) < 1e-14
    # dense output: at theta = 1 it reproduces the step's solution (sum of P rows = b)
    np.testing.assert_allclose(DOPRI5.P.sum(1), DOPRI5.b, atol=1e-14)


def test_tableau_rejects_inconsistent_coefficients():
    with pytest.raises(ValueError, match="rows of A"):
        ButcherTableau("bad", A=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 0.5], order=2)
    with pytest.raises(ValueError, match="sum to 1"):
        ButcherTableau("bad", A=[[0, 0], [1, 0]], b=[0.5, 0.6], c=[0, 1], order=2)
    with pytest.raises(ValueError, match="lower triangular"):
        ButcherTableau("bad", A=[[0, 1], [1, 0]], b=[0.5, 0.5], c=[1, 1], order=2)


def test_method_registry_names_and_aliases():
    assert get_method("RK45") is METHODS["dopri5"]
    assert get_method("rk2").name == "heun"
    with pytest.raises(ValueError, match="Did you mean 'rk4'"):
        get_method("rk_4")


def test_user_numba_phi_is_used():
    @numba.njit
    def cube_sat(z):
        return z / (1.0 + abs(z))

    W = ctrnn.connectivity.gaussian(20, 1.0, seed=1)
    net = ctrnn.RateNetwork(W, tau=1.0, phi=cube_sat)
    ds = ctrnn.simulate(net, steps=30, dt=0.1, h0="random", seed=0, method="euler")
    h0 = ds.h.values[0]
    h = h0.copy()
    for _ in range(30):
        z = W @ h
        h = h + 0.1 * (-h + z / (1 + np.abs(z)))
    np.testing.assert_allclose(ds.h.values[-1], h, atol=1e-13)
    assert net.phi.name == "cube_sat"
