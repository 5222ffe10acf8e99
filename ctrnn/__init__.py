"""ctrnn: continuous-time recurrent neural networks, simulated fast with Numba.

    tau dh/dt = -h + phi(W h + U x(t) + b)

>>> import ctrnn
>>> W = ctrnn.connectivity.gaussian(100, g=1.5, seed=0)
>>> ds = ctrnn.simulate(ctrnn.RateNetwork(W, tau=1.0), duration=10.0, dt=0.1,
...                     h0="random", seed=1)
>>> ds.h.shape
(101, 100)
"""
from ._version import __version__

from . import analysis, connectivity, esn, integrators, nonlinearities, plasticity, tasks, train
from . import accessor  # registers the ds.ctrnn / da.ctrnn accessor on import
from .network import RateNetwork
from .nonlinearities import Phi, get_phi
from .plasticity import STP
from .io import open_run
from .simulate import simulate
from .sweep import sweep

__all__ = ["RateNetwork", "STP", "simulate", "sweep", "open_run", "analysis", "connectivity", "esn",
           "integrators", "nonlinearities", "plasticity", "tasks", "train", "Phi", "get_phi",
           "__version__"]
