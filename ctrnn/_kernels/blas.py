"""BLAS routines that Numba does not wrap (the symmetric ones: dsymv, dsyrk, dsyr2k), called from
kernels through scipy's ``cython_blas`` (SciPy's OpenBLAS, 32-bit integers; Numba's own
products call the same library). P must be C-contiguous and square, of r's size.

A function's address is passed to the kernel as an integer and called through an
intrinsic, so that the compiled kernel holds no pointer of this process and is cached on
disk like any other (a ctypes function object in a kernel would stop the caching). BLAS
takes every argument by reference; ``Scratch`` holds the integers and numbers it reads.
"""
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import jit

Scratch = namedtuple("Scratch", "fns ints dbls chars")
Scratch.__doc__ = """fns (int64: dsyr2k, dsymv, dsyrk addresses), ints (int32 (2,)), dbls
(float64 (4,)), chars (uint8 (2,), 'U', 'N'): what the BLAS calls read by reference."""


def scratch():
    """A ``Scratch`` with the addresses of this process's dsyr2k, dsymv and dsyrk."""
    from numba.extending import get_cython_function_address

    fns = np.array([get_cython_function_address("scipy.linalg.cython_blas", name)
                    for name in ("dsyr2k", "dsymv", "dsyrk")], dtype=np.int64)
    return Scratch(fns, np.zeros(2, np.int32), np.zeros(4),
                   np.array([ord("U"), ord("N")], np.uint8))


def _codegen(n):
    def codegen(context, builder, signature, llargs):
        vp = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [vp] * n)
        f = builder.inttoptr(llargs[0], fnty.as_pointer())
        builder.call(f, [builder.inttoptr(a, vp) for a in llargs[1:]])
    return codegen


@intrinsic
def _call10(typingctx, fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10):
    """Call the void function at address fn with ten pointer arguments (addresses)."""
    return types.void(fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10), _codegen(10)


@intrinsic
def _call12(typingctx, fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12):
    """Call the void function at address fn with twelve pointer arguments (addresses)."""
    return (types.void(fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12),
            _codegen(12))


@jit(inline="always")
def symv(sc, P, r, k):
    """k <- P r, P (n, n) symmetric: its lower triangle (C order) is read."""
    ints, dbls = sc.ints, sc.dbls
    ints[0] = r.size
    ints[1] = 1
    dbls[0] = 1.0
    dbls[1] = 0.0
    _call10(sc.fns[1], sc.chars.ctypes.data, ints.ctypes.data, dbls.ctypes.data,
            P.ctypes.data, ints.ctypes.data, r.ctypes.data, ints[1:].ctypes.data,
            dbls[1:].ctypes.data, k.ctypes.data, ints[1:].ctypes.data)


@jit(inline="always")
def _rank_args(sc, P, m, alpha, beta):
    """The by-reference arguments of a rank-m update of P: n, m, alpha, beta."""
    sc.ints[0] = P.shape[0]
    sc.ints[1] = m
    sc.dbls[2] = alpha
    sc.dbls[3] = beta


@jit(inline="always")
def syr2k(sc, P, m, A, B, alpha, beta):
    """P <- alpha (A^T B + B^T A) + beta P on the lower triangle (C order) of the
    symmetric P (n, n), from the first m rows of A and B (each (>= m, n), C order): a
    rank-2m update in one pass over half of P."""
    _rank_args(sc, P, m, alpha, beta)
    ints, dbls = sc.ints, sc.dbls
    _call12(sc.fns[0], sc.chars.ctypes.data, sc.chars[1:].ctypes.data, ints.ctypes.data,
            ints[1:].ctypes.data, dbls[2:].ctypes.data, A.ctypes.data, ints.ctypes.data,
            B.ctypes.data, ints.ctypes.data, dbls[3:].ctypes.data, P.ctypes.data,
            ints.ctypes.data)


@jit(inline="always")
def syrk(sc, P, m, A, alpha, beta):
    """P <- alpha A^T A + beta P on the lower triangle (C order) of the symmetric P (n, n),
    from the first m rows of A ((>= m, n), C order): a rank-m update in one pass over half
    of P, with half of dsyr2k's arithmetic."""
    _rank_args(sc, P, m, alpha, beta)
    ints, dbls = sc.ints, sc.dbls
    _call10(sc.fns[2], sc.chars.ctypes.data, sc.chars[1:].ctypes.data, ints.ctypes.data,
            ints[1:].ctypes.data, dbls[2:].ctypes.data, A.ctypes.data, ints.ctypes.data,
            dbls[3:].ctypes.data, P.ctypes.data, ints.ctypes.data)
