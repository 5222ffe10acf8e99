"""The recurrent product W s of a small dense network, fused with what follows it in a step.

For N up to a few hundred, a BLAS call costs about as much as its arithmetic (a 100 x 100
``dgemv`` takes 1-2 us here, the multiply-adds need ~0.3), and the result then makes
separate passes for the input drive, phi and the leak. Here W is packed once into column
panels (as BLAS packs its operands), each panel read from start to end by a loop that keeps
its output sums in SIMD registers (``simd``); then one sweep per trial (``finish``, also
used after a BLAS product) adds the drive, applies phi and writes the leak update or the
field, in whole SIMD vectors (the vector forms of phi, ``phi.vphi``). A batch's trials are
taken three at a time over a wide block (two over a narrow one), so that each vector of W
loaded serves three (two) trials. Every block's sums leave their registers through one
epilogue (``_emit``): stored (``block_sums``, ``panel_sums``), or, for the leaky step of
``split``, finished there and then (``block_leak``: phi, the drive and the leak applied
to the registers, the new state stored; no sweep over the sums).

The product and ``finish`` are inlined into the kernels' loops (``inline="always"``): as
calls, Numba counted each of their array arguments in and out with atomic operations,
~0.1 us a call (the whole ``finish`` of 100 float64 values takes ~0.2).

Panel layout: outputs are cut into blocks, wide ones of 4 L rows while at least 4 L
remain, then blocks of L rows (the last one padded with zero rows), L the SIMD lanes (8
in float64, 16 in float32). The block of rows i0 ... i0 + w - 1 occupies
Wp[i0 N : (i0 + w) N], input j at Wp[i0 N + j w : i0 N + (j + 1) w].

Summation order, the same for every trial, batch size and machine: output i's sum runs
over the inputs j in two interleaved chains (even and odd j; in the narrow blocks eight
chains, j mod 8, the last N mod 8 inputs going to the first) which are added at the end,
each multiply-add rounded once (fma), whichever trials share the pass. So a trial of
a batch on panels equals its single run bit for bit (fixed-step batches up to
``ctrnn._engine.GROUPS_MAX`` run on panels, in groups of trials), and a chunked run an
unchunked one.
"""
import numpy as np
from numba import types
from numba.extending import overload

from ._jit import FASTMATH, jit
from .phi import LINEAR, RELU, SIGMOID, TANH, apply_phi_row, has_vector_form, vphi
from .simd import lanes, vadd, vfma, vload, vmul, vsplat_at, vstore, vsub, vzero

RAW, PHI, LEAK, RELAX = 0, 1, 2, 3


def lanes_of(dtype):
    """L, the SIMD lanes of the panels: 8 in float64, 16 in float32."""
    return 8 if np.dtype(dtype) == np.float64 else 16


def block_sizes(N, dtype):
    """The rows of each block of the panels of W (N, N), in order: 4 L for the wide
    ones, then L for the narrow ones (the last padded with zero rows)."""
    L = lanes_of(dtype)
    n_wide = N // (4 * L)
    return [4 * L] * n_wide + [L] * -(-(N - n_wide * 4 * L) // L)


def panel_rows(N, dtype):
    """Np, the rows of W once padded into panels (a multiple of the lanes L)."""
    return sum(block_sizes(N, dtype))


@jit
def aligned_rows(B, n, like):
    """An uninitialised C-contiguous (B, n) array of ``like``'s dtype whose data start on
    a 64-byte boundary (a vector load that straddles two cache lines costs two). Used by
    the kernels' workspaces and, called from Python, for the packed panels."""
    item = like.itemsize
    buf = np.empty(B * n + 64 // item, like.dtype)
    off = ((64 - buf.ctypes.data % 64) % 64) // item
    return buf[off:off + B * n].reshape((B, n))


def pack_panels(W):
    """The panels of W (N, N) (row i = the inputs of neuron i): a 1-d, 64-byte aligned
    array of Np N elements (``panel_rows``)."""
    N = W.shape[0]
    W = np.ascontiguousarray(W)
    Wp = aligned_rows(1, panel_rows(N, W.dtype) * N, W)[0]
    _fill_panels(W, Wp)
    return Wp


@jit
def _fill_panels(W, Wp):
    N = W.shape[0]
    L = lanes(W)
    Wp[:] = 0
    i0 = 0
    while i0 < N:
        w = 4 * L if N - i0 >= 4 * L else L
        base = i0 * N
        for j in range(N):
            for m in range(w):
                if i0 + m < N:
                    Wp[base + j * w + m] = W[i0 + m, j]
        i0 += w


@jit(forceinline=True)
def _emit(v, r, i, ep):
    """The sums v of rows i ... i + L - 1 for trial r (a vector), where the epilogue ep
    says: ep = (RAW, P, ...): P[r, i:i + L] <- v; ep = (LEAK, Hs, src, dst, Dp, decay,
    gain, phi): the leaky step of those rows, Hs[dst + r, i:i + L] <- decay y + gain
    phi(v + Dp[r or 0, i:i + L]), y = Hs[src + r, i:i + L] (rows padded to Np columns,
    as in ``split``), straight from the registers."""
    mode, A, src, dst, Dp, decay, gain, phi = ep
    n = A.shape[1]
    if mode == RAW:
        vstore(A, r * n + i, v)
    else:
        dr = 0 if Dp.shape[0] == 1 else r
        d = vload(Dp, dr * Dp.shape[1] + i)
        h = leak_vector(phi, v, d, vload(A, (src + r) * n + i), vload(decay, i),
                        vload(gain, i))[1]
        vstore(A, (dst + r) * n + i, h)


@jit(forceinline=True)
def leak_vector(phi, s, d, y, a, c):
    """(p, a y + c p), p = phi(s + d): the leaky step of L neurons from their sums s,
    drive d and state y (decay a, gain c). The one formula of both the sweep
    (``finish``) and the registers (``block_leak``), whose results must agree bit for
    bit."""
    p = vphi(phi, vadd(s, d))
    return p, vfma(a, y, vmul(c, p))


@jit(forceinline=True)
def _put4(r, i, L, ep, a0, a1, a2, a3, b0, b1, b2, b3):
    """A wide block's sums for trial r, chains a (even inputs) plus chains b (odd), to
    its rows i ... i + 4L - 1 (``_emit``)."""
    _emit(vadd(a0, b0), r, i, ep)
    _emit(vadd(a1, b1), r, i + L, ep)
    _emit(vadd(a2, b2), r, i + 2 * L, ep)
    _emit(vadd(a3, b3), r, i + 3 * L, ep)


@jit(forceinline=True)
def _fma4(Wp, q, L, x, a0, a1, a2, a3):
    """The chains a + (the 4 vectors of W at Wp.flat[q:q + 4L]) x: one input of a wide
    block for one trial. Where trials share an input, LLVM loads its vectors once."""
    return (vfma(vload(Wp, q), x, a0), vfma(vload(Wp, q + L), x, a1),
            vfma(vload(Wp, q + 2 * L), x, a2), vfma(vload(Wp, q + 3 * L), x, a3))


@jit(forceinline=True)
def _wide1(Wp, base, S, s, N, L, r, i0, ep):
    """The sums of a wide block (rows i0 ...) for input S[s], out as trial r (``_put4``):
    the even inputs j in chains a, the odd ones in chains b. The loop takes the inputs in
    pairs, the last one (N odd) on its own: no test inside it."""
    z = vzero(Wp)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    W4 = 4 * L
    q = base
    j = 0
    while j + 2 <= N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
        b0, b1, b2, b3 = _fma4(Wp, q + W4, L, vsplat_at(S, s, j + 1), b0, b1, b2, b3)
        j += 2
        q += 2 * W4
    if j < N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
    _put4(r, i0, L, ep, a0, a1, a2, a3, b0, b1, b2, b3)


@jit(forceinline=True)
def _wide2(Wp, base, S, s, N, L, r, i0, ep):
    """``_wide1`` for inputs S[s], S[s + 1] (trials r, r + 1), sharing the loads: chains
    a, b for the first and c, d for the second."""
    z = vzero(Wp)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = z
    W4 = 4 * L
    q = base
    j = 0
    while j + 2 <= N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
        c0, c1, c2, c3 = _fma4(Wp, q, L, vsplat_at(S, s + 1, j), c0, c1, c2, c3)
        b0, b1, b2, b3 = _fma4(Wp, q + W4, L, vsplat_at(S, s, j + 1), b0, b1, b2, b3)
        d0, d1, d2, d3 = _fma4(Wp, q + W4, L, vsplat_at(S, s + 1, j + 1), d0, d1, d2, d3)
        j += 2
        q += 2 * W4
    if j < N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
        c0, c1, c2, c3 = _fma4(Wp, q, L, vsplat_at(S, s + 1, j), c0, c1, c2, c3)
    _put4(r, i0, L, ep, a0, a1, a2, a3, b0, b1, b2, b3)
    _put4(r + 1, i0, L, ep, c0, c1, c2, c3, d0, d1, d2, d3)


@jit(forceinline=True)
def _wide3(Wp, base, S, s, N, L, r, i0, ep):
    """``_wide1`` for inputs S[s], S[s + 1], S[s + 2] (trials r, r + 1, r + 2), sharing
    the loads: chains a, b; c, d; e, f. Their 24 accumulators, a vector of W and 3
    broadcasts fit the 32 registers of AVX-512, and each vector of W loaded serves 3
    multiply-adds instead of 2."""
    z = vzero(Wp)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = z
    c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = z
    e0 = e1 = e2 = e3 = f0 = f1 = f2 = f3 = z
    W4 = 4 * L
    q = base
    j = 0
    while j + 2 <= N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
        c0, c1, c2, c3 = _fma4(Wp, q, L, vsplat_at(S, s + 1, j), c0, c1, c2, c3)
        e0, e1, e2, e3 = _fma4(Wp, q, L, vsplat_at(S, s + 2, j), e0, e1, e2, e3)
        b0, b1, b2, b3 = _fma4(Wp, q + W4, L, vsplat_at(S, s, j + 1), b0, b1, b2, b3)
        d0, d1, d2, d3 = _fma4(Wp, q + W4, L, vsplat_at(S, s + 1, j + 1), d0, d1, d2, d3)
        f0, f1, f2, f3 = _fma4(Wp, q + W4, L, vsplat_at(S, s + 2, j + 1), f0, f1, f2, f3)
        j += 2
        q += 2 * W4
    if j < N:
        a0, a1, a2, a3 = _fma4(Wp, q, L, vsplat_at(S, s, j), a0, a1, a2, a3)
        c0, c1, c2, c3 = _fma4(Wp, q, L, vsplat_at(S, s + 1, j), c0, c1, c2, c3)
        e0, e1, e2, e3 = _fma4(Wp, q, L, vsplat_at(S, s + 2, j), e0, e1, e2, e3)
    _put4(r, i0, L, ep, a0, a1, a2, a3, b0, b1, b2, b3)
    _put4(r + 1, i0, L, ep, c0, c1, c2, c3, d0, d1, d2, d3)
    _put4(r + 2, i0, L, ep, e0, e1, e2, e3, f0, f1, f2, f3)


@jit(forceinline=True)
def _sum8(a0, a1, a2, a3, a4, a5, a6, a7):
    """A narrow block's eight chains added, in a fixed tree."""
    return vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), vadd(a6, a7)))


@jit(forceinline=True)
def _narrow1(Wp, base, S, s, N, L, r, i0, ep):
    """The sums of a narrow block (L rows from i0) for input S[s], out as trial r
    (``_emit``): eight chains, j mod 8, so that two multiply-adds issue every cycle."""
    z = vzero(Wp)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
    j = 0
    while j + 8 <= N:
        q = base + j * L
        a0 = vfma(vload(Wp, q), vsplat_at(S, s, j), a0)
        a1 = vfma(vload(Wp, q + L), vsplat_at(S, s, j + 1), a1)
        a2 = vfma(vload(Wp, q + 2 * L), vsplat_at(S, s, j + 2), a2)
        a3 = vfma(vload(Wp, q + 3 * L), vsplat_at(S, s, j + 3), a3)
        a4 = vfma(vload(Wp, q + 4 * L), vsplat_at(S, s, j + 4), a4)
        a5 = vfma(vload(Wp, q + 5 * L), vsplat_at(S, s, j + 5), a5)
        a6 = vfma(vload(Wp, q + 6 * L), vsplat_at(S, s, j + 6), a6)
        a7 = vfma(vload(Wp, q + 7 * L), vsplat_at(S, s, j + 7), a7)
        j += 8
    while j < N:  # the rest into the first chains, in order
        a0 = vfma(vload(Wp, base + j * L), vsplat_at(S, s, j), a0)
        j += 1
    _emit(_sum8(a0, a1, a2, a3, a4, a5, a6, a7), r, i0, ep)


@jit(forceinline=True)
def _narrow2(Wp, base, S, s, N, L, r, i0, ep):
    """``_narrow1`` for inputs S[s], S[s + 1] (trials r, r + 1), sharing the loads."""
    z = vzero(Wp)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = z
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = z
    j = 0
    while j + 8 <= N:
        q = base + j * L
        w = vload(Wp, q)
        a0 = vfma(w, vsplat_at(S, s, j), a0)
        c0 = vfma(w, vsplat_at(S, s + 1, j), c0)
        w = vload(Wp, q + L)
        a1 = vfma(w, vsplat_at(S, s, j + 1), a1)
        c1 = vfma(w, vsplat_at(S, s + 1, j + 1), c1)
        w = vload(Wp, q + 2 * L)
        a2 = vfma(w, vsplat_at(S, s, j + 2), a2)
        c2 = vfma(w, vsplat_at(S, s + 1, j + 2), c2)
        w = vload(Wp, q + 3 * L)
        a3 = vfma(w, vsplat_at(S, s, j + 3), a3)
        c3 = vfma(w, vsplat_at(S, s + 1, j + 3), c3)
        w = vload(Wp, q + 4 * L)
        a4 = vfma(w, vsplat_at(S, s, j + 4), a4)
        c4 = vfma(w, vsplat_at(S, s + 1, j + 4), c4)
        w = vload(Wp, q + 5 * L)
        a5 = vfma(w, vsplat_at(S, s, j + 5), a5)
        c5 = vfma(w, vsplat_at(S, s + 1, j + 5), c5)
        w = vload(Wp, q + 6 * L)
        a6 = vfma(w, vsplat_at(S, s, j + 6), a6)
        c6 = vfma(w, vsplat_at(S, s + 1, j + 6), c6)
        w = vload(Wp, q + 7 * L)
        a7 = vfma(w, vsplat_at(S, s, j + 7), a7)
        c7 = vfma(w, vsplat_at(S, s + 1, j + 7), c7)
        j += 8
    while j < N:
        w = vload(Wp, base + j * L)
        a0 = vfma(w, vsplat_at(S, s, j), a0)
        c0 = vfma(w, vsplat_at(S, s + 1, j), c0)
        j += 1
    _emit(_sum8(a0, a1, a2, a3, a4, a5, a6, a7), r, i0, ep)
    _emit(_sum8(c0, c1, c2, c3, c4, c5, c6, c7), r + 1, i0, ep)


@jit(inline="always")
def panel_sums(Wp, S, P, turn):
    """P[r, i] <- (W S[r, :N])_i for every trial r and i < N (P (B, Np), C-contiguous,
    Np = Wp.size // N; its columns N.. get the zero rows of the padding).

    Wp: ``pack_panels(W)``. turn (1,) int: flipped on every call, which reverses the
    order of the blocks; a W of 100 x 100 float64 (80 kB) does not fit in a 48 kB L1
    cache, but the blocks last used stay there, so starting the next product with them
    halves the traffic from L2 (the order of the blocks changes no result). Rows and
    blocks are indexed in place, never sliced: a view costs an atomic reference count."""
    B, N = S.shape[0], S.shape[1]
    Np = P.shape[1]
    if Wp.size != Np * N or P.shape[0] < B:  # vector stores are not bounds-checked
        raise ValueError("panel_sums: P must be (B, Np) with Wp.size == Np * N")
    n_blocks = block_count(N, Np, Wp)
    turn[0] ^= 1
    for bi in range(n_blocks):
        block_sums(Wp, S, 0, B, N, P, n_blocks - 1 - bi if turn[0] else bi)


@jit(forceinline=True)
def block_count(N, Np, Wp):
    """The number of blocks of the panels of W (N, N) padded to Np rows (wide, then
    narrow ones)."""
    L = lanes(Wp)
    n_wide = N // (4 * L)
    return n_wide + (Np - n_wide * 4 * L) // L


@jit(forceinline=True)
def block_start(N, Wp, b):
    """The first row of block b, and whether the block is a wide one (4 L rows)."""
    L = lanes(Wp)
    n_wide = N // (4 * L)
    if b < n_wide:
        return 4 * L * b, True
    return 4 * L * n_wide + L * (b - n_wide), False


@jit(inline="always")
def block_sums(Wp, S, s0, B, N, P, b):
    """``panel_sums`` for block b alone: P[r, i] <- (W S[s0 + r, :N])_i for its rows i
    and trials r < B."""
    block_apply(Wp, S, s0, B, N, b, (RAW, P, 0, 0, P, Wp, Wp, 0))  # unused: Wp


@jit(inline="always")
def block_leak(Wp, Hs, src, dst, B, N, Dp, decay, gain, phi, b):
    """The leaky step of block b's rows for B trials, from the sums in registers:
    Hs[dst + r, i] <- decay[i] Hs[src + r, i] + gain[i] phi((W Hs[src + r, :N])_i +
    Dp[r or 0, i]) (``_emit``). Hs, Dp, decay and gain padded to Np columns (zero past
    N, so that the padding rows stay 0); phi a built-in code with a vector form.

    One copy of the loops per phi, each with its phi a constant: with phi's code a
    variable, each of the 27 places that finish a vector held every vector phi (0.93 us
    a step against 0.80 at N = 100)."""
    if phi == TANH:
        block_apply(Wp, Hs, src, B, N, b, (LEAK, Hs, src, dst, Dp, decay, gain, TANH))
    elif phi == SIGMOID:
        block_apply(Wp, Hs, src, B, N, b, (LEAK, Hs, src, dst, Dp, decay, gain, SIGMOID))
    elif phi == RELU:
        block_apply(Wp, Hs, src, B, N, b, (LEAK, Hs, src, dst, Dp, decay, gain, RELU))
    else:  # LINEAR (callers pass only codes with a vector form: ``split_blocks``)
        block_apply(Wp, Hs, src, B, N, b, (LEAK, Hs, src, dst, Dp, decay, gain, LINEAR))


@jit(inline="always")
def block_apply(Wp, S, s0, B, N, b, ep):
    """The sums of block b for the inputs S[s0 + r, :N], r < B, each out as trial r
    through the epilogue ep (``_emit``). A wide block serves three trials a pass over
    its panel (two left over share a pass, one takes its own), a narrow one two."""
    L = lanes(Wp)
    i0, wide = block_start(N, Wp, b)
    base = i0 * N
    r = 0
    while r < B:
        s = s0 + r
        if wide:
            if r + 2 < B:
                _wide3(Wp, base, S, s, N, L, r, i0, ep)
                r += 3
            elif r + 1 < B:
                _wide2(Wp, base, S, s, N, L, r, i0, ep)
                r += 2
            else:
                _wide1(Wp, base, S, s, N, L, r, i0, ep)
                r += 1
        elif r + 1 < B:
            _narrow2(Wp, base, S, s, N, L, r, i0, ep)
            r += 2
        else:
            _narrow1(Wp, base, S, s, N, L, r, i0, ep)
            r += 1


def finish(P, D, phi, mode, Y, A, C, OUT):
    """One pass per trial over the sums P[r, i] = (W s_r)_i, i < N = D.shape[1], from
    the panels or from BLAS, with z = P[r, i] + D[r or 0, i]:

    RAW:   OUT[r, i] = P[r, i]                        (no drive, no phi)
    PHI:   OUT[r, i] = phi(z)
    LEAK:  OUT[r, i] = A[i] Y[r, i] + C[i] phi(z)     (a leaky step: decay, gain)
    RELAX: OUT[r, i] = (phi(z) - Y[r, i]) A[i]        (the field: A = 1 / tau)

    P is overwritten with phi(z) (RAW: left as it is). OUT may be P or Y (each element
    is read before it is written).

    For a built-in phi with a vector form (``phi.has_vector_form``) and N >= L lanes, the
    pass runs in whole vectors (``_finish_vectors``); otherwise element by element."""
    raise NotImplementedError  # only callable from jitted code


@jit(forceinline=True)
def _finish_scalar(P, D, phi, mode, Y, A, C, OUT):
    N = D.shape[1]
    shared = D.shape[0] == 1
    for r in range(P.shape[0]):
        if mode == RAW:
            for i in range(N):
                OUT[r, i] = P[r, i]
            continue
        dr = 0 if shared else r
        for i in range(N):
            P[r, i] += D[dr, i]
        apply_phi_row(phi, P, r, N)
        if mode == PHI:
            for i in range(N):
                OUT[r, i] = P[r, i]
        elif mode == LEAK:
            for i in range(N):
                OUT[r, i] = A[i] * Y[r, i] + C[i] * P[r, i]
        else:  # RELAX
            for i in range(N):
                OUT[r, i] = (P[r, i] - Y[r, i]) * A[i]


@jit(forceinline=True)
def _finish_chunk(P, D, phi, mode, Y, A, C, r, dr, i):
    """phi(z) and the output for the L elements i ... i + L - 1 of row r (vectors)."""
    p = vload(P, r * P.shape[1] + i)
    if mode == RAW:
        return p, p
    d = vload(D, dr * D.shape[1] + i)
    if mode == LEAK:
        return leak_vector(phi, p, d, vload(Y, r * Y.shape[1] + i), vload(A, i),
                           vload(C, i))
    p = vphi(phi, vadd(p, d))
    if mode == PHI:
        return p, p
    return p, vmul(vsub(p, vload(Y, r * Y.shape[1] + i)), vload(A, i))  # RELAX


@jit(forceinline=True)
def _finish_vectors(P, D, phi, mode, Y, A, C, OUT):
    """``finish`` in whole vectors of L: per row, the last vector ends at column N and
    overlaps the one before where L does not divide N; it is computed first, from the
    row as it was, and stored last, so that OUT may alias P or Y."""
    N = D.shape[1]
    L = lanes(P)
    shared = D.shape[0] == 1
    for r in range(P.shape[0]):
        dr = 0 if shared else r
        last = N - L
        tp, to = _finish_chunk(P, D, phi, mode, Y, A, C, r, dr, last)
        for i in range(0, last, L):
            p, o = _finish_chunk(P, D, phi, mode, Y, A, C, r, dr, i)
            if mode != RAW:
                vstore(P, r * P.shape[1] + i, p)
            vstore(OUT, r * OUT.shape[1] + i, o)
        if mode != RAW:
            vstore(P, r * P.shape[1] + last, tp)
        vstore(OUT, r * OUT.shape[1] + last, to)


@overload(finish, jit_options=dict(fastmath=set(FASTMATH), error_model="numpy"),
          inline="always")
def _finish_ov(P, D, phi, mode, Y, A, C, OUT):
    arrays = (P, D, Y, A, C, OUT)
    same = all(a.layout == "C" and a.dtype == P.dtype for a in arrays)
    if not (isinstance(phi, types.Integer) and same):
        return lambda P, D, phi, mode, Y, A, C, OUT: _finish_scalar(P, D, phi, mode, Y, A,
                                                                     C, OUT)

    def impl(P, D, phi, mode, Y, A, C, OUT):
        if D.shape[1] >= lanes(P) and has_vector_form(phi):
            _finish_vectors(P, D, phi, mode, Y, A, C, OUT)
        else:
            _finish_scalar(P, D, phi, mode, Y, A, C, OUT)
    return impl


@jit
def fused_product(Wp, S, D, phi, mode, Y, A, C, OUT, P, turn):
    """``panel_sums`` into P (B, Np) then ``finish`` into OUT (for tests; the kernels
    call the two themselves, inlined). OUT may be S or Y: every sum is formed before
    any output is written."""
    panel_sums(Wp, S, P, turn)
    finish(P, D, phi, mode, Y, A, C, OUT)
