"""The kernel cache shared by processes (``_kernels._jit.LockedCacheFile``): Numba names a
new entry's data file from the index it has read, so two processes saving different
signatures of one kernel at once could leave the index naming the other's code. Each
save and load runs under an exclusive lock."""
import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap
import threading
import time

import numba
import pytest

import ctrnn._kernels
from ctrnn._kernels import _jit, rk, split

fcntl = pytest.importorskip("fcntl")


def _dispatchers():
    import ctrnn.tasks.series
    modules = [importlib.import_module(f"ctrnn._kernels.{m.name}")
               for m in pkgutil.iter_modules(ctrnn._kernels.__path__)]
    return [obj for mod in modules + [ctrnn.tasks.series] for obj in vars(mod).values()
            if isinstance(obj, numba.core.registry.CPUDispatcher)
            and obj.py_func.__module__ == mod.__name__]


@pytest.mark.skipif(_jit._ROOT is None, reason="no usable cache folder: nothing cached")
def test_every_cached_kernel_saves_and_loads_under_the_lock():
    kernels = _dispatchers()
    assert len(kernels) > 50 and rk.leaky_run in kernels and split.leaky_split in kernels
    for k in kernels:
        assert type(k._cache._cache_file) is _jit.LockedCacheFile, k.py_func.__qualname__


def _cache_file(path):
    return _jit.LockedCacheFile(cache_path=str(path), filename_base="kernel",
                                source_stamp="stamp")


def test_a_save_waits_for_the_lock(tmp_path):
    cf = _cache_file(tmp_path)
    done = threading.Event()
    with open(cf._index_path + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another process, as it were, is saving
        t = threading.Thread(target=lambda: (cf.save("key", [1, 2]), done.set()))
        t.start()
        time.sleep(0.3)
        assert not done.is_set() and not os.path.exists(cf._index_path)
        fcntl.flock(f, fcntl.LOCK_UN)
    t.join(10)
    assert done.is_set() and cf.load("key") == [1, 2]


_SAVER = textwrap.dedent("""
    import os, sys, time
    from ctrnn._kernels import _jit
    path, who, go = sys.argv[1], sys.argv[2], sys.argv[3]
    cf = _jit.LockedCacheFile(cache_path=path, filename_base="kernel", source_stamp="stamp")
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(150):
        cf.save((who, i), (who, i))
""")


def test_two_processes_saving_at_once_keep_every_entry_with_its_own_data(tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _SAVER, str(tmp_path), who, str(go)],
                              stdout=subprocess.PIPE, text=True) for who in ("a", "b")]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    for p in procs:
        assert p.wait(120) == 0
    cf = _cache_file(tmp_path)
    for who in ("a", "b"):
        for i in range(150):
            assert cf.load((who, i)) == (who, i)
