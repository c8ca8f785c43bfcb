import signal

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def well_conditioned():
    """A small, well-conditioned 4-class problem."""
    X, y = make_classification(n_samples=300, n_features=10, n_informative=6,
                               n_classes=4, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    return request.param


@pytest.fixture
def time_limit(request):
    """Fail a test, instead of hanging CI, when it runs longer than its
    module's ``TEST_TIMEOUT`` seconds (POSIX only)."""
    seconds = getattr(request.module, "TEST_TIMEOUT", None)
    if seconds is None or not hasattr(signal, "SIGALRM"):
        yield
        return

    def _timeout(signum, frame):
        raise TimeoutError(f"test exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
