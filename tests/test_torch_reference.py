"""Our numerics against PyTorch's, in float64, to round-off.

For the same weights and the same batch, the Cython engine's objective, its
gradient and one step of each optimiser must agree with a PyTorch model and
``torch.optim``.  PyTorch is optional: the tests that need it skip (visibly,
with the reason) where it is not installed.  The estimator-level check that
``MLPBackpropClassifier(hidden_layer_sizes=())`` is ``SoftmaxClassifier``
needs no torch and always runs.

Conventions (the SPEC's *Objective*):

- parameters are one flat vector laid out as ``Network.layer_slices()``:
  per layer ``W`` (``n_in × n_out``, row-major), ``b`` and, for hidden layers
  with batch normalisation, ``γ`` then ``β``; a layer computes ``A W + b``;
- ``F = Σ s_i ℓ_i / Σ s_i + (alpha / 2) Σ ‖W_l‖²``, ``ℓ`` the cross-entropy
  of the softmax outputs or ``‖out − onehot‖²``;
- batch normalisation before the activation, with weighted batch statistics
  ``μ = Σ w_i z_i`` and ``σ² = Σ w_i (z_i − μ)²`` (biased), ``w = s / Σ s``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from sklearn_mcnn import MLPBackpropClassifier, SoftmaxClassifier
from sklearn_mcnn._network import (
    Dataset,
    Network,
    TrainState,
    forward,
    loss_grad,
    train_epoch,
)

ACTIVATIONS = ["relu", "tanh", "logistic", "identity", "leaky_relu", "elu",
               "gelu", "softplus"]
LOSSES = ["log_loss", "squared_error"]
SIZES = (6, 5, 4, 3)  # 6 features, hidden (5, 4), 3 classes
N_SAMPLES = 23
BN_EPS = 1e-5

# float64 round-off, with room for the different summation orders of BLAS
# and of PyTorch's kernels.  The largest errors measured on this problem are
# around 1e-15 (objective, gradient) and 1e-14 (parameters after a step).
RTOL = 1e-11


@pytest.fixture
def torch():
    """PyTorch, or a visible skip where it is not installed."""
    torch = pytest.importorskip("torch")
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # nn.Linear & co. in float64
    yield torch
    torch.set_default_dtype(default)


# ----------------------------------------------------------------- helpers


def _problem(sparse, weights, seed=0):
    """A small problem: X (dense or CSR), y, and sample weights."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_SAMPLES, SIZES[0]))
    X[rng.uniform(size=X.shape) < 0.4] = 0.0  # CSR with real sparsity
    X[:, 2] = 0.0  # an input that is always zero
    y = np.r_[np.arange(SIZES[-1]), rng.randint(SIZES[-1], size=N_SAMPLES - SIZES[-1])]
    if weights == "unit":
        sw = np.ones(N_SAMPLES)
    elif weights == "integer":
        sw = rng.randint(0, 4, size=N_SAMPLES).astype(np.float64)
        sw[:3] = [2.0, 0.0, 3.0]
    else:  # non-uniform real weights
        sw = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    return (sp.csr_matrix(X) if sparse else X), y.astype(np.int32), sw


def _kernel_inputs(X, y=None, sw=None):
    """``X`` (and for training its labels and weights) as the kernels read
    them: a ``Dataset`` (dense rows or CSR)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X.indices = X.indices.astype(np.int32)
        X.indptr = X.indptr.astype(np.int32)
        return Dataset(X, y, sw)
    return Dataset(np.ascontiguousarray(X), y, sw)


def _network(activation, loss, batch_norm, sizes=SIZES):
    return Network(sizes, activation=activation, loss=loss,
                   batch_norm=batch_norm, dropout=0.0, capacity=N_SAMPLES)


def _random_params(net, seed=1):
    rng = np.random.RandomState(seed)
    params = rng.normal(scale=0.6, size=net.n_params)
    for _, _, gb in net.layer_slices():
        if gb is not None:  # γ around 1, β around 0
            n = (gb.stop - gb.start) // 2
            params[gb] = np.r_[rng.uniform(0.5, 1.5, n), rng.normal(scale=0.3, size=n)]
    return params


def _unflatten(torch, net, params):
    """Per layer ``[W, b, γ, β]`` leaf tensors (γ, β None without batch norm)."""
    layers = []
    for (w, b, gb), n_in, n_out in zip(net.layer_slices(), net.sizes[:-1],
                                       net.sizes[1:]):
        W = torch.tensor(params[w].reshape(n_in, n_out), requires_grad=True)
        B = torch.tensor(params[b], requires_grad=True)
        G = Be = None
        if gb is not None:
            G = torch.tensor(params[gb][:n_out], requires_grad=True)
            Be = torch.tensor(params[gb][n_out:], requires_grad=True)
        layers.append([W, B, G, Be])
    return layers


def _flatten_grads(net, layers):
    """The gradients of the torch leaves in our parameter layout."""
    out = np.empty(net.n_params)
    for (w, b, gb), (W, B, G, Be) in zip(net.layer_slices(), layers):
        out[w] = W.grad.numpy().ravel()
        out[b] = B.grad.numpy()
        if gb is not None:
            out[gb] = np.r_[G.grad.numpy(), Be.grad.numpy()]
    return out


def _flatten_values(net, layers):
    out = np.empty(net.n_params)
    for (w, b, gb), (W, B, G, Be) in zip(net.layer_slices(), layers):
        out[w] = W.detach().numpy().ravel()
        out[b] = B.detach().numpy()
        if gb is not None:
            out[gb] = np.r_[G.detach().numpy(), Be.detach().numpy()]
    return out


def _activation(torch, name):
    F = torch.nn.functional
    return {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid,
            "identity": lambda z: z,
            "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
            "elu": F.elu,
            "gelu": lambda z: F.gelu(z, approximate="tanh"),
            "softplus": F.softplus}[name]


def _torch_outputs(torch, layers, X, sw, activation, stats=None):
    """Forward pass written out in torch, batch norm by hand (weighted).

    ``stats`` collects each batch-normalised layer's (mean, biased variance).
    """
    names = ([activation] * (len(layers) - 1) if isinstance(activation, str)
             else activation)
    w = torch.tensor(sw / sw.sum())[:, None]
    a = X
    for l, (W, B, G, Be) in enumerate(layers):
        z = a @ W + B
        if l == len(layers) - 1:
            return z
        if G is not None:
            mu = (w * z).sum(0)
            var = (w * (z - mu) ** 2).sum(0)
            if stats is not None:
                stats.append((mu.detach().numpy(), var.detach().numpy()))
            z = G * (z - mu) / torch.sqrt(var + BN_EPS) + Be
        a = _activation(torch, names[l])(z)


def _torch_data_loss(torch, out, y, sw, loss):
    """``Σ s_i ℓ_i / Σ s_i``."""
    y_t = torch.tensor(y, dtype=torch.long)
    if loss == "log_loss":
        per_sample = torch.nn.functional.cross_entropy(out, y_t, reduction="none")
    else:
        onehot = torch.nn.functional.one_hot(y_t, out.shape[1]).to(out.dtype)
        per_sample = ((out - onehot) ** 2).sum(1)
    s = torch.tensor(sw)
    return (s * per_sample).sum() / s.sum()


def _torch_objective(torch, layers, X, y, sw, activation, loss, alpha, stats=None):
    out = _torch_outputs(torch, layers, X, sw, activation, stats)
    penalty = sum((W ** 2).sum() for W, _, _, _ in layers)
    return _torch_data_loss(torch, out, y, sw, loss) + 0.5 * alpha * penalty


def _torch_X(torch, X):
    return torch.tensor(X.toarray() if sp.issparse(X) else X)


def _ours(net, X, y, sw, params, alpha):
    """Our objective, gradient and running statistics from ``loss_grad``."""
    grad = np.empty_like(params)
    running = np.zeros(net.n_running)
    value = loss_grad(net, _kernel_inputs(X, y, sw), params.copy(), grad,
                      running, alpha)
    return value, grad, running


def _train_epoch(net, data, batch_size, params, state_1, state_2, running,
                 hyper, t):
    """One ``train_epoch`` over the rows in order, from step ``t``:
    ``(loss_sum, t, every batch passed the guard)``."""
    state = TrainState(net, params, running, (state_1, state_2), hyper)
    state.lr, state.batch_size, state.t = hyper["lr"], batch_size, t
    loss_sum, n_batches, _, _ = train_epoch(state, data, None, 0)
    n_expected = -(-data.n_rows // batch_size)
    return loss_sum, state.t, n_batches == n_expected


# ------------------------------------------------- objective and gradient


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_gradient_match_torch(torch, activation, loss, batch_norm, sparse):
    alpha = 0.03
    net = _network(activation, loss, batch_norm)
    params = _random_params(net)
    for weights in ["unit", "integer", "real"]:
        X, y, sw = _problem(sparse, weights)
        value, grad, running = _ours(net, X, y, sw, params, alpha)

        layers = _unflatten(torch, net, params)
        stats = []
        F = _torch_objective(torch, layers, _torch_X(torch, X), y, sw,
                             activation, loss, alpha, stats)
        F.backward()
        expected = _flatten_grads(net, layers)

        assert value == pytest.approx(F.item(), rel=RTOL, abs=0)
        assert_allclose(grad, expected, rtol=RTOL,
                        atol=RTOL * np.abs(expected).max())
        # The full-batch pass sets the running statistics to the batch's.
        for sl, (mu, var) in zip(filter(None, net.running_slices()), stats):
            assert_allclose(running[sl[0]], mu, rtol=RTOL, atol=1e-14)
            assert_allclose(running[sl[1]], var, rtol=RTOL, atol=1e-14)
        assert len(stats) == (len(SIZES) - 2 if batch_norm else 0)


def _assert_objective_matches_torch(torch, net, params, X, y, sw, activation,
                                    loss, alpha):
    """Our objective and gradient (``loss_grad``) equal torch's."""
    value, grad, _ = _ours(net, X, y, sw, params, alpha)
    layers = _unflatten(torch, net, params)
    F = _torch_objective(torch, layers, _torch_X(torch, X), y, sw, activation,
                         loss, alpha)
    F.backward()
    expected = _flatten_grads(net, layers)
    assert value == pytest.approx(F.item(), rel=RTOL, abs=0)
    assert_allclose(grad, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_row_matches_torch(torch, activation, loss, sparse):
    """A one-row batch runs every product as a matrix-vector product (gemv):
    its objective and gradient against torch's."""
    net = _network(activation, loss, False)
    params = _random_params(net, seed=9)
    X, y, sw = _problem(sparse, "real")
    _assert_objective_matches_torch(torch, net, params, X[3:4], y[3:4], sw[3:4],
                                    activation, loss, 0.02)


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
def test_one_activation_per_layer_matches_torch(torch, batch_norm, sparse):
    activations = ("gelu", "leaky_relu")
    net = Network(SIZES, activation=activations, batch_norm=batch_norm,
                  capacity=N_SAMPLES)
    params = _random_params(net, seed=7)
    X, y, sw = _problem(sparse, "real")
    _assert_objective_matches_torch(torch, net, params, X, y, sw,
                                    list(activations), "log_loss", 0.02)


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("hidden", [True, False], ids=["mlp", "softmax"])
@pytest.mark.parametrize("loss", LOSSES)
def test_label_smoothing_matches_torch(torch, loss, hidden, sparse):
    """``CrossEntropyLoss(label_smoothing=ε)`` per sample, weighted; for the
    squared error the same smoothed targets."""
    eps, alpha = 0.15, 0.02
    sizes = SIZES if hidden else (SIZES[0], SIZES[-1])
    net = _network("tanh", loss, False, sizes=sizes)
    net.label_smoothing = eps
    params = _random_params(net, seed=8)
    X, y, sw = _problem(sparse, "real")
    value, grad, _ = _ours(net, X, y, sw, params, alpha)

    layers = _unflatten(torch, net, params)
    out = _torch_outputs(torch, layers, _torch_X(torch, X), sw, "tanh")
    y_t = torch.tensor(y, dtype=torch.long)
    if loss == "log_loss":
        per_sample = torch.nn.functional.cross_entropy(
            out, y_t, reduction="none", label_smoothing=eps)
    else:
        onehot = torch.nn.functional.one_hot(y_t, out.shape[1]).to(out.dtype)
        target = (1 - eps) * onehot + eps / out.shape[1]
        per_sample = ((out - target) ** 2).sum(1)
    s = torch.tensor(sw)
    F = ((s * per_sample).sum() / s.sum()
         + 0.5 * alpha * sum((W ** 2).sum() for W, _, _, _ in layers))
    F.backward()
    expected = _flatten_grads(net, layers)
    assert value == pytest.approx(F.item(), rel=RTOL, abs=0)
    assert_allclose(grad, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_unit_weights_match_torch_modules(torch, activation, loss, sparse):
    """With unit weights the hand-written batch norm is torch's own.

    The reference here is built from ``nn.Linear``, ``nn.BatchNorm1d`` in
    training mode (``F.batch_norm(training=True)``) and the library's losses.
    """
    nn = torch.nn
    alpha = 0.01
    net = _network(activation, loss, batch_norm=True)
    params = _random_params(net, seed=3)
    X, y, sw = _problem(sparse, "unit")
    value, grad, _ = _ours(net, X, y, sw, params, alpha)

    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid,
           "identity": nn.Identity, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
           "gelu": lambda: nn.GELU(approximate="tanh"),
           "softplus": nn.Softplus}[activation]
    modules, linears, norms = [], [], []
    slices = net.layer_slices()
    for l, ((w, b, gb), n_in, n_out) in enumerate(
            zip(slices, net.sizes[:-1], net.sizes[1:])):
        lin = nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(params[w].reshape(n_in, n_out).T))
            lin.bias.copy_(torch.tensor(params[b]))
        modules.append(lin)
        linears.append(lin)
        if l < len(slices) - 1:
            bn = nn.BatchNorm1d(n_out, eps=BN_EPS)
            with torch.no_grad():
                bn.weight.copy_(torch.tensor(params[gb][:n_out]))
                bn.bias.copy_(torch.tensor(params[gb][n_out:]))
            modules += [bn, act()]
            norms.append(bn)
    model = nn.Sequential(*modules).train()
    out = model(_torch_X(torch, X))
    y_t = torch.tensor(y, dtype=torch.long)
    if loss == "log_loss":
        data_loss = nn.functional.cross_entropy(out, y_t)
    else:
        target = nn.functional.one_hot(y_t, out.shape[1]).to(out.dtype)
        data_loss = nn.functional.mse_loss(out, target, reduction="sum") / len(y)
    F = data_loss + 0.5 * alpha * sum((m.weight ** 2).sum() for m in linears)
    F.backward()

    expected = np.empty(net.n_params)
    for l, (w, b, gb) in enumerate(slices):
        expected[w] = linears[l].weight.grad.numpy().T.ravel()
        expected[b] = linears[l].bias.grad.numpy()
        if gb is not None:
            expected[gb] = np.r_[norms[l].weight.grad.numpy(),
                                 norms[l].bias.grad.numpy()]
    assert value == pytest.approx(F.item(), rel=RTOL, abs=0)
    assert_allclose(grad, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


@pytest.mark.torch
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_inference_matches_torch(torch, activation, batch_norm):
    """``forward`` (predict_proba) uses the running statistics, as eval mode."""
    net = _network(activation, "log_loss", batch_norm)
    params = _random_params(net, seed=4)
    X, y, sw = _problem(False, "real")
    _, _, running = _ours(net, X, y, sw, params, 0.0)  # running := batch stats
    out = np.empty((N_SAMPLES, SIZES[-1]))
    # A different chunking (capacity 5) must not matter at inference.
    forward(Network(SIZES, activation=activation, batch_norm=batch_norm,
                    capacity=5), _kernel_inputs(X), params, running, out, True)

    layers = _unflatten(torch, net, params)
    act = _activation(torch, activation)
    a = _torch_X(torch, X)
    with torch.no_grad():
        for l, ((W, B, G, Be), r) in enumerate(
                zip(layers, [*net.running_slices(), None])):
            z = a @ W + B
            if l == len(layers) - 1:
                break
            if G is not None:
                z = torch.nn.functional.batch_norm(
                    z, torch.tensor(running[r[0]]), torch.tensor(running[r[1]]),
                    G, Be, training=False, eps=BN_EPS)
            a = act(z)
        expected = torch.softmax(z, dim=1).numpy()
    assert_allclose(out, expected, rtol=RTOL, atol=1e-15)


# ------------------------------------------------------- optimiser steps

EPSILON = 1e-8
OPTIMISERS = {
    # name: (our solver and constants, torch.optim factory, steps)
    "sgd": (dict(solver="sgd", momentum=0.0),
            lambda o, g, lr: o.SGD(g, lr=lr), 2),
    "sgd-momentum": (dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
                     lambda o, g, lr: o.SGD(g, lr=lr, momentum=0.9), 3),
    "sgd-nesterov": (dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
                     lambda o, g, lr: o.SGD(g, lr=lr, momentum=0.9,
                                            nesterov=True), 3),
    "adagrad": (dict(solver="adagrad", epsilon=EPSILON),
                lambda o, g, lr: o.Adagrad(g, lr=lr, eps=EPSILON), 3),
    "rmsprop": (dict(solver="rmsprop", rho=0.8, epsilon=EPSILON),
                lambda o, g, lr: o.RMSprop(g, lr=lr, alpha=0.8, eps=EPSILON), 3),
    "adam": (dict(solver="adam", beta_1=0.8, beta_2=0.95, epsilon=EPSILON),
             lambda o, g, lr: o.Adam(g, lr=lr, betas=(0.8, 0.95), eps=EPSILON), 3),
}


def _hyper(lr, alpha, **options):
    """The solver's constants exactly as the estimators build them, and the
    learning rate (no divergence bound: these steps are compared with
    torch's, not judged)."""
    return {**MLPBackpropClassifier(alpha=alpha, **options)._solver_constants(),
            "lr": lr}


@pytest.mark.torch
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "activation, loss, batch_norm",
    [("relu", "log_loss", False), ("tanh", "squared_error", True),
     ("logistic", "log_loss", True)],
    ids=["relu-log", "tanh-sq-bn", "logistic-log-bn"],
)
@pytest.mark.parametrize("optimiser", list(OPTIMISERS))
def test_optimiser_steps_match_torch(torch, optimiser, activation, loss,
                                     batch_norm, sparse):
    """Consecutive full-batch steps of ``train_epoch`` against ``torch.optim``.

    Weight decay ``alpha`` applies to the weight matrices only: torch gets two
    parameter groups.  Several steps cover the optimiser state (momentum
    buffers, squared-gradient sums, Adam's moments and bias correction).
    """
    options, make_optimiser, n_steps = OPTIMISERS[optimiser]
    lr, alpha = 0.05, 0.02
    net = _network(activation, loss, batch_norm)
    params = _random_params(net, seed=5)
    X, y, sw = _problem(sparse, "real", seed=2)
    inputs = _kernel_inputs(X, y, sw)
    hyper = _hyper(lr, alpha, **options)

    layers = _unflatten(torch, net, params)
    groups = [
        {"params": [W for W, _, _, _ in layers], "weight_decay": alpha},
        {"params": [p for _, B, G, Be in layers for p in (B, G, Be)
                    if p is not None], "weight_decay": 0.0},
    ]
    opt = make_optimiser(torch.optim, groups, lr)
    X_t = _torch_X(torch, X)

    # A bias feeding batch normalisation has a zero gradient in exact
    # arithmetic (the batch mean cancels it): in floating point it is
    # round-off, which the adaptive solvers scale up to a step of about lr,
    # in a direction set by the round-off.  Those entries are compared
    # loosely; every other one to round-off.
    tight = np.ones(net.n_params, dtype=bool)
    if options["solver"] != "sgd":
        for _w, b, gb in net.layer_slices():
            if gb is not None:
                tight[b] = False

    state_1, state_2 = np.zeros_like(params), np.zeros_like(params)
    running = np.zeros(net.n_running)
    net.set_capacity(N_SAMPLES, step_threads=1)
    t = 0
    for step in range(1, n_steps + 1):
        loss_sum, t, finite = _train_epoch(
            net, inputs, N_SAMPLES, params, state_1, state_2, running, hyper, t)
        assert finite and t == step

        opt.zero_grad()
        data_loss = _torch_data_loss(
            torch, _torch_outputs(torch, layers, X_t, sw, activation), y, sw, loss)
        data_loss.backward()
        opt.step()

        # train_epoch reports Σ s_i ℓ_i before the step
        assert loss_sum / sw.sum() == pytest.approx(data_loss.item(), rel=RTOL)
        expected = _flatten_values(net, layers)
        assert_allclose(params[tight], expected[tight], rtol=RTOL, atol=1e-13,
                        err_msg=f"{optimiser}, step {step}")
        # Entries with a round-off gradient move by at most ~lr per step.
        assert_allclose(params[~tight], expected[~tight], rtol=0,
                        atol=2 * lr * step)


# ------------------------------- no hidden layer: the softmax model (no torch)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam", "adagrad", "rmsprop"])
def test_no_hidden_layer_is_softmax(solver):
    """``MLPBackpropClassifier(hidden_layer_sizes=())`` is ``SoftmaxClassifier``:
    same code path, same model, bit for bit."""
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4,
                               n_classes=3, random_state=0)
    sw = np.random.RandomState(0).randint(0, 3, size=len(y)).astype(float)
    common = dict(solver=solver, alpha=1e-3, random_state=0, max_iter=15,
                  learning_rate_init=0.01, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        soft = SoftmaxClassifier(**common).fit(X, y, sample_weight=sw)
        mlp = MLPBackpropClassifier(hidden_layer_sizes=(), **common).fit(
            X, y, sample_weight=sw)
    assert_array_equal(mlp.predict_proba(X), soft.predict_proba(X))
    assert_array_equal(mlp.coefs_[0].T, soft.coef_)
    assert_array_equal(mlp.intercepts_[0], soft.intercept_)
    assert mlp.n_iter_ == soft.n_iter_
    assert_array_equal(mlp.loss_curve_, soft.loss_curve_)
