"""
Training curves of the optimisers and the learning-rate schedules
=================================================================

Every stochastic solver of the package records the objective after each
epoch in ``loss_curve_``. We train the same small network on the digits
with each solver (plain SGD, heavy-ball momentum, Nesterov's momentum,
Adagrad, RMSProp, Adam), then Nesterov SGD under each learning-rate
schedule (``'constant'``, ``'invscaling'``, ``'adaptive'``, ``'cosine'``),
and compare the curves. The update rules are PyTorch's; see
:ref:`optimization`.
"""

# %%
# Data and a common network
# -------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)

common = {"hidden_layer_sizes": (64,), "batch_size": 64, "max_iter": 40, "tol": 0.0,
              "n_iter_no_change": 40, "random_state": 0}


def curve(**params):
    clf = MLPBackpropClassifier(**common, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


# %%
# The optimisers
# --------------
# Each with a learning rate in its usual range: SGD-type methods take
# larger steps than the adaptive ones, whose steps are normalised by the
# gradients' magnitudes.
solvers = {
    "SGD (lr 0.01)": {"solver": "sgd", "learning_rate_init": 0.01, "momentum": 0.0},
    "momentum 0.9 (lr 0.01)": {"solver": "sgd", "learning_rate_init": 0.01,
                                   "nesterovs_momentum": False},
    "Nesterov 0.9 (lr 0.01)": {"solver": "sgd", "learning_rate_init": 0.01},
    "Adagrad (lr 0.01)": {"solver": "adagrad", "learning_rate_init": 0.01},
    "RMSProp (lr 0.001)": {"solver": "rmsprop", "learning_rate_init": 0.001},
    "Adam (lr 0.001)": {"solver": "adam", "learning_rate_init": 0.001},
}
styles = ["-", "-", "--", "-", "-", "-"]
fig, ax = plt.subplots(figsize=(7, 4.4))
for (name, params), style in zip(solvers.items(), styles):
    clf = curve(**params)
    ax.semilogy(range(1, clf.n_iter_ + 1), clf.loss_curve_, style, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training objective (loss_curve_)")
ax.set_title("solvers, 64 hidden relu units, batch 64")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Momentum accelerates plain SGD by an order of magnitude; with this small
# learning rate the heavy-ball and Nesterov curves nearly coincide (the
# look-ahead matters more for larger steps). Adagrad's steps shrink as its
# squared-gradient sum grows, so it slows down; RMSProp and Adam, which
# forget old gradients, keep going.

# %%
# The learning-rate schedules
# ---------------------------
# Nesterov SGD started at a deliberately large rate (0.1). ``'invscaling'``
# divides it by :math:`(t+1)^{0.5}` with :math:`t` the samples seen: after
# the first epoch it is already ~40 times smaller, so progress stalls.
# ``'cosine'`` anneals it smoothly to zero at ``max_iter``; ``'adaptive'``
# divides it by 5 each time the loss stops improving by ``tol``.
schedules = {
    "constant": {"learning_rate": "constant"},
    "invscaling (power_t=0.5)": {"learning_rate": "invscaling"},
    "adaptive (tol=1e-3, n_iter_no_change=2)": {
        "learning_rate": "adaptive", "tol": 1e-3, "n_iter_no_change": 2},
    "cosine": {"learning_rate": "cosine"},
}
fig, ax = plt.subplots(figsize=(7, 4.4))
for name, params in schedules.items():
    settings = {**common, "solver": "sgd", "learning_rate_init": 0.1, **params}
    clf = MLPBackpropClassifier(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    ax.semilogy(range(1, clf.n_iter_ + 1), clf.loss_curve_, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("training objective (loss_curve_)")
ax.set_title("schedules, Nesterov SGD from lr 0.1")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The learning rate each schedule uses per epoch
# ----------------------------------------------
# The same formulas as ``_epoch_learning_rate`` in ``sklearn_mcnn/_training.py``
# (the adaptive schedule depends on the loss, so it is left out), here for
# 1797 samples per epoch and 40 epochs.
epochs = np.arange(40)
n = X.shape[0]
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogy(epochs + 1, np.full(40, 0.1), label="constant")
ax.semilogy(epochs + 1, 0.1 / (epochs * n + 1) ** 0.5, label="invscaling")
ax.semilogy(epochs + 1, 0.1 * 0.5 * (1 + np.cos(np.pi * epochs / 40)), label="cosine")
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate")
ax.legend()
fig.tight_layout()
plt.show()
