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
3. **The clock decides between one and several** where regions repeat (the
   training steps, the L-BFGS objective): a tuner
   (:func:`sklearn_mcnn._network.new_tuner`) starts on one thread and,
   once ``PROBE_AFTER_SECONDS`` (0.25 s) of steps have passed, probes the
   others for a few steps, keeping whichever count is faster; a probe that
   clearly loses ends after two steps, and probes grow rarer while they
   lose.  A short fit thus never wakes a second core (on a shared machine
   waking an idle one can itself take tens of milliseconds), and a busy
   core costs a long one little.

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
    the context: 9-25 µs of a 100-row ``predict_proba`` on AMD EPYC, and
    BLAS's threads, woken by the change of their number, stay asleep.
    """
    work = _network.blas_forward_work(sizes, chunk_rows, itemsize, sparse_input)
    if work >= BLAS_THREADING_WORK:
        return single_threaded_blas()
    return contextlib.nullcontext()
