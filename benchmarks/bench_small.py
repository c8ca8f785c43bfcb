"""Fit time on small and medium problems: sklearn-mcnn against scikit-learn,
on idle cores and with one core kept busy, in one run.

Data sets: scikit-learn's bundled iris, wine, breast cancer and digits, and
``make_classification(n_samples=n, n_features=d, n_informative=min(d, 10),
n_classes=k, random_state=0)`` for n in {1000, 10000, 100000}, d in {20,
100, 500}, k in {2, 10}; each standardized (``StandardScaler`` on all rows,
float64).  Only the fit is timed, on all rows.

Pairs, ours against scikit-learn's with the same settings:

- ``SoftmaxClassifier(alpha=1e-4, solver='lbfgs', max_iter=100)`` (the
  defaults) against ``LogisticRegression(lbfgs, max_iter=100)`` at the same
  optimum: ours minimises the mean loss + alpha/2 ‖W‖², so ``C = 1 / (alpha
  · n)`` for three or more classes, and ``C = 2 / (alpha · n)`` for two
  (ours keeps one weight row per class, w₁ = −w₀ at the optimum, which
  halves the penalty of the logistic weights w₁ − w₀);
- ``MLPBackpropClassifier`` against ``MLPClassifier``, both
  ``hidden_layer_sizes=(100,), max_iter=E, n_iter_no_change=E, tol=0,
  random_state=0`` (default adam, batch ``min(200, n)``): exactly E epochs
  each (``--epochs``, 10 by default; their ConvergenceWarnings silenced).
  The constructor arguments are the same, the penalty is not quite:
  MLPClassifier divides ``alpha`` by the batch size;
- ``OneVsAllClassifier()`` against
  ``sklearn.multiclass.OneVsRestClassifier(SoftmaxClassifier())`` and our
  ``OneVsOneClassifier()`` against scikit-learn's
  ``OneVsOneClassifier(SoftmaxClassifier())``: the same base, our
  ``SoftmaxClassifier``, so the rows measure the reductions themselves;
  only for k > 2 classes (they differ from the base fit only there).

Each cell (data set × pair) is measured in two load conditions in one run:

(a) idle: nothing else started by the benchmark;
(b) busy: one core kept busy by a child process the benchmark starts before
    the cell's busy measurements and stops after them (a pure-Python spin
    loop, ``while True: pass`` in effect; it also ends by itself within
    about 20 ms if the benchmark dies without cleaning up, e.g. on SIGKILL
    or a segfault); and, for ours only,
(c) ours with one thread under the busy core:
    ``threadpoolctl.threadpool_limits(1)`` around the fit (OpenMP and BLAS).

Times are the median of ``--repeats`` fits (3 by default) of a fresh
estimator; within each cell and condition the contenders take turns fit by
fit (order rotated every repeat); each fit starts once no other thread of
the process runs, so that the previous fit's BLAS and OpenMP threads have
stopped spinning (OpenBLAS's spin for 0.11 s after a call: the fixed 0.1 s
pause used before did not outlast them, and a 7 ms softmax fit on iris
took 14 ms right after a ``LogisticRegression`` fit under the busy core),
after an optional ``--settle`` pause.  Each
contender is first fitted once on iris, untimed (one-time set-up: lazy
imports, thread pools).  Targets: ours / scikit-learn ≤ 1.0 idle, and ours
busy / ours 1-thread busy ≤ 1.5 (a parallel fit should not lose much when
a core is taken).

A second table, "threads woken", counts the OS threads of a fresh process
(``/proc/self/task``) after the imports, after one fit of ours on the
smallest data set the pair runs on and after one on the largest: a jump
means the fit started a thread pool (OpenMP) that stays alive.  OpenBLAS
starts its threads when it is loaded, so they are in the count after the
imports already.  (In the benchmark's own process scikit-learn's fits start
pools as well, so the count is taken in a child process per estimator.)

To stay within about 30 minutes on 2 cores, the MLP and reduction pairs
skip the cells with n × d above ``--max-nd`` (10^7 by default: the
100000 × 500 cells); the softmax pair runs on every cell.

Run from the repository root::

    python benchmarks/bench_small.py                    # full grid, ~30 min (est.)
    python benchmarks/bench_small.py --quick --repeats 1 # smoke run, < 1 min
    python benchmarks/bench_small.py --sizes 10000x100x10 --pairs softmax mlp
    python benchmarks/bench_small.py --bundled --sizes '1000x*x10'

The tables are printed and written to ``benchmarks/results/bench_small.md``.
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsOneClassifier as SkOneVsOneClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

from _common import cpu_model, machine_footer, wait_for_idle_threads, write_report

RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 1e-4          # SoftmaxClassifier's default
HIDDEN = (100,)
BUNDLED = {"iris": load_iris, "wine": load_wine,
           "breast_cancer": load_breast_cancer, "digits": load_digits}
GRID_N = (1000, 10000, 100000)
GRID_D = (20, 100, 500)
GRID_K = (2, 10)
IDLE_TARGET = 1.0     # ours / scikit-learn, idle, at most
BUSY_TARGET = 1.5     # ours busy / ours 1-thread busy, at most
# The busy core: a pure-Python spin loop that also stops by itself (within
# ~20 ms) once its parent is gone, so a benchmark killed without cleaning up
# (SIGKILL, a segfault) leaves no spinning orphan on this shared machine.
SPIN = ("import os\np = os.getppid()\nwhile os.getppid() == p:\n"
        "    for _ in range(10**6): pass\n")


# ------------------------------------------------------------------ data


def dataset_names(args):
    """The data sets of the run, in order: the bundled ones, then the
    generated cells ``NxDxK`` that ``--sizes`` keeps."""
    names = list(args.bundled)
    grid_n = GRID_N[:1] if args.quick else GRID_N
    for n in grid_n:
        for d in GRID_D:
            for k in GRID_K:
                name = f"{n}x{d}x{k}"
                if any(fnmatch.fnmatchcase(name, p) or
                       fnmatch.fnmatchcase(name, p + "x*") for p in args.sizes):
                    names.append(name)
    return names


def load(name):
    """``(X, y)`` of a bundled data set or a generated cell, standardized."""
    if name in BUNDLED:
        X, y = BUNDLED[name](return_X_y=True)
    else:
        n, d, k = map(int, name.split("x"))
        X, y = make_classification(n_samples=n, n_features=d,
                                   n_informative=min(d, 10), n_classes=k,
                                   random_state=0)
    return np.ascontiguousarray(StandardScaler().fit_transform(X)), y


def display(name):
    """A data set's name in the table."""
    return name.replace("_", " ") if name in BUNDLED else "make_classification"


def shape_of(name):
    """``(n, d, k)`` of a data set without loading a generated one."""
    if name in BUNDLED:
        X, y = load(name)
        return X.shape[0], X.shape[1], np.unique(y).size
    return tuple(map(int, name.split("x")))


# ------------------------------------------------------------ contenders


def _lr(n, k, epochs):
    # Same optimum as SoftmaxClassifier(alpha): see the module docstring.
    return LogisticRegression(C=(1.0 if k > 2 else 2.0) / (ALPHA * n),
                              solver="lbfgs", max_iter=100)


def _softmax(n, k, epochs):
    return SoftmaxClassifier(alpha=ALPHA, solver="lbfgs", max_iter=100)


def _mlp_params(epochs):
    return dict(hidden_layer_sizes=HIDDEN, max_iter=epochs,
                n_iter_no_change=epochs, tol=0, random_state=0)


# key: (label, scikit-learn's factory, ours, multiclass only, big cells)
PAIRS = {
    "softmax": ("Softmax / LogisticRegression", _lr, _softmax, False, True),
    "mlp": ("MLPBackprop / MLPClassifier",
            lambda n, k, e: MLPClassifier(**_mlp_params(e)),
            lambda n, k, e: MLPBackpropClassifier(**_mlp_params(e)),
            False, False),
    "ova": ("OneVsAll / OneVsRest(Softmax)",
            lambda n, k, e: OneVsRestClassifier(SoftmaxClassifier()),
            lambda n, k, e: OneVsAllClassifier(), True, False),
    "ovo": ("OneVsOne / OneVsOne(Softmax)",
            lambda n, k, e: SkOneVsOneClassifier(SoftmaxClassifier()),
            lambda n, k, e: OneVsOneClassifier(), True, False),
}


def runs_on(key, shape, max_nd):
    """Whether pair ``key`` is measured on a data set of this shape."""
    n, d, k = shape
    _, _, _, multiclass_only, big = PAIRS[key]
    return (k > 2 or not multiclass_only) and (big or n * d <= max_nd)


def n_threads():
    """OS threads of this process (None without ``/proc/self/task``)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def timed_fit(make, X, y, settle, one_thread=False):
    """Seconds of one ``fit`` of a fresh estimator (after ``settle`` s and
    once no other thread of the process runs)."""
    model = make()
    time.sleep(settle)
    wait_for_idle_threads()
    if one_thread:
        with threadpool_limits(1):
            tic = time.perf_counter()
            model.fit(X, y)
            return time.perf_counter() - tic
    tic = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - tic


class BusyCore:
    """One core kept busy by a child process during the ``with`` block;
    ``cpu`` is the fraction of a core the child used, ``None`` unknown."""

    def __init__(self):
        self.proc = None
        self.cpu = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SPIN])
        self.started = time.perf_counter()
        try:
            time.sleep(0.2)   # let it start spinning
        except BaseException:   # Ctrl-C here: __exit__ would not run
            self.__exit__()
            raise
        return self

    def _cpu_seconds(self):
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def __exit__(self, *exc):
        if self.proc is None:
            return
        cpu = self._cpu_seconds()
        if cpu is not None:
            self.cpu = cpu / (time.perf_counter() - self.started)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def measure_cell(keys, X, y, shape, args, busy_cpu):
    """Median fit seconds of every pair in ``keys`` on ``(X, y)``: per pair
    ``sk_idle``, ``ours_idle``, ``sk_busy``, ``ours_busy``, ``ours1_busy``."""
    n, _, k = shape
    makers = {key: (lambda f=PAIRS[key][1]: f(n, k, args.epochs),
                    lambda f=PAIRS[key][2]: f(n, k, args.epochs))
              for key in keys}
    times = {key: {c: [] for c in ("sk_idle", "ours_idle", "sk_busy",
                                   "ours_busy", "ours1_busy")}
             for key in keys}

    def rounds(conditions):
        for r in range(args.repeats):
            for key in keys:
                sk, ours = makers[key]
                order = [(c, sk if c.startswith("sk") else ours,
                          c.startswith("ours1")) for c in conditions]
                shift = r % len(order)
                for c, make, one in order[shift:] + order[:shift]:
                    times[key][c].append(
                        timed_fit(make, X, y, args.settle, one))

    rounds(("sk_idle", "ours_idle"))
    with BusyCore() as busy:
        rounds(("sk_busy", "ours_busy", "ours1_busy"))
    if busy.cpu is not None:
        busy_cpu.append(busy.cpu)
    return {key: {c: float(np.median(v)) for c, v in t.items()}
            for key, t in times.items()}


# ------------------------------------------------------- threads woken


def probe_threads(key, names, epochs):
    """Threads of this (fresh) process after the imports and after one fit
    of ours on each data set of ``names``."""
    counts = [n_threads()]
    for name in names:
        X, y = load(name)
        PAIRS[key][2](X.shape[0], np.unique(y).size, epochs).fit(X, y)
        counts.append(n_threads())
    return counts


def threads_table(keys, names, args):
    """Run ``probe_threads`` in a child process per pair."""
    rows = []
    for key in keys:
        shapes = [(name, shape_of(name)) for name in names]
        mine = sorted((s[0] * s[1], s[2], name) for name, s in shapes
                      if runs_on(key, s, args.max_nd))
        if not mine:
            continue
        probe = [mine[0][2]] if len(mine) == 1 else [mine[0][2], mine[-1][2]]
        out = subprocess.run(
            [sys.executable, __file__, "--epochs", str(args.epochs),
             "--probe-threads", key, *probe],
            capture_output=True, text=True, check=False)
        try:
            counts = json.loads(out.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            print(f"thread probe of {key} failed:\n{out.stderr}", flush=True)
            continue
        rows.append((key, probe, counts))
        print(f"threads {key}: {dict(zip(['import', *probe], counts))}",
              flush=True)
    return rows


# ------------------------------------------------------------------ output


def fmt_s(t):
    return f"{t:.4f}" if t < 1 else f"{t:.3f}" if t < 10 else f"{t:.2f}"


def fmt_ratio(value, ok):
    return f"{value:.2f} {'✓' if ok else '✗'}"


def report(results, skipped, thread_rows, args, argv, load_start, busy_cpu,
           threads_main, elapsed):
    lines = [
        f"Fit time (s), median of {args.repeats} fit(s) of a fresh estimator, "
        "contenders taking turns fit by fit; standardized float64 data, all "
        f"rows.  Softmax: alpha={ALPHA:g}, lbfgs, max_iter=100 "
        f"(LogisticRegression C = 1/(alpha·n), 2/(alpha·n) for 2 classes); "
        f"MLP (100,) adam: {args.epochs} epochs, tol=0; reductions over "
        "SoftmaxClassifier() on both sides (k > 2 only).  Busy: one core "
        "taken by a spinning child process; 1-thread: "
        "`threadpool_limits(1)` around our fit, under the busy core.",
        "",
        "| data set | n × d × k | pair (ours / scikit-learn) | sklearn idle s "
        "| ours idle s | ours / sklearn idle | sklearn busy s | ours busy s "
        "| ours 1-thread busy s | ours busy / 1-thread busy |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    met_idle, met_busy = {}, {}
    for name, shape, key, t in results:
        idle = t["ours_idle"] / t["sk_idle"]
        busy = t["ours_busy"] / t["ours1_busy"]
        met_idle.setdefault(key, []).append(idle <= IDLE_TARGET)
        met_busy.setdefault(key, []).append(busy <= BUSY_TARGET)
        lines.append(
            f"| {display(name)} | {' × '.join(map(str, shape))} | "
            f"{PAIRS[key][0]} | "
            f"{fmt_s(t['sk_idle'])} | {fmt_s(t['ours_idle'])} | "
            f"{fmt_ratio(idle, idle <= IDLE_TARGET)} | {fmt_s(t['sk_busy'])} | "
            f"{fmt_s(t['ours_busy'])} | {fmt_s(t['ours1_busy'])} | "
            f"{fmt_ratio(busy, busy <= BUSY_TARGET)} |")

    def count(met):
        total = sum(map(sum, met.values()))
        cells = sum(map(len, met.values()))
        per = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in met.items())
        return f"{total} of {cells} cells ({per})"

    lines += [
        "",
        f"Targets met: ours / sklearn idle ≤ {IDLE_TARGET:g} in "
        f"{count(met_idle)}; ours busy / ours 1-thread busy ≤ "
        f"{BUSY_TARGET:g} in {count(met_busy)}.",
    ]
    if skipped:
        lines += ["", "Not measured (n × d > --max-nd "
                  f"{args.max_nd:g}): " + "; ".join(skipped) + "."]
    if thread_rows:
        lines += [
            "",
            "Threads woken: OS threads of a fresh process "
            "(`/proc/self/task`) after the imports and after one fit of "
            "ours (default threads, idle) on the smallest and the largest "
            "data set of its pair in this run; a jump is a thread pool "
            "started by the fit.",
            "",
            "| ours | after import | after fit on the smallest "
            "| after fit on the largest |",
            "|---|---:|---:|---:|",
        ]
        for key, probe, counts in thread_rows:
            cells = [f"{c} ({p})" for c, p in zip(counts[1:], probe)]
            cells += ["—"] * (2 - len(cells))
            label = PAIRS[key][0].split(" / ")[0]
            lines.append(f"| {label} | {counts[0]} | " + " | ".join(cells)
                         + " |")
    lines += [
        "",
        f"This process: {threads_main[0]} OS threads before the fits, "
        f"{threads_main[1]} after.  Busy child: "
        + (f"{100 * np.mean(busy_cpu):.0f} % of a core on average"
           if busy_cpu else "CPU use unknown")
        + f".  Run time {elapsed / 60:.1f} min on {cpu_model()}.",
    ]
    lines += machine_footer("bench_small.py", argv, load_start)
    return lines


def _exit_on_sigterm(signum, frame):
    # SIGTERM / SIGHUP unwind like Ctrl-C, so the busy child is stopped.
    raise SystemExit(128 + signum)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--repeats", type=int, default=3,
                        help="fits per contender and condition, the median "
                             "is kept (default 3)")
    parser.add_argument("--epochs", type=int, default=10,
                        help="MLP epochs, both sides (default 10)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the bundled data sets and the "
                             "n=1000 cells only")
    parser.add_argument("--sizes", nargs="+", default=["*"], metavar="NxDxK",
                        help="generated cells to run, shell patterns on "
                             "'NxDxK' (a bare N or NxD matches all its "
                             "cells): e.g. 1000, 10000x100x10, '*x20x*' "
                             "(default: all)")
    parser.add_argument("--bundled", nargs="*", default=list(BUNDLED),
                        choices=list(BUNDLED), metavar="NAME",
                        help="bundled data sets to run (default: iris wine "
                             "breast_cancer digits; none if given no name)")
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS),
                        choices=list(PAIRS))
    parser.add_argument("--max-nd", type=float, default=1e7,
                        help="MLP and reduction pairs only on cells with "
                             "n × d at most this (default 1e7: skips "
                             "100000 × 500); 'inf' for all")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="pause before each fit, s (default 0), before "
                             "waiting for the previous fit's spinning "
                             "threads to sleep")
    parser.add_argument("--no-threads", action="store_true",
                        help="skip the 'threads woken' probes")
    parser.add_argument("--output", default=str(RESULTS / "bench_small.md"))
    parser.add_argument("--probe-threads", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    if args.probe_threads:   # child process of threads_table
        key, *names = args.probe_threads
        print(json.dumps(probe_threads(key, names, args.epochs)))
        return

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGHUP, _exit_on_sigterm)
    load_start = os.getloadavg()[0]
    tic = time.perf_counter()
    names = dataset_names(args)
    thread_rows = [] if args.no_threads else threads_table(args.pairs, names,
                                                           args)
    print(f"thread probes: {time.perf_counter() - tic:.1f} s", flush=True)

    # Warm-up: every contender once on iris, untimed.
    threads_before = n_threads()
    Xw, yw = load("iris")
    for key in args.pairs:
        for make in PAIRS[key][1:3]:
            make(Xw.shape[0], 3, args.epochs).fit(Xw, yw)

    results, skipped, busy_cpu = [], [], []
    for name in names:
        X, y = load(name)
        shape = (X.shape[0], X.shape[1], np.unique(y).size)
        keys = [key for key in args.pairs if runs_on(key, shape, args.max_nd)]
        skipped += [f"{name} {key}" for key in args.pairs
                    if key not in keys and (shape[2] > 2 or not PAIRS[key][3])]
        if not keys:
            continue
        cell_tic = time.perf_counter()
        out = measure_cell(keys, X, y, shape, args, busy_cpu)
        for key in keys:
            results.append((name, shape, key, out[key]))
            print(f"{name:>14} {key:>7}: " + ", ".join(
                f"{c} {fmt_s(v)}" for c, v in out[key].items()), flush=True)
        print(f"{name:>14} done in {time.perf_counter() - cell_tic:.1f} s",
              flush=True)

    lines = report(results, skipped, thread_rows, args, argv, load_start,
                   busy_cpu, (threads_before, n_threads()),
                   time.perf_counter() - tic)
    out = write_report(lines, args.output)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
