"""The one jit factory every kernel goes through, and where its compiled code is kept.

- ``cache=True``: compiled machine code is kept on disk, so a second process starts in
  well under a second. It is kept in a per-user cache folder, never inside the package
  (see ``KernelCacheLocator``): files written into an installed package survive an
  uninstall, and a leftover ``ctrnn/_kernels/__pycache__`` turns into a namespace
  package that shadows a later (editable) install.
- fastmath WITHOUT ``nnan``/``ninf``: we must see NaN and inf to report a blow-up.
  ``reassoc`` is left out too, so that a sum is evaluated in source order and a chunked
  run equals an unchunked one bit for bit.
- ``error_model="numpy"``: float division by zero gives inf/NaN as in NumPy instead of
  raising; without it Numba guards every division with a branch and LLVM cannot
  vectorise loops that divide (our tanh, for one).
- ``nogil=True``: kernels release the GIL so threads (and dask workers) run in parallel.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import numba
from numba.core import caching

FASTMATH = frozenset({"contract", "arcp", "nsz"})


def jit(*args, **kwargs):
    """``numba.njit`` with the project's settings (see module docstring)."""
    opts = dict(cache=True, fastmath=set(FASTMATH), error_model="numpy", nogil=True)
    opts.update(kwargs)
    if args and callable(args[0]):
        return numba.njit(**opts)(args[0])
    return numba.njit(*args, **opts)


_PACKAGE = Path(__file__).resolve().parents[1]  # the ctrnn package folder
_KERNELS = Path(__file__).resolve().parent


def _sources_hash():
    """SHA-256 of every kernel source file: a kernel inlines helpers from other modules,
    so a change to any of them must recompile all (Numba alone stamps a kernel with its
    own file only)."""
    h = hashlib.sha256()
    for path in sorted(_KERNELS.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.digest()


def cache_root():
    """Where compiled kernels are kept: $CTRNN_CACHE_DIR, else $XDG_CACHE_HOME/ctrnn, else
    ~/.cache/ctrnn; one subfolder per install location (``numba`` names it by a hash of
    the source folder)."""
    root = os.environ.get("CTRNN_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        root = os.path.join(base, "ctrnn")
    return os.path.join(root, "numba")


class KernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for ctrnn's own kernels (and nothing else): cache files go to
    ``cache_root()`` (or, if that cannot be written, a per-user folder in the temporary
    directory), stamped with the hashes of the function's file and of all kernel
    sources. A user's NUMBA_CACHE_DIR still wins."""

    _stamp = None

    def __init__(self, py_func, py_file, root):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        """The function's own file and every kernel source file."""
        if KernelCacheLocator._stamp is None:
            KernelCacheLocator._stamp = _sources_hash()
        return (super().get_source_stamp(), KernelCacheLocator._stamp)

    @classmethod
    def from_function(cls, py_func, py_file):
        if numba.config.CACHE_DIR or not os.path.exists(py_file):
            return None
        if _PACKAGE not in Path(py_file).resolve().parents:
            return None
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        fallback = os.path.join(tempfile.gettempdir(), f"ctrnn-cache-{uid}", "numba")
        for root in (cache_root(), fallback):
            self = cls(py_func, py_file, root)
            try:
                self.ensure_cache_path()
            except OSError:
                continue
            return self
        return None


_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in numba 0.6x
if KernelCacheLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, KernelCacheLocator)
