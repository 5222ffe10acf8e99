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


def _public_callables():
    """(qualified name, function) of every public function and method of every public
    module (modules and names without a leading underscore)."""
    import inspect

    mods = ["ctrnn"] + [m for m in MODULES
                        if not any(p.startswith("_") for p in m.split(".")[1:])]
    for mn in mods:
        mod = importlib.import_module(mn)
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mn:
                continue
            if inspect.isfunction(obj):
                yield f"{mn}.{name}", obj, obj
            elif inspect.isclass(obj):
                init = vars(obj).get("__init__")
                if inspect.isfunction(init) or inspect.isfunction(vars(obj).get("__post_init__")):
                    yield f"{mn}.{name}", obj, init or vars(obj)["__post_init__"]
                for mname, meth in vars(obj).items():
                    if not mname.startswith("_") and inspect.isfunction(meth):
                        yield f"{mn}.{name}.{mname}", meth, meth


def test_every_public_function_that_raises_says_so():
    """numpydoc: a function (or class, for its __init__) with a raise statement documents
    it in a Raises section."""
    import ast
    import inspect
    import textwrap

    missing = []
    for qn, documented, code in _public_callables():
        try:
            src = textwrap.dedent(inspect.getsource(code))
        except (OSError, TypeError):
            continue
        raises = any(isinstance(n, ast.Raise) for n in ast.walk(ast.parse(src)))
        doc = inspect.getdoc(documented) or ""
        if raises and "Raises\n------" not in doc:
            missing.append(qn)
    assert not missing, f"no Raises section: {missing}"
