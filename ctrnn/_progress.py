"""A minimal progress bar on stderr for long runs (no dependency needed)."""
from __future__ import annotations

import sys
import time


class Progress:
    """Report progress of ``total`` units.

    enabled: True (always), False (never), None (only once the run has taken 2 s and is
    expected to take 1 s more), or a callable ``f(done, total)`` called after each chunk.
    """

    def __init__(self, total, enabled=None, label="ctrnn", stream=None):
        self.total, self.enabled, self.label = total, enabled, label
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.first = None  # (time, done) at the first update: excludes compilation
        self.shown = False

    def update(self, done):
        if callable(self.enabled):
            self.enabled(done, self.total)
            return
        if self.enabled is False:
            return
        now = time.perf_counter()
        elapsed = now - self.t0
        if self.first is None:
            self.first = (now, done)
        t1, d1 = self.first
        if done > d1:  # speed measured after the first chunk, which includes compilation
            eta = (now - t1) * (self.total - done) / (done - d1)
        else:
            eta = elapsed * (self.total - done) / max(done, 1)
        if self.enabled is None and not self.shown and (
                done == d1 or elapsed < 2.0 or eta < 1.0):
            return
        self.shown = True
        frac = done / max(self.total, 1)
        bar = "#" * int(30 * frac)
        self.stream.write(f"\r{self.label}: {100 * frac:5.1f}% |{bar:<30}| {done}/{self.total} "
                          f"[{elapsed:.1f} s elapsed, {eta:.1f} s left]")
        self.stream.flush()

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
