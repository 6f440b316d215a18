"""Array backends: one object per device type that gives ops their array namespace and the few
helpers NumPy and CuPy spell differently. Ops never import numpy or cupy directly for device work."""

from __future__ import annotations


class _Never:
    """needs_input_grad when no graph is recorded: every entry is False."""

    __slots__ = ()

    def __getitem__(self, i):
        return False

    def __iter__(self):
        return iter(())


NEVER = _Never()


class NoGradCtx:
    """The ctx an op's forward sees when no graph is recorded: one per backend, shared, never read back.

    NOTE: it lives here (not in ops) so each backend can own one without importing the op layer."""

    needs_input_grad = NEVER
    _saved = ()

    def __init__(self, be):
        self.be = be
        self.xp = be.xp

    def save_for_backward(self, *values) -> None:
        pass

    def name(self) -> str:
        return "NoGradCtx"


from .cpu import CPU_BACKEND  # noqa: E402

CPU_BACKEND.nograd_ctx = NoGradCtx(CPU_BACKEND)

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
        be.nograd_ctx = NoGradCtx(be)
        _BACKENDS["cuda"] = be
        return be
    raise RuntimeError(f"ember: no backend for device type '{kind}'")


__all__ = ["get_backend", "CPU_BACKEND"]
