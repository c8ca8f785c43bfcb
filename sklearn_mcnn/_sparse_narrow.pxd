"""CSR rows against a narrow layer, for Cython: ``_sparse_narrow.h``'s
AVX2/FMA loops (see that file), fused over float/double.  Each returns
False where it does not apply (no AVX2 and FMA, or a layer wider than two
vectors), and the caller keeps its own loop."""

from cython cimport floating


cdef extern from "_sparse_narrow.h" nogil:
    int csr_dot_float "mcnn_csr_dot_float" (
        const float* data, const int* indices, Py_ssize_t nnz, const float* W,
        Py_ssize_t ldw, int w, float* z)
    int csr_dot_double "mcnn_csr_dot_double" (
        const double* data, const int* indices, Py_ssize_t nnz,
        const double* W, Py_ssize_t ldw, int w, double* z)
    int csr_scatter_float "mcnn_csr_scatter_float" (
        const float* data, const int* indices, Py_ssize_t nnz, const float* d,
        int w, float* dW, Py_ssize_t ldw)
    int csr_scatter_double "mcnn_csr_scatter_double" (
        const double* data, const int* indices, Py_ssize_t nnz,
        const double* d, int w, double* dW, Py_ssize_t ldw)


cdef inline bint csr_dot(const floating* data, const int* indices,
                         Py_ssize_t nnz, const floating* W, Py_ssize_t ldw,
                         int w, floating* z) noexcept nogil:
    """``z[:w] += Σ_k data[k] · W[indices[k] · ldw :][:w]``: one CSR row's
    product with the columns ``:w`` of W (rows of ``ldw`` numbers)."""
    if floating is float:
        return csr_dot_float(data, indices, nnz, W, ldw, w, z)
    else:
        return csr_dot_double(data, indices, nnz, W, ldw, w, z)


cdef inline bint csr_scatter(const floating* data, const int* indices,
                             Py_ssize_t nnz, const floating* d, int w,
                             floating* dW, Py_ssize_t ldw) noexcept nogil:
    """``dW[indices[k] · ldw :][:w] += data[k] · d[:w]`` for each stored
    value of one CSR row: its share of the weight gradient."""
    if floating is float:
        return csr_scatter_float(data, indices, nnz, d, w, dW, ldw)
    else:
        return csr_scatter_double(data, indices, nnz, d, w, dW, ldw)
