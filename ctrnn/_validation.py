"""Checks shared by the Python layer: every error names the argument, what was seen and
the fix."""
from __future__ import annotations

import numbers
import os

import numpy as np


def as_float_array(name, value, *, ndim=None, shape=None):
    """``value`` as a float64 array, checked for dtype, dimension, shape and finiteness.

    ``shape`` may hold None for "any length" in that axis. A single-precision number (a
    float32 or float16 scalar, 0-d array or 0-d DataArray) is the decimal it prints as
    (``scalar``): tau=np.float32(0.1) is 0.1, as dt is; arrays with an axis are taken
    as they are.
    """
    try:
        if (getattr(value, "dtype", None) in (np.float32, np.float16)
                and np.ndim(value) == 0 and not np.ma.isMaskedArray(value)):
            value = scalar(value)
        arr = np.asarray(value)
        is_complex = np.iscomplexobj(arr)  # (before the cast, which would fail or warn)
        arr = None if is_complex else np.array(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array; got {type(value).__name__} "
                        f"({exc})") from None
    if is_complex:
        raise TypeError(f"{name} must be real; got a complex value")
    if ndim is not None and arr.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a
                                         for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) \
                + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    check_finite(name, arr)
    return arr


def scalar(value):
    """A 0-d array or 0-d xarray.DataArray (of any numeric dtype) as its Python scalar,
    so that validators treat np.float32(2), np.array(2), ds.dt and 2 alike; anything
    else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    elif type(value).__name__ == "DataArray" and getattr(value, "ndim", None) == 0:
        value = value.values[()]
    if isinstance(value, (np.float32, np.float16)):
        # a single-precision number is the decimal it prints as: np.float32(0.1) is
        # 0.1, not 0.10000000149011612 (which would make duration=1.0 not a whole
        # number of steps)
        return float(str(value))
    return value.item() if isinstance(value, np.generic) else value


def nonzero(name, value, scale, what, squared=False):
    """Raise ValueError if ``value`` is zero up to rounding relative to ``scale`` (the
    size of the input it was computed from): a division by it would be noise. Rounding
    is a few hundred ulps of the scale (squared for a variance: pass ``squared`` and the
    scale itself, not its square). NaN or inf in the scale is reported as such."""
    if not np.isfinite(scale):
        raise ValueError(f"{name}: the input holds NaN or inf (a failed run's tail?); "
                         "select its finite part first")
    tol = 1e3 * np.finfo(np.float64).eps * abs(scale)
    if not abs(value) > (tol * tol if squared else tol):
        raise ValueError(f"{name} is {value:.3g}, zero up to rounding at the input's scale "
                         f"{scale:.3g}: {what}")
    return value


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


def _real(name, value, strict, fix):
    """A finite float > 0 (strict) or >= 0 (TypeError for non-numbers, ValueError
    otherwise); ``fix`` says what to pass instead (default: a generic one)."""
    value = scalar(value)
    op, kind = (">", "positive number") if strict else (">=", "number >= 0")
    fix = fix or f"pass a finite number {op} 0 as {name}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a {kind}; got {value!r}; {fix}")
    value = float(value)
    if not np.isfinite(value) or (value <= 0 if strict else value < 0):
        raise ValueError(f"{name} must be a finite number {op} 0; got {value}; {fix}")
    return value


def _whole(name, value, low, fix):
    """An integer >= low, 0 or 1 (NumPy integers, 0-d arrays and whole floats
    included); ``fix`` as in ``_real``."""
    value = scalar(value)
    fix = fix or f"pass a whole number >= {low} as {name}"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # 1000.0, or np.float32(1000.0), is a whole number
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "a positive integer" if low == 1 else "an integer >= 0"
        raise TypeError(f"{name} must be {kind}; got {value!r}; {fix}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}; {fix}")
    return int(value)


def positive_scalar(name, value, *, allow_none=False, fix=None):
    """A finite float > 0 (``_real``); None passes where allowed."""
    return None if value is None and allow_none else _real(name, value, True, fix)


def nonnegative_scalar(name, value, *, fix=None):
    """A finite float >= 0 (``_real``)."""
    return _real(name, value, False, fix)


def positive_int(name, value, *, allow_none=False, fix=None):
    """An integer >= 1 (``_whole``); None passes where allowed."""
    if value is None and allow_none:
        return None
    return _whole(name, value, 1, fix or (f"pass a whole number >= 1 as {name}"
                                          + (" (or None for the default)" if allow_none
                                             else "")))


def nonnegative_int(name, value, *, fix=None):
    """An integer >= 0 (``_whole``)."""
    return _whole(name, value, 0, fix)


def readonly(arr):
    arr.setflags(write=False)
    return arr


def _same(a, b):
    """Value equality of the fields of immutable objects: arrays by shape and content,
    sparse matrices by their CSR arrays, anything else by ==."""
    import scipy.sparse

    if scipy.sparse.issparse(a) or scipy.sparse.issparse(b):
        if not (scipy.sparse.issparse(a) and scipy.sparse.issparse(b)) or a.shape != b.shape:
            return False
        a, b = a.tocsr(), b.tocsr()
        a.sort_indices()
        b.sort_indices()
        return all(np.array_equal(x, y) for x, y in ((a.data, b.data), (a.indices, b.indices),
                                                     (a.indptr, b.indptr)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b)
    return a == b


def _canonical(a):
    """Bytes-stable form of an array for hashing: float64, -0.0 as 0.0."""
    a = np.ascontiguousarray(a)
    return a.astype(np.float64) + 0.0 if a.dtype.kind in "fiub" else a


class Immutable:
    """Base of the validated, immutable parameter objects (RateNetwork, STP): attributes
    are set once in __init__ through object.__setattr__; the objects pickle (for dask
    workers), copy and deep-copy to equal objects, compare by value and hash by content.
    Read-only arrays stay read-only through pickling."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; "
                             f"{self._IMMUTABLE_HINT}")

    _IMMUTABLE_HINT = "build a new one"

    def _fields(self):
        names = [k for c in type(self).__mro__ for k in getattr(c, "__slots__", ())
                 if k != "__weakref__"]  # a slot for weak references is no field
        return {k: getattr(self, k) for k in names}

    def __getstate__(self):
        fields = self._fields()
        readonly_names = [k for k, v in fields.items()
                          if isinstance(v, np.ndarray) and not v.flags.writeable]
        return fields, readonly_names

    def __setstate__(self, state):
        fields, readonly_names = state
        for k, v in fields.items():
            if k in readonly_names:
                v = readonly(np.array(v))
            object.__setattr__(self, k, v)

    def __copy__(self):
        return self  # immutable: a copy may be the object itself, as for tuples

    def __deepcopy__(self, memo):
        import copy

        new = object.__new__(type(self))
        memo[id(self)] = new  # two references to one object stay one object
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        a, b = self._fields(), other._fields()
        return all(_same(a[k], b[k]) for k in a)

    def __hash__(self):
        import hashlib

        h = hashlib.sha256(type(self).__name__.encode())
        for k, v in self._fields().items():
            h.update(k.encode())
            if isinstance(v, np.ndarray):  # + 0.0: -0.0 == 0.0, so they hash alike
                h.update(str(v.shape).encode() + _canonical(v).tobytes())
            elif hasattr(v, "tocsr"):
                c = v.tocsr().copy()
                c.sum_duplicates()
                c.sort_indices()
                for arr in (_canonical(c.data), c.indices, c.indptr):
                    h.update(np.ascontiguousarray(arr).tobytes())
            else:
                h.update(repr(hash(v)).encode())
        return int.from_bytes(h.digest()[:8], "little")


_MEMORY_FRACTION = 0.8  # refuse allocations larger than this fraction of available memory
# Below this many bytes ``check_bytes`` does not read the available memory (~50 us: three
# files): a machine without 16 MiB to spare fails whatever is allocated, the interpreter
# first. An explicit max_memory is always applied.
ALWAYS_FITS = 1 << 24


def _available_memory():
    """Bytes this process may still use: the smaller of MemAvailable and the cgroup's
    limit less its usage (containers, dask workers), or None if neither is known."""
    limits = []
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max",
                                    "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                raw = f.read().strip()
            with open(usage_file) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if raw.isdigit() and int(raw) < 2**60:  # "max" or a huge number: no limit
            limits.append(max(int(raw) - used, 0))
        break
    avail = _meminfo_available()
    if avail is not None:
        limits.append(avail)
    return min(limits) if limits else None


def _meminfo_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_bytes(need, what, fix, max_memory=None):
    """Raise MemoryError before allocating ``need`` bytes for ``what`` when they exceed
    ``max_memory`` (default: 80% of the available memory; not read for at most
    ``ALWAYS_FITS`` bytes), saying how to need less."""
    if max_memory is None:
        if need <= ALWAYS_FITS:
            return  # reading the system's figures cost ~50 us a call
        avail = _available_memory()
        limit = None if avail is None else int(_MEMORY_FRACTION * avail)
    else:
        limit = int(max_memory)
    if limit is not None and need > limit:
        if max_memory is None:
            raise MemoryError(f"{what} would need {need / 2**30:.2f} GiB but only "
                              f"{limit / 2**30:.2f} GiB is allowed ({_MEMORY_FRACTION:.0%} of "
                              f"the available memory); {fix}")
        raise MemoryError(f"{what} would need {need} bytes ({need / 2**30:.2f} GiB) but "
                          f"max_memory={max_memory} bytes allows less; raise max_memory, "
                          f"or {fix}")


