"""The named tuples the kernels take, field by field; ``ctrnn._engine`` fills them.

Numba compiles a kernel once per combination of field types (dense or sparse W, STP or
not, an integer phi code or a user's Numba function) and reads each field by name.
"""
from collections import namedtuple

Network = namedtuple("Network", "W WT Wp inv_tau phi stp")
Network.__doc__ = """A network for the kernels. W (N, N) dense (row i = inputs to neuron i)
or a ``CSR``; WT = W.T contiguous for batched products (W itself when it is not used);
Wp W packed into panels for the fused small-network product (``dense``; size 0 when the
BLAS path is used); inv_tau (N,); phi an integer code (``_kernels.phi``) or a Numba
function; stp an ``STPParams``."""

STPParams = namedtuple("STPParams", "U inv_tau_f inv_tau_d efficacy rate_scale")
STPParams.__doc__ = """Tsodyks-Markram parameters per presynaptic neuron: U (baseline
utilisation, not the input weights), 1/tau_f, 1/tau_d and the efficacy factor e, each
(N,) or of size 0 without STP; rate_scale a scalar."""

CSR = namedtuple("CSR", "data indices indptr")
CSR.__doc__ = """A sparse W: scipy's CSR arrays, column indices as uint32 and row
pointers as uint64 (unsigned: no wraparound in the loops)."""

Inputs = namedtuple("Inputs", "xs UT b interp")
Inputs.__doc__ = """xs (Bx, T + 1, n_in) inputs on the step grid (Bx = 1 when shared by
all trials), UT = U.T (n_in, N), b (N,), interp HOLD (0) or LINEAR (1) within a step."""

AdaptiveTableau = namedtuple("AdaptiveTableau", "A b c e P fsal error_exponent")
AdaptiveTableau.__doc__ = """An embedded Runge-Kutta pair for the adaptive loop: A (s, s),
b, c, e (s,), P (s, p) dense output, fsal (bool), error_exponent 1/(error order + 1)."""
