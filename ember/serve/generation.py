"""Text generation for exported character-level GPTs, batched step by step across concurrent requests.

`GenerationEngine.generate(prompt, ...)` returns an async iterator of `(text_piece, finish_reason)` pairs;
the last pair carries "stop" or "length". One background step loop per engine (started on the first
request, gone when no request is left) takes every active request, groups them by context length (the
exported GPT has no attention mask, so only equal-length contexts share a batch), runs each group of at
most `max_batch_size` rows as one `program.run_flat(idx)` call on a worker thread, samples one token per
request there with that request's own `numpy.random.Generator` (so a seed fixes the text whatever else is
running) and hands the token to the request's queue. A request whose consumer stopped iterating is dropped
at the next step.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator

import numpy as np

__all__ = ["CharCodec", "GenerationEngine", "GenerationError", "Generation"]

MAX_STOP_STRINGS = 4


class GenerationError(Exception):
    """A generation request failed; `status` is the HTTP status to answer with, `param` the bad field."""

    def __init__(self, status: int, message: str, *, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


class CharCodec:
    """Character-level tokenizer: token i is character i of the vocabulary string."""

    def __init__(self, chars: str):
        if not isinstance(chars, str) or not chars:
            raise ValueError("CharCodec: the vocabulary must be a non-empty string")
        self.chars = chars
        self._index: dict[str, int] = {}
        for i, c in enumerate(chars):
            self._index.setdefault(c, i)  # a repeated character encodes to its first id

    @classmethod
    def from_extra_files(cls, extra_files: dict) -> CharCodec:
        """The codec stored as `vocab.json` ({"chars": ...}) among a program's extra files."""
        raw = (extra_files or {}).get("vocab.json")
        if raw is None:
            raise GenerationError(400, "the model has no vocab.json: it is not a text-generation model")
        try:
            chars = json.loads(raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw)["chars"]
            return cls(chars)
        except (ValueError, KeyError, TypeError) as e:
            raise GenerationError(500, f"the model's vocab.json is malformed: {e}") from None

    @classmethod
    def from_program(cls, program) -> CharCodec:
        """The codec of an exported program (`program.extra_files["vocab.json"]`)."""
        return cls.from_extra_files(getattr(program, "extra_files", None) or {})

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Token ids of text; a character outside the vocabulary is a 400 GenerationError."""
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError as e:
            raise GenerationError(
                400, f"character {e.args[0]!r} is not in the model's vocabulary", param="prompt"
            ) from None

    def decode(self, ids) -> str:
        """Text of token ids; an id outside the vocabulary decodes to U+FFFD."""
        chars, n = self.chars, len(self.chars)
        return "".join(chars[i] if 0 <= i < n else "\ufffd" for i in (int(t) for t in ids))


class _Request:
    """One generation in the step loop: its tokens so far, sampling settings and token queue."""

    __slots__ = ("ids", "max_tokens", "temperature", "top_p", "rng", "queue", "produced", "done")

    def __init__(self, ids, max_tokens, temperature, top_p, rng):
        self.ids = list(ids)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.rng = rng
        self.queue: asyncio.Queue = asyncio.Queue()
        self.produced = 0
        self.done = False  # finished, failed, or its consumer is gone: the step loop drops it


class Generation:
    """Async iterator of (text_piece, finish_reason) with token counts for `usage`."""

    def __init__(self, engine: GenerationEngine, ids: list[int], settings: dict):
        self.prompt_tokens = len(ids)
        self.completion_tokens = 0
        self.finish_reason: str | None = None
        self._agen = engine._iterate(self, ids, **settings)

    def __aiter__(self) -> Generation:
        return self

    async def __anext__(self) -> tuple[str, str | None]:
        return await self._agen.__anext__()

    async def aclose(self) -> None:
        """Stop generating (the step loop drops the request at its next step)."""
        await self._agen.aclose()


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GenerationError(400, f"{name} must be a finite number, got {value!r}", param=name)
    return float(value)


def _stop_list(stop) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) for s in stop):
        raise GenerationError(400, "stop must be a string or a list of strings", param="stop")
    if len(stop) > MAX_STOP_STRINGS:
        raise GenerationError(
            400, f"stop takes at most {MAX_STOP_STRINGS} strings, got {len(stop)}", param="stop"
        )
    return [s for s in stop if s]  # an empty stop string never stops anything


def _holdback(text: str, stops: list[str]) -> int:
    """Length of the longest suffix of text that could still grow into a stop string."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:k]):
                hold = k
                break
    return hold


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "cpu"):
        x = x.cpu()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def sample_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """One token from a row of logits: argmax at temperature 0, else nucleus sampling of softmax(logits/T)."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature == 0.0:
        return int(np.argmax(logits))
    u = rng.random()  # one draw per token whatever the distribution, so a seed fixes the whole stream
    top = np.max(logits)
    if not np.isfinite(top):
        return int(np.argmax(logits))
    probs = np.exp((logits - top) / temperature)
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        sorted_p = probs[order]
        cum = np.cumsum(sorted_p)
        keep = (cum - sorted_p) < top_p * cum[-1]  # the smallest prefix holding top_p of the mass
        keep[0] = True
        kept_p = sorted_p[keep]
        cdf = np.cumsum(kept_p)
        j = min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(kept_p) - 1)
        return int(order[j])
    cdf = np.cumsum(probs)
    return min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(probs) - 1)


class GenerationEngine:
    """Serves `generate()` for one exported GPT program, batching concurrent requests step by step."""

    def __init__(
        self,
        program,
        codec: CharCodec,
        *,
        block_size: int,
        max_batch_size: int = 32,
        executor=None,
        max_tokens_limit: int | None = 4096,
    ):
        if not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"GenerationEngine: block_size must be a positive integer, got {block_size!r}")
        self.program = program
        self.codec = codec
        self.block_size = block_size
        self.max_batch_size = max(1, int(max_batch_size))
        self.executor = executor
        self.max_tokens_limit = max_tokens_limit
        self._active: list[_Request] = []
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # counters (tests and metrics): steps run, program calls made, rows run through the program
        self.steps = 0
        self.program_calls = 0
        self.rows = 0
        self.tokens = 0

    @classmethod
    def from_program(cls, program, **kwargs) -> GenerationEngine:
        """An engine for an exported GPT: codec from `vocab.json`, block_size from `metadata["config"]`."""
        codec = CharCodec.from_program(program)
        block_size = ((getattr(program, "metadata", None) or {}).get("config") or {}).get("block_size")
        if not isinstance(block_size, int) or block_size < 1:
            raise GenerationError(500, "the model's metadata has no config.block_size")
        return cls(program, codec, block_size=block_size, **kwargs)

    @property
    def active(self) -> int:
        """Requests the step loop is still generating for."""
        return sum(not r.done for r in self._active)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int = 16,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop=None,
        seed: int | None = None,
    ) -> Generation:
        """Validate the arguments now (GenerationError 400) and return the async iterator of pieces."""
        if not isinstance(prompt, str):
            raise GenerationError(400, "prompt must be a string", param="prompt")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise GenerationError(
                400, f"max_tokens must be a non-negative integer, got {max_tokens!r}", param="max_tokens"
            )
        if self.max_tokens_limit is not None and max_tokens > self.max_tokens_limit:
            raise GenerationError(
                400,
                f"max_tokens must be at most {self.max_tokens_limit}, got {max_tokens}",
                param="max_tokens",
            )
        temperature = _number("temperature", temperature)
        if temperature < 0:
            raise GenerationError(400, f"temperature must be >= 0, got {temperature}", param="temperature")
        top_p = _number("top_p", top_p)
        if not 0.0 < top_p <= 1.0:
            raise GenerationError(400, f"top_p must be in (0, 1], got {top_p}", param="top_p")
        stops = _stop_list(stop)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise GenerationError(400, f"seed must be an integer, got {seed!r}", param="seed")
        ids = self.codec.encode(prompt)
        if not ids and max_tokens > 0:
            raise GenerationError(400, "prompt must hold at least one character to continue", param="prompt")
        settings = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, stops=stops, seed=seed)
        return Generation(self, ids, settings)

    async def _iterate(
        self, gen: Generation, ids, *, max_tokens, temperature, top_p, stops, seed
    ) -> AsyncIterator[tuple[str, str | None]]:
        if max_tokens == 0:
            gen.finish_reason = "length"
            yield "", "length"
            return
        seed_seq = np.random.SeedSequence(None if seed is None else seed % (1 << 128))
        req = _Request(ids, max_tokens, temperature, top_p, np.random.Generator(np.random.PCG64(seed_seq)))
        self._admit(req)
        pending = ""
        try:
            while True:
                item = await req.queue.get()
                if isinstance(item, BaseException):
                    raise item
                gen.completion_tokens += 1
                pending += self.codec.decode((item,))
                cuts = [i for i in (pending.find(s) for s in stops) if i >= 0]
                if cuts:
                    req.done = True
                    gen.finish_reason = "stop"
                    yield pending[: min(cuts)], "stop"
                    return
                if gen.completion_tokens >= max_tokens:
                    req.done = True
                    gen.finish_reason = "length"
                    yield pending, "length"
                    return
                hold = _holdback(pending, stops)
                if len(pending) > hold:
                    piece, pending = pending[: len(pending) - hold], pending[len(pending) - hold :]
                    yield piece, None
        finally:
            req.done = True

    def _admit(self, req: _Request) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self.running and not self._loop.is_closed():
                raise RuntimeError("GenerationEngine is already serving requests on another event loop")
            self._loop, self._active, self._task = loop, [], None
        self._active.append(req)
        if not self.running:
            self._task = loop.create_task(self._step_loop(), name="ember-generation-steps")

    async def _step_loop(self) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        try:
            await asyncio.sleep(0)  # requests started in the same tick join the first step
            while True:
                self._active = [r for r in self._active if not r.done]
                if not self._active:
                    return
                groups: dict[int, list[_Request]] = {}
                for r in self._active:
                    groups.setdefault(min(len(r.ids), self.block_size), []).append(r)
                chunks = [
                    reqs[i : i + self.max_batch_size]
                    for reqs in groups.values()
                    for i in range(0, len(reqs), self.max_batch_size)
                ]
                self.steps += 1
                self.program_calls += len(chunks)
                self.rows += sum(len(c) for c in chunks)
                calls = []
                for chunk in chunks:
                    idx = np.array([r.ids[-self.block_size :] for r in chunk], dtype=np.int64)
                    settings = [(r.temperature, r.top_p, r.rng) for r in chunk]
                    calls.append(loop.run_in_executor(self.executor, self._run_chunk, idx, settings))
                results = await asyncio.gather(*calls, return_exceptions=True)
                for chunk, res in zip(chunks, results):
                    if isinstance(res, BaseException):
                        err = (
                            res
                            if isinstance(res, GenerationError)
                            else GenerationError(500, f"model execution failed: {type(res).__name__}: {res}")
                        )
                        for r in chunk:
                            if not r.done:
                                r.done = True
                                r.queue.put_nowait(err)
                        continue
                    for r, tok in zip(chunk, res):
                        if r.done:
                            continue
                        r.ids.append(tok)
                        r.produced += 1
                        self.tokens += 1
                        r.queue.put_nowait(tok)
                        if r.produced >= r.max_tokens:
                            r.done = True  # the consumer finishes with "length" when it reads this token
                await asyncio.sleep(0)  # let consumers read their tokens (and stop) before the next step
        finally:
            for r in self._active:
                if not r.done:  # the loop was cancelled or crashed: no token will come
                    r.done = True
                    r.queue.put_nowait(GenerationError(503, "the generation engine stopped"))
            if self._task is me:
                self._task = None

    def _run_chunk(self, idx: np.ndarray, settings) -> list[int]:
        """Worker thread: one program call for a group of equal-length contexts, one sampled token per row."""
        out = self.program.run_flat(idx)
        logits = _to_numpy(out[0])
        if logits.ndim < 2 or logits.shape[0] != idx.shape[0]:
            raise GenerationError(
                500, f"the model returned logits of shape {list(logits.shape)} for a batch of {idx.shape[0]}"
            )
        last = logits.reshape(idx.shape[0], -1, logits.shape[-1])[:, -1, :]
        return [sample_token(row, t, p, rng) for row, (t, p, rng) in zip(last, settings)]

    async def close(self) -> None:
        """Stop the step loop now; requests still generating fail with a 503 GenerationError."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
