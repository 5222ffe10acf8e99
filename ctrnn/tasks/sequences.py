"""Sequence tasks for the learning experiments of the LSTM and the vanishing gradient
(Hochreiter & Schmidhuber 1997): the adding problem, the copy (delayed recall) task with a
settable lag, and next-step prediction of a series (``mackey_glass``, ``oscillators``)
for training with output feedback.

The layout is that of ``ctrnn.tasks.cognitive``: ``inputs`` (trial, time, input),
``targets`` and ``mask`` (trial, time, output), attrs ``dt``, ``loss``, ``source`` and
``seed``. Time counts steps (``dt`` = 1 unless given): input sample t drives step t, and
target t is compared with the output after it.
"""
from __future__ import annotations

import numpy as np

from .._validation import as_float_array, nonnegative_int, positive_int, positive_scalar
from .cognitive import _dataset, _rng

__all__ = ["adding_problem", "copy_memory", "sequence_prediction"]


def _sequence_dataset(task, *, dt, conditions=None, **kw):
    """``cognitive._dataset`` for a sequence task: time counted in steps, no periods."""
    return _dataset(task, dt=dt, period_labels=None, conditions=conditions or {},
                    time_units="steps" if dt == 1 else "time units of dt", **kw)


def adding_problem(n_trials, *, lag=100, dt=1.0, seed=None):
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4, in the form of
    Le, Jaitly & Hinton 2015): a sequence of ``lag`` steps with two inputs, a value
    uniform on [0, 1] and a marker that is 1 at two steps, one in the first half and one
    in the second; the target at the last step is the sum of the two marked values. The
    first marked value lies lag/2 to lag steps before the answer.

    Always answering 1 scores an MSE of 1/6 = 0.167 (the variance of the sum); a model
    solves the problem when its MSE is far below that (Hochreiter & Schmidhuber count a
    sequence right when the absolute error is below 0.04).

    Parameters
    ----------
    n_trials : int
    lag : int
        Sequence length in steps (>= 2).
    dt : float
        Spacing of the time coordinate (the task's dt for a rate network).
    seed : int, numpy Generator or None

    Returns
    -------
    xarray.Dataset
        inputs (trial, time, input: "value", "marker"), targets and mask (trial, time,
        output: "sum"), mask 1 at the last step only; loss "mse"; coordinates first and
        second (the marked steps) per trial; attrs lag, trivial_mse (1/6).

    Raises
    ------
    TypeError
        If n_trials or lag is not an integer.
    ValueError
        If n_trials < 1 or lag < 2.

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.adding_problem(4, lag=50, seed=0)
    >>> ds.inputs.shape, float(ds.inputs[0, :, 1].sum())
    ((4, 50, 2), 2.0)
    """
    n_trials = positive_int("n_trials", n_trials)
    T = positive_int("lag", lag)
    if T < 2:
        raise ValueError(f"lag={T}: the adding problem needs at least 2 steps")
    dt = positive_scalar("dt", dt)
    rng, seed_attr = _rng(seed)
    values = rng.random((n_trials, T))
    half = T // 2
    first = rng.integers(0, half, n_trials)
    second = rng.integers(half, T, n_trials)
    marker = np.zeros((n_trials, T))
    rows = np.arange(n_trials)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    targets = np.zeros((n_trials, T, 1))
    targets[:, -1, 0] = values[rows, first] + values[rows, second]
    mask = np.zeros_like(targets)
    mask[:, -1] = 1.0
    return _sequence_dataset(
        "adding_problem", inputs=np.stack([values, marker], axis=-1), targets=targets,
        mask=mask, input_names=["value", "marker"], output_names=["sum"], dt=dt,
        loss="mse", seed=seed_attr,
        source="Hochreiter & Schmidhuber (1997) Neural Comput. 9:1735; "
               "Le, Jaitly & Hinton (2015) arXiv:1504.00941",
        attrs={"lag": T, "trivial_mse": 1.0 / 6.0},
        conditions={"first": (first, {"long_name": "first marked step"}),
                    "second": (second, {"long_name": "second marked step"})})


def copy_memory(n_trials, *, lag=50, length=5, n_symbols=4, dt=1.0, seed=None):
    """The copy (delayed recall) task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah &
    Bengio 2016): ``length`` symbols, one-hot of ``n_symbols``, then ``lag`` blank steps,
    then a cue; after the cue the model must output the symbols in order. The first
    symbol is recalled lag + length + 1 steps after it was shown.

    A model without memory scores a cross-entropy of log(n_symbols) on the recall steps
    (chance accuracy 1 / n_symbols). Score recall per symbol: the argmax of the output
    against the argmax of the target on the steps where ``mask`` is 1 (there is no
    ``response`` variable, so ``fit``'s history has no accuracy for this task).

    Parameters
    ----------
    n_trials : int
    lag : int
        Blank steps between the last symbol and the cue (>= 0).
    length : int
        Symbols to remember (>= 1).
    n_symbols : int
        Alphabet size (>= 2).
    dt : float
        Spacing of the time coordinate.
    seed : int, numpy Generator or None

    Returns
    -------
    xarray.Dataset
        inputs (trial, time, input: the symbols, then "blank" and "cue"), one-hot per
        step; targets (trial, time, output: the symbols, then "blank"), the blank
        everywhere but the recall; mask 1 on the recall steps only (T = 2 length + lag +
        1 steps); loss "cross_entropy"; attrs lag, length, n_symbols,
        chance_cross_entropy.

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If n_trials or length < 1, lag < 0 or n_symbols < 2.

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.copy_memory(2, lag=3, length=2, n_symbols=3, seed=0)
    >>> dict(ds.sizes)
    {'trial': 2, 'time': 8, 'input': 5, 'output': 4}
    """
    n_trials = positive_int("n_trials", n_trials)
    lag = nonnegative_int("lag", lag)
    length = positive_int("length", length)
    K = positive_int("n_symbols", n_symbols)
    if K < 2:
        raise ValueError(f"n_symbols={K}: the copy task needs at least 2 symbols")
    dt = positive_scalar("dt", dt)
    rng, seed_attr = _rng(seed)
    sym = rng.integers(0, K, (n_trials, length))
    T = 2 * length + lag + 1
    cue = length + lag
    inputs = np.zeros((n_trials, T, K + 2))
    rows = np.arange(n_trials)[:, None]
    inputs[rows, np.arange(length)[None, :], sym] = 1.0
    inputs[:, length:, K] = 1.0  # blank
    inputs[:, cue, K] = 0.0
    inputs[:, cue, K + 1] = 1.0  # the cue
    targets = np.zeros((n_trials, T, K + 1))
    targets[:, :, K] = 1.0
    recall = np.arange(cue + 1, T)
    targets[:, recall, K] = 0.0
    targets[rows, recall[None, :], sym] = 1.0
    mask = np.zeros_like(targets)
    mask[:, recall] = 1.0
    names = [f"symbol {k}" for k in range(K)]
    return _sequence_dataset(
        "copy_memory", inputs=inputs, targets=targets, mask=mask,
        input_names=names + ["blank", "cue"], output_names=names + ["blank"], dt=dt,
        loss="cross_entropy", seed=seed_attr,
        source="Hochreiter & Schmidhuber (1997) Neural Comput. 9:1735; "
               "Arjovsky, Shah & Bengio (2016) ICML",
        attrs={"lag": lag, "length": length, "n_symbols": K,
               "chance_cross_entropy": float(np.log(K))})


def sequence_prediction(series, *, n_trials, length, dt=1.0, seed=None):
    """Next-step prediction of a series: windows of ``length`` steps at random starts,
    inputs s_t and targets s_{t+1}. The inputs are the previous targets, so a model
    trained on it generates the series closed loop (``fit(..., feedback=...)``,
    ``ctrnn.train.generate``).

    Parameters
    ----------
    series : array_like, shape (time,) or (time, channels)
        For example ``mackey_glass(...)`` or ``oscillators(...)``.
    n_trials : int
        Number of windows.
    length : int
        Steps per window (< the series' length).
    dt : float
        Spacing of the time coordinate.
    seed : int, numpy Generator or None
        The window starts.

    Returns
    -------
    xarray.Dataset
        inputs (trial, time, input) s_t and targets (trial, time, output) s_{t+1}, mask
        1; loss "mse"; coordinate ``start`` (the window's first index in the series).

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If the series is not 1-d or 2-d, holds NaN or inf, or is not longer than length.

    Examples
    --------
    >>> import ctrnn
    >>> s = ctrnn.tasks.oscillators(500)
    >>> ds = ctrnn.tasks.sequence_prediction(s, n_trials=8, length=100, seed=0)
    >>> bool((ds.inputs[:, 1:, 0].values == ds.targets[:, :-1, 0].values).all())
    True
    """
    s = as_float_array("series", series)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise ValueError(f"series must be (time,) or (time, channels); got shape {s.shape}")
    n_trials = positive_int("n_trials", n_trials)
    L = positive_int("length", length)
    if s.shape[0] < L + 1:
        raise ValueError(f"the series has {s.shape[0]} samples: windows of length={L} "
                         f"need at least {L + 1}")
    dt = positive_scalar("dt", dt)
    rng, seed_attr = _rng(seed)
    start = rng.integers(0, s.shape[0] - L, n_trials)
    idx = start[:, None] + np.arange(L + 1)[None, :]
    w = s[idx]  # (trial, L + 1, channels)
    names = [f"s{j}" for j in range(s.shape[1])]
    return _sequence_dataset(
        "sequence_prediction", inputs=w[:, :-1], targets=w[:, 1:],
        mask=np.ones((n_trials, L, s.shape[1])), input_names=names, output_names=names,
        dt=dt, loss="mse", seed=seed_attr,
        source="next-step prediction; Bengio et al. (2015) NeurIPS", attrs={"length": L},
        conditions={"start": (start, {"long_name": "first index in the series"})})
