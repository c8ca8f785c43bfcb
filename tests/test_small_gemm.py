"""The few-rows forward product (``_small_gemm.h``) against NumPy and BLAS.

Products of at most ``_network.small_gemm_rows()`` rows go to the kernel on
CPUs with AVX2 and FMA (the tests that check the kernel itself raise the
limits); these tests give it every remainder of its panels
(columns not a multiple of 8 or 16, rows not a multiple of 4), both of its
entry modes (``C = A B`` and, after the bias, ``C += A B``) and the column
blocks the training steps split layers into, and compare with NumPy in
float64 and with BLAS on the same inputs.
"""

import contextlib

import numpy as np
import pytest

from sklearn_mcnn import MLPBackpropClassifier, _network

pytestmark = pytest.mark.skipif(
    not _network.small_gemm_available(),
    reason="this CPU has no AVX2 and FMA: BLAS does every product")

RTOL = {np.float32: 2e-5, np.float64: 1e-12}


@contextlib.contextmanager
def row_limits(wide, narrow):
    """The kernel's row limits set to ``(wide, narrow)`` for both dtypes
    (0: BLAS for every product), restored afterwards."""
    previous = _network.small_gemm_rows(float32=(wide, narrow),
                                        float64=(wide, narrow))
    try:
        yield
    finally:
        _network.small_gemm_rows(**previous)


@pytest.fixture
def blas_only():
    with row_limits(0, 0):
        yield


@pytest.fixture
def kernel_always():
    with row_limits(2**20, 2**20):
        yield


def layer_scores(k, n, m, dtype, seed=0):
    """One linear layer's scores for m rows through the kernels, and the
    float64 NumPy reference."""
    rng = np.random.RandomState(seed)
    net = _network.Network((k, n), capacity=m)
    params = rng.standard_normal(net.n_params).astype(dtype)
    X = rng.standard_normal((m, k)).astype(dtype)
    out = np.full((m, n), np.nan, dtype=dtype)
    _network.forward(net, _network.Dataset(X), params,
                     np.empty(0, dtype=dtype), out, False, 1)
    W = params[:k * n].reshape(k, n).astype(np.float64)
    expected = X.astype(np.float64) @ W + params[k * n:]
    return out, expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 70])
@pytest.mark.parametrize("m", [2, 3, 4, 5, 7, 8, 13, 32])
def test_layer_matches_numpy(dtype, n, m, kernel_always):
    k = 37
    out, expected = layer_scores(k, n, m, dtype)
    # each entry is a sum of k products of unit normals
    np.testing.assert_allclose(out, expected, rtol=RTOL[dtype],
                               atol=RTOL[dtype] * 4 * np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 5, 784])
def test_kernel_agrees_with_blas(dtype, k, blas_only):
    m, n = 11, 21
    with_blas, expected = layer_scores(k, n, m, dtype)
    with row_limits(32, 32):
        with_kernel, _ = layer_scores(k, n, m, dtype)
    tol = RTOL[dtype] * 4 * np.sqrt(k)
    np.testing.assert_allclose(with_kernel, expected, rtol=RTOL[dtype], atol=tol)
    np.testing.assert_allclose(with_kernel, with_blas, rtol=RTOL[dtype], atol=tol)


@pytest.mark.parametrize("n, limit", [(40, 0), (24, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_limits_apply(n, limit, dtype):
    """At and below a layer's limit the kernel computes the product, above
    it BLAS: the two sum in different orders, so scores differ in their
    last bits between the two sides of the limit."""
    rows = _network.small_gemm_rows()[np.dtype(dtype).name][limit]
    assert rows >= 2

    def both(m):
        kernel, _ = layer_scores(300, n, m, dtype, seed=1)
        with row_limits(0, 0):
            blas, _ = layer_scores(300, n, m, dtype, seed=1)
        return kernel, blas

    kernel, blas = both(rows)
    assert not np.array_equal(kernel, blas)
    np.testing.assert_allclose(kernel, blas, rtol=1e-4, atol=1e-4)
    kernel, blas = both(rows + 1)
    np.testing.assert_array_equal(kernel, blas)


def test_setting_is_checked():
    with pytest.raises(ValueError, match="row limits must be in"):
        _network.small_gemm_rows(float32=(-1, 4))
    with pytest.raises(ValueError, match="row limits must be in"):
        _network.small_gemm_rows(float64=(8, 2**21))
    # A refused call changes no limit, not even the valid one before it.
    before = _network.small_gemm_rows()
    with pytest.raises(ValueError, match="row limits must be in"):
        _network.small_gemm_rows(float32=(0, 0), float64=(8, -1))
    assert _network.small_gemm_rows() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_predictions_and_training_match_blas(dtype):
    """Predictions of 2..40 rows of a network whose layers split into
    several column blocks in training, and a few epochs of batch 8 (every
    forward product through the kernel), agree with BLAS's."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((120, 23)).astype(dtype)
    y = rng.randint(0, 5, 120)
    params = dict(hidden_layer_sizes=(150, 19), solver="sgd", batch_size=8,
                  max_iter=3, random_state=0, tol=0.0)
    with pytest.warns(Warning):
        fitted = MLPBackpropClassifier(**params).fit(X, y)
    with row_limits(0, 0):
        with pytest.warns(Warning):
            blas = MLPBackpropClassifier(**params).fit(X, y)
        blas_proba = [blas.predict_proba(X[:m]) for m in range(2, 41)]
    for w, v in zip(fitted.coefs_, blas.coefs_):
        np.testing.assert_allclose(w, v, rtol=1e-3, atol=1e-4)
    for m, expected in zip(range(2, 41), blas_proba):
        proba = blas.predict_proba(X[:m])
        np.testing.assert_allclose(proba, expected, rtol=RTOL[dtype], atol=1e-6)
