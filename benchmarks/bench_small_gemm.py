"""The forward product of a small batch: the kernels' own few-rows product
(``sklearn_mcnn/_small_gemm.h``) against SciPy's BLAS, which the kernels
call otherwise, and NumPy's ``matmul`` as a yardstick.

Each case is one layer's forward pass, ``X W + b`` for ``m`` rows
(:func:`sklearn_mcnn._network.forward` on a one-layer network, scores
only, one thread), timed with the few-rows kernel and with it switched off
(``_network.small_gemm_rows`` set to 0), and ``X @ W + b`` in NumPy (its own
OpenBLAS, one thread), the three taking turns; the median of repeated
calls.  The layers are those of the package's benchmarks: 784 → 256 → 128
→ 10 (``bench_mlp``, ``bench_predict``), 784 → 10 (the softmax model) and
20 → 64 → 3.  The kernel's row limits (``mcnn_small_gemm_rows`` in
``_small_gemm.h``, per dtype: for layers of at least 32 outputs and for
narrower ones) are read from this table: where the kernel is no slower
than BLAS.

Run from the repository root (about a minute)::

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
LAYERS = [(784, 256), (256, 128), (128, 10), (784, 10), (20, 64), (64, 3)]
ROWS = [2, 4, 8, 16, 24, 32, 48, 64, 96, 128]


def median_seconds(func, repeats):
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        func()
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def layer_case(k, n, m, dtype, rng):
    """The three contenders of one layer's forward product for m rows."""
    net = _network.Network((k, n), capacity=m)
    params = rng.standard_normal(net.n_params).astype(dtype)
    running = np.empty(0, dtype=dtype)
    X = rng.standard_normal((m, k)).astype(dtype)
    data = _network.Dataset(X)
    out = np.empty((m, n), dtype=dtype)
    W = params[:k * n].reshape(k, n)
    b = params[k * n:]

    def ours(rows):
        def run():
            previous = _network.small_gemm_rows(float32=(rows, rows),
                                                float64=(rows, rows))
            try:
                _network.forward(net, data, params, running, out, False, 1)
            finally:
                _network.small_gemm_rows(**previous)
            return out.copy()
        return run

    def default():
        _network.forward(net, data, params, running, out, False, 1)
        return out.copy()

    return {"kernel": ours(1 << 20), "BLAS": ours(0),
            "NumPy": lambda: np.matmul(X, W) + b}, default


def default_side(funcs, net_out):
    """Which side the default limits choose: the one whose scores the
    default call reproduces bit for bit."""
    kernel, blas = funcs["kernel"](), funcs["BLAS"]()
    if np.array_equal(net_out, kernel) and not np.array_equal(kernel, blas):
        return "kernel"
    return "BLAS" if np.array_equal(net_out, blas) else "?"


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
        "# A small batch's forward product: the few-rows kernel against "
        "BLAS",
        "",
        "Median µs of one layer's `X W + b` for m rows, one thread; "
        "`kernel / BLAS` below 1: the kernel is faster; `default`: the side "
        "the kernels' row limits choose.",
        "",
        "| dtype | layer | m | kernel µs | BLAS µs | NumPy µs "
        "| kernel / BLAS | kernel / NumPy | default |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    with threadpool_limits(1):
        for dtype in (np.float32, np.float64):
            for k, n in LAYERS:
                for m in ROWS:
                    funcs, default = layer_case(k, n, m, dtype, rng)
                    side = default_side(funcs, default())
                    t = {name: [] for name in funcs}
                    for _ in range(5):      # turns, so bursts hit all alike
                        for name, f in funcs.items():
                            t[name].append(median_seconds(
                                f, max(1, args.repeats // 5)))
                    t = {name: 1e6 * float(np.median(v))
                         for name, v in t.items()}
                    lines.append(
                        f"| {np.dtype(dtype).name} | {k} → {n} | {m} "
                        f"| {t['kernel']:.1f} | {t['BLAS']:.1f} "
                        f"| {t['NumPy']:.1f} "
                        f"| {t['kernel'] / t['BLAS']:.2f} "
                        f"| {t['kernel'] / t['NumPy']:.2f} | {side} |")
                    print(lines[-1], flush=True)
                    assert side != "?", "the default call matches neither side"
    lines += machine_footer("bench_small_gemm.py", argv, load_start)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
