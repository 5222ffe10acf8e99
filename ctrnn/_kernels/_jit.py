"""The one jit factory every kernel goes through.

- ``cache=True``: compiled machine code is kept on disk beside the module, so a second
  process starts in well under a second.
- fastmath WITHOUT ``nnan``/``ninf``: we must see NaN and inf to report a blow-up.
  ``reassoc`` is left out too, so that a sum is evaluated in source order and a chunked
  run equals an unchunked one bit for bit.
- ``error_model="numpy"``: float division by zero gives inf/NaN as in NumPy instead of
  raising; without it Numba guards every division with a branch and LLVM cannot
  vectorise loops that divide (our tanh, for one).
- ``nogil=True``: kernels release the GIL so threads (and dask workers) run in parallel.

Note for developers: Numba's cache keys a function on its own source file only. After
editing a helper module in this package, delete ``ctrnn/**/__pycache__`` (or set
``NUMBA_CACHE_DIR``) so that kernels that inline the helper are recompiled.
"""
import numba

FASTMATH = frozenset({"contract", "arcp", "nsz"})


def jit(*args, **kwargs):
    """``numba.njit`` with the project's settings (see module docstring)."""
    opts = dict(cache=True, fastmath=set(FASTMATH), error_model="numpy", nogil=True)
    opts.update(kwargs)
    if args and callable(args[0]):
        return numba.njit(**opts)(args[0])
    return numba.njit(*args, **opts)
