#!/bin/sh
# Brian2 2.9 does not import with numpy >= 2 (it uses ndarray.ptp), so it gets a virtual
# environment of its own, benchmarks/.brian2-venv, which bench_core.py uses when present.
# Its cython target needs a C compiler (cc).
set -e
here=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$here/.brian2-venv"
"$here/.brian2-venv/bin/pip" install --quiet "brian2==2.9.*" "numpy<2" "cython<3.2" setuptools
"$here/.brian2-venv/bin/python" -c "import brian2; print('brian2', brian2.__version__)"
