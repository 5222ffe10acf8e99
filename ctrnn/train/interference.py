"""Catastrophic interference, measured and predicted: train on task A, then on task B,
and record at every B iteration how much A's loss has risen, beside its first- and
second-order predictions (McCloskey & Cohen 1989; Kirkpatrick et al. 2017):

- first order, step by step: dL_A ~ sum_s grad L_A(theta_s) . (theta_{s+1} - theta_s)
  (for SGD each term is -lr grad L_A . grad L_B);
- second order about A's solution theta*: with d = theta - theta*,
  dL_A ~ g* . d + 1/2 d^T G_A d = g* . d + 1/2 sum_k lambda_k (v_k . d)^2, G_A the
  Gauss-Newton (Fisher) matrix of A with eigenpairs (lambda_k, v_k), g* A's gradient at
  theta* (zero at an exact minimum). Forgetting is the squared overlap of B's update with
  the directions A is sensitive to, and vanishes only for an update orthogonal to them.

Everything comes from the trainer's exact gradients (``ctrnn.train.curvature``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .. import _seeding
from .continual import EWC, Projection, Remedy, _check_layout, _Hooks, _trials
from .curvature import Curvature, Layout, _gauss_newton

__all__ = ["interference", "Interference"]

@dataclass
class Interference:
    """What ``interference`` returns: ``record`` (the Dataset over B's iterations),
    ``model_a`` (trained on A) and ``model_b`` (then trained on B)."""

    record: xr.Dataset
    model_a: object
    model_b: object


class _Recorder(Remedy):
    """Records A's loss and its predictions after every step of B (``fit``'s observe
    hook)."""

    def __init__(self, learner_a, learner_b, keys_a, keys_b, star, curv):
        self.la, self.lb, self.ka, self.kb = learner_a, learner_b, keys_a, keys_b
        self.layout = Layout(star)
        self.star = self.layout.flat(star)
        self.lam, self.V = curv.eigenvalues, curv.eigenvectors
        self.idx_a = np.arange(learner_a.xs.shape[0])
        self.idx_b = np.arange(learner_b.xs.shape[0])
        L0, g0 = learner_a.loss_grad(star, self.idx_a, keys_a)
        self.L0, self.g0 = float(L0), self.layout.flat(g0)
        self.g = self.g0
        self.rows = []
        self._record(star, 0.0)

    def _bind(self, learner, batch_size):
        new = Layout(learner.theta0)
        if not self.layout.same(new) or not np.array_equal(new.flat(learner.theta0),
                                                           self.star):
            raise ValueError("B's training does not start from A's solution in the same "
                             "parameters: give interference the options A was trained "
                             "with")
        return _RecorderHooks(self)

    def _loss_b(self, theta):
        y = self.lb.outputs(theta, self.idx_b, self.kb)
        return float(self.lb.loss_fn(y, self.lb.tg, self.lb.mask)[0])

    def _record(self, theta, first, loss_a=None):
        d = self.layout.flat(theta) - self.star
        ov = self.V.T @ d
        lin = float(self.g0 @ d)
        loss_a = self.L0 if loss_a is None else loss_a
        self.rows.append((loss_a, self._loss_b(theta), loss_a - self.L0, first,
                          lin + 0.5 * float(np.sum(self.lam * ov * ov)), lin,
                          float(np.linalg.norm(d)), ov))

    def observe(self, theta, new_theta):
        step = self.layout.flat(new_theta) - self.layout.flat(theta)
        first = self.rows[-1][3] + float(self.g @ step)
        loss, g = self.la.loss_grad(new_theta, self.idx_a, self.ka)
        self.g = self.layout.flat(g)
        self._record(new_theta, first, float(loss))


class _RecorderHooks(_Hooks):
    def __init__(self, rec):
        self.rec = rec

    def observe(self, it, theta, new_theta):
        self.rec.observe(theta, new_theta)


def interference(model, task_a, task_b, *, iterations=100, optimizer=None, batch_size=None,
                 remedy=None, n_eigen=None, curvature="exact", trials=None, loss=None,
                 seed=0, progress=None, train_a=None, **options):
    """Train on task A, then on task B, and record at every B iteration the measured rise
    of A's loss beside its first- and second-order predictions (the module docstring
    gives the formulas).

    Parameters
    ----------
    model : RateNetwork, LSTM or Model
        A network, trained on A here (with ``fit`` and the arguments in ``train_a``), or
        a Model already trained on A (what ``fit`` returns), taken as A's solution.
    task_a, task_b : xarray.Dataset
        The two tasks, in one layout (the same inputs and outputs; see
        ``ctrnn.tasks.multitask`` and ``ctrnn.tasks.teacher_student``).
    iterations : int
        Iterations of B.
    optimizer : Adam or SGD, optional
        B's optimiser (default fit's, Adam(lr=1e-3)). With SGD each first-order term is
        -lr grad L_A . grad L_B.
    batch_size : int, optional
        B's trials per iteration (default all of B's trials, up to 64).
    remedy : remedy or list, optional
        ``ewc``, ``orthogonal_projection`` or ``replay`` for B's training.
    n_eigen : int, optional
        The number of leading eigen-directions of G_A whose overlaps are recorded and
        enter the second-order prediction: default all (an exact prediction for
        curvature="exact"), 20 for "lanczos"; 0 computes no curvature (the second order
        is then the linear term only), for runs that only want the losses.
    curvature : {"exact", "lanczos"}
        How G_A is found (``ctrnn.train.curvature``): exactly, from one backward pass
        per weighted output sample of A, or its leading eigenpairs matrix-free.
    trials : int, optional
        Compute G_A on this many of A's trials (default all); the losses are always
        measured on every trial.
    loss : str, optional
        Default each task's ``loss`` attribute, else "mse".
    seed : int
        Seeds both trainings and the network's noise, which is held fixed in the
        evaluations of A and B.
    progress : bool, optional
        Progress bars of the trainings.
    train_a : dict, optional
        ``fit`` arguments for A's training (iterations, optimizer, batch_size, ...);
        only when ``model`` is a network.
    **options
        ``fit``'s options for both trainings (method, dt, frozen, dale, clip_grad_norm,
        ...); ``train_a``'s win for A.

    Returns
    -------
    Interference
        ``record``: a Dataset over ``iteration`` (0 = A's solution, before B) with
        loss_a and loss_b (each task's loss on all its trials), measured (loss_a - its
        value at theta*), first_order, second_order, linear_term (g* . d, inside
        second_order), distance (|theta - theta*|) and overlap (iteration, eigen)
        (v_k . d); eigenvalue (eigen); attrs loss_a_star, grad_a_norm (|g*|),
        n_parameters, trace (of G_A, exact only) and curvature. ``model_a`` and
        ``model_b``: the trained Models.

    Raises
    ------
    TypeError
        If model is not a network or Model, an option is not one of fit's, train_a is
        not a dict, or an argument is of the wrong type (``fit``'s messages).
    ValueError
        If the tasks do not fit the model or each other, the loss is not "mse" or
        "cross_entropy", n_eigen is negative, train_a is given with a trained Model, or
        feedback= or checkpoint= is given.
    FloatingPointError
        If a training diverges.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> a, b = ctrnn.tasks.teacher_student(8, n_inputs=4, similarity=0.0, seed=0)
    >>> student = ctrnn.RateNetwork(np.zeros((1, 1)), U=np.zeros((1, 4)), phi="linear")
    >>> res = ctrnn.train.interference(
    ...     student, a, b, method="discrete", readout=(np.eye(1), np.zeros(1)),
    ...     frozen=("W", "b", "C", "c"), iterations=5, optimizer=ctrnn.train.SGD(lr=0.2),
    ...     train_a=dict(iterations=300, optimizer=ctrnn.train.SGD(lr=0.5)),
    ...     progress=False)
    >>> r = res.record  # the loss is quadratic: the second-order model is exact
    >>> bool(np.allclose(r.measured, r.second_order, rtol=1e-9, atol=1e-12))
    True
    """
    from .._validation import nonnegative_int
    from .fit import _OPTIONS, Model, _as_items, _learner, fit
    from .losses import get_loss

    if options.get("feedback") is not None:
        raise ValueError("feedback= is not supported: interference measures each task's "
                         "loss on its inputs as given; train sequence models with "
                         "fit(..., feedback=) and measure with predict or generate")
    if options.get("checkpoint") is not None:
        raise ValueError("checkpoint= is not supported: interference records every "
                         "iteration in memory; for long runs train with fit(model_a, "
                         "task_b, checkpoint=...)")
    passed = {"clip_grad_norm"}  # fit options for both trainings, not for the evaluations
    unknown = set(options) - set(_OPTIONS) - passed
    if unknown:
        raise TypeError(f"interference got unknown options {sorted(unknown)}: give fit's "
                        "options (method, dt, frozen, dale, clip_grad_norm, ...)")
    if n_eigen is not None:
        n_eigen = nonnegative_int("n_eigen", n_eigen)
    if train_a is not None and not isinstance(train_a, dict):
        raise TypeError(f"train_a must be a dict of fit's arguments for A; got "
                        f"{type(train_a).__name__}")
    ss, _ = _seeding.seed_sequence(seed)
    if isinstance(model, Model):
        if train_a:
            raise ValueError("train_a= trains A from a network, but the model given is "
                             "already trained: leave train_a out")
        for name in ("readout", "h0", "n_outputs"):
            if options.get(name) is not None:
                raise ValueError(f"{name}= sets up A's training, but the model given is "
                                 f"already trained (its own {name} is used): leave it out")
        model_a = model
    else:
        kw = dict(batch_size=min(64, task_a.sizes.get("trial", 1)), seed=seed,
                  progress=progress, loss=loss)
        kw.update(options)
        import inspect

        bad = set(train_a or {}) - set(inspect.signature(fit).parameters)
        if bad:
            raise TypeError(f"train_a has {sorted(bad)}, which are not arguments of fit "
                            "(iterations, optimizer, batch_size, ...)")
        kw.update(train_a or {})  # train_a's settings win for A
        model_a = fit(model, task_a, **kw)
    options = {k: v for k, v in options.items() if k not in ("readout", "h0", "n_outputs")}
    extra = {k: options.pop(k) for k in passed if k in options}
    # evaluate on the data loss: the regularisers are not part of the task
    opts = {**_OPTIONS, **options, "rate_l2": 0.0, "weight_l1": 0.0, "weight_l2": 0.0}
    learners = []
    for task in (task_a, task_b):
        lrn = _learner(model_a, task, ss, opts)
        lrn.loss_fn = get_loss(task.attrs.get("loss", "mse") if loss is None else loss)
        learners.append(lrn)
    la, lb = learners
    eval_ss = _seeding.child(ss, _seeding.EVALUATION, 0)
    keys_a, keys_b = la.keys(eval_ss), lb.keys(eval_ss)
    star = {k: np.array(v) for k, v in la.theta0.items()}
    remedies = _as_items(remedy)
    for r in remedies:  # a remedy for other parameters: say so before the curvature
        if isinstance(r, (EWC, Projection)):
            _check_layout(r._layout(), la, "the remedy")
    idx = _trials(trials, la.xs.shape[0], seed)
    if n_eigen == 0:  # no curvature: the second order is the linear term only
        curv = Curvature(np.zeros(0), np.zeros((Layout(star).size, 0)), None,
                         Layout(star), "none")
    else:
        curv = _gauss_newton(la, star, keys_a, idx=idx, n_eigen=n_eigen, method=curvature)
    rec = _Recorder(la, lb, keys_a, keys_b, star, curv)
    if batch_size is None:
        batch_size = min(64, task_b.sizes.get("trial", 1))
    model_b = fit(model_a, task_b, iterations=iterations, optimizer=optimizer,
                  batch_size=batch_size, remedy=remedies + [rec], seed=seed,
                  progress=progress, loss=loss, **options, **extra)
    cols = list(zip(*rec.rows))
    n = len(rec.rows)
    it = ("iteration",)
    units = {"units": "1"}  # the task's outputs are dimensionless
    data = {
        "loss_a": (it, np.array(cols[0]), {"long_name": "task A's loss (all trials)",
                                           **units}),
        "loss_b": (it, np.array(cols[1]), {"long_name": "task B's loss (all trials)",
                                           **units}),
        "measured": (it, np.array(cols[2]), {"long_name": "measured rise of A's loss",
                                             **units}),
        "first_order": (it, np.array(cols[3]), {
            "long_name": "first order: sum over steps of grad L_A . step", **units}),
        "second_order": (it, np.array(cols[4]), {
            "long_name": "second order at A's solution: g* . d + 1/2 sum_k lambda_k "
                         "(v_k . d)^2", **units}),
        "linear_term": (it, np.array(cols[5]), {"long_name": "g* . d", **units}),
        "distance": (it, np.array(cols[6]), {"long_name": "|theta - theta*|", **units}),
        "overlap": (("iteration", "eigen"), np.array(cols[7]).reshape(n, -1),
                    {"long_name": "v_k . (theta - theta*)", **units}),
        "eigenvalue": (("eigen",), curv.eigenvalues,
                       {"long_name": "eigenvalues of A's Gauss-Newton matrix", **units}),
    }
    attrs = dict(loss_a_star=rec.L0, grad_a_norm=float(np.linalg.norm(rec.g0)),
                 n_parameters=rec.layout.size, curvature=curv.method,
                 trace=float(np.sum(curv.diagonal)) if curv.diagonal is not None
                 else float("nan"),
                 parameters=", ".join(rec.layout.names), seed=str(seed))
    ds = xr.Dataset(data, coords={"iteration": np.arange(n),
                                  "eigen": np.arange(curv.eigenvalues.size)}, attrs=attrs)
    return Interference(ds, model_a, model_b)
