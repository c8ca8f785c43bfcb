"""Benchmark the one-vs-all and one-vs-one reductions against scikit-learn's.

On two MNIST-shaped generated data sets (by default 60000 training and 10000
test samples each): ``clusters``, 784 standardised features and 10 classes
from ``make_classification`` (``random_state=0``), and ``digits``,
scikit-learn's digits upsampled to 28 × 28 and randomly deformed (pixels in
[0, 1], an always-zero border, harder for L-BFGS: see
``_common.make_digits``), one run measures on each:

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

``--six`` runs the other comparison: the six reductions of the package
(one-vs-all, one-vs-one, output codes dense and sparse, filter tree and
error-correcting tournament) over the same ``SoftmaxClassifier()`` base, on
digits and on ``make_classification`` problems of 10, 100 and 1000 classes,
reporting accuracy, the number of binary classifiers, fit time, predict time
per row (in one batch, and for one row alone), and the binary classifiers
evaluated per row; plus Vowpal Wabbit's ``--ect`` accuracy when the
``vowpalwabbit`` package is installed::

    python benchmarks/bench_reductions.py --six \
        --output benchmarks/results/bench_reductions_six.md
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

from sklearn_mcnn import (
    OneVsAllClassifier,
    OneVsOneClassifier,
    OutputCodeClassifier,
    TournamentClassifier,
)

from _common import (
    DATASETS,
    PeakMemory,
    cpu_model,
    load_dataset,
    machine_footer,
    write_report,
)


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


# --------------------------------------------------------------------------
# The six reductions over one base (--six)

SIX = {
    "one-vs-all": lambda: OneVsAllClassifier(random_state=0),
    "one-vs-one": lambda: OneVsOneClassifier(random_state=0),
    # loss-based decoding: the coupling's (K+1)-square system per row is the
    # bottleneck at 1000 classes
    "ECOC dense": lambda: OutputCodeClassifier(code="dense", decoding="loss",
                                               random_state=0),
    "ECOC sparse": lambda: OutputCodeClassifier(code="sparse", decoding="loss",
                                                random_state=0),
    "filter tree": lambda: TournamentClassifier(random_state=0),
    "ECT (e=1)": lambda: TournamentClassifier(n_errors=1, random_state=0),
    "filter tree, walk": lambda: TournamentClassifier(search="walk",
                                                      random_state=0),
    "ECT (e=1), walk": lambda: TournamentClassifier(n_errors=1, search="walk",
                                                    random_state=0),
}

# one-vs-one at 1000 classes: 499500 classifiers
MAX_PAIRS = 10_000


def _six_datasets(max_classes):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=1 / 3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    yield "digits", scaler.transform(X_train), y_train, scaler.transform(X_test), y_test
    from sklearn.datasets import make_classification

    for n_classes in (10, 100, 1000):
        if n_classes > max_classes:
            continue
        n_train, n_test = 40 * n_classes if n_classes > 10 else 2000, 2000
        X, y = make_classification(
            n_samples=n_train + n_test, n_features=40, n_informative=30,
            n_redundant=0, n_classes=n_classes, n_clusters_per_class=1,
            class_sep=3.0, random_state=0)
        scaler = StandardScaler().fit(X[:n_train])
        yield (f"make_classification K={n_classes}", scaler.transform(X[:n_train]),
               y[:n_train], scaler.transform(X[n_train:]), y[n_train:])


def _evaluations_per_row(model, X):
    """Binary classifiers evaluated per row by predict."""
    if isinstance(model, TournamentClassifier):
        return float(model.decision_path(X).sum(axis=1).mean())
    return float(len(model.estimators_))


def _vowpal_wabbit_accuracy(X, y, X_test, y_test, n_errors, passes=5):
    """Accuracy of Vowpal Wabbit's --ect (online, `passes` shuffled passes)."""
    from vowpalwabbit import Workspace

    classes, y_index = np.unique(y, return_inverse=True)

    def line(x, label=""):
        return f"{label} | " + " ".join(f"f{j}:{v:.6g}" for j, v in enumerate(x))

    vw = Workspace(f"--ect {classes.size} --error {n_errors} --quiet "
                   "--random_seed 0")
    rng = np.random.RandomState(0)
    for _ in range(passes):
        for i in rng.permutation(len(y)):
            vw.learn(line(X[i], y_index[i] + 1))
    predicted = np.array([vw.predict(line(x)) for x in X_test]) - 1
    vw.finish()
    return float(np.mean(classes[predicted] == y_test))


def run_six(args, argv):
    load_start = os.getloadavg()[0]
    try:
        import vowpalwabbit  # noqa: F401

        have_vw = True
    except ImportError:
        have_vw = False
    header = ("| data | reduction | binary classifiers | evaluated per row | "
              "accuracy | fit s | predict µs/row (batch) | predict ms (one row) |")
    lines = [
        ("The six reductions over the same base, `SoftmaxClassifier()` (defaults), "
        "in one run: one-vs-all, one-vs-one (pairwise coupling), output codes "
        "(random dense and sparse codes, loss-based decoding, logistic loss), "
        "the filter tree and the error-correcting tournament with one error "
        "(`TournamentClassifier(n_errors=1)`), both with `search='best'` (the "
        "default: `predict` is the argmax of `predict_proba`, by branch and "
        "bound for the filter tree, over all nodes for the ECT) and "
        "`search='walk'` (one node per level, no `predict_proba`). "
        "*Evaluated per row*: binary "
        "classifiers `predict` evaluates for one sample (the tournaments': "
        "`decision_path` row sums, averaged over the test set). Predict time "
        "per row: one `predict` call on the whole test set divided by its "
        "rows; one row: the fastest of 20 single-row `predict` calls."),
        "",
        header,
        "|" + "---|" * 8,
    ]
    print(header, flush=True)
    vw_rows = []
    for name, X, y, X_test, y_test in _six_datasets(args.max_classes):
        n_classes = np.unique(y).size
        ova_evaluations = None
        for reduction, make_model in SIX.items():
            n_pairs = n_classes * (n_classes - 1) // 2
            if reduction == "one-vs-one" and n_pairs > MAX_PAIRS:
                row = (f"| {name} | {reduction} | "
                       f"{n_classes * (n_classes - 1) // 2} | not run | | | | |")
                lines.append(row)
                print(row, flush=True)
                continue
            model = make_model()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model.fit(X, y)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                accuracy = float(np.mean(model.predict(X_test) == y_test))
                batch_us = 1e6 * (time.perf_counter() - start) / len(y_test)
                one_row = []
                for i in range(20):
                    start = time.perf_counter()
                    model.predict(X_test[i:i + 1])
                    one_row.append(time.perf_counter() - start)
                evaluations = _evaluations_per_row(model, X_test)
            if reduction == "one-vs-all":
                ova_evaluations = evaluations
            share = (f" ({100 * evaluations / ova_evaluations:.2f} % of OvA)"
                     if "filter tree" in reduction or "ECT" in reduction else "")
            row = (f"| {name} | {reduction} | {len(model.estimators_)} | "
                   f"{evaluations:.2f}{share} | {accuracy:.4f} | {fit_s:.2f} | "
                   f"{batch_us:.1f} | {1e3 * min(one_row):.2f} |")
            lines.append(row)
            print(row, flush=True)
        if have_vw:
            for n_errors in (0, 1):
                accuracy = _vowpal_wabbit_accuracy(X, y, X_test, y_test, n_errors)
                vw_rows.append(f"| {name} | `vw --ect {n_classes} --error {n_errors}`"
                               f" (5 passes) | {accuracy:.4f} |")
                print(vw_rows[-1], flush=True)
    if vw_rows:
        lines += ["", ("Vowpal Wabbit's error-correcting tournament on the same "
                       "data (online, linear, default learning rate), for "
                       "accuracy:"),
                  "", "| data | model | accuracy |", "|---|---|---|", *vw_rows]
    else:
        lines += ["", "(vowpalwabbit not installed: no Vowpal Wabbit rows.)"]
    lines += machine_footer("bench_reductions.py", argv, load_start)
    if args.output:
        write_report(lines, args.output)
    else:
        print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=60000)
    parser.add_argument(
        "--n-test", type=int, default=None, help="test samples (default: n_samples / 6)"
    )
    parser.add_argument("--n-features", type=int, default=784)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument(
        "--datasets",
        default="clusters,digits",
        help=f"comma-separated names among {', '.join(DATASETS)} (default: all; "
        "the digits have 784 features and 10 classes)",
    )
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
    parser.add_argument("--output", help="also write the results to this JSON file "
                        "(with --six: a Markdown table)")
    parser.add_argument("--six", action="store_true",
                        help="the six reductions over one base (see above)")
    parser.add_argument("--max-classes", type=int, default=1000,
                        help="with --six: skip the larger make_classification "
                        "problems")
    args = parser.parse_args(argv)
    if args.six:
        run_six(args, argv)
        return
    n_test = args.n_test if args.n_test is not None else max(1, args.n_samples // 6)

    results = []
    for name in args.datasets.split(","):
        results += run_dataset(name, args, n_test)
    print("\n(no-conv: sub-fits that stopped at max_iter with a ConvergenceWarning)")
    print(f"CPU: {cpu_model()}")

    if args.output:
        with open(args.output, "w") as f:
            json.dump({"args": vars(args), "cpu": cpu_model(), "results": results},
                      f, indent=2)


def run_dataset(name, args, n_test):
    """Both libraries' reductions on the data set ``name``; the rows."""
    n_features, n_classes = args.n_features, args.n_classes
    if name == "digits":
        n_features, n_classes = 784, 10
    X, y, X_test, y_test = load_dataset(
        name, args.n_samples, n_test, n_features, n_classes
    )
    print(
        f"\n{name}: {X.shape[0]} x {X.shape[1]} train, {X_test.shape[0]} test, "
        f"{n_classes} classes; n_jobs={args.n_jobs}; "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"{cpu_model()} ({platform.machine()}) with {os.cpu_count()} CPUs"
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
        results.extend(dict(row, dataset=name) for row in rows)
    return results


if __name__ == "__main__":
    main()
