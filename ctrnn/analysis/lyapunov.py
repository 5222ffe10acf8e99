"""Lyapunov exponents of a RateNetwork by the QR (Benettin) method in Numba."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .. import _engine
from .. import inputs as _inputs
from .._seeding import generator
from .._validation import as_float_array, check_bytes, positive_int, positive_scalar
from ..integrators import get_method
from ..network import RateNetwork


def lyapunov_spectrum(net, k=None, *, duration, dt, method="rk4", transient=0.0, h0=None,
                      inputs=None, input_interp="hold", ortho_every=1, n_records=100,
                      seed=None):
    """The first k Lyapunov exponents of a RateNetwork (in 1/time, the unit of tau).

    The state and k tangent vectors are integrated together with the same integrator
    (the tangent dynamics of "euler", "exponential_euler" and "discrete" are those of
    their one-step maps, so the exponents are those of the discretised system); the
    tangent vectors are re-orthonormalised by QR every ``ortho_every`` steps and the
    exponents are the time averages of log |diag R| (Benettin et al. 1980; for rate
    networks Engelken, Wolf & Abbott 2023).

    Parameters
    ----------
    net : RateNetwork
        Without STP.
    k : int, optional
        Number of exponents (default all N).
    duration, dt : float
        Averaging time after the transient, and the step (time unit of tau). For
        "discrete" pass dt=1 (exponents per step).
    method : {"rk4", "heun", "euler", "exponential_euler", "discrete"}
    transient : float
        Time integrated first and discarded (state and tangent vectors settle).
    h0 : array_like, shape (n_neurons,), optional
        Initial state; default N(0, 1) drawn from ``seed``.
    inputs : optional
        As in ``simulate`` (one trial), over transient + duration.
    ortho_every : int
        Steps between QR re-orthonormalisations.
    n_records : int
        Number of points of the running estimate returned in ``convergence``.

    Returns
    -------
    xarray.Dataset
        ``exponents`` (exponent,), shape (k,), in 1/time (the unit of tau; 1/steps for
        "discrete"), sorted as produced (descending up to noise), and ``convergence``
        (time, exponent), shape (n <= n_records, k), in the same unit: the running
        estimate, to judge convergence, its ``time`` coordinate the averaging time so far
        (unit of tau); attrs method, dt, duration, transient, ortho_every, n_neurons, phi.

    Raises
    ------
    TypeError
        If net is not a RateNetwork, method is not a string, k, ortho_every or n_records
        is not an integer, dt or duration is not a number, h0 or inputs is not numeric,
        or seed is of an unsupported type.
    NotImplementedError
        If the network has STP.
    ValueError
        If method is unknown or adaptive; k, ortho_every or n_records < 1 or k >
        n_neurons; dt or duration is not > 0 or transient < 0; dt != 1 with "discrete";
        the network has noise; duration is shorter than one re-orthonormalisation; h0 or
        inputs has the wrong shape or holds NaN or inf (inputs must be one trial); or
        input_interp is not "hold" or "linear".
    FloatingPointError
        If the state leaves the finite range.

    Examples
    --------
    >>> import numpy as np, ctrnn
    >>> net = ctrnn.RateNetwork(np.diag([0.5, -1.0]), phi="linear")   # linear: exact
    >>> ly = ctrnn.analysis.lyapunov_spectrum(net, duration=200.0, dt=0.05, transient=20.0,
    ...                                        seed=0)
    >>> np.round(ly.exponents.values, 2).tolist()      # eigenvalues of (-I + W) / tau
    [-0.5, -2.0]
    """
    if not isinstance(net, RateNetwork):
        raise TypeError(f"net must be a RateNetwork; got {type(net).__name__}")
    if net.stp is not None:
        raise NotImplementedError("Lyapunov exponents with STP are not implemented: the "
                                  "tangent space would include u and x")
    method = get_method(method)
    _engine.check_tangent(method)
    N = net.n_neurons
    K = N if k is None else positive_int("k", k)
    if K > N:
        raise ValueError(f"k={K} exceeds the number of neurons {N}")
    dt = positive_scalar("dt", dt)
    duration = positive_scalar("duration", duration)
    transient = float(transient)
    if transient < 0:
        raise ValueError(f"transient must be >= 0; got {transient}")
    ortho_every = positive_int("ortho_every", ortho_every)
    n_records = positive_int("n_records", n_records)
    if method.counts_steps and dt != 1.0:
        raise ValueError(f"method={method.name!r} counts steps: pass dt=1 (exponents per "
                         "step)")
    if net.has_noise:
        raise ValueError("the network has noise: Lyapunov exponents here are those of the "
                         "deterministic flow; use net.replace(noise=0)")
    n_trans = round(transient / dt)
    n_trans += -n_trans % ortho_every  # averaging starts right after a QR
    n_avg = round(duration / dt)
    n_avg -= n_avg % ortho_every
    if n_avg < ortho_every:
        raise ValueError("duration must cover at least one re-orthonormalisation")
    steps = n_trans + n_avg
    rng = generator(seed)
    # the state and the K tangent vectors as the rows of one array (see the kernel)
    Z = np.empty((1 + K, N))
    Z[0] = rng.standard_normal(N) if h0 is None else as_float_array("h0", h0, shape=(N,))
    Z[1:] = np.linalg.qr(rng.standard_normal((N, K)))[0].T
    if inputs is not None:
        check_bytes((steps + 1) * max(net.n_inputs, 1) * 8, f"the inputs on the step grid "
                    f"({steps + 1} steps x {net.n_inputs} inputs x 8 bytes)",
                    "use a coarser dt or a shorter duration")
    xs = _inputs.on_grid(inputs, net.n_inputs, steps, dt, input_interp)
    if xs.shape[0] > 1:
        raise ValueError("inputs for a Lyapunov spectrum are one trial: (steps, n_inputs)")
    # a sparse W stays CSR
    advance = _engine.tangent_stepper(method, net, Z, xs, _inputs.interp_code(input_interp),
                                      dt, ortho_every)

    def check(bad):
        if bad >= 0:
            raise FloatingPointError(f"the state left the finite range at t = {(bad + 1) * dt:g}"
                                     "; reduce dt or the weights' gain")

    # transient: state and tangent vectors settle, logs discarded
    if n_trans:
        check(advance(0, n_trans, np.zeros(K)))
    # averaging, recorded in n_records chunks of whole re-orthonormalisation periods
    periods = n_avg // ortho_every
    bounds = np.unique(np.linspace(0, periods, min(n_records, periods) + 1).round().astype(int))
    total = np.zeros(K)
    conv, times = [], []
    for p0, p1 in zip(bounds[:-1], bounds[1:]):
        check(advance(n_trans + p0 * ortho_every, (p1 - p0) * ortho_every, total))
        times.append(p1 * ortho_every * dt)
        conv.append(total / times[-1])
    ex = conv[-1]
    unit = "1/steps" if method.counts_steps else "1/(time unit of tau)"
    return xr.Dataset(
        {"exponents": ("exponent", ex, {"long_name": "Lyapunov exponents", "units": unit}),
         "convergence": (("time", "exponent"), np.array(conv),
                         {"long_name": "running estimate of the exponents", "units": unit})},
        coords={"exponent": np.arange(K), "time": ("time", np.array(times),
                                                   {"long_name": "averaging time"})},
        attrs=dict(method=method.name, dt=dt, duration=n_avg * dt, transient=n_trans * dt,
                   ortho_every=ortho_every, n_neurons=N, phi=net.phi.name))


def largest_lyapunov(net, *, duration, dt, **kwargs):
    """The largest Lyapunov exponent (one tangent vector): a float in 1/time.

    Parameters
    ----------
    net : RateNetwork
    duration, dt : float
        As in ``lyapunov_spectrum``, which takes the other keyword arguments.

    Returns
    -------
    float
        The largest exponent, in 1/time (the unit of tau; 1/steps for "discrete").

    Raises
    ------
    TypeError, NotImplementedError, ValueError, FloatingPointError
        As ``lyapunov_spectrum``.

    Examples
    --------
    >>> import ctrnn
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(200, g=0.5, seed=0))
    >>> ctrnn.analysis.largest_lyapunov(net, duration=100.0, dt=0.1, seed=1) < 0
    True
    """
    return float(lyapunov_spectrum(net, 1, duration=duration, dt=dt, **kwargs).exponents[0])
