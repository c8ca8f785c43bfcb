"""
Decision regions of softmax, one-vs-all and one-vs-one
======================================================

Three ways to build a multiclass linear classifier from the same 2-D,
three-class data: the joint softmax model (:class:`~sklearn_mcnn.SoftmaxClassifier`),
one-vs-all (:class:`~sklearn_mcnn.OneVsAllClassifier`) and one-vs-one
(:class:`~sklearn_mcnn.OneVsOneClassifier`), both over binary softmax
models. For one-vs-all we also mark where the *textbook* rule (pick a class
whose classifier says "positive", at random) is ambiguous: where no
classifier, or several, say positive. See :ref:`linear_models` and
:ref:`reductions`.
"""

# %%
# Data: three overlapping Gaussian blobs
# --------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from sklearn.datasets import make_blobs

from sklearn_mcnn import OneVsAllClassifier, OneVsOneClassifier, SoftmaxClassifier

X, y = make_blobs(
    n_samples=300, centers=[[-2, 0], [2, 0], [0, 2.5]], cluster_std=1.1,
    random_state=0,
)
colors = ["tab:blue", "tab:orange", "tab:green"]
cmap = ListedColormap(["#aec7e8", "#ffbb78", "#98df8a"])

xx, yy = np.meshgrid(np.linspace(-6, 6, 300), np.linspace(-4, 6.5, 300))
grid = np.c_[xx.ravel(), yy.ravel()]

# %%
# Three classifiers
# -----------------
# The reductions use a binary :class:`~sklearn_mcnn.SoftmaxClassifier` per
# sub-problem (their default); its ``decision_function`` is the score
# difference :math:`z_1 - z_0`, positive for "this class". The one-vs-one
# panel shows the majority vote (``voting='confidence'``, scikit-learn's
# rule) rather than the default, the argmax of the coupled probabilities.
models = {
    "softmax (joint)": SoftmaxClassifier(alpha=1e-3),
    "one-vs-all (argmax)": OneVsAllClassifier(SoftmaxClassifier(alpha=1e-3)),
    "one-vs-one (votes)": OneVsOneClassifier(SoftmaxClassifier(alpha=1e-3),
                                            voting="confidence"),
}
for model in models.values():
    model.fit(X, y)

fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.7), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    Z = model.predict(grid).reshape(xx.shape)
    ax.contourf(xx, yy, Z, levels=[-0.5, 0.5, 1.5, 2.5], cmap=cmap, alpha=0.8)
    ax.contour(xx, yy, Z, levels=[0.5, 1.5], colors="k", linewidths=0.7)
    for k in range(3):
        ax.scatter(*X[y == k].T, s=12, c=colors[k], edgecolor="k", linewidth=0.3)
    ax.set_title(f"{name}\ntraining accuracy {model.score(X, y):.3f}",
                 fontsize=10)
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
fig.tight_layout()

# %%
# On these well-separated blobs the three models draw nearly the same
# regions. The softmax and one-vs-all regions are convex polygons (argmax
# of linear scores). The one-vs-one regions come from the votes of three
# pairwise lines; where the three lines do not meet in one point they leave
# a small central triangle in which every class gets one vote and the
# summed confidences break the tie. The models differ in how they were
# trained: one joint likelihood, three "k against the rest" problems, or
# three problems on the pairs' samples only.
#
# Where the textbook one-vs-all rule is ambiguous
# -----------------------------------------------
# Each one-vs-all classifier draws one line, "class k" on one side. The
# textbook rule (``voting='random'``) picks at random among the classes
# whose classifier says positive. In the grey regions no classifier says
# positive (the rule falls back to the most confident class); in the
# hatched regions several do (the draw is a lottery).
ova = models["one-vs-all (argmax)"]
scores = ova.decision_function(grid)
n_positive = (scores > 0).sum(axis=1).reshape(xx.shape)

ova_random = OneVsAllClassifier(
    SoftmaxClassifier(alpha=1e-3), voting="random", random_state=0
).fit(X, y)

fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.4), sharey=True)
ax = axes[0]
ax.contourf(xx, yy, ova.predict(grid).reshape(xx.shape),
            levels=[-0.5, 0.5, 1.5, 2.5], cmap=cmap, alpha=0.5)
ax.contourf(xx, yy, n_positive, levels=[-0.5, 0.5], colors=["0.55"], alpha=0.8)
ax.contourf(xx, yy, n_positive, levels=[1.5, 3.5], colors="none", hatches=["//"])
for k in range(3):
    ax.contour(xx, yy, scores[:, k].reshape(xx.shape), levels=[0], colors=colors[k],
               linewidths=2)
    ax.scatter(*X[y == k].T, s=12, c=colors[k], edgecolor="k", linewidth=0.3)
ax.set_title("one-vs-all: lines $s_k(x) = 0$\n"
             "grey: nobody positive, hatched: several positive", fontsize=10)
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")

ax = axes[1]
ax.contourf(xx, yy, ova_random.predict(grid).reshape(xx.shape),
            levels=[-0.5, 0.5, 1.5, 2.5], cmap=cmap, alpha=0.9)
ax.set_title("voting='random': one draw per grid point\n"
             "(speckled where several classes say positive)", fontsize=10)
ax.set_xlabel("$x_1$")
fig.tight_layout()

share = np.mean(n_positive.ravel() != 1)
print(f"share of the plotted plane where the textbook rule is ambiguous: {share:.1%}")

# %%
# Training and prediction cost
# ----------------------------
# One-vs-all fitted 3 classifiers on all 300 samples; one-vs-one fitted
# 3 classifiers on the 200 samples of each pair. With :math:`K` classes
# these become :math:`K` and :math:`K(K-1)/2`.
print("one-vs-all:", len(ova.estimators_), "estimators")
print("one-vs-one:", len(models["one-vs-one (votes)"].estimators_), "estimators")
plt.show()
