"""Reductions of multiclass classification to binary classification.

:class:`OneVsAllClassifier` trains one binary classifier per class ("class k
against the rest"); :class:`OneVsOneClassifier` trains one per pair of
classes, each on the samples of its two classes only. Both wrap any binary
classifier (by default :class:`~sklearn_mcnn.SoftmaxClassifier`).

Their base, :class:`_BaseReduction`, also carries the output codes
(:mod:`sklearn_mcnn._output_code`) and the tournaments
(:mod:`sklearn_mcnn._tournament`): a fit draws a *plan* (a code book, a
tournament) from ``random_state`` and trains the sub-problems in *rounds*,
a later round's rows possibly depending on the sub-estimators already
trained (a tournament's filtering); one-vs-all and one-vs-one are one round
without a plan.

The design follows scikit-learn's ``sklearn/multiclass.py``: sub-problems are
fitted by module-level functions dispatched through
:mod:`sklearn.utils.parallel`, a sub-problem whose (positively weighted)
training samples hold a single label gets a :class:`_ConstantPredictor`, and
``sample_weight`` is restricted to each sub-problem's rows, also when it is
routed through scikit-learn's metadata routing.

A ``fit`` or ``partial_fit`` that raises leaves a fitted reduction exactly as
it was (:mod:`sklearn_mcnn._checkpoint`): the checkpoint is shallow, so the
calls never change a fitted sub-estimator, nor the caller's RandomState, in
place; they work on copies and assign the results when every sub-fit has
succeeded.
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import copy
import itertools
import warnings
from inspect import signature
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import _safe_indexing, check_random_state, gen_batches, get_tags
from sklearn.utils._param_validation import HasMethods, Hidden, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import _safe_split, available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._base import (
    BaseNetworkClassifier,
    CachedParamNamesMixin,
    binary_scores_in_one_pass,
)
from ._checkpoint import restore_on_failure
from ._validation import check_class_labels

__all__ = ["OneVsAllClassifier", "OneVsOneClassifier"]

# Pairwise probabilities are clipped to [_MIN_PAIR_PROBA, 1 - _MIN_PAIR_PROBA]
# before coupling (as LIBSVM does), which keeps the coupling matrix positive
# definite and its linear system well posed.
_MIN_PAIR_PROBA = 1e-7

# Rows per batch in the pairwise coupling: bounds the stacked
# (rows, n_classes + 1, n_classes + 1) systems to about 16 MB each.
_COUPLING_BATCH_ELEMENTS = 2**21

# Score of a sub-estimator, per prediction method: the value that separates
# its two labels.
_THRESHOLDS = {"decision_function": 0.0, "predict_proba": 0.5, "predict": 0.5}


def _default_estimator():
    """Return the default base estimator, a fresh ``SoftmaxClassifier``."""
    from ._softmax import SoftmaxClassifier

    return SoftmaxClassifier()


def _random_state_keys(estimator):
    """The parameters of `estimator` named ``random_state`` or ending in
    ``__random_state`` (nested estimators), sorted."""
    return sorted(key for key in estimator.get_params(deep=True)
                  if key == "random_state" or key.endswith("__random_state"))


def _set_random_states(estimator, random_state, keys):
    """Seed the parameters `keys` (:func:`_random_state_keys`) of `estimator`
    from `random_state`.

    As ``sklearn.ensemble._base._set_random_states``, the same draws: each
    key, in sorted order, is set to an integer drawn from the RandomState
    `random_state`. Top-level keys are set as ``set_params`` sets them,
    without its ``get_params(deep=True)``.
    """
    seeds = {key: random_state.randint(np.iinfo(np.int32).max) for key in keys}
    nested = {key: seed for key, seed in seeds.items() if "__" in key}
    for key, seed in seeds.items():
        if key not in nested:
            setattr(estimator, key, seed)
    if nested:
        estimator.set_params(**nested)
    return estimator


class _ConstantPredictor(BaseEstimator):
    """Binary predictor for a sub-problem whose training samples hold one label.

    It always predicts the label it was fitted on (0 or 1). Its
    ``predict_proba`` is the corresponding one-hot row and its
    ``decision_function`` is ``+1`` for label 1 and ``-1`` for label 0, so
    that both sit on the correct side of the usual thresholds (0.5 and 0).
    """

    def fit(self, X, y):
        """Remember the single label of `y`."""
        labels = np.unique(y)
        if labels.size != 1:
            raise ValueError(
                f"_ConstantPredictor needs exactly one label, got {labels!r}."
            )
        self.y_ = int(labels[0])
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        """Return the fitted label for every sample."""
        check_is_fitted(self)
        return np.full(_num_samples(X), self.y_, dtype=np.intp)

    def decision_function(self, X):
        """Return +1 (label 1) or -1 (label 0) for every sample."""
        check_is_fitted(self)
        return np.full(_num_samples(X), 2.0 * self.y_ - 1.0)

    def predict_proba(self, X):
        """Return probability 1 for the fitted label for every sample."""
        check_is_fitted(self)
        proba = np.zeros((_num_samples(X), 2))
        proba[:, self.y_] = 1.0
        return proba


class _UntrainedPair(BaseEstimator):
    """A sub-problem without training rows: a one-vs-one pair that no
    ``partial_fit`` batch has reached yet, or a tournament node that no
    training sample reaches: it abstains.  Its scores sit on the thresholds
    (decision 0, probability 1/2), the votes leave it out, and the next
    batch with rows of the pair starts a fresh clone of the base estimator
    in its place (it has no ``partial_fit``)."""

    classes_ = np.array([0, 1])

    def predict(self, X):
        return np.zeros(_num_samples(X), dtype=np.intp)

    def decision_function(self, X):
        return np.zeros(_num_samples(X))

    def predict_proba(self, X):
        return np.full((_num_samples(X), 2), 0.5)


def _fit_binary(estimator, X, y, fit_params, indices, names, validation,
                trusted=False):
    """Fit one binary sub-estimator on the rows `indices` (all if None).

    `y` holds the sub-problem's labels (0/1) for those rows, `fit_params` the
    parameters for all rows of `X` (restricted here), `names` the
    (negative, positive) side names used in the warning about a constant
    sub-problem (None: no warning, where one side is expected, as in a
    tournament node that the filtering left one-sided), `validation` the
    sub-problem's own ``X_val``, ``y_val``, ``sample_weight_val`` (or {}),
    `trusted` whether the reduction validated X and the parameters for this
    package's estimators (:meth:`_BaseReduction._trusted_inputs`).
    """
    if indices is not None:
        if indices.size == 0:
            # a tournament node that no training sample reaches
            return _UntrainedPair()
        fit_params = _check_method_params(X, params=fit_params, indices=indices)
        X = _safe_split(estimator, X, None, indices)[0]
    fit_params = {**fit_params, **validation}
    sample_weight = fit_params.get("sample_weight")
    present = y if sample_weight is None else y[np.asarray(sample_weight) > 0]
    labels = np.unique(present)
    if labels.size == 0:
        # no positive weight: a tournament node reached by zero-weight rows only
        return _UntrainedPair()
    if labels.size == 1:
        if names is None:
            return _ConstantPredictor().fit(X, labels)
        warnings.warn(
            f"Sub-problem {names[1]} vs {names[0]}: all training samples with "
            f"positive weight belong to {names[labels[0]]}; it is fitted as a "
            "constant predictor.",
            UserWarning,
            stacklevel=2,
        )
        return _ConstantPredictor().fit(X, labels)
    if _trusts(estimator, fit_params, trusted):  # both labels checked above
        return estimator._fit_subproblem(X, y, fit_params.get("sample_weight"))
    return estimator.fit(X, y, **fit_params)


def _partial_fit_binary(estimator, X, y, partial_fit_params, indices, validation,
                        trusted=False):
    """Update one binary sub-estimator on the rows `indices` (all if None).

    A sub-problem with no rows in this batch leaves `estimator` unchanged,
    or, if it was never trained, an :class:`_UntrainedPair`. `validation`:
    as in :func:`_fit_binary`.
    """
    if indices is not None:
        if indices.size == 0:
            untrained = isinstance(estimator, _UntrainedPair) or not hasattr(
                estimator, "classes_")
            return _UntrainedPair() if untrained else estimator
        partial_fit_params = _check_method_params(
            X, params=partial_fit_params, indices=indices
        )
        X = _safe_split(estimator, X, None, indices)[0]
    if not validation and _trusts(estimator, partial_fit_params, trusted):
        return estimator._fit_subproblem(
            X, y, partial_fit_params.get("sample_weight"), incremental=True)
    estimator.partial_fit(X, y, classes=np.array([0, 1]), **partial_fit_params,
                          **validation)
    return estimator


def _trusts(estimator, params, trusted):
    """Whether a sub-estimator may train without validating its inputs
    again (``_fit_subproblem``): the reduction validated X and the
    parameters for this package's estimators (`trusted`, from
    :meth:`_BaseReduction._trusted_inputs`), `estimator` is one of them,
    and its only parameter besides X and y is sample_weight (checked by
    the reduction)."""
    return (trusted and isinstance(estimator, BaseNetworkClassifier)
            and params.keys() <= {"sample_weight"})


def _estimator_to_update(estimator, indices, fresh):
    """The sub-estimator a later ``partial_fit`` call trains on.

    `estimator` itself when the sub-problem has no rows in the batch (it is
    not trained), `fresh` (a new clone) when `estimator` has no
    ``partial_fit`` (a constant predictor left by ``fit``), else a copy
    (``copy.deepcopy``), so that a call that fails half-way leaves
    ``estimators_`` untouched.
    """
    if indices is not None and indices.size == 0:
        return estimator
    if not hasattr(estimator, "partial_fit"):
        return fresh
    return copy.deepcopy(estimator)


def _label_name(label):
    """Readable name of a class label for messages (``1``, ``'cat'``)."""
    return repr(np.asarray(label).item())


def _binary_scores(estimator, X, method):
    """Scores of the positive label (label 1) of a binary sub-estimator."""
    if method == "decision_function":
        return np.ravel(estimator.decision_function(X))
    if method == "predict_proba":
        return estimator.predict_proba(X)[:, 1]
    return np.asarray(estimator.predict(X), dtype=np.float64)


def _random_pick(candidates, fallback, random_state):
    """Pick one candidate column per row uniformly at random.

    Parameters
    ----------
    candidates : ndarray of shape (n_samples, n_classes), dtype=bool
        The columns eligible in each row.
    fallback : ndarray of shape (n_samples,)
        The column returned for rows without candidates.
    random_state : int, RandomState instance or None
        Source of the draws: one uniform number per row, always, so the
        result for a fixed seed does not depend on the candidates.

    Returns
    -------
    picked : ndarray of shape (n_samples,)
        The chosen column of each row.
    """
    rng = check_random_state(random_state)
    n_candidates = candidates.sum(axis=1)
    rank = np.floor(rng.random_sample(candidates.shape[0]) * n_candidates)
    picked = np.argmax(np.cumsum(candidates, axis=1) > rank[:, np.newaxis], axis=1)
    return np.where(n_candidates > 0, picked, fallback)


def _ovo_votes(scores, threshold, n_classes, abstain=()):
    """Votes and decision values of the one-vs-one pair classifiers.

    The pair classifier k of classes (i, j), i < j, in
    ``itertools.combinations`` order votes for j when its score exceeds
    `threshold`, else for i. As in scikit-learn's ``OneVsOneClassifier``, the
    decision value of a class is its number of votes plus its summed
    confidence (score for j, minus the score for i) mapped monotonically
    into (-1/3, 1/3), so confidences break ties but never overturn a vote.
    The pairs whose index is in `abstain` (untrained) count for nothing.

    Returns
    -------
    votes : ndarray of shape (n_samples, n_classes)
    decision : ndarray of shape (n_samples, n_classes)
    """
    n_samples = scores.shape[0]
    votes = np.zeros((n_samples, n_classes))
    confidences = np.zeros((n_samples, n_classes))
    pairs = itertools.combinations(range(n_classes), 2)
    for k, (i, j) in enumerate(pairs):
        if k in abstain:
            continue
        positive = scores[:, k] > threshold
        votes[:, i] += ~positive
        votes[:, j] += positive
        confidences[:, i] -= scores[:, k]
        confidences[:, j] += scores[:, k]
    decision = votes + confidences / (3 * (np.abs(confidences) + 1))
    return votes, decision


def _pairwise_coupling(pair_proba, n_classes):
    """Class probabilities from pairwise probabilities (Wu, Lin & Weng 2004).

    Second method of the paper: minimise ``p^T Q p / 2`` subject to
    ``sum(p) = 1`` with ``Q_ii = sum_{j != i} r_ji^2`` and
    ``Q_ij = -r_ji r_ij``, where ``r_ij`` estimates P(y = i | y in {i, j}).
    The minimiser solves the KKT system ``[[Q, 1], [1^T, 0]] [p; b] = [0; 1]``,
    solved for all rows at once (in batches). Tiny negative solutions are
    clipped to zero and the rows renormalised.

    Parameters
    ----------
    pair_proba : ndarray of shape (n_samples, n_classes * (n_classes - 1) / 2)
        Column k is P(y = j | y in {i, j}) for the k-th pair (i, j), i < j,
        in ``itertools.combinations`` order.
    n_classes : int
        Number of classes.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
    """
    n_samples = pair_proba.shape[0]
    r_upper = np.clip(pair_proba, _MIN_PAIR_PROBA, 1.0 - _MIN_PAIR_PROBA)
    lower, upper = np.triu_indices(n_classes, k=1)
    diagonal = np.arange(n_classes)
    proba = np.empty((n_samples, n_classes))
    batch_size = max(1, _COUPLING_BATCH_ELEMENTS // (n_classes + 1) ** 2)
    for batch in gen_batches(n_samples, batch_size):
        n_rows = batch.stop - batch.start
        r = np.zeros((n_rows, n_classes, n_classes))
        r[:, upper, lower] = r_upper[batch]  # r[:, j, i] = r_ji
        r[:, lower, upper] = 1.0 - r_upper[batch]  # r[:, i, j] = r_ij
        kkt = np.zeros((n_rows, n_classes + 1, n_classes + 1))
        kkt[:, :n_classes, :n_classes] = -r * r.transpose(0, 2, 1)
        kkt[:, diagonal, diagonal] = np.sum(r**2, axis=1)
        kkt[:, :n_classes, n_classes] = 1.0
        kkt[:, n_classes, :n_classes] = 1.0
        rhs = np.zeros((n_rows, n_classes + 1, 1))
        rhs[:, n_classes, 0] = 1.0
        proba[batch] = np.linalg.solve(kkt, rhs)[:, :n_classes, 0]
    np.clip(proba, 0.0, None, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba


def _estimators_have(attr):
    """``available_if`` check: do the sub-estimators provide `attr`?

    Looks at the first fitted sub-estimator that is not a constant predictor,
    else at the base estimator (``estimator`` or the default), and raises its
    ``AttributeError``.
    """

    def check(self):
        getattr(self._reference_estimator(), attr)
        return True

    return check


def _subproblem_validation(validation, subproblem):
    """The validation parameters of one sub-problem, or {}.

    `validation` is ``(X_val, y_val as class indices, sample_weight_val)``,
    `subproblem` the ``(k, rows, binary labels, names)`` that the
    sub-problems' layout gives on those rows. A sub-problem that none of the
    validation rows (with positive weight) belongs to gets none: its
    sub-estimator falls back on its own ``validation_fraction`` split.
    """
    X_val, _, sample_weight_val = validation
    _, rows, y_binary, _ = subproblem
    if rows is not None:
        if rows.size == 0:
            return {}
        X_val = _safe_indexing(X_val, rows)
        if sample_weight_val is not None:
            sample_weight_val = sample_weight_val[rows]
    if sample_weight_val is None:
        return {"X_val": X_val, "y_val": y_binary}
    if not np.any(sample_weight_val > 0):
        return {}
    return {"X_val": X_val, "y_val": y_binary, "sample_weight_val": sample_weight_val}


class _BaseReduction(
    CachedParamNamesMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator
):
    """Shared machinery of the one-vs-all and one-vs-one reductions.

    Subclasses define the binary sub-problems (``_subproblems``) and how the
    sub-estimators' scores become predictions.
    """

    # `sample_weight` and `classes` are routed to the sub-estimators, not
    # consumed: no `set_fit_request` / `set_partial_fit_request` for them.
    __metadata_request__fit: ClassVar[dict] = {"sample_weight": UNUSED}
    __metadata_request__partial_fit: ClassVar[dict] = {
        "classes": UNUSED,
        "sample_weight": UNUSED,
    }

    def _base_estimator(self):
        """The (unfitted) base estimator: `estimator` or the default."""
        return _default_estimator() if self.estimator is None else self.estimator

    def _reference_estimator(self):
        """A sub-estimator representative of all of them, for introspection."""
        for estimator in getattr(self, "estimators_", ()):
            if not isinstance(estimator, (_ConstantPredictor, _UntrainedPair)):
                return estimator
        return self._base_estimator()

    def _score_method(self):
        """The sub-estimators' method that gives their confidence scores."""
        reference = self._reference_estimator()
        for method in ("decision_function", "predict_proba"):
            if hasattr(reference, method):
                return method
        return "predict"

    def _validation_params(self, estimator=None):
        """Input validation options derived from `estimator`'s tags (by
        default the base estimator's: the one that will be trained)."""
        if estimator is None:
            estimator = self._base_estimator()
        if isinstance(estimator, BaseNetworkClassifier):
            # What its own fit and predict would make of X, made once for
            # all sub-estimators (which then take it as it is).
            return dict(estimator._INPUT_CHECKS)
        input_tags = get_tags(estimator).input_tags
        return {
            "accept_sparse": ["csr", "csc"] if input_tags.sparse else False,
            "ensure_all_finite": not input_tags.allow_nan,
        }

    def _trusted_inputs(self):
        """Whether the sub-estimators of this package may train on X without
        validating it again: the base estimator is one of them, so
        :meth:`_validation_params` validated X as its fit would.  Then its
        parameters are validated here, once, as its own ``fit`` would
        (unless scikit-learn's configuration skips it)."""
        base = self._base_estimator()
        if not isinstance(base, BaseNetworkClassifier):
            return False
        if not get_config()["skip_parameter_validation"]:
            base._validate_params()
        return True

    def _seed_source(self):
        """A copy of the RandomState that ``random_state`` designates.

        A fit draws the sub-estimators' seeds from this copy, and
        :meth:`_commit_seed_source` advances the caller's RandomState (an
        instance passed as ``random_state``, or NumPy's global one for None)
        only when the call has succeeded: a failed call leaves it untouched.
        """
        return copy.deepcopy(check_random_state(self.random_state))

    def _commit_seed_source(self, source):
        """Advance the RandomState of ``random_state`` to `source`'s state."""
        check_random_state(self.random_state).set_state(source.get_state())

    def _new_estimators(self, n_estimators, seed_source):
        """Clones of the base estimator seeded from `seed_source`.

        The seeds are drawn here, before any parallel section, so that the
        model does not depend on ``n_jobs``.
        """
        base = self._base_estimator()
        keys = _random_state_keys(base)
        return [
            _set_random_states(clone(base), seed_source, keys)
            for _ in range(n_estimators)
        ]

    def _check_voting(self):
        """Hook: validate the voting parameters against the base estimator."""

    def _routed_params(self, method, X, sample_weight, params):
        """Parameters of the sub-estimators' `method`, for all rows of X."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, ensure_non_negative=True
            )
            if not np.any(sample_weight > 0):
                # (a sub-problem without positive weight abstains: all of
                # them would)
                raise ValueError(
                    "Sample weights must contain at least one non-zero number."
                )
        if _routing_enabled():
            if sample_weight is not None:
                params = {**params, "sample_weight": sample_weight}
            routed = process_routing(self, method, **params)
            return getattr(routed.estimator, method)
        _raise_for_params(params, self, method)
        if sample_weight is None:
            return {}
        # The method that will receive the weights: the base estimator's, or
        # where it has none (partial_fit after set_params), the fitted
        # sub-estimators' that a partial_fit updates; with neither, the
        # update raises its own clear error later.
        candidates = [self._base_estimator(), *getattr(self, "estimators_", [])]
        owner = next((e for e in candidates if hasattr(e, method)), None)
        if owner is None:
            return {"sample_weight": sample_weight}
        if "sample_weight" not in signature(getattr(owner, method)).parameters:
            raise ValueError(
                f"The base estimator {type(owner).__name__} does not support "
                f"sample_weight in {method}; cannot fit "
                f"{type(self).__name__} with sample_weight."
            )
        return {"sample_weight": sample_weight}

    def _split_validation(self, params, classes):
        """Take the validation data out of the routed `params`.

        Returns the other parameters and, when both ``X_val`` and ``y_val``
        are routed, ``(X_val, y_val as indices into classes,
        sample_weight_val or None)`` (else None, and the parameters go on
        unchanged, for the sub-estimators to refuse). The sub-estimators
        get their sub-problem's rows of them, relabelled, from
        :meth:`_train_rounds`: routing the multiclass ``y_val`` as it is
        would give binary sub-estimators labels they do not know.
        """
        if params.get("X_val") is None or params.get("y_val") is None:
            return params, None
        params = dict(params)
        X_val = params.pop("X_val")
        y_val = params.pop("y_val")
        sample_weight_val = params.pop("sample_weight_val", None)
        if get_tags(self._base_estimator()).input_tags.pairwise:
            raise ValueError(
                f"{type(self).__name__} cannot route X_val to a pairwise base "
                "estimator (its columns would have to be the training rows of "
                "each sub-problem)."
            )
        # Validated as X (the sub-estimators check it against their own
        # training data in detail); the rows must be indexable here.
        X_val = check_array(
            X_val, input_name="X_val", **{"dtype": None, **self._validation_params()}
        )
        y_val = column_or_1d(y_val, warn=True)
        check_consistent_length(X_val, y_val)
        try:
            unknown = np.setdiff1d(np.unique(y_val), classes)
        except TypeError as error:
            raise ValueError(
                f"y_val has labels of another type than the classes "
                f"{classes!r}: {error}"
            ) from None
        if unknown.size:
            raise ValueError(
                f"y_val contains labels that are not classes of y: "
                f"{', '.join(map(_label_name, unknown))} not in "
                f"{', '.join(map(_label_name, classes))}."
            )
        if sample_weight_val is not None:
            sample_weight_val = _check_sample_weight(
                sample_weight_val, X_val, ensure_non_negative=True
            )
        y_val_encoded = np.searchsorted(classes, y_val)
        return params, (X_val, y_val_encoded, sample_weight_val)

    def _validate_for_predict(self, X):
        """Check that the model is fitted and validate X against it."""
        check_is_fitted(self, "estimators_")
        # The fitted sub-estimators predict, whatever `estimator` is now.
        return validate_data(
            self, X, reset=False,
            **self._validation_params(self._reference_estimator()),
        )

    def _estimator_inputs(self, X):
        """The input of each sub-estimator: X, or its pairwise-kernel columns."""
        indices = getattr(self, "pairwise_indices_", None)
        if indices is None:
            return [X] * len(self.estimators_)
        return [X[:, idx] for idx in indices]

    def _sub_scores(self, X):
        """Positive-label scores of all sub-estimators and their threshold.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_estimators)
        threshold : float
            0 for decision functions, 0.5 for probabilities or 0/1 labels.
        """
        method = self._score_method()
        scores = self._positive_scores(self._validate_for_predict(X), method)
        return scores.astype(np.float64, copy=False), _THRESHOLDS[method]

    def _positive_scores(self, X, method):
        """Each sub-estimator's positive-label scores for the validated X,
        in their dtype: ndarray of shape (n_samples, n_estimators).

        Binary softmax sub-estimators are asked together, in one pass over X
        (:func:`~sklearn_mcnn._base.binary_scores_in_one_pass`); others (and
        pairwise bases, whose inputs differ) one by one.
        """
        if getattr(self, "pairwise_indices_", None) is None:
            scores = binary_scores_in_one_pass(self.estimators_, X, method)
            if scores is not None:
                return scores
        return np.column_stack([
            _binary_scores(estimator, X_k, method)
            for estimator, X_k in zip(self.estimators_, self._estimator_inputs(X),
                                      strict=True)
        ])

    def _predict_binary(self, scores, threshold):
        """Labels of the two-class case, from the single estimator's scores."""
        return self.classes_[(scores[:, 0] > threshold).astype(np.intp)]

    def _store_subproblem_indices(self, indices):
        """Hook: keep the sub-problems' row indices (None after partial_fit)."""

    @restore_on_failure
    @_fit_context(
        # the base estimator is validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the binary sub-estimators.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is accepted when the base estimator
            accepts it.

        y : array-like of shape (n_samples,)
            Class labels, at least two distinct ones.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, passed to each sub-estimator's
            ``fit`` restricted to its sub-problem's rows. With metadata
            routing enabled, they are routed like ``**fit_params`` (the base
            estimator must request them).

        **fit_params : dict
            Further parameters routed to the sub-estimators' ``fit``
            (restricted to each sub-problem's rows when they have one entry
            per sample). Validation data (``X_val``, ``y_val``,
            ``sample_weight_val``) is given to each sub-problem as its own
            rows with its binary labels. Only available with
            ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid input, and for invalid `voting` / `tie_break`. A call
            that raises (this, or any error of a sub-estimator's ``fit``)
            leaves the estimator exactly as it was before the call: the
            previous sub-estimators, ``classes_`` and ``n_features_in_`` are
            kept.
        """
        self._check_voting()
        X, y = validate_data(self, X, y, **self._validation_params())
        check_class_labels(y)
        trusted = self._trusted_inputs()
        params = self._routed_params("fit", X, sample_weight, fit_params)
        classes, y_encoded = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least two classes; "
                f"got one class only: {classes[0]!r}."
            )
        params, validation = self._split_validation(params, classes)
        seed_source = self._seed_source()
        plan = self._new_plan(classes, seed_source)

        def fit_round(subproblems, validations):
            estimators = self._new_estimators(len(subproblems), seed_source)
            return Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_binary)(
                    estimator, X, y_binary, params, indices, names, validation,
                    trusted,
                )
                for estimator, (_, indices, y_binary, names), validation in zip(
                    estimators, subproblems, validations, strict=True
                )
            )

        fitted, indices = self._train_rounds(
            fit_round, X, y_encoded, classes, plan, validation
        )
        # Every sub-fit succeeded: commit.
        self.estimators_ = fitted
        self.classes_ = classes
        self._commit_plan(plan)
        self._store_subproblem_indices(indices)
        self._commit_seed_source(seed_source)
        return self

    @available_if(_estimators_have("partial_fit"))
    @restore_on_failure
    @_fit_context(
        # the base estimator is validated by its own partial_fit
        prefer_skip_nested_validation=False
    )
    def partial_fit(self, X, y, classes=None, sample_weight=None, **partial_fit_params):
        """Update the binary sub-estimators with one batch of samples.

        Available when the base estimator has ``partial_fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data.

        y : array-like of shape (n_samples,)
            Class labels of the batch, all in `classes`.

        classes : array-like of shape (n_classes,), default=None
            All the class labels. Required on the first call, optional later
            (and then it must not change).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, passed to each sub-estimator's
            ``partial_fit`` restricted to its sub-problem's rows.

        **partial_fit_params : dict
            Further parameters routed to the sub-estimators' ``partial_fit``;
            validation data as in :meth:`fit`. Only available with
            ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            For invalid input, and for invalid `voting` / `tie_break`. A call
            that raises (this, or any error of a sub-estimator's
            ``partial_fit``) leaves the estimator exactly as it was before the
            call: the sub-estimators are updated as copies, which replace
            them only when all the updates have succeeded.
        """
        first_call = not hasattr(self, "estimators_")
        if not first_call:
            # scikit-learn's _fit_context validates a partial_fit's parameters
            # on the first call only; a later set_params must not slip by.
            self._validate_params()
        self._check_voting()
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = validate_data(self, X, y, reset=first_call, **self._validation_params())
        check_classification_targets(y)
        trusted = self._trusted_inputs()
        params = self._routed_params(
            "partial_fit", X, sample_weight, partial_fit_params
        )
        if first_call:
            all_classes = unique_labels(classes)
            if all_classes.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least two classes; got "
                    f"classes={all_classes!r}."
                )
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(
                unique_labels(classes), all_classes
            ):
                raise ValueError(
                    f"classes={classes!r} is not the same as the classes already "
                    f"fitted, classes_={all_classes!r}."
                )
        known = set(all_classes)
        unknown = [label for label in np.unique(y) if label not in known]
        if unknown:
            raise ValueError(
                "y contains labels that are not among the classes given to the "
                f"first call to partial_fit: {', '.join(map(_label_name, unknown))} "
                f"not in {', '.join(map(_label_name, all_classes))}."
            )
        params, validation = self._split_validation(params, all_classes)
        seed_source = self._seed_source()
        if first_call:
            plan = self._new_plan(all_classes, seed_source)
            previous = fresh = None
        else:
            plan = self._current_plan()
            previous = self.estimators_
            fresh = self._fresh_estimators_for_update(seed_source)

        def update_round(subproblems, validations):
            if first_call:
                estimators = self._new_estimators(len(subproblems), seed_source)
            else:
                estimators = [
                    _estimator_to_update(previous[k], indices,
                                         None if fresh is None else fresh[k])
                    for k, indices, _, _ in subproblems
                ]
            return Parallel(n_jobs=self.n_jobs)(
                delayed(_partial_fit_binary)(
                    estimator, X, y_binary, params, indices, validation, trusted
                )
                for estimator, (_, indices, y_binary, _), validation in zip(
                    estimators, subproblems, validations, strict=True
                )
            )

        updated, _ = self._train_rounds(
            update_round, X, np.searchsorted(all_classes, y), all_classes, plan,
            validation,
        )
        # Every update succeeded: commit.
        self.estimators_ = updated
        self.classes_ = all_classes
        self._commit_plan(plan)
        self._store_subproblem_indices(None)
        self._commit_seed_source(seed_source)
        return self

    def _fresh_estimators_for_update(self, seed_source):
        """Fresh clones for a later ``partial_fit`` call, or None.

        When ``fit`` left sub-estimators without ``partial_fit`` (constant
        predictors), a later ``partial_fit`` restarts them from fresh clones
        of the base estimator, one per sub-estimator, seeded from
        `seed_source`.
        """
        if all(hasattr(estimator, "partial_fit") for estimator in self.estimators_):
            return None
        base = self._base_estimator()
        if not hasattr(base, "partial_fit"):
            raise ValueError(
                f"{type(self).__name__}.partial_fit must restart the "
                "sub-problems that fit left constant from the base "
                f"estimator, but {base!r} has no partial_fit (now). Use a "
                "base estimator with partial_fit, or refit."
            )
        return self._new_estimators(len(self.estimators_), seed_source)

    # Hooks of the sub-problems' layout.  One-vs-all and one-vs-one train all
    # their sub-problems in one round, with no plan; output codes draw a code
    # book (the plan) and the tournaments train their nodes round by round,
    # each round on the rows that the nodes already trained let through.

    def _new_plan(self, classes, seed_source):
        """Hook: the layout of the sub-problems for `classes` (e.g. a code
        book), drawn from `seed_source` before the sub-estimators' seeds."""

    def _current_plan(self):
        """Hook: the fitted layout, for a later ``partial_fit`` call."""

    def _commit_plan(self, plan):
        """Hook: store the layout as fitted attributes (when the call has
        succeeded)."""

    def _subproblem_rounds(self, X, y_encoded, classes, plan, trained):
        """Yield the sub-problems, round by round.

        Each round is a list of ``(k, row indices or None, binary labels,
        side names)``, ``k`` the sub-estimator's position in
        ``estimators_``. Before the next round is asked for, `trained` (a
        dict) maps the positions of the rounds so far to their trained
        sub-estimators. By default, a single round of ``_subproblems``.
        """
        yield [(k, *subproblem)
               for k, subproblem in enumerate(self._subproblems(y_encoded, classes))]

    def _train_rounds(self, train_round, X, y_encoded, classes, plan, validation):
        """Train the sub-problems of every round with `train_round`.

        `train_round(subproblems, validations)` gets each sub-problem's
        validation parameters too: the rows of `validation` (the output of
        :meth:`_split_validation`, or None) that the same layout gives the
        sub-problem, with its binary labels. They come from the same
        ``_subproblem_rounds``, run on the validation rows in step with the
        training rows, so that a tournament filters them through the nodes
        already trained, like the training rows.

        Returns the trained sub-estimators in position order, and each
        one's row indices.
        """
        trained, indices = {}, {}
        rounds = self._subproblem_rounds(X, y_encoded, classes, plan, trained)
        if validation is None:
            validation_rounds = itertools.repeat(None)
        else:
            validation_rounds = self._subproblem_rounds(
                validation[0], validation[1], classes, plan, trained
            )
        for subproblems, validation_subproblems in zip(rounds, validation_rounds):
            if validation_subproblems is None:
                validations = [{}] * len(subproblems)
            else:
                validations = [
                    _subproblem_validation(validation, subproblem)
                    for subproblem in validation_subproblems
                ]
            results = train_round(subproblems, validations)
            for (k, rows, _, _), estimator in zip(subproblems, results, strict=True):
                trained[k], indices[k] = estimator, rows
        order = range(len(trained))
        return [trained[k] for k in order], [indices[k] for k in order]

    @available_if(_estimators_have("predict_proba"))
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Available when the base estimator has ``predict_proba``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, columns ordered as `classes_`.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base_tags = get_tags(self._base_estimator())
        tags.input_tags.sparse = base_tags.input_tags.sparse
        tags.input_tags.pairwise = base_tags.input_tags.pairwise
        tags.input_tags.allow_nan = base_tags.input_tags.allow_nan
        tags.non_deterministic = base_tags.non_deterministic
        if base_tags.classifier_tags is not None:
            tags.classifier_tags.poor_score = base_tags.classifier_tags.poor_score
        return tags

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` and ``partial_fit`` route their metadata (``sample_weight``
        included) to the base estimator's methods of the same name. See the
        scikit-learn User Guide on metadata routing.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating the routing information.
        """
        return MetadataRouter(owner=self).add(
            estimator=self._base_estimator(),
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="partial_fit", callee="partial_fit"),
        )


class OneVsAllClassifier(_BaseReduction):
    """One-vs-all (one-vs-rest) multiclass classifier.

    Trains one binary classifier per class, "class k against all the other
    classes", on all the samples, and predicts the class whose classifier is
    the most confident. With two classes, a single classifier is trained on
    the original problem.

    ``predict`` reads the same scores as ``predict_proba`` when the base
    estimator has ``predict_proba``, so that ``predict`` is always the argmax
    of ``predict_proba``.

    Parameters
    ----------
    estimator : estimator object, default=None
        The binary classifier to clone for each class; it must implement
        ``fit``. ``predict`` reads its confidence from ``predict_proba`` when
        it has one (the scores ``predict_proba`` normalises), else from
        ``decision_function`` (else from ``predict``).
        ``None`` means :class:`~sklearn_mcnn.SoftmaxClassifier()`: each
        class's problem then has the optimum of
        ``LogisticRegression(C=2 / (1e-4 * Σ sample_weight))`` (see the user
        guide, "Regularisation of the sub-problems").

    voting : {'confidence', 'random'}, default='confidence'
        How ``predict`` chooses the class. ``'confidence'``: the class whose
        classifier gives the highest score, i.e. the argmax of
        ``predict_proba`` when the base estimator has it, else of
        ``decision_function``. ``'random'``: uniformly at random among the
        classes whose classifier says "positive" (probability above 0.5, or
        decision value above 0), and the most confident class when none does;
        the draws come from `random_state`. Irrelevant with two classes.

    n_jobs : int, default=None
        Number of jobs fitting the binary classifiers in parallel, through
        joblib (any joblib backend, e.g. dask's, spreads the fits). ``None``
        means 1 unless in a :func:`joblib.parallel_backend` context, ``-1``
        all processors. The model does not depend on `n_jobs`.

    random_state : int, RandomState instance or None, default=None
        Seeds the sub-estimators: every ``random_state`` parameter of each
        clone (nested ones included) is set to an integer drawn from it, so a
        fixed `random_state` fixes the whole model, whatever the base
        estimator's own ``random_state``. Also the source of the draws of
        ``voting='random'`` (an int gives the same predictions at every
        call).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted binary classifiers: ``n_classes`` of them, or one for two
        classes. A class whose sub-problem has a single label (for instance
        all its samples have zero weight) gets a constant predictor.

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    OneVsOneClassifier : One classifier per pair of classes.
    sklearn.multiclass.OneVsRestClassifier : The reduction in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_mcnn import OneVsAllClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = OneVsAllClassifier(LogisticRegression(max_iter=1000)).fit(X, y)
    >>> len(clf.estimators_)
    3
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> clf.predict_proba(X[[0]]).round(1)
    array([[0.9, 0.1, 0. ]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit"]), None],
        "voting": [StrOptions({"confidence", "random"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self, estimator=None, *, voting="confidence", n_jobs=None, random_state=None
    ):
        self.estimator = estimator
        self.voting = voting
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _subproblems(self, y_encoded, classes):
        """Yield ``(row indices or None, binary labels, side names)``."""
        if classes.size == 2:
            names = (_label_name(classes[0]), _label_name(classes[1]))
            yield None, y_encoded.astype(np.intp), names
            return
        for k, label in enumerate(classes):
            yield (
                None,
                (y_encoded == k).astype(np.intp),
                ("the rest", _label_name(label)),
            )

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted classes (see `voting`). With ``voting='confidence'``
            and a base estimator that has ``predict_proba``, the argmax of
            :meth:`predict_proba`.
        """
        if hasattr(self._reference_estimator(), "predict_proba"):
            # The scores predict_proba normalises: predict is its argmax even
            # where the probabilities rank the classes differently from the
            # decision values (e.g. SVC(probability=True), Platt scaling
            # fitted per classifier).
            positive, proba = self._probabilities(self._validate_for_predict(X))
            threshold = _THRESHOLDS["predict_proba"]
            best = proba.argmax(axis=1)
        else:
            positive, threshold = self._sub_scores(X)
            if self.classes_.size == 2:
                return self._predict_binary(positive, threshold)
            best = positive.argmax(axis=1)
        if self.voting == "random" and self.classes_.size > 2:
            best = _random_pick(positive > threshold, best, self.random_state)
        return self.classes_[best]

    def _probabilities(self, X):
        """The positive-class probabilities and the class probabilities.

        Returns
        -------
        positive : ndarray of shape (n_samples, n_classes) or None
            Column k is P(class k) of the classifier "class k against the
            rest" (None with two classes).
        proba : ndarray of shape (n_samples, n_classes)
            ``positive`` normalised; with two classes, the single
            classifier's ``predict_proba``.
        """
        if self.classes_.size == 2:
            return None, self.estimators_[0].predict_proba(X)
        positive = self._positive_scores(X, "predict_proba")
        row_sums = positive.sum(axis=1, keepdims=True)
        empty = row_sums[:, 0] == 0
        proba = np.where(empty[:, np.newaxis], 1.0, positive)
        row_sums[empty] = self.classes_.size
        proba /= row_sums
        return positive, proba

    @available_if(_estimators_have("decision_function"))
    def decision_function(self, X):
        """Decision values of the per-class classifiers.

        Available when the base estimator has ``decision_function``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Column k is the decision value of the classifier "class k against
            the rest". With two classes, the decision value of the single
            classifier (positive for `classes_[1]`), shape (n_samples,).
            When the base estimator also has ``predict_proba``, ``predict``
            follows the probabilities: the argmax of the decision values
            agrees with it whenever the base's probabilities are one
            increasing function of its decision values (logistic models, the
            package's classifiers), up to probabilities that round to the
            same float; not for Platt-scaled ``SVC(probability=True)``.
        """
        scores, _ = self._sub_scores(X)
        return scores[:, 0] if self.classes_.size == 2 else scores

    @available_if(_estimators_have("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities: the positive-class probabilities, normalised.

        Available when the base estimator has ``predict_proba``. A row where
        every classifier gives probability 0 gets uniform probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one, columns ordered as `classes_`. With two classes,
            the single classifier's ``predict_proba``.
        """
        return self._probabilities(self._validate_for_predict(X))[1]


class OneVsOneClassifier(_BaseReduction):
    """One-vs-one multiclass classifier.

    Trains one binary classifier per pair of classes (i, j), i < j, on the
    samples of these two classes only. When the base estimator has
    ``predict_proba``, it predicts by default the class of highest
    probability after pairwise coupling (Wu, Lin & Weng [1]_), so that
    ``predict`` is the argmax of ``predict_proba``; otherwise, and on request
    (`voting`), by majority vote with scikit-learn's ``decision_function``:
    votes plus summed confidences mapped into (-1/3, 1/3). With two classes,
    a single classifier is trained on the original problem.

    Parameters
    ----------
    estimator : estimator object, default=None
        The binary classifier to clone for each pair; it must implement
        ``fit``. For the votes, its confidence is read from
        ``decision_function`` when it has one, else from ``predict_proba``
        (else from ``predict``); its vote is that score's side of the
        threshold (0, or 0.5 for probabilities). ``None`` means
        :class:`~sklearn_mcnn.SoftmaxClassifier()`, whose ``alpha=1e-4``
        gives a pair of total sample weight ``S`` the optimum of
        ``LogisticRegression(C=2 / (1e-4 * S))``: less regularised than
        scikit-learn's ``OneVsOneClassifier(LogisticRegression())``, which
        has ``C=1`` on every pair (see the user guide, "Regularisation of
        the sub-problems").

    voting : {'auto', 'proba', 'confidence', 'random'}, default='auto'
        How ``predict`` chooses the class.

        - ``'proba'``: the argmax of :meth:`predict_proba`, the pairwise
          coupling of the pair classifiers' probabilities; needs a base
          estimator with ``predict_proba``. :meth:`decision_function` then
          returns the log of these probabilities.
        - ``'confidence'``: the majority vote, ties broken by the largest
          summed confidence, i.e. the argmax of :meth:`decision_function`
          (scikit-learn's ``OneVsOneClassifier`` rule).
        - ``'random'``: the majority vote, ties broken uniformly at random
          among the tied classes, with draws from `random_state`.
        - ``'auto'``: ``'proba'`` when the base estimator has
          ``predict_proba``, else ``'confidence'``.

        With two classes, ``'proba'`` is the argmax of the single
        classifier's ``predict_proba``, and the votes its side of the
        threshold.

        .. versionadded:: 0.2

    tie_break : {'confidence', 'random'}, default='deprecated'
        Former name of the vote rules: ``tie_break='confidence'`` is
        ``voting='confidence'``, ``tie_break='random'`` is
        ``voting='random'``. Setting it together with a `voting` other than
        ``'auto'`` is an error.

        .. deprecated:: 0.2
            `tie_break` was deprecated in 0.2 and will be removed in 0.3;
            use `voting`.

    n_jobs : int, default=None
        Number of jobs fitting the pair classifiers in parallel, through
        joblib (any joblib backend, e.g. dask's, spreads the fits). ``None``
        means 1 unless in a :func:`joblib.parallel_backend` context, ``-1``
        all processors. The model does not depend on `n_jobs`.

    random_state : int, RandomState instance or None, default=None
        Seeds the sub-estimators: every ``random_state`` parameter of each
        clone (nested ones included) is set to an integer drawn from it, so a
        fixed `random_state` fixes the whole model, whatever the base
        estimator's own ``random_state``. Also the source of the draws of
        ``voting='random'`` (an int gives the same predictions at every
        call).

    Attributes
    ----------
    estimators_ : list of estimators
        The ``n_classes * (n_classes - 1) / 2`` fitted pair classifiers, in
        the order of ``itertools.combinations(range(n_classes), 2)``; the
        classifier of (i, j) predicts 1 for class j. A pair whose training
        samples (with positive weight) hold one class gets a constant
        predictor.

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    pairwise_indices_ : list of ndarray or None
        Row indices of each pair's training samples when the base estimator
        takes a precomputed kernel (``pairwise`` tag), else ``None``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    OneVsAllClassifier : One classifier per class.
    sklearn.multiclass.OneVsOneClassifier : The reduction in scikit-learn.

    References
    ----------
    .. [1] T.-F. Wu, C.-J. Lin and R. C. Weng, "Probability estimates for
       multi-class classification by pairwise coupling", Journal of Machine
       Learning Research 5, 975-1005, 2004.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_mcnn import OneVsOneClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = OneVsOneClassifier(LogisticRegression(max_iter=1000)).fit(X, y)
    >>> len(clf.estimators_)
    3
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> clf.predict_proba(X[[0]]).round(1)
    array([[1., 0., 0.]])
    >>> bool((clf.predict(X) == clf.classes_[clf.predict_proba(X).argmax(1)]).all())
    True
    >>> vote = OneVsOneClassifier(LogisticRegression(max_iter=1000),
    ...                           voting="confidence").fit(X, y)
    >>> vote.decision_function(X[[0]]).round(1)
    array([[ 2.3,  1.3, -0.3]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit"]), None],
        "voting": [StrOptions({"auto", "proba", "confidence", "random"})],
        "tie_break": [
            StrOptions({"confidence", "random"}),
            Hidden(StrOptions({"deprecated"})),
        ],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        voting="auto",
        tie_break="deprecated",
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.voting = voting
        self.tie_break = tie_break
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _voting_rule(self, reference=None):
        """The rule `voting` (or the deprecated `tie_break`) designates.

        ``'auto'`` resolves against `reference` (by default, a fitted
        sub-estimator, else the base estimator). Returns one of ``'proba'``,
        ``'confidence'``, ``'random'``.
        """
        voting = self.voting
        if self.tie_break != "deprecated":
            if voting != "auto":
                raise ValueError(
                    f"Both voting={voting!r} and the deprecated "
                    f"tie_break={self.tie_break!r} are set; set voting only."
                )
            voting = self.tie_break
        if voting == "auto":
            if reference is None:
                reference = self._reference_estimator()
            voting = "proba" if hasattr(reference, "predict_proba") else "confidence"
        return voting

    def _check_voting(self):
        """Validate `voting` and `tie_break` before a fit (and warn)."""
        base = self._base_estimator()
        voting = self._voting_rule(reference=base)
        if self.tie_break != "deprecated":
            warnings.warn(
                "`tie_break` was deprecated in 0.2 and will be removed in 0.3; "
                f"use `voting` (here voting={self.tie_break!r}).",
                FutureWarning,
                # user code -> restore_on_failure -> _fit_context -> fit
                stacklevel=5,
            )
        if voting == "proba" and not hasattr(base, "predict_proba"):
            raise ValueError(
                f"voting='proba' needs a base estimator with predict_proba; "
                f"{type(base).__name__} has none. Use voting='confidence' or "
                "'auto'."
            )

    def _subproblems(self, y_encoded, classes):
        """Yield ``(row indices, binary labels, side names)`` for each pair."""
        for i, j in itertools.combinations(range(classes.size), 2):
            indices = np.flatnonzero((y_encoded == i) | (y_encoded == j))
            y_binary = (y_encoded[indices] == j).astype(np.intp)
            yield indices, y_binary, (_label_name(classes[i]), _label_name(classes[j]))

    def _store_subproblem_indices(self, indices):
        pairwise = get_tags(self._base_estimator()).input_tags.pairwise
        self.pairwise_indices_ = indices if pairwise else None

    def predict(self, X):
        """Predict class labels: coupled probabilities or the pairs' votes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of highest coupled probability (``voting='proba'``,
            the default when the base estimator has ``predict_proba``), or
            the class with the most votes, ties broken as `voting` says.
            Always the argmax of :meth:`decision_function`, except for the
            random tie-break.
        """
        voting = self._voting_rule()
        if voting == "proba":
            proba = self._coupled_proba(self._validate_for_predict(X))
            return self.classes_[proba.argmax(axis=1)]
        scores, threshold = self._sub_scores(X)
        if self.classes_.size == 2:
            return self._predict_binary(scores, threshold)
        votes, decision = _ovo_votes(scores, threshold, self.classes_.size,
                                     self._untrained_pairs())
        best = decision.argmax(axis=1)
        if voting == "random":
            tied = votes == votes.max(axis=1, keepdims=True)
            best = _random_pick(tied, best, self.random_state)
        return self.classes_[best]

    def decision_function(self, X):
        """Class scores whose argmax is ``predict`` (see `voting`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        decision : ndarray of shape (n_samples, n_classes) or (n_samples,)
            With ``voting='proba'``: the log of the coupled probabilities
            (:meth:`predict_proba`), a probability 0 counting as the smallest
            positive float, so that the scores stay finite (about -708 in
            float64). With the vote rules, scikit-learn's: for each class,
            its number of votes plus its summed confidence ``s`` mapped to
            ``s / (3 * (|s| + 1))``. With two classes, shape (n_samples,),
            positive for `classes_[1]` and agreeing with ``predict``: the
            log-odds ``log(p_1) - log(p_0)`` of the single classifier's
            probabilities (``'proba'``), or its score minus its threshold.
        """
        if self._voting_rule() == "proba":
            proba = self._coupled_proba(self._validate_for_predict(X))
            log_proba = np.log(np.maximum(proba, np.finfo(proba.dtype).tiny))
            if self.classes_.size == 2:
                return log_proba[:, 1] - log_proba[:, 0]
            return log_proba
        scores, threshold = self._sub_scores(X)
        if self.classes_.size == 2:
            return scores[:, 0] - threshold
        return _ovo_votes(scores, threshold, self.classes_.size,
                          self._untrained_pairs())[1]

    def _untrained_pairs(self):
        """Indices of the pairs no partial_fit batch has reached yet."""
        return {k for k, estimator in enumerate(self.estimators_)
                if isinstance(estimator, _UntrainedPair)}

    def _coupled_proba(self, X):
        """Class probabilities from the pair classifiers (validated `X`)."""
        if self.classes_.size == 2:
            return self.estimators_[0].predict_proba(self._estimator_inputs(X)[0])
        return _pairwise_coupling(self._positive_scores(X, "predict_proba"),
                                  self.classes_.size)

    @available_if(_estimators_have("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities by pairwise coupling (Wu, Lin & Weng 2004).

        Available when the base estimator has ``predict_proba``. Each pair's
        classifier estimates ``r_ij = P(y = i | y in {i, j}, x)``; the class
        probabilities ``p`` minimise
        ``sum_i sum_{j != i} (r_ji p_i - r_ij p_j) ** 2`` subject to
        ``sum(p) = 1`` (Wu, Lin & Weng 2004, their second method), one small
        linear system per row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one, columns ordered as `classes_`. With two classes,
            the single classifier's ``predict_proba``. Its argmax is
            ``predict`` under ``voting='proba'`` (the default).
        """
        return self._coupled_proba(self._validate_for_predict(X))
