"""Time-stepping loops: one leaky fast path, one generic explicit Runge-Kutta loop over a
Butcher tableau, and one adaptive loop over an embedded pair with dense output.

Every loop advances the state Z (B, V N) (h, and u, x with STP; see ``rhs``) in place from
global step ``k0`` and writes the saved states into ``out`` (B, n_out, V N) at index
(k + 1) // save_every - save_base. The
global step index (not the chunk-local one) picks the input sample and the noise, so a
run cut into chunks equals one long run bit for bit. Each returns a status tuple
(code, step, trial, column) with the codes of ``ctrnn._engine.Status``: OK, NONFINITE
(the state left the finite range at that step, trial and state column), MAX_STEPS or
STEP_UNDERFLOW (adaptive loop only).
"""
import math

import numpy as np

from . import stp as _stp
from ._jit import jit
from .borrow import borrow
from .packed import Inputs
from .dense import LEAK, RELAX, finish, panel_sums
from .rhs import (axpy, drive, evaluate, field, first_nonfinite, make_workspace,
                  preactivation_phi, recurrent)
from .rng import add_noise

OK, NONFINITE, MAX_STEPS, STEP_UNDERFLOW = 0, 1, 2, 3

# A step count or save interval of 1 passed from one kernel to another (``closed``,
# ``force``): a literal 1 there makes Numba compile the whole loop once more for
# Literal[int](1) (~10 s each); an int64 constant reuses the one Python's calls compile.
ONE = np.int64(1)


@jit(inline="always")
def _first_save(k0, save_every):
    """The first step k >= k0 after which a state is saved ((k + 1) % save_every == 0)."""
    return (k0 // save_every + 1) * save_every - 1


@jit(inline="always")
def _after_step(H, out, k, ks, save_every, save_base, noise_scale, keys):
    """Noise, finiteness check and saving, shared by the fixed-step loops. ks is the next
    step after which to save (``_first_save``); returns (trial, column) of a non-finite
    entry or (-1, -1), and the next ks. (A counter, not (k + 1) % save_every: a 64-bit
    division each step cost ~0.05 us, 10% of a float32 step at N = 100.)"""
    if keys.size > 0:
        add_noise(H, keys, k, noise_scale)
    r, i = first_nonfinite(H)
    if r >= 0:
        return r, i, ks
    if k == ks:
        out[:, (k + 1) // save_every - save_base, :] = H
        ks += save_every
    return -1, -1, ks


@jit
def _leaky_fused(H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
                 noise_scale, keys, ws):
    """``leaky_run`` for a network without STP: the product and one fused pass a step
    (``dense.finish``), in a loop of its own with the arrays taken out of their tuples
    once (~0.2 us a step, 15% at N = 100, faster than the general loop)."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    out = borrow(out)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    ws = borrow(ws)
    W, WT, Wp, phi = net.W, net.WT, net.Wp, net.phi
    P, D, Xw, Sp, turn = ws.P, ws.D, ws.Xw, ws.Sp, ws.turn
    panels = Wp.size > 0
    has_input = inp.xs.shape[2] > 0
    ks = _first_save(k0, save_every)
    for k in range(k0, k0 + nsteps):
        if has_input:
            drive(inp, k, 0.0, D, Xw)
        if panels:
            panel_sums(Wp, H, Sp, turn)
            finish(Sp, D, phi, LEAK, H, decay, gain, H)
        else:
            recurrent(H, W, WT, P)
            finish(P, D, phi, LEAK, H, decay, gain, H)
        r, i, ks = _after_step(H, out, k, ks, save_every, save_base, noise_scale, keys)
        if r >= 0:
            return NONFINITE, k, r, i
    return OK, 0, 0, 0


@jit
def leaky_run(H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
              noise_scale, keys, dt, exact_linear):
    """h <- decay * h + gain * phi(W s + U x_k + b) (+ noise_scale * z).

    decay = 1 - dt/tau, gain = dt/tau is forward Euler (gain = 1: the discrete RNN);
    decay = exp(-dt/tau), gain = 1 - decay is exponential Euler. With STP, u and x take
    a forward-Euler step of dt (exact_linear False) or the exact step of their linear
    equations with the rate held over the step (exact_linear True), all from the state at
    the start of the step (``stp.leaky_step``).
    """
    ws = make_workspace(H, net, inp)
    if ws.S.shape[0] == 0:
        return _leaky_fused(H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
                            noise_scale, keys, ws)
    return _leaky_general(H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
                          noise_scale, keys, dt, exact_linear, ws)


@jit
def _leaky_general(H, out, k0, nsteps, save_every, save_base, net, inp, decay, gain,
                   noise_scale, keys, dt, exact_linear, ws):
    """``leaky_run``'s loop for a network with STP."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    out = borrow(out)
    net = borrow(net)
    inp = borrow(inp)
    decay = borrow(decay)
    gain = borrow(gain)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    ws = borrow(ws)
    P = ws.P
    B, N = P.shape
    ks = _first_save(k0, save_every)
    for k in range(k0, k0 + nsteps):
        preactivation_phi(H, k, 0.0, net, inp, ws)
        _stp.leaky_step(H, net.stp, dt, exact_linear)
        for r in range(B):
            for i in range(N):
                H[r, i] = decay[i] * H[r, i] + gain[i] * P[r, i]
        r, i, ks = _after_step(H, out, k, ks, save_every, save_base, noise_scale, keys)
        if r >= 0:
            return NONFINITE, k, r, i
    return OK, 0, 0, 0


@jit(inline="always")
def _stage_input(H, Y, K, A, st, dt):
    """Y <- H + dt sum_j A[st, j] K[j], the input of stage st (indexed in place: a view
    costs an atomic reference count)."""
    R, M = H.shape
    for r in range(R):
        for i in range(M):
            Y[r, i] = H[r, i]
    for j in range(st):
        a = dt * A[st, j]
        if a != 0.0:
            for r in range(R):
                for i in range(M):
                    Y[r, i] += a * K[j, r, i]


@jit(inline="always")
def _combine(H, K, b, dt):
    """H <- H + dt sum_s b_s K_s."""
    R, M = H.shape
    for st in range(b.size):
        a = dt * b[st]
        if a != 0.0:
            for r in range(R):
                for i in range(M):
                    H[r, i] += a * K[st, r, i]


@jit(inline="always")
def rk_step(H, k, dt, A, b, c, K, Y, net, inp, ws):
    """One explicit Runge-Kutta step of tableau (A, b, c) in place, H <- H + dt sum_s b_s
    K_s, for the system ``ws`` was made for (see ``rhs.evaluate``). K (s, *H.shape) and Y
    (H.shape) are scratch. The stage loop of every fixed-step RK method for the tangent
    system and for networks with STP; a network without STP runs the same loop with its
    arrays hoisted (``_rk_run_fused``)."""
    for st in range(b.size):
        _stage_input(H, Y, K, A, st, dt)
        evaluate(Y, k, c[st], net, inp, ws, K, st)
    _combine(H, K, b, dt)


@jit
def _rk_run_fused(H, out, k0, nsteps, save_every, save_base, net, inp, dt, A, b, c,
                  noise_scale, keys, ws, K, Y):
    """``rk_run`` for a network without STP: ``rk_step``'s stage loop over the same
    tableau, with each stage the product and one fused pass (``dense.finish``), and every
    array taken out of its tuple once, before the loop. Inside the loop, taking them out
    of the tuples at each stage (reference counts) made rk4 at N = 100 cost 8.0 us a
    step against 4.2-5.9 here; the results are the same bit for bit."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    out = borrow(out)
    net = borrow(net)
    inp = borrow(inp)
    A = borrow(A)
    b = borrow(b)
    c = borrow(c)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    ws = borrow(ws)
    K = borrow(K)
    Y = borrow(Y)
    s = b.size
    W, WT, Wp, phi, inv_tau = net.W, net.WT, net.Wp, net.phi, net.inv_tau
    D, Xw, Sp, P, turn = ws.D, ws.Xw, ws.Sp, ws.P, ws.turn
    panels = Wp.size > 0
    has_input = inp.xs.shape[2] > 0
    ks = _first_save(k0, save_every)
    for k in range(k0, k0 + nsteps):
        for st in range(s):
            _stage_input(H, Y, K, A, st, dt)
            if has_input:
                drive(inp, k, c[st], D, Xw)
            if panels:
                panel_sums(Wp, Y, Sp, turn)
                finish(Sp, D, phi, RELAX, Y, inv_tau, inv_tau, K[st])
            else:
                recurrent(Y, W, WT, P)
                finish(P, D, phi, RELAX, Y, inv_tau, inv_tau, K[st])
        _combine(H, K, b, dt)
        r, i, ks = _after_step(H, out, k, ks, save_every, save_base, noise_scale, keys)
        if r >= 0:
            return NONFINITE, k, r, i
    return OK, 0, 0, 0


@jit
def rk_run(H, out, k0, nsteps, save_every, save_base, net, inp, dt, A, b, c,
           noise_scale, keys):
    """Explicit Runge-Kutta with tableau (A, b, c) and a fixed step dt."""
    ws = make_workspace(H, net, inp)
    K = np.empty((b.size,) + H.shape, H.dtype)
    Y = np.empty_like(H)
    if ws.S.shape[0] == 0:
        return _rk_run_fused(H, out, k0, nsteps, save_every, save_base, net, inp, dt, A, b, c,
                             noise_scale, keys, ws, K, Y)
    return _rk_run_general(H, out, k0, nsteps, save_every, save_base, net, inp, dt, A, b, c,
                           noise_scale, keys, ws, K, Y)


@jit
def _rk_run_general(H, out, k0, nsteps, save_every, save_base, net, inp, dt, A, b, c,
                    noise_scale, keys, ws, K, Y):
    """``rk_run``'s loop of ``rk_step`` (networks with STP)."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    out = borrow(out)
    net = borrow(net)
    inp = borrow(inp)
    A = borrow(A)
    b = borrow(b)
    c = borrow(c)
    noise_scale = borrow(noise_scale)
    keys = borrow(keys)
    ws = borrow(ws)
    K = borrow(K)
    Y = borrow(Y)
    ks = _first_save(k0, save_every)
    for k in range(k0, k0 + nsteps):
        rk_step(H, k, dt, A, b, c, K, Y, net, inp, ws)
        r, i, ks = _after_step(H, out, k, ks, save_every, save_base, noise_scale, keys)
        if r >= 0:
            return NONFINITE, k, r, i
    return OK, 0, 0, 0


@jit(inline="always")
def _rms(v, scale):
    acc = 0.0
    for i in range(v.size):
        q = v[i] / scale[i]
        acc += q * q
    return math.sqrt(acc / v.size)


@jit
def _input_index(t, dt_in, n_steps):
    """Step index k and fraction c in [0, 1] of time t on the input grid of n_steps."""
    q = t / dt_in
    k = int(math.floor(q))
    if k >= n_steps:
        return n_steps - 1, 1.0
    if k < 0:
        return 0, 0.0
    return k, q - k


@jit
def _field_at(Y, t, dt_in, n_steps, net, inp, ws, out):
    k, c = _input_index(t, dt_in, n_steps)
    field(Y, k, c, net, inp, ws, out)


@jit(inline="always")
def _dense_saves(out, r, j, j_end, save_base, save_dt, t0, h, t1, y0, Q):
    """Write saves j, j + 1, ... (before j_end) at the times j save_dt <= t1 of the
    accepted step (t0, t0 + h] that starts at y0 with dense-output polynomial Q (p, N):
    y(t0 + theta h) = y0 + h theta (Q_0 + theta (Q_1 + ...)). Returns the next save."""
    n_dense, N = Q.shape
    while j < j_end and j * save_dt <= t1:
        theta = min((j * save_dt - t0) / h, 1.0)
        for i in range(N):
            poly = Q[n_dense - 1, i]  # Horner
            for m in range(n_dense - 2, -1, -1):
                poly = Q[m, i] + theta * poly
            out[r, j - save_base, i] = y0[i] + h * theta * poly
        j += 1
    return j


@jit
def adaptive_run(H, F0, state, counts, dense, out, j0, n_out, save_base, save_dt, t_end, net,
                 inp, dt_in, n_steps, tab, tol, ctrl, max_steps):
    """Adaptive explicit Runge-Kutta with an embedded pair, PI step control and dense
    output, per trial; the pair is data (``tab``, a ``ctrnn._engine.AdaptiveTableau``).

    tab: A (s, s), b (s,), c (s,), e (s,) error weights, P (s, p) dense output
    y(t + theta h) = y + h theta sum_m (K^T P)[:, m] theta^m, fsal (the last stage is
    the derivative at the new state: A[-1] == b, c[-1] == 1; otherwise that derivative
    is evaluated once per accepted step, so a rejected step costs s - 1) and error_exponent
    1 / (error order + 1). tol = (rtol, atol); ctrl = (safety, min_factor, max_factor,
    beta), the step factor being safety * err^-(error_exponent - 0.75 beta) err_old^beta.

    Trials are stepped independently (each with its own step sizes), so a batch equals
    its single runs bit for bit. Carried between chunks: H (B, N) the state at time
    state[b, 0], F0 (B, N) its derivative, state[b] = (t, next step, previous error
    norm, start and size of the last step with saves, the next save to write; next
    step 0 means "not started"), counts[b] = (accepted, rejected, evaluations), dense[b] (1 + p, N): the
    state at the start of that step and its dense-output polynomial, so that its saves
    beyond the end of a chunk are written at the start of the next one exactly as one
    long run writes them. Saves are at times j * save_dt for j in [j0, j0 + n_out).
    """
    B, N = H.shape
    xs_all = inp.xs
    K = np.empty((tab.b.size, 1, N), H.dtype)
    Y = np.empty((1, N), H.dtype)
    Ynew = np.empty((1, N), H.dtype)
    sc = np.empty(N, H.dtype)
    for r in range(B):
        xs = xs_all[r:r + 1] if xs_all.shape[0] > 1 else xs_all
        inp_r = Inputs(xs, inp.UT, inp.b, inp.interp)
        ws = make_workspace(Y, net, inp_r)
        code, k, rr, i = _adaptive_trial(r, H, F0, state, counts, dense, out, j0, n_out,
                                         save_base, save_dt, t_end, net, inp_r, dt_in,
                                         n_steps, tab, tol, ctrl, max_steps, ws, K, Y, Ynew,
                                         sc)
        if code != OK:
            return code, k, rr, i
    return OK, 0, 0, 0


@jit
def _adaptive_trial(r, H, F0, state, counts, dense, out, j0, n_out, save_base, save_dt,
                    t_end, net, inp_r, dt_in, n_steps, tab, tol, ctrl, max_steps, ws, K, Y,
                    Ynew, sc):
    """``adaptive_run`` for trial r (inputs ``inp_r``, workspace ``ws``, scratch K, Y,
    Ynew, sc): its status tuple."""
    # arguments, borrowed: not reference-counted in the loop (``borrow``: one name
    # at a time, so that Numba sees each alias its argument)
    H = borrow(H)
    F0 = borrow(F0)
    state = borrow(state)
    counts = borrow(counts)
    dense = borrow(dense)
    out = borrow(out)
    net = borrow(net)
    inp_r = borrow(inp_r)
    tab = borrow(tab)
    ws = borrow(ws)
    K = borrow(K)
    Y = borrow(Y)
    Ynew = borrow(Ynew)
    sc = borrow(sc)
    A, bw, c, e, Pd = tab.A, tab.b, tab.c, tab.e, tab.P
    s = bw.size
    n_dense = Pd.shape[1]
    fsal = tab.fsal
    rtol, atol = tol
    safety, min_factor, max_factor, beta = ctrl
    expo = tab.error_exponent - 0.75 * beta
    N = H.shape[1]
    y0 = dense[r, 0]
    Q = dense[r, 1:]
    y = H[r:r + 1]
    f0 = F0[r:r + 1]
    t, hs, err_old = state[r, 0], state[r, 1], state[r, 2]
    if hs == 0.0:  # first call: derivative and Hairer's initial step size
        _field_at(y, t, dt_in, n_steps, net, inp_r, ws, f0)
        for i in range(N):
            sc[i] = atol + rtol * abs(y[0, i])
        d0 = _rms(y[0], sc)
        d1 = _rms(f0[0], sc)
        h0 = 0.01 * d0 / d1 if (d0 > 1e-5 and d1 > 1e-5) else 1e-6
        h0 = min(h0, t_end - t)
        Y[0] = y[0] + h0 * f0[0]
        _field_at(Y, t + h0, dt_in, n_steps, net, inp_r, ws, K[1])
        for i in range(N):
            sc[i] = (K[1, 0, i] - f0[0, i]) / sc[i]
        d2 = _rms(sc, np.ones(N, H.dtype)) / h0
        dmax = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** tab.error_exponent
        hs = min(100.0 * h0, h1)
        err_old = 1e-4
        counts[r, 2] += 2
    j = j0
    # saves of the previous chunk's last step that lay beyond the end of that chunk
    t_prev, h_prev = state[r, 3], state[r, 4]
    if h_prev > 0.0:
        j = _dense_saves(out, r, j, j0 + n_out, save_base, save_dt, t_prev, h_prev, t,
                         y0, Q)
    last_rejected = False
    while j < j0 + n_out:
        if counts[r, 0] + counts[r, 1] >= max_steps:
            state[r, 0], state[r, 1], state[r, 2], state[r, 5] = t, hs, err_old, j
            return MAX_STEPS, counts[r, 0] + counts[r, 1], r, 0
        h = hs
        t_new = t + h
        if t + 1.01 * h >= t_end:  # Hairer: do not leave a sliver before t_end
            h = t_end - t
            t_new = t_end
        if h <= 10.0 * np.finfo(np.float64).eps * max(abs(t), 1.0):
            state[r, 0], state[r, 1], state[r, 2], state[r, 5] = t, hs, err_old, j
            return STEP_UNDERFLOW, counts[r, 0] + counts[r, 1], r, 0
        K[0] = f0
        for st in range(1, s):
            Y[:] = y
            for m in range(st):
                if A[st, m] != 0.0:
                    axpy(h * A[st, m], K[m], Y)
            if fsal and st == s - 1:
                Ynew[:] = Y
            _field_at(Y, t + c[st] * h, dt_in, n_steps, net, inp_r, ws, K[st])
        if not fsal:
            Ynew[:] = y
            for st in range(s):
                if bw[st] != 0.0:
                    axpy(h * bw[st], K[st], Ynew)
        counts[r, 2] += s - 1
        # error estimate and its RMS norm
        for i in range(N):
            sc[i] = atol + rtol * max(abs(y[0, i]), abs(Ynew[0, i]))
        acc = 0.0
        for i in range(N):
            ei = 0.0
            for st in range(s):
                ei += e[st] * K[st, 0, i]
            q = h * ei / sc[i]
            acc += q * q
        err = math.sqrt(acc / N)
        if not err < np.inf:  # NaN or inf in a stage
            rr, ii = first_nonfinite(Ynew)
            if rr >= 0:
                # name the neuron that was largest at the last accepted state
                big = 0
                for i in range(N):
                    if abs(y[0, i]) > abs(y[0, big]):
                        big = i
                state[r, 0], state[r, 1], state[r, 2], state[r, 5] = t, hs, err_old, j
                return NONFINITE, counts[r, 0] + counts[r, 1], r, big
            err = 1e10  # a non-finite stage but finite result: reject and shrink
        if err <= 1.0:
            # dense output on every save time in (t, t_new]
            if j < j0 + n_out and j * save_dt <= t_new:
                for m in range(n_dense):  # Q = K^T P, the dense-output polynomial
                    for i in range(N):
                        acc2 = 0.0
                        for st in range(s):
                            acc2 += K[st, 0, i] * Pd[st, m]
                        Q[m, i] = acc2
                y0[:] = y[0]
                state[r, 3], state[r, 4] = t, h
            j = _dense_saves(out, r, j, j0 + n_out, save_base, save_dt, t, h, t_new, y0, Q)
            t = t_new
            y[:] = Ynew
            if fsal:
                f0[:] = K[s - 1]
            else:  # the derivative at the new state, once per accepted step
                _field_at(y, t, dt_in, n_steps, net, inp_r, ws, f0)
                counts[r, 2] += 1
            counts[r, 0] += 1
            err_c = max(err, 1e-10)
            factor = safety * err_c ** (-expo) * err_old ** beta
            factor = min(max_factor, max(min_factor, factor))
            if last_rejected:
                factor = min(factor, 1.0)
            hs = h * factor
            err_old = max(err, 1e-4)
            last_rejected = False
        else:
            counts[r, 1] += 1
            hs = h * max(min_factor, safety * err ** (-expo))
            last_rejected = True
    state[r, 0], state[r, 1], state[r, 2], state[r, 5] = t, hs, err_old, j
    return OK, 0, 0, 0
