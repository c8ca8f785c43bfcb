"""Random finite inputs never break an estimator (hypothesis).

Any finite training set (any size, scale, dtype, constant columns,
duplicated rows, dense or CSR, every label type scikit-learn accepts) fits,
and predicts valid probabilities whose argmax is ``predict``; invalid label
arrays get a ``ValueError``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
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

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # the property tests skip, visibly; the rest still runs
    HealthCheck = given = settings = st = hnp = None

MAX_EXAMPLES = 30
PROPERTY_ESTIMATORS = {
    "softmax-lbfgs": SoftmaxClassifier(max_iter=15),
    "softmax-adam": SoftmaxClassifier(solver="adam", max_iter=3, random_state=0),
    "mlp": MLPBackpropClassifier(hidden_layer_sizes=(3,), max_iter=3,
                                 random_state=0),
    "mlp-tanh-bn-dropout": MLPBackpropClassifier(
        hidden_layer_sizes=(4, 3), activation="tanh", batch_norm=True,
        dropout=0.25, solver="sgd", max_iter=3, random_state=0),
    "mlp-logistic-squared": MLPBackpropClassifier(
        hidden_layer_sizes=(3,), activation="logistic", loss="squared_error",
        max_iter=3, random_state=0),
    "ova": OneVsAllClassifier(SoftmaxClassifier(max_iter=10), random_state=0),
    "ovo": OneVsOneClassifier(SoftmaxClassifier(max_iter=10), random_state=0),
    "ovo-mlp": OneVsOneClassifier(
        MLPBackpropClassifier(hidden_layer_sizes=(2,), max_iter=2), random_state=0),
}

# Label kinds scikit-learn accepts (type_of_target: binary or multiclass).
VALID_LABELS = {
    "int": lambda k: k,
    "negative-int": lambda k: -7 * k - 1,
    "int64-large": lambda k: np.int64(2**62) - k,
    "uint8": lambda k: np.uint8(k),
    "str": lambda k: f"class {k}",
    "float-integral": lambda k: float(k) - 1.0,
}


if st is None:

    def test_property_tests_need_hypothesis():
        pytest.importorskip("hypothesis")

else:
    PROPERTY_SETTINGS = settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    @st.composite
    def problems(draw):
        """A random finite training set: (X, y) and whether y has 2+ classes."""
        n = draw(st.integers(1, 24))
        d = draw(st.integers(1, 5))
        dtype = draw(st.sampled_from([np.float64, np.float32]))
        elements = st.one_of(
            st.just(0.0),
            st.floats(-1024.0, 1024.0, allow_nan=False, allow_infinity=False,
                      width=32),
            st.floats(-2.0**-10, 2.0**-10, allow_nan=False,
                      allow_infinity=False, width=32),
        )
        X = draw(hnp.arrays(dtype, (n, d), elements=elements))
        # Constant columns.
        for j in range(d):
            if draw(st.booleans()) and draw(st.booleans()):
                X[:, j] = draw(st.sampled_from([0.0, 1.0, -3.5]))
        n_classes = draw(st.integers(1, 4))
        codes = np.asarray(draw(st.lists(st.integers(0, n_classes - 1),
                                         min_size=n, max_size=n)))
        # Duplicated rows (with their labels).
        if n > 1 and draw(st.booleans()):
            src = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
            X = np.vstack([X, X[src]])
            codes = np.r_[codes, codes[src]]
        kind = draw(st.sampled_from(sorted(VALID_LABELS)))
        labels = [VALID_LABELS[kind](int(k)) for k in codes]
        y = np.asarray(labels, dtype=object if kind == "str" and draw(
            st.booleans()) else None)
        if draw(st.booleans()):
            X = sp.csr_matrix(X)
        return X, y


    @pytest.mark.parametrize("name", list(PROPERTY_ESTIMATORS))
    @PROPERTY_SETTINGS
    @given(problem=problems())
    def test_property_fit_predict_never_breaks(name, problem, quiet_fit,
                                                assert_valid_proba):
        X, y = problem
        est = clone(PROPERTY_ESTIMATORS[name])
        classes = np.unique(y)
        if classes.size < 2:
            with pytest.raises(ValueError, match=r"(2|two) classes.*one class"):
                est.fit(X, y)
            return
        quiet_fit(est, X, y)
        assert_array_equal(est.classes_, classes)
        assert est.n_features_in_ == X.shape[1]
        proba = est.predict_proba(X)
        assert_valid_proba(proba, X.shape[0], classes.size)
        pred = est.predict(X)
        assert pred.shape == (X.shape[0],)
        assert np.isin(pred, classes).all()
        scores = est.decision_function(X)
        assert np.all(np.isfinite(scores))
        if not isinstance(est, (OneVsAllClassifier, OneVsOneClassifier)):
            # predict is the argmax of the scores, hence of the probabilities.
            picked = proba[np.arange(len(pred)), np.searchsorted(classes, pred)]
            assert_allclose(picked, proba.max(axis=1), rtol=1e-5, atol=0)
            assert np.all(np.isfinite(est.predict_log_proba(X)))
            assert np.isin(est.predict_sample(X, random_state=0), classes).all()
        # One row at a time gives the same answer as the whole batch.
        row = X[:1]
        assert_allclose(est.predict_proba(row), proba[:1], rtol=1e-5, atol=1e-6)


    @pytest.mark.parametrize("name", ["softmax-lbfgs", "mlp", "ovo"])
    @PROPERTY_SETTINGS
    @given(problem=problems(), bad=st.sampled_from(
        ["continuous", "tuples", "nan-label", "2d"]))
    def test_property_invalid_labels_get_a_value_error(name, problem, bad,
                                                    quiet_fit):
        X, y = problem
        n = X.shape[0]
        if bad == "continuous":
            y = np.linspace(0.1, 0.9, n) + 0.001
        elif bad == "tuples":
            y = np.empty(n, dtype=object)
            y[:] = [(i % 2, "a") for i in range(n)]
        elif bad == "nan-label":
            y = np.arange(n) % 2 + 0.0
            y[0] = np.nan
        else:
            y = np.c_[np.arange(n) % 2, np.arange(n) % 3]
        with pytest.raises(ValueError):
            quiet_fit(clone(PROPERTY_ESTIMATORS[name]), X, y)


@pytest.mark.parametrize("name", ["softmax-lbfgs", "ovo"])
def test_mixed_type_labels_get_a_value_error(name):
    X = np.random.RandomState(0).normal(size=(6, 2))
    y = np.array(["a", 1, "b", 2, "a", 1], dtype=object)
    with pytest.raises(ValueError, match=r"[Mm]ix"):
        clone(PROPERTY_ESTIMATORS[name]).fit(X, y)
