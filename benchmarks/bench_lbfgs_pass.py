"""One L-BFGS evaluation against one streaming read of X, in the same run.

L-BFGS evaluates the full-batch objective and gradient once (sometimes
twice) per iteration: a forward product ``Z = X W`` and a gradient product
``Xᵀ D`` over each chunk of rows, the chunk read from memory once and
kept in cache between the two.  The floor of such a pass is one read of X.
This script times, on the deformed-digits data set (60,000 × 784, pixels in
[0, 1], ``_common.make_digits``), float32 and float64, dense and CSR:

- **read**: one streaming read of X, the faster of ``X @ v`` (BLAS gemv on
  one thread; scipy's CSR matvec) and ``X.sum(axis=0)``;
- **evaluation**: one call of the objective and gradient
  (:func:`sklearn_mcnn._network.loss_grad`, the chunks of
  :class:`~sklearn_mcnn._engine.FullBatchObjective`) on one thread and on
  two, for the 10-class softmax model and for a two-class problem (digits
  0-4 against 5-9), which L-BFGS trains as one logistic output.

Each time is the median of ``--repeat`` calls, the read and the evaluations
interleaved so that load from other processes falls on all of them alike.
The ratio evaluation / read is the figure of issue 17 (target ≤ 1.5).

Run from the repository root (about a minute)::

    python benchmarks/bench_lbfgs_pass.py
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from sklearn_mcnn import SoftmaxClassifier, _network
from sklearn_mcnn._engine import FullBatchObjective, TrainingData
from sklearn_mcnn._threads import single_threaded_blas

from _common import machine_footer, make_digits, write_report

RESULTS = Path(__file__).resolve().parent / "results"


def objective_for(X, y, alpha):
    """The objective L-BFGS would evaluate for a SoftmaxClassifier on (X, y):
    its network (one output for two classes), data, parameters and alpha."""
    est = SoftmaxClassifier(alpha=alpha)
    classes = np.unique(y)
    est.classes_ = classes
    est._initialize((X.shape[1], classes.size), X.dtype,
                    np.random.RandomState(0))
    est._params[:] = np.random.RandomState(1).normal(
        scale=0.01, size=est._params.size)
    net, params, alpha, _ = est._full_batch_problem()
    data = TrainingData(X, np.searchsorted(classes, y), np.ones(len(y)))
    return FullBatchObjective(net, data, params.copy(), est._running, alpha)


def median_seconds(funcs, repeat):
    """Median seconds of each function, the calls interleaved."""
    times = [[] for _ in funcs]
    for _ in range(repeat):
        for t, f in zip(times, funcs):
            tic = time.perf_counter()
            f()
            t.append(time.perf_counter() - tic)
    return [float(np.median(t)) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--output",
                        default=str(RESULTS / "bench_lbfgs_pass.md"))
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    X64, y, _, _ = make_digits(args.n_samples, 1)
    alpha = 1.0 / len(y)
    lines = [
        f"One L-BFGS evaluation against one read of X: digits, "
        f"{X64.shape[0]} x {X64.shape[1]}, density "
        f"{np.count_nonzero(X64) / X64.size:.2f}; median of {args.repeat}.",
        "",
        "| X | problem | parameters | read s | evaluation s, 1 thread "
        "| ratio | evaluation s, 2 threads | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    with single_threaded_blas():
        for dtype in (np.float64, np.float32):
            for sparse in (False, True):
                X = X64.astype(dtype)
                X = sp.csr_matrix(X) if sparse else X
                v = np.ones(X.shape[1], dtype=dtype)

                def read(X=X, v=v, sparse=sparse):
                    return X @ v

                def column_sums(X=X):
                    return X.sum(axis=0)

                for problem, labels in (("10 classes", y),
                                        ("2 classes", (y >= 5).astype(int))):
                    obj = objective_for(X, labels, alpha)
                    grad = np.empty_like(obj.params)
                    evals = [
                        (lambda k=k, obj=obj, grad=grad: _network.loss_grad(
                            obj.net, obj.data.dataset, obj.params, grad,
                            obj.running, obj.alpha, k))
                        for k in (1, 2)
                    ]
                    read(), column_sums()
                    for f in evals:
                        f()
                    t_read, t_sum, t1, t2 = median_seconds(
                        [read, column_sums, *evals], args.repeat)
                    floor = min(t_read, t_sum)
                    name = (f"{np.dtype(dtype).name} "
                            f"{'CSR' if sparse else 'dense'}")
                    lines.append(
                        f"| {name} | {problem} | {obj.params.size} | "
                        f"{floor:.4f} | {t1:.4f} | {t1 / floor:.2f} | "
                        f"{t2:.4f} | {t2 / floor:.2f} |")
                    print(lines[-1], flush=True)
    lines += [
        "",
        "read: the faster of `X @ v` (one thread) and `X.sum(axis=0)`; "
        "evaluation: `_network.loss_grad` with the chunk size of "
        "`FullBatchObjective` (two classes: the one logistic output).",
    ]
    lines += machine_footer("bench_lbfgs_pass.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
