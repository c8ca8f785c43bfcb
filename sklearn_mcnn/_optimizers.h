/* The update rules of the stochastic solvers, over one contiguous segment of
 * the parameters, their gradient and the solver's state vectors.
 *
 * The formulas are PyTorch's (torch.optim with weight_decay = alpha): one
 * step agrees with it to round-off.  `decay` adds the L2 term's gradient
 * (alpha * w) on the fly, so weight segments pass alpha and intercept or
 * batch-norm segments pass 0.  Locals are in the parameters' precision:
 * float32 runs at twice the SIMD width of float64, as PyTorch's float32
 * updates do.
 *
 * Each loop is compiled twice on x86-64, for the baseline instruction set
 * (SSE2) and for AVX2, and the AVX2 build is chosen at run time where the
 * CPU has it: Adam, Adagrad and RMSProp are bound by their square roots and
 * divisions, which AVX2 does four (float64) or eight (float32) at a time
 * instead of two or four.  Neither build uses FMA, so both round every
 * operation alike and results do not depend on the CPU.
 */
#ifndef MCNN_OPTIMIZERS_H
#define MCNN_OPTIMIZERS_H

#include <math.h>
#include <stddef.h>

#include "_cpu.h"

#if defined(_MSC_VER) && !defined(restrict)
#define restrict __restrict
#endif

enum { MCNN_SGD = 0, MCNN_ADAGRAD = 1, MCNN_RMSPROP = 2, MCNN_ADAM = 3 };

typedef struct {
    int solver;
    double lr;          /* learning rate of this step */
    double momentum;
    int nesterov;
    double beta_1;
    double beta_2;
    double rho;
    double epsilon;
    double bias_1;      /* Adam: 1 - beta_1 ** t */
    double bias_2;      /* Adam: 1 - beta_2 ** t */
} mcnn_hyper;

/* One step of the solver on p[:n] given the loss gradient g[:n]; s1 and s2
 * are the solver's state (momentum buffer; squared gradient sum or average;
 * Adam's first and second moments). */
#define MCNN_UPDATE_BODY(T, SQRT)                                             \
{                                                                             \
    ptrdiff_t i;                                                              \
    T gi, buf, m, v;                                                          \
    const T lr = (T) h->lr, mom = (T) h->momentum, eps = (T) h->epsilon;      \
    const T wd = (T) decay, b1 = (T) h->beta_1, b2 = (T) h->beta_2;           \
    const T rho = (T) h->rho;                                                 \
    T step_size, inv_sqrt_bias_2;                                             \
    if (h->solver == MCNN_SGD) {                                              \
        if (mom == 0) {                                                       \
            for (i = 0; i < n; i++)                                           \
                p[i] -= lr * (g[i] + wd * p[i]);                              \
        } else if (h->nesterov) {                                             \
            for (i = 0; i < n; i++) {                                         \
                gi = g[i] + wd * p[i];                                        \
                buf = mom * s1[i] + gi;                                       \
                s1[i] = buf;                                                  \
                p[i] -= lr * (gi + mom * buf);                                \
            }                                                                 \
        } else {                                                              \
            for (i = 0; i < n; i++) {                                         \
                gi = g[i] + wd * p[i];                                        \
                buf = mom * s1[i] + gi;                                       \
                s1[i] = buf;                                                  \
                p[i] -= lr * buf;                                             \
            }                                                                 \
        }                                                                     \
    } else if (h->solver == MCNN_ADAGRAD) {                                   \
        for (i = 0; i < n; i++) {                                             \
            gi = g[i] + wd * p[i];                                            \
            v = s1[i] + gi * gi;                                              \
            s1[i] = v;                                                        \
            p[i] -= lr * gi / (SQRT(v) + eps);                                \
        }                                                                     \
    } else if (h->solver == MCNN_RMSPROP) {                                   \
        for (i = 0; i < n; i++) {                                             \
            gi = g[i] + wd * p[i];                                            \
            v = rho * s1[i] + (1 - rho) * gi * gi;                            \
            s1[i] = v;                                                        \
            p[i] -= lr * gi / (SQRT(v) + eps);                                \
        }                                                                     \
    } else {                                                                  \
        /* PyTorch's denominator sqrt(v) / sqrt(bias_2) + eps, multiplying */ \
        /* by the reciprocal: one division per entry instead of two.       */ \
        step_size = (T) (h->lr / h->bias_1);                                  \
        inv_sqrt_bias_2 = (T) (1.0 / sqrt(h->bias_2));                        \
        for (i = 0; i < n; i++) {                                             \
            gi = g[i] + wd * p[i];                                            \
            m = b1 * s1[i] + (1 - b1) * gi;                                   \
            v = b2 * s2[i] + (1 - b2) * gi * gi;                              \
            s1[i] = m;                                                        \
            s2[i] = v;                                                        \
            p[i] -= step_size * m / (SQRT(v) * inv_sqrt_bias_2 + eps);        \
        }                                                                     \
    }                                                                         \
}

#define MCNN_UPDATE_ARGS(T)                                                   \
    (const mcnn_hyper* h, T* restrict p, const T* restrict g,                 \
     T* restrict s1, T* restrict s2, ptrdiff_t n, double decay)

#if MCNN_X86_DISPATCH
/* mcnn_update_<T>: the AVX2 build where the CPU has it, else the baseline. */
#define MCNN_UPDATE(T, SQRT)                                                  \
    static void mcnn_update_##T##_base MCNN_UPDATE_ARGS(T)                    \
        MCNN_UPDATE_BODY(T, SQRT)                                             \
    __attribute__((target("avx2")))                                           \
    static void mcnn_update_##T##_avx2 MCNN_UPDATE_ARGS(T)                    \
        MCNN_UPDATE_BODY(T, SQRT)                                             \
    static inline void mcnn_update_##T MCNN_UPDATE_ARGS(T) {                  \
        if (mcnn_has_avx2())                                                  \
            mcnn_update_##T##_avx2(h, p, g, s1, s2, n, decay);                \
        else                                                                  \
            mcnn_update_##T##_base(h, p, g, s1, s2, n, decay);                \
    }
#else
#define MCNN_UPDATE(T, SQRT)                                                  \
    static inline void mcnn_update_##T MCNN_UPDATE_ARGS(T)                    \
        MCNN_UPDATE_BODY(T, SQRT)
#endif

MCNN_UPDATE(float, sqrtf)
MCNN_UPDATE(double, sqrt)

#endif
