"""
A network learns a non-linear boundary as its hidden layer grows
================================================================

A linear model cannot separate the two moons or the two circles. One hidden
layer of :math:`m` units gives the output softmax a learnt representation
:math:`\\tanh(x W_1 + b_1)`; as :math:`m` grows, the boundary bends until it
follows the data. We fit :class:`~sklearn_mcnn.MLPBackpropClassifier` with
:math:`m = 1, 2, 3, 8, 32` and plot the predicted probability of the orange
class. See :ref:`neural_networks`.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_circles, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier

datasets = {
    "moons": make_moons(n_samples=400, noise=0.2, random_state=0),
    "circles": make_circles(n_samples=400, noise=0.1, factor=0.5, random_state=0),
}
widths = [0, 1, 2, 3, 8, 32]  # 0: no hidden layer, the softmax model

# Two rows of three panels per data set.
fig, axes = plt.subplots(4, 3, figsize=(9, 12.4))
for row, (name, (X, y)) in enumerate(datasets.items()):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0
    )
    x_min, x_max = X[:, 0].min() - 0.5, X[:, 0].max() + 0.5
    y_min, y_max = X[:, 1].min() - 0.5, X[:, 1].max() + 0.5
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, 200),
                         np.linspace(y_min, y_max, 200))
    grid = np.c_[xx.ravel(), yy.ravel()]
    for col, m in enumerate(widths):
        if m == 0:
            clf = SoftmaxClassifier()
        else:
            clf = MLPBackpropClassifier(
                hidden_layer_sizes=(m,), activation="tanh", solver="adam",
                learning_rate_init=0.02, max_iter=600, alpha=1e-4,
                random_state=1,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        proba = clf.predict_proba(grid)[:, 1].reshape(xx.shape)
        ax = axes[2 * row + col // 3, col % 3]
        ax.contourf(xx, yy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                    alpha=0.7)
        ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(*X_train.T, c=y_train, cmap="RdBu_r", s=8, edgecolor="k",
                   linewidth=0.3)
        title = "softmax (no hidden layer)" if m == 0 else f"{m} hidden unit(s)"
        ax.set_title(f"{name}: {title}\ntest accuracy {clf.score(X_test, y_test):.2f}",
                     fontsize=9)
        ax.set_xticks(())
        ax.set_yticks(())
fig.tight_layout()

# %%
# With one hidden unit the network is still a monotone function of one
# projection of :math:`x`, so its boundary is a line: no better than the
# softmax. Two units bend it into a wedge, three carve the moons' S shape
# (but only a band across the circles), and with eight the boundary closes
# around the inner circle and follows the data. Past that
# point, extra units mostly add capacity to overfit, which the
# regularisation example addresses.
plt.show()
