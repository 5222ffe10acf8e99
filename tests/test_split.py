"""One run's neurons split across threads with a barrier a step (``_kernels.split``): it
must equal the one-thread run bit for bit (each row's sum is the one the one-thread
product forms), with inputs, noise, saves and chunks; a blow-up must be reported as the
one-thread run reports it; an error in one thread must release the others."""
import math
import threading
import time
import types

import numpy as np
import pytest

import ctrnn
from ctrnn import _engine
from ctrnn._kernels import dense
from ctrnn._kernels import rk as _rk
from ctrnn._kernels import split as _split

from . import naive


@pytest.fixture(autouse=True)
def eight_cpus(monkeypatch):
    """As if there were 8 CPUs (a split run takes no more threads than CPUs): the tests
    split on a machine of any size, and 3 or 5 threads on fewer cores take turns (the
    barrier's yield)."""
    monkeypatch.setattr(_engine, "available_cpus", lambda: 8)


@pytest.fixture
def split_anywhere(monkeypatch):
    """Split wherever the run qualifies, however small (the tests' networks are small)."""
    monkeypatch.setattr(_engine, "SPLIT_MIN", {d: 0 for d in _engine.SPLIT_MIN})
    monkeypatch.setattr(_engine, "SPLIT_SURE", {d: 0 for d in _engine.SPLIT_SURE})
    monkeypatch.setattr(_engine, "GROUPS_MAX", 0)


@pytest.fixture
def reference(monkeypatch):
    """simulate(...) by the other implementation: with no run taking the split kernel,
    a one-thread run on panels takes ``rk.leaky_run`` (the whole product, then one
    sweep) instead of the split kernel on one thread."""
    def run(*args, **kw):
        with monkeypatch.context() as m:
            m.setattr(_engine, "split_blocks", lambda *a: None)
            return ctrnn.simulate(*args, **kw)
    return run


def _net(N, n_in=2, noise=0.0, phi="tanh"):
    W = ctrnn.connectivity.gaussian(N, 1.5, seed=0)
    U = np.random.default_rng(2).standard_normal((N, n_in)) if n_in else None
    return ctrnn.RateNetwork(W, U=U, b=0.1, tau=1.0, noise=noise, phi=phi)


def _stepper(net, B, threads, method="euler", dtype=np.float64):
    return _engine.plan(ctrnn.integrators.get_method(method), net,
                        np.zeros((B, net.n_neurons), dtype), np.zeros((1, 11, net.n_inputs)),
                        0, dt=0.1, steps=10, dtype=dtype, threads=threads)


@pytest.mark.parametrize("N,dtype", [(70, np.float64), (250, np.float64), (250, np.float32),
                                     (1000, np.float64)])
@pytest.mark.parametrize("threads", [2, 3])
def test_blocks_cover_the_panels_in_contiguous_parts(split_anywhere, N, dtype, threads):
    blocks = _engine.split_blocks(_net(N), 1, "leaky", threads, dtype)
    Np = dense.panel_rows(N, dtype)
    L = 8 if dtype == np.float64 else 16
    n_wide = N // (4 * L)
    n_blocks = n_wide + (Np - 4 * L * n_wide) // L
    assert blocks[0][0] == 0 and blocks[-1][1] == n_blocks
    assert all(a1 == b0 for (_, a1), (b0, _) in zip(blocks, blocks[1:]))
    assert len(blocks) == min(threads, n_blocks) and all(b1 > b0 for b0, b1 in blocks)
    if N >= 250:  # about equal work: rows, a narrow block's counted 1.6 times
        work = [sum(4 * L if b < n_wide else 1.6 * L for b in range(b0, b1))
                for b0, b1 in blocks]
        assert max(work) - min(work) <= 4 * L * 1.01


def test_only_qualifying_runs_are_split():
    def split(net, B=1, kind="leaky", threads=2):  # several threads
        blocks = _engine.split_blocks(net, B, kind, threads, np.float64)
        return blocks is not None and len(blocks) > 1

    def one(net, B=1, kind="leaky", threads=2):  # the split kernel on one thread
        blocks = _engine.split_blocks(net, B, kind, threads, np.float64)
        return blocks is not None and len(blocks) == 1

    net = _net(300)
    assert split(net)
    assert one(net, threads=1)  # one thread: all the blocks in one range
    assert _engine.split_blocks(net, 1, "rk", 2, np.float64) is None  # several stages
    assert _engine.split_blocks(_net(300, phi="softplus"), 1, "leaky", 2,
                                np.float64) is None  # no vector form
    # more than 8 inputs: the drive is a BLAS call a step, whose threads would compete
    assert split(_net(300, n_in=8))
    assert one(_net(300, n_in=9))
    small = _engine.SPLIT_MIN[np.dtype(np.float64)] - 1
    assert one(_net(small))
    # one trajectory above PANEL_MAX on one thread: BLAS's product, not this kernel
    assert _engine.split_blocks(_net(_engine.SPLIT_MAX + 1), 1, "leaky", 2,
                                np.float64) is None
    assert _engine.split_blocks(_net(_engine.PANEL_MAX[np.dtype(np.float64), False] + 1),
                                1, "leaky", 1, np.float64) is None
    big = _net(_engine.SPLIT_BATCH_MAX + 1)
    assert split(big)
    assert _engine.split_blocks(big, 4, "leaky", 2, np.float64) is None  # batch limit
    assert split(_net(250), B=4)
    assert _engine.split_blocks(_net(150), 4, "leaky", 2, np.float64) is None  # groups
    assert one(_net(150), B=4, threads=1)  # one group: the whole batch on panels
    assert _engine.split_blocks(_net(250), 4, "leaky", 1, np.float64) is None  # BLAS
    stp = ctrnn.RateNetwork(net.W, tau=1.0, stp=ctrnn.plasticity.STP(U=0.2, tau_f=1.0,
                                                                        tau_d=0.5))
    assert _engine.split_blocks(stp, 1, "leaky", 2, np.float64) is None
    sparse = ctrnn.RateNetwork(ctrnn.connectivity.sparse(300, 0.1, 1.5, seed=0), tau=1.0)
    assert _engine.split_blocks(sparse, 1, "leaky", 2, np.float64) is None
    assert len(_stepper(net, 1, 2).blocks) == 2
    assert len(_stepper(net, 1, 1).blocks) == 1
    assert not isinstance(_stepper(stp, 1, 2), _engine._SplitLeaky)


def test_a_split_run_takes_no_more_threads_than_cpus(monkeypatch):
    net = _net(300)
    monkeypatch.setattr(_engine, "available_cpus", lambda: 2)
    assert len(_stepper(net, 1, 8).blocks) == 2
    monkeypatch.setattr(_engine, "available_cpus", lambda: 1)
    assert len(_stepper(net, 1, 8).blocks) == 1


@pytest.fixture
def measured(monkeypatch):
    """``split_pays`` with no finding yet and a stand-in measurement: it records its
    calls and returns result[0] (seconds a step on one thread, split)."""
    calls, result = [], [(1.0, 0.5)]

    def fake(N, dtype, blocks):
        calls.append((N, np.dtype(dtype), list(blocks)))
        return result[0]
    monkeypatch.setattr(_engine, "_SPLIT_PAYS", {})
    monkeypatch.setattr(_engine, "measure_split", fake)
    return calls, result


def _expire(key):
    """As if the finding for key were due to be measured again."""
    _engine._SPLIT_PAYS[key] = _engine._SPLIT_PAYS[key]._replace(due=time.monotonic() - 1)


def _finding(pays, split=0.5, watch_from=math.inf):
    """A finding kept until further notice (one thread: 1 s a step), its runs watched
    from ``watch_from`` (default: never; ``_SplitLeaky.pace``)."""
    return _engine._Finding(pays, math.inf, 60.0, 1.0, split, watch_from)


def test_split_pays_keeps_a_finding_and_measures_a_no_again_sooner(measured):
    calls, result = measured
    blocks, key = [(0, 3), (3, 13)], (100, np.dtype(np.float64), 2)
    assert _engine.split_pays(100, np.float64, blocks)
    assert _engine.split_pays(100, np.float64, blocks)
    assert calls == [(100, np.dtype(np.float64), blocks)]  # measured once
    found = _engine._SPLIT_PAYS[key]
    assert (found.one, found.split, found.watch_from) == (1.0, 0.5, -math.inf)
    assert found.wait == _engine.SPLIT_RECHECK
    assert 0 < found.due - time.monotonic() <= _engine.SPLIT_RECHECK
    # a "no": measured again after SPLIT_RECHECK_NO, doubling up to SPLIT_RECHECK
    result[0] = (1.0, 0.99)  # two threads save 1%: not enough (SPLIT_GAIN)
    waits = []
    for _ in range(12):
        _expire(key)
        assert not _engine.split_pays(100, np.float64, blocks)
        waits.append(_engine._SPLIT_PAYS[key].wait)
    assert waits[:3] == [_engine.SPLIT_RECHECK_NO * 2 ** i for i in range(3)]
    assert waits[-1] == _engine.SPLIT_RECHECK and waits == sorted(waits)
    assert len(calls) == 13
    result[0] = (1.0, 0.5)
    _expire(key)
    assert _engine.split_pays(100, np.float64, blocks)
    assert _engine._SPLIT_PAYS[key].wait == _engine.SPLIT_RECHECK
    # each size, dtype and number of threads is measured for itself
    for n, dtype, b in [(101, np.float64, blocks), (100, np.float32, blocks),
                        (100, np.float64, [(0, 2), (2, 5), (5, 13)])]:
        _engine.split_pays(n, dtype, b)
    assert len(calls) == 17


def test_split_pays_by_split_gain_at_least(measured):
    calls, result = measured
    gain = _engine.SPLIT_GAIN
    for n, (one, two, pays) in enumerate([(gain, 1.0, True), (gain * 0.999, 1.0, False),
                                          (1.0, 2.0, False), (3.0, 1.0, True)]):
        result[0] = (one, two)
        assert _engine.split_pays(100 + n, np.float64, [(0, 1), (1, 2)]) is pays


def test_only_runs_between_split_min_and_split_sure_are_measured(measured):
    calls, result = measured
    f64, f32 = np.dtype(np.float64), np.dtype(np.float32)
    N = 100
    assert _engine.SPLIT_MIN[f64] <= N < _engine.SPLIT_SURE[f64]
    n_blocks = len(dense.block_sizes(N, f64))
    blocks = _engine.split_blocks(_net(N), 1, "leaky", 2, f64)
    assert len(blocks) == 2 and calls == [(N, f64, blocks)]  # measured: it pays
    result[0] = (1.0, 0.99)
    assert _engine.split_blocks(_net(N + 1), 1, "leaky", 2, f64) == [
        (0, len(dense.block_sizes(N + 1, f64)))]  # measured: one thread, all blocks
    assert len(calls) == 2
    assert n_blocks > 1
    for dtype in (f64, f32):
        below, sure = _engine.SPLIT_MIN[dtype] - 1, _engine.SPLIT_SURE[dtype]
        assert len(_engine.split_blocks(_net(below), 1, "leaky", 2, dtype)) == 1
        assert len(_engine.split_blocks(_net(sure), 1, "leaky", 2, dtype)) == 2
    assert _engine.SPLIT_SURE[f32] > 128  # ... so 128 float32 neurons are measured
    _engine.split_blocks(_net(128), 1, "leaky", 2, f32)
    assert len(calls) == 3 and calls[-1][:2] == (128, f32)
    # never for a batch (230 float32 neurons: a batch above GROUPS_MAX, split; one
    # trajectory, measured), one thread, a short run, or a run that does not qualify
    assert _engine.GROUPS_MAX < 230 < _engine.SPLIT_SURE[f32]
    assert len(_engine.split_blocks(_net(230), 4, "leaky", 2, f32)) == 2
    assert len(calls) == 3
    _engine.split_blocks(_net(230), 1, "leaky", 2, f32)
    assert len(calls) == 4
    _engine.split_blocks(_net(N), 1, "leaky", 1, f64)
    _engine.split_blocks(_net(N), 1, "rk", 2, f64)
    _engine.split_blocks(_net(N, phi="softplus"), 1, "leaky", 2, f64)
    assert len(calls) == 4
    short = int(_engine.SPLIT_RUN_MIN / (N + 2) ** 2)  # steps x N^2 < SPLIT_RUN_MIN
    assert _engine.split_blocks(_net(N + 2), 1, "leaky", 2, f64, short - 1) == [
        (0, len(dense.block_sizes(N + 2, f64)))]
    assert len(calls) == 4
    _engine.split_blocks(_net(N + 2), 1, "leaky", 2, f64, short + 1)
    assert len(calls) == 5
    assert len(_stepper(_net(N + 3), 1, 2).blocks) == 1  # plan: 10 steps, not measured
    assert len(calls) == 5


def test_the_measured_band_takes_the_split_kernel_on_one_thread_when_not_split():
    # (a run there that is not split takes the split kernel with all blocks on one
    # thread: on panels, with the vector phi, which needs N >= the lanes L)
    for dtype in (np.float64, np.float32):
        d = np.dtype(dtype)
        assert _engine.SPLIT_MIN[d] >= dense.lanes_of(d)
        assert _engine.SPLIT_SURE[d] - 1 <= _engine.PANEL_MAX[d, False]


def test_a_slow_split_run_has_the_next_run_measure_again(measured, monkeypatch):
    calls, result = measured
    monkeypatch.setattr(_engine, "SPLIT_RUN_MIN", 0)
    monkeypatch.setattr(_engine, "SPLIT_WATCH_WORK", 1e6)
    N = 100
    key = (N, np.dtype(np.float64), 2)
    net = _net(N, n_in=0)
    n = int(np.ceil(1e6 / N ** 2))  # the shortest chunk judged
    kw = dict(dt=0.1, h0=np.zeros(N), method="euler", threads=2, chunk_steps=n)

    def watched(split):  # a finding whose runs are watched
        return _finding(True, split, watch_from=-math.inf)
    # measured far faster than any run can be: slow
    _engine._SPLIT_PAYS[key] = fast = watched(1e-12)
    ctrnn.simulate(net, steps=n - 1, **kw)  # a chunk too short to judge
    assert _engine._SPLIT_PAYS[key] is fast
    ctrnn.simulate(net, steps=n, **kw)
    slow = _engine._SPLIT_PAYS[key]
    assert slow.due == -math.inf and slow.pays
    assert slow.watch_from > time.monotonic() + _engine.SPLIT_RECHECK - 10
    assert not calls
    ctrnn.simulate(net, steps=n, **kw)  # measured again: runs unwatched for a while
    assert len(calls) == 1
    again = _engine._SPLIT_PAYS[key]
    assert again.pays and again.due > time.monotonic()
    assert again.watch_from == slow.watch_from
    _engine._SPLIT_PAYS[key] = again._replace(split=1e-12)
    ctrnn.simulate(net, steps=n, **kw)
    assert _engine._SPLIT_PAYS[key].due > time.monotonic() and len(calls) == 1
    # ... and watched again after that
    _engine._SPLIT_PAYS[key] = _engine._SPLIT_PAYS[key]._replace(
        watch_from=time.monotonic() - 1)
    ctrnn.simulate(net, steps=n, **kw)
    assert _engine._SPLIT_PAYS[key].due == -math.inf
    # measured far slower than any run can be: not slow
    _engine._SPLIT_PAYS[key] = patient = watched(1.0)
    ctrnn.simulate(net, steps=2 * n, **kw)
    assert _engine._SPLIT_PAYS[key] is patient
    # a noisy run (noise costs far more a step than the measured run's) is not watched
    _engine._SPLIT_PAYS[key] = fast = watched(1e-12)
    noisy = _net(N, n_in=0, noise=0.1)
    assert len(_stepper(noisy, 1, 2).blocks) == 2  # (split)
    ctrnn.simulate(noisy, steps=n, seed=1, **kw)
    assert _engine._SPLIT_PAYS[key] is fast
    # nor is a batch (its steps take B times as long), split by its size
    f32 = np.dtype(np.float32)
    assert _engine.GROUPS_MAX < 230 < _engine.SPLIT_SURE[f32]
    _engine._SPLIT_PAYS[(230, f32, 2)] = batch = watched(1e-12)
    m = int(np.ceil(1e6 / 230 ** 2))
    ctrnn.simulate(_net(230, n_in=0), steps=m, dt=0.1, h0=np.zeros((4, 230)),
                   method="euler", threads=2, chunk_steps=m, dtype=f32)
    assert _engine._SPLIT_PAYS[(230, f32, 2)] is batch
    # a finding replaced meanwhile is left as it is
    _engine.split_slow(key, patient)
    assert _engine._SPLIT_PAYS[key] is fast


def test_a_failed_measurement_is_a_no_with_a_warning(monkeypatch):
    monkeypatch.setattr(_engine, "_SPLIT_PAYS", {})

    def stops(self, Z, buf, head):
        return (_rk.NONFINITE, 3, 0, 0)
    monkeypatch.setattr(_engine._SplitLeaky, "step", stops)
    with pytest.raises(RuntimeError, match="NONFINITE"):
        _engine.measure_split(100, np.float64, [(0, 5), (5, 13)], rounds=1)
    with pytest.warns(RuntimeWarning, match="could not time 2 threads against one"):
        assert not _engine.split_pays(100, np.float64, [(0, 5), (5, 13)])
    assert _engine._SPLIT_PAYS[(100, np.dtype(np.float64), 2)].wait == \
        _engine.SPLIT_RECHECK_NO


def test_measure_split_times_both_ways_on_this_machine(monkeypatch, reference):
    made = []

    class Spy(_engine._SplitLeaky):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.n_steps = []
            made.append(self)

        def step(self, Z, buf, head):
            self.n_steps.append(head[1])
            return super().step(Z, buf, head)

    N, dtype = 100, np.float64
    blocks = [(0, 5), (5, len(dense.block_sizes(N, dtype)))]
    with monkeypatch.context() as m:
        m.setattr(_engine, "_SplitLeaky", Spy)
        t0 = time.perf_counter()
        one, two = _engine.measure_split(N, dtype, blocks, rounds=3)
        elapsed = time.perf_counter() - t0
    assert [s.blocks for s in made] == [[(0, blocks[-1][1])], blocks]
    n = made[0].n_steps[0]
    assert n * N * N >= _engine.SPLIT_MEASURE_WORK * 0.99
    assert all(s.n_steps == [n] * 4 for s in made)  # a warm-up, then 3 timed calls
    # seconds a step, each the median of 3 calls (two of which took at least as long):
    # together less than the whole measurement
    assert 0 < one and 0 < two and 2 * n * (one + two) < elapsed
    assert all(s.team is None for s in made)  # the helpers are back with the crew
    # and a run after it is split as before (the crew's helpers free), bit for bit
    monkeypatch.setattr(_engine, "SPLIT_RUN_MIN", 0)  # (the runs here are short)
    net = _net(N)
    monkeypatch.setitem(_engine._SPLIT_PAYS, (N, np.dtype(dtype), 2), _finding(True))
    assert len(_stepper(net, 1, 2).blocks) == 2
    kw = dict(steps=50, dt=0.1, h0=np.random.default_rng(3).standard_normal(N),
              method="euler")
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values,
                                  reference(net, threads=1, **kw).h.values)


@pytest.mark.parametrize("pays", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_run_in_the_measured_band_is_the_same_either_way(monkeypatch, reference, pays,
                                                            dtype):
    N = 90
    monkeypatch.setattr(_engine, "SPLIT_RUN_MIN", 0)  # (the run here is short)
    monkeypatch.setitem(_engine._SPLIT_PAYS, (N, np.dtype(dtype), 2), _finding(pays))
    net = _net(N)
    stepper = _stepper(net, 1, 2, dtype=dtype)
    assert len(stepper.blocks) == (2 if pays else 1)
    rng = np.random.default_rng(4)
    kw = dict(steps=40, dt=0.1, h0=rng.standard_normal(N), method="euler", dtype=dtype,
              inputs=rng.standard_normal((41, 2)))
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values,
                                  reference(net, threads=1, **kw).h.values)


def test_cgroup_quota_caps_the_cpus(tmp_path):
    f = tmp_path / "cpu.max"
    f.write_text("250000 100000\n")
    assert _engine._cgroup_quota(str(f)) == 2  # 2.5 CPUs: 2 (rounded down)
    f.write_text("50000 100000\n")
    assert _engine._cgroup_quota(str(f)) == 1
    f.write_text("max 100000\n")
    assert _engine._cgroup_quota(str(f)) is None
    assert _engine._cgroup_quota(str(tmp_path / "absent")) is None


@pytest.mark.parametrize("N,dtype,n_in", [(70, np.float64, 2), (250, np.float64, 8),
                                          (250, np.float32, 2), (197, np.float32, 0)])
def test_split_run_equals_the_one_thread_run_bit_for_bit(split_anywhere, reference, N, dtype,
                                                          n_in):
    # n_in = 8: the most inputs split (the drive in loops, ``rhs.drive``); 197: odd, a
    # padded last block
    net = _net(N, n_in=n_in)
    rng = np.random.default_rng(1)
    kw = dict(steps=37, h0=rng.standard_normal(N), dtype=dtype)
    if n_in:
        kw["inputs"] = rng.standard_normal((38, n_in))
    for method in ("euler", "exponential_euler", "discrete"):
        step = {} if method == "discrete" else {"dt": 0.1}
        one = reference(net, method=method, threads=1, **kw, **step).h.values
        for threads in (1, 2, 3, 5):  # more threads than CPUs: they take turns (yield)
            got = ctrnn.simulate(net, method=method, threads=threads, **kw, **step).h.values
            np.testing.assert_array_equal(got, one, err_msg=f"{method} threads={threads}")


@pytest.mark.parametrize("B,dtype,phi", [(1, np.float64, "tanh"), (1, np.float32, "tanh"),
                                         (1, np.float64, "sigmoid"), (1, np.float64, "relu"),
                                         (1, np.float32, "linear"), (4, np.float64, "tanh"),
                                         (5, np.float32, "sigmoid")])
def test_one_thread_kernel_equals_the_panel_loop_bit_for_bit(monkeypatch, B, dtype, phi):
    # the split kernel on one thread (phi and leak block by block, from the registers
    # that hold the sums, ``dense.block_leak``) against ``rk.leaky_run`` on panels (the
    # whole product, then one sweep, ``dense.finish``): two implementations of one step
    N = 197  # odd: a padded last block
    net = _net(N, n_in=3, noise=0.3, phi=phi)
    if phi == "linear":  # keep the linear network bounded
        net = net.replace(W=net.W * 0.5)
    xs = np.random.default_rng(5).standard_normal((43, 3))
    kw = dict(steps=42, trials=B, h0="random", seed=3, inputs=xs, dtype=dtype, threads=1,
              save_every=3)
    assert len(_stepper(net, B, 1, dtype=dtype).blocks) == 1
    for method in ("euler", "exponential_euler", "discrete"):
        step = {} if method == "discrete" else {"dt": 0.1}
        got = ctrnn.simulate(net, method=method, **kw, **step)
        with monkeypatch.context() as m:
            m.setattr(_engine, "split_blocks", lambda *a: None)
            assert not isinstance(_stepper(net, B, 1, dtype=dtype), _engine._SplitLeaky)
            want = ctrnn.simulate(net, method=method, **kw, **step)
        np.testing.assert_array_equal(got.h.values, want.h.values, err_msg=method)
        assert np.isfinite(got.h.values).all()


def test_split_run_matches_a_numpy_euler_loop():
    net = _net(260, n_in=3)  # above SPLIT_SURE, as a user's run is split
    assert _stepper(net, 1, 2).blocks is not None
    rng = np.random.default_rng(3)
    h0, xs = rng.standard_normal(260), rng.standard_normal((51, 3))
    got = ctrnn.simulate(net, steps=50, dt=0.05, h0=h0, inputs=xs, method="euler",
                         threads=2).h.values
    want = naive.euler_loop(h0, net.W, net.U, net.b, net.tau_array, "tanh", 0.05, xs[:50])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_split_batch_trials_equal_their_single_runs(split_anywhere, reference):
    N, B = 90, 5
    net = _net(N)
    rng = np.random.default_rng(4)
    H0, xs = rng.standard_normal((B, N)), rng.standard_normal((B, 31, 2))
    assert isinstance(_stepper(net, B, 2), _engine._SplitLeaky)
    kw = dict(steps=30, dt=0.1, method="euler")
    batch = ctrnn.simulate(net, h0=H0, inputs=xs, threads=2, **kw).h.values
    for r in range(B):
        single = reference(net, h0=H0[r], inputs=xs[r], threads=1, **kw).h.values
        np.testing.assert_array_equal(batch[r], single, err_msg=f"trial {r}")


def test_noise_saves_and_chunks_are_those_of_the_one_thread_run(monkeypatch,
                                                                split_anywhere):
    net = _net(100, noise=0.4)
    kw = dict(steps=48, dt=0.1, trials=3, h0="random", seed=7, save_every=4,
              method="euler")
    with monkeypatch.context() as m:  # the batch on panels, by the panel loop
        m.setattr(_engine, "GROUPS_MAX", 10 ** 9)
        m.setattr(_engine, "split_blocks", lambda *a: None)
        one = ctrnn.simulate(net, threads=1, **kw)
    two = ctrnn.simulate(net, threads=2, **kw)
    chunked = ctrnn.simulate(net, threads=2, chunk_steps=5, **kw)
    assert isinstance(_stepper(net, 3, 2), _engine._SplitLeaky)
    assert two.sizes["time"] == 48 // 4 + 1
    np.testing.assert_array_equal(two.h.values, one.h.values)
    np.testing.assert_array_equal(chunked.h.values, one.h.values)
    assert not np.array_equal(two.h.values[0], two.h.values[1])  # trials' own noise


def test_where_a_waiting_thread_cannot_yield_each_chunk_has_its_own_helpers(
        monkeypatch, split_anywhere, reference):
    # not POSIX: a helper left waiting between chunks would spin through the caller's
    # work there, so every chunk starts and stops its helpers (as before serve_split)
    served, real = [], _split.serve_split

    def serve_spy(*args):
        served.append(args[-3])
        return real(*args)
    monkeypatch.setattr(_split, "WAITS_IDLE", False)
    monkeypatch.setattr(_split, "serve_split", serve_spy)
    _new_crew()  # one made this way: its helpers sleep on the condition at once
    net = _net(70, n_in=0)
    kw = dict(steps=20, dt=0.1, h0="random", seed=4, method="euler", chunk_steps=6)
    got = ctrnn.simulate(net, threads=2, **kw).h.values
    assert served == [1, 1, 1, 1]  # chunks of 6, 6, 6 and 2 steps
    assert _engine._CREW.naps == 0
    np.testing.assert_array_equal(got, reference(net, threads=1, **kw).h.values)
    _crew_is_free()
    _new_crew()


def test_a_stored_run_equals_the_one_thread_run(tmp_path, split_anywhere, reference):
    # a Zarr sink hands each chunk a buffer that grows with the chunks: the helpers are
    # stopped and started again on the new one
    pytest.importorskip("zarr")
    pytest.importorskip("dask")
    net = _net(70, n_in=0)
    kw = dict(steps=40, dt=0.1, h0="random", seed=3, method="euler")
    assert len(_stepper(net, 1, 2).blocks) == 2
    # the buffer grows at the chunks of 6 and 12 (new helpers), and is reused by the
    # others (even and odd lengths within one team)
    sizes = iter([3, 6, 6, 4, 12, 9, 48])
    with pytest.MonkeyPatch.context() as m:
        real = _engine._chunks

        def growing(total, chunk, cost, *_):
            done = 0
            while done < total:
                n = min(next(sizes), total - done)
                yield done, n
                done += n
        m.setattr(_engine, "_chunks", growing)
        stored = ctrnn.simulate(net, threads=2, store=tmp_path / "run.zarr", **kw)
        assert real is not growing
    np.testing.assert_array_equal(stored.h.values, reference(net, threads=1, **kw).h.values)


def test_blowup_is_reported_as_the_one_thread_run_reports_it(split_anywhere, reference):
    # dh/dt = 2 h (linear, W = 3 I): neuron 65 (second thread's rows) with the largest h0
    # overflows first; neuron 3 (first thread's) later
    N = 70
    net = ctrnn.RateNetwork(np.eye(N) * 3.0, tau=1.0, phi="linear")
    h0 = np.zeros(N)
    h0[3], h0[65] = 1e-3, 1e3
    assert _stepper(net, 1, 2).blocks == [(0, 1), (1, 3)]
    kw = dict(duration=500.0, dt=0.1, h0=h0, method="euler")
    with pytest.raises(FloatingPointError, match="neuron 65"):
        ctrnn.simulate(net, threads=2, **kw)
    one = reference(net, threads=1, on_blowup="return", save_every=10, **kw)
    two = ctrnn.simulate(net, threads=2, on_blowup="return", save_every=10, **kw)
    alone = ctrnn.simulate(net, threads=1, on_blowup="return", save_every=10, **kw)
    assert alone.attrs["status"] == one.attrs["status"]
    np.testing.assert_array_equal(alone.h.values, one.h.values)
    assert two.attrs["status"] == one.attrs["status"]
    np.testing.assert_array_equal(two.h.values, one.h.values)
    assert np.isnan(one.h.values[-1]).all()


def test_a_thread_stops_at_the_failing_step_never_before():
    flags = np.zeros(8 * 3, np.int64)  # T = 2: the abort flag at 16
    for abort, c, stops in [(0, 5, False), (2, 1, False), (2, 2, True), (2, 3, True),
                            (-1, 1, True)]:
        flags[16] = abort
        assert _split._stops(flags, 2, c) is stops, (abort, c)


def test_first_failure_follows_the_one_thread_rule():
    ok = (0, 9, -1, -1, False)
    assert _engine._first_failure([ok, ok]) is None
    nan_early_col = (1, 9, 0, 2, False)
    inf_late_col = (1, 9, 0, 80, True)
    inf_trial_1 = (1, 9, 1, 5, True)
    # the first infinite entry (by trial, then column) is named before any NaN
    assert _engine._first_failure([nan_early_col, inf_late_col]) == (1, 9, 0, 80)
    assert _engine._first_failure([inf_trial_1, inf_late_col]) == (1, 9, 0, 80)
    assert _engine._first_failure([ok, nan_early_col]) == (1, 9, 0, 2)


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_in_one_thread_releases_the_others(monkeypatch, split_anywhere, failing):
    # the other thread waits at the barrier for the failing one: the abort flag must let
    # it go, and the error must reach the caller (thread 0 is the caller's, in
    # ``leaky_split``; thread 1 a helper, in ``serve_split``)
    real, real_serve = _split.leaky_split, _split.serve_split

    def leaky_split(*args):
        if failing == 0:
            raise MemoryError("thread 0")
        return real(*args)

    def serve_split(*args):
        if failing == 1:
            raise MemoryError("thread 1")
        return real_serve(*args)
    module = {k: getattr(_split, k) for k in dir(_split) if not k.startswith("__")}
    monkeypatch.setattr(_engine, "_split", types.SimpleNamespace(
        **dict(module, leaky_split=leaky_split, serve_split=serve_split)))
    net = _net(70)
    raised = []

    def run():
        try:
            ctrnn.simulate(net, steps=200, dt=0.1, h0="random", seed=0, method="euler",
                           threads=2)
        except MemoryError as e:
            raised.append(e)
    th = threading.Thread(target=run, daemon=True)  # a hang fails, not blocks, the suite
    th.start()
    th.join(120)
    assert not th.is_alive(), "a thread is still waiting for the failed one"
    assert len(raised) == 1 and f"thread {failing}" in str(raised[0])
    _crew_is_free()


def _crew_is_free():
    """No split run holds the crew: its lock is free (taken and given back here)."""
    assert _engine._SPLIT_LOCK.acquire(timeout=10)
    _engine._SPLIT_LOCK.release()


def test_an_error_between_chunks_stops_the_helpers(split_anywhere, reference):
    # the caller fails between two chunks (here its progress callback; Ctrl-C alike):
    # the helper, waiting for the next chunk in ``serve_split``, must stop, and the next
    # split run must have the crew again
    net = _net(70, n_in=0)
    h0 = np.random.default_rng(0).standard_normal(70)
    kw = dict(steps=20, dt=0.1, h0=h0, method="euler", chunk_steps=5)

    def progress(done, total):
        if done >= 10:
            raise KeyboardInterrupt("stop")
    done = []

    def run():
        with pytest.raises(KeyboardInterrupt, match="stop"):
            ctrnn.simulate(net, threads=2, progress=progress, **kw)
        done.append(True)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(120)
    assert done, "the run did not return"
    _crew_is_free()
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values,
                                  reference(net, threads=1, **kw).h.values)


def test_a_thread_behind_the_failing_step_goes_on_to_it(monkeypatch, split_anywhere,
                                                        reference):
    # thread 1 has finished step 1 and failed at step 2 (flags as it leaves them) while
    # thread 0 is still at its barrier of step 1: thread 0 must not stop there but take
    # step 2 and stop after it, so that every thread ends at the same step (thread 0 is
    # run alone here, on the flags thread 1 left)
    seen, real = [], _split.leaky_split

    def spy(*args):
        seen.append(args)
        return real(*args)
    monkeypatch.setattr(_split, "leaky_split", spy)
    net = _net(70, n_in=0)
    h0 = np.random.default_rng(0).standard_normal(70)
    kw = dict(steps=5, dt=0.1, h0=h0, method="euler")
    ctrnn.simulate(net, threads=2, **kw)
    want = reference(net, threads=1, **kw).h.values
    args = list(next(a for a in seen if a[-4] == 0))
    b0, b1 = args[-6], args[-5]
    T = args[-3]
    flags = np.zeros(8 * (T + 1), np.int64)
    flags[8 * 1] = 1  # thread 1: step 1 done, and a failure at step 2 stored (its own
    flags[8 * T] = 2  # flag of step 2 not yet)
    Hs, Z, buf = args[0], np.zeros((1, 70)), np.full((1, 6, 70), np.nan)
    Hs[:] = 0
    Hs[0, :70] = h0
    Hs[1, :70] = want[1]  # thread 1's columns of step 1, as it left them
    buf[0, 0] = h0
    args[0:7] = [Hs, Z, buf, 0, 5, 1, 0]
    args[-2:] = [flags, np.zeros(0, np.int64)]
    code, k, r, col, _ = real(*args)
    assert (code, k) == (_split.OK, 1)  # stopped after step index 1 (the second step)
    hi = min(32 * b1, 70)  # thread 0's columns: its wide blocks of 32 rows
    assert b0 == 0
    np.testing.assert_array_equal(Z[0, :hi], want[2, :hi])  # the state after step 2
    np.testing.assert_array_equal(buf[0, 1, :hi], want[1, :hi])  # step 1 saved
    assert np.isnan(buf[0, 2]).all()  # step 2 (the failing one) not saved


def test_split_runs_reuse_their_worker_threads_and_share_them_safely(split_anywhere,
                                                                     reference):
    # the crew's threads are kept between calls (starting one a chunk cost ~0.2
    # ms), and within a call a helper stays in one ``serve_split`` call for every chunk
    # (handing it each chunk cost ~0.13 ms); a split run while the crew is busy takes
    # threads of its own
    seen, served = [], []
    real, real_serve = _split.leaky_split, _split.serve_split

    def spy(*args):
        seen.append((args[-4], threading.current_thread().name))
        return real(*args)

    def serve_spy(*args):
        served.append((args[-3], threading.current_thread().name))
        return real_serve(*args)
    net = _net(70, n_in=0)
    h0 = np.random.default_rng(0).standard_normal(70)
    kw = dict(steps=20, dt=0.1, h0=h0, method="euler", chunk_steps=5)
    want = reference(net, threads=1, **kw).h.values
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_split, "leaky_split", spy)
        m.setattr(_split, "serve_split", serve_spy)
        first = ctrnn.simulate(net, threads=2, **kw).h.values
        crew = _engine._CREW
        second = ctrnn.simulate(net, threads=2, **kw).h.values
        assert _engine._CREW is crew  # the same crew, not one a call
        # thread 0 is the caller's, a call a chunk (two runs, four chunks); thread 1 a
        # helper of the crew ("ctrnn-split_k"), one call a run
        assert len(seen) == 2 * 4
        assert set(seen) == {(0, threading.current_thread().name)}
        assert len(served) == 2
        assert all(t == 1 and name.startswith("ctrnn-split_") for t, name in served)
        # the crew busy (its lock held, as by another run): threads of the run's own
        served.clear()
        assert _engine._SPLIT_LOCK.acquire(blocking=False)
        try:
            third = ctrnn.simulate(net, threads=2, **kw).h.values
        finally:
            _engine._SPLIT_LOCK.release()
        assert served == [(1, "ctrnn-split-1")]
    for got in (first, second, third):
        np.testing.assert_array_equal(got, want)
    # chunks of even and odd lengths within one team (the state kept in the shared
    # buffer between them)
    kw6 = dict(kw, steps=47, chunk_steps=6)
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw6).h.values,
                                  reference(net, threads=1, **kw6).h.values)
    # runs from several Python threads at once: every result is the one-thread run's
    results, errors = {}, []

    def run(i):
        try:
            results[i] = ctrnn.simulate(net, threads=2, **kw).h.values
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    ths = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(3)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    assert not errors and sorted(results) == [0, 1, 2]
    for got in results.values():
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("N,dtype", [(3, np.float64), (7, np.float64), (9, np.float32),
                                     (15, np.float32)])
@pytest.mark.parametrize("phi", ["tanh", "sigmoid"])
def test_fewer_neurons_than_lanes_keep_the_panel_loop(N, dtype, phi):
    # below L neurons the panel loop applies the scalar phi (``dense.finish``), the
    # split kernel the vector one: a single run must take the loop too, so that a
    # batch's trials (in groups, on the loop) equal their single runs bit for bit
    net = _net(N, n_in=1, phi=phi)
    assert _engine.split_blocks(net, 1, "leaky", 1, dtype) is None
    assert _engine.split_blocks(net, 4, "leaky", 1, dtype) is None
    H0 = np.random.default_rng(6).standard_normal((4, N))
    kw = dict(steps=30, dt=0.1, method="euler", dtype=dtype)
    batch = ctrnn.simulate(net, h0=H0, threads=2, **kw).h.values
    for r in range(4):
        single = ctrnn.simulate(net, h0=H0[r], threads=1, **kw).h.values
        np.testing.assert_array_equal(batch[r], single, err_msg=f"trial {r}")


def test_the_crews_state_words_hand_a_run_over_exactly_once():
    # ``_kernels.split``: a helper IDLE in await_job goes ASLEEP only if no caller has
    # claimed it (one compare-and-swap decides a race between the two), takes up a run
    # only at GO; the caller's await_idle lets a claimed helper go and waits for it
    S = _split
    word = np.zeros(16, np.int64)
    assert S.await_job(word, 1, 0) is False and word[8] == S.ASLEEP  # no naps: asleep
    assert S.claim(word, 1) == S.ASLEEP and word[8] == S.ASLEEP  # a sleeper: not claimed
    word[8] = S.IDLE
    assert S.claim(word, 1) == S.IDLE and word[8] == S.CLAIMED
    assert S.claim(word, 1) == S.CLAIMED and word[8] == S.CLAIMED  # claimed once
    # the race itself: whoever loses, the two sides agree
    found = []
    for _ in range(200):
        word[8] = S.BUSY
        got = []
        th = threading.Thread(target=lambda: got.append(S.await_job(word, 1, 0)),
                              daemon=True)
        th.start()
        while word[8] == S.BUSY:
            pass
        found.append(S.claim(word, 1))
        if found[-1] == S.IDLE:  # claimed: it waits for the go, never falls asleep
            time.sleep(0.001)
            assert not got and word[8] == S.CLAIMED
            word[8] = S.GO
            th.join(10)
            assert got == [True] and word[8] == S.BUSY
        else:
            th.join(10)
            assert found[-1] == S.ASLEEP and got == [False] and word[8] == S.ASLEEP
    assert set(found) <= {S.IDLE, S.ASLEEP}
    # the claim's side, for certain: a helper that may nap claimed while waiting stays
    # CLAIMED past its limit, and takes the run at the go
    word[8] = S.BUSY
    got = []
    th = threading.Thread(target=lambda: got.append(S.await_job(word, 1, 2)), daemon=True)
    th.start()
    while word[8] == S.BUSY:
        pass
    assert S.claim(word, 1) == S.IDLE
    time.sleep(0.1)  # > ~10 ms of spinning and two naps
    assert not got and word[8] == S.CLAIMED
    word[8] = S.GO
    th.join(10)
    assert got == [True] and word[8] == S.BUSY
    # DEAD (a helper's thread ended) counts as returned
    word[8] = S.DEAD
    S.await_idle(word, 2)
    # await_idle: a helper still CLAIMED is told to go; it returns once the helper is
    # back (IDLE) or asleep
    word[8] = S.CLAIMED
    th = threading.Thread(target=lambda: S.await_idle(word, 2), daemon=True)
    th.start()
    deadline = time.time() + 10
    while word[8] != S.GO and time.time() < deadline:
        time.sleep(0.001)
    assert word[8] == S.GO and th.is_alive()
    word[8] = S.BUSY
    time.sleep(0.01)
    assert th.is_alive()
    word[8] = S.IDLE
    th.join(10)
    assert not th.is_alive()


def test_a_sleeping_helper_is_woken_for_the_next_run(monkeypatch, split_anywhere,
                                                     reference):
    # a helper unclaimed for IDLE_NAPS naps waits on a Python condition instead; the
    # next run wakes it there (the crew made anew here, with one nap)
    monkeypatch.setattr(_split, "IDLE_NAPS", 1)
    assert _engine._SPLIT_LOCK.acquire(timeout=10)
    try:
        monkeypatch.setattr(_engine, "_CREW", None)
    finally:
        _engine._SPLIT_LOCK.release()
    net = _net(70, n_in=0)
    kw = dict(steps=20, dt=0.1, h0="random", seed=5, method="euler")
    want = reference(net, threads=1, **kw).h.values
    for _ in range(3):
        np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values, want)
        crew = _engine._CREW
        deadline = time.time() + 10
        while crew.word[8] != _split.ASLEEP and time.time() < deadline:
            time.sleep(0.01)
        assert crew.word[8] == _split.ASLEEP
    assert _engine._SPLIT_LOCK.acquire(timeout=10)
    try:
        crew.retire()  # (this test's own crew: its thread ends)
    finally:
        _engine._SPLIT_LOCK.release()
    deadline = time.time() + 10
    while any(th.is_alive() for th in crew.threads) and time.time() < deadline:
        time.sleep(0.01)
    assert not any(th.is_alive() for th in crew.threads)


def _new_crew():
    """No crew: the next split run makes one (the old one's threads end)."""
    assert _engine._SPLIT_LOCK.acquire(timeout=10)
    try:
        if _engine._CREW is not None:
            _engine._CREW.retire()
        _engine._CREW = None
    finally:
        _engine._SPLIT_LOCK.release()


def test_a_larger_crew_replaces_a_smaller_one(split_anywhere, reference):
    net = _net(300, n_in=0)
    kw = dict(steps=10, dt=0.1, h0="random", seed=2, method="euler")
    want = reference(net, threads=1, **kw).h.values
    _new_crew()
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values, want)
    small = _engine._CREW
    assert small.n == 1
    assert len(_stepper(net, 1, 3).blocks) == 3
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=3, **kw).h.values, want)
    assert _engine._CREW is not small and _engine._CREW.n == 2
    deadline = time.time() + 10
    names = lambda: [th.name for th in threading.enumerate() if th.name.startswith("ctrnn-split_")]
    while len(names()) > _engine._CREW.n and time.time() < deadline:
        time.sleep(0.01)
    assert len(names()) == _engine._CREW.n  # the retired crew's threads have ended
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values, want)
    _crew_is_free()


def test_a_new_crew_takes_its_first_run(monkeypatch, split_anywhere, reference):
    # a crew is ready once each helper waits in await_job: a run handed over before
    # that would have been lost (the helper's IDLE overwriting the caller's BUSY, set
    # as for a sleeper); the helpers here are slow to get there
    real = _split.await_job

    def late(*args):
        time.sleep(0.01)
        return real(*args)
    monkeypatch.setattr(_split, "await_job", late)
    net = _net(70, n_in=0)
    kw = dict(steps=5, dt=0.1, h0="random", seed=8, method="euler")
    want = reference(net, threads=1, **kw).h.values
    got = []

    def runs():
        for _ in range(20):
            _new_crew()
            got.append(ctrnn.simulate(net, threads=2, **kw).h.values)
    th = threading.Thread(target=runs, daemon=True)  # a hang fails, not blocks, the suite
    th.start()
    th.join(120)
    assert not th.is_alive() and len(got) == 20
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_a_run_leaves_nothing_with_its_helpers(split_anywhere):
    # the helper's job (holding the run's state and output) is dropped once run: the
    # output's memory goes with the Dataset, not at the next split run
    import gc
    import weakref
    net = _net(70, n_in=0)
    ds = ctrnn.simulate(net, threads=2, steps=5, dt=0.1, h0="random", seed=1,
                        method="euler")
    root = ds.h.values
    while root.base is not None:
        root = root.base
    ref = weakref.ref(root)
    del ds, root
    gc.collect()
    assert ref() is None


def test_a_dead_helper_is_replaced(split_anywhere, reference):
    # a helper whose thread ended (DEAD) is never handed a run: the next split run
    # makes a new crew
    net = _net(70, n_in=0)
    kw = dict(steps=5, dt=0.1, h0="random", seed=3, method="euler")
    want = reference(net, threads=1, **kw).h.values
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values, want)
    crew = _engine._CREW
    assert _engine._SPLIT_LOCK.acquire(timeout=10)
    try:
        crew.hand(1, None)  # ends helper 1, as a failure would
        _split.give_go(crew.word)
    finally:
        _engine._SPLIT_LOCK.release()
    deadline = time.time() + 10
    while crew.word[8] != _split.DEAD and time.time() < deadline:
        time.sleep(0.01)
    assert not crew.alive()
    with pytest.raises(RuntimeError, match="has ended"):
        crew.hand(1, lambda: None)
    np.testing.assert_array_equal(ctrnn.simulate(net, threads=2, **kw).h.values, want)
    assert _engine._CREW is not crew and _engine._CREW.alive()
