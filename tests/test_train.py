"""The trainer: exact gradients against central finite differences and closed forms,
the optimisers against their update formulas written out, checkpoints, errors."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import xarray as xr

import ctrnn
from ctrnn.integrators import get_method
from ctrnn.train import _bptt
from ctrnn.train.losses import cross_entropy, mse
from ctrnn.train.params import Parametrisation, Readout

N, B, T, NIN, NOUT = 6, 2, 9, 2, 2


def _task(rng, B=B, T=T, n_in=NIN, n_out=NOUT, dt=0.1, mask=True):
    m = (rng.random((B, T, n_out)) > 0.3).astype(float) if mask else np.ones((B, T, n_out))
    return xr.Dataset({"inputs": (("trial", "time", "input"), rng.normal(size=(B, T, n_in))),
                       "targets": (("trial", "time", "output"), rng.normal(size=(B, T, n_out))),
                       "mask": (("trial", "time", "output"), m)},
                      attrs={"dt": dt})


def _net(rng, phi="tanh", stp=None, noise=0.1, W=None):
    W = rng.normal(0, 1.2 / np.sqrt(N), (N, N)) if W is None else W
    return ctrnn.RateNetwork(W, U=rng.normal(size=(N, NIN)), b=rng.normal(0, 0.1, N),
                             tau=rng.uniform(0.5, 2.0, N), phi=phi, noise=noise, stp=stp)


def _fd(f, x, eps=1e-6):
    """Central differences of the scalar f at every entry of x."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


STP = ctrnn.STP(U=0.3, tau_f=1.5, tau_d=0.7)
CASES = [(m, stp, phi) for m in ("euler", "exponential_euler", "discrete", "heun", "rk4")
         for stp, phi in ((None, "tanh"), (None, "softplus"), (STP, "softplus"))]


@pytest.mark.parametrize("method,stp,phi", CASES)
def test_gradient_matches_finite_differences(method, stp, phi, rng):
    """Every parameter, every fixed-step method, with noise (replayed), a mask, a rate
    penalty, with and without STP: relative error < 1e-6."""
    net = _net(rng, phi=phi, stp=stp)
    task = _task(rng)
    ro = Readout(rng.normal(size=(NOUT, N)), rng.normal(size=NOUT))
    h0 = rng.normal(0, 0.5, N)
    discrete = get_method(method).counts_steps
    kw = dict(method=method, dt=None if discrete else 0.1, seed=3, rate_l2=0.2)
    if discrete:
        task.attrs.pop("dt")

    def loss(net=net, ro=ro, h0=h0):
        return ctrnn.train.gradient(net, ro, task, h0=h0, **kw)["loss"]

    g = ctrnn.train.gradient(net, ro, task, h0=h0, **kw)
    ref = {"W": _fd(lambda X: loss(net=net.replace(W=X)), np.array(net.W)),
           "U": _fd(lambda X: loss(net=net.replace(U=X)), np.array(net.U)),
           "b": _fd(lambda X: loss(net=net.replace(b=X)), np.array(net.b)),
           "C": _fd(lambda X: loss(ro=Readout(X, ro.c)), np.array(ro.C)),
           "c": _fd(lambda X: loss(ro=Readout(ro.C, X)), np.array(ro.c)),
           "h0": _fd(lambda X: loss(h0=X), h0)}
    if not discrete:
        ref["tau"] = _fd(lambda X: loss(net=net.replace(tau=X)), np.array(net.tau_array))
    else:
        assert g["tau"] is None
    for name, r in ref.items():
        assert _rel(g[name], r) < 1e-6, name


@pytest.mark.parametrize("method", ["euler", "rk4", "exponential_euler"])
def test_checkpointing_gives_the_same_gradient_bit_for_bit(method, rng):
    net = _net(rng, stp=STP if method == "euler" else None, phi="softplus")
    task = _task(rng, T=23)
    ro = Readout.random(NOUT, N, seed=1)
    full = ctrnn.train.gradient(net, ro, task, method=method, seed=5)
    for k in (1, 4, 7, 23, 50):
        ck = ctrnn.train.gradient(net, ro, task, method=method, seed=5, checkpoint_every=k)
        for name in ("W", "U", "b", "tau", "h0", "C", "c"):
            assert np.array_equal(full[name], ck[name]), (k, name)
        assert ck["loss"] == full["loss"]


def test_loss_is_that_of_simulate(rng):
    """The trainer's forward pass is the simulator's: the loss from ``gradient`` equals
    a NumPy MSE of ``simulate``'s states read out (no noise)."""
    net = _net(rng, noise=0.0)
    task = _task(rng, T=15)
    ro = Readout.random(NOUT, N, seed=2)
    for method in ("euler", "rk4"):
        ds = ctrnn.simulate(net, steps=15, dt=0.1, method=method, trials=B,
                            inputs=task.inputs.values)
        y = ro(ds.h.values[:, 1:])
        m, t = task["mask"].values, task["targets"].values
        want = np.sum(m * (y - t) ** 2) / np.sum(m)
        got = ctrnn.train.gradient(net, ro, task, method=method)["loss"]
        assert got == pytest.approx(want, rel=1e-12)


def test_linear_network_gradient_against_closed_form(rng):
    """phi linear, Euler: h_k = A^k h0 + sum_j A^(k-1-j) (a U x_j + a b) with
    A = (1 - a) I + a W. For a loss 1/2 |C h_T - t|^2 at the last step only,
    dL/dh0 = (A^T)^T C^T r and dL/dW = a sum_k (A^T)^(T-1-k) C^T r h_k^T, with the h_k
    and matrix powers computed directly."""
    a = 0.1
    W = rng.normal(0, 0.9 / np.sqrt(N), (N, N))
    U = rng.normal(size=(N, NIN))
    b = rng.normal(size=N)
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=1.0, phi="linear")
    C = rng.normal(size=(1, N))
    x = rng.normal(size=(1, T, NIN))
    tgt = np.zeros((1, T, 1))
    tgt[0, -1, 0] = 0.7
    mask = np.zeros((1, T, 1))
    mask[0, -1, 0] = 1.0
    task = xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), tgt),
                       "mask": (("trial", "time", "output"), mask)}, attrs={"dt": a})
    h0 = rng.normal(size=N)
    A = (1 - a) * np.eye(N) + a * W
    P = np.linalg.matrix_power
    hs = [P(A, k) @ h0 + sum(P(A, k - 1 - j) @ (a * U @ x[0, j] + a * b) for j in range(k))
          for k in range(T + 1)]
    r = C @ hs[T] - 0.7  # mse of one sample: L = r^2, dL/dy = 2 r
    g = ctrnn.train.gradient(net, (C, [0.0]), task, h0=h0)
    lam = [P(A.T, T - k) @ C.T @ (2 * r) for k in range(T + 1)]  # dL/dh_k
    gW = a * sum(np.outer(lam[k + 1], hs[k]) for k in range(T))
    gU = a * sum(np.outer(lam[k + 1], x[0, k]) for k in range(T))
    assert g["loss"] == pytest.approx(float(r[0] ** 2), rel=1e-12)
    np.testing.assert_allclose(g["h0"], lam[0], rtol=1e-10)
    np.testing.assert_allclose(g["W"], gW, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g["U"], gU, rtol=1e-10, atol=1e-14)


def test_sparse_w_gradient_on_its_stored_entries(rng):
    Wd = rng.normal(0, 1.0 / np.sqrt(N), (N, N)) * (rng.random((N, N)) < 0.5)
    Ws = sp.csr_matrix(Wd)
    net = _net(rng, W=Ws)
    task = _task(rng)
    ro = Readout.random(NOUT, N, seed=0)
    g = ctrnn.train.gradient(net, ro, task, seed=1)
    dense = ctrnn.train.gradient(net.replace(W=Wd), ro, task, seed=1)
    rows = np.repeat(np.arange(N), np.diff(Ws.indptr))
    np.testing.assert_allclose(g["W"], dense["W"][rows, Ws.indices], rtol=1e-12)


def _theta_fd_check(par, net, task, method="euler", seed=0):
    """The parametrisation's theta-gradient against central differences."""
    m = get_method(method)
    xs = task.inputs.values
    ss = np.array([7, 8], np.uint64)

    def loss_grad(theta):
        netw = par.network(theta)
        ro = par.readout(theta)
        H0 = np.ascontiguousarray(np.broadcast_to(par.h0(theta), (xs.shape[0], N)))
        p = _bptt.run(netw, np.array(ro.C), np.array(ro.c), xs, H0, method=m, dt=0.1,
                      loss_fn=mse, targets=task.targets.values, mask=task["mask"].values,
                      keys=ss if netw.has_noise else None, want_tau="tau" in par.train)
        return p.loss, par.pullback(theta, p.grads)

    theta = par.init()
    _, g = loss_grad(theta)
    assert set(g) == set(theta)
    for name, v in theta.items():
        def f(X, name=name):
            th = dict(theta)
            th[name] = X
            return loss_grad(th)[0]
        assert _rel(g[name], _fd(f, v)) < 1e-6, name


@pytest.mark.parametrize("dale", ["abs", "rectify"])
def test_dale_parametrisation_gradient_and_signs(dale, rng):
    W, labels = ctrnn.connectivity.dale(4, 2, seed=0)
    net = ctrnn.RateNetwork(W, U=rng.normal(size=(N, NIN)), tau=1.0, noise=0.1, dale=labels)
    ro = Readout.random(NOUT, N, seed=0)
    par = Parametrisation(net, ro, np.zeros(N), train=("W", "U", "b", "tau", "h0", "C", "c"),
                          dale=dale, nonnegative_inputs=True, autapses=False)
    _theta_fd_check(par, net, _task(rng))
    th = par.init()
    th["W"] = rng.normal(size=(N, N))  # any theta gives a network obeying Dale's law
    Wn = np.array(par.network(th).W)
    assert np.all(Wn[:, :4] >= 0) and np.all(Wn[:, 4:] <= 0)
    assert np.all(np.diag(Wn) == 0)
    assert np.all(np.array(par.network({**th, "U": -np.ones((N, NIN))}).U) >= 0)


def test_mask_and_low_rank_parametrisations(rng):
    net = _net(rng)
    ro = Readout.random(NOUT, N, seed=0)
    mask = rng.random((N, N)) < 0.5
    par = Parametrisation(net, ro, np.zeros(N), train=("W", "b"), mask=mask)
    _theta_fd_check(par, net, _task(rng))
    th = par.init()
    th["W"] = rng.normal(size=(N, N))
    assert np.all(np.array(par.network(th).W)[~mask] == 0)
    lr = Parametrisation(net, ro, np.zeros(N), train=("W", "C"), low_rank=2, seed=0)
    _theta_fd_check(lr, net, _task(rng))
    th = lr.init()
    assert set(th) == {"M", "Nv", "C"}
    np.testing.assert_allclose(np.array(lr.network(th).W),
                               np.array(net.W) + th["M"] @ th["Nv"].T / N)


def test_cross_entropy_gradient_and_accuracy(rng):
    y = rng.normal(size=(3, 4, 3))
    t = np.eye(3)[rng.integers(0, 3, (3, 4))]
    m = np.repeat((rng.random((3, 4, 1)) > 0.3).astype(float), 3, axis=2)
    _, dy = cross_entropy(y, t, m)
    assert _rel(dy, _fd(lambda Y: cross_entropy(Y, t, m)[0], y)) < 1e-7
    with pytest.raises(ValueError, match="equal across outputs"):
        cross_entropy(y, t, rng.random((3, 4, 3)))
    resp = np.zeros((3, 4), bool)
    resp[:, -1] = True
    yy = np.zeros((3, 4, 3))
    yy[np.arange(3), -1, t[:, -1].argmax(-1)] = 1.0
    yy[0, -1] = [5.0, 0, 0] if t[0, -1, 0] != 1 else [0, 5.0, 0]
    assert ctrnn.train.losses.accuracy(yy, t, resp) == pytest.approx(2 / 3)


def test_adam_and_sgd_against_the_update_formulas():
    g1, g2 = np.array([0.3, -2.0]), np.array([-0.1, 0.5])
    opt = ctrnn.train.Adam(lr=0.01, beta1=0.8, beta2=0.9, eps=1e-6)
    p = {"w": np.array([1.0, 2.0])}
    s = opt.init(p)
    p1, s = opt.update({"w": g1}, s, p)
    p2, s = opt.update({"w": g2}, s, p1)
    m1, v1 = 0.2 * g1, 0.1 * g1 ** 2
    want1 = p["w"] - 0.01 * (m1 / 0.2) / (np.sqrt(v1 / 0.1) + 1e-6)
    m2, v2 = 0.8 * m1 + 0.2 * g2, 0.9 * v1 + 0.1 * g2 ** 2
    want2 = want1 - 0.01 * (m2 / (1 - 0.8 ** 2)) / (np.sqrt(v2 / (1 - 0.9 ** 2)) + 1e-6)
    np.testing.assert_allclose(p1["w"], want1, rtol=1e-15)
    np.testing.assert_allclose(p2["w"], want2, rtol=1e-15)
    sgd = ctrnn.train.SGD(lr=0.1, momentum=0.5)
    q1, st = sgd.update({"w": g1}, sgd.init(p), p)
    q2, st = sgd.update({"w": g2}, st, q1)
    np.testing.assert_allclose(q2["w"], p["w"] - 0.1 * g1 - 0.1 * (0.5 * g1 + g2))
    sched = ctrnn.train.Adam(lr=ctrnn.train.exponential_decay(0.1, 0.5, 1))
    r1, st = sched.update({"w": g1}, sched.init(p), p)
    r2, st = sched.update({"w": g1}, st, r1)
    np.testing.assert_allclose(r1["w"] - r2["w"], 0.05 * np.sign(g1), rtol=1e-6)
    with pytest.raises(ValueError, match="lr"):
        ctrnn.train.Adam(lr=-1)


def _fit_task(rng, B=32, T=10):
    x = rng.normal(size=(B, T, 1))
    return xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), np.cumsum(x, 1) / 5)},
                      attrs={"dt": 0.1})


def test_fit_learns_and_resumes_bit_for_bit(tmp_path, rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(12, g=0.5, seed=0),
                            U=np.ones((12, 1)), noise=0.05)
    kw = dict(n_outputs=1, batch_size=8, optimizer=ctrnn.train.Adam(lr=1e-2), seed=4,
              progress=False, train_tau=True, clip_grad_norm=5.0)
    whole = ctrnn.train.fit(net, task, iterations=12, **kw)
    assert whole.history.loss[-1] < whole.history.loss[0]
    for suffix in (".zarr", ".nc"):
        path = tmp_path / f"ck{suffix}"
        ctrnn.train.fit(net, task, iterations=5, checkpoint=path, checkpoint_interval=2, **kw)
        resumed = ctrnn.train.fit(net, task, iterations=12, checkpoint=path, **kw)
        np.testing.assert_array_equal(np.array(resumed.network.W), np.array(whole.network.W))
        np.testing.assert_array_equal(resumed.network.tau_array, whole.network.tau_array)
        np.testing.assert_array_equal(resumed.readout.C, whole.readout.C)
        np.testing.assert_array_equal(resumed.history.loss, whole.history.loss)
    with pytest.raises(ValueError, match="different set-up"):
        ctrnn.train.fit(net, task, iterations=12, checkpoint=path,
                        **{**kw, "batch_size": 4})


def test_fit_ctrl_c_returns_the_model_so_far(rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0), U=np.ones((8, 1)))

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.warns(RuntimeWarning, match="interrupted after 3"):
        model = ctrnn.train.fit(net, task, n_outputs=1, batch_size=8, iterations=10,
                                progress=stop, seed=0)
    assert model.interrupted and model.history.sizes["iteration"] == 3


def test_fit_refuses_bad_set_ups_before_any_work(rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(np.zeros((5, 5)), U=np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"1 inputs .*\(32, 10, 1\).* takes 2 .*\(5, 2\)"):
        ctrnn.train.fit(net, task, n_outputs=1)
    net1 = net.replace(U=np.ones((5, 1)))
    with pytest.raises(ValueError, match="set n_outputs=1"):
        ctrnn.train.fit(net1, task, n_outputs=3)
    with pytest.raises(ValueError, match="fixed-step"):
        ctrnn.train.fit(net1, task, n_outputs=1, method="dopri5")
    with pytest.raises(ValueError, match="differs from the task"):
        ctrnn.train.fit(net1, task, n_outputs=1, dt=0.05)
    with pytest.raises(ValueError, match="batch_size=64 is larger"):
        ctrnn.train.fit(net1, task, n_outputs=1)
    with pytest.raises(ValueError, match="discrete"):
        ctrnn.train.fit(net1, task.drop_attrs(), n_outputs=1, method="discrete",
                        train_tau=True, batch_size=8)


def test_fit_stops_on_a_nan_loss_with_the_iteration_and_a_fix(rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0),
                            U=np.ones((8, 1)), phi="relu")
    with pytest.raises(FloatingPointError, match="iteration .*lower the learning rate") as e:
        ctrnn.train.fit(net, task, n_outputs=1, batch_size=8, iterations=50, seed=0,
                        optimizer=ctrnn.train.SGD(lr=1e6), progress=False)
    assert isinstance(e.value.model, ctrnn.train.Model)


def test_gradient_norms_obey_the_euler_contraction_bound(rng):
    """||J_t|| <= 1 - a (1 - gamma ||W||) for the Euler step, gamma = sup|tanh'| = 1:
    with the loss at the last step only, each step back shrinks ||dL/dh|| at least by
    that factor."""
    n, a, Tn = 30, 0.2, 40
    W = ctrnn.connectivity.gaussian(n, g=0.5, seed=1)
    bound = 1 - a * (1 - np.linalg.norm(W, 2))
    assert bound < 1
    mask = np.zeros((3, Tn, 1))
    mask[:, -1] = 1
    task = xr.Dataset({"inputs": (("trial", "time", "input"), np.zeros((3, Tn, 0))),
                       "targets": (("trial", "time", "output"), np.ones((3, Tn, 1))),
                       "mask": (("trial", "time", "output"), mask)}, attrs={"dt": a})
    norms = ctrnn.train.gradient_norms(ctrnn.RateNetwork(W), Readout.random(1, n, seed=0),
                                       task, h0=rng.normal(size=n)).values
    ratios = norms[:, :-1] / norms[:, 1:]
    assert np.all(ratios <= bound * (1 + 1e-12))
    assert norms.shape == (3, Tn + 1)


def test_fit_recorded_seed_repeats_the_run_and_resume_checks_the_set_up(tmp_path, rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0),
                            U=np.zeros((8, 1)))
    kw = dict(n_outputs=1, batch_size=8, iterations=4, progress=False,
              nonnegative_inputs=True, optimizer=ctrnn.train.Adam(lr=1e-2))
    a = ctrnn.train.fit(net, task, **kw)  # seed=None: drawn and recorded
    b = ctrnn.train.fit(net, task, seed=a.history.attrs["seed"], **kw)
    np.testing.assert_array_equal(a.history.loss, b.history.loss)
    assert np.any(np.array(a.network.U) > 0)  # U starting at zero grows (subgradient)
    path = tmp_path / "ck.nc"
    ctrnn.train.fit(net, task, checkpoint=path, seed=1, **kw)
    for change, part in ((dict(optimizer=ctrnn.train.Adam(lr=2e-2)), "optimizer"),
                         (dict(rate_l2=0.1), "regularisers")):
        with pytest.raises(ValueError, match=f"different set-up; what differs: {part} \\("):
            ctrnn.train.fit(net, task, checkpoint=path, **{**kw, **change})
    with pytest.raises(ValueError, match="different set-up; what differs: network\\. "):
        ctrnn.train.fit(net.replace(tau=2.0), task, checkpoint=path, **kw)
    with pytest.warns(RuntimeWarning, match="holds 4 iterations"):
        done = ctrnn.train.fit(net, task, checkpoint=path, **kw)
    assert done.history.sizes["iteration"] == 4
    # a schedule made again (as in a new process) is the same set-up; another is not
    sched = dict(kw, optimizer=ctrnn.train.Adam(lr=ctrnn.train.exponential_decay(1e-2, 0.5,
                                                                                   2)))
    spath = tmp_path / "sched.nc"
    ctrnn.train.fit(net, task, checkpoint=spath, **sched)
    sched2 = dict(sched, iterations=6, optimizer=ctrnn.train.Adam(
        lr=ctrnn.train.exponential_decay(1e-2, 0.5, 2)))
    assert ctrnn.train.fit(net, task, checkpoint=spath, **sched2).history.sizes[
        "iteration"] == 6
    with pytest.raises(ValueError, match=r"what differs: optimizer \(.*0\.5.*there.*0\.6.*here"):
        ctrnn.train.fit(net, task, checkpoint=spath, **dict(sched2, optimizer=ctrnn.train.Adam(
            lr=ctrnn.train.exponential_decay(1e-2, 0.6, 2))))
    with pytest.raises(ValueError, match="no E/I labels"):
        ctrnn.train.fit(net, task, dale="rectify", **kw)


def test_a_custom_loss_of_the_wrong_shape_is_refused(rng):
    task = _fit_task(rng)
    net = ctrnn.RateNetwork(np.zeros((4, 4)), U=np.ones((4, 1)))
    bad = lambda y, t, m: (0.0, np.zeros(y.shape[:2] + (2,)))  # noqa: E731
    with pytest.raises(ValueError, match="must return"):
        ctrnn.train.gradient(net, Readout.random(1, 4, seed=0), task, loss=bad)
    with pytest.raises(ValueError, match="labels belong on the network"):
        ctrnn.train.fit(net, task, n_outputs=1, batch_size=8, dale=np.ones(4))


@pytest.mark.parametrize("case", ["one trial", "cross-entropy", "no inputs, sparse, STP"])
def test_gradient_matches_finite_differences_in_the_other_paths(case, rng):
    """One trial (the forward pass runs on panels, the adjoint on BLAS); cross-entropy
    through the network with relu; a sparse W with STP and no inputs (sigmoid)."""
    n_in = 0 if case.startswith("no inputs") else NIN
    W = rng.normal(0, 1.0 / np.sqrt(N), (N, N))
    if case.startswith("no inputs"):
        W = sp.csr_matrix(W * (rng.random((N, N)) < 0.6))
    net = ctrnn.RateNetwork(W, U=rng.normal(size=(N, n_in)) if n_in else None,
                            b=rng.normal(0, 0.3, N), tau=rng.uniform(0.5, 2, N),
                            phi={"one trial": "tanh", "cross-entropy": "relu"}.get(case,
                                                                                 "sigmoid"),
                            noise=0.1, stp=STP if n_in == 0 else None)
    trials = 1 if case == "one trial" else B
    task = _task(rng, B=trials, n_in=n_in, mask=case != "cross-entropy")
    loss = "mse"
    if case == "cross-entropy":
        task["targets"] = (("trial", "time", "output"),
                           np.eye(NOUT)[rng.integers(0, NOUT, (trials, T))])
        loss = "cross_entropy"
    ro = Readout(rng.normal(size=(NOUT, N)), rng.normal(size=NOUT))
    h0 = rng.normal(0, 0.5, N)

    def f(net=net, ro=ro, h0=h0):
        return ctrnn.train.gradient(net, ro, task, h0=h0, loss=loss, seed=2)["loss"]

    g = ctrnn.train.gradient(net, ro, task, h0=h0, loss=loss, seed=2)
    Wd = net.W.toarray() if net.is_sparse else np.array(net.W)
    if net.is_sparse:
        Wc = net.W.tocsr()
        ref_W = _fd(lambda X: f(net=net.replace(W=sp.csr_matrix(
            (X, Wc.indices, Wc.indptr), shape=(N, N)))), Wc.data.copy())
    else:
        ref_W = _fd(lambda X: f(net=net.replace(W=X)), Wd)
    assert _rel(g["W"], ref_W) < 1e-6
    assert _rel(g["tau"], _fd(lambda X: f(net=net.replace(tau=X)),
                              np.array(net.tau_array))) < 1e-6
    assert _rel(g["h0"], _fd(lambda X: f(h0=X), h0)) < 1e-6
    assert _rel(g["C"], _fd(lambda X: f(ro=Readout(X, ro.c)), np.array(ro.C))) < 1e-6
    if n_in:
        assert _rel(g["U"], _fd(lambda X: f(net=net.replace(U=X)), np.array(net.U))) < 1e-6


def test_weight_penalty_gradient(rng):
    W, labels = ctrnn.connectivity.dale(4, 2, seed=1)
    net = ctrnn.RateNetwork(W, dale=labels)
    par = Parametrisation(net, Readout.random(1, N, seed=0), np.zeros(N), train=("W",))
    theta = par.init()
    pen, g = par.weight_penalty(theta, 0.3, 0.7)
    Weff = np.array(par.network(theta).W)
    assert pen == pytest.approx(0.3 * np.abs(Weff).sum() + 0.7 * (Weff ** 2).sum())
    ref = _fd(lambda X: par.weight_penalty({"W": X}, 0.3, 0.7)[0], theta["W"])
    assert _rel(g["W"], ref) < 1e-6


def test_small_training_products_run_blas_on_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = lambda: {lib["filepath"]: lib["num_threads"]  # noqa: E731
                    for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}
    before = info()
    with _bptt._blas_threads(32, 100):
        assert set(info().values()) == {1}
    assert info() == before
    with _bptt._blas_threads(64, 1000):  # above SINGLE_THREAD_MAX: as configured
        assert info() == before
