"""The kernels of ``_small_gemm.h`` against NumPy and BLAS: the few-rows
forward product, the narrow layers' forward dot products and their weight
gradient.

Products of at most ``_network.small_gemm_rows()`` rows go to the forward
kernels on CPUs with AVX2 and FMA, weight gradients of layers of at most
``_network.narrow_gradient_cols()`` outputs to the gradient kernel (the
tests that check a kernel itself raise the limits); these tests give them
every remainder of their panels (columns not a multiple of 8 or 16, rows not
a multiple of 4 or 2, a k not a multiple of the vector), both entry modes
(``C = A B`` and, after the bias, ``C += A B``; a gradient written and one
added to over chunks), the transposed copy of W on the stack and on the
heap, and the column blocks the training steps split layers into, and
compare with NumPy in float64 and with BLAS on the same inputs.
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
def kernel_setting(setter, value):
    """``setter`` (``small_gemm_rows`` or ``narrow_gradient_cols``) set to
    ``value`` for both dtypes, restored afterwards."""
    previous = setter(float32=value, float64=value)
    try:
        yield
    finally:
        setter(**previous)


def row_limits(wide, narrow, dot_depth=0):
    """The forward kernels' limits ``(wide, narrow, dot_depth)`` (all 0:
    BLAS for every product)."""
    return kernel_setting(_network.small_gemm_rows, (wide, narrow, dot_depth))


def gradient_cols(cols):
    """The gradient kernel's column limit (0: BLAS for every gradient)."""
    return kernel_setting(_network.narrow_gradient_cols, cols)


@contextlib.contextmanager
def blas_everywhere():
    with row_limits(0, 0), gradient_cols(0):
        yield


@pytest.fixture
def blas_only():
    with blas_everywhere():
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
    with row_limits(0, 0, 1):
        with_dot, _ = layer_scores(k, n, m, dtype)
    tol = RTOL[dtype] * 4 * np.sqrt(k)
    np.testing.assert_allclose(with_dot, with_blas, rtol=RTOL[dtype], atol=tol)
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

    # k below the dot products' depth: BLAS beyond the row limit
    k = min(200, _network.small_gemm_rows()[np.dtype(dtype).name][2] - 1)

    def both(m):
        kernel, _ = layer_scores(k, n, m, dtype, seed=1)
        with row_limits(0, 0):
            blas, _ = layer_scores(k, n, m, dtype, seed=1)
        return kernel, blas

    kernel, blas = both(rows)
    assert not np.array_equal(kernel, blas)
    np.testing.assert_allclose(kernel, blas, rtol=1e-4, atol=1e-4)
    kernel, blas = both(rows + 1)
    np.testing.assert_array_equal(kernel, blas)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_depth_applies(dtype):
    """A narrow layer's product of more rows than the panels take goes to
    the dot products from ``dot_depth`` inputs on, to BLAS below."""
    _, narrow, depth = _network.small_gemm_rows()[np.dtype(dtype).name]
    assert depth >= 2

    def both(k):
        dot, _ = layer_scores(k, 10, narrow + 3, dtype, seed=2)
        with row_limits(0, 0):
            blas, _ = layer_scores(k, 10, narrow + 3, dtype, seed=2)
        return dot, blas

    dot, blas = both(depth)
    assert not np.array_equal(dot, blas)
    np.testing.assert_allclose(dot, blas, rtol=1e-4, atol=1e-4)
    dot, blas = both(depth - 1)
    np.testing.assert_array_equal(dot, blas)


def test_setting_is_checked():
    with pytest.raises(ValueError, match="row limits must be"):
        _network.small_gemm_rows(float32=(-1, 4))
    with pytest.raises(ValueError, match="row limits must be"):
        _network.small_gemm_rows(float64=(8, 2**21))
    with pytest.raises(ValueError, match="row limits must be"):
        _network.small_gemm_rows(float64=(8, 2, 3, 4))
    # A refused call changes no limit, not even the valid one before it.
    before = _network.small_gemm_rows()
    with pytest.raises(ValueError, match="row limits must be"):
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
    with blas_everywhere():
        with pytest.warns(Warning):
            blas = MLPBackpropClassifier(**params).fit(X, y)
        blas_proba = [blas.predict_proba(X[:m]) for m in range(2, 41)]
    for w, v in zip(fitted.coefs_, blas.coefs_):
        np.testing.assert_allclose(w, v, rtol=1e-3, atol=1e-4)
    for m, expected in zip(range(2, 41), blas_proba):
        proba = blas.predict_proba(X[:m])
        np.testing.assert_allclose(proba, expected, rtol=RTOL[dtype], atol=1e-6)


# ---------------------------------------------------------------- narrow layers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 10, 11, 31])
@pytest.mark.parametrize("k", [1, 3, 4, 8, 13, 410, 784])
def test_narrow_layer_matches_numpy(dtype, n, k):
    """Narrow layers' dot products: rows in threes and the rest, columns
    in fours and the rest, k's last partial vector, and W's transposed copy
    on the stack (n·k ≤ 4096) or the heap."""
    with row_limits(0, 0, 1):
        for m in (2, 3, 4, 5, 7, 130):
            out, expected = layer_scores(k, n, m, dtype, seed=m)
            np.testing.assert_allclose(out, expected, rtol=RTOL[dtype],
                                       atol=RTOL[dtype] * 4 * np.sqrt(k))


def softmax_gradient(k, n, m, dtype, capacity, seed=0):
    """A softmax layer's weight gradient through ``loss_grad`` (chunks of
    ``capacity`` rows, so the gradient is written by the first and added to
    by the others), and the float64 NumPy reference ``Xᵀ (P − Y) / m``."""
    rng = np.random.RandomState(seed)
    net = _network.Network((k, n), capacity=capacity)
    params = (0.3 * rng.standard_normal(net.n_params)).astype(dtype)
    X = rng.standard_normal((m, k)).astype(dtype)
    y = rng.randint(0, n, m)
    grad = np.full_like(params, np.nan)
    _network.loss_grad(net, _network.Dataset(X, y), params, grad,
                       np.empty(0, dtype=dtype), 0.0, 1)
    W = params[:k * n].reshape(k, n).astype(np.float64)
    Z = X.astype(np.float64) @ W + params[k * n:]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(m), y] -= 1
    return grad[:k * n].reshape(k, n), X.astype(np.float64).T @ P / m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 3, 7, 10, 16, 17, 31, 32])
@pytest.mark.parametrize("k", [1, 7, 128, 129, 300])
def test_narrow_gradient_matches_numpy(dtype, n, k):
    """The gradient kernel over every remainder: classes in sixes, feature
    panels of two vectors and the padded last one, blocks of 128 features,
    one chunk and several."""
    with gradient_cols(32):
        for m, capacity in ((5, 5), (37, 37), (37, 16)):
            got, expected = softmax_gradient(k, n, m, dtype, capacity, seed=k)
            np.testing.assert_allclose(got, expected, rtol=RTOL[dtype] * 10,
                                       atol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_narrow_gradient_agrees_with_blas(dtype):
    for k, n, m, capacity in ((784, 10, 300, 127), (64, 3, 50, 16),
                              (20, 32, 9, 9)):
        with gradient_cols(32):
            kernel, expected = softmax_gradient(k, n, m, dtype, capacity)
        with gradient_cols(0):
            blas, _ = softmax_gradient(k, n, m, dtype, capacity)
        np.testing.assert_allclose(kernel, blas, rtol=RTOL[dtype] * 10,
                                   atol=RTOL[dtype] * 10)
        np.testing.assert_allclose(kernel, expected, rtol=RTOL[dtype] * 10,
                                   atol=RTOL[dtype] * 10)


def test_gradient_setting_is_checked():
    before = _network.narrow_gradient_cols()
    with pytest.raises(ValueError, match="column limits must be in"):
        _network.narrow_gradient_cols(float32=-1)
    # A refused call changes no limit, not even the valid one before it.
    with pytest.raises(ValueError, match="column limits must be in"):
        _network.narrow_gradient_cols(float32=0, float64=2**21)
    assert _network.narrow_gradient_cols() == before
