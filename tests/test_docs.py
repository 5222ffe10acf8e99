"""Every example in the docstrings and in README.md runs and prints what it shows."""
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import ctrnn

MODULES = sorted(m.name for m in pkgutil.walk_packages(ctrnn.__path__, "ctrnn."))
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("name", ["ctrnn"] + MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=FLAGS)
    assert res.failed == 0


def test_readme_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the README writes files
    readme = Path(__file__).resolve().parents[1] / "README.md"
    res = doctest.testfile(str(readme), module_relative=False, optionflags=FLAGS)
    assert res.failed == 0 and res.attempted > 5


def test_every_public_function_has_an_example():
    for name in ctrnn.__all__:
        obj = getattr(ctrnn, name)
        if callable(obj) and not isinstance(obj, type(ctrnn)):
            assert ">>>" in (obj.__doc__ or ""), name
