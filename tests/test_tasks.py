"""Cognitive tasks (ctrnn.tasks.cognitive): the Dataset layout the trainer relies on, the
seeding, the timing counted in samples, and each task's conditions against the inputs and
targets, checked by independent NumPy reconstructions. The benchmark time series are
tested in test_esn.py."""
import numpy as np
import pytest
import xarray as xr

import ctrnn
from ctrnn import tasks

DECISION = {
    "perceptual_decision": (tasks.perceptual_decision,
                            ["fixation", "evidence 1", "evidence 2"],
                            ["fixation", "choice 1", "choice 2"], {"coherence", "choice"}),
    "context_integration": (tasks.context_integration,
                            ["fixation", "motion 1", "motion 2", "colour 1", "colour 2",
                             "context motion", "context colour"],
                            ["fixation", "choice 1", "choice 2"],
                            {"context", "coherence_motion", "coherence_colour", "choice"}),
    "delayed_match_to_sample": (tasks.delayed_match_to_sample,
                                ["fixation", "stimulus 1", "stimulus 2"],
                                ["fixation", "match", "non-match"],
                                {"sample", "test", "match", "choice"}),
    "parametric_working_memory": (tasks.parametric_working_memory,
                                  ["fixation", "stimulus"],
                                  ["fixation", "f1 > f2", "f1 < f2"], {"f1", "f2", "choice"}),
}
ALL = {**{k: v[0] for k, v in DECISION.items()}, "flipflop": tasks.flipflop}


def _check_common(ds, task, dt, in_names, out_names):
    assert ds.attrs["task"] == task and ds.attrs["dt"] == dt
    assert isinstance(ds.attrs["source"], str) and len(ds.attrs["source"]) > 10
    for v in ds.attrs.values():  # NetCDF-safe attrs: scalars or strings
        assert isinstance(v, (int, float, str)) and not isinstance(v, bool)
    n, T = ds.sizes["trial"], ds.sizes["time"]
    assert ds.inputs.dims == ("trial", "time", "input")
    assert ds.targets.dims == ds.mask.dims == ("trial", "time", "output")
    assert ds.inputs.dtype == ds.targets.dtype == ds.mask.dtype == np.float64
    assert ds.sizes["input"] == len(in_names) and ds.sizes["output"] == len(out_names)
    assert ds.input.values.tolist() == in_names and ds.output.values.tolist() == out_names
    assert ds.input.dtype.kind == ds.output.dtype.kind == "U"
    np.testing.assert_array_equal(ds.time.values, dt * np.arange(T))
    assert ds.time.attrs["units"] == "s"
    np.testing.assert_array_equal(ds.trial.values, np.arange(n))
    assert np.all(np.isfinite(ds.inputs.values)) and np.all(np.isfinite(ds.targets.values))
    if task != "flipflop":  # flipflop: see test_flipflop_targets_follow_the_last_pulse
        np.testing.assert_array_equal(ds.mask.values, 1.0)


@pytest.mark.parametrize("task", sorted(DECISION))
def test_decision_task_layout(task):
    fn, in_names, out_names, conds = DECISION[task]
    ds = fn(7, seed=3)
    _check_common(ds, task, 0.02, in_names, out_names)
    assert set(ds.data_vars) == {"inputs", "targets", "mask", "response"}
    assert ds.attrs["loss"] == "cross_entropy" and ds.attrs["seed"] == 3
    assert ds.response.dims == ("trial", "time") and ds.response.dtype == bool
    for c in conds:
        assert ds[c].dims == ("trial",), c
    assert ds.choice.dtype.kind == "i" and set(np.unique(ds.choice)) <= {0, 1}
    # one-hot class labels at every sample
    t = ds.targets.values
    assert set(np.unique(t)) == {0.0, 1.0}
    np.testing.assert_array_equal(t.sum(axis=-1), 1.0)
    # the choice is judged where the targets say it: argmax over the response period
    mean_t = ds.targets.where(ds.response).mean("time")
    np.testing.assert_array_equal(mean_t.argmax("output").values, 1 + ds.choice.values)
    assert ds.period.dims == ("time",)
    np.testing.assert_array_equal(ds.response.values,
                                  np.broadcast_to(ds.period.values == "decision",
                                                  ds.response.shape))


def test_flipflop_layout():
    ds = tasks.flipflop(5, n_bits=4, duration=0.5, dt=0.01, p_pulse=0.1, seed=2)
    names = [f"bit {i}" for i in range(1, 5)]
    _check_common(ds, "flipflop", 0.01, names, names)
    assert set(ds.data_vars) == {"inputs", "targets", "mask"}
    assert ds.attrs["loss"] == "mse" and ds.attrs["seed"] == 2
    assert ds.sizes["time"] == 50 and ds.attrs["n_bits"] == 4
    assert set(np.unique(ds.inputs)) <= {-1.0, 0.0, 1.0}
    assert set(np.unique(ds.targets)) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("task", sorted(ALL))
def test_same_seed_same_dataset_other_seed_differs(task):
    fn = ALL[task]
    a, b, c = fn(20, seed=11), fn(20, seed=11), fn(20, seed=12)
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a.inputs.values, c.inputs.values)
    # a Generator in the same state repeats; None draws fresh entropy, recorded in attrs
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    xr.testing.assert_identical(fn(3, seed=g1), fn(3, seed=g2))
    fresh = fn(3, seed=None)
    assert not np.array_equal(fresh.inputs.values, fn(3, seed=None).inputs.values)
    xr.testing.assert_identical(fn(3, seed=fresh.attrs["seed"]), fresh)


@pytest.mark.parametrize("task", sorted(ALL))
def test_writes_to_netcdf(task, tmp_path):
    ds = ALL[task](3, seed=0)
    ds.to_netcdf(tmp_path / "t.nc")
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "t.nc"), ds)


def _counts(ds):
    """Samples per period, in order of appearance."""
    labels = ds.period.values.tolist()
    return {p: labels.count(p) for p in dict.fromkeys(labels)}


def _check_decision_targets(ds, decision_start):
    """Class 0 before the decision period, 1 + choice in it; the fixation input 1
    before it and 0 in it."""
    T = ds.sizes["time"]
    label = ds.targets.values.argmax(-1)
    np.testing.assert_array_equal(label[:, :decision_start], 0)
    np.testing.assert_array_equal(label[:, decision_start:],
                                  np.repeat(1 + ds.choice.values[:, None],
                                            T - decision_start, axis=1))
    fix = ds.inputs.sel(input="fixation").values
    np.testing.assert_array_equal(fix[:, :decision_start], 1.0)
    np.testing.assert_array_equal(fix[:, decision_start:], 0.0)
    np.testing.assert_array_equal(ds.response.values.sum(axis=1), T - decision_start)
    assert not ds.response.values[:, :decision_start].any()


def test_perceptual_decision_timing():
    ds = tasks.perceptual_decision(6, dt=0.01, fixation=0.2, stimulus=0.5, delay=0.3,
                                   decision=0.15, seed=1)
    assert _counts(ds) == {"fixation": 20, "stimulus": 50, "delay": 30, "decision": 15}
    assert ds.sizes["time"] == 115
    _check_decision_targets(ds, 100)
    ev = ds.inputs.sel(input=["evidence 1", "evidence 2"]).values
    assert np.all(ev[:, 20:70] != 0.0)  # noisy during the stimulus, zero elsewhere
    np.testing.assert_array_equal(ev[:, :20], 0.0)
    np.testing.assert_array_equal(ev[:, 70:], 0.0)
    # delay=0 and fixation=0 are allowed: no such samples
    ds0 = tasks.perceptual_decision(2, fixation=0.0, delay=0.0, seed=0)
    assert _counts(ds0) == {"stimulus": 40, "decision": 5}


def test_perceptual_decision_evidence_follows_choice():
    ds = tasks.perceptual_decision(400, coherences=(51.2,), sigma=0.05, seed=4)
    diff = (ds.inputs.sel(input="evidence 1")
            - ds.inputs.sel(input="evidence 2")).sum("time").values
    np.testing.assert_array_equal(np.where(diff > 0, 0, 1), ds.choice.values)
    assert 0.35 < ds.choice.values.mean() < 0.65  # both choices drawn
    # noiseless: the two channels are (1 +- coh/100)/2 for the correct/other choice
    clean = tasks.perceptual_decision(50, sigma=0.0, seed=2)
    stim = clean.period.values == "stimulus"
    for i in range(50):
        coh, ch = float(clean.coherence[i]), int(clean.choice[i])
        ev = clean.inputs.values[i][stim][:, 1:]
        np.testing.assert_allclose(ev[:, ch], (1 + coh / 100) / 2, rtol=0, atol=1e-15)
        np.testing.assert_allclose(ev[:, 1 - ch], (1 - coh / 100) / 2, rtol=0, atol=1e-15)
    assert set(np.unique(clean.coherence)) <= {0, 3.2, 6.4, 12.8, 25.6, 51.2}


def test_input_noise_is_neurogyms_and_white():
    """Per-sample std sigma / sqrt(dt in ms); so the integral over the stimulus has std
    sigma * sqrt(T * 1 ms) whatever dt."""
    sums = {}
    for dt in (0.01, 0.04):
        ds = tasks.perceptual_decision(4000, dt=dt, coherences=(0,), sigma=2.0,
                                       fixation=0.0, stimulus=0.8, decision=0.08, seed=7)
        x = ds.inputs.sel(input="evidence 1").values[:, ds.period.values == "stimulus"] - 0.5
        assert abs(x.std() / (2.0 / np.sqrt(dt * 1000)) - 1) < 0.02
        sums[dt] = (x * dt).sum(axis=1).std()
    for s in sums.values():
        assert abs(s / (2.0 * np.sqrt(0.8e-3)) - 1) < 0.05


def test_context_integration_choice_follows_cued_modality():
    ds = tasks.context_integration(300, coherences=(5, 50), seed=3)
    assert _counts(ds) == {"fixation": 15, "stimulus": 40, "delay": 30, "decision": 5}
    _check_decision_targets(ds, 85)
    ctx = ds.context.values
    cm, cc = ds.coherence_motion.values, ds.coherence_colour.values
    assert set(np.unique(ctx)) == {0, 1}
    assert set(np.unique(np.abs(np.r_[cm, cc]))) == {5.0, 50.0}
    cued = np.where(ctx == 0, cm, cc)
    np.testing.assert_array_equal(ds.choice.values, (cued < 0).astype(int))
    # the choice is not always the other modality's (the two are drawn independently)
    other = np.where(ctx == 0, cc, cm)
    assert np.any((other < 0) != (cued < 0))
    # context cue: one-hot over the whole trial
    cue = ds.inputs.sel(input=["context motion", "context colour"]).values
    np.testing.assert_array_equal(cue.argmax(-1), np.repeat(ctx[:, None], ds.sizes["time"], 1))
    np.testing.assert_array_equal(cue.sum(-1), 1.0)


def test_context_integration_noiseless_evidence():
    ds = tasks.context_integration(40, sigma=0.0, fixation=0.1, delay=0.0, seed=9)
    stim = ds.period.values == "stimulus"
    for i in range(40):
        x = ds.inputs.values[i][stim]
        for k, c in ((1, float(ds.coherence_motion[i])), (3, float(ds.coherence_colour[i]))):
            np.testing.assert_allclose(x[:, k], (1 + c / 100) / 2, atol=1e-15)
            np.testing.assert_allclose(x[:, k + 1], (1 - c / 100) / 2, atol=1e-15)
    np.testing.assert_array_equal(ds.inputs.values[:, ~stim, 1:5], 0.0)


@pytest.mark.parametrize("n_stimuli", [2, 5])
def test_delayed_match_to_sample(n_stimuli):
    ds = tasks.delayed_match_to_sample(300, n_stimuli=n_stimuli, dt=0.05, sigma=0.0,
                                       fixation=0.1, sample=0.2, delay=0.5, test=0.15,
                                       decision=0.3, seed=6)
    assert _counts(ds) == {"fixation": 2, "sample": 4, "delay": 10, "test": 3, "decision": 6}
    _check_decision_targets(ds, 19)
    s, t, m = ds.sample.values, ds.test.values, ds.match.values
    assert ds.match.dtype == bool and 0.3 < m.mean() < 0.7
    np.testing.assert_array_equal(m, s == t)
    np.testing.assert_array_equal(ds.choice.values, np.where(m, 0, 1))
    assert set(np.unique(np.r_[s, t])) == set(range(n_stimuli))
    stim = ds.inputs.values[:, :, 1:]
    # noiseless: the stimulus channel with the largest input is the stimulus shown
    np.testing.assert_array_equal(stim[:, 2:6].argmax(-1), np.repeat(s[:, None], 4, 1))
    np.testing.assert_array_equal(stim[:, 16:19].argmax(-1), np.repeat(t[:, None], 3, 1))
    np.testing.assert_allclose(stim[:, 2].max(-1), 1.0)
    for sl in (slice(0, 2), slice(6, 16), slice(19, None)):
        np.testing.assert_array_equal(stim[:, sl], 0.0)
    if n_stimuli == 2:  # one-hot, as in neurogym
        np.testing.assert_array_equal(stim[np.arange(300), 2, s], 1.0)
        np.testing.assert_array_equal(stim[np.arange(300), 2, 1 - s], 0.0)


def test_parametric_working_memory():
    ds = tasks.parametric_working_memory(300, sigma=0.0, seed=8)
    assert _counts(ds) == {"fixation": 25, "f1": 25, "delay": 50, "f2": 25, "decision": 5}
    _check_decision_targets(ds, 125)
    f1, f2 = ds.f1.values, ds.f2.values
    np.testing.assert_array_equal(ds.choice.values, (f1 < f2).astype(int))
    assert set(np.abs(f1 - f2)) == {8}
    assert set(zip(np.maximum(f1, f2), np.minimum(f1, f2))) == {
        (18, 10), (22, 14), (26, 18), (30, 22), (34, 26)}
    assert 0.35 < ds.choice.values.mean() < 0.65  # both orders drawn
    x = ds.inputs.sel(input="stimulus").values
    np.testing.assert_allclose(x[:, 25], (1 + (f1 - 10) / 24) / 2)
    np.testing.assert_allclose(x[:, 100], (1 + (f2 - 10) / 24) / 2)
    np.testing.assert_array_equal((x[:, 25] > x[:, 100]).astype(int), 1 - ds.choice.values)
    for sl in (slice(0, 25), slice(50, 100), slice(125, None)):
        np.testing.assert_array_equal(x[:, sl], 0.0)
    # other pairs, given in either order
    ds2 = tasks.parametric_working_memory(50, pairs=[[5.5, 9.0], [30, 20]], seed=1)
    assert set(np.unique(np.r_[ds2.f1, ds2.f2])) <= {5.5, 9.0, 20.0, 30.0}
    np.testing.assert_array_equal(ds2.choice.values, (ds2.f1.values < ds2.f2.values))


def _flipflop_reference(inputs):
    """The target by a loop: the sign of the latest pulse so far, 0 before the first."""
    out = np.zeros_like(inputs)
    for i in range(inputs.shape[0]):
        for b in range(inputs.shape[2]):
            state = 0.0
            for k in range(inputs.shape[1]):
                if inputs[i, k, b] != 0:
                    state = inputs[i, k, b]
                out[i, k, b] = state
    return out


def test_flipflop_targets_follow_the_last_pulse():
    ds = tasks.flipflop(6, n_bits=3, duration=2.0, dt=0.01, p_pulse=0.03, seed=5)
    assert ds.sizes["time"] == 200
    np.testing.assert_array_equal(ds.targets.values, _flipflop_reference(ds.inputs.values))
    pulses = ds.inputs.values != 0
    # the loss counts a bit from its first pulse on
    np.testing.assert_array_equal(ds.mask.values, np.cumsum(pulses, axis=1) > 0)
    assert 0.02 < pulses.mean() < 0.04  # p_pulse per sample and bit
    assert 0.4 < (ds.inputs.values[pulses] > 0).mean() < 0.6
    # a dense case: every sample a pulse, the target is the input itself
    dense = tasks.flipflop(2, n_bits=2, duration=0.1, dt=0.01, p_pulse=1.0, seed=0)
    np.testing.assert_array_equal(dense.targets.values, dense.inputs.values)
    assert np.all(dense.inputs.values != 0)


def test_durations_that_are_whole_steps_up_to_rounding():
    ds = tasks.perceptual_decision(2, dt=0.1, fixation=0.3, stimulus=0.7, decision=0.1,
                                   seed=0)  # 0.3 / 0.1 = 2.9999999999999996
    assert _counts(ds) == {"fixation": 3, "stimulus": 7, "decision": 1}
    ds = tasks.flipflop(1, duration=np.float32(0.3), dt=np.float32(0.1), seed=0)
    assert ds.sizes["time"] == 3


BAD = [
    (tasks.perceptual_decision, dict(n_trials=0), ValueError, "n_trials must be >= 1"),
    (tasks.perceptual_decision, dict(n_trials=2.5), TypeError, "n_trials"),
    (tasks.perceptual_decision, dict(dt=-0.01), ValueError, "dt must be a finite number > 0"),
    (tasks.perceptual_decision, dict(stimulus=0.75), ValueError,
     r"stimulus must be a whole multiple of dt = 0.02 s; got stimulus = 0.75 s .*"
     r"use stimulus=0.76"),
    (tasks.perceptual_decision, dict(stimulus=0.0), ValueError, "stimulus must be a finite"),
    (tasks.perceptual_decision, dict(decision=0.0), ValueError, "decision must be a finite"),
    (tasks.perceptual_decision, dict(fixation=0.005), ValueError,
     "fixation must be a whole multiple of dt"),
    (tasks.perceptual_decision, dict(delay=-0.1), ValueError, "delay must be a finite number >= 0"),
    (tasks.perceptual_decision, dict(sigma=-1.0), ValueError, "sigma must be a finite number >= 0"),
    (tasks.perceptual_decision, dict(sigma="1"), TypeError, "sigma"),
    (tasks.perceptual_decision, dict(coherences=(10, 120)), ValueError,
     r"coherences must lie in \[0, 100\].*got 120"),
    (tasks.perceptual_decision, dict(coherences=(-5,)), ValueError, "coherences must lie in"),
    (tasks.perceptual_decision, dict(coherences=(np.nan,)), ValueError,
     "coherences contains 1 non-finite"),
    (tasks.perceptual_decision, dict(coherences=()), ValueError, "coherences must hold"),
    (tasks.perceptual_decision, dict(seed=-1), TypeError, "seed must be"),
    (tasks.context_integration, dict(coherences=(0, 5)), ValueError,
     r"coherences must lie in \(0, 100\].*got 0"),
    (tasks.context_integration, dict(stimulus=0.75), ValueError, "stimulus must be a whole"),
    (tasks.delayed_match_to_sample, dict(n_stimuli=1), ValueError,
     "n_stimuli must be >= 2.*got 1"),
    (tasks.delayed_match_to_sample, dict(test=0.0), ValueError, "test must be a finite"),
    (tasks.delayed_match_to_sample, dict(sample=0.51), ValueError, "sample must be a whole"),
    (tasks.parametric_working_memory, dict(pairs=[[10, 10]]), ValueError,
     r"pairs must differ within each pair.*row 0 is \[10.0, 10.0\]"),
    (tasks.parametric_working_memory, dict(pairs=[10, 20]), ValueError, "pairs must have 2"),
    (tasks.parametric_working_memory, dict(pairs=[[10, 20, 30]]), ValueError,
     r"pairs must have shape \(n_pairs, 2\).*got shape \(1, 3\)"),
    (tasks.parametric_working_memory, dict(pairs=[[-10, 20]]), ValueError,
     "pairs must hold frequencies > 0 Hz; got -10"),
    (tasks.parametric_working_memory, dict(stimulus=0.03), ValueError, "stimulus must be"),
    (tasks.flipflop, dict(n_bits=0), ValueError, "n_bits must be >= 1"),
    (tasks.flipflop, dict(p_pulse=1.5), ValueError, r"p_pulse .* must be in \(0, 1\]; got 1.5"),
    (tasks.flipflop, dict(p_pulse=0.0), ValueError, "p_pulse must be a finite number > 0"),
    (tasks.flipflop, dict(duration=1.005), ValueError, "duration must be a whole multiple"),
    (tasks.flipflop, dict(dt=float("inf")), ValueError, "dt must be a finite number > 0"),
]


@pytest.mark.parametrize("fn, kwargs, exc, match", BAD,
                         ids=[f"{b[0].__name__}-{next(iter(b[1]))}" for b in BAD])
def test_bad_arguments_name_the_argument(fn, kwargs, exc, match):
    kwargs = {"n_trials": 2, **kwargs}
    n = kwargs.pop("n_trials")
    with pytest.raises(exc, match=match):
        fn(n, **kwargs)


def test_package_keeps_the_series_and_exports():
    """ctrnn.tasks became a package: the old names work, __all__ lists the new ones."""
    assert ctrnn.tasks.narma10 is tasks.series.narma10
    for name in ("mackey_glass", "narma10", "oscillators", "nrmse"):
        assert callable(getattr(ctrnn.tasks, name))
    assert set(tasks.__all__) == {
        "mackey_glass", "narma10", "oscillators", "nrmse", "perceptual_decision",
        "context_integration", "delayed_match_to_sample", "parametric_working_memory",
        "flipflop", "adding_problem", "copy_memory", "sequence_prediction", "multitask",
        "teacher_student"}
    for name in tasks.__all__:
        assert ">>>" in getattr(tasks, name).__doc__, name
