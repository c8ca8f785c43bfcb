"""scikit-learn's estimator checks, with nothing skipped by hand."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

import sklearn_mcnn
from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier

ESTIMATORS = [
    SoftmaxClassifier(),
    SoftmaxClassifier(solver="adam"),
    SoftmaxClassifier(solver="adam", learning_rate_init=0.01, max_iter=50),
    MLPBackpropClassifier(),
    MLPBackpropClassifier(loss="squared_error", activation="tanh"),
    MLPBackpropClassifier(hidden_layer_sizes=(8, 8), activation="logistic",
                          solver="lbfgs"),
    MLPBackpropClassifier(batch_norm=True, solver="sgd"),
    # Batch statistics are weighted, so sample weights stay equivalent to
    # repeated rows with batch normalisation too.
    MLPBackpropClassifier(hidden_layer_sizes=(8, 4), solver="sgd", batch_norm=True,
                          learning_rate_init=0.05, max_iter=100),
    MLPBackpropClassifier(batch_norm=True, dropout=0.2, solver="sgd"),
]
# The reductions get the same two explicit checks in test_multiclass.py.
ALL = ESTIMATORS


def expected_failed_checks(estimator):
    """The checks a configuration cannot pass for a mathematical reason.

    Dropout draws one mask per row and step: a row of weight 2 is one draw,
    the same row repeated twice is two independent draws, so weights cannot
    equal repetitions (see the ``dropout`` parameter's documentation).

    One is not mathematical, and is an open defect (issue 11): with the
    squared error and tanh, the default ``adam`` fit of
    ``check_class_weight_classifiers`` (features of std ~20, one step per
    epoch) needs more than 1e4 epochs to reach the optimum that L-BFGS finds
    (accuracy 1.00 there); scikit-learn's ``MLPClassifier(activation='tanh')``
    fails the same check.  Strict: it must fail until it is fixed.
    """
    if (getattr(estimator, "loss", None) == "squared_error"
            and getattr(estimator, "activation", None) == "tanh"):
        return {"check_class_weight_classifiers":
                "open defect: adam needs >1e4 epochs on this check's data"}
    if getattr(estimator, "dropout", 0) > 0:
        reason = "dropout masks of a weighted row differ from its repeats'"
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks,
                         xfail_strict=True)
def test_sklearn_compatible_estimator(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1: set it for
    # the checks, so that none is skipped.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def test_public_api():
    assert set(sklearn_mcnn.__all__) >= {
        "SoftmaxClassifier", "MLPBackpropClassifier", "OneVsAllClassifier",
        "OneVsOneClassifier",
    }
