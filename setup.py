"""Build the Cython kernels of sklearn-mcnn.

Set ``SKLEARN_MCNN_DEBUG=1`` to compile with bounds checks (slow, for debugging).
"""

import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SKLEARN_MCNN_DEBUG", "0") == "1"

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "cpow": True,
}

if sys.platform == "win32":
    compile_args = ["/O2"]
elif DEBUG:
    compile_args = ["-O0", "-g"]
else:
    # -fno-math-errno lets the compiler vectorise the sqrt and exp loops.
    compile_args = ["-O3", "-fno-math-errno"]

extensions = [
    Extension(
        "sklearn_mcnn._network",
        ["sklearn_mcnn/_network.pyx"],
        include_dirs=["sklearn_mcnn"],
        extra_compile_args=compile_args,
    ),
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
