"""Extreme but valid numbers: feature scales from 1e-6 to float32's
overflow, and 1,000 classes.

Each either trains and predicts valid probabilities, or stops with a clear
``ValueError`` naming the problem, never NaN.  A diverging or non-finite
loss, and every other failed call, is in test_failed_calls.py.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

pytestmark = [
    pytest.mark.usefixtures("time_limit"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # A one-vs-* sub-problem with a single label becomes a constant predictor.
    pytest.mark.filterwarnings("ignore:Sub-problem .* constant predictor"),
]

TEST_TIMEOUT = 180  # seconds, per test: a hang fails instead of blocking CI


def test_feature_values_around_1e6(separable, quiet_fit, assert_valid_proba):
    X, y = separable
    reference = SoftmaxClassifier().fit(X, y).score(X, y)
    for est in (SoftmaxClassifier(), OneVsOneClassifier(SoftmaxClassifier())):
        est = quiet_fit(est, X * 1e6, y)
        assert est.score(X * 1e6, y) >= reference - 0.01
        assert_valid_proba(est.predict_proba(X * 1e6), len(y), 3)


def test_feature_values_around_1e_minus_6(separable, quiet_fit,
                                          assert_valid_proba):
    """No standardisation: the weights must grow to ~1e6.  Without the
    penalty and with tol=0, L-BFGS gets there."""
    X, y = separable
    reference = SoftmaxClassifier().fit(X, y).score(X, y)
    est = quiet_fit(SoftmaxClassifier(alpha=0.0, tol=0.0), X * 1e-6, y)
    assert est.score(X * 1e-6, y) >= reference - 0.01
    assert_valid_proba(est.predict_proba(X * 1e-6), len(y), 3)


def test_one_thousand_classes(quiet_fit, assert_valid_proba):
    X, y = make_blobs(n_samples=3000, n_features=10, centers=1000,
                      cluster_std=0.01, center_box=(-10, 10), random_state=0)
    assert np.bincount(y).max() == 3  # small n per class
    for est in (SoftmaxClassifier(max_iter=30),
                MLPBackpropClassifier(hidden_layer_sizes=(32,), max_iter=2,
                                      random_state=0)):
        tracemalloc.start()
        try:
            quiet_fit(est, X, y)
            _, fit_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            proba = est.predict_proba(X)
            _, predict_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert est.classes_.size == 1000
        assert_valid_proba(proba, 3000, 1000)
        assert np.isin(est.predict(X), est.classes_).all()
        # Bounded: the (n, 1000) output plus a scratch buffer of at most
        # CHUNK_ROWS rows, and in fit the parameters and optimiser state.
        assert fit_peak < 64e6, fit_peak
        assert predict_peak < proba.nbytes + 32e6, predict_peak
    assert est.score(X, y) >= 0  # the MLP saw 2 epochs; softmax below
    assert SoftmaxClassifier(max_iter=30).fit(X, y).score(X, y) > 0.9


def test_softmax_on_large_float64_inputs_never_overflows(well_conditioned,
                                                       quiet_fit):
    X, y = well_conditioned
    clf = SoftmaxClassifier().fit(X, y)
    big = X * 1e8
    proba = clf.predict_proba(big)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba.sum(axis=1), 1)
    log_proba = clf.predict_log_proba(big)
    assert np.all(np.isfinite(log_proba))
    assert_array_equal(np.argmax(log_proba, axis=1), np.argmax(proba, axis=1))
    # Training on huge values does not overflow either: log-sum-exp.
    clf = quiet_fit(SoftmaxClassifier(max_iter=5), X * 1e4, y)
    assert np.isfinite(clf.loss_)


NEAR_OVERFLOW_FITS = {
    "softmax-lbfgs": SoftmaxClassifier(max_iter=15),
    "softmax-adam": SoftmaxClassifier(solver="adam", max_iter=3, random_state=0),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(3,), max_iter=3,
                                 random_state=0),
}


@pytest.mark.parametrize("name", list(NEAR_OVERFLOW_FITS))
def test_float32_near_overflow_fit_gives_no_nan(name, separable, quiet_fit,
                                               assert_valid_proba):
    X, y = separable
    X32 = (X * 1e30).astype(np.float32)
    est = clone(NEAR_OVERFLOW_FITS[name])
    try:
        quiet_fit(est, X32, y)
    except ValueError as exc:  # allowed: a clear error naming the problem
        assert "learning rate" in str(exc) or "non-finite" in str(exc)
        return
    assert_valid_proba(est.predict_proba(X32), len(y), 3)
    assert est.predict_proba(X32).dtype == np.float32


@pytest.mark.parametrize(
    "model,scale",
    [(model, scale) for model in ("softmax", "mlp", "mlp-bn")
     for scale in (1e30, 1e36)] + [
        ("softmax", 3e38), ("mlp", 3e38), ("mlp-bn", 3e38),
    ],
)
def test_float32_near_overflow_predict_gives_no_nan(model, scale, separable,
                                                   quiet_fit, assert_valid_proba):
    X, y = separable
    est = {
        "softmax": SoftmaxClassifier(),
        "mlp": MLPBackpropClassifier((5,), max_iter=30, random_state=0),
        "mlp-bn": MLPBackpropClassifier((5,), batch_norm=True, max_iter=30,
                                        random_state=0),
    }[model]
    quiet_fit(est, X.astype(np.float32), y)
    big = np.clip(X * scale, -3.4e38, 3.4e38).astype(np.float32)
    assert np.all(np.isfinite(big))
    try:
        proba = est.predict_proba(big)
    except ValueError as exc:
        # Hidden layers that overflow get a clear error, never NaN.
        assert "overflow" in str(exc)
        assert model != "softmax"
    else:
        assert_valid_proba(proba, len(y), 3)


def test_float32_model_with_float64_input_beyond_float32_range(separable):
    X, y = separable
    est = SoftmaxClassifier().fit(X.astype(np.float32), y)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        est.predict_proba(X[:5] * 1e300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_on_features_around_1e30_is_not_silently_wrong(separable, dtype):
    X, y = separable
    Xb = (X * 1e30).astype(dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = SoftmaxClassifier().fit(Xb, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned or est.score(Xb, y) > 0.9


@pytest.mark.parametrize("probabilities", [True, False])
def test_undefined_outputs_are_counted_and_refused(probabilities):
    """The forward pass counts its NaN outputs itself (no second pass over
    them): on rows of ±3.4e38 (float32), a hidden layer that overflows to
    ±inf gives inf - inf at the output.  The count equals np.isnan's on the
    same outputs, and predict_proba / decision_function refuse a batch with
    one (which rows overflow depends on the BLAS call's summation order, so
    not row by row)."""
    from sklearn.datasets import make_classification

    from sklearn_mcnn._engine import predict_outputs

    X, y = make_classification(200, 5, n_informative=3, n_classes=3,
                               random_state=0)
    est = MLPBackpropClassifier((5,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X.astype(np.float32), y)
    method = est.predict_proba if probabilities else est.decision_function
    rng = np.random.default_rng(0)
    rows = (rng.choice([-1, 1], size=(100, 5)) * 3.4e38).astype(np.float32)
    out, undefined = predict_outputs(est._net, est._params, est._running, rows,
                                     probabilities)
    assert undefined == np.isnan(out).sum()
    assert 0 < np.isnan(out).any(axis=1).sum() < 100
    with pytest.raises(ValueError, match=r"undefined \(NaN\)"):
        method(rows)
    out, undefined = predict_outputs(est._net, est._params, est._running,
                                     X[:100].astype(np.float32), probabilities)
    assert undefined == 0
    assert np.all(np.isfinite(method(X[:100].astype(np.float32))))
