"""Warnings and errors anykmeans raises, named as scikit-learn names them."""

from __future__ import annotations

import functools
import sys


class ConvergenceWarning(UserWarning):
    """The fit found fewer distinct clusters than asked for, or did not converge."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


@functools.cache
def _also_sklearns(ours: type, module: str, name: str) -> type:
    """``ours``, also a subclass of scikit-learn's class of that name if sklearn is loaded."""
    theirs = getattr(sys.modules.get(module), name, None)
    if theirs is None:
        return ours
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError`; when scikit-learn is already imported, also an
    instance of ``sklearn.exceptions.NotFittedError``, so code written for
    scikit-learn catches it. Nothing is imported for this."""
    loaded = "sklearn.exceptions" in sys.modules
    cls = _also_sklearns(NotFittedError, "sklearn.exceptions", "NotFittedError") if loaded \
        else NotFittedError
    return cls(message)
