"""The training driver: what runs *between* the Cython kernels' loops.

:class:`TrainingMixin` gives :class:`~sklearn_mcnn._base.BaseNetworkClassifier`
its two solvers' drivers:

- mini-batch training, one Cython epoch (:func:`sklearn_mcnn._network.train_epoch`)
  at a time, with Python between epochs for the learning-rate schedules, the
  validation split and score, the best-weight snapshot, the stopping rule,
  the non-finite-loss guard, the verbose line and scikit-learn's callbacks;
- full-batch L-BFGS through :func:`scipy.optimize.minimize` driving the
  Cython objective and gradient (:func:`sklearn_mcnn._network.loss_grad`).

How the kernels are fed is in :mod:`sklearn_mcnn._engine`, how many
threads they run on in :mod:`sklearn_mcnn._threads`.
"""

import math
import time
import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from . import _network
from ._engine import OneOutput, StandardizedCoordinates, dot, mean_loss
from ._threads import forward_work, single_threaded_blas, threads_for

#: The divergence guard of the stochastic solvers: a batch whose mean loss
#: exceeds this many times a starting level stops training with an error.
#: The starting level is the larger of the loss of a uniform prediction and
#: the loss of the first batch, both of the call and of the model's first
#: training call (kept by warm starts and ``partial_fit``).  A
#: diverging fit passes it within an epoch or two (its loss grows
#: geometrically); SGD on unscaled features can jump far above its start and
#: still recover, so the bound keeps a margin: over scikit-learn's bundled
#: data sets, unscaled, with the default settings of every solver, the worst
#: recovering fit reached 1e3-3e3 times its start (SGD, breast cancer).
DIVERGENCE_GROWTH = 1e4

#: ``fit`` warns when it ends with a loss this many times that of predicting
#: the class frequencies (stochastic losses are measured during the epoch,
#: hence the margin).
CHANCE_MARGIN = 1.1


#: Rows per L-BFGS correction pair kept for the convex models, and the
#: bounds of the memory.  scipy's L-BFGS-B (1.17) spends about 5 ns per pair
#: and parameter on each iteration, a softmax evaluation about 0.2 ns per row
#: and parameter (60,000 × 784, 10 classes, 2 threads): one pair per 600 rows
#: keeps the solver within about 5% of the evaluations' time.  On the
#: benchmarks' digits (60,000 rows, ``alpha = 1/n``) the objective
#: LogisticRegression reaches at its default tolerance took 134 iterations
#: with scipy's default of 10 pairs, 111 with 30, 103 with 50 and 90 with
#: 100 (``benchmarks/bench_lbfgs_memory.py``).
LBFGS_ROWS_PER_PAIR = 600
LBFGS_MEMORY = (10, 100)


def lbfgs_memory(net, n_samples):
    """How many correction pairs L-BFGS keeps: scipy's (and
    ``MLPClassifier``'s) 10 for networks with hidden layers, whose path
    decides the local optimum; for the convex models one per
    ``LBFGS_ROWS_PER_PAIR`` rows within ``LBFGS_MEMORY``, which shortens
    the path on ill-conditioned data and never moves the optimum."""
    low, high = LBFGS_MEMORY
    if net.n_layers > 1:
        return low
    return int(min(max(n_samples // LBFGS_ROWS_PER_PAIR, low), high))


def cosine_warm_restarts(epoch, period, period_mult=1):
    """The factor of the initial learning rate in epoch ``epoch`` (from 0)
    under cosine annealing with warm restarts (SGDR, Loshchilov & Hutter
    2017), as ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` with
    ``T_0=period``, ``T_mult=period_mult`` and ``eta_min=0``.

    The i-th cycle lasts ``period * period_mult ** i`` epochs; in epoch
    ``t`` of a cycle of ``T`` epochs the factor is ``(1 + cos(π t / T)) / 2``,
    so each cycle starts at the initial rate (a restart) and decays towards
    0.
    """
    if period_mult == 1:
        t, length = epoch % period, period
    else:
        t, length = epoch, period
        while t >= length:
            t -= length
            length *= period_mult
    return 0.5 * (1.0 + math.cos(math.pi * t / length))


class _CallbackContext:
    """Forward the training progress to scikit-learn's callbacks (>= 1.9).

    A no-op when the estimator has no callbacks or scikit-learn has no
    callback API; otherwise a root task for the fit with one sub-task per
    epoch (L-BFGS: per iteration).
    """

    def __init__(self, estimator, X, y, max_subtasks):
        self.estimator = estimator
        self.X, self.y = X, y
        self.ctx = None
        if hasattr(estimator, "_init_callback_context"):
            self.ctx = estimator._init_callback_context(max_subtasks=max_subtasks)
            self.ctx.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
        self.sub = None

    @property
    def active(self):
        """Whether callbacks follow the fit (scikit-learn 1.9 gives every
        estimator a context; its ``_callbacks`` are the estimator's own and
        its meta-estimator's; unknown: assume some)."""
        return self.ctx is not None and bool(getattr(self.ctx, "_callbacks", True))

    def _state(self):
        est = self.estimator
        return lambda: est._fitted_state()

    def begin(self):
        # Without callbacks, no sub-task: one costs about 20 µs, a tenth of
        # a small L-BFGS iteration.
        if self.active:
            self.sub = self.ctx.subcontext(task_name="epoch")
            self.sub.call_on_fit_task_begin(
                estimator=self.estimator,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self._state(),
            )

    def end(self):
        """End the current sub-task; True when a callback asks to stop."""
        if self.sub is None:
            return False
        stop = self.sub.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            reconstruction_attributes=self._state(),
        )
        self.sub = None
        return bool(stop)

    def close(self):
        if self.ctx is not None:
            self.ctx.call_on_fit_task_end(
                estimator=self.estimator,
                X=self.X,
                y=self.y,
                reconstruction_attributes=self._state(),
            )


class TrainingMixin:
    """The two training drivers of the network estimators."""

    def _full_batch_problem(self):
        """What L-BFGS minimises: ``(network, parameter vector, alpha,
        expand)``.

        A two-class softmax network (log loss) is trained as one logistic
        output (:class:`~sklearn_mcnn._engine.OneOutput`): the vector ``[θ,
        v, c]`` of the hidden layers and of the difference of the two rows,
        the output layer's penalty halved (the network's
        ``output_penalty``), and ``expand(one, params)`` to write the two
        rows ``±v/2``, ``±c/2`` back.  Same objective values and gradient
        entries, and for the softmax model the same optimum with half the
        parameters and work per pass.  Only L-BFGS: it carries no state
        from one fit to the next, so mapping the parameters in and out is
        the whole change; the stochastic solvers' per-parameter state
        (momentum, moments, ``partial_fit`` between calls) stays in the
        two-row form they have always had.  Otherwise: the model's own
        network, a view of ``_params`` and ``alpha``, and ``expand`` None.
        """
        net = self._training_network()
        if (self.solver == "lbfgs" and net.sizes[-1] == 2
                and net.loss_name == "log_loss"):
            one = OneOutput(net)
            return one.net, one.reduce(self._params), self.alpha, one.expand
        return net, self._params, self.alpha, None

    def _fit_lbfgs(self, make_objective, n_samples, callbacks):
        """Full-batch L-BFGS on the Cython objective and gradient.

        ``make_objective(net, params, alpha)`` gives the objective of the
        problem :meth:`_full_batch_problem` chooses: ``objective(w) -> (F,
        ∇F)`` sets ``params`` to ``w``, and ``objective.column_sums()`` gives
        the rows' weighted column sums (a
        :class:`~sklearn_mcnn._engine.FullBatchObjective` in memory, a
        :class:`~sklearn_mcnn._dask.DaskObjective` on a cluster).  L-BFGS
        moves in :class:`~sklearn_mcnn._engine.StandardizedCoordinates`;
        ``tol`` bounds the gradient in the model's own parameters."""
        net, params, alpha, expand = self._full_batch_problem()
        objective = make_objective(net, params, alpha)
        # Standardized coordinates for the convex models only (their docstring
        # has the measurements); their one layer is the output layer, with
        # its own share of the penalty.
        coords = StandardizedCoordinates(
            net, objective.column_sums() if net.n_layers == 1 else None,
            alpha * net.output_penalty)
        self.loss_curve_ = []

        def set_params(x):
            params[:] = x
            if expand is not None:
                expand(params, self._params)

        def on_iteration(intermediate_result):
            self.loss_curve_.append(float(intermediate_result.fun))
            if self.verbose:
                print(f"Iteration {len(self.loss_curve_)}, "
                      f"loss = {intermediate_result.fun:.8f}")
            if callbacks.active:        # they may read the model
                set_params(coords.to_model(intermediate_result.x))
            if callbacks.end():
                raise StopIteration
            callbacks.begin()

        callbacks.begin()
        # The kernels spread row chunks over threads themselves.
        with single_threaded_blas():
            result = self._minimize(objective, coords, on_iteration,
                                    lbfgs_memory(net, n_samples))
            callbacks.end()
            weights = coords.to_model(result.x)
            if not np.all(np.isfinite(weights)):
                raise ValueError("L-BFGS diverged to non-finite weights.")
            # The final full-batch pass also sets batch-norm running statistics.
            self.loss_ = float(objective(weights)[0])
            set_params(weights)
        self.n_iter_ = int(result.nit)
        self.t_ = n_samples
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if not result.success:
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}): {result.message}. Increase max_iter "
                "or scale the data.",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _minimize(self, objective, coords, on_iteration, memory):
        """scipy's L-BFGS-B over the coordinates ``coords``, keeping
        ``memory`` correction pairs, stopping when the largest entry of the
        model's gradient (in its own parameters, as ever and as
        ``LogisticRegression``'s) is at most ``tol``."""
        last = {}

        def fun(v):
            if "v" in last and np.array_equal(v, last["v"]):
                return last["loss"], last["grad"]
            loss, grad = objective(coords.to_model(v))
            # tol is checked before the gradient is mapped (in place).
            converged = np.max(np.abs(grad), initial=0.0) <= self.tol
            last.update(v=np.array(v), loss=loss, grad=coords.gradient(grad),
                        converged=converged)
            return loss, last["grad"]

        def callback(intermediate_result):
            on_iteration(intermediate_result)
            if last["converged"] and np.array_equal(intermediate_result.x,
                                                    last["v"]):
                stop["converged"] = True
                raise StopIteration

        start = coords.from_model(objective.params)
        stop = {"converged": False}
        loss, _ = fun(start)
        if last["converged"]:
            return scipy.optimize.OptimizeResult(
                x=start, fun=loss, nit=0, success=True, status=0,
                message="the start is within tol")
        result = scipy.optimize.minimize(
            fun,
            start,
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={
                "maxiter": self.max_iter,
                "maxfun": max(15000, 2 * self.max_iter),
                "maxls": 50,
                "maxcor": memory,
                "gtol": 0.0,        # tol is checked in the model's parameters
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        if stop["converged"]:
            result.success, result.status = True, 0
        return result

    def _training_network(self):
        """A network of the model's architecture for the training kernels to
        lay out: the fitted ``_net`` itself is never changed by training."""
        net = _network.Network(self._net.sizes, **self._net_options)
        net.label_smoothing = float(self.label_smoothing)
        return net

    def _solver_constants(self):
        """The solver's constants, as :class:`~sklearn_mcnn._network.TrainState`
        takes them."""
        return {
            "solver": _network.SOLVERS[self.solver],
            "momentum": float(self.momentum),
            "nesterov": bool(self.nesterovs_momentum),
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "rho": float(self.rho),
            "epsilon": float(self.epsilon),
            "alpha": float(self.alpha),
        }

    def _epoch_learning_rate(self):
        """The learning rate of the next epoch under the schedule."""
        init = float(self.learning_rate_init)
        if self.learning_rate == "invscaling":
            return init / (self.t_ + 1) ** self.power_t
        if self.learning_rate == "cosine":
            if self.cosine_period is None:     # one decay over max_iter
                progress = min(self.n_iter_, self.max_iter) / self.max_iter
                return init * 0.5 * (1.0 + math.cos(math.pi * progress))
            return init * cosine_warm_restarts(self.n_iter_, self.cosine_period,
                                               self.cosine_period_mult)
        if self.learning_rate == "adaptive":
            return self._learning_rate
        return init

    def _fit_stochastic(self, data, rng, incremental, callbacks, val_data=None,
                        scorer=None):
        """Mini-batch training: Python between epochs, Cython inside them.

        ``val_data`` (the validated ``X_val``, ``y_val``, ``sample_weight_val``)
        replaces the split of the training rows for early stopping in ``fit``,
        and is the held-out monitor of ``partial_fit``."""
        net = self._training_network()
        early_stopping = self.early_stopping and not incremental
        train, val = data, None
        start_is_candidate = False
        if early_stopping:
            if val_data is None:
                train, val = self._validation_split(data, rng)
            else:
                val = val_data
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
            start_is_candidate = (self.best_validation_score_ is not None
                                  and np.isfinite(self.best_validation_score_))
            self.best_loss_ = None
        else:
            if not incremental:
                self.validation_scores_ = None
                self.best_validation_score_ = None
                self.validation_loss_curve_ = None
            elif val_data is not None:
                val = val_data
                if self.validation_scores_ is None:
                    self.validation_scores_ = []
                    self.best_validation_score_ = -np.inf
            if self.best_loss_ is None:     # after a fit with early stopping
                self.best_loss_ = np.inf
        if val is not None and self.validation_loss_curve_ is None:
            self.validation_loss_curve_ = []
        n = train.n_samples
        batch_size = min(200, n) if self.batch_size == "auto" else min(
            self.batch_size, n)
        # One batch covering the data is full-batch descent: no shuffle, so
        # the result does not depend on the order of the rows.
        shuffled = self.shuffle and batch_size < n
        tuner = self._step_thread_tuner(batch_size)
        step_threads = 1 if tuner is None else int(
            max(tuner["threads"][0], tuner["other"][0]))
        net.set_capacity(batch_size, shuffled and not train.sparse, step_threads)
        if self._opt_state is None or self._opt_state[0] != self.solver:
            self._opt_state = (self.solver, np.zeros_like(self._params),
                               np.zeros_like(self._params))
            self._steps = 0
        state = _network.TrainState(net, self._params, self._running,
                                    self._opt_state[1:], self._solver_constants(),
                                    tuner)
        state.batch_size = batch_size
        state.t = self._steps
        max_epochs = 1 if incremental else self.max_iter
        start = None
        if early_stopping and start_is_candidate:
            start = self._warm_start_candidate(val, scorer)
        best_params = self._epochs(state, train, val, rng, incremental,
                                   callbacks, shuffled, max_epochs, scorer, start)
        if best_params is not None:
            self._params[:], self._running[:] = best_params

    def _l2_term(self):
        """The objective's L2 term ``(alpha / 2) Σ ‖W_l‖²`` of the current
        weights (intercepts and batch norm's γ, β are not penalised),
        summed without NumPy's BLAS (:func:`~sklearn_mcnn._engine.dot`)."""
        params = self._params
        return 0.5 * float(self.alpha) * sum(
            dot(params[w], params[w]) for w, _, _ in self._net.layer_slices())

    def _warm_start_candidate(self, val, scorer):
        """A warm-started fit with early stopping: the starting weights are
        the first candidate for the best, scored on this fit's validation
        data (which may not be the last fit's: a new split, a new X_val).

        Without this, a fit none of whose epochs beat the score carried
        over from the last fit would keep its last epoch's weights while
        ``best_validation_score_`` named the last fit's (MLPClassifier does
        so). Returns the starting (parameters, running statistics).
        """
        _, self.best_validation_score_ = self._validate_on(
            val, scorer, self._l2_term())
        return self._params.copy(), self._running.copy()

    def _epochs(self, state, train, val, rng, incremental, callbacks, shuffled,
                max_epochs, scorer=None, start=None):
        """The epoch loop of :meth:`_fit_stochastic`; returns the best
        (parameters, running statistics) with early stopping, else None.
        ``val`` is early stopping's validation data (``fit``), or the rows
        ``partial_fit`` monitors; ``start``, the best so far (a warm start's
        weights), or None.

        A batch whose loss is non-finite, or explodes (see
        ``DIVERGENCE_GROWTH``), stops the epoch before its update and raises;
        the fit transaction then restores the state from before the call.
        """
        early_stopping = val is not None and not incremental
        n = train.n_samples
        order = np.arange(n, dtype=np.intp)
        total_weight = train.sw.sum()
        n_batches = -(-n // state.batch_size)
        best_params = start
        loss_floor = self._uniform_loss()
        # The guard's starting level belongs to the model, not to the call:
        # set by the first batch the model ever trained on, and kept by
        # warm-started fits and partial_fit, so a loss that explodes over
        # many short calls is caught as surely as within one long call.
        state.loss_growth = DIVERGENCE_GROWTH
        state.loss_floor = loss_floor
        state.max_loss = (np.inf if self._loss_level is None
                          else DIVERGENCE_GROWTH * self._loss_level)
        for _ in range(max_epochs):
            tic = time.perf_counter()
            callbacks.begin()
            if shuffled:
                rng.shuffle(order)
            state.lr = lr = self._epoch_learning_rate()
            with single_threaded_blas():
                loss_sum, good_batches, first_loss, stop_loss = (
                    _network.train_epoch(
                        state, train.dataset, order if shuffled else None,
                        int(rng.randint(np.iinfo(np.int32).max))))
            self._steps = state.t
            if self._loss_level is None and first_loss >= 0:
                self._loss_level = max(loss_floor, first_loss)
                state.max_loss = DIVERGENCE_GROWTH * self._loss_level
            if good_batches < n_batches or not np.all(np.isfinite(self._params)):
                if np.isfinite(stop_loss) and good_batches < n_batches:
                    # The kernel bounds each call by its own first batch too.
                    start = min(self._loss_level, max(loss_floor, first_loss))
                    what = (f"exploded to {stop_loss:.3g}, more than "
                            f"{DIVERGENCE_GROWTH:g} times its starting level "
                            f"({start:.3g}),")
                else:
                    what = "became non-finite"
                raise ValueError(
                    f"The training loss {what} in epoch {self.n_iter_ + 1} "
                    f"with learning rate {lr:g} "
                    f"(learning_rate_init={self.learning_rate_init:g}). Lower "
                    "learning_rate_init, or scale the input features (e.g. "
                    "with sklearn.preprocessing.StandardScaler). The estimator "
                    "is left as it was before this call."
                )
            self.n_iter_ += 1
            self.t_ += n
            penalty = self._l2_term()
            self.loss_ = loss_sum / total_weight + penalty
            self.loss_curve_.append(self.loss_)
            if val is not None:
                val_loss, score = self._validate_on(val, scorer, penalty)
                self.validation_loss_curve_.append(val_loss)
                self.validation_scores_.append(score)
                improved = score >= self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    if early_stopping:
                        best_params = (self._params.copy(), self._running.copy())
            if not early_stopping:
                improved = self.loss_ <= self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, self.loss_)
            self._no_improvement_count = 0 if improved else (
                self._no_improvement_count + 1)
            if self.verbose:
                line = f"Epoch {self.n_iter_}, loss = {self.loss_:.8f}"
                if val is not None:
                    line += (f", validation score = {score:.6f}, "
                             f"validation loss = {val_loss:.8f}")
                print(f"{line}, {time.perf_counter() - tic:.2f} s", flush=True)
            if callbacks.end():
                break
            if incremental:
                break
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                if self.learning_rate == "adaptive" and self._learning_rate > 1e-6:
                    self._learning_rate /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{what} did not improve more than tol={self.tol} "
                              f"for {self.n_iter_no_change} consecutive epochs. "
                              f"Setting learning rate to {self._learning_rate:g}")
                    continue
                if self.verbose:
                    print(f"{what} did not improve more than tol={self.tol} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                break
        else:
            if not incremental:
                warnings.warn(
                    f"Stochastic optimizer: maximum iterations ({self.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        return best_params

    def _step_thread_tuner(self, batch_size):
        """The state with which the epoch loop chooses how many threads share
        a step (:func:`sklearn_mcnn._network.new_tuner`), kept between calls
        so that ``partial_fit`` goes on where the last call stopped; None
        where steps are too small to share."""
        # Forward and backward: three products per layer and row.
        n_threads = threads_for(3 * forward_work(self._net.sizes, batch_size),
                                tuned=True)
        if n_threads == 1:
            return None
        tuner = getattr(self, "_thread_tuner", None)
        if (not isinstance(tuner, np.ndarray) or tuner.dtype != _network.TUNER_DTYPE
                or sorted([tuner["threads"][0], tuner["other"][0]]) != [1, n_threads]):
            tuner = self._thread_tuner = _network.new_tuner(n_threads)
        return tuner

    def _uniform_loss(self):
        """The loss of a uniform prediction (the divergence guard's floor):
        log K for the log loss, 1 - 1/K for the squared error."""
        n_classes = self.classes_.size
        if self._net.loss_name == "log_loss":
            return math.log(n_classes)
        return 1.0 - 1.0 / n_classes

    def _warn_if_worse_than_chance(self, class_totals):
        """Warn when a fit ends with an objective above that of predicting
        the (weighted) class frequencies, a model the fit can always reach
        (intercepts are not penalised), without looking at the features.
        ``class_totals``: the training weight of each class."""
        freq = class_totals / class_totals.sum()
        # The best prediction without the features is the mean target
        # m = (1 - ε) freq + ε / K; its loss is the entropy of m (log loss)
        # or the variance of the targets (squared error).
        eps = float(self.label_smoothing)
        mean = (1.0 - eps) * freq + eps / freq.size
        if self._net.loss_name == "log_loss":
            mean = mean[mean > 0]
            chance = float(-np.sum(mean * np.log(mean)))
        else:
            chance = float((1.0 - eps) ** 2 * (1.0 - np.sum(freq**2)))
        chance = max(0.0, chance)   # rounding: -0.0 or -1e-17 with one class
        if self.loss_ > CHANCE_MARGIN * chance + 1e-12:
            warnings.warn(
                f"The fit ended with a training loss of {self.loss_:.4g}, worse "
                f"than the {chance:.4g} of predicting the class frequencies "
                "without looking at the features. Lower learning_rate_init, "
                "scale the input features, or train for more iterations.",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _validation_split(self, data, rng):
        """A stratified hold-out split of the training rows."""
        idx = np.arange(data.n_samples)
        counts = np.bincount(data.y)
        stratify = data.y if counts[counts > 0].min() >= 2 else None
        try:
            train_idx, val_idx = train_test_split(
                idx, test_size=self.validation_fraction, random_state=rng,
                stratify=stratify,
            )
        except ValueError:
            train_idx, val_idx = train_test_split(
                idx, test_size=self.validation_fraction, random_state=rng
            )
        train_idx.sort()
        val_idx.sort()
        return data.subset(train_idx), data.subset(val_idx)

    def _validate_on(self, data, scorer, penalty):
        """The objective and the score of the current model on held-out rows.

        The objective is the training objective (weighted mean loss plus the
        L2 term ``penalty``) of the inference outputs (batch norm's running
        statistics, no dropout), computed by
        :func:`~sklearn_mcnn._engine.mean_loss`: never by the training
        kernels, whose batch statistics would move the running ones.  The
        score is ``scoring``'s: the weighted accuracy (None), the negated
        objective ('loss'), or the scorer's value."""
        scores = self._forward(data.X, probabilities=False)
        val_loss = mean_loss(scores, data.y, data.sw, self._net.loss_name,
                             self.label_smoothing) + penalty
        if scorer is None:
            if self.scoring is None:
                correct = np.argmax(scores, axis=1) == data.y
                weights = data.sw if data.sw.sum() > 0 else None
                return val_loss, float(np.average(correct, weights=weights))
            return val_loss, -val_loss
        return val_loss, self._score_with(scorer, data)

    def _score_with(self, scorer, data):
        """``scorer(self, X, y[, sample_weight])`` on validated rows (labels
        restored; weights passed unless all are one, so that a scorer without
        ``sample_weight`` works as in HistGradientBoostingClassifier)."""
        y = self.classes_[data.y]
        with warnings.catch_warnings():
            # The rows are validated arrays, also when X had feature names.
            warnings.filterwarnings("ignore", message="X does not have valid "
                                    "feature names", category=UserWarning)
            if np.all(data.sw == 1):
                return float(scorer(self, data.X, y))
            return float(scorer(self, data.X, y, sample_weight=data.sw))
