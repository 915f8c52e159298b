"""fit's signature shows sample_weight per instance, and fit still takes it."""

import inspect
import pickle

from sksmooth.utils._fit_signature import fit_signature_follows


class Model:
    def __init__(self, weighted):
        self.weighted = weighted

    @fit_signature_follows(lambda model: model.weighted)
    def fit(self, X, y, sample_weight=None):
        """Fit."""
        self.seen_ = sample_weight
        return self


def test_signature_follows_the_instance():
    assert list(inspect.signature(Model(True).fit).parameters) == ["X", "y", "sample_weight"]
    assert list(inspect.signature(Model(False).fit).parameters) == ["X", "y"]
    assert list(inspect.signature(Model.fit).parameters) == ["self", "X", "y", "sample_weight"]


def test_hidden_weights_still_reach_fit():
    model = Model(False)
    assert model.fit(1, 2, sample_weight=3).seen_ == 3
    assert model.fit(1, 2).seen_ is None


def test_the_method_keeps_its_name_and_docstring_and_pickles():
    for model in (Model(True), Model(False)):
        assert model.fit.__name__ == "fit"
        assert model.fit.__doc__ == "Fit."
    assert pickle.loads(pickle.dumps(Model(False))).weighted is False
