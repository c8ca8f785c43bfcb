"""The kernels' own matrix products (``sklearn_mcnn/_small_gemm.h``) against
SciPy's BLAS, which the kernels call otherwise, and NumPy's ``matmul`` as a
yardstick.

**Forward products.**  Each case is one layer's forward pass, ``X W + b``
for ``m`` rows (:func:`sklearn_mcnn._network.forward` on a one-layer
network, scores only, one thread), through the panels (the few-rows
kernel), through the dot products (narrow layers only) and through BLAS
(``_network.small_gemm_rows`` set to send every product to one of them),
and ``X @ W + b`` in NumPy (its own OpenBLAS, one thread), taking turns; the
median of repeated calls.  The layers are those of the package's
benchmarks: 784 → 256 → 128 → 10 (``bench_mlp``, ``bench_predict``), 784 →
10 (the softmax model), 64 → 10 (scikit-learn's digits) and 20 → 64 → 3.
The limits (``mcnn_small_gemm_rows`` in ``_small_gemm.h``, per dtype: the
panels' rows for layers of at least 32 outputs and for narrower ones, the
dot products' least depth) are read from this table: where the kernels are
no slower than BLAS.  X is hot in cache here; in a full-batch pass it comes
from memory, which the dot products prefetch (``bench_lbfgs_pass.py``).

**Weight gradients of narrow layers** (``Xᵀ D``, fewer than 32 outputs):
one softmax layer's loss and gradient over ``m`` rows, the product through
the kernel or through BLAS (``_network.narrow_gradient_cols``).

Run from the repository root (about two minutes)::

    python benchmarks/bench_small_gemm.py
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_mcnn import _network

from _common import machine_footer, write_report

RESULTS = Path(__file__).resolve().parent / "results"
LAYERS = [(784, 256), (256, 128), (128, 10), (784, 10), (64, 10), (20, 64),
          (64, 3)]
ROWS = [2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256]
#: The narrow layers' weight gradients: (inputs, outputs), and the batch's
#: rows (training batches, and the chunks of the full-batch passes: 127
#: rows for 784 → 10, 256 at most).
GRADIENT_LAYERS = [(784, 10), (784, 2), (128, 10), (64, 10), (64, 3),
                   (256, 16), (256, 31)]
GRADIENT_ROWS = [8, 32, 127, 256]
#: Layers narrower than this take the narrow paths (MCNN_WIDE_LAYER).
NARROW = 32


def median_seconds(func, repeats):
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        func()
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def layer_case(k, n, m, dtype, rng):
    """The contenders of one layer's forward product for m rows: the
    panels, the dot products (narrow layers only), BLAS and NumPy."""
    net = _network.Network((k, n), capacity=m)
    params = rng.standard_normal(net.n_params).astype(dtype)
    running = np.empty(0, dtype=dtype)
    X = rng.standard_normal((m, k)).astype(dtype)
    data = _network.Dataset(X)
    out = np.empty((m, n), dtype=dtype)
    W = params[:k * n].reshape(k, n)
    b = params[k * n:]

    def ours(limits):
        def run():
            previous = _network.small_gemm_rows(float32=limits,
                                                float64=limits)
            try:
                _network.forward(net, data, params, running, out, False, 1)
            finally:
                _network.small_gemm_rows(**previous)
            return out.copy()
        return run

    def default():
        _network.forward(net, data, params, running, out, False, 1)
        return out.copy()

    funcs = {"panels": ours((1 << 20, 1 << 20, 0))}
    if n < NARROW:
        funcs["dot"] = ours((0, 0, 1))
    funcs.update(BLAS=ours((0, 0, 0)), NumPy=lambda: np.matmul(X, W) + b)
    return funcs, default


def gradient_case(k, n, m, dtype, rng):
    """One softmax layer's loss and gradient over m rows (one chunk), its
    weight gradient ``Xᵀ D`` through the narrow-gradient kernel and through
    BLAS, the forward product as the defaults choose."""
    net = _network.Network((k, n), capacity=m)
    params = (0.1 * rng.standard_normal(net.n_params)).astype(dtype)
    running = np.empty(0, dtype=dtype)
    data = _network.Dataset(rng.standard_normal((m, k)).astype(dtype),
                            rng.randint(0, n, m).astype(np.intp))
    grad = np.empty_like(params)

    def ours(cols):
        def run():
            previous = _network.narrow_gradient_cols(float32=cols,
                                                     float64=cols)
            try:
                _network.loss_grad(net, data, params, grad, running, 0.0, 1)
            finally:
                _network.narrow_gradient_cols(**previous)
            return grad.copy()
        return run

    def default():
        _network.loss_grad(net, data, params, grad, running, 0.0, 1)
        return grad.copy()

    return {"kernel": ours(1 << 20), "BLAS": ours(0)}, default


def timed_turns(funcs, repeats):
    """Median µs of each contender, in 5 turns so that bursts of load from
    other processes hit all alike."""
    t = {name: [] for name in funcs}
    for _ in range(5):
        for name, f in funcs.items():
            t[name].append(median_seconds(f, max(1, repeats // 5)))
    return {name: 1e6 * float(np.median(v)) for name, v in t.items()}


def default_side(funcs, net_out):
    """Which side the default limits choose: the one whose output the
    default call reproduces bit for bit ("any" where all sides agree)."""
    outputs = {name: f() for name, f in funcs.items() if name != "NumPy"}
    same = [name for name, out in outputs.items()
            if np.array_equal(out, net_out)]
    if len(same) == len(outputs):
        return "any"
    return " = ".join(same) if same else "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--output",
                        default=str(RESULTS / "bench_small_gemm.md"))
    args = parser.parse_args(argv)
    if not _network.small_gemm_available():
        sys.exit("this CPU has no AVX2 and FMA: BLAS does every product")
    load_start = os.getloadavg()[0]
    rng = np.random.RandomState(0)
    lines = [
        "# A small batch's forward product: the kernels against BLAS",
        "",
        "Median µs of one layer's `X W + b` for m rows, one thread, "
        "through the panels (`_small_gemm.h`), the dot products (narrow "
        "layers only), SciPy's BLAS (what the kernels call otherwise) and "
        "NumPy; the ratios below 1: faster than BLAS; `default`: the side "
        "the kernels' limits choose.",
        "",
        "| dtype | layer | m | panels µs | dot µs | BLAS µs | NumPy µs "
        "| panels / BLAS | dot / BLAS | default |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    with threadpool_limits(1):
        for dtype in (np.float32, np.float64):
            for k, n in LAYERS:
                for m in ROWS:
                    funcs, default = layer_case(k, n, m, dtype, rng)
                    side = default_side(funcs, default())
                    t = timed_turns(funcs, args.repeats)
                    dot = (f"{t['dot']:.1f}", f"{t['dot'] / t['BLAS']:.2f}"
                           ) if "dot" in t else ("—", "—")
                    lines.append(
                        f"| {np.dtype(dtype).name} | {k} → {n} | {m} "
                        f"| {t['panels']:.1f} | {dot[0]} | {t['BLAS']:.1f} "
                        f"| {t['NumPy']:.1f} "
                        f"| {t['panels'] / t['BLAS']:.2f} | {dot[1]} "
                        f"| {side} |")
                    print(lines[-1], flush=True)
                    assert side != "?", "the default call matches no side"
        lines += [
            "",
            "# A narrow layer's weight gradient: the kernel against BLAS",
            "",
            "Median µs of one softmax layer's loss and gradient over m rows "
            "(`_network.loss_grad`, one chunk, one thread), the weight "
            "gradient `Xᵀ D` through the kernel or BLAS, the forward product "
            "as the defaults choose; `default`: the side the column limits "
            "choose.",
            "",
            "| dtype | layer | m | kernel µs | BLAS µs | kernel / BLAS "
            "| default |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for dtype in (np.float32, np.float64):
            for k, n in GRADIENT_LAYERS:
                for m in GRADIENT_ROWS:
                    funcs, default = gradient_case(k, n, m, dtype, rng)
                    side = default_side(funcs, default())
                    t = timed_turns(funcs, args.repeats)
                    lines.append(
                        f"| {np.dtype(dtype).name} | {k} → {n} | {m} "
                        f"| {t['kernel']:.1f} | {t['BLAS']:.1f} "
                        f"| {t['kernel'] / t['BLAS']:.2f} | {side} |")
                    print(lines[-1], flush=True)
                    assert side != "?", "the default call matches no side"
    lines += machine_footer("bench_small_gemm.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
