"""MLPBackpropClassifier: forward pass, dropout, batch norm, references."""


import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier

from sklearn_mcnn import MLPBackpropClassifier

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": expit,
    "identity": lambda z: z,
}


def numpy_forward(clf, X):
    """An independent forward pass from the public fitted attributes."""
    A = X
    h = ACTIVATIONS[clf.activation]
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        Z = A @ W + b
        if i == len(clf.coefs_) - 1:
            return Z
        if clf.batch_norm:
            Z = (Z - clf.running_means_[i]) / np.sqrt(clf.running_vars_[i] + 1e-5)
            Z = clf.batch_norm_scales_[i] * Z + clf.batch_norm_shifts_[i]
        A = h(Z)


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


def test_dropout_rate_is_respected():
    """The share of dropped units matches the rate (a statistical check)."""
    from sklearn_mcnn._network import Inputs, Network, train_epoch
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = (np.arange(400) % 2).astype(np.int32)
    net = Network((3, 50, 2), activation="identity", dropout=0.3)
    ws = np.empty(net.set_capacity(400, step_threads=1), dtype=np.float64)
    params = rng.normal(size=net.n_params)
    zeros = np.zeros(net.n_params)
    empty = np.empty(0)
    train_epoch(net, Inputs(X), y, np.ones(400), np.arange(400), False, 400,
                params, zeros.copy(), zeros.copy(), zeros.copy(), empty, ws,
                dict(solver=0, lr=0.0, momentum=0.0, nesterov=False, beta_1=0.9,
                     beta_2=0.999, rho=0.9, epsilon=1e-8, max_loss=np.inf,
                     loss_growth=np.inf, loss_floor=0.0), 0.0, 0, 123)
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


def test_float32_mlp(digits, quiet_fit):
    X, y = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
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
