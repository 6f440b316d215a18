"""Run the server: uvicorn on the app, graceful shutdown on SIGTERM/SIGINT (in-flight work drains)."""

from __future__ import annotations

import os
import signal


def serve(cfg) -> int:
    import sys

    import uvicorn

    # The event loop and the model workers share the GIL: hand it over every 0.5 ms instead of 5 ms, or a
    # worker's Python (the graph walk) holds responses back for whole switch intervals.
    sys.setswitchinterval(0.0005)

    from .app import create_app

    app = create_app(cfg)
    config = uvicorn.Config(
        app,
        host=cfg.host,
        port=cfg.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=max(5, int(cfg.timeout_s)),
        access_log=False,
        proxy_headers=False,  # no X-Forwarded-* rewriting: one middleware less per request
    )

    class _Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # SIGTERM: uvicorn stops accepting connections and waits for in-flight requests; let every queue
            # drain now (a held test batch included) instead of at lifespan shutdown, after the wait.
            manager = app.state.serve.get("manager")
            loop = app.state.serve.get("loop")
            if manager is not None and loop is not None:
                for table in manager.tables.values():
                    for mv in table.values():
                        if mv.batcher is not None:
                            loop.call_soon_threadsafe(mv.batcher.release_hold)
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM:  # drained cleanly: exit 0 instead of re-raising SIGTERM afterwards
                self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]

    server = _Server(config)
    print(f"ember serve: http://{cfg.host}:{cfg.port} (pid {os.getpid()})", flush=True)
    server.run()
    return 0


def add_arguments(p) -> None:
    p.add_argument("--model-repository", required=True, help="DIR/<model>/<version>/model.ember")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch-size", type=int, default=8, help="rows per batch (config.json may override)")
    p.add_argument(
        "--max-queue-delay-ms",
        type=float,
        default=0.0,
        help="longest wait for a batch to fill (0, as Triton: batch what queued while busy)",
    )
    p.add_argument(
        "--max-queue-size", type=int, default=256, help="queued requests per model version (then 503)"
    )
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    p.add_argument("--workers", type=int, default=1, help="model-execution worker threads")
    p.add_argument("--max-request-bytes", type=int, default=32 << 20)
    p.add_argument(
        "--api-key",
        default=os.environ.get("EMBER_API_KEY"),
        help="require 'Authorization: Bearer KEY' on inference and repository endpoints",
    )
    p.add_argument(
        "--poll-interval", type=float, default=0.0, help="seconds between repository scans (0: off)"
    )
    p.add_argument("--device", default="cpu", help="where models run (cpu, cuda, cuda:1...)")


def main(args) -> int:
    """`ember serve` (its dependencies are the `serve` extra, imported only here)."""
    from .app import ServeConfig

    cfg = ServeConfig(
        model_repository=args.model_repository,
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_queue_delay_ms=args.max_queue_delay_ms,
        max_queue_size=args.max_queue_size,
        timeout_s=args.timeout,
        workers=args.workers,
        max_request_bytes=args.max_request_bytes,
        api_key=args.api_key,
        poll_interval=args.poll_interval,
        device=args.device,
    )
    return serve(cfg)
