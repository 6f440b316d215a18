"""The ASGI app of `ember serve`: KServe v2 (Open Inference Protocol) REST, the repository API, OpenAI
completions, health and metrics. Every error is a JSON body {"error": ...} with a 4xx/5xx status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .batcher import BatchTooLarge, DynamicBatcher, QueueFull
from .metrics import Metrics
from .repository import LoadError, ModelConfig, ModelManager, NotFound, Repository


@dataclass
class ServeConfig:
    model_repository: str
    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 8
    max_queue_delay_ms: float = 0.0
    max_queue_size: int = 256
    timeout_s: float = 60.0
    workers: int = 1
    max_request_bytes: int = 32 << 20
    api_key: str | None = None
    poll_interval: float = 0.0
    device: str = "cpu"


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


_OPEN = ("/v2/health/", "/metrics")  # health and metrics stay open when an API key is set


class _ApiKey:
    """Pure ASGI middleware: Bearer API key on inference and repository endpoints."""

    def __init__(self, app, key: str | None):
        self.app, self.key = app, key

    async def __call__(self, scope, receive, send):
        if (
            self.key
            and scope["type"] == "http"
            and not scope["path"].startswith(_OPEN)
            and scope["path"] != "/v2"
        ):
            auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            if auth != f"Bearer {self.key}":
                resp = _error(
                    401,
                    "missing or wrong API key (send 'Authorization: Bearer <key>')",
                    {"WWW-Authenticate": "Bearer"},
                )
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _quiet_numpy() -> None:
    """NumPy's error state is per thread: worker threads need ember's (no FP warnings, as torch)."""
    import numpy as np

    np.seterr(all="ignore")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds `limit` bytes (before it is all read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPError(413, f"request body of {declared} bytes exceeds the limit of {limit} bytes")
        except ValueError:
            raise HTTPError(400, "bad Content-Length header") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body has been read, so receive() waits for that)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def create_app(cfg: ServeConfig) -> Starlette:
    from .. import __version__
    from .protocol import ProtocolError, encode_infer_response, model_metadata, parse_infer_request

    metrics = Metrics()
    hold = int(os.environ.get("EMBER_SERVE_TEST_BATCH_HOLD", "0") or 0)  # test hook (see batcher.py)
    state = {"manager": None, "executor": None, "ready": False, "poller": None}

    def make_batcher(mv):
        name, version = mv.name, str(mv.version)
        return DynamicBatcher(
            mv.run,
            batchable=mv.batchable,
            max_batch_size=mv.config.max_batch_size,
            max_queue_delay_ms=mv.config.max_queue_delay_ms,
            max_queue_size=mv.config.max_queue_size,
            executor=state["executor"],
            max_concurrent=cfg.workers,
            observe=lambda rows, queued, compute: metrics.observe_batch(name, version, rows, queued, compute),
            hold_for=hold,
        )

    def manager() -> ModelManager:
        return state["manager"]

    async def poll():
        while True:
            await asyncio.sleep(cfg.poll_interval)
            m = manager()
            for name in m.repo.models():
                try:
                    versions = m.repo.versions(name)
                    table = m.tables.get(name, {})
                    if versions and (not table or max(versions) != max(table)):
                        await m.load(name)
                except (LoadError, NotFound):
                    pass

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state["loop"] = asyncio.get_running_loop()
        state["executor"] = ThreadPoolExecutor(
            max_workers=max(1, cfg.workers), thread_name_prefix="ember-serve", initializer=_quiet_numpy
        )
        defaults = ModelConfig(
            max_batch_size=cfg.max_batch_size,
            max_queue_delay_ms=cfg.max_queue_delay_ms,
            max_queue_size=cfg.max_queue_size,
            timeout_s=cfg.timeout_s,
        )
        m = ModelManager(
            Repository(cfg.model_repository, defaults),
            executor=state["executor"],
            make_batcher=make_batcher,
            metrics=metrics,
            device=cfg.device,
        )
        state["manager"] = m
        for name in m.repo.models():
            try:
                await m.load(name)
            except (LoadError, NotFound) as e:
                print(f"ember serve: {e}", flush=True)
        state["ready"] = True
        if cfg.poll_interval > 0:
            state["poller"] = asyncio.get_running_loop().create_task(poll())
        print(
            f"ember serve: {sum(len(t) for t in m.tables.values())} model version(s) loaded from "
            f"{m.repo.root}",
            flush=True,
        )
        try:
            yield
        finally:
            state["ready"] = False
            if state["poller"] is not None:
                state["poller"].cancel()
            await m.close()  # drains queued and running batches
            state["executor"].shutdown(wait=True)

    # -- health and metadata
    async def live(request):
        return JSONResponse({"live": True})

    async def ready(request):
        ok = state["ready"]
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    async def server_meta(request):
        return JSONResponse(
            {
                "name": "ember",
                "version": __version__,
                "extensions": ["binary_tensor_data", "model_repository", "openai_completions"],
            }
        )

    def _get(request):
        try:
            return manager().get(request.path_params["name"], request.path_params.get("version"))
        except NotFound as e:
            raise HTTPError(404, str(e)) from None

    async def model_meta(request):
        mv = _get(request)
        versions = [str(v) for v in sorted(manager().tables.get(mv.name, {}))]
        return JSONResponse(model_metadata(mv.name, versions, "ember", mv.inputs, mv.outputs_meta()))

    async def model_ready(request):
        mv = _get(request)
        return JSONResponse({"name": mv.name, "version": str(mv.version), "ready": True})

    # -- inference
    async def infer(request):
        mv = _get(request)
        version = str(mv.version)
        mv.inflight += 1
        start = time.perf_counter()
        status = 200
        try:
            body = await _read_body(request, cfg.max_request_bytes)
            try:
                req = parse_infer_request(
                    body,
                    request.headers,
                    mv.inputs,
                    allow_nan=mv.config.allow_nan,
                    model_outputs=mv.outputs_meta(),
                )
            except ProtocolError as e:
                raise HTTPError(getattr(e, "status", 400), str(e)) from None
            try:
                task = mv.batcher.enqueue(req.inputs, timeout=mv.config.timeout_s)
            except QueueFull as e:
                raise HTTPError(503, str(e), {"Retry-After": "1"}) from None
            except BatchTooLarge as e:
                raise HTTPError(400, str(e)) from None
            gone = asyncio.ensure_future(_client_gone(request))
            try:
                await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:  # server shutting down the request: drop it from the queue
                task.cancel()
                gone.cancel()
                raise
            if not task.done():  # the client went away: drop its request
                task.cancel()
                status = 499
                return Response(status_code=499)
            gone.cancel()
            try:
                outputs = task.result()
            except TimeoutError:
                raise HTTPError(504, f"inference did not finish within {mv.config.timeout_s} s") from None
            except Exception as e:
                raise HTTPError(
                    500, f"model '{mv.name}' version {version} failed: {type(e).__name__}: {e}"
                ) from None
            try:
                out_body, headers = encode_infer_response(mv.name, version, outputs, req)
            except ProtocolError as e:
                raise HTTPError(getattr(e, "status", 400), str(e)) from None
            return Response(
                out_body, headers=headers, media_type=headers.pop("Content-Type", None) or "application/json"
            )
        except HTTPError as e:
            status = e.status
            raise
        finally:
            mv.inflight -= 1
            metrics.requests.labels(mv.name, version, str(status)).inc()
            metrics.latency.labels(mv.name, version, "total").observe(time.perf_counter() - start)

    # -- repository
    async def repo_index(request):
        return JSONResponse(manager().index())

    async def repo_load(request):
        name = request.path_params["name"]
        try:
            versions = await manager().load(name)
        except NotFound as e:
            raise HTTPError(404, str(e)) from None
        except LoadError as e:
            raise HTTPError(400, str(e)) from None
        return JSONResponse({"name": name, "versions": [str(v) for v in versions]})

    async def repo_unload(request):
        try:
            await manager().unload(request.path_params["name"])
        except NotFound as e:
            raise HTTPError(404, str(e)) from None
        return JSONResponse({"name": request.path_params["name"], "unloaded": True})

    async def metrics_endpoint(request):
        return Response(metrics.render(manager()), media_type="text/plain; version=0.0.4")

    # -- OpenAI completions for exported GPTs
    def resolve_generator(name: str):
        from .generation import CharCodec, GenerationEngine

        try:
            mv = manager().get(name)
        except NotFound:
            raise KeyError(name) from None
        if "vocab.json" not in mv.program.extra_files:
            raise KeyError(name)
        if mv.engine is None:
            block = int((mv.program.metadata.get("config") or {}).get("block_size", 256))
            mv.engine = GenerationEngine(
                mv.program,
                CharCodec.from_program(mv.program),
                block_size=block,
                max_batch_size=max(1, mv.config.max_batch_size),
                executor=state["executor"],
            )
        return mv.engine

    def list_generators():
        return sorted(n for n, t in manager().tables.items() if "vocab.json" in t[max(t)].program.extra_files)

    async def handle_http_error(request, exc):
        return _error(exc.status, exc.message, exc.headers)

    async def handle_bad_json(request, exc):
        return _error(400, f"malformed request: {exc}")

    async def handle_starlette(request, exc):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    from .openai_routes import completions, list_models

    routes = [  # the router tries routes in order: inference first
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_meta),
        Route("/v2/models/{name}", model_meta),
        Route("/v2/models/{name}/versions/{version}", model_meta),
        Route("/v2/models/{name}/ready", model_ready),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready),
        Route("/v2/repository/index", repo_index, methods=["POST"]),
        Route("/v2/repository/models/{name}/load", repo_load, methods=["POST"]),
        Route("/v2/repository/models/{name}/unload", repo_unload, methods=["POST"]),
        Route("/metrics", metrics_endpoint),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/models", list_models),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPError: handle_http_error,
            json.JSONDecodeError: handle_bad_json,
            StarletteHTTPException: handle_starlette,
        },
    )
    app.state.resolve_generator = resolve_generator
    app.state.list_generators = list_generators
    app.state.metrics = metrics
    app.state.serve = state
    app.add_middleware(_ApiKey, key=cfg.api_key)
    return app
