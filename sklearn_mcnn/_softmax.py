"""Multinomial logistic (softmax) regression."""

from ._base import BaseNetworkClassifier
from ._params_doc import FITTED_ATTRIBUTES, training_parameters


class SoftmaxClassifier(BaseNetworkClassifier):
    """Multinomial logistic regression: the softmax of ``W x + b``.

    ``P(y=k | x) ∝ exp(w_kᵀ x + b_k)``, trained by minimising the weighted
    mean cross-entropy (multiclass logistic loss) plus ``(alpha / 2) ‖W‖²``
    with full-batch L-BFGS or a mini-batch stochastic solver. It is the
    network of :class:`MLPBackpropClassifier` with no hidden layer, trained by
    the same Cython engine.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        Weights ``W`` (one row per class, also for two classes).

    intercept_ : ndarray of shape (n_classes,)
        Intercepts ``b``.

    {attributes}

    See Also
    --------
    MLPBackpropClassifier : The same model with hidden layers.
    sklearn.linear_model.LogisticRegression : Has the same optimum at
        ``C = 1 / (alpha * Σ sample_weight)`` (three or more classes).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_mcnn import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxClassifier(alpha=1e-2).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.predict_proba(X[:1]).round(3)
    array([[0.975, 0.025, 0.   ]])
    >>> round(clf.score(X, y), 3)
    0.973
    """

    def __init__(
        self,
        *,
        alpha=1e-4,
        solver="lbfgs",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        rho=0.9,
        epsilon=1e-8,
        batch_size="auto",
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
        class_weight=None,
        label_smoothing=0.0,
        scoring=None,
        cosine_period=None,
        cosine_period_mult=1,
    ):
        self.alpha = alpha
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.rho = rho
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.scoring = scoring
        self.cosine_period = cosine_period
        self.cosine_period_mult = cosine_period_mult

    def _set_public_attributes(self):
        (w, b, _), = self._net.layer_slices()
        n_features, n_classes = self._net.sizes
        self.coef_ = self._params[w].reshape(n_features, n_classes).T
        self.intercept_ = self._params[b]


SoftmaxClassifier.__doc__ = SoftmaxClassifier.__doc__.format(
    parameters=training_parameters(
        solver="lbfgs", learning_rate_init=1e-3, max_iter=100, tol=1e-4
    ),
    attributes=FITTED_ATTRIBUTES,
)
