"""The kernels' element-wise helpers against closed forms: the softmax's
vectorised exponentials (``_vector_exp.h``) and the binary log loss's
``exp(−|d|)``, ``log1p`` (``_vector_log1p.h``) against long double, and the
checks of plain input (``_input_checks.h``: finiteness, a CSR
matrix's structure) at every position of their vector loops and tails."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import softmax

from sklearn_mcnn import SoftmaxClassifier, _network

#: ln 2^-1022: below it exp(x) is subnormal, and the kernels give 0.
LOWEST = math.log(2.0**-1022)


def ulps(values, exact):
    """|values − exact| in units of the last place of exact (float64)."""
    exact64 = exact.astype(np.float64)
    return np.abs(values.astype(np.longdouble) - exact) / np.spacing(exact64)


def test_exp_within_two_ulp_of_long_double():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(LOWEST, 0.0, 400_003),
        -rng.exponential(5.0, 100_000),
        -np.logspace(-300, 2, 10_000),
        # near the multiples of ln 2 / 2, where the reduction turns over
        np.arange(-1000, 1) * math.log(2) / 2 + rng.uniform(-1e-9, 1e-9, 1001),
        [LOWEST + 1e-12, -1e-320, -0.0, 0.0],
    ])
    x = x[(x >= LOWEST) & (x <= 0)]
    p, total = _network.shifted_exp(x, 0.0)
    exact = np.exp(x.astype(np.longdouble))
    assert ulps(p, exact).max() <= 2.0
    assert total == pytest.approx(math.fsum(p), rel=1e-12)


def test_exp_specials_and_underflow():
    x = np.array([np.nan, -np.inf, 0.0, -0.0, LOWEST - 1e-9, -745.2, -1e308])
    p, total = _network.shifted_exp(x, 0.0)
    assert np.isnan(p[0]) and np.isnan(total)
    assert list(p[1:]) == [0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    p, total = _network.shifted_exp(x[1:], 0.0)
    assert total == 2.0


def test_softplus_parts_within_two_ulp_of_long_double():
    """The binary log loss's ``e = exp(−|d|)`` and ``log1p(e)``: every
    branch of the reduction (1 + e on either side of √2), scores from 0 to
    past the underflow, both signs, against long double."""
    rng = np.random.default_rng(1)
    a = np.concatenate([
        np.linspace(0.0, 40.0, 200_003),
        rng.exponential(3.0, 100_000),
        np.logspace(-300, 2.8, 20_000),
        # where 1 + e crosses √2 (e = √2 − 1, |d| = −ln(√2 − 1))
        -math.log(math.sqrt(2) - 1) + rng.uniform(-1e-6, 1e-6, 2001),
        [0.0, 5e-324, 1e-17, -LOWEST - 1e-9, -LOWEST + 1e-9],
    ])
    d = np.where(rng.random(a.size) < 0.5, a, -a)
    e, lp = _network.softplus_parts(d)
    exact_e = np.exp(-np.abs(d).astype(np.longdouble))
    kept = np.abs(d) <= -LOWEST        # e^−|d| normal: below it, 0
    assert ulps(e[kept], exact_e[kept]).max() <= 2.0
    assert np.all(e[~kept] == 0)
    # log1p of the e that was computed, and the composition
    exact_lp = np.log1p(e.astype(np.longdouble))
    nonzero = e > 0
    assert ulps(lp[nonzero], exact_lp[nonzero]).max() <= 2.0
    assert np.all(lp[~nonzero] == 0)
    # the composition: e's error carries into log1p at most one to one
    exact = np.log1p(exact_e)
    assert ulps(lp[kept], exact[kept]).max() <= 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_parts_specials_and_every_length(dtype):
    """NaN stays NaN, ±inf gives 0 and 0; each row's values do not depend
    on its position (whole vectors or the padded tail)."""
    d = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)
    e, lp = _network.softplus_parts(d)
    assert np.isnan(e[0]) and np.isnan(lp[0])
    assert list(e[1:]) == [0.0, 0.0, 1.0, 1.0]
    assert list(lp[1:3]) == [0.0, 0.0] and lp[3] == lp[4] == math.log(2)
    z = np.random.default_rng(2).normal(scale=5, size=13).astype(dtype)
    e_all, lp_all = _network.softplus_parts(z)
    assert e_all.dtype == lp_all.dtype == np.float64
    for start in range(13):
        for stop in range(start + 1, 14):
            e, lp = _network.softplus_parts(z[start:stop])
            assert np.array_equal(e, e_all[start:stop])
            assert np.array_equal(lp, lp_all[start:stop])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", range(1, 14))
def test_exp_of_shifted_rows(dtype, n):
    """Every length (whole vectors and the padded tail), the shift
    subtracted in float64, the exponentials rounded to the row's dtype and
    summed before rounding."""
    rng = np.random.default_rng(n)
    z = rng.normal(scale=20, size=n).astype(dtype)
    shift = float(z.max())
    p, total = _network.shifted_exp(z, shift)
    assert p.dtype == dtype
    x = z.astype(np.float64) - shift
    exact = np.exp(x.astype(np.longdouble))
    if dtype == np.float64:
        assert ulps(p, exact).max() <= 2.0
    else:   # float32: the float64 values rounded
        assert_allclose(p, exact.astype(dtype), rtol=np.finfo(dtype).eps,
                        atol=np.finfo(dtype).smallest_subnormal)
    assert total == pytest.approx(float(exact.sum()), rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_proba_is_the_softmax_of_the_scores(dtype):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 12)).astype(dtype)
    clf = SoftmaxClassifier(max_iter=50).fit(X, np.arange(300) % 11)
    X[:50] *= 40        # scores far apart: probabilities down to underflow
    expected = softmax(clf.decision_function(X).astype(np.float64), axis=1)
    assert_allclose(clf.predict_proba(X), expected,
                    rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


# ------------------------------------------------------------------ finiteness

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_every_non_finite_number(dtype):
    """Lengths 0 to 70 cover whole blocks of four vectors and every tail."""
    info = np.finfo(dtype)
    for n in range(71):
        x = np.linspace(-1, 1, n, dtype=dtype)
        if n >= 4:
            x[:4] = [info.max, -info.max, info.tiny / 4, -0.0]
        assert _network.all_finite(x)
        for pos in range(n):
            for value in (np.nan, np.inf, -np.inf):
                bad = x.copy()
                bad[pos] = value
                assert not _network.all_finite(bad), (n, pos, value)


def test_all_finite_other_layouts():
    x = np.arange(12.0).reshape(3, 4)
    assert _network.all_finite(x) and _network.all_finite(x.T)
    x[1, 2] = np.nan
    assert not _network.all_finite(x.T)             # F-ordered: NumPy's test
    assert not _network.all_finite(x[:, ::2])
    assert not _network.all_finite(np.array([1, -np.inf], dtype=np.float16))


# ------------------------------------------------------------ CSR structure

def csr_arrays(n_rows, n_features, rng):
    """A valid CSR matrix's arrays: rows of 0 to 40 stored values."""
    counts = rng.randint(0, 41, n_rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    indices = rng.randint(0, n_features, indptr[-1]).astype(np.int32)
    data = rng.standard_normal(indptr[-1])
    return data, indices, indptr


def malformed(data, indices, indptr, n_features):
    matrix = sp.csr_matrix((3, n_features))     # then given the arrays as-is
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    matrix._shape = (indptr.size - 1, n_features)
    with pytest.raises(ValueError, match="malformed CSR input"):
        _network.Dataset(matrix)


def test_csr_structure_check_finds_every_bad_index():
    """Every position of the vector loops and their tails: an index equal to
    n_features, a negative one, and one past 2**31 as unsigned."""
    rng = np.random.RandomState(0)
    for n_rows in (1, 2, 3, 9, 17):
        n_features = 50
        data, indices, indptr = csr_arrays(n_rows, n_features, rng)
        _network.Dataset(sp.csr_matrix((data, indices, indptr),
                                       shape=(n_rows, n_features)))
        for pos in range(indices.size):
            for value in (n_features, -1, np.iinfo(np.int32).min):
                bad = indices.copy()
                bad[pos] = value
                malformed(data, bad, indptr, n_features)


def test_csr_structure_check_finds_every_decreasing_offset():
    rng = np.random.RandomState(1)
    for n_rows in range(1, 20):
        data, indices, indptr = csr_arrays(n_rows, 30, rng)
        for i in range(1, n_rows):
            if indptr[i] == indptr[i + 1]:
                continue
            bad = indptr.copy()
            bad[i] = indptr[i + 1] + 1      # above its successor
            malformed(data, indices, bad, 30)


def test_csr_structure_check_edges():
    data, indices = np.ones(3), np.array([0, 1, 2], dtype=np.int32)
    # no columns: any stored value is out of range, none is fine
    malformed(data, indices, np.array([0, 3], dtype=np.int32), 0)
    empty = sp.csr_matrix((2, 0))
    assert _network.Dataset(empty).n_rows == 2
    # offsets beyond the stored values, or starting below 0
    malformed(data, indices, np.array([0, 4], dtype=np.int32), 5)
    malformed(data, indices, np.array([-1, 3], dtype=np.int32), 5)
    # indices beyond the range the offsets cover are not read
    wide = np.array([0, 1, 2, 999], dtype=np.int32)
    matrix = sp.csr_matrix((3, 5))
    matrix.data, matrix.indices = data, wide
    matrix.indptr = np.array([0, 1, 2, 3], dtype=np.int32)
    assert _network.Dataset(matrix).n_rows == 3
