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
