"""Optimisers as pairs of pure functions (optax's design): ``init(params) -> state`` and
``update(grads, state, params) -> (params, state)``. Parameters, gradients and state are
dicts of float64 arrays plus the step count, so a checkpoint holds them as data and a
resumed run repeats the uninterrupted one bit for bit.

The learning rate ``lr`` is a number or a schedule: a function of the step i (0, 1, ...)
returning the rate, e.g. ``exponential_decay(1e-3, 0.5, 1000)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import positive_scalar

__all__ = ["Adam", "SGD", "clip_by_global_norm", "global_norm", "exponential_decay"]


def _rate(lr, step):
    return float(lr(step)) if callable(lr) else float(lr)


def _check_lr(lr):
    if not callable(lr):
        positive_scalar("lr (or a schedule lr(step))", lr)


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1, with their defaults):
    m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
    theta <- theta - lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t),
    v_hat = v / (1 - b2^t), t = 1, 2, ...

    Parameters
    ----------
    lr : float or callable
        Learning rate, or a schedule lr(step) (step = 0, 1, ...).
    beta1, beta2 : float
        Decay rates of the moment estimates, in [0, 1).
    eps : float
        Added to sqrt(v_hat).

    Raises
    ------
    TypeError
        If a number is given as something else (a string, None).
    ValueError
        If lr is not > 0 (or a callable), beta1/beta2 not in [0, 1), or eps < 0.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train import Adam
    >>> opt = Adam(lr=0.1)
    >>> p = {"w": np.array([1.0])}
    >>> state = opt.init(p)
    >>> p, state = opt.update({"w": np.array([2.0])}, state, p)
    >>> p["w"]  # the first step moves by lr, whatever the gradient's size
    array([0.9])
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        _check_lr(self.lr)
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1); got {v!r}")
        if not self.eps >= 0:
            raise ValueError(f"eps must be >= 0; got {self.eps!r}")

    def init(self, params):
        """The state for ``params``: zero moments, step 0.

        Returns
        -------
        dict
            {"step": 0, "m": {name: zeros}, "v": {name: zeros}}.
        """
        return {"step": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
                "v": {k: np.zeros_like(v) for k, v in params.items()}}

    def update(self, grads, state, params):
        """One step: new parameters and state (the inputs are not modified).

        Returns
        -------
        params, state : dict
        """
        t = state["step"] + 1
        lr = _rate(self.lr, state["step"])
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        m, v, new = {}, {}, {}
        for k, p in params.items():
            g = grads[k]
            m[k] = b1 * state["m"][k] + (1.0 - b1) * g
            v[k] = b2 * state["v"][k] + (1.0 - b2) * (g * g)
            new[k] = p - lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + self.eps)
        return new, {"step": t, "m": m, "v": v}


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum, as torch.optim.SGD:
    u <- momentum u + g, theta <- theta - lr u (plain SGD for momentum 0).

    Parameters
    ----------
    lr : float or callable
        Learning rate, or a schedule lr(step).
    momentum : float
        In [0, 1).

    Raises
    ------
    TypeError
        If a number is given as something else (a string, None).
    ValueError
        If lr is not > 0 (or a callable) or momentum not in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train import SGD
    >>> opt = SGD(lr=0.5)
    >>> p = {"w": np.array([1.0])}
    >>> opt.update({"w": np.array([1.0])}, opt.init(p), p)[0]["w"]
    array([0.5])
    """

    lr: float = 1e-2
    momentum: float = 0.0

    def __post_init__(self):
        _check_lr(self.lr)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum!r}")

    def init(self, params):
        """The state for ``params``: zero velocity, step 0.

        Returns
        -------
        dict
            {"step": 0, "u": {name: zeros}}.
        """
        return {"step": 0, "u": {k: np.zeros_like(v) for k, v in params.items()}}

    def update(self, grads, state, params):
        """One step: new parameters and state.

        Returns
        -------
        params, state : dict
        """
        lr = _rate(self.lr, state["step"])
        u = {k: self.momentum * state["u"][k] + grads[k] for k in params}
        return ({k: p - lr * u[k] for k, p in params.items()},
                {"step": state["step"] + 1, "u": u})


def global_norm(grads):
    """sqrt of the sum of squares of every gradient array.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train import global_norm
    >>> global_norm({"a": np.array([3.0]), "b": np.array([4.0])})
    5.0
    """
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_by_global_norm(grads, max_norm):
    """Gradients rescaled so that their global norm is at most ``max_norm`` (Pascanu,
    Mikolov & Bengio 2013), and the norm before clipping.

    Returns
    -------
    grads : dict
    norm : float

    Raises
    ------
    TypeError
        If a number is given as something else (a string, None).
    ValueError
        If max_norm is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train import clip_by_global_norm
    >>> g, n = clip_by_global_norm({"a": np.array([3.0, 4.0])}, 1.0)
    >>> g["a"], n
    (array([0.6, 0.8]), 5.0)
    """
    positive_scalar("clip_grad_norm", max_norm)
    n = global_norm(grads)
    if n > max_norm:
        f = max_norm / n
        grads = {k: g * f for k, g in grads.items()}
    return grads, n


def exponential_decay(lr, rate, every):
    """The schedule lr * rate ** (step / every).

    Returns
    -------
    callable
        step -> learning rate.

    Raises
    ------
    TypeError
        If a number is given as something else (a string, None).
    ValueError
        If lr, rate or every is not > 0.

    Examples
    --------
    >>> from ctrnn.train import exponential_decay
    >>> exponential_decay(1e-2, 0.5, 100)(200)
    0.0025
    """
    for name, v in (("lr", lr), ("rate", rate), ("every", every)):
        positive_scalar(name, v)
    return _ExponentialDecay(lr, rate, every)


@dataclass(frozen=True)
class _ExponentialDecay:
    """lr * rate ** (step / every) as data: its repr names the numbers, so a checkpoint
    recognises the schedule in a new process (a lambda's repr is its address)."""

    lr: float
    rate: float
    every: float

    def __call__(self, step):
        return self.lr * self.rate ** (step / self.every)
