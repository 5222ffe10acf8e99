"""One run's neurons split across threads: each thread steps its own rows of the panels
(``dense``) for every trial, and the threads meet at a barrier once a step.

Why: a step reads all of h but each neuron's new value needs only its own row of W. On
two cores each holds half of W in its own caches: at N = 500 (W 2 MB in float64, as
large as one core's L2 cache here) a step of one trajectory took 34.4 us on one thread
and 14.5 on two (benchmarks/README.md, "One run on several threads"). The price is the
barrier, ~0.2 us here (a cache line going from one core to the other and back), which
is why small networks stay on one thread.

A thread finishes each block as soon as its sums are formed: phi and the leak straight
from the registers (``dense.block_leak``), with no pass over the sums in memory, so the
out-of-order core overlaps phi's arithmetic with the next block's loads of W. That is
also the fastest one-thread loop on panels: a run on one thread that would take them
(``ctrnn._engine.split_blocks``) runs this kernel with all the blocks in one range, where
the barrier is two uncontended atomic accesses (one trajectory at N = 100: 0.85 us a
step against 0.90 for ``rk.leaky_run``'s product and then one sweep, on the AMD EPYC
of benchmarks/README.md).

Each thread's rows are whole blocks of the panels and each row's sum is the one the
one-thread panel product forms, so the result equals a one-thread run on panels bit for
bit (``ctrnn._engine`` says where a one-thread run takes BLAS instead).

The state lives in two padded buffers Hs (2 B, Np): step c (counted from 1 in the call)
reads rows (c - 1) % 2 * B ... and writes rows c % 2 * B ... (own columns only), so that
no thread writes what another may still be reading; the barrier after step c lets a
thread start step c + 1 only once every thread has written step c.

Barrier: thread t stores c into flags[8 t] (release) and waits until every other
thread's flag is >= c (acquire); each flag has a cache line of its own. flags[8 T] is
the abort flag: a thread that meets a non-finite state at step c stores c there before
its own flag; the others stop at their barrier of step c (never earlier: a thread still
waiting at step c - 1 goes on to step c, checks its own rows there and stops after it,
so every thread ends at the same step). The caller stores -1 if a thread failed in
Python: every thread stops at once.

Threads 1 ... T - 1 stay in one ``serve_split`` call for all the chunks of a run,
waiting for each chunk's order (``post``) as they wait at the barrier; the caller steps
thread 0's part (``leaky_split``) and waits for theirs (``await_done``). Between runs
they wait in ``await_job`` for the next (the crew's state words, below). After ~10 ms
without an order a waiting thread sleeps 0.1 ms a turn (``nap``), so that one left
waiting while its caller does something else between chunks (writes a Zarr chunk)
gives its core back. Spinning threads pause, and yield the CPU every
2,000 turns (~0.1 ms), so that a thread descheduled by a busy machine gets its core
back: two split runs at once on two cores took 73-192 ms against 69-123 for two
one-thread runs (yielding after 20,000 turns: 602-628 against 214-215; every 200
turns cost ~10% at N = 1000 alone). Elsewhere than POSIX nothing yields.
"""
import os
import platform

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import jit
from .borrow import borrow
from .dense import aligned_rows, block_count, block_leak, block_start
from .rhs import drive
from .rk import _first_save
from .rng import add_noise_row
from .simd import _element_ptr

OK, NONFINITE = 0, 1
_ARCH = platform.machine().lower()
_X86 = _ARCH in ("x86_64", "amd64", "i386", "i686")
_ARM64 = _ARCH in ("aarch64", "arm64")
_YIELD_AFTER = 2000
_NAP_AFTER, _NAP_US = 100, 100
# whether a waiting thread can give its core back (``yield_cpu``, ``nap``); elsewhere a
# run's helpers are not kept waiting between chunks (``ctrnn._engine._SplitLeaky``)
WAITS_IDLE = os.name == "posix"
# A helper's state word in the crew kept between runs (``ctrnn._engine._Crew``), one
# cache line each: IDLE, waiting in ``await_job``; ASLEEP, waiting on a Python condition
# (after IDLE_NAPS naps); CLAIMED by a caller (``claim``), which has put the run in its
# slot; GO, told to take it up (``leaky_split``, by the caller's thread 0); BUSY, running
# it. Handing a run over this way takes no wake-up of a sleeping thread and no GIL held
# by another: with a pool's queue, a thread's start and end cost 0.1-0.3 ms a run at
# N = 500 with 64 trials (two wake-ups of a sleeping thread on the VM of
# benchmarks/README.md, and waits for the GIL).
# DEAD: its thread has ended (``_Crew._serve``).
IDLE, ASLEEP, CLAIMED, GO, BUSY, DEAD = 0, 1, 2, 3, 4, 5
IDLE_NAPS = 1000  # ~0.1 s of naps after ~10 ms of spinning, then asleep


@intrinsic
def load_acquire(typingctx, arr, i):
    """arr[i] of an int64 array, an atomic load with acquire ordering."""
    def codegen(context, builder, sig, args):
        p = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(p, "acquire", 8)
    return types.int64(arr, i), codegen


@intrinsic
def store_release(typingctx, arr, i, v):
    """arr[i] = v into an int64 array, an atomic store with release ordering."""
    def codegen(context, builder, sig, args):
        p = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, p, "release", 8)
        return context.get_dummy_value()
    return types.none(arr, i, v), codegen


@intrinsic
def compare_swap(typingctx, arr, i, expected, new):
    """arr[i] = new if arr[i] == expected, atomically (sequentially consistent); returns
    the value found."""
    def codegen(context, builder, sig, args):
        p = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        e = context.cast(builder, args[2], sig.args[2], types.int64)
        n = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(p, e, n, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 0)
    return types.int64(arr, i, expected, new), codegen


@intrinsic
def spin_pause(typingctx):
    """The CPU's spin-wait hint (x86 ``pause``, ARM64 ``yield``; nothing elsewhere)."""
    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(fn, [])
        elif _ARM64:
            i32 = ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i32]), "llvm.aarch64.hint")
            builder.call(fn, [ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def yield_cpu(typingctx):
    """POSIX ``sched_yield()``: give the core to another runnable thread (elsewhere
    nothing: the spin goes on with the CPU's hint alone)."""
    def codegen(context, builder, sig, args):
        if os.name == "posix":
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
            builder.call(fn, [])
        return context.get_dummy_value()
    return types.none(), codegen


@intrinsic
def nap(typingctx):
    """POSIX ``usleep(_NAP_US)``: sleep ~0.1 ms (elsewhere nothing)."""
    def codegen(context, builder, sig, args):
        if os.name == "posix":
            i32 = ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(i32, [i32]), "usleep")
            builder.call(fn, [ir.Constant(i32, _NAP_US)])
        return context.get_dummy_value()
    return types.none(), codegen


@jit(inline="always")
def _idle_turn(turns):
    """One turn of a waiting thread that has waited ``turns`` turns: the CPU's spin
    hint, a yield of the CPU every _YIELD_AFTER turns (~0.1 ms), and after _NAP_AFTER
    yields (~10 ms) a nap (~0.1 ms) instead. Returns turns + 1."""
    if turns >= _YIELD_AFTER * _NAP_AFTER:
        nap()
    else:
        spin_pause()
        if turns % _YIELD_AFTER == _YIELD_AFTER - 1:
            yield_cpu()
    return turns + 1


@jit(inline="always")
def await_change(a, i, seen):
    """a[i] (an atomic load with acquire ordering) once it differs from ``seen``,
    waiting by ``_idle_turn``: a helper waiting for the next chunk of a run holds its
    core no longer than ~10 ms."""
    turns = 0
    while True:
        v = load_acquire(a, i)
        if v != seen:
            return v
        turns = _idle_turn(turns)


@jit(inline="always")
def _stops(flags, T, c):
    """Whether a thread that has finished step c stops: a failure at a step <= c, or
    the caller's stop (-1)."""
    a = load_acquire(flags, 8 * T)
    return a < 0 or 0 < a <= c


@jit(inline="always")
def barrier(flags, t, T, c):
    """Thread t of T has finished step c: wait until every thread has, unless the run
    stops at step c (``_stops``). Returns whether it stops."""
    store_release(flags, 8 * t, c)
    for s in range(T):
        if s == t:
            continue
        n = 0
        while load_acquire(flags, 8 * s) < c:
            if _stops(flags, T, c):
                return True
            spin_pause()
            n += 1
            if n == _YIELD_AFTER:
                yield_cpu()
                n = 0
    return _stops(flags, T, c)


@jit(inline="always")
def _first_bad(Hs, row0, B, i0, i1):
    """(trial, column, is_inf) of the first infinite entry among columns i0 <= i < i1 of
    rows row0 ... row0 + B - 1 (trial-major), else of the first NaN; (-1, -1, False)
    when all are finite (``rhs.first_nonfinite``'s rule on a part of the state).

    The check of every step indexes with unsigned integers: with signed ones from i0,
    Numba's negative-index wraparound kept LLVM from vectorising it (0.93 us a step
    against 0.85 at N = 100)."""
    bad = 0
    for r in range(B):
        row = np.uint64(row0 + r)
        for i in range(np.uint64(i0), np.uint64(i1)):
            bad |= 0 if abs(Hs[row, i]) < np.inf else 1
    if bad == 0:
        return -1, -1, False
    for r in range(B):
        for i in range(i0, i1):
            if abs(Hs[row0 + r, i]) == np.inf:
                return r, i, True
    for r in range(B):
        for i in range(i0, i1):
            if Hs[row0 + r, i] != Hs[row0 + r, i]:
                return r, i, False
    return -1, -1, False


@jit
def leaky_split(Hs, H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
                noise_scale, keys, D, Xw, Dp, b0, b1, t, T, flags, crew):
    """``rk.leaky_run`` (no STP, dense on panels, a built-in phi with a vector form) for
    the blocks b0 <= b < b1 of the panels, as thread t of T (module docstring).
    ``crew``: the state words of the helpers kept between runs (``await_job``): the
    caller's thread 0 passes them, and first tells the claimed ones to go (from here,
    with the GIL released: a helper that took up its run while the caller held the GIL
    would have had to wait for it); helpers pass an empty array.

    Hs (2 B, Np): the state in its first B rows (columns < N) on entry, shared by the
    threads; so it is on a normal return too (the state of the next chunk). decay, gain
    (Np,): zero past N. This thread's scratch (``split_workspace``): D (Bx, N) and Xw
    (Bx, n_in) the drive and inputs (``rhs.drive``), Dp (Bx, Np) the drive padded with
    zeros (b in its first N columns when there are no inputs). On return, H[:, own
    columns] holds the state after the last step taken. Returns (code, step, trial,
    column, is_inf): this thread's first non-finite entry, or OK (also when another
    thread stopped the run; step then says where)."""
    Hs = borrow(Hs)
    H = borrow(H)
    out = borrow(out)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    D = borrow(D)
    Xw = borrow(Xw)
    Dp = borrow(Dp)
    flags = borrow(flags)
    crew = borrow(crew)
    go(crew)
    Wp, phi = net.Wp, net.phi
    B, N = H.shape
    Np = Hs.shape[1]
    lo = block_start(N, Wp, b0)[0]
    hi = block_start(N, Wp, b1)[0] if b1 < block_count(N, Np, Wp) else Np
    top = min(hi, N)  # the last real neuron + 1 of this thread
    Bx, n_in = inp.xs.shape[0], inp.xs.shape[2]
    turn = 0
    c = 0
    ks = _first_save(k0, save_every)
    for k in range(k0, k0 + nsteps):
        c += 1
        src = ((c - 1) & 1) * B
        dst = (c & 1) * B
        if n_in > 0:
            drive(inp, k, 0.0, D, Xw)
            for r in range(Bx):
                Dp[r, lo:top] = D[r, lo:top]
        # own blocks, alternately forwards and backwards (``dense.panel_sums``), each
        # block's phi and leak straight from the registers that hold its sums
        # (``dense.block_leak``): no pass over the sums in memory, and the out-of-order
        # core overlaps phi's arithmetic with the next block's loads of W
        turn ^= 1
        for bi in range(b0, b1):
            block_leak(Wp, Hs, src, dst, B, N, Dp, decay, gain, phi,
                       b0 + b1 - 1 - bi if turn else bi)
        if keys.size > 0:
            for r in range(B):
                add_noise_row(Hs, dst + r, keys[r], k, noise_scale, lo, top)
        r, i, inf = _first_bad(Hs, dst, B, lo, top)
        if r >= 0:
            store_release(flags, 8 * T, c)
        stop = barrier(flags, t, T, c)
        if r >= 0 or stop:
            for q in range(B):
                H[q, lo:top] = Hs[dst + q, lo:top]
            return (NONFINITE if r >= 0 else OK), k, r, i, inf
        if k == ks:
            j = (k + 1) // save_every - save_base
            for q in range(B):
                out[q, j, lo:top] = Hs[dst + q, lo:top]
            ks += save_every
    last = (c & 1) * B
    for q in range(B):
        H[q, lo:top] = Hs[last + q, lo:top]
        if last != 0:  # the next chunk reads rows 0 ... B - 1
            Hs[q, lo:top] = Hs[last + q, lo:top]
    return OK, k0 + nsteps, -1, -1, False


# the kernel serve_split calls, bound here: Numba resolves a global when it compiles,
# and a test that wraps ``leaky_split`` in Python must not become serve_split's callee
_leaky_split = leaky_split


@jit
def serve_split(ctrl, status, Hs, H, out, save_every, net, inp, decay, gain, noise_scale,
                keys, D, Xw, Dp, b0, b1, t, T, flags):
    """Thread t >= 1 of a split run, for all of the run's chunks in one call: waits
    (``await_change``) for each order the caller posts (``post``), steps its part of the
    chunk (``leaky_split`` with the order's k0, nsteps and save_base), writes its status
    tuple into status[t] and the order into ctrl[8 t] (release); returns at order -1.
    A thread kept in a kernel from chunk to chunk needs no Python between them: handing
    each chunk to a thread of a pool cost ~0.13 ms (two wake-ups of a sleeping thread,
    on the VM of benchmarks/README.md), a call of 62 steps at N = 500 four times that.

    ctrl (8 T,) int64: the order (counted from 1; -1: stop), k0, nsteps and save_base in
    ctrl[0:4], thread t's last finished order in ctrl[8 t]."""
    seen = 0
    while True:
        order = await_change(ctrl, 0, seen)
        if order < 0:
            return
        seen = order
        code, k, r, i, inf = _leaky_split(Hs, H, out, ctrl[1], ctrl[2], save_every,
                                          ctrl[3], net, inp, decay, gain, noise_scale, keys,
                                          D, Xw, Dp, b0, b1, t, T, flags, flags[:0])
        status[t, 0] = code
        status[t, 1] = k
        status[t, 2] = r
        status[t, 3] = i
        status[t, 4] = 1 if inf else 0
        store_release(ctrl, 8 * t, order)


@jit
def post(ctrl, flags, T, k0, nsteps, save_base, order):
    """The caller's order of a chunk to the threads in ``serve_split``: the barrier's step
    flags back to 0 (every thread counts the chunk's steps from 1; the abort flag stays),
    the chunk's k0, nsteps and save_base, then the order (release)."""
    for s in range(T):
        flags[8 * s] = 0
    ctrl[1] = k0
    ctrl[2] = nsteps
    ctrl[3] = save_base
    store_release(ctrl, 0, order)


@jit
def await_done(ctrl, T, order):
    """Wait until every thread 1 <= t < T has finished ``order`` (ctrl[8 t]); False as
    soon as one has failed instead (its caller stores -1 there)."""
    for s in range(1, T):
        v = load_acquire(ctrl, 8 * s)
        while v != order:
            if v < 0:
                return False
            v = await_change(ctrl, 8 * s, v)
    return True



@jit
def await_job(crew, t, naps):
    """Helper t of the crew, done with its last run: IDLE, then wait (as ``await_change``:
    spin, yield, nap) for the caller's GO; True once it is BUSY with the run, False once
    it is ASLEEP instead, unclaimed after ~10 ms of spinning and ``naps`` naps (0: at
    once, without spinning)."""
    i = 8 * t
    store_release(crew, i, IDLE)
    limit = _YIELD_AFTER * _NAP_AFTER + naps if naps > 0 else 0
    turns = 0
    while True:
        v = load_acquire(crew, i)
        if v == GO:
            store_release(crew, i, BUSY)
            return True
        if v == IDLE and turns >= limit:
            if compare_swap(crew, i, IDLE, ASLEEP) == IDLE:
                return False
            continue  # claimed meanwhile
        if v == CLAIMED and turns >= _YIELD_AFTER * _NAP_AFTER:
            turns = 0  # claimed while napping: spin again, the go is microseconds away
        turns = _idle_turn(turns)


@jit(inline="always")
def go(crew):
    """Tell every CLAIMED helper of the crew to go."""
    for s in range(crew.size // 8):
        if load_acquire(crew, 8 * s) == CLAIMED:
            store_release(crew, 8 * s, GO)


@jit
def give_go(crew):
    """``go`` from Python (a crew's retirement)."""
    go(crew)


@jit
def claim(crew, t):
    """The caller's claim of helper t: CLAIMED if it was IDLE; the state found."""
    return compare_swap(crew, 8 * t, IDLE, CLAIMED)


@jit
def await_idle(crew, T):
    """The caller's wait, at the end of a run, until helpers 1 ... T - 1 are back in
    ``await_job`` (IDLE, or ASLEEP since), all Python of their run done, or DEAD; those
    still CLAIMED (the caller failed before its thread 0 started) are told to go first."""
    go(crew)
    for s in range(1, T):
        v = load_acquire(crew, 8 * s)
        while v != IDLE and v != ASLEEP and v != DEAD:
            v = await_change(crew, 8 * s, v)


def split_workspace(B, N, Np, inp, dtype):
    """One thread's scratch for ``leaky_split``: (D, Xw, Dp)."""
    Bx, n_in = inp.xs.shape[0], inp.xs.shape[2]
    like = np.zeros(0, dtype)
    Dp = aligned_rows(Bx, Np, like)
    Dp[:] = 0
    Dp[:, :N] = inp.b
    return np.empty((Bx, N), dtype), np.empty((Bx, n_in), dtype), Dp
