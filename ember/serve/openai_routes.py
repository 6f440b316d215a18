"""OpenAI-compatible routes: POST /v1/completions (JSON or server-sent events) and GET /v1/models.

The app provides `app.state.resolve_generator(model_name) -> GenerationEngine` (KeyError for an unknown
model) and `app.state.list_generators() -> list[str]` (either may also be a coroutine function).
"""

from __future__ import annotations

import inspect
import json
import time
import uuid

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .generation import GenerationError

__all__ = ["completions", "list_models", "routes"]

_CREATED = int(time.time())  # the `created` of every listed model: when the server process started
_UNSUPPORTED = {  # field -> values that mean "feature off" (anything else is a 400)
    "n": (None, 1),
    "best_of": (None, 1),
    "logprobs": (None, 0, False),
    "suffix": (None, ""),
}


def _error(status: int, message: str, *, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _error_body(e: GenerationError) -> dict:
    kind = "invalid_request_error" if e.status < 500 else "server_error"
    return {"error": {"message": e.message, "type": kind, "param": e.param, "code": None}}


class _EventStream(StreamingResponse):
    """A server-sent-event response that always closes its generator (the generation) when it ends."""

    media_type = "text/event-stream"

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


def _sse(obj) -> str:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def _bad(message: str, param: str | None = None) -> GenerationError:
    return GenerationError(400, message, param=param)


def _parse(body) -> dict:
    """The arguments of a completion request (GenerationError 400 for a malformed one)."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model must be a non-empty string", "model")
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise _bad(f"prompt must be one string (this server takes 1 prompt, got {len(prompt)})", "prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise _bad("prompt must be a string", "prompt")
    for name, ok in _UNSUPPORTED.items():
        if name in body and not any(body[name] is v or (v is not None and body[name] == v) for v in ok):
            raise _bad(f"{name}={body[name]!r} is not supported by this server", name)
    for name in ("stream", "echo"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise _bad(f"{name} must be a boolean", name)
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise _bad("stream_options must be an object", "stream_options")
    return {
        "model": model,
        "prompt": prompt,
        "max_tokens": 16 if body.get("max_tokens") is None else body["max_tokens"],
        "temperature": 1.0 if body.get("temperature") is None else body["temperature"],
        "top_p": 1.0 if body.get("top_p") is None else body["top_p"],
        "stop": body.get("stop"),
        "seed": body.get("seed"),
        "stream": bool(body.get("stream")),
        "echo": bool(body.get("echo")),
        "include_usage": bool((opts or {}).get("include_usage")),
    }


async def completions(request: Request) -> Response:
    """POST /v1/completions: one completion of one prompt, as JSON or streamed as server-sent events."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the request body is not valid JSON")
    try:
        args = _parse(body)
    except GenerationError as e:
        return _error(e.status, e.message, param=e.param)
    model = args["model"]
    try:
        engine = request.app.state.resolve_generator(model)
        if inspect.isawaitable(engine):
            engine = await engine
    except KeyError:
        return _error(404, f"the model '{model}' does not exist", param="model", code="model_not_found")
    except GenerationError as e:
        return _error(e.status, e.message, param="model")
    try:
        gen = engine.generate(
            args["prompt"],
            max_tokens=args["max_tokens"],
            temperature=args["temperature"],
            top_p=args["top_p"],
            stop=args["stop"],
            seed=args["seed"],
        )
    except GenerationError as e:
        return _error(e.status, e.message, param=e.param)
    head = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
    }
    prefix = args["prompt"] if args["echo"] else ""

    def usage() -> dict:
        n_in, n_out = gen.prompt_tokens, gen.completion_tokens
        return {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}

    if args["stream"]:
        return _EventStream(
            _stream(gen, head, prefix, usage if args["include_usage"] else None),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    pieces, finish = [prefix], None
    try:
        async for piece, finish in gen:
            pieces.append(piece)
            if finish is not None:
                break
    except GenerationError as e:
        return _error(e.status, e.message, param=e.param)
    finally:
        await gen.aclose()
    choice = {"text": "".join(pieces), "index": 0, "logprobs": None, "finish_reason": finish}
    return JSONResponse({**head, "choices": [choice], "usage": usage()})


async def _stream(gen, head: dict, prefix: str, usage):
    """The server-sent events of one streamed completion: a chunk per piece, then `data: [DONE]`."""
    try:
        if prefix:
            yield _sse(
                {**head, "choices": [{"text": prefix, "index": 0, "logprobs": None, "finish_reason": None}]}
            )
        async for piece, finish in gen:
            if piece or finish is not None:
                choice = {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}
                yield _sse({**head, "choices": [choice]})
            if finish is not None:
                break
        if usage is not None:
            yield _sse({**head, "choices": [], "usage": usage()})
        yield "data: [DONE]\n\n"
    except GenerationError as e:  # the headers are out: report the failure as an event
        yield _sse(_error_body(e))
    finally:
        await gen.aclose()


async def list_models(request: Request) -> Response:
    """GET /v1/models: the models that can generate text."""
    names = request.app.state.list_generators()
    if inspect.isawaitable(names):
        names = await names
    data = [{"id": n, "object": "model", "created": _CREATED, "owned_by": "ember"} for n in names]
    return JSONResponse({"object": "list", "data": data})


routes = [
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
]
