"""A stateful fuzz test: a call that raises changes nothing.

A hypothesis :class:`~hypothesis.stateful.RuleBasedStateMachine` drives one
estimator per run (``SoftmaxClassifier``, ``MLPBackpropClassifier``,
``OneVsAllClassifier`` or ``OneVsOneClassifier``, in a few configurations)
through interleaved ``fit``, ``partial_fit``, warm-started refits,
``set_params`` (valid and invalid values, huge learning rates, tiny
``max_iter``, solver changes), pickle round trips and predictions, with
valid and invalid inputs: a different or wrong number of features,
wrong-length ``y`` or ``sample_weight``, negative and all-zero weights,
NaN/inf in ``X``, a single class, labels unseen by ``partial_fit``, string
labels, float32 and float64, CSR input, and features scaled by 1e3.

Checked after every step (``@invariant``):

- a call that raised raised a ``ValueError`` and left the estimator exactly
  as before: the same ``pickle.dumps`` bytes and the same predictions on a
  fixed probe set; an unfitted estimator stays unfitted;
- a fitted estimator predicts labels in ``classes_`` and finite
  probabilities whose rows sum to one.

And per call: input that is invalid must be refused, and a stochastic fit
on features scaled by 1e3 with ``learning_rate_init=1e8`` must raise the
learning-rate error.

``STEP_COUNTS`` counts the steps run (the tests print it; ``pytest -s``
shows it).  The default test is quick and reproducible (derandomized, no
example database); ``-m slow`` runs many more examples.
"""

import collections
import math
import pickle
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

#: Steps run, by rule name, plus "runs" (state machines started) and
#: "runs:<kind>" (of each estimator kind).  Reset by each test.
STEP_COUNTS = collections.Counter()

HUGE_LR = 1e8
STOCHASTIC = ("sgd", "adam", "adagrad", "rmsprop")

# ---------------------------------------------------------------------------
# Data: small, fixed problems; each call builds its arrays from a spec.
# ---------------------------------------------------------------------------


def _datasets():
    X_iris, y_iris = load_iris(return_X_y=True)
    X4, y4 = make_classification(n_samples=80, n_features=6, n_informative=4,
                                 n_redundant=0, n_classes=4, random_state=0)
    X2, y2 = make_classification(n_samples=60, n_features=4, n_informative=3,
                                 n_redundant=0, n_classes=2, random_state=1)
    return {
        name: (StandardScaler().fit_transform(X), y)
        for name, (X, y) in {"iris": (X_iris, y_iris), "four": (X4, y4),
                             "binary": (X2, y2)}.items()
    }


DATASETS = _datasets()


def _label(kind, y):
    y = np.asarray(y)
    return np.array([f"c{v}" for v in y]) if kind == "str" else y


def _unseen(kind):
    return "zz" if kind == "str" else 99


def _probe(n_features):
    """The fixed probe rows of a given width."""
    rng = np.random.RandomState(n_features)
    return 1.5 * rng.standard_normal((15, n_features))


@dataclass(frozen=True)
class Call:
    """The inputs of one ``fit``/``partial_fit`` call, as choices."""

    dataset: str = "iris"
    labels: str = "int"          # 'int' | 'str'
    dtype: str = "float64"       # 'float64' | 'float32'
    sparse: bool = False
    scale: float = 1.0           # 1.0 | 1e3
    weights: str = "none"        # none|ones|random|negative|zeros|short
    defect: str = "none"         # none|subset|drop_feature|y_short|nan|inf|
    #                              single_class|unseen_label
    classes: str = "given"       # partial_fit: given|first_only|none|wrong

    def arrays(self):
        X, y = DATASETS[self.dataset]
        X = X * self.scale
        y = _label(self.labels, y)
        if self.defect == "subset":
            X, y = X[::3], y[::3]
        elif self.defect == "drop_feature":
            X = X[:, :-1]
        elif self.defect == "single_class":
            X, y = X[y == y[0]], y[y == y[0]]
        elif self.defect == "unseen_label":
            y = y.copy()
            y[:5] = _unseen(self.labels)
        X = np.array(X, dtype=self.dtype)
        if self.defect in ("nan", "inf"):
            X[3, 1] = np.nan if self.defect == "nan" else np.inf
        n = X.shape[0]
        if self.defect == "y_short":
            y = y[:-1]
        sw = {
            "none": None,
            "ones": np.ones(n),
            "random": np.random.RandomState(n).uniform(0.1, 3.0, n),
            "negative": -np.ones(n),
            "zeros": np.zeros(n),
            "short": np.ones(n - 1),
        }[self.weights]
        if self.sparse:
            X = sp.csr_matrix(X)
        return X, y, sw

    def class_list(self):
        """The classes a user would pass to ``partial_fit``."""
        return np.unique(_label(self.labels, DATASETS[self.dataset][1]))

    def invalid(self):
        """Input any fit must refuse."""
        return (self.defect in ("y_short", "nan", "inf")
                or self.weights in ("negative", "zeros", "short"))


def _valid_fields():
    return dict(
        dataset=st.sampled_from(sorted(DATASETS)),
        labels=st.sampled_from(["int", "str"]),
        dtype=st.sampled_from(["float64", "float32"]),
        sparse=st.booleans(),
    )


def calls(partial=False):
    return st.builds(
        Call,
        **_valid_fields(),
        scale=st.sampled_from([1.0, 1e3]),
        weights=st.sampled_from(
            ["none", "ones", "random", "negative", "zeros", "short"]),
        defect=st.sampled_from(
            ["none", "subset", "drop_feature", "y_short", "nan", "inf",
             "single_class", "unseen_label"]),
        classes=(st.sampled_from(["given", "first_only", "none", "wrong"])
                 if partial else st.just("given")),
    )


def valid_calls():
    return st.builds(Call, **_valid_fields(), scale=st.just(1e3))


# ---------------------------------------------------------------------------
# Estimators and their parameters
# ---------------------------------------------------------------------------


def _softmax(solver, max_iter):
    return SoftmaxClassifier(solver=solver, max_iter=max_iter, random_state=0)


def _mlp(solver, max_iter, hidden=(5,), **kw):
    return MLPBackpropClassifier(hidden, solver=solver, max_iter=max_iter,
                                 random_state=0, **kw)


def _ova(base):
    return OneVsAllClassifier(base, random_state=0)


def _ovo(base):
    return OneVsOneClassifier(base, random_state=0)


#: The configurations a run starts from, by name.
CONFIGS = {
    "softmax-sgd": lambda: _softmax("sgd", 10),
    "softmax-lbfgs": lambda: _softmax("lbfgs", 10),
    "softmax-adam": lambda: _softmax("adam", 5),
    "mlp-adam": lambda: _mlp("adam", 5),
    "mlp-sgd-tanh-bn": lambda: _mlp("sgd", 5, (4, 3), activation="tanh",
                                    batch_norm=True),
    "mlp-lbfgs-logistic": lambda: _mlp("lbfgs", 10, (3,),
                                       activation="logistic"),
    "mlp-adam-dropout-squared": lambda: _mlp("adam", 5, (4,), dropout=0.2,
                                             loss="squared_error"),
    "ova(softmax-sgd)": lambda: _ova(_softmax("sgd", 10)),
    "ova(softmax-lbfgs)": lambda: _ova(_softmax("lbfgs", 10)),
    "ova(mlp-adam)": lambda: _ova(_mlp("adam", 5, (3,))),
    "ovo(softmax-sgd)": lambda: _ovo(_softmax("sgd", 10)),
    "ovo(softmax-lbfgs)": lambda: _ovo(_softmax("lbfgs", 10)),
    "ovo(mlp-adam)": lambda: _ovo(_mlp("adam", 5, (3,))),
}


def _core(est):
    """The network estimator whose parameters set_params reaches."""
    return getattr(est, "estimator", None) or est


# Valid and invalid values of the networks' parameters.
VALID = {
    "learning_rate_init": [1e-3, 1e-2, 0.1, HUGE_LR],
    "max_iter": [1, 2, 5, 20],
    "solver": ["lbfgs", "sgd", "adam", "adagrad", "rmsprop"],
    "alpha": [0.0, 1e-4, 1e-2],
    "warm_start": [True, False],
    "batch_size": ["auto", 16, 50],
    "learning_rate": ["constant", "invscaling", "adaptive", "cosine"],
    "early_stopping": [False, True],
    "class_weight": [None, "balanced"],
    "shuffle": [True, False],
}
VALID_MLP = {
    "hidden_layer_sizes": [(3,), (4, 3), ()],
    "activation": ["relu", "tanh", "logistic", "identity"],
    "batch_norm": [False, True],
    "dropout": [0.0, 0.2],
    "loss": ["log_loss", "squared_error"],
}
INVALID = {
    "learning_rate_init": [0.0, -1.0],
    "max_iter": [0, -3],
    "solver": ["newton"],
    "alpha": [-1.0],
    "batch_size": [0],
    "learning_rate": ["linear"],
    "class_weight": ["uniform"],
}
INVALID_MLP = {
    "hidden_layer_sizes": [(0,), (3, -1)],
    "activation": ["swish"],
    "dropout": [1.0, -0.1],
    "loss": ["hinge"],
}
INVALID_REDUCTION = {"estimator": [BaseEstimator()],  # has no fit
                     "n_jobs": ["two"]}


def _param_names(est, table, mlp_table):
    names = list(table)
    if isinstance(_core(est), MLPBackpropClassifier):
        names += list(mlp_table)
    return names


def _prefix(est):
    return "estimator__" if hasattr(est, "estimator") else ""


# ---------------------------------------------------------------------------
# Observing an estimator
# ---------------------------------------------------------------------------


def _is_fitted(est):
    try:
        check_is_fitted(est)
    except NotFittedError:
        return False
    return True


def _outputs(est):
    """Predictions and probabilities on the probe set (or the error)."""
    if not _is_fitted(est):
        return None
    try:
        X = _probe(est.n_features_in_)
        return est.predict(X), est.predict_proba(X)
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed
        return f"{type(exc).__name__}: {exc}"


def _same_outputs(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return (np.array_equal(a[0], b[0])
                and np.array_equal(a[1], b[1], equal_nan=True))
    return type(a) is type(b) and a == b  # None, or the same error


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _effective(est, name):
    """The value of a network parameter that the next fit trains with."""
    return _core(est).get_params()[name]


def _trained_networks(est):
    """The fitted networks that a partial_fit of `est` would update."""
    if hasattr(est, "estimators_"):
        return [e for e in est.estimators_ if hasattr(e, "_params")]
    return [est] if hasattr(est, "_params") else []


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


class EstimatorMachine(RuleBasedStateMachine):
    """One estimator, driven through fits, refits, parameters and pickles."""

    def __init__(self):
        super().__init__()
        self.est = None
        self.config = None
        # What the invariant compares after a call that raised:
        # (what, pickle before, probe outputs before, fitted before, error).
        self.pending = None
        # The last successful call was a partial_fit of one huge step.
        self.huge_step_taken = False
        STEP_COUNTS["runs"] += 1

    # ------------------------------------------------------------- helpers

    def _call(self, what, func, *args, **kwargs):
        """Run ``func``; record what the invariant needs to compare."""
        before = pickle.dumps(self.est)
        outputs = _outputs(self.est)
        was_fitted = _is_fitted(self.est)
        try:
            _quiet(func, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - checked by the invariant
            self.pending = (what, before, outputs, was_fitted, exc)
            return exc
        self.pending = None
        return None

    def _network_base(self):
        """Whether the parameters set_params reaches are a network's."""
        return isinstance(_core(self.est),
                          (SoftmaxClassifier, MLPBackpropClassifier))

    def _own_params_valid(self):
        """False when set_params left an invalid value of the reduction's
        own parameters (not its base estimator's) behind."""
        est = self.est
        if not hasattr(est, "estimator"):
            return True
        return self._network_base() and (
            est.n_jobs is None or isinstance(est.n_jobs, int))

    def _params_valid(self):
        """False when set_params left an invalid value behind."""
        if not (self._network_base() and self._own_params_valid()):
            return False
        params = _core(self.est).get_params()
        for table in (INVALID, INVALID_MLP):
            for name, values in table.items():
                if name in params and any(_equal(params[name], v)
                                          for v in values):
                    return False
        return True

    def _fit_must_diverge(self, call, X, y):
        """A fit that must raise the learning-rate error: a stochastic
        solver with learning_rate_init=1e8 on features scaled by 1e3 and at
        least two updates (two epochs, or two batches)."""
        if (call.invalid() or call.scale != 1e3 or call.defect != "none"
                or not self._params_valid()):
            return False
        core = _core(self.est)
        if core.solver not in STOCHASTIC or core.learning_rate_init < HUGE_LR:
            return False
        if isinstance(core, MLPBackpropClassifier) and core.dropout > 0 and \
                core.solver == "lbfgs":
            return False
        if core.warm_start and hasattr(self.est, "classes_") and not (
                np.array_equal(np.unique(y), self.est.classes_)):
            return False  # refused for its classes, whatever the rate
        return core.max_iter >= 2 or _n_batches(core, _smallest_task(
            self.est, y)) >= 2

    def _huge_partial_fit(self, call, must_raise):
        """Whether this partial_fit takes huge steps: a stochastic solver
        with learning_rate_init=1e8 on valid features scaled by 1e3."""
        if (must_raise or call.scale != 1e3 or call.defect != "none"
                or not self._params_valid()):
            return False
        nets = (_trained_networks(self.est) if hasattr(self.est, "estimator")
                else [self.est])
        return bool(nets) and all(
            _effective(n, "solver") in STOCHASTIC
            and _effective(n, "learning_rate_init") >= HUGE_LR for n in nets)

    def _partial_fit_must_diverge(self, call, X, y, huge):
        """A partial_fit that must raise the learning-rate error.

        The guard checks each batch's loss before its update.  With two
        batches or more the second sees the first's huge step; with one
        batch, the call's single update is seen by the next call, which
        must then raise (the guard's starting level is the model's).  One
        huge single-batch step on its own has nothing to detect yet."""
        if not huge:
            return False
        if self.huge_step_taken and (hasattr(self.est, "estimator")
                                     or _reuses_network(self.est, X)):
            return True
        if hasattr(self.est, "estimator"):
            return _n_batches(_core(self.est), _smallest_task(self.est, y)) >= 2
        return _n_batches(self.est, X.shape[0]) >= 2

    @staticmethod
    def _check_divergence(exc, what):
        assert exc is not None, (
            f"{what}: a stochastic fit with learning_rate_init={HUGE_LR:g} on "
            "features scaled by 1e3 did not raise")
        assert isinstance(exc, ValueError) and "learning rate" in str(exc), (
            f"{what}: expected the learning-rate ValueError, got {exc!r}")

    def _fit(self, call, what="fit"):
        X, y, sw = call.arrays()
        must_diverge = self._fit_must_diverge(call, X, y)
        params_valid = self._params_valid()
        exc = self._call(what, self.est.fit, X, y, sample_weight=sw)
        if call.invalid() or call.defect == "single_class":
            assert exc is not None, f"{what} accepted invalid input {call}"
        if not params_valid:
            assert exc is not None, (
                f"{what} accepted invalid parameters {_params(self.est)}")
        if must_diverge:
            self._check_divergence(exc, f"{what}({call})")
        if exc is None:   # a warm start may go on from its last huge step
            self.huge_step_taken = self._huge_partial_fit(
                call, call.invalid() or call.defect != "none")

    def _partial_fit(self, call):
        X, y, sw = call.arrays()
        fitted = hasattr(self.est, "classes_")
        kwargs = {"sample_weight": sw}
        if call.classes == "given" or (call.classes == "first_only"
                                       and not fitted):
            kwargs["classes"] = call.class_list()
        elif call.classes == "wrong":
            kwargs["classes"] = call.class_list()[:1]
        labels = set(np.unique(y).tolist())
        if fitted:
            known = set(self.est.classes_.tolist())
        else:
            known = set(np.asarray(kwargs.get("classes", [])).tolist())
        must_raise = (
            call.invalid()
            or call.classes == "wrong"
            or not labels <= known
            or (not fitted and "classes" not in kwargs)
            or (fitted and "classes" in kwargs
                and set(kwargs["classes"].tolist()) != known)
            or (fitted and X.shape[1] != self.est.n_features_in_)
        )
        huge = self._huge_partial_fit(call, must_raise)
        must_diverge = self._partial_fit_must_diverge(call, X, y, huge)
        # Every partial_fit validates the estimator's own parameters; a
        # fitted reduction's sub-estimators keep the parameters they were
        # fitted with, so an invalid `estimator__*` value is not seen.
        bad_params = not (self._params_valid() if not fitted
                          or not hasattr(self.est, "estimator")
                          else self._own_params_valid())
        exc = self._call("partial_fit", self.est.partial_fit, X, y, **kwargs)
        if bad_params:
            assert exc is not None, (
                f"partial_fit accepted invalid parameters {_params(self.est)}")
        if must_raise:
            assert exc is not None, (
                f"partial_fit accepted invalid input {call}, "
                f"classes={kwargs.get('classes')!r}")
        if must_diverge:
            self._check_divergence(exc, f"partial_fit({call})")
        if exc is None:
            self.huge_step_taken = huge

    # --------------------------------------------------------------- rules

    #: The configurations this machine starts from (a subclass per test).
    CONFIG_NAMES = tuple(CONFIGS)

    @initialize(data=st.data())
    def choose_estimator(self, data):
        config = data.draw(st.sampled_from(self.CONFIG_NAMES), label="config")
        STEP_COUNTS["choose_estimator"] += 1
        STEP_COUNTS[f"runs:{config.split('-')[0].split('(')[0]}"] += 1
        self.config = config
        self.est = CONFIGS[config]()

    @rule(call=calls())
    def fit(self, call):
        STEP_COUNTS["fit"] += 1
        self._fit(call)

    @precondition(lambda self: not hasattr(self.est, "estimator"))
    @rule(call=calls())
    def warm_refit(self, call):
        STEP_COUNTS["warm_refit"] += 1
        self.est.set_params(warm_start=True)
        self._fit(call, what="warm-started fit")

    @precondition(lambda self: hasattr(self.est, "partial_fit"))
    @rule(call=calls(partial=True))
    def partial_fit(self, call):
        STEP_COUNTS["partial_fit"] += 1
        self._partial_fit(call)

    @precondition(lambda self: self._network_base())
    @rule(call=valid_calls(), solver=st.sampled_from(STOCHASTIC),
          incremental=st.booleans())
    def huge_learning_rate(self, call, solver, incremental):
        """set_params(solver=..., learning_rate_init=1e8), then a fit or a
        partial_fit on features scaled by 1e3."""
        STEP_COUNTS["huge_learning_rate"] += 1
        p = _prefix(self.est)
        self.est.set_params(**{p + "solver": solver,
                               p + "learning_rate_init": HUGE_LR})
        if incremental and hasattr(self.est, "partial_fit"):
            self._partial_fit(call)
        else:
            self._fit(call)

    @precondition(lambda self: self._network_base())
    @rule(data=st.data())
    def set_valid_param(self, data):
        STEP_COUNTS["set_valid_param"] += 1
        names = _param_names(self.est, VALID, VALID_MLP)
        name = data.draw(st.sampled_from(names), label="param")
        table = VALID_MLP if name in VALID_MLP else VALID
        value = data.draw(st.sampled_from(table[name]), label="value")
        self.est.set_params(**{_prefix(self.est) + name: value})

    @precondition(lambda self: self._network_base())
    @rule(data=st.data())
    def set_invalid_param(self, data):
        """An invalid value: set_params takes it (scikit-learn validates in
        fit); the next fits must refuse it and change nothing."""
        STEP_COUNTS["set_invalid_param"] += 1
        if hasattr(self.est, "estimator") and data.draw(
                st.booleans(), label="on the reduction itself"):
            name = data.draw(st.sampled_from(sorted(INVALID_REDUCTION)),
                             label="param")
            value = data.draw(st.sampled_from(INVALID_REDUCTION[name]),
                              label="value")
            self.est.set_params(**{name: value})
            return
        names = _param_names(self.est, INVALID, INVALID_MLP)
        name = data.draw(st.sampled_from(names), label="param")
        table = INVALID_MLP if name in INVALID_MLP else INVALID
        value = data.draw(st.sampled_from(table[name]), label="value")
        self.est.set_params(**{_prefix(self.est) + name: value})

    @rule()
    def set_unknown_param(self):
        """set_params with an unknown name raises and changes nothing."""
        STEP_COUNTS["set_unknown_param"] += 1
        exc = self._call("set_params", self.est.set_params, no_such_param=1)
        assert isinstance(exc, ValueError)

    @rule()
    def reset_params(self):
        """Back to the parameters the run started with (still fitted)."""
        STEP_COUNTS["reset_params"] += 1
        fresh = CONFIGS[self.config]()
        if hasattr(fresh, "estimator"):
            self.est.set_params(estimator=fresh.estimator, n_jobs=None)
        else:
            self.est.set_params(**fresh.get_params())

    @rule()
    def start_over(self):
        """An unfitted clone, with the current parameters."""
        STEP_COUNTS["start_over"] += 1
        self.est = clone(self.est, safe=False)
        self.huge_step_taken = False

    @rule()
    def pickle_round_trip(self):
        STEP_COUNTS["pickle_round_trip"] += 1
        before = _outputs(self.est)
        loaded = pickle.loads(pickle.dumps(self.est))
        assert _same_outputs(before, _outputs(loaded)), (
            "the unpickled estimator predicts differently")
        again = pickle.dumps(loaded)
        assert pickle.dumps(pickle.loads(again)) == again
        self.est = loaded

    @rule(defect=st.sampled_from(
        ["none", "drop_feature", "extra_feature", "nan", "inf", "float32",
         "sparse", "empty", "1d"]),
        method=st.sampled_from(["predict", "predict_proba",
                                "predict_log_proba", "decision_function",
                                "score"]))
    def predict(self, defect, method):
        """Prediction never changes the estimator; bad input is refused."""
        STEP_COUNTS["predict"] += 1
        width = getattr(self.est, "n_features_in_", 4)
        X = _probe(width + (defect == "extra_feature")
                   - (defect == "drop_feature"))
        if defect in ("nan", "inf"):
            X[2, 0] = np.nan if defect == "nan" else np.inf
        elif defect == "float32":
            X = X.astype(np.float32)
        elif defect == "sparse":
            X = sp.csr_matrix(X)
        elif defect == "empty":
            X = X[:0]
        elif defect == "1d":
            X = X[0]
        func = getattr(self.est, method, None)
        if func is None:
            return
        args = (X,)
        if method == "score":
            classes = getattr(self.est, "classes_", np.array([0, 1]))
            n = X.shape[0] if X.ndim == 2 else 1
            args = (X, classes[np.arange(n) % classes.size])
        fitted = _is_fitted(self.est)
        exc = self._call(method, func, *args)
        if defect not in ("none", "float32", "sparse") or not fitted:
            assert exc is not None, f"{method} accepted {defect} input"
        else:
            assert exc is None, f"{method} refused valid input: {exc!r}"

    # ----------------------------------------------------------- invariants

    @invariant()
    def a_call_that_raised_changed_nothing(self):
        if self.pending is None:
            return
        what, before, outputs, was_fitted, exc = self.pending
        self.pending = None
        assert isinstance(exc, ValueError), (
            f"{what} raised {type(exc).__name__}, not a ValueError: {exc}")
        assert _same_outputs(outputs, _outputs(self.est)), (
            f"{what} raised ({exc}) but the predictions changed")
        if not was_fitted:
            assert not _is_fitted(self.est), (
                f"{what} raised ({exc}) but left the unfitted estimator "
                f"looking fitted: {sorted(vars(self.est))}")
        assert pickle.dumps(self.est) == before, (
            f"{what} raised ({exc}) but changed the estimator: "
            f"{_changed_attributes(pickle.loads(before), self.est)}")

    @invariant()
    def a_fitted_estimator_predicts_valid_values(self):
        if self.est is None or not _is_fitted(self.est):
            return
        X = _probe(self.est.n_features_in_)
        y = _quiet(self.est.predict, X)
        assert y.shape == (X.shape[0],)
        assert np.isin(y, self.est.classes_).all(), "predict left classes_"
        proba = _quiet(self.est.predict_proba, X)
        assert proba.shape == (X.shape[0], self.est.classes_.size)
        assert np.isfinite(proba).all() and (proba >= 0).all()
        tol = 1e-4 if proba.dtype == np.float32 else 1e-8
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=tol)


def _params(est):
    """The parameters that differ from the defaults (for messages)."""
    core = _core(est)
    if not hasattr(core, "get_params"):
        return {"estimator": core}
    defaults = type(core)().get_params()
    return {k: v for k, v in core.get_params().items()
            if not _equal(v, defaults.get(k))}


def _changed_attributes(old, new):
    """Names of the attributes that differ (for the failure message)."""
    a, b = vars(old), vars(new)
    names = sorted(set(a) | set(b))
    return [n for n in names
            if n not in a or n not in b
            or pickle.dumps(a[n]) != pickle.dumps(b[n])]


def _n_batches(net, n_samples):
    if net.early_stopping:
        n_samples -= math.ceil(net.validation_fraction * n_samples)
    batch = (min(200, n_samples) if net.batch_size == "auto"
             else min(net.batch_size, n_samples))
    return -(-n_samples // batch)


def _smallest_task(est, y):
    """Rows of the smallest training task of a fit of `est` on `y`."""
    if isinstance(est, OneVsOneClassifier):
        _, counts = np.unique(y, return_counts=True)
        return int(np.sort(counts)[:2].sum())
    return len(y)


def _reuses_network(est, X):
    """Will a partial_fit of the network estimator `est` continue from its
    trained weights (same layout), rather than start afresh?"""
    if not hasattr(est, "_params"):
        return False
    sizes = (X.shape[1], *est._hidden_layer_sizes(), est.classes_.size)
    return (est._net.sizes == sizes
            and est._net_options == est._network_options())


def _equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

_COMMON = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)
FAST = settings(max_examples=12, stateful_step_count=15, **_COMMON)
SLOW = settings(max_examples=300, stateful_step_count=40, **_COMMON)


def _run(config, names=tuple(CONFIGS)):
    machine = type("Machine", (EstimatorMachine,), {"CONFIG_NAMES": names})
    STEP_COUNTS.clear()
    tic = time.perf_counter()
    try:
        run_state_machine_as_test(machine, settings=config)
    finally:
        seconds = time.perf_counter() - tic
        steps = sum(v for k, v in STEP_COUNTS.items()
                    if k != "runs" and not k.startswith("runs:"))
        print(f"\nstate machine: {steps} steps in {STEP_COUNTS['runs']} runs, "
              f"{seconds:.1f} s; {dict(sorted(STEP_COUNTS.items()))}")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_a_failed_call_changes_nothing(config):
    """Every configuration gets its own runs (a shared draw starves some)."""
    _run(FAST, (config,))


@pytest.mark.slow
def test_a_failed_call_changes_nothing_many_examples():
    _run(SLOW)
