"""Export of the trained networks to ONNX, for deployment.

:func:`to_onnx` writes the inference graph of a fitted
:class:`~sklearn_mcnn.SoftmaxClassifier` or
:class:`~sklearn_mcnn.MLPBackpropClassifier` with the ``onnx`` helper API,
without skl2onnx:

- one ``MatMul`` + ``Add`` per layer, then the hidden activation (``Relu``,
  ``Tanh``, ``Sigmoid``; nothing for ``'identity'``);
- batch normalisation (inference form, running statistics) folded into the
  preceding layer: ``W' = W · s``, ``b' = (b − μ) · s + β`` with
  ``s = γ / sqrt(var + eps)``;
- dropout dropped (it is the identity at inference: inverted dropout);
- ``Softmax`` over the output scores.

The graph has one input, ``X`` (dense, ``(n_samples, n_features)``), and two
outputs:

``label``
    int64 of shape ``(n_samples,)``: the *index* of the predicted class
    (``argmax`` of the scores).  The caller maps it to the labels with
    ``estimator.classes_[label]``; ONNX tensors cannot hold arbitrary Python
    labels.
``probabilities``
    ``(n_samples, n_classes)``: ``predict_proba``, in the order of
    ``classes_`` (for ``loss='squared_error'``, the softmax of the outputs,
    as ``predict_proba``).

Needs the ``onnx`` package (the ``onnx`` extra: ``onnx`` and
``onnxruntime``).  Sparse input must be densified by the caller (ONNX's
``MatMul`` is dense).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["to_onnx"]

def _activation_nodes(helper, numpy_helper, name, x, out, slope, dtype):
    """ONNX nodes (and constants) computing the hidden activation ``name``
    of ``x`` into ``out``, or None for the identity.

    Only ``Relu``, ``Tanh`` and ``Sigmoid`` map to one operator: the others
    are built from primitive operators, in the model's dtype (onnxruntime
    runs ``Elu`` and ``Softplus`` in float32 only, ``LeakyRelu``'s slope is
    a float32 attribute, and ``Gelu`` needs opset 20), as the engine
    computes them; GELU is the tanh approximation.
    """
    single = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid"}
    if name == "identity":
        return None
    if name in single:
        return [helper.make_node(single[name], [x], [out])], []
    nodes, initializers = [], []

    def const(key, value):
        initializers.append(numpy_helper.from_array(
            np.asarray(value, dtype=dtype), f"{out}_{key}"))
        return f"{out}_{key}"

    def node(op, *inputs, name=None):
        result = name or f"{out}_{len(nodes)}"
        nodes.append(helper.make_node(op, list(inputs), [result]))
        return result

    if name == "leaky_relu":         # max(z, s z), for 0 <= s < 1
        node("Max", x, node("Mul", x, const("slope", slope)), name=out)
    elif name == "elu":              # z if z > 0 else exp(z) - 1
        node("Where", node("Greater", x, const("zero", 0.0)), x,
             node("Sub", node("Exp", x), const("one", 1.0)), name=out)
    elif name == "softplus":         # max(z, 0) + log(1 + exp(-|z|))
        tail = node("Log", node("Add", const("one", 1.0),
                                node("Exp", node("Neg", node("Abs", x)))))
        node("Add", node("Relu", x), tail, name=out)
    else:                            # gelu: z/2 (1 + tanh(c (z + a z³)))
        cube = node("Mul", node("Mul", x, x), x)
        inner = node("Mul", node("Add", x, node("Mul", cube, const("a", 0.044715))),
                     const("c", 0.7978845608028654))
        one_plus = node("Add", node("Tanh", inner), const("one", 1.0))
        node("Mul", node("Mul", x, const("half", 0.5)), one_plus, name=out)
    return nodes, initializers


#: Default opset: widely supported by onnxruntime builds (>= 1.12).
DEFAULT_OPSET = 17


def _layers(estimator):
    """``[(W, b, activation_or_None), ...]`` in float64, batch norm folded."""
    from ._mlp import MLPBackpropClassifier
    from ._softmax import SoftmaxClassifier

    if not isinstance(estimator, (SoftmaxClassifier, MLPBackpropClassifier)):
        raise TypeError(
            "to_onnx supports SoftmaxClassifier and MLPBackpropClassifier, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator, "_params")
    if isinstance(estimator, SoftmaxClassifier):
        W = np.asarray(estimator.coef_, dtype=np.float64).T
        b = np.asarray(estimator.intercept_, dtype=np.float64)
        return [(W, b, None)]
    coefs = [np.asarray(w, dtype=np.float64) for w in estimator.coefs_]
    intercepts = [np.asarray(b, dtype=np.float64) for b in estimator.intercepts_]
    n_hidden = len(coefs) - 1
    batch_norm = bool(getattr(estimator, "batch_norm", False)) and n_hidden > 0
    eps = float(getattr(getattr(estimator, "_net", None), "bn_eps", 1e-5))
    activations = estimator._network_options()["activation"]
    if isinstance(activations, str):
        activations = [activations] * n_hidden
    layers = []
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        hidden = l < n_hidden
        if hidden and batch_norm:
            gamma = np.asarray(estimator.batch_norm_scales_[l], dtype=np.float64)
            beta = np.asarray(estimator.batch_norm_shifts_[l], dtype=np.float64)
            mean = np.asarray(estimator.running_means_[l], dtype=np.float64)
            var = np.asarray(estimator.running_vars_[l], dtype=np.float64)
            # The engine computes 1/sqrt(var + eps) in the model's dtype.
            inv = (1.0 / np.sqrt(var + eps)).astype(estimator._params.dtype)
            scale = gamma * inv.astype(np.float64)
            W = W * scale[np.newaxis, :]
            b = (b - mean) * scale + beta
        layers.append((W, b, activations[l] if hidden else None))
    return layers


def to_onnx(estimator, n_features=None, dtype=np.float32, *,
            target_opset=DEFAULT_OPSET, name=None):
    """Convert a fitted network to an ONNX model.

    Parameters
    ----------
    estimator : SoftmaxClassifier or MLPBackpropClassifier
        A fitted estimator.

    n_features : int, default=None
        Width of the input ``X``; defaults to ``estimator.n_features_in_``
        (and must equal it when given).

    dtype : {np.float32, np.float64}, default=np.float32
        Element type of the input, the weights and the probabilities.  Use
        the estimator's own dtype for predictions equal to ``predict_proba``
        to rounding.

    target_opset : int, default=17
        ONNX opset of the default domain.

    name : str, default=None
        Graph name; defaults to the estimator's class name.

    Returns
    -------
    model : onnx.ModelProto
        Inputs ``X``; outputs ``label`` (int64 class index: map it with
        ``estimator.classes_[label]``) and ``probabilities``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort                     # doctest: +SKIP
    >>> model = to_onnx(clf, dtype=np.float32)        # doctest: +SKIP
    >>> sess = ort.InferenceSession(model.SerializeToString())  # doctest: +SKIP
    >>> label, proba = sess.run(None, {"X": X.astype(np.float32)})  # doctest: +SKIP
    >>> clf.classes_[label]                           # doctest: +SKIP
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    layers = _layers(estimator)
    if n_features is None:
        n_features = int(estimator.n_features_in_)
    elif int(n_features) != estimator.n_features_in_:
        raise ValueError(
            f"n_features={n_features} but the estimator was fitted with "
            f"{estimator.n_features_in_} features."
        )
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    n_classes = int(estimator.classes_.size)

    nodes, initializers = [], []
    current = "X"
    for l, (W, b, activation) in enumerate(layers):
        w_name, b_name = f"W{l}", f"b{l}"
        initializers.append(numpy_helper.from_array(W.astype(dtype), w_name))
        initializers.append(numpy_helper.from_array(b.astype(dtype), b_name))
        nodes.append(helper.make_node("MatMul", [current, w_name], [f"xw{l}"]))
        out = f"z{l}" if l < len(layers) - 1 else "scores"
        nodes.append(helper.make_node("Add", [f"xw{l}", b_name], [out]))
        act = None if activation is None else _activation_nodes(
            helper, numpy_helper, activation, out, f"a{l}",
            getattr(estimator, "negative_slope", 0.01), dtype)
        if act is not None:
            nodes += act[0]
            initializers += act[1]
            out = f"a{l}"
        current = out
    nodes.append(helper.make_node("Softmax", ["scores"], ["probabilities"],
                                  axis=1))
    nodes.append(helper.make_node("ArgMax", ["scores"], ["label"], axis=1,
                                  keepdims=0))
    graph = helper.make_graph(
        nodes,
        name or type(estimator).__name__,
        [helper.make_tensor_value_info("X", elem, [None, n_features])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("probabilities", elem,
                                          [None, n_classes]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="sklearn-mcnn",
        opset_imports=[helper.make_opsetid("", int(target_opset))],
    )
    # An IR version old runtimes read (opset 17 needs IR >= 8).
    model.ir_version = min(model.ir_version, 8)
    model.doc_string = (
        "label: int64 index into classes_ "
        f"{estimator.classes_.tolist()!r}; probabilities in that order."
    )[:4096]
    onnx.checker.check_model(model)
    return model
