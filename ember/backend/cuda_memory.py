"""CuPy memory-pool statistics in torch.cuda's terms, and out-of-memory errors that say what to do.

An allocator wrapper around CuPy's default pool records the peak of used and reserved bytes at allocations
(the peak can only grow there) and turns CuPy's OutOfMemoryError into ember's.
"""

from __future__ import annotations

_STATE = {"installed": False, "peak_alloc": {}, "peak_reserved": {}, "fraction": {}}
# NOTE: the pool's byte counters cost a few microseconds each and a training step allocates ~2000 times, so
# the peaks are sampled at allocations of at least this size: max_memory_allocated/reserved can miss the
# small allocations made since the last large one (a few MiB at most in a training step).
_SMALL = 1 << 20


class OutOfMemoryError(RuntimeError):
    """CUDA out of memory (a RuntimeError, like torch.cuda.OutOfMemoryError)."""


def _fmt(n: int) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return f"{n} bytes"


def install() -> None:
    if _STATE["installed"]:
        return
    import cupy

    pool = cupy.get_default_memory_pool()
    pool_malloc, used_bytes, total_bytes = pool.malloc, pool.used_bytes, pool.total_bytes
    oom = cupy.cuda.memory.OutOfMemoryError
    peak_alloc, peak_reserved, fraction = _STATE["peak_alloc"], _STATE["peak_reserved"], _STATE["fraction"]

    def malloc(size: int):
        if fraction:
            dev = cupy.cuda.runtime.getDevice()
            frac = fraction.get(dev)
            if frac is not None:
                total = cupy.cuda.runtime.memGetInfo()[1]
                if used_bytes() + size > frac * total:
                    raise _oom(size, dev, pool, f"the per-process memory fraction {frac} is reached")
        try:
            mem = pool_malloc(size)
        except oom:
            pool.free_all_blocks()
            try:
                mem = pool_malloc(size)
            except oom:
                raise _oom(size, cupy.cuda.runtime.getDevice(), pool, None) from None
        if size < _SMALL:
            return mem
        dev = mem.device_id
        used = used_bytes()
        if used > peak_alloc.get(dev, 0):
            peak_alloc[dev] = used
        res = total_bytes()
        if res > peak_reserved.get(dev, 0):
            peak_reserved[dev] = res
        return mem

    cupy.cuda.set_allocator(malloc)
    _STATE["installed"] = True


def _oom(size, dev, pool, reason) -> OutOfMemoryError:
    import cupy

    free, total = cupy.cuda.runtime.memGetInfo()
    why = f" ({reason})" if reason else ""
    return OutOfMemoryError(
        f"CUDA out of memory{why}. Tried to allocate {_fmt(size)}. GPU {dev} has a total capacity of "
        f"{_fmt(total)} of which {_fmt(free)} is free. Of the memory ember holds, {_fmt(pool.used_bytes())} is "
        f"allocated by tensors and {_fmt(pool.total_bytes())} is reserved by the pool. Try a smaller batch, "
        "free tensors you no longer need (del them), call ember.cuda.empty_cache(), or use bf16 autocast / "
        "activation checkpointing to save memory."
    )


def pool():
    import cupy

    return cupy.get_default_memory_pool()


def memory_allocated(device=None) -> int:
    return int(pool().used_bytes())


def memory_reserved(device=None) -> int:
    return int(pool().total_bytes())


def _dev(device) -> int:
    import cupy

    if device is None:
        return cupy.cuda.runtime.getDevice()
    if isinstance(device, int):
        return device
    return getattr(device, "index", None) or 0


def max_memory_allocated(device=None) -> int:
    return int(max(_STATE["peak_alloc"].get(_dev(device), 0), memory_allocated(device)))


def max_memory_reserved(device=None) -> int:
    return int(max(_STATE["peak_reserved"].get(_dev(device), 0), memory_reserved(device)))


def reset_peak_memory_stats(device=None) -> None:
    d = _dev(device)
    _STATE["peak_alloc"][d] = memory_allocated(device)
    _STATE["peak_reserved"][d] = memory_reserved(device)


def empty_cache() -> None:
    pool().free_all_blocks()


def set_per_process_memory_fraction(fraction: float, device=None) -> None:
    if not 0 <= fraction <= 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    _STATE["fraction"][_dev(device)] = float(fraction)
