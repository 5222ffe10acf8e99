"""The one door to the kernels: every run (``simulate``, the echo state network,
Lyapunov spectra, the trainer) goes through here.

What lives here, and nothing else (no xarray, no option parsing: callers validate first):

- packing validated objects into the named tuples the kernels read by name
  (``Network``, ``STPParams``, ``Inputs``, ``AdaptiveTableau``; ``_kernels.packed``);
- the table from a method's kind to its kernels (``STEPPERS``, ``TANGENT_KERNELS``):
  nobody else branches on a method's name or kind;
- a fixed-step batch run in groups of trials, one thread a group (``in_groups``), and
  one run's neurons split across threads with a barrier a step (``split_blocks``), in a
  band of sizes only where timing both ways on this machine finds it pays (``split_pays``);
- one chunk driver (``run``) that advances the state chunk by chunk, writes the saved
  states into a sink (an in-memory array or a Zarr store, ``ctrnn.io``) and reports
  progress, returning a ``Report`` whose ``Status`` carries the message telling the user
  what to change (diffrax's RESULTS is the model).
"""
from __future__ import annotations

import contextlib
import enum
import functools
import itertools
import math
import os
import statistics
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._kernels import dense as _dense
from ._kernels import lyapunov as _lyap
from ._kernels import rk as _rk
from ._kernels import split as _split
from ._kernels.phi import LINEAR, RELU, SIGMOID, TANH
from ._kernels.packed import CSR, AdaptiveTableau, Inputs, Network, STPParams
from ._kernels.rhs import HOLD
from .integrators import get_method
from .network import RateNetwork

__all__ = ["Status", "Report", "Network", "STPParams", "Inputs", "AdaptiveTableau",
           "pack_network", "pack_inputs", "stp_initial_state", "plan", "run", "MemorySink",
           "states", "tangent_stepper", "check_tangent", "STEPPERS", "TANGENT_KERNELS"]

TARGET_CHUNK_SECONDS = 0.25  # kernel calls last about this long, for progress updates
# The first chunk's work (a stepper's ``cost`` units, about multiply-adds): 20-50 ms at
# the 2-5 10^10 a second of the dense kernels on the machine of benchmarks/README.md, 1 s
# at 10^9 (then progress shows, after 2 s, and Ctrl-C acts). Each further chunk costs
# 0.1-0.2 ms at N = 500 with 64 trials (Python between the calls, run slowly because the
# kernel has just filled the caches, then W back into them): at 2 10^6 a run of 62 such
# steps took four chunks (1, 4, 16, 41 steps), at 10^8 three (6, 24, 32), now one.
FIRST_CHUNK_WORK = 1e9
# ... and for the adaptive methods, whose work a save is a guess (five steps of every
# stage): a stiff run or a tight rtol could take ten times that before its first progress
FIRST_CHUNK_WORK_ADAPTIVE = 1e8
# ... counting each step at least this much (a step's own cost, its loop and checks, is
# tens of ns whatever the network: one neuron's cost of 2 would make 5 10^7 steps)
MIN_STEP_WORK = 2000


class Status(enum.IntEnum):
    """How a run ended: the kernels' integer codes, each with the message that tells the
    user what to change (``Report.message``) and the exception it raises."""

    OK = _rk.OK
    NONFINITE = _rk.NONFINITE
    MAX_STEPS = _rk.MAX_STEPS
    STEP_UNDERFLOW = _rk.STEP_UNDERFLOW

    @property
    def exception(self):
        """FloatingPointError for a blow-up, RuntimeError for a stopped solver."""
        return FloatingPointError if self is Status.NONFINITE else RuntimeError


_MESSAGES = {
    Status.OK: "ok",
    Status.NONFINITE: (
        "the state left the finite range {where} in neuron {neuron}{trial}: the network "
        "diverges ({advice}) (on_blowup='return' keeps the partial result)"),
    Status.MAX_STEPS: ("max_steps={max_steps} reached at t = {t:g}{trial}: raise max_steps "
                       "or loosen rtol/atol"),
    Status.STEP_UNDERFLOW: (
        "{method} step size underflow at t = {t:g}{trial}: the problem is too stiff or "
        "singular for an explicit method; loosen rtol/atol or use a fixed-step method "
        "with small dt"),
}


@dataclass(frozen=True)
class Report:
    """The end of a run. status; for a failure the step (fixed-step: the global index of
    the failing step; adaptive: the number of steps taken), the trial, the state column
    (neuron, or N + i / 2 N + i for STP's u / x of neuron i), the time t reached and
    ``where`` (words for the place in the run)."""

    status: Status
    step: int = 0
    trial: int = 0
    column: int = 0
    t: float = 0.0
    where: str = ""
    advice: str = ""

    @property
    def ok(self):
        return self.status is Status.OK

    def message(self, *, method, n_neurons, batched, max_steps=None):
        """The user's message: what happened, where, and what to change."""
        N = n_neurons
        col = self.column
        neuron = f"{col % N}" + ("" if col < N else f" (STP variable {'ux'[col // N - 1]})")
        return _MESSAGES[self.status].format(
            where=self.where, neuron=neuron, trial=f" of trial {self.trial}" if batched else "",
            method=method, max_steps=max_steps, t=self.t, advice=self.advice)


# --- packing ---------------------------------------------------------------------------
def _packer(dtype):
    """a -> a contiguous, writable array of ``dtype`` (Numba's BLAS path copies
    read-only arrays on every product)."""
    def arr(a):
        a = np.ascontiguousarray(a, dtype=dtype)
        return a if a.flags.writeable else a.copy()
    return arr


def _stp_params(net):
    """STP parameters as float64 arrays (U, 1/tau_f, 1/tau_d, efficacy) and rate_scale;
    arrays of size 0 without STP."""
    if net.stp is None:
        empty = np.zeros(0)
        return (empty, empty, empty, empty), 1.0
    Us, tf, td = net.stp.arrays(net.n_neurons)
    eff = 1.0 / Us if net.stp.efficacy == "relative" else np.ones(net.n_neurons)
    return (Us, 1.0 / tf, 1.0 / td, eff), net.stp.rate_scale


# W in the kernels' forms (a dtype's copy, its transpose, its panels) and other arrays
# made from it (simulate's sum of W^2), kept with the network for its next run: a
# RateNetwork is immutable and its W private, and packing cost 0.8 ms of a 3 ms call at
# N = 500 (64 trials, one step; 24 ms for 62 steps). Only forms up to PACKED_CACHE_MAX
# bytes are kept (a network may keep three per dtype): a large W's packing is small
# beside its run, and kept copies would multiply its memory.
# The kernels only read these arrays.
PACKED_CACHE_MAX = 1 << 24
_PACKED = {}  # id(net) -> {key: array}; an entry goes when its network is collected
_PACKED_LOCK = threading.Lock()


def kept(net, key, make):
    """make(), or the array it made for ``net`` and ``key`` before (``_PACKED``; by
    identity: a network hashes by its content, which would cost as much as packing)."""
    hit = _PACKED.get(id(net), {}).get(key)  # dict reads are atomic under the GIL
    if hit is not None:
        return hit
    value = make()
    if value.nbytes <= PACKED_CACHE_MAX:
        if id(net) not in _PACKED:
            # registered first, outside the lock: a collection started by an allocation
            # may run another network's finaliser here, and an entry must never outlive
            # its network (a later one may get its id)
            weakref.finalize(net, _forget_packed, id(net))
        with _PACKED_LOCK:
            _PACKED.setdefault(id(net), {})[key] = value
    return value


def _forget_packed(key):
    """A network's finaliser: its kept forms go (no lock: it may run inside ``kept``
    when an allocation there starts a collection; dict.pop is atomic)."""
    _PACKED.pop(key, None)


def pack_network(net, rows, dtype=np.float64, tau=None, panels=None):
    """The kernels' ``Network`` for a state of ``rows`` rows (trials, or the state and
    its tangent vectors). A sparse W stays CSR; WT is made only when rows > 1. ``tau``:
    net.tau_array, when the caller has it already. ``panels``: pack W into panels
    (``_kernels.dense``) or not; default ``uses_panels``. A dense W's forms are kept
    with ``net`` for its next run (``kept``)."""
    dtype = np.dtype(dtype)
    arr = _packer(dtype)
    tau = net.tau_array if tau is None else tau
    none = np.zeros(0, dtype)
    if net.is_sparse:  # CSR arrays; the sparse kernel needs no transpose
        # unsigned indices: no negative-index wraparound in the kernels' loops (rhs.py)
        W = CSR(arr(net._W.data), net._W.indices.astype(np.uint32),
                net._W.indptr.astype(np.uint64))
        WT, Wp = W, none
    else:
        # the network's private writable array: no copy in float64
        W = kept(net, ("W", dtype), lambda: arr(net._W))
        WT = kept(net, ("WT", dtype), lambda: arr(net._W.T)) if rows > 1 else W
        use = uses_panels(net.n_neurons, rows, dtype) if panels is None else panels
        Wp = kept(net, ("Wp", dtype), lambda: _dense.pack_panels(W)) if use else none
    arrays, scale = _stp_params(net)
    stp = STPParams(*(arr(a) for a in arrays), np.dtype(dtype).type(scale))
    return Network(W, WT, Wp, arr(1.0 / tau), net.phi.code, stp)


# Up to which N the panel product (``_kernels.dense``) is used instead of BLAS, for one
# state row (a trajectory, or a trial of an adaptive run) and for several (a state with
# tangent vectors). A fixed-step batch is not decided here: up to GROUPS_MAX it runs on
# panels in groups of trials (see there), above on BLAS. From
# benchmarks/bench_crossover.py on the 2-core machine of benchmarks/README.md: one
# trajectory is 1.4-3.6x faster on panels at every measured N up to 500 and slower at
# 700; several rows in one call were 10-40% faster on BLAS's dgemm, which also uses the
# second core, so the tangent vectors keep BLAS. Either way ``dense.finish`` completes
# the step in one sweep per row.
PANEL_MAX = {(np.dtype(np.float64), False): 500, (np.dtype(np.float64), True): 0,
             (np.dtype(np.float32), False): 500, (np.dtype(np.float32), True): 0}


def uses_panels(N, rows, dtype):
    """Whether a dense network of N neurons with ``rows`` state rows runs on panels."""
    return N <= PANEL_MAX[np.dtype(dtype), rows > 1]


def pack_inputs(net, xs, interp, dtype=np.float64):
    """The kernels' ``Inputs`` for xs (Bx, T + 1, n_inputs) on the step grid and an
    interpolation code (``ctrnn.inputs.interp_code``)."""
    arr = _packer(np.dtype(dtype))
    N = net.n_neurons
    return Inputs(arr(xs), arr(net._U.T if xs.shape[2] else np.zeros((0, N))), arr(net._b),
                  interp)


def stp_initial_state(net, H, u0, x0):
    """Z (B, V N): H (B, N) with STP's u and x appended (default: at rest, u = U, x = 1);
    H itself without STP. u0, x0: validated arrays broadcastable to (B, N), or None."""
    if net.stp is None:
        return H
    B, N = H.shape
    Us = net.stp.arrays(N)[0]
    u = np.broadcast_to(Us if u0 is None else u0, (B, N))
    x = np.broadcast_to(1.0 if x0 is None else x0, (B, N))
    return np.concatenate([H, u, x], axis=1)


# --- threads: a batch's trials in groups, one kernel call per group ------------------------
def available_cpus():
    """The CPUs this process may run on: its affinity mask where the OS has one, capped
    by a cgroup v2 CPU quota (a container's ``--cpus``, rounded down: a split run's
    threads spin, and a throttled one stalls the others)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1
    now = time.monotonic()
    if now - _QUOTA[1] > QUOTA_RECHECK:
        _QUOTA[:] = [_cgroup_quota(), now]
    quota = _QUOTA[0]
    return max(1, min(n, quota)) if quota else n


# the quota as last read, and when: reading the file was 30-40 us of a call's fixed cost
# once a run's kernel had pushed the reading code out of the caches
_QUOTA = [None, -math.inf]
QUOTA_RECHECK = 1.0  # seconds


def _cgroup_quota(path="/sys/fs/cgroup/cpu.max"):
    """floor(quota / period), at least 1, from a cgroup v2 ``cpu.max`` ("max 100000":
    none), or None."""
    try:
        with open(path) as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else max(1, int(quota) // int(period))
    except (OSError, ValueError):
        return None


# Up to which N a dense batch is stepped on panels in groups of trials, one thread a group
# (benchmarks/README.md, "Batches in groups of trials"). On two threads, against one BLAS
# matrix product a step (which uses both cores itself): 1.1-1.8x faster per trial in most
# rows up to N = 200 (batches of 8 and 64, float64 and float32, euler and rk4; the float64
# batch of 64 at N = 200 measured 0.86-1.21 across runs); 0.7-0.9x for 64 trials at
# N = 300-500, where two panel products at once compete for the caches (on this VM, two
# single-threaded runs at N = 500 slow each other 1.5x). Above, a batch keeps one matrix
# product a step, which BLAS spreads over the cores itself.
GROUPS_MAX = 200


def in_groups(net, B, per_trial):
    """Whether a batch of B trials is stepped in groups of trials (``trial_groups``),
    each by its own kernel call: a fixed-step method (the adaptive ones step trial by
    trial), B > 1, and a recurrent product that calls no BLAS, whose own threads would
    compete with ours: sparse, or dense with N <= ``GROUPS_MAX`` (on panels, whatever
    the number of threads, so that every trial equals its single run bit for bit)."""
    return B > 1 and not per_trial and (net.is_sparse or net.n_neurons <= GROUPS_MAX)


def trial_groups(B, n):
    """(r0, r1) of min(n, B) contiguous groups of the B trials, their sizes differing
    by at most one (the larger first). Not in whole pairs or triples of trials (which
    the panel product takes a pass): that would unbalance small batches, 9 trials on
    two threads 6 and 3 instead of 5 and 4, for nothing at 64."""
    n = max(1, min(n, B))
    q, m = divmod(B, n)
    sizes = [q + (g < m) for g in range(n)]
    ends = np.cumsum(sizes).tolist()
    return list(zip([0] + ends[:-1], ends))


_POOL = None
_POOL_LOCK = threading.Lock()


def _pool(n):
    """The shared pool of worker threads (at least n), made on first use; a forked child
    makes its own (the parent's threads do not exist in it). A pool outgrown is dropped,
    not shut down: a caller may still be submitting to it (its idle threads end when it
    is collected)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < n:
            _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ctrnn")
        return _POOL


def _in_groups(kernel, groups, Z, buf, head, group_args):
    """kernel(Z[r0:r1], buf[r0:r1], *head, *args) for every group (the kernels release
    the GIL), the first in this thread; the status tuple of the earliest failure (by
    step, then trial; its trial index counted in the whole batch) or that of success.
    Every group has finished before this returns or raises (the first exception)."""
    def call(g):
        (r0, r1), args = groups[g], group_args[g]
        code, k, r, col = kernel(Z[r0:r1], buf[r0:r1], *head, *args)
        return code, k, r + r0, col
    pool = _pool(len(groups) - 1)
    futures = [pool.submit(call, g) for g in range(1, len(groups))]
    try:
        first = call(0)
    finally:  # no group may still write into Z or buf once this returns
        wait(futures)
    results = [first] + [f.result() for f in futures]
    failed = [res for res in results if res[0] != _rk.OK]
    return min(failed, key=lambda res: (res[1], res[2])) if failed else first


# Where one run's neurons are split across threads, one block of rows of W each, with a
# barrier a step (``_kernels.split``): Euler-type methods (one product a step) without STP,
# on a dense W with a built-in phi that has a vector form. One trajectory from SPLIT_SURE
# neurons (from SPLIT_MIN where a measurement finds it pays), a batch above GROUPS_MAX
# (below, its trials go in groups), both up to SPLIT_MAX (batches: SPLIT_BATCH_MAX), and
# with at most 8 inputs (more: the drive is a BLAS call, whose own threads would compete
# with ours every step). From
# benchmarks/bench_crossover.py --split on the 2-core machine of
# benchmarks/README.md ("One run on several threads"), against threads=1 (panels, BLAS
# above PANEL_MAX and for batches above GROUPS_MAX): one trajectory 1.16-2.4x faster in
# float64 from N = 128 to 1000 (1.0 at 100, 0.5 at 64: the barrier, ~0.2 us, costs more
# than half a product saves), 1.02-1.21x in float32 from 200 (0.59-0.95 below), ~1.03 at
# 1500, where both are bound by memory; batches of 8 and 64 trials 1.05-1.96x in most
# rows from 300 to 1000 (the largest measured), but 0.96 and 0.78 for 64 float64 trials
# at N = 500 and 700 (BLAS's dgemm is as efficient there). Only two threads were
# measured. Not bit for bit the same: above PANEL_MAX (one trajectory) or GROUPS_MAX (a
# batch), a run on one thread takes BLAS's product, equal to a split run to round-off.
# Between SPLIT_MIN and SPLIT_SURE neurons, one trajectory of at least SPLIT_RUN_MIN
# multiply-adds (steps x N^2; shorter ones stay on one thread) is split only where a
# measurement on this machine finds it pays (``split_pays``): the crossover is the
# machine's. On the Intel Xeon (48 kB L1) two threads were level with one at N = 100 in
# float64 (0.5 at 64) and lost below 200 in float32 (0.59-0.95); on the AMD EPYC (Zen 4,
# 32 kB L1) of benchmarks/README.md, where W of N = 100 streams from L2 every step, they
# won from 80 in float64 (0.38-0.44 us a step against 0.54; 1.4-1.6x at 100) and from
# ~100 in float32 (0.36-0.39 against 0.43-0.55). No rule on cache sizes held on both: the
# Xeon lost at N = 128-160 in float32 too, where its W no longer fit its L1.
# (SPLIT_MIN at least the SIMD lanes and SPLIT_SURE at most PANEL_MAX: in between a run
# not split takes the split kernel on one thread, on panels)
SPLIT_MIN = {np.dtype(np.float64): 64, np.dtype(np.float32): 64}
SPLIT_SURE = {np.dtype(np.float64): 128, np.dtype(np.float32): 256}
# A first measurement takes 15-35 ms (and the split kernels' compiling or loading, once),
# a split run's start 20-300 us (its helpers spinning or asleep): a run of 10^8
# multiply-adds (10^4 steps at N = 100) takes 4-8 ms.
SPLIT_RUN_MIN = 1e8
SPLIT_MAX, SPLIT_BATCH_MAX = 1500, 1000
NARROW_COST = 1.6  # a narrow block's work per row against a wide one's (split_blocks)
# split_pays: the threads must make a step SPLIT_GAIN times as fast (below, one thread: it
# leaves the other cores free). A finding that they do is measured again after
# SPLIT_RECHECK seconds; one that they do not, after SPLIT_RECHECK_NO seconds, doubled
# each time it is found again (up to SPLIT_RECHECK): on a virtual machine the other core
# can be taken from us for tens of milliseconds (on the AMD EPYC of benchmarks/README.md,
# 1 measurement in ~10 at N = 100 in float32 found two threads at 0.83 us a step against
# 0.35-0.40 in the others). Each takes SPLIT_ROUNDS calls of each kind, of
# ~SPLIT_MEASURE_WORK multiply-adds (~1 ms): 15-35 ms in all.
SPLIT_GAIN, SPLIT_ROUNDS, SPLIT_MEASURE_WORK = 1.05, 8, 2e7
SPLIT_RECHECK, SPLIT_RECHECK_NO = 60.0, 0.25  # seconds
# ... and a split run without noise whose chunk of at least SPLIT_WATCH_WORK
# multiply-adds took SPLIT_SLOW times the measured split's steps has the next run measure
# again, at most once per SPLIT_RECHECK seconds (at N = 100 a process's split runs took
# ~0.45 or ~0.97 us a step in float32, whichever phase the VM was in, against 0.36-0.40
# measured; split runs of 50,000 steps took 0.39-0.41 plain, +0.12 with 8 inputs, +0.05
# saving every step, +1.0 with noise: noisy runs are not watched)
SPLIT_SLOW, SPLIT_WATCH_WORK = 2.0, 2e8
_SPLIT_PAYS = {}  # (N, dtype, threads) -> _Finding
_MEASURE_LOCK = threading.Lock()
_FINDINGS_LOCK = threading.Lock()  # a finding's replacement against split_slow's check
_VECTOR_PHI = (LINEAR, TANH, SIGMOID, RELU)


def split_blocks(net, B, kind, threads, dtype, steps=None):
    """The blocks (b0, b1) of the panels (``_kernels.dense``) that each of up to
    ``threads`` threads steps, for a run of B trials of ``net`` by a method of ``kind``
    over ``steps`` steps (None: a long run); None when the run does not take the split
    kernel. A run not split (see SPLIT_MIN, SPLIT_SURE, ``split_pays``) that is on panels
    anyway, one trajectory up to PANEL_MAX or a batch up to GROUPS_MAX
    on one thread, takes the same kernel with all blocks on one thread (one range): it
    applies phi block by block, from the registers that hold the sums (0.85 us a step
    against 0.90 at N = 100, ``_kernels.split``). Not below L neurons (the SIMD lanes),
    where the panel loop applies the scalar phi."""
    N = net.n_neurons
    if (kind != "leaky" or net.is_sparse or net.stp is not None
            or not isinstance(net.phi.code, int) or net.phi.code not in _VECTOR_PHI):
        return None
    sizes = _dense.block_sizes(N, dtype)
    if (threads < 2 or net.n_inputs > 8 or N > (SPLIT_MAX if B == 1 else SPLIT_BATCH_MAX)
            or N < (SPLIT_MIN[np.dtype(dtype)] if B == 1 else GROUPS_MAX + 1)):
        # N >= the lanes L: below, the panel loop finishes with the scalar phi, and a
        # batch's trials in groups (that loop) must equal their single runs bit for bit
        one = N >= _dense.lanes_of(dtype) and (uses_panels(N, 1, dtype) if B == 1
                                               else threads < 2 and N <= GROUPS_MAX)
        return [(0, len(sizes))] if one else None
    # the work of each block: its rows, a narrow block's (one vector of W for each
    # broadcast input, against four in a wide block) counted NARROW_COST times (at
    # N = 500 with 64 trials, 0.5-1.6 all cut after 8 of 18 blocks, the fastest; 3.0
    # after 9: 6.03-6.08 us a trial-step against 5.33-5.45, AMD EPYC) (the first block
    # is a wide one whenever there is one; with none, the costs are equal anyway)
    # (in plain Python: NumPy's calls on these few numbers took ~60 us of a call's fixed
    # cost once a run's kernel had pushed them out of the caches)
    cost = [rows if rows == sizes[0] else NARROW_COST * rows for rows in sizes]
    ends = list(itertools.accumulate(cost))
    n = min(threads, len(cost))
    cuts = [0] + [min(range(len(ends)), key=lambda i: abs(ends[i] - ends[-1] * t / n)) + 1
                  for t in range(1, n)]
    cuts = sorted(set(cuts + [len(cost)]))
    blocks = list(zip(cuts[:-1], cuts[1:]))
    if (B == 1 and len(blocks) > 1 and N < SPLIT_SURE[np.dtype(dtype)]
            and ((steps is not None and steps * N * N < SPLIT_RUN_MIN)
                 or not split_pays(N, dtype, blocks))):
        return [(0, len(sizes))]
    return blocks


class _Finding(NamedTuple):
    """What ``split_pays`` found for one (N, dtype, threads): whether splitting pays,
    when to measure again (``time.monotonic``), the wait that gave, the seconds a step
    measured on one thread and split, and from when split runs' pace is watched
    (``_SplitLeaky.pace``; ``time.monotonic``)."""

    pays: bool
    due: float
    wait: float
    one: float
    split: float
    watch_from: float


def _split_key(N, dtype, blocks):
    """The key of a finding in ``_SPLIT_PAYS``: (N, dtype, threads)."""
    return N, np.dtype(dtype), len(blocks)


def split_pays(N, dtype, blocks):
    """Whether one trajectory of N neurons steps faster split as ``blocks`` (one range
    per thread) than on one thread, by SPLIT_GAIN at least, as measured on this machine
    (``measure_split``; a measurement that fails is a "no", with a RuntimeWarning).

    A finding is kept (``_SPLIT_PAYS``): a "yes" for SPLIT_RECHECK seconds, a "no" for
    SPLIT_RECHECK_NO, doubled each time it is found again (the other core may have been
    busy). A split run whose steps take SPLIT_SLOW times the measured split's has the
    next run measure again, at most once per SPLIT_RECHECK seconds (``_SplitLeaky.pace``:
    the other core may have become busy). Either way the result is the same bit for bit
    (both run ``_kernels.split`` on the same panels); only the time differs. The idea is
    FFTW's planner (Frigo & Johnson 2005, "The design and implementation of FFTW3", Proc. IEEE
    93(2)): of the ways to compute the same thing, the one timed fastest on the machine
    that runs it."""
    key = _split_key(N, dtype, blocks)
    hit = _SPLIT_PAYS.get(key)  # (dict reads are atomic under the GIL)
    if hit is not None and time.monotonic() < hit.due:
        return hit.pays
    with _MEASURE_LOCK:  # one measurement at a time: two would slow each other
        hit = _SPLIT_PAYS.get(key)
        if hit is None or time.monotonic() >= hit.due:
            try:
                one, split = measure_split(N, dtype, blocks)
            except Exception as e:  # (a thread that could not start): the run goes on
                warnings.warn(f"could not time {len(blocks)} threads against one for "
                              f"N = {N} ({type(e).__name__}: {e}); running on one thread",
                              RuntimeWarning, stacklevel=2)
                one, split = 0.0, 1.0
            pays = one >= SPLIT_GAIN * split
            if pays:
                wait = SPLIT_RECHECK
            elif hit is None or hit.pays:  # a first "no"
                wait = SPLIT_RECHECK_NO
            else:  # "no" again
                wait = min(SPLIT_RECHECK, 2 * hit.wait)
            with _FINDINGS_LOCK:
                # runs stay unwatched until watch_from (SPLIT_RECHECK s after a slow run,
                # which may have been found during this measurement): carried over
                current = _SPLIT_PAYS.get(key)
                watch_from = -math.inf if current is None else current.watch_from
                hit = _SPLIT_PAYS[key] = _Finding(pays, time.monotonic() + wait, wait, one,
                                                  split, watch_from)
    return hit.pays


def split_slow(key, finding):
    """A split run found slow (``_SplitLeaky.pace``): the next run measures again, and
    runs are not watched for SPLIT_RECHECK seconds (nothing, if ``finding`` has been
    replaced meanwhile)."""
    with _FINDINGS_LOCK:
        if _SPLIT_PAYS.get(key) is finding:
            _SPLIT_PAYS[key] = finding._replace(
                due=-math.inf, watch_from=time.monotonic() + SPLIT_RECHECK)


def measure_split(N, dtype, blocks, rounds=SPLIT_ROUNDS):
    """Seconds a step of one trajectory of N neurons by euler takes on one thread, and
    split as ``blocks``: the median of ``rounds`` calls of each, alternating (after one
    call of each to warm up), each of ~SPLIT_MEASURE_WORK multiply-adds; the median, not
    the best, lest a split's luckiest call (its other cores free) decide. The network:
    W ~ N(0, 1.5^2 / N), tanh, tau = 1, dt = 0.1, no inputs, from h0 ~ N(0, 1), whose
    activity stays of order one (a decaying one would reach subnormal numbers, which
    cost some CPUs far more a step). A run with inputs, or a cheaper phi (relu,
    linear), gains as much or more from the split, though its steps may take longer
    (``_SplitLeaky.pace`` compares those). Where waiting threads cannot yield
    (``_kernels.split.WAITS_IDLE`` False), each split call starts its helpers anew, which
    counts against the split. Raises RuntimeError if a run fails."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(0)
    net = RateNetwork(rng.standard_normal((N, N)) * (1.5 / math.sqrt(N)), tau=1.0)
    n = max(100, int(SPLIT_MEASURE_WORK / N ** 2))
    tau = net.tau_array
    net_k = pack_network(net, 1, dtype, tau, True)
    inp_k = pack_inputs(net, np.zeros((1, n + 1, 0)), HOLD, dtype)
    Z0 = rng.standard_normal((1, N)).astype(dtype)
    runs = []
    for b in ([(0, blocks[-1][1])], blocks):
        Z = Z0.copy()
        runs.append((_SplitLeaky(get_method("euler"), net_k, inp_k, Z, dt=0.1, steps=n,
                                 save_every=n, noise=None, tau=tau,
                                 keys=np.zeros(0, np.uint64), dtype=dtype, blocks=b),
                     Z, np.empty((1, 2, N), dtype)))
        runs[-1][0].watch = None  # (timing runs judge no finding)
    times = [[], []]
    with runs[0][0].session(), runs[1][0].session():
        for i in range(rounds + 1):
            for j, (stepper, Z, buf) in enumerate(runs):
                t0 = time.perf_counter()
                code = stepper.step(Z, buf, (0, n, n, 0))[0]
                t = time.perf_counter() - t0
                if code != _rk.OK:
                    raise RuntimeError(f"the timing run stopped: {Status(code).name}")
                if i:
                    times[j].append(t)
    return statistics.median(times[0]) / n, statistics.median(times[1]) / n


_CREW = None  # the split runs' own helper threads, one run at a time
_SPLIT_LOCK = threading.Lock()


class _Crew:
    """n helper threads kept for split runs between runs (caller holds ``_SPLIT_LOCK``),
    apart from ``_pool``, whose threads a caller's other work may occupy. Each waits in
    ``_kernels.split.await_job`` for its next run, on its state word in ``word`` (that
    module's IDLE ... DEAD), and after ~0.1 s unclaimed (at once where a waiting thread
    cannot yield: ``split.WAITS_IDLE``) on a Python condition instead. ``hand(t, job)``
    gives helper t a job (a callable); the run's thread 0 then gives the go
    (``leaky_split``), and the run's end waits for the helpers' return
    (``split.await_idle``). A job None ends a helper; one that ends otherwise is DEAD,
    and the crew is made anew (``_split_crew``)."""

    def __init__(self, n):
        self.n = n
        self.word = np.zeros(8 * (n + 1), np.int64)
        self.word[8::8] = _split.BUSY  # until each thread is in await_job
        self.jobs = [None] * (n + 1)
        self.cond = threading.Condition()
        self.naps = _split.IDLE_NAPS if _split.WAITS_IDLE else 0
        # compiled (or loaded) here: a helper that failed to would never be ready
        _split.await_job(np.zeros(8, np.int64), 0, 0)
        self.threads = [threading.Thread(target=self._serve, args=(t,),
                                         name=f"ctrnn-split_{t}", daemon=True)
                        for t in range(1, n + 1)]
        started = 0
        try:
            for th in self.threads:
                th.start()
                started += 1
        finally:
            # each in await_job (or dead): ready to be claimed; if not all could start,
            # those that did are ended
            _split.await_idle(self.word, started + 1)
            if started < n:
                self.retire()

    def _serve(self, t):
        try:
            while True:
                if not _split.await_job(self.word, t, self.naps):
                    with self.cond:
                        while self.word[8 * t] == _split.ASLEEP:
                            # (a timeout: a caller interrupted between setting BUSY and
                            # notifying costs a second, not a hang)
                            self.cond.wait(1.0)
                job, self.jobs[t] = self.jobs[t], None
                if job is None:
                    return
                job()  # (a team's job catches everything)
                job = None  # the run's arrays are not kept until the next run
        finally:
            self.word[8 * t] = _split.DEAD

    def hand(self, t, job):
        """Give helper t the job. Raises RuntimeError if it is DEAD; otherwise it is
        IDLE or ASLEEP (no run holds it: ``_SPLIT_LOCK``), and claimed or woken here."""
        self.jobs[t] = job
        found = _split.claim(self.word, t)
        if found == _split.IDLE:
            return
        if found == _split.DEAD:
            self.jobs[t] = None
            raise RuntimeError(f"helper thread {t} of split runs has ended; the next split "
                               "run makes new ones")
        with self.cond:  # asleep: woken here
            self.word[8 * t] = _split.BUSY
            self.cond.notify_all()

    def alive(self):
        """Whether every helper is (none DEAD)."""
        return not (self.word[8::8] == _split.DEAD).any()

    def retire(self):
        """End every helper (a crew of more threads, or of live ones, replaces this)."""
        for t in range(1, self.n + 1):
            if self.word[8 * t] != _split.DEAD:
                self.hand(t, None)
        _split.give_go(self.word)


def _split_crew(n):
    """The crew of at least n live helpers (caller holds ``_SPLIT_LOCK``), made on first
    use: starting and joining a thread cost ~0.2 ms each time."""
    global _CREW
    if _CREW is None or _CREW.n < n or not _CREW.alive():
        old, _CREW = _CREW, None  # (never left pointing at a retired crew)
        if old is not None:
            old.retire()
        _CREW = _Crew(n)
    return _CREW


def _forget_pools():
    """In a forked child: neither the pool's threads nor the crew's exist there (each is
    made anew), and no lock may stay held by a thread of the parent."""
    global _POOL, _POOL_LOCK, _CREW, _SPLIT_LOCK, _PACKED_LOCK, _MEASURE_LOCK
    global _FINDINGS_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()
    _CREW, _SPLIT_LOCK = None, threading.Lock()
    _PACKED_LOCK, _MEASURE_LOCK = threading.Lock(), threading.Lock()
    _FINDINGS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


class _Team:
    """The helper threads 1 ... T - 1 of one split run, each kept in one
    ``_kernels.split.serve_split`` call for all the chunks of a session (``_SplitLeaky``):
    the caller posts each chunk (``chunk``), steps thread 0's part itself and waits for
    the others' (all must run at once: they wait for each other every step, so a shared
    pool could starve them). The threads are the crew's (``_split_crew``), or new ones
    while another run holds it. ``close`` stops them; an error in a helper sets the
    abort flag (which releases the others) and reaches the caller. args_of(t, flags):
    serve_split's arguments after ctrl and status, for the state Z and output buffer buf
    the helpers hold. ``crew``: the crew's state words, for thread 0's ``leaky_split``
    (empty without the crew)."""

    def __init__(self, T, args_of, Z, buf):
        self.T, self.Z, self.buf = T, Z, buf
        self.flags = np.zeros(8 * (T + 1), np.int64)  # the barrier's (``_kernels.split``)
        self.ctrl = np.zeros(8 * T, np.int64)
        self.status = np.zeros((T, 5), np.int64)
        self.order = 0
        self.errors = []
        self.crew = np.zeros(0, np.int64)
        self.locked, self.started = False, []
        try:
            self.locked = _SPLIT_LOCK.acquire(blocking=False)
            # with the lock, every helper of the crew is idle: each gets its own
            crew = _split_crew(T - 1) if self.locked else None
            if crew is not None:
                self.crew = crew.word
            for t in range(1, T):
                if crew is not None:
                    crew.hand(t, functools.partial(self._serve, t, args_of(t, self.flags)))
                else:
                    th = threading.Thread(target=self._serve, args=(t, args_of(t, self.flags)),
                                          name=f"ctrnn-split-{t}", daemon=True)
                    th.start()
                    self.started.append(th)
        except BaseException:  # a thread that could not start: release those that did
            self.close()
            raise

    def _serve(self, t, args):
        try:
            _split.serve_split(self.ctrl, self.status, *args)
        except BaseException as e:
            self.errors.append(e)
            self.flags[8 * self.T] = -1  # the abort flag: every thread stops at once
            self.ctrl[8 * t] = -1  # and the caller stops waiting for this one

    def chunk(self, k0, n, base, own):
        """Post the chunk (k0, n steps, save_base), run thread 0's part ``own()`` here,
        wait for the others; their status tuples, thread 0's first."""
        self.order += 1
        _split.post(self.ctrl, self.flags, self.T, k0, n, base, self.order)
        try:
            first = own()
        except BaseException:
            self.flags[8 * self.T] = -1
            raise
        if not _split.await_done(self.ctrl, self.T, self.order):
            raise self.errors[0]
        return [first] + [(int(c), int(k), int(r), int(i), bool(inf))
                          for c, k, r, i, inf in self.status[1:]]

    def close(self):
        """Stop every helper (mid-chunk too: the abort flag releases its barrier) and
        wait for them; the crew is free again once this returns."""
        self.flags[8 * self.T] = -1
        self.ctrl[0] = -1
        try:
            if self.locked:
                # with the GIL released: each helper goes back to waiting for its next
                # run without waiting for the GIL, and holds it no more once we have it
                if self.crew.size:  # (empty: the crew could not be made)
                    _split.await_idle(self.crew, self.T)
            else:
                for th in self.started:
                    th.join()
        finally:
            if self.locked:
                _SPLIT_LOCK.release()
                self.locked = False


def _first_failure(results):
    """The status tuple of a split step's failure, by ``rhs.first_nonfinite``'s rule:
    the first infinite entry (trial, then column), else the first NaN; None if none."""
    bad = [res for res in results if res[0] != _rk.OK]
    if not bad:
        return None
    inf = [res for res in bad if res[4]]
    return min(inf or bad, key=lambda res: (res[1], res[2], res[3]))[:4]


# --- steppers: the method kind -> kernel table ------------------------------------------
class _Fixed:
    """A fixed-step kernel over ``steps`` steps; progress and chunks count steps."""

    unit = "step"
    per_trial = False  # the kernel steps all trials together (one batched product)
    first_work = FIRST_CHUNK_WORK

    advice = ("unbounded phi with too strong W, or dt too large for the method; reduce "
              "dt, the weights' gain, or use a saturating phi")

    def __init__(self, kernel, args, dt, steps, save_every, cost, groups=None,
                 group_args=None):
        self.kernel, self.args = kernel, args
        self.dt, self.steps, self.save_every = dt, steps, save_every
        self.total = steps
        self.cost = cost  # work per step, to size the first chunk
        # trials in groups on threads (``in_groups``): (r0, r1) and the kernel's arguments
        # (inputs and noise keys of those trials) for each; None: one call for all
        self.groups, self.group_args = groups, group_args

    def chunk_units(self, chunk_steps):
        """Progress and chunks count steps: a chunk of ``chunk_steps`` steps."""
        return chunk_steps

    def session(self):
        """A context for advancing chunk after chunk (``run``): nothing here; a split
        run keeps its helper threads in it (``_SplitLeaky.session``)."""
        return contextlib.nullcontext(self)

    def attrs(self):
        """Run statistics for the result's attrs (none for fixed steps)."""
        return {}

    def saves(self, k0, n):
        """The saves written by steps k0 .. k0 + n - 1."""
        return k0 // self.save_every + 1, (k0 + n) // self.save_every + 1

    def advance(self, Z, buf, k0, n, base):
        code, k, r, col = self.step(Z, buf, (k0, n, self.save_every, base))
        if code == _rk.OK:
            return Report(Status.OK), None
        return self.report(code, k, r, col), k // self.save_every + 1  # saves before k

    def step(self, Z, buf, head):
        """The kernel over the chunk (head: k0, n, save_every, base): one call, or one
        per group of trials; its status tuple (code, step, trial, column)."""
        if self.groups is None:
            return self.kernel(Z, buf, *head, *self.args)
        return _in_groups(self.kernel, self.groups, Z, buf, head, self.group_args)

    def report(self, code, k, r, col):
        """The Report of a kernel's status tuple (code, step, trial, column)."""
        return Report(Status(code), k, r, col, (k + 1) * self.dt,
                      f"at t = {(k + 1) * self.dt:g} (step {k + 1} of {self.steps})",
                      self.advice)

    def mark_missing(self, out, report, chunk):
        """NaN into the saves of ``out`` (B, n_save, M) that a failed run never wrote."""
        out[:, report.step // self.save_every + 1:] = np.nan


def _group_args(make, inp_k, keys, groups):
    """make(inputs, keys) for the trials of each group (per-trial inputs and noise keys
    sliced; inputs shared by all trials, and an empty key array, as they are)."""
    if groups is None:
        return None

    def rows(a, r0, r1):
        return a[r0:r1] if a.shape[0] > 1 else a
    return [make(inp_k._replace(xs=rows(inp_k.xs, r0, r1)), keys[r0:r1] if keys.size else keys)
            for r0, r1 in groups]


class _Leaky(_Fixed):
    """h <- decay h + gain phi(...): euler, exponential_euler, discrete."""

    def __init__(self, method, net_k, inp_k, Z, dt, steps, save_every, noise, keys, tau,
                 dtype, groups=None, **_):
        self.net_k, self.inp_k = net_k, inp_k  # the trainer's adjoint reads them
        arr = _packer(dtype)
        decay, gain, nf = method.coefficients(dt, tau)
        scale = arr(nf * noise) if keys.size else np.zeros(0, dtype)  # noise: keys only
        decay, gain = arr(decay), arr(gain)

        def make(inp, ks):
            return (net_k, inp, decay, gain, scale, ks, dtype.type(dt), method.exact_linear)
        B, M = Z.shape
        N = tau.shape[0]
        super().__init__(_rk.leaky_run, make(inp_k, keys), dt, steps, save_every,
                         B * N * (N + M // N), groups, _group_args(make, inp_k, keys, groups))


class _SplitLeaky(_Leaky):
    """``_Leaky`` with the neurons split across threads (``split_blocks``,
    ``_kernels.split``): every thread steps all trials, for its own blocks of rows."""

    def __init__(self, method, net_k, inp_k, Z, dt, steps, save_every, noise, keys, tau,
                 dtype, blocks, **_):
        super().__init__(method, net_k, inp_k, Z, dt, steps, save_every, noise, keys, tau,
                         dtype)
        self.blocks = blocks
        B, N = Z.shape
        Np = net_k.Wp.size // N
        _, inp, decay, gain, scale, keys, _, _ = self.args

        def padded(a):  # zero past N: the padding rows of the panels stay at 0
            out = np.zeros(Np, dtype)
            out[:N] = a
            return out
        self.Hs = _dense.aligned_rows(2 * B, Np, np.zeros(0, dtype))
        self.Hs[:] = 0
        self.kargs = (net_k, inp, padded(decay), padded(gain), scale, keys)
        self.ws = [_split.split_workspace(B, N, Np, inp, dtype) for _ in blocks]
        self.team, self.in_session = None, False
        # the finding that split this run, if it was measured and is watched (``pace``;
        # not with noise, which costs far more a step than the measured run's)
        key = _split_key(N, dtype, blocks)
        finding = (_SPLIT_PAYS.get(key) if B == 1 and len(blocks) > 1 and not keys.size
                   else None)
        self.watch = (key, finding) if (finding is not None and finding.pays
                                        and time.monotonic() >= finding.watch_from) else None

    def pace(self, n, seconds):
        """After a chunk of n steps that took ``seconds``: a run split by a measurement
        (``split_pays``) whose steps took SPLIT_SLOW times the split's measured ones has
        the next run measure again (``split_slow``). Chunks of less than
        SPLIT_WATCH_WORK multiply-adds are not judged (a helper's wake-up, 20-300 us,
        would weigh in them)."""
        if self.watch is None:
            return
        key, finding = self.watch
        N = key[0]
        if n * N * N >= SPLIT_WATCH_WORK and seconds / n > SPLIT_SLOW * finding.split:
            split_slow(key, finding)
            self.watch = None

    @contextlib.contextmanager
    def session(self):
        """Chunks advanced inside share one team of helper threads (``_Team``), opened
        by the first and closed on leaving; a chunk advanced outside has a team of its
        own, and so does every chunk where a waiting thread cannot give its core back
        (``_kernels.split.WAITS_IDLE``: not POSIX), lest the helpers spin through the
        caller's work between chunks."""
        self.in_session = _split.WAITS_IDLE
        try:
            yield self
        finally:
            self.in_session = False
            self._close()

    def _close(self):
        team, self.team = self.team, None
        if team is not None:
            team.close()

    def step(self, Z, buf, head):
        B, N = Z.shape
        T = len(self.blocks)
        k0, n, save_every, base = head

        def args_of(t, flags):  # serve_split's, after ctrl and status
            b0, b1 = self.blocks[t]
            return (self.Hs, Z, buf, save_every, *self.kargs, *self.ws[t], b0, b1, t, T,
                    flags)

        def own(flags, crew):  # thread 0's part of the chunk: leaky_split's arguments
            a = args_of(0, flags)
            return _split.leaky_split(*a[:3], k0, n, save_every, base, *a[4:], crew)

        if T == 1:
            self.Hs[:B, :N] = Z
            return (_first_failure([own(np.zeros(16, np.int64), np.zeros(0, np.int64))])
                    or (_rk.OK, 0, 0, 0))
        team = self.team
        if team is not None and (team.Z is not Z or team.buf is not buf):
            self._close()  # other arrays (a Zarr sink's buffer): the helpers hold the old
            team = None
        if team is None:  # (within a team, each chunk leaves its state in Hs for the next)
            self.Hs[:B, :N] = Z
            team = self.team = _Team(T, args_of, Z, buf)
        try:
            t0 = time.perf_counter()
            failure = _first_failure(team.chunk(k0, n, base,
                                                lambda: own(team.flags, team.crew)))
            self.pace(n, time.perf_counter() - t0)
        except BaseException:
            self._close()
            raise
        if failure is not None or not self.in_session:  # the abort flag is set: a new team
            self._close()
        return failure or (_rk.OK, 0, 0, 0)


class _RungeKutta(_Fixed):
    """The generic explicit Runge-Kutta loop over the method's tableau."""

    def __init__(self, method, net_k, inp_k, Z, dt, steps, save_every, noise, keys, tau,
                 dtype, groups=None, **_):
        self.net_k, self.inp_k = net_k, inp_k  # the trainer's adjoint reads them
        arr = _packer(dtype)
        tab = method.tableau
        scale = arr(method.noise_factor(dt, tau) * noise) if keys.size else np.zeros(0, dtype)
        A, b, c = arr(tab.A), arr(tab.b), arr(tab.c)

        def make(inp, ks):
            return (net_k, inp, dtype.type(dt), A, b, c, scale, ks)
        B, M = Z.shape
        N = tau.shape[0]
        super().__init__(_rk.rk_run, make(inp_k, keys), dt, steps, save_every,
                         B * N * (N + M // N) * tab.stages, groups,
                         _group_args(make, inp_k, keys, groups))


class _Adaptive:
    """An embedded pair with error control and dense output; chunks and progress count
    saves. Trials are integrated one after the other within each chunk."""

    unit = "save"
    per_trial = True  # each trial has its own steps: its products are one row each
    first_work = FIRST_CHUNK_WORK_ADAPTIVE

    def __init__(self, method, net_k, inp_k, Z, dt, steps, save_every, dtype, rtol, atol,
                 max_steps, controller, **_):
        tab = method.tableau
        arr = _packer(dtype)
        self.tab = AdaptiveTableau(arr(tab.A), arr(tab.b), arr(tab.c), arr(tab.e),
                                   arr(tab.P), tab.fsal, 1.0 / (tab.error_order + 1))
        self.net_k, self.inp_k = net_k, inp_k
        self.dt, self.steps, self.save_every = dt, steps, save_every
        self.tol, self.ctrl, self.max_steps = (rtol, atol), controller.as_tuple(), max_steps
        B, N = Z.shape
        self.F0 = np.zeros_like(Z)
        self.state = np.zeros((B, 6))
        self.state[:, 5] = 1  # the next save each trial writes (save 0 is the start)
        self.dense = np.zeros((B, 1 + tab.P.shape[1], N), dtype)
        self.counts = np.zeros((B, 3), np.int64)
        self.n_save = steps // save_every + 1
        self.total = self.n_save - 1
        self.cost = B * N * N * tab.stages * 5

    advice = ("unbounded phi with too strong W; the step size is adaptive, so reduce the "
              "weights' gain or use a saturating phi")

    def chunk_units(self, chunk_steps):
        """Progress and chunks count saves: ``chunk_steps`` steps of the input grid are
        chunk_steps // save_every saves (at least one)."""
        return None if chunk_steps is None else max(1, chunk_steps // self.save_every)

    def saves(self, j0, n):
        return j0 + 1, j0 + 1 + n

    session = _Fixed.session

    def advance(self, Z, buf, j0, n, base):
        save_dt = self.save_every * self.dt
        code, k, r, col = _rk.adaptive_run(
            Z, self.F0, self.state, self.counts, self.dense, buf, j0 + 1, n, base, save_dt,
            (self.n_save - 1) * save_dt, self.net_k, self.inp_k, self.dt, self.steps,
            self.tab, self.tol, self.ctrl, self.max_steps)
        if code == _rk.OK:
            return Report(Status.OK), None
        t = float(self.state[r, 0])
        return Report(Status(code), k, r, col, t, f"after t = {t:g}", self.advice), j0 + 1

    def mark_missing(self, out, report, chunk):
        # trials are stepped one after the other, each recording the next save it would
        # have written: the failing one, those before it (done with the chunk) and those
        # after it (not started on it) alike
        for r, nxt in enumerate(self.state[:, 5].astype(int)):
            out[r, nxt:] = np.nan

    def attrs(self):
        """Step statistics for the result's attrs."""
        return dict(rtol=self.tol[0], atol=self.tol[1],
                    n_accepted=int(self.counts[:, 0].sum()),
                    n_rejected=int(self.counts[:, 1].sum()),
                    n_rhs_evals=int(self.counts[:, 2].sum()))


STEPPERS = {"leaky": _Leaky, "rk": _RungeKutta, "adaptive": _Adaptive}


def plan(method, net, Z, xs, interp, *, dt, steps, save_every=1, keys=None, dtype=np.float64,
         rtol=None, atol=None, max_steps=None, controller=None, threads=1):
    """The stepper of ``method`` for the validated network ``net`` from state Z
    (B, V N) with inputs xs (Bx, steps + 1, n_inputs) on the grid; ``keys`` the trials'
    noise keys (``ctrnn._seeding.trial_keys``) when the network has noise; ``threads``
    for a run whose neurons are split across threads (``split_blocks``) or a batch
    stepped in groups of trials (``in_groups``). The returned stepper is handed to
    ``run``, which advances Z in place."""
    dtype = np.dtype(dtype)
    B = Z.shape[0]
    stepper = STEPPERS[method.kind]
    tau = net.tau_array
    keys = np.zeros(0, np.uint64) if keys is None else keys
    rows = 1 if stepper.per_trial else B
    groups, panels = None, None
    # a split run's threads spin at the barrier: never more of them than CPUs
    blocks = split_blocks(net, B, method.kind,
                          min(threads, available_cpus()) if threads > 1 else 1, dtype, steps)
    if blocks is not None:
        return _SplitLeaky(method, pack_network(net, rows, dtype, tau, True),
                           pack_inputs(net, xs, interp, dtype), Z, dt=dt, steps=steps,
                           save_every=save_every, dtype=dtype,
                           noise=net.noise_array if keys.size else None, tau=tau,
                           keys=keys, blocks=blocks)
    if in_groups(net, B, stepper.per_trial):
        panels = None if net.is_sparse else True
        groups = trial_groups(B, threads)
        groups = groups if len(groups) > 1 else None
    return stepper(method, pack_network(net, rows, dtype, tau, panels),
                   pack_inputs(net, xs, interp, dtype), Z, dt=dt, steps=steps,
                   save_every=save_every, dtype=dtype,
                   noise=net.noise_array if keys.size else None, tau=tau, keys=keys,
                   rtol=rtol, atol=atol, max_steps=max_steps, controller=controller,
                   groups=groups)


def _chunks(total, chunk, cost, first=FIRST_CHUNK_WORK, t_chunk=TARGET_CHUNK_SECONDS):
    """Yield (start, size): the caller's ``chunk`` size, or sizes adapted so that a
    kernel call lasts about ``t_chunk`` seconds (the first from the work estimate: about
    ``first`` units of work, ``cost`` a unit)."""
    done = 0
    n = chunk or max(1, min(total, int(first / max(cost, MIN_STEP_WORK))))
    while done < total:
        n = min(n, total - done)
        t0 = time.perf_counter()
        yield done, n
        el = time.perf_counter() - t0
        done += n
        if chunk is None:
            n = max(1, int(n * min(4.0, t_chunk / max(el, 1e-6))))


def run(stepper, Z, sink, *, chunk_steps=None, progress=None):
    """Advance Z (B, M) with ``stepper`` (from ``plan``) to its end, chunk by chunk
    (``chunk_steps`` steps of the grid each, or sizes adapted to ~0.25 s a call), writing
    the saves (Z itself as save 0) into ``sink`` (``MemorySink`` or
    ``ZarrSink``) and calling ``progress.update(done)`` after each chunk (done in the
    stepper's units: steps, or saves for adaptive methods). Returns (Report, (first, end)
    saves of the failing chunk or None)."""
    buf, base = sink.view(0, 1)
    buf[:, 0 - base] = Z
    sink.commit(0, 1)
    with stepper.session():
        for u0, n in _chunks(stepper.total, stepper.chunk_units(chunk_steps), stepper.cost,
                             stepper.first_work):
            s0, s1 = stepper.saves(u0, n)
            buf, base = sink.view(s0, s1)
            report, complete = stepper.advance(Z, buf, u0, n, base)
            if not report.ok:
                sink.commit(s0, min(s1, complete))
                return report, (s0, s1)
            sink.commit(s0, s1)
            if progress is not None:
                progress.update(u0 + n)
    return Report(Status.OK), None


class MemorySink:
    """Saved states kept in one in-memory array (the default)."""

    def __init__(self, out):
        self.out = out

    def view(self, s0, s1):
        """(array to write saves s0..s1-1 into, the global index of its first row).

        Returns
        -------
        out : ndarray, shape (B, n_save, n_cols)
            The whole output array.
        first : int
            0: row s of ``out`` is save s.
        """
        return self.out, 0

    def commit(self, s0, s1):
        pass


def states(net, X, H, xs, dt, method):
    """Run the noise-free leaky ``method`` (euler: the echo state network's update) of
    ``net`` (no STP) from H (B, N) over the T = X.shape[1] - 1 steps of inputs xs
    (Bx, >= T, n_inputs) held over each step, writing H into X[:, 0] and the state after
    step k into X[:, k + 1]; H ends as the final state. For callers that validated
    already and take many short runs. X: (B, T + 1, N) C-contiguous float64.

    Raises
    ------
    ValueError
        If the arrays do not fit the network, or it has noise or STP.
    FloatingPointError
        If the state leaves the finite range (the message names the step and neuron).
    """
    if net.has_noise or net.stp is not None:
        raise ValueError("states() runs networks without noise or STP")
    if method.kind != "leaky":
        raise ValueError(f"states() runs the leaky methods; got {method.name!r}")
    B, T, N = X.shape
    T -= 1
    if X.dtype != np.float64 or not X.flags.c_contiguous or N != net.n_neurons or T < 1:
        raise ValueError(f"X must be a C-contiguous float64 array (B, T + 1, "
                         f"{net.n_neurons}) with T >= 1 steps")
    if H.shape != (B, N) or H.dtype != np.float64 or not H.flags.c_contiguous:
        raise ValueError(f"H must be a C-contiguous float64 array ({B}, {N}); got "
                         f"{H.dtype} {H.shape}")
    if xs.ndim != 3 or xs.shape[1] < T or xs.shape[2] != net.n_inputs \
            or xs.shape[0] not in (1, B):  # the kernel reads xs[r, k] unchecked
        raise ValueError(f"xs must have shape (1 or {B}, >= {T}, {net.n_inputs}); got "
                         f"{xs.shape}")
    stepper = plan(method, net, H, xs, HOLD, dt=dt, steps=T)
    report, _ = run(stepper, H, MemorySink(X), chunk_steps=T)
    if not report.ok:
        raise FloatingPointError(
            f"the state left the finite range at step {report.step + 1} of {T} in neuron "
            f"{report.column}" + (f" of trial {report.trial}" if B > 1 else "") +
            ": the network diverges")
    return H


# --- tangent dynamics (Lyapunov exponents) ----------------------------------------------
def _tangent_leaky(method, net_k, inp_k, Z, dt, tau, ortho_every):
    decay, gain, _ = method.coefficients(dt, tau)
    decay, gain = np.ascontiguousarray(decay), np.ascontiguousarray(gain)

    def advance(k0, n, logs):
        return _lyap.lyapunov_leaky(Z, k0, n, ortho_every, net_k, inp_k, decay, gain, logs)
    return advance


def _tangent_rk(method, net_k, inp_k, Z, dt, tau, ortho_every):
    tab = method.tableau

    def advance(k0, n, logs):
        return _lyap.lyapunov_rk(Z, k0, n, ortho_every, net_k, inp_k, dt, tab.A, tab.b,
                                 tab.c, logs)
    return advance


TANGENT_KERNELS = {"leaky": _tangent_leaky, "rk": _tangent_rk}


def check_tangent(method):
    """Raise ValueError, naming the methods that have them, if ``method`` has no
    tangent kernels (the adaptive ones)."""
    if method.kind not in TANGENT_KERNELS:
        from .integrators import METHODS

        ok = [n for n, m in METHODS.items() if m.kind in TANGENT_KERNELS]
        raise ValueError(f"method={method.name!r} has no tangent dynamics: use a fixed-step "
                         f"method ({', '.join(ok)})")


def tangent_stepper(method, net, Z, xs, interp, dt, ortho_every):
    """advance(k0, n, logs) -> -1, or the step where Z left the finite range: steps
    Z = [h; q_1; ...; q_K] (1 + K, N) (float64, in place) by ``n`` steps of ``method``
    from global step k0, re-orthonormalising the q every ``ortho_every`` global steps and
    adding the log stretching factors to logs (K,). ``net`` without STP.

    Raises
    ------
    ValueError
        For a method without tangent kernels (the adaptive ones).
    """
    check_tangent(method)
    R = Z.shape[0]
    net_k, inp_k = pack_network(net, R), pack_inputs(net, xs, interp)
    return TANGENT_KERNELS[method.kind](method, net_k, inp_k, Z, dt, net.tau_array,
                                        ortho_every)
