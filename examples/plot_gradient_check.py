"""
Checking backpropagation with finite differences
================================================

:func:`sklearn_mcnn.utils.check_gradient` compares the gradient computed by
the Cython backpropagation with central finite differences
:math:`(F(w + \\varepsilon e_i) - F(w - \\varepsilon e_i)) / 2\\varepsilon`
over every parameter, and returns the largest relative discrepancy. We run
it for every activation and both losses, with and without batch
normalisation, then sweep the step :math:`\\varepsilon` to see the
trade-off between truncation and round-off error. See
:ref:`gradient_checking`.
"""

# %%
# Every activation, both losses
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier
from sklearn_mcnn.utils import check_gradient

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)[::3]  # 50 rows, 3 classes
y = y[::3]

activations = ["identity", "relu", "tanh", "logistic"]
variants = {
    "log loss": {"loss": "log_loss"},
    "squared error": {"loss": "squared_error"},
    "log loss + batch norm": {"loss": "log_loss", "batch_norm": True},
}
errors = {name: [] for name in variants}
for name, params in variants.items():
    for activation in activations:
        clf = MLPBackpropClassifier(hidden_layer_sizes=(6, 5), activation=activation,
                                    alpha=1e-2, random_state=0, **params)
        errors[name].append(check_gradient(clf, X, y))
softmax_error = check_gradient(SoftmaxClassifier(alpha=1e-2, random_state=0), X, y)
print(f"SoftmaxClassifier: relative error {softmax_error:.1e}")

fig, ax = plt.subplots(figsize=(8, 4))
width = 0.25
positions = np.arange(len(activations))
for k, (name, values) in enumerate(errors.items()):
    ax.bar(positions + (k - 1) * width, values, width, label=name)
ax.axhline(softmax_error, color="k", ls=":", label="SoftmaxClassifier")
ax.set_xticks(positions, activations)
ax.set_yscale("log")
ax.set_ylabel("relative error (eps=1e-6)")
ax.set_title("check_gradient on a 4-6-5-3 network, float64")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# All errors are around :math:`10^{-9}` or below: the backpropagated
# gradient is the gradient of the objective. (A bug, such as a missing
# :math:`h'` factor or a wrong L2 term, would show as an error of order 1.)
#
# The step-size trade-off
# -----------------------
# The central difference has a truncation error of order
# :math:`\varepsilon^2` and a round-off error of order
# :math:`u / \varepsilon` (:math:`u` the machine epsilon), so the measured
# error first falls as :math:`\varepsilon` shrinks, then rises again. The
# best step is of the order of :math:`u^{1/3}` (dotted lines), up to the
# constants of the objective: about :math:`6 \cdot 10^{-6}` in float64 and
# :math:`5 \cdot 10^{-3}` in float32, where no step gets below
# :math:`10^{-5}`: check gradients in float64.
steps = np.logspace(-11, -1, 21)
fig, ax = plt.subplots(figsize=(8, 4))
for dtype, marker in [(np.float64, "o"), (np.float32, "s")]:
    clf = MLPBackpropClassifier(hidden_layer_sizes=(6,), activation="tanh",
                                alpha=1e-2, random_state=0)
    sweep = [check_gradient(clf, X.astype(dtype), y, eps=eps) for eps in steps]
    ax.loglog(steps, sweep, marker + "-", label=np.dtype(dtype).name)
    ax.axvline(np.finfo(dtype).eps ** (1 / 3), color="0.6", ls=":")
ax.set_xlabel(r"finite-difference step $\varepsilon$")
ax.set_ylabel("relative error")
ax.set_title(r"error of central differences: $O(\varepsilon^2) + O(u/\varepsilon)$"
             "\n(dotted: $u^{1/3}$)")
ax.legend()
fig.tight_layout()
plt.show()
