"""Documentation tests: numpydoc validation of the public API, and the docs build.

The docstring test follows scikit-learn's ``sklearn/tests/test_docstrings.py``:
every public class, every public method (inherited ones included, as
scikit-learn does) and every public function is run through
``numpydoc.validate.validate``, and only the error codes scikit-learn
ignores are ignored (see :func:`_filter_errors`).

The Examples sections of the public docstrings are run as doctests.

The build tests (marked ``slow``) run ``sphinx-build -W`` on ``doc/`` once,
with the sphinx-gallery examples executed, check that the gallery produced
its figures, run Sphinx's doctest builder over the pages, and open built
pages in headless Chromium with the network blocked: the formulas are
typeset (MathJax ships inside the build), no code block scrolls sideways,
and the gallery's figures are shown at a readable scale.
"""

import inspect
import json
import os
import re
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


# =========================================================================
# The built docs (slow): one build, then what a reader's browser shows
# =========================================================================


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """``sphinx-build -W`` of ``doc/`` with the gallery executed: the
    HTML folder and the build's own folder."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    pytest.importorskip("pydata_sphinx_theme")
    pytest.importorskip("matplotlib")
    tmp_path = tmp_path_factory.mktemp("docs")
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
    return out, tmp_path


@pytest.mark.slow
def test_docs_build(built_docs):
    """``sphinx-build -W`` builds the docs, gallery executed, with its figures."""
    out, tmp_path = built_docs
    assert (out / "index.html").exists()
    # The ``>>>`` examples of the pages and of the API reference run too.
    doctest_run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "doctest", "-D", "plot_gallery=0",
         str(tmp_path / "src" / "doc"), str(tmp_path / "doctest")],
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


@pytest.mark.slow
def test_built_pages_load_nothing_from_the_network(built_docs):
    """No script, style sheet or font of the built pages comes from another
    host (the default MathJax path is a CDN)."""
    out, _ = built_docs
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']"""
                        r"""(?:https?:)?//""")
    for page in out.rglob("*.html"):
        hits = remote.findall(page.read_text(encoding="utf-8"))
        assert not hits, f"{page.relative_to(out)} loads {hits}"
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()


def _chromium():
    """The headless browser, or a skip (a failure on CI, which installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("CI must have Chromium (.ci/run installs it)")
    pytest.skip("needs Chromium (Debian: apt-get install chromium)")


#: Run in the page after it loaded and MathJax typeset it: what the reader
#: sees, written into the DOM for ``--dump-dom``.
RENDERED_FACTS_JS = r"""
window.addEventListener("load", function () {
  function facts() {
    var raw = [];
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var skip = node.parentElement.closest(
        "pre, code, script, style, mjx-container, .highlight");
      if (!skip && /\\\(|\\\[/.test(node.nodeValue)) {
        raw.push(node.nodeValue.trim().slice(0, 80));
      }
    }
    var wide = [];
    document.querySelectorAll("pre").forEach(function (pre) {
      if (pre.scrollWidth > pre.clientWidth + 1) {
        wide.push(pre.textContent.slice(0, 80));
      }
    });
    var images = [];
    document.querySelectorAll("img").forEach(function (img) {
      if (img.naturalWidth) {
        images.push([img.getAttribute("src"), img.width, img.naturalWidth]);
      }
    });
    var out = document.createElement("script");
    out.type = "application/json";
    out.id = "rendered-facts";
    out.textContent = JSON.stringify({
      math: document.querySelectorAll("mjx-container").length,
      raw_tex: raw, wide_code: wide, images: images});
    document.body.appendChild(out);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(facts, facts);
  } else {
    facts();
  }
});
"""


def _rendered(page, width=1280):
    """Open ``page`` (a file) in headless Chromium with every host unreachable
    and return what it rendered: the number of typeset formulas, raw TeX
    left in the text, code blocks that scroll sideways, and each image's
    shown and natural widths."""
    html = page.read_text(encoding="utf-8")
    probe = page.with_name(page.stem + ".probe.html")  # same folder: same links
    probe.write_text(html.replace(
        "</body>", f"<script>{RENDERED_FACTS_JS}</script></body>"), encoding="utf-8")
    try:
        completed = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             # No network: every host name fails, any proxy is a dead port.
             "--host-resolver-rules=MAP * ~NOTFOUND",
             "--proxy-server=http://127.0.0.1:9",
             f"--window-size={width},900", "--virtual-time-budget=15000",
             "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        probe.unlink()
    match = re.search(r'<script type="application/json" id="rendered-facts">'
                      r"(.*?)</script>", completed.stdout, re.S)
    assert match, completed.stdout[-2000:] + completed.stderr[-2000:]
    return json.loads(match.group(1))


@pytest.mark.slow
def test_offline_browser_cannot_reach_a_cdn(tmp_path):
    """The control: a page that takes MathJax from its CDN shows raw TeX in
    the test's browser, so the network is really blocked there."""
    page = tmp_path / "cdn.html"
    page.write_text(
        "<html><head><script defer src='https://cdn.jsdelivr.net/npm/mathjax@3/"
        "es5/tex-chtml.js'></script></head><body><p>\\(x^2\\)</p></body></html>",
        encoding="utf-8")
    facts = _rendered(page)
    assert facts["math"] == 0 and facts["raw_tex"] == ["\\(x^2\\)"], facts


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "user_guide/softmax.html", "user_guide/optimization.html",
    "user_guide/neural_networks.html", "auto_examples/plot_predict_sample.html",
])
def test_math_renders_offline(built_docs, name):
    """The formulas are typeset by the MathJax of the build itself, with
    the network blocked: MathJax's elements, no raw ``\\(...\\)`` left."""
    out, _ = built_docs
    facts = _rendered(out / name)
    assert facts["math"] > 0, facts
    assert facts["raw_tex"] == [], facts


@pytest.mark.slow
def test_gallery_code_and_figures_fit_the_page(built_docs):
    """In a laptop's window (1280 pixels wide): no code block of any page
    (gallery, user guide, API reference) scrolls sideways, and every figure
    of the gallery is shown at 70 % of its size or more (text of 10 points
    stays readable)."""
    out, _ = built_docs
    pages = [out / "index.html",
             *sorted((out / "auto_examples").glob("plot_*.html")),
             *sorted((out / "user_guide").glob("*.html")),
             *sorted((out / "generated").glob("*.html"))]
    assert len(pages) >= 20
    for page in pages:
        facts = _rendered(page, width=1280)
        assert facts["wide_code"] == [], (page.name, facts["wide_code"])
        for src, shown, natural in facts["images"]:
            if "sphx_glr_" in src and "thumb" not in src:
                assert shown >= 0.7 * natural, (page.name, src, shown, natural)
