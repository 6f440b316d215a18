"""Prometheus metrics of one server (its own registry, so several servers in one process never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    def __init__(self):
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu seconds, open fds
        self.requests = Counter(
            "ember_requests",
            "Inference requests by model, version and HTTP status",
            ["model", "version", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "ember_request_latency_seconds",
            "Request latency by phase (queue, compute, total)",
            ["model", "version", "phase"],
            buckets=_LATENCY,
            registry=r,
        )
        self.batch_size = Histogram(
            "ember_batch_size", "Rows per executed batch", ["model", "version"], buckets=_BATCH, registry=r
        )
        self.queue_depth = Gauge(
            "ember_queue_depth",
            "Requests waiting in a model version's queue",
            ["model", "version"],
            registry=r,
        )
        self.load_seconds = Histogram(
            "ember_model_load_seconds",
            "Time to load and warm a model",
            ["model"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.load_failures = Counter("ember_model_load_failures", "Failed model loads", ["model"], registry=r)
        self.gpu_memory = Gauge(
            "ember_gpu_memory_allocated_bytes", "GPU memory held by ember's allocator", ["device"], registry=r
        )

    def observe_batch(self, model: str, version: str, rows: int, queued: list, compute: float) -> None:
        self.batch_size.labels(model, version).observe(rows)
        q = self.latency.labels(model, version, "queue")
        for s in queued:
            q.observe(s)
        self.latency.labels(model, version, "compute").observe(compute)

    def render(self, manager=None) -> bytes:
        if manager is not None:
            for name, table in manager.tables.items():
                for v, mv in table.items():
                    if mv.batcher is not None:
                        self.queue_depth.labels(name, str(v)).set(mv.batcher.depth)
        try:
            from .. import cuda

            if cuda.is_available():
                for i in range(cuda.device_count()):
                    self.gpu_memory.labels(f"cuda:{i}").set(cuda.memory_allocated(i))
        except Exception:  # metrics must never fail a scrape
            pass
        return generate_latest(self.registry)
