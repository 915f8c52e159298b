"""Progress bars of the attacks: silent unless asked for, and never changing a result."""

import contextlib
import io

import numpy as np
import pytest
from tqdm.std import tqdm

from sksmooth._progress import progress
from sksmooth.attacks import BPDA, EOT, FGSM, PGD, RandomSearch, SmoothAdv, _base


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal, so tqdm draws its bar."""

    def isatty(self):
        return True


@contextlib.contextmanager
def in_a_terminal():
    # Redirected inside the test body: pytest resets sys.stderr between setup and call.
    screen = Terminal()
    with contextlib.redirect_stderr(screen):
        yield screen


ATTACKS = {
    "pgd": lambda verbose: PGD(0.5, steps=4, restarts=2, random_state=0, verbose=verbose),
    "randomsearch": lambda verbose: RandomSearch(
        0.5, norm="l2", n_queries=6, random_state=0, verbose=verbose
    ),
}


@pytest.mark.parametrize(
    "attack_class", [PGD, FGSM, BPDA, EOT, SmoothAdv, RandomSearch], ids=lambda c: c.__name__
)
def test_verbose_is_a_parameter_off_by_default(attack_class):
    assert attack_class(0.1).verbose == 0
    attack = attack_class(0.1, verbose=2)
    assert attack.verbose == 2
    assert "verbose=2" in repr(attack)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (0.5, TypeError), ("yes", TypeError)])
def test_bad_verbose_raises(bad, error, net, data):
    with pytest.raises(error, match="verbose"):
        PGD(0.1, steps=1, verbose=bad).generate(net, *data)


@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize("verbose", [0, 1])
def test_nothing_written_outside_a_terminal(name, verbose, net, data, capfd):
    # Under pytest stderr is no terminal: tqdm stays silent even when asked to show.
    ATTACKS[name](verbose).generate(net, *data)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize("name", ATTACKS)
def test_verbose_zero_is_silent_in_a_terminal(name, net, data):
    with in_a_terminal() as screen:
        ATTACKS[name](0).generate(net, *data)
    assert screen.getvalue() == ""


@pytest.fixture
def bars(monkeypatch):
    """Every progress bar the attacks create, with whether it was shown when created
    (closing a bar disables it)."""
    created = []

    def recording(*args, **kwargs):
        bar = progress(*args, **kwargs)
        # A disabled bar may be a silent stand-in rather than a tqdm bar.
        bar.shown = isinstance(bar, tqdm) and not bar.disable
        created.append(bar)
        return bar

    monkeypatch.setattr(_base, "progress", recording)
    return created


def test_pgd_counts_every_step_of_every_restart(net, data, bars):
    with in_a_terminal() as screen:
        ATTACKS["pgd"](1).generate(net, *data)
    (bar,) = bars
    assert bar.shown
    # restarts * steps = 8 steps in all, each counted once.
    assert bar.total == 8 and bar.n == 8
    assert bar.desc.startswith("PGD") and bar.unit == "step"
    assert "PGD:   0%" in screen.getvalue() and "0/8" in screen.getvalue()


def test_random_search_counts_its_queries(net, data, bars):
    with in_a_terminal() as screen:
        attack = ATTACKS["randomsearch"](1)
        attack.generate(net, *data)
    (bar,) = bars
    assert bar.shown and bar.unit == "query" and bar.total == 6
    # One step per round of queries, stopping early once every row is fooled.
    assert bar.n == attack.n_queries_.max()
    assert "RandomSearch" in screen.getvalue() and "0/6" in screen.getvalue()


def test_eot_names_its_bar(stochastic, data, bars):
    with in_a_terminal() as screen:
        EOT(0.5, n_samples=2, steps=3, random_state=0, verbose=1).generate(stochastic, *data)
    assert bars[0].n == 3
    assert "EOT" in screen.getvalue()


def test_verbose_zero_disables_the_bar_outright(net, data, bars):
    with in_a_terminal():
        ATTACKS["pgd"](0).generate(net, *data)
    (bar,) = bars
    assert not bar.shown


@pytest.mark.parametrize("name", ATTACKS)
def test_same_result_with_and_without_progress(name, net, data):
    silent = ATTACKS[name](0).generate(net, *data)
    with in_a_terminal() as screen:
        shown = ATTACKS[name](1).generate(net, *data)
    assert screen.getvalue() != ""  # the bar really ran
    np.testing.assert_array_equal(silent, shown)


def test_same_result_with_and_without_progress_on_a_random_defence(stochastic, data):
    def attack(verbose):
        return EOT(0.5, n_samples=2, steps=3, random_state=0, verbose=verbose)

    silent = attack(0).generate(stochastic, *data)
    with in_a_terminal():
        shown = attack(1).generate(stochastic, *data)
    np.testing.assert_array_equal(silent, shown)
