"""Borrowed arrays: views that Numba does not reference-count, for the kernels' hot loops.

Numba counts every array a jitted function binds (its arguments, the fields of a tuple it
unpacks, the arguments of a helper inlined into it) with an atomic increment and
decrement of the array's meminfo. Its pruning pass removes the pairs in simple code but
not in the kernels' large loops: in the Euler loop at N = 100 they were a third of a
float32 step (~0.2 us; measured with perf: ``lock incq`` / ``lock decq`` in
``NRT_incref`` / ``NRT_decref``).

``borrow(x)`` returns x with every array in it (x itself, or the fields of a tuple,
recursively) given a null meminfo: the same data, shape and strides, and Numba's
increments and decrements of it test the null pointer and do nothing.

Two rules:

- Borrow only the arguments of the function that uses the borrowed values (not a
  function inlined into another). The caller holds those arrays for the whole call; an
  array made inside the function may be freed after its last use by name, while a
  borrowed view of it is still read. A borrowed array is never returned or stored.
- One name at a time: ``x = borrow(x)``, never ``a, b = borrow((a, b))``. Numba's
  dead-code pass (run after an overload is inlined) deletes stores into arrays it does
  not see aliasing an argument; it follows copies, getitem and getattr, and, as declared
  below, ``borrow`` itself, but not the packing of several names into a tuple. Packed,
  the stores into the adjoint's gradient blocks vanished and every gradient came out
  zero (tests/test_borrow.py keeps a case of it).
"""
from numba import types
from numba.core import cgutils, ir_utils
from numba.extending import intrinsic


def _borrowed_value(context, builder, ty, val):
    if isinstance(ty, types.Array):
        src = cgutils.create_struct_proxy(ty)(context, builder, value=val)
        dst = cgutils.create_struct_proxy(ty)(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(dst, name, getattr(src, name))
        dst.meminfo = cgutils.get_null_value(dst.meminfo.type)
        dst.parent = cgutils.get_null_value(dst.parent.type)
        return dst._getvalue()
    if isinstance(ty, types.BaseTuple):
        out = val
        for i, el in enumerate(ty):
            item = _borrowed_value(context, builder, el, builder.extract_value(val, i))
            out = builder.insert_value(out, item, i)
        return out
    return val


@intrinsic
def borrow(typingctx, x):
    """x (an array, or a tuple of arrays and other values, nested) with its arrays
    borrowed: not reference-counted (see the module docstring for the one rule)."""
    def codegen(context, builder, sig, args):
        return _borrowed_value(context, builder, sig.args[0], args[0])
    return x(x), codegen


def _alias(lhs, args, alias_map, arg_aliases):
    ir_utils._add_alias(lhs, args[0].name, alias_map, arg_aliases)


# Numba's dead-code pass (run after an overload is inlined into a function) deletes a store
# into an array it does not see aliasing an argument or a live variable; it follows copies,
# getitem and getattr, but not a call. Declared here: the result of borrow(x) aliases x,
# so a store through a borrowed argument (or a field of a borrowed tuple) is kept.
ir_utils.alias_func_extensions[("borrow", __name__)] = _alias
