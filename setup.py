"""Build the Cython kernels of sklearn-mcnn.

Set ``SKLEARN_MCNN_DEBUG=1`` to compile with bounds checks (memoryview
indexing raises IndexError) and without optimisation, for debugging; add
``SKLEARN_MCNN_ASAN=1`` (gcc or clang) to instrument every memory access of
the kernels with AddressSanitizer, which then needs
``LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0``
when Python starts.  CI runs the kernel tests against that build.
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SKLEARN_MCNN_DEBUG", "0") == "1"
ASAN = os.environ.get("SKLEARN_MCNN_ASAN", "0") == "1"

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
    # -falign-loops=64 starts every loop on a cache line, so a kernel's
    # speed does not depend on where unrelated code moves it: an unrelated
    # change moved the CSR gradient scatter (the same instructions) by 48
    # bytes, and a float32 L-BFGS evaluation of 60000 sparse digits took
    # 1.2x its time; with every loop aligned, the time of before (AMD EPYC).
    compile_args = ["-O3", "-fno-math-errno", "-fopenmp", "-falign-loops=64"]
    link_args = ["-fopenmp"]
if DEBUG:
    compile_args = [a for a in compile_args if a.startswith("-f")] + ["-O0", "-g"]
if ASAN:
    compile_args = compile_args + ["-fsanitize=address", "-fno-omit-frame-pointer"]
    link_args = link_args + ["-fsanitize=address"]

extensions = [
    Extension(
        "sklearn_mcnn._network",
        ["sklearn_mcnn/_network.pyx"],
        include_dirs=["sklearn_mcnn", np.get_include()],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        + ([("MCNN_DEBUG", "1")] if DEBUG else []),
    ),
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
