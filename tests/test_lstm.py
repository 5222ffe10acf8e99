"""The LSTM (ctrnn.train.LSTM), output feedback and scheduled sampling, closed-loop
generation, and the sequence tasks: against the equations written out in NumPy
(tests/naive.py), central finite differences and the schedules' formulas."""
import math
import warnings

import numpy as np
import pytest
import xarray as xr

import ctrnn
from ctrnn.train import lstm as L
from ctrnn.train import sampling

from . import naive

N_IN, H, N_OUT, B, T = 3, 5, 2, 4, 7


def _lstm(seed=0, **kw):
    return ctrnn.train.LSTM(N_IN, H, N_OUT, seed=seed, **kw)


def _task(rng, B=B, T=T, n_in=N_IN, n_out=N_OUT, mask=True):
    m = (rng.random((B, T, n_out)) > 0.3).astype(float) if mask else np.ones((B, T, n_out))
    return xr.Dataset({"inputs": (("trial", "time", "input"), rng.normal(size=(B, T, n_in))),
                       "targets": (("trial", "time", "output"), rng.normal(size=(B, T, n_out))),
                       "mask": (("trial", "time", "output"), m)}, attrs={"dt": 0.1})


def _naive(p, x, h0=None, c0=None):
    z = np.zeros(p["weight_hh_l0"].shape[1])
    return naive.lstm_loop(x, z if h0 is None else h0, z if c0 is None else c0,
                           p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                           p["bias_hh_l0"], p["readout.weight"], p["readout.bias"])


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


# --- forward, layout, state dict ---------------------------------------------------------
def test_forward_matches_the_equations_written_out(rng):
    lstm = _lstm(forget_bias=1.0)
    x = rng.normal(size=(B, T, N_IN))
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    ds = lstm.run(x, h0=h0, c0=c0)
    p = lstm.state_dict()
    for r in range(B):
        h, c, y = _naive(p, x[r], h0[r], c0[r])
        np.testing.assert_allclose(ds.h.values[r], h, rtol=0, atol=1e-14)
        np.testing.assert_allclose(ds.c.values[r], c, rtol=0, atol=1e-14)
        np.testing.assert_allclose(ds.y.values[r], y, rtol=0, atol=1e-14)
    # float32 computes in float32, within its precision of the float64 result
    ds32 = ctrnn.train.LSTM.from_state_dict(p, dtype="float32").run(x, h0=h0, c0=c0)
    assert ds32.h.dtype == np.float32
    np.testing.assert_allclose(ds32.y.values, ds.y.values, atol=2e-6)


def test_a_torch_layout_state_dict_built_with_numpy_gives_the_equations(rng):
    """A mapping under nn.LSTM's names (with a module prefix, as a model holding an
    nn.LSTM saves it); gate order i, f, g, o: checked by giving only the forget gate a
    large bias, which must keep the cell and nothing else."""
    Hh = 4
    k = 1 / math.sqrt(Hh)
    sd = {"lstm.weight_ih_l0": rng.uniform(-k, k, (4 * Hh, 2)),
          "lstm.weight_hh_l0": rng.uniform(-k, k, (4 * Hh, Hh)),
          "lstm.bias_ih_l0": rng.uniform(-k, k, 4 * Hh),
          "lstm.bias_hh_l0": rng.uniform(-k, k, 4 * Hh),
          "readout.weight": rng.uniform(-k, k, (1, Hh)), "readout.bias": np.zeros(1)}
    lstm = ctrnn.train.LSTM.from_state_dict(sd)
    assert (lstm.n_inputs, lstm.n_hidden, lstm.n_outputs) == (2, Hh, 1)
    x = rng.normal(size=(6, 2))
    p = {k.removeprefix("lstm."): v for k, v in sd.items()}
    h, c, y = _naive(p, x)
    ds = lstm.run(x)
    np.testing.assert_allclose(ds.y.values, y, atol=1e-14)
    # gate order: a huge forget-gate bias (rows H..2H) and a closed input gate (rows
    # 0..H) hold the cell at c0 whatever the inputs
    sd2 = dict(sd)
    sd2["lstm.bias_ih_l0"] = np.zeros(4 * Hh)
    sd2["lstm.bias_ih_l0"][Hh:2 * Hh] = 1e3
    sd2["lstm.bias_ih_l0"][:Hh] = -1e3
    c0 = rng.normal(size=Hh)
    ds2 = ctrnn.train.LSTM.from_state_dict(sd2).run(x, c0=c0)
    np.testing.assert_array_equal(ds2.c.values[-1], c0)


def test_state_dict_round_trip_and_copies():
    a = _lstm(seed=3, forget_bias=1.0)
    sd = a.state_dict()
    assert set(sd) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                       "readout.weight", "readout.bias"}
    assert sd["weight_ih_l0"].shape == (4 * H, N_IN) and sd["bias_hh_l0"].shape == (4 * H,)
    # the forget gate's bias sum is 1, as asked
    np.testing.assert_array_equal((sd["bias_ih_l0"] + sd["bias_hh_l0"])[H:2 * H], 1.0)
    b = ctrnn.train.LSTM.from_state_dict(sd)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    sd["weight_hh_l0"][:] = 0  # a copy: the LSTM is unchanged
    assert np.any(a.weight_hh_l0 != 0)
    with pytest.raises(ValueError, match="read-only"):
        a.weight_hh_l0[0, 0] = 1.0


def test_state_dict_errors_name_what_is_wrong():
    sd = _lstm().state_dict()
    with pytest.raises(ValueError, match="lacks.*bias_hh_l0"):
        ctrnn.train.LSTM.from_state_dict({k: v for k, v in sd.items() if k != "bias_hh_l0"})
    bad = dict(sd, weight_hh_l0=np.zeros((4 * H, H + 1)))
    with pytest.raises(ValueError, match="weight_hh_l0"):
        ctrnn.train.LSTM.from_state_dict(bad)
    no_readout = {k: v for k, v in sd.items() if not k.startswith("readout")}
    with pytest.raises(ValueError, match="n_outputs"):
        ctrnn.train.LSTM.from_state_dict(no_readout)
    assert ctrnn.train.LSTM.from_state_dict(no_readout, n_outputs=3, seed=0).n_outputs == 3
    with pytest.raises(ValueError, match="dtype"):
        ctrnn.train.LSTM(1, 2, 1, dtype="float16")
    with pytest.raises(ValueError, match=r"\(trial, time, 3\)"):
        _lstm().run(np.zeros((2, 4, 2)))


# --- gradients ---------------------------------------------------------------------------
def _loss_and_grads(p, x, tg, m, h0, c0, dh=None, dc=None):
    f = L.forward(p, x, h0, c0, np.float64)
    loss, ybar = ctrnn.train.losses.mse(f.y, tg, m)
    g, _ = L.backward(p, f, ybar, np.float64, dh=dh, dc=dc)
    return loss, g, f


def test_gradients_match_central_finite_differences(rng):
    p = _lstm(forget_bias=1.0).state_dict()
    x = rng.normal(size=(B, T, N_IN))
    tg = rng.normal(size=(B, T, N_OUT))
    m = (rng.random((B, T, N_OUT)) > 0.3).astype(float)
    h0, c0 = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    _, g, _ = _loss_and_grads(p, x, tg, m, h0, c0)

    def loss(q, h=h0, c=c0):
        return _loss_and_grads(q, x, tg, m, h, c)[0]
    eps = 1e-6
    for name, v in list(p.items()) + [("h0", h0), ("c0", c0)]:
        fd = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            up, dn = v.copy(), v.copy()
            up[idx] += eps
            dn[idx] -= eps
            if name in ("h0", "c0"):
                kw = {"h": up, "c": c0} if name == "h0" else {"h": h0, "c": up}
                lo = {"h": dn, "c": c0} if name == "h0" else {"h": h0, "c": dn}
                fd[idx] = (loss(p, **kw) - loss(p, **lo)) / (2 * eps)
            else:
                fd[idx] = (loss({**p, name: up}) - loss({**p, name: dn})) / (2 * eps)
        assert _rel(g[name], fd) < 1e-6, name


def test_state_and_gradient_carried_across_pieces(rng):
    """A sequence run in two pieces, the state of the first handed to the second and the
    second's dL/dh0, dL/dc0 handed back: the same states and gradient as one run."""
    p = _lstm(seed=1).state_dict()
    T2 = 12
    x = rng.normal(size=(B, T2, N_IN))
    tg = rng.normal(size=(B, T2, N_OUT))
    m = np.ones_like(tg)
    z = np.zeros((B, H))
    f = L.forward(p, x, z, z, np.float64)
    ybar = ctrnn.train.losses.mse(f.y, tg, m)[1]
    g, _ = L.backward(p, f, ybar, np.float64)
    k = 5
    f1 = L.forward(p, x[:, :k], z, z, np.float64)
    hk, ck = f1.Hs[-1], f1.Cs[-1]
    f2 = L.forward(p, x[:, k:], hk, ck, np.float64)
    np.testing.assert_allclose(f2.y, f.y[:, k:], rtol=0, atol=1e-14)
    g2, _ = L.backward(p, f2, ybar[:, k:], np.float64)
    g1, _ = L.backward(p, f1, ybar[:, :k], np.float64, dh=g2["h0"], dc=g2["c0"])
    for name in p:
        np.testing.assert_allclose(g1[name] + g2[name], g[name], rtol=1e-12, atol=1e-15)


def test_cell_path_carries_the_state_and_its_gradient_unchanged():
    """f = 1 and i = 0 (biases +60 and -1000; sigmoid(60) rounds to 1 exactly): the cell
    state is carried unchanged over 1,000 steps and dc_1000/dc_0 is 1 (the constant error
    carousel)."""
    Hh, Tn = 3, 1000
    lstm = ctrnn.train.LSTM(1, Hh, 1, seed=0)
    sd = lstm.state_dict()
    sd["weight_hh_l0"][:] = 0
    sd["weight_ih_l0"][:] = 0
    sd["bias_hh_l0"][:] = 0
    b = np.zeros(4 * Hh)
    b[:Hh] = -1000.0  # input gate closed
    b[Hh:2 * Hh] = 60.0  # forget gate open
    sd["bias_ih_l0"] = b
    c0 = np.array([[0.5, -0.3, 1.2]])
    x = np.random.default_rng(0).normal(size=(1, Tn, 1))
    f = L.forward(sd, x, np.zeros((1, Hh)), c0, np.float64)
    np.testing.assert_array_equal(f.Cs[-1], c0)
    # loss on the last output only: dL/dc_0 = dL/dc_T exactly
    ybar = np.zeros((1, Tn, 1))
    ybar[0, -1, 0] = 1.0
    g, _ = L.backward(sd, f, ybar, np.float64)
    o = 1 / (1 + np.exp(-sd["bias_ih_l0"][3 * Hh:]))
    tc = np.tanh(c0[0])
    dcT = sd["readout.weight"][0] * o * (1 - tc * tc)
    # carried exactly over the 1,000 steps; dcT here and in the kernel (its own tanh,
    # within 3 ulp of numpy's, and sigmoid) may differ in the last bits: a leak of one
    # ulp a step would show as ~2e-13
    np.testing.assert_allclose(g["c0"][0] / dcT, np.ones(Hh), rtol=1e-15, atol=0)


def test_gradient_and_gradient_norms_of_an_lstm(rng):
    lstm = _lstm(forget_bias=1.0)
    task = _task(rng)
    g = ctrnn.train.gradient(lstm, None, task)
    x = task.inputs.values
    f = L.forward(lstm.state_dict(), x, np.zeros((B, H)), np.zeros((B, H)), np.float64)
    loss, _ = ctrnn.train.losses.mse(f.y, task.targets.values, task.mask.values)
    assert g["loss"] == pytest.approx(loss, rel=1e-14)
    assert g["weight_hh_l0"].shape == (4 * H, H) and g["c0"].shape == (H,)
    n = ctrnn.train.gradient_norms(lstm, None, task)
    assert n.dims == ("trial", "time") and n.shape == (B, T + 1)
    # ||dL/dh_T||: the last output's error through the readout
    last = L.forward(lstm.state_dict(), x, np.zeros((B, H)), np.zeros((B, H)), np.float64)
    yb = ctrnn.train.losses.mse(last.y, task.targets.values, task.mask.values)[1]
    np.testing.assert_allclose(n.values[:, -1],
                               np.linalg.norm(yb[:, -1] @ lstm.C, axis=1), rtol=1e-12)
    with pytest.raises(ValueError, match="own readout"):
        ctrnn.train.gradient(lstm, (np.ones((2, H)), np.zeros(2)), task)
    with pytest.raises(ValueError, match="method"):
        ctrnn.train.gradient(lstm, None, task, method="rk4")


# --- training ----------------------------------------------------------------------------
def test_fit_trains_an_lstm_and_resumes_bit_for_bit(tmp_path, rng):
    x = rng.normal(size=(64, 15, 1))
    task = xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), np.cumsum(x, 1) / 4)})
    lstm = ctrnn.train.LSTM(1, 12, 1, seed=0, forget_bias=1.0)
    kw = dict(iterations=60, batch_size=16, optimizer=ctrnn.train.Adam(lr=1e-2), seed=0,
              progress=False)
    model = ctrnn.train.fit(lstm, task, **kw)
    assert model.history.loss.values[-1] < 0.2 * model.history.loss.values[0]
    assert isinstance(model.network, ctrnn.train.LSTM)
    pred = model.predict(task)
    assert set(pred.data_vars) >= {"h", "c", "y", "targets"}
    ck = tmp_path / "lstm.nc"
    part = ctrnn.train.fit(lstm, task, checkpoint=ck, **{**kw, "iterations": 25})
    assert not part.interrupted
    resumed = ctrnn.train.fit(lstm, task, checkpoint=ck, **kw)
    for k, v in model.network.state_dict().items():
        np.testing.assert_array_equal(resumed.network.state_dict()[k], v)
    # frozen parameters stay as they were
    fz = ctrnn.train.fit(lstm, task, frozen=["weight_hh_l0"], **{**kw, "iterations": 5})
    np.testing.assert_array_equal(fz.network.weight_hh_l0, lstm.weight_hh_l0)
    # float32 trains too
    m32 = ctrnn.train.fit(ctrnn.train.LSTM(1, 12, 1, seed=0, dtype="float32"), task,
                          **{**kw, "iterations": 30})
    assert m32.network.dtype == np.float32
    assert m32.history.loss.values[-1] < m32.history.loss.values[0]


def test_fit_refuses_rate_network_options_for_an_lstm(rng):
    task = _task(rng)
    with pytest.raises(ValueError, match="dale.*not of the LSTM"):
        ctrnn.train.fit(_lstm(), task, dale="abs", iterations=1, batch_size=2)
    with pytest.raises(ValueError, match="as many inputs"):
        ctrnn.train.fit(ctrnn.train.LSTM(2, H, N_OUT), task, iterations=1, batch_size=2)
    with pytest.raises(ValueError, match="frozen"):
        ctrnn.train.fit(_lstm(), task, frozen=["W"], iterations=1, batch_size=2)


# --- sampling schedules and feedback -------------------------------------------------------
def test_schedules_follow_their_formulas():
    i = np.arange(0, 5000, 37)
    lin = ctrnn.train.scheduled_sampling("linear", k=0.9, c=2e-4, eps_min=0.05)
    np.testing.assert_allclose([lin.eps(j) for j in i], np.maximum(0.05, 0.9 - 2e-4 * i))
    ex = ctrnn.train.scheduled_sampling("exponential", k=0.999)
    np.testing.assert_allclose([ex.eps(j) for j in i], 0.999 ** i, rtol=1e-12)
    inv = ctrnn.train.scheduled_sampling("inverse_sigmoid", k=200)
    np.testing.assert_allclose([inv.eps(j) for j in i], 200 / (200 + np.exp(i / 200)),
                               rtol=1e-12)
    assert ctrnn.train.teacher_forcing.eps(10**6) == 1.0
    assert ctrnn.train.free_running.eps(0) == 0.0
    with pytest.raises(ValueError, match="0 < k < 1"):
        ctrnn.train.scheduled_sampling("exponential", k=1.5)
    with pytest.raises(ValueError, match="k >= 1"):
        ctrnn.train.scheduled_sampling("inverse_sigmoid", k=0.5)
    with pytest.raises(ValueError, match="schedule="):
        ctrnn.train.scheduled_sampling("cosine")
    with pytest.raises(TypeError, match="takes"):
        ctrnn.train.scheduled_sampling("linear", q=1)
    # the draws: a fraction eps of truth, repeatable from the seed and iteration
    ss = np.random.SeedSequence(0)
    half = ctrnn.train.scheduled_sampling(lambda j: 0.5)
    t1, t2 = half.take(ss, 3, 200, 100), half.take(ss, 3, 200, 100)
    np.testing.assert_array_equal(t1, t2)
    assert abs(t1.mean() - 0.5) < 0.02
    assert not np.array_equal(t1, half.take(ss, 4, 200, 100))


def _feedback_task(rng, B=3, T=8, n_ext=1, n_out=2):
    """Inputs: n_ext external channels, then n_out channels holding the previous target."""
    tg = rng.normal(size=(B, T, n_out))
    prev = np.concatenate([rng.normal(size=(B, 1, n_out)), tg[:, :-1]], axis=1)
    x = np.concatenate([rng.normal(size=(B, T, n_ext)), prev], axis=2)
    return xr.Dataset({"inputs": (("trial", "time", "input"), x),
                       "targets": (("trial", "time", "output"), tg)}, attrs={"dt": 0.1})


def test_lstm_free_running_feeds_its_outputs_and_the_gradient_stops_there(rng):
    lstm = _lstm(seed=2)
    task = _feedback_task(rng)
    p = lstm.state_dict()
    x = task.inputs.values
    Bn, Tn = x.shape[:2]
    g_free = ctrnn.train.gradient(lstm, None, task, feedback=ctrnn.train.free_running)
    # the written-out closed loop: what the network receives and outputs
    z = np.zeros(H)
    fed = np.empty_like(x)
    for r in range(Bn):
        h, c, y, xs = naive.lstm_closed_loop(x[r], np.zeros(Tn, bool), z, z,
                                             p["weight_ih_l0"], p["weight_hh_l0"],
                                             p["bias_ih_l0"], p["bias_hh_l0"],
                                             p["readout.weight"], p["readout.bias"])
        fed[r] = xs
    # what was fed is what the model outputs when run open loop on the fed inputs
    y_open = lstm.run(fed).y.values
    np.testing.assert_allclose(fed[:, 1:, -N_OUT:], y_open[:, :-1], atol=1e-14)
    np.testing.assert_array_equal(fed[:, 0], x[:, 0])  # step 0 always gets the truth
    # the gradient is that of teacher forcing on the inputs received (fed outputs are
    # constants), and so that of central differences with those inputs held fixed
    g_fixed = ctrnn.train.gradient(lstm, None, task.assign(inputs=(task.inputs.dims, fed)))
    for k in p:
        np.testing.assert_allclose(g_free[k], g_fixed[k], rtol=1e-12, atol=1e-14)
    # scheduled sampling with eps = 1 is teacher forcing and eps = 0 free running
    tf = ctrnn.train.gradient(lstm, None, task, feedback=ctrnn.train.teacher_forcing)
    plain = ctrnn.train.gradient(lstm, None, task)
    s1 = ctrnn.train.gradient(lstm, None, task,
                              feedback=ctrnn.train.scheduled_sampling(lambda i: 1.0))
    s0 = ctrnn.train.gradient(lstm, None, task,
                              feedback=ctrnn.train.scheduled_sampling("linear", k=0.0))
    for k in p:
        np.testing.assert_array_equal(s1[k], tf[k])
        np.testing.assert_array_equal(tf[k], plain[k])
        np.testing.assert_array_equal(s0[k], g_free[k])


def test_rate_network_free_running_feeds_its_outputs_and_the_gradient_stops_there(rng):
    N = 6
    W = rng.normal(0, 1.0 / np.sqrt(N), (N, N))
    net = ctrnn.RateNetwork(W, U=rng.normal(size=(N, 3)), b=rng.normal(0, 0.1, N), tau=0.5)
    C, c = rng.normal(size=(2, N)) / np.sqrt(N), rng.normal(size=2) * 0.1
    task = _feedback_task(rng)
    x = task.inputs.values
    Bn, Tn = x.shape[:2]
    take = ctrnn.train.scheduled_sampling(lambda i: 0.5).take(np.random.SeedSequence(0), 0,
                                                              Bn, Tn)
    g_ss = ctrnn.train.gradient(net, (C, c), task, seed=0,
                                feedback=ctrnn.train.scheduled_sampling(lambda i: 0.5))
    fed = np.empty_like(x)
    for r in range(Bn):
        _, fed[r] = naive.euler_closed_loop(np.zeros(N), net.W, net.U, net.b, 0.5, "tanh",
                                            0.1, x[r], take[r], C, c)
    assert np.any(fed != x)
    g_fixed = ctrnn.train.gradient(net, (C, c), task.assign(inputs=(task.inputs.dims, fed)))
    for k in ("W", "U", "b", "C", "c", "tau"):
        np.testing.assert_allclose(g_ss[k], g_fixed[k], rtol=1e-10, atol=1e-14)
    g_free = ctrnn.train.gradient(net, (C, c), task, feedback=ctrnn.train.free_running)
    s0 = ctrnn.train.gradient(net, (C, c), task,
                              feedback=ctrnn.train.scheduled_sampling(lambda i: 0.0))
    np.testing.assert_array_equal(s0["W"], g_free["W"])
    with pytest.raises(ValueError, match="last 2 input channels"):
        ctrnn.train.gradient(ctrnn.RateNetwork(W, U=np.ones((N, 1))), (C, c),
                             task.isel(input=[0]), feedback=ctrnn.train.free_running)


def test_generate_runs_closed_loop(rng):
    lstm = ctrnn.train.LSTM(1, 6, 1, seed=4)
    p = lstm.state_dict()
    warm = rng.normal(size=(10, 1))
    ds = ctrnn.train.generate(lstm, warmup=warm, n_steps=15)
    x = np.zeros((24, 1))
    x[:10] = warm
    take = np.arange(24) < 10
    z = np.zeros(6)
    _, _, y, _ = naive.lstm_closed_loop(x, take, z, z, p["weight_ih_l0"], p["weight_hh_l0"],
                                        p["bias_ih_l0"], p["bias_hh_l0"],
                                        p["readout.weight"], p["readout.bias"])
    np.testing.assert_allclose(ds.y.values, y[9:], atol=1e-14)
    assert ds.y.dims == ("time", "output") and ds.sizes["time"] == 15
    # a rate network's model from fit
    N = 8
    W = rng.normal(0, 0.8 / np.sqrt(N), (N, N))
    net = ctrnn.RateNetwork(W, U=rng.normal(size=(N, 1)), tau=0.5)
    ro = ctrnn.train.Readout(rng.normal(size=(1, N)) / np.sqrt(N), np.zeros(1))
    model = ctrnn.train.Model(net, ro, np.zeros(N), xr.Dataset(), "euler", 0.1)
    out = ctrnn.train.generate(model, warmup=warm[None], n_steps=15)
    H_ref, _ = naive.euler_closed_loop(np.zeros(N), W, net.U, net.b, 0.5, "tanh", 0.1, x,
                                       take, ro.C, ro.c)
    np.testing.assert_allclose(out.y.values[0], (H_ref[1:] @ ro.C.T + ro.c)[9:], atol=1e-13)
    with pytest.raises(ValueError, match="warmup|inputs"):
        ctrnn.train.generate(lstm, warmup=np.zeros((5, 2)), n_steps=3)
    with pytest.raises(TypeError, match="Model or LSTM"):
        ctrnn.train.generate(net, warmup=warm, n_steps=3)


def test_fit_with_feedback_modes(rng):
    s = ctrnn.tasks.oscillators(600, frequencies=(0.3,))
    task = ctrnn.tasks.sequence_prediction(s, n_trials=32, length=40, seed=0)
    lstm = ctrnn.train.LSTM(1, 10, 1, seed=0, forget_bias=1.0)
    kw = dict(iterations=40, batch_size=8, optimizer=ctrnn.train.Adam(lr=1e-2), seed=0,
              progress=False)
    a = ctrnn.train.fit(lstm, task, feedback=ctrnn.train.scheduled_sampling(
        "inverse_sigmoid", k=5), **kw)
    b = ctrnn.train.fit(lstm, task, feedback=ctrnn.train.scheduled_sampling(
        "inverse_sigmoid", k=5), **kw)
    np.testing.assert_array_equal(a.history.loss, b.history.loss)  # seeded: repeats
    tf = ctrnn.train.fit(lstm, task, feedback="teacher_forcing", **kw)
    none = ctrnn.train.fit(lstm, task, **kw)
    np.testing.assert_array_equal(tf.history.loss, none.history.loss)
    with pytest.raises(TypeError, match="feedback="):
        ctrnn.train.fit(lstm, task, feedback="sometimes", **kw)


# --- sequence tasks ----------------------------------------------------------------------
def test_adding_problem_layout_and_trivial_predictor():
    ds = ctrnn.tasks.adding_problem(4000, lag=60, seed=0)
    x, y, m = ds.inputs.values, ds.targets.values, ds.mask.values
    assert x.shape == (4000, 60, 2)
    np.testing.assert_array_equal(x[:, :, 1].sum(axis=1), 2.0)
    first, second = ds.first.values, ds.second.values
    assert first.max() < 30 <= second.min()
    rows = np.arange(4000)
    np.testing.assert_allclose(y[:, -1, 0], x[rows, first, 0] + x[rows, second, 0])
    assert m[:, :-1].sum() == 0 and np.all(m[:, -1] == 1)
    trivial = np.mean((y[:, -1, 0] - 1.0) ** 2)  # always answer 1
    assert abs(trivial - 1 / 6) < 0.01 and ds.attrs["trivial_mse"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="lag"):
        ctrnn.tasks.adding_problem(2, lag=1)


def test_copy_memory_layout():
    ds = ctrnn.tasks.copy_memory(3, lag=4, length=3, n_symbols=5, seed=1)
    x, y, m = ds.inputs.values, ds.targets.values, ds.mask.values
    assert x.shape == (3, 2 * 3 + 4 + 1, 7) and y.shape == (3, 11, 6)
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)  # one-hot inputs
    np.testing.assert_array_equal(y.sum(axis=2), 1.0)
    shown = x[:, :3, :5].argmax(axis=2)
    recalled = y[:, -3:, :5].argmax(axis=2)
    np.testing.assert_array_equal(shown, recalled)
    assert np.all(x[:, 7, 6] == 1)  # the cue, after 3 symbols and a lag of 4
    assert m[:, :8].sum() == 0 and np.all(m[:, 8:] == 1)
    assert ds.attrs["loss"] == "cross_entropy"


def test_sequence_prediction_windows():
    s = ctrnn.tasks.mackey_glass(300, seed=0)
    ds = ctrnn.tasks.sequence_prediction(s, n_trials=5, length=50, seed=2)
    for r, st in enumerate(ds.start.values):
        np.testing.assert_array_equal(ds.inputs.values[r, :, 0], s[st:st + 50, 0])
        np.testing.assert_array_equal(ds.targets.values[r, :, 0], s[st + 1:st + 51, 0])
    with pytest.raises(ValueError, match="length=400"):
        ctrnn.tasks.sequence_prediction(s, n_trials=2, length=400)


def test_weights_move_to_and_from_torch(rng):
    """With PyTorch installed (a peer, not a dependency): an nn.LSTM's state dict gives
    its outputs here, and ours loads back into nn.LSTM."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tl = torch.nn.LSTM(N_IN, H, batch_first=True).double()
    sd = {k: v.detach().numpy() for k, v in tl.state_dict().items()}
    lstm = ctrnn.train.LSTM.from_state_dict(sd, n_outputs=1, seed=0)
    x = rng.normal(size=(B, T, N_IN))
    h_torch = tl(torch.tensor(x))[0].detach().numpy()
    np.testing.assert_allclose(lstm.run(x).h.values, h_torch, atol=1e-13)
    back = torch.nn.LSTM(N_IN, H, batch_first=True).double()
    back.load_state_dict({k: torch.tensor(v) for k, v in lstm.state_dict().items()
                          if not k.startswith("readout")})
    np.testing.assert_allclose(back(torch.tensor(x))[0].detach().numpy(), h_torch, atol=0)


def test_interior_gradient_norms_match_finite_differences(rng):
    """||dL/dh_k|| at an interior step k: the sequence cut at k, the terms of the loss
    that depend on h_k differentiated by central differences (c_k held)."""
    lstm = _lstm(seed=5)
    task = _task(rng, T=9, mask=False)
    n = ctrnn.train.gradient_norms(lstm, None, task).values
    p = lstm.state_dict()
    x, tg, m = task.inputs.values, task.targets.values, task.mask.values
    z = np.zeros((B, H))
    total = m.sum()
    for k in (2, 5):
        f1 = L.forward(p, x[:, :k], z, z, np.float64)
        hk, ck = f1.Hs[-1], f1.Cs[-1]

        def loss2(h):  # every term that depends on h_k: y_{k-1} = C h_k + c, and later
            y = L.forward(p, x[:, k:], h, ck, np.float64).y
            y_prev = h @ p["readout.weight"].T + p["readout.bias"]
            return (np.sum(m[:, k:] * (y - tg[:, k:]) ** 2)
                    + np.sum(m[:, k - 1] * (y_prev - tg[:, k - 1]) ** 2)) / total
        fd = np.zeros_like(hk)
        for idx in np.ndindex(hk.shape):
            up, dn = hk.copy(), hk.copy()
            up[idx] += 1e-6
            dn[idx] -= 1e-6
            fd[idx] = (loss2(up) - loss2(dn)) / 2e-6
        np.testing.assert_allclose(n[:, k], np.linalg.norm(fd, axis=1), rtol=1e-6)


def test_float32_gradients_agree_with_float64(rng):
    lstm = _lstm(seed=6, forget_bias=1.0)
    task = _task(rng)
    g64 = ctrnn.train.gradient(lstm, None, task)
    g32 = ctrnn.train.gradient(ctrnn.train.LSTM.from_state_dict(lstm.state_dict(),
                                                                dtype="float32"), None, task)
    for k in lstm.state_dict():
        assert _rel(g32[k], g64[k]) < 1e-5, k


def test_one_trial_feedback_leaves_the_task_unchanged(rng):
    task = _feedback_task(rng, B=1)
    before = task.inputs.values.copy()
    ctrnn.train.gradient(_lstm(), None, task, feedback="free_running")
    np.testing.assert_array_equal(task.inputs.values, before)


def test_feedback_float32_has_no_cancellation(rng):
    """Large inputs in the fed channels: float32 free running stays within float32's
    precision of float64 (the fed share is added once, not subtracted and re-added)."""
    lstm = _lstm(seed=7)
    task = _feedback_task(rng)
    task["inputs"][..., -N_OUT:] *= 1e6
    g64 = L.forward(lstm.state_dict(), task.inputs.values, np.zeros((3, H)),
                    np.zeros((3, H)), np.float64, n_fb=N_OUT, take=np.zeros((3, 8), bool))
    g32 = L.forward(lstm.state_dict(), task.inputs.values, np.zeros((3, H)),
                    np.zeros((3, H)), np.float32, n_fb=N_OUT, take=np.zeros((3, 8), bool))
    # step 0 takes the huge truth; after it, only model outputs are fed
    np.testing.assert_allclose(g32.y[:, 1:], g64.y[:, 1:], atol=1e-5)


def test_fit_with_feedback_on_a_rate_network_and_resume_checks_the_mode(tmp_path, rng):
    s = ctrnn.tasks.oscillators(600, frequencies=(0.3,))
    task = ctrnn.tasks.sequence_prediction(s, n_trials=16, length=30, seed=0, dt=0.1)
    N = 20
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(N, g=0.8, seed=0),
                            U=rng.normal(size=(N, 1)), tau=0.5)
    kw = dict(n_outputs=1, iterations=6, batch_size=8, seed=0, progress=False,
              optimizer=ctrnn.train.Adam(lr=1e-2))
    free = ctrnn.train.fit(net, task, feedback="free_running", **kw)
    tf = ctrnn.train.fit(net, task, feedback="teacher_forcing", **kw)
    assert free.history.loss.values[0] != tf.history.loss.values[0]
    np.testing.assert_array_equal(free.history.eps, 0.0)
    np.testing.assert_array_equal(tf.history.eps, 1.0)
    assert np.all(np.isnan(ctrnn.train.fit(net, task, **kw).history.eps))
    ck = tmp_path / "fb.nc"
    ctrnn.train.fit(net, task, feedback="free_running", checkpoint=ck, **kw)
    for other in ("teacher_forcing", None):  # another mode, or none, is refused
        with pytest.raises(ValueError, match="feedback"):
            ctrnn.train.fit(net, task, feedback=other, checkpoint=ck,
                            **{**kw, "iterations": 8})
    # a checkpoint written before eps was recorded (no such column) still resumes
    plain = tmp_path / "plain.nc"
    ctrnn.train.fit(net, task, checkpoint=plain, **kw)
    old = xr.load_dataset(plain).drop_vars("history__eps")
    plain.unlink()
    old.to_netcdf(plain)
    more = ctrnn.train.fit(net, task, checkpoint=plain, **{**kw, "iterations": 8})
    assert more.history.sizes["iteration"] == 8 and np.isnan(more.history.eps[0])


def test_rk4_free_running_feeds_the_outputs_simulate_gives(rng):
    """The closed loop for a Runge-Kutta method: the fed values are the outputs of an
    open-loop simulate run on the inputs received."""
    N = 7
    net = ctrnn.RateNetwork(rng.normal(0, 0.9 / np.sqrt(N), (N, N)),
                            U=rng.normal(size=(N, 3)), tau=0.7)
    C, c = rng.normal(size=(2, N)), rng.normal(size=2)
    task = _feedback_task(rng)
    from ctrnn.train import _bptt
    from ctrnn.integrators import get_method
    x = task.inputs.values
    grid = np.ascontiguousarray(np.concatenate([x, x[:, -1:]], axis=1))
    rep, fed = _bptt._closed_inputs(net, C, c, grid, np.zeros((3, N)), get_method("rk4"),
                                    0.1, np.zeros(0, np.uint64), 2, np.zeros((3, 8), bool))
    assert rep.ok
    ds = ctrnn.simulate(net, method="rk4", dt=0.1, steps=8, inputs=fed[:, :8], trials=3)
    y = ds.h.values[:, 1:] @ C.T + c
    np.testing.assert_allclose(fed[:, 1:8, -2:], y[:, :-1], atol=1e-12)


def test_state_dicts_of_other_lstms_and_extra_keys_are_refused():
    sd = _lstm().state_dict()
    deep = dict(sd, weight_ih_l1=np.zeros((4 * H, H)))
    with pytest.raises(ValueError, match="one layer, one direction"):
        ctrnn.train.LSTM.from_state_dict(deep)
    with pytest.raises(ValueError, match="one layer"):
        ctrnn.train.LSTM.from_state_dict(dict(sd, weight_ih_l0_reverse=sd["weight_ih_l0"]))
    with pytest.raises(ValueError, match="fc.weight"):
        ctrnn.train.LSTM.from_state_dict({**{k: v for k, v in sd.items()
                                             if not k.startswith("readout")},
                                          "fc.weight": sd["readout.weight"]})
    no_bias = {k: v for k, v in sd.items() if k != "readout.bias"}
    m = ctrnn.train.LSTM.from_state_dict(no_bias)
    np.testing.assert_array_equal(m.C, sd["readout.weight"])
    np.testing.assert_array_equal(m.c, 0.0)
    with pytest.raises(ValueError, match="leave n_outputs out"):
        ctrnn.train.LSTM.from_state_dict(sd, n_outputs=N_OUT + 1)


def test_feedback_warns_when_the_fed_channels_are_not_the_previous_targets():
    task = ctrnn.tasks.adding_problem(16, lag=20, seed=0)
    with pytest.warns(RuntimeWarning, match="previous targets") as rec:
        ctrnn.train.gradient(ctrnn.train.LSTM(2, 4, 1, seed=0), None, task,
                             feedback="free_running")
    assert rec[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():  # teacher forcing replaces nothing: no warning
        warnings.simplefilter("error")
        ctrnn.train.gradient(ctrnn.train.LSTM(2, 4, 1, seed=0), None, task,
                             feedback="teacher_forcing")


def test_cross_entropy_needs_two_outputs(rng):
    task = ctrnn.tasks.sequence_prediction(ctrnn.tasks.oscillators(100), n_trials=4,
                                           length=10, seed=0)
    with pytest.raises(ValueError, match="at least 2 outputs"):
        ctrnn.train.gradient(ctrnn.train.LSTM(1, 4, 1, seed=0), None, task,
                             loss="cross_entropy")


def test_lstms_compare_by_value_and_a_huge_run_is_refused_before_allocating():
    a = _lstm(seed=0)
    assert a == ctrnn.train.LSTM.from_state_dict(a.state_dict()) and a != _lstm(seed=1)
    assert a != ctrnn.train.LSTM.from_state_dict(a.state_dict(), dtype="float32")
    with pytest.raises(MemoryError, match="fewer trials or shorter sequences"):
        L.forward(a.state_dict(), np.broadcast_to(np.zeros(N_IN), (1, 10**12, N_IN)),
                  np.zeros((1, H)),
                  np.zeros((1, H)), np.float64)
