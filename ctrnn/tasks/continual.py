"""Task pairs for continual learning and catastrophic interference: ``multitask`` puts
tasks into one shared layout (Yang et al. 2019, Nat. Neurosci. 22, 297: every task's
inputs on their own channels plus a one-hot rule input), and ``teacher_student`` makes
two linear regression tasks whose teachers overlap by a set amount (the setting where
forgetting is solved exactly: Lee et al. 2021, ICML, "Continual learning in the
teacher-student setup").
"""
from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from .._validation import positive_int, scalar
from .cognitive import _rng
from .sequences import _sequence_dataset

__all__ = ["multitask", "teacher_student"]


def multitask(*tasks, shared_outputs=None, rule_inputs=True):
    """Tasks in one layout, so that one network can learn them in turn (or together).

    Every task keeps its trials; its inputs go on its own channels (the other tasks'
    channels are 0), followed by one rule channel per task (1 on the task's own, for the
    whole trial, padding included). Outputs are either separate (each task's own, the
    others masked out) or shared (the same channels for every task, for tasks with as
    many outputs). Shorter tasks are padded at the end to the longest: the task's inputs
    0, mask 0, no response. The trial conditions are kept; the ``period`` labels, which
    differ between tasks, are dropped.

    Parameters
    ----------
    *tasks : xarray.Dataset
        Two or more tasks of ``ctrnn.tasks`` (inputs, targets, mask; optionally
        response), with the same dt and loss.
    shared_outputs : bool, optional
        Default: shared when every task has as many outputs and the loss is
        cross-entropy (whose softmax runs over all outputs, so they cannot be masked
        apart), separate otherwise.
    rule_inputs : bool
        Add the rule channels.

    Returns
    -------
    list of xarray.Dataset
        The tasks, in order, each with inputs (trial, time, input) over all channels,
        targets and mask (trial, time, output), response when any task has one; attrs of
        its own task plus ``rule`` (its index) and ``multitask`` (the tasks' names).

    Raises
    ------
    TypeError
        If a task is not a Dataset.
    ValueError
        If fewer than two tasks are given, or they differ in dt or loss, or outputs are
        shared between tasks with different numbers of outputs, or cross-entropy tasks
        are given separate outputs.

    Examples
    --------
    >>> import ctrnn
    >>> a, b = ctrnn.tasks.multitask(ctrnn.tasks.flipflop(4, n_bits=2, seed=0),
    ...                              ctrnn.tasks.flipflop(4, n_bits=1, seed=1))
    >>> a.inputs.sizes["input"], a.targets.sizes["output"]  # 2 + 1 bits + 2 rules; 3
    (5, 3)
    >>> float(a.mask.sel(output="task 2: bit 1").sum())  # task 1 ignores task 2's output
    0.0
    """
    if len(tasks) < 2:
        raise ValueError(f"multitask takes two or more tasks; got {len(tasks)}")
    for i, t in enumerate(tasks):
        if not isinstance(t, xr.Dataset) or "inputs" not in t or "targets" not in t:
            raise TypeError(f"task {i + 1} must be a task Dataset (inputs, targets, mask) "
                            f"as ctrnn.tasks makes; got {type(t).__name__}")
    dts = [t.attrs.get("dt") for t in tasks]
    if any(d is None for d in dts) or not np.allclose(dts, dts[0], rtol=1e-9, atol=0):
        raise ValueError(f"the tasks' dt differ ({dts}): make them with one dt")
    loss = [t.attrs.get("loss", "mse") for t in tasks]
    if len(set(loss)) > 1:
        raise ValueError(f"the tasks' losses differ ({loss}): one network trains with one "
                         "loss")
    n_out = [t.sizes["output"] for t in tasks]
    if shared_outputs is None:
        shared_outputs = loss[0] == "cross_entropy" and len(set(n_out)) == 1
    if shared_outputs and len(set(n_out)) > 1:
        raise ValueError(f"shared_outputs=True needs tasks with as many outputs; they have "
                         f"{n_out}")
    if not shared_outputs and loss[0] == "cross_entropy":
        raise ValueError("cross-entropy tasks need shared outputs (the softmax runs over "
                         "every output, so another task's outputs cannot be masked out): "
                         "give tasks with as many outputs")
    K = len(tasks)
    T = max(t.sizes["time"] for t in tasks)
    n_in = [t.sizes["input"] for t in tasks]
    in_names = [f"task {i + 1}: {c}" for i, t in enumerate(tasks)
                for c in t["input"].values] + \
        ([f"rule {i + 1}" for i in range(K)] if rule_inputs else [])
    if shared_outputs:
        out_names = [str(c) for c in tasks[0]["output"].values]
    else:
        out_names = [f"task {i + 1}: {c}" for i, t in enumerate(tasks)
                     for c in t["output"].values]
    any_resp = any("response" in t for t in tasks)
    names = [str(t.attrs.get("task", f"task {i + 1}")) for i, t in enumerate(tasks)]
    dt = float(dts[0])
    out = []
    for i, t in enumerate(tasks):
        B, Ti = t.sizes["trial"], t.sizes["time"]
        x = np.zeros((B, T, len(in_names)))
        y = np.zeros((B, T, len(out_names)))
        m = np.zeros((B, T, len(out_names)))
        i0 = sum(n_in[:i])
        x[:, :Ti, i0:i0 + n_in[i]] = t["inputs"].transpose("trial", "time", "input").values
        if rule_inputs:
            x[:, :, sum(n_in) + i] = 1.0
        o0 = 0 if shared_outputs else sum(n_out[:i])
        sl = slice(o0, o0 + n_out[i])
        y[:, :Ti, sl] = t["targets"].transpose("trial", "time", "output").values
        m[:, :Ti, sl] = t["mask"].transpose("trial", "time", "output").values \
            if "mask" in t else 1.0
        data = {"inputs": (("trial", "time", "input"), x, t["inputs"].attrs),
                "targets": (("trial", "time", "output"), y, t["targets"].attrs),
                "mask": (("trial", "time", "output"), m,
                         {"long_name": "loss weight of each target sample", "units": "1"})}
        if any_resp:
            r = np.zeros((B, T), dtype=bool)
            if "response" in t:
                r[:, :Ti] = t["response"].transpose("trial", "time").values
            data["response"] = (("trial", "time"), r,
                                {"long_name": "decision period, where the choice is judged"})
        coords = {"trial": ("trial", np.arange(B)),
                  "time": ("time", dt * np.arange(T), t["time"].attrs),
                  "input": ("input", np.array(in_names, dtype=str)),
                  "output": ("output", np.array(out_names, dtype=str))}
        for name, c in t.coords.items():  # the trial conditions
            if c.dims == ("trial",) and name != "trial":
                coords[name] = ("trial", c.values, c.attrs)
        attrs = {**t.attrs, "rule": i, "multitask": ", ".join(names)}
        out.append(xr.Dataset(data, coords=coords, attrs=attrs))
    return out


def teacher_student(n_trials, *, n_inputs=10, n_outputs=1, n_steps=20, similarity=0.0,
                    seed=None):
    """Two linear regression tasks, y = W_A x and y = W_B x, whose teachers W_A, W_B
    (n_outputs, n_inputs) have the same norms and, row by row, cosine ``similarity``:
    the linear teacher-student pair, in which a linear student's loss is exactly
    quadratic in its weights, so forgetting follows from the curvature with no
    approximation.

    Inputs are white: x ~ N(0, 1) independently per trial, step and channel; W_A has
    entries N(0, 1 / n_inputs); each row of W_B is similarity times that of W_A plus
    sqrt(1 - similarity^2) times a unit vector orthogonal to it, of the same norm. A
    student that fits it exactly: ``RateNetwork(np.zeros((n_outputs, n_outputs)),
    U=..., phi="linear")`` with ``method="discrete"`` and readout (I, 0), training U only
    (``frozen=("W", "b", "C", "c")``): y_k = U x_k.

    Parameters
    ----------
    n_trials : int
    n_inputs, n_outputs : int
    n_steps : int
        Samples per trial (time in steps, independent samples).
    similarity : float
        In [-1, 1]: the cosine between the teachers' rows.
    seed : int, numpy Generator or None

    Returns
    -------
    (xarray.Dataset, xarray.Dataset)
        Tasks A and B on the same inputs: inputs (trial, time, input), targets and mask
        (trial, time, output), loss "mse"; attrs similarity, and the teacher of each as
        ``teacher`` (a flat list, row-major).

    Raises
    ------
    TypeError
        If a count is not an integer or similarity not a number.
    ValueError
        If a count is < 1, similarity is outside [-1, 1], or n_inputs < 2 (no orthogonal
        direction).

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> a, b = ctrnn.tasks.teacher_student(4, n_inputs=5, similarity=0.5, seed=0)
    >>> wa, wb = np.array(a.attrs["teacher"]), np.array(b.attrs["teacher"])
    >>> round(float(wa @ wb / (wa @ wa)), 12)
    0.5
    """
    n_trials = positive_int("n_trials", n_trials)
    n_inputs = positive_int("n_inputs", n_inputs)
    n_outputs = positive_int("n_outputs", n_outputs)
    n_steps = positive_int("n_steps", n_steps)
    rho = scalar(similarity)
    if isinstance(rho, bool) or not isinstance(rho, numbers.Real):
        raise TypeError(f"similarity must be a number in [-1, 1]; got {similarity!r}")
    rho = float(rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"similarity={similarity}: a cosine, in [-1, 1]")
    if n_inputs < 2:
        raise ValueError("n_inputs must be >= 2: teacher B needs a direction orthogonal to "
                         "teacher A")
    rng, seed_attr = _rng(seed)
    x = rng.normal(size=(n_trials, n_steps, n_inputs))
    WA = rng.normal(size=(n_outputs, n_inputs)) / np.sqrt(n_inputs)
    R = rng.normal(size=(n_outputs, n_inputs))
    WB = np.empty_like(WA)
    for o in range(n_outputs):
        a = WA[o] / np.linalg.norm(WA[o])
        r = R[o] - (R[o] @ a) * a
        r /= np.linalg.norm(r)
        WB[o] = np.linalg.norm(WA[o]) * (rho * a + np.sqrt(1.0 - rho * rho) * r)
    tasks = []
    for name, W in (("teacher_student A", WA), ("teacher_student B", WB)):
        tasks.append(_sequence_dataset(
            name, dt=1.0, inputs=x, targets=x @ W.T,
            input_names=[f"x {i + 1}" for i in range(n_inputs)],
            output_names=[f"y {o + 1}" for o in range(n_outputs)], loss="mse",
            seed=seed_attr, source="linear teacher-student (Lee et al. 2021, ICML)",
            attrs={"similarity": rho, "teacher": W.ravel().tolist()}))
    return tuple(tasks)
