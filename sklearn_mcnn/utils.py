"""Utilities: gradient checking by finite differences, the learning-rate
range test, and ONNX export."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch, _safe_indexing, check_random_state, indexable
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.class_weight import compute_class_weight

from ._onnx import to_onnx

__all__ = ["check_gradient", "lr_range_test", "to_onnx"]


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


@validate_params(
    {
        "estimator": [object],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "sample_weight": ["array-like", None],
        "min_lr": [Interval(Real, 0, None, closed="neither")],
        "max_lr": [Interval(Real, 0, None, closed="neither")],
        "n_steps": [Interval(Integral, 2, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="left")],
        "diverge_factor": [Interval(Real, 1, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def lr_range_test(estimator, X, y, *, sample_weight=None, min_lr=1e-7,
                  max_lr=10.0, n_steps=200, smoothing=0.98, diverge_factor=4.0,
                  random_state=None):
    """Learning-rate range test (the "learning-rate finder").

    Trains a fresh clone of ``estimator`` (a stochastic solver) for
    ``n_steps`` mini-batch steps with a learning rate that grows
    exponentially from ``min_lr`` to ``max_lr``, and records the loss of
    each batch (Smith, "Cyclical learning rates for training neural
    networks", 2017; the fastai ``lr_find``).  The loss first barely moves,
    then falls, then explodes: a good ``learning_rate_init`` lies where it
    falls fastest.  ``estimator`` itself is not modified.

    Each step is one ``partial_fit`` of the clone on the next mini-batch
    (``batch_size`` of the estimator; the rows are reshuffled at every pass
    over the data) with ``learning_rate='constant'``, so momentum and the
    adaptive solvers' statistics carry over from step to step as in
    training; ``class_weight`` weighs the rows as in ``fit`` (computed over
    all of y).  The recorded loss of a step is the batch's objective before
    its update (as the epochs' ``loss_curve_``).  The test stops early when
    the smoothed loss exceeds ``diverge_factor`` times its minimum, or when
    training diverges (the estimator's divergence error).

    **The suggestion** is the rate of steepest descent of the smoothed
    loss: the most negative slope of the smoothed loss against
    ``log(learning rate)`` (central differences, :func:`numpy.gradient`),
    among the steps from the first twentieth of ``n_steps`` (where the
    exponential average still settles) up to the step of the smoothed
    loss's minimum.  When the loss never descends there, it is a tenth of
    the rate at the minimum (fastai's other rule).

    Parameters
    ----------
    estimator : SoftmaxClassifier or MLPBackpropClassifier
        An estimator with a stochastic solver (not ``'lbfgs'``); its
        parameters, ``random_state`` included, set up the clone.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data (scaled as for training).

    y : array-like of shape (n_samples,)
        Class labels.

    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    min_lr, max_lr : float, default=1e-7, 10.0
        The first and the last learning rate.

    n_steps : int, default=200
        Number of steps (rates ``min_lr * (max_lr / min_lr) ** (i / (n_steps
        - 1))``).

    smoothing : float, default=0.98
        Factor ``β`` of the exponential moving average of the losses, with
        bias correction: ``a_i = β a_{i-1} + (1 - β) loss_i``, smoothed loss
        ``a_i / (1 - β^(i+1))``. 0 disables smoothing.

    diverge_factor : float, default=4.0
        Stop when the smoothed loss exceeds this many times its minimum.

    random_state : int, RandomState instance or None, default=None
        Seed of the batches' order; None uses the estimator's
        ``random_state``.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With ``learning_rates``, ``losses``, ``smoothed_losses`` (ndarrays of
        the steps run, at most ``n_steps``) and ``suggested_learning_rate``
        (float). :meth:`sklearn_mcnn.inspection.LRRangeTestDisplay.from_result`
        plots it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_mcnn import MLPBackpropClassifier
    >>> from sklearn_mcnn.utils import lr_range_test
    >>> X, y = load_digits(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> result = lr_range_test(MLPBackpropClassifier(random_state=0), X, y,
    ...                        n_steps=100)
    >>> result.learning_rates[0], result.losses.shape[0] <= 100
    (np.float64(1e-07), True)
    >>> 1e-4 < result.suggested_learning_rate < 1.0
    True
    """
    if getattr(estimator, "solver", None) == "lbfgs" or not hasattr(
            estimator, "partial_fit"):
        raise ValueError(
            "lr_range_test needs an estimator with a stochastic solver "
            "('sgd', 'adagrad', 'rmsprop', 'adam'), trained step by step; "
            f"got {estimator!r}."
        )
    if not min_lr < max_lr:
        raise ValueError(f"min_lr={min_lr} must be smaller than max_lr={max_lr}.")
    X, y, sample_weight = indexable(X, y, sample_weight)
    y_array = np.asarray(y)
    classes = np.unique(y_array)
    n = y_array.shape[0]
    est = clone(estimator).set_params(
        learning_rate="constant", early_stopping=False, warm_start=False,
        verbose=0)
    if est.class_weight is not None:
        # The class weights of the whole y, as fit computes them (partial_fit
        # would balance each batch by its own counts).
        weights = compute_class_weight(est.class_weight, classes=classes,
                                       y=y_array)[np.searchsorted(classes, y_array)]
        sample_weight = weights if sample_weight is None else (
            np.asarray(sample_weight, dtype=np.float64) * weights)
        est.set_params(class_weight=None)
    batch_size = (min(200, n) if est.batch_size == "auto"
                  else min(est.batch_size, n))
    rng = check_random_state(estimator.random_state if random_state is None
                             else random_state)
    rates = min_lr * (max_lr / min_lr) ** (np.arange(n_steps) / (n_steps - 1))
    losses, smoothed = [], []
    average, order, position = 0.0, rng.permutation(n), 0
    for i, rate in enumerate(rates):
        if position + batch_size > n:
            order, position = rng.permutation(n), 0
        rows = np.sort(order[position:position + batch_size])
        position += batch_size
        est.set_params(learning_rate_init=float(rate))
        try:
            est.partial_fit(
                _safe_indexing(X, rows), y_array[rows], classes=classes,
                sample_weight=(None if sample_weight is None
                               else _safe_indexing(sample_weight, rows)))
        except ValueError as error:
            if i == 0 or "The training loss" not in str(error):
                raise
            break       # diverged: the clone is left as before the step
        loss = float(est.loss_)
        if not math.isfinite(loss):
            break
        average = smoothing * average + (1.0 - smoothing) * loss
        losses.append(loss)
        smoothed.append(average / (1.0 - smoothing ** (i + 1)))
        if smoothed[-1] > diverge_factor * min(smoothed):
            break
    k = len(losses)
    rates, losses, smoothed = rates[:k], np.array(losses), np.array(smoothed)
    return Bunch(learning_rates=rates, losses=losses, smoothed_losses=smoothed,
                 suggested_learning_rate=_steepest_descent(
                     rates, smoothed, skip=n_steps // 20))


def _steepest_descent(rates, smoothed, skip):
    """The rate where ``smoothed`` falls fastest against ``log(rate)``, among
    the steps from ``skip`` to its minimum; a tenth of the rate at the minimum
    when it does not fall there (see :func:`lr_range_test`)."""
    lowest = int(np.argmin(smoothed))
    if smoothed.size < 3 or lowest <= skip:
        return float(rates[lowest] / 10.0)
    slopes = np.gradient(smoothed, np.log(rates))
    steepest = skip + int(np.argmin(slopes[skip:lowest + 1]))
    if slopes[steepest] >= 0:
        return float(rates[lowest] / 10.0)
    return float(rates[steepest])
