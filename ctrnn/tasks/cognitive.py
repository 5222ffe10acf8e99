"""Cognitive tasks for training rate networks, as seeded xarray Datasets.

Each function draws ``n_trials`` trials of one task and returns them in the layout of
neurogym and PsychRNN (inputs, targets and a loss mask over trial, time and channel, with
the trial conditions beside them), as one ``xarray.Dataset``:

- dims ``trial``, ``time``, ``input``, ``output``; all trials share one length T;
- ``inputs`` (trial, time, input), float64: what drives the network;
- ``targets`` (trial, time, output), float64: what its readout should produce;
- ``mask`` (trial, time, output), float64: the weight of each sample in the loss (0 or 1);
- ``response`` (trial, time), bool, decision tasks only: the decision period, where the
  choice is judged (the accuracy compares the argmax of the output averaged over the
  response period with the argmax of the targets there);
- coordinates: ``time`` = dt * arange(T) (seconds), ``period`` along time for decision
  tasks (the name of the task period each sample lies in), ``trial`` (index), the trial conditions along
  ``trial`` (``choice``, ``coherence``, ``context``, ``f1``, ...), and the channel names
  along ``input`` and ``output`` (``"fixation"``, ``"choice 1"``, ...);
- attrs (scalars and strings): ``task``, ``dt``, ``source`` (the paper), ``loss``
  (``"cross_entropy"`` where the targets are one-hot class labels over the outputs at
  every sample, ``"mse"`` for the flip-flop), ``seed`` (an int as given; with None or a
  Generator the seed drawn for the task, which repeats it when passed back), and the
  timing and noise arguments.

Time convention: input sample k drives the network's step from t_k to t_k + dt, and
target sample k is compared with the network's output after that step (at t_k + dt).
Durations are in seconds and must be whole multiples of ``dt``.

Decision tasks follow neurogym (Molano-Mazon et al. 2022): a fixation input that is 1
until the decision period and 0 in it; one-hot targets with class 0 ("fixation") before
the decision period and class 1 + choice during it; mask 1 everywhere. Noise: neurogym
adds N(0, sigma / sqrt(dt in ms)) to each stimulus sample; so do we (dt in seconds is
converted), so ``sigma`` means what it means there and the same sigma gives the same
task at any dt: the noise is white, its integral over a period of length T has standard
deviation sigma * sqrt(T * 1 ms).

>>> import ctrnn
>>> ds = ctrnn.tasks.perceptual_decision(4, seed=0)
>>> ds.inputs.dims, ds.attrs["loss"], ds.sizes["time"]
(('trial', 'time', 'input'), 'cross_entropy', 50)
>>> ds.output.values.tolist()
['fixation', 'choice 1', 'choice 2']
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._output import attr_value
from .._seeding import generator, seed_sequence
from .._validation import (as_float_array, nonnegative_scalar, positive_int,
                           positive_scalar, scalar)

_MS = 1e-3  # neurogym's time unit (its dt is in milliseconds); see the module docstring
_REL_TOL = 1e-9  # a duration is a whole number of steps when within this of one

_SOURCES = {
    "perceptual_decision": (
        "Britten, Shadlen, Newsome & Movshon (1992) J. Neurosci. 12:4745; trained RNN: "
        "Song, Yang & Wang (2016) PLoS Comput. Biol. 12:e1004792; neurogym "
        "PerceptualDecisionMaking"),
    "context_integration": (
        "Mante, Sussillo, Shenoy & Newsome (2013) Nature 503:78; neurogym "
        "ContextDecisionMaking"),
    "delayed_match_to_sample": (
        "Miller, Erickson & Desimone (1996) J. Neurosci. 16:5154; neurogym "
        "DelayMatchSample"),
    "parametric_working_memory": (
        "Romo, Brody, Hernandez & Lemus (1999) Nature 399:470; neurogym DelayComparison "
        "(Romo)"),
    "flipflop": "Sussillo & Barak (2013) Neural Comput. 25:626",
}


# --- helpers -------------------------------------------------------------------------

def _rng(seed):
    """(Generator, attrs value): one Generator for every draw of a task, and the seed
    that repeats it (an int as given; drawn from a Generator or fresh entropy else)."""
    ss, recorded = seed_sequence(seed)
    return generator(ss), recorded


def _steps(name, value, dt, *, allow_zero=False):
    """A duration in seconds -> its whole number of steps of dt."""
    value = (nonnegative_scalar if allow_zero else positive_scalar)(name, value)
    n = round(value / dt)
    if abs(n * dt - value) > _REL_TOL * value:
        better = max(n, 1) * dt
        raise ValueError(f"{name} must be a whole multiple of dt = {dt:g} s; got {name} = "
                         f"{value:g} s ({value / dt:.6g} steps): use {name}={better:g} or "
                         "a dt that divides it")
    return n


def _periods(dt, *spec):
    """spec: (period, duration, allow_zero[, argument name if not the period's]) in
    order -> (T, {period: slice}, labels (T,)). Each duration is checked to be a whole
    number of steps."""
    slices, start = {}, 0
    for name, value, allow_zero, *arg in spec:
        n = _steps(arg[0] if arg else name, value, dt, allow_zero=allow_zero)
        slices[name] = slice(start, start + n)
        start += n
    labels = np.empty(start, dtype=object)
    for name, sl in slices.items():
        labels[sl] = name
    return start, slices, labels.astype(str)


def _coherences(name, value, *, allow_zero):
    coh = np.atleast_1d(as_float_array(name, value, ndim=(0, 1)))
    if coh.size == 0:
        raise ValueError(f"{name} must hold at least one coherence; got an empty sequence")
    low_ok = coh >= 0 if allow_zero else coh > 0
    bad = coh[~(low_ok & (coh <= 100))]
    if bad.size:
        rng = "[0, 100]" if allow_zero else "(0, 100]"
        why = ("" if allow_zero else
               " (magnitudes: each modality's sign is drawn per trial, and a zero "
               "coherence in the cued modality would leave the choice undefined)")
        raise ValueError(f"{name} must lie in {rng}, in percent of coherently moving "
                         f"dots{why}; got {bad[0]:g}: pass values such as (5, 15, 50)")
    return coh


def _durations(**values):
    """Already validated numbers (NumPy scalars, 0-d arrays) -> floats for attrs."""
    return {k: float(scalar(v)) for k, v in values.items()}


def _noise_std(sigma, dt):
    """neurogym's per-sample input noise sigma / sqrt(dt in ms)."""
    return sigma * np.sqrt(_MS / dt)


def _one_hot_decision(n_trials, T, n_out, choice, decision):
    """Targets: class 0 (fixation) outside the decision period, 1 + choice in it."""
    label = np.zeros((n_trials, T), dtype=np.intp)
    label[:, decision] = 1 + np.asarray(choice)[:, None]
    return np.eye(n_out)[label]


def _dataset(task, *, dt, inputs, targets, input_names, output_names, conditions,
             period_labels, decision=None, loss, seed, attrs, mask=None, source=None,
             time_units="s"):
    """The task Dataset (see the module docstring for the layout), for every task of
    ``ctrnn.tasks``.

    conditions : {name: (array (n_trials,), attrs)}; decision : slice of time or None;
    mask : like targets, or None for 1 everywhere; source : default _SOURCES[task].
    """
    n_trials, T, _ = inputs.shape
    coords = {
        "trial": ("trial", np.arange(n_trials), {"long_name": "trial index"}),
        "time": ("time", dt * np.arange(T),
                 {"units": time_units, "long_name": "time", "standard_name": "time"}),
        "input": ("input", np.array(input_names, dtype=str), {"long_name": "input channel"}),
        "output": ("output", np.array(output_names, dtype=str),
                   {"long_name": "output channel"}),
    }
    if period_labels is not None:
        coords["period"] = ("time", period_labels, {"long_name": "task period"})
    for name, (values, a) in conditions.items():
        coords[name] = ("trial", np.asarray(values), a)
    data = {
        "inputs": (("trial", "time", "input"), np.ascontiguousarray(inputs, np.float64),
                   {"long_name": "network input; sample k drives the step t_k -> t_k + dt",
                    "units": "1"}),
        "targets": (("trial", "time", "output"), np.ascontiguousarray(targets, np.float64),
                    {"long_name": "target output after the step driven by input sample k",
                     "units": "1"}),
        "mask": (("trial", "time", "output"),
                 np.ones(targets.shape) if mask is None else mask.astype(np.float64),
                 {"long_name": "loss weight of each target sample", "units": "1"}),
    }
    if decision is not None:
        response = np.zeros((n_trials, T), dtype=bool)
        response[:, decision] = True
        data["response"] = (("trial", "time"), response,
                            {"long_name": "decision period, where the choice is judged"})
    all_attrs = {"task": task, "dt": dt, "source": source or _SOURCES[task], "loss": loss,
                 "seed": seed, **attrs}
    return xr.Dataset(data, coords=coords,
                      attrs={k: attr_value(v) for k, v in all_attrs.items()})


_CHOICE_ATTRS = {"long_name": "correct choice (index; its output is 1 + choice)"}


# --- tasks ---------------------------------------------------------------------------

def perceptual_decision(n_trials, *, dt=0.02, coherences=(0, 3.2, 6.4, 12.8, 25.6, 51.2),
                        fixation=0.1, stimulus=0.8, delay=0.0, decision=0.1, sigma=1.0,
                        seed=None):
    """Random-dot motion discrimination: integrate two noisy evidence streams and report
    the stronger one after the stimulus (Britten et al. 1992; the trained RNN of Song,
    Yang & Wang 2016; neurogym's PerceptualDecisionMaking).

    Periods: fixation, stimulus, delay, decision. Inputs: ``"fixation"`` (1 until the
    decision period, then 0); ``"evidence 1"`` and ``"evidence 2"``, during the stimulus
    (1 + coherence/100)/2 for the correct choice and (1 - coherence/100)/2 for the other,
    each plus Gaussian noise of standard deviation sigma / sqrt(dt in ms) per sample, 0
    outside it. Outputs ``"fixation"``, ``"choice 1"``, ``"choice 2"``: one-hot targets,
    class 0 before the decision period and 1 + choice during it; mask 1 everywhere;
    ``response`` is the decision period. The choice (0 or 1) and the coherence are
    drawn uniformly and independently per trial (a 0% trial has a random choice).

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    dt : float, seconds
        Sample spacing.
    coherences : sequence of float, percent, each in [0, 100]
        Motion coherences to draw from.
    fixation, stimulus, delay, decision : float, seconds
        Period durations, whole multiples of dt; fixation and delay may be 0.
    sigma : float, >= 0
        Input noise in neurogym's units (per-sample std sigma / sqrt(dt in ms)).
    seed : int, numpy Generator or None
        Seed of every draw (conditions, then noise); the same seed gives the same Dataset.

    Returns
    -------
    xarray.Dataset
        ``inputs`` (trial, time, input: 3), ``targets`` and ``mask`` (trial, time,
        output: 3), ``response`` (trial, time); conditions ``coherence`` (percent,
        unsigned) and ``choice`` along ``trial``; attrs task, dt, source, loss
        ("cross_entropy"), seed and the arguments above.

    Raises
    ------
    TypeError
        If n_trials is not an integer, a duration, dt or sigma is not a number,
        coherences is not numeric, or seed is of an unsupported type.
    ValueError
        If n_trials < 1, dt, stimulus or decision is not > 0, fixation, delay or sigma
        is negative, a duration is not a whole multiple of dt, or a coherence is
        outside [0, 100] or not finite.

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.perceptual_decision(200, coherences=(51.2,), sigma=0.0, seed=0)
    >>> ev = ds.inputs.sel(input="evidence 1") - ds.inputs.sel(input="evidence 2")
    >>> bool(((ev.sum("time") < 0) == ds.choice).all())
    True
    >>> last = ds.targets.isel(time=-1).argmax("output")   # class 1 + choice
    >>> int(ds.response.sum("time")[0]), bool((last == 1 + ds.choice).all())
    (5, True)
    """
    n_trials = positive_int("n_trials", n_trials)
    dt = positive_scalar("dt", dt)
    coh = _coherences("coherences", coherences, allow_zero=True)
    sigma = nonnegative_scalar("sigma", sigma)
    T, per, labels = _periods(dt, ("fixation", fixation, True), ("stimulus", stimulus, False),
                              ("delay", delay, True), ("decision", decision, False))
    rng, seed_attr = _rng(seed)
    choice = rng.integers(0, 2, n_trials)
    coherence = coh[rng.integers(0, coh.size, n_trials)]
    stim = per["stimulus"]
    noise = rng.standard_normal((n_trials, stim.stop - stim.start, 2))

    inputs = np.zeros((n_trials, T, 3))
    inputs[:, :per["decision"].start, 0] = 1.0
    sign = np.where(choice == 0, 1.0, -1.0)
    mean = np.stack([(1 + sign * coherence / 100) / 2, (1 - sign * coherence / 100) / 2],
                    axis=1)  # (trial, 2)
    inputs[:, stim, 1:] = mean[:, None, :] + _noise_std(sigma, dt) * noise
    targets = _one_hot_decision(n_trials, T, 3, choice, per["decision"])
    return _dataset(
        "perceptual_decision", dt=dt, inputs=inputs, targets=targets,
        input_names=["fixation", "evidence 1", "evidence 2"],
        output_names=["fixation", "choice 1", "choice 2"],
        conditions={"coherence": (coherence, {"long_name": "motion coherence",
                                              "units": "%"}),
                    "choice": (choice, _CHOICE_ATTRS)},
        period_labels=labels, decision=per["decision"], loss="cross_entropy",
        seed=seed_attr,
        attrs=_durations(fixation=fixation, stimulus=stimulus, delay=delay,
                         decision=decision, sigma=sigma))


def context_integration(n_trials, *, dt=0.02, coherences=(5, 15, 50), fixation=0.3,
                        stimulus=0.8, delay=0.6, decision=0.1, sigma=1.0, seed=None):
    """Context-dependent integration: two modalities (motion and colour) of evidence are
    shown together and a context cue says which one to report (Mante, Sussillo, Shenoy &
    Newsome 2013; neurogym's ContextDecisionMaking with explicit context).

    Periods: fixation, stimulus, delay, decision. Inputs: ``"fixation"`` (1 until the
    decision period); ``"motion 1"``, ``"motion 2"``, ``"colour 1"``, ``"colour 2"``,
    during the stimulus (1 + c/100)/2 and (1 - c/100)/2 for each modality's signed
    coherence c, plus Gaussian noise of standard deviation sigma / sqrt(dt in ms) per
    sample; ``"context motion"`` and ``"context colour"``, the cue, 1 on the cued one
    over the whole trial. Each modality's coherence is drawn from ``coherences`` with a
    random sign, independently; the correct choice follows the sign of the cued
    modality's coherence (positive: choice 0, output ``"choice 1"``). Outputs
    ``"fixation"``, ``"choice 1"``, ``"choice 2"``: one-hot targets, class 0 before the
    decision period and 1 + choice during it; mask 1 everywhere; ``response`` is the
    decision period. (The dots of Mante et al. lasted 0.75 s, 0.8 s here so that the
    default dt divides it; neurogym draws the delay from a truncated exponential of
    mean 0.6 s, here all trials share one fixed delay.)

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    dt : float, seconds
        Sample spacing.
    coherences : sequence of float, percent, each in (0, 100]
        Coherence magnitudes to draw from (the sign is drawn separately).
    fixation, stimulus, delay, decision : float, seconds
        Period durations, whole multiples of dt; fixation and delay may be 0.
    sigma : float, >= 0
        Input noise in neurogym's units (per-sample std sigma / sqrt(dt in ms)).
    seed : int, numpy Generator or None
        Seed of every draw (conditions, then noise).

    Returns
    -------
    xarray.Dataset
        ``inputs`` (trial, time, input: 7), ``targets`` and ``mask`` (trial, time,
        output: 3), ``response`` (trial, time); conditions ``context`` (0 motion, 1
        colour), ``coherence_motion`` and ``coherence_colour`` (signed, percent) and
        ``choice`` along ``trial``; attrs task, dt, source, loss ("cross_entropy"), seed
        and the arguments above.

    Raises
    ------
    TypeError
        If n_trials is not an integer, a duration, dt or sigma is not a number,
        coherences is not numeric, or seed is of an unsupported type.
    ValueError
        If n_trials < 1, dt, stimulus or decision is not > 0, fixation, delay or sigma
        is negative, a duration is not a whole multiple of dt, or a coherence is
        outside (0, 100] or not finite.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> ds = ctrnn.tasks.context_integration(100, seed=0)
    >>> cued = np.where(ds.context == 0, ds.coherence_motion, ds.coherence_colour)
    >>> bool(((cued < 0) == ds.choice).all()), ds.sizes["input"]
    (True, 7)
    """
    n_trials = positive_int("n_trials", n_trials)
    dt = positive_scalar("dt", dt)
    coh = _coherences("coherences", coherences, allow_zero=False)
    sigma = nonnegative_scalar("sigma", sigma)
    T, per, labels = _periods(dt, ("fixation", fixation, True), ("stimulus", stimulus, False),
                              ("delay", delay, True), ("decision", decision, False))
    rng, seed_attr = _rng(seed)
    context = rng.integers(0, 2, n_trials)
    signed = (coh[rng.integers(0, coh.size, (2, n_trials))]
              * rng.choice(np.array([-1.0, 1.0]), (2, n_trials)))  # (modality, trial)
    stim = per["stimulus"]
    noise = rng.standard_normal((n_trials, stim.stop - stim.start, 4))
    cued = np.where(context == 0, signed[0], signed[1])
    choice = np.where(cued > 0, 0, 1)

    inputs = np.zeros((n_trials, T, 7))
    inputs[:, :per["decision"].start, 0] = 1.0
    mean = np.stack([(1 + signed[0] / 100) / 2, (1 - signed[0] / 100) / 2,
                     (1 + signed[1] / 100) / 2, (1 - signed[1] / 100) / 2], axis=1)
    inputs[:, stim, 1:5] = mean[:, None, :] + _noise_std(sigma, dt) * noise
    inputs[np.arange(n_trials), :, 5 + context] = 1.0
    targets = _one_hot_decision(n_trials, T, 3, choice, per["decision"])
    return _dataset(
        "context_integration", dt=dt, inputs=inputs, targets=targets,
        input_names=["fixation", "motion 1", "motion 2", "colour 1", "colour 2",
                     "context motion", "context colour"],
        output_names=["fixation", "choice 1", "choice 2"],
        conditions={
            "context": (context, {"long_name": "cued modality (0 motion, 1 colour)"}),
            "coherence_motion": (signed[0], {"long_name": "signed motion coherence "
                                             "(> 0: evidence for choice 1)", "units": "%"}),
            "coherence_colour": (signed[1], {"long_name": "signed colour coherence "
                                             "(> 0: evidence for choice 1)", "units": "%"}),
            "choice": (choice, _CHOICE_ATTRS)},
        period_labels=labels, decision=per["decision"], loss="cross_entropy",
        seed=seed_attr,
        attrs=_durations(fixation=fixation, stimulus=stimulus, delay=delay,
                         decision=decision, sigma=sigma))


def delayed_match_to_sample(n_trials, *, dt=0.02, n_stimuli=2, fixation=0.3, sample=0.5,
                            delay=1.0, test=0.5, decision=0.9, sigma=1.0, seed=None):
    """Delayed match-to-sample: hold a sample stimulus through a delay and report whether
    a test stimulus matches it (Miller, Erickson & Desimone 1996; neurogym's
    DelayMatchSample).

    Periods: fixation, sample, delay, test, decision. Inputs: ``"fixation"`` (1 until
    the decision period); ``"stimulus 1"`` ... ``"stimulus n"``, the stimuli as
    directions theta_j = 2 pi j / n_stimuli on a ring, channel k carrying
    (1 + cos(theta_k - theta))/2 during the sample and the test (one-hot for two
    stimuli), plus Gaussian noise of standard deviation sigma / sqrt(dt in ms) per
    sample, 0 elsewhere. Match and non-match trials are equally likely; on a non-match
    trial the test is drawn uniformly from the other stimuli (neurogym uses the
    opposite direction, the same for two stimuli). Outputs ``"fixation"``,
    ``"match"``, ``"non-match"``: one-hot targets, class 0 before the decision period
    and 1 + choice during it (choice 0 match, 1 non-match); mask 1 everywhere;
    ``response`` is the decision period.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    dt : float, seconds
        Sample spacing.
    n_stimuli : int
        Number of stimuli (>= 2), one input channel each.
    fixation, sample, delay, test, decision : float, seconds
        Period durations, whole multiples of dt; fixation and delay may be 0.
    sigma : float, >= 0
        Input noise in neurogym's units (per-sample std sigma / sqrt(dt in ms)).
    seed : int, numpy Generator or None
        Seed of every draw (conditions, then noise).

    Returns
    -------
    xarray.Dataset
        ``inputs`` (trial, time, input: 1 + n_stimuli), ``targets`` and ``mask``
        (trial, time, output: 3), ``response`` (trial, time); conditions ``sample`` and
        ``test`` (stimulus indices), ``match`` (bool) and ``choice`` along ``trial``;
        attrs task, dt, source, loss ("cross_entropy"), seed and the arguments above.

    Raises
    ------
    TypeError
        If n_trials or n_stimuli is not an integer, a duration, dt or sigma is not a
        number, or seed is of an unsupported type.
    ValueError
        If n_trials < 1, n_stimuli < 2, dt, sample, test or decision is not > 0,
        fixation, delay or sigma is negative, or a duration is not a whole multiple of
        dt.

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.delayed_match_to_sample(100, seed=0)
    >>> bool(((ds.sample == ds.test) == ds.match).all()), bool((ds.choice == ~ds.match).all())
    (True, True)
    """
    n_trials = positive_int("n_trials", n_trials)
    dt = positive_scalar("dt", dt)
    n_stim = positive_int("n_stimuli", n_stimuli)
    if n_stim < 2:
        raise ValueError(f"n_stimuli must be >= 2 (a match needs a non-match); got "
                         f"{n_stim}: use n_stimuli=2 or more")
    sigma = nonnegative_scalar("sigma", sigma)
    T, per, labels = _periods(dt, ("fixation", fixation, True), ("sample", sample, False),
                              ("delay", delay, True), ("test", test, False),
                              ("decision", decision, False))
    rng, seed_attr = _rng(seed)
    choice = rng.integers(0, 2, n_trials)  # 0 match, 1 non-match
    sample_idx = rng.integers(0, n_stim, n_trials)
    offset = rng.integers(1, n_stim, n_trials)  # drawn on every trial: a fixed order
    test_idx = np.where(choice == 0, sample_idx, (sample_idx + offset) % n_stim)
    s_sl, t_sl = per["sample"], per["test"]
    noise_s = rng.standard_normal((n_trials, s_sl.stop - s_sl.start, n_stim))
    noise_t = rng.standard_normal((n_trials, t_sl.stop - t_sl.start, n_stim))

    theta = 2 * np.pi * np.arange(n_stim) / n_stim
    code = (1 + np.cos(theta[None, :] - theta[:, None])) / 2  # code[stimulus, channel]
    code[np.abs(code) < 1e-12] = 0.0  # cos(pi) rounding: exactly 0 for two stimuli
    inputs = np.zeros((n_trials, T, 1 + n_stim))
    inputs[:, :per["decision"].start, 0] = 1.0
    std = _noise_std(sigma, dt)
    inputs[:, s_sl, 1:] = code[sample_idx][:, None, :] + std * noise_s
    inputs[:, t_sl, 1:] = code[test_idx][:, None, :] + std * noise_t
    targets = _one_hot_decision(n_trials, T, 3, choice, per["decision"])
    return _dataset(
        "delayed_match_to_sample", dt=dt, inputs=inputs, targets=targets,
        input_names=["fixation"] + [f"stimulus {j + 1}" for j in range(n_stim)],
        output_names=["fixation", "match", "non-match"],
        conditions={
            "sample": (sample_idx, {"long_name": "sample stimulus index"}),
            "test": (test_idx, {"long_name": "test stimulus index"}),
            "match": (choice == 0, {"long_name": "test matches sample"}),
            "choice": (choice, {"long_name": "correct choice (0 match, 1 non-match; "
                                "its output is 1 + choice)"})},
        period_labels=labels, decision=per["decision"], loss="cross_entropy",
        seed=seed_attr,
        attrs={"n_stimuli": n_stim, **_durations(fixation=fixation, sample=sample,
                                                  delay=delay, test=test,
                                                  decision=decision, sigma=sigma)})


_ROMO_PAIRS = ((18, 10), (22, 14), (26, 18), (30, 22), (34, 26))


def parametric_working_memory(n_trials, *, dt=0.02, pairs=_ROMO_PAIRS, fixation=0.5,
                              stimulus=0.5, delay=1.0, decision=0.1, sigma=1.0,
                              seed=None):
    """Parametric working memory: compare the frequency of a vibration f1 with that of a
    second one, f2, given after a delay (Romo, Brody, Hernandez & Lemus 1999; neurogym's
    DelayComparison).

    Periods: fixation, f1, delay, f2, decision (the two stimuli last ``stimulus``).
    Inputs: ``"fixation"`` (1 until the decision period); ``"stimulus"``, the frequency
    scaled as neurogym does to (1 + (f - f_min)/(f_max - f_min))/2 in [0.5, 1] (f_min,
    f_max over all pairs) during each stimulus, plus Gaussian noise of standard
    deviation sigma / sqrt(dt in ms) per sample, 0 elsewhere. Each trial draws a pair
    uniformly and its order at random. Outputs ``"fixation"``, ``"f1 > f2"``,
    ``"f1 < f2"``: one-hot targets, class 0 before the decision period and 1 + choice
    during it (choice 0 when f1 > f2); mask 1 everywhere; ``response`` is the decision
    period.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    dt : float, seconds
        Sample spacing.
    pairs : array_like, shape (n_pairs, 2), Hz
        Frequency pairs, the two of a pair different (default: Romo's 10-34 Hz with
        |f1 - f2| = 8 Hz, as in neurogym).
    fixation, stimulus, delay, decision : float, seconds
        Period durations, whole multiples of dt; fixation and delay may be 0.
    sigma : float, >= 0
        Input noise in neurogym's units (per-sample std sigma / sqrt(dt in ms)).
    seed : int, numpy Generator or None
        Seed of every draw (conditions, then noise).

    Returns
    -------
    xarray.Dataset
        ``inputs`` (trial, time, input: 2), ``targets`` and ``mask`` (trial, time,
        output: 3), ``response`` (trial, time); conditions ``f1``, ``f2`` (Hz) and
        ``choice`` along ``trial``; attrs task, dt, source, loss ("cross_entropy"), seed
        and the arguments above.

    Raises
    ------
    TypeError
        If n_trials is not an integer, a duration, dt or sigma is not a number, pairs
        is not numeric, or seed is of an unsupported type.
    ValueError
        If n_trials < 1, dt, stimulus or decision is not > 0, fixation, delay or sigma
        is negative, a duration is not a whole multiple of dt, or pairs is not of shape
        (n_pairs, 2) with finite frequencies > 0 that differ within each pair.

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.parametric_working_memory(100, seed=0)
    >>> bool(((ds.f1 < ds.f2) == ds.choice).all()), sorted(set(ds.f1.values.tolist()))[:3]
    (True, [10, 14, 18])
    """
    n_trials = positive_int("n_trials", n_trials)
    dt = positive_scalar("dt", dt)
    raw = as_float_array("pairs", pairs, ndim=2)
    if raw.shape[0] < 1 or raw.shape[1] != 2:
        raise ValueError(f"pairs must have shape (n_pairs, 2), n_pairs >= 1 (one (f1, f2) "
                         f"pair a row); got shape {raw.shape}")
    if np.any(raw <= 0):
        i = tuple(int(k) for k in np.argwhere(raw <= 0)[0])
        raise ValueError(f"pairs must hold frequencies > 0 Hz; got {raw[i]:g} at {i}")
    same = np.flatnonzero(raw[:, 0] == raw[:, 1])
    if same.size:
        raise ValueError(f"pairs must differ within each pair (else f1 > f2 is undefined); "
                         f"row {same[0]} is {raw[same[0]].tolist()}")
    sigma = nonnegative_scalar("sigma", sigma)
    T, per, labels = _periods(dt, ("fixation", fixation, True),
                              ("f1", stimulus, False, "stimulus"), ("delay", delay, True),
                              ("f2", stimulus, False, "stimulus"),
                              ("decision", decision, False))
    rng, seed_attr = _rng(seed)
    row = rng.integers(0, raw.shape[0], n_trials)
    order = rng.integers(0, 2, n_trials)
    f1, f2 = raw[row, order], raw[row, 1 - order]
    s1, s2 = per["f1"], per["f2"]
    noise1 = rng.standard_normal((n_trials, s1.stop - s1.start))
    noise2 = rng.standard_normal((n_trials, s2.stop - s2.start))
    choice = np.where(f1 > f2, 0, 1)

    fmin, fmax = raw.min(), raw.max()

    def scaled(f):
        return (1 + (f - fmin) / (fmax - fmin)) / 2

    inputs = np.zeros((n_trials, T, 2))
    inputs[:, :per["decision"].start, 0] = 1.0
    std = _noise_std(sigma, dt)
    inputs[:, s1, 1] = scaled(f1)[:, None] + std * noise1
    inputs[:, s2, 1] = scaled(f2)[:, None] + std * noise2
    targets = _one_hot_decision(n_trials, T, 3, choice, per["decision"])
    as_int = np.all(raw == np.round(raw))  # whole-Hz frequencies stay integers
    return _dataset(
        "parametric_working_memory", dt=dt, inputs=inputs, targets=targets,
        input_names=["fixation", "stimulus"],
        output_names=["fixation", "f1 > f2", "f1 < f2"],
        conditions={
            "f1": (f1.astype(np.int64) if as_int else f1,
                   {"long_name": "first frequency", "units": "Hz"}),
            "f2": (f2.astype(np.int64) if as_int else f2,
                   {"long_name": "second frequency", "units": "Hz"}),
            "choice": (choice, {"long_name": "correct choice (0: f1 > f2, 1: f1 < f2; "
                                "its output is 1 + choice)"})},
        period_labels=labels, decision=per["decision"], loss="cross_entropy",
        seed=seed_attr,
        attrs={**_durations(fixation=fixation, stimulus=stimulus, delay=delay,
                            decision=decision, sigma=sigma), "f_min": fmin, "f_max": fmax})


def flipflop(n_trials, *, n_bits=3, duration=1.0, dt=0.01, p_pulse=0.04, seed=None):
    """The N-bit flip-flop: remember the sign of the last pulse on each of n_bits
    independent channels (Sussillo & Barak 2013).

    Inputs ``"bit 1"`` ... ``"bit n"``: 0, except for pulses of +1 or -1 one sample long,
    each sample of each bit independently a pulse with probability ``p_pulse`` and its
    sign + or - with probability 1/2. Targets (outputs named as the inputs): the sign of
    the most recent pulse of that bit, the pulse at sample k included (target k is the
    output after the step that input sample k drives), and 0 before the bit's first
    pulse (as in Golub & Sussillo's FixedPointFinder flip-flop). The mask is 0 there and
    1 from the first pulse on: before any pulse a bit holds no memory, and a loss on
    those samples asks the network for a third, "no pulse yet" state per bit (3^n
    states, not the 2^n memories of the task; trained so, a 3-bit network of 100 units
    had 6 of the 8 memories as stable fixed points after 3000 Adam steps, against all 8
    with the mask). Loss "mse"; no response period and no ``period`` coordinate.

    Parameters
    ----------
    n_trials : int
        Number of trials (>= 1).
    n_bits : int
        Number of bits (>= 1), one input and one output each.
    duration : float, seconds
        Trial length, a whole multiple of dt (T = duration / dt samples).
    dt : float, seconds
        Sample spacing.
    p_pulse : float, in (0, 1]
        Probability of a pulse per sample and bit (mean interval dt / p_pulse).
    seed : int, numpy Generator or None
        Seed of every draw (pulse times, then signs).

    Returns
    -------
    xarray.Dataset
        ``inputs`` (trial, time, input: n_bits), ``targets`` and ``mask`` (trial, time,
        output: n_bits) (mask 0 before a bit's first pulse); attrs task, dt, source,
        loss ("mse"), seed, n_bits, duration, p_pulse.

    Raises
    ------
    TypeError
        If n_trials or n_bits is not an integer, duration, dt or p_pulse is not a
        number, or seed is of an unsupported type.
    ValueError
        If n_trials or n_bits < 1, duration or dt is not > 0, duration is not a whole
        multiple of dt, or p_pulse is not in (0, 1].

    Examples
    --------
    >>> import ctrnn
    >>> ds = ctrnn.tasks.flipflop(2, n_bits=3, seed=0)
    >>> ds.inputs.shape, ds.attrs["loss"], sorted(set(ds.targets.values.ravel().tolist()))
    ((2, 100, 3), 'mse', [-1.0, 0.0, 1.0])
    """
    n_trials = positive_int("n_trials", n_trials)
    n_bits = positive_int("n_bits", n_bits)
    dt = positive_scalar("dt", dt)
    p = positive_scalar("p_pulse", p_pulse)
    if p > 1:
        raise ValueError(f"p_pulse is a probability per sample and must be in (0, 1]; got "
                         f"{p:g}: for a mean interval of s seconds use p_pulse = dt / s")
    T, _, labels = _periods(dt, ("duration", duration, False))
    rng, seed_attr = _rng(seed)
    pulse = rng.random((n_trials, T, n_bits)) < p
    sign = rng.choice(np.array([-1.0, 1.0]), (n_trials, T, n_bits))
    inputs = np.where(pulse, sign, 0.0)
    # the sign of the latest pulse at or before each sample: carry its index forward
    idx = np.where(pulse, np.arange(T)[None, :, None], -1)
    last = np.maximum.accumulate(idx, axis=1)
    targets = np.where(last >= 0,
                       np.take_along_axis(inputs, np.maximum(last, 0), axis=1), 0.0)
    names = [f"bit {i + 1}" for i in range(n_bits)]
    return _dataset(
        "flipflop", dt=dt, inputs=inputs, targets=targets, input_names=names,
        output_names=names, conditions={}, period_labels=None, loss="mse", seed=seed_attr,
        attrs={"n_bits": n_bits, **_durations(duration=duration), "p_pulse": p},
        mask=last >= 0)
