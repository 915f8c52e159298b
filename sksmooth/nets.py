"""skorch nets ready to be smoothed or attacked: a small MLP, or a module of your own."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.utils import check_scalar
from skorch import NeuralNetClassifier
from torch import nn

from .utils._validation import MAX_COUNT, check_sample_counts

__all__ = ["MLPModule", "make_classifier", "make_mlp_classifier"]


def _check_categorical(
    input_units: int,
    categorical_columns: Sequence[int] | None,
    categories: Sequence[Sequence[float]] | None,
) -> tuple[tuple[int, ...], list[torch.Tensor]]:
    """Validate the categorical parameters; return the columns and their codes as tensors."""
    try:
        columns = () if categorical_columns is None else tuple(categorical_columns)
    except TypeError:
        raise TypeError(
            "categorical_columns must be a sequence of column indices, got "
            f"{categorical_columns!r}."
        ) from None
    categories = list(categories) if categories is not None else []
    if len(categories) != len(columns):
        raise ValueError(
            f"categories must give one sequence of codes per categorical column: got "
            f"{len(categories)} for {len(columns)} categorical_columns."
        )
    try:
        columns = tuple(operator.index(col) for col in columns)
    except TypeError:
        raise TypeError(f"categorical_columns must be integers, got {columns!r}.") from None
    for col in columns:
        if not 0 <= col < input_units:
            raise ValueError(
                f"categorical column {col} is out of range for input_units={input_units}."
            )
    if len(set(columns)) != len(columns):
        raise ValueError(f"categorical_columns holds a duplicated index: {columns!r}.")
    codes = []
    for col, cats in zip(columns, categories, strict=True):
        # Converted first, so codes that collide in the module's precision are caught too.
        values = torch.as_tensor(
            np.asarray(cats, dtype=np.float64), dtype=torch.get_default_dtype()
        )
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(
                f"categories of column {col} must be a non-empty flat sequence of codes."
            )
        if not bool((values[1:] > values[:-1]).all()):
            raise ValueError(
                f"categories of column {col} must be sorted ascending and distinct, got "
                f"{values.tolist()}."
            )
        codes.append(values)
    return columns, codes


class MLPModule(nn.Module):
    """Fully connected ReLU network returning one logit per class.

    Categorical columns hold category codes (any numbers). The module maps each
    code to its rank among the column's ``categories`` and one-hot encodes it,
    so that switching a category is one discrete change of the input rather
    than a move along a meaningless numeric axis. The first layer sees the
    numeric columns, in their order, followed by one one-hot block per
    categorical column, in the order of ``categorical_columns``.

    Parameters
    ----------
    input_units : int
        Number of input columns, categorical ones included.
        :class:`~sksmooth.SmoothedClassifier` sets it from the data.
    output_units : int
        Number of classes. :class:`~sksmooth.SmoothedClassifier` sets it from
        the data.
    hidden_units : sequence of int, default=(64, 64)
        Width of each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    categorical_columns : sequence of int, default=None
        Indices of the input columns that hold category codes. None or empty:
        every column is numeric.
    categories : sequence of sequence of float, default=None
        For each of ``categorical_columns``, its category codes, sorted
        ascending and distinct. A code outside them raises a ValueError in
        :meth:`forward`. :class:`~sksmooth.SmoothedClassifier` sets both from
        the data.

    Examples
    --------
    >>> import torch
    >>> from sksmooth.nets import MLPModule
    >>> MLPModule(input_units=4, output_units=3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])

    Column 2 holds one of the codes 0, 1 or 5; the first layer sees the two
    numeric columns and three one-hot units:

    >>> module = MLPModule(
    ...     input_units=3, output_units=2, categorical_columns=[2], categories=[[0, 1, 5]]
    ... )
    >>> module.layers[0].in_features
    5
    >>> module(torch.tensor([[0.5, -1.0, 5.0], [0.0, 2.0, 1.0]])).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        input_units: int | None = None,
        output_units: int | None = None,
        hidden_units: Sequence[int] = (64, 64),
        dropout: float = 0.0,
        categorical_columns: Sequence[int] | None = None,
        categories: Sequence[Sequence[float]] | None = None,
    ):
        super().__init__()
        if input_units is None or output_units is None:
            raise ValueError(
                "MLPModule needs input_units and output_units; SmoothedClassifier "
                "sets them from the data, otherwise pass module__input_units and "
                "module__output_units to the skorch net."
            )
        check_sample_counts(input_units=input_units, output_units=output_units)
        try:
            hidden_units = tuple(hidden_units)
        except TypeError:
            raise TypeError(
                f"hidden_units must be a sequence of layer widths, got {hidden_units!r}."
            ) from None
        check_sample_counts(**{f"hidden_units[{i}]": h for i, h in enumerate(hidden_units)})
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"dropout must be a number, got {dropout!r}.")
        if not 0 <= dropout < 1:  # NaN too
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        columns, codes = _check_categorical(input_units, categorical_columns, categories)
        self._input_units = int(input_units)
        self.categorical_columns = columns
        if columns:
            # Non-persistent: the constructor parameters stay the single source of truth,
            # and without categorical columns the state_dict is unchanged.
            numeric = sorted(set(range(input_units)) - set(columns))
            self.register_buffer(
                "_numeric_columns", torch.tensor(numeric, dtype=torch.long), persistent=False
            )
            for i, values in enumerate(codes):
                self.register_buffer(f"_categories_{i}", values, persistent=False)
        width = input_units - len(columns) + sum(len(values) for values in codes)
        layers: list[nn.Module] = []
        for hidden in hidden_units:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, output_units))
        self.layers = nn.Sequential(*layers)

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        """Numeric columns followed by the one-hot of each categorical column."""
        n_numeric = len(self._numeric_columns)
        # Filled in place rather than concatenated: one write of the wide tensor.
        encoded = X.new_zeros(len(X), self.layers[0].in_features)
        encoded[:, :n_numeric] = X[:, self._numeric_columns]
        hot, known, offset = [], [], n_numeric
        for i, col in enumerate(self.categorical_columns):
            values = getattr(self, f"_categories_{i}").to(X.dtype)
            codes = X[:, col].contiguous()
            index = torch.searchsorted(values, codes).clamp_(max=len(values) - 1)
            known.append((values[index] == codes).all())
            hot.append(index + offset)
            offset += len(values)
        # One device synchronisation for all columns; locate the culprit only on failure.
        if not bool(torch.stack(known).all()):
            self._raise_unknown(X)
        return encoded.scatter_(1, torch.stack(hot, dim=1), 1)

    def _raise_unknown(self, X: torch.Tensor) -> None:
        for i, col in enumerate(self.categorical_columns):
            values = getattr(self, f"_categories_{i}").to(X.dtype)
            codes = X[:, col]
            unknown = codes[~torch.isin(codes, values)]
            if len(unknown):
                raise ValueError(
                    f"categorical column {col} holds the code {unknown[0].item()!r}, which "
                    f"is not among its categories {values.tolist()}."
                )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, input_units)
            Input rows; categorical columns hold one of their category codes.

        Returns
        -------
        logits : torch.Tensor of shape (batch, output_units)
            One unnormalised score per class.

        Raises
        ------
        ValueError
            If a categorical column holds a code that is not among its
            categories.
        """
        # A module pickled before the check existed has no _input_units: skip it.
        input_units = getattr(self, "_input_units", None)
        if input_units is not None:
            _check_batch(X, input_units, self.layers[0].weight.dtype)
        if self.categorical_columns:
            X = self._encode(X)
        return self.layers(X)


def _check_batch(X, input_units: int, dtype: torch.dtype) -> None:
    """A 2-D tensor of ``input_units`` columns in the module's dtype (or under autocast).

    Shapes and dtypes only: nothing that waits for the device.
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}.")
    if X.ndim != 2 or X.shape[1] != input_units:
        raise ValueError(
            f"X has shape {tuple(X.shape)}; the module takes (batch, {input_units}): "
            f"input_units={input_units} columns."
        )
    if X.dtype != dtype and not torch.is_autocast_enabled(X.device.type):
        raise TypeError(f"X has dtype {X.dtype}; the module computes in {dtype}.")


class _TrainedModuleClassifier(NeuralNetClassifier):
    """A net around a trained module whose ``predict`` returns labels of ``classes``.

    skorch's returns the index of the top logit, which is the label only when
    the classes are 0 to ``n_classes - 1``; scikit-learn's tools compare
    ``predict`` with ``y``.
    """

    def predict(self, X):
        return self.classes_[super().predict(X)]


def make_classifier(
    module,
    *,
    classes=None,
    max_epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 128,
    **net_params,
) -> NeuralNetClassifier:
    """Build a skorch :class:`~skorch.NeuralNetClassifier` around any torch module.

    Two uses, told apart by ``module``:

    - a module **class**, to be trained: the net is unfitted, for
      :class:`~sksmooth.SmoothedClassifier` to train under noise. Where the
      class takes ``input_units`` and ``output_units``,
      :class:`~sksmooth.SmoothedClassifier` sets them from the data; other
      constructor arguments take the ``module__`` prefix.
    - a module **instance**, already trained: the net is initialized around
      that very module (its weights kept, nothing trained) and behaves as
      fitted. Give it ``classes``. Wrap it in
      :class:`~sklearn.frozen.FrozenEstimator` to smooth it without
      retraining, ``SmoothedClassifier(FrozenEstimator(net), ...).fit(X, y)``,
      or pass it to an attack of :mod:`sksmooth.attacks` as is.

    The defaults suit smoothing and model selection: Adam, cross-entropy on
    logits, no internal validation split (``train_split=None``) and no
    training log (``verbose=0``). The module must return one logit per class.
    As for any skorch net, the net's own ``predict`` takes rows in the
    module's dtype (float32 unless you changed it); sksmooth's estimators,
    attacks and metrics convert the rows they are given.

    Parameters
    ----------
    module : torch.nn.Module subclass or instance
        The module class to train, or a trained module.
    classes : array-like of shape (n_classes,), default=None
        For a trained module only, and required there: the label of each of
        its outputs, in order (``classes[i]`` is the label of logit ``i``).
    max_epochs : int, default=20
        Number of training epochs.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Batch size, in training and in prediction.
    **net_params
        Any other :class:`~skorch.NeuralNetClassifier` parameter, e.g.
        ``device="cuda"`` or ``module__hidden=32``. A trained module stays
        on its own device unless ``device`` is given.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted for a module class. For a trained module, initialized and
        ready to predict, with ``classes_`` set and ``predict`` returning
        labels of ``classes`` (skorch's own returns the index of the top
        logit).

    See Also
    --------
    make_mlp_classifier : The same around :class:`MLPModule`.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sksmooth.nets import make_classifier
    >>> class Linear(nn.Module):
    ...     def __init__(self, input_units=2, output_units=2):
    ...         super().__init__()
    ...         self.linear = nn.Linear(input_units, output_units)
    ...     def forward(self, X):
    ...         return self.linear(X)

    A class, for :class:`~sksmooth.SmoothedClassifier` to train:

    >>> net = make_classifier(Linear, max_epochs=5)
    >>> net.module is Linear
    True

    A trained module, ready to predict, smooth (frozen) or attack:

    >>> trained = Linear()
    >>> net = make_classifier(trained, classes=["legit", "fraud"])
    >>> net.module_ is trained
    True
    >>> net.predict(torch.zeros(3, 2)).shape
    (3,)
    >>> set(net.predict(torch.zeros(3, 2))) <= {"legit", "fraud"}
    True
    """
    _check_training_params(max_epochs, lr, batch_size)
    if isinstance(module, nn.Module):
        if classes is None:
            raise ValueError(
                "A module instance is taken as trained and needs classes, the label of "
                "each of its outputs in order; pass the module class to train it instead."
            )
        if len(classes) < 2:
            raise ValueError(f"classes needs at least two labels, got {list(classes)!r}.")
        parameter = next(module.parameters(), None)
        net_params.setdefault("device", "cpu" if parameter is None else str(parameter.device))
    elif not (isinstance(module, type) and issubclass(module, nn.Module)):
        raise TypeError(f"module must be a torch.nn.Module subclass or instance, got {module!r}.")
    elif classes is not None:
        raise ValueError(
            "classes is for a trained module instance; a module class learns its "
            "classes from the data in fit."
        )
    params = {
        "criterion": nn.CrossEntropyLoss,
        "optimizer": torch.optim.Adam,
        "train_split": None,
        "verbose": 0,
        **net_params,
    }
    if classes is None:
        return NeuralNetClassifier(
            module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, **params
        )
    net = _TrainedModuleClassifier(
        module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, classes=classes, **params
    )
    return net.initialize()


def _check_training_params(max_epochs, lr, batch_size) -> None:
    """What skorch and the optimizer would otherwise fail on (or loop over) in fit."""
    check_scalar(max_epochs, "max_epochs", numbers.Integral, min_val=0, max_val=MAX_COUNT)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a number, got {lr!r}.")
    # The optimizer casts lr to the parameters' dtype, float32 unless changed.
    if not 0 < lr <= np.finfo(np.float32).max:
        raise ValueError(f"lr must be a number > 0 that float32 can hold, got {lr!r}.")
    # -1 is skorch's "every row in one batch".
    if not (isinstance(batch_size, numbers.Integral) and batch_size == -1):
        check_sample_counts(batch_size=batch_size)


def make_mlp_classifier(
    hidden_units: Sequence[int] = (64, 64),
    *,
    max_epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 128,
    **net_params,
) -> NeuralNetClassifier:
    """Build a skorch :class:`~skorch.NeuralNetClassifier` around :class:`MLPModule`.

    Defaults suit smoothing and model selection: Adam, cross-entropy on
    logits, no internal validation split (``train_split=None``) and no
    training log (``verbose=0``).

    Parameters
    ----------
    hidden_units : sequence of int, default=(64, 64)
        Width of each hidden layer.
    max_epochs : int, default=20
        Number of training epochs.
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Training batch size.
    **net_params
        Any other :class:`~skorch.NeuralNetClassifier` parameter, e.g.
        ``device="cuda"``. Weigh classes with the smoothed or masked
        estimator's ``class_weight`` instead of ``criterion__weight``.
        Module parameters take the ``module__`` prefix: columns holding
        category codes are declared with ``module__categorical_columns`` and
        ``module__categories`` (see :class:`MLPModule`), which the module
        one-hot encodes.

    Returns
    -------
    net : skorch.NeuralNetClassifier
        Unfitted; wrap it in :class:`~sksmooth.SmoothedClassifier`.

    See Also
    --------
    make_classifier : The same around a module of your own.

    Examples
    --------
    >>> from sksmooth.nets import make_mlp_classifier
    >>> net = make_mlp_classifier(hidden_units=(32,), max_epochs=5)
    >>> net.max_epochs
    5

    A net whose column 0 holds one of the codes 1, 2 or 3:

    >>> net = make_mlp_classifier(
    ...     module__categorical_columns=[0], module__categories=[[1, 2, 3]]
    ... )
    >>> net.module__categories
    [[1, 2, 3]]
    """
    return make_classifier(
        MLPModule,
        module__hidden_units=tuple(hidden_units),
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        **net_params,
    )
