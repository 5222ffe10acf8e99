"""Issue 11: objects ship to a cluster, results save and reload whole, no input is
silently misread, analyses leave their arguments alone, files appear only complete."""
import copy
import pickle

import numpy as np
import pytest
import scipy.sparse

import ctrnn


def _objects():
    W = ctrnn.connectivity.gaussian(12, 1.5, seed=0)
    stp = ctrnn.STP(U=np.linspace(0.1, 0.5, 12), tau_f=1.5, tau_d=0.4, efficacy="relative")
    W_ei, labels = ctrnn.connectivity.dale(8, 4, seed=1)
    esn = ctrnn.esn.EchoStateNetwork(30, seed=0)
    u = ctrnn.tasks.oscillators(300, frequencies=(0.2,))
    esn.fit(u[:-1], u[1:], washout=20)
    return dict(
        dense=ctrnn.RateNetwork(W, U=np.ones((12, 2)), b=0.1, tau=np.linspace(1, 2, 12),
                                noise=0.2, phi="softplus"),
        sparse=ctrnn.RateNetwork(ctrnn.connectivity.sparse(40, 0.1, 1.0, seed=2)),
        stp_net=ctrnn.RateNetwork(np.abs(W), phi="relu", stp=stp),
        dale=ctrnn.RateNetwork(W_ei, dale=labels),
        stp=stp, esn=esn, u=u)


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_public_objects_pickle_copy_and_deepcopy_to_equal_objects(how):
    objs = _objects()
    make = {"pickle": lambda o: pickle.loads(pickle.dumps(o)), "copy": copy.copy,
            "deepcopy": copy.deepcopy}[how]
    for name in ("dense", "sparse", "stp_net", "dale", "stp"):
        o = objs[name]
        o2 = make(o)
        assert o2 == o and hash(o2) == hash(o), name
    net = objs["dense"]
    net2 = make(net)
    assert not net2.tau.flags.writeable  # read-only stays read-only
    a = ctrnn.simulate(net, steps=20, dt=0.1, h0="random", seed=3, method="euler")
    b = ctrnn.simulate(net2, steps=20, dt=0.1, h0="random", seed=3, method="euler")
    np.testing.assert_array_equal(a.h.values, b.h.values)
    esn, u = objs["esn"], objs["u"]
    esn2 = make(esn)
    np.testing.assert_array_equal(esn2.predict(u[:-1], reset=True).values,
                                  esn.predict(u[:-1], reset=True).values)


def test_equality_is_by_value():
    W = ctrnn.connectivity.gaussian(5, 1.0, seed=0)
    a, b = ctrnn.RateNetwork(W), ctrnn.RateNetwork(W.copy())
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != a.replace(tau=2.0) and a != a.replace(W=W * 1.0001)
    sp = ctrnn.RateNetwork(scipy.sparse.csr_matrix(W))
    assert sp != a  # a sparse and a dense W are different networks
    assert ctrnn.STP(U=0.2) == ctrnn.STP(U=0.2) != ctrnn.STP(U=0.3)
    with pytest.raises(AttributeError, match="immutable; use net.replace"):
        a.tau = 3.0
