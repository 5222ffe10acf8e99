"""The nonlinearity phi: built-ins by name (with aliases) or a user's Numba function.

The built-in tanh, sigmoid and softplus (and their derivatives) are vectorisable forms
written for the kernels (``ctrnn._kernels.phi``): branch-free, with their own range
reduction, so a loop over neurons runs in SIMD registers: 2-4 ns an element in float64
and ~1 in float32 on the machine of benchmarks/README.md, against 14-19 ns for libm's
scalar calls. Accuracy, measured on 10^7 points including 0, +-1e-300, subnormals, +-20, +-710
and +-inf (tests/test_phi.py), in units in the last place (ulp):

=========== ============================================== ==================
function    float64 (max measured)                         float32
=========== ============================================== ==================
tanh        3 ulp from numpy.tanh (80% of points exact)    1 ulp, in float32
sigmoid     2 ulp from 1 / (1 + e^-z) in extended precision 2 ulp, in float32
softplus    2 ulp from log(1 + e^z) in extended precision   0 (float64, rounded)
tanh'       4 ulp from 1 / cosh(z)^2 in extended precision  0 (float64, rounded)
sigmoid'    4 ulp from sigmoid(z) (1 - sigmoid(z)), ext.    0 (float64, rounded)
=========== ============================================== ==================

The test bound is 4 ulp, for the scalar functions and for their SIMD-vector forms
(tanh, sigmoid and ReLU of whole rows run in full-width vectors). NaN stays NaN, +-inf
give the limits. The libm forms remain
for comparison as ``"tanh_libm"``, ``"sigmoid_libm"`` and ``"softplus_libm"`` (within
about 1 ulp, and scalar: a loop over 100 neurons costs ~1.4 us instead of ~0.2-0.4).

>>> import ctrnn
>>> ctrnn.nonlinearities.get_phi("logistic").name
'sigmoid'
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
from numba.core.registry import CPUDispatcher

from ._kernels import phi as _k


@dataclass(frozen=True)
class Phi:
    """A nonlinearity. ``code`` is what the kernels receive: an int for built-ins, the
    Numba dispatcher itself for user functions (compiled into the kernel, not cached).

    Attributes
    ----------
    name : str
    code : int or numba dispatcher
    max_slope : float
        sup |phi'|, used to estimate the stability of a step size.
    nonnegative : bool
        phi(z) >= 0 for all z (rates).

    Examples
    --------
    >>> import ctrnn
    >>> relu = ctrnn.get_phi("relu")
    >>> relu([-1.0, 2.0]).tolist(), relu.derivative([-1.0, 2.0]).tolist()
    ([0.0, 2.0], [0.0, 1.0])
    """

    name: str
    code: object
    max_slope: float
    nonnegative: bool

    @property
    def builtin(self):
        return isinstance(self.code, int)

    def __call__(self, z):
        """phi applied to an array (float64 result).

        Returns
        -------
        ndarray, shape np.shape(z) (at least 1-d)
            phi(z), float64.
        """
        z = np.array(z, dtype=np.float64, ndmin=1)
        if self.builtin:
            return _k.phi_array(self.code, z)
        return np.vectorize(self.code.py_func if hasattr(self.code, "py_func") else self.code,
                            otypes=[np.float64])(z)

    def derivative(self, z):
        """phi'(z) for an array; built-ins exactly, user functions by central differences.

        Returns
        -------
        ndarray, shape np.shape(z) (at least 1-d)
            phi'(z), float64.
        """
        z = np.array(z, dtype=np.float64, ndmin=1)
        if self.builtin:
            return _k.dphi_array(self.code, z)
        eps = 1e-6 * np.maximum(1.0, np.abs(z))
        return (self(z + eps) - self(z - eps)) / (2 * eps)


BUILTINS = {
    "tanh": Phi("tanh", _k.TANH, 1.0, False),
    "relu": Phi("relu", _k.RELU, 1.0, True),
    "sigmoid": Phi("sigmoid", _k.SIGMOID, 0.25, True),
    "softplus": Phi("softplus", _k.SOFTPLUS, 1.0, True),
    "linear": Phi("linear", _k.LINEAR, 1.0, False),
    "tanh_libm": Phi("tanh_libm", _k.TANH_LIBM, 1.0, False),
    "sigmoid_libm": Phi("sigmoid_libm", _k.SIGMOID_LIBM, 0.25, True),
    "softplus_libm": Phi("softplus_libm", _k.SOFTPLUS_LIBM, 1.0, True),
}
ALIASES = {
    "identity": "linear", "id": "linear", "none": "linear",
    "logistic": "sigmoid", "expit": "sigmoid",
    "rectified_linear": "relu", "rectifier": "relu", "threshold_linear": "relu",
}


def get_phi(phi, *, max_slope=None, nonnegative=False):
    """Resolve ``phi`` to a :class:`Phi`.

    Parameters
    ----------
    phi : str, Phi or numba-compiled function
        A built-in name (tanh, relu, sigmoid/logistic, softplus, linear/identity; the
        libm forms tanh_libm, sigmoid_libm, softplus_libm, for comparison) or a scalar
        function compiled with ``@numba.njit`` (float -> float).
    max_slope : float, optional
        For user functions: sup |phi'| (default 1.0), used only to warn about unstable dt.
    nonnegative : bool
        For user functions: whether phi >= 0 everywhere.

    Returns
    -------
    Phi
        ``phi`` itself if it is a Phi, else the built-in or a new Phi wrapping the
        function.

    Raises
    ------
    ValueError
        If phi is a string that names no built-in (the message suggests the closest).
    TypeError
        If phi is a plain Python callable (not compiled with ``@numba.njit``) or neither
        a name nor a function.

    Examples
    --------
    >>> import numba, ctrnn
    >>> ctrnn.get_phi("identity").name
    'linear'
    >>> @numba.njit
    ... def softsign(z):
    ...     return z / (1.0 + abs(z))
    >>> ctrnn.get_phi(softsign)([1.0]).tolist()
    [0.5]
    """
    if isinstance(phi, Phi):
        return phi
    if isinstance(phi, str):
        key = phi.lower().replace("-", "_")
        key = ALIASES.get(key, key)
        if key in BUILTINS:
            return BUILTINS[key]
        close = difflib.get_close_matches(key, list(BUILTINS) + list(ALIASES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown phi {phi!r}.{hint} Built-ins: {', '.join(BUILTINS)}; or pass a "
            "function compiled with @numba.njit")
    if isinstance(phi, CPUDispatcher):
        return Phi(phi.__name__, phi, 1.0 if max_slope is None else float(max_slope),
                   bool(nonnegative))
    if callable(phi):
        raise TypeError(
            f"phi={phi!r} is a plain Python callable; kernels run compiled code only. "
            "Decorate it with @numba.njit (scalar float -> float) or use a built-in name "
            f"({', '.join(BUILTINS)})")
    raise TypeError(f"phi must be a name or a @numba.njit function, got {type(phi).__name__}")
