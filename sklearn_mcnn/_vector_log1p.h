/* The binary log loss's elementwise parts, four rows at a time:
 * e_i = exp(−|d_i|) and l_i = log1p(e_i) of the logistic scores d_i, in
 * double whatever the scores' type.  From them log(1 + e^±d) = max(±d, 0)
 * + l and σ(d) = 1 / (1 + e) or e / (1 + e) (_loss.pxd, binary_log_loss).
 *
 * A two-class L-BFGS evaluation of 10000 × 20 spent about a third of its
 * time in glibc's scalar log1p and exp (AMD EPYC).  Here, with AVX2 and
 * FMA: the exp of _vector_exp.h (within 2 ulp; 0 below 2^-1022), and
 * log1p(x) for x in [0, 1] as fdlibm computes it (s_log1p.c, e_log.c):
 * u = 1 + x rounded, c = x − (u − 1) its rounding error (exact), k = 1 and
 * f = u/2 − 1 when u > √2 else k = 0 and f = u − 1 (both exact), s = f /
 * (2 + f), log(1 + f) = f − (f²/2 − s (f²/2 + R(s²))) with fdlibm's
 * minimax R of degree 7 (|s| ≤ 0.1716), plus k ln 2 in two parts and the
 * correction c / u.  Within 2 ulp of log1p (tests/test_elementwise.py
 * measures it against long double).  NaN gives NaN.
 *
 * Each row's values depend on its score alone (the last rows go through a
 * padded vector, not a scalar loop), so they do not depend on how callers
 * cut the rows into chunks or threads.  Elsewhere than x86-64 with AVX2
 * and FMA, libm's exp and log1p.
 */
#ifndef MCNN_VECTOR_LOG1P_H
#define MCNN_VECTOR_LOG1P_H

#include <math.h>
#include <stddef.h>

#include "_cpu.h"
#include "_vector_exp.h"

#define MCNN_SOFTPLUS_PARTS_SCALAR(T)                                         \
    static inline void mcnn_softplus_parts_##T##_scalar(                      \
        const T* d, ptrdiff_t n, double* e, double* l) {                      \
        ptrdiff_t i;                                                          \
        for (i = 0; i < n; i++) {                                             \
            e[i] = exp(-fabs((double) d[i]));                                 \
            l[i] = log1p(e[i]);                                               \
        }                                                                     \
    }

MCNN_SOFTPLUS_PARTS_SCALAR(float)
MCNN_SOFTPLUS_PARTS_SCALAR(double)

#if MCNN_X86_DISPATCH

/* log1p(x) of four x in [0, 1] (see above). */
MCNN_AVX2_FMA static inline __m256d mcnn_log1p4_unit(__m256d x) {
    const __m256d one = _mm256_set1_pd(1.0), half = _mm256_set1_pd(0.5);
    const __m256d sqrt2 = _mm256_set1_pd(1.41421356237309504880);
    const __m256d ln2_hi = _mm256_set1_pd(6.93147180369123816490e-01);
    const __m256d ln2_lo = _mm256_set1_pd(1.90821492927058770002e-10);
    __m256d u = _mm256_add_pd(one, x);
    __m256d c = _mm256_sub_pd(x, _mm256_sub_pd(u, one));
    __m256d big = _mm256_cmp_pd(u, sqrt2, _CMP_GT_OQ);
    __m256d k = _mm256_and_pd(big, one);
    __m256d f = _mm256_sub_pd(_mm256_mul_pd(u, _mm256_blendv_pd(one, half, big)),
                              one);
    __m256d s = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f));
    __m256d z = _mm256_mul_pd(s, s), w = _mm256_mul_pd(z, z);
    /* fdlibm's Lg1 ... Lg7, odd and even terms apart */
    __m256d t1 = _mm256_mul_pd(w, _mm256_fmadd_pd(
        w, _mm256_fmadd_pd(w, _mm256_set1_pd(1.531383769920937332e-01),
                           _mm256_set1_pd(2.222219843214978396e-01)),
        _mm256_set1_pd(3.999999999940941908e-01)));
    __m256d t2 = _mm256_mul_pd(z, _mm256_fmadd_pd(
        w, _mm256_fmadd_pd(
            w, _mm256_fmadd_pd(w, _mm256_set1_pd(1.479819860511658591e-01),
                               _mm256_set1_pd(1.818357216161805012e-01)),
            _mm256_set1_pd(2.857142874366239149e-01)),
        _mm256_set1_pd(6.666666666666735130e-01)));
    __m256d R = _mm256_add_pd(t2, t1);
    __m256d hfsq = _mm256_mul_pd(half, _mm256_mul_pd(f, f));
    /* k ln2_hi − ((hfsq − (s (hfsq + R) + k ln2_lo)) − f) */
    __m256d inner = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R),
                                    _mm256_mul_pd(k, ln2_lo));
    __m256d logu = _mm256_sub_pd(_mm256_mul_pd(k, ln2_hi),
                                 _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
    return _mm256_add_pd(logu, _mm256_div_pd(c, u));
}

/* LOAD4(ptr) reads four scores as doubles (_vector_exp.h). */
#define MCNN_SOFTPLUS_PARTS_AVX2(T, LOAD4)                                    \
    MCNN_AVX2_FMA static void mcnn_softplus_parts_##T##_avx2(                 \
        const T* d, ptrdiff_t n, double* e, double* l) {                      \
        const __m256d sign = _mm256_set1_pd(-0.0);                            \
        __m256d x, ev;                                                        \
        double ebuf[4], lbuf[4];                                              \
        T buf[4];                                                             \
        ptrdiff_t i, j;                                                       \
        for (i = 0; i < n; i += 4) {                                          \
            if (i + 4 <= n) {                                                 \
                x = LOAD4(d + i);                                             \
            } else {            /* the last few, padded with zeros */         \
                for (j = 0; j < 4; j++)                                       \
                    buf[j] = i + j < n ? d[i + j] : (T) 0;                    \
                x = LOAD4(buf);                                               \
            }                                                                 \
            ev = mcnn_exp4_nonpositive(_mm256_or_pd(x, sign));   /* −|d| */   \
            if (i + 4 <= n) {                                                 \
                _mm256_storeu_pd(e + i, ev);                                  \
                _mm256_storeu_pd(l + i, mcnn_log1p4_unit(ev));                \
            } else {                                                          \
                _mm256_storeu_pd(ebuf, ev);                                   \
                _mm256_storeu_pd(lbuf, mcnn_log1p4_unit(ev));                 \
                for (j = 0; i + j < n; j++) {                                 \
                    e[i + j] = ebuf[j];                                       \
                    l[i + j] = lbuf[j];                                       \
                }                                                             \
            }                                                                 \
        }                                                                     \
    }

MCNN_SOFTPLUS_PARTS_AVX2(float, MCNN_LOAD4_FLOAT)
MCNN_SOFTPLUS_PARTS_AVX2(double, MCNN_LOAD4_DOUBLE)

#endif

/* The entry points, for both builds. */
static inline void mcnn_softplus_parts_float(const float* d, ptrdiff_t n,
                                             double* e, double* l) {
    MCNN_DISPATCH(mcnn_has_avx2_fma(),
                  mcnn_softplus_parts_float_avx2(d, n, e, l),
                  mcnn_softplus_parts_float_scalar(d, n, e, l));
}
static inline void mcnn_softplus_parts_double(const double* d, ptrdiff_t n,
                                              double* e, double* l) {
    MCNN_DISPATCH(mcnn_has_avx2_fma(),
                  mcnn_softplus_parts_double_avx2(d, n, e, l),
                  mcnn_softplus_parts_double_scalar(d, n, e, l));
}
#endif
