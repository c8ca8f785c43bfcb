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

A second, tall and narrow data set (``make_classification``, ``--tall``
rows × 20 features, two classes, standardised, dense) shows the binary
log loss's own cost: 20 multiply-adds per row in each product, against
an ``exp`` and a ``log1p`` per row.

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
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

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


def data_sets(args):
    """(name, float64 X, [(problem, labels)], input kinds) of each data set."""
    X64, y, _, _ = make_digits(args.n_samples, 1)
    Xt, yt = make_classification(args.tall, 20, n_informative=10,
                                 random_state=0)
    Xt = StandardScaler().fit_transform(Xt)
    return [
        (f"digits {X64.shape[0]} × {X64.shape[1]}, density "
         f"{np.count_nonzero(X64) / X64.size:.2f}", X64,
         [("10 classes", y), ("2 classes", (y >= 5).astype(int))],
         (False, True)),
        (f"make_classification {Xt.shape[0]} × {Xt.shape[1]}", Xt,
         [("2 classes", yt)], (False,)),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60000)
    parser.add_argument("--tall", type=int, default=100000,
                        help="rows of the tall, narrow data set")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--output",
                        default=str(RESULTS / "bench_lbfgs_pass.md"))
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    sets = data_sets(args)
    lines = [
        f"One L-BFGS evaluation against one read of X; median of "
        f"{args.repeat}.",
        "",
        "| data | X | problem | parameters | read s | evaluation s, 1 thread "
        "| ratio | evaluation s, 2 threads | ratio |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    with single_threaded_blas():
        for data_name, X64, problems, kinds in sets:
            for dtype in (np.float64, np.float32):
                for sparse in kinds:
                    X = X64.astype(dtype)
                    X = sp.csr_matrix(X) if sparse else X
                    lines += evaluations(data_name, X, sparse, problems,
                                         args.repeat)
    lines += [
        "",
        "read: the faster of `X @ v` (one thread) and `X.sum(axis=0)`; "
        "evaluation: `_network.loss_grad` with the chunk size of "
        "`FullBatchObjective` (two classes: the one logistic output).",
    ]
    lines += machine_footer("bench_lbfgs_pass.py", argv, load_start)
    write_report(lines, args.output)


def evaluations(data_name, X, sparse, problems, repeat):
    """The table's rows of one X: each problem's evaluation on one and two
    threads against one read of X, interleaved."""
    v = np.ones(X.shape[1], dtype=X.dtype)

    def read():
        return X @ v

    def column_sums():
        return X.sum(axis=0)

    rows = []
    for problem, labels in problems:
        obj = objective_for(X, labels, 1.0 / X.shape[0])
        grad = np.empty_like(obj.params)
        evals = [
            (lambda k=k, obj=obj, grad=grad: _network.loss_grad(
                obj.net, obj.data.dataset, obj.params, grad, obj.running,
                obj.alpha, k))
            for k in (1, 2)
        ]
        read(), column_sums()
        for f in evals:
            f()
        t_read, t_sum, t1, t2 = median_seconds(
            [read, column_sums, *evals], repeat)
        floor = min(t_read, t_sum)
        name = f"{X.dtype.name} {'CSR' if sparse else 'dense'}"
        rows.append(
            f"| {data_name} | {name} | {problem} | {obj.params.size} | "
            f"{floor:.4f} | {t1:.4f} | {t1 / floor:.2f} | {t2:.4f} | "
            f"{t2 / floor:.2f} |")
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    main()
