"""Feed-forward neural networks trained by backpropagation."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseNetworkClassifier
from ._network import ACTIVATIONS
from ._params_doc import FITTED_ATTRIBUTES, training_parameters


class MLPBackpropClassifier(BaseNetworkClassifier):
    """Multi-layer perceptron classifier trained by backpropagation.

    Dense hidden layers with one of eight activations (one for all hidden
    layers, or one per layer), optional batch normalisation (before the
    activation) and inverted dropout (on hidden units, training only). The
    output layer is a softmax trained with the cross-entropy
    (``loss='log_loss'``), or the identity trained with the squared error on
    one-hot targets (``loss='squared_error'``, the classic backpropagation
    setting). Forward and backward passes run in Cython. With
    ``hidden_layer_sizes=()`` it is :class:`SoftmaxClassifier`.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The i-th element is the number of units of the i-th hidden layer.

    activation : str or list of str, default='relu'
        Activation of the hidden layers, or a list with one per hidden layer:

        - ``'relu'``: ``max(z, 0)``;
        - ``'leaky_relu'``: ``z`` for ``z > 0``, else ``negative_slope · z``;
        - ``'elu'``: ``z`` for ``z > 0``, else ``exp(z) - 1`` (α = 1);
        - ``'gelu'``: ``z/2 · (1 + tanh(√(2/π) (z + 0.044715 z³)))``, the
          tanh approximation of ``z Φ(z)`` (PyTorch's
          ``GELU(approximate='tanh')``);
        - ``'softplus'``: ``log(1 + exp(z))``;
        - ``'tanh'``, ``'logistic'`` (``1 / (1 + exp(-z))``), ``'identity'``.

    negative_slope : float, default=0.01
        Slope of ``'leaky_relu'`` for negative inputs (PyTorch's
        ``negative_slope``), in ``[0, 1)``.

    loss : {{'log_loss', 'squared_error'}}, default='log_loss'
        ``'log_loss'``: softmax output, cross-entropy loss. ``'squared_error'``:
        identity output, ``‖output − onehot(y)‖²``; ``predict_proba`` is then
        the softmax of the outputs.

    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout: kept units are scaled by ``1 / (1 - dropout)``, so nothing
        changes at prediction). Needs a stochastic solver. With dropout,
        a sample weight of 2 is not the same as repeating the sample: a
        repeated sample gets two independent dropout masks per epoch, a
        weighted one a single mask counted twice (the expected gradient is
        the same, its noise is not).

    batch_norm : bool, default=False
        Batch normalisation of each hidden layer's pre-activations: batch
        statistics in training, running statistics (momentum 0.1) at
        prediction.

    {parameters}

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[i]`` has shape ``(n_in, n_out)``: the weights of layer i.

    intercepts_ : list of ndarray
        ``intercepts_[i]`` has shape ``(n_out,)``.

    batch_norm_scales_, batch_norm_shifts_ : list of ndarray
        Scale ``γ`` and shift ``β`` of each hidden layer (``batch_norm=True``).

    running_means_, running_vars_ : list of ndarray
        Running statistics of each hidden layer (``batch_norm=True``).

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs (one per class, also for two classes).

    out_activation_ : str
        ``'softmax'`` or ``'identity'``.

    {attributes}

    See Also
    --------
    SoftmaxClassifier : The model without hidden layers.
    sklearn.neural_network.MLPClassifier : The multilayer perceptron of
        scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_mcnn import MLPBackpropClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = MLPBackpropClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                             max_iter=300, random_state=0).fit(X, y)
    >>> [w.shape for w in clf.coefs_]
    [(4, 16), (16, 3)]
    >>> clf.score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **BaseNetworkClassifier._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like", Interval(Integral, 1, None, closed="left")
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), list, tuple],
        "negative_slope": [Interval(Real, 0, 1, closed="left")],
        "loss": [StrOptions({"log_loss", "squared_error"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        negative_slope=0.01,
        loss="log_loss",
        dropout=0.0,
        batch_norm=False,
        alpha=1e-4,
        solver="adam",
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
        max_iter=200,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.negative_slope = negative_slope
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

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _activations(self):
        """The hidden activation, or a tuple of one per hidden layer."""
        if isinstance(self.activation, str):
            return self.activation
        names = tuple(self.activation)
        n_hidden = len(self._hidden_layer_sizes())
        if len(names) != n_hidden or not all(
                isinstance(a, str) and a in ACTIVATIONS for a in names):
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)} or a list of "
                f"{n_hidden} of them (one per hidden layer), got "
                f"{self.activation!r}."
            )
        return names

    def _network_options(self):
        return {
            "activation": self._activations(),
            "negative_slope": float(self.negative_slope),
            "loss": self.loss,
            "batch_norm": bool(self.batch_norm),
            "dropout": float(self.dropout),
        }

    def _set_public_attributes(self):
        net, params = self._net, self._params
        self.coefs_, self.intercepts_ = [], []
        self.batch_norm_scales_, self.batch_norm_shifts_ = [], []
        for (w, b, gb), n_in, n_out in zip(
            net.layer_slices(), net.sizes[:-1], net.sizes[1:]
        ):
            self.coefs_.append(params[w].reshape(n_in, n_out))
            self.intercepts_.append(params[b])
            if gb is not None:
                self.batch_norm_scales_.append(params[gb][:n_out])
                self.batch_norm_shifts_.append(params[gb][n_out:])
        self.running_means_ = [self._running[m] for m, _ in filter(
            None, net.running_slices())]
        self.running_vars_ = [self._running[v] for _, v in filter(
            None, net.running_slices())]
        self.n_layers_ = len(net.sizes)
        self.n_outputs_ = net.sizes[-1]
        self.out_activation_ = "softmax" if self.loss == "log_loss" else "identity"


MLPBackpropClassifier.__doc__ = MLPBackpropClassifier.__doc__.format(
    parameters=training_parameters(
        solver="adam", learning_rate_init=1e-3, max_iter=200, tol=1e-4
    ),
    attributes=FITTED_ATTRIBUTES,
)
