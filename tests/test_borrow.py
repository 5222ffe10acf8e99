"""Borrowed arrays (ctrnn._kernels.borrow): views without reference counting, which the
kernels take of their arguments before their loops (issue 12: the atomic counts were a
third of a float32 Euler step at N = 100)."""
import re
import sys
from collections import namedtuple

import numba
import numpy as np

from ctrnn._kernels import rk
from ctrnn._kernels.borrow import borrow
from ctrnn._kernels.packed import Inputs
from ctrnn._kernels.phi import apply_phi


@numba.njit
def _write_through(a, b, t):
    a2 = borrow(a)
    b2, n = borrow((b, 3))  # a tuple of an array and a number
    t2 = borrow(t)
    a2[1, 2] = 7.0       # strided (a transposed view): same strides as a
    b2[:] += n
    x, U, bb, interp = t2
    x[0] = interp
    return a2.shape[0] + a2.strides[0], b2.sum()


def test_borrowed_views_share_data_shape_and_strides():
    base = np.zeros((3, 4))
    a = base.T  # not contiguous
    b = np.ones(5)
    t = Inputs(np.zeros(2), np.zeros((1, 1)), np.zeros(1), 9)
    shape_plus_stride, total = _write_through(a, b, t)
    assert base[2, 1] == 7.0  # written through the borrowed transposed view
    np.testing.assert_array_equal(b, 4.0)
    assert total == 20.0
    assert shape_plus_stride == a.shape[0] + a.strides[0]
    assert t.xs[0] == 9.0


def test_arguments_keep_their_reference_counts():
    """A kernel's arguments leave it with the counts they came with (a borrowed view is
    never counted; were it counted and released, NumPy would see the count drop)."""
    b = np.ones(5)
    before = sys.getrefcount(b)
    for _ in range(100):
        _write_through(np.zeros((3, 4)).T, b, Inputs(np.zeros(2), np.zeros((1, 1)),
                                                      np.zeros(1), 1))
    assert sys.getrefcount(b) == before


def test_the_euler_loop_counts_no_references(monkeypatch):
    """No atomic increment is left in the Euler loop's function (its helpers are inlined
    into it); before, each step counted ~15 arrays in and out. Compiled afresh (the
    cached code cannot be inspected), with the arguments the engine passes."""
    from ctrnn import RateNetwork, _engine, simulate
    from ctrnn._kernels.rhs import make_workspace
    seen, kernel = [], rk.leaky_run

    def spy(*args):
        seen.append(args)
        return kernel(*args)

    monkeypatch.setattr(_engine._rk, "leaky_run", spy)
    # this loop, not the split kernel on one thread (``_engine.split_blocks``), which a
    # one-thread run on panels takes: the loop serves batches in groups and BLAS runs
    monkeypatch.setattr(_engine, "split_blocks", lambda *a: None)
    net = RateNetwork(np.random.default_rng(0).standard_normal((20, 20)) * 0.2)
    simulate(net, steps=3, dt=0.1, h0=np.zeros(20), method="euler", progress=False)
    H, out, k0, n, every, base, net_k, inp, decay, gain, scale, keys, dt, exact = seen[0]
    options = {k: v for k, v in rk._leaky_fused.targetoptions.items() if k != "nopython"}
    fresh = numba.njit(**(options | {"cache": False}))(rk._leaky_fused.py_func)
    code = fresh(H.copy(), out.copy(), k0, n, every, base, net_k, inp, decay, gain, scale,
                 keys, make_workspace(H, net_k, inp))
    assert code[0] == rk.OK
    ir = fresh.inspect_llvm(fresh.signatures[0])

    def name(d):
        return re.match(r"[^@]*@([^(]+)\(", d).group(1)

    bodies = [d.split("\n}\n")[0] for d in ir.split("\ndefine ")[1:]
              if "12_leaky_fused" in name(d) and "cpython" not in name(d)
              and "cfunc" not in name(d)]
    assert len(bodies) == 1  # the kernel's own function (not its Python wrapper)
    # no array is counted on its way into the loop (what is left: one release in a
    # branch that builds an error message)
    assert "NRT_incref" not in bodies[0]


def test_the_split_loop_counts_no_references(monkeypatch):
    """The same for the loop of a run split across threads (``split.leaky_split``): its
    scratch is the caller's and borrowed; counted, the two threads' atomic increments of
    the shared state's meminfo took ~15% of a step at N = 500 (perf). Compiled afresh,
    run as the only thread of one."""
    from ctrnn import RateNetwork, _engine, simulate
    from ctrnn._kernels import split

    seen, kernel = [], split.leaky_split

    def spy(*args):
        seen.append(args)
        return kernel(*args)

    monkeypatch.setattr(split, "leaky_split", spy)
    monkeypatch.setattr(_engine, "SPLIT_MIN", {d: 0 for d in _engine.SPLIT_MIN})
    monkeypatch.setattr(_engine, "SPLIT_SURE", {d: 0 for d in _engine.SPLIT_SURE})
    monkeypatch.setattr(_engine, "available_cpus", lambda: 2)  # splits on any machine
    net = RateNetwork(np.random.default_rng(0).standard_normal((40, 40)) * 0.2)
    simulate(net, steps=3, dt=0.1, h0=np.zeros(40), method="euler", progress=False,
             threads=2)
    args = list(min(seen, key=lambda a: a[-4]))  # thread 0's (the caller's)
    n_blocks = _engine.split_blocks(net, 1, "leaky", 2, np.float64)[-1][1]
    # all blocks, one thread (and the crew's words, as the caller passes them)
    args[-6:] = [0, n_blocks, 0, 1, np.zeros(16, np.int64), np.zeros(16, np.int64)]
    options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
    fresh = numba.njit(**(options | {"cache": False}))(kernel.py_func)
    args[0], args[1], args[2] = args[0].copy(), args[1].copy(), args[2].copy()
    assert fresh(*args)[0] == split.OK
    ir = fresh.inspect_llvm(fresh.signatures[0])
    names = [re.match(r"[^@]*@([^(]+)\(", d).group(1) for d in ir.split("\ndefine ")[1:]]
    bodies = [d.split("\n}\n")[0] for n, d in zip(names, ir.split("\ndefine ")[1:])
              if "11leaky_split" in n and "cpython" not in n and "cfunc" not in n]
    assert len(bodies) == 1
    assert "NRT_incref" not in bodies[0]


_Pair = namedtuple("_Pair", "D E")


@numba.njit(cache=False)
def _stores_through_borrowed(t, x, n):
    t = borrow(t)
    x = borrow(x)
    for k in range(n):
        apply_phi(1, x)  # an inlined overload: Numba's dead-code pass then runs here
        for i in range(t.D.size):
            t.D[i] = x[i] + k  # a store through a field of a borrowed tuple, in a loop
    t.E[0] = 5.0  # a store after the last read


def test_stores_through_borrowed_arrays_are_kept():
    """Numba's dead-code pass deletes stores into arrays it does not see aliasing an
    argument; borrow declares its result an alias of its argument. Without that, D
    stayed zero here (and every gradient of the adjoint kernels came out zero)."""
    t = _Pair(np.zeros(4), np.zeros(1))
    x = np.ones(4)
    _stores_through_borrowed(t, x, 3)
    np.testing.assert_allclose(t.D, np.tanh(np.tanh(np.tanh(1.0))) + 2)
    assert t.E[0] == 5.0
