"""ember.cuda: the torch.cuda namespace. Without CuPy and a GPU, is_available() is False."""

from __future__ import annotations


def is_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy, no driver or no device all mean "not available"
        return False


def device_count() -> int:
    if not is_available():
        return 0
    import cupy

    return cupy.cuda.runtime.getDeviceCount()


def manual_seed(seed) -> None:
    """Seed the CUDA generators (no-op without a GPU)."""


def manual_seed_all(seed) -> None:
    """Seed all CUDA generators (no-op without a GPU)."""


def synchronize(device=None) -> None:
    if is_available():
        import cupy

        cupy.cuda.Device().synchronize()


def is_bf16_supported() -> bool:
    return is_available()
