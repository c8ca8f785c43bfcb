"""MLP 784-256-128-10 (relu) epoch time: sklearn-mcnn against scikit-learn,
PyTorch and the matrix products alone, in one run.

The data are generated (``make_classification``: 784 features, 10 classes,
60,000 training and 10,000 test rows by default) and standardised.  For each
dtype (float32, float64), solver (``sgd`` with Nesterov momentum 0.9, and
``adam``) and batch size (32, 128), each contender trains ``--epochs``
epochs, timed one by one, the contenders taking turns epoch by epoch (so a
burst of load from elsewhere on this shared machine slows them alike):

- ours: ``MLPBackpropClassifier.partial_fit`` once per epoch (shuffled);
- ``MLPClassifier``: its ``partial_fit`` once per epoch, the same
  architecture, solver, batch size and learning rate, and the same L2
  penalty (its ``alpha`` is divided by the batch size, so it gets
  ``alpha · batch_size``);
- PyTorch: ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``, the same
  optimiser (``torch.optim.SGD(momentum=0.9, nesterov=True)`` or ``Adam``,
  weight decay on the weights only), a shuffled epoch of ``Xt[idx]``
  batches, ``torch.set_num_threads`` equal to NumPy's BLAS thread count;
- the bound: the matrix products of the same epoch alone (per batch the
  three forward gemms, the three weight-gradient gemms and the two delta
  gemms), NumPy ``matmul`` into preallocated ``out=`` arrays of the dtype;
  and the same products through SciPy's BLAS (``scipy.linalg.blas``), the
  build the kernels call (NumPy's and SciPy's wheels ship different
  OpenBLAS versions, whose small products differ in speed).

Each contender first trains one short warm-up epoch (2,048 rows, not
timed).  Seconds per epoch are the fastest of the epochs after the first:
the one least disturbed by other processes on this shared machine, whose
bursts of load come and go over minutes.  Peak memory is the resident set
size added during the training epochs (sampled every 2 ms by a thread from
``/proc/self/statm``: it sees BLAS and PyTorch buffers, which
``tracemalloc`` does not).  "later / first" is the median
later epoch over the first (issue 5: subnormal numbers in float32 Adam would
make later epochs slower).  A second table times ``predict_proba`` on the
test rows and on one row, ours against PyTorch's ``softmax(model(x))``.

Run ``python benchmarks/bench_mlp.py`` (full grid, about 10-15 minutes on 2
cores) or ``--quick`` (6,000 rows, 3 epochs).  The tables are printed and
written to ``benchmarks/results/bench_mlp.md``, the plot to
``benchmarks/results/bench_mlp.png``.
"""

import argparse
import itertools
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sklearn_mcnn import MLPBackpropClassifier

from _common import (
    PeakMemory,
    blas_threads,
    machine_footer,
    make_data,
    torch_epoch,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results"
HIDDEN = (256, 128)
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3}
# issue 5's targets per batch size: (ours / bound at most, MLPClassifier /
# ours at least, torch / ours at least)
TARGETS = {32: (1.5, 3.0, 2.0), 128: (1.3, 2.0, 1.3)}
# Pause before each timed epoch: OpenBLAS threads spin about 0.1 s after
# their last product before they sleep, OpenMP threads less.
SETTLE_SECONDS = 0.3
WARM_UP_ROWS = 2048


# ------------------------------------------------------------- contenders
#
# Each contender trains one epoch per call of ``epoch()`` and returns its
# seconds.  The configurations run their contenders' epochs in turns
# (bounds, ours, MLPClassifier, PyTorch, then the next round), so a burst of
# load from other processes on this shared machine slows all of them
# alike rather than one contender's whole run.


def _est_params(solver, batch_size):
    return dict(hidden_layer_sizes=HIDDEN, activation="relu", solver=solver,
                batch_size=batch_size,
                learning_rate_init=LEARNING_RATES[solver], momentum=0.9,
                nesterovs_momentum=True, shuffle=True,
                random_state=np.random.RandomState(0))


class Ours:
    """``MLPBackpropClassifier.partial_fit``, one shuffled epoch a call."""

    def __init__(self, X, y, solver, batch_size, alpha):
        self.est = MLPBackpropClassifier(alpha=alpha,
                                         **_est_params(solver, batch_size))
        self.X, self.y, self.classes = X, y, np.unique(y)

    def epoch(self):
        tic = time.perf_counter()
        self.est.partial_fit(self.X, self.y, classes=self.classes)
        return time.perf_counter() - tic

    def accuracy(self, X_test, y_test):
        return self.est.score(X_test, y_test)


class Sklearn(Ours):
    """``MLPClassifier.partial_fit`` with the same penalty (its ``alpha``
    is divided by the batch size, so it gets ``alpha · batch_size``)."""

    def __init__(self, X, y, solver, batch_size, alpha):
        self.est = MLPClassifier(alpha=alpha * batch_size,
                                 **_est_params(solver, batch_size))
        self.X, self.y, self.classes = X, y, np.unique(y)

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().epoch()


def torch_model(torch, n_features, dtype):
    nn = torch.nn
    sizes = (n_features, *HIDDEN, 10)
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(dtype)


class Torch:
    """The same network and optimiser in PyTorch (weight decay on the
    weights only), a shuffled epoch of ``Xt[idx]`` batches a call."""

    def __init__(self, X, y, solver, batch_size, alpha):
        import torch

        torch.manual_seed(0)
        dtype = torch.float32 if X.dtype == np.float32 else torch.float64
        self.model = model = torch_model(torch, X.shape[1], dtype)
        linear = [m for m in model if isinstance(m, torch.nn.Linear)]
        groups = [{"params": [m.weight for m in linear], "weight_decay": alpha},
                  {"params": [m.bias for m in linear], "weight_decay": 0.0}]
        lr = LEARNING_RATES[solver]
        if solver == "sgd":
            self.opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
        else:
            self.opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.Xt = torch.from_numpy(X)
        self.yt = torch.from_numpy(y.astype(np.int64))
        self.batch_size = batch_size

    def epoch(self):
        self.model.train()
        return torch_epoch(self.model, self.opt, self.loss_fn, self.Xt,
                           self.yt, self.batch_size)

    def accuracy(self, X_test, y_test):
        import torch

        self.model.eval()
        with torch.no_grad():
            pred = self.model(torch.from_numpy(X_test)).argmax(1).numpy()
        return float(np.mean(pred == y_test))


class Bound:
    """The epoch's matrix products alone, NumPy matmul into ``out=``: per
    batch the three forward products, the three weight gradients and the
    two deltas."""

    def __init__(self, X, y, solver, batch_size, alpha):
        dt = X.dtype
        self.X, self.batch_size = X, batch_size
        sizes = (X.shape[1], *HIDDEN, 10)
        rng = np.random.RandomState(0)
        self.W = [rng.normal(scale=0.05, size=(a, b)).astype(dt)
                  for a, b in itertools.pairwise(sizes)]
        self.dW = [np.empty_like(w) for w in self.W]
        # Activations and deltas of a full batch and of the last, shorter
        # one, filled with normal numbers (no subnormals, no NaN) once.
        n = X.shape[0]
        self.buffers = {}
        for m in {batch_size, n % batch_size or batch_size}:
            self.buffers[m] = ([np.empty((m, s), dtype=dt) for s in sizes[1:]],
                               [rng.normal(size=(m, s)).astype(dt)
                                for s in sizes[1:]])

    def epoch(self):
        X, W, dW, bs = self.X, self.W, self.dW, self.batch_size
        tic = time.perf_counter()
        for start in range(0, X.shape[0], bs):
            xb = X[start:start + bs]
            H, D = self.buffers[xb.shape[0]]
            # forward: H_l = A_{l-1} W_l
            np.matmul(xb, W[0], out=H[0])
            np.matmul(H[0], W[1], out=H[1])
            np.matmul(H[1], W[2], out=H[2])
            # weight gradients: dW_l = A_{l-1}ᵀ δ_l
            np.matmul(H[1].T, D[2], out=dW[2])
            np.matmul(H[0].T, D[1], out=dW[1])
            np.matmul(xb.T, D[0], out=dW[0])
            # deltas: δ_{l-1} = δ_l W_lᵀ (none for the input layer)
            np.matmul(D[2], W[2].T, out=D[1])
            np.matmul(D[1], W[1].T, out=D[0])
        return time.perf_counter() - tic


class BoundScipy(Bound):
    """The same products through SciPy's BLAS (``scipy.linalg.blas``), the
    library the kernels call, into preallocated outputs.  SciPy and NumPy
    ship different OpenBLAS builds (0.3.30 and 0.3.31 with SciPy 1.17 and
    NumPy 2.4), whose small products differ in speed.  A row-major product
    ``C = A B`` is the column-major ``Cᵀ = Bᵀ Aᵀ``: the transposed views of
    C-ordered arrays are Fortran-ordered, so nothing is copied."""

    def __init__(self, X, y, solver, batch_size, alpha):
        super().__init__(X, y, solver, batch_size, alpha)
        from scipy.linalg import blas

        self.gemm = blas.sgemm if X.dtype == np.float32 else blas.dgemm

    def epoch(self):
        X, W, dW, bs, gemm = self.X, self.W, self.dW, self.batch_size, self.gemm

        def mm(a, b, out, ta=0, tb=0):
            # out = op(a) op(b), row-major, as outᵀ = op(b)ᵀ op(a)ᵀ
            gemm(1.0, b.T, a.T, c=out.T, trans_a=tb, trans_b=ta,
                 overwrite_c=1)

        tic = time.perf_counter()
        for start in range(0, X.shape[0], bs):
            xb = X[start:start + bs]
            H, D = self.buffers[xb.shape[0]]
            mm(xb, W[0], H[0])
            mm(H[0], W[1], H[1])
            mm(H[1], W[2], H[2])
            mm(H[1], D[2], dW[2], ta=1)
            mm(H[0], D[1], dW[1], ta=1)
            mm(xb, D[0], dW[0], ta=1)
            mm(D[2], W[2], D[1], tb=1)
            mm(D[1], W[1], D[0], tb=1)
        return time.perf_counter() - tic


def run_config(contenders, X, y, X_test, y_test, solver, batch_size, epochs,
               alpha):
    """Train every contender ``epochs`` epochs, in turns; per contender the
    epoch times, test accuracy and peak memory, and the fitted objects."""
    # Warm-up: a short epoch of each contender first, so that one-time
    # library set-up (BLAS buffers of new threads, PyTorch's allocator) is
    # neither timed nor counted as memory added by the fit.
    for cls in contenders.values():
        cls(X[:WARM_UP_ROWS], y[:WARM_UP_ROWS], solver, batch_size, alpha).epoch()
    runners = {key: cls(X, y, solver, batch_size, alpha)
               for key, cls in contenders.items()}
    times = {key: [] for key in runners}
    memory = {key: PeakMemory() for key in runners}
    for _ in range(epochs):
        for key, runner in runners.items():
            # Let the previous contender's worker threads (OpenBLAS, OpenMP)
            # stop spinning before the clock starts: they would take the
            # other core for a while.
            time.sleep(SETTLE_SECONDS)
            with memory[key]:
                times[key].append(runner.epoch())
    results = {}
    for key, runner in runners.items():
        r = dict(times=times[key])
        if not key.startswith("bound"):
            r.update(acc=runner.accuracy(X_test, y_test), mem=memory[key].mib)
        later = times[key][1:]
        r["epoch"] = float(np.min(later))
        r["later_first"] = float(np.median(later) / times[key][0])
        results[key] = r
    return results, runners


def time_predict(fn, X, repeat):
    fn(X)  # warm up
    ts = []
    for _ in range(repeat):
        tic = time.perf_counter()
        fn(X)
        ts.append(time.perf_counter() - tic)
    return float(np.median(ts))


def predict_rows(est, model, X_test, dtype):
    """predict_proba timings: ours and torch, on all test rows and on one."""
    import torch

    Xd = X_test.astype(dtype)
    one = np.ascontiguousarray(Xd[:1])

    def torch_proba(x):
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(x)), dim=1).numpy()

    return dict(
        ours_all=time_predict(est.predict_proba, Xd, 10),
        torch_all=time_predict(torch_proba, Xd, 10),
        ours_one=time_predict(est.predict_proba, one, 300),
        torch_one=time_predict(torch_proba, one, 300),
    )


# ------------------------------------------------------------------ output


def fmt_ratio(value, ok):
    return f"{value:.2f} {'✓' if ok else '✗'}"


def write_plot(results, batch_sizes, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({r["dtype"] for r in results})
    solvers = sorted({r["solver"] for r in results})
    fig, axes = plt.subplots(len(dtypes), len(solvers),
                             figsize=(4.5 * len(solvers), 3.6 * len(dtypes)),
                             sharey=True, squeeze=False)
    styles = {"ours": ("sklearn-mcnn", "C0", "o"),
              "sklearn": ("MLPClassifier", "C1", "s"),
              "torch": ("PyTorch", "C2", "^"),
              "bound": ("matrix products alone", "k", "x"),
              "bound_scipy": ("the same, SciPy's BLAS", "0.5", "+")}
    for ax, (dtype, solver) in zip(
            axes.ravel(), [(d, s) for d in dtypes for s in solvers]):
        rows = sorted((r for r in results
                       if r["dtype"] == dtype and r["solver"] == solver),
                      key=lambda r: r["batch_size"])
        for key, (label, color, marker) in styles.items():
            xs = [r["batch_size"] for r in rows if key in r]
            ys = [r[key]["epoch"] for r in rows if key in r]
            if xs:
                ax.plot(xs, ys, marker=marker, color=color, label=label,
                        linestyle="--" if key.startswith("bound") else "-")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
        ax.set_title(f"{dtype}, {solver}")
        ax.set_xlabel("batch size")
        ax.grid(True, which="both", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("seconds per epoch")
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.suptitle("MLP 784-256-128-10 relu, seconds per epoch (fastest after "
                 "the first)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60000,
                        help="training rows (default 60000); the test set has "
                             "min(10000, n/6) rows")
    parser.add_argument("--epochs", type=int, default=4,
                        help="epochs per configuration (at least 2)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--solvers", nargs="+", default=["sgd", "adam"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 6000 rows, 3 epochs")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-sklearn", action="store_true",
                        help="skip MLPClassifier (the slowest contender)")
    parser.add_argument("--output", default=str(RESULTS / "bench_mlp.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.epochs = 6000, 3
    args.epochs = max(args.epochs, 2)

    have_torch = False
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not importable: no PyTorch column")
        else:
            have_torch = True
            torch.set_num_threads(blas_threads())

    load_start = os.getloadavg()[0]
    n_test = min(10000, args.n_samples // 6)
    tic = time.perf_counter()
    X64, y, X64_test, y_test = make_data(args.n_samples, n_test)
    print(f"data: {X64.shape[0]} x {X64.shape[1]} train, {n_test} test, "
          f"{time.perf_counter() - tic:.1f} s to generate", flush=True)

    results, predict = [], {}
    for dtype in args.dtypes:
        X = X64.astype(dtype)
        X_test = X64_test.astype(dtype)
        for solver in args.solvers:
            for bs in args.batch_sizes:
                r = dict(dtype=dtype, solver=solver, batch_size=bs)
                contenders = {"bound": Bound, "bound_scipy": BoundScipy,
                              "ours": Ours}
                if not args.no_sklearn:
                    contenders["sklearn"] = Sklearn
                if have_torch:
                    contenders["torch"] = Torch
                out, runners = run_config(contenders, X, y, X_test, y_test,
                                          solver, bs, args.epochs, args.alpha)
                r.update(out)
                print(dtype, solver, bs, {k: (round(r[k]["epoch"], 3),
                                               round(r[k].get("acc", 0), 4))
                                           for k in ("ours", "sklearn", "torch",
                                                     "bound") if k in r},
                      flush=True)
                results.append(r)
                if have_torch and solver == args.solvers[-1] and \
                        bs == args.batch_sizes[-1]:
                    predict[dtype] = predict_rows(runners["ours"].est,
                                                  runners["torch"].model,
                                                  X64_test, dtype)

    lines = [
        f"MLP {X64.shape[1]}-{'-'.join(map(str, HIDDEN))}-10 relu, "
        f"{X64.shape[0]} training rows, {n_test} test rows, {args.epochs} "
        f"epochs per configuration, alpha={args.alpha:g}, learning rates "
        + ", ".join(f"{k} {v:g}" for k, v in LEARNING_RATES.items())
        + " (sgd: Nesterov momentum 0.9).  Seconds per epoch: the fastest of "
        "the epochs after the first (contenders taking turns epoch by epoch).",
        "",
        "| dtype | solver | batch | ours s/epoch | MLPClassifier s/epoch "
        "| PyTorch s/epoch | matmul bound s/epoch | ours / bound "
        "| ours / bound with SciPy's BLAS "
        "| MLPClassifier / ours | PyTorch / ours | ours later / first "
        "| acc % ours / MLPC / torch | peak MiB ours / MLPC / torch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        bound_max, sk_min, torch_min = TARGETS.get(r["batch_size"],
                                                   (np.inf, 0, 0))
        o = r["ours"]["epoch"]
        cells = [r["dtype"], r["solver"], str(r["batch_size"]), f"{o:.3f}"]
        cells.append(f"{r['sklearn']['epoch']:.3f}" if "sklearn" in r else "—")
        cells.append(f"{r['torch']['epoch']:.3f}" if "torch" in r else "—")
        cells.append(f"{r['bound']['epoch']:.3f}")
        cells.append(fmt_ratio(o / r["bound"]["epoch"],
                               o / r["bound"]["epoch"] <= bound_max))
        cells.append(f"{o / r['bound_scipy']['epoch']:.2f}")
        cells.append(fmt_ratio(r["sklearn"]["epoch"] / o,
                               r["sklearn"]["epoch"] / o >= sk_min)
                     if "sklearn" in r else "—")
        cells.append(fmt_ratio(r["torch"]["epoch"] / o,
                               r["torch"]["epoch"] / o >= torch_min)
                     if "torch" in r else "—")
        cells.append(f"{r['ours']['later_first']:.2f}")
        cells.append(" / ".join(f"{100 * r[k]['acc']:.1f}" if k in r else "—"
                                for k in ("ours", "sklearn", "torch")))
        cells.append(" / ".join(f"{r[k]['mem']:.0f}" if k in r else "—"
                                for k in ("ours", "sklearn", "torch")))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "✓ / ✗: issue 5's targets — ours / bound ≤ 1.5 (batch 32), ≤ 1.3 "
        "(batch 128); MLPClassifier / ours ≥ 3 (32), ≥ 2 (128); PyTorch / ours "
        "≥ 2 (32), ≥ 1.3 (128).  Subnormals: float32 adam later / first ≤ 1.05.  "
        "The bound is NumPy's `matmul` (its own OpenBLAS build); the same "
        "products through SciPy's BLAS, which the kernels call, are the "
        "second bound.",
    ]
    if predict:
        lines += [
            "",
            f"predict_proba, the network of the last configuration "
            f"({args.solvers[-1]}, batch {args.batch_sizes[-1]}): median "
            "seconds.",
            "",
            f"| dtype | ours, {n_test} rows | PyTorch, {n_test} rows "
            "| PyTorch / ours | ours, 1 row (µs) | PyTorch, 1 row (µs) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for dtype, p in predict.items():
            lines.append(
                f"| {dtype} | {p['ours_all']:.4f} | {p['torch_all']:.4f} | "
                f"{p['torch_all'] / p['ours_all']:.2f} | "
                f"{1e6 * p['ours_one']:.0f} | {1e6 * p['torch_one']:.0f} |"
            )
    lines += [
    ]
    lines += machine_footer("bench_mlp.py", argv, load_start)
    out = write_report(lines, args.output)
    png = out.with_suffix(".png")
    write_plot(results, args.batch_sizes, png)
    print(f"written to {out} and {png}")


if __name__ == "__main__":
    main()
