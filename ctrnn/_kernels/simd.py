"""Explicit SIMD vectors for the kernels: a Numba type for an LLVM vector and the handful of
operations the small dense products need (load, store, broadcast, fused multiply-add, add),
the elementwise arithmetic, comparisons, selection and bit tricks of the vector forms of
phi (``phi.vphi``), plus scalar bit casts for the nonlinearities' range reduction.

Why: LLVM's loop vectoriser cannot keep a block of output sums in registers across the
loop over inputs (Numba gives it no aliasing information), and its SLP vectoriser does
not pack separate scalar accumulators; and the BLAS call for a 100 x 100 product costs as
much as the arithmetic. Written with these vectors, a product keeps 8 vector
accumulators in registers and is evaluated in an order fixed by the source, so results
are deterministic and do not depend on the machine's vector width: an 8-lane float64
vector is one AVX-512 register, two AVX2 registers or four SSE2 registers (LLVM splits
it), with the same arithmetic in every lane. ``llvm.fma`` is a fused multiply-add on
every machine (a library call where the hardware has none).

Lanes: 8 for float64, 16 for float32 (64 bytes, one cache line).
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = {types.float64: 8, types.float32: 16}


class Vec(types.Type):
    """An LLVM vector of ``lanes`` floats of ``dtype`` (a Numba scalar type)."""

    def __init__(self, dtype, lanes):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vec({dtype} x {lanes})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        el = ir.DoubleType() if fe_type.dtype == types.float64 else ir.FloatType()
        super().__init__(dmm, fe_type, ir.VectorType(el, fe_type.lanes))


def _vec_of(arr):
    # loads and stores use flat offsets from the data pointer: C-contiguous arrays only
    if not isinstance(arr, types.Array) or arr.dtype not in LANES or arr.layout != "C":
        raise TypeError(f"SIMD vectors need a C-contiguous float32 or float64 array, got {arr}")
    return Vec(arr.dtype, LANES[arr.dtype])


def _element_ptr(context, builder, arrty, arr, i):
    a = cgutils.create_struct_proxy(arrty)(context, builder, value=arr)
    return builder.gep(a.data, [i])


@intrinsic
def lanes(typingctx, arr):
    """The number of lanes of the vectors of ``arr``'s dtype (a compile-time constant)."""
    n = _vec_of(arr).lanes

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)
    return types.intp(arr), codegen


@intrinsic
def vload(typingctx, arr, i):
    """The vector arr.flat[i:i + lanes] (C-contiguous array, i a flat offset: r * n + j
    in a 2-d (m, n) array; no bounds check)."""
    vt = _vec_of(arr)

    def codegen(context, builder, sig, args):
        p = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        llty = context.get_value_type(vt)
        return builder.load(builder.bitcast(p, llty.as_pointer()), align=arr.dtype.bitwidth // 8)
    return vt(arr, i), codegen


@intrinsic
def vstore(typingctx, arr, i, v):
    """arr.flat[i:i + lanes] = v (C-contiguous array, i a flat offset; no bounds check)."""
    def codegen(context, builder, sig, args):
        p = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        llty = context.get_value_type(sig.args[2])
        builder.store(args[2], builder.bitcast(p, llty.as_pointer()),
                      align=arr.dtype.bitwidth // 8)
        return context.get_dummy_value()
    return types.none(arr, i, v), codegen


@intrinsic
def vzero(typingctx, arr):
    """A vector of zeros of ``arr``'s dtype."""
    vt = _vec_of(arr)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)
    return vt(arr), codegen


@intrinsic
def vsplat(typingctx, x, like):
    """A vector with x in every lane, of the type of the vector ``like``."""
    vt = like

    def codegen(context, builder, sig, args):
        llty = context.get_value_type(vt)
        x = context.cast(builder, args[0], sig.args[0], vt.dtype)
        v = builder.insert_element(ir.Constant(llty, ir.Undefined), x,
                                   ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(v, ir.Constant(llty, ir.Undefined), mask)
    return vt(x, like), codegen


@intrinsic
def vsplat_at(typingctx, arr, r, j):
    """A vector with arr[r, j] in every lane (a 2-d float32/float64 array of any layout;
    r, j >= 0, no bounds check): one broadcast load, without the index arithmetic of
    ``vsplat(arr[r, j], like)`` for negative indices and its test inside the loop
    (together ~20% of a wide block's loop, one trajectory at N = 100)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.dtype in LANES):
        raise TypeError(f"vsplat_at needs a 2-d float32 or float64 array, got {arr}")
    if not (isinstance(r, types.Integer) and isinstance(j, types.Integer)):
        raise TypeError(f"vsplat_at needs integer indices, got {r} and {j}")
    vt = Vec(arr.dtype, LANES[arr.dtype])

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:])]
        p = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        llty = context.get_value_type(vt)
        v = builder.insert_element(ir.Constant(llty, ir.Undefined), builder.load(p),
                                   ir.Constant(ir.IntType(32), 0))
        mask = ir.Constant(ir.VectorType(ir.IntType(32), vt.lanes), [0] * vt.lanes)
        return builder.shuffle_vector(v, ir.Constant(llty, ir.Undefined), mask)
    return vt(arr, r, j), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c lane by lane, rounded once (``llvm.fma``)."""
    def codegen(context, builder, sig, args):
        vty = args[0].type
        suffix = "f64" if isinstance(vty.element, ir.DoubleType) else "f32"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                            f"llvm.fma.v{vty.count}{suffix}")
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def vadd(typingctx, a, b):
    """a + b lane by lane."""
    def codegen(context, builder, sig, args):
        return builder.fadd(*args)
    return a(a, b), codegen


_INT_OF = {types.float64: types.int64, types.float32: types.int32}
_FLOAT_OF = {types.int64: types.float64, types.int32: types.float32}


@intrinsic
def float_bits(typingctx, x):
    """The bits of a float32/float64 as an int32/int64 (a bit cast, no conversion)."""
    to = _INT_OF[x]

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(to))
    return to(x), codegen


@intrinsic
def bits_float(typingctx, k):
    """The float32/float64 whose bits are the int32/int64 k (a bit cast)."""
    to = _FLOAT_OF[k]

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], context.get_value_type(to))
    return to(k), codegen


# --- elementwise arithmetic, comparisons and bit tricks, for the vector forms of phi -------
# Plain IEEE operations without fast-math flags: a vector function is evaluated exactly as
# written (fused only where it says vfma), so every lane of every call rounds the same way.

def _binary(name, build):
    @intrinsic
    def op(typingctx, a, b):
        if not (isinstance(a, Vec) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return build(builder, *args)
        return a(a, b), codegen
    op.__name__ = op.__qualname__ = name
    return op


vsub = _binary("vsub", lambda b, x, y: b.fsub(x, y))
vmul = _binary("vmul", lambda b, x, y: b.fmul(x, y))
vdiv = _binary("vdiv", lambda b, x, y: b.fdiv(x, y))
vsub.__doc__ = "a - b lane by lane."
vmul.__doc__ = "a * b lane by lane."
vdiv.__doc__ = "a / b lane by lane (IEEE: x / 0 is +-inf or NaN)."


@intrinsic
def vabs(typingctx, a):
    """|a| lane by lane (``llvm.fabs``: clears the sign bit, NaN stays NaN)."""
    if not isinstance(a, Vec):
        return None

    def codegen(context, builder, sig, args):
        vty = args[0].type
        suffix = "f64" if isinstance(vty.element, ir.DoubleType) else "f32"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]),
                                            f"llvm.fabs.v{vty.count}{suffix}")
        return builder.call(fn, args)
    return a(a), codegen


class Mask(types.Type):
    """A vector of ``lanes`` booleans (an LLVM <lanes x i1>), from a lane-wise comparison."""

    def __init__(self, lanes):
        self.lanes = lanes
        super().__init__(name=f"Mask({lanes})")


@register_model(Mask)
class _MaskModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.IntType(1), fe_type.lanes))


def _compare(name, op):
    @intrinsic
    def cmp(typingctx, a, b):
        if not (isinstance(a, Vec) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return builder.fcmp_ordered(op, *args)
        return Mask(a.lanes)(a, b), codegen
    cmp.__name__ = cmp.__qualname__ = name
    return cmp


vlt = _compare("vlt", "<")
vge = _compare("vge", ">=")
vgt = _compare("vgt", ">")
vne = _compare("vne", "!=")
veq = _compare("veq", "==")
vlt.__doc__ = "The lanes where a < b (false where either is NaN)."
vge.__doc__ = "The lanes where a >= b (false where either is NaN)."
vgt.__doc__ = "The lanes where a > b (false where either is NaN)."
vne.__doc__ = "The lanes where a != b, both numbers (an ordered comparison: false for NaN)."
veq.__doc__ = "The lanes where a == b (false where either is NaN: veq(x, x) is 'not NaN')."


@intrinsic
def vselect(typingctx, m, a, b):
    """a where m, else b, lane by lane."""
    if not (isinstance(m, Mask) and isinstance(a, Vec) and a == b and m.lanes == a.lanes):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(*args)
    return a(m, a, b), codegen


@intrinsic
def vscale_bits(typingctx, kr, bias):
    """The floats whose bits are (bits(kr) + bias) << m, m the mantissa width (52 or 23),
    lane by lane in integer arithmetic (wrapping). With kr = y + 1.5 2^m holding the
    integer k = round(y) in its low bits, bias = e - bits(1.5 2^m) gives 2^(k + e - B),
    B the exponent bias: how ``_exp_neg`` builds its power of two."""
    if not isinstance(kr, Vec) or not isinstance(bias, types.Integer):
        return None
    bits = 64 if kr.dtype == types.float64 else 32
    mant = 52 if bits == 64 else 23

    def codegen(context, builder, sig, args):
        v, c = args
        ity = ir.VectorType(ir.IntType(bits), kr.lanes)
        k = builder.bitcast(v, ity)
        c = context.cast(builder, c, sig.args[1], types.int64 if bits == 64 else types.int32)
        cv = builder.insert_element(ir.Constant(ity, ir.Undefined), c,
                                    ir.Constant(ir.IntType(32), 0))
        cv = builder.shuffle_vector(cv, ir.Constant(ity, ir.Undefined),
                                    ir.Constant(ir.VectorType(ir.IntType(32), kr.lanes),
                                                [0] * kr.lanes))
        k = builder.shl(builder.add(k, cv), ir.Constant(ity, [mant] * kr.lanes))
        return builder.bitcast(k, v.type)
    return kr(kr, bias), codegen
