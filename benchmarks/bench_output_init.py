"""Does starting ``fit`` at the class prior change the accuracy?

``MLPBackpropClassifier.fit`` sets a fresh network's output biases to the
model that predicts the weighted class frequencies (see
``_BaseNetwork._start_at_class_prior`` and the user guide, "Neural
networks").  This script measures that choice against the plain Glorot
start (a subclass that skips it), interleaved in one run: 5-fold
cross-validated accuracy, averaged over two seeds, on scikit-learn's bundled
data sets (iris, wine, digits, breast cancer), standardized and unscaled,
for five solver / loss / activation configurations; then the mean, worst
and best difference per preprocessing.

Run from the repository root (a few minutes on 2 cores)::

    python benchmarks/bench_output_init.py
    python benchmarks/bench_output_init.py --seeds 0 1 2 3
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier

from _common import machine_footer, write_report


class GlorotStart(MLPBackpropClassifier):
    """The reference: output biases left as Glorot-uniform draws."""

    def _start_at_class_prior(self, y_index, sample_weight):
        pass


CONFIGS = {
    "relu, log loss, adam": {},
    "tanh, squared error, adam": {"loss": "squared_error", "activation": "tanh"},
    "logistic (8, 8), lbfgs": {"hidden_layer_sizes": (8, 8),
                               "activation": "logistic", "solver": "lbfgs"},
    "relu, log loss, sgd": {"solver": "sgd"},
    "tanh, squared error, sgd": {"loss": "squared_error", "activation": "tanh",
                                 "solver": "sgd"},
}
DATASETS = {"iris": load_iris, "wine": load_wine, "digits": load_digits,
            "breast cancer": load_breast_cancer}


def cv_accuracy(cls, params, X, y, scaled, seeds, n_jobs):
    scores = []
    for seed in seeds:
        est = cls(random_state=seed, **params)
        if scaled:
            est = make_pipeline(StandardScaler(), est)
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        scores.append(cross_val_score(est, X, y, cv=cv, n_jobs=n_jobs).mean())
    return float(np.mean(scores))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", default=os.path.join(
        os.path.dirname(__file__), "results", "bench_output_init.md"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")   # ConvergenceWarning of short fits
    load_start = os.getloadavg()[0]
    lines = ["| configuration | data | features | Glorot start | class-prior "
             "start | difference |", "|---|---|---|---:|---:|---:|"]
    diffs = {"standardized": [], "unscaled": []}
    tic = time.perf_counter()
    for name, params in CONFIGS.items():
        for data_name, load in DATASETS.items():
            X, y = load(return_X_y=True)
            for prep, scaled in (("standardized", True), ("unscaled", False)):
                glorot = cv_accuracy(GlorotStart, params, X, y, scaled,
                                     args.seeds, args.n_jobs)
                prior = cv_accuracy(MLPBackpropClassifier, params, X, y, scaled,
                                    args.seeds, args.n_jobs)
                diffs[prep].append(prior - glorot)
                lines.append(f"| {name} | {data_name} | {prep} | {glorot:.4f} "
                             f"| {prior:.4f} | {100 * (prior - glorot):+.2f} |")
                print(lines[-1], flush=True)
    lines += ["", "| features | mean difference (points) | worst | best |",
              "|---|---:|---:|---:|"]
    for prep, d in diffs.items():
        d = 100 * np.asarray(d)
        lines.append(f"| {prep} | {d.mean():+.2f} | {d.min():+.2f} | "
                     f"{d.max():+.2f} |")
    lines += ["", f"5-fold CV accuracy, mean over seeds {args.seeds}; "
              f"{time.perf_counter() - tic:.0f} s."]
    lines += machine_footer("bench_output_init.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
