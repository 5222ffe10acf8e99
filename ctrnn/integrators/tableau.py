"""Explicit Runge-Kutta methods as a frozen, self-checking Butcher tableau."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class ButcherTableau:
    """An explicit Runge-Kutta method (stage s uses stages < s only).

    Parameters
    ----------
    name : str
    A : array_like, shape (s, s)
        Strictly lower-triangular stage coefficients.
    b : array_like, shape (s,)
        Weights of the propagated solution (sum to 1).
    c : array_like, shape (s,)
        Stage times as fractions of the step (row sums of ``A``).
    order : int
        Order of the propagated solution.
    e : array_like, shape (s,), optional
        Error weights: ``h * sum_i e_i k_i`` estimates the local error (sum to 0).
    P : array_like, shape (s, p), optional
        Dense output: y(t + theta h) = y + h * sum_m (K^T P)[:, m] theta^(m + 1).
    error_order : int, optional
        Order of the embedded solution b - e (the error estimate is O(h^(error_order +
        1))); needed with ``e``. It sets the exponents of step-size control.

    Raises
    ------
    ValueError
        If the coefficients break an identity of an explicit method (A strictly lower
        triangular, rows of A summing to c, sum(b) = 1, sum(e) = 0) or the shapes
        disagree.
    """

    name: str
    A: np.ndarray
    b: np.ndarray
    c: np.ndarray
    order: int
    e: np.ndarray | None = None
    P: np.ndarray | None = None
    error_order: int | None = None
    stages: int = field(init=False)

    def __post_init__(self):
        def ro(a):
            a = np.array(a, dtype=np.float64)
            a.setflags(write=False)
            return a

        for name in ("A", "b", "c", "e", "P"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, ro(v))
        s = self.b.size
        object.__setattr__(self, "stages", s)
        if self.A.shape != (s, s) or self.c.shape != (s,):
            raise ValueError(f"{self.name}: A must be ({s}, {s}) and c ({s},)")
        if np.any(np.triu(self.A) != 0):
            raise ValueError(f"{self.name}: A must be strictly lower triangular (explicit)")
        if not np.allclose(self.A.sum(axis=1), self.c, atol=1e-14):
            raise ValueError(f"{self.name}: rows of A must sum to c")
        if not np.isclose(self.b.sum(), 1.0, atol=1e-14):
            raise ValueError(f"{self.name}: b must sum to 1")
        if self.e is not None and not np.isclose(self.e.sum(), 0.0, atol=1e-14):
            raise ValueError(f"{self.name}: e must sum to 0")
        if self.e is not None and (self.e.shape != (s,) or self.error_order is None):
            raise ValueError(f"{self.name}: e must have shape ({s},) and come with "
                             "error_order")
        if self.P is not None and (self.P.ndim != 2 or self.P.shape[0] != s):
            raise ValueError(f"{self.name}: P must have shape ({s}, p)")

    def __eq__(self, other):
        if not isinstance(other, ButcherTableau):
            return NotImplemented
        arrays = ("A", "b", "c", "e", "P")
        return (self.name, self.order, self.error_order) == (
            other.name, other.order, other.error_order) and all(
            (getattr(self, k) is None) == (getattr(other, k) is None)
            and (getattr(self, k) is None or np.array_equal(getattr(self, k),
                                                            getattr(other, k)))
            for k in arrays)

    def __hash__(self):
        return hash((self.name, self.order, self.error_order, self.A.tobytes(),
                     self.b.tobytes()))

    @property
    def fsal(self):
        """First same as last: the last stage is evaluated at the new solution (its last
        row of A is b and its c is 1), so it is the next step's first stage."""
        return bool(self.c[-1] == 1.0 and np.array_equal(self.A[-1], self.b))

    @property
    def embedded(self):
        """True for a pair with error weights and dense output (an adaptive method)."""
        return self.e is not None and self.P is not None

    @cached_property
    def stability_polynomial(self):
        """Coefficients r_0..r_s (lowest first) of the stability function
        R(z) = 1 + z b^T (I - z A)^-1 1 = sum_k r_k z^k, r_k = b^T A^(k-1) 1 (A nilpotent)."""
        coef = [1.0]
        v = np.ones(self.stages)
        for _ in range(self.stages):
            coef.append(float(self.b @ v))
            v = self.A @ v
        return np.array(coef)

    def stability(self, z):
        """R(z), the growth factor of one step of y' = lambda y with z = lambda dt.

        Returns
        -------
        complex or ndarray of complex, shape np.shape(z)
            Dimensionless.
        """
        return np.polynomial.polynomial.polyval(np.asarray(z, dtype=complex),
                                                self.stability_polynomial)

    @cached_property
    def stability_limit(self):
        """Largest x with |R(-y)| <= 1 for all real y in [0, x]: the stability interval
        on the negative real axis (2 for Euler and Heun, 2.785 for RK4)."""
        ys = np.linspace(0.0, 8.0, 80001)[1:]
        bad = np.abs(self.stability(-ys)) > 1 + 1e-12
        if not bad.any():
            return np.inf
        first = int(np.argmax(bad))
        lo, hi = (ys[first - 1] if first else 0.0), ys[first]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if abs(self.stability(-mid)) <= 1 + 1e-12 else (lo, mid)
        return lo
