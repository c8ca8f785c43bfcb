"""Turn "the Cython kernels were never compiled" into a readable error."""

import os

INSTRUCTIONS = """
It seems that sklearn_mcnn's compiled kernels have not been built.
This happens when importing the package from its source tree without
installing it.  Install it (this compiles the Cython extensions):

    pip install .

or, for development, build the extensions in place:

    pip install -e . --no-build-isolation   (needs Cython and scipy)
    python setup.py build_ext --inplace
"""


def check_build():
    """Raise an ImportError that says how to build when the kernels are missing."""
    try:
        from . import _network  # noqa: F401
    except ImportError as exc:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        raise ImportError(
            f"{exc}\n{INSTRUCTIONS}\n(sklearn_mcnn was imported from {here})"
        ) from None
