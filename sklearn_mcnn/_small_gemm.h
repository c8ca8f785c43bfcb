/* A matrix product for few rows, C (m × n) := A (m × k) · B (k × n) + beta C,
 * all row-major, beta 0 or 1: the forward pass of a small batch.
 *
 * Why not BLAS: OpenBLAS multiplies by first copying ("packing") all of B,
 * which for a few rows costs more than the product itself.  With SciPy's
 * OpenBLAS 0.3.30 (Haswell kernels, AMD EPYC) a 10 × 784 by 784 × 256
 * float32 product took 238 µs, most of it in the packing of B
 * (sgemm_itcopy), where NumPy's OpenBLAS 0.3.31 took 128 µs.  This kernel
 * reads B where it lies.
 *
 * The kernel: panels of 2 vectors of columns of C (16 floats, 8 doubles), in
 * groups of up to 6 rows whose 12 accumulators stay in AVX registers while k
 * runs; the panel of B (k × 64 bytes) stays in L2 between the row groups.
 * Each entry of C is the same sum in the same order (k ascending, fused
 * multiply-adds) whatever its row group or panel, so the result does not
 * depend on how callers split the columns among threads.  The last, narrower
 * panel works on zero-padded copies of its columns of B and C.
 *
 * x86-64 with AVX2 and FMA only, chosen at run time: elsewhere
 * mcnn_gemm_rows_<T> returns 0 and the caller uses BLAS.
 */
#ifndef MCNN_SMALL_GEMM_H
#define MCNN_SMALL_GEMM_H

#include <stddef.h>
#include <string.h>

#include "_cpu.h"

/* Which products the kernel computes, from benchmarks/bench_small_gemm.py
 * (AMD EPYC, SciPy's OpenBLAS 0.3.30), per dtype (float32, float64): those
 * of layers of at least MCNN_WIDE_LAYER outputs up to `wide` rows, those of
 * narrower layers (whose panel is partly padding) up to `narrow` rows.  The
 * benchmark and the tests change them (0: BLAS always). */
typedef struct { ptrdiff_t wide, narrow; } mcnn_row_limits;
static mcnn_row_limits mcnn_small_gemm_rows[2] = {{32, 32}, {8, 4}};
enum { MCNN_WIDE_LAYER = 32 };

static inline int mcnn_small_gemm_wanted(ptrdiff_t m, ptrdiff_t n,
                                         size_t itemsize) {
    const mcnn_row_limits* limits = &mcnn_small_gemm_rows[itemsize == 8];
    return m <= (n >= MCNN_WIDE_LAYER ? limits->wide : limits->narrow);
}

#if MCNN_X86_DISPATCH

/* The last, narrower panel goes through copies of its columns, whole
 * vectors wide: MCNN_TAIL_K rows of B and MCNN_TAIL_M rows of C at a time. */
enum { MCNN_TAIL_K = 128, MCNN_TAIL_M = 48 };

/* The panel of rows [0, R), R <= 6 (A, C offset to the group's first row)
 * and 2 * LANES columns of B and C (offset to the panel). */
#define MCNN_PANEL(NAME, T, V, LANES, LOAD, BCAST, FMA, ZERO, STORE)          \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void NAME(     \
        const int R, ptrdiff_t k, const T* A, ptrdiff_t lda, const T* B,      \
        ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {                        \
        V acc[6][2];                                                          \
        ptrdiff_t kk;                                                         \
        int r;                                                                \
        for (r = 0; r < R; r++) {                                             \
            acc[r][0] = add ? LOAD(C + r * ldc) : ZERO();                     \
            acc[r][1] = add ? LOAD(C + r * ldc + LANES) : ZERO();             \
        }                                                                     \
        for (kk = 0; kk < k; kk++) {                                          \
            const T* b = B + kk * ldb;                                        \
            V b0 = LOAD(b), b1 = LOAD(b + LANES);                             \
            for (r = 0; r < R; r++) {                                         \
                V a = BCAST(A + r * lda + kk);                                \
                acc[r][0] = FMA(a, b0, acc[r][0]);                            \
                acc[r][1] = FMA(a, b1, acc[r][1]);                            \
            }                                                                 \
        }                                                                     \
        for (r = 0; r < R; r++) {                                             \
            STORE(C + r * ldc, acc[r][0]);                                    \
            STORE(C + r * ldc + LANES, acc[r][1]);                            \
        }                                                                     \
    }

/* The panel for the R rows from row i. */
#define MCNN_ROWS(PANEL, R)                                                   \
    PANEL(R, k, A + i * lda, lda, B, ldb, add, C + i * ldc, ldc)

/* All row groups of one panel; R becomes a constant in each call of the
 * panel, so its accumulators are registers. */
#define MCNN_PANELS(NAME, PANEL, T)                                           \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void NAME(     \
        ptrdiff_t m, ptrdiff_t k, const T* A, ptrdiff_t lda, const T* B,      \
        ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {                        \
        ptrdiff_t i = 0;                                                      \
        for (; i + 6 <= m; i += 6)                                            \
            MCNN_ROWS(PANEL, 6);                                              \
        switch (m - i) {                                                      \
        case 5: MCNN_ROWS(PANEL, 5); break;                                   \
        case 4: MCNN_ROWS(PANEL, 4); break;                                   \
        case 3: MCNN_ROWS(PANEL, 3); break;                                   \
        case 2: MCNN_ROWS(PANEL, 2); break;                                   \
        case 1: MCNN_ROWS(PANEL, 1); break;                                   \
        }                                                                     \
    }

/* The entry point: 1 when done, 0 when this CPU needs BLAS instead.  The
 * last panel's `cols` columns of B and C are copied into buffers of whole
 * vectors (zeros beyond them), which the panel reads and writes like any
 * other: masked loads and stores, or a panel that handles partial rows,
 * were 2.5 times slower on AMD EPYC (the compiler kept the accumulators in
 * memory).  C's buffer holds the sums between blocks of B, which keeps the
 * order of each sum. */
#define MCNN_GEMM_ROWS(T, LANES, PANELS)                                      \
    MCNN_AVX2_FMA static void mcnn_gemm_rows_##T##_avx2(                      \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        enum { W = 2 * LANES };                                               \
        T tail_b[MCNN_TAIL_K * W], tail_c[MCNN_TAIL_M * W];                   \
        ptrdiff_t j = 0, i0, mb, k0, kb, r;                                   \
        size_t row_size, pad_size;                                            \
        for (; j + W <= n; j += W)                                            \
            PANELS(m, k, A, lda, B + j, ldb, add, C + j, ldc);                \
        if (j == n)                                                           \
            return;                                                           \
        row_size = (size_t) (n - j) * sizeof(T);                              \
        pad_size = W * sizeof(T) - row_size;    /* zeros beyond the row */    \
        for (i0 = 0; i0 < m; i0 += MCNN_TAIL_M) {                             \
            mb = m - i0 < MCNN_TAIL_M ? m - i0 : MCNN_TAIL_M;                 \
            for (r = 0; r < mb; r++) {                                        \
                if (add)                                                      \
                    memcpy(tail_c + r * W, C + (i0 + r) * ldc + j, row_size); \
                else                                                          \
                    memset(tail_c + r * W, 0, row_size);                      \
                memset((char*) (tail_c + r * W) + row_size, 0, pad_size);     \
            }                                                                 \
            for (k0 = 0; k0 < k; k0 += MCNN_TAIL_K) {                         \
                kb = k - k0 < MCNN_TAIL_K ? k - k0 : MCNN_TAIL_K;             \
                for (r = 0; r < kb; r++) {                                    \
                    memcpy(tail_b + r * W, B + (k0 + r) * ldb + j, row_size); \
                    memset((char*) (tail_b + r * W) + row_size, 0, pad_size); \
                }                                                             \
                PANELS(mb, kb, A + i0 * lda + k0, lda, tail_b, W, 1, tail_c,  \
                       W);                                                    \
            }                                                                 \
            for (r = 0; r < mb; r++)                                          \
                memcpy(C + (i0 + r) * ldc + j, tail_c + r * W, row_size);     \
        }                                                                     \
    }                                                                         \
    static inline int mcnn_gemm_rows_##T(                                     \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        if (!mcnn_small_gemm_wanted(m, n, sizeof(T)) || !mcnn_has_avx2_fma()) \
            return 0;                                                         \
        mcnn_gemm_rows_##T##_avx2(m, n, k, A, lda, B, ldb, add, C, ldc);      \
        return 1;                                                             \
    }

MCNN_PANEL(mcnn_panel_float, float, __m256, 8, _mm256_loadu_ps,
           _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_setzero_ps,
           _mm256_storeu_ps)
MCNN_PANELS(mcnn_panels_float, mcnn_panel_float, float)
MCNN_GEMM_ROWS(float, 8, mcnn_panels_float)

MCNN_PANEL(mcnn_panel_double, double, __m256d, 4, _mm256_loadu_pd,
           _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_setzero_pd,
           _mm256_storeu_pd)
MCNN_PANELS(mcnn_panels_double, mcnn_panel_double, double)
MCNN_GEMM_ROWS(double, 4, mcnn_panels_double)

#else  /* no AVX2 build: BLAS does every product */

static inline int mcnn_gemm_rows_float(
    ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float* A, ptrdiff_t lda,
    const float* B, ptrdiff_t ldb, int add, float* C, ptrdiff_t ldc) {
    return 0;
}

static inline int mcnn_gemm_rows_double(
    ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double* A, ptrdiff_t lda,
    const double* B, ptrdiff_t ldb, int add, double* C, ptrdiff_t ldc) {
    return 0;
}

#endif
#endif
