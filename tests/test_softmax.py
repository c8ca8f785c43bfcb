"""SoftmaxClassifier against closed forms and scikit-learn's LogisticRegression."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_mcnn import SoftmaxClassifier

STOCHASTIC = {
    "sgd": dict(learning_rate_init=0.05),
    "adam": dict(learning_rate_init=0.01),
    "adagrad": dict(learning_rate_init=0.5),
    "rmsprop": dict(learning_rate_init=0.003),
}


def objective(clf, X, y, alpha, sample_weight=None):
    """F(W) computed independently in NumPy (log-sum-exp)."""
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    Z = X @ clf.coef_.T.astype(np.float64) + clf.intercept_
    idx = np.searchsorted(clf.classes_, y)
    loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), idx]
    return np.sum(sw * loss) / sw.sum() + 0.5 * alpha * np.sum(clf.coef_**2)


@pytest.mark.parametrize("with_weights", [False, True])
def test_lbfgs_matches_logistic_regression(well_conditioned, with_weights):
    X, y = well_conditioned
    alpha = 1e-2
    sw = np.random.RandomState(0).randint(0, 4, len(y)) if with_weights else None
    total = len(y) if sw is None else sw.sum()
    ours = SoftmaxClassifier(alpha=alpha, tol=1e-10, max_iter=1000).fit(
        X, y, sample_weight=sw)
    ref = LogisticRegression(C=1 / (alpha * total), tol=1e-10, max_iter=1000).fit(
        X, y, sample_weight=sw)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert_allclose(objective(ours, X, y, alpha, sw), ours.loss_, rtol=1e-10)


def test_binary_lbfgs_matches_logistic_regression(well_conditioned):
    """Two classes: the softmax's two weight rows are opposite at the optimum,
    so its penalty is half LogisticRegression's: C = 2 / (alpha n)."""
    X, y = well_conditioned
    y = y % 2
    alpha = 1e-2
    ours = SoftmaxClassifier(alpha=alpha, tol=1e-10, max_iter=1000).fit(X, y)
    ref = LogisticRegression(C=2 / (alpha * len(y)), tol=1e-10,
                             max_iter=1000).fit(X, y)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert_allclose(ours.coef_[1] - ours.coef_[0], ref.coef_[0], rtol=1e-4)


def test_integer_weights_equal_repeated_rows(well_conditioned):
    X, y = well_conditioned
    sw = np.random.RandomState(1).randint(0, 3, len(y))
    a = SoftmaxClassifier(tol=1e-10).fit(X, y, sample_weight=sw)
    b = SoftmaxClassifier(tol=1e-10).fit(np.repeat(X, sw, 0), np.repeat(y, sw))
    assert_allclose(a.coef_, b.coef_, atol=1e-6)


@pytest.mark.parametrize("solver", sorted(STOCHASTIC))
def test_stochastic_solvers_reach_the_optimum(well_conditioned, solver, quiet_fit):
    X, y = well_conditioned
    alpha = 1e-2
    best = SoftmaxClassifier(alpha=alpha, tol=1e-10, max_iter=1000).fit(X, y)
    clf = SoftmaxClassifier(alpha=alpha, solver=solver, batch_size=32,
                            max_iter=300, tol=1e-6, random_state=0,
                            **STOCHASTIC[solver])
    quiet_fit(clf, X, y)
    f_best = objective(best, X, y, alpha)
    assert objective(clf, X, y, alpha) <= 1.01 * f_best


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False),
                                               (0.9, True)])
def test_sgd_variants_reach_the_optimum(well_conditioned, momentum, nesterov,
                                        quiet_fit):
    X, y = well_conditioned
    alpha = 1e-2
    best = SoftmaxClassifier(alpha=alpha, tol=1e-10, max_iter=1000).fit(X, y)
    lr = 0.05
    clf = SoftmaxClassifier(alpha=alpha, solver="sgd", momentum=momentum,
                            nesterovs_momentum=nesterov, learning_rate_init=lr,
                            batch_size=32, max_iter=300, tol=1e-6,
                            random_state=0)
    quiet_fit(clf, X, y)
    assert objective(clf, X, y, alpha) <= 1.01 * objective(best, X, y, alpha)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_float32_stays_float32(well_conditioned, solver, quiet_fit):
    X, y = well_conditioned
    kw = dict(solver=solver, random_state=0, max_iter=50, tol=0)
    c32 = quiet_fit(SoftmaxClassifier(**kw), X.astype(np.float32), y)
    c64 = quiet_fit(SoftmaxClassifier(**kw), X, y)
    assert c32.coef_.dtype == np.float32 and c32.intercept_.dtype == np.float32
    assert c32.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert c64.coef_.dtype == np.float64
    assert_allclose(c32.coef_, c64.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_csr_and_dense_give_the_same_model(well_conditioned, solver, quiet_fit):
    X, y = well_conditioned
    X = X * (np.abs(X) > 0.5)   # some zeros
    kw = dict(solver=solver, random_state=3, max_iter=20)
    dense = quiet_fit(SoftmaxClassifier(**kw), X, y)
    csr = quiet_fit(SoftmaxClassifier(**kw), sp.csr_matrix(X), y)
    assert_allclose(dense.coef_, csr.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(dense.predict_proba(X), csr.predict_proba(sp.csr_matrix(X)),
                    rtol=1e-9)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam", "rmsprop", "adagrad"])
def test_same_random_state_is_bit_identical(well_conditioned, solver, quiet_fit):
    X, y = well_conditioned
    kw = dict(solver=solver, random_state=7, max_iter=5)
    a = quiet_fit(SoftmaxClassifier(**kw), X, y)
    b = quiet_fit(SoftmaxClassifier(**kw), X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)


def test_binary_shapes_and_decision_function(well_conditioned):
    X, y = well_conditioned
    y = y % 2
    clf = SoftmaxClassifier().fit(X, y)
    assert clf.coef_.shape == (2, X.shape[1])
    assert clf.intercept_.shape == (2,)
    d = clf.decision_function(X)
    assert d.shape == (X.shape[0],)
    assert_array_equal(clf.predict(X), clf.classes_[(d > 0).astype(int)])
    scores = X @ clf.coef_.T + clf.intercept_
    assert_allclose(d, scores[:, 1] - scores[:, 0], rtol=1e-10)


def test_predict_sample_draws_from_predict_proba(well_conditioned):
    X, y = well_conditioned
    clf = SoftmaxClassifier(alpha=1.0).fit(X, y)   # a soft model
    x = np.repeat(X[:1], 20000, axis=0)
    draws = clf.predict_sample(x, random_state=0)
    freq = np.array([(draws == k).mean() for k in clf.classes_])
    p = clf.predict_proba(X[:1])[0]
    # Binomial standard error at n = 20000 is at most 0.0036.
    assert_allclose(freq, p, atol=0.015)
    assert_array_equal(draws, clf.predict_sample(x, random_state=0))
    assert set(np.unique(clf.predict_sample(X, random_state=1))) <= set(clf.classes_)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive", "cosine"])
def test_learning_rate_schedules(well_conditioned, schedule, quiet_fit):
    X, y = well_conditioned
    clf = SoftmaxClassifier(solver="sgd", learning_rate=schedule,
                            learning_rate_init=0.1, max_iter=30, tol=0,
                            n_iter_no_change=2, random_state=0)
    quiet_fit(clf, X, y)
    best = SoftmaxClassifier().fit(X, y).score(X, y)
    assert clf.score(X, y) > best - 0.03
    if schedule == "adaptive":
        # tol=0 and a plateau: the rate was divided by 5 at least once.
        assert clf._learning_rate < 0.1


def test_cosine_schedule_values():
    clf = SoftmaxClassifier(learning_rate="cosine", learning_rate_init=1.0,
                            max_iter=4)
    rates = []
    for epoch in range(5):
        clf.n_iter_ = epoch
        rates.append(clf._epoch_learning_rate())
    assert_allclose(rates, 0.5 * (1 + np.cos(np.pi * np.arange(5) / 4)))


def test_invscaling_schedule_values():
    clf = SoftmaxClassifier(learning_rate="invscaling", learning_rate_init=1.0,
                            power_t=0.5)
    clf.t_ = 99
    assert clf._epoch_learning_rate() == pytest.approx(0.1)


def test_early_stopping_keeps_best_weights(digits):
    X, y = digits
    clf = SoftmaxClassifier(solver="adam", learning_rate_init=0.05,
                            early_stopping=True, validation_fraction=0.2,
                            n_iter_no_change=3, max_iter=100, random_state=0)
    clf.fit(X, y)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 100
    # The stored model is the best epoch's: re-score it on the same split.
    from sklearn.model_selection import train_test_split
    rng = np.random.RandomState(0)
    # Reproduce the split: the driver draws the initial weights (none for
    # softmax), then the split from the estimator's RandomState.
    _, val = train_test_split(np.arange(len(y)), test_size=0.2, random_state=rng,
                              stratify=y)
    assert clf.score(X[np.sort(val)], y[np.sort(val)]) == pytest.approx(
        clf.best_validation_score_)


def test_warm_start_and_partial_fit(well_conditioned, quiet_fit):
    X, y = well_conditioned
    kw = dict(solver="sgd", learning_rate_init=0.05, random_state=0, shuffle=False)
    # Two partial_fit epochs equal a two-epoch fit (same order, same state).
    a = SoftmaxClassifier(**kw, max_iter=2, tol=0, n_iter_no_change=100)
    quiet_fit(a, X, y)
    b = SoftmaxClassifier(**kw)
    b.partial_fit(X, y, classes=np.unique(y)).partial_fit(X, y)
    assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert b.n_iter_ == 2 and b.t_ == 2 * len(y)
    # warm_start continues from the previous solution.
    c = SoftmaxClassifier(warm_start=True, max_iter=5, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        c.fit(X, y)
        first = c.loss_
        c.fit(X, y)
    assert c.loss_ < first


def test_partial_fit_only_for_stochastic_solvers():
    assert not hasattr(SoftmaxClassifier(), "partial_fit")
    assert hasattr(SoftmaxClassifier(solver="adam"), "partial_fit")


def test_class_weight_equals_sample_weight(well_conditioned):
    X, y = well_conditioned
    cw = {0: 1.0, 1: 2.0, 2: 0.5, 3: 3.0}
    a = SoftmaxClassifier(class_weight=cw, tol=1e-10).fit(X, y)
    b = SoftmaxClassifier(tol=1e-10).fit(
        X, y, sample_weight=np.vectorize(cw.get)(y))
    assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-9)
    balanced = SoftmaxClassifier(class_weight="balanced").fit(X[:150], y[:150])
    assert balanced.score(X, y) > 0.5


def test_zero_weight_is_removing_the_row(well_conditioned):
    X, y = well_conditioned
    sw = np.ones(len(y))
    sw[::3] = 0
    a = SoftmaxClassifier(tol=1e-10).fit(X, y, sample_weight=sw)
    b = SoftmaxClassifier(tol=1e-10).fit(X[sw > 0], y[sw > 0])
    assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)


def test_verbose_prints_one_line_per_epoch(well_conditioned, capsys):
    X, y = well_conditioned
    SoftmaxClassifier(solver="adam", max_iter=3, tol=0, verbose=1,
                      early_stopping=True, random_state=0).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines()
             if ln.startswith("Epoch")]
    assert len(lines) == 3
    assert re.match(r"Epoch 1, loss = [0-9.]+, validation score = [0-9.]+, "
                    r"validation loss = [0-9.]+, [0-9.]+ s", lines[0])


def test_labels_of_any_type(well_conditioned):
    X, y = well_conditioned
    names = np.array(["ant", "bee", "cat", "dog"], dtype=object)[y]
    clf = SoftmaxClassifier().fit(X, names)
    assert set(clf.predict(X)) <= set(names)
    assert_array_equal(clf.classes_, ["ant", "bee", "cat", "dog"])


def test_callbacks(well_conditioned, quiet_fit):
    callback = pytest.importorskip("sklearn.callback")
    X, y = well_conditioned

    class Recorder:
        def __init__(self):
            self.ends = 0
            self.fitted = []

        def setup(self, estimator, context):
            pass

        def on_fit_task_begin(self, estimator, context):
            pass

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            self.ends += 1
            if fitted_estimator is not None:
                self.fitted.append(fitted_estimator.score(X, y))
            return False

        def teardown(self, estimator, context):
            pass

    rec = Recorder()
    assert isinstance(rec, callback.FitCallback)
    clf = SoftmaxClassifier(solver="adam", max_iter=4, tol=0, random_state=0)
    clf.set_callbacks(rec)
    quiet_fit(clf, X, y)
    assert rec.ends == 4 + 1          # one per epoch, one for the fit
    assert len(rec.fitted) == rec.ends
    assert rec.fitted[-1] == pytest.approx(clf.score(X, y))

    # scikit-learn's own scoring monitor, with both kinds of solver.
    for solver in ("adam", "lbfgs"):
        monitor = callback.ScoringMonitor(scoring="accuracy")
        est = SoftmaxClassifier(solver=solver, max_iter=3, tol=0)
        est.set_callbacks(monitor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        log = monitor.get_logs()
        log = log[0] if isinstance(log, list) else log
        assert len(log.data) >= 3


def test_fit_classes_parameter(well_conditioned):
    """fit's ``classes=``: the classes of y give the same model as none; a
    class without samples is kept (its probability trained towards zero);
    a label outside ``classes`` is refused."""
    X, y = well_conditioned
    plain = SoftmaxClassifier().fit(X, y)
    given = SoftmaxClassifier().fit(X, y, classes=np.unique(y)[::-1])
    assert_array_equal(given.coef_, plain.coef_)
    extra = SoftmaxClassifier().fit(X, y, classes=[*np.unique(y), 99])
    assert_array_equal(extra.classes_, [*np.unique(y), 99])
    assert extra.predict_proba(X)[:, -1].max() < 0.01
    with pytest.raises(ValueError, match=r"labels \[.*\] that are not in classes"):
        SoftmaxClassifier().fit(X, y, classes=np.unique(y)[1:])
