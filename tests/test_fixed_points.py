"""Fixed points of networks whose fixed points are known in closed form."""
import numpy as np
import pytest
from scipy.optimize import brentq

import ctrnn
from ctrnn.analysis import fixed_points, jacobian


def test_hopfield_rank_one_fixed_points_and_stability():
    # W = g xi xi^T / N with xi in {-1, 1}^N: h* = a xi with a = tanh(g a), i.e. 0 and +-a
    N, g, tau = 60, 2.0, 0.5
    xi = np.random.default_rng(0).choice([-1.0, 1.0], N)
    net = ctrnn.RateNetwork(g * np.outer(xi, xi) / N, tau=tau)
    a = brentq(lambda a: a - np.tanh(g * a), 0.5, 1.0)
    fp = fixed_points(net, seed=1)
    m = fp.h.values @ xi / N
    np.testing.assert_allclose(np.sort(m), [-a, 0.0, a], atol=1e-9)
    for k in range(3):
        np.testing.assert_allclose(fp.h.values[k], m[k] * xi, atol=1e-9)
    # stability: at 0 the pattern direction grows at (g - 1)/tau; at +-a xi it decays at
    # (-1 + g (1 - a^2))/tau; every other direction decays at -1/tau
    by_m = dict(zip(np.round(m, 6), fp.max_real_eigenvalue.values))
    assert by_m[0.0] == pytest.approx((g - 1) / tau)
    assert by_m[round(a, 6)] == pytest.approx((-1 + g * (1 - a**2)) / tau)
    ev_a = np.sort(fp.eigenvalue_real.values[np.argmax(m)])
    np.testing.assert_allclose(ev_a[:-1], -1 / tau, atol=1e-9)
    assert sorted(fp.stable.values.tolist()) == [0, 1, 1]


def test_quiet_network_has_only_the_origin():
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(40, 0.5, seed=2))
    fp = fixed_points(net, seed=3)
    assert fp.sizes["fixed_point"] == 1
    np.testing.assert_allclose(fp.h.values[0], 0.0, atol=1e-12)
    assert fp.stable.values[0] == 1


def test_fixed_point_with_constant_input_and_bias():
    # W = 0: h* = phi(U x + b) exactly
    U = np.array([[1.0], [-2.0], [0.5]])
    net = ctrnn.RateNetwork(np.zeros((3, 3)), U=U, b=[0.1, 0.2, 0.3], phi="sigmoid")
    fp = fixed_points(net, x=[0.7], n_starts=4, seed=0)
    expected = 1 / (1 + np.exp(-(U[:, 0] * 0.7 + [0.1, 0.2, 0.3])))
    assert fp.sizes["fixed_point"] == 1
    np.testing.assert_allclose(fp.h.values[0], expected, atol=1e-12)


def test_jacobian_against_finite_differences():
    rng = np.random.default_rng(5)
    net = ctrnn.RateNetwork(rng.normal(size=(6, 6)) / 2, U=rng.normal(size=(6, 2)),
                            b=rng.normal(size=6), tau=rng.uniform(0.5, 2, 6), phi="softplus")
    h, x = rng.normal(size=6), rng.normal(size=2)
    J = jacobian(net, h, x)
    eps = 1e-6
    fd = np.array([(net.field(h + eps * e, x) - net.field(h - eps * e, x)) / (2 * eps)
                   for e in np.eye(6)]).T
    np.testing.assert_allclose(J, fd, atol=1e-8)


def test_slow_points_are_reported_when_asked():
    # a line attractor broken slightly: dh/dt small but nonzero along it
    N = 2
    net = ctrnn.RateNetwork(np.array([[1.0, 0.0], [0.0, 0.0]]), b=[1e-3, 0.0], phi="linear")
    fp = fixed_points(net, n_starts=4, seed=0, slow_tol=1e-5)
    assert set(fp.kind.values) == {"slow"} and np.all(fp.speed.values < 1e-5)
