"""Numba CPU kernels (``@njit(cache=True)``), one module per op family.

Kernels are shape-generic: sizes, strides and paddings are runtime arguments, so Numba
specialises a kernel only on the dtypes, ranks and layouts of its array arguments (one compile
per dtype, reused for every shape). The op modules import these lazily, on first use.
"""
