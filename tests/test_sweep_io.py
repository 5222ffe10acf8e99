"""Sweeps on a real dask.distributed LocalCluster and streaming to a real Zarr store."""
import functools
import os

import numpy as np
import pytest

import ctrnn
from ctrnn.sweep import SweepWarning

pytest.importorskip("dask.distributed")
pytest.importorskip("zarr")

PARAMS = {"g": [0.5, 1.5, 2.5], "seed": [0, 1]}
SIM = dict(duration=20.0, dt=0.1, h0="random", seed=3, method="rk4")


def build(g, seed):
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(80, g, seed))


def reduce(ds):
    return ds.h.var("neuron").mean("time")


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_sweep_on_local_cluster_equals_serial(client):
    serial = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial")
    dist = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client=client)
    assert dist.h.dims == ("g", "seed")
    np.testing.assert_array_equal(dist.h.values, serial.h.values)
    # and each point is the simulation it names
    one = reduce(ctrnn.simulate(build(1.5, 1), **SIM))
    assert float(dist.h.sel(g=1.5, seed=1)) == float(one)
    full = ctrnn.sweep(build, {"g": [0.5, 2.5], "seed": [0]}, simulate=dict(SIM, duration=2.0),
                       client="serial")
    assert full.h.dims == ("g", "seed", "time", "neuron")


def test_sweep_over_an_existing_network_ships_it_to_the_workers(client):
    """build uses a network made beforehand: the workers receive it pickled (it used to
    fail on every point with a misleading deserialisation error)."""
    base = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(20, 1.5, seed=0), tau=1.0)

    def build(noise):
        return base.replace(noise=noise)
    kw = dict(simulate=dict(duration=2.0, dt=0.1, method="euler", h0="random", seed=0),
              reduce=reduce)
    dist = ctrnn.sweep(build, {"noise": [0.0, 0.3]}, client=client, **kw)
    serial = ctrnn.sweep(build, {"noise": [0.0, 0.3]}, client="serial", **kw)
    assert dist.attrs["n_failed"] == 0
    np.testing.assert_array_equal(dist.h.values, serial.h.values)


def test_sweep_survives_a_killed_worker(client, tmp_path):
    marker = tmp_path / "kill-once"
    marker.write_text("x")

    def fragile(g, seed):
        if g == 2.5 and seed == 1 and marker.exists():
            marker.unlink()
            os._exit(1)  # the worker process dies in the middle of the sweep
        return build(g, seed)

    res = ctrnn.sweep(fragile, PARAMS, simulate=SIM, reduce=reduce, client=client)
    assert not marker.exists()  # the kill happened
    assert res.attrs["n_failed"] == 0 and np.isfinite(res.h.values).all()
    serial = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial")
    np.testing.assert_array_equal(res.h.values, serial.h.values)


def test_interrupted_sweep_resumes_missing_points_only(tmp_path):
    store = tmp_path / "sweep"

    def stop_after_three(done, total):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial",
                    store=store, progress=stop_after_three)
    finished = len(list((store / "points").glob("*.zarr")))
    assert finished == 3
    res = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial", store=store)
    assert res.attrs["n_computed"] == 6 - finished
    whole = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial")
    np.testing.assert_array_equal(res.h.values, whole.h.values)
    again = ctrnn.sweep(build, PARAMS, simulate=SIM, reduce=reduce, client="serial", store=store)
    assert again.attrs["n_computed"] == 0
    # threads=1 is the sweep's default: the same sweep; another number is another sweep
    # (a run split across threads can differ from a one-thread run to round-off)
    again = ctrnn.sweep(build, PARAMS, simulate={**SIM, "threads": 1}, reduce=reduce,
                        client="serial", store=store)
    assert again.attrs["n_computed"] == 0
    with pytest.raises(ValueError, match="different sweep"):
        ctrnn.sweep(build, PARAMS, simulate={**SIM, "threads": 2}, reduce=reduce,
                    client="serial", store=store)
    with pytest.raises(ValueError, match="different sweep"):
        ctrnn.sweep(build, {"g": [0.5]}, simulate=SIM, reduce=reduce, store=store)


def test_store_knows_build_and_reduce_by_code_and_captured_values(tmp_path):
    grid = {"g": [0.5], "seed": [0]}

    def builder(scale):
        return lambda g, seed: build(g * scale, seed)

    def run(b, r, path="s"):
        return ctrnn.sweep(b, grid, simulate=SIM, reduce=r, client="serial",
                           store=tmp_path / path)

    run(builder(1.0), reduce)
    assert run(builder(1.0), reduce).attrs["n_computed"] == 0  # same code, same values
    with pytest.raises(ValueError, match="different sweep"):
        run(builder(2.0), reduce)  # the same lambda closing over another value
    with pytest.raises(ValueError, match="different sweep"):
        run(builder(1.0), lambda ds: ds.h.mean("neuron"))  # another lambda, same name
    run(functools.partial(build_scaled, scale=2.0), reduce, "p")
    assert run(functools.partial(build_scaled, scale=2.0), reduce, "p").attrs[
        "n_computed"] == 0
    with pytest.raises(ValueError, match="different sweep"):
        run(functools.partial(build_scaled, scale=3.0), reduce, "p")  # another bound value
    # captured arrays and networks count by content, not by their abbreviated repr
    W = ctrnn.connectivity.gaussian(80, 1.0, seed=0)
    lesion = W.copy()
    lesion[30:40, 30:40] = 0.0

    def scaling(M):  # a closure over an array or a network
        return lambda g, seed: ctrnn.RateNetwork(np.asarray(getattr(M, "W", M)) * g)

    for a, b in ((W, lesion), (ctrnn.RateNetwork(W), ctrnn.RateNetwork(lesion))):
        run(scaling(a), reduce, type(a).__name__)
        with pytest.raises(ValueError, match="different sweep"):
            run(scaling(b), reduce, type(a).__name__)


def build_scaled(g, seed, scale):
    return build(g * scale, seed)


@pytest.mark.parametrize("where", ["serial", "cluster"])
def test_a_failing_point_is_reported_and_the_others_kept(where, request):
    def picky(g, seed):
        if g == 1.5 and seed == 0:
            raise ValueError("no network here")
        return build(g, seed)

    on = "serial" if where == "serial" else request.getfixturevalue("client")
    with pytest.warns(SweepWarning, match=r"\{'g': 1.5, 'seed': 0\}: ValueError: no network"):
        res = ctrnn.sweep(picky, PARAMS, simulate=SIM, reduce=reduce, client=on)
    assert res.attrs["n_failed"] == 1 and np.isnan(float(res.h.sel(g=1.5, seed=0)))
    assert np.isfinite(res.h.drop_sel(g=1.5).values).all()


def test_a_sweep_over_one_parameter(client):
    one = {"g": [0.5, 2.5]}
    for on in ("serial", client):
        res = ctrnn.sweep(lambda g: build(g, 0), one, simulate=SIM, reduce=reduce, client=on)
        assert res.h.dims == ("g",) and res.g.values.tolist() == [0.5, 2.5]
        assert float(res.h.sel(g=2.5)) == float(reduce(ctrnn.simulate(build(2.5, 0), **SIM)))


def test_streamed_run_equals_in_memory_run(tmp_path):
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(50, 1.5, seed=0), noise=0.05,
                            stp=None)
    kw = dict(steps=600, dt=0.05, h0="random", seed=1, method="rk4", save_every=4,
              trials=2, chunk_steps=50)
    mem = ctrnn.simulate(net, **kw)
    disk = ctrnn.simulate(net, store=tmp_path / "run.zarr", **kw)
    np.testing.assert_array_equal(disk.h.values, mem.h.values)
    assert disk.attrs["status"] == "ok" and disk.h.chunks is not None  # dask-backed
    back = ctrnn.open_run(tmp_path / "run.zarr")
    np.testing.assert_array_equal(back.time.values, mem.time.values)
    withp = ctrnn.simulate(net, store=tmp_path / "p.zarr", include_params=True, steps=10,
                           dt=0.1)
    np.testing.assert_array_equal(withp.W.values, net.W)


def test_interrupted_stream_keeps_every_completed_chunk(tmp_path):
    net = ctrnn.RateNetwork(ctrnn.connectivity.gaussian(40, 1.5, seed=0),
                            stp=ctrnn.STP(), phi="relu", b=0.2)
    kw = dict(steps=400, dt=0.01, h0=np.full(40, 0.5), method="euler", save_every=5,
              chunk_steps=40)
    mem = ctrnn.simulate(net, **kw)

    def crash(done, total):
        if done >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ctrnn.simulate(net, store=tmp_path / "crash.zarr", progress=crash, **kw)
    part = ctrnn.open_run(tmp_path / "crash.zarr")
    assert part.attrs["status"] == "running"  # never finished
    assert part.sizes["time"] == 200 // 5 + 1  # h0 and every save of the 5 chunks done
    for v in ("h", "u", "x"):
        np.testing.assert_array_equal(part[v].values, mem[v].values[:part.sizes["time"]])


def test_store_refuses_to_overwrite(tmp_path):
    net = ctrnn.RateNetwork(np.eye(2) * 0.5)
    ctrnn.simulate(net, steps=5, dt=0.1, store=tmp_path / "a.zarr")
    with pytest.raises(FileExistsError, match="exists: streaming writes a new store"):
        ctrnn.simulate(net, steps=5, dt=0.1, store=tmp_path / "a.zarr")
