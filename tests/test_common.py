"""scikit-learn's estimator checks, with nothing skipped by hand."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

import sklearn_mcnn
from sklearn_mcnn import (
    MLPBackpropClassifier,
    OutputCodeClassifier,
    SoftmaxClassifier,
    TournamentClassifier,
)

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


def _small_mlp():
    # as in test_multiclass.py: 50 Adam epochs at the default step underfit
    # the checks' small problems
    return MLPBackpropClassifier(hidden_layer_sizes=(5,), learning_rate_init=0.05,
                                 max_iter=50)


# Output codes and tournaments, over the default base (SoftmaxClassifier),
# LogisticRegression and (slow) MLPBackpropClassifier, in their predict =
# argmax(predict_proba) configurations: the default decoding of the output
# codes, every tournament (search='walk' has no predict_proba).
NEW_REDUCTIONS = [
    OutputCodeClassifier(),
    OutputCodeClassifier(code="sparse"),
    OutputCodeClassifier(code="exhaustive", decoding="proba"),
    OutputCodeClassifier(LogisticRegression()),
    TournamentClassifier(),
    TournamentClassifier(n_errors=1),
    TournamentClassifier(LogisticRegression()),
    TournamentClassifier(LogisticRegression(), n_errors=2),
    # the walk down: no predict_proba (its argmax could differ)
    TournamentClassifier(search="walk"),
    TournamentClassifier(LogisticRegression(), n_errors=1, search="walk"),
]
NEW_REDUCTIONS_MLP = [
    OutputCodeClassifier(_small_mlp()),
    TournamentClassifier(_small_mlp()),
    TournamentClassifier(_small_mlp(), n_errors=1),
]


@parametrize_with_checks(NEW_REDUCTIONS)
def test_new_reductions_sklearn_compatible(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(NEW_REDUCTIONS_MLP)
def test_new_reductions_sklearn_compatible_mlp_base(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("estimator", NEW_REDUCTIONS + NEW_REDUCTIONS_MLP, ids=repr)
def test_new_reductions_param_validation_and_column_names(estimator):
    pytest.importorskip("pandas")
    name = type(estimator).__name__
    check_param_validation(name, estimator)
    check_dataframe_column_names_consistency(name, estimator)


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
        "OneVsOneClassifier", "OutputCodeClassifier", "TournamentClassifier",
    }


def test_parameter_names_are_kept_per_class():
    """The cached parameter names (``CachedParamNamesMixin``) are each
    class's own, the names of its ``__init__``: a subclass with another
    ``__init__`` gets its names, and one class's cache never answers for
    another."""
    from sklearn.base import BaseEstimator, clone

    class Extended(SoftmaxClassifier):
        def __init__(self, extra=1):
            super().__init__()
            self.extra = extra

    class Same(SoftmaxClassifier):
        pass

    for cls in (*[getattr(sklearn_mcnn, name) for name in sklearn_mcnn.__all__
                  if isinstance(getattr(sklearn_mcnn, name), type)], Extended, Same):
        if issubclass(cls, BaseEstimator):
            cls().get_params()      # fills the cache
            from_signature = BaseEstimator._get_param_names.__func__(cls)
            assert cls._get_param_names() == from_signature
    assert Extended._get_param_names() == ["extra"]
    assert clone(Extended(extra=3)).get_params() == {"extra": 3}
    assert Same._get_param_names() == SoftmaxClassifier._get_param_names()
    assert "extra" not in SoftmaxClassifier().get_params()
