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
    # Activations that keep their pre-activations (gelu) or use a parameter
    # (leaky_relu), one per layer; label smoothing.
    MLPBackpropClassifier(hidden_layer_sizes=(8, 8),
                          activation=["gelu", "leaky_relu"], label_smoothing=0.1),
    SoftmaxClassifier(label_smoothing=0.1),
]
# The reductions get the same two explicit checks in test_multiclass.py.
ALL = ESTIMATORS


def expected_failed_checks(estimator):
    """The checks a configuration cannot pass for a mathematical reason.

    Dropout draws one mask per row and step: a row of weight 2 is one draw,
    the same row repeated twice is two independent draws, so weights cannot
    equal repetitions (see the ``dropout`` parameter's documentation).

    Nothing else is expected to fail.  (``check_class_weight_classifiers``
    with the squared error and tanh used to: from Glorot output biases the
    saturated units of its unscaled data kept the fit far from the weighted
    optimum; ``fit`` now starts at the class prior, see the user guide.)
    """
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
