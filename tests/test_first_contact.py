"""What a newcomer sees first: the demo's table, the README's quickstart,
and the error of an import that finds the uncompiled source folder."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sklearn_mcnn
from sklearn_mcnn.__main__ import contenders, settings_line

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(sklearn_mcnn.__file__).resolve().parent


def _quickstart():
    """The README's Quickstart code block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1]
    return section.split("```python", 1)[1].split("```", 1)[0]


def test_demo_says_what_its_table_shows_and_with_which_settings():
    line = settings_line(1e-3, 0, 1347, 450, 64, 10)
    assert "\n" not in line
    for fact in ("Test accuracy, test log loss and fit time", "digits",
                 "1347 training and 450 test rows", "64 standardised features",
                 "10 classes", "alpha=0.001", "C = 1/(alpha n)", "random_state=0",
                 "max_iter=1000", "learning_rate_init=0.01, max_iter=50"):
        assert fact in line, fact


def test_demo_settings_line_matches_its_models():
    """What the line claims is what the table's models are given."""
    rows = contenders(1e-3, 1347, 0)
    for name, _, est in rows:
        params = est.get_params()

        def param(key, params=params):
            return params.get(key, params.get(f"estimator__{key}"))

        if param("alpha") is not None:
            assert param("alpha") == 1e-3, name
        if param("C") is not None:
            assert param("C") == pytest.approx(1 / (1e-3 * 1347)), name
            assert param("max_iter") == 1000, name
        if "random_state" in params and "LogisticRegression" not in name:
            assert params["random_state"] == 0, name
    adam = next(est for name, _, est in rows if name == "SoftmaxClassifier(adam)")
    assert (adam.learning_rate_init, adam.max_iter) == (0.01, 50)


@pytest.mark.slow
def test_demo_prints_the_line_then_the_table(tmp_path):
    completed = subprocess.run([sys.executable, "-I", "-m", "sklearn_mcnn"],
                               capture_output=True, text=True, check=True,
                               cwd=tmp_path, timeout=300)
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("Test accuracy, test log loss and fit time")
    assert lines[2].split()[:2] == ["estimator", "package"]
    rows = [line for line in lines if re.search(r"\d\.\d{4} +(\d\.\d{4}|-) ", line)]
    assert len(rows) == len(contenders(1e-3, 1347, 0))


@pytest.mark.slow
def test_readme_quickstart_prints_labelled_numbers(tmp_path):
    completed = subprocess.run([sys.executable, "-I", "-c", _quickstart()],
                               capture_output=True, text=True, check=True,
                               cwd=tmp_path, timeout=300)
    lines = completed.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        label, value = line.split(":", 1)
        assert re.search(r"[a-z]", label), line
        assert re.fullmatch(r"\s*(0\.\d{3}|\[[\d ]+\])", value), line
    assert all(float(line.split(":")[1]) > 0.85 for line in lines[:2])


def test_import_from_the_uncompiled_source_folder_says_what_to_do(tmp_path):
    """``import sklearn_mcnn`` from a checkout's root after installing finds
    the uncompiled source folder first; the error says how to get the
    installed package instead (no "circular import")."""
    source = tmp_path / "sklearn_mcnn"
    source.mkdir()
    for path in PACKAGE.glob("*.py"):
        shutil.copy(path, source)
    # An editable install imports through a finder of its own, ahead of the
    # current directory; without it the import is as after `pip install .`.
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if "
            "'editable' not in (getattr(f, '__module__', '') or '').lower()]; "
            "import sklearn_mcnn")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True,
                               text=True, check=False, cwd=tmp_path, timeout=60)
    assert completed.returncode != 0
    error = completed.stderr
    assert "ImportError" in error
    assert "run outside the source folder or with `python -I`" in " ".join(
        error.split())
    assert str(source) in error
    assert "circular" not in error
    # ... and `python -I` from the same folder imports the installed package.
    installed = subprocess.run(
        [sys.executable, "-I", "-c",
         "import sklearn_mcnn; print(sklearn_mcnn.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path, timeout=60)
    assert Path(installed.stdout.strip()).resolve().parent == PACKAGE
