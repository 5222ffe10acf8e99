"""The ``ctrnn`` command: ``ctrnn demo`` and ``ctrnn run CONFIG.toml -o out.nc``."""
from __future__ import annotations

import argparse
import difflib
import os
import sys
import warnings
import tomllib
from pathlib import Path

import numpy as np

from ._version import __version__
from .io import save_result, write_atomic

# key -> (type(s), required, help) for each table of a run configuration
SCHEMA = {
    "network": {
        "n": (int, True, "number of neurons"),
        "connectivity": (str, False, 'how W is built: "gaussian" (W_ij ~ N(0, g^2/n))'),
        "g": ((int, float), False, "gain of the Gaussian connectivity (default 1.5)"),
        "tau": ((int, float), False, "time constant in seconds (default 0.01)"),
        "phi": (str, False, 'nonlinearity name (default "tanh")'),
        "noise": ((int, float), False, "noise sigma (default 0)"),
        "bias": ((int, float), False, "bias b for every neuron (default 0)"),
        "seed": (int, False, "seed of the connectivity (default 0)"),
    },
    "simulation": {
        "method": (str, False, 'integrator (default "rk4")'),
        "dt": ((int, float), False, "step size in seconds (required, except for "
                                    'method = "discrete")'),
        "duration": ((int, float), False, "length of the run in seconds (or give steps)"),
        "steps": (int, False, "number of steps of dt (instead of duration)"),
        "rtol": ((int, float), False, "relative tolerance of the adaptive methods "
                                      "(dopri5, bs3; default 1e-6)"),
        "atol": ((int, float), False, "absolute tolerance of the adaptive methods "
                                      "(default 1e-9)"),
        "save_every": (int, False, "save every k-th step (default 1)"),
        "seed": (int, False, "seed of h0 and noise (default 1)"),
        "h0": (str, False, '"random" (N(0, 1), default) or "zeros"'),
        "trials": (int, False, "number of trials (default: a single run)"),
        "dtype": (str, False, '"float64" (default) or "float32"'),
    },
    "sweep": {  # only for `ctrnn sweep`: lists of values of [network] keys
        "n": (list, False, "list of network sizes"),
        "g": (list, False, "list of gains"),
        "tau": (list, False, "list of time constants"),
        "noise": (list, False, "list of noise levels"),
        "bias": (list, False, "list of biases"),
        "seed": (list, False, "list of connectivity seeds"),
        "reduce": (str, False, '"none" (keep h) or "variance" (variance over neurons, '
                               'mean over time)'),
    },
}
OPTIONAL_TABLES = {"sweep"}
EXAMPLE_CONFIG = """\
[network]
n = 500
connectivity = "gaussian"
g = 1.5
tau = 0.01      # seconds
phi = "tanh"
seed = 0

# noise = 0.0   # sigma of the additive white noise (stationary sd for W = 0)
# bias = 0.0    # b for every neuron

[simulation]
method = "rk4"  # euler, heun, rk4, exponential_euler, dopri5, bs3 (adaptive)
dt = 0.0005     # seconds
duration = 1.0  # seconds (or: steps = 2000)
save_every = 2
seed = 1        # seed of h0 and of the noise
# h0 = "random" # or "zeros"
# trials = 8    # a batch of trials
# dtype = "float32"
# rtol = 1e-6   # adaptive methods only
# atol = 1e-9
"""


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the key."""


def load_config(path):
    """Read and check a TOML run configuration; returns {table: {key: value}}.

    Returns
    -------
    dict
        {table: {key: value}} with tables [network], [simulation] and optionally [sweep].

    Raises
    ------
    ConfigError
        (a ValueError) If the file does not exist or is not valid TOML, or has an unknown
        table or key, a missing table or required key, or a value of the wrong type.
    """
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for table in cfg:
        if table not in SCHEMA:
            raise ConfigError(f"{path}: unknown table [{table}]{_hint(table, SCHEMA)}; "
                              f"tables: {', '.join(f'[{t}]' for t in SCHEMA)}")
    for table, keys in SCHEMA.items():
        section = cfg.get(table)
        if section is None and table in OPTIONAL_TABLES:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: missing table [{table}]")
        for key, value in section.items():
            if key not in keys:
                raise ConfigError(f"{path}: unknown key {table}.{key}{_hint(key, keys)}; "
                                  f"known keys: {', '.join(keys)}")
            types, _, help_ = keys[key]
            if isinstance(value, bool) or not isinstance(value, types):
                raise ConfigError(f"{path}: {table}.{key} = {value!r} has the wrong type; "
                                  f"expected {help_}")
        for key, (_, required, help_) in keys.items():
            if required and key not in section:
                raise ConfigError(f"{path}: missing key {table}.{key} ({help_})")
    return cfg


def _hint(name, known):
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build_network(net_cfg, **point):
    """The RateNetwork of a [network] table, with ``point`` overriding its keys.

    Returns
    -------
    RateNetwork
        n neurons, Gaussian W (gain g), tau in seconds.

    Raises
    ------
    ConfigError
        If network.connectivity is not "gaussian", network.n is missing, or a value is
        invalid (the TypeError or ValueError of the builders, with its message).
    """
    import ctrnn

    c = {**net_cfg, **point}
    kind = c.get("connectivity", "gaussian")
    if kind != "gaussian":
        raise ConfigError(f"network.connectivity = {kind!r} is not known; use \"gaussian\"")
    if "n" not in c:
        raise ConfigError("missing key network.n (number of neurons)")
    try:
        W = ctrnn.connectivity.gaussian(c["n"], c.get("g", 1.5), seed=c.get("seed", 0))
        return ctrnn.RateNetwork(W, tau=c.get("tau", 0.01), phi=c.get("phi", "tanh"),
                                 noise=c.get("noise", 0.0), b=c.get("bias", 0.0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[network]: {exc}") from None


def _simulate_kwargs(sim_cfg):
    h0 = sim_cfg.get("h0", "random")
    if h0 not in ("random", "zeros"):
        raise ConfigError(f'simulation.h0 = {h0!r}: use "random" or "zeros"')
    dtype = sim_cfg.get("dtype", "float64")
    if dtype not in ("float64", "float32"):
        raise ConfigError(f'simulation.dtype = {dtype!r}: use "float64" or "float32"')
    if ("duration" in sim_cfg) == ("steps" in sim_cfg):
        raise ConfigError("give exactly one of simulation.duration (seconds) or "
                          "simulation.steps (a number of steps of dt)")
    extra = {k: sim_cfg[k] for k in ("rtol", "atol", "duration", "steps") if k in sim_cfg}
    return dict(dt=sim_cfg.get("dt"), method=sim_cfg.get("method", "rk4"),
                save_every=sim_cfg.get("save_every", 1), seed=sim_cfg.get("seed", 1),
                trials=sim_cfg.get("trials"), h0="random" if h0 == "random" else None,
                dtype=np.dtype(dtype), **extra)


def reduce_variance(ds):
    """Variance of h over neurons, averaged over time (a sweep reduction)."""
    return ds.h.var("neuron").mean("time").rename("variance")


def run_sweep(cfg, store, scheduler=None, workers=None, progress=True):
    """Run the sweep a configuration describes (a [sweep] table of lists).

    Returns
    -------
    xarray.Dataset
        As ``ctrnn.sweep``: dims the swept keys, then those of the result (``h`` with
        reduce = "none", else ``variance`` of h, dimensionless).

    Raises
    ------
    ConfigError
        If sweep.reduce is not "none" or "variance", the [sweep] table has no list, the
        first point's [network] values, simulation.h0 or simulation.dtype are invalid,
        or the store holds another sweep or is not a sweep store.
    """
    import functools

    import ctrnn

    sw = dict(cfg.get("sweep") or {})
    reduce_name = sw.pop("reduce", "variance")
    if reduce_name not in ("none", "variance"):
        raise ConfigError(f'sweep.reduce = {reduce_name!r}: use "none" or "variance"')
    if not sw:
        raise ConfigError("a sweep needs a [sweep] table with at least one list, e.g. "
                          "g = [0.5, 1.5, 2.5]")
    empty = [k for k, v in sw.items() if not v]
    if empty:
        raise ConfigError(f"sweep.{empty[0]} = []: give at least one value")
    # a partial: the store knows the sweep by build_network and the fixed [network] table
    build = functools.partial(build_network, dict(cfg["network"]))
    for k, v in sw.items():  # fail fast here: every value, one key at a time
        for value in v:
            build_network(cfg["network"], **{k: value})
    check_simulation(build_network(cfg["network"], **{k: v[0] for k, v in sw.items()}),
                     _simulate_kwargs(cfg["simulation"]))
    try:
        return ctrnn.sweep(build, sw, simulate=_simulate_kwargs(cfg["simulation"]),
                           reduce=None if reduce_name == "none" else reduce_variance,
                           client=scheduler, store=store, n_workers=workers,
                           progress=progress)
    except ValueError as exc:  # one line; a store mismatch details both sweeps below it
        raise ConfigError(_for_the_config(str(exc))) from None


def _for_the_config(msg):
    """A simulate() message in the configuration's terms: no Python-only options."""
    import re

    msg = (msg.replace("\n  ", "; ").split("\n")[0]  # one line: a list joined, the store
           .replace(" (on_blowup='return' keeps the partial result)", "")
           .replace("or net.replace(noise=0)", "or network.noise = 0")
           .replace("pass steps=T", "set steps = T")
           .replace("or pass steps=", "or set steps = N")
           .replace("a saturating phi", 'a saturating phi (network.phi = "tanh")'))
    return re.sub(r"method='(\w+)'", r'method = "\1"', msg)


def check_simulation(net, kwargs):
    """Validate the simulate arguments of a configuration for ``net`` without running
    anything (``ctrnn.simulate.validate``).

    Raises
    ------
    ConfigError
        The simulate error, in the configuration's terms.
    """
    from .simulate import validate

    try:
        validate(net, **kwargs)
    except (TypeError, ValueError, MemoryError) as exc:
        raise ConfigError(f"[simulation]: {_for_the_config(str(exc))}") from None


def run_config(cfg, progress=None):
    """Simulate the network a configuration describes; returns the Dataset. ``progress``
    as in ``ctrnn.simulate`` (None: a bar once the run takes more than a few seconds).

    Returns
    -------
    xarray.Dataset
        As ``ctrnn.simulate`` returns it: ``h`` with dims ([trial,] time, neuron), time
        in seconds.

    Raises
    ------
    ConfigError
        If a [network] or [simulation] value is invalid, or ``simulate`` raises
        TypeError, ValueError, MemoryError or FloatingPointError (the message kept).
    RuntimeError
        If an adaptive method reaches max_steps or its step size underflows.
    """
    import ctrnn

    net_cfg, sim_cfg = cfg["network"], cfg["simulation"]
    net = build_network(net_cfg)
    kwargs = _simulate_kwargs(sim_cfg)
    try:
        return ctrnn.simulate(net, progress=progress, **kwargs)
    except (TypeError, ValueError, MemoryError, FloatingPointError, RuntimeError) as exc:
        raise ConfigError(f"[simulation]: {_for_the_config(str(exc))}") from None


def demo(outdir=".", n=500, g=1.5, duration=1.0):
    """The main job: a chaotic random network (g = 1.5, tau = 10 ms) simulated with rk4;
    writes ctrnn_demo.nc and ctrnn_demo.png into ``outdir``, prints where, and returns
    (nc path, png path, Dataset)."""
    import ctrnn

    W = ctrnn.connectivity.gaussian(n, g, seed=0)
    net = ctrnn.RateNetwork(W, tau=0.01, phi="tanh")
    ds = ctrnn.simulate(net, duration=duration, dt=5e-4, method="rk4", h0="random", seed=1,
                        save_every=2, progress=None)
    # how to make this file again
    ds.attrs.update(connectivity="gaussian: W_ij ~ N(0, g^2 / n)", g=float(g),
                    connectivity_seed=0, ctrnn_command=f"ctrnn demo -n {n}")
    print(f"simulated {ds.sizes['neuron']} neurons for {ds.attrs['duration']} s "
          f"({ds.attrs['method']}, dt = {ds.attrs['dt']} s)")
    nc, png = save_result(ds, outdir, "ctrnn_demo", plot_activity,
                          title=f"random network, N = {n}, g = {g}, tau = 10 ms")
    return nc, png, ds


def plot_activity(ds, path, title=""):
    """``ds.ctrnn.plot()`` (heat map of h(t) for all neurons plus a few traces) saved to
    ``path``; the figure is closed. The matplotlib backend is left as the user set it."""
    import matplotlib.pyplot as plt

    fig = ds.ctrnn.plot()
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """The ``ctrnn`` command line (``argv`` defaults to ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 if some sweep points failed, 2 for a configuration
        error (reported on stderr; the ConfigError raised inside is caught).

    Raises
    ------
    SystemExit
        From argparse, for invalid arguments (status 2) or ``--help`` (status 0).
    """
    parser = argparse.ArgumentParser(prog="ctrnn", description=(
        "Simulate continuous-time rate networks tau dh/dt = -h + phi(W h + U x + b)."))
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="simulate a chaotic network, write NetCDF + PNG")
    p_demo.add_argument("-o", "--outdir", default=".", help="output folder (default: here)")
    p_demo.add_argument("-n", type=int, default=500, help="number of neurons (default 500)")
    p_run = sub.add_parser("run", help="simulate the network a TOML file describes")
    p_run.add_argument("config", help="TOML file; `ctrnn example-config` prints one")
    p_run.add_argument("-o", "--output", required=True, help="NetCDF file to write")
    p_run.add_argument("--plot", help="also save a PNG of the activity here")
    p_run.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                       help="progress bar on stderr: auto (runs longer than a few "
                            "seconds; default), always or never. Redirected to a file, "
                            "it is redrawn at most every 5%%")
    sub.add_parser("example-config", help="print an example TOML configuration")
    p_sw = sub.add_parser("sweep", help="run a parameter sweep ([sweep] table of lists) on "
                                        "dask, resumable from its store")
    p_sw.add_argument("config", help="TOML file with [network], [simulation] and [sweep]")
    p_sw.add_argument("--store", required=True, help="sweep directory (resumable)")
    p_sw.add_argument("--scheduler", help="dask scheduler address (default: a local cluster)")
    p_sw.add_argument("--workers", type=int, help="workers of the local cluster")
    p_sw.add_argument("-o", "--output", help="also write the combined result to NetCDF")
    parser.add_argument("--version", action="version", version=f"ctrnn {__version__}")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv

    def show(message, category, *_, **__):  # warnings as one line, in the config's terms
        print(f"ctrnn {args.command}: warning: {_for_the_config(str(message))}",
              file=sys.stderr)
    import signal

    def terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C: temporaries are removed
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return _COMMANDS[args.command](args)
        except ConfigError as exc:  # one line, exit status 2, checked before any work
            print(f"ctrnn {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"ctrnn {args.command}: interrupted; files not yet complete were not "
                  "written", file=sys.stderr)
            return 130
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def check_output(path, what, *, folder=False, make_parents=False):
    """Refuse an output path that cannot be written, before any work: a file where a
    folder is wanted or the other way round, a missing parent folder (unless
    ``make_parents``: then the nearest existing one must be writable), or no write
    permission.

    Raises
    ------
    ConfigError
        Naming ``what`` (the option) and the path.
    """
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise ConfigError(f"{what} {path} is a file; give a folder")
    if not folder and p.is_dir():
        raise ConfigError(f"{what} {path} is a folder; give a file name")
    if make_parents:
        parent = next((q for q in [p, *p.parents] if q.exists()), Path("."))
    else:
        parent = p if folder and p.exists() else (p.parent if str(p.parent) else Path("."))
        if not parent.is_dir():
            raise ConfigError(f"{what} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ConfigError(f"{what} {path}: {parent} is not writable")


def _provenance(args, cfg):
    """attrs that say how a file was made: the command, the configuration as TOML
    (every setting, defaults filled in where the file left them out) and the version."""
    net = {"connectivity": "gaussian", "g": 1.5, "tau": 0.01, "phi": "tanh", "noise": 0.0,
           "bias": 0.0, "seed": 0, **cfg["network"]}
    sim = {"method": "rk4", "save_every": 1, "seed": 1, "h0": "random", "dtype": "float64",
           **cfg["simulation"]}
    lines = ["[network]"] + [f"{k} = {_toml(v)}" for k, v in net.items()]
    lines += ["", "[simulation]"] + [f"{k} = {_toml(v)}" for k, v in sim.items()]
    if cfg.get("sweep"):
        lines += ["", "[sweep]"] + [f"{k} = {_toml(v)}" for k, v in cfg["sweep"].items()]
    import shlex

    return {"ctrnn_command": "ctrnn " + " ".join(shlex.quote(a) for a in args.argv),
            "config_toml": "\n".join(lines) + "\n", "ctrnn_version": __version__}


def _toml(v):
    if isinstance(v, str):
        import json

        return json.dumps(v)  # a TOML basic string: quotes, backslashes, newlines escaped
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


def _check_reachable(address, timeout=5.0):
    """A tcp:// scheduler address must accept a connection within ``timeout`` seconds
    (dask itself would wait 30 s before failing)."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = u.port
    except ValueError:
        raise ConfigError(f"--scheduler {address}: not an address (host:port, e.g. "
                          "tcp://127.0.0.1:8786)") from None
    if u.scheme != "tcp":
        return  # other protocols: leave the check to dask
    if not u.hostname or not port:
        raise ConfigError(f"--scheduler {address}: give host:port, e.g. "
                          "tcp://127.0.0.1:8786")
    try:
        socket.create_connection((u.hostname, u.port), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"--scheduler {address}: nothing answers there ({exc}); start "
                          "the scheduler first, or leave --scheduler out for a local "
                          "cluster") from None


def _cmd_example_config(args):
    print(EXAMPLE_CONFIG, end="")
    return 0


def _cmd_demo(args):
    if args.n < 1:
        raise ConfigError(f"-n {args.n}: the number of neurons must be >= 1")
    check_output(args.outdir, "--outdir", folder=True, make_parents=True)
    demo(args.outdir, n=args.n)
    return 0


def _cmd_sweep(args):
    if args.output:
        check_output(args.output, "-o")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: must be >= 1")
    cfg = load_config(args.config)
    if args.scheduler:
        _check_reachable(args.scheduler)
    check_output(args.store, "--store", folder=True)
    try:
        res = run_sweep(cfg, args.store, args.scheduler, args.workers)
    except TimeoutError as exc:
        where = f"the scheduler at {args.scheduler}" if args.scheduler else "a local cluster"
        raise ConfigError(f"could not reach {where}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{type(exc).__name__}: {exc}") from None
    print(f"{res.attrs['n_points']} points ({res.attrs['n_computed']} computed now, "
          f"{res.attrs['n_failed']} failed) in {Path(args.store).resolve()}")
    if args.output:
        res.attrs.update(_provenance(args, cfg))
        write_atomic(args.output, res.to_netcdf)
        print(f"wrote {Path(args.output).resolve()}")
    return 0 if res.attrs["n_failed"] == 0 else 1


def _cmd_run(args):
    check_output(args.output, "-o")
    if args.plot:
        check_output(args.plot, "--plot")
    cfg = load_config(args.config)
    if cfg.get("sweep"):
        raise ConfigError("this file has a [sweep] table: use `ctrnn sweep`")
    ds = run_config(cfg, progress={"auto": None, "always": True,
                                   "never": False}[args.progress])
    ds.attrs.update(_provenance(args, cfg))
    write_atomic(args.output, ds.to_netcdf)
    print(f"wrote {Path(args.output).resolve()}")
    if args.plot:
        net = cfg["network"]
        title = (f"{Path(args.config).name}: N = {net['n']}, g = {net.get('g', 1.5)}, "
                 f"{ds.attrs['method']}, dt = {ds.attrs.get('dt')}")
        write_atomic(args.plot, lambda tmp: plot_activity(ds, tmp, title=title))
        print(f"wrote {Path(args.plot).resolve()}")
    return 0


_COMMANDS = {"example-config": _cmd_example_config, "demo": _cmd_demo, "sweep": _cmd_sweep,
             "run": _cmd_run}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
