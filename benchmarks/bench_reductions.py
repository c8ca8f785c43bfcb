"""Benchmark the one-vs-all and one-vs-one reductions against scikit-learn's.

On MNIST-shaped generated data (by default 60000 training and 10000 test
samples, 784 standardised features, 10 classes, from ``make_classification``
with 50 informative features and ``random_state=0``), one run measures:

* scikit-learn's ``OneVsRestClassifier(LogisticRegression())`` against
  ``sklearn_mcnn.OneVsAllClassifier()`` (default base: ``SoftmaxClassifier``);
* scikit-learn's ``OneVsOneClassifier(LogisticRegression())`` against
  ``sklearn_mcnn.OneVsOneClassifier(voting='confidence')`` (the same
  prediction rule: the vote, ties broken by the summed confidences);

reporting fit time, predict time, test accuracy and peak memory of the fit
(increase of the resident set size over the value before the fit, sampled
every 2 ms; with no ``/proc/self/statm``, the ``tracemalloc`` peak of a second
fit), then the ratios scikit-learn / ours. The target of the issue: our fit
at least twice as fast at equal accuracy (within 0.5 points).

Run from the repository root::

    python benchmarks/bench_reductions.py                  # full size
    python benchmarks/bench_reductions.py --n-samples 5000 --n-features 100

``--estimator lr`` wraps ``LogisticRegression()`` in our reductions too,
which isolates the overhead of the meta-estimators themselves.
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsOneClassifier as SkOneVsOneClassifier
from sklearn.multiclass import OneVsRestClassifier

from sklearn_mcnn import OneVsAllClassifier, OneVsOneClassifier

from _common import PeakMemory, make_data


def _fit_counting_warnings(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y)
    return sum(issubclass(w.category, ConvergenceWarning) for w in caught)


def measure(make_model, X, y, X_test, y_test, repeat):
    """Best-of-`repeat` fit and predict times, accuracy and peak fit memory."""
    fit_times, predict_times, peaks = [], [], []
    for _ in range(repeat):
        model = make_model()
        with PeakMemory() as memory:
            start = time.perf_counter()
            n_warnings = _fit_counting_warnings(model, X, y)
            fit_times.append(time.perf_counter() - start)
        peaks.append(memory.mib)
        start = time.perf_counter()
        y_pred = model.predict(X_test)
        predict_times.append(time.perf_counter() - start)
    peak_mb = max(peaks)
    return {
        "fit_s": min(fit_times),
        "predict_s": min(predict_times),
        "accuracy": float(np.mean(y_pred == y_test)),
        "peak_fit_mb": peak_mb,
        "convergence_warnings": n_warnings,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=60000)
    parser.add_argument(
        "--n-test", type=int, default=None, help="test samples (default: n_samples / 6)"
    )
    parser.add_argument("--n-features", type=int, default=784)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fits per configuration, the best time is kept",
    )
    parser.add_argument(
        "--reductions", nargs="+", default=["ova", "ovo"], choices=["ova", "ovo"]
    )
    parser.add_argument(
        "--estimator",
        choices=["default", "lr"],
        default="default",
        help="base estimator of our reductions",
    )
    parser.add_argument("--output", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    n_test = args.n_test if args.n_test is not None else max(1, args.n_samples // 6)

    X, y, X_test, y_test = make_data(
        args.n_samples, n_test, args.n_features, args.n_classes
    )
    print(
        f"data: {X.shape[0]} x {X.shape[1]} train, {X_test.shape[0]} test, "
        f"{args.n_classes} classes; n_jobs={args.n_jobs}; "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs"
    )

    def ours_base():
        return None if args.estimator == "default" else LogisticRegression()

    ours_name = (
        "SoftmaxClassifier()"
        if args.estimator == "default"
        else ("LogisticRegression()")
    )
    configurations = {
        "ova": (
            (
                "scikit-learn",
                "OneVsRestClassifier(LogisticRegression())",
                lambda: OneVsRestClassifier(LogisticRegression(), n_jobs=args.n_jobs),
            ),
            (
                "sklearn_mcnn",
                f"OneVsAllClassifier({ours_name})",
                lambda: OneVsAllClassifier(
                    ours_base(), n_jobs=args.n_jobs, random_state=0
                ),
            ),
        ),
        "ovo": (
            (
                "scikit-learn",
                "OneVsOneClassifier(LogisticRegression())",
                lambda: SkOneVsOneClassifier(LogisticRegression(), n_jobs=args.n_jobs),
            ),
            (
                "sklearn_mcnn",
                f"OneVsOneClassifier({ours_name})",
                lambda: OneVsOneClassifier(
                    ours_base(), voting="confidence", n_jobs=args.n_jobs,
                    random_state=0,
                ),
            ),
        ),
    }

    header = (
        f"{'library':<13} {'model':<48} {'fit s':>8} {'predict s':>10} "
        f"{'accuracy':>9} {'peak MB':>8} {'no-conv':>8}"
    )
    results = []
    for reduction in args.reductions:
        print()
        print(header)
        print("-" * len(header))
        rows = []
        for library, label, make_model in configurations[reduction]:
            row = measure(make_model, X, y, X_test, y_test, args.repeat)
            row.update(reduction=reduction, library=library, model=label)
            rows.append(row)
            print(
                f"{library:<13} {label:<48} {row['fit_s']:>8.2f} "
                f"{row['predict_s']:>10.3f} {row['accuracy']:>9.4f} "
                f"{row['peak_fit_mb']:>8.1f} {row['convergence_warnings']:>8d}",
                flush=True,
            )
        ref, ours = rows
        fit_ratio = ref["fit_s"] / ours["fit_s"]
        accuracy_gap = 100 * (ours["accuracy"] - ref["accuracy"])
        memory_ratio = ref["peak_fit_mb"] / max(ours["peak_fit_mb"], 1e-3)
        met = fit_ratio >= 2 and abs(accuracy_gap) <= 0.5
        print(
            f"ratios scikit-learn / ours: fit {fit_ratio:.2f}x, predict "
            f"{ref['predict_s'] / ours['predict_s']:.2f}x, peak memory "
            f"{memory_ratio:.2f}x; accuracy ours - scikit-learn "
            f"{accuracy_gap:+.2f} points; target (fit >= 2x, |gap| <= 0.5): "
            f"{'met' if met else 'NOT met'}"
        )
        results.extend(rows)
    print("\n(no-conv: sub-fits that stopped at max_iter with a ConvergenceWarning)")

    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
