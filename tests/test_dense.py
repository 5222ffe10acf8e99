"""The fused small-network product (issue 12): W packed into panels, SIMD sums, drive, phi
and the leak or the field in one pass. Checked against NumPy, and against the BLAS path
of the same simulation."""
import numba
import numpy as np
import pytest

import ctrnn
from ctrnn import _engine
from ctrnn._kernels import dense
from ctrnn._kernels.phi import TANH
from ctrnn._kernels.simd import vsplat_at, vstore


@numba.njit
def cube_sat(z):
    return z / (1.0 + abs(z)) ** 3


def numpy_reference(W, S, D, mode, Y, A, C, phi):
    z = S @ W.T
    if mode == dense.RAW:
        return z
    p = phi(z + D)
    if mode == dense.PHI:
        return p
    if mode == dense.LEAK:
        return A * Y + C * p
    return (p - Y) * A


def run_fused(W, S, D, mode, Y, A, C, code):
    N = W.shape[0]
    Wp = dense.pack_panels(W)
    P = dense.aligned_rows(S.shape[0], Wp.size // N, W)
    out = np.full_like(Y, np.nan)
    dense.fused_product(Wp, S, D, code, mode, Y, A, C, out, P, np.zeros(1, np.int64))
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N", [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100, 130])
def test_every_mode_matches_numpy(N, dtype):
    rng = np.random.default_rng(N)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    W = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(dtype)
    A, C = rng.uniform(0.1, 1, N).astype(dtype), rng.uniform(0.1, 1, N).astype(dtype)
    for B in (1, 2, 3, 5):
        S = rng.standard_normal((B, N)).astype(dtype)
        Y = rng.standard_normal((B, N)).astype(dtype)
        for Bx in (1, B):
            D = rng.standard_normal((Bx, N)).astype(dtype)
            for mode in (dense.RAW, dense.PHI, dense.LEAK, dense.RELAX):
                for code, f in ((TANH, np.tanh), (cube_sat, np.vectorize(cube_sat.py_func))):
                    got = run_fused(W, S, D, mode, Y, A, C, code)
                    want = numpy_reference(W.astype(float), S.astype(float), D.astype(float),
                                           mode, Y.astype(float), A, C, f)
                    np.testing.assert_allclose(got, want, **tol, err_msg=f"B={B} mode={mode}")


@numba.njit
def _finish(P, D, phi, mode, Y, A, C, OUT):
    dense.finish(P, D, phi, mode, Y, A, C, OUT)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N", [8, 9, 16, 17, 23, 100])
def test_output_may_alias_the_state_or_the_sums(N, dtype):
    """finish runs in whole vectors, the last one overlapping the one before where the
    lanes do not divide N: with OUT = Y (the leak, in place) or OUT = P (the sums), every
    element must still be computed from the values as they were."""
    rng = np.random.default_rng(N)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    W = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(dtype)
    A, C = rng.uniform(0.1, 1, N).astype(dtype), rng.uniform(0.1, 1, N).astype(dtype)
    Wp = dense.pack_panels(W)
    for B in (1, 3):
        S = rng.standard_normal((B, N)).astype(dtype)
        D = rng.standard_normal((1, N)).astype(dtype)
        for mode in (dense.LEAK, dense.RELAX):  # OUT = Y
            Y = rng.standard_normal((B, N)).astype(dtype)
            want = numpy_reference(W.astype(float), S.astype(float), D.astype(float), mode,
                                   Y.astype(float), A, C, np.tanh)
            P = dense.aligned_rows(B, Wp.size // N, W)
            dense.fused_product(Wp, S, D, TANH, mode, Y, A, C, Y, P, np.zeros(1, np.int64))
            np.testing.assert_allclose(Y, want, **tol, err_msg=f"B={B} mode={mode}")
        for mode in (dense.RAW, dense.PHI):  # OUT = P, the sums themselves (BLAS path)
            P = (S.astype(float) @ W.T.astype(float)).astype(dtype)
            want = numpy_reference(W.astype(float), S.astype(float), D.astype(float), mode,
                                   P, A, C, np.tanh)
            _finish(P, D, TANH, mode, P, A, C, P)
            np.testing.assert_allclose(P, want, **tol, err_msg=f"B={B} mode={mode}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_panels_hold_w_and_are_aligned(dtype):
    N = 100
    W = np.arange(N * N, dtype=dtype).reshape(N, N)
    Wp = dense.pack_panels(W)
    assert Wp.ctypes.data % 64 == 0 and Wp.size == dense.panel_rows(N, dtype) * N
    L = 8 if dtype == np.float64 else 16
    rebuilt, i0 = np.zeros((dense.panel_rows(N, dtype), N), dtype), 0
    while i0 < N:  # the layout of the module docstring, read back independently
        w = 4 * L if N - i0 >= 4 * L else L
        rebuilt[i0:i0 + w] = Wp[i0 * N:(i0 + w) * N].reshape(N, w).T
        i0 += w
    np.testing.assert_array_equal(rebuilt[:N], W)
    assert not rebuilt[N:].any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_trial_of_a_batch_equals_its_single_run_bit_for_bit(dtype):
    # on panels, in one group (threads=1) or several; 5 trials: over a wide block three
    # at a time then two, over a narrow one two at a time then one; each trial's sums in
    # the chains of its single run
    assert 100 <= _engine.GROUPS_MAX
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(100, 1.5, seed=0), tau=1.0)
    H0 = np.random.default_rng(1).standard_normal((5, 100))
    for method in ("euler", "rk4", "exponential_euler"):
        batch = ctrnn.simulate(net, steps=200, dt=0.1, h0=H0, method=method, dtype=dtype,
                               threads=1)
        for r in range(5):
            single = ctrnn.simulate(net, steps=200, dt=0.1, h0=H0[r], method=method, dtype=dtype)
            np.testing.assert_array_equal(batch.h.values[r], single.h.values)


def test_alternating_block_order_changes_nothing():
    rng = np.random.default_rng(3)
    N = 100
    W, S = rng.standard_normal((N, N)), rng.standard_normal((2, N))
    Wp = dense.pack_panels(W)
    P = dense.aligned_rows(2, Wp.size // N, W)
    turn = np.zeros(1, np.int64)
    outs = []
    for _ in range(2):
        out = np.empty((2, N))
        dense.fused_product(Wp, S, np.zeros((1, N)), TANH, dense.RAW, S, S[0], S[0], out, P, turn)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.fixture
def blas_only(monkeypatch):
    """Force the BLAS path (no panels, no groups of trials) for every size."""
    monkeypatch.setattr(_engine, "PANEL_MAX", {key: -1 for key in _engine.PANEL_MAX})
    monkeypatch.setattr(_engine, "GROUPS_MAX", -1)


def _runs(net, **kw):
    out = {}
    for method in ("euler", "exponential_euler", "discrete", "heun", "rk4", "dopri5"):
        extra = dict(rtol=1e-10, atol=1e-12) if method == "dopri5" else {}
        grid = dict(steps=100) if method == "discrete" else dict(steps=100, dt=0.1)
        out[method] = ctrnn.simulate(net, method=method, **grid, **extra, **kw).h.values
    return out


def test_panels_and_blas_paths_agree(request, monkeypatch):
    rng = np.random.default_rng(4)
    N = 60
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, 0.8, seed=2), U=rng.standard_normal((N, 2)),
                            b=0.1 * rng.standard_normal(N), tau=1.0)
    kw = dict(h0=rng.standard_normal((3, N)), inputs=rng.standard_normal((3, 101, 2)))
    monkeypatch.setattr(_engine, "PANEL_MAX", {key: 500 for key in _engine.PANEL_MAX})
    assert _engine.uses_panels(N, 3, np.float64)
    fused = _runs(net, **kw)
    request.getfixturevalue("blas_only")
    assert not _engine.uses_panels(N, 3, np.float64)
    assert not _engine.in_groups(net, 3, per_trial=False)
    blas = _runs(net, **kw)
    for method in fused:  # a contracting network: round-off does not grow (dopri5: its
        # step sizes may differ by round-off, so agreement well within its tolerance,
        # rtol = 1e-6: 1.3e-8 apart at most, measured)
        atol = 1e-7 if method == "dopri5" else 1e-12
        np.testing.assert_allclose(fused[method], blas[method], rtol=0, atol=atol, err_msg=method)


def test_vectorised_phi_runs_match_libm_runs():
    """The same simulation with the vectorised tanh and with libm's (issue 12: results
    match to the ulp bound, which round-off through a contracting network keeps small)."""
    W = ctrnn.connectivity.gaussian(80, 0.8, seed=5)
    h0 = np.random.default_rng(6).standard_normal(80)
    for method in ("euler", "rk4", "dopri5"):
        a = ctrnn.simulate(ctrnn.RateNetwork(W, tau=1.0, phi="tanh"), steps=200, dt=0.1, h0=h0,
                           method=method).h.values
        b = ctrnn.simulate(ctrnn.RateNetwork(W, tau=1.0, phi="tanh_libm"), steps=200, dt=0.1,
                           h0=h0, method=method).h.values
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13, err_msg=method)


def test_lyapunov_spectrum_is_the_same_on_both_paths(request, monkeypatch):
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(40, 2.0, seed=7), tau=1.0)
    kw = dict(k=3, dt=0.1, duration=200.0, transient=10.0, seed=0)
    # the state and its 3 tangent vectors are 4 rows: force panels for them
    monkeypatch.setattr(_engine, "PANEL_MAX", {key: 500 for key in _engine.PANEL_MAX})
    assert _engine.uses_panels(40, 4, np.float64)
    a = ctrnn.analysis.lyapunov_spectrum(net, **kw)
    request.getfixturevalue("blas_only")
    assert not _engine.uses_panels(40, 4, np.float64)
    b = ctrnn.analysis.lyapunov_spectrum(net, **kw)
    assert a.exponents.values[0] > a.exponents.values[2]
    np.testing.assert_allclose(a.exponents.values, b.exponents.values, rtol=0, atol=1e-8)


@numba.njit
def _splat(A, r, j, out):
    vstore(out, 0, vsplat_at(A, r, j))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vsplat_at_broadcasts_one_element_of_any_layout_and_refuses_bad_arguments(dtype):
    Z = np.arange(60, dtype=dtype).reshape(6, 10)
    out = np.empty(16, dtype)
    L = 8 if dtype == np.float64 else 16
    for A in (Z, Z[1:, ::3], np.asfortranarray(Z), Z.T):  # C, strided ('A'), F layouts
        for r, j in ((0, 0), (A.shape[0] - 1, A.shape[1] - 1), (2, 1)):
            out[:] = -1
            _splat(A, r, j, out)
            np.testing.assert_array_equal(out[:L], A[r, j])
    with pytest.raises(TypeError, match="integer indices"):
        _splat(Z, 1.0, 0, out)
    with pytest.raises(TypeError, match="2-d float32 or float64"):
        _splat(Z[0], 0, 0, out)
