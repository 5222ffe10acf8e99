"""Connectivity builders. Every builder that draws takes ``seed`` (int or Generator)."""
from __future__ import annotations

import numpy as np

from ._seeding import generator
from ._validation import positive_int


def gaussian(n, g=1.0, seed=None, *, dtype=np.float64):
    """Random Gaussian weights W_ij ~ N(0, g^2 / n), the Sompolinsky-Crisanti-Sommers
    network: quiet for g < 1, chaotic for g > 1 (n large, phi = tanh).

    Parameters
    ----------
    n : int
        Number of neurons.
    g : float
        Gain (>= 0); the eigenvalues fill the disc of radius g (circular law).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    W : ndarray, shape (n, n)
        Dimensionless weights (row i: inputs to neuron i), of type ``dtype``.

    Raises
    ------
    TypeError
        If n is not an integer or seed is of an unsupported type (e.g. a negative int).
    ValueError
        If n < 1 or g is negative or not finite.

    Examples
    --------
    >>> import ctrnn
    >>> W = ctrnn.connectivity.gaussian(500, g=1.5, seed=0)
    >>> round(float(W.std() * 500 ** 0.5), 1)
    1.5
    """
    n = positive_int("n", n)
    g = float(g)
    if not np.isfinite(g) or g < 0:
        raise ValueError(f"g must be finite and >= 0; got {g}")
    rng = generator(seed)
    return (rng.standard_normal((n, n)) * (g / np.sqrt(n))).astype(dtype, copy=False)


def low_rank(m, n=None):
    """Low-rank structure P = m n^T / N from factors m, n of shape (N, R) (or (N,)).

    Mastrogiuseppe & Ostojic (2018); added to a random part (``gaussian(...) + low_rank``)
    it leaves the bulk of the spectrum and adds an outlier near n^T m / N when that
    exceeds the bulk radius.

    Parameters
    ----------
    m : array_like, shape (N,) or (N, R)
    n : array_like, shape (N,) or (N, R), optional
        Default ``m`` (a symmetric structure).

    Returns
    -------
    P : ndarray, shape (N, N)
        float64, dimensionless (add it to the weights W).

    Raises
    ------
    TypeError
        If m or n is not a real numeric array.
    ValueError
        If m or n is not 1-D or 2-D, holds NaN or inf, or their shapes differ.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> m = np.ones(4)
    >>> ctrnn.connectivity.low_rank(m, 2 * m)[0].tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    from ._validation import as_float_array

    m = as_float_array("m", m, ndim=(1, 2))
    n = m if n is None else as_float_array("n", n, ndim=(1, 2))
    m2 = m[:, None] if m.ndim == 1 else m
    n2 = n[:, None] if n.ndim == 1 else n
    if m2.shape != n2.shape:
        raise ValueError(f"m and n must have the same shape (N, R); got {m.shape} and {n.shape}")
    return m2 @ n2.T / m2.shape[0]


def scale_spectral_radius(W, rho):
    """W scaled so that its spectral radius (largest |eigenvalue|) is ``rho``.

    A scipy.sparse W stays sparse (CSR); its radius is computed exactly from the dense
    eigenvalues, so this is meant for the sizes of reservoirs (n up to a few thousand).

    Parameters
    ----------
    W : array_like or scipy.sparse matrix, shape (n, n)
    rho : float
        Target spectral radius (>= 0).

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix, shape (n, n)
        float64 copy of W times rho / (spectral radius of W); sparse (CSR) if W is sparse.

    Raises
    ------
    TypeError
        If W is not a real numeric array.
    ValueError
        If W is not 2-D or holds NaN or inf, rho is negative or not finite, or W has
        spectral radius 0.
    numpy.linalg.LinAlgError
        If W is not square.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W = ctrnn.connectivity.scale_spectral_radius([[0.0, 2.0], [2.0, 0.0]], 0.5)
    >>> round(float(np.abs(np.linalg.eigvals(W)).max()), 12)
    0.5
    """
    from scipy.sparse import csr_matrix, issparse

    from ._validation import as_float_array, check_finite

    if issparse(W):
        W = csr_matrix(W, dtype=np.float64)
        check_finite("W", W.data)
        dense = W.toarray()
    else:
        W = dense = as_float_array("W", W, ndim=2)
    rho = float(rho)
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be finite and >= 0; got {rho}")
    r = float(np.abs(np.linalg.eigvals(dense)).max())
    # a nilpotent W's computed eigenvalues are rounding errors amplified by its Jordan
    # blocks (~ eps^(1/k) ||W|| for blocks of k): below 1e-6 ||W|| the radius is noise.
    # Blocks of 3 or more (a rotated feed-forward chain) can come out above that: such
    # a W is numerically indistinguishable from one with that small a radius
    scale = float(np.abs(dense).sum(axis=1).max()) if dense.size else 0.0
    if not r > 1e-6 * max(scale, np.finfo(float).tiny):
        raise ValueError(f"W has spectral radius {r:.3g}, zero up to rounding (W is "
                         "nilpotent or zero): it cannot be scaled to a spectral radius")
    return W * (rho / r)


def sparse(n, p, g=1.0, seed=None):
    """Sparse random weights: each W_ij nonzero with probability p, drawn from
    N(0, g^2 / (n p)), so that the variance of W_ij is g^2 / n as in ``gaussian`` (the
    eigenvalues fill the disc of radius g). Returns a scipy.sparse CSR matrix, which
    RateNetwork simulates with a sparse kernel.

    Parameters
    ----------
    n : int
        Number of neurons.
    p : float
        Connection probability, in (0, 1].
    g : float
        Gain (>= 0).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    W : scipy.sparse.csr_matrix, shape (n, n)
        float64, dimensionless, about p n^2 stored entries (none of them repeated).

    Raises
    ------
    TypeError
        If n is not an integer or seed is of an unsupported type (e.g. a negative int).
    ValueError
        If n < 1, p is not in (0, 1], or g is negative or not finite.

    Examples
    --------
    >>> import ctrnn
    >>> W = ctrnn.connectivity.sparse(2000, p=0.01, g=1.5, seed=0)
    >>> W.format, round(W.nnz / 2000**2, 3)
    ('csr', 0.01)
    """
    from scipy.sparse import csr_matrix

    n = positive_int("n", n)
    p = float(p)
    if not 0 < p <= 1:
        raise ValueError(f"p (connection probability) must be in (0, 1]; got {p}")
    g = float(g)
    if not np.isfinite(g) or g < 0:
        raise ValueError(f"g must be finite and >= 0; got {g}")
    rng = generator(seed)
    total = n * n
    nnz = int(rng.binomial(total, p))
    def distinct(a):  # sort + mask: np.unique is an order of magnitude slower here
        a.sort()
        keep = np.ones(a.size, bool)  # (an empty draw, nnz = 0, stays empty)
        keep[1:] = a[1:] != a[:-1]
        return a[keep]

    flat = distinct(rng.integers(0, total, size=nnz))
    while flat.size < nnz:  # replace the (rare) repeated positions
        more = rng.integers(0, total, size=nnz - flat.size)
        flat = distinct(np.concatenate([flat, more]))
    vals = rng.standard_normal(flat.size) * (g / np.sqrt(n * p))
    rows, cols = np.divmod(flat, n)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return csr_matrix((vals, cols.astype(np.int64), indptr), shape=(n, n))


def dale(n_e, n_i, *, mu_e=1.0, mu_i=None, sigma_e=0.5, sigma_i=None, balance=False,
         seed=None):
    """Excitatory-inhibitory weights obeying Dale's law (Rajan & Abbott 2006).

    Columns 0 .. n_e-1 are excitatory (entries >= 0), the rest inhibitory (<= 0). The
    magnitudes of a population's entries are Gamma-distributed with mean mu / sqrt(N) and
    standard deviation sigma / sqrt(N) (N = n_e + n_i), so every entry keeps its sign.

    Parameters
    ----------
    n_e, n_i : int
        Numbers of excitatory and inhibitory neurons.
    mu_e, mu_i : float
        Mean magnitudes (> 0) times sqrt(N). ``mu_i`` defaults to f mu_e / (1 - f)
        (f = n_e / N), which balances the mean input.
    sigma_e, sigma_i : float
        Standard deviations (> 0) times sqrt(N); ``sigma_i`` defaults to ``sigma_e``.
    balance : bool
        Exact balance: every row's inhibitory entries are rescaled so that the row sums to
        zero (signs are kept).
    seed : int, Generator or None

    Returns
    -------
    W : ndarray, shape (N, N)
        float64, dimensionless; columns 0 .. n_e-1 >= 0, the others <= 0.
    labels : ndarray of str, shape (N,)
        "E" or "I" per neuron: pass as ``RateNetwork(W, dale=labels)``.

    Raises
    ------
    TypeError
        If n_e or n_i is not an integer, or seed is of an unsupported type.
    ValueError
        If n_e < 1 or n_i < 1, or any of mu_e, mu_i, sigma_e, sigma_i is not a finite
        number > 0.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W, labels = ctrnn.connectivity.dale(80, 20, balance=True, seed=0)
    >>> bool((W[:, :80] >= 0).all() and (W[:, 80:] <= 0).all()), float(abs(W.sum(1)).max()) < 1e-12
    (True, True)
    >>> labels[78:82].tolist()
    ['E', 'E', 'I', 'I']
    """
    n_e = positive_int("n_e", n_e)
    n_i = positive_int("n_i", n_i)
    N = n_e + n_i
    f = n_e / N
    mu_i = f * mu_e / (1 - f) if mu_i is None else mu_i
    sigma_i = sigma_e if sigma_i is None else sigma_i
    for name, v in (("mu_e", mu_e), ("mu_i", mu_i), ("sigma_e", sigma_e), ("sigma_i", sigma_i)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0 (a magnitude); got {v}")
    rng = generator(seed)

    def block(mu, sigma, cols):
        shape = (mu / sigma) ** 2  # Gamma with mean mu, std sigma
        return rng.gamma(shape, sigma**2 / mu, size=(N, cols)) / np.sqrt(N)

    W = np.concatenate([block(mu_e, sigma_e, n_e), -block(mu_i, sigma_i, n_i)], axis=1)
    if balance:
        exc = W[:, :n_e].sum(axis=1)
        inh = -W[:, n_e:].sum(axis=1)
        for i in np.flatnonzero(~(inh > 1e3 * np.finfo(float).eps * exc)):
            raise ValueError(f"balance=True: the inhibitory weights onto neuron {i} sum to "
                             f"{inh[i]:.3g}, zero up to rounding, so they cannot balance "
                             f"its excitation {exc[i]:.3g}; raise mu_i or sigma_i's ratio, "
                             "or use more inhibitory neurons")
        W[:, n_e:] *= (exc / inh)[:, None]
    labels = np.array(["E"] * n_e + ["I"] * n_i)
    return W, labels


def enforce_dale(W, signs):
    """|W| with column j given the sign of presynaptic neuron j (+1/-1 or "E"/"I"):
    W_eff = |W| diag(signs), the convention of Song, Yang & Wang (2016) and PsychRNN.

    Parameters
    ----------
    W : array_like, shape (n, n)
    signs : array_like, shape (n,)
        +1/-1 or "E"/"I" per presynaptic neuron (column of W).

    Returns
    -------
    ndarray, shape (n, n)
        float64, dimensionless: |W| with column j of the sign of signs[j].

    Raises
    ------
    TypeError
        If W is not a real numeric array.
    ValueError
        If W is not 2-D or holds NaN or inf, or signs does not have shape (n,) or holds
        values other than +1/-1 or "E"/"I".

    Examples
    --------
    >>> import ctrnn
    >>> ctrnn.connectivity.enforce_dale([[1.0, 2.0], [-3.0, -4.0]], ["E", "I"]).tolist()
    [[1.0, -2.0], [3.0, -4.0]]
    """
    from ._validation import as_float_array

    from .network import _signs

    W = as_float_array("W", W, ndim=2)
    return np.abs(W) * _signs(signs, W.shape[1])[None, :]
