"""The one jit factory every kernel goes through, and where its compiled code is kept.

- ``cache=True``: compiled machine code is kept on disk, so a second process starts in
  well under a second. It is kept in a per-user cache folder, never inside the package
  (see ``KernelCacheLocator``): files written into an installed package survive an
  uninstall, and a leftover ``ctrnn/_kernels/__pycache__`` turns into a namespace
  package that shadows a later (editable) install.
- fastmath WITHOUT ``nnan``/``ninf``: we must see NaN and inf to report a blow-up.
  ``reassoc`` is left out too, so that a sum is evaluated in source order and a chunked
  run equals an unchunked one bit for bit. One exception: the sparse product
  (``rhs.recurrent``) reassociates each row's sum, whose order then depends on the row's
  length alone, so that runs still equal each other bit for bit.
- ``error_model="numpy"``: float division by zero gives inf/NaN as in NumPy instead of
  raising; without it Numba guards every division with a branch and LLVM cannot
  vectorise loops that divide (our tanh, for one).
- ``nogil=True``: kernels release the GIL so threads (and dask workers) run in parallel.
"""
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numba
from numba.core import caching

FASTMATH = frozenset({"contract", "arcp", "nsz"})


def jit(*args, **kwargs):
    """``numba.njit`` with the project's settings (see module docstring)."""
    # no usable cache folder: compile in each process rather than cache in the package
    opts = dict(cache=_ROOT is not None, fastmath=set(FASTMATH), error_model="numpy",
                nogil=True)
    opts.update(kwargs)
    if args and callable(args[0]):
        return _lock_cache(numba.njit(**opts)(args[0]))
    decorate = numba.njit(*args, **opts)
    return lambda fn: _lock_cache(decorate(fn))


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
    """Where compiled kernels are kept: NUMBA_CACHE_DIR if the user set one, else
    $CTRNN_CACHE_DIR, else $XDG_CACHE_HOME/ctrnn, else ~/.cache/ctrnn (absolute paths
    only); then a per-user folder in the temporary directory that only this user can
    write. None when none of them is usable: the kernels are then compiled in every
    process, never cached inside the package."""
    candidates = []
    if numba.config.CACHE_DIR:
        candidates.append(numba.config.CACHE_DIR)
    if os.environ.get("CTRNN_CACHE_DIR"):
        candidates.append(os.path.join(os.environ["CTRNN_CACHE_DIR"], "numba"))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    candidates.append(os.path.join(base, "ctrnn", "numba"))
    for root in candidates:
        if os.path.isabs(root) and _usable(root):
            return root
    uid = os.getuid() if hasattr(os, "getuid") else None
    private = os.path.join(tempfile.gettempdir(), f"ctrnn-cache-{uid}")
    if uid is not None and _usable(private, private=True):
        return os.path.join(private, "numba")
    return None


def _usable(root, private=False):
    """The folder exists or can be made, and can be written; ``private``: it must also
    belong to this user and be closed to everyone else (a world-writable temporary
    directory is shared, and Numba loads what it finds in a cache folder)."""
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        if private:
            st = os.stat(root)
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                return False
        tempfile.TemporaryFile(dir=root).close()
        return True
    except OSError:
        return False


class KernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for ctrnn's own kernels (and nothing else): cache files go to
    ``cache_root()``, stamped with the hashes of the function's file and of all kernel
    sources and with the NumPy version (the cache outlives a virtual environment)."""

    _stamp = None

    def __init__(self, py_func, py_file, root):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        """The function's own file, every kernel source file, NumPy's version."""
        if KernelCacheLocator._stamp is None:
            import numpy

            KernelCacheLocator._stamp = (_sources_hash(), numpy.__version__)
        return (super().get_source_stamp(), KernelCacheLocator._stamp)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.exists(py_file) or _PACKAGE not in Path(py_file).resolve().parents:
            return None
        root = _ROOT
        if root is None:
            return None
        self = cls(py_func, py_file, root)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


_ROOT = cache_root()
_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in numba 0.6x
if KernelCacheLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, KernelCacheLocator)


class LockedCacheFile(caching.IndexDataCacheFile):
    """Numba's index and data files of one kernel, each save and load under an exclusive
    lock (``flock`` on a file beside the index; POSIX only, elsewhere unlocked).

    Why: Numba names a new entry's data file from the index it has just read, then
    writes the index and the data, each file atomically but not the two together. Two
    processes saving different signatures of one kernel at once (the test suite's two
    workers, dask workers compiling the same kernel for float32 and float64) could
    both take the name ``*.1.nbc``: the index then names one signature's machine code
    for the other, loaded without a check (numba/numba#10128)."""

    def save(self, key, data):
        with _locked(self._index_path):
            super().save(key, data)

    def load(self, key):
        with _locked(self._index_path):
            return super().load(key)


@contextlib.contextmanager
def _locked(index_path):
    """An exclusive ``flock`` on index_path + ".lock" while the block runs; no lock
    where there is no fcntl or the lock file cannot be opened."""
    try:
        import fcntl
        f = open(index_path + ".lock", "a")
    except (ImportError, OSError):
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lock_cache(dispatcher):
    """Make a cached dispatcher's index and data files a ``LockedCacheFile``."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if type(cache_file) is caching.IndexDataCacheFile:
        cache_file.__class__ = LockedCacheFile
    return dispatcher
