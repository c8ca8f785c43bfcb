/* The kernels' own matrix products, all row-major, for the shapes BLAS does
 * badly: the forward product of a few rows, C (m × n) := A (m × k) · B
 * (k × n) + beta C (beta 0 or 1), and a narrow layer's products (fewer than
 * MCNN_WIDE_LAYER outputs): its forward product of many rows and its weight
 * gradient C := Aᵀ B (+ C).
 *
 * Why not BLAS: OpenBLAS multiplies by first copying ("packing") its
 * operands, which for a few rows, or a thin B, costs as much as the product
 * itself.  With SciPy's OpenBLAS 0.3.30 (Haswell kernels, AMD EPYC) a
 * 10 × 784 by 784 × 256 float32 product took 238 µs, most of it in the
 * packing of B (sgemm_itcopy), where NumPy's OpenBLAS 0.3.31 took 128 µs;
 * in a full-batch pass of a 10-class softmax model, packing X took half of
 * the two products' time.  These kernels read their operands where they lie.
 *
 * The panels: 2 vectors of columns of C (16 floats, 8 doubles), in groups
 * of up to 6 rows whose 12 accumulators stay in AVX registers while k runs;
 * the panel of B (k × 64 bytes) stays in L2 between the row groups.  Each
 * entry of C is the same sum in the same order (k ascending, fused
 * multiply-adds) whatever its row group or panel, so the result does not
 * depend on how callers split the columns among threads.  The last,
 * narrower panel works on zero-padded copies of its columns of B and C.
 * A narrow layer's gradient runs on the same panels as Cᵀ = Bᵀ A; its
 * forward product of many rows as dot products (MCNN_DOT_PANEL).
 *
 * x86-64 with AVX2 and FMA only, chosen at run time: elsewhere the entry
 * points return 0 and the caller uses BLAS.
 */
#ifndef MCNN_SMALL_GEMM_H
#define MCNN_SMALL_GEMM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_cpu.h"

/* Which forward products the kernels compute, from
 * benchmarks/bench_small_gemm.py (AMD EPYC, SciPy's OpenBLAS 0.3.30), per
 * dtype (float32, float64): those of layers of at least MCNN_WIDE_LAYER
 * outputs up to `wide` rows and those of narrower layers (whose panel is
 * partly padding) up to `narrow` rows go to the panels; narrow layers'
 * products of more rows whose dot products are at least `dot_depth` long
 * (k, the layer's inputs) go to the dot products: a softmax model's chunks
 * of 127 rows of 784 pixels, where they took 0.81-0.90 times BLAS's time
 * from 48 rows on in float32 (1.04-1.39 for 64 or 128 inputs: the lanes'
 * sums then weigh), and 0.75-0.98 from 24 rows on for 64 inputs or more
 * in float64.  The benchmark and the tests change them (0: never; all 0:
 * BLAS always). */
typedef struct { ptrdiff_t wide, narrow, dot_depth; } mcnn_row_limits;
static mcnn_row_limits mcnn_small_gemm_rows[2] = {{32, 32, 256},
                                                  {8, 4, 64}};
enum { MCNN_WIDE_LAYER = 32 };
enum mcnn_forward_kind { MCNN_BY_BLAS, MCNN_BY_PANELS, MCNN_BY_DOTS };

static inline enum mcnn_forward_kind mcnn_small_gemm_kind(
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, size_t itemsize) {
    const mcnn_row_limits* limits = &mcnn_small_gemm_rows[itemsize == 8];
    if (n >= MCNN_WIDE_LAYER)
        return m <= limits->wide ? MCNN_BY_PANELS : MCNN_BY_BLAS;
    if (m <= limits->narrow)
        return MCNN_BY_PANELS;
    return limits->dot_depth > 0 && k >= limits->dot_depth ? MCNN_BY_DOTS
                                                           : MCNN_BY_BLAS;
}

/* How mcnn_gemm_rows_<T> computes a forward product on this CPU (BLAS
 * also when the dot products find no memory for their copy of B, which
 * this cannot foresee). */
static inline enum mcnn_forward_kind mcnn_forward_kind(
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, size_t itemsize) {
    return mcnn_has_avx2_fma() ? mcnn_small_gemm_kind(m, n, k, itemsize)
                               : MCNN_BY_BLAS;
}

/* Whether the kernels compute the forward product themselves: inference
 * asks it to know whether BLAS may start threads of its own
 * (blas_forward_work in _network.pyx). */
static inline int mcnn_forward_by_kernel(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                         size_t itemsize) {
    return mcnn_forward_kind(m, n, k, itemsize) != MCNN_BY_BLAS;
}

/* The weight gradient Aᵀ D of layers of at most this many outputs, per
 * dtype (float32, float64), goes to the kernel whatever the batch's rows
 * (0: BLAS always), up to MCNN_NARROW_MAX: in benchmarks/bench_small_gemm.py
 * the kernel took 0.59-1.06 times BLAS's time for layers of 2 to 31
 * outputs, 8 to 256 rows (a full-batch pass's chunk), the ratio falling
 * with the rows. */
static ptrdiff_t mcnn_narrow_gradient_cols[2] = {31, 31};
enum { MCNN_NARROW_MAX = 32, MCNN_GRAD_BLOCK = 128 };

static inline int mcnn_narrow_gradient_wanted(ptrdiff_t n, size_t itemsize) {
    return n <= mcnn_narrow_gradient_cols[itemsize == 8]
        && n <= MCNN_NARROW_MAX;
}

#if MCNN_X86_DISPATCH

/* The last, narrower panel goes through copies of its columns, whole
 * vectors wide: MCNN_TAIL_K rows of B and MCNN_TAIL_M rows of C at a time. */
enum { MCNN_TAIL_K = 128, MCNN_TAIL_M = 48 };

/* The panel of rows [0, R), R <= 6 (A, C offset to the group's first row)
 * and 2 * LANES columns of B and C (offset to the panel).  Entry (r, kk) of
 * op(A) is A[r * ars + kk * aks]: ars = lda, aks = 1 for A, ars = 1,
 * aks = lda for Aᵀ. */
#define MCNN_PANEL(NAME, T, V, LANES, LOAD, BCAST, FMA, ZERO, STORE)          \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void NAME(     \
        const int R, ptrdiff_t k, const T* A, ptrdiff_t ars, ptrdiff_t aks,   \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
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
                V a = BCAST(A + r * ars + kk * aks);                          \
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
    PANEL(R, k, A + i * ars, ars, aks, B, ldb, add, C + i * ldc, ldc)

/* All row groups of one panel; R becomes a constant in each call of the
 * panel, so its accumulators are registers. */
#define MCNN_PANELS(NAME, PANEL, T)                                           \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void NAME(     \
        ptrdiff_t m, ptrdiff_t k, const T* A, ptrdiff_t ars, ptrdiff_t aks,   \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
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

/* The product over all panels, op(A) addressed as in MCNN_PANEL.  The last
 * panel's `cols` columns of B and C are copied into buffers of whole
 * vectors (zeros beyond them), which the panel reads and writes like any
 * other: masked loads and stores, or a panel that handles partial rows,
 * were 2.5 times slower on AMD EPYC (the compiler kept the accumulators in
 * memory).  C's buffer holds the sums between blocks of B, which keeps the
 * order of each sum.  Always inlined into one function per op(A), so that
 * the strides of A are constants there. */
#define MCNN_GEMM_CORE(T, LANES, PANELS)                                      \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void           \
    mcnn_gemm_core_##T(                                                       \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t ars,     \
        ptrdiff_t aks, const T* B, ptrdiff_t ldb, int add, T* C,              \
        ptrdiff_t ldc) {                                                      \
        enum { W = 2 * LANES };                                               \
        T tail_b[MCNN_TAIL_K * W], tail_c[MCNN_TAIL_M * W];                   \
        ptrdiff_t j = 0, i0, mb, k0, kb, r;                                   \
        size_t row_size, pad_size;                                            \
        for (; j + W <= n; j += W)                                            \
            PANELS(m, k, A, ars, aks, B + j, ldb, add, C + j, ldc);           \
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
                PANELS(mb, kb, A + i0 * ars + k0 * aks, ars, aks, tail_b, W,  \
                       1, tail_c, W);                                         \
            }                                                                 \
            for (r = 0; r < mb; r++)                                          \
                memcpy(C + (i0 + r) * ldc + j, tail_c + r * W, row_size);     \
        }                                                                     \
    }

/* Narrow layers (fewer than MCNN_WIDE_LAYER outputs: a softmax model's
 * classes) would leave most lanes of a panel of C padding.  Their forward
 * product of many rows is a set of dot products instead, vectors along k:
 * each entry z_ic = Σ_k a_ik w_kc from a row of A and a row of Wᵀ (a
 * transposed copy of W, on the stack up to MCNN_DOT_STACK numbers, else on
 * the heap), R <= 3 rows by CC <= 4 columns of C per panel, 12
 * accumulators, the next rows of A prefetched (in a full-batch pass they
 * come from memory).  Each lane sums k ascending, then the lanes are added
 * in order, then the last k % LANES products, then the sum is added to C:
 * the same sequence for every entry whatever its panel, so results do not
 * depend on how callers split the rows or the columns. */
enum { MCNN_DOT_STACK = 4096 };

#define MCNN_DOT_PANEL(NAME, T, V, LANES, LOAD, FMA, ZERO, STORE, SFMA)      \
    MCNN_AVX2_FMA __attribute__((always_inline)) static inline void NAME(     \
        const int R, const int CC, ptrdiff_t kb, const T* A, ptrdiff_t lda,   \
        const T* P, ptrdiff_t lds, const T* Wt, ptrdiff_t ldw, T* C,          \
        ptrdiff_t ldc) {                                                      \
        V acc[3][4];                                                          \
        ptrdiff_t kk, kv = kb - kb % LANES;                                   \
        int r, c, l;                                                          \
        for (r = 0; r < R; r++)                                               \
            for (c = 0; c < CC; c++)                                          \
                acc[r][c] = ZERO();                                           \
        for (kk = 0; kk < kv; kk += LANES) {                                  \
            V a[3];                                                           \
            for (r = 0; r < R; r++) {                                         \
                a[r] = LOAD(A + r * lda + kk);                                \
                _mm_prefetch((const char*) (P + r * lds + kk), _MM_HINT_T0);  \
            }                                                                 \
            for (c = 0; c < CC; c++) {                                        \
                V w = LOAD(Wt + c * ldw + kk);                                \
                for (r = 0; r < R; r++)                                       \
                    acc[r][c] = FMA(a[r], w, acc[r][c]);                      \
            }                                                                 \
        }                                                                     \
        for (r = 0; r < R; r++)                                               \
            for (c = 0; c < CC; c++) {                                        \
                T lanes[LANES], sum;                                          \
                STORE(lanes, acc[r][c]);                                      \
                sum = lanes[0];                                               \
                for (l = 1; l < LANES; l++)                                   \
                    sum += lanes[l];                                          \
                for (kk = kv; kk < kb; kk++)                                  \
                    sum = SFMA(A[r * lda + kk], Wt[c * ldw + kk], sum);       \
                C[r * ldc + c] += sum;                                        \
            }                                                                 \
    }

/* The panel for R rows from row i and CC columns from column c0. */
#define MCNN_DOT_CALL(PANEL, R, CC)                                           \
    PANEL(R, CC, k, A + i * lda, lda, P, lds, Wt + c0 * ldw, ldw,             \
          C + i * ldc + c0, ldc)
#define MCNN_DOT_COLS(PANEL, R)                                               \
    switch (cc) {                                                             \
    case 4: MCNN_DOT_CALL(PANEL, R, 4); break;                                \
    case 3: MCNN_DOT_CALL(PANEL, R, 3); break;                                \
    case 2: MCNN_DOT_CALL(PANEL, R, 2); break;                                \
    case 1: MCNN_DOT_CALL(PANEL, R, 1); break;                                \
    }

#define MCNN_GEMM_DOT(T, PANEL)                                               \
    MCNN_AVX2_FMA static int mcnn_gemm_dot_##T##_avx2(                        \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        T stack[MCNN_DOT_STACK] __attribute__((aligned(32)));                 \
        T* Wt = stack;                                                        \
        ptrdiff_t i, c0, cc, kk, c, ldw = k;                                  \
        if (n * k > MCNN_DOT_STACK) {                                         \
            Wt = (T*) malloc((size_t) (n * k) * sizeof(T));                   \
            if (Wt == NULL)                                                   \
                return 0;                                                     \
        }                                                                     \
        for (kk = 0; kk < k; kk++)                                            \
            for (c = 0; c < n; c++)                                           \
                Wt[c * ldw + kk] = B[kk * ldb + c];                           \
        if (!add)                                                             \
            for (i = 0; i < m; i++)                                           \
                memset(C + i * ldc, 0, (size_t) n * sizeof(T));               \
        for (i = 0; i < m; i += 3) {                                          \
            /* the next three rows, or as many as there are, or these */      \
            const T* P = m - i > 3 ? A + (i + 3) * lda : A + i * lda;         \
            ptrdiff_t lds = m - i > 5 ? lda : 0;                              \
            for (c0 = 0; c0 < n; c0 += 4) {                                   \
                cc = n - c0 < 4 ? n - c0 : 4;                                 \
                if (m - i >= 3) {                                             \
                    MCNN_DOT_COLS(PANEL, 3)                                   \
                } else if (m - i == 2) {                                      \
                    MCNN_DOT_COLS(PANEL, 2)                                   \
                } else {                                                      \
                    MCNN_DOT_COLS(PANEL, 1)                                   \
                }                                                             \
            }                                                                 \
        }                                                                     \
        if (Wt != stack)                                                      \
            free(Wt);                                                         \
        return 1;                                                             \
    }

/* The entry points, 1 when done, 0 when BLAS must do it (this CPU, or a
 * shape outside the limits):
 * - mcnn_gemm_rows_<T>: C (m × n) := A B (+ C), A m × k: the forward
 *   product of a few rows;
 * - mcnn_gemm_tn_<T>: C (m × n) := Aᵀ B (+ C), A k × m: the weight gradient
 *   of a narrow layer, k the batch's rows.  */
#define MCNN_GEMM_ENTRIES(T)                                                  \
    MCNN_AVX2_FMA static void mcnn_gemm_nn_##T##_avx2(                        \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        mcnn_gemm_core_##T(m, n, k, A, lda, 1, B, ldb, add, C, ldc);          \
    }                                                                         \
    MCNN_AVX2_FMA static void mcnn_gemm_tn_##T##_avx2(                        \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        T S[MCNN_NARROW_MAX * MCNN_GRAD_BLOCK];                               \
        ptrdiff_t f0, fb, f, c;                                               \
        for (f0 = 0; f0 < m; f0 += MCNN_GRAD_BLOCK) {                         \
            fb = m - f0 < MCNN_GRAD_BLOCK ? m - f0 : MCNN_GRAD_BLOCK;         \
            /* Sᵀ = Bᵀ A[:, f0:f0 + fb]: vectors along A's rows */            \
            mcnn_gemm_core_##T(n, fb, k, B, 1, ldb, A + f0, lda, 0, S, fb);   \
            for (f = 0; f < fb; f++)                                          \
                for (c = 0; c < n; c++)                                       \
                    C[(f0 + f) * ldc + c] = add ? C[(f0 + f) * ldc + c]       \
                        + S[c * fb + f] : S[c * fb + f];                      \
        }                                                                     \
    }                                                                         \
    static inline int mcnn_gemm_rows_##T(                                     \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        const enum mcnn_forward_kind kind = mcnn_forward_kind(m, n, k,        \
                                                              sizeof(T));     \
        if (kind == MCNN_BY_BLAS)                                             \
            return 0;                                                         \
        if (kind == MCNN_BY_DOTS)                                             \
            return mcnn_gemm_dot_##T##_avx2(m, n, k, A, lda, B, ldb, add, C,  \
                                            ldc);                             \
        mcnn_gemm_nn_##T##_avx2(m, n, k, A, lda, B, ldb, add, C, ldc);        \
        return 1;                                                             \
    }                                                                         \
    static inline int mcnn_gemm_tn_##T(                                       \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        if (!mcnn_narrow_gradient_wanted(n, sizeof(T))                        \
                || !mcnn_has_avx2_fma())                                      \
            return 0;                                                         \
        mcnn_gemm_tn_##T##_avx2(m, n, k, A, lda, B, ldb, add, C, ldc);        \
        return 1;                                                             \
    }

/* Every kernel of one type: PS, SS the intrinsics' suffixes (ps, ss for
 * float; pd, sd for double), SFMA the scalar fused multiply-add. */
#define MCNN_KERNELS(T, V, LANES, PS, SS, SFMA)                               \
    MCNN_PANEL(mcnn_panel_##T, T, V, LANES, _mm256_loadu_##PS,                \
               _mm256_broadcast_##SS, _mm256_fmadd_##PS, _mm256_setzero_##PS, \
               _mm256_storeu_##PS)                                            \
    MCNN_PANELS(mcnn_panels_##T, mcnn_panel_##T, T)                           \
    MCNN_GEMM_CORE(T, LANES, mcnn_panels_##T)                                 \
    MCNN_DOT_PANEL(mcnn_dot_panel_##T, T, V, LANES, _mm256_loadu_##PS,        \
                   _mm256_fmadd_##PS, _mm256_setzero_##PS,                    \
                   _mm256_storeu_##PS, SFMA)                                  \
    MCNN_GEMM_DOT(T, mcnn_dot_panel_##T)                                      \
    MCNN_GEMM_ENTRIES(T)

MCNN_KERNELS(float, __m256, 8, ps, ss, __builtin_fmaf)
MCNN_KERNELS(double, __m256d, 4, pd, sd, __builtin_fma)

#else  /* no AVX2 build: BLAS does every product */

#define MCNN_NO_KERNEL(NAME, T)                                               \
    static inline int NAME(                                                   \
        ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T* A, ptrdiff_t lda,     \
        const T* B, ptrdiff_t ldb, int add, T* C, ptrdiff_t ldc) {            \
        return 0;                                                             \
    }

MCNN_NO_KERNEL(mcnn_gemm_rows_float, float)
MCNN_NO_KERNEL(mcnn_gemm_rows_double, double)
MCNN_NO_KERNEL(mcnn_gemm_tn_float, float)
MCNN_NO_KERNEL(mcnn_gemm_tn_double, double)

#endif
#endif
