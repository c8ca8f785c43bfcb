/* CSR rows against a narrow layer (at most 32 float or 16 double units: the
 * softmax model's classes, a small hidden layer): the first layer's forward
 * products and weight gradient for sparse input.
 *
 * Each stored value x_ik of row i adds x_ik W_k to the row's outputs z_i
 * (forward) and x_ik δ_i to the gradient's row k (backward).  Done one
 * value at a time by a short loop (`axpy`), the forward pass keeps z_i in
 * memory, each value waiting for the last one's store: about 1.6 billion
 * multiply-adds a second on AMD EPYC, a tenth of what the cores can do.
 * Here z_i (forward, in panels of two vectors, a pass over the row's values
 * each) and δ_i (backward) stay in AVX registers for the whole row, the
 * forward pass with two sets of accumulators (values 0, 2, 4, ...
 * and 1, 3, 5, ..., added at the end of the row) so that consecutive
 * values do not wait for each other.  Rows of W are read with masked loads,
 * so nothing beyond a row is read; the gradient's rows are written in whole
 * vectors and the last few numbers of a row one by one (masked stores are
 * slow on AMD).
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

#define MCNN_CSR_NARROW(T, V, LANES, LOAD, MASKLOAD, BCAST, FMA, ADD, ZERO,   \
                        STORE, MASK)                                          \
    /* z[0:w] += sum_k data[k] W[indices[k] * ldw + (0:w)], in panels of     \
     * two vectors of columns, each a pass over the row's values */          \
    MCNN_AVX2_FMA static void mcnn_csr_dot_##T##_avx2(                        \
        const T* data, const int* indices, ptrdiff_t nnz, const T* W,         \
        ptrdiff_t ldw, int w, T* z) {                                         \
        T buf[2 * LANES];                                                     \
        int c0, j;                                                            \
        for (c0 = 0; c0 < w; c0 += 2 * LANES) {                               \
            const T* Wc = W + c0;                                             \
            const int cols = w - c0 < 2 * LANES ? w - c0 : 2 * LANES;         \
            __m256i lo = MASK(cols, 0), hi = MASK(cols, LANES);               \
            V a0 = ZERO(), a1 = ZERO(), b0 = ZERO(), b1 = ZERO();             \
            ptrdiff_t k = 0;                                                  \
            for (; k + 2 <= nnz; k += 2) {                                    \
                const T* r0 = Wc + (ptrdiff_t) indices[k] * ldw;              \
                const T* r1 = Wc + (ptrdiff_t) indices[k + 1] * ldw;          \
                V v0 = BCAST(data + k), v1 = BCAST(data + k + 1);             \
                a0 = FMA(v0, MASKLOAD(r0, lo), a0);                           \
                a1 = FMA(v0, MASKLOAD(r0 + LANES, hi), a1);                   \
                b0 = FMA(v1, MASKLOAD(r1, lo), b0);                           \
                b1 = FMA(v1, MASKLOAD(r1 + LANES, hi), b1);                   \
            }                                                                 \
            if (k < nnz) {                                                    \
                const T* r0 = Wc + (ptrdiff_t) indices[k] * ldw;              \
                V v0 = BCAST(data + k);                                       \
                a0 = FMA(v0, MASKLOAD(r0, lo), a0);                           \
                a1 = FMA(v0, MASKLOAD(r0 + LANES, hi), a1);                   \
            }                                                                 \
            STORE(buf, ADD(a0, b0));                                          \
            STORE(buf + LANES, ADD(a1, b1));                                  \
            for (j = 0; j < cols; j++)                                        \
                z[c0 + j] += buf[j];                                          \
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
