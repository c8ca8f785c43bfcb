"""How many threads the kernels run on: one rule for every parallel region.

The Cython kernels share their work among OpenMP threads themselves (blocks
of units in a training step, chunks of rows in the full-batch objective and
in inference) and call BLAS on one thread.  Three rules decide the count:

1. **Never more than scikit-learn would use** (:func:`effective_n_threads`):
   ``OMP_NUM_THREADS``, ``threadpoolctl.threadpool_limits``, the CPU quota
   of a container, and the threads joblib leaves each worker of
   ``GridSearchCV(n_jobs=...)`` or of a reduction's ``n_jobs`` (loky sets
   their ``OMP_NUM_THREADS``).
2. **No threads where the work is small** (:func:`threads_for`): a region
   gets one more thread per ``MIN_WORK_PER_THREAD`` multiply-adds, so a fit
   on small data never wakes a thread pool (none of scikit-learn's bundled
   data sets does): where another process keeps a core busy, a region that
   starts a thread waits for the scheduler to give it one, about a time
   slice, far longer than a small region's work.
3. **The clock decides between one and several** where regions repeat:
   predictions of the same architecture through :class:`InferenceThreads`,
   and, in the kernels, the training steps and the L-BFGS objective: a tuner
   (:func:`sklearn_mcnn._network.new_tuner`) starts on one thread and,
   once ``PROBE_AFTER_SECONDS`` (0.25 s) of steps have passed, probes the
   others for a few steps (the first, which wakes the threads, not
   counted), keeping whichever count is faster; a probe that clearly loses
   ends after two steps, and probes grow rarer while they lose (at least
   one per ``PROBE_WITHIN_SECONDS``, 2 s, of steps).  A short
   fit thus never wakes a second core (on a shared machine waking an idle
   one can itself take tens of milliseconds), and a busy core costs a long
   one little.

The results are the same bits with any thread count.
"""

import contextlib
import functools
import itertools
import os

import threadpoolctl

from . import _network

#: Multiply-adds per thread of a parallel region that runs once (an
#: inference pass): two threads from 2**26 (about 10 ms of one core).
#: Measured (``python benchmarks/bench_threads.py``, 2-core AMD EPYC,
#: results/bench_threads.md): on idle cores two threads halve a region from
#: about 2**21 multiply-adds; with another process keeping one core busy
#: they rarely win at any size, and a region that starts a thread can wait
#: for the scheduler to give it a core for about a time slice (a 10000 ×
#: 100 × 10 objective: 1.8 ms on one thread, 11 ms on two).  From 2**26
#: that wait costs at most about what the second thread saves on idle cores.
MIN_WORK_PER_THREAD = 2**25

#: The same for regions that repeat under the tuner (training steps, the
#: L-BFGS objective): from 2**23 (about 1 ms); the tuner, not this
#: threshold, protects them from busy cores.
MIN_TUNED_WORK_PER_THREAD = 2**22

#: Predictions of up to this many multiply-adds (about 25 ms of one core in
#: float32) that `threads_for` gives several threads are tuned by the clock
#: (:class:`InferenceThreads`); in larger ones the milliseconds of waking a
#: thread are a few percent of the call, and a probe on one thread would
#: cost a large share of a whole call (a 100,000-row prediction of
#: 784-256-128-10 takes 0.4-0.8 s).
MAX_TUNED_INFERENCE_WORK = 2**30

#: From about this many multiply-adds OpenBLAS may split a matrix product
#: among its own threads (its ``GEMM_MULTITHREAD_THRESHOLD`` × 65536, with
#: the default threshold of 4); smaller products run on the calling thread.
BLAS_THREADING_WORK = 2**18


def effective_n_threads():
    """The most threads a kernel may use: scikit-learn's rule
    (``sklearn.utils._openmp_helpers._openmp_effective_n_threads``), also
    bounded by the OpenMP runtime the kernels are linked with."""
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:  # pragma: no cover
        n = os.cpu_count() or 1
    else:
        n = _openmp_effective_n_threads()
    return max(1, min(n, _network.openmp_max_threads()))


def threads_for(work, n_tasks=None, tuned=False):
    """Threads for a parallel region of ``work`` multiply-adds split into
    ``n_tasks`` independent tasks (chunks, slots): one per
    ``MIN_WORK_PER_THREAD`` (``MIN_TUNED_WORK_PER_THREAD`` if ``tuned``: a
    repeated region whose tuner decides between one thread and these), at
    most ``effective_n_threads()`` and ``n_tasks``."""
    per_thread = MIN_TUNED_WORK_PER_THREAD if tuned else MIN_WORK_PER_THREAD
    n = int(work // per_thread)
    if n_tasks is not None:
        n = min(n, int(n_tasks))
    if n < 2:
        return 1    # without asking the runtimes: a one-row predict is hot
    return min(n, effective_n_threads())


class InferenceThreads:
    """One thread or several for the repeated predictions of one
    architecture, by the clock.

    ``threads_for`` gives a prediction its threads from the work alone, as
    measured on idle cores with the threads awake.  A caller who predicts
    now and then (a service between requests, a cross-validation loop
    between fits), or who calls NumPy's BLAS in between, finds them
    otherwise: on the 2-core EPYC a 1,000-row ``predict_proba`` of
    784-256-128-10 in float32 took 4.6 ms on two threads back to back, 6.8
    on one, but 11.5-13 ms on two threads after a 0.1-0.3 s pause (waking
    the second vCPU's thread) or right after a NumPy product (whose OpenBLAS
    worker keeps spinning on a core for about 0.1 s), against 9.7 on one.

    Per architecture, dtype, input kind and power of two of the work (a
    call's fixed costs weigh more in small calls) this keeps the seconds
    per multiply-add of the last ``WINDOW`` calls on each count and takes
    the count whose median is lower (single calls are noisy).  A call on
    another count than the call before is not counted: the first
    two-thread call after one-thread calls wakes the other thread, which
    had gone to sleep, and was 1.5-3x slower than the next.  Both counts
    are timed at the start (``FIRST`` counted calls each); then, once
    ``PROBE_AFTER`` seconds of calls have passed (twice as long each time
    a probe loses, at most ``PROBE_AFTER_MAX``), the other count runs
    ``PROBE_CALLS`` calls.  The wait is counted in seconds, not in calls,
    so that probing costs the same small share of the time whatever a
    call's size: probes after every 8 to 64 calls put 6 of a
    784-256-128-10 network's first 15 float64 predictions of 1,000 rows
    on the slower count (17 ms on one thread against 10 ms on two, on the
    2-core EPYC), and after 0.5 s only the 3 calls that time it first.
    The outputs are the same bits on any count, so the choice changes only
    the time.  Concurrent predictions share the record without a lock:
    every access tolerates another thread's change (a lost update only
    delays the choice).
    """

    WINDOW = 3
    FIRST = 2
    PROBE_CALLS = 3
    PROBE_AFTER = 0.5
    PROBE_AFTER_MAX = 8.0

    __slots__ = ("_records",)

    def __init__(self):
        self._records = {}

    @staticmethod
    def _median(times):
        return sorted(times)[(len(times) - 1) // 2]

    def _best(self, record, n_threads):
        samples = record["samples"]
        return min((n_threads, 1), key=lambda c: self._median(
            samples.get(c) or [float("inf")]))

    def choose(self, key, n_threads):
        """The count for the next call of ``key`` among 1 and ``n_threads``
        (as ``threads_for`` gave it)."""
        if n_threads == 1:
            return 1
        record = self._records.get(key)
        if record is None:
            if len(self._records) >= 64:    # forget the oldest architectures
                self._records.pop(next(iter(self._records)))
            record = self._records[key] = {
                "samples": {n_threads: [], 1: []}, "last": 0, "spent": 0.0,
                "after": self.PROBE_AFTER, "probe": None, "probe_left": 0}
        samples = record["samples"]
        if n_threads not in samples:        # the limit changed: start over
            samples.clear()
            samples.update({n_threads: [], 1: []})
        for count in (n_threads, 1):
            if len(samples.get(count, ())) < self.FIRST:
                return count
        if record["probe_left"] > 0:
            record["probe_left"] -= 1
            probe = record["probe"]     # None if another thread ended it
            if probe is not None:
                return probe
        best = self._best(record, n_threads)
        if record["spent"] >= record["after"]:
            record["spent"] = 0.0
            probe = n_threads if best == 1 else 1
            record["probe"] = probe
            record["probe_left"] = self.PROBE_CALLS - 1
            return probe
        return best

    def record(self, key, n_threads, seconds, work):
        """Account for one call of ``key`` on ``n_threads`` threads that took
        ``seconds`` for ``work`` multiply-adds."""
        record = self._records.get(key)
        times = None if record is None else record["samples"].get(n_threads)
        if times is None:
            return
        record["spent"] += seconds
        last, record["last"] = record["last"], n_threads
        if last != n_threads:
            return
        times.append(seconds / work)
        del times[:-self.WINDOW]
        if record["probe"] == n_threads and record["probe_left"] == 0:
            # the probe's last call: wait longer for the next if it lost
            top = max(record["samples"], default=n_threads)
            won = self._best(record, top) == n_threads
            record["after"] = (self.PROBE_AFTER if won else
                               min(2 * record["after"], self.PROBE_AFTER_MAX))
            record["probe"] = None


#: The tuner of every prediction (`predict_outputs`).
inference_threads = InferenceThreads()


@functools.lru_cache(maxsize=64)
def _layer_products(sizes):
    """Multiply-adds per row of each layer of a network of layer ``sizes``
    (a tuple; cached: a one-row ``predict`` asks on every call)."""
    return tuple(a * b for a, b in itertools.pairwise(sizes))


def forward_work(sizes, n_rows):
    """Multiply-adds of a forward pass of ``n_rows`` rows through a network
    of layer ``sizes``."""
    return n_rows * sum(_layer_products(sizes))


@functools.cache
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded when first
    asked (after the import of ``_network``, so SciPy's, which the kernels
    call, is among them)."""
    return tuple(threadpoolctl.ThreadpoolController()
                 .select(user_api="blas").lib_controllers)


class single_threaded_blas:
    """Limit BLAS to one thread around kernel calls (the kernels parallelise
    themselves; a BLAS pool would add its own threads on top).

    As ``threadpoolctl.threadpool_limits(1, user_api="blas")``, calling the
    libraries' own ``get/set_num_threads`` directly: about 10 microseconds
    instead of 40, paid by every prediction of more than a row or so and by
    every epoch.  A library already on one thread is left alone.
    """

    __slots__ = ("_saved",)

    def __enter__(self):
        saved = []
        for library in _blas_libraries():
            n = library.num_threads
            if n != 1:
                library.set_num_threads(1)
                saved.append((library, n))
        self._saved = saved
        return self

    def __exit__(self, *exc_info):
        for library, n in self._saved:
            library.set_num_threads(n)
        return False


def single_threaded_blas_for(sizes, chunk_rows, itemsize, sparse_input):
    """:func:`single_threaded_blas` where a forward pass of ``chunk_rows``
    rows through a network of layer ``sizes`` hands BLAS a product of
    ``BLAS_THREADING_WORK`` multiply-adds or more
    (:func:`~sklearn_mcnn._network.blas_forward_work`); else a null context.

    A softmax model's products all run in the kernels' own loops (dense rows
    as dot products, CSR rows by the sparse loops), so its predictions skip
    the context: 9-25 µs of a 100-row ``predict_proba`` on AMD EPYC.
    """
    work = _network.blas_forward_work(sizes, chunk_rows, itemsize, sparse_input)
    if work >= BLAS_THREADING_WORK:
        return single_threaded_blas()
    return contextlib.nullcontext()
