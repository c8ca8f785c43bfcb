"""Memory: what a fit or a prediction holds at its peak.

- 100,000 sparse features are never densified (Python allocations, and
  the peak RSS of a fresh process);
- read-only memory-mapped input (joblib's, ``np.memmap``) trains and
  predicts as in-memory input does;
- prediction in chunks: its peak does not grow with n beyond the output.
"""

import inspect
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.utils._testing import create_memmap_backed_data

import sklearn_mcnn
from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

pytestmark = [
    pytest.mark.usefixtures("time_limit"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # A one-vs-* sub-problem with a single label becomes a constant predictor.
    pytest.mark.filterwarnings("ignore:Sub-problem .* constant predictor"),
]

TEST_TIMEOUT = 180  # seconds, per test: a hang fails instead of blocking CI
PACKAGE_ROOT = os.path.dirname(os.path.dirname(sklearn_mcnn.__file__))


def _sparse_problem(n=1000, d=100_000, nnz_per_row=20, seed=0):
    """Very sparse CSR rows; each class has its own block of features."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    rows = np.repeat(np.arange(n), nnz_per_row)
    cols = rng.randint(0, d, n * nnz_per_row)
    cols[::2] = y[rows[::2]] * 1000 + rng.randint(0, 50, n * nnz_per_row // 2)
    X = sp.csr_matrix((np.ones(n * nnz_per_row), (rows, cols)), shape=(n, d))
    return X, y


SPARSE_ESTIMATORS = {
    "softmax-lbfgs": SoftmaxClassifier(max_iter=50),
    "softmax-sgd": SoftmaxClassifier(solver="sgd", max_iter=5, random_state=0),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(8,), max_iter=5,
                                 random_state=0),
}


@pytest.mark.parametrize("name", list(SPARSE_ESTIMATORS))
def test_100k_sparse_features_are_never_densified(name, quiet_fit,
                                                  assert_valid_proba):
    X, y = _sparse_problem()
    dense_bytes = X.shape[0] * X.shape[1] * 8  # 800 MB
    est = clone(SPARSE_ESTIMATORS[name])
    tracemalloc.start()
    try:
        quiet_fit(est, X, y)
        proba = est.predict_proba(X)
        pred = est.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 4, peak
    assert_valid_proba(proba, X.shape[0], 3)
    if name.startswith("softmax"):
        assert np.mean(pred == y) > 0.95
    # float32 CSR stays float32, also not densified.
    est32 = quiet_fit(clone(SPARSE_ESTIMATORS[name]), X.astype(np.float32), y)
    assert est32.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_100k_sparse_features_peak_rss_in_a_fresh_process():
    """Peak RSS (not only Python allocations) of fit + predict stays well
    below a dense float64 copy; measured in a fresh process."""
    code = textwrap.dedent("""
        import resource, sys, warnings
        warnings.simplefilter("ignore")
        sys.path.insert(0, sys.argv[1])
        import numpy as np, scipy.sparse as sp
        from sklearn_mcnn import SoftmaxClassifier, MLPBackpropClassifier
        exec(sys.argv[2])  # defines _sparse_problem
        X, y = _sparse_problem()
        SoftmaxClassifier(max_iter=2).fit(X[:20], y[:20]).predict(X[:20])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        SoftmaxClassifier(max_iter=50).fit(X, y).predict_proba(X)
        MLPBackpropClassifier((8,), max_iter=5, random_state=0).fit(X, y).predict(X)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)  # ru_maxrss is in KiB on Linux
    """)
    if not sys.platform.startswith("linux"):
        pytest.skip("ru_maxrss units are platform dependent")
    result = subprocess.run(
        [sys.executable, "-c", code, PACKAGE_ROOT,
         textwrap.dedent(inspect.getsource(_sparse_problem))],
        capture_output=True, text=True, timeout=120, check=False,
        cwd=PACKAGE_ROOT,  # not a source checkout's root: the installed package
    )
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.split()[-1])
    dense_bytes = 1000 * 100_000 * 8
    assert growth < dense_bytes / 4, growth


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "est",
    [SoftmaxClassifier(), SoftmaxClassifier(solver="sgd", random_state=0),
     MLPBackpropClassifier((6,), batch_norm=True, max_iter=10, random_state=0),
     OneVsOneClassifier(SoftmaxClassifier(max_iter=20), random_state=0),
     OneVsAllClassifier(MLPBackpropClassifier((4,), max_iter=5),
                        random_state=0)],
    ids=["softmax-lbfgs", "softmax-sgd", "mlp-bn", "ovo", "ova-mlp"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_memory_mapped_input(est, sparse, dtype, separable, quiet_fit,
                                       assert_valid_proba):
    X, y = separable
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
    sw = np.linspace(0.5, 2.0, len(y))
    X_mm, y_mm, sw_mm = create_memmap_backed_data([X, y, sw])
    data = X_mm.data if sparse else X_mm
    assert not data.flags.writeable
    in_memory = quiet_fit(clone(est), X, y, sample_weight=sw)
    mapped = quiet_fit(clone(est), X_mm, y_mm, sample_weight=sw_mm)
    assert_allclose(mapped.predict_proba(X_mm), in_memory.predict_proba(X),
                    rtol=1e-6, atol=1e-7)
    assert_array_equal(mapped.predict(X_mm), in_memory.predict(X))
    if hasattr(est, "partial_fit") and getattr(est, "solver", "") == "sgd":
        mapped.partial_fit(X_mm, y_mm)
        assert_valid_proba(mapped.predict_proba(X_mm), len(y), 3)


def test_read_only_np_memmap(tmp_path, separable, quiet_fit):
    X, y = separable
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    writer[:] = X
    writer.flush()
    del writer
    X_mm = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    est = MLPBackpropClassifier((5,), max_iter=20, random_state=0)
    mapped = quiet_fit(clone(est), X_mm, y)
    in_memory = quiet_fit(clone(est), X, y)
    assert_array_equal(mapped.predict_proba(X_mm), in_memory.predict_proba(X))


SMALL_N, LARGE_N = 20_000, 200_000
N_FEATURES, HIDDEN = 20, 256


def _peak_python_bytes(func, *args):
    tracemalloc.start()
    try:
        result = func(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunked_predict_peak_memory_does_not_grow_with_n(dtype, sparse, quiet_fit):
    """Hidden activations of all rows would need n x 256 values; prediction
    in chunks of CHUNK_ROWS rows needs only the (n, n_classes) output."""
    rng = np.random.RandomState(0)
    model = quiet_fit(
        MLPBackpropClassifier((HIDDEN,), batch_norm=True, max_iter=2,
                              random_state=0),
        rng.normal(size=(500, N_FEATURES)).astype(dtype), rng.randint(0, 3, 500))
    peaks, outputs = {}, {}
    for n in (SMALL_N, LARGE_N):
        X = rng.normal(size=(n, N_FEATURES)).astype(dtype)
        if sparse:
            X = sp.csr_matrix(np.where(X > 0.8, X, 0))
        model.predict_proba(X[:10])  # warm caches (layouts, imports)
        peaks[n], proba = _peak_python_bytes(model.predict_proba, X)
        outputs[n] = proba.nbytes
        peak_predict, _ = _peak_python_bytes(model.predict, X)
        # predict: the scores (as predict_proba's output) plus the labels.
        assert peak_predict <= peaks[n] + n * 8 + 2**20
        del X, proba
    growth = peaks[LARGE_N] - peaks[SMALL_N]
    output_growth = outputs[LARGE_N] - outputs[SMALL_N]
    activations_growth = (LARGE_N - SMALL_N) * HIDDEN * np.dtype(dtype).itemsize
    assert growth <= 1.1 * output_growth + 2**20, (peaks, outputs)
    assert growth < activations_growth / 20
