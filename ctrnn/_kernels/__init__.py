"""Numba kernels. Nothing here validates input: the Python layer above does that.

Kernels take plain contiguous arrays and scalars and return plain arrays or an integer
status; they never see dicts, xarray objects, Python callables or global random state.
"""
