"""
Watching and steering training: curves, learning-rate finder, progress
======================================================================

A network trained with early stopping on validation rows we choose
(``fit(X, y, X_val=..., y_val=...)``, as scikit-learn's
``HistGradientBoostingClassifier``), its curves drawn by
:class:`~sklearn_mcnn.inspection.TrainingCurveDisplay`; the learning-rate
range test (:func:`~sklearn_mcnn.utils.lr_range_test`) that chooses
``learning_rate_init``; a cosine schedule with warm restarts; and
scikit-learn's progress bar. See :ref:`watching_training`.
"""

# %%
# Data: training and validation rows
# ----------------------------------
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier
from sklearn_mcnn.inspection import LRRangeTestDisplay, TrainingCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)

# %%
# Choosing the learning rate
# --------------------------
# The range test trains a clone of the network for 200 mini-batch steps
# while the rate grows from 1e-6 to 10, and suggests the rate where the
# smoothed loss falls fastest.
net = MLPBackpropClassifier(hidden_layer_sizes=(64,), solver="sgd",
                            batch_size=64, random_state=0)
finder = LRRangeTestDisplay.from_estimator(net, X_train, y_train, min_lr=1e-6,
                                           random_state=0)
lr = finder.suggested_learning_rate
print(f"suggested learning_rate_init: {lr:.3g}")

# %%
# Early stopping on the validation rows, watching their loss
# ----------------------------------------------------------
# ``scoring='loss'`` stops when the validation objective stops falling and
# keeps the weights of its best epoch (the dashed line). The training loss
# is the mean over each epoch's batches, the validation loss that of the
# model at the end of the epoch.
clf = net.set_params(learning_rate_init=lr, early_stopping=True,
                     scoring="loss", n_iter_no_change=8, max_iter=150)
clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
print(f"stopped after {clf.n_iter_} epochs; validation accuracy "
      f"{clf.score(X_val, y_val):.3f}")
TrainingCurveDisplay.from_estimator(clf)
plt.show()

# %%
# Cosine annealing with warm restarts
# -----------------------------------
# ``learning_rate='cosine'`` with ``cosine_period=10`` and
# ``cosine_period_mult=2`` anneals the rate over cycles of 10, 20 and 40
# epochs, each restarting at ``learning_rate_init`` (the grey bands). We
# watch the accuracy on the validation rows (right-hand scale), with
# ``early_stopping`` and a patience longer than the fit: all 70 epochs run,
# and the weights of the best epoch are kept.
sgdr = MLPBackpropClassifier(hidden_layer_sizes=(64,), solver="sgd",
                             batch_size=64, learning_rate="cosine",
                             learning_rate_init=lr, cosine_period=10,
                             cosine_period_mult=2, max_iter=70,
                             early_stopping=True, n_iter_no_change=70,
                             random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    sgdr.fit(X_train, y_train, X_val=X_val, y_val=y_val)
fig, ax = plt.subplots()
display = TrainingCurveDisplay.from_estimator(sgdr, ax=ax)
for restart in (10, 30):
    ax.axvline(restart + 0.5, color="0.8", linewidth=4, zorder=0)
plt.show()

# %%
# Progress
# --------
# ``verbose=1`` prints one line per epoch. With scikit-learn >= 1.9 (and
# ``rich`` installed), its ``ProgressBar`` callback shows a bar that
# advances once per epoch (per iteration for L-BFGS).
try:
    from sklearn.callback import ProgressBar

    progress = ProgressBar()
except ImportError:         # scikit-learn < 1.9, or no rich
    progress = None
if progress is not None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPBackpropClassifier(hidden_layer_sizes=(64,), max_iter=20,
                              random_state=0).set_callbacks(progress).fit(
            X_train, y_train)
