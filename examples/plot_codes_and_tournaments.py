"""
Output codes and tournaments against one-vs-all and one-vs-one
==============================================================

The six reductions of multiclass to binary classification in
``sklearn_mcnn``, over the same binary base
(:class:`~sklearn_mcnn.SoftmaxClassifier`): one-vs-all, one-vs-one, error-
correcting output codes with random dense and sparse codes
(:class:`~sklearn_mcnn.OutputCodeClassifier`), the filter tree and the
error-correcting tournament (:class:`~sklearn_mcnn.TournamentClassifier`).
First their accuracy on digits against the number of binary classifiers
they train, then what a prediction costs as the number of classes grows.
See :ref:`codes_and_tournaments`.
"""

# %%
# Accuracy against the number of binary classifiers
# -------------------------------------------------
# Digits, 10 classes, a quarter of the samples to train. Each reduction
# trains a different number of binary classifiers: 10 for one-vs-all, 45 for
# one-vs-one, about 10 and 15 log2(K) for the random codes, K - 1 for the
# filter tree and about twice that for the tournament with one error.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import (
    OneVsAllClassifier,
    OneVsOneClassifier,
    OutputCodeClassifier,
    SoftmaxClassifier,
    TournamentClassifier,
)

REDUCTIONS = {
    "one-vs-all": lambda base=None: OneVsAllClassifier(base, random_state=0),
    "one-vs-one": lambda base=None: OneVsOneClassifier(base, random_state=0),
    "ECOC dense": lambda base=None: OutputCodeClassifier(
        base, code="dense", decoding="loss", n_trials=20, random_state=0),
    "ECOC sparse": lambda base=None: OutputCodeClassifier(
        base, code="sparse", decoding="loss", n_trials=20, random_state=0),
    "filter tree": lambda base=None: TournamentClassifier(base, random_state=0),
    "ECT (1 error)": lambda base=None: TournamentClassifier(base, n_errors=1,
                                                            random_state=0),
}
markers = dict(zip(REDUCTIONS, "osD^vP", strict=True))

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
train = np.arange(y.size) % 4 == 0

fig, ax = plt.subplots(figsize=(6, 4))
for name, make in REDUCTIONS.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached on a few sub-problems
        model = make().fit(X[train], y[train])
    accuracy = model.score(X[~train], y[~train])
    ax.scatter(len(model.estimators_), accuracy, marker=markers[name], s=60,
               label=name)
    print(f"{name:<14} {len(model.estimators_):>3} binary classifiers, "
          f"accuracy {accuracy:.3f}")
ax.set_xscale("log")
ax.set_xlabel("binary classifiers trained")
ax.set_ylabel("test accuracy (digits)")
ax.legend(fontsize="small")
ax.set_title("Accuracy against the number of binary classifiers")
fig.tight_layout()

# %%
# What a prediction costs as K grows
# ----------------------------------
# Classes at the corners of a simplex (every union of classes is linearly
# separable, so every node of the tournaments can be confident), K from 4 to
# 32 (a short L-BFGS run per binary problem is enough here). One-vs-all
# evaluates K classifiers per sample, one-vs-one K(K-1)/2 (left out above 8
# classes), the codes their O(log K) columns, the filter
# tree the nodes on its walk down from the final (``decision_path``): about
# log2(K). The error-correcting tournament's ``predict`` (the argmax of its
# win probabilities) evaluates all its nodes. The right panel times
# ``predict`` on one sample, where each binary classifier evaluated costs a
# call; on a large batch the tournaments call each node on the rows that
# reach it, so their batch throughput does not have the same advantage.
rng = np.random.RandomState(0)
sizes = [4, 8, 16, 32]
evaluations = {name: [] for name in REDUCTIONS}
seconds = {name: [] for name in REDUCTIONS}
for n_classes in sizes:
    y_k = np.repeat(np.arange(n_classes), 10)
    X_k = 5.0 * np.eye(n_classes)[y_k] + rng.normal(scale=0.5,
                                                     size=(y_k.size, n_classes))
    for name, make in REDUCTIONS.items():
        if name == "one-vs-one" and n_classes > 8:
            evaluations[name].append(np.nan)
            seconds[name].append(np.nan)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make(SoftmaxClassifier(max_iter=10)).fit(X_k, y_k)
        times = []
        for i in range(10):  # one sample at a time: the latency of predict
            start = time.perf_counter()
            model.predict(X_k[i:i + 1])
            times.append(time.perf_counter() - start)
        seconds[name].append(1e3 * min(times))
        if isinstance(model, TournamentClassifier):
            evaluations[name].append(model.decision_path(X_k).sum(axis=1).mean())
        else:
            evaluations[name].append(len(model.estimators_))

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
for name in REDUCTIONS:
    left.plot(sizes, evaluations[name], marker=markers[name], label=name)
    right.plot(sizes, seconds[name], marker=markers[name], label=name)
left.plot(sizes, np.log2(sizes), "k:", label="log2 K")
left.set_ylabel("binary classifiers evaluated per sample")
right.set_ylabel("predict time for one sample (ms)")
for ax in (left, right):
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of classes K")
left.legend(fontsize="small")
fig.suptitle("Prediction cost against the number of classes")
fig.tight_layout()
plt.show()
