"""Tournament reductions: the filter tree and the error-correcting tournament.

The classes play a single-elimination tournament whose matches are binary
classifiers (Beygelzimer, Langford & Ravikumar, "Error-correcting
tournaments", 2009). A match (a *node*) has two *entrants*: a class itself
(a leaf), or the winner or the loser of an earlier node. Entrants are
coded as integers: ``k < n_classes`` is class k, ``n_classes + 2 * n`` the
winner of node n and ``n_classes + 2 * n + 1`` its loser.

With ``n_errors = e``, the classes play ``e + 1`` brackets: the loser of a
match in bracket b drops into bracket b + 1 (out after bracket e), so that
a class is eliminated only after ``e + 1`` losses; the bracket champions
then play a final single-elimination round. With ``e = 0`` this is the
filter tree. Matches are played in rounds, all brackets in parallel; a
round pairs each bracket's entrants in order, an odd one waiting.

Training is bottom-up (the *filtering*): a node is trained on the rows
whose true class reached it, i.e. won (or, for a dropped entrant, lost)
every match on its way there according to the nodes already trained, with
the label "the true class is the right entrant". Prediction walks down
from the final: each node evaluated says which entrant the winner (or the
loser) came from, so a row costs one node per level, ``ceil(log2 K)`` for
the filter tree.
"""

# Authors: The sklearn-mcnn developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from ._multiclass import _BaseReduction, _estimators_have

__all__ = ["TournamentClassifier"]


def build_tournament(n_classes, n_errors):
    """The matches of the tournament of `n_classes` classes, `n_errors` errors.

    Returns
    -------
    nodes : ndarray of shape (n_nodes, 2), dtype=intp
        The left and right entrant of each node, nodes in playing order (a
        node's entrants come from earlier nodes).
    champion : int
        The entrant that wins the tournament.
    """
    K = n_classes

    def winner(n):
        return K + 2 * n

    def loser(n):
        return K + 2 * n + 1

    nodes = []

    def play(entrants):
        """Pair `entrants` in order: (winners and the odd one, losers)."""
        advancing, dropping = [], []
        for i in range(0, len(entrants) - 1, 2):
            n = len(nodes)
            nodes.append((entrants[i], entrants[i + 1]))
            advancing.append(winner(n))
            dropping.append(loser(n))
        if len(entrants) % 2:
            advancing.append(entrants[-1])
        return advancing, dropping

    brackets = [list(range(K))] + [[] for _ in range(n_errors)]
    finished = [False] * len(brackets)
    while not all(finished):
        for b, entrants in enumerate(brackets):
            no_inflow = b == 0 or finished[b - 1]
            finished[b] = no_inflow and len(entrants) <= 1
        if all(finished):
            break
        inflow = [[] for _ in brackets]
        for b, entrants in enumerate(brackets):
            if finished[b]:
                continue
            brackets[b], dropping = play(entrants)
            if b + 1 < len(brackets):
                inflow[b + 1] = dropping
        for b, dropping in enumerate(inflow):
            brackets[b] = brackets[b] + dropping
    # The final: the bracket champions, single elimination.
    finalists = [entrants[0] for entrants in brackets if entrants]
    while len(finalists) > 1:
        finalists, _ = play(finalists)
    return np.array(nodes, dtype=np.intp).reshape(-1, 2), finalists[0]


def _training_rounds(nodes, n_classes):
    """The nodes grouped by depth: each node after the nodes it takes an
    entrant from, so that a round's nodes can be trained together."""
    depth = np.zeros(len(nodes), dtype=np.intp)
    for n, entrants in enumerate(nodes):
        inner = [(e - n_classes) // 2 for e in entrants if e >= n_classes]
        depth[n] = 1 + max((depth[m] for m in inner), default=-1)
    return [np.flatnonzero(depth == d) for d in range(depth.max(initial=-1) + 1)]


def _rows_at(where, entrant_list):
    """For each entrant, the sorted rows whose true class is at it."""
    order = np.argsort(where, kind="stable")
    ordered = where[order]
    starts = np.searchsorted(ordered, entrant_list, side="left")
    stops = np.searchsorted(ordered, entrant_list, side="right")
    return [order[a:b] for a, b in zip(starts, stops, strict=True)]


def _node_score(estimator, X):
    """The node's confidence that the right entrant wins, and its threshold.

    From ``predict_proba`` when the node has it (so that the walk down the
    tournament follows the more probable side), else ``decision_function``,
    else ``predict``.
    """
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)[:, 1], 0.5
    if hasattr(estimator, "decision_function"):
        return np.ravel(estimator.decision_function(X)), 0.0
    return np.asarray(estimator.predict(X), dtype=np.float64), 0.5


def _right_wins(estimator, X):
    score, threshold = _node_score(estimator, X)
    return score > threshold


def _proba_available(estimator):
    """``available_if`` check: search='best' and nodes with predict_proba."""
    if estimator.search != "best":
        raise AttributeError(
            "predict_proba is not available with search='walk', whose predict "
            "is not its argmax; use search='best'."
        )
    return _estimators_have("predict_proba")(estimator)


class TournamentClassifier(_BaseReduction):
    """Filter tree and error-correcting tournament multiclass classifier.

    The classes play a single-elimination tournament whose matches are
    binary classifiers: ``n_classes - 1`` of them for the filter tree
    (``n_errors=0``), arranged in a balanced tree. Each node is trained, in
    order from the leaves up, on the samples whose true class won its way
    to that node through the nodes already trained (the filtering), to
    predict which of its two entrants is the true class. ``predict`` walks
    down from the final match and evaluates one node per level:
    ``ceil(log2(n_classes))`` binary predictions per sample, against
    ``n_classes`` for one-vs-all.

    With ``n_errors=e``, the error-correcting tournament of Beygelzimer,
    Langford & Ravikumar [1]_: ``e + 1`` brackets, the loser of a match in
    one bracket dropping into the next, so that a class is out only after
    ``e + 1`` losses, then a single-elimination final between the bracket
    champions; about ``(e + 1) (n_classes - 1)`` nodes.

    ``predict_proba`` is the probability that each class wins when every
    node is an independent random match: for the filter tree, the
    conditional probability tree estimate [2]_.

    Read more in the :ref:`User Guide <tournaments>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        The binary classifier to clone for each node; it must implement
        ``fit``. A node says "right entrant" when its ``predict_proba`` of
        label 1 exceeds 1/2 (else its ``decision_function`` exceeds 0, else
        its ``predict`` is 1). ``None`` means
        :class:`~sklearn_mcnn.SoftmaxClassifier()`.

    n_errors : int, default=0
        Number of extra brackets ``e``: 0 is the filter tree, ``e`` the
        error-correcting tournament robust to ``e`` wrong matches on the
        true class's way.

    search : {'best', 'walk'}, default='best'
        How ``predict`` finds the class.

        - ``'best'``: the argmax of :meth:`predict_proba`. For the filter
          tree, a walk down from the final (one node per level) and then a
          branch and bound over the branches whose probability can still
          beat it: ``ceil(log2(n_classes))`` nodes when the nodes are
          confident, more when they are not. The error-correcting tournament
          evaluates every node.
        - ``'walk'``: the walk down alone, each node choosing its more
          probable side: the tournament's winner when every match is decided
          by its node, at exactly one node per level
          (``ceil(log2(n_classes))`` for the filter tree). Its class can
          differ from the most probable one where nodes are uncertain, so
          ``predict_proba`` is not available with it.

    n_jobs : int, default=None
        Number of jobs fitting the nodes of a round in parallel, through
        joblib. ``None`` means 1 unless in a :func:`joblib.parallel_backend`
        context, ``-1`` all processors. The model does not depend on
        `n_jobs`.

    random_state : int, RandomState instance or None, default=None
        Seeds the sub-estimators: every ``random_state`` parameter of each
        clone (nested ones included) is set to an integer drawn from it, so
        a fixed `random_state` fixes the whole model.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted node classifiers, in playing order (label 1 for the right
        entrant). A node whose training samples hold one side only gets a
        constant predictor.

    nodes_ : ndarray of shape (n_nodes, 2)
        The left and right entrants of each node: ``k < n_classes`` is the
        class ``classes_[k]``, ``n_classes + 2 * n`` the winner of node n
        and ``n_classes + 2 * n + 1`` its loser.

    champion_ : int
        The entrant that wins the tournament (the last node's winner).

    classes_ : ndarray of shape (n_classes,)
        The class labels.

    pairwise_indices_ : list of ndarray or None
        Row indices of each node's training samples when the base estimator
        takes a precomputed kernel (``pairwise`` tag), else ``None``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    OneVsAllClassifier : One classifier per class, all evaluated.
    OutputCodeClassifier : Error-correcting output codes.

    References
    ----------
    .. [1] A. Beygelzimer, J. Langford and P. Ravikumar, "Error-correcting
       tournaments", Algorithmic Learning Theory 2009, arXiv:0902.3176.
    .. [2] A. Beygelzimer, J. Langford, Y. Lifshits, G. Sorkin and A.
       Strehl, "Conditional probability tree estimation analysis and
       algorithms", UAI 2009.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_mcnn import TournamentClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = TournamentClassifier(LogisticRegression(max_iter=2000))
    >>> clf.fit(X[::2], y[::2]).nodes_.shape
    (9, 2)
    >>> clf.decision_path(X[:3]).sum(axis=1).ravel().tolist()
    [[4, 4, 4]]
    >>> float(clf.score(X[1::2], y[1::2])) > 0.85
    True
    >>> clf.predict_proba(X[:1]).sum().round(6)
    np.float64(1.0)
    >>> ect = TournamentClassifier(LogisticRegression(max_iter=2000), n_errors=1)
    >>> len(ect.fit(X[::2], y[::2]).estimators_)
    18
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit"]), None],
        "n_errors": [Interval(Integral, 0, None, closed="left")],
        "search": [StrOptions({"best", "walk"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, n_errors=0, search="best", n_jobs=None,
                 random_state=None):
        self.estimator = estimator
        self.n_errors = n_errors
        self.search = search
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---------------------------------------------------------------- fit

    def _new_plan(self, classes, seed_source):
        return build_tournament(classes.size, self.n_errors)

    def _current_plan(self):
        return self.nodes_, self.champion_

    def _commit_plan(self, plan):
        self.nodes_, self.champion_ = plan
        self._smallest_class = _smallest_classes(self.nodes_, self.classes_.size)

    def _subproblem_rounds(self, X, y_encoded, classes, plan, trained):
        nodes, _ = plan
        n_classes = classes.size
        pairwise = get_tags(self._base_estimator()).input_tags.pairwise
        # where[i]: the entrant that carries row i's true class
        where = y_encoded.astype(np.intp)
        for round_nodes in _training_rounds(nodes, n_classes):
            left_rows = _rows_at(where, nodes[round_nodes, 0])
            right_rows = _rows_at(where, nodes[round_nodes, 1])
            subproblems = []
            for n, left, right in zip(round_nodes, left_rows, right_rows, strict=True):
                rows = np.sort(np.concatenate([left, right]))
                y_binary = (where[rows] == nodes[n, 1]).astype(np.intp)
                # no warning for a one-sided node: the filtering makes them
                subproblems.append((n, rows, y_binary, None))
            yield subproblems
            # Filtering: move each row's class to the winner or the loser.
            for n, rows, y_binary, _ in subproblems:
                if rows.size == 0:
                    continue
                X_rows = _safe_indexing(X, rows)
                if pairwise:
                    X_rows = X_rows[:, rows]
                won = _right_wins(trained[n], X_rows) == y_binary.astype(bool)
                where[rows] = np.where(won, n_classes + 2 * n, n_classes + 2 * n + 1)

    def _store_subproblem_indices(self, indices):
        pairwise = get_tags(self._base_estimator()).input_tags.pairwise
        self.pairwise_indices_ = indices if pairwise else None

    # ------------------------------------------------------------ predict

    def _node_input(self, X, rows, n):
        """The input of node n for the rows `rows` (all if None)."""
        X_rows = X if rows is None else _safe_indexing(X, rows)
        indices = getattr(self, "pairwise_indices_", None)
        if indices is not None:
            X_rows = X_rows[:, indices[n]]
        return X_rows

    def _right_proba(self, n, X, rows):
        """P(right entrant wins) of node n for the rows `rows` (all if None)."""
        return self.estimators_[n].predict_proba(self._node_input(X, rows, n))[:, 1]

    def _is_filter_tree(self):
        """Whether no node takes a loser (the tournament of n_errors=0)."""
        entrants = self.nodes_ - self.classes_.size
        return not np.any((entrants >= 0) & (entrants % 2 == 1))

    def _descend(self, X):
        """Walk down from the final, each node choosing its side: the class
        index of each row and the visited (rows, nodes)."""
        n_samples = X.shape[0]
        n_classes = self.classes_.size
        current = np.full(n_samples, self.champion_, dtype=np.intp)
        visited_rows, visited_nodes = [], []
        active = np.flatnonzero(current >= n_classes)
        while active.size:
            node_of = (current[active] - n_classes) // 2
            for n, rows in zip(*_group(node_of, active), strict=True):
                right = _right_wins(self.estimators_[n], self._node_input(X, rows, n))
                # the winner came from the side the node chose, the loser
                # from the other side
                side = right ^ ((current[rows] - n_classes) % 2 == 1)
                current[rows] = self.nodes_[n, side.astype(np.intp)]
                visited_rows.append(rows)
                visited_nodes.append(np.full(rows.size, n))
            active = active[current[active] >= n_classes]
        return current, visited_rows, visited_nodes

    def _best_path(self, X):
        """The class of largest path probability, by branch and bound.

        First the walk down that takes each node's more probable side gives
        each row a class and its path probability ``best``; then the
        branches left on the way are explored while their partial
        probability (a product of factors at most 1, so an upper bound of
        every class below) beats ``best``. The products are formed in the
        order :meth:`predict_proba` forms them (from the final down), and
        ties go to the smaller class index, so the result is exactly the
        argmax of :meth:`predict_proba`. Since the probabilities of the
        branches at one depth sum to at most 1, fewer than ``1 / best`` of
        them are explored per level.
        """
        n_samples = X.shape[0]
        n_classes = self.classes_.size
        nodes = self.nodes_
        smallest = self._smallest_class
        visited_rows, visited_nodes = [], []
        best = np.full(n_samples, self.champion_, dtype=np.intp)
        best_p = np.ones(n_samples)
        left_rows, left_entrants, left_p = [], [], []
        active = np.flatnonzero(best >= n_classes)
        while active.size:
            node_of = (best[active] - n_classes) // 2
            for n, rows in zip(*_group(node_of, active), strict=True):
                q = self._right_proba(n, X, rows)
                right = q > 0.5
                p_left, p_right = best_p[rows] * (1.0 - q), best_p[rows] * q
                left_rows.append(rows)
                left_entrants.append(nodes[n, (~right).astype(np.intp)])
                left_p.append(np.where(right, p_left, p_right))
                best_p[rows] = np.where(right, p_right, p_left)
                best[rows] = nodes[n, right.astype(np.intp)]
                visited_rows.append(rows)
                visited_nodes.append(np.full(rows.size, n))
            active = active[best[active] >= n_classes]
        if not left_rows:
            return best, visited_rows, visited_nodes
        rows = np.concatenate(left_rows)
        entrants = np.concatenate(left_entrants)
        p = np.concatenate(left_p)
        while rows.size:
            beats = (p > best_p[rows]) | (
                (p == best_p[rows]) & (smallest[entrants] < best[rows]))
            rows, entrants, p = rows[beats], entrants[beats], p[beats]
            leaf = entrants < n_classes
            if leaf.any():
                # the best leaf of each row: largest p, then smallest class
                order = np.lexsort((entrants[leaf], -p[leaf], rows[leaf]))
                leaf_rows = rows[leaf][order]
                leaf_classes, leaf_p = entrants[leaf][order], p[leaf][order]
                first = np.r_[True, leaf_rows[1:] != leaf_rows[:-1]]
                leaf_rows, leaf_classes = leaf_rows[first], leaf_classes[first]
                leaf_p = leaf_p[first]
                better = (leaf_p > best_p[leaf_rows]) | (
                    (leaf_p == best_p[leaf_rows]) & (leaf_classes < best[leaf_rows]))
                best[leaf_rows[better]] = leaf_classes[better]
                best_p[leaf_rows[better]] = leaf_p[better]
                rows, entrants, p = rows[~leaf], entrants[~leaf], p[~leaf]
                continue  # prune against the new bests before expanding
            if not rows.size:
                break
            children_rows, children_entrants, children_p = [], [], []
            node_of = (entrants - n_classes) // 2
            for n, items in zip(*_group(node_of, np.arange(rows.size)), strict=True):
                q = self._right_proba(n, X, rows[items])
                children_rows += [rows[items], rows[items]]
                children_entrants += [np.full(items.size, nodes[n, 0]),
                                      np.full(items.size, nodes[n, 1])]
                children_p += [p[items] * (1.0 - q), p[items] * q]
                visited_rows.append(rows[items])
                visited_nodes.append(np.full(items.size, n))
            rows = np.concatenate(children_rows)
            entrants = np.concatenate(children_entrants)
            p = np.concatenate(children_p)
        return best, visited_rows, visited_nodes

    def _predict_indices(self, X):
        """Class index of each row, and the visited (rows, nodes)."""
        if self.search == "walk" or not hasattr(self._reference_estimator(),
                                                 "predict_proba"):
            return self._descend(X)
        if self._is_filter_tree():
            return self._best_path(X)
        proba = self._win_proba(X)
        n_samples, n_nodes = X.shape[0], len(self.nodes_)
        rows = np.repeat(np.arange(n_samples), n_nodes)
        nodes = np.tile(np.arange(n_nodes), n_samples)
        return proba.argmax(axis=1), [rows], [nodes]

    def predict(self, X):
        """Predict class labels: the most probable winner of the tournament.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            With ``search='best'`` and a base estimator with
            ``predict_proba``, the argmax of :meth:`predict_proba`: for the
            filter tree found by walking down from the final, each node
            choosing its more probable side (``ceil(log2(n_classes))``
            nodes), then exploring only the branches whose probability so far
            beats the class found; for the error-correcting tournament every
            node is evaluated. With ``search='walk'``, or without
            ``predict_proba``, the class that the walk down reaches, i.e.
            the winner when every match is decided by its node.
        """
        X = self._validate_for_predict(X)
        indices = self._predict_indices(X)[0]
        return self.classes_[indices]

    def decision_path(self, X):
        """The nodes that ``predict`` evaluates for each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        indicator : sparse matrix of shape (n_samples, n_nodes)
            CSR indicator: entry (i, n) is 1 when node n was evaluated for
            sample i. Its row sums are the binary predictions ``predict``
            made for each sample: ``ceil(log2(n_classes))`` or fewer for the
            filter tree's walk down, plus the branches it had to explore.
        """
        X = self._validate_for_predict(X)
        _, rows, nodes = self._predict_indices(X)
        rows = np.concatenate(rows) if rows else np.empty(0, dtype=np.intp)
        nodes = np.concatenate(nodes) if nodes else np.empty(0, dtype=np.intp)
        indicator = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.int8), (rows, nodes)),
            shape=(X.shape[0], len(self.estimators_)),
        )
        indicator.sum_duplicates()
        indicator.data[:] = 1
        return indicator

    def _win_proba(self, X):
        """P(each class wins), the nodes read as independent random matches."""
        n_samples = X.shape[0]
        n_classes = self.classes_.size
        proba = np.zeros((n_samples, n_classes))
        if self._is_filter_tree():
            # From the final down: each node splits the probability of its
            # winner between its entrants (the order _best_path multiplies).
            mass = {self.champion_: np.ones(n_samples)}
            for n in range(len(self.nodes_) - 1, -1, -1):
                m = mass.pop(n_classes + 2 * n)
                q = self._right_proba(n, X, None)
                left, right = self.nodes_[n]
                mass[left], mass[right] = m * (1.0 - q), m * q
            for k, m in mass.items():
                proba[:, k] = m
            return proba
        # entrant -> (classes it can be, their probabilities per row)
        dist = {k: (np.array([k]), np.ones((n_samples, 1))) for k in range(n_classes)}
        for n, (left, right) in enumerate(self.nodes_):
            q = self._right_proba(n, X, None)
            support_l, p_l = dist.pop(left)
            support_r, p_r = dist.pop(right)
            support = np.union1d(support_l, support_r)
            at_l = np.searchsorted(support, support_l)
            at_r = np.searchsorted(support, support_r)
            won = np.zeros((n_samples, support.size))
            lost = np.zeros((n_samples, support.size))
            won[:, at_l] += (1.0 - q)[:, np.newaxis] * p_l
            won[:, at_r] += q[:, np.newaxis] * p_r
            lost[:, at_l] += q[:, np.newaxis] * p_l
            lost[:, at_r] += (1.0 - q)[:, np.newaxis] * p_r
            dist[n_classes + 2 * n] = (support, won)
            dist[n_classes + 2 * n + 1] = (support, lost)
        support, p = dist[self.champion_]
        proba[:, support] = p
        return proba

    @available_if(_proba_available)
    def predict_proba(self, X):
        """Probability that each class wins the tournament.

        Available when the base estimator has ``predict_proba``. Each node
        is read as an independent random match that its right entrant wins
        with the node's probability; the result is the probability that the
        class ends up champion. For the filter tree it is the product, along
        the path from the final down to the class's leaf, of the
        probabilities that the class wins each match: the conditional
        probability tree estimate of Beygelzimer et al. (UAI 2009), where each
        node estimates the probability of its right subtree given that the
        class is one of its two entrants (exact when the nodes are). Every
        node is evaluated (``n_nodes`` binary predictions per sample).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to one, columns ordered as `classes_`; ``predict`` is
            their argmax.
        """
        return self._win_proba(self._validate_for_predict(X))

    @available_if(_proba_available)
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Available as :meth:`predict_proba` is.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, columns ordered as `classes_`.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


def _smallest_classes(nodes, n_classes):
    """For each entrant, the smallest class index it can carry."""
    smallest = np.empty(n_classes + 2 * len(nodes), dtype=np.intp)
    smallest[:n_classes] = np.arange(n_classes)
    for n, (left, right) in enumerate(nodes):
        smallest[n_classes + 2 * n: n_classes + 2 * n + 2] = min(
            smallest[left], smallest[right])
    return smallest


def _group(keys, values):
    """Split `values` by `keys`: (distinct keys, list of value arrays)."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    distinct, starts = np.unique(keys, return_index=True)
    return distinct, np.split(values, starts[1:])
