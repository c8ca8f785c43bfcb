"""Batch normalisation of a hidden layer's pre-activations, with weighted
batch statistics (the batch weights ``bw`` sum to one), for units
``c0:c1`` so that threads can share a layer."""

from cython cimport floating
from libc.math cimport sqrt
from libc.string cimport memset

from ._layout cimport Pass


cdef inline void batch_norm_forward(const Pass* p, floating* ws, int l,
                                    Py_ssize_t c0,
                                    Py_ssize_t c1) noexcept nogil:
    """Normalise units ``c0:c1`` of layer l's pre-activations in place:
    ``γ ẑ + β``.

    Training uses the batch's weighted mean and (biased) variance and updates
    the running statistics; inference uses the running statistics only.
    """
    cdef Py_ssize_t i, j, n = p.rows.n, m = p.net.sizes[l + 1]
    cdef floating* Z = ws + p.net.act_off[l]
    cdef floating* Zh = ws + p.net.norm_off[l]
    cdef floating* mu = ws + p.net.stats_off[l]
    cdef floating* inv = mu + m
    cdef const floating* bw = ws + p.net.batch_weight_off
    cdef const floating* gamma = <const floating*> p.params + p.net.bn_off[l]
    cdef const floating* beta = gamma + m
    cdef floating* rmean = <floating*> p.running + p.net.running_off[l]
    cdef floating* rvar = rmean + m
    cdef double mom = p.net.bn_momentum, zc
    if p.training:
        memset(mu + c0, 0, (c1 - c0) * sizeof(floating))
        memset(inv + c0, 0, (c1 - c0) * sizeof(floating))
        for i in range(n):
            for j in range(c0, c1):
                mu[j] += bw[i] * Z[i * m + j]
        for i in range(n):
            for j in range(c0, c1):
                zc = Z[i * m + j] - mu[j]
                inv[j] += bw[i] * zc * zc      # variance for now
        for j in range(c0, c1):
            rmean[j] = <floating> ((1 - mom) * rmean[j] + mom * mu[j])
            rvar[j] = <floating> ((1 - mom) * rvar[j] + mom * inv[j])
            inv[j] = <floating> (1.0 / sqrt(inv[j] + p.net.bn_eps))
        for i in range(n):
            for j in range(c0, c1):
                Zh[i * m + j] = (Z[i * m + j] - mu[j]) * inv[j]
                Z[i * m + j] = gamma[j] * Zh[i * m + j] + beta[j]
    else:
        for j in range(c0, c1):
            mu[j] = rmean[j]
            inv[j] = <floating> (1.0 / sqrt(rvar[j] + p.net.bn_eps))
        for i in range(n):
            for j in range(c0, c1):
                Z[i * m + j] = gamma[j] * (Z[i * m + j] - mu[j]) * inv[j] + beta[j]


cdef inline void batch_norm_backward(const Pass* p, floating* ws, int l,
                                     floating* D, Py_ssize_t c0,
                                     Py_ssize_t c1) noexcept nogil:
    """For units ``c0:c1``: given ``D = ∂L/∂y`` for ``y = γ ẑ + β``, write
    ``∂L/∂z`` into D, and the gradient of γ, β into the pass's gradient.

    With batch weights ``w`` (summing to 1):
    ``∂L/∂z_i = inv (γ D_i − w_i Σ_k γ D_k − w_i ẑ_i Σ_k γ D_k ẑ_k)``.
    """
    cdef Py_ssize_t i, j, n = p.rows.n, m = p.net.sizes[l + 1]
    cdef const floating* Zh = ws + p.net.norm_off[l]
    cdef const floating* inv = ws + p.net.stats_off[l] + m
    cdef const floating* bw = ws + p.net.batch_weight_off
    cdef const floating* gamma = <const floating*> p.params + p.net.bn_off[l]
    cdef floating* dgamma = <floating*> p.grad + p.net.bn_off[l]
    cdef floating* dbeta = dgamma + m
    memset(dgamma + c0, 0, (c1 - c0) * sizeof(floating))
    memset(dbeta + c0, 0, (c1 - c0) * sizeof(floating))
    for i in range(n):
        for j in range(c0, c1):
            dgamma[j] += D[i * m + j] * Zh[i * m + j]
            dbeta[j] += D[i * m + j]
    for i in range(n):
        for j in range(c0, c1):
            D[i * m + j] = inv[j] * gamma[j] * (
                D[i * m + j] - bw[i] * (dbeta[j] + Zh[i * m + j] * dgamma[j]))
