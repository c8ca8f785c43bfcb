"""Pictures of training: the curves of a fit, and the learning-rate range
test.

Both follow scikit-learn's ``Display`` convention
(:class:`sklearn.inspection.PartialDependenceDisplay`,
:class:`sklearn.model_selection.LearningCurveDisplay`): a class method
builds the display from an estimator and plots it, :meth:`plot` draws on the
given (or a new) axes, and the display keeps ``ax_``, ``figure_`` and each
drawn artist as an attribute.  matplotlib is imported only when plotting.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["LRRangeTestDisplay", "TrainingCurveDisplay"]


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _score_name(scoring):
    if scoring is None:
        return "validation accuracy"
    if isinstance(scoring, str):
        return ("validation score (negated loss)" if scoring == "loss"
                else f"validation {scoring}")
    return "validation score"


class TrainingCurveDisplay:
    """Training curves of a fitted network, epoch by epoch.

    The training loss, validation loss and validation score per epoch, and
    a mark at the best epoch.  Build it with :meth:`from_estimator`; the
    constructor takes the curves themselves (for curves kept from earlier
    fits).

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training objective per epoch (or L-BFGS iteration), the estimator's
        ``loss_curve_``.

    validation_loss_curve : array-like of shape (n_val,), default=None
        Validation objective, ``validation_loss_curve_``; its entries belong
        to the last ``n_val`` epochs (a warm-started fit may add validation
        to a model trained without it).

    validation_scores : array-like of shape (n_val,), default=None
        Validation score, ``validation_scores_``, aligned as
        ``validation_loss_curve``.

    best_epoch : int, default=None
        The epoch (from 1) to mark.

    score_name : str, default="validation score"
        Label of the validation score's axis.

    x_label : str, default="epoch"
        Label of the x-axis (``"iteration"`` for L-BFGS).

    Attributes
    ----------
    loss_line_ : matplotlib Line2D
        The training loss.

    validation_loss_line_ : matplotlib Line2D or None
        The validation loss.

    validation_score_line_ : matplotlib Line2D or None
        The validation score, on ``score_ax_``.

    best_epoch_line_ : matplotlib Line2D or None
        Vertical line at ``best_epoch``.

    ax_ : matplotlib Axes
        The axes of the losses.

    score_ax_ : matplotlib Axes or None
        The twin axes (right-hand scale) of the validation score.

    figure_ : matplotlib Figure
        The figure.

    See Also
    --------
    LRRangeTestDisplay : The learning-rate range test's plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_mcnn import MLPBackpropClassifier
    >>> from sklearn_mcnn.inspection import TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = MLPBackpropClassifier((32,), early_stopping=True,
    ...                             learning_rate_init=0.01,
    ...                             random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(clf)
    >>> display.best_epoch == 1 + clf.validation_scores_.index(
    ...     clf.best_validation_score_)
    True
    """

    def __init__(self, *, loss_curve, validation_loss_curve=None,
                 validation_scores=None, best_epoch=None,
                 score_name="validation score", x_label="epoch"):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.best_epoch = best_epoch
        self.score_name = score_name
        self.x_label = x_label

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the curves of a fitted network estimator.

        The best epoch is that of the best validation score (the weights
        that early stopping keeps) when the estimator has validation scores,
        else that of the lowest training loss.  With ``scoring='loss'`` the
        validation score is the negated validation loss, which is drawn
        already: it is not drawn twice.

        Parameters
        ----------
        estimator : SoftmaxClassifier or MLPBackpropClassifier
            A fitted estimator.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_is_fitted(estimator, "loss_curve_")
        loss_curve = np.asarray(estimator.loss_curve_, dtype=float)
        val_loss = getattr(estimator, "validation_loss_curve_", None)
        scores = getattr(estimator, "validation_scores_", None)
        if scores:
            offset = loss_curve.size - len(scores)
            best_epoch = offset + int(np.argmax(scores)) + 1
        elif loss_curve.size:
            best_epoch = int(np.argmin(loss_curve)) + 1
        else:
            best_epoch = None
        scoring = getattr(estimator, "scoring", None)
        redundant = isinstance(scoring, str) and scoring == "loss" and val_loss
        display = cls(
            loss_curve=loss_curve,
            validation_loss_curve=None if not val_loss else np.asarray(val_loss),
            validation_scores=(None if not scores or redundant
                               else np.asarray(scores)),
            best_epoch=best_epoch,
            score_name=_score_name(scoring),
            x_label="iteration" if estimator.solver == "lbfgs" else "epoch",
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with its artists stored as attributes.
        """
        ax = _axes(ax)
        loss_curve = np.asarray(self.loss_curve, dtype=float)
        n = loss_curve.size
        epochs = np.arange(1, n + 1)
        (self.loss_line_,) = ax.plot(epochs, loss_curve, color="C0",
                                     label="training loss")
        handles = [self.loss_line_]
        self.validation_loss_line_ = None
        self.validation_score_line_ = None
        self.score_ax_ = None
        if self.validation_loss_curve is not None:
            val_loss = np.asarray(self.validation_loss_curve, dtype=float)
            (self.validation_loss_line_,) = ax.plot(
                epochs[n - val_loss.size:], val_loss, color="C1",
                label="validation loss")
            handles.append(self.validation_loss_line_)
        ax.set_xlabel(self.x_label)
        ax.set_ylabel("loss (objective)")
        if self.validation_scores is not None:
            scores = np.asarray(self.validation_scores, dtype=float)
            self.score_ax_ = ax.twinx()
            (self.validation_score_line_,) = self.score_ax_.plot(
                epochs[n - scores.size:], scores, color="C2",
                label=self.score_name)
            self.score_ax_.set_ylabel(self.score_name)
            handles.append(self.validation_score_line_)
        self.best_epoch_line_ = None
        if self.best_epoch is not None:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch, color="k", linestyle="--", linewidth=1,
                label=f"best {self.x_label} ({self.best_epoch})")
            handles.append(self.best_epoch_line_)
        # Above the axes: the twin axes would draw over a legend inside.
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=2, frameon=False)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class LRRangeTestDisplay:
    """The learning-rate range test's plot.

    The loss against the learning rate (log scale), raw and smoothed, and
    the suggested rate.

    Build it with :meth:`from_estimator` (runs
    :func:`~sklearn_mcnn.utils.lr_range_test`) or :meth:`from_result`.

    Parameters
    ----------
    learning_rates : array-like of shape (n_steps,)
        The rates of the steps.

    losses : array-like of shape (n_steps,)
        The batch losses.

    smoothed_losses : array-like of shape (n_steps,)
        Their exponential moving average.

    suggested_learning_rate : float, default=None
        The rate to mark.

    Attributes
    ----------
    loss_line_ : matplotlib Line2D
        The raw losses.

    smoothed_loss_line_ : matplotlib Line2D
        The smoothed losses.

    suggestion_line_ : matplotlib Line2D or None
        Vertical line at the suggested rate.

    ax_ : matplotlib Axes

    figure_ : matplotlib Figure

    See Also
    --------
    sklearn_mcnn.utils.lr_range_test : The test itself.
    TrainingCurveDisplay : The curves of a fit.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_mcnn import MLPBackpropClassifier
    >>> from sklearn_mcnn.inspection import LRRangeTestDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> display = LRRangeTestDisplay.from_estimator(
    ...     MLPBackpropClassifier(random_state=0), X, y, n_steps=100)
    >>> display.ax_.get_xscale()
    'log'
    """

    def __init__(self, *, learning_rates, losses, smoothed_losses,
                 suggested_learning_rate=None):
        self.learning_rates = learning_rates
        self.losses = losses
        self.smoothed_losses = smoothed_losses
        self.suggested_learning_rate = suggested_learning_rate

    @classmethod
    def from_result(cls, result, *, ax=None):
        """Plot the result of :func:`~sklearn_mcnn.utils.lr_range_test`.

        Parameters
        ----------
        result : Bunch
            What ``lr_range_test`` returned.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LRRangeTestDisplay
        """
        display = cls(learning_rates=result.learning_rates, losses=result.losses,
                      smoothed_losses=result.smoothed_losses,
                      suggested_learning_rate=result.suggested_learning_rate)
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, **kwargs):
        """Run :func:`~sklearn_mcnn.utils.lr_range_test` and plot it.

        Parameters
        ----------
        estimator : SoftmaxClassifier or MLPBackpropClassifier
            An estimator with a stochastic solver (not modified).

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Class labels.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        **kwargs : dict
            Passed to ``lr_range_test`` (``sample_weight``, ``min_lr``,
            ``max_lr``, ``n_steps``, ...).

        Returns
        -------
        display : LRRangeTestDisplay
        """
        from .utils import lr_range_test

        return cls.from_result(lr_range_test(estimator, X, y, **kwargs), ax=ax)

    def plot(self, ax=None):
        """Draw the losses against the learning rate.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : LRRangeTestDisplay
            The display, with its artists stored as attributes.
        """
        ax = _axes(ax)
        (self.loss_line_,) = ax.plot(self.learning_rates, self.losses,
                                     color="C0", alpha=0.35, label="batch loss")
        (self.smoothed_loss_line_,) = ax.plot(
            self.learning_rates, self.smoothed_losses, color="C0",
            label="smoothed loss")
        self.suggestion_line_ = None
        if self.suggested_learning_rate is not None:
            self.suggestion_line_ = ax.axvline(
                self.suggested_learning_rate, color="C3", linestyle="--",
                label=f"suggested rate ({self.suggested_learning_rate:.2g})")
        ax.set_xscale("log")
        smoothed = np.asarray(self.smoothed_losses, dtype=float)
        if smoothed.size:
            # Single batches spike as the loss explodes: scale to the average.
            low = min(np.min(self.losses), np.min(smoothed))
            ax.set_ylim(low - 0.05 * abs(low), 1.1 * np.max(smoothed))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
