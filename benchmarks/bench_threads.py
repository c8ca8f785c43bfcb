"""How much work a parallel region needs before a second thread pays.

Times the kernels' parallel regions on one thread and on two, directly
(no estimator around them): the full-batch objective and gradient of the
softmax model (:func:`sklearn_mcnn._network.loss_grad`, L-BFGS's region)
and the inference pass of an MLP (:func:`sklearn_mcnn._network.forward`),
over sizes from 5e4 to 1e9 multiply-adds, first on idle cores, then with
one core kept busy by a process this script starts and stops
(``python -c "while True: pass"``).  Each time is the *mean* of repeated
calls (under load, the rare slow call is the cost).  The thresholds of
:mod:`sklearn_mcnn._threads` are read from these tables.

Run from the repository root (about a minute)::

    python benchmarks/bench_threads.py
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import itertools
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier, _network
from sklearn_mcnn._engine import TrainingData, full_batch_chunk_rows
from sklearn_mcnn._threads import single_threaded_blas

from _common import machine_footer, write_report

LOSS_GRAD = [(300, 20, 3), (1000, 20, 10), (1000, 64, 10), (2000, 64, 10),
             (4000, 64, 10), (2000, 200, 10), (5000, 100, 10),
             (10000, 100, 10), (10000, 500, 10)]
FORWARD = [(512, (64, 100, 10)), (1024, (64, 100, 10)), (4096, (64, 100, 10)),
           (1024, (784, 256, 10)), (4096, (784, 256, 128, 10))]


def mean_seconds(func, work):
    """Mean seconds of ``func()`` over ~0.3 s worth of calls (at least 5)."""
    repeats = max(5, int(3e7 / work))
    tic = time.perf_counter()
    for _ in range(repeats):
        func()
    return (time.perf_counter() - tic) / repeats


def loss_grad_case(n, d, k, rng):
    X, y = rng.standard_normal((n, d)), rng.randint(0, k, n)
    est = SoftmaxClassifier(max_iter=1).fit(X, y)
    net = est._training_network()
    net.set_capacity(full_batch_chunk_rows(net.sizes))
    data = TrainingData(X, np.searchsorted(est.classes_, y), np.ones(n))
    params, grad = est._params.copy(), np.empty_like(est._params)

    def run(threads):
        _network.loss_grad(net, data.dataset, params, grad, est._running, 1e-4,
                           threads)
    return f"loss_grad {n}×{d}×{k}", 3 * n * d * k, run


def forward_case(n, sizes, rng):
    X, y = rng.standard_normal((n, sizes[0])), rng.randint(0, sizes[-1], n)
    est = MLPBackpropClassifier(sizes[1:-1], max_iter=1).fit(X[:300], y[:300])
    out = np.empty((n, sizes[-1]))
    net = est._net.inference_layout(n, 256)
    inputs = _network.Dataset(X)

    def run(threads):
        _network.forward(net, inputs, est._params, est._running, out, True,
                         threads)
    work = n * sum(a * b for a, b in itertools.pairwise(sizes))
    return f"forward {n} rows, {'-'.join(map(str, sizes))}", work, run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "results", "bench_threads.md"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    load_start = os.getloadavg()[0]
    rng = np.random.RandomState(0)
    cases = ([loss_grad_case(*c, rng) for c in LOSS_GRAD]
             + [forward_case(*c, rng) for c in FORWARD])
    results = {}
    for load in ("idle", "busy"):
        busy = None
        if load == "busy":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            with single_threaded_blas():
                for name, work, run in cases:
                    results[name, load] = [
                        mean_seconds(lambda t=t, run=run: run(t), work)
                        for t in (1, 2)]
        finally:
            if busy is not None:
                busy.terminate()
                busy.wait()
    lines = ["| region | multiply-adds | log2 | idle 1 thr (µs) | idle 2 thr "
             "| idle 1/2 | busy 1 thr | busy 2 thr | busy 1/2 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, work, _ in cases:
        (i1, i2), (b1, b2) = results[name, "idle"], results[name, "busy"]
        lines.append(f"| {name} | {work:.2e} | {np.log2(work):.1f} | "
                     f"{i1 * 1e6:.0f} | {i2 * 1e6:.0f} | {i1 / i2:.2f} | "
                     f"{b1 * 1e6:.0f} | {b2 * 1e6:.0f} | {b1 / b2:.2f} |")
    lines += ["", "Ratios above 1: two threads faster.  Busy: one core kept "
              "busy by `python -c \"while True: pass\"`."]
    lines += machine_footer("bench_threads.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
