"""A call that raises changes nothing: the estimators' fit transaction.

Every ``fit`` and ``partial_fit`` of the package runs inside
:func:`restore_on_failure`.  On entry it takes a :class:`Checkpoint` of the
estimator's attributes; if the call raises (a refused input, a diverging
fit, a ``KeyboardInterrupt``), the checkpoint is restored before the
exception propagates, so a fitted estimator keeps every fitted attribute
bit for bit and predicts as before.

What a checkpoint keeps, and why that is enough:

- the attribute dictionary itself, so an attribute that the call set or
  replaced (``classes_``, ``n_features_in_``, a fresh parameter vector) is
  put back, and one the call added is removed;
- a copy of the contents of every array that owns its memory, and of every
  list, held by an attribute (also inside tuples and lists, one level
  down): training updates the parameter vector, the optimiser state and
  the loss curves *in place*, and views such as ``coef_`` follow the arrays
  they view once those are written back.

Estimators whose fitted state lives in other objects (the reductions'
sub-estimators) must not change those objects in place: they work on
copies and assign them when the call succeeds.
"""

import functools

import numpy as np


def _owns_writable_memory(value):
    return (isinstance(value, np.ndarray) and value.base is None
            and value.flags.writeable)


def _mutable_parts(value):
    """The lists, and the arrays owning their memory, in ``value`` (itself,
    or the items of a list or tuple)."""
    if _owns_writable_memory(value):
        return [value]
    if isinstance(value, (list, tuple)):
        parts = [value] if isinstance(value, list) else []
        return parts + [item for item in value if _owns_writable_memory(item)]
    return []


class Checkpoint:
    """The state of an estimator's attributes, to be put back on failure."""

    def __init__(self, estimator):
        self._attributes = dict(vars(estimator))
        self._contents = []
        seen = set()
        for value in self._attributes.values():
            for part in _mutable_parts(value):
                if id(part) not in seen:
                    seen.add(id(part))
                    self._contents.append((part, part.copy()))

    def restore(self, estimator):
        """Put every attribute, and the contents of its arrays and lists,
        back as they were when the checkpoint was taken."""
        for part, saved in self._contents:
            if isinstance(part, list):
                part[:] = saved
            else:
                part[...] = saved
        vars(estimator).clear()
        vars(estimator).update(self._attributes)


def restore_on_failure(method):
    """Decorate ``fit``/``partial_fit``: if the call raises, the estimator
    is restored to its state before the call, and the exception propagates."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        checkpoint = Checkpoint(self)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            checkpoint.restore(self)
            raise

    return wrapper
