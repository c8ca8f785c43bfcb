"""What every kernel reads: the network's layout, the input rows, a pass.

Three structs cross from the entry points (``_network.pyx``) into the
kernels (``_layers.pxd``, ``_loss.pxd``, ``_batch_norm.pxd``):

- :c:type:`Layout`: the architecture and where everything lives: each
  layer's parameters in the flat parameter vector, each layer's buffers in
  the flat scratch buffer (``ws``, laid out for ``capacity`` rows);
- :c:type:`Source`: the input rows, a dense C-ordered matrix or CSR arrays;
- :c:type:`Pass`: one forward/backward pass over a batch: the layout, the
  source, which rows, the targets, and the parameter, running-statistics
  and gradient vectors.

Kernels are fused over float/double.  Structs cannot hold fused pointers,
so a pass keeps its vectors as ``void*`` and each kernel casts them to the
``floating`` of its scratch buffer ``ws``, the one typed argument that
selects the specialisation.  Names, one per role: ``params`` the parameter
vector, ``grad`` its gradient, ``W``/``b`` a layer's weights and
intercepts in it, ``dW`` a weight gradient, ``ws`` the scratch buffer,
``Z`` a layer's activations, ``D`` the delta of the layer being
processed and ``D_prev`` that of the layer below.
"""

from libc.stdint cimport uint64_t


#: Largest block of units that a thread takes in a training step.  A layer
#: of m units is cut into an even number of blocks of at most this many
#: units (one block when m fits), of equal widths rounded up to 8, so two
#: threads share the work evenly.  Blocks depend on the sizes only, never on
#: the number of threads: a fixed ``random_state`` gives the same bits with
#: any number of threads.
#:
#: A weight gradient's blocks (rows of ``dW``, the layer's input units) may
#: be twice as tall: each block is one BLAS product ``A[:, k0:k1]ᵀ D``,
#: which packs all of ``D`` again, so the 784 inputs of an MNIST-sized
#: first layer in 8 blocks rather than 14 pack it less often (one-thread
#: epochs of 784-256-128-10 took 0.89–0.98 times as long, AMD EPYC; two
#: threads within noise).
cdef enum:
    MAX_BLOCK = 64
    MAX_GRAD_BLOCK = 128


ctypedef struct Layout:
    # architecture
    int n_layers                 # number of weight layers L
    const Py_ssize_t* sizes      # L + 1 layer widths
    const int* activation        # hidden activation of layers 0 .. L-2
    double negative_slope        # of leaky_relu
    const Py_ssize_t* weight_off  # offset of W_l in the parameter vector
    const Py_ssize_t* bias_off   # offset of b_l
    const Py_ssize_t* bn_off     # offset of γ_l (β_l follows; -1: no batch norm)
    const Py_ssize_t* running_off  # layer l's running mean (variance follows)
    int loss
    double label_smoothing       # ε: targets (1 - ε) onehot + ε / K
    bint batch_norm
    double dropout
    double bn_eps
    double bn_momentum
    # scratch layout for `capacity` rows
    Py_ssize_t capacity
    const Py_ssize_t* act_off    # layer l's activations h(z), capacity × n_l+1
    const Py_ssize_t* out_off    # its output after dropout (= act_off without)
    const Py_ssize_t* mask_off   # dropout masks
    const Py_ssize_t* norm_off   # batch norm: normalised pre-activations ẑ
    const Py_ssize_t* stats_off  # batch norm: batch mean, then 1 / std
    const Py_ssize_t* pre_off    # pre-activations z where h' needs them (-1)
    Py_ssize_t gather_off        # gathered dense input batch
    Py_ssize_t delta_off[3]      # delta buffers, capacity × widest layer;
    int n_delta                  # three in training steps, else two
    Py_ssize_t block_grad_off    # per-thread buffers of a block's weight
    Py_ssize_t block_grad_size   # gradient, for training steps
    Py_ssize_t batch_weight_off  # the batch's normalised sample weights


ctypedef struct Source:
    const void* dense            # C-ordered rows, or NULL
    const void* data             # CSR values, or NULL
    const int* indices
    const int* indptr
    bint sparse


ctypedef struct Rows:
    const Py_ssize_t* index      # row ids of the batch, or NULL: contiguous
    Py_ssize_t start             # first row when index is NULL
    Py_ssize_t n                 # number of rows in the batch


ctypedef struct Pass:
    const Layout* net
    const Source* X
    Rows rows
    const int* y                 # class indices (NULL at inference)
    const double* sw             # sample weights (NULL at inference)
    void* params
    void* running                # batch norm running statistics, or NULL
    void* grad                   # gradient vector (NULL at inference)
    bint training                # batch statistics, dropout
    uint64_t key                 # seed of the batch's dropout masks


cdef inline Py_ssize_t row_id(const Rows* r, Py_ssize_t i) noexcept nogil:
    return r.index[i] if r.index != NULL else r.start + i


cdef inline Py_ssize_t block_width(Py_ssize_t m,
                                   Py_ssize_t max_block=MAX_BLOCK) noexcept nogil:
    cdef Py_ssize_t nb = (m + max_block - 1) // max_block
    if nb > 1:
        nb += nb % 2
    return ((m + nb - 1) // nb + 7) // 8 * 8


cdef inline Py_ssize_t n_blocks(Py_ssize_t m,
                                Py_ssize_t max_block=MAX_BLOCK) noexcept nogil:
    cdef Py_ssize_t w = block_width(m, max_block)
    return (m + w - 1) // w


cdef inline Py_ssize_t delta_offset(const Layout* net, int l) noexcept nogil:
    """Where δ_l lives in the scratch buffer: δ_out in the first delta
    buffer, then the buffers in turn, three when laid out for training
    steps (so that layer l's gradient can read δ_l while δ_{l-2} is being
    computed), else two."""
    return net.delta_off[(net.n_layers - 1 - l) % net.n_delta]
