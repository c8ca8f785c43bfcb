"""Update rules of the stochastic solvers over one flat parameter vector.

Each rule is one fused loop over a contiguous segment of the parameters,
its gradient and its state vectors.  ``decay`` adds the L2 term's gradient
(``alpha · w``) on the fly, so weight segments pass ``alpha`` and intercept
or batch-norm segments pass 0.  The formulas are PyTorch's (``torch.optim``
with ``weight_decay=alpha``), so one step agrees with it to round-off.
"""

from libc.math cimport sqrt
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


cdef inline void update(const Hyper* h, floating* p, const floating* g,
                        floating* s1, floating* s2, Py_ssize_t n,
                        double decay) noexcept nogil:
    """One step of the solver on ``p[:n]`` given the loss gradient ``g[:n]``.

    ``s1`` and ``s2`` are the solver's state (momentum buffer; squared
    gradient sum or average; Adam's first and second moments).
    """
    cdef Py_ssize_t i
    cdef double gi, buf, m, v, step
    cdef double lr = h.lr, mom = h.momentum, eps = h.epsilon
    cdef double b1 = h.beta_1, b2 = h.beta_2, rho = h.rho
    cdef double step_size, sqrt_bias_2
    if h.solver == SGD:
        if mom == 0.0:
            for i in range(n):
                p[i] -= <floating> (lr * (g[i] + decay * p[i]))
        elif h.nesterov:
            for i in range(n):
                gi = g[i] + decay * p[i]
                buf = mom * s1[i] + gi
                s1[i] = <floating> buf
                p[i] -= <floating> (lr * (gi + mom * buf))
        else:
            for i in range(n):
                gi = g[i] + decay * p[i]
                buf = mom * s1[i] + gi
                s1[i] = <floating> buf
                p[i] -= <floating> (lr * buf)
    elif h.solver == ADAGRAD:
        for i in range(n):
            gi = g[i] + decay * p[i]
            v = s1[i] + gi * gi
            s1[i] = <floating> v
            p[i] -= <floating> (lr * gi / (sqrt(v) + eps))
    elif h.solver == RMSPROP:
        for i in range(n):
            gi = g[i] + decay * p[i]
            v = rho * s1[i] + (1.0 - rho) * gi * gi
            s1[i] = <floating> v
            p[i] -= <floating> (lr * gi / (sqrt(v) + eps))
    else:  # ADAM
        step_size = lr / h.bias_1
        sqrt_bias_2 = sqrt(h.bias_2)
        for i in range(n):
            gi = g[i] + decay * p[i]
            m = b1 * s1[i] + (1.0 - b1) * gi
            v = b2 * s2[i] + (1.0 - b2) * gi * gi
            s1[i] = <floating> m
            s2[i] = <floating> v
            p[i] -= <floating> (step_size * m / (sqrt(v) / sqrt_bias_2 + eps))
