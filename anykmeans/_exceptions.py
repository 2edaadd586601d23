"""Warnings and errors anykmeans raises, named as scikit-learn names them."""

from __future__ import annotations

import functools
import sys


class ConvergenceWarning(UserWarning):
    """The fit found fewer distinct clusters than asked for, or did not converge.

    Issued as :func:`sklearn_compatible` makes it: when scikit-learn is
    imported, also a ``sklearn.exceptions.ConvergenceWarning``.
    """


class StandardizedModelWarning(UserWarning):
    """A loaded model was fitted on standardised data (``anykmeans fit --standardize``): its
    methods expect data standardised as it was."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    Raised as :func:`sklearn_compatible` makes it: when scikit-learn is
    imported, also a ``sklearn.exceptions.NotFittedError``.
    """


@functools.cache
def _subclass_of_both(ours: type, theirs: type) -> type:
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})


def sklearn_compatible(ours: type) -> type:
    """``ours`` (:class:`ConvergenceWarning` or :class:`NotFittedError`) to raise or warn
    with; when scikit-learn is already imported, a subclass of it and of the class of
    ``sklearn.exceptions`` of the same name, so that code written for scikit-learn
    (``except``, ``pytest.warns``, ``warnings.simplefilter``) catches it.

    Nothing is imported for this: code that names scikit-learn's class has imported it.
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return ours
    return _subclass_of_both(ours, getattr(sklearn_exceptions, ours.__name__))
