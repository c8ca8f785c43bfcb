"""L-BFGS's memory (correction pairs) against its iterations on the deformed
digits: how ``_training.LBFGS_ROWS_PER_PAIR`` was chosen.

For each number of pairs, ``SoftmaxClassifier(alpha=1/n)`` runs L-BFGS with
that memory (``_training.lbfgs_memory`` replaced by the constant) for up to
``--max-iter`` iterations, ``tol=0``, and the table gives the first
iteration whose objective is within 1e-4 (relative) of the one
``LogisticRegression(C=1)`` stops at with its default tolerance, and the
seconds per iteration; the last row is the package's own choice.  The
iteration counts are deterministic; the seconds are this machine's.

Run from the repository root (about two minutes at 20,000 rows, five at
60,000)::

    python benchmarks/bench_lbfgs_memory.py --n-samples 20000
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from bench_softmax import objective
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_mcnn import SoftmaxClassifier, _training

from _common import machine_footer, make_digits, write_report

RESULTS = Path(__file__).resolve().parent / "results"


class _OneLayer:
    """The rule's view of a network without hidden layers."""
    n_layers = 1


def iterations_to(F_ref, X, y, alpha, pairs, max_iter):
    """First iteration within 1e-4 of ``F_ref`` and seconds per iteration,
    with ``pairs`` correction pairs (None: the package's rule)."""
    rule = _training.lbfgs_memory
    if pairs is not None:
        _training.lbfgs_memory = lambda net, n_samples: pairs
    try:
        est = SoftmaxClassifier(alpha=alpha, tol=0.0, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            est.fit(X, y)
            seconds = time.perf_counter() - tic
    finally:
        _training.lbfgs_memory = rule
    curve = np.asarray(est.loss_curve_)
    reached = np.flatnonzero(curve <= F_ref + 1e-4 * abs(F_ref))
    return (int(reached[0]) + 1 if reached.size else None), seconds / len(curve)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60000)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--pairs", type=int, nargs="+", default=[10, 30, 50, 100])
    parser.add_argument("--output",
                        default=str(RESULTS / "bench_lbfgs_memory.md"))
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    # the training rows of bench_softmax.py's data set (10,000 test rows drawn)
    X, y, _, _ = make_digits(args.n_samples, 10000)
    alpha = 1.0 / len(y)
    tic = time.perf_counter()
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
    lr_seconds = time.perf_counter() - tic
    F_ref = objective(lr.coef_, lr.intercept_, X, y, alpha)
    own = _training.lbfgs_memory(_OneLayer, len(y))
    lines = [
        f"L-BFGS's correction pairs against its iterations: deformed digits, "
        f"{X.shape[0]} x {X.shape[1]}, 10 classes, alpha = 1/n.  "
        f"LogisticRegression(C=1) stops at F = {F_ref:.6f} after "
        f"{int(np.max(lr.n_iter_))} iterations ({lr_seconds:.1f} s).",
        "",
        "| pairs | iterations to LR's objective | ms per iteration |",
        "|---:|---:|---:|",
    ]
    for pairs in [*args.pairs, None]:
        reached, per_iteration = iterations_to(F_ref, X, y, alpha, pairs,
                                               args.max_iter)
        name = f"{pairs}" if pairs is not None else f"{own} (the package's rule)"
        lines.append(f"| {name} | {reached if reached else 'not reached'} "
                     f"| {1e3 * per_iteration:.0f} |")
        print(lines[-1], flush=True)
    lines += machine_footer("bench_lbfgs_memory.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
