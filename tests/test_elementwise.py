"""The kernels' element-wise helpers against closed forms: the softmax's
vectorised exponentials (``_vector_exp.h``) against ``exp`` in long double,
and the finiteness check of plain input (``_finite.h``) against
``np.isfinite``, at every position of the vector loops and their tails."""

import math

import numpy as np
import pytest
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
