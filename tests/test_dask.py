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


# --------------------------------------------------------------------------
# Data-parallel L-BFGS on dask arrays (sklearn_mcnn._dask)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_worker_client():
    """A one-worker cluster (threads, in this process: quick to start) for
    the worker-count independence of the data-parallel fit."""
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False,
        dashboard_address=None,
    )
    client = distributed.Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def _lbfgs_estimators():
    return {
        "softmax": SoftmaxClassifier(alpha=1e-3, tol=1e-5, max_iter=200),
        # Non-convex: a fixed number of iterations from the same start.
        "mlp": MLPBackpropClassifier(hidden_layer_sizes=(7,), solver="lbfgs",
                                     activation="tanh", alpha=1e-3,
                                     max_iter=25, random_state=0),
    }


def _dask_fit(client, estimator, *args, **kwargs):
    from sklearn.base import clone

    with client.as_current():
        return clone(estimator).fit(*args, **kwargs)


def _as_csr_blocks(Xd):
    import scipy.sparse as sp

    return Xd.map_blocks(sp.csr_matrix, dtype=Xd.dtype,
                         meta=sp.csr_matrix((0, 0), dtype=Xd.dtype))


@pytest.mark.parametrize(
    "name,sparse,binary",
    [("softmax", False, False), ("softmax", True, False), ("mlp", False, False),
     ("softmax", False, True), ("softmax", True, True)],
    ids=["softmax-dense", "softmax-csr", "mlp-dense", "binary-dense",
         "binary-csr"],
)
def test_lbfgs_fit_on_dask_equals_in_memory_fit(
    client, one_worker_client, data, name, sparse, binary
):
    """Same objective (1e-10 relative) and same predictions as the fit on the
    same rows in memory; the same parameters, bit for bit, on 1 and on 2
    workers (the block sums are added in block order on the driver).  Two
    classes train the one logistic output on the workers too."""
    import scipy.sparse as sp

    X, y = data
    if binary:
        y = (y >= 2).astype(int)
    X = X.copy()
    X[np.abs(X) < 0.3] = 0.0      # some structure for the CSR case
    estimator = _lbfgs_estimators()[name]
    Xd, yd = _chunked(X, y)
    if sparse:
        Xd = _as_csr_blocks(Xd)
    ref = clone_fit(estimator, sp.csr_matrix(X) if sparse else X, y)
    two = _dask_fit(client, estimator, Xd, yd)
    one = _dask_fit(one_worker_client, estimator, Xd, yd)
    assert two.loss_ == pytest.approx(ref.loss_, rel=1e-10, abs=0)
    assert two.n_features_in_ == ref.n_features_in_
    assert_array_equal(two.classes_, ref.classes_)
    assert_array_equal(one._params, two._params)        # bit for bit
    assert one.loss_ == two.loss_
    assert_array_equal(two.predict(X), ref.predict(X))
    assert_allclose(two._params, ref._params, rtol=1e-5, atol=1e-7)
    assert len(two.loss_curve_) == two.n_iter_ > 0
    assert two.t_ == X.shape[0]
    if binary:
        assert_array_equal(two.coef_[0], -two.coef_[1])


def clone_fit(estimator, X, y, **kwargs):
    from sklearn.base import clone

    return clone(estimator).fit(X, y, **kwargs)


def test_lbfgs_float32_dask_fit_stays_float32(client, data):
    X, y = data
    X = X.astype(np.float32)
    est = SoftmaxClassifier(alpha=1e-3, max_iter=200)
    ref = clone_fit(est, X, y)
    fitted = _dask_fit(client, est, *_chunked(X, y))
    assert fitted._params.dtype == np.float32 and fitted.coef_.dtype == np.float32
    # float32 gradients summed per block, not per chunk of the whole set.
    assert fitted.loss_ == pytest.approx(ref.loss_, rel=1e-5)
    assert np.mean(fitted.predict(X) == ref.predict(X)) > 0.99


def test_lbfgs_dask_weights_and_classes_equal_in_memory(client, data):
    """class_weight, dask sample_weight (zeros included) and classes= with a
    class absent from y: the same model as in memory."""
    X, y = data
    rng = np.random.RandomState(0)
    sw = rng.randint(0, 4, size=y.size).astype(np.float64)
    labels = np.array(["a", "b", "c", "d"])[y]
    classes = ["a", "b", "c", "d", "e"]
    est = SoftmaxClassifier(alpha=1e-2, class_weight="balanced")
    ref = clone_fit(est, X, labels, sample_weight=sw, classes=classes)
    Xd, yd = _chunked(X, labels)
    fitted = _dask_fit(client, est, Xd, yd,
                       sample_weight=da.from_array(sw, chunks=CHUNK),
                       classes=classes)
    assert_array_equal(fitted.classes_, classes)
    assert fitted.loss_ == pytest.approx(ref.loss_, rel=1e-10, abs=0)
    assert_array_equal(fitted.predict(X), ref.predict(X))
    # A dict of class weights and in-memory weights beside a dask X.
    est.set_params(class_weight={"a": 3.0, "c": 0.5})
    ref = clone_fit(est, X, labels, sample_weight=sw)
    fitted = _dask_fit(client, est, Xd, yd, sample_weight=sw)
    assert fitted.loss_ == pytest.approx(ref.loss_, rel=1e-10, abs=0)
    assert_array_equal(fitted.predict(X), ref.predict(X))


def test_lbfgs_dask_warm_start_equals_in_memory(client, data):
    """A warm-started dask fit goes on from the model's weights, in the
    model's dtype (float32 blocks cast to float64 on the workers)."""
    from sklearn.base import clone

    X, y = data
    first = SoftmaxClassifier(alpha=1e-3, max_iter=5, warm_start=True).fit(X, y)
    ref = clone(first)
    vars(ref).update({k: v.copy() if isinstance(v, np.ndarray) else v
                      for k, v in vars(first).items()})
    ref.fit(X.astype(np.float32), y)
    with client.as_current():
        first.fit(*_chunked(X.astype(np.float32), y))
    assert first._params.dtype == np.float64
    assert first.loss_ == pytest.approx(ref.loss_, rel=1e-10, abs=0)
    assert_array_equal(first.predict(X), ref.predict(X))


def _task_counts(client, work):
    """Run ``work()`` and count the tasks the cluster ran, by key prefix."""
    from collections import Counter

    from distributed.utils import key_split

    with distributed.get_task_stream(client=client) as stream:
        work()
    return Counter(key_split(t["key"]) for t in stream.data)


def _named_blocks(X, name):
    return da.from_array(X, chunks=(CHUNK, X.shape[1])).map_blocks(
        np.copy, name=name)


def test_lbfgs_dask_computes_each_block_once(client, data):
    """The input graph runs once per fit, not once per L-BFGS evaluation
    (the blocks stay on the workers); with classes= the labels are encoded
    as the blocks are read, with no round over the labels to encode them."""
    X, y = data
    Xd = _named_blocks(X, "mcnn-test-x")
    yd = da.from_array(y, chunks=CHUNK)
    n_blocks = Xd.numblocks[0]
    est = SoftmaxClassifier(alpha=1e-3)
    fitted = {}

    def fit(**kwargs):
        fitted["est"] = _dask_fit(client, est, Xd, yd, **kwargs)

    counts = _task_counts(client, fit)
    assert fitted["est"].n_iter_ > 3
    assert counts["mcnn-test-x"] == n_blocks
    assert counts["prepare_block"] == n_blocks
    assert counts["encode_block"] == n_blocks         # labels found, encoded
    # One task per block and evaluation (at least one per iteration).
    assert counts["block_loss_grad"] >= n_blocks * fitted["est"].n_iter_
    assert counts["block_loss_grad"] % n_blocks == 0
    counts = _task_counts(client, lambda: fit(classes=np.unique(y)))
    assert counts["mcnn-test-x"] == n_blocks
    assert "encode_block" not in counts


def test_lbfgs_dask_fit_never_holds_x_on_the_driver(client):
    """X, generated lazily on the workers, never reaches the driver: the
    driver's allocations during the fit (tracemalloc, which sees NumPy's
    buffers) peak well below the size of X; and at every evaluation the
    workers hold each block once (none copied to another worker by work
    stealing), neither all of them.  (What this proves: no step of the fit
    gathers X into the driver or onto one worker.  It does not run the
    workers under a memory_limit below X's size: see
    test_lbfgs_dask_fit_under_worker_memory_limit, marked slow.)"""
    import tracemalloc

    rs = da.random.RandomState(0)
    n, d = 100_000, 20
    Xd = rs.standard_normal((n, d), chunks=(12_500, d))
    yd = (Xd[:, :3].sum(axis=1) > 0).astype(np.int64)
    x_bytes = n * d * 8
    held = []

    def measure_workers(dask_worker):
        return sum(getattr(v, "X", np.empty(0)).nbytes
                   for v in dask_worker.data.values())

    est = SoftmaxClassifier(alpha=1e-3, max_iter=3)
    tracemalloc.start()
    try:
        with client.as_current():
            from sklearn_mcnn import _dask

            objective_call = _dask.DaskObjective.__call__

            def spy(self, w):
                held.append(client.run(measure_workers))
                return objective_call(self, w)

            _dask.DaskObjective.__call__ = spy
            try:
                est.fit(Xd, yd)
            finally:
                _dask.DaskObjective.__call__ = objective_call
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert est.n_iter_ == 3
    # The driver's own traffic (task specs, futures, gradients) is a few
    # MB whatever the size of X; gathering X would add all of it.
    assert peak < x_bytes / 4, (peak, x_bytes)
    assert len(held) >= est.n_iter_
    for per_worker in held:
        assert len(per_worker) == N_WORKERS
        assert sum(per_worker.values()) == x_bytes, held
        assert all(0 < b < x_bytes for b in per_worker.values()), held


@pytest.mark.slow
def test_lbfgs_dask_fit_under_worker_memory_limit():
    """Two workers whose memory_limit is below the size of X (spilling and
    pausing off, so a worker holding too much would be killed) fit it."""
    limit = 800 * 2**20             # a worker alone takes about 220 MiB
    n, d = 4_200_000, 56            # float32: 897 MiB > 800 MiB
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, memory_limit=limit,
        env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
             "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET": "False",
             "DASK_DISTRIBUTED__WORKER__MEMORY__SPILL": "False",
             "DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "False"},
    )
    try:
        with distributed.Client(cluster, timeout=60) as c:
            rs = da.random.RandomState(0)
            Xd = rs.standard_normal((n, d), chunks=(50_000, d)).astype(
                np.float32)
            assert Xd.nbytes > limit
            yd = (Xd[:, 0] + Xd[:, 1] > 0).astype(np.int8)
            est = SoftmaxClassifier(alpha=1e-3, max_iter=2).fit(Xd, yd)
            assert est.n_iter_ == 2
            assert float(est.score(Xd[:10_000], yd[:10_000])) > 0.9
            assert len(c.scheduler_info()["workers"]) == 2
    finally:
        cluster.close(timeout=30)


def test_dask_prediction_is_lazy_and_blockwise(client, data):
    X, y = data
    est = SoftmaxClassifier(alpha=1e-3).fit(X, y)
    Xd, yd = _chunked(X, y)
    with client.as_current():
        for method in ("predict", "predict_proba", "predict_log_proba",
                       "decision_function"):
            lazy = getattr(est, method)(Xd)
            assert isinstance(lazy, da.Array), method
            assert lazy.chunks[0] == Xd.chunks[0]
            expected = getattr(est, method)(X)
            if method == "predict":
                assert_array_equal(lazy.compute(), expected)
            else:
                assert_allclose(lazy.compute(), expected, rtol=1e-12)
        csr = est.predict_proba(_as_csr_blocks(Xd)).compute()
        assert_allclose(csr, est.predict_proba(X), rtol=1e-12)
        score = est.score(Xd, yd)
        assert isinstance(score, da.Array)
        assert float(score) == pytest.approx(est.score(X, y), rel=1e-12)
        sw = np.arange(y.size) % 3
        assert float(est.score(Xd, yd, sample_weight=da.from_array(sw))) == (
            pytest.approx(est.score(X, y, sample_weight=sw), rel=1e-12))
        # Randomized prediction: one seed per block, drawn in block order.
        draws = est.predict_sample(Xd, random_state=7)
        assert_array_equal(draws.compute(),
                           est.predict_sample(Xd, random_state=7).compute())
        seeds = np.random.RandomState(7).randint(np.iinfo(np.int32).max,
                                                 size=Xd.numblocks[0])
        per_block = np.concatenate([
            est.predict_sample(X[s:s + CHUNK], random_state=seed)
            for s, seed in zip(range(0, X.shape[0], CHUNK), seeds)])
        assert_array_equal(draws.compute(), per_block)
        # A lazy result is a snapshot: refitting does not change it.
        before = est.predict_proba(Xd)
        expected = est.predict_proba(X)
        est.set_params(alpha=10.0).fit(X, y)
        assert_allclose(before.compute(), expected, rtol=1e-12)
        # Binary decision_function is one column.
        binary = SoftmaxClassifier().fit(X, y % 2)
        assert binary.decision_function(Xd).shape == (X.shape[0],)
        assert_allclose(binary.decision_function(Xd).compute(),
                        binary.decision_function(X), rtol=1e-12)


def _no_tasks_run(client, work):
    counts = _task_counts(client, work)
    assert not counts, counts


@pytest.mark.parametrize(
    "case,match",
    [
        ("split-columns", "rechunk"),
        ("three-d", "2-D"),
        ("complex", "real numbers"),
        ("y-length", "inconsistent numbers of samples"),
        ("unknown-chunks", "compute_chunk_sizes"),
        ("stochastic", "Incremental"),
        ("batch-norm", "batch_norm"),
        ("x-val", "early stopping"),
        ("weights-2d", "1-D"),
        ("warm-start-features", None),
    ],
)
def test_dask_bad_input_fails_before_any_work(client, data, case, match):
    X, y = data
    Xd, yd = _chunked(X, y)
    est = SoftmaxClassifier()
    kwargs = {}
    if case == "split-columns":
        Xd = Xd.rechunk((CHUNK, 4))
    elif case == "three-d":
        Xd = Xd[:, :, None]
    elif case == "complex":
        Xd = Xd.astype(np.complex128)
    elif case == "y-length":
        yd = yd[:-1]
    elif case == "unknown-chunks":
        Xd = Xd[Xd[:, 0] > -100]
        yd = yd[:Xd.shape[0]] if not np.isnan(Xd.shape[0]) else yd
    elif case == "stochastic":
        est = SoftmaxClassifier(solver="adam")
    elif case == "batch-norm":
        est = MLPBackpropClassifier(solver="lbfgs", batch_norm=True)
    elif case == "x-val":
        kwargs = dict(X_val=X, y_val=y)
    elif case == "weights-2d":
        kwargs = dict(sample_weight=np.ones((y.size, 2)))
    elif case == "warm-start-features":
        # An in-memory model predicting on a dask X with other features.
        est.fit(X, y)
        with client.as_current(), pytest.raises(ValueError, match="features"):
            _no_tasks_run(client, lambda: est.predict(Xd[:, :3]))
        return
    with client.as_current(), pytest.raises(ValueError, match=match):
        _no_tasks_run(client, lambda: est.fit(Xd, yd, **kwargs))


def test_dask_partial_fit_points_to_incremental(client, data):
    X, y = data
    Xd, yd = _chunked(X, y)
    est = SoftmaxClassifier(solver="sgd")
    with client.as_current(), pytest.raises(ValueError, match="Incremental"):
        est.partial_fit(Xd, yd, classes=np.unique(y))


@pytest.mark.parametrize("case", ["nan", "negative-weight", "unknown-label",
                                  "one-class"])
def test_failed_dask_fit_changes_nothing(client, data, case):
    """Errors found on the workers (values no metadata shows) raise on the
    driver, and a fitted estimator stays exactly as it was."""
    import pickle

    X, y = data
    est = SoftmaxClassifier(alpha=1e-3, warm_start=case == "nan").fit(X, y)
    before = pickle.dumps(est)
    proba = est.predict_proba(X)
    Xb, yb, sw, kwargs = X.copy(), y.copy(), np.ones(y.size), {}
    if case == "nan":
        Xb[3 * CHUNK + 5, 2] = np.nan
        match = "NaN or infinity .row block 3"
    elif case == "negative-weight":
        sw[7] = -1.0
        match = "Negative values in sample_weight"
    elif case == "unknown-label":
        yb[-1] = 9
        kwargs = dict(classes=np.unique(y))
        match = r"labels \[9\] that are not in classes"
    else:
        yb[:] = 2
        match = "only one class"
    Xd, yd = _chunked(Xb, yb)
    with client.as_current(), pytest.raises(ValueError, match=match):
        est.fit(Xd, yd, sample_weight=da.from_array(sw, chunks=CHUNK), **kwargs)
    assert pickle.dumps(est) == before
    assert_array_equal(est.predict_proba(X), proba)


def test_dask_fit_without_a_client_says_how_to_get_one(data, monkeypatch):
    def no_client(*args, **kwargs):
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed.Client, "current", no_client)
    X, y = data
    with pytest.raises(ValueError, match="no Client was found"):
        SoftmaxClassifier().fit(*_chunked(X, y))
