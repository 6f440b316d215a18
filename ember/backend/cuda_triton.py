"""Triton kernels on CuPy arrays, without torch: Triton compiles, CuPy loads the cubin and launches it.

Triton's own launch path asks its active driver for the device and stream, and that driver imports torch. We
use Triton only as a compiler: `TritonKernel(fn)(grid, *args, **constexprs)` specialises the kernel the way
Triton's JIT does (argument dtypes, 16-byte alignment of pointers, integers equal to 1 or divisible by 16,
32- or 64-bit integers), compiles each specialisation once through `fn.warmup` under a compile-only driver
whose target is the current CuPy device, and launches the cubin with CuPy (a few microseconds, CuPy's
current stream). Compiled kernels are also cached on disk by Triton (~/.triton/cache).

NOTE: the two trailing kernel parameters (global and profile scratch) that Triton 3.x appends are passed as
null pointers; a kernel that needs scratch memory is refused at compile time.
"""

from __future__ import annotations

import threading

import numpy as np

_LOCK = threading.Lock()
_NULL = np.uint64(0)


def _tl_dtypes():
    import ml_dtypes
    import triton.language as tl

    return {
        np.dtype(np.float32): tl.float32,
        np.dtype(np.float16): tl.float16,
        np.dtype(ml_dtypes.bfloat16): tl.bfloat16,
        np.dtype(np.float64): tl.float64,
        np.dtype(np.int64): tl.int64,
        np.dtype(np.uint64): tl.uint64,
        np.dtype(np.int32): tl.int32,
        np.dtype(np.int16): tl.int16,
        np.dtype(np.int8): tl.int8,
        np.dtype(np.uint8): tl.uint8,
        np.dtype(np.bool_): tl.int8,
    }


class _Ptr:
    """What Triton's JIT reads off a tensor argument: data_ptr() and a Triton dtype."""

    __slots__ = ("ptr", "dtype")

    def __init__(self, ptr: int, dtype):
        self.ptr, self.dtype = ptr, dtype

    def data_ptr(self) -> int:
        return self.ptr


_DRIVER = None


def _compile_driver():
    """A Triton CUDA driver that only answers target/device questions, from CuPy (never imports torch)."""
    global _DRIVER
    if _DRIVER is None:
        import cupy
        from triton.backends.compiler import GPUTarget
        from triton.backends.nvidia.driver import CudaDriver

        class _EmberCompileDriver(CudaDriver):
            def __init__(self):  # NOTE: skips GPUDriver.__init__, which imports torch
                self.launcher_cls = None
                self.get_current_device = lambda: cupy.cuda.Device().id
                self.get_current_stream = lambda idx=None: cupy.cuda.get_current_stream().ptr
                self.get_device_capability = lambda idx=None: divmod(
                    int(cupy.cuda.Device(idx).compute_capability), 10
                )

            def get_current_target(self):
                major, minor = self.get_device_capability()
                return GPUTarget("cuda", major * 10 + minor, 32)

        _DRIVER = _EmberCompileDriver()
    return _DRIVER


def _spec(a):
    """The part of an argument that selects a compiled specialisation (as Triton's JIT specialises)."""
    if isinstance(a, int) and not isinstance(a, bool):
        return ("i", a == 1, a % 16 == 0, -(2**31) <= a < 2**31)
    if isinstance(a, float):
        return "f"
    if isinstance(a, bool):
        return ("b", a)
    dt = a.dtype
    return (dt.str, a.data.ptr % 16 == 0)


class TritonKernel:
    """A @triton.jit function launched on CuPy arrays: kernel(grid, *args, **constexprs_and_options).

    Options num_warps / num_stages go with the constexprs. Arrays must be CuPy arrays (pointers are taken as
    they are: the kernel gets the strides it is told)."""

    def __init__(self, fn, **defaults):
        self.fn = fn
        self.defaults = defaults
        self._cache: dict = {}

    def __call__(self, grid, *args, **kw):
        key = tuple(map(_spec, args)) + tuple(sorted(kw.items()))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._compile(key, args, kw)
        kern, kinds, block, shared = entry
        params = [conv(a) for a, conv in zip(args, kinds) if conv is not None]
        params.append(_NULL)
        params.append(_NULL)
        kern(grid, block, tuple(params), shared_mem=shared)

    def _compile(self, key, args, kw):
        import cupy
        from triton.runtime import driver

        dts = _tl_dtypes()
        wrapped = []
        for a in args:
            if isinstance(a, (int, float, bool)):
                wrapped.append(a)
            else:
                if a.dtype not in dts:
                    raise TypeError(f"{self.fn.__name__}: no Triton type for array dtype {a.dtype}")
                wrapped.append(_Ptr(a.data.ptr, dts[a.dtype]))
        opts = {**self.defaults, **kw}
        with _LOCK:
            prev = driver._active
            driver.set_active(_compile_driver())
            try:
                k = self.fn.warmup(*wrapped, grid=(1,), **opts)
            finally:
                driver._active = prev
        md = k.metadata
        if md.global_scratch_size or md.profile_scratch_size:
            raise RuntimeError(
                f"{self.fn.__name__}: kernels that need Triton scratch memory are not supported"
            )
        sig = k.src.signature
        consts = k.src.constants
        kinds = []
        for i, (name, ty) in enumerate(sig.items()):
            if i >= len(args):
                break
            if ty == "constexpr" or (i,) in consts:
                kinds.append(None)
            elif ty.startswith("*"):
                kinds.append(_as_array)
            elif ty in ("i32", "i64", "u64", "u32", "i1", "fp32", "fp64"):
                kinds.append(_SCALAR[ty])
            else:
                raise TypeError(f"{self.fn.__name__}: unsupported Triton argument type {ty} for {name}")
        cubin = next(p for n, p in k.metadata_group.items() if n.endswith(".cubin"))
        mod = cupy.RawModule(path=cubin)
        kern = mod.get_function(md.name)
        if md.shared > 48 * 1024:
            kern.max_dynamic_shared_size_bytes = md.shared
        entry = (kern, kinds, (md.num_warps * 32, 1, 1), md.shared)
        self._cache[key] = entry
        return entry


def _as_array(a):
    return a


_SCALAR = {
    "i32": np.int32,
    "i64": np.int64,
    "u32": np.uint32,
    "u64": np.uint64,
    "i1": np.bool_,
    "fp32": np.float32,
    "fp64": np.float64,
}
