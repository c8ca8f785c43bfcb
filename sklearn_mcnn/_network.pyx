"""The training engine: a feed-forward network in Cython.

One engine serves every trained estimator of the package:
``SoftmaxClassifier`` is the network with no hidden layer and
``MLPBackpropClassifier`` adds hidden layers to it.

Design
------
- :class:`Network` holds the architecture: layer sizes, activation, loss,
  batch normalisation, dropout, and where each layer's parameters live in
  one flat parameter vector ``[W_0, b_0, (γ_0, β_0), W_1, b_1, ...]``
  (``W_l`` row-major, shape ``(n_in, n_out)`` as scikit-learn's
  ``coefs_``).  It also lays out one flat scratch buffer for a batch
  capacity; kernels never allocate.
- The numerics are ``nogil`` functions fused over float/double: the layer
  forward and backward passes in matrix form (``Z = A W + b``,
  ``dW = Aᵀ δ``, ``δ_prev = (δ Wᵀ) ∘ h'(a)``), the stable softmax cross
  entropy, batch normalisation with weighted batch statistics, inverted
  dropout, and the optimiser step (``_optimizers.pxd`` / ``.h``).  The layer
  kernels work on a range of units, so the same code runs a whole layer or
  one block of it.
- Three Python entry points run whole loops without the GIL:
  :func:`train_epoch` (one epoch of mini-batches, each step's blocks of
  units shared by OpenMP threads, their number chosen by the clock),
  :func:`loss_grad` (full-batch objective and gradient for L-BFGS and
  gradient checks, chunks of rows shared by threads) and :func:`forward`
  (inference, in bounded chunks of rows shared by threads).  Blocks and
  chunks depend on the sizes only: the bits never depend on the thread
  count.
- CSR input is read through ``indptr`` in the first layer, never densified.

Sample weights enter as ``bw_i = s_i / Σ_batch s``, so a batch gradient is
the weighted mean of the per-sample loss gradients; the L2 term
``alpha · W`` is added by the optimiser step (and by :func:`loss_grad`).
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange, threadid
cimport openmp
from libc.math cimport exp, log, sqrt, tanh, isfinite, INFINITY
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from ._blas cimport gemm, axpy
from ._optimizers cimport Hyper, update
from ._random cimport mix64, splitmix64, uniform_at


cdef extern from "_fpu.h":
    unsigned int mcnn_flush_subnormals() noexcept nogil
    void mcnn_restore_fpu(unsigned int mode) noexcept nogil

cdef extern from "_clock.h":
    double mcnn_now() noexcept nogil

cdef extern from *:
    """
    #ifdef MCNN_DEBUG
    #define MCNN_BOUNDS_CHECKED 1
    #else
    #define MCNN_BOUNDS_CHECKED 0
    #endif
    #if defined(__SANITIZE_ADDRESS__)
    #define MCNN_ASAN 1
    #elif defined(__has_feature)
    #if __has_feature(address_sanitizer)
    #define MCNN_ASAN 1
    #endif
    #endif
    #ifndef MCNN_ASAN
    #define MCNN_ASAN 0
    #endif
    """
    int MCNN_BOUNDS_CHECKED
    int MCNN_ASAN

#: How this build was compiled (see setup.py): with bounds checks
#: (``SKLEARN_MCNN_DEBUG=1``) and with AddressSanitizer (``SKLEARN_MCNN_ASAN=1``).
BUILD = {"bounds_checked": bool(MCNN_BOUNDS_CHECKED),
         "address_sanitizer": bool(MCNN_ASAN)}

cdef enum Activation:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3

cdef enum Loss:
    LOG_LOSS = 0
    SQUARED_ERROR = 1

ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH,
               "logistic": LOGISTIC}
LOSSES = {"log_loss": LOG_LOSS, "squared_error": SQUARED_ERROR}
SOLVERS = {"sgd": 0, "adagrad": 1, "rmsprop": 2, "adam": 3}


ctypedef struct Spec:
    # architecture
    int n_layers                 # number of weight layers L
    const Py_ssize_t* sizes      # L + 1 layer widths
    const Py_ssize_t* w_off      # offset of W_l in the parameter vector
    const Py_ssize_t* b_off      # offset of b_l
    const Py_ssize_t* g_off      # offset of γ_l (batch norm, hidden layers)
    const Py_ssize_t* r_off      # offset of layer l's running mean (running
                                 # variance follows it)
    int activation
    int loss
    bint batch_norm
    double dropout
    double bn_eps
    double bn_momentum
    # scratch layout for `capacity` rows
    Py_ssize_t capacity
    const Py_ssize_t* a_off      # layer l's activations h(z), capacity × n_l+1
    const Py_ssize_t* o_off      # layer l's output after dropout (= a_off
                                 # without dropout)
    const Py_ssize_t* m_off      # dropout masks
    const Py_ssize_t* z_off      # batch norm: normalised pre-activations ẑ
    const Py_ssize_t* s_off      # batch norm: batch mean, then 1 / std
    Py_ssize_t x_off             # gathered dense input batch
    Py_ssize_t d0_off            # two delta buffers, capacity × max width
    Py_ssize_t d1_off
    Py_ssize_t d2_off            # a third for training steps (-1: none)
    Py_ssize_t g_blk_off         # per-thread buffers of a block's weight
    Py_ssize_t g_blk_size        # gradient, for training steps
    Py_ssize_t w_buf_off         # the batch's normalised sample weights


cdef class Network:
    """Architecture and memory layout of a feed-forward network.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {'identity', 'relu', 'tanh', 'logistic'}
        Hidden activation.
    loss : {'log_loss', 'squared_error'}
        ``log_loss``: softmax output and cross-entropy; ``squared_error``:
        identity output and the squared error on one-hot targets.
    batch_norm : bool
        Batch normalisation before each hidden activation.
    dropout : float
        Probability of dropping a hidden unit during training.
    capacity : int
        Initial batch capacity of the scratch layout (see `set_capacity`).
    """

    cdef readonly int n_layers
    cdef readonly Py_ssize_t n_params
    cdef readonly Py_ssize_t n_running
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t workspace_size
    cdef readonly object sizes
    cdef readonly str activation_name, loss_name
    cdef readonly bint batch_norm
    cdef readonly double dropout
    cdef public double bn_eps, bn_momentum
    cdef int activation, loss
    cdef Py_ssize_t[::1] _sizes, _w_off, _b_off, _g_off, _r_off
    cdef Py_ssize_t[::1] _a_off, _o_off, _m_off, _z_off, _s_off
    cdef Py_ssize_t x_off, d0_off, d1_off, d2_off, w_buf_off
    cdef Py_ssize_t g_blk_off, g_blk_size
    cdef readonly int step_threads
    cdef readonly bint gather
    cdef dict _inference_layouts

    def __init__(self, sizes, activation="relu", loss="log_loss",
                 batch_norm=False, dropout=0.0, capacity=1):
        cdef Py_ssize_t l, n_in, n_out, off = 0, roff = 0
        self.sizes = tuple(int(s) for s in sizes)
        self.n_layers = len(self.sizes) - 1
        self.activation_name = activation
        self.loss_name = loss
        self.activation = ACTIVATIONS[activation]
        self.loss = LOSSES[loss]
        self.batch_norm = batch_norm and self.n_layers > 1
        self.dropout = dropout
        self.bn_eps = 1e-5
        self.bn_momentum = 0.1
        L = self.n_layers
        self._sizes = np.asarray(self.sizes, dtype=np.intp)
        self._w_off = np.zeros(L, dtype=np.intp)
        self._b_off = np.zeros(L, dtype=np.intp)
        self._g_off = np.full(L, -1, dtype=np.intp)
        self._r_off = np.full(L, -1, dtype=np.intp)
        for l in range(L):
            n_in, n_out = self._sizes[l], self._sizes[l + 1]
            self._w_off[l] = off
            off += n_in * n_out
            self._b_off[l] = off
            off += n_out
            if self.batch_norm and l < L - 1:
                self._g_off[l] = off        # γ_l, then β_l
                off += 2 * n_out
                self._r_off[l] = roff       # running mean, then variance
                roff += 2 * n_out
        self.n_params = off
        self.n_running = roff
        self._a_off = np.zeros(L, dtype=np.intp)
        self._o_off = np.zeros(L, dtype=np.intp)
        self._m_off = np.zeros(L, dtype=np.intp)
        self._z_off = np.zeros(L, dtype=np.intp)
        self._s_off = np.zeros(L, dtype=np.intp)
        self.set_capacity(capacity)
        self._inference_layouts = {}

    def inference_layout(self, Py_ssize_t n_rows, Py_ssize_t max_rows):
        """A network of the same architecture laid out for inference on
        ``n_rows`` rows in chunks of at most ``max_rows``.

        The capacity is rounded up to a power of two, so a handful of layouts
        serve every call; they are cached and never changed afterwards, so
        concurrent predictions share nothing writable.
        """
        cdef Py_ssize_t capacity = 1
        while capacity < min(n_rows, max_rows):
            capacity *= 2
        capacity = min(capacity, max_rows)
        net = self._inference_layouts.get(capacity)
        if net is None:
            net = Network(self.sizes, self.activation_name, self.loss_name,
                          self.batch_norm, self.dropout, capacity)
            self._inference_layouts[capacity] = net
        return net

    def set_capacity(self, Py_ssize_t capacity, bint gather=False,
                     int step_threads=0):
        """Lay out the scratch buffer for batches of up to ``capacity`` rows.

        ``gather`` reserves room to gather shuffled dense input rows;
        ``step_threads`` lays out what `train_epoch` needs for steps shared
        by up to that many threads (a third delta buffer, and a block
        gradient buffer per thread).  Returns the number of elements the
        scratch buffer needs.
        """
        cdef Py_ssize_t l, n, off = 0, L = self.n_layers
        cdef Py_ssize_t widest = max(self.sizes[1:])
        capacity = max(capacity, 1)
        self.capacity = capacity
        self.gather = gather
        self.x_off = off
        if gather:
            off += capacity * self._sizes[0]
        for l in range(L):
            n = self._sizes[l + 1]
            self._a_off[l] = off
            off += capacity * n
            self._o_off[l] = self._a_off[l]
            if l < L - 1 and self.dropout > 0:
                self._o_off[l] = off
                off += capacity * n
                self._m_off[l] = off
                off += capacity * n
            if l < L - 1 and self.batch_norm:
                self._z_off[l] = off
                off += capacity * n
                self._s_off[l] = off
                off += 2 * n
        self.d0_off = off
        off += capacity * widest
        self.d1_off = off
        off += capacity * widest
        self.d2_off = -1
        self.step_threads = max(step_threads, 0)
        self.g_blk_off = off
        self.g_blk_size = 0
        if step_threads > 0:
            self.d2_off = off
            off += capacity * widest
            self.g_blk_off = off
            for l in range(L):
                n = block_width(self._sizes[l]) * self._sizes[l + 1]
                self.g_blk_size = max(self.g_blk_size, n)
            off += step_threads * self.g_blk_size
        self.w_buf_off = off
        off += capacity
        self.workspace_size = off
        return off

    def scratch_offsets(self):
        """Where each layer's buffers start in the scratch buffer (for tests
        and debugging): activations, outputs after dropout, dropout masks and
        batch-norm normalised pre-activations, one entry per layer."""
        L = self.n_layers
        return {
            "activations": [self._a_off[l] for l in range(L)],
            "outputs": [self._o_off[l] for l in range(L)],
            "masks": [self._m_off[l] for l in range(L)],
            "normalized": [self._z_off[l] for l in range(L)],
        }

    cdef Spec spec(self):
        cdef Spec s
        s.n_layers = self.n_layers
        s.sizes = &self._sizes[0]
        s.w_off = &self._w_off[0]
        s.b_off = &self._b_off[0]
        s.g_off = &self._g_off[0]
        s.r_off = &self._r_off[0]
        s.activation = self.activation
        s.loss = self.loss
        s.batch_norm = self.batch_norm
        s.dropout = self.dropout
        s.bn_eps = self.bn_eps
        s.bn_momentum = self.bn_momentum
        s.capacity = self.capacity
        s.a_off = &self._a_off[0]
        s.o_off = &self._o_off[0]
        s.m_off = &self._m_off[0]
        s.z_off = &self._z_off[0]
        s.s_off = &self._s_off[0]
        s.x_off = self.x_off
        s.d0_off = self.d0_off
        s.d1_off = self.d1_off
        s.d2_off = self.d2_off
        s.g_blk_off = self.g_blk_off
        s.g_blk_size = self.g_blk_size
        s.w_buf_off = self.w_buf_off
        return s

    def layer_slices(self):
        """Per layer, the ``(W, b, γβ)`` slices of the parameter vector.

        ``γβ`` is ``None`` for layers without batch normalisation.
        """
        out = []
        for l in range(self.n_layers):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            w = slice(self._w_off[l], self._w_off[l] + n_in * n_out)
            b = slice(self._b_off[l], self._b_off[l] + n_out)
            gb = None
            if self._g_off[l] >= 0:
                gb = slice(self._g_off[l], self._g_off[l] + 2 * n_out)
            out.append((w, b, gb))
        return out

    def running_slices(self):
        """Per hidden layer with batch norm, the running (mean, var) slices."""
        out = []
        for l in range(self.n_layers - 1):
            n = self.sizes[l + 1]
            r = self._r_off[l]
            out.append(None if r < 0 else (slice(r, r + n), slice(r + n, r + 2 * n)))
        return out

    def __reduce__(self):
        return (Network, (self.sizes, self.activation_name, self.loss_name,
                          self.batch_norm, self.dropout, self.capacity))


# --------------------------------------------------------------------------
# Input rows: a dense C-ordered matrix or CSR arrays, and which rows.
# --------------------------------------------------------------------------

ctypedef struct Rows:
    const Py_ssize_t* index     # row ids of the batch, or NULL: contiguous
    Py_ssize_t start            # first row when index is NULL
    Py_ssize_t n                # number of rows in the batch


cdef const void* address(a) except? NULL:
    """Where the float32/float64 values of the C-contiguous array ``a``
    start (NULL when it is empty)."""
    cdef const float[::1] a32
    cdef const double[::1] a64
    a = a.reshape(-1)
    if a.shape[0] == 0:
        return NULL
    if a.dtype == np.float32:
        a32 = a
        return &a32[0]
    a64 = a
    return &a64[0]


cdef class Inputs:
    """Input rows as the kernels read them: a dense C-ordered matrix or
    CSR arrays, validated once.

    The constructor checks everything a kernel relies on to stay inside the
    arrays: dtype (float32 or float64), C order, and for CSR an ``indptr``
    of ``n_rows + 1`` non-decreasing offsets within the stored values and
    column indices in ``[0, n_features)``.  The entry points then check the
    inputs against the network (width, dtype) before any ``nogil`` loop.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features) or scipy.sparse CSR matrix
        float32 or float64.  Sparse input keeps its arrays (its indices as
        int32, converted once if needed); nothing is densified.
    """

    cdef readonly Py_ssize_t n_rows, n_features
    cdef readonly bint sparse
    cdef readonly object dtype
    cdef Py_ssize_t itemsize
    cdef const void* X            # dense rows, or NULL
    cdef const void* data         # CSR values, or NULL
    cdef const int* indices
    cdef const int* indptr
    cdef object _arrays           # keeps the memory alive

    def __init__(self, X):
        cdef const int[::1] indices, indptr
        cdef Py_ssize_t i, nnz
        cdef bint ok = True
        if hasattr(X, "tocsr"):
            if X.format != "csr":
                raise ValueError(f"sparse input must be CSR, not {X.format}")
            data = X.data
            if X.nnz >= np.iinfo(np.int32).max:
                raise ValueError("CSR input with 2**31 or more stored values "
                                 "is not supported.")
            self._check_dtype(data.dtype)
            data = np.ascontiguousarray(data)
            indices_array = np.ascontiguousarray(X.indices, dtype=np.int32)
            indptr_array = np.ascontiguousarray(X.indptr, dtype=np.int32)
            indices, indptr = indices_array, indptr_array
            self.n_rows, self.n_features = X.shape
            nnz = data.shape[0]
            if indptr.shape[0] != self.n_rows + 1 or indices.shape[0] < nnz:
                raise ValueError("malformed CSR input: indptr must have "
                                 "n_rows + 1 entries and indices one per value")
            with nogil:
                ok = indptr[0] >= 0 and indptr[self.n_rows] <= nnz
                for i in range(self.n_rows):
                    ok = ok and indptr[i] <= indptr[i + 1]
                for i in range(indptr[0], indptr[self.n_rows] if ok else 0):
                    ok = ok and 0 <= indices[i] < self.n_features
            if not ok:
                raise ValueError("malformed CSR input: indptr must be "
                                 "non-decreasing offsets within the stored "
                                 "values, and column indices within "
                                 "[0, n_features)")
            self.sparse = True
            self.X = NULL
            self.data = address(data)
            self.indices = &indices[0] if indices.shape[0] > 0 else NULL
            self.indptr = &indptr[0]
            self._arrays = (data, indices_array, indptr_array)
        else:
            if not isinstance(X, np.ndarray) or X.ndim != 2:
                raise ValueError("dense input must be a 2-D ndarray")
            if not X.flags.c_contiguous:
                raise ValueError("dense input must be C-contiguous")
            self._check_dtype(X.dtype)
            self.n_rows, self.n_features = X.shape
            self.sparse = False
            self.X = address(X)
            self.data = NULL
            self.indices = self.indptr = NULL
            self._arrays = X

    def _check_dtype(self, dtype):
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"input must be float32 or float64, not {dtype}")
        self.dtype = np.dtype(dtype)
        self.itemsize = self.dtype.itemsize


cdef check_inputs(Network net, Inputs rows, Py_ssize_t itemsize):
    """The inputs fit the network: its width, the parameters' dtype."""
    if rows.n_features != net.sizes[0]:
        raise ValueError(f"the input has {rows.n_features} features, the "
                         f"network {net.sizes[0]} inputs")
    if rows.itemsize != itemsize:
        raise ValueError(f"the input is {rows.dtype}, the parameters "
                         f"{'float32' if itemsize == 4 else 'float64'}")


cdef check_model(Network net, Py_ssize_t n_params, Py_ssize_t n_running):
    if n_params != net.n_params or n_running != net.n_running:
        raise ValueError(f"the network has {net.n_params} parameters and "
                         f"{net.n_running} running statistics; got arrays of "
                         f"{n_params} and {n_running}")


cdef check_targets(Network net, Inputs rows, const int[::1] y,
                   const double[::1] sw):
    """One class index in ``[0, n_outputs)`` and one weight per row."""
    cdef Py_ssize_t i, C = net.sizes[net.n_layers]
    cdef bint ok = True
    if y.shape[0] != rows.n_rows or sw.shape[0] != rows.n_rows:
        raise ValueError(f"{rows.n_rows} rows but {y.shape[0]} labels and "
                         f"{sw.shape[0]} sample weights")
    with nogil:
        for i in range(y.shape[0]):
            ok = ok and 0 <= y[i] < C
    if not ok:
        raise ValueError(f"class indices must be in [0, {C})")


cdef check_length(str name, Py_ssize_t n, Py_ssize_t expected):
    if n != expected:
        raise ValueError(f"{name} has {n} entries, the network needs {expected}")


cdef inline Py_ssize_t row_id(const Rows* r, Py_ssize_t i) noexcept nogil:
    return r.index[i] if r.index != NULL else r.start + i


# --------------------------------------------------------------------------
# Layer kernels
# --------------------------------------------------------------------------

cdef inline void activate(int act, floating* z, Py_ssize_t n) noexcept nogil:
    """Apply the hidden activation in place (branch-free, vectorisable)."""
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
    """``d *= h'(z)``, with the derivative written in terms of ``a = h(z)``."""
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


#: Largest block of units that a thread takes in a training step.  A layer
#: of m units is cut into an even number of blocks of at most this many
#: units (one block when m fits), of equal widths rounded up to 8, so two
#: threads share the work evenly.  Blocks depend on the sizes only, never on
#: the number of threads: a fixed ``random_state`` gives the same bits with
#: any number of threads.
cdef Py_ssize_t MAX_BLOCK = 64


cdef inline Py_ssize_t block_width(Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t nb = (m + MAX_BLOCK - 1) // MAX_BLOCK
    if nb > 1:
        nb += nb % 2
    return ((m + nb - 1) // nb + 7) // 8 * 8


cdef inline Py_ssize_t n_blocks(Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t w = block_width(m)
    return (m + w - 1) // w


cdef inline const floating* dense_batch(const Spec* s, const Rows* rows,
                                        const floating* X, floating* ws,
                                        bint gather) noexcept nogil:
    """The batch's dense rows as one contiguous block: rows of ``X`` when
    the batch is a contiguous range, else the scratch copy (which ``gather``
    fills; the layer kernels then only look it up)."""
    cdef Py_ssize_t i, d = s.sizes[0]
    cdef floating* Xb = ws + s.x_off
    if rows.index == NULL:
        return X + rows.start * d
    if gather:
        for i in range(rows.n):
            memcpy(Xb + i * d, X + rows.index[i] * d, d * sizeof(floating))
    return Xb


cdef void batch_norm_forward(const Spec* s, int l, const floating* params,
                             floating* running, floating* ws, Py_ssize_t n,
                             bint training, Py_ssize_t c0,
                             Py_ssize_t c1) noexcept nogil:
    """Normalise units ``c0:c1`` of layer l's pre-activations in place:
    ``γ ẑ + β``.

    Training uses the batch's weighted mean and (biased) variance and updates
    the running statistics; inference uses the running statistics only.
    """
    cdef Py_ssize_t i, j, m = s.sizes[l + 1]
    cdef floating* Z = ws + s.a_off[l]
    cdef floating* Zh = ws + s.z_off[l]
    cdef floating* mu = ws + s.s_off[l]
    cdef floating* inv = mu + m
    cdef const floating* bw = ws + s.w_buf_off
    cdef const floating* gamma = params + s.g_off[l]
    cdef const floating* beta = gamma + m
    cdef floating* rmean = running + s.r_off[l]
    cdef floating* rvar = rmean + m
    cdef double mom = s.bn_momentum, zc
    if training:
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
            inv[j] = <floating> (1.0 / sqrt(inv[j] + s.bn_eps))
        for i in range(n):
            for j in range(c0, c1):
                Zh[i * m + j] = (Z[i * m + j] - mu[j]) * inv[j]
                Z[i * m + j] = gamma[j] * Zh[i * m + j] + beta[j]
    else:
        for j in range(c0, c1):
            mu[j] = rmean[j]
            inv[j] = <floating> (1.0 / sqrt(rvar[j] + s.bn_eps))
        for i in range(n):
            for j in range(c0, c1):
                Z[i * m + j] = gamma[j] * (Z[i * m + j] - mu[j]) * inv[j] + beta[j]


cdef void batch_norm_backward(const Spec* s, int l, const floating* params,
                              floating* grad, floating* ws, floating* D,
                              Py_ssize_t n, Py_ssize_t c0,
                              Py_ssize_t c1) noexcept nogil:
    """For units ``c0:c1``: given ``D = ∂L/∂y`` for ``y = γ ẑ + β``, write
    ``∂L/∂z`` into D, and the gradient of γ, β into ``grad``.

    With batch weights ``w`` (summing to 1):
    ``∂L/∂z_i = inv (γ D_i − w_i Σ_k γ D_k − w_i ẑ_i Σ_k γ D_k ẑ_k)``.
    """
    cdef Py_ssize_t i, j, m = s.sizes[l + 1]
    cdef const floating* Zh = ws + s.z_off[l]
    cdef const floating* inv = ws + s.s_off[l] + m
    cdef const floating* bw = ws + s.w_buf_off
    cdef const floating* gamma = params + s.g_off[l]
    cdef floating* dgamma = grad + s.g_off[l]
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


cdef void layer_forward(const Spec* s, int l, const floating* params,
                        floating* running, const Rows* rows, const floating* X,
                        const floating* data, const int* indices,
                        const int* indptr, bint sparse, floating* ws,
                        bint training, uint64_t key, Py_ssize_t c0,
                        Py_ssize_t c1) noexcept nogil:
    """Units ``c0:c1`` of layer l for the batch: ``Z = A W + b``, then for a
    hidden layer batch norm, the activation and dropout.

    Layer 0 reads the input (dense rows already gathered by `dense_batch`,
    or CSR through ``indptr``), layer l > 0 the output of layer l-1.
    ``key`` seeds the batch's dropout masks.
    """
    cdef Py_ssize_t i, j, k, r, n = rows.n, m = s.sizes[l + 1], w = c1 - c0
    cdef Py_ssize_t n_in = s.sizes[l]
    cdef const floating* W = params + s.w_off[l] + c0
    cdef const floating* b = params + s.b_off[l] + c0
    cdef floating* Z = ws + s.a_off[l] + c0
    cdef const floating* A
    cdef floating* mask
    cdef floating* O
    cdef double keep = 1.0 - s.dropout
    cdef floating scale = <floating> (1.0 / keep) if keep > 0 else 0
    cdef uint64_t layer_key = mix64(key + <uint64_t> l)
    for i in range(n):
        memcpy(Z + i * m, b, w * sizeof(floating))
    if l == 0 and sparse:
        for i in range(n):
            r = row_id(rows, i)
            for k in range(indptr[r], indptr[r + 1]):
                axpy(<int> w, data[k], W + indices[k] * m, Z + i * m)
    else:
        A = dense_batch(s, rows, X, ws, False) if l == 0 else ws + s.o_off[l - 1]
        gemm(c'N', c'N', <int> n, <int> w, <int> n_in, <floating> 1.0, A,
             <int> n_in, W, <int> m, <floating> 1.0, Z, <int> m)
    if l == s.n_layers - 1:
        return
    if s.batch_norm:
        batch_norm_forward(s, l, params, running, ws, n, training, c0, c1)
    for i in range(n):
        activate(s.activation, Z + i * m, w)
    if s.dropout > 0:
        O = ws + s.o_off[l] + c0
        if training:
            mask = ws + s.m_off[l] + c0
            for i in range(n):
                for j in range(w):
                    mask[i * m + j] = scale if uniform_at(
                        layer_key, <uint64_t> (i * m + c0 + j)) < keep else 0
                    O[i * m + j] = Z[i * m + j] * mask[i * m + j]
        else:
            for i in range(n):
                memcpy(O + i * m, Z + i * m, w * sizeof(floating))


cdef void layer_delta(const Spec* s, int l, const floating* params,
                      floating* grad, floating* ws, const floating* D,
                      floating* Dp, Py_ssize_t n, Py_ssize_t c0,
                      Py_ssize_t c1) noexcept nogil:
    """Units ``c0:c1`` of layer l-1's delta ``Dp`` from layer l's delta
    ``D``: ``(D Wᵀ) ∘ mask ∘ h'(a)``, then back through batch norm (which
    writes those units' γ, β gradient)."""
    cdef Py_ssize_t i, j, m = s.sizes[l + 1], n_in = s.sizes[l], w = c1 - c0
    cdef const floating* A = ws + s.a_off[l - 1] + c0
    cdef const floating* mask = ws + s.m_off[l - 1] + c0
    cdef floating* P = Dp + c0
    gemm(c'N', c'T', <int> n, <int> w, <int> m, <floating> 1.0, D, <int> m,
         params + s.w_off[l] + c0 * m, <int> m, <floating> 0.0, P, <int> n_in)
    if s.dropout > 0:
        for i in range(n):
            for j in range(w):
                P[i * n_in + j] *= mask[i * n_in + j]
    for i in range(n):
        activation_backward(s.activation, A + i * n_in, P + i * n_in, w)
    if s.batch_norm:
        batch_norm_backward(s, l - 1, params, grad, ws, Dp, n, c0, c1)


cdef void layer_grad(const Spec* s, int l, floating* dW, const Rows* rows,
                     const floating* X, const floating* data,
                     const int* indices, const int* indptr, bint sparse,
                     floating* ws, const floating* D, bint accumulate,
                     Py_ssize_t k0, Py_ssize_t k1) noexcept nogil:
    """Rows ``k0:k1`` (input units) of layer l's weight gradient
    ``dW = Aᵀ δ`` into ``dW`` (row ``k0`` first, rows of the layer's
    width), added to it when ``accumulate``.  CSR input (layer 0) takes all
    rows at once."""
    cdef Py_ssize_t i, k, r, n = rows.n, m = s.sizes[l + 1], n_in = s.sizes[l]
    cdef const floating* A
    if l == 0 and sparse:
        if not accumulate:
            memset(dW, 0, n_in * m * sizeof(floating))
        for i in range(n):
            r = row_id(rows, i)
            for k in range(indptr[r], indptr[r + 1]):
                axpy(<int> m, data[k], D + i * m, dW + indices[k] * m)
        return
    A = dense_batch(s, rows, X, ws, False) if l == 0 else ws + s.o_off[l - 1]
    gemm(c'T', c'N', <int> (k1 - k0), <int> m, <int> n, <floating> 1.0, A + k0,
         <int> n_in, D, <int> m, <floating> (1.0 if accumulate else 0.0),
         dW, <int> m)


cdef void bias_grad(const Spec* s, int l, floating* grad, const floating* D,
                    Py_ssize_t n, bint accumulate) noexcept nogil:
    """Layer l's intercept gradient ``db = Σ_i δ_i`` (added when
    ``accumulate``); batch norm's γ, β gradients come with the deltas."""
    cdef Py_ssize_t i, j, m = s.sizes[l + 1]
    cdef floating* db = grad + s.b_off[l]
    if not accumulate:
        memset(db, 0, m * sizeof(floating))
    for i in range(n):
        for j in range(m):
            db[j] += D[i * m + j]


cdef inline void weight_update(const Spec* s, int l, const Hyper* h,
                               floating* P, const floating* dW, floating* S1,
                               floating* S2, double alpha, Py_ssize_t k0,
                               Py_ssize_t k1) noexcept nogil:
    """One optimiser step on rows ``k0:k1`` of ``W_l``, with the L2 term,
    given their gradient ``dW`` (row ``k0`` first)."""
    cdef Py_ssize_t m = s.sizes[l + 1], o = s.w_off[l] + k0 * m
    update(h, P + o, dW, S1 + o, S2 + o, (k1 - k0) * m, alpha)


cdef inline void bias_update(const Spec* s, int l, const Hyper* h,
                             floating* P, const floating* G, floating* S1,
                             floating* S2) noexcept nogil:
    """One optimiser step on ``b_l`` (and ``γ_l``, ``β_l``, which follow it
    in the parameter vector), without the L2 term."""
    cdef Py_ssize_t o = s.b_off[l]
    update(h, P + o, G + o, S1 + o, S2 + o,
           (3 if s.g_off[l] >= 0 else 1) * s.sizes[l + 1], 0.0)


cdef void forward_block(const Spec* s, int l, floating* params,
                        floating* running, const Rows* rows,
                        const floating* X, const floating* data,
                        const int* indices, const int* indptr, bint sparse,
                        floating* ws, bint training, uint64_t key,
                        Py_ssize_t c) noexcept nogil:
    """Block c of layer l's units, on the calling thread (subnormals
    flushed in training: worker threads do not inherit the caller's mode)."""
    cdef unsigned int mode = mcnn_flush_subnormals() if training else 0
    cdef Py_ssize_t m = s.sizes[l + 1], w = block_width(m)
    layer_forward(s, l, params, running, rows, X, data, indices, indptr,
                  sparse, ws, training, key, c * w, min(c * w + w, m))
    if training:
        mcnn_restore_fpu(mode)


cdef void forward_pass(const Spec* s, floating* params, floating* running,
                       const Rows* rows, const floating* X,
                       const floating* data, const int* indices,
                       const int* indptr, bint sparse, floating* ws,
                       bint training, uint64_t key,
                       int n_threads) noexcept nogil:
    """Raw network outputs of the batch into layer L-1's activation buffer.

    ``n_threads = 0``: every layer whole, on this thread.  ``n_threads ≥ 1``:
    each hidden layer in blocks of units shared by that many threads (the
    same bits for any number), the narrow output layer on this thread.
    """
    cdef int l, L = s.n_layers
    cdef Py_ssize_t c, nb
    if not sparse:
        dense_batch(s, rows, X, ws, True)
    for l in range(L):
        if n_threads > 0 and l < L - 1:
            nb = n_blocks(s.sizes[l + 1])
            for c in prange(nb, num_threads=min(n_threads, nb),
                            schedule="dynamic"):
                forward_block(s, l, params, running, rows, X, data, indices,
                              indptr, sparse, ws, training, key, c)
        else:
            layer_forward(s, l, params, running, rows, X, data, indices,
                          indptr, sparse, ws, training, key, 0, s.sizes[l + 1])


cdef inline double softmax_row(const floating* z, floating* p,
                               Py_ssize_t C) noexcept nogil:
    """``p = softmax(z)``, stable (``p`` may be ``z``); returns log Σ exp z.

    One ``exp`` per entry.  Scores of +inf get the whole mass (the limit).
    """
    cdef Py_ssize_t k
    cdef double mx = z[0], tot = 0, e
    for k in range(1, C):
        if z[k] > mx:
            mx = z[k]
    if mx == INFINITY:
        for k in range(C):
            tot += z[k] == INFINITY
        for k in range(C):
            p[k] = <floating> ((z[k] == INFINITY) / tot)
        return INFINITY
    for k in range(C):
        e = exp(z[k] - mx)
        p[k] = <floating> e
        tot += e
    for k in range(C):
        p[k] = <floating> (p[k] / tot)
    return mx + log(tot)


cdef double output_loss(const Spec* s, const Rows* rows, const int* y,
                        const double* sw, floating* ws, bint want_delta,
                        bint* finite) noexcept nogil:
    """Σ_i s_i ℓ_i over the batch, and ``δ_out = bw_i ∂ℓ_i/∂z_i`` in d0.

    Log loss: stable log-sum-exp, the output buffer becomes the softmax
    probabilities and ``δ = bw (p − onehot)``.  Squared error:
    ``ℓ = ‖z − onehot‖²`` and ``δ = 2 bw (z − onehot)``.
    """
    cdef int L = s.n_layers
    cdef Py_ssize_t i, k, r, C = s.sizes[L], n = rows.n
    cdef floating* Z = ws + s.a_off[L - 1]
    cdef floating* D = ws + s.d0_off
    cdef const floating* w = ws + s.w_buf_off
    cdef double total = 0, li, diff
    cdef floating* z
    cdef int yi
    for i in range(n):
        r = row_id(rows, i)
        yi = y[r]
        z = Z + i * C
        if s.loss == LOG_LOSS:
            li = -z[yi]                     # before z becomes probabilities
            li += softmax_row(z, z, C)
            if want_delta:
                for k in range(C):
                    D[i * C + k] = w[i] * z[k]
                D[i * C + yi] -= w[i]
        else:
            li = 0
            for k in range(C):
                diff = z[k] - (1.0 if k == yi else 0.0)
                li += diff * diff
                if want_delta:
                    D[i * C + k] = <floating> (2.0 * w[i] * diff)
        if sw[r] != 0:
            total += sw[r] * li
    if not isfinite(total):
        finite[0] = False
    return total


cdef inline floating* delta_buffer(const Spec* s, floating* ws,
                                   int l) noexcept nogil:
    """Where δ_l lives: δ_out in d0, then the delta buffers in turn, three
    when laid out for training steps (so that layer l's gradient can read
    δ_l while δ_{l-2} is being computed), else two."""
    cdef int n_buffers = 3 if s.d2_off >= 0 else 2
    cdef int k = (s.n_layers - 1 - l) % n_buffers
    return ws + (s.d0_off if k == 0 else s.d1_off if k == 1 else s.d2_off)


cdef void backward_pass(const Spec* s, const floating* params,
                        floating* grad, const Rows* rows, const floating* X,
                        const floating* data, const int* indices,
                        const int* indptr, bint sparse, floating* ws,
                        bint accumulate) noexcept nogil:
    """Loss gradient of the batch (without the L2 term) into ``grad``.

    ``δ_out`` is in d0.  ``accumulate`` adds to ``grad`` instead of
    overwriting it (full-batch gradients over row chunks).
    """
    cdef int l
    cdef floating* D
    for l in range(s.n_layers - 1, -1, -1):
        D = delta_buffer(s, ws, l)
        layer_grad(s, l, grad + s.w_off[l], rows, X, data, indices, indptr,
                   sparse, ws, D, accumulate, 0, s.sizes[l])
        bias_grad(s, l, grad, D, rows.n, accumulate)
        if l > 0:
            layer_delta(s, l, params, grad, ws, D, delta_buffer(s, ws, l - 1),
                        rows.n, 0, s.sizes[l])


cdef double batch_weights(const Spec* s, const Rows* rows, const double* sw,
                          double total, floating* ws) noexcept nogil:
    """Write ``bw_i = s_i / total`` (``total = Σ_batch s`` when 0 is given)."""
    cdef Py_ssize_t i
    cdef floating* w = ws + s.w_buf_off
    if total == 0:
        for i in range(rows.n):
            total += sw[row_id(rows, i)]
    if total <= 0:
        memset(w, 0, rows.n * sizeof(floating))
        return 0
    for i in range(rows.n):
        w[i] = <floating> (sw[row_id(rows, i)] / total)
    return total


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------

cdef inline const floating* ptr1(const floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


# --------------------------------------------------------------------------
# One training step split into blocks of units, for the threads of a team.
# Each wrapper runs one block with subnormals flushed in its own thread
# (worker threads do not inherit the caller's floating-point mode).
# --------------------------------------------------------------------------

cdef void delta_block(const Spec* s, int l, const floating* params,
                      floating* grad, floating* ws, const floating* D,
                      floating* Dp, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    cdef unsigned int mode = mcnn_flush_subnormals()
    cdef Py_ssize_t m = s.sizes[l], w = block_width(m)
    layer_delta(s, l, params, grad, ws, D, Dp, n, c * w, min(c * w + w, m))
    mcnn_restore_fpu(mode)


cdef void step_block(const Spec* s, int l, const Hyper* h, floating* params,
                     floating* grad, floating* state_1, floating* state_2,
                     double alpha, const Rows* rows, const floating* X,
                     const floating* data, const int* indices,
                     const int* indptr, bint sparse, floating* ws,
                     const floating* D, Py_ssize_t c, int thread) noexcept nogil:
    """Block c of layer l's gradient, then its update while the gradient is
    still in this core's cache.  Blocks are rows of ``W_l`` (input units),
    contiguous in memory, so threads never write to the same cache lines;
    each thread computes its blocks' gradients in its own small buffer (CSR
    input's single block of layer 0 in ``grad``).  Block 0 also does the
    intercept (and batch norm's γ, β), whose gradients are in ``grad``."""
    cdef unsigned int mode = mcnn_flush_subnormals()
    cdef Py_ssize_t n_in = s.sizes[l], w = block_width(n_in)
    cdef Py_ssize_t k0 = c * w, k1 = min(k0 + w, n_in)
    cdef floating* dW = ws + s.g_blk_off + thread * s.g_blk_size
    if l == 0 and sparse:       # CSR rows scatter into every row of dW
        k0, k1 = 0, n_in
        dW = grad + s.w_off[0]
    if c == 0:
        bias_grad(s, l, grad, D, rows.n, False)
        bias_update(s, l, h, params, grad, state_1, state_2)
    layer_grad(s, l, dW, rows, X, data, indices, indptr, sparse, ws, D,
               False, k0, k1)
    weight_update(s, l, h, params, dW, state_1, state_2, alpha, k0, k1)
    mcnn_restore_fpu(mode)


cdef inline Py_ssize_t n_step_blocks(const Spec* s, int l,
                                     bint sparse) noexcept nogil:
    """Blocks of layer l's gradient and update (0 for l = -1, one for CSR
    input, whose rows scatter into every row of dW_0)."""
    if l < 0:
        return 0
    return 1 if l == 0 and sparse else n_blocks(s.sizes[l])


cdef void backward_region(const Spec* s, const Hyper* h, floating* params,
                          floating* grad, floating* state_1, floating* state_2,
                          double alpha, const Rows* rows, const floating* X,
                          const floating* data, const int* indices,
                          const int* indptr, bint sparse, floating* ws,
                          int step_hi, int step_lo, int delta_l,
                          int n_threads) noexcept nogil:
    """One parallel region of a step's backward pass, its blocks shared by
    the threads: the gradient and update of layers ``step_hi`` and
    ``step_lo``, and layer ``delta_l``'s delta δ_{delta_l - 1} (-1: none).
    The caller pairs tasks that touch different weights and deltas."""
    cdef Py_ssize_t c, n_hi, n_lo, n_delta = 0, nb
    cdef int thread
    n_hi = n_step_blocks(s, step_hi, sparse)
    n_lo = n_step_blocks(s, step_lo, sparse)
    if delta_l >= 0:
        n_delta = n_blocks(s.sizes[delta_l])
    nb = n_hi + n_lo + n_delta
    for c in prange(nb, num_threads=min(n_threads, nb), schedule="dynamic"):
        thread = threadid()
        if c < n_hi:
            step_block(s, step_hi, h, params, grad, state_1, state_2, alpha,
                       rows, X, data, indices, indptr, sparse, ws,
                       delta_buffer(s, ws, step_hi), c, thread)
        elif c < n_hi + n_lo:
            step_block(s, step_lo, h, params, grad, state_1, state_2, alpha,
                       rows, X, data, indices, indptr, sparse, ws,
                       delta_buffer(s, ws, step_lo), c - n_hi, thread)
        else:
            delta_block(s, delta_l, params, grad, ws,
                        delta_buffer(s, ws, delta_l),
                        delta_buffer(s, ws, delta_l - 1), rows.n,
                        c - n_hi - n_lo)


# --------------------------------------------------------------------------
# How many threads share a step.  The results are the same bits with any
# number, so the loop may choose by the clock: threads that meet at every
# layer of every step need their cores, and where other work keeps a core
# busy they wait for each other far longer than one thread takes (measured:
# float64 Adam, batch 32, one core busy with another process: 4.2 s per
# epoch on two threads, 1.9 s on one).  The loop runs on the chosen count
# and now and then probes the other one for a few steps, switching when the
# probe is clearly faster; probes grow rarer while they lose.
# --------------------------------------------------------------------------

#: Steps between probes after a switch, the most steps between probes, and
#: the steps of one probe.
cdef Py_ssize_t PROBE_EVERY = 128
cdef Py_ssize_t PROBE_EVERY_MAX = 4096
cdef Py_ssize_t PROBE_STEPS = 8
#: A probe step this many times slower than the chosen count's average ends
#: the probe at once.
cdef double PROBE_GIVE_UP = 1.5
#: Seconds of steps before the first probe, and between probes.
cdef double PROBE_AFTER_SECONDS = 0.25

ctypedef struct Tuner:
    int threads             # the chosen thread count
    int other               # the count that probes try
    Py_ssize_t every        # steps between probes
    Py_ssize_t countdown    # steps until the next probe
    Py_ssize_t probing      # steps left in the current probe
    double chosen           # moving average of a step's seconds, chosen count
    double probe            # seconds of the current probe so far

#: Tuner state as kept between epochs, a float64 array: threads, other,
#: every, countdown, probing, chosen, probe.
TUNER_SIZE = 7


cdef inline int tuner_threads(const Tuner* tu) noexcept nogil:
    return tu.other if tu.probing > 0 else tu.threads


cdef void tuner_record(Tuner* tu, double seconds) noexcept nogil:
    """Account for one step's seconds; start, end and judge probes.

    Between probes ``probe`` counts the seconds up from
    ``-PROBE_AFTER_SECONDS``: a probe starts when both ``every`` steps and
    that much time have passed, so a fit shorter than it never wakes a
    second core (on a shared machine, waking an idle one can itself take
    tens of milliseconds), and a long one pays the probes' cost rarely.
    """
    if tu.other == tu.threads:
        return
    if tu.probing > 0:
        tu.probe += seconds
        tu.probing -= 1
        if (tu.probing <= PROBE_STEPS - 2 and tu.chosen > 0
                and seconds > PROBE_GIVE_UP * tu.chosen):
            # Clearly losing (threads waiting for a busy core lose a time
            # slice per step): end the probe now, not PROBE_STEPS later.
            # (Not on its first step, which also wakes the threads.)
            tu.probing = 0
            tu.every = min(2 * tu.every, PROBE_EVERY_MAX)
            tu.countdown = tu.every
            tu.probe = -PROBE_AFTER_SECONDS
        elif tu.probing == 0:
            if tu.probe < 0.9 * PROBE_STEPS * tu.chosen:
                tu.threads, tu.other = tu.other, tu.threads
                tu.chosen = tu.probe / PROBE_STEPS
                tu.every = PROBE_EVERY
            else:
                tu.every = min(2 * tu.every, PROBE_EVERY_MAX)
            tu.countdown = tu.every
            tu.probe = -PROBE_AFTER_SECONDS
        return
    # A moving average that a faster step pulls down at once: the first
    # steps (page faults, cold caches) must not make the probes look good.
    tu.chosen = seconds if tu.chosen <= 0 else min(
        seconds, 0.875 * tu.chosen + 0.125 * seconds)
    tu.countdown -= 1
    tu.probe += seconds
    if tu.countdown <= 0 and tu.probe >= 0:
        tu.probing = PROBE_STEPS
        tu.probe = 0


cdef Tuner load_tuner(double[::1] state, int max_threads) except *:
    """The tuner kept in ``state`` (see ``TUNER_SIZE``), counts ≤ max_threads."""
    cdef Tuner tu
    if state.shape[0] != TUNER_SIZE:
        raise ValueError(f"tuner must have {TUNER_SIZE} entries")
    tu.threads = min(max(1, <int> state[0]), max_threads)
    tu.other = min(max(1, <int> state[1]), max_threads)
    tu.every = <Py_ssize_t> state[2]
    tu.countdown = <Py_ssize_t> state[3]
    tu.probing = <Py_ssize_t> state[4]
    tu.chosen = state[5]
    tu.probe = state[6]
    return tu


cdef void store_tuner(const Tuner* tu, double[::1] state) noexcept:
    state[0], state[1], state[2] = tu.threads, tu.other, tu.every
    state[3], state[4] = tu.countdown, tu.probing
    state[5], state[6] = tu.chosen, tu.probe


def openmp_max_threads():
    """``omp_get_max_threads()`` of the OpenMP runtime these kernels use
    (``OMP_NUM_THREADS``, or the limit of ``threadpoolctl``)."""
    return openmp.omp_get_max_threads()


def new_tuner(int n_threads):
    """A fresh tuner state: one thread chosen, ``n_threads`` probed first
    after ``PROBE_STEPS`` steps and ``PROBE_AFTER_SECONDS`` of them.  A fit
    shorter than that never wakes a second core; later, a busy core costs a
    probe at most two steps (a clearly losing probe ends then), and on idle
    cores the probe wins and the threads take over."""
    return np.array([1, n_threads, PROBE_EVERY, PROBE_STEPS, 0, 0.0,
                     -PROBE_AFTER_SECONDS])


def tuner_threads_next(double[::1] state):
    """The thread count the tuner kept in ``state`` runs the next step on
    (for callers outside `train_epoch`, such as L-BFGS's objective)."""
    cdef Tuner tu = load_tuner(state, 1 << 30)
    return tuner_threads(&tu)


def tuner_account(double[::1] state, double seconds):
    """Account for a step that took ``seconds`` on ``tuner_threads_next``
    threads (the same rule as the steps of `train_epoch`)."""
    cdef Tuner tu = load_tuner(state, 1 << 30)
    tuner_record(&tu, seconds)
    store_tuner(&tu, state)


def train_epoch(Network net, Inputs inputs, const int[::1] y,
                const double[::1] sw, const Py_ssize_t[::1] order,
                bint shuffled, Py_ssize_t batch_size, floating[::1] params,
                floating[::1] grad, floating[::1] state_1,
                floating[::1] state_2, floating[::1] running,
                floating[::1] workspace, dict hyper, double alpha, long long t,
                uint64_t seed, double[::1] tuner=None):
    """Run one epoch of mini-batch training in place.

    Each step splits the hidden layers' forward pass, the deltas and the
    gradient-and-update of every layer into blocks of units shared by
    threads (call it with single-threaded BLAS); each block's update follows
    its gradient while that is still in cache.  The blocks depend on the
    sizes only, so results do not depend on the number of threads, which
    the ``tuner`` state (see `new_tuner`) chooses step by step.

    Parameters
    ----------
    net : Network
        Its capacity must be at least ``batch_size``.
    inputs : Inputs
        The rows, dense or CSR.
    y : int32 array
        Class indices.
    sw : float64 array
        Sample weights (sample_weight × class_weight).
    order : intp array
        The epoch's row order; read only when ``shuffled``.
    batch_size : int
    params, grad, state_1, state_2, running, workspace : arrays
        Parameter vector, gradient and optimiser state buffers, batch-norm
        running statistics, scratch buffer.
    hyper : dict
        Solver constants: ``solver`` (int), ``lr``, ``momentum``,
        ``nesterov``, ``beta_1``, ``beta_2``, ``rho``, ``epsilon``; and the
        divergence guard: a batch whose weighted mean loss exceeds
        ``max_loss``, or ``loss_growth × max(loss_floor, first)`` where
        ``first`` is the mean loss of the epoch's first weighted batch, ends
        the epoch before its update, as a non-finite loss does.
    alpha : float
        L2 penalty.
    t : int
        Number of optimiser steps taken so far.
    seed : int
        Seed of the dropout masks of this epoch.
    tuner : float64 array or None
        The thread-count tuner's state, updated in place; None: one thread.

    Returns
    -------
    loss_sum : float
        Σ_i s_i ℓ_i over the rows seen (before each row's update).
    t : int
        Updated step count.
    n_batches : int
        Number of batches whose loss passed the guard.  When it is short of
        the epoch's batch count, the next batch's loss was non-finite or
        beyond the bound, and the epoch stopped there, before updating.
    first_loss : float
        Mean loss of the epoch's first batch of positive weight (-1: none).
    stop_loss : float
        Mean loss of the batch that stopped the epoch (0 if none did).
    """
    cdef Spec s = net.spec()
    cdef Hyper h
    cdef Py_ssize_t n = y.shape[0], start
    cdef int l, L = net.n_layers
    cdef Rows rows
    cdef uint64_t rng = seed, key
    cdef double loss_sum = 0, batch_total, batch_loss, mean_loss
    cdef double first_loss = -1, stop_loss = 0
    cdef double max_loss = hyper["max_loss"]
    cdef double loss_growth = hyper["loss_growth"]
    cdef double loss_floor = hyper["loss_floor"]
    cdef bint finite = True
    cdef floating* P = &params[0]
    cdef floating* G = &grad[0]
    cdef floating* S1 = &state_1[0]
    cdef floating* S2 = &state_2[0]
    cdef Py_ssize_t n_batches = 0
    cdef unsigned int fpu_mode
    cdef floating* R = &running[0] if running.shape[0] > 0 else NULL
    cdef floating* W = &workspace[0]
    cdef Tuner tu
    cdef int n_threads
    cdef double tic
    cdef const floating* Xp = <const floating*> inputs.X
    cdef const floating* Dt = <const floating*> inputs.data
    cdef const int* Ip = inputs.indices
    cdef const int* Pp = inputs.indptr
    cdef bint sparse = inputs.sparse
    cdef bint ok = True
    check_inputs(net, inputs, sizeof(floating))
    check_targets(net, inputs, y, sw)
    check_model(net, params.shape[0], running.shape[0])
    check_length("grad", grad.shape[0], net.n_params)
    check_length("state_1", state_1.shape[0], net.n_params)
    check_length("state_2", state_2.shape[0], net.n_params)
    if workspace.shape[0] < net.workspace_size:
        raise ValueError("the workspace is smaller than the network's layout")
    if order.shape[0] != n:
        raise ValueError(f"order has {order.shape[0]} entries for {n} rows")
    if shuffled:
        with nogil:
            for start in range(n):
                ok = ok and 0 <= order[start] < n
        if not ok:
            raise ValueError("order must hold row indices in [0, n_rows)")
    if batch_size < 1 or batch_size > net.capacity:
        raise ValueError("batch_size must be in [1, the network's capacity]")
    if net.step_threads < 1:
        raise ValueError("lay the network out with set_capacity(..., "
                         "step_threads=n)")
    if shuffled and not sparse and not net.gather:
        raise ValueError("shuffled dense rows need room to be gathered: lay "
                         "the network out with set_capacity(..., gather=True)")
    h.solver = hyper["solver"]
    h.lr = hyper["lr"]
    h.momentum = hyper["momentum"]
    h.nesterov = hyper["nesterov"]
    h.beta_1 = hyper["beta_1"]
    h.beta_2 = hyper["beta_2"]
    h.rho = hyper["rho"]
    h.epsilon = hyper["epsilon"]
    tu.threads = tu.other = 1
    tu.every = tu.countdown = PROBE_EVERY
    tu.probing = 0
    tu.chosen = tu.probe = 0
    if tuner is not None:
        tu = load_tuner(tuner, net.step_threads)
    with nogil:
        fpu_mode = mcnn_flush_subnormals()
        start = 0
        while start < n:
            n_threads = tuner_threads(&tu)
            tic = mcnn_now()
            rows.n = min(batch_size, n - start)
            rows.start = start
            rows.index = &order[start] if shuffled else NULL
            start += rows.n
            batch_total = batch_weights(&s, &rows, &sw[0], 0, W)
            key = splitmix64(&rng)
            forward_pass(&s, P, R, &rows, Xp, Dt, Ip, Pp, sparse, W, True, key,
                         n_threads)
            batch_loss = output_loss(&s, &rows, &y[0], &sw[0], W, True, &finite)
            if batch_total > 0:
                mean_loss = batch_loss / batch_total
                if first_loss < 0 and finite:
                    first_loss = mean_loss
                    max_loss = min(max_loss,
                                   loss_growth * max(loss_floor, first_loss))
                if not finite or mean_loss > max_loss:
                    stop_loss = mean_loss
                    break
            elif not finite:
                stop_loss = batch_loss
                break
            n_batches += 1
            loss_sum += batch_loss
            if batch_total <= 0:
                continue        # a batch of zero weight carries no gradient
            t += 1
            h.bias_1 = 1.0 - h.beta_1 ** t
            h.bias_2 = 1.0 - h.beta_2 ** t
            # backward in L regions: δ_{L-2} first, then layer l's gradient
            # and update beside δ_{l-2} (they touch different weights and
            # deltas), last the updates of layers 1 and 0 together
            if L == 1:
                backward_region(&s, &h, P, G, S1, S2, alpha, &rows, Xp, Dt,
                                Ip, Pp, sparse, W, 0, -1, -1, n_threads)
            else:
                backward_region(&s, &h, P, G, S1, S2, alpha, &rows, Xp, Dt,
                                Ip, Pp, sparse, W, -1, -1, L - 1, n_threads)
                for l in range(L - 1, 1, -1):
                    backward_region(&s, &h, P, G, S1, S2, alpha, &rows, Xp,
                                    Dt, Ip, Pp, sparse, W, l, -1, l - 1,
                                    n_threads)
                backward_region(&s, &h, P, G, S1, S2, alpha, &rows, Xp, Dt,
                                Ip, Pp, sparse, W, 1, 0, -1, n_threads)
            tuner_record(&tu, mcnn_now() - tic)
        mcnn_restore_fpu(fpu_mode)
    if tuner is not None:
        store_tuner(&tu, tuner)
    return loss_sum, t, n_batches, first_loss, stop_loss


#: Fixed number of partial gradients of the full-batch objective.  Chunk c
#: adds into slot c % N_SLOTS, slots run in parallel and are summed in order,
#: so the result does not depend on the number of threads.
cdef Py_ssize_t N_SLOTS = 4


cdef void loss_grad_slot(const Spec* s, Py_ssize_t slot, Py_ssize_t n_slots,
                         Py_ssize_t n, floating* params, floating* grad,
                         floating* running, const floating* X,
                         const floating* data, const int* indices,
                         const int* indptr, bint sparse, const int* y,
                         const double* sw, double total, floating* ws,
                         double* loss, bint* finite) noexcept nogil:
    """Objective and gradient of the chunks ``slot, slot + n_slots, ...``."""
    cdef Rows rows
    cdef Py_ssize_t start = slot * s.capacity
    rows.index = NULL
    while start < n:
        rows.n = min(s.capacity, n - start)
        rows.start = start
        batch_weights(s, &rows, sw, total, ws)
        forward_pass(s, params, running, &rows, X, data, indices, indptr,
                     sparse, ws, True, 0, 0)
        loss[0] += output_loss(s, &rows, y, sw, ws, True, finite)
        backward_pass(s, params, grad, &rows, X, data, indices, indptr, sparse,
                      ws, True)
        start += n_slots * s.capacity


def loss_grad(Network net, Inputs inputs, const int[::1] y,
              const double[::1] sw, floating[::1] params, floating[::1] grad,
              floating[::1] running, double alpha, int n_threads=1):
    """Full-batch objective ``F`` and its gradient (into ``grad``).

    Rows are processed in chunks of the network's capacity, each chunk's
    input read once for both passes, chunks spread over ``n_threads``
    threads (call it with single-threaded BLAS).  With batch normalisation
    the capacity must cover all rows (the batch statistics are those of the
    whole set), and the running statistics are set to them.

    Returns
    -------
    loss : float
        ``(1 / Σ s) Σ s_i ℓ_i + (alpha / 2) Σ ‖W_l‖²``.
    """
    cdef Spec s = net.spec()
    cdef Py_ssize_t n = y.shape[0], P = net.n_params, l, i, slot
    cdef Py_ssize_t n_chunks = max(1, (n + s.capacity - 1) // s.capacity)
    cdef Py_ssize_t n_slots = min(N_SLOTS, n_chunks)
    cdef double total = 0, loss_sum = 0, penalty = 0, wi
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] ws
    cdef floating[:, ::1] slot_grad
    cdef double[::1] slot_loss = np.zeros(n_slots)
    cdef unsigned char[::1] slot_finite = np.ones(n_slots, dtype=np.uint8)
    cdef floating* R = &running[0] if running.shape[0] > 0 else NULL
    cdef const floating* Xp = <const floating*> inputs.X
    cdef const floating* Dp = <const floating*> inputs.data
    cdef const int* Ip = inputs.indices
    cdef const int* Pp = inputs.indptr
    cdef bint sparse = inputs.sparse
    check_inputs(net, inputs, sizeof(floating))
    check_targets(net, inputs, y, sw)
    check_model(net, params.shape[0], running.shape[0])
    check_length("grad", grad.shape[0], P)
    ws = np.empty((n_slots, net.workspace_size), dtype=dtype)
    slot_grad = np.zeros((n_slots, P), dtype=dtype)
    if s.batch_norm and n_chunks > 1:
        raise ValueError("batch norm needs the capacity to cover every row")
    s.bn_momentum = 1.0     # running statistics := full-batch statistics
    with nogil:
        for i in range(n):
            total += sw[i]
        if total > 0:
            for slot in prange(n_slots, num_threads=min(n_threads, n_slots),
                               schedule="static"):
                loss_grad_slot(&s, slot, n_slots, n, &params[0],
                               &slot_grad[slot, 0], R, Xp, Dp, Ip, Pp, sparse,
                               &y[0], &sw[0], total, &ws[slot, 0],
                               &slot_loss[slot], <bint*> &slot_finite[slot])
        for i in range(P):
            grad[i] = 0
        for slot in range(n_slots):
            loss_sum += slot_loss[slot]
            for i in range(P):
                grad[i] += slot_grad[slot, i]
        for l in range(s.n_layers):
            for i in range(s.w_off[l], s.b_off[l]):
                wi = params[i]
                penalty += wi * wi
                grad[i] += <floating> (alpha * wi)
    return (loss_sum / total if total > 0 else 0.0) + 0.5 * alpha * penalty


cdef void forward_chunk(const Spec* s, Py_ssize_t start, Py_ssize_t n,
                        floating* params, floating* running, const floating* X,
                        const floating* data, const int* indices,
                        const int* indptr, bint sparse, floating* ws,
                        floating* out, bint probabilities) noexcept nogil:
    """Inference outputs of rows ``start:start + capacity`` into ``out``."""
    cdef Rows rows
    cdef Py_ssize_t i, C = s.sizes[s.n_layers]
    cdef floating* Z = ws + s.a_off[s.n_layers - 1]
    cdef floating* o
    rows.index = NULL
    rows.start = start
    rows.n = min(s.capacity, n - start)
    forward_pass(s, params, running, &rows, X, data, indices, indptr, sparse,
                 ws, False, 0, 0)
    for i in range(rows.n):
        o = out + (start + i) * C
        if probabilities:
            softmax_row(Z + i * C, o, C)
        else:
            memcpy(o, Z + i * C, C * sizeof(floating))


def forward(Network net, Inputs inputs, const floating[::1] params,
            const floating[::1] running, floating[:, ::1] out,
            bint probabilities, int n_threads=1):
    """Inference: the network's outputs for every row, into ``out``.

    ``probabilities`` applies the softmax to the outputs (stable); otherwise
    the raw scores (decision function) are written.  Chunks of the network's
    capacity are spread over ``n_threads`` threads (call it with
    single-threaded BLAS when ``n_threads > 1``), each with its own scratch
    buffer, without the GIL: concurrent calls share nothing writable.
    """
    cdef Spec s = net.spec()
    cdef Py_ssize_t n = inputs.n_rows, c
    cdef Py_ssize_t n_chunks = (n + s.capacity - 1) // s.capacity
    cdef int tid
    cdef floating[:, ::1] ws
    cdef floating* P = <floating*> &params[0]
    cdef floating* R = <floating*> ptr1(running)
    cdef const floating* Xp = <const floating*> inputs.X
    cdef const floating* Dp = <const floating*> inputs.data
    cdef const int* Ip = inputs.indices
    cdef const int* Pp = inputs.indptr
    cdef bint sparse = inputs.sparse
    check_inputs(net, inputs, sizeof(floating))
    check_model(net, params.shape[0], running.shape[0])
    if out.shape[0] != n or out.shape[1] != net.sizes[net.n_layers]:
        raise ValueError(f"out must have shape ({n}, "
                         f"{net.sizes[net.n_layers]})")
    if n == 0:
        return
    n_threads = max(1, min(n_threads, n_chunks))
    ws = np.empty((n_threads, net.workspace_size),
                  dtype=np.float32 if floating is float else np.float64)
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            tid = threadid()
            forward_chunk(&s, c * s.capacity, n, P, R, Xp, Dp, Ip, Pp, sparse,
                          &ws[tid, 0], &out[0, 0], probabilities)

