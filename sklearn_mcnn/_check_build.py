"""Turn "the Cython kernels were never compiled" into a readable error.

The usual way to get there: ``import sklearn_mcnn`` (or ``python -m
sklearn_mcnn``) run from the root of a source checkout after ``pip install
.``.  Python puts the current directory first on ``sys.path``, so it finds
the uncompiled ``sklearn_mcnn/`` folder of the checkout before the installed
package, and the import of the kernels fails with a confusing "partially
initialized module ... circular import".
"""

import os
import sys

SOURCE_FOLDER = """
sklearn_mcnn was imported from

    {package}

a source folder whose Cython kernels are not compiled{elsewhere}.
Python looks in the current directory first: run outside the source folder
or with `python -I` (for example `python -I -m sklearn_mcnn`), which imports
the installed package.
"""

BUILD = """
To use this source folder itself, build the kernels in place (needs Cython
and scipy):

    python -m pip install --no-build-isolation -e .
    python setup.py build_ext --inplace      (after changing a .pyx or .pxd)

or install the package:

    python -m pip install .
"""


def _installed_elsewhere(root):
    """Another ``sys.path`` entry holding an ``sklearn_mcnn`` package, or None."""
    for entry in sys.path:
        path = os.path.abspath(entry or os.getcwd())
        if path != root and os.path.isfile(
                os.path.join(path, "sklearn_mcnn", "__init__.py")):
            return path
    return None


def check_build():
    """Raise an ImportError that says what to do when the kernels are missing."""
    try:
        from . import _network  # noqa: F401
    except ImportError:
        package = os.path.dirname(os.path.abspath(__file__))
        other = _installed_elsewhere(os.path.dirname(package))
        elsewhere = (f" (an installed sklearn_mcnn is in {other})" if other
                     else "")
        message = SOURCE_FOLDER.format(package=package, elsewhere=elsewhere)
        raise ImportError(message + BUILD) from None
