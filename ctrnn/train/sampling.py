"""Training modes for models whose output is fed back as their next input (sequence
generation): teacher forcing, free running and scheduled sampling (Bengio, Vinyals,
Jaitly & Shazeer 2015).

A task for such a model carries the ground truth of the fed-back outputs in its **last
n_outputs input channels**: input sample t holds the true value of output t - 1 (for
next-step prediction of a series s: inputs s_t, targets s_{t+1}). During training, at
iteration i and for every trial and step t >= 1 independently, that truth is fed with
probability eps_i; otherwise the model's own previous output y_{t-1} = C h_t + c takes
its place. Teacher forcing is eps = 1, free running eps = 0.

**Gradient.** A fed-back model output is treated as a given input: the gradient does not
flow back through it (as in Bengio et al. 2015, whose sampled tokens are not
differentiated). So with eps = 1 and eps = 0 scheduled sampling gives exactly the
gradients of teacher forcing and free running.

The probability schedules of Bengio et al. (2015), for iteration i:

- linear: eps_i = max(eps_min, k - c i);
- exponential: eps_i = k^i, k < 1;
- inverse sigmoid: eps_i = k / (k + exp(i / k)), k >= 1.

>>> import ctrnn
>>> mode = ctrnn.train.scheduled_sampling("inverse_sigmoid", k=100)
>>> round(mode.eps(0), 4), round(mode.eps(1000), 4)
(0.9901, 0.0045)
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import _seeding
from .._validation import nonnegative_scalar, scalar

__all__ = ["Feedback", "teacher_forcing", "free_running", "scheduled_sampling", "linear",
           "exponential", "inverse_sigmoid"]


@dataclass(frozen=True)
class linear:
    """eps_i = max(eps_min, k - c i) (Bengio et al. 2015).

    Parameters
    ----------
    k : float
        Start, in [0, 1] (1: begin with pure teacher forcing).
    c : float
        Decrease per iteration, >= 0.
    eps_min : float
        Floor, in [0, 1].

    Raises
    ------
    ValueError
        If a value is out of its range.

    Examples
    --------
    >>> from ctrnn.train import sampling
    >>> sampling.linear(k=1.0, c=0.01, eps_min=0.2)(50)
    0.5
    """

    k: float = 1.0
    c: float = 1e-3
    eps_min: float = 0.0

    def __post_init__(self):
        _unit("k", self.k)
        nonnegative_scalar("c", self.c)
        _unit("eps_min", self.eps_min)

    def __call__(self, i):
        return max(self.eps_min, self.k - self.c * i)


@dataclass(frozen=True)
class exponential:
    """eps_i = k^i with 0 < k < 1 (Bengio et al. 2015).

    Raises
    ------
    ValueError
        If k is not in (0, 1).

    Examples
    --------
    >>> from ctrnn.train import sampling
    >>> sampling.exponential(k=0.5)(3)
    0.125
    """

    k: float = 0.999

    def __post_init__(self):
        if not _real(self.k) or not 0.0 < self.k < 1.0:
            raise ValueError(f"k={self.k!r}: the exponential schedule k^i needs 0 < k < 1 "
                             "(e.g. 0.999)")

    def __call__(self, i):
        return self.k ** i


@dataclass(frozen=True)
class inverse_sigmoid:
    """eps_i = k / (k + exp(i / k)) with k >= 1 (Bengio et al. 2015).

    Raises
    ------
    ValueError
        If k < 1.

    Examples
    --------
    >>> from ctrnn.train import sampling
    >>> round(sampling.inverse_sigmoid(k=10)(0), 4)
    0.9091
    """

    k: float = 100.0

    def __post_init__(self):
        if not _real(self.k) or not 1.0 <= self.k < math.inf:
            raise ValueError(f"k={self.k!r}: the inverse sigmoid schedule needs k >= 1 "
                             "(eps_i falls to 1/2 near i = k log k)")

    def __call__(self, i):
        x = i / self.k
        return self.k / (self.k + math.exp(x)) if x < 700 else 0.0


_SCHEDULES = {"linear": linear, "exponential": exponential,
              "inverse_sigmoid": inverse_sigmoid}


def _real(v):
    v = scalar(v)
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _unit(name, v):
    if not _real(v) or not 0.0 <= scalar(v) <= 1.0:
        raise ValueError(f"{name}={v!r} must be a probability in [0, 1]")
    return v


@dataclass(frozen=True)
class Feedback:
    """How the fed-back input channels are filled while training (see the module
    docstring): ``schedule(i)`` is the probability eps_i of feeding the truth at
    iteration i. Make one with ``scheduled_sampling``, or take one of the two fixed
    modes: ``teacher_forcing`` (eps = 1: always the truth) and ``free_running``
    (eps = 0: always the model's own previous output).

    A task for feedback holds, in its last n_outputs input channels, the previous
    target (input t = target t - 1, as ``ctrnn.tasks.sequence_prediction`` makes);
    ``fit`` warns when it does not, since those channels are the ones replaced.
    """

    name: str
    schedule: object

    def eps(self, i):
        """The probability of feeding the ground truth at iteration ``i``.

        Raises
        ------
        ValueError
            If the schedule returns a number outside [0, 1].
        """
        e = float(self.schedule(i))
        if not 0.0 <= e <= 1.0:
            raise ValueError(f"the schedule gave eps={e} at iteration {i}: a schedule must "
                             "return a probability in [0, 1]")
        return e

    def take(self, ss, it, B, T, eps=None):
        """(B, T) bool: where the truth is fed at iteration ``it`` (seeded by (seed,
        it): a training run repeats exactly); ``eps``: the probability, when the caller
        has evaluated the schedule already."""
        e = self.eps(it) if eps is None else eps
        if e >= 1.0:
            return np.ones((B, T), bool)
        if e <= 0.0:
            return np.zeros((B, T), bool)
        rng = np.random.default_rng(_seeding.child(ss, _seeding.SAMPLING, it))
        return rng.random((B, T)) < e


@dataclass(frozen=True)
class _Constant:
    value: float

    def __call__(self, i):
        return self.value


teacher_forcing = Feedback("teacher_forcing", _Constant(1.0))
free_running = Feedback("free_running", _Constant(0.0))


def scheduled_sampling(schedule="inverse_sigmoid", **params):
    """Scheduled sampling (Bengio et al. 2015): at iteration i each fed-back input of
    each trial and step is the ground truth with probability eps_i, else the model's own
    previous output. The gradient does not flow through fed-back outputs.

    Parameters
    ----------
    schedule : {"linear", "exponential", "inverse_sigmoid"} or callable
        The decay of eps_i, or any function of the iteration returning a probability.
    **params
        The schedule's parameters and their defaults: linear k=1.0, c=1e-3,
        eps_min=0.0; exponential k=0.999; inverse_sigmoid k=100.0 (which starts at
        eps_0 = k / (k + 1) = 0.990, not 1, and falls to 1/2 near i = k ln k = 461).

    Returns
    -------
    Feedback
        Give it to ``ctrnn.train.fit(..., feedback=...)``.

    Raises
    ------
    ValueError
        If the schedule is unknown or a parameter out of range.
    TypeError
        If a parameter is unknown for the schedule.

    Examples
    --------
    >>> import ctrnn
    >>> mode = ctrnn.train.scheduled_sampling("linear", k=1.0, c=0.001, eps_min=0.1)
    >>> mode.eps(0), mode.eps(2000)
    (1.0, 0.1)
    """
    if callable(schedule):
        if params:
            raise TypeError("a callable schedule takes no parameters here: bind them in "
                            "the function")
        return Feedback("scheduled_sampling", schedule)
    if schedule not in _SCHEDULES:
        raise ValueError(f"schedule={schedule!r}: give one of {sorted(_SCHEDULES)} or a "
                         "function of the iteration")
    fields = list(_SCHEDULES[schedule].__dataclass_fields__)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise TypeError(f"schedule={schedule!r} takes {fields}; got {unknown}")
    return Feedback(f"scheduled_sampling({schedule})", _SCHEDULES[schedule](**params))


def _as_feedback(feedback):
    """None, "teacher_forcing", "free_running" or a Feedback -> Feedback or None
    (TypeError otherwise)."""
    if feedback is None or isinstance(feedback, Feedback):
        return feedback
    named = {"teacher_forcing": teacher_forcing, "free_running": free_running}
    if isinstance(feedback, str) and feedback in named:
        return named[feedback]
    raise TypeError(f"feedback={feedback!r}: give ctrnn.train.teacher_forcing, "
                    "free_running or scheduled_sampling(...)")

