"""Fixtures shared by the test files.

pytest runs with ``--import-mode=importlib`` and there is no
``tests/__init__.py``, so test files cannot import from one another or from
this file: what they share is a fixture here.
"""

import signal
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
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


@pytest.fixture(scope="session")
def separable():
    """A separable 3-class problem, standardised."""
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=3, n_redundant=0,
        n_classes=3, class_sep=3.0, random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def _fit_without_convergence_warnings(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.fixture(scope="session")
def quiet_fit():
    """``quiet_fit(est, X, y, **fit_params)``: ``est.fit(X, y, ...)`` with
    ``ConvergenceWarning`` silenced (a test's short fits seldom converge);
    returns the fitted estimator.

    Session-scoped, so that hypothesis's ``@given`` tests can use it too.
    """
    return _fit_without_convergence_warnings


def _assert_valid_proba(proba, n_rows, n_classes):
    assert proba.shape == (n_rows, n_classes)
    assert np.all(np.isfinite(proba))
    assert np.all(proba >= 0)
    tol = 1e-5 if proba.dtype == np.float32 else 1e-10
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=tol)


@pytest.fixture(scope="session")
def assert_valid_proba():
    """``assert_valid_proba(proba, n_rows, n_classes)``: the shape, finite,
    non-negative, rows summing to one (to the dtype's precision)."""
    return _assert_valid_proba


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
