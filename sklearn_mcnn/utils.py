"""Utilities: gradient checking by finite differences, and ONNX export."""

import copy

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._engine import FullBatchObjective, TrainingData
from ._network import Network
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
    fitted = hasattr(estimator, "_params")
    # A copy: validation sets attributes, and the estimator stays as it is.
    est = copy.copy(estimator) if fitted else clone(estimator)
    # On a fitted estimator, validate as partial_fit would (same features,
    # known labels); class weights apply either way.
    X, classes, y_index, sw = est._validate_training_data(
        X, y, sample_weight, incremental=fitted, classes=None)
    if not fitted:                        # check at a random start
        rng = check_random_state(est.random_state)
        sizes = (X.shape[1], *est._hidden_layer_sizes(), classes.size)
        est._initialize(sizes, X.dtype, rng)
        if est._net.n_layers == 1:        # zeros: not a telling point
            est._params[:] = rng.normal(scale=0.1, size=est._params.size)
    params = est._params.astype(X.dtype).copy()
    running = est._running.astype(X.dtype).copy()
    objective = FullBatchObjective(
        Network(est._net.sizes, **est._net_options),
        TrainingData(X, y_index, sw), params, running, est.alpha,
        capacity=X.shape[0])
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
