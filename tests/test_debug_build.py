"""The debug build is what CI's memory-safety stage tests.

``.ci/run`` builds the kernels with ``SKLEARN_MCNN_DEBUG=1`` (bounds checks)
and ``SKLEARN_MCNN_ASAN=1`` (AddressSanitizer) and runs the kernel tests
against that build with the same variables set: these tests make sure that
build, and not the optimised one, is the one imported.  Elsewhere they
check that an ordinary build says it is one.
"""

import os

from sklearn_mcnn import _network


def _asked(name):
    return os.environ.get(name, "0") == "1"


def test_the_imported_build_is_the_one_asked_for():
    assert {
        "bounds_checked": _asked("SKLEARN_MCNN_DEBUG"),
        "address_sanitizer": _asked("SKLEARN_MCNN_ASAN"),
    } == _network.BUILD
