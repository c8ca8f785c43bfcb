"""Docstring pieces shared by the estimators trained by the network engine."""

TRAINING_PARAMETERS = """\
alpha : float, default=1e-4
        Strength of the L2 penalty ``(alpha / 2) Σ ‖W‖²`` on the weight
        matrices (never on intercepts or batch-norm scale and shift). It does
        not depend on the number of samples or the batch size: with three
        or more classes the optimum is that of
        ``LogisticRegression(C=1 / (alpha * Σ sample_weight))``; with two,
        where the softmax's two weight rows are opposite at the optimum, that
        of ``C=2 / (alpha * Σ sample_weight)``.

    solver : {{'lbfgs', 'sgd', 'adagrad', 'rmsprop', 'adam'}}, default={solver!r}
        ``'lbfgs'`` is full-batch L-BFGS (scipy); the others are mini-batch
        stochastic solvers. ``'sgd'`` honours ``momentum`` and
        ``nesterovs_momentum``.

    learning_rate : {{'constant', 'invscaling', 'adaptive', 'cosine'}}, \
default='constant'
        Learning-rate schedule of the stochastic solvers, applied per epoch:
        ``'invscaling'`` is ``learning_rate_init / (t_ + 1) ** power_t`` with
        ``t_`` the number of samples seen; ``'adaptive'`` divides the rate by
        5 when the stopping rule would stop, until it falls below 1e-6;
        ``'cosine'`` anneals from ``learning_rate_init`` to 0 over
        ``max_iter`` epochs, or, with ``cosine_period``, over cycles with warm
        restarts.

    learning_rate_init : float, default={learning_rate_init!r}
        Initial learning rate of the stochastic solvers.

    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.

    momentum : float, default=0.9
        Momentum of ``solver='sgd'``, in [0, 1].

    nesterovs_momentum : bool, default=True
        Whether ``solver='sgd'`` uses Nesterov's momentum.

    beta_1 : float, default=0.9
        Decay rate of Adam's first-moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of Adam's second-moment estimate, in [0, 1).

    rho : float, default=0.9
        Decay rate of RMSProp's running average of squared gradients.

    epsilon : float, default=1e-8
        Numerical-stability constant of Adagrad, RMSProp and Adam.

    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; ``'auto'`` is
        ``min(200, n_samples)``. 1 gives plain stochastic gradient descent.

    max_iter : int, default={max_iter!r}
        Maximum number of epochs (stochastic solvers) or iterations
        (``'lbfgs'``).

    tol : float, default={tol!r}
        Tolerance of the stopping rule: training stops when the loss (or the
        validation score, with early stopping) has not improved by at least
        ``tol`` for ``n_iter_no_change`` consecutive epochs. For ``'lbfgs'``,
        the gradient tolerance.

    n_iter_no_change : int, default=10
        Epochs without improvement before stopping (stochastic solvers).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified),
        or use the ``X_val``, ``y_val`` passed to ``fit``, stop when the
        validation score (``scoring``) stops improving and keep the weights
        of the best epoch. Stochastic solvers only.

    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping (unused when
        ``fit`` is given ``X_val``).

    shuffle : bool, default=True
        Shuffle the rows at every epoch (not needed, and not done, when one
        batch covers the data).

    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the shuffles, the validation split and
        the dropout masks. An int gives bit-identical results.

    warm_start : bool, default=False
        Start ``fit`` from the previous solution (and optimiser state).

    verbose : int, default=0
        Print one line per epoch (loss, validation score, seconds).

    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
        ``'balanced'`` uses ``n_samples / (n_classes * np.bincount(y))``.

    label_smoothing : float, default=0.0
        Smoothing ε in ``[0, 1)`` of the targets: train on
        ``(1 - ε) · onehot(y) + ε / K`` instead of the one-hot rows (K
        classes), as PyTorch's ``CrossEntropyLoss(label_smoothing=ε)``; with
        the log loss the loss of a row is ``-Σ_k q_k log p_k``. It keeps the
        probabilities of a separable problem away from 0 and 1 (the optimum
        has ``p_y ≤ 1 - ε + ε / K``). The objective, ``loss_`` and
        ``loss_curve_`` include it.

    scoring : str, callable or None, default=None
        What early stopping watches on the validation rows, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (higher is
        better): None, the weighted accuracy; ``'loss'``, the negated
        validation objective (``-validation_loss_curve_``); any other string,
        a scikit-learn scorer name (see :func:`sklearn.metrics.get_scorer_names`);
        a callable, a scorer ``scorer(estimator, X, y)`` (given
        ``sample_weight=`` when the validation rows are weighted). Its values
        are ``validation_scores_``.

    cosine_period : int or None, default=None
        With ``learning_rate='cosine'``: length in epochs of the first cycle
        of cosine annealing with warm restarts (``T_0`` of
        ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``): in epoch
        ``t`` of a cycle of ``T`` epochs the rate is ``learning_rate_init *
        (1 + cos(π t / T)) / 2``, and every cycle restarts at
        ``learning_rate_init``. None: a single decay over ``max_iter`` epochs,
        without restart.

    cosine_period_mult : int, default=1
        Each cycle lasts ``cosine_period_mult`` times the one before (torch's
        ``T_mult``); 1 keeps cycles of ``cosine_period`` epochs. Epochs are
        counted by ``n_iter_``, so ``partial_fit`` continues the schedule."""

FITTED_ATTRIBUTES = """\
classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when X has string column names.

    n_iter_ : int
        Number of epochs (stochastic solvers) or L-BFGS iterations run.

    t_ : int
        Number of training samples seen by the solver.

    loss_ : float
        Objective (weighted mean loss plus the L2 term) after the last epoch.

    loss_curve_ : list of float
        Objective after each epoch (or L-BFGS iteration).

    best_loss_ : float or None
        Lowest objective reached; None with early stopping.

    validation_scores_ : list of float or None
        Validation score (``scoring``; by default the accuracy) after each
        epoch with early stopping, and after each ``partial_fit`` given
        ``X_val``; else None.

    validation_loss_curve_ : list of float or None
        Validation objective (weighted mean loss plus the L2 term, of the
        inference outputs: batch norm's running statistics, no dropout) after
        each epoch, beside ``validation_scores_``; None without validation
        rows. ``loss_curve_`` is measured during each epoch, this one at its
        end.

    best_validation_score_ : float or None
        Best of ``validation_scores_``, else None."""


def training_parameters(**defaults):
    """The shared parameter section, with this estimator's defaults."""
    return TRAINING_PARAMETERS.format(**defaults)
