"""A layer's kernels: forward, delta and weight gradient, in matrix form.

``Z = A W + b`` (then batch norm, the activation and dropout for a hidden
layer), ``D_prev = (D Wᵀ) ∘ mask ∘ h'(a)`` and ``dW = Aᵀ D``, where ``A``
is the layer's input: the batch's rows for layer 0 (dense, or CSR read
through ``indptr``, never densified), else the output of the layer below.
Each kernel works on a range of units, so the same code runs a whole layer
on one thread or one block of it in a thread of a team.
"""

from cython cimport floating
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from ._activations cimport activate, activation_backward
from ._batch_norm cimport batch_norm_backward, batch_norm_forward
from ._blas cimport axpy, gemm
from ._sparse_narrow cimport csr_dot, csr_scatter
from ._layout cimport Pass, Rows, delta_offset, row_id
from ._random cimport mix64, uniform_at


cdef inline const floating* dense_batch(const Pass* p, floating* ws,
                                        bint gather) noexcept nogil:
    """The batch's dense rows as one contiguous block: rows of the input
    when the batch is a contiguous range, else the scratch copy (which
    ``gather`` fills; the layer kernels then only look it up)."""
    cdef Py_ssize_t i, d = p.net.sizes[0]
    cdef const floating* X = <const floating*> p.X.dense
    cdef floating* Xb = ws + p.net.gather_off
    if p.rows.index == NULL:
        return X + p.rows.start * d
    if gather:
        for i in range(p.rows.n):
            memcpy(Xb + i * d, X + p.rows.index[i] * d, d * sizeof(floating))
    return Xb


cdef inline void layer_forward(const Pass* p, floating* ws, int l,
                               Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Units ``c0:c1`` of layer l for the batch: ``Z = A W + b``, then for a
    hidden layer batch norm, the activation and dropout (masks seeded by
    the pass's ``key``)."""
    cdef const Rows* rows = &p.rows
    cdef Py_ssize_t i, j, k, r, n = rows.n, w = c1 - c0
    cdef Py_ssize_t n_in = p.net.sizes[l], m = p.net.sizes[l + 1]
    cdef const floating* params = <const floating*> p.params
    cdef const floating* W = params + p.net.weight_off[l] + c0
    cdef const floating* b = params + p.net.bias_off[l] + c0
    cdef const floating* data = <const floating*> p.X.data
    cdef const int* indices = p.X.indices
    cdef const int* indptr = p.X.indptr
    cdef floating* Z = ws + p.net.act_off[l] + c0
    cdef const floating* A
    cdef floating* mask
    cdef floating* O
    cdef floating acc
    cdef double keep = 1.0 - p.net.dropout
    cdef floating scale = <floating> (1.0 / keep) if keep > 0 else 0
    cdef uint64_t layer_key = mix64(p.key + <uint64_t> l)
    for i in range(n):
        memcpy(Z + i * m, b, w * sizeof(floating))
    if l == 0 and p.X.sparse and m == 1:
        # one output (the binary model): a sparse dot product per row
        for i in range(n):
            r = row_id(rows, i)
            acc = 0
            for k in range(indptr[r], indptr[r + 1]):
                acc = acc + data[k] * W[indices[k]]
            Z[i] += acc
    elif l == 0 and p.X.sparse:
        for i in range(n):
            r = row_id(rows, i)
            if csr_dot(data + indptr[r], indices + indptr[r],
                       indptr[r + 1] - indptr[r], W, m, <int> w, Z + i * m):
                continue
            for k in range(indptr[r], indptr[r + 1]):
                axpy(<int> w, data[k], W + indices[k] * m, Z + i * m)
    else:
        A = dense_batch(p, ws, False) if l == 0 else ws + p.net.out_off[l - 1]
        gemm(c'N', c'N', <int> n, <int> w, <int> n_in, <floating> 1.0, A,
             <int> n_in, W, <int> m, <floating> 1.0, Z, <int> m)
    if l == p.net.n_layers - 1:
        return
    if p.net.batch_norm:
        batch_norm_forward(p, ws, l, c0, c1)
    if p.training and p.net.pre_off[l] >= 0:
        for i in range(n):
            memcpy(ws + p.net.pre_off[l] + c0 + i * m, Z + i * m,
                   w * sizeof(floating))
    for i in range(n):
        activate(p.net.activation[l], p.net.negative_slope, Z + i * m, w)
    if p.net.dropout > 0:
        O = ws + p.net.out_off[l] + c0
        if p.training:
            mask = ws + p.net.mask_off[l] + c0
            for i in range(n):
                for j in range(w):
                    mask[i * m + j] = scale if uniform_at(
                        layer_key, <uint64_t> (i * m + c0 + j)) < keep else 0
                    O[i * m + j] = Z[i * m + j] * mask[i * m + j]
        else:
            for i in range(n):
                memcpy(O + i * m, Z + i * m, w * sizeof(floating))


cdef inline void layer_delta(const Pass* p, floating* ws, int l,
                             const floating* D, floating* D_prev,
                             Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Units ``c0:c1`` of layer l-1's delta ``D_prev`` from layer l's delta
    ``D``: ``(D Wᵀ) ∘ mask ∘ h'(a)``, then back through batch norm (which
    writes those units' γ, β gradient)."""
    cdef Py_ssize_t i, j, n = p.rows.n, w = c1 - c0
    cdef Py_ssize_t m = p.net.sizes[l + 1], n_in = p.net.sizes[l]
    cdef const floating* A = ws + p.net.act_off[l - 1] + c0
    cdef const floating* Zp = ws + p.net.pre_off[l - 1] + c0   # if kept
    cdef const floating* mask = ws + p.net.mask_off[l - 1] + c0
    cdef const floating* W = <const floating*> p.params + p.net.weight_off[l]
    cdef floating* Dc = D_prev + c0
    gemm(c'N', c'T', <int> n, <int> w, <int> m, <floating> 1.0, D, <int> m,
         W + c0 * m, <int> m, <floating> 0.0, Dc, <int> n_in)
    if p.net.dropout > 0:
        for i in range(n):
            for j in range(w):
                Dc[i * n_in + j] *= mask[i * n_in + j]
    for i in range(n):
        activation_backward(p.net.activation[l - 1], p.net.negative_slope,
                            A + i * n_in, Zp + i * n_in, Dc + i * n_in, w)
    if p.net.batch_norm:
        batch_norm_backward(p, ws, l - 1, D_prev, c0, c1)


cdef inline void layer_grad(const Pass* p, floating* ws, int l, floating* dW,
                            const floating* D, bint accumulate, Py_ssize_t k0,
                            Py_ssize_t k1) noexcept nogil:
    """Rows ``k0:k1`` (input units) of layer l's weight gradient
    ``dW = Aᵀ D`` into ``dW`` (row ``k0`` first, rows of the layer's
    width), added to it when ``accumulate``.  CSR input (layer 0) takes all
    rows at once."""
    cdef Py_ssize_t i, k, r, n = p.rows.n
    cdef Py_ssize_t m = p.net.sizes[l + 1], n_in = p.net.sizes[l]
    cdef const floating* data = <const floating*> p.X.data
    cdef const int* indices = p.X.indices
    cdef const int* indptr = p.X.indptr
    cdef const floating* A
    cdef floating d
    if l == 0 and p.X.sparse:
        if not accumulate:
            memset(dW, 0, n_in * m * sizeof(floating))
        if m == 1:      # one output (the binary model): a scatter per row
            for i in range(n):
                r = row_id(&p.rows, i)
                d = D[i]
                for k in range(indptr[r], indptr[r + 1]):
                    dW[indices[k]] += data[k] * d
            return
        for i in range(n):
            r = row_id(&p.rows, i)
            if csr_scatter(data + indptr[r], indices + indptr[r],
                           indptr[r + 1] - indptr[r], D + i * m, <int> m, dW, m):
                continue
            for k in range(indptr[r], indptr[r + 1]):
                axpy(<int> m, data[k], D + i * m, dW + indices[k] * m)
        return
    A = dense_batch(p, ws, False) if l == 0 else ws + p.net.out_off[l - 1]
    gemm(c'T', c'N', <int> (k1 - k0), <int> m, <int> n, <floating> 1.0, A + k0,
         <int> n_in, D, <int> m, <floating> (1.0 if accumulate else 0.0),
         dW, <int> m)


cdef inline void bias_grad(const Pass* p, int l, const floating* D,
                           bint accumulate) noexcept nogil:
    """Layer l's intercept gradient ``db = Σ_i δ_i`` into the pass's
    gradient (added when ``accumulate``); batch norm's γ, β gradients come
    with the deltas."""
    cdef Py_ssize_t i, j, m = p.net.sizes[l + 1]
    cdef floating* db = <floating*> p.grad + p.net.bias_off[l]
    if not accumulate:
        memset(db, 0, m * sizeof(floating))
    for i in range(p.rows.n):
        for j in range(m):
            db[j] += D[i * m + j]


cdef inline void forward_layers(const Pass* p, floating* ws) noexcept nogil:
    """Raw outputs of the batch, every layer whole on this thread, into the
    output layer's activation buffer."""
    cdef int l
    if not p.X.sparse:
        dense_batch(p, ws, True)
    for l in range(p.net.n_layers):
        layer_forward(p, ws, l, 0, p.net.sizes[l + 1])


cdef inline void backward_layers(const Pass* p, floating* ws,
                                 bint accumulate) noexcept nogil:
    """Loss gradient of the batch (without the L2 term) into the pass's
    gradient, every layer whole on this thread; ``δ_out`` is in the first
    delta buffer.  ``accumulate`` adds to the gradient instead of
    overwriting it (full-batch gradients over row chunks)."""
    cdef int l
    cdef floating* D
    cdef floating* grad = <floating*> p.grad
    for l in range(p.net.n_layers - 1, -1, -1):
        D = ws + delta_offset(p.net, l)
        layer_grad(p, ws, l, grad + p.net.weight_off[l], D, accumulate, 0,
                   p.net.sizes[l])
        bias_grad(p, l, D, accumulate)
        if l > 0:
            layer_delta(p, ws, l, D, ws + delta_offset(p.net, l - 1), 0,
                        p.net.sizes[l])
