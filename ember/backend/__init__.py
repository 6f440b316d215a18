"""Array backends: one object per device type that gives ops their array namespace and the few
helpers NumPy and CuPy spell differently. Ops never import numpy or cupy directly for device work."""

from __future__ import annotations

from .cpu import CPU_BACKEND

_BACKENDS = {"cpu": CPU_BACKEND}


def get_backend(device):
    """The backend for an ember.device (CPU now; CUDA registers itself when CuPy is importable)."""
    try:
        return _BACKENDS[device.type]
    except KeyError:
        return _load(device.type)


def _load(kind: str):
    if kind == "cuda":
        from .cuda import load_cuda_backend

        be = load_cuda_backend()
        _BACKENDS["cuda"] = be
        return be
    raise RuntimeError(f"ember: no backend for device type '{kind}'")


__all__ = ["get_backend", "CPU_BACKEND"]
