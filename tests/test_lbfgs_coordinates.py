"""L-BFGS in standardized coordinates (``_engine.StandardizedCoordinates``):
the maps are exact inverses, the gradient is the chain rule's (finite
differences), the optimum is the model's (Newton's method in scikit-learn),
and the path no longer depends on the columns' offsets."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier
from sklearn_mcnn._engine import StandardizedCoordinates, as_dataset
from sklearn_mcnn._network import Network


def _column_sums(rng, n_features):
    X = rng.normal(loc=rng.uniform(-5, 5, n_features),
                   scale=rng.uniform(0.1, 10, n_features), size=(50, n_features))
    X[:, 0] = 3.0                                         # a constant column
    sw = rng.uniform(0, 2, 50)
    return sw @ X, sw @ X**2, sw.sum()


@pytest.mark.parametrize("sizes", [(6, 3), (6, 1), (6, 4, 3)])
def test_maps_are_inverse_and_the_gradient_is_the_chain_rule(sizes):
    rng = np.random.RandomState(0)
    net = Network(sizes, loss="binary_log_loss" if sizes[-1] == 1 else "log_loss")
    coords = StandardizedCoordinates(net, _column_sums(rng, sizes[0]), 1e-3)
    v = rng.normal(size=net.n_params)
    assert_allclose(coords.from_model(coords.to_model(v)), v, rtol=1e-12,
                    atol=1e-12)

    # A smooth function of the model's parameters and its gradient.
    a = rng.normal(size=net.n_params)

    def F(w):
        return np.sum(np.sin(a * w)) + 0.5 * np.sum(w**2)

    def grad_F(w):
        return a * np.cos(a * w) + w

    g = coords.gradient(grad_F(coords.to_model(v)))
    h = 1e-6
    fd = np.array([
        (F(coords.to_model(v + h * e)) - F(coords.to_model(v - h * e))) / (2 * h)
        for e in np.eye(v.size)
    ])
    assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    # Deeper layers keep their coordinates.
    first = net.layer_slices()[0]
    rest = np.ones(v.size, dtype=bool)
    rest[first[0]] = rest[first[1]] = False
    assert_allclose(coords.to_model(v)[rest], v[rest], rtol=0, atol=0)


def test_no_column_sums_is_the_identity():
    net = Network((5, 3))
    coords = StandardizedCoordinates(net, None, 1e-3)
    v = np.random.RandomState(0).normal(size=net.n_params)
    assert np.array_equal(coords.to_model(v), v)
    assert np.array_equal(coords.from_model(v), v)
    assert np.array_equal(coords.gradient(v), v)


def test_standardized_inputs_keep_the_model_coordinates():
    """Inputs already standardized (up to a fold's offsets) need no map."""
    X = np.random.RandomState(0).normal(size=(200, 5))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    net = Network((5, 3))
    for Z, identity in [(X, True), (X + 0.2, True), (X + 1.0, False),
                        (3 * X, False)]:
        sums = Z.sum(axis=0), (Z**2).sum(axis=0), float(len(Z))
        assert StandardizedCoordinates(net, sums, 1e-4).identity is identity


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_dataset_column_sums(sparse, dtype):
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(30, 4)) * (rng.uniform(size=(30, 4)) < 0.5)).astype(dtype)
    sw = rng.uniform(size=30)
    data = as_dataset(sp.csr_matrix(X) if sparse else X, np.zeros(30), sw)
    s1, s2, total = data.column_sums()
    X64 = X.astype(np.float64)
    assert_allclose(s1, sw @ X64, rtol=1e-12)
    assert_allclose(s2, sw @ X64**2, rtol=1e-12)
    assert total == pytest.approx(sw.sum())
    s1, s2, total = data.column_sums(1, 3)                # rows 1, 4, 7, ...
    assert_allclose(s1, sw[1::3] @ X64[1::3], rtol=1e-12)
    assert_allclose(s2, sw[1::3] @ X64[1::3]**2, rtol=1e-12)
    assert total == pytest.approx(sw[1::3].sum())
    assert data.column_sums(30, 1)[2] == 0
    with pytest.raises(ValueError, match="step"):
        data.column_sums(0, 0)
    s1, s2, total = as_dataset(X).column_sums()          # no weights: ones
    assert_allclose(s1, X64.sum(axis=0), rtol=1e-12)
    assert total == 30
    assert as_dataset(X[:0]).column_sums()[2] == 0


def _shifted(X, rng):
    return X * rng.uniform(0.5, 20, X.shape[1]) + rng.uniform(-1e3, 1e3,
                                                             X.shape[1])


def test_column_offsets_do_not_change_the_path():
    """``x + s`` with the intercept ``b − sᵀW`` is the same model and
    penalty, so the same problem; in standardized coordinates it is the
    same L-BFGS path (up to rounding): the same losses and weights at each
    iteration.  (Where it stops may differ: ``tol`` bounds the gradient of
    the weights, and the offsets add ``s ∂F/∂b`` to it.)  In the model's
    own coordinates the offsets of 1e3 left the loss 22% above the
    optimum after 15 iterations."""
    X, y = make_classification(500, 8, n_informative=5, n_classes=3,
                               random_state=0)
    shift = np.random.RandomState(1).uniform(-1e3, 1e3, X.shape[1])
    kw = dict(alpha=1e-3, tol=0.0, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = SoftmaxClassifier(**kw).fit(X, y)
        b = SoftmaxClassifier(**kw).fit(X + shift, y)
    assert a.n_iter_ == b.n_iter_ == 15
    assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-6)
    assert_allclose(b.coef_, a.coef_, rtol=1e-5, atol=1e-6)
    assert_allclose(b.intercept_, a.intercept_ - b.coef_ @ shift, rtol=1e-5,
                    atol=1e-4)


def _objective(coef, intercept, X, y, alpha):
    """The SPEC's objective of a softmax model, by NumPy (two classes: the
    two rows ``±v/2``)."""
    if coef.shape[0] == 1:
        coef = np.r_[-coef / 2, coef / 2]
        intercept = np.r_[-intercept / 2, intercept / 2]
    Z = X @ coef.T + intercept
    Z = Z - Z.max(axis=1, keepdims=True)
    data = np.mean(np.log(np.exp(Z).sum(axis=1)) - Z[np.arange(len(y)), y])
    return data + alpha / 2 * np.sum(coef**2)


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer])
def test_unscaled_data_reaches_the_optimum(loader):
    """Unscaled features (wine: columns from 0.1 to 1,000; breast cancer:
    0.001 to 2,500), the default settings: the optimum of Newton's method
    (wine within ``max_iter``, with no warning; breast cancer to 2% after
    its 100 iterations (measured 1.1%), where the model's own coordinates
    were 68% above it and wine 11 times)."""
    X, y = loader(return_X_y=True)
    alpha, n = 1e-4, len(y)
    binary = np.unique(y).size == 2
    ref = LogisticRegression(C=(2 if binary else 1) / (alpha * n),
                             solver="newton-cholesky" if binary else "newton-cg",
                             tol=1e-12, max_iter=1000).fit(X, y)
    optimum = _objective(ref.coef_, ref.intercept_, X, y, alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        ours = SoftmaxClassifier(alpha=alpha).fit(X, y)
    assert_allclose(_objective(ours.coef_, ours.intercept_, X, y, alpha),
                    ours.loss_, rtol=1e-10)
    if binary:
        assert ours.loss_ == pytest.approx(optimum, rel=2e-2)
    else:
        assert not caught
        assert ours.loss_ == pytest.approx(optimum, rel=1e-6)
        assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("hidden", [(), (7,)])
def test_only_convex_models_standardize(monkeypatch, hidden):
    """Measured in the coordinates' docstring: with hidden layers the path
    picks the local optimum, so L-BFGS moves in the model's own parameters
    there."""
    from sklearn_mcnn import _training

    seen = []

    class Spy(StandardizedCoordinates):
        def __init__(self, net, column_sums, alpha):
            seen.append(column_sums)
            super().__init__(net, column_sums, alpha)

    monkeypatch.setattr(_training, "StandardizedCoordinates", Spy)
    X, y = make_classification(200, 6, n_informative=4, n_classes=3,
                               random_state=0)
    MLPBackpropClassifier(hidden_layer_sizes=hidden, solver="lbfgs",
                          max_iter=20, random_state=0).fit(X + 50.0, y)
    assert len(seen) == 1
    if hidden:
        assert seen[0] is None
    else:
        assert_allclose(seen[0][0] / seen[0][2], X.mean(axis=0) + 50.0)
