"""Tasks: benchmark time series for reservoirs (NumPy arrays) and cognitive tasks for
training rate networks (xarray Datasets of inputs, targets and a loss mask over trial,
time and channel, with the trial conditions as coordinates). Every task is seeded.

- series: `mackey_glass`, `narma10`, `oscillators`, and the score `nrmse`;
- cognitive: `perceptual_decision`, `context_integration`, `delayed_match_to_sample`,
  `parametric_working_memory`, `flipflop` (layout and time convention in
  ``ctrnn.tasks.cognitive``);
- sequences (same layout, time in steps): `adding_problem`, `copy_memory` (delayed
  recall with a settable lag), `sequence_prediction` (next-step prediction of a series,
  for training with output feedback);
- continual learning: `multitask` (tasks in one layout with rule inputs, to learn in
  turn), `teacher_student` (two linear regressions with overlapping teachers).

>>> import ctrnn
>>> ds = ctrnn.tasks.flipflop(8, n_bits=3, seed=0)
>>> dict(ds.sizes)
{'trial': 8, 'time': 100, 'input': 3, 'output': 3}
>>> u, y = ctrnn.tasks.narma10(500, seed=0)
>>> u.shape
(500, 1)
"""
from .cognitive import (context_integration, delayed_match_to_sample, flipflop,
                        parametric_working_memory, perceptual_decision)
from .continual import multitask, teacher_student
from .sequences import adding_problem, copy_memory, sequence_prediction
from .series import mackey_glass, narma10, nrmse, oscillators

__all__ = ["mackey_glass", "narma10", "oscillators", "nrmse", "perceptual_decision",
           "context_integration", "delayed_match_to_sample", "parametric_working_memory",
           "flipflop", "adding_problem", "copy_memory", "sequence_prediction", "multitask",
           "teacher_student"]
