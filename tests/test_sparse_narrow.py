"""CSR rows against narrow layers (``_sparse_narrow.h``): the first layer's
scores and weight gradient for sparse input equal the dense ones.

On CPUs with AVX2 and FMA, layers of 2 to 32 (float32) or 16 (float64) units
take the vector loops; wider layers, and every layer elsewhere, the scalar
ones, so both sides of each limit are tested.  The rows have what real CSR
input has: empty rows, one stored value, odd and even counts, unsorted
column indices and duplicates (which add up).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_mcnn import _network

WIDTHS = {np.float32: [2, 3, 7, 8, 9, 10, 15, 16, 17, 24, 25, 31, 32, 33, 40],
          np.float64: [2, 3, 4, 5, 8, 9, 10, 12, 13, 15, 16, 17]}
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def messy_csr(n_rows, n_features, dtype, rng):
    """CSR rows with empty rows, single values, unsorted and duplicate
    column indices, and the dense matrix they sum to."""
    data, indices, indptr = [], [], [0]
    for i in range(n_rows):
        nnz = [0, 1, 2, 3, 7, 30][i % 6]
        cols = rng.randint(0, n_features, nnz)     # unsorted, may repeat
        data.extend(rng.standard_normal(nnz))
        indices.extend(cols)
        indptr.append(len(indices))
    X = sp.csr_matrix((np.asarray(data, dtype=dtype),
                       np.asarray(indices, dtype=np.int32),
                       np.asarray(indptr, dtype=np.int32)),
                      shape=(n_rows, n_features))
    assert not X.has_canonical_format
    return X, X.toarray()      # toarray adds the duplicates up


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scores_equal_dense(dtype):
    rng = np.random.RandomState(0)
    X, dense = messy_csr(48, 50, dtype, rng)
    for w in WIDTHS[dtype]:
        net = _network.Network((50, w), capacity=16)
        params = rng.standard_normal(net.n_params).astype(dtype)
        running = np.empty(0, dtype=dtype)
        out = {}
        for name, data in (("csr", X), ("dense", dense)):
            out[name] = np.empty((48, w), dtype=dtype)
            _network.forward(net, _network.Dataset(data), params, running,
                             out[name], False, 1)
        W = params[:50 * w].reshape(50, w).astype(np.float64)
        expected = dense.astype(np.float64) @ W + params[50 * w:]
        np.testing.assert_allclose(out["csr"], expected, rtol=TOL[dtype],
                                   atol=TOL[dtype] * 10, err_msg=f"w={w}")
        np.testing.assert_allclose(out["csr"], out["dense"], rtol=TOL[dtype],
                                   atol=TOL[dtype] * 10, err_msg=f"w={w}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", [(), (12,)], ids=["softmax", "mlp"])
def test_gradient_equals_dense(dtype, hidden):
    """The full-batch objective and gradient (the first layer's weight
    gradient is the CSR scatter) of CSR and dense input agree."""
    rng = np.random.RandomState(1)
    X, dense = messy_csr(60, 40, dtype, rng)
    widths = WIDTHS[dtype] if not hidden else [3, 9, 16, 17, 40]
    for w in widths:
        net = _network.Network((40, *hidden, w), capacity=32)
        params = (0.3 * rng.standard_normal(net.n_params)).astype(dtype)
        running = np.empty(0, dtype=dtype)
        y = np.arange(60, dtype=np.intc) % w
        sw = rng.uniform(0.5, 2.0, 60)
        result = {}
        for name, data in (("csr", X), ("dense", dense)):
            grad = np.empty_like(params)
            loss = _network.loss_grad(net, _network.Dataset(data, y, sw),
                                      params, grad, running, 1e-3, 1)
            result[name] = loss, grad
        assert result["csr"][0] == pytest.approx(result["dense"][0],
                                                 rel=TOL[dtype] * 10)
        np.testing.assert_allclose(result["csr"][1], result["dense"][1],
                                   rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10,
                                   err_msg=f"w={w}")
