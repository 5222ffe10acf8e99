"""A batch in groups of trials, one thread a group (``simulate(threads=...)``): each trial
must equal its single run bit for bit, whatever the number of threads and however the
trials fall into groups; inputs and noise keys must follow their trials into the groups;
a blow-up must be reported for the trial (of the whole batch) and the step where it
happened first, as the one-call run reports it."""
import math
import multiprocessing
import os
import sys

import numpy as np
import pytest

import ctrnn
from ctrnn import _engine
from ctrnn._kernels import dense


@pytest.mark.parametrize("B,n", [(B, n) for B in range(1, 12) for n in range(1, 6)])
def test_trial_groups_cover_the_batch_in_balanced_contiguous_groups(B, n):
    groups = _engine.trial_groups(B, n)
    assert len(groups) == min(B, n)
    assert groups[0][0] == 0 and groups[-1][1] == B
    assert all(a1 == b0 for (_, a1), (b0, _) in zip(groups, groups[1:]))
    sizes = [r1 - r0 for r0, r1 in groups]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def _net(N, noise=0.0, sparse=False):
    W = (ctrnn.connectivity.sparse(N, 0.2, 1.5, seed=3) if sparse
         else ctrnn.connectivity.gaussian(N, 1.5, seed=0))
    U = np.random.default_rng(2).standard_normal((N, 2))
    return ctrnn.RateNetwork(W, U=U, b=0.1, tau=1.0, noise=noise)


# N = 130 and 197 (odd: the last input outside the product's loop over pairs of inputs),
# B = 5: in one group, a wide block takes the trials three then two at a time; in groups
# of 3 and 2, or 2, 2 and 1, every way a trial can share a pass
@pytest.mark.parametrize("N,sparse,dtype", [(40, False, np.float64), (130, False, np.float64),
                                            (130, False, np.float32), (197, False, np.float64),
                                            (197, False, np.float32), (60, True, np.float64)])
def test_every_trial_equals_its_single_run_bit_for_bit(N, sparse, dtype):
    net = _net(N, sparse=sparse)
    B = 5
    rng = np.random.default_rng(1)
    H0 = rng.standard_normal((B, N))
    xs = rng.standard_normal((B, 61, 2))
    for threads, groups in ((1, None), (2, [(0, 3), (3, 5)]), (3, [(0, 2), (2, 4), (4, 5)])):
        st = _engine.plan(ctrnn.integrators.get_method("rk4"), net, H0.copy(), xs, 0, dt=0.1,
                          steps=60, dtype=dtype, threads=threads)
        assert st.groups == groups
        assert st.net_k.Wp.size == (0 if sparse else dense.pack_panels(net.W.astype(dtype)).size)
    for method in ("euler", "rk4", "exponential_euler"):
        singles = [ctrnn.simulate(net, steps=60, dt=0.1, h0=H0[r], inputs=xs[r], method=method,
                                  dtype=dtype).h.values for r in range(B)]
        for threads in (1, 2, 3, 8):
            batch = ctrnn.simulate(net, steps=60, dt=0.1, h0=H0, inputs=xs, method=method,
                                   dtype=dtype, threads=threads)
            for r in range(B):
                np.testing.assert_array_equal(batch.h.values[r], singles[r],
                                              err_msg=f"{method} threads={threads} trial {r}")


def test_a_larger_dense_batch_takes_one_blas_product_a_step():
    # above GROUPS_MAX the batch is one kernel call (BLAS's dgemm, which threads itself):
    # threads changes nothing, and the trials equal their single runs (dgemv) to round-off
    N = _engine.GROUPS_MAX + 30
    net = _net(N)
    H0 = np.random.default_rng(1).standard_normal((3, N))
    st = _engine.plan(ctrnn.integrators.get_method("rk4"), net, H0.copy(),
                      np.zeros((1, 41, 2)), 0, dt=0.1, steps=40, threads=2)
    assert st.groups is None and st.net_k.Wp.size == 0  # one call, BLAS
    kw = dict(steps=40, dt=0.1, h0=H0, method="rk4")
    one, two = (ctrnn.simulate(net, threads=t, **kw).h.values for t in (1, 2))
    np.testing.assert_array_equal(one, two)
    for r in range(3):
        single = ctrnn.simulate(net, steps=40, dt=0.1, h0=H0[r], method="rk4").h.values
        np.testing.assert_allclose(one[r], single, rtol=0, atol=1e-12)


def test_shared_inputs_and_noise_follow_their_trials():
    # one input sequence for all trials, noise keyed by (seed, trial, step): any number of
    # threads gives the same batch; each trial's noise differs from the others'
    net = _net(50, noise=0.3)
    xs = np.random.default_rng(5).standard_normal((41, 2))
    runs = [ctrnn.simulate(net, steps=40, dt=0.1, trials=6, inputs=xs, seed=11, method="euler",
                           threads=t).h.values for t in (1, 2, 4)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])
    assert not np.array_equal(runs[0][0], runs[0][5])


def test_blowup_is_reported_for_the_earliest_trial_and_step_across_groups():
    # dh/dt = 2 h (linear, W = 3 I): a trial blows up when h reaches the float64 range,
    # sooner the larger h0; trial 4 (in the second group) first, trial 1 (first group)
    # later, the others (h0 = 0) never
    net = ctrnn.RateNetwork(np.eye(3) * 3.0, tau=1.0, phi="linear")
    H0 = np.zeros((6, 3))
    H0[1, 2] = 1e-3
    H0[4, 0] = 1e3
    kw = dict(duration=500.0, dt=0.1, h0=H0, method="euler")
    with pytest.raises(FloatingPointError, match=r"trial 4.*neuron 0|neuron 0.*trial 4"):
        ctrnn.simulate(net, threads=2, **kw)
    one = ctrnn.simulate(net, threads=1, on_blowup="return", save_every=10, **kw)
    two = ctrnn.simulate(net, threads=2, on_blowup="return", save_every=10, **kw)
    assert two.attrs["status"] == one.attrs["status"]
    np.testing.assert_array_equal(two.h.values, one.h.values)  # NaN where one has NaN
    last = np.isfinite(one.h.values[4, :, 0]).sum()
    assert 0 < last < one.sizes["time"]
    assert np.isnan(one.h.values[:, last:]).all()  # every trial stops where trial 4 did


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux: affinity and cgroup")
def test_the_cgroup_quota_is_read_again_after_a_second(monkeypatch):
    reads = []
    monkeypatch.setattr(_engine, "_cgroup_quota", lambda: reads.append(1) or 1)
    monkeypatch.setattr(_engine, "_QUOTA", [None, -math.inf])
    assert _engine.available_cpus() == 1 and _engine.available_cpus() == 1
    assert len(reads) == 1  # once: kept for QUOTA_RECHECK seconds
    _engine._QUOTA[1] -= 2 * _engine.QUOTA_RECHECK
    monkeypatch.setattr(_engine, "_cgroup_quota", lambda: reads.append(1) or None)
    assert _engine.available_cpus() == len(os.sched_getaffinity(0)) and len(reads) == 2


def test_threads_is_validated():
    net = _net(10)
    with pytest.raises(ValueError, match="threads"):
        ctrnn.simulate(net, steps=5, dt=0.1, trials=2, threads=0)
    with pytest.raises(TypeError, match="threads"):
        ctrnn.simulate(net, steps=5, dt=0.1, trials=2, threads=1.5)


def _child(q):
    net = _net(30)
    ds = ctrnn.simulate(net, steps=20, dt=0.1, trials=4, h0="random", seed=0, threads=2)
    q.put(float(ds.h.values.sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_runs_threaded_batches():
    # the parent's pool of worker threads does not exist in a forked child: the child
    # must make its own instead of waiting forever on the parent's
    net = _net(30)
    want = ctrnn.simulate(net, steps=20, dt=0.1, trials=4, h0="random", seed=0,
                          threads=2).h.values.sum()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,), daemon=True)
    p.start()
    try:
        p.join(120)
        assert p.exitcode == 0, "the child hung or failed"
        assert q.get(timeout=5) == want
    finally:
        if p.is_alive():
            p.kill()


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_an_error_in_any_group_propagates_after_every_group_has_finished(failing):
    import threading
    import time

    finished = []
    lock = threading.Lock()

    def kernel(Z, buf, k0, n, save_every, base, tag):
        if tag == failing:
            raise MemoryError(f"group {tag}")
        time.sleep(0.2)  # the others are still writing when the failing one raises
        Z[:] = tag
        with lock:
            finished.append(tag)
        return 0, 0, 0, 0
    Z = np.full((6, 2), -1.0)
    groups = _engine.trial_groups(6, 3)
    with pytest.raises(MemoryError, match=f"group {failing}"):
        _engine._in_groups(kernel, groups, Z, np.zeros((6, 1, 2)), (0, 1, 1, 0),
                           [(g,) for g in range(3)])
    assert sorted(finished) == [g for g in range(3) if g != failing]
    for g, (r0, r1) in enumerate(groups):  # nothing was written after the raise
        assert (Z[r0:r1] == (-1 if g == failing else g)).all()
