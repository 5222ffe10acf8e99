"""RateNetwork: the parameters of tau dh/dt = -h + phi(W h + U x(t) + b) (+ noise)."""
from __future__ import annotations

import numpy as np

from ._validation import Immutable, as_float_array, check_finite, per_neuron, readonly
from .nonlinearities import Phi, get_phi
from .plasticity import STP


class RateNetwork(Immutable):
    """A rate network, validated once and immutable.

    tau dh_i/dt = -h_i + phi(sum_j W_ij h_j + sum_k U_ik x_k(t) + b_i) + noise_i * sqrt(2 tau_i) xi_i(t)

    Parameters
    ----------
    W : array_like or scipy.sparse matrix, shape (n_neurons, n_neurons)
        Recurrent weights; row i holds the inputs to neuron i (W_ij: from j to i). A
        sparse matrix is kept in CSR form and simulated with a sparse kernel.
    U : array_like, shape (n_neurons, n_inputs), optional
        Input weights. Without U the network takes no ``inputs``.
    b : float or array_like, shape (n_neurons,), optional
        Bias (default 0).
    tau : float or array_like, shape (n_neurons,)
        Time constants (> 0), in the time unit of the run (seconds if you use seconds);
        one value per neuron for heterogeneous timescales.
    phi : str, Phi or numba function
        Nonlinearity: "tanh" (default), "relu", "sigmoid"/"logistic", "softplus",
        "linear"/"identity", or a scalar function compiled with ``@numba.njit``.
    noise : float or array_like, shape (n_neurons,)
        sigma >= 0 of additive white noise, scaled so that sigma is the stationary
        standard deviation of h for W = 0 and phi = linear (an Ornstein-Uhlenbeck
        process). Per Euler step this adds sigma * sqrt(2 dt / tau) * N(0, 1), the
        convention of Song, Yang & Wang (2016) and PsychRNN.
    stp : STP, optional
        Short-term plasticity of the recurrent synapses (Tsodyks-Markram facilitation u
        and depression x per presynaptic neuron); see ``ctrnn.plasticity``.
    dale : array_like, shape (n_neurons,), optional
        Dale's law: the sign of each presynaptic neuron, as +1/-1 or "E"/"I". Every
        column of W must have that sign (zeros allowed); the error names the columns
        that break it. The labels become the ``population`` coordinate of results.
    enforce_dale : bool
        Instead of checking, impose the signs: W <- |W| diag(signs) (Song, Yang & Wang
        2016; ``ctrnn.connectivity.enforce_dale``).

    Raises
    ------
    TypeError
        If W, U, b, tau or noise is not a real numeric array, phi is not a name or a
        ``@numba.njit`` function, or stp is not an STP.
    ValueError
        If W is not 2-D and square with n_neurons >= 1; U, b, tau, noise, dale or a
        per-neuron STP parameter has the wrong shape; an array holds NaN or inf; tau <= 0
        or noise < 0; phi is an unknown name; dale holds values other than +1/-1 or
        "E"/"I"; W breaks Dale's law (the columns are named); or enforce_dale=True
        without dale.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W = ctrnn.connectivity.gaussian(100, g=1.5, seed=0)
    >>> net = ctrnn.RateNetwork(W, tau=0.01, phi="tanh")
    >>> net.n_neurons, net.n_inputs
    (100, 0)
    """

    __slots__ = ("_W", "_U", "_b", "_tau", "_phi", "_noise", "_stp", "_dale", "__weakref__")

    def __init__(self, W, U=None, b=None, tau=1.0, phi="tanh", noise=0.0, stp=None,
                 dale=None, enforce_dale=False):
        W = _as_sparse(W) if _issparse(W) else as_float_array("W", W, ndim=2)
        if W.shape[0] != W.shape[1] or W.shape[0] == 0:
            raise ValueError(f"W must be square (n_neurons, n_neurons) with n_neurons >= 1; "
                             f"got shape {W.shape}")
        if enforce_dale:
            if dale is None:
                raise ValueError("enforce_dale=True needs dale= (one sign or E/I per neuron)")
            if _issparse(W):  # W is _as_sparse's own copy, with its int64 index arrays
                W.data = np.abs(W.data) * _signs(dale, W.shape[0])[W.indices]
            else:
                W = np.abs(W) * _signs(dale, W.shape[0])[None, :]
        n = W.shape[0]
        if U is None:
            U = np.zeros((n, 0))
        else:
            U = as_float_array("U", U)
            if U.ndim == 1 and U.shape == (n,):
                U = U[:, None]
            if U.ndim != 2 or U.shape[0] != n:
                raise ValueError(f"U must have shape ({n}, n_inputs) (row i = input weights "
                                 f"of neuron i); got shape {U.shape}")
        b = per_neuron("b", 0.0 if b is None else b, n)
        tau_arr = per_neuron("tau", tau, n, positive=True)
        noise_arr = per_neuron("noise", noise, n, nonnegative=True)
        # stored writable and private (Numba types read-only arrays differently and its
        # BLAS calls then copy W on every product); the properties hand out read-only views
        for name, arr in (("_W", W), ("_U", U), ("_b", b)):
            object.__setattr__(self, name, arr if _issparse(arr) else np.ascontiguousarray(arr))
        # scalars stay scalars (they go into the Dataset's attrs)
        object.__setattr__(self, "_tau", float(tau_arr[0]) if np.ndim(tau) == 0
                           else readonly(tau_arr))
        object.__setattr__(self, "_noise", float(noise_arr[0]) if np.ndim(noise) == 0
                           else readonly(noise_arr))
        object.__setattr__(self, "_phi", get_phi(phi))
        if stp is not None:
            if not isinstance(stp, STP):
                raise TypeError(f"stp must be a ctrnn.STP; got {type(stp).__name__}")
            stp.arrays(n)  # checks per-neuron lengths against n
        object.__setattr__(self, "_stp", stp)
        object.__setattr__(self, "_dale", None if dale is None else _check_dale(W, dale))

    _IMMUTABLE_HINT = "use net.replace(...) for a changed copy"

    @property
    def W(self):
        """Recurrent weights, shape (n_neurons, n_neurons): a read-only array, or a CSR
        matrix over read-only arrays."""
        if self.is_sparse:
            from scipy.sparse import csr_matrix
            return csr_matrix((readonly(self._W.data.view()), self._W.indices,
                               self._W.indptr), shape=self._W.shape, copy=False)
        return readonly(self._W.view())

    @property
    def is_sparse(self):
        return _issparse(self._W)

    @property
    def dale(self):
        """Signs (+1/-1) of the presynaptic neurons under Dale's law, or None."""
        return self._dale

    @property
    def population_labels(self):
        """"E"/"I" per neuron when Dale's law is set, else None."""
        return None if self._dale is None else np.where(self._dale > 0, "E", "I")
    U = property(lambda self: readonly(self._U.view()),
                 doc="Input weights, shape (n_neurons, n_inputs).")
    b = property(lambda self: readonly(self._b.view()), doc="Bias, shape (n_neurons,).")
    tau = property(lambda self: self._tau, doc="Time constant(s): float or (n_neurons,).")
    noise = property(lambda self: self._noise, doc="Noise sigma: float or (n_neurons,).")
    phi: Phi = property(lambda self: self._phi, doc="The nonlinearity (a Phi).")
    stp = property(lambda self: self._stp, doc="Short-term plasticity (an STP) or None.")

    @property
    def n_neurons(self):
        return self._W.shape[0]

    @property
    def n_inputs(self):
        return self._U.shape[1]

    @property
    def tau_array(self):
        """tau as an (n_neurons,) array."""
        return np.broadcast_to(self._tau, (self.n_neurons,))

    @property
    def noise_array(self):
        """noise as an (n_neurons,) array."""
        return np.broadcast_to(self._noise, (self.n_neurons,))

    @property
    def has_noise(self):
        """Whether any neuron has noise > 0."""
        # a scalar noise read as it is: simulate asks twice a call, np.any took 6 us each
        noise = self._noise
        return noise > 0 if isinstance(noise, float) else bool(np.any(noise > 0))

    def replace(self, **changes):
        """A copy with some parameters changed, validated again.

        Parameters
        ----------
        **changes
            Any of W, U, b, tau, phi, noise, stp, dale, enforce_dale.

        Returns
        -------
        RateNetwork
            A new network; this one is unchanged.

        Raises
        ------
        TypeError
            If a name is not a parameter of RateNetwork, or as ``RateNetwork`` for the
            new values.
        ValueError
            As ``RateNetwork``, for the new values.

        Examples
        --------
        >>> import ctrnn
        >>> net = ctrnn.RateNetwork([[0.5]], tau=2.0)
        >>> net.replace(tau=1.0).tau
        1.0
        """
        params = dict(W=self._W, U=self._U if self.n_inputs else None, b=self._b,
                      tau=self._tau, phi=self._phi, noise=self._noise, stp=self._stp,
                      dale=self._dale)
        params["enforce_dale"] = False
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"replace() got unknown parameter(s) {sorted(unknown)}; "
                            f"known: {sorted(params)}")
        params.update(changes)
        return RateNetwork(**params)

    def field(self, h, x=None):
        """dh/dt at state h (n_neurons,) and input x (n_inputs,), noise left out.

        Parameters
        ----------
        h : array_like, shape (n_neurons,)
        x : array_like, shape (n_inputs,), optional
            Input; default none (no input term).

        Returns
        -------
        ndarray, shape (n_neurons,)
            (-h + phi(W h + U x + b)) / tau, float64, in 1/time (the unit of tau).

        Raises
        ------
        NotImplementedError
            If the network has STP (its state is (h, u, x): use ``simulate``).
        TypeError
            If h or x is not a real numeric array.
        ValueError
            If h or x has the wrong shape or holds NaN or inf.

        Examples
        --------
        >>> import ctrnn
        >>> ctrnn.RateNetwork([[0.0]], tau=2.0, phi="linear").field([1.0])
        array([-0.5])
        """
        if self._stp is not None:
            raise NotImplementedError("field() covers networks without STP; with STP the "
                                      "state is (h, u, x): use simulate()")
        h = as_float_array("h", h, shape=(self.n_neurons,))
        z = self._W @ h + self._b
        if x is not None:
            z = z + self._U @ as_float_array("x", x, shape=(self.n_inputs,))
        return (-h + self._phi(z)) / self.tau_array

    def __repr__(self):
        tau = self._tau if np.ndim(self._tau) == 0 else f"array({self.n_neurons})"
        noise = self._noise if np.ndim(self._noise) == 0 else f"array({self.n_neurons})"
        stp = "" if self._stp is None else f", stp={self._stp!r}"
        sparse = f", sparse W with {self._W.nnz} synapses" if self.is_sparse else ""
        return (f"RateNetwork(n_neurons={self.n_neurons}, n_inputs={self.n_inputs}, "
                f"tau={tau}, phi={self._phi.name!r}, noise={noise}{stp}{sparse})")


def _issparse(W):
    try:
        from scipy.sparse import issparse
    except ImportError:  # pragma: no cover
        return False
    return issparse(W)


def _as_sparse(W):
    """A validated, canonical float64 CSR copy of a scipy.sparse matrix."""
    W = W.tocsr().astype(np.float64, copy=True)
    W.sum_duplicates()
    W.eliminate_zeros()  # stored zeros cost time and make the sums depend on them
    W.sort_indices()
    # int64 row pointers (no overflow past 2**31 synapses); the kernels get uint32 column
    # indices (see ctrnn/_kernels/rhs.py), so n_neurons must stay below 2**32
    W.indices = W.indices.astype(np.int64)
    W.indptr = W.indptr.astype(np.int64)
    check_finite("W (sparse data)", W.data)
    return W


def _signs(dale, n):
    """+1/-1 (int8) per neuron from signs or "E"/"I" labels."""
    d = np.asarray(dale)
    if d.shape != (n,):
        raise ValueError(f"dale must give one sign per neuron, shape ({n},); got {d.shape}")
    if d.dtype.kind in "US":
        bad = ~np.isin(d, ["E", "I"])
        if bad.any():
            raise ValueError(f"dale labels must be 'E' or 'I'; got {d[bad][0]!r}")
        return np.where(d == "E", 1, -1).astype(np.int8)
    if not np.all(np.isin(d, [1, -1])):
        raise ValueError("dale signs must be +1 (excitatory) or -1 (inhibitory)")
    return d.astype(np.int8)


def _check_dale(W, dale):
    """Signs (+1/-1, int8) from signs or "E"/"I" labels; raise naming the columns of W
    that break Dale's law."""
    signs = _signs(dale, W.shape[0])
    if _issparse(W):
        coo = W.tocoo()
        wrong = coo.data * signs[coo.col] < 0
        cols = np.unique(coo.col[wrong])
    else:
        cols = np.flatnonzero(np.any(W * signs[None, :] < 0, axis=0))
    if cols.size:
        shown = ", ".join(str(c) for c in cols[:10]) + (" ..." if cols.size > 10 else "")
        raise ValueError(
            f"W breaks Dale's law in {cols.size} column(s) (presynaptic neurons {shown}): "
            "an excitatory column has a negative or an inhibitory column a positive entry; "
            "ctrnn.connectivity.enforce_dale(W, signs) gives |W| with the column signs")
    return readonly(signs)
