/* CSR rows against a narrow layer (at most 32 float or 16 double units: the
 * softmax model's classes, a small hidden layer): the first layer's forward
 * products and weight gradient for sparse input.
 *
 * Each stored value x_ik of row i adds x_ik W_k to the row's outputs z_i
 * (forward) and x_ik δ_i to the gradient's row k (backward).  Done one
 * value at a time by a short loop (`axpy`), the forward pass keeps z_i in
 * memory, each value waiting for the last one's store: about 1.6 billion
 * multiply-adds a second on AMD EPYC, a tenth of what the cores can do.
 * Here z_i (forward, up to four vectors, one pass over the row's values)
 * and δ_i (backward) stay in AVX registers for the whole row, the forward
 * pass with two sets of accumulators (values 0, 2, 4, ... and 1, 3, 5, ...,
 * added at the end of the row) so that consecutive values do not wait for
 * each other.  The forward pass reads a row of W as whole vectors and a
 * last, masked one, so nothing beyond the row is read (ten float64 units
 * in one pass of three vectors instead of two passes, one of them over two
 * units: 1.41 against 2.05 ns per stored value, a C benchmark of 1000
 * rows × 784 at density 0.2 on AMD EPYC; masked loads cost more than plain
 * ones there); the gradient's rows are written in whole vectors and the
 * last few numbers of a row one by one (masked stores are slow on AMD).
 *
 * x86-64 with AVX2 and FMA only, chosen at run time: elsewhere (and for
 * wider layers, where whole vectors already serve) the functions return 0
 * and the caller keeps its loop.
 */
#ifndef MCNN_SPARSE_NARROW_H
#define MCNN_SPARSE_NARROW_H

#include <stddef.h>

#include "_cpu.h"

#if MCNN_X86_DISPATCH

/* Layers of at most this many vectors of units take these loops. */
enum { MCNN_CSR_NARROW_VECTORS = 4 };

/* z[0:w] += sum_k data[k] W[indices[k] * ldw + (0:w)] for a row of NV
 * vectors of units (the last one masked), in one pass over the row's
 * values */
#define MCNN_CSR_DOT_VECTORS(T, V, LANES, NV, LOAD, MASKLOAD, BCAST, FMA,     \
                             ADD, ZERO, STORE, MASK)                          \
    MCNN_AVX2_FMA static void mcnn_csr_dot_##T##_##NV(                        \
        const T* data, const int* indices, ptrdiff_t nnz, const T* W,         \
        ptrdiff_t ldw, int w, T* z) {                                         \
        const __m256i last = MASK(w, (NV - 1) * LANES);                       \
        T buf[NV * LANES];                                                    \
        V a[NV], b[NV];                                                       \
        ptrdiff_t k = 0;                                                      \
        int j;                                                                \
        for (j = 0; j < NV; j++)                                              \
            a[j] = b[j] = ZERO();                                             \
        for (; k + 2 <= nnz; k += 2) {                                        \
            const T* r0 = W + (ptrdiff_t) indices[k] * ldw;                   \
            const T* r1 = W + (ptrdiff_t) indices[k + 1] * ldw;               \
            V v0 = BCAST(data + k), v1 = BCAST(data + k + 1);                 \
            for (j = 0; j < NV - 1; j++) {                                    \
                a[j] = FMA(v0, LOAD(r0 + j * LANES), a[j]);                   \
                b[j] = FMA(v1, LOAD(r1 + j * LANES), b[j]);                   \
            }                                                                 \
            a[NV - 1] = FMA(v0, MASKLOAD(r0 + (NV - 1) * LANES, last),        \
                            a[NV - 1]);                                       \
            b[NV - 1] = FMA(v1, MASKLOAD(r1 + (NV - 1) * LANES, last),        \
                            b[NV - 1]);                                       \
        }                                                                     \
        if (k < nnz) {                                                        \
            const T* r0 = W + (ptrdiff_t) indices[k] * ldw;                   \
            V v0 = BCAST(data + k);                                           \
            for (j = 0; j < NV - 1; j++)                                      \
                a[j] = FMA(v0, LOAD(r0 + j * LANES), a[j]);                   \
            a[NV - 1] = FMA(v0, MASKLOAD(r0 + (NV - 1) * LANES, last),        \
                            a[NV - 1]);                                       \
        }                                                                     \
        for (j = 0; j < NV; j++)                                              \
            STORE(buf + j * LANES, ADD(a[j], b[j]));                          \
        for (j = 0; j < w; j++)                                               \
            z[j] += buf[j];                                                   \
    }

#define MCNN_CSR_NARROW(T, V, LANES, LOAD, MASKLOAD, BCAST, FMA, ADD, ZERO,   \
                        STORE, MASK)                                          \
    MCNN_CSR_DOT_VECTORS(T, V, LANES, 1, LOAD, MASKLOAD, BCAST, FMA, ADD,     \
                         ZERO, STORE, MASK)                                   \
    MCNN_CSR_DOT_VECTORS(T, V, LANES, 2, LOAD, MASKLOAD, BCAST, FMA, ADD,     \
                         ZERO, STORE, MASK)                                   \
    MCNN_CSR_DOT_VECTORS(T, V, LANES, 3, LOAD, MASKLOAD, BCAST, FMA, ADD,     \
                         ZERO, STORE, MASK)                                   \
    MCNN_CSR_DOT_VECTORS(T, V, LANES, 4, LOAD, MASKLOAD, BCAST, FMA, ADD,     \
                         ZERO, STORE, MASK)                                   \
                                                                              \
    /* z[0:w] += sum_k data[k] W[indices[k] * ldw + (0:w)] */                 \
    MCNN_AVX2_FMA static void mcnn_csr_dot_##T##_avx2(                        \
        const T* data, const int* indices, ptrdiff_t nnz, const T* W,         \
        ptrdiff_t ldw, int w, T* z) {                                         \
        switch ((w + LANES - 1) / LANES) {                                    \
        case 1: mcnn_csr_dot_##T##_1(data, indices, nnz, W, ldw, w, z); break;\
        case 2: mcnn_csr_dot_##T##_2(data, indices, nnz, W, ldw, w, z); break;\
        case 3: mcnn_csr_dot_##T##_3(data, indices, nnz, W, ldw, w, z); break;\
        default: mcnn_csr_dot_##T##_4(data, indices, nnz, W, ldw, w, z);      \
        }                                                                     \
    }                                                                         \
                                                                              \
    /* dW[indices[k] * ldw + (0:w)] += data[k] d[0:w] */                      \
    MCNN_AVX2_FMA static void mcnn_csr_scatter_##T##_avx2(                    \
        const T* data, const int* indices, ptrdiff_t nnz, const T* d, int w,  \
        T* dW, ptrdiff_t ldw) {                                               \
        const int full = w / LANES;     /* whole vectors, at most 4 */        \
        V dv[MCNN_CSR_NARROW_VECTORS];                                        \
        ptrdiff_t k;                                                          \
        int j;                                                                \
        for (j = 0; j < full; j++)                                            \
            dv[j] = LOAD(d + j * LANES);                                      \
        for (k = 0; k < nnz; k++) {                                           \
            T* row = dW + (ptrdiff_t) indices[k] * ldw;                       \
            V v = BCAST(data + k);                                            \
            for (j = 0; j < full; j++)                                        \
                STORE(row + j * LANES,                                        \
                      FMA(v, dv[j], LOAD(row + j * LANES)));                  \
            for (j = full * LANES; j < w; j++)                                \
                row[j] += data[k] * d[j];                                     \
        }                                                                     \
    }                                                                         \
                                                                              \
    static inline int mcnn_csr_narrow_##T(int w) {                            \
        return 2 <= w && w <= MCNN_CSR_NARROW_VECTORS * LANES                 \
               && mcnn_has_avx2_fma();                                        \
    }                                                                         \
                                                                              \
    static inline int mcnn_csr_dot_##T(                                       \
        const T* data, const int* indices, ptrdiff_t nnz, const T* W,         \
        ptrdiff_t ldw, int w, T* z) {                                         \
        if (!mcnn_csr_narrow_##T(w))                                          \
            return 0;                                                         \
        mcnn_csr_dot_##T##_avx2(data, indices, nnz, W, ldw, w, z);            \
        return 1;                                                             \
    }                                                                         \
                                                                              \
    static inline int mcnn_csr_scatter_##T(                                   \
        const T* data, const int* indices, ptrdiff_t nnz, const T* d, int w,  \
        T* dW, ptrdiff_t ldw) {                                               \
        if (!mcnn_csr_narrow_##T(w))                                          \
            return 0;                                                         \
        mcnn_csr_scatter_##T##_avx2(data, indices, nnz, d, w, dW, ldw);       \
        return 1;                                                             \
    }

MCNN_CSR_NARROW(float, __m256, 8, _mm256_loadu_ps, _mm256_maskload_ps,
                _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_add_ps,
                _mm256_setzero_ps, _mm256_storeu_ps, mcnn_mask_float)
MCNN_CSR_NARROW(double, __m256d, 4, _mm256_loadu_pd, _mm256_maskload_pd,
                _mm256_broadcast_sd, _mm256_fmadd_pd, _mm256_add_pd,
                _mm256_setzero_pd, _mm256_storeu_pd, mcnn_mask_double)

#else  /* no AVX2 build: the callers' loops do the work */

#define MCNN_CSR_NARROW_NONE(T)                                               \
    static inline int mcnn_csr_dot_##T(                                       \
        const T* data, const int* indices, ptrdiff_t nnz, const T* W,         \
        ptrdiff_t ldw, int w, T* z) {                                         \
        return 0;                                                             \
    }                                                                         \
    static inline int mcnn_csr_scatter_##T(                                   \
        const T* data, const int* indices, ptrdiff_t nnz, const T* d, int w,  \
        T* dW, ptrdiff_t ldw) {                                               \
        return 0;                                                             \
    }

MCNN_CSR_NARROW_NONE(float)
MCNN_CSR_NARROW_NONE(double)

#endif
#endif
