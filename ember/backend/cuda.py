"""The CUDA backend: CuPy arrays (bfloat16 through ml_dtypes), cuBLAS for half-precision matmuls.

Imported only when a tensor is put on a CUDA device; CPU-only machines never import CuPy.
"""

from __future__ import annotations

import operator
import os

import numpy as np

# NumPy-only at import (CuPy and Triton load inside them), bound here once: an import statement per call
# costs ~2 us, and these run for every matmul / attention of a step
from . import cuda_attention, cuda_blas, cuda_elementwise, cuda_flash
from .cuda_graph import CAPTURING, D2H_MESSAGE

_HALF_NP = frozenset(cuda_elementwise.DTYPE_CODE) - {np.dtype(np.float32)}  # float16, bfloat16
_H2D_IN_CAPTURE = (
    "ember: data cannot be copied from the host to the GPU inside a CUDA graph capture (the graph would keep "
    "reading the host buffer of the capture): create the tensor before capturing and copy_() new values into it "
    "between replays"
)


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
        from .. import backends

        self._matmul_flags = backends.cuda.matmul  # allow_tf32, read at every float32 matmul
        self.cast = cuda_elementwise.cast  # a.astype(dtype); float32 <-> float16/bfloat16 by ember's kernels
        # a op b: a cached kernel's launch where CuPy's ufunc would cost ~3 us more of host time per op (CuPy's
        # ufuncs with EMBER_CUDA_FUSED_ARITH=0; float32 + half operands are then cast to float32 first)
        if os.environ.get("EMBER_CUDA_FUSED_ARITH", "1") == "1":
            binary = cuda_elementwise.binary_op
        else:
            binary = cuda_elementwise.cupy_binary_op
        self.add = binary("add", operator.add)
        self.sub = binary("sub", operator.sub)
        self.mul = binary("mul", operator.mul)
        self.truediv = binary("truediv", operator.truediv)

    @property
    def special(self):
        if self._special is None:
            import cupyx.scipy.special

            self._special = cupyx.scipy.special
        return self._special

    # -- conversions
    def asarray(self, x, dtype=None):
        if CAPTURING[0] and not isinstance(x, self.ndarray):
            raise RuntimeError(_H2D_IN_CAPTURE)
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        if CAPTURING[0]:
            raise RuntimeError(f"ember: {D2H_MESSAGE}")
        return a.get() if isinstance(a, self.ndarray) else np.asarray(a)

    def from_numpy(self, a, device=None):
        if CAPTURING[0]:
            raise RuntimeError(_H2D_IN_CAPTURE)
        with self._device(device):
            # CuPy fills 0-d arrays from the scalar (memset for 0: -0.0 lost)
            if getattr(a, "ndim", None) == 0:
                return self.xp.asarray(a.reshape(1)).reshape(())
            return self.xp.asarray(a)

    def from_other(self, a, device=None):
        """An array on `device` (default: the current one) from NumPy or another GPU's CuPy array."""
        with self._device(device):
            if isinstance(a, self.ndarray):
                if device is not None and a.device.id != (device.index or 0):
                    return a.copy()
                return a
            if CAPTURING[0]:
                raise RuntimeError(_H2D_IN_CAPTURE)
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
        return self.xp.lib.stride_tricks.as_strided(flat[offset // a.itemsize :], shape, strides)

    def empty_strided(self, shape, strides, dtype):
        n = 1
        for s in shape:
            n *= s
        buf = self.xp.empty(max(n, 1), dtype=dtype)
        return self.xp.lib.stride_tricks.as_strided(buf, shape, strides)

    @staticmethod
    def reshape_view(a, shape):
        """Reshape without copying; raises ValueError when the strides make a copy necessary."""
        if a._c_contiguous:  # CuPy's reshape never copies these (~1 us against ~8 us for the path below)
            return a.reshape(shape)
        strides = _nocopy_strides(a.shape, a.strides, tuple(shape), a.itemsize)
        if strides is None:
            raise ValueError("Unable to avoid creating a copy while reshaping.")
        return _restride(a, shape, strides)

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

    _ADD_AT_OK = frozenset("int32 int64 float16 float32 float64 uint32 uint64".split())

    @staticmethod
    def gather_rows(w, idx):
        """w[idx] for a float embedding table: out-of-range indices give NaN rows, with no host read of idx
        (None for other tables)."""
        return cuda_elementwise.gather_rows(w, idx)

    def add_at(self, target, index, values) -> None:
        """target[index] += values with repeats accumulating (cupyx.scatter_add), widening dtypes it lacks."""
        cp = self.xp
        dt = target.dtype
        if dt.name in self._ADD_AT_OK:
            self._cupyx.scatter_add(target, index, cp.asarray(values, dtype=dt))
            return
        if dt.kind == "c":
            v = cp.asarray(values, dtype=dt)
            re, im = target.real.copy(), target.imag.copy()
            self.add_at(re, index, v.real)
            self.add_at(im, index, v.imag)
            target[...] = re + 1j * im
            return
        wide = {"f": np.float32, "V": np.float32, "i": np.int64, "u": np.uint64, "b": np.int32}[dt.kind]
        tmp = target.astype(wide)
        self._cupyx.scatter_add(tmp, index, cp.asarray(values).astype(wide))
        target[...] = (tmp != 0) if dt.kind == "b" else tmp.astype(dt)

    def scatter_extreme(self, out, index, values, is_max: bool) -> None:
        """out[index] = max (min) of out[index] and values, repeats included; NaN wins, as in torch.

        cupyx.scatter_max/min round float64 through float32, so floats use a compare-and-swap kernel of
        ours (16-bit floats through float32, which is exact for max/min); integers use cupyx."""
        cp = self.xp
        dt = out.dtype
        index = tuple(cp.asarray(i) for i in index)
        shape = np.broadcast_shapes(*(i.shape for i in index)) if index else ()
        index = tuple(cp.broadcast_to(i, shape) for i in index)
        vals = cp.broadcast_to(cp.asarray(values, dtype=dt), shape)
        if dt.kind in "iub":
            wide = dt if dt.name in ("int32", "int64", "uint32", "uint64") else np.dtype(np.int64)
            tmp = out if wide == dt else out.astype(wide)
            (self._cupyx.scatter_max if is_max else self._cupyx.scatter_min)(tmp, index, vals.astype(wide))
            if tmp is not out:
                out[...] = tmp.astype(dt)
            return
        work = out if dt in (np.float32, np.float64) else out.astype(np.float32)
        flat = cp.ravel_multi_index(index, work.shape) if index else None
        if flat is None:
            flat = cp.zeros(vals.shape, dtype=np.int64)
        _extreme_kernel(work.dtype)(vals.astype(work.dtype), flat.astype(np.int64), is_max, work)
        if work is not out:
            out[...] = work.astype(dt)

    # -- attention (kernels in cuda_attention.py)
    # flash_attention: the Triton flash kernels for float16/bfloat16 with head dim <= 128, when Triton is
    # installed (EMBER_CUDA_FLASH_ATTENTION=0 turns them off). fused_attention: the row-softmax kernels and the
    # half-precision cuBLAS path for what flash does not take.
    # NOTE: fused_attention is on by default since 2026-12-07 (EMBER_CUDA_FUSED_ATTENTION=0 turns it off): the
    # whole parity suite passed on an H100 with it, compute-sanitizer found nothing in the attention tests, and
    # it is 1.4-9x faster than the composed path (benchmarks/attention_cuda.py; NOTES-gpu step 13).
    fused_attention = os.environ.get("EMBER_CUDA_FUSED_ATTENTION", "1") == "1"
    flash_attention = os.environ.get("EMBER_CUDA_FLASH_ATTENTION", "1") == "1"

    @staticmethod
    def flash_supports(q, k, v, groups: int = 1) -> bool:
        return cuda_flash.supports(q, k, v, groups)

    @staticmethod
    def flash_forward(q, k, v, scale: float, causal: bool, mask=None, groups: int = 1, drop=None):
        return cuda_flash.flash_forward(q, k, v, scale, causal, mask, groups, drop)

    @staticmethod
    def flash_backward(g, q, k, v, out, lse, scale, causal, need, mask=None, groups: int = 1, drop=None):
        return cuda_flash.flash_backward(g, q, k, v, out, lse, scale, causal, need, mask, groups, drop)

    @staticmethod
    def scaled_softmax_(s, scale: float, causal: bool) -> None:
        cuda_attention.scaled_softmax_(s, scale, causal)

    @staticmethod
    def attention_half(q, k, v, scale: float, causal: bool):
        return cuda_attention.attention_half(q, k, v, scale, causal)

    @staticmethod
    def attention_half_backward(g, gw, q, k, v, p, scale: float, need):
        return cuda_attention.attention_half_backward(g, gw, q, k, v, p, scale, need)

    @staticmethod
    def is_alias(out, a) -> bool:
        """Whether `out` views `a`'s allocation (CuPy views made from a pointer carry no .base)."""
        return out.data.mem is a.data.mem and out.size > 0

    @staticmethod
    def is_contiguous(a) -> bool:
        return a._c_contiguous  # CuPy's attribute (.flags builds an object per call)

    def erf_fast(self, a):
        return self.special.erf(a)

    # -- matmul
    def matmul(self, a, b):
        dt = a.dtype
        if dt in _HALF_NP and b.dtype == dt:  # float16 / bfloat16 (not uint16/int16)
            return cuda_blas.half_matmul(a, b)
        if dt == np.float32 and self._matmul_flags.allow_tf32:
            return cuda_blas.tf32_matmul(a, b)
        if CAPTURING[0]:
            return cuda_blas.captured_matmul(a, b)
        if b.ndim == 2 and a.ndim > 2:
            out = self.xp.matmul(a.reshape(-1, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + (b.shape[1],))
        return self.xp.matmul(a, b)

    # -- random numbers
    def make_rng(self, seed: int, device):
        """A Philox4x32-10 counter engine (like torch's CUDA generator): its state is (seed, offset), so
        reading it changes nothing and restoring it replays the stream exactly."""
        from .philox import PhiloxEngine

        return PhiloxEngine(seed, 0 if device is None or device.index is None else device.index, xp=self.xp)


_EXTREME = {}


def _extreme_kernel(dt):
    """An elementwise kernel: atomically out[t] = better(out[t], v) by compare-and-swap on the bits."""
    import cupy

    key = np.dtype(dt).name
    if key not in _EXTREME:
        ctype, itype, to_bits, from_bits = {
            "float32": ("float", "unsigned int", "__float_as_uint", "__uint_as_float"),
            "float64": ("double", "unsigned long long", "__double_as_longlong", "__longlong_as_double"),
        }[key]
        code = f"""
        {itype}* a = ({itype}*)&out[t];
        {itype} old = *a, assumed;
        do {{
            assumed = old;
            {ctype} cur = {from_bits}(assumed);
            bool better = (v != v) ? (cur == cur) : (is_max ? v > cur : v < cur);
            if (!better) break;
            old = atomicCAS(a, assumed, ({itype}){to_bits}(v));
        }} while (old != assumed);
        """
        _EXTREME[key] = cupy.ElementwiseKernel(  # parameter types are NumPy names ("float" would be float64)
            f"{key} v, int64 t, bool is_max", f"raw {key} out", code, name=f"ember_scatter_extreme_{key}"
        )
    return _EXTREME[key]


def _restride(a, shape, strides):
    """A new array with this shape and these strides over `a`'s memory (from a's first element)."""
    import cupy

    return cupy.ndarray(shape, a.dtype, a.data, strides)


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
