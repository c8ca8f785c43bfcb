"""Hidden activations: the forward map and its derivative, in place.

Each derivative is written in terms of the activation's output
``a = h(z)``, so the backward pass needs only the activations the forward
pass kept.  The loops are branch-free in their bodies (a select, not a
jump), so the compiler vectorises them.
"""

from cython cimport floating
from libc.math cimport exp, tanh


cdef enum Activation:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3


cdef inline void activate(int act, floating* z, Py_ssize_t n) noexcept nogil:
    """Apply the activation ``act`` to ``z[:n]`` in place."""
    cdef Py_ssize_t i
    if act == RELU:
        for i in range(n):
            z[i] = z[i] if z[i] > 0 else 0
    elif act == TANH:
        for i in range(n):
            z[i] = tanh(z[i])
    elif act == LOGISTIC:
        for i in range(n):
            z[i] = 1 / (1 + exp(-z[i]))


cdef inline void activation_backward(int act, const floating* a, floating* d,
                                     Py_ssize_t n) noexcept nogil:
    """``d[:n] *= h'(z)``, the derivative written in terms of ``a = h(z)``."""
    cdef Py_ssize_t i
    if act == RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else 0
    elif act == TANH:
        for i in range(n):
            d[i] *= 1 - a[i] * a[i]
    elif act == LOGISTIC:
        for i in range(n):
            d[i] *= a[i] * (1 - a[i])
