"""Checks shared by the Python layer: every error names the argument, what was seen and
the fix."""
from __future__ import annotations

import numbers

import numpy as np


def as_float_array(name, value, *, ndim=None, shape=None):
    """``value`` as a float64 array, checked for dtype, dimension, shape and finiteness.

    ``shape`` may hold None for "any length" in that axis.
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array; got {type(value).__name__} "
                        f"({exc})") from None
    if np.iscomplexobj(value):
        raise TypeError(f"{name} must be real; got a complex array")
    if ndim is not None and arr.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a
                                         for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    check_finite(name, arr)
    return arr


def check_finite(name, arr):
    """Raise ValueError naming the first NaN/inf entry of ``arr``."""
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        where = f" at index {idx}" if idx else ""
        raise ValueError(f"{name} contains {n_bad} non-finite value(s) (NaN or inf), the "
                         f"first{where}: {arr[idx] if idx else arr}; all entries must be finite")


def per_neuron(name, value, n, *, positive=False, nonnegative=False):
    """A scalar or an (n,) array -> float64 (n,) array, with sign checks."""
    arr = as_float_array(name, value)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    elif arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},) (one value per "
                         f"neuron); got shape {arr.shape}")
    if positive and np.any(arr <= 0):
        i = int(np.argmax(arr <= 0))
        raise ValueError(f"{name} must be > 0; got {arr[i]} (neuron {i})")
    if nonnegative and np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        raise ValueError(f"{name} must be >= 0; got {arr[i]} (neuron {i})")
    return arr


def positive_scalar(name, value, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return value


def nonnegative_scalar(name, value):
    """A finite float >= 0 (TypeError for non-numbers, ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")
    return value


def positive_int(name, value, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")
    return int(value)


def readonly(arr):
    arr.setflags(write=False)
    return arr
