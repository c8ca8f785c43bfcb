"""Utilities: gradient checking by finite differences, and ONNX export."""

import numpy as np

from ._onnx import to_onnx

__all__ = ["check_gradient", "to_onnx"]


def check_gradient(estimator, X, y, sample_weight=None, eps=1e-6):
    """Compare the backpropagated gradient with central finite differences.

    The objective is the estimator's training objective (weighted mean loss
    plus the L2 term, batch statistics for batch normalisation; dropout is
    not applied). It is evaluated at the fitted parameters when the
    estimator is fitted, else at a random initialisation drawn from its
    ``random_state`` (small Gaussian weights where the estimator would start
    from zeros, so the check is not made at a degenerate point).

    Parameters
    ----------
    estimator : SoftmaxClassifier or MLPBackpropClassifier
        The estimator whose objective is checked; it is not modified.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input data.

    y : array-like of shape (n_samples,)
        Class labels.

    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    eps : float, default=1e-6
        Step of the central differences ``(F(w + eps e_i) - F(w - eps e_i)) /
        (2 eps)``.

    Returns
    -------
    error : float
        Largest difference between the two gradients, relative to the largest
        gradient entry: ``max_i |g_i - fd_i| / max(max_i |g_i|, max_i |fd_i|)``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_mcnn import MLPBackpropClassifier
    >>> from sklearn_mcnn.utils import check_gradient
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPBackpropClassifier(hidden_layer_sizes=(5,), random_state=0)
    >>> check_gradient(clf, X[::8], y[::8]) < 1e-6
    True
    """
    objective = estimator._training_objective(X, y, sample_weight)
    params = objective.params.copy()
    grad = np.empty_like(params)
    scratch = np.empty_like(params)
    objective.evaluate(params, grad)
    fd = np.empty(params.size, dtype=np.float64)
    for i in range(params.size):
        w = params.copy()
        w[i] = params[i] + eps
        f_plus = objective.evaluate(w, scratch)
        w[i] = params[i] - eps
        f_minus = objective.evaluate(w, scratch)
        fd[i] = (f_plus - f_minus) / (2 * eps)
    grad = grad.astype(np.float64)
    scale = max(np.abs(grad).max(), np.abs(fd).max(), np.finfo(float).tiny)
    return float(np.abs(grad - fd).max() / scale)
