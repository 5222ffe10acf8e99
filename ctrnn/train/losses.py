"""Losses over (trial, time, output) with a mask, their gradients, and the accuracy of a
decision task. Plain NumPy: these cost little next to the forward and backward passes.

Every loss is a weighted mean: the mask (trial, time, output) says which samples count
and how much (neurogym's and PsychRNN's convention), so a loss does not change with the
number of trials or of masked-out samples.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mse", "cross_entropy", "accuracy", "LOSSES", "get_loss"]


def _total(mask, what):
    w = float(np.sum(mask))
    if not w > 0:
        raise ValueError(f"the mask of {what} is zero everywhere: no sample counts in the "
                         "loss; give a mask with some weight > 0")
    return w


def mse(y, target, mask):
    """Mean squared error sum(m (y - t)^2) / sum(m) and its gradient with respect to y.

    Parameters
    ----------
    y, target : ndarray, shape (n_trials, n_time, n_outputs)
        Outputs and targets (units of the output).
    mask : ndarray, shape (n_trials, n_time, n_outputs)
        Non-negative weights.

    Returns
    -------
    loss : float
    dy : ndarray, shape (n_trials, n_time, n_outputs)

    Raises
    ------
    ValueError
        If the mask is zero everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train.losses import mse
    >>> loss, dy = mse(np.ones((1, 2, 1)), np.zeros((1, 2, 1)), np.ones((1, 2, 1)))
    >>> loss, dy.ravel().tolist()
    (1.0, [1.0, 1.0])
    """
    w = _total(mask, "mse")
    d = y - target
    md = mask * d
    loss = float(np.vdot(md, d)) / w
    md *= 2.0 / w  # in place: the gradient is the second and last array of y's size
    return loss, md


def _class_weights(mask):
    """(trial, time) weights from a mask that must be equal across outputs."""
    m = mask[..., 0]
    if mask.shape[-1] > 1 and not np.all(mask == m[..., None]):
        raise ValueError("cross_entropy takes one weight per (trial, time): the mask must "
                         "be equal across outputs (give mask[..., 0] for every output)")
    return m


def cross_entropy(y, target, mask):
    """Softmax cross-entropy over the outputs, -sum(m sum_o t_o log softmax(y)_o) / sum(m),
    and its gradient m (softmax(y) - t) / sum(m). The targets are class probabilities
    (one-hot for a class label) at every sample; the mask one weight per (trial, time)
    (equal across outputs).

    Parameters
    ----------
    y : ndarray, shape (n_trials, n_time, n_outputs)
        Logits.
    target : ndarray, shape (n_trials, n_time, n_outputs)
        Probabilities (each sample's sum 1 where the mask is > 0).
    mask : ndarray, shape (n_trials, n_time, n_outputs)

    Returns
    -------
    loss : float
    dy : ndarray, shape (n_trials, n_time, n_outputs)

    Raises
    ------
    ValueError
        If there are fewer than 2 outputs, or the mask differs across outputs or is
        zero everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train.losses import cross_entropy
    >>> y = np.zeros((1, 1, 2)); t = np.array([[[1.0, 0.0]]])
    >>> round(cross_entropy(y, t, np.ones_like(y))[0], 6)  # log 2
    0.693147
    """
    if y.shape[-1] < 2:
        raise ValueError(f"cross_entropy needs at least 2 outputs (one per class); the "
                         f"outputs have {y.shape[-1]}: with one output the softmax is 1 "
                         "and the loss 0 whatever the model does. Use loss='mse'")
    m = _class_weights(mask)
    w = _total(m, "cross_entropy")
    z = y - y.max(axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    loss = -float(np.sum(m[..., None] * target * logp)) / w
    p = np.exp(logp)
    # d/dy of -sum_o t_o log p_o is p sum_o t_o - t
    dy = (m[..., None] / w) * (p * target.sum(axis=-1, keepdims=True) - target)
    return loss, dy


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}


def get_loss(loss):
    """The loss function for a name in LOSSES or a callable (y, target, mask) ->
    (loss, dL/dy).

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not known: use one of {sorted(LOSSES)} or a "
                         "function (y, target, mask) -> (loss, dL/dy)")
    return LOSSES[loss]


def check_loss(loss_fn, loss, dy, shape):
    """dL/dy from a loss function as a float64 array of the outputs' ``shape``.

    Raises
    ------
    ValueError
        Naming the function, when it returned something else than (a float, dL/dy of
        that shape).

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train.losses import check_loss, mse
    >>> y = np.zeros((1, 2, 1))
    >>> check_loss(mse, *mse(y, y + 1, np.ones_like(y)), y.shape).shape
    (1, 2, 1)
    """
    dy = np.asarray(dy)
    if dy.shape != tuple(shape) or not np.isrealobj(dy) or np.ndim(loss) != 0:
        raise ValueError(f"the loss {getattr(loss_fn, '__name__', loss_fn)!r} must return "
                         f"(a float, dL/dy of the outputs' shape {tuple(shape)}); got "
                         f"dL/dy of shape {dy.shape}")
    return np.ascontiguousarray(dy, dtype=np.float64)


def accuracy(y, target, response):
    """The fraction of trials whose choice is right: the output with the largest mean
    over the response period against the target's largest (Song, Yang & Wang 2016 judge
    the decision period the same way).

    Parameters
    ----------
    y, target : ndarray, shape (n_trials, n_time, n_outputs)
    response : ndarray of bool, shape (n_trials, n_time)
        The response period of each trial.

    Returns
    -------
    float
        In [0, 1]; NaN if no trial has a response period.

    Examples
    --------
    >>> import numpy as np
    >>> from ctrnn.train.losses import accuracy
    >>> y = np.array([[[0.0, 1.0]], [[1.0, 0.0]]]); t = np.array([[[0, 1.0]], [[0, 1.0]]])
    >>> accuracy(y, t, np.ones((2, 1), bool))
    0.5
    """
    r = np.asarray(response, dtype=float)[..., None]
    n = r.sum(axis=1)
    has = n[:, 0] > 0
    if not has.any():
        return float("nan")
    choice = np.argmax((y * r).sum(axis=1), axis=-1)
    truth = np.argmax((target * r).sum(axis=1), axis=-1)
    return float(np.mean(choice[has] == truth[has]))
