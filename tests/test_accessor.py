"""``ds.ctrnn`` / ``da.ctrnn``: labelled figures (headless) and analyses against NumPy."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import ctrnn


@pytest.fixture(scope="module")
def net():
    return ctrnn.RateNetwork(ctrnn.connectivity.gaussian(30, 1.5, seed=0), tau=0.01)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(fig):
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_title(loc="left")]
    return [s for s in out if s]


def test_plot_single_run_heat_map_and_traces_with_units(net):
    ds = ctrnn.simulate(net, duration=0.2, dt=1e-3, h0="random", seed=1)
    fig = ds.ctrnn.plot()
    labels = _labels(fig)
    assert "time (s)" in labels and "neuron" in labels
    assert "activation h (1)" in labels  # the colour bar and the traces' axis
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 1 and images[0].get_array().shape == (30, 201)
    np.testing.assert_array_equal(images[0].get_array(), ds.h.values.T)
    # pixel k is centred on save k: the extent reaches half a save beyond each end
    np.testing.assert_allclose(images[0].get_extent()[:2], [-0.0005, 0.2005])
    traces = [ln for ax in fig.axes for ln in ax.get_lines()]
    assert len(traces) == 5
    np.testing.assert_array_equal(traces[2].get_ydata(), ds.h.values[:, 2])
    # a few neurons, or chosen ones: traces only
    fig2 = ds.ctrnn.plot(neurons=[3, 7])
    assert not [im for ax in fig2.axes for im in ax.get_images()]
    np.testing.assert_array_equal(fig2.axes[0].get_lines()[1].get_ydata(), ds.h.values[:, 7])
    # the DataArray accessor draws the same
    assert len(ds.h.ctrnn.plot().axes) == len(fig.axes)


def test_plot_batch_small_multiples_and_mean_sd(net):
    few = ctrnn.simulate(net, duration=0.1, dt=1e-3, h0="random", seed=1, trials=3)
    fig = few.ctrnn.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert {"trial 0", "trial 1", "trial 2"} <= set(titles)
    # one colour scale and one y range for all trials, so they compare
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 3 and len({im.get_clim() for im in images}) == 1
    trace_axes = [ax for ax in fig.axes if ax.get_lines()]
    assert len({ax.get_ylim() for ax in trace_axes}) == 1
    many = ctrnn.simulate(net, duration=0.1, dt=1e-3, h0="random", seed=1, trials=10)
    fig = many.ctrnn.plot(neurons=[0, 1])
    assert "10 trials: mean \u00b1 sd" in fig.get_suptitle()
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(),
                               many.h.values[:, :, 0].mean(axis=0))
    assert len(ax.collections) == 2  # the +- sd bands
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    sd = many.h.values[:, :, 0].std(axis=0)
    m = many.h.values[:, :, 0].mean(axis=0)
    assert np.isclose(band.max(), (m + sd).max()) and np.isclose(band.min(), (m - sd).min())


def test_traces_named_by_population_and_nan_tail_is_drawn():
    W, labels = ctrnn.connectivity.dale(8, 2, seed=0)
    ds = ctrnn.simulate(ctrnn.RateNetwork(0.1 * W, dale=labels, tau=1.0), steps=20, dt=0.1,
                        h0=np.ones(10))
    legend = [t.get_text() for t in ds.ctrnn.plot(neurons=[0, 9]).axes[0].get_legend().get_texts()]
    assert legend == ["E (neuron 0)", "I (neuron 9)"]
    blown = ctrnn.simulate(ctrnn.RateNetwork(3 * np.eye(12), phi="linear"), steps=2000,
                           dt=0.5, method="euler", h0=np.ones(12), on_blowup="return")
    assert np.isnan(blown.h.values[-1]).all()
    im = blown.ctrnn.plot().axes[0].get_images()[0]
    assert np.isfinite(im.get_clim()).all()


def test_plot_stp_run_has_u_and_x_panels_and_discrete_counts_steps():
    stp = ctrnn.STP(U=0.2, tau_f=1.5, tau_d=0.2)
    W = np.abs(ctrnn.connectivity.gaussian(12, 0.5, seed=1))
    ds = ctrnn.simulate(ctrnn.RateNetwork(W, phi="relu", stp=stp, b=0.5, tau=0.05),
                        duration=0.5, dt=1e-3, h0=np.ones(12))
    labels = _labels(ds.ctrnn.plot())
    assert {"u (1)", "x (1)"} <= set(labels)  # short axis labels, the full names above
    assert "STP utilisation u (facilitation)" in labels
    assert "STP available resources x (depression)" in labels
    assert "time (s)" in labels
    rnn = ctrnn.simulate(ctrnn.RateNetwork(W, phi="tanh"), steps=20, method="discrete",
                         h0=np.ones(12))
    assert "time (steps)" in _labels(rnn.ctrnn.plot())


def test_plot_trajectory_projects_on_principal_components(net):
    ds = ctrnn.simulate(net, duration=0.3, dt=1e-3, h0="random", seed=2)
    fig = ds.ctrnn.plot_trajectory()
    x = ds.h.values - ds.h.values.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)  # independent PCA
    ref = x @ vt[:2].T
    line = fig.axes[0].get_lines()[0]
    got = np.stack([line.get_xdata(), line.get_ydata()], axis=1)
    np.testing.assert_allclose(np.abs(got), np.abs(ref), atol=1e-10)
    share = 100 * s**2 / (s**2).sum()
    assert fig.axes[0].get_xlabel() == f"PC1 ({share[0]:.0f}% of variance)"
    batch = ctrnn.simulate(net, duration=0.1, dt=1e-3, h0="random", seed=2, trials=4)
    fig3 = batch.ctrnn.plot_trajectory(3)
    assert fig3.axes[0].name == "3d" and "PC3" in fig3.axes[0].get_zlabel()
    assert len([ln for ln in fig3.axes[0].get_lines() if len(ln.get_xdata()) > 1]) == 4
    with pytest.raises(ValueError, match="n_components must be 2 or 3"):
        ds.ctrnn.plot_trajectory(4)


def test_analyses_against_numpy(net):
    ds = ctrnn.simulate(net, duration=0.3, dt=1e-3, h0="random", seed=3)
    h = ds.h.values
    x = h - h.mean(axis=0)
    lam = np.linalg.eigvalsh(np.cov(h.T))
    assert np.isclose(ds.ctrnn.participation_ratio(), lam.sum() ** 2 / (lam**2).sum())
    pc = ds.ctrnn.principal_components(3)
    s = np.linalg.svd(x, compute_uv=False)
    np.testing.assert_allclose(pc.explained_variance.values, s[:3] ** 2 / (len(h) - 1))
    acf = ds.ctrnn.autocorrelation(20)
    ref = [np.mean([np.mean(x[: len(x) - k, i] * x[k:, i]) for i in range(x.shape[1])])
           for k in range(21)]
    np.testing.assert_allclose(acf.values, ref, rtol=1e-10)
    np.testing.assert_allclose(acf.lag.values, np.arange(21) * 1e-3)


def test_small_networks_show_every_neuron_and_bad_indices_are_named(net):
    small = ctrnn.simulate(ctrnn.RateNetwork(0.5 * np.eye(6)), steps=10, dt=0.1,
                           h0=np.ones(6))
    assert len(small.ctrnn.plot().axes[0].get_lines()) == 6
    with pytest.raises(ValueError, match=r"neurons=\[100\] are not in this result.*0 .. 5"):
        small.ctrnn.plot(neurons=[0, 100])


def test_autocorrelation_carries_units():
    ds = ctrnn.simulate(ctrnn.RateNetwork(0.5 * np.eye(3)), steps=20, dt=0.1,
                        h0=np.ones(3), time_unit="ms")
    acf = ds.ctrnn.autocorrelation(5)
    assert acf.lag.attrs["units"] == "ms" and acf.attrs["units"] == "1"


def test_accessor_errors_name_the_problem(net):
    ds = ctrnn.simulate(net, steps=10, dt=1e-3)
    with pytest.raises(ValueError, match="no variable 'r'"):
        ds.ctrnn.plot(var="r")
    with pytest.raises(ValueError, match="need dims 'time' and 'neuron'"):
        xr.DataArray(np.zeros((3, 4)), dims=("a", "b")).ctrnn.plot()
    with pytest.raises(ValueError, match="DataArray"):
        ds.h.ctrnn.participation_ratio(var="h")
