"""CUDA graphs in torch.cuda's terms: CUDAGraph, the `graph` context manager, graph_pool_handle and
is_current_stream_capturing (backend/cuda_graph.py does the work).

    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):          # records; nothing runs
        static_loss = train_step(static_x, static_y)
    static_x.copy_(x); static_y.copy_(y)
    g.replay()                          # one launch for every kernel of the step

As in torch: warm the step up eagerly first (kernels compile and load on first use, which a capture cannot do),
feed new data by copying into the static inputs, and read results from the tensors the capture produced.
What cannot be captured raises: host reads (.item(), printing), host <-> GPU copies, GradScaler, samplers that
read values on the host (poisson, multinomial), and optimizers that compute on the host per step (use
capturable=True). Random numbers drawn on the GPU (dropout, attention dropout, rand, randn, bernoulli) are
graph-safe: each replay draws the next numbers of the generator's stream.
"""

from __future__ import annotations

import gc

from ..backend import cuda_graph


def _need():
    from . import _need as need

    return need()


class CUDAGraph:
    """A captured CUDA graph (torch.cuda.CUDAGraph)."""

    def __init__(self, keep_graph: bool = False):
        _need()
        self._g = cuda_graph.Graph()

    def capture_begin(self, pool=None, capture_error_mode: str = "global") -> None:
        self._g.capture_begin(pool, capture_error_mode)

    def capture_end(self) -> None:
        self._g.capture_end()

    def replay(self) -> None:
        self._g.replay()

    def reset(self) -> None:
        self._g.reset()

    def pool(self):
        """The graph's memory pool, to share with another graph's capture (`ember.cuda.graph(g2, pool=...)`)."""
        return self._g.pool()


def graph_pool_handle():
    """A new memory pool for graphs to share (torch.cuda.graph_pool_handle)."""
    _need()
    return cuda_graph.GraphPool()


def is_current_stream_capturing() -> bool:
    from . import _cupy

    return _cupy() is not None and cuda_graph.stream_capturing()


class graph:
    """Capture the block into `cuda_graph` on a side stream (torch.cuda.graph): synchronises the device and
    collects garbage first, so that nothing pending or freed from earlier work lands in the capture."""

    default_capture_stream = None

    def __init__(self, cuda_graph: CUDAGraph, pool=None, stream=None, capture_error_mode: str = "global"):
        if not isinstance(cuda_graph, CUDAGraph):
            raise TypeError(f"ember.cuda.graph: expected a CUDAGraph, got {type(cuda_graph).__name__}")
        if stream is None:
            if graph.default_capture_stream is None:
                from . import Stream

                graph.default_capture_stream = Stream()
            stream = graph.default_capture_stream
        self.cuda_graph = cuda_graph
        self.pool = pool
        self.capture_stream = stream
        self.capture_error_mode = capture_error_mode

    def __enter__(self):
        from . import synchronize

        synchronize()
        gc.collect()
        self._stream = self.capture_stream._s
        self._stream.__enter__()
        try:
            self.cuda_graph.capture_begin(self.pool, capture_error_mode=self.capture_error_mode)
        except BaseException:
            self._stream.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.cuda_graph.capture_end()
            else:  # end the broken capture so the stream works again; the block's own error is the one raised
                self.cuda_graph._g.abort()
        finally:
            self._stream.__exit__(None, None, None)
        return False


__all__ = ["CUDAGraph", "graph", "graph_pool_handle", "is_current_stream_capturing"]
