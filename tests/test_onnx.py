"""ONNX export: onnxruntime's predictions equal ours to float tolerance."""


import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)
from sklearn_mcnn.utils import to_onnx

pytestmark = pytest.mark.extras

TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 1e-6},
             np.float64: {"rtol": 1e-9, "atol": 1e-12}}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=7, n_informative=5,
                               n_classes=4, random_state=0)
    return StandardScaler().fit_transform(X), y


def _run(model, X):
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"X": X})
    return label, proba


def _check(est, X, dtype):
    Xd = X.astype(dtype)
    model = to_onnx(est, dtype=dtype)
    label, proba = _run(model, Xd)
    assert proba.dtype == dtype and label.dtype == np.int64
    expected = est.predict_proba(Xd)
    assert_allclose(proba, expected, **TOLERANCE[dtype])
    # Labels: the argmax; rows whose top two classes are (numerically) tied
    # may legitimately differ.
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert_array_equal(est.classes_[label][clear], est.predict(Xd)[clear])
    return model


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_softmax(data, dtype, solver, quiet_fit):
    X, y = data
    est = quiet_fit(SoftmaxClassifier(solver=solver, random_state=0),
                    X.astype(dtype), y)
    _check(est, X, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["no-bn", "bn"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity",
                                        "leaky_relu", "elu", "gelu", "softplus",
                                        ["gelu", "leaky_relu"]])
def test_mlp(data, dtype, batch_norm, activation, quiet_fit):
    X, y = data
    est = quiet_fit(MLPBackpropClassifier((9, 6), activation=activation,
                                          batch_norm=batch_norm, max_iter=30,
                                          negative_slope=0.2, random_state=0),
                    X.astype(dtype), y)
    model = _check(est, X, dtype)
    ops = {node.op_type for node in model.graph.node}
    assert "BatchNormalization" not in ops  # folded into the layers
    assert "Dropout" not in ops


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_with_dropout_and_batch_norm(data, dtype, quiet_fit):
    X, y = data
    est = quiet_fit(MLPBackpropClassifier((12,), dropout=0.3, batch_norm=True,
                                          max_iter=30, random_state=0),
                    X.astype(dtype), y)
    _check(est, X, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_lbfgs_batch_norm_and_squared_error(data, dtype, quiet_fit):
    X, y = data
    for est in (MLPBackpropClassifier((5,), batch_norm=True, solver="lbfgs",
                                      max_iter=50, random_state=0),
                MLPBackpropClassifier((5,), loss="squared_error", max_iter=30,
                                      random_state=0)):
        _check(quiet_fit(est, X.astype(dtype), y), X, dtype)


def test_binary_string_labels_and_no_hidden_layer(data, quiet_fit):
    X, y = data
    y = np.where(y % 2 == 0, "even", "odd")
    for est in (SoftmaxClassifier(),
                MLPBackpropClassifier((), max_iter=30, random_state=0)):
        est = quiet_fit(est, X, y)
        label, _ = _run(to_onnx(est), X.astype(np.float32))
        assert set(est.classes_[label]) <= {"even", "odd"}
        _check(est, X, np.float32)


def test_cross_dtype_export(data, quiet_fit):
    """A float64 model exported as float32 (and conversely) agrees to
    float32 tolerance."""
    X, y = data
    for fit_dtype, export_dtype in ((np.float64, np.float32),
                                    (np.float32, np.float64)):
        est = quiet_fit(MLPBackpropClassifier((8,), batch_norm=True, max_iter=30,
                                              random_state=0),
                        X.astype(fit_dtype), y)
        _, proba = _run(to_onnx(est, dtype=export_dtype), X.astype(export_dtype))
        assert_allclose(proba, est.predict_proba(X.astype(fit_dtype)),
                        **TOLERANCE[np.float32])


def test_model_round_trips_through_bytes(data, tmp_path, quiet_fit):
    X, y = data
    est = quiet_fit(MLPBackpropClassifier((6,), max_iter=20, random_state=0), X, y)
    path = tmp_path / "model.onnx"
    onnx.save(to_onnx(est), path)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    _, proba = _run(model, X.astype(np.float32))
    assert_allclose(proba, est.predict_proba(X), **TOLERANCE[np.float32])


def test_errors(data):
    X, y = data
    with pytest.raises(NotFittedError):
        to_onnx(SoftmaxClassifier())
    est = SoftmaxClassifier().fit(X, y)
    with pytest.raises(ValueError, match="n_features=3"):
        to_onnx(est, n_features=3)
    with pytest.raises(ValueError, match="dtype"):
        to_onnx(est, dtype=np.int32)
    with pytest.raises(TypeError, match="supports SoftmaxClassifier"):
        to_onnx(OneVsOneClassifier().fit(X, y))
