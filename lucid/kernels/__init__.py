"""Hand-written kernels for the coarse operations (convolution, pooling, ...).

``cpu/`` holds Numba ``@njit`` kernels, one module per op family. They live in real files so
Numba's on-disk cache (``cache=True``) works: a kernel compiles once on its first call, and
later processes load it from the cache in milliseconds. Nothing here is imported (and Numba
is not loaded) until an op first needs a kernel, so ``import lucid`` stays fast.
"""
