"""The output loss: stable softmax cross-entropy, the binary log loss of one
logistic output, or the squared error on one-hot targets; its delta, and
the batch's sample weights."""

from cython cimport floating
from libc.math cimport exp, fabs, log, isfinite, INFINITY
from libc.string cimport memset

from ._layout cimport Pass, Rows, row_id


cdef extern from "_vector_exp.h" nogil:
    # e_k = exp(z_k − shift) into p (which may be z), returns Σ_k e_k:
    # four at a time with AVX2 and FMA (within 2 ulp), else libm's exp.
    double shifted_exp_float "mcnn_shifted_exp_float" (
        const float* z, double shift, float* p, Py_ssize_t C)
    double shifted_exp_double "mcnn_shifted_exp_double" (
        const double* z, double shift, double* p, Py_ssize_t C)


cdef extern from "_vector_log1p.h" nogil:
    # e_i = exp(−|d_i|) and l_i = log1p(e_i) of n scores, in double: four
    # at a time with AVX2 and FMA (within 2 ulp), else libm's.
    void softplus_parts_float "mcnn_softplus_parts_float" (
        const float* d, Py_ssize_t n, double* e, double* l)
    void softplus_parts_double "mcnn_softplus_parts_double" (
        const double* d, Py_ssize_t n, double* e, double* l)


cdef enum Loss:
    LOG_LOSS = 0
    SQUARED_ERROR = 1
    # Two classes as one logistic output d = z_1 - z_0 (sigmoid and binary
    # cross-entropy): the two-class softmax with half its parameters.
    BINARY_LOG_LOSS = 2


cdef inline double sigmoid_of(double d, double e) noexcept nogil:
    """``σ(d)`` given ``e = e^−|d|``: ``1 / (1 + e)`` for d ≥ 0, else
    ``e / (1 + e)``, without overflow."""
    return (1.0 if d >= 0 else e) / (1.0 + e)


cdef inline double sigmoid(double d) noexcept nogil:
    """``1 / (1 + exp(-d))``, without overflow."""
    return sigmoid_of(d, exp(-fabs(d)))


cdef inline double binary_log_loss(double d, double e, double lp,
                                   double t) noexcept nogil:
    """``ℓ = t log(1 + e^−d) + (1 − t) log(1 + e^d)`` given ``e = e^−|d|``
    and ``lp = log1p(e)`` (`softplus_parts`): ``log(1 + e^±d) = max(±d, 0)
    + lp``.  For finite d that is ``lp + (max(d, 0) − t d)``, without a
    branch on the label: for t = 0 and t = 1 the bracket is ``max(±d, 0)``
    exactly, so a confident right answer keeps its loss ``lp``.  At
    d = ±inf the two terms apart, so that a right answer costs 0, not
    inf − inf."""
    cdef double pos, neg
    if isfinite(d):
        return lp + ((d if d > 0 else 0.0) - t * d)
    pos = (d if d > 0 else 0.0) + lp     # log(1 + e^d)
    neg = (-d if d < 0 else 0.0) + lp    # log(1 + e^−d)
    if t == 1:
        return neg
    if t == 0:
        return pos
    return t * neg + (1.0 - t) * pos


cdef enum:
    BINARY_ROWS = 64      # rows whose e^−|d|, log1p(e^−|d|) go together


cdef inline double binary_output_loss(const Pass* p, floating* ws,
                                      bint want_delta) noexcept nogil:
    """`output_loss` of the binary log loss (one output ``d``): the rows'
    ``e^−|d|`` and ``log1p(e^−|d|)`` computed in groups, then each row's
    loss and delta."""
    cdef int L = p.net.n_layers
    cdef Py_ssize_t i, i0, nb, r, n = p.rows.n
    cdef const floating* Z = ws + p.net.act_off[L - 1]
    cdef floating* D = ws + p.net.delta_off[0]
    cdef const floating* bw = ws + p.net.batch_weight_off
    cdef double eps = p.net.label_smoothing
    cdef double total = 0, li, t
    cdef double e[BINARY_ROWS]
    cdef double lp[BINARY_ROWS]
    i0 = 0
    while i0 < n:
        nb = min(<Py_ssize_t> BINARY_ROWS, n - i0)
        if floating is float:
            softplus_parts_float(Z + i0, nb, e, lp)
        else:
            softplus_parts_double(Z + i0, nb, e, lp)
        for i in range(nb):
            r = row_id(&p.rows, i0 + i)
            t = (1.0 - 0.5 * eps) if p.y[r] == 1 else 0.5 * eps
            li = binary_log_loss(Z[i0 + i], e[i], lp[i], t)
            if want_delta:
                D[i0 + i] = <floating> (
                    bw[i0 + i] * (sigmoid_of(Z[i0 + i], e[i]) - t))
            if p.sw[r] != 0:
                total += p.sw[r] * li
        i0 += nb
    return total


cdef inline double softmax_row(const floating* z, floating* p,
                               Py_ssize_t C) noexcept nogil:
    """``p = softmax(z)``, stable (``p`` may be ``z``); returns log Σ exp z.

    One ``exp`` per entry (``_vector_exp.h``).  Scores of +inf get the whole
    mass (the limit).
    """
    cdef Py_ssize_t k
    cdef double mx = z[0], tot = 0
    for k in range(1, C):
        if z[k] > mx:
            mx = z[k]
    if mx == INFINITY:
        for k in range(C):
            tot += z[k] == INFINITY
        for k in range(C):
            p[k] = <floating> ((z[k] == INFINITY) / tot)
        return INFINITY
    if floating is float:
        tot = shifted_exp_float(z, mx, p, C)
    else:
        tot = shifted_exp_double(z, mx, p, C)
    for k in range(C):
        p[k] = <floating> (p[k] / tot)
    return mx + log(tot)


cdef inline double batch_weights(const Pass* p, floating* ws,
                                 double total) noexcept nogil:
    """Write ``bw_i = s_i / total`` (``total = Σ_batch s`` when 0 is given)
    into the scratch buffer; returns the total."""
    cdef Py_ssize_t i
    cdef const Rows* rows = &p.rows
    cdef floating* bw = ws + p.net.batch_weight_off
    if total == 0:
        for i in range(rows.n):
            total += p.sw[row_id(rows, i)]
    if total <= 0:
        memset(bw, 0, rows.n * sizeof(floating))
        return 0
    for i in range(rows.n):
        bw[i] = <floating> (p.sw[row_id(rows, i)] / total)
    return total


cdef inline double output_loss(const Pass* p, floating* ws, bint want_delta,
                               bint* finite) noexcept nogil:
    """Σ_i s_i ℓ_i over the batch, and ``δ_out = bw_i ∂ℓ_i/∂z_i`` in the
    first delta buffer.

    The targets are ``q = (1 − ε) onehot + ε / K`` (label smoothing ε, as
    ``torch.nn.CrossEntropyLoss``; ε = 0: the one-hot rows).  Log loss:
    ``ℓ = −Σ_k q_k log p_k = logΣexp z − Σ_k q_k z_k`` (stable log-sum-exp),
    the output buffer becomes the softmax probabilities ``p`` and
    ``δ = bw (p − q)``.  Binary log loss (one output ``d``, two classes,
    ``t = q_1``): the two-class softmax cross-entropy of the scores
    ``(−d/2, d/2)``, ``ℓ = log(1 + e^d) − t d``, ``δ = bw (σ(d) − t)``.
    Squared error: ``ℓ = ‖z − q‖²`` and ``δ = 2 bw (z − q)``.
    """
    cdef int L = p.net.n_layers
    cdef Py_ssize_t i, k, r, C = p.net.sizes[L], n = p.rows.n
    cdef floating* Z = ws + p.net.act_off[L - 1]
    cdef floating* D = ws + p.net.delta_off[0]
    cdef const floating* bw = ws + p.net.batch_weight_off
    cdef double eps = p.net.label_smoothing
    cdef double off = eps / C, on = 1.0 - eps + eps / C
    cdef double total = 0, li, diff, zsum
    cdef floating* z
    cdef int yi
    if p.net.loss == BINARY_LOG_LOSS:
        total = binary_output_loss(p, ws, want_delta)
        if not isfinite(total):
            finite[0] = False
        return total
    for i in range(n):
        r = row_id(&p.rows, i)
        yi = p.y[r]
        z = Z + i * C
        if p.net.loss == LOG_LOSS:
            li = -z[yi]                     # before z becomes probabilities
            if eps > 0:
                zsum = 0
                for k in range(C):
                    zsum += z[k]
                li = -(1.0 - eps) * z[yi] - off * zsum
            li += softmax_row(z, z, C)
            if want_delta:
                for k in range(C):
                    D[i * C + k] = bw[i] * z[k]
                if eps > 0:
                    for k in range(C):
                        D[i * C + k] -= <floating> (bw[i] * off)
                    D[i * C + yi] -= <floating> (bw[i] * (1.0 - eps))
                else:
                    D[i * C + yi] -= bw[i]
        else:
            li = 0
            for k in range(C):
                diff = z[k] - (on if k == yi else off)
                li += diff * diff
                if want_delta:
                    D[i * C + k] = <floating> (2.0 * bw[i] * diff)
        if p.sw[r] != 0:
            total += p.sw[r] * li
    if not isfinite(total):
        finite[0] = False
    return total
