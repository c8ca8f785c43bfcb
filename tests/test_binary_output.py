"""Two classes train one logistic output (``_engine.OneOutput``).

L-BFGS fits a two-class ``SoftmaxClassifier`` as the single weight vector
``v = w_1 − w_0`` with the penalty ``alpha / 2`` and exposes the two rows
``±v/2``: the same optimum as the two-row softmax, half the parameters.
Two-class networks with hidden layers train the same way: one output unit
on the same hidden layers, whose stationary points are the two-row
network's.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, logsumexp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
    _network,
)
from sklearn_mcnn._engine import OneOutput
from sklearn_mcnn.utils import check_gradient


class TwoRowSoftmax(SoftmaxClassifier):
    """Today's model before the change: L-BFGS on the two softmax rows."""

    def _full_batch_problem(self):
        return self._training_network(), self._params, self.alpha, None


class TwoRowMLP(MLPBackpropClassifier):
    """A network trained on its two softmax rows, as before the change."""

    def _full_batch_problem(self):
        return self._training_network(), self._params, self.alpha, None


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=400, n_features=12, n_informative=6,
                               random_state=0)
    return X, y


def objective(clf, X, y, alpha, sw=None, eps=0.0):
    """The two-class softmax objective F(W, b), in NumPy."""
    sw = np.ones(len(y)) if sw is None else sw
    Z = X @ clf.coef_.T.astype(np.float64) + clf.intercept_
    q = np.full(Z.shape, eps / 2)
    q[np.arange(len(y)), np.searchsorted(clf.classes_, y)] += 1 - eps
    loss = logsumexp(Z, axis=1) - np.sum(q * Z, axis=1)
    return np.sum(sw * loss) / sw.sum() + 0.5 * alpha * np.sum(clf.coef_**2)


def test_lbfgs_trains_one_vector_for_two_classes(binary):
    X, _ = binary
    clf = SoftmaxClassifier()
    clf._initialize((X.shape[1], 2), X.dtype, np.random.RandomState(0))
    net, params, alpha, expand = clf._full_batch_problem()
    assert net.sizes == (X.shape[1], 1) and net.loss_name == "binary_log_loss"
    assert params.size == X.shape[1] + 1
    # alpha as it is, the output layer's share halved
    assert alpha == clf.alpha and net.output_penalty == 0.5
    assert expand is not None
    mlp = MLPBackpropClassifier((3,), solver="lbfgs")
    mlp._initialize((X.shape[1], 3, 2), X.dtype, np.random.RandomState(0))
    net, params, alpha, expand = mlp._full_batch_problem()
    assert net.sizes == (X.shape[1], 3, 1) and net.output_penalty == 0.5
    assert params.size == X.shape[1] * 3 + 3 + 3 + 1 and expand is not None
    # Stochastic solvers and more classes keep the two-row problem.
    for est, sizes in [(SoftmaxClassifier(solver="adam"), (X.shape[1], 2)),
                       (MLPBackpropClassifier((3,), solver="adam"),
                        (X.shape[1], 3, 2)),
                       (SoftmaxClassifier(), (X.shape[1], 3))]:
        est._initialize(sizes, X.dtype, np.random.RandomState(0))
        net, params, alpha, expand = est._full_batch_problem()
        assert net.sizes == sizes and expand is None
        assert params is est._params and alpha == est.alpha


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1},
                                     {"class_weight": "balanced"}],
                         ids=["plain", "smoothing", "class-weight"])
def test_equals_the_two_row_fit(binary, dtype, sparse, options):
    """The fitted model is today's (L-BFGS on both rows) to the solver's
    tolerance, with the same objective, in the input's dtype."""
    X, y = binary
    X = X.astype(dtype)
    X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0)) if sparse else X
    sw = np.random.RandomState(1).randint(0, 4, len(y)).astype(float)
    kw = dict(alpha=1e-2, tol=1e-9, max_iter=1000, **options)
    ours = SoftmaxClassifier(**kw).fit(X, y, sample_weight=sw)
    today = TwoRowSoftmax(**kw).fit(X, y, sample_weight=sw)
    assert ours.coef_.dtype == dtype and ours.intercept_.dtype == dtype
    assert ours.coef_.shape == (2, X.shape[1]) and ours.intercept_.shape == (2,)
    # Two L-BFGS paths stop near ‖∇F‖ ~ 1e-8 (F's rounding), at most
    # ‖∇F‖ / (α/2) = 2e-6 from the optimum each.
    atol = 1e-5 if dtype == np.float64 else 2e-3
    assert_allclose(ours.coef_, today.coef_, atol=atol)
    assert_allclose(ours.intercept_, today.intercept_, atol=atol)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(ours.loss_, today.loss_, rtol=rtol)
    # loss_ is the two-class objective of the exposed rows
    weights = sw * (1.0 if "class_weight" not in options else
                    (len(y) / (2 * np.bincount(y)))[y])
    Xd = X.toarray() if sparse else X
    assert_allclose(objective(ours, Xd.astype(np.float64), y, 1e-2, weights,
                              options.get("label_smoothing", 0.0)),
                    ours.loss_, rtol=10 * rtol)


@pytest.mark.parametrize("sparse", [False, True])
def test_matches_logistic_regression_at_c_two_over_alpha_sum(binary, sparse):
    """The optimum of ``LogisticRegression`` at ``C = 2 / (α Σ s)``, solved
    to machine precision by Newton's method.  L-BFGS, which measures its
    progress in F, stops near ``‖∇F‖ ~ 1e-8`` (below that, F's rounding
    hides the decrease of a step); the penalty's curvature ``α/2`` bounds
    the distance to the optimum by ``‖∇F‖ / (α/2)``."""
    X, y = binary
    X = sp.csr_matrix(X) if sparse else X
    alpha = 1e-2
    sw = np.random.RandomState(0).randint(0, 4, len(y)).astype(float)
    ours = SoftmaxClassifier(alpha=alpha, tol=1e-10, max_iter=1000).fit(
        X, y, sample_weight=sw)
    ref = LogisticRegression(C=2 / (alpha * sw.sum()), solver="newton-cholesky",
                             tol=1e-14, max_iter=100).fit(X, y, sample_weight=sw)
    v = ours.coef_[1] - ours.coef_[0]
    c = ours.intercept_[1] - ours.intercept_[0]
    # Stationarity, by NumPy: the gradient of mean_s ℓ(v·x + c) + (α/4)‖v‖².
    Xd = X.toarray() if sparse else X
    residual = sw * (1 / (1 + np.exp(-(Xd @ v + c))) - y) / sw.sum()
    gradient = np.r_[Xd.T @ residual + alpha / 2 * v, residual.sum()]
    assert np.abs(gradient).max() < 1e-7
    assert_allclose(v, ref.coef_[0], atol=1e-5)
    assert_allclose(ours.decision_function(X), ref.decision_function(X),
                    atol=1e-5)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_rows_are_opposite_and_the_contract_holds(binary):
    X, y = binary
    labels = np.array(["no", "yes"])[y]
    clf = SoftmaxClassifier(alpha=1e-3).fit(X, labels)
    assert_array_equal(clf.coef_[0], -clf.coef_[1])
    assert_array_equal(clf.intercept_[0], -clf.intercept_[1])
    d = clf.decision_function(X)
    assert d.shape == (X.shape[0],)
    assert_allclose(d, X @ (clf.coef_[1] - clf.coef_[0])
                    + clf.intercept_[1] - clf.intercept_[0], rtol=1e-10)
    proba = clf.predict_proba(X)
    assert_allclose(proba[:, 1], expit(d), rtol=1e-12, atol=1e-15)
    assert_array_equal(clf.predict(X), clf.classes_[(d > 0).astype(int)])
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert len(clf.loss_curve_) == clf.n_iter_


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_one_output_gradient(binary, sparse, smoothing):
    """check_gradient checks the objective L-BFGS trains: the one output's."""
    X, y = binary
    X, y = X[:40], y[:40]
    X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0)) if sparse else X
    sw = np.random.RandomState(0).randint(0, 4, len(y)).astype(float)
    clf = SoftmaxClassifier(alpha=0.1, label_smoothing=smoothing, random_state=0)
    objective_ = clf._training_objective(X, y, sw)
    assert objective_.net.loss_name == "binary_log_loss"
    assert check_gradient(clf, X, y, sample_weight=sw) < 1e-6
    # away from the optimum, where the gradient is not just rounding noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = SoftmaxClassifier(alpha=0.1, label_smoothing=smoothing,
                                   max_iter=2).fit(X, y)
    assert check_gradient(fitted, X, y) < 1e-6


@pytest.mark.parametrize("scale, smoothing", [(1.0, 0.0), (80.0, 0.0),
                                               (80.0, 0.2)])
def test_one_output_objective_is_the_two_row_objective(binary, scale,
                                                       smoothing):
    """G(v, c) = F(−v/2, v/2, −c/2, c/2), and ∂G/∂v = ∂F/∂w_1 there: the
    penalty maps as alpha/2 · ‖W‖² = alpha/4 · ‖v‖².  Scaled parameters
    give scores of hundreds, where e^−|d| underflows to 0 and σ(d) rounds
    to 0 or 1 (the binary loss's one exp of −|d| against the two-row
    softmax's log-sum-exp)."""
    X, y = binary
    kw = dict(alpha=0.3, label_smoothing=smoothing, random_state=0)
    est = SoftmaxClassifier(**kw)
    two = est._training_objective(X, y)          # lbfgs: the one output
    assert two.params.size == X.shape[1] + 1
    one = OneOutput(TwoRowSoftmax(**kw)._training_objective(X, y).net)
    vc = scale * np.random.RandomState(0).normal(size=X.shape[1] + 1)
    rows = TwoRowSoftmax(**kw)._training_objective(X, y)
    params = rows.params.copy()
    one.expand(vc, params)
    assert_array_equal(one.reduce(params), vc)
    g_one, g_rows = np.empty_like(vc), np.empty_like(params)
    f_one = two.evaluate(vc, g_one)
    f_rows = rows.evaluate(params, g_rows)
    assert_allclose(f_one, f_rows, rtol=1e-12)
    W_grad = g_rows[:2 * X.shape[1]].reshape(-1, 2)
    assert_allclose(g_one[:-1], W_grad[:, 1], rtol=1e-10, atol=1e-14)
    assert_allclose(g_one[:-1], -W_grad[:, 0], rtol=1e-10, atol=1e-14)
    assert_allclose(g_one[-1], g_rows[-1], rtol=1e-10)


def test_binary_network_forward_and_checks(binary):
    X, y = binary
    with pytest.raises(ValueError, match="one output unit"):
        _network.Network((X.shape[1], 2), loss="binary_log_loss")
    net = _network.Network((X.shape[1], 1), loss="binary_log_loss",
                           capacity=64)
    params = np.random.RandomState(0).normal(size=net.n_params)
    out = np.empty((len(y), 1))
    data = _network.Dataset(np.ascontiguousarray(X))
    _network.forward(net, data, params, np.empty(0), out, False)
    d = X @ params[:-1] + params[-1]
    assert_allclose(out[:, 0], d, rtol=1e-12)
    _network.forward(net, data, params, np.empty(0), out, True)
    assert_allclose(out[:, 0], expit(d), rtol=1e-12)
    # class indices must be 0 or 1
    bad = _network.Dataset(np.ascontiguousarray(X), np.full(len(y), 2))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 2\)"):
        _network.loss_grad(net, bad, params, np.empty_like(params),
                           np.empty(0), 0.0)


def test_warm_start_from_the_optimum_and_from_asymmetric_rows(binary):
    X, y = binary
    kw = dict(alpha=1e-2, tol=1e-8, max_iter=1000)
    cold = SoftmaxClassifier(**kw).fit(X, y)
    warm = SoftmaxClassifier(warm_start=True, **kw).fit(X, y)
    warm.fit(X, y)                       # starts at the optimum
    assert warm.n_iter_ <= 2
    assert_allclose(warm.coef_, cold.coef_, atol=1e-6)
    # Rows that are not opposite (a stochastic fit, then a common offset of
    # both rows: the same predictions, a larger penalty): L-BFGS
    # warm-started from them keeps their difference and reaches the optimum.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = SoftmaxClassifier(solver="adam", max_iter=3, random_state=0,
                                learning_rate_init=0.05, alpha=1e-2,
                                tol=1e-8).fit(X, y)
    est._params[:2 * X.shape[1]] += 0.3
    est._set_public_attributes()
    assert not np.allclose(est.coef_[0], -est.coef_[1])
    est.set_params(solver="lbfgs", warm_start=True, max_iter=1000).fit(X, y)
    assert_allclose(est.coef_, cold.coef_, atol=1e-6)
    assert_array_equal(est.coef_[0], -est.coef_[1])


def test_partial_fit_after_a_binary_lbfgs_fit_continues_from_it(binary):
    """The stochastic solvers keep the two rows: after an L-BFGS fit, a
    partial_fit continues from its (opposite) rows, as it did before."""
    X, y = binary
    kw = dict(alpha=1e-2, tol=1e-8, max_iter=1000)
    ours = SoftmaxClassifier(**kw).fit(X, y)
    today = TwoRowSoftmax(**kw).fit(X, y)
    for est in (ours, today):
        est.set_params(solver="sgd", learning_rate_init=1e-3, random_state=0)
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    assert_allclose(ours.coef_, today.coef_, atol=1e-5)
    # at the optimum, small steps stay close to it
    assert_allclose(ours.loss_curve_[-1], today.loss_, rtol=1e-3)


def test_one_vs_one_sub_problems_train_one_vector():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5,
                               n_classes=3, random_state=0)
    clf = OneVsOneClassifier(random_state=0).fit(X, y)
    for sub in clf.estimators_:
        assert_array_equal(sub.coef_[0], -sub.coef_[1])


@pytest.mark.parametrize("batch_norm", [False, True])
def test_hidden_layers_one_output_objective_is_the_two_row_objective(
        binary, batch_norm):
    """With hidden layers θ: G(θ, v, c) = F(θ, −v/2, v/2, −c/2, c/2), and
    the gradients agree there (∂G/∂θ = ∂F/∂θ, ∂G/∂v = ∂F/∂w_1 = −∂F/∂w_0):
    the output layer's penalty alpha/2 · ‖W‖² = alpha/4 · ‖v‖²."""
    X, y = binary
    kw = dict(hidden_layer_sizes=(4, 3), alpha=0.3, solver="lbfgs",
              batch_norm=batch_norm, activation="tanh", random_state=0)
    one = MLPBackpropClassifier(**kw)._training_objective(X, y)
    rows = TwoRowMLP(**kw)._training_objective(X, y)
    assert one.net.sizes == (X.shape[1], 4, 3, 1)
    assert rows.net.sizes == (X.shape[1], 4, 3, 2)
    mapping = OneOutput(rows.net)
    u = np.random.RandomState(1).normal(size=one.params.size)
    params = rows.params.copy()
    mapping.expand(u, params)
    assert_array_equal(mapping.reduce(params), u)
    g_one, g_rows = np.empty_like(u), np.empty_like(params)
    assert_allclose(one.evaluate(u, g_one), rows.evaluate(params, g_rows),
                    rtol=1e-12)
    # hidden layers: the same entries; the output layer: ±v's
    for two_slice, one_slice in mapping.hidden:
        assert_allclose(g_one[one_slice], g_rows[two_slice], rtol=1e-10,
                        atol=1e-14)
    w, b = mapping.two_out
    W_grad = g_rows[w].reshape(-1, 2)
    assert_allclose(g_one[mapping.one_out[0]], W_grad[:, 1], rtol=1e-10,
                    atol=1e-14)
    assert_allclose(g_one[mapping.one_out[0]], -W_grad[:, 0], rtol=1e-10,
                    atol=1e-14)
    assert_allclose(g_one[mapping.one_out[1]], g_rows[b][1], rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True])
def test_hidden_layers_fit_is_stationary_for_the_two_row_objective(
        binary, sparse):
    """The fitted network's rows are opposite, and it is a stationary point
    of the two-row objective to the solver's tolerance: L-BFGS on the two
    rows (as before) would stop there at once.  A smooth activation: with
    ReLU's kinks L-BFGS ends where F stops decreasing, its gradient not
    small (both forms alike)."""
    X, y = binary
    X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0)) if sparse else X
    kw = dict(hidden_layer_sizes=(6,), alpha=1e-2, solver="lbfgs", tol=1e-7,
              max_iter=3000, random_state=0, activation="tanh")
    ours = MLPBackpropClassifier(**kw).fit(X, y)
    assert ours.n_iter_ < 3000
    assert [c.shape for c in ours.coefs_] == [(X.shape[1], 6), (6, 2)]
    assert_array_equal(ours.coefs_[-1][:, 0], -ours.coefs_[-1][:, 1])
    assert_array_equal(ours.intercepts_[-1][0], -ours.intercepts_[-1][1])
    d = ours.decision_function(X)
    assert d.shape == (X.shape[0],)
    assert_allclose(ours.predict_proba(X)[:, 1], expit(d), rtol=1e-10,
                    atol=1e-15)
    rows = TwoRowMLP(**kw)
    rows.fit(X, y)          # for its attributes; the objective is evaluated
    rows._params = ours._params.copy()       # at our fitted parameters
    two = rows._training_objective(X, y)
    grad = np.empty_like(two.params)
    loss = two.evaluate(two.params, grad)
    assert np.abs(grad).max() <= 10 * kw["tol"]
    assert_allclose(loss, ours.loss_, rtol=1e-10)
    # and the two-row solver started there stops at once
    today = TwoRowMLP(**kw, warm_start=True)
    today.fit(X, y)
    today._params[:] = ours._params
    today.fit(X, y)
    assert today.n_iter_ <= 1
    assert_allclose(today.predict_proba(X), ours.predict_proba(X), atol=1e-6)
