"""Device functions that generated CUDA kernels call (imported by them as `gpu`).

`block_add(shared, value, target, index)`: every thread of a block passes its own `value`;
their sum is added into `target[index]` by one `cuda.atomic.add` per block instead of one per
thread. `shared` is the block's scratch (`cuda.shared.array(MAX_THREADS, float64)`, made once
by the kernel and reused by every call, so a kernel with many parameters still needs 8 KB).
Adjoints of parameters that every thread reads (a model's weights at fixed
positions) would otherwise serialise the whole grid on a few addresses. The sum is a tree
over shared memory (Harris, "Optimizing Parallel Reduction in CUDA", 2007: sequential
addressing), with a barrier per level; every thread of the block must call it, the same
number of times. Blocks hold at most 1024 threads, CUDA's limit. A first stage within each
warp (cuda.shfl_down_sync, then one shared entry per warp) would save most barriers; it is
not used because Numba's CUDA simulator (numba-cuda 0.30) has no shuffles, so it could not
be run by the tests.
"""

from __future__ import annotations

from numba import cuda

MAX_THREADS = 1024


@cuda.jit(device=True)
def block_add(sums, value, target, index):
    thread = cuda.threadIdx.x + cuda.blockDim.x * (cuda.threadIdx.y
                                                   + cuda.blockDim.y * cuda.threadIdx.z)
    size = cuda.blockDim.x * cuda.blockDim.y * cuda.blockDim.z
    sums[thread] = value
    cuda.syncthreads()
    half = 1
    while half < size:
        half *= 2
    half //= 2
    while half > 0:
        if thread < half and thread + half < size:
            sums[thread] += sums[thread + half]
        cuda.syncthreads()
        half //= 2
    if thread == 0:
        cuda.atomic.add(target, index, sums[0])
    cuda.syncthreads()  # the next call writes the shared sums again
