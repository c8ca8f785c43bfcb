"""
The multiclass logistic loss bounds the 0-1 loss
================================================

The softmax's maximum-likelihood loss :math:`\\ell(z, y) = -\\log p_y` is a
convex, differentiable surrogate of the 0-1 loss: whenever the argmax rule
errs, :math:`\\ell \\geq \\log 2`, so :math:`\\mathbf 1[\\hat y \\ne y] \\le
\\ell / \\log 2`. We plot both along the margin of a three-class score
vector, then check the bound on a fitted
:class:`~sklearn_mcnn.SoftmaxClassifier` while it trains. See
:ref:`softmax`.
"""

# %%
# Along the margin
# ----------------
# Take scores :math:`z = (m, 0, 0)` for the true class 0 and two others. The
# prediction is correct for :math:`m > 0`; the loss is
# :math:`\log(e^m + 2) - m`.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import SoftmaxClassifier

margin = np.linspace(-4, 4, 401)
loss_3 = np.log(np.exp(margin) + 2) - margin
loss_2 = np.log1p(np.exp(-margin))  # two classes: the binary logistic loss
zero_one = (margin <= 0).astype(float)

fig, ax = plt.subplots(figsize=(6.5, 4.4))
ax.plot(margin, zero_one, "k", lw=2, label="0-1 loss")
ax.plot(margin, loss_3 / np.log(2), label=r"$\ell / \log 2$, 3 classes")
ax.plot(margin, loss_2 / np.log(2), "--", label=r"$\ell / \log 2$, 2 classes")
ax.set_xlabel(r"margin $m = z_y - \max_{j \neq y} z_j$")
ax.set_ylabel("loss")
ax.set_ylim(0, 5)
ax.legend()
ax.set_title("the scaled logistic loss lies above the 0-1 loss")
fig.tight_layout()

# %%
# During training
# ---------------
# On the digits, the training error stays below the mean loss divided by
# :math:`\log 2` at every epoch of SGD (we refit with a growing number of
# epochs, which reproduces the first epochs of a longer fit exactly).
X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
epochs = np.arange(1, 16)
bound, error = [], []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for k in epochs:
        clf = SoftmaxClassifier(solver="sgd", learning_rate_init=0.01, alpha=0.0,
                                max_iter=k, random_state=0).fit(X, y)
        bound.append(log_loss(y, clf.predict_proba(X)) / np.log(2))
        error.append(1 - clf.score(X, y))
fig, ax = plt.subplots(figsize=(6.5, 4.4))
ax.semilogy(epochs, bound, "o-", label=r"mean log loss / $\log 2$")
ax.semilogy(epochs, error, "s-", label="training error (0-1)")
ax.set_xlabel("epochs of SGD")
ax.legend()
ax.set_title("SoftmaxClassifier on the digits")
fig.tight_layout()
plt.show()
