"""Documentation tests: numpydoc validation of the public API, and the docs build.

The docstring test follows scikit-learn's ``sklearn/tests/test_docstrings.py``:
every public class, every public method (inherited ones included, as
scikit-learn does) and every public function is run through
``numpydoc.validate.validate``, and only the error codes scikit-learn
ignores are ignored (see :func:`_filter_errors`).

The Examples sections of the public docstrings are run as doctests.

The build test (marked ``slow``) runs ``sphinx-build -W`` on ``doc/`` with
the sphinx-gallery examples executed, checks that the gallery produced its
figures, and runs Sphinx's doctest builder over the pages.
"""

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_mcnn
import sklearn_mcnn.utils

DOC_DIR = Path(__file__).parent.parent / "doc"
EXAMPLES_DIR = Path(__file__).parent.parent / "examples"

PUBLIC_CLASSES = [getattr(sklearn_mcnn, name) for name in sklearn_mcnn.__all__
                  if inspect.isclass(getattr(sklearn_mcnn, name))]
PUBLIC_FUNCTIONS = [getattr(sklearn_mcnn.utils, name)
                    for name in sklearn_mcnn.utils.__all__]


def _public_methods(klass):
    """Public callables and properties of `klass`, and None for the class."""
    names = []
    for name in dir(klass):
        if name.startswith("_"):
            continue
        obj = getattr(klass, name, None)
        if callable(obj) or isinstance(obj, property):
            names.append(name)
    return [None, *sorted(names)]


def _class_cases():
    for klass in PUBLIC_CLASSES:
        for method in _public_methods(klass):
            label = klass.__name__ + ("" if method is None else f".{method}")
            yield pytest.param(klass, method, id=label)


def _filter_errors(errors, method, klass=None):
    """Drop the error codes scikit-learn's own docstring test drops.

    - RT02 (the Returns line should hold the type only): we name the
      returned object, as scikit-learn does.
    - GL01, GL02 (blank lines around the summary): style only.
    - PR02, GL08 on properties: their signatures cannot be parsed.
    - ES01, SA01, EX01 (extended summary, See Also, Examples) on methods
      only: classes and functions must have them.
    """
    for code, message in errors:
        if code in ("RT02", "GL01", "GL02"):
            continue
        if (code in ("PR02", "GL08") and klass is not None and method is not None
                and isinstance(getattr(klass, method), property)):
            continue
        if method is not None and code in ("EX01", "SA01", "ES01"):
            continue
        yield code, message


def _report(result, name, errors):
    lines = "\n".join(f" - {code}: {message}" for code, message in errors)
    return (f"\n\n{result['file']}\n{name}\n\n{result['docstring']}\n"
            f"# Errors\n{lines}")


@pytest.mark.parametrize("klass, method", list(_class_cases()))
def test_class_and_method_docstrings(klass, method):
    validate = pytest.importorskip("numpydoc.validate").validate
    path = f"{klass.__module__}.{klass.__name__}"
    if method is not None:
        path += f".{method}"
    result = validate(path)
    errors = list(_filter_errors(result["errors"], method, klass))
    assert not errors, _report(result, path, errors)


@pytest.mark.parametrize(
    "function", PUBLIC_FUNCTIONS, ids=lambda f: f"{f.__module__}.{f.__name__}"
)
def test_function_docstrings(function):
    validate = pytest.importorskip("numpydoc.validate").validate
    path = f"{function.__module__}.{function.__name__}"
    result = validate(path)
    errors = list(_filter_errors(result["errors"], method="function"))
    assert not errors, _report(result, path, errors)


def _examples_cases():
    for obj in [*PUBLIC_CLASSES, *PUBLIC_FUNCTIONS]:
        yield pytest.param(obj, id=f"{obj.__module__}.{obj.__name__}")
        if inspect.isclass(obj):
            for name in _public_methods(obj)[1:]:
                member = getattr(obj, name)
                if getattr(member, "__doc__", None) and ">>>" in member.__doc__:
                    yield pytest.param(member, id=f"{obj.__name__}.{name}")


@pytest.mark.parametrize("obj", list(_examples_cases()))
def test_docstring_examples(obj):
    """The Examples sections run and print what they show (doctest)."""
    import doctest
    import warnings

    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE
                                   | doctest.ELLIPSIS)
    tests = finder.find(obj, getattr(obj, "__qualname__", obj.__name__),
                        globs={})
    output = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an example must not warn either
        for test in tests:
            runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


def test_every_public_object_is_documented_in_api_rst():
    """``doc/api.rst`` lists every public class and function."""
    api = (DOC_DIR / "api.rst").read_text(encoding="utf-8")
    for obj in [*PUBLIC_CLASSES, *PUBLIC_FUNCTIONS]:
        assert obj.__name__ in api, f"{obj.__name__} is missing from doc/api.rst"


@pytest.mark.slow
def test_docs_build(tmp_path):
    """``sphinx-build -W`` builds the docs, gallery executed, with its figures."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    pytest.importorskip("pydata_sphinx_theme")
    pytest.importorskip("matplotlib")
    # sphinx-gallery writes its generated pages into the source tree; build
    # a copy so that the test leaves the repository untouched.
    source = tmp_path / "src"
    shutil.copytree(DOC_DIR, source / "doc", ignore=shutil.ignore_patterns(
        "_build", "auto_examples", "generated", "sg_execution_times.rst"))
    shutil.copytree(EXAMPLES_DIR, source / "examples")
    shutil.copytree(DOC_DIR.parent / "benchmarks" / "results",
                    source / "benchmarks" / "results")
    out = tmp_path / "html"
    # cwd: not a source checkout's root, whose unbuilt sklearn_mcnn/ would
    # shadow the installed package (``python -m`` puts the cwd first).
    completed = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         str(source / "doc"), str(out)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr
    assert (out / "index.html").exists()
    # The ``>>>`` examples of the pages and of the API reference run too.
    doctest_run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "doctest", "-D", "plot_gallery=0",
         str(source / "doc"), str(tmp_path / "doctest")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert doctest_run.returncode == 0, doctest_run.stdout[-5000:]
    scripts = sorted(EXAMPLES_DIR.glob("plot_*.py"))
    assert scripts
    images = out / "_images"
    for script in scripts:
        figures = list(images.glob(f"sphx_glr_{script.stem}_*.png"))
        assert figures, f"the gallery has no figure of {script.name}"
        assert (out / "auto_examples" / f"{script.stem}.html").exists()
