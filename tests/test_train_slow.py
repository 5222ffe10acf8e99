"""Trained networks do their tasks (minutes; ``python -m pytest -m slow
tests/test_train_slow.py``)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ctrnn

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dale_network_learns_perceptual_decisions_to_criterion():
    """Song, Yang & Wang (2016): a Dale 80:20 network reaches >= 85 % on held-out
    trials (the ideal observer of this task is ~90 %)."""
    ds, model = _load("train_decision").run(iterations=1500)
    assert ds.attrs["accuracy"] >= 0.85
    assert ds.attrs["accuracy"] <= ds.attrs["ideal_observer_accuracy"] + 0.02
    W = np.array(model.network.W)
    assert np.all(W[:, :80] >= 0) and np.all(W[:, 80:] <= 0)  # Dale's law held
    # the psychometric curve rises with the signed coherence
    p = ds.p_choice_2.values
    assert p[0] < 0.1 and p[-1] > 0.9 and np.all(np.diff(p) >= -0.1)
