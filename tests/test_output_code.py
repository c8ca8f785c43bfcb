"""OutputCodeClassifier: code books, decoders and coupling against closed
forms and brute force, and the equivalences with one-vs-all, one-vs-one and
scikit-learn's OutputCodeClassifier."""

import itertools
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OutputCodeClassifier as SkOutputCodeClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import (
    OneVsAllClassifier,
    OneVsOneClassifier,
    OutputCodeClassifier,
)
from sklearn_mcnn._multiclass import _pairwise_coupling
from sklearn_mcnn._output_code import (
    _code_coupling,
    _euclidean_decision,
    _hamming_decision,
    _loss_distances,
    _min_row_distance,
    _random_code,
    make_code_book,
)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[::3]), y[::3]


DATASETS = {"iris": _iris, "digits": _digits}


def _assert_valid_columns(code):
    """Every column has both sides; no two columns equal up to sign."""
    assert ((code == 1).any(axis=0) & (code == -1).any(axis=0)).all()
    oriented = code * -code[np.argmax(code != 0, axis=0), np.arange(code.shape[1])]
    assert np.unique(oriented, axis=1).shape[1] == code.shape[1]


# --------------------------------------------------------------------------
# Code books


@pytest.mark.parametrize("n_classes", [3, 4, 5, 7])
def test_exhaustive_code_is_every_split(n_classes):
    code = make_code_book("exhaustive", n_classes)
    assert code.shape == (n_classes, 2 ** (n_classes - 1) - 1)
    _assert_valid_columns(code)
    assert set(np.unique(code)) == {-1, 1}
    # every split of the classes in two, once: the brute-force enumeration
    splits = {
        frozenset(side)
        for size in range(1, n_classes)
        for side in itertools.combinations(range(n_classes), size)
        if 0 in side
    }
    got = {frozenset(np.flatnonzero(column == column[0])) for column in code.T}
    assert got == splits
    # exhaustive codes have the largest possible row distance 2**(K-2)
    assert _min_row_distance(code) == 2 ** (n_classes - 2)


def test_exhaustive_code_limit():
    assert make_code_book("exhaustive", 12).shape == (12, 2047)
    with pytest.raises(ValueError,
                       match=r"4095 binary problems for 13.*limited to 12"):
        make_code_book("exhaustive", 13)


@pytest.mark.parametrize(("code", "factor", "zeros"), [("dense", 10, False),
                                                       ("sparse", 15, True)])
@pytest.mark.parametrize("n_classes", [10, 30])
def test_random_code_default_size_and_validity(code, factor, zeros, n_classes):
    book = make_code_book(code, n_classes, random_state=np.random.RandomState(0),
                          n_trials=5)
    assert book.shape == (n_classes, math.ceil(factor * math.log2(n_classes)))
    _assert_valid_columns(book)
    assert np.unique(book, axis=0).shape[0] == n_classes
    zero_fraction = np.mean(book == 0)
    if zeros:
        assert 0.4 < zero_fraction < 0.6
    else:
        assert zero_fraction == 0


@pytest.mark.parametrize(("n_classes", "n_columns", "ternary"),
                         [(6, 12, False), (6, 20, True), (40, 30, False),
                          (40, 40, True)])
def test_random_code_keeps_the_best_of_its_trials(n_classes, n_columns, ternary):
    # One trial at a time from the same stream gives the candidates: the
    # code kept is the first one with the largest minimum row distance.
    best = _random_code(n_classes, n_columns, ternary, 15, np.random.RandomState(3))
    rng = np.random.RandomState(3)
    candidates = [_random_code(n_classes, n_columns, ternary, 1, rng)
                  for _ in range(15)]
    distances = [_min_row_distance(c) for c in candidates]
    assert_array_equal(best, candidates[int(np.argmax(distances))])
    assert len(set(distances)) > 1  # the choice was not trivial


def test_random_code_caps_at_the_exhaustive_code():
    # 4 classes have 7 dense and 25 sparse usable columns
    assert_array_equal(make_code_book("dense", 4, code_size=50,
                                      random_state=np.random.RandomState(0)),
                       make_code_book("exhaustive", 4))
    sparse = make_code_book("sparse", 4, random_state=np.random.RandomState(0))
    assert sparse.shape == (4, 25)
    _assert_valid_columns(sparse)


def test_code_size_int_or_multiple():
    rng = np.random.RandomState(0)
    assert make_code_book("dense", 10, code_size=7, random_state=rng).shape == (10, 7)
    assert make_code_book("dense", 10, code_size=1.5,
                          random_state=rng).shape == (10, 15)
    with pytest.raises(ValueError, match="distinct code words"):
        make_code_book("dense", 10, code_size=3, random_state=rng)


def test_named_codes():
    assert_array_equal(make_code_book("ova", 3),
                       [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    assert_array_equal(make_code_book("ovo", 3),
                       [[-1, -1, 0], [1, 0, -1], [0, 1, 1]])
    for code in ("ova", "ovo", "exhaustive", "dense", "sparse"):
        book = make_code_book(code, 2, random_state=np.random.RandomState(0))
        assert_array_equal(book, [[-1], [1]])


@pytest.mark.parametrize(
    ("code", "match"),
    [
        (np.ones((4, 3)), r"shape \(n_classes, n_columns\) = \(3, L\)"),
        ([[1, -1], [-1, 2], [1, 1]], "only -1, 0 and"),
        ([[1, 0], [-1, 0], [0, 0]], r"columns \[1\] do not"),
        ([[1, -1], [-1, 1], [1, -1]], "two rows are equal"),
        ([[1, -1], [-1, 1], [0, 0]], "zeros only"),
    ],
)
def test_user_code_is_validated(code, match):
    X, y = _iris()
    with pytest.raises(ValueError, match=match):
        OutputCodeClassifier(LogisticRegression(), code=code).fit(X, y)


# --------------------------------------------------------------------------
# Equivalences


@pytest.mark.parametrize("dataset", DATASETS)
def test_user_code_matches_scikit_learn_euclidean(dataset):
    X, y = DATASETS[dataset]()
    base = LogisticRegression(max_iter=1000)
    ref = SkOutputCodeClassifier(base, code_size=2.0, random_state=0).fit(X, y)
    ours = OutputCodeClassifier(base, code=ref.code_book_, decoding="euclidean")
    with warnings.catch_warnings():
        # scikit-learn's code for iris has one-sided columns
        warnings.filterwarnings("ignore", "Sub-problem", UserWarning)
        ours.fit(X, y)
    assert_array_equal(ours.code_book_, ref.code_book_)
    assert_array_equal(ours.predict(X), ref.predict(X))
    for mine, theirs in zip(ours.estimators_, ref.estimators_, strict=True):
        if hasattr(theirs, "coef_"):
            assert_array_equal(mine.coef_, theirs.coef_)


def test_user_code_matches_scikit_learn_with_probabilities():
    # GaussianNB has no decision_function: scikit-learn's code book is in
    # {0, 1} and compared with probabilities; ours is in {-1, +1} and
    # compared with 2 p - 1, the same distances halved.
    X, y = _digits()
    ref = SkOutputCodeClassifier(GaussianNB(), random_state=1).fit(X, y)
    ours = OutputCodeClassifier(GaussianNB(), code=2 * ref.code_book_ - 1,
                                decoding="euclidean").fit(X, y)
    assert_array_equal(ours.predict(X), ref.predict(X))


BASES = {
    "softmax": None,
    "logistic": LogisticRegression(max_iter=1000),
}


@pytest.mark.parametrize("base", BASES.values(), ids=BASES.keys())
@pytest.mark.parametrize(
    ("decoding", "loss"),
    [("hamming", "logistic"), ("loss", "logistic"), ("loss", "exponential"),
     ("loss", "hinge")],
)
def test_ova_code_predicts_as_one_vs_all(base, decoding, loss):
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ecoc = OutputCodeClassifier(base, code="ova", decoding=decoding, loss=loss,
                                    random_state=0).fit(X, y)
        ova = OneVsAllClassifier(base, random_state=0).fit(X, y)
    for mine, theirs in zip(ecoc.estimators_, ova.estimators_, strict=True):
        assert_array_equal(mine.coef_, theirs.coef_)
    X_test = X + np.random.RandomState(0).normal(scale=0.5, size=X.shape)
    assert_array_equal(ecoc.predict(X_test), ova.predict(X_test))


@pytest.mark.parametrize("base", BASES.values(), ids=BASES.keys())
def test_ovo_code_predicts_as_one_vs_one(base):
    X, y = _digits()
    X_test = X + np.random.RandomState(0).normal(scale=0.5, size=X.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ecoc = OutputCodeClassifier(base, code="ovo", random_state=0).fit(X, y)
        ovo = OneVsOneClassifier(base, random_state=0).fit(X, y)
    for mine, theirs in zip(ecoc.estimators_, ovo.estimators_, strict=True):
        assert_array_equal(mine.coef_, theirs.coef_)
    # decoding='auto' is 'proba': one-vs-one's coupling
    assert_allclose(ecoc.predict_proba(X_test), ovo.predict_proba(X_test),
                    rtol=0, atol=1e-12)
    assert_array_equal(ecoc.predict(X_test), ovo.predict(X_test))
    # the Hamming decoding is one-vs-one's vote, ties broken by confidence
    ecoc.set_params(decoding="hamming")
    ovo.set_params(voting="confidence")
    assert_array_equal(ecoc.predict(X_test), ovo.predict(X_test))


# --------------------------------------------------------------------------
# Decoders and coupling against brute force and closed forms


def _random_problem(seed, n_samples=40, n_classes=5, n_columns=9):
    rng = np.random.RandomState(seed)
    code = make_code_book("sparse", n_classes, code_size=n_columns, random_state=rng)
    return rng, code


@pytest.mark.parametrize("loss", ["logistic", "exponential", "hinge"])
def test_loss_decoding_brute_force(loss):
    rng, code = _random_problem(0)
    margins = rng.normal(scale=3.0, size=(40, code.shape[1]))
    margins[0] *= 300  # exp(900) overflows: the exponential loss must not
    losses = {"logistic": lambda z: math.log1p(math.exp(-z)) if z > -30 else -z,
              "hinge": lambda z: max(0.0, 1.0 - z)}
    expected = np.empty((40, code.shape[0]))
    for i, r in itertools.product(range(40), range(code.shape[0])):
        terms = [code[r, s] * margins[i, s] for s in range(code.shape[1])
                 if code[r, s] != 0]
        if loss == "exponential":
            expected[i, r] = logsumexp([-z for z in terms])
        else:
            expected[i, r] = sum(losses[loss](z) for z in terms)
    got = _loss_distances(margins, code, loss)
    assert np.isfinite(got).all()
    assert_allclose(got, expected, rtol=1e-10)


def test_hamming_decoding_brute_force():
    rng, code = _random_problem(1)
    scores = rng.normal(size=(40, code.shape[1]))
    scores[:, 0] = 0.0  # on the threshold: counts 1/2 everywhere
    decision = _hamming_decision(scores, 0.0, code)
    for i in range(40):
        distance = np.array([
            sum((1 - code[r, s] * np.sign(scores[i, s])) / 2
                for s in range(code.shape[1]))
            for r in range(code.shape[0])
        ])
        nearest = np.flatnonzero(distance == distance.min())
        confidence = code[nearest] @ scores[i]
        assert np.argmax(decision[i]) == nearest[np.argmax(confidence)]
        assert_allclose(np.round(-decision[i] * 2) / 2, distance)


def test_euclidean_decoding_brute_force():
    rng, code = _random_problem(2)
    values = rng.normal(size=(40, code.shape[1]))
    expected = -np.linalg.norm(values[:, np.newaxis, :] - code[np.newaxis], axis=2)
    assert_allclose(_euclidean_decision(values, code), expected, rtol=1e-10)


def test_coupling_of_the_ova_code_is_the_closed_form():
    rng = np.random.RandomState(0)
    r = rng.uniform(0.1, 0.5, size=(30, 4))
    expected = r + (1.0 - r.sum(axis=1, keepdims=True)) / 4
    assert (expected > 0).all()
    assert_allclose(_code_coupling(r, make_code_book("ova", 4)), expected,
                    rtol=1e-10)


def test_coupling_of_the_ovo_code_is_pairwise_coupling():
    rng = np.random.RandomState(1)
    pair_proba = rng.uniform(size=(30, 10))
    assert_allclose(_code_coupling(pair_proba, make_code_book("ovo", 5)),
                    _pairwise_coupling(pair_proba, 5), rtol=0, atol=1e-13)


@pytest.mark.parametrize("code", ["dense", "sparse", "exhaustive"])
def test_coupling_recovers_consistent_probabilities(code):
    # r_s = q_s+ / (q_s+ + q_s-) exactly: the true p zeroes every residual
    rng = np.random.RandomState(2)
    book = make_code_book(code, 6, random_state=rng)
    p = rng.dirichlet(np.ones(6), size=25)
    positive = p @ (book == 1)
    negative = p @ (book == -1)
    r = positive / (positive + negative)
    assert_allclose(_code_coupling(r, book), p, atol=1e-9)


def test_underdetermined_coupling_is_a_distribution():
    rng = np.random.RandomState(3)
    book = make_code_book("dense", 12, code_size=5, random_state=rng)
    p = rng.dirichlet(np.ones(12), size=10)
    positive, negative = p @ (book == 1), p @ (book == -1)
    r = positive / (positive + negative)
    coupled = _code_coupling(r, book)
    assert_allclose(coupled.sum(axis=1), 1.0)
    assert (coupled >= 0).all()
    assert np.isfinite(coupled).all()


# --------------------------------------------------------------------------
# The estimator


@pytest.mark.parametrize("decoding", ["proba", "loss", "hamming", "euclidean"])
@pytest.mark.parametrize("code", ["dense", "sparse"])
def test_predict_is_argmax_of_decision_function(decoding, code):
    X, y = _digits()
    clf = OutputCodeClassifier(LogisticRegression(max_iter=300), code=code,
                               decoding=decoding, random_state=0).fit(X, y)
    X_test = X + np.random.RandomState(0).normal(scale=1.0, size=X.shape)
    assert_array_equal(clf.predict(X_test),
                       clf.classes_[clf.decision_function(X_test).argmax(axis=1)])
    if decoding == "proba":
        assert_array_equal(clf.predict(X_test),
                           clf.classes_[clf.predict_proba(X_test).argmax(axis=1)])
    assert clf.score(X, y) > 0.9


def test_binary_problem_is_the_original_problem():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    lr = LogisticRegression().fit(X, y)
    for code in ("dense", "sparse", "ova", "ovo", "exhaustive"):
        clf = OutputCodeClassifier(LogisticRegression(), code=code).fit(X, y)
        assert len(clf.estimators_) == 1
        assert_allclose(clf.predict_proba(X), lr.predict_proba(X))
        decision = clf.decision_function(X)
        assert decision.shape == (200,)
        assert_array_equal(clf.predict(X), (decision > 0).astype(int))


def test_decoding_proba_needs_predict_proba():
    X, y = _iris()
    with pytest.raises(ValueError, match="decoding='proba' needs"):
        OutputCodeClassifier(SGDClassifier(), decoding="proba").fit(X, y)
    clf = OutputCodeClassifier(SGDClassifier(random_state=0), random_state=0).fit(X, y)
    assert clf._decoding_rule() == "loss"
    assert not hasattr(clf, "predict_proba")


def test_zero_entries_leave_the_class_out():
    X, y = _iris()
    sw = np.random.RandomState(0).uniform(0.5, 2.0, size=y.size)
    code = np.array([[1, -1, 0], [-1, 0, 1], [0, 1, -1]])
    clf = OutputCodeClassifier(LogisticRegression(), code=code, decoding="loss")
    clf.fit(X, y, sample_weight=sw)
    for s, estimator in enumerate(clf.estimators_):
        rows = code[y, s] != 0
        ref = LogisticRegression().fit(X[rows], code[y[rows], s] > 0, sw[rows])
        assert_allclose(estimator.coef_, ref.coef_, rtol=1e-10)


def test_random_code_comes_from_random_state():
    X, y = _digits()
    a = OutputCodeClassifier(LogisticRegression(max_iter=300), random_state=0,
                             n_trials=5).fit(X, y)
    b = OutputCodeClassifier(LogisticRegression(max_iter=300),
                             random_state=np.random.RandomState(0),
                             n_trials=5).fit(X, y)
    c = OutputCodeClassifier(LogisticRegression(max_iter=300), random_state=1,
                             n_trials=5).fit(X, y)
    assert_array_equal(a.code_book_, b.code_book_)
    assert not np.array_equal(a.code_book_, c.code_book_)
    assert_array_equal(a.code_book_,
                       make_code_book("dense", 10, n_trials=5,
                                      random_state=np.random.RandomState(0)))


def test_partial_fit_draws_the_code_once():
    X, y = _digits()
    classes = np.unique(y)
    clf = OutputCodeClassifier(SGDClassifier(loss="log_loss", random_state=0),
                               code="sparse", random_state=0, n_trials=5)
    for batch in np.array_split(np.arange(y.size), 4):
        clf.partial_fit(X[batch], y[batch], classes=classes)
        if batch[0] == 0:
            book = clf.code_book_.copy()
    assert_array_equal(clf.code_book_, book)
    assert clf.score(X, y) > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("code", ["dense", "sparse"])
def test_random_codes_are_about_as_accurate_as_one_vs_all(code):
    X, y = make_classification(n_samples=3000, n_features=30, n_informative=20,
                               n_classes=12, n_clusters_per_class=1,
                               class_sep=2.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ecoc = OutputCodeClassifier(code=code, random_state=0).fit(X[:2000], y[:2000])
        ova = OneVsAllClassifier(random_state=0).fit(X[:2000], y[:2000])
    assert ecoc.score(X[2000:], y[2000:]) > ova.score(X[2000:], y[2000:]) - 0.03
