"""Seeds -> reproducible streams. A trial's draws depend only on (seed, purpose, trial)."""
from __future__ import annotations

import numbers
import re

import numpy as np

# purposes: one child stream family each (EVALUATION: the fixed noise of evaluations,
# such as the curvature and losses of ctrnn.train.interference)
NOISE, H0, BATCH, TRAIN_NOISE, INIT, SAMPLING, EVALUATION = 0, 1, 2, 3, 4, 5, 6


def seed_sequence(seed):
    """An int, a SeedSequence, a Generator, a recorded seed string or None ->
    (SeedSequence, attrs value).

    None draws fresh entropy. The attrs value records the sequence so that the run can be
    repeated by passing it back as ``seed``: an int when the entropy fits in int64 and
    there is no spawn key, else a string "ENTROPY" or "ENTROPY/k1/k2/..." with the spawn
    key, ENTROPY being one integer or several separated by commas (NetCDF attributes
    hold at most 64-bit integers).
    """
    if isinstance(seed, np.ndarray) and seed.ndim == 0:
        seed = seed.item()  # a 0-d array is its number
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(0, 2**63)))
    elif seed is None:
        ss = np.random.SeedSequence()
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        ss = np.random.SeedSequence(int(seed))
    elif isinstance(seed, str) and _RECORDED.fullmatch(seed):
        ent, *key = seed.split("/")
        ent = [int(e) for e in ent.split(",")]
        ss = np.random.SeedSequence(ent[0] if len(ent) == 1 else ent,
                                    spawn_key=tuple(int(k) for k in key))
    else:
        raise TypeError(f"seed must be a non-negative int, a numpy Generator or "
                        f"SeedSequence, a seed recorded in attrs, or None; got {seed!r}")
    ent, key = ss.entropy, tuple(int(k) for k in ss.spawn_key)
    if np.ndim(ent) == 0:  # a Python or numpy integer
        ent = int(ent)
        if ent < 2**63 and not key:
            return ss, ent
    ent = str(ent) if isinstance(ent, int) else ",".join(str(int(e)) for e in ent)
    return ss, "/".join([ent] + [str(k) for k in key])


# "ENTROPY[/k1/k2...]", ENTROPY one integer or several separated by commas
_RECORDED = re.compile(r"\d+(,\d+)*(/\d+)*")


def child(ss, purpose, trial):
    """The SeedSequence for (purpose, trial) under ``ss``."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (purpose, trial))


def trial_keys(ss, trials, first_trial=0):
    """uint64 keys of the counter-based noise generator, one per trial."""
    return np.array([child(ss, NOISE, first_trial + t).generate_state(1, np.uint64)[0]
                     for t in range(trials)], dtype=np.uint64)


def generator(seed):
    """A numpy Generator from an int, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed)[0])
