"""Threads give the bits of one thread.

- the OpenMP threads of a training step or of L-BFGS's objective: the same
  parameters on one, two or three threads, and while the step-thread tuner
  probes (the one test that sets the tuner's state directly,
  ``test_threaded_training_steps_equal_one_thread``);
- Python threads predicting from one model at once: the answers of one;
- a prediction's rows in chunks that two threads share evenly, the same
  bits on one thread and on two.

How many threads a fit starts is in test_threads.py.
"""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
    _engine,
    _network,
    _threads,
)

pytestmark = [
    pytest.mark.usefixtures("time_limit"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # A one-vs-* sub-problem with a single label becomes a constant predictor.
    pytest.mark.filterwarnings("ignore:Sub-problem .* constant predictor"),
]

TEST_TIMEOUT = 180  # seconds, per test: a hang fails instead of blocking CI


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_tuned_thread_counts_give_the_same_bits(monkeypatch, solver, quiet_fit):
    # L-BFGS's objective and the training steps under the tuner, on one
    # thread and on two (the tuner probing one thread now and then).
    X, y = make_classification(n_samples=600, n_features=40, n_informative=10,
                               n_classes=3, random_state=0)
    est = (SoftmaxClassifier(max_iter=30) if solver == "lbfgs" else
           MLPBackpropClassifier((30,), max_iter=3, random_state=0))
    coefs = {}
    for threads in (1, 2):
        monkeypatch.setattr(_threads, "MIN_TUNED_WORK_PER_THREAD", 1)
        monkeypatch.setattr(_threads, "effective_n_threads", lambda t=threads: t)
        coefs[threads] = quiet_fit(est, X, y)._params.copy()
    np.testing.assert_array_equal(coefs[1], coefs[2])


def _threaded_models(quiet_fit):
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
                out.append((quiet_fit(est, Xi, y), Xi, name))
    return out


def test_predict_from_many_threads_equals_one_thread(quiet_fit):
    # Row counts of different sizes: the threads create and share inference
    # layouts of several capacities at once.
    sizes = [1, 7, 64, 500, 1024, 1025, 3000]
    for model, X, name in _threaded_models(quiet_fit):
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


def test_inference_chunks_are_shared_evenly():
    per = _threads.MIN_WORK_PER_THREAD
    for n in (96, 100, 300, 513, 600, 1000, 1025, 3000, 100_000):
        rows = _engine.inference_chunk_rows(n, 2 * per)
        assert rows % 8 == 0 and rows <= _engine.CHUNK_ROWS
        chunks = -(-n // rows)
        assert chunks >= 2
        # two threads, the first half of the chunks each (a static split)
        first = min(n, -(-chunks // 2) * rows)
        assert abs(first - (n - first)) <= 8 * chunks, (n, rows)
    assert _engine.inference_chunk_rows(600, 2 * per - 1) == _engine.CHUNK_ROWS
    assert _engine.inference_chunk_rows(_engine.MIN_SPLIT_ROWS - 1,
                                        2 * per) == _engine.CHUNK_ROWS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_predictions_are_the_same_bits_on_any_count(monkeypatch, dtype,
                                                          quiet_fit):
    # Rows in even chunks (any work deserves two threads here) on one
    # thread and on two: the same bits, and a plain NumPy forward pass of
    # the same weights.
    X, y = make_classification(n_samples=600, n_features=40, n_informative=10,
                               n_classes=3, random_state=0)
    X = X.astype(dtype)
    clf = quiet_fit(MLPBackpropClassifier((48, 24), max_iter=3,
                                          random_state=0), X, y)
    monkeypatch.setattr(_threads, "MIN_WORK_PER_THREAD", 1)
    outputs = {}
    for n_threads in (1, 2):
        monkeypatch.setattr(_threads, "effective_n_threads",
                            lambda n=n_threads: n)
        outputs[n_threads] = clf.predict_proba(X[:300])
    assert_array_equal(outputs[1], outputs[2])
    a = X[:300].astype(np.float64)
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ clf.coefs_[-1] + clf.intercepts_[-1]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(outputs[1], expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "params",
    [dict(solver="adam"),
     dict(solver="sgd", batch_norm=True, dropout=0.2, activation="tanh")],
    ids=["adam", "sgd-bn-dropout"],
)
def test_threaded_training_steps_equal_one_thread(monkeypatch, params, sparse,
                                                  quiet_fit):
    # Layers wider than a block of units (several blocks, a partial last
    # one), every step shared between threads whatever its size.

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
        coefs[n_threads] = quiet_fit(est, X, y).coefs_
        if n_threads == "probing":
            assert est._thread_tuner["every"][0] > 1     # probes did run
    for n_threads in (2, 3, "probing"):
        for a, b in zip(coefs[1], coefs[n_threads]):
            assert_array_equal(a, b)
