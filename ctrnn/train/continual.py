"""Remedies for catastrophic interference, for training a model on task B after task A
with ``fit(model_a, task_b, remedy=...)``:

- ``ewc``: elastic weight consolidation (Kirkpatrick et al. 2017, PNAS 114, 3521): the
  penalty sum_i strength/2 F_i (theta_i - theta*_A,i)^2, F the diagonal of A's Fisher
  (Gauss-Newton) matrix at A's solution theta*_A;
- ``orthogonal_projection``: every step of B projected orthogonal to the directions A's
  outputs are sensitive to, the leading eigenvectors of A's Gauss-Newton matrix
  (orthogonal gradient descent, Farajtabar et al. 2020, AISTATS; gradient projection
  memory, Saha et al. 2021, ICLR; for recurrent networks, Duncker et al. 2020, NeurIPS);
- ``replay``: a fraction of every batch drawn from A's trials (Robins 1995, Connection
  Science 7, 123).

The Fisher matrix and the subspaces come from exact gradients (``ctrnn.train.curvature``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .._validation import nonnegative_scalar, positive_int, positive_scalar
from .curvature import Layout, _gauss_newton

__all__ = ["Remedy", "EWC", "Projection", "Replay", "ewc", "orthogonal_projection",
           "replay"]


class Remedy:
    """What ``fit(..., remedy=)`` takes: ``_bind(learner, batch_size)`` returns the
    hooks of one training run (``_Hooks``)."""

    def _bind(self, learner, batch_size):  # pragma: no cover - every remedy overrides it
        raise NotImplementedError


class _Hooks:
    """The points where a remedy acts in ``fit``'s loop; each does nothing by default."""

    def draw(self, rng, n_trials, batch_size):
        return None

    def penalise(self, theta, total, grads):
        return total, grads

    def project(self, theta, new_theta):
        return new_theta

    def observe(self, it, theta, new_theta):
        pass

    def fingerprint(self):
        return ""


def _evaluator(model, task, loss, what):
    """A learner holding ``model`` (a trained ``Model``) and ``task``, in the model's own
    parameters theta: (learner, theta*)."""
    from .fit import _OPTIONS, Model, _learner
    from .losses import get_loss

    if not isinstance(model, Model):
        raise TypeError(f"{what} takes the Model trained on the old task (what fit returns); "
                        f"got {type(model).__name__}")
    learner = _learner(model, task, np.random.SeedSequence(0), dict(_OPTIONS))
    learner.loss_fn = get_loss(task.attrs.get("loss", "mse") if loss is None else loss)
    return learner, {k: np.array(v) for k, v in learner.theta0.items()}


def _trials(trials, n, seed):
    """The indices of the trials a curvature is computed on: all, or ``trials`` of them
    drawn without replacement."""
    if trials is None:
        return np.arange(n)
    trials = positive_int("trials", trials)
    if trials > n:
        raise ValueError(f"trials={trials}: the task has only {n} trials; give at most "
                         f"{n} (or None for all)")
    return np.sort(np.random.default_rng(seed).choice(n, size=trials, replace=False))


def _curvature(learner, theta, trials, seed, **kw):
    """A's Gauss-Newton matrix on ``trials`` of its trials drawn with ``seed``, the
    network's noise fixed by ``seed`` too."""
    from .._seeding import EVALUATION, child, seed_sequence

    idx = _trials(trials, learner.xs.shape[0], seed)
    keys = learner.keys(child(seed_sequence(seed)[0], EVALUATION, 0))
    return _gauss_newton(learner, theta, keys, idx=idx, **kw)


def _check_layout(layout, learner, what):
    new = Layout(learner.theta0)
    if not layout.same(new):
        raise ValueError(f"{what} was computed for the parameters "
                         f"{dict(zip(layout.names, layout.shapes))}, but this training has "
                         f"{dict(zip(new.names, new.shapes))}: train B with the constraints "
                         "and frozen parameters A was trained with (fit(model_a, task_b) "
                         "takes them from model_a)")
    return new


# --- elastic weight consolidation -----------------------------------------------------
@dataclass(frozen=True, eq=False)
class EWC(Remedy):
    """The EWC penalty sum_i strength/2 F_i (theta_i - theta*_i)^2 (``ewc`` makes it).

    Attributes
    ----------
    theta : dict of ndarray
        theta*, the old task's solution (unconstrained parameters, ``Model.theta``).
    fisher : dict of ndarray
        F, the diagonal of the old task's Gauss-Newton (Fisher) matrix there, same shapes.
    strength : float
        lambda.
    """

    theta: dict
    fisher: dict
    strength: float

    def _layout(self):
        return Layout(self.theta)

    def _bind(self, learner, batch_size):
        layout = _check_layout(self._layout(), learner, "the EWC penalty")
        strength = nonnegative_scalar("strength", self.strength)
        if set(self.fisher) != set(self.theta) or not all(
                np.shape(self.fisher[k]) == np.shape(self.theta[k]) for k in self.theta):
            raise ValueError("EWC: fisher must hold an array of theta's shape for every "
                             "parameter of theta (ctrnn.train.ewc makes both)")
        F = layout.flat(self.fisher)
        if not np.all(F >= 0):
            raise ValueError("EWC: the Fisher diagonal must be >= 0 (ctrnn.train.ewc makes "
                             "it)")
        return _EWCHooks(layout.flat(self.theta), F, strength, layout)


class _EWCHooks(_Hooks):
    def __init__(self, star, F, strength, layout):
        self.star, self.F, self.s, self.layout = star, F, strength, layout

    def penalise(self, theta, total, grads):
        d = self.layout.flat(theta) - self.star
        pen = 0.5 * self.s * float(np.dot(self.F, d * d))
        g = self.layout.unflat(self.s * self.F * d)
        return total + pen, {k: grads[k] + g[k] for k in grads}

    def fingerprint(self):
        from .fit import _digest

        return _digest("ewc", self.star, self.F, self.s)


def ewc(model, task, *, strength=1.0, trials=None, loss=None, seed=0):
    """Elastic weight consolidation (Kirkpatrick et al. 2017, PNAS 114, 3521): a penalty
    that holds the parameters the old task ``task`` is sensitive to near their values in
    ``model``, for ``fit(model, new_task, remedy=ewc(model, task))``.

    The penalty is sum_i strength/2 F_i (theta_i - theta*_i)^2 with theta* = model.theta
    and F the diagonal of the old task's Gauss-Newton matrix J^T H_y J at theta*, computed
    exactly from one backward pass per weighted output sample (``ctrnn.train.curvature``).
    For the squared error and cross-entropy it is the Fisher information of the model's
    likelihood, scaled to the mean loss: with strength = 1 the penalty is the diagonal
    quadratic model of the old task's loss itself; larger values protect more. The
    penalty is anchored at ``model``'s parameters: make it from the model the new
    training continues (or, in a sequence of tasks, from each earlier task's model).

    Parameters
    ----------
    model : Model
        Trained on ``task`` (what ``fit`` returns).
    task : xarray.Dataset
        The old task.
    strength : float
        lambda >= 0.
    trials : int, optional
        Compute F on this many trials of the task, drawn with ``seed`` (default all).
    loss : str, optional
        Default the task's ``loss`` attribute, else "mse".
    seed : int
        Draws the trials, and the network's noise (fixed over the computation).

    Returns
    -------
    EWC

    Raises
    ------
    TypeError
        If model is not a Model.
    ValueError
        If the task does not fit the model, the loss is not "mse" or "cross_entropy",
        strength < 0, or trials exceeds the task's trials.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> a = ctrnn.tasks.flipflop(16, n_bits=1, duration=0.5, seed=0)
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0),
    ...                         U=np.ones((8, 1)), tau=0.1)
    >>> model = ctrnn.train.fit(net, a, n_outputs=1, iterations=5, batch_size=8, seed=0,
    ...                         progress=False)
    >>> pen = ctrnn.train.ewc(model, a, strength=10.0)
    >>> sorted(pen.fisher), bool(np.all(pen.fisher["W"] >= 0))
    (['C', 'U', 'W', 'b', 'c'], True)
    """
    strength = nonnegative_scalar("strength", strength)
    learner, star = _evaluator(model, task, loss, "ewc")
    curv = _curvature(learner, star, trials, seed, n_eigen=0)
    return EWC(star, curv.layout.unflat(curv.diagonal), strength)


# --- orthogonal projection ------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Projection(Remedy):
    """Steps projected orthogonal to ``basis`` (``orthogonal_projection`` makes it).

    Attributes
    ----------
    basis : ndarray, shape (n_parameters, k)
        Orthonormal columns: the protected directions, in the flat order of ``names``.
    names : tuple of str
        The parameters (theta), in order.
    shapes : tuple of tuple
        Their shapes.
    eigenvalues : ndarray, shape (k,)
        The old task's curvature along each protected direction.
    """

    basis: np.ndarray
    names: tuple
    shapes: tuple
    eigenvalues: np.ndarray

    def _layout(self):
        return Layout({k: np.zeros(s) for k, s in zip(self.names, self.shapes)})

    def _bind(self, learner, batch_size):
        layout = _check_layout(self._layout(), learner, "the projection")
        V = np.asarray(self.basis, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] != layout.size or not np.allclose(
                V.T @ V, np.eye(V.shape[1]), atol=1e-8):
            raise ValueError(f"the projection's basis must have {layout.size} rows and "
                             "orthonormal columns (ctrnn.train.orthogonal_projection makes "
                             "it)")
        return _ProjectionHooks(V, layout)


class _ProjectionHooks(_Hooks):
    def __init__(self, V, layout):
        self.V, self.layout = V, layout

    def project(self, theta, new_theta):
        old = self.layout.flat(theta)
        d = self.layout.flat(new_theta) - old
        d -= self.V @ (self.V.T @ d)
        return self.layout.unflat(old + d)

    def fingerprint(self):
        from .fit import _digest

        return _digest("projection", self.V)


def orthogonal_projection(model, task, *, n_directions=None, energy=None, trials=None,
                          loss=None, seed=0, curvature="exact"):
    """Orthogonal gradient projection: every training step on a new task is projected
    orthogonal to the parameter directions that the old task's outputs are sensitive to
    (Farajtabar et al. 2020, AISTATS; Saha et al. 2021, ICLR; Duncker et al. 2020,
    NeurIPS), for ``fit(model, new_task, remedy=orthogonal_projection(model, task))``.

    The directions are the leading eigenvectors of the old task's Gauss-Newton matrix
    G = J^T H_y J at the model's parameters (``ctrnn.train.curvature``): they span the
    gradients of its outputs, weighted by the loss's curvature, and so the old task's loss
    gradient too. A step d orthogonal to all of them leaves the old loss unchanged to first
    order, and its Gauss-Newton model 1/2 d^T G d at zero. The step the optimiser proposes
    is projected (for SGD the same as projecting the gradient; for Adam it keeps the step
    itself orthogonal).

    Parameters
    ----------
    model : Model
        Trained on ``task``.
    task : xarray.Dataset
        The old task.
    n_directions : int, optional
        Protect this many leading directions.
    energy : float, optional
        In (0, 1]: protect the fewest leading directions whose eigenvalues hold this
        share of the trace of G. Default (with neither given) 1: every direction with a
        non-zero eigenvalue, the whole subspace of A's output gradients. Fewer
        directions leave B more room at A's expense (on the flip-flop pair of
        ``examples/catastrophic_interference.py``, 0.99 kept 23 of 1185).
    trials : int, optional
        Compute G on this many trials (default all).
    loss : str, optional
        Default the task's ``loss`` attribute, else "mse".
    seed : int
        Draws the trials, and the network's noise (fixed over the computation).
    curvature : {"exact", "lanczos"}
        How G's eigenvectors are found (``ctrnn.train.curvature``); "lanczos" needs
        ``n_directions``.

    Returns
    -------
    Projection

    Raises
    ------
    TypeError
        If model is not a Model.
    ValueError
        If the task does not fit the model, the loss is not "mse" or "cross_entropy",
        energy is outside (0, 1], both energy and n_directions are given, n_directions
        exceeds the parameters, or "lanczos" is asked for without n_directions.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> a = ctrnn.tasks.flipflop(16, n_bits=1, duration=0.5, seed=0)
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0),
    ...                         U=np.ones((8, 1)), tau=0.1)
    >>> model = ctrnn.train.fit(net, a, n_outputs=1, iterations=5, batch_size=8, seed=0,
    ...                         progress=False)
    >>> proj = ctrnn.train.orthogonal_projection(model, a, n_directions=10)
    >>> proj.basis.shape  # 64 + 8 + 8 + 8 + 1 parameters
    (89, 10)
    """
    if n_directions is not None and energy is not None:
        raise ValueError(f"n_directions={n_directions} and energy={energy}: give one of "
                         "them (how many directions, or what share of the trace)")
    learner, star = _evaluator(model, task, loss, "orthogonal_projection")
    P = Layout(star).size
    if n_directions is not None:
        n_directions = positive_int("n_directions", n_directions)
        top = P - 1 if curvature == "lanczos" else P
        if n_directions > top:
            raise ValueError(f"n_directions={n_directions}: the model has {P} parameters; "
                             f"give at most {top}"
                             + (" (Lanczos finds fewer than all; curvature='exact' gives "
                                "all)" if curvature == "lanczos" else ""))
    elif curvature == "lanczos":
        raise ValueError("curvature='lanczos' finds a given number of directions: give "
                         "n_directions=")
    energy = 1.0 if energy is None else positive_scalar("energy", energy)
    if energy > 1:
        raise ValueError(f"energy={energy}: a fraction of the trace of G, in (0, 1]")
    curv = _curvature(learner, star, trials, seed, n_eigen=n_directions, method=curvature)
    lam, V = curv.eigenvalues, curv.eigenvectors
    if n_directions is None:
        total = float(np.sum(lam))
        if total <= 0:
            k = 0
        elif energy >= 1:
            k = int(np.sum(lam > lam[0] * lam.size * np.finfo(float).eps))
        else:
            k = int(np.searchsorted(np.cumsum(lam) / total, energy) + 1)
        lam, V = lam[:k], V[:, :k]
    return Projection(np.ascontiguousarray(V), curv.layout.names, curv.layout.shapes,
                      np.array(lam))


# --- replay ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Replay(Remedy):
    """Batches that mix the old task's trials in (``replay`` makes it).

    Attributes
    ----------
    task : xarray.Dataset
        The old task.
    fraction : float
        The share of each batch drawn from it.
    """

    task: xr.Dataset
    fraction: float

    def _bind(self, learner, batch_size):
        from .fit import _channels, _task_arrays, _task_dt

        old, new = _channels(self.task), learner.options["channels"]
        for what, o, n in zip(("input", "output"), old, new):
            if o is not None and n is not None and o != n:
                raise ValueError(f"replay: the old task's {what} channels {list(o)} are "
                                 f"not the new task's {list(n)}: put both in one layout "
                                 "with ctrnn.tasks.multitask")
        dt = _task_dt(self.task)
        if learner.dt is not None and dt is not None and abs(dt - learner.dt) > 1e-9 * dt:
            raise ValueError(f"replay: the old task is sampled at dt={dt}, the training runs "
                             f"at dt={learner.dt}: make the old task with dt={learner.dt}")
        n_out = learner.tg.shape[2]
        fix = "replay needs the old task in the new one's layout (ctrnn.tasks.multitask " \
            "puts tasks in one)"
        xs, tg, mask, resp, _ = _task_arrays(self.task, learner.net, n_out, fix=fix,
                                             inputs_fix=fix)
        if xs.shape[1:] != learner.xs.shape[1:]:
            raise ValueError(f"replay: the old task's inputs {xs.shape} and the new task's "
                             f"{learner.xs.shape} must agree in time and channels: put both "
                             "in one layout with ctrnn.tasks.multitask")
        n_new, n_old = learner.xs.shape[0], xs.shape[0]
        if batch_size < 2:
            raise ValueError(f"replay mixes old and new trials in each batch: batch_size="
                             f"{batch_size} holds only one; give batch_size >= 2")
        k = int(round(self.fraction * batch_size))
        k = min(max(k, 1), batch_size - 1)
        if k > n_old or batch_size - k > n_new:
            raise ValueError(f"replay: a batch of {batch_size} takes {k} old and "
                             f"{batch_size - k} new trials, but the tasks have {n_old} and "
                             f"{n_new}: make more trials or a smaller batch")
        learner.xs = np.concatenate([learner.xs, xs])
        learner.tg = np.concatenate([learner.tg, tg])
        learner.mask = np.concatenate([learner.mask, mask])
        learner.resp = None if learner.resp is None or resp is None \
            else np.concatenate([learner.resp, resp])
        return _ReplayHooks(n_new, n_old, k, xs, tg, mask)


class _ReplayHooks(_Hooks):
    def __init__(self, n_new, n_old, k, *arrays):
        self.n_new, self.n_old, self.k, self.arrays = n_new, n_old, k, arrays

    def draw(self, rng, n_trials, batch_size):
        new = rng.choice(self.n_new, size=batch_size - self.k, replace=False)
        old = self.n_new + rng.choice(self.n_old, size=self.k, replace=False)
        return np.sort(np.concatenate([new, old]))

    def fingerprint(self):
        from .fit import _digest

        return _digest("replay", self.k, *self.arrays)


def replay(task, *, fraction=0.5):
    """Replay (Robins 1995, Connection Science 7, 123): each batch of a new task mixes in
    trials of the old ``task``, for ``fit(model, new_task, remedy=replay(old_task))``.

    Parameters
    ----------
    task : xarray.Dataset
        The old task, in the new task's layout (the same inputs, outputs and time; see
        ``ctrnn.tasks.multitask``).
    fraction : float
        In (0, 1): the share of each batch drawn from the old task (rounded to at least
        one trial and at most the batch less one).

    Returns
    -------
    Replay

    Raises
    ------
    TypeError
        If task is not a Dataset.
    ValueError
        If fraction is outside (0, 1); at ``fit``, if the tasks' layouts differ or either
        has too few trials for the batch.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> a, b = ctrnn.tasks.multitask(ctrnn.tasks.flipflop(16, n_bits=1, seed=0),
    ...                              ctrnn.tasks.flipflop(16, n_bits=1, seed=1))
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(8, g=0.5, seed=0),
    ...                         U=np.ones((8, 4)), tau=0.1)
    >>> model_a = ctrnn.train.fit(net, a, n_outputs=2, iterations=2, batch_size=8,
    ...                           seed=0, progress=False)
    >>> model_b = ctrnn.train.fit(model_a, b, iterations=2, batch_size=8, seed=0,
    ...                           remedy=ctrnn.train.replay(a, fraction=0.25),
    ...                           progress=False)
    >>> model_b.history.sizes["iteration"]
    2
    """
    if not isinstance(task, xr.Dataset):
        raise TypeError(f"replay takes the old task (an xarray.Dataset); got "
                        f"{type(task).__name__}")
    fraction = positive_scalar("fraction", fraction)
    if not fraction < 1 or not math.isfinite(fraction):
        raise ValueError(f"fraction={fraction}: the share of each batch from the old task, "
                         "in (0, 1)")
    return Replay(task, fraction)
