"""
Randomized prediction: ``predict_sample`` against ``predict``
=============================================================

``predict`` returns the most probable class (the argmax rule);
``predict_sample`` draws each label from ``predict_proba``. Where the model
is confident they agree; near the boundaries the sampled labels are mixed.
The expected accuracy of the sampled labels is the mean probability of the
true class, which the log loss bounds from below. See :ref:`prediction`.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from sklearn.datasets import make_blobs
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_mcnn import SoftmaxClassifier

X, y = make_blobs(n_samples=1500, centers=[[-1.5, 0], [1.5, 0], [0, 2]],
                  cluster_std=1.2, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
clf = SoftmaxClassifier().fit(X_train, y_train)

(x_min, y_min), (x_max, y_max) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
xx, yy = np.meshgrid(np.linspace(x_min, x_max, 150), np.linspace(y_min, y_max, 150))
grid = np.c_[xx.ravel(), yy.ravel()]
cmap = ListedColormap(["tab:blue", "tab:orange", "tab:green"])

fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.6), sharey=True)
axes[0].pcolormesh(xx, yy, clf.predict(grid).reshape(xx.shape), cmap=cmap,
                   alpha=0.7, shading="auto")
axes[0].set_title("predict:\nargmax of predict_proba", fontsize=10)
axes[1].pcolormesh(xx, yy, clf.predict_sample(grid, random_state=0).reshape(xx.shape),
                   cmap=cmap, alpha=0.7, shading="auto")
axes[1].set_title("predict_sample(random_state=0):\none draw per point",
                  fontsize=10)
confidence = clf.predict_proba(grid).max(axis=1).reshape(xx.shape)
mesh = axes[2].pcolormesh(xx, yy, confidence, cmap="viridis", shading="auto")
fig.colorbar(mesh, ax=axes[2], label=r"$\max_k P(y=k|x)$")
axes[2].set_title("confidence of the model", fontsize=10)
for ax in axes:
    ax.scatter(*X_test.T, c=y_test, cmap=cmap, s=6, edgecolor="k", linewidth=0.2)
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
fig.tight_layout()

# %%
# Accuracy of the two rules
# -------------------------
# Over 200 seeds, the accuracy of ``predict_sample`` scatters around its
# expectation :math:`\frac1n\sum_i P(y_i|x_i)`, below the argmax rule's,
# and above :math:`\exp(-\text{log loss})`.
proba = clf.predict_proba(X_test)
expected = proba[np.arange(y_test.size), y_test].mean()
lower = np.exp(-log_loss(y_test, proba))
sampled = [np.mean(clf.predict_sample(X_test, random_state=seed) == y_test)
           for seed in range(200)]
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.hist(sampled, bins=20, color="0.7", label="predict_sample, 200 seeds")
ax.axvline(clf.score(X_test, y_test), color="tab:red", lw=2, label="predict")
ax.axvline(expected, color="k", ls="--", label=r"$\frac{1}{n}\sum_i P(y_i|x_i)$")
ax.axvline(lower, color="k", ls=":", label=r"$\exp(-\mathrm{log\ loss})$")
ax.set_xlabel("test accuracy")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Class frequencies
# -----------------
# The sampled labels reproduce the model's mean probabilities per class; the
# argmax labels over-represent the dominant class of each region.
fig, ax = plt.subplots(figsize=(6.5, 4))
width = 0.27
k = np.arange(3)
draws = clf.predict_sample(X_test, random_state=1)
ax.bar(k - width, np.bincount(y_test, minlength=3) / y_test.size, width, label="true")
ax.bar(k, np.bincount(clf.predict(X_test), minlength=3) / y_test.size, width,
       label="predict")
ax.bar(k + width, np.bincount(draws, minlength=3) / y_test.size, width,
       label="predict_sample")
ax.plot(k, proba.mean(axis=0), "k_", ms=30, mew=2, label="mean predict_proba")
ax.set_xticks(k)
ax.set_xlabel("class")
ax.set_ylabel("share of test samples")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
