"""Scale-out on Dask: joblib's dask backend on a distributed cluster, and
out-of-core training with ``dask_ml.wrappers.Incremental``.

Needs the ``dask`` extra (``dask[array]``, ``distributed``, ``dask-ml``); the
module is skipped, visibly, without it.  The cluster is a ``LocalCluster`` of
2 worker processes x 1 thread on loopback, shared by the module and closed at
its end; every test is bounded by an alarm.
"""

import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")

import joblib
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_validate,
)
from sklearn.preprocessing import StandardScaler

import sklearn_mcnn
from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

pytestmark = [
    pytest.mark.usefixtures("time_limit"),
    pytest.mark.extras,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # distributed's own chatter (ports, shutdown) is not ours to police.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

N_WORKERS = 2
TEST_TIMEOUT = 120  # seconds, per test
CHUNK = 100  # rows per dask chunk in the out-of-core tests
N_ROWS = 4 * CHUNK + 37  # several chunks, the last one partial


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of worker processes on loopback, and its client."""
    package_root = os.path.dirname(os.path.dirname(sklearn_mcnn.__file__))
    pythonpath = os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p
    )
    cluster = distributed.LocalCluster(
        n_workers=N_WORKERS,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # Workers must import the (in-place built) package, and must not
        # oversubscribe the machine's cores with BLAS threads.
        env={
            "PYTHONPATH": pythonpath,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        },
        death_timeout=60,
    )
    client = distributed.Client(cluster, timeout=60)
    try:
        client.wait_for_workers(N_WORKERS, timeout=60)
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=N_ROWS, n_features=8, n_informative=5, n_redundant=1,
        n_classes=4, random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def _assert_same_model(a, b):
    """Two fitted estimators of this package hold the same parameters."""
    if hasattr(a, "estimators_"):
        assert len(a.estimators_) == len(b.estimators_)
        for ea, eb in zip(a.estimators_, b.estimators_):
            _assert_same_model(ea, eb)
        return
    if hasattr(a, "_params"):
        assert_allclose(a._params, b._params, rtol=1e-12, atol=0)
        assert_allclose(a._running, b._running, rtol=1e-12, atol=0)
    assert_array_equal(a.classes_, b.classes_)


def test_cluster_is_the_requested_one(client):
    info = client.scheduler_info()
    assert len(info["workers"]) == N_WORKERS
    assert all(w["nthreads"] == 1 for w in info["workers"].values())
    assert all("127.0.0.1" in address for address in info["workers"])


@pytest.mark.parametrize(
    "estimator,grid",
    [
        (SoftmaxClassifier(max_iter=50), {"alpha": [1e-4, 1e-1]}),
        (
            MLPBackpropClassifier(hidden_layer_sizes=(8,), max_iter=15,
                                  random_state=0),
            {"alpha": [1e-4, 1e-2], "batch_norm": [False, True]},
        ),
        (
            OneVsOneClassifier(SoftmaxClassifier(max_iter=30), random_state=0),
            {"estimator__alpha": [1e-4, 1.0]},
        ),
    ],
    ids=["softmax", "mlp", "ovo"],
)
def test_grid_search_on_dask_equals_sequential(client, data, estimator, grid):
    X, y = data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)

    def run(n_jobs):
        return GridSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = run(None)
    with joblib.parallel_backend("dask", wait_for_workers_timeout=60):
        on_dask = run(-1)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert_allclose(on_dask.cv_results_[key], sequential.cv_results_[key],
                        rtol=1e-12)
    for k in range(3):
        key = f"split{k}_test_score"
        assert_allclose(on_dask.cv_results_[key], sequential.cv_results_[key],
                        rtol=1e-12)
    assert on_dask.best_params_ == sequential.best_params_
    _assert_same_model(on_dask.best_estimator_, sequential.best_estimator_)
    assert_array_equal(on_dask.predict(X), sequential.predict(X))


@pytest.mark.parametrize(
    "estimator",
    [
        SoftmaxClassifier(solver="adam", max_iter=20, random_state=0),
        MLPBackpropClassifier(hidden_layer_sizes=(6,), dropout=0.2,
                              max_iter=10, random_state=0),
        OneVsAllClassifier(SoftmaxClassifier(max_iter=30), random_state=0),
    ],
    ids=["softmax-adam", "mlp-dropout", "ova"],
)
def test_cross_validate_on_dask_equals_sequential(client, data, estimator):
    X, y = data

    def run(n_jobs):
        return cross_validate(
            estimator, X, y, cv=4, n_jobs=n_jobs, return_estimator=True,
            return_train_score=True, scoring=["accuracy", "neg_log_loss"],
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = run(None)
    with joblib.parallel_backend("dask", wait_for_workers_timeout=60):
        on_dask = run(-1)
    for key in ("test_accuracy", "train_accuracy", "test_neg_log_loss",
                "train_neg_log_loss"):
        assert_allclose(on_dask[key], sequential[key], rtol=1e-12)
    for a, b in zip(on_dask["estimator"], sequential["estimator"]):
        _assert_same_model(a, b)


@pytest.mark.parametrize("reduction", [OneVsOneClassifier, OneVsAllClassifier])
@pytest.mark.parametrize(
    "base",
    [
        SoftmaxClassifier(max_iter=40),
        MLPBackpropClassifier(hidden_layer_sizes=(5,), batch_norm=True,
                              max_iter=10),
    ],
    ids=["softmax", "mlp-bn"],
)
def test_reductions_n_jobs_on_dask_equal_n_jobs_1(client, data, reduction, base):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        single = reduction(base, n_jobs=1, random_state=0).fit(X, y)
    with joblib.parallel_backend("dask", wait_for_workers_timeout=60):
        spread = reduction(base, n_jobs=2, random_state=0).fit(X, y)
    _assert_same_model(spread, single)
    assert_array_equal(spread.predict(X), single.predict(X))
    assert_allclose(spread.predict_proba(X), single.predict_proba(X), rtol=1e-12)


def test_dask_backend_really_ran_on_the_workers(client, data):
    """The sub-fits are executed by the cluster's workers, not locally."""
    X, y = data
    before = sum(
        n for n in client.run(
            lambda dask_worker: dask_worker.state.transition_counter
        ).values()
    )
    with joblib.parallel_backend("dask", wait_for_workers_timeout=60):
        OneVsOneClassifier(SoftmaxClassifier(max_iter=20), n_jobs=2,
                           random_state=0).fit(X, y)
    after = sum(
        n for n in client.run(
            lambda dask_worker: dask_worker.state.transition_counter
        ).values()
    )
    assert after > before


def _chunked(X, y):
    return da.from_array(X, chunks=(CHUNK, X.shape[1])), da.from_array(
        y, chunks=CHUNK)


def _in_memory_partial_fit(estimator, X, y, classes):
    """partial_fit over the same chunks, in the same order, in memory."""
    for start in range(0, X.shape[0], CHUNK):
        estimator.partial_fit(X[start:start + CHUNK], y[start:start + CHUNK],
                              classes=classes)
    return estimator


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "estimator",
    [
        SoftmaxClassifier(solver="sgd", learning_rate_init=0.05, random_state=0),
        SoftmaxClassifier(solver="adam", learning_rate_init=0.01, batch_size=32,
                          random_state=0),
        MLPBackpropClassifier(hidden_layer_sizes=(8,), solver="sgd",
                              batch_norm=True, learning_rate_init=0.05,
                              random_state=0),
    ],
    ids=["softmax-sgd", "softmax-adam", "mlp-sgd-bn"],
)
def test_incremental_out_of_core_equals_in_memory_partial_fit(
    client, data, estimator, dtype
):
    from sklearn.base import clone

    X, y = data
    X = X.astype(dtype)
    classes = np.unique(y)
    Xd, yd = _chunked(X, y)
    assert Xd.numblocks[0] == 5 and max(Xd.chunks[0]) == CHUNK < X.shape[0]
    n_passes = 3
    inc = dask_ml_wrappers.Incremental(clone(estimator), shuffle_blocks=False,
                                       random_state=0, scoring="accuracy")
    for _ in range(n_passes):  # one pass over the blocks per call
        inc.partial_fit(Xd, yd, classes=classes)
    ref = clone(estimator)
    for _ in range(n_passes):
        _in_memory_partial_fit(ref, X, y, classes)
    model = inc.estimator_
    assert model._params.dtype == dtype
    assert model.t_ == ref.t_ == n_passes * X.shape[0]
    assert model.n_iter_ == ref.n_iter_ == n_passes * Xd.numblocks[0]
    if hasattr(ref, "coef_"):
        assert_allclose(model.coef_, ref.coef_, rtol=1e-12, atol=0)
        assert_allclose(model.intercept_, ref.intercept_, rtol=1e-12, atol=0)
    else:
        for a, b in zip(model.coefs_, ref.coefs_):
            assert_allclose(a, b, rtol=1e-12, atol=0)
        for a, b in zip(model.running_means_, ref.running_means_):
            assert_allclose(a, b, rtol=1e-12, atol=0)
    # Out-of-core prediction: blockwise on the cluster, same numbers.
    proba = inc.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    assert_allclose(proba.compute(), ref.predict_proba(X), rtol=1e-6)
    assert_array_equal(inc.predict(Xd).compute(), ref.predict(X))
    assert inc.score(Xd, yd) == pytest.approx(ref.score(X, y))


def test_incremental_fit_equals_one_partial_fit_pass(client, data):
    """``Incremental.fit`` is one ordered pass of partial_fit over the blocks."""
    X, y = data
    classes = np.unique(y)
    Xd, yd = _chunked(X, y)
    est = SoftmaxClassifier(solver="sgd", learning_rate_init=0.05, random_state=0)
    inc = dask_ml_wrappers.Incremental(est, shuffle_blocks=False).fit(
        Xd, yd, classes=classes)
    ref = _in_memory_partial_fit(
        SoftmaxClassifier(solver="sgd", learning_rate_init=0.05, random_state=0),
        X, y, classes)
    assert_allclose(inc.estimator_.coef_, ref.coef_, rtol=1e-12, atol=0)
    assert_allclose(inc.estimator_.intercept_, ref.intercept_, rtol=1e-12, atol=0)
