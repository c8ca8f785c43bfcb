"""Validation shared by all estimators of the package."""

from sklearn.utils.multiclass import check_classification_targets


def check_class_labels(y):
    """scikit-learn's target check, with a ValueError for unorderable labels.

    Labels mixing types that cannot be compared (strings and numbers, say)
    make NumPy's sorting raise a TypeError deep inside; say what is wrong.
    """
    try:
        check_classification_targets(y)
    except TypeError as exc:
        raise ValueError(
            "y mixes labels of types that cannot be ordered, e.g. strings and "
            f"numbers ({exc}); use labels of one type."
        ) from None
