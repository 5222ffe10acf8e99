"""Echo state networks: a fixed random rate network driven by input, a trained linear
readout. The reservoir update

    x[t+1] = (1 - a) x[t] + a phi(W x[t] + U u[t] + b),   a = leak

is ctrnn's forward Euler with dt/tau = a, and it runs on the same engine and kernels
as ``ctrnn.simulate(..., method="euler")``. Alignment: the state after input u[t] is
x[t+1]; the readout of that state predicts y[t]:

    y[t] = W_out [1; x[t+1]; u[t]]   (bias and input terms optional)

(ReservoirPy feeds u[t+1] to compute x[t+1]; its y[t] uses the same state-after-input.)
Closed-loop generation feeds the output back as the next input; with a readout
y = c + C x it is the network W + U C, b + U c, so it runs on the same kernels too.

The reservoir keeps its state between calls, as ReservoirPy's nodes do: ``fit``,
``states``, ``predict`` and ``generate`` continue from ``esn.state`` (zeros at first)
unless given ``h0`` or ``reset=True``. So test data that follows the training data is
predicted without a new transient.
"""
from __future__ import annotations

import copy

import numpy as np
import scipy.linalg
import scipy.linalg.blas
import scipy.sparse
import xarray as xr

from . import _engine, connectivity
from ._seeding import generator
from ._validation import (_same, as_float_array, check_bytes, nonnegative_int, nonzero,
                          positive_int)
from .integrators import get_method
from .network import RateNetwork

_EULER = get_method("euler")  # the reservoir update x <- (1 - a) x + a phi(...)
_BLOCK = 20_000  # steps per block when accumulating X^T X (bounded memory)
_SPARSE_BELOW = 0.1  # a W this sparse runs on the CSR kernel (faster there than dense)


class EchoStateNetwork:
    """An echo state network (Jaeger 2001) on ctrnn's kernels.

    Parameters
    ----------
    n : int, optional
        Reservoir size (needed unless W is given).
    spectral_radius : float
        The random W is scaled to this spectral radius (ignored when W is given).
    leak : float
        Leak rate a in (0, 1]: x <- (1 - a) x + a phi(...).
    input_scaling : float
        U_ij ~ U[-input_scaling, input_scaling] (ignored when U is given).
    density : float
        Fraction of nonzero recurrent weights of the random W. At density <= 0.1 W is
        kept sparse (CSR; the sparse product is then faster than the dense one), as
        ReservoirPy does.
    bias_scaling : float
        b_i ~ U[-bias_scaling, bias_scaling].
    n_inputs : int
        Input dimension of the random U (default: taken from the first ``fit``).
    phi : str or numba function
    W, U, b : array_like, optional
        Your own reservoir (then n, spectral_radius, input_scaling, ... are not used);
        W may be a scipy.sparse matrix. A dense W with at most 10% nonzeros runs on the
        CSR kernel as well.
    readout_bias, readout_input : bool
        Include a constant and the input u[t] in the readout.
    seed : int or Generator

    Raises
    ------
    TypeError
        If n (without W) or n_inputs is not an integer, W, U or b is not numeric, phi is
        not a name or a ``@numba.njit`` function, or seed is of an unsupported type.
    ValueError
        If leak is not in (0, 1], n or n_inputs < 1, density <= 0 or
        spectral_radius < 0, W is not square or holds NaN or inf, U or b has the wrong
        shape, or phi is an unknown name.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> u = ctrnn.tasks.oscillators(1200, frequencies=(0.2,))
    >>> esn = ctrnn.esn.EchoStateNetwork(100, spectral_radius=0.9, leak=0.5, seed=0)
    >>> esn = esn.fit(u[:-1], u[1:], washout=100, ridge=1e-8)     # one step ahead
    >>> y = esn.predict(u[:-1], reset=True)
    >>> y.dims, ctrnn.tasks.nrmse(u[101:], y.values[100:]) < 1e-3
    (('time', 'output'), True)
    """

    def __init__(self, n=None, *, spectral_radius=0.9, leak=1.0, input_scaling=1.0,
                 density=0.1, bias_scaling=0.0, n_inputs=None, phi="tanh", W=None, U=None,
                 b=None, readout_bias=True, readout_input=False, seed=None):
        leak = float(leak)
        if not 0 < leak <= 1:
            raise ValueError(f"leak must be in (0, 1]; got {leak}")
        rng = generator(seed)
        if W is None:
            n = positive_int("n", n)
            W0 = connectivity.sparse(n, density, 1.0, seed=rng) if density < 1 \
                else connectivity.gaussian(n, 1.0, seed=rng)
            if density > _SPARSE_BELOW and scipy.sparse.issparse(W0):
                W0 = W0.toarray()
            W = connectivity.scale_spectral_radius(W0, spectral_radius)
        # validated once, by RateNetwork; sparse stays sparse (CSR)
        W = RateNetwork(W, tau=1.0).W
        W = W.copy() if scipy.sparse.issparse(W) else np.array(W)
        self.n = W.shape[0]
        self.leak = leak
        self.W = W
        self._U, self._b = U, b
        self._input_scaling, self._bias_scaling = float(input_scaling), float(bias_scaling)
        self._rng = rng
        self.phi = phi
        self.readout_bias, self.readout_input = bool(readout_bias), bool(readout_input)
        self.W_out = None  # (n_features, n_outputs) after fit
        self.state = np.zeros(self.n)  # x after the last input seen
        if U is not None or n_inputs is not None:
            self._build(None if U is not None else positive_int("n_inputs", n_inputs))

    # --- identity and copies -----------------------------------------------------------
    def _identity(self):
        return (self.n, self.leak, self.W, self._U, self._b, str(self.phi),
                self.readout_bias, self.readout_input, self.W_out, self.state)

    def __eq__(self, other):
        """Equal when reservoir, readout, settings and state are equal (so both give the
        same outputs from here on)."""
        if not isinstance(other, EchoStateNetwork):
            return NotImplemented
        return all(_same(a, b) for a, b in zip(self._identity(), other._identity()))

    __hash__ = None  # fit and predict change it

    def __copy__(self):
        """A shallow copy with its own state and random generator (an unbuilt copy
        draws the same U as the original would, without moving the original's
        generator)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._rng = copy.deepcopy(self._rng)
        new.state = self.state.copy()
        return new

    # --- the reservoir as a RateNetwork --------------------------------------------
    def _build(self, n_in):
        if self._U is None:
            self._U = self._rng.uniform(-self._input_scaling, self._input_scaling,
                                        (self.n, n_in))
        if self._b is None:
            self._b = self._rng.uniform(-self._bias_scaling, self._bias_scaling, self.n)
        W = self.W
        if not scipy.sparse.issparse(W) and np.count_nonzero(W) <= _SPARSE_BELOW * W.size:
            W = scipy.sparse.csr_matrix(W)  # the same reservoir on the faster kernel
        self.net = RateNetwork(W, U=self._U, b=self._b, tau=1.0, phi=self.phi)
        return self.net

    @property
    def W_dense(self):
        """W as a dense array (a copy when W is sparse)."""
        return self.W.toarray() if scipy.sparse.issparse(self.W) else self.W

    @property
    def n_inputs(self):
        return self.net.n_inputs if hasattr(self, "net") else None

    def _inputs(self, u):
        u = _as_2d("u", u)
        if not hasattr(self, "net"):
            self._build(u.shape[1])
        if u.shape[1] != self.n_inputs:
            raise ValueError(f"u has {u.shape[1]} input column(s), the reservoir takes "
                             f"{self.n_inputs}")
        return u

    def _start(self, h0, reset):
        if h0 is not None:
            return as_float_array("h0", h0, shape=(self.n,))
        return np.zeros(self.n) if reset else self.state

    def _run(self, u, h0):
        """States after each input: array (T, n) with row t = x[t+1]; and the last state
        (also kept in ``self.state``). The kernel of simulate(method="euler")."""
        check_bytes(u.shape[0] * self.n * 8, f"the reservoir states ({u.shape[0]} steps x "
                    f"{self.n} neurons x 8 bytes)", "drive the reservoir in shorter pieces "
                    "(predict continues from the state where the last call ended)")
        X = np.empty((1, u.shape[0] + 1, self.n))  # row 0: the start, not returned
        H = np.array(h0, dtype=np.float64).reshape(1, -1)
        _engine.states(self.net, X, H, u[None], self.leak, _EULER)
        self.state = H[0].copy()
        return X[0, 1:], H[0]

    def _extra(self, u):
        """The readout's features besides the states: [1 | u] columns as chosen."""
        cols = ([np.ones((len(u), 1))] if self.readout_bias else []) + \
            ([u] if self.readout_input else [])
        return np.concatenate(cols, axis=1) if cols else np.zeros((len(u), 0))

    def _split(self, W):
        """Rows of a (n_features, k) matrix for the (bias, states, inputs) features."""
        i = int(self.readout_bias)
        return W[:i], W[i:i + self.n], W[i + self.n:]

    def _normal_equations(self, X, u, Y):
        """(F^T F, F^T Y) for F = [1 | X | u], without forming F: X^T X by one BLAS
        symmetric rank-k update (the dominant cost), the rest from the few extra
        columns E = [1 | u]."""
        E = self._extra(u)
        ib, n = int(self.readout_bias), self.n
        x = slice(ib, ib + n)  # the states' rows and columns in F^T F
        e = np.r_[0:ib, ib + n:ib + n + E.shape[1] - ib]  # those of E
        XtX = scipy.linalg.blas.dsyrk(1.0, X.T, trans=0)  # upper triangle of X^T X
        G = np.empty((n + E.shape[1],) * 2)
        G[x, x] = XtX + np.triu(XtX, 1).T
        XtE = X.T @ E
        G[x, e] = XtE
        G[e, x] = XtE.T
        G[np.ix_(e, e)] = E.T @ E
        R = np.empty((len(G), Y.shape[1]))
        R[x] = X.T @ Y
        R[e] = E.T @ Y
        return G, R

    def _readout(self, X, u):
        """F W_out for F = [1 | X | u], without forming F."""
        wb, wx, wu = self._split(self.W_out)
        Y = X @ wx
        if self.readout_bias:
            Y += wb[0]
        if self.readout_input:
            Y += u @ wu
        return Y

    # --- public API ------------------------------------------------------------------
    def states(self, u, h0=None, reset=False):
        """Reservoir states after each input: DataArray (time, neuron), row t = x[t+1].

        Parameters
        ----------
        u : array_like, shape (T, n_inputs) or (T,)
        h0 : array_like, shape (n,), optional
            Initial state; default the current state (zeros with ``reset``).
        reset : bool
            Start from zeros.

        Returns
        -------
        xarray.DataArray, dims (time, neuron), shape (T, n)
            Dimensionless states; ``time`` counts steps 0 .. T-1.

        Raises
        ------
        TypeError
            If u or h0 is not numeric.
        ValueError
            If u is not (time, channels), has another number of columns than the
            reservoir's inputs, or h0 does not have shape (n,); or either holds NaN or inf.
        """
        u = self._inputs(u)
        X, _ = self._run(u, self._start(h0, reset))
        return xr.DataArray(X, dims=("time", "neuron"),
                            coords={"time": np.arange(len(X)), "neuron": np.arange(self.n)},
                            name="state")

    def fit(self, u, y, *, washout=0, ridge=1e-6, h0=None, reset=True):
        """Train the readout by ridge regression, W_out = (X^T X + ridge I)^-1 X^T Y.

        X^T X and X^T Y are accumulated block by block (and over sequences), so long or
        many sequences never hold all states in memory.

        Parameters
        ----------
        u : array_like (T, n_inputs), or a list of such arrays (several sequences)
        y : array_like (T, n_outputs), or a list matching u
        washout : int
            Initial steps of each sequence left out of the regression.
        ridge : float
            Tikhonov regularisation (>= 0).
        h0, reset : each sequence starts from h0, from zeros (reset=True, the default)
            or from the current state.

        Returns
        -------
        EchoStateNetwork
            self, with ``W_out`` of shape (n_features, n_outputs), n_features =
            readout_bias + n + (n_inputs if readout_input), in units of y (per unit of
            state).

        Raises
        ------
        TypeError
            If u, y or h0 is not numeric.
        ValueError
            If u and y are lists of different lengths, ridge < 0, a y has another number
            of steps than its u, washout leaves no step of a sequence, u has another
            number of columns than the reservoir's inputs, or an array has the wrong
            shape or holds NaN or inf.
        numpy.linalg.LinAlgError
            If the normal equations are singular (ridge = 0 with collinear features).
        """
        # several sequences: a list of arrays; a (nested) list of numbers is one sequence
        several = isinstance(u, (list, tuple)) and len(u) > 0 and \
            all(hasattr(ui, "shape") for ui in u)
        us, ys = (u, y) if several else ([u], [y])
        if len(us) != len(ys):
            raise ValueError("u and y must be lists of the same length")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0; got {ridge}")
        FtF = FtY = None  # the normal equations, summed over blocks and sequences
        for ui, yi in zip(us, ys):
            ui = self._inputs(ui)
            yi = _as_2d("y", yi)
            if len(yi) != len(ui):
                raise ValueError(f"y has {len(yi)} steps, u has {len(ui)}")
            if washout >= len(ui):
                raise ValueError(f"washout={washout} leaves no step of a {len(ui)}-step "
                                 "sequence")
            h = self._start(h0, reset)
            for s in range(0, len(ui), _BLOCK):
                X, h = self._run(ui[s:s + _BLOCK], h)
                k = max(washout - s, 0)  # first row of this block past the washout
                if k >= len(X):
                    continue
                G, R = self._normal_equations(X[k:], ui[s + k:s + _BLOCK],
                                              yi[s + k:s + _BLOCK])
                FtF = G if FtF is None else FtF + G
                FtY = R if FtY is None else FtY + R
        A = FtF + ridge * np.eye(len(FtF))
        self.W_out = scipy.linalg.solve(A, FtY, assume_a="pos")
        self.n_outputs = self.W_out.shape[1]
        return self

    def predict(self, u, h0=None, reset=False):
        """Readout of the states driven by u: DataArray (time, output). Continues from
        the current state (e.g. the end of the training data) unless h0 or reset.

        Returns
        -------
        xarray.DataArray, dims (time, output), shape (T, n_outputs)
            In the units of the training targets y; ``time`` counts steps 0 .. T-1.

        Raises
        ------
        RuntimeError
            If the readout is not trained (``fit`` first).
        TypeError
            If u or h0 is not numeric.
        ValueError
            If u has the wrong shape or number of columns, h0 does not have shape (n,),
            or either holds NaN or inf.
        """
        self._check_fitted()
        u = self._inputs(u)
        X, _ = self._run(u, self._start(h0, reset))
        Y = self._readout(X, u)
        return xr.DataArray(Y, dims=("time", "output"),
                            coords={"time": np.arange(len(Y)),
                                    "output": np.arange(self.n_outputs)}, name="prediction")

    def generate(self, n_steps, warmup, h0=None, reset=False):
        """Closed loop: drive the reservoir with ``warmup`` (teacher forcing), then feed
        each output back as the next input for ``n_steps`` steps.

        Parameters
        ----------
        n_steps : int
            Number of generated steps.
        warmup : array_like, shape (T, n_inputs)
            Teacher-forcing inputs.
        h0, reset
            As in ``predict``.

        Returns
        -------
        xarray.DataArray, dims (time, output), shape (n_steps, n_outputs)
            The generated outputs, in the units of y; ``time`` counts steps from the end
            of the warm-up.

        Raises
        ------
        RuntimeError
            If the readout is not trained (``fit`` first).
        TypeError
            If n_steps is not an integer or warmup or h0 is not numeric.
        ValueError
            If the readout has the input term (readout_input=True), n_outputs !=
            n_inputs, n_steps < 1, or warmup or h0 has the wrong shape or holds NaN or
            inf.
        """
        self._check_fitted()
        if self.readout_input:
            raise ValueError("closed-loop generation needs a readout without the direct "
                             "input term (readout_input=False)")
        if self.n_outputs != self.n_inputs:
            raise ValueError(f"generation feeds outputs back as inputs: needs n_outputs == "
                             f"n_inputs; got {self.n_outputs} and {self.n_inputs}")
        n_steps = positive_int("n_steps", n_steps)
        check_bytes((n_steps + 1) * self.n * 8, f"the closed-loop states ({n_steps} steps x "
                    f"{self.n} neurons x 8 bytes)", "generate in shorter pieces (it "
                    "continues from where the last call ended)")
        warmup = self._inputs(warmup)
        X, h = self._run(warmup, self._start(h0, reset))
        c = self.W_out[0] if self.readout_bias else np.zeros(self.n_outputs)
        C = self.W_out[1 if self.readout_bias else 0:][: self.n].T  # (n_out, n)
        # y[t] = c + C x[t+1] is fed as u[t+1]: the closed loop is the network
        # W + U C, b + U c (the same kernels); its first state is the warm-up's last
        loop = RateNetwork(self.W_dense + self._U @ C, b=self._b + self._U @ c, tau=1.0,
                           phi=self.phi)
        X = np.empty((1, n_steps + 1, self.n))
        H = h.reshape(1, -1).copy()
        _engine.states(loop, X, H, np.zeros((1, n_steps, 0)), self.leak, _EULER)
        self.state = H[0].copy()
        Y = (c + X[0] @ C.T)[:n_steps]  # readouts of x[T] (fed back first), ...
        return xr.DataArray(Y[:n_steps], dims=("time", "output"),
                            coords={"time": np.arange(n_steps), "output": np.arange(self.n_outputs)},
                            name="generated")

    def echo_state_property(self, n_steps=1000, seed=None):
        """Spectral radius rho(W), largest singular value sigma_max(W), and an empirical
        check: two random initial states driven by the same random input converge.

        sigma_max < 1 is sufficient for the echo state property (contraction, for
        phi with |phi'| <= 1 and leak 1); rho < 1 is the customary rule of thumb, neither
        necessary nor sufficient with input.

        Returns
        -------
        dict
            ``spectral_radius`` and ``sigma_max`` (float, in the units of W),
            ``sufficient_condition`` (sigma_max < 1) and ``rule_of_thumb`` (rho < 1)
            (bool), ``initial_distance`` and ``final_distance`` (float, Euclidean distance
            of the two states before and after ``n_steps`` steps, dimensionless) and
            ``converged`` (bool).

        Raises
        ------
        TypeError
            If seed is of an unsupported type.
        """
        n_steps = positive_int("n_steps", n_steps)
        check_bytes(2 * (n_steps + 1) * self.n * 8, f"two trajectories of {n_steps} steps "
                    f"x {self.n} neurons", "use fewer n_steps")
        rng = generator(seed)
        n_in = self.n_inputs or 1
        # a diagnosis leaves the ESN as it was: an unbuilt reservoir is built on a copy
        # (its input size stays open for fit), and the state is not moved
        net = self.net if hasattr(self, "net") else copy.deepcopy(self)._build(n_in)
        u = rng.uniform(-1, 1, (n_steps, n_in))
        H0 = rng.standard_normal((2, self.n))
        X = np.empty((2, n_steps + 1, self.n))
        _engine.states(net, X, H0.copy(), u[None], self.leak, _EULER)
        d = np.linalg.norm(X[0] - X[1], axis=1)
        rho = float(np.abs(np.linalg.eigvals(self.W_dense)).max())
        smax = float(np.linalg.norm(self.W_dense, 2))
        return dict(spectral_radius=rho, sigma_max=smax, sufficient_condition=smax < 1,
                    rule_of_thumb=rho < 1,
                    initial_distance=float(d[0]), final_distance=float(d[-1]),
                    converged=bool(d[-1] < 1e-8 * max(d[0], 1.0)))

    def to_dataset(self):
        """The ESN (W, U, b, W_out and settings) as an xarray Dataset. A sparse W is
        stored as (post, pre, value) triplets along a ``synapse`` dimension.

        Returns
        -------
        xarray.Dataset
            ``U`` (neuron, input), ``b`` (neuron,), ``W`` (neuron, presynaptic) or
            ``W_post``, ``W_pre``, ``W_value`` (synapse,), ``state`` (neuron,), and
            ``W_out`` (feature, output) once fitted; attrs leak, n_neurons, phi,
            readout_bias, readout_input.

        Raises
        ------
        RuntimeError
            If the reservoir is not built yet (no fit, no n_inputs): there is no U to
            save.
        """
        if not hasattr(self, "net"):
            raise RuntimeError("the reservoir is not built yet (its input size is not "
                               "known): fit it, or make it with n_inputs=, before saving")
        data = {"U": (("neuron", "input"), self._U), "b": ("neuron", self._b),
                "state": ("neuron", self.state, {"long_name": "reservoir state after the "
                                                "last input seen (where the next run starts)"})}
        if scipy.sparse.issparse(self.W):
            coo = self.W.tocoo()
            idx = np.int32 if self.n < 2**31 else np.int64  # NetCDF-3 has no int64
            data.update(W_post=("synapse", coo.row.astype(idx)),
                        W_pre=("synapse", coo.col.astype(idx)), W_value=("synapse", coo.data))
        else:
            data["W"] = (("neuron", "presynaptic"), self.W)
        ds = xr.Dataset(data, attrs=dict(leak=self.leak, n_neurons=self.n,
                                         phi=str(getattr(self.net.phi, "name")),
                                         readout_bias=int(self.readout_bias),
                                         readout_input=int(self.readout_input)))
        if self.W_out is not None:
            ds["W_out"] = (("feature", "output"), self.W_out)
        return ds

    def save(self, path):
        """Write the ESN to NetCDF (or Zarr if the path ends in .zarr)."""
        from .io import write_atomic

        ds = self.to_dataset()
        if str(path).endswith(".zarr"):
            write_atomic(path, lambda tmp: ds.to_zarr(tmp, mode="w"))
        else:
            write_atomic(path, ds.to_netcdf)

    @classmethod
    def load(cls, path):
        """Read an ESN written by ``save``.

        Returns
        -------
        EchoStateNetwork
            With the saved W, U, b, settings and (if it was fitted) W_out.
        """
        ds = xr.open_zarr(path) if str(path).endswith(".zarr") else xr.load_dataset(path)
        if "W_value" in ds:  # a sparse W
            n = int(ds.attrs["n_neurons"])
            W = scipy.sparse.csr_matrix((ds.W_value.values, (ds.W_post.values,
                                                             ds.W_pre.values)), shape=(n, n))
        else:
            W = ds.W.values
        esn = cls(W=W, U=ds.U.values, b=ds.b.values, leak=ds.attrs["leak"],
                  phi=ds.attrs["phi"], readout_bias=bool(ds.attrs["readout_bias"]),
                  readout_input=bool(ds.attrs["readout_input"]))
        if "W_out" in ds:
            esn.W_out = ds.W_out.values
            esn.n_outputs = esn.W_out.shape[1]
        if "state" in ds:  # files written before the state was saved start from zeros
            esn.state = np.array(ds.state.values, dtype=np.float64)
        return esn

    def _check_fitted(self):
        if self.W_out is None:
            raise RuntimeError("the readout is not trained: call fit(u, y) first")


def memory_capacity(esn, max_delay, *, n_train=5000, n_test=2000, washout=200, ridge=1e-10,
                    seed=None):
    """Jaeger's short-term memory capacity MC = sum_k MC_k, MC_k = corr^2(u[t-k], y_k[t]),
    for delays k = 0 .. max_delay, with i.i.d. uniform input on [-1, 1] and one linear
    readout per delay trained on ``n_train`` steps and scored on ``n_test`` new ones.

    Convention (Jaeger 2002): the state after input u[t] reads out u[t - k]; the sum from
    k = 0 reaches N for a linear reservoir.

    Parameters
    ----------
    esn : EchoStateNetwork
        With one input channel (or none built yet).
    max_delay : int
        Largest delay k, in steps.
    n_train, n_test, washout : int
        Steps for training, scoring, and left out first.
    ridge : float
        Tikhonov regularisation of the readouts.
    seed : int, Generator or None

    Returns
    -------
    xarray.DataArray, dims (delay,), shape (max_delay + 1,)
        MC_k, dimensionless in [0, 1]; ``delay`` in steps; the total MC in
        ``attrs["total"]``.

    Raises
    ------
    ValueError
        If the reservoir takes more than one input channel.
    TypeError
        If seed is of an unsupported type.
    """
    max_delay = nonnegative_int("max_delay", max_delay)
    n_train, n_test = positive_int("n_train", n_train), positive_int("n_test", n_test)
    washout = nonnegative_int("washout", washout)
    rng = generator(seed)
    T = washout + n_train + n_test + max_delay
    u = rng.uniform(-1, 1, (T, 1))
    esn = copy.deepcopy(esn)  # an analysis leaves its argument (state, input size) alone
    if esn.n_inputs not in (None, 1):
        raise ValueError("memory_capacity drives one input channel")
    X, _ = esn._run(esn._inputs(u), np.zeros(esn.n))
    t = np.arange(washout + max_delay, T)
    Y = np.stack([u[t - k, 0] for k in range(max_delay + 1)], axis=1)
    F = np.concatenate([np.ones((len(t), 1)), X[t]], axis=1)
    tr, te = slice(0, n_train), slice(n_train, None)
    A = F[tr].T @ F[tr] + ridge * np.eye(F.shape[1])
    Wk = scipy.linalg.solve(A, F[tr].T @ Y[tr], assume_a="pos")
    P = F[te] @ Wk
    for k in range(max_delay + 1):  # a dead reservoir predicts a constant: no correlation
        nonzero(f"the sd of the delay-{k} prediction", P[:, k].std(), np.abs(P).max(),
                "the reservoir's readout does not vary (is the reservoir silent?)")
    mc = np.array([np.corrcoef(P[:, k], Y[te][:, k])[0, 1] ** 2 for k in range(max_delay + 1)])
    return xr.DataArray(mc, dims="delay", coords={"delay": np.arange(max_delay + 1)},
                        name="memory_capacity", attrs={"total": float(mc.sum())})


def _as_2d(name, a):
    a = as_float_array(name, a.values if hasattr(a, "values") and hasattr(a, "dims") else a)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (time, channels); got shape {a.shape}")
    return a
