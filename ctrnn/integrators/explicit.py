"""The methods ``simulate`` offers: tableaux plus the formulas of how each one is stepped.

Adding a fixed-step Runge-Kutta method is adding a tableau here; adding an adaptive one
is adding an embedded pair with its error weights and dense output (``BS3`` below). The
generic kernels in ``ctrnn._kernels.rk`` run them, chosen by ``Method.kind`` in
``ctrnn._engine``.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .controllers import PIController
from .tableau import ButcherTableau

EULER = ButcherTableau("euler", A=[[0.0]], b=[1.0], c=[0.0], order=1)

HEUN = ButcherTableau("heun", A=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=2)

RK4 = ButcherTableau(
    "rk4",
    A=[[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]],
    b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    c=[0, 0.5, 0.5, 1],
    order=4,
)

# Dormand & Prince (1980), 7 stages with first-same-as-last; coefficients, error weights
# and the dense-output matrix as in scipy.integrate._ivp.rk.RK45.
_DP_B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0]
DOPRI5 = ButcherTableau(
    "dopri5",
    A=[
        [0, 0, 0, 0, 0, 0, 0],
        [1 / 5, 0, 0, 0, 0, 0, 0],
        [3 / 40, 9 / 40, 0, 0, 0, 0, 0],
        [44 / 45, -56 / 15, 32 / 9, 0, 0, 0, 0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0, 0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0, 0],
        _DP_B,
    ],
    b=_DP_B,
    c=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
    order=5,
    error_order=4,
    e=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
    P=[
        [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
        [0, 0, 0, 0],
        [0, 131558114200 / 32700410799, -68118460800 / 10900136933,
         87487479700 / 32700410799],
        [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
        [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
         701980252875 / 199316789632],
        [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
        [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
    ],
)



# Bogacki & Shampine (1989), a 3(2) pair with first-same-as-last: 4 stages (3 new
# evaluations a step), error weights and cubic Hermite dense output as in
# scipy.integrate._ivp.rk.RK23. Added as data only: the adaptive kernel reads it.
_BS_B = [2 / 9, 1 / 3, 4 / 9, 0]
BS3 = ButcherTableau(
    "bs3",
    A=[[0, 0, 0, 0], [1 / 2, 0, 0, 0], [0, 3 / 4, 0, 0], _BS_B],
    b=_BS_B,
    c=[0, 1 / 2, 3 / 4, 1],
    order=3,
    error_order=2,
    e=[5 / 72, -1 / 12, -1 / 9, 1 / 8],
    P=[[1, -4 / 3, 5 / 9], [0, 1, -2 / 3], [0, 4 / 3, -8 / 9], [0, -1, 1]],
)


def _euler_leak(a):
    """Forward Euler: h <- (1 - a) h + a phi, a = dt / tau; noise sqrt(2 a)."""
    return 1.0 - a, a, np.sqrt(2.0 * a)


def _exponential_leak(a):
    """The leak integrated exactly over the step with the drive held: decay e^-a; the
    Ornstein-Uhlenbeck increment's exact standard deviation sqrt(1 - e^-2a)."""
    decay = np.exp(-a)
    return decay, -np.expm1(-a), np.sqrt(-np.expm1(-2.0 * a))


def _discrete_map(a):
    """h[t+1] = phi(...): Euler with dt == tau (time counted in steps)."""
    one = np.ones_like(a)
    return 0 * one, one, np.sqrt(2.0) * one


# d(decay, gain, noise_factor)/da of each leak above, for gradients with respect to tau
# (the trainer's adjoint: ``ctrnn.train``)
def _euler_slope(a):
    one = np.ones_like(a)
    return -one, one, 1.0 / np.sqrt(2.0 * a)


def _exponential_slope(a):
    decay = np.exp(-a)
    return -decay, decay, np.exp(-2.0 * a) / np.sqrt(-np.expm1(-2.0 * a))


def _discrete_slope(a):
    zero = np.zeros_like(a)
    return zero, zero, zero


_SLOPES = {_euler_leak: _euler_slope, _exponential_leak: _exponential_slope,
           _discrete_map: _discrete_slope}


ADAPTIVE_OPTIONS = ("rtol", "atol", "max_steps", "controller")


@dataclass(frozen=True)
class Method:
    """A method of ``simulate`` and every per-method formula: its step coefficients, its
    noise factor, its stability limit, its time grid and the options it takes.

    kind: "leaky" (h <- decay h + gain phi(...), one evaluation a step: euler,
    exponential_euler, discrete; ``leak`` gives decay, gain and the noise factor from
    a = dt / tau), "rk" (the generic tableau loop) or "adaptive" (an embedded pair with
    error control and dense output). ``exact_linear``: the linear decays (the leak, and
    STP's u and x with the rate held) are integrated exactly, so no step is unstable.
    ``counts_steps``: the discrete RNN, whose time is counted in steps (dt = 1, no dt).
    """

    name: str
    kind: str
    tableau: ButcherTableau | None
    order: int
    summary: str
    leak: Callable | None = None
    exact_linear: bool = False
    counts_steps: bool = False
    defaults: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def adaptive(self):
        """True for error-controlled step sizes (takes rtol, atol, max_steps,
        controller; the noise-free equation only)."""
        return self.kind == "adaptive"

    @property
    def takes_noise(self):
        """False for the adaptive methods: their error control assumes a smooth
        solution."""
        return not self.adaptive

    @property
    def options(self):
        """The method-specific keyword arguments of ``simulate`` this method takes."""
        return ADAPTIVE_OPTIONS if self.adaptive else ()

    def coefficients(self, dt, tau):
        """(decay, gain, noise_factor) arrays of shape np.shape(tau) for a leaky method:
        h <- decay h + gain phi(...) + noise_factor * noise * z.

        Parameters
        ----------
        dt : float
            Step size, in the time unit of tau.
        tau : float or ndarray, shape (n_neurons,)
            Time constant(s).

        Returns
        -------
        decay, gain, noise_factor : ndarray, shape np.shape(tau)
            Dimensionless float64 factors.

        Raises
        ------
        ValueError
            If the method is not leaky (kind "rk" or "adaptive").
        """
        if self.leak is None:
            raise ValueError(f"{self.name} is not a leaky method")
        a = np.broadcast_to(np.asarray(dt / tau, dtype=np.float64), np.shape(tau))
        return self.leak(a)

    def coefficient_slopes(self, dt, tau):
        """d/dtau of (decay, gain, noise_factor) of ``coefficients``: what the exact
        adjoint of a leaky step needs for the gradient with respect to tau. For the
        Runge-Kutta methods only the noise factor sqrt(2 dt / tau) depends on tau
        outside the field, and its slope is returned as the third entry (the first two
        are zero).

        Parameters
        ----------
        dt : float
            Step size, in the time unit of tau.
        tau : ndarray, shape (n_neurons,)
            Time constants.

        Returns
        -------
        ddecay, dgain, dnoise_factor : ndarray, shape (n_neurons,)
            In 1 / (time unit of tau); all zero for the discrete RNN, where tau does not
            enter.

        Raises
        ------
        ValueError
            If the method is adaptive.
        """
        tau = np.asarray(tau, dtype=np.float64)
        a = dt / tau
        da = -a / tau  # da/dtau
        if self.leak is not None:
            return tuple(s * da for s in _SLOPES[self.leak](a))
        if self.adaptive:
            raise ValueError(f"{self.name!r} has no fixed-step coefficients")
        zero = np.zeros_like(a)
        return zero, zero, da / np.sqrt(2.0 * a)

    def noise_factor(self, dt, tau):
        """The standard deviation of one step's noise increment per unit ``noise``: the
        Euler-Maruyama sqrt(2 dt / tau) for Runge-Kutta stages, the leaky method's own
        factor otherwise.

        Parameters
        ----------
        dt : float
            Step size, in the time unit of tau.
        tau : float or ndarray, shape (n_neurons,)
            Time constant(s).

        Returns
        -------
        float or ndarray, shape np.shape(tau)
            Dimensionless factor (times ``noise`` gives the increment's standard deviation).

        Raises
        ------
        ValueError
            If the method is adaptive.
        """
        if self.leak is not None:
            return self.coefficients(dt, tau)[2]
        if self.adaptive:
            raise ValueError(f"{self.name!r} integrates the noise-free equation only")
        return np.sqrt(2.0 * dt / tau)

    @property
    def stability_limit(self):
        """Largest |z| = dt |lambda| on the negative real axis the step is stable for
        (inf when the linear part is exact, the method is the discrete map, or the step
        size is adaptive, i.e. chosen for stability and accuracy by the error control)."""
        if self.exact_linear or self.counts_steps or self.adaptive:
            return math.inf
        return self.tableau.stability_limit

    def grid(self, duration, dt, steps):
        """(dt, steps) from a user's duration / dt / steps, with errors naming the
        argument. The discrete RNN counts steps (dt = 1, no duration).

        Returns
        -------
        dt : float
            Step size, in the time unit of tau (1.0 for the discrete RNN).
        steps : int
            Number of steps (>= 1).

        Raises
        ------
        TypeError
            If dt is missing (all but the discrete RNN), not exactly one of duration and
            steps is given, or dt, duration or steps has the wrong type.
        ValueError
            If the discrete RNN is given dt or duration, dt, duration or steps is not
            > 0, or duration is not a whole number of steps dt.
        """
        from .._validation import positive_int, positive_scalar

        if self.counts_steps:
            if steps is None and duration is None:
                raise TypeError(f"method={self.name!r} needs steps=T, the number of updates "
                                "h[t+1] = phi(W h[t] + U x[t] + b)")
            if dt is not None:
                raise ValueError(f"method={self.name!r} takes no dt: each step is one update "
                                 "h[t+1] = phi(W h[t] + U x[t] + b); pass steps=T")
            if duration is not None:
                raise ValueError(f"method={self.name!r} counts steps, not time: pass "
                                 "steps=T instead of duration")
            return 1.0, positive_int("steps", steps)
        if dt is None:
            raise TypeError(f"dt is required for method={self.name!r} (a step size in the "
                            "time unit of tau, e.g. tau / 10)")
        dt = positive_scalar("dt", dt)
        if (duration is None) == (steps is None):
            raise TypeError("give exactly one of duration (a time) or steps (a number of "
                            "steps)")
        if steps is not None:
            return dt, positive_int("steps", steps)
        duration = positive_scalar("duration", duration)
        n = round(duration / dt)
        if n < 1 or abs(n * dt - duration) > 1e-9 * duration:
            raise ValueError(f"duration={duration} is not a whole number of steps dt={dt} "
                             f"({duration / dt:.6g} steps): choose dt that divides duration "
                             "or pass steps=")
        return dt, n

    def save_times(self, n_save, save_every, dt):
        """The times of the saved states: multiples of save_every * dt (of save_every
        steps for the discrete RNN).

        Returns
        -------
        ndarray, shape (n_save,)
            In the time unit of dt (in steps for the discrete RNN).
        """
        if self.counts_steps:
            return np.arange(n_save) * save_every
        return np.arange(n_save) * (save_every * dt)

    def time_unit(self, unit):
        """The unit of time of a result: ``unit``, or "steps" for the discrete RNN.

        Returns
        -------
        str
        """
        return "steps" if self.counts_steps else unit

    def stable_dt(self, dt, tau, radius, tau_min):
        """None if dt is stable for every linear mode of the network, else the largest
        stable dt. The Jacobian (-I + D W)/tau has eigenvalues near -1/tau plus a disc of
        radius ``radius`` (times 1/tau); the leftmost point z = -(1 + radius) dt / tau_min
        must lie in the stability interval. Forward Euler with dt equal to every tau is
        the discrete RNN, asked for on purpose, and is not flagged.

        Returns
        -------
        float or None
            The largest stable dt, in the time unit of tau, or None if dt is stable.
        """
        limit = self.stability_limit
        if self.leak is _euler_leak and np.all(tau == dt):
            return None
        if limit == math.inf:
            return None
        if dt * (1.0 + radius) / tau_min > limit * (1 + 1e-9):
            return limit * tau_min / (1.0 + radius)
        return None

    def check_options(self, given):
        """Raise ValueError naming each option in ``given`` (name -> value, None when not
        given) that does not apply to this method.

        Raises
        ------
        ValueError
            If an option given (not None) is not one this method takes (only the adaptive
            methods take rtol, atol, max_steps, controller).
        """
        wrong = [k for k, v in given.items() if v is not None and k not in self.options]
        if wrong:
            takes = (f"only the adaptive methods ({', '.join(adaptive_names())}) take "
                     f"{', '.join(ADAPTIVE_OPTIONS)}")
            verb = "does" if len(wrong) == 1 else "do"
            raise ValueError(f"{', '.join(wrong)} {verb} not apply to method={self.name!r}: "
                             f"{takes}; remove {wrong[0]}= or choose an adaptive method")


def adaptive_names():
    """Names of the adaptive methods.

    Returns
    -------
    list of str
    """
    return [name for name, m in METHODS.items() if m.adaptive]


_ADAPTIVE_DEFAULTS = dict(rtol=1e-6, atol=1e-9, max_steps=1_000_000,
                          controller=PIController())

METHODS = {
    m.name: m
    for m in (
        Method("euler", "leaky", EULER, 1,
               "forward Euler; with dt == tau it is the discrete RNN", leak=_euler_leak),
        Method("heun", "rk", HEUN, 2, "Heun's method (explicit trapezoid, RK2)"),
        Method("rk4", "rk", RK4, 4, "classic 4th-order Runge-Kutta"),
        Method("dopri5", "adaptive", DOPRI5, 5,
               "Dormand-Prince 5(4), adaptive step, dense output on the save grid",
               defaults=_ADAPTIVE_DEFAULTS),
        Method("bs3", "adaptive", BS3, 3,
               "Bogacki-Shampine 3(2), adaptive step, cubic dense output on the save grid",
               defaults=_ADAPTIVE_DEFAULTS),
        Method("exponential_euler", "leaky", None, 1,
               "exact decay of the leak with the drive held over the step",
               leak=_exponential_leak, exact_linear=True),
        Method("discrete", "leaky", None, 1,
               "the discrete RNN h[t+1] = phi(W h[t] + U x[t] + b): Euler with dt == tau",
               leak=_discrete_map, counts_steps=True),
    )
}
ALIASES = {
    "forward_euler": "euler", "rk2": "heun", "rk45": "dopri5", "dopri": "dopri5",
    "dormand_prince": "dopri5", "expeuler": "exponential_euler",
    "exp_euler": "exponential_euler", "rnn": "discrete", "rk23": "bs3",
    "bogacki_shampine": "bs3",
}


def get_method(name):
    """The Method registered under ``name`` (case-insensitive, aliases allowed).

    Returns
    -------
    Method

    Raises
    ------
    TypeError
        If name is not a string.
    ValueError
        If name is neither a method nor an alias (the message suggests the closest).
    """
    if not isinstance(name, str):
        raise TypeError(f"method must be a string, one of {sorted(METHODS)}; got {name!r}")
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in METHODS:
        return METHODS[key]
    known = sorted(METHODS) + sorted(ALIASES)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    aliases = ", ".join(f"{a} = {m}" for a, m in sorted(ALIASES.items()))
    raise ValueError(f"unknown method {name!r}.{hint} Known methods: "
                     f"{', '.join(sorted(METHODS))} (aliases: {aliases})")
