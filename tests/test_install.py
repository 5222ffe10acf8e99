"""Installing, reinstalling and running leave nothing inside the package that could
shadow it; compiled kernels live in a per-user cache folder."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ctrnn

PACKAGE = Path(ctrnn.__file__).resolve().parent
ROOT = PACKAGE.parent


def test_compiled_kernels_are_cached_outside_the_package(tmp_path):
    cache = tmp_path / "cache"
    # the smallest kernel (a simulate would compile for ~20-40 s): every kernel is made
    # by the one jit factory, ``_kernels._jit.jit``, with the same cache locator
    code = "from ctrnn._kernels.rng import normals; print(normals(1, 0, 3))"
    before = set(PACKAGE.rglob("*.nb[ic]"))
    env = {**os.environ, "CTRNN_CACHE_DIR": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert list(cache.rglob("*.nbi")), "no kernel was cached in CTRNN_CACHE_DIR"
    assert set(PACKAGE.rglob("*.nb[ic]")) == before  # nothing written into the package


def test_a_change_to_any_kernel_source_changes_every_kernels_stamp(tmp_path, monkeypatch):
    from ctrnn._kernels import _jit

    stamp = _jit._sources_hash()
    fake = tmp_path / "_kernels"
    fake.mkdir()
    for p in _jit._KERNELS.glob("*.py"):
        (fake / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(_jit, "_KERNELS", fake)
    assert _jit._sources_hash() == stamp
    (fake / "stp.py").write_text((fake / "stp.py").read_text() + "\n# edited\n")
    assert _jit._sources_hash() != stamp


@pytest.mark.slow
@pytest.mark.parametrize("demo_first", [True, False])
def test_readme_commands_in_either_order_then_import_elsewhere(tmp_path, demo_first):
    """The README's two set-up commands on a fresh clone, in either order; `import
    ctrnn` then works from another folder (it used to find a leftover
    ctrnn/_kernels/__pycache__ as a namespace package)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    py = clone / ".venv" / "bin" / "python"
    env = {**os.environ, "CTRNN_CACHE_DIR": str(tmp_path / "cache")}
    steps = [f"{sys.executable} -m venv .venv && .venv/bin/pip install -q . && "
             ".venv/bin/ctrnn demo -n 50",
             f'{sys.executable} -m venv .venv && .venv/bin/pip install -q -e ".[test]"']
    if not demo_first:
        steps = steps[::-1]
    for cmd in steps:
        res = subprocess.run(cmd, shell=True, cwd=clone, env=env, capture_output=True,
                             text=True, timeout=1200)
        assert res.returncode == 0, res.stderr[-2000:]
    other = tmp_path / "elsewhere"
    other.mkdir()
    res = subprocess.run([str(py), "-c", "import ctrnn; print(ctrnn.simulate.__name__, "
                          "ctrnn.__file__)"], cwd=other, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "simulate" and str(clone) in res.stdout
