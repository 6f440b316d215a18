"""CUDA graphs: record the kernels a block of ember code launches on one stream, then replay them all with one
launch, so the Python that issued them (dispatch, autograd, the optimizer) costs nothing on replay.

The recorded kernels read and write fixed addresses: the arrays alive when the capture ends (static inputs and
outputs, parameters, gradients, optimizer state) and the scratch memory of arrays freed during it. Allocations
during a capture therefore come from a memory pool that belongs to the graph (or to the graphs that share it
through `pool=`) and is never handed to code outside a capture, so a replay cannot overwrite anyone else's
tensors. Imports nothing from CuPy until a capture begins.
"""

from __future__ import annotations

CAPTURING = [0]  # captures in progress in this process: random-number generators refuse to advance then

_MODES = ("global", "thread_local", "relaxed")

RNG_MESSAGE = (
    "this use of CUDA random numbers cannot be captured in a CUDA graph: its kernels would repeat the same numbers "
    "on every replay (dropout and the samplers that draw on the GPU, such as rand, randn and bernoulli, are "
    "graph-safe; this one is not). Capture the step without it, or run it eagerly."
)

D2H_MESSAGE = (
    "a CUDA tensor cannot be read on the host (.item(), .tolist(), float(), printing, .cpu()) inside a CUDA graph "
    "capture: nothing has run yet; read the captured outputs after replay()"
)

_ACTIVE: list = []  # the Graphs being captured, innermost last

_BASE_SRC = r"""
extern "C" __global__ void ember_rng_base(unsigned long long* b, unsigned long long seed, unsigned long long off,
                                          const unsigned long long* src) {
    if (src && src[2]) { seed = src[0]; off += src[1]; }
    b[0] = seed; b[1] = off; b[2] = 1ULL;
}
"""
_BASE_KERNEL: list = []


def _new_base(engine):
    """A device buffer (seed, offset, 1) for `engine`'s kernels in one graph, uint64[3]: written before each
    replay, so nothing is recorded here (an empty array, not zeros: a recorded fill would run on replay)."""
    import cupy

    with engine._device():
        return cupy.empty(3, dtype=cupy.uint64)


def stream_capturing() -> bool:
    """Whether the current stream is being captured (another thread's or stream's work is not)."""
    import cupy

    return cupy.cuda.get_current_stream().is_capturing()


def _entry(engine) -> list:
    uses = _ACTIVE[-1]._rng
    entry = uses.get(engine)
    if entry is None:
        entry = uses[engine] = [0, 0, _new_base(engine)]
    return entry


def rng_reserve(engine, nb: int) -> tuple:
    """Inside a capture: (seed, offset, base) for the next nb Philox blocks of `engine`, where offset counts
    from the graph's start and `base` is the graph's device buffer holding the generator's (seed, offset) at
    each replay; kernels add base's offset to theirs (and take its seed). The generator does not advance
    now: each replay advances it past every block its capture reserved, as torch's graph-safe generators do."""
    entry = _entry(engine)
    offset = entry[0]
    entry[0] += nb
    entry[1] = max(entry[1], entry[0])
    return engine._seed, offset, entry[2]


def rng_position(engine) -> int:
    """Inside a capture: how far the graph's draws of `engine` have gone (0 before its first)."""
    entry = _ACTIVE[-1]._rng.get(engine) if _ACTIVE else None
    return 0 if entry is None else entry[0]


def rng_seek(engine, position: int) -> None:
    """Inside a capture: the next draw of `engine` continues at `position` blocks from the graph's start (a
    restored state, as activation checkpointing restores one to replay a forward's numbers)."""
    _entry(engine)[0] = position


def set_base(buf, seed: int, offset: int, src=None) -> None:
    """buf <- (seed, offset, 1) on the current stream, by a kernel (a copy from the host would wait, and could
    not be captured). With `src`, a graph's buffer from rng_reserve: its seed, and `offset` counted from its
    offset (so a captured call writes the state of each replay)."""
    import cupy
    import numpy as np

    if not _BASE_KERNEL:
        _BASE_KERNEL.append(cupy.RawKernel(_BASE_SRC, "ember_rng_base"))
    mask = (1 << 64) - 1
    args = (
        buf,
        np.uint64(seed & mask),
        np.uint64(offset & mask),
        np.uint64(0 if src is None else src.data.ptr),
    )
    with buf.device:
        _BASE_KERNEL[0]((1,), (1,), args)


def advance_rng(uses: dict, set_base=set_base) -> None:
    """Before a replay: each generator's current (seed, offset) into the graph's buffer, then the generator
    moves past the blocks the graph consumes."""
    for engine, (_, used, buf) in uses.items():
        set_base(buf, engine._seed, engine._offset)
        engine._offset = (engine._offset + used) & ((1 << 64) - 1)


def keep_alive(obj) -> None:
    """Tie `obj` (a pinned host buffer a captured copy reads on every replay) to the graph being captured."""
    if _ACTIVE:
        _ACTIVE[-1]._keep.append(obj)


def check_no_capture(what: str) -> None:
    """Raise when a CUDA graph is being captured: `what` must not run inside one."""
    if CAPTURING[0]:
        raise RuntimeError(f"ember: {what}")


class GraphPool:
    """The memory of one or more CUDA graphs (torch.cuda.graph_pool_handle): a CuPy pool of its own.

    NOTE: CuPy's pool answers an out-of-memory malloc by freeing its cached blocks and trying again; in a
    capture that shares the pool of an earlier graph, those blocks can be that graph's scratch memory, so an
    out-of-memory error during such a capture leaves the earlier graph unusable (capture it again). torch's
    private pools never release a block that a live graph uses; CuPy's pool has no such notion."""

    __slots__ = ("pool",)

    def __init__(self):
        import cupy

        self.pool = cupy.cuda.MemoryPool()

    def used_bytes(self) -> int:
        return self.pool.used_bytes()

    def total_bytes(self) -> int:
        return self.pool.total_bytes()


class Graph:
    """One captured graph: capture_begin / capture_end around the work, then replay()."""

    def __init__(self):
        self._graph = None
        self._pool = None
        self._stream = None
        self._allocator = None
        self._keep: list = []  # host buffers its recorded copies read from
        self._rng: dict = {}  # {generator engine: [position, blocks used, base buffer]} (rng_reserve)

    def capture_begin(self, pool: GraphPool | None = None, capture_error_mode: str = "global") -> None:
        import cupy

        if self._graph is not None or self._stream is not None:
            raise RuntimeError("CUDAGraph.capture_begin: this graph is already captured; call reset() first")
        if capture_error_mode not in _MODES:
            raise ValueError(f"capture_error_mode must be one of {_MODES}, got {capture_error_mode!r}")
        if pool is not None and not isinstance(pool, GraphPool):
            raise TypeError(
                "CUDAGraph.capture_begin: pool must come from ember.cuda.graph_pool_handle() or another "
                f"graph's pool(), got {type(pool).__name__}"
            )
        stream = cupy.cuda.get_current_stream()
        if stream.ptr == 0:
            raise RuntimeError(
                "CUDA graphs cannot be captured on the default stream: use `with ember.cuda.graph(g):`, which "
                "captures on a side stream, or make another stream current with `with ember.cuda.stream(s):`"
            )
        # NOTE: every mode captures in CUDA's relaxed mode: the graph's pool starts empty and calls cudaMalloc
        # during the capture, which the global and thread-local modes forbid (torch relaxes its own allocator's
        # cudaMalloc the same way); ember's own guards refuse host reads and copies in any mode
        mode = cupy.cuda.runtime.streamCaptureModeRelaxed
        self._pool = pool if pool is not None else GraphPool()
        allocator = cupy.cuda.using_allocator(self._pool.pool.malloc)
        allocator.__enter__()
        try:
            stream.begin_capture(mode)
        except BaseException:
            allocator.__exit__(None, None, None)
            raise
        self._allocator = allocator
        self._stream = stream
        self._keep = []
        self._rng = {}
        _ACTIVE.append(self)
        CAPTURING[0] += 1

    def capture_end(self) -> None:
        if self._stream is None:
            raise RuntimeError("CUDAGraph.capture_end: no capture in progress (call capture_begin first)")
        stream, self._stream = self._stream, None
        try:
            graph = stream.end_capture()
        except Exception as e:
            raise RuntimeError(
                "CUDA graph capture failed: something inside the captured block waited for the GPU or used "
                "another stream (.item(), printing a tensor, a copy between host and GPU, GradScaler.step, "
                f"a sampler that reads values on the host) ({type(e).__name__}: {e})"
            ) from None
        finally:
            CAPTURING[0] -= 1
            _ACTIVE.remove(self)
            self._allocator.__exit__(None, None, None)
            self._allocator = None
        self._graph = graph

    def abort(self) -> None:
        """End a capture that failed part-way (the graph is discarded; the stream can be used again)."""
        if self._stream is None:
            return
        try:
            self.capture_end()
        except RuntimeError:
            pass
        self._graph = None

    def replay(self) -> None:
        if self._graph is None:
            raise RuntimeError("CUDAGraph.replay: nothing captured yet (capture it with ember.cuda.graph(g))")
        import cupy

        if self._rng:
            if CAPTURING[0]:
                raise RuntimeError(
                    "CUDAGraph.replay: a graph that draws random numbers cannot be replayed inside another "
                    "capture (its generator state is written before each replay)"
                )
            advance_rng(self._rng)
        self._graph.launch(cupy.cuda.get_current_stream())

    def reset(self) -> None:
        if self._stream is not None:
            raise RuntimeError("CUDAGraph.reset: a capture is in progress")
        self._graph = None
        self._pool = None
        self._keep = []
        self._rng = {}

    def pool(self) -> GraphPool:
        if self._pool is None:
            raise RuntimeError("CUDAGraph.pool: the graph has no memory pool until its capture begins")
        return self._pool
