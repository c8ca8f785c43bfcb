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

# OpenMP spreads the chunks of full-batch passes and of inference over
# threads; without it (Apple's clang) those loops simply run serially.
if sys.platform == "win32":
    compile_args, link_args = ["/O2", "/openmp"], []
elif sys.platform == "darwin":
    compile_args, link_args = ["-O3", "-fno-math-errno"], []
else:
    # -fno-math-errno lets the compiler vectorise the sqrt and exp loops.
    compile_args, link_args = ["-O3", "-fno-math-errno", "-fopenmp"], ["-fopenmp"]
if DEBUG:
    compile_args = [a for a in compile_args if a.startswith("-f")] + ["-O0", "-g"]

extensions = [
    Extension(
        "sklearn_mcnn._network",
        ["sklearn_mcnn/_network.pyx"],
        include_dirs=["sklearn_mcnn"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    ),
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
