"""Eigenvalue spectra of connectivity matrices and their random-matrix predictions."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._validation import as_float_array


_DENSE_LIMIT = 20_000  # largest sparse W turned dense for an eigen-decomposition


def _matrix(W):
    W = getattr(W, "W", W)  # a RateNetwork or a matrix
    if hasattr(W, "toarray"):
        if W.shape[0] > _DENSE_LIMIT:
            raise ValueError(f"W is sparse with N = {W.shape[0]} > {_DENSE_LIMIT}: a full "
                             "eigen-decomposition needs it dense; use scipy.sparse.linalg.eigs "
                             "for a few eigenvalues")
        W = W.toarray()
    W = as_float_array("W", W, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square; got shape {W.shape}")
    return W


def eigenvalues(W):
    """Eigenvalues of W (or of a RateNetwork's W), sorted by decreasing modulus.

    Parameters
    ----------
    W : array_like, scipy.sparse matrix or RateNetwork, shape (N, N)

    Returns
    -------
    xarray.DataArray, dims ("eigenvalue",), shape (N,), complex
        In the units of W (dimensionless weights).

    Raises
    ------
    TypeError
        If W is not a real numeric array.
    ValueError
        If W is not square and 2-D, holds NaN or inf, or is sparse with N > 20000.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> ctrnn.analysis.eigenvalues(np.diag([1.0, -3.0])).values.tolist()
    [(-3+0j), (1+0j)]
    """
    ev = np.linalg.eigvals(_matrix(W)).astype(complex)
    ev = ev[np.argsort(-np.abs(ev), kind="stable")]
    return xr.DataArray(ev, dims="eigenvalue", name="eigenvalue",
                        attrs={"long_name": "eigenvalues of W, by decreasing modulus"})


def spectral_radius(W):
    """max |eigenvalue| of W.

    Parameters
    ----------
    W : array_like, scipy.sparse matrix or RateNetwork, shape (N, N)

    Returns
    -------
    float
        The spectral radius (>= 0), in the units of W.

    Raises
    ------
    TypeError
        If W is not a real numeric array.
    ValueError
        If W is not square and 2-D, holds NaN or inf, or is sparse with N > 20000.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> round(ctrnn.analysis.spectral_radius([[0.0, 1.0], [-4.0, 0.0]]), 12)
    2.0
    """
    return float(np.abs(np.linalg.eigvals(_matrix(W))).max())


def bulk_radius(W=None, *, g=None, n_e=None, n_i=None, sigma_e=None, sigma_i=None):
    """Predicted radius of the bulk of the spectrum (random-matrix theory).

    - ``g``: i.i.d. entries of variance g^2 / N fill the disc of radius g (circular law).
    - ``n_e, n_i, sigma_e, sigma_i``: excitatory and inhibitory columns with variances
      sigma_e^2 / N and sigma_i^2 / N and exact balance (each row sums to zero):
      r^2 = f sigma_e^2 + (1 - f) sigma_i^2 with f = n_e / N (Rajan & Abbott 2006).
    - ``W`` alone: the empirical estimate sqrt(sum over entries of the column-centred
      variance), exact in expectation for the two cases above.

    Returns
    -------
    float
        The predicted bulk radius (>= 0), in the units of W.

    Raises
    ------
    TypeError
        If neither W, nor g, nor all of n_e, n_i, sigma_e, sigma_i are given, or W is not
        a real numeric array.
    ValueError
        If W is not square and 2-D, holds NaN or inf, or is sparse with N > 20000.

    Examples
    --------
    >>> import ctrnn
    >>> ctrnn.analysis.bulk_radius(n_e=800, n_i=200, sigma_e=1.0, sigma_i=2.0)
    1.2649110640673518
    """
    if g is not None:
        return float(g)
    if None not in (n_e, n_i, sigma_e, sigma_i):
        f = n_e / (n_e + n_i)
        return float(np.sqrt(f * sigma_e**2 + (1 - f) * sigma_i**2))
    if W is None:
        raise TypeError("give W, or g, or all of n_e, n_i, sigma_e, sigma_i")
    W = _matrix(W)
    centred = W - W.mean(axis=0)
    return float(np.sqrt((centred**2).sum() / W.shape[0]))


def outliers(W, radius=None, margin=1.05):
    """Eigenvalues outside the bulk: |lambda| > margin * radius.

    ``radius`` defaults to ``bulk_radius(W)``. A rank-R structure added to a random
    matrix produces up to R such outliers (Tao 2013).

    Returns
    -------
    xarray.DataArray, dims ("eigenvalue",), shape (n_outliers,), complex
        The eigenvalues outside the bulk by decreasing modulus, in the units of W; attrs
        bulk_radius and margin.

    Raises
    ------
    TypeError
        If W is not a real numeric array.
    ValueError
        If W is not square and 2-D, holds NaN or inf, or is sparse with N > 20000.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> W = ctrnn.connectivity.gaussian(400, 0.5, seed=0)
    >>> W = W + ctrnn.connectivity.low_rank(np.ones(400), 2 * np.ones(400))
    >>> np.round(ctrnn.analysis.outliers(W, radius=0.5).values.real, 1).tolist()
    [2.0]
    """
    ev = eigenvalues(W)
    r = bulk_radius(W) if radius is None else float(radius)
    keep = np.abs(ev.values) > margin * r
    out = ev[keep]
    out.attrs.update(bulk_radius=r, margin=margin)
    return out
