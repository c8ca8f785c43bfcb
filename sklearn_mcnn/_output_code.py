"""Error-correcting output codes (ECOC): multiclass by many binary problems.

A code book ``M`` of shape (n_classes, n_columns) with entries in
{-1, 0, +1} defines one binary problem per column: the classes with +1
against the classes with -1, the classes with 0 left out (their rows are
not in that problem's training set). A new sample gets one score per
column, and the class whose row of ``M`` (its code word) is nearest to the
scores wins (Dietterich & Bakiri 1995; Allwein, Schapire & Singer 2000).

The reductions' base (:mod:`sklearn_mcnn._multiclass`) fits the columns:
the code book is the fit's *plan*, drawn from ``random_state`` before the
sub-estimators' seeds and stored only when every sub-fit has succeeded.
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

import itertools
import math
from numbers import Integral
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp
from sklearn.utils import gen_batches, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if

from ._multiclass import (
    _MIN_PAIR_PROBA,
    _BaseReduction,
    _estimators_have,
)

__all__ = ["OutputCodeClassifier"]

# 'exhaustive' has 2**(n_classes - 1) - 1 columns: 2047 for 12 classes.
_EXHAUSTIVE_MAX_CLASSES = 12

# Random codes sample among all the valid columns when there are at most
# this many of them (dense codes up to 17 classes, sparse up to 11), and
# draw columns one by one, redrawing repeats, above.
_ENUMERATE_MAX_COLUMNS = 2**16

# Rows per batch in the decoders that build (rows, n_classes, n_columns)
# arrays: about 16 MB each.
_BATCH_ELEMENTS = 2**21

# Relative ridge of the coupling when the code has fewer than n_classes - 1
# columns (its least-squares problem then has many solutions): the solution
# returned is the one nearest to uniform probabilities.
_COUPLING_RIDGE = 1e-8

_LOSSES = {
    # loss of a margin z = code entry * score: decreasing in z
    "exponential": None,  # decoded in the log domain, see _loss_distances
    "logistic": lambda z: np.logaddexp(0.0, -z),
    "hinge": lambda z: np.maximum(0.0, 1.0 - z),
}


# --------------------------------------------------------------------------
# Code books


def _n_valid_columns(n_classes, ternary):
    """Number of distinct usable columns up to sign: both +1 and -1 present."""
    if ternary:
        return (3**n_classes - 2 ** (n_classes + 1) + 1) // 2
    return 2 ** (n_classes - 1) - 1


def _orient(code):
    """Flip the columns whose first non-zero entry is +1 (so it is -1)."""
    first = code[np.argmax(code != 0, axis=0), np.arange(code.shape[1])]
    return code * -first[np.newaxis, :]


def _all_columns(n_classes, ternary):
    """All the valid columns, one per complementary pair, shape (K, n)."""
    if ternary:
        digits = np.arange(3**n_classes)[np.newaxis, :] // (
            3 ** np.arange(n_classes)[:, np.newaxis]
        )
        code = (digits % 3 - 1).astype(np.int8)
        valid = (code == 1).any(axis=0) & (code == -1).any(axis=0)
        code = code[:, valid]
        first = code[np.argmax(code != 0, axis=0), np.arange(code.shape[1])]
        return code[:, first == -1]
    values = np.arange(2 ** (n_classes - 1) - 1)
    bits = (values[np.newaxis, :] >> np.arange(n_classes - 1)[:, np.newaxis]) & 1
    # class 0 on the -1 side; the all -1 column (all bits set) is excluded
    code = np.vstack([-np.ones((1, values.size), dtype=np.int8),
                      (1 - 2 * bits).astype(np.int8)])
    return code


def _one_vs_all_code(n_classes):
    return (2 * np.eye(n_classes) - 1).astype(np.int8)


def _one_vs_one_code(n_classes):
    pairs = list(itertools.combinations(range(n_classes), 2))
    code = np.zeros((n_classes, len(pairs)), dtype=np.int8)
    for s, (i, j) in enumerate(pairs):
        code[i, s], code[j, s] = -1, 1
    return code


def _min_row_distance(code):
    """Smallest distance between two code words, -1 if two coincide.

    The distance is Allwein, Schapire and Singer's: sum over the columns of
    ``(1 - M_rs * M_qs) / 2``, the Hamming distance where a 0 counts 1/2.
    A code word of zeros only (a class no column trains) also gives -1.
    """
    n_classes, n_columns = code.shape
    if not (code != 0).any(axis=1).all():
        return -1.0
    if np.unique(code, axis=0).shape[0] < n_classes:
        return -1.0
    M = code.astype(np.float64)
    gram = M @ M.T
    np.fill_diagonal(gram, -np.inf)
    return (n_columns - gram.max()) / 2.0


def _draw_columns(n_classes, n_columns, ternary, rng):
    """Random valid columns, distinct up to sign, drawn one by one.

    Entries are -1/+1 with probability 1/2 each (dense), or 0 with
    probability 1/2 and -1/+1 with 1/4 each (sparse); a column that is
    constant, lacks a side, or repeats (up to sign) an earlier one is
    redrawn. For many classes, where repeats are rare.
    """
    values = np.array([-1, 0, 0, 1] if ternary else [-1, 1], dtype=np.int8)
    code = values[rng.randint(values.size, size=(n_classes, n_columns))]
    for _ in range(1000):
        bad = ~((code == 1).any(axis=0) & (code == -1).any(axis=0))
        oriented = _orient(code)
        _, first = np.unique(oriented, axis=1, return_index=True)
        repeat = np.ones(n_columns, dtype=bool)
        repeat[first] = False
        bad |= repeat
        if not bad.any():
            return code
        code[:, bad] = values[rng.randint(values.size, size=(n_classes, bad.sum()))]
    raise ValueError(
        f"Could not draw {n_columns} distinct columns for {n_classes} classes; "
        "use a smaller code_size."
    )


def _random_code(n_classes, n_columns, ternary, n_trials, rng):
    """The best of `n_trials` random codes: largest minimum row distance.

    Allwein, Schapire & Singer (2000): columns distinct up to sign, none
    constant. When `n_columns` reaches the number of valid columns, the code
    is all of them (no draw).
    """
    n_valid = _n_valid_columns(n_classes, ternary)
    if n_columns >= n_valid:
        return _all_columns(n_classes, ternary)
    candidates = weights = None
    if n_valid <= _ENUMERATE_MAX_COLUMNS:
        candidates = _all_columns(n_classes, ternary)
        # probability of a column under the entry-wise draw, up to a factor
        weights = 2.0 ** (candidates == 0).sum(axis=0)
        weights /= weights.sum()
    best, best_distance = None, -np.inf
    for _ in range(n_trials):
        if candidates is None:
            code = _draw_columns(n_classes, n_columns, ternary, rng)
        else:
            chosen = rng.choice(n_valid, size=n_columns, replace=False, p=weights)
            code = candidates[:, np.sort(chosen)]
        distance = _min_row_distance(code)
        if distance > best_distance:
            best, best_distance = code, distance
    if best_distance < 0:
        raise ValueError(
            f"No random code of {n_columns} columns in {n_trials} trials gives "
            f"the {n_classes} classes distinct code words; increase code_size "
            "or n_trials."
        )
    return _orient(best)


def _check_user_code(code, n_classes):
    """Validate a code book given as an array."""
    code = np.asarray(code)
    if code.ndim != 2 or code.shape[0] != n_classes or code.shape[1] < 1:
        raise ValueError(
            f"code must have shape (n_classes, n_columns) = ({n_classes}, L) "
            f"with L >= 1, got shape {code.shape}."
        )
    if not np.all(np.isin(code, (-1, 0, 1))):
        raise ValueError("code must contain only -1, 0 and +1.")
    code = code.astype(np.int8)
    empty = ~(code != 0).any(axis=0)
    if empty.any():
        raise ValueError(
            f"Every column of code needs a non-zero entry (a column of zeros "
            f"trains nothing); columns {np.flatnonzero(empty).tolist()} do not."
        )
    if _min_row_distance(code) < 0:
        raise ValueError(
            "code must give each class its own code word with a non-zero "
            "entry: two rows are equal, or a row has zeros only."
        )
    return code


def make_code_book(code, n_classes, *, code_size=None, n_trials=100,
                   random_state=None):
    """The code book of a `code` option for `n_classes` classes.

    See :class:`OutputCodeClassifier` for the options; `random_state` is a
    RandomState instance (used by the random codes only).
    """
    if not isinstance(code, str):
        return _check_user_code(code, n_classes)
    if n_classes == 2:
        # every code of two classes is the original problem
        return np.array([[-1], [1]], dtype=np.int8)
    if code == "ova":
        return _one_vs_all_code(n_classes)
    if code == "ovo":
        return _one_vs_one_code(n_classes)
    if code == "exhaustive":
        if n_classes > _EXHAUSTIVE_MAX_CLASSES:
            raise ValueError(
                f"code='exhaustive' has 2**(n_classes - 1) - 1 columns: "
                f"{2 ** (n_classes - 1) - 1} binary problems for {n_classes} "
                f"classes. It is limited to {_EXHAUSTIVE_MAX_CLASSES} classes; "
                "use code='dense' or 'sparse'."
            )
        return _all_columns(n_classes, ternary=False)
    ternary = code == "sparse"
    if code_size is None:
        n_columns = math.ceil((15 if ternary else 10) * math.log2(n_classes))
    elif isinstance(code_size, Integral):
        n_columns = int(code_size)
    else:
        n_columns = max(1, round(code_size * n_classes))
    return _random_code(n_classes, n_columns, ternary, n_trials, random_state)


# --------------------------------------------------------------------------
# Decoding


def _log_odds(proba):
    """log(p / (1 - p)), finite: p is kept in [2**-53, 1 - 2**-53]."""
    eps = np.finfo(np.float64).eps / 2
    proba = np.clip(proba, eps, 1.0 - eps)
    return np.log(proba) - np.log1p(-proba)


def _hamming_decision(scores, threshold, code):
    """Minus the Hamming distance, ties broken by the summed confidence.

    The sign of each score (its side of `threshold`, 0 on it) against each
    code word: ``sum_s (1 - M_rs * sign_s) / 2``, a 0 on either side
    counting 1/2 (Allwein et al.). Among the nearest code words, the largest
    summed confidence ``sum_s M_rs * score_s`` wins: it is mapped into
    (-1/4, 1/4), below the spacing 1/2 of the distances.
    """
    M = code.astype(np.float64)
    signs = np.sign(scores - threshold)
    distance = (code.shape[1] - signs @ M.T) / 2.0
    confidence = scores @ M.T
    return -distance + confidence / (4.0 * (np.abs(confidence) + 1.0))


def _loss_distances(margins, code, loss):
    """Loss-based distances ``sum_{s: M_rs != 0} L(M_rs * margin_s)``.

    For the exponential loss, the logarithm of that sum (computed in the
    log domain, so large margins do not overflow).
    """
    positive = (code == 1).astype(np.float64).T
    negative = (code == -1).astype(np.float64).T
    if loss != "exponential":
        loss_function = _LOSSES[loss]
        return loss_function(margins) @ positive + loss_function(-margins) @ negative
    n_samples = margins.shape[0]
    n_classes, n_columns = code.shape
    exponent_sign = -code.astype(np.float64)
    distances = np.empty((n_samples, n_classes))
    batch_size = max(1, _BATCH_ELEMENTS // (n_classes * n_columns))
    for batch in gen_batches(n_samples, batch_size):
        exponents = exponent_sign[np.newaxis] * margins[batch, np.newaxis, :]
        distances[batch] = logsumexp(
            np.where(code[np.newaxis] != 0, exponents, -np.inf), axis=2
        )
    return distances


def _euclidean_decision(values, code):
    """Minus the Euclidean distance from the scores to each code word."""
    M = code.astype(np.float64)
    squared = (
        np.sum(values**2, axis=1, keepdims=True)
        - 2.0 * values @ M.T
        + np.sum(M**2, axis=1)[np.newaxis, :]
    )
    return -np.sqrt(np.maximum(squared, 0.0))


def _code_coupling(column_proba, code):
    """Class probabilities from the columns' probabilities (least squares).

    The generalised Bradley-Terry model of Huang, Weng & Lin (2006) reads
    the probability ``r_s`` that column s's classifier gives its +1 side as
    ``q_s+ / (q_s+ + q_s-)``, with ``q_s+`` (``q_s-``) the total probability
    of the classes on the +1 (-1) side. As Wu, Lin & Weng's second method
    does for pairs, the probabilities ``p`` minimise the squared residuals
    ``sum_s (r_s q_s- - (1 - r_s) q_s+) ** 2`` subject to ``sum(p) = 1``:
    ``p^T Q p`` with ``Q = A A^T``, where column s of ``A`` holds ``r_s`` for
    the -1 classes and ``-(1 - r_s)`` for the +1 classes. For the one-vs-one
    code, ``Q`` is exactly the matrix of one-vs-one's coupling; for the
    one-vs-all code, ``p = r + (1 - sum(r)) / n_classes``.

    The KKT system ``[[Q, 1], [1^T, 0]]`` is solved for all rows at once (in
    batches); tiny negative solutions are clipped to zero and the rows
    renormalised. With fewer than ``n_classes - 1`` columns the minimiser is
    not unique: a vanishing ridge then picks the one nearest to uniform.
    """
    n_samples, n_columns = column_proba.shape
    n_classes = code.shape[0]
    r = np.clip(column_proba, _MIN_PAIR_PROBA, 1.0 - _MIN_PAIR_PROBA)
    negative = (code == -1).astype(np.float64)
    positive = (code == 1).astype(np.float64)
    underdetermined = n_columns < n_classes - 1
    diagonal = np.arange(n_classes)
    proba = np.empty((n_samples, n_classes))
    size = max(n_classes * n_columns, (n_classes + 1) ** 2)
    for batch in gen_batches(n_samples, max(1, _BATCH_ELEMENTS // size)):
        n_rows = batch.stop - batch.start
        A = (negative[np.newaxis] * r[batch, np.newaxis, :]
             - positive[np.newaxis] * (1.0 - r[batch, np.newaxis, :]))
        Q = A @ A.transpose(0, 2, 1)
        kkt = np.zeros((n_rows, n_classes + 1, n_classes + 1))
        kkt[:, :n_classes, :n_classes] = Q
        kkt[:, :n_classes, n_classes] = 1.0
        kkt[:, n_classes, :n_classes] = 1.0
        rhs = np.zeros((n_rows, n_classes + 1, 1))
        rhs[:, n_classes, 0] = 1.0
        if underdetermined:
            ridge = _COUPLING_RIDGE * np.trace(Q, axis1=1, axis2=2) / n_classes
            kkt[:, diagonal, diagonal] += ridge[:, np.newaxis]
        try:
            solution = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:
            ridge = _COUPLING_RIDGE * np.trace(Q, axis1=1, axis2=2) / n_classes
            kkt[:, diagonal, diagonal] += np.maximum(ridge, 1e-12)[:, np.newaxis]
            solution = np.linalg.solve(kkt, rhs)
        proba[batch] = solution[:, :n_classes, 0]
    np.clip(proba, 0.0, None, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba


class OutputCodeClassifier(_BaseReduction):
    """Error-correcting output-code multiclass classifier.

    Each column of a code book ``M`` (one row per class, entries in
    {-1, 0, +1}) is a binary problem: the classes marked +1 against those
    marked -1, on their samples only (a 0 leaves the class's samples out of
    that problem). A binary classifier is trained per column, and a sample
    goes to the class whose code word best matches the classifiers' outputs
    (`decoding`). A code whose words differ in ``d`` places corrects up to
    ``(d - 1) / 2`` wrong binary predictions (Dietterich & Bakiri [3]_).
    One-vs-all and one-vs-one are the codes ``'ova'`` and ``'ovo'``.
    ``predict_proba`` couples the columns' probabilities by the generalised
    Bradley-Terry model [2]_.

    Read more in the :ref:`User Guide <output_codes>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        The binary classifier to clone for each column; it must implement
        ``fit``. Its scores are read from ``decision_function`` when it has
        one, else from ``predict_proba`` (else from ``predict``). ``None``
        means :class:`~sklearn_mcnn.SoftmaxClassifier()`.

    code : {'dense', 'sparse', 'ova', 'ovo', 'exhaustive'} or array-like of \
            shape (n_classes, n_columns), default='dense'
        The code book.

        - ``'dense'``: random entries -1/+1, ``ceil(10 * log2(n_classes))``
          columns by default.
        - ``'sparse'``: random entries 0 (probability 1/2), -1 or +1,
          ``ceil(15 * log2(n_classes))`` columns by default.
        - ``'ova'``: one-vs-all, the identity in +1/-1 (n_classes columns).
        - ``'ovo'``: one-vs-one, one column per pair (i, j), i < j, with -1
          for i, +1 for j and 0 elsewhere.
        - ``'exhaustive'``: every split of the classes in two,
          ``2 ** (n_classes - 1) - 1`` columns; at most 12 classes.
        - an array: the code book itself, rows in the order of `classes_`,
          entries in {-1, 0, +1}; the rows must differ, and every column
          needs a non-zero entry. A column with one side only (as
          scikit-learn's random codes can have) gets a constant predictor.

        The random codes draw `n_trials` code books from `random_state` and
        keep the one whose closest two code words are farthest apart, among
        books whose columns are distinct up to sign and none constant
        (Allwein, Schapire & Singer [1]_). When the requested size reaches
        the number of such columns, the code is all of them. With two
        classes, every named code is the single column of the original
        problem.

    code_size : int or float, default=None
        Number of columns of the random codes: an int is the number itself,
        a float a multiple of ``n_classes``. ``None`` means the defaults
        above. Not used by the other codes.

    decoding : {'auto', 'proba', 'loss', 'hamming', 'euclidean'}, \
            default='auto'
        How ``predict`` chooses the class (``decision_function`` is the
        rule's score, so ``predict`` is its argmax).

        - ``'proba'``: the argmax of :meth:`predict_proba` (the columns'
          probabilities coupled into class probabilities); needs a base
          estimator with ``predict_proba``.
        - ``'loss'``: loss-based decoding [1]_: the class minimising
          ``sum_s L(M_rs * f_s)`` over the columns where ``M_rs != 0``, with
          ``f_s`` the margin of column s (its ``decision_function``, else the
          log-odds of its ``predict_proba``) and ``L`` the `loss`.
        - ``'hamming'``: the code word nearest to the signs of the margins
          in Hamming distance, a 0 (in the code or on the threshold)
          counting 1/2; ties broken by the largest summed confidence
          ``sum_s M_rs * score_s`` (so the code ``'ova'`` decodes as
          one-vs-all and ``'ovo'`` as one-vs-one's vote).
        - ``'euclidean'``: the code word nearest in Euclidean distance to the
          scores (decision values; probabilities mapped to ``2 p - 1``):
          scikit-learn's ``OutputCodeClassifier`` rule.
        - ``'auto'``: ``'proba'`` when the base estimator has
          ``predict_proba``, else ``'loss'``.

    loss : {'logistic', 'exponential', 'hinge'}, default='logistic'
        The loss ``L`` of ``decoding='loss'``: ``log(1 + exp(-z))``,
        ``exp(-z)`` or ``max(0, 1 - z)``.

    n_trials : int, default=100
        Number of random code books drawn for ``'dense'`` and ``'sparse'``.

    n_jobs : int, default=None
        Number of jobs fitting the column classifiers in parallel, through
        joblib. ``None`` means 1 unless in a :func:`joblib.parallel_backend`
        context, ``-1`` all processors. The model does not depend on
        `n_jobs`.

    random_state : int, RandomState instance or None, default=None
        Draws the random code book, then seeds the sub-estimators (every
        ``random_state`` parameter of each clone is set to an integer drawn
        from it), so a fixed `random_state` fixes the whole model.

    Attributes
    ----------
    code_book_ : ndarray of shape (n_classes, n_columns), dtype=int8
        The code book: row k is the code word of ``classes_[k]``.

    estimators_ : list of estimators
        The fitted classifier of each column (label 1 for its +1 side). A
        column whose training samples (with positive weight) hold one side
        only gets a constant predictor.

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    pairwise_indices_ : list of ndarray or None
        Row indices of each column's training samples when the base
        estimator takes a precomputed kernel (``pairwise`` tag), else
        ``None``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    OneVsAllClassifier : The code ``'ova'`` with its own decoding.
    OneVsOneClassifier : The code ``'ovo'`` with its own decoding.
    TournamentClassifier : A reduction whose prediction costs log2(K)
        binary predictions.
    sklearn.multiclass.OutputCodeClassifier : Dense random codes with
        Euclidean decoding.

    References
    ----------
    .. [1] E. L. Allwein, R. E. Schapire and Y. Singer, "Reducing multiclass
       to binary: a unifying approach for margin classifiers", Journal of
       Machine Learning Research 1, 113-141, 2000.
    .. [2] T.-K. Huang, R. C. Weng and C.-J. Lin, "Generalized Bradley-Terry
       models and multi-class probability estimates", Journal of Machine
       Learning Research 7, 85-115, 2006.
    .. [3] T. G. Dietterich and G. Bakiri, "Solving multiclass learning
       problems via error-correcting output codes", Journal of Artificial
       Intelligence Research 2, 263-286, 1995.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_mcnn import OutputCodeClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = OutputCodeClassifier(LogisticRegression(max_iter=1000),
    ...                            code="exhaustive").fit(X, y)
    >>> clf.code_book_
    array([[-1, -1, -1],
           [ 1, -1,  1],
           [ 1,  1, -1]], dtype=int8)
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> clf.predict_proba(X[[0]]).round(2)
    array([[0.92, 0.08, 0.  ]])
    >>> sparse = OutputCodeClassifier(LogisticRegression(max_iter=1000),
    ...     code="sparse", code_size=6, decoding="loss", random_state=0)
    >>> sparse.fit(X, y).code_book_.shape
    (3, 6)
    >>> float(sparse.score(X, y)) > 0.9
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit"]), None],
        "code": [
            StrOptions({"dense", "sparse", "ova", "ovo", "exhaustive"}),
            "array-like",
        ],
        "code_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, None, closed="neither"),
            None,
        ],
        "decoding": [StrOptions({"auto", "proba", "loss", "hamming", "euclidean"})],
        "loss": [StrOptions(set(_LOSSES))],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        code="dense",
        code_size=None,
        decoding="auto",
        loss="logistic",
        n_trials=100,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.code = code
        self.code_size = code_size
        self.decoding = decoding
        self.loss = loss
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---------------------------------------------------------------- fit

    def _decoding_rule(self, reference=None):
        """``decoding`` with ``'auto'`` resolved (against `reference`, by
        default a fitted sub-estimator, else the base estimator)."""
        if self.decoding != "auto":
            return self.decoding
        if reference is None:
            reference = self._reference_estimator()
        return "proba" if hasattr(reference, "predict_proba") else "loss"

    def _check_voting(self):
        base = self._base_estimator()
        if self._decoding_rule(base) == "proba" and not hasattr(base, "predict_proba"):
            raise ValueError(
                f"decoding='proba' needs a base estimator with predict_proba; "
                f"{type(base).__name__} has none. Use decoding='loss', "
                "'hamming', 'euclidean' or 'auto'."
            )

    def _new_plan(self, classes, seed_source):
        return make_code_book(
            self.code, classes.size, code_size=self.code_size,
            n_trials=self.n_trials, random_state=seed_source,
        )

    def _current_plan(self):
        return self.code_book_

    def _commit_plan(self, plan):
        self.code_book_ = plan

    def _subproblem_rounds(self, X, y_encoded, classes, plan, trained):
        pairwise = get_tags(self._base_estimator()).input_tags.pairwise
        subproblems = []
        for s in range(plan.shape[1]):
            side = plan[y_encoded, s]
            if pairwise or not side.all():
                indices = np.flatnonzero(side)
                y_binary = (side[indices] > 0).astype(np.intp)
            else:
                indices, y_binary = None, (side > 0).astype(np.intp)
            names = (_side_name(classes, plan[:, s] == -1),
                     _side_name(classes, plan[:, s] == 1))
            subproblems.append((s, indices, y_binary, names))
        yield subproblems

    def _store_subproblem_indices(self, indices):
        pairwise = get_tags(self._base_estimator()).input_tags.pairwise
        self.pairwise_indices_ = indices if pairwise else None

    # ------------------------------------------------------------ predict

    def _column_margins(self, scores, method):
        """The margins of loss-based decoding, from the columns' scores."""
        if method == "predict_proba":
            return _log_odds(scores)
        if method == "predict":
            return 2.0 * scores - 1.0
        return scores

    def _decision(self, X):
        """The decision values of the decoding rule (n_samples, n_classes)."""
        rule = self._decoding_rule()
        if rule == "proba":
            proba = self._coupled_proba(self._validate_for_predict(X))
            return np.log(np.maximum(proba, np.finfo(proba.dtype).tiny))
        scores, threshold = self._sub_scores(X)
        method = self._score_method()
        if rule == "hamming":
            return _hamming_decision(scores, threshold, self.code_book_)
        if rule == "loss":
            margins = self._column_margins(scores, method)
            return -_loss_distances(margins, self.code_book_, self.loss)
        # euclidean: decision values as they are, probabilities and labels
        # mapped from [0, 1] to [-1, 1]
        values = scores if method == "decision_function" else 2.0 * scores - 1.0
        return _euclidean_decision(values, self.code_book_)

    def predict(self, X):
        """Predict class labels by decoding the columns' outputs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class the `decoding` rule chooses: the argmax of
            :meth:`decision_function` (and of :meth:`predict_proba` for
            ``decoding='proba'``, the default with a probabilistic base).
        """
        decision = self._decision(X)
        return self.classes_[decision.argmax(axis=1)]

    def decision_function(self, X):
        """Class scores of the decoding rule; ``predict`` is their argmax.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        decision : ndarray of shape (n_samples, n_classes) or (n_samples,)
            ``'proba'``: the log of the coupled probabilities (a probability
            0 counting as the smallest positive float). ``'loss'``: minus the
            loss-based distance (minus its logarithm for the exponential
            loss). ``'hamming'``: minus the Hamming distance plus the summed
            confidence ``c`` mapped to ``c / (4 * (|c| + 1))``.
            ``'euclidean'``: minus the Euclidean distance. With two classes,
            shape (n_samples,): the score of `classes_[1]` minus that of
            `classes_[0]`, positive exactly when ``predict`` says
            `classes_[1]`.
        """
        decision = self._decision(X)
        if self.classes_.size == 2:
            return decision[:, 1] - decision[:, 0]
        return decision

    def _coupled_proba(self, X):
        """Class probabilities from the columns' classifiers (validated X)."""
        inputs = self._estimator_inputs(X)
        if self.code_book_.shape == (2, 1):
            proba = self.estimators_[0].predict_proba(inputs[0])
            return proba if self.code_book_[1, 0] == 1 else proba[:, ::-1]
        column_proba = np.column_stack(
            [
                estimator.predict_proba(X_s)[:, 1]
                for estimator, X_s in zip(self.estimators_, inputs, strict=True)
            ]
        )
        return _code_coupling(column_proba, self.code_book_)

    @available_if(_estimators_have("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities by generalised Bradley-Terry coupling.

        Available when the base estimator has ``predict_proba``. Column s's
        classifier estimates ``r_s``, the probability of its +1 side given
        that the class is on one of its sides; the class probabilities
        ``p`` minimise ``sum_s (r_s q_s- - (1 - r_s) q_s+) ** 2`` subject to
        ``sum(p) = 1``, where ``q_s+`` and ``q_s-`` are the total
        probabilities of the +1 and -1 classes of column s (Huang, Weng &
        Lin 2006, in the least-squares form of Wu, Lin & Weng). For the code
        ``'ovo'`` this is one-vs-one's pairwise coupling.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one, columns ordered as `classes_`. Its argmax is
            ``predict`` under ``decoding='proba'`` (the default with a
            probabilistic base); the other rules may choose differently.
        """
        return self._coupled_proba(self._validate_for_predict(X))


def _side_name(classes, mask):
    """A short name of one side of a column, for warnings."""
    members = classes[mask]
    if members.size <= 4:
        return "{" + ", ".join(repr(np.asarray(c).item()) for c in members) + "}"
    return f"{{{members.size} classes}}"
