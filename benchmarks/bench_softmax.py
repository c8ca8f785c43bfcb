"""Softmax regression on an MNIST-shaped problem: sklearn-mcnn against
scikit-learn and PyTorch, in one run.

Two generated problems (60,000 training and 10,000 test rows by default,
784 features, 10 classes, float64), each with its own table and targets:
``clusters`` (``make_classification``, standardised; alpha=1e-4 and a
reference converged to tol=1e-6, as for issues 2 and 5) and ``digits``
(scikit-learn's digits upsampled to 28 × 28 and randomly deformed, pixels in
[0, 1]; alpha = 1/n, LogisticRegression's default C=1 and tolerance, as
issue 17 asks).  L-BFGS needs hundreds of iterations on the digits.
Every model minimises (or is scored by) the same objective, the SPEC's

    F(W, b) = mean_i ℓ_i + (alpha / 2) ‖W‖²_F,   ℓ = softmax cross-entropy,

computed here by one NumPy function on the training set from each model's
``(W, b)``.  The rows:

- ``LogisticRegression(lbfgs, C = 1 / (alpha · n_train))`` — the same
  optimum as ``SoftmaxClassifier(alpha)``; converged tightly (tol=1e-6), it is the
  reference for the objective, the accuracy and the time;
- ``SGDClassifier(loss='log_loss', alpha=alpha)`` — one-vs-rest, so it
  minimises another objective; its F is reported for completeness;
- a PyTorch softmax (``nn.Linear`` + cross-entropy, Adam, weight decay on
  the weights only, the same batch size and learning rate as ours), when
  torch is importable;
- ``SoftmaxClassifier`` with each solver.

Our stochastic solvers' rows are fits of ``--epochs`` epochs whose learning
rate anneals to 0 over the fit (``learning_rate='cosine'``); torch's row
keeps a constant rate.  Their "time to target" is the training time until
the test accuracy first reaches LogisticRegression's minus 0.5 points (ours:
the fit time of the first of fresh fits of 1, 2, 4, 8, ... epochs, each
annealed over its own epochs, whose final model reaches it, given up once a
fit takes longer than 0.1× LR's fit time, the target's bound: a user who
asks for that many epochs gets the target in that time; torch: the
cumulated time of its first ``--epochs`` epochs, evaluation excluded).

Peak memory is the resident set size (``/proc/self/statm``) sampled every
2 ms by a background thread during the fit, minus its value before the fit:
unlike ``tracemalloc`` it sees BLAS and PyTorch buffers.

Targets (issues 2, 5 and 17), printed as met / not met:

- ``SoftmaxClassifier(alpha)``, its default ``tol`` and ``max_iter``, reaches
  LogisticRegression's objective (relative gap ≤ 1e-4) in at most 0.3× its
  fit time;
- ``lbfgs`` reaches LogisticRegression's objective (relative gap ≤ 1e-4) in
  at most 0.3× its fit time (the time of a fresh fit cut at the first
  iteration within the gap);
- ``adam`` reaches LogisticRegression's test accuracy minus 0.5 points in at
  most 0.1× its fit time.

Run ``python benchmarks/bench_softmax.py`` (full size, a few minutes) or
``--quick`` (a smoke run on 6,000 rows).  The table is printed and written to
``benchmarks/results/bench_softmax.md``.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier

from sklearn_mcnn import SoftmaxClassifier

from _common import (
    DATASETS,
    PeakMemory,
    load_dataset,
    machine_footer,
    torch_epoch,
    write_report,
)

RESULTS = Path(__file__).resolve().parent / "results"

#: Learning rates of the stochastic solvers (batch 200), unless a data set's
#: settings give its own (below).
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3, "adagrad": 0.05, "rmsprop": 1e-3}


# --------------------------------------------------------------- measuring


def objective(W, b, X, y, alpha):
    """F(W, b) = mean cross-entropy of softmax(X Wᵀ + b) + alpha/2 ‖W‖², stably."""
    scores = X @ W.T + b
    top = scores.max(axis=1, keepdims=True)
    lse = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
    data = np.mean(lse - scores[np.arange(len(y)), y])
    return float(data + 0.5 * alpha * np.sum(W * W))


def accuracy(W, b, X, y):
    return float(np.mean(np.argmax(X @ W.T + b, axis=1) == y))


# -------------------------------------------------------------------- data


# ------------------------------------------------------------------ models


def run_sklearn(name, est, X, y, X_test, y_test, alpha):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with PeakMemory() as mem:
            tic = time.perf_counter()
            est.fit(X, y)
            seconds = time.perf_counter() - tic
    W, b = est.coef_, est.intercept_
    return dict(name=name, seconds=seconds, acc=accuracy(W, b, X_test, y_test),
                F=objective(W, b, X, y, alpha), mem=mem.mib,
                iters=int(np.max(est.n_iter_)))


def run_ours_lbfgs(X, y, X_test, y_test, alpha, tol, F_ref):
    """The lbfgs row (converged to ``tol``), and its time to the reference
    objective: a fresh fit of as many iterations as the first objective
    within 1e-4 of ``F_ref`` took (L-BFGS is deterministic, so it is the
    same path cut there)."""
    est = SoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=tol, max_iter=2000)
    row = run_sklearn("SoftmaxClassifier(lbfgs)", est, X, y, X_test, y_test, alpha)
    curve = np.asarray(est.loss_curve_)
    reached = np.flatnonzero(curve <= F_ref + 1e-4 * abs(F_ref))
    row["to_reference"] = None
    if reached.size:
        cut = SoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=0.0,
                                max_iter=int(reached[0]) + 1)
        row["to_reference"] = run_sklearn("cut", cut, X, y, X_test, y_test,
                                          alpha)["seconds"]
    return row


def run_ours_stochastic(solver, lr, X, y, X_test, y_test, alpha, epochs,
                        target_acc, budget):
    """One fit of ``epochs`` epochs for the row, and the time to the target
    accuracy: the fit time of the first of fresh fits of 1, 2, 4, ...
    epochs (each annealed over its own epochs) whose test accuracy reaches
    ``target_acc``, given up once a fit takes more than ``budget`` seconds."""

    def new(max_iter):
        return SoftmaxClassifier(
            solver=solver, alpha=alpha, learning_rate_init=lr,
            learning_rate="cosine", max_iter=max_iter, tol=0.0,
            n_iter_no_change=10**9, random_state=0)

    row = run_sklearn(f"SoftmaxClassifier({solver}, lr={lr:g}, cosine)",
                      new(epochs), X, y, X_test, y_test, alpha)
    reached, n_epochs, seconds = None, 1, 0.0
    while seconds <= budget:
        est = new(n_epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            est.fit(X, y)
            seconds = time.perf_counter() - tic
        if seconds <= budget and est.score(X_test, y_test) >= target_acc:
            reached = seconds
            break
        n_epochs *= 2
    row["to_target"] = reached
    row["to_target_epochs"] = n_epochs
    return row


def run_torch(X, y, X_test, y_test, alpha, epochs, target_acc, lr=1e-3,
              batch_size=200):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    model = torch.nn.Linear(X.shape[1], 10).double()
    with torch.no_grad():  # zeros, as LogisticRegression and ours
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.Adam([
        {"params": [model.weight], "weight_decay": alpha},
        {"params": [model.bias], "weight_decay": 0.0},
    ], lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds, reached, peak = 0.0, None, 0.0
    for _ in range(epochs):
        with PeakMemory() as mem:
            seconds += torch_epoch(model, opt, loss_fn, Xt, yt, batch_size)
        peak = max(peak, mem.mib)
        W = model.weight.detach().numpy()
        b = model.bias.detach().numpy()
        acc = accuracy(W, b, X_test, y_test)
        if reached is None and acc >= target_acc:
            reached = seconds
    return dict(name=f"PyTorch softmax (adam, lr={lr:g})", seconds=seconds,
                acc=acc, F=objective(W, b, X, y, alpha), mem=peak,
                iters=epochs, to_target=reached)


# -------------------------------------------------------------------- main


#: Per data set: the penalty (None: ``1 / n``, LogisticRegression's default
#: C=1) and the tolerance of the reference LogisticRegression.  The clusters
#: keep the settings of issues 2 and 5 (a tightly converged reference); the
#: digits those of issue 17 (C=1 at LogisticRegression's default tolerance).
#: Adam's rate on the digits (pixels in [0, 1], not standardised): annealed
#: over 10, 15-20 epochs, 3e-3 gave 90.7, 91.2 % test accuracy, 1e-2 91.4,
#: 91.7-91.8 %, 3e-2 91.7, 91.8 % (AMD EPYC, 2026-12-07; a constant 1e-3 gave
#: 91.0 % after 40 epochs); 1e-2, the middle one.  On the standardised
#: clusters 1e-3 reaches the target in one epoch, 1e-2 not in eight.
SETTINGS = {"clusters": dict(alpha=1e-4, lr_tol=1e-6, learning_rates={}),
            "digits": dict(alpha=None, lr_tol=1e-4,
                           learning_rates={"adam": 1e-2})}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60000,
                        help="training rows (default 60000); the test set has "
                             "min(10000, n/6) rows")
    parser.add_argument("--n-features", type=int, default=784,
                        help="features of the clusters (the digits have 784)")
    parser.add_argument("--datasets", default="clusters,digits",
                        help="comma-separated names among "
                             f"{', '.join(DATASETS)} (default: all)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="penalty (default: 1e-4 on the clusters, 1/n on "
                             "the digits)")
    parser.add_argument("--epochs", type=int, default=8,
                        help="most epochs of the stochastic solvers")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 6000 rows, 3 epochs")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "bench_softmax.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.epochs = 6000, 3

    load_start = os.getloadavg()[0]
    lines = []
    for name in args.datasets.split(","):
        lines += run_dataset(name, args) + [""]
    lines += machine_footer("bench_softmax.py", argv, load_start)
    out = write_report(lines, args.output)
    print(f"written to {out}")


def run_dataset(name, args):
    """The table and the targets of one data set, as report lines."""
    n_test = min(10000, args.n_samples // 6)
    tic = time.perf_counter()
    n_features = 784 if name == "digits" else args.n_features
    X, y, X_test, y_test = load_dataset(name, args.n_samples, n_test, n_features)
    print(f"{name}: {X.shape[0]} x {X.shape[1]} train, {n_test} test, "
          f"{time.perf_counter() - tic:.1f} s to generate", flush=True)
    n = X.shape[0]
    settings = SETTINGS[name]
    alpha = args.alpha or settings["alpha"] or 1.0 / n

    rows = []
    # The reference: multinomial LogisticRegression at the same optimum.
    lr_row = run_sklearn(
        f"LogisticRegression(lbfgs, tol={settings['lr_tol']:g})",
        LogisticRegression(C=1.0 / (alpha * n), tol=settings["lr_tol"],
                           max_iter=1000),
        X, y, X_test, y_test, alpha,
    )
    rows.append(lr_row)
    print(lr_row, flush=True)
    target_acc = lr_row["acc"] - 0.005
    rows.append(run_sklearn(
        "SGDClassifier(log_loss, OvR)",
        SGDClassifier(loss="log_loss", alpha=alpha, max_iter=args.epochs,
                      tol=None, random_state=0),
        X, y, X_test, y_test, alpha,
    ))
    print(rows[-1], flush=True)
    if not args.no_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch is not importable: no PyTorch row")
        else:
            rows.append(run_torch(X, y, X_test, y_test, alpha, args.epochs,
                                  target_acc))
            print(rows[-1], flush=True)
    lr_defaults = run_sklearn(
        "LogisticRegression(C), default tol and max_iter",
        LogisticRegression(C=1.0 / (alpha * n)), X, y, X_test, y_test, alpha)
    rows.append(lr_defaults)
    print(rows[-1], flush=True)
    defaults = run_sklearn("SoftmaxClassifier(alpha), default tol and max_iter",
                           SoftmaxClassifier(alpha=alpha), X, y, X_test, y_test,
                           alpha)
    rows.append(defaults)
    print(rows[-1], flush=True)
    ours_lbfgs = run_ours_lbfgs(X, y, X_test, y_test, alpha,
                                min(1e-5, settings["lr_tol"]), lr_row["F"])
    rows.append(ours_lbfgs)
    print(rows[-1], flush=True)
    ours = {}
    for solver in ["sgd", "adam", "adagrad", "rmsprop"]:
        lr = settings["learning_rates"].get(solver, LEARNING_RATES[solver])
        ours[solver] = run_ours_stochastic(solver, lr, X, y, X_test, y_test,
                                           alpha, args.epochs, target_acc,
                                           budget=0.1 * lr_row["seconds"])
        rows.append(ours[solver])
        print(rows[-1], flush=True)

    F_ref, T_ref = lr_row["F"], lr_row["seconds"]
    lines = [
        f"**{name}**: softmax regression, {n} x {X.shape[1]} (train), {n_test} "
        f"test rows, 10 classes, float64, alpha={alpha:g} "
        f"(LogisticRegression C={1 / (alpha * n):.4g}).",
        "",
        "| model | iterations / epochs | fit s | time ratio vs LR | test acc % "
        "| F (train) | rel. gap to LR's F | time to LR acc − 0.5 (s) "
        "| peak memory added (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        gap = (r["F"] - F_ref) / abs(F_ref)
        tt = r.get("to_target")
        tt = "—" if "to_target" not in r else ("not reached" if tt is None
                                               else f"{tt:.2f}")
        lines.append(
            f"| {r['name']} | {r['iters']} | {r['seconds']:.2f} | "
            f"{r['seconds'] / T_ref:.3f} | {100 * r['acc']:.2f} | "
            f"{r['F']:.6f} | {gap:+.2e} | {tt} | {r['mem']:.0f} |"
        )
    defaults_gap = (defaults["F"] - F_ref) / abs(F_ref)
    defaults_ratio = defaults["seconds"] / T_ref
    defaults_met = defaults_gap <= 1e-4 and defaults_ratio <= 0.3
    lbfgs_gap = (ours_lbfgs["F"] - F_ref) / abs(F_ref)
    to_ref = ours_lbfgs["to_reference"]
    lbfgs_ratio = np.inf if to_ref is None else to_ref / T_ref
    met = lbfgs_ratio <= 0.3
    adam_tt = ours["adam"]["to_target"]
    adam_ratio = None if adam_tt is None else adam_tt / T_ref
    adam_met = adam_ratio is not None and adam_ratio <= 0.1
    return lines + [
        "",
        f"Targets ({name}):",
        "",
        f"- `SoftmaxClassifier(alpha)` with its default `tol` and `max_iter` "
        f"reaches LR's objective (rel. gap ≤ 1e-4) in ≤ 0.3× LR's time: "
        f"**{'met' if defaults_met else 'not met'}** ({defaults['iters']} "
        f"iterations, gap {defaults_gap:+.1e}, time ratio {defaults_ratio:.3f}; "
        f"LogisticRegression(C) with the same defaults: gap "
        f"{(lr_defaults['F'] - F_ref) / abs(F_ref):+.1e} in "
        f"{lr_defaults['seconds'] / T_ref:.3f}× LR's time)",
        f"- lbfgs reaches LR's objective (rel. gap ≤ 1e-4) in ≤ 0.3× LR's time: "
        f"**{'met' if met else 'not met'}** (final gap {lbfgs_gap:+.1e}, "
        f"time to LR's objective / LR's time {lbfgs_ratio:.3f})",
        f"- adam reaches LR's test accuracy − 0.5 points "
        f"({100 * target_acc:.2f} %) in ≤ 0.1× LR's time: "
        f"**{'met' if adam_met else 'not met'}** (time ratio "
        f"{'not reached' if adam_ratio is None else f'{adam_ratio:.3f}'}, "
        f"{'fit' if adam_met else 'last fit tried'}: "
        f"{ours['adam']['to_target_epochs']} epochs, cosine schedule)",
    ]


if __name__ == "__main__":
    main()
