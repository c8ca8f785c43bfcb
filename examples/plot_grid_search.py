"""
Tuning a network in a ``Pipeline`` with ``GridSearchCV``
========================================================

The estimators are ordinary scikit-learn estimators: a ``StandardScaler``
followed by :class:`~sklearn_mcnn.MLPBackpropClassifier` goes into a
``Pipeline``, and ``GridSearchCV`` tunes the L2 penalty ``alpha`` and the
width of the hidden layer by cross-validation. We plot the mean validation
accuracy of every combination and the fit times. See :ref:`choosing`.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
pipe = Pipeline([
    ("scale", StandardScaler()),
    ("mlp", MLPBackpropClassifier(solver="adam", learning_rate_init=3e-3,
                                  max_iter=300, early_stopping=True,
                                  random_state=0)),
])
param_grid = {
    "mlp__alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "mlp__hidden_layer_sizes": [(4,), (16,), (64,)],
}
search = GridSearchCV(pipe, param_grid,
                      cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy {search.best_score_:.3f}, "
      f"test accuracy {search.score(X_test, y_test):.3f}")

# %%
# The search's results
# --------------------
# ``cv_results_`` has one entry per combination, in the order of
# ``ParameterGrid`` (parameters sorted by name, the last one varying
# fastest); we reshape it into a hidden units × alpha grid.
alphas = param_grid["mlp__alpha"]
widths = [sizes[0] for sizes in param_grid["mlp__hidden_layer_sizes"]]
shape = (len(alphas), len(widths))
scores = search.cv_results_["mean_test_score"].reshape(shape).T
times = search.cv_results_["mean_fit_time"].reshape(shape).T
assert np.all(alphas == search.cv_results_["param_mlp__alpha"].reshape(shape).T)

fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
ax = axes[0]
image = ax.imshow(scores, cmap="viridis", origin="lower")
ax.set_xticks(range(len(alphas)), [f"{a:g}" for a in alphas])
ax.set_yticks(range(len(widths)), widths)
ax.set_xlabel("alpha")
ax.set_ylabel("hidden units")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center",
            color="w" if value < scores.mean() else "k", fontsize=9)
fig.colorbar(image, ax=ax, label="mean CV accuracy")
ax.set_title("GridSearchCV: mean validation accuracy", fontsize=10)

ax = axes[1]
for width, row in zip(widths, times):
    ax.semilogx(alphas, row * 1e3, "o-", label=f"{width} hidden units")
ax.set_xlabel("alpha")
ax.set_ylabel("mean fit time (ms)")
ax.set_title("fit time per cross-validation split", fontsize=10)
ax.legend()
fig.tight_layout()

# %%
# Small networks underfit whatever ``alpha``; once the layer is wide enough,
# a large penalty (``alpha=1``) costs accuracy by shrinking the weights too
# much, and moderate penalties are all about equally good, thanks to early
# stopping. Wider layers cost more per epoch but often stop earlier.
plt.show()
