"""Catastrophic interference (issue 15): the Gauss-Newton curvature against finite
differences of a NumPy loop, the exact linear teacher-student pair, measured against
predicted forgetting on a rate network, the remedies (EWC, orthogonal projection, replay)
and continuing training from a Model."""
import numpy as np
import pytest
import xarray as xr

import ctrnn
from ctrnn.train import SGD, Adam, Model, Readout, fit, interference
from ctrnn.train.continual import _evaluator
from ctrnn.train.curvature import gauss_newton

from .naive import euler_loop

N_IN = 3


def _net(N=5, g=1.2, seed=0, n_in=N_IN):
    rng = np.random.default_rng(seed)
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=g, seed=seed),
                             U=rng.normal(size=(N, n_in)), b=0.1 * rng.normal(size=N),
                             tau=0.05)


def _task(B=4, T=12, n_in=N_IN, n_out=2, seed=0, dt=0.01):
    rng = np.random.default_rng(seed)
    return xr.Dataset({"inputs": (("trial", "time", "input"), rng.normal(size=(B, T, n_in))),
                       "targets": (("trial", "time", "output"),
                                   rng.normal(size=(B, T, n_out))),
                       "mask": (("trial", "time", "output"),
                                (rng.random((B, T, n_out)) < 0.7).astype(float))},
                      attrs={"dt": dt, "loss": "mse"})


def _model(net, n_out=2, seed=1):
    rng = np.random.default_rng(seed)
    ro = Readout(rng.normal(size=(n_out, net.n_neurons)) / np.sqrt(net.n_neurons),
                 0.1 * rng.normal(size=n_out))
    return Model(net, ro, np.zeros(net.n_neurons), xr.Dataset(), "euler", 0.01)


def _naive_outputs(theta, net, task, dt=0.01):
    """y (B, T, n_out) of theta = {W, U, b, C, c} by the NumPy Euler loop."""
    xs = task.inputs.values
    ys = []
    for x in xs:
        H = euler_loop(np.zeros(net.n_neurons), theta["W"], theta["U"], theta["b"],
                       net.tau_array, "tanh", dt, x)
        ys.append(H[1:] @ theta["C"].T + theta["c"])
    return np.array(ys)


def _flat(theta, names):
    return np.concatenate([np.ravel(theta[k]) for k in names])


def _unflat(v, like, names):
    out, o = {}, 0
    for k in names:
        n = like[k].size
        out[k] = v[o:o + n].reshape(like[k].shape)
        o += n
    return out


def _fd_jacobian(theta, net, task, names, eps=1e-6):
    v0 = _flat(theta, names)
    cols = []
    for i in range(v0.size):
        e = np.zeros_like(v0)
        e[i] = eps
        yp = _naive_outputs(_unflat(v0 + e, theta, names), net, task)
        ym = _naive_outputs(_unflat(v0 - e, theta, names), net, task)
        cols.append(((yp - ym) / (2 * eps)).ravel())
    return np.array(cols).T  # (B T n_out, P)


def _naive_mse(y, task):
    m = task.mask.values
    return float(np.sum(m * (y - task.targets.values) ** 2) / np.sum(m))


# --- the curvature --------------------------------------------------------------------
def test_gauss_newton_equals_finite_differences_of_a_numpy_loop():
    net, task = _net(), _task()
    model = _model(net)
    theta = _evaluator(model, task, None, "test")[1]
    curv = gauss_newton(model, task)
    names = list(dict.fromkeys(curv.name.values))
    assert names == list(theta)
    J = _fd_jacobian(theta, net, task, names)
    m = task.mask.values.ravel()
    G = J.T @ (J * (2 * m / m.sum())[:, None])  # J^T H_y J of the mean squared error
    lam = np.linalg.eigvalsh(G)[::-1]
    k = curv.sizes["eigen"]
    assert np.allclose(curv.eigenvalue, lam[:k], rtol=1e-6, atol=1e-9 * lam[0])
    assert np.allclose(curv.diagonal, np.diag(G), rtol=1e-6, atol=1e-9 * lam[0])
    V = curv.eigenvector.values
    assert np.allclose((V * curv.eigenvalue.values) @ V.T, G, atol=1e-7 * lam[0])
    w_entries = curv.entry.values[curv.name.values == "W"]
    assert np.array_equal(w_entries, np.arange(net.n_neurons ** 2))


def test_gauss_newton_of_cross_entropy_equals_finite_differences():
    net = _net(N=4)
    task = _task(B=3, T=8)
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=(3, 8))
    task["targets"] = (("trial", "time", "output"), np.eye(2)[labels])
    w = (rng.random((3, 8)) < 0.6).astype(float)
    task["mask"] = (("trial", "time", "output"), np.repeat(w[..., None], 2, axis=2))
    model = _model(net)
    theta = _evaluator(model, task, "cross_entropy", "test")[1]
    names = list(theta)
    curv = gauss_newton(model, task, loss="cross_entropy")
    J = _fd_jacobian(theta, net, task, names).reshape(3, 8, 2, -1)
    y = _naive_outputs(theta, net, task)
    p = np.exp(y) / np.exp(y).sum(axis=2, keepdims=True)
    G = np.zeros((J.shape[-1],) * 2)
    for b in range(3):
        for t in range(8):
            H = (np.diag(p[b, t]) - np.outer(p[b, t], p[b, t])) * w[b, t] / w.sum()
            G += J[b, t].T @ H @ J[b, t]
    lam = np.linalg.eigvalsh(G)[::-1]
    k = curv.sizes["eigen"]
    assert np.allclose(curv.eigenvalue, lam[:k], rtol=1e-6, atol=1e-9 * lam[0])
    assert np.allclose(curv.diagonal, np.diag(G), rtol=1e-6, atol=1e-9 * lam[0])


def test_lanczos_finds_the_leading_eigenpairs_of_the_exact_matrix():
    net, task = _net(N=8), _task(B=6, T=15)
    model = _model(net)
    exact = gauss_newton(model, task)
    lz = gauss_newton(model, task, n_eigen=5, method="lanczos")
    assert np.allclose(lz.eigenvalue, exact.eigenvalue[:5], rtol=1e-7)
    cos = np.abs(np.sum(lz.eigenvector.values * exact.eigenvector.values[:, :5], axis=0))
    assert np.all(cos > 1 - 1e-6)
    assert np.all(np.isnan(lz.diagonal))
    with pytest.raises(ValueError, match="n_eigen"):
        gauss_newton(model, task, n_eigen=10_000, method="lanczos")
    with pytest.raises(ValueError, match="n_eigen"):
        gauss_newton(model, task, n_eigen=-1)
    with pytest.raises(ValueError, match="curvature="):
        gauss_newton(model, task, method="hessian")
    with pytest.raises(ValueError, match="at most"):
        gauss_newton(model, task, trials=7)


def test_curvature_refuses_a_loss_without_known_curvature():
    net, task = _net(), _task()
    with pytest.raises(ValueError, match="mse"):
        gauss_newton(_model(net), task, loss=lambda y, t, m: (0.0, 0 * y))


# --- the linear teacher-student pair: everything exact --------------------------------
def _student(n_in, n_out):
    return ctrnn.RateNetwork(np.zeros((n_out, n_out)), U=np.zeros((n_out, n_in)),
                             phi="linear")


STUDENT = dict(method="discrete", frozen=("W", "b", "C", "c"))


def test_teacher_student_tasks():
    a, b = ctrnn.tasks.teacher_student(5, n_inputs=6, n_outputs=2, n_steps=7,
                                       similarity=0.3, seed=1)
    WA = np.array(a.attrs["teacher"]).reshape(2, 6)
    WB = np.array(b.attrs["teacher"]).reshape(2, 6)
    for o in range(2):
        assert np.isclose(WA[o] @ WB[o], 0.3 * WA[o] @ WA[o], rtol=1e-12)
        assert np.isclose(np.linalg.norm(WB[o]), np.linalg.norm(WA[o]), rtol=1e-12)
    x = a.inputs.values
    assert np.array_equal(x, b.inputs.values)
    assert np.allclose(a.targets.values, np.einsum("btj,oj->bto", x, WA))
    assert np.allclose(b.targets.values, np.einsum("btj,oj->bto", x, WB))
    with pytest.raises(ValueError, match="similarity"):
        ctrnn.tasks.teacher_student(2, similarity=1.5)
    with pytest.raises(ValueError, match="n_inputs"):
        ctrnn.tasks.teacher_student(2, n_inputs=1)


def _solved_student(a, n_in, n_out):
    """Model at A's exact least-squares solution (NumPy), independent of the trainer."""
    x = a.inputs.values.reshape(-1, n_in)
    y = a.targets.values.reshape(-1, n_out)
    U = np.linalg.lstsq(x, y, rcond=None)[0].T
    net = _student(n_in, n_out).replace(U=U)
    return Model(net, Readout(np.eye(n_out), np.zeros(n_out)), np.zeros(n_out),
                 xr.Dataset(), "discrete", None, options=dict(frozen=STUDENT["frozen"]))


def test_linear_teacher_student_second_order_is_exact_and_first_order_errs_by_lr_squared():
    n_in, n_out = 6, 2
    a, b = ctrnn.tasks.teacher_student(10, n_inputs=n_in, n_outputs=n_out, n_steps=5,
                                       similarity=0.5, seed=0)
    model = _solved_student(a, n_in, n_out)
    x = a.inputs.values.reshape(-1, n_in)
    n = x.shape[0] * n_out
    H = 2.0 / n * x.T @ x  # L_A's Hessian in each row of U, exactly
    yB = b.targets.values.reshape(-1, n_out)
    gB = (2.0 / n * x.T @ (x @ model.network.U.T - yB)).T  # (n_out, n_in)
    errors = []
    for lr in (0.05, 0.1):
        res = interference(model, a, b, iterations=6, optimizer=SGD(lr=lr), batch_size=10,
                           method="discrete", progress=False)
        r = res.record
        scale = float(r.measured.max())
        assert scale > 1e-3  # it forgets
        assert np.allclose(r.second_order, r.measured, rtol=1e-10, atol=1e-13 * scale)
        # the eigenvalues of G_A are those of H (each once per output row)
        lam = np.sort(np.repeat(np.linalg.eigvalsh(H), n_out))[::-1]
        assert np.allclose(r.eigenvalue, lam[:r.sizes["eigen"]], rtol=1e-10,
                           atol=1e-12 * lam[0])
        # step 1 from the minimum: the first order is 0, the truth 1/2 lr^2 gB^T H gB
        expect = 0.5 * lr ** 2 * np.sum(gB @ H * gB)
        assert abs(float(r.first_order[1])) < 1e-14
        assert np.isclose(float(r.measured[1]), expect, rtol=1e-10)
        errors.append(float(r.measured[1] - r.first_order[1]))
        # every step, against SGD written out in NumPy: measured and first order
        yA = a.targets.values.reshape(-1, n_out)
        U = model.network.U.copy()

        def lossA(U):
            return float(np.mean((x @ U.T - yA) ** 2))

        first, meas = [0.0], [0.0]
        for _ in range(6):
            gA = (2.0 / n * x.T @ (x @ U.T - yA)).T
            step = -lr * (2.0 / n * x.T @ (x @ U.T - yB)).T
            first.append(first[-1] + float(np.sum(gA * step)))
            U = U + step
            meas.append(lossA(U) - lossA(model.network.U))
        assert np.allclose(r.first_order, first, rtol=1e-9, atol=1e-15)
        assert np.allclose(r.measured, meas, rtol=1e-9, atol=1e-15)
        assert np.allclose(res.model_b.network.U, U, rtol=1e-12)
    assert np.isclose(errors[1] / errors[0], 4.0, rtol=1e-9)  # O(lr^2)


# --- a rate network: measured against predicted ---------------------------------------
def _teacher_pair(N=10, B=16):
    """Task A generated by a network (its exact minimum, loss 0, is known: the network
    itself) and task B a flip-flop, in one layout."""
    a, b = ctrnn.tasks.multitask(ctrnn.tasks.flipflop(B, n_bits=1, duration=0.2, seed=0),
                                 ctrnn.tasks.flipflop(B, n_bits=1, duration=0.2, seed=1))
    net = _net(N=N, n_in=4)
    model = _model(net)
    y = model.predict(a).y.values
    a = a.assign(targets=(("trial", "time", "output"), y),
                 mask=(("trial", "time", "output"), np.ones(y.shape)))
    return model, a, b


def test_rate_network_forgetting_matches_its_predictions_for_small_steps():
    model, a, b = _teacher_pair()
    err2, err1, dist = [], [], []
    for lr in (0.001, 0.003, 0.03):
        r = interference(model, a, b, iterations=20, optimizer=SGD(lr=lr),
                         progress=False).record
        assert r.attrs["loss_a_star"] < 1e-28 and r.attrs["grad_a_norm"] < 1e-12
        m = float(r.measured[-1])
        assert m > 0
        err2.append(abs(float(r.second_order[-1]) - m) / m)
        err1.append(abs(float(r.first_order[-1]) - m) / m)
        dist.append(float(r.distance[-1]))
    assert err2[0] < 0.02 and err1[0] < 0.1  # within 10% for small steps
    assert err2[0] < err2[1] < err2[2] and err1[0] < err1[2]
    # the second-order model errs by the cubic term: relative error ~ distance
    assert 0.5 < (err2[1] / err2[0]) / (dist[1] / dist[0]) < 2.0


def test_an_update_orthogonal_to_a_gradient_subspace_leaves_its_loss_unchanged_to_first_order():
    net, task = _net(N=6), _task(B=3, T=10)
    model = _model(net)
    proj = ctrnn.train.orthogonal_projection(model, task, energy=1.0)
    learner, theta = _evaluator(model, task, None, "test")
    names = list(theta)
    P = proj.basis.shape[0]
    assert proj.basis.shape[1] < P  # the subspace is not everything
    rng = np.random.default_rng(0)
    d = rng.normal(size=P)
    d_orth = d - proj.basis @ (proj.basis.T @ d)
    v0 = _flat(theta, names)

    def loss(v):
        return _naive_mse(_naive_outputs(_unflat(v, theta, names), net, task), task)

    eps = 1e-5
    slope = (loss(v0 + eps * d) - loss(v0 - eps * d)) / (2 * eps)
    slope_orth = (loss(v0 + eps * d_orth) - loss(v0 - eps * d_orth)) / (2 * eps)
    assert abs(slope) > 1e-2
    assert abs(slope_orth) < 1e-8 * abs(slope) * np.linalg.norm(d_orth) / np.linalg.norm(d)


# --- remedies -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flipflop_pair():
    a, b = ctrnn.tasks.multitask(ctrnn.tasks.flipflop(32, n_bits=2, duration=0.3, seed=0),
                                 ctrnn.tasks.flipflop(32, n_bits=2, duration=0.3, seed=1))
    N = 16
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=0.8, seed=0),
                            U=np.random.default_rng(0).normal(size=(N, 6)), tau=0.05)
    model_a = fit(net, a, n_outputs=4, iterations=400, batch_size=32, seed=0,
                  optimizer=Adam(lr=1e-2), progress=False)
    return model_a, a, b


def _loss(model, task):
    p = model.predict(task)
    return float((((p.y - p.targets) ** 2) * p.mask).sum() / p.mask.sum())


def test_remedies_reduce_forgetting(flipflop_pair):
    model_a, a, b = flipflop_pair
    before = _loss(model_a, a)
    remedies = {"plain": None,
                "ewc": ctrnn.train.ewc(model_a, a, strength=100.0, trials=16),
                "projection": ctrnn.train.orthogonal_projection(model_a, a, energy=1.0),
                "replay": ctrnn.train.replay(a, fraction=0.25)}
    after, learned = {}, {}
    for name, rem in remedies.items():
        mb = fit(model_a, b, iterations=150, batch_size=32, seed=1,
                 optimizer=Adam(lr=1e-2), remedy=rem, progress=False)
        after[name], learned[name] = _loss(mb, a), _loss(mb, b)
    assert after["plain"] > 5 * before  # it forgets
    for name in ("ewc", "projection", "replay"):
        assert after[name] < 0.5 * after["plain"], (name, after)
    assert learned["plain"] < 0.5 * _loss(model_a, b)  # and B is learned


def test_ewc_penalty_enters_the_loss_and_its_gradient(flipflop_pair):
    model_a, a, b = flipflop_pair
    pen = ctrnn.train.ewc(model_a, a, strength=3.0, trials=8)
    lr = 0.05
    kw = dict(batch_size=32, seed=1, optimizer=SGD(lr=lr), remedy=pen, progress=False)
    m2 = fit(model_a, b, iterations=2, **kw)
    h = m2.history
    assert float(h.loss[0]) == float(h.data_loss[0])  # at theta*: no penalty
    # after one step the penalty is strength / 2 sum F (theta - theta*)^2
    m1 = fit(model_a, b, iterations=1, **kw)
    th1 = m1.theta
    expect = 1.5 * sum(float(np.sum(pen.fisher[k] * (th1[k] - pen.theta[k]) ** 2))
                       for k in pen.theta)
    assert expect > 0
    assert np.isclose(float(h.loss[1] - h.data_loss[1]), expect, rtol=1e-9)
    # and the second step follows the data gradient plus strength F (theta - theta*)
    g = ctrnn.train.gradient(m1.network, m1.readout, b)
    for k in ("W", "U", "b", "C", "c"):
        want = th1[k] - lr * (g[k] + 3.0 * pen.fisher[k] * (th1[k] - pen.theta[k]))
        assert np.allclose(m2.theta[k], want, rtol=1e-10, atol=1e-13)


def test_projection_keeps_every_step_orthogonal(flipflop_pair):
    model_a, a, b = flipflop_pair
    proj = ctrnn.train.orthogonal_projection(model_a, a, n_directions=30)
    assert np.allclose(proj.basis.T @ proj.basis, np.eye(30), atol=1e-10)
    mb = fit(model_a, b, iterations=5, batch_size=32, seed=1, optimizer=Adam(lr=1e-2),
             remedy=proj, progress=False)
    d = np.concatenate([np.ravel(mb.theta[k] - model_a.theta[k]) for k in proj.names])
    assert np.linalg.norm(d) > 1e-3
    assert np.linalg.norm(proj.basis.T @ d) < 1e-12 * np.linalg.norm(d)
    # energy picks the fewest directions holding that share of the trace
    p99 = ctrnn.train.orthogonal_projection(model_a, a, energy=0.99, trials=8)
    lam = p99.eigenvalues
    full = ctrnn.train.orthogonal_projection(model_a, a, energy=1.0, trials=8).eigenvalues
    k = lam.size
    assert np.sum(full[:k]) >= 0.99 * np.sum(full) > np.sum(full[:k - 1])


def test_remedy_errors(flipflop_pair):
    model_a, a, b = flipflop_pair
    with pytest.raises(TypeError, match="remedy"):
        fit(model_a, b, iterations=1, batch_size=8, remedy="ewc", progress=False)
    with pytest.raises(ValueError, match="fraction"):
        ctrnn.train.replay(a, fraction=1.0)
    short = ctrnn.tasks.flipflop(8, n_bits=2, duration=0.2, seed=0)
    with pytest.raises(ValueError, match="multitask"):
        fit(model_a, b, iterations=1, batch_size=8,
            remedy=ctrnn.train.replay(short), progress=False)
    with pytest.raises(ValueError, match="trials"):
        fit(model_a, b, iterations=1, batch_size=32,
            remedy=ctrnn.train.replay(a.isel(trial=slice(0, 4))), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model_a, b, iterations=1, batch_size=1, remedy=ctrnn.train.replay(a),
            progress=False)
    with pytest.raises(ValueError, match="more than one replay"):
        fit(model_a, b, iterations=1, batch_size=8,
            remedy=[ctrnn.train.replay(a), ctrnn.train.replay(a)], progress=False)
    pen = ctrnn.train.ewc(model_a, a, trials=4)
    with pytest.raises(ValueError, match="Fisher"):
        bad = ctrnn.train.continual.EWC(pen.theta, {k: -v - 1 for k, v in pen.fisher.items()},
                                        1.0)
        fit(model_a, b, iterations=1, batch_size=8, remedy=bad, progress=False)
    proj = ctrnn.train.orthogonal_projection(model_a, a, n_directions=3, trials=4)
    with pytest.raises(ValueError, match="orthonormal"):
        bad = ctrnn.train.continual.Projection(2 * proj.basis, proj.names, proj.shapes,
                                               proj.eigenvalues)
        fit(model_a, b, iterations=1, batch_size=8, remedy=bad, progress=False)
    with pytest.raises(ValueError, match="frozen"):
        fit(model_a, b, iterations=1, batch_size=8, remedy=pen, frozen=("W",),
            progress=False)
    with pytest.raises(TypeError, match="Model"):
        ctrnn.train.ewc(model_a.network, a)
    with pytest.raises(ValueError, match="energy"):
        ctrnn.train.orthogonal_projection(model_a, a, energy=1.5)
    with pytest.raises(ValueError, match="n_directions"):
        ctrnn.train.orthogonal_projection(model_a, a, curvature="lanczos")
    with pytest.raises(ValueError, match="one of them"):
        ctrnn.train.orthogonal_projection(model_a, a, n_directions=5, energy=0.5)
    with pytest.raises(ValueError, match="at most"):
        ctrnn.train.orthogonal_projection(model_a, a, n_directions=10 ** 6,
                                          curvature="lanczos")
    # replay checks the old task's channels and dt
    swapped = a.assign_coords(input=a.input.values[::-1])
    with pytest.raises(ValueError, match="channels"):
        fit(model_a, b, iterations=1, batch_size=8, remedy=ctrnn.train.replay(swapped),
            progress=False)
    slow = a.assign_attrs(dt=2 * a.attrs["dt"])
    with pytest.raises(ValueError, match="dt"):
        fit(model_a, b, iterations=1, batch_size=8, remedy=ctrnn.train.replay(slow),
            progress=False)
    with pytest.warns(RuntimeWarning, match="channels"):
        fit(model_a, swapped, iterations=1, batch_size=8, progress=False)
    with pytest.warns(RuntimeWarning, match="channels"):
        model_a.predict(swapped)


# --- continuing from a Model ----------------------------------------------------------
def test_fit_continues_from_a_model(flipflop_pair):
    model_a, a, b = flipflop_pair
    lr = 0.05
    mb = fit(model_a, b, iterations=1, batch_size=32, seed=1, optimizer=SGD(lr=lr),
             progress=False)
    g = ctrnn.train.gradient(model_a.network, model_a.readout, b)
    for k in ("W", "U", "b", "C", "c"):
        assert np.allclose(mb.theta[k], model_a.theta[k] - lr * g[k], rtol=1e-12,
                           atol=1e-14)
    assert mb.method == model_a.method and mb.dt == model_a.dt
    # frozen parameters stay frozen
    m_fro = fit(model_a.network, a, n_outputs=4, iterations=2, batch_size=8, seed=0,
                frozen=("W",), progress=False)
    m_next = fit(m_fro, b, iterations=2, batch_size=8, seed=0, progress=False)
    assert np.array_equal(m_next.network.W, model_a.network.W)
    assert "W" not in m_next.theta
    with pytest.raises(ValueError, match="readout"):
        fit(model_a, b, readout=model_a.readout, iterations=1, batch_size=8,
            progress=False)
    with pytest.raises(ValueError, match="method"):
        fit(model_a, b, method="rk4", iterations=1, batch_size=8, progress=False)


def test_continuing_refuses_other_constraints(flipflop_pair):
    model_a, a, b = flipflop_pair
    net = model_a.network
    labels = np.where(np.arange(net.n_neurons) < 12, 1, -1)
    dnet = ctrnn.RateNetwork(np.abs(np.array(net.W)) * labels[None, :], U=net.U,
                             tau=net.tau_array, dale=labels)
    m = fit(dnet, a, n_outputs=4, iterations=1, batch_size=8, seed=0, progress=False)
    theta = {k: v.copy() for k, v in m.theta.items()}
    theta["W"][0, 1] *= -1  # the same network under dale="abs", another under "rectify"
    m2 = Model(m.network, m.readout, m.h0, m.history, m.method, m.dt, theta=theta,
               options=m.options)
    fit(m2, b, iterations=1, batch_size=8, progress=False)  # "abs": fine
    with pytest.raises(ValueError, match="constraints"):
        fit(m2, b, iterations=1, batch_size=8, dale="rectify", progress=False)


# --- interference: the record and its errors -------------------------------------------
def test_interference_record_and_errors():
    model, a, b = _teacher_pair(N=6, B=8)
    res = interference(model, a, b, iterations=3, optimizer=SGD(lr=0.01), n_eigen=4,
                       progress=False)
    r = res.record
    assert r.sizes == {"iteration": 4, "eigen": 4}
    assert float(r.measured[0]) == 0 and float(r.first_order[0]) == 0
    assert np.isclose(float(r.loss_a[0]), _loss(model, a), rtol=1e-10, atol=1e-15)
    assert np.isclose(float(r.loss_b[0]), _loss(model, b), rtol=1e-10)
    assert np.isclose(float(r.loss_a[-1]), _loss(res.model_b, a), rtol=1e-10)
    d = np.concatenate([np.ravel(res.model_b.theta[k] - _evaluator(model, a, None, "t")[1][k])
                        for k in r.attrs["parameters"].split(", ")])
    assert np.isclose(float(r.distance[-1]), np.linalg.norm(d), rtol=1e-10)
    lz = interference(model, a, b, iterations=3, optimizer=SGD(lr=0.01), n_eigen=4,
                      curvature="lanczos", progress=False).record
    assert np.allclose(lz.eigenvalue, r.eigenvalue, rtol=1e-7)
    assert np.allclose(np.abs(lz.overlap), np.abs(r.overlap), rtol=1e-5, atol=1e-12)
    with pytest.raises(ValueError, match="train_a"):
        interference(model, a, b, train_a=dict(iterations=3), progress=False)
    with pytest.raises(ValueError, match="feedback"):
        interference(model, a, b, feedback=ctrnn.train.teacher_forcing, progress=False)
    with pytest.raises(ValueError, match="readout"):
        interference(model, a, b, readout=model.readout, progress=False)
    with pytest.raises(TypeError, match="train_a"):
        interference(model.network, a, b, n_outputs=2, train_a=dict(iteration=3),
                     progress=False)
    with pytest.raises(TypeError, match="similarity"):
        ctrnn.tasks.teacher_student(2, similarity="0.5")
    with pytest.raises(TypeError, match="unknown"):
        interference(model, a, b, iterations=1, learning_rate=3, progress=False)
    with pytest.raises(TypeError, match="unknown"):  # before A is trained
        interference(model.network, a, b, learning_rate=3, progress=False,
                     train_a=dict(iterations=10 ** 9))
    with pytest.raises(ValueError, match="n_eigen"):
        interference(model, a, b, n_eigen=-1, progress=False)
    r = interference(model, a, b, iterations=2, clip_grad_norm=1e-3, optimizer=SGD(lr=1.0),
                     progress=False).record  # the step's norm is lr * 1e-3 at most
    assert 0 < float(r.distance[1]) <= 1e-3 * (1 + 1e-9)


# --- tasks in one layout ----------------------------------------------------------------
def test_multitask_layout():
    f1 = ctrnn.tasks.flipflop(3, n_bits=2, duration=0.2, seed=0)
    f2 = ctrnn.tasks.flipflop(4, n_bits=1, duration=0.1, seed=1)
    a, b = ctrnn.tasks.multitask(f1, f2)
    assert a.sizes == {"trial": 3, "time": 20, "input": 5, "output": 3}
    assert b.sizes == {"trial": 4, "time": 20, "input": 5, "output": 3}
    assert np.array_equal(a.inputs.values[:, :, :2], f1.inputs.values)
    assert np.all(a.inputs.values[:, :, 2] == 0) and np.all(a.inputs.values[:, :, 3] == 1)
    assert np.array_equal(b.inputs.values[:, :10, 2], f2.inputs.values[:, :, 0])
    assert np.all(b.inputs.values[:, 10:, 2] == 0)  # padded
    assert np.all(b.mask.values[:, 10:] == 0) and np.all(b.mask.values[:, :, :2] == 0)
    assert np.array_equal(b.mask.values[:, :10, 2], f2.mask.values[:, :, 0])
    assert np.array_equal(a.targets.values[:, :, :2], f1.targets.values)
    assert a.attrs["rule"] == 0 and b.attrs["rule"] == 1
    pd = ctrnn.tasks.perceptual_decision(2, seed=0)
    ci = ctrnn.tasks.context_integration(2, seed=0, dt=pd.attrs["dt"])
    p2, c2 = ctrnn.tasks.multitask(pd, ci)  # cross-entropy: shared outputs
    assert p2.sizes["output"] == pd.sizes["output"]
    assert "response" in p2 and p2.response.values.sum() == pd.response.values.sum()
    with pytest.raises(ValueError, match="loss"):
        ctrnn.tasks.multitask(f1, ctrnn.tasks.perceptual_decision(2, seed=0, dt=0.01))
    with pytest.raises(ValueError, match="dt"):
        ctrnn.tasks.multitask(f1, ctrnn.tasks.flipflop(2, dt=0.02, duration=0.2))
    with pytest.raises(ValueError, match="two"):
        ctrnn.tasks.multitask(f1)
    with pytest.raises(ValueError, match="shared"):
        ctrnn.tasks.multitask(pd, ci, shared_outputs=False)


def test_gauss_newton_of_an_lstm_equals_finite_differences_of_a_numpy_loop():
    from .naive import lstm_loop

    lstm = ctrnn.train.LSTM(2, 3, 1, seed=0)
    sd = lstm.state_dict()
    model = Model(lstm, Readout(sd["readout.weight"], sd["readout.bias"]), np.zeros(3),
                  xr.Dataset(), "lstm", None)
    task = _task(B=2, T=5, n_in=2, n_out=1)
    theta = _evaluator(model, task, None, "test")[1]
    names = list(theta)
    curv = gauss_newton(model, task)

    def outputs(p):
        return np.array([lstm_loop(x, np.zeros(3), np.zeros(3), p["weight_ih_l0"],
                                   p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"],
                                   p["readout.weight"], p["readout.bias"])[2]
                         for x in task.inputs.values])

    v0 = _flat(theta, names)
    J = []
    for i in range(v0.size):
        e = np.zeros_like(v0)
        e[i] = 1e-6
        J.append(((outputs(_unflat(v0 + e, theta, names))
                   - outputs(_unflat(v0 - e, theta, names))) / 2e-6).ravel())
    J = np.array(J).T
    m = task.mask.values.ravel()
    G = J.T @ (J * (2 * m / m.sum())[:, None])
    lam = np.linalg.eigvalsh(G)[::-1]
    assert np.allclose(curv.eigenvalue, lam[:curv.sizes["eigen"]], rtol=1e-6,
                       atol=1e-9 * lam[0])
    assert np.allclose(curv.diagonal, np.diag(G), rtol=1e-6, atol=1e-9 * lam[0])


# --- the other parametrisations and models -------------------------------------------
@pytest.mark.parametrize("kind", ["low_rank", "dale", "lstm"])
def test_interference_and_remedies_for_other_models(kind, flipflop_pair):
    """Continuing, the curvature and the remedies for a low-rank network (W0 + M N^T / n,
    theta M and N), a Dale network and an LSTM: each starts B from A's exact parameters
    and the first-order prediction follows the measured forgetting for small steps."""
    _, a, b = flipflop_pair
    if kind == "lstm":
        net, opts = ctrnn.train.LSTM(6, 8, 4, seed=0), {}
    elif kind == "dale":
        W, labels = ctrnn.connectivity.dale(12, 4, seed=0)
        net = ctrnn.RateNetwork(0.5 * W, U=np.random.default_rng(0).normal(size=(16, 6)),
                                tau=0.05, dale=labels)
        opts = {}
    else:
        net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(16, g=0.8, seed=0),
                                U=np.random.default_rng(0).normal(size=(16, 6)), tau=0.05)
        opts = {"low_rank": 2}
    model_a = fit(net, a, iterations=30, batch_size=16, seed=0, optimizer=Adam(lr=1e-2),
                  progress=False, **({} if kind == "lstm" else {"n_outputs": 4}), **opts)
    cont = fit(model_a, b, iterations=1, batch_size=8, seed=0, optimizer=SGD(lr=1e-12),
               progress=False)
    for k in model_a.theta:  # B starts exactly at A's parameters
        assert np.allclose(cont.theta[k], model_a.theta[k], rtol=1e-9, atol=1e-12)
    if kind == "low_rank":
        assert set(model_a.theta) == {"M", "Nv", "U", "b", "C", "c"}
        assert np.allclose(cont.network.W, model_a.network.W, rtol=1e-9, atol=1e-12)
    r = interference(model_a, a, b, iterations=10, optimizer=SGD(lr=1e-3), batch_size=16,
                     trials=4, progress=False).record
    m = float(r.measured[-1])
    assert abs(m) > 1e-5 and abs(float(r.first_order[-1]) - m) < 0.1 * abs(m)
    for rem in (ctrnn.train.ewc(model_a, a, trials=4),
                ctrnn.train.orthogonal_projection(model_a, a, n_directions=5, trials=4),
                ctrnn.train.replay(a)):
        fit(model_a, b, iterations=2, batch_size=8, seed=0, remedy=rem, progress=False)
