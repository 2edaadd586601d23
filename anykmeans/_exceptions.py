"""Warnings and errors anykmeans raises, named as scikit-learn names them."""

from __future__ import annotations

import functools
import sys


class ConvergenceWarning(UserWarning):
    """The fit found fewer distinct clusters than asked for, or did not converge."""


class StandardizedModelWarning(UserWarning):
    """A loaded model was fitted on standardised data (``anykmeans fit --standardize``): its
    methods expect data standardised as it was."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


@functools.cache
def _sklearn_compatible_not_fitted_error(sklearn_error: type) -> type:
    return type("NotFittedError", (NotFittedError, sklearn_error),
                {"__module__": NotFittedError.__module__})


def not_fitted_error(message: str) -> NotFittedError:
    """A :class:`NotFittedError`; when scikit-learn is already imported, also an
    instance of ``sklearn.exceptions.NotFittedError``, so code written for
    scikit-learn catches it. Nothing is imported for this."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    return _sklearn_compatible_not_fitted_error(sklearn_exceptions.NotFittedError)(message)
