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
    "random numbers on CUDA (dropout, rand, randn, bernoulli, ...) cannot be captured in a CUDA graph yet: the "
    "captured kernels would repeat the same numbers on every replay. Capture the step without them (dropout p=0, "
    "or model.eval()), or run it eagerly."
)


_KEEP: list = []  # per capture in progress (innermost last): host buffers its recorded copies read from


def keep_alive(obj) -> None:
    """Tie `obj` (a pinned host buffer a captured copy reads on every replay) to the graph being captured."""
    if _KEEP:
        _KEEP[-1].append(obj)


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
        self._keep: list = []

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
        _KEEP.append(self._keep)
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
                f"random numbers) ({type(e).__name__}: {e})"
            ) from None
        finally:
            CAPTURING[0] -= 1
            del _KEEP[next(i for i, k in enumerate(_KEEP) if k is self._keep)]  # by identity: [] == []
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

        self._graph.launch(cupy.cuda.get_current_stream())

    def reset(self) -> None:
        if self._stream is not None:
            raise RuntimeError("CUDAGraph.reset: a capture is in progress")
        self._graph = None
        self._pool = None
        self._keep = []

    def pool(self) -> GraphPool:
        if self._pool is None:
            raise RuntimeError("CUDAGraph.pool: the graph has no memory pool until its capture begins")
        return self._pool
