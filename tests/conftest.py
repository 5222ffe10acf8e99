import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_net_params(n, g, rng, n_in=0):
    W = rng.normal(0, g / np.sqrt(n), (n, n))
    U = rng.normal(0, 1, (n, n_in))
    b = rng.normal(0, 0.1, n)
    return W, U, b
