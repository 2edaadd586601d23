"""Warnings and errors anykmeans raises, named as scikit-learn names them."""


class ConvergenceWarning(UserWarning):
    """The fit found fewer distinct clusters than asked for, or did not converge."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""
