"""Counter-based Gaussian noise: the draw for (trial key, step, neuron) is a pure function.

Each trial has a 64-bit key (derived in ``ctrnn._seeding`` from the user's seed and the
trial index). The uniform number with counter n is the n-th output of SplitMix64 started
at the key (Steele, Lea & Flood 2014; passes BigCrush), i.e. mix(key + (n + 1) * golden).
Normal deviates come in Box-Muller pairs. Because nothing is carried between draws, a
chunked run, a batch of any size and a single run of a trial all see identical noise.
"""
import math

import numpy as np

from ._jit import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi


@jit(inline="always")
def uniform(key, n):
    """Uniform on (0, 1]: the n-th SplitMix64 output from ``key`` (both uint64)."""
    z = key + (n + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (float(z >> _S11) + 1.0) * _TWO_M53


@jit
def add_noise(H, keys, step, scale):
    """H[b, i] += scale[i] * z for i < N = scale.size, z ~ N(0, 1) indexed by
    (keys[b], step, i).

    H : (B, >= N) state (h in its first N columns), keys : (B,) uint64, step : global
    step index, scale : (N,).
    """
    for b in range(H.shape[0]):
        add_noise_row(H, b, keys[b], step, scale, 0, scale.size)


@jit(inline="always")
def add_noise_row(H, row, key, step, scale, i0, i1):
    """``add_noise`` for the neurons i0 <= i < i1 of one trial (key), whose state is
    H[row]: the draws of a whole row restricted to those neurons. i0 even, and i1 even
    or >= N (the draws come in pairs (2 p, 2 p + 1))."""
    N = scale.size
    base = np.uint64(step) * np.uint64(2 * ((N + 1) // 2))
    for p in range(i0 // 2, (min(i1, N) + 1) // 2):
        n = base + np.uint64(2 * p)
        u1 = uniform(key, n)
        u2 = uniform(key, n + np.uint64(1))
        r = math.sqrt(-2.0 * math.log(u1))
        i = 2 * p
        H[row, i] += scale[i] * (r * math.cos(_TWO_PI * u2))
        if i + 1 < N:
            H[row, i + 1] += scale[i + 1] * (r * math.sin(_TWO_PI * u2))


@jit
def normals(key, step, n):
    """The n standard normals that ``add_noise`` draws for one trial at one step."""
    out = np.zeros((1, n))
    keys = np.empty(1, dtype=np.uint64)
    keys[0] = key
    add_noise(out, keys, step, np.ones(n))
    return out[0]
