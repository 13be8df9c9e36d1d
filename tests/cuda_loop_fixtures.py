"""Kernels with loops whose trip count is known at run time only (adjoints built with
grad_kernel(..., max_trip=MAX_TRIP[name])) and kernels that sum over the block in shared
memory, with their CPU equivalents (sum_i w[i] * out[i] as a loop over the threads) and
outputs; cuda_fixtures.KERNELS lists them with the others.
"""

import math

import numpy as np
from numba import cuda, float64


# --- loops whose trip count is known at run time only: grad_kernel(..., max_trip=N) ---------
def newton_while(a, p, out):
    """Per element, Newton's iteration for x^3 + p0 x = a[i] until the residual is tiny."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        x = a[i]
        r = x * x * x + p[0] * x - a[i]
        while abs(r) > 1e-12:
            x = x - r / (3.0 * x * x + p[0])
            r = x * x * x + p[0] * x - a[i]
        out[i] = p[1] * x * x


def newton_while_cpu(a, p, out_bar):
    total = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        r = x * x * x + p[0] * x - a[i]
        while abs(r) > 1e-12:
            x = x - r / (3.0 * x * x + p[0])
            r = x * x * x + p[0] * x - a[i]
        total += out_bar[i] * (p[1] * x * x)
    return total


def newton_while_out(a, p):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        x = a[i]
        r = x * x * x + p[0] * x - a[i]
        while abs(r) > 1e-12:
            x = x - r / (3.0 * x * x + p[0])
            r = x * x * x + p[0] * x - a[i]
        out[i] = p[1] * x * x
    return out


def newton_break(a, p, out):
    """Newton's iteration for x = cos(p0 x) + a[i], at most 40 steps, a tolerance break."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        x = a[i]
        for it in range(40):
            step = (x - math.cos(p[0] * x) - a[i]) / (1.0 + p[0] * math.sin(p[0] * x))
            x = x - step
            if abs(step) < 1e-13:
                break
        out[i] = x


def newton_break_cpu(a, p, out_bar):
    total = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        for it in range(40):
            step = (x - math.cos(p[0] * x) - a[i]) / (1.0 + p[0] * math.sin(p[0] * x))
            x = x - step
            if abs(step) < 1e-13:
                break
        total += out_bar[i] * x
    return total


def newton_break_out(a, p):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        x = a[i]
        for it in range(40):
            step = (x - math.cos(p[0] * x) - a[i]) / (1.0 + p[0] * math.sin(p[0] * x))
            x = x - step
            if abs(step) < 1e-13:
                break
        out[i] = x
    return out


def mc_steps(z, steps, p, out):
    """A Monte-Carlo path per thread with its own number of steps, steps[i] <= z.shape[1]."""
    i = cuda.grid(1)
    if i < z.shape[0]:
        s = 1.0
        for k in range(steps[i]):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        out[i] = math.log(1.0 + math.exp(s - 1.0))


def mc_steps_cpu(z, steps, p, out_bar):
    total = 0.0
    for i in range(z.shape[0]):
        s = 1.0
        for k in range(steps[i]):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        total += out_bar[i] * math.log(1.0 + math.exp(s - 1.0))
    return total


def mc_steps_out(z, steps, p):
    out = np.zeros(z.shape[0])
    for i in range(z.shape[0]):
        s = 1.0
        for k in range(steps[i]):
            s = s * math.exp(p[0] + p[1] * z[i, k])
        out[i] = math.log(1.0 + math.exp(s - 1.0))
    return out


def relax_2d(a, p, m, out):
    """A 2-D grid: each element takes m[0] steps of a damped map (a while loop), each of two
    sub-steps (a constant loop inside it: its tape holds 2 * max_trip entries)."""
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        v = a[i, j]
        k = 0
        while k < m[0]:
            for s in range(2):
                v = v + 0.1 * (math.sin(p[0] * v) - p[1] * v * v)
            k += 1
        out[i, j] = v


def relax_2d_cpu(a, p, m, out_bar):
    total = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = a[i, j]
            k = 0
            while k < m[0]:
                for s in range(2):
                    v = v + 0.1 * (math.sin(p[0] * v) - p[1] * v * v)
                k += 1
            total += out_bar[i, j] * v
    return total


def relax_2d_out(a, p, m):
    out = np.zeros(a.shape)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = a[i, j]
            k = 0
            while k < m[0]:
                for s in range(2):
                    v = v + 0.1 * (math.sin(p[0] * v) - p[1] * v * v)
                k += 1
            out[i, j] = v
    return out


# --- block sums in shared memory (frontend.block_reductions), launched with 1-D blocks ------
def block_loss(x, p, total):
    """Each block sums its threads' losses in shared memory, thread 0 adds the total."""
    buf = cuda.shared.array(8, float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = (p[0] * math.sin(x[i]) - p[1]) ** 2
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


def block_loss_cpu(x, p, total_bar):
    s = 0.0
    for i in range(x.shape[0]):
        s += total_bar[0] * (p[0] * math.sin(x[i]) - p[1]) ** 2
    return s


def block_loss_out(x, p):
    total = np.zeros(1)
    for i in range(x.shape[0]):
        total[0] += (p[0] * math.sin(x[i]) - p[1]) ** 2
    return total


def block_rows(a, p, sums, out):
    """A 2-D grid of blocks of 4 x 1 threads: each thread also writes its own element; the
    tree with cuda.threadIdx.x inline and a constant first stride (blocks of exactly 4)."""
    buf = cuda.shared.array(4, float64)
    i, j = cuda.grid(2)
    v = 0.0
    if i < a.shape[0] and j < a.shape[1]:
        v = math.tanh(p[0] * a[i, j]) * a[i, j] + p[1]
        out[i, j] = v * a[i, j]
    buf[cuda.threadIdx.x] = v * v
    cuda.syncthreads()
    s = 2
    while s > 0:
        if cuda.threadIdx.x < s:
            buf[cuda.threadIdx.x] += buf[cuda.threadIdx.x + s]
        cuda.syncthreads()
        s = s // 2
    if cuda.threadIdx.x == 0:
        cuda.atomic.add(sums, j % 2, buf[0])


def block_rows_cpu(a, p, sums_bar, out_bar):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = math.tanh(p[0] * a[i, j]) * a[i, j] + p[1]
            s += out_bar[i, j] * v * a[i, j] + sums_bar[j % 2] * v * v
    return s


def newton_block_sum(a, p, total):
    """A per-thread while loop (Newton, as newton_while), then a block sum of the roots."""
    buf = cuda.shared.array(16, float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < a.shape[0]:
        x = a[i]
        r = x * x * x + p[0] * x - a[i]
        while abs(r) > 1e-12:
            x = x - r / (3.0 * x * x + p[0])
            r = x * x * x + p[0] * x - a[i]
        v = p[1] * x * x
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


def newton_block_sum_cpu(a, p, total_bar):
    return newton_while_cpu(a, p, np.full(a.shape[0], total_bar[0]))


# kernels with barriers: the simulator takes ~0.1 s a launch, too slow for central differences
# of the kernel itself (tests take them of the CPU equivalent, checked equal to the kernel)
SYNCED = {"block_loss", "block_rows", "newton_block_sum"}

# the max_trip each kernel's adjoint is built with (kernels with run-time trip counts)
# (newton_break needs none: its `for` over range(40) left by `break` runs at most 40 times)
MAX_TRIP = {"newton_while": 32, "mc_steps": 8, "relax_2d": 5,
            "newton_block_sum": 32}
