"""Row-major BLAS through ``scipy.linalg.cython_blas``, fused over float/double.

The one file where BLAS enters the package.  Every matrix here is C-ordered
(row-major); a row-major product ``C = op(A) op(B)`` is the column-major
product ``Cᵀ = op(B)ᵀ op(A)ᵀ``, so the operands are swapped, not copied.
"""

from cython cimport floating
from scipy.linalg.cython_blas cimport saxpy, daxpy, sgemm, dgemm


cdef inline void gemm(char ta, char tb, int m, int n, int k, floating alpha,
                      const floating* A, int lda, const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major ``C (m×n) := alpha op(A) (m×k) · op(B) (k×n) + beta C``.

    ``lda``, ``ldb`` and ``ldc`` are the row lengths of A, B and C as stored.
    """
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda,
              &beta, C, &ldc)


cdef inline void axpy(int n, floating alpha, const floating* x,
                      floating* y) noexcept nogil:
    """``y := alpha x + y`` on contiguous vectors."""
    cdef int one = 1
    if floating is float:
        saxpy(&n, &alpha, <float*> x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double*> x, &one, y, &one)
