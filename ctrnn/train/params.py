"""Parametrisations: the unconstrained parameters theta an optimiser updates, and the
network and readout they stand for. Constraints hold by construction, so Adam never sees
them (the approach of neurogym/Yang's and nn4n's PyTorch code):

- Dale's law: W = |W~| diag(signs) ("abs"), or rectified, W = max(W~, 0) diag(signs)
  ("rectify", Song, Yang & Wang 2016);
- a fixed connectivity mask (absent synapses stay exactly zero; a sparse W keeps its
  sparsity pattern, and only its stored entries are parameters); no autapses
  (``autapses=False`` zeroes the diagonal);
- non-negative input weights U = |U~|;
- time constants through their logarithm, tau = exp(theta) (positive);
- low rank: W = W0 + M N^T / n_neurons with W0 the network's own W, fixed, and only
  M, N (n_neurons, r) trained (Mastrogiuseppe & Ostojic 2018; Dubreuil et al. 2022);
- frozen parameters: left out of theta.

``pullback`` maps the gradient with respect to the effective parameters (from
``_bptt``) to the gradient with respect to theta by the chain rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._seeding import generator
from .._validation import positive_int

__all__ = ["Readout", "Parametrisation"]


@dataclass(frozen=True)
class Readout:
    """The linear readout y = C h + c.

    Parameters
    ----------
    C : ndarray, shape (n_outputs, n_neurons)
    c : ndarray, shape (n_outputs,)

    Raises
    ------
    ValueError
        If the shapes do not fit or an entry is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train import Readout
    >>> r = Readout(np.ones((1, 3)), np.zeros(1))
    >>> r(np.array([1.0, 2.0, 3.0]))
    array([6.])
    """

    C: np.ndarray
    c: np.ndarray

    def __post_init__(self):
        C = np.array(self.C, dtype=np.float64, ndmin=2)
        c = np.array(self.c, dtype=np.float64).reshape(-1)
        if C.ndim != 2 or c.shape != (C.shape[0],):
            raise ValueError(f"readout: C must be (n_outputs, n_neurons) and c (n_outputs,); "
                             f"got C {C.shape}, c {c.shape}")
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(c))):
            raise ValueError("readout: C and c must be finite")
        C.setflags(write=False)
        c.setflags(write=False)
        object.__setattr__(self, "C", C)
        object.__setattr__(self, "c", c)

    @property
    def n_outputs(self):
        return self.C.shape[0]

    def __call__(self, h):
        """y = h C^T + c for h (..., n_neurons)."""
        return np.asarray(h) @ self.C.T + self.c

    @classmethod
    def random(cls, n_outputs, n_neurons, seed=None):
        """C ~ N(0, 1 / n_neurons) (PyTorch's default scale for a linear layer is of the
        same order), c = 0.

        Returns
        -------
        Readout

        Examples
        --------
        >>> from ctrnn.train import Readout
        >>> Readout.random(2, 10, seed=0).C.shape
        (2, 10)
        """
        rng = generator(seed)
        return cls(rng.normal(0.0, 1.0 / np.sqrt(n_neurons), (n_outputs, n_neurons)),
                   np.zeros(n_outputs))


TRAINABLE = ("W", "U", "b", "tau", "h0", "C", "c")


class Parametrisation:
    """theta <-> (network, readout, h0) for ``net`` (its phi, noise and STP are kept).

    Parameters
    ----------
    net : RateNetwork
        The starting network (with low_rank: its W is the fixed W0).
    readout : Readout
        The starting readout.
    h0 : ndarray, shape (n_neurons,)
        The starting initial state.
    train : sequence of str
        The effective parameters to learn, of W, U, b, tau, h0, C, c.
    dale, mask, autapses, nonnegative_inputs, low_rank
        As in ``ctrnn.train.fit``.
    seed : int or SeedSequence, optional
        Seeds M and N of the low-rank structure.

    Raises
    ------
    TypeError
        If low_rank is not an integer.
    ValueError
        For an unknown parameter name or dale option, a mask of the wrong shape, a rank
        outside [1, n_neurons], or a combination that does not exist (a sparse W with a
        mask or low rank; low rank with Dale's law or a mask).

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> from ctrnn.train.params import Parametrisation, Readout
    >>> W, labels = ctrnn.connectivity.dale(4, 1, seed=0)
    >>> net = ctrnn.RateNetwork(W, dale=labels)
    >>> par = Parametrisation(net, Readout.random(1, 5, seed=0), np.zeros(5), train=["W"])
    >>> theta = par.init()
    >>> theta["W"][:] = -1.0  # any theta keeps the signs
    >>> bool(np.all(np.array(par.network(theta).W)[:, :4] >= 0))
    True
    """

    def __init__(self, net, readout, h0, *, train, dale="abs", mask=None, autapses=True,
                 nonnegative_inputs=False, low_rank=None, seed=None):
        N = net.n_neurons
        self.net, self.N = net, N
        self.train = tuple(n for n in TRAINABLE if n in set(train))
        unknown = set(train) - set(TRAINABLE)
        if unknown:
            raise ValueError(f"cannot train {sorted(unknown)}: the parameters are "
                             f"{', '.join(TRAINABLE)}")
        if "U" in self.train and net.n_inputs == 0:
            self.train = tuple(n for n in self.train if n != "U")
        if not isinstance(dale, str) or dale not in ("abs", "rectify"):
            if not isinstance(dale, str):
                raise ValueError("dale= chooses how Dale's law is imposed ('abs' or "
                                 "'rectify'); the E/I labels belong on the network: "
                                 "RateNetwork(W, dale=labels)")
            raise ValueError(f"dale must be 'abs' (W = |W~| D) or 'rectify' (W = max(W~, 0) "
                             f"D); got {dale!r}")
        self.signs = None if net.dale is None else np.asarray(net.dale, dtype=np.float64)
        self.dale = dale
        self.sparse = net.is_sparse
        if self.sparse and (mask is not None or low_rank is not None):
            raise ValueError("a sparse W trains on its stored entries (its own mask); give a "
                             "dense W to use mask= or low_rank=")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (N, N):
                raise ValueError(f"mask must have shape ({N}, {N}) like W; got {mask.shape}")
            mask = (mask != 0).astype(np.float64)
        if not autapses:
            if self.sparse:
                raise ValueError("autapses=False needs a dense W (a sparse W trains its "
                                 "stored entries: leave the diagonal out of it)")
            mask = (np.ones((N, N)) if mask is None else mask.copy())
            np.fill_diagonal(mask, 0.0)
        self.mask = mask
        self.nonneg_U = bool(nonnegative_inputs)
        low_rank = positive_int("low_rank", low_rank, allow_none=True)
        if low_rank is not None and "W" not in self.train:
            raise ValueError("low_rank trains M and N of W: do not freeze W")
        self.rank = None if low_rank is None else int(low_rank)
        if self.rank is not None and not 1 <= self.rank <= N:
            raise ValueError(f"low_rank must be an integer in [1, {N}]; got {low_rank!r}")
        if self.rank is not None and (self.signs is not None or mask is not None):
            raise ValueError("low_rank trains W = W0 + M N^T / n_neurons; it does not "
                             "combine with Dale's law or a mask")
        self.W0 = None if self.rank is None else np.array(net.W)
        self.readout0 = readout
        self.h0_fixed = h0
        self.seed = seed

    # --- theta from the starting network ------------------------------------------------
    def init(self):
        """theta for the starting network, readout and h0 (low rank: M, N ~ N(0, 1),
        seeded)."""
        net = self.net
        theta = {}
        if "W" in self.train:
            if self.rank is not None:
                rng = generator(self.seed)
                theta["M"] = rng.normal(size=(self.N, self.rank))
                theta["Nv"] = rng.normal(size=(self.N, self.rank))
            else:
                W = net._W.data.copy() if self.sparse else np.array(net.W)
                if self.signs is not None:
                    W = np.abs(W)
                if self.mask is not None:
                    W = W * self.mask
                theta["W"] = W
        if "U" in self.train:
            theta["U"] = np.abs(np.array(net.U)) if self.nonneg_U else np.array(net.U)
        if "b" in self.train:
            theta["b"] = np.array(net.b)
        if "tau" in self.train:
            theta["tau"] = np.log(np.array(net.tau_array, dtype=np.float64))
        if "h0" in self.train:
            theta["h0"] = np.array(self.h0_fixed, dtype=np.float64)
        if "C" in self.train:
            theta["C"] = np.array(self.readout0.C)
        if "c" in self.train:
            theta["c"] = np.array(self.readout0.c)
        return theta

    # --- theta -> effective parameters ---------------------------------------------------
    def _W(self, theta):
        if "W" not in self.train:
            return self.net._W
        if self.rank is not None:
            return self.W0 + theta["M"] @ theta["Nv"].T / self.N
        Wt = theta["W"]
        if self.signs is not None:
            mag = np.abs(Wt) if self.dale == "abs" else np.maximum(Wt, 0.0)
            sign = self.signs[self.net._W.indices] if self.sparse else self.signs[None, :]
            Wt = mag * sign
        if self.mask is not None:
            Wt = Wt * self.mask
        if self.sparse:
            from scipy.sparse import csr_matrix
            return csr_matrix((Wt, self.net._W.indices.copy(), self.net._W.indptr.copy()),
                              shape=(self.N, self.N))
        return Wt

    def network(self, theta):
        """The RateNetwork that theta stands for."""
        changes = {}
        if "W" in self.train:
            changes["W"] = self._W(theta)
        if "U" in self.train:
            changes["U"] = np.abs(theta["U"]) if self.nonneg_U else theta["U"]
        if "b" in self.train:
            changes["b"] = theta["b"]
        if "tau" in self.train:
            changes["tau"] = np.exp(theta["tau"])
        return self.net.replace(**changes) if changes else self.net

    def readout(self, theta):
        """The Readout that theta stands for."""
        return Readout(theta.get("C", self.readout0.C), theta.get("c", self.readout0.c))

    def h0(self, theta):
        """The initial state (n_neurons,)."""
        return theta.get("h0", self.h0_fixed)

    # --- gradients: effective -> theta --------------------------------------------------
    def pullback(self, theta, g):
        """dL/dtheta from g = dL/d(W, U, b, tau, h0 (B, N), C, c) (``_bptt.Pass.grads``;
        names missing from g or None there get no gradient)."""
        out = {}
        has = lambda name: name in self.train and g.get(name) is not None  # noqa: E731
        if has("W"):
            G = g["W"]
            if self.rank is not None:
                out["M"] = G @ theta["Nv"] / self.N
                out["Nv"] = G.T @ theta["M"] / self.N
            else:
                if self.mask is not None:
                    G = G * self.mask
                if self.signs is not None:
                    Wt = theta["W"]
                    sign = self.signs[self.net._W.indices] if self.sparse \
                        else self.signs[None, :]
                    # the subgradient 1 at 0, so that weights starting at zero can grow
                    slope = np.where(Wt >= 0, 1.0, -1.0) if self.dale == "abs" \
                        else (Wt >= 0).astype(float)
                    G = G * sign * slope
                out["W"] = G
        if has("U"):
            out["U"] = g["U"] * np.where(theta["U"] >= 0, 1.0, -1.0) if self.nonneg_U \
                else g["U"]
        if has("b"):
            out["b"] = g["b"]
        if has("tau"):
            out["tau"] = g["tau"] * np.exp(theta["tau"])
        if has("h0"):
            out["h0"] = g["h0"].sum(axis=0)
        if has("C"):
            out["C"] = g["C"]
        if has("c"):
            out["c"] = g["c"]
        return out

    def weight_penalty(self, theta, l1, l2):
        """(penalty, dpenalty/dtheta) of l1 sum |W| + l2 sum W^2 on the effective W."""
        if not (l1 or l2) or "W" not in self.train:
            return 0.0, {}
        W = self._W(theta)
        w = W.data if self.sparse else W
        pen = l1 * float(np.sum(np.abs(w))) + l2 * float(np.sum(w * w))
        gW = l1 * np.sign(w) + 2.0 * l2 * w
        return pen, self.pullback(theta, {"W": gW})
