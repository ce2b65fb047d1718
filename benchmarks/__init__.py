"""lucid's benchmark harness: lucid against PyTorch and JAX, side by side in one run.

    python -m benchmarks [--workloads a,b] [--impl lucid,torch,...] [--repeats N] [--threads N]
                         [--json PATH]

What is measured, and the targets, are in BENCHMARKS.md; the workloads are defined in
:mod:`benchmarks.workloads`, each library's version of them in :mod:`benchmarks.impls`. Every
(workload, implementation) pair runs in its own subprocess (:mod:`benchmarks.worker`), so one
library's idle BLAS / OpenMP threads never slow another down, and every library gets the same
thread count. :mod:`benchmarks.report` turns the results into the table and the JSON file.

``benchmarks/conv_eager.py`` is a separate script (eager CNN step, lucid vs PyTorch, with a
per-primitive breakdown).
"""
