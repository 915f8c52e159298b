"""A ``fit`` whose ``sample_weight`` is advertised only where the base estimator uses it.

Meta-estimators such as :class:`~sklearn.ensemble.BaggingClassifier` read
``sample_weight`` in ``signature(estimator.fit)`` (``has_fit_parameter``) and
then pass weights of their own, for instance bootstrap counts. A wrapper whose
``fit`` always lists ``sample_weight`` would receive them for a base that
refuses them, and fail with an error about weights the user never passed.
:func:`fit_signature_follows` shows the parameter per instance, as
:func:`~sklearn.utils.metaestimators.available_if` shows a whole method.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable

__all__ = ["fit_signature_follows"]


class _FitSignature:
    """Descriptor: the wrapped ``fit``, without ``sample_weight`` in its signature
    on instances for which ``takes_sample_weight(instance)`` is false."""

    def __init__(self, fit: types.FunctionType, takes_sample_weight: Callable[[object], bool]):
        self.fit = fit
        self.takes_sample_weight = takes_sample_weight
        functools.update_wrapper(self, fit)
        # The same code under another signature, rather than a wrapper: no
        # extra frame, so warnings' stacklevel still points at fit's caller.
        self.fit_without_weight = types.FunctionType(
            fit.__code__, fit.__globals__, fit.__name__, fit.__defaults__, fit.__closure__
        )
        functools.update_wrapper(self.fit_without_weight, fit)
        del self.fit_without_weight.__wrapped__
        signature = inspect.signature(fit)
        self.fit_without_weight.__signature__ = signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name != "sample_weight"]
        )

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.fit
        # Either way fit still takes sample_weight, so that a user who passes
        # it gets fit's own explanation of why it cannot be used.
        fit = self.fit if self.takes_sample_weight(instance) else self.fit_without_weight
        return types.MethodType(fit, instance)


def fit_signature_follows(takes_sample_weight: Callable[[object], bool]) -> Callable:
    """Decorate ``fit`` so its ``sample_weight`` shows only where ``takes_sample_weight(self)``.

    Parameters
    ----------
    takes_sample_weight : callable
        ``takes_sample_weight(estimator) -> bool``; it must not raise, as it
        runs on every attribute access of ``fit``.

    Returns
    -------
    decorator : callable
        Turns a ``fit(self, X, y, sample_weight=None)`` method into the
        descriptor.

    Examples
    --------
    >>> from sklearn.utils.validation import has_fit_parameter
    >>> from sksmooth.utils._fit_signature import fit_signature_follows
    >>> class Model:
    ...     def __init__(self, weighted):
    ...         self.weighted = weighted
    ...     @fit_signature_follows(lambda model: model.weighted)
    ...     def fit(self, X, y, sample_weight=None):
    ...         return self
    >>> has_fit_parameter(Model(True), "sample_weight")
    True
    >>> has_fit_parameter(Model(False), "sample_weight")
    False
    """
    return lambda fit: _FitSignature(fit, takes_sample_weight)
