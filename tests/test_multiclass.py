"""Tests of the one-vs-all and one-vs-one reductions (sklearn_mcnn._multiclass)."""

import itertools
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.multiclass import OneVsOneClassifier as SkOneVsOneClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import (
    check_classifiers_train,
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

META_ESTIMATORS = (OneVsAllClassifier, OneVsOneClassifier)


def _softmax_adam():
    return SoftmaxClassifier(solver="adam", learning_rate_init=0.01, max_iter=50)


def _mlp():
    # 50 Adam epochs at the default step (1e-3) underfit the checks' small
    # problems (MLPBackpropClassifier alone then fails check_classifiers_train),
    # hence the larger step.
    return MLPBackpropClassifier(
        hidden_layer_sizes=(5,), learning_rate_init=0.05, max_iter=50
    )


def _svc():
    # SVC() itself fails the sample-weight equivalence checks (scikit-learn
    # declares them as expected failures of SVC): gamma='scale' reads the
    # unweighted variance of X, which repeating rows changes and weighting
    # them does not, and tol=1e-3 stops the dual solver about 1e-3 away from
    # the optimum where the checks compare at rtol=1e-7. With a data-
    # independent gamma and a tight tol the weighted and repeated fits agree,
    # and so do the reductions over them: nothing needs to be declared.
    return SVC(gamma="auto", tol=1e-8)


# Fast enough for the default run (about 1 s of checks each).
BASES = {"softmax": None, "logistic": LogisticRegression(), "svc": _svc()}
# Stochastic bases: one-vs-one's predict follows the coupled probabilities
# (voting='auto'), which the checks compare with predict_proba.
SLOW_BASES = {"softmax-adam": _softmax_adam(), "mlp": _mlp()}


def _reductions(bases):
    return [meta(estimator=base) for base in bases.values() for meta in META_ESTIMATORS]


def _set_array_api_env(monkeypatch):
    # check_array_api_input (NumPy namespace only, for estimators without
    # array API support) skips itself unless SCIPY_ARRAY_API=1; set it for
    # the check alone so that nothing is skipped.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


@parametrize_with_checks(_reductions(BASES))
def test_sklearn_compatible(estimator, check, monkeypatch):
    _set_array_api_env(monkeypatch)
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(_reductions(SLOW_BASES))
def test_sklearn_compatible_stochastic_bases(estimator, check, monkeypatch):
    _set_array_api_env(monkeypatch)
    check(estimator)


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_classifiers_train_check_with_adam_softmax(meta):
    # Issue 11: one-vs-one's majority vote disagreed with its coupled
    # probabilities on 11 of the 300 rows of this check.
    check_classifiers_train(meta.__name__, meta(SoftmaxClassifier(solver="adam")))


@pytest.mark.parametrize("estimator", _reductions({**BASES, **SLOW_BASES}), ids=repr)
def test_param_validation_and_column_names(estimator):
    name = type(estimator).__name__
    check_param_validation(name, estimator)
    check_dataframe_column_names_consistency(name, estimator)


# --------------------------------------------------------------------------
# Data sets


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[::2]), y[::2]


DATASETS = {"iris": _iris, "digits": _digits}


# --------------------------------------------------------------------------
# Agreement with scikit-learn's reductions


@pytest.mark.parametrize("dataset", DATASETS)
def test_one_vs_all_matches_one_vs_rest(dataset):
    X, y = DATASETS[dataset]()
    base = LogisticRegression(max_iter=500)
    ours = OneVsAllClassifier(base).fit(X, y)
    ref = OneVsRestClassifier(base).fit(X, y)
    assert len(ours.estimators_) == len(ref.estimators_) == np.unique(y).size
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.decision_function(X), ref.decision_function(X))
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X))


@pytest.mark.parametrize("dataset", DATASETS)
def test_one_vs_one_confidence_voting_matches_scikit_learn(dataset):
    X, y = DATASETS[dataset]()
    base = LogisticRegression(max_iter=500)
    ours = OneVsOneClassifier(base, voting="confidence").fit(X, y)
    ref = SkOneVsOneClassifier(base).fit(X, y)
    n_classes = np.unique(y).size
    assert len(ours.estimators_) == n_classes * (n_classes - 1) // 2
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-12)
    for mine, theirs in zip(ours.estimators_, ref.estimators_, strict=True):
        assert_allclose(mine.coef_, theirs.coef_, rtol=1e-12)


def test_one_vs_one_confidence_voting_matches_scikit_learn_on_ties():
    # Three classes, one vote each on many rows: the tie-break decides.
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=3,
        flip_y=0.2,
        random_state=0,
    )
    base = LogisticRegression()
    ours = OneVsOneClassifier(base, voting="confidence").fit(X, y)
    ref = SkOneVsOneClassifier(base).fit(X, y)
    votes = np.floor(ours.decision_function(X) + 1 / 3)
    assert np.sum((votes == 1).all(axis=1)) >= 3  # rows with a cyclic tie
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-12)


def test_one_vs_one_pairwise_kernel_matches_scikit_learn():
    X, y = _iris()
    K = rbf_kernel(X)
    ours = OneVsOneClassifier(SVC(kernel="precomputed")).fit(K, y)
    ref = SkOneVsOneClassifier(SVC(kernel="precomputed")).fit(K, y)
    assert [len(idx) for idx in ours.pairwise_indices_] == [100, 100, 100]
    assert_array_equal(ours.predict(K), ref.predict(K))
    assert_allclose(ours.decision_function(K), ref.decision_function(K))


def test_default_base_is_softmax():
    from sklearn_mcnn._softmax import SoftmaxClassifier

    X, y = _iris()
    for meta in META_ESTIMATORS:
        clf = meta(random_state=0).fit(X, y)
        assert all(isinstance(e, SoftmaxClassifier) for e in clf.estimators_)
        assert clf.score(X, y) > 0.9
        assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


# --------------------------------------------------------------------------
# Sub-fits over this package's estimators: the reduction validates X, the
# labels, the weights and the base's parameters once; each sub-fit trains
# (``_fit_subproblem``) and gives the model its own fit gives, bit for bit.


def _subfit_inputs(case):
    X, y = _digits()
    X, y = X[y < 5], y[y < 5]
    sample_weight = None
    if case == "float32":
        X = X.astype(np.float32)
    elif case == "integers":
        X = np.round(4 * X).astype(np.int64)
    elif case == "csc":
        X = sp.csc_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    elif case == "weights":
        sample_weight = np.random.default_rng(0).uniform(0, 2, y.size)
        sample_weight[::7] = 0.0
    return X, y, sample_weight


SUBFIT_CASES = ["float64", "float32", "integers", "csc", "weights"]


@pytest.mark.parametrize("case", SUBFIT_CASES)
@pytest.mark.parametrize(
    "meta, reference",
    [(OneVsAllClassifier, OneVsRestClassifier),
     (OneVsOneClassifier, SkOneVsOneClassifier)],
    ids=["ova", "ovo"],
)
def test_sub_fits_are_scikit_learns_bit_for_bit(meta, reference, case):
    X, y, sample_weight = _subfit_inputs(case)
    base = SoftmaxClassifier(class_weight="balanced")
    with sklearn.config_context(enable_metadata_routing=True):
        base = base.set_fit_request(sample_weight=True)
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        options = {"voting": "confidence"} if meta is OneVsOneClassifier else {}
        ours = meta(base, **options).fit(X, y, **weights)
        ref = reference(base).fit(X, y, **weights)
    assert len(ours.estimators_) == len(ref.estimators_)
    expected = np.float32 if case == "float32" else np.float64
    for mine, theirs in zip(ours.estimators_, ref.estimators_, strict=True):
        assert mine.coef_.dtype == theirs.coef_.dtype == expected
        assert_array_equal(mine.coef_, theirs.coef_)
        assert_array_equal(mine.intercept_, theirs.intercept_)
        assert_array_equal(mine.classes_, theirs.classes_)
        assert mine.classes_.dtype == theirs.classes_.dtype
        assert mine.n_iter_ == theirs.n_iter_
        assert mine.n_features_in_ == theirs.n_features_in_ == X.shape[1]
        assert mine.loss_curve_ == theirs.loss_curve_
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("case", SUBFIT_CASES)
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_sub_fits_of_a_network_are_its_own_fits(case, solver):
    # Seeded by the reduction (random_state), with hidden layers and a
    # stochastic solver: each sub-estimator is what its own fit makes of
    # its rows.
    X, y, sample_weight = _subfit_inputs(case)
    base = MLPBackpropClassifier((6,), solver=solver, max_iter=15,
                                 class_weight="balanced")
    ovo = OneVsOneClassifier(base, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ovo.fit(X, y, sample_weight=sample_weight)
        X_csr = sp.csr_matrix(X) if sp.issparse(X) else X
        for (i, j), mine in zip(itertools.combinations(range(5), 2),
                                ovo.estimators_, strict=True):
            rows = np.flatnonzero((y == i) | (y == j))
            weights = None if sample_weight is None else sample_weight[rows]
            own = clone(mine).fit(X_csr[rows], (y[rows] == j).astype(np.intp),
                                  sample_weight=weights)
            for a, b in zip(mine.coefs_ + mine.intercepts_,
                            own.coefs_ + own.intercepts_, strict=True):
                assert_array_equal(a, b)
            assert mine.n_iter_ == own.n_iter_
            assert_array_equal(mine.classes_, own.classes_)


@pytest.mark.parametrize("case", SUBFIT_CASES)
def test_sub_updates_are_their_own_partial_fits(case):
    X, y, sample_weight = _subfit_inputs(case)
    X_rows = sp.csr_matrix(X) if sp.issparse(X) else X
    base = SoftmaxClassifier(solver="adam", learning_rate_init=0.01,
                             class_weight={0: 1.0, 1: 2.5})
    ovo = OneVsOneClassifier(base, random_state=0)
    batches = [np.arange(start, min(start + 70, y.size))
               for start in range(0, y.size, 70)]
    for rows in batches:
        ovo.partial_fit(X[rows], y[rows], classes=np.arange(5),
                        sample_weight=None if sample_weight is None
                        else sample_weight[rows])
    for (i, j), mine in zip(itertools.combinations(range(5), 2),
                            ovo.estimators_, strict=True):
        own = clone(mine)
        for rows in batches:
            pair = rows[(y[rows] == i) | (y[rows] == j)]
            if pair.size:
                own.partial_fit(X_rows[pair], (y[pair] == j).astype(np.intp),
                                classes=np.array([0, 1]),
                                sample_weight=None if sample_weight is None
                                else sample_weight[pair])
        assert_array_equal(mine.coef_, own.coef_)
        assert_array_equal(mine.intercept_, own.intercept_)
        assert (mine.n_iter_, mine.t_) == (own.n_iter_, own.t_)
        assert mine.loss_curve_ == own.loss_curve_
        assert_array_equal(mine.classes_, own.classes_)
        assert mine.classes_.dtype == own.classes_.dtype


def test_sub_fits_skip_repeated_validation(monkeypatch):
    # The reduction validates once: no sub-fit calls validate_data or
    # checks its labels' type again, and the base's parameters are checked
    # once, before any sub-fit.
    import sklearn_mcnn._base

    X, y = _iris()
    calls = {"validate_data": 0, "check_class_labels": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    for name in calls:
        monkeypatch.setattr(sklearn_mcnn._base, name,
                            counting(name, getattr(sklearn_mcnn._base, name)))
    for meta in META_ESTIMATORS:
        meta(SoftmaxClassifier()).fit(X, y)
        clf = meta(SoftmaxClassifier(solver="sgd"))
        for rows in np.array_split(np.random.default_rng(0).permutation(150), 3):
            clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    assert calls == {"validate_data": 0, "check_class_labels": 0}
    # A base estimator's invalid parameter is still refused, before any
    # sub-fit, and the fitted reduction is untouched.
    clf = OneVsOneClassifier(SoftmaxClassifier()).fit(X, y)
    before = [e.coef_.copy() for e in clf.estimators_]
    clf.set_params(estimator__max_iter=-1)
    with pytest.raises(ValueError, match="max_iter"):
        clf.fit(X, y)
    for old, e in zip(before, clf.estimators_, strict=True):
        assert_array_equal(old, e.coef_)
    assert calls["validate_data"] == 0


# --------------------------------------------------------------------------
# Stub binary classifiers whose scores are read from the input columns.
#
# Column 0 of X holds the true class id during fit; it tells a stub which
# sub-problem it was trained on.  At prediction time the stub returns the
# column 1 + k of X, where k is the class (one-vs-all) or the pair index in
# itertools.combinations order (one-vs-one).


class _DecisionStub(ClassifierMixin, BaseEstimator):
    def __init__(self, n_classes=3):
        self.n_classes = n_classes

    def fit(self, X, y):
        negative = np.unique(X[y == 0, 0]).astype(int)
        positive = int(np.unique(X[y == 1, 0])[0])
        if negative.size > 1:  # one-vs-all: "positive vs the rest"
            self.column_ = 1 + positive
        else:  # one-vs-one pair (negative, positive)
            pairs = list(itertools.combinations(range(self.n_classes), 2))
            self.column_ = 1 + pairs.index((int(negative[0]), positive))
        self.classes_ = np.array([0, 1])
        return self

    def _score(self, X):
        return np.asarray(X, dtype=float)[:, self.column_]

    def decision_function(self, X):
        return self._score(X)

    def predict(self, X):
        return (self._score(X) > 0).astype(int)


class _ProbaStub(_DecisionStub):
    """The input column is P(label 1); no decision_function."""

    decision_function = property()  # hides the inherited method

    def predict_proba(self, X):
        s = self._score(X)
        return np.column_stack([1 - s, s])

    def predict(self, X):
        return (self._score(X) > 0.5).astype(int)


def _stub_training_data(n_classes, n_columns, n_per_class=4):
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.zeros((y.size, 1 + n_columns))
    X[:, 0] = y
    return X, y


def _stub_inputs(scores):
    return np.column_stack([np.zeros(scores.shape[0]), scores])


def test_stub_reproduces_given_scores():
    n_classes = 4
    X, y = _stub_training_data(n_classes, n_classes)
    scores = np.random.RandomState(0).normal(size=(50, n_classes))
    clf = OneVsAllClassifier(_DecisionStub(n_classes)).fit(X, y)
    assert_array_equal(clf.decision_function(_stub_inputs(scores)), scores)


@pytest.mark.parametrize("stub, threshold", [(_DecisionStub, 0.0), (_ProbaStub, 0.5)])
def test_one_vs_all_random_voting_picks_among_positive_classes(stub, threshold):
    n_classes, n_rows = 4, 4000
    rng = np.random.RandomState(0)
    patterns = np.array(
        [[1, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]],
        dtype=bool,
    )
    pattern_of_row = rng.randint(len(patterns), size=n_rows)
    positive = patterns[pattern_of_row]
    margin = rng.uniform(0.01, 0.4, size=(n_rows, n_classes))
    scores = np.where(positive, threshold + margin, threshold - margin)
    X, y = _stub_training_data(n_classes, n_classes)
    X_test = _stub_inputs(scores)

    clf = OneVsAllClassifier(stub(n_classes), voting="random", random_state=7)
    y_pred = clf.fit(X, y).predict(X_test)
    assert_array_equal(clf.predict(X_test), y_pred)  # repeats exactly

    confident = scores.argmax(axis=1)
    for p, pattern in enumerate(patterns):
        rows = pattern_of_row == p
        if not pattern.any():  # no positive classifier: the most confident
            assert_array_equal(y_pred[rows], confident[rows])
            continue
        assert pattern[y_pred[rows]].all()
        picked = np.bincount(y_pred[rows], minlength=n_classes)[pattern]
        # every positive class is drawn, about uniformly
        assert np.all(picked > 0.7 * rows.sum() / pattern.sum())
    # the random picks differ from the most confident class on many rows
    assert np.mean(y_pred != confident) > 0.2

    other_seed = clf.set_params(random_state=8).predict(X_test)
    assert np.any(other_seed != y_pred)
    assert_array_equal(clf.set_params(voting="confidence").predict(X_test), confident)


def _votes(scores, threshold, n_classes):
    votes = np.zeros((scores.shape[0], n_classes), dtype=int)
    for k, (i, j) in enumerate(itertools.combinations(range(n_classes), 2)):
        winner = np.where(scores[:, k] > threshold, j, i)
        votes[np.arange(scores.shape[0]), winner] += 1
    return votes


@pytest.mark.parametrize("stub, threshold", [(_DecisionStub, 0.0), (_ProbaStub, 0.5)])
def test_one_vs_one_random_voting_picks_among_tied_classes(stub, threshold):
    n_classes, n_rows = 4, 3000
    n_pairs = n_classes * (n_classes - 1) // 2
    rng = np.random.RandomState(0)
    signs = rng.choice([-1.0, 1.0], size=(n_rows, n_pairs))
    scores = threshold + signs * rng.uniform(0.01, 0.4, size=(n_rows, n_pairs))
    X, y = _stub_training_data(n_classes, n_pairs)
    X_test = _stub_inputs(scores)

    clf = OneVsOneClassifier(stub(n_classes), voting="random", random_state=3)
    y_pred = clf.fit(X, y).predict(X_test)
    assert_array_equal(clf.predict(X_test), y_pred)  # repeats exactly

    votes = _votes(scores, threshold, n_classes)
    tied = votes == votes.max(axis=1, keepdims=True)
    assert tied[np.arange(n_rows), y_pred].all()
    assert_array_equal(
        y_pred[tied.sum(axis=1) == 1], tied.argmax(axis=1)[tied.sum(1) == 1]
    )
    # every class of a tie is drawn: group the rows by their set of tied classes
    for tie_set in np.unique(tied[tied.sum(axis=1) > 1], axis=0):
        rows = (tied == tie_set).all(axis=1)
        picked = np.bincount(y_pred[rows], minlength=n_classes)
        assert np.all(picked[tie_set] > 0)

    decision = clf.decision_function(X_test)  # votes + confidences
    assert_array_equal(np.floor(decision + 1 / 3), votes)
    confident = clf.set_params(voting="confidence").predict(X_test)
    assert_array_equal(clf.decision_function(X_test), decision)
    assert_array_equal(confident, decision.argmax(axis=1))
    assert tied[np.arange(n_rows), confident].all()
    assert np.any(confident != y_pred)


def test_one_vs_one_cyclic_tie():
    # (0, 1) -> 1, (0, 2) -> 0, (1, 2) -> 2: every class has one vote
    n_classes, n_rows = 3, 600
    scores = np.tile([1.0, -1.0, 1.0], (n_rows, 1))
    X, y = _stub_training_data(n_classes, 3)
    clf = OneVsOneClassifier(_DecisionStub(n_classes), voting="random")
    y_pred = clf.set_params(random_state=0).fit(X, y).predict(_stub_inputs(scores))
    counts = np.bincount(y_pred, minlength=n_classes)
    assert np.all(counts > n_rows / 4)
    decision = clf.decision_function(_stub_inputs(scores))
    assert_allclose(decision, np.ones((n_rows, n_classes)))  # confidences cancel


# --------------------------------------------------------------------------
# Pairwise coupling


def _couple_one_row(pair_proba, n_classes, min_proba=1e-7):
    """Wu, Lin & Weng (2004), method 2, for one sample, by a dense KKT solve."""
    r = np.zeros((n_classes, n_classes))  # r[i, j] = P(i | i or j)
    for k, (i, j) in enumerate(itertools.combinations(range(n_classes), 2)):
        r_ji = min(max(pair_proba[k], min_proba), 1 - min_proba)
        r[j, i] = r_ji
        r[i, j] = 1 - r_ji
    Q = np.empty((n_classes, n_classes))
    for i in range(n_classes):
        for j in range(n_classes):
            if i == j:
                Q[i, i] = sum(r[s, i] ** 2 for s in range(n_classes) if s != i)
            else:
                Q[i, j] = -r[j, i] * r[i, j]
    A = np.zeros((n_classes + 1, n_classes + 1))
    A[:n_classes, :n_classes] = Q
    A[:n_classes, -1] = 1
    A[-1, :n_classes] = 1
    b = np.zeros(n_classes + 1)
    b[-1] = 1
    p = np.linalg.solve(A, b)[:n_classes]
    p = np.clip(p, 0, None)
    return p / p.sum()


@pytest.mark.parametrize("dataset", DATASETS)
def test_one_vs_one_predict_proba_is_pairwise_coupling(dataset):
    X, y = DATASETS[dataset]()
    X = X[::3]
    y = y[::3]
    clf = OneVsOneClassifier(LogisticRegression(C=0.1, max_iter=500)).fit(X, y)
    n_classes = clf.classes_.size
    proba = clf.predict_proba(X)
    pair_proba = np.column_stack([e.predict_proba(X)[:, 1] for e in clf.estimators_])
    expected = np.array([_couple_one_row(row, n_classes) for row in pair_proba])
    assert proba.shape == (X.shape[0], n_classes)
    assert_allclose(proba, expected, rtol=1e-9, atol=1e-12)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba >= 0)
    assert_allclose(clf.predict_log_proba(X), np.log(proba))
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_pairwise_coupling_recovers_consistent_probabilities():
    # r_ij = p_i / (p_i + p_j) for a distribution p: the coupling returns p
    n_classes = 5
    p = np.random.RandomState(0).dirichlet(np.ones(n_classes), size=40) + 0.01
    p /= p.sum(axis=1, keepdims=True)
    pairs = list(itertools.combinations(range(n_classes), 2))
    pair_proba = np.column_stack([p[:, j] / (p[:, i] + p[:, j]) for i, j in pairs])
    X, y = _stub_training_data(n_classes, len(pairs))
    clf = OneVsOneClassifier(_ProbaStub(n_classes)).fit(X, y)
    assert_allclose(clf.predict_proba(_stub_inputs(pair_proba)), p, rtol=1e-6)


def test_one_vs_all_predict_proba_normalises():
    n_classes = 3
    X, y = _stub_training_data(n_classes, n_classes)
    clf = OneVsAllClassifier(_ProbaStub(n_classes)).fit(X, y)
    assert not hasattr(clf, "decision_function")
    scores = np.array([[0.2, 0.6, 0.2], [0.0, 0.0, 0.0], [0.9, 0.9, 0.0]])
    proba = clf.predict_proba(_stub_inputs(scores))
    expected = [[0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]]
    assert_allclose(proba, expected)
    assert_array_equal(clf.predict(_stub_inputs(scores)), [1, 0, 0])


# --------------------------------------------------------------------------
# Voting rules: predict agrees with predict_proba


def _overlapping_classes():
    """Four overlapping classes: the vote and the coupling disagree on rows."""
    return make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=4,
        flip_y=0.1,
        random_state=0,
    )


# scikit-learn 1.9 deprecates SVC(probability=True), still the plainest base
# whose probabilities (Platt scaling, fitted per classifier) do not rank the
# samples as its decision values.
_PLATT_DEPRECATED = "ignore:The `probability` parameter was deprecated:FutureWarning"

PROBA_BASES = {
    "svc-platt": SVC(probability=True, random_state=0),
    "logistic": LogisticRegression(),
    "softmax-adam": _softmax_adam(),
    "mlp": _mlp(),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings(_PLATT_DEPRECATED)
@pytest.mark.parametrize("base", PROBA_BASES.values(), ids=PROBA_BASES.keys())
def test_one_vs_one_predict_is_argmax_of_coupled_proba(base):
    X, y = _overlapping_classes()
    clf = OneVsOneClassifier(base, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    y_pred = clf.predict(X)
    assert_array_equal(y_pred, clf.classes_[proba.argmax(axis=1)])
    decision = clf.decision_function(X)
    assert_array_equal(clf.classes_[decision.argmax(axis=1)], y_pred)
    assert np.all(np.isfinite(decision))
    assert_allclose(np.exp(decision), proba, rtol=1e-12, atol=1e-300)
    # the same as voting='proba', and (here) not the same as the vote
    assert_array_equal(clf.set_params(voting="proba").predict(X), y_pred)
    assert_array_equal(clf.decision_function(X), decision)
    vote = clf.set_params(voting="confidence").predict(X)
    assert_array_equal(vote, clf.classes_[clf.decision_function(X).argmax(axis=1)])
    assert np.any(vote != y_pred)


def test_one_vs_one_auto_voting_without_predict_proba_is_the_vote():
    X, y = _overlapping_classes()
    clf = OneVsOneClassifier(SVC()).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    ref = SkOneVsOneClassifier(SVC()).fit(X, y)
    assert_array_equal(clf.predict(X), ref.predict(X))
    assert_allclose(clf.decision_function(X), ref.decision_function(X))
    confidence = clf.set_params(voting="confidence")
    assert_array_equal(confidence.predict(X), ref.predict(X))


def test_one_vs_one_proba_voting_needs_predict_proba():
    X, y = _iris()
    clf = OneVsOneClassifier(SVC(), voting="confidence").fit(X, y)
    before = pickle.dumps(clf)
    with pytest.raises(ValueError, match="voting='proba' needs a base estimator"):
        clf.set_params(voting="proba").fit(X, y)
    clf.set_params(voting="confidence")
    assert pickle.dumps(clf) == before


def test_one_vs_one_proba_decision_is_finite_where_proba_is_zero():
    # Two classes: the single classifier's probabilities, 0 and 1 included.
    X, y = _stub_training_data(2, 1)
    clf = OneVsOneClassifier(_ProbaStub(2)).fit(X, y)
    X_test = _stub_inputs(np.array([[1.0], [0.0], [0.3], [0.5]]))
    log_tiny = np.log(np.finfo(np.float64).tiny)  # about -708
    decision = clf.decision_function(X_test)
    assert_allclose(decision, [-log_tiny, log_tiny, np.log(0.3 / 0.7), 0.0])
    assert_array_equal(clf.predict(X_test), [1, 0, 0, 0])
    assert_array_equal(clf.predict(X_test), (decision > 0).astype(int))
    assert_array_equal(clf.predict(X_test), clf.predict_proba(X_test).argmax(axis=1))
    # More classes: the coupling clips the pairs' probabilities to
    # [1e-7, 1 - 1e-7], the scores stay finite.
    X, y = _stub_training_data(3, 3)
    clf = OneVsOneClassifier(_ProbaStub(3)).fit(X, y)
    X_test = _stub_inputs(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    decision = clf.decision_function(X_test)
    assert np.all(np.isfinite(decision))
    assert_array_equal(decision.argmax(axis=1), [2, 0])
    assert_array_equal(clf.predict(X_test), [2, 0])


def test_tie_break_is_deprecated_in_favour_of_voting():
    n_classes, n_pairs = 4, 6
    X, y = _stub_training_data(n_classes, n_pairs)
    X_test = _stub_inputs(np.random.RandomState(0).uniform(size=(500, n_pairs)))
    votes = {}
    for rule in ("confidence", "random"):
        new = OneVsOneClassifier(_ProbaStub(n_classes), voting=rule, random_state=0)
        votes[rule] = new.fit(X, y).predict(X_test)
        old = OneVsOneClassifier(_ProbaStub(n_classes), tie_break=rule, random_state=0)
        with pytest.warns(FutureWarning, match="`tie_break` was deprecated in 0.2"):
            old.fit(X, y)
        assert_array_equal(old.predict(X_test), votes[rule])
        assert_array_equal(old.decision_function(X_test), new.decision_function(X_test))

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the default is silent
        clf = OneVsOneClassifier(_ProbaStub(n_classes)).fit(X, y)
    y_pred = clf.predict(X_test)  # voting='auto': the coupled probabilities
    assert_array_equal(y_pred, clf.predict_proba(X_test).argmax(axis=1))
    assert np.any(y_pred != votes["confidence"])

    before = pickle.dumps(clf)
    clf.set_params(tie_break="random", voting="confidence")
    with pytest.raises(ValueError, match="Both voting='confidence' and"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="Both voting='confidence' and"):
        clf.predict(X_test)
    clf.set_params(tie_break="deprecated", voting="auto")
    assert pickle.dumps(clf) == before


@pytest.mark.filterwarnings(_PLATT_DEPRECATED)
@pytest.mark.parametrize("voting", ["confidence", "random"])
def test_one_vs_all_predict_follows_predict_proba(voting):
    # Platt scaling is fitted per class: the probabilities do not rank the
    # classes as the decision values do, and predict follows predict_proba.
    X, y = _overlapping_classes()
    base = SVC(probability=True, random_state=0)
    clf = OneVsAllClassifier(base, voting=voting, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    y_pred = clf.predict(X)
    positive = np.column_stack([e.predict_proba(X)[:, 1] for e in clf.estimators_])
    if voting == "confidence":
        assert_array_equal(y_pred, proba.argmax(axis=1))
        # documented: argmax(decision_function) differs on a few rows
        assert np.any(clf.decision_function(X).argmax(axis=1) != y_pred)
    else:
        any_positive = (positive > 0.5).any(axis=1)
        assert (positive[np.arange(y.size), y_pred] > 0.5)[any_positive].all()
        assert_array_equal(y_pred[~any_positive], proba.argmax(axis=1)[~any_positive])

    # without predict_proba, predict reads decision_function, as before
    clf = OneVsAllClassifier(SVC(), voting=voting, random_state=0).fit(X, y)
    if voting == "confidence":
        assert_array_equal(clf.predict(X), clf.decision_function(X).argmax(axis=1))


# --------------------------------------------------------------------------
# Seeds and n_jobs


def _stochastic_base():
    return SGDClassifier(loss="log_loss", max_iter=20, tol=None, random_state=None)


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_n_jobs_does_not_change_the_model(meta):
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=4, random_state=0
    )
    models = [
        meta(_stochastic_base(), n_jobs=n_jobs, random_state=42).fit(X, y)
        for n_jobs in (1, 2, 1)
    ]
    seeds = [e.random_state for e in models[0].estimators_]
    assert all(isinstance(s, int) for s in seeds)
    assert len(set(seeds)) == len(seeds)
    for model in models[1:]:
        assert [e.random_state for e in model.estimators_] == seeds
        for mine, ref in zip(model.estimators_, models[0].estimators_, strict=True):
            assert_array_equal(mine.coef_, ref.coef_)
            assert_array_equal(mine.intercept_, ref.intercept_)
        assert_array_equal(model.decision_function(X), models[0].decision_function(X))
    other = meta(_stochastic_base(), random_state=43).fit(X, y)
    assert not np.array_equal(
        other.estimators_[0].coef_, models[0].estimators_[0].coef_
    )


def test_seeds_are_drawn_from_the_meta_random_state():
    X, y = _iris()
    base = make_pipeline(StandardScaler(), _stochastic_base())
    clf = OneVsOneClassifier(base, random_state=np.random.RandomState(5)).fit(X, y)
    rng = np.random.RandomState(5)
    expected = [rng.randint(np.iinfo(np.int32).max) for _ in clf.estimators_]
    assert [e.get_params()["sgdclassifier__random_state"] for e in clf.estimators_] == (
        expected
    )
    assert base.get_params()["sgdclassifier__random_state"] is None  # untouched


# --------------------------------------------------------------------------
# Sample weights and metadata routing


def _weights(y, seed=0):
    return np.random.RandomState(seed).randint(0, 4, size=y.size).astype(float)


def _fit_by_hand(meta, X, y, sample_weight):
    """The sub-problems of `meta`, fitted one by one with LogisticRegression."""
    classes = np.unique(y)
    coefs = []
    if meta is OneVsAllClassifier:
        for c in classes:
            lr = LogisticRegression().fit(X, (y == c).astype(int), sample_weight)
            coefs.append(lr.coef_)
    else:
        for i, j in itertools.combinations(classes, 2):
            rows = (y == i) | (y == j)
            lr = LogisticRegression().fit(
                X[rows], (y[rows] == j).astype(int), sample_weight[rows]
            )
            coefs.append(lr.coef_)
    return coefs


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_sample_weight_restricted_to_subproblem_rows(meta):
    X, y = _iris()
    sw = _weights(y)
    clf = meta(LogisticRegression()).fit(X, y, sample_weight=sw)
    for est, coef in zip(clf.estimators_, _fit_by_hand(meta, X, y, sw), strict=True):
        assert_allclose(est.coef_, coef, rtol=1e-10)
    unweighted = meta(LogisticRegression()).fit(X, y)
    assert not np.allclose(unweighted.estimators_[0].coef_, clf.estimators_[0].coef_)


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_sample_weight_through_metadata_routing(meta):
    X, y = _iris()
    sw = _weights(y)
    expected = meta(LogisticRegression()).fit(X, y, sample_weight=sw)
    with sklearn.config_context(enable_metadata_routing=True):
        base = LogisticRegression().set_fit_request(sample_weight=True)
        routed = meta(base).fit(X, y, sample_weight=sw)
        for mine, ref in zip(routed.estimators_, expected.estimators_, strict=True):
            assert_allclose(mine.coef_, ref.coef_, rtol=1e-12)

        with pytest.raises(UnsetMetadataPassedError):
            meta(LogisticRegression()).fit(X, y, sample_weight=sw)

        # weights that no sub-estimator consumes are an error, as in scikit-learn
        ignored = LogisticRegression().set_fit_request(sample_weight=False)
        with pytest.raises(TypeError, match="not routed to any object"):
            meta(ignored).fit(X, y, sample_weight=sw)

    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        meta(LogisticRegression()).fit(X, y, groups=y)


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_sample_weight_errors(meta):
    X, y = _iris()
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        meta(LogisticRegression()).fit(X, y, sample_weight=-np.ones(y.size))
    n_pairs = 3
    X_stub, y_stub = _stub_training_data(3, n_pairs)
    with pytest.raises(ValueError, match="sample_weight"):
        meta(_DecisionStub()).fit(X_stub, y_stub, sample_weight=np.ones(y_stub.size))


def test_zero_weight_class_gives_constant_predictors():
    X, y = _iris()
    sw = np.where(y == 2, 0.0, 1.0)
    with pytest.warns(UserWarning, match="constant predictor"):
        ovo = OneVsOneClassifier(LogisticRegression()).fit(X, y, sample_weight=sw)
    constant = [type(e).__name__ == "_ConstantPredictor" for e in ovo.estimators_]
    assert constant == [False, True, True]  # pairs (0, 2) and (1, 2)
    assert not np.any(ovo.predict(X) == 2)
    assert_allclose(ovo.predict_proba(X)[:, 2], 0.0, atol=1e-6)

    with pytest.warns(UserWarning, match="constant predictor"):
        ova = OneVsAllClassifier(LogisticRegression()).fit(X, y, sample_weight=sw)
    assert type(ova.estimators_[2]).__name__ == "_ConstantPredictor"
    assert_allclose(ova.decision_function(X)[:, 2], -1.0)
    assert_allclose(ova.predict_proba(X)[:, 2], 0.0)


# --------------------------------------------------------------------------
# Two classes


@pytest.mark.parametrize("meta", META_ESTIMATORS)
@pytest.mark.parametrize("base", [LogisticRegression(), _ProbaStub(2)], ids=repr)
def test_binary_single_estimator_consistent_decision(meta, base):
    if isinstance(base, _ProbaStub):
        X, y = _stub_training_data(2, 2)
        X_test = _stub_inputs(np.random.RandomState(0).uniform(size=(100, 2)))
    else:
        X, y = make_classification(n_samples=200, n_features=5, random_state=0)
        X_test = X
    labels = np.array(["no", "yes"])
    clf = meta(base).fit(X, labels[y])
    assert len(clf.estimators_) == 1
    y_pred = clf.predict(X_test)
    proba = clf.predict_proba(X_test)
    assert_array_equal(proba, clf.estimators_[0].predict_proba(X_test))
    assert_array_equal(labels[proba.argmax(axis=1)], y_pred)
    if hasattr(clf, "decision_function"):
        decision = clf.decision_function(X_test)
        assert decision.shape == (X_test.shape[0],)
        assert_array_equal(labels[(decision > 0).astype(int)], y_pred)
    if isinstance(base, LogisticRegression):
        ref = clone(base).fit(X, labels[y])
        assert_array_equal(y_pred, ref.predict(X_test))
        # one-vs-one's default decision is the log-odds of the probabilities
        assert_allclose(
            clf.decision_function(X_test), ref.decision_function(X_test), atol=1e-9
        )
    if meta is OneVsOneClassifier:
        assert_array_equal(decision, np.log(proba[:, 1]) - np.log(proba[:, 0]))
        # the vote: the single classifier's score, minus its threshold
        clf.set_params(voting="confidence")
        assert_array_equal(clf.predict(X_test), y_pred)
        threshold = 0.5 if isinstance(base, _ProbaStub) else 0.0
        score = (
            proba[:, 1]
            if isinstance(base, _ProbaStub)
            else clf.estimators_[0].decision_function(X_test)
        )
        assert_array_equal(clf.decision_function(X_test), score - threshold)


# --------------------------------------------------------------------------
# partial_fit


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_partial_fit(meta):
    X, y = _iris()
    assert not hasattr(meta(LogisticRegression()), "partial_fit")
    clf = meta(_stochastic_base(), random_state=0)
    assert hasattr(clf, "partial_fit")
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)

    rng = np.random.RandomState(0)
    for _ in range(5):
        for chunk in np.array_split(rng.permutation(y.size), 5):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == X.shape[1]
    assert clf.score(X, y) > 0.8

    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X[:2], np.array([0, 5]))
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :2], y)


def test_one_vs_one_partial_fit_leaves_absent_pairs_unchanged():
    X, y = _iris()
    clf = OneVsOneClassifier(_stochastic_base(), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    before = [e.coef_.copy() for e in clf.estimators_]
    rows = y == 0
    clf.partial_fit(X[rows], y[rows], sample_weight=np.ones(rows.sum()))
    after = [e.coef_ for e in clf.estimators_]
    assert not np.array_equal(before[0], after[0])  # pair (0, 1): class 0 rows
    assert not np.array_equal(before[1], after[1])  # pair (0, 2): class 0 rows
    assert_array_equal(before[2], after[2])  # pair (1, 2): no rows


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_vs_one_pairs_without_rows_yet_abstain():
    # A first batch holding class 0 only: the pairs among classes 1-3 have
    # no rows. The reduction predicts (they abstain), and trains them later.
    X, y = _iris()
    est = OneVsOneClassifier(SoftmaxClassifier(solver="adam"), voting="confidence")
    est.partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2, 3])
    # The decision is votes + a confidence term in (-1/3, 1/3): three votes
    # per row (pairs (0, k)), none from the untrained (1, 2), (1, 3), (2, 3).
    votes = np.round(est.decision_function(X))
    assert_array_equal(votes.sum(axis=1), np.full(len(y), 3))
    assert np.all(votes[:, 1:] <= 1)
    assert np.isin(est.predict(X), [0, 1, 2, 3]).all()
    assert np.allclose(est.predict_proba(X).sum(axis=1), 1)
    est.partial_fit(X, y)
    assert all(isinstance(e, SoftmaxClassifier) for e in est.estimators_)


def test_partial_fit_after_fit_replaces_constant_predictors():
    X, y = _iris()
    sw = np.where(y == 2, 0.0, 1.0)
    clf = OneVsOneClassifier(_stochastic_base(), random_state=0)
    with pytest.warns(UserWarning, match="constant predictor"):
        clf.fit(X, y, sample_weight=sw)
    clf.partial_fit(X, y)
    assert all(isinstance(e, SGDClassifier) for e in clf.estimators_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_partial_fit_needing_a_base_without_partial_fit_raises(meta):
    # A constant sub-problem restarts from the base estimator, which no
    # longer has partial_fit: a clear error, and nothing changed.
    X, y = _iris()
    sw = np.where(y == 2, 0.0, 1.0)
    est = meta(SoftmaxClassifier(solver="adam", max_iter=5), random_state=0)
    with pytest.warns(UserWarning, match="constant predictor"):
        est.fit(X, y, sample_weight=sw)
    est.set_params(estimator__solver="lbfgs")
    state, outputs = pickle.dumps(est), _outputs(est, X)
    with pytest.raises(ValueError, match="has no partial_fit"):
        est.partial_fit(X, y)
    _assert_unchanged(est, state, outputs, X)


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_predict_validates_input_for_the_fitted_sub_estimators(meta):
    # The fitted sub-estimators accept sparse input; a new `estimator` that
    # does not, set after fit, does not predict and must not be asked.
    X, y = _iris()
    est = meta(SoftmaxClassifier(), random_state=0).fit(X, y)
    est.set_params(estimator=GaussianNB())
    assert_array_equal(est.predict(sp.csr_matrix(X)), est.predict(X))


# --------------------------------------------------------------------------
# A fit or partial_fit that raises changes nothing: the contract every
# reduction keeps is tested for all six in test_reduction_contract.py.


def _outputs(est, X):
    methods = ("predict", "predict_proba", "decision_function")
    return [getattr(est, method)(X) for method in methods if hasattr(est, method)]


def _assert_unchanged(est, state, outputs, X):
    assert pickle.dumps(est) == state
    for got, expected in zip(_outputs(est, X), outputs, strict=True):
        assert_array_equal(got, expected)


# --------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_one_class_is_an_error(meta):
    X, y = _iris()
    with pytest.raises(ValueError, match="one class"):
        meta(LogisticRegression()).fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="at least two classes"):
        meta(_stochastic_base()).partial_fit(X[:10], y[:10], classes=[0])


@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_string_labels_and_pandas(meta):
    pd = pytest.importorskip("pandas")
    X, y = _iris()
    names = np.array(["setosa", "versicolor", "virginica"])
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = meta(LogisticRegression()).fit(frame, names[y])
    assert_array_equal(clf.feature_names_in_, frame.columns)
    assert_array_equal(clf.classes_, names)
    assert np.mean(clf.predict(frame) == names[y]) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(frame)


@pytest.mark.slow
@pytest.mark.parametrize("meta", META_ESTIMATORS)
def test_default_base_larger_problem(meta):
    X, y = make_classification(
        n_samples=3000, n_features=40, n_informative=20, n_classes=8, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    reference = {OneVsAllClassifier: OneVsRestClassifier}.get(
        meta, SkOneVsOneClassifier
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = meta(random_state=0).fit(X[:2000], y[:2000])
        ref = reference(LogisticRegression()).fit(X[:2000], y[:2000])
    # the default base (SoftmaxClassifier) is about as accurate as scikit-learn's
    # reduction over LogisticRegression
    assert clf.score(X[2000:], y[2000:]) > ref.score(X[2000:], y[2000:]) - 0.03
    assert_allclose(clf.predict_proba(X[2000:]).sum(axis=1), 1.0)



@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("Reduction", [OneVsAllClassifier, OneVsOneClassifier])
def test_predictions_in_one_pass_equal_asking_each_sub_estimator(
        Reduction, sparse, dtype, monkeypatch):
    """Binary softmax sub-estimators are asked together (their weights side
    by side, one read of X): the scores, probabilities and labels (and
    their dtypes) equal those of asking each one in turn (the reduction's
    own loop, forced by declining the one-pass path)."""
    from sklearn_mcnn import _base, _multiclass

    X, y = make_classification(300, 12, n_informative=6, n_classes=4,
                               random_state=0)
    X = X.astype(dtype)
    X_test = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0)) if sparse else X
    model = Reduction().fit(X, y)
    scores = _base.binary_scores_in_one_pass(model.estimators_, X_test,
                                             "decision_function")
    assert scores is not None and scores.shape == (300, len(model.estimators_))
    each = np.column_stack([e.decision_function(X_test)
                            for e in model.estimators_])
    assert_allclose(scores, each, rtol=1e-6 if dtype == np.float32 else 1e-12,
                    atol=1e-6 if dtype == np.float32 else 1e-12)
    got = {m: getattr(model, m)(X_test)
           for m in ("decision_function", "predict_proba", "predict")}
    monkeypatch.setattr(_multiclass, "binary_scores_in_one_pass",
                        lambda *args: None)
    for method, value in got.items():
        expected = getattr(model, method)(X_test)
        assert value.dtype == expected.dtype         # float32 stays float32
        if method == "predict":
            assert_array_equal(value, expected)
        else:
            assert_allclose(value, expected, rtol=1e-5, atol=1e-6)


def test_one_pass_declines_other_sub_estimators():
    from sklearn_mcnn import MLPBackpropClassifier
    from sklearn_mcnn._base import binary_scores_in_one_pass

    X, y = make_classification(100, 5, random_state=0)
    softmax = SoftmaxClassifier().fit(X, y)
    three = SoftmaxClassifier().fit(X, np.arange(100) % 3)
    mlp = MLPBackpropClassifier((3,), max_iter=5).fit(X, y)
    wide = SoftmaxClassifier().fit(np.c_[X, X], y)
    single = SoftmaxClassifier().fit(X.astype(np.float32), y)
    for others in ([mlp], [three], [wide], [single], [LogisticRegression()]):
        assert binary_scores_in_one_pass([softmax, *others], X,
                                         "decision_function") is None
    assert binary_scores_in_one_pass([softmax], X, "predict") is None
    assert binary_scores_in_one_pass([], X, "predict_proba") is None
