"""Backpropagated gradients against central finite differences."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier
from sklearn_mcnn.utils import check_gradient


@pytest.fixture(scope="module")
def small():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(25, 6))
    X[X < -0.5] = 0.0                 # zeros, so CSR differs from dense storage
    y = rng.randint(0, 3, size=25)
    sw = rng.randint(0, 4, size=25).astype(float)
    return X, y, sw


@pytest.mark.parametrize("sparse,weighted", itertools.product([False, True],
                                                              [False, True]))
def test_softmax_gradient(small, sparse, weighted):
    X, y, sw = small
    X = sp.csr_matrix(X) if sparse else X
    err = check_gradient(SoftmaxClassifier(alpha=0.1, random_state=0), X, y,
                         sample_weight=sw if weighted else None)
    assert err < 1e-6


@pytest.mark.parametrize(
    "activation,loss,batch_norm,sparse,weighted",
    itertools.product(["relu", "tanh", "logistic", "identity", "leaky_relu",
                       "elu", "gelu", "softplus", ["gelu", "leaky_relu"]],
                      ["log_loss", "squared_error"], [False, True],
                      [False, True], [False, True]),
)
def test_mlp_gradient(small, activation, loss, batch_norm, sparse, weighted):
    X, y, sw = small
    X = sp.csr_matrix(X) if sparse else X
    clf = MLPBackpropClassifier(hidden_layer_sizes=(5, 4), activation=activation,
                                loss=loss, batch_norm=batch_norm, alpha=0.05,
                                negative_slope=0.1, random_state=0)
    err = check_gradient(clf, X, y, sample_weight=sw if weighted else None)
    assert err < 1e-6


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("hidden", [(), (5,)], ids=["softmax", "mlp"])
def test_label_smoothing_gradient(small, loss, hidden):
    X, y, sw = small
    clf = MLPBackpropClassifier(hidden, loss=loss, label_smoothing=0.2,
                                alpha=0.05, random_state=0)
    assert check_gradient(clf, X, y, sample_weight=sw) < 1e-6


def test_gradient_of_a_fitted_model(small):
    X, y, _ = small
    clf = MLPBackpropClassifier(hidden_layer_sizes=(4,), activation="tanh",
                                max_iter=20, random_state=0).fit(X, y)
    before = [w.copy() for w in clf.coefs_]
    assert check_gradient(clf, X, y) < 1e-6
    for a, b in zip(before, clf.coefs_):     # the estimator is not modified
        np.testing.assert_array_equal(a, b)


def test_check_gradient_detects_a_wrong_gradient(small, monkeypatch):
    """The check can fail: perturb the backpropagated gradient."""
    from sklearn_mcnn import _network

    X, y, _ = small
    real = _network.loss_grad

    def wrong(net, data, params, grad, running, alpha, n_threads=1):
        loss = real(net, data, params, grad, running, alpha, n_threads)
        grad[0] += 1e-3
        return loss

    monkeypatch.setattr(_network, "loss_grad", wrong)
    assert check_gradient(SoftmaxClassifier(random_state=0), X, y) > 1e-4
