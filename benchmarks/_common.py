"""What the benchmark scripts share: the data, peak-memory sampling and a
description of the BLAS libraries in use."""

import gc
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np
import sklearn
from scipy import ndimage
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

PAGE = os.sysconf("SC_PAGE_SIZE")


def make_data(n_train, n_test, n_features=784, n_classes=10, seed=0):
    """An MNIST-shaped problem (784 features, 10 classes by default),
    standardised on its training part, C-ordered float64."""
    X, y = make_classification(
        n_samples=n_train + n_test, n_features=n_features,
        n_informative=min(60, n_features), n_redundant=min(100, n_features // 4),
        n_classes=n_classes, n_clusters_per_class=1, class_sep=1.5, flip_y=0.01,
        random_state=seed,
    )
    scaler = StandardScaler().fit(X[:n_train])
    return (np.ascontiguousarray(scaler.transform(X[:n_train])), y[:n_train],
            np.ascontiguousarray(scaler.transform(X[n_train:])), y[n_train:])


def make_digits(n_train=60000, n_test=10000, seed=0, side=28, border=2):
    """An image problem with real conditioning: scikit-learn's 8 × 8 digits
    (``load_digits``) upsampled to ``side`` × ``side`` pixels and each row
    randomly scaled (0.9-1.1), rotated (σ 0.08 rad), sheared (σ 0.05) and
    shifted (±2 pixels), bilinear, from a seeded RNG.

    Values in [0, 1], C-ordered float64, with an always-zero border of
    ``border`` pixels (208 of the 784 columns are zero in every row of the
    default 60,000 + 10,000).  Unlike ``make_data``'s Gaussian clusters, on
    which L-BFGS converges in about 40 iterations, it needs hundreds, as
    MNIST does: ``LogisticRegression(C=1)`` took 328 iterations on 20,000
    rows and reached 0.913 test accuracy.  All rows are drawn in a few
    vectorised ``map_coordinates`` calls (about 6 s for 70,000 rows).

    Returns ``X_train, y_train, X_test, y_test``.
    """
    digits = load_digits()
    images = digits.images / 16.0
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    pick = rng.integers(0, len(images), n)
    inner = side - 2 * border
    canvas = np.zeros((len(images), side, side))
    canvas[:, border:side - border, border:side - border] = np.clip(
        ndimage.zoom(images, (1, inner / 8, inner / 8), order=1), 0, 1)
    scale = rng.uniform(0.9, 1.1, n)
    rotation = rng.normal(0, 0.08, n)
    shear = rng.normal(0, 0.05, n)
    shift = rng.uniform(-2, 2, (n, 2))
    centre = (side - 1) / 2
    yy, xx = np.mgrid[0:side, 0:side] - centre
    out = np.empty((n, side, side))
    for start in range(0, n, 5000):
        s = slice(start, min(n, start + 5000))
        cos, sin = (np.cos(rotation[s]) / scale[s])[:, None, None], \
            (np.sin(rotation[s]) / scale[s])[:, None, None]
        skew = (shear[s] / scale[s])[:, None, None]
        # the source pixel of each output pixel (the inverse affine map)
        src_y = cos * yy + (skew - sin) * xx + centre - shift[s, :1, None]
        src_x = sin * yy + cos * xx + centre - shift[s, 1:, None]
        image = np.broadcast_to(pick[s, None, None], src_y.shape)
        out[s] = ndimage.map_coordinates(canvas, [image, src_y, src_x], order=1,
                                         mode="constant", cval=0.0)
    np.clip(out, 0, 1, out=out)
    out[:, :border], out[:, side - border:] = 0, 0
    out[:, :, :border], out[:, :, side - border:] = 0, 0
    X = out.reshape(n, side * side)
    y = digits.target[pick]
    return (np.ascontiguousarray(X[:n_train]), y[:n_train],
            np.ascontiguousarray(X[n_train:]), y[n_train:])


#: The benchmarks' data sets by name: ``make_classification`` clusters and
#: the deformed digits.
DATASETS = {"clusters": make_data, "digits": make_digits}


def load_dataset(name, n_train, n_test, n_features=784, n_classes=10, seed=0):
    """``n_train`` + ``n_test`` rows of the data set ``name`` (a key of
    ``DATASETS``); the digits have 784 features and 10 classes always."""
    if name == "digits":
        if (n_features, n_classes) != (784, 10):
            raise ValueError("the digits data set has 784 features, 10 classes")
        return make_digits(n_train, n_test, seed=seed)
    return make_data(n_train, n_test, n_features, n_classes, seed=seed)


def rss():
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakMemory:
    """Peak resident memory added during the ``with`` block, sampled every
    ``interval`` seconds by a thread: unlike ``tracemalloc``, it sees BLAS
    and PyTorch buffers.  ``mib`` is the result; entered several times, it
    is the largest over the blocks."""

    def __init__(self, interval=0.002):
        self.interval = interval
        self.mib = 0.0

    def __enter__(self):
        gc.collect()
        self.baseline = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.mib = max(self.mib, (self.peak - self.baseline) / 2**20)


def running_threads():
    """How many of this process's other threads are running (state ``R`` in
    ``/proc/self/task/*/stat``): a BLAS or OpenMP pool still spinning after
    its last call.  None where ``/proc`` does not tell."""
    me = threading.get_native_id()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    running = 0
    for tid in tids:
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:         # the thread ended meanwhile
            continue
        # the state follows the command name, which may hold ") "
        running += stat[stat.rindex(b")") + 2:][:1] == b"R"
    return running


def wait_for_idle_threads(timeout=0.5, poll=0.002):
    """Wait until no other thread of this process runs (at most ``timeout``
    s; where ``/proc`` does not tell, ``timeout`` s flat), so that the next
    timed call does not share a core with a pool that is still spinning.

    Measured on the 2-core EPYC (2026-12-07): after a NumPy product that
    OpenBLAS runs on two threads, its worker spins for 0.11 s (its default
    timeout, 2**28 cycles); after ours or PyTorch's, the OpenMP workers
    for 10 ms.  A 1,000-row ``predict_proba`` of 784-256-128-10 on our two
    threads took 16-23 ms right after the NumPy product, 9.5 ms 0.08 s
    later, and 4.5-5.5 ms from 0.12 s on.  Returns the seconds waited."""
    tic = time.perf_counter()
    while time.perf_counter() - tic < timeout:
        running = running_threads()
        if running is None:
            time.sleep(timeout)
        elif running:
            time.sleep(poll)
            continue
        break
    return time.perf_counter() - tic


def blas_threads():
    """NumPy's BLAS thread count, as threadpoolctl reports it."""
    import numpy.linalg  # noqa: F401  (loads NumPy's BLAS)

    for info in threadpool_info():
        if info["user_api"] == "blas" and "numpy" in info["filepath"]:
            return info["num_threads"]
    return max(i["num_threads"] for i in threadpool_info()
               if i["user_api"] == "blas")


def blas_description():
    """The BLAS libraries loaded: version, kernels, threads, file."""
    return "; ".join(
        f"{i['internal_api']} {i['version']} ({i.get('architecture')} kernels, "
        f"{i['num_threads']} threads, {Path(i['filepath']).name})"
        for i in threadpool_info() if i["user_api"] == "blas"
    )


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``), else the platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_footer(script, argv, load_start):
    """The closing lines of a results table: machine, libraries, BLAS, load
    and the command that reproduces it."""
    import sklearn_mcnn

    torch = sys.modules.get("torch")
    return [
        "",
        f"Machine: {cpu_model()} ({platform.machine()}), {os.cpu_count()} "
        f"CPUs; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, sklearn-mcnn {sklearn_mcnn.__version__}"
        + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
           if torch is not None else "") + ".",
        f"BLAS: {blas_description()}.",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}.  "
        f"Load average (1 min) at start {load_start:.2f}, at end "
        f"{os.getloadavg()[0]:.2f}: other processes on these cores make the "
        "absolute seconds (and multi-threaded BLAS calls most) noisy.",
        "",
        "Command: `" + " ".join([f"python benchmarks/{script}",
                                 *(argv if argv is not None else sys.argv[1:])])
        + "`",
    ]


def write_report(lines, output):
    """Print the report and write it to ``output``; returns the path."""
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def torch_epoch(model, opt, loss_fn, Xt, yt, batch_size):
    """One shuffled mini-batch epoch of a PyTorch model; returns its seconds."""
    import torch

    tic = time.perf_counter()
    perm = torch.randperm(Xt.shape[0])
    for start in range(0, Xt.shape[0], batch_size):
        idx = perm[start:start + batch_size]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(Xt[idx]), yt[idx]).backward()
        opt.step()
    return time.perf_counter() - tic
