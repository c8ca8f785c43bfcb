"""``python -m sklearn_mcnn``: the package's estimators on the digits data set.

Trains each estimator of the package beside scikit-learn's closest one on
the digits (8×8 images, 10 classes, shipped with scikit-learn) and prints
test accuracy, log loss and fit time.
"""

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_mcnn


def contenders(alpha, n_train, random_state):
    """(name, ours?, estimator) in the order of the table."""
    C = 1.0 / (alpha * n_train)
    mlp = dict(hidden_layer_sizes=(100,), alpha=alpha, max_iter=200,
               random_state=random_state)
    rows = [
        ("SoftmaxClassifier(lbfgs)", True,
         sklearn_mcnn.SoftmaxClassifier(alpha=alpha, random_state=random_state)),
        ("SoftmaxClassifier(adam)", True,
         sklearn_mcnn.SoftmaxClassifier(alpha=alpha, solver="adam",
                                        learning_rate_init=0.01, max_iter=50,
                                        random_state=random_state)),
        ("LogisticRegression", False, LogisticRegression(C=C, max_iter=1000)),
        ("SGDClassifier(log_loss)", False,
         SGDClassifier(loss="log_loss", alpha=alpha, random_state=random_state)),
        ("MLPBackpropClassifier(100)", True,
         sklearn_mcnn.MLPBackpropClassifier(**mlp)),
        ("MLPClassifier(100)", False, MLPClassifier(**mlp)),
    ]
    for name in ("OneVsAllClassifier", "OneVsOneClassifier"):
        if hasattr(sklearn_mcnn, name):
            rows.append((f"{name}(Softmax)", True, getattr(sklearn_mcnn, name)(
                sklearn_mcnn.SoftmaxClassifier(alpha=alpha),
                random_state=random_state)))
    rows += [
        ("OneVsRestClassifier(LogReg)", False,
         OneVsRestClassifier(LogisticRegression(C=C, max_iter=1000))),
        ("OneVsOneClassifier(LogReg)", False,
         OneVsOneClassifier(LogisticRegression(C=C, max_iter=1000))),
    ]
    return rows


def settings_line(alpha, random_state, n_train, n_test, n_features, n_classes):
    """The line above the table: what it shows, on which data, with which
    settings."""
    return (f"Test accuracy, test log loss and fit time of each estimator on the "
            f"digits ({n_train} training and {n_test} test rows, {n_features} "
            f"standardised features, {n_classes} classes); every model "
            f"alpha={alpha:g} (scikit-learn's C = 1/(alpha n)), "
            f"random_state={random_state} where it draws random numbers, the rest "
            f"at the defaults but "
            f"LogisticRegression's max_iter=1000 and the adam softmax's "
            f"learning_rate_init=0.01, max_iter=50.")


def _os_threads():
    """This process's OS threads (Linux), else None."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1e-3,
                        help="L2 penalty (LogisticRegression gets C = 1/(alpha n))")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.random_state)
    print(settings_line(args.alpha, args.random_state, X_train.shape[0],
                        X_test.shape[0], X.shape[1], np.unique(y).size) + "\n")
    header = f"{'estimator':<30} {'package':<13} {'accuracy':>8} {'log loss':>9} " \
             f"{'fit (s)':>8}"
    print(header)
    print("-" * len(header))
    threads_before = _os_threads()
    for name, ours, est in contenders(args.alpha, X_train.shape[0],
                                      args.random_state):
        model = make_pipeline(StandardScaler(), est)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - tic
        accuracy = accuracy_score(y_test, model.predict(X_test))
        loss = (f"{log_loss(y_test, model.predict_proba(X_test)):9.4f}"
                if hasattr(model, "predict_proba") else f"{'-':>9}")
        package = "sklearn_mcnn" if ours else "scikit-learn"
        print(f"{name:<30} {package:<13} {accuracy:8.4f} {loss} {seconds:8.3f}")
    from sklearn_mcnn._threads import effective_n_threads

    line = (f"\nThreads: sklearn_mcnn's kernels may use {effective_n_threads()} "
            "(scikit-learn's rule: OMP_NUM_THREADS, threadpoolctl, CPU quota) "
            "but share work only where it is large enough")
    if threads_before is not None:
        started = _os_threads() - threads_before
        line += (f"; the fits above started {started} new thread(s) "
                 "(any library's)")
    print(line + ".")


if __name__ == "__main__":
    main()
