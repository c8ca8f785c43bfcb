/* The softmax's exponentials, four at a time: e_k = exp(z_k − shift) for a
 * row of scores, their sum returned (in double: the caller normalises by
 * it and takes its log).
 *
 * The softmax of a 10-class model costs 10 exponentials per row.  glibc's
 * scalar exp took about 6 ns each on AMD EPYC: 60 µs of a 1000-row
 * predict_proba, a fifth of it for CSR input, and a part of every L-BFGS
 * evaluation.  Here, with AVX2 and FMA: x = z_k − shift ≤ 0 (shift is the
 * row's largest score), n = round(x / ln 2), r = x − n ln 2 in two parts
 * (Cody and Waite; |r| ≤ ln 2 / 2), exp(r) by its Taylor polynomial of
 * degree 13 (truncation below 5e-18 relative) as 1 + (r + r² P(r)), P by
 * Estrin's scheme with fused multiply-adds, times 2^n built in the
 * exponent bits.  Within 2 ulp of
 * exp(x) where exp(x) ≥ 2^-1022 (tests/test_vector_exp.py measures it
 * against exp in long double); 0 below, where exp(x) < 2.3e-308 is
 * negligible beside the row's sum, which is at least 1.  NaN gives NaN (a
 * row's undefined scores stay undefined), −inf gives 0.
 *
 * Each row's sum is added in one fixed order (lanes, then (l0 + l1) +
 * (l2 + l3)), so results do not depend on threads.  Elsewhere than x86-64
 * with AVX2 and FMA, the scalar loop (libm's exp, summed in order).
 */
#ifndef MCNN_VECTOR_EXP_H
#define MCNN_VECTOR_EXP_H

#include <math.h>
#include <stddef.h>

#include "_cpu.h"

#define MCNN_SHIFTED_EXP_SCALAR(T)                                            \
    static inline double mcnn_shifted_exp_##T##_scalar(                       \
        const T* z, double shift, T* p, ptrdiff_t C) {                        \
        double tot = 0, e;                                                    \
        ptrdiff_t k;                                                          \
        for (k = 0; k < C; k++) {                                             \
            e = exp(z[k] - shift);                                            \
            p[k] = (T) e;                                                     \
            tot += e;                                                         \
        }                                                                     \
        return tot;                                                           \
    }

MCNN_SHIFTED_EXP_SCALAR(float)
MCNN_SHIFTED_EXP_SCALAR(double)

#if MCNN_X86_DISPATCH

/* exp(x) of four x ≤ 0 (see above). */
MCNN_AVX2_FMA static inline __m256d mcnn_exp4_nonpositive(__m256d x) {
    const __m256d lowest = _mm256_set1_pd(-708.3964185322641);  /* ln 2^-1022 */
    const __m256d ln2_hi = _mm256_set1_pd(6.93147180369123816490e-01);
    const __m256d ln2_lo = _mm256_set1_pd(1.90821492927058770002e-10);
    const __m256d log2e = _mm256_set1_pd(1.44269504088896338700e+00);
    /* x in [lowest, 0]: max/min return their second operand for NaN, which
     * is blended back at the end */
    __m256d xc = _mm256_min_pd(_mm256_max_pd(x, lowest), _mm256_setzero_pd());
    __m256d n = _mm256_round_pd(_mm256_mul_pd(xc, log2e),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, ln2_hi, xc);
    r = _mm256_fnmadd_pd(n, ln2_lo, r);
    /* exp(r) = 1 + r + r² P(r), P's coefficients 1/k! for k = 2 ... 13,
     * by Estrin's scheme: six dependent steps instead of Horner's thirteen
     * (a softmax row's few vectors wait on the chain's latency) */
    __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
    __m256d r8 = _mm256_mul_pd(r4, r4);
#define MCNN_EXP_PAIR(a, b)                                                   \
    _mm256_fmadd_pd(_mm256_set1_pd(1.0 / (b)), r, _mm256_set1_pd(1.0 / (a)))
    __m256d p23 = MCNN_EXP_PAIR(2.0, 6.0);
    __m256d p45 = MCNN_EXP_PAIR(24.0, 120.0);
    __m256d p67 = MCNN_EXP_PAIR(720.0, 5040.0);
    __m256d p89 = MCNN_EXP_PAIR(40320.0, 362880.0);
    __m256d p1011 = MCNN_EXP_PAIR(3628800.0, 39916800.0);
    __m256d p1213 = MCNN_EXP_PAIR(479001600.0, 6227020800.0);
#undef MCNN_EXP_PAIR
    __m256d s0 = _mm256_fmadd_pd(p45, r2, p23);
    __m256d s1 = _mm256_fmadd_pd(p89, r2, p67);
    __m256d s2 = _mm256_fmadd_pd(p1213, r2, p1011);
    __m256d P = _mm256_fmadd_pd(s2, r8, _mm256_fmadd_pd(s1, r4, s0));
    __m256d q = _mm256_add_pd(_mm256_set1_pd(1.0),
                              _mm256_fmadd_pd(r2, P, r));
    /* 2^n, n in [-1022, 0]: the biased exponent n + 1023 in bits 52-62 */
    __m128i n32 = _mm256_cvtpd_epi32(n);
    __m256i bits = _mm256_slli_epi64(
        _mm256_add_epi64(_mm256_cvtepi32_epi64(n32), _mm256_set1_epi64x(1023)),
        52);
    __m256d e = _mm256_mul_pd(q, _mm256_castsi256_pd(bits));
    e = _mm256_and_pd(e, _mm256_cmp_pd(x, lowest, _CMP_GE_OQ));  /* 0 below */
    return _mm256_blendv_pd(e, x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}

/* The lanes' sum in a fixed order. */
MCNN_AVX2_FMA static inline double mcnn_sum4(__m256d v) {
    double s[4];
    _mm256_storeu_pd(s, v);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* LOAD4(ptr) reads four scores as doubles, STORE4(ptr, v) writes four
 * exponentials in the row's type. */
#define MCNN_SHIFTED_EXP_AVX2(T, LOAD4, STORE4)                               \
    MCNN_AVX2_FMA static double mcnn_shifted_exp_##T##_avx2(                  \
        const T* z, double shift, T* p, ptrdiff_t C) {                        \
        const __m256d s = _mm256_set1_pd(shift);                              \
        __m256d tot = _mm256_setzero_pd(), e;                                 \
        T buf[4];                                                             \
        ptrdiff_t k, j;                                                       \
        for (k = 0; k + 4 <= C; k += 4) {                                     \
            e = mcnn_exp4_nonpositive(_mm256_sub_pd(LOAD4(z + k), s));        \
            STORE4(p + k, e);                                                 \
            tot = _mm256_add_pd(tot, e);                                      \
        }                                                                     \
        if (k < C) {            /* the last few, padded with −inf: e = 0 */  \
            for (j = 0; j < 4; j++)                                           \
                buf[j] = k + j < C ? z[k + j] : (T) -INFINITY;                \
            e = mcnn_exp4_nonpositive(_mm256_sub_pd(LOAD4(buf), s));          \
            STORE4(buf, e);                                                   \
            for (j = 0; k + j < C; j++)                                       \
                p[k + j] = buf[j];                                            \
            tot = _mm256_add_pd(tot, e);                                      \
        }                                                                     \
        return mcnn_sum4(tot);                                                \
    }

#define MCNN_LOAD4_DOUBLE(ptr) _mm256_loadu_pd(ptr)
#define MCNN_STORE4_DOUBLE(ptr, v) _mm256_storeu_pd(ptr, v)
#define MCNN_LOAD4_FLOAT(ptr) _mm256_cvtps_pd(_mm_loadu_ps(ptr))
#define MCNN_STORE4_FLOAT(ptr, v) _mm_storeu_ps(ptr, _mm256_cvtpd_ps(v))

MCNN_SHIFTED_EXP_AVX2(float, MCNN_LOAD4_FLOAT, MCNN_STORE4_FLOAT)
MCNN_SHIFTED_EXP_AVX2(double, MCNN_LOAD4_DOUBLE, MCNN_STORE4_DOUBLE)

#endif

/* The entry points, for both builds. */
static inline double mcnn_shifted_exp_float(const float* z, double shift,
                                            float* p, ptrdiff_t C) {
    return MCNN_DISPATCH(mcnn_has_avx2_fma(),
                         mcnn_shifted_exp_float_avx2(z, shift, p, C),
                         mcnn_shifted_exp_float_scalar(z, shift, p, C));
}
static inline double mcnn_shifted_exp_double(const double* z, double shift,
                                             double* p, ptrdiff_t C) {
    return MCNN_DISPATCH(mcnn_has_avx2_fma(),
                         mcnn_shifted_exp_double_avx2(z, shift, p, C),
                         mcnn_shifted_exp_double_scalar(z, shift, p, C));
}
#endif
