"""Lyapunov exponents against exact linear results, Liouville's trace identity and the
chaos transition."""
import numpy as np
import pytest

import ctrnn
from ctrnn.analysis import largest_lyapunov, lyapunov_spectrum


def test_linear_network_exponents_are_real_parts_of_eigenvalues():
    N, tau = 40, 2.0
    W = ctrnn.connectivity.gaussian(N, 0.8, seed=1)
    net = ctrnn.RateNetwork(W, tau=tau, phi="linear")
    ly = lyapunov_spectrum(net, duration=400.0, dt=0.1, transient=40.0, seed=2)
    exact = np.sort(np.linalg.eigvals((W - np.eye(N)) / tau).real)[::-1]
    np.testing.assert_allclose(ly.exponents.values, exact, atol=0.01)
    assert ly.convergence.dims == ("time", "exponent") and ly.sizes["time"] == 100


def test_sparse_network_on_the_csr_kernel():
    N, tau = 60, 1.0
    Ws = ctrnn.connectivity.sparse(N, 0.1, 0.8, seed=3)
    for method in ("rk4", "euler"):  # the RK stage loop and the leaky map
        ly = lyapunov_spectrum(ctrnn.RateNetwork(Ws, tau=tau, phi="linear"), 10,
                               duration=400.0, dt=0.1, transient=40.0, method=method,
                               seed=2)
        exact = np.sort(np.linalg.eigvals((Ws.toarray() - np.eye(N)) / tau).real)[::-1]
        if method == "euler":  # the exponents of the Euler map
            exact = np.sort(np.log(np.abs(1 + 0.1 * np.linalg.eigvals(
                (Ws.toarray() - np.eye(N)) / tau))) / 0.1)[::-1]
        np.testing.assert_allclose(ly.exponents.values, exact[:10], atol=0.01)


def test_inputs_do_not_change_the_exponents_of_a_linear_network():
    # additive input shifts the trajectory, not its tangent dynamics
    N = 20
    W = ctrnn.connectivity.gaussian(N, 0.7, seed=2)
    net = ctrnn.RateNetwork(W, U=np.ones((N, 1)), tau=1.0, phi="linear")
    steps = 4000
    x = np.sin(0.05 * np.arange(steps))[:, None]
    ly = lyapunov_spectrum(net, 5, duration=380.0, dt=0.1, transient=20.0, inputs=x, seed=3)
    exact = np.sort(np.linalg.eigvals(W - np.eye(N)).real)[::-1][:5]
    np.testing.assert_allclose(ly.exponents.values, exact, atol=0.01)
    # with tanh the input matters: a strong input saturates the units and stabilises
    sat = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(100, 2.0, seed=4), U=np.ones((100, 1)))
    free = lyapunov_spectrum(sat, 1, duration=100.0, dt=0.1, transient=20.0, seed=5)
    driven = lyapunov_spectrum(sat, 1, duration=100.0, dt=0.1, transient=20.0, seed=5,
                               inputs=np.full((1200, 1), 5.0))
    assert free.exponents.values[0] > 0 > driven.exponents.values[0]


def test_discrete_linear_map_exponents_are_log_moduli():
    N = 10
    W = ctrnn.connectivity.gaussian(N, 0.9, seed=4)
    net = ctrnn.RateNetwork(W, phi="linear")
    ly = lyapunov_spectrum(net, duration=3000, dt=1.0, method="discrete", transient=100, seed=1)
    exact = np.sort(np.log(np.abs(np.linalg.eigvals(W))))[::-1]
    np.testing.assert_allclose(ly.exponents.values, exact, atol=0.01)


def test_sum_of_exponents_is_time_averaged_trace():
    # zero diagonal: trace of the Jacobian (-I + phi'(z) W)/tau is exactly -N/tau, so the
    # exponents of the flow sum to -N/tau (Engelken, Wolf & Abbott 2023)
    N, tau = 80, 1.0
    W = ctrnn.connectivity.gaussian(N, 2.0, seed=3)
    np.fill_diagonal(W, 0.0)
    net = ctrnn.RateNetwork(W, tau=tau)
    ly = lyapunov_spectrum(net, duration=100.0, dt=0.05, transient=20.0, seed=5)
    assert abs(ly.exponents.values.sum() / (-N / tau) - 1) < 2e-3
    assert ly.exponents.values[0] > 0  # g = 2: chaotic


@pytest.mark.parametrize("g, sign", [(0.5, -1), (3.0, +1)])
def test_chaos_transition_largest_exponent(g, sign):
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(500, g, seed=6), tau=1.0)
    lam = largest_lyapunov(net, duration=200.0, dt=0.1, transient=50.0, seed=7)
    assert np.sign(lam) == sign
    if g == 0.5:  # the quiet network sits at h = 0, whose largest exponent is g - 1
        assert lam == pytest.approx(-0.5, abs=0.1)


def test_leaky_and_rk_tangents_agree_for_small_dt():
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(60, 1.8, seed=8), tau=1.0)
    kw = dict(duration=100.0, dt=0.01, transient=10.0, seed=9)
    a = lyapunov_spectrum(net, 3, method="rk4", **kw).exponents.values
    b = lyapunov_spectrum(net, 3, method="euler", **kw).exponents.values
    np.testing.assert_allclose(a, b, atol=0.03)


def test_transient_not_a_multiple_of_ortho_every_gives_unbiased_exponents():
    net = ctrnn.RateNetwork(np.diag([0.5, -1.0]), phi="linear")
    exact = [np.log(1 + 0.1 * (0.5 - 1)) / 0.1, np.log(1 + 0.1 * (-2.0)) / 0.1]  # Euler map
    for transient in (20.0, 20.5):
        ly = lyapunov_spectrum(net, duration=20.0, dt=0.1, method="euler", ortho_every=10,
                               transient=transient, seed=0)
        np.testing.assert_allclose(ly.exponents.values, exact, atol=1e-9)


def test_lyapunov_errors():
    net = ctrnn.RateNetwork(np.eye(3) * 0.5)
    with pytest.raises(ValueError, match="fixed-step"):
        lyapunov_spectrum(net, duration=1.0, dt=0.1, method="dopri5")
    with pytest.raises(ValueError, match="exceeds"):
        lyapunov_spectrum(net, 4, duration=1.0, dt=0.1)
    with pytest.raises(NotImplementedError, match="STP"):
        lyapunov_spectrum(net.replace(stp=ctrnn.STP()), duration=1.0, dt=0.1)
    with pytest.raises(ValueError, match="noise"):
        lyapunov_spectrum(net.replace(noise=0.1), duration=1.0, dt=0.1)
    with pytest.raises(ValueError, match="dt=1"):
        lyapunov_spectrum(net, duration=10.0, dt=0.5, method="discrete")
    with pytest.raises(ValueError, match="n_records must be >= 1"):
        lyapunov_spectrum(net, duration=1.0, dt=0.1, n_records=0)
    with pytest.raises(FloatingPointError, match="finite range"):
        lyapunov_spectrum(ctrnn.RateNetwork(np.eye(2) * 5, phi="linear"), duration=2000.0,
                          dt=0.1)
