"""Progress of long runs through tqdm (``tqdm.auto``: a widget in notebooks, a bar on
stderr elsewhere), or through the user's callable."""
from __future__ import annotations

import sys
import time

_DELAY = 2.0  # progress=None: show a bar once a run has taken this long ...
_MIN_LEFT = 1.0  # ... and is expected to take this much longer
_LOG_STEP = 0.05  # stderr not a terminal: redraw at most every 5% of the run


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Report progress of ``total`` units; use as a context manager.

    enabled: True (always), False (never), None (only once the run has taken 2 s and is
    expected to take 1 s more, both counted after the first chunk, which includes
    compilation), or a callable ``f(done, total)`` called after each chunk. When the
    stream is not a terminal (a file, a CI log) the bar is redrawn at most every 5% of the
    run, so a long run writes a few dozen updates, not thousands; in notebooks
    ``tqdm.auto`` draws a widget.
    """

    def __init__(self, total, enabled=None, label="ctrnn", stream=None, unit="step"):
        self.total, self.enabled, self.label, self.unit = total, enabled, label, unit
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.first = None  # (time, done) at the first update
        self.bar = None
        self.next = 0
        self.step = 0
        self.live = True

    def _open(self, done):
        from tqdm.auto import tqdm

        # a terminal or a notebook widget redraws in place; anything else is a log
        self.live = _is_terminal(self.stream) or tqdm.__module__.startswith("tqdm.notebook")
        self.step = 0 if self.live else max(1, int(_LOG_STEP * self.total))
        self.bar = tqdm(total=self.total, initial=done, desc=self.label, file=self.stream,
                        unit=self.unit, mininterval=0.1 if self.live else 0.0,
                        miniters=None if self.live else 1, dynamic_ncols=self.live,
                        ascii=None if self.live else True)

    def update(self, done, **postfix):
        """Report ``done`` units; ``postfix`` (e.g. loss=0.3) is shown beside the bar."""
        if callable(self.enabled):
            self.enabled(done, self.total)
            return
        if self.enabled is False:
            return
        if self.bar is None:
            now = time.perf_counter()
            if self.first is None:
                self.first = (now, done)
            if self.enabled is None:
                t1, d1 = self.first
                left = (now - t1) * (self.total - done) / (done - d1) if done > d1 else 0.0
                if done == d1 or now - t1 < _DELAY or left < _MIN_LEFT:
                    return
            self._open(done)
            self.next = done + self.step
            return
        if done < self.next and done < self.total:
            return
        self.next = done + self.step
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        if done >= self.total and not self.live:
            self.bar.n = done  # close() draws the final state once, with its newline
            return
        self.bar.update(done - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
