"""Update rules of the stochastic solvers over one flat parameter vector.

Each rule is one fused loop over a contiguous segment of the parameters,
its gradient and its state vectors.  ``decay`` adds the L2 term's gradient
(``alpha · w``) on the fly, so weight segments pass ``alpha`` and intercept
or batch-norm segments pass 0.  The formulas are PyTorch's (``torch.optim``
with ``weight_decay=alpha``), so one step agrees with it to round-off.
"""

from libc.math cimport sqrt, sqrtf
from cython cimport floating

cdef enum Solver:
    SGD = 0
    ADAGRAD = 1
    RMSPROP = 2
    ADAM = 3


ctypedef struct Hyper:
    int solver
    double lr              # learning rate of this step
    double momentum
    bint nesterov
    double beta_1
    double beta_2
    double rho
    double epsilon
    double bias_1          # Adam: 1 - beta_1 ** t
    double bias_2          # Adam: 1 - beta_2 ** t


cdef inline floating fsqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void update(const Hyper* h, floating* p, const floating* g,
                        floating* s1, floating* s2, Py_ssize_t n,
                        double decay) noexcept nogil:
    """One step of the solver on ``p[:n]`` given the loss gradient ``g[:n]``.

    ``s1`` and ``s2`` are the solver's state (momentum buffer; squared
    gradient sum or average; Adam's first and second moments).
    """
    # Locals in the parameters' precision: float32 runs at twice the SIMD
    # width of float64 (as PyTorch computes its float32 updates).
    cdef Py_ssize_t i
    cdef floating gi, buf, m, v
    cdef floating lr = <floating> h.lr, mom = <floating> h.momentum
    cdef floating eps = <floating> h.epsilon, wd = <floating> decay
    cdef floating b1 = <floating> h.beta_1, b2 = <floating> h.beta_2
    cdef floating rho = <floating> h.rho
    cdef floating step_size, sqrt_bias_2
    if h.solver == SGD:
        if mom == 0:
            for i in range(n):
                p[i] -= lr * (g[i] + wd * p[i])
        elif h.nesterov:
            for i in range(n):
                gi = g[i] + wd * p[i]
                buf = mom * s1[i] + gi
                s1[i] = buf
                p[i] -= lr * (gi + mom * buf)
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                buf = mom * s1[i] + gi
                s1[i] = buf
                p[i] -= lr * buf
    elif h.solver == ADAGRAD:
        for i in range(n):
            gi = g[i] + wd * p[i]
            v = s1[i] + gi * gi
            s1[i] = v
            p[i] -= lr * gi / (fsqrt(v) + eps)
    elif h.solver == RMSPROP:
        for i in range(n):
            gi = g[i] + wd * p[i]
            v = rho * s1[i] + (1 - rho) * gi * gi
            s1[i] = v
            p[i] -= lr * gi / (fsqrt(v) + eps)
    else:  # ADAM
        step_size = <floating> (h.lr / h.bias_1)
        sqrt_bias_2 = <floating> sqrt(h.bias_2)
        for i in range(n):
            gi = g[i] + wd * p[i]
            m = b1 * s1[i] + (1 - b1) * gi
            v = b2 * s2[i] + (1 - b2) * gi * gi
            s1[i] = m
            s2[i] = v
            p[i] -= step_size * m / (fsqrt(v) / sqrt_bias_2 + eps)
