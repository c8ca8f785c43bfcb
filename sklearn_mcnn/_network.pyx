"""The training engine: a feed-forward network in Cython.

One engine serves every trained estimator of the package:
``SoftmaxClassifier`` is the network with no hidden layer and
``MLPBackpropClassifier`` adds hidden layers to it.

Layering (as scikit-learn's ``_loss``: point-wise functions, then array
kernels, then extension types, then Python):

- ``.pxd`` rooms hold the ``nogil`` kernels, fused over float/double:
  ``_layout.pxd`` (the structs every kernel reads), ``_activations.pxd``,
  ``_batch_norm.pxd``, ``_loss.pxd`` (stable softmax cross-entropy, squared
  error), ``_layers.pxd`` (a layer's forward, delta and weight gradient over
  a range of units), ``_tuner.pxd`` (the thread-count tuner),
  ``_optimizers.pxd`` (update rules), ``_blas.pxd``, ``_random.pxd``.  They
  are compiled into this one extension.
- ``.h`` headers hold the loops written in C, their AVX2 builds chosen at
  run time (``_cpu.h``; elsewhere a portable loop, or BLAS):
  ``_small_gemm.h`` (the products BLAS does badly), ``_sparse_narrow.h``
  (CSR rows against narrow layers), ``_vector_exp.h`` (the softmax's
  exponentials), ``_vector_log1p.h`` (the binary log loss's exp and
  log1p), ``_input_checks.h`` (finiteness, CSR structure) and
  ``_optimizers.h`` (update rules); ``_fpu.h`` and ``_clock.h`` set the
  floating-point mode and read the clock.
- This file holds the extension types that cross the boundary and the
  parallel loops:

  * :class:`Network`: the architecture, and where each layer's parameters
    live in one flat parameter vector ``[W_0, b_0, (γ_0, β_0), W_1, ...]``
    (``W_l`` row-major, shape ``(n_in, n_out)`` as scikit-learn's
    ``coefs_``) and each layer's buffers in one flat scratch buffer laid out
    for a batch capacity; kernels never allocate;
  * :class:`Dataset`: the input rows (dense or CSR), and for training their
    class indices and sample weights, validated once;
  * :class:`TrainState`: what a stochastic fit updates in place (parameters,
    optimiser state, running statistics, step count, thread tuner) with its
    gradient and scratch buffers and the solver's constants;
  * three entry points that run whole loops without the GIL:
    :func:`train_epoch` (one epoch of mini-batches, each step's blocks of
    units shared by OpenMP threads, their number chosen by the clock),
    :func:`loss_grad` (full-batch objective and gradient for L-BFGS and
    gradient checks, chunks of rows shared by threads) and :func:`forward`
    (inference, in bounded chunks of rows shared by threads).  Blocks and
    chunks depend on the sizes only: the bits never depend on the thread
    count.  Each entry point checks every array against the network's
    layout before its ``nogil`` loop.

Sample weights enter as ``bw_i = s_i / Σ_batch s``, so a batch gradient is
the weighted mean of the per-sample loss gradients; the L2 term
``alpha · W`` is added by the optimiser step (and by :func:`loss_grad`).
"""

import numpy as np

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
cimport openmp
from libc.stdint cimport INT32_MAX, uint64_t
from libc.string cimport memcpy

from ._blas cimport SMALL_AXPY
from ._activations cimport (ELU, GELU, IDENTITY, LEAKY_RELU, LOGISTIC, RELU,
                            SOFTPLUS, TANH, needs_pre_activation)
from ._layers cimport (backward_layers, bias_grad, dense_batch,
                       forward_layers, layer_delta, layer_forward, layer_grad)
from ._layout cimport (
    MAX_GRAD_BLOCK, Layout, Pass, Source, block_width, delta_offset, n_blocks,
)
from ._loss cimport (BINARY_LOG_LOSS, LOG_LOSS, SQUARED_ERROR, batch_weights,
                     output_loss, shifted_exp_double, shifted_exp_float,
                     sigmoid, softmax_row, softplus_parts_double,
                     softplus_parts_float)
from ._optimizers cimport ADAGRAD, ADAM, RMSPROP, SGD, Hyper, update
from ._random cimport splitmix64
from ._tuner cimport (PROBE_AFTER_SECONDS, PROBE_EVERY, PROBE_STEPS, Tuner,
                      tuner_record, tuner_threads)


cnp.import_array()


cdef extern from "_fpu.h":
    unsigned int mcnn_flush_subnormals() noexcept nogil
    void mcnn_restore_fpu(unsigned int mode) noexcept nogil

cdef extern from "_small_gemm.h" nogil:
    ctypedef struct RowLimits "mcnn_row_limits":
        Py_ssize_t wide, narrow, dot_depth
    RowLimits mcnn_small_gemm_rows[2]
    Py_ssize_t mcnn_narrow_gradient_cols[2]
    int mcnn_forward_by_kernel(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                               size_t itemsize)

cdef extern from "_cpu.h" nogil:
    int mcnn_has_avx2_fma()

cdef extern from "_input_checks.h" nogil:
    int mcnn_all_finite_float(const float* x, Py_ssize_t n)
    int mcnn_all_finite_double(const double* x, Py_ssize_t n)
    int csr_structure_ok "mcnn_csr_structure_ok" (
        const int* indptr, Py_ssize_t n_rows, const int* indices,
        Py_ssize_t nnz, Py_ssize_t n_features)


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

ACTIVATIONS = {"identity": IDENTITY, "relu": RELU, "tanh": TANH,
               "logistic": LOGISTIC, "leaky_relu": LEAKY_RELU, "elu": ELU,
               "gelu": GELU, "softplus": SOFTPLUS}
LOSSES = {"log_loss": LOG_LOSS, "squared_error": SQUARED_ERROR,
          "binary_log_loss": BINARY_LOG_LOSS}
SOLVERS = {"sgd": SGD, "adagrad": ADAGRAD, "rmsprop": RMSPROP, "adam": ADAM}

#: The thread tuner's state between calls: one record of the fields of the
#: ``Tuner`` struct (``_tuner.pxd``), in its layout.
TUNER_DTYPE = np.dtype([("threads", np.intc), ("other", np.intc),
                        ("every", np.intp), ("countdown", np.intp),
                        ("probing", np.intp), ("chosen", np.float64),
                        ("probe", np.float64)], align=True)
assert TUNER_DTYPE.itemsize == sizeof(Tuner)


# --------------------------------------------------------------------------
# The network's layout
# --------------------------------------------------------------------------

cdef class Network:
    """Architecture and memory layout of a feed-forward network.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str or sequence of str
        Hidden activation (a key of ``ACTIVATIONS``), or one per hidden
        layer.
    loss : {'log_loss', 'squared_error', 'binary_log_loss'}
        ``log_loss``: softmax output and cross-entropy; ``squared_error``:
        identity output and the squared error on one-hot targets;
        ``binary_log_loss``: two classes as one output ``d`` (the score of
        class 1 minus that of class 0), sigmoid and binary cross-entropy;
        it needs ``sizes[-1] == 1``.
    batch_norm : bool
        Batch normalisation before each hidden activation.
    dropout : float
        Probability of dropping a hidden unit during training.
    capacity : int
        Initial batch capacity of the scratch layout (see `set_capacity`).
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs.

    Attributes
    ----------
    label_smoothing : float
        ε of the training targets ``(1 − ε) onehot + ε / K`` (0: one-hot).
        Set on a network laid out for training; inference does not read it.
    output_penalty : float
        The output layer's share of the L2 penalty in :func:`loss_grad` (1;
        1/2 for the one logistic output that stands for two softmax rows,
        :class:`~sklearn_mcnn._engine.OneOutput`).
    """

    cdef readonly int n_layers
    cdef readonly Py_ssize_t n_params
    cdef readonly Py_ssize_t n_running
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t workspace_size
    cdef readonly object sizes
    cdef readonly object activation_name
    cdef readonly str loss_name
    cdef readonly bint batch_norm
    cdef readonly double dropout
    cdef public double bn_eps, bn_momentum, label_smoothing, output_penalty
    cdef readonly double negative_slope
    cdef readonly int step_threads
    cdef readonly bint gather
    cdef int loss
    cdef int[::1] _activation
    cdef Py_ssize_t[::1] _sizes, _weight_off, _bias_off, _bn_off, _running_off
    cdef Py_ssize_t[::1] _act_off, _out_off, _mask_off, _norm_off, _stats_off
    cdef Py_ssize_t[::1] _pre_off
    cdef Py_ssize_t gather_off, batch_weight_off
    cdef Py_ssize_t delta_off[3]
    cdef int n_delta
    cdef Py_ssize_t block_grad_off, block_grad_size
    cdef dict _inference_layouts

    def __init__(self, sizes, activation="relu", loss="log_loss",
                 batch_norm=False, dropout=0.0, capacity=1,
                 negative_slope=0.01):
        cdef Py_ssize_t l, n_in, n_out, off = 0, roff = 0
        self.sizes = tuple(int(s) for s in sizes)
        self.n_layers = L = len(self.sizes) - 1
        names = ([activation] * (L - 1) if isinstance(activation, str)
                 else list(activation))
        if len(names) != L - 1:
            raise ValueError(f"{len(names)} activations for {L - 1} hidden "
                             "layers")
        self.activation_name = activation if isinstance(activation, str) \
            else tuple(names)
        self._activation = np.array([ACTIVATIONS[a] for a in names] + [IDENTITY],
                                    dtype=np.intc)
        self.loss_name = loss
        self.loss = LOSSES[loss]
        if self.loss == BINARY_LOG_LOSS and self.sizes[L] != 1:
            raise ValueError("binary_log_loss needs one output unit, not "
                             f"{self.sizes[L]}")
        self.batch_norm = batch_norm and L > 1
        self.dropout = dropout
        self.bn_eps = 1e-5
        self.bn_momentum = 0.1
        self.label_smoothing = 0.0
        self.output_penalty = 1.0
        self.negative_slope = negative_slope
        self._sizes = np.asarray(self.sizes, dtype=np.intp)
        self._weight_off = np.zeros(L, dtype=np.intp)
        self._bias_off = np.zeros(L, dtype=np.intp)
        self._bn_off = np.full(L, -1, dtype=np.intp)
        self._running_off = np.full(L, -1, dtype=np.intp)
        for l in range(L):
            n_in, n_out = self._sizes[l], self._sizes[l + 1]
            self._weight_off[l] = off
            off += n_in * n_out
            self._bias_off[l] = off
            off += n_out
            if self.batch_norm and l < L - 1:
                self._bn_off[l] = off           # γ_l, then β_l
                off += 2 * n_out
                self._running_off[l] = roff     # running mean, then variance
                roff += 2 * n_out
        self.n_params = off
        self.n_running = roff
        self._act_off = np.zeros(L, dtype=np.intp)
        self._out_off = np.zeros(L, dtype=np.intp)
        self._mask_off = np.zeros(L, dtype=np.intp)
        self._norm_off = np.zeros(L, dtype=np.intp)
        self._stats_off = np.zeros(L, dtype=np.intp)
        self._pre_off = np.full(L, -1, dtype=np.intp)
        self.set_capacity(capacity)
        self._inference_layouts = {}

    def inference_layout(self, Py_ssize_t n_rows, Py_ssize_t max_rows):
        """A network of the same architecture laid out for inference on
        ``n_rows`` rows in chunks of at most ``max_rows``.

        The capacity is ``max_rows``, or where all rows fit in fewer, the
        power of two from ``n_rows``, so a handful of layouts serve every
        call (``_engine.inference_chunk_rows`` gives multiples of 8); they
        are cached and never changed afterwards, so concurrent predictions
        share nothing writable.
        """
        cdef Py_ssize_t capacity = 1
        while capacity < min(n_rows, max_rows):
            capacity *= 2
        capacity = min(capacity, max_rows)
        net = self._inference_layouts.get(capacity)
        if net is None:
            net = Network(self.sizes, self.activation_name, self.loss_name,
                          self.batch_norm, self.dropout, capacity,
                          self.negative_slope)
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
        self.gather_off = off
        if gather:
            off += capacity * self._sizes[0]
        for l in range(L):
            n = self._sizes[l + 1]
            self._act_off[l] = off
            off += capacity * n
            self._out_off[l] = self._act_off[l]
            if l < L - 1 and self.dropout > 0:
                self._out_off[l] = off
                off += capacity * n
                self._mask_off[l] = off
                off += capacity * n
            if l < L - 1 and self.batch_norm:
                self._norm_off[l] = off
                off += capacity * n
                self._stats_off[l] = off
                off += 2 * n
            if l < L - 1 and needs_pre_activation(self._activation[l]):
                self._pre_off[l] = off
                off += capacity * n
        self.step_threads = max(step_threads, 0)
        self.n_delta = 3 if step_threads > 0 else 2
        for l in range(3):
            self.delta_off[l] = -1
        for l in range(self.n_delta):
            self.delta_off[l] = off
            off += capacity * widest
        self.block_grad_off = off
        self.block_grad_size = 0
        if step_threads > 0:
            for l in range(L):
                n = (block_width(self._sizes[l], MAX_GRAD_BLOCK)
                     * self._sizes[l + 1])
                self.block_grad_size = max(self.block_grad_size, n)
            off += step_threads * self.block_grad_size
        self.batch_weight_off = off
        off += capacity
        self.workspace_size = off
        return off

    def scratch_offsets(self):
        """Where each layer's buffers start in the scratch buffer (for tests
        and debugging): activations, outputs after dropout, dropout masks and
        batch-norm normalised pre-activations, one entry per layer."""
        L = self.n_layers
        return {
            "activations": [self._act_off[l] for l in range(L)],
            "outputs": [self._out_off[l] for l in range(L)],
            "masks": [self._mask_off[l] for l in range(L)],
            "normalized": [self._norm_off[l] for l in range(L)],
        }

    cdef Layout layout(self):
        cdef Layout s
        s.n_layers = self.n_layers
        s.sizes = &self._sizes[0]
        s.activation = &self._activation[0]
        s.negative_slope = self.negative_slope
        s.weight_off = &self._weight_off[0]
        s.bias_off = &self._bias_off[0]
        s.bn_off = &self._bn_off[0]
        s.running_off = &self._running_off[0]
        s.loss = self.loss
        s.label_smoothing = self.label_smoothing
        s.batch_norm = self.batch_norm
        s.dropout = self.dropout
        s.bn_eps = self.bn_eps
        s.bn_momentum = self.bn_momentum
        s.capacity = self.capacity
        s.act_off = &self._act_off[0]
        s.out_off = &self._out_off[0]
        s.mask_off = &self._mask_off[0]
        s.norm_off = &self._norm_off[0]
        s.stats_off = &self._stats_off[0]
        s.pre_off = &self._pre_off[0]
        s.gather_off = self.gather_off
        s.delta_off = self.delta_off
        s.n_delta = self.n_delta
        s.block_grad_off = self.block_grad_off
        s.block_grad_size = self.block_grad_size
        s.batch_weight_off = self.batch_weight_off
        return s

    def layer_slices(self):
        """Per layer, the ``(W, b, γβ)`` slices of the parameter vector.

        ``γβ`` is ``None`` for layers without batch normalisation.
        """
        out = []
        for l in range(self.n_layers):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            w = slice(self._weight_off[l], self._weight_off[l] + n_in * n_out)
            b = slice(self._bias_off[l], self._bias_off[l] + n_out)
            gb = None
            if self._bn_off[l] >= 0:
                gb = slice(self._bn_off[l], self._bn_off[l] + 2 * n_out)
            out.append((w, b, gb))
        return out

    def running_slices(self):
        """Per hidden layer with batch norm, the running (mean, var) slices."""
        out = []
        for l in range(self.n_layers - 1):
            n = self.sizes[l + 1]
            r = self._running_off[l]
            out.append(None if r < 0 else (slice(r, r + n), slice(r + n, r + 2 * n)))
        return out

    def __reduce__(self):
        return (Network, (self.sizes, self.activation_name, self.loss_name,
                          self.batch_norm, self.dropout, self.capacity,
                          self.negative_slope))


# --------------------------------------------------------------------------
# The data: input rows, and for training their classes and weights
# --------------------------------------------------------------------------

cdef inline bint is_float_array(a) noexcept:
    """Whether ``a`` is an ndarray of float32 or float64 (NumPy's C API: a
    one-row prediction checks a handful of arrays, and Python-level
    ``a.dtype in (...)`` comparisons cost about a microsecond each)."""
    return cnp.PyArray_Check(a) and (
        cnp.PyArray_TYPE(<cnp.ndarray> a) == cnp.NPY_FLOAT32
        or cnp.PyArray_TYPE(<cnp.ndarray> a) == cnp.NPY_FLOAT64)


cdef const void* address(a) except? NULL:
    """Where the float32/float64 values of the C-contiguous array ``a``
    start (NULL when it is empty)."""
    if not is_float_array(a) or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a):
        raise ValueError("expected a C-contiguous float32 or float64 array")
    if cnp.PyArray_SIZE(<cnp.ndarray> a) == 0:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray> a)


def all_finite(a):
    """Whether every number of the float array ``a`` is finite.

    For C-contiguous float32 and float64 arrays, one pass over their bits
    (``_input_checks.h``) without ``np.isfinite``'s temporary array of booleans:
    a quarter of ``np.isfinite(a).all()``'s time on a 100 × 784 float32 batch
    (AMD EPYC), which a prediction of plain input pays on every call.
    Anything else: ``np.isfinite(a).all()``.
    """
    cdef const void* x
    cdef Py_ssize_t n, itemsize
    cdef bint ok
    if not is_float_array(a) or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a):
        return bool(np.isfinite(a).all())
    n = cnp.PyArray_SIZE(<cnp.ndarray> a)
    itemsize = cnp.PyArray_ITEMSIZE(<cnp.ndarray> a)
    x = cnp.PyArray_DATA(<cnp.ndarray> a)
    with nogil:
        if itemsize == 4:
            ok = mcnn_all_finite_float(<const float*> x, n)
        else:
            ok = mcnn_all_finite_double(<const double*> x, n)
    return ok


cdef class Dataset:
    """Rows as the kernels read them, validated once: a dense C-ordered
    matrix or CSR arrays, and for training one class index and one sample
    weight per row (scikit-learn's ``SequentialDataset`` plays this part for
    ``_plain_sgd``).

    The constructor checks everything a kernel relies on to stay inside the
    arrays: dtype (float32 or float64), C order, for CSR an ``indptr`` of
    ``n_rows + 1`` non-decreasing offsets within the stored values and
    column indices in ``[0, n_features)``, and one label and weight per row.
    The entry points then check the dataset against the network (width,
    dtype, class indices within its outputs) before any ``nogil`` loop.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features) or scipy.sparse CSR matrix
        float32 or float64.  Sparse input keeps its arrays (its indices as
        int32, converted once if needed); nothing is densified.
    y : array of int, shape (n_rows,), default=None
        Class indices (for training and the objective).
    sample_weight : array of float, shape (n_rows,), default=None
        Sample weights (``sample_weight × class_weight``); ones if None.
    """

    cdef readonly Py_ssize_t n_rows, n_features
    cdef readonly bint sparse
    cdef readonly object dtype
    cdef readonly bint has_targets
    cdef readonly object y, sample_weight
    cdef Py_ssize_t itemsize
    cdef int y_min, y_max
    cdef Source source
    cdef const int[::1] _y
    cdef const double[::1] _sw
    cdef object _arrays           # keeps the memory alive

    def __init__(self, X, y=None, sample_weight=None):
        cdef const int[::1] indices, indptr
        cdef Py_ssize_t nnz
        cdef bint ok = True
        if hasattr(X, "tocsr"):
            if X.format != "csr":
                raise ValueError(f"sparse input must be CSR, not {X.format}")
            data = X.data
            if X.nnz >= INT32_MAX:
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
                ok = csr_structure_ok(&indptr[0], self.n_rows,
                                      &indices[0] if nnz > 0 else NULL, nnz,
                                      self.n_features)
            if not ok:
                raise ValueError("malformed CSR input: indptr must be "
                                 "non-decreasing offsets within the stored "
                                 "values, and column indices within "
                                 "[0, n_features)")
            self.sparse = True
            self.source.dense = NULL
            self.source.data = address(data)
            self.source.indices = &indices[0] if indices.shape[0] > 0 else NULL
            self.source.indptr = &indptr[0]
            self._arrays = (data, indices_array, indptr_array)
        else:
            if not cnp.PyArray_Check(X) or cnp.PyArray_NDIM(<cnp.ndarray> X) != 2:
                raise ValueError("dense input must be a 2-D ndarray")
            if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> X):
                raise ValueError("dense input must be C-contiguous")
            if not is_float_array(X):
                self._check_dtype(X.dtype)      # raises
            self.dtype = X.dtype
            self.itemsize = cnp.PyArray_ITEMSIZE(<cnp.ndarray> X)
            self.n_rows = cnp.PyArray_DIM(<cnp.ndarray> X, 0)
            self.n_features = cnp.PyArray_DIM(<cnp.ndarray> X, 1)
            self.sparse = False
            self.source.dense = address(X)
            self.source.data = NULL
            self.source.indices = self.source.indptr = NULL
            self._arrays = X
        self.source.sparse = self.sparse
        self.has_targets = y is not None
        if y is None:
            if sample_weight is not None:
                raise ValueError("sample weights need class labels")
            return
        self.y = np.ascontiguousarray(y, dtype=np.intc)
        self.sample_weight = (np.ones(self.n_rows) if sample_weight is None
                              else np.ascontiguousarray(sample_weight,
                                                        dtype=np.float64))
        self._y, self._sw = self.y, self.sample_weight
        if self._y.shape[0] != self.n_rows or self._sw.shape[0] != self.n_rows:
            raise ValueError(f"{self.n_rows} rows but {self._y.shape[0]} labels "
                             f"and {self._sw.shape[0]} sample weights")
        self.y_min, self.y_max = 0, -1
        if self.n_rows > 0:
            self.y_min, self.y_max = int(self.y.min()), int(self.y.max())

    def column_sums(self, Py_ssize_t start=0, Py_ssize_t step=1):
        """``(Σᵢ sᵢ xᵢ, Σᵢ sᵢ xᵢ², Σᵢ sᵢ)`` per column, in float64, over the
        rows ``start, start + step, …`` (sᵢ the sample weights; ones without
        labels): what L-BFGS's standardized coordinates are made of."""
        if start < 0 or step < 1:
            raise ValueError("start must be >= 0 and step >= 1")
        s1 = np.zeros(self.n_features)
        s2 = np.zeros(self.n_features)
        sw = (self.sample_weight if self.has_targets
              else np.ones(self.n_rows))
        cdef const double[::1] w = sw
        cdef double[::1] a = s1, b = s2
        if self.n_features == 0 or start >= self.n_rows:
            return s1, s2, 0.0
        with nogil:
            if self.itemsize == 4:
                column_sums(&self.source, <const float*> (
                    self.source.data if self.sparse else self.source.dense),
                    &w[0], start, self.n_rows, step, self.n_features, &a[0],
                    &b[0])
            else:
                column_sums(&self.source, <const double*> (
                    self.source.data if self.sparse else self.source.dense),
                    &w[0], start, self.n_rows, step, self.n_features, &a[0],
                    &b[0])
        return s1, s2, float(np.sum(sw[start::step]))

    def _check_dtype(self, dtype):
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"input must be float32 or float64, not {dtype}")
        self.dtype = np.dtype(dtype)
        self.itemsize = self.dtype.itemsize


cdef void column_sums(const Source* X, const floating* values,
                      const double* sw, Py_ssize_t start, Py_ssize_t stop,
                      Py_ssize_t step, Py_ssize_t n_features, double* s1,
                      double* s2) noexcept nogil:
    """Add ``sw[i] x_ij`` to ``s1[j]`` and ``sw[i] x_ij²`` to ``s2[j]`` over
    the rows ``i = start, start + step, … < stop`` of X (``values``: its
    dense rows or CSR values)."""
    cdef Py_ssize_t i, j, k
    cdef double w, x
    cdef const floating* row
    i = start
    while i < stop:
        w = sw[i]
        if X.sparse:
            for k in range(X.indptr[i], X.indptr[i + 1]):
                x = values[k]
                s1[X.indices[k]] += w * x
                s2[X.indices[k]] += w * x * x
        else:
            row = values + i * n_features
            for j in range(n_features):
                x = row[j]
                s1[j] += w * x
                s2[j] += w * x * x
        i += step


# --------------------------------------------------------------------------
# Checks at the entry points, before any nogil loop
# --------------------------------------------------------------------------

cdef check_data(Network net, Dataset data, Py_ssize_t itemsize,
                bint targets):
    """The dataset fits the network: its width, the parameters' dtype, and
    (for training) class indices within the outputs."""
    cdef Py_ssize_t C = net.sizes[net.n_layers]
    if net.loss == BINARY_LOG_LOSS:
        C = 2                   # one output, two classes
    if data.n_features != net.sizes[0]:
        raise ValueError(f"the input has {data.n_features} features, the "
                         f"network {net.sizes[0]} inputs")
    if data.itemsize != itemsize:
        raise ValueError(f"the input is {data.dtype}, the parameters "
                         f"{'float32' if itemsize == 4 else 'float64'}")
    if targets and not data.has_targets:
        raise ValueError("training needs a Dataset with class labels")
    if targets and data.n_rows > 0 and (data.y_min < 0 or data.y_max >= C):
        raise ValueError(f"class indices must be in [0, {C})")


cdef Py_ssize_t float_size(a, str name) except -1:
    """The item size of ``a``, a float32 or float64 array."""
    if not is_float_array(a):
        raise ValueError(f"{name} must be a float32 or float64 array")
    return cnp.PyArray_ITEMSIZE(<cnp.ndarray> a)


cdef void* vector(a, Py_ssize_t n, Py_ssize_t itemsize, str name,
                  bint writable=True) except? NULL:
    """The values of ``a``, a C-contiguous 1-D float array of ``n`` entries
    and the parameters' dtype (NULL when it is empty)."""
    if (not cnp.PyArray_Check(a) or cnp.PyArray_NDIM(<cnp.ndarray> a) != 1
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a)):
        raise ValueError(f"{name} must be a C-contiguous 1-D array")
    if cnp.PyArray_DIM(<cnp.ndarray> a, 0) != n:
        raise ValueError(f"{name} has {a.shape[0]} entries, the network "
                         f"needs {n}")
    if not is_float_array(a) or cnp.PyArray_ITEMSIZE(<cnp.ndarray> a) != itemsize:
        raise ValueError(f"{name} is {a.dtype}, the parameters "
                         f"{'float32' if itemsize == 4 else 'float64'}")
    if writable and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray> a):
        raise ValueError(f"{name} must be writable")
    return <void*> address(a)


cdef Pass new_pass(const Layout* net, Dataset data) noexcept:
    cdef Pass p
    p.net = net
    p.X = &data.source
    p.rows.index = NULL
    p.rows.start = 0
    p.rows.n = 0
    p.y = &data._y[0] if data.has_targets and data.n_rows > 0 else NULL
    p.sw = &data._sw[0] if data.has_targets and data.n_rows > 0 else NULL
    p.params = p.running = p.grad = NULL
    p.training = False
    p.key = 0
    return p


# --------------------------------------------------------------------------
# Training: the state a stochastic fit updates, and one step in blocks of
# units shared by the threads of a team.  Each block runs with subnormals
# flushed in its own thread (worker threads do not inherit the caller's
# floating-point mode).
# --------------------------------------------------------------------------

ctypedef struct Step:
    Hyper hyper                  # solver constants, this step's bias terms
    void* state_1                # optimiser state vectors
    void* state_2
    double alpha                 # L2 penalty


cdef class TrainState:
    """What a stochastic fit updates in place, unpacked once per epoch.

    It holds the estimator's parameter vector, batch-norm running
    statistics, optimiser state and thread tuner (updated in place, so the
    estimator's fit transaction can restore them), its own gradient and
    scratch buffers, the step count, and the solver's constants.

    Parameters
    ----------
    net : Network
        Laid out with ``set_capacity(batch_size, gather, step_threads)``.
    params, running : arrays
        Parameter vector and running statistics, of the network's sizes.
    optimizer_state : tuple of two arrays
        The solver's state vectors (momentum; squared-gradient average;
        Adam's moments), each of the parameter vector's size.
    solver : dict
        ``solver`` (a value of ``SOLVERS``), ``momentum``, ``nesterov``,
        ``beta_1``, ``beta_2``, ``rho``, ``epsilon`` and ``alpha`` (L2).
    tuner : array of dtype TUNER_DTYPE, shape (1,), or None
        The thread-count tuner's state (see `new_tuner`); None: one thread.

    Attributes
    ----------
    t : int
        Optimiser steps taken so far.
    lr : float
        Learning rate of the next epoch.
    batch_size : int
        Rows per step, at most the network's capacity.
    max_loss, loss_growth, loss_floor : float
        The divergence guard: a batch whose weighted mean loss exceeds
        ``max_loss``, or ``loss_growth × max(loss_floor, first)`` where
        ``first`` is the mean loss of the epoch's first weighted batch, ends
        the epoch before its update, as a non-finite loss does.
    """

    cdef readonly Network net
    cdef readonly object params, running, state_1, state_2, grad, workspace
    cdef readonly object tuner
    cdef public long long t
    cdef public double lr, max_loss, loss_growth, loss_floor
    cdef public Py_ssize_t batch_size
    cdef Step step
    cdef Py_ssize_t itemsize

    def __init__(self, Network net, params, running, tuple optimizer_state,
                 dict solver, tuner=None):
        self.net = net
        self.params, self.running = params, running
        self.state_1, self.state_2 = optimizer_state
        self.itemsize = params.dtype.itemsize
        self.grad = np.empty_like(params)
        self.workspace = np.empty(net.workspace_size, dtype=params.dtype)
        if tuner is not None and (not isinstance(tuner, np.ndarray)
                                  or tuner.dtype != TUNER_DTYPE
                                  or tuner.shape != (1,)):
            raise ValueError("tuner must be a state made by new_tuner")
        self.tuner = tuner
        self.step.hyper.solver = solver["solver"]
        self.step.hyper.momentum = solver["momentum"]
        self.step.hyper.nesterov = solver["nesterov"]
        self.step.hyper.beta_1 = solver["beta_1"]
        self.step.hyper.beta_2 = solver["beta_2"]
        self.step.hyper.rho = solver["rho"]
        self.step.hyper.epsilon = solver["epsilon"]
        self.step.alpha = solver["alpha"]
        self.t = 0
        self.lr = 0.0
        self.batch_size = net.capacity
        self.max_loss = self.loss_growth = float("inf")
        self.loss_floor = 0.0


cdef inline void weight_update(const Pass* p, const Step* st, int l,
                               const floating* dW, Py_ssize_t k0,
                               Py_ssize_t k1) noexcept nogil:
    """One optimiser step on rows ``k0:k1`` of ``W_l``, with the L2 term,
    given their gradient ``dW`` (row ``k0`` first)."""
    cdef Py_ssize_t m = p.net.sizes[l + 1], o = p.net.weight_off[l] + k0 * m
    update(&st.hyper, <floating*> p.params + o, dW,
           <floating*> st.state_1 + o, <floating*> st.state_2 + o,
           (k1 - k0) * m, st.alpha)


cdef inline void bias_update(const Pass* p, const Step* st, int l,
                             const floating* grad) noexcept nogil:
    """One optimiser step on ``b_l`` (and ``γ_l``, ``β_l``, which follow it
    in the parameter vector), without the L2 term."""
    cdef Py_ssize_t o = p.net.bias_off[l]
    update(&st.hyper, <floating*> p.params + o, grad + o,
           <floating*> st.state_1 + o, <floating*> st.state_2 + o,
           (3 if p.net.bn_off[l] >= 0 else 1) * p.net.sizes[l + 1], 0.0)


cdef void forward_block(const Pass* p, floating* ws, int l,
                        Py_ssize_t c) noexcept nogil:
    """Block c of layer l's units."""
    cdef unsigned int mode = mcnn_flush_subnormals()
    cdef Py_ssize_t m = p.net.sizes[l + 1], w = block_width(m)
    layer_forward(p, ws, l, c * w, min(c * w + w, m))
    mcnn_restore_fpu(mode)


cdef void forward_step(const Pass* p, floating* ws,
                       int n_threads) noexcept nogil:
    """A training step's forward pass: each hidden layer in blocks of units
    shared by ``n_threads`` threads (the same bits for any number), the
    narrow output layer on this thread."""
    cdef int l, L = p.net.n_layers
    cdef Py_ssize_t c, nb
    if not p.X.sparse:
        dense_batch(p, ws, True)
    for l in range(L - 1):
        nb = n_blocks(p.net.sizes[l + 1])
        for c in prange(nb, num_threads=min(n_threads, nb), schedule="dynamic"):
            forward_block(p, ws, l, c)
    layer_forward(p, ws, L - 1, 0, p.net.sizes[L])


cdef void delta_block(const Pass* p, floating* ws, int l,
                      Py_ssize_t c) noexcept nogil:
    """Block c of δ_{l-1}'s units."""
    cdef unsigned int mode = mcnn_flush_subnormals()
    cdef Py_ssize_t m = p.net.sizes[l], w = block_width(m)
    layer_delta(p, ws, l, ws + delta_offset(p.net, l),
                ws + delta_offset(p.net, l - 1), c * w, min(c * w + w, m))
    mcnn_restore_fpu(mode)


cdef void step_block(const Pass* p, floating* ws, const Step* st, int l,
                     Py_ssize_t c, int thread) noexcept nogil:
    """Block c of layer l's gradient, then its update while the gradient is
    still in this core's cache.  Blocks are rows of ``W_l`` (input units),
    contiguous in memory, so threads never write to the same cache lines;
    each thread computes its blocks' gradients in its own small buffer (CSR
    input's single block of layer 0 in the gradient vector).  Block 0 also
    does the intercept (and batch norm's γ, β), whose gradients are in the
    gradient vector."""
    cdef unsigned int mode = mcnn_flush_subnormals()
    cdef Py_ssize_t n_in = p.net.sizes[l]
    cdef Py_ssize_t w = block_width(n_in, MAX_GRAD_BLOCK)
    cdef Py_ssize_t k0 = c * w, k1 = min(k0 + w, n_in)
    cdef floating* grad = <floating*> p.grad
    cdef floating* dW = ws + p.net.block_grad_off + thread * p.net.block_grad_size
    cdef const floating* D = ws + delta_offset(p.net, l)
    if l == 0 and p.X.sparse:   # CSR rows scatter into every row of dW
        k0, k1 = 0, n_in
        dW = grad + p.net.weight_off[0]
    if c == 0:
        bias_grad(p, l, D, False)
        bias_update(p, st, l, grad)
    layer_grad(p, ws, l, dW, D, False, k0, k1)
    weight_update(p, st, l, dW, k0, k1)
    mcnn_restore_fpu(mode)


cdef inline Py_ssize_t n_step_blocks(const Pass* p, int l) noexcept nogil:
    """Blocks of layer l's gradient and update (0 for l = -1, one for CSR
    input, whose rows scatter into every row of dW_0)."""
    if l < 0:
        return 0
    if l == 0 and p.X.sparse:
        return 1
    return n_blocks(p.net.sizes[l], MAX_GRAD_BLOCK)


cdef void backward_region(const Pass* p, floating* ws, const Step* st,
                          int step_hi, int step_lo, int delta_l,
                          int n_threads) noexcept nogil:
    """One parallel region of a step's backward pass, its blocks shared by
    the threads: the gradient and update of layers ``step_hi`` and
    ``step_lo``, and layer ``delta_l``'s delta δ_{delta_l - 1} (-1: none).
    The caller pairs tasks that touch different weights and deltas."""
    cdef Py_ssize_t c, n_hi, n_lo, n_delta = 0, nb
    n_hi = n_step_blocks(p, step_hi)
    n_lo = n_step_blocks(p, step_lo)
    if delta_l >= 0:
        n_delta = n_blocks(p.net.sizes[delta_l])
    nb = n_hi + n_lo + n_delta
    for c in prange(nb, num_threads=min(n_threads, nb), schedule="dynamic"):
        if c < n_hi:
            step_block(p, ws, st, step_hi, c, threadid())
        elif c < n_hi + n_lo:
            step_block(p, ws, st, step_lo, c - n_hi, threadid())
        else:
            delta_block(p, ws, delta_l, c - n_hi - n_lo)


cdef void backward_step(const Pass* p, floating* ws, const Step* st,
                        int n_threads) noexcept nogil:
    """A step's backward pass and update in L regions: δ_{L-2} first, then
    layer l's gradient and update beside δ_{l-2} (they touch different
    weights and deltas), last the updates of layers 1 and 0 together."""
    cdef int l, L = p.net.n_layers
    if L == 1:
        backward_region(p, ws, st, 0, -1, -1, n_threads)
        return
    backward_region(p, ws, st, -1, -1, L - 1, n_threads)
    for l in range(L - 1, 1, -1):
        backward_region(p, ws, st, l, -1, l - 1, n_threads)
    backward_region(p, ws, st, 1, 0, -1, n_threads)


ctypedef struct Guard:
    double max_loss              # this epoch's bound on a batch's mean loss
    double loss_growth
    double loss_floor


cdef tuple run_epoch(Pass* p, floating* ws, Step* st, Tuner* tu,
                     const Py_ssize_t* order, Py_ssize_t batch_size,
                     long long* t, Guard guard):
    """The epoch loop of `train_epoch`, without the GIL."""
    cdef Py_ssize_t n = p.rows.n, start, n_batches = 0
    cdef uint64_t rng = p.key
    cdef double loss_sum = 0, batch_total, batch_loss, mean_loss
    cdef double first_loss = -1, stop_loss = 0, tic
    cdef bint finite = True
    cdef unsigned int fpu_mode
    cdef int n_threads
    with nogil:
        fpu_mode = mcnn_flush_subnormals()
        start = 0
        while start < n:
            n_threads = tuner_threads(tu)
            tic = mcnn_now()
            p.rows.n = min(batch_size, n - start)
            p.rows.start = start
            p.rows.index = order + start if order != NULL else NULL
            start += p.rows.n
            batch_total = batch_weights(p, ws, 0)
            p.key = splitmix64(&rng)
            forward_step(p, ws, n_threads)
            batch_loss = output_loss(p, ws, True, &finite)
            if batch_total > 0:
                mean_loss = batch_loss / batch_total
                if first_loss < 0 and finite:
                    first_loss = mean_loss
                    guard.max_loss = min(guard.max_loss, guard.loss_growth
                                         * max(guard.loss_floor, first_loss))
                if not finite or mean_loss > guard.max_loss:
                    stop_loss = mean_loss
                    break
            elif not finite:
                stop_loss = batch_loss
                break
            n_batches += 1
            loss_sum += batch_loss
            if batch_total <= 0:
                continue        # a batch of zero weight carries no gradient
            t[0] += 1
            st.hyper.bias_1 = 1.0 - st.hyper.beta_1 ** t[0]
            st.hyper.bias_2 = 1.0 - st.hyper.beta_2 ** t[0]
            backward_step(p, ws, st, n_threads)
            tuner_record(tu, mcnn_now() - tic)
        mcnn_restore_fpu(fpu_mode)
    return loss_sum, n_batches, first_loss, stop_loss


def train_epoch(TrainState state, Dataset data, const Py_ssize_t[::1] order,
                uint64_t seed):
    """Run one epoch of mini-batch training, updating ``state`` in place.

    Each step splits the hidden layers' forward pass, the deltas and the
    gradient-and-update of every layer into blocks of units shared by
    threads (call it with single-threaded BLAS); each block's update follows
    its gradient while that is still in cache.  The blocks depend on the
    sizes only, so results do not depend on the number of threads, which
    the state's tuner chooses step by step.

    Parameters
    ----------
    state : TrainState
        Parameters, optimiser state, step count, learning rate, guard.
    data : Dataset
        The rows, with their class indices and sample weights.
    order : intp array or None
        The epoch's row order (a permutation); None: the rows in order.
    seed : int
        Seed of the dropout masks of this epoch.

    Returns
    -------
    loss_sum : float
        Σ_i s_i ℓ_i over the rows seen (before each row's update).
    n_batches : int
        Number of batches whose loss passed the guard.  When it is short of
        the epoch's batch count, the next batch's loss was non-finite or
        beyond the bound, and the epoch stopped there, before updating.
    first_loss : float
        Mean loss of the epoch's first batch of positive weight (-1: none).
    stop_loss : float
        Mean loss of the batch that stopped the epoch (0 if none did).
    """
    cdef Network net = state.net
    cdef Layout lay = net.layout()
    cdef Pass p = new_pass(&lay, data)
    cdef Py_ssize_t i, n = data.n_rows, P = net.n_params, size = state.itemsize
    cdef Tuner tu
    cdef Tuner[::1] stored
    cdef Guard guard
    cdef bint ok = True
    cdef long long t = state.t
    cdef void* ws
    check_data(net, data, size, True)
    p.params = vector(state.params, P, size, "params")
    p.running = vector(state.running, net.n_running, size, "running")
    p.grad = vector(state.grad, P, size, "grad")
    state.step.state_1 = vector(state.state_1, P, size, "state_1")
    state.step.state_2 = vector(state.state_2, P, size, "state_2")
    ws = vector(state.workspace, state.workspace.shape[0], size, "workspace")
    if state.workspace.shape[0] < net.workspace_size:
        raise ValueError("the workspace is smaller than the network's layout")
    if order is not None:
        if order.shape[0] != n:
            raise ValueError(f"order has {order.shape[0]} entries for {n} rows")
        with nogil:
            for i in range(n):
                ok = ok and 0 <= order[i] < n
        if not ok:
            raise ValueError("order must hold row indices in [0, n_rows)")
    if state.batch_size < 1 or state.batch_size > net.capacity:
        raise ValueError("batch_size must be in [1, the network's capacity]")
    if net.step_threads < 1:
        raise ValueError("lay the network out with set_capacity(..., "
                         "step_threads=n)")
    if order is not None and not data.sparse and not net.gather:
        raise ValueError("shuffled dense rows need room to be gathered: lay "
                         "the network out with set_capacity(..., gather=True)")
    if n == 0:
        return 0.0, 0, -1.0, 0.0
    tu.threads = tu.other = 1
    tu.every = tu.countdown = PROBE_EVERY
    tu.probing = 0
    tu.chosen = tu.probe = 0
    if state.tuner is not None:
        stored = state.tuner
        tu = stored[0]
        tu.threads = min(max(1, tu.threads), net.step_threads)
        tu.other = min(max(1, tu.other), net.step_threads)
    state.step.hyper.lr = state.lr
    guard.max_loss = state.max_loss
    guard.loss_growth = state.loss_growth
    guard.loss_floor = state.loss_floor
    p.training = True
    p.key = seed
    p.rows.n = n
    if size == 4:
        result = run_epoch[float](&p, <float*> ws, &state.step, &tu,
                                  &order[0] if order is not None else NULL,
                                  state.batch_size, &t, guard)
    else:
        result = run_epoch[double](&p, <double*> ws, &state.step, &tu,
                                   &order[0] if order is not None else NULL,
                                   state.batch_size, &t, guard)
    state.t = t
    if state.tuner is not None:
        stored[0] = tu
    return result


# --------------------------------------------------------------------------
# The full-batch objective and gradient (L-BFGS, gradient checks)
# --------------------------------------------------------------------------

#: Fixed number of partial gradients of the full-batch objective.  Chunk c
#: adds into slot c % N_SLOTS, slots run in parallel and are summed in order,
#: so the result does not depend on the number of threads.
cdef Py_ssize_t N_SLOTS = 4


cdef void loss_grad_slot(const Pass* shared, floating* ws, floating* grad,
                         Py_ssize_t slot, Py_ssize_t n_slots, double total,
                         double* loss, bint* finite) noexcept nogil:
    """Objective and gradient of the chunks ``slot, slot + n_slots, ...``
    (``shared.rows.n`` rows in all), into this slot's gradient."""
    cdef Pass p = shared[0]
    cdef Py_ssize_t n = shared.rows.n, start = slot * p.net.capacity
    p.grad = grad
    while start < n:
        p.rows.n = min(p.net.capacity, n - start)
        p.rows.start = start
        batch_weights(&p, ws, total)
        forward_layers(&p, ws)
        loss[0] += output_loss(&p, ws, True, finite)
        backward_layers(&p, ws, True)
        start += n_slots * p.net.capacity


cdef inline double add_penalty(const floating* params, floating* grad,
                               Py_ssize_t start, Py_ssize_t stop,
                               double alpha) noexcept nogil:
    """``Σ w²`` of the weights ``params[start:stop]``, whose penalty's
    gradient ``alpha w`` it adds to ``grad``."""
    cdef Py_ssize_t i
    cdef double wi, total = 0
    for i in range(start, stop):
        wi = params[i]
        total += wi * wi
        grad[i] += <floating> (alpha * wi)
    return total


cdef double full_batch(const Pass* p, floating* ws, floating* slot_grad,
                       double* slot_loss, bint* slot_finite, Py_ssize_t n_slots,
                       double alpha, double output_alpha,
                       int n_threads) noexcept nogil:
    """`loss_grad` without the GIL; ``ws`` and ``slot_grad`` hold one
    scratch buffer and one gradient per slot; the output layer's weights
    take the penalty ``output_alpha``, the others ``alpha``."""
    # The parameter vector ends with the output layer's intercepts, and the
    # scratch layout with the batch weights.
    cdef int L = p.net.n_layers
    cdef Py_ssize_t i, l, slot, P = p.net.bias_off[L - 1] + p.net.sizes[L]
    cdef Py_ssize_t ws_size = p.net.batch_weight_off + p.net.capacity
    cdef floating* grad = <floating*> p.grad
    cdef const floating* params = <const floating*> p.params
    cdef double total = 0, loss_sum = 0, penalty = 0, output_penalty
    for i in range(p.rows.n):
        total += p.sw[i]
    if total > 0:
        for slot in prange(n_slots, num_threads=min(n_threads, n_slots),
                           schedule="static"):
            loss_grad_slot(p, ws + slot * ws_size, slot_grad + slot * P, slot,
                           n_slots, total, &slot_loss[slot], &slot_finite[slot])
    for i in range(P):
        grad[i] = 0
    for slot in range(n_slots):
        loss_sum += slot_loss[slot]
        for i in range(P):
            grad[i] += slot_grad[slot * P + i]
    for l in range(L - 1):
        penalty += add_penalty(params, grad, p.net.weight_off[l],
                               p.net.bias_off[l], alpha)
    output_penalty = add_penalty(params, grad, p.net.weight_off[L - 1],
                                 p.net.bias_off[L - 1], output_alpha)
    return ((loss_sum / total if total > 0 else 0.0) + 0.5 * alpha * penalty
            + 0.5 * output_alpha * output_penalty)


def loss_grad(Network net, Dataset data, params, grad, running, double alpha,
              int n_threads=1):
    """Full-batch objective ``F`` and its gradient (into ``grad``).

    Rows are processed in chunks of the network's capacity, each chunk's
    input read once for both passes, chunks spread over ``n_threads``
    threads (call it with single-threaded BLAS).  With batch normalisation
    the capacity must cover all rows (the batch statistics are those of the
    whole set), and the running statistics are set to them.

    Returns
    -------
    loss : float
        ``(1 / Σ s) Σ s_i ℓ_i + (alpha / 2) Σ ‖W_l‖²``, the output layer's
        term scaled by ``net.output_penalty``.
    """
    cdef double output_alpha = alpha * net.output_penalty
    cdef Layout lay = net.layout()
    cdef Pass p = new_pass(&lay, data)
    cdef Py_ssize_t n = data.n_rows, P = net.n_params
    cdef Py_ssize_t size = float_size(params, "params")
    cdef Py_ssize_t n_chunks = max(1, (n + lay.capacity - 1) // lay.capacity)
    cdef Py_ssize_t n_slots = min(N_SLOTS, n_chunks)
    cdef double[::1] slot_loss = np.zeros(n_slots)
    cdef unsigned char[::1] slot_finite = np.ones(n_slots, dtype=np.uint8)
    check_data(net, data, size, True)
    # loss_grad reads the parameters: a read-only vector is fine.
    p.params = vector(params, P, size, "params", writable=False)
    p.grad = vector(grad, P, size, "grad")
    p.running = vector(running, net.n_running, size, "running")
    if lay.batch_norm and n_chunks > 1:
        raise ValueError("batch norm needs the capacity to cover every row")
    lay.bn_momentum = 1.0     # running statistics := full-batch statistics
    p.training = True
    p.rows.n = n
    dtype = params.dtype
    ws = np.empty((n_slots, net.workspace_size), dtype=dtype)
    slot_grad = np.zeros((n_slots, P), dtype=dtype)
    cdef void* ws_p = <void*> address(ws)
    cdef void* sg_p = <void*> address(slot_grad)
    cdef double value
    with nogil:
        if size == 4:
            value = full_batch[float](&p, <float*> ws_p, <float*> sg_p,
                                      &slot_loss[0], <bint*> &slot_finite[0],
                                      n_slots, alpha, output_alpha, n_threads)
        else:
            value = full_batch[double](&p, <double*> ws_p, <double*> sg_p,
                                       &slot_loss[0], <bint*> &slot_finite[0],
                                       n_slots, alpha, output_alpha, n_threads)
    return value


# --------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------

cdef void forward_chunk(const Pass* shared, floating* ws, Py_ssize_t start,
                        floating* out, bint probabilities) noexcept nogil:
    """Inference outputs of rows ``start:start + capacity`` (of
    ``shared.rows.n``) into ``out``."""
    cdef Pass p = shared[0]
    cdef Py_ssize_t i, C = p.net.sizes[p.net.n_layers]
    cdef floating* Z = ws + p.net.act_off[p.net.n_layers - 1]
    cdef floating* o
    p.rows.start = start
    p.rows.n = min(p.net.capacity, shared.rows.n - start)
    forward_layers(&p, ws)
    for i in range(p.rows.n):
        o = out + (start + i) * C
        if probabilities and p.net.loss == BINARY_LOG_LOSS:
            o[0] = <floating> sigmoid(Z[i])     # P(class 1)
        elif probabilities:
            softmax_row(Z + i * C, o, C)
        else:
            memcpy(o, Z + i * C, C * sizeof(floating))


cdef Py_ssize_t forward_rows(const Pass* p, floating* ws, Py_ssize_t ws_size,
                             floating* out, bint probabilities,
                             int n_threads) noexcept nogil:
    """`forward` without the GIL: chunks shared by ``n_threads`` threads,
    each with its own scratch buffer (one thread: no parallel region).
    Returns the number of undefined (NaN) outputs."""
    cdef Py_ssize_t c, i, undefined = 0
    cdef Py_ssize_t n_chunks = (p.rows.n + p.net.capacity - 1) // p.net.capacity
    if n_threads == 1:
        for c in range(n_chunks):
            forward_chunk(p, ws, c * p.net.capacity, out, probabilities)
    else:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            forward_chunk(p, ws + threadid() * ws_size, c * p.net.capacity, out,
                          probabilities)
    for i in range(p.rows.n * p.net.sizes[p.net.n_layers]):
        undefined += out[i] != out[i]
    return undefined


def forward(Network net, Dataset data, params, running, out,
            bint probabilities, int n_threads=1):
    """Inference: the network's outputs for every row, into ``out``.

    ``probabilities`` applies the softmax to the outputs (stable; with
    ``binary_log_loss`` the sigmoid, ``P(class 1)``); otherwise
    the raw scores (decision function) are written.  Chunks of the network's
    capacity are spread over ``n_threads`` threads (call it with
    single-threaded BLAS when ``n_threads > 1``), each with its own scratch
    buffer, without the GIL: concurrent calls share nothing writable.
    Returns the number of undefined (NaN) outputs, counted in the same pass
    (hidden layers that overflow on huge feature values give them).
    """
    cdef Layout lay = net.layout()
    cdef Pass p = new_pass(&lay, data)
    cdef Py_ssize_t n = data.n_rows, C = net.sizes[net.n_layers]
    cdef Py_ssize_t size = float_size(params, "params")
    cdef Py_ssize_t n_chunks = (n + lay.capacity - 1) // lay.capacity
    check_data(net, data, size, False)
    p.params = vector(params, net.n_params, size, "params", writable=False)
    p.running = vector(running, net.n_running, size, "running", writable=False)
    if (not is_float_array(out) or cnp.PyArray_NDIM(<cnp.ndarray> out) != 2
            or cnp.PyArray_DIM(<cnp.ndarray> out, 0) != n
            or cnp.PyArray_DIM(<cnp.ndarray> out, 1) != C
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> out)
            or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray> out)
            or cnp.PyArray_ITEMSIZE(<cnp.ndarray> out) != size):
        raise ValueError(f"out must be a writable C-contiguous array of shape "
                         f"({n}, {C}) and the parameters' dtype")
    if n == 0:
        return 0
    n_threads = max(1, min(n_threads, n_chunks))
    p.rows.n = n
    ws = np.empty((n_threads, net.workspace_size), dtype=params.dtype)
    cdef void* ws_p = <void*> address(ws)
    cdef void* out_p = <void*> address(out)
    cdef Py_ssize_t ws_size = net.workspace_size, undefined
    with nogil:
        if size == 4:
            undefined = forward_rows[float](&p, <float*> ws_p, ws_size,
                                            <float*> out_p, probabilities,
                                            n_threads)
        else:
            undefined = forward_rows[double](&p, <double*> ws_p, ws_size,
                                             <double*> out_p, probabilities,
                                             n_threads)
    return undefined


def blas_forward_work(sizes, Py_ssize_t rows, Py_ssize_t itemsize,
                      bint sparse_input):
    """Multiply-adds of the largest matrix product that `forward` hands to
    BLAS for chunks of ``rows`` rows through layers of ``sizes`` (items of
    ``itemsize`` bytes, the first layer's input CSR if ``sparse_input``); 0
    when the kernels' own loops do every product.

    Mirrors ``layer_forward`` and ``gemm``: one row or one output is a BLAS
    matrix-vector product, CSR rows go through the first layer by the
    kernels' loops (BLAS's ``axpy`` on one row of W for layers of
    ``SMALL_AXPY`` units or more: its work is that row), and other products
    go to BLAS where ``mcnn_forward_by_kernel`` says so.  Inference limits
    BLAS to one thread only where this is large enough for BLAS to start
    threads (a context that costs about 10 µs).
    """
    cdef Py_ssize_t l, k, n, work, largest = 0
    for l in range(len(sizes) - 1):
        k, n = sizes[l], sizes[l + 1]
        if l == 0 and sparse_input:
            work = n if n >= SMALL_AXPY else 0
        elif rows == 1 or n == 1 or not mcnn_forward_by_kernel(rows, n, k,
                                                               itemsize):
            work = rows * n * k
        else:
            work = 0
        largest = max(largest, work)
    return largest


def shifted_exp(z, double shift):
    """``(exp(z − shift), Σ exp(z − shift))`` of a 1-D float32 or float64
    array by the softmax's exponentials (``_vector_exp.h``), the
    exponentials in z's dtype: for the tests of their accuracy."""
    z = np.ascontiguousarray(z)
    if z.ndim != 1 or z.dtype not in (np.float32, np.float64):
        raise ValueError("z must be a 1-D float32 or float64 array")
    p = np.empty_like(z)
    cdef Py_ssize_t n = z.shape[0]
    cdef void* zp = <void*> address(z)
    cdef void* pp = <void*> address(p)
    cdef double tot
    cdef bint single = z.dtype == np.float32
    with nogil:
        if single:
            tot = shifted_exp_float(<float*> zp, shift, <float*> pp, n)
        else:
            tot = shifted_exp_double(<double*> zp, shift, <double*> pp, n)
    return p, tot


def softplus_parts(d):
    """``(exp(−|d|), log1p(exp(−|d|)))`` of a 1-D float32 or float64
    array, both float64, by the binary log loss's kernel
    (``_vector_log1p.h``): for the tests of its accuracy."""
    d = np.ascontiguousarray(d)
    if d.ndim != 1 or d.dtype not in (np.float32, np.float64):
        raise ValueError("d must be a 1-D float32 or float64 array")
    e = np.empty(d.shape[0])
    lp = np.empty(d.shape[0])
    cdef Py_ssize_t n = d.shape[0]
    cdef void* dp = <void*> address(d)
    cdef double* ep = <double*> address(e)
    cdef double* lpp = <double*> address(lp)
    cdef bint single = d.dtype == np.float32
    with nogil:
        if single:
            softplus_parts_float(<float*> dp, n, ep, lpp)
        else:
            softplus_parts_double(<double*> dp, n, ep, lpp)
    return e, lp


def _per_dtype_setting(float32, float64, valid, message, get, put):
    """The kernels' per-dtype settings: ``get(i)`` for dtype i (float32,
    float64) as a dict of ``float32``/``float64``, and the given ones
    ``put(i, value)``, all checked by ``valid`` before any is set."""
    given = [float32, float64]
    for value in given:
        if value is not None and not valid(value):
            raise ValueError(message.format(value))
    previous = {}
    for i, name in enumerate(["float32", "float64"]):
        previous[name] = get(i)
        if given[i] is not None:
            put(i, given[i])
    return previous


def small_gemm_rows(float32=None, float64=None):
    """Which forward matrix products ``_small_gemm.h``'s kernels compute
    instead of BLAS (where the CPU has AVX2 and FMA), per dtype:
    ``(wide, narrow, dot_depth)``, the most rows for the panels, for layers
    of at least 32 outputs and for narrower ones, and the least inputs for
    which narrow layers' products of more rows go to the dot products.

    Given, they are set, for benchmarks and tests (0: never; ``(0, 0, 0)``:
    BLAS always; a pair leaves ``dot_depth`` as it is), not while kernels
    run.  Returns the previous limits as a dict of these keyword arguments.
    """
    def get(i):
        return (mcnn_small_gemm_rows[i].wide, mcnn_small_gemm_rows[i].narrow,
                mcnn_small_gemm_rows[i].dot_depth)

    def put(i, limits):
        mcnn_small_gemm_rows[i].wide = limits[0]
        mcnn_small_gemm_rows[i].narrow = limits[1]
        if len(limits) == 3:
            mcnn_small_gemm_rows[i].dot_depth = limits[2]

    return _per_dtype_setting(
        float32, float64,
        lambda v: len(v) in (2, 3) and all(0 <= n <= 1 << 20 for n in v),
        "row limits must be 2 or 3 numbers in [0, 2**20], got {}", get, put)


def narrow_gradient_cols(float32=None, float64=None):
    """The widest layer, per dtype, whose weight gradient ``Aᵀ D``
    ``_small_gemm.h``'s kernel computes instead of BLAS (where the CPU has
    AVX2 and FMA), whatever the batch's rows.

    Given, they are set, for benchmarks and tests (0: BLAS always), not
    while kernels run.  Returns the previous limits as a dict of these
    keyword arguments.
    """
    def get(i):
        return mcnn_narrow_gradient_cols[i]

    def put(i, cols):
        mcnn_narrow_gradient_cols[i] = cols

    return _per_dtype_setting(
        float32, float64, lambda v: 0 <= v <= 1 << 20,
        "column limits must be in [0, 2**20], got {}", get, put)


def small_gemm_available():
    """Whether this CPU runs ``_small_gemm.h``'s kernel (x86-64 with AVX2 and
    FMA); elsewhere BLAS does every product."""
    return bool(mcnn_has_avx2_fma())


# --------------------------------------------------------------------------
# The thread tuner's state, for the Python side
# --------------------------------------------------------------------------

def openmp_max_threads():
    """``omp_get_max_threads()`` of the OpenMP runtime these kernels use
    (``OMP_NUM_THREADS``, or the limit of ``threadpoolctl``)."""
    return openmp.omp_get_max_threads()


def new_tuner(int n_threads):
    """A fresh tuner state (an array of one ``TUNER_DTYPE`` record): one
    thread chosen, ``n_threads`` probed first after ``PROBE_STEPS`` steps
    and ``PROBE_AFTER_SECONDS`` of them.  A fit shorter than that never
    wakes a second core; later, a busy core costs a probe at most two steps
    (a clearly losing probe ends then), and on idle cores the probe wins and
    the threads take over."""
    state = np.zeros(1, dtype=TUNER_DTYPE)
    state[0] = (1, n_threads, PROBE_EVERY, PROBE_STEPS, 0, 0.0,
                -PROBE_AFTER_SECONDS)
    return state


cdef Tuner* tuner_record_of(Tuner[::1] state) except NULL:
    """The one record of a tuner state made by `new_tuner`."""
    if state.shape[0] != 1:
        raise ValueError("tuner must be a state made by new_tuner")
    return &state[0]


def tuner_threads_next(Tuner[::1] state):
    """The thread count the tuner kept in ``state`` runs the next step on
    (for callers outside `train_epoch`, such as L-BFGS's objective)."""
    return tuner_threads(tuner_record_of(state))


def tuner_account(Tuner[::1] state, double seconds):
    """Account for a step that took ``seconds`` on ``tuner_threads_next``
    threads (the same rule as the steps of `train_epoch`)."""
    tuner_record(tuner_record_of(state), seconds)
