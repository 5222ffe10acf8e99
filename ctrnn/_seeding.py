"""Seeds -> reproducible streams. A trial's draws depend only on (seed, purpose, trial)."""
from __future__ import annotations

import numbers

import numpy as np

NOISE, H0 = 0, 1  # purposes: one child stream family each


def seed_sequence(seed):
    """An int, a SeedSequence, a Generator or None -> (SeedSequence, attrs value).

    None draws fresh entropy; the returned attrs value records it so the run can be
    repeated (pass it back as ``seed``).
    """
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(0, 2**63)))
    elif seed is None:
        ss = np.random.SeedSequence()
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        ss = np.random.SeedSequence(int(seed))
    else:
        raise TypeError(f"seed must be a non-negative int, a numpy Generator or None; "
                        f"got {seed!r}")
    ent = ss.entropy
    return ss, (int(ent) if isinstance(ent, int) and ent < 2**63 else str(ent))


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
