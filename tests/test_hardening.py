"""Input that tries to break the package.

- property-based tests (hypothesis) over random finite inputs;
- extreme but valid inputs (feature scales, 1,000 classes, 100,000 sparse
  features, float32 near overflow, read-only memory maps);
- concurrent prediction from several threads; threaded training steps
  give the same bits as one thread;
- pickles across dtypes and across processes;
- chunked prediction: peak memory does not grow with n beyond the output.

A diverging or non-finite loss, and every other failed call, is in
test_failed_calls.py.

"""

import inspect
import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
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


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _assert_valid_proba(proba, n_rows, n_classes):
    assert proba.shape == (n_rows, n_classes)
    assert np.all(np.isfinite(proba))
    assert np.all(proba >= 0)
    tol = 1e-5 if proba.dtype == np.float32 else 1e-10
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=tol)


@pytest.fixture(scope="module")
def separable():
    """A separable 3-class problem, standardised."""
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=3, n_redundant=0,
        n_classes=3, class_sep=3.0, random_state=0,
    )
    return StandardScaler().fit_transform(X), y


# =========================================================================
# Property-based tests
# =========================================================================

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # the property tests skip, visibly; the rest still runs
    HealthCheck = given = settings = st = hnp = None

MAX_EXAMPLES = 30
PROPERTY_ESTIMATORS = {
    "softmax-lbfgs": SoftmaxClassifier(max_iter=15),
    "softmax-adam": SoftmaxClassifier(solver="adam", max_iter=3, random_state=0),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(3,), max_iter=3,
                                 random_state=0),
    "mlp-tanh-bn-dropout": MLPBackpropClassifier(
        hidden_layer_sizes=(4, 3), activation="tanh", batch_norm=True,
        dropout=0.25, solver="sgd", max_iter=3, random_state=0),
    "mlp-logistic-squared": MLPBackpropClassifier(
        hidden_layer_sizes=(3,), activation="logistic", loss="squared_error",
        max_iter=3, random_state=0),
    "ova": OneVsAllClassifier(SoftmaxClassifier(max_iter=10), random_state=0),
    "ovo": OneVsOneClassifier(SoftmaxClassifier(max_iter=10), random_state=0),
    "ovo-mlp": OneVsOneClassifier(
        MLPBackpropClassifier(hidden_layer_sizes=(2,), max_iter=2), random_state=0),
}

# Label kinds scikit-learn accepts (type_of_target: binary or multiclass).
VALID_LABELS = {
    "int": lambda k: k,
    "negative-int": lambda k: -7 * k - 1,
    "int64-large": lambda k: np.int64(2**62) - k,
    "uint8": lambda k: np.uint8(k),
    "str": lambda k: f"class {k}",
    "float-integral": lambda k: float(k) - 1.0,
}


if st is None:

    def test_property_tests_need_hypothesis():
        pytest.importorskip("hypothesis")

else:
    PROPERTY_SETTINGS = settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    @st.composite
    def problems(draw):
        """A random finite training set: (X, y) and whether y has 2+ classes."""
        n = draw(st.integers(1, 24))
        d = draw(st.integers(1, 5))
        dtype = draw(st.sampled_from([np.float64, np.float32]))
        elements = st.one_of(
            st.just(0.0),
            st.floats(-1024.0, 1024.0, allow_nan=False, allow_infinity=False,
                      width=32),
            st.floats(-2.0**-10, 2.0**-10, allow_nan=False,
                      allow_infinity=False, width=32),
        )
        X = draw(hnp.arrays(dtype, (n, d), elements=elements))
        # Constant columns.
        for j in range(d):
            if draw(st.booleans()) and draw(st.booleans()):
                X[:, j] = draw(st.sampled_from([0.0, 1.0, -3.5]))
        n_classes = draw(st.integers(1, 4))
        codes = np.asarray(draw(st.lists(st.integers(0, n_classes - 1),
                                         min_size=n, max_size=n)))
        # Duplicated rows (with their labels).
        if n > 1 and draw(st.booleans()):
            src = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
            X = np.vstack([X, X[src]])
            codes = np.r_[codes, codes[src]]
        kind = draw(st.sampled_from(sorted(VALID_LABELS)))
        labels = [VALID_LABELS[kind](int(k)) for k in codes]
        y = np.asarray(labels, dtype=object if kind == "str" and draw(
            st.booleans()) else None)
        if draw(st.booleans()):
            X = sp.csr_matrix(X)
        return X, y


    @pytest.mark.parametrize("name", list(PROPERTY_ESTIMATORS))
    @PROPERTY_SETTINGS
    @given(problem=problems())
    def test_property_fit_predict_never_breaks(name, problem):
        X, y = problem
        est = clone(PROPERTY_ESTIMATORS[name])
        classes = np.unique(y)
        if classes.size < 2:
            with pytest.raises(ValueError, match="(2|two) classes.*one class"):
                est.fit(X, y)
            return
        _quiet_fit(est, X, y)
        assert_array_equal(est.classes_, classes)
        assert est.n_features_in_ == X.shape[1]
        proba = est.predict_proba(X)
        _assert_valid_proba(proba, X.shape[0], classes.size)
        pred = est.predict(X)
        assert pred.shape == (X.shape[0],)
        assert np.isin(pred, classes).all()
        scores = est.decision_function(X)
        assert np.all(np.isfinite(scores))
        if not isinstance(est, (OneVsAllClassifier, OneVsOneClassifier)):
            # predict is the argmax of the scores, hence of the probabilities.
            picked = proba[np.arange(len(pred)), np.searchsorted(classes, pred)]
            assert_allclose(picked, proba.max(axis=1), rtol=1e-5, atol=0)
            assert np.all(np.isfinite(est.predict_log_proba(X)))
            assert np.isin(est.predict_sample(X, random_state=0), classes).all()
        # One row at a time gives the same answer as the whole batch.
        row = X[:1]
        assert_allclose(est.predict_proba(row), proba[:1], rtol=1e-5, atol=1e-6)


    @pytest.mark.parametrize("name", ["softmax-lbfgs", "mlp", "ovo"])
    @PROPERTY_SETTINGS
    @given(problem=problems(), bad=st.sampled_from(
        ["continuous", "tuples", "nan-label", "2d"]))
    def test_property_invalid_labels_get_a_value_error(name, problem, bad):
        X, y = problem
        n = X.shape[0]
        if bad == "continuous":
            y = np.linspace(0.1, 0.9, n) + 0.001
        elif bad == "tuples":
            y = np.empty(n, dtype=object)
            y[:] = [(i % 2, "a") for i in range(n)]
        elif bad == "nan-label":
            y = np.arange(n) % 2 + 0.0
            y[0] = np.nan
        else:
            y = np.c_[np.arange(n) % 2, np.arange(n) % 3]
        with pytest.raises(ValueError):
            _quiet_fit(clone(PROPERTY_ESTIMATORS[name]), X, y)


@pytest.mark.parametrize("name", ["softmax-lbfgs", "ovo"])
def test_mixed_type_labels_get_a_value_error(name):
    X = np.random.RandomState(0).normal(size=(6, 2))
    y = np.array(["a", 1, "b", 2, "a", 1], dtype=object)
    with pytest.raises(ValueError, match="[Mm]ix"):
        clone(PROPERTY_ESTIMATORS[name]).fit(X, y)


# =========================================================================
# Extreme but valid inputs
# =========================================================================


def test_feature_values_around_1e6(separable):
    X, y = separable
    reference = SoftmaxClassifier().fit(X, y).score(X, y)
    for est in (SoftmaxClassifier(), OneVsOneClassifier(SoftmaxClassifier())):
        est = _quiet_fit(est, X * 1e6, y)
        assert est.score(X * 1e6, y) >= reference - 0.01
        _assert_valid_proba(est.predict_proba(X * 1e6), len(y), 3)


def test_feature_values_around_1e_minus_6(separable):
    """No standardisation: the weights must grow to ~1e6.  Without the
    penalty and with tol=0, L-BFGS gets there."""
    X, y = separable
    reference = SoftmaxClassifier().fit(X, y).score(X, y)
    est = _quiet_fit(SoftmaxClassifier(alpha=0.0, tol=0.0), X * 1e-6, y)
    assert est.score(X * 1e-6, y) >= reference - 0.01
    _assert_valid_proba(est.predict_proba(X * 1e-6), len(y), 3)


def test_one_thousand_classes():
    X, y = make_blobs(n_samples=3000, n_features=10, centers=1000,
                      cluster_std=0.01, center_box=(-10, 10), random_state=0)
    assert np.bincount(y).max() == 3  # small n per class
    for est in (SoftmaxClassifier(max_iter=30),
                MLPBackpropClassifier(hidden_layer_sizes=(32,), max_iter=2,
                                      random_state=0)):
        tracemalloc.start()
        try:
            _quiet_fit(est, X, y)
            _, fit_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            proba = est.predict_proba(X)
            _, predict_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert est.classes_.size == 1000
        _assert_valid_proba(proba, 3000, 1000)
        assert np.isin(est.predict(X), est.classes_).all()
        # Bounded: the (n, 1000) output plus a scratch buffer of at most
        # CHUNK_ROWS rows, and in fit the parameters and optimiser state.
        assert fit_peak < 64e6, fit_peak
        assert predict_peak < proba.nbytes + 32e6, predict_peak
    assert est.score(X, y) >= 0  # the MLP saw 2 epochs; softmax below
    assert SoftmaxClassifier(max_iter=30).fit(X, y).score(X, y) > 0.9


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
def test_100k_sparse_features_are_never_densified(name):
    X, y = _sparse_problem()
    dense_bytes = X.shape[0] * X.shape[1] * 8  # 800 MB
    est = clone(SPARSE_ESTIMATORS[name])
    tracemalloc.start()
    try:
        _quiet_fit(est, X, y)
        proba = est.predict_proba(X)
        pred = est.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < dense_bytes / 4, peak
    _assert_valid_proba(proba, X.shape[0], 3)
    if name.startswith("softmax"):
        assert np.mean(pred == y) > 0.95
    # float32 CSR stays float32, also not densified.
    est32 = _quiet_fit(clone(SPARSE_ESTIMATORS[name]), X.astype(np.float32), y)
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


@pytest.mark.parametrize("name", ["softmax-lbfgs", "softmax-adam", "mlp"])
def test_float32_near_overflow_fit_gives_no_nan(name, separable):
    X, y = separable
    X32 = (X * 1e30).astype(np.float32)
    est = clone(PROPERTY_ESTIMATORS[name])
    try:
        _quiet_fit(est, X32, y)
    except ValueError as exc:  # allowed: a clear error naming the problem
        assert "learning rate" in str(exc) or "non-finite" in str(exc)
        return
    _assert_valid_proba(est.predict_proba(X32), len(y), 3)
    assert est.predict_proba(X32).dtype == np.float32


@pytest.mark.parametrize(
    "model,scale",
    [(model, scale) for model in ("softmax", "mlp", "mlp-bn")
     for scale in (1e30, 1e36)] + [
        ("softmax", 3e38), ("mlp", 3e38), ("mlp-bn", 3e38),
    ],
)
def test_float32_near_overflow_predict_gives_no_nan(model, scale, separable):
    X, y = separable
    est = {
        "softmax": SoftmaxClassifier(),
        "mlp": MLPBackpropClassifier((5,), max_iter=30, random_state=0),
        "mlp-bn": MLPBackpropClassifier((5,), batch_norm=True, max_iter=30,
                                        random_state=0),
    }[model]
    _quiet_fit(est, X.astype(np.float32), y)
    big = np.clip(X * scale, -3.4e38, 3.4e38).astype(np.float32)
    assert np.all(np.isfinite(big))
    try:
        proba = est.predict_proba(big)
    except ValueError as exc:
        # Hidden layers that overflow get a clear error, never NaN.
        assert "overflow" in str(exc)
        assert model != "softmax"
    else:
        _assert_valid_proba(proba, len(y), 3)


def test_float32_model_with_float64_input_beyond_float32_range(separable):
    X, y = separable
    est = SoftmaxClassifier().fit(X.astype(np.float32), y)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        est.predict_proba(X[:5] * 1e300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_on_features_around_1e30_is_not_silently_wrong(separable, dtype):
    X, y = separable
    Xb = (X * 1e30).astype(dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = SoftmaxClassifier().fit(Xb, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned or est.score(Xb, y) > 0.9


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
def test_read_only_memory_mapped_input(est, sparse, dtype, separable):
    X, y = separable
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
    sw = np.linspace(0.5, 2.0, len(y))
    X_mm, y_mm, sw_mm = create_memmap_backed_data([X, y, sw])
    data = X_mm.data if sparse else X_mm
    assert not data.flags.writeable
    in_memory = _quiet_fit(clone(est), X, y, sample_weight=sw)
    mapped = _quiet_fit(clone(est), X_mm, y_mm, sample_weight=sw_mm)
    assert_allclose(mapped.predict_proba(X_mm), in_memory.predict_proba(X),
                    rtol=1e-6, atol=1e-7)
    assert_array_equal(mapped.predict(X_mm), in_memory.predict(X))
    if hasattr(est, "partial_fit") and getattr(est, "solver", "") == "sgd":
        mapped.partial_fit(X_mm, y_mm)
        _assert_valid_proba(mapped.predict_proba(X_mm), len(y), 3)


def test_read_only_np_memmap(tmp_path, separable):
    X, y = separable
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    writer[:] = X
    writer.flush()
    del writer
    X_mm = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    est = MLPBackpropClassifier((5,), max_iter=20, random_state=0)
    mapped = _quiet_fit(clone(est), X_mm, y)
    in_memory = _quiet_fit(clone(est), X, y)
    assert_array_equal(mapped.predict_proba(X_mm), in_memory.predict_proba(X))


# =========================================================================
# Concurrent prediction
# =========================================================================


def _threaded_models():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 12))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    out = []
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        for sparse in (False, True):
            Xi = sp.csr_matrix(np.where(np.abs(Xd) > 0.3, Xd, 0)) if sparse else Xd
            for est in (
                SoftmaxClassifier(max_iter=30),
                MLPBackpropClassifier((16, 8), batch_norm=True, max_iter=5,
                                      random_state=0),
                OneVsOneClassifier(MLPBackpropClassifier((4,), max_iter=3),
                                   random_state=0),
            ):
                name = (f"{type(est).__name__}-{dtype.__name__}-"
                        f"{'csr' if sparse else 'dense'}")
                out.append((_quiet_fit(est, Xi, y), Xi, name))
    return out


def test_predict_from_many_threads_equals_one_thread():
    # Row counts of different sizes: the threads create and share inference
    # layouts of several capacities at once.
    sizes = [1, 7, 64, 500, 1024, 1025, 3000]
    for model, X, name in _threaded_models():
        # A fresh copy: no inference layout cached before the threads start.
        model = pickle.loads(pickle.dumps(model))
        jobs = [(method, n) for n in sizes
                for method in ("predict", "predict_proba", "decision_function")]
        jobs = jobs * 4

        def run(job, model=model, X=X):
            method, n = job
            return getattr(model, method)(X[:n])

        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(run, jobs))
        for job, result in zip(jobs, concurrent):
            assert_array_equal(result, run(job), err_msg=f"{name} {job}")


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "params",
    [dict(solver="adam"),
     dict(solver="sgd", batch_norm=True, dropout=0.2, activation="tanh")],
    ids=["adam", "sgd-bn-dropout"],
)
def test_threaded_training_steps_equal_one_thread(monkeypatch, params, sparse):
    # Layers wider than a block of units (several blocks, a partial last
    # one), every step shared between threads whatever its size.
    from sklearn_mcnn import _network, _threads

    X, y = make_classification(n_samples=300, n_features=150, n_informative=20,
                               n_classes=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    if sparse:
        X[np.abs(X) < 1] = 0
        X = sp.csr_matrix(X)
    monkeypatch.setattr(_threads, "MIN_TUNED_WORK_PER_THREAD", 1)
    coefs = {}
    for n_threads in (1, 2, 3, "probing"):
        monkeypatch.setattr(_threads, "effective_n_threads",
                            lambda n=n_threads: 2 if n == "probing" else n)
        est = MLPBackpropClassifier((130, 70), batch_size=40, max_iter=3,
                                    random_state=0, **params)
        if n_threads == "probing":
            # the step-thread tuner probes one thread after every step (and
            # then ever more rarely), switching when the clock says so
            est._thread_tuner = _network.new_tuner(1)
            est._thread_tuner[0] = (2, 1, 1, 1, 0, 0.0, 0.0)
        coefs[n_threads] = _quiet_fit(est, X, y).coefs_
        if n_threads == "probing":
            assert est._thread_tuner["every"][0] > 1     # probes did run
    for n_threads in (2, 3, "probing"):
        for a, b in zip(coefs[1], coefs[n_threads]):
            assert_array_equal(a, b)


# =========================================================================
# Pickles
# =========================================================================

PICKLED = {
    "softmax": SoftmaxClassifier(),
    "softmax-adam": SoftmaxClassifier(solver="adam", random_state=0),
    "mlp-bn-dropout": MLPBackpropClassifier((6, 4), batch_norm=True, dropout=0.2,
                                            max_iter=20, random_state=0),
    "ovo": OneVsOneClassifier(SoftmaxClassifier(), random_state=0),
    "ova-mlp": OneVsAllClassifier(MLPBackpropClassifier((4,), max_iter=10),
                                  random_state=0),
}


@pytest.mark.parametrize("name", list(PICKLED))
def test_pickles_of_float32_and_float64_models(name, separable):
    X, y = separable
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        model = _quiet_fit(clone(PICKLED[name]), Xd, y)
        for protocol in (2, pickle.HIGHEST_PROTOCOL):
            loaded = pickle.loads(pickle.dumps(model, protocol=protocol))
            for method in ("predict", "predict_proba", "decision_function"):
                assert_array_equal(getattr(loaded, method)(Xd),
                                   getattr(model, method)(Xd))
            if hasattr(model, "_params"):
                assert loaded._params.dtype == dtype
                assert loaded.predict_proba(Xd).dtype == dtype
            # Loaded from a pickle, it can keep training.
            if hasattr(loaded, "partial_fit") and getattr(
                    loaded, "solver", None) != "lbfgs":
                loaded.partial_fit(Xd, y)
                assert np.all(np.isfinite(loaded.predict_proba(Xd)))


def test_pickle_loads_and_predicts_in_a_fresh_process(tmp_path, separable):
    X, y = separable
    expected = {}
    for name, prototype in PICKLED.items():
        for dtype in (np.float32, np.float64):
            key = f"{name}-{dtype.__name__}"
            Xd = X.astype(dtype)
            model = _quiet_fit(clone(prototype), Xd, y)
            with open(tmp_path / f"{key}.pkl", "wb") as f:
                pickle.dump(model, f)
            np.save(tmp_path / f"{key}-X.npy", Xd)
            expected[key] = (model.predict(Xd), model.predict_proba(Xd))
    code = textwrap.dedent("""
        import pickle, sys, pathlib
        import numpy as np
        folder = pathlib.Path(sys.argv[1])
        for path in sorted(folder.glob("*.pkl")):
            with open(path, "rb") as f:
                model = pickle.load(f)
            X = np.load(folder / (path.stem + "-X.npy"))
            np.save(folder / (path.stem + "-pred.npy"), model.predict(X))
            np.save(folder / (path.stem + "-proba.npy"), model.predict_proba(X))
        import sklearn_mcnn
        print(sklearn_mcnn.__version__)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    # cwd: not a source checkout's root, whose unbuilt sklearn_mcnn/ would
    # shadow the installed package (``python -c`` puts the cwd first).
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120,
                            check=False, cwd=PACKAGE_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sklearn_mcnn.__version__
    for key, (pred, proba) in expected.items():
        assert_array_equal(np.load(tmp_path / f"{key}-pred.npy"), pred)
        assert_array_equal(np.load(tmp_path / f"{key}-proba.npy"), proba)


# =========================================================================
# Chunked prediction
# =========================================================================

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
def test_chunked_predict_peak_memory_does_not_grow_with_n(dtype, sparse):
    """Hidden activations of all rows would need n x 256 values; prediction
    in chunks of CHUNK_ROWS rows needs only the (n, n_classes) output."""
    rng = np.random.RandomState(0)
    model = _quiet_fit(
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
