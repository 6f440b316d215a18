"""Multi-tensor optimizer updates on CUDA: one launch updates every float32 parameter of a param group.

Each tensor is cut into chunks of CHUNK elements, one block per chunk (at least one per tensor, so that a
tensor's step counter is always written); a block finds its tensor by binary search over the prefix sum of
the per-tensor block counts. Two int64 tables travel to the kernel:

    static  (built once per param list, rebuilt when a pointer changes):
            param | exp_avg | exp_avg_sq | max_exp_avg_sq (0 without amsgrad) | step (float32 device
            counter or 0) | sizes | block starts (T + 1)      -- SGD: param | momentum_buffer | sizes | starts
    dynamic (one small host->device copy per step, no per-parameter launch):
            grad pointers | per-tensor float64 step_size = lr / (1 - b1^t) | sqrt(1 - b2^t) | new step t

Bias corrections come from the host-side step counts (as torch's for-loop and foreach paths compute them),
so a step never reads the device; the kernel writes the new count into a device step counter (fused=True
keeps ``state['step']`` as a float32 tensor on the param's device, like torch). Element math is float32
with torch's formulas (lerp for exp_avg). EMBER_CUDA_FUSED_OPTIM=0 turns the path off.
"""

from __future__ import annotations

import os

import numpy as np

from .cuda_common import Kernels
from .cuda_graph import CAPTURING, check_no_capture, keep_alive

ENABLED = os.environ.get("EMBER_CUDA_FUSED_OPTIM", "1") == "1"

CHUNK = 4096  # elements per block
THREADS = 256
ADAMW, AMSGRAD, MAXIMIZE, WEIGHT_DECAY, NESTEROV, DEVICE_STEP = 1, 2, 4, 8, 16, 32


SOURCE = r"""
#define EMBER_CHUNK 4096LL

struct alignas(16) ember_f4 { float a, b, c, d; };

__device__ __forceinline__ void ember_ld4(const float* p, long long i, float* o) {
    ember_f4 v = *reinterpret_cast<const ember_f4*>(p + i);
    o[0] = v.a; o[1] = v.b; o[2] = v.c; o[3] = v.d;
}

__device__ __forceinline__ void ember_st4(float* p, long long i, const float* o) {
    ember_f4 v; v.a = o[0]; v.b = o[1]; v.c = o[2]; v.d = o[3];
    *reinterpret_cast<ember_f4*>(p + i) = v;
}

// The tensor of this block: the largest t with starts[t] <= blockIdx.x (starts: T + 1 prefix sums).
__device__ __forceinline__ int ember_find_tensor(const long long* starts, int T) {
    __shared__ int s_t;
    if (threadIdx.x == 0) {
        long long b = blockIdx.x;
        int lo = 0, hi = T - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >> 1;
            if (starts[mid] <= b) lo = mid; else hi = mid - 1;
        }
        s_t = lo;
    }
    __syncthreads();
    return s_t;
}

__device__ __forceinline__ void ember_adam_one(float& p, float g, float& m, float& v, float& mx, float lr_neg,
        float bc2s, float b1w, float b2, float omb2, float eps, float wd, float decay, int flags) {
    if (flags & 4) g = -g;                                  // maximize
    if (flags & 8) {                                        // weight decay
        if (flags & 1) p = p * decay;                       //   decoupled: p *= 1 - lr * wd
        else g = g + wd * p;                                //   L2: g += wd * p
    }
    float d = g - m;                                        // exp_avg.lerp_(g, 1 - b1), torch's two-sided form
    m = b1w < 0.5f ? m + b1w * d : g - d * (1.0f - b1w);
    v = v * b2 + (g * g) * omb2;                            // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
    float second = v;
    if (flags & 2) {                                        // amsgrad (NaN propagates, as torch.maximum)
        mx = (mx != mx || mx >= v) ? mx : v;
        second = mx;
    }
    float denom = sqrtf(second) / bc2s + eps;
    p = p + (m / denom) * lr_neg;                           // p.addcdiv_(m, denom, value=-lr / bc1)
}

// The capturable step's first launch: every device step counter (tab column 4) += 1.
extern "C" __global__ void ember_step_increment(const long long* tab, int T) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < T) {
        float* S = (float*)tab[4LL * T + t];
        if (S) *S += 1.0f;
    }
}

// tab: static table (see cuda_optim.py), dyn: dynamic table. b1w = 1 - beta1. With DEVICE_STEP (32, the
// capturable step) dyn holds only the gradient pointers and the bias corrections come from the device step
// counter, already incremented by ember_step_increment: lr / (1 - beta1^t) and sqrt(1 - beta2^t).
extern "C" __global__ void ember_adam_multi(const long long* tab, const long long* dyn, int T, float b1w,
        float b2, float omb2, float eps, float wd, float decay, int flags, double lr, double beta1,
        double beta2) {
    int t = ember_find_tensor(tab + 6LL * T, T);
    long long local = (long long)blockIdx.x - tab[6LL * T + t];
    long long n = tab[5LL * T + t];
    float* P = (float*)tab[t];
    float* M = (float*)tab[(long long)T + t];
    float* V = (float*)tab[2LL * T + t];
    float* MX = (float*)tab[3LL * T + t];
    float* S = (float*)tab[4LL * T + t];
    const float* G = (const float*)dyn[t];
    float lr_neg, bc2s;
    if (flags & 32) {
        double step = (double)*S;
        lr_neg = -(float)(lr / (1.0 - pow(beta1, step)));
        bc2s = (float)sqrt(1.0 - pow(beta2, step));
    } else {
        const double* dd = (const double*)dyn;
        lr_neg = -(float)dd[(long long)T + t];
        bc2s = (float)dd[2LL * T + t];
        if (local == 0 && threadIdx.x == 0 && S) *S = (float)dd[3LL * T + t];
    }
    const bool ams = (flags & 2) != 0;
    long long begin = local * EMBER_CHUNK;
    long long end = begin + EMBER_CHUNK < n ? begin + EMBER_CHUNK : n;
    unsigned long long align = (unsigned long long)P | (unsigned long long)M | (unsigned long long)V |
                               (unsigned long long)G | (ams ? (unsigned long long)MX : 0ULL);
    long long vend = begin;
    if ((align & 15ULL) == 0) {
        vend = begin + ((end - begin) & ~3LL);
        for (long long i = begin + 4LL * threadIdx.x; i < vend; i += 4LL * blockDim.x) {
            float p[4], g[4], m[4], v[4], mx[4];
            ember_ld4(P, i, p); ember_ld4(G, i, g); ember_ld4(M, i, m); ember_ld4(V, i, v);
            if (ams) ember_ld4(MX, i, mx);
#pragma unroll
            for (int k = 0; k < 4; ++k)
                ember_adam_one(p[k], g[k], m[k], v[k], mx[k], lr_neg, bc2s, b1w, b2, omb2, eps, wd, decay, flags);
            ember_st4(P, i, p); ember_st4(M, i, m); ember_st4(V, i, v);
            if (ams) ember_st4(MX, i, mx);
        }
    }
    for (long long i = vend + threadIdx.x; i < end; i += blockDim.x) {
        float p = P[i], m = M[i], v = V[i], mx = ams ? MX[i] : 0.0f;
        ember_adam_one(p, G[i], m, v, mx, lr_neg, bc2s, b1w, b2, omb2, eps, wd, decay, flags);
        P[i] = p; M[i] = m; V[i] = v;
        if (ams) MX[i] = mx;
    }
}

// SGD with momentum, torch's formulas: g = grad (+ wd p) (negated for maximize); buf = g at the buffer's
// first step (dyn flag), else buf = mu buf + (1 - dampening) g; g = g + mu buf (nesterov) or buf; p -= lr g.
// tab: param | momentum_buffer (0 without momentum) | sizes | starts (T + 1); dyn: grad pointers | first flags.
extern "C" __global__ void ember_sgd_multi(const long long* tab, const long long* dyn, int T, float lr, float mu,
        float omd, float wd, int flags) {
    int t = ember_find_tensor(tab + 3LL * T, T);
    long long local = (long long)blockIdx.x - tab[3LL * T + t];
    long long n = tab[2LL * T + t];
    float* P = (float*)tab[t];
    float* B = (float*)tab[(long long)T + t];
    const float* G = (const float*)dyn[t];
    const bool first = dyn[(long long)T + t] != 0;
    long long begin = local * EMBER_CHUNK;
    long long end = begin + EMBER_CHUNK < n ? begin + EMBER_CHUNK : n;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float p = P[i], g = G[i];
        if (flags & 4) g = -g;
        if (flags & 8) g = g + wd * p;
        if (B) {                                            // momentum != 0
            float b = first ? g : B[i] * mu + g * omd;
            B[i] = b;
            g = (flags & 16) ? g + mu * b : b;
        }
        P[i] = p + g * (-lr);
    }
}
"""


_kernel = Kernels(SOURCE)  # _kernel(name): the compiled function


def _upload(host: np.ndarray):
    """`host` (int64) as a device array on the current device. Inside a CUDA-graph capture the copy goes
    through a pinned buffer that the graph keeps (a replay copies from it again), since a copy from pageable
    memory cannot be captured; outside one, an ordinary copy."""
    import cupy

    if not CAPTURING[0]:
        return cupy.asarray(host)
    mem = cupy.cuda.alloc_pinned_memory(max(host.nbytes, 8))
    staged = np.frombuffer(mem, dtype=host.dtype, count=host.size)
    staged[:] = host
    out = cupy.empty(host.shape, dtype=host.dtype)
    rt = cupy.cuda.runtime
    rt.memcpyAsync(
        out.data.ptr,
        staged.ctypes.data,
        host.nbytes,
        rt.memcpyHostToDevice,
        cupy.cuda.get_current_stream().ptr,
    )
    keep_alive(mem)
    return out


def _ptrs(arrays) -> np.ndarray:
    return np.fromiter((0 if a is None else a.data.ptr for a in arrays), dtype=np.int64, count=len(arrays))


class MultiTensorTable:
    """The static pointer table of one group's tensors on one device: columns of arrays (None -> null
    pointer) plus extra int64 columns, then the sizes of column 0 and the block starts."""

    __slots__ = ("table", "blocks", "count", "device")

    def __init__(self, columns: list, extra: list | None = None) -> None:
        first = columns[0]
        self.count = len(first)
        sizes = np.fromiter((a.size for a in first), dtype=np.int64, count=self.count)
        starts = np.zeros(self.count + 1, dtype=np.int64)
        np.cumsum(np.maximum(1, -(-sizes // CHUNK)), out=starts[1:])
        self.blocks = int(starts[-1])
        parts = [_ptrs(c) for c in columns] + [np.asarray(e, dtype=np.int64) for e in extra or []]
        self.device = first[0].device
        with self.device:
            self.table = _upload(np.concatenate(parts + [sizes, starts]))


def adam_step(
    table: MultiTensorTable,
    grads: list,
    step_size: np.ndarray,
    bc2_sqrt: np.ndarray,
    steps: np.ndarray,
    *,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    lr: float,
    flags: int,
) -> None:
    """One Adam/AdamW update of every tensor of `table` (built with columns param, exp_avg, exp_avg_sq,
    max_exp_avg_sq and the extra step-pointer column) with float32 gradients `grads` (C-contiguous, same
    order); step_size, bc2_sqrt, steps: per-tensor float64 host values of this step."""
    check_no_capture(
        "the fused Adam/AdamW step computes its bias corrections on the host each step, which a CUDA graph "
        "would freeze at their captured values: construct the optimizer with capturable=True to capture its step"
    )
    import cupy

    n = table.count
    dyn = np.empty(4 * n, dtype=np.int64)
    dyn[:n] = _ptrs(grads)
    dyn[n:].view(np.float64)[:] = np.concatenate((step_size, bc2_sqrt, steps))
    with table.device:
        _launch_adam(table, cupy.asarray(dyn), beta1, beta2, eps, weight_decay, lr, flags)


def _launch_adam(table, dyn, beta1, beta2, eps, weight_decay, lr, flags) -> None:
    """ember_adam_multi over `table` with the device table `dyn` (on the table's device)."""
    args = (
        table.table,
        dyn,
        np.int32(table.count),
        np.float32(1 - beta1),
        np.float32(beta2),
        np.float32(1 - beta2),
        np.float32(eps),
        np.float32(weight_decay),
        np.float32(1 - lr * weight_decay),
        np.int32(flags),
        np.float64(lr),
        np.float64(beta1),
        np.float64(beta2),
    )
    _kernel("ember_adam_multi")((table.blocks,), (THREADS,), args)


def adam_step_capturable(
    table: MultiTensorTable,
    grads: list,
    *,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    lr: float,
    flags: int,
) -> None:
    """The capturable Adam/AdamW update (capturable=True): two launches that read nothing from the host
    but the gradient pointers. The first adds one to every device step counter of `table` (its step column
    must point at float32 device counters), the second updates the tensors with bias corrections computed
    from those counters. Inside a CUDA graph the gradient pointers are copied from a pinned buffer kept by
    the graph, so each replay updates the same gradient arrays with the current step count."""
    n = table.count
    with table.device:
        dyn = _upload(_ptrs(grads))
        _kernel("ember_step_increment")(((n + 255) // 256,), (256,), (table.table, np.int32(n)))
        _launch_adam(table, dyn, beta1, beta2, eps, weight_decay, lr, flags | DEVICE_STEP)


def sgd_step(
    table: MultiTensorTable,
    grads: list,
    first: np.ndarray,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    flags: int,
) -> None:
    """One SGD-with-momentum update of every tensor of `table` (columns param, momentum_buffer);
    first[i] != 0 marks a buffer that takes the gradient as is (its first step)."""
    check_no_capture(
        "the multi-tensor SGD step uploads its gradient pointers from the host each step, which a CUDA graph "
        "cannot hold: construct the optimizer with foreach=False to capture its step"
    )
    import cupy

    n = table.count
    dyn = np.empty(2 * n, dtype=np.int64)
    dyn[:n] = _ptrs(grads)
    dyn[n:] = first
    with table.device:
        args = (
            table.table,
            cupy.asarray(dyn),
            np.int32(n),
            np.float32(lr),
            np.float32(momentum),
            np.float32(1 - dampening),
            np.float32(weight_decay),
            np.int32(flags),
        )
        _kernel("ember_sgd_multi")((table.blocks,), (THREADS,), args)
