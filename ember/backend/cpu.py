"""The CPU backend: NumPy arrays (+ ml_dtypes for bfloat16), SciPy for special functions."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided as _np_as_strided

# NOTE: torch never warns on overflow, 0/0 or log(0); NumPy would on every such op. ember follows torch.
np.seterr(all="ignore")


class CPUBackend:
    """Array namespace and helpers for device type 'cpu'."""

    name = "cpu"
    xp = np
    ndarray = np.ndarray

    def __init__(self):
        self._special = None

    @property
    def special(self):
        # NOTE: scipy.special is imported on first use: it costs ~100 ms and most programs need only erf.
        if self._special is None:
            import scipy.special

            self._special = scipy.special
        return self._special

    # -- conversions
    def asarray(self, x, dtype=None):
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, a) -> np.ndarray:
        return a

    def from_numpy(self, a: np.ndarray, device=None):
        return a

    def from_other(self, a, device=None) -> np.ndarray:
        """An array from another backend (e.g. CuPy), copied to host memory."""
        return a if isinstance(a, np.ndarray) else a.get()

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
        return np.matmul(a, b)

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
