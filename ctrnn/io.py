"""Streaming long runs to Zarr and reading them back lazily.

``simulate(..., store="run.zarr")`` writes each chunk of saved states as soon as the
kernel returns it, and records in the store's attrs how many time points are complete
(``n_complete``), so a crash loses at most the chunk in flight. ``open_run`` opens such a
store as a dask-backed Dataset holding only the complete time points.
"""
from __future__ import annotations

import os

import numpy as np
import xarray as xr

_CHUNK_BYTES = 16 * 2**20  # target size of one Zarr chunk


def need_dask():
    """Check that dask and zarr, which streaming to Zarr needs, can be imported.

    Raises
    ------
    ImportError
        If dask or zarr is not installed (``pip install 'ctrnn[dask]'``).
    """
    try:
        import dask.array  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        raise ImportError(f"streaming to Zarr needs dask and zarr: pip install "
                          f"'ctrnn[dask]' ({exc})") from None


class ZarrSink:
    """Saved states streamed to a Zarr store, chunk by chunk.

    ``names`` maps variable name -> (column slice of the state, attrs).

    Raises
    ------
    ImportError
        If dask or zarr is not installed.
    FileExistsError
        If ``path`` exists already.
    """

    def __init__(self, path, template, names, B, n_cols, dtype):
        need_dask()
        import dask.array as da

        if os.path.exists(path):
            raise FileExistsError(f"{path} exists: streaming writes a new store; choose "
                                  "another path or delete it (open it with ctrnn.open_run)")
        self.path, self.names = str(path), names
        self.dtype = dtype
        self.B, self.n_cols = B, n_cols
        n_time = template.sizes["time"]
        per_time = B * n_cols * np.dtype(dtype).itemsize
        self.time_chunk = int(max(1, min(n_time, _CHUNK_BYTES // max(per_time, 1))))
        lazy = template.copy()
        for name, (cols, attrs) in names.items():
            dims = template["h"].dims
            shape = template["h"].shape
            chunks = tuple(self.time_chunk if d == "time" else s for d, s in zip(dims, shape))
            lazy[name] = (dims, da.zeros(shape, dtype=dtype, chunks=chunks), attrs)
        lazy.attrs["n_complete"] = 0
        lazy.attrs["status"] = "running"
        lazy.to_zarr(self.path, mode="w-", compute=False, consolidated=False)
        self.dims = template["h"].dims
        self.batched = "trial" in self.dims
        self.buf = None
        self.n_complete = 0

    def view(self, s0, s1):
        """(buffer to write saves s0..s1-1 into, the global index of its first row).

        Returns
        -------
        buf : ndarray, shape (B, >= s1 - s0, n_cols)
            A reused buffer; ``commit(s0, s1)`` writes its first s1 - s0 rows.
        first : int
            s0: row k of ``buf`` is save s0 + k.
        """
        n = s1 - s0
        if self.buf is None or self.buf.shape[1] < n:
            self.buf = np.empty((self.B, max(n, 1), self.n_cols), self.dtype)
        return self.buf, s0

    def commit(self, s0, s1):
        if s1 <= s0:
            return
        data = {}
        for name, (cols, attrs) in self.names.items():
            block = self.buf[:, : s1 - s0, cols]
            data[name] = (self.dims, block if self.batched else block[0])
        xr.Dataset(data).to_zarr(self.path, region={"time": slice(s0, s1)}, consolidated=False)
        self.set_attrs(n_complete=int(s1))
        self.n_complete = int(s1)

    def set_attrs(self, **attrs):
        import zarr

        zarr.open_group(self.path, mode="r+").attrs.update(attrs)


def open_run(path):
    """Open a run streamed by ``simulate(..., store=path)`` as a dask-backed Dataset with
    its complete time points (all of them once the run has finished).

    Parameters
    ----------
    path : str or path
        The Zarr store given to ``simulate(..., store=path)``.

    Returns
    -------
    xarray.Dataset
        As ``simulate`` returns it (``h`` with dims ([trial,] time, neuron), ``u`` and
        ``x`` with STP, ``time`` in the run's time unit), dask-backed and cut to the
        ``n_complete`` time points written; attrs["status"] is "running" while the run
        goes on.

    Raises
    ------
    ImportError
        If dask or zarr is not installed (``pip install 'ctrnn[dask]'``).

    Examples
    --------
    >>> import ctrnn, tempfile, os
    >>> net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(50, 1.5, seed=0))
    >>> path = os.path.join(tempfile.mkdtemp(), "run.zarr")
    >>> _ = ctrnn.simulate(net, steps=200, dt=0.1, h0="random", seed=1, store=path)
    >>> ds = ctrnn.open_run(path)
    >>> ds.sizes["time"], ds.attrs["status"], type(ds.h.data).__module__.split(".")[0]
    (201, 'ok', 'dask')
    """
    need_dask()
    ds = xr.open_zarr(str(path), consolidated=False)
    n = int(ds.attrs.get("n_complete", ds.sizes["time"]))
    return ds.isel(time=slice(0, n)) if n < ds.sizes["time"] else ds


def write_atomic(path, write):
    """Call ``write(tmp)`` for a temporary path beside ``path`` (same folder and suffix),
    then move the result to ``path`` in one step, so that a file (or Zarr folder) appears
    at ``path`` only complete. An interrupted or failed write (Ctrl-C included) leaves
    ``path`` as it was and removes the temporary.

    Parameters
    ----------
    path : str or path
        The destination; an existing file or Zarr folder there is replaced.
    write : callable
        ``write(tmp_path)`` writes the whole file or folder.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    BaseException
        Whatever ``write`` or the final rename raises (KeyboardInterrupt included), after
        the temporary is removed.

    Examples
    --------
    >>> import tempfile, os, ctrnn
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = ctrnn.io.write_atomic(p, lambda tmp: open(tmp, "w").write("done"))
    >>> open(p).read()
    'done'
    """
    import shutil
    import uuid
    from pathlib import Path

    path = Path(path)
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.stem}.tmp-{tag}{path.suffix}")
    old = path.with_name(f".{path.stem}.old-{tag}{path.suffix}")
    moved = False
    try:
        write(tmp)
        if path.is_dir() and tmp.is_dir():  # a Zarr store being replaced: two renames,
            os.replace(path, old)  # the old one kept until the new one is in place
            moved = True
        os.replace(tmp, path)
    except BaseException:
        if moved and not path.exists():
            os.replace(old, path)  # put the old store back
            moved = False
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise
    if moved:
        shutil.rmtree(old, ignore_errors=True)
    return path


def save_result(ds, outdir, stem, plot, **plot_kwargs):
    """Write ``ds`` to OUTDIR/STEM.nc and ``plot(ds, OUTDIR/STEM.png)``, print where, and
    return the two paths (what ``ctrnn demo`` and every example script end with).

    Returns
    -------
    nc, png : pathlib.Path
        OUTDIR/STEM.nc and OUTDIR/STEM.png.

    Examples
    --------
    >>> import tempfile, numpy as np, xarray as xr, ctrnn
    >>> ds = xr.Dataset({"h": ("time", np.zeros(3))})
    >>> nc, png = ctrnn.io.save_result(ds, tempfile.mkdtemp(), "x",
    ...                                lambda d, path: open(path, "wb").close())  # doctest: +ELLIPSIS
    wrote .../x.nc
    wrote .../x.png
    """
    from pathlib import Path

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    nc, png = out / f"{stem}.nc", out / f"{stem}.png"
    write_atomic(nc, ds.to_netcdf)
    write_atomic(png, lambda tmp: plot(ds, tmp, **plot_kwargs))
    for path in (nc, png):
        print(f"wrote {path.resolve()}")
    return nc, png
