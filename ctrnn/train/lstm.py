"""The LSTM (Hochreiter & Schmidhuber 1997) with forget gate (Gers, Schmidhuber &
Cummins 2000), in the parameter layout of ``torch.nn.LSTM``, with a linear readout; its
forward pass and exact backpropagation through time run in ctrnn's Numba kernels
(``ctrnn._kernels.lstm``). It trains with ``ctrnn.train.fit`` like a rate network.

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_t + b_hi)      (input gate)
    f_t = sigmoid(W_if x_t + b_if + W_hf h_t + b_hf)      (forget gate)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_t + b_hg)         (cell input)
    o_t = sigmoid(W_io x_t + b_io + W_ho h_t + b_ho)      (output gate)
    c_{t+1} = f_t c_t + i_t g_t,   h_{t+1} = o_t tanh(c_{t+1}),   y_t = C h_{t+1} + c

The cell path is the "constant error carousel": dc_{t+1}/dc_t = diag(f_t), so with f
near 1 the gradient reaches far back, where a rate network's shrinks like
||J||^lag (Pascanu et al. 2013).
"""
from __future__ import annotations

import numbers
import re

import numpy as np
import xarray as xr

from .. import _seeding
from .._kernels import lstm as _k
from ._bptt import _blas_threads
from .._validation import (as_float_array, check_bytes, nonnegative_int, positive_int,
                           scalar)

__all__ = ["LSTM"]

_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
_READOUT = ("readout.weight", "readout.bias")
_DTYPES = {"float64": np.float64, "float32": np.float32}


def _dtype(dtype):
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in _DTYPES:
        raise ValueError(f"dtype={dtype!r}: give 'float64' or 'float32'")
    return np.dtype(_DTYPES[key])


class LSTM:
    """A single-layer LSTM with a linear readout, parameters named and shaped as in
    ``torch.nn.LSTM`` (gate order i, f, g, o) and ``torch.nn.Linear``.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Sizes of the input x, the state h (and cell c), and the output y.
    seed : int or numpy Generator, optional
        Initial weights: every entry uniform on (-1/sqrt(n_hidden), 1/sqrt(n_hidden)),
        as PyTorch initialises nn.LSTM and nn.Linear.
    forget_bias : float, optional
        Set the forget gate's bias (bias_ih + bias_hh, PyTorch keeps two) to this value,
        e.g. 1.0 (Gers et al. 2000; Jozefowicz et al. 2015): bias_ih_f = forget_bias,
        bias_hh_f = 0.
    dtype : {"float64", "float32"}
        Precision of the forward and backward passes.

    Attributes
    ----------
    weight_ih_l0 : ndarray, shape (4 n_hidden, n_inputs)
    weight_hh_l0 : ndarray, shape (4 n_hidden, n_hidden)
    bias_ih_l0, bias_hh_l0 : ndarray, shape (4 n_hidden,)
    C : ndarray, shape (n_outputs, n_hidden)
        Readout weights (``readout.weight`` in the state dict).
    c : ndarray, shape (n_outputs,)
        Readout bias (``readout.bias``), as in ``Readout``; the cell state is the ``c``
        variable of the Dataset that ``run`` returns.

    Raises
    ------
    TypeError
        If a size is not an integer.
    ValueError
        If a size is < 1 (n_inputs < 0), dtype is not float64 or float32, or
        forget_bias is not a finite number.

    Notes
    -----
    Training runs the forward pass and its exact adjoint in ``ctrnn._kernels.lstm``: one
    product h_t W_hh^T per step (BLAS) with the gates in one vectorised sweep, and the
    weight gradients as single products over all steps at the end.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> lstm = ctrnn.train.LSTM(2, 8, 1, seed=0, forget_bias=1.0)
    >>> lstm.state_dict()["weight_hh_l0"].shape
    (32, 8)
    >>> ds = lstm.run(np.zeros((3, 5, 2)))
    >>> dict(ds.sizes)
    {'trial': 3, 'time': 5, 'hidden': 8, 'output': 1}
    """

    def __init__(self, n_inputs, n_hidden, n_outputs, *, seed=None, forget_bias=None,
                 dtype="float64"):
        n_in = nonnegative_int("n_inputs", n_inputs)
        H = positive_int("n_hidden", n_hidden)
        n_out = positive_int("n_outputs", n_outputs)
        rng = _seeding.generator(seed)
        k = 1.0 / np.sqrt(H)
        p = {"weight_ih_l0": rng.uniform(-k, k, (4 * H, n_in)),
             "weight_hh_l0": rng.uniform(-k, k, (4 * H, H)),
             "bias_ih_l0": rng.uniform(-k, k, 4 * H),
             "bias_hh_l0": rng.uniform(-k, k, 4 * H),
             "readout.weight": rng.uniform(-k, k, (n_out, H)),
             "readout.bias": rng.uniform(-k, k, n_out)}
        self._set(p, _dtype(dtype))
        if forget_bias is not None:
            fb = scalar(forget_bias)
            if isinstance(fb, (bool, str)) or not isinstance(fb, numbers.Real) \
                    or not np.isfinite(fb):
                raise ValueError(f"forget_bias={forget_bias!r} must be a finite number")
            self._p["bias_ih_l0"][H:2 * H] = fb
            self._p["bias_hh_l0"][H:2 * H] = 0.0

    def _set(self, p, dtype):
        self.dtype = dtype
        self._p = {k: np.array(v, dtype=np.float64) for k, v in p.items()}

    @classmethod
    def from_state_dict(cls, state, *, n_outputs=None, seed=None, dtype="float64"):
        """An LSTM from a mapping of arrays in ``torch.nn.LSTM``'s layout.

        Parameters
        ----------
        state : mapping of str to array_like
            ``weight_ih_l0`` (4H, n_inputs), ``weight_hh_l0`` (4H, H), ``bias_ih_l0`` and
            ``bias_hh_l0`` (4H,), optionally under a common prefix such as ``lstm.``
            (a module holding an nn.LSTM); the readout, when present, as a key ending in
            ``readout.weight`` (n_outputs, H) and one ending in ``readout.bias``
            (n_outputs,; zeros when absent, as for nn.Linear(bias=False)). Other keys
            are refused. Arrays, or anything with ``__array__`` (a torch state_dict()'s
            tensors; parameters that require grad: ``.detach()`` them first).
        n_outputs : int, optional
            Without a readout in ``state``: the size of a new one drawn from ``seed``.
        seed : int or Generator, optional
            For that new readout.
        dtype : {"float64", "float32"}

        Returns
        -------
        LSTM

        Raises
        ------
        ValueError
            If a name is missing (the names found are listed), the dict is of a deeper,
            bidirectional or projected nn.LSTM, a shape does not fit, an entry is not
            finite, or there is no readout and no n_outputs.

        Examples
        --------
        >>> import ctrnn
        >>> a = ctrnn.train.LSTM(3, 4, 2, seed=0)
        >>> b = ctrnn.train.LSTM.from_state_dict(a.state_dict())
        >>> bool((b.weight_hh_l0 == a.weight_hh_l0).all())
        True
        """
        keys = list(state)
        prefix = ""
        for k in keys:
            if k.endswith("weight_ih_l0"):
                prefix = k[: -len("weight_ih_l0")]
                break
        other = [k for k in keys if k.startswith(prefix) and re.search(
            r"_l[1-9]\d*(_reverse)?$|_reverse$|weight_hr_", k[len(prefix):])]
        if other:
            raise ValueError(f"the state dict holds {other}: ctrnn's LSTM has one layer, "
                             "one direction and no projection (nn.LSTM with num_layers=1, "
                             "bidirectional=False, proj_size=0)")
        missing = [prefix + n for n in _NAMES if prefix + n not in state]
        if missing:
            raise ValueError(f"the state dict lacks {missing}; it holds {keys}. An "
                             "nn.LSTM's state_dict() (one layer, batch_first or not) has "
                             "weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0")
        Wih = as_float_array(prefix + "weight_ih_l0", np.asarray(state[prefix + "weight_ih_l0"]),
                             ndim=2)
        H4, n_in = Wih.shape
        if H4 % 4:
            raise ValueError(f"weight_ih_l0 has {H4} rows: an LSTM has 4 gates, 4 x hidden "
                             "rows")
        H = H4 // 4
        p = {"weight_ih_l0": Wih}
        for n, shape in (("weight_hh_l0", (H4, H)), ("bias_ih_l0", (H4,)),
                         ("bias_hh_l0", (H4,))):
            p[n] = as_float_array(prefix + n, np.asarray(state[prefix + n]), shape=shape)
        known = {prefix + n for n in _NAMES}
        rw = [k for k in keys if k == "readout.weight" or k.endswith(".readout.weight")]
        rb = [k for k in keys if k == "readout.bias" or k.endswith(".readout.bias")]
        unknown = sorted(set(keys) - known - set(rw) - set(rb))
        if unknown or len(rw) > 1 or len(rb) > 1 or (rb and not rw):
            raise ValueError(f"the state dict holds {unknown or rw + rb}, which ctrnn's "
                             "LSTM does not know: it takes the four nn.LSTM arrays (under "
                             "one prefix) and a linear readout as readout.weight and "
                             "readout.bias (optional). Rename the readout's keys, or leave "
                             "the others out")
        if rw:
            Cw = as_float_array(rw[0], np.asarray(state[rw[0]]), ndim=2)
            if Cw.shape[1] != H:
                raise ValueError(f"readout.weight has shape {Cw.shape}: it must read the "
                                 f"{H} hidden units, (n_outputs, {H})")
            if n_outputs is not None and n_outputs != Cw.shape[0]:
                raise ValueError(f"n_outputs={n_outputs} but the state dict's readout has "
                                 f"{Cw.shape[0]} outputs: leave n_outputs out")
            p["readout.weight"] = Cw
            p["readout.bias"] = np.zeros(Cw.shape[0]) if not rb else as_float_array(
                rb[0], np.asarray(state[rb[0]]), shape=(Cw.shape[0],))
        else:
            if n_outputs is None:
                raise ValueError("the state dict holds no readout.weight: give n_outputs= "
                                 "(and seed=) for a new readout, or add the trained one "
                                 "under readout.weight and readout.bias")
            n_out = positive_int("n_outputs", n_outputs)
            fresh = cls(n_in, H, n_out, seed=seed)
            p["readout.weight"], p["readout.bias"] = fresh.C, fresh.c
        obj = cls.__new__(cls)
        obj._set(p, _dtype(dtype))
        return obj

    def state_dict(self):
        """The parameters as plain float64 arrays under ``torch.nn.LSTM``'s names, plus
        ``readout.weight`` and ``readout.bias`` (``torch.nn.Linear``'s, as in a module
        with attributes ``lstm`` and ``readout``, less the ``lstm.`` prefix).

        Returns
        -------
        dict of str to ndarray
            Copies: changing them leaves the LSTM unchanged.

        Examples
        --------
        >>> import ctrnn
        >>> sorted(ctrnn.train.LSTM(1, 2, 1, seed=0).state_dict())
        ['bias_hh_l0', 'bias_ih_l0', 'readout.bias', 'readout.weight', 'weight_hh_l0', 'weight_ih_l0']
        """
        return {k: v.copy() for k, v in self._p.items()}

    # read-only views of the parameters
    weight_ih_l0 = property(lambda self: self._view("weight_ih_l0"))
    weight_hh_l0 = property(lambda self: self._view("weight_hh_l0"))
    bias_ih_l0 = property(lambda self: self._view("bias_ih_l0"))
    bias_hh_l0 = property(lambda self: self._view("bias_hh_l0"))
    C = property(lambda self: self._view("readout.weight"))
    c = property(lambda self: self._view("readout.bias"))

    def _view(self, name):
        v = self._p[name].view()
        v.flags.writeable = False
        return v

    @property
    def n_inputs(self):
        return self._p["weight_ih_l0"].shape[1]

    @property
    def n_hidden(self):
        return self._p["weight_hh_l0"].shape[1]

    @property
    def n_outputs(self):
        return self._p["readout.weight"].shape[0]

    def __eq__(self, other):
        """Equal when of the same precision with the same parameters (by value)."""
        if not isinstance(other, LSTM):
            return NotImplemented
        return self.dtype == other.dtype and self._p.keys() == other._p.keys() and all(
            np.array_equal(v, other._p[k]) for k, v in self._p.items())

    __hash__ = None  # mutable arrays inside, compared by value

    def __repr__(self):
        return (f"LSTM(n_inputs={self.n_inputs}, n_hidden={self.n_hidden}, "
                f"n_outputs={self.n_outputs}, dtype={self.dtype.name!r})")

    def run(self, inputs, *, h0=None, c0=None):
        """Run the LSTM on a batch of input sequences (open loop).

        Parameters
        ----------
        inputs : array_like, shape (trial, time, n_inputs) or (time, n_inputs), or a task
            Dataset (its ``inputs`` variable).
        h0, c0 : array_like, shape (n_hidden,) or (trial, n_hidden), optional
            Initial hidden and cell states (default zeros).

        Returns
        -------
        xarray.Dataset
            h, c (trial, time, hidden) after each step and y (trial, time, output),
            y_t = C h_{t+1} + c; a 2-d input gives no trial dimension.

        Raises
        ------
        ValueError
            If the inputs do not have n_inputs channels or hold NaN or inf, or h0/c0 do
            not fit.
        FloatingPointError
            If the state leaves the finite range (weights that are not finite).
        MemoryError
            Before any work, if the states would not fit in memory (with how to run it
            in pieces).

        Examples
        --------
        See ``LSTM``.
        """
        xs, single = _as_inputs(inputs, self.n_inputs, "an LSTM")
        B = xs.shape[0]
        H0 = _state("h0", h0, B, self.n_hidden)
        C0 = _state("c0", c0, B, self.n_hidden)
        f = forward(self._p, xs, H0, C0, self.dtype)
        if f.bad >= 0:
            raise FloatingPointError(f"the LSTM's state left the finite range at step "
                                     f"{f.bad}: its weights or inputs are not finite")
        Hb = f.Hs[1:].transpose(1, 0, 2)
        Cb = f.Cs[1:].transpose(1, 0, 2)
        ds = xr.Dataset({"h": (("trial", "time", "hidden"), Hb),
                         "c": (("trial", "time", "hidden"), Cb),
                         "y": (("trial", "time", "output"), f.y)},
                        coords={"time": ("time", np.arange(xs.shape[1]),
                                         {"units": "steps"})},
                        attrs={"model": "LSTM", "dtype": self.dtype.name})
        return ds.isel(trial=0) if single else ds


def _as_inputs(inputs, n_in, model="model"):
    if isinstance(inputs, xr.Dataset):
        if "inputs" not in inputs:
            raise ValueError("a Dataset given as inputs needs an 'inputs' variable "
                             "(trial, time, input)")
        inputs = inputs["inputs"].transpose("trial", "time", "input").values
    elif isinstance(inputs, xr.DataArray):
        dims = [d for d in ("trial", "time", "input") if d in inputs.dims]
        if set(inputs.dims) == set(dims):  # named as a task's: put them in that order
            inputs = inputs.transpose(*dims)
        inputs = inputs.values
    xs = as_float_array("inputs", inputs)
    single = xs.ndim == 2
    if single:
        xs = xs[None]
    if xs.ndim != 3 or xs.shape[2] != n_in:
        raise ValueError(f"inputs has shape {np.shape(inputs)}: give (trial, time, {n_in}) "
                         f"or (time, {n_in}) for {model} of {n_in} inputs")
    if xs.shape[1] < 1:
        raise ValueError("inputs has no time steps")
    return np.ascontiguousarray(xs), single


def _state(name, v, B, H):
    if v is None:
        return np.zeros((B, H))
    a = as_float_array(name, v)
    if a.shape == (H,):
        a = np.broadcast_to(a, (B, H))
    if a.shape != (B, H):
        raise ValueError(f"{name} has shape {a.shape}: give ({H},) or ({B}, {H})")
    return np.ascontiguousarray(a)


class _Forward:
    __slots__ = ("Hs", "Cs", "TC", "G", "y", "X", "bad")


def forward(p, xs, H0, C0, dtype, *, n_fb=0, take=None):
    """The forward pass of parameters ``p`` (state-dict names, float64) on xs (B, T,
    n_in) from H0, C0 (B, H) in ``dtype``; the last ``n_fb`` input channels carry the
    previous output, replaced by it where ``take`` (B, T) is False. Returns the pass's
    time-major arrays (``_forward``), its outputs y and ``bad``."""
    dtype = np.dtype(dtype)
    if take is None or take.all():  # the truth everywhere: the inputs as given
        n_fb, take = 0, None
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    w = {k: cast(v) for k, v in p.items()}
    w["bias"] = cast(p["bias_ih_l0"] + p["bias_hh_l0"])
    w["WhhT"] = cast(p["weight_hh_l0"].T)
    return _forward(w, xs, H0, C0, dtype, n_fb, take)


def _forward(w, xs, H0, C0, dtype, n_fb, take):
    """Time-major Hs, Cs (T + 1, b, H), TC (T, b, H), G (T, b, 4H), X (T, b,
    n_in) the inputs received, y (b, T, n_out), bad."""
    B, T, n_in = xs.shape
    H = w["weight_hh_l0"].shape[1]
    check_bytes(dtype.itemsize * B * T * (11 * H + 2 * n_in),
                f"the LSTM's pass over {B} trials x {T} steps x {H} units (states, cells "
                "and gates kept for the backward pass)",
                "run fewer trials or shorter sequences at a time (the state carries over: "
                "run(..., h0=, c0=))")
    # (T, B, n_in), always a copy: the fed values are written into it
    X = np.array(xs.transpose(1, 0, 2), dtype=dtype, order="C")
    Wx = w["weight_ih_l0"]
    if n_fb:  # the fed columns' share is added in the kernel, from the value fed
        Wx = Wx.copy()
        Wx[:, n_in - n_fb:] = 0
    Xp = np.ascontiguousarray((X.reshape(T * B, n_in) @ Wx.T + w["bias"])
                              .reshape(T, B, 4 * H))
    f = _Forward()
    f.Hs = np.empty((T + 1, B, H), dtype)
    f.Cs = np.empty((T + 1, B, H), dtype)
    f.Hs[0], f.Cs[0] = H0, C0
    f.G = np.empty((T, B, 4 * H), dtype)
    f.TC = np.empty((T, B, H), dtype)
    if n_fb:
        cols = slice(n_in - n_fb, n_in)
        Wfb = np.ascontiguousarray(w["weight_ih_l0"][:, cols].T)
        truth = np.ascontiguousarray(X[:, :, cols])
        tk = np.ascontiguousarray(take.T)
        Xfb = np.empty_like(truth)
    else:
        Wfb = np.zeros((0, 4 * H), dtype)
        truth = Xfb = np.zeros((T, B, 0), dtype)
        tk = np.ones((T, B), bool)
    C, c = w["readout.weight"], w["readout.bias"]
    with _blas_threads(B, 2 * H):  # B x H x 4H a step: one thread (see ``_bptt``)
        f.bad = _k.forward(Xp, w["WhhT"], f.Hs, f.Cs, f.TC, f.G, Wfb, C, c, tk, truth, Xfb)
    if n_fb:
        X[:, :, cols] = Xfb
    f.X = X
    f.y = (f.Hs[1:] @ C.T + c).transpose(1, 0, 2)
    return f


def backward(p, f, ybar, dtype, *, norms=False, dh=None, dc=None):
    """Exact gradients of a loss with dL/dy = ybar (B, T, n_out) through the forward
    pass ``f`` (from ``forward``): a dict under the state-dict names plus h0, c0 (B, H), and
    ||dL/dh_t|| (B, T + 1) when ``norms``. ``dh``, ``dc`` (B, H): the gradient that
    reaches the last state from later steps (a sequence run in pieces, the state carried
    from one to the next); default none."""
    dtype = np.dtype(dtype)
    T1, B, H = f.Hs.shape
    T = T1 - 1
    C = np.ascontiguousarray(p["readout.weight"], dtype=dtype)
    Whh = np.ascontiguousarray(p["weight_hh_l0"], dtype=dtype)
    Yb = np.ascontiguousarray(ybar.transpose(1, 0, 2), dtype=dtype)  # (T, B, n_out)
    gb = np.zeros(4 * H)
    dh = np.zeros((B, H), dtype) if dh is None else np.array(dh, dtype=dtype)
    dc = np.zeros((B, H), dtype) if dc is None else np.array(dc, dtype=dtype)
    DG = np.empty((T, B, 4 * H), dtype)
    nrm = np.zeros((B, T + 1 if norms else 0), dtype)
    with _blas_threads(B, 2 * H):
        _k.backward(f.Hs, f.Cs, f.TC, f.G, Whh, Yb, C, dh, dc, DG, gb, nrm, dtype.type(1))
    # the weight gradients: one large product each, sum_t DG_t^T [x_t, h_t], on all of
    # BLAS's threads
    D2 = DG.reshape(T * B, 4 * H)
    g = {"weight_ih_l0": (D2.T @ f.X.reshape(T * B, -1)).astype(np.float64),
         "weight_hh_l0": (D2.T @ f.Hs[:T].reshape(T * B, H)).astype(np.float64),
         "bias_ih_l0": gb, "bias_hh_l0": gb.copy(),
         "readout.weight": (Yb.reshape(T * B, -1).T @ f.Hs[1:].reshape(T * B, H)
                            ).astype(np.float64),
         "readout.bias": Yb.sum(axis=(0, 1), dtype=np.float64),
         "h0": dh.astype(np.float64), "c0": dc.astype(np.float64)}
    return g, (nrm.astype(np.float64) if norms else None)
