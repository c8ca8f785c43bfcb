"""A call that raises changes nothing.

- refused refits and ``partial_fit`` calls leave a fitted estimator bit for
  bit as it was (its pickle, hence every attribute, and its predictions);
- a fit whose loss explodes, or becomes non-finite, raises the
  learning-rate error and restores the state from before the call (fresh
  fit: unfitted; warm start and ``partial_fit``: the previous model), and the
  estimator trains on from there;
- an interrupted fit (``KeyboardInterrupt``) restores as well;
- a fit that merely ends worse than chance warns;
- the Cython entry points refuse inputs that do not fit the network before
  any ``nogil`` loop reads them.

The stateful fuzz test over the same invariant is in test_state_machine.py;
the reductions' own cases are in test_multiclass.py.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier, _network

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")

LR_ADVICE = (r" learning rate .*Lower learning_rate_init.*StandardScaler.*"
             r"left as it was before this call")
LR_MESSAGE = r"(exploded|non-finite).*" + LR_ADVICE


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return X, StandardScaler().fit_transform(X), y


def _snapshot(est, X):
    """Everything observable of a fitted estimator."""
    return pickle.dumps(est), est.predict_proba(X), est.predict(X)


def _attributes(est):
    """Each attribute's pickle (an unpickled copy does not share memory
    between attributes as the original does, so its whole pickle differs)."""
    return {name: pickle.dumps(value) for name, value in vars(est).items()}


def _assert_unchanged(est, X, before):
    blob, proba, labels = before
    assert pickle.dumps(est) == blob
    assert_array_equal(est.predict_proba(X), proba)
    assert_array_equal(est.predict(X), labels)


# =========================================================================
# Refused calls
# =========================================================================

FITTED = {
    "softmax-lbfgs": SoftmaxClassifier(),
    "softmax-adam": SoftmaxClassifier(solver="adam", max_iter=5, random_state=0),
    "mlp-adam": MLPBackpropClassifier(hidden_layer_sizes=(6,), max_iter=5,
                                      random_state=0),
    "mlp-sgd-bn": MLPBackpropClassifier(hidden_layer_sizes=(6,), solver="sgd",
                                        batch_norm=True, max_iter=5,
                                        random_state=0),
}

# The refused refits of issue 11 (and their neighbours): each raises a
# ValueError in validation, after which the model must be intact.
REFUSED_FITS = {
    "fewer-features-negative-weights": lambda X, y: (
        (X[:, :3], y), {"sample_weight": -np.ones(len(y))}),
    "one-class": lambda X, y: ((X, np.zeros(len(y))), {}),
    "one-string-class": lambda X, y: ((X, np.array(["a"] * len(y))), {}),
    "all-zero-weights": lambda X, y: ((X, y), {"sample_weight": np.zeros(len(y))}),
    "short-weights-new-labels": lambda X, y: (
        (X, y + 10), {"sample_weight": np.ones(10)}),
    "fewer-features-zero-weights": lambda X, y: (
        (X[:, :3], y), {"sample_weight": np.zeros(len(y))}),
    "nan-in-X": lambda X, y: ((np.where(X > 5, np.nan, X), y), {}),
    "short-y": lambda X, y: ((X, y[:-1]), {}),
}


@pytest.mark.parametrize("case", list(REFUSED_FITS))
@pytest.mark.parametrize("name", list(FITTED))
def test_refused_refit_changes_nothing(name, case, iris):
    X, y = iris
    est = clone(FITTED[name]).fit(X, y)
    before = _snapshot(est, X)
    args, kwargs = REFUSED_FITS[case](X, y)
    with pytest.raises(ValueError):
        est.fit(*args, **kwargs)
    _assert_unchanged(est, X, before)
    assert est.n_features_in_ == 4


@pytest.mark.parametrize("name, method", [
    (name, method) for method in ("fit", "partial_fit") for name in FITTED
    if hasattr(FITTED[name], method)])
def test_refused_hyperparameter_changes_nothing(name, method, iris):
    """A refit, or a later partial_fit (scikit-learn validates a
    partial_fit's parameters on the first call only; ours on every call)."""
    X, y = iris
    est = clone(FITTED[name])
    if method == "fit":
        est.fit(X, y)
    else:
        est.partial_fit(X, y, classes=[0, 1, 2])
    before = _snapshot(est, X)
    est.set_params(alpha=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        getattr(est, method)(X, y)
    est.set_params(alpha=FITTED[name].alpha)
    _assert_unchanged(est, X, before)


REFUSED_PARTIAL_FITS = {
    "unseen-label": lambda X, y: ((X, np.where(y == 2, 7, y)), {}),
    "other-classes": lambda X, y: ((X, y), {"classes": [0, 1, 2, 3]}),
    "fewer-features": lambda X, y: ((X[:, :3], y), {}),
    "negative-weights": lambda X, y: ((X, y), {"sample_weight": -np.ones(len(y))}),
    "inf-in-X": lambda X, y: ((np.where(X > 5, np.inf, X), y), {}),
}


@pytest.mark.parametrize("case", list(REFUSED_PARTIAL_FITS))
@pytest.mark.parametrize("name", ["softmax-adam", "mlp-adam", "mlp-sgd-bn"])
def test_refused_partial_fit_changes_nothing(name, case, iris):
    X, y = iris
    est = clone(FITTED[name])
    for _ in range(2):
        est.partial_fit(X, y, classes=[0, 1, 2])
    before = _snapshot(est, X)
    args, kwargs = REFUSED_PARTIAL_FITS[case](X, y)
    with pytest.raises(ValueError):
        est.partial_fit(*args, **kwargs)
    _assert_unchanged(est, X, before)


@pytest.mark.parametrize("name", list(FITTED))
def test_refused_first_fit_leaves_the_estimator_unfitted(name, iris):
    X, y = iris
    est = clone(FITTED[name])
    params = est.get_params()
    with pytest.raises(ValueError):
        est.fit(X, np.zeros(len(y)))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert vars(est) == vars(clone(FITTED[name])) and est.get_params() == params


# =========================================================================
# Divergence
# =========================================================================


def test_divergence_that_stays_finite_raises(wine):
    """Both cases of issue 11: loss finite but orders of magnitude above its
    start (it used to end as "no improvement", score 0, or "converge" at
    chance)."""
    X, X_std, y = wine
    for est, X_fit in [
        (SoftmaxClassifier(solver="sgd", learning_rate_init=1e8), X_std * 1e3),
        (SoftmaxClassifier(solver="sgd", learning_rate_init=10), X),
    ]:
        with pytest.raises(ValueError, match="exploded.*" + LR_ADVICE):
            est.fit(X_fit, y)
        with pytest.raises(NotFittedError):
            check_is_fitted(est)


DIVERGING = {
    "softmax-sgd": SoftmaxClassifier(solver="sgd", momentum=0.0, batch_size=10,
                                     learning_rate_init=1e-2, random_state=0),
    "softmax-adam": SoftmaxClassifier(solver="adam", batch_size=10,
                                      learning_rate_init=1e-2, random_state=0),
    "mlp-sgd": MLPBackpropClassifier(hidden_layer_sizes=(8,), solver="sgd",
                                     batch_size=10, learning_rate_init=1e-2,
                                     random_state=0),
    "mlp-adam-bn": MLPBackpropClassifier(hidden_layer_sizes=(8,), batch_norm=True,
                                         batch_size=10, learning_rate_init=1e-3,
                                         random_state=0),
}


@pytest.fixture
def diverging_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    y = np.arange(40) % 3
    return X, y


def _train_sanely(est, how, X, y):
    if how == "warm_start":
        est.set_params(max_iter=5, warm_start=True).fit(X, y)
    else:
        for _ in range(3):
            est.partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("scale", [1e3, 1e300], ids=["explodes", "overflows"])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("name", list(DIVERGING))
def test_failed_fit_keeps_the_previous_model(name, how, scale, diverging_data):
    """A bolder learning rate on a good model: the error, and the good model
    kept (it used to keep the last finite weights of the failing run)."""
    X, y = diverging_data
    est = clone(DIVERGING[name])
    _train_sanely(est, how, X, y)
    before = _snapshot(est, X)
    est.set_params(learning_rate_init=1e12)
    with pytest.raises(ValueError, match=LR_MESSAGE):
        if how == "warm_start":
            est.fit(X * scale, y)
        else:
            est.partial_fit(X * scale, y)
    est.set_params(learning_rate_init=DIVERGING[name].learning_rate_init)
    _assert_unchanged(est, X, before)
    # ... and trains on from there, as if the failed call had not happened.
    again = pickle.loads(before[0])
    if how == "warm_start":
        est.fit(X, y), again.fit(X, y)
    else:
        est.partial_fit(X, y), again.partial_fit(X, y)
    assert _attributes(est) == _attributes(again)


@pytest.mark.parametrize("name", ["softmax-sgd", "mlp-sgd"])
def test_divergence_over_many_short_calls_raises(name, wine):
    """One batch per partial_fit call: no call sees two batches, so the
    guard's starting level must come from the model's first call."""
    _, X_std, y = wine
    est = clone(DIVERGING[name]).set_params(batch_size=len(y),
                                             learning_rate_init=1e4)
    for calls in range(1, 21):
        before = _snapshot(est, X_std) if calls > 1 else None
        try:
            est.partial_fit(X_std * 1e3, y, classes=[0, 1, 2])
        except ValueError as error:
            assert "exploded" in str(error) or "non-finite" in str(error)
            break
    else:
        pytest.fail(f"20 calls, loss {est.loss_curve_[-1]:.3g}, no error")
    assert calls > 1
    _assert_unchanged(est, X_std, before)


@pytest.mark.parametrize("sparse", [False, True])
def test_fresh_fit_that_overflows_raises_and_stays_unfitted(sparse, diverging_data):
    X, y = diverging_data
    X = sp.csr_matrix(X * 1e300) if sparse else X * 1e300
    clf = MLPBackpropClassifier(hidden_layer_sizes=(8,), solver="sgd",
                                momentum=0.0, learning_rate_init=1e12,
                                random_state=0)
    with pytest.raises(ValueError, match=r"learning rate 1e\+12 "
                                         r"\(learning_rate_init=1e\+12\)"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_a_recovering_fit_is_not_stopped():
    """SGD on unscaled features jumps far above its start and recovers: the
    guard leaves it alone (its first epoch's loss is ~500 times log 2, its
    worst batch ~1,300 times)."""
    X, y = load_breast_cancer(return_X_y=True)
    clf = SoftmaxClassifier(solver="sgd", max_iter=30, random_state=0).fit(X, y)
    assert clf.loss_curve_[0] > 300 * np.log(2) and clf.n_iter_ == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 10
    assert clf.score(X, y) > 0.85


def test_fit_worse_than_chance_warns(wine):
    X, _, y = wine
    clf = SoftmaxClassifier(solver="adam", learning_rate_init=1.0, max_iter=20,
                            random_state=0)
    with pytest.warns(ConvergenceWarning, match="worse than the .* class "
                                                "frequencies"):
        clf.fit(X / 10, y)
    # The reference: predicting the class frequencies (the weighted entropy).
    freq = np.bincount(y) / len(y)
    assert clf.loss_ > 1.1 * -np.sum(freq * np.log(freq))


def test_good_fit_does_not_warn_of_chance(wine):
    _, X, y = wine
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*worse than",
                                category=ConvergenceWarning)
        SoftmaxClassifier().fit(X, y)
        MLPBackpropClassifier(hidden_layer_sizes=(8,), max_iter=20,
                              random_state=0).fit(X, y)
        MLPBackpropClassifier(loss="squared_error", max_iter=20,
                              random_state=0).fit(X, y)


# =========================================================================
# Interrupted calls
# =========================================================================


@pytest.mark.parametrize("n_classes", [3, 2])
@pytest.mark.parametrize("kernel", ["train_epoch", "loss_grad"])
def test_interrupted_fit_restores(kernel, n_classes, monkeypatch, iris):
    """Ctrl-C in the middle of a warm-started fit: the model from before
    (two classes with L-BFGS: the one-output problem, mapped in and out)."""
    X, y = iris
    X, y = X[y < n_classes], y[y < n_classes]
    solver = "adam" if kernel == "train_epoch" else "lbfgs"
    est = MLPBackpropClassifier(hidden_layer_sizes=(6,), solver=solver,
                                max_iter=5, warm_start=True, random_state=0)
    est.fit(X, y)
    before = _snapshot(est, X)
    real, calls = getattr(_network, kernel), []

    def interrupted(*args, **kwargs):
        calls.append(None)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_network, kernel, interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(max_iter=50).fit(X, y)
    assert len(calls) == 3
    monkeypatch.setattr(_network, kernel, real)
    est.set_params(max_iter=5)
    _assert_unchanged(est, X, before)


# =========================================================================
# The kernels' entry points
# =========================================================================


def _solver():
    return dict(solver=_network.SOLVERS["sgd"], momentum=0.0, nesterov=False,
                beta_1=0.9, beta_2=0.999, rho=0.9, epsilon=1e-8, alpha=0.0)


@pytest.fixture
def kernel_case():
    """A (4 → 5 → 3) network laid out for batches of 8, and valid arguments
    for each entry point; each test breaks one of them."""
    rng = np.random.RandomState(0)
    net = _network.Network((4, 5, 3))
    net.set_capacity(8, gather=True, step_threads=1)
    params = rng.normal(size=net.n_params)
    return dict(
        net=net, X=rng.normal(size=(16, 4)), y=np.arange(16, dtype=np.int32) % 3,
        sw=np.ones(16), order=rng.permutation(16).astype(np.intp),
        params=params, grad=np.zeros_like(params), s1=np.zeros_like(params),
        s2=np.zeros_like(params), running=np.empty(0),
    )


def _dataset(c, targets=True):
    if not targets:
        return _network.Dataset(c["X"])
    return _network.Dataset(c["X"], c["y"], c["sw"])


def _train_epoch(c, **changes):
    c = {**c, **changes}
    state = _network.TrainState(c["net"], c["params"], c["running"],
                                (c["s1"], c["s2"]), _solver())
    state.batch_size = c.get("batch_size", 8)
    if "relayout" in c:     # the network laid out anew after the state
        c["net"].set_capacity(*c["relayout"])
    return _network.train_epoch(state, _dataset(c), c["order"], 1)


def _loss_grad(c, **changes):
    c = {**c, **changes}
    return _network.loss_grad(c["net"], _dataset(c), c["params"], c["grad"],
                              c["running"], 0.0)


def _forward(c, **changes):
    c = {**c, **changes}
    out = c.get("out", np.empty((c["X"].shape[0], 3)))
    return _network.forward(c["net"], _dataset(c, targets=False), c["params"],
                            c["running"], out, True)


ENTRY_POINTS = {"train_epoch": _train_epoch, "loss_grad": _loss_grad,
                "forward": _forward}


def test_valid_arguments_are_accepted(kernel_case):
    for call in ENTRY_POINTS.values():
        call(kernel_case)


@pytest.mark.parametrize("call", list(ENTRY_POINTS))
@pytest.mark.parametrize("change, match", [
    (lambda c: {"X": c["X"][:, :3].copy()}, "3 features, the network 4"),
    (lambda c: {"X": np.hstack([c["X"], c["X"]])}, "8 features, the network 4"),
    (lambda c: {"X": c["X"].astype(np.float32)}, "input is float32"),
    (lambda c: {"params": c["params"][:-1].copy()},
     "params has 42 entries, the network needs 43"),
    (lambda c: {"params": c["params"].astype(np.float32)},
     "input is float64, the parameters float32"),
    (lambda c: {"running": np.zeros(4)}, "running has 4 entries"),
])
def test_entry_points_refuse_a_mismatched_model(kernel_case, call, change, match):
    with pytest.raises(ValueError, match=match):
        ENTRY_POINTS[call](kernel_case, **change(kernel_case))


@pytest.mark.parametrize("call", ["train_epoch", "loss_grad"])
@pytest.mark.parametrize("change, match", [
    (lambda c: {"y": c["y"] + 1}, r"class indices must be in \[0, 3\)"),
    (lambda c: {"y": -c["y"]}, r"class indices must be in \[0, 3\)"),
    (lambda c: {"y": c["y"][:-1].copy()}, "16 rows but 15 labels"),
    (lambda c: {"sw": np.ones(17)}, "17 sample weights"),
])
def test_entry_points_refuse_bad_targets(kernel_case, call, change, match):
    with pytest.raises(ValueError, match=match):
        ENTRY_POINTS[call](kernel_case, **change(kernel_case))


def test_entry_points_refuse_rows_without_targets(kernel_case):
    c = kernel_case
    with pytest.raises(ValueError, match="class labels"):
        _network.loss_grad(c["net"], _dataset(c, targets=False), c["params"],
                           c["grad"], c["running"], 0.0)


def test_loss_grad_refuses_a_short_gradient(kernel_case):
    with pytest.raises(ValueError, match="grad has 3 entries"):
        _loss_grad(kernel_case, grad=np.zeros(3))


@pytest.mark.parametrize("change, match", [
    (lambda c: {"order": np.full(16, 16, dtype=np.intp)}, r"order must hold"),
    (lambda c: {"order": -np.ones(16, dtype=np.intp)}, r"order must hold"),
    (lambda c: {"order": np.arange(15, dtype=np.intp)}, "order has 15 entries"),
    (lambda c: {"relayout": (16, True, 1)}, "workspace is smaller"),
    (lambda c: {"relayout": (8, True, 0)}, "step_threads"),
    (lambda c: {"batch_size": 9}, "capacity"),
    (lambda c: {"batch_size": 0}, "capacity"),
    (lambda c: {"s1": np.zeros(2)}, "state_1 has 2 entries"),
    (lambda c: {"s2": np.zeros_like(c["params"], dtype=np.float32)},
     "state_2 is float32"),
])
def test_train_epoch_refuses_a_bad_layout(kernel_case, change, match):
    with pytest.raises(ValueError, match=match):
        _train_epoch(kernel_case, **change(kernel_case))


def test_train_epoch_refuses_a_tuner_of_another_layout(kernel_case):
    c = kernel_case
    with pytest.raises(ValueError, match="tuner"):
        _network.TrainState(c["net"], c["params"], c["running"],
                            (c["s1"], c["s2"]), _solver(), np.zeros(7))


@pytest.mark.parametrize("n_records", [0, 2])
def test_tuner_entry_points_refuse_a_state_of_another_size(n_records):
    state = np.zeros(n_records, dtype=_network.TUNER_DTYPE)
    with pytest.raises(ValueError, match="new_tuner"):
        _network.tuner_threads_next(state)
    with pytest.raises(ValueError, match="new_tuner"):
        _network.tuner_account(state, 0.1)
    with pytest.raises(ValueError, match="dtype mismatch"):
        _network.tuner_threads_next(np.zeros(7))


def test_train_epoch_refuses_shuffled_dense_rows_without_room_to_gather():
    """Gathering shuffled rows of many features writes ``capacity ×
    n_features`` values: without their room it would write past the
    workspace."""
    net = _network.Network((1000, 2, 2))
    assert net.set_capacity(8, step_threads=1) < 8 * 1000
    params = np.zeros(net.n_params)
    state = _network.TrainState(net, params, np.empty(0),
                                (params.copy(), params.copy()), _solver())
    data = _network.Dataset(np.ones((16, 1000)), np.zeros(16, np.int32))
    with pytest.raises(ValueError, match="gather=True"):
        _network.train_epoch(state, data, np.arange(16, dtype=np.intp), 1)


def test_forward_refuses_a_wrong_output_shape(kernel_case):
    with pytest.raises(ValueError, match=r"out must be .* shape \(16, 3\)"):
        _forward(kernel_case, out=np.empty((16, 2)))


def _csr(indptr, indices, n_features=4):
    X = sp.csr_matrix((3, n_features))
    X.indptr = np.asarray(indptr, dtype=np.int32)
    X.indices = np.asarray(indices, dtype=np.int32)
    X.data = np.ones(len(indices))
    return X


@pytest.mark.parametrize("X, match", [
    (np.ones((3, 4), dtype=np.int64), "float32 or float64"),
    (np.ones((4, 3)).T, "C-contiguous"),
    (np.ones(4), "2-D"),
    (sp.csc_matrix(np.ones((3, 4))), "must be CSR"),
    (_csr([0, 1, 2], [0, 1]), "n_rows \\+ 1"),
    (_csr([0, 2, 1, 2], [0, 1]), "non-decreasing"),
    (_csr([0, 1, 2, 3], [0, 1]), "within the stored values"),
    (_csr([0, 1, 2, 2], [0, 4]), r"\[0, n_features\)"),
    (_csr([0, 1, 2, 2], [0, -1]), r"\[0, n_features\)"),
    (_csr([-1, 1, 2, 2], [0, 1]), "non-decreasing offsets within"),
    # one bad index among many (the check runs in vectors)
    (_csr([0, 40, 99, 101], [3] * 97 + [-2] + [1] * 3), r"\[0, n_features\)"),
    (_csr([0, 40, 99, 101], [3] * 98 + [4] + [1] * 2), r"\[0, n_features\)"),
], ids=["int", "fortran", "1-D", "csc", "short-indptr", "decreasing-indptr",
        "indptr-past-values", "column-too-large", "negative-column",
        "negative-start", "late-negative-column", "late-column-too-large"])
def test_dataset_refuses_malformed_arrays(X, match):
    with pytest.raises(ValueError, match=match):
        _network.Dataset(X)
