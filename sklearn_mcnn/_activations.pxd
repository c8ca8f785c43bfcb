"""Hidden activations: the forward map and its derivative, in place.

Each derivative is written in terms of the activation's output
``a = h(z)`` where that determines it (every activation but GELU), so the
backward pass needs only the activations the forward pass kept; GELU's
needs the pre-activation ``z``, which the forward pass then keeps too
(:c:func:`needs_pre_activation`).  The loop bodies are branch-free (a
select, not a jump), so the compiler vectorises them.

=============  ==========================================  ===================
activation     ``h(z)``                                    ``h'(z)``
=============  ==========================================  ===================
identity       ``z``                                       1
relu           ``max(z, 0)``                               ``a > 0``
leaky_relu     ``z`` if ``z > 0`` else ``s z`` (``s≥0``)    1 if ``a > 0`` else ``s``
elu            ``z`` if ``z > 0`` else ``e^z - 1``          1 if ``a > 0`` else
                                                           ``a + 1``
gelu           ``z/2 (1 + tanh(c (z + 0.044715 z³)))``,    from ``z``
               ``c = √(2/π)`` (the tanh approximation)
softplus       ``log(1 + e^z)``                            ``1 - e^{-a}``
tanh           ``tanh z``                                  ``1 - a²``
logistic       ``1 / (1 + e^{-z})``                        ``a (1 - a)``
=============  ==========================================  ===================
"""

from cython cimport floating
from libc.math cimport exp, expm1, fabs, log1p, tanh


cdef enum Activation:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3
    LEAKY_RELU = 4
    ELU = 5
    GELU = 6
    SOFTPLUS = 7

cdef extern from *:
    """
    #define MCNN_GELU_C 0.7978845608028654   /* sqrt(2 / pi) */
    #define MCNN_GELU_A 0.044715
    """
    const double GELU_C "MCNN_GELU_C"
    const double GELU_A "MCNN_GELU_A"


cdef inline bint needs_pre_activation(int act) noexcept nogil:
    """Whether the derivative needs ``z`` besides ``a = h(z)``."""
    return act == GELU


cdef inline void activate(int act, double slope, floating* z,
                          Py_ssize_t n) noexcept nogil:
    """Apply the activation ``act`` to ``z[:n]`` in place (``slope``: the
    negative slope of ``leaky_relu``)."""
    cdef Py_ssize_t i
    cdef floating s = <floating> slope
    if act == RELU:
        for i in range(n):
            z[i] = z[i] if z[i] > 0 else 0
    elif act == LEAKY_RELU:
        for i in range(n):
            z[i] = z[i] if z[i] > 0 else s * z[i]
    elif act == ELU:
        for i in range(n):
            z[i] = z[i] if z[i] > 0 else <floating> expm1(z[i])
    elif act == GELU:
        for i in range(n):
            z[i] = <floating> (0.5 * z[i] * (1 + tanh(
                GELU_C * (z[i] + GELU_A * z[i] * z[i] * z[i]))))
    elif act == SOFTPLUS:
        for i in range(n):     # max(z, 0) + log(1 + e^{-|z|}): no overflow
            z[i] = <floating> ((z[i] if z[i] > 0 else 0)
                               + log1p(exp(-fabs(z[i]))))
    elif act == TANH:
        for i in range(n):
            z[i] = tanh(z[i])
    elif act == LOGISTIC:
        for i in range(n):
            z[i] = 1 / (1 + exp(-z[i]))


cdef inline void activation_backward(int act, double slope, const floating* a,
                                     const floating* z, floating* d,
                                     Py_ssize_t n) noexcept nogil:
    """``d[:n] *= h'(z)``, from ``a = h(z)`` (``z``, the pre-activation, is
    read only where `needs_pre_activation`)."""
    cdef Py_ssize_t i
    cdef floating s = <floating> slope
    cdef double u, t
    if act == RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else 0
    elif act == LEAKY_RELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else s * d[i]
    elif act == ELU:
        for i in range(n):
            d[i] = d[i] if a[i] > 0 else d[i] * (a[i] + 1)
    elif act == GELU:
        for i in range(n):
            u = GELU_C * (z[i] + GELU_A * z[i] * z[i] * z[i])
            t = tanh(u)
            d[i] = <floating> (d[i] * (0.5 * (1 + t) + 0.5 * z[i] * (1 - t * t)
                                       * GELU_C * (1 + 3 * GELU_A * z[i] * z[i])))
    elif act == SOFTPLUS:
        for i in range(n):     # σ(z) = 1 - e^{-a}, without cancellation
            d[i] = <floating> (d[i] * -expm1(-a[i]))
    elif act == TANH:
        for i in range(n):
            d[i] *= 1 - a[i] * a[i]
    elif act == LOGISTIC:
        for i in range(n):
            d[i] *= a[i] * (1 - a[i])
