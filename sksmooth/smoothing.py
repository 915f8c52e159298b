"""Randomized smoothing as a scikit-learn meta-estimator."""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV
from sklearn.utils import check_scalar
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    assert_all_finite,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)
from skorch import NeuralNet
from torch import nn

from ._adapters import (
    BLACK_BOX_HINT,
    REDUCED_DTYPES,
    DifferentiableTarget,
    make_voter,
    module_device_dtype,
    net_scores,
    unwrap_frozen,
)
from ._labels import label_indices
from ._monte_carlo import count_votes, fit_seeds, row_seeds, torch_seed
from ._progress import progress
from ._training import (
    SINGLE_LOGIT_HINT,
    check_class_weight,
    check_representable,
    class_weights,
    fit_estimator_under_noise,
    fit_net,
    is_fitted,
    is_single_logit_net,
    set_criterion_weight,
    warn_on_ordered_criterion_weight,
)
from .certification import (
    CertificationResult,
    certify_scores,
    certify_votes,
    decide_scores,
    decide_votes,
    predict_scores,
    predict_votes,
    sequential_certify_votes,
)
from .certification._certify import (
    class_thresholds,
    decision_votes_needed,
    largest_decision_radius,
    largest_radius,
    samples_for_radius,
)
from .certification._scores import ScoreSums
from .certification._sequential_predict import (
    first_round_size,
    sequential_predict_scores,
    sequential_predict_votes,
)
from .denoising import (
    DenoisedVoter,
    categorical_columns,
    check_denoiser_objective,
    fit_denoiser,
    resolve_denoiser,
)
from .noise import NoiseModel, get_noise, make_noise_model
from .training import check_training, fit_net_with_training
from .utils._categorical import categorical_mask, check_codes, learn_categories, pandas_codes
from .utils._feature_map import feature_map
from .utils._fit_signature import fit_signature_follows
from .utils._validation import (
    check_alpha,
    check_flag,
    check_label,
    check_n_jobs,
    check_sample_counts,
    final_step,
    split_pipeline,
)

__all__ = ["SmoothedClassifier", "certify"]


class SmoothedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classifier smoothed by noise, with certified robustness.

    The smoothed classifier predicts the class the base classifier returns
    most often when noise is added to the input (Gaussian ``N(0, sigma^2)``
    by default: Cohen, Rosenfeld & Kolter, 2019). :meth:`certify` returns,
    for each row, a radius within which no perturbation can change that
    prediction, with failure probability at most ``alpha``: an L2 radius for
    Gaussian noise, L1 for Laplace or uniform noise, L-infinity for any,
    over the columns that receive noise.

    Parameters
    ----------
    estimator : classifier
        The base classifier: a skorch :class:`~skorch.NeuralNetClassifier`
        (fast path: noise is drawn on the net's device and passed through its
        ``module_`` in batches) or any scikit-learn classifier with ``predict``
        (generic path). It is cloned and trained under noise in :meth:`fit`
        (a fitted one is retrained, with a warning); wrap a fitted model in
        :class:`~sklearn.frozen.FrozenEstimator` to smooth it without
        retraining. A net must give one score per class: skorch's
        ``NeuralNetBinaryClassifier`` (one logit) is refused.
    sigma : float, array-like of shape (n_features,) or dict, default=0.25
        Standard deviation of the noise per column, in the units of ``X`` as
        this estimator receives it (after any earlier pipeline step). A float
        noises every column alike (radii are then distances in those units);
        an array gives one value per column, 0 for a column that gets no noise
        (certificates then cover changes of the noised columns only, and radii
        are unitless: ``R`` of ``||delta / sigma||_p <= R``); a dict
        ``{column name: sigma}`` does the same by name when ``X`` has column
        names, unlisted columns getting 0. Categorical columns take no sigma:
        a float skips them, and an array or dict must give them 0 (anything
        else is an error).
    noise : {"gaussian", "laplace", "uniform"} or Noise, default="gaussian"
        The noise distribution, and so the norm certified: Gaussian for L2
        (Cohen et al., 2019), Laplace for L1 (Teng et al., 2020), uniform for
        L1 and L-infinity (Yang et al., 2020); every noise also certifies
        L-infinity. A :class:`sksmooth.noise.Noise` instance works too. Its
        draws train the base classifier as well.
    categorical_features : array-like of {bool, int, str}, "from_dtype" or None, default=None
        The columns that hold categories, spelled as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`: a boolean
        mask, integer indices, feature names, or ``"from_dtype"`` (the pandas
        columns of ``category`` dtype). Such a column holds category codes,
        integers >= 0 (e.g. from an :class:`~sklearn.preprocessing.OrdinalEncoder`)
        or pandas categories (read as their codes). Its categories are
        learned in :meth:`fit` (all categories of a pandas dtype, else the
        codes seen); a code outside them at predict or certify time is an
        error, and so is a column fitted as a pandas category that comes back
        as numbers. ``"from_dtype"`` finding no category column warns.
        Categorical columns are smoothed by random replacement instead
        of ``sigma``, and :meth:`CertificationResult.radius_with_categorical_changes`
        certifies changes of them. The base estimator receives the codes as
        a numpy array, so give its own ``categorical_features`` as indices or
        a mask (``HistGradientBoostingClassifier(categorical_features=[5, 6])``).
    categorical_noise : float, array-like of float or dict, default=0.1
        Probability ``q``, in [0, 1), that a categorical column's value is
        replaced by one of its categories drawn uniformly: one for every
        categorical column, one each in column order, or a dict (or pandas
        Series) ``{column name: q}``, unlisted categorical columns getting 0.
        Larger ``q`` certifies more switched fields and costs accuracy, as
        sigma does for numbers.
    n0 : int, default=100
        Noisy samples per row that select the candidate class in :meth:`certify`.
    n : int, default=100_000
        Noisy samples per row that estimate the candidate's probability in
        :meth:`certify`. More samples give larger certified radii.
    n_samples : int, default=1000
        Noisy samples per row in :meth:`predict` and :meth:`predict_proba`.
    alpha : float, default=0.001
        Failure probability of each certificate, and the level of the binomial
        test that decides abstention in :meth:`predict`.
    batch_size : int, default=1000
        Noisy samples per forward pass of the base classifier; bounds memory.
    n_noisy_copies : int, default=1
        For base estimators other than skorch nets: number of noisy copies of
        ``X`` the base estimator is fitted on. skorch nets get fresh noise in
        every batch of every epoch instead.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in training, as in scikit-learn: a dict
        ``{label: weight}`` (classes it does not name weigh 1), or
        ``"balanced"`` for ``n_samples / (n_classes * np.bincount(y))``. A
        skorch net gets them as its criterion's ``weight``, in the order of
        ``classes_`` (sorted labels), on the clone it trains: give
        ``class_weight={"fraud": 20, "legit": 1}`` rather than a
        ``criterion__weight`` tensor whose order is that of the sorted labels.
        Other base estimators get them as sample weights of every noisy copy
        (multiplying any ``sample_weight``), so their ``fit`` must accept
        ``sample_weight``; else set the base estimator's own
        ``class_weight``. With a frozen estimator and a ``denoiser``, the
        denoiser's training rows are drawn in proportion to their class's
        weight (``"balanced"`` keeps a rare class's rows from being denoised
        towards the common ones); without a denoiser, no effect on a frozen
        estimator.
    abstain_label : object, default=None
        If None, :meth:`predict` returns the top class of every row, as any
        scikit-learn classifier does. Otherwise rows whose top class is not
        significantly ahead of the runner-up (two-sided binomial test at level
        ``alpha``, Cohen et al.'s PREDICT) get this label instead.
    random_state : int, RandomState instance or None, default=None
        Seeds training noise, the net's initialisation and every Monte Carlo
        draw. Given an int, results are identical bit for bit across runs.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Precision of the skorch net's forward passes under noise. Reduced
        precision runs them on a copy of the net's module converted to it
        (bfloat16 on CPU or GPU, float16 on GPU), the noisy rows cast to it:
        faster, and the certificate is then exact for the reduced-precision
        model, so that is the model that must serve the predictions. On a
        CPU without native bfloat16 (neither AVX512-BF16 nor AMX), bfloat16
        falls back to float32 with a warning. Not available for other base
        estimators.
    fresh_noise : bool, default=False
        False: each row's noise is a function of the fitted seed and the row,
        so results are reproducible bit for bit and do not depend on batching
        (the scikit-learn way). True: every call to :meth:`predict`,
        :meth:`predict_proba` or :meth:`certify` draws its noise from fresh
        operating-system entropy, so answers differ from call to call and no
        one, seed known or not, can precompute the noise of an input; for
        deployment. Either way each call is one look with failure probability
        ``alpha`` (see the user guide on the threat model).
    n_jobs : int or None, default=None
        Parallel jobs (joblib) over shards of rows in :meth:`predict`,
        :meth:`predict_proba` and :meth:`certify`. Results are the same for
        any value. Under ``joblib.parallel_backend("dask")`` the shards run
        on a Dask cluster. Within a job, a skorch net on the CPU already
        shares its batches among ``torch.get_num_threads() + 1`` threads,
        each running torch single-threaded (see the user guide on speed).
    verbose : int, default=0
        Show a progress bar of the noisy samples classified when positive
        (in a terminal or notebook only; silent when output is redirected).
    training : "gaussian" or recipe, default="gaussian"
        How a skorch base net is trained under the smoothing noise:
        ``"gaussian"``, fresh noise in every batch (Cohen et al., 2019), or
        a recipe of :mod:`sksmooth.training`. Other base estimators are
        trained on noisy copies (``n_noisy_copies``) and take ``"gaussian"``
        only.
    denoiser : None, "auto" or skorch regressor, default=None
        Denoised smoothing (Salman et al., 2020) of a frozen base estimator:
        a denoiser ``D`` is put in front of it, and the classifier smoothed
        is ``f(D(x))``. ``"auto"`` is :func:`sksmooth.denoising.make_denoiser`;
        a skorch ``NeuralNetRegressor`` whose module maps rows to rows works
        too. It is cloned and trained in :meth:`fit` on ``X`` under exactly
        the smoothing noise (the labels only weigh its rows, with
        ``class_weight``), or used as it is when wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`. Categorical columns pass
        through it unchanged. The estimator in front of which it
        sits is not trained under noise: a
        :class:`~sklearn.frozen.FrozenEstimator` is used as it is, any other
        is fitted on the clean rows first (as a model already in use would
        have been).
    denoiser_objective : {"mse", "stability"}, default="mse"
        What the denoiser learns: ``"mse"``, to give back the clean row;
        ``"stability"``, in addition that the frozen net classifies the
        denoised noisy row as it classifies the clean one (the cross-entropy
        of ``f(D(x + noise))`` against ``f(x)``), which needs a frozen skorch
        net.
    smoothing : {"hard", "soft"}, default="hard"
        What is averaged over the noise. ``"hard"``: the base classifier's
        votes, so :meth:`predict_proba` is each class's vote share (Cohen et
        al., 2019). ``"soft"``: its class probabilities (the softmax of a
        net's logits, ``predict_proba`` of another estimator, which must have
        one), so :meth:`predict_proba` is their mean under noise, a
        continuous score fit for ranking and thresholds (Salman et al.,
        2019); :meth:`certify` then bounds the mean score with the empirical
        Bernstein bound (Maurer & Pontil, 2009) and the radii are the same
        formulas of that bound (see the user guide on fraud operating points).
    sequential_predict : bool, default=False
        False: :meth:`predict` and :meth:`predict_proba` classify
        ``n_samples`` noisy copies of every row. True: they draw a row's
        copies in rounds (13 first for two classes at ``alpha=0.001``, 29
        with ``smoothing="soft"``, then a quarter more per round) and stop
        once a class is shown to have a smoothed probability (mean score)
        above 1/2 by an anytime-valid test at level ``alpha / 2``; rows that
        no round decides draw ``n_samples`` in all, take the class with most
        votes and the fixed predict's test of it against the runner-up at
        ``alpha / 2`` (``abstain_label`` where it fails), so that a row is
        decided wrongly with probability at most ``alpha``. Far fewer
        samples on rows the model is sure of, and the same labels but for
        the few rows whose probability is near a tie; the probabilities of
        decided rows are over fewer samples, so coarser for ranking (see
        the user guide on fraud operating points).

    Attributes
    ----------
    estimator_ : classifier
        The base classifier, trained under noise (or the frozen model as given).
        skorch nets are trained on integer labels ``0 .. n_classes - 1``.
    denoiser_ : skorch net or None
        The denoiser in front of the frozen estimator, trained in :meth:`fit`
        (or the frozen one as given); None without ``denoiser``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    is_categorical_ : ndarray of bool of shape (`n_features_in_`,)
        Which columns are categorical.
    categories_ : tuple of ndarray
        The category codes of each categorical column, sorted, in column order.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sksmooth.certification.CertificationResult : What :meth:`certify` returns.
    sksmooth.nets.make_mlp_classifier : A skorch MLP ready to be smoothed.

    Notes
    -----
    Each row's noise comes from a generator seeded by the fitted seed and the
    row's own values, so the noisy rows do not depend on batch size, row order
    or which rows are classified together. A net's float arithmetic on them
    may differ in its last bits with the number of rows in a forward pass
    (its BLAS kernels do), which can move a soft score by about ``1e-10``
    and, very rarely, a vote at an exact tie: keep ``batch_size`` fixed for
    results identical bit for bit.

    Certificates hold in the input space of this estimator. In a pipeline
    after a :class:`~sklearn.preprocessing.StandardScaler` the radius is in
    standard deviations of each feature.

    References
    ----------
    .. [1] J. Cohen, E. Rosenfeld and J. Z. Kolter, "Certified Adversarial
       Robustness via Randomized Smoothing", ICML 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sksmooth import SmoothedClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SmoothedClassifier(LogisticRegression(max_iter=500), sigma=0.25,
    ...                          n=1000, random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> result = clf.certify(X[:3], y[:3])
    >>> result.radius.round(3)
    array([0.616, 0.616, 0.616])
    """

    def __init__(
        self,
        estimator,
        *,
        sigma=0.25,
        noise="gaussian",
        categorical_features=None,
        categorical_noise=0.1,
        n0=100,
        n=100_000,
        n_samples=1000,
        alpha=0.001,
        batch_size=1000,
        n_noisy_copies=1,
        class_weight=None,
        abstain_label=None,
        random_state=None,
        precision="float32",
        fresh_noise=False,
        n_jobs=None,
        verbose=0,
        training="gaussian",
        denoiser=None,
        denoiser_objective="mse",
        smoothing="hard",
        sequential_predict=False,
    ):
        self.estimator = estimator
        self.sigma = sigma
        self.noise = noise
        self.categorical_features = categorical_features
        self.categorical_noise = categorical_noise
        self.n0 = n0
        self.n = n
        self.n_samples = n_samples
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_noisy_copies = n_noisy_copies
        self.class_weight = class_weight
        self.abstain_label = abstain_label
        self.random_state = random_state
        self.precision = precision
        self.fresh_noise = fresh_noise
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.training = training
        self.denoiser = denoiser
        self.denoiser_objective = denoiser_objective
        self.smoothing = smoothing
        self.sequential_predict = sequential_predict

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    # ------------------------------------------------------------------ fit

    @fit_signature_follows(lambda clf: _base_takes_sample_weight(clf.estimator))
    def fit(self, X, y, sample_weight=None):
        """Train the base classifier under the smoothing noise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, numeric.
        y : array-like of shape (n_samples,)
            Class labels; strings are allowed.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the base estimator's ``fit`` (each noisy copy of a row
            keeps its weight) where it accepts ``sample_weight``. skorch nets
            do not; weight their classes with ``class_weight`` instead, e.g.
            ``class_weight={"fraud": 20, "legit": 1}`` for rare fraud.
            Ignored for a frozen estimator, which is not trained. ``fit``'s
            signature lists ``sample_weight`` only where the base estimator
            uses it, so ensembles such as ``BaggingClassifier`` pass bootstrap
            weights only to bases that take them.

        Returns
        -------
        self : SmoothedClassifier
            The fitted estimator.
        """
        self._check_params()
        self._check_soft_base(self.estimator)
        inner = unwrap_frozen(self.estimator)
        if not (hasattr(inner, "fit") and hasattr(inner, "predict")):
            raise TypeError(
                "estimator must be a classifier with fit and predict (a scikit-learn "
                f"classifier or a skorch NeuralNetClassifier); got {self.estimator!r}."
            )
        frozen = isinstance(self.estimator, FrozenEstimator)
        _check_net_device(inner)
        _refuse_nested_net(inner)
        if is_single_logit_net(inner) and not frozen:
            raise TypeError(
                f"SmoothedClassifier cannot train {type(inner).__name__}, a net with one "
                "logit and binary cross-entropy: it trains nets on one score per class. "
                + SINGLE_LOGIT_HINT
                + " A one-logit net already fitted can be smoothed as it is: "
                "SmoothedClassifier(FrozenEstimator(net))."
            )
        check_training(self.training, net=isinstance(inner, NeuralNet), frozen=frozen)
        denoiser = self._checked_denoiser(frozen)
        X, y = self._validated_training_data(X, y)
        check_classification_targets(y)
        noise_model = self._noise_model()
        if isinstance(inner, NeuralNet):
            self._check_noise_representable(X, noise_model)
        if frozen and self.class_weight is not None and denoiser is None:
            warnings.warn(
                "class_weight has no effect on a FrozenEstimator, which is not trained.",
                UserWarning,
                stacklevel=2,
            )
        if not frozen:
            _warn_if_fitted(inner)
            if sample_weight is not None:
                sample_weight = _checked_sample_weight(sample_weight, X, inner)
        # A fourth seed only with a denoiser: the first three stay those of every fit.
        seeds = fit_seeds(self.random_state, 3 if denoiser is None else 4)
        init_seed, noise_seed, self._seed = seeds[:3]
        init_seed, noise_seed = torch_seed(init_seed), torch_seed(noise_seed)

        if frozen:
            self._set_frozen_classes(inner, X, y)
            self.estimator_ = self.estimator
        else:
            self.classes_, y_encoded = np.unique(y, return_inverse=True)
            self._check_two_classes()
            weights = class_weights(self.class_weight, self.classes_, y_encoded)
            self.estimator_ = clone(self.estimator)
            if isinstance(inner, NeuralNet):
                self._warn_on_module_instance(inner)
                if weights is None:
                    warn_on_ordered_criterion_weight(inner, self.classes_, stacklevel=2)
                else:
                    set_criterion_weight(self.estimator_, weights)
                if denoiser is not None:  # the model a denoiser is put in front of: clean
                    fit_net(
                        self.estimator_,
                        X,
                        y_encoded,
                        n_classes=len(self.classes_),
                        seed=init_seed,
                        categorical=noise_model.categorical,
                    )
                else:
                    fit_net_with_training(
                        self.estimator_,
                        X,
                        y_encoded,
                        training=self.training,
                        n_classes=len(self.classes_),
                        noise_model=noise_model,
                        seed=init_seed,
                        noise_seed=noise_seed,
                    )
            else:
                if weights is not None:
                    sample_weight = _class_sample_weight(weights, y_encoded, sample_weight, inner)
                _seed_random_states(self.estimator_, init_seed)
                if denoiser is not None:
                    weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
                    self.estimator_.fit(X, y, **weighted)
                else:
                    fit_estimator_under_noise(
                        self.estimator_,
                        X,
                        y,
                        noise_model=noise_model,
                        n_noisy_copies=self.n_noisy_copies,
                        seed=noise_seed,
                        sample_weight=sample_weight,
                    )
        self.denoiser_ = None
        if denoiser is not None:
            self.denoiser_ = fit_denoiser(
                denoiser,
                X,
                noise_model=noise_model,
                objective=self.denoiser_objective,
                frozen_estimator=self.estimator_,
                classes=self.classes_,
                seed=init_seed,
                noise_seed=torch_seed(seeds[3]),
                row_weight=self._denoiser_row_weight(y),
            )
        self._check_base_output(X[:1])
        return self

    def _denoiser_row_weight(self, y: np.ndarray) -> np.ndarray | None:
        """Each training row's weight from ``class_weight``, for the denoiser; None without."""
        y_encoded = label_indices(self.classes_, y, what="y")
        with np.errstate(divide="ignore"):  # "balanced": a class with no row weighs nothing
            weights = class_weights(self.class_weight, self.classes_, y_encoded)
        return None if weights is None else weights[y_encoded]

    def _checked_denoiser(self, frozen: bool):
        """The denoiser to train (or the frozen one), None without; its parameters checked."""
        check_denoiser_objective(self.denoiser_objective)  # the name, with or without a denoiser
        denoiser = resolve_denoiser(self.denoiser)
        if denoiser is None:
            return None
        if not (isinstance(self.training, str) and self.training == "gaussian"):
            raise ValueError(
                f"training={self.training!r} trains the base classifier under noise; with a "
                "denoiser the base classifier sees denoised rows and is trained on clean "
                "ones (or frozen). Use one or the other."
            )
        check_denoiser_objective(self.denoiser_objective, self.estimator, frozen=frozen)
        return denoiser

    def _voter(self):
        """Votes of the base classifier: the estimator, behind the denoiser if there is one."""
        voter = make_voter(self.estimator_, self.classes_, self.precision)
        denoiser = getattr(self, "denoiser_", None)  # absent from models pickled before it
        if denoiser is None:
            return voter
        return DenoisedVoter(denoiser, categorical_columns(self._noise_model()), voter)

    def _check_params(self) -> None:
        get_noise(self.noise)
        check_alpha(self.alpha)
        check_sample_counts(
            n0=self.n0,
            n=self.n,
            n_samples=self.n_samples,
            batch_size=self.batch_size,
            n_noisy_copies=self.n_noisy_copies,
        )
        if self.precision not in ("float32", "bfloat16", "float16"):
            raise ValueError(
                f'precision must be "float32", "bfloat16" or "float16", got {self.precision!r}.'
            )
        check_n_jobs(self.n_jobs)
        check_scalar(self.verbose, "verbose", numbers.Integral, min_val=0)
        check_class_weight(self.class_weight)
        check_flag(self.fresh_noise, "fresh_noise")
        check_flag(self.sequential_predict, "sequential_predict")
        if self.abstain_label is not None:
            check_label(self.abstain_label, "abstain_label")
        if not (isinstance(self.smoothing, str) and self.smoothing in ("hard", "soft")):
            raise ValueError(f'smoothing must be "hard" or "soft", got {self.smoothing!r}.')

    def _check_soft_base(self, estimator) -> None:
        """Soft smoothing averages probabilities: the base must give them."""
        if self.smoothing != "soft":
            return
        inner = unwrap_frozen(estimator)
        if isinstance(inner, NeuralNet) or hasattr(inner, "predict_proba"):
            return
        raise TypeError(
            f'smoothing="soft" averages the base classifier\'s class probabilities, and '
            f'{type(inner).__name__} has no predict_proba. Use smoothing="hard" (votes), '
            "or a base classifier with predict_proba."
        )

    def _validated_training_data(self, X, y):
        """``validate_data`` with the categorical columns found, converted and learned."""
        if self.categorical_features is None:
            if isinstance(X, pd.DataFrame):  # a category column gets a message naming it
                pandas_codes(X, np.zeros(X.shape[1], dtype=bool))
            X, y = validate_data(self, X, y, dtype=np.float64)
            self.is_categorical_ = np.zeros(X.shape[1], dtype=bool)
            self.categories_, self._dtype_categories = (), {}
            return X, y
        if np.ndim(X) != 2:  # scikit-learn's own message for the wrong shape
            validate_data(self, X, y, dtype=np.float64)
        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        mask = categorical_mask(self.categorical_features, X, np.shape(X)[1], names)
        if isinstance(self.categorical_features, str) and not mask.any():
            warnings.warn(
                "categorical_features='from_dtype' found no column of pandas category dtype "
                "(an OrdinalEncoder outputs numbers): no column is smoothed as categorical. "
                "Name the categorical columns or give their indices instead.",
                UserWarning,
                stacklevel=3,
            )
        X, dtype_categories = pandas_codes(X, mask)
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False)
        self._check_finite_codes(X, mask)
        columns = np.flatnonzero(mask)
        self.is_categorical_ = mask
        self.categories_ = learn_categories(X, columns, dtype_categories)
        self._dtype_categories = dtype_categories
        return X, y

    def _check_finite_codes(self, X: np.ndarray, mask: np.ndarray) -> None:
        """Numeric columns finite, categorical ones integer codes >= 0."""
        check_codes(X, np.flatnonzero(mask), getattr(self, "feature_names_in_", None))
        assert_all_finite(X[:, ~mask], input_name="X")

    def _call_seed(self) -> int:
        """The seed of one call's noise: the fitted seed, or fresh entropy."""
        return fit_seeds(None, 1)[0] if self.fresh_noise else self._seed

    def _noise_model(self) -> NoiseModel:
        """``noise`` and ``sigma`` checked against the fitted columns."""
        return make_noise_model(
            self.noise,
            self.sigma,
            n_features=self.n_features_in_,
            feature_names=getattr(self, "feature_names_in_", None),
            categorical_columns=np.flatnonzero(self.is_categorical_),
            categories=self.categories_,
            categorical_noise=self.categorical_noise,
        )

    def _check_two_classes(self) -> None:
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0].item()!r}); a classifier needs at "
                "least 2 classes."
            )

    def _set_frozen_classes(self, inner, X, y) -> None:
        if isinstance(inner, NeuralNet) and not getattr(inner, "initialized_", False):
            # skorch answers classes_ from its `classes` parameter even when unfitted.
            raise ValueError("The frozen skorch net is not initialized; fit it before freezing it.")
        classes = getattr(inner, "classes_", None)
        if classes is None:
            raise ValueError("The frozen estimator has no classes_; fit it before freezing it.")
        classes = np.asarray(classes)
        self.classes_ = classes
        self._check_two_classes()
        fitted_names = getattr(inner, "feature_names_in_", None)
        names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and names is not None and list(fitted_names) != list(names):
            # The frozen model reads columns by position from here on: the names must match.
            raise ValueError(
                "The feature names should match those the frozen estimator was fitted with, "
                f"in order: it was fitted on {list(fitted_names)}, X has {list(names)}."
            )
        unseen = np.setdiff1d(np.unique(y), classes)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen.tolist()} that the frozen estimator does not "
                f"know; its classes are {classes.tolist()}."
            )
        expected = getattr(inner, "n_features_in_", None)
        if expected is not None and expected != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but the frozen estimator was fitted "
                f"on {expected} features."
            )

    @staticmethod
    def _warn_on_module_instance(net: NeuralNet) -> None:
        if isinstance(net.module, nn.Module):
            warnings.warn(
                "The skorch net was given a module instance: cloning copies its current "
                "weights, so random_state does not control the starting weights, and "
                "layer sizes cannot be set from the data. Pass the module class instead.",
                UserWarning,
                stacklevel=3,
            )

    def _check_base_output(self, X_one_row: np.ndarray) -> None:
        """Classify one noisy row now, so a mismatched base model fails in fit."""
        try:
            count_votes(
                self._voter(),
                X_one_row,
                n_draws=1,
                noise_model=self._noise_model(),
                seeds=[0],
                batch_size=1,
            )
        except RuntimeError as error:  # torch shape or device errors
            raise ValueError(
                f"The base estimator cannot classify rows of {X_one_row.shape[1]} features: {error}"
            ) from error

    def _check_noise_representable(self, X: np.ndarray, noise_model) -> None:
        """Noisy rows must stay finite in the net's precision, or every vote is NaN's argmax."""
        dtype = REDUCED_DTYPES[self.precision] or torch.get_default_dtype()
        # No draw of any noise reaches 40 standard deviations in practice.
        largest = float(np.max(np.abs(X), initial=0.0)) + 40.0 * float(np.max(noise_model.scales))
        limit = torch.finfo(dtype).max
        if largest > limit:
            raise ValueError(
                f"sigma={self.sigma!r} puts noisy rows at magnitudes near {largest:.3g}, beyond "
                f"the range of the net's precision ({str(dtype).removeprefix('torch.')}, at "
                f"most {limit:.3g}): the net would see infinities. Use a smaller sigma, or "
                "rescale the features."
            )

    # ------------------------------------------------------- Monte Carlo core

    def _validated_rows(self, X) -> np.ndarray:
        try:
            X = self._converted_rows(X)
        except ValueError as error:
            if "could not convert" not in str(error):
                raise
            # Raw rows (strings and all) given to the last step of a pipeline.
            raise ValueError(
                f"{error}. SmoothedClassifier takes the numbers its pipeline step receives; "
                "for rows as the pipeline takes them, certify with "
                "sksmooth.certify(pipeline, X) (and predict with pipeline.predict(X)), "
                "which passes X through the earlier steps first."
            ) from error
        inner = unwrap_frozen(self.estimator_)
        if isinstance(inner, NeuralNet) and hasattr(inner, "module_"):
            # Beyond the net's precision a row turns into inf, then NaN scores.
            precision = REDUCED_DTYPES[self.precision] or module_device_dtype(inner.module_)[1]
            check_representable(X, precision)
        return np.ascontiguousarray(X)

    def _converted_rows(self, X) -> np.ndarray:
        """Rows as float64, checked against what fit saw (columns, names, category codes)."""
        if not self.is_categorical_.any():
            X = validate_data(self, X, reset=False, dtype=np.float64)
        else:
            fitted_names = getattr(self, "feature_names_in_", None)
            if isinstance(X, pd.DataFrame) and (
                fitted_names is None or list(X.columns) != list(fitted_names)
            ):
                # Columns are read by position below: scikit-learn's check of the
                # names (and its message) must come first.
                validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
            X, _ = pandas_codes(X, self.is_categorical_, known=self._dtype_categories)
            X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
            self._check_finite_codes(X, self.is_categorical_)
            self._check_known_codes(X)
        return X

    def _check_known_codes(self, X: np.ndarray) -> None:
        unknown = self._noise_model().categorical.unknown_codes(X)
        if unknown:
            names = self._feature_names()
            details = "; ".join(
                f"column {names[column]!r} holds {value:g}" for column, value in unknown
            )
            raise ValueError(
                f"X holds category codes not seen in fit ({details}). The smoothing draws "
                "among the categories learned in fit, so a new category has no "
                "certificate; refit with it, or map it to a known one."
            )

    def _count_votes(
        self, X: np.ndarray, stream: str, n_draws: int, *, seed: int, n_jobs=None, soft=None
    ):
        """Votes per class (int64 counts), or the ScoreSums of soft smoothing."""
        soft = self.smoothing == "soft" if soft is None else soft
        if soft:
            self._check_soft_base(self.estimator_)
        voter = self._voter()
        noise_model = self._noise_model()
        seeds = row_seeds(X, seed, stream)
        n_jobs = self.n_jobs if n_jobs is None else n_jobs
        n_shards = min(effective_n_jobs(n_jobs), len(X))
        with progress(
            total=len(X) * n_draws, desc=f"{stream} votes", unit="sample", verbose=self.verbose
        ) as bar:
            if n_shards <= 1:
                return count_votes(
                    voter,
                    X,
                    n_draws=n_draws,
                    noise_model=noise_model,
                    seeds=seeds,
                    batch_size=self.batch_size,
                    on_batch=bar.update,
                    soft=soft,
                )
            # Each row's noise depends only on its own seed, so shards change nothing but speed.
            shards = np.array_split(np.arange(len(X)), n_shards)
            counts = []
            for rows, shard_counts in zip(
                shards,
                Parallel(n_jobs=n_jobs, return_as="generator")(
                    delayed(count_votes)(
                        voter,
                        X[rows],
                        n_draws=n_draws,
                        noise_model=noise_model,
                        seeds=[seeds[i] for i in rows],
                        batch_size=self.batch_size,
                        soft=soft,
                    )
                    for rows in shards
                ),
                strict=True,
            ):
                counts.append(shard_counts)
                bar.update(len(rows) * n_draws)
            if soft:
                return ScoreSums(
                    np.concatenate([c.sums for c in counts]),
                    np.concatenate([c.squares for c in counts]),
                    n_draws,
                )
            return np.concatenate(counts)

    # -------------------------------------------------------------- predict

    def predict_proba(self, X):
        """Monte Carlo estimate of the smoothed class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_rows, n_classes)
            Fraction of ``n_samples`` noisy copies of each row that the base
            classifier assigns to each class; with ``smoothing="soft"``, the
            mean of its class probabilities over them.
        """
        check_is_fitted(self)
        self._check_params()
        X = self._validated_rows(X)
        if self.sequential_predict:
            return self._sequential_predictions(X).proba
        counts = self._count_votes(X, "predict", self.n_samples, seed=self._call_seed())
        if isinstance(counts, ScoreSums):
            return counts.probabilities()
        return counts / self.n_samples

    def predict(self, X):
        """Predict the smoothed classifier's class (Cohen et al.'s PREDICT).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to classify.

        Returns
        -------
        labels : ndarray of shape (n_rows,)
            The class with most votes among ``n_samples`` noisy copies of each
            row (the argmax of :meth:`predict_proba`). If ``abstain_label`` is
            set, rows whose top class does not beat the runner-up in a binomial
            test at level ``alpha`` get ``abstain_label``. With
            ``sequential_predict=True``, the class each row's rounds decided, or
            the one with most votes over ``n_samples`` where none did (those
            rows get ``abstain_label`` if set).
        """
        check_is_fitted(self)
        self._check_params()
        X = self._validated_rows(X)
        if self.abstain_label is not None and any(
            c == self.abstain_label for c in self.classes_.tolist()
        ):
            raise ValueError(
                f"abstain_label={self.abstain_label!r} is one of the classes; choose a "
                "label that cannot be confused with a prediction."
            )
        if self.sequential_predict:
            predictions = self._sequential_predictions(X)
            top, abstain = predictions.top, ~predictions.decided
        else:
            counts = self._count_votes(X, "predict", self.n_samples, seed=self._call_seed())
            if isinstance(counts, ScoreSums):
                top, abstain = predict_scores(counts, self.alpha)
            else:
                top, abstain = predict_votes(counts, self.alpha)
        labels = self.classes_[top]
        if self.abstain_label is None:
            return labels
        return _with_abstentions(labels, abstain, self.abstain_label)

    def _sequential_predictions(self, X: np.ndarray):
        """Sequential PREDICT: each row's rounds from its own streams, up to ``n_samples``."""
        seed = self._call_seed()

        def draw(rows, round_index, n_new):
            # Every round has its own per-row stream: independent of the rounds before.
            return self._count_votes(X[rows], f"predict{round_index}", n_new, seed=seed)

        soft = self.smoothing == "soft"
        first = first_round_size(len(self.classes_), self.alpha, soft)
        if self.n_samples < first:
            warnings.warn(
                f"sequential_predict cannot stop any row early with n_samples={self.n_samples}: "
                f"its first round takes {first} samples at alpha={self.alpha:g}. Every row "
                "draws n_samples and is decided by the fixed test at alpha / 2; raise "
                "n_samples, or set sequential_predict=False.",
                UserWarning,
                stacklevel=3,
            )
        predict_rows = sequential_predict_scores if soft else sequential_predict_votes
        return predict_rows(
            draw, len(X), len(self.classes_), n_cap=self.n_samples, alpha=self.alpha
        )

    # -------------------------------------------------------------- certify

    def certify(
        self,
        X,
        y=None,
        *,
        radius=None,
        n_max=None,
        norm=None,
        threshold=None,
        n0=None,
        n=None,
        alpha=None,
        n_jobs=None,
    ) -> CertificationResult:
        """Certify a radius per row (Cohen et al.'s CERTIFY, for any noise).

        ``n0`` noisy samples select the top class; ``n`` new samples bound its
        probability ``pA`` from below at level ``1 - alpha`` (one-sided
        Clopper-Pearson). If the bound exceeds 1/2, the smoothed classifier's
        prediction is certified constant within the noise's radius at that
        bound (Gaussian, L2: ``sigma * Phi^-1(p_lower)``; see
        :mod:`sksmooth.noise` for every formula); otherwise the row abstains
        with radius 0. With probability at least ``1 - alpha`` per row, a
        returned certificate is correct.

        The certified region is ``{delta : ||delta / sigma||_p <= R}`` over
        the noised columns (columns with sigma 0 held fixed). With a scalar
        ``sigma`` the result's ``radius`` is ``sigma * R``, a distance in the
        units of ``X``; with per-column ``sigma`` it is ``R`` itself, unitless.
        :meth:`CertificationResult.per_feature_change` reads it per column.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows to certify.
        y : array-like of shape (n_rows,), default=None
            True labels; when given, the result reports which rows are
            certified with the right label.
        radius : float, default=None
            Decision mode: only decide whether each row is certified at this
            radius (in the units of ``result.radius``). Every class is tested
            at once by betting on the votes (an anytime-valid test, each class
            at level ``alpha / n_classes``), so no selection samples are drawn
            (``n0`` is not used) and a row may stop after any round of votes:
            once certified, or once ``n`` votes could not certify it. Rows
            whose votes nearly all agree stop after the first round (49
            votes at ``alpha = 0.001`` and a radius of one sigma, two
            classes). A row is certified at ``radius`` when
            ``result.radius >= radius``; see the user guide on sequential
            certification. With ``smoothing="soft"`` the mean scores are bet
            on (the first round is then 65 samples at one sigma), and a
            certified row's ``p_lower`` is the probability the radius needs,
            so its radius is ``radius`` itself. Either way ``p_lower`` is
            little above what ``radius`` needs, so with categorical columns
            ``radius_with_categorical_changes(k)`` for ``k >= 1`` is mostly 0:
            certify with a fixed ``n`` for those.
        n_max : int, default=None
            Adaptive mode (when ``radius`` is None): the same rounds up to
            ``n_max``, a row stopping once more samples could add less than
            ``0.05 * sigma`` to its radius. ``result.n_samples`` reports the
            samples each row used.
        norm : {"l2", "l1", "linf"}, default=None
            The norm of the certified region; None takes the noise's own
            (L2 for Gaussian, L1 for Laplace and uniform). Every noise also
            certifies ``"linf"``; another norm it cannot certify is an error.
        threshold : float in (0, 1), default=None
            Two classes only: certify the decision at ``threshold`` instead of
            the top class. The positive class (``classes_[1]``) is the
            decision where its smoothed score (vote share, or mean
            probability with ``smoothing="soft"``) is at or above
            ``threshold``; ``label`` is that decision, and ``radius`` the
            distance within which the score stays on the same side of
            ``threshold`` (Gaussian, L2: ``sigma * (Phi^-1(p_lower) -
            Phi^-1(threshold))`` for the positive side, with
            ``p_lower`` the lower bound of the decided class's score and
            ``1 - threshold`` in place of ``threshold`` for the negative
            side). Rows whose bound does not clear their side's threshold
            abstain. At 1/2 with hard votes this is :meth:`certify` without
            a threshold, bit for bit. Not with ``n_max``. With categorical
            columns, ``radius_with_categorical_changes`` is derived at the
            decided side's threshold too.
        n0, n, alpha, n_jobs : default=None
            Override the estimator's parameters of the same name for this
            call (e.g. a cheaper ``n`` inside a model search).

        Returns
        -------
        result : CertificationResult
            Per-row ``label``, ``radius``, ``p_lower``, ``abstained``,
            ``n_samples`` and, with ``y``, ``correct``; ``norm`` and
            ``sigma`` say which region the radii measure.
        """
        check_is_fitted(self)
        if any(v is not None for v in (n0, n, alpha, n_jobs)):
            overrides = {"n0": n0, "n": n, "alpha": alpha, "n_jobs": n_jobs}
            params = {k: v for k, v in overrides.items() if v is not None}
            # A shallow copy shares the fitted model and leaves self untouched.
            return (
                copy.copy(self)
                .set_params(**params)
                .certify(X, y, radius=radius, n_max=n_max, norm=norm, threshold=threshold)
            )
        self._check_params()
        noise_model = self._noise_model()
        norm = noise_model.noise.check_norm(norm)
        thresholds = class_thresholds(threshold, len(self.classes_))
        soft = self.smoothing == "soft"
        if thresholds is not None and n_max is not None:
            raise ValueError(
                "Adaptive mode (n_max) certifies the top class; certify a threshold with "
                "a fixed n, or decide a radius with radius=."
            )
        if soft and n_max is not None:
            raise ValueError(
                'With smoothing="soft", certify bounds mean scores with a fixed n or, at a '
                "radius, in decision mode (radius=); adaptive mode (n_max=) counts votes. "
                'Give radius= or a fixed n, or use smoothing="hard".'
            )
        X = self._validated_rows(X)
        if y is not None:
            y = column_or_1d(y)
            check_consistent_length(X, y)
            label_indices(self.classes_, y, what="y label")  # unseen labels are a mistake

        if radius is not None:
            if isinstance(radius, bool):
                raise TypeError(f"radius must be a number, got {radius!r}.")
            check_scalar(radius, "radius", numbers.Real, min_val=0)
            if not np.isfinite(radius):
                raise ValueError(f"radius must be finite, got {radius!r}.")
        if n_max is not None:
            check_sample_counts(n_max=n_max)
            if radius is not None:
                raise ValueError("Give radius (decision mode) or n_max (adaptive mode), not both.")

        n_cap = n_max or self.n
        if radius is None:
            _warn_on_small_n(n_cap, self.alpha, noise_model, sequential=n_max is not None)
            largest = largest_radius(
                n_cap,
                self.alpha,
                noise_model,
                norm,
                sequential=n_max is not None,
                threshold=threshold,
                soft=soft,
            )
        else:
            n_classes = len(self.classes_)
            _warn_on_too_few_votes(
                radius, n_cap, n_classes, self.alpha, noise_model, norm, threshold, soft
            )
            largest = largest_decision_radius(
                radius, n_cap, n_classes, self.alpha, noise_model, norm, threshold, soft
            )
        seed = self._call_seed()  # one seed for every stream and look of this call

        def draw_votes(rows, look, n_new):
            # Each round draws fresh samples from its own per-row stream.
            return self._count_votes(X[rows], f"estimate{look}", n_new, seed=seed)

        n_selection = 0 if radius is not None else self.n0
        if radius is not None:
            # Every class is tested at once: no selection samples.
            out = (decide_scores if soft else decide_votes)(
                draw_votes,
                len(X),
                len(self.classes_),
                n_cap=n_cap,
                alpha=self.alpha,
                noise_model=noise_model,
                norm=norm,
                radius=radius,
                threshold=threshold,
            )
        else:
            selection = self._count_votes(X, "select", self.n0, seed=seed)
            if n_max is None:
                estimation = self._count_votes(X, "estimate", self.n, seed=seed)
                certify_rows = certify_scores if soft else certify_votes
                out = certify_rows(
                    selection,
                    estimation,
                    alpha=self.alpha,
                    noise_model=noise_model,
                    norm=norm,
                    threshold=threshold,
                )
            else:
                out = sequential_certify_votes(
                    selection,
                    draw_votes,
                    n_cap=n_cap,
                    alpha=self.alpha,
                    noise_model=noise_model,
                    norm=norm,
                )
        categorical = noise_model.categorical
        # Each row's class must keep its score above its own side's threshold.
        kept_above = 0.5 if thresholds is None else thresholds[out.candidate]
        return CertificationResult(
            label=self.classes_[out.candidate],
            radius=out.radius,
            p_lower=out.p_lower,
            abstained=out.abstained,
            n_samples=out.n_samples,
            n_selection=np.full(len(X), n_selection),
            sigma=noise_model.sigma,
            alpha=float(self.alpha),
            y_true=y,
            norm=norm,
            noise=noise_model.noise.name,
            feature_names=self._feature_names(),
            categorical_radius=noise_model.radii_with_changes(
                out.p_lower, norm, threshold=kept_above
            ),
            categorical_features=None if categorical is None else categorical.columns,
            categorical_noise=None if categorical is None else categorical.probability,
            max_radius=largest,
            threshold=None if threshold is None else float(thresholds[1]),
            smoothing=self.smoothing,
        )

    # ------------------------------------------------------------ attacks

    def __sksmooth_target__(self, *, n_noise_samples=None) -> DifferentiableTarget:
        """The soft smoothed classifier SmoothAdv attacks (Salman et al., 2019).

        The log of the Monte Carlo mean, over ``n_noise_samples`` draws of this
        estimator's noise, of the base net's softmax. Only SmoothAdv asks
        (with ``n_noise_samples``): the majority vote itself has no gradient.
        """
        check_is_fitted(self)
        if n_noise_samples is None:
            raise TypeError(
                "A SmoothedClassifier's prediction is a majority vote with no gradient. "
                "Attack it with sksmooth.attacks.SmoothAdv (PGD on its soft, "
                "differentiable version) or with sksmooth.attacks.RandomSearch."
            )
        if self.is_categorical_.any():
            raise TypeError(
                "SmoothAdv moves every column continuously, and categorical columns hold "
                "codes; it cannot attack a SmoothedClassifier with categorical_features. "
                "Certify it instead: CertificationResult.radius_with_categorical_changes."
            )
        net = unwrap_frozen(self.estimator_)
        if not (isinstance(net, NeuralNet) and hasattr(net, "module_")):
            raise TypeError(
                "SmoothAdv needs a SmoothedClassifier over a skorch net, whose base "
                f"classifier is differentiable; this one smooths {type(net).__name__}. "
                + BLACK_BOX_HINT
            )
        # Logits whatever the net returns (probabilities, or one logit for two classes).
        scores = net_scores(net, len(self.classes_))
        module, noise_model = net.module_, self._noise_model()
        denoiser = getattr(self, "denoiser_", None)
        if denoiser is not None:
            # The gradient flows through the denoiser into the rows: f(D(x + noise)).
            module = nn.ModuleList([denoiser.module_, net.module_])
            net_device, net_dtype = module_device_dtype(net.module_)

        def base_logits(noisy):
            if denoiser is not None:
                noisy = denoiser.module_(noisy).to(device=net_device, dtype=net_dtype)
            return scores.logits(noisy)

        def soft_smoothed(X, bpda, generator):
            unit = torch.empty((n_noise_samples, *X.shape), dtype=X.dtype, device=X.device)
            noise = noise_model.scale_unit_(noise_model.noise.draw_(unit, generator))
            logits = base_logits((X.unsqueeze(0) + noise).flatten(0, 1))
            probabilities = torch.softmax(logits, dim=1).view(n_noise_samples, len(X), -1)
            return torch.log(probabilities.mean(dim=0).clamp_min(1e-12))

        return DifferentiableTarget(soft_smoothed, module, self.classes_, stochastic=True)

    def _feature_names(self) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray(names, dtype=object)


def certify(estimator, X, y=None, **certify_params) -> CertificationResult:
    """Certify rows with a fitted SmoothedClassifier or a pipeline ending in one.

    For a :class:`~sklearn.pipeline.Pipeline`, ``X`` goes through every step
    but the last, and the last step certifies the result: radii are then in
    the input space of that step (after scaling, in scaled units). The result
    remembers how the pipeline's input maps there, so
    :meth:`CertificationResult.per_feature_change` reads each certificate in
    the units of the columns of ``X`` (through StandardScaler, MinMaxScaler,
    RobustScaler, MaxAbsScaler and ColumnTransformers of them).

    Parameters
    ----------
    estimator : SmoothedClassifier, Pipeline or threshold classifier
        Fitted; a pipeline's last step must be a :class:`SmoothedClassifier`.
        A fitted :class:`~sklearn.model_selection.FixedThresholdClassifier`
        or :class:`~sklearn.model_selection.TunedThresholdClassifierCV`
        around either (or around a :class:`~sklearn.frozen.FrozenEstimator`
        of either, the way to tune the threshold of a fitted model) is
        certified at its own threshold: ``label`` is then the decision it
        makes (the positive class where the smoothed score is at or above
        the threshold) and ``radius`` how far it holds.
    X : array-like of shape (n_rows, n_features)
        Rows to certify, as the estimator takes them.
    y : array-like of shape (n_rows,), default=None
        True labels.
    **certify_params
        ``radius``, ``n_max``, ``norm``, ``threshold``, ``n0``, ``n``,
        ``alpha`` or ``n_jobs`` for :meth:`SmoothedClassifier.certify`.

    Returns
    -------
    result : CertificationResult
        The per-row certificates.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sksmooth import SmoothedClassifier, certify
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), SmoothedClassifier(
    ...     LogisticRegression(), n=500, random_state=0)).fit(X, y)
    >>> len(certify(pipe, X[:5], y[:5], n=200))
    5
    """
    estimator, certify_params = _at_decision_threshold(_unfrozen(estimator), certify_params)
    estimator = _unfrozen(estimator)
    final = final_step(estimator)
    if not isinstance(final, SmoothedClassifier):
        hint = (
            " For a fitted model search, pass its best_estimator_."
            if hasattr(estimator, "best_estimator_")
            else ""
        )
        raise TypeError(
            f"{type(estimator).__name__} cannot certify: pass a fitted SmoothedClassifier "
            f"or a pipeline whose last step is one.{hint}"
        )
    final, X_final, preprocessing = split_pipeline(estimator, X)
    result = final.certify(X_final, y, **certify_params)
    if preprocessing is None:
        return result
    return replace(result, feature_map=feature_map(preprocessing, X))


def _unfrozen(estimator):
    """The model inside a :class:`~sklearn.frozen.FrozenEstimator` (how a fitted model is
    handed to a threshold tuner), else the estimator itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _at_decision_threshold(estimator, certify_params: dict) -> tuple:
    """A threshold classifier's inner model, and its threshold added to the certify parameters.

    Other estimators come back as they are.
    """
    if not isinstance(estimator, (FixedThresholdClassifier, TunedThresholdClassifierCV)):
        return estimator, certify_params
    name = type(estimator).__name__
    if not hasattr(estimator, "estimator_"):
        raise NotFittedError(f"This {name} is not fitted yet: fit it before certifying.")
    if isinstance(estimator, TunedThresholdClassifierCV):
        threshold = float(estimator.best_threshold_)
        # Its positive class is its scorer's (sklearn keeps it there).
        scorer = getattr(estimator, "_curve_scorer", None)
        pos_label = scorer._get_pos_label() if hasattr(scorer, "_get_pos_label") else None
    else:
        threshold = 0.5 if estimator.threshold == "auto" else estimator.threshold
        pos_label = estimator.pos_label
    if estimator.response_method not in ("auto", "predict_proba"):
        raise ValueError(
            f"{name}(response_method={estimator.response_method!r}) thresholds a score "
            "a SmoothedClassifier does not certify; use response_method='predict_proba'."
        )
    classes = estimator.classes_
    if pos_label is not None and pos_label != classes[-1]:
        raise ValueError(
            f"{name} takes pos_label={pos_label!r} as positive; certificates at a threshold "
            f"are for the second class, {classes[-1]!r}. Leave pos_label unset (its default)."
        )
    given = certify_params.get("threshold")
    if given is not None and given != threshold:
        raise ValueError(
            f"threshold={given!r} was given, but the {name} decides at {threshold!r}; "
            "give neither, or the same."
        )
    return estimator.estimator_, {**certify_params, "threshold": threshold}


def _seed_random_states(estimator, seed: int) -> None:
    """Give every unseeded ``random_state`` of the (cloned) base estimator a seed.

    So a fixed ``random_state`` makes a random forest or an MLP base as
    reproducible as the noise; seeds the user set are kept.
    """
    rng = np.random.default_rng(seed)
    params = {
        name: int(rng.integers(np.iinfo(np.int32).max))
        for name, value in sorted(estimator.get_params(deep=True).items())
        if (name == "random_state" or name.endswith("__random_state"))
        and (value is None or isinstance(value, np.random.RandomState))
    }
    if params:
        estimator.set_params(**params)


def _base_takes_sample_weight(estimator) -> bool:
    """Whether ``fit`` passes ``sample_weight`` on to ``estimator`` (not frozen, not a net)."""
    if isinstance(estimator, (FrozenEstimator, NeuralNet)):
        return False
    try:
        return has_fit_parameter(estimator, "sample_weight")
    except (TypeError, ValueError):  # no inspectable fit: fit itself names the problem
        return True


def _checked_sample_weight(sample_weight, X: np.ndarray, inner) -> np.ndarray:
    """Validate sample weights, and that the base estimator can use them."""
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.ndim == 0:
        weight = np.full(len(X), float(weight))
    if weight.shape != (len(X),):
        raise ValueError(
            f"sample_weight must have shape ({len(X)},), one weight per row; got {weight.shape}."
        )
    if not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if isinstance(inner, NeuralNet):
        raise ValueError(
            "skorch nets do not take sample_weight; weight the classes in the loss "
            'instead with class_weight, e.g. class_weight={"fraud": 20, "legit": 1}.'
        )
    if not has_fit_parameter(inner, "sample_weight"):
        raise ValueError(f"{type(inner).__name__}.fit does not accept sample_weight.")
    return weight


def _class_sample_weight(
    weights: np.ndarray, y_encoded: np.ndarray, sample_weight: np.ndarray | None, inner
) -> np.ndarray:
    """Each row's class weight, times its sample weight: class_weight for non-net bases."""
    if not has_fit_parameter(inner, "sample_weight"):
        raise ValueError(
            f"class_weight reaches {type(inner).__name__} as sample weights, and its fit "
            "does not accept sample_weight; set the base estimator's own class_weight "
            "instead, if it has one."
        )
    row_weight = weights[y_encoded]
    return row_weight if sample_weight is None else row_weight * sample_weight


def _warn_if_fitted(inner) -> None:
    """A fitted base estimator passed as is would be retrained: say how to keep it."""
    if is_fitted(inner):
        warnings.warn(
            f"The base estimator ({type(inner).__name__}) is already fitted: fit clones it "
            "and trains the clone under noise from scratch, so its training is not used. "
            "To smooth the fitted model as it is, wrap it in "
            "sklearn.frozen.FrozenEstimator(model).",
            UserWarning,
            stacklevel=3,
        )


# Below this largest radius (in sigmas, in the noise's own norm) a sample count
# certifies next to nothing, whatever the model.
USEFUL_RADIUS_IN_SIGMAS = 0.1


def _warn_on_small_n(n: int, alpha: float, noise_model: NoiseModel, sequential: bool) -> None:
    """Warn when ``n`` samples at ``alpha`` cannot certify even a tenth of sigma.

    Read in the noise's own norm (L2 for Gaussian, L1 for Laplace and
    uniform), whose radius in sigmas does not depend on the number of
    columns, so the warning is about ``n`` and not about the norm asked for.
    """
    norm = noise_model.noise.default_norm
    largest = largest_radius(n, alpha, noise_model, norm, sequential=sequential, in_sigmas=True)
    if largest >= USEFUL_RADIUS_IN_SIGMAS:
        return
    needed = ", ".join(
        f"n >= {samples_for_radius(r, alpha, noise_model, norm)} for {r:g} sigma"
        for r in (0.5, 1.0)
    )
    warnings.warn(
        f"With n={n} samples at alpha={alpha:g} no certificate can exceed "
        f"{largest:.2g} sigma ({norm.upper()}), even when every vote agrees: radii this small "
        f"certify next to nothing, whatever the certified accuracy at radius 0 says. "
        f"Certify with more samples: {needed}.",
        UserWarning,
        stacklevel=3,
    )


def _warn_on_too_few_votes(
    radius: float,
    n_cap: int,
    n_classes: int,
    alpha: float,
    noise_model,
    norm: str,
    threshold=None,
    soft: bool = False,
) -> None:
    """Decision mode: warn when ``n`` votes could not certify ``radius`` even all agreeing."""
    needed = decision_votes_needed(radius, n_classes, alpha, noise_model, norm, threshold, soft)
    if needed <= n_cap:
        return
    how = "no number of votes can" if needed == math.inf else f"it takes n >= {needed} to"
    warnings.warn(
        f"With n={n_cap} votes at alpha={alpha:g} no row can be certified at "
        f"radius={radius:g}, even when every vote agrees: {how} certify it.",
        UserWarning,
        stacklevel=3,
    )


def _refuse_nested_net(inner) -> None:
    """A skorch net inside a pipeline or a model search: say where it belongs."""
    if isinstance(inner, NeuralNet) or not hasattr(inner, "get_params"):
        return
    nested = any(isinstance(v, NeuralNet) for v in inner.get_params(deep=True).values())
    if nested:
        raise TypeError(
            f"The skorch net is inside a {type(inner).__name__}: SmoothedClassifier trains "
            "and votes with the net itself (noise in every batch, rows in the module's "
            "dtype). Make the net the direct estimator, and put the rest outside: "
            "make_pipeline(StandardScaler(), SmoothedClassifier(net)), or "
            "GridSearchCV(SmoothedClassifier(net), {'estimator__lr': [...]})."
        )


def _check_net_device(inner) -> None:
    """A skorch net asking for CUDA where torch has none: say so, naming ``device``."""
    device = getattr(inner, "device", None) if isinstance(inner, NeuralNet) else None
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"The skorch net has device={device!r}, but this torch has no CUDA device "
            "(a CPU build, or no GPU visible); use device='cpu'."
        )


def _with_abstentions(labels: np.ndarray, abstain: np.ndarray, abstain_label) -> np.ndarray:
    """Replace abstaining rows' labels, keeping every label's own type.

    Numbers stay numbers, booleans booleans and strings strings; a mix (string
    or bool classes with ``abstain_label=-1``, say) becomes an object array.
    """
    marker = np.asarray(abstain_label)
    numeric = "iuf"  # bool is not: True/False with -1 would become 1/0/-1
    same_kind = (labels.dtype.kind in numeric and marker.dtype.kind in numeric) or (
        labels.dtype.kind == marker.dtype.kind and labels.dtype.kind in "bU"
    )
    out = labels.astype(np.result_type(labels.dtype, marker.dtype) if same_kind else object)
    out[abstain] = abstain_label
    return out
