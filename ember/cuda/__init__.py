"""ember.cuda: the torch.cuda namespace over CuPy. Without CuPy or a GPU, is_available() is False and the
functions that need a device raise a clear RuntimeError."""

from __future__ import annotations

import contextlib
import functools

from ..backend.cuda_memory import OutOfMemoryError

_WHY_NOT: list = []


@functools.lru_cache(maxsize=1)
def _cupy():
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
        return cupy
    except Exception as e:  # noqa: BLE001 - no CuPy, no driver and no device all mean "not available"
        _WHY_NOT.append(f"{type(e).__name__}: {e}")
        return None


def _need():
    cp = _cupy()
    if cp is None:
        raise RuntimeError("ember.cuda: no CUDA device is available (CuPy with an NVIDIA GPU is required)")
    return cp


def is_available() -> bool:
    cp = _cupy()
    return cp is not None and cp.cuda.runtime.getDeviceCount() > 0


def is_initialized() -> bool:
    return _cupy() is not None


def device_count() -> int:
    cp = _cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device() -> int:
    return _need().cuda.runtime.getDevice()


def _index(device) -> int:
    """A CUDA device index from an int, a string ("cuda:1"), an ember.device or None (the current device);
    "cuda" without an index is the current device, as in torch."""
    if isinstance(device, int):
        return device
    if isinstance(device, str):
        from .._device import device as _dev

        device = _dev(device)
    idx = getattr(device, "index", None)
    return current_device() if idx is None else idx


def set_device(device) -> None:
    _need().cuda.Device(_index(device)).use()


@contextlib.contextmanager
def device(dev):
    """Context manager that makes `dev` the current CUDA device."""
    with _need().cuda.Device(_index(dev)):
        yield


def get_device_properties(device=None) -> dict:
    cp = _need()
    return cp.cuda.runtime.getDeviceProperties(_index(device))


def get_device_name(device=None) -> str:
    name = get_device_properties(device)["name"]
    return name.decode() if isinstance(name, bytes) else name


def get_device_capability(device=None) -> tuple:
    p = get_device_properties(device)
    return (p["major"], p["minor"])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return is_available() and get_device_capability()[0] >= 8


def synchronize(device=None) -> None:
    cp = _need()
    cp.cuda.Device(_index(device)).synchronize()


def manual_seed(seed) -> None:
    """Seed the current CUDA device's default generator."""
    from .._generator import default_generator_for

    if is_available():
        default_generator_for(f"cuda:{current_device()}").manual_seed(seed)


def manual_seed_all(seed) -> None:
    from .._generator import default_generator_for

    for i in range(device_count()):
        default_generator_for(f"cuda:{i}").manual_seed(seed)


def seed() -> None:
    from .._generator import default_generator_for

    if is_available():
        default_generator_for(f"cuda:{current_device()}").seed()


def get_rng_state(device="cuda"):
    from .._generator import default_generator_for

    return default_generator_for(device).get_state()


def set_rng_state(new_state, device="cuda") -> None:
    from .._generator import default_generator_for

    default_generator_for(device).set_state(new_state)


# ------------------------------------------------------------------------------------------ streams, events


class Stream:
    """A CUDA stream (wraps cupy.cuda.Stream)."""

    def __init__(self, device=None, priority: int = 0, **kwargs):
        self._s = _need().cuda.Stream(non_blocking=True, priority=priority)

    def synchronize(self) -> None:
        self._s.synchronize()

    def query(self) -> bool:
        return self._s.done

    def wait_event(self, event) -> None:
        self._s.wait_event(event._e)

    def wait_stream(self, stream) -> None:
        self._s.wait_event(stream._s.record())

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    @property
    def cuda_stream(self) -> int:
        return self._s.ptr

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self._s.ptr == other._s.ptr

    def __hash__(self) -> int:
        return hash(("ember.cuda.Stream", self._s.ptr))

    def __enter__(self):
        self._s.__enter__()
        return self

    def __exit__(self, *exc):
        return self._s.__exit__(*exc)


class Event:
    """A CUDA event; elapsed_time in milliseconds needs enable_timing=True on both events."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        self._e = _need().cuda.Event(block=blocking, disable_timing=not enable_timing, interprocess=interprocess)

    def record(self, stream=None) -> None:
        self._e.record(None if stream is None else stream._s)

    def synchronize(self) -> None:
        self._e.synchronize()

    def query(self) -> bool:
        return self._e.done

    def wait(self, stream=None) -> None:
        (stream._s if stream is not None else _need().cuda.get_current_stream()).wait_event(self._e)

    def elapsed_time(self, end_event) -> float:
        return float(_need().cuda.get_elapsed_time(self._e, end_event._e))


def current_stream(device=None) -> Stream:
    s = Stream.__new__(Stream)
    s._s = _need().cuda.get_current_stream()
    return s


def default_stream(device=None) -> Stream:
    s = Stream.__new__(Stream)
    s._s = _need().cuda.Stream.null
    return s


@contextlib.contextmanager
def stream(s):
    """Make `s` the current stream inside the block (None: no change)."""
    if s is None:
        yield
        return
    with s._s:
        yield


# ------------------------------------------------------------------------------------------ memory


def _mem():
    _need()
    from ..backend import cuda_memory

    cuda_memory.install()
    return cuda_memory


def memory_allocated(device=None) -> int:
    return _mem().memory_allocated(device) if is_available() else 0


def max_memory_allocated(device=None) -> int:
    return _mem().max_memory_allocated(device) if is_available() else 0


def memory_reserved(device=None) -> int:
    return _mem().memory_reserved(device) if is_available() else 0


def max_memory_reserved(device=None) -> int:
    return _mem().max_memory_reserved(device) if is_available() else 0


def reset_peak_memory_stats(device=None) -> None:
    if is_available():
        _mem().reset_peak_memory_stats(device)


def reset_max_memory_allocated(device=None) -> None:
    reset_peak_memory_stats(device)


def empty_cache() -> None:
    if is_available():
        _mem().empty_cache()


def set_per_process_memory_fraction(fraction: float, device=None) -> None:
    _mem().set_per_process_memory_fraction(fraction, device)


def mem_get_info(device=None) -> tuple:
    return tuple(_need().cuda.runtime.memGetInfo())


def memory_stats(device=None) -> dict:
    return {
        "allocated_bytes.all.current": memory_allocated(device),
        "allocated_bytes.all.peak": max_memory_allocated(device),
        "reserved_bytes.all.current": memory_reserved(device),
        "reserved_bytes.all.peak": max_memory_reserved(device),
    }


def memory_summary(device=None, abbreviated: bool = False) -> str:
    from ..backend.cuda_memory import _fmt

    st = memory_stats(device)
    lines = [
        "|" + "=" * 60 + "|",
        f"| ember CUDA memory summary, device {0 if device is None else device}".ljust(61) + "|",
        "|" + "-" * 60 + "|",
        "| Metric           | Cur Usage        | Peak Usage       |".ljust(61) + "|",
        "|" + "-" * 60 + "|",
        f"| Allocated memory | {_fmt(st['allocated_bytes.all.current']):>16} | "
        f"{_fmt(st['allocated_bytes.all.peak']):>16} |".ljust(61) + "|",
        f"| Reserved memory  | {_fmt(st['reserved_bytes.all.current']):>16} | "
        f"{_fmt(st['reserved_bytes.all.peak']):>16} |".ljust(61) + "|",
        "|" + "=" * 60 + "|",
    ]
    return "\n".join(lines)


from .graphs import CUDAGraph, graph, graph_pool_handle, is_current_stream_capturing  # noqa: E402

__all__ = [
    "CUDAGraph", "graph", "graph_pool_handle", "is_current_stream_capturing",
    "Event", "OutOfMemoryError", "Stream", "current_device", "current_stream", "default_stream", "device",
    "device_count", "empty_cache", "get_device_capability", "get_device_name", "get_device_properties",
    "get_rng_state", "is_available", "is_bf16_supported", "manual_seed", "manual_seed_all", "max_memory_allocated",
    "max_memory_reserved", "mem_get_info", "memory_allocated", "memory_reserved", "memory_stats", "memory_summary",
    "reset_peak_memory_stats", "seed", "set_device", "set_per_process_memory_fraction", "set_rng_state",
    "stream", "synchronize",
]
