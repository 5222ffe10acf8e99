"""The engine (issue 10): recorded runs stay bit-identical, every option is validated
before anything is allocated or written, the adaptive kernel runs any embedded pair given
as data, progress stays short in logs, and the doors go through the engine only."""
import ast
import io
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import ctrnn
from ctrnn import _engine
from ctrnn._progress import Progress
from ctrnn.integrators import BS3, DOPRI5, METHODS, ButcherTableau, get_method

from . import engine_reference, naive
from .conftest import random_net_params

ROOT = Path(__file__).resolve().parents[1]


# --- the recorded runs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference_runs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return engine_reference.runs()


def test_reference_runs_are_bit_identical_to_the_recording(reference_runs):
    env = engine_reference.environment()
    want = engine_reference.recorded_checksums(env)
    if want is None:
        cpus = [r["environment"]["llvm_cpu"] for r in engine_reference.recordings()]
        pytest.skip(f"no checksums recorded in this environment ({env}; recorded: {cpus} "
                    "and versions); floating-point results depend on both; "
                    "test_reference_runs_match_the_recorded_samples still compares")
    got = {k: engine_reference.checksum(v) for k, v in reference_runs.items()}
    assert got.keys() == want.keys()
    differ = [k for k in got if got[k] != want[k]]
    assert not differ, f"runs no longer bit-identical: {differ}"


def test_reference_runs_match_the_recorded_samples(reference_runs):
    """On any machine: within rounding (amplified by chaos and step-size control)."""
    rec = np.load(engine_reference.SAMPLES)
    assert set(rec.files) == set(reference_runs)
    for name, a in reference_runs.items():
        np.testing.assert_allclose(engine_reference.sample(a), rec[name], rtol=0,
                                   atol=engine_reference.tolerance(name), err_msg=name)


# --- validation before allocation --------------------------------------------------------
@pytest.fixture
def net():
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(10, 1.2, seed=0), tau=1.0)


@pytest.mark.parametrize("method", ["euler", "heun", "rk4", "exponential_euler", "discrete"])
@pytest.mark.parametrize("option, value", [("rtol", 1e-3), ("atol", 1e-6), ("max_steps", 10),
                                           ("controller", ctrnn.integrators.PIController())])
def test_adaptive_options_are_refused_by_fixed_step_methods(net, tmp_path, method, option,
                                                            value):
    store = tmp_path / "run.zarr"
    grid = dict(steps=10) if method == "discrete" else dict(steps=10, dt=0.1)
    with pytest.raises(ValueError, match=rf"{option}.*does? not apply to method='{method}'"):
        ctrnn.simulate(net, method=method, store=store, **grid, **{option: value})
    assert not store.exists()


def test_the_issue_example_is_refused(net):
    # used to run and report "ok"
    with pytest.raises(ValueError, match="rtol, atol, controller"):
        ctrnn.simulate(net, steps=10, dt=0.1, method="rk4", rtol=-5, atol="x",
                       controller="nonsense")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(chunk_steps=0), ValueError, "chunk_steps"),
    (dict(method="dopri5", rtol=-5), ValueError, "rtol"),
    (dict(method="dopri5", atol="x"), TypeError, "atol"),
    (dict(method="bs3", max_steps=0), ValueError, "max_steps"),
    (dict(method="dopri5", controller="nonsense"), TypeError, "controller"),
    (dict(save_every=0), ValueError, "save_every"),
    (dict(h0=np.zeros(3)), ValueError, "h0"),
    (dict(inputs=np.zeros((10, 1))), ValueError, "inputs"),
    (dict(input_interp="cubic"), ValueError, "input_interp"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(on_blowup="ignore"), ValueError, "on_blowup"),
    (dict(u0=np.ones(10)), ValueError, "u0"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(include_params="yes"), TypeError, "include_params"),
    (dict(time_unit=3), TypeError, "time_unit"),
    (dict(trials=0), ValueError, "trials"),
    (dict(max_memory=0), ValueError, "max_memory"),
    (dict(seed="x"), TypeError, "seed"),
])
def test_validation_fails_before_any_file_is_created(net, tmp_path, kwargs, error, match):
    store = tmp_path / "run.zarr"
    with pytest.raises(error, match=match):
        ctrnn.simulate(net, **{"steps": 10, "dt": 0.1, **kwargs}, store=store)
    assert not store.exists() and list(tmp_path.iterdir()) == []


def test_noise_with_an_adaptive_method_and_dt_with_discrete_are_refused(net, tmp_path):
    store = tmp_path / "run.zarr"
    for method in ("dopri5", "bs3"):
        with pytest.raises(ValueError, match=r"has noise \(noise=0.1\).*method=.rk4."):
            ctrnn.simulate(net.replace(noise=0.1), steps=10, dt=0.1, method=method,
                           store=store)
    with pytest.raises(ValueError, match="takes no dt"):
        ctrnn.simulate(net, steps=10, dt=0.1, method="discrete", store=store)
    assert not store.exists()


def test_friendlier_arguments(net, tmp_path):
    zeros = ctrnn.simulate(net, steps=3, dt=0.1, h0="zeros")
    assert not zeros.h.values.any()
    with pytest.raises(ValueError, match="Did you mean 'random'"):
        ctrnn.simulate(net, steps=3, dt=0.1, h0="randon")
    with pytest.raises(TypeError, match="method='discrete' needs steps=T"):
        ctrnn.simulate(net, method="discrete")
    with pytest.raises(ValueError, match=r"Known methods: .*\(aliases: .*rk45 = dopri5"):
        ctrnn.simulate(net, steps=3, dt=0.1, method="rk5")
    # a pure absolute tolerance is a legitimate request; both zero is not
    W, h0 = _linear(n=5)
    lin = ctrnn.RateNetwork(W, phi="linear")
    ds = ctrnn.simulate(lin, duration=2.0, dt=0.5, h0=h0, method="bs3", rtol=0, atol=1e-9)
    exact = expm((W - np.eye(5)) * 2.0) @ h0
    assert np.abs(ds.h.values[-1] - exact).max() < 1e-7
    with pytest.raises(ValueError, match="rtol and atol are both 0"):
        ctrnn.simulate(lin, steps=3, dt=0.5, method="bs3", rtol=0, atol=0)
    # a stopped adaptive run says what its store keeps
    store = tmp_path / "stop.zarr"
    with pytest.raises(RuntimeError, match=r"max_steps=3 .*keeps the 1 time point"):
        ctrnn.simulate(lin, duration=2.0, dt=0.01, h0=h0, method="bs3", max_steps=3,
                       store=store)
    assert ctrnn.open_run(store).sizes["time"] == 1


@pytest.mark.parametrize("check, bad, error", [
    ("positive_scalar", -0.1, ValueError), ("positive_scalar", "a", TypeError),
    ("nonnegative_scalar", -1.0, ValueError), ("nonnegative_scalar", None, TypeError),
    ("positive_int", 0, ValueError), ("positive_int", 1.5, TypeError),
    ("nonnegative_int", -2, ValueError), ("nonnegative_int", "3", TypeError)])
def test_every_number_check_names_the_argument_the_value_and_a_fix(check, bad, error):
    from ctrnn import _validation

    f = getattr(_validation, check)
    with pytest.raises(error, match=rf"^width .*got {re.escape(repr(bad))}.*; pass a "
                                    r"(finite|whole) number .* as width"):
        f("width", bad)
    with pytest.raises(error, match=r"; use 8 instead$"):  # the caller's own fix
        f("width", bad, fix="use 8 instead")


def test_simulate_says_how_to_fix_threads_and_max_memory(net):
    with pytest.raises(ValueError, match=r"threads must be >= 1; got 0; .*threads=None"):
        ctrnn.simulate(net, steps=2, dt=0.1, threads=0)
    with pytest.raises(ValueError, match=r"max_memory must be >= 1; got -1; max_memory is "
                                         r"in bytes"):
        ctrnn.simulate(net, steps=2, dt=0.1, max_memory=-1)
    with pytest.raises(MemoryError, match=r"max_memory=1000 bytes allows less; raise "
                                          r"max_memory, or raise save_every"):
        ctrnn.simulate(net, steps=10**4, dt=0.1, max_memory=1000)


def test_existing_store_is_refused_before_running(net, tmp_path):
    store = tmp_path / "run.zarr"
    store.mkdir()
    with pytest.raises(FileExistsError, match="exists"):
        ctrnn.simulate(net, steps=10, dt=0.1, store=store)


# --- status ------------------------------------------------------------------------------
def test_every_status_carries_a_message_and_an_exception():
    for status in _engine.Status:
        rep = _engine.Report(status, step=4, trial=1, column=12, t=0.5, where="at t = 0.5")
        msg = rep.message(method="rk4", n_neurons=10, batched=True, max_steps=7)
        assert msg and ("{" not in msg)
        if status is not _engine.Status.OK:
            assert "trial 1" in msg and issubclass(status.exception, ArithmeticError
                                                   if status is _engine.Status.NONFINITE
                                                   else RuntimeError)
    rep = _engine.Report(_engine.Status.NONFINITE, column=12, where="at t = 1")
    assert "neuron 2 (STP variable u)" in rep.message(method="rk4", n_neurons=10,
                                                      batched=False)
    rep = _engine.Report(_engine.Status.MAX_STEPS, t=2.0)
    assert "raise max_steps" in rep.message(method="bs3", n_neurons=3, batched=False,
                                            max_steps=9)


# --- methods as data ---------------------------------------------------------------------
def test_bs3_tableau_identities_and_fsal():
    assert BS3.fsal and DOPRI5.fsal and BS3.embedded
    assert not METHODS["rk4"].tableau.fsal
    np.testing.assert_allclose(BS3.A.sum(axis=1), BS3.c, atol=1e-15)
    assert abs(BS3.e.sum()) < 1e-15 and abs(BS3.b.sum() - 1) < 1e-15
    # order conditions of a 3rd-order method: b.c = 1/2, b.c^2 = 1/3, b.A.c = 1/6
    b, c, A = BS3.b, BS3.c, BS3.A
    np.testing.assert_allclose([b @ c, b @ c**2, b @ A @ c], [1 / 2, 1 / 3, 1 / 6],
                               atol=1e-15)
    # the embedded 2nd-order solution b - e (error = its difference with b) is 2nd order
    b2 = b - BS3.e
    np.testing.assert_allclose([b2.sum(), b2 @ c], [1, 1 / 2], atol=1e-15)
    assert abs(b2 @ c**2 - 1 / 3) > 1e-3  # ... and not 3rd order
    # dense output: theta = 1 reproduces the step; theta -> 0 starts from y with slope f
    np.testing.assert_allclose(BS3.P.sum(axis=1), b, atol=1e-15)
    with pytest.raises(ValueError, match="error_order"):
        ButcherTableau("x", A=BS3.A, b=BS3.b, c=BS3.c, order=3, e=BS3.e)
    assert get_method("RK23") is METHODS["bs3"] and METHODS["bs3"].adaptive


def _linear(n=20, g=0.5, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(0, g / np.sqrt(n), (n, n)), rng.normal(size=n)


@pytest.mark.parametrize("method, order", [("bs3", 3), ("dopri5", 5)])
def test_adaptive_pairs_converge_at_their_order(method, order):
    """Work-precision slope: with steps chosen by the error control, the global error
    falls as (number of steps)^-order (exact solution of the linear network by expm)."""
    W, h0 = _linear()
    net = ctrnn.RateNetwork(W, tau=1.0, phi="linear")
    T = 4.0
    exact = expm((W - np.eye(len(h0))) * T) @ h0
    errs, n_steps = [], []
    for rtol in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        ds = ctrnn.simulate(net, duration=T, dt=T / 4, h0=h0, method=method, rtol=rtol,
                            atol=rtol * 1e-3)
        errs.append(np.abs(ds.h.values[-1] - exact).max())
        n_steps.append(ds.attrs["n_accepted"])
    slope = np.polyfit(np.log(n_steps), np.log(errs), 1)[0]
    tol = 0.3 if order == 3 else 1.2  # dopri5 takes only 12-63 steps here
    assert abs(-slope - order) < tol, (slope, n_steps, errs)


def test_bs3_dense_output_against_dop853():
    rng = np.random.default_rng(7)
    n = 50
    W, U, b = random_net_params(n, 0.8, rng, n_in=1)
    h0 = rng.normal(0, 0.5, n)
    net = ctrnn.RateNetwork(W, U=U, b=b, tau=1.0, phi="tanh")
    T, dt_in = 5.0, 1e-3
    grid = np.arange(round(T / dt_in) + 1) * dt_in
    x = np.sin(2 * np.pi * grid / 2.0)[:, None]
    sol = solve_ivp(lambda t, h: naive.rhs(h, W, U, b, 1.0, "tanh",
                                           np.array([np.interp(t, grid, x[:, 0])])),
                    (0, T), h0, method="DOP853", rtol=1e-12, atol=1e-12, t_eval=grid)
    errs = []
    for rtol in (1e-5, 1e-7):
        ds = ctrnn.simulate(net, duration=T, dt=dt_in, h0=h0, inputs=x, method="bs3",
                            input_interp="linear", rtol=rtol, atol=rtol * 1e-3)
        errs.append(np.abs(ds.h.values - sol.y.T).max())
        assert errs[-1] < 50 * rtol, (rtol, errs[-1])
        # 3 new evaluations per accepted step (first same as last)
        a = ds.attrs
        assert a["n_rhs_evals"] == 2 + 3 * (a["n_accepted"] + a["n_rejected"])
        if rtol == 1e-5:  # most of the 5001 saves lie inside steps: dense output
            assert a["n_accepted"] < ds.sizes["time"] / 5
    assert errs[1] < errs[0]


# --- progress ----------------------------------------------------------------------------
def test_progress_in_a_log_is_a_few_dozen_updates_at_most():
    log = io.StringIO()  # not a terminal
    with Progress(100_000, True, stream=log) as bar:
        for done in range(0, 100_001, 10):
            bar.update(done)
    text = log.getvalue()
    assert text.count("100000/100000") == 1  # the final state, drawn once
    assert text.count("\r") + text.count("\n") <= 25, text.count("\r")


def test_ctrnn_run_with_stderr_in_a_file_writes_few_progress_lines(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[network]\nn = 50\n\n[simulation]\nmethod = "euler"\ndt = 0.0005\n'
                   'duration = 5.0\nsave_every = 1000\n')
    err = tmp_path / "stderr.txt"
    with open(err, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "ctrnn.cli", "run", str(cfg), "-o",
                               str(tmp_path / "out.nc"), "--progress", "always"],
                              stderr=f, stdout=subprocess.PIPE, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0
    text = err.read_text()
    assert "10000/10000" in text  # the bar was drawn ...
    assert text.count("\r") + text.count("\n") <= 30  # ... without flooding the file


# --- architecture ------------------------------------------------------------------------
def _imports(path):
    """Every imported module path, and module.name for each name imported from one."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = "." * node.level + (node.module or "")
            out.add(mod)
            out.update(f"{mod}.{a.name}" if node.module else mod + a.name
                       for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_doors_import_the_engine_not_simulate_or_kernels():
    for rel, engine in (("ctrnn/esn.py", "._engine"),
                        ("ctrnn/analysis/lyapunov.py", ".._engine")):
        imported = _imports(ROOT / rel)
        assert engine in imported, (rel, imported)
        bad = [m for m in imported if "simulate" in m or "_kernels" in m]
        assert not bad, (rel, bad)
    simulate_py = (ROOT / "ctrnn/simulate.py").read_text()
    # no branch on what a method is: that lives on Method and in the engine's table
    assert not re.search(r"m\.kind|m\.name|method ==|\.kind\b|\.adaptive\b|\.name\s*==",
                         simulate_py)
    assert not [m for m in _imports(ROOT / "ctrnn/simulate.py") if "_kernels" in m]


def test_chunk_steps_count_grid_steps_for_adaptive_methods(net):
    calls = []
    ctrnn.simulate(net, steps=1000, dt=0.1, method="dopri5", save_every=10, chunk_steps=100,
                   progress=lambda done, total: calls.append((done, total)))
    # 100 saves of 10 steps each, 100 steps (10 saves) a kernel call
    assert calls == [(10 * k, 100) for k in range(1, 11)]


def test_blow_up_advice_fits_the_method():
    net = ctrnn.RateNetwork(3.0 * np.eye(2), phi="linear", b=1.0)
    with pytest.raises(FloatingPointError, match="reduce dt"):
        ctrnn.simulate(net, steps=2000, dt=0.5, method="rk4", h0=np.ones(2))
    with pytest.raises(FloatingPointError, match="step size is adaptive") as err:
        ctrnn.simulate(net, duration=2000.0, dt=0.5, method="bs3", h0=np.ones(2))
    assert "reduce dt" not in str(err.value)


def test_a_pair_without_first_same_as_last_runs_as_data(monkeypatch):
    """Heun-Euler 2(1), not FSAL (its last stage is not at the new state): registered as
    data only, it runs on the same adaptive kernel, at its order, evaluating the field
    once more per accepted step."""
    he = ButcherTableau("heun_euler", A=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2,
                        error_order=1, e=[-0.5, 0.5], P=[[1, -0.5], [0, 0.5]])
    assert not he.fsal
    monkeypatch.setitem(METHODS, "heun_euler", ctrnn.integrators.Method(
        "heun_euler", "adaptive", he, 2, "Heun-Euler 2(1)",
        defaults=METHODS["bs3"].defaults))
    W, h0 = _linear()
    net = ctrnn.RateNetwork(W, tau=1.0, phi="linear")
    T = 4.0
    A = W - np.eye(len(h0))
    errs, n_steps = [], []
    for rtol in (1e-3, 1e-4, 1e-5, 1e-6):
        ds = ctrnn.simulate(net, duration=T, dt=0.05, h0=h0, method="heun_euler", rtol=rtol,
                            atol=rtol * 1e-3)
        exact = np.array([expm(A * t) @ h0 for t in ds.time.values])
        errs.append(np.abs(ds.h.values[-1] - exact[-1]).max())
        n_steps.append(ds.attrs["n_accepted"])
        a = ds.attrs
        assert a["n_rhs_evals"] == 2 + (a["n_accepted"] + a["n_rejected"]) + a["n_accepted"]
        # the dense output between steps stays within the error scale
        assert np.abs(ds.h.values - exact).max() < 100 * rtol
    slope = np.polyfit(np.log(n_steps), np.log(errs), 1)[0]
    assert abs(-slope - 2) < 0.3, (slope, n_steps, errs)


def test_engine_states_checks_its_arrays_and_reports_a_blow_up():
    net = ctrnn.RateNetwork(3.0 * np.eye(4), phi="linear")
    X = np.empty((1, 51, 4))  # the start and 50 steps
    with pytest.raises(FloatingPointError, match="step .* of 50 in neuron"):
        _engine.states(net.replace(W=1e200 * np.eye(4)), X, np.ones((1, 4)),
                       np.zeros((1, 50, 0)), 1.0, get_method("euler"))
    with pytest.raises(ValueError, match="xs must have shape"):
        _engine.states(net, X, np.ones((1, 4)), np.zeros((1, 10, 0)), 0.1,
                       get_method("euler"))
    with pytest.raises(ValueError, match="noise"):
        _engine.states(net.replace(noise=0.1), X, np.ones((1, 4)), np.zeros((1, 50, 0)),
                       0.1, get_method("euler"))
    with pytest.raises(ValueError, match="H must be"):
        _engine.states(net, X, np.ones((2, 4)), np.zeros((1, 50, 0)), 0.1,
                       get_method("euler"))
    with pytest.raises(ValueError, match="leaky methods"):
        _engine.states(net, X, np.ones((1, 4)), np.zeros((1, 50, 0)), 0.1,
                       get_method("dopri5"))
    # and it is forward Euler: against the NumPy loop
    W, h0 = _linear(n=4)
    lin = ctrnn.RateNetwork(W, phi="tanh", tau=2.0)
    H = h0[None].copy()
    _engine.states(lin, X, H, np.zeros((1, 50, 0)), 0.1, get_method("euler"))
    ref = naive.euler_loop(h0, W, np.zeros((4, 0)), np.zeros(4), 2.0, "tanh", 0.1,
                           np.zeros((50, 0)))
    np.testing.assert_allclose(X[0], ref, rtol=1e-13, atol=1e-14)  # row 0: the start
    np.testing.assert_array_equal(H[0], X[0, -1])


def test_import_leaves_the_matplotlib_backend_alone(tmp_path):
    code = ("import matplotlib; import ctrnn, ctrnn.cli; "
            "print(matplotlib.rcParams._get_backend_or_none()); "
            "ds = ctrnn.simulate(ctrnn.RateNetwork([[0.5]]), steps=3, dt=0.1); "
            "ctrnn.cli.plot_activity(ds, 'a.svg'); print(matplotlib.get_backend())")
    env_auto = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env_auto, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "None"  # importing ctrnn chose no backend
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={**env_auto, "MPLBACKEND": "svg"}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "svg"  # the user's backend, also after plotting


@pytest.mark.parametrize("chunk", [None, 50, 1000])
def test_a_failing_adaptive_batch_keeps_every_written_save(chunk):
    """Trial 1 diverges, trial 0 decays. Trials are stepped one after the other within a
    chunk, so trial 0's saves in the failing chunk were written and must be kept; what
    was never written is NaN, never uninitialised memory."""
    net = ctrnn.RateNetwork(3.0 * np.eye(2), phi="relu")
    kw = dict(duration=500.0, dt=1.0, method="dopri5", on_blowup="return",
              chunk_steps=chunk)
    both = ctrnn.simulate(net, h0=np.array([[-1.0, -1.0], [1.0, 1.0]]), **kw)
    alone0 = ctrnn.simulate(net, h0=[-1.0, -1.0], **kw)
    alone1 = ctrnn.simulate(net, h0=[1.0, 1.0], **kw)
    assert "left the finite range" in both.attrs["status"]
    h0, h1, ref1 = both.h.values[0], both.h.values[1], alone1.h.values
    kept0 = ~np.isnan(h0[:, 0])
    # trial 0 is written up to the end of the failing chunk (later chunks never ran),
    # which is at least as far as trial 1 got; what was written equals its single run
    n0, n1 = kept0.argmin() if not kept0.all() else len(kept0), (~np.isnan(h1[:, 0])).argmin()
    assert kept0[:n0].all() and not kept0[n0:].any() and n0 >= n1
    np.testing.assert_array_equal(h0[:n0], alone0.h.values[:n0])
    if chunk == 50:  # 50 saves a chunk: trial 0 keeps the whole failing chunk
        assert n0 > n1 and (n0 - 1) % 50 == 0
    if chunk == 1000:  # one chunk: trial 0 finished before trial 1 started
        assert n0 == len(h0)
    written = ~np.isnan(ref1)
    assert np.isnan(h1[~written]).all()
    np.testing.assert_array_equal(h1[written & ~np.isnan(h1)], ref1[written & ~np.isnan(h1)])


def test_chunks_cover_the_run_and_grow_from_the_work_estimate():
    cost = 16e6  # a step of 64 trials at N = 500
    assert list(_engine._chunks(62, None, cost)) == [(0, 62)]  # ~20 ms here: one call
    got = list(_engine._chunks(6200, None, cost))
    starts, sizes = [c[0] for c in got], [c[1] for c in got]
    assert starts == list(np.cumsum([0] + sizes[:-1])) and sum(sizes) == 6200
    assert sizes[0] == int(_engine.FIRST_CHUNK_WORK // cost) == 62
    assert len(sizes) > 1
    assert all(b <= 4 * a for a, b in zip(sizes, sizes[1:]))  # at most 4x the last one
    assert list(_engine._chunks(10, 4, cost)) == [(0, 4), (4, 4), (8, 2)]  # as asked
    assert next(_engine._chunks(3, None, 1e12)) == (0, 1)  # never below one step
    # a tiny network's step costs its own overhead, not its 2 multiply-adds: the first
    # chunk stays tens of ms (not 5 10^8 steps of one neuron)
    first = next(_engine._chunks(10**9, None, 2))[1]
    assert first == int(_engine.FIRST_CHUNK_WORK / _engine.MIN_STEP_WORK) <= 10**6


# --- W packed once per network -------------------------------------------------------------
def test_a_networks_packed_forms_are_kept_for_its_next_run_and_dropped_with_it():
    import gc

    W = ctrnn.connectivity.gaussian(60, 1.2, seed=0)
    net = ctrnn.RateNetwork(W, tau=1.0)
    a = _engine.pack_network(net, 1, np.float64)
    b = _engine.pack_network(net, 1, np.float64)
    assert b.Wp is a.Wp  # the panels packed once
    c = _engine.pack_network(net, 3, np.float32)
    assert c.W.dtype == np.float32 and c.WT is _engine.pack_network(net, 3, np.float32).WT
    np.testing.assert_array_equal(c.WT, W.T.astype(np.float32))
    # an equal network (equal by value) is another network: its own forms
    twin = ctrnn.RateNetwork(W, tau=1.0)
    assert twin == net and _engine.pack_network(twin, 1, np.float64).Wp is not a.Wp
    # what a run of the kept forms gives is what fresh ones give
    h = ctrnn.simulate(net, steps=20, dt=0.1, h0="random", seed=1, method="euler").h
    h2 = ctrnn.simulate(twin, steps=20, dt=0.1, h0="random", seed=1, method="euler").h
    np.testing.assert_array_equal(h.values, h2.values)
    key = id(net)
    assert key in _engine._PACKED
    del net, a, b, c
    gc.collect()
    assert key not in _engine._PACKED


def test_forms_larger_than_the_limit_are_not_kept(monkeypatch):
    monkeypatch.setattr(_engine, "PACKED_CACHE_MAX", 1000)  # bytes
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, 1.2, seed=0), tau=1.0)
    a = _engine.pack_network(net, 2, np.float32)  # W: 1600 bytes in float32
    assert _engine.pack_network(net, 2, np.float32).W is not a.W
    np.testing.assert_array_equal(a.W, net.W.astype(np.float32))
