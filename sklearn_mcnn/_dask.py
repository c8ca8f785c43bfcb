"""Data larger than one machine: the engine fed by row blocks on a Dask cluster.

The full-batch objective is a sum over rows, so L-BFGS parallelises over
row blocks exactly (dask-glm's ``lbfgs``, behind dask-ml's
``LogisticRegression``, is the model).  :meth:`fit` on a ``dask.array``
runs in three steps, none of which brings ``X`` to the driver:

1. **Blocks.**  One task per row block validates the block on its worker
   (finite values, labels, weights), casts it to the training dtype and
   keeps it there as a :class:`_Block`; the driver holds one future per
   block for the whole fit, so the input graph (a file reader, a random
   generator) is computed once, not once per L-BFGS evaluation.  A second
   round over the blocks' labels only (:func:`_label_summary`) gives the
   classes (unless ``classes=`` is passed), the class counts for
   ``class_weight='balanced'`` and the weight of each class.
2. **Evaluations.**  :class:`DaskObjective` broadcasts the parameter vector
   to every worker once (``Client.scatter(broadcast=True)``); one task per
   block runs the Cython objective (:func:`_network.loss_grad`, one thread:
   the workers' threads are the parallelism) and returns the block's
   weighted loss sum and gradient sum; the driver adds them **in block
   order** and adds the L2 term once.  The result is therefore the same,
   bit for bit, whatever the number of workers or the scheduling.
3. **Prediction.**  ``predict`` and friends map a snapshot of the fitted
   model over the blocks (``map_blocks``) and return lazy dask arrays.

Dask is optional: this module imports it only inside its functions, and the
estimators import this module only for inputs that are dask collections
(:func:`is_dask_collection` never imports dask).
"""

import sys
import threading

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _network
from ._engine import (
    all_finite,
    as_dataset,
    dot,
    full_batch_chunk_rows,
    statistics_step,
)
from ._threads import single_threaded_blas
from ._validation import check_class_labels

INCREMENTAL_HINT = (
    "For stochastic solvers, stream the blocks through partial_fit with "
    "dask_ml.wrappers.Incremental(estimator).fit(X, y, classes=...), or use "
    "solver='lbfgs', whose full-batch fit runs data-parallel on the cluster."
)


def is_dask_collection(obj):
    """Whether ``obj`` is a dask collection, without importing dask."""
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(obj)


def get_client():
    """The current ``dask.distributed`` client (``Client.as_current()``
    honoured), or a ValueError that says how to get one."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask without distributed
        raise ValueError(
            "Fitting on a dask array needs dask.distributed (pip install "
            "'sklearn-mcnn[dask]'), or compute X into memory first."
        ) from None
    try:
        return Client.current()
    except ValueError:
        raise ValueError(
            "Fitting on a dask array runs on a dask.distributed cluster, and "
            "no Client was found: create one first (distributed.Client() "
            "starts a local cluster), or compute X into memory."
        ) from None


# --------------------------------------------------------------------------
# Input metadata (checked before any work is scheduled)
# --------------------------------------------------------------------------


def _check_array_metadata(X, name="X"):
    """The checks of a dask X that its metadata allow: a 2-D array of real
    numbers whose columns are a single chunk."""
    import dask.array as da

    if not isinstance(X, da.Array):
        raise ValueError(
            f"{type(X).__name__} is not supported as {name}: pass a dask.array."
            "Array (a dask DataFrame converts with .to_dask_array(lengths=True))."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D dask array as {name}, got {X.ndim} dimension(s)."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} has dtype {X.dtype}; a dask {name} must hold real numbers "
            "(float32 trains in float32, other numbers in float64)."
        )
    if X.numblocks[1] != 1:
        raise ValueError(
            f"{name} is split into {X.numblocks[1]} chunks along its columns; "
            "the row blocks must hold whole rows: use "
            f"{name}.rechunk({{1: -1}})."
        )
    return X


def _rows_known(X, name="X"):
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"The row chunk sizes of {name} are unknown; call "
            f"{name}.compute_chunk_sizes() first."
        )


def _aligned(v, X, name, allow_scalar=False):
    """A 1-D ``v`` (dask or in-memory) as a dask array with X's row chunks."""
    import dask.array as da

    if v is None or (allow_scalar and np.ndim(v) == 0 and not isinstance(
            v, da.Array)):
        return v
    if not isinstance(v, da.Array):
        v = np.asarray(v)
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {v.shape}.")
        v = da.from_array(v, chunks=(X.chunks[0],))
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D dask array, got {v.ndim} "
                         "dimension(s).")
    _rows_known(v, name)
    if v.shape[0] != X.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{X.shape[0]}, {v.shape[0]}] (X, {name})."
        )
    if v.chunks[0] != X.chunks[0]:
        v = v.rechunk((X.chunks[0],))
    return v


def check_fit_input(X, y, sample_weight):
    """X, y and sample_weight for a data-parallel fit, checked as far as
    their metadata allow: y and the weights as dask arrays with X's row
    chunks (in-memory ones are split accordingly), the weights possibly
    None or a scalar."""
    X = _check_array_metadata(X)
    _rows_known(X)
    if X.shape[0] == 0:
        raise ValueError("Found array with 0 sample(s) (shape="
                         f"{X.shape}) while a minimum of 1 is required.")
    if X.shape[1] == 0:
        raise ValueError("Found array with 0 feature(s) (shape="
                         f"{X.shape}) while a minimum of 1 is required.")
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = _aligned(y, X, "y")
    if sample_weight is not None and np.ndim(sample_weight) == 0 and not (
            is_dask_collection(sample_weight)):
        if not np.isfinite(sample_weight) or sample_weight < 0:
            raise ValueError("sample_weight must be a non-negative number.")
        sample_weight = float(sample_weight)
    else:
        sample_weight = _aligned(sample_weight, X, "sample_weight")
        if sample_weight is not None and sample_weight.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight has dtype {sample_weight.dtype}; "
                             "it must hold real numbers.")
    return X, y, sample_weight


def training_dtype(X):
    """float32 stays float32; every other real dtype trains in float64."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


# --------------------------------------------------------------------------
# Worker side: blocks, labels, objective
# --------------------------------------------------------------------------


class _Block:
    """One validated row block, kept on its worker for the whole fit: the
    rows (C-ordered dense or CSR, training dtype), the labels (raw, or class
    indices once ``encoded``) and the sample weights (× class weights).

    The kernels' :class:`_network.Dataset` is built on first use and cached
    on the worker; it is not pickled (a block moved to another worker
    rebuilds it)."""

    def __init__(self, X, y, sample_weight, encoded):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.encoded = encoded
        self.total = float(np.sum(sample_weight))
        self._dataset = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(vars(self))
        state["_dataset"] = state["_lock"] = None
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._lock = threading.Lock()

    def dataset(self):
        with self._lock:
            if self._dataset is None:
                self._dataset = as_dataset(self.X, self.y, self.sample_weight)
            return self._dataset

    def with_labels(self, y, sample_weight):
        """The same rows (not copied) with encoded labels and new weights."""
        return _Block(self.X, y, sample_weight, encoded=True)

    def astype(self, dtype):
        """The block with its rows in ``dtype`` (finite values checked)."""
        with np.errstate(over="ignore"):
            X = self.X.astype(dtype)
        if not all_finite(X):
            raise ValueError(
                f"X has values beyond the range of {dtype}, the precision "
                "this warm-started model trains in. Scale the features."
            )
        return _Block(X, self.y, self.sample_weight, self.encoded)


def _prepare_block(X, y, sample_weight, dtype, classes, index):
    """Validate row block ``index`` where it lives and keep it as a
    :class:`_Block`: its rows cast to ``dtype``, its labels encoded as
    indices into ``classes`` when those are given."""
    where = f"(row block {index})"
    sparse = sp.issparse(X)
    X = sp.csr_matrix(X) if sparse else np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {X.dtype} {where}; it must hold "
                         "real numbers.")
    with np.errstate(over="ignore"):
        X = (X.astype(dtype, copy=False) if sparse
             else np.ascontiguousarray(X, dtype=dtype))
    if not all_finite(X):
        raise ValueError(
            f"Input X contains NaN or infinity {where}, or values beyond the "
            f"range of {dtype}."
        )
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y has shape {y.shape} for {X.shape[0]} rows {where}.")
    if y.size:
        check_class_labels(y)
    if sample_weight is None:
        sw = np.ones(X.shape[0])
    else:
        sw = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64),
                             (X.shape[0],)).copy()
        if not np.isfinite(sw).all():
            raise ValueError(f"sample_weight contains NaN or infinity {where}.")
        if np.any(sw < 0):
            raise ValueError(f"Negative values in sample_weight {where}.")
    if classes is not None:
        y = _encode(y, classes, where)
    return _Block(X, y, sw, encoded=classes is not None)


def _encode(y, classes, where):
    index = np.searchsorted(classes, y)
    index = np.minimum(index, classes.size - 1)
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(
            f"y contains labels {np.unique(y[unknown]).tolist()} that are not in "
            f"classes {classes.tolist()} {where}."
        )
    return index.astype(np.intc)


def _label_summary(block):
    """The block's labels (raw or indices), and per label the number of rows
    and the sum of their weights."""
    labels, inverse = np.unique(block.y, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=labels.size)
    weights = np.bincount(inverse, weights=block.sample_weight,
                          minlength=labels.size)
    return labels, counts, weights


def _encode_block(block, index, classes, class_weights):
    """The block with its labels as class indices (if they are not yet) and
    its sample weights multiplied by their class weights."""
    y = block.y if block.encoded else _encode(block.y, classes,
                                              f"(row block {index})")
    sw = block.sample_weight
    if class_weights is not None:
        sw = sw * class_weights[y]
    return block.with_labels(y, sw)


_local = threading.local()


def _worker_network(spec):
    """The network of ``spec`` laid out for full-batch chunks; one per
    worker thread and architecture."""
    cache = getattr(_local, "networks", None)
    if cache is None:
        cache = _local.networks = {}
    key = repr(spec)
    net = cache.get(key)
    if net is None:
        sizes, options, label_smoothing = spec
        net = _network.Network(sizes, **options)
        net.label_smoothing = label_smoothing
        net.set_capacity(full_batch_chunk_rows(net.sizes))
        cache.clear()     # one fit at a time per thread: keep one network
        cache[key] = net
    return net


def _block_loss_grad(block, params, spec):
    """The block's weighted loss sum ``Σ sᵢ ℓᵢ`` and gradient sum (float64),
    without the penalty, by the Cython kernel on one thread."""
    net = _worker_network(spec)
    grad = np.empty_like(params)
    running = np.zeros(net.n_running, dtype=params.dtype)
    with single_threaded_blas():
        mean = _network.loss_grad(net, block.dataset(), params, grad, running,
                                  0.0, 1)
    # loss_grad returns the block's weighted means: scale back to sums.
    return mean * block.total, grad.astype(np.float64) * block.total


# --------------------------------------------------------------------------
# Driver side
# --------------------------------------------------------------------------


class ClusterData:
    """Training rows held on the cluster as validated blocks (the dask
    counterpart of :class:`~sklearn_mcnn._engine.TrainingData`).

    Each block stays on the worker where it was first computed: every later
    task on it is restricted to that worker (``owners``), so that dask's
    work stealing, which would balance the load by copying blocks between
    workers, never moves (or duplicates) the data.

    Attributes
    ----------
    blocks : list of Future
        One :class:`_Block` per row block, in row order.
    owners : list of str
        The address of the worker holding each block.
    classes : ndarray
        The sorted classes.
    class_totals : ndarray of shape (n_classes,)
        The sum of the weights (sample × class weights) of each class.
    n_samples : int
    total_weight : float
    column_sums : tuple
        ``(Σ s x, Σ s x², Σ s)`` per column over every
        ``statistics_step``-th row, the rows the in-memory fit takes them
        from (``_network.Dataset.column_sums``).
    """

    def __init__(self, client, X, y, sample_weight, dtype, classes,
                 class_weight_fn):
        """Validate and keep the blocks on the workers.

        ``classes`` (sorted, or None to find them from y) and
        ``class_weight_fn(present, counts, classes) -> weights or None``
        (the class weights of all ``classes``, from the classes present in
        y and their row counts)."""
        import dask

        self.client = client
        self.dtype = dtype
        self.n_samples = int(X.shape[0])
        x_blocks = X.to_delayed().ravel()
        y_blocks = y.to_delayed().ravel()
        if sample_weight is None or np.ndim(sample_weight) == 0:
            w_blocks = [sample_weight] * len(x_blocks)
        else:
            w_blocks = sample_weight.to_delayed().ravel()
        prepare = dask.delayed(_prepare_block, pure=False)
        tasks = [prepare(xb, yb, wb, dtype, classes, i)
                 for i, (xb, yb, wb) in enumerate(zip(x_blocks, y_blocks,
                                                      w_blocks))]
        # One computation of the input graph; the blocks stay on the workers.
        self.blocks = client.compute(tasks)
        self.owners = self._owners()
        summaries = self.gather(self.map(_label_summary))
        encoded = classes is not None
        if not encoded:
            classes = np.unique(np.concatenate([s[0] for s in summaries]))
            check_class_labels(classes)
            index = [np.searchsorted(classes, s[0]) for s in summaries]
        else:
            index = [s[0] for s in summaries]
        counts = np.zeros(classes.size, dtype=np.int64)
        totals = np.zeros(classes.size)
        for i, (_, c, w) in zip(index, summaries):
            counts[i] += c
            totals[i] += w
        present = classes[counts > 0]
        class_weights = class_weight_fn(present, counts[counts > 0], classes)
        if class_weights is not None:
            totals = totals * class_weights
        if class_weights is not None or not encoded:
            self.blocks = self.map(_encode_block, range(len(self.blocks)),
                                   classes=classes, class_weights=class_weights)
        self.classes = classes
        self.class_counts = counts
        self.class_totals = totals
        # The objective's denominator: the blocks' own totals, as the
        # kernel weighs each block's mean; with the column sums of L-BFGS's
        # coordinates, added in block order.
        # The same rows as in memory: every step-th row of X.
        step = statistics_step(self.n_samples)
        offsets = np.r_[0, np.cumsum(X.chunks[0])[:-1]]
        sums = self.gather(self.map(_block_sums, [-o % step for o in offsets],
                                    step=step))
        self.total_weight = float(np.sum([total for total, _, _, _ in sums]))
        self.column_sums = (np.sum([s1 for _, s1, _, _ in sums], axis=0),
                            np.sum([s2 for _, _, s2, _ in sums], axis=0),
                            float(np.sum([t for _, _, _, t in sums])))

    def _owners(self):
        """Where each block is (raising a block's validation error, if
        any)."""
        from distributed import wait

        wait(self.blocks)
        for future in self.blocks:
            if future.status == "error":
                future.result()       # raises the block's error here
        holders = self.client.who_has(self.blocks)
        return [sorted(holders[f.key])[0] for f in self.blocks]

    def map(self, func, *per_block, **kwargs):
        """``func(block, *args_of_the_block, **kwargs)`` for every block, on
        the block's worker: a list of futures in block order."""
        return [
            self.client.submit(func, block, *(a[i] for a in per_block),
                               workers=[owner], allow_other_workers=False,
                               pure=False, **kwargs)
            for i, (block, owner) in enumerate(zip(self.blocks, self.owners))
        ]

    def gather(self, futures, poll=10.0):
        """The results of ``futures``, in order; a RuntimeError instead of
        waiting forever if a worker holding blocks leaves the cluster (the
        tasks restricted to it could never run)."""
        from distributed import wait

        while True:
            try:
                wait(futures, timeout=poll)
                break
            except TimeoutError:
                alive = set(self.client.scheduler_info()["workers"])
                lost = sorted(set(self.owners) - alive)
                if lost:
                    self.client.cancel(futures)
                    raise RuntimeError(
                        f"Worker(s) {lost} holding row blocks of this fit left "
                        "the cluster during the fit; fit again."
                    ) from None
        return self.client.gather(futures)

    def astype(self, dtype):
        """Cast the blocks' rows to ``dtype`` on their workers (a warm start
        keeps the dtype of the model's parameters, as in memory)."""
        if dtype != self.dtype:
            self.blocks = self.map(_Block.astype, dtype=dtype)
            self.dtype = dtype

    def release(self):
        """Let the cluster forget the blocks."""
        self.client.cancel(self.blocks)
        self.blocks = []


def _block_sums(block, start, step):
    """The block's weight total, and the weighted column sums of its rows
    ``start, start + step, …`` with their weight total."""
    return (block.total, *block.dataset().column_sums(start, step))


class DaskObjective:
    """The training objective ``F`` and its gradient over row blocks held on
    a cluster (the dask counterpart of
    :class:`~sklearn_mcnn._engine.FullBatchObjective`, same call interface).

    One evaluation broadcasts the parameter vector to every worker once, runs
    one :func:`_block_loss_grad` task per block where the block lives, and
    adds the blocks' loss and gradient sums on the driver in block order,
    then divides by the total weight and adds the L2 term: the result does
    not depend on the number of workers or on the order in which the tasks
    finish.

    Parameters
    ----------
    data : ClusterData
    net : Network
        The architecture trained (its sizes, options and label smoothing are
        sent to the workers, which lay out their own copies): for two classes,
        the one logistic output (:class:`~sklearn_mcnn._engine.OneOutput`),
        whose output layer's penalty is scaled here.
    params : ndarray
        The parameter vector, written by :meth:`__call__` (its dtype is the
        one the workers compute in).
    alpha : float
    """

    def __init__(self, data, net, params, alpha):
        self.data, self.params = data, params
        self.alpha = float(alpha)
        options = {"activation": net.activation_name, "loss": net.loss_name,
                   "batch_norm": net.batch_norm, "dropout": net.dropout,
                   "negative_slope": net.negative_slope}
        self.spec = (tuple(net.sizes), options, float(net.label_smoothing))
        # The weights by penalty, as the kernel's loss_grad: the hidden
        # layers' alpha, the output layer's scaled by the network's
        # output_penalty (one logistic output for two rows: 1/2).
        slices = [w for w, _, _ in net.layer_slices()]
        groups = [(slices[:-1], self.alpha),
                  (slices[-1:], self.alpha * net.output_penalty)]
        self.penalties = [
            (np.concatenate([np.arange(w.start, w.stop) for w in group]), a)
            for group, a in groups if group]

    def column_sums(self):
        """The rows' weighted column sums (summed in block order)."""
        return self.data.column_sums

    def __call__(self, w):
        """scipy's ``fun(w) -> (F, ∇F)`` in float64; sets the parameters."""
        client = self.data.client
        self.params[:] = w
        params = self.params.copy()
        [shared] = client.scatter([params], broadcast=True, hash=False)
        futures = self.data.map(_block_loss_grad, params=shared, spec=self.spec)
        loss, grad = 0.0, np.zeros(params.size)
        # In block order, whatever order the tasks finish in.
        for block_loss, block_grad in self.data.gather(futures):
            loss += block_loss
            grad += block_grad
        total = self.data.total_weight
        loss, grad = loss / total, grad / total
        for index, a in self.penalties:
            weights = params[index].astype(np.float64)
            grad[index] += a * weights
            loss += 0.5 * a * dot(weights, weights)
        return loss, grad


# --------------------------------------------------------------------------
# Prediction on dask arrays: lazy, block by block
# --------------------------------------------------------------------------


def _snapshot(estimator):
    """A copy of a fitted estimator that only predicts: later fits of the
    estimator do not change what a lazy result computes."""
    model = clone(estimator)
    vars(model).update(estimator._fitted_state())
    return model


def _predict_block(X, model, method, seeds=None, block_id=None):
    if method == "predict_sample":
        return model.predict_sample(X, random_state=seeds[block_id[0]])
    return getattr(model, method)(X)


def predict_lazy(estimator, X, method, random_state=None):
    """``estimator.<method>(X)`` for a dask X, as a lazy dask array with X's
    row chunks (``predict_sample``: block ``b`` draws from its own seed,
    drawn from ``random_state`` in block order)."""
    import dask

    check_is_fitted(estimator, "_params")
    X = _check_array_metadata(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    n_classes = estimator.classes_.size
    dtype = estimator._params.dtype
    if method in ("predict", "predict_sample") or (
            method == "decision_function" and n_classes == 2):
        out_dtype = (estimator.classes_.dtype if method != "decision_function"
                     else dtype)
        layout = dict(drop_axis=1, chunks=(X.chunks[0],),
                      meta=np.empty((0,), dtype=out_dtype))
    else:
        layout = dict(chunks=(X.chunks[0], (n_classes,)),
                      meta=np.empty((0, 0), dtype=dtype))
    seeds = None
    if method == "predict_sample":
        rng = check_random_state(random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=X.numblocks[0])
    model = dask.delayed(_snapshot(estimator), pure=False)
    return X.map_blocks(_predict_block, model, method, seeds, **layout)


def score_lazy(estimator, X, y, sample_weight=None):
    """The (weighted) accuracy of ``estimator`` on dask X, as a lazy 0-d
    dask array."""
    predictions = predict_lazy(estimator, X, "predict")
    _rows_known(X)
    correct = predictions == _aligned(y, X, "y")
    if sample_weight is None:
        return correct.mean()
    sample_weight = _aligned(sample_weight, X, "sample_weight")
    return (correct * sample_weight).sum() / sample_weight.sum()
