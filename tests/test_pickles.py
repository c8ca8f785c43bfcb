"""Pickles: a loaded model predicts the same bits, keeps its dtype and
trains on, in this process (float32 and float64, protocols 2 and highest)
and in a fresh one.

(A failed call leaving the pickle unchanged is in test_failed_calls.py.)
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone

import sklearn_mcnn
from sklearn_mcnn import (
    MLPBackpropClassifier,
    OneVsAllClassifier,
    OneVsOneClassifier,
    SoftmaxClassifier,
)

pytestmark = [
    pytest.mark.usefixtures("time_limit"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    # A one-vs-* sub-problem with a single label becomes a constant predictor.
    pytest.mark.filterwarnings("ignore:Sub-problem .* constant predictor"),
]

TEST_TIMEOUT = 180  # seconds, per test: a hang fails instead of blocking CI
PACKAGE_ROOT = os.path.dirname(os.path.dirname(sklearn_mcnn.__file__))

PICKLED = {
    "softmax": SoftmaxClassifier(),
    # batch norm's running statistics travel too (was test_bad_input's test)
    "mlp-bn": MLPBackpropClassifier((5,), batch_norm=True, random_state=0),
    "softmax-adam": SoftmaxClassifier(solver="adam", random_state=0),
    "mlp-bn-dropout": MLPBackpropClassifier((6, 4), batch_norm=True, dropout=0.2,
                                            max_iter=20, random_state=0),
    "ovo": OneVsOneClassifier(SoftmaxClassifier(), random_state=0),
    "ova-mlp": OneVsAllClassifier(MLPBackpropClassifier((4,), max_iter=10),
                                  random_state=0),
}


@pytest.mark.parametrize("name", list(PICKLED))
def test_pickles_of_float32_and_float64_models(name, separable, quiet_fit):
    X, y = separable
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        model = quiet_fit(clone(PICKLED[name]), Xd, y)
        for protocol in (2, pickle.HIGHEST_PROTOCOL):
            loaded = pickle.loads(pickle.dumps(model, protocol=protocol))
            for method in ("predict", "predict_proba", "decision_function"):
                assert_array_equal(getattr(loaded, method)(Xd),
                                   getattr(model, method)(Xd))
            if hasattr(model, "_params"):
                assert loaded._params.dtype == dtype
                assert loaded.predict_proba(Xd).dtype == dtype
            # Loaded from a pickle, it can keep training.
            if hasattr(loaded, "partial_fit") and getattr(
                    loaded, "solver", None) != "lbfgs":
                loaded.partial_fit(Xd, y)
                assert np.all(np.isfinite(loaded.predict_proba(Xd)))


def test_pickle_loads_and_predicts_in_a_fresh_process(tmp_path, separable,
                                                      quiet_fit):
    X, y = separable
    expected = {}
    for name, prototype in PICKLED.items():
        for dtype in (np.float32, np.float64):
            key = f"{name}-{dtype.__name__}"
            Xd = X.astype(dtype)
            model = quiet_fit(clone(prototype), Xd, y)
            with open(tmp_path / f"{key}.pkl", "wb") as f:
                pickle.dump(model, f)
            np.save(tmp_path / f"{key}-X.npy", Xd)
            expected[key] = (model.predict(Xd), model.predict_proba(Xd))
    code = textwrap.dedent("""
        import pickle, sys, pathlib
        import numpy as np
        folder = pathlib.Path(sys.argv[1])
        for path in sorted(folder.glob("*.pkl")):
            with open(path, "rb") as f:
                model = pickle.load(f)
            X = np.load(folder / (path.stem + "-X.npy"))
            np.save(folder / (path.stem + "-pred.npy"), model.predict(X))
            np.save(folder / (path.stem + "-proba.npy"), model.predict_proba(X))
        import sklearn_mcnn
        print(sklearn_mcnn.__version__)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    # cwd: not a source checkout's root, whose unbuilt sklearn_mcnn/ would
    # shadow the installed package (``python -c`` puts the cwd first).
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120,
                            check=False, cwd=PACKAGE_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sklearn_mcnn.__version__
    for key, (pred, proba) in expected.items():
        assert_array_equal(np.load(tmp_path / f"{key}-pred.npy"), pred)
        assert_array_equal(np.load(tmp_path / f"{key}-proba.npy"), proba)


@pytest.mark.parametrize("name", ["softmax-adam", "mlp-bn-dropout"])
def test_deep_copies_are_independent_and_copy_the_curves_as_lists(
        name, separable, quiet_fit):
    """``copy.deepcopy`` (a reduction's ``partial_fit`` copies its
    sub-estimators) gives a model that pickles to the same bytes, predicts
    the same bits and shares no mutable state; the curves, which grow by an
    entry per epoch, are copied as lists, not item by item."""
    import copy

    X, y = separable
    model = quiet_fit(clone(PICKLED[name]), X, y)
    for _ in range(3):
        model.partial_fit(X, y, X_val=X[:20], y_val=y[:20])
    copied = copy.deepcopy(model)
    assert pickle.dumps(copied) == pickle.dumps(model)
    for curve in model._CURVES:
        assert getattr(copied, curve) == getattr(model, curve)
        assert getattr(copied, curve) is not getattr(model, curve)
    assert_array_equal(copied.predict_proba(X), model.predict_proba(X))
    before = pickle.dumps(model)
    copied.partial_fit(X, y, X_val=X[:20], y_val=y[:20])
    assert pickle.dumps(model) == before
    assert len(copied.loss_curve_) == len(model.loss_curve_) + 1

    class NoItemCopies(float):
        def __deepcopy__(self, memo):
            raise AssertionError("a curve's items were deep-copied one by one")

    for curve in model._CURVES:
        setattr(model, curve, [NoItemCopies(v) for v in getattr(model, curve)])
    copied = copy.deepcopy(model)
    for curve in model._CURVES:
        assert getattr(copied, curve) == getattr(model, curve)
