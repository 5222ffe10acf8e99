"""The LSTM with forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000) in
PyTorch's layout, forward and exact backpropagation through time, batched over trials.

All arrays are time-major so that each step's rows are one contiguous block for the
product: Xp (T, B, 4H) is the input projection x_t W_ih^T + b_ih + b_hh (one product
for the whole sequence, made by the caller), Hs and Cs (T + 1, B, H) the hidden and
cell states (row 0 the initial state), G (T, B, 4H) the gate values i, f, g, o after
their nonlinearities:

    i, f, o = sigmoid(.), g = tanh(.),   c_{t+1} = f c_t + i g,   h_{t+1} = o tanh(c_{t+1})

Output feedback: the last n_fb input columns carry the previous output
y_{t-1} = C h_t + c. Where ``take[t, r]`` is False the model's own output replaces the
given value there (free running); the value fed is written into ``Xfb``, so the caller's
gradient of W_ih sees the inputs the network really received. The fed output is a
constant for the gradient (Bengio et al. 2015 do the same with sampled tokens).
"""
import numpy as np

from ._jit import jit
from .borrow import borrow
from .phi import sigmoid, tanh


@jit(inline="always")
def _cell(z, c, cn, hn, tcn, g, H):
    """One trial: the gate values g (4H,) from its pre-activations z (4H,), the new cell
    cn, tanh(cn) and the new state hn. Plain loops over few arrays, which LLVM
    vectorises (one loop writing six arrays it does not)."""
    for k in range(2 * H):
        g[k] = sigmoid(z[k])
    for k in range(2 * H, 3 * H):
        g[k] = tanh(z[k])
    for k in range(3 * H, 4 * H):
        g[k] = sigmoid(z[k])
    for k in range(H):
        cn[k] = g[H + k] * c[k] + g[k] * g[2 * H + k]
    for k in range(H):
        tcn[k] = tanh(cn[k])
    for k in range(H):
        hn[k] = g[3 * H + k] * tcn[k]


@jit
def forward(Xp, WhhT, Hs, Cs, TC, G, Wfb, C, c, take, truth, Xfb):
    """Fill Hs[1:], Cs[1:], TC (T, B, H) = tanh(Cs[1:]) and G from Hs[0], Cs[0].

    Wfb (n_fb, 4H): the columns of W_ih for the fed-back inputs, transposed (n_fb = 0: no
    feedback), whose share is not in Xp; truth (T, B, n_fb) the given values there. The
    value fed (the truth, or the output y_{t-1} where take[t, r] is False, t >= 1) is
    added as v Wfb and written into Xfb (T, B, n_fb). Returns the first step whose state
    is not finite, or -1."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    Xp = borrow(Xp)
    WhhT = borrow(WhhT)
    Hs = borrow(Hs)
    Cs = borrow(Cs)
    TC = borrow(TC)
    G = borrow(G)
    Wfb = borrow(Wfb)
    C = borrow(C)
    c = borrow(c)
    take = borrow(take)
    truth = borrow(truth)
    Xfb = borrow(Xfb)
    T, B, H4 = Xp.shape
    H = H4 // 4
    n_fb = Wfb.shape[0]
    Z = np.empty((B, H4), Xp.dtype)
    for t in range(T):
        np.dot(Hs[t], WhhT, Z)
        for r in range(B):
            for k in range(H4):
                Z[r, k] += Xp[t, r, k]
        if n_fb > 0:
            for r in range(B):
                for j in range(n_fb):
                    v = truth[t, r, j]
                    if t > 0 and not take[t, r]:
                        v = c[j]
                        for k in range(H):
                            v += C[j, k] * Hs[t, r, k]
                    for k in range(H4):
                        Z[r, k] += v * Wfb[j, k]
                    Xfb[t, r, j] = v
        for r in range(B):
            _cell(Z[r], Cs[t, r], Cs[t + 1, r], Hs[t + 1, r], TC[t, r], G[t, r], H)
        for r in range(B):  # a NaN or inf anywhere in this step's cells
            for k in range(H):
                v = Cs[t + 1, r, k]
                if v - v != 0.0:
                    return t
    return -1


@jit
def backward(Hs, Cs, TC, G, Whh, Yb, C, dh, dc, DG, gb, norms, one):
    """The adjoint of ``forward``: Yb (T, B, n_out) holds dL/dy_t, so that the loss
    reaches h_{t+1} as Yb[t] C (C (n_out, H) the readout); dh, dc (B, H) start as the
    gradient reaching the last state (zeros: none) and end as dL/dh_0, dL/dc_0; DG
    (T, B, 4H) receives dL/d(pre-activation) of every gate, from which the caller forms
    the weight gradients in single products; gb (4H,) float64 accumulates their sum,
    the bias gradient. TC (T, B, H) holds tanh(c_{t+1}) from the forward pass. norms
    (B, T + 1), or (B, 0) to skip: ||dL/dh_t|| for every state. ``one``: 1 in the
    arrays' precision (a float32 pass stays in float32). Each row is a few short loops
    over few arrays, which LLVM vectorises."""
    T, B, n_out = Yb.shape
    H = C.shape[1]
    want = norms.shape[1] > 0
    a = np.empty(H, Hs.dtype)
    for t in range(T - 1, -1, -1):
        for r in range(B):
            g, d, tc, dcr, cp = G[t, r], DG[t, r], TC[t, r], dc[r], Cs[t, r]
            dhr = dh[r]
            for k in range(H):
                a[k] = dhr[k]
            for o in range(n_out):
                y = Yb[t, r, o]
                co = C[o]
                for k in range(H):
                    a[k] += y * co[k]
            if want:
                s = 0.0
                for k in range(H):
                    s += a[k] * a[k]
                norms[r, t + 1] = np.sqrt(s)
            for k in range(H):  # output gate
                o = g[3 * H + k]
                d[3 * H + k] = a[k] * tc[k] * (o - o * o)
            for k in range(H):  # dL/dc_{t+1}
                dcr[k] += a[k] * g[3 * H + k] * (one - tc[k] * tc[k])
            for k in range(H):  # input gate and cell input
                i = g[k]
                gg = g[2 * H + k]
                d[k] = dcr[k] * gg * (i - i * i)
                d[2 * H + k] = dcr[k] * i * (one - gg * gg)
            for k in range(H):  # forget gate
                f = g[H + k]
                d[H + k] = dcr[k] * cp[k] * (f - f * f)
            for k in range(H):  # dL/dc_t
                dcr[k] *= g[H + k]
            for k in range(4 * H):  # the bias gradient, summed in float64
                gb[k] += d[k]
        np.dot(DG[t], Whh, dh)
    if want:
        for r in range(B):
            s = 0.0
            for k in range(H):
                s += dh[r, k] * dh[r, k]
            norms[r, 0] = np.sqrt(s)
