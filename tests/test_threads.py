"""Thread counts follow scikit-learn's rules, and small work starts none.

Each case runs in a fresh interpreter and counts the process's OS threads
(``/proc/self/task``) after the imports and after the fits: an OpenMP pool,
once started, keeps its threads, so a fit that used more than one thread
leaves more threads behind.  (OpenBLAS starts its threads when it loads,
before the first count.)

That any number of threads gives the bits of one is in test_concurrency.py.
"""

import json
import os
import subprocess
import sys
import tempfile

import pytest

from sklearn_mcnn import _threads

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")

SCRIPT = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
from threadpoolctl import threadpool_limits
from sklearn.datasets import load_digits, load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler
from sklearn_mcnn import (MLPBackpropClassifier, OneVsOneClassifier,
                          OneVsAllClassifier, SoftmaxClassifier)

def n_threads():
    return len(os.listdir("/proc/self/task"))

case, limit = sys.argv[1], sys.argv[2] == "limit"
if case == "bundled":
    data = [load_digits(return_X_y=True), load_breast_cancer(return_X_y=True)]
    models = [SoftmaxClassifier(), MLPBackpropClassifier(max_iter=20),
              SoftmaxClassifier(solver="adam", max_iter=20),
              OneVsOneClassifier(), OneVsAllClassifier()]
else:
    data = [make_classification(n_samples=4000, n_features=500,
                                n_informative=50, n_classes=3, random_state=0)]
    models = [MLPBackpropClassifier((256,), max_iter=2)]
before = n_threads()
for X, y in data:
    X = StandardScaler().fit_transform(X)
    for model in models:
        if limit:
            with threadpool_limits(1):
                model.fit(X, y).predict_proba(X)
        else:
            model.fit(X, y).predict_proba(X)
print(json.dumps({"before": before, "after": n_threads()}))
"""


#: Thread limits that the test session itself may have been given.
LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _count(case, limit=False, env=None):
    clean = {k: v for k, v in os.environ.items() if k not in LIMITS}
    # Run outside the checkout: from its root, ``import sklearn_mcnn`` would
    # find the source folder instead of the installed package.
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, case, "limit" if limit else "none"],
            capture_output=True, text=True, check=True, cwd=cwd,
            env={**clean, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fits_on_bundled_data_sets_start_no_thread():
    counts = _count("bundled")
    assert counts["after"] == counts["before"], counts


@pytest.mark.skipif(_threads.effective_n_threads() < 2, reason="one core")
def test_large_fit_uses_threads_unless_limited():
    # The control: without a limit this fit starts a pool ...
    free = _count("large")
    assert free["after"] > free["before"], free
    # ... and under threadpool_limits(1), or OMP_NUM_THREADS=1 (what joblib
    # gives the workers of GridSearchCV(n_jobs=...)), it runs on one thread.
    limited = _count("large", limit=True)
    assert limited["after"] == limited["before"], limited
    env = _count("large", env={"OMP_NUM_THREADS": "1"})
    assert env["after"] == env["before"], env


def test_threads_for_follows_the_work(monkeypatch):
    monkeypatch.setattr(_threads, "effective_n_threads", lambda: 4)
    per = _threads.MIN_WORK_PER_THREAD
    assert _threads.threads_for(0) == 1
    assert _threads.threads_for(2 * per - 1) == 1
    assert _threads.threads_for(2 * per) == 2
    assert _threads.threads_for(100 * per) == 4
    assert _threads.threads_for(100 * per, n_tasks=3) == 3
    tuned = _threads.MIN_TUNED_WORK_PER_THREAD
    assert tuned < per
    assert _threads.threads_for(2 * tuned, tuned=True) == 2


def test_limits_are_read_at_each_fit():
    from threadpoolctl import threadpool_limits
    full = _threads.effective_n_threads()
    with threadpool_limits(1):
        assert _threads.effective_n_threads() == 1
    assert _threads.effective_n_threads() == full


def test_fits_use_no_blas_thread_pool_of_numpy():
    """Between epochs, the driver's own sums (the L2 penalty of the loss
    curve, the validation loss) run on the calling thread: NumPy's
    ``np.dot`` of more than 10,000 entries shares the sum among OpenBLAS's
    threads, whose workers then spin on the cores the fit uses (1.7x the
    time of a 1000 x 500 MLP fit) and whose partial sums make the curve's
    last bits depend on OpenBLAS's thread count.  Here the curves are the
    same bits under any BLAS thread count, and the fit never asks NumPy's
    BLAS for a vector product (counted)."""
    import numpy as np
    from sklearn.datasets import make_classification
    from threadpoolctl import threadpool_limits

    from sklearn_mcnn import MLPBackpropClassifier

    X, y = make_classification(600, 300, n_informative=30, n_classes=3,
                               random_state=0)
    X_val, y_val = X[:200], y[:200]

    def fit():
        return MLPBackpropClassifier(
            (64,), max_iter=5, tol=0, early_stopping=True, n_iter_no_change=50,
            random_state=0).fit(X, y, X_val=X_val, y_val=y_val)

    default = fit()
    with threadpool_limits(limits=1, user_api="blas"):
        single = fit()
    assert default.loss_curve_ == single.loss_curve_
    assert default.validation_loss_curve_ == single.validation_loss_curve_

    calls = []
    real_dot = np.dot

    def counting_dot(a, b, *args, **kwargs):
        if np.ndim(a) == 1 and np.ndim(b) == 1 and np.size(a) > 10_000:
            calls.append(np.size(a))
        return real_dot(a, b, *args, **kwargs)

    np.dot = counting_dot
    try:
        fit()
    finally:
        np.dot = real_dot
    assert calls == []


def test_predictions_limit_blas_threads_only_where_blas_multiplies(
        monkeypatch):
    """A prediction changes BLAS's thread count (about 10 µs, and it wakes
    BLAS's threads) only when a product that BLAS computes could be shared
    among BLAS's threads: never for a softmax model on a CPU that runs the
    kernels' own products (dense rows as dot products, CSR rows by the
    sparse loops), always for an MLP's wide layers (the second one for CSR
    input, whose first layer the sparse loops compute)."""
    import numpy as np
    import scipy.sparse as sp

    from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier, _network

    entered = []

    class Counted(_threads.single_threaded_blas):
        def __enter__(self):
            entered.append(True)
            return super().__enter__()

    monkeypatch.setattr(_threads, "single_threaded_blas", Counted)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 784)).astype(np.float32)
    y = np.arange(300) % 10
    softmax = SoftmaxClassifier(max_iter=3).fit(X, y)
    mlp = MLPBackpropClassifier((256, 64), max_iter=1,
                                random_state=0).fit(X, y)
    for dtype in (np.float32, np.float64):
        for rows in (X.astype(dtype), sp.csr_matrix(X.astype(dtype))):
            entered.clear()
            softmax.predict_proba(rows)
            kernels_only = _network.small_gemm_available() or sp.issparse(rows)
            assert entered == ([] if kernels_only else [True])
            entered.clear()
            mlp.predict_proba(rows)
            assert entered == [True]
    # The kernels' limits decide: with BLAS for every product, the softmax
    # model's dense rows reach BLAS too.
    previous = _network.small_gemm_rows(float32=(0, 0, 0))
    try:
        entered.clear()
        softmax.predict_proba(X)
        assert entered == [True]
    finally:
        _network.small_gemm_rows(**previous)


def test_inference_threads_follow_the_clock():
    """The inference tuner times both counts first, then keeps the faster,
    probing the other once some seconds of calls have passed (more rarely
    while it loses), and switches when the times turn round."""
    import math

    tuner = _threads.InferenceThreads()
    key = ((784, 256, 10), "f", False, 27)
    assert tuner.choose(key, 1) == 1            # one thread: nothing to tune
    clock = {2: 1 / 64, 1: 1 / 32}              # seconds per call, by count

    def calls(k):
        counts = []
        for _ in range(k):
            n = tuner.choose(key, 2)
            tuner.record(key, n, clock[n], 1.0)
            counts.append(n)
        return counts

    # both timed first: a call after a change of count is not counted
    assert calls(6) == [2, 2, 2, 1, 1, 1]
    # the faster count until PROBE_AFTER seconds of calls have passed (the
    # six above included), then a probe of the other
    wait = math.ceil((tuner.PROBE_AFTER - 3 * clock[2] - 3 * clock[1]) * 64)
    first = calls(wait + 3)
    assert first == [2] * wait + [1] * 3
    # the probe lost: the next one waits twice as long (its own calls
    # count towards it)
    wait = math.ceil((2 * tuner.PROBE_AFTER - 3 * clock[1]) * 64)
    second = calls(wait + 3)
    assert second == [2] * wait + [1] * 3
    # ever longer, up to PROBE_AFTER_MAX: far fewer probes than calls
    later = calls(4000)
    assert later.count(1) <= 30                 # 0.75% of the calls
    clock = {2: 3 / 64, 1: 1 / 32}              # after pauses: two lose
    turned = calls(20)
    assert turned[:2] == [2, 2] and turned[2:] == [1] * 18
    clock = {2: 1 / 128, 1: 1 / 32}             # awake again: a probe wins
    assert calls(2000)[-200:].count(2) >= 190


def test_step_tuner_does_not_count_the_step_that_wakes_the_threads():
    """The training steps' tuner (``_tuner.pxd``) on a deterministic clock:
    a probe's first step, which wakes the sleeping threads, is not counted,
    so two threads that are faster once awake take over; a probe whose
    steps are clearly slower (a busy core) ends after two steps."""
    from sklearn_mcnn import _network

    def steps(state, k, clock):
        counts = []
        for _ in range(k):
            n = _network.tuner_threads_next(state)
            seconds = clock(n, len(counts) == 0 or counts[-1] != n)
            _network.tuner_account(state, seconds)
            counts.append(n)
        return counts

    awake = {1: 0.01, 2: 0.004}             # seconds per step, by count
    wake_up = 0.05                          # the first step on two threads

    def clock(n, changed):
        return wake_up if n == 2 and changed else awake[n]

    state = _network.new_tuner(2)
    first = steps(state, 40, clock)
    # one thread until 0.25 s of steps have passed, then a probe wins
    assert first[:25] == [1] * 25 and first[25:] == [2] * 15
    assert _network.tuner_threads_next(state) == 2

    # a busy core: the probe's second step is clearly slower, and it ends
    state = _network.new_tuner(2)
    busy = {1: 0.01, 2: 0.05}
    counts = steps(state, 40, lambda n, changed: busy[n])
    assert counts[25:27] == [2, 2] and counts[27:] == [1] * 13


def test_inference_threads_give_the_same_outputs(quiet_fit):
    """Whichever count the tuner takes, a prediction is the same bits."""
    import numpy as np

    from sklearn_mcnn import MLPBackpropClassifier

    rng = np.random.RandomState(0)
    X = rng.standard_normal((3000, 784)).astype(np.float32)
    clf = quiet_fit(MLPBackpropClassifier((64,), max_iter=1, random_state=0),
                    X[:300], np.arange(300) % 4)
    work = _threads.forward_work(clf._net.sizes, X.shape[0])
    if _threads.threads_for(work, n_tasks=12) == 1:
        pytest.skip("one thread only: nothing to choose")
    seen, outputs = set(), []
    for _ in range(20):
        proba = clf.predict_proba(X)
        outputs.append(proba)
        key = (clf._net.sizes, "f", False, work.bit_length())
        samples = _threads.inference_threads._records[key]["samples"]
        seen.update(c for c, times in samples.items() if times)
    assert seen == {1, _threads.threads_for(work, n_tasks=12)}
    for proba in outputs[1:]:
        np.testing.assert_array_equal(proba, outputs[0])


def test_inference_threads_shared_without_a_lock():
    """Predictions in several Python threads share the tuner's records, the
    thread limit changing under them: no call ever fails."""
    import sys
    import threading

    tuner = _threads.InferenceThreads()
    errors = []

    def hammer(seed):
        try:
            for i in range(3000):
                limit = 2 + (i // 7 + seed) % 3      # 2, 3 or 4 threads
                n = tuner.choose(("k",), limit)
                tuner.record(("k",), n, 1.0 / n + 0.01 * (i % 5), 1.0)
        except Exception as exc:     # noqa: BLE001 - reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)      # switch threads between bytecodes
    try:
        workers = [threading.Thread(target=hammer, args=(s,))
                   for s in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_step_tuner_probes_within_seconds_after_a_busy_spell():
    """The training steps' tuner on a deterministic clock: while a core is
    busy its probes of two threads lose and grow rarer in steps, but come
    at least every PROBE_WITHIN_SECONDS of steps, so two threads take over
    within that time once the load is gone (not after ``PROBE_EVERY_MAX``
    steps: 41 s of these steps)."""
    import numpy as np

    from sklearn_mcnn import _network

    within = 2.0                            # MCNN_PROBE_WITHIN_SECONDS

    def steps(state, k, seconds):
        counts = []
        for _ in range(k):
            n = _network.tuner_threads_next(state)
            _network.tuner_account(state, seconds[n])
            counts.append(n)
        return counts

    state = _network.new_tuner(2)
    busy = steps(state, 6000, {1: 0.01, 2: 0.05})        # 60 s of steps
    probes = [i for i in range(1, len(busy)) if busy[i] == 2 and busy[i - 1] == 1]
    assert len(probes) >= 25                              # one per 2 s
    assert max(np.diff(probes)) <= within / 0.01 + 3      # steps between
    assert sum(busy) - len(busy) <= 2 * len(probes)       # two steps each
    assert _network.tuner_threads_next(state) == 1
    idle = steps(state, int(within / 0.01) + 20, {1: 0.01, 2: 0.004})
    assert idle[-10:] == [2] * 10
