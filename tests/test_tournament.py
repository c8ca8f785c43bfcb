"""TournamentClassifier: the bracket structure, the filtering against a
filter tree trained by hand, predict against brute-force evaluations of the
tournament, predict_proba against path products and an enumeration of all
match outcomes, and Vowpal Wabbit's ECT as a yardstick."""

import itertools
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_mcnn import SoftmaxClassifier, TournamentClassifier
from sklearn_mcnn._tournament import build_tournament


def _digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _hard(n_classes=16, seed=0):
    """Overlapping classes: uncertain nodes, where the walk down and the
    most probable class can differ."""
    X, y = make_classification(n_samples=60 * n_classes, n_features=10,
                               n_informative=8, n_classes=n_classes,
                               n_clusters_per_class=1, class_sep=0.7,
                               random_state=seed)
    return StandardScaler().fit_transform(X), y


def _play(nodes, champion, n_classes, right_wins):
    """Evaluate the tournament bottom-up with `right_wins(node, left class,
    right class)`. Returns the champion class and each class's losses."""
    carried = {k: k for k in range(n_classes)}
    losses = np.zeros(n_classes, dtype=int)
    for n, (left, right) in enumerate(nodes):
        a, b = carried[left], carried[right]
        winner, loser = (b, a) if right_wins(n, a, b) else (a, b)
        carried[n_classes + 2 * n], carried[n_classes + 2 * n + 1] = winner, loser
        losses[loser] += 1
    return carried[champion], losses


# --------------------------------------------------------------------------
# Structure


@pytest.mark.parametrize("n_classes", [2, 3, 5, 8, 10, 17, 100])
def test_filter_tree_structure(n_classes):
    nodes, champion = build_tournament(n_classes, 0)
    assert nodes.shape == (n_classes - 1, 2)
    # every leaf and every node's winner enters exactly one match, except
    # the champion; no node takes a loser
    entrants = np.sort(nodes.ravel())
    expected = [k for k in range(n_classes + 2 * (n_classes - 1))
                if (k < n_classes or (k - n_classes) % 2 == 0) and k != champion]
    assert_array_equal(entrants, expected)
    # depth ceil(log2 K): the longest path from a leaf to the final
    depth = dict.fromkeys(range(n_classes), 0)
    for n, (left, right) in enumerate(nodes):
        depth[n_classes + 2 * n] = 1 + max(depth[left], depth[right])
    assert depth[champion] == math.ceil(math.log2(n_classes))


@pytest.mark.parametrize(("n_classes", "n_errors"),
                         [(2, 1), (3, 2), (8, 1), (10, 1), (10, 3), (33, 2)])
def test_error_correcting_tournament_counts(n_classes, n_errors):
    nodes, _ = build_tournament(n_classes, n_errors)
    # every match but the final's e matches eliminates a class from a
    # bracket: K - e - 1 classes lose e + 1 times, the champion of bracket b
    # loses b times
    e = n_errors
    assert len(nodes) == (n_classes - e - 1) * (e + 1) + e * (e + 1) // 2 + e


@pytest.mark.parametrize(("n_classes", "n_errors"), [(5, 1), (8, 2), (13, 3)])
def test_a_class_that_loses_at_most_e_bracket_matches_can_still_win(
        n_classes, n_errors):
    nodes, champion = build_tournament(n_classes, n_errors)
    rng = np.random.RandomState(0)
    for target in range(n_classes):
        for _ in range(5):
            lost = []

            def right_wins(n, a, b, target=target, lost=lost):
                if target in (a, b):
                    # the target loses its first n_errors matches
                    lose = len(lost) < n_errors
                    lost.append(n)
                    return (b == target) != lose
                return bool(rng.randint(2))

            won, losses = _play(nodes, champion, n_classes, right_wins)
            assert won == target
            assert losses[target] == n_errors
            # everyone else is out after n_errors + 1 losses at most
            assert losses.max() <= n_errors + 1


# --------------------------------------------------------------------------
# Training: the filtering


def test_filter_tree_trained_by_hand():
    # Four classes: nodes (0, 1) and (2, 3) on their classes' rows, then the
    # final on the rows whose class won its first match, with label 1 when
    # the class is in {2, 3}.
    X, y = _hard(4, seed=1)
    clf = TournamentClassifier(LogisticRegression()).fit(X, y)
    assert_array_equal(clf.nodes_, [[0, 1], [2, 3], [4, 6]])
    rows_01, rows_23 = np.isin(y, [0, 1]), np.isin(y, [2, 3])
    node_01 = LogisticRegression().fit(X[rows_01], y[rows_01] == 1)
    node_23 = LogisticRegression().fit(X[rows_23], y[rows_23] == 3)
    won_01 = rows_01 & (node_01.predict(X) == (y == 1))
    won_23 = rows_23 & (node_23.predict(X) == (y == 3))
    final_rows = won_01 | won_23
    final = LogisticRegression().fit(X[final_rows], won_23[final_rows])
    for estimator, ref in zip(clf.estimators_, [node_01, node_23, final],
                              strict=True):
        assert_allclose(estimator.coef_, ref.coef_, rtol=1e-12)
    assert final_rows.sum() < y.size  # the filtering removed rows


def test_sample_weight_reaches_the_nodes():
    X, y = _hard(4, seed=1)
    sw = np.random.RandomState(0).randint(0, 3, size=y.size).astype(float)
    clf = TournamentClassifier(LogisticRegression()).fit(X, y, sample_weight=sw)
    rows = np.isin(y, [0, 1])
    ref = LogisticRegression().fit(X[rows], y[rows] == 1, sw[rows])
    assert_allclose(clf.estimators_[0].coef_, ref.coef_, rtol=1e-10)
    # zero weight is the same as removing the rows
    kept = sw > 0
    removed = TournamentClassifier(LogisticRegression()).fit(
        X[kept], y[kept], sample_weight=sw[kept])
    for a, b in zip(clf.estimators_, removed.estimators_, strict=True):
        assert_allclose(a.coef_, b.coef_, rtol=1e-8)


# --------------------------------------------------------------------------
# Prediction


class _Margin(ClassifierMixin, BaseEstimator):
    """A linear binary classifier without predict_proba (least squares)."""

    def fit(self, X, y):
        A = np.column_stack([X, np.ones(len(X))])
        self.w_ = np.linalg.lstsq(A, 2.0 * y - 1.0, rcond=None)[0]
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return X @ self.w_[:-1] + self.w_[-1]

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


@pytest.mark.parametrize("n_errors", [0, 1, 2])
def test_predict_without_proba_is_the_bottom_up_tournament(n_errors):
    X, y = _hard(11)
    clf = TournamentClassifier(_Margin(), n_errors=n_errors).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    pred = clf.predict(X)
    for i in range(0, y.size, 7):
        won, _ = _play(clf.nodes_, clf.champion_, 11,
                       lambda n, a, b, i=i: clf.estimators_[n].predict(X[i:i + 1])[0]
                       == 1)
        assert pred[i] == won


@pytest.mark.parametrize("n_errors", [0, 1, 2])
@pytest.mark.parametrize("base", [LogisticRegression(), SoftmaxClassifier(alpha=1.0)],
                         ids=["logistic", "softmax"])
def test_predict_is_argmax_of_predict_proba_on_uncertain_nodes(base, n_errors):
    X, y = _hard(16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = TournamentClassifier(base, n_errors=n_errors).fit(X, y)
    X_test = X + np.random.RandomState(0).normal(size=X.shape)
    proba = clf.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(X_test)
    assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    if n_errors == 0:
        # the walk down alone would often disagree: the search mattered
        walk = np.array([
            _play(clf.nodes_, clf.champion_, 16,
                  lambda n, a, b, i=i: clf.estimators_[n].predict_proba(
                      X_test[i:i + 1])[0, 1] > 0.5)[0]
            for i in range(len(X_test))])
        assert np.mean(walk != pred) > 0.01
    # search='walk' is that walk, at one node per level, without predict_proba
    clf.set_params(search="walk")
    walked = np.array([
        _play(clf.nodes_, clf.champion_, 16,
              lambda n, a, b, i=i: clf.estimators_[n].predict_proba(
                  X_test[i:i + 1])[0, 1] > 0.5)[0]
        for i in range(0, len(X_test), 3)])
    assert_array_equal(clf.predict(X_test[::3]), walked)
    assert not hasattr(clf, "predict_proba")
    if n_errors == 0:
        per_row = np.asarray(clf.decision_path(X_test).sum(axis=1)).ravel()
        assert per_row.max() == 4  # ceil(log2 16): one node per level


def test_filter_tree_proba_is_the_product_along_the_path():
    X, y = _hard(7)
    clf = TournamentClassifier(LogisticRegression()).fit(X, y)
    X_test = X[::5]
    node_p = np.column_stack([e.predict_proba(X_test)[:, 1] for e in clf.estimators_])
    expected = np.ones((len(X_test), 7))
    for k in range(7):
        entrant = k
        for n, (left, right) in enumerate(clf.nodes_):
            if entrant in (left, right):
                expected[:, k] *= node_p[:, n] if entrant == right else 1 - node_p[:, n]
                entrant = 7 + 2 * n
        assert entrant == clf.champion_
    assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-12)


@pytest.mark.parametrize(("n_classes", "n_errors"), [(3, 1), (4, 1), (3, 2)])
def test_ect_proba_is_the_probability_of_winning(n_classes, n_errors):
    # Enumerate every outcome of the matches, each node an independent
    # random match: the probability that each class ends champion.
    X, y = _hard(n_classes, seed=2)
    clf = TournamentClassifier(LogisticRegression(), n_errors=n_errors).fit(X, y)
    X_test = X[:20]
    q = np.column_stack([e.predict_proba(X_test)[:, 1] for e in clf.estimators_])
    n_nodes = len(clf.nodes_)
    expected = np.zeros((len(X_test), n_classes))
    for outcome in itertools.product([False, True], repeat=n_nodes):
        won, _ = _play(clf.nodes_, clf.champion_, n_classes,
                       lambda n, a, b, outcome=outcome: outcome[n])
        weight = np.prod(np.where(outcome, q, 1 - q), axis=1)
        expected[:, won] += weight
    assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-10)


@pytest.mark.parametrize("n_classes", [8, 10, 64])
def test_decision_path_of_confident_nodes_is_one_node_per_level(n_classes):
    # classes at the corners of a simplex: every union of classes is
    # linearly separable from the others, so every node can be confident
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(n_classes), 30)
    X = 10.0 * np.eye(n_classes)[y] + rng.normal(scale=0.3, size=(y.size, n_classes))
    clf = TournamentClassifier(LogisticRegression()).fit(X, y)
    assert clf.score(X, y) > 0.95
    path = clf.decision_path(X)
    assert path.shape == (len(y), n_classes - 1)
    per_row = np.asarray(path.sum(axis=1)).ravel()
    depth = math.ceil(math.log2(n_classes))
    # the walk down: the depth of the leaf reached (at most ceil(log2 K)),
    # and rarely a branch more
    assert np.mean(per_row) <= depth + 0.1
    assert np.median(per_row) <= depth
    # the final is always evaluated, and the predicted leaf's match
    assert (path[:, len(clf.nodes_) - 1].toarray() == 1).all()
    leaf_node = {k: n for n, pair in enumerate(clf.nodes_) for k in pair
                 if k < n_classes}
    pred = np.searchsorted(clf.classes_, clf.predict(X))
    assert all(path[i, leaf_node[pred[i]]] == 1 for i in range(len(y)))


def test_two_classes_is_the_original_problem():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    clf = TournamentClassifier(LogisticRegression()).fit(X, y)
    ref = LogisticRegression().fit(X, y)
    assert len(clf.estimators_) == 1
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X))
    assert_array_equal(clf.predict(X), ref.predict(X))


def test_partial_fit_filters_with_the_updated_nodes():
    X, y = _digits()
    classes = np.unique(y)
    clf = TournamentClassifier(SGDClassifier(loss="log_loss", random_state=0),
                               random_state=0)
    batches = np.array_split(np.random.RandomState(0).permutation(y.size), 5)
    for batch in batches[:4]:
        clf.partial_fit(X[batch], y[batch], classes=classes)
    assert clf.score(X[batches[4]], y[batches[4]]) > 0.8
    assert_array_equal(clf.nodes_, build_tournament(10, 0)[0])


def test_string_labels():
    X, y = _hard(5)
    names = np.array(["a", "b", "c", "d", "e"])
    clf = TournamentClassifier(LogisticRegression(), n_errors=1).fit(X, names[y])
    assert set(clf.predict(X)) <= set(names)
    assert clf.score(X, names[y]) > 0.5


# --------------------------------------------------------------------------
# Vowpal Wabbit's ECT as a yardstick


@pytest.mark.extras
@pytest.mark.parametrize("n_errors", [0, 1])
def test_accuracy_against_vowpal_wabbit_ect(n_errors):
    vowpalwabbit = pytest.importorskip("vowpalwabbit")
    X, y = _digits()
    train, test = np.arange(0, y.size, 2), np.arange(1, y.size, 2)

    def line(x, label=""):
        features = " ".join(f"f{j}:{v:.6g}" for j, v in enumerate(x) if v != 0)
        return f"{label} | {features}"

    vw = vowpalwabbit.Workspace(
        f"--ect 10 --error {n_errors} --quiet --random_seed 0")
    rng = np.random.RandomState(0)
    for _ in range(10):  # ten online passes
        for i in rng.permutation(train):
            vw.learn(line(X[i], y[i] + 1))
    vw_accuracy = np.mean([vw.predict(line(X[i])) - 1 == y[i] for i in test])
    vw.finish()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = TournamentClassifier(n_errors=n_errors, random_state=0)
        accuracy = ours.fit(X[train], y[train]).score(X[test], y[test])
    assert vw_accuracy > 0.85
    assert accuracy > vw_accuracy - 0.04
