"""Update rules of the stochastic solvers over one flat parameter vector.

The loops live in ``_optimizers.h`` (C), compiled for the baseline
instruction set and for AVX2 and chosen at run time; see that file for the
formulas (PyTorch's) and the numerics.  This file gives them to Cython as
one function fused over float/double.
"""

from cython cimport floating


cdef extern from "_optimizers.h" nogil:
    # The solvers' ids: the one definition is the C enum.
    enum:
        SGD "MCNN_SGD"
        ADAGRAD "MCNN_ADAGRAD"
        RMSPROP "MCNN_RMSPROP"
        ADAM "MCNN_ADAM"

    ctypedef struct Hyper "mcnn_hyper":
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

    void update_float "mcnn_update_float" (
        const Hyper* h, float* p, const float* g, float* s1, float* s2,
        Py_ssize_t n, double decay)
    void update_double "mcnn_update_double" (
        const Hyper* h, double* p, const double* g, double* s1, double* s2,
        Py_ssize_t n, double decay)


cdef inline void update(const Hyper* h, floating* p, const floating* g,
                        floating* s1, floating* s2, Py_ssize_t n,
                        double decay) noexcept nogil:
    """One step of the solver on ``p[:n]`` given the loss gradient ``g[:n]``.

    ``s1`` and ``s2`` are the solver's state (momentum buffer; squared
    gradient sum or average; Adam's first and second moments).
    ``decay`` is the L2 coefficient of this segment (0 for intercepts).
    """
    if floating is float:
        update_float(h, p, g, s1, s2, n, decay)
    else:
        update_double(h, p, g, s1, s2, n, decay)
