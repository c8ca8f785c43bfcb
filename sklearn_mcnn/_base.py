"""The shared base of the trained estimators: their API.

``SoftmaxClassifier`` and ``MLPBackpropClassifier`` are one model, a
feed-forward network (the softmax model has no hidden layer), and differ
only in their parameters and fitted attributes.  This module owns what they
share of the estimator API:

- the parameters' constraints, ``fit`` and ``partial_fit``;
- input validation, class encoding, sample and class weights, warm start
  and the initial weights;
- prediction (deterministic ``argmax`` and randomized ``predict_sample``),
  in bounded chunks of rows.

The training drivers (between epochs, and L-BFGS) are in ``_training.py``,
how the kernels are fed in ``_engine.py``, the numerics in ``_network.pyx``
and its ``.pxd`` rooms.
"""

import copy
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._checkpoint import restore_on_failure
from ._dask import is_dask_collection
from ._engine import (
    FullBatchObjective,
    TrainingData,
    all_finite,
    predict_outputs,
)
from ._network import Network
from ._training import TrainingMixin, _CallbackContext
from ._validation import check_class_labels

#: ``fit`` starts a network's log-loss output at the class frequencies mixed
#: with this weight of the uniform distribution: a class of zero weight
#: starts about log(100 K) below a frequent one, not at -inf.
PRIOR_SMOOTHING = 0.01

try:  # scikit-learn >= 1.9: the callback API
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn

    class CallbackSupportMixin:
        """Stand-in for scikit-learn < 1.9, which has no callback API."""

    def with_callbacks(method):
        return method


ALL_WEIGHTS_ZERO = ("The sample weights are all zero: there is nothing to "
                    "learn from.")


def _check_labels_within(y, classes):
    """Every label of y is one of ``classes`` (sorted)."""
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown.tolist()} that are not in "
            f"classes {classes.tolist()}."
        )


def _stochastic(est):
    """``partial_fit`` exists only for the stochastic solvers."""
    if est.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic solvers; "
            f"solver={est.solver!r} is not stochastic."
        )
    return True


class CachedParamNamesMixin:
    """Keep each class's parameter names (``BaseEstimator._get_param_names``).

    scikit-learn reads them from ``inspect.signature(cls.__init__)`` on
    every ``get_params``, ``clone`` and parameter validation: 0.2-0.5 ms for
    our estimators' 26 parameters, paid again by every fit and by every
    sub-estimator a reduction clones and seeds, which on small data sets was
    a tenth of a one-vs-one fit. The names depend on the class only.
    """

    @classmethod
    def _get_param_names(cls):
        names = cls.__dict__.get("_param_names")
        if names is None:
            names = super()._get_param_names()
            cls._param_names = names      # on this class, not a subclass
        return names


class BaseNetworkClassifier(
    CachedParamNamesMixin, TrainingMixin, CallbackSupportMixin, ClassifierMixin,
    BaseEstimator
):
    """Base class of the estimators trained by the Cython network engine.

    Subclasses define ``__init__`` with their parameters, and the hooks
    :meth:`_hidden_layer_sizes`, :meth:`_network_options` and
    :meth:`_set_public_attributes`.
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"sgd", "adagrad", "rmsprop", "adam", "lbfgs"})],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", "cosine"})
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "scoring": [str, callable, None],
        "cosine_period": [Interval(Integral, 1, None, closed="left"), None],
        "cosine_period_mult": [Interval(Integral, 1, None, closed="left")],
    }

    #: How ``fit`` validates X (``validate_data``'s options); the reductions
    #: validate X so for a base estimator of this package, once for all of
    #: its sub-estimators.
    _INPUT_CHECKS: ClassVar[dict] = {
        "accept_sparse": "csr", "dtype": [np.float64, np.float32],
        "order": "C"}

    # ------------------------------------------------------------------ hooks

    def _hidden_layer_sizes(self):
        """Widths of the hidden layers (empty for the softmax model)."""
        return ()

    def _network_options(self):
        """Keyword arguments of :class:`~sklearn_mcnn._network.Network`."""
        return {"activation": "identity", "loss": "log_loss",
                "batch_norm": False, "dropout": 0.0}

    def _set_public_attributes(self):
        """Expose the parameter vector as the estimator's fitted attributes."""

    # ------------------------------------------------------------------- fit

    @restore_on_failure
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, classes=None, X_val=None,
            y_val=None, sample_weight_val=None):
        """Fit the model to data matrix X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Training data. CSR input is read directly, never densified.
            float32 input trains in float32. With ``solver='lbfgs'``, a
            ``dask.array.Array`` chunked by rows (dense or
            ``scipy.sparse`` CSR chunks, columns in one chunk) is fitted
            data-parallel on the current ``dask.distributed`` client: the
            row blocks stay on the workers, and each L-BFGS evaluation sums
            the blocks' losses and gradients (see the user guide, "Data
            larger than memory").

        y : array-like or dask array of shape (n_samples,)
            Target class labels.

        sample_weight : array-like or dask array of shape (n_samples,), \
default=None
            Non-negative weights of the samples; integer weights are the
            same as repeating rows, zero weight the same as removing them.

        classes : array-like of shape (n_classes,), default=None
            All the classes of the problem, if known; by default the
            distinct labels of y. Every label of y must be among them; a
            class without samples is kept in ``classes_`` (as in
            :meth:`partial_fit`), its probability trained towards zero. With
            a dask y, the labels are encoded as the blocks are first read,
            which spares a round over the label blocks.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            Validation rows for early stopping, as in
            :class:`~sklearn.ensemble.HistGradientBoostingClassifier`: with
            ``early_stopping=True``, training stops on (and keeps the best
            weights for) these rows instead of a split of X, which then
            trains entirely. Requires ``y_val`` and ``early_stopping=True``.
            In a :class:`~sklearn.pipeline.Pipeline`, X_val is transformed as
            X with ``Pipeline(..., transform_input=["X_val"])``; like any fit
            parameter, it reaches the estimator through metadata routing
            (``set_fit_request(X_val=True, y_val=True)``).

        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``, among the classes of y.

        sample_weight_val : array-like of shape (n_val,), default=None
            Non-negative weights of the validation rows (``class_weight`` is
            not applied to them, as in HistGradientBoostingClassifier).

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid input, and when the training loss becomes non-finite
            or explodes (the message names the learning rate).  A call that
            raises leaves the estimator exactly as it was before the call.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         classes=classes,
                         validation=(X_val, y_val, sample_weight_val))

    @available_if(_stochastic)
    @restore_on_failure
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None, *, X_val=None,
                    y_val=None, sample_weight_val=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Target class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes that can appear in the calls to ``partial_fit``.
            Required in the first call, ignored in later ones (where it must
            not differ from ``classes_``).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            Held-out rows to monitor (``partial_fit`` never stops early):
            after the call, their objective is appended to
            ``validation_loss_curve_`` and their score (``scoring``) to
            ``validation_scores_``. Requires ``y_val``.

        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``, among ``classes``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Non-negative weights of the validation rows.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            As :meth:`fit`; a call that raises leaves the estimator exactly as
            it was before the call.
        """
        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, classes=classes,
            validation=(X_val, y_val, sample_weight_val),
        )

    def _validate_training_data(self, X, y, sample_weight, incremental, classes):
        """Everything ``fit`` needs, validated, into locals: X, the classes,
        y as indices into them, and the sample weights (× class weights).

        Sets no fitted attribute but ``n_features_in_`` and
        ``feature_names_in_`` (scikit-learn's ``validate_data`` does), which
        the fit transaction restores if the call fails.
        """
        first_call = not (incremental and hasattr(self, "classes_"))
        X, y = validate_data(self, X, y, reset=first_call, **self._INPUT_CHECKS)
        check_class_labels(y)
        if incremental:
            if first_call:
                if classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit."
                    )
                all_classes = np.unique(np.asarray(classes))
            else:
                all_classes = self.classes_
            if not first_call and classes is not None and not np.array_equal(
                self.classes_, np.unique(np.asarray(classes))
            ):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on the first call "
                    f"to partial_fit, which was {self.classes_!r}."
                )
            _check_labels_within(y, all_classes)
        else:
            all_classes = np.unique(y) if classes is None else self._check_classes(
                classes, y)
        self._check_fit_classes(all_classes, incremental)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        return X, all_classes, *self._class_indices(y, all_classes,
                                                    sample_weight)

    def _class_indices(self, y, classes, sample_weight):
        """y as indices into ``classes``, and the sample weights (float64,
        validated) times the class weights; raises if none is positive."""
        y_index = np.searchsorted(classes, y)
        if self.class_weight is not None:
            present, counts = np.unique(y, return_counts=True)
            sample_weight = sample_weight * self._class_weights(
                present, counts, classes)[y_index]
        if not np.any(sample_weight > 0):
            raise ValueError(ALL_WEIGHTS_ZERO)
        return y_index, sample_weight

    def _check_fit_classes(self, classes, incremental):
        """The classes of a training call: at least two, and for a
        warm-started ``fit`` those of the fitted model."""
        if (
            not incremental
            and self.warm_start
            and hasattr(self, "classes_")
            and not np.array_equal(classes, self.classes_)
        ):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes "
                f"as in the previous call to fit. Previously got "
                f"{self.classes_}, `y` has {classes}."
            )
        if classes.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in "
                f"the data, but the data contains only one class: "
                f"{classes[0]!r}."
            )

    @staticmethod
    def _check_classes(classes, y=None):
        """``fit``'s ``classes``, sorted; every label of y must be in it."""
        classes = np.unique(np.asarray(classes))
        check_class_labels(classes)
        if y is not None:
            _check_labels_within(y, classes)
        return classes

    def _validate_validation_data(self, validation, classes, incremental):
        """``fit``'s and ``partial_fit``'s ``X_val``, ``y_val`` and
        ``sample_weight_val``, validated as HistGradientBoostingClassifier
        validates them (after X, whose ``n_features_in_`` and feature names
        X_val must match): (X_val, y_val as indices into ``classes``, weights),
        or None when none is given.  Sets no attribute."""
        X_val, y_val, sample_weight_val = validation
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is provided, but X_val and "
                                 "y_val were not provided.")
            return None
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        if not incremental:
            if not self.early_stopping:
                raise ValueError(
                    "X_val and y_val are passed to fit while at the same time "
                    "early_stopping is False. When passing X_val and y_val to "
                    "fit, early_stopping should be set to True (partial_fit "
                    "monitors X_val without early stopping)."
                )
            if self.solver == "lbfgs":
                raise ValueError(
                    "X_val and y_val are used for early stopping, which needs a "
                    "stochastic solver; solver='lbfgs' trains on the full "
                    "batch without it. Use solver='adam' or 'sgd'."
                )
        X_val, y_val = validate_data(self, X_val, y_val, reset=False,
                                     **self._INPUT_CHECKS)
        check_class_labels(y_val)
        unknown = np.setdiff1d(np.unique(y_val), classes)
        if unknown.size:
            raise ValueError(
                f"y_val contains labels {unknown.tolist()} that are not in "
                f"the classes {classes.tolist()} of y."
            )
        if sample_weight_val is not None:
            sample_weight_val = np.asarray(sample_weight_val)
            if sample_weight_val.ndim == 1 and np.any(sample_weight_val < 0):
                raise ValueError("Negative values in sample_weight_val.")
            if sample_weight_val.ndim == 1 and np.all(sample_weight_val == 0):
                raise ValueError("The validation sample weights "
                                 "(sample_weight_val) are all zero.")
        sample_weight_val = _check_sample_weight(
            sample_weight_val, X_val, dtype=np.float64, ensure_non_negative=True
        )
        return X_val, np.searchsorted(classes, y_val), sample_weight_val

    def _check_scoring(self):
        """The scorer of ``scoring`` (None for accuracy and 'loss', which are
        computed from the network's outputs); raises for an unknown name."""
        if self.scoring is None or (isinstance(self.scoring, str)
                                    and self.scoring == "loss"):
            return None
        return check_scoring(self, self.scoring)

    def _fit(self, X, y, sample_weight, incremental, classes=None,
             validation=(None, None, None)):
        """Validate, then train.  Runs inside the fit transaction
        (:func:`~sklearn_mcnn._checkpoint.restore_on_failure`): whatever
        raises, before or during training, the estimator is restored."""
        if incremental and hasattr(self, "classes_"):
            # scikit-learn's _fit_context validates a partial_fit's parameters
            # on the first call only; a later set_params must not slip by.
            self._validate_params()
        self._check_solver_options()
        if is_dask_collection(X):
            return self._fit_dask(X, y, sample_weight, incremental, classes,
                                  validation)
        X, classes, y_index, sample_weight = self._validate_training_data(
            X, y, sample_weight, incremental, classes
        )
        validation = self._validate_validation_data(validation, classes,
                                                    incremental)
        return self._train(X, y, classes, y_index, sample_weight, incremental,
                           validation)

    @with_callbacks
    def _fit_subproblem(self, X, y, sample_weight=None, incremental=False):
        """``fit(X, y, sample_weight)``, or with ``incremental``
        ``partial_fit(X, y, classes=[0, 1], sample_weight)``, for a
        reduction that has validated the inputs (:mod:`._multiclass`): X as
        ``fit`` validates it (``_INPUT_CHECKS``: CSR or C-ordered
        float32/float64, finite, as wide as this estimator's earlier
        calls), y the sub-problem's labels 0 and 1 (for ``fit``, both with
        positive weight), sample_weight None or checked non-negative, and
        this estimator's parameters validated (on the base estimator it is
        a clone of; a later ``partial_fit`` does not check them again, as
        scikit-learn's ``_fit_context`` does not, while ``partial_fit``
        itself does).  Skips what that repeats: ``validate_data``,
        ``type_of_target`` and the parameter constraints, about 0.55 ms of
        a 4.8 ms one-vs-one sub-fit on digits.  The same model, bit for
        bit, as ``fit`` or ``partial_fit``.  No checkpoint: the caller
        trains a fresh clone or a copy, and drops it if the call raises."""
        self._check_solver_options()
        if incremental and hasattr(self, "classes_"):
            classes = self.classes_
        else:
            self.n_features_in_ = X.shape[1]
            classes = np.array([0, 1]) if incremental else np.unique(y)
            self._check_fit_classes(classes, incremental)
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0])
        else:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
        y_index, sample_weight = self._class_indices(y, classes, sample_weight)
        return self._train(X, y, classes, y_index, sample_weight, incremental,
                           None)

    def _check_solver_options(self):
        """The parameters that only a fit can check together."""
        if self.solver == "lbfgs" and self._network_options()["dropout"] > 0:
            raise ValueError(
                "dropout needs a stochastic solver: with solver='lbfgs' the "
                "objective must be deterministic. Use solver='adam' or 'sgd'."
            )

    def _train(self, X, y, classes, y_index, sample_weight, incremental,
               validation):
        """Train on validated data (:meth:`_validate_training_data`) and
        validation data (:meth:`_validate_validation_data`, or None); y is
        for the callbacks."""
        scorer = self._check_scoring()
        self.classes_ = classes
        n_outputs = classes.size
        sizes = (X.shape[1], *self._hidden_layer_sizes(), n_outputs)
        reuse = self._keeps_parameters(sizes, incremental)
        # Random numbers serve the initial weights of hidden layers and the
        # stochastic solvers only; an L-BFGS softmax fit draws none, and
        # does not pay for seeding a RandomState (about 0.1 ms: a tenth of a
        # small one-vs-one sub-fit, whose reduction seeds every clone).
        needs_rng = self.solver != "lbfgs" or (not reuse and len(sizes) > 2)
        rng = check_random_state(self.random_state) if needs_rng else None
        if not reuse:
            self._initialize(sizes, X.dtype, rng)
            if not incremental:
                self._start_at_class_prior(y_index, sample_weight)
        else:
            X = X.astype(self._params.dtype, copy=False)
            if not incremental:
                self.n_iter_ = 0
        data = TrainingData(X, y_index, sample_weight)
        val_data = None
        if validation is not None:
            X_val, y_val_index, sw_val = validation
            with np.errstate(over="ignore"):
                X_val = X_val.astype(X.dtype, copy=False)
            if not all_finite(X_val):
                raise ValueError(
                    f"X_val has values beyond the range of {X.dtype}, the "
                    "precision this model trains in. Scale the features."
                )
            val_data = TrainingData(X_val, y_val_index, sw_val)
        # L-BFGS ends with one empty sub-task (scipy's last callback).
        callbacks = _CallbackContext(
            self, X, y, max_subtasks=self.max_iter + (self.solver == "lbfgs")
        )
        if self.solver == "lbfgs":
            self._fit_lbfgs(
                lambda net, params, alpha: FullBatchObjective(
                    net, data, params, self._running, alpha),
                data.n_samples, callbacks)
        else:
            self._fit_stochastic(data, rng, incremental, callbacks, val_data,
                                 scorer)
        if not incremental:
            self._warn_if_worse_than_chance(np.bincount(
                data.y, weights=data.sw, minlength=classes.size))
        self._set_public_attributes()
        callbacks.close()
        return self

    def _fit_dask(self, X, y, sample_weight, incremental, classes, validation):
        """``fit`` on a dask X: data-parallel L-BFGS on the current
        ``dask.distributed`` client (:mod:`sklearn_mcnn._dask`).  Everything
        the inputs' metadata allow is checked before any work is scheduled;
        the values are checked on the workers, block by block."""
        from . import _dask

        if incremental:
            raise ValueError(
                "partial_fit takes in-memory blocks, not a dask array. "
                + _dask.INCREMENTAL_HINT
            )
        if self.solver != "lbfgs":
            raise ValueError(
                f"solver={self.solver!r} cannot fit a dask array: a stochastic "
                "solver visits the rows in sequence, and running it on one "
                "machine would gather the data. " + _dask.INCREMENTAL_HINT
            )
        if self._network_options()["batch_norm"]:
            raise ValueError(
                "batch_norm=True cannot fit a dask array with solver='lbfgs': "
                "its full-batch statistics couple all the rows of every "
                "evaluation. Use batch_norm=False, or dask_ml.wrappers."
                "Incremental with a stochastic solver."
            )
        if any(v is not None for v in validation):
            raise ValueError(
                "X_val and y_val are used for early stopping, which needs a "
                "stochastic solver; solver='lbfgs' trains on the full batch "
                "without it."
            )
        X, y, sample_weight = _dask.check_fit_input(X, y, sample_weight)
        if classes is not None:
            classes = self._check_classes(classes)
        dtype = _dask.training_dtype(X)
        client = _dask.get_client()
        # validate_data(reset=True) as for in-memory X (a dask array has no
        # feature names).
        self.n_features_in_ = X.shape[1]
        vars(self).pop("feature_names_in_", None)
        data = _dask.ClusterData(client, X, y, sample_weight, dtype, classes,
                                 self._class_weights)
        try:
            return self._fit_cluster_data(data, X, y)
        finally:
            data.release()

    def _fit_cluster_data(self, data, X, y):
        """The second half of :meth:`_fit_dask`: the blocks are validated."""
        from . import _dask

        classes = data.classes
        self._check_fit_classes(classes, incremental=False)
        if not data.total_weight > 0:
            raise ValueError(ALL_WEIGHTS_ZERO)
        rng = check_random_state(self.random_state)
        self.classes_ = classes
        sizes = (X.shape[1], *self._hidden_layer_sizes(), classes.size)
        reuse = self._keeps_parameters(sizes, incremental=False)
        if not reuse:
            self._initialize(sizes, data.dtype, rng)
            self._start_at_class_totals(data.class_totals)
        else:
            data.astype(self._params.dtype)
            self.n_iter_ = 0
        callbacks = _CallbackContext(self, X, y, max_subtasks=self.max_iter + 1)
        self._fit_lbfgs(
            lambda net, params, alpha: _dask.DaskObjective(data, net, params,
                                                           alpha),
            data.n_samples, callbacks)
        self._warn_if_worse_than_chance(data.class_totals)
        self._set_public_attributes()
        callbacks.close()
        return self

    def _class_weights(self, present, counts, classes):
        """The weight of each of ``classes`` under ``class_weight``, from the
        classes present in y and their numbers of rows (None: no class
        weights), as ``compute_class_weight`` computes them from y."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):   # 'balanced'
            cw = counts.sum() / (present.size * counts.astype(np.float64))
        else:
            cw = compute_class_weight(self.class_weight, classes=present,
                                      y=present)
        weights = np.ones(classes.size)
        weights[np.searchsorted(classes, present)] = cw
        return weights

    def _keeps_parameters(self, sizes, incremental):
        """Whether this call trains on from the fitted parameters
        (``partial_fit``, or ``warm_start``) rather than a fresh start: only
        for the same layer ``sizes`` and network options."""
        return bool(
            (incremental or self.warm_start)
            and hasattr(self, "_params")
            and self._net.sizes == sizes
            and self._net_options == self._network_options()
        )

    def _initialize(self, sizes, dtype, rng):
        """Fresh parameters: Glorot-uniform as MLPClassifier, zeros without
        hidden layers (the convex softmax model, as LogisticRegression).
        ``fit`` then moves the output biases (:meth:`_start_at_class_prior`)."""
        options = self._network_options()
        self._net_options = options
        self._net = net = Network(sizes, **options)
        params = np.zeros(net.n_params, dtype=dtype)
        if net.n_layers > 1:
            activations = options["activation"]
            if isinstance(activations, str):
                activations = [activations] * (net.n_layers - 1)
            for l, ((w, b, gb), fan_in, fan_out) in enumerate(zip(
                net.layer_slices(), sizes[:-1], sizes[1:]
            )):
                # Glorot's bound, as MLPClassifier: √(2 / fan) for a
                # logistic layer (its slope at 0 is 1/4), else √(6 / fan);
                # the output layer takes the bound of the layer before it.
                act = activations[min(l, len(activations) - 1)]
                factor = 2.0 if act == "logistic" else 6.0
                bound = np.sqrt(factor / (fan_in + fan_out))
                params[w] = rng.uniform(-bound, bound, fan_in * fan_out)
                params[b] = rng.uniform(-bound, bound, fan_out)
                if gb is not None:
                    params[gb] = np.r_[np.ones(fan_out), np.zeros(fan_out)]
        running = np.zeros(net.n_running, dtype=dtype)
        for sl in net.running_slices():
            if sl is not None:
                running[sl[1]] = 1.0
        self._params = params
        self._running = running
        self._opt_state = None
        self._steps = 0
        self._loss_level = None   # the divergence guard's starting level
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = None
        self.validation_loss_curve_ = None
        self.best_validation_score_ = None
        self._no_improvement_count = 0
        self._learning_rate = float(self.learning_rate_init)

    def _start_at_class_prior(self, y_index, sample_weight):
        """Set a fresh network's output biases to the model that predicts
        the (weighted) class frequencies: the frequencies themselves for the
        squared error, their centred logarithms for the log loss (mixed
        with ``PRIOR_SMOOTHING`` of the uniform distribution, so that a class
        of zero weight gets a finite bias).

        The hidden layers keep their Glorot weights, so the fit starts from
        the best model that ignores the features plus small random
        deviations, instead of from a uniform prediction.  It matters when
        the class weights are far from uniform: from a uniform start, a
        network whose units saturate (unscaled features) can end far from
        the weighted optimum.  Over scikit-learn's bundled data sets (iris,
        wine, digits, breast cancer; 5-fold CV, two seeds, five solver and
        loss configurations), it left the cross-validated accuracy of
        standardized data unchanged (mean 0.00 points, worst -1.0, within
        the seeds' noise) and raised that of unscaled data by 1.9 points on
        average (``benchmarks/bench_output_init.py``).

        Only for ``fit`` with hidden layers: the softmax model starts at
        zero (as ``LogisticRegression``; it is convex), and a first
        ``partial_fit`` batch need not have the classes' frequencies.
        """
        self._start_at_class_totals(np.bincount(
            y_index, weights=sample_weight, minlength=self.classes_.size))

    def _start_at_class_totals(self, class_totals):
        """:meth:`_start_at_class_prior` from the weight of each class."""
        if self._net.n_layers == 1:
            return
        n_classes = self.classes_.size
        freq = class_totals / class_totals.sum()
        if self._net.loss_name == "log_loss":
            # Smoothed by weight fractions, not by rows: weights and repeated
            # rows must give the same start.
            log_freq = np.log((freq + PRIOR_SMOOTHING / n_classes)
                              / (1.0 + PRIOR_SMOOTHING))
            prior = log_freq - log_freq.mean()
        else:
            prior = freq
        _, bias, _ = self._net.layer_slices()[-1]
        self._params[bias] = prior

    def _training_objective(self, X, y, sample_weight=None):
        """The training objective on (X, y) as a
        :class:`~sklearn_mcnn._engine.FullBatchObjective` over copies of the
        parameters: the fitted ones (X validated as ``partial_fit`` would),
        else a random start drawn from ``random_state`` (small Gaussian
        weights where ``fit`` would start from zeros, which tell little).
        The estimator is not modified.  It is the objective the solver
        trains: for a two-class softmax model with ``solver='lbfgs'``, that
        of the one logistic output (``_full_batch_problem``).  For
        ``utils.check_gradient``."""
        fitted = hasattr(self, "_params")
        # A copy: validation sets attributes, and the estimator stays as it is.
        est = copy.copy(self) if fitted else clone(self)
        X, classes, y_index, sw = est._validate_training_data(
            X, y, sample_weight, incremental=fitted, classes=None)
        if not fitted:
            rng = check_random_state(est.random_state)
            sizes = (X.shape[1], *est._hidden_layer_sizes(), classes.size)
            est._initialize(sizes, X.dtype, rng)
            if est._net.n_layers == 1:
                est._params[:] = rng.normal(scale=0.1, size=est._params.size)
        est._params = est._params.astype(X.dtype)
        net, params, alpha, _ = est._full_batch_problem()
        return FullBatchObjective(
            net, TrainingData(X, y_index, sw), params.copy(),
            est._running.astype(X.dtype), alpha, capacity=X.shape[0])

    # ------------------------------------------------------------ prediction

    #: The fitted lists of floats that every epoch (every ``partial_fit``
    #: call) lengthens.
    _CURVES = ("loss_curve_", "validation_scores_", "validation_loss_curve_")

    def __deepcopy__(self, memo):
        """A deep copy, with the curves copied as lists: ``copy.deepcopy``
        visits a list's items one by one, and the curves grow by an entry
        per epoch, so a reduction's ``partial_fit`` (which copies every
        sub-estimator before updating it) took 842 ms per call instead of
        55 after 24,000 calls (one-vs-one on digits, 45 sub-estimators);
        their floats are immutable, so the new lists hold the same items."""
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        for name, value in vars(self).items():
            if name in self._CURVES and type(value) is list:
                value = list(value)
            else:
                value = copy.deepcopy(value, memo)
            vars(copied)[name] = value
        return copied

    def _fitted_state(self):
        """Attributes that make a copy of this estimator ready to predict."""
        state = {
            "_params": self._params.copy(),
            "_running": self._running.copy(),
            "_net": self._net,
            "classes_": self.classes_,
        }
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, name):
                state[name] = getattr(self, name)
        return state

    def _forward(self, X, probabilities):
        """Network outputs (softmax probabilities or raw scores) for X
        (:func:`forward_pass` with this model's network and parameters)."""
        return forward_pass(self._net, self._params, self._running, X,
                            probabilities)

    def _validate_predict_data(self, X):
        if not hasattr(self, "_params"):  # check_is_fitted costs ~7 µs
            check_is_fitted(self, "_params")
        if self._plain_float_input(X):
            # A one-row call costs a few microseconds instead of
            # scikit-learn's full validation (~200 µs for a CSR row).
            return X
        return validate_data(self, X, reset=False, **self._INPUT_CHECKS)

    def _plain_float_input(self, X):
        """Whether X is what `validate_data` would return unchanged: a
        C-contiguous 2-D float ndarray or a CSR matrix (its structure is
        checked by the kernels' `Dataset`), non-empty, finite, with this
        model's number of features, for a model fitted without feature
        names."""
        if type(X) is np.ndarray:
            if not X.flags.c_contiguous:
                return False
        elif type(X) not in (sp.csr_matrix, sp.csr_array):
            return False
        return (
            X.ndim == 2
            and X.dtype in (np.float32, np.float64)
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and all_finite(X)
        )

    def decision_function(self, X):
        """Compute the class scores: the network's outputs before the softmax.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Input data (a dask array gives a lazy dask result, computed
            block by block).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the score of ``classes_[1]`` minus that of
            ``classes_[0]`` (positive means ``classes_[1]``).
        """
        if is_dask_collection(X):
            return self._predict_lazy(X, "decision_function")
        scores = self._forward(self._validate_predict_data(X), probabilities=False)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """Predict the most probable class (``argmax`` of the scores).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Input data (a dask array gives a lazy dask result, computed
            block by block).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        if is_dask_collection(X):
            return self._predict_lazy(X, "predict")
        scores = self._forward(self._validate_predict_data(X), probabilities=False)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """Class probabilities: the softmax of the scores.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Input data (a dask array gives a lazy dask result, computed
            block by block).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        if is_dask_collection(X):
            return self._predict_lazy(X, "predict_proba")
        return self._forward(self._validate_predict_data(X), probabilities=True)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Input data (a dask array gives a lazy dask result, computed
            block by block).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.
        """
        if is_dask_collection(X):
            return self._predict_lazy(X, "predict_log_proba")
        scores = self._forward(self._validate_predict_data(X), probabilities=False)
        top = scores.max(axis=1, keepdims=True)
        shifted = scores - top
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict_sample(self, X, random_state=None):
        """Randomized prediction: draw each label from ``predict_proba``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Input data (a dask array gives a lazy dask result, computed
            block by block).

        random_state : int, RandomState instance or None, default=None
            Seed of the draws. For a dask X, one seed per row block is drawn
            from it in block order, so the draws are reproducible for a
            given chunking (and differ from those of the same rows in
            memory).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            One label per row, class ``k`` with probability ``P(y=k|x)``.
        """
        if is_dask_collection(X):
            return self._predict_lazy(X, "predict_sample", random_state)
        proba = self.predict_proba(X).astype(np.float64)
        rng = check_random_state(random_state)
        u = rng.random_sample(proba.shape[0])[:, None]
        cumulative = np.cumsum(proba, axis=1)
        cumulative /= cumulative[:, -1:]
        index = np.minimum((cumulative <= u).sum(axis=1), proba.shape[1] - 1)
        return self.classes_[index]

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy on the given test data and labels.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
(n_samples, n_features)
            Test samples.

        y : array-like or dask array of shape (n_samples,)
            True labels for X.

        sample_weight : array-like or dask array of shape (n_samples,), \
default=None
            Sample weights.

        Returns
        -------
        score : float or dask array
            Mean accuracy of ``self.predict(X)`` with respect to y; for a
            dask X, a lazy 0-d dask array (``float(score)`` computes it).
        """
        if is_dask_collection(X):
            from ._dask import score_lazy

            return score_lazy(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)

    def _predict_lazy(self, X, method, random_state=None):
        """``method`` on a dask X: a lazy dask array, block by block."""
        from ._dask import predict_lazy

        return predict_lazy(self, X, method, random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def forward_pass(net, params, running, X, probabilities):
    """Network outputs (softmax probabilities or raw scores) of the network
    ``net`` with ``params`` and ``running`` for the validated X, computed in
    chunks of rows (:func:`~sklearn_mcnn._engine.predict_outputs`), X cast
    to the parameters' dtype."""
    if X.dtype != params.dtype:
        with np.errstate(over="ignore"):
            X = X.astype(params.dtype)
        if not all_finite(X):
            raise ValueError(
                f"X has values beyond the range of {params.dtype}, "
                "the precision this model was fitted in. Scale the "
                "features, or fit the model on float64 data."
            )
    out, undefined = predict_outputs(net, params, running, X, probabilities)
    if undefined:
        raise ValueError(
            "The network's outputs are undefined (NaN) for some rows: their "
            "feature values are so large that the hidden layers overflow. "
            "Scale the features, e.g. with StandardScaler."
        )
    return out


def binary_scores_in_one_pass(estimators, X, method):
    """The positive-label scores of fitted binary softmax models (no hidden
    layer) for the same X, in one pass over X; None when ``estimators`` are
    not all such models of one dtype and width.

    A reduction's predictions ask each of its K sub-estimators in turn, and
    each reads all of X.  Their weight matrices set side by side make one
    layer of 2K outputs: one forward pass, one read of X, one validation;
    each model's scores are then its two columns, turned into its
    ``decision_function`` (``z₁ − z₀``) or the ``predict_proba`` column of
    label 1 (the stable softmax of the pair), the values each model gives
    up to the rounding of the products.

    Parameters
    ----------
    estimators : list of estimators
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Validated by the caller.
    method : {'decision_function', 'predict_proba'}

    Returns
    -------
    scores : ndarray of shape (n_samples, len(estimators)) or None
        In the models' dtype, as each one's own method gives them.
    """
    if not len(estimators) or method not in ("decision_function",
                                             "predict_proba"):
        return None
    first = estimators[0]

    def binary_softmax_like_first(e):
        return (isinstance(e, BaseNetworkClassifier) and hasattr(e, "_params")
                and e._net.n_layers == 1 and e._net.sizes[1] == 2
                and e._net.sizes[0] == first._net.sizes[0]
                and e._params.dtype == first._params.dtype)

    if not all(binary_softmax_like_first(e) for e in estimators):
        return None
    n_features, dtype = first._net.sizes[0], first._params.dtype
    net = Network((n_features, 2 * len(estimators)))
    params = np.empty(net.n_params, dtype=dtype)
    w, b, _ = net.layer_slices()[0]
    weights = [e._params[e._net.layer_slices()[0][0]] for e in estimators]
    params[w] = np.concatenate(
        [v.reshape(n_features, 2) for v in weights], axis=1).ravel()
    params[b] = np.concatenate(
        [e._params[e._net.layer_slices()[0][1]] for e in estimators])
    z = forward_pass(net, params, np.zeros(0, dtype=dtype),
                     first._validate_predict_data(X), probabilities=False)
    z0, z1 = z[:, 0::2], z[:, 1::2]
    if method == "decision_function":
        return z1 - z0
    top = np.maximum(z0, z1)
    e0, e1 = np.exp(z0 - top), np.exp(z1 - top)
    return e1 / (e0 + e1)
