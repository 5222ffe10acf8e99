"""Benchmark time series for reservoir computing: Mackey-Glass, NARMA-10, superimposed
oscillators, and the NRMSE to score them. Every generator is seeded and returns NumPy
arrays. Re-exported as ``ctrnn.tasks.mackey_glass`` etc.

>>> import ctrnn
>>> u, y = ctrnn.tasks.narma10(500, seed=0)
>>> u.shape, y.shape, bool(0 <= u.min() and u.max() <= 0.5)
((500, 1), (500, 1), True)
"""
from __future__ import annotations

import numpy as np

from .._kernels._jit import jit
from .._seeding import generator
from .._validation import nonnegative_scalar, nonzero, positive_int, positive_scalar


@jit
def _mackey_glass(history, n_steps, delay_steps, dt, beta, gamma, power):
    """Heun's method on dy/dt = beta y(t - tau) / (1 + y(t - tau)^n) - gamma y(t), with
    the delayed values on the step grid (tau a whole number of steps)."""
    total = history.size + n_steps
    y = np.empty(total)
    y[:history.size] = history
    for k in range(history.size - 1, total - 1):
        yd0 = y[k - delay_steps]
        yd1 = y[k + 1 - delay_steps]
        f0 = beta * yd0 / (1.0 + yd0 ** power) - gamma * y[k]
        pred = y[k] + dt * f0
        f1 = beta * yd1 / (1.0 + yd1 ** power) - gamma * pred
        y[k + 1] = y[k] + 0.5 * dt * (f0 + f1)
    return y[history.size - 1:]  # from t = 0 (the end of the history) on


def mackey_glass(n_samples, *, tau=17.0, beta=0.2, gamma=0.1, power=10, dt=0.1,
                 sample_every=1.0, transient=1000.0, x0=1.2, perturbation=0.01, seed=None):
    """The Mackey-Glass delay equation dy/dt = beta y(t-tau)/(1 + y(t-tau)^n) - gamma y,
    integrated as a delay equation (Heun, step dt, delayed values on the grid), sampled
    every ``sample_every`` time units after a transient. tau = 17 is the mildly chaotic
    benchmark of Jaeger (2001) and Jaeger & Haas (2004).

    The initial history is x0 (1.2) plus a seeded Gaussian perturbation of size
    ``perturbation`` (0.01) at each step of the delay interval.

    Returns
    -------
    ndarray, shape (n_samples, 1)
        y at times 0, sample_every, 2 sample_every, ... after the transient (float64,
        dimensionless).

    Raises
    ------
    TypeError
        If n_samples is not an integer, tau, dt or sample_every is not a number, or seed
        is of an unsupported type.
    ValueError
        If n_samples < 1, tau, dt or sample_every is not a finite number > 0, or tau or
        sample_every is not a whole multiple of dt.

    Examples
    --------
    >>> import ctrnn
    >>> y = ctrnn.tasks.mackey_glass(1000, seed=0)
    >>> bool(0.2 < y.min() and y.max() < 1.5)
    True
    """
    n_samples = positive_int("n_samples", n_samples)
    tau, dt, sample_every = (positive_scalar(name, v) for name, v in (
        ("tau", tau), ("dt", dt), ("sample_every", sample_every)))
    transient = nonnegative_scalar("transient", transient)
    delay_steps = round(tau / dt)
    every = round(sample_every / dt)
    if abs(delay_steps * dt - tau) > 1e-9 * tau or abs(every * dt - sample_every) > 1e-9:
        raise ValueError("tau and sample_every must be whole multiples of dt")
    rng = generator(seed)
    history = x0 + perturbation * rng.standard_normal(delay_steps + 1)
    skip = round(transient / dt)
    y = _mackey_glass(history, skip + n_samples * every, delay_steps, dt, beta, gamma,
                      float(power))  # y[k] at t = k dt
    return y[skip::every][:n_samples, None].copy()


def narma10(n_steps, *, seed=None):
    """NARMA-10: u(t) ~ U[0, 0.5] and
    y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0..9} y(t-i) + 1.5 u(t-9) u(t) + 0.1.

    Returns (u, y), each of shape (n_steps, 1), aligned so that y[t] depends on u up to
    t - 1 (predict y[t] from inputs u[0..t-1]; with ctrnn's alignment the reservoir state
    after input u[t-1] is the one that predicts y[t]). (ReservoirPy's ``narma`` indexes
    differently: do not compare the two series directly.)

    Returns
    -------
    u : ndarray, shape (n_steps, 1)
        Input, float64 in [0, 0.5].
    y : ndarray, shape (n_steps, 1)
        Target, float64 (zeros for the first 10 steps).

    Raises
    ------
    TypeError
        If n_steps is not an integer or seed is of an unsupported type.
    ValueError
        If n_steps < 1.
    FloatingPointError
        If the sequence diverges (rare; another seed helps).

    Examples
    --------
    >>> import ctrnn
    >>> u, y = ctrnn.tasks.narma10(100, seed=0)
    >>> u.shape, y.shape, bool(y[:10].max() == 0.0 and y[10:].min() > 0.0)
    ((100, 1), (100, 1), True)
    """
    n_steps = positive_int("n_steps", n_steps)
    rng = generator(seed)
    u = rng.uniform(0.0, 0.5, n_steps)
    y = np.zeros(n_steps)
    for t in range(9, n_steps - 1):
        y[t + 1] = (0.3 * y[t] + 0.05 * y[t] * y[t - 9:t + 1].sum()
                    + 1.5 * u[t - 9] * u[t] + 0.1)
    if not np.all(np.isfinite(y)):  # pragma: no cover - rare for u in [0, 0.5]
        raise FloatingPointError("this NARMA-10 sequence diverged; use another seed")
    return u[:, None], y[:, None]


def oscillators(n_steps, *, frequencies=(0.2, 0.311), random_phase=False, seed=None):
    """A sum of sines sin(alpha_k t + phase_k), t = 0, 1, ...: one frequency is a sine
    wave, several the multiple superimposed oscillator (MSO) task (the classic MSO uses
    0.2 and 0.311, then 0.42, 0.51, ...). Phases are 0, or uniform from ``seed``.

    Returns
    -------
    ndarray, shape (n_steps, 1)
        float64, dimensionless, in [-len(frequencies), len(frequencies)].

    Raises
    ------
    TypeError
        If n_steps is not an integer or seed is of an unsupported type.
    ValueError
        If n_steps < 1.

    Examples
    --------
    >>> import ctrnn
    >>> ctrnn.tasks.oscillators(3, frequencies=(0.5,))[:, 0].round(3).tolist()
    [0.0, 0.479, 0.841]
    """
    n_steps = positive_int("n_steps", n_steps)
    f = np.atleast_1d(np.asarray(frequencies, dtype=np.float64))
    phase = generator(seed).uniform(0, 2 * np.pi, f.size) if random_phase else np.zeros(f.size)
    t = np.arange(n_steps)[:, None]
    return np.sin(t * f[None, :] + phase[None, :]).sum(axis=1, keepdims=True)


def nrmse(y_true, y_pred):
    """Root-mean-square error divided by the standard deviation of y_true (per output,
    averaged).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (T,) or (T, n_outputs)

    Returns
    -------
    float
        Dimensionless NRMSE (0 is perfect, 1 as good as predicting the mean).

    Raises
    ------
    ValueError
        If y_true and y_pred do not have the same shape.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> round(ctrnn.tasks.nrmse(np.array([0.0, 2.0]), np.array([1.0, 1.0])), 6)
    1.0
    """
    a = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    b = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred must have one shape; got {a.shape}, {b.shape}")
    sd = a.std(axis=0)
    scale = float(np.abs(a).max()) if a.size else 0.0
    for k, s in enumerate(sd):
        nonzero(f"the standard deviation of y_true[:, {k}]", s, scale,
                "a constant target has no normalised error; compare the RMSE itself")
    return float(np.mean(np.sqrt(((a - b) ** 2).mean(axis=0)) / sd))
