"""Sphinx configuration of the sklearn-mcnn documentation.

Build with ``sphinx-build -W -b html doc doc/_build/html`` from the
repository root (the package must be importable: installed, or built in
place and on ``PYTHONPATH``).  The gallery scripts in ``../examples`` are
executed by sphinx-gallery.  No extension fetches anything from the network.
"""

import os
import re
import sys
import warnings
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import sklearn_mcnn
except ImportError:  # the source tree, built in place
    sys.path.insert(0, str(ROOT))
    import sklearn_mcnn

# -- Project -----------------------------------------------------------------

project = "sklearn-mcnn"
author = "The sklearn-mcnn developers"
copyright = "2026, The sklearn-mcnn developers"  # as LICENSE says
release = sklearn_mcnn.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # MathJax from the build itself: copies MathJax 3 into _static/mathjax,
    # so formulas render without the network (a CDN, the default, does not).
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
nitpicky = False
# The default role renders `x` as inline code, as in scikit-learn's docs.
default_role = "literal"

# No intersphinx: the build must not touch the network.  Links to
# scikit-learn are written out as plain text.

# -- autodoc / autosummary / numpydoc ---------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = True
numpydoc_class_members_toctree = False
# Attributes are documented in the "Attributes" section of each class.
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- doctest -----------------------------------------------------------------

doctest_global_setup = "import numpy as np"

# -- sphinx-gallery -----------------------------------------------------------

warnings.filterwarnings(
    "ignore",
    message="Matplotlib is currently using agg",
    category=UserWarning,
)
os.environ.setdefault("MPLBACKEND", "agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_mcnn",),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "min_reported_time": 1,
    # Its summary pages load DataTables from three CDNs; each example page
    # still says how long it ran.
    "write_computation_times": False,
    "show_memory": False,
    "plot_gallery": "True",
    "capture_repr": ("_repr_html_", "__repr__"),
    # Each figure also at twice the resolution, for high-density screens.
    # The examples keep their figures at most 9.5 inches (950 pixels at 1x)
    # wide, so the page shows them at readable sizes (tests/test_docs.py).
    "image_srcset": ["2x"],
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-mcnn {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
    # Every page but the gallery's, which give that width to the figures
    # and the code (a page no pattern names has no secondary sidebar).
    "secondary_sidebar_items": {
        pattern: ["page-toc", "sourcelink"]
        for pattern in ("index", "api", "glossary", "user_guide/*", "generated/*",
                        "_modules/**")
    },
}
html_sidebars = {"index": []}
html_show_sourcelink = True
html_copy_source = True

# -- Benchmark tables ----------------------------------------------------------

RESULTS_DIR = ROOT / "benchmarks" / "results"


def _inline_md_to_rst(text):
    """Markdown inline text (code spans, bold) to escaped reStructuredText."""
    out = []
    for part in re.split(r"(`[^`]+`|\*\*[^*]+\*\*)", text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(r"\ ``" + part[1:-1] + r"``\ ")
        elif part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append(r"\ **" + _escape(part[2:-2]) + r"**\ ")
        else:
            out.append(_escape(part))
    return "".join(out).strip() or r"\ "


def _escape(text):
    return re.sub(r"([\\*_`|<>\[\]])", r"\\\1", text)


def markdown_results_to_rst(path):
    """reStructuredText for one ``benchmarks/results/*.md`` file.

    Pipe tables become ``list-table`` directives, fenced code blocks literal
    blocks, other lines paragraphs or bullet items, so the tables in the docs
    are the files' tables.
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    rst, table = [], []
    in_code = False

    def flush_table():
        if not table:
            return
        rows = [[c.strip() for c in row.strip().strip("|").split("|")]
                for row in table
                if not re.fullmatch(r"\|?[\s:|-]+\|?", row.strip())]
        rst.extend(["", ".. list-table::", "   :header-rows: 1",
                    "   :class: benchmark-table", ""])
        for row in rows:
            for k, cell in enumerate(row):
                lead = "   * - " if k == 0 else "     - "
                rst.append(lead + _inline_md_to_rst(cell))
        rst.append("")
        table.clear()

    for line in lines:
        if line.strip().startswith("```"):
            flush_table()
            in_code = not in_code
            rst.extend(["", ".. code-block:: text", ""] if in_code else [""])
            continue
        if in_code:
            rst.append("   " + line)
            continue
        if line.strip().startswith("|"):
            table.append(line)
            continue
        flush_table()
        stripped = line.strip()
        if stripped.startswith("- "):
            rst.append("- " + _inline_md_to_rst(stripped[2:]))
        elif stripped.startswith("!["):
            match = re.match(r"!\[(.*?)\]\((.*?)\)", stripped)
            if match:
                image = (Path(path).parent / match.group(2)).resolve()
                rst.extend(["", f".. image:: /{os.path.relpath(image, HERE)}",
                            f"   :alt: {match.group(1)}", ""])
        elif stripped:
            rst.append(_inline_md_to_rst(stripped))
        else:
            rst.append("")
    flush_table()
    return rst


class BenchmarkResults(SphinxDirective):
    """``.. benchmark-results::``: every ``benchmarks/results/*.md``, rendered.

    Each file is read at build time (and registered as a dependency), so
    the docs always show the tables the benchmark scripts last wrote.
    """

    has_content = False

    def run(self):
        files = sorted(RESULTS_DIR.glob("*.md"))
        if not files:
            para = nodes.paragraph(text="No benchmark results have been recorded "
                                        "yet (benchmarks/results/ is empty).")
            return [para]
        rst = []
        for path in files:
            self.env.note_dependency(str(path))
            title = f"``benchmarks/results/{path.name}``"
            rst.extend([".. rubric:: " + title, ""])
            rst.extend(markdown_results_to_rst(path))
            for png in sorted(RESULTS_DIR.glob(path.stem + "*.png")):
                self.env.note_dependency(str(png))
                rst.extend(["", f".. image:: /{os.path.relpath(png, HERE)}",
                            f"   :alt: {png.name}", "   :width: 100%", ""])
            rst.append("")
        container = nodes.container()
        self.state.nested_parse(StringList(rst, source=str(RESULTS_DIR)),
                                self.content_offset, container)
        return container.children


_SHAPE = re.compile(r"(of shape \()([^)]*)(\))")
_BARE_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])(\w+_)(?![`\w])")


def quote_shape_names(app, what, name, obj, options, lines):
    """Quote attribute names in "of shape (...)" (``(n_features_in_,)``).

    In reStructuredText a bare word ending in ``_`` is a hyperlink
    reference, so ``(n_features_in_,)`` fails the build; scikit-learn's
    docstrings write ``(`n_features_in_`,)``. This makes both forms build.
    """
    for k, line in enumerate(lines):
        lines[k] = _SHAPE.sub(
            lambda m: m.group(1)
            + _BARE_TRAILING_UNDERSCORE.sub(r"`\1`", m.group(2))
            + m.group(3),
            line,
        )


def setup(app):
    app.add_directive("benchmark-results", BenchmarkResults)
    # After numpydoc (priority 500) has turned the docstring into rst.
    app.connect("autodoc-process-docstring", quote_shape_names, priority=600)
