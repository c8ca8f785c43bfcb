"""The contract all six reductions keep (one-vs-all, one-vs-one, dense and
sparse output codes, the filter tree and the error-correcting tournament):
a call that raises changes nothing, the model does not depend on n_jobs, one
random_state seeds everything, sample_weight is routed."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    OutputCodeClassifier,
    SoftmaxClassifier,
    TournamentClassifier,
)

REDUCTIONS = {
    "one-vs-all": lambda base, **kw: OneVsAllClassifier(base, **kw),
    "one-vs-one": lambda base, **kw: OneVsOneClassifier(base, **kw),
    "ecoc-dense": lambda base, **kw: OutputCodeClassifier(base, n_trials=5, **kw),
    "ecoc-sparse": lambda base, **kw: OutputCodeClassifier(
        base, code="sparse", n_trials=5, **kw),
    "filter-tree": lambda base, **kw: TournamentClassifier(base, **kw),
    "ect": lambda base, **kw: TournamentClassifier(base, n_errors=1, **kw),
}


def _wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class _FlakyBinary(ClassifierMixin, BaseEstimator):
    """Class means kept as running sums, updated in place by partial_fit.

    The `fail_at`-th call of ``fit`` or ``partial_fit``, counted over all the
    instances (class attributes), raises; ``partial_fit`` raises *after* its
    in-place update, as a training step that fails half-way would.
    """

    calls = 0
    fail_at = None
    error = RuntimeError

    def _count_call(self):
        type(self).calls += 1
        if type(self).calls == type(self).fail_at:
            raise self.error(f"call {self.calls} of a sub-estimator failed")

    def fit(self, X, y):
        self._count_call()
        self.sums_ = np.zeros((2, X.shape[1]))
        self.counts_ = np.zeros(2)
        return self._update(X, y)

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "sums_"):
            self.sums_ = np.zeros((2, X.shape[1]))
            self.counts_ = np.zeros(2)
        self._update(X, y)
        self._count_call()
        return self

    def _update(self, X, y):
        for label in (0, 1):
            self.sums_[label] += X[y == label].sum(axis=0)
            self.counts_[label] += np.sum(y == label)
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        mean_0, mean_1 = self.sums_ / np.maximum(self.counts_, 1)[:, np.newaxis]
        return X @ (mean_1 - mean_0) - (mean_1 @ mean_1 - mean_0 @ mean_0) / 2

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


@pytest.fixture
def flaky():
    _FlakyBinary.calls, _FlakyBinary.fail_at = 0, None
    yield _FlakyBinary
    _FlakyBinary.calls, _FlakyBinary.fail_at = 0, None
    _FlakyBinary.error = RuntimeError


def _outputs(est, X):
    methods = ("predict", "predict_proba", "decision_function", "decision_path")
    outputs = [getattr(est, m)(X) for m in methods if hasattr(est, m)]
    return [o.toarray() if hasattr(o, "toarray") else o for o in outputs]


def _assert_unchanged(est, state, outputs, X):
    assert pickle.dumps(est) == state
    for got, expected in zip(_outputs(est, X), outputs, strict=True):
        assert_array_equal(got, expected)


RESTORE_BASES = {
    "softmax-sgd": SoftmaxClassifier(solver="sgd", max_iter=5),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(4,), max_iter=5),
}


def _fitted(name, base, random_state=0):
    X, y = _wine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = REDUCTIONS[name](clone(base), random_state=random_state).fit(X, y)
    return est, X, y


def _refused_calls(X, y):
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    new_label = y.copy()
    new_label[0] = 7
    return {
        "fit-features-and-negative-weight": (
            "fit", (X[:, :3], y), {"sample_weight": -np.ones(y.size)}, "[Nn]egative"),
        "fit-negative-weight": (
            "fit", (X, y), {"sample_weight": -np.ones(y.size)}, "[Nn]egative"),
        "fit-one-class": ("fit", (X[:, :3], np.zeros_like(y)), {}, "one class"),
        "fit-zero-weights": (
            "fit", (X, y), {"sample_weight": np.zeros(y.size)}, "non-zero"),
        "fit-nan": ("fit", (X_nan, y), {}, "NaN"),
        "fit-weight-length-new-labels": (
            "fit", (X, new_label), {"sample_weight": np.ones(5)}, "sample"),
        "partial_fit-features": ("partial_fit", (X[:, :3], y), {}, "features"),
        "partial_fit-negative-weight": (
            "partial_fit", (X, y), {"sample_weight": -np.ones(y.size)},
            "[Nn]egative"),
        "partial_fit-nan": ("partial_fit", (X_nan, y), {}, "NaN"),
        "partial_fit-new-label": ("partial_fit", (X, new_label), {}, "not among"),
        "partial_fit-other-classes": (
            "partial_fit", (X, y), {"classes": [0, 1, 2, 3]}, "not the same"),
    }


@pytest.mark.parametrize("call", list(_refused_calls(*_wine())))
@pytest.mark.parametrize("base", RESTORE_BASES.values(), ids=RESTORE_BASES.keys())
@pytest.mark.parametrize("name", REDUCTIONS)
def test_refused_call_changes_nothing(name, base, call):
    est, X, y = _fitted(name, base)
    method, args, kwargs, match = _refused_calls(X, y)[call]
    state, outputs = pickle.dumps(est), _outputs(est, X)
    with pytest.raises(ValueError, match=match):
        getattr(est, method)(*args, **kwargs)
    _assert_unchanged(est, state, outputs, X)


@pytest.mark.parametrize("name", REDUCTIONS)
def test_pickle_of_a_fitted_reduction_is_deterministic(name):
    # The comparisons here rely on it: the same object pickles to the same
    # bytes, also after predicting. (Not across a round trip: a loaded copy
    # can pickle to other bytes, its dtype objects memoised differently.)
    est, X, _ = _fitted(name, RESTORE_BASES["mlp"])
    first = pickle.dumps(est)
    assert pickle.dumps(est) == first
    _outputs(est, X)
    assert pickle.dumps(est) == first


@pytest.mark.parametrize("name", REDUCTIONS)
def test_refit_with_a_parameter_the_base_refuses_changes_nothing(name):
    est, X, y = _fitted(name, RESTORE_BASES["softmax-sgd"])
    est.set_params(estimator__alpha=-1.0)
    state, outputs = pickle.dumps(est), _outputs(est, X)
    with pytest.raises(ValueError, match="alpha"):
        est.fit(X[:, :5], y)
    _assert_unchanged(est, state, outputs, X)


def test_refused_code_changes_nothing():
    est, X, y = _fitted("ecoc-dense", RESTORE_BASES["softmax-sgd"])
    state, outputs = pickle.dumps(est), _outputs(est, X)
    est.set_params(code=np.ones((4, 2)))
    with pytest.raises(ValueError, match="shape"):
        est.fit(X, y)
    est.set_params(code="dense")
    _assert_unchanged(est, state, outputs, X)


@pytest.mark.parametrize("seed", ["int", "RandomState"])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_diverging_refit_changes_nothing(name, seed):
    # The base's learning-rate error after the code book and the seeds were
    # drawn: a RandomState passed as random_state must not advance either.
    random_state = 0 if seed == "int" else np.random.RandomState(0)
    est, X, y = _fitted(name, RESTORE_BASES["softmax-sgd"], random_state)
    est.set_params(estimator__learning_rate_init=1e8)
    state, outputs = pickle.dumps(est), _outputs(est, X)
    with pytest.raises(ValueError, match="learning_rate_init"):
        est.fit(X * 1e3, y)
    _assert_unchanged(est, state, outputs, X)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_fit_failing_in_a_sub_estimator_changes_nothing(name, error, flaky):
    X, y = _wine()
    est = REDUCTIONS[name](flaky(), random_state=0).fit(X, y)
    state, outputs = pickle.dumps(est), _outputs(est, X)
    # the second sub-fit: for a tournament of three classes, in its second
    # round, after the first node was trained and the rows filtered
    flaky.fail_at, flaky.error = flaky.calls + 2, error
    with pytest.raises(error, match="failed"):
        est.fit(X[:, :5], y)  # other features: n_features_in_ would change
    _assert_unchanged(est, state, outputs, X)


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_partial_fit_failing_in_a_sub_estimator_changes_nothing(name, first, flaky):
    X, y = _wine()
    est = REDUCTIONS[name](flaky(), random_state=0)
    if first == "fit":
        est.fit(X, y)
    else:
        est.partial_fit(X, y, classes=np.unique(y))
    state, outputs = pickle.dumps(est), _outputs(est, X)
    sums = [e.sums_.copy() for e in est.estimators_ if hasattr(e, "sums_")]
    flaky.fail_at = flaky.calls + 2
    with pytest.raises(RuntimeError, match="failed"):
        est.partial_fit(X, y)
    _assert_unchanged(est, state, outputs, X)
    after = [e.sums_ for e in est.estimators_ if hasattr(e, "sums_")]
    for now, before in zip(after, sums, strict=True):
        assert_array_equal(now, before)
    # the next call that succeeds updates them as an uninterrupted run would
    est.partial_fit(X, y)
    reference = REDUCTIONS[name](flaky(), random_state=0)
    if first == "fit":
        reference.fit(X, y)
    else:
        reference.partial_fit(X, y, classes=np.unique(y))
    reference.partial_fit(X, y)
    assert pickle.dumps(est) == pickle.dumps(reference)


@pytest.mark.parametrize("name", REDUCTIONS)
def test_weighted_partial_fit_after_the_base_lost_partial_fit(name):
    """A fitted reduction whose base estimator no longer has partial_fit
    (set_params(estimator__solver='lbfgs')) updates its fitted
    sub-estimators, weights included; a weighted call with unknown labels
    gets the labels' ValueError (it used to raise AttributeError while
    looking for the base's partial_fit; found by the stateful fuzz test)."""
    X, y = _wine()
    sw = np.ones(y.size)
    est = REDUCTIONS[name](SoftmaxClassifier(solver="sgd", max_iter=5),
                           random_state=0)
    est.partial_fit(X, y, classes=np.unique(y), sample_weight=sw)
    est.set_params(estimator__solver="lbfgs")
    state, outputs = pickle.dumps(est), _outputs(est, X)
    with pytest.raises(ValueError, match="not among"):
        est.partial_fit(X, y + 10, sample_weight=sw)
    _assert_unchanged(est, state, outputs, X)
    est.partial_fit(X, y, sample_weight=sw)
    assert pickle.dumps(est) != state


@pytest.mark.parametrize("name", REDUCTIONS)
def test_failed_first_partial_fit_leaves_it_unfitted(name, flaky):
    X, y = _wine()
    est = REDUCTIONS[name](flaky())
    state = pickle.dumps(est)
    flaky.fail_at = 2
    with pytest.raises(RuntimeError, match="failed"):
        est.partial_fit(X, y, classes=np.unique(y))
    assert pickle.dumps(est) == state
    assert not hasattr(est, "estimators_")
    assert not hasattr(est, "n_features_in_")


# --------------------------------------------------------------------------
# n_jobs, seeds and routing


def _stochastic():
    return SGDClassifier(loss="log_loss", max_iter=20, tol=None)


@pytest.mark.parametrize("name", REDUCTIONS)
def test_n_jobs_does_not_change_the_model(name):
    X, y = _wine()
    models = [REDUCTIONS[name](_stochastic(), n_jobs=n_jobs, random_state=7).fit(X, y)
              for n_jobs in (1, 2)]
    assert len(models[0].estimators_) == len(models[1].estimators_)
    for a, b in zip(models[0].estimators_, models[1].estimators_, strict=True):
        if hasattr(a, "coef_"):
            assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(models[0].predict_proba(X), models[1].predict_proba(X))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_one_random_state_seeds_the_whole_model(name):
    X, y = _wine()
    first = REDUCTIONS[name](_stochastic(), random_state=3).fit(X, y)
    second = REDUCTIONS[name](_stochastic(), random_state=np.random.RandomState(3))
    second.fit(X, y)
    assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    seeds = [e.random_state for e in first.estimators_ if hasattr(e, "coef_")]
    assert len(set(seeds)) == len(seeds)  # each sub-estimator its own seed
    other = REDUCTIONS[name](_stochastic(), random_state=4).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_sample_weight_through_metadata_routing(name):
    X, y = _wine()
    sw = np.random.RandomState(0).randint(0, 4, size=y.size).astype(float)
    expected = REDUCTIONS[name](LogisticRegression(), random_state=0).fit(
        X, y, sample_weight=sw)
    unweighted = REDUCTIONS[name](LogisticRegression(), random_state=0).fit(X, y)
    assert not np.allclose(expected.predict_proba(X), unweighted.predict_proba(X))
    with sklearn.config_context(enable_metadata_routing=True):
        base = LogisticRegression().set_fit_request(sample_weight=True)
        routed = REDUCTIONS[name](base, random_state=0).fit(X, y, sample_weight=sw)
        assert_array_equal(routed.predict_proba(X), expected.predict_proba(X))
        with pytest.raises(UnsetMetadataPassedError):
            REDUCTIONS[name](LogisticRegression()).fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        REDUCTIONS[name](LogisticRegression()).fit(X, y, groups=y)
