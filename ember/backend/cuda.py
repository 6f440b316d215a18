"""The CUDA backend: CuPy arrays (bfloat16 through ml_dtypes), cuBLAS for half-precision matmuls.

Imported only when a tensor is put on a CUDA device; CPU-only machines never import CuPy.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def load_cuda_backend():
    try:
        import cupy  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            "ember: CUDA tensors need CuPy: pip install 'ember[cuda]' (cupy-cuda13x) on a machine with an "
            f"NVIDIA GPU ({e})"
        ) from None
    return CUDABackend()


class CUDABackend:
    """Array namespace and helpers for device type 'cuda'."""

    name = "cuda"

    def __init__(self):
        import cupy
        import cupyx

        from . import cuda_memory

        self.xp = cupy
        self.ndarray = cupy.ndarray
        self._cupyx = cupyx
        self._special = None
        cuda_memory.install()

    @property
    def special(self):
        if self._special is None:
            import cupyx.scipy.special

            self._special = cupyx.scipy.special
        return self._special

    # -- conversions
    def asarray(self, x, dtype=None):
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return a.get() if isinstance(a, self.ndarray) else np.asarray(a)

    def from_numpy(self, a, device=None):
        with self._device(device):
            return self.xp.asarray(a)

    def from_other(self, a, device=None):
        """An array on `device` (default: the current one) from NumPy or another GPU's CuPy array."""
        with self._device(device):
            if isinstance(a, self.ndarray):
                if device is not None and a.device.id != (device.index or 0):
                    return a.copy()
                return a
            return self.xp.asarray(a)

    def _device(self, device):
        idx = 0 if device is None or device.index is None else device.index
        return self.xp.cuda.Device(idx)

    # -- memory layout
    @staticmethod
    def byte_offset(view, base) -> int:
        return view.data.ptr - base.data.ptr

    def strided_view(self, a, shape, strides):
        return self.xp.lib.stride_tricks.as_strided(a, shape, strides)

    def as_strided(self, a, shape, strides, offset: int = 0):
        """A view of the dense memory block of `a` (a storage owner) at byte `offset`."""
        flat = self.xp.lib.stride_tricks.as_strided(a, (a.size,), (a.itemsize,))
        return self.xp.lib.stride_tricks.as_strided(flat[offset // a.itemsize:], shape, strides)

    def empty_strided(self, shape, strides, dtype):
        n = 1
        for s in shape:
            n *= s
        buf = self.xp.empty(max(n, 1), dtype=dtype)
        return self.xp.lib.stride_tricks.as_strided(buf, shape, strides)

    @staticmethod
    def reshape_view(a, shape):
        """Reshape without copying; raises ValueError when the strides make a copy necessary."""
        strides = _nocopy_strides(a.shape, a.strides, tuple(shape), a.itemsize)
        if strides is None:
            raise ValueError("Unable to avoid creating a copy while reshaping.")
        return _restride(a.view(), shape, strides)

    def accumulate(self, ufunc, a, axis: int):
        """ufunc.accumulate along axis by log-step doubling (CuPy implements accumulate only for add and
        multiply): ceil(log2 n) whole-array passes, each combining with the element 2^k positions back."""
        xp = self.xp
        out = a.copy()
        n = a.shape[axis]
        step = 1
        while step < n:
            lead = (slice(None),) * (axis % a.ndim)
            head = out[lead + (slice(step, None),)]
            prev = out[lead + (slice(0, n - step),)].copy()
            ufunc(head, prev, out=head)
            step *= 2
        return xp.ascontiguousarray(out)

    def add_at(self, target, index, values) -> None:
        self._cupyx.scatter_add(target, index, values)

    @staticmethod
    def is_alias(out, a) -> bool:
        """Whether `out` views `a`'s allocation (CuPy views made from a pointer carry no .base)."""
        return out.data.mem is a.data.mem and out.size > 0

    @staticmethod
    def is_contiguous(a) -> bool:
        return a.flags.c_contiguous

    def erf_fast(self, a):
        return self.special.erf(a)

    # -- matmul
    def matmul(self, a, b):
        if a.dtype.itemsize == 2 and a.dtype == b.dtype and a.dtype.kind != "i":
            from .cuda_blas import half_matmul

            return half_matmul(a, b)
        from .. import backends

        if a.dtype == np.float32 and backends.cuda.matmul.allow_tf32:
            from .cuda_blas import tf32_matmul

            return tf32_matmul(a, b)
        if b.ndim == 2 and a.ndim > 2:
            out = self.xp.matmul(a.reshape(-1, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + (b.shape[1],))
        return self.xp.matmul(a, b)

    # -- random numbers
    def make_rng(self, seed: int, device):
        return CudaRNG(seed, device)


def _restride(v, shape, strides):
    """Give view `v` (which owns no data) a new shape and strides over the same memory."""
    import cupy

    return cupy.lib.stride_tricks.as_strided(v, shape, strides)


def _nocopy_strides(old_shape, old_strides, new_shape, itemsize):
    """NumPy's attempt_nocopy_reshape: strides that express `new_shape` over the same memory, or None."""
    old = [(s, st) for s, st in zip(old_shape, old_strides) if s != 1]
    n_new = 1
    for s in new_shape:
        n_new *= s
    if n_new == 0 or not old:
        # empty or all-ones arrays: any strides work; use C-contiguous ones
        strides = []
        acc = itemsize
        for s in reversed(new_shape):
            strides.append(acc)
            acc *= max(s, 1)
        return tuple(reversed(strides))
    olddims = [s for s, _ in old]
    oldstrides = [st for _, st in old]
    newdims = list(new_shape)
    newstrides = [0] * len(newdims)
    oi, oj, ni, nj = 0, 1, 0, 1
    n_old, n_new_dims = len(olddims), len(newdims)
    while ni < n_new_dims and oi < n_old:
        np_ = newdims[ni]
        op = olddims[oi]
        while np_ != op:
            if np_ < op:
                np_ *= newdims[nj]
                nj += 1
            else:
                op *= olddims[oj]
                oj += 1
        for ok in range(oi, oj - 1):
            if oldstrides[ok] != olddims[ok + 1] * oldstrides[ok + 1]:
                return None
        newstrides[nj - 1] = oldstrides[oj - 1]
        for nk in range(nj - 1, ni, -1):
            newstrides[nk - 1] = newstrides[nk] * newdims[nk]
        ni = nj
        nj += 1
        oi = oj
        oj += 1
    last = newstrides[ni - 1] if ni >= 1 else itemsize
    for nk in range(ni, n_new_dims):
        newstrides[nk] = last
    return tuple(newstrides)


class CudaRNG:
    """A CuPy RandomState with get/set state: get_state forks the stream to a seed derived from (seed,
    number of forks), so set_state of that state continues exactly as the stream after get_state did."""

    def __init__(self, seed: int, device):
        import cupy

        self._cupy = cupy
        self._device = 0 if device is None or device.index is None else device.index
        self._seed = int(seed)
        self._fork = 0
        self._reset()

    def _reset(self):
        derived = int.from_bytes(hashlib.sha256(f"{self._seed}:{self._fork}".encode()).digest()[:8], "little")
        with self._cupy.cuda.Device(self._device):
            self._rs = self._cupy.random.RandomState(derived if self._fork else self._seed)

    def get_state(self):
        self._fork += 1
        self._reset()
        return {"seed": self._seed, "fork": self._fork}

    def set_state(self, state):
        if isinstance(state, str):
            state = json.loads(state)
        self._seed = int(state["seed"])
        self._fork = int(state["fork"])
        self._reset()

    # the subset of NumPy's Generator API that ember's samplers use
    def random(self, size=None, dtype=np.float64):
        return self._rs.random_sample(size, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        return self._rs.standard_normal(size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        return self._rs.randint(low, high, size, dtype=dtype)

    def permutation(self, n):
        return self._rs.permutation(n)

    def exponential(self, scale=1.0, size=None):
        return self._rs.exponential(scale, size)

    def standard_cauchy(self, size=None):
        return self._rs.standard_cauchy(size)

    def lognormal(self, mean=0.0, sigma=1.0, size=None):
        return self._rs.lognormal(mean, sigma, size)

    def geometric(self, p, size=None):
        return self._rs.geometric(p, size)

    def poisson(self, lam=1.0, size=None):
        return self._rs.poisson(lam, size)

    def choice(self, a, size=None, replace=True, p=None):
        return self._rs.choice(a, size, replace, p)
