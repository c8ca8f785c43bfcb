/* What this CPU can run, asked once: the kernels compiled for AVX2 (and
 * FMA) beside the baseline build choose by these answers at run time.
 * Concurrent first calls write the same answer. */
#ifndef MCNN_CPU_H
#define MCNN_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define MCNN_X86_DISPATCH 1

static inline int mcnn_has_avx2(void) {
    static int answer = -1;
    if (answer < 0) {
        __builtin_cpu_init();
        answer = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return answer;
}

static inline int mcnn_has_avx2_fma(void) {
    static int answer = -1;
    if (answer < 0) {
        __builtin_cpu_init();
        answer = (__builtin_cpu_supports("avx2")
                  && __builtin_cpu_supports("fma")) ? 1 : 0;
    }
    return answer;
}

#include <immintrin.h>

/* The attribute of the AVX2 and FMA builds. */
#define MCNN_AVX2_FMA __attribute__((target("avx2,fma")))

/* Lane masks for a vector that ends a row of `cols` numbers, the vector
 * starting at column `offset`: lane i is all ones when offset + i < cols
 * (loads through them read nothing beyond the row). */
MCNN_AVX2_FMA static inline __m256i mcnn_mask_float(int cols, int offset) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - offset),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

MCNN_AVX2_FMA static inline __m256i mcnn_mask_double(int cols, int offset) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(cols - offset),
                              _mm256_setr_epi64x(0, 1, 2, 3));
}

#else
#define MCNN_X86_DISPATCH 0

static inline int mcnn_has_avx2(void) { return 0; }
static inline int mcnn_has_avx2_fma(void) { return 0; }

#endif

/* AVX2_CALL where the CPU has what it needs (HAS: mcnn_has_avx2() or
 * mcnn_has_avx2_fma()), else SCALAR_CALL; builds without the AVX2 code
 * never see AVX2_CALL.  One entry point per kernel, for both builds. */
#if MCNN_X86_DISPATCH
#define MCNN_DISPATCH(HAS, AVX2_CALL, SCALAR_CALL)                            \
    ((HAS) ? (AVX2_CALL) : (SCALAR_CALL))
#else
#define MCNN_DISPATCH(HAS, AVX2_CALL, SCALAR_CALL) (SCALAR_CALL)
#endif
#endif
