"""The CPU backend: NumPy arrays (+ ml_dtypes for bfloat16), SciPy for special functions."""

from __future__ import annotations

import ctypes
import operator
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided as _np_as_strided

from .cuda_graph import CAPTURING, D2H_MESSAGE

# NOTE: torch never warns on overflow, 0/0 or log(0); NumPy would on every such op. ember follows torch.
np.seterr(all="ignore")


def _tune_malloc() -> None:
    """Keep freed large blocks in the process instead of returning them to the OS on every free.

    NOTE: with glibc's defaults every array over ~1 MB is mmap'ed and unmapped, so each training step
    page-faults its activations in again (measured: layer_norm fwd+bwd on (2048, 128) 2.2 ms -> 1.0 ms).
    torch avoids this with its own caching allocator; NumPy uses malloc. Set EMBER_NO_MALLOPT=1 to skip."""
    if os.environ.get("EMBER_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 26)  # M_MMAP_THRESHOLD: 64 MiB
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: 1 GiB
        # M_ARENA_MAX: 1. Threads otherwise get their own arenas, where freed large blocks go back to the OS
        # anyway: a model run on a server's worker thread measured 2.2x slower than on the main thread.
        libc.mallopt(-8, 1)
    except (OSError, AttributeError):
        pass


_tune_malloc()


# Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7), highest order first.
_ERF_C = [
    np.float32(c)
    for c in (
        0.17087277,
        -0.82215223,
        1.48851587,
        -1.13520398,
        0.27886807,
        -0.18628806,
        0.09678418,
        0.37409196,
        1.00002368,
        -1.26551223,
    )
]


class CPUBackend:
    """Array namespace and helpers for device type 'cpu'."""

    name = "cpu"
    xp = np
    ndarray = np.ndarray
    # a op b for the arithmetic ops' forward (the CUDA backend launches its own kernel for these)
    add = operator.add
    sub = operator.sub
    mul = operator.mul
    truediv = operator.truediv

    def __init__(self):
        self._special = None

    @property
    def special(self):
        # NOTE: scipy.special is imported on first use: it costs ~100 ms and most programs need only erf.
        if self._special is None:
            import scipy.special

            self._special = scipy.special
        return self._special

    def erf_fast(self, a):
        """erf for activations: float32 uses a rational approximation (abs error < 5e-7, ~2.5x faster than
        SciPy's erf here); other dtypes use SciPy."""
        if a.dtype != np.float32:
            return self.special.erf(a)
        z = np.abs(a)
        t = 1.0 / (1.0 + 0.5 * z)
        p = np.full_like(t, _ERF_C[0])
        for c in _ERF_C[1:]:
            p *= t
            p += c
        p -= z * z
        np.exp(p, out=p)
        p *= t
        np.subtract(np.float32(1.0), p, out=p)
        return np.copysign(p, a, out=p)

    # -- conversions
    def asarray(self, x, dtype=None):
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def cast(a, dtype):
        """a.astype(dtype) (the CUDA backend has its own kernels for float32 <-> half)."""
        return a.astype(dtype)

    def to_numpy(self, a) -> np.ndarray:
        return a

    def from_numpy(self, a: np.ndarray, device=None):
        return a

    def from_other(self, a, device=None) -> np.ndarray:
        """An array from another backend (e.g. CuPy), copied to host memory."""
        if isinstance(a, np.ndarray):
            return a
        if CAPTURING[0]:
            raise RuntimeError(f"ember: {D2H_MESSAGE}")
        return a.get()

    # -- memory layout
    @staticmethod
    def byte_offset(view, base) -> int:
        return view.__array_interface__["data"][0] - base.__array_interface__["data"][0]

    @staticmethod
    def strided_view(a, shape, strides):
        """A view starting at `a`'s first element with the given shape and byte strides."""
        return _np_as_strided(a, shape, strides)

    @staticmethod
    def as_strided(a, shape, strides, offset: int = 0):
        """A view of the dense memory block of `a` (a storage owner) at byte `offset`."""
        flat = _np_as_strided(a, (a.size,), (a.itemsize,))
        return _np_as_strided(flat[offset // a.itemsize :], shape, strides)

    @staticmethod
    def empty_strided(shape, strides, dtype):
        """An uninitialised array with the given byte strides (which must describe a dense layout)."""
        n = 1
        for s in shape:
            n *= s
        buf = np.empty(max(n, 1), dtype=dtype)
        return _np_as_strided(buf, shape, strides)

    @staticmethod
    def reshape_view(a, shape):
        """Reshape without copying; raises ValueError when the strides make a copy necessary."""
        return np.reshape(a, shape, copy=False)

    @staticmethod
    def matmul(a, b):
        if b.ndim == 2 and a.ndim > 2:
            # one BLAS call on the folded batch instead of NumPy's loop over the batch dims
            out = np.matmul(a.reshape(-1, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + (b.shape[1],))
        return np.matmul(a, b)

    @staticmethod
    def accumulate(ufunc, a, axis: int):
        """ufunc.accumulate along axis (running max/min/logaddexp)."""
        return ufunc.accumulate(a, axis=axis)

    @staticmethod
    def add_at(target, index, values) -> None:
        np.add.at(target, index, values)

    @staticmethod
    def is_alias(out, a) -> bool:
        """Whether `out` is a view of `a`'s memory (NumPy collapses view chains onto the owner)."""
        ob = out.base
        return ob is not None and (ob is a or ob is a.base)

    @staticmethod
    def is_contiguous(a) -> bool:
        return a.flags.c_contiguous


CPU_BACKEND = CPUBackend()
