"""Every row of the SPEC's bad-input list gets a clear error."""


import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier

PROTOTYPES = {
    "softmax-lbfgs": SoftmaxClassifier(),
    "softmax-adam": SoftmaxClassifier(solver="adam"),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(5,), max_iter=20),
}


@pytest.fixture(params=list(PROTOTYPES))
def est(request):
    """A fresh, unfitted estimator."""
    return clone(PROTOTYPES[request.param])


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(30, 4)), np.arange(30) % 3


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input(est, data, value, quiet_fit):
    X, y = data
    X = X.copy()
    X[3, 1] = value
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        est.fit(X, y)
    fitted = quiet_fit(est, *data)
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        fitted.predict(X)


def test_wrong_number_of_features(est, data, quiet_fit):
    X, y = data
    fitted = quiet_fit(est, X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but .* is expecting 4"):
        fitted.predict(X[:, :3])


def test_one_class_only(est, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"at least 2 classes.*only one class"):
        est.fit(X, np.zeros(len(X)))


def test_empty_input(est):
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        est.fit(np.empty((5, 0)), np.arange(5) % 2)


def test_complex_and_object_input(est, data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.fit(X + 1j, y)
    X_obj = X.astype(object)
    X_obj[0, 0] = "a string"
    with pytest.raises(ValueError, match="could not convert"):
        est.fit(X_obj, y)


def test_negative_sample_weight(est, data):
    X, y = data
    sw = np.ones(len(y))
    sw[2] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to "
                                         "`sample_weight`"):
        est.fit(X, y, sample_weight=sw)


def test_unknown_labels_in_partial_fit(data):
    X, y = data
    clf = SoftmaxClassifier(solver="sgd")
    with pytest.raises(ValueError, match="classes must be passed on the first"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"y contains labels \[7\] that are not "
                                         r"in classes \[0, 1, 2\]"):
        clf.partial_fit(X, np.where(y == 2, 7, y))


def test_not_fitted(est, data):
    X, _ = data
    for method in ("predict", "predict_proba", "decision_function",
                   "predict_log_proba", "predict_sample"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)


@pytest.mark.parametrize("params,match", [
    (dict(alpha=-1), "'alpha' parameter"),
    (dict(solver="newton"), "'solver' parameter"),
    (dict(learning_rate="sometimes"), "'learning_rate' parameter"),
    (dict(batch_size=0), "'batch_size' parameter"),
    (dict(momentum=1.5), "'momentum' parameter"),
    (dict(validation_fraction=1.0), "'validation_fraction' parameter"),
    (dict(max_iter=0), "'max_iter' parameter"),
    (dict(class_weight="some"), "'class_weight' parameter"),
])
def test_invalid_hyperparameters(data, params, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier(**params).fit(*data)


@pytest.mark.parametrize("params,match", [
    (dict(activation="swish"), "'activation' parameter"),
    (dict(loss="hinge"), "'loss' parameter"),
    (dict(dropout=1.0), "'dropout' parameter"),
    (dict(hidden_layer_sizes=(5, 0)), "hidden_layer_sizes must be positive"),
    (dict(dropout=0.5, solver="lbfgs"), "dropout needs a stochastic solver"),
])
def test_invalid_mlp_hyperparameters(data, params, match):
    with pytest.raises(ValueError, match=match):
        MLPBackpropClassifier(**params).fit(*data)
