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

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W = ctrnn.connectivity.scale_spectral_radius([[0.0, 2.0], [2.0, 0.0]], 0.5)
    >>> round(float(np.abs(np.linalg.eigvals(W)).max()), 12)
    0.5
    """
    from ._validation import as_float_array

    W = as_float_array("W", W, ndim=2)
    rho = float(rho)
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be finite and >= 0; got {rho}")
    r = float(np.abs(np.linalg.eigvals(W)).max())
    if r == 0:
        raise ValueError("W has spectral radius 0 (nilpotent or zero): it cannot be scaled")
    return W * (rho / r)
