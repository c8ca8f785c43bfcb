"""
Overfitting and its cures: L2, dropout, early stopping
======================================================

A wide network trained long on few noisy samples fits its training set and
loses on new data. We train :class:`~sklearn_mcnn.MLPBackpropClassifier`
one epoch at a time with ``partial_fit`` and record the log loss on the
training and on a validation set, without regularisation, with an L2
penalty (``alpha``), with (inverted) dropout and with batch normalisation;
then we let ``early_stopping=True`` pick the epoch. See
:ref:`generalization`.
"""

# %%
# A small, noisy training set
# ---------------------------
# 300 digits for training (with 15 % of the labels shuffled), the rest for
# validation.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X, y, train_size=300, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
rng = np.random.RandomState(0)
noisy = rng.rand(y_train.size) < 0.15
y_train = y_train.copy()
y_train[noisy] = rng.randint(0, 10, noisy.sum())
classes = np.arange(10)

# %%
# Train and validation curves, epoch by epoch
# -------------------------------------------
# ``partial_fit`` runs exactly one epoch per call and keeps the optimiser's
# state, so the curves are those of one continuous training run.
n_epochs = 100
base = {"hidden_layer_sizes": (128,), "solver": "adam", "learning_rate_init": 1e-3,
            "batch_size": 32, "alpha": 0.0, "random_state": 0}
settings = {
    "no regularisation": {},
    "L2, alpha=0.1": {"alpha": 0.1},
    "dropout 0.5": {"dropout": 0.5},
    "batch norm": {"batch_norm": True},
}
curves = {}
for name, params in settings.items():
    clf = MLPBackpropClassifier(**{**base, **params})
    train_loss, val_loss = [], []
    for _ in range(n_epochs):
        clf.partial_fit(X_train, y_train, classes=classes)
        train_loss.append(log_loss(y_train, clf.predict_proba(X_train), labels=classes))
        val_loss.append(log_loss(y_val, clf.predict_proba(X_val), labels=classes))
    curves[name] = (train_loss, val_loss, clf.score(X_val, y_val))

fig, axes = plt.subplots(2, 2, figsize=(9, 6.4), sharex=True, sharey=True)
epochs = np.arange(1, n_epochs + 1)
for ax, (name, (train_loss, val_loss, acc)) in zip(axes.flat, curves.items()):
    ax.plot(epochs, train_loss, label="training")
    ax.plot(epochs, val_loss, label="validation")
    best = int(np.argmin(val_loss))
    ax.axvline(best + 1, color="0.5", ls=":", lw=1)
    ax.set_title(f"{name}\nvalidation accuracy {acc:.3f}", fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
for ax in axes[:, 0]:
    ax.set_ylabel("log loss")
axes[0, 0].legend()
fig.tight_layout()

# %%
# Without regularisation the training loss goes to zero (the network
# memorises the shuffled labels too) while the validation loss turns back
# up after a few epochs (dotted line: its minimum). The L2 penalty keeps
# the weights small and the validation loss flat; dropout trains a
# different thinned network at every batch, which slows memorisation;
# batch normalisation alone mainly speeds training up.
#
# Early stopping
# --------------
# ``early_stopping=True`` holds out a stratified 10 % of the training rows,
# scores them after every epoch (``validation_scores_``), stops after
# ``n_iter_no_change`` epochs without improvement, and restores the weights
# of the best epoch.
clf = MLPBackpropClassifier(**{**base, "max_iter": 300}, early_stopping=True,
                            validation_fraction=0.2, n_iter_no_change=20)
clf.fit(X_train, y_train)
best = int(np.argmax(clf.validation_scores_))
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(np.arange(1, clf.n_iter_ + 1), clf.validation_scores_,
        label="held-out accuracy")
ax.axvline(best + 1, color="k", ls="--", label=f"best epoch ({best + 1}), weights kept")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy on the held-out 20 %")
ax.set_title(f"early stopping after {clf.n_iter_} epochs; "
             f"validation-set accuracy {clf.score(X_val, y_val):.3f}", fontsize=10)
ax.legend()
fig.tight_layout()
plt.show()
