"""MLPBackpropClassifier: forward pass, dropout, batch norm, references."""


import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier

import sklearn_mcnn._base
from sklearn_mcnn import MLPBackpropClassifier

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": expit,
    "identity": lambda z: z,
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi)
                                             * (z + 0.044715 * z**3))),
    "softplus": lambda z: np.logaddexp(0, z),
}


def numpy_forward(clf, X):
    """An independent forward pass from the public fitted attributes."""
    A = X
    names = clf.activation
    if isinstance(names, str):
        names = [names] * (len(clf.coefs_) - 1)
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        Z = A @ W + b
        if i == len(clf.coefs_) - 1:
            return Z
        if clf.batch_norm:
            Z = (Z - clf.running_means_[i]) / np.sqrt(clf.running_vars_[i] + 1e-5)
            Z = clf.batch_norm_scales_[i] * Z + clf.batch_norm_shifts_[i]
        A = ACTIVATIONS[names[i]](Z)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_predict_proba_is_the_numpy_forward_pass(digits, activation, batch_norm,
                                                 dropout, quiet_fit):
    X, y = digits
    clf = quiet_fit(MLPBackpropClassifier(
        hidden_layer_sizes=(16, 8), activation=activation, batch_norm=batch_norm,
        dropout=dropout, max_iter=3, random_state=0), X, y)
    scores = numpy_forward(clf, X)
    assert_allclose(clf.predict_proba(X), softmax(scores, axis=1), rtol=1e-9,
                    atol=1e-12)
    assert_allclose(clf.decision_function(X), scores, rtol=1e-9, atol=1e-12)
    # Dropout is off at prediction: the same answer every call.
    assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_fitted_attributes_have_mlpclassifier_shapes(digits, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(20, 7), max_iter=2, random_state=0)
    ours = quiet_fit(MLPBackpropClassifier(**kw), X, y)
    ref = quiet_fit(MLPClassifier(**kw), X, y)
    assert [w.shape for w in ours.coefs_] == [w.shape for w in ref.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in ref.intercepts_]
    assert ours.n_layers_ == ref.n_layers_
    assert ours.n_outputs_ == ref.n_outputs_
    assert ours.out_activation_ == ref.out_activation_ == "softmax"
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_"):
        assert hasattr(ours, name)


def test_batch_norm_prediction_uses_running_statistics(digits, quiet_fit):
    X, y = digits
    clf = quiet_fit(MLPBackpropClassifier(hidden_layer_sizes=(32,),
                                          batch_norm=True, max_iter=5,
                                          random_state=0), X, y)
    # A row's prediction does not depend on the other rows of the call.
    alone = np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(20)])
    assert_allclose(alone, clf.predict_proba(X)[:20], rtol=1e-12)
    # The running statistics track the pre-activations' batch statistics.
    Z = X @ clf.coefs_[0] + clf.intercepts_[0]
    assert_allclose(clf.running_means_[0], Z.mean(axis=0), atol=0.3)
    assert np.all(clf.running_vars_[0] > 0)
    # Batch norm changes the model.
    plain = quiet_fit(MLPBackpropClassifier(hidden_layer_sizes=(32,),
                                            max_iter=5, random_state=0), X, y)
    assert not np.allclose(plain.coefs_[0], clf.coefs_[0])


def test_dropout_changes_training_not_prediction(digits, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    plain = quiet_fit(MLPBackpropClassifier(**kw), X, y)
    dropped = quiet_fit(MLPBackpropClassifier(dropout=0.5, **kw), X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    # Reproducible: the masks come from random_state.
    again = quiet_fit(MLPBackpropClassifier(dropout=0.5, **kw), X, y)
    assert_array_equal(again.coefs_[0], dropped.coefs_[0])
    # Inverted dropout: training loss with dropout is higher (noisier fit),
    # prediction is deterministic and uses all units.
    assert dropped.loss_curve_[-1] > plain.loss_curve_[-1]
    assert_allclose(dropped.predict_proba(X),
                    softmax(numpy_forward(dropped, X), axis=1), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (16, 8)], ids=["softmax", "mlp"])
def test_one_row_predictions_equal_the_batch(digits, hidden, dtype, quiet_fit):
    """One row at a time (matrix-vector products) or many (matrix products):
    the same probabilities, to round-off."""
    X, y = digits
    X = X.astype(dtype)
    clf = quiet_fit(MLPBackpropClassifier(hidden, max_iter=3, random_state=0),
                    X, y)
    batch = clf.predict_proba(X[:40])
    rows = np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(40)])
    assert rows.dtype == dtype
    assert_allclose(rows, batch, rtol=0, atol=1e-13 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_csr_predictions_skip_validation_safely(digits, container, quiet_fit,
                                                monkeypatch):
    """CSR input of the right width skips scikit-learn's validation: the
    predictions equal the dense ones for every row count (in canonical
    form, with 64-bit indices, and with unsorted, duplicate entries), and
    bad values and structures are still refused."""
    X, y = digits
    clf = quiet_fit(MLPBackpropClassifier((16,), max_iter=3, random_state=0),
                    X, y)
    dense = {n: clf.predict_proba(X[:n]) for n in (1, 2, 5, 40)}
    with monkeypatch.context() as m:    # the fast path: no validate_data
        m.setattr(sklearn_mcnn._base, "validate_data", None)
        for n in dense:
            assert_allclose(clf.predict_proba(container(X[:n])), dense[n],
                            rtol=0, atol=1e-13)
    for n in dense:
        wide = container(X[:n])
        wide.indices = wide.indices.astype(np.int64)
        wide.indptr = wide.indptr.astype(np.int64)
        assert_allclose(clf.predict_proba(wide), dense[n], rtol=0, atol=1e-13)
    # One row stored out of order, its first value split in two entries.
    cols = np.flatnonzero(X[0])
    j, rest = cols[0], cols[1:][::-1]
    data = np.concatenate([[0.25], X[0, rest], [X[0, j] - 0.25]])
    indices = np.concatenate([[j], rest, [j]])
    messy = container((data, indices, [0, data.size]), shape=(1, X.shape[1]))
    assert_allclose(clf.predict_proba(messy), clf.predict_proba(X[:1]),
                    rtol=0, atol=1e-12)
    bad = container(X[:2])
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(bad)
    broken = container(X[:2])
    broken.indices[0] = X.shape[1] + 5
    with pytest.raises(ValueError, match="malformed CSR input"):
        clf.predict(broken)
    with pytest.raises(ValueError, match="features"):
        clf.predict(container(X[:2, :-1]))


def test_one_activation_per_hidden_layer(digits, quiet_fit):
    X, y = digits
    clf = quiet_fit(MLPBackpropClassifier(
        (16, 8, 8), activation=["gelu", "tanh", "leaky_relu"], max_iter=3,
        random_state=0), X, y)
    assert_allclose(clf.predict_proba(X), softmax(numpy_forward(clf, X), axis=1),
                    rtol=1e-9, atol=1e-12)
    # The same activation for every layer, as a list or as a string.
    a = quiet_fit(MLPBackpropClassifier((8, 8), activation=["elu", "elu"],
                                        max_iter=2, random_state=0), X, y)
    b = quiet_fit(MLPBackpropClassifier((8, 8), activation="elu", max_iter=2,
                                        random_state=0), X, y)
    assert_array_equal(a.coefs_[0], b.coefs_[0])


@pytest.mark.parametrize("activation", [["relu"], ["relu", "tanh", "relu"],
                                        ["relu", "swish"], [1, 2]])
def test_a_wrong_activation_list_is_refused(digits, activation):
    X, y = digits
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLPBackpropClassifier((8, 8), activation=activation).fit(X, y)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_label_smoothing_optimum_closed_form(loss, quiet_fit):
    """One feature, always 0: the optimum predicts the mean smoothed target
    m = (1 - ε) freq + ε / K, and the loss is its entropy (log loss) or the
    targets' variance (squared error)."""
    y = np.array([0] * 6 + [1] * 3 + [2])
    X = np.zeros((y.size, 1))
    eps = 0.3
    clf = quiet_fit(MLPBackpropClassifier((), loss=loss, label_smoothing=eps,
                                          solver="lbfgs", alpha=0.0, tol=1e-12),
                    X, y)
    freq = np.bincount(y) / y.size
    m = (1 - eps) * freq + eps / 3
    if loss == "log_loss":
        assert_allclose(clf.predict_proba(X[:1])[0], m, rtol=1e-6)
        assert clf.loss_ == pytest.approx(-np.sum(m * np.log(m)), rel=1e-9)
    else:
        assert_allclose(clf.decision_function(X[:1])[0], m, rtol=1e-6)
        assert clf.loss_ == pytest.approx((1 - eps) ** 2 * (1 - np.sum(freq**2)),
                                          rel=1e-9)


def test_label_smoothing_keeps_probabilities_from_the_edges(digits, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32,), max_iter=100, random_state=0)
    sharp = quiet_fit(MLPBackpropClassifier(**kw), X, y)
    smooth = quiet_fit(MLPBackpropClassifier(label_smoothing=0.2, **kw), X, y)
    # A separable problem's optimum has p_y = 1 - ε + ε / K = 0.82 on every
    # row (without smoothing, p_y → 1).
    assert smooth.predict_proba(X).max(axis=1).mean() < 0.82
    assert sharp.predict_proba(X).max(axis=1).mean() > 0.95
    assert smooth.score(X, y) > 0.99


def test_dropout_rate_is_respected():
    """The share of dropped units matches the rate (a statistical check)."""
    from sklearn_mcnn._network import Dataset, Network, TrainState, train_epoch
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = (np.arange(400) % 2).astype(np.int32)
    net = Network((3, 50, 2), activation="identity", dropout=0.3)
    net.set_capacity(400, step_threads=1)
    params = rng.normal(size=net.n_params)
    zeros = np.zeros(net.n_params)
    state = TrainState(net, params, np.empty(0), (zeros.copy(), zeros.copy()),
                       dict(solver=0, momentum=0.0, nesterov=False, beta_1=0.9,
                            beta_2=0.999, rho=0.9, epsilon=1e-8, alpha=0.0))
    state.batch_size = 400          # learning rate 0: the weights stay
    train_epoch(state, Dataset(X, y), None, 123)
    ws = state.workspace
    start = net.scratch_offsets()["masks"][0]
    mask = ws[start:start + 400 * 50]
    assert_allclose(np.unique(mask), [0.0, 1 / 0.7])
    # 20000 Bernoulli(0.3) draws: standard error 0.0032.
    assert abs(np.mean(mask == 0) - 0.3) < 0.015


def test_squared_error_loss_learns(digits, quiet_fit):
    X, y = digits
    clf = quiet_fit(MLPBackpropClassifier(hidden_layer_sizes=(64,),
                                          loss="squared_error", max_iter=50,
                                          random_state=0), X, y)
    assert clf.out_activation_ == "identity"
    assert clf.score(X, y) > 0.97
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1)


def test_sparse_first_layer_matches_dense(digits, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0, dropout=0.1)
    dense = quiet_fit(MLPBackpropClassifier(**kw), X, y)
    csr = quiet_fit(MLPBackpropClassifier(**kw), sp.csr_matrix(X), y)
    for a, b in zip(dense.coefs_, csr.coefs_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_float32_mlp(digits, activation, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0,
              activation=activation)
    c32 = quiet_fit(MLPBackpropClassifier(**kw), X.astype(np.float32), y)
    c64 = quiet_fit(MLPBackpropClassifier(**kw), X, y)
    assert all(w.dtype == np.float32 for w in c32.coefs_)
    assert_allclose(c32.coefs_[0], c64.coefs_[0], rtol=1e-3, atol=1e-3)


def test_early_stopping_and_partial_fit(digits):
    X, y = digits
    clf = MLPBackpropClassifier(hidden_layer_sizes=(32,), early_stopping=True,
                                n_iter_no_change=3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    inc = MLPBackpropClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01,
                                random_state=0)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    assert inc.n_iter_ == 3 and inc.score(X, y) > 0.9


def test_partial_fit_goes_on_after_a_fit_with_early_stopping(digits, quiet_fit):
    """A fit with early stopping keeps no training-loss best (it tracks the
    validation score); a partial_fit after it trains on, as after any fit
    (it used to raise a TypeError)."""
    X, y = digits
    clf = MLPBackpropClassifier(hidden_layer_sizes=(16,), early_stopping=True,
                                max_iter=5, random_state=0)
    quiet_fit(clf, X, y)
    n_iter, coef = clf.n_iter_, clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    assert clf.n_iter_ == n_iter + 1
    assert not np.array_equal(clf.coefs_[0], coef)
    assert np.isfinite(clf.best_loss_) and clf.best_loss_ <= clf.loss_


def test_cross_validated_accuracy_matches_mlpclassifier(digits):
    """5-fold accuracy on digits at least MLPClassifier's minus half a point."""
    X, y = digits
    batch = 200
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    common = dict(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=1e-3,
                  max_iter=200, batch_size=batch, random_state=0)
    # scikit-learn's alpha is divided by the batch size; ours is not.
    ref = cross_val_score(MLPClassifier(alpha=1e-2, **common), X, y, cv=cv)
    ours = cross_val_score(MLPBackpropClassifier(alpha=1e-2 / batch, **common), X,
                           y, cv=cv)
    assert ours.mean() >= ref.mean() - 0.005
