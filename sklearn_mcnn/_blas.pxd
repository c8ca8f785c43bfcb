"""Row-major BLAS through ``scipy.linalg.cython_blas``, fused over float/double.

The one file where BLAS enters the package.  Every matrix here is C-ordered
(row-major); a row-major product ``C = op(A) op(B)`` is the column-major
product ``Cᵀ = op(B)ᵀ op(A)ᵀ``, so the operands are swapped, not copied.
"""

from cython cimport floating
from scipy.linalg.cython_blas cimport daxpy, dgemm, dgemv, saxpy, sgemm, sgemv


cdef extern from "_small_gemm.h" nogil:
    # A small batch's forward product (``C = A B`` or ``C += A B``, neither
    # transposed) where the CPU has AVX2 and FMA: 0 when BLAS must do it.
    int gemm_rows_float "mcnn_gemm_rows_float" (
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A,
        Py_ssize_t lda, const float* B, Py_ssize_t ldb, int add, float* C,
        Py_ssize_t ldc)
    int gemm_rows_double "mcnn_gemm_rows_double" (
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A,
        Py_ssize_t lda, const double* B, Py_ssize_t ldb, int add, double* C,
        Py_ssize_t ldc)
    # A narrow layer's weight gradient ``C = Aᵀ B`` or ``C += Aᵀ B``.
    int gemm_tn_float "mcnn_gemm_tn_float" (
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A,
        Py_ssize_t lda, const float* B, Py_ssize_t ldb, int add, float* C,
        Py_ssize_t ldc)
    int gemm_tn_double "mcnn_gemm_tn_double" (
        Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A,
        Py_ssize_t lda, const double* B, Py_ssize_t ldb, int add, double* C,
        Py_ssize_t ldc)


cdef inline void gemm(char ta, char tb, int m, int n, int k, floating alpha,
                      const floating* A, int lda, const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major ``C (m×n) := alpha op(A) (m×k) · op(B) (k×n) + beta C``.

    ``lda``, ``ldb`` and ``ldc`` are the row lengths of A, B and C as stored.

    One output row (``m == 1``: a one-row batch, one-row inference) is a
    matrix-vector product, ``Cᵀ = op(B)ᵀ aᵀ``: gemv reads B where it lies,
    where gemm would first copy (pack) all of it, which for a 784 × 256
    layer took 70% of a one-row prediction (callgrind, OpenBLAS Haswell
    kernels).  One output column (``n == 1``: a one-output layer, such as
    the binary logistic output) is a matrix-vector product as well, reading
    A where it lies.
    """
    cdef int inc_a, inc_b, one = 1
    cdef char tg
    if m == 0 or n == 0:
        return
    if m == 1:
        # a = op(A)'s row: A's first row, or A's first column when ta = 'T'
        inc_a = 1 if ta == c'N' else lda
        if tb == c'N':      # B (k × n, row-major) is column-major n × k
            tg = c'N'
            if floating is float:
                sgemv(&tg, &n, &k, &alpha, <float*> B, &ldb, <float*> A, &inc_a,
                      &beta, C, &one)
            else:
                dgemv(&tg, &n, &k, &alpha, <double*> B, &ldb, <double*> A,
                      &inc_a, &beta, C, &one)
        else:               # B (n × k, row-major) is column-major k × n
            tg = c'T'
            if floating is float:
                sgemv(&tg, &k, &n, &alpha, <float*> B, &ldb, <float*> A, &inc_a,
                      &beta, C, &one)
            else:
                dgemv(&tg, &k, &n, &alpha, <double*> B, &ldb, <double*> A,
                      &inc_a, &beta, C, &one)
        return
    if n == 1:
        # b = op(B)'s column: B's column 0 (stride ldb) when tb = 'N', else
        # B's first row; C's column has stride ldc.
        inc_b = ldb if tb == c'N' else 1
        if ta == c'N':      # A (m × k, row-major) is column-major k × m
            tg = c'T'
            if floating is float:
                sgemv(&tg, &k, &m, &alpha, <float*> A, &lda, <float*> B, &inc_b,
                      &beta, C, &ldc)
            else:
                dgemv(&tg, &k, &m, &alpha, <double*> A, &lda, <double*> B,
                      &inc_b, &beta, C, &ldc)
        else:               # A (k × m, row-major) is column-major m × k
            tg = c'N'
            if floating is float:
                sgemv(&tg, &m, &k, &alpha, <float*> A, &lda, <float*> B, &inc_b,
                      &beta, C, &ldc)
            else:
                dgemv(&tg, &m, &k, &alpha, <double*> A, &lda, <double*> B,
                      &inc_b, &beta, C, &ldc)
        return
    if tb == c'N' and alpha == 1 and (beta == 0 or beta == 1):
        if ta == c'N':
            if floating is float:
                if gemm_rows_float(m, n, k, A, lda, B, ldb, beta == 1, C, ldc):
                    return
            else:
                if gemm_rows_double(m, n, k, A, lda, B, ldb, beta == 1, C,
                                    ldc):
                    return
        else:
            if floating is float:
                if gemm_tn_float(m, n, k, A, lda, B, ldb, beta == 1, C, ldc):
                    return
            else:
                if gemm_tn_double(m, n, k, A, lda, B, ldb, beta == 1, C, ldc):
                    return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda,
              &beta, C, &ldc)


#: Vectors shorter than this are updated by `axpy` in a plain loop: a BLAS
#: call costs more than their work.  CSR input updates one row of the first
#: layer per stored value, so a narrow layer (the softmax model's 10 outputs,
#: the binary model's one) made one BLAS call per value: a full-batch pass
#: over 60000 x 784 digits (density 0.57) took 27 times a read of X, 1.3 s
#: on 10 outputs (bench_lbfgs_pass.py).
cdef enum:
    SMALL_AXPY = 16


cdef inline void axpy(int n, floating alpha, const floating* x,
                      floating* y) noexcept nogil:
    """``y := alpha x + y`` on contiguous vectors."""
    cdef int i, one = 1
    if n < SMALL_AXPY:
        for i in range(n):
            y[i] += alpha * x[i]
        return
    if floating is float:
        saxpy(&n, &alpha, <float*> x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double*> x, &one, y, &one)
