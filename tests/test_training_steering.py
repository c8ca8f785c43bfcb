"""Training you can watch and steer (issue 14, the driver's part).

- validation data the user chooses, ``fit(..., X_val=, y_val=,
  sample_weight_val=)``, checked against HistGradientBoostingClassifier's
  behaviour (its error messages, its metadata-routing requests) and routed
  through GridSearchCV and Pipeline; ``partial_fit``'s held-out monitor;
- what early stopping watches (``scoring``), checked against scikit-learn's
  metrics, and ``validation_loss_curve_`` against ``sklearn.metrics.log_loss``
  of the predictions plus the L2 term;
- cosine annealing with warm restarts against
  ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` and its closed
  form, and the rates a fit actually trains with;
- ``lr_range_test`` and the two displays (matplotlib's Agg backend);
- scikit-learn's ProgressBar callback, and the verbose line's latency;
- the failed-call invariant for every refused validation input (helpers as
  in test_failed_calls.py).
"""

import itertools
import math
import pickle
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, f1_score, log_loss, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    OutputCodeClassifier,
    SoftmaxClassifier,
    TournamentClassifier,
    _training,
)
from sklearn_mcnn._training import cosine_warm_restarts
from sklearn_mcnn.utils import _steepest_descent, lr_range_test

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def split_digits():
    """Scaled digits: 1400 training rows, 397 validation rows."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def _snapshot(est, X):
    """Everything observable of a fitted estimator (as test_failed_calls.py)."""
    return pickle.dumps(est), est.predict_proba(X), est.predict(X)


def _assert_unchanged(est, X, before):
    blob, proba, labels = before
    assert pickle.dumps(est) == blob
    assert_array_equal(est.predict_proba(X), proba)
    assert_array_equal(est.predict(X), labels)


def _penalty(est):
    coefs = est.coefs_ if hasattr(est, "coefs_") else [est.coef_]
    return 0.5 * est.alpha * sum(float(np.sum(np.asarray(c, float) ** 2))
                                 for c in coefs)


def _mlp(**params):
    return MLPBackpropClassifier(**{"hidden_layer_sizes": (16,),
                                    "learning_rate_init": 0.01,
                                    "random_state": 0, **params})


# =========================================================================
# Validation data the user chooses
# =========================================================================

def test_fit_signature_is_hist_gradient_boosting_s():
    import inspect

    ours = inspect.signature(SoftmaxClassifier.fit).parameters
    theirs = inspect.signature(HistGradientBoostingClassifier.fit).parameters
    # Plus ``classes`` (issue 16: a dask y's labels encoded as its blocks
    # are first read), keyword-only; partial_fit has it too.
    assert [name for name in ours if name != "classes"] == list(theirs)
    assert ours["classes"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ours["classes"].default is None
    for name in ("X_val", "y_val", "sample_weight_val"):
        assert ours[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert ours[name].default is None
    partial = inspect.signature(SoftmaxClassifier.partial_fit).parameters
    assert list(partial)[-3:] == ["X_val", "y_val", "sample_weight_val"]


@pytest.mark.parametrize("given", [("X_val",), ("y_val",)])
def test_half_the_validation_data_is_refused_as_hist_gradient_boosting(
        given, split_digits):
    X, y, X_val, y_val = split_digits
    kwargs = {"X_val": X_val, "y_val": y_val}
    kwargs = {k: kwargs[k] for k in given}
    with pytest.raises(ValueError) as theirs:
        HistGradientBoostingClassifier(early_stopping=True, max_iter=2).fit(
            X, y, **kwargs)
    with pytest.raises(ValueError) as ours:
        _mlp(early_stopping=True, max_iter=2).fit(X, y, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_validation_data_without_early_stopping_is_refused(split_digits):
    X, y, X_val, y_val = split_digits
    for est in (HistGradientBoostingClassifier(early_stopping=False),
                _mlp(early_stopping=False)):
        with pytest.raises(ValueError, match="early_stopping is False"):
            est.fit(X, y, X_val=X_val, y_val=y_val)


def test_metadata_requests_as_hist_gradient_boosting():
    with sklearn.config_context(enable_metadata_routing=True):
        for est in (HistGradientBoostingClassifier(), SoftmaxClassifier()):
            est.set_fit_request(X_val=True, y_val=True, sample_weight_val=True)
            requests = est.get_metadata_routing().fit.requests
            assert {k: v for k, v in requests.items() if k.endswith("_val")} == {
                "X_val": True, "y_val": True, "sample_weight_val": True}
        assert SoftmaxClassifier().set_partial_fit_request(
            X_val=True).get_metadata_routing().partial_fit.requests["X_val"]


def test_early_stopping_on_given_validation_data(split_digits):
    """All of X trains (no split); the kept weights are those of the best
    validation accuracy, which sklearn's accuracy_score confirms."""
    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, max_iter=60).fit(X, y, X_val=X_val,
                                                     y_val=y_val)
    assert clf.t_ == clf.n_iter_ * X.shape[0]
    assert len(clf.validation_scores_) == clf.n_iter_
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_validation_score_ == pytest.approx(
        accuracy_score(y_val, clf.predict(X_val)), abs=1e-12)
    # Without X_val, a tenth of X is held out.
    split = _mlp(early_stopping=True, max_iter=3).fit(X, y)
    assert split.t_ == 3 * (X.shape[0] - math.ceil(0.1 * X.shape[0]))


def test_weighted_validation_score(split_digits):
    X, y, X_val, y_val = split_digits
    sw_val = np.random.RandomState(0).uniform(0, 3, size=y_val.size)
    clf = _mlp(early_stopping=True, max_iter=40).fit(
        X, y, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    assert clf.best_validation_score_ == pytest.approx(
        accuracy_score(y_val, clf.predict(X_val), sample_weight=sw_val),
        abs=1e-12)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.validation_loss_curve_[best] == pytest.approx(
        log_loss(y_val, clf.predict_proba(X_val), sample_weight=sw_val)
        + _penalty(clf), rel=1e-10)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_validation_loss_is_log_loss_plus_penalty(batch_norm, split_digits):
    """At the kept (best) weights, the recorded validation objective is
    sklearn's log_loss of predict_proba plus the L2 term: inference outputs,
    batch norm's running statistics."""
    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, max_iter=30, batch_norm=batch_norm,
               alpha=1e-2).fit(X, y, X_val=X_val, y_val=y_val)
    best = int(np.argmax(clf.validation_scores_))
    expected = log_loss(y_val, clf.predict_proba(X_val)) + _penalty(clf)
    assert clf.validation_loss_curve_[best] == pytest.approx(expected, rel=1e-10)


def test_validation_loss_of_the_squared_error(split_digits):
    X, y, X_val, y_val = split_digits
    clf = _mlp(loss="squared_error", early_stopping=True, max_iter=20).fit(
        X, y, X_val=X_val, y_val=y_val)
    best = int(np.argmax(clf.validation_scores_))
    onehot = (y_val[:, None] == clf.classes_).astype(float)
    expected = np.mean(np.sum((clf.decision_function(X_val) - onehot) ** 2,
                              axis=1)) + _penalty(clf)
    assert clf.validation_loss_curve_[best] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_validation_loss_on_the_training_rows_is_the_objective(solver,
                                                                label_smoothing,
                                                                loss):
    """On the training rows themselves, the validation objective of the
    final model equals the L-BFGS objective (the Cython loss_grad) there,
    label smoothing included."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MLPBackpropClassifier((), solver=solver, max_iter=3, loss=loss,
                                label_smoothing=label_smoothing, random_state=0)
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2], X_val=X, y_val=y)
    objective = clf._training_objective(X, y)
    grad = np.empty_like(objective.params)
    assert clf.validation_loss_curve_[-1] == pytest.approx(
        objective.evaluate(objective.params, grad), rel=1e-12)


def test_monitoring_does_not_change_training(split_digits):
    """partial_fit with X_val trains bit for bit as without it (the
    validation pass touches neither the weights nor batch norm's running
    statistics nor the random state)."""
    X, y, X_val, y_val = split_digits
    plain, watched = _mlp(batch_norm=True), _mlp(batch_norm=True)
    classes = np.unique(y)
    for _ in range(3):
        plain.partial_fit(X, y, classes=classes)
        watched.partial_fit(X, y, classes=classes, X_val=X_val, y_val=y_val)
    for a, b in zip(plain.coefs_ + plain.running_means_ + plain.running_vars_,
                    watched.coefs_ + watched.running_means_ + watched.running_vars_):
        assert_array_equal(a, b)
    assert plain.loss_curve_ == watched.loss_curve_
    assert plain.validation_scores_ is None
    assert len(watched.validation_scores_) == 3
    assert len(watched.validation_loss_curve_) == 3
    assert watched.validation_scores_[-1] == pytest.approx(
        accuracy_score(y_val, watched.predict(X_val)), abs=1e-12)
    assert watched.validation_loss_curve_[-1] == pytest.approx(
        log_loss(y_val, watched.predict_proba(X_val)) + _penalty(watched),
        rel=1e-10)


def test_validation_data_with_feature_names(split_digits):
    pd = pytest.importorskip("pandas")
    X, y, X_val, y_val = split_digits
    columns = [f"f{i}" for i in range(X.shape[1])]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        clf = _mlp(early_stopping=True, max_iter=5, scoring="f1_macro").fit(
            pd.DataFrame(X, columns=columns), y,
            X_val=pd.DataFrame(X_val, columns=columns), y_val=y_val)
    assert len(clf.validation_scores_) == 5
    with pytest.raises(ValueError, match="feature names"):
        clf.fit(pd.DataFrame(X, columns=columns), y,
                X_val=pd.DataFrame(X_val, columns=columns[::-1]), y_val=y_val)


def test_float32_and_sparse_validation_data(split_digits):
    import scipy.sparse as sp

    X, y, X_val, y_val = split_digits
    dense = _mlp(early_stopping=True, max_iter=4).fit(
        X.astype(np.float32), y, X_val=X_val, y_val=y_val)
    assert dense.coefs_[0].dtype == np.float32
    sparse = _mlp(early_stopping=True, max_iter=4).fit(
        sp.csr_matrix(X.astype(np.float32)), y, X_val=sp.csr_matrix(X_val),
        y_val=y_val)
    assert_allclose(sparse.validation_loss_curve_, dense.validation_loss_curve_,
                    rtol=1e-4)


def test_grid_search_routes_validation_data(split_digits):
    """GridSearchCV passes X_val, y_val whole to each candidate (they are
    not sample-aligned with X), by metadata routing."""
    X, y, X_val, y_val = split_digits
    with sklearn.config_context(enable_metadata_routing=True):
        est = _mlp(early_stopping=True, max_iter=15).set_fit_request(
            X_val=True, y_val=True, sample_weight_val=True)
        sw_val = np.linspace(0.5, 1.5, y_val.size)
        search = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=2).fit(
            X, y, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    best = search.best_estimator_
    assert best.t_ == best.n_iter_ * X.shape[0]     # no split of X
    assert best.best_validation_score_ == pytest.approx(
        accuracy_score(y_val, best.predict(X_val), sample_weight=sw_val),
        abs=1e-12)


def test_pipeline_transforms_validation_data():
    """Pipeline(transform_input=["X_val"]) scales X_val as X: the score
    early stopping recorded is that of the pipeline on the raw X_val."""
    X, y = load_digits(return_X_y=True)     # unscaled (0..16)
    X, X_val, y, y_val = X[:1400], X[1400:], y[:1400], y[1400:]
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [("scale", StandardScaler()),
             ("clf", _mlp(early_stopping=True, max_iter=15).set_fit_request(
                 X_val=True, y_val=True))],
            transform_input=["X_val"],
        ).fit(X, y, X_val=X_val, y_val=y_val)
    clf = pipe[-1]
    assert clf.t_ == clf.n_iter_ * X.shape[0]
    assert clf.best_validation_score_ == pytest.approx(pipe.score(X_val, y_val),
                                                       abs=1e-12)


@pytest.mark.parametrize("learning_rate_init", [0.5, 0.002])
def test_warm_start_keeps_the_best_weights_it_knows(split_digits,
                                                    learning_rate_init):
    """A warm-started fit with early stopping ends on the best weights on
    its validation data, the starting ones included: when no epoch beats
    them (a rate too large), the model is left as it was, and
    best_validation_score_ is the score of the returned weights either way.
    (MLPClassifier keeps the last epoch's weights while reporting the last
    fit's best score.)"""
    X, y, X_val, y_val = split_digits
    est = _mlp(solver="sgd", learning_rate_init=0.05, early_stopping=True,
               max_iter=20).fit(X, y, X_val=X_val, y_val=y_val)
    before = [w.copy() for w in est.coefs_]
    first_best = est.best_validation_score_
    est.set_params(warm_start=True, learning_rate_init=learning_rate_init,
                   max_iter=4)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    returned = accuracy_score(y_val, est.predict(X_val))
    assert est.best_validation_score_ == pytest.approx(returned, abs=1e-12)
    assert est.best_validation_score_ >= first_best - 1e-12
    new_scores = est.validation_scores_[-4:]
    if max(new_scores) <= first_best:
        for w, w0 in zip(est.coefs_, before, strict=True):
            assert_array_equal(w, w0)
    else:
        assert est.best_validation_score_ == max(new_scores)


class _RecordingSoftmax(SoftmaxClassifier):
    """SoftmaxClassifier that keeps what its ``fit``/``partial_fit`` got."""

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        self.seen_ = (X, y, sample_weight, X_val, y_val, sample_weight_val)
        return super().fit(X, y, sample_weight, X_val=X_val, y_val=y_val,
                           sample_weight_val=sample_weight_val)

    def partial_fit(self, X, y, classes=None, sample_weight=None, *, X_val=None,
                    y_val=None, sample_weight_val=None):
        self.seen_ = (X, y, sample_weight, X_val, y_val, sample_weight_val)
        return super().partial_fit(X, y, classes, sample_weight, X_val=X_val,
                                   y_val=y_val, sample_weight_val=sample_weight_val)


_REDUCTIONS = {
    "one-vs-all": lambda base: OneVsAllClassifier(base),
    "one-vs-one": lambda base: OneVsOneClassifier(base),
    "ecoc-sparse": lambda base: OutputCodeClassifier(base, code="sparse",
                                                     n_trials=3, random_state=0),
    "filter-tree": lambda base: TournamentClassifier(base),
    "ect": lambda base: TournamentClassifier(base, n_errors=1),
}


def _recording_base(**params):
    return _RecordingSoftmax(solver="sgd", max_iter=3, early_stopping=True,
                             n_iter_no_change=50, random_state=0,
                             **params).set_fit_request(
        sample_weight=True, X_val=True, y_val=True, sample_weight_val=True)


@pytest.mark.parametrize("name", _REDUCTIONS)
def test_reductions_route_each_subproblem_its_validation_rows(name):
    """With X_val = X, y_val = y, sample_weight_val = sample_weight, the
    validation rows each sub-estimator gets are exactly its training rows
    with its training labels: the sub-problems' layout (one-vs-one's pairs,
    the code book's zero entries, the tournament's filtering through the
    nodes already trained) is applied to the validation rows in step."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sw = np.linspace(0.2, 2.0, y.size)
    with sklearn.config_context(enable_metadata_routing=True):
        reduction = _REDUCTIONS[name](_recording_base()).fit(
            X, y, sample_weight=sw, X_val=X, y_val=y, sample_weight_val=sw)
    trained = [e for e in reduction.estimators_ if hasattr(e, "seen_")]
    assert len(trained) >= 2
    for estimator in trained:
        X_sub, y_sub, sw_sub, X_val, y_val, sw_val = estimator.seen_
        assert_array_equal(X_val, X_sub)
        assert_array_equal(y_val, y_sub)
        assert_array_equal(sw_val, sw_sub)
        assert set(np.unique(y_val)) <= {0, 1}
        # the sub-estimator watched them: its training was all of X_sub
        assert estimator.t_ == estimator.n_iter_ * X_sub.shape[0]


def test_one_vs_one_validation_equals_fitting_each_pair_by_hand(split_digits):
    """One-vs-one with routed validation data trains each pair exactly as a
    binary SoftmaxClassifier given that pair's rows of X and X_val."""
    X, y, X_val, y_val = split_digits
    X, y = X[y < 4], y[y < 4]
    X_val, y_val = X_val[y_val < 4], y_val[y_val < 4]
    base = SoftmaxClassifier(solver="sgd", max_iter=20, early_stopping=True,
                             n_iter_no_change=3, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        ovo = OneVsOneClassifier(
            base.set_fit_request(X_val=True, y_val=True)).fit(
            X, y, X_val=X_val, y_val=y_val)
    for (i, j), estimator in zip(itertools.combinations(range(4), 2),
                                 ovo.estimators_, strict=True):
        rows, val_rows = np.isin(y, (i, j)), np.isin(y_val, (i, j))
        # (the reduction seeds each sub-estimator; the pair's seed is kept)
        by_hand = clone(base).set_params(random_state=estimator.random_state)
        by_hand.fit(X[rows], (y[rows] == j).astype(int),
                    X_val=X_val[val_rows],
                    y_val=(y_val[val_rows] == j).astype(int))
        assert_array_equal(estimator.coef_, by_hand.coef_)
        assert estimator.n_iter_ == by_hand.n_iter_
        assert_array_equal(estimator.validation_scores_,
                           by_hand.validation_scores_)


def test_reductions_route_validation_data_to_partial_fit():
    """partial_fit's held-out monitor: each sub-estimator's curve holds the
    score of its own validation rows."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with sklearn.config_context(enable_metadata_routing=True):
        base = SoftmaxClassifier(solver="sgd", random_state=0)
        ovo = OneVsOneClassifier(base.set_partial_fit_request(X_val=True, y_val=True))
        for _ in range(2):
            ovo.partial_fit(X[::2], y[::2], classes=[0, 1, 2],
                            X_val=X[1::2], y_val=y[1::2])
    X_val, y_val = X[1::2], y[1::2]
    for (i, j), estimator in zip(itertools.combinations(range(3), 2),
                                 ovo.estimators_, strict=True):
        rows = np.isin(y_val, (i, j))
        assert len(estimator.validation_scores_) == 2
        assert estimator.validation_scores_[-1] == pytest.approx(
            estimator.score(X_val[rows], (y_val[rows] == j).astype(int)))


@pytest.mark.parametrize(
    "params, message",
    [({"y_val": np.array([0, 1, 7])}, "y_val contains labels that are not"),
     ({"y_val": np.array(["a", "b", "c"])}, "y_val"),
     ({"y_val": np.array([0, 1])}, "inconsistent numbers of samples"),
     ({"sample_weight_val": -np.ones(3)}, "Negative values"),
     ({"X_val": np.ones((3, 2))}, "features"),
     ({"y_val": None}, "X_val is provided, but y_val was not provided")])
def test_reductions_refuse_bad_validation_data(params, message):
    """Refused before any sub-problem trains, and a fitted reduction keeps
    its model (the failed-call invariant)."""
    X, y = load_iris(return_X_y=True)
    base = SoftmaxClassifier(solver="sgd", max_iter=3, early_stopping=True,
                             random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        ovo = OneVsOneClassifier(base.set_fit_request(
            X_val=True, y_val=True, sample_weight_val=True)).fit(X, y)
        before = _snapshot(ovo, X)
        fit_params = {"X_val": X[:3], "y_val": y[:3], **params}
        with pytest.raises(ValueError, match=message):
            ovo.fit(X, y, **fit_params)
    _assert_unchanged(ovo, X, before)


# =========================================================================
# What early stopping watches
# =========================================================================

def test_default_scoring_is_accuracy(split_digits):
    X, y, _, _ = split_digits
    default = _mlp(early_stopping=True, max_iter=10).fit(X, y)
    named = _mlp(early_stopping=True, max_iter=10, scoring="accuracy").fit(X, y)
    assert default.validation_scores_ == named.validation_scores_
    assert default.validation_loss_curve_ == named.validation_loss_curve_
    assert_array_equal(default.coefs_[0], named.coefs_[0])


def test_scoring_loss_watches_the_validation_objective(split_digits):
    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, scoring="loss", max_iter=200,
               n_iter_no_change=3).fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.validation_scores_ == [-v for v in clf.validation_loss_curve_]
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.best_validation_score_ == -clf.validation_loss_curve_[best]
    assert clf.n_iter_ < 200        # it stopped on the validation loss
    # The kept weights are those of the lowest validation objective.
    assert log_loss(y_val, clf.predict_proba(X_val)) + _penalty(clf) == \
        pytest.approx(clf.validation_loss_curve_[best], rel=1e-10)


@pytest.mark.parametrize("scoring", [
    "f1_macro",
    make_scorer(f1_score, average="macro"),
    lambda est, X, y: f1_score(y, est.predict(X), average="macro"),
], ids=["name", "scorer", "callable"])
def test_scoring_by_scorer(scoring, split_digits):
    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, max_iter=25, scoring=scoring).fit(
        X, y, X_val=X_val, y_val=y_val)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_validation_score_ == pytest.approx(
        f1_score(y_val, clf.predict(X_val), average="macro"), abs=1e-12)


def test_weighted_scorer_gets_the_validation_weights(split_digits):
    X, y, X_val, y_val = split_digits
    sw_val = np.where(y_val < 5, 3.0, 1.0)
    clf = _mlp(early_stopping=True, max_iter=10, scoring="f1_macro").fit(
        X, y, X_val=X_val, y_val=y_val, sample_weight_val=sw_val)
    assert clf.best_validation_score_ == pytest.approx(
        f1_score(y_val, clf.predict(X_val), average="macro",
                 sample_weight=sw_val), abs=1e-12)


# =========================================================================
# The failed-call invariant
# =========================================================================

REFUSED_VALIDATION = {
    "X_val-without-y_val": (
        {}, lambda Xv, yv: {"X_val": Xv}, "y_val was not provided"),
    "y_val-without-X_val": (
        {}, lambda Xv, yv: {"y_val": yv}, "X_val was not provided"),
    "weights-without-X_val": (
        {}, lambda Xv, yv: {"sample_weight_val": np.ones(len(yv))},
        "X_val and y_val were not provided"),
    "fewer-features": (
        {}, lambda Xv, yv: {"X_val": Xv[:, :3], "y_val": yv}, "features"),
    "short-y_val": (
        {}, lambda Xv, yv: {"X_val": Xv, "y_val": yv[:-1]}, "inconsistent"),
    "unknown-label": (
        {}, lambda Xv, yv: {"X_val": Xv, "y_val": np.where(yv == 1, 42, yv)},
        r"y_val contains labels \[42\]"),
    "nan-in-X_val": (
        {}, lambda Xv, yv: {"X_val": np.where(Xv > 1, np.nan, Xv), "y_val": yv},
        "NaN"),
    "negative-weights": (
        {}, lambda Xv, yv: {"X_val": Xv, "y_val": yv,
                            "sample_weight_val": -np.ones(len(yv))},
        "Negative values in sample_weight_val"),
    "zero-weights": (
        {}, lambda Xv, yv: {"X_val": Xv, "y_val": yv,
                            "sample_weight_val": np.zeros(len(yv))}, "all zero"),
    "short-weights": (
        {}, lambda Xv, yv: {"X_val": Xv, "y_val": yv,
                            "sample_weight_val": np.ones(3)}, "sample_weight"),
    "too-large-for-float32": (
        {}, lambda Xv, yv: {"X_val": Xv * 1e300, "y_val": yv}, "range of float32"),
    "no-early-stopping": (
        {"early_stopping": False}, lambda Xv, yv: {"X_val": Xv, "y_val": yv},
        "early_stopping is False"),
    "lbfgs": (
        {"solver": "lbfgs"}, lambda Xv, yv: {"X_val": Xv, "y_val": yv},
        "stochastic solver"),
    "unknown-scorer": (
        {"scoring": "no_such_metric"}, lambda Xv, yv: {"X_val": Xv, "y_val": yv},
        "no_such_metric"),
}


# partial_fit monitors X_val without early stopping, and has no lbfgs.
@pytest.mark.parametrize("method, case", [
    (method, case) for method in ("fit", "partial_fit")
    for case in REFUSED_VALIDATION
    if method == "fit" or case not in ("no-early-stopping", "lbfgs")])
def test_refused_validation_data_changes_nothing(method, case, split_digits):
    X, y, X_val, y_val = split_digits
    params, make_kwargs, match = REFUSED_VALIDATION[case]
    est = _mlp(early_stopping=True, max_iter=3)
    if method == "fit":
        est.fit(X.astype(np.float32), y, X_val=X_val, y_val=y_val)
    else:
        est.partial_fit(X.astype(np.float32), y, classes=np.unique(y),
                        X_val=X_val, y_val=y_val)
    before = _snapshot(est, X_val)
    est.set_params(**params)
    kwargs = make_kwargs(X_val, y_val)
    with pytest.raises(ValueError, match=match):
        if method == "fit":
            est.fit(X.astype(np.float32), y, **kwargs)
        else:
            est.partial_fit(X.astype(np.float32), y, **kwargs)
    est.set_params(**{k: getattr(_mlp(early_stopping=True), k) for k in params})
    _assert_unchanged(est, X_val, before)


@pytest.mark.parametrize("case", ["X_val-without-y_val", "unknown-label",
                                  "fewer-features", "unknown-scorer"])
def test_refused_first_fit_stays_unfitted(case, split_digits):
    X, y, X_val, y_val = split_digits
    params, make_kwargs, match = REFUSED_VALIDATION[case]
    est = _mlp(early_stopping=True, max_iter=3, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, **make_kwargs(X_val, y_val))
    assert vars(est) == vars(_mlp(early_stopping=True, max_iter=3, **params))


@pytest.mark.parametrize("params", [
    {"cosine_period": 0}, {"cosine_period": 2.5}, {"cosine_period_mult": 0},
    {"scoring": 3},
])
def test_refused_new_hyperparameters(params, split_digits):
    X, y, _, _ = split_digits
    with pytest.raises(ValueError, match=next(iter(params))):
        _mlp(**params).fit(X, y)


# =========================================================================
# Cosine annealing with warm restarts
# =========================================================================

SCHEDULES = [(5, 1), (3, 2), (4, 3), (1, 2), (7, 1)]


def _closed_form(epoch, period, mult):
    """SGDR's closed form (Loshchilov & Hutter 2017, and torch's docs)."""
    if mult == 1:
        t_cur, t_i = epoch % period, period
    else:
        n = math.floor(math.log(epoch / period * (mult - 1) + 1, mult))
        t_cur = epoch - period * (mult**n - 1) / (mult - 1)
        t_i = period * mult**n
    return 0.5 * (1 + math.cos(math.pi * t_cur / t_i))


@pytest.mark.parametrize("period, mult", SCHEDULES)
def test_cosine_warm_restarts_closed_form(period, mult):
    for epoch in range(100):
        assert cosine_warm_restarts(epoch, period, mult) == pytest.approx(
            _closed_form(epoch, period, mult), abs=1e-12)
    # Restarts are where the cycles end: the rate is back at its start.
    starts = np.cumsum([period * mult**i for i in range(4)])
    for start in starts:
        assert cosine_warm_restarts(int(start), period, mult) == 1.0


@pytest.mark.torch
@pytest.mark.parametrize("period, mult", SCHEDULES)
def test_cosine_warm_restarts_match_torch(period, mult):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=period, T_mult=mult, eta_min=0.0)
    for epoch in range(60):
        assert 0.1 * cosine_warm_restarts(epoch, period, mult) == pytest.approx(
            optimizer.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        optimizer.step()
        scheduler.step()


def _recorded_rates(monkeypatch):
    rates = []
    train_epoch = _training._network.train_epoch

    def recording(state, *args):
        rates.append(state.lr)
        return train_epoch(state, *args)

    monkeypatch.setattr(_training._network, "train_epoch", recording)
    return rates


@pytest.mark.parametrize("period, mult", [(4, 1), (2, 2), (None, 1)])
def test_fit_trains_with_the_schedule(period, mult, monkeypatch):
    X, y = load_iris(return_X_y=True)
    rates = _recorded_rates(monkeypatch)
    clf = SoftmaxClassifier(solver="sgd", learning_rate="cosine",
                            learning_rate_init=0.05, cosine_period=period,
                            cosine_period_mult=mult, max_iter=20, tol=0,
                            n_iter_no_change=100, random_state=0)
    clf.fit(StandardScaler().fit_transform(X), y)
    assert len(rates) == 20
    if period is None:      # one decay over max_iter, as before
        expected = [0.05 * 0.5 * (1 + math.cos(math.pi * e / 20))
                    for e in range(20)]
    else:
        expected = [0.05 * _closed_form(e, period, mult) for e in range(20)]
    assert_allclose(rates, expected, rtol=1e-12)
    # partial_fit goes on with the schedule (epochs counted by n_iter_).
    rates.clear()
    clf.partial_fit(StandardScaler().fit_transform(X), y)
    if period is not None:
        assert rates == pytest.approx([0.05 * _closed_form(20, period, mult)])


# =========================================================================
# The learning-rate range test
# =========================================================================

def test_lr_range_test_rates_losses_and_estimator_untouched(split_digits):
    X, y, _, _ = split_digits
    est = _mlp(solver="adam")
    before = pickle.dumps(est)
    result = lr_range_test(est, X, y, min_lr=1e-6, max_lr=1.0, n_steps=60,
                           random_state=0)
    assert pickle.dumps(est) == before
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    k = result.losses.size
    assert 10 < k <= 60
    assert_allclose(result.learning_rates,
                    np.logspace(-6, 0, 60)[:k], rtol=1e-12)
    assert np.all(np.isfinite(result.losses))
    # The smoothed losses are the bias-corrected moving average.
    average = 0.0
    for i, loss in enumerate(result.losses):
        average = 0.98 * average + 0.02 * loss
        assert result.smoothed_losses[i] == pytest.approx(
            average / (1 - 0.98 ** (i + 1)), rel=1e-12)
    assert result.learning_rates[0] <= result.suggested_learning_rate \
        <= result.learning_rates[-1]
    again = lr_range_test(est, X, y, min_lr=1e-6, max_lr=1.0, n_steps=60,
                          random_state=0)
    assert_array_equal(again.losses, result.losses)


def test_lr_range_test_stops_when_the_loss_explodes(split_digits):
    X, y, _, _ = split_digits
    result = lr_range_test(_mlp(solver="sgd"), X, y, min_lr=1e-4, max_lr=1e4,
                           n_steps=100, random_state=0)
    assert result.losses.size < 100
    last = result.smoothed_losses
    assert last[-1] > 2 * last.min() or result.losses.size < 100


def test_lr_range_test_suggestion_is_a_good_learning_rate(split_digits):
    """The suggested rate trains the network far better than a rate a
    hundred times smaller, and does not diverge."""
    X, y, X_val, y_val = split_digits
    lr = lr_range_test(_mlp(solver="sgd"), X, y, random_state=0)\
        .suggested_learning_rate
    good = _mlp(solver="sgd", learning_rate_init=lr, max_iter=10).fit(X, y)
    slow = _mlp(solver="sgd", learning_rate_init=lr / 100, max_iter=10).fit(X, y)
    assert good.loss_ < 0.5 * slow.loss_
    assert good.score(X_val, y_val) > 0.85


def test_steepest_descent_rule():
    """On a smooth curve whose steepest descent against log(lr) is known
    (loss = 2 - tanh(log10(lr) + 3): steepest at lr = 1e-3), the rule finds
    it; a curve that never descends gives a tenth of its minimum's rate."""
    rates = np.logspace(-6, 0, 121)
    loss = 2 - np.tanh(np.log10(rates) + 3)
    loss = np.r_[loss[:100], loss[99] + np.linspace(0, 5, 21)]   # explodes
    assert _steepest_descent(rates, loss, skip=5) == pytest.approx(1e-3)
    rising = np.linspace(1, 3, 121)
    assert _steepest_descent(rates, rising, skip=5) == pytest.approx(1e-7)


def test_lr_range_test_class_weight_as_fit(split_digits):
    """class_weight weighs each step's rows as fit does (over all of y): the
    same losses as the explicit sample weights of compute_class_weight."""
    from sklearn.utils.class_weight import compute_class_weight

    X, y, _, _ = split_digits
    classes = np.unique(y)
    weights = compute_class_weight("balanced", classes=classes, y=y)[y]
    balanced = lr_range_test(_mlp(class_weight="balanced"), X, y, n_steps=30,
                             random_state=0)
    explicit = lr_range_test(_mlp(), X, y, sample_weight=weights, n_steps=30,
                             random_state=0)
    assert_allclose(balanced.losses, explicit.losses, rtol=1e-12)


def test_lr_range_test_needs_a_stochastic_solver(split_digits):
    X, y, _, _ = split_digits
    with pytest.raises(ValueError, match="stochastic solver"):
        lr_range_test(SoftmaxClassifier(), X, y)
    with pytest.raises(ValueError, match="min_lr"):
        lr_range_test(_mlp(), X, y, min_lr=1.0, max_lr=0.1)


# =========================================================================
# Pictures
# =========================================================================

@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_training_curve_display(pyplot, split_digits):
    from sklearn_mcnn.inspection import TrainingCurveDisplay

    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, max_iter=40, n_iter_no_change=5).fit(
        X, y, X_val=X_val, y_val=y_val)
    fig, ax = pyplot.subplots()
    display = TrainingCurveDisplay.from_estimator(clf, ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    epochs = np.arange(1, clf.n_iter_ + 1)
    assert_array_equal(display.loss_line_.get_xdata(), epochs)
    assert_allclose(display.loss_line_.get_ydata(), clf.loss_curve_)
    assert_allclose(display.validation_loss_line_.get_ydata(),
                    clf.validation_loss_curve_)
    assert_allclose(display.validation_score_line_.get_ydata(),
                    clf.validation_scores_)
    assert display.validation_score_line_.axes is display.score_ax_
    best = 1 + int(np.argmax(clf.validation_scores_))
    assert display.best_epoch == best
    assert_array_equal(display.best_epoch_line_.get_xdata(), [best, best])
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss (objective)"
    assert display.score_ax_.get_ylabel() == "validation accuracy"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss", "validation accuracy",
                      f"best epoch ({best})"]
    fig.canvas.draw()       # renders


def test_training_curve_display_with_scoring_loss(pyplot, split_digits):
    """scoring='loss': the score is the negated validation loss, drawn once;
    the best epoch is that of the lowest validation loss."""
    from sklearn_mcnn.inspection import TrainingCurveDisplay

    X, y, X_val, y_val = split_digits
    clf = _mlp(early_stopping=True, scoring="loss", max_iter=30,
               n_iter_no_change=3).fit(X, y, X_val=X_val, y_val=y_val)
    display = TrainingCurveDisplay.from_estimator(clf)
    assert display.validation_score_line_ is None
    assert display.best_epoch == 1 + int(np.argmin(clf.validation_loss_curve_))
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training loss", "validation loss", f"best epoch ({display.best_epoch})"]


def test_training_curve_display_without_validation(pyplot):
    from sklearn_mcnn.inspection import TrainingCurveDisplay

    X, y = load_iris(return_X_y=True)
    clf = SoftmaxClassifier(max_iter=30).fit(X, y)
    display = TrainingCurveDisplay.from_estimator(clf)
    assert display.validation_loss_line_ is None
    assert display.validation_score_line_ is None and display.score_ax_ is None
    assert display.ax_.get_xlabel() == "iteration"
    assert display.best_epoch == 1 + int(np.argmin(clf.loss_curve_))
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training loss", f"best iteration ({display.best_epoch})"]


def test_training_curve_display_aligns_late_validation(pyplot):
    """Validation added by a warm start: its points sit on the last epochs."""
    from sklearn_mcnn.inspection import TrainingCurveDisplay

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = SoftmaxClassifier(solver="adam", random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(2):
        clf.partial_fit(X, y, X_val=X[::3], y_val=y[::3])
    display = TrainingCurveDisplay.from_estimator(clf)
    assert_array_equal(display.validation_loss_line_.get_xdata(), [4, 5])


def test_lr_range_test_display(pyplot, split_digits):
    from sklearn_mcnn.inspection import LRRangeTestDisplay

    X, y, _, _ = split_digits
    result = lr_range_test(_mlp(), X, y, n_steps=80, random_state=0)
    display = LRRangeTestDisplay.from_result(result)
    assert display.ax_.get_xscale() == "log"
    assert_allclose(display.loss_line_.get_xdata(), result.learning_rates)
    assert_allclose(display.loss_line_.get_ydata(), result.losses)
    assert_allclose(display.smoothed_loss_line_.get_ydata(),
                    result.smoothed_losses)
    assert display.suggestion_line_.get_xdata()[0] == \
        result.suggested_learning_rate
    assert display.ax_.get_xlabel() == "learning rate"
    assert display.ax_.get_ylabel() == "training loss"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels[:2] == ["batch loss", "smoothed loss"]
    assert labels[2].startswith("suggested rate")
    same = LRRangeTestDisplay.from_estimator(_mlp(), X, y, n_steps=80,
                                             random_state=0)
    assert_array_equal(same.loss_line_.get_ydata(), result.losses)


@pytest.mark.parametrize("path", [
    "sklearn_mcnn.inspection.TrainingCurveDisplay",
    "sklearn_mcnn.inspection.TrainingCurveDisplay.from_estimator",
    "sklearn_mcnn.inspection.TrainingCurveDisplay.plot",
    "sklearn_mcnn.inspection.LRRangeTestDisplay",
    "sklearn_mcnn.inspection.LRRangeTestDisplay.from_estimator",
    "sklearn_mcnn.inspection.LRRangeTestDisplay.from_result",
    "sklearn_mcnn.inspection.LRRangeTestDisplay.plot",
])
def test_inspection_docstrings(path):
    """numpydoc validation as tests/test_docs.py does for the top level."""
    validate = pytest.importorskip("numpydoc.validate").validate
    ignored = {"RT02", "GL01", "GL02"}
    if path.count(".") == 3:        # methods
        ignored |= {"EX01", "SA01", "ES01"}
    errors = [e for e in validate(path)["errors"] if e[0] not in ignored]
    assert not errors


# =========================================================================
# Progress
# =========================================================================

@pytest.mark.parametrize("solver, extra", [("adam", 0), ("sgd", 0), ("lbfgs", 1)])
def test_progress_bar_per_epoch_and_iteration(solver, extra, monkeypatch,
                                              split_digits):
    """scikit-learn's ProgressBar gets one step per epoch (L-BFGS: per
    iteration, plus scipy's last callback) and finishes the bar."""
    pytest.importorskip("rich")
    callback = pytest.importorskip("sklearn.callback")
    progressbar = pytest.importorskip("sklearn.callback._progressbar")
    X, y, X_val, y_val = split_digits
    events = []
    send = progressbar.send

    def recording(handle, message):
        events.append((message["event"], len(message["path"]),
                       message.get("max_subtasks")))
        return send(handle, message)

    monkeypatch.setattr(progressbar, "send", recording)
    est = (SoftmaxClassifier(solver="lbfgs", max_iter=8) if solver == "lbfgs"
           else _mlp(solver=solver, max_iter=8, early_stopping=True))
    est.set_callbacks(callback.ProgressBar())
    kwargs = {} if solver == "lbfgs" else {"X_val": X_val, "y_val": y_val}
    est.fit(X, y, **kwargs)
    assert events[0] == ("begin", 1, 8 + extra)
    assert events.count(("end", 2, None)) == est.n_iter_ + extra
    assert events[-1] == ("end", 1, None)


@pytest.mark.slow
def test_verbose_first_line_within_a_second(tmp_path):
    """verbose=1 prints its first line (flushed: through a pipe too) within a
    second of the start of a 50000-row fit that lasts several seconds."""
    child = (
        "import sys, time, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from sklearn.datasets import make_classification\n"
        "from sklearn_mcnn import MLPBackpropClassifier\n"
        "X, y = make_classification(50000, 20, n_informative=10, n_classes=5,"
        " random_state=0)\n"
        "est = MLPBackpropClassifier(max_iter=25, tol=0, verbose=1,"
        " random_state=0)\n"
        "sys.stderr.write(f'{time.time()}\\n'); sys.stderr.flush()\n"
        "est.fit(X, y)\n"
    )
    # -I, and outside the checkout: the installed package, not the source
    # folder (which CI's clean clone has uncompiled).
    proc = subprocess.Popen([sys.executable, "-I", "-c", child],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    first = proc.stdout.readline()
    arrival = time.time()
    _, err = proc.communicate(timeout=300)
    end = time.time()
    start = float(err.split()[0])
    assert re.match(r"Epoch 1, loss = [\d.]+, [\d.]+ s", first)
    assert arrival - start < 1.0
    assert end - arrival > 1.0      # the fit went on: the line was not late
