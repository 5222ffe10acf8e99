"""Training rate networks by backpropagation through time, on the simulator's own
kernels: exact gradients of the discretised network (a hand-written discrete adjoint of
every fixed-step method), parametrised constraints (Dale's law, masks, low rank), Adam
and SGD, losses with masks, checkpoints that resume bit for bit. A trained network is a
``RateNetwork``: simulate and analyse it like any other. The LSTM (``LSTM``, in
``torch.nn.LSTM``'s layout) trains with the same ``fit``; sequence models learn with
output feedback by teacher forcing, free running or scheduled sampling, and run closed
loop with ``generate``. Catastrophic interference is measured against its first- and
second-order predictions (``interference``, from the Gauss-Newton matrix of
``curvature``), and reduced by ``ewc``, ``orthogonal_projection`` or ``replay``
(``fit(..., remedy=)``). FORCE learning (``force``) trains a fed-back readout of a chaotic
network online by recursive least squares, inside the simulation loop; ``fit_activity``
fits a network's recurrent weights to recorded rates the same way (PINning, CURBD).

>>> import numpy as np, ctrnn
>>> task = ctrnn.tasks.flipflop(64, n_bits=2, seed=0)
>>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(30, g=0.9, seed=0),
...                         U=np.zeros((30, 2)), tau=0.1)
>>> g = ctrnn.train.gradient(net, ctrnn.train.Readout.random(2, 30, seed=0), task)
>>> g["W"].shape
(30, 30)
"""
from . import curvature, losses, sampling
from .continual import ewc, orthogonal_projection, replay
from .fit import Model, fit, gradient, gradient_norms
from .force import fit_activity, force
from .interference import interference
from .generate import generate
from .lstm import LSTM
from .optim import SGD, Adam, clip_by_global_norm, exponential_decay, global_norm
from .params import Readout
from .sampling import free_running, scheduled_sampling, teacher_forcing

__all__ = ["fit", "gradient", "gradient_norms", "Model", "Readout", "LSTM", "generate",
           "teacher_forcing", "free_running", "scheduled_sampling", "Adam", "SGD",
           "clip_by_global_norm", "global_norm", "exponential_decay", "interference", "ewc",
           "orthogonal_projection", "replay", "force", "fit_activity", "losses", "sampling", "curvature"]
