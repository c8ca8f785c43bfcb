/* Whether n float32 or float64 numbers are all finite: a number is inf or
 * NaN exactly when its exponent field is all ones.  Branch-free over the
 * bits, four vectors at a time with AVX2 (chosen at run time), without the
 * temporary array of booleans of np.isfinite(X).all(): a prediction of
 * plain input checks its rows on every call.  Elsewhere, the same test one
 * number at a time.
 */
#ifndef MCNN_FINITE_H
#define MCNN_FINITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_cpu.h"

#define MCNN_ALL_FINITE_SCALAR(T, U, EXP)                                     \
    static inline int mcnn_all_finite_##T##_scalar(const T* x, ptrdiff_t n) { \
        int bad = 0;                                                          \
        ptrdiff_t i;                                                          \
        U u;                                                                  \
        for (i = 0; i < n; i++) {                                             \
            memcpy(&u, x + i, sizeof(u));                                     \
            bad |= (u & EXP) == EXP;                                          \
        }                                                                     \
        return !bad;                                                          \
    }

MCNN_ALL_FINITE_SCALAR(float, uint32_t, UINT32_C(0x7f800000))
MCNN_ALL_FINITE_SCALAR(double, uint64_t, UINT64_C(0x7ff0000000000000))

#if MCNN_X86_DISPATCH

/* LANES numbers per vector; SET1 and CMPEQ for integers of their width. */
#define MCNN_ALL_FINITE_AVX2(T, LANES, SET1, CMPEQ, EXP)                      \
    MCNN_AVX2_FMA static int mcnn_all_finite_##T##_avx2(const T* x,           \
                                                        ptrdiff_t n) {        \
        const __m256i e = SET1(EXP);                                          \
        __m256i bad = _mm256_setzero_si256();                                 \
        ptrdiff_t i = 0;                                                      \
        int j;                                                                \
        for (; i + 4 * LANES <= n; i += 4 * LANES)                            \
            for (j = 0; j < 4; j++) {                                         \
                __m256i v = _mm256_loadu_si256(                               \
                    (const __m256i*) (x + i + j * LANES));                    \
                bad = _mm256_or_si256(bad,                                    \
                                      CMPEQ(_mm256_and_si256(v, e), e));      \
            }                                                                 \
        return _mm256_testz_si256(bad, bad)                                   \
               && mcnn_all_finite_##T##_scalar(x + i, n - i);                 \
    }                                                                         \
    static inline int mcnn_all_finite_##T(const T* x, ptrdiff_t n) {          \
        if (mcnn_has_avx2())                                                  \
            return mcnn_all_finite_##T##_avx2(x, n);                          \
        return mcnn_all_finite_##T##_scalar(x, n);                            \
    }

MCNN_ALL_FINITE_AVX2(float, 8, _mm256_set1_epi32, _mm256_cmpeq_epi32,
                     0x7f800000)
MCNN_ALL_FINITE_AVX2(double, 4, _mm256_set1_epi64x, _mm256_cmpeq_epi64,
                     0x7ff0000000000000LL)

#else

static inline int mcnn_all_finite_float(const float* x, ptrdiff_t n) {
    return mcnn_all_finite_float_scalar(x, n);
}
static inline int mcnn_all_finite_double(const double* x, ptrdiff_t n) {
    return mcnn_all_finite_double_scalar(x, n);
}

#endif
#endif
