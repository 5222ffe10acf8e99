"""The methods ``simulate`` offers: tableaux plus how each one is stepped.

Adding a fixed-step Runge-Kutta method is adding a tableau here; the generic kernel in
``ctrnn._kernels.rk.rk_run`` runs it.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Method:
    """How ``simulate`` steps a method.

    kind: "leaky" (h <- decay h + gain phi(...), one evaluation a step: euler,
    exponential_euler, discrete), "rk" (the generic tableau loop) or "adaptive"
    (Dormand-Prince with error control and dense output).
    """

    name: str
    kind: str
    tableau: ButcherTableau | None
    order: int
    summary: str

    def coefficients(self, dt, tau):
        """(decay, gain, noise_factor) arrays for a leaky method; noise_factor * noise is
        the standard deviation of the per-step noise increment."""
        a = np.broadcast_to(np.asarray(dt / tau, dtype=np.float64), np.shape(tau))
        if self.name == "discrete":
            one = np.ones_like(a)
            return 0 * one, one, np.sqrt(2.0) * one
        if self.name == "euler":
            return 1.0 - a, a, np.sqrt(2.0 * a)
        if self.name == "exponential_euler":
            decay = np.exp(-a)
            return decay, -np.expm1(-a), np.sqrt(-np.expm1(-2.0 * a))
        raise ValueError(f"{self.name} is not a leaky method")


METHODS = {
    m.name: m
    for m in (
        Method("euler", "leaky", EULER, 1,
               "forward Euler; with dt == tau it is the discrete RNN"),
        Method("heun", "rk", HEUN, 2, "Heun's method (explicit trapezoid, RK2)"),
        Method("rk4", "rk", RK4, 4, "classic 4th-order Runge-Kutta"),
        Method("dopri5", "adaptive", DOPRI5, 5,
               "Dormand-Prince 5(4), adaptive step, dense output on the save grid"),
        Method("exponential_euler", "leaky", None, 1,
               "exact decay of the leak with the drive held over the step"),
        Method("discrete", "leaky", None, 1,
               "the discrete RNN h[t+1] = phi(W h[t] + U x[t] + b): Euler with dt == tau"),
    )
}
ALIASES = {
    "forward_euler": "euler", "rk2": "heun", "rk45": "dopri5", "dopri": "dopri5",
    "dormand_prince": "dopri5", "expeuler": "exponential_euler",
    "exp_euler": "exponential_euler", "rnn": "discrete",
}


def get_method(name):
    """The Method registered under ``name`` (case-insensitive, aliases allowed)."""
    if not isinstance(name, str):
        raise TypeError(f"method must be a string, one of {sorted(METHODS)}; got {name!r}")
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key in METHODS:
        return METHODS[key]
    known = sorted(METHODS) + sorted(ALIASES)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown method {name!r}.{hint} Known methods: {', '.join(sorted(METHODS))}")
