"""How the Cython engine is fed: the Python side of its boundary.

The estimators (``_base.py``), the training driver (``_training.py``) and
the utilities (``utils.py``) reach the kernels of ``_network.pyx`` only
through this module:

- :class:`TrainingData`: validated training rows, their class indices and
  sample weights, as the kernels read them (a :class:`_network.Dataset`);
- :func:`predict_outputs`: the inference pass, in chunks of at most
  ``CHUNK_ROWS`` rows (:func:`inference_chunk_rows`), on as many threads
  as the work deserves and the clock confirms (:mod:`._threads`);
- :class:`FullBatchObjective`: the full-batch objective and gradient that
  L-BFGS and the gradient check evaluate, its chunks shared by threads
  that a tuner chooses by the clock;
- :class:`OneOutput`: a two-class softmax network as the one logistic output
  that L-BFGS trains in its place (half the parameters and work);
- :class:`StandardizedCoordinates`: the coordinates L-BFGS moves in, those
  of the first layer's weights for standardized inputs (same model, same
  objective, far fewer iterations on unscaled or uncentred features);
- :func:`mean_loss`: the objective's data term from inference outputs
  (held-out rows: the validation loss).

How many threads each region gets is decided in :mod:`._threads`.
"""

import time

import numpy as np
import scipy.sparse as sp

from . import _network, _threads
from ._threads import (
    MAX_TUNED_INFERENCE_WORK,
    forward_work,
    inference_threads,
    single_threaded_blas_for,
    threads_for,
)

#: Rows per chunk in inference and in the full-batch objective: large enough
#: for efficient matrix products, small enough for a chunk's input to stay in
#: cache between the forward and the backward pass.
CHUNK_ROWS = 256

#: Predictions of at least this many rows whose work may take two threads
#: are cut into an even number of chunks (`inference_chunk_rows`).
MIN_SPLIT_ROWS = 96


#: L-BFGS's standardized coordinates take the columns' means and variances
#: from about this many rows (every ``n // STATISTICS_ROWS``-th): a pass
#: over all rows costs as much as an evaluation of a binary objective (it
#: reads X), and the coordinates need no more than a few digits of them
#: (any means and scales give the same optimum).
STATISTICS_ROWS = 4096


def statistics_step(n_samples):
    """The stride of the rows the standardized coordinates are taken from."""
    return max(1, n_samples // STATISTICS_ROWS)


def full_batch_chunk_rows(sizes):
    """Rows per chunk of the full-batch passes (L-BFGS).

    As many as keep the first layer's products within a million
    multiply-adds, between 64 and ``CHUNK_ROWS``: OpenBLAS multiplies such
    small matrices without packing them, which for the softmax model's few
    outputs halves the time of a pass (measured: 60000 × 784, 10 classes,
    1.1 s at 96 rows per chunk against 2.3 s at 256).
    """
    return int(np.clip(10**6 // (sizes[0] * sizes[1]), 64, CHUNK_ROWS))


def dot(a, b):
    """``a · b`` of two vectors, in float64, without BLAS.

    NumPy's ``np.dot`` calls its OpenBLAS, which shares a vector product of
    more than 10,000 entries among its own threads: that wakes a second
    thread pool beside the kernels' (whose threads then spin, waiting for
    more work, on the cores the fit uses: measured 1.7x the time of a
    1000 x 500 MLP fit, one dot per epoch), and makes the sum's rounding
    depend on OpenBLAS's thread count.  ``einsum`` runs on this thread.
    """
    return float(np.einsum("i,i->", a, b, dtype=np.float64))


def all_finite(X):
    """Whether every stored value of X (dense or sparse) is finite
    (:func:`_network.all_finite`: one pass over the bits, no temporary)."""
    return _network.all_finite(X.data if sp.issparse(X) else X)


def as_dataset(X, y=None, sample_weight=None):
    """The rows of X (dense or sparse), and for training their class
    indices and weights, as the kernels read them."""
    X = X.tocsr() if sp.issparse(X) else np.ascontiguousarray(X)
    return _network.Dataset(X, y, sample_weight)


class TrainingData:
    """Validated training rows: the matrix (kept for splits), the class
    indices ``y``, the sample weights ``sw`` and the kernels' `dataset`."""

    def __init__(self, X, y_index, sample_weight):
        if sp.issparse(X):
            X = X.tocsr()
        self.X = X
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.dataset = as_dataset(X, np.asarray(y_index, dtype=np.intc),
                                  np.asarray(sample_weight, dtype=np.float64))
        self.y = self.dataset.y
        self.sw = self.dataset.sample_weight

    def subset(self, rows):
        """The same data restricted to ``rows`` (sorted indices)."""
        return TrainingData(self.X[rows], self.y[rows], self.sw[rows])


def inference_chunk_rows(n, work):
    """The most rows per chunk of a prediction of ``n`` rows and ``work``
    multiply-adds.

    Where the work may take two threads (``2 * MIN_WORK_PER_THREAD``, see
    `threads_for`) and there are ``MIN_SPLIT_ROWS`` rows or more, an even
    number of chunks of equal size (rounded up to a multiple of 8 rows, at
    most ``CHUNK_ROWS``), so that two threads share the rows evenly: 600
    rows are four chunks of 152 or 144 rather than 256, 256 and 88 (two
    threads: 512 rows against 88), 300 rows two of 152 and 148 rather than
    256 and 44.  Elsewhere ``CHUNK_ROWS`` (the layout's capacity is then
    the power of two from ``n`` up to it): a work that runs on one thread
    gains nothing from smaller chunks, and its products get less efficient
    (200 rows of 784-256-128-10 in float32 as 104 and 96: 1.15x the time
    of one chunk).  Measured on the 2-core EPYC, 784-256-128-10, one
    process, 16 rounds of 10 calls of this rule and of chunks of 256
    interleaved, medians: idle, 300 rows 0.67x the time in float32 and
    float64, 600 rows 0.68x and 0.75x; with another process keeping a
    core busy, 0.98-1.14x.

    The chunks depend on ``n`` and the architecture alone, never on the
    threads, so the outputs are the same bits on any number of them."""
    if n < MIN_SPLIT_ROWS or work < 2 * _threads.MIN_WORK_PER_THREAD:
        return CHUNK_ROWS
    pairs = -(-n // (2 * CHUNK_ROWS))
    half = -(-n // (2 * pairs))
    return min(CHUNK_ROWS, -(-half // 8) * 8)


def predict_outputs(net, params, running, X, probabilities):
    """Network outputs for X (softmax probabilities or raw scores), in
    chunks of `inference_chunk_rows` rows, X of the parameters' dtype.

    Where the work deserves threads (`threads_for`), the clock chooses
    between one and several up to ``MAX_TUNED_INFERENCE_WORK``
    multiply-adds (:class:`~sklearn_mcnn._threads.InferenceThreads`);
    larger calls take the threads their work gives them.

    Returns the outputs and the number of undefined (NaN) ones."""
    n = X.shape[0]
    sparse = sp.issparse(X)
    out = np.empty((n, net.sizes[-1]), dtype=params.dtype)
    work = forward_work(net.sizes, n)
    layout = net.inference_layout(n, inference_chunk_rows(n, work))
    n_threads = threads_for(work, n_tasks=-(-n // layout.capacity))
    tuned = n_threads > 1 and work <= MAX_TUNED_INFERENCE_WORK
    if tuned:
        # per power of two of the work: a call's fixed costs weigh more
        # in small ones, whose times per multiply-add are not comparable
        key = (net.sizes, params.dtype.char, sparse, work.bit_length())
        n_threads = inference_threads.choose(key, n_threads)
        tic = time.perf_counter()
    with single_threaded_blas_for(net.sizes, min(n, layout.capacity),
                                  params.itemsize, sparse):
        undefined = _network.forward(layout, as_dataset(X), params, running,
                                     out, probabilities, n_threads)
    if tuned:
        inference_threads.record(key, n_threads, time.perf_counter() - tic,
                                 work)
    return out, undefined


class FullBatchObjective:
    """The training objective ``F`` and its gradient over all the rows, for
    L-BFGS (and the gradient check).

    Rows go through the kernels in chunks of ``capacity`` rows (by default
    :func:`full_batch_chunk_rows`; all rows with batch norm, whose
    statistics are the whole set's).  Where the work deserves threads, a
    tuner chooses by the clock between one thread and several at every
    evaluation, as in the training steps (:mod:`._threads`).

    Parameters
    ----------
    net : Network
        The architecture; laid out here for the chunks (never the fitted
        model's own network).
    data : TrainingData
    params, running : arrays
        The parameter vector (written by :meth:`__call__`) and the running
        statistics (set to the full-batch statistics by each evaluation).
    alpha : float
        The L2 penalty.
    capacity : int, default=None
        Rows per chunk.
    """

    def __init__(self, net, data, params, running, alpha, capacity=None):
        if capacity is None:
            capacity = (data.n_samples if net.batch_norm
                        else full_batch_chunk_rows(net.sizes))
        net.set_capacity(capacity)
        self.net, self.data = net, data
        self.params, self.running = params, running
        self.alpha = float(alpha)
        self.grad = np.empty_like(params)
        # Forward and backward: three products per layer and row.
        n_threads = threads_for(3 * forward_work(net.sizes, data.n_samples),
                                n_tasks=-(-data.n_samples // capacity),
                                tuned=True)
        self.tuner = _network.new_tuner(n_threads) if n_threads > 1 else None

    def evaluate(self, params, grad):
        """``F(params)``, its gradient written into ``grad`` (one thread
        unless the tuner chooses more; call it with single-threaded BLAS)."""
        if self.tuner is None:
            return _network.loss_grad(self.net, self.data.dataset, params, grad,
                                      self.running, self.alpha, 1)
        threads = _network.tuner_threads_next(self.tuner)
        tic = time.perf_counter()
        loss = _network.loss_grad(self.net, self.data.dataset, params, grad,
                                  self.running, self.alpha, threads)
        _network.tuner_account(self.tuner, time.perf_counter() - tic)
        return loss

    def __call__(self, w):
        """scipy's ``fun(w) -> (F, ∇F)`` in float64; sets the parameters
        (call it with single-threaded BLAS)."""
        self.params[:] = w
        loss = self.evaluate(self.params, self.grad)
        return loss, self.grad.astype(np.float64)

    def column_sums(self):
        """The weighted column sums of every :func:`statistics_step`-th row
        (``Dataset.column_sums``), for :class:`StandardizedCoordinates`."""
        return self.data.dataset.column_sums(
            0, statistics_step(self.data.n_samples))


class OneOutput:
    """A two-class softmax network as one logistic output: what L-BFGS trains.

    Two softmax rows ``(w_0, b_0)``, ``(w_1, b_1)`` of the output layer give
    the probabilities of the logistic output of ``v = w_1 − w_0``, ``c =
    b_1 − b_0``, so the data term depends on ``v`` and ``c`` only (and on
    the hidden layers, which both rows read); and among the rows with a
    given difference ``v``, the penalty ``(α/2)(‖w_0‖² + ‖w_1‖²)`` is least
    at ``w_0 = −v/2``, ``w_1 = v/2`` (``‖w_0‖² + ‖w_1‖² = ‖v‖²/2 +
    ‖w_0 + w_1‖²/2``), where it is ``(α/4)‖v‖²``.  So with the output
    layer's penalty halved (``output_penalty = 1/2``: ``(α'/2)‖v‖²``, ``α'
    = α/2``) and ℓ the binary log loss (``_loss.pxd``,
    ``binary_log_loss``), the network ``G`` of one output has ``F(θ, −v/2,
    v/2) = G(θ, v)`` everywhere, θ the hidden layers: the same objective
    values, the same gradient entries (``∂F/∂w_1 = ∂G/∂v``, ``∂F/∂θ =
    ∂G/∂θ`` there), and every stationary point of G is one of F.  Without
    hidden layers (the softmax model) F is convex and the optimum is the
    same; the output layer has half the parameters and the pass half its
    products.  With hidden layers the output layer is a small part of the
    work, and L-BFGS's path (which decides the local optimum) is G's.
    Intercepts are not penalised; they map as ``±c/2``, which leaves the
    probabilities as they are.  The hidden layers' parameters are copied as
    they are.

    Parameters
    ----------
    net : Network
        The two-class softmax network (two outputs, log loss), laid out for
        training (its options and ``label_smoothing`` are kept).
    """

    def __init__(self, net):
        if net.sizes[-1] != 2 or net.loss_name != "log_loss":
            raise ValueError("OneOutput needs a two-class softmax network")
        self.n_in = net.sizes[-2]
        self.net = _network.Network(
            (*net.sizes[:-1], 1), activation=net.activation_name,
            loss="binary_log_loss", batch_norm=net.batch_norm,
            dropout=net.dropout, negative_slope=net.negative_slope)
        self.net.label_smoothing = net.label_smoothing
        self.net.output_penalty = 0.5
        self.hidden = [
            (two, one)
            for two_layer, one_layer in zip(net.layer_slices()[:-1],
                                            self.net.layer_slices()[:-1])
            for two, one in zip(two_layer, one_layer) if two is not None]
        self.two_out = net.layer_slices()[-1][:2]
        self.one_out = self.net.layer_slices()[-1][:2]

    def reduce(self, params):
        """The one-output network's parameters ``[θ, v, c]`` of the
        two-class ``params``."""
        one = np.empty(self.net.n_params, dtype=params.dtype)
        for two_slice, one_slice in self.hidden:
            one[one_slice] = params[two_slice]
        w, b = self.two_out
        W = params[w].reshape(self.n_in, 2)
        one[self.one_out[0]] = W[:, 1] - W[:, 0]
        one[self.one_out[1]] = params[b][1] - params[b][0]
        return one

    def expand(self, one, params):
        """Write the two-class parameters ``θ``, ``(−v/2, v/2)``, ``(−c/2,
        c/2)`` of the one-output network's ``one = [θ, v, c]`` into
        ``params`` (exact: halving is exact in binary floating point, and
        `reduce` gives ``one`` back)."""
        one = np.asarray(one, dtype=params.dtype)
        for two_slice, one_slice in self.hidden:
            params[two_slice] = one[one_slice]
        w, b = self.two_out
        half_v = one[self.one_out[0]] / 2
        half_c = one[self.one_out[1]][0] / 2
        W = params[w].reshape(self.n_in, 2)
        W[:, 0] = -half_v
        W[:, 1] = half_v
        params[b] = (-half_c, half_c)


class StandardizedCoordinates:
    """The coordinates L-BFGS moves in: the first layer's weights as they
    would be for standardized inputs.

    With the rows' weighted column means ``μ`` and variances ``σ²`` (of
    about ``STATISTICS_ROWS`` of them: any ``μ`` and ``D`` are exact), the
    first layer's weights ``W`` (n_features × n_outputs) and biases ``b``
    are written ``W = D V`` and ``b = c − Wᵀμ``, ``D = diag(1 / √(σ² + α))``
    (each rounded to a power of two),
    so that the layer computes ``xᵀW + b = ((x − μ) D)ᵀ V + c``: the layer
    of weights ``V`` and biases ``c`` on standardized inputs.  The model, the
    objective and its optimum are those of ``(W, b)`` (the data are never
    transformed, a sparse X stays sparse); only the geometry L-BFGS sees
    changes: the curvature along each input column no longer scales with
    the column's mean and variance.  Uncentred columns (pixels in [0, 1])
    couple every weight to the bias, and columns in different units spread
    the curvature over orders of magnitude; both multiply L-BFGS's
    iterations.  ``α``, the problem's penalty, keeps constant columns'
    weights at unit curvature (their data term is flat, their penalty
    ``α‖W_j‖²/2 = α D_j² ‖V_j‖²/2``); with ``α = 0`` such columns keep a
    scale of 1.  Deeper layers are left as they are.

    The training driver uses it for the convex models (no hidden layer):
    there it changes the path, never the optimum, and measured it only
    shortens it.  For a network with hidden layers the path decides which
    local optimum is found, and standardized coordinates found worse ones
    as often as better ones (lbfgs, 200 iterations: breast cancer unscaled
    0.064 against 0.117, bundled digits 0.0038 against 0.0020, shifted
    ``make_classification`` 0.99 against 0.58), so ``column_sums=None``
    leaves the coordinates those of the model.

    Parameters
    ----------
    net : Network
        The architecture trained (its first layer's slices are used).
    column_sums : tuple or None
        ``(Σ s x, Σ s x², Σ s)`` of the training rows
        (``_network.Dataset.column_sums``); None for the model's own
        coordinates (``μ = 0``, ``D = I``: every map is exact), which are
        also used where the inputs are standardized already (every scale 1
        after rounding, every ``|μ_j| ≤ 1/4``).
    alpha : float
        The problem's L2 penalty.
    """

    def __init__(self, net, column_sums, alpha):
        self.w, self.b = net.layer_slices()[0][:2]
        self.shape = (net.sizes[0], net.sizes[1])
        self.mean, self.scale = self._moments(column_sums, alpha)
        self.identity = self.mean is None

    @staticmethod
    def _moments(column_sums, alpha):
        """``(μ, D)``, or ``(None, None)`` for the model's own coordinates."""
        if column_sums is None or not column_sums[2] > 0:
            return None, None
        s1, s2, total = column_sums
        mean = s1 / total
        var = np.maximum(s2 / total - mean**2, 0.0) + alpha
        floor = 1e-12 * var.max(initial=0.0)
        # Powers of two: ``W = D V`` is then exact, and the few digits the
        # sampled rows give are all the coordinates use (unrounded sampled
        # scales took 90 iterations instead of 60 to tol=1e-6 on 60,000
        # standardized rows; rounded, 63).
        scale = 2.0 ** np.round(-0.5 * np.log2(np.where(var > floor, var, 1.0)))
        # Standardized already (a StandardScaler upstream, up to the sampled
        # rows' noise and a fold's offsets): the model's own coordinates,
        # with nothing to map at each evaluation.
        if np.all(scale == 1.0) and np.all(np.abs(mean) <= 0.25):
            return None, None
        return mean, scale

    def to_model(self, v):
        """The parameter vector ``(W, b, …)`` of coordinates ``(V, c, …)``
        (float64; ``v`` itself for the model's own coordinates)."""
        if self.identity:
            return v
        w = np.array(v, dtype=np.float64)
        W = w[self.w].reshape(self.shape)          # views into w
        W *= self.scale[:, None]
        w[self.b] -= np.einsum("j,jk->k", self.mean, W)
        return w

    def from_model(self, w):
        """The coordinates ``(V, c, …)`` of the parameter vector ``(W, b,
        …)`` (a new float64 array)."""
        v = np.array(w, dtype=np.float64)
        if self.identity:
            return v
        V = v[self.w].reshape(self.shape)
        v[self.b] += np.einsum("j,jk->k", self.mean, V)
        V /= self.scale[:, None]
        return v

    def gradient(self, grad):
        """The gradient in the coordinates, from the model's: ``∂F/∂V = D
        (∂F/∂W − μ (∂F/∂b)ᵀ)``, ``∂F/∂c = ∂F/∂b``, written over ``grad``
        when it is a float64 array (the objectives return a new one), and
        returned."""
        if self.identity:
            return grad
        g = np.asarray(grad, dtype=np.float64)
        gW = g[self.w].reshape(self.shape)
        gW -= np.outer(self.mean, g[self.b])
        gW *= self.scale[:, None]
        return g


def mean_loss(outputs, y, sample_weight, loss, label_smoothing=0.0):
    """The weighted mean per-sample loss of the training objective, from the
    network's raw outputs (before the softmax) of ``predict_outputs``.

    The objective's data term ``Σᵢ sᵢ ℓᵢ / Σᵢ sᵢ`` (the unweighted mean when
    the weights sum to zero), in float64, with the targets
    ``q = (1 − ε) onehot(y) + ε / K`` (ε = ``label_smoothing``): for
    ``'log_loss'`` the cross-entropy ``ℓᵢ = log Σₖ exp zᵢₖ − Σₖ qᵢₖ zᵢₖ``
    (stable log-sum-exp), for ``'squared_error'`` ``ℓᵢ = ‖zᵢ − qᵢ‖²``, as
    the kernels of ``_loss.pxd`` define them.  For held-out rows, where the
    training kernels must not run: they would use (and move) batch norm's
    statistics.

    Parameters
    ----------
    outputs : ndarray of shape (n_samples, n_classes)
        Raw network outputs.
    y : ndarray of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,)
    loss : {'log_loss', 'squared_error'}
    label_smoothing : float, default=0.0
    """
    z = np.asarray(outputs, dtype=np.float64)
    n, n_classes = z.shape
    eps = float(label_smoothing)
    targets = np.full((n, n_classes), eps / n_classes)
    targets[np.arange(n), y] += 1.0 - eps
    if loss == "log_loss":
        top = z.max(axis=1)
        lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        per_sample = lse - np.einsum("ij,ij->i", targets, z)
    elif loss == "squared_error":
        diff = z - targets
        per_sample = np.einsum("ij,ij->i", diff, diff)
    else:
        raise ValueError(f"Unknown loss {loss!r}.")
    total = float(np.sum(sample_weight))
    if total > 0:
        return dot(sample_weight, per_sample) / total
    return float(np.mean(per_sample))
