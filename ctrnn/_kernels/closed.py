"""Closed loops: the fixed-step loops of ``rk`` with the model's own output fed back into
some of its inputs, step by step inside one kernel call (no Python per step).

Before step k (k >= 1) every trial r with ``take[r, k]`` False gets, in input column
``first + j``, the output y_j = c_j + C_j . h after step k - 1 (h: the first N columns of
the state); trials with ``take`` True keep the given input (teacher forcing). The inputs
array ``inp.xs`` (B, T + 1, n_in) is overwritten with what was fed, so a caller can run
the ordinary loops (and their adjoints) on exactly the inputs the network received.
"""
from ._jit import jit
from .rk import OK, ONE, leaky_run, rk_run


@jit(inline="always")
def _feed(H, xs, k, C, c, first, take):
    B = H.shape[0]
    n_out, N = C.shape
    for r in range(B):
        if not take[r, k]:
            for j in range(n_out):
                y = c[j]
                for i in range(N):
                    y += C[j, i] * H[r, i]
                xs[r, k, first + j] = y


@jit(inline="always")
def _base(out, k):
    """The save base that puts step k's state into ``out``: row 0 of a (B, 1, M)
    scratch, or row k + 1 of a (B, T + 1, M) record of every state."""
    return k + 1 if out.shape[1] == 1 else 0


@jit
def leaky_closed(H, out, T, C, c, first, take, net, inp, decay, gain, noise_scale, keys,
                 dt, exact_linear):
    """``rk.leaky_run`` over steps 0 .. T - 1 with output feedback; ``out`` (B, 1, M)
    scratch, or (B, T + 1, M) to keep the state after step k in row k + 1. Returns
    leaky_run's status tuple."""
    for k in range(T):
        if k > 0:
            _feed(H, inp.xs, k, C, c, first, take)
        code, kk, r, i = leaky_run(H, out, k, ONE, ONE, _base(out, k), net, inp, decay, gain,
                                   noise_scale, keys, dt, exact_linear)
        if code != OK:
            return code, kk, r, i
    return OK, 0, 0, 0


@jit
def rk_closed(H, out, T, C, c, first, take, net, inp, dt, A, b, cc, noise_scale, keys):
    """``rk.rk_run`` over steps 0 .. T - 1 with output feedback (see ``leaky_closed``)."""
    for k in range(T):
        if k > 0:
            _feed(H, inp.xs, k, C, c, first, take)
        code, kk, r, i = rk_run(H, out, k, ONE, ONE, _base(out, k), net, inp, dt, A, b, cc,
                                noise_scale, keys)
        if code != OK:
            return code, kk, r, i
    return OK, 0, 0, 0
