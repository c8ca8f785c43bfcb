"""The habits of a maintained package: one version, the declared licence,
and the same lint tools for pre-commit and CI."""

import re
from importlib.metadata import distributions
from pathlib import Path

import sklearn_mcnn

ROOT = Path(__file__).resolve().parent.parent


def _read(name):
    return (ROOT / name).read_text(encoding="utf-8")


def test_version_has_one_source():
    """``sklearn_mcnn.__version__`` is the version everywhere: the installed
    metadata (pyproject.toml's dynamic version), the docs, the changelog."""
    assert re.search(r'(?m)^dynamic = \["version"\]', _read("pyproject.toml"))
    assert re.search(r'(?m)^version = \{attr = "sklearn_mcnn.__version__"\}',
                     _read("pyproject.toml"))
    # The installed metadata (not a build's sklearn_mcnn.egg-info left in
    # the checkout, which the current directory may put first).
    installed = [dist for dist in distributions(name="sklearn-mcnn")
                 if ROOT not in Path(dist.locate_file("x")).resolve().parents]
    assert installed, "sklearn-mcnn is not installed"
    assert installed[0].version == sklearn_mcnn.__version__, (
        "the installed metadata is stale: reinstall the package")
    assert re.search(r"(?m)^release = sklearn_mcnn.__version__$",
                     _read("doc/conf.py"))
    # The changelog's newest section is this version (a .dev version: the
    # release it leads to, marked unreleased).
    newest = re.search(r"(?m)^## (.+)$", _read("CHANGELOG.md")).group(1)
    released = re.sub(r"\.dev\d+$", "", sklearn_mcnn.__version__)
    if released != sklearn_mcnn.__version__:
        assert newest == f"{released} (unreleased)", newest
    else:
        assert newest.split()[0] == released, newest


def test_licence_is_the_declared_bsd_3_clause():
    text = " ".join(_read("LICENSE").split())
    assert text.startswith("BSD 3-Clause License Copyright (c) ")
    for clause in (
        "1. Redistributions of source code must retain the above copyright "
        "notice, this list of conditions and the following disclaimer.",
        "2. Redistributions in binary form must reproduce the above copyright "
        "notice, this list of conditions and the following disclaimer in the "
        "documentation and/or other materials provided with the distribution.",
        "3. Neither the name of the copyright holder nor the names of its "
        "contributors may be used to endorse or promote products derived from "
        "this software without specific prior written permission.",
        'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"',
    ):
        assert clause in text, clause
    assert re.search(r'(?m)^license = "BSD-3-Clause"$', _read("pyproject.toml"))
    holder = re.search(r"Copyright \(c\) (.+)", _read("LICENSE")).group(1)
    assert f'copyright = "{holder}"' in _read("doc/conf.py")


def test_pre_commit_and_ci_run_the_same_lint_versions():
    pins = re.compile(r"\b(ruff|cython-lint)==([\w.]+)")
    ci = dict(pins.findall(_read(".ci/run")))
    pre_commit = dict(pins.findall(_read(".pre-commit-config.yaml")))
    assert set(ci) == {"ruff", "cython-lint"}
    assert ci == pre_commit
