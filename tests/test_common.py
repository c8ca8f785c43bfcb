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
    SoftmaxClassifier(solver="adam", learning_rate_init=0.01, max_iter=50),
    MLPBackpropClassifier(),
    # Batch statistics are weighted, so sample weights stay equivalent to
    # repeated rows (dropout, random per row, cannot be: it is tested apart).
    MLPBackpropClassifier(hidden_layer_sizes=(8, 4), solver="sgd", batch_norm=True,
                          learning_rate_init=0.05, max_iter=100),
]
# The reductions get the same two explicit checks in test_multiclass.py.
ALL = ESTIMATORS


@parametrize_with_checks(ESTIMATORS)
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
